//! Fuzzes `parse_token_request`: body parsing (form and JSON), parameter rules and client
//! authentication (the `Authorization: Basic` decoder, a client assertion's shape), and the
//! error response.
//!
//! # Input format
//!
//! Line-based, so the seeds in `fuzz/seeds/token_request/` are readable requests:
//!
//! ```text
//! <Content-Type selector>\n
//! <Authorization selector>\n
//! <body: every remaining byte>
//! ```
//!
//! Content-Type selector: empty = no Content-Type header; `form`, `form-charset`, `json`,
//! `json-charset`, `vnd-json` (an `application/…+json` type) pick a realistic value; anything
//! else is sent verbatim (dropped if it is not a valid header value).
//!
//! Authorization selector: empty = no header; `basic <bytes>` sends `Basic ` + base64 of the
//! bytes (so fuzzed credentials reach the decoder's deep paths: UTF-8, `:` split, form
//! decoding); `basic-nopad <bytes>` the same without padding; anything else is sent verbatim.
//!
//! # Invariants
//!
//! - No panic, whatever the input.
//! - On `Err`: status 400 or 413, or 401 `invalid_client` with no description for a
//!   client id no client can have (answered as an unknown client is), never 5xx; `code` is an
//!   RFC 6749 §5.2 code; the
//!   `IntoResponse` rendering has that status, JSON headers and a JSON object body with
//!   `error` (and `error_description` exactly when there is one).
//! - On `Err`: the description never echoes a `password`, `client_secret` or `refresh_token`
//!   (form or JSON body) or the Basic secret. A secret value of at least `MIN_SECRET_LEN`
//!   bytes found in the description is confirmed by parsing again with that value swapped
//!   for two markers derived from a hash of the input: it is a leak only if the description
//!   follows the markers. This avoids false alarms when a value coincides with fixed text
//!   (`password=password` twice gives "Duplicate password parameter.") or with another,
//!   non-secret parameter.
//! - On `Ok`: the `TokenRequest`'s `Debug` output does not depend on any secret's value (it
//!   is the same with every `Secret` swapped for such a marker: unlike searching the output
//!   for the secret, no false alarm when the username equals the password), and the grant's
//!   required values are non-empty.

#![no_main]

use std::future::Future;
use std::hash::{DefaultHasher, Hasher};
use std::ops::Range;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, STANDARD_NO_PAD,
};
use libfuzzer_sys::fuzz_target;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use token_endpoint::domain::grants::client_credentials::ClientCredentialsRequest;
use token_endpoint::domain::grants::password::PasswordRequest;
use token_endpoint::domain::grants::refresh::RefreshRequest;
use token_endpoint::domain::names::NameError;
use token_endpoint::domain::{GrantRequest, Secret, TokenRequest};
use token_endpoint::http::params::form_decode;
use token_endpoint::http::{OAuthError, parse_token_request};

/// RFC 6749 §5.2 error codes.
const RFC6749_CODES: [&str; 6] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

/// Parameters whose values must never be echoed.
const SECRET_PARAMETERS: [&str; 3] = ["password", "client_secret", "refresh_token"];

/// Shorter values match fixed text too often to be worth parsing again.
const MIN_SECRET_LEN: usize = 8;

/// Same decoding rules as the endpoint's Basic reader (padding optional).
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fuzz_target!(|data: &[u8]| {
    let request = Request::from_fuzz_input(data);
    match parse_token_request(&request.headers(), &request.body) {
        Ok(token_request) => check_accepted(&token_request, data),
        Err(error) => check_refused(&request, error, data),
    }
});

/// The request the fuzz input describes.
#[derive(Clone)]
struct Request {
    content_type: Option<HeaderValue>,
    authorization: Option<HeaderValue>,
    body: Vec<u8>,
}

