//! One username's password attempts, as one record: the rules of
//! [`super::login_throttle`] over it, free of any store.
//!
//! The memory store applies them directly under its lock. The DynamoDB adapter writes the same
//! decisions as conditional updates of one item, and when a condition refuses, reads the item
//! it got back through [`LoginRecord::obstacle`] to learn why, so both stores decide alike.
//!
//! Counts hold failures and attempts in flight together (`used`), beside the attempts in flight
//! alone (`in_flight`): a condition can compare a stored number but not a sum, and the
//! failures are the difference.

use std::collections::BTreeMap;

use super::clock::UnixSeconds;
use super::login_throttle::{
    Admission, AttemptRequest, MAX_TRACKED_ADDRESSES, Outcome, Settlement, Ticket,
};

/// One username's attempts from every source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginRecord {
    /// Consecutive failures (since the last success) and attempts in flight, from every source.
    pub used: u32,
    pub in_flight: u32,
    /// The latest admission's hold: once it has passed, every attempt still counted in flight
    /// belongs to a request that died.
    pub hold_until: UnixSeconds,
    /// Past the ceiling, no source but a known one is admitted before then.
    pub locked_until: UnixSeconds,
    /// Attempts refused unchecked (locked), for the record.
    pub refused: u64,
    /// The record reads as absent from then on.
    pub expires_at: UnixSeconds,
    /// Entries by address key (at most [`MAX_TRACKED_ADDRESSES`]).
    pub addresses: BTreeMap<String, AddressRecord>,
}

/// One source's attempts for the username.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressRecord {
    /// Consecutive failures and attempts in flight from this source.
    pub used: u32,
    pub in_flight: u32,
    pub locked_until: UnixSeconds,
    /// The failures are forgotten from then on (the entry stays while it is known).
    pub expires_at: UnixSeconds,
    /// The username logged in from here; known until then.
    pub known_until: UnixSeconds,
}

impl AddressRecord {
    /// Nothing in it matters any more at `now`: it may make room for another address.
    fn idle(&self, now: UnixSeconds) -> bool {
        self.in_flight == 0 && self.expires_at <= now && self.known_until <= now
    }
}

/// Why an attempt was not admitted as it stands, in the order it is looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Obstacle {
    /// The record has expired: it starts again.
    Expired,
    /// Attempts are counted in flight past every hold (requests that died): give them back.
    Stale,
    /// The source's failures have expired: forget them (known status stays).
    AddressExpired,
    /// The source has no entry and there is no room. These entries (possibly none) can be
    /// forgotten to make some; without any, the attempt goes untracked.
    Full { idle: Vec<String> },
    /// A lock refuses the attempt.
    Locked { username_wide: bool },
    /// Attempts in flight hold every slot: wait for their outcome.
    Busy,
}

impl LoginRecord {
    /// What stands in the way of `attempt` from `address` (`None`: untracked), if anything.
    /// An attempt that `waited` for attempts in flight which then failed, using up the free
    /// ones (or the username's ceiling), is refused as locked: it does not take the next slot
    /// from the failures it waited behind, so a burst of guesses still holds back a right
    /// password sent among them, as it did before attempts waited.
    pub fn obstacle(
        &self,
        attempt: &AttemptRequest,
        address: Option<&str>,
        waited: bool,
    ) -> Option<Obstacle> {
        let now = attempt.now;
        if self.expires_at <= now && *self != Self::default() {
            return Some(Obstacle::Expired);
        }
        if self.hold_until <= now && self.in_flight > 0 {
            return Some(Obstacle::Stale);
        }
        let entry = address.and_then(|address| self.addresses.get(address));
        if entry.is_some_and(|entry| entry.expires_at <= now && entry.used > 0) {
            return Some(Obstacle::AddressExpired);
        }
        if address.is_some() && entry.is_none() && self.addresses.len() >= MAX_TRACKED_ADDRESSES {
            let idle = self
                .addresses
                .iter()
                .filter(|(_, entry)| entry.idle(now))
                .map(|(address, _)| address.clone())
                .collect();
            return Some(Obstacle::Full { idle });
        }
        let entry = entry.copied().unwrap_or_default();
        if entry.locked_until > now {
            return Some(Obstacle::Locked {
                username_wide: false,
            });
        }
        let known = entry.known_until > now;
        let entry_failures = entry.used.saturating_sub(entry.in_flight);
        if waited && entry_failures >= attempt.free_attempts && address.is_some() {
            return Some(Obstacle::Locked {
                username_wide: false,
            });
        }
        let past_ceiling = !known && self.used >= attempt.username_ceiling;
        let failures_past_ceiling = !known && self.failures() >= attempt.username_ceiling;
        if past_ceiling && (self.locked_until > now || (waited && failures_past_ceiling)) {
            return Some(Obstacle::Locked {
                username_wide: true,
            });
        }
        let address_busy = entry.used >= attempt.free_attempts && entry.in_flight > 0;
        if address_busy || (past_ceiling && self.in_flight > 0) {
            return Some(Obstacle::Busy);
        }
        None
    }

