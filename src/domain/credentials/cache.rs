//! The client secrets this instance verified, remembered so a warm instance pays Argon2 once
//! per client secret instead of once per request.

use std::collections::HashMap;
use std::sync::Mutex;

use subtle::ConstantTimeEq;

use crate::domain::crypto::sha256 as digest;
use crate::domain::model::Client;
use crate::domain::names::ClientId;
use crate::domain::secret::Secret;

/// Successful client-secret verifications, keyed by client and bound to the stored hash they
/// were made against.
#[derive(Default)]
pub(super) struct ClientSecretCache {
    entries: Mutex<HashMap<ClientId, CachedVerification>>,
}

struct CachedVerification {
    secret_hash: String,
    accepted_digest: [u8; 32],
}

/// More clients than this in one instance is unusual; clearing keeps memory bounded.
const CLIENT_CACHE_CAPACITY: usize = 4096;

impl ClientSecretCache {
    pub(super) fn accepts(&self, client: &Client, presented: &Secret) -> bool {
        let digest = sha256(presented);
        let Ok(entries) = self.entries.lock() else {
            return false;
        };
        entries.get(&client.client_id).is_some_and(|entry| {
            entry.secret_hash == client.secret_hash
                && bool::from(entry.accepted_digest.ct_eq(&digest))
        })
    }

    pub(super) fn remember(&self, client: &Client, accepted: &Secret) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CLIENT_CACHE_CAPACITY && !entries.contains_key(&client.client_id) {
            entries.clear();
        }
        entries.insert(
            client.client_id.clone(),
            CachedVerification {
                secret_hash: client.secret_hash.clone(),
                accepted_digest: sha256(accepted),
            },
        );
    }
}

fn sha256(secret: &Secret) -> [u8; 32] {
    let mut output = [0u8; 32];
    output.copy_from_slice(digest(secret.expose().as_bytes()).as_ref());
    output
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{
        DJANGO_HASH, DJANGO_PASSWORD, client, client_with_hash, verifier,
    };
    use super::super::{CredentialError, Verification};

    #[tokio::test]
    async fn client_cache_is_bound_to_the_stored_hash() -> Result<(), CredentialError> {
        let verifier = verifier();
        let original = client(&verifier, "s3cret");
        assert!(
            verifier
                .verify_client_secret(&original, &["s3cret".into()])
                .await?
                .matched()
        );
        assert!(verifier.client_secrets.accepts(&original, &"s3cret".into()));
        assert!(!verifier.client_secrets.accepts(&original, &"other".into()));

        // After a rotation the stored hash differs: the cached acceptance must not apply.
        let rotated = client(&verifier, "new-secret");
        assert!(!verifier.client_secrets.accepts(&rotated, &"s3cret".into()));
        assert!(
            !verifier
                .verify_client_secret(&rotated, &["s3cret".into()])
                .await?
                .matched()
        );
        assert!(
            verifier
                .verify_client_secret(&rotated, &["wrong".into(), "new-secret".into()])
                .await?
                .matched()
        );
        Ok(())
    }

    #[tokio::test]
    async fn client_cache_stays_sound_across_the_upgrade() -> Result<(), CredentialError> {
        let verifier = verifier();
        let legacy = client_with_hash(DJANGO_HASH);
        let Verification::MatchedOutdated { replacement } = verifier
            .verify_client_secret(&legacy, &["wrong".into(), DJANGO_PASSWORD.into()])
            .await?
        else {
            panic!("a Django hash that matches asks to be replaced");
        };
        // Remembered against the Django hash: while that is stored, no PBKDF2 again.
        assert!(
            verifier
                .client_secrets
                .accepts(&legacy, &DJANGO_PASSWORD.into())
        );
        assert_eq!(
            verifier
                .verify_client_secret(&legacy, &[DJANGO_PASSWORD.into()])
                .await?,
            Verification::Match
        );
        // Once the replacement is stored, the remembered acceptance no longer applies: the
        // secret is verified against the new hash, and a wrong one is refused.
        let upgraded = client_with_hash(&replacement);
        assert!(
            !verifier
                .client_secrets
                .accepts(&upgraded, &DJANGO_PASSWORD.into())
        );
        assert_eq!(
            verifier
                .verify_client_secret(&upgraded, &["wrong".into()])
                .await?,
            Verification::Mismatch
        );
        assert_eq!(
            verifier
                .verify_client_secret(&upgraded, &[DJANGO_PASSWORD.into()])
                .await?,
            Verification::Match
        );
        // And a client whose hash was rotated back to another value misses it too.
        let rotated = client(&verifier, "new-secret");
        assert_eq!(
            verifier
                .verify_client_secret(&rotated, &[DJANGO_PASSWORD.into()])
                .await?,
            Verification::Mismatch
        );
        Ok(())
    }
}
