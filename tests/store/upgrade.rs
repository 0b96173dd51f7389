//! Upgrades lose nothing: a tokens table as the previous version wrote it (a token per item,
//! keyed by its hash, and a family item naming the current two) keeps working. Its access
//! tokens are honoured until they expire or their login is revoked or refreshed; its refresh
//! tokens rotate once into the new form (a family holding its tokens), with the same
//! guarantees: the identical pair for a retry, a replay revokes the login.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::http::StatusCode;
use serde_json::Value;
use support::http::{Auth, token_request};
use token_endpoint::config::Config;
use token_endpoint::domain::clock::{Clock, SystemClock};
use token_endpoint::domain::lifecycle::token_key;
use token_endpoint::domain::store::prelude::*;
use token_endpoint::domain::token::{
    FamilySecret, TokenHash, family_named_by, new_token, random_alphanumeric,
};
use token_endpoint::domain::{GrantType, Secret, TokenService};
use token_endpoint::store::DynamoStore;

const CLIENT_ID: &str = "app";
const CLIENT_SECRET: &str = "app-secret-0123456789";

type App = Arc<TokenService<DynamoStore>>;

/// A login as the previous version stored it, and its plaintext tokens.
struct OldLogin {
    family_id: String,
    access: String,
    refresh: String,
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

async fn put(table: &str, item: HashMap<String, AttributeValue>) {
    support::dynamodb_client()
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .expect("writing an item of the previous version");
}

/// Writes a login for alice as the previous version's password grant did: the access token's
/// item, the refresh token's item and the family item; with or without a family secret (the
/// version before that had none).
async fn old_login(app: &App, with_secret: bool) -> OldLogin {
    let tokens = &app.store().tables().tokens;
    let now = SystemClock.now();
    let (access, refresh) = (new_token().unwrap(), new_token().unwrap());
    let (access_hash, refresh_hash) = (TokenHash::of(&access), TokenHash::of(&refresh));
    let family_id = random_alphanumeric(22).unwrap();
    let item = |pairs: Vec<(&str, AttributeValue)>| {
        pairs
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect::<HashMap<_, _>>()
    };
    put(
        tokens,
        item(vec![
            ("pk", s(access_hash.as_str())),
            ("kind", s("access")),
            ("client_id", s(CLIENT_ID)),
            ("username", s("alice")),
            ("scope", s("read write")),
            ("family_id", s(&family_id)),
            ("issued_at", n(now)),
            ("expires_at", n(now + 3600)),
        ]),
    )
    .await;
    let mut refresh_item = item(vec![
        ("pk", s(refresh_hash.as_str())),
        ("kind", s("refresh")),
        ("client_id", s(CLIENT_ID)),
        ("username", s("alice")),
        ("scope", s("read write")),
        ("access_token_hash", s(access_hash.as_str())),
        ("family_id", s(&family_id)),
        ("issued_at", n(now)),
    ]);
    if with_secret {
        let secret = FamilySecret::generate().unwrap();
        refresh_item.insert("family_secret".into(), s(secret.as_str()));
    }
    put(tokens, refresh_item).await;
    put(
        tokens,
        item(vec![
            ("pk", s(&format!("FAMILY#{family_id}"))),
            ("kind", s("family")),
            ("family_id", s(&family_id)),
            ("client_id", s(CLIENT_ID)),
            ("family_client", s(CLIENT_ID)),
            ("username", s("alice")),
            ("family_user", s("alice")),
            ("scope", s("read write")),
            ("current_access", s(access_hash.as_str())),
            ("current_refresh", s(refresh_hash.as_str())),
            ("created_at", n(now)),
            ("refreshed_at", n(now)),
        ]),
    )
    .await;
    OldLogin {
        family_id,
        access: access.expose().to_owned(),
        refresh: refresh.expose().to_owned(),
    }
}

async fn app() -> App {
    let mut config: Config = support::cheap_config();
    config.lifetimes.refresh_reuse_leeway = 0;
    let app = support::service(support::dynamo_store().await, &config);
    support::add_client(
        &app,
        CLIENT_ID,
        CLIENT_SECRET,
        "read write",
        &[GrantType::Password, GrantType::RefreshToken],
    )
    .await;
    support::add_user(&app, "alice", "correct horse").await;
    app
}

async fn post(app: &App, path: &str, form: String) -> (StatusCode, Value) {
    let request = support::http::post_request(
        path,
        Some(support::http::FORM),
        form,
        Auth::BasicRaw(CLIENT_ID, CLIENT_SECRET),
    );
    let reply = support::http::send(support::http::router(app), request).await;
    let body = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status, body)
}

