//! One conformance suite, run against every `Store` adapter: the in-memory store and the
//! DynamoDB store on a real moto server. Both must give the same answers, including expiry,
//! single use and all-or-nothing writes.

mod support;

use std::sync::Arc;

use token_endpoint::domain::clock::UnixSeconds;
use token_endpoint::domain::lifecycle::{Revoked, revoke_all};
use token_endpoint::domain::model::{
    AccessTokenRecord, FamilyOwner, LoginFailures, RefreshTokenRecord, StoredToken, TokenFamily,
    TokenPair, UsedRefreshToken,
};
use token_endpoint::domain::store::{HashReplacement, Rotation, Store, StoreError};
use token_endpoint::domain::token::{TokenHash, new_token, random_alphanumeric};
use token_endpoint::domain::{Client, GrantType, Scope, User};

const NOW: UnixSeconds = 1_800_000_000;
/// How long rotations keep the used-token record.
const KEEP_USED_UNTIL: UnixSeconds = NOW + 30 * 86_400;

/// Runs every case against the store that `$make` builds.
macro_rules! conformance_suite {
    ($adapter:ident, $make:expr) => {
        mod $adapter {
            use super::*;

            conformance_suite!(@cases $make;
                reads_client_and_user_in_one_call,
                absent_records_read_as_none,
                issued_pairs_read_back,
                expired_access_tokens_read_as_absent,
                refresh_tokens_without_lifetime_never_expire,
                expired_refresh_tokens_are_neither_read_nor_rotated,
                access_tokens_are_not_refresh_tokens,
                rotation_replaces_the_pair,
                a_refresh_token_rotates_once,
                rotation_refuses_another_clients_token,
                rotation_refuses_a_deleted_users_token,
                concurrent_rotations_have_exactly_one_winner,
                a_failed_rotation_changes_nothing,
                duplicate_token_writes_are_refused_whole,
                provisioning_refuses_duplicates_and_missing_records,
                provisioning_updates_and_deletes,
                oversized_keys_read_as_absent,
                a_used_refresh_token_leaves_a_record_until_it_expires,
                revoking_a_family_removes_its_newest_pair_only,
                a_revoked_family_cannot_rotate,
                login_failures_count_lock_and_expire,
                a_successful_login_clears_failures,
                a_lost_successor_is_reissued_once,
                a_used_successor_is_not_reissued,
                reads_a_client_alone,
                token_context_finds_every_kind_of_token,
                an_access_token_issued_alone_reads_back_and_revokes,
                an_access_token_colliding_with_a_stored_one_is_refused_whole,
                a_pair_reusing_a_family_id_is_refused_whole,
                families_are_listed_by_user_and_by_client_oldest_first,
                revoked_and_expired_families_are_not_listed,
                rotation_and_reissue_keep_the_family_and_move_refreshed_at,
                refreshed_at_is_when_the_current_tokens_were_issued,
                revoke_all_of_a_user_spares_other_users,
                revoke_all_of_a_client_spares_other_clients,
                replacing_a_hash_needs_the_expected_one,
                concurrent_hash_replacements_have_one_winner,
            );
        }
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                super::$case(Arc::new($make.await)).await;
            }
        )*
    };
}

conformance_suite!(memory, async { token_endpoint::store::MemoryStore::new() });
conformance_suite!(dynamodb, support::dynamo_store());

fn scope(text: &str) -> Scope {
    Scope::parse(text).unwrap_or_else(|_| panic!("bad scope {text:?}"))
}

fn client(client_id: &str) -> Client {
    Client {
        client_id: client_id.into(),
        name: format!("{client_id} app"),
        secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        scope: scope("read write"),
        grant_types: vec![GrantType::Password, GrantType::RefreshToken],
    }
}

fn user(username: &str) -> User {
    User {
        username: username.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$cGFzc3dvcmQ".into(),
    }
}

fn fresh_hash() -> TokenHash {
    TokenHash::of(&new_token().unwrap_or_else(|e| panic!("{e}")))
}

fn fresh_family_id() -> String {
    random_alphanumeric(12).unwrap_or_else(|e| panic!("{e}"))
}

/// A new pair for `client_id`/`username`, issued at `NOW`, with an optional refresh lifetime.
fn pair(client_id: &str, username: &str, refresh_expires_at: Option<UnixSeconds>) -> TokenPair {
    pair_at(client_id, username, NOW, refresh_expires_at)
}

/// A new pair issued at `issued_at`; its access token lasts an hour.
fn pair_at(
    client_id: &str,
    username: &str,
    issued_at: UnixSeconds,
    refresh_expires_at: Option<UnixSeconds>,
) -> TokenPair {
    let family_id = fresh_family_id();
    let access = AccessTokenRecord {
        token_hash: fresh_hash(),
        client_id: client_id.into(),
        username: Some(username.into()),
        scope: scope("read"),
        family_id: family_id.clone(),
        issued_at,
        expires_at: issued_at + 3600,
    };
    let refresh = RefreshTokenRecord {
        token_hash: fresh_hash(),
        client_id: client_id.into(),
        username: username.into(),
        scope: scope("read write"),
        access_token_hash: access.token_hash.clone(),
        family_id,
        issued_at,
        expires_at: refresh_expires_at,
    };
    TokenPair { access, refresh }
}

/// A client's own access token (client credentials grant), issued at `issued_at` for an hour.
fn client_token_at(client_id: &str, issued_at: UnixSeconds) -> AccessTokenRecord {
    AccessTokenRecord {
        token_hash: fresh_hash(),
        client_id: client_id.into(),
        username: None,
        scope: scope("write"),
        family_id: fresh_family_id(),
        issued_at,
        expires_at: issued_at + 3600,
    }
}

/// The next pair of `previous`'s family, issued at `issued_at` with `refresh_expires_at`.
fn successor_at(
    previous: &TokenPair,
    issued_at: UnixSeconds,
    refresh_expires_at: Option<UnixSeconds>,
) -> TokenPair {
    let mut next = pair_at(
        &previous.refresh.client_id,
        &previous.refresh.username,
        issued_at,
        refresh_expires_at,
    );
    next.refresh.family_id = previous.refresh.family_id.clone();
    next.access.family_id = previous.refresh.family_id.clone();
    next
}

