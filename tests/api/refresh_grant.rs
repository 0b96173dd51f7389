//! The refresh token grant (RFC 6749 §6): rotation, single use, ownership, scope and the order
//! in which problems are reported.

use std::collections::HashSet;

use futures::future::join_all;

use crate::helpers::*;

#[tokio::test]
async fn a_refresh_rotates_both_tokens() {
    let app = spawn_app().await;
    let first = app.alice_tokens(None, ALL_SCOPES).await;

    let reply = app.refresh(A, &first.refresh, None).await;

    let second = assert_tokens(&reply, ALL_SCOPES);
    assert_ne!(second.access, first.access);
    assert_ne!(second.refresh, first.refresh);
}

#[tokio::test]
async fn a_refresh_with_body_credentials_works() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &tokens.refresh),
        ("client_id", CLIENT_A),
        ("client_secret", SECRET_A),
    ]);

    let reply = app.post_form(&body, Auth::None).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn client_b_refreshes_with_raw_and_encoded_basic() {
    let app = spawn_app().await;
    let first = assert_tokens(
        &app.password_grant(B, BOB, BOB_PASSWORD, None).await,
        ALL_SCOPES,
    );

    let second = app
        .refresh(Auth::BasicRaw(CLIENT_B, SECRET_B), &first.refresh, None)
        .await;
    let second = assert_tokens(&second, ALL_SCOPES);
    let third = app.refresh(B, &second.refresh, None).await;

    assert_tokens(&third, ALL_SCOPES);
}

#[tokio::test]
async fn a_chain_of_refreshes_gives_distinct_tokens_each_time() {
    let app = spawn_app().await;
    let mut tokens = app.alice_tokens(None, ALL_SCOPES).await;
    let mut seen = HashSet::from([tokens.access.clone(), tokens.refresh.clone()]);

    for _ in 0..10 {
        tokens = assert_tokens(&app.refresh(A, &tokens.refresh, None).await, ALL_SCOPES);
        assert!(seen.insert(tokens.access.clone()));
        assert!(seen.insert(tokens.refresh.clone()));
    }

    assert_eq!(seen.len(), 22);
}

/// A retry (the first answer was lost) gets the identical pair while its successor is unused;
/// once the successor is used, the old token is refused.
#[tokio::test]
async fn a_used_refresh_token_answers_its_pair_again_until_the_successor_is_used() {
    let app = spawn_app().await;
    let first = app.alice_tokens(None, ALL_SCOPES).await;
    let second = assert_tokens(&app.refresh(A, &first.refresh, None).await, ALL_SCOPES);

    let retry = assert_tokens(&app.refresh(A, &first.refresh, None).await, ALL_SCOPES);
    assert_eq!(
        (&retry.access, &retry.refresh),
        (&second.access, &second.refresh)
    );
    let successor = app.refresh(A, &second.refresh, None).await;
    assert_tokens(&successor, ALL_SCOPES);

    let reuse = app.refresh(A, &first.refresh, None).await;
    assert_bare_error(&reuse, "invalid_grant");
    assert_eq!(reuse.text(), r#"{"error": "invalid_grant"}"#);
}

#[tokio::test]
async fn another_clients_refresh_token_is_refused_and_not_burnt() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    let by_b = app.refresh(B, &tokens.refresh, None).await;
    let by_c = app.refresh(C, &tokens.refresh, None).await;
    let by_owner = app.refresh(A, &tokens.refresh, None).await;

    assert_bare_error(&by_b, "invalid_grant");
    assert_bare_error(&by_c, "invalid_grant");
    assert_tokens(&by_owner, ALL_SCOPES);
}

#[tokio::test]
async fn a_client_not_allowed_to_refresh_is_unauthorized_and_the_token_survives() {
    let app = spawn_app().await;
    let ds = assert_tokens(
        &app.password_grant(D, ALICE, ALICE_PASSWORD, None).await,
        ALL_SCOPES,
    );
    let as_token = app.alice_tokens(None, ALL_SCOPES).await;

    let own = app.refresh(D, &ds.refresh, None).await;
    let others = app.refresh(D, &as_token.refresh, None).await;
    let owner = app.refresh(A, &as_token.refresh, None).await;

    assert_bare_error(&own, "unauthorized_client");
    // The grant permission comes before the token check.
    assert_bare_error(&others, "unauthorized_client");
    assert_tokens(&owner, ALL_SCOPES);
}

