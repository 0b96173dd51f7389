//! Issuing tokens: a write that would collide with a stored family is refused whole. A token
//! is stored in its family's record, so only a family id can collide.

use super::*;

pub(super) async fn duplicate_token_writes_are_refused_whole<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let mut again = pair("app", "alice", None);
    again.refresh.token_hash = issued.refresh.token_hash.clone();
    again.refresh.family_id = issued.refresh.family_id.clone();
    again.access.family_id = issued.refresh.family_id.clone();
    assert!(store.issue_token_pair(&again, None).await.is_err());
    assert_eq!(ok(store.access_token(&again.access.key(), NOW).await), None);
    assert_eq!(
        refresh_token_of(&*store, &issued.refresh.key(), NOW).await,
        Some(issued.refresh)
    );
}

pub(super) async fn an_access_token_issued_alone_reads_back_and_revokes<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    // Requested for one API (RFC 8707 `resource`): the audience reads back with it.
    let own = AccessTokenRecord {
        audience: Some("https://api.example.com/v1".into()),
        ..client_token_at("app", NOW)
    };
    ok(store.issue_access_token(&own, CLIENT_VERSION).await);
    let read = ok(store.access_token(&own.key(), NOW).await);
    assert_eq!(
        read.as_ref().map(|token| token.username.clone()),
        Some(None)
    );
    assert_eq!(read, Some(own.clone()));
    assert_eq!(
        stored_token(&*store, &own.key(), NOW).await,
        Some(StoredToken::Access(own.clone()))
    );
    assert_eq!(
        families(&*store, &client_owner("app"), NOW).await,
        vec![family_of_access(&own)]
    );

    // Its family holds it alone.
    assert_eq!(ok(store.revoke_family(&own.family_id).await), 1);
    assert_eq!(ok(store.access_token(&own.key(), NOW).await), None);
    assert_eq!(stored_token(&*store, &own.key(), NOW).await, None);
    assert!(
        families(&*store, &client_owner("app"), NOW)
            .await
            .is_empty()
    );
    assert_eq!(ok(store.revoke_family(&own.family_id).await), 0);
}

pub(super) async fn an_access_token_colliding_with_a_stored_one_is_refused_whole<S: Store>(
    store: Arc<S>,
) {
    let issued = with_issued_pair(&*store, None).await;
    let mut colliding = client_token_at("app", NOW + 5);
    colliding.family_id = issued.refresh.family_id.clone();
    assert!(
        store
            .issue_access_token(&colliding, CLIENT_VERSION)
            .await
            .is_err()
    );
    // The stored token is untouched, and the new family was not written either.
    assert_eq!(
        ok(store.access_token(&issued.access.key(), NOW).await),
        Some(issued.access)
    );
    assert_eq!(
        family_ids(&*store, &client_owner("app"), NOW).await,
        vec![issued.refresh.family_id.clone()]
    );
    assert_eq!(
        refresh_token_of(&*store, &issued.refresh.key(), NOW).await,
        Some(issued.refresh)
    );
}

pub(super) async fn a_pair_reusing_a_family_id_is_refused_whole<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let mut reusing = pair_at("app", "alice", NOW + 5, None);
    reusing.access.family_id = issued.refresh.family_id.clone();
    reusing.refresh.family_id = issued.refresh.family_id.clone();
    assert!(store.issue_token_pair(&reusing, None).await.is_err());
    assert_eq!(
        ok(store.access_token(&reusing.access.key(), NOW + 5).await),
        None
    );
    assert_eq!(
        refresh_token_of(&*store, &reusing.refresh.key(), NOW + 5).await,
        None
    );
    // The family still holds the pair it was started with.
    assert_eq!(
        families(&*store, &user_owner("alice"), NOW + 5).await,
        vec![family_of_pair(&issued)]
    );
    assert_eq!(ok(store.revoke_family(&issued.refresh.family_id).await), 2);
    assert_eq!(
        ok(store.access_token(&issued.access.key(), NOW + 5).await),
        None
    );
}
