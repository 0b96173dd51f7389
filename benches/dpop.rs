//! What DPoP (RFC 9449) adds, in process on the memory store: checking one proof (ES256, made
//! by `jsonwebtoken`), a client credentials grant with a proof against one without, and the
//! Lambda authorizer's decision on a DPoP-bound token with its proof against a Bearer token's.
//! Proofs are single-use, so each iteration gets a fresh one, made outside the measurement. The
//! DynamoDB cost of a proof is one conditional `PutItem` of a `REPLAY#` item: 1 write unit.
//!
//! `cargo bench --bench dpop`

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use criterion::{BatchSize, Criterion};
use serde_json::Value;
use token_endpoint::config::Config;
use token_endpoint::domain::TokenService;
use token_endpoint::domain::clock::{Clock as _, SystemClock};
use token_endpoint::domain::jose::dpop::{ProofRequest, check_proof};
use token_endpoint::lambda::authorizer::{Authorizer, authorize};
use token_endpoint::store::MemoryStore;

use ::support::dpop::ClientKey;
use ::support::events::{HOST, Shape};

mod support;

type Service = Arc<TokenService<MemoryStore>>;

fn token_url() -> String {
    format!("{}/o/token/", support::issuer())
}

/// The URL of the API request in the authorizer events.
fn api_url() -> String {
    format!("https://{HOST}/example/whoami")
}

/// A client credentials grant of the demo client, with `proof` in a `DPoP` header if given.
fn grant_request(proof: Option<&str>) -> Request<Body> {
    let mut request = support::token_request("grant_type=client_credentials");
    if let Some(proof) = proof
        && let Ok(value) = proof.parse()
    {
        request.headers_mut().insert("dpop", value);
    }
    request
}

async fn grant(service: &Service, proof: Option<&str>) -> Value {
    support::answer(service, support::discovery(), grant_request(proof)).await
}

fn authorizer(service: &Service) -> Authorizer<MemoryStore> {
    ::support::events::authorizer(service.store().clone(), Arc::new(SystemClock), true)
}

/// The HTTP API authorizer event for `authorization`, with `proof` in a `DPoP` header.
fn authorizer_event(authorization: &str, proof: Option<&str>) -> Value {
    let mut event = Shape::HttpApi.with_authorization(Some(authorization));
    if let Some(proof) = proof {
        event["headers"]["dpop"] = proof.into();
    }
    event
}

async fn decide(authorizer: &Authorizer<MemoryStore>, event: Value) {
    let answer = authorize(authorizer, event)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer["isAuthorized"], true, "{answer}");
}

fn main() {
    let runtime = support::runtime();
    let config = Config::from_lookup(|_| None).unwrap_or_else(|e| panic!("{e}"));
    let service = &support::demo_service(&config, &runtime);
    let key = ClientKey::es256();
    let now = || SystemClock.now();
    let mut c = Criterion::default().sample_size(30).configure_from_args();

    c.bench_function("dpop_check_proof_es256", |b| {
        let url = token_url();
        b.iter_batched(
            || key.proof("POST", &url, now(), None),
            |proof| {
                let request = ProofRequest {
                    method: "POST",
                    url: &url,
                    access_token: None,
                    now: now(),
                };
                check_proof(&proof, &request).unwrap_or_else(|e| panic!("{e}"))
            },
            BatchSize::SmallInput,
        );
    });
    c.bench_function("client_credentials_grant_bearer_memory_store", |b| {
        b.to_async(&runtime).iter(|| grant(service, None));
    });
    c.bench_function("client_credentials_grant_dpop_memory_store", |b| {
        let url = token_url();
        b.to_async(&runtime).iter_batched(
            || key.proof("POST", &url, now(), None),
            |proof| async move { grant(service, Some(&proof)).await },
            BatchSize::SmallInput,
        );
    });

    // A store of its own: the DPoP grants above left up to REPLAY_RECORDS_KEPT used proofs in
    // the first one, which a fast machine fills before they expire.
    let service = &support::demo_service(&config, &runtime);
    let authorizer = authorizer(service);
    let bearer = runtime.block_on(grant(service, None))["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let proof = key.proof("POST", &token_url(), now(), None);
    let bound = runtime.block_on(grant(service, Some(&proof)))["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    c.bench_function("authorizer_decision_bearer", |b| {
        let event = authorizer_event(&format!("Bearer {bearer}"), None);
        b.to_async(&runtime)
            .iter(|| decide(&authorizer, event.clone()));
    });
    c.bench_function("authorizer_decision_dpop", |b| {
        let authorization = format!("DPoP {bound}");
        b.to_async(&runtime).iter_batched(
            || {
                let proof = key.proof("GET", &api_url(), now(), Some(&bound));
                authorizer_event(&authorization, Some(&proof))
            },
            |event| decide(&authorizer, event),
            BatchSize::SmallInput,
        );
    });
    c.final_summary();
}
