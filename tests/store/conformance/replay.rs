//! The replay store: a DPoP proof's or client assertion's `jti` is accepted once while its
//! record lives, by one conditional write, and a record past its expiry counts as gone
//! whether or not TTL deleted it. Bound tokens keep their key.

use super::*;
use token_endpoint::domain::jose::{ReplayKey, Thumbprint};

pub(super) async fn a_jti_is_recorded_once_until_it_expires<S: Store>(store: Arc<S>) {
    let key = ReplayKey::new("dpop", "thumbprint", &fresh_family_id());
    let until = NOW + 60;
    assert!(ok(store.record_once(&key, until, NOW).await));
    assert!(!ok(store.record_once(&key, until, NOW).await));
    assert!(!ok(store.record_once(&key, until, until - 1).await));
    let other = ReplayKey::new("dpop", "another thumbprint", "same-jti");
    assert!(ok(store.record_once(&other, until, NOW).await));
    // Expired, though TTL has not deleted it: recorded anew.
    assert!(ok(store.record_once(&key, until + 60, until).await));
    assert!(!ok(store.record_once(&key, until + 60, until + 1).await));
}

pub(super) async fn concurrent_first_uses_have_one_winner<S: Store>(store: Arc<S>) {
    let key = ReplayKey::new("client_assertion", "app", &fresh_family_id());
    let mut uses = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (store, key) = (Arc::clone(&store), key.clone());
        uses.spawn(async move { ok(store.record_once(&key, NOW + 60, NOW).await) });
    }
    let mut first = 0;
    while let Some(joined) = uses.join_next().await {
        first += usize::from(joined.unwrap());
    }
    assert_eq!(first, 1);
}

pub(super) async fn dpop_bound_tokens_read_back_with_their_key<S: Store>(store: Arc<S>) {
    let jkt = Thumbprint::from_stored("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into());
    let mut bound = pair("app", "alice", None);
    bound.access.jkt = Some(jkt.clone());
    bound.refresh.jkt = Some(jkt.clone());
    ok(store.issue_token_pair(&bound, None).await);
    assert_eq!(read_pair(&*store, &bound).await, stored(&bound));
    assert_eq!(
        ok(store.access_token(&bound.access.key(), NOW).await),
        Some(bound.access.clone())
    );

    // The login's binding lives with the login: a refresh rebinds or unbinds it in its one
    // write, so nothing of the previous key is left behind.
    let mut access_only = successor(&bound);
    access_only.access.jkt = Some(jkt);
    let bearer = successor(&access_only);
    for (used, next) in [(&bound, &access_only), (&access_only, &bearer)] {
        ok(store
            .rotate_refresh_token(&used.refresh, next, NOW, KEEP_USED_UNTIL)
            .await);
        assert_eq!(read_pair(&*store, next).await, stored(next));
    }
}

async fn read_pair<S: Store>(store: &S, pair: &TokenPair) -> Vec<Option<StoredToken>> {
    ok(store
        .read_tokens(&[&pair.access.key(), &pair.refresh.key()], NOW)
        .await)
}

fn stored(pair: &TokenPair) -> Vec<Option<StoredToken>> {
    vec![
        Some(StoredToken::Access(pair.access.clone())),
        Some(StoredToken::Refresh(pair.refresh.clone())),
    ]
}
