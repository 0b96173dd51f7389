//! Reads: clients, users and tokens read back as written, and absent, expired or oversized
//! keys read as nothing.

use super::*;
use token_endpoint::domain::names::{ClientId, Username};

pub(super) async fn reads_client_and_user_in_one_call<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    let context = ok(store
        .password_grant_context(
            &support::client_id_of("app"),
            &support::username_of("alice"),
        )
        .await);
    assert_eq!(context.client, Some(client("app")));
    assert_eq!(context.user, Some(user("alice")));
}

pub(super) async fn absent_records_read_as_none<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    let context = ok(store
        .password_grant_context(
            &support::client_id_of("app"),
            &support::username_of("nobody"),
        )
        .await);
    assert_eq!(context.client, Some(client("app")));
    assert_eq!(context.user, None);
    let context = ok(store
        .password_grant_context(
            &support::client_id_of("other"),
            &support::username_of("nobody"),
        )
        .await);
    assert_eq!((context.client, context.user), (None, None));
    let context = ok(store
        .token_context(&support::client_id_of("other"), &unknown_key(), NOW)
        .await);
    assert_eq!((context.client, context.token), (None, None));
    assert_eq!(ok(store.access_token(&unknown_key(), NOW).await), None);
}

pub(super) async fn issued_pairs_read_back<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, Some(NOW + 86_400)).await;
    assert_eq!(
        ok(store.access_token(&issued.access.key(), NOW).await),
        Some(issued.access.clone())
    );
    let context = ok(store
        .token_context(&support::client_id_of("app"), &issued.refresh.key(), NOW)
        .await);
    assert_eq!(context.client, Some(client("app")));
    assert_eq!(context.token, Some(StoredToken::Refresh(issued.refresh)));
}

pub(super) async fn expired_access_tokens_read_as_absent<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let hash = &issued.access.key();
    assert!(ok(store.access_token(hash, NOW + 3599).await).is_some());
    // The TTL has passed but nothing deleted the item: the read itself must refuse it.
    assert_eq!(ok(store.access_token(hash, NOW + 3600).await), None);
    assert_eq!(ok(store.access_token(hash, NOW + 100_000).await), None);
}

pub(super) async fn refresh_tokens_without_lifetime_never_expire<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let far_future = NOW + 10 * 365 * 86_400;
    assert!(
        refresh_token_of(&*store, &issued.refresh.key(), far_future)
            .await
            .is_some()
    );
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, far_future, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
}

pub(super) async fn access_tokens_are_not_refresh_tokens<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    assert_eq!(
        refresh_token_of(&*store, &issued.access.key(), NOW).await,
        None
    );
    assert_eq!(
        ok(store.access_token(&issued.refresh.key(), NOW).await),
        None
    );
}

pub(super) async fn oversized_keys_read_as_absent<S: Store>(store: Arc<S>) {
    let long = "x".repeat(4000);
    // No edge lets such names through; the store must still cope with them.
    let (long_id, long_name) = (
        ClientId::from_stored(long.clone()),
        Username::from_stored(long.clone()),
    );
    let context = ok(store.password_grant_context(&long_id, &long_name).await);
    assert_eq!((context.client, context.user), (None, None));
    let context = ok(store.token_context(&long_id, &unknown_key(), NOW).await);
    assert_eq!(context.client, None);
}

pub(super) async fn reads_a_client_alone<S: Store>(store: Arc<S>) {
    assert_eq!(ok(store.client(&support::client_id_of("app")).await), None);
    ok(store.create_client(&client("app")).await);
    // A user of the same name is not a client.
    ok(store.create_user(&user("other")).await);
    assert_eq!(
        ok(store.client(&support::client_id_of("app")).await),
        Some(client("app"))
    );
    assert_eq!(
        ok(store.client(&support::client_id_of("other")).await),
        None
    );
    assert_eq!(
        ok(store.client(&ClientId::from_stored("x".repeat(4000))).await),
        None
    );
    ok(store.delete_client(&support::client_id_of("app")).await);
    assert_eq!(ok(store.client(&support::client_id_of("app")).await), None);
}

pub(super) async fn token_context_finds_every_kind_of_token<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let context = ok(store
        .token_context(&support::client_id_of("app"), &issued.access.key(), NOW)
        .await);
    assert_eq!(context.client, Some(client("app")));
    let Some(StoredToken::Access(access)) = context.token else {
        panic!("the access token should read as one: {:?}", context.token);
    };
    assert_eq!(access, issued.access);
    assert_eq!(access.family_id, issued.refresh.family_id);
    assert_eq!(access.username.as_deref(), Some("alice"));
    assert_eq!(
        stored_token(&*store, &issued.refresh.key(), NOW).await,
        Some(StoredToken::Refresh(issued.refresh.clone()))
    );
    // The token is read whoever presents it: checking its client is the caller's job.
    let context = ok(store
        .token_context(
            &support::client_id_of("stranger"),
            &issued.access.key(),
            NOW,
        )
        .await);
    assert_eq!(context.client, None);
    assert_eq!(
        context.token,
        Some(StoredToken::Access(issued.access.clone()))
    );

    // A client's own token reads back without a user.
    let own = client_token_at("app", NOW);
    ok(store.issue_access_token(&own, CLIENT_VERSION).await);
    assert_eq!(
        stored_token(&*store, &own.key(), NOW).await,
        Some(StoredToken::Access(own.clone()))
    );

    // Access tokens read as absent from their expiry on, even before anything deletes them.
    for token in [&issued.access, &own] {
        let hash = &token.key();
        assert!(
            stored_token(&*store, hash, token.expires_at - 1)
                .await
                .is_some()
        );
        assert_eq!(stored_token(&*store, hash, token.expires_at).await, None);
    }

    // A used refresh token reads as its used-token record; its access token is gone.
    let next = successor(&issued);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, NOW + 10, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
    assert_eq!(
        stored_token(&*store, &issued.refresh.key(), NOW + 20).await,
        Some(StoredToken::UsedRefresh(UsedRefreshToken::after_rotation(
            issued.refresh.clone(),
            &next,
            NOW + 10,
            KEEP_USED_UNTIL
        )))
    );
    assert_eq!(
        stored_token(&*store, &issued.access.key(), NOW + 20).await,
        None
    );
    assert_eq!(
        stored_token(&*store, &next.access.key(), NOW + 20).await,
        Some(StoredToken::Access(next.access))
    );
}
