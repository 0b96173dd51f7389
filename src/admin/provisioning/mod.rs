//! [`Admin`]: the provisioning use cases, over any adapter of the [`Store`] port.
//!
//! Names, scopes and grant types arrive checked (`crate::domain::names`, [`Scope::parse`]):
//! the caller checks them before anything reaches the store, and says what was wrong in its
//! own terms. New secrets and passwords are hashed here with Argon2id. The JWT signing key use
//! cases are in `signing_keys.rs`.

mod admin;
mod error;
mod signing_keys;

pub use admin::{Admin, GRANTS_IN_FLIGHT_WAIT};
pub use error::{AdminError, Change};
pub use signing_keys::{
    EnsuredSigningKey, KEY_SET_SAVE_ATTEMPTS, KeySetDetails, KeyState, RevokedSigningKey,
    RotatedSigningKey, SigningKeyDetails,
};

use super::import::{self, ImportOptions, ImportReport};
use crate::domain::AccessTokenPolicy;
use crate::domain::clock::{Clock as _, SystemClock};
use crate::domain::credentials::django::django_hasher;
use crate::domain::credentials::{Argon2Settings, CredentialVerifier};
use crate::domain::jose::ClientJwks;
use crate::domain::lifecycle::{Revoked, revoke_all, revoke_listed};
use crate::domain::model::ClientAuthMethod;
use crate::domain::names::{ClientId, Username};
use crate::domain::store::{ClientChanges, Store, StoreError};
use crate::domain::token::{RandomnessUnavailable, random_alphanumeric};
use crate::domain::{Client, FamilyOwner, GrantType, Scope, Secret, TokenFamily, User};

/// Length of a generated client id.
pub const CLIENT_ID_LENGTH: usize = 20;
/// Length of a generated client secret.
pub const CLIENT_SECRET_LENGTH: usize = 40;

/// What `--revoke-tokens` did after a password or secret was replaced. The replacement
/// stands in every case.
#[derive(Debug)]
pub enum Revocation {
    /// Not asked for: logins made before go on.
    NotAsked,
    Done(Revoked),
    /// [`AdminError::NotRevoked`]: the tokens issued before still work.
    Failed(AdminError),
}

impl Revocation {
    pub fn revoked(&self) -> Option<Revoked> {
        match self {
            Self::Done(revoked) => Some(*revoked),
            Self::NotAsked | Self::Failed(_) => None,
        }
    }

    /// The failure to report once the result is shown (a new secret must be shown even if
    /// revoking failed: it is shown nowhere else).
    pub fn finish(self) -> Result<(), AdminError> {
        match self {
            Self::Failed(error) => Err(error),
            Self::NotAsked | Self::Done(_) => Ok(()),
        }
    }
}

/// A client as an operator sees it: never its secret or secret hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientDetails {
    pub client_id: ClientId,
    pub name: String,
    pub scope: Scope,
    pub grant_types: Vec<GrantType>,
    pub access_tokens: AccessTokenPolicy,
    /// The secret hash is one imported from django-oauth-toolkit, replaced with Argon2id at
    /// the client's first successful authentication.
    pub django_hash_pending_upgrade: bool,
    /// How it may authenticate: `client_secret_basic`, `private_key_jwt`, or both while it
    /// moves from one to the other.
    pub auth_methods: Vec<&'static str>,
}

impl From<Client> for ClientDetails {
    fn from(client: Client) -> Self {
        let secret = client.has_secret().then_some("client_secret_basic");
        let keys = client.jwks.is_some().then_some("private_key_jwt");
        Self {
            auth_methods: secret.into_iter().chain(keys).collect(),
            django_hash_pending_upgrade: django_hasher(&client.secret_hash).is_some(),
            client_id: client.client_id,
            name: client.name,
            scope: client.scope,
            grant_types: client.grant_types,
            access_tokens: client.access_tokens,
        }
    }
}

