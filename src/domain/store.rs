//! The storage port: everything the grants and the provisioning use cases need from a database.
//!
//! Two adapters in `crate::store` implement [`Store`] with the same semantics, checked by one
//! conformance suite: DynamoDB for production and an in-memory store for local runs and fast
//! tests.
//!
//! Each grant reads what it needs in one call and writes in one atomic call, so a grant costs
//! two sequential round trips to DynamoDB.

use std::future::Future;

use super::clock::UnixSeconds;
use super::model::{
    AccessTokenRecord, Client, FamilyOwner, LoginFailures, RefreshTokenRecord, StoredToken,
    TokenFamily, TokenPair, UsedRefreshToken, User,
};
use super::token::TokenHash;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database did not answer, throttled, or timed out. Retrying later may succeed.
    #[error("the store is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored item could not be read back as a record.
    #[error("a stored item is malformed: {0}")]
    Malformed(String),
    /// `create_*` found the key taken.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// An update or delete found no such item.
    #[error("{0} does not exist")]
    NotFound(String),
    /// A new token or token family was not stored because its key (a token's hash or a
    /// family's id) is already taken; nothing was written. Both are long random strings, so
    /// this means a broken random source, never bad luck or a client's mistake.
    #[error("key collision: {0}")]
    KeyCollision(String),
}

/// What the password grant reads, in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordGrantContext {
    pub client: Option<Client>,
    pub user: Option<User>,
    /// Recent failures for the username (zero when none are remembered).
    pub failures: LoginFailures,
}

/// What the refresh grant, revocation and introspection read, in one round trip: the client
/// and the token it presents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenContext {
    pub client: Option<Client>,
    /// `None` if unknown or expired at the `now` given to the read; a used refresh token reads
    /// as [`StoredToken::UsedRefresh`] while its record is kept.
    pub token: Option<StoredToken>,
}

/// Outcome of [`Store::rotate_refresh_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The old refresh token is marked used, its access token is gone, and the new pair is
    /// stored.
    Rotated,
    /// Nothing changed: the token was used by someone else first, expired, belongs to another
    /// client, or its user no longer exists.
    Refused,
}

/// Outcome of [`Store::replace_client_secret_hash`] and [`Store::replace_user_password_hash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashReplacement {
    Replaced,
    /// Nothing changed: the record is gone or holds another hash than the one expected (a
    /// concurrent replacement won, or an operator set a new secret meanwhile).
    Stale,
}

/// The storage port. Futures are `Send` so the router can run on a multi-threaded runtime.
pub trait Store: Send + Sync + 'static {
    /// Reads a client, a user and the username's recent failures together. Failures whose
    /// record expired at `now` read as none.
    fn password_grant_context(
        &self,
        client_id: &str,
        username: &str,
        now: UnixSeconds,
    ) -> impl Future<Output = Result<PasswordGrantContext, StoreError>> + Send;

    /// Counts one more password failure for `username` (atomically, so concurrent failures all
    /// count; a record expired at `now` starts again from zero), sets its lock, and keeps the
    /// record until `expires_at`.
    fn record_login_failure(
        &self,
        username: &str,
        now: UnixSeconds,
        locked_until: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reads a client.
    fn client(
        &self,
        client_id: &str,
    ) -> impl Future<Output = Result<Option<Client>, StoreError>> + Send;

    /// Reads a client and a token of any kind together. Expired tokens and expired used-token
    /// records read as absent.
    fn token_context(
        &self,
        client_id: &str,
        token: &TokenHash,
        now: UnixSeconds,
    ) -> impl Future<Output = Result<TokenContext, StoreError>> + Send;

    /// Stores a new token pair, which starts a new family: both tokens or neither. With
    /// `clear_login_failures`, the user's failure record is removed in the same write.
    fn issue_token_pair(
        &self,
        pair: &TokenPair,
        clear_login_failures: bool,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores an access token without a refresh token (client credentials grant); it starts
    /// a family of its own, which ends when the token expires.
    fn issue_access_token(
        &self,
        access: &AccessTokenRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Atomically uses `used`: replaces it with a used-token record kept until
    /// `used_record_expires_at`, deletes its access token and stores `replacement` in the same
    /// family, provided that `used` is still a live refresh token of `used.client_id` at `now`
    /// and its user still exists. Among concurrent calls with the same token exactly one
    /// rotates. On any failure nothing changes, so the old refresh token still works.
    fn rotate_refresh_token(
        &self,
        used: &RefreshTokenRecord,
        replacement: &TokenPair,
        now: UnixSeconds,
        used_record_expires_at: UnixSeconds,
    ) -> impl Future<Output = Result<Rotation, StoreError>> + Send;

    /// Replaces the pair issued when `used` was used (its answer was lost, so the client never
    /// received it) with `replacement`, once: provided the used-token record is unchanged and
    /// not re-issued before, the successor refresh token is still unused, and the user still
    /// exists. Atomically; on refusal nothing changes.
    fn reissue_successor(
        &self,
        used: &UsedRefreshToken,
        replacement: &TokenPair,
        now: UnixSeconds,
    ) -> impl Future<Output = Result<Rotation, StoreError>> + Send;

    /// Revokes every live token of a family: its current refresh token and access token.
    /// Returns how many tokens the family named (an access token past its expiry but not yet
    /// deleted by TTL counts too); revoking an unknown or revoked family returns 0.
    fn revoke_family(
        &self,
        family_id: &str,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// The families of a user or a client that are not revoked or expired at `now`, oldest
    /// first. The DynamoDB adapter reads an index, which may lag writes by a moment.
    fn token_families(
        &self,
        owner: &FamilyOwner,
        now: UnixSeconds,
    ) -> impl Future<Output = Result<Vec<TokenFamily>, StoreError>> + Send;

    /// Looks up an access token. Expired tokens read as absent, even if not yet deleted.
    fn access_token(
        &self,
        token: &TokenHash,
        now: UnixSeconds,
    ) -> impl Future<Output = Result<Option<AccessTokenRecord>, StoreError>> + Send;

    // Provisioning, used by `oauth-admin` and to seed the local server.

    /// Adds a client; [`StoreError::AlreadyExists`] if the id is taken.
    fn create_client(&self, client: &Client)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Adds a user; [`StoreError::AlreadyExists`] if the username is taken.
    fn create_user(&self, user: &User) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces a client's secret hash; [`StoreError::NotFound`] if there is no such client.
    fn set_client_secret_hash(
        &self,
        client_id: &str,
        secret_hash: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces a user's password hash; [`StoreError::NotFound`] if there is no such user.
    fn set_user_password_hash(
        &self,
        username: &str,
        password_hash: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    // Upgrading imported Django hashes, used by the grants.

    /// Replaces a client's secret hash with `new_hash`, atomically, only if it is still
    /// `expected`; it never creates a client.
    fn replace_client_secret_hash(
        &self,
        client_id: &str,
        expected: &str,
        new_hash: &str,
    ) -> impl Future<Output = Result<HashReplacement, StoreError>> + Send;

    /// Replaces a user's password hash with `new_hash`, atomically, only if it is still
    /// `expected`; it never creates a user.
    fn replace_user_password_hash(
        &self,
        username: &str,
        expected: &str,
        new_hash: &str,
    ) -> impl Future<Output = Result<HashReplacement, StoreError>> + Send;

    /// Removes a client; [`StoreError::NotFound`] if there is no such client.
    fn delete_client(&self, client_id: &str)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes a user; [`StoreError::NotFound`] if there is no such user. Their refresh tokens
    /// stop working, because rotation requires the user to exist.
    fn delete_user(&self, username: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}
