//! Each instance's copy of the key set, with the private keys it signs with unsealed.
//!
//! Requests never wait for the store while the copy is fresh: once it is older than
//! [`KeyRingTiming::refresh_after`], the next request starts a reload beside itself and goes
//! on with the copy it has, so a rotation reaches running instances without a restart and
//! without a round trip on the hot path. Only a copy older than
//! [`KeyRingTiming::stale_after`] (an instance idle that long) is reloaded before use. A key
//! published ahead of its `signs_from` is unsealed by such a background reload too, so the
//! switch to it costs no request a call to the vault.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::error::{KeyError, VaultError};
use super::key_set::{KeySet, KeySetStore, SealedPrivateKey, SigningKeyRecord};
use super::rsa::PrivateKeyDer;
use super::rsa::{SigningKey, VerifyingKey};
use super::vault::KeyVault;
use crate::domain::clock::{Clock, UnixSeconds};
use crate::domain::store::StoreError;

/// How old an instance's copy of the key set may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRingTiming {
    /// From this age a request starts a reload in the background.
    pub refresh_after: Duration,
    /// From this age a request waits for a reload. Rotations must give verifiers longer than
    /// this before the new key signs (the propagation delay is an hour by default).
    pub stale_after: Duration,
    /// A token signed by a key the copy does not know reloads it, at most this often.
    pub unknown_key_reload: Duration,
}

impl Default for KeyRingTiming {
    fn default() -> Self {
        Self::refreshing_every(Duration::from_secs(60))
    }
}

impl KeyRingTiming {
    pub fn refreshing_every(refresh_after: Duration) -> Self {
        Self {
            refresh_after,
            stale_after: refresh_after * 5,
            unknown_key_reload: refresh_after / 6,
        }
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`KeySetStore`] behind a pointer: the ring is built once, so its adapters are not type
/// parameters of everything that holds it.
trait DynKeySetStore: Send + Sync {
    fn load(&self) -> BoxFuture<'_, Result<KeySet, StoreError>>;
}

impl<T: KeySetStore> DynKeySetStore for T {
    fn load(&self) -> BoxFuture<'_, Result<KeySet, StoreError>> {
        Box::pin(self.signing_keys())
    }
}

trait DynKeyVault: Send + Sync {
    fn unseal<'a>(
        &'a self,
        kid: &'a str,
        sealed: &'a SealedPrivateKey,
    ) -> BoxFuture<'a, Result<PrivateKeyDer, VaultError>>;
}

impl<T: KeyVault> DynKeyVault for T {
    fn unseal<'a>(
        &'a self,
        kid: &'a str,
        sealed: &'a SealedPrivateKey,
    ) -> BoxFuture<'a, Result<PrivateKeyDer, VaultError>> {
        Box::pin(KeyVault::unseal(self, kid, sealed))
    }
}

/// Cheap to clone; clones share one copy.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Inner>,
}

struct Inner {
    store: Box<dyn DynKeySetStore>,
    /// `None`: this instance only verifies (the authorizer).
    vault: Option<Box<dyn DynKeyVault>>,
    clock: Arc<dyn Clock>,
    timing: KeyRingTiming,
    copy: RwLock<Option<Arc<Copy>>>,
    /// One reload at a time; the others wait for it and take its result.
    reloading: tokio::sync::Mutex<()>,
    background_reload: AtomicBool,
    /// When a reload last failed: a stale copy is then used as it is for a while, rather than
    /// every request waiting on a store that is down.
    last_failure: Mutex<Option<Instant>>,
}

struct Copy {
    keys: KeySet,
    verifying: HashMap<String, VerifyingKey>,
    /// Unsealed keys; one unsealed outside a reload is added, so it is unsealed only once.
    signing: Mutex<HashMap<String, Arc<SigningKey>>>,
    loaded: Instant,
}

impl Copy {
    fn unsealed(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.signing.lock().ok()?.get(kid).cloned()
    }
}

