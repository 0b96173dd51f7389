//! How many passwords may be checked for a username, and from where.
//!
//! Two limits guard the password grant, both kept in one record per username (see
//! [`super::login_record`]) so that one atomic write admits an attempt against both:
//! - **Per username and source address** (the address API Gateway or the TCP peer saw). An
//!   attempt is *taken* before its password is checked and counts as a possible failure while
//!   it is in flight: a few are free, after that one at a time and only once the lock from the
//!   previous failure has passed (1, 2, 4 … s, capped). An attempt that finds the free ones
//!   held by attempts still in flight waits for their outcome (a success frees the way, only a
//!   failure counts) rather than being refused, up to [`MAX_ATTEMPT_WAIT`].
//! - **Per username, across addresses**: a ceiling on *consecutive* failures (NIST SP 800-63B
//!   §5.2.2), which only a success resets. Attempts in flight count against it too, so a burst
//!   from any number of addresses checks at most the ceiling's number of passwords. Past it,
//!   one attempt per [`LockoutPolicy::username_lock_seconds`]. Addresses where the username
//!   logged in within [`KNOWN_SOURCE_SECONDS`] are exempt, so a stranger cannot lock the real
//!   user out of their usual place.
//!
//! A request without a source address (an integration that gives none) is held to the
//! username-wide limit alone: it shares no per-address count with anyone.
//!
//! The client id is not part of either key: the password belongs to the user, not the client,
//! and an attacker holding several client ids would otherwise get a budget for each.
//!
//! Records are keyed by SHA-256 digests, so the store holds no username or address in the
//! clear for them (a dictionary could still test guesses against a digest), and unknown
//! usernames are counted exactly like real ones.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::clock::UnixSeconds;
use super::crypto::{sha256, sha256_of_parts};

/// The address a request came from, as the edge saw it; `None` where there is no such thing
/// (an integration that passes none, a router called in process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourceAddress(pub Option<IpAddr>);

impl SourceAddress {
    /// What the per-address count is keyed by. An IPv6 host usually holds a whole /64, so
    /// that is one source; IPv4-mapped IPv6 addresses count as their IPv4 address.
    fn counting_key(&self) -> Option<String> {
        match self.0.map(|address| address.to_canonical())? {
            IpAddr::V4(v4) => Some(v4.to_string()),
            IpAddr::V6(v6) => {
                let segments = v6.segments();
                Some(format!(
                    "{:x}:{:x}:{:x}:{:x}::/64",
                    segments[0], segments[1], segments[2], segments[3]
                ))
            }
        }
    }
}

/// Bytes of the per-address digest kept in a username's record: 48 bits, so two of one
/// username's addresses share a count with odds of 2^-48, and the record stays small.
const ADDRESS_KEY_BYTES: usize = 6;

/// The store keys of one username's attempts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttemptKeys {
    /// The username's record.
    pub per_username: String,
    /// The address's entry in it (8 URL-safe characters); `None` without an address.
    pub address: Option<String>,
}

impl AttemptKeys {
    pub fn new(username: &str, source: SourceAddress) -> Self {
        // The username's length first, so no username/address pair can collide with another.
        let address = source.counting_key().map(|key| {
            let digest = sha256_of_parts(&[
                &(username.len() as u64).to_be_bytes(),
                username.as_bytes(),
                key.as_bytes(),
            ]);
            URL_SAFE_NO_PAD.encode(&digest.as_ref()[..ADDRESS_KEY_BYTES])
        });
        Self {
            per_username: URL_SAFE_NO_PAD.encode(sha256(username.as_bytes())),
            address,
        }
    }
}

/// The limits, in the spirit of Amazon Cognito for one source (a few free failures, then
/// locks that double up to a cap), plus a per-username ceiling on consecutive failures in line
/// with NIST SP 800-63B §5.2.2 (at most 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Attempts from one source allowed before the first lock.
    pub free_failures: u32,
    /// The longest lock of one source.
    pub max_lock_seconds: u64,
    /// How long a source's failures are remembered after its last lock ends. Long (a day), so
    /// that pausing does not buy a guesser a fresh set of free attempts; a success clears them.
    pub memory_seconds: u64,
    /// Consecutive failures from all sources together (a success resets them) past which the
    /// username takes one attempt per `username_lock_seconds`, except from known sources.
    pub username_ceiling: u32,
    /// Past the ceiling, how long each failure locks the username everywhere but its known
    /// sources: the pace of guessing left to an attacker with any number of addresses.
    pub username_lock_seconds: u64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            free_failures: 5,
            max_lock_seconds: 900,
            memory_seconds: 86_400,
            username_ceiling: 100,
            username_lock_seconds: 900,
        }
    }
}

