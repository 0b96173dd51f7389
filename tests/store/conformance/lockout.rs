//! Password attempts: taken atomically before the password is checked, per username and
//! source address, with a per-username ceiling across sources.

use std::net::IpAddr;

use token_endpoint::domain::login_throttle::{
    Admission, AttemptKeys, AttemptRequest, FailureRecord, SourceAddress, UncheckedAttempt,
    UsernameFailures,
};

use super::*;

const FREE: u32 = 3;

fn source(last_octet: u8) -> SourceAddress {
    SourceAddress(Some(IpAddr::from([203, 0, 113, last_octet])))
}

fn keys(username: &str, last_octet: u8) -> AttemptKeys {
    AttemptKeys::new(username, source(last_octet))
}

fn attempt(keys: &AttemptKeys, now: UnixSeconds) -> AttemptRequest {
    AttemptRequest {
        keys: keys.clone(),
        now,
        free_attempts: FREE,
        hold_until: now + 10,
        expires_at: now + 100,
    }
}

fn failure(keys: &AttemptKeys, now: UnixSeconds, locked_until: UnixSeconds) -> FailureRecord {
    FailureRecord {
        keys: keys.clone(),
        now,
        locked_until,
        expires_at: locked_until.max(now) + 110,
        username_window_ends: now + 1000,
        releases_hold: true,
    }
}

async fn take<S: Store>(store: &S, keys: &AttemptKeys, now: UnixSeconds) -> Admission {
    store
        .take_login_attempt(&attempt(keys, now))
        .await
        .unwrap()
        .admission
}

async fn fail<S: Store>(store: &S, failed: FailureRecord) -> UsernameFailures {
    store
        .record_login_failure(&failed, 100, failed.now + 900)
        .await
        .unwrap()
}

async fn username_failures<S: Store>(
    store: &S,
    keys: &AttemptKeys,
    now: UnixSeconds,
) -> UsernameFailures {
    store
        .password_grant_context(
            &support::client_id_of("app"),
            &support::username_of("alice"),
            keys,
            now,
        )
        .await
        .unwrap()
        .username_failures
}

pub(super) async fn free_attempts_then_one_at_a_time_after_each_lock<S: Store>(store: Arc<S>) {
    let alice = keys("alice", 1);
    for number in 1..=FREE {
        assert_eq!(
            take(&*store, &alice, NOW).await,
            Admission::Admitted { number }
        );
    }
    // Past the free ones, the last attempt's hold keeps the next one back while it is checked.
    assert_eq!(take(&*store, &alice, NOW).await, Admission::Refused);
    fail(&*store, failure(&alice, NOW, 0)).await;
    assert_eq!(
        take(&*store, &alice, NOW).await,
        Admission::Admitted { number: FREE + 1 }
    );
    fail(&*store, failure(&alice, NOW, NOW + 5)).await;
    assert_eq!(
        take(&*store, &alice, NOW + 4).await,
        Admission::Refused,
        "locked"
    );
    assert_eq!(
        take(&*store, &alice, NOW + 5).await,
        Admission::Admitted { number: FREE + 2 }
    );
    assert_eq!(
        take(&*store, &alice, NOW + 6).await,
        Admission::Refused,
        "held"
    );
    // The hold ends by itself if the failure is never recorded (a request that died).
    assert_eq!(
        take(&*store, &alice, NOW + 15).await,
        Admission::Admitted { number: FREE + 3 }
    );
}

/// Only the attempt that holds the source (the one past the free ones) lets the next one in:
/// a free attempt that fails late must not release it.
pub(super) async fn only_the_holder_releases_the_hold<S: Store>(store: Arc<S>) {
    let alice = keys("alice", 1);
    for _ in 0..FREE {
        take(&*store, &alice, NOW).await;
    }
    let late_free_failure = FailureRecord {
        releases_hold: false,
        ..failure(&alice, NOW, 0)
    };
    fail(&*store, late_free_failure).await;
    assert_eq!(take(&*store, &alice, NOW).await, Admission::Refused);
    fail(&*store, failure(&alice, NOW, 0)).await;
    assert_eq!(
        take(&*store, &alice, NOW).await,
        Admission::Admitted { number: FREE + 1 }
    );
}

