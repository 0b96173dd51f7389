//! Defences of the token endpoint, end to end through the router, on both stores: refresh-token
//! replay revokes the family, repeated password failures lock the username, and neither
//! reveals which usernames exist.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use support::clock::ManualClock;
use support::http::{Auth, token_request};
use token_endpoint::config::Config;
use token_endpoint::domain::clock::{Clock, SystemClock};
use token_endpoint::domain::lifecycle::token_key;
use token_endpoint::domain::login_throttle::LockoutPolicy;
use token_endpoint::domain::signing::KeySetStore;
use token_endpoint::domain::store::{ClientChanges, Store};
use token_endpoint::domain::{GrantType, Secret, TokenFormat, TokenService};
use token_endpoint::store::{DynamoStore, MemoryStore};

pub(crate) const CLIENT: &str = "app";
pub(crate) const SECRET: &str = "app-secret-0123456789";

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

pub(crate) struct App<S> {
    pub(crate) service: Arc<TokenService<S>>,
    pub(crate) clock: Arc<ManualClock>,
}

impl<S> std::ops::Deref for App<S> {
    type Target = Arc<TokenService<S>>;

    fn deref(&self) -> &Self::Target {
        &self.service
    }
}

pub(crate) async fn seeded<S: Store + KeySetStore + Clone>(store: S, config: &Config) -> App<S> {
    let clock = Arc::new(ManualClock::default());
    let service = support::service_with_clock(store, config, clock.clone() as Arc<dyn Clock>);
    support::add_client(&service, CLIENT, SECRET, "read write", GrantType::ALL).await;
    support::add_user(&service, "alice", "correct horse").await;
    App { service, clock }
}

pub(crate) async fn memory(config: &Config) -> App<MemoryStore> {
    seeded(MemoryStore::new(), config).await
}

pub(crate) async fn dynamodb(config: &Config) -> App<DynamoStore> {
    seeded(support::dynamo_store().await, config).await
}

/// DynamoDB reached as one Region of a multi-Region strongly consistent global table, which
/// refuses transactions and TTL (`support::mrsc_region`).
async fn mrsc(config: &Config) -> App<DynamoStore> {
    seeded(support::mrsc_dynamo_store().await, config).await
}

async fn post<S: Store>(service: &Arc<TokenService<S>>, form: &str) -> (StatusCode, Value) {
    let request = token_request(form, Auth::BasicRaw(CLIENT, SECRET));
    support::serve_json(service, request).await
}

/// A login from one address, as the Lambda adapter or the local server tags the request (one
/// without an address is held to the username-wide count alone).
async fn login<S: Store>(
    service: &Arc<TokenService<S>>,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    login_from(service, "192.0.2.10", username, password).await
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

pub(crate) fn locked_out() -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_grant", "error_description": "Too many failed attempts; try again later."}),
    )
}

pub(crate) fn invalid_credentials() -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_grant", "error_description": "Invalid credentials given."}),
    )
}

pub(crate) async fn access_token_is_live<S: Store>(
    service: &Arc<TokenService<S>>,
    body: &Value,
) -> bool {
    let token = body["access_token"].as_str().unwrap_or_default();
    let token = Secret::from(token);
    service
        .store()
        .access_token(&token_key(&token), SystemClock.now() + 10)
        .await
        .unwrap()
        .is_some()
}

