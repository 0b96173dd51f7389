//! Password attempts: taken atomically before the password is checked, against the source's
//! count and the username's together, in one record per username.

use std::net::IpAddr;
use std::time::Duration;

use token_endpoint::domain::login_throttle::{
    Admission, AttemptKeys, AttemptRequest, LockoutPolicy, MAX_TRACKED_ADDRESSES, SourceAddress,
    Ticket,
};

use super::*;

const FREE: u32 = 3;

fn policy() -> LockoutPolicy {
    LockoutPolicy {
        free_failures: FREE,
        max_lock_seconds: 60,
        memory_seconds: 100,
        username_ceiling: 10,
        username_lock_seconds: 900,
    }
}

fn keys(username: &str, last_octet: u8) -> AttemptKeys {
    AttemptKeys::new(
        username,
        SourceAddress(Some(IpAddr::from([203, 0, 113, last_octet]))),
    )
}

/// An attempt that does not wait: attempts in flight answer `Busy` at once.
fn attempt(keys: &AttemptKeys, now: UnixSeconds) -> AttemptRequest {
    AttemptRequest {
        max_wait: Duration::ZERO,
        ..policy().attempt_request(keys.clone(), now)
    }
}

async fn take<S: Store>(store: &S, keys: &AttemptKeys, now: UnixSeconds) -> Admission {
    ok(store.take_login_attempt(&attempt(keys, now)).await)
}

async fn admitted<S: Store>(store: &S, keys: &AttemptKeys, now: UnixSeconds) -> Ticket {
    match take(store, keys, now).await {
        Admission::Admitted(ticket) => ticket,
        other => panic!("not admitted: {other:?}"),
    }
}

/// Settles `ticket` as a wrong password; returns the username's consecutive failures.
async fn fail<S: Store>(store: &S, keys: &AttemptKeys, ticket: Ticket, now: UnixSeconds) -> u32 {
    ok(store
        .settle_login_attempt(&policy().failure(keys.clone(), ticket, now))
        .await)
}

async fn succeed<S: Store>(store: &S, keys: &AttemptKeys, ticket: Ticket, now: UnixSeconds) {
    ok(store
        .settle_login_attempt(&policy().success(keys.clone(), ticket, now))
        .await);
}

const LOCKED: Admission = Admission::Locked {
    username_wide: false,
};
const USERNAME_LOCKED: Admission = Admission::Locked {
    username_wide: true,
};

pub(super) async fn free_attempts_then_one_at_a_time_after_each_lock<S: Store>(store: Arc<S>) {
    let alice = keys("alice", 1);
    let mut tickets = Vec::new();
    for number in 1..=FREE {
        let ticket = admitted(&*store, &alice, NOW).await;
        assert_eq!((ticket.number, ticket.tracked), (number, true));
        tickets.push(ticket);
    }
    // Attempts in flight hold the free ones: the next waits for their outcome.
    assert_eq!(take(&*store, &alice, NOW).await, Admission::Busy);
    for ticket in tickets {
        fail(&*store, &alice, ticket, NOW).await;
    }
    let fourth = admitted(&*store, &alice, NOW).await;
    assert_eq!(fourth.number, FREE + 1);
    assert_eq!(
        take(&*store, &alice, NOW).await,
        Admission::Busy,
        "one at a time"
    );
    fail(&*store, &alice, fourth, NOW).await;
    assert_eq!(take(&*store, &alice, NOW).await, LOCKED, "locked for 1 s");
    let fifth = admitted(&*store, &alice, NOW + 1).await;
    assert_eq!(fifth.number, FREE + 2);
    // The attempt of a request that died is given back once its hold has passed.
    assert_eq!(take(&*store, &alice, NOW + 2).await, Admission::Busy);
    let after_the_hold = admitted(&*store, &alice, NOW + 11).await;
    assert_eq!(after_the_hold.number, FREE + 2);
}

