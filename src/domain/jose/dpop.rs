//! DPoP proofs (RFC 9449 §4.3): a JWT of `typ` `dpop+jwt`, signed by the key in its own
//! header, naming the request's method and URL, fresh, once only, and (at a resource) the
//! access token it goes with.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::jwk::{Jwk, Thumbprint};
use super::jws::{Algorithm, CompactJws, JoseError};
use super::nonce::DpopNonces;
use super::{MAX_JTI_BYTES, ReplayKey};
use crate::domain::clock::UnixSeconds;
use crate::domain::crypto::sha256;
use crate::domain::store::{ReplayStore, StoreError};

/// A proof is accepted this long after its `iat`.
pub const PROOF_MAX_AGE: u64 = 60;
/// …and this far ahead of this server's clock (the client's may run fast).
pub const PROOF_MAX_AHEAD: u64 = 10;

/// The algorithms a proof may be signed with, as the metadata lists them.
pub const PROOF_ALGORITHMS: [Algorithm; 3] = Algorithm::ALL;

/// The request a proof must be for.
#[derive(Debug, Clone, Copy)]
pub struct ProofRequest<'a> {
    /// The HTTP method, upper case.
    pub method: &'a str,
    /// The request's URL without query and fragment, as this server is reached.
    pub url: &'a str,
    /// At a resource, the access token presented with the proof (`ath` must hash it).
    pub access_token: Option<&'a str>,
    pub now: UnixSeconds,
}

/// Why a proof is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofRefusal {
    #[error(transparent)]
    Jose(#[from] JoseError),
    #[error("more than one DPoP header")]
    Repeated,
    #[error("typ is not dpop+jwt")]
    WrongType,
    #[error("the header carries no jwk")]
    NoKey,
    #[error("the claims are missing or malformed")]
    BadClaims,
    #[error("htm is not the request's method")]
    WrongMethod,
    #[error("htu is not the request's URL")]
    WrongUrl,
    #[error("iat is too old or in the future")]
    Stale,
    #[error("ath does not hash the access token")]
    WrongAccessToken,
    #[error("the proof was used before")]
    Replayed,
    #[error("the proof is for another key than the token's")]
    WrongKey,
    #[error("no DPoP proof, which the client requires")]
    Missing,
}

/// A proof's refusal, or this server's demand for a nonce (RFC 9449 §8).
#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    #[error("invalid DPoP proof: {0}")]
    Invalid(#[from] ProofRefusal),
    /// The proof carries no nonce, or a stale one: the client retries with this one.
    #[error("a DPoP nonce is required")]
    UseNonce { nonce: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    /// Seconds; some libraries write a fraction.
    iat: serde_json::Number,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// A proof whose signature and claims checked out, not yet recorded as used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedProof {
    /// The thumbprint of the key that signed it: what the token is bound to.
    pub jkt: Thumbprint,
    pub replay_key: ReplayKey,
    /// After then the proof is stale anyway, so its record need not outlive it.
    pub remember_until: UnixSeconds,
    nonce: Option<String>,
}

/// Checks everything about `proof` that needs no store: shape, type, key, signature, method,
/// URL, age and `ath`.
pub fn check_proof(proof: &str, request: &ProofRequest<'_>) -> Result<CheckedProof, ProofRefusal> {
    let jws = CompactJws::parse(proof)?;
    if jws.header_str("typ") != Some("dpop+jwt") {
        return Err(ProofRefusal::WrongType);
    }
    let key = Jwk::from_json(jws.header.get("jwk").ok_or(ProofRefusal::NoKey)?)?;
    jws.verify(&key)?;
    let claims: ProofClaims = jws.claims().map_err(|_| ProofRefusal::BadClaims)?;
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_BYTES {
        return Err(ProofRefusal::BadClaims);
    }
    if claims.htm != request.method {
        return Err(ProofRefusal::WrongMethod);
    }
    if !same_url(&claims.htu, request.url) {
        return Err(ProofRefusal::WrongUrl);
    }
    let now = request.now;
    let iat = (claims.iat.as_u64())
        .or_else(|| {
            claims
                .iat
                .as_f64()
                .filter(|iat| *iat >= 0.0)
                .map(|iat| iat as u64)
        })
        .ok_or(ProofRefusal::BadClaims)?;
    if iat.saturating_add(PROOF_MAX_AGE) < now || iat > now.saturating_add(PROOF_MAX_AHEAD) {
        return Err(ProofRefusal::Stale);
    }
    if let Some(token) = request.access_token {
        let expected = URL_SAFE_NO_PAD.encode(sha256(token.as_bytes()));
        if claims.ath.as_deref() != Some(expected.as_str()) {
            return Err(ProofRefusal::WrongAccessToken);
        }
    }
    let jkt = key.thumbprint();
    Ok(CheckedProof {
        replay_key: ReplayKey::new("dpop", jkt.as_str(), &claims.jti),
        jkt,
        remember_until: iat.saturating_add(PROOF_MAX_AGE + 1),
        nonce: claims.nonce,
    })
}

/// Checks `proof` ([`check_proof`]), then its nonce if `nonces` demands one, then records it
/// as used: the key it binds to, or why not.
pub async fn accept_proof<S: ReplayStore>(
    store: &S,
    proof: &str,
    request: &ProofRequest<'_>,
    nonces: Option<&DpopNonces>,
) -> Result<Thumbprint, DpopError> {
    let checked = check_proof(proof, request)?;
    if let Some(nonces) = nonces
        && !checked
            .nonce
            .as_deref()
            .is_some_and(|nonce| nonces.accepts(nonce, request.now))
    {
        return Err(DpopError::UseNonce {
            nonce: nonces.current(request.now),
        });
    }
    if !store
        .record_once(&checked.replay_key, checked.remember_until, request.now)
        .await?
    {
        return Err(ProofRefusal::Replayed.into());
    }
    Ok(checked.jkt)
}

/// Whether `htu` names `url`, ignoring its query and fragment (RFC 9449 §4.3), the case of
/// scheme and host, and a default port.
fn same_url(htu: &str, url: &str) -> bool {
    let htu = htu.split(['?', '#']).next().unwrap_or_default();
    normalized(htu).is_some_and(|htu| Some(htu) == normalized(url))
}

/// `scheme://host[:port]` lower-cased without a default port, and the path as it is.
fn normalized(url: &str) -> Option<(String, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
    let scheme = scheme.to_ascii_lowercase();
    let authority = authority.to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    Some((format!("{scheme}://{authority}"), path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_match_without_query_case_or_default_port() {
        let url = "https://auth.example.com/prod/o/token/";
        for htu in [
            url,
            "HTTPS://Auth.Example.com/prod/o/token/",
            "https://auth.example.com:443/prod/o/token/?x=1",
            "https://auth.example.com/prod/o/token/#frag",
        ] {
            assert!(same_url(htu, url), "{htu}");
        }
        for htu in [
            "https://auth.example.com/prod/o/token",
            "http://auth.example.com/prod/o/token/",
            "https://auth.example.com/PROD/o/token/",
            "https://evil.example.com/prod/o/token/",
            "/prod/o/token/",
        ] {
            assert!(!same_url(htu, url), "{htu}");
        }
    }
}