/// How long an admitted attempt counts as in flight: longer than any request may take (the
/// router answers within 8 s), so its outcome is recorded before the count is given back as
/// the attempt of a request that died.
pub const ATTEMPT_HOLD_SECONDS: u64 = 10;

/// The longest an attempt waits for attempts in flight to end before it is answered 503
/// (retry later): under the router's 8 s deadline with room for the password check after it.
pub const MAX_ATTEMPT_WAIT: Duration = Duration::from_secs(7);

/// The most addresses a username's record tracks one by one. Past them, a new address (while
/// none of the tracked ones can be forgotten) is held to the username-wide count alone, so a
/// burst from many addresses cannot grow the record past one DynamoDB write unit (1 KB).
pub const MAX_TRACKED_ADDRESSES: usize = 8;

/// How long a source where a username logged in stays known for it (OWASP: let known devices
/// and sources in while an account is under attack); the record lives at least that long after
/// its last attempt, which is also when a username's consecutive failures are forgotten.
pub const KNOWN_SOURCE_SECONDS: u64 = 30 * 86_400;

/// What [`crate::domain::store::LoginAttemptStore::take_login_attempt`] is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRequest {
    pub keys: AttemptKeys,
    pub now: UnixSeconds,
    /// A source's first `free_attempts` attempts (failures and attempts in flight together)
    /// need no lock to have passed nor wait for one another.
    pub free_attempts: u32,
    /// Consecutive failures and attempts in flight for the username, from sources not known,
    /// past which attempts go one at a time, each after the username's lock.
    pub username_ceiling: u32,
    /// An admitted attempt counts as in flight until then (see [`ATTEMPT_HOLD_SECONDS`]).
    pub hold_until: UnixSeconds,
    /// An admitted attempt keeps its source's failures at least until then.
    pub address_expires_at: UnixSeconds,
    /// Any write keeps the username's record at least until then.
    pub record_expires_at: UnixSeconds,
    /// How long to wait for attempts in flight before answering [`Admission::Busy`].
    pub max_wait: Duration,
}

/// An admitted attempt, which its outcome settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// Its source's failures and attempts in flight, this one included, when it was admitted:
    /// the failure it would be if every attempt before it failed. 0 when the source is not
    /// tracked (no address, or no room in the record).
    pub number: u32,
    /// The same for the username, from every source.
    pub username_number: u32,
    /// The source has an entry of its own in the username's record.
    pub tracked: bool,
    /// The username logged in from this source within [`KNOWN_SOURCE_SECONDS`]: the
    /// username-wide ceiling does not hold it back.
    pub known_source: bool,
}

/// Whether an attempt may check its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted(Ticket),
    /// Locked: its source after repeated failures, or (`username_wide`) the username past its
    /// ceiling of consecutive failures. Nothing was taken.
    Locked {
        username_wide: bool,
    },
    /// Attempts in flight held every slot for longer than [`MAX_ATTEMPT_WAIT`]; nothing was
    /// taken. Not a failure: the caller may retry.
    Busy,
}

/// How an admitted attempt ended, as [`crate::domain::store::LoginAttemptStore::settle_login_attempt`]
/// records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A wrong password: one more failure for the source and the username.
    Failed {
        /// The source's lock: set only past the free failures.
        locked_until: UnixSeconds,
        /// The source's failures are kept until then.
        address_expires_at: UnixSeconds,
        /// Past the ceiling, the username's lock everywhere but its known sources (0: none).
        username_locked_until: UnixSeconds,
    },
    /// The right password: the source's and the username's failures are cleared, and the
    /// source is known until `known_until`.
    Succeeded {
        known_until: UnixSeconds,
        address_expires_at: UnixSeconds,
    },
    /// Ended before its password counted (a wrong client, a store failure): given back.
    Unchecked,
}

