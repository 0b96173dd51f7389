//! Refresh token rotation: single use, one winner among concurrent rotations, all or nothing,
//! and the used-token record a rotation leaves.

use super::*;

pub(super) async fn expired_refresh_tokens_are_neither_read_nor_rotated<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, Some(NOW + 60)).await;
    let hash = &issued.refresh.key();
    assert!(refresh_token_of(&*store, hash, NOW + 59).await.is_some());
    assert_eq!(refresh_token_of(&*store, hash, NOW + 60).await, None);
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, NOW + 60, KEEP_USED_UNTIL)
            .await),
        Rotation::Refused
    );
    assert_eq!(ok(store.access_token(&next.access.key(), NOW).await), None);
}

pub(super) async fn rotation_replaces_the_pair<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, NOW, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
    assert_eq!(
        refresh_token_of(&*store, &issued.refresh.key(), NOW).await,
        None
    );
    assert_eq!(
        ok(store.access_token(&issued.access.key(), NOW).await),
        None
    );
    assert_eq!(
        refresh_token_of(&*store, &next.refresh.key(), NOW).await,
        Some(next.refresh.clone())
    );
    assert_eq!(
        ok(store.access_token(&next.access.key(), NOW).await),
        Some(next.access)
    );
}

pub(super) async fn a_refresh_token_rotates_once<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let first = successor(&issued);
    let second = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &first, NOW, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &second, NOW, KEEP_USED_UNTIL)
            .await),
        Rotation::Refused
    );
    assert_eq!(
        refresh_token_of(&*store, &second.refresh.key(), NOW).await,
        None
    );
    assert!(
        refresh_token_of(&*store, &first.refresh.key(), NOW)
            .await
            .is_some()
    );
}

pub(super) async fn rotation_refuses_another_clients_token<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let mut presented = issued.refresh.clone();
    presented.client_id = support::client_id_of("intruder");
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&presented, &next, NOW, KEEP_USED_UNTIL)
            .await),
        Rotation::Refused
    );
    // Not burnt: the owner can still use it.
    assert!(
        refresh_token_of(&*store, &issued.refresh.key(), NOW)
            .await
            .is_some()
    );
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &successor(&issued), NOW, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
}

pub(super) async fn rotation_refuses_a_deleted_users_token<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    ok(store.delete_user(&support::username_of("alice")).await);
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, NOW, KEEP_USED_UNTIL)
            .await),
        Rotation::Refused
    );
    assert_eq!(ok(store.access_token(&next.access.key(), NOW).await), None);
}

/// A user deleted and created again under the same name is someone else: the old user's
/// refresh tokens stay dead, even before any revocation reached them.
pub(super) async fn a_user_created_again_does_not_revive_old_tokens<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    ok(store.delete_user(&support::username_of("alice")).await);
    let recreated_at = NOW + CREATION_CLOCK_SKEW + 5;
    ok(store
        .create_user(&User {
            created_at: recreated_at,
            ..user("alice")
        })
        .await);
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, recreated_at + 10, KEEP_USED_UNTIL)
            .await),
        Rotation::Refused
    );
    // A token issued to the new alice rotates as usual.
    let fresh = pair_at("app", "alice", recreated_at + 1, None);
    ok(store.issue_token_pair(&fresh, None).await);
    assert_eq!(
        ok(store
            .rotate_refresh_token(
                &fresh.refresh,
                &successor(&fresh),
                recreated_at + 10,
                KEEP_USED_UNTIL
            )
            .await),
        Rotation::Rotated
    );
}

pub(super) async fn concurrent_rotations_have_exactly_one_winner<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let attempts: Vec<TokenPair> = (0..24).map(|_| successor(&issued)).collect();
    let tasks: Vec<_> = attempts
        .iter()
        .cloned()
        .map(|replacement| {
            let store = Arc::clone(&store);
            let used = issued.refresh.clone();
            tokio::spawn(async move {
                store
                    .rotate_refresh_token(&used, &replacement, NOW, KEEP_USED_UNTIL)
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(ok(task.await.expect("task failed")));
    }
    let winners: Vec<&TokenPair> = attempts
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| **outcome == Rotation::Rotated)
        .map(|(attempt, _)| attempt)
        .collect();
    assert_eq!(winners.len(), 1, "outcomes: {outcomes:?}");
    for attempt in &attempts {
        let stored = refresh_token_of(&*store, &attempt.refresh.key(), NOW).await;
        assert_eq!(stored.is_some(), std::ptr::eq(attempt, winners[0]));
    }
}

pub(super) async fn a_failed_rotation_changes_nothing<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let other = pair("app", "alice", None);
    ok(store.issue_token_pair(&other, None).await);
    // The replacement names another family: the write must fail whole.
    let mut colliding = successor(&issued);
    colliding.refresh.family_id = other.refresh.family_id.clone();
    colliding.access.family_id = other.refresh.family_id.clone();
    assert_ne!(
        store
            .rotate_refresh_token(&issued.refresh, &colliding, NOW, KEEP_USED_UNTIL)
            .await
            .ok(),
        Some(Rotation::Rotated)
    );
    assert!(
        refresh_token_of(&*store, &issued.refresh.key(), NOW)
            .await
            .is_some()
    );
    assert!(ok(store.access_token(&issued.access.key(), NOW).await).is_some());
    assert_eq!(
        ok(store.access_token(&colliding.access.key(), NOW).await),
        None
    );
}

