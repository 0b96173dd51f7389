//! Token families: listed by user and by client, revoked whole, and followed through rotations.

use super::*;

pub(super) async fn revoking_a_family_removes_its_newest_pair_only<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    let next = successor(&issued);
    ok(store
        .rotate_refresh_token(&issued.refresh, &next, NOW, KEEP_USED_UNTIL)
        .await);
    let unrelated = pair("app", "alice", None);
    ok(store.issue_token_pair(&unrelated, None).await);

    assert!(ok(store.revoke_family(&issued.refresh.family_id).await) > 0);
    assert_eq!(
        refresh_token_of(&*store, &next.refresh.key(), NOW).await,
        None
    );
    assert_eq!(ok(store.access_token(&next.access.key(), NOW).await), None);
    // Other families are untouched; revoking again finds nothing.
    assert!(
        refresh_token_of(&*store, &unrelated.refresh.key(), NOW)
            .await
            .is_some()
    );
    assert!(ok(store.access_token(&unrelated.access.key(), NOW).await).is_some());
    assert_eq!(ok(store.revoke_family(&issued.refresh.family_id).await), 0);
    assert_eq!(ok(store.revoke_family("no-such-family").await), 0);
}

pub(super) async fn a_revoked_family_cannot_rotate<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    ok(store.revoke_family(&issued.refresh.family_id).await);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &successor(&issued), NOW, KEEP_USED_UNTIL)
            .await),
        Rotation::Refused
    );
}

pub(super) async fn families_are_listed_by_user_and_by_client_oldest_first<S: Store>(
    store: Arc<S>,
) {
    for client_id in ["app", "tool"] {
        ok(store.create_client(&client(client_id)).await);
    }
    for username in ["alice", "bob"] {
        ok(store.create_user(&user(username)).await);
    }
    let alice_app = pair_at("app", "alice", NOW + 1, None);
    let app_own = client_token_at("app", NOW + 2);
    let alice_tool = pair_at("tool", "alice", NOW + 3, Some(NOW + 86_400));
    let bob_app = pair_at("app", "bob", NOW + 4, None);
    let tool_own = client_token_at("tool", NOW + 5);
    // Stored newest first: the listing orders by creation, not by write.
    ok(store.issue_access_token(&tool_own, CLIENT_VERSION).await);
    ok(store.issue_token_pair(&bob_app, None).await);
    ok(store.issue_token_pair(&alice_tool, None).await);
    ok(store.issue_access_token(&app_own, CLIENT_VERSION).await);
    ok(store.issue_token_pair(&alice_app, None).await);

    let at = NOW + 10;
    assert_eq!(
        families(&*store, &user_owner("alice"), at).await,
        vec![family_of_pair(&alice_app), family_of_pair(&alice_tool)]
    );
    assert_eq!(
        families(&*store, &user_owner("bob"), at).await,
        vec![family_of_pair(&bob_app)]
    );
    // A client's families include its users' and its own (client credentials) ones.
    assert_eq!(
        families(&*store, &client_owner("app"), at).await,
        vec![
            family_of_pair(&alice_app),
            family_of_access(&app_own),
            family_of_pair(&bob_app),
        ]
    );
    assert_eq!(
        families(&*store, &client_owner("tool"), at).await,
        vec![family_of_pair(&alice_tool), family_of_access(&tool_own)]
    );
    // Client credentials families belong to no user, not even one named like the client;
    // owners without families, and names no key can hold, have none.
    for owner in [
        user_owner("app"),
        user_owner("tool"),
        user_owner("carol"),
        client_owner("alice"),
        client_owner("nobody"),
        user_owner(""),
        client_owner(""),
        user_owner(&"x".repeat(4000)),
        client_owner(&"x".repeat(4000)),
    ] {
        assert_eq!(families(&*store, &owner, at).await, vec![], "{owner:?}");
    }
}

