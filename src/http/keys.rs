//! `GET /.well-known/jwks.json`: the public keys JWT access tokens are signed with (RFC 7517
//! JWK Set), for API Gateway's JWT authorizers and any resource server. Only the public
//! members are ever published.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::deadline::within_deadline;
use super::json::python_style_json;
use super::observe::EndpointOutcome;
use super::response::failed;
use crate::domain::TokenService;
use crate::domain::signing::SigningKeyRecord;
use crate::domain::store::GrantStore;

const ENDPOINT: &str = "jwks";

/// Long enough to spare the function, short against the propagation delay of a rotation
/// (an hour by default): a verifier sees a new key long before it signs.
const CACHE_CONTROL: &str = "public, max-age=300";

#[derive(Serialize)]
struct KeySet<'a> {
    keys: Vec<Jwk<'a>>,
}

/// RFC 7517 §4 and RFC 7518 §6.3.1: an RSA public key for RS256 signatures.
#[derive(Serialize)]
struct Jwk<'a> {
    kty: &'static str,
    #[serde(rename = "use")]
    usage: &'static str,
    alg: &'static str,
    kid: &'a str,
    n: &'a str,
    e: &'a str,
}

impl<'a> Jwk<'a> {
    fn of(key: &'a SigningKeyRecord) -> Self {
        Self {
            kty: "RSA",
            usage: "sig",
            alg: "RS256",
            kid: &key.kid,
            n: &key.public.n,
            e: &key.public.e,
        }
    }
}

pub(super) async fn jwks_endpoint<S: GrantStore>(
    State(service): State<Arc<TokenService<S>>>,
) -> Response {
    let keys = match within_deadline(service.published_keys()).await {
        Ok(keys) => keys,
        Err(failure) => return failed(EndpointOutcome::new(ENDPOINT, "failed"), failure),
    };
    let body = python_style_json(&KeySet {
        keys: keys.iter().map(Jwk::of).collect(),
    });
    let headers = [
        (
            header::CONTENT_TYPE,
            // What verifiers expect; `application/jwk-set+json` trips some.
            HeaderValue::from_static("application/json"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ),
    ];
    EndpointOutcome::new(ENDPOINT, "served").on((StatusCode::OK, headers, body).into_response())
}
