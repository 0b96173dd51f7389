//! One conformance suite, run against every `Store` adapter: the in-memory store and the
//! DynamoDB store on a real moto server. Both must give the same answers, including expiry,
//! single use and all-or-nothing writes. The cases are grouped by concern in the submodules;
//! the tests are `conformance::{memory,dynamodb}::CASE`.

mod families;
mod issuance;
mod lockout;
mod provisioning;
mod reads;
mod replay;
mod rotation;
mod signing_keys;

use std::sync::Arc;

use token_endpoint::domain::clock::UnixSeconds;
use token_endpoint::domain::lifecycle::{Revoked, revoke_all};
use token_endpoint::domain::model::{
    AccessTokenRecord, CREATION_CLOCK_SKEW, FamilyOwner, RefreshTokenRecord, StoredToken,
    TokenFamily, TokenPair, UsedRefreshToken,
};
use token_endpoint::domain::store::{
    ClientChanges, HashReplacement, LoginIssue, Rotation, Store, StoreError,
};
use token_endpoint::domain::token::{
    FamilySecret, TokenHash, TokenKey, new_token, random_alphanumeric,
};
use token_endpoint::domain::{Client, GrantType, Scope, User};

use self::{
    families::*, issuance::*, lockout::*, provisioning::*, reads::*, replay::*, rotation::*,
    signing_keys::*,
};

const NOW: UnixSeconds = 1_800_000_000;
/// How long rotations keep the used-token record.
const KEEP_USED_UNTIL: UnixSeconds = NOW + 30 * 86_400;

/// Runs every case against the store that `$make` builds, each case starting with `$first`.
macro_rules! conformance_suite {
    ($adapter:ident, $make:expr) => {
        conformance_suite!($adapter, $make, first {});
    };
    ($adapter:ident, $make:expr, first $first:block) => {
        mod $adapter {
            use super::*;

            conformance_suite!(@cases $first $make;
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
                a_user_created_again_does_not_revive_old_tokens,
                concurrent_rotations_have_exactly_one_winner,
                a_failed_rotation_changes_nothing,
                duplicate_token_writes_are_refused_whole,
                provisioning_refuses_duplicates_and_missing_records,
                provisioning_updates_and_deletes,
                oversized_keys_read_as_absent,
                a_used_refresh_token_leaves_a_record_until_it_expires,
                revoking_a_family_removes_its_newest_pair_only,
                a_revoked_family_cannot_rotate,
                free_attempts_then_one_at_a_time_after_each_lock,
                a_success_frees_the_way_and_only_failures_count,
                a_waiting_attempt_is_let_in_when_one_in_flight_ends,
                unchecked_attempts_are_given_back,
                a_known_source_stays_known_after_a_typo,
                sources_and_usernames_are_counted_apart,
                forgotten_failures_and_records_start_again,
                concurrent_attempts_are_admitted_as_the_policy_allows,
                consecutive_failures_lock_the_username_except_for_known_sources,
                a_record_tracks_a_bounded_number_of_addresses,
                a_used_record_remembers_the_successor_and_the_secret,
                an_older_token_reads_as_superseded_until_its_family_ends,
                tokens_are_read_by_hash_in_order,
                reads_a_client_alone,
                token_context_finds_every_kind_of_token,
                an_access_token_issued_alone_reads_back_and_revokes,
                an_access_token_colliding_with_a_stored_one_is_refused_whole,
                a_pair_reusing_a_family_id_is_refused_whole,
                families_are_listed_by_user_and_by_client_oldest_first,
                revoked_and_expired_families_are_not_listed,
                rotation_keeps_the_family_and_moves_refreshed_at,
                refreshed_at_is_when_the_current_tokens_were_issued,
                revoke_all_of_a_user_spares_other_users,
                revoke_all_of_a_client_spares_other_clients,
                a_login_read_before_its_users_logins_ended_is_not_issued,
                replacing_a_hash_needs_the_expected_one,
                concurrent_hash_replacements_have_one_winner,
                clients_are_updated_in_place_and_never_created,
                clients_and_users_are_listed_in_order_across_pages,
                an_empty_key_set_reads_as_version_zero,
                a_saved_key_set_reads_back_and_is_not_listed,
                a_stale_key_set_save_conflicts_and_changes_nothing,
                concurrent_key_set_saves_have_one_winner,
                a_jti_is_recorded_once_until_it_expires,
                concurrent_first_uses_have_one_winner,
                dpop_bound_tokens_read_back_with_their_key,
                a_revoked_signing_key_is_gone_from_the_next_reload,
                a_client_and_a_user_never_share_a_name,
            );
        }
    };
    (@cases $first:block $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $first
                super::$case(Arc::new($make.await)).await;
            }
        )*
    };
}

conformance_suite!(memory, async { token_endpoint::store::MemoryStore::new() });
// Two items a scan page, so that listings span many pages (each following the previous
// page's LastEvaluatedKey) without writing megabytes.
conformance_suite!(dynamodb, async { support::dynamo_store().await.with_scan_page_items(2) }, first {
    support::require!(Moto);
});

// The same through a proxy that refuses transactions and TTL, as a multi-Region strongly
// consistent global table does: every case runs as it would on one.
conformance_suite!(dynamodb_mrsc, async { support::mrsc_dynamo_store().await.with_scan_page_items(2) }, first {
    support::require!(Moto);
});

