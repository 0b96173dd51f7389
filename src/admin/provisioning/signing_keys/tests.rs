//! The signing key use cases on the memory store, sealed by an in-process vault.

use std::sync::Mutex;

use futures::future::join_all;

use super::*;
use crate::admin::CHEAP_ARGON2;
use crate::domain::signing::{PublicJwk, RETIRED_KEY_RETENTION, SealedPrivateKey, SigningKey};
use crate::domain::store::StoreError;
use crate::store::MemoryStore;
use crate::vault::InProcessVault;

const NOW: UnixSeconds = 1_800_000_000;
const HOUR: u64 = 3600;

fn admin<S>(store: S) -> Admin<S> {
    Admin {
        store,
        argon2: CHEAP_ARGON2,
        grants_in_flight_wait: std::time::Duration::ZERO,
    }
}

fn vault() -> InProcessVault {
    InProcessVault::new().unwrap_or_else(|error| panic!("{error}"))
}

fn ok<T>(result: Result<T, AdminError>) -> T {
    result.unwrap_or_else(|error| panic!("{error}"))
}

fn states(details: &KeySetDetails) -> Vec<(&str, KeyState)> {
    details
        .keys
        .iter()
        .map(|key| (key.kid.as_str(), key.state))
        .collect()
}

#[tokio::test]
async fn the_first_key_signs_at_once_and_ensuring_again_keeps_it() {
    let (admin, vault) = (admin(MemoryStore::new()), vault());
    let first = ok(admin.ensure_signing_key(&vault, NOW).await);
    assert!(first.created);
    let again = ok(admin.ensure_signing_key(&vault, NOW + 5).await);
    assert_eq!(
        again,
        EnsuredSigningKey {
            created: false,
            ..first.clone()
        }
    );

    let listed = ok(admin.signing_keys(NOW).await);
    assert_eq!(listed.version, 1);
    assert_eq!(states(&listed), [(first.kid.as_str(), KeyState::Signing)]);
    // The stored key unseals to the private key its kid names.
    let stored = admin.store.signing_keys().await.unwrap_or_default();
    let record = &stored.keys[0];
    assert_eq!((record.created_at, record.signs_from), (NOW, NOW));
    let unsealed = vault
        .unseal(&record.kid, &record.sealed_private)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(SigningKey::from_private_der(&first.kid, &unsealed).is_ok());
}

#[tokio::test]
async fn concurrent_ensures_create_one_key() {
    let (admin, vault) = (admin(MemoryStore::new()), vault());
    let ensured: Vec<EnsuredSigningKey> =
        join_all((0..4).map(|_| admin.ensure_signing_key(&vault, NOW)))
            .await
            .into_iter()
            .map(ok)
            .collect();
    assert_eq!(
        ensured.iter().filter(|key| key.created).count(),
        1,
        "{ensured:?}"
    );
    assert!(
        ensured.iter().all(|key| key.kid == ensured[0].kid),
        "{ensured:?}"
    );
    assert_eq!(ok(admin.signing_keys(NOW).await).keys.len(), 1);
}

#[tokio::test]
async fn a_rotation_publishes_the_key_first_and_signs_with_it_after_the_delay() {
    let (admin, vault) = (admin(MemoryStore::new()), vault());
    let first = ok(admin.ensure_signing_key(&vault, NOW).await).kid;
    let rotated = ok(admin.rotate_signing_key(&vault, NOW + 60, HOUR).await);
    assert_eq!(rotated.signs_from, NOW + 60 + HOUR);
    assert_eq!(
        (
            rotated.version,
            &rotated.kept,
            rotated.pruned.len(),
            rotated.retries
        ),
        (2, &vec![first.clone()], 0, 0)
    );
    let new = rotated.kid.as_str();
    assert_eq!(
        states(&ok(admin.signing_keys(NOW + 60).await)),
        [
            (first.as_str(), KeyState::Signing),
            (new, KeyState::Pending)
        ]
    );
    assert_eq!(
        states(&ok(admin.signing_keys(rotated.signs_from).await)),
        [
            (
                first.as_str(),
                KeyState::Retired {
                    at: rotated.signs_from
                }
            ),
            (new, KeyState::Signing)
        ]
    );
    // An emergency rotation takes the pending key's place: that one never signs.
    let emergency = ok(admin.rotate_signing_key(&vault, NOW + 120, 0).await);
    assert_eq!(
        (emergency.signs_from, &emergency.kept, &emergency.superseded),
        (NOW + 120, &vec![first], &vec![rotated.kid.clone()])
    );
    assert!(emergency.pruned.is_empty());
}

#[tokio::test]
async fn a_rotation_of_an_empty_set_signs_at_once_and_later_ones_prune_old_keys() {
    let (admin, vault) = (admin(MemoryStore::new()), vault());
    let first = ok(admin.rotate_signing_key(&vault, NOW, HOUR).await);
    assert_eq!((first.signs_from, first.version), (NOW, 1));
    // Within the same second, the key that signs now stays: the new one signs a second later.
    let second = ok(admin.rotate_signing_key(&vault, NOW, 0).await);
    assert_eq!(
        (second.signs_from, &second.kept),
        (NOW + 1, &vec![first.kid.clone()])
    );
    // Retired for longer than any token it signed can live: dropped by the next rotation.
    let later = NOW + 1 + RETIRED_KEY_RETENTION;
    let third = ok(admin.rotate_signing_key(&vault, later, HOUR).await);
    assert_eq!(
        (third.kept, third.pruned, third.version),
        (vec![second.kid], vec![first.kid], 3)
    );
}

