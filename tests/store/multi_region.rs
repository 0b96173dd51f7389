//! Active-active across Regions on one multi-Region strongly consistent (MRSC) global table:
//! two token services ("Regions"), each with its own SDK client and its own proxy that refuses
//! what MRSC refuses (transactions, TTL), serve one pair of tables. Refreshes and replays of
//! one login raced across both keep every guarantee of a single Region.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::dpop::ClientKey;
use support::fault_proxy::{FaultProxy, REFUSED_BY_MRSC};
use support::http::{Auth, DPOP_TOKEN_URL, token_request, with_dpop_proof};
use token_endpoint::config::Config;
use token_endpoint::domain::clock::{Clock, SystemClock};
use token_endpoint::domain::lifecycle::token_key;
use token_endpoint::domain::model::DpopPolicy;
use token_endpoint::domain::store::ClientChanges;
use token_endpoint::domain::store::prelude::*;
use token_endpoint::domain::{GrantType, Secret, TokenService};
use token_endpoint::store::DynamoStore;

const CLIENT_ID: &str = "app";
const CLIENT_SECRET: &str = "app-secret-0123456789";

type Region = Arc<TokenService<DynamoStore>>;

/// Two Regions of one table, with a client and a user, and no leeway for duplicates in flight
/// (a replay revokes at once, so the race needs no sleep).
async fn two_regions() -> (Region, Region) {
    let made = support::dynamo_store().await;
    let mut config: Config = support::cheap_config();
    config.lifetimes.refresh_reuse_leeway = 0;
    let first = support::service(support::mrsc_region(made.tables().clone()).await, &config);
    let second = support::service(support::mrsc_region(made.tables().clone()).await, &config);
    support::add_client(
        &first,
        CLIENT_ID,
        CLIENT_SECRET,
        "read write",
        &[GrantType::Password, GrantType::RefreshToken],
    )
    .await;
    support::add_user(&first, "alice", "correct horse").await;
    (first, second)
}

async fn post(region: &Region, form: &str) -> (StatusCode, Value) {
    let request = token_request(form, Auth::BasicRaw(CLIENT_ID, CLIENT_SECRET));
    support::serve_json(region, request).await
}

async fn refresh(region: &Region, refresh_token: &str) -> (StatusCode, Value) {
    post(
        region,
        &format!("grant_type=refresh_token&refresh_token={refresh_token}"),
    )
    .await
}

fn field(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        .to_owned()
}

async fn access_is_live(region: &Region, access: &str) -> bool {
    let access = Secret::new(access);
    region
        .store()
        .access_token(&token_key(&access), SystemClock.now())
        .await
        .expect("reading the store")
        .is_some()
}