    /// Takes `attempt` if it may be, as the memory store does under its lock: clears what has
    /// expired or died on the way, as the DynamoDB adapter does with a write for each.
    /// `waited`: the attempt looks again after waiting for attempts in flight.
    pub fn admit(&mut self, attempt: &AttemptRequest, waited: bool) -> Admission {
        let mut address = attempt.keys.address.clone();
        loop {
            match self.obstacle(attempt, address.as_deref(), waited) {
                None => return Admission::Admitted(self.take(attempt, address.as_deref())),
                Some(Obstacle::Expired) => *self = Self::default(),
                Some(Obstacle::Stale) => self.reclaim(),
                Some(Obstacle::AddressExpired) => {
                    if let Some(entry) = address.as_ref().and_then(|a| self.addresses.get_mut(a)) {
                        entry.used = 0;
                        entry.locked_until = 0;
                    }
                }
                Some(Obstacle::Full { idle }) if idle.is_empty() => address = None,
                Some(Obstacle::Full { idle }) => {
                    for address in idle {
                        self.addresses.remove(&address);
                    }
                }
                Some(Obstacle::Locked { username_wide }) => {
                    return Admission::Locked { username_wide };
                }
                Some(Obstacle::Busy) => return Admission::Busy,
            }
        }
    }

    /// Gives back every attempt counted in flight: their requests died.
    pub fn reclaim(&mut self) {
        self.used = self.used.saturating_sub(self.in_flight);
        self.in_flight = 0;
        for entry in self.addresses.values_mut() {
            entry.used = entry.used.saturating_sub(entry.in_flight);
            entry.in_flight = 0;
        }
    }

    fn take(&mut self, attempt: &AttemptRequest, address: Option<&str>) -> Ticket {
        self.used = self.used.saturating_add(1);
        self.in_flight = self.in_flight.saturating_add(1);
        self.hold_until = attempt.hold_until;
        self.expires_at = attempt.record_expires_at;
        let entry = address.map(|address| {
            let entry = self.addresses.entry(address.to_owned()).or_default();
            entry.used = entry.used.saturating_add(1);
            entry.in_flight = entry.in_flight.saturating_add(1);
            entry.expires_at = attempt.address_expires_at;
            *entry
        });
        Ticket {
            number: entry.map_or(0, |entry| entry.used),
            username_number: self.used,
            tracked: entry.is_some(),
            known_source: entry.is_some_and(|entry| entry.known_until > attempt.now),
        }
    }

    /// Records how an admitted attempt ended, and returns the username's consecutive failures
    /// after it. An attempt no longer counted in flight (given back as a request that died)
    /// changes nothing.
    pub fn settle(&mut self, settlement: &Settlement) -> u32 {
        let ticket = settlement.ticket;
        let entry = match &settlement.keys.address {
            Some(address) if ticket.tracked => match self.addresses.get_mut(address) {
                Some(entry) if entry.in_flight > 0 => Some(entry),
                _ => return self.failures(),
            },
            _ => None,
        };
        if self.in_flight == 0 {
            return self.failures();
        }
        match settlement.outcome {
            Outcome::Failed {
                locked_until,
                address_expires_at,
                username_locked_until,
            } => {
                if let Some(entry) = entry {
                    entry.in_flight -= 1;
                    if locked_until > 0 {
                        entry.locked_until = locked_until;
                    }
                    entry.expires_at = address_expires_at;
                }
                if username_locked_until > 0 {
                    self.locked_until = username_locked_until;
                }
            }
            Outcome::Succeeded {
                known_until,
                address_expires_at,
            } => {
                if let Some(entry) = entry {
                    entry.in_flight -= 1;
                    entry.used = entry.in_flight;
                    entry.locked_until = 0;
                    entry.known_until = known_until;
                    entry.expires_at = address_expires_at;
                }
                self.used = self.in_flight - 1;
                self.locked_until = 0;
            }
            Outcome::Unchecked => {
                if let Some(entry) = entry {
                    entry.in_flight -= 1;
                    entry.used = entry.used.saturating_sub(1);
                }
                self.used = self.used.saturating_sub(1);
            }
        }
        self.in_flight -= 1;
        self.expires_at = settlement.record_expires_at;
        self.failures()
    }

