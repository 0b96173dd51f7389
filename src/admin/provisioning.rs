//! [`Admin`]: the provisioning use cases, over any adapter of the [`Store`] port.
//!
//! Names, scopes and grant types arrive checked (`crate::domain::names`, [`Scope::parse`]):
//! the caller checks them before anything reaches the store, and says what was wrong in its
//! own terms. New secrets and passwords are hashed here with Argon2id.

use super::import::{self, ExportError, ImportOptions, ImportReport};
use crate::domain::clock::{Clock as _, SystemClock};
use crate::domain::credentials::{Argon2Settings, CredentialError, CredentialVerifier};
use crate::domain::lifecycle::{Revoked, revoke_all};
use crate::domain::store::{Store, StoreError};
use crate::domain::token::{RandomnessUnavailable, random_alphanumeric};
use crate::domain::{Client, FamilyOwner, GrantType, Scope, Secret, TokenFamily, User};

/// Length of a generated client id.
pub const CLIENT_ID_LENGTH: usize = 20;
/// Length of a generated client secret.
pub const CLIENT_SECRET_LENGTH: usize = 40;

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Among others: [`StoreError::AlreadyExists`] and [`StoreError::NotFound`].
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The Argon2 settings are invalid, or hashing failed.
    #[error(transparent)]
    Hashing(#[from] CredentialError),
    #[error(transparent)]
    Randomness(#[from] RandomnessUnavailable),
    /// The export cannot be read as a dumpdata export; nothing was written.
    #[error(transparent)]
    UnreadableExport(#[from] ExportError),
    /// The client or user is gone, but the tokens issued to it still work until revoked.
    #[error("deleted, but revoking its tokens failed: {source}")]
    DeletedButNotRevoked {
        owner: FamilyOwner,
        #[source]
        source: StoreError,
    },
}

/// A client to register.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// `None`: generate one.
    pub client_id: Option<String>,
    pub name: String,
    pub scope: Scope,
    pub grant_types: Vec<GrantType>,
    /// The client's existing secret, so a client moving over keeps its credentials. `None`:
    /// generate one.
    pub secret: Option<Secret>,
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct CreatedClient {
    pub client: Client,
    /// The secret generated for it, to hand over once: only its hash is stored. `None` when
    /// the secret was given, as the operator has it already.
    pub generated_secret: Option<Secret>,
}

/// The provisioning use cases over one store.
pub struct Admin<S> {
    store: S,
    /// The cost of new secret and password hashes.
    argon2: Argon2Settings,
}

impl<S: Store> Admin<S> {
    pub fn new(store: S, argon2: Argon2Settings) -> Self {
        Self { store, argon2 }
    }

    /// Registers a client; [`StoreError::AlreadyExists`] if its id is taken.
    pub async fn create_client(&self, new: NewClient) -> Result<CreatedClient, AdminError> {
        let verifier = self.verifier()?;
        let client_id = match new.client_id {
            Some(client_id) => client_id,
            None => random_alphanumeric(CLIENT_ID_LENGTH)?,
        };
        let (secret, generated) = match new.secret {
            Some(secret) => (secret, false),
            None => (generate_secret()?, true),
        };
        let client = Client {
            client_id,
            name: new.name,
            secret_hash: verifier.hash(&secret)?,
            scope: new.scope,
            grant_types: new.grant_types,
            created_at: SystemClock.now(),
        };
        self.store.create_client(&client).await?;
        Ok(CreatedClient {
            client,
            generated_secret: generated.then_some(secret),
        })
    }

    /// Replaces a client's secret with a generated one and returns it; the old one stops
    /// working. [`StoreError::NotFound`] if there is no such client.
    pub async fn rotate_client_secret(&self, client_id: &str) -> Result<Secret, AdminError> {
        let secret = generate_secret()?;
        let secret_hash = self.verifier()?.hash(&secret)?;
        self.store
            .set_client_secret_hash(client_id, &secret_hash)
            .await?;
        Ok(secret)
    }

    /// Removes a client and revokes every token issued to it.
    pub async fn delete_client(&self, client_id: &str) -> Result<Revoked, AdminError> {
        self.store.delete_client(client_id).await?;
        self.revoke_after_deleting(FamilyOwner::Client(client_id.to_owned()))
            .await
    }

    /// Adds a user; [`StoreError::AlreadyExists`] if the username is taken.
    pub async fn create_user(&self, username: &str, password: &Secret) -> Result<(), AdminError> {
        let user = User {
            password_hash: self.verifier()?.hash(password)?,
            username: username.to_owned(),
            created_at: SystemClock.now(),
        };
        Ok(self.store.create_user(&user).await?)
    }

    /// Replaces a user's password; [`StoreError::NotFound`] if there is no such user.
    pub async fn set_password(&self, username: &str, password: &Secret) -> Result<(), AdminError> {
        let password_hash = self.verifier()?.hash(password)?;
        Ok(self
            .store
            .set_user_password_hash(username, &password_hash)
            .await?)
    }

    /// Removes a user and revokes every token issued to them.
    pub async fn delete_user(&self, username: &str) -> Result<Revoked, AdminError> {
        self.store.delete_user(username).await?;
        self.revoke_after_deleting(FamilyOwner::User(username.to_owned()))
            .await
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

    async fn revoke_after_deleting(&self, owner: FamilyOwner) -> Result<Revoked, AdminError> {
        match revoke_all(&self.store, &owner, SystemClock.now()).await {
            Ok(revoked) => Ok(revoked),
            Err(source) => Err(AdminError::DeletedButNotRevoked { owner, source }),
        }
    }
}

fn generate_secret() -> Result<Secret, RandomnessUnavailable> {
    random_alphanumeric(CLIENT_SECRET_LENGTH).map(Secret::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::CHEAP_ARGON2 as CHEAP;
    use crate::domain::model::{AccessTokenRecord, RefreshTokenRecord, TokenPair};
    use crate::domain::token::TokenHash;
    use crate::store::MemoryStore;

    fn verifier() -> CredentialVerifier {
        CredentialVerifier::new(CHEAP).unwrap_or_else(|error| panic!("{error}"))
    }

    fn admin() -> Admin<MemoryStore> {
        Admin::new(MemoryStore::new(), CHEAP)
    }

    fn new_client(client_id: Option<&str>, secret: Option<&str>) -> NewClient {
        NewClient {
            client_id: client_id.map(str::to_owned),
            name: "App".into(),
            scope: Scope::parse("read write").unwrap_or_default(),
            grant_types: vec![GrantType::Password, GrantType::RefreshToken],
            secret: secret.map(Secret::new),
        }
    }

    async fn stored_client(admin: &Admin<MemoryStore>, client_id: &str) -> Client {
        admin
            .store
            .client(client_id)
            .await
            .unwrap_or_else(|error| panic!("{error}"))
            .unwrap_or_else(|| panic!("no client {client_id}"))
    }

    async fn secret_works(client: &Client, secret: &str) -> bool {
        verifier()
            .verify_client_secret(client, &[Secret::new(secret)])
            .await
            .is_ok_and(|verification| verification.matched())
    }

    async fn password_works(admin: &Admin<MemoryStore>, username: &str, password: &str) -> bool {
        let user = admin
            .store
            .user(username)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        verifier()
            .verify_password(user.as_ref(), &Secret::new(password))
            .await
            .is_ok_and(|verification| verification.matched())
    }

    /// A password grant's tokens, starting family `family_id`.
    fn pair(client_id: &str, username: &str, family_id: &str) -> TokenPair {
        let access_token_hash = TokenHash::of(&Secret::new(format!("{family_id}-access")));
        TokenPair {
            access: AccessTokenRecord {
                token_hash: access_token_hash.clone(),
                client_id: client_id.into(),
                username: Some(username.into()),
                scope: Scope::default(),
                family_id: family_id.into(),
                issued_at: SystemClock.now(),
                expires_at: SystemClock.now() + 3600,
            },
            refresh: RefreshTokenRecord {
                token_hash: TokenHash::of(&Secret::new(format!("{family_id}-refresh"))),
                family_secret: None,
                client_id: client_id.into(),
                username: username.into(),
                scope: Scope::default(),
                access_token_hash,
                family_id: family_id.into(),
                issued_at: SystemClock.now(),
                expires_at: None,
            },
        }
    }

    #[tokio::test]
    async fn a_generated_secret_is_handed_over_and_a_given_one_is_not() {
        let admin = admin();
        let generated = admin
            .create_client(new_client(None, None))
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(generated.client.client_id.len(), CLIENT_ID_LENGTH);
        let secret = generated
            .generated_secret
            .unwrap_or_else(|| panic!("no secret"));
        assert_eq!(secret.expose().len(), CLIENT_SECRET_LENGTH);
        let stored = stored_client(&admin, &generated.client.client_id).await;
        assert_eq!(stored, generated.client);
        assert!(secret_works(&stored, secret.expose()).await);

        let given = admin
            .create_client(new_client(Some("app-1"), Some("kept-secret")))
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(given.generated_secret.is_none());
        assert!(secret_works(&stored_client(&admin, "app-1").await, "kept-secret").await);

        let taken = admin.create_client(new_client(Some("app-1"), None)).await;
        assert!(matches!(
            taken,
            Err(AdminError::Store(StoreError::AlreadyExists(_)))
        ));
    }

    #[tokio::test]
    async fn rotating_a_secret_retires_the_old_one() {
        let admin = admin();
        let created = admin
            .create_client(new_client(Some("app-1"), Some("old-secret")))
            .await;
        assert!(created.is_ok());
        let secret = admin
            .rotate_client_secret("app-1")
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let stored = stored_client(&admin, "app-1").await;
        assert!(secret_works(&stored, secret.expose()).await);
        assert!(!secret_works(&stored, "old-secret").await);
        assert!(matches!(
            admin.rotate_client_secret("nobody").await,
            Err(AdminError::Store(StoreError::NotFound(_)))
        ));
    }

    #[tokio::test]
    async fn users_get_and_change_passwords() {
        let admin = admin();
        let created = admin.create_user("alice", &Secret::new("first")).await;
        assert!(created.is_ok());
        assert!(password_works(&admin, "alice", "first").await);
        let changed = admin.set_password("alice", &Secret::new("second")).await;
        assert!(changed.is_ok());
        assert!(password_works(&admin, "alice", "second").await);
        assert!(!password_works(&admin, "alice", "first").await);
        assert!(matches!(
            admin.set_password("bob", &Secret::new("pw")).await,
            Err(AdminError::Store(StoreError::NotFound(_)))
        ));
    }

    #[tokio::test]
    async fn deleting_revokes_the_tokens_of_the_client_or_user() {
        let admin = admin();
        let created = admin
            .create_client(new_client(Some("app-1"), Some("secret")))
            .await;
        assert!(created.is_ok());
        for username in ["alice", "bob"] {
            assert!(
                admin
                    .create_user(username, &Secret::new("pw"))
                    .await
                    .is_ok()
            );
        }
        for (username, family_id) in [
            ("alice", "family1"),
            ("alice", "family2"),
            ("bob", "family3"),
        ] {
            let issued = admin
                .store
                .issue_token_pair(&pair("app-1", username, family_id), None)
                .await;
            assert!(issued.is_ok());
        }
        let alice = FamilyOwner::User("alice".into());
        let families = admin.token_families(&alice).await.unwrap_or_default();
        assert_eq!(families.len(), 2);

        let revoked = admin
            .delete_user("alice")
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            revoked,
            Revoked {
                families: 2,
                tokens: 4
            }
        );
        assert!(
            admin
                .token_families(&alice)
                .await
                .unwrap_or_default()
                .is_empty()
        );

        let revoked = admin
            .delete_client("app-1")
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            revoked,
            Revoked {
                families: 1,
                tokens: 2
            }
        );
        assert!(matches!(
            admin.delete_client("app-1").await,
            Err(AdminError::Store(StoreError::NotFound(_)))
        ));
        assert_eq!(admin.revoke_family("family3").await.ok(), Some(0));
    }

    #[tokio::test]
    async fn invalid_argon2_settings_fail_only_the_use_cases_that_hash() {
        let admin = Admin::new(
            MemoryStore::new(),
            Argon2Settings {
                memory_kib: 1,
                ..CHEAP
            },
        );
        assert!(matches!(
            admin.create_user("alice", &Secret::new("pw")).await,
            Err(AdminError::Hashing(_))
        ));
        assert!(matches!(
            admin
                .import("[]", &ImportOptions::new(Scope::default()))
                .await,
            Err(AdminError::Hashing(_))
        ));
        let owner = FamilyOwner::Client("app-1".into());
        assert_eq!(
            admin.revoke_tokens(&owner).await.ok(),
            Some(Revoked::default())
        );
    }
}