async fn refresh(app: &App, refresh_token: &str) -> (StatusCode, Value) {
    let request = token_request(
        &format!("grant_type=refresh_token&refresh_token={refresh_token}"),
        Auth::BasicRaw(CLIENT_ID, CLIENT_SECRET),
    );
    support::serve_json(app, request).await
}

async fn access_is_live(app: &App, access: &str) -> bool {
    let access = Secret::new(access);
    app.store()
        .access_token(&token_key(&access), SystemClock.now())
        .await
        .expect("reading the store")
        .is_some()
}

fn field(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        .to_owned()
}

#[tokio::test]
async fn an_old_login_is_honoured_then_moved_into_the_new_form() {
    support::require!(Moto);
    for with_secret in [true, false] {
        let app = app().await;
        let old = old_login(&app, with_secret).await;
        // Its access token passes the authorizer and introspection.
        assert!(access_is_live(&app, &old.access).await);
        let (status, introspected) =
            post(&app, "/o/introspect/", format!("token={}", old.access)).await;
        assert_eq!(
            (status, &introspected["active"]),
            (StatusCode::OK, &Value::Bool(true))
        );

        // Its refresh token rotates into the new form, in the same family.
        let (status, new) = refresh(&app, &old.refresh).await;
        assert_eq!(status, StatusCode::OK, "{new}");
        let new_refresh = field(&new, "refresh_token");
        assert_eq!(family_named_by(&new_refresh), Some(old.family_id.as_str()));
        assert!(!access_is_live(&app, &old.access).await, "rotated away");
        assert!(access_is_live(&app, &field(&new, "access_token")).await);

        // Presented again while its successor is unused: the identical pair.
        let (status, again) = refresh(&app, &old.refresh).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(field(&again, "refresh_token"), new_refresh);

        // Once the successor is used, a replay of the old token revokes the login.
        let (status, newer) = refresh(&app, &new_refresh).await;
        assert_eq!(status, StatusCode::OK, "{newer}");
        assert_eq!(refresh(&app, &old.refresh).await.0, StatusCode::BAD_REQUEST);
        assert_eq!(
            refresh(&app, &field(&newer, "refresh_token")).await.0,
            StatusCode::BAD_REQUEST,
            "revoked"
        );
        assert!(!access_is_live(&app, &field(&newer, "access_token")).await);
    }
}

#[tokio::test]
async fn an_old_login_revoked_ends_at_once() {
    support::require!(Moto);
    let app = app().await;
    let old = old_login(&app, true).await;
    let (status, _) = post(&app, "/o/revoke_token/", format!("token={}", old.access)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!access_is_live(&app, &old.access).await);
    assert_eq!(refresh(&app, &old.refresh).await.0, StatusCode::BAD_REQUEST);
    // An old login's families are listed and revoked with their user's, as new ones.
    let other = old_login(&app, true).await;
    let revoked = token_endpoint::domain::lifecycle::revoke_all(
        app.store(),
        &token_endpoint::domain::model::FamilyOwner::User(support::username_of("alice")),
        SystemClock.now(),
    )
    .await
    .expect("revoking alice's logins");
    assert_eq!((revoked.families, revoked.tokens), (1, 2));
    assert!(!access_is_live(&app, &other.access).await);
    assert_eq!(
        refresh(&app, &other.refresh).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.store().revoke_family(&other.family_id).await.ok(),
        Some(0)
    );
}
