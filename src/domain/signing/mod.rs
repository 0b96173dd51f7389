//! Signing keys for JWT access tokens (RFC 9068): the key set, the rules by which a rotation
//! moves through it, and the two ports it needs, storage for the set and a vault that keeps
//! private keys sealed at rest.
//!
//! A rotation publishes the new key at once and signs with it only from `signs_from`, a
//! propagation delay later, so every verifier has seen it in the key set first. A key stops
//! signing when the next one starts (it is *retired* then) and stays published until every
//! token it signed has expired. Which key signs is a function of the time alone, so instances
//! that loaded the same set agree, whenever they loaded it.

mod error;
mod jwt;
mod key_ring;
mod key_set;
mod rsa;
mod vault;

pub use error::{KeyError, VaultError};
pub use jwt::{
    AccessTokenClaims, Confirmation, JwtRejection, UnverifiedJwt, encode_access_token,
    looks_like_jwt, unverified_jti,
};
pub use key_ring::{KeyRing, KeyRingTiming};
pub use key_set::{
    KeyId, KeySet, KeySetSaved, KeySetStore, MAX_ACCESS_TOKEN_LIFETIME, PUBLICATION_MARGIN,
    PublicJwk, RETIRED_KEY_RETENTION, SealedPrivateKey, SigningKeyRecord,
};
pub use rsa::{PrivateKeyDer, SigningKey, VerifyingKey};
pub use vault::{KeyVault, new_signing_key};

#[cfg(test)]
mod tests;
