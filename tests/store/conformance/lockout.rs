//! Login failures: counted per username, locking, expiring, and cleared by a success.

use super::*;

async fn failures_of<S: Store>(store: &S, username: &str, now: UnixSeconds) -> LoginFailures {
    ok(store.password_grant_context("app", username, now).await).failures
}

pub(super) async fn login_failures_count_lock_and_expire<S: Store>(store: Arc<S>) {
    assert_eq!(
        failures_of(&*store, "alice", NOW).await,
        LoginFailures::default()
    );
    ok(store.record_login_failure("alice", NOW, 0, NOW + 100).await);
    ok(store
        .record_login_failure("alice", NOW, NOW + 5, NOW + 100)
        .await);
    let failures = failures_of(&*store, "alice", NOW + 1).await;
    assert_eq!(
        failures,
        LoginFailures {
            count: 2,
            locked_until: NOW + 5
        }
    );
    assert!(failures.is_locked_at(NOW + 4) && !failures.is_locked_at(NOW + 5));
    // Unknown usernames are counted like known ones.
    ok(store
        .record_login_failure("nobody", NOW, 0, NOW + 100)
        .await);
    assert_eq!(failures_of(&*store, "nobody", NOW).await.count, 1);
    // Past its expiry the record is forgotten, and counting starts again.
    assert_eq!(
        failures_of(&*store, "alice", NOW + 100).await,
        LoginFailures::default()
    );
    ok(store
        .record_login_failure("alice", NOW + 100, 0, NOW + 200)
        .await);
    assert_eq!(failures_of(&*store, "alice", NOW + 101).await.count, 1);
    // A username too long to be a key is not an error.
    ok(store
        .record_login_failure(&"x".repeat(4000), NOW, 0, NOW + 100)
        .await);
}

async fn concurrent_failures_all_count<S: Store>(store: Arc<S>) {
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(
                async move { store.record_login_failure("alice", NOW, 0, NOW + 100).await },
            )
        })
        .collect();
    for task in tasks {
        ok(task.await.unwrap());
    }
    assert_eq!(failures_of(&*store, "alice", NOW).await.count, 20);
}

pub(super) async fn a_successful_login_clears_failures<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    ok(store
        .record_login_failure("alice", NOW, NOW + 5, NOW + 100)
        .await);
    ok(store
        .issue_token_pair(&pair("app", "alice", None), true)
        .await);
    assert_eq!(
        failures_of(&*store, "alice", NOW).await,
        LoginFailures::default()
    );
    concurrent_failures_all_count(store).await;
}