/// The family a pair starts, as listed before any rotation.
fn family_of_pair(pair: &TokenPair) -> TokenFamily {
    TokenFamily {
        family_id: pair.refresh.family_id.clone(),
        client_id: pair.refresh.client_id.clone(),
        username: Some(pair.refresh.username.clone()),
        scope: pair.refresh.scope.clone(),
        created_at: pair.refresh.issued_at,
        refreshed_at: pair.refresh.issued_at,
        expires_at: pair.refresh.expires_at,
    }
}

/// The family an access token issued alone starts: it ends with the token.
fn family_of_access(access: &AccessTokenRecord) -> TokenFamily {
    TokenFamily {
        family_id: access.family_id.clone(),
        client_id: access.client_id.clone(),
        username: access.username.clone(),
        scope: access.scope.clone(),
        created_at: access.issued_at,
        refreshed_at: access.issued_at,
        expires_at: Some(access.expires_at),
    }
}

fn user_owner(username: &str) -> FamilyOwner {
    FamilyOwner::User(username.into())
}

fn client_owner(client_id: &str) -> FamilyOwner {
    FamilyOwner::Client(client_id.into())
}

async fn families<S: Store>(store: &S, owner: &FamilyOwner, now: UnixSeconds) -> Vec<TokenFamily> {
    ok(store.token_families(owner, now).await)
}

async fn family_ids<S: Store>(store: &S, owner: &FamilyOwner, now: UnixSeconds) -> Vec<String> {
    families(store, owner, now)
        .await
        .into_iter()
        .map(|family| family.family_id)
        .collect()
}

/// What `token_context` finds for `token`, presented by client "app".
async fn stored_token<S: Store>(
    store: &S,
    token: &TokenHash,
    now: UnixSeconds,
) -> Option<StoredToken> {
    ok(store.token_context("app", token, now).await).token
}

/// The next pair of `previous`'s family, as a rotation would issue it.
fn successor(previous: &TokenPair) -> TokenPair {
    let mut next = pair(
        &previous.refresh.client_id,
        &previous.refresh.username,
        previous.refresh.expires_at,
    );
    next.refresh.family_id = previous.refresh.family_id.clone();
    next.access.family_id = previous.refresh.family_id.clone();
    next
}

fn ok<T>(result: Result<T, StoreError>) -> T {
    result.unwrap_or_else(|error| panic!("store call failed: {error}"))
}

/// A store with `client` "app", user "alice" and one issued pair.
async fn with_issued_pair<S: Store>(
    store: &S,
    refresh_expires_at: Option<UnixSeconds>,
) -> TokenPair {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    let issued = pair("app", "alice", refresh_expires_at);
    ok(store.issue_token_pair(&issued, false).await);
    issued
}

/// The refresh token as the refresh grant would read it, if it is still live.
async fn refresh_token_of<S: Store>(
    store: &S,
    token: &TokenHash,
    now: UnixSeconds,
) -> Option<RefreshTokenRecord> {
    match ok(store.token_context("app", token, now).await).token {
        Some(StoredToken::Refresh(live)) => Some(live),
        _ => None,
    }
}

/// The used-token record the refresh grant would read, if any.
async fn used_record_of<S: Store>(
    store: &S,
    token: &TokenHash,
    now: UnixSeconds,
) -> Option<UsedRefreshToken> {
    match ok(store.token_context("app", token, now).await).token {
        Some(StoredToken::UsedRefresh(used)) => Some(used),
        _ => None,
    }
}

async fn reads_client_and_user_in_one_call<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    let context = ok(store.password_grant_context("app", "alice", NOW).await);
    assert_eq!(context.client, Some(client("app")));
    assert_eq!(context.user, Some(user("alice")));
}

async fn absent_records_read_as_none<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    let context = ok(store.password_grant_context("app", "nobody", NOW).await);
    assert_eq!(context.client, Some(client("app")));
    assert_eq!(context.user, None);
    let context = ok(store.password_grant_context("other", "nobody", NOW).await);
    assert_eq!((context.client, context.user), (None, None));
    let context = ok(store.token_context("other", &fresh_hash(), NOW).await);
    assert_eq!((context.client, context.token), (None, None));
    assert_eq!(ok(store.access_token(&fresh_hash(), NOW).await), None);
}

async fn issued_pairs_read_back<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, Some(NOW + 86_400)).await;
    assert_eq!(
        ok(store.access_token(&issued.access.token_hash, NOW).await),
        Some(issued.access.clone())
    );
    let context = ok(store
        .token_context("app", &issued.refresh.token_hash, NOW)
        .await);
    assert_eq!(context.client, Some(client("app")));
    assert_eq!(context.token, Some(StoredToken::Refresh(issued.refresh)));
}

async fn expired_access_tokens_read_as_absent<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let hash = &issued.access.token_hash;
    assert!(ok(store.access_token(hash, NOW + 3599).await).is_some());
    // The TTL has passed but nothing deleted the item: the read itself must refuse it.
    assert_eq!(ok(store.access_token(hash, NOW + 3600).await), None);
    assert_eq!(ok(store.access_token(hash, NOW + 100_000).await), None);
}

async fn refresh_tokens_without_lifetime_never_expire<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let far_future = NOW + 10 * 365 * 86_400;
    assert!(
        refresh_token_of(&*store, &issued.refresh.token_hash, far_future)
            .await
            .is_some()
    );
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, far_future, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
}

async fn expired_refresh_tokens_are_neither_read_nor_rotated<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, Some(NOW + 60)).await;
    let hash = &issued.refresh.token_hash;
    assert!(refresh_token_of(&*store, hash, NOW + 59).await.is_some());
    assert_eq!(refresh_token_of(&*store, hash, NOW + 60).await, None);
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, NOW + 60, KEEP_USED_UNTIL)
            .await),
        Rotation::Refused
    );
    assert_eq!(
        ok(store.access_token(&next.access.token_hash, NOW).await),
        None
    );
}

