//! The app under test and the few helpers every test file shares.
//!
//! `spawn_app` builds the production router over an in-memory store seeded with the test
//! identities of `dot-behaviour.md`, with the production Argon2 settings. Requests go through
//! `tower::ServiceExt::oneshot`, so nothing listens on a socket.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt as _;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use token_endpoint::domain::{GrantType, TokenService};
use token_endpoint::store::MemoryStore;
use tower::ServiceExt as _;

use crate::support;

pub const TOKEN_PATH: &str = "/o/token/";
pub const FORM: &str = "application/x-www-form-urlencoded";
pub const ALL_SCOPES: &str = "read write payouts";

/// Client A: alphanumeric secret, password and refresh_token grants.
pub const CLIENT_A: &str = "clientA";
pub const SECRET_A: &str = "Xk7fQ2mZp9LwR4tVb8NcJ3hYd6GsE1uA";
/// Client B: a secret that form-encoding changes (`+ : % / & =` and a space).
pub const CLIENT_B: &str = "clientB";
pub const SECRET_B: &str = "b+:%/&= secret";
/// Client C: not allowed the password grant (refresh_token only).
pub const CLIENT_C: &str = "clientC";
pub const SECRET_C: &str = "Cq4Wz8Ln2Rt6Yp0Hs5Kd7Mv";
/// Client D: password grant only, so it may not refresh (not one of DOT's identities; it
/// exercises the "grant allowed" step of the refresh grant).
pub const CLIENT_D: &str = "clientD";
pub const SECRET_D: &str = "Dn3Bx9Qe5Ws1Tj7Uf2Gk4Lr";

pub const ALICE: &str = "alice";
pub const ALICE_PASSWORD: &str = "alice-Pa55word";
pub const BOB: &str = "bob.builder";
pub const BOB_PASSWORD: &str = "p%^@&=+ #é:x9/?";

/// The one body for a wrong password and for an unknown user, byte for byte.
pub const CREDENTIALS_ERROR: &str =
    r#"{"error": "invalid_grant", "error_description": "Invalid credentials given."}"#;

pub struct TestApp {
    router: Router,
}

/// A fresh service and router with the test identities.
pub async fn spawn_app() -> TestApp {
    let service: Arc<TokenService<MemoryStore>> = support::memory_service();
    let both = [GrantType::Password, GrantType::RefreshToken];
    support::add_client(&service, CLIENT_A, SECRET_A, ALL_SCOPES, &both).await;
    support::add_client(&service, CLIENT_B, SECRET_B, ALL_SCOPES, &both).await;
    support::add_client(
        &service,
        CLIENT_C,
        SECRET_C,
        ALL_SCOPES,
        &[GrantType::RefreshToken],
    )
    .await;
    support::add_client(
        &service,
        CLIENT_D,
        SECRET_D,
        ALL_SCOPES,
        &[GrantType::Password],
    )
    .await;
    support::add_user(&service, ALICE, ALICE_PASSWORD).await;
    support::add_user(&service, BOB, BOB_PASSWORD).await;
    TestApp {
        router: token_endpoint::http::router(service.clone(), Default::default()),
    }
}

/// How a request authenticates its client in the `Authorization` header.
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    None,
    /// RFC 6749 §2.3.1: id and secret form-encoded, joined by `:`, then base64.
    Basic(&'a str, &'a str),
    /// What curl `-u`, `https://ID:SECRET@host` and most libraries send: raw `id:secret`.
    BasicRaw(&'a str, &'a str),
    /// An `Authorization` value, sent as given.
    Header(&'a str),
}

/// Client A over Basic: the usual way in.
pub const A: Auth<'static> = Auth::Basic(CLIENT_A, SECRET_A);
pub const B: Auth<'static> = Auth::Basic(CLIENT_B, SECRET_B);
pub const C: Auth<'static> = Auth::Basic(CLIENT_C, SECRET_C);
pub const D: Auth<'static> = Auth::Basic(CLIENT_D, SECRET_D);