impl Request {
    fn from_fuzz_input(data: &[u8]) -> Self {
        let (content_type, rest) = split_line(data);
        let (authorization, body) = split_line(rest);
        Self {
            content_type: content_type_header(content_type),
            authorization: authorization_header(authorization),
            body: body.to_vec(),
        }
    }

    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = &self.content_type {
            headers.insert(header::CONTENT_TYPE, value.clone());
        }
        if let Some(value) = &self.authorization {
            headers.insert(header::AUTHORIZATION, value.clone());
        }
        headers
    }

    /// Every place in the request a secret parameter's value sits, however the endpoint ends
    /// up reading the body (form and JSON are both tried: the second parse confirms a leak).
    fn secrets(&self) -> Vec<SecretSite> {
        let mut sites = form_secrets(&self.body);
        sites.extend(json_secrets(&self.body));
        sites.extend(self.authorization.as_ref().and_then(basic_secret));
        sites
    }

    /// This request with the secret at `site` replaced by `marker`.
    fn with_secret(&self, site: &SecretSite, marker: &str) -> Self {
        let mut swapped = self.clone();
        match &site.place {
            Place::FormValue(range) => {
                swapped.body.splice(range.clone(), marker.bytes());
            }
            Place::JsonString(range) => {
                swapped
                    .body
                    .splice(range.clone(), format!("\"{marker}\"").into_bytes());
            }
            Place::BasicSecret { client_id } => {
                let mut credentials = client_id.clone();
                credentials.push(b':');
                credentials.extend_from_slice(marker.as_bytes());
                swapped.authorization = basic_header(&STANDARD.encode(credentials));
            }
        }
        swapped
    }
}

fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&byte| byte == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

fn content_type_header(selector: &[u8]) -> Option<HeaderValue> {
    let value: &[u8] = match selector {
        b"" => return None,
        b"form" => b"application/x-www-form-urlencoded",
        b"form-charset" => b"application/x-www-form-urlencoded; charset=UTF-8",
        b"json" => b"application/json",
        b"json-charset" => b"application/json; charset=utf-8",
        b"vnd-json" => b"application/vnd.api+json",
        verbatim => verbatim,
    };
    HeaderValue::from_bytes(value).ok()
}

fn authorization_header(selector: &[u8]) -> Option<HeaderValue> {
    if selector.is_empty() {
        None
    } else if let Some(credentials) = selector.strip_prefix(b"basic ") {
        basic_header(&STANDARD.encode(credentials))
    } else if let Some(credentials) = selector.strip_prefix(b"basic-nopad ") {
        basic_header(&STANDARD_NO_PAD.encode(credentials))
    } else {
        HeaderValue::from_bytes(selector).ok()
    }
}

fn basic_header(encoded: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("Basic {encoded}")).ok()
}

struct SecretSite {
    name: &'static str,
    /// The value as it may appear in a description: raw and decoded.
    texts: Vec<String>,
    /// Length of the decoded value, kept by the marker (the endpoint limits lengths).
    len: usize,
    place: Place,
}

enum Place {
    /// Byte range of the raw (form-encoded) value in the body.
    FormValue(Range<usize>),
    /// Byte range of the JSON string, quotes included, in the body.
    JsonString(Range<usize>),
    /// The Basic credentials' secret; the id is kept when the header is rebuilt.
    BasicSecret { client_id: Vec<u8> },
}

fn site_texts(raw: &[u8], decoded: Option<String>) -> Vec<String> {
    let mut texts: Vec<String> = decoded.into_iter().collect();
    if let Ok(raw) = std::str::from_utf8(raw)
        && !texts.iter().any(|text| text == raw)
    {
        texts.push(raw.to_owned());
    }
    texts
}

/// Mirrors the endpoint's form splitting: `&`-separated pairs, name up to the first `=`.
fn form_secrets(body: &[u8]) -> Vec<SecretSite> {
    let mut sites = Vec::new();
    let mut start = 0;
    for pair in body.split(|&byte| byte == b'&') {
        let pair_start = start;
        start += pair.len() + 1;
        let Some(at) = pair.iter().position(|&byte| byte == b'=') else {
            continue;
        };
        let Ok(name) = form_decode(&pair[..at]) else {
            continue;
        };
        let Some(name) = SECRET_PARAMETERS.into_iter().find(|known| *known == name) else {
            continue;
        };
        let raw = &pair[at + 1..];
        let decoded = form_decode(raw).ok();
        sites.push(SecretSite {
            name,
            len: decoded.as_ref().map_or(raw.len(), String::len),
            texts: site_texts(raw, decoded),
            place: Place::FormValue(pair_start + at + 1..pair_start + pair.len()),
        });
    }
    sites
}

/// A JSON object's members with their raw text, duplicates kept.
struct RawMembers<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for RawMembers<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;

        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = RawMembers<'de>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, &'de RawValue>()? {
                    members.push(member);
                }
                Ok(RawMembers(members))
            }
        }

        deserializer.deserialize_map(MembersVisitor)
    }
}