async fn access_tokens_are_not_refresh_tokens<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    assert_eq!(
        refresh_token_of(&*store, &issued.access.token_hash, NOW).await,
        None
    );
    assert_eq!(
        ok(store.access_token(&issued.refresh.token_hash, NOW).await),
        None
    );
}

async fn rotation_replaces_the_pair<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, NOW, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
    assert_eq!(
        refresh_token_of(&*store, &issued.refresh.token_hash, NOW).await,
        None
    );
    assert_eq!(
        ok(store.access_token(&issued.access.token_hash, NOW).await),
        None
    );
    assert_eq!(
        refresh_token_of(&*store, &next.refresh.token_hash, NOW).await,
        Some(next.refresh.clone())
    );
    assert_eq!(
        ok(store.access_token(&next.access.token_hash, NOW).await),
        Some(next.access)
    );
}

async fn a_refresh_token_rotates_once<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let first = successor(&issued);
    let second = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &first, NOW, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &second, NOW, KEEP_USED_UNTIL)
            .await),
        Rotation::Refused
    );
    assert_eq!(
        refresh_token_of(&*store, &second.refresh.token_hash, NOW).await,
        None
    );
    assert!(
        refresh_token_of(&*store, &first.refresh.token_hash, NOW)
            .await
            .is_some()
    );
}

async fn rotation_refuses_another_clients_token<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let mut presented = issued.refresh.clone();
    presented.client_id = "intruder".into();
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&presented, &next, NOW, KEEP_USED_UNTIL)
            .await),
        Rotation::Refused
    );
    // Not burnt: the owner can still use it.
    assert!(
        refresh_token_of(&*store, &issued.refresh.token_hash, NOW)
            .await
            .is_some()
    );
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &successor(&issued), NOW, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
}

async fn rotation_refuses_a_deleted_users_token<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    ok(store.delete_user("alice").await);
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, NOW, KEEP_USED_UNTIL)
            .await),
        Rotation::Refused
    );
    assert_eq!(
        ok(store.access_token(&next.access.token_hash, NOW).await),
        None
    );
}

async fn concurrent_rotations_have_exactly_one_winner<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let attempts: Vec<TokenPair> = (0..24).map(|_| successor(&issued)).collect();
    let tasks: Vec<_> = attempts
        .iter()
        .cloned()
        .map(|replacement| {
            let store = Arc::clone(&store);
            let used = issued.refresh.clone();
            tokio::spawn(async move {
                store
                    .rotate_refresh_token(&used, &replacement, NOW, KEEP_USED_UNTIL)
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(ok(task
            .await
            .unwrap_or_else(|e| panic!("task failed: {e}"))));
    }
    let winners: Vec<&TokenPair> = attempts
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| **outcome == Rotation::Rotated)
        .map(|(attempt, _)| attempt)
        .collect();
    assert_eq!(winners.len(), 1, "outcomes: {outcomes:?}");
    for attempt in &attempts {
        let stored = refresh_token_of(&*store, &attempt.refresh.token_hash, NOW).await;
        assert_eq!(stored.is_some(), std::ptr::eq(attempt, winners[0]));
    }
}

async fn a_failed_rotation_changes_nothing<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let other = pair("app", "alice", None);
    ok(store.issue_token_pair(&other, false).await);
    // The replacement's refresh token collides with a stored one: the write must fail whole.
    let mut colliding = successor(&issued);
    colliding.refresh.token_hash = other.refresh.token_hash.clone();
    assert!(
        store
            .rotate_refresh_token(&issued.refresh, &colliding, NOW, KEEP_USED_UNTIL)
            .await
            .is_err()
    );
    assert!(
        refresh_token_of(&*store, &issued.refresh.token_hash, NOW)
            .await
            .is_some()
    );
    assert!(ok(store.access_token(&issued.access.token_hash, NOW).await).is_some());
    assert_eq!(
        ok(store.access_token(&colliding.access.token_hash, NOW).await),
        None
    );
}

async fn duplicate_token_writes_are_refused_whole<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let mut again = pair("app", "alice", None);
    again.refresh.token_hash = issued.refresh.token_hash.clone();
    assert!(store.issue_token_pair(&again, false).await.is_err());
    assert_eq!(
        ok(store.access_token(&again.access.token_hash, NOW).await),
        None
    );
    assert_eq!(
        refresh_token_of(&*store, &issued.refresh.token_hash, NOW).await,
        Some(issued.refresh)
    );
}

async fn provisioning_refuses_duplicates_and_missing_records<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    assert!(matches!(
        store.create_client(&client("app")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.create_user(&user("alice")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.set_client_secret_hash("nope", "h").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_user_password_hash("nope", "h").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_client("nope").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_user("nope").await,
        Err(StoreError::NotFound(_))
    ));
}

async fn provisioning_updates_and_deletes<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    ok(store.set_client_secret_hash("app", "new-secret-hash").await);
    ok(store
        .set_user_password_hash("alice", "new-password-hash")
        .await);
    let context = ok(store.password_grant_context("app", "alice", NOW).await);
    assert_eq!(
        context.client.map(|c| c.secret_hash).as_deref(),
        Some("new-secret-hash")
    );
    assert_eq!(
        context.user.map(|u| u.password_hash).as_deref(),
        Some("new-password-hash")
    );
    ok(store.delete_client("app").await);
    ok(store.delete_user("alice").await);
    let context = ok(store.password_grant_context("app", "alice", NOW).await);
    assert_eq!((context.client, context.user), (None, None));
}

async fn oversized_keys_read_as_absent<S: Store>(store: Arc<S>) {
    let long = "x".repeat(4000);
    let context = ok(store.password_grant_context(&long, &long, NOW).await);
    assert_eq!((context.client, context.user), (None, None));
    let context = ok(store.token_context(&long, &fresh_hash(), NOW).await);
    assert_eq!(context.client, None);
}

