//! The storage ports: what the grants, the bearer check and the provisioning use cases need
//! from a database, one trait per use, so that each flow asks only for what it uses:
//! - [`GrantStore`]: the grants' reads and writes (clients, token contexts, issuing, rotation,
//!   family revocation, hash upgrades);
//! - [`LoginAttemptStore`]: the password grant's attempt counting;
//! - [`AccessTokenStore`]: the one read a bearer check makes;
//! - [`AdminStore`]: provisioning for `oauth-admin` and the seeded local server;
//! - [`ReplayStore`]: the `jti`s of DPoP proofs and client assertions, each accepted once;
//! - the signing keys' own port, [`crate::domain::signing::KeySetStore`].
//!
//! Two adapters in `crate::store` implement them all with the same semantics, checked by one
//! conformance suite: DynamoDB for production and an in-memory store for local runs and fast
//! tests. [`Store`] names all four, for the wiring that serves every flow.
//!
//! Each grant reads what it needs in one call and writes in one atomic call, so a grant costs
//! two sequential round trips to DynamoDB. A login (a token family) is one record: its current
//! tokens, the refresh token used last and its secret live in it, and tokens name their family
//! ([`TokenKey`]), so every write of a token path is a single-item write, with no transaction.

use std::future::Future;

use super::clock::UnixSeconds;
use super::jose::{ClientJwks, ReplayKey};
use super::login_throttle::{Admission, AttemptKeys, AttemptRequest, Settlement};
use super::model::{
    AccessTokenRecord, Client, DpopPolicy, FamilyOwner, GrantType, RefreshTokenRecord, StoredToken,
    TokenFamily, TokenFormat, TokenPair, User,
};
use super::names::{ClientId, Username};
use super::scope::Scope;
use super::token::TokenKey;

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
    /// The database refused the request as invalid: a fault of this service, not of the
    /// database, and retrying will not help.
    #[error("the store refused the request as invalid: {0}")]
    Invalid(String),
}

/// What [`StoreError::AlreadyExists`] names when a new client's id is a username.
pub fn namesake_user(name: &str) -> String {
    format!("user {name} (a client id may not be a username: a token's sub names either)")
}

/// What [`StoreError::AlreadyExists`] names when a new username is a client id.
pub fn namesake_client(name: &str) -> String {
    format!("client {name} (a username may not be a client id: a token's sub names either)")
}

/// What the password grant reads, in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordGrantContext {
    pub client: Option<Client>,
    pub user: Option<User>,
    /// The user's credential version as read, which the login's pair is issued under.
    pub credential: CredentialVersion,
}

/// A user's credential version as a login read it: a pair is issued only while it is still
/// the user's ([`GrantStore::issue_login`]); ending a user's logins moves it on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialVersion {
    pub version: u64,
    /// Logins registered on the user, with the second each started: the next login's
    /// registration drops those old enough for the families index to list them.
    pub registered_logins: Vec<(String, UnixSeconds)>,
}

/// Outcome of [`GrantStore::issue_login`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginIssue {
    Issued,
    /// Nothing usable was issued: the user's credentials changed (or the user was deleted, or
    /// their logins ended) since the login read them.
    CredentialChanged,
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

/// Outcome of [`GrantStore::rotate_refresh_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The old refresh token is marked used, its access token is gone, and the new pair is
    /// stored.
    Rotated,
    /// Nothing changed: the token was used by someone else first, expired, belongs to another
    /// client, or its user no longer exists.
    Refused,
}

/// Outcome of [`GrantStore::replace_client_secret_hash`] and [`GrantStore::replace_user_password_hash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashReplacement {
    Replaced,
    /// Nothing changed: the record is gone or holds another hash than the one expected (a
    /// concurrent replacement won, or an operator set a new secret meanwhile).
    Stale,
}

