//! private_key_jwt client assertions (RFC 7523 §2.2 and §3, OpenID Connect Core §9): a JWT
//! the client signs with a key it registered, naming itself as `iss` and `sub`, this server
//! as `aud`, short-lived and once only.

use serde::Deserialize;
use serde_json::Value;

use super::jwk::ClientJwks;
use super::jws::{Algorithm, CompactJws, JoseError};
use super::{MAX_JTI_BYTES, ReplayKey};
use crate::domain::clock::UnixSeconds;

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An assertion may expire at most this far ahead: a captured one is useless soon after.
pub const ASSERTION_MAX_LIFETIME: u64 = 300;
/// Leeway for the client's clock on `exp` and `nbf`.
const CLOCK_LEEWAY: u64 = 10;

/// The algorithms an assertion may be signed with, as the metadata lists them.
pub const ASSERTION_ALGORITHMS: [Algorithm; 3] = Algorithm::ALL;

/// Why an assertion is refused (logged; the client is told `invalid_client`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AssertionRefusal {
    #[error(transparent)]
    Jose(#[from] JoseError),
    #[error("the claims are missing or malformed")]
    BadClaims,
    #[error("iss or sub is not the client")]
    WrongClient,
    #[error("aud is neither the token endpoint nor the issuer")]
    WrongAudience,
    #[error("expired, not yet valid, or expiring too far ahead")]
    BadLifetime,
    #[error("the assertion was used before")]
    Replayed,
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: Value,
    exp: u64,
    jti: String,
    #[serde(default)]
    nbf: Option<u64>,
}

/// What an assertion must say.
#[derive(Debug, Clone, Copy)]
pub struct AssertionContext<'a> {
    pub client_id: &'a str,
    /// Each acceptable `aud`: the token endpoint's URL and the issuer.
    pub audiences: &'a [&'a str],
    pub now: UnixSeconds,
}

/// An assertion whose signature and claims checked out, not yet recorded as used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedAssertion {
    pub replay_key: ReplayKey,
    pub remember_until: UnixSeconds,
}

/// The `iss` an assertion names, read without checking anything: which client to look up.
pub fn asserted_client(assertion: &str) -> Option<String> {
    let jws = CompactJws::parse(assertion).ok()?;
    let claims: Value = jws.claims().ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Checks `assertion` against the client's keys and `context`.
pub fn check_assertion(
    assertion: &str,
    keys: &ClientJwks,
    context: &AssertionContext<'_>,
) -> Result<CheckedAssertion, AssertionRefusal> {
    let jws = CompactJws::parse(assertion)?;
    let signed = keys
        .candidates(jws.header_str("kid"))
        .any(|key| jws.verify(key).is_ok());
    if !signed {
        return Err(JoseError::BadSignature.into());
    }
    let claims: AssertionClaims = jws.claims().map_err(|_| AssertionRefusal::BadClaims)?;
    if claims.iss != context.client_id || claims.sub != context.client_id {
        return Err(AssertionRefusal::WrongClient);
    }
    let named = |aud: &Value| {
        aud.as_str()
            .is_some_and(|aud| context.audiences.contains(&aud))
    };
    let audience_ok = match &claims.aud {
        Value::Array(values) => values.iter().any(named),
        single => named(single),
    };
    if !audience_ok {
        return Err(AssertionRefusal::WrongAudience);
    }
    let now = context.now;
    if claims.exp.saturating_add(CLOCK_LEEWAY) <= now
        || claims.exp > now + ASSERTION_MAX_LIFETIME + CLOCK_LEEWAY
        || claims.nbf.is_some_and(|nbf| nbf > now + CLOCK_LEEWAY)
    {
        return Err(AssertionRefusal::BadLifetime);
    }
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_BYTES {
        return Err(AssertionRefusal::BadClaims);
    }
    Ok(CheckedAssertion {
        replay_key: ReplayKey::new("client_assertion", context.client_id, &claims.jti),
        remember_until: claims.exp.saturating_add(CLOCK_LEEWAY + 1),
    })
}
