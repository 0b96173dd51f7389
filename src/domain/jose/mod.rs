//! The JOSE this server verifies from others (RFC 7515, 7517, 7518, 7638): a compact JWS
//! signed by a client's key, that key as a public JWK, and its thumbprint. It serves DPoP
//! proofs (RFC 9449, [`dpop`]) and private_key_jwt client assertions (RFC 7523,
//! [`assertion`]), both checked with aws-lc-rs, the one crypto provider. Only asymmetric
//! algorithms are accepted: never `none`, never HMAC, whose key would be the public one.

pub mod assertion;
pub mod dpop;
mod jwk;
mod jws;
pub mod nonce;

pub use jwk::{ClientJwks, Jwk, Thumbprint};
pub use jws::{Algorithm, CompactJws, JoseError};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::crypto::sha256_of_parts;

/// The store key that remembers a once-only JWT (a proof's or an assertion's `jti`) as used:
/// the base64url SHA-256 of what it is for, who made it and the `jti`, so that two signers'
/// `jti`s never collide and no presented value is stored as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplayKey(String);

impl ReplayKey {
    /// `purpose` tells proofs from assertions, `signer` is the key's thumbprint or the
    /// client's id.
    pub fn new(purpose: &str, signer: &str, jti: &str) -> Self {
        let digest = sha256_of_parts(&[
            purpose.as_bytes(),
            &[0],
            signer.as_bytes(),
            &[0],
            jti.as_bytes(),
        ]);
        Self(URL_SAFE_NO_PAD.encode(digest))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The longest `jti` accepted: longer than any library makes, short enough to hash cheaply.
pub const MAX_JTI_BYTES: usize = 256;
