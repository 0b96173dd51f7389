//! Defences of the token endpoint, end to end through the router, on both stores: refresh-token
//! replay revokes the family, repeated password failures lock the username, and neither
//! reveals which usernames exist.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::clock::ManualClock;
use support::http::{Auth, token_request};
use token_endpoint::config::Config;
use token_endpoint::domain::clock::{Clock, SystemClock};
use token_endpoint::domain::login_throttle::LockoutPolicy;
use token_endpoint::domain::store::Store;
use token_endpoint::domain::token::TokenHash;
use token_endpoint::domain::{GrantType, TokenService};
use token_endpoint::store::{DynamoStore, MemoryStore};

const CLIENT: &str = "app";
const SECRET: &str = "app-secret-0123456789";

/// Replays count at once (no leeway) and the third failure locks, so tests run in seconds.
fn strict_config() -> Config {
    let mut config = support::test_config();
    config.lifetimes.refresh_reuse_leeway = 0;
    config.lockout = LockoutPolicy {
        free_failures: 2,
        max_lock_seconds: 2,
        memory_seconds: 60,
        ..LockoutPolicy::default()
    };
    config
}

struct App<S> {
    service: Arc<TokenService<S>>,
    clock: Arc<ManualClock>,
}

impl<S> std::ops::Deref for App<S> {
    type Target = Arc<TokenService<S>>;

    fn deref(&self) -> &Self::Target {
        &self.service
    }
}

async fn seeded<S: Store>(store: S, config: &Config) -> App<S> {
    let clock = Arc::new(ManualClock::default());
    let service = support::service_with_clock(store, config, clock.clone() as Arc<dyn Clock>);
    support::add_client(&service, CLIENT, SECRET, "read write", &GrantType::ALL).await;
    support::add_user(&service, "alice", "correct horse").await;
    App { service, clock }
}

async fn memory(config: &Config) -> App<MemoryStore> {
    seeded(MemoryStore::new(), config).await
}

async fn dynamodb(config: &Config) -> App<DynamoStore> {
    seeded(support::dynamo_store().await, config).await
}

async fn post<S: Store>(service: &Arc<TokenService<S>>, form: &str) -> (StatusCode, Value) {
    let request = token_request(form, Auth::BasicRaw(CLIENT, SECRET));
    support::serve_json(service, request).await
}

async fn login<S: Store>(
    service: &Arc<TokenService<S>>,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    post(
        service,
        &format!("grant_type=password&username={username}&password={password}"),
    )
    .await
}

async fn refresh<S: Store>(service: &Arc<TokenService<S>>, token: &Value) -> (StatusCode, Value) {
    let token = token["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh_token in {token}"));
    post(
        service,
        &format!("grant_type=refresh_token&refresh_token={token}"),
    )
    .await
}

fn locked_out() -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_grant", "error_description": "Too many failed attempts; try again later."}),
    )
}

fn invalid_credentials() -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_grant", "error_description": "Invalid credentials given."}),
    )
}

async fn access_token_is_live<S: Store>(service: &Arc<TokenService<S>>, body: &Value) -> bool {
    let token = body["access_token"].as_str().unwrap_or_default();
    let hash = TokenHash::of(&token.into());
    service
        .store()
        .access_token(&hash, SystemClock.now() + 10)
        .await
        .unwrap()
        .is_some()
}

async fn replaying_a_used_refresh_token_revokes_the_family<S: Store>(service: App<S>) {
    let (_, first) = login(&service, "alice", "correct+horse").await;
    let (status, second) = refresh(&service, &first).await;
    assert_eq!(status, StatusCode::OK);
    assert!(access_token_is_live(&service, &second).await);

    // Someone presents the used token again: refused, and everything descended from it dies.
    assert_eq!(
        refresh(&service, &first).await,
        (StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}))
    );
    assert_eq!(refresh(&service, &second).await.0, StatusCode::BAD_REQUEST);
    assert!(!access_token_is_live(&service, &second).await);

    // Other logins of the same user are separate families and keep working.
    let (_, other) = login(&service, "alice", "correct+horse").await;
    assert_eq!(refresh(&service, &other).await.0, StatusCode::OK);
}

