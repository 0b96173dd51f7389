//! Compact JWS (RFC 7515 §7.1) as others sign them: the header and payload read, the
//! signature checked against a key the caller chooses.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::jwk::Jwk;

/// The longest JWS read: DPoP proofs with an RSA-4096 key and client assertions are well
/// under it.
pub const MAX_JWS_BYTES: usize = 8 * 1024;

/// The signature algorithms accepted (RFC 7518 §3): asymmetric only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Es256,
    Rs256,
    Ps256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::Es256, Algorithm::Rs256, Algorithm::Ps256];

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
            Algorithm::Ps256 => "PS256",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == name)
    }
}

/// Why a JWS, or the key it names, is not acceptable. For logs; clients learn only the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    #[error("not a well-formed compact JWS")]
    Malformed,
    #[error("an algorithm other than ES256, RS256 or PS256")]
    UnsupportedAlgorithm,
    #[error("the key is not a usable public JWK")]
    BadKey,
    #[error("the JWK carries private key material")]
    PrivateKey,
    #[error("the signature does not verify")]
    BadSignature,
}

/// A compact JWS whose header and payload are read and whose signature is not yet checked.
#[derive(Debug)]
pub struct CompactJws<'a> {
    pub algorithm: Algorithm,
    pub header: Map<String, Value>,
    signing_input: &'a str,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> CompactJws<'a> {
    /// Splits and decodes `token`; the `alg` must be one of [`Algorithm::ALL`].
    pub fn parse(token: &'a str) -> Result<Self, JoseError> {
        if token.len() > MAX_JWS_BYTES {
            return Err(JoseError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JoseError::Malformed);
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| JoseError::Malformed)
        };
        let header_fields: Map<String, Value> =
            serde_json::from_slice(&decode(header)?).map_err(|_| JoseError::Malformed)?;
        let algorithm = header_fields
            .get("alg")
            .and_then(Value::as_str)
            .and_then(Algorithm::parse)
            .ok_or(JoseError::UnsupportedAlgorithm)?;
        // RFC 7515 §4.1.11: a critical extension this server does not know must be refused.
        if header_fields.contains_key("crit") {
            return Err(JoseError::Malformed);
        }
        Ok(Self {
            algorithm,
            signing_input: &token[..header.len() + 1 + payload.len()],
            payload: decode(payload)?,
            signature: decode(signature)?,
            header: header_fields,
        })
    }

    /// A string member of the header.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// Whether `key` made the signature.
    pub fn verify(&self, key: &Jwk) -> Result<(), JoseError> {
        if key.verifies(
            self.algorithm,
            self.signing_input.as_bytes(),
            &self.signature,
        ) {
            Ok(())
        } else {
            Err(JoseError::BadSignature)
        }
    }

    /// The payload as `T`; call after [`CompactJws::verify`].
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, JoseError> {
        serde_json::from_slice(&self.payload).map_err(|_| JoseError::Malformed)
    }
}