async fn a_used_refresh_token_leaves_a_record_until_it_expires<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, NOW + 10, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
    let used = used_record_of(&*store, &issued.refresh.token_hash, NOW + 20).await;
    let used = used.unwrap_or_else(|| panic!("the used token should leave a record"));
    assert_eq!(used.family_id, issued.refresh.family_id);
    assert_eq!(used.client_id, "app");
    assert_eq!(used.used_at, NOW + 10);
    assert_eq!(used.expires_at, KEEP_USED_UNTIL);
    // The record is not a usable token, and is forgotten once it expires.
    assert_eq!(
        refresh_token_of(&*store, &issued.refresh.token_hash, NOW + 20).await,
        None
    );
    let context = ok(store
        .token_context("app", &issued.refresh.token_hash, KEEP_USED_UNTIL)
        .await);
    assert_eq!(context.token, None);
}

async fn revoking_a_family_removes_its_newest_pair_only<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let next = successor(&issued);
    ok(store
        .rotate_refresh_token(&issued.refresh, &next, NOW, KEEP_USED_UNTIL)
        .await);
    let unrelated = pair("app", "alice", None);
    ok(store.issue_token_pair(&unrelated, false).await);

    assert!(ok(store.revoke_family(&issued.refresh.family_id).await) > 0);
    assert_eq!(
        refresh_token_of(&*store, &next.refresh.token_hash, NOW).await,
        None
    );
    assert_eq!(
        ok(store.access_token(&next.access.token_hash, NOW).await),
        None
    );
    // Other families are untouched; revoking again finds nothing.
    assert!(
        refresh_token_of(&*store, &unrelated.refresh.token_hash, NOW)
            .await
            .is_some()
    );
    assert!(ok(store.access_token(&unrelated.access.token_hash, NOW).await).is_some());
    assert_eq!(ok(store.revoke_family(&issued.refresh.family_id).await), 0);
    assert_eq!(ok(store.revoke_family("no-such-family").await), 0);
}

async fn a_revoked_family_cannot_rotate<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    ok(store.revoke_family(&issued.refresh.family_id).await);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &successor(&issued), NOW, KEEP_USED_UNTIL)
            .await),
        Rotation::Refused
    );
}

async fn failures_of<S: Store>(store: &S, username: &str, now: UnixSeconds) -> LoginFailures {
    ok(store.password_grant_context("app", username, now).await).failures
}

async fn login_failures_count_lock_and_expire<S: Store>(store: Arc<S>) {
    assert_eq!(
        failures_of(&*store, "alice", NOW).await,
        LoginFailures::default()
    );
    ok(store.record_login_failure("alice", NOW, 0, NOW + 100).await);
    ok(store
        .record_login_failure("alice", NOW, NOW + 5, NOW + 100)
        .await);
    let failures = failures_of(&*store, "alice", NOW + 1).await;
    assert_eq!(
        failures,
        LoginFailures {
            count: 2,
            locked_until: NOW + 5
        }
    );
    assert!(failures.is_locked_at(NOW + 4) && !failures.is_locked_at(NOW + 5));
    // Unknown usernames are counted like known ones.
    ok(store
        .record_login_failure("nobody", NOW, 0, NOW + 100)
        .await);
    assert_eq!(failures_of(&*store, "nobody", NOW).await.count, 1);
    // Past its expiry the record is forgotten, and counting starts again.
    assert_eq!(
        failures_of(&*store, "alice", NOW + 100).await,
        LoginFailures::default()
    );
    ok(store
        .record_login_failure("alice", NOW + 100, 0, NOW + 200)
        .await);
    assert_eq!(failures_of(&*store, "alice", NOW + 101).await.count, 1);
    // A username too long to be a key is not an error.
    ok(store
        .record_login_failure(&"x".repeat(4000), NOW, 0, NOW + 100)
        .await);
}

async fn concurrent_failures_all_count<S: Store>(store: Arc<S>) {
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(
                async move { store.record_login_failure("alice", NOW, 0, NOW + 100).await },
            )
        })
        .collect();
    for task in tasks {
        ok(task.await.unwrap_or_else(|e| panic!("{e}")));
    }
    assert_eq!(failures_of(&*store, "alice", NOW).await.count, 20);
}

async fn a_successful_login_clears_failures<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    ok(store
        .record_login_failure("alice", NOW, NOW + 5, NOW + 100)
        .await);
    ok(store
        .issue_token_pair(&pair("app", "alice", None), true)
        .await);
    assert_eq!(
        failures_of(&*store, "alice", NOW).await,
        LoginFailures::default()
    );
    concurrent_failures_all_count(store).await;
}

async fn a_lost_successor_is_reissued_once<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let lost = successor(&issued);
    ok(store
        .rotate_refresh_token(&issued.refresh, &lost, NOW, KEEP_USED_UNTIL)
        .await);
    let used = used_record_of(&*store, &issued.refresh.token_hash, NOW).await;
    let used = used.unwrap_or_else(|| panic!("no used record"));
    assert_eq!(used.successor_refresh, lost.refresh.token_hash);
    assert_eq!((used.username.as_str(), used.reissued), ("alice", false));

    let replacement = successor(&issued);
    assert_eq!(
        ok(store.reissue_successor(&used, &replacement, NOW + 1).await),
        Rotation::Rotated
    );
    // The pair nobody received is gone; the replacement is live and the record says so.
    assert_eq!(
        refresh_token_of(&*store, &lost.refresh.token_hash, NOW).await,
        None
    );
    assert_eq!(
        ok(store.access_token(&lost.access.token_hash, NOW).await),
        None
    );
    assert!(
        refresh_token_of(&*store, &replacement.refresh.token_hash, NOW)
            .await
            .is_some()
    );
    let after = used_record_of(&*store, &issued.refresh.token_hash, NOW).await;
    let after = after.unwrap_or_else(|| panic!("no used record"));
    assert!(after.reissued);
    assert_eq!(after.successor_refresh, replacement.refresh.token_hash);
    // Once only, whether presenting the old record or the new one.
    let again = successor(&issued);
    assert_eq!(
        ok(store.reissue_successor(&used, &again, NOW + 2).await),
        Rotation::Refused
    );
    assert_eq!(
        ok(store.reissue_successor(&after, &again, NOW + 2).await),
        Rotation::Refused
    );
    assert_eq!(
        refresh_token_of(&*store, &again.refresh.token_hash, NOW).await,
        None
    );
    // The family follows the replacement: revoking it reaches the replacement.
    ok(store.revoke_family(&issued.refresh.family_id).await);
    assert_eq!(
        refresh_token_of(&*store, &replacement.refresh.token_hash, NOW).await,
        None
    );
}