pub(super) async fn a_success_frees_the_way_and_only_failures_count<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    let alice = keys("alice", 1);
    let typo = admitted(&*store, &alice, NOW).await;
    fail(&*store, &alice, typo, NOW).await;
    let (first, second) = (
        admitted(&*store, &alice, NOW).await,
        admitted(&*store, &alice, NOW).await,
    );
    assert_eq!(take(&*store, &alice, NOW).await, Admission::Busy);
    // The login settles beside its pair, in the same call.
    let success = policy().success(alice.clone(), first, NOW);
    ok(store
        .issue_token_pair(&pair("app", "alice", None), Some(&success))
        .await);
    let third = admitted(&*store, &alice, NOW).await;
    assert!(third.known_source, "known once logged in from here");
    assert_eq!(
        fail(&*store, &alice, second, NOW).await,
        1,
        "counted from 0"
    );
    // Known only where the login happened, and only for its time.
    assert!(!admitted(&*store, &keys("alice", 2), NOW).await.known_source);
    let month_later = NOW + 31 * 86_400;
    assert!(!admitted(&*store, &alice, month_later).await.known_source);
}

pub(super) async fn a_waiting_attempt_is_let_in_when_one_in_flight_ends<S: Store>(store: Arc<S>) {
    let alice = keys("alice", 1);
    let mut tickets = Vec::new();
    for _ in 0..FREE {
        tickets.push(admitted(&*store, &alice, NOW).await);
    }
    let waiting = {
        let (store, alice) = (Arc::clone(&store), alice.clone());
        tokio::spawn(async move {
            let patient = AttemptRequest {
                max_wait: Duration::from_secs(30),
                ..attempt(&alice, NOW)
            };
            store.take_login_attempt(&patient).await
        })
    };
    tokio::task::yield_now().await;
    succeed(&*store, &alice, tickets[0], NOW).await;
    let admission = ok(waiting.await.unwrap());
    assert!(matches!(admission, Admission::Admitted(_)), "{admission:?}");
}

/// An attempt ended before its password counted (a wrong client, a store failure) is given
/// back: it is neither a failure nor in flight any more.
pub(super) async fn unchecked_attempts_are_given_back<S: Store>(store: Arc<S>) {
    let alice = keys("alice", 1);
    let mut tickets = Vec::new();
    for _ in 0..FREE {
        tickets.push(admitted(&*store, &alice, NOW).await);
    }
    assert_eq!(take(&*store, &alice, NOW).await, Admission::Busy);
    ok(store
        .settle_login_attempt(&policy().unchecked(alice.clone(), tickets[0], NOW))
        .await);
    let again = admitted(&*store, &alice, NOW).await;
    assert_eq!((again.number, again.username_number), (FREE, FREE));
    // A lock refuses without taking anything; noting it is no error, nor is a record to note
    // it in that does not exist.
    ok(store.note_refused_login_attempt(&alice, NOW).await);
    ok(store
        .note_refused_login_attempt(&keys("nobody", 9), NOW)
        .await);
    assert_eq!(take(&*store, &alice, NOW).await, Admission::Busy);
}

pub(super) async fn a_known_source_stays_known_after_a_typo<S: Store>(store: Arc<S>) {
    let alice = keys("alice", 1);
    let login = admitted(&*store, &alice, NOW).await;
    succeed(&*store, &alice, login, NOW).await;
    // A typo from the known source: it must not shorten how long the source stays known.
    let typo = admitted(&*store, &alice, NOW + 1).await;
    fail(&*store, &alice, typo, NOW + 1).await;
    let past_the_failures_memory = NOW + 1 + 110 + 100;
    assert!(
        admitted(&*store, &alice, past_the_failures_memory)
            .await
            .known_source
    );
}

pub(super) async fn sources_and_usernames_are_counted_apart<S: Store>(store: Arc<S>) {
    let stranger = keys("alice", 1);
    for _ in 0..=FREE {
        let ticket = admitted(&*store, &stranger, NOW).await;
        fail(&*store, &stranger, ticket, NOW).await;
    }
    assert_eq!(take(&*store, &stranger, NOW).await, LOCKED);
    // The real user from another address, and another user from the same one, are free.
    assert_eq!(admitted(&*store, &keys("alice", 2), NOW).await.number, 1);
    assert_eq!(admitted(&*store, &keys("bob", 1), NOW).await.number, 1);
}

