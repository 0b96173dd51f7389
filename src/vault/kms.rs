//! [`KmsVault`]: private keys sealed by AWS KMS, and [`ensure_kms_key`], which makes the KMS
//! key exist (`oauth-admin create-tables`).
//!
//! KMS encrypts the private key itself: a PKCS#8 RSA-2048 key is about 1.2 KB, well under the
//! 4 KB that `Encrypt` takes, so there is no data key to generate and wrap (envelope
//! encryption) and nothing to get wrong about it. The encryption context names the purpose and
//! the kid: KMS refuses to decrypt a sealed key stored under another kid, and CloudTrail logs
//! which key each call was for.

use std::collections::HashMap;
use std::error::Error;

use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyMetadata, KeySpec, KeyState, KeyUsageType};

use crate::aws::error_text;
use crate::domain::signing::{KeyVault, PrivateKeyDer, SealedPrivateKey, VaultError};

/// The `purpose` in every encryption context: a ciphertext sealed for anything else under the
/// same KMS key never opens as a signing key.
const PURPOSE: &str = "token-endpoint-signing-key";

/// The description of the key [`ensure_kms_key`] creates.
const KEY_DESCRIPTION: &str = "token-endpoint JWT signing keys";

const ALIAS_PREFIX: &str = "alias/";

/// Seals with KMS `Encrypt` and unseals with `Decrypt` under one KMS key (id, ARN, alias or
/// alias ARN). Unsealing names that key too, so if an alias is pointed at another key, the keys
/// sealed before no longer open: rotate the KMS key's material with KMS's automatic rotation
/// instead, which keeps its id.
#[derive(Debug, Clone)]
pub struct KmsVault {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsVault {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

fn encryption_context(kid: &str) -> HashMap<String, String> {
    HashMap::from([
        ("purpose".to_owned(), PURPOSE.to_owned()),
        ("kid".to_owned(), kid.to_owned()),
    ])
}

impl KeyVault for KmsVault {
    async fn seal(
        &self,
        kid: &str,
        private_key: &PrivateKeyDer,
    ) -> Result<SealedPrivateKey, VaultError> {
        let output = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(private_key.expose()))
            .set_encryption_context(Some(encryption_context(kid)))
            .send()
            .await
            .map_err(|error| vault_error("Encrypt", &self.key_id, error))?;
        let sealed = output
            .ciphertext_blob
            .ok_or_else(|| VaultError::Refused("KMS Encrypt returned no ciphertext".into()))?;
        Ok(SealedPrivateKey(sealed.into_inner()))
    }

    async fn unseal(
        &self,
        kid: &str,
        sealed: &SealedPrivateKey,
    ) -> Result<PrivateKeyDer, VaultError> {
        let output = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(sealed.0.as_slice()))
            .set_encryption_context(Some(encryption_context(kid)))
            .send()
            .await
            .map_err(|error| vault_error("Decrypt", &self.key_id, error))?;
        let plaintext = output
            .plaintext
            .ok_or_else(|| VaultError::Refused("KMS Decrypt returned no plaintext".into()))?;
        Ok(PrivateKeyDer::new(plaintext.into_inner()))
    }
}

