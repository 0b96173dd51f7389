//! `POST /o/introspect/` (RFC 7662): every member for a live access token, `{"active": false}`
//! and nothing else for anything else, and client authentication required.

use axum::http::{Method, StatusCode};
use serde_json::json;
use token_endpoint::domain::clock::{Clock as _, SystemClock};

use crate::helpers::*;

#[tokio::test]
async fn a_password_grant_access_token_is_described_member_by_member() {
    let app = spawn_app().await;
    let before = SystemClock.now();
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    let after = SystemClock.now();

    let reply = app.introspect(A, &tokens.access).await;

    let (iat, exp) = assert_active(&reply, alice_a(ALL_SCOPES));
    assert!(
        before <= iat && iat <= after,
        "iat {iat} not in {before}..={after}"
    );
    assert_eq!(exp, iat + 3600);
    let body = reply.json();
    assert_eq!(
        body,
        json!({
            "active": true,
            "scope": "read write payouts",
            "client_id": "clientA",
            "username": "alice",
            "token_type": "Bearer",
            "exp": exp,
            "iat": iat,
        })
    );
    assert!(reply.header("www-authenticate").is_none());
}

#[tokio::test]
async fn the_scope_is_the_one_issued_including_a_narrowed_one() {
    let app = spawn_app().await;
    let read = app.alice_tokens(Some("read"), "read").await;
    let reordered = app.alice_tokens(Some("payouts read"), "payouts read").await;
    let full = app.alice_tokens(None, ALL_SCOPES).await;
    let refreshed = assert_tokens(&app.refresh(A, &full.refresh, Some("write")).await, "write");

    assert_active(&app.introspect(A, &read.access).await, alice_a("read"));
    assert_active(
        &app.introspect(A, &reordered.access).await,
        alice_a("payouts read"),
    );
    assert_active(
        &app.introspect(A, &refreshed.access).await,
        alice_a("write"),
    );
}

#[tokio::test]
async fn client_and_username_are_those_of_the_grant() {
    let app = spawn_app().await;
    let bobs = assert_tokens(
        &app.password_grant(B, BOB, BOB_PASSWORD, Some("write"))
            .await,
        "write",
    );
    let alices_via_d = assert_tokens(
        &app.password_grant(D, ALICE, ALICE_PASSWORD, None).await,
        ALL_SCOPES,
    );

    assert_active(
        &app.introspect(A, &bobs.access).await,
        Active {
            scope: "write",
            client_id: CLIENT_B,
            username: Some(BOB),
        },
    );
    assert_active(
        &app.introspect(A, &alices_via_d.access).await,
        Active {
            scope: ALL_SCOPES,
            client_id: CLIENT_D,
            username: Some(ALICE),
        },
    );
}

#[tokio::test]
async fn any_authenticated_client_may_introspect_any_token() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    for auth in [A, B, C, D, E, Auth::BasicRaw(CLIENT_B, SECRET_B)] {
        let reply = app.introspect(auth, &tokens.access).await;
        assert_active(&reply, alice_a(ALL_SCOPES));
    }
}

#[tokio::test]
async fn introspection_changes_nothing() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    let first = app.introspect(B, &tokens.access).await;
    let second = app.introspect(B, &tokens.access).await;
    let of_refresh = app.introspect(B, &tokens.refresh).await;

    assert_eq!(first.text(), second.text());
    assert_inactive(&of_refresh);
    assert_tokens(&app.refresh(A, &tokens.refresh, None).await, ALL_SCOPES);
}

#[tokio::test]
async fn a_refresh_token_is_inactive() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    assert_inactive(&app.introspect(A, &tokens.refresh).await);
    assert_inactive(&app.introspect(B, &tokens.refresh).await);
}

#[tokio::test]
async fn revoked_and_rotated_away_tokens_are_inactive() {
    let app = spawn_app().await;
    let revoked = app.alice_tokens(None, ALL_SCOPES).await;
    let first = app.alice_tokens(None, ALL_SCOPES).await;
    let second = assert_tokens(&app.refresh(A, &first.refresh, None).await, ALL_SCOPES);
    assert_revoked(&app.revoke(A, &revoked.access).await);

    assert_inactive(&app.introspect(A, &revoked.access).await);
    assert_inactive(&app.introspect(A, &revoked.refresh).await);
    assert_inactive(&app.introspect(A, &first.access).await);
    assert_inactive(&app.introspect(A, &first.refresh).await);
    assert_active(
        &app.introspect(A, &second.access).await,
        alice_a(ALL_SCOPES),
    );
}

#[tokio::test]
async fn unknown_malformed_and_over_long_tokens_are_inactive() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    let longest_plausible = "a".repeat(512);
    let over_long = "a".repeat(513);
    let near_limit = "a".repeat(4096);
    let access_with_junk = format!("{} ", tokens.access);
    let access_prefix = &tokens.access[..29];
    let upper = tokens.access.to_ascii_uppercase();

    for token in [
        "Zq8mX2kP4vN7wR1tY5uB3cD6fG9hJ0",
        "a",
        "not a token",
        "quote\"d",
        "ünïcode",
        "null",
        "{}",
        access_prefix,
        access_with_junk.as_str(),
        longest_plausible.as_str(),
        over_long.as_str(),
        near_limit.as_str(),
    ] {
        let reply = app.introspect(A, token).await;
        assert_inactive(&reply);
    }
    // Unless it happens to be all lower case, the token differs from its upper-case form.
    if upper != tokens.access {
        assert_inactive(&app.introspect(A, &upper).await);
    }
}