fn scope(text: &str) -> Scope {
    Scope::parse(text).unwrap_or_else(|_| panic!("bad scope {text:?}"))
}

/// The credential version of [`client`]s, which the logins of the tests record.
const CLIENT_VERSION: u64 = NOW - 86_400;

fn client(client_id: &str) -> Client {
    Client {
        client_id: support::client_id_of(client_id),
        name: format!("{client_id} app"),
        secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        scope: scope("read write"),
        grant_types: vec![GrantType::Password, GrantType::RefreshToken],
        access_tokens: Default::default(),
        created_at: NOW - 86_400,
        jwks: None,
        credential_version: CLIENT_VERSION,
    }
}

fn user(username: &str) -> User {
    User {
        username: support::username_of(username),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$cGFzc3dvcmQ".into(),
        created_at: NOW - 86_400,
    }
}

fn fresh_hash() -> TokenHash {
    TokenHash::of(&new_token().unwrap())
}

/// The key of a token no store holds.
fn unknown_key() -> TokenKey<'static> {
    TokenKey::alone(fresh_hash())
}

/// Where a stored token is found: in its family.
trait Keyed {
    fn key(&self) -> TokenKey<'_>;
}

impl Keyed for AccessTokenRecord {
    fn key(&self) -> TokenKey<'_> {
        TokenKey::in_family(&self.family_id, self.token_hash.clone())
    }
}

impl Keyed for RefreshTokenRecord {
    fn key(&self) -> TokenKey<'_> {
        TokenKey::in_family(&self.family_id, self.token_hash.clone())
    }
}

fn fresh_family_id() -> String {
    random_alphanumeric(12).unwrap()
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
        client_id: support::client_id_of(client_id),
        username: Some(support::username_of(username)),
        scope: scope("read"),
        family_id: family_id.clone(),
        issued_at,
        expires_at: issued_at + 3600,
        jkt: None,
        audience: None,
    };
    let refresh = RefreshTokenRecord {
        token_hash: fresh_hash(),
        client_id: support::client_id_of(client_id),
        username: support::username_of(username),
        scope: scope("read write"),
        access_token_hash: access.token_hash.clone(),
        family_id,
        family_secret: Some(FamilySecret::generate().unwrap()),
        issued_at,
        expires_at: refresh_expires_at,
        jkt: None,
        client_version: Some(CLIENT_VERSION),
    };
    TokenPair { access, refresh }
}

/// A client's own access token (client credentials grant), issued at `issued_at` for an hour.
fn client_token_at(client_id: &str, issued_at: UnixSeconds) -> AccessTokenRecord {
    AccessTokenRecord {
        token_hash: fresh_hash(),
        client_id: support::client_id_of(client_id),
        username: None,
        scope: scope("write"),
        family_id: fresh_family_id(),
        issued_at,
        expires_at: issued_at + 3600,
        jkt: None,
        audience: None,
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
    next.refresh.family_secret = previous.refresh.family_secret.clone();
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
    FamilyOwner::User(support::username_of(username))
}

fn client_owner(client_id: &str) -> FamilyOwner {
    FamilyOwner::Client(support::client_id_of(client_id))
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

/// What `token_context` finds for `token`, presented by client "app". A value its family no
/// longer holds is no token ([`StoredToken::Superseded`] says only what the family is).
async fn stored_token<S: Store>(
    store: &S,
    token: &TokenKey<'_>,
    now: UnixSeconds,
) -> Option<StoredToken> {
    ok(store
        .token_context(&support::client_id_of("app"), token, now)
        .await)
    .token
    .filter(|token| !matches!(token, StoredToken::Superseded(_)))
}

/// The next pair of `previous`'s family, as a rotation would issue it.
fn successor(previous: &TokenPair) -> TokenPair {
    successor_at(previous, NOW, previous.refresh.expires_at)
}

fn ok<T>(result: Result<T, StoreError>) -> T {
    result.expect("store call failed")
}

/// A store with `client` "app", user "alice" and one issued pair.
async fn with_issued_pair<S: Store>(
    store: &S,
    refresh_expires_at: Option<UnixSeconds>,
) -> TokenPair {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    let issued = pair("app", "alice", refresh_expires_at);
    ok(store.issue_token_pair(&issued, None).await);
    issued
}

/// The refresh token as the refresh grant would read it, if it is still live.
async fn refresh_token_of<S: Store>(
    store: &S,
    token: &TokenKey<'_>,
    now: UnixSeconds,
) -> Option<RefreshTokenRecord> {
    match ok(store
        .token_context(&support::client_id_of("app"), token, now)
        .await)
    .token
    {
        Some(StoredToken::Refresh(live)) => Some(live),
        _ => None,
    }
}

/// The used-token record the refresh grant would read, if any.
async fn used_record_of<S: Store>(
    store: &S,
    token: &TokenKey<'_>,
    now: UnixSeconds,
) -> Option<UsedRefreshToken> {
    match ok(store
        .token_context(&support::client_id_of("app"), token, now)
        .await)
    .token
    {
        Some(StoredToken::UsedRefresh(used)) => Some(used),
        _ => None,
    }
}
