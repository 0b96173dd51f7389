//! The app under test and the few helpers every test file shares.
//!
//! `spawn_app` builds the production router over an in-memory store seeded with the test
//! identities of `dot-behaviour.md`, with the production Argon2 settings. Requests go through
//! `tower::ServiceExt::oneshot`, so nothing listens on a socket. `spawn_app_with` names the
//! server's metadata, and `spawn_app_with_clock` gives a clock the test moves.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use token_endpoint::domain::clock::Clock;
use token_endpoint::domain::store::ClientChanges;
use token_endpoint::domain::store::prelude::*;
use token_endpoint::domain::{GrantType, TokenFormat, TokenService};
use token_endpoint::http::Discovery;
use token_endpoint::store::MemoryStore;

pub use support::clock::ManualClock;
pub use support::http::{
    Auth, FORM, INTROSPECT_PATH, METADATA_PATH, REVOKE_PATH, Reply, TOKEN_PATH, basic, basic_bytes,
    form, post_request, request,
};

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
/// Client E: the client credentials grant only, with fewer scopes than the others (a
/// service acting on its own behalf).
pub const CLIENT_E: &str = "clientE";
pub const SECRET_E: &str = "Ew6Pq1Zt8Hm3Ka5Nc9Vy2Rb";
pub const E_SCOPES: &str = "read write";

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
    spawn_app_with(Discovery::default()).await
}

/// A fresh service and router with the test identities, whose metadata follows `discovery`.
pub async fn spawn_app_with(discovery: Discovery) -> TestApp {
    let service: Arc<TokenService<MemoryStore>> = support::memory_service();
    seed(&service).await;
    TestApp {
        router: token_endpoint::http::router(service, discovery),
    }
}

/// A fresh app whose service reads the time from the returned clock (production lifetimes
/// and Argon2 settings otherwise).
pub async fn spawn_app_with_clock() -> (TestApp, Arc<ManualClock>) {
    let (service, clock) = seeded_service_with_clock().await;
    let app = TestApp {
        router: token_endpoint::http::router(service, Discovery::default()),
    };
    (app, clock)
}

/// A fresh app whose clients A and E get JWT access tokens, signed with the test key, whose
/// metadata follows `discovery` and whose service reads the time from the returned clock.
pub async fn spawn_jwt_app(discovery: Discovery) -> (TestApp, App, Arc<ManualClock>) {
    let (service, clock) = seeded_service_with_clock().await;
    let to_jwt = ClientChanges {
        token_format: Some(TokenFormat::Jwt),
        ..ClientChanges::default()
    };
    for client in [CLIENT_A, CLIENT_E] {
        let store = service.store();
        store
            .update_client(&support::client_id_of(client), &to_jwt)
            .await
            .unwrap();
    }
    support::signing::publish_signing_key(service.store()).await;
    let app = TestApp {
        router: token_endpoint::http::router(Arc::clone(&service), discovery),
    };
    (app, service, clock)
}

/// The service with the test identities, reading the time from the returned clock.
async fn seeded_service_with_clock() -> (App, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::default());
    let service = support::service_with_clock(
        MemoryStore::new(),
        &support::test_config(),
        clock.clone() as Arc<dyn Clock>,
    );
    seed(&service).await;
    (service, clock)
}

/// An app over `service`, seeded with the test identities, whose metadata follows `discovery`.
pub async fn spawn_app_over(service: App, discovery: Discovery) -> TestApp {
    seed(&service).await;
    TestApp {
        router: token_endpoint::http::router(service, discovery),
    }
}

/// The service behind a test app.
pub type App = Arc<TokenService<MemoryStore>>;

/// The test identities.
async fn seed(service: &TokenService<MemoryStore>) {
    let both = [GrantType::Password, GrantType::RefreshToken];
    support::add_client(service, CLIENT_A, SECRET_A, ALL_SCOPES, &both).await;
    support::add_client(service, CLIENT_B, SECRET_B, ALL_SCOPES, &both).await;
    support::add_client(
        service,
        CLIENT_C,
        SECRET_C,
        ALL_SCOPES,
        &[GrantType::RefreshToken],
    )
    .await;
    support::add_client(
        service,
        CLIENT_D,
        SECRET_D,
        ALL_SCOPES,
        &[GrantType::Password],
    )
    .await;
    support::add_client(
        service,
        CLIENT_E,
        SECRET_E,
        E_SCOPES,
        &[GrantType::ClientCredentials],
    )
    .await;
    support::add_user(service, ALICE, ALICE_PASSWORD).await;
    support::add_user(service, BOB, BOB_PASSWORD).await;
}

/// Client A over Basic: the usual way in.
pub const A: Auth<'static> = Auth::Basic(CLIENT_A, SECRET_A);
pub const B: Auth<'static> = Auth::Basic(CLIENT_B, SECRET_B);
pub const C: Auth<'static> = Auth::Basic(CLIENT_C, SECRET_C);
pub const D: Auth<'static> = Auth::Basic(CLIENT_D, SECRET_D);
pub const E: Auth<'static> = Auth::Basic(CLIENT_E, SECRET_E);

impl TestApp {
    /// Sends any request through the router.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        support::http::send(self.router.clone(), request).await
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

