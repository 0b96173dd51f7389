//! Clients and users: created once, updated and deleted, and their hashes replaced only
//! while they are the one that was verified.

use super::*;

pub(super) async fn provisioning_refuses_duplicates_and_missing_records<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    assert!(matches!(
        store.create_client(&client("app")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.create_user(&user("alice")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.set_client_secret_hash("nope", "h").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_user_password_hash("nope", "h").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_client("nope").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_user("nope").await,
        Err(StoreError::NotFound(_))
    ));
}

pub(super) async fn provisioning_updates_and_deletes<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    ok(store.set_client_secret_hash("app", "new-secret-hash").await);
    ok(store
        .set_user_password_hash("alice", "new-password-hash")
        .await);
    let context = ok(store
        .password_grant_context("app", "alice", &keys_for("alice"), NOW)
        .await);
    assert_eq!(
        context.client.map(|c| c.secret_hash).as_deref(),
        Some("new-secret-hash")
    );
    assert_eq!(
        context.user.map(|u| u.password_hash).as_deref(),
        Some("new-password-hash")
    );
    ok(store.delete_client("app").await);
    ok(store.delete_user("alice").await);
    let context = ok(store
        .password_grant_context("app", "alice", &keys_for("alice"), NOW)
        .await);
    assert_eq!((context.client, context.user), (None, None));
}

/// Hash upgrades are compare-and-set: an imported Django hash is replaced only while it is the
/// one that was verified, and a missing record is never created.
pub(super) async fn replacing_a_hash_needs_the_expected_one<S: Store>(store: Arc<S>) {
    let django = "pbkdf2_sha256$1000$salt$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=";
    let mut legacy_client = client("app");
    legacy_client.secret_hash = django.into();
    let mut legacy_user = user("alice");
    legacy_user.password_hash = django.into();
    ok(store.create_client(&legacy_client).await);
    ok(store.create_user(&legacy_user).await);
    let stored = |store: Arc<S>| async move {
        let context = ok(store
            .password_grant_context("app", "alice", &keys_for("alice"), NOW)
            .await);
        (
            context.client.map(|c| c.secret_hash),
            context.user.map(|u| u.password_hash),
        )
    };

    // Another expected hash: nothing changes.
    assert_eq!(
        ok(store
            .replace_client_secret_hash("app", "pbkdf2_sha256$1$other$x", "$argon2id$new-secret")
            .await),
        HashReplacement::Stale
    );
    assert_eq!(
        ok(store
            .replace_user_password_hash("alice", "", "$argon2id$new-password")
            .await),
        HashReplacement::Stale
    );
    assert_eq!(
        stored(Arc::clone(&store)).await,
        (Some(django.to_owned()), Some(django.to_owned()))
    );

    // The expected hash: replaced, and only that attribute.
    assert_eq!(
        ok(store
            .replace_client_secret_hash("app", django, "$argon2id$new-secret")
            .await),
        HashReplacement::Replaced
    );
    assert_eq!(
        ok(store
            .replace_user_password_hash("alice", django, "$argon2id$new-password")
            .await),
        HashReplacement::Replaced
    );
    assert_eq!(
        stored(Arc::clone(&store)).await,
        (
            Some("$argon2id$new-secret".to_owned()),
            Some("$argon2id$new-password".to_owned())
        )
    );
    let upgraded = ok(store.client("app").await);
    assert_eq!(
        upgraded.map(|c| (c.name, c.scope, c.grant_types)),
        Some((
            legacy_client.name,
            legacy_client.scope,
            legacy_client.grant_types
        ))
    );

    // Once replaced, the old hash is no longer expected: a second upgrade is stale.
    assert_eq!(
        ok(store
            .replace_client_secret_hash("app", django, "$argon2id$again")
            .await),
        HashReplacement::Stale
    );
    assert_eq!(
        ok(store
            .replace_user_password_hash("alice", django, "$argon2id$again")
            .await),
        HashReplacement::Stale
    );
    assert_eq!(
        stored(Arc::clone(&store)).await,
        (
            Some("$argon2id$new-secret".to_owned()),
            Some("$argon2id$new-password".to_owned())
        )
    );

    // Missing or deleted records are not created.
    assert_eq!(
        ok(store.replace_client_secret_hash("nope", django, "h").await),
        HashReplacement::Stale
    );
    assert_eq!(
        ok(store
            .replace_user_password_hash("nobody", django, "h")
            .await),
        HashReplacement::Stale
    );
    ok(store.delete_user("alice").await);
    assert_eq!(
        ok(store
            .replace_user_password_hash("alice", "$argon2id$new-password", "h")
            .await),
        HashReplacement::Stale
    );
    assert_eq!(ok(store.client("nope").await), None);
    let context = ok(store
        .password_grant_context("nope", "nobody", &keys_for("nobody"), NOW)
        .await);
    assert_eq!((context.client, context.user), (None, None));
    assert_eq!(
        ok(store
            .password_grant_context("app", "alice", &keys_for("alice"), NOW)
            .await)
        .user,
        None
    );
}

/// Concurrent first logins of one user each verify the Django hash and try to store their own
/// Argon2id replacement: exactly one is stored, the others find it stale.
pub(super) async fn concurrent_hash_replacements_have_one_winner<S: Store>(store: Arc<S>) {
    let django = "pbkdf2_sha256$1000$salt$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=";
    let mut legacy_user = user("alice");
    legacy_user.password_hash = django.into();
    ok(store.create_user(&legacy_user).await);
    let mut attempts = tokio::task::JoinSet::new();
    for attempt in 0..8 {
        let store = Arc::clone(&store);
        attempts.spawn(async move {
            let replacement = format!("$argon2id$attempt-{attempt}");
            let outcome = ok(store
                .replace_user_password_hash("alice", django, &replacement)
                .await);
            (outcome, replacement)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = attempts.join_next().await {
        let (outcome, replacement) = joined.unwrap();
        if outcome == HashReplacement::Replaced {
            winners.push(replacement);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(
        ok(store
            .password_grant_context("", "alice", &keys_for("alice"), NOW)
            .await)
        .user
        .map(|u| u.password_hash),
        winners.pop()
    );
}