impl KeyRing {
    /// A ring that signs: it unseals private keys with `vault`.
    pub fn signing<S: KeySetStore, V: KeyVault>(
        store: S,
        vault: V,
        clock: Arc<dyn Clock>,
        timing: KeyRingTiming,
    ) -> Self {
        Self::new(Box::new(store), Some(Box::new(vault)), clock, timing)
    }

    /// A ring that only checks signatures.
    pub fn verifying<S: KeySetStore>(
        store: S,
        clock: Arc<dyn Clock>,
        timing: KeyRingTiming,
    ) -> Self {
        Self::new(Box::new(store), None, clock, timing)
    }

    fn new(
        store: Box<dyn DynKeySetStore>,
        vault: Option<Box<dyn DynKeyVault>>,
        clock: Arc<dyn Clock>,
        timing: KeyRingTiming,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                vault,
                clock,
                timing,
                copy: RwLock::new(None),
                reloading: tokio::sync::Mutex::new(()),
                background_reload: AtomicBool::new(false),
                last_failure: Mutex::new(None),
            }),
        }
    }

    /// Reads the key set (again, if it was read before) and unseals the key that signs now.
    /// Nothing needs to call it first: the first use loads the set, once however many ask at
    /// the same time (a Lambda instance leaves it to its first JWT, so an instance that serves
    /// only opaque tokens never reads the set nor calls the vault).
    pub async fn warm_up(&self) -> Result<(), KeyError> {
        let copy = self.inner.reload(Some(Instant::now())).await?;
        if self.inner.vault.is_some() {
            let now = self.inner.clock.now();
            if let Some(record) = copy.keys.signing_key_at(now) {
                self.inner.signing_key(&copy, record).await?;
            }
        }
        Ok(())
    }

    /// The key that signs tokens issued at `time`.
    pub async fn signing_key_at(&self, time: UnixSeconds) -> Result<Arc<SigningKey>, KeyError> {
        if self.inner.vault.is_none() {
            return Err(KeyError::NoVault);
        }
        let mut copy = self.current().await?;
        // A first key may have been created since this copy was read.
        if copy.keys.signing_key_at(time).is_none()
            && copy.loaded.elapsed() >= self.inner.timing.unknown_key_reload
        {
            copy = self.inner.reload(Some(copy.loaded)).await?;
        }
        let record = copy
            .keys
            .signing_key_at(time)
            .ok_or(KeyError::NoSigningKey)?;
        self.inner.signing_key(&copy, record).await
    }

    /// The published key `kid`, or `None` if the set has no such key, even after a reload
    /// (at most one per [`KeyRingTiming::unknown_key_reload`]).
    pub async fn verifying_key(&self, kid: &str) -> Result<Option<VerifyingKey>, KeyError> {
        let copy = self.current().await?;
        if let Some(key) = copy.verifying.get(kid) {
            return Ok(Some(key.clone()));
        }
        if copy.loaded.elapsed() < self.inner.timing.unknown_key_reload {
            return Ok(None);
        }
        let copy = self.inner.reload(Some(copy.loaded)).await?;
        Ok(copy.verifying.get(kid).cloned())
    }

    /// The key set as this instance knows it, for publishing.
    pub async fn key_set(&self) -> Result<KeySet, KeyError> {
        Ok(self.current().await?.keys.clone())
    }

    /// The copy to use now: reloaded first if stale, reloaded beside the request if old. A
    /// stale copy whose reload fails is used all the same: checking signatures and publishing
    /// keys need only its public keys, and a set changes rarely.
    async fn current(&self) -> Result<Arc<Copy>, KeyError> {
        let copy = self.inner.copy.read().ok().and_then(|copy| copy.clone());
        let Some(copy) = copy else {
            return self.inner.reload(None).await;
        };
        let age = copy.loaded.elapsed();
        if age >= self.inner.timing.stale_after && !self.inner.failed_recently() {
            match self.inner.reload(Some(copy.loaded)).await {
                Ok(fresh) => return Ok(fresh),
                Err(error) => {
                    tracing::warn!(error = %error, "signing key set not reloaded; using the copy");
                    return Ok(copy);
                }
            }
        }
        if age >= self.inner.timing.refresh_after
            && !self.inner.background_reload.swap(true, Ordering::AcqRel)
        {
            let reset = BackgroundReloadDone(Arc::clone(&self.inner));
            let seen = copy.loaded;
            tokio::spawn(async move {
                if let Err(error) = reset.0.reload(Some(seen)).await {
                    tracing::warn!(error = %error, "could not reload the signing key set");
                }
                drop(reset);
            });
        }
        Ok(copy)
    }
}

