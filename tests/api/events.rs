//! Every `events/*.json` (the `sam local invoke -e` fixtures) decoded the way the Lambda runtime
//! decodes it and run in process: the API Gateway events through `lambda_http` and the stage
//! adapter into the router, the authorizer events into the authorizer, so the fixtures and the
//! functions cannot drift apart.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};
use support::clock::ManualClock;
use support::events::{
    HOST, REFRESH_PLACEHOLDER, SHAPES, Shape, event_with_token, events_dir, read_event,
};
use token_endpoint::domain::TokenService;
use token_endpoint::domain::clock::{Clock, SystemClock};
use token_endpoint::lambda::authorizer::authorize;
use token_endpoint::lambda::http::prepare;
use token_endpoint::startup;
use token_endpoint::store::MemoryStore;

type App = Arc<TokenService<MemoryStore>>;

async fn seeded_app() -> App {
    let service = support::memory_service();
    startup::seed_demo(&service).await.unwrap();
    service
}

/// Decodes an API Gateway event with lambda_http and prepares it as the function does (stage
/// into the base path, request ids, source address), then serves it: status, headers and raw
/// body.
async fn invoke_raw(service: &App, event: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let request = lambda_http::request::from_str(event)
        .map(prepare)
        .expect("not an API Gateway event");
    let (parts, body) = request.into_parts();
    let request = axum::http::Request::from_parts(parts, Body::from(body.to_vec()));
    let reply = support::http::send(support::http::router(service), request).await;
    (reply.status, reply.headers, reply.body)
}

/// Serves an event whose answer is JSON.
async fn invoke(service: &App, event: &str) -> (StatusCode, Value) {
    let (status, _, body) = invoke_raw(service, event).await;
    let body = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "response is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, body)
}

fn text(value: &Value, name: &str) -> String {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {value}"))
        .to_owned()
}

/// A password grant through `events/token-password.json`: its access and refresh tokens.
async fn password_tokens(service: &App) -> (String, String) {
    let (status, issued) = invoke(service, &read_event("token-password.json")).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    (
        text(&issued, "access_token"),
        text(&issued, "refresh_token"),
    )
}

/// A client credentials grant through `events/token-client-credentials.json`: its access token.
async fn client_token(service: &App) -> String {
    let (status, issued) = invoke(service, &read_event("token-client-credentials.json")).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    text(&issued, "access_token")
}

