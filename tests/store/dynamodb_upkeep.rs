//! The tokens table's upkeep on DynamoDB: the sweep that removes expired items where the table
//! has no TTL, and the barrier that keeps a login ended in flight from ever being written.

use token_endpoint::domain::Scope;
use token_endpoint::domain::jose::ReplayKey;
use token_endpoint::domain::model::AccessTokenRecord;
use token_endpoint::domain::store::prelude::*;
use token_endpoint::domain::token::{TokenHash, new_token, random_alphanumeric};

use super::dynamodb_grants::pair;

/// Where the table has no TTL (an MRSC global table), the sweep removes what has expired and
/// nothing else; reads never needed it, as they check expiry themselves.
#[tokio::test]
async fn the_sweep_removes_expired_items_only() {
    support::require!(Moto);
    let store = support::dynamo_store().await;
    let now = 1_800_000_000;
    let own = |issued_at: u64| AccessTokenRecord {
        token_hash: TokenHash::of(&new_token().unwrap()),
        client_id: support::client_id_of("app"),
        username: None,
        scope: Scope::parse("read").expect("scope"),
        family_id: random_alphanumeric(12).unwrap(),
        issued_at,
        expires_at: issued_at + 3600,
        jkt: None,
        audience: None,
    };
    let (expired, live) = (own(now - 4000), own(now - 10));
    let mut ending = pair("app", "alice", now - 100);
    ending.refresh.expires_at = Some(now - 1);
    let lasting = pair("app", "alice", now - 100);
    for token in [&expired, &live] {
        store.issue_access_token(token, 0).await.unwrap();
    }
    for login in [&ending, &lasting] {
        store.issue_token_pair(login, None).await.unwrap();
    }
    // Used DPoP proofs and client assertions expire too.
    let used_jti = |jti: &str| ReplayKey::new("dpop", "thumbprint", jti);
    let (spent, fresh) = (used_jti("spent"), used_jti("fresh"));
    assert!(store.record_once(&spent, now - 1, now - 60).await.unwrap());
    assert!(store.record_once(&fresh, now + 60, now).await.unwrap());
    assert_eq!(store.sweep_expired(now).await.unwrap(), 3);
    assert!(!store.record_once(&fresh, now + 60, now).await.unwrap());
    let left = support::dynamodb_client()
        .scan()
        .table_name(&store.tables().tokens)
        .send()
        .await
        .unwrap();
    let mut families: Vec<String> = left
        .items()
        .iter()
        .filter_map(|item| item.get("family_id")?.as_s().ok().cloned())
        .collect();
    families.sort();
    let mut expected = vec![live.family_id.clone(), lasting.refresh.family_id.clone()];
    expected.sort();
    assert_eq!(families, expected);
    assert_eq!(store.sweep_expired(now).await.unwrap(), 0);
}

/// A login whose family was barred before it was written (its user's logins ended while it
/// was in flight, after it registered) is never issued.
#[tokio::test]
async fn a_family_barred_before_it_is_written_is_never_issued() {
    use token_endpoint::domain::store::{CredentialVersion, LoginIssue};
    support::require!(Moto);
    let store = store_with_alice().await;
    let login = pair("app", "alice", 1_800_000_000);
    assert_eq!(store.bar_family(&login.refresh.family_id).await.unwrap(), 0);
    let outcome = store
        .issue_login(&login, None, &CredentialVersion::default())
        .await
        .unwrap();
    assert_eq!(outcome, LoginIssue::CredentialChanged);
    let key = token_endpoint::domain::token::TokenKey::in_family(
        &login.access.family_id,
        login.access.token_hash.clone(),
    );
    assert_eq!(store.access_token(&key, 1_800_000_000).await.unwrap(), None);
    // Revoking it again leaves the barrier in place.
    assert_eq!(
        store.revoke_family(&login.refresh.family_id).await.unwrap(),
        0
    );
    let again = store
        .issue_login(&login, None, &CredentialVersion::default())
        .await
        .unwrap();
    assert_eq!(again, LoginIssue::CredentialChanged);
}

/// A user who logs in often keeps a small item: past 16 logins that the families index may
/// not list yet, a login is not registered on the user but notes when it started. Ending the
/// user's logins then waits for the index (a second on moto) and still revokes every one.
#[tokio::test]
async fn ending_the_logins_of_a_user_who_logs_in_often_revokes_every_one() {
    use token_endpoint::domain::clock::{Clock as _, SystemClock};
    use token_endpoint::domain::lifecycle::revoke_all;
    use token_endpoint::domain::model::FamilyOwner;
    use token_endpoint::domain::store::LoginIssue;
    use token_endpoint::domain::token::TokenKey;
    support::require!(Moto);
    let store = store_with_alice().await;
    let (client, alice) = (support::client_id_of("app"), support::username_of("alice"));
    let now = SystemClock.now();
    let mut logins = Vec::new();
    for _ in 0..24 {
        let context = store.password_grant_context(&client, &alice).await.unwrap();
        let login = pair("app", "alice", now);
        let issued = store.issue_login(&login, None, &context.credential).await;
        assert_eq!(issued.unwrap(), LoginIssue::Issued);
        logins.push(login);
    }
    let user = support::dynamodb_client()
        .get_item()
        .table_name(&store.tables().credentials)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("USER#alice".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_default();
    let registered = user
        .keys()
        .filter(|name| name.starts_with("login#"))
        .count();
    assert_eq!(registered, 16, "registrations kept on the user's item");
    assert!(user.contains_key("unlisted_login_at"));

    let revoked = revoke_all(&store, &FamilyOwner::User(alice), now)
        .await
        .unwrap();
    assert_eq!(revoked.families, 24);
    for login in &logins {
        let key = TokenKey::in_family(&login.access.family_id, login.access.token_hash.clone());
        assert_eq!(store.access_token(&key, now).await.unwrap(), None);
    }
}

/// A store on fresh tables in moto with the user `alice`.
async fn store_with_alice() -> token_endpoint::store::dynamodb::DynamoStore {
    let store = support::dynamo_store().await;
    let service = support::service(store.clone(), &support::cheap_config());
    support::add_user(&service, "alice", "pw").await;
    store
}