/// Makes `key` name a usable KMS key and returns its key id. An alias (`alias/...`) that does
/// not exist yet gets a new symmetric encryption key; a key id or ARN must exist already.
/// Running it again creates nothing.
pub async fn ensure_kms_key(client: &aws_sdk_kms::Client, key: &str) -> Result<String, VaultError> {
    if let Some(key_id) = describe(client, key).await? {
        return Ok(key_id);
    }
    if !key.starts_with(ALIAS_PREFIX) {
        return Err(VaultError::Refused(format!("KMS key {key} does not exist")));
    }
    let created = client
        .create_key()
        .description(KEY_DESCRIPTION)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .key_spec(KeySpec::SymmetricDefault)
        .send()
        .await
        .map_err(|error| vault_error("CreateKey", key, error))?;
    let key_id = created
        .key_metadata()
        .map(|metadata| metadata.key_id().to_owned())
        .ok_or_else(|| VaultError::Refused("KMS CreateKey returned no key id".into()))?;
    let aliased = client
        .create_alias()
        .alias_name(key)
        .target_key_id(&key_id)
        .send()
        .await;
    match aliased {
        Ok(_) => Ok(key_id),
        Err(error) => {
            // The new key is not named and never used: delete it (KMS waits 7 days first).
            if let Err(deletion) = client
                .schedule_key_deletion()
                .key_id(&key_id)
                .pending_window_in_days(7)
                .send()
                .await
            {
                tracing::warn!(
                    key_id = %key_id,
                    error = %error_text(&deletion),
                    "could not schedule the deletion of an unused KMS key"
                );
            }
            if error_code(&error) != Some("AlreadyExistsException") {
                return Err(vault_error("CreateAlias", key, error));
            }
            // Another run created the alias meanwhile: its key is the one.
            describe(client, key)
                .await?
                .ok_or_else(|| VaultError::Refused(format!("KMS alias {key} vanished")))
        }
    }
}

/// The key id of the key `key` names, if it exists; refused if it cannot seal keys.
async fn describe(client: &aws_sdk_kms::Client, key: &str) -> Result<Option<String>, VaultError> {
    let described = client.describe_key().key_id(key).send().await;
    let metadata = match described {
        Ok(output) => output.key_metadata,
        Err(error) if error_code(&error) == Some("NotFoundException") => return Ok(None),
        Err(error) => return Err(vault_error("DescribeKey", key, error)),
    };
    let metadata = metadata
        .ok_or_else(|| VaultError::Refused(format!("KMS DescribeKey of {key} returned nothing")))?;
    check_usable(key, &metadata)?;
    Ok(Some(metadata.key_id().to_owned()))
}

/// Sealing needs an enabled symmetric encryption key: the others take no encryption context.
fn check_usable(key: &str, metadata: &KeyMetadata) -> Result<(), VaultError> {
    let problem = if metadata.key_state() != Some(&KeyState::Enabled) {
        Some("is not enabled")
    } else if metadata.key_usage() != Some(&KeyUsageType::EncryptDecrypt) {
        Some("is not an ENCRYPT_DECRYPT key")
    } else if metadata
        .key_spec()
        .is_some_and(|spec| *spec != KeySpec::SymmetricDefault)
    {
        Some("is not a SYMMETRIC_DEFAULT key")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(VaultError::Refused(format!("KMS key {key} {problem}"))),
        None => Ok(()),
    }
}

fn error_code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    error
        .as_service_error()
        .and_then(ProvideErrorMetadata::code)
}

/// KMS's answers that a later call may not get: the rest (no permission, a disabled or
/// missing key, a ciphertext that is not for this key or kid) will not change by retrying.
const TRANSIENT_CODES: [&str; 4] = [
    "ThrottlingException",
    "KMSInternalException",
    "DependencyTimeoutException",
    "KeyUnavailableException",
];

/// The error of `operation` on `key`.
fn vault_error<E>(operation: &str, key: &str, error: SdkError<E, HttpResponse>) -> VaultError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    let described = format!("KMS {operation} with key {key}: {}", error_text(&error));
    match &error {
        SdkError::ServiceError(service)
            if service
                .err()
                .code()
                .is_some_and(|code| TRANSIENT_CODES.contains(&code))
                || service.raw().status().is_server_error() =>
        {
            VaultError::Unavailable(described.into())
        }
        // A request this code could not build would fail again.
        SdkError::ServiceError(_) | SdkError::ConstructionFailure(_) => {
            VaultError::Refused(described)
        }
        // Timeouts, connection failures, answers that were not KMS's.
        _ => VaultError::Unavailable(described.into()),
    }
}
