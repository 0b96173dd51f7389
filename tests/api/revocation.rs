//! `POST /o/revoke_token/` (RFC 7009): revoking either token of a grant ends the grant, only
//! the owner may revoke, and anything that is not a live token gets the same empty 200.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

const ANOTHER_CLIENTS_TOKEN: &str = r#"{"error": "unauthorized_client", "error_description": "The token was not issued to this client."}"#;

/// The token and the whole grant are gone: introspection says inactive and the refresh token
/// is refused as it would be if it had never existed.
async fn assert_grant_ended(app: &TestApp, tokens: &Tokens) {
    assert_inactive(&app.introspect(A, &tokens.access).await);
    assert_inactive(&app.introspect(A, &tokens.refresh).await);
    let refresh = app.refresh(A, &tokens.refresh, None).await;
    assert_bare_error(&refresh, "invalid_grant");
    assert_eq!(refresh.text(), r#"{"error": "invalid_grant"}"#);
}

#[track_caller]
fn assert_another_clients_token(reply: &Reply) {
    assert_error(
        reply,
        StatusCode::BAD_REQUEST,
        json!({
            "error": "unauthorized_client",
            "error_description": "The token was not issued to this client.",
        }),
    );
    assert_eq!(reply.text(), ANOTHER_CLIENTS_TOKEN);
}

#[tokio::test]
async fn revoking_an_access_token_ends_it_and_its_refresh_token() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    assert_active(
        &app.introspect(A, &tokens.access).await,
        alice_a(ALL_SCOPES),
    );

    let reply = app.revoke(A, &tokens.access).await;

    assert_revoked(&reply);
    assert_grant_ended(&app, &tokens).await;
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_it_and_its_access_token() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    let reply = app.revoke(A, &tokens.refresh).await;

    assert_revoked(&reply);
    assert_grant_ended(&app, &tokens).await;
}

#[tokio::test]
async fn revoking_one_grant_leaves_the_others_alone() {
    let app = spawn_app().await;
    let revoked = app.alice_tokens(None, ALL_SCOPES).await;
    let kept = app.alice_tokens(Some("read"), "read").await;
    let bobs = assert_tokens(
        &app.password_grant(B, BOB, BOB_PASSWORD, None).await,
        ALL_SCOPES,
    );

    assert_revoked(&app.revoke(A, &revoked.refresh).await);

    assert_grant_ended(&app, &revoked).await;
    assert_active(&app.introspect(A, &kept.access).await, alice_a("read"));
    assert_active(
        &app.introspect(B, &bobs.access).await,
        Active {
            scope: ALL_SCOPES,
            client_id: CLIENT_B,
            username: Some(BOB),
        },
    );
    assert_tokens(&app.refresh(A, &kept.refresh, None).await, "read");
    assert_tokens(&app.refresh(B, &bobs.refresh, None).await, ALL_SCOPES);
}

#[tokio::test]
async fn revoking_the_tokens_of_a_refreshed_grant_ends_the_grant() {
    let app = spawn_app().await;
    let first = app.alice_tokens(None, ALL_SCOPES).await;
    let second = assert_tokens(&app.refresh(A, &first.refresh, None).await, ALL_SCOPES);

    assert_revoked(&app.revoke(A, &second.access).await);

    assert_grant_ended(&app, &second).await;
}

#[tokio::test]
async fn revoking_a_rotated_away_refresh_token_ends_the_grant_it_came_from() {
    let app = spawn_app().await;
    let first = app.alice_tokens(None, ALL_SCOPES).await;
    let second = assert_tokens(&app.refresh(A, &first.refresh, None).await, ALL_SCOPES);
    let third = assert_tokens(&app.refresh(A, &second.refresh, None).await, ALL_SCOPES);
    // The first access token went with its rotation.
    assert_inactive(&app.introspect(A, &first.access).await);

    let reply = app.revoke(A, &first.refresh).await;

    assert_revoked(&reply);
    assert_grant_ended(&app, &third).await;
    // And once more: nothing left to revoke, same answer.
    assert_revoked(&app.revoke(A, &first.refresh).await);
}