pub(super) async fn a_lock_only_grows<S: Store>(store: Arc<S>) {
    let alice = keys("alice", 1);
    for _ in 0..=FREE {
        take(&*store, &alice, NOW).await;
    }
    fail(&*store, failure(&alice, NOW, NOW + 60)).await;
    // A slower request that saw an older count writes a shorter lock: it does not shorten it.
    fail(&*store, failure(&alice, NOW, NOW + 5)).await;
    assert_eq!(take(&*store, &alice, NOW + 30).await, Admission::Refused);
    assert!(matches!(
        take(&*store, &alice, NOW + 60).await,
        Admission::Admitted { .. }
    ));
}

pub(super) async fn sources_and_usernames_are_counted_apart<S: Store>(store: Arc<S>) {
    let stranger = keys("alice", 1);
    for _ in 0..FREE {
        take(&*store, &stranger, NOW).await;
    }
    fail(&*store, failure(&stranger, NOW, NOW + 900)).await;
    assert_eq!(take(&*store, &stranger, NOW + 1).await, Admission::Refused);
    // The real user, from another address, and another user from the same address, are free.
    assert_eq!(
        take(&*store, &keys("alice", 2), NOW + 1).await,
        Admission::Admitted { number: 1 }
    );
    assert_eq!(
        take(&*store, &keys("bob", 1), NOW + 1).await,
        Admission::Admitted { number: 1 }
    );
}

pub(super) async fn an_expired_record_starts_again<S: Store>(store: Arc<S>) {
    let alice = keys("alice", 1);
    for _ in 0..=FREE {
        take(&*store, &alice, NOW).await;
    }
    let failed = failure(&alice, NOW, NOW + 50);
    fail(&*store, failed.clone()).await;
    assert_eq!(
        take(&*store, &alice, failed.expires_at - 1).await,
        Admission::Admitted { number: FREE + 1 }
    );
    let later = failed.expires_at + 200;
    assert_eq!(
        take(&*store, &alice, later).await,
        Admission::Admitted { number: 1 }
    );
    assert_eq!(
        take(&*store, &alice, later).await,
        Admission::Admitted { number: 2 }
    );
}

pub(super) async fn unchecked_attempts_are_given_back<S: Store>(store: Arc<S>) {
    let alice = keys("alice", 1);
    for _ in 0..FREE {
        take(&*store, &alice, NOW).await;
    }
    // An attempt refused before its password (wrong client, say) costs nothing.
    store
        .end_unchecked_login_attempt(&alice, UncheckedAttempt::Admitted { held: true }, NOW)
        .await
        .unwrap();
    assert_eq!(
        take(&*store, &alice, NOW).await,
        Admission::Admitted { number: FREE }
    );
    // A refused attempt was never taken, and ending it takes nothing back.
    assert_eq!(take(&*store, &alice, NOW).await, Admission::Refused);
    store
        .end_unchecked_login_attempt(&alice, UncheckedAttempt::Refused, NOW)
        .await
        .unwrap();
    assert_eq!(take(&*store, &alice, NOW).await, Admission::Refused);
    // Nothing to end is not an error.
    store
        .end_unchecked_login_attempt(
            &keys("nobody", 9),
            UncheckedAttempt::Admitted { held: true },
            NOW,
        )
        .await
        .unwrap();
}

pub(super) async fn a_successful_login_clears_its_source_and_makes_it_known<S: Store>(
    store: Arc<S>,
) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    let alice = keys("alice", 1);
    for _ in 0..=FREE {
        take(&*store, &alice, NOW).await;
    }
    fail(&*store, failure(&alice, NOW, 0)).await;
    let known = store
        .take_login_attempt(&attempt(&alice, NOW))
        .await
        .unwrap();
    assert!(!known.known_source, "no login from here yet");
    ok(store
        .issue_token_pair(&pair("app", "alice", None), Some((&alice, NOW + 1000)))
        .await);
    let taken = store
        .take_login_attempt(&attempt(&alice, NOW))
        .await
        .unwrap();
    assert_eq!(
        (taken.admission, taken.known_source),
        (Admission::Admitted { number: 1 }, true)
    );
    // Known only where the login happened, and only for as long as it was said.
    let elsewhere = store
        .take_login_attempt(&attempt(&keys("alice", 2), NOW))
        .await
        .unwrap();
    assert!(!elsewhere.known_source);
    let later = store
        .take_login_attempt(&attempt(&alice, NOW + 1000))
        .await
        .unwrap();
    assert!(!later.known_source);
}