pub(super) async fn revoked_and_expired_families_are_not_listed<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    let lasting = pair_at("app", "alice", NOW, None);
    let expiring = pair_at("app", "alice", NOW + 1, Some(NOW + 600));
    let revoked = pair_at("app", "alice", NOW + 2, None);
    let own = client_token_at("app", NOW + 3);
    for issued in [&lasting, &expiring, &revoked] {
        ok(store.issue_token_pair(issued, None).await);
    }
    ok(store.issue_access_token(&own, CLIENT_VERSION).await);
    let id = |issued: &TokenPair| issued.refresh.family_id.clone();

    assert_eq!(
        family_ids(&*store, &user_owner("alice"), NOW + 10).await,
        vec![id(&lasting), id(&expiring), id(&revoked)]
    );
    assert_eq!(ok(store.revoke_family(&id(&revoked)).await), 2);
    assert_eq!(
        family_ids(&*store, &user_owner("alice"), NOW + 10).await,
        vec![id(&lasting), id(&expiring)]
    );
    // A family ends when its refresh token expires; one started by an access token alone
    // ends with that token.
    let all_live = vec![id(&lasting), id(&expiring), own.family_id.clone()];
    assert_eq!(
        family_ids(&*store, &client_owner("app"), NOW + 599).await,
        all_live
    );
    assert_eq!(
        family_ids(&*store, &client_owner("app"), NOW + 600).await,
        vec![id(&lasting), own.family_id.clone()]
    );
    assert_eq!(
        family_ids(&*store, &client_owner("app"), own.expires_at - 1).await,
        vec![id(&lasting), own.family_id.clone()]
    );
    assert_eq!(
        family_ids(&*store, &client_owner("app"), own.expires_at).await,
        vec![id(&lasting)]
    );
    assert_eq!(
        family_ids(&*store, &user_owner("alice"), NOW + 10 * 365 * 86_400).await,
        vec![id(&lasting)]
    );
}