impl Auth<'_> {
    pub fn header_value(self) -> Option<String> {
        match self {
            Auth::None => None,
            Auth::Basic(id, secret) => Some(basic(&format!(
                "{}:{}",
                form_encode(id),
                form_encode(secret)
            ))),
            Auth::BasicRaw(id, secret) => Some(basic(&format!("{id}:{secret}"))),
            Auth::Header(value) => Some(value.to_owned()),
        }
    }
}

/// `Basic <base64(user_pass)>`.
pub fn basic(user_pass: &str) -> String {
    basic_bytes(user_pass.as_bytes())
}

pub fn basic_bytes(user_pass: &[u8]) -> String {
    format!("Basic {}", STANDARD.encode(user_pass))
}

/// `application/x-www-form-urlencoded` encoding of one name or value (every non-alphanumeric
/// character as `%XX`, which any form decoder reads back).
pub fn form_encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// A form body from name/value pairs, in order.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", form_encode(name), form_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {:?}", self.text()))
    }

    /// The single value of header `name` (panics if it is repeated).
    #[track_caller]
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.get_all(name).iter();
        let first = values.next()?;
        assert!(values.next().is_none(), "header {name} is repeated");
        Some(
            first
                .to_str()
                .unwrap_or_else(|error| panic!("header {name} is not text: {error}")),
        )
    }
}

impl TestApp {
    /// Sends any request through the router.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|error| match error {});
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .unwrap_or_else(|error| panic!("reading the response body: {error}"))
            .to_bytes()
            .to_vec();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// `POST /o/token/` with `content_type` (if any), `body` and `auth`.
    pub async fn post(
        &self,
        content_type: Option<&str>,
        body: impl Into<Body>,
        auth: Auth<'_>,
    ) -> Reply {
        self.send(post_request(TOKEN_PATH, content_type, body, auth))
            .await
    }

    /// `POST /o/token/` with a form body, given already encoded.
    pub async fn post_form(&self, body: &str, auth: Auth<'_>) -> Reply {
        self.post(Some(FORM), body.to_owned(), auth).await
    }

    /// `POST /o/token/` with a JSON body.
    pub async fn post_json(&self, body: &Value, auth: Auth<'_>) -> Reply {
        self.post(Some("application/json"), body.to_string(), auth)
            .await
    }

    /// A password grant as form fields.
    pub async fn password_grant(
        &self,
        auth: Auth<'_>,
        username: &str,
        password: &str,
        scope: Option<&str>,
    ) -> Reply {
        let mut fields = vec![
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ];
        fields.extend(scope.map(|scope| ("scope", scope)));
        self.post_form(&form(&fields), auth).await
    }

    /// A refresh grant as form fields.
    pub async fn refresh(&self, auth: Auth<'_>, refresh_token: &str, scope: Option<&str>) -> Reply {
        let mut fields = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        fields.extend(scope.map(|scope| ("scope", scope)));
        self.post_form(&form(&fields), auth).await
    }

    /// Alice's tokens from client A, asserting the grant succeeded with `expected_scope`.
    pub async fn alice_tokens(&self, scope: Option<&str>, expected_scope: &str) -> Tokens {
        let reply = self.password_grant(A, ALICE, ALICE_PASSWORD, scope).await;
        assert_tokens(&reply, expected_scope)
    }
}

pub fn post_request(
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
    auth: Auth<'_>,
) -> Request<Body> {
    let mut builder = Request::builder().method(Method::POST).uri(path);
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(authorization) = auth.header_value() {
        builder = builder.header(header::AUTHORIZATION, authorization);
    }
    builder
        .body(body.into())
        .unwrap_or_else(|error| panic!("building the request: {error}"))
}

