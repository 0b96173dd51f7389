//! Password guessing through the router: counted per username and source address, so a
//! stranger's guesses hold back only the stranger, and a locked caller is told so in words
//! that do not reveal whether the username exists.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use crate::helpers::*;

const STRANGER: &str = "203.0.113.66";
const REAL_USER: &str = "198.51.100.7";

/// The answer to a locked caller, byte for byte.
const LOCKED_ERROR: &str = r#"{"error": "invalid_grant", "error_description": "Too many failed attempts; try again later."}"#;

/// A password grant from `address`, as the Lambda adapter or the local server would tag it.
fn login_from(address: &str, username: &str, password: &str) -> Request<Body> {
    let request = post_request(
        TOKEN_PATH,
        Some(FORM),
        form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ]),
        A,
    );
    support::http::from_address(request, address)
}

#[tokio::test]
async fn a_strangers_guesses_do_not_lock_the_real_user_out() {
    // The clock stands still, so the stranger's locks cannot run out during the test.
    let (app, _clock) = spawn_app_with_clock().await;
    let mut locked = 0;
    for _ in 0..30 {
        let reply = app.send(login_from(STRANGER, ALICE, "guess")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        if reply.text() == LOCKED_ERROR {
            locked += 1;
        } else {
            assert_credentials_error(&reply);
        }
    }
    // Five free attempts, a sixth once no lock stood, then one lock that never runs out.
    assert_eq!(locked, 24, "checked: 6 of 30");

    let reply = app.send(login_from(REAL_USER, ALICE, ALICE_PASSWORD)).await;
    assert_tokens(&reply, ALL_SCOPES);
    // The guessing address stays held back, even with the right password.
    let reply = app.send(login_from(STRANGER, ALICE, ALICE_PASSWORD)).await;
    assert_eq!(reply.text(), LOCKED_ERROR);
    // Another user from the guessing address is not affected.
    let reply = app.send(login_from(STRANGER, BOB, BOB_PASSWORD)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn locked_real_and_unknown_usernames_get_identical_answers() {
    let (app, _clock) = spawn_app_with_clock().await;
    for username in [ALICE, "nobody-here"] {
        for _ in 0..6 {
            assert_credentials_error(&app.send(login_from(STRANGER, username, "guess")).await);
        }
    }
    let real = app.send(login_from(STRANGER, ALICE, ALICE_PASSWORD)).await;
    let unknown = app
        .send(login_from(STRANGER, "nobody-here", "anything"))
        .await;
    assert_eq!(real.text(), LOCKED_ERROR);
    assert_json_no_store(&real);
    assert_eq!(
        (real.status, &real.headers, &real.body),
        (unknown.status, &unknown.headers, &unknown.body),
        "byte-identical, headers included"
    );
}

#[tokio::test]
async fn the_lock_lifts_when_its_time_has_passed_and_a_success_clears_the_count() {
    let (app, clock) = spawn_app_with_clock().await;
    for _ in 0..6 {
        assert_credentials_error(&app.send(login_from(STRANGER, ALICE, "guess")).await);
    }
    assert_eq!(
        app.send(login_from(STRANGER, ALICE, ALICE_PASSWORD))
            .await
            .text(),
        LOCKED_ERROR
    );
    clock.advance(1);
    assert_tokens(
        &app.send(login_from(STRANGER, ALICE, ALICE_PASSWORD)).await,
        ALL_SCOPES,
    );
    // Counting starts again: five free attempts.
    for _ in 0..5 {
        assert_credentials_error(&app.send(login_from(STRANGER, ALICE, "guess")).await);
    }
    assert_tokens(
        &app.send(login_from(STRANGER, ALICE, ALICE_PASSWORD)).await,
        ALL_SCOPES,
    );
}

/// A client that hangs up mid-login (the local server then drops the request) leaves no attempt
/// holding a slot: the grant runs to its end on its own and settles its attempt. Five such
/// logins from one address, each dropped once it has taken its attempt and is checking the
/// password, then the real login from that address gets its tokens, not a wait and a 503.
#[tokio::test]
async fn logins_whose_clients_hung_up_hold_no_slot() {
    use futures::FutureExt as _;

    let (app, _clock) = spawn_app_with_clock().await;
    for _ in 0..5 {
        let login = app.send(login_from(REAL_USER, ALICE, ALICE_PASSWORD));
        // One poll takes the attempt and leaves the password being checked on a blocking
        // thread; then the client is gone.
        assert!(login.now_or_never().is_none(), "the login ended at once");
    }
    let reply = app.send(login_from(REAL_USER, ALICE, ALICE_PASSWORD)).await;
    assert_tokens(&reply, ALL_SCOPES);
}
