//! What a protected resource checks of a presented access token (RFC 6750, RFC 9449 §7): a
//! Bearer token as it always was, or a DPoP-bound token under the `DPoP` scheme with a proof,
//! by the key it is bound to, for this very request and this token, used once.

use super::clock::UnixSeconds;
use super::jose::dpop::{ProofRequest, check_proof};
use super::lifecycle::validate_bearer;
use super::model::AccessTokenRecord;
use super::secret::Secret;
use super::signing::{KeyError, KeyRing};
use super::store::{AccessTokenStore, ReplayStore};

/// The `Authorization` scheme a token came under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// An access token as a request presents it.
#[derive(Debug, Clone, Copy)]
pub struct PresentedToken<'a> {
    pub scheme: Scheme,
    pub token: &'a Secret,
    /// The request's one `DPoP` header, if it has exactly one.
    pub proof: Option<&'a str>,
    /// The request's method and URL (without query), as a proof must name them; `None` where
    /// the caller cannot tell (a REST API `TOKEN` authorizer sees the token alone).
    pub request: Option<(&'a str, &'a str)>,
}

/// The live access token `presented` names, if the way it is presented is right for it: a
/// Bearer token under `Bearer`, a bound token under `DPoP` with a fresh proof of its key. A
/// bound token presented as Bearer is refused (a thief's copy has no key), and so is an
/// unbound one presented as DPoP. `audiences` are the API's, as [`validate_bearer`] takes them.
pub async fn validate_access<S: AccessTokenStore + ReplayStore>(
    store: &S,
    keys: &KeyRing,
    presented: &PresentedToken<'_>,
    (issuer, audiences): (Option<&str>, &[String]),
    now: UnixSeconds,
) -> Result<Option<AccessTokenRecord>, KeyError> {
    let token = presented.token;
    let Some(access) = validate_bearer(store, keys, token, issuer, audiences, now).await? else {
        return Ok(None);
    };
    let refused = |reason: &str| {
        tracing::info!(client_id = %access.client_id, reason, "access token refused");
        Ok(None)
    };
    let bound = match (&access.jkt, presented.scheme) {
        (None, Scheme::Bearer) => return Ok(Some(access)),
        (Some(_), Scheme::Bearer) => return refused("a DPoP-bound token presented as Bearer"),
        (None, Scheme::Dpop) => return refused("a Bearer token presented as DPoP"),
        (Some(bound), Scheme::Dpop) => bound,
    };
    let (Some(proof), Some((method, url))) = (presented.proof, presented.request) else {
        return refused("no DPoP proof, or no request to check it against");
    };
    let proof_request = ProofRequest {
        method,
        url,
        access_token: Some(presented.token.expose()),
        now,
    };
    let checked = match check_proof(proof, &proof_request) {
        Ok(checked) => checked,
        Err(refusal) => return refused(&refusal.to_string()),
    };
    if checked.jkt != *bound {
        return refused("the DPoP proof is by another key than the token's");
    }
    if !store
        .record_once(&checked.replay_key, checked.remember_until, now)
        .await?
    {
        return refused("the DPoP proof was used before");
    }
    Ok(Some(access))
}