async fn a_used_successor_is_not_reissued<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let received = successor(&issued);
    ok(store
        .rotate_refresh_token(&issued.refresh, &received, NOW, KEEP_USED_UNTIL)
        .await);
    let used = used_record_of(&*store, &issued.refresh.token_hash, NOW).await;
    let used = used.unwrap_or_else(|| panic!("no used record"));
    // The successor was received and used: the answer was not lost.
    let third = successor(&received);
    ok(store
        .rotate_refresh_token(&received.refresh, &third, NOW, KEEP_USED_UNTIL)
        .await);
    let replacement = successor(&issued);
    assert_eq!(
        ok(store.reissue_successor(&used, &replacement, NOW).await),
        Rotation::Refused
    );
    assert!(
        refresh_token_of(&*store, &third.refresh.token_hash, NOW)
            .await
            .is_some()
    );
    assert_eq!(
        refresh_token_of(&*store, &replacement.refresh.token_hash, NOW).await,
        None
    );
}

async fn reads_a_client_alone<S: Store>(store: Arc<S>) {
    assert_eq!(ok(store.client("app").await), None);
    ok(store.create_client(&client("app")).await);
    // A user of the same name is not a client.
    ok(store.create_user(&user("other")).await);
    assert_eq!(ok(store.client("app").await), Some(client("app")));
    assert_eq!(ok(store.client("other").await), None);
    assert_eq!(ok(store.client(&"x".repeat(4000)).await), None);
    ok(store.delete_client("app").await);
    assert_eq!(ok(store.client("app").await), None);
}

async fn token_context_finds_every_kind_of_token<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let context = ok(store
        .token_context("app", &issued.access.token_hash, NOW)
        .await);
    assert_eq!(context.client, Some(client("app")));
    let Some(StoredToken::Access(access)) = context.token else {
        panic!("the access token should read as one: {:?}", context.token);
    };
    assert_eq!(access, issued.access);
    assert_eq!(access.family_id, issued.refresh.family_id);
    assert_eq!(access.username.as_deref(), Some("alice"));
    assert_eq!(
        stored_token(&*store, &issued.refresh.token_hash, NOW).await,
        Some(StoredToken::Refresh(issued.refresh.clone()))
    );
    // The token is read whoever presents it: checking its client is the caller's job.
    let context = ok(store
        .token_context("stranger", &issued.access.token_hash, NOW)
        .await);
    assert_eq!(context.client, None);
    assert_eq!(
        context.token,
        Some(StoredToken::Access(issued.access.clone()))
    );

    // A client's own token reads back without a user.
    let own = client_token_at("app", NOW);
    ok(store.issue_access_token(&own).await);
    assert_eq!(
        stored_token(&*store, &own.token_hash, NOW).await,
        Some(StoredToken::Access(own.clone()))
    );

    // Access tokens read as absent from their expiry on, even before anything deletes them.
    for token in [&issued.access, &own] {
        let hash = &token.token_hash;
        assert!(
            stored_token(&*store, hash, token.expires_at - 1)
                .await
                .is_some()
        );
        assert_eq!(stored_token(&*store, hash, token.expires_at).await, None);
    }

    // A used refresh token reads as its used-token record; its access token is gone.
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, NOW + 10, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
    assert_eq!(
        stored_token(&*store, &issued.refresh.token_hash, NOW + 20).await,
        Some(StoredToken::UsedRefresh(UsedRefreshToken::after_rotation(
            &issued.refresh,
            &next,
            NOW + 10,
            KEEP_USED_UNTIL
        )))
    );
    assert_eq!(
        stored_token(&*store, &issued.access.token_hash, NOW + 20).await,
        None
    );
    assert_eq!(
        stored_token(&*store, &next.access.token_hash, NOW + 20).await,
        Some(StoredToken::Access(next.access))
    );
}

async fn an_access_token_issued_alone_reads_back_and_revokes<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    let own = client_token_at("app", NOW);
    ok(store.issue_access_token(&own).await);
    let read = ok(store.access_token(&own.token_hash, NOW).await);
    assert_eq!(
        read.as_ref().map(|token| token.username.clone()),
        Some(None)
    );
    assert_eq!(read, Some(own.clone()));
    assert_eq!(
        stored_token(&*store, &own.token_hash, NOW).await,
        Some(StoredToken::Access(own.clone()))
    );
    assert_eq!(
        families(&*store, &client_owner("app"), NOW).await,
        vec![family_of_access(&own)]
    );

    // Its family holds it alone.
    assert_eq!(ok(store.revoke_family(&own.family_id).await), 1);
    assert_eq!(ok(store.access_token(&own.token_hash, NOW).await), None);
    assert_eq!(stored_token(&*store, &own.token_hash, NOW).await, None);
    assert!(
        families(&*store, &client_owner("app"), NOW)
            .await
            .is_empty()
    );
    assert_eq!(ok(store.revoke_family(&own.family_id).await), 0);
}

async fn an_access_token_colliding_with_a_stored_one_is_refused_whole<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let mut colliding = client_token_at("app", NOW + 5);
    colliding.token_hash = issued.access.token_hash.clone();
    assert!(store.issue_access_token(&colliding).await.is_err());
    // The stored token is untouched, and the new family was not written either.
    assert_eq!(
        ok(store.access_token(&issued.access.token_hash, NOW).await),
        Some(issued.access)
    );
    assert_eq!(
        family_ids(&*store, &client_owner("app"), NOW).await,
        vec![issued.refresh.family_id]
    );
    assert_eq!(ok(store.revoke_family(&colliding.family_id).await), 0);
}

