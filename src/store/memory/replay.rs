//! The memory store's [`ReplayStore`]: used `jti`s until they expire, at most
//! [`REPLAY_RECORDS_KEPT`] of them.

use std::collections::{HashMap, VecDeque};

use super::MemoryStore;
use crate::domain::clock::UnixSeconds;
use crate::domain::jose::ReplayKey;
use crate::domain::store::{ReplayStore, StoreError};

/// The most live records kept. Past it a new proof or assertion is refused as if the store
/// were unavailable, never accepted unrecorded: forgetting a live record would let it replay.
pub const REPLAY_RECORDS_KEPT: usize = 100_000;

/// Records by key, and their keys in the order they were written (which is nearly the order
/// they expire in: every record lives about a minute).
#[derive(Default)]
pub(super) struct ReplayRecords {
    expiry: HashMap<ReplayKey, UnixSeconds>,
    order: VecDeque<ReplayKey>,
}

impl ReplayRecords {
    /// Drops expired records from the front; a longer-lived one there waits its turn.
    fn sweep(&mut self, now: UnixSeconds) {
        while let Some(oldest) = self.order.front() {
            if self.expiry.get(oldest).is_some_and(|&until| now < until) {
                break;
            }
            if let Some(oldest) = self.order.pop_front() {
                self.expiry.remove(&oldest);
            }
        }
    }

    fn record_once(
        &mut self,
        key: &ReplayKey,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        self.sweep(now);
        if self.expiry.get(key).is_some_and(|&until| now < until) {
            return Ok(false);
        }
        if self.expiry.insert(key.clone(), expires_at).is_none() {
            if self.order.len() >= REPLAY_RECORDS_KEPT {
                self.expiry.remove(key);
                return Err(StoreError::Unavailable(
                    "too many live replay records".into(),
                ));
            }
            self.order.push_back(key.clone());
        }
        Ok(true)
    }
}

impl ReplayStore for MemoryStore {
    async fn record_once(
        &self,
        key: &ReplayKey,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        self.replays
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))?
            .record_once(key, expires_at, now)
    }
}
