//! Requests through the real router, without a socket (`tower::ServiceExt::oneshot`), and the
//! ways a request carries its client's credentials.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Extensions, HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt as _;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use token_endpoint::domain::TokenService;
use token_endpoint::domain::store::Store;
use tower::ServiceExt as _;

pub const TOKEN_PATH: &str = "/o/token/";
pub const REVOKE_PATH: &str = "/o/revoke_token/";
pub const INTROSPECT_PATH: &str = "/o/introspect/";
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
pub const FORM: &str = "application/x-www-form-urlencoded";

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

/// A request without a body, with `headers`.
pub fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).expect("building the request")
}

/// `POST path` with `content_type` (if any), `body` and `auth`.
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
    builder.body(body.into()).expect("building the request")
}

/// `request`, tagged as coming from `address`, as the Lambda adapter or the local server tags
/// what it serves.
pub fn from_address(mut request: Request<Body>, address: &str) -> Request<Body> {
    let address: std::net::IpAddr = address.parse().expect("an IP address");
    request
        .extensions_mut()
        .insert(token_endpoint::http::source_address::PeerAddress(address));
    request
}

/// `POST /o/token/` with a form body, given already encoded.
pub fn token_request(form: &str, auth: Auth<'_>) -> Request<Body> {
    post_request(TOKEN_PATH, Some(FORM), form.to_owned(), auth)
}

/// The token endpoint's URL as [`with_dpop_proof`] makes a request name its host.
pub const DPOP_TOKEN_URL: &str = "https://auth.example.com/o/token/";

/// `request` with a DPoP `proof` header, reaching the server as [`DPOP_TOKEN_URL`] (its host
/// and scheme, as a proxy forwards them).
pub fn with_dpop_proof(mut request: Request<Body>, proof: &str) -> Request<Body> {
    let headers = request.headers_mut();
    headers.insert(header::HOST, HeaderValue::from_static("auth.example.com"));
    headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
    let proof = HeaderValue::from_str(proof).unwrap_or_else(|e| panic!("proof header: {e}"));
    headers.insert("dpop", proof);
    request
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub extensions: Extensions,
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

/// Sends `request` through `router` and reads the whole response.
pub async fn send(router: Router, request: Request<Body>) -> Reply {
    let response = router.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .expect("reading the response body")
        .to_bytes()
        .to_vec();
    Reply {
        status: parts.status,
        headers: parts.headers,
        extensions: parts.extensions,
        body,
    }
}

/// The production router over `service`, with the default metadata settings.
pub fn router<S: Store>(service: &Arc<TokenService<S>>) -> Router {
    token_endpoint::http::router(Arc::clone(service), Default::default())
}

/// Serves one request through the real router and returns its status and JSON body.
pub async fn serve_json<S: Store>(
    service: &Arc<TokenService<S>>,
    request: Request<Body>,
) -> (StatusCode, Value) {
    let reply = send(router(service), request).await;
    (reply.status, reply.json())
}

/// Reads a whole response body as JSON; a body that is not JSON fails the test.
pub async fn json_body(body: Body) -> Value {
    let bytes = body
        .collect()
        .await
        .expect("reading the response")
        .to_bytes();
    serde_json::from_slice(&bytes).unwrap_or_else(|error| {
        panic!(
            "response is not JSON ({error}): {}",
            String::from_utf8_lossy(&bytes)
        )
    })
}