/// What [`AdminStore::update_client`] changes: each field given replaces the stored one, `None`
/// keeps it. A client's id and secret hash are not among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub scope: Option<Scope>,
    pub grant_types: Option<Vec<GrantType>>,
    pub token_format: Option<TokenFormat>,
    /// `Some(None)`: back to the server's lifetime.
    pub access_token_lifetime: Option<Option<u64>>,
    pub dpop: Option<DpopPolicy>,
    /// The keys of private_key_jwt; `Some(None)`: none any more.
    pub jwks: Option<Option<ClientJwks>>,
}

impl ClientChanges {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.scope.is_none()
            && self.grant_types.is_none()
            && self.token_format.is_none()
            && self.access_token_lifetime.is_none()
            && self.dpop.is_none()
            && self.jwks.is_none()
    }

    /// Makes these changes to `client`, as the store does.
    pub fn apply_to(&self, client: &mut Client) {
        if let Some(name) = &self.name {
            client.name.clone_from(name);
        }
        if let Some(scope) = &self.scope {
            client.scope.clone_from(scope);
        }
        if let Some(grant_types) = &self.grant_types {
            client.grant_types.clone_from(grant_types);
        }
        if let Some(format) = self.token_format {
            client.access_tokens.format = format;
        }
        if let Some(lifetime) = self.access_token_lifetime {
            client.access_tokens.lifetime = lifetime;
        }
        if let Some(dpop) = self.dpop {
            client.access_tokens.dpop = dpop;
        }
        if let Some(jwks) = &self.jwks {
            client.jwks.clone_from(jwks);
        }
    }
}

