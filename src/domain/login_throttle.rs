//! How many passwords may be checked for a username, and from where.
//!
//! Two counters guard the password grant:
//! - **Per username and source address** (the address API Gateway or the TCP peer saw). An
//!   attempt is *taken* atomically before its password is checked: a few are free, after that
//!   one at a time and only once the lock from the previous failure has passed (1, 2, 4 … s,
//!   capped). So concurrent guesses cannot check more passwords than the policy allows, and
//!   a stranger's guesses hold back only the stranger's own address.
//! - **Per username, across addresses**: a ceiling on failures in a window, far above what one
//!   address can reach, that locks the username everywhere but where it logged in before (its
//!   known sources). It stops guessing spread over many addresses; crossing it is an incident
//!   an operator hears about.
//!
//! The client id is not part of either key: the password belongs to the user, not the client,
//! and an attacker holding several client ids would otherwise get a budget for each.
//!
//! Records are keyed by SHA-256 digests, so the store holds no username or address in the
//! clear for them (a dictionary could still test guesses against a digest), and unknown
//! usernames are counted exactly like real ones.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::clock::UnixSeconds;
use super::crypto::{sha256, sha256_of_parts};

/// The address a request came from, as the edge saw it; `None` where there is no such thing
/// (a router called in process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourceAddress(pub Option<IpAddr>);

impl SourceAddress {
    /// What the per-address counter is keyed by. An IPv6 host usually holds a whole /64, so
    /// that is one source; IPv4-mapped IPv6 addresses count as their IPv4 address.
    fn counting_key(&self) -> String {
        match self.0.map(|address| address.to_canonical()) {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => {
                let segments = v6.segments();
                format!(
                    "{:x}:{:x}:{:x}:{:x}::/64",
                    segments[0], segments[1], segments[2], segments[3]
                )
            }
            None => "unknown".to_owned(),
        }
    }
}

/// The store keys of one username's attempt counters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttemptKeys {
    /// The username from this source address.
    pub per_source: String,
    /// The username from anywhere.
    pub per_username: String,
}

impl AttemptKeys {
    pub fn new(username: &str, source: SourceAddress) -> Self {
        // The username's length first, so no username/address pair can collide with another.
        let per_source = sha256_of_parts(&[
            &(username.len() as u64).to_be_bytes(),
            username.as_bytes(),
            source.counting_key().as_bytes(),
        ]);
        Self {
            per_source: URL_SAFE_NO_PAD.encode(per_source),
            per_username: URL_SAFE_NO_PAD.encode(sha256(username.as_bytes())),
        }
    }
}

/// The limits, in the spirit of Amazon Cognito for one source (a few free failures, then
/// locks that double up to a cap), plus a per-username ceiling in line with NIST SP 800-63B
/// §5.2.2 (at most 100 consecutive failures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Attempts from one source allowed before the first lock.
    pub free_failures: u32,
    /// The longest lock of one source.
    pub max_lock_seconds: u64,
    /// How long a source's attempts are remembered after its last lock ends. Long (a day), so
    /// that pausing does not buy a guesser a fresh set of free attempts; a success clears them.
    pub memory_seconds: u64,
    /// Failures from all sources together that lock the username everywhere.
    pub username_ceiling: u32,
    /// The window the ceiling counts in, from the first failure.
    pub username_window_seconds: u64,
    /// How long the username stays locked once the ceiling is crossed (at least; the lock
    /// lasts until the window ends if that is later).
    pub username_lock_seconds: u64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            free_failures: 5,
            max_lock_seconds: 900,
            memory_seconds: 86_400,
            username_ceiling: 100,
            username_window_seconds: 3600,
            username_lock_seconds: 900,
        }
    }
}

/// How long an admitted attempt holds back the next one from its source while its password
/// is checked: longer than any request may take (the router answers within 8 s), so the
/// failure it may end in is recorded before another attempt is let through.
pub const ATTEMPT_HOLD_SECONDS: u64 = 10;