async fn introspect(service: &App, token: &str) -> Value {
    let (status, body) = invoke(service, &event_with_token("introspect-token.json", token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn revoke(service: &App, token: &str) {
    let (status, headers, body) =
        invoke_raw(service, &event_with_token("revoke-token.json", token)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert!(body.is_empty(), "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        headers.get(header::CACHE_CONTROL).map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
}

#[tokio::test]
async fn every_event_file_is_covered_here() {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json") && name != "env.json")
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "authorizer-http-api.json",
            "authorizer-rest-token.json",
            "introspect-token.json",
            "metadata.json",
            "revoke-token.json",
            "token-bad-credentials.json",
            "token-client-credentials.json",
            "token-json.json",
            "token-password-rest-api.json",
            "token-password.json",
            "token-refresh.json",
            "token-unsupported-grant.json",
        ],
        "a new event needs an expectation in this file"
    );
}

/// `sam local invoke --env-vars` sets only variables the template declares, per function.
#[test]
fn env_json_configures_both_functions() {
    let env: Value = serde_json::from_str(&read_event("env.json")).unwrap();
    let token = &env["TokenFunction"];
    let authorizer = &env["AuthorizerFunction"];
    assert_eq!(authorizer["FUNCTION_KIND"], "authorizer", "{env}");
    for name in [
        "AWS_ENDPOINT_URL_DYNAMODB",
        "CREDENTIALS_TABLE",
        "TOKENS_TABLE",
    ] {
        assert!(token[name].is_string(), "{name}: {env}");
        assert_eq!(authorizer[name], token[name], "{name}: {env}");
    }
    for function in [token, authorizer] {
        let values = function.as_object().into_iter().flatten();
        assert!(values.clone().all(|(_, value)| value.is_string()), "{env}");
    }
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

/// Password attempts are counted by the address API Gateway saw: `requestContext.http.sourceIp`
/// in the HTTP API event, `requestContext.identity.sourceIp` in the REST API one.
#[tokio::test]
async fn guesses_from_one_source_ip_leave_another_free() {
    // A clock that stands still, so the lock cannot run out during the test.
    let clock = Arc::new(support::clock::ManualClock::default());
    let service = support::service_with_clock(MemoryStore::new(), &support::test_config(), clock);
    startup::seed_demo(&service).await.unwrap();
    let guess = read_event("token-bad-credentials.json");
    for _ in 0..6 {
        assert_eq!(invoke(&service, &guess).await.0, StatusCode::BAD_REQUEST);
    }
    let locked = (
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_grant", "error_description": "Too many failed attempts; try again later."}),
    );
    // The same address (203.0.113.7) with the right password: held back.
    assert_eq!(
        invoke(&service, &read_event("token-password.json")).await,
        locked
    );
    // The REST API event comes from 198.51.100.23: free.
    let (status, body) = invoke(&service, &read_event("token-password-rest-api.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "read write");
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

#[tokio::test]
async fn client_credentials_event_issues_an_access_token_only() {
    let event = read_event("token-client-credentials.json");
    assert!(event.contains("\"isBase64Encoded\": true"), "{event}");
    let (status, headers, body) = invoke_raw(&seeded_app().await, &event).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        headers.get(header::CACHE_CONTROL).map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    let token = text(&body, "access_token");
    assert_eq!(token.len(), 22 + 1 + 30, "{body}");
    // RFC 6749 §4.4.3: no refresh token.
    assert_eq!(
        body,
        json!({"access_token": token, "expires_in": 3600, "token_type": "Bearer", "scope": "read"})
    );
}

#[tokio::test]
async fn revoke_event_revokes_the_whole_grant() {
    let service = seeded_app().await;
    let (access, refresh) = password_tokens(&service).await;

    // As shipped, the placeholder names no token: nothing to do, and the answer is the same
    // (RFC 7009 §2.2).
    let (status, _, body) = invoke_raw(&service, &read_event("revoke-token.json")).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b""[..]));
    assert_eq!(introspect(&service, &access).await["active"], true);

    revoke(&service, &access).await;
    assert_eq!(
        introspect(&service, &access).await,
        json!({"active": false})
    );
    // Revoking the access token revoked the refresh token issued with it.
    let refresh_event =
        read_event("token-refresh.json").replace(REFRESH_PLACEHOLDER, refresh.as_str());
    assert_eq!(
        invoke(&service, &refresh_event).await,
        (StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}))
    );
    // Revoking again is no error.
    revoke(&service, &access).await;
}

#[tokio::test]
async fn revoke_event_needs_client_authentication() {
    let service = seeded_app().await;
    let (access, _) = password_tokens(&service).await;
    let mut event: Value =
        serde_json::from_str(&event_with_token("revoke-token.json", &access)).unwrap();
    let removed = event["headers"]
        .as_object_mut()
        .and_then(|headers| headers.remove("authorization"));
    assert!(removed.is_some(), "{event}");
    let (status, body) = invoke(&service, &event.to_string()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client", "{body}");
    assert_eq!(introspect(&service, &access).await["active"], true);
}

#[tokio::test]
async fn introspect_event_describes_live_access_tokens_only() {
    let service = seeded_app().await;

    // As shipped, the placeholder is no token.
    assert_eq!(
        invoke(&service, &read_event("introspect-token.json")).await,
        (StatusCode::OK, json!({"active": false}))
    );

    let (access, refresh) = password_tokens(&service).await;
    let active = introspect(&service, &access).await;
    let (exp, iat) = (
        active["exp"].as_u64().unwrap_or_default(),
        active["iat"].as_u64().unwrap_or_default(),
    );
    assert!(iat.abs_diff(SystemClock.now()) <= 5, "{active}");
    assert_eq!(exp, iat + 3600, "{active}");
    assert_eq!(
        active,
        json!({
            "active": true, "scope": "read write", "client_id": "demo-client",
            "username": "demo", "token_type": "Bearer", "exp": exp, "iat": iat,
        })
    );

    // A client's own token has no user.
    let client = introspect(&service, &client_token(&service).await).await;
    assert_eq!(client["active"], true, "{client}");
    assert_eq!(client["client_id"], "demo-client", "{client}");
    assert_eq!(client["scope"], "read", "{client}");
    assert!(client.get("username").is_none(), "{client}");

    // A refresh token is not an access token.
    assert_eq!(
        introspect(&service, &refresh).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn metadata_event_names_the_stage_in_every_url() {
    let event = read_event("metadata.json");
    let parsed: Value = serde_json::from_str(&event).unwrap();
    assert_eq!(parsed["requestContext"]["stage"], "prod", "{parsed}");
    assert_eq!(
        parsed["rawPath"], "/prod/.well-known/oauth-authorization-server",
        "{parsed}"
    );

    let (status, headers, body) = invoke_raw(&seeded_app().await, &event).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let issuer = format!("https://{HOST}/prod");
    assert_eq!(body["issuer"], issuer, "{body}");
    assert_eq!(body["token_endpoint"], format!("{issuer}/o/token/"));
    assert_eq!(
        body["revocation_endpoint"],
        format!("{issuer}/o/revoke_token/")
    );
    assert_eq!(
        body["introspection_endpoint"],
        format!("{issuer}/o/introspect/")
    );
    assert_eq!(
        body["grant_types_supported"],
        json!(["password", "refresh_token", "client_credentials"])
    );
    assert_eq!(body["response_types_supported"], json!([]));
    assert_eq!(
        body["token_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
}

/// Runs an authorizer event in process.
trait Decide {
    async fn decide(self, service: &App, clock: &dyn Clock, event: Value) -> Option<Value>;
}

impl Decide for Shape {
    /// Runs the authorizer on `event` over the app's store at `clock`'s time.
    async fn decide(self, service: &App, clock: &dyn Clock, event: Value) -> Option<Value> {
        // The authorizer reads the time from its own clock: one standing at `clock`'s now.
        let clock = Arc::new(ManualClock::at(clock.now()));
        let authorizer = support::events::authorizer(service.store().clone(), clock, true);
        let answer = authorize(&authorizer, event)
            .await
            .unwrap_or_else(|e| panic!("{self:?}: authorizer error: {e}"));
        self.decision(&answer)
    }
}

#[tokio::test]
async fn authorizer_allows_a_fresh_token_and_passes_on_the_caller() {
    let service = seeded_app().await;
    let (access, _) = password_tokens(&service).await;
    let client = client_token(&service).await;
    let exp = introspect(&service, &access).await["exp"].clone();
    for shape in SHAPES {
        let context = shape
            .decide(&service, &SystemClock, shape.with_token(&access))
            .await;
        assert_eq!(
            context,
            Some(json!({
                "client_id": "demo-client", "username": "demo", "scope": "read write",
                "expires_at": exp,
            })),
            "{shape:?}"
        );

        // A client's own token: no username.
        let context = shape
            .decide(&service, &SystemClock, shape.with_token(&client))
            .await
            .unwrap_or_else(|| panic!("{shape:?}: client token denied"));
        assert_eq!(context["client_id"], "demo-client", "{shape:?}");
        assert_eq!(context["scope"], "read", "{shape:?}");
        assert!(context.get("username").is_none(), "{shape:?}: {context}");
    }
}

#[tokio::test]
async fn authorizer_denies_a_token_from_its_expiry_on() {
    let service = seeded_app().await;
    let (access, _) = password_tokens(&service).await;
    let exp = introspect(&service, &access).await["exp"]
        .as_u64()
        .expect("no exp");
    for shape in SHAPES {
        let last_second = ManualClock::at(exp - 1);
        let allowed = shape
            .decide(&service, &last_second, shape.with_token(&access))
            .await;
        assert!(allowed.is_some(), "{shape:?}: denied before expiry");
        for after in [exp, exp + 3600] {
            let clock = ManualClock::at(after);
            let denied = shape
                .decide(&service, &clock, shape.with_token(&access))
                .await;
            assert_eq!(denied, None, "{shape:?} at exp + {}", after - exp);
        }
    }
}

#[tokio::test]
async fn authorizer_denies_a_revoked_token() {
    let service = seeded_app().await;
    let (access, _) = password_tokens(&service).await;
    for shape in SHAPES {
        let allowed = shape
            .decide(&service, &SystemClock, shape.with_token(&access))
            .await;
        assert!(allowed.is_some(), "{shape:?}");
    }
    revoke(&service, &access).await;
    for shape in SHAPES {
        let denied = shape
            .decide(&service, &SystemClock, shape.with_token(&access))
            .await;
        assert_eq!(denied, None, "{shape:?}");
    }
}

#[tokio::test]
async fn authorizer_denies_unknown_tokens_and_refresh_tokens() {
    let service = seeded_app().await;
    let (_, refresh) = password_tokens(&service).await;
    for shape in SHAPES {
        // As shipped, the placeholder is no token.
        let denied = shape.decide(&service, &SystemClock, shape.shipped()).await;
        assert_eq!(denied, None, "{shape:?}");
        let denied = shape
            .decide(&service, &SystemClock, shape.with_token(&refresh))
            .await;
        assert_eq!(
            denied, None,
            "{shape:?}: a refresh token is no bearer token"
        );
    }
}

#[tokio::test]
async fn authorizer_denies_a_missing_or_non_bearer_authorization() {
    let service = seeded_app().await;
    let (access, _) = password_tokens(&service).await;
    let basic = "Basic ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ=";
    let not_bearer = [
        None,
        Some(basic),
        Some(access.as_str()),
        Some("Bearer"),
        Some("Bearer "),
        Some(""),
    ];
    for shape in SHAPES {
        for authorization in not_bearer {
            let denied = shape
                .decide(
                    &service,
                    &SystemClock,
                    shape.with_authorization(authorization),
                )
                .await;
            assert_eq!(denied, None, "{shape:?}: {authorization:?}");
        }
        // The scheme is case-insensitive (RFC 7235 §2.1).
        let lowercase = format!("bearer {access}");
        let allowed = shape
            .decide(
                &service,
                &SystemClock,
                shape.with_authorization(Some(&lowercase)),
            )
            .await;
        assert!(allowed.is_some(), "{shape:?}");
    }
}
