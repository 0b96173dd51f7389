//! Client credentials from the `Authorization: Basic` header or the body (RFC 6749 §2.3.1),
//! or a private_key_jwt client assertion in the body (RFC 7523 §2.2).

use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::discovery::discovery_of;
use super::error::OAuthError;
use super::params::{MAX_VALUE_BYTES, Params, form_decode};
use super::paths::TOKEN_PATH;
use crate::domain::jose::assertion::{JWT_BEARER_ASSERTION_TYPE, asserted_client};
use crate::domain::names::ClientId;
use crate::domain::{ClientAssertion, ClientCredentials, GrantError, Secret};

/// Standard base64 that also takes unpadded input, which some hand-built headers send.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The client's credentials, or `None` if it presented none.
///
/// Basic credentials are read both ways clients send them: form-encoded before base64, as
/// RFC 6749 §2.3.1 says, and raw, as curl `-u`, `https://ID:SECRET@host` and most libraries
/// do. The secret is accepted if either reading matches. A client may repeat its id (and
/// secret) in the body, but naming a different client there is refused.
pub fn client_credentials(
    headers: &HeaderMap,
    params: &Params,
) -> Result<Option<ClientCredentials>, OAuthError> {
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    if params.get("client_assertion_type").is_some() || params.get("client_assertion").is_some() {
        if body_secret.is_some() || basic_credentials(headers)?.is_some() {
            return Err(OAuthError::invalid_request(
                "More than one client authentication method.",
            ));
        }
        return assertion_credentials(body_id, params).map(Some);
    }
    let Some((basic_id, secret_candidates)) = basic_credentials(headers)? else {
        return body_id
            .map(|client_id| {
                let secret_candidates = body_secret.map(Secret::from).into_iter().collect();
                credentials(client_id, secret_candidates)
            })
            .transpose();
    };
    let same_id = body_id.is_none_or(|id| id == basic_id);
    let same_secret = body_secret.is_none_or(|secret| {
        secret_candidates
            .iter()
            .any(|candidate| candidate.expose() == secret)
    });
    if same_id && same_secret {
        credentials(&basic_id, secret_candidates).map(Some)
    } else {
        Err(OAuthError::invalid_request(
            "The client credentials in the Authorization header and in the body differ.",
        ))
    }
}

/// The presented credentials, their id checked here once: no client has a malformed id, so
/// one is answered as an unknown client is.
fn credentials(
    client_id: &str,
    secret_candidates: Vec<Secret>,
) -> Result<ClientCredentials, OAuthError> {
    let client_id =
        ClientId::parse(client_id).map_err(|_| OAuthError::from(GrantError::InvalidClient))?;
    Ok(ClientCredentials {
        client_id,
        secret_candidates,
        assertion: None,
    })
}

/// A client assertion (RFC 7523 §2.2): of type jwt-bearer, from the client `client_id`
/// names, or else the one the assertion says issued it (checked with its signature later).
fn assertion_credentials(
    body_id: Option<&str>,
    params: &Params,
) -> Result<ClientCredentials, OAuthError> {
    if params.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION_TYPE) {
        return Err(OAuthError::invalid_request(
            "Unsupported or missing client_assertion_type.",
        ));
    }
    let jwt = params
        .get("client_assertion")
        .ok_or_else(|| OAuthError::invalid_request("Missing client_assertion parameter."))?;
    let client_id = match body_id {
        Some(client_id) => client_id.to_owned(),
        None => asserted_client(jwt).ok_or_else(|| OAuthError::from(GrantError::InvalidClient))?,
    };
    Ok(ClientCredentials {
        assertion: Some(ClientAssertion {
            jwt: Secret::new(jwt),
            audiences: Vec::new(),
        }),
        ..credentials(&client_id, Vec::new())?
    })
}

/// Names the audiences a client assertion sent to the endpoint at `parts` may have: that
/// endpoint's URL, the token endpoint's and the issuer (OpenID Connect Core §9 names the token
/// endpoint; RFC 7523 §3 allows the issuer).
pub fn assertion_audiences(credentials: &mut ClientCredentials, parts: &Parts) {
    let Some(assertion) = &mut credentials.assertion else {
        return;
    };
    if let Ok(issuer) = discovery_of(parts).issuer(parts) {
        assertion.audiences = vec![
            format!("{issuer}{}", parts.uri.path()),
            format!("{issuer}{TOKEN_PATH}"),
            issuer,
        ];
    }
}