/// Lets the next background reload start when this one ends, even by a panic.
struct BackgroundReloadDone(Arc<Inner>);

impl Drop for BackgroundReloadDone {
    fn drop(&mut self) {
        self.0.background_reload.store(false, Ordering::Release);
    }
}

impl Inner {
    /// Whether a reload failed within the last [`KeyRingTiming::unknown_key_reload`].
    fn failed_recently(&self) -> bool {
        let failed = self.last_failure.lock().ok().and_then(|failed| *failed);
        failed.is_some_and(|failed| failed.elapsed() < self.timing.unknown_key_reload)
    }

    /// Reads the key set again, unless another reload finished after `seen` (the load time of
    /// the copy the caller found too old), whose result is then taken as it is.
    async fn reload(&self, seen: Option<Instant>) -> Result<Arc<Copy>, KeyError> {
        let _only_reload = self.reloading.lock().await;
        let previous = self.copy.read().ok().and_then(|copy| copy.clone());
        if let Some(previous) = &previous
            && seen.is_none_or(|seen| previous.loaded > seen)
        {
            return Ok(Arc::clone(previous));
        }
        let keys = match self.store.load().await {
            Ok(keys) => keys,
            Err(error) => {
                if let Ok(mut failed) = self.last_failure.lock() {
                    *failed = Some(Instant::now());
                }
                return Err(error.into());
            }
        };
        let verifying = keys
            .keys
            .iter()
            .filter_map(|key| Some((key.kid.clone(), VerifyingKey::from_jwk(&key.public)?)))
            .collect();
        // Keys already unsealed stay so; the current and the next key are unsealed now, so a
        // switch finds its key ready. One that will not unseal is left for signing to try
        // again (and fail on its own): the copy's public keys are good all the same.
        let mut signing: HashMap<String, Arc<SigningKey>> = previous
            .and_then(|previous| previous.signing.lock().ok().map(|keys| keys.clone()))
            .unwrap_or_default();
        signing.retain(|kid, _| keys.find(kid).is_some());
        if self.vault.is_some() {
            let now = self.clock.now();
            let current_from = keys.signing_key_at(now).map_or(0, |key| key.signs_from);
            for record in keys
                .keys
                .iter()
                .filter(|key| key.signs_from >= current_from)
            {
                if signing.contains_key(&record.kid) {
                    continue;
                }
                match self.unseal(record).await {
                    Ok(key) => {
                        signing.insert(record.kid.clone(), Arc::new(key));
                    }
                    Err(error) => {
                        tracing::error!(kid = %record.kid, error = %error, "signing key not unsealed");
                    }
                }
            }
        }
        let copy = Arc::new(Copy {
            keys,
            verifying,
            signing: Mutex::new(signing),
            loaded: Instant::now(),
        });
        if let Ok(mut slot) = self.copy.write() {
            *slot = Some(Arc::clone(&copy));
        }
        Ok(copy)
    }

    /// The unsealed key of `record`, unsealing it now if no reload did (a key that signs at a
    /// time the copy did not expect, such as a retry's issue time).
    async fn signing_key(
        &self,
        copy: &Copy,
        record: &SigningKeyRecord,
    ) -> Result<Arc<SigningKey>, KeyError> {
        if let Some(key) = copy.unsealed(&record.kid) {
            return Ok(key);
        }
        let key = Arc::new(self.unseal(record).await?);
        if let Ok(mut signing) = copy.signing.lock() {
            signing.insert(record.kid.clone(), Arc::clone(&key));
        }
        Ok(key)
    }

