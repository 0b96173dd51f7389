//! Public JWKs (RFC 7517): EC P-256 and RSA keys, their RFC 7638 thumbprints, and the
//! signatures they check.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
    RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::jws::{Algorithm, JoseError};
use crate::domain::crypto::sha256;

/// Members only a private JWK has; a key that carries one is refused.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A public key as a JWK: the base64url members as they were sent (the thumbprint is taken
/// over them) and their decoded bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jwk {
    /// `kty` `EC`, `crv` `P-256`: x and y, 32 bytes each.
    P256 {
        x: String,
        y: String,
        point: Vec<u8>,
    },
    /// `kty` `RSA`.
    Rsa {
        n: String,
        e: String,
        modulus: Vec<u8>,
        exponent: Vec<u8>,
    },
}

/// An RFC 7638 JWK SHA-256 thumbprint, base64url: what a DPoP-bound token's `cnf.jkt` names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Thumbprint(String);

impl Thumbprint {
    /// A thumbprint read back from storage or a token.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn member<'a>(object: &'a Map<String, Value>, name: &str) -> Result<&'a str, JoseError> {
    object
        .get(name)
        .and_then(Value::as_str)
        .ok_or(JoseError::BadKey)
}

fn decoded(value: &str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD.decode(value).map_err(|_| JoseError::BadKey)
}

impl Jwk {
    /// Reads a public JWK; a private one, an unknown `kty` or curve, or malformed members are
    /// refused.
    pub fn from_json(value: &Value) -> Result<Self, JoseError> {
        let object = value.as_object().ok_or(JoseError::BadKey)?;
        if PRIVATE_MEMBERS
            .iter()
            .any(|name| object.contains_key(*name))
        {
            return Err(JoseError::PrivateKey);
        }
        match member(object, "kty")? {
            "EC" => {
                if member(object, "crv")? != "P-256" {
                    return Err(JoseError::BadKey);
                }
                let (x, y) = (member(object, "x")?, member(object, "y")?);
                let (x_bytes, y_bytes) = (decoded(x)?, decoded(y)?);
                if x_bytes.len() != 32 || y_bytes.len() != 32 {
                    return Err(JoseError::BadKey);
                }
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(&x_bytes);
                point.extend_from_slice(&y_bytes);
                Ok(Jwk::P256 {
                    x: x.to_owned(),
                    y: y.to_owned(),
                    point,
                })
            }
            "RSA" => {
                let (n, e) = (member(object, "n")?, member(object, "e")?);
                Ok(Jwk::Rsa {
                    modulus: decoded(n)?,
                    exponent: decoded(e)?,
                    n: n.to_owned(),
                    e: e.to_owned(),
                })
            }
            _ => Err(JoseError::BadKey),
        }
    }

    /// RFC 7638: the SHA-256 of the required members in lexicographic order, without spaces.
    pub fn thumbprint(&self) -> Thumbprint {
        let canonical = match self {
            Jwk::P256 { x, y, .. } => {
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            Jwk::Rsa { n, e, .. } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
        };
        Thumbprint(URL_SAFE_NO_PAD.encode(sha256(canonical.as_bytes())))
    }

    /// Whether `signature` is this key's `algorithm` signature of `message`. An algorithm of
    /// another key type never verifies; RSA keys need 2048 bits at least.
    pub fn verifies(&self, algorithm: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        match (self, algorithm) {
            (Jwk::P256 { point, .. }, Algorithm::Es256) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            (
                Jwk::Rsa {
                    modulus, exponent, ..
                },
                Algorithm::Rs256 | Algorithm::Ps256,
            ) => {
                let parameters = if algorithm == Algorithm::Rs256 {
                    &RSA_PKCS1_2048_8192_SHA256
                } else {
                    &RSA_PSS_2048_8192_SHA256
                };
                RsaPublicKeyComponents {
                    n: modulus.as_slice(),
                    e: exponent.as_slice(),
                }
                .verify(parameters, message, signature)
                .is_ok()
            }
            _ => false,
        }
    }
}

/// A client's registered public keys (RFC 7517 JWK Set), for private_key_jwt: the JSON as
/// registered, and the keys read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientJwks {
    json: String,
    keys: Vec<(Option<String>, Jwk)>,
}

/// The most keys a client may register: its current keys and the next, while it rotates.
pub const MAX_CLIENT_KEYS: usize = 10;

impl ClientJwks {
    /// Reads a JWK Set (`{"keys": [...]}`) of 1 to [`MAX_CLIENT_KEYS`] public keys.
    pub fn parse(json: &str) -> Result<Self, JoseError> {
        let value: Value = serde_json::from_str(json).map_err(|_| JoseError::BadKey)?;
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JoseError::BadKey)?;
        if keys.is_empty() || keys.len() > MAX_CLIENT_KEYS {
            return Err(JoseError::BadKey);
        }
        let keys = keys
            .iter()
            .map(|key| {
                let kid = key.get("kid").and_then(Value::as_str).map(str::to_owned);
                Ok((kid, Jwk::from_json(key)?))
            })
            .collect::<Result<Vec<_>, JoseError>>()?;
        Ok(Self {
            json: serde_json::to_string(&value).map_err(|_| JoseError::BadKey)?,
            keys,
        })
    }

    /// The JWK Set as stored (compact JSON).
    pub fn as_json(&self) -> &str {
        &self.json
    }

    /// The keys that may have signed a JWS whose header names `kid`: that key, or every key
    /// when the header names none.
    pub fn candidates<'a>(&'a self, kid: Option<&'a str>) -> impl Iterator<Item = &'a Jwk> {
        self.keys
            .iter()
            .filter(move |(key_id, _)| kid.is_none() || key_id.as_deref() == kid)
            .map(|(_, key)| key)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_thumbprint_is_rfc_7638s_example() -> Result<(), JoseError> {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let jwk = Jwk::from_json(&json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256"}))?;
        assert_eq!(
            jwk.thumbprint().as_str(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        Ok(())
    }

    #[test]
    fn private_and_symmetric_keys_are_refused() {
        for key in [
            json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"}),
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
            json!("not an object"),
        ] {
            assert!(Jwk::from_json(&key).is_err(), "{key}");
        }
    }
}
