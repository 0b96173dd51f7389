//! Shared by the benchmarks: the demo service on the memory store and its token requests.
#![allow(dead_code)] // each benchmark uses its own part

pub mod moto;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, header};
use token_endpoint::config::Config;
use token_endpoint::domain::TokenService;
use token_endpoint::http::Discovery;
use token_endpoint::startup::{
    self, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_JWT_CLIENT_ID, DEMO_JWT_CLIENT_SECRET,
};
use token_endpoint::store::MemoryStore;

/// Which of the demo clients asks: their access tokens are opaque or JWTs, and otherwise
/// alike (same scopes, grants and lifetimes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Opaque,
    Jwt,
}

impl Format {
    pub const BOTH: [Format; 2] = [Format::Opaque, Format::Jwt];

    pub fn name(self) -> &'static str {
        match self {
            Format::Opaque => "opaque",
            Format::Jwt => "jwt",
        }
    }

    fn credentials(self) -> (&'static str, &'static str) {
        match self {
            Format::Opaque => (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
            Format::Jwt => (DEMO_JWT_CLIENT_ID, DEMO_JWT_CLIENT_SECRET),
        }
    }
}

/// A form-encoded token request from the demo client, over Basic authentication.
pub fn token_request(form: &str) -> Request<Body> {
    token_request_from(Format::Opaque, form)
}

/// The address the benchmarks' requests come from, as the Lambda adapter tags a request: a
/// password attempt is counted for it as for a deployed caller's.
pub const CALLER: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

/// A form-encoded token request from the demo client of `format`, over Basic authentication,
/// from [`CALLER`].
pub fn token_request_from(format: Format, form: &str) -> Request<Body> {
    let (client_id, secret) = format.credentials();
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{client_id}:{secret}"),
    );
    let mut request = Request::post("/o/token/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .body(Body::from(form.to_owned()))
        .unwrap_or_else(|e| panic!("{e}"));
    request
        .extensions_mut()
        .insert(token_endpoint::http::source_address::PeerAddress(CALLER));
    request
}

/// The issuer of the benchmarks' JWTs: the API the authorizer events (`events/authorizer-*.json`)
/// are for, so the authorizer, which derives its issuer from the event, expects the same one.
pub fn issuer() -> String {
    format!("https://{}", ::support::events::HOST)
}

/// The router's discovery settings: the issuer above (a JWT's `iss` and, with no configured
/// audiences, its `aud`).
pub fn discovery() -> Discovery {
    Discovery {
        issuer: Some(issuer()),
        ..Discovery::default()
    }
}

/// The memory store seeded with the demo client and user, configured by `config`.
pub fn demo_service(
    config: &Config,
    runtime: &tokio::runtime::Runtime,
) -> Arc<TokenService<MemoryStore>> {
    let service =
        startup::token_service(MemoryStore::new(), config).unwrap_or_else(|e| panic!("{e}"));
    runtime
        .block_on(startup::seed_demo(&service))
        .unwrap_or_else(|e| panic!("{e}"));
    service
}

/// The memory store as `make run` serves it: the demo clients (one opaque, one JWT) and user,
/// and a signing key sealed by an in-process vault.
pub fn signing_demo_service(
    config: &Config,
    runtime: &tokio::runtime::Runtime,
) -> Arc<TokenService<MemoryStore>> {
    runtime
        .block_on(startup::demo_service(config))
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `request` through the router over `service` naming the server with `discovery`; the
/// answer's JSON body, which must be a 200's.
pub async fn answer(
    service: &Arc<TokenService<MemoryStore>>,
    discovery: Discovery,
    request: Request<Body>,
) -> serde_json::Value {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let response = token_endpoint::http::router(Arc::clone(service), discovery)
        .oneshot(request)
        .await
        .unwrap_or_else(|e| match e {});
    assert_eq!(response.status(), axum::http::StatusCode::OK);
    let bytes = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .to_bytes();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"))
}
