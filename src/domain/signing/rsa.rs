//! RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3) over aws-lc-rs: accepted by both
//! kinds of API Gateway JWT authorizer and by every JWT library. Signatures are deterministic,
//! so the same claims signed again give the identical token (a retried refresh needs that).

use std::fmt;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use super::error::KeyError;
use super::key_set::{KeyId, PublicJwk};
use crate::domain::crypto::sha256;

/// A private key in PKCS#8 DER, wiped from memory when dropped. Never stored or logged as it
/// is: the vault seals it first.
pub struct PrivateKeyDer(Zeroizing<Vec<u8>>);

impl PrivateKeyDer {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PrivateKeyDer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyDer([redacted])")
    }
}

/// An RSA-2048 key that signs access tokens.
pub struct SigningKey {
    kid: KeyId,
    pair: KeyPair,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.kid)
    }
}

impl SigningKey {
    /// A new random key.
    pub fn generate() -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generation)?;
        Ok(Self::from_pair(pair))
    }

    /// The key a vault unsealed; `kid` is what the key set says it is, and must match.
    pub fn from_private_der(kid: &str, der: &PrivateKeyDer) -> Result<Self, KeyError> {
        let unusable = |reason: &str| KeyError::Unusable {
            kid: kid.to_owned(),
            reason: reason.to_owned(),
        };
        let pair =
            KeyPair::from_pkcs8(der.expose()).map_err(|_| unusable("not an RSA PKCS#8 key"))?;
        let key = Self::from_pair(pair);
        if key.kid != kid {
            return Err(unusable(
                "the unsealed key is not the one the key set names",
            ));
        }
        Ok(key)
    }

    fn from_pair(pair: KeyPair) -> Self {
        let kid = thumbprint(&public_jwk_of(&pair));
        Self { kid, pair }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_jwk(&self) -> PublicJwk {
        public_jwk_of(&self.pair)
    }

    pub fn private_der(&self) -> Result<PrivateKeyDer, KeyError> {
        let der = self.pair.as_der().map_err(|_| KeyError::Unusable {
            kid: self.kid.clone(),
            reason: "could not encode the private key".into(),
        })?;
        Ok(PrivateKeyDer::new(der.as_ref().to_vec()))
    }

    /// The RS256 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| KeyError::Unusable {
                kid: self.kid.clone(),
                reason: "signing failed".into(),
            })?;
        Ok(signature)
    }
}

/// A published key, which checks signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

impl VerifyingKey {
    /// `None` if the JWK's members are not base64url.
    pub fn from_jwk(jwk: &PublicJwk) -> Option<Self> {
        Some(Self {
            n: URL_SAFE_NO_PAD.decode(&jwk.n).ok()?,
            e: URL_SAFE_NO_PAD.decode(&jwk.e).ok()?,
        })
    }

    /// Whether `signature` is this key's RS256 signature of `message` (keys of 2048 to 8192
    /// bits).
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        PublicKeyComponents {
            n: self.n.as_slice(),
            e: self.e.as_slice(),
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
        .is_ok()
    }
}

fn public_jwk_of(pair: &KeyPair) -> PublicJwk {
    let public = pair.public_key();
    PublicJwk {
        n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    }
}

/// RFC 7638: the SHA-256 of the required members in lexicographic order, without spaces.
fn thumbprint(jwk: &PublicJwk) -> KeyId {
    let canonical = format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, jwk.e, jwk.n);
    URL_SAFE_NO_PAD.encode(sha256(canonical.as_bytes()))
}
