//! Runs a command on the deployment the environment names: its DynamoDB tables and the KMS
//! key that seals its JWT signing keys. Each command checks its input before connecting, so
//! invalid input never reaches the store.

use super::{
    Command, Failure, failed_records, output, secret_from_stdin, valid_client_id, valid_family_id,
    valid_username,
};
use crate::admin::Admin;
use crate::config::{Config, DynamoDbSettings, read_env};
use crate::domain::clock::{Clock as _, SystemClock};
use crate::domain::{FamilyOwner, TokenFormat};
use crate::store::DynamoStore;
use crate::vault::{KmsVault, ensure_kms_key};

pub async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::CreateTables => {
            let deployment = Deployment::connect().await?;
            // DynamoDB's and KMS's own provisioning, outside the ports.
            let store = &deployment.store;
            store.create_tables().await.map_err(Failure::operation)?;
            let kms = deployment.endpoints.kms_client().await;
            let kms_key = &deployment.config.signing.kms_key;
            let kms_key_id = ensure_kms_key(&kms, kms_key)
                .await
                .map_err(Failure::operation)?;
            let vault = KmsVault::new(kms, kms_key.clone());
            let signing_key = deployment
                .admin
                .ensure_signing_key(&vault, SystemClock.now())
                .await?;
            output::tables_created(&deployment.config.tables, &kms_key_id, &signing_key).print()
        }
        Command::CreateClient(args) => {
            let new_client = args.new_client()?;
            let deployment = Deployment::connect().await?;
            deployment
                .ensure_signing_key_for(Some(new_client.access_tokens.format))
                .await?;
            let created = deployment.admin.create_client(new_client).await?;
            output::client_created(&created).print()
        }
        Command::RotateClientSecret {
            client_id,
            revoke_tokens,
        } => {
            let client_id = valid_client_id(&client_id)?;
            let admin = admin().await?;
            let (secret, revocation) = admin
                .rotate_client_secret(&client_id, revoke_tokens)
                .await?;
            output::client_secret_rotated(&client_id, &secret, &revocation).print()?;
            Ok(revocation.finish()?)
        }
        Command::UpdateClient(args) => {
            let (client_id, changes) = args.checked()?;
            let deployment = Deployment::connect().await?;
            deployment
                .ensure_signing_key_for(changes.token_format)
                .await?;
            let client = deployment.admin.update_client(&client_id, &changes).await?;
            output::client(&client).print()
        }
        Command::ShowClient { client_id } => {
            let client_id = valid_client_id(&client_id)?;
            output::client(&admin().await?.show_client(&client_id).await?).print()
        }
        Command::ListClients => output::clients(&admin().await?.list_clients().await?).print(),
        Command::DeleteClient { client_id } => {
            let client_id = valid_client_id(&client_id)?;
            let revoked = admin().await?.delete_client(&client_id).await?;
            output::deleted(&FamilyOwner::Client(client_id), revoked).print()
        }
        Command::CreateUser { username, .. } => {
            let username = valid_username(&username)?;
            let password = secret_from_stdin("password")?;
            admin().await?.create_user(&username, &password).await?;
            output::user_created(&username).print()
        }
        Command::SetPassword {
            username,
            revoke_tokens,
            ..
        } => {
            let username = valid_username(&username)?;
            let password = secret_from_stdin("password")?;
            let admin = admin().await?;
            let revocation = admin
                .set_password(&username, &password, revoke_tokens)
                .await?;
            output::password_changed(&username, &revocation).print()?;
            Ok(revocation.finish()?)
        }
        Command::ShowUser { username } => {
            let username = valid_username(&username)?;
            output::user(&admin().await?.show_user(&username).await?).print()
        }
        Command::ListUsers => output::users(&admin().await?.list_users().await?).print(),
        Command::DeleteUser { username } => {
            let username = valid_username(&username)?;
            let revoked = admin().await?.delete_user(&username).await?;
            output::deleted(&FamilyOwner::User(username), revoked).print()
        }
        Command::ListTokens { owner } => {
            let owner = owner.owner()?;
            let families = admin().await?.token_families(&owner).await?;
            output::token_families(&owner, &families).print()
        }
        Command::RevokeTokens { owner } => {
            let owner = owner.owner()?;
            let revoked = admin().await?.revoke_tokens(&owner).await?;
            output::tokens_revoked(&owner, revoked).print()
        }
        Command::RevokeFamily { family_id } => {
            let family_id = valid_family_id(&family_id)?;
            let tokens = admin().await?.revoke_family(&family_id).await?;
            output::family_revoked(&family_id, tokens).print()
        }
        Command::Import(args) => {
            let options = args.options()?;
            let export = args.read_export()?;
            let report = admin().await?.import(&export, &options).await?;
            output::import_report(&report)?.print()?;
            failed_records(&report)
        }
        Command::RotateSigningKey { propagation_delay } => {
            let deployment = Deployment::connect().await?;
            let delay = propagation_delay.unwrap_or(deployment.config.signing.propagation_delay);
            let vault = deployment.vault().await;
            let rotated = deployment
                .admin
                .rotate_signing_key(&vault, SystemClock.now(), delay)
                .await?;
            output::signing_key_rotated(&rotated).print()?;
            for kid in &rotated.superseded {
                eprintln!(
                    "oauth-admin: note: key {kid}, of an earlier rotation, was to start signing \
                     no earlier than the new key, which replaces it"
                );
            }
            // Version 1: the set was empty, so no verifier can hold a copy without the key.
            if delay == 0 && rotated.version > 1 {
                eprintln!(
                    "oauth-admin: warning: the new key signs at once; verifiers that cached the \
                     key set without it (API Gateway: up to an hour) refuse its tokens until \
                     they fetch the set again"
                );
            }
            Ok(())
        }
        Command::ListSigningKeys => {
            let keys = admin().await?.signing_keys(SystemClock.now()).await?;
            output::signing_keys(&keys).print()
        }
    }
}