    /// The username's consecutive failures.
    pub fn failures(&self) -> u32 {
        self.used.saturating_sub(self.in_flight)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::domain::login_throttle::{AttemptKeys, LockoutPolicy, SourceAddress};

    const NOW: UnixSeconds = 1_000_000;

    fn from(octet: u8) -> AttemptKeys {
        let address = IpAddr::V4(Ipv4Addr::new(203, 0, 113, octet));
        AttemptKeys::new("alice", SourceAddress(Some(address)))
    }

    fn admitted(admission: Admission) -> Ticket {
        match admission {
            Admission::Admitted(ticket) => ticket,
            other => panic!("not admitted: {other:?}"),
        }
    }

    /// Takes the five free attempts; the next must wait.
    fn free_ones_in_flight(record: &mut LoginRecord, attempt: &AttemptRequest) -> Vec<Ticket> {
        let tickets = (0..5)
            .map(|_| admitted(record.admit(attempt, false)))
            .collect();
        assert_eq!(record.admit(attempt, false), Admission::Busy);
        tickets
    }

    #[test]
    fn attempts_in_flight_hold_the_free_slots_and_a_success_frees_them() {
        let policy = LockoutPolicy::default();
        let mut record = LoginRecord::default();
        let attempt = policy.attempt_request(from(1), NOW);
        let tickets = free_ones_in_flight(&mut record, &attempt);
        record.settle(&policy.success(from(1), tickets[0], NOW));
        let sixth = admitted(record.admit(&attempt, false));
        assert!(sixth.number <= 5, "{sixth:?}");
        assert_eq!(record.failures(), 0);
        for ticket in &tickets[1..] {
            record.settle(&policy.failure(from(1), *ticket, NOW));
        }
        assert_eq!(record.failures(), 4);
    }

    #[test]
    fn past_the_ceiling_a_stranger_waits_for_attempts_in_flight_then_meets_the_lock() {
        let policy = LockoutPolicy {
            username_ceiling: 3,
            ..LockoutPolicy::default()
        };
        let mut record = LoginRecord::default();
        let tickets: Vec<(AttemptKeys, Ticket)> = (1..=3)
            .map(|octet| {
                let attempt = policy.attempt_request(from(octet), NOW);
                (from(octet), admitted(record.admit(&attempt, false)))
            })
            .collect();
        let late = policy.attempt_request(from(9), NOW);
        assert_eq!(record.admit(&late, false), Admission::Busy);
        for (keys, ticket) in tickets {
            record.settle(&policy.failure(keys, ticket, NOW));
        }
        // The third failure reached the ceiling: it locks the username for strangers.
        assert_eq!(
            record.admit(&policy.attempt_request(from(10), NOW + 1), false),
            Admission::Locked {
                username_wide: true
            }
        );
        let after = policy.attempt_request(from(10), NOW + policy.username_lock_seconds);
        assert!(matches!(
            record.admit(&after, false),
            Admission::Admitted(_)
        ));
    }

    #[test]
    fn an_attempt_that_waited_behind_failures_is_refused_and_a_fresh_one_is_the_next() {
        let policy = LockoutPolicy::default();
        let mut record = LoginRecord::default();
        let attempt = policy.attempt_request(from(1), NOW);
        let tickets = free_ones_in_flight(&mut record, &attempt);
        for ticket in tickets {
            record.settle(&policy.failure(from(1), ticket, NOW));
        }
        // The waiting one (the right password among guesses, say) does not take the sixth.
        assert_eq!(
            record.admit(&attempt, true),
            Admission::Locked {
                username_wide: false
            }
        );
        assert_eq!(admitted(record.admit(&attempt, false)).number, 6);
    }

    #[test]
    fn attempts_of_requests_that_died_are_given_back_once_their_hold_passes() {
        let policy = LockoutPolicy::default();
        let mut record = LoginRecord::default();
        let attempt = policy.attempt_request(from(1), NOW);
        for _ in 0..5 {
            admitted(record.admit(&attempt, false));
        }
        assert_eq!(record.admit(&attempt, false), Admission::Busy);
        let later = policy.attempt_request(from(1), attempt.hold_until);
        assert_eq!(admitted(record.admit(&later, false)).number, 1);
    }

    #[test]
    fn a_full_record_forgets_idle_addresses_and_otherwise_counts_new_ones_username_wide() {
        let policy = LockoutPolicy::default();
        let mut record = LoginRecord::default();
        for octet in 0..MAX_TRACKED_ADDRESSES as u8 {
            let ticket = admitted(record.admit(&policy.attempt_request(from(octet), NOW), false));
            record.settle(&policy.success(from(octet), ticket, NOW));
        }
        let newcomer = admitted(record.admit(&policy.attempt_request(from(200), NOW), false));
        assert!(!newcomer.tracked && newcomer.number == 0);
        assert_eq!(record.addresses.len(), MAX_TRACKED_ADDRESSES);
        record.settle(&policy.failure(from(200), newcomer, NOW));
        assert_eq!(record.failures(), 1, "counted username-wide");
        // Once the known ones are forgotten, there is room again.
        let month_later = NOW + 31 * 86_400;
        let tracked =
            admitted(record.admit(&policy.attempt_request(from(201), month_later), false));
        assert!(tracked.tracked);
    }

    #[test]
    fn without_an_address_only_the_username_wide_count_applies() {
        let policy = LockoutPolicy::default();
        let mut record = LoginRecord::default();
        let keys = AttemptKeys::new("alice", SourceAddress(None));
        let attempt = policy.attempt_request(keys.clone(), NOW);
        for _ in 0..50 {
            let ticket = admitted(record.admit(&attempt, false));
            assert!(!ticket.tracked);
        }
        assert!(record.addresses.is_empty());
    }
}