fn json_secrets(body: &[u8]) -> Vec<SecretSite> {
    let Ok(RawMembers(members)) = serde_json::from_slice::<RawMembers>(body) else {
        return Vec::new();
    };
    let mut sites = Vec::new();
    for (name, raw) in members {
        let Some(name) = SECRET_PARAMETERS.into_iter().find(|known| *known == name) else {
            continue;
        };
        let Ok(text) = serde_json::from_str::<String>(raw.get()) else {
            continue;
        };
        // The raw value borrows from `body`: its offset locates it.
        let start = (raw.get().as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
        let range = start..start + raw.get().len();
        assert!(
            range.end <= body.len(),
            "RawValue does not borrow from the body"
        );
        let inner = &raw.get().as_bytes()[1..raw.get().len() - 1];
        sites.push(SecretSite {
            name,
            len: text.len(),
            texts: site_texts(inner, Some(text)),
            place: Place::JsonString(range),
        });
    }
    sites
}

/// The decoded credentials of a Basic header, read as the endpoint reads them.
fn basic_decoded(authorization: &HeaderValue) -> Option<Vec<u8>> {
    let value = authorization.as_bytes().trim_ascii();
    let at = value.iter().position(|&byte| byte == b' ')?;
    if !value[..at].eq_ignore_ascii_case(b"basic") {
        return None;
    }
    LENIENT_BASE64.decode(value[at + 1..].trim_ascii()).ok()
}

/// The Basic credentials' secret: whatever follows the first `:`.
fn basic_secret(authorization: &HeaderValue) -> Option<SecretSite> {
    let decoded = basic_decoded(authorization)?;
    let colon = decoded.iter().position(|&byte| byte == b':')?;
    let raw = &decoded[colon + 1..];
    let form_decoded = form_decode(raw).ok();
    Some(SecretSite {
        name: "Basic secret",
        len: form_decoded.as_ref().map_or(raw.len(), String::len),
        texts: site_texts(raw, form_decoded),
        place: Place::BasicSecret {
            client_id: decoded[..colon].to_vec(),
        },
    })
}

/// Two marker units: no fixed description contains them, they are safe in a form value, a JSON
/// string and after the Basic `:`, and they are derived from a hash of the whole input, so
/// the input cannot contain them (or values that decode to them) except by an
/// astronomical chance: the fuzzer cannot learn them from one input and plant them in the next.
fn marker_units(data: &[u8]) -> [String; 2] {
    [0u8, 1].map(|salt| {
        let mut hasher = DefaultHasher::new();
        hasher.write_u8(salt);
        hasher.write(data);
        format!("Q{:016x}zX", hasher.finish())
    })
}

/// `unit` repeated to `len` bytes (at least the whole unit).
fn marker(unit: &str, len: usize) -> String {
    let mut marker = unit.repeat(len / unit.len() + 1);
    marker.truncate(len.max(unit.len()));
    marker
}

fn check_refused(request: &Request, error: OAuthError, data: &[u8]) {
    let malformed_client_id = error.status == StatusCode::UNAUTHORIZED
        && error.code.as_str() == "invalid_client"
        && error.description.is_none();
    assert!(
        malformed_client_id
            || matches!(
                error.status,
                StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE
            ),
        "request parsing answered {} ({error:?})",
        error.status
    );
    assert!(
        RFC6749_CODES.contains(&error.code.as_str()),
        "not an RFC 6749 error code: {error:?}"
    );
    if let Some(description) = error.description.as_deref() {
        let mut units = None;
        for site in request.secrets() {
            let suspicious = site
                .texts
                .iter()
                .any(|text| text.len() >= MIN_SECRET_LEN && description.contains(text.as_str()));
            if !suspicious {
                continue;
            }
            // Confirm: the description must follow the secret. Replaced by `first` it shows
            // `first`, replaced by `second` it shows `second` and not `first` (`first` showing
            // up from elsewhere would show up in both runs).
            let [first, second] = units.get_or_insert_with(|| marker_units(data));
            let (first, second) = (marker(first, site.len), marker(second, site.len));
            let describe = |marker: &str| {
                let swapped = request.with_secret(&site, marker);
                parse_token_request(&swapped.headers(), &swapped.body)
                    .err()
                    .and_then(|error| error.description)
                    .unwrap_or_default()
            };
            let with_first = describe(&first);
            let with_second = describe(&second);
            let echoed = with_first.contains(&first)
                && with_second.contains(&second)
                && !with_second.contains(&first);
            assert!(
                !echoed,
                "the error description echoes the {}: {description:?}",
                site.name
            );
        }
    }
    check_response(error);
}

/// The error as a client receives it.
fn check_response(error: OAuthError) {
    let (status, code, description) = (error.status, error.code, error.description.clone());
    let response = error.into_response();
    assert_eq!(response.status(), status);
    let headers = response.headers();
    assert_eq!(
        headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes),
        Some(&b"application/json"[..])
    );
    assert_eq!(
        headers
            .get(header::CACHE_CONTROL)
            .map(HeaderValue::as_bytes),
        Some(&b"no-store"[..])
    );
    let body = match now(axum::body::to_bytes(response.into_body(), usize::MAX)) {
        Some(Ok(body)) => body,
        Some(Err(read)) => panic!("error body unreadable: {read}"),
        None => panic!("error body not ready at once"),
    };
    let json: serde_json::Value = serde_json::from_slice(&body)
        .unwrap_or_else(|invalid| panic!("error body is not JSON ({invalid}): {body:?}"));
    let Some(object) = json.as_object() else {
        panic!("error body is not a JSON object: {json}");
    };
    assert_eq!(
        object.get("error").and_then(|v| v.as_str()),
        Some(code.as_str())
    );
    assert_eq!(
        object.get("error_description").and_then(|v| v.as_str()),
        description.as_deref(),
        "error_description: {json}"
    );
    assert!(
        object
            .keys()
            .all(|key| key == "error" || key == "error_description"),
        "unexpected member in {json}"
    );
}