#[tokio::test]
async fn refresh_without_or_with_wrong_client_authentication_is_401_and_not_consumed() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    let no_auth = app.refresh(Auth::None, &tokens.refresh, None).await;
    let wrong_secret = app
        .refresh(Auth::Basic(CLIENT_A, "wrong"), &tokens.refresh, None)
        .await;
    let unknown_client = app
        .refresh(Auth::Basic("nobody", SECRET_A), &tokens.refresh, None)
        .await;
    let then_correct = app.refresh(A, &tokens.refresh, None).await;

    assert_invalid_client(&no_auth);
    assert_invalid_client(&wrong_secret);
    assert_invalid_client(&unknown_client);
    assert_tokens(&then_correct, ALL_SCOPES);
}

#[tokio::test]
async fn narrowing_on_refresh_keeps_the_original_grant_for_later_refreshes() {
    // RFC 6749 §6 (DOT narrows the new refresh token too; the spec follows the RFC).
    let app = spawn_app().await;
    let full = app.alice_tokens(None, ALL_SCOPES).await;

    let narrowed = assert_tokens(&app.refresh(A, &full.refresh, Some("read")).await, "read");
    let omitted = app.refresh(A, &narrowed.refresh, None).await;
    let omitted = assert_tokens(&omitted, ALL_SCOPES);
    let narrowed_again = app.refresh(A, &omitted.refresh, Some("write")).await;
    let narrowed_again = assert_tokens(&narrowed_again, "write");
    let widened_back = app
        .refresh(A, &narrowed_again.refresh, Some(ALL_SCOPES))
        .await;

    assert_tokens(&widened_back, ALL_SCOPES);
}

#[tokio::test]
async fn refresh_scope_keeps_the_requested_order_and_drops_repeats() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    let reply = app
        .refresh(A, &tokens.refresh, Some("payouts read  payouts "))
        .await;

    assert_tokens(&reply, "payouts read");
}

#[tokio::test]
async fn an_empty_refresh_scope_means_the_original_scope() {
    let app = spawn_app().await;
    let full = app.alice_tokens(None, ALL_SCOPES).await;
    let narrowed = assert_tokens(&app.refresh(A, &full.refresh, Some("read")).await, "read");

    let reply = app
        .post_form(
            &format!(
                "grant_type=refresh_token&refresh_token={}&scope=",
                narrowed.refresh
            ),
            A,
        )
        .await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn a_wider_or_unknown_refresh_scope_is_invalid_scope_and_not_consumed() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    for scope in ["read write payouts admin", "admin", "READ", "read,write"] {
        let reply = app.refresh(A, &tokens.refresh, Some(scope)).await;
        assert_bare_error(&reply, "invalid_scope");
        assert_eq!(reply.text(), r#"{"error": "invalid_scope"}"#);
    }
    let still_valid = app.refresh(A, &tokens.refresh, None).await;

    assert_tokens(&still_valid, ALL_SCOPES);
}

/// The refresh token of a narrowed password grant carries the granted scope, not the client's
/// whole scope: refreshing `scope=read` without a scope answers `read` (RFC 6749 §6), never
/// an escalation to `read write payouts`.
#[tokio::test]
async fn refresh_after_a_narrow_password_grant_keeps_the_granted_scope() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(Some("read"), "read").await;

    let reply = app.refresh(A, &tokens.refresh, None).await;

    assert_tokens(&reply, "read");
}

/// A refresh may not ask for more than the password grant gave.
#[tokio::test]
async fn refresh_cannot_widen_beyond_the_password_grant_scope() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(Some("read"), "read").await;

    let wider = app.refresh(A, &tokens.refresh, Some("read write")).await;

    assert_bare_error(&wider, "invalid_scope");
    // The refused attempt leaves the token usable, with its own scope.
    assert_tokens(&app.refresh(A, &tokens.refresh, None).await, "read");
}

