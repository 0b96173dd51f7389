//! DPoP at the resource (RFC 9449 §7): the Lambda authorizer allows a DPoP-bound token only
//! under the `DPoP` scheme with a fresh proof of its key for the invoked method and URL and
//! for that token, once; a bound token presented as Bearer is refused. Proofs are made by
//! `jsonwebtoken` (support::dpop); the events are HTTP API payload 2.0.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::dpop::ClientKey;
use support::events::{HOST, event};
use token_endpoint::domain::clock::Clock;
use token_endpoint::lambda::authorizer::authorize;

use crate::dpop::{TOKEN_URL, dpop_app, login};
use crate::helpers::*;

/// The URL of the API request in `events/authorizer-http-api.json`.
fn api_url() -> String {
    format!("https://{HOST}/example/whoami")
}

/// The answer of an authorizer that API Gateway does not cache to the fixture's request with
/// `authorization` and `proof`.
async fn decide(service: &App, authorization: &str, proof: Option<&str>) -> bool {
    decide_behind(service, 0, authorization, proof).await
}

/// …of an authorizer whose answers API Gateway caches for `cache_ttl` seconds.
async fn decide_behind(
    service: &App,
    cache_ttl: u64,
    authorization: &str,
    proof: Option<&str>,
) -> bool {
    let mut event: Value = event("authorizer-http-api.json");
    event["headers"]["authorization"] = json!(authorization);
    if let Some(proof) = proof {
        event["headers"]["dpop"] = json!(proof);
    }
    let clock = Arc::new(ManualClock::at(service.issuer().now()));
    let authorizer = support::events::authorizer(service.store().clone(), clock, cache_ttl == 0);
    let answer = authorize(&authorizer, event).await.unwrap();
    answer["isAuthorized"] == json!(true)
}

#[tokio::test]
async fn the_authorizer_wants_a_fresh_proof_of_the_tokens_key_for_the_request() {
    let (app, clock, service) = dpop_app(false).await;
    let (key, other) = (ClientKey::es256(), ClientKey::es256());
    let login_proof = key.proof("POST", TOKEN_URL, clock.now(), None);
    let reply = app.with_proof(&login(), Some(&login_proof)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    let now = clock.now();
    let dpop = format!("DPoP {token}");
    let proof = key.proof("GET", &api_url(), now, Some(&token));

    assert!(
        !decide_behind(&service, 60, &dpop, Some(&proof)).await,
        "a cached answer would skip the next request's proof"
    );
    assert!(decide(&service, &dpop, Some(&proof)).await);
    assert!(
        !decide(&service, &dpop, Some(&proof)).await,
        "a replayed proof"
    );
    let fresh = || key.proof("GET", &api_url(), now, Some(&token));
    assert!(
        !decide(&service, &format!("Bearer {token}"), Some(&fresh())).await,
        "a bound token presented as Bearer"
    );
    assert!(!decide(&service, &dpop, None).await, "no proof");
    let refused = [
        key.proof("POST", &api_url(), now, Some(&token)),
        key.proof(
            "GET",
            &format!("https://{HOST}/example/other"),
            now,
            Some(&token),
        ),
        key.proof("GET", &api_url(), now, None),
        key.proof("GET", &api_url(), now, Some("another token")),
        key.proof("GET", &api_url(), now - 300, Some(&token)),
        other.proof("GET", &api_url(), now, Some(&token)),
    ];
    for proof in refused {
        assert!(!decide(&service, &dpop, Some(&proof)).await, "{proof}");
    }
    assert!(decide(&service, &dpop, Some(&fresh())).await);

    // A Bearer token stays a Bearer token.
    let bearer = app.with_proof(&login(), None).await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(decide(&service, &format!("Bearer {bearer}"), None).await);
    let proof = key.proof("GET", &api_url(), now, Some(&bearer));
    assert!(!decide(&service, &format!("DPoP {bearer}"), Some(&proof)).await);
}
