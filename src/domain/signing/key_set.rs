//! The key set: every key that signs, will sign or signed tokens that may still be live, the
//! rules of a rotation through it, and the port that stores it.

use std::fmt;
use std::future::Future;

use crate::domain::clock::UnixSeconds;
use crate::domain::store::StoreError;

/// A key's id (`kid`): its RFC 7638 JWK thumbprint.
pub type KeyId = String;

/// No access token lives longer than this, so no retired key needs keeping longer.
pub const MAX_ACCESS_TOKEN_LIFETIME: u64 = 24 * 3600;

/// A retired key is dropped from storage this long after it stopped signing: every token it
/// signed expired long before.
pub const RETIRED_KEY_RETENTION: u64 = 2 * MAX_ACCESS_TOKEN_LIFETIME;

/// Published beyond the expiry of the last token a key could have signed: an instance whose
/// cached key set is at most [`super::KeyRingTiming::stale_after`] old may sign with it a little after
/// its retirement, and clocks differ.
pub const PUBLICATION_MARGIN: u64 = 600;

/// An RSA public key as a JWK's `n` and `e` (RFC 7518 §6.3.1), base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    pub n: String,
    pub e: String,
}

/// A private key as the vault sealed it: opaque bytes, safe to store.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedPrivateKey(pub Vec<u8>);

impl fmt::Debug for SealedPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedPrivateKey({} bytes)", self.0.len())
    }
}

/// One key of the set, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: KeyId,
    pub public: PublicJwk,
    pub sealed_private: SealedPrivateKey,
    pub created_at: UnixSeconds,
    /// Signs tokens issued from then until the next key's `signs_from`.
    pub signs_from: UnixSeconds,
}

/// Every key that signs, will sign, or signed tokens that may still be live, ordered by
/// `signs_from`. `version` counts the writes, so that two rotations cannot both succeed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    pub version: u64,
    pub keys: Vec<SigningKeyRecord>,
}

impl KeySet {
    /// The key that signs tokens issued at `time`.
    pub fn signing_key_at(&self, time: UnixSeconds) -> Option<&SigningKeyRecord> {
        self.keys.iter().rev().find(|key| key.signs_from <= time)
    }

    pub fn find(&self, kid: &str) -> Option<&SigningKeyRecord> {
        self.keys.iter().find(|key| key.kid == kid)
    }

    /// When the key at `index` stops signing: when the next one starts.
    pub fn retired_at(&self, index: usize) -> Option<UnixSeconds> {
        self.keys.get(index + 1).map(|next| next.signs_from)
    }

    /// The keys a verifier needs at `now`: those that sign or will sign, and those retired
    /// for less than `longest_token_lifetime` (plus [`PUBLICATION_MARGIN`]).
    pub fn published_at(
        &self,
        now: UnixSeconds,
        longest_token_lifetime: u64,
    ) -> Vec<&SigningKeyRecord> {
        (0..self.keys.len())
            .filter(|&index| {
                self.retired_at(index).is_none_or(|retired| {
                    now < retired
                        .saturating_add(longest_token_lifetime)
                        .saturating_add(PUBLICATION_MARGIN)
                })
            })
            .filter_map(|index| self.keys.get(index))
            .collect()
    }

    /// The set with `key` added, without the keys retired more than [`RETIRED_KEY_RETENTION`]
    /// before `now`. `key` signs from its `signs_from`, but never from the start of the key
    /// that signs at `now` or earlier: that key, and the tokens it signed, would be dropped (a
    /// rotation without delay within the same second starts a second later instead).
    pub fn with_key(&self, mut key: SigningKeyRecord, now: UnixSeconds) -> KeySet {
        if let Some(signing) = self.signing_key_at(now) {
            key.signs_from = key.signs_from.max(signing.signs_from.saturating_add(1));
        }
        let mut kept: Vec<SigningKeyRecord> = (0..self.keys.len())
            .filter(|&index| {
                self.retired_at(index)
                    .is_none_or(|retired| now < retired.saturating_add(RETIRED_KEY_RETENTION))
            })
            .filter_map(|index| self.keys.get(index).cloned())
            .collect();
        // A pending key that would never sign (the new one starts no later) is dropped.
        kept.retain(|existing| existing.signs_from < key.signs_from);
        kept.push(key);
        KeySet {
            version: self.version + 1,
            keys: kept,
        }
    }
}

/// Outcome of [`KeySetStore::save_signing_keys`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySetSaved {
    Saved,
    /// Someone else changed the set since it was read: nothing was written.
    Conflict,
}

/// Where the key set is kept (the credentials table, or memory).
pub trait KeySetStore: Send + Sync + 'static {
    /// The stored set, read consistently; an empty set with version 0 if none was saved.
    fn signing_keys(&self) -> impl Future<Output = Result<KeySet, StoreError>> + Send;

    /// Replaces the stored set with `keys` if the stored one still has version
    /// `keys.version - 1` (none counts as version 0).
    fn save_signing_keys(
        &self,
        keys: &KeySet,
    ) -> impl Future<Output = Result<KeySetSaved, StoreError>> + Send;
}
