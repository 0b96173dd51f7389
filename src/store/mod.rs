//! The storage port: everything the grants and the provisioning CLI need from a database.
//!
//! Two adapters implement [`Store`] with the same semantics, checked by one conformance suite
//! (`tests/store_conformance.rs`): [`dynamodb::DynamoStore`] for production and
//! [`memory::MemoryStore`] for local runs and fast tests.
//!
//! Each grant reads what it needs in one call and writes in one atomic call, so a grant costs
//! two sequential round trips to DynamoDB.

use std::future::Future;

use crate::domain::clock::UnixSeconds;
use crate::domain::model::{AccessTokenRecord, Client, RefreshTokenRecord, TokenPair, User};
use crate::domain::token::TokenHash;

pub mod dynamodb;
pub mod memory;

pub use dynamodb::DynamoStore;
pub use memory::MemoryStore;

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
}

/// What the password grant reads, in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordGrantContext {
    pub client: Option<Client>,
    pub user: Option<User>,
}

/// What the refresh grant reads, in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshGrantContext {
    pub client: Option<Client>,
    /// `None` if unknown, already used, or expired at the `now` given to the read.
    pub refresh_token: Option<RefreshTokenRecord>,
}

/// Outcome of [`Store::rotate_refresh_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The old refresh token and its access token are gone and the new pair is stored.
    Rotated,
    /// Nothing changed: the token was used by someone else first, expired, belongs to another
    /// client, or its user no longer exists.
    Refused,
}

/// The storage port. Futures are `Send` so the router can run on a multi-threaded runtime.
pub trait Store: Send + Sync + 'static {
    /// Reads a client and a user together.
    fn password_grant_context(
        &self,
        client_id: &str,
        username: &str,
    ) -> impl Future<Output = Result<PasswordGrantContext, StoreError>> + Send;

    /// Reads a client and a refresh token together. Expired tokens read as absent.
    fn refresh_grant_context(
        &self,
        client_id: &str,
        refresh_token: &TokenHash,
        now: UnixSeconds,
    ) -> impl Future<Output = Result<RefreshGrantContext, StoreError>> + Send;

    /// Stores a new token pair: both tokens or neither.
    fn issue_token_pair(
        &self,
        pair: &TokenPair,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Atomically uses `used`: deletes it and its access token and stores `replacement`,
    /// provided that `used` still exists, belongs to `used.client_id`, is live at `now`, and
    /// its user still exists. Among concurrent calls with the same token exactly one rotates.
    /// On any failure nothing changes, so the old refresh token still works.
    fn rotate_refresh_token(
        &self,
        used: &RefreshTokenRecord,
        replacement: &TokenPair,
        now: UnixSeconds,
    ) -> impl Future<Output = Result<Rotation, StoreError>> + Send;

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

    /// Removes a client; [`StoreError::NotFound`] if there is no such client.
    fn delete_client(&self, client_id: &str)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes a user; [`StoreError::NotFound`] if there is no such user. Their refresh tokens
    /// stop working, because rotation requires the user to exist.
    fn delete_user(&self, username: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}