/// The configuration, the endpoints, and the use cases over the DynamoDB store they name.
struct Deployment {
    config: Config,
    endpoints: DynamoDbSettings,
    store: DynamoStore,
    admin: Admin<DynamoStore>,
}

impl Deployment {
    async fn connect() -> Result<Self, Failure> {
        let config = Config::from_env().map_err(Failure::operation)?;
        // No endpoint value is rejected, so reading cannot fail.
        let endpoints = read_env::<DynamoDbSettings>().unwrap_or_default();
        let store = DynamoStore::new(endpoints.client().await, config.tables.clone());
        // Hashing at the configured cost.
        let admin = Admin::new(store.clone(), config.argon2);
        Ok(Self {
            config,
            endpoints,
            store,
            admin,
        })
    }

    /// The vault of the configured KMS key, which must exist (`create-tables` makes it).
    async fn vault(&self) -> KmsVault {
        KmsVault::new(
            self.endpoints.kms_client().await,
            self.config.signing.kms_key.clone(),
        )
    }

    /// A JWT client needs a signing key. A deployment made by `sam deploy` (which does not run
    /// `create-tables`) has none until its first JWT client.
    async fn ensure_signing_key_for(&self, format: Option<TokenFormat>) -> Result<(), Failure> {
        if format != Some(TokenFormat::Jwt) {
            return Ok(());
        }
        let vault = self.vault().await;
        let key = self
            .admin
            .ensure_signing_key(&vault, SystemClock.now())
            .await?;
        if key.created {
            eprintln!(
                "oauth-admin: created the first JWT signing key, {}; it signs from now",
                key.kid
            );
        }
        Ok(())
    }
}

async fn admin() -> Result<Admin<DynamoStore>, Failure> {
    Ok(Deployment::connect().await?.admin)
}
