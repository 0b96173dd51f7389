//! JWT signing in tests: one in-process vault and one signing key per test binary (RSA key
//! generation takes a while), published into a store's key set on demand.

use std::sync::LazyLock;

use token_endpoint::domain::clock::{Clock, SystemClock};
use token_endpoint::domain::signing::{
    KeySet, KeySetSaved, KeySetStore, SigningKeyRecord, new_signing_key,
};
use token_endpoint::vault::InProcessVault;
use tokio::sync::OnceCell;

static VAULT: LazyLock<InProcessVault> =
    LazyLock::new(|| InProcessVault::new().unwrap_or_else(|e| panic!("test vault: {e}")));

static KEY: OnceCell<SigningKeyRecord> = OnceCell::const_new();

/// The vault every test service unseals its keys with.
pub fn vault() -> InProcessVault {
    VAULT.clone()
}

/// The test signing key, sealed by [`vault`], signing since long ago.
pub async fn signing_key() -> SigningKeyRecord {
    KEY.get_or_init(|| async {
        new_signing_key(&vault(), 0, 0)
            .await
            .unwrap_or_else(|e| panic!("test signing key: {e}"))
    })
    .await
    .clone()
}

/// Makes [`signing_key`] the only key of `store`'s set, if it has none yet.
pub async fn publish_signing_key<S: KeySetStore>(store: &S) -> SigningKeyRecord {
    let key = signing_key().await;
    let keys = KeySet::default().with_key(key.clone(), SystemClock.now());
    match store.save_signing_keys(&keys).await {
        Ok(KeySetSaved::Saved | KeySetSaved::Conflict) => key,
        Err(error) => panic!("publishing the test signing key: {error}"),
    }
}