/// What [`crate::domain::store::LoginAttemptStore::take_login_attempt`] is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRequest {
    pub keys: AttemptKeys,
    pub now: UnixSeconds,
    /// The source's first `free_attempts` attempts need no lock to have passed.
    pub free_attempts: u32,
    /// An admitted attempt holds the source until then (see [`ATTEMPT_HOLD_SECONDS`]).
    pub hold_until: UnixSeconds,
    /// An admitted attempt keeps the record at least until then.
    pub expires_at: UnixSeconds,
}

/// What taking an attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TakenAttempt {
    pub admission: Admission,
    /// The username logged in from this source before (within [`KNOWN_SOURCE_SECONDS`]): the
    /// username-wide lock does not hold it back, so a stranger's guessing spread over many
    /// addresses cannot lock the real user out where they usually log in.
    pub known_source: bool,
}

/// How long a source where a username logged in stays known for it (OWASP: let known devices
/// and sources in while an account is under attack).
pub const KNOWN_SOURCE_SECONDS: u64 = 30 * 86_400;

/// Whether an attempt may check its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// It may; it is the `number`th attempt from its source since the record last started
    /// (1-based).
    Admitted { number: u32 },
    /// The source is locked, or another attempt past the free ones is being checked.
    Refused,
}

/// An attempt that ends without its password checked (a wrong client, a username locked
/// everywhere, a store failure), as [`crate::domain::store::LoginAttemptStore::end_unchecked_login_attempt`]
/// records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UncheckedAttempt {
    /// It was refused: nothing was taken.
    Refused,
    /// It was admitted: it is given back, and (`held`) its hold released.
    Admitted { held: bool },
}

/// A failed attempt, as [`crate::domain::store::LoginAttemptStore::record_login_failure`] writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRecord {
    pub keys: AttemptKeys,
    pub now: UnixSeconds,
    /// The source's lock: it only grows.
    pub locked_until: UnixSeconds,
    /// The source's record is kept until then (never earlier than its admission said).
    pub expires_at: UnixSeconds,
    /// A new per-username window (when none is live) ends then.
    pub username_window_ends: UnixSeconds,
    /// Whether this attempt held the source (it came past the free ones), so its end lets the
    /// next one in. A free attempt's end must not release a hold another attempt took.
    pub releases_hold: bool,
}

/// The username's failures from all sources in its current window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsernameFailures {
    pub count: u32,
    /// When the window (or the lock, if later) ends; then the count reads as zero.
    pub expires_at: UnixSeconds,
}

impl LockoutPolicy {
    pub fn attempt_request(&self, keys: AttemptKeys, now: UnixSeconds) -> AttemptRequest {
        AttemptRequest {
            keys,
            now,
            free_attempts: self.free_failures,
            hold_until: now.saturating_add(ATTEMPT_HOLD_SECONDS),
            expires_at: now
                .saturating_add(ATTEMPT_HOLD_SECONDS)
                .saturating_add(self.memory_seconds),
        }
    }

    /// The record of the `number`th attempt from a source failing: the free failures set no
    /// lock, then locks of 1, 2, 4 … seconds up to the cap.
    pub fn failure(&self, keys: AttemptKeys, number: u32, now: UnixSeconds) -> FailureRecord {
        let locked_until = match number.checked_sub(self.free_failures.saturating_add(1)) {
            None => 0,
            Some(doublings) => {
                let lock = 1u64.checked_shl(doublings).unwrap_or(u64::MAX);
                now.saturating_add(lock.min(self.max_lock_seconds))
            }
        };
        FailureRecord {
            keys,
            now,
            locked_until,
            // Never earlier than the expiry its admission set, so this write only extends it.
            expires_at: locked_until
                .max(now)
                .saturating_add(ATTEMPT_HOLD_SECONDS)
                .saturating_add(self.memory_seconds),
            username_window_ends: now.saturating_add(self.username_window_seconds),
            releases_hold: self.holds_source(number),
        }
    }

    /// Whether the `number`th attempt from a source holds it while its password is checked:
    /// the free attempts do not (the next free one need not wait), the ones after them do.
    pub fn holds_source(&self, number: u32) -> bool {
        number >= self.free_failures
    }

