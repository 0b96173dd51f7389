//! The JWT signing key use cases, over any [`KeySetStore`] and [`KeyVault`]: making sure a key
//! exists, rotating, revoking a leaked key, and listing the keys for operators (never their
//! sealed private halves).
//!
//! Every change is a conditional save of the whole set over the version it read, so two
//! administrators (or two deployments) acting at once cannot lose one another's key: the one
//! whose save finds the set changed reads it again and decides again.

use super::admin::Admin;
use super::error::AdminError;
use crate::domain::clock::UnixSeconds;
use crate::domain::signing::{
    KeyId, KeySet, KeySetSaved, KeySetStore, KeyVault, SigningKeyRecord, new_signing_key,
};
use crate::domain::store::StoreError;

/// Reads and saves of one rotation before it gives up on a set that keeps changing.
pub const KEY_SET_SAVE_ATTEMPTS: u32 = 3;

/// What [`Admin::ensure_signing_key`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsuredSigningKey {
    /// The key that signs now (or, if none does yet, the newest).
    pub kid: KeyId,
    /// `false`: the set had keys already.
    pub created: bool,
}

/// What [`Admin::rotate_signing_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatedSigningKey {
    pub kid: KeyId,
    /// From then on it signs; it is published at once.
    pub signs_from: UnixSeconds,
    /// The version of the set saved.
    pub version: u64,
    /// The other keys of the saved set, by `signs_from`.
    pub kept: Vec<KeyId>,
    /// Dropped from the set: retired long enough ago that no token they signed is live.
    pub pruned: Vec<KeyId>,
    /// Dropped from the set before they ever signed: an earlier rotation's keys, pending to
    /// sign no earlier than the new key, which takes their place (a rotation with a shorter
    /// delay, or two rotations within the same second).
    pub superseded: Vec<KeyId>,
    /// How many times the save found the set changed by someone else and was made again.
    pub retries: u32,
}

/// What [`Admin::revoke_signing_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedSigningKey {
    pub kid: KeyId,
    /// The key that took the revoked one's place because that one signed at the time (or was
    /// the only key): it signs at once.
    pub replacement: Option<KeyId>,
    /// The version of the set saved.
    pub version: u64,
    /// How many times the save found the set changed by someone else and was made again.
    pub retries: u32,
}

/// Where a key is in its life at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet.
    Pending,
    Signing,
    /// Signed until `at`, when the next key started; published while its tokens may live.
    Retired {
        at: UnixSeconds,
    },
}

/// A signing key as an operator sees it: never its private half, sealed or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyDetails {
    pub kid: KeyId,
    pub created_at: UnixSeconds,
    pub signs_from: UnixSeconds,
    pub state: KeyState,
}

/// The stored key set, by `signs_from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySetDetails {
    pub version: u64,
    pub keys: Vec<SigningKeyDetails>,
}

impl<S: KeySetStore> Admin<S> {
    /// Creates a signing key if the set has none, signing at once: nothing can have cached an
    /// empty set, so there is nothing to wait for. Safe to run again and at once with others:
    /// if another run saves first, its key is the one.
    pub async fn ensure_signing_key<V: KeyVault>(
        &self,
        vault: &V,
        now: UnixSeconds,
    ) -> Result<EnsuredSigningKey, AdminError> {
        let current = self.store.signing_keys().await?;
        if let Some(existing) = current_kid(&current, now) {
            return Ok(existing);
        }
        let key = new_signing_key(vault, now, now).await?;
        let kid = key.kid.clone();
        match self
            .store
            .save_signing_keys(&current.with_key(key, now))
            .await?
        {
            KeySetSaved::Saved => Ok(EnsuredSigningKey { kid, created: true }),
            KeySetSaved::Conflict => {
                let current = self.store.signing_keys().await?;
                current_kid(&current, now).ok_or(AdminError::KeySetContended { attempts: 1 })
            }
        }
    }

    /// Adds a new key that signs from `now + propagation_delay` (but never from the start of a
    /// key that has signed), published at once so that verifiers have it before it signs; the
    /// current key signs until then. Keys retired long ago are pruned, and pending keys that would start no
    /// earlier are superseded. In an empty set the key signs at once, as
    /// [`Self::ensure_signing_key`] makes it. If the set changed since it was read (another
    /// rotation), reads it again, up to [`KEY_SET_SAVE_ATTEMPTS`] times.
    pub async fn rotate_signing_key<V: KeyVault>(
        &self,
        vault: &V,
        now: UnixSeconds,
        propagation_delay: u64,
    ) -> Result<RotatedSigningKey, AdminError> {
        let publish_first = now.saturating_add(propagation_delay);
        // Generated and sealed once: only when it starts signing depends on what is read.
        let mut key = new_signing_key(vault, now, publish_first).await?;
        for retries in 0..KEY_SET_SAVE_ATTEMPTS {
            let current = self.store.signing_keys().await?;
            // Nothing can have cached an empty set: its first key signs at once.
            key.signs_from = match current.keys.is_empty() {
                true => now,
                false => publish_first,
            };
            let next = current.with_key(key.clone(), now);
            if self.store.save_signing_keys(&next).await? == KeySetSaved::Saved {
                // As `with_key` placed it (a second after a key that started this second).
                let placed = next.keys.last().unwrap_or(&key);
                return Ok(rotated(placed, &current, &next, retries));
            }
        }
        Err(AdminError::KeySetContended {
            attempts: KEY_SET_SAVE_ATTEMPTS,
        })
    }