/// Polls a future once: an in-memory body is ready immediately, no runtime needed.
fn now<F: Future>(future: F) -> Option<F::Output> {
    let future = pin!(future);
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

fn check_accepted(request: &TokenRequest, data: &[u8]) {
    match &request.grant {
        GrantRequest::Password(PasswordRequest {
            username,
            password,
            scope,
        }) => {
            // A malformed username is kept as such (answered as a wrong password later), but an
            // empty one is a missing parameter, never a malformed name.
            assert!(
                !matches!(username, Err(NameError::Length { got: 0, .. })),
                "empty username accepted"
            );
            assert!(!password.expose().is_empty(), "empty password accepted");
            assert!(
                scope.as_ref().is_none_or(|s| !s.is_empty()),
                "empty scope kept"
            );
        }
        GrantRequest::RefreshToken(RefreshRequest {
            refresh_token,
            scope,
        }) => {
            assert!(
                !refresh_token.expose().is_empty(),
                "empty refresh token accepted"
            );
            assert!(
                scope.as_ref().is_none_or(|s| !s.is_empty()),
                "empty scope kept"
            );
        }
        GrantRequest::ClientCredentials(ClientCredentialsRequest { scope }) => {
            assert!(
                scope.as_ref().is_none_or(|s| !s.is_empty()),
                "empty scope kept"
            );
        }
    }
    if let Some(client) = &request.client {
        assert!(!client.client_id.is_empty(), "empty client_id accepted");
        let candidates = &client.secret_candidates;
        assert!(
            candidates.len() <= 2,
            "{} secret candidates",
            candidates.len()
        );
        if let [first, second] = candidates.as_slice() {
            assert_ne!(
                first.expose(),
                second.expose(),
                "duplicate secret candidate"
            );
        }
    }

    // Secrets print as `[redacted]`: the Debug output must not change with their values.
    // (The marker is not a value from the input, so a printed secret cannot go unnoticed.)
    let shown = format!("{request:?}");
    let [unit, _] = marker_units(data);
    let marker = marker(&unit, 0);
    let mut masked = request.clone();
    match &mut masked.grant {
        GrantRequest::Password(PasswordRequest { password, .. }) => {
            *password = Secret::new(marker.as_str());
        }
        GrantRequest::RefreshToken(RefreshRequest { refresh_token, .. }) => {
            *refresh_token = Secret::new(marker.as_str());
        }
        // No secret besides the client's, masked below.
        GrantRequest::ClientCredentials(_) => {}
    }
    if let Some(client) = &mut masked.client {
        for candidate in &mut client.secret_candidates {
            *candidate = Secret::new(marker.as_str());
        }
    }
    assert_eq!(
        shown,
        format!("{masked:?}"),
        "Debug output depends on a secret's value"
    );
}