    /// Whether failures from all sources lock the username at `now`.
    pub fn username_locked(&self, failures: UsernameFailures, now: UnixSeconds) -> bool {
        failures.count >= self.username_ceiling && now < failures.expires_at
    }

    /// When a username whose failures just reached the ceiling unlocks.
    pub fn username_lock_ends(&self, now: UnixSeconds) -> UnixSeconds {
        now.saturating_add(self.username_lock_seconds)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn keys() -> AttemptKeys {
        AttemptKeys::new("alice", SourceAddress::default())
    }

    #[test]
    fn locks_grow_from_one_second_after_the_free_failures_and_are_capped() {
        let policy = LockoutPolicy::default();
        let now = 1_000;
        let locks: Vec<u64> = (1..=20)
            .map(|number| {
                policy
                    .failure(keys(), number, now)
                    .locked_until
                    .saturating_sub(now)
            })
            .collect();
        assert_eq!(&locks[..5], [0, 0, 0, 0, 0], "five free failures");
        assert_eq!(&locks[5..10], [1, 2, 4, 8, 16]);
        assert_eq!(locks[19], 900, "capped at 15 minutes");
        let last = policy.failure(keys(), u32::MAX, now);
        assert!(
            last.expires_at > now && last.locked_until > now,
            "no overflow"
        );
        let never = LockoutPolicy {
            free_failures: u32::MAX,
            ..policy
        };
        assert_eq!(never.failure(keys(), 7, now).locked_until, 0);
    }

    #[test]
    fn pausing_does_not_buy_a_guesser_fresh_free_attempts() {
        // A guesser who stops after each lock and waits for the record to be forgotten gets
        // the free attempts again, but only once a day.
        let policy = LockoutPolicy::default();
        let (mut now, mut number, mut checked) = (0u64, 0u32, 0u32);
        while now < 86_400 {
            number += 1;
            checked += 1;
            let failure = policy.failure(keys(), number, now);
            now = failure.locked_until.max(now);
            if failure.locked_until > 0 && failure.expires_at - failure.locked_until < 3_600 {
                // Never: the record outlives any pause shorter than a day.
                number = 0;
            }
        }
        assert!(checked < 120, "{checked} guesses a day from one address");
        assert!(policy.memory_seconds >= 86_400);
    }

    #[test]
    fn one_source_cannot_reach_the_username_ceiling_in_its_window() {
        // The most failures one source can have in a window: all free ones, then one per lock.
        let policy = LockoutPolicy::default();
        let (mut now, mut number) = (0u64, 0u32);
        while now < policy.username_window_seconds {
            number += 1;
            now = policy.failure(keys(), number, now).locked_until.max(now);
        }
        assert!(
            number < policy.username_ceiling / 4,
            "one address gets {number} failures an hour"
        );
        assert!(policy.username_ceiling <= 100, "NIST SP 800-63B §5.2.2");
    }

    #[test]
    fn the_username_locks_at_the_ceiling_while_its_window_lasts() {
        let policy = LockoutPolicy::default();
        let at = |count| UsernameFailures {
            count,
            expires_at: 5_000,
        };
        assert!(!policy.username_locked(at(99), 1_000));
        assert!(policy.username_locked(at(100), 1_000));
        assert!(!policy.username_locked(at(100), 5_000), "window over");
    }

    #[test]
    fn keys_separate_usernames_and_sources_and_hide_both() {
        let v4 = |a, b, c, d| SourceAddress(Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d))));
        let here = AttemptKeys::new("alice", v4(203, 0, 113, 7));
        assert_ne!(here, AttemptKeys::new("alice", v4(203, 0, 113, 8)));
        assert_ne!(
            here.per_source,
            AttemptKeys::new("bob", v4(203, 0, 113, 7)).per_source
        );
        assert_eq!(
            here.per_username,
            AttemptKeys::new("alice", v4(198, 51, 100, 1)).per_username
        );
        assert!(!here.per_source.contains("alice") && !here.per_source.contains("203"));
        // A username that ends like an address does not collide with a shorter one.
        assert_ne!(
            AttemptKeys::new("alice1", v4(2, 3, 4, 5)).per_source,
            AttemptKeys::new("alice", v4(12, 3, 4, 5)).per_source
        );
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