#[tokio::test]
async fn replay_revokes_the_family_on_the_memory_store() {
    replaying_a_used_refresh_token_revokes_the_family(memory(&strict_config()).await).await;
}

#[tokio::test]
async fn replay_revokes_the_family_on_dynamodb() {
    support::require!(Moto);
    replaying_a_used_refresh_token_revokes_the_family(dynamodb(&strict_config()).await).await;
}

#[tokio::test]
async fn a_duplicate_within_the_leeway_is_refused_without_revoking() {
    // The default leeway (2 s): a client that fires the same refresh twice keeps its session.
    let service = memory(&support::test_config()).await;
    let (_, first) = login(&service, "alice", "correct+horse").await;
    let (_, second) = refresh(&service, &first).await;
    assert_eq!(refresh(&service, &first).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(refresh(&service, &second).await.0, StatusCode::OK);
}

async fn repeated_failures_lock_the_username<S: Store>(service: App<S>) {
    for username in ["alice", "nobody"] {
        // Two free failures, then the third locks for a second.
        for _ in 0..3 {
            assert_eq!(
                login(&service, username, "wrong").await,
                invalid_credentials()
            );
        }
        // While locked even the right password is refused, unchecked, and the caller is told
        // so: in the same words for a real and an unknown username.
        assert_eq!(
            login(&service, username, "correct+horse").await,
            locked_out()
        );
    }
    service.clock.advance(2);
    assert_eq!(
        login(&service, "alice", "correct+horse").await.0,
        StatusCode::OK
    );
    // The success cleared the count: two more failures do not lock.
    for _ in 0..2 {
        assert_eq!(
            login(&service, "alice", "wrong").await,
            invalid_credentials()
        );
    }
    assert_eq!(
        login(&service, "alice", "correct+horse").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn lockout_on_the_memory_store() {
    repeated_failures_lock_the_username(memory(&strict_config()).await).await;
}

#[tokio::test]
async fn lockout_on_dynamodb() {
    support::require!(Moto);
    repeated_failures_lock_the_username(dynamodb(&strict_config()).await).await;
}

async fn a_retry_within_the_grace_period_replaces_the_lost_pair<S: Store>(service: App<S>) {
    let (_, first) = login(&service, "alice", "correct+horse").await;
    // The answer to this refresh is "lost": the client never sees `lost`.
    let (_, lost) = refresh(&service, &first).await;
    service.clock.advance(3);
    let (status, retried) = refresh(&service, &first).await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(refresh(&service, &lost).await.0, StatusCode::BAD_REQUEST);
    assert!(!access_token_is_live(&service, &lost).await);
    // Only once: a second retry is a replay, and revokes the family.
    assert_eq!(refresh(&service, &first).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(refresh(&service, &retried).await.0, StatusCode::BAD_REQUEST);
}

fn grace_config() -> Config {
    let mut config = strict_config();
    config.lifetimes.refresh_retry_grace = 10;
    config
}

#[tokio::test]
async fn grace_period_retry_on_the_memory_store() {
    a_retry_within_the_grace_period_replaces_the_lost_pair(memory(&grace_config()).await).await;
}

#[tokio::test]
async fn grace_period_retry_on_dynamodb() {
    support::require!(Moto);
    a_retry_within_the_grace_period_replaces_the_lost_pair(dynamodb(&grace_config()).await).await;
}

#[tokio::test]
async fn after_the_grace_period_a_retry_is_a_replay() {
    let service = memory(&grace_config()).await;
    let (_, first) = login(&service, "alice", "correct+horse").await;
    let (_, second) = refresh(&service, &first).await;
    service.clock.advance(10);
    assert_eq!(refresh(&service, &first).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(refresh(&service, &second).await.0, StatusCode::BAD_REQUEST);
}