async fn replaying_a_used_refresh_token_revokes_the_family<S: Store>(service: App<S>) {
    let (_, first) = login(&service, "alice", "correct+horse").await;
    let (status, second) = refresh(&service, &first).await;
    assert_eq!(status, StatusCode::OK);
    let (status, third) = refresh(&service, &second).await;
    assert_eq!(status, StatusCode::OK);
    assert!(access_token_is_live(&service, &third).await);

    // Someone presents a token whose successor was used: two holders diverged. Refused, and
    // everything descended from it dies (RFC 9700 §4.14.2).
    assert_eq!(
        refresh(&service, &first).await,
        (StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}))
    );
    assert_eq!(refresh(&service, &third).await.0, StatusCode::BAD_REQUEST);
    assert!(!access_token_is_live(&service, &third).await);

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
async fn a_duplicate_after_the_successor_was_used_within_the_leeway_is_only_refused() {
    // The default leeway (2 s): a duplicate still in flight when the client already used the
    // successor is refused, and the session goes on.
    let service = memory(&support::test_config()).await;
    let (_, first) = login(&service, "alice", "correct+horse").await;
    let (_, second) = refresh(&service, &first).await;
    let (_, third) = refresh(&service, &second).await;
    assert_eq!(refresh(&service, &first).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(refresh(&service, &third).await.0, StatusCode::OK);
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

/// A refresh whose answer was lost, retried after 3 s, gets the identical pair, and the login
/// goes on from it.
async fn a_lost_answer_retried_gets_the_identical_pair<S: Store>(service: App<S>) {
    let (_, first) = login(&service, "alice", "correct+horse").await;
    // The answer to this refresh is "lost": the client never sees `lost`.
    let (status, lost) = refresh(&service, &first).await;
    assert_eq!(status, StatusCode::OK);
    service.clock.advance(3);
    let (status, retried) = refresh(&service, &first).await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["access_token"], lost["access_token"]);
    assert_eq!(retried["refresh_token"], lost["refresh_token"]);
    assert_eq!(retried["scope"], lost["scope"]);
    assert_eq!(retried["expires_in"], 3600 - 3);
    // As often as it takes, while the successor is unused.
    assert_eq!(refresh(&service, &first).await.1, retried);
    let (status, next) = refresh(&service, &retried).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    assert!(access_token_is_live(&service, &next).await);
}

#[tokio::test]
async fn a_lost_answer_retried_gets_the_identical_pair_on_the_memory_store() {
    a_lost_answer_retried_gets_the_identical_pair(memory(&strict_config()).await).await;
}

#[tokio::test]
async fn a_lost_answer_retried_gets_the_identical_pair_on_dynamodb() {
    support::require!(Moto);
    a_lost_answer_retried_gets_the_identical_pair(dynamodb(&strict_config()).await).await;
}

/// Concurrent duplicates of one refresh all get the same pair: one line of the login.
async fn concurrent_duplicates_converge_on_one_pair<S: Store>(service: App<S>) {
    let (_, first) = login(&service, "alice", "correct+horse").await;
    let service = Arc::new(service);
    let duplicates: Vec<_> = (0..20)
        .map(|_| {
            let (service, first) = (Arc::clone(&service), first.clone());
            tokio::spawn(async move { refresh(&service, &first).await })
        })
        .collect();
    let mut answers = Vec::new();
    for duplicate in duplicates {
        let (status, body) = duplicate.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        answers.push((body["access_token"].clone(), body["refresh_token"].clone()));
    }
    answers.dedup();
    assert_eq!(answers.len(), 1, "{answers:?}");
    let (status, _) = refresh(&service, &json!({"refresh_token": answers[0].1})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_converge_on_the_memory_store() {
    concurrent_duplicates_converge_on_one_pair(memory(&strict_config()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_converge_on_dynamodb() {
    support::require!(Moto);
    concurrent_duplicates_converge_on_one_pair(dynamodb(&strict_config()).await).await;
}

/// A JWT client's duplicates of one refresh, asking for different scopes: each is answered
/// with the one pair that was stored, or refused. A JWT signed for another scope than the
/// stored one would pass a gateway's JWT authorizer yet be unknown here.
async fn concurrent_jwt_duplicates_get_the_stored_token<S: Store + KeySetStore>(service: App<S>) {
    let to_jwt = ClientChanges {
        token_format: Some(TokenFormat::Jwt),
        ..ClientChanges::default()
    };
    service
        .store()
        .update_client(&support::client_id_of(CLIENT), &to_jwt)
        .await
        .unwrap();
    support::signing::publish_signing_key(service.store()).await;
    let post = |form: String| {
        let service = Arc::clone(&service.service);
        async move {
            let mut request = token_request(&form, Auth::BasicRaw(CLIENT, SECRET));
            let host = HeaderValue::from_static("auth.example.com");
            request.headers_mut().insert(header::HOST, host);
            support::serve_json(&service, request).await
        }
    };
    let (status, first) =
        post("grant_type=password&username=alice&password=correct+horse".into()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let refresh = first["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let duplicates: Vec<_> = ["&scope=read", "", "&scope=write", ""]
        .into_iter()
        .cycle()
        .take(16)
        .map(|scope| {
            tokio::spawn(post(format!(
                "grant_type=refresh_token&refresh_token={refresh}{scope}"
            )))
        })
        .collect();
    let mut answers = Vec::new();
    for duplicate in duplicates {
        match duplicate.await.unwrap() {
            (StatusCode::OK, body) => {
                answers.push((body["access_token"].clone(), body["refresh_token"].clone()));
            }
            (_, body) => assert_eq!(body, json!({"error": "invalid_grant"})),
        }
    }
    answers.sort_by_key(|(access, _)| access.to_string());
    answers.dedup();
    assert_eq!(
        answers.len(),
        1,
        "distinct answers to duplicates of one refresh"
    );
    assert!(access_token_is_live(&service, &json!({"access_token": answers[0].0})).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_jwt_duplicates_get_the_stored_token_on_the_memory_store() {
    concurrent_jwt_duplicates_get_the_stored_token(memory(&strict_config()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_jwt_duplicates_get_the_stored_token_on_dynamodb() {
    support::require!(Moto);
    concurrent_jwt_duplicates_get_the_stored_token(dynamodb(&strict_config()).await).await;
}

#[tokio::test]
async fn after_the_retry_window_a_retry_is_a_replay() {
    let service = memory(&strict_config()).await;
    let (_, first) = login(&service, "alice", "correct+horse").await;
    let (_, second) = refresh(&service, &first).await;
    service.clock.advance(60);
    assert_eq!(refresh(&service, &first).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(refresh(&service, &second).await.0, StatusCode::BAD_REQUEST);
    assert!(!access_token_is_live(&service, &second).await);
}

/// A refresh follows the client as it is now: its scopes and grant types.
async fn refreshes_follow_the_client_as_it_is_now<S: Store>(service: App<S>) {
    let (_, first) = login(&service, "alice", "correct+horse").await;
    assert_eq!(first["scope"], "read write");
    let store = service.store();
    let mut client = store
        .client(&support::client_id_of(CLIENT))
        .await
        .unwrap()
        .unwrap();
    client.scope = token_endpoint::domain::Scope::parse("read").unwrap();
    store
        .delete_client(&support::client_id_of(CLIENT))
        .await
        .unwrap();
    store.create_client(&client).await.unwrap();
    let (status, second) = refresh(&service, &first).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        second["scope"], "read",
        "a scope taken away is not refreshed"
    );

    client.grant_types = vec![GrantType::Password];
    store
        .delete_client(&support::client_id_of(CLIENT))
        .await
        .unwrap();
    store.create_client(&client).await.unwrap();
    assert_eq!(
        refresh(&service, &second).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "unauthorized_client"})
        )
    );
}

#[tokio::test]
async fn refreshes_follow_the_client_on_the_memory_store() {
    refreshes_follow_the_client_as_it_is_now(memory(&strict_config()).await).await;
}

#[tokio::test]
async fn refreshes_follow_the_client_on_dynamodb() {
    support::require!(Moto);
    refreshes_follow_the_client_as_it_is_now(dynamodb(&strict_config()).await).await;
}

/// A client id deleted and registered again is another client: the old one's refresh tokens do
/// not work for it, even if the revocation never reached them.
async fn a_client_registered_again_does_not_inherit_tokens<S: Store>(service: App<S>) {
    let (_, first) = login(&service, "alice", "correct+horse").await;
    let store = service.store();
    let mut client = store
        .client(&support::client_id_of(CLIENT))
        .await
        .unwrap()
        .unwrap();
    store
        .delete_client(&support::client_id_of(CLIENT))
        .await
        .unwrap();
    // Registered again later than the clock skew allowed between the operator and the service.
    service
        .clock
        .advance(token_endpoint::domain::model::CREATION_CLOCK_SKEW + 1);
    client.created_at = service.clock.now();
    store.create_client(&client).await.unwrap();
    assert_eq!(
        refresh(&service, &first).await,
        (StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}))
    );
    let (_, fresh) = login(&service, "alice", "correct+horse").await;
    assert_eq!(refresh(&service, &fresh).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_client_registered_again_does_not_inherit_tokens_on_the_memory_store() {
    a_client_registered_again_does_not_inherit_tokens(memory(&strict_config()).await).await;
}

#[tokio::test]
async fn a_client_registered_again_does_not_inherit_tokens_on_dynamodb() {
    support::require!(Moto);
    a_client_registered_again_does_not_inherit_tokens(dynamodb(&strict_config()).await).await;
}

/// A login from `address`, as the Lambda adapter or the local server tags the request.
pub(crate) async fn login_from<S: Store>(
    service: &Arc<TokenService<S>>,
    address: &str,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    let form = format!("grant_type=password&username={username}&password={password}");
    let request = token_request(&form, Auth::BasicRaw(CLIENT, SECRET));
    support::serve_json(service, support::http::from_address(request, address)).await
}

/// Guessing spread over many addresses locks the username everywhere, except where the user
/// logged in before: a stranger cannot lock the real user out of their usual place.
async fn a_username_locked_everywhere_still_lets_its_known_sources_in<S: Store>(service: App<S>) {
    const HOME: &str = "198.51.100.10";
    assert_eq!(
        login_from(&service, HOME, "alice", "correct+horse").await.0,
        StatusCode::OK
    );
    for stranger in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        assert_eq!(
            login_from(&service, stranger, "alice", "guess").await,
            invalid_credentials()
        );
    }
    // The ceiling (3 here) is reached: a new address is refused even the right password.
    assert_eq!(
        login_from(&service, "192.0.2.77", "alice", "correct+horse").await,
        locked_out()
    );
    assert_eq!(
        login_from(&service, HOME, "alice", "correct+horse").await.0,
        StatusCode::OK,
        "home is known"
    );
}

fn ceiling_config() -> Config {
    let mut config = strict_config();
    config.lockout.username_ceiling = 3;
    config
}

#[tokio::test]
async fn known_sources_pass_a_username_lock_on_the_memory_store() {
    a_username_locked_everywhere_still_lets_its_known_sources_in(memory(&ceiling_config()).await)
        .await;
}

#[tokio::test]
async fn known_sources_pass_a_username_lock_on_dynamodb() {
    support::require!(Moto);
    a_username_locked_everywhere_still_lets_its_known_sources_in(dynamodb(&ceiling_config()).await)
        .await;
}

/// Every defence above holds where DynamoDB is a multi-Region strongly consistent table.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_defence_holds_on_a_multi_region_strongly_consistent_table() {
    support::require!(Moto);
    replaying_a_used_refresh_token_revokes_the_family(mrsc(&strict_config()).await).await;
    repeated_failures_lock_the_username(mrsc(&strict_config()).await).await;
    a_lost_answer_retried_gets_the_identical_pair(mrsc(&strict_config()).await).await;
    concurrent_duplicates_converge_on_one_pair(mrsc(&strict_config()).await).await;
    concurrent_jwt_duplicates_get_the_stored_token(mrsc(&strict_config()).await).await;
    refreshes_follow_the_client_as_it_is_now(mrsc(&strict_config()).await).await;
    a_client_registered_again_does_not_inherit_tokens(mrsc(&strict_config()).await).await;
    a_username_locked_everywhere_still_lets_its_known_sources_in(mrsc(&ceiling_config()).await)
        .await;
}

/// Clients keep logging in with the right password while an operator resets it with
/// `--revoke-tokens` (issue 20): once the reset returns, no token from the old password works,
/// those of logins that were in flight included.
async fn a_password_reset_ends_logins_in_flight<S: Store + Clone>(service: App<S>) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let admin =
        token_endpoint::admin::Admin::new(service.store().clone(), support::test_config().argon2);
    let (stop, logged_in) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let loggers: Vec<_> = (0..4)
        .map(|_| {
            let (service, stop, logged_in) = (
                Arc::clone(&service.service),
                stop.clone(),
                logged_in.clone(),
            );
            tokio::spawn(async move {
                let mut issued = Vec::new();
                // Bounded, so that the test ends by itself whatever happens.
                for _ in 0..500 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let (status, body) = login(&service, "alice", "correct+horse").await;
                    if status == StatusCode::OK {
                        logged_in.fetch_add(1, Ordering::SeqCst);
                        issued.push(body);
                    }
                }
                issued
            })
        })
        .collect();
    // Until the first logins went through (at most a minute, so that the test ends anyway).
    for _ in 0..6_000 {
        if logged_in.load(Ordering::SeqCst) >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        logged_in.load(Ordering::SeqCst) >= 1,
        "no login went through"
    );
    let reset = admin
        .set_password(
            &support::username_of("alice"),
            &token_endpoint::domain::Secret::new("a new password"),
            true,
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(reset.revoked().is_some(), "{reset:?}");
    stop.store(true, Ordering::SeqCst);
    let mut issued = Vec::new();
    for logger in loggers {
        issued.extend(logger.await.expect("a logger panicked"));
    }
    assert!(issued.len() >= 4);
    for tokens in &issued {
        assert_eq!(
            refresh(&service, tokens).await.0,
            StatusCode::BAD_REQUEST,
            "{tokens}"
        );
        assert!(!access_token_is_live(&service, tokens).await, "{tokens}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_reset_ends_logins_in_flight_on_the_memory_store() {
    a_password_reset_ends_logins_in_flight(memory(&support::test_config()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_reset_ends_logins_in_flight_on_dynamodb() {
    support::require!(Moto);
    a_password_reset_ends_logins_in_flight(dynamodb(&support::test_config()).await).await;
}