    /// Withdraws the key `kid` (a leaked one) from the set: no longer published, so verifiers
    /// that read the set again refuse its tokens, and no longer signing. If it signs at `now`
    /// (or is the only key), a new key takes its place in the set, with its `signs_from`: it
    /// signs at once, until the next key starts as planned, and a retried refresh of a token
    /// issued before re-signs with it. A retired or pending key is only removed. Reads again
    /// if the set changed since it was read, as a rotation does.
    pub async fn revoke_signing_key<V: KeyVault>(
        &self,
        vault: &V,
        kid: &str,
        now: UnixSeconds,
    ) -> Result<RevokedSigningKey, AdminError> {
        // Generated and sealed at most once, and only if it is needed.
        let mut replacement: Option<SigningKeyRecord> = None;
        for retries in 0..KEY_SET_SAVE_ATTEMPTS {
            let current = self.store.signing_keys().await?;
            let Some(revoked) = current.find(kid) else {
                return Err(StoreError::NotFound(format!("signing key {kid}")).into());
            };
            let signing = current.signing_key_at(now).map(|key| key.kid.as_str());
            let replace = signing == Some(kid) || current.keys.len() == 1;
            if replace && replacement.is_none() {
                replacement = Some(new_signing_key(vault, now, revoked.signs_from).await?);
            }
            let keys = current
                .keys
                .iter()
                .filter_map(|key| match key.kid == kid {
                    false => Some(key.clone()),
                    true => replacement.clone().filter(|_| replace),
                })
                .collect();
            let next = KeySet {
                version: current.version + 1,
                keys,
            };
            if self.store.save_signing_keys(&next).await? == KeySetSaved::Saved {
                return Ok(RevokedSigningKey {
                    kid: kid.to_owned(),
                    replacement: replacement.filter(|_| replace).map(|new| new.kid),
                    version: next.version,
                    retries,
                });
            }
        }
        Err(AdminError::KeySetContended {
            attempts: KEY_SET_SAVE_ATTEMPTS,
        })
    }

    /// The stored keys and the state of each at `now`.
    pub async fn signing_keys(&self, now: UnixSeconds) -> Result<KeySetDetails, AdminError> {
        let set = self.store.signing_keys().await?;
        let keys = set
            .keys
            .iter()
            .enumerate()
            .map(|(index, key)| SigningKeyDetails {
                kid: key.kid.clone(),
                created_at: key.created_at,
                signs_from: key.signs_from,
                state: match set.retired_at(index) {
                    _ if now < key.signs_from => KeyState::Pending,
                    Some(at) if at <= now => KeyState::Retired { at },
                    _ => KeyState::Signing,
                },
            })
            .collect();
        Ok(KeySetDetails {
            version: set.version,
            keys,
        })
    }
}

/// The key that signs at `now`, or the newest if none does yet; `None` for an empty set.
fn current_kid(set: &KeySet, now: UnixSeconds) -> Option<EnsuredSigningKey> {
    set.signing_key_at(now)
        .or(set.keys.last())
        .map(|key| EnsuredSigningKey {
            kid: key.kid.clone(),
            created: false,
        })
}

fn rotated(
    key: &SigningKeyRecord,
    before: &KeySet,
    after: &KeySet,
    retries: u32,
) -> RotatedSigningKey {
    let kept: Vec<KeyId> = after
        .keys
        .iter()
        .filter(|kept| kept.kid != key.kid)
        .map(|kept| kept.kid.clone())
        .collect();
    let (superseded, pruned): (Vec<&SigningKeyRecord>, Vec<&SigningKeyRecord>) = before
        .keys
        .iter()
        .filter(|old| !kept.contains(&old.kid))
        .partition(|dropped| dropped.signs_from >= key.signs_from);
    let kids = |keys: Vec<&SigningKeyRecord>| keys.into_iter().map(|k| k.kid.clone()).collect();
    RotatedSigningKey {
        kid: key.kid.clone(),
        signs_from: key.signs_from,
        version: after.version,
        kept,
        pruned: kids(pruned),
        superseded: kids(superseded),
        retries,
    }
}

#[cfg(test)]
mod tests;