/// What the grants read and write. Futures are `Send` so the router can run on a
/// multi-threaded runtime. Client authentication records private_key_jwt assertions as used,
/// so it is a [`ReplayStore`] too.
pub trait GrantStore: ReplayStore + Send + Sync + 'static {
    /// Reads a client.
    fn client(
        &self,
        client_id: &ClientId,
    ) -> impl Future<Output = Result<Option<Client>, StoreError>> + Send;

    /// Reads a client and a user together.
    fn password_grant_context(
        &self,
        client_id: &ClientId,
        username: &Username,
    ) -> impl Future<Output = Result<PasswordGrantContext, StoreError>> + Send;

    /// Reads a client and a token of any kind together. Expired tokens and expired used-token
    /// records read as absent.
    fn token_context(
        &self,
        client_id: &ClientId,
        token: &TokenKey<'_>,
        now: UnixSeconds,
    ) -> impl Future<Output = Result<TokenContext, StoreError>> + Send;

    /// Stores a new token pair, which starts a new family: both tokens or neither. With
    /// `login`, the successful password attempt that earned it is settled beside it, in the
    /// same round trip (see [`LoginAttemptStore::settle_login_attempt`]); a failure to settle
    /// is logged, not returned, as the attempt's count then ends with its hold.
    fn issue_token_pair(
        &self,
        pair: &TokenPair,
        login: Option<&Settlement>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a login's pair, as [`GrantStore::issue_token_pair`], provided the user's
    /// credential version is still `credential.version`; the DynamoDB adapter registers the
    /// family on the user's record in the same round trip, so that ending the user's logins
    /// finds it even before it is written. A login whose version moved on is answered
    /// [`LoginIssue::CredentialChanged`], and no token of it works.
    fn issue_login(
        &self,
        pair: &TokenPair,
        login: Option<&Settlement>,
        credential: &CredentialVersion,
    ) -> impl Future<Output = Result<LoginIssue, StoreError>> + Send;

    /// Stores an access token without a refresh token (client credentials grant); it starts
    /// a family of its own, which ends when the token expires. The family records
    /// `client_version`, the client's credential version the grant read, as a pair's family
    /// records its refresh token's [`RefreshTokenRecord::client_version`].
    fn issue_access_token(
        &self,
        access: &AccessTokenRecord,
        client_version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Atomically uses `used`: replaces it with a used-token record kept until
    /// `used_record_expires_at`, deletes its access token and stores `replacement` in the same
    /// family, provided that `used` is still the live refresh token of its family, of
    /// `used.client_id`, at `now` (a deleted user's families are revoked with the user). Among
    /// concurrent calls with the same token exactly one rotates. On any failure nothing
    /// changes, so the old refresh token still works. After an error the outcome is unknown:
    /// [`GrantStore::read_tokens`] tells.
    fn rotate_refresh_token(
        &self,
        used: &RefreshTokenRecord,
        replacement: &TokenPair,
        now: UnixSeconds,
        used_record_expires_at: UnixSeconds,
    ) -> impl Future<Output = Result<Rotation, StoreError>> + Send;

    /// Reads tokens of any kind by hash, with strongly consistent reads, in the order given;
    /// expired tokens and expired used-token records read as `None`.
    fn read_tokens(
        &self,
        tokens: &[&TokenKey<'_>],
        now: UnixSeconds,
    ) -> impl Future<Output = Result<Vec<Option<StoredToken>>, StoreError>> + Send;

    /// Revokes every live token of a family: its current refresh token and access token.
    /// Returns how many tokens the family named (an access token past its expiry but not yet
    /// deleted by TTL counts too); revoking an unknown or revoked family returns 0.
    fn revoke_family(
        &self,
        family_id: &str,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Replaces a client's secret hash with `new_hash`, atomically, only if it is still
    /// `expected`; it never creates a client.
    fn replace_client_secret_hash(
        &self,
        client_id: &ClientId,
        expected: &str,
        new_hash: &str,
    ) -> impl Future<Output = Result<HashReplacement, StoreError>> + Send;

    /// Replaces a user's password hash with `new_hash`, atomically, only if it is still
    /// `expected`; it never creates a user.
    fn replace_user_password_hash(
        &self,
        username: &Username,
        expected: &str,
        new_hash: &str,
    ) -> impl Future<Output = Result<HashReplacement, StoreError>> + Send;
}

/// The password grant's attempt counting (see [`crate::domain::login_throttle`]), one record
/// per username with the rules of [`crate::domain::login_record`].
pub trait LoginAttemptStore: Send + Sync + 'static {
    /// Takes one password attempt, atomically, before its password is checked, against the
    /// source's count and the username's together. When attempts in flight hold every slot it
    /// waits for their outcome (no polling on the memory store, jittered backoff on DynamoDB),
    /// for at most `attempt.max_wait`, and then answers [`Admission::Busy`]. Among concurrent
    /// calls exactly as many are admitted as the rules allow one at a time.
    fn take_login_attempt(
        &self,
        attempt: &AttemptRequest,
    ) -> impl Future<Output = Result<Admission, StoreError>> + Send;

    /// Records how an admitted attempt ended, and lets waiting attempts look again. Returns the
    /// username's consecutive failures after it.
    fn settle_login_attempt(
        &self,
        settlement: &Settlement,
    ) -> impl Future<Output = Result<u32, StoreError>> + Send;

    /// Notes an attempt refused by a lock: the write keeps refused answers as slow as checked
    /// ones. Nothing to note (no record) is not an error.
    fn note_refused_login_attempt(
        &self,
        keys: &AttemptKeys,
        now: UnixSeconds,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The bearer check's one read, all a Lambda authorizer needs.
pub trait AccessTokenStore: Send + Sync + 'static {
    /// Looks up an access token. Expired tokens read as absent, even if not yet deleted.
    fn access_token(
        &self,
        token: &TokenKey<'_>,
        now: UnixSeconds,
    ) -> impl Future<Output = Result<Option<AccessTokenRecord>, StoreError>> + Send;
}

/// Remembers once-only JWTs (DPoP proofs, client assertions) for as long as they could be
/// accepted, so that each is accepted once.
pub trait ReplayStore: Send + Sync + 'static {
    /// Records `key` as used until `expires_at`, in one conditional write: `true` the first
    /// time, `false` while a record of it is live at `now`. Among concurrent calls with one key
    /// exactly one gets `true`. A record past its `expires_at` counts as absent and is
    /// overwritten, so the answer never waits for TTL deletion.
    fn record_once(
        &self,
        key: &ReplayKey,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Provisioning, used by `oauth-admin` and to seed the local server.
pub trait AdminStore: Send + Sync + 'static {
    /// Reads a user.
    fn user(
        &self,
        username: &Username,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// Adds a client; [`StoreError::AlreadyExists`] if the id is taken, by a client or as a
    /// username ([`namesake_user`]): a JWT's `sub` is the username, or the client id for a
    /// client's own token, and must name one of them only (RFC 9068 §5).
    fn create_client(&self, client: &Client)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Adds a user; [`StoreError::AlreadyExists`] if the username is taken, by a user or as a
    /// client id ([`namesake_client`]), atomically with the write.
    fn create_user(&self, user: &User) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces a client's secret hash; [`StoreError::NotFound`] if there is no such client.
    fn set_client_secret_hash(
        &self,
        client_id: &ClientId,
        secret_hash: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces a user's password hash; [`StoreError::NotFound`] if there is no such user.
    fn set_user_password_hash(
        &self,
        username: &Username,
        password_hash: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Changes a client's name, scope or grant types in one atomic write and returns the
    /// client as stored afterwards. Only the attributes given are written, so a concurrent
    /// secret change (a rotation, a hash upgrade) is kept. [`StoreError::NotFound`] if there
    /// is no such client: the write is conditional on the client existing and never creates
    /// one. With no changes, the client is only read.
    fn update_client(
        &self,
        client_id: &ClientId,
        changes: &ClientChanges,
    ) -> impl Future<Output = Result<Client, StoreError>> + Send;

    /// Every client, ordered by client id, read consistently (one created a moment ago is
    /// listed). The DynamoDB adapter scans the whole credentials table, page after page: this
    /// is for operators, never for a request.
    fn list_clients(&self) -> impl Future<Output = Result<Vec<Client>, StoreError>> + Send;

    /// Every user, ordered by username, read as [`AdminStore::list_clients`] reads clients.
    fn list_users(&self) -> impl Future<Output = Result<Vec<User>, StoreError>> + Send;

    /// Removes a client; [`StoreError::NotFound`] if there is no such client.
    fn delete_client(
        &self,
        client_id: &ClientId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes a user and revokes their token families; [`StoreError::NotFound`] if there is no
    /// such user. The DynamoDB adapter finds the families by an index, which may lag a login
    /// of the last moment.
    fn delete_user(
        &self,
        username: &Username,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Moves the credential version of a user or a client on, and returns the logins
    /// registered on a user (some may not be written yet); none if there is no such user or
    /// client. No login that read a user's old version is issued any more; no refresh of a
    /// login issued under a client's old version is ([`crate::domain::Client::
    /// still_issues_under`]). Logins are not registered on a client, which every login of
    /// every user would write: the families index finds them.
    fn end_logins(
        &self,
        owner: &FamilyOwner,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Revokes a family whether or not it is written yet: one written later with this id is
    /// refused. Returns how many tokens it named.
    fn bar_family(&self, family_id: &str)
    -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// The families of a user or a client that are not revoked or expired at `now`, oldest
    /// first. The DynamoDB adapter reads an index, which may lag writes by a moment.
    fn token_families(
        &self,
        owner: &FamilyOwner,
        now: UnixSeconds,
    ) -> impl Future<Output = Result<Vec<TokenFamily>, StoreError>> + Send;
}

/// Every port a store adapter serves, for the wiring (router, entry points) that serves every
/// flow. Implemented for anything that implements them all.
pub trait Store:
    GrantStore + LoginAttemptStore + AccessTokenStore + AdminStore + ReplayStore
{
}

impl<T: GrantStore + LoginAttemptStore + AccessTokenStore + AdminStore + ReplayStore> Store for T {}

/// Every port trait of this module in scope at once, for code that calls an adapter's methods
/// directly (tests, seeding): `use crate::domain::store::prelude::*;`.
pub mod prelude {
    pub use crate::domain::store::{
        AccessTokenStore as _, AdminStore as _, GrantStore as _, LoginAttemptStore as _,
        ReplayStore as _,
    };
}