#[tokio::test]
async fn a_rotated_away_access_token_is_nothing_to_revoke() {
    let app = spawn_app().await;
    let first = app.alice_tokens(None, ALL_SCOPES).await;
    let second = assert_tokens(&app.refresh(A, &first.refresh, None).await, ALL_SCOPES);

    let reply = app.revoke(A, &first.access).await;

    assert_revoked(&reply);
    // The old access token was deleted on rotation, so it no longer names the grant.
    assert_active(
        &app.introspect(A, &second.access).await,
        alice_a(ALL_SCOPES),
    );
    assert_tokens(&app.refresh(A, &second.refresh, None).await, ALL_SCOPES);
}

#[tokio::test]
async fn another_clients_token_is_refused_and_survives() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    for (auth, case) in [(B, "B"), (C, "C"), (D, "D"), (E, "E")] {
        for token in [&tokens.access, &tokens.refresh] {
            let reply = app.revoke(auth, token).await;
            assert_another_clients_token(&reply);
            assert_eq!(reply.text(), ANOTHER_CLIENTS_TOKEN, "client {case}");
        }
    }

    assert_active(
        &app.introspect(A, &tokens.access).await,
        alice_a(ALL_SCOPES),
    );
    assert_tokens(&app.refresh(A, &tokens.refresh, None).await, ALL_SCOPES);
}

#[tokio::test]
async fn a_revoked_grant_is_gone_for_every_client() {
    // Once revoked, neither token names anything: another client presenting them gets the
    // answer for an unknown token, not the one for a live token it does not own.
    let app = spawn_app().await;
    let by_access = app.alice_tokens(None, ALL_SCOPES).await;
    let by_refresh = app.alice_tokens(None, ALL_SCOPES).await;
    assert_revoked(&app.revoke(A, &by_access.access).await);
    assert_revoked(&app.revoke(A, &by_refresh.refresh).await);

    for tokens in [&by_access, &by_refresh] {
        for token in [&tokens.access, &tokens.refresh] {
            assert_revoked(&app.revoke(B, token).await);
            assert_revoked(&app.revoke(A, token).await);
        }
    }
}

#[tokio::test]
async fn another_clients_rotated_away_refresh_token_is_refused_too() {
    let app = spawn_app().await;
    let first = app.alice_tokens(None, ALL_SCOPES).await;
    let second = assert_tokens(&app.refresh(A, &first.refresh, None).await, ALL_SCOPES);

    let reply = app.revoke(B, &first.refresh).await;

    assert_another_clients_token(&reply);
    assert_active(
        &app.introspect(A, &second.access).await,
        alice_a(ALL_SCOPES),
    );
}

#[tokio::test]
async fn unknown_and_malformed_tokens_get_an_empty_200() {
    let app = spawn_app().await;
    let long = "a".repeat(600);

    for token in [
        "Zq8mX2kP4vN7wR1tY5uB3cD6fG9hJ0",
        "not a token",
        "quote\"d",
        "ünïcode",
        "a",
        long.as_str(),
    ] {
        let reply = app.revoke(A, token).await;
        assert_revoked(&reply);
    }
}

#[tokio::test]
async fn revoking_twice_is_200_both_times() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    let first = app.revoke(A, &tokens.access).await;
    let second = app.revoke(A, &tokens.access).await;
    let other_token = app.revoke(A, &tokens.refresh).await;

    assert_revoked(&first);
    assert_revoked(&second);
    assert_revoked(&other_token);
    assert_grant_ended(&app, &tokens).await;
}

#[tokio::test]
async fn revoking_a_client_credentials_token() {
    let app = spawn_app().await;
    let token = app.client_token().await;
    let kept = app.client_token().await;

    let by_other = app.revoke(A, &token).await;
    assert_another_clients_token(&by_other);
    assert_active(
        &app.introspect(E, &token).await,
        Active {
            scope: E_SCOPES,
            client_id: CLIENT_E,
            username: None,
        },
    );

    let by_owner = app.revoke(E, &token).await;

    assert_revoked(&by_owner);
    assert_inactive(&app.introspect(E, &token).await);
    assert_active(
        &app.introspect(E, &kept).await,
        Active {
            scope: E_SCOPES,
            client_id: CLIENT_E,
            username: None,
        },
    );
}

