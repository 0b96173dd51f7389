//! JWT access tokens (RFC 9068): compact JWS (RFC 7515) with RS256, header
//! `{"alg":"RS256","typ":"at+jwt","kid":…}`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::error::KeyError;
use super::rsa::{SigningKey, VerifyingKey};
use crate::domain::clock::UnixSeconds;
use crate::domain::secret::Secret;

const ALGORITHM: &str = "RS256";
/// RFC 9068 §2.1; `application/at+jwt` is the same type written out (RFC 7515 §4.1.9).
const TOKEN_TYPE: &str = "at+jwt";

/// RFC 9068 §2.2's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The username, or the client id for a client's own token (client credentials grant).
    pub sub: String,
    pub aud: String,
    pub exp: UnixSeconds,
    pub iat: UnixSeconds,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    /// The DPoP key a bound token is for (RFC 9449 §6.1); absent from Bearer tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// RFC 7800's confirmation claim, with RFC 9449's JWK thumbprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

#[derive(Serialize, Deserialize)]
struct Header<'a> {
    alg: &'a str,
    #[serde(default)]
    typ: Option<&'a str>,
    #[serde(default)]
    kid: Option<&'a str>,
}

/// `claims` signed by `key`.
pub fn encode_access_token(
    key: &SigningKey,
    claims: &AccessTokenClaims,
) -> Result<Secret, KeyError> {
    let header = Header {
        alg: ALGORITHM,
        typ: Some(TOKEN_TYPE),
        kid: Some(key.kid()),
    };
    let unusable = |_| KeyError::Unusable {
        kid: key.kid().to_owned(),
        reason: "could not encode the token".into(),
    };
    let mut token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).map_err(unusable)?);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims).map_err(unusable)?, &mut token);
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(Secret::new(token))
}

/// Whether a presented token has a JWT's shape (three base64url parts, the first a JSON
/// object), as opaque tokens never do.
pub fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|&byte| byte == b'.').count() == 2
}

/// The `jti` of a token shaped as a JWT, read without checking anything: only to find where
/// the token would be stored (the family its `jti` names), never to trust it.
pub fn unverified_jti(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Jti {
        jti: String,
    }
    let payload = token.split('.').nth(1)?;
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Jti>(&json)
        .ok()
        .map(|claims| claims.jti)
}

/// Why a presented JWT is not a live access token of this server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtRejection {
    #[error("not a well-formed JWT")]
    Malformed,
    #[error("an algorithm other than RS256")]
    UnsupportedAlgorithm,
    #[error("not an access token (typ is not at+jwt)")]
    WrongType,
    #[error("signed by a key this server does not publish")]
    UnknownKey,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("issued by another issuer")]
    WrongIssuer,
    #[error("expired")]
    Expired,
}

/// A JWT whose header was read but whose signature is not checked yet.
#[derive(Debug)]
pub struct UnverifiedJwt<'a> {
    kid: String,
    signing_input: &'a str,
    payload: &'a str,
    signature: Vec<u8>,
}

impl<'a> UnverifiedJwt<'a> {
    /// Reads the header: RS256, `typ` `at+jwt`, and a `kid`. The `alg` is checked before any
    /// key is chosen, so no other algorithm (`none`, HS256 with a public key) is ever tried.
    pub fn parse(token: &'a str) -> Result<Self, JwtRejection> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtRejection::Malformed);
        };
        let header_json = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| JwtRejection::Malformed)?;
        let header_fields: Header<'_> =
            serde_json::from_slice(&header_json).map_err(|_| JwtRejection::Malformed)?;
        if header_fields.alg != ALGORITHM {
            return Err(JwtRejection::UnsupportedAlgorithm);
        }
        let typ = header_fields.typ.unwrap_or_default();
        let typ = typ.strip_prefix("application/").unwrap_or(typ);
        if !typ.eq_ignore_ascii_case(TOKEN_TYPE) {
            return Err(JwtRejection::WrongType);
        }
        let kid = header_fields
            .kid
            .ok_or(JwtRejection::UnknownKey)?
            .to_owned();
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| JwtRejection::Malformed)?;
        Ok(Self {
            kid,
            signing_input: &token[..header.len() + 1 + payload.len()],
            payload,
            signature,
        })
    }

    /// The id of the key the header says signed it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The claims, if `key` signed them, `issuer` issued them and they are live at `now`.
    pub fn verify(
        self,
        key: &VerifyingKey,
        issuer: &str,
        now: UnixSeconds,
    ) -> Result<AccessTokenClaims, JwtRejection> {
        if !key.verifies(self.signing_input.as_bytes(), &self.signature) {
            return Err(JwtRejection::BadSignature);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(self.payload)
            .map_err(|_| JwtRejection::Malformed)?;
        let claims: AccessTokenClaims =
            serde_json::from_slice(&payload).map_err(|_| JwtRejection::Malformed)?;
        if claims.iss != issuer {
            return Err(JwtRejection::WrongIssuer);
        }
        if now >= claims.exp {
            return Err(JwtRejection::Expired);
        }
        Ok(claims)
    }
}