/// The tokens of a successful response.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// A token as DOT makes them: 30 characters of `[A-Za-z0-9]`.
#[track_caller]
pub fn assert_token_shape(token: &str) {
    assert_eq!(token.len(), 30, "token {token:?} should have 30 characters");
    assert!(
        token.bytes().all(|byte| byte.is_ascii_alphanumeric()),
        "token {token:?} should be alphanumeric"
    );
}

/// Headers every token-endpoint answer carries, success or error.
#[track_caller]
pub fn assert_json_no_store(reply: &Reply) {
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("pragma"), Some("no-cache"));
}

/// A 200 token response with `scope`, exactly as DOT writes it (key order, Python separators,
/// integer `expires_in`), with no-store headers and well-formed, distinct tokens.
#[track_caller]
pub fn assert_tokens(reply: &Reply, scope: &str) -> Tokens {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "expected a token, got {}",
        reply.text()
    );
    assert_json_no_store(reply);
    assert!(reply.header("www-authenticate").is_none());
    let body = reply.json();
    let token = |name: &str| {
        body[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} is not a string in {body}"))
            .to_owned()
    };
    let tokens = Tokens {
        access: token("access_token"),
        refresh: token("refresh_token"),
    };
    assert_token_shape(&tokens.access);
    assert_token_shape(&tokens.refresh);
    assert_ne!(tokens.access, tokens.refresh);
    let expected = format!(
        r#"{{"access_token": "{}", "expires_in": 3600, "token_type": "Bearer", "scope": "{scope}", "refresh_token": "{}"}}"#,
        tokens.access, tokens.refresh
    );
    assert_eq!(reply.text(), expected);
    tokens
}

/// An error answer: `status`, exactly the JSON `expected`, JSON and no-store headers, and a
/// `WWW-Authenticate: Basic realm=…` challenge exactly when the status is 401.
#[track_caller]
pub fn assert_error(reply: &Reply, status: StatusCode, expected: Value) {
    assert_eq!(
        (reply.status, reply.json()),
        (status, expected),
        "body: {}",
        reply.text()
    );
    assert_json_no_store(reply);
    let challenge = reply.header("www-authenticate");
    if status == StatusCode::UNAUTHORIZED {
        assert!(
            challenge.is_some_and(|value| value.starts_with("Basic realm=")),
            "401 without a Basic challenge: {challenge:?}"
        );
    } else {
        assert_eq!(challenge, None);
    }
}

#[track_caller]
pub fn assert_invalid_request(reply: &Reply, description: &str) {
    assert_error(
        reply,
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_request", "error_description": description}),
    );
}

/// 400 with just `{"error": code}`.
#[track_caller]
pub fn assert_bare_error(reply: &Reply, code: &str) {
    assert_error(reply, StatusCode::BAD_REQUEST, json!({ "error": code }));
}

#[track_caller]
pub fn assert_invalid_client(reply: &Reply) {
    assert_error(
        reply,
        StatusCode::UNAUTHORIZED,
        json!({"error": "invalid_client"}),
    );
    assert_eq!(reply.text(), r#"{"error": "invalid_client"}"#);
}

/// The wrong-password / unknown-user answer, byte for byte.
#[track_caller]
pub fn assert_credentials_error(reply: &Reply) {
    assert_error(
        reply,
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_grant", "error_description": "Invalid credentials given."}),
    );
    assert_eq!(reply.text(), CREDENTIALS_ERROR);
}

/// Any answer to odd input: not a 5xx, JSON-labelled, and a JSON object with an `error` string.
#[track_caller]
pub fn assert_well_formed_error(reply: &Reply, case: &str) {
    assert!(
        reply.status.is_client_error(),
        "{case}: status {} ({})",
        reply.status,
        reply.text()
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{case}"
    );
    let body: Value = serde_json::from_slice(&reply.body)
        .unwrap_or_else(|error| panic!("{case}: body is not JSON ({error}): {}", reply.text()));
    assert!(
        body["error"].as_str().is_some_and(|code| !code.is_empty()),
        "{case}: no error code in {body}"
    );
}
