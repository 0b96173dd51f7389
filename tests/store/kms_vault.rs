//! The key vaults: both seal and unseal a real signing key, and open it only under its own kid;
//! the KMS vault on moto's KMS, whose key `ensure_kms_key` creates once however often and
//! however concurrently it runs.

use token_endpoint::domain::signing::{KeyVault, PrivateKeyDer, SigningKey, VaultError};
use token_endpoint::vault::{InProcessVault, KmsVault, ensure_kms_key};

/// An alias no other test uses: moto keeps one set of KMS keys for the whole test binary.
fn unique_alias() -> String {
    format!("alias/test-{}", support::unique_tables().credentials)
}

fn private_key() -> (String, PrivateKeyDer) {
    let key = SigningKey::generate().unwrap();
    let der = key.private_der().unwrap();
    (key.kid().to_owned(), der)
}

/// Seals a key under its kid, unseals it, and is refused under another kid.
async fn round_trip<V: KeyVault>(vault: &V) {
    let (kid, der) = private_key();
    let sealed = vault.seal(&kid, &der).await.unwrap();
    assert!(
        !sealed
            .0
            .windows(32)
            .any(|window| der.expose().windows(32).any(|part| part == window)),
        "the sealed key shows part of the private key"
    );
    let unsealed = vault.unseal(&kid, &sealed).await.unwrap();
    assert_eq!(unsealed.expose(), der.expose());
    assert_eq!(
        SigningKey::from_private_der(&kid, &unsealed).unwrap().kid(),
        kid
    );
    let (other_kid, _) = private_key();
    let refused = vault.unseal(&other_kid, &sealed).await;
    assert!(
        matches!(refused, Err(VaultError::Refused(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_kms_vault_seals_and_unseals_under_the_kid_only() {
    support::require!(Moto);
    let kms = support::kms_client();
    let alias = unique_alias();
    ensure_kms_key(&kms, &alias).await.unwrap();
    round_trip(&KmsVault::new(kms, alias)).await;
}

#[tokio::test]
async fn the_in_process_vault_seals_and_unseals_under_the_kid_only() {
    round_trip(&InProcessVault::new().unwrap()).await;
}

#[tokio::test]
async fn ensuring_the_kms_key_creates_it_once() {
    support::require!(Moto);
    let kms = support::kms_client();
    let alias = unique_alias();
    // At once, as two `create-tables` may run: one creates the alias, all agree on its key.
    let ensured = futures::future::join_all((0..3).map(|_| ensure_kms_key(&kms, &alias))).await;
    let key_id = ensured[0].as_ref().unwrap().clone();
    for result in &ensured {
        assert_eq!(result.as_ref().unwrap(), &key_id);
    }
    assert_eq!(ensure_kms_key(&kms, &alias).await.unwrap(), key_id);
    // A key id or ARN is only checked.
    assert_eq!(ensure_kms_key(&kms, &key_id).await.unwrap(), key_id);
    let missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000";
    assert!(matches!(
        ensure_kms_key(&kms, missing).await,
        Err(VaultError::Refused(message)) if message.contains("does not exist")
    ));
    kms.disable_key().key_id(&key_id).send().await.unwrap();
    assert!(matches!(
        ensure_kms_key(&kms, &alias).await,
        Err(VaultError::Refused(message)) if message.contains("not enabled")
    ));
}

#[tokio::test]
async fn an_unreachable_kms_is_unavailable() {
    // Nothing listens on port 1.
    let kms = aws_sdk_kms::Client::from_conf(support::kms_config("http://127.0.0.1:1").build());
    let (kid, der) = private_key();
    let sealed = KmsVault::new(kms, "alias/anything").seal(&kid, &der).await;
    assert!(
        matches!(sealed, Err(VaultError::Unavailable(_))),
        "{sealed:?}"
    );
}