#[tokio::test]
async fn a_missing_token_is_an_invalid_request_before_client_authentication() {
    let app = spawn_app().await;

    for (body, auth) in [
        ("", A),
        ("token=", A),
        ("token_type_hint=access_token", A),
        ("tokens=abc", A),
        ("", Auth::None),
        ("", Auth::Basic(CLIENT_A, "wrong")),
    ] {
        let reply = app.post_form_to(REVOKE_PATH, body, auth).await;
        assert_invalid_request(&reply, "Missing token parameter.");
        assert_eq!(
            reply.text(),
            r#"{"error": "invalid_request", "error_description": "Missing token parameter."}"#,
            "{body:?}"
        );
    }
}

#[tokio::test]
async fn a_repeated_token_parameter_is_an_invalid_request_and_a_long_one_unknown() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    let repeated = form(&[("token", &tokens.access), ("token", &tokens.access)]);
    let too_long = form(&[("token", &"a".repeat(5000))]);

    let repeated = app.post_form_to(REVOKE_PATH, &repeated, A).await;
    let too_long = app.post_form_to(REVOKE_PATH, &too_long, A).await;

    assert_invalid_request(&repeated, "Duplicate token parameter.");
    // RFC 7009 §2.2: an invalid token needs nothing revoked.
    assert_eq!(too_long.status, StatusCode::OK, "{}", too_long.text());
    assert_active(
        &app.introspect(A, &tokens.access).await,
        alice_a(ALL_SCOPES),
    );
}

#[tokio::test]
async fn client_authentication_is_required_and_a_refusal_revokes_nothing() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    let id_only = form(&[("token", &tokens.access), ("client_id", CLIENT_A)]);
    let wrong_body_secret = form(&[
        ("token", &tokens.access),
        ("client_id", CLIENT_A),
        ("client_secret", SECRET_B),
    ]);
    let bearer = format!("Bearer {}", tokens.access);

    for (case, reply) in [
        ("no auth", app.revoke(Auth::None, &tokens.access).await),
        (
            "wrong secret",
            app.revoke(Auth::Basic(CLIENT_A, "wrong"), &tokens.access)
                .await,
        ),
        (
            "unknown client",
            app.revoke(Auth::Basic("nobody", SECRET_A), &tokens.refresh)
                .await,
        ),
        (
            "bearer",
            app.revoke(Auth::Header(&bearer), &tokens.access).await,
        ),
        (
            "id only",
            app.post_form_to(REVOKE_PATH, &id_only, Auth::None).await,
        ),
        (
            "wrong body secret",
            app.post_form_to(REVOKE_PATH, &wrong_body_secret, Auth::None)
                .await,
        ),
    ] {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_invalid_client(&reply);
    }

    assert_active(
        &app.introspect(A, &tokens.access).await,
        alice_a(ALL_SCOPES),
    );
    assert_tokens(&app.refresh(A, &tokens.refresh, None).await, ALL_SCOPES);
}

#[tokio::test]
async fn unknown_or_malformed_tokens_still_need_client_authentication() {
    // The answer for a token that cannot exist must not skip the client check.
    let app = spawn_app().await;
    let long = "b".repeat(600);

    for token in [
        "Zq8mX2kP4vN7wR1tY5uB3cD6fG9hJ0",
        "not a token",
        long.as_str(),
    ] {
        for auth in [Auth::None, Auth::Basic(CLIENT_A, "wrong")] {
            assert_invalid_client(&app.revoke(auth, token).await);
        }
    }
}

#[tokio::test]
async fn body_credentials_and_json_bodies_work() {
    let app = spawn_app().await;
    let by_form = app.alice_tokens(None, ALL_SCOPES).await;
    let by_json = app.alice_tokens(None, ALL_SCOPES).await;
    let with_both = app.alice_tokens(None, ALL_SCOPES).await;
    let form_body = form(&[
        ("token", &by_form.access),
        ("client_id", CLIENT_A),
        ("client_secret", SECRET_A),
    ]);
    let json_body = json!({
        "token": by_json.refresh,
        "client_id": CLIENT_A,
        "client_secret": SECRET_A,
    });
    let both_body = form(&[("token", &with_both.access), ("client_id", CLIENT_A)]);

    let form_reply = app.post_form_to(REVOKE_PATH, &form_body, Auth::None).await;
    let json_reply = app
        .send(post_request(
            REVOKE_PATH,
            Some("application/json"),
            json_body.to_string(),
            Auth::None,
        ))
        .await;
    let both_reply = app.post_form_to(REVOKE_PATH, &both_body, A).await;

    assert_revoked(&form_reply);
    assert_revoked(&json_reply);
    assert_revoked(&both_reply);
    assert_grant_ended(&app, &by_form).await;
    assert_grant_ended(&app, &by_json).await;
    assert_grant_ended(&app, &with_both).await;
}