    /// `POST path` with a form body, given already encoded.
    pub async fn post_form_to(&self, path: &str, body: &str, auth: Auth<'_>) -> Reply {
        self.send(post_request(path, Some(FORM), body.to_owned(), auth))
            .await
    }

    /// `GET path` with `headers`.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(request(Method::GET, path, headers)).await
    }

    /// `POST /o/revoke_token/` of `token`.
    pub async fn revoke(&self, auth: Auth<'_>, token: &str) -> Reply {
        self.post_form_to(REVOKE_PATH, &form(&[("token", token)]), auth)
            .await
    }

    /// `POST /o/introspect/` of `token`.
    pub async fn introspect(&self, auth: Auth<'_>, token: &str) -> Reply {
        self.post_form_to(INTROSPECT_PATH, &form(&[("token", token)]), auth)
            .await
    }

    /// A client credentials grant as form fields.
    pub async fn client_credentials(&self, auth: Auth<'_>, scope: Option<&str>) -> Reply {
        let mut fields = vec![("grant_type", "client_credentials")];
        fields.extend(scope.map(|scope| ("scope", scope)));
        self.post_form(&form(&fields), auth).await
    }

    /// Client E's own access token, asserting the grant succeeded with all of E's scopes.
    pub async fn client_token(&self) -> String {
        assert_client_token(&self.client_credentials(E, None).await, E_SCOPES)
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

/// The tokens of a successful response.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// A token as this server makes them: its family's id (22 characters of `[A-Za-z0-9]`), a dot,
/// and 30 characters of `[A-Za-z0-9]`, as DOT makes them.
#[track_caller]
pub fn assert_token_shape(token: &str) {
    let (family, secret) = token.split_once('.').unwrap_or_default();
    assert_eq!(
        (family.len(), secret.len()),
        (22, 30),
        "token {token:?} should be a 22-character family id, a dot and 30 characters"
    );
    assert!(
        (family.bytes().chain(secret.bytes())).all(|byte| byte.is_ascii_alphanumeric()),
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

/// A 200 client credentials response with `scope`, exactly: the access token fields of
/// RFC 6749 §5.1 in DOT's order and no `refresh_token` key (§4.4.3). Returns the token.
#[track_caller]
pub fn assert_client_token(reply: &Reply, scope: &str) -> String {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "expected a token, got {}",
        reply.text()
    );
    assert_json_no_store(reply);
    assert!(reply.header("www-authenticate").is_none());
    let body = reply.json();
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {body}"));
    assert!(!object.contains_key("refresh_token"), "{body}");
    let access = body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("access_token is not a string in {body}"))
        .to_owned();
    assert_token_shape(&access);
    let expected = format!(
        r#"{{"access_token": "{access}", "expires_in": 3600, "token_type": "Bearer", "scope": "{scope}"}}"#
    );
    assert_eq!(reply.text(), expected);
    access
}

/// A successful revocation: 200, an empty body, not to be cached.
#[track_caller]
pub fn assert_revoked(reply: &Reply) {
    assert_eq!(
        (reply.status, reply.text()),
        (StatusCode::OK, String::new()),
        "expected an empty 200"
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(reply.header("www-authenticate").is_none());
}

/// An introspection answer for anything but a live access token: exactly `{"active": false}`.
#[track_caller]
pub fn assert_inactive(reply: &Reply) {
    assert_eq!(
        (reply.status, reply.text()),
        (StatusCode::OK, r#"{"active": false}"#.to_owned())
    );
    assert_json_no_store(reply);
}

/// What introspection says of a live access token.
/// Alice's token from client A with `scope`, as introspection describes it.
pub fn alice_a(scope: &str) -> Active<'_> {
    Active {
        scope,
        client_id: CLIENT_A,
        username: Some(ALICE),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Active<'a> {
    pub scope: &'a str,
    pub client_id: &'a str,
    /// `None` for a client's own token (client credentials grant): no `username` key.
    pub username: Option<&'a str>,
}

/// An introspection answer for a live access token, byte for byte (RFC 7662 §2.2 members in
/// the order shown, Python separators), with an hour between `iat` and `exp`. Returns
/// `(iat, exp)`.
#[track_caller]
pub fn assert_active(reply: &Reply, expected: Active<'_>) -> (u64, u64) {
    assert_active_for(reply, expected, None)
}

/// [`assert_active`] for a token that names the API it is for: `aud` comes last.
#[track_caller]
pub fn assert_active_for(
    reply: &Reply,
    expected: Active<'_>,
    audience: Option<&str>,
) -> (u64, u64) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_json_no_store(reply);
    let body = reply.json();
    let number = |name: &str| {
        body[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} is not an integer in {body}"))
    };
    let (iat, exp) = (number("iat"), number("exp"));
    assert_eq!(exp - iat, 3600, "{body}");
    let username = expected
        .username
        .map(|username| format!(r#", "username": "{username}""#))
        .unwrap_or_default();
    let aud = audience
        .map(|audience| format!(r#", "aud": "{audience}""#))
        .unwrap_or_default();
    let text = format!(
        r#"{{"active": true, "scope": "{}", "client_id": "{}"{username}, "token_type": "Bearer", "exp": {exp}, "iat": {iat}{aud}}}"#,
        expected.scope, expected.client_id
    );
    assert_eq!(reply.text(), text);
    (iat, exp)
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