/// An admitted attempt's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub keys: AttemptKeys,
    pub ticket: Ticket,
    pub now: UnixSeconds,
    pub outcome: Outcome,
    pub record_expires_at: UnixSeconds,
}

impl LockoutPolicy {
    pub fn attempt_request(&self, keys: AttemptKeys, now: UnixSeconds) -> AttemptRequest {
        AttemptRequest {
            keys,
            now,
            free_attempts: self.free_failures,
            username_ceiling: self.username_ceiling,
            hold_until: now.saturating_add(ATTEMPT_HOLD_SECONDS),
            address_expires_at: self.address_memory_ends(now),
            record_expires_at: self.record_expires_at(now),
            max_wait: MAX_ATTEMPT_WAIT,
        }
    }

    /// When a source's failures are forgotten if its last event (an admission, or a lock
    /// ending) is at `at`.
    fn address_memory_ends(&self, at: UnixSeconds) -> UnixSeconds {
        at.saturating_add(ATTEMPT_HOLD_SECONDS)
            .saturating_add(self.memory_seconds)
    }

    /// The source's lock after the `number`th failure in a row from it: the free failures set
    /// none, then locks of 1, 2, 4 … seconds up to the cap.
    pub fn lock_until(&self, number: u32, now: UnixSeconds) -> UnixSeconds {
        match number.checked_sub(self.free_failures.saturating_add(1)) {
            None => 0,
            Some(doublings) => {
                let lock = 1u64.checked_shl(doublings).unwrap_or(u64::MAX);
                now.saturating_add(lock.min(self.max_lock_seconds))
            }
        }
    }

    /// How a wrong password for an attempt admitted with `ticket` is settled.
    pub fn failure(&self, keys: AttemptKeys, ticket: Ticket, now: UnixSeconds) -> Settlement {
        let locked_until = match ticket.tracked {
            true => self.lock_until(ticket.number, now),
            false => 0,
        };
        // Past the ceiling every failure locks the username for a while: a guesser with any
        // number of addresses gets one password a lock.
        let username_locked_until = match ticket.username_number >= self.username_ceiling {
            true => now.saturating_add(self.username_lock_seconds),
            false => 0,
        };
        Settlement {
            keys,
            ticket,
            now,
            outcome: Outcome::Failed {
                locked_until,
                address_expires_at: self.address_memory_ends(locked_until.max(now)),
                username_locked_until,
            },
            record_expires_at: self.record_expires_at(now),
        }
    }

    /// How the right password for an attempt admitted with `ticket` is settled.
    pub fn success(&self, keys: AttemptKeys, ticket: Ticket, now: UnixSeconds) -> Settlement {
        Settlement {
            keys,
            ticket,
            now,
            outcome: Outcome::Succeeded {
                known_until: now.saturating_add(KNOWN_SOURCE_SECONDS),
                address_expires_at: self.address_memory_ends(now),
            },
            record_expires_at: self.record_expires_at(now),
        }
    }

    /// How an attempt whose password did not count is given back.
    pub fn unchecked(&self, keys: AttemptKeys, ticket: Ticket, now: UnixSeconds) -> Settlement {
        Settlement {
            keys,
            ticket,
            now,
            outcome: Outcome::Unchecked,
            record_expires_at: self.record_expires_at(now),
        }
    }
}