/// Reads `Authorization: Basic …`. Other schemes are not client authentication and are
/// ignored; a Basic header that cannot be decoded is a malformed request.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, Vec<Secret>)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || OAuthError::invalid_request("The Basic authorization header is malformed.");
    let value = value.as_bytes().trim_ascii();
    let (scheme, encoded) = match value.iter().position(|&byte| byte == b' ') {
        Some(at) => (&value[..at], &value[at + 1..]),
        None => (value, &[][..]),
    };
    // RFC 7235 §2.1: the scheme name is case-insensitive. Other schemes are not ours to judge.
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return Ok(None);
    }
    let decoded = LENIENT_BASE64
        .decode(encoded.trim_ascii())
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (raw_id, raw_secret) = decoded.split_once(':').ok_or_else(malformed)?;
    if raw_id.is_empty() || raw_id.len() > MAX_VALUE_BYTES || raw_secret.len() > MAX_VALUE_BYTES {
        return Err(malformed());
    }
    // A raw value with a stray `%` may not decode; it is then only meant raw.
    let client_id = form_decode(raw_id.as_bytes()).unwrap_or_else(|_| raw_id.to_owned());
    let mut secret_candidates = Vec::with_capacity(2);
    if let Ok(decoded_secret) = form_decode(raw_secret.as_bytes()) {
        secret_candidates.push(Secret::new(decoded_secret));
    }
    if secret_candidates
        .first()
        .is_none_or(|first| first.expose() != raw_secret)
    {
        secret_candidates.push(Secret::new(raw_secret));
    }
    Ok(Some((client_id, secret_candidates)))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(authorization) {
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }

    fn basic(user_pass: &str) -> HeaderMap {
        headers(&format!("Basic {}", STANDARD.encode(user_pass)))
    }

    fn candidates(credentials: &ClientCredentials) -> Vec<&str> {
        credentials
            .secret_candidates
            .iter()
            .map(Secret::expose)
            .collect()
    }

    fn read(headers: &HeaderMap, body: &str) -> Result<Option<ClientCredentials>, OAuthError> {
        client_credentials(headers, &Params::from_form(body.as_bytes())?)
    }

    #[test]
    fn raw_and_form_encoded_secrets_are_both_candidates() -> Result<(), OAuthError> {
        let credentials = read(&basic("app:a+b%2Fc"), "")?;
        let credentials = credentials.ok_or_else(|| OAuthError::invalid_request("none"))?;
        assert_eq!(credentials.client_id, "app");
        assert_eq!(candidates(&credentials), ["a b/c", "a+b%2Fc"]);
        Ok(())
    }

    #[test]
    fn a_plain_secret_is_one_candidate_and_the_scheme_is_case_insensitive() -> Result<(), OAuthError>
    {
        for scheme in ["Basic", "basic", "BASIC"] {
            let header = headers(&format!("{scheme} {}", STANDARD.encode("app:secret")));
            let credentials =
                read(&header, "")?.ok_or_else(|| OAuthError::invalid_request("none"))?;
            assert_eq!(candidates(&credentials), ["secret"]);
        }
        Ok(())
    }

    #[test]
    fn the_secret_may_contain_colons() -> Result<(), OAuthError> {
        let credentials =
            read(&basic("app:a:b"), "")?.ok_or_else(|| OAuthError::invalid_request("none"))?;
        assert_eq!(candidates(&credentials), ["a:b"]);
        Ok(())
    }

    #[test]
    fn body_credentials_are_used_without_a_header() -> Result<(), OAuthError> {
        let credentials = read(&HeaderMap::new(), "client_id=app&client_secret=s")?
            .ok_or_else(|| OAuthError::invalid_request("none"))?;
        assert_eq!(credentials.client_id, "app");
        assert_eq!(candidates(&credentials), ["s"]);
        assert!(read(&HeaderMap::new(), "client_secret=s")?.is_none());
        Ok(())
    }

    #[test]
    fn the_same_client_in_header_and_body_is_fine_a_different_one_is_not() -> Result<(), OAuthError>
    {
        assert!(read(&basic("app:s"), "client_id=app&client_secret=s")?.is_some());
        for body in ["client_id=other", "client_id=app&client_secret=wrong"] {
            let error = read(&basic("app:s"), body).err().map(|e| e.code.as_str());
            assert_eq!(error, Some("invalid_request"), "{body}");
        }
        Ok(())
    }

    #[test]
    fn garbage_basic_headers_are_invalid_requests() {
        let not_utf8 = format!("Basic {}", STANDARD.encode(b"\xff\xfe:x"));
        for header in [
            "Basic !!!",
            "Basic",
            "Basic ",
            "Basic YWJj",
            not_utf8.as_str(),
            "Basic OnNlY3JldA==",
        ] {
            let error = read(&headers(header), "").err().map(|e| e.code.as_str());
            assert_eq!(error, Some("invalid_request"), "{header}");
        }
    }

    #[test]
    fn other_schemes_are_not_client_authentication() -> Result<(), OAuthError> {
        assert!(read(&headers("Bearer abc"), "")?.is_none());
        Ok(())
    }
}