pub(super) async fn rotation_keeps_the_family_and_moves_refreshed_at<S: Store>(store: Arc<S>) {
    let first = with_issued_pair(&*store, Some(NOW + 1000)).await;
    let later = pair_at("app", "alice", NOW + 50, None);
    ok(store.issue_token_pair(&later, None).await);

    let rotated = successor_at(&first, NOW + 100, Some(NOW + 1100));
    assert_eq!(
        ok(store
            .rotate_refresh_token(&first.refresh, &rotated, NOW + 100, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
    let moved = |refreshed_at, expires_at| TokenFamily {
        refreshed_at,
        expires_at,
        ..family_of_pair(&first)
    };
    // Still listed by when it was created, and now as long as its new refresh token lives.
    let expected = vec![moved(NOW + 100, Some(NOW + 1100)), family_of_pair(&later)];
    assert_eq!(
        families(&*store, &user_owner("alice"), NOW + 100).await,
        expected
    );
    assert_eq!(
        families(&*store, &client_owner("app"), NOW + 100).await,
        expected
    );
    assert_eq!(
        families(&*store, &user_owner("alice"), NOW + 1050).await,
        expected
    );

    // A refresh token without expiry makes the family last until it is revoked.
    let last = successor_at(&first, NOW + 200, None);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&rotated.refresh, &last, NOW + 200, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
    assert_eq!(
        families(&*store, &user_owner("alice"), NOW + 10 * 365 * 86_400).await,
        vec![moved(NOW + 200, None), family_of_pair(&later)]
    );
}

pub(super) async fn refreshed_at_is_when_the_current_tokens_were_issued<S: Store>(store: Arc<S>) {
    let issued = with_issued_pair(&*store, None).await;
    // The pair was made a moment before the call that stores it.
    let next = successor_at(&issued, NOW + 10, None);
    assert_eq!(
        ok(store
            .rotate_refresh_token(&issued.refresh, &next, NOW + 12, KEEP_USED_UNTIL)
            .await),
        Rotation::Rotated
    );
    let listed = families(&*store, &user_owner("alice"), NOW + 12).await;
    assert_eq!(
        listed
            .iter()
            .map(|family| (family.created_at, family.refreshed_at))
            .collect::<Vec<_>>(),
        vec![(NOW, NOW + 10)]
    );
}

pub(super) async fn revoke_all_of_a_user_spares_other_users<S: Store>(store: Arc<S>) {
    for client_id in ["app", "tool"] {
        ok(store.create_client(&client(client_id)).await);
    }
    for username in ["alice", "bob"] {
        ok(store.create_user(&user(username)).await);
    }
    let alice_first = pair_at("app", "alice", NOW, None);
    let alice_second = pair_at("tool", "alice", NOW + 1, None);
    let bob = pair_at("app", "bob", NOW + 2, None);
    for issued in [&alice_first, &alice_second, &bob] {
        ok(store.issue_token_pair(issued, None).await);
    }
    let app_own = client_token_at("app", NOW + 3);
    ok(store.issue_access_token(&app_own, CLIENT_VERSION).await);
    // One of alice's families has moved on once.
    let alice_rotated = successor_at(&alice_first, NOW + 5, None);
    assert_eq!(
        ok(store
            .rotate_refresh_token(
                &alice_first.refresh,
                &alice_rotated,
                NOW + 5,
                KEEP_USED_UNTIL
            )
            .await),
        Rotation::Rotated
    );

    let now = NOW + 10;
    assert_eq!(
        ok(revoke_all(&*store, &user_owner("alice"), now).await),
        Revoked {
            families: 2,
            tokens: 4
        }
    );
    for revoked in [&alice_rotated, &alice_second] {
        assert_eq!(
            ok(store.access_token(&revoked.access.key(), now).await),
            None
        );
        assert_eq!(
            stored_token(&*store, &revoked.access.key(), now).await,
            None
        );
        assert_eq!(
            refresh_token_of(&*store, &revoked.refresh.key(), now).await,
            None
        );
        assert_eq!(
            ok(store
                .rotate_refresh_token(
                    &revoked.refresh,
                    &successor_at(revoked, now, None),
                    now,
                    KEEP_USED_UNTIL
                )
                .await),
            Rotation::Refused
        );
    }
    assert!(
        families(&*store, &user_owner("alice"), now)
            .await
            .is_empty()
    );

    // Bob and the client's own token are untouched.
    assert_eq!(
        ok(store.access_token(&bob.access.key(), now).await),
        Some(bob.access.clone())
    );
    assert_eq!(
        refresh_token_of(&*store, &bob.refresh.key(), now).await,
        Some(bob.refresh.clone())
    );
    assert_eq!(
        ok(store.access_token(&app_own.key(), now).await),
        Some(app_own.clone())
    );
    assert_eq!(
        family_ids(&*store, &client_owner("app"), now).await,
        vec![bob.refresh.family_id.clone(), app_own.family_id.clone()]
    );
    assert_eq!(
        ok(store
            .rotate_refresh_token(
                &bob.refresh,
                &successor_at(&bob, now, None),
                now,
                KEEP_USED_UNTIL
            )
            .await),
        Rotation::Rotated
    );
    // Nothing of alice's is left to revoke.
    assert_eq!(
        ok(revoke_all(&*store, &user_owner("alice"), now).await),
        Revoked::default()
    );
}

pub(super) async fn revoke_all_of_a_client_spares_other_clients<S: Store>(store: Arc<S>) {
    for client_id in ["app", "tool"] {
        ok(store.create_client(&client(client_id)).await);
    }
    for username in ["alice", "bob"] {
        ok(store.create_user(&user(username)).await);
    }
    let alice_app = pair_at("app", "alice", NOW, Some(NOW + 86_400));
    let bob_app = pair_at("app", "bob", NOW + 1, None);
    let alice_tool = pair_at("tool", "alice", NOW + 3, None);
    for issued in [&alice_app, &bob_app, &alice_tool] {
        ok(store.issue_token_pair(issued, None).await);
    }
    let app_own = client_token_at("app", NOW + 2);
    let tool_own = client_token_at("tool", NOW + 4);
    // Expired before the revocation: not listed, so not counted.
    let app_expired = client_token_at("app", NOW - 4000);
    for own in [&app_own, &tool_own, &app_expired] {
        ok(store.issue_access_token(own, CLIENT_VERSION).await);
    }

    let now = NOW + 10;
    assert_eq!(
        ok(revoke_all(&*store, &client_owner("app"), now).await),
        Revoked {
            families: 3,
            tokens: 5
        }
    );
    for access in [&alice_app.access, &bob_app.access, &app_own] {
        assert_eq!(ok(store.access_token(&access.key(), now).await), None);
    }
    for revoked in [&alice_app, &bob_app] {
        assert_eq!(
            refresh_token_of(&*store, &revoked.refresh.key(), now).await,
            None
        );
        assert_eq!(
            ok(store
                .rotate_refresh_token(
                    &revoked.refresh,
                    &successor_at(revoked, now, None),
                    now,
                    KEEP_USED_UNTIL
                )
                .await),
            Rotation::Refused
        );
    }
    assert!(
        families(&*store, &client_owner("app"), now)
            .await
            .is_empty()
    );
    assert!(families(&*store, &user_owner("bob"), now).await.is_empty());

    // The other client's tokens, alice's included, are untouched.
    assert_eq!(
        family_ids(&*store, &user_owner("alice"), now).await,
        vec![alice_tool.refresh.family_id.clone()]
    );
    assert_eq!(
        families(&*store, &client_owner("tool"), now).await,
        vec![family_of_pair(&alice_tool), family_of_access(&tool_own)]
    );
    assert_eq!(
        ok(store.access_token(&tool_own.key(), now).await),
        Some(tool_own.clone())
    );
    assert_eq!(
        ok(store.access_token(&alice_tool.access.key(), now).await),
        Some(alice_tool.access.clone())
    );
    assert_eq!(
        ok(store
            .rotate_refresh_token(
                &alice_tool.refresh,
                &successor_at(&alice_tool, now, None),
                now,
                KEEP_USED_UNTIL
            )
            .await),
        Rotation::Rotated
    );
    assert_eq!(
        ok(revoke_all(&*store, &client_owner("app"), now).await),
        Revoked::default()
    );
}

/// A login that read the user's credentials before their logins ended (a password reset with
/// `--revoke-tokens`, a deletion) is not issued, whenever its write comes; one issued before is
/// revoked with the rest.
pub(super) async fn a_login_read_before_its_users_logins_ended_is_not_issued<S: Store>(
    store: Arc<S>,
) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    let read = |store: Arc<S>| async move {
        ok(store
            .password_grant_context(
                &support::client_id_of("app"),
                &support::username_of("alice"),
            )
            .await)
        .credential
    };
    let before = read(Arc::clone(&store)).await;
    let issued = pair("app", "alice", None);
    assert_eq!(
        ok(store.issue_login(&issued, None, &before).await),
        LoginIssue::Issued
    );
    let in_flight = pair("app", "alice", None);
    let revoked = ok(revoke_all(&*store, &user_owner("alice"), NOW).await);
    assert_eq!(
        revoked,
        Revoked {
            families: 1,
            tokens: 2
        }
    );
    assert_eq!(
        ok(store.issue_login(&in_flight, None, &before).await),
        LoginIssue::CredentialChanged
    );
    for login in [&issued, &in_flight] {
        assert_eq!(ok(store.access_token(&login.access.key(), NOW).await), None);
        assert_eq!(
            refresh_token_of(&*store, &login.refresh.key(), NOW).await,
            None
        );
    }
    // A login that reads the credentials again is issued; once the user is deleted, one in
    // flight is not.
    let after = read(Arc::clone(&store)).await;
    let next = pair("app", "alice", None);
    assert_eq!(
        ok(store.issue_login(&next, None, &after).await),
        LoginIssue::Issued
    );
    assert!(
        refresh_token_of(&*store, &next.refresh.key(), NOW)
            .await
            .is_some()
    );
    ok(store.delete_user(&support::username_of("alice")).await);
    let orphan = pair("app", "alice", None);
    assert_eq!(
        ok(store.issue_login(&orphan, None, &after).await),
        LoginIssue::CredentialChanged
    );
    assert_eq!(
        ok(store.access_token(&orphan.access.key(), NOW).await),
        None
    );
}