/// A user as an operator sees them: never their password or password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDetails {
    pub username: Username,
    /// The password hash is one imported from Django, replaced with Argon2id at the user's
    /// first successful login.
    pub django_hash_pending_upgrade: bool,
}

impl From<User> for UserDetails {
    fn from(user: User) -> Self {
        Self {
            django_hash_pending_upgrade: django_hasher(&user.password_hash).is_some(),
            username: user.username,
        }
    }
}

/// A client to register.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// `None`: generate one.
    pub client_id: Option<ClientId>,
    pub name: String,
    pub scope: Scope,
    pub grant_types: Vec<GrantType>,
    pub access_tokens: AccessTokenPolicy,
    /// The client's existing secret, so a client moving over keeps its credentials. `None`:
    /// generate one, unless it has keys.
    pub secret: Option<Secret>,
    /// The keys of a private_key_jwt client, which gets no secret.
    pub jwks: Option<ClientJwks>,
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct CreatedClient {
    pub client: Client,
    /// The secret generated for it, to hand over once: only its hash is stored. `None` when
    /// the secret was given, as the operator has it already.
    pub generated_secret: Option<Secret>,
}

impl<S: Store> Admin<S> {
    pub fn new(store: S, argon2: Argon2Settings) -> Self {
        Self {
            store,
            argon2,
            grants_in_flight_wait: GRANTS_IN_FLIGHT_WAIT,
        }
    }

    /// Registers a client; [`StoreError::AlreadyExists`] if its id is taken.
    pub async fn create_client(&self, new: NewClient) -> Result<CreatedClient, AdminError> {
        let verifier = self.verifier()?;
        let client_id = match new.client_id {
            Some(client_id) => client_id,
            None => ClientId::random(CLIENT_ID_LENGTH)?,
        };
        let (secret, generated) = match (new.secret, &new.jwks) {
            (Some(secret), _) => (Some(secret), false),
            (None, None) => (Some(generate_secret()?), true),
            (None, Some(_)) => (None, false),
        };
        let secret_hash = match &secret {
            Some(secret) => verifier.hash(secret)?,
            None => String::new(),
        };
        let created_at = SystemClock.now();
        let client = Client {
            client_id,
            name: new.name,
            secret_hash,
            scope: new.scope,
            grant_types: new.grant_types,
            access_tokens: new.access_tokens,
            created_at,
            jwks: new.jwks,
            credential_version: created_at,
        };
        self.store.create_client(&client).await?;
        Ok(CreatedClient {
            client,
            generated_secret: secret.filter(|_| generated),
        })
    }

    /// Replaces a client's secret with a generated one and returns it; the old one stops
    /// working. [`StoreError::NotFound`] if there is no such client. With `revoke_tokens`,
    /// then ends every login of the client, those in flight included: after the replacement,
    /// so that the old secret cannot start a login that the revocation misses (see
    /// [`Admin::end_client_logins`]).
    pub async fn rotate_client_secret(
        &self,
        client_id: &ClientId,
        revoke_tokens: bool,
    ) -> Result<(Secret, Revocation), AdminError> {
        let secret = generate_secret()?;
        let secret_hash = self.verifier()?.hash(&secret)?;
        self.store
            .set_client_secret_hash(client_id, &secret_hash)
            .await?;
        let owner = FamilyOwner::Client(client_id.clone());
        let revocation = self
            .revoke_if(revoke_tokens, Change::SecretReplaced, owner)
            .await;
        Ok((secret, revocation))
    }

    /// Changes a client's name, scope or grant types and returns it as stored; its secret
    /// stays. [`StoreError::NotFound`] if there is no such client.
    pub async fn update_client(
        &self,
        client_id: &ClientId,
        changes: &ClientChanges,
    ) -> Result<ClientDetails, AdminError> {
        Ok(self.store.update_client(client_id, changes).await?.into())
    }

