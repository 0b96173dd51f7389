//! The JWT signing key set: read consistently, and saved only over the version it follows, so
//! that of rotations made at once exactly one is saved. Records are built here, sealed bytes
//! and all: storage needs no vault.

use super::*;
use support::clock::ManualClock;
use token_endpoint::admin::Admin;
use token_endpoint::domain::signing::{
    KeyRing, KeyRingTiming, KeySet, KeySetSaved, KeySetStore, PublicJwk, SealedPrivateKey,
    SigningKeyRecord,
};

/// A key that signs from `signs_from`, with made-up public and sealed halves of real sizes.
fn key_record(signs_from: UnixSeconds) -> SigningKeyRecord {
    // Every byte value must survive storage, not only text.
    let mut sealed = random_alphanumeric(1200).unwrap().into_bytes();
    sealed.extend([0, 0x80, 0xff]);
    SigningKeyRecord {
        kid: random_alphanumeric(43).unwrap(),
        public: PublicJwk {
            n: random_alphanumeric(342).unwrap(),
            e: "AQAB".into(),
        },
        sealed_private: SealedPrivateKey(sealed),
        created_at: NOW,
        signs_from,
    }
}

/// The first set: one key that signs from `NOW`.
fn first_set() -> KeySet {
    KeySet::default().with_key(key_record(NOW), NOW)
}

async fn stored_keys<S: KeySetStore>(store: &S) -> KeySet {
    ok(store.signing_keys().await)
}

pub(super) async fn an_empty_key_set_reads_as_version_zero<S: KeySetStore>(store: Arc<S>) {
    assert_eq!(stored_keys(&*store).await, KeySet::default());
}

pub(super) async fn a_saved_key_set_reads_back_and_is_not_listed<S: Store + KeySetStore>(
    store: Arc<S>,
) {
    let first = first_set();
    assert_eq!(
        ok(store.save_signing_keys(&first).await),
        KeySetSaved::Saved
    );
    assert_eq!(stored_keys(&*store).await, first);
    let second = first.with_key(key_record(NOW + 3600), NOW);
    assert_eq!(second.version, 2);
    assert_eq!(
        ok(store.save_signing_keys(&second).await),
        KeySetSaved::Saved
    );
    assert_eq!(stored_keys(&*store).await, second);
    // It shares the credentials table, but is neither a client nor a user.
    assert!(ok(store.list_clients().await).is_empty());
    assert!(ok(store.list_users().await).is_empty());
}

pub(super) async fn a_stale_key_set_save_conflicts_and_changes_nothing<S: KeySetStore>(
    store: Arc<S>,
) {
    let first = first_set();
    assert_eq!(
        ok(store.save_signing_keys(&first).await),
        KeySetSaved::Saved
    );
    let rival = first_set();
    let skipping = KeySet {
        version: 3,
        ..first.with_key(key_record(NOW + 60), NOW)
    };
    let unsaved = KeySet {
        version: 0,
        ..first_set()
    };
    for stale in [&rival, &skipping, &unsaved] {
        assert_eq!(
            ok(store.save_signing_keys(stale).await),
            KeySetSaved::Conflict,
            "version {}",
            stale.version
        );
    }
    assert_eq!(stored_keys(&*store).await, first);
}

pub(super) async fn concurrent_key_set_saves_have_one_winner<S: KeySetStore>(store: Arc<S>) {
    let candidates: Vec<KeySet> = (0..8).map(|_| first_set()).collect();
    let saves = candidates.iter().cloned().map(|keys| {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.save_signing_keys(&keys).await })
    });
    let outcomes: Vec<KeySetSaved> = futures::future::join_all(saves)
        .await
        .into_iter()
        .map(|joined| ok(joined.expect("task failed")))
        .collect();
    let winners: Vec<&KeySet> = candidates
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| **outcome == KeySetSaved::Saved)
        .map(|(keys, _)| keys)
        .collect();
    assert_eq!(winners.len(), 1, "outcomes: {outcomes:?}");
    assert_eq!(&stored_keys(&*store).await, winners[0]);
}

/// `oauth-admin revoke-signing-key` on each store: the key leaves the stored set, a new one
/// takes its place, and a verifier that read the set before refuses the key once it reads it
/// again.
pub(super) async fn a_revoked_signing_key_is_gone_from_the_next_reload<
    S: Store + KeySetStore + Clone,
>(
    store: Arc<S>,
) {
    let store = (*store).clone();
    let (admin, vault) = (
        Admin::new(store.clone(), support::cheap_config().argon2),
        support::signing::vault(),
    );
    let leaked = admin.ensure_signing_key(&vault, NOW).await.unwrap().kid;
    let clock = Arc::new(ManualClock::at(NOW + 60));
    let ring = KeyRing::verifying(store.clone(), clock, KeyRingTiming::default());
    let known = |kid: String| {
        let ring = ring.clone();
        async move { ring.verifying_key(&kid).await.unwrap().is_some() }
    };
    assert!(known(leaked.clone()).await);

    let revoked = admin.revoke_signing_key(&vault, &leaked, NOW + 60).await;
    let replacement = revoked.unwrap().replacement.expect("a replacement");
    let stored = stored_keys(&store).await;
    assert_eq!(stored.version, 2);
    assert_eq!(
        stored
            .keys
            .iter()
            .map(|key| (key.kid.as_str(), key.signs_from))
            .collect::<Vec<_>>(),
        [(replacement.as_str(), NOW)]
    );
    assert!(
        known(leaked.clone()).await,
        "until the ring reads the set again"
    );
    ring.warm_up().await.unwrap();
    assert!(!known(leaked).await);
    assert!(known(replacement).await);
}