pub(super) async fn a_known_source_stays_known_after_a_typo<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    let alice = keys("alice", 1);
    take(&*store, &alice, NOW).await;
    ok(store
        .issue_token_pair(&pair("app", "alice", None), Some((&alice, NOW + 5000)))
        .await);
    // A typo from the known source: its failure must not shorten how long it stays known.
    take(&*store, &alice, NOW + 1).await;
    fail(&*store, failure(&alice, NOW + 1, 0)).await;
    let past_the_failures_memory = NOW + 1 + 110 + 100;
    let taken = store
        .take_login_attempt(&attempt(&alice, past_the_failures_memory))
        .await
        .unwrap();
    assert!(taken.known_source, "still known until NOW + 5000");
}

pub(super) async fn username_failures_count_across_sources_up_to_the_ceiling<S: Store>(
    store: Arc<S>,
) {
    let from = |octet| keys("alice", octet);
    assert_eq!(
        username_failures(&*store, &from(1), NOW).await,
        UsernameFailures::default()
    );
    for octet in 1..=99 {
        let counted = fail(&*store, failure(&from(octet), NOW, 0)).await;
        assert_eq!(
            counted,
            UsernameFailures {
                count: u32::from(octet),
                expires_at: NOW + 1000
            }
        );
    }
    // The failure that reaches the ceiling makes the lock last at least its length.
    let crossing = FailureRecord {
        username_window_ends: NOW + 1000,
        ..failure(&from(100), NOW + 500, 0)
    };
    let counted = store
        .record_login_failure(&crossing, 100, NOW + 500 + 900)
        .await
        .unwrap();
    assert_eq!(
        counted,
        UsernameFailures {
            count: 100,
            expires_at: NOW + 1400
        }
    );
    assert_eq!(
        username_failures(&*store, &from(7), NOW + 1399).await.count,
        100
    );
    // Unknown usernames are counted like real ones; other usernames are not touched.
    assert_eq!(
        username_failures(&*store, &keys("bob", 1), NOW).await.count,
        0
    );
    // Past the window, counting starts again.
    assert_eq!(
        username_failures(&*store, &from(1), NOW + 1400).await,
        UsernameFailures::default()
    );
    let again = fail(&*store, failure(&from(1), NOW + 1400, 0)).await;
    assert_eq!(
        again,
        UsernameFailures {
            count: 1,
            expires_at: NOW + 2400
        }
    );
}

/// However many guesses arrive together, no more passwords are checked than the policy allows,
/// and every failure from every source counts toward the username's ceiling.
pub(super) async fn concurrent_attempts_are_admitted_as_the_policy_allows<S: Store>(store: Arc<S>) {
    let alice = keys("alice", 1);
    let takes: Vec<_> = (0..60)
        .map(|_| {
            let store = Arc::clone(&store);
            let alice = alice.clone();
            tokio::spawn(async move { take(&*store, &alice, NOW).await })
        })
        .collect();
    let mut admitted = Vec::new();
    for task in takes {
        if let Admission::Admitted { number } = task.await.unwrap() {
            admitted.push(number);
        }
    }
    admitted.sort_unstable();
    assert_eq!(
        admitted,
        (1..=FREE).collect::<Vec<_>>(),
        "exactly the free attempts, once each"
    );

    let failures: Vec<_> = (0..50u8)
        .map(|octet| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { fail(&*store, failure(&keys("alice", octet), NOW, 0)).await })
        })
        .collect();
    for task in failures {
        task.await.unwrap();
    }
    assert_eq!(username_failures(&*store, &alice, NOW).await.count, 50);
}
