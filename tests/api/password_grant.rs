//! The resource owner password credentials grant (RFC 6749 §4.3): success shape, user
//! credentials, grant permission and the order in which problems are reported.

use std::collections::HashSet;

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn basic_client_a_gets_a_dot_shaped_token_response() {
    let app = spawn_app().await;

    let reply = app.password_grant(A, ALICE, ALICE_PASSWORD, None).await;

    // Status, exact bytes (key order, Python separators, integer expires_in) and headers.
    assert_tokens(&reply, ALL_SCOPES);
    let body = reply.json();
    assert_eq!(body["expires_in"], json!(3600));
    assert!(body["expires_in"].is_u64());
    assert_eq!(body["token_type"], json!("Bearer"));
    assert_eq!(body.as_object().map(|o| o.len()), Some(5));
}

#[tokio::test]
async fn client_credentials_in_the_body_work() {
    let app = spawn_app().await;
    let body = form(&[
        ("grant_type", "password"),
        ("username", ALICE),
        ("password", ALICE_PASSWORD),
        ("client_id", CLIENT_A),
        ("client_secret", SECRET_A),
    ]);

    let reply = app.post_form(&body, Auth::None).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn a_password_full_of_form_delimiters_works_when_form_encoded() {
    let app = spawn_app().await;

    let reply = app.password_grant(A, BOB, BOB_PASSWORD, None).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn a_space_in_the_password_may_be_sent_as_plus() {
    let app = spawn_app().await;
    // `p%^@&=+ #é:x9/?` with the space as `+` and everything else %-encoded.
    let body = "grant_type=password&username=bob.builder\
                &password=p%25%5E%40%26%3D%2B+%23%C3%A9%3Ax9%2F%3F";

    let reply = app.post_form(body, A).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn a_raw_plus_in_the_password_is_a_space_so_the_password_is_wrong() {
    let app = spawn_app().await;
    // The `+` of the password sent unencoded decodes to a space (form rules).
    let body = "grant_type=password&username=bob.builder\
                &password=p%25%5E%40%26%3D+%20%23%C3%A9%3Ax9%2F%3F";

    let reply = app.post_form(body, A).await;

    assert_credentials_error(&reply);
}

#[tokio::test]
async fn tokens_are_thirty_alphanumerics_and_all_distinct() {
    let app = spawn_app().await;
    let mut seen = HashSet::new();

    for _ in 0..8 {
        let tokens = app.alice_tokens(None, ALL_SCOPES).await;
        assert!(seen.insert(tokens.access.clone()), "access token repeated");
        assert!(
            seen.insert(tokens.refresh.clone()),
            "refresh token repeated"
        );
    }

    assert_eq!(seen.len(), 16);
}

#[tokio::test]
async fn an_unknown_extra_parameter_is_ignored() {
    let app = spawn_app().await;
    let body = format!(
        "{}&foo=bar",
        form(&[
            ("grant_type", "password"),
            ("username", ALICE),
            ("password", ALICE_PASSWORD),
        ])
    );

    let reply = app.post_form(&body, A).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_byte_identical_answers() {
    let app = spawn_app().await;

    let wrong_password = app.password_grant(A, ALICE, "not-her-password", None).await;
    let unknown_user = app.password_grant(A, "mallory", ALICE_PASSWORD, None).await;
    let other_users_password = app.password_grant(A, ALICE, BOB_PASSWORD, None).await;

    assert_credentials_error(&wrong_password);
    assert_credentials_error(&unknown_user);
    assert_credentials_error(&other_users_password);
    assert_eq!(wrong_password.body, unknown_user.body);
    assert_eq!(wrong_password.headers, unknown_user.headers);
}

#[tokio::test]
async fn usernames_are_case_sensitive() {
    let app = spawn_app().await;

    for username in ["ALICE", "Alice", "Bob.Builder"] {
        let password = if username.starts_with('B') {
            BOB_PASSWORD
        } else {
            ALICE_PASSWORD
        };
        let reply = app.password_grant(A, username, password, None).await;
        assert_credentials_error(&reply);
    }
}

#[tokio::test]
async fn a_password_that_differs_only_in_case_or_whitespace_is_wrong() {
    let app = spawn_app().await;

    for password in [
        "ALICE-PA55WORD",
        "alice-Pa55word ",
        " alice-Pa55word",
        "alice-Pa55wor",
    ] {
        let reply = app.password_grant(A, ALICE, password, None).await;
        assert_credentials_error(&reply);
    }
}

#[tokio::test]
async fn missing_username_or_password_is_an_invalid_request() {
    let app = spawn_app().await;
    let cases = [
        (
            "grant_type=password&password=x",
            "Request is missing username parameter.",
        ),
        (
            "grant_type=password&username=&password=x",
            "Request is missing username parameter.",
        ),
        (
            "grant_type=password&username=alice",
            "Request is missing password parameter.",
        ),
        (
            "grant_type=password&username=alice&password=",
            "Request is missing password parameter.",
        ),
        (
            "grant_type=password&username=alice&password",
            "Request is missing password parameter.",
        ),
        (
            "grant_type=password",
            "Request is missing username parameter.",
        ),
    ];

    for (body, description) in cases {
        let reply = app.post_form(body, A).await;
        assert_invalid_request(&reply, description);
    }
}

#[tokio::test]
async fn missing_parameters_are_reported_before_client_authentication() {
    let app = spawn_app().await;

    let no_auth = app.post_form("grant_type=password", Auth::None).await;
    let wrong_secret = app
        .post_form(
            "grant_type=password&username=alice",
            Auth::Basic(CLIENT_A, "wrong"),
        )
        .await;

    assert_invalid_request(&no_auth, "Request is missing username parameter.");
    assert_invalid_request(&wrong_secret, "Request is missing password parameter.");
}

#[tokio::test]
async fn a_client_not_allowed_the_password_grant_is_unauthorized() {
    let app = spawn_app().await;

    let reply = app.password_grant(C, ALICE, ALICE_PASSWORD, None).await;

    assert_bare_error(&reply, "unauthorized_client");
}

#[tokio::test]
async fn the_grant_permission_is_checked_before_the_password() {
    // DOT answers invalid_grant here, which tells client C whether the password is right.
    let app = spawn_app().await;

    let wrong_password = app.password_grant(C, ALICE, "wrong", None).await;
    let unknown_user = app.password_grant(C, "mallory", "wrong", None).await;

    assert_bare_error(&wrong_password, "unauthorized_client");
    assert_bare_error(&unknown_user, "unauthorized_client");
}

#[tokio::test]
async fn precedence_bad_scope_and_wrong_password_is_invalid_grant() {
    let app = spawn_app().await;

    let reply = app.password_grant(A, ALICE, "wrong", Some("admin")).await;

    assert_credentials_error(&reply);
}

#[tokio::test]
async fn precedence_bad_scope_and_wrong_secret_is_invalid_client() {
    let app = spawn_app().await;

    let reply = app
        .password_grant(
            Auth::Basic(CLIENT_A, "wrong"),
            ALICE,
            ALICE_PASSWORD,
            Some("admin"),
        )
        .await;

    assert_invalid_client(&reply);
}

#[tokio::test]
async fn precedence_wrong_secret_and_wrong_password_is_invalid_client() {
    let app = spawn_app().await;

    let wrong_secret = app
        .password_grant(Auth::Basic(CLIENT_A, "wrong"), ALICE, "wrong", None)
        .await;
    let unknown_client = app
        .password_grant(Auth::Basic("nobody", "wrong"), "mallory", "wrong", None)
        .await;

    assert_invalid_client(&wrong_secret);
    assert_invalid_client(&unknown_client);
}

#[tokio::test]
async fn precedence_client_c_with_bad_scope_is_unauthorized_client() {
    let app = spawn_app().await;

    let reply = app
        .password_grant(C, ALICE, ALICE_PASSWORD, Some("admin"))
        .await;

    assert_bare_error(&reply, "unauthorized_client");
}

#[tokio::test]
async fn precedence_client_c_with_wrong_secret_is_invalid_client() {
    let app = spawn_app().await;

    let reply = app
        .password_grant(Auth::Basic(CLIENT_C, "wrong"), ALICE, ALICE_PASSWORD, None)
        .await;

    assert_invalid_client(&reply);
}

#[tokio::test]
async fn precedence_missing_password_beats_a_wrong_secret() {
    let app = spawn_app().await;

    let reply = app
        .post_form(
            "grant_type=password&username=alice&scope=admin",
            Auth::Basic(CLIENT_A, "wrong"),
        )
        .await;

    assert_invalid_request(&reply, "Request is missing password parameter.");
}

#[tokio::test]
async fn a_password_only_client_gets_tokens() {
    let app = spawn_app().await;

    let reply = app.password_grant(D, BOB, BOB_PASSWORD, Some("read")).await;

    assert_tokens(&reply, "read");
}

#[tokio::test]
async fn error_answers_use_status_400_for_user_problems() {
    // Not 401: a wrong user password is not a client authentication failure.
    let app = spawn_app().await;

    let reply = app.password_grant(A, ALICE, "wrong", None).await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.header("www-authenticate").is_none());
}