#[tokio::test]
async fn client_b_authenticates_with_raw_and_encoded_basic() {
    let app = spawn_app().await;
    let first = assert_tokens(
        &app.password_grant(B, BOB, BOB_PASSWORD, None).await,
        ALL_SCOPES,
    );
    let second = assert_tokens(
        &app.password_grant(B, BOB, BOB_PASSWORD, None).await,
        ALL_SCOPES,
    );

    assert_revoked(&app.revoke(B, &first.access).await);
    assert_revoked(
        &app.revoke(Auth::BasicRaw(CLIENT_B, SECRET_B), &second.refresh)
            .await,
    );

    assert_inactive(&app.introspect(B, &first.access).await);
    assert_inactive(&app.introspect(B, &second.access).await);
}

#[tokio::test]
async fn the_token_type_hint_is_accepted_and_ignored() {
    let app = spawn_app().await;

    for hint in ["access_token", "refresh_token", "bogus"] {
        for pick_refresh in [false, true] {
            let tokens = app.alice_tokens(None, ALL_SCOPES).await;
            let token = if pick_refresh {
                &tokens.refresh
            } else {
                &tokens.access
            };
            let body = form(&[("token", token), ("token_type_hint", hint)]);
            let reply = app.post_form_to(REVOKE_PATH, &body, A).await;
            assert_revoked(&reply);
            assert_grant_ended(&app, &tokens).await;
        }
    }
    // Even for a token that does not exist.
    let body = form(&[("token", "nothing"), ("token_type_hint", "bogus")]);
    assert_revoked(&app.post_form_to(REVOKE_PATH, &body, A).await);
}

#[tokio::test]
async fn an_expired_access_token_is_nothing_to_revoke() {
    let (app, clock) = spawn_app_with_clock().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    clock.advance(3600);

    let reply = app.revoke(A, &tokens.access).await;

    assert_revoked(&reply);
    assert_inactive(&app.introspect(A, &tokens.access).await);
}

#[tokio::test]
async fn the_path_without_the_trailing_slash_works_the_same() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    let reply = app
        .post_form_to("/o/revoke_token", &form(&[("token", &tokens.access)]), A)
        .await;

    assert_revoked(&reply);
    assert!(reply.header("location").is_none());
    assert_grant_ended(&app, &tokens).await;
}

#[tokio::test]
async fn query_parameters_are_refused_and_nothing_is_revoked() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    for path in [
        format!("/o/revoke_token/?token={}", tokens.access),
        "/o/revoke_token/?foo=bar".to_owned(),
        "/o/revoke_token?client_secret=x".to_owned(),
    ] {
        let reply = app
            .post_form_to(&path, &form(&[("token", &tokens.access)]), A)
            .await;
        assert_invalid_request(&reply, "URL query parameters are not allowed");
    }

    assert_active(
        &app.introspect(A, &tokens.access).await,
        alice_a(ALL_SCOPES),
    );
}

#[tokio::test]
async fn other_methods_are_405_with_allow() {
    let app = spawn_app().await;

    for path in [REVOKE_PATH, "/o/revoke_token"] {
        for method in [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
        ] {
            let reply = app.send(request(method.clone(), path, &[])).await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(
                reply.header("allow"),
                Some("POST, OPTIONS"),
                "{method} {path}"
            );
            if method != Method::HEAD {
                assert_eq!(reply.json()["error"], "invalid_request", "{method} {path}");
            }
        }
        let options = app.send(request(Method::OPTIONS, path, &[])).await;
        assert_eq!(options.status, StatusCode::OK, "{path}");
        assert_eq!(options.header("allow"), Some("POST, OPTIONS"), "{path}");
    }
}