pub(super) async fn forgotten_failures_and_records_start_again<S: Store>(store: Arc<S>) {
    let alice = keys("alice", 1);
    for _ in 0..=FREE {
        let ticket = admitted(&*store, &alice, NOW).await;
        fail(&*store, &alice, ticket, NOW).await;
    }
    // The address's failures are forgotten a memory after its lock ends.
    let forgotten = NOW + 1 + 10 + 100;
    assert_eq!(admitted(&*store, &alice, forgotten).await.number, 1);
    // The whole record expires a month after its last write, whatever TTL does.
    let ticket = admitted(&*store, &alice, forgotten).await;
    fail(&*store, &alice, ticket, forgotten).await;
    let month_later = forgotten + 32 * 86_400;
    let again = admitted(&*store, &alice, month_later).await;
    assert_eq!((again.number, again.username_number), (1, 1));
}

/// However many guesses arrive together, from one address or from many, no more passwords are
/// checked than the policy allows.
pub(super) async fn concurrent_attempts_are_admitted_as_the_policy_allows<S: Store>(store: Arc<S>) {
    let count_admitted = |keys: Vec<AttemptKeys>| {
        let store = Arc::clone(&store);
        async move {
            let takes: Vec<_> = keys
                .into_iter()
                .map(|keys| {
                    let store = Arc::clone(&store);
                    tokio::spawn(async move { take(&*store, &keys, NOW).await })
                })
                .collect();
            let mut admitted = 0;
            for task in takes {
                admitted += u32::from(matches!(task.await.unwrap(), Admission::Admitted(_)));
            }
            admitted
        }
    };
    let one_address = vec![keys("alice", 1); 30];
    assert_eq!(count_admitted(one_address).await, FREE);
    // Forty addresses, two guesses each: the username's ceiling holds them all.
    let many: Vec<AttemptKeys> = (10..50u8)
        .flat_map(|octet| [keys("bob", octet), keys("bob", octet)])
        .collect();
    assert_eq!(count_admitted(many).await, policy().username_ceiling);
}

pub(super) async fn consecutive_failures_lock_the_username_except_for_known_sources<S: Store>(
    store: Arc<S>,
) {
    let home = keys("alice", 1);
    let login = admitted(&*store, &home, NOW).await;
    succeed(&*store, &home, login, NOW).await;
    let ceiling = policy().username_ceiling;
    for octet in 0..ceiling as u8 {
        let stranger = keys("alice", 100 + octet);
        let ticket = admitted(&*store, &stranger, NOW).await;
        assert_eq!(
            fail(&*store, &stranger, ticket, NOW).await,
            u32::from(octet) + 1
        );
    }
    // The failure that reached the ceiling locks the username for strangers.
    assert_eq!(
        take(&*store, &keys("alice", 201), NOW + 899).await,
        USERNAME_LOCKED
    );
    assert!(
        admitted(&*store, &home, NOW + 1).await.known_source,
        "home is known"
    );
    // Time does not forgive the count: after the lock, again one attempt.
    let later = NOW + 900 + 3600;
    let next = admitted(&*store, &keys("alice", 202), later).await;
    assert_eq!(
        take(&*store, &keys("alice", 203), later).await,
        Admission::Busy
    );
    // A success anywhere ends the run of failures.
    succeed(&*store, &keys("alice", 202), next, later).await;
    assert_eq!(
        admitted(&*store, &keys("alice", 203), later)
            .await
            .username_number,
        1
    );
}

pub(super) async fn a_record_tracks_a_bounded_number_of_addresses<S: Store>(store: Arc<S>) {
    for octet in 0..MAX_TRACKED_ADDRESSES as u8 {
        let known = keys("alice", octet);
        let ticket = admitted(&*store, &known, NOW).await;
        succeed(&*store, &known, ticket, NOW).await;
    }
    // No room: a new address is counted by the username alone.
    let newcomer = keys("alice", 99);
    let ticket = admitted(&*store, &newcomer, NOW).await;
    assert_eq!((ticket.tracked, ticket.number), (false, 0));
    assert_eq!(fail(&*store, &newcomer, ticket, NOW).await, 1);
    // Without an address, likewise.
    let nowhere = AttemptKeys::new("alice", SourceAddress(None));
    assert!(!admitted(&*store, &nowhere, NOW).await.tracked);
}
