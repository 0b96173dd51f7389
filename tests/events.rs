//! Every `events/*.json` (the `sam local invoke -e` fixtures) decoded the way the Lambda runtime
//! decodes it and run through the router, so the fixtures and the function cannot drift apart.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};
use token_endpoint::domain::TokenService;
use token_endpoint::startup;
use token_endpoint::store::MemoryStore;

const REFRESH_PLACEHOLDER: &str = "REPLACEwithREFRESHtoken0000000";

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

fn read_event(name: &str) -> String {
    std::fs::read_to_string(events_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn seeded_app() -> Arc<TokenService<MemoryStore>> {
    let service = support::memory_service();
    startup::seed_demo(&service)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    service
}

/// Decodes an API Gateway event with lambda_http, as the runtime does, and serves it.
async fn invoke(service: &Arc<TokenService<MemoryStore>>, event: &str) -> (StatusCode, Value) {
    let request = lambda_http::request::from_str(event)
        .unwrap_or_else(|e| panic!("not an API Gateway event: {e}"));
    let (parts, body) = request.into_parts();
    let request = axum::http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
    support::serve_json(service, request).await
}

#[tokio::test]
async fn every_event_file_is_covered_here() {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json") && name != "env.json")
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "token-bad-credentials.json",
            "token-json.json",
            "token-password.json",
            "token-refresh.json",
            "token-unsupported-grant.json",
        ],
        "a new event needs an expectation in this file"
    );
}

#[tokio::test]
async fn password_event_issues_tokens_from_a_base64_body() {
    let event = read_event("token-password.json");
    assert!(
        event.contains("\"isBase64Encoded\": true"),
        "the fixture should be base64 like API Gateway sends it"
    );
    let (status, body) = invoke(&seeded_app().await, &event).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "read write");
    assert_eq!(body["expires_in"], 3600);
}

#[tokio::test]
async fn refresh_event_rotates_a_token_it_is_given() {
    let service = seeded_app().await;
    let (_, issued) = invoke(&service, &read_event("token-password.json")).await;
    let refresh_token = issued["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{issued}"));
    let template = read_event("token-refresh.json");
    assert!(template.contains(REFRESH_PLACEHOLDER));

    // As shipped, the placeholder is no token at all.
    assert_eq!(
        invoke(&service, &template).await,
        (StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}))
    );
    let event = template.replace(REFRESH_PLACEHOLDER, refresh_token);
    let (status, body) = invoke(&service, &event).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["refresh_token"], issued["refresh_token"]);
}

#[tokio::test]
async fn json_event_issues_a_narrowed_token() {
    let (status, body) = invoke(&seeded_app().await, &read_event("token-json.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "read");
}

#[tokio::test]
async fn bad_credentials_event_is_invalid_grant() {
    let (status, body) = invoke(
        &seeded_app().await,
        &read_event("token-bad-credentials.json"),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_grant", "error_description": "Invalid credentials given."})
        )
    );
}

#[tokio::test]
async fn unsupported_grant_event_is_refused() {
    let (status, body) = invoke(
        &seeded_app().await,
        &read_event("token-unsupported-grant.json"),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type"})
        )
    );
}