pub(super) async fn a_used_refresh_token_leaves_a_record_until_it_expires<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, NOW + 10, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
    let used = used_record_of(&*store, &issued.refresh.key(), NOW + 20).await;
    let used = used.expect("the used token should leave a record");
    assert_eq!(used.family_id, issued.refresh.family_id);
    assert_eq!(used.client_id, "app");
    assert_eq!(used.used_at, NOW + 10);
    assert_eq!(used.expires_at, KEEP_USED_UNTIL);
    // The record is not a usable token, and is forgotten once it expires.
    assert_eq!(
        refresh_token_of(&*store, &issued.refresh.key(), NOW + 20).await,
        None
    );
    let context = ok(store
        .token_context(
            &support::client_id_of("app"),
            &issued.refresh.key(),
            KEEP_USED_UNTIL,
        )
        .await);
    assert_eq!(context.token, None);
}

/// A retry recomputes the successor from the used record: it must keep the secret the
/// successor was derived with, and name the successor pair.
pub(super) async fn a_used_record_remembers_the_successor_and_the_secret<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let next = successor(&issued);
    ok(store
        .rotate_refresh_token(&issued.refresh, &next, NOW, KEEP_USED_UNTIL)
        .await);
    let used = used_record_of(&*store, &issued.refresh.key(), NOW)
        .await
        .expect("no used record");
    assert_eq!(used.successor_refresh, next.refresh.token_hash);
    assert_eq!(used.successor_access, next.access.token_hash);
    assert_eq!(used.family_secret, next.refresh.family_secret);
    assert!(used.family_secret.is_some());
    assert_eq!((used.username.as_str(), used.used_at), ("alice", NOW));
    // The successor carries the secret on.
    let found = ok(store.read_tokens(&[&next.refresh.key()], NOW).await);
    match found.as_slice() {
        [Some(StoredToken::Refresh(refresh))] => {
            assert_eq!(refresh.family_secret, issued.refresh.family_secret);
        }
        other => panic!("{other:?}"),
    }
}

pub(super) async fn tokens_are_read_by_hash_in_order<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let unknown = unknown_key();
    let found = ok(store
        .read_tokens(
            &[&issued.refresh.key(), &unknown, &issued.access.key()],
            NOW,
        )
        .await);
    assert!(matches!(
        found.as_slice(),
        [
            Some(StoredToken::Refresh(_)),
            None,
            Some(StoredToken::Access(_))
        ]
    ));
    // Expired tokens read as absent, as everywhere.
    let later = ok(store
        .read_tokens(&[&issued.access.key()], issued.access.expires_at)
        .await);
    assert_eq!(later, vec![None]);
    assert_eq!(ok(store.read_tokens(&[], NOW).await), vec![]);
}

/// A value that names a live family but none of the tokens it holds reads as what the family
/// tells of it: its secret and the refresh tokens it knows, from which the refresh grant
/// recognises an older refresh token of it (a replay). A revoked family tells nothing.
pub(super) async fn an_older_token_reads_as_superseded_until_its_family_ends<S: Store>(
    store: Arc<S>,
) {
    let issued = with_issued_pair(&*store, None).await;
    let second = successor(&issued);
    let third = successor(&issued);
    for (used, next, at) in [(&issued, &second, NOW + 1), (&second, &third, NOW + 2)] {
        assert_eq!(
            ok(store
                .rotate_refresh_token(&used.refresh, next, at, KEEP_USED_UNTIL)
                .await),
            Rotation::Rotated
        );
    }
    let older = ok(store
        .token_context(
            &support::client_id_of("app"),
            &issued.refresh.key(),
            NOW + 3,
        )
        .await)
    .token;
    let Some(StoredToken::Superseded(older)) = older else {
        panic!("{older:?}");
    };
    assert_eq!(older.family_id, issued.refresh.family_id);
    assert_eq!(older.client_id, "app");
    assert_eq!(older.family_secret, issued.refresh.family_secret);
    assert_eq!(
        older.current_refresh.as_ref(),
        Some(&third.refresh.token_hash)
    );
    assert_eq!(
        older.previous_refresh.as_ref(),
        Some(&second.refresh.token_hash)
    );
    assert_eq!(older.rotated_at, NOW + 2);
    ok(store.revoke_family(&issued.refresh.family_id).await);
    let after = ok(store
        .token_context(
            &support::client_id_of("app"),
            &issued.refresh.key(),
            NOW + 3,
        )
        .await);
    assert_eq!(after.token, None);
}