#[tokio::test]
async fn garbage_and_access_tokens_are_not_refresh_tokens() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    let shaped_like_a_token = "A".repeat(30);

    for refresh_token in [
        "garbage",
        shaped_like_a_token.as_str(),
        tokens.access.as_str(),
        &tokens.refresh[..29],
        &tokens.refresh.to_lowercase(),
    ] {
        if refresh_token == tokens.refresh {
            continue; // the lower-cased token happened to be unchanged
        }
        let reply = app.refresh(A, refresh_token, None).await;
        assert_bare_error(&reply, "invalid_grant");
    }
    assert_tokens(&app.refresh(A, &tokens.refresh, None).await, ALL_SCOPES);
}

#[tokio::test]
async fn a_missing_or_empty_refresh_token_is_an_invalid_request() {
    let app = spawn_app().await;

    for body in [
        "grant_type=refresh_token",
        "grant_type=refresh_token&refresh_token=",
        "grant_type=refresh_token&refresh_token",
        "grant_type=refresh_token&scope=read",
    ] {
        let reply = app.post_form(body, A).await;
        assert_invalid_request(&reply, "Missing refresh token parameter.");
    }
}

#[tokio::test]
async fn a_missing_refresh_token_is_reported_before_client_authentication() {
    let app = spawn_app().await;

    let no_auth = app.post_form("grant_type=refresh_token", Auth::None).await;
    let wrong_secret = app
        .post_form("grant_type=refresh_token", Auth::Basic(CLIENT_A, "x"))
        .await;

    assert_invalid_request(&no_auth, "Missing refresh token parameter.");
    assert_invalid_request(&wrong_secret, "Missing refresh token parameter.");
}

#[tokio::test]
async fn precedence_garbage_token_and_wrong_secret_is_invalid_client() {
    let app = spawn_app().await;

    let reply = app
        .refresh(Auth::Basic(CLIENT_A, "wrong"), "garbage", Some("admin"))
        .await;

    assert_invalid_client(&reply);
}

#[tokio::test]
async fn precedence_other_clients_token_and_bad_scope_is_invalid_grant() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    let reply = app.refresh(B, &tokens.refresh, Some("admin")).await;

    assert_bare_error(&reply, "invalid_grant");
}

#[tokio::test]
async fn precedence_used_token_and_bad_scope_is_invalid_grant() {
    let (app, clock) = spawn_app_with_clock().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    assert_tokens(&app.refresh(A, &tokens.refresh, None).await, ALL_SCOPES);
    // Past the retry window the used token is no longer good for anything.
    clock.advance(60);

    let reply = app.refresh(A, &tokens.refresh, Some("admin")).await;

    assert_bare_error(&reply, "invalid_grant");
}

#[tokio::test]
async fn a_retry_asking_for_a_scope_beyond_the_grant_is_invalid_scope() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    assert_tokens(&app.refresh(A, &tokens.refresh, None).await, ALL_SCOPES);

    let reply = app.refresh(A, &tokens.refresh, Some("admin")).await;

    assert_bare_error(&reply, "invalid_scope");
}

#[tokio::test]
async fn username_and_password_parameters_on_a_refresh_are_ignored() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &tokens.refresh),
        ("username", BOB),
        ("password", "wrong"),
    ]);

    let reply = app.post_form(&body, A).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn a_refresh_in_a_json_body_works() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    let body = serde_json::json!({
        "grant_type": "refresh_token",
        "refresh_token": tokens.refresh,
        "scope": "payouts",
        "username": null,
    });

    let reply = app.post_json(&body, A).await;

    assert_tokens(&reply, "payouts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_token_converge_on_one_pair() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;

    let replies = join_all((0..10).map(|_| app.refresh(A, &tokens.refresh, None))).await;

    let mut pairs: Vec<_> = replies
        .iter()
        .map(|reply| {
            let pair = assert_tokens(reply, ALL_SCOPES);
            (pair.access, pair.refresh)
        })
        .collect();
    pairs.dedup();
    assert_eq!(
        pairs.len(),
        1,
        "every duplicate gets the one successor pair"
    );
    assert_tokens(&app.refresh(A, &pairs[0].1, None).await, ALL_SCOPES);
}
