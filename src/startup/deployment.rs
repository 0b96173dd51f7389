//! The deployment `oauth-admin` works on: the DynamoDB tables and the KMS key the environment
//! names. The one place the admin tool chooses its adapters: its commands name none, and
//! build their use cases over [`DeploymentStore`].

use crate::aws;
use crate::config::{Config, ConfigError, DynamoDbSettings, read_env};
use crate::domain::signing::KeyVault;
use crate::store::DynamoStore;
use crate::store::dynamodb::TableNames;
use crate::vault::{KmsVault, ensure_kms_key};

use super::error::BoxError;

/// The store a deployment keeps its clients, users, tokens and signing keys in.
pub type DeploymentStore = DynamoStore;

/// The configuration, and the store and key vault it names.
pub struct Deployment {
    pub config: Config,
    pub store: DeploymentStore,
    kms: aws_sdk_kms::Client,
}

impl Deployment {
    /// Reads the process environment and makes the clients; nothing is sent yet.
    pub async fn connect() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        // No endpoint value is rejected, so reading cannot fail.
        let endpoints = read_env::<DynamoDbSettings>().unwrap_or_default();
        let (dynamodb, kms) = aws::clients(&endpoints).await;
        let store = DynamoStore::new(dynamodb, TableNames::from(&config.tables));
        Ok(Self { config, store, kms })
    }

    /// Makes the tables, and the KMS key that seals the signing keys, exist: DynamoDB's and
    /// KMS's own provisioning, outside the ports. Returns the KMS key's id.
    pub async fn create_tables(&self) -> Result<String, BoxError> {
        self.store.create_tables().await?;
        Ok(ensure_kms_key(&self.kms, &self.config.signing.kms_key).await?)
    }

    /// The vault of the configured KMS key, which must exist (`create-tables` makes it).
    pub fn vault(&self) -> impl KeyVault + use<> {
        KmsVault::new(self.kms.clone(), self.config.signing.kms_key.clone())
    }
}