/// The profile is not vacuous: what MRSC refuses is refused.
#[tokio::test]
async fn the_proxy_refuses_what_mrsc_refuses() {
    support::require!(Moto);
    let proxy = FaultProxy::start(support::moto_endpoint()).await;
    proxy.refuse_like_mrsc();
    let client =
        aws_sdk_dynamodb::Client::from_conf(support::dynamodb_config(proxy.endpoint()).build());
    let refused = client
        .update_time_to_live()
        .table_name("any")
        .send()
        .await
        .expect_err("UpdateTimeToLive is refused");
    assert!(format!("{refused:?}").contains("ValidationException"));
    let refused = client.transact_write_items().send().await;
    assert!(refused.is_err());
    for target in REFUSED_BY_MRSC {
        assert!(proxy.seen(target) <= 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refreshes_raced_across_two_regions_converge_and_a_replay_revokes_everywhere() {
    support::require!(Moto);
    let (east, west) = two_regions().await;
    let (status, login) = post(
        &east,
        "grant_type=password&username=alice&password=correct+horse",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let first = field(&login, "refresh_token");

    // One refresh token, 24 duplicates split between the Regions: one rotation, one pair.
    let racers: Vec<_> = (0..24)
        .map(|n| {
            let region = Arc::clone(if n % 2 == 0 { &east } else { &west });
            let token = first.clone();
            tokio::spawn(async move { refresh(&region, &token).await })
        })
        .collect();
    let mut pairs = Vec::new();
    for racer in racers {
        let (status, body) = racer.await.expect("a racer panicked");
        assert_eq!(status, StatusCode::OK, "{body}");
        pairs.push((field(&body, "access_token"), field(&body, "refresh_token")));
    }
    pairs.dedup();
    assert_eq!(
        pairs.len(),
        1,
        "every duplicate got the one pair: {pairs:?}"
    );
    let (second_access, second) = pairs.remove(0);
    assert!(access_is_live(&west, &second_access).await);
    assert!(!access_is_live(&east, &field(&login, "access_token")).await);

    // The successor used in one Region, and the first token replayed in the other at the
    // same time as the successor's successor is used: the login ends in both.
    let (status, third) = refresh(&west, &second).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    let third_refresh = field(&third, "refresh_token");
    let (replay, next) = tokio::join!(refresh(&east, &first), refresh(&west, &third_refresh));
    assert_eq!(replay.0, StatusCode::BAD_REQUEST, "{}", replay.1);
    // The successor's refresh may have won the race or lost it to the revocation; either way
    // nothing of the login works afterwards, in either Region.
    let mut live_refresh = vec![third_refresh.clone()];
    if next.0 == StatusCode::OK {
        live_refresh.push(field(&next.1, "refresh_token"));
    }
    for token in &live_refresh {
        for region in [&east, &west] {
            assert_eq!(refresh(region, token).await.0, StatusCode::BAD_REQUEST);
        }
    }
    for region in [&east, &west] {
        assert!(!access_is_live(region, &field(&third, "access_token")).await);
    }
}

/// A revocation in one Region takes effect at once in the other, for the authorizer's one
/// read and for refreshes.
#[tokio::test]
async fn a_revocation_in_one_region_holds_in_the_other_at_once() {
    support::require!(Moto);
    let (east, west) = two_regions().await;
    let (status, login) = post(
        &east,
        "grant_type=password&username=alice&password=correct+horse",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let access = field(&login, "access_token");
    assert!(access_is_live(&west, &access).await);
    let request = support::http::post_request(
        "/o/revoke_token/",
        Some(support::http::FORM),
        format!("token={access}"),
        Auth::BasicRaw(CLIENT_ID, CLIENT_SECRET),
    );
    let reply = support::http::send(support::http::router(&west), request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(!access_is_live(&east, &access).await);
    let (status, _) = refresh(&east, &field(&login, "refresh_token")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A DPoP-bound login across Regions, with no transaction: the proofs' replay records are
/// single conditional puts, and the binding is on the login's one item, so a proof used in one
/// Region is refused in the other, and the bound refresh token needs its key in both.
#[tokio::test]
async fn a_dpop_bound_login_holds_in_both_regions() {
    support::require!(Moto);
    let (east, west) = two_regions().await;
    let required = ClientChanges {
        dpop: Some(DpopPolicy::Required),
        ..ClientChanges::default()
    };
    let client = support::client_id_of(CLIENT_ID);
    east.store()
        .update_client(&client, &required)
        .await
        .unwrap();
    let (key, thief) = (ClientKey::es256(), ClientKey::es256());
    let proof = |key: &ClientKey| key.proof("POST", DPOP_TOKEN_URL, SystemClock.now(), None);
    let login = "grant_type=password&username=alice&password=correct+horse".to_owned();
    let used_once = proof(&key);
    let (status, body) = with_proof(&east, login.clone(), used_once.clone()).await;
    assert_eq!(
        (status, body["token_type"].as_str()),
        (StatusCode::OK, Some("DPoP")),
        "{body}"
    );
    let (status, body) = with_proof(&west, login.clone(), used_once).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_dpop_proof"))
    );

    let (_, body) = with_proof(
        &east,
        "grant_type=password&username=alice&password=correct+horse".into(),
        proof(&key),
    )
    .await;
    let form = format!(
        "grant_type=refresh_token&refresh_token={}",
        field(&body, "refresh_token")
    );
    let (status, _) = with_proof(&west, form.clone(), proof(&thief)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = with_proof(&west, form, proof(&key)).await;
    assert_eq!(
        (status, body["token_type"].as_str()),
        (StatusCode::OK, Some("DPoP")),
        "{body}"
    );
    let form = format!(
        "grant_type=refresh_token&refresh_token={}",
        field(&body, "refresh_token")
    );
    let (status, _) = with_proof(&east, form, proof(&thief)).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the successor stays bound, in the other Region too"
    );
}

/// `POST /o/token/` of `form` with a DPoP `proof`.
async fn with_proof(region: &Region, form: String, proof: String) -> (StatusCode, Value) {
    let request = token_request(&form, Auth::BasicRaw(CLIENT_ID, CLIENT_SECRET));
    support::serve_json(region, with_dpop_proof(request, &proof)).await
}