async fn families_are_listed_by_user_and_by_client_oldest_first<S: Store>(store: Arc<S>) {
    for client_id in ["app", "tool"] {
        ok(store.create_client(&client(client_id)).await);
    }
    for username in ["alice", "bob"] {
        ok(store.create_user(&user(username)).await);
    }
    let alice_app = pair_at("app", "alice", NOW + 1, None);
    let app_own = client_token_at("app", NOW + 2);
    let alice_tool = pair_at("tool", "alice", NOW + 3, Some(NOW + 86_400));
    let bob_app = pair_at("app", "bob", NOW + 4, None);
    let tool_own = client_token_at("tool", NOW + 5);
    // Stored newest first: the listing orders by creation, not by write.
    ok(store.issue_access_token(&tool_own).await);
    ok(store.issue_token_pair(&bob_app, false).await);
    ok(store.issue_token_pair(&alice_tool, false).await);
    ok(store.issue_access_token(&app_own).await);
    ok(store.issue_token_pair(&alice_app, false).await);

    let at = NOW + 10;
    assert_eq!(
        families(&*store, &user_owner("alice"), at).await,
        vec![family_of_pair(&alice_app), family_of_pair(&alice_tool)]
    );
    assert_eq!(
        families(&*store, &user_owner("bob"), at).await,
        vec![family_of_pair(&bob_app)]
    );
    // A client's families include its users' and its own (client credentials) ones.
    assert_eq!(
        families(&*store, &client_owner("app"), at).await,
        vec![
            family_of_pair(&alice_app),
            family_of_access(&app_own),
            family_of_pair(&bob_app),
        ]
    );
    assert_eq!(
        families(&*store, &client_owner("tool"), at).await,
        vec![family_of_pair(&alice_tool), family_of_access(&tool_own)]
    );
    // Client credentials families belong to no user, not even one named like the client;
    // owners without families, and names no key can hold, have none.
    for owner in [
        user_owner("app"),
        user_owner("tool"),
        user_owner("carol"),
        client_owner("alice"),
        client_owner("nobody"),
        user_owner(""),
        client_owner(""),
        user_owner(&"x".repeat(4000)),
        client_owner(&"x".repeat(4000)),
    ] {
        assert_eq!(families(&*store, &owner, at).await, vec![], "{owner:?}");
    }
}

async fn revoked_and_expired_families_are_not_listed<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    let lasting = pair_at("app", "alice", NOW, None);
    let expiring = pair_at("app", "alice", NOW + 1, Some(NOW + 600));
    let revoked = pair_at("app", "alice", NOW + 2, None);
    let own = client_token_at("app", NOW + 3);
    for issued in [&lasting, &expiring, &revoked] {
        ok(store.issue_token_pair(issued, false).await);
    }
    ok(store.issue_access_token(&own).await);
    let id = |issued: &TokenPair| issued.refresh.family_id.clone();

    assert_eq!(
        family_ids(&*store, &user_owner("alice"), NOW + 10).await,
        vec![id(&lasting), id(&expiring), id(&revoked)]
    );
    assert_eq!(ok(store.revoke_family(&id(&revoked)).await), 2);
    assert_eq!(
        family_ids(&*store, &user_owner("alice"), NOW + 10).await,
        vec![id(&lasting), id(&expiring)]
    );
    // A family ends when its refresh token expires; one started by an access token alone
    // ends with that token.
    let all_live = vec![id(&lasting), id(&expiring), own.family_id.clone()];
    assert_eq!(
        family_ids(&*store, &client_owner("app"), NOW + 599).await,
        all_live
    );
    assert_eq!(
        family_ids(&*store, &client_owner("app"), NOW + 600).await,
        vec![id(&lasting), own.family_id.clone()]
    );
    assert_eq!(
        family_ids(&*store, &client_owner("app"), own.expires_at - 1).await,
        vec![id(&lasting), own.family_id.clone()]
    );
    assert_eq!(
        family_ids(&*store, &client_owner("app"), own.expires_at).await,
        vec![id(&lasting)]
    );
    assert_eq!(
        family_ids(&*store, &user_owner("alice"), NOW + 10 * 365 * 86_400).await,
        vec![id(&lasting)]
    );
}