#[tokio::test]
async fn an_access_token_expires_after_an_hour() {
    let (app, clock) = spawn_app_with_clock().await;
    let issued_at = clock.now();
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    let client_token = app.client_token().await;

    let (iat, exp) = assert_active(
        &app.introspect(A, &tokens.access).await,
        alice_a(ALL_SCOPES),
    );
    assert_eq!((iat, exp), (issued_at, issued_at + 3600));
    clock.advance(3599);
    assert_active(
        &app.introspect(A, &tokens.access).await,
        alice_a(ALL_SCOPES),
    );
    clock.advance(1);

    assert_inactive(&app.introspect(A, &tokens.access).await);
    assert_inactive(&app.introspect(E, &client_token).await);
    // The refresh token outlives its access token and gives a live one.
    let refreshed = assert_tokens(&app.refresh(A, &tokens.refresh, None).await, ALL_SCOPES);
    let (iat, exp) = assert_active(
        &app.introspect(A, &refreshed.access).await,
        alice_a(ALL_SCOPES),
    );
    assert_eq!((iat, exp), (issued_at + 3600, issued_at + 7200));
}

#[tokio::test]
async fn a_token_of_any_length_is_only_inactive() {
    let app = spawn_app().await;

    // RFC 7662 §2.2: an unknown token is inactive, however long (up to the body's limit).
    for length in [2049, 4097, 40_000] {
        let body = form(&[("token", &"a".repeat(length))]);
        assert_inactive(&app.post_form_to(INTROSPECT_PATH, &body, A).await);
    }
}

#[tokio::test]
async fn a_missing_token_is_an_invalid_request_before_client_authentication() {
    let app = spawn_app().await;

    for (body, auth) in [
        ("", A),
        ("token=", A),
        ("token_type_hint=access_token", A),
        ("", Auth::None),
        ("", Auth::Basic(CLIENT_A, "wrong")),
    ] {
        let reply = app.post_form_to(INTROSPECT_PATH, body, auth).await;
        assert_invalid_request(&reply, "Missing token parameter.");
    }
}

#[tokio::test]
async fn wrong_or_missing_client_authentication_is_401() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    let bearer = format!("Bearer {}", tokens.access);
    let id_only = form(&[("token", &tokens.access), ("client_id", CLIENT_A)]);
    let wrong_body_secret = form(&[
        ("token", &tokens.access),
        ("client_id", CLIENT_E),
        ("client_secret", SECRET_A),
    ]);

    for token in [
        tokens.access.as_str(),
        tokens.refresh.as_str(),
        "Zq8mX2kP4vN7wR1tY5uB3cD6fG9hJ0",
        "not a token",
    ] {
        for auth in [
            Auth::None,
            Auth::Basic(CLIENT_A, "wrong"),
            Auth::Basic(CLIENT_A, SECRET_B),
            Auth::Basic("nobody", SECRET_A),
            // A resource server presenting the user's token is not a client.
            Auth::Header(&bearer),
        ] {
            let reply = app.introspect(auth, token).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{auth:?}");
            assert_invalid_client(&reply);
        }
    }
    for body in [&id_only, &wrong_body_secret] {
        assert_invalid_client(&app.post_form_to(INTROSPECT_PATH, body, Auth::None).await);
    }
}

#[tokio::test]
async fn body_credentials_and_json_bodies_work() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    let form_body = form(&[
        ("token", &tokens.access),
        ("client_id", CLIENT_E),
        ("client_secret", SECRET_E),
    ]);
    let json_body = json!({
        "token": tokens.access,
        "client_id": CLIENT_B,
        "client_secret": SECRET_B,
    });

    let by_form = app
        .post_form_to(INTROSPECT_PATH, &form_body, Auth::None)
        .await;
    let by_json = app
        .send(post_request(
            INTROSPECT_PATH,
            Some("application/json"),
            json_body.to_string(),
            Auth::None,
        ))
        .await;

    assert_active(&by_form, alice_a(ALL_SCOPES));
    assert_active(&by_json, alice_a(ALL_SCOPES));
}

#[tokio::test]
async fn the_token_type_hint_is_accepted_and_ignored() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    for hint in ["access_token", "refresh_token", "bogus"] {
        let access = form(&[("token", &tokens.access), ("token_type_hint", hint)]);
        let refresh = form(&[("token", &tokens.refresh), ("token_type_hint", hint)]);
        assert_active(
            &app.post_form_to(INTROSPECT_PATH, &access, A).await,
            alice_a(ALL_SCOPES),
        );
        assert_inactive(&app.post_form_to(INTROSPECT_PATH, &refresh, A).await);
    }
}

#[tokio::test]
async fn the_path_without_the_trailing_slash_works_the_same() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    let reply = app
        .post_form_to("/o/introspect", &form(&[("token", &tokens.access)]), A)
        .await;

    assert!(reply.header("location").is_none());
    assert_active(&reply, alice_a(ALL_SCOPES));
}

#[tokio::test]
async fn query_parameters_are_refused() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    for path in [
        format!("/o/introspect/?token={}", tokens.access),
        "/o/introspect?foo=bar".to_owned(),
    ] {
        let reply = app
            .post_form_to(&path, &form(&[("token", &tokens.access)]), A)
            .await;
        assert_invalid_request(&reply, "URL query parameters are not allowed");
    }
}

#[tokio::test]
async fn other_methods_are_405_with_allow() {
    let app = spawn_app().await;

    for path in [INTROSPECT_PATH, "/o/introspect"] {
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
        }
        let options = app.send(request(Method::OPTIONS, path, &[])).await;
        assert_eq!(options.status, StatusCode::OK, "{path}");
        assert_eq!(options.header("allow"), Some("POST, OPTIONS"), "{path}");
    }
}
