//! The memory store's own behaviour: what it forgets, and when.
use super::*;
use crate::domain::names::{ClientId, Username};
use crate::domain::scope::Scope;
use crate::domain::secret::Secret;
use crate::domain::token::new_token;

fn pair(family_id: &str, issued_at: UnixSeconds) -> TokenPair {
    let hash = || TokenHash::of(&new_token().unwrap_or_else(|_| Secret::new("x")));
    let access = AccessTokenRecord {
        token_hash: hash(),
        client_id: ClientId::parse("app").unwrap(),
        username: Some(Username::parse("alice").unwrap()),
        scope: Scope::default(),
        family_id: family_id.into(),
        issued_at,
        expires_at: issued_at + 3600,
        jkt: None,
        audience: None,
    };
    let refresh = RefreshTokenRecord {
        token_hash: hash(),
        client_id: ClientId::parse("app").unwrap(),
        username: Username::parse("alice").unwrap(),
        scope: Scope::default(),
        access_token_hash: access.token_hash.clone(),
        family_id: family_id.into(),
        family_secret: None,
        issued_at,
        expires_at: None,
        jkt: None,
        client_version: None,
    };
    TokenPair { access, refresh }
}

/// A long chain of refreshes keeps memory flat: one family record, holding the live pair and
/// the refresh token used last.
#[tokio::test]
async fn a_long_refresh_chain_keeps_a_bounded_number_of_records() {
    let store = MemoryStore::new();
    store
        .create_user(&User {
            username: Username::parse("alice").unwrap(),
            password_hash: String::new(),
            created_at: 0,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut current = pair("f", 0);
    store
        .issue_token_pair(&current, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let chain = 5_000;
    let mut used = Vec::new();
    for step in 1..=chain {
        let next = pair("f", 0);
        let rotated = store
            .rotate_refresh_token(&current.refresh, &next, step as u64, u64::MAX)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rotated, Rotation::Rotated);
        used.push(current.refresh.token_hash.clone());
        current = next;
    }
    let data = store.lock().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(data.families.len(), 1);
    let family = data
        .families
        .get("f")
        .unwrap_or_else(|| panic!("no family"));
    assert_eq!(
        family.previous.as_ref().map(|used| &used.token_hash),
        used.last()
    );
}

#[tokio::test]
async fn expired_tokens_are_swept() {
    let store = MemoryStore::new();
    for _ in 1..WRITES_PER_SWEEP {
        let mut access = pair("x", 0).access;
        access.family_id = new_token()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default();
        store
            .issue_access_token(&access, 0)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // One more write an hour later sweeps every token issued at 0.
    let mut late = pair("late", 3600).access;
    late.family_id = "late".into();
    store
        .issue_access_token(&late, 0)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let data = store.lock().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(data.families.len(), 1, "only the late token is live");
}