impl LockoutPolicy {
    /// A username's record outlives every entry in it: a known source's 30 days, or a source's
    /// longest lock and memory after it if that is longer.
    fn record_expires_at(&self, now: UnixSeconds) -> UnixSeconds {
        let longest =
            KNOWN_SOURCE_SECONDS.max(self.max_lock_seconds.saturating_add(self.memory_seconds));
        now.saturating_add(ATTEMPT_HOLD_SECONDS)
            .saturating_add(longest)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn locks_grow_from_one_second_after_the_free_failures_and_are_capped() {
        let policy = LockoutPolicy::default();
        let now = 1_000;
        let locks: Vec<u64> = (1..=20)
            .map(|number| policy.lock_until(number, now).saturating_sub(now))
            .collect();
        assert_eq!(&locks[..5], [0, 0, 0, 0, 0], "five free failures");
        assert_eq!(&locks[5..10], [1, 2, 4, 8, 16]);
        assert_eq!(locks[19], 900, "capped at 15 minutes");
        assert!(policy.lock_until(u32::MAX, now) > now, "no overflow");
        let never = LockoutPolicy {
            free_failures: u32::MAX,
            ..policy
        };
        assert_eq!(never.lock_until(7, now), 0);
    }

    #[test]
    fn pausing_does_not_buy_a_guesser_fresh_free_attempts() {
        // A guesser who stops after each lock and waits for the failures to be forgotten gets
        // the free attempts again, but only once a day.
        let policy = LockoutPolicy::default();
        let (mut now, mut number, mut checked) = (0u64, 0u32, 0u32);
        while now < 86_400 {
            number += 1;
            checked += 1;
            let locked_until = policy.lock_until(number, now);
            let forgotten_at = policy.address_memory_ends(locked_until.max(now));
            now = locked_until.max(now);
            if locked_until > 0 && forgotten_at - locked_until < 3_600 {
                // Never: the failures outlive any pause shorter than a day.
                number = 0;
            }
        }
        assert!(checked < 120, "{checked} guesses a day from one address");
        assert!(policy.memory_seconds >= 86_400);
    }

    #[test]
    fn guesses_a_day_per_username_from_any_number_of_addresses() {
        // Consecutive failures are not forgiven by time: past the ceiling, one guess a lock.
        let policy = LockoutPolicy::default();
        let first_day = policy.username_ceiling as u64 + 86_400 / policy.username_lock_seconds;
        let later_days = 86_400 / policy.username_lock_seconds;
        assert_eq!((first_day, later_days), (196, 96));
        assert!(policy.username_ceiling <= 100, "NIST SP 800-63B §5.2.2");
    }

    #[test]
    fn past_the_ceiling_every_failure_locks_the_username() {
        let policy = LockoutPolicy::default();
        let keys = AttemptKeys::new("alice", SourceAddress::default());
        let ticket = |username_number| Ticket {
            number: 0,
            username_number,
            tracked: false,
            known_source: false,
        };
        let username_lock = |settlement: Settlement| match settlement.outcome {
            Outcome::Failed {
                username_locked_until,
                ..
            } => username_locked_until,
            _ => 0,
        };
        assert_eq!(
            username_lock(policy.failure(keys.clone(), ticket(99), 1_000)),
            0
        );
        assert_eq!(
            username_lock(policy.failure(keys, ticket(100), 1_000)),
            1_000 + policy.username_lock_seconds
        );
    }

    #[test]
    fn keys_separate_usernames_and_sources_and_hide_both() {
        let v4 = |a, b, c, d| SourceAddress(Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d))));
        let here = AttemptKeys::new("alice", v4(203, 0, 113, 7));
        assert_ne!(here, AttemptKeys::new("alice", v4(203, 0, 113, 8)));
        assert_ne!(
            here.address,
            AttemptKeys::new("bob", v4(203, 0, 113, 7)).address
        );
        assert_eq!(
            here.per_username,
            AttemptKeys::new("alice", v4(198, 51, 100, 1)).per_username
        );
        let address = here.address.clone().unwrap_or_default();
        assert_eq!(address.len(), 8);
        assert!(!here.per_username.contains("alice") && !address.contains("203"));
        // A username that ends like an address does not collide with a shorter one.
        assert_ne!(
            AttemptKeys::new("alice1", v4(2, 3, 4, 5)).address,
            AttemptKeys::new("alice", v4(12, 3, 4, 5)).address
        );
        assert_eq!(AttemptKeys::new("alice", SourceAddress(None)).address, None);
    }

    #[test]
    fn an_ipv6_slash_64_is_one_source() {
        let v6 = |text: &str| SourceAddress(text.parse::<Ipv6Addr>().ok().map(IpAddr::V6));
        let one = v6("2001:db8:1:2::1");
        assert_eq!(
            AttemptKeys::new("alice", one),
            AttemptKeys::new("alice", v6("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            AttemptKeys::new("alice", one),
            AttemptKeys::new("alice", v6("2001:db8:1:3::1"))
        );
        assert_eq!(
            AttemptKeys::new("alice", v6("::ffff:192.0.2.1")),
            AttemptKeys::new(
                "alice",
                SourceAddress(Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))))
            ),
            "IPv4-mapped addresses count as IPv4"
        );
    }
}
