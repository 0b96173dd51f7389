//! The client credentials grant (RFC 6749 §4.4): a client acting on its own behalf gets an
//! access token and no refresh token.

use axum::http::StatusCode;
use serde_json::json;
use token_endpoint::domain::clock::{Clock as _, SystemClock};

use crate::helpers::*;

#[tokio::test]
async fn a_client_gets_an_access_token_without_a_refresh_token() {
    let app = spawn_app().await;

    let reply = app.client_credentials(E, None).await;

    assert_client_token(&reply, E_SCOPES);
    let body = reply.json();
    assert_eq!(
        body.as_object().map(|object| object.len()),
        Some(4),
        "{body}"
    );
    assert_eq!(body["expires_in"], json!(3600));
}

#[tokio::test]
async fn the_token_is_active_for_the_client_and_has_no_username() {
    let app = spawn_app().await;
    let token = app.client_token().await;

    let by_owner = app.introspect(E, &token).await;
    let by_resource_server = app.introspect(A, &token).await;

    let expected = Active {
        scope: E_SCOPES,
        client_id: CLIENT_E,
        username: None,
    };
    let (iat, _) = assert_active(&by_owner, expected);
    assert_active(&by_resource_server, expected);
    assert!(!by_owner.text().contains("username"));
    let now = SystemClock.now();
    assert!(iat <= now && now - iat < 60, "iat {iat}, now {now}");
}

#[tokio::test]
async fn body_credentials_and_json_bodies_work() {
    let app = spawn_app().await;
    let form_body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_E),
        ("client_secret", SECRET_E),
    ]);
    let json_body = json!({
        "grant_type": "client_credentials",
        "client_id": CLIENT_E,
        "client_secret": SECRET_E,
        "scope": "write",
    });

    let by_form = app.post_form(&form_body, Auth::None).await;
    let by_json = app.post_json(&json_body, Auth::None).await;
    let raw_basic = app
        .client_credentials(Auth::BasicRaw(CLIENT_E, SECRET_E), None)
        .await;

    assert_client_token(&by_form, E_SCOPES);
    assert_client_token(&by_json, "write");
    assert_client_token(&raw_basic, E_SCOPES);
}

#[tokio::test]
async fn every_request_issues_a_new_token_and_earlier_ones_stay_active() {
    let app = spawn_app().await;

    let first = app.client_token().await;
    let second = app.client_token().await;

    assert_ne!(first, second);
    for token in [&first, &second] {
        assert_active(
            &app.introspect(E, token).await,
            Active {
                scope: E_SCOPES,
                client_id: CLIENT_E,
                username: None,
            },
        );
    }
}

#[tokio::test]
async fn a_client_without_the_grant_is_unauthorized() {
    let app = spawn_app().await;

    for (auth, case) in [(A, "A"), (B, "B"), (C, "C"), (D, "D")] {
        let reply = app.client_credentials(auth, None).await;
        assert_bare_error(&reply, "unauthorized_client");
        assert_eq!(
            reply.text(),
            r#"{"error": "unauthorized_client"}"#,
            "client {case}"
        );
    }
}

#[tokio::test]
async fn the_grant_permission_is_checked_before_the_scope() {
    let app = spawn_app().await;

    let reply = app.client_credentials(A, Some("admin")).await;

    assert_bare_error(&reply, "unauthorized_client");
}

#[tokio::test]
async fn a_narrower_scope_is_granted_as_requested() {
    let app = spawn_app().await;

    for (requested, granted) in [
        ("read", "read"),
        ("write", "write"),
        ("write read", "write read"),
        ("  read  ", "read"),
        (" ", E_SCOPES),
        ("", E_SCOPES),
    ] {
        let reply = app.client_credentials(E, Some(requested)).await;
        let token = assert_client_token(&reply, granted);
        assert_active(
            &app.introspect(E, &token).await,
            Active {
                scope: granted,
                client_id: CLIENT_E,
                username: None,
            },
        );
    }
}

#[tokio::test]
async fn a_wider_or_unknown_scope_is_invalid() {
    let app = spawn_app().await;

    for requested in [
        "payouts",
        "read payouts",
        "read write payouts",
        "admin",
        "READ",
    ] {
        let reply = app.client_credentials(E, Some(requested)).await;
        assert_bare_error(&reply, "invalid_scope");
        assert_eq!(reply.text(), r#"{"error": "invalid_scope"}"#, "{requested}");
    }
}

#[tokio::test]
async fn wrong_or_missing_client_authentication_is_401() {
    let app = spawn_app().await;
    let id_only = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_E),
    ]);
    let wrong_body_secret = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_E),
        ("client_secret", SECRET_A),
    ]);

    for (case, reply) in [
        ("no auth", app.client_credentials(Auth::None, None).await),
        (
            "wrong secret",
            app.client_credentials(Auth::Basic(CLIENT_E, "wrong"), None)
                .await,
        ),
        (
            "another client's secret",
            app.client_credentials(Auth::Basic(CLIENT_E, SECRET_A), None)
                .await,
        ),
        (
            "unknown client",
            app.client_credentials(Auth::Basic("nobody", SECRET_E), None)
                .await,
        ),
        (
            "bearer header",
            app.client_credentials(Auth::Header("Bearer abc"), None)
                .await,
        ),
        ("id only", app.post_form(&id_only, Auth::None).await),
        (
            "wrong body secret",
            app.post_form(&wrong_body_secret, Auth::None).await,
        ),
    ] {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_invalid_client(&reply);
    }
}

#[tokio::test]
async fn client_authentication_is_checked_before_the_grant_permission() {
    let app = spawn_app().await;

    let reply = app
        .client_credentials(Auth::Basic(CLIENT_A, "wrong"), None)
        .await;

    assert_invalid_client(&reply);
}

#[tokio::test]
async fn user_parameters_do_not_bind_the_token_to_a_user() {
    let app = spawn_app().await;
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("username", ALICE),
        ("password", ALICE_PASSWORD),
    ]);

    let reply = app.post_form(&body, E).await;

    let token = assert_client_token(&reply, E_SCOPES);
    assert_active(
        &app.introspect(E, &token).await,
        Active {
            scope: E_SCOPES,
            client_id: CLIENT_E,
            username: None,
        },
    );
}

#[tokio::test]
async fn the_access_token_is_not_a_refresh_token() {
    let app = spawn_app().await;
    let token = app.client_token().await;

    let reply = app.refresh(A, &token, None).await;

    assert_bare_error(&reply, "invalid_grant");
}