    async fn unseal(&self, record: &SigningKeyRecord) -> Result<SigningKey, KeyError> {
        let vault = self.vault.as_ref().ok_or(KeyError::NoVault)?;
        let started = Instant::now();
        let der = vault.unseal(&record.kid, &record.sealed_private).await?;
        let key = SigningKey::from_private_der(&record.kid, &der)?;
        tracing::info!(
            kid = %record.kid,
            unseal_ms = started.elapsed().as_secs_f64() * 1000.0,
            "signing key unsealed"
        );
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::domain::clock::SystemClock;
    use crate::domain::signing::{KeySetSaved, new_signing_key};

    /// A key set in memory that counts its reads.
    #[derive(Clone, Default)]
    struct CountingStore {
        keys: Arc<Mutex<KeySet>>,
        reads: Arc<AtomicUsize>,
        down: Arc<AtomicBool>,
    }

    impl KeySetStore for CountingStore {
        async fn signing_keys(&self) -> Result<KeySet, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("down".into()));
            }
            Ok(self
                .keys
                .lock()
                .map(|keys| keys.clone())
                .unwrap_or_default())
        }

        async fn save_signing_keys(&self, keys: &KeySet) -> Result<KeySetSaved, StoreError> {
            if let Ok(mut stored) = self.keys.lock() {
                *stored = keys.clone();
            }
            Ok(KeySetSaved::Saved)
        }
    }

    /// Seals nothing: the domain's rules are under test here, not a vault's.
    struct PlainVault;

    impl KeyVault for PlainVault {
        async fn seal(&self, _: &str, key: &PrivateKeyDer) -> Result<SealedPrivateKey, VaultError> {
            Ok(SealedPrivateKey(key.expose().to_vec()))
        }

        async fn unseal(
            &self,
            _: &str,
            sealed: &SealedPrivateKey,
        ) -> Result<PrivateKeyDer, VaultError> {
            Ok(PrivateKeyDer::new(sealed.0.clone()))
        }
    }

    async fn add_key(store: &CountingStore, signs_from: UnixSeconds) -> String {
        let key = new_signing_key(&PlainVault, signs_from, signs_from).await;
        let key = key.unwrap_or_else(|error| panic!("{error}"));
        let kid = key.kid.clone();
        let keys = store
            .keys
            .lock()
            .map(|keys| keys.clone())
            .unwrap_or_default();
        let saved = store
            .save_signing_keys(&keys.with_key(key, signs_from))
            .await;
        assert!(saved.is_ok());
        kid
    }

    #[tokio::test]
    async fn a_rotation_reaches_a_running_ring_beside_requests_not_in_front_of_them() {
        let store = CountingStore::default();
        let now = SystemClock.now();
        let old = add_key(&store, now - 10).await;
        // A copy goes stale only after a minute, so a busy machine that starves this test for
        // a second cannot turn the reload beside requests into one in front of them.
        let timing = KeyRingTiming {
            stale_after: Duration::from_secs(60),
            ..KeyRingTiming::refreshing_every(Duration::from_millis(250))
        };
        let ring = KeyRing::signing(store.clone(), PlainVault, Arc::new(SystemClock), timing);
        let signer = |ring: KeyRing| async move {
            let key = ring.signing_key_at(now).await;
            key.map(|key| key.kid().to_owned())
                .unwrap_or_else(|error| panic!("{error}"))
        };
        let reads = || store.reads.load(Ordering::SeqCst);

        assert_eq!(signer(ring.clone()).await, old);
        assert_eq!(signer(ring.clone()).await, old);
        assert_eq!(reads(), 1, "a fresh copy is used as it is");

        let new = add_key(&store, now - 5).await;
        tokio::time::sleep(timing.refresh_after).await;
        // Old enough to reload: the request goes on with the copy it has...
        assert_eq!(signer(ring.clone()).await, old);
        // ...while the reload runs beside it, and a request after it has the new key. Polled
        // for up to 5 s: the reload is a spawned task, late on a busy machine.
        let mut signing = old.clone();
        for _ in 0..1000 {
            if reads() == 2 {
                signing = signer(ring.clone()).await;
                if signing == new {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(signing, new);
        assert_eq!(reads(), 2, "requests during the reload start no other");
        // The retired key still verifies the tokens it signed.
        assert!(matches!(ring.verifying_key(&old).await, Ok(Some(_))));
    }

    /// Counts the keys it unseals.
    #[derive(Clone, Default)]
    struct CountingVault(Arc<AtomicUsize>);

    impl KeyVault for CountingVault {
        async fn seal(
            &self,
            kid: &str,
            key: &PrivateKeyDer,
        ) -> Result<SealedPrivateKey, VaultError> {
            KeyVault::seal(&PlainVault, kid, key).await
        }

        async fn unseal(
            &self,
            kid: &str,
            sealed: &SealedPrivateKey,
        ) -> Result<PrivateKeyDer, VaultError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            KeyVault::unseal(&PlainVault, kid, sealed).await
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_first_uses_of_a_cold_ring_read_the_set_once_and_unseal_once() {
        let store = CountingStore::default();
        let now = SystemClock.now();
        let kid = add_key(&store, now - 10).await;
        let vault = CountingVault::default();
        let timing = KeyRingTiming::default();
        let ring = KeyRing::signing(store.clone(), vault.clone(), Arc::new(SystemClock), timing);
        assert_eq!(
            store.reads.load(Ordering::SeqCst),
            0,
            "built without a read"
        );

        let mut uses = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let ring = ring.clone();
            uses.spawn(async move {
                ring.signing_key_at(now)
                    .await
                    .map(|key| key.kid().to_owned())
            });
        }
        while let Some(used) = uses.join_next().await {
            assert_eq!(
                used.ok().and_then(Result::ok).as_deref(),
                Some(kid.as_str())
            );
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
        assert_eq!(vault.0.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_unknown_kid_reloads_at_most_once_per_interval_and_a_stale_copy_first() {
        let store = CountingStore::default();
        add_key(&store, SystemClock.now()).await;
        let timing = KeyRingTiming {
            refresh_after: Duration::from_secs(60),
            stale_after: Duration::from_millis(600),
            unknown_key_reload: Duration::from_millis(200),
        };
        let ring = KeyRing::verifying(store.clone(), Arc::new(SystemClock), timing);
        let reads = || store.reads.load(Ordering::SeqCst);

        assert!(matches!(ring.verifying_key("unknown").await, Ok(None)));
        assert!(matches!(ring.verifying_key("unknown").await, Ok(None)));
        assert_eq!(reads(), 1, "a flood of unknown kids costs no reads");
        tokio::time::sleep(timing.unknown_key_reload).await;
        assert!(matches!(ring.verifying_key("unknown").await, Ok(None)));
        assert_eq!(reads(), 2);
        // A copy past stale_after is read again before it is used.
        tokio::time::sleep(timing.stale_after).await;
        assert!(ring.key_set().await.is_ok());
        assert_eq!(reads(), 3);
        // If that read fails, the stale copy still verifies, and requests do not queue on a
        // store that is down.
        store.down.store(true, Ordering::SeqCst);
        tokio::time::sleep(timing.stale_after).await;
        assert_eq!(
            ring.key_set().await.map(|keys| keys.keys.len()).ok(),
            Some(1)
        );
        assert_eq!(
            ring.key_set().await.map(|keys| keys.keys.len()).ok(),
            Some(1)
        );
        assert_eq!(reads(), 4);
        // A ring that only verifies cannot sign.
        assert!(matches!(
            ring.signing_key_at(SystemClock.now()).await,
            Err(KeyError::NoVault)
        ));
    }
}