async fn rotation_and_reissue_keep_the_family_and_move_refreshed_at<S: Store>(store: Arc<S>) {
    let first = with_issued_pair(&*store, Some(NOW + 1000)).await;
    let later = pair_at("app", "alice", NOW + 50, None);
    ok(store.issue_token_pair(&later, false).await);

    let rotated = successor_at(&first, NOW + 100, Some(NOW + 1100));
    assert_eq!(
        ok(store
            .rotate_refresh_token(&first.refresh, &rotated, NOW + 100, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
    let moved = |refreshed_at, expires_at| TokenFamily {
        refreshed_at,
        expires_at,
        ..family_of_pair(&first)
    };
    // Still listed by when it was created, and now as long as its new refresh token lives.
    let expected = vec![moved(NOW + 100, Some(NOW + 1100)), family_of_pair(&later)];
    assert_eq!(
        families(&*store, &user_owner("alice"), NOW + 100).await,
        expected
    );
    assert_eq!(
        families(&*store, &client_owner("app"), NOW + 100).await,
        expected
    );
    assert_eq!(
        families(&*store, &user_owner("alice"), NOW + 1050).await,
        expected
    );

    // Re-issuing a lost successor moves the family too.
    let used = used_record_of(&*store, &first.refresh.token_hash, NOW + 110).await;
    let used = used.unwrap_or_else(|| panic!("no used record"));
    let replacement = successor_at(&first, NOW + 110, Some(NOW + 1110));
    assert_eq!(
        ok(store
            .reissue_successor(&used, &replacement, NOW + 110)
            .await),
        Rotation::Rotated
    );
    let expected = vec![moved(NOW + 110, Some(NOW + 1110)), family_of_pair(&later)];
    assert_eq!(
        families(&*store, &user_owner("alice"), NOW + 1105).await,
        expected
    );

    // A refresh token without expiry makes the family last until it is revoked.
    let last = successor_at(&first, NOW + 200, None);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&replacement.refresh, &last, NOW + 200, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
    assert_eq!(
        families(&*store, &user_owner("alice"), NOW + 10 * 365 * 86_400).await,
        vec![moved(NOW + 200, None), family_of_pair(&later)]
    );
}

async fn refreshed_at_is_when_the_current_tokens_were_issued<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    // The pair was made a moment before the call that stores it.
    let next = successor_at(&issued, NOW + 10, None);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, NOW + 12, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
    let listed = families(&*store, &user_owner("alice"), NOW + 12).await;
    assert_eq!(
        listed
            .iter()
            .map(|family| (family.created_at, family.refreshed_at))
            .collect::<Vec<_>>(),
        vec![(NOW, NOW + 10)]
    );
}

async fn revoke_all_of_a_user_spares_other_users<S: Store>(store: Arc<S>) {
    for client_id in ["app", "tool"] {
        ok(store.create_client(&client(client_id)).await);
    }
    for username in ["alice", "bob"] {
        ok(store.create_user(&user(username)).await);
    }
    let alice_first = pair_at("app", "alice", NOW, None);
    let alice_second = pair_at("tool", "alice", NOW + 1, None);
    let bob = pair_at("app", "bob", NOW + 2, None);
    for issued in [&alice_first, &alice_second, &bob] {
        ok(store.issue_token_pair(issued, false).await);
    }
    let app_own = client_token_at("app", NOW + 3);
    ok(store.issue_access_token(&app_own).await);
    // One of alice's families has moved on once.
    let alice_rotated = successor_at(&alice_first, NOW + 5, None);
    assert_eq!(
        ok(store
            .rotate_refresh_token(
                &alice_first.refresh,
                &alice_rotated,
                NOW + 5,
                KEEP_USED_UNTIL
            )
            .await),
        Rotation::Rotated
    );

    let now = NOW + 10;
    assert_eq!(
        ok(revoke_all(&*store, &user_owner("alice"), now).await),
        Revoked {
            families: 2,
            tokens: 4
        }
    );
    for revoked in [&alice_rotated, &alice_second] {
        assert_eq!(
            ok(store.access_token(&revoked.access.token_hash, now).await),
            None
        );
        assert_eq!(
            stored_token(&*store, &revoked.access.token_hash, now).await,
            None
        );
        assert_eq!(
            refresh_token_of(&*store, &revoked.refresh.token_hash, now).await,
            None
        );
        assert_eq!(
            ok(store
                .rotate_refresh_token(
                    &revoked.refresh,
                    &successor_at(revoked, now, None),
                    now,
                    KEEP_USED_UNTIL
                )
                .await),
            Rotation::Refused
        );
    }
    assert!(
        families(&*store, &user_owner("alice"), now)
            .await
            .is_empty()
    );

    // Bob and the client's own token are untouched.
    assert_eq!(
        ok(store.access_token(&bob.access.token_hash, now).await),
        Some(bob.access.clone())
    );
    assert_eq!(
        refresh_token_of(&*store, &bob.refresh.token_hash, now).await,
        Some(bob.refresh.clone())
    );
    assert_eq!(
        ok(store.access_token(&app_own.token_hash, now).await),
        Some(app_own.clone())
    );
    assert_eq!(
        family_ids(&*store, &client_owner("app"), now).await,
        vec![bob.refresh.family_id.clone(), app_own.family_id.clone()]
    );
    assert_eq!(
        ok(store
            .rotate_refresh_token(
                &bob.refresh,
                &successor_at(&bob, now, None),
                now,
                KEEP_USED_UNTIL
            )
            .await),
        Rotation::Rotated
    );
    // Nothing of alice's is left to revoke.
    assert_eq!(
        ok(revoke_all(&*store, &user_owner("alice"), now).await),
        Revoked::default()
    );
}

async fn revoke_all_of_a_client_spares_other_clients<S: Store>(store: Arc<S>) {
    for client_id in ["app", "tool"] {
        ok(store.create_client(&client(client_id)).await);
    }
    for username in ["alice", "bob"] {
        ok(store.create_user(&user(username)).await);
    }
    let alice_app = pair_at("app", "alice", NOW, Some(NOW + 86_400));
    let bob_app = pair_at("app", "bob", NOW + 1, None);
    let alice_tool = pair_at("tool", "alice", NOW + 3, None);
    for issued in [&alice_app, &bob_app, &alice_tool] {
        ok(store.issue_token_pair(issued, false).await);
    }
    let app_own = client_token_at("app", NOW + 2);
    let tool_own = client_token_at("tool", NOW + 4);
    // Expired before the revocation: not listed, so not counted.
    let app_expired = client_token_at("app", NOW - 4000);
    for own in [&app_own, &tool_own, &app_expired] {
        ok(store.issue_access_token(own).await);
    }

    let now = NOW + 10;
    assert_eq!(
        ok(revoke_all(&*store, &client_owner("app"), now).await),
        Revoked {
            families: 3,
            tokens: 5
        }
    );
    for access in [&alice_app.access, &bob_app.access, &app_own] {
        assert_eq!(ok(store.access_token(&access.token_hash, now).await), None);
    }
    for revoked in [&alice_app, &bob_app] {
        assert_eq!(
            refresh_token_of(&*store, &revoked.refresh.token_hash, now).await,
            None
        );
        assert_eq!(
            ok(store
                .rotate_refresh_token(
                    &revoked.refresh,
                    &successor_at(revoked, now, None),
                    now,
                    KEEP_USED_UNTIL
                )
                .await),
            Rotation::Refused
        );
    }
    assert!(
        families(&*store, &client_owner("app"), now)
            .await
            .is_empty()
    );
    assert!(families(&*store, &user_owner("bob"), now).await.is_empty());

    // The other client's tokens, alice's included, are untouched.
    assert_eq!(
        family_ids(&*store, &user_owner("alice"), now).await,
        vec![alice_tool.refresh.family_id.clone()]
    );
    assert_eq!(
        families(&*store, &client_owner("tool"), now).await,
        vec![family_of_pair(&alice_tool), family_of_access(&tool_own)]
    );
    assert_eq!(
        ok(store.access_token(&tool_own.token_hash, now).await),
        Some(tool_own.clone())
    );
    assert_eq!(
        ok(store.access_token(&alice_tool.access.token_hash, now).await),
        Some(alice_tool.access.clone())
    );
    assert_eq!(
        ok(store
            .rotate_refresh_token(
                &alice_tool.refresh,
                &successor_at(&alice_tool, now, None),
                now,
                KEEP_USED_UNTIL
            )
            .await),
        Rotation::Rotated
    );
    assert_eq!(
        ok(revoke_all(&*store, &client_owner("app"), now).await),
        Revoked::default()
    );
}

async fn a_pair_reusing_a_family_id_is_refused_whole<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let mut reusing = pair_at("app", "alice", NOW + 5, None);
    reusing.access.family_id = issued.refresh.family_id.clone();
    reusing.refresh.family_id = issued.refresh.family_id.clone();
    assert!(store.issue_token_pair(&reusing, false).await.is_err());
    assert_eq!(
        ok(store
            .access_token(&reusing.access.token_hash, NOW + 5)
            .await),
        None
    );
    assert_eq!(
        refresh_token_of(&*store, &reusing.refresh.token_hash, NOW + 5).await,
        None
    );
    // The family still holds the pair it was started with.
    assert_eq!(
        families(&*store, &user_owner("alice"), NOW + 5).await,
        vec![family_of_pair(&issued)]
    );
    assert_eq!(ok(store.revoke_family(&issued.refresh.family_id).await), 2);
    assert_eq!(
        ok(store.access_token(&issued.access.token_hash, NOW + 5).await),
        None
    );
}

/// Hash upgrades are compare-and-set: an imported Django hash is replaced only while it is the
/// one that was verified, and a missing record is never created.
async fn replacing_a_hash_needs_the_expected_one<S: Store>(store: Arc<S>) {
    let django = "pbkdf2_sha256$1000$salt$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=";
    let mut legacy_client = client("app");
    legacy_client.secret_hash = django.into();
    let mut legacy_user = user("alice");
    legacy_user.password_hash = django.into();
    ok(store.create_client(&legacy_client).await);
    ok(store.create_user(&legacy_user).await);
    let stored = |store: Arc<S>| async move {
        let context = ok(store.password_grant_context("app", "alice", NOW).await);
        (
            context.client.map(|c| c.secret_hash),
            context.user.map(|u| u.password_hash),
        )
    };

    // Another expected hash: nothing changes.
    assert_eq!(
        ok(store
            .replace_client_secret_hash("app", "pbkdf2_sha256$1$other$x", "$argon2id$new-secret")
            .await),
        HashReplacement::Stale
    );
    assert_eq!(
        ok(store
            .replace_user_password_hash("alice", "", "$argon2id$new-password")
            .await),
        HashReplacement::Stale
    );
    assert_eq!(
        stored(Arc::clone(&store)).await,
        (Some(django.to_owned()), Some(django.to_owned()))
    );

    // The expected hash: replaced, and only that attribute.
    assert_eq!(
        ok(store
            .replace_client_secret_hash("app", django, "$argon2id$new-secret")
            .await),
        HashReplacement::Replaced
    );
    assert_eq!(
        ok(store
            .replace_user_password_hash("alice", django, "$argon2id$new-password")
            .await),
        HashReplacement::Replaced
    );
    assert_eq!(
        stored(Arc::clone(&store)).await,
        (
            Some("$argon2id$new-secret".to_owned()),
            Some("$argon2id$new-password".to_owned())
        )
    );
    let upgraded = ok(store.client("app").await);
    assert_eq!(
        upgraded.map(|c| (c.name, c.scope, c.grant_types)),
        Some((
            legacy_client.name,
            legacy_client.scope,
            legacy_client.grant_types
        ))
    );

    // Once replaced, the old hash is no longer expected: a second upgrade is stale.
    assert_eq!(
        ok(store
            .replace_client_secret_hash("app", django, "$argon2id$again")
            .await),
        HashReplacement::Stale
    );
    assert_eq!(
        ok(store
            .replace_user_password_hash("alice", django, "$argon2id$again")
            .await),
        HashReplacement::Stale
    );
    assert_eq!(
        stored(Arc::clone(&store)).await,
        (
            Some("$argon2id$new-secret".to_owned()),
            Some("$argon2id$new-password".to_owned())
        )
    );

    // Missing or deleted records are not created.
    assert_eq!(
        ok(store.replace_client_secret_hash("nope", django, "h").await),
        HashReplacement::Stale
    );
    assert_eq!(
        ok(store
            .replace_user_password_hash("nobody", django, "h")
            .await),
        HashReplacement::Stale
    );
    ok(store.delete_user("alice").await);
    assert_eq!(
        ok(store
            .replace_user_password_hash("alice", "$argon2id$new-password", "h")
            .await),
        HashReplacement::Stale
    );
    assert_eq!(ok(store.client("nope").await), None);
    let context = ok(store.password_grant_context("nope", "nobody", NOW).await);
    assert_eq!((context.client, context.user), (None, None));
    assert_eq!(
        ok(store.password_grant_context("app", "alice", NOW).await).user,
        None
    );
}

/// Concurrent first logins of one user each verify the Django hash and try to store their own
/// Argon2id replacement: exactly one is stored, the others find it stale.
async fn concurrent_hash_replacements_have_one_winner<S: Store>(store: Arc<S>) {
    let django = "pbkdf2_sha256$1000$salt$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=";
    let mut legacy_user = user("alice");
    legacy_user.password_hash = django.into();
    ok(store.create_user(&legacy_user).await);
    let mut attempts = tokio::task::JoinSet::new();
    for attempt in 0..8 {
        let store = Arc::clone(&store);
        attempts.spawn(async move {
            let replacement = format!("$argon2id$attempt-{attempt}");
            let outcome = ok(store
                .replace_user_password_hash("alice", django, &replacement)
                .await);
            (outcome, replacement)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = attempts.join_next().await {
        let (outcome, replacement) = joined.unwrap_or_else(|error| panic!("{error}"));
        if outcome == HashReplacement::Replaced {
            winners.push(replacement);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(
        ok(store.password_grant_context("", "alice", NOW).await)
            .user
            .map(|u| u.password_hash),
        winners.pop()
    );
}
