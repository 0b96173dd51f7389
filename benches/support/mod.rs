//! Shared by the benchmarks: the demo service on the memory store and its token requests.
#![allow(dead_code)] // each benchmark uses its own part

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, header};
use token_endpoint::config::Config;
use token_endpoint::domain::TokenService;
use token_endpoint::startup::{self, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use token_endpoint::store::MemoryStore;

/// A form-encoded token request from the demo client, over Basic authentication.
pub fn token_request(form: &str) -> Request<Body> {
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}"),
    );
    Request::post("/o/token/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .body(Body::from(form.to_owned()))
        .unwrap_or_else(|e| panic!("{e}"))
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

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}