fn rival_record(signs_from: UnixSeconds) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: "rival".into(),
        public: PublicJwk {
            n: "n".into(),
            e: "AQAB".into(),
        },
        sealed_private: SealedPrivateKey(vec![1, 2, 3]),
        created_at: NOW,
        signs_from,
    }
}

/// A memory store where, once armed, another administrator saves a key first: the next save
/// made through it finds the set changed since it was read.
#[derive(Default)]
struct RivalSavesFirst {
    inner: MemoryStore,
    rival: Mutex<Option<SigningKeyRecord>>,
}

impl RivalSavesFirst {
    fn arm(&self, rival_signs_from: UnixSeconds) {
        if let Ok(mut rival) = self.rival.lock() {
            *rival = Some(rival_record(rival_signs_from));
        }
    }
}

impl KeySetStore for RivalSavesFirst {
    async fn signing_keys(&self) -> Result<KeySet, StoreError> {
        self.inner.signing_keys().await
    }

    async fn save_signing_keys(&self, keys: &KeySet) -> Result<KeySetSaved, StoreError> {
        let rival = self.rival.lock().ok().and_then(|mut rival| rival.take());
        if let Some(rival) = rival {
            let current = self.inner.signing_keys().await?;
            let saved = self
                .inner
                .save_signing_keys(&current.with_key(rival, NOW))
                .await?;
            assert_eq!(saved, KeySetSaved::Saved);
        }
        self.inner.save_signing_keys(keys).await
    }
}

#[tokio::test]
async fn a_first_key_that_loses_the_race_yields_to_the_winner() {
    let (admin, vault) = (admin(RivalSavesFirst::default()), vault());
    admin.store.arm(NOW);
    let ensured = ok(admin.ensure_signing_key(&vault, NOW).await);
    let rival = EnsuredSigningKey {
        kid: "rival".into(),
        created: false,
    };
    assert_eq!(ensured, rival);
}

#[tokio::test]
async fn a_rotation_that_loses_the_race_reads_again_and_keeps_the_winner() {
    let (admin, vault) = (admin(RivalSavesFirst::default()), vault());
    let first = ok(admin.ensure_signing_key(&vault, NOW).await).kid;
    admin.store.arm(NOW + 1800);
    let rotated = ok(admin.rotate_signing_key(&vault, NOW, HOUR).await);
    assert_eq!(
        (
            rotated.retries,
            rotated.version,
            rotated.kept,
            rotated.pruned
        ),
        (1, 3, vec![first, "rival".into()], vec![])
    );
    assert_eq!(rotated.signs_from, NOW + HOUR);
}

#[tokio::test]
async fn revoking_the_signing_key_puts_a_new_one_in_its_place_and_other_keys_are_only_removed() {
    let (admin, vault) = (admin(MemoryStore::new()), vault());
    let retired = ok(admin.ensure_signing_key(&vault, NOW).await).kid;
    let leaked = ok(admin.rotate_signing_key(&vault, NOW, HOUR).await);
    let now = leaked.signs_from + 60;
    let pending = ok(admin.rotate_signing_key(&vault, now, HOUR).await).kid;

    let revoked = ok(admin.revoke_signing_key(&vault, &leaked.kid, now).await);
    let replacement = revoked.replacement.clone().expect("a replacement");
    assert_eq!((revoked.version, revoked.retries), (4, 0));
    // The new key signs at once, in the leaked one's place: the others keep their times.
    assert_eq!(
        states(&ok(admin.signing_keys(now).await)),
        [
            (
                retired.as_str(),
                KeyState::Retired {
                    at: leaked.signs_from
                }
            ),
            (replacement.as_str(), KeyState::Signing),
            (pending.as_str(), KeyState::Pending),
        ]
    );
    let stored = admin.store.signing_keys().await.unwrap_or_default();
    let record = stored.find(&replacement).expect("stored");
    assert_eq!(
        (record.signs_from, record.created_at),
        (leaked.signs_from, now)
    );
    let unsealed = vault.unseal(&record.kid, &record.sealed_private).await;
    assert!(unsealed.is_ok_and(|der| SigningKey::from_private_der(&replacement, &der).is_ok()));

    // A key that does not sign now is only removed; an unknown one changes nothing.
    for kid in [&retired, &pending] {
        let revoked = ok(admin.revoke_signing_key(&vault, kid, now).await);
        assert_eq!(revoked.replacement, None);
    }
    assert!(matches!(
        admin.revoke_signing_key(&vault, &leaked.kid, now).await,
        Err(AdminError::Store(StoreError::NotFound(_)))
    ));
    assert_eq!(
        states(&ok(admin.signing_keys(now).await)),
        [(replacement.as_str(), KeyState::Signing)]
    );
    // The only key is replaced even where it does not sign yet.
    let last = ok(admin
        .revoke_signing_key(&vault, &replacement, leaked.signs_from - 1)
        .await);
    assert!(last.replacement.is_some_and(|kid| kid != replacement));
}

#[tokio::test]
async fn a_revocation_that_loses_the_race_reads_again_and_keeps_the_winner() {
    let (admin, vault) = (admin(RivalSavesFirst::default()), vault());
    let leaked = ok(admin.ensure_signing_key(&vault, NOW).await).kid;
    admin.store.arm(NOW + HOUR);
    let revoked = ok(admin.revoke_signing_key(&vault, &leaked, NOW + 60).await);
    assert_eq!((revoked.version, revoked.retries), (3, 1));
    let replacement = revoked.replacement.expect("a replacement");
    assert_eq!(
        states(&ok(admin.signing_keys(NOW + 60).await)),
        [
            (replacement.as_str(), KeyState::Signing),
            ("rival", KeyState::Pending)
        ]
    );
}
