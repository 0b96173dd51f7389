//! The password attempts of the memory store: one [`LoginRecord`] per username, changed under
//! the store's lock. An attempt that must wait for attempts in flight sleeps until one of them
//! ends (a [`Notify`](tokio::sync::Notify) every settlement wakes), never polling.

use tokio::time::Instant;

use super::MemoryStore;
use crate::domain::clock::UnixSeconds;
use crate::domain::login_throttle::{Admission, AttemptKeys, AttemptRequest, Settlement};
use crate::domain::store::{LoginAttemptStore, StoreError};

impl MemoryStore {
    fn try_login_attempt(
        &self,
        attempt: &AttemptRequest,
        waited: bool,
    ) -> Result<Admission, StoreError> {
        let mut data = self.lock()?;
        data.wrote(attempt.now);
        let record = data
            .login_records
            .entry(attempt.keys.per_username.clone())
            .or_default();
        Ok(record.admit(attempt, waited))
    }
}

impl LoginAttemptStore for MemoryStore {
    async fn take_login_attempt(&self, attempt: &AttemptRequest) -> Result<Admission, StoreError> {
        let give_up = Instant::now() + attempt.max_wait;
        let mut waited = false;
        loop {
            // Registered before looking, so a settlement between the look and the wait still
            // wakes this attempt.
            let settled = self.attempt_settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            match self.try_login_attempt(attempt, waited)? {
                Admission::Busy => {
                    if tokio::time::timeout_at(give_up, settled).await.is_err() {
                        return Ok(Admission::Busy);
                    }
                    waited = true;
                }
                decided => return Ok(decided),
            }
        }
    }

    async fn settle_login_attempt(&self, settlement: &Settlement) -> Result<u32, StoreError> {
        let failures = {
            let mut data = self.lock()?;
            data.wrote(settlement.now);
            match data.login_records.get_mut(&settlement.keys.per_username) {
                Some(record) => record.settle(settlement),
                None => 0,
            }
        };
        self.attempt_settled.notify_waiters();
        Ok(failures)
    }

    async fn note_refused_login_attempt(
        &self,
        keys: &AttemptKeys,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        let mut data = self.lock()?;
        if let Some(record) = data
            .login_records
            .get_mut(&keys.per_username)
            .filter(|record| now < record.expires_at)
        {
            record.refused = record.refused.saturating_add(1);
        }
        Ok(())
    }
}