    /// Ends a move between a secret and keys: `PrivateKeyJwt` removes the secret of a client
    /// that has keys, `ClientSecret` the keys of one that has a secret. [`AdminError::
    /// NoCredentialLeft`] if the client lacks what it is to keep.
    pub async fn settle_auth_method(
        &self,
        client_id: &ClientId,
        method: ClientAuthMethod,
    ) -> Result<ClientDetails, AdminError> {
        let client = self
            .store
            .client(client_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("client {client_id}")))?;
        match method {
            ClientAuthMethod::PrivateKeyJwt if client.jwks.is_some() => {
                self.store.set_client_secret_hash(client_id, "").await?;
                self.show_client(client_id).await
            }
            ClientAuthMethod::ClientSecret if client.has_secret() => {
                let changes = ClientChanges {
                    jwks: Some(None),
                    ..ClientChanges::default()
                };
                self.update_client(client_id, &changes).await
            }
            _ => Err(AdminError::NoCredentialLeft),
        }
    }

    /// A client; [`StoreError::NotFound`] if there is no such client.
    pub async fn show_client(&self, client_id: &ClientId) -> Result<ClientDetails, AdminError> {
        match self.store.client(client_id).await? {
            Some(client) => Ok(client.into()),
            None => Err(StoreError::NotFound(format!("client {client_id}")).into()),
        }
    }

    /// Every client, by client id.
    pub async fn list_clients(&self) -> Result<Vec<ClientDetails>, AdminError> {
        let clients = self.store.list_clients().await?;
        Ok(clients.into_iter().map(ClientDetails::from).collect())
    }

    /// Removes a client and revokes every token issued to it, those of logins in flight
    /// included (see [`Admin::end_client_logins`]).
    pub async fn delete_client(&self, client_id: &ClientId) -> Result<Revoked, AdminError> {
        self.store.delete_client(client_id).await?;
        let owner = FamilyOwner::Client(client_id.clone());
        self.revoke_after(Change::Deleted, owner).await
    }

    /// Adds a user; [`StoreError::AlreadyExists`] if the username is taken.
    pub async fn create_user(
        &self,
        username: &Username,
        password: &Secret,
    ) -> Result<(), AdminError> {
        let user = User {
            password_hash: self.verifier()?.hash(password)?,
            username: username.clone(),
            created_at: SystemClock.now(),
        };
        Ok(self.store.create_user(&user).await?)
    }

    /// Replaces a user's password; [`StoreError::NotFound`] if there is no such user. With
    /// `revoke_tokens`, then revokes every token issued to the user: after the replacement,
    /// so that the old password cannot start a login that the revocation misses.
    pub async fn set_password(
        &self,
        username: &Username,
        password: &Secret,
        revoke_tokens: bool,
    ) -> Result<Revocation, AdminError> {
        let password_hash = self.verifier()?.hash(password)?;
        self.store
            .set_user_password_hash(username, &password_hash)
            .await?;
        let owner = FamilyOwner::User(username.clone());
        Ok(self
            .revoke_if(revoke_tokens, Change::PasswordReplaced, owner)
            .await)
    }

    /// A user; [`StoreError::NotFound`] if there is no such user.
    pub async fn show_user(&self, username: &Username) -> Result<UserDetails, AdminError> {
        match self.store.user(username).await? {
            Some(user) => Ok(user.into()),
            None => Err(StoreError::NotFound(format!("user {username}")).into()),
        }
    }

    /// Every user, by username.
    pub async fn list_users(&self) -> Result<Vec<UserDetails>, AdminError> {
        let users = self.store.list_users().await?;
        Ok(users.into_iter().map(UserDetails::from).collect())
    }

    /// Removes a user and revokes every token issued to them: first the logins the index
    /// lists (which are counted), then the deletion, which revokes again what it finds, a
    /// login of the last moment included.
    pub async fn delete_user(&self, username: &Username) -> Result<Revoked, AdminError> {
        if self.store.user(username).await?.is_none() {
            return Err(StoreError::NotFound(format!("user {username}")).into());
        }
        let owner = FamilyOwner::User(username.clone());
        let revoked = self.revoke_after(Change::Deleted, owner).await?;
        self.store.delete_user(username).await?;
        Ok(revoked)
    }

    /// The live token families of a user or a client, oldest first.
    pub async fn token_families(
        &self,
        owner: &FamilyOwner,
    ) -> Result<Vec<TokenFamily>, AdminError> {
        Ok(self.store.token_families(owner, SystemClock.now()).await?)
    }

    /// Revokes every live token of a user or a client.
    pub async fn revoke_tokens(&self, owner: &FamilyOwner) -> Result<Revoked, AdminError> {
        Ok(revoke_all(&self.store, owner, SystemClock.now()).await?)
    }

    /// Revokes one token family; returns how many tokens it named (0 for an unknown one).
    pub async fn revoke_family(&self, family_id: &str) -> Result<usize, AdminError> {
        Ok(self.store.revoke_family(family_id).await?)
    }

    /// Imports the applications and users of a django-oauth-toolkit `dumpdata` export.
    pub async fn import(
        &self,
        export: &str,
        options: &ImportOptions,
    ) -> Result<ImportReport, AdminError> {
        let verifier = self.verifier()?;
        Ok(import::import(&self.store, &verifier, export, options).await?)
    }

    /// Built only by the use cases that hash, so invalid Argon2 settings fail no other.
    fn verifier(&self) -> Result<CredentialVerifier, AdminError> {
        Ok(CredentialVerifier::new(self.argon2)?)
    }

    /// Revokes every token of `owner` after `change`, which stands even if this fails; a
    /// client's logins in flight included ([`Admin::end_client_logins`]).
    async fn revoke_after(
        &self,
        change: Change,
        owner: FamilyOwner,
    ) -> Result<Revoked, AdminError> {
        let revoked = match &owner {
            FamilyOwner::User(_) => revoke_all(&self.store, &owner, SystemClock.now()).await,
            FamilyOwner::Client(_) => self.end_client_logins(&owner).await,
        };
        revoked.map_err(|source| AdminError::NotRevoked {
            change,
            owner,
            source,
        })
    }

    /// Ends a client's logins after its credentials changed (its secret, or its deletion):
    /// moves its credential version on, so that no refresh token issued under the old one
    /// refreshes, and revokes what the families index lists. A grant that authenticated
    /// with the old credentials just before may still write its login, and the index lists
    /// a login a moment after it is written; nothing is registered on the client, which
    /// every login of every user would write. So it waits until every such grant has been
    /// answered or never will be, and the index lists its login ([`GRANTS_IN_FLIGHT_WAIT`]),
    /// and revokes what the index lists again.
    async fn end_client_logins(&self, owner: &FamilyOwner) -> Result<Revoked, StoreError> {
        let waited_from = tokio::time::Instant::now();
        let revoked = revoke_all(&self.store, owner, SystemClock.now()).await?;
        tokio::time::sleep_until(waited_from + self.grants_in_flight_wait).await;
        let late = revoke_listed(&self.store, owner, SystemClock.now(), &[]).await?;
        if late.families > 0 {
            tracing::info!(
                families = late.families,
                "revoked logins that were in flight when the client's credentials changed"
            );
        }
        Ok(revoked.and(late))
    }

    async fn revoke_if(&self, asked: bool, change: Change, owner: FamilyOwner) -> Revocation {
        if !asked {
            return Revocation::NotAsked;
        }
        match self.revoke_after(change, owner).await {
            Ok(revoked) => Revocation::Done(revoked),
            Err(error) => Revocation::Failed(error),
        }
    }
}

fn generate_secret() -> Result<Secret, RandomnessUnavailable> {
    random_alphanumeric(CLIENT_SECRET_LENGTH).map(Secret::new)
}

#[cfg(test)]
mod tests;
