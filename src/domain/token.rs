//! Token values: generated from the OS CSPRNG, stored only as SHA-256 hashes.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

pub use super::crypto::RandomnessUnavailable;
use super::crypto::{fill_random, sha256};
use super::secret::Secret;

/// Length of a token, as django-oauth-toolkit (oauthlib's `generate_token`) makes them.
pub const TOKEN_LENGTH: usize = 30;

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A new random string of `length` characters from `[A-Za-z0-9]`.
///
/// Each character carries log2(62) ≈ 5.95 bits, so a 30-character token has ≈ 178 bits. Bytes are
/// drawn by rejection sampling (only values below 248 = 4 × 62 are used), which keeps every
/// character equally likely.
pub fn random_alphanumeric(length: usize) -> Result<String, RandomnessUnavailable> {
    let mut output = String::with_capacity(length);
    // The bytes become the token: wiped when done, like the token itself.
    let mut buffer = Zeroizing::new([0u8; 64]);
    while output.len() < length {
        fill_random(buffer.as_mut())?;
        push_alphanumerics(&mut output, length, buffer.as_ref());
    }
    Ok(output)
}

/// Appends a character of `[A-Za-z0-9]` for each byte of `bytes` below 248 = 4 × 62 (so every
/// character is equally likely) until `output` holds `length` characters.
fn push_alphanumerics(output: &mut String, length: usize, bytes: &[u8]) {
    for &byte in bytes.iter().filter(|&&byte| byte < 248) {
        if output.len() == length {
            return;
        }
        output.push(char::from(ALPHABET[usize::from(byte % 62)]));
    }
}

/// A new access or refresh token.
pub fn new_token() -> Result<Secret, RandomnessUnavailable> {
    random_alphanumeric(TOKEN_LENGTH).map(Secret::new)
}

/// A token family's secret, from which each refresh derives its successor pair from the refresh
/// token presented: HMAC-SHA-256 under the secret, so a retry of the same refresh gets the
/// identical pair and any number of duplicates converge on one line of the login.
///
/// It is stored with the family's refresh tokens, but it is useless without a refresh token,
/// which is never stored: a database leak yields no usable token.
#[derive(Clone, PartialEq, Eq)]
pub struct FamilySecret(Zeroizing<String>);

impl FamilySecret {
    /// A new secret of 256 random bits.
    pub fn generate() -> Result<Self, RandomnessUnavailable> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        fill_random(bytes.as_mut())?;
        Ok(Self(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref()))))
    }

    /// Rebuilds a secret read back from storage.
    pub fn from_stored(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The access and refresh token that succeed `presented`, always the same for the same
    /// secret and token, and indistinguishable from random ones without the secret.
    pub fn successors(&self, presented: &Secret) -> (Secret, Secret) {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.0.as_bytes());
        (
            derive(&key, b"access", presented),
            derive(&key, b"refresh", presented),
        )
    }
}

/// A token from the HMAC stream of `label` and `presented` under `key`, drawn as
/// [`random_alphanumeric`] draws from the OS, so derived tokens look like any other.
fn derive(key: &hmac::Key, label: &[u8], presented: &Secret) -> Secret {
    let mut output = String::with_capacity(TOKEN_LENGTH);
    let mut block = 0u8;
    while output.len() < TOKEN_LENGTH {
        let mut context = hmac::Context::with_key(key);
        context.update(label);
        context.update(&[0, block]);
        context.update(presented.expose().as_bytes());
        push_alphanumerics(&mut output, TOKEN_LENGTH, context.sign().as_ref());
        block = block.wrapping_add(1);
    }
    Secret::new(output)
}

impl fmt::Debug for FamilySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FamilySecret([redacted])")
    }
}

/// The SHA-256 of a token, base64url-encoded: the only form in which tokens are stored.
///
/// A fast hash is enough here because tokens carry ≥ 178 random bits; slow hashes are for the
/// low-entropy secrets people choose.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(token: &Secret) -> Self {
        Self(URL_SAFE_NO_PAD.encode(sha256(token.expose().as_bytes())))
    }

    /// Rebuilds a hash read back from storage.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is safe to log, and a short prefix is enough to correlate log lines.
        write!(f, "TokenHash({}…)", &self.0[..self.0.len().min(8)])
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn tokens_are_thirty_alphanumerics() -> Result<(), RandomnessUnavailable> {
        let token = new_token()?;
        assert_eq!(token.expose().len(), TOKEN_LENGTH);
        assert!(token.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        Ok(())
    }

    #[test]
    fn tokens_are_unique_and_use_the_whole_alphabet() -> Result<(), RandomnessUnavailable> {
        let tokens: HashSet<String> = (0..2000)
            .map(|_| new_token().map(|t| t.expose().to_owned()))
            .collect::<Result<_, _>>()?;
        assert_eq!(tokens.len(), 2000);
        let seen: HashSet<u8> = tokens.iter().flat_map(|t| t.bytes()).collect();
        assert_eq!(
            seen.len(),
            62,
            "all 62 characters should appear in 60,000 draws"
        );
        Ok(())
    }

    #[test]
    fn successors_are_deterministic_per_secret_and_token() -> Result<(), RandomnessUnavailable> {
        let secret = FamilySecret::generate()?;
        let presented = new_token()?;
        let (access, refresh) = secret.successors(&presented);
        assert_eq!(
            secret.successors(&presented),
            (access.clone(), refresh.clone())
        );
        for token in [&access, &refresh] {
            assert_eq!(token.expose().len(), TOKEN_LENGTH);
            assert!(token.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        assert_ne!(access, refresh);
        let other_token = secret.successors(&new_token()?);
        let other_secret = FamilySecret::generate()?.successors(&presented);
        for other in [other_token, other_secret] {
            assert_ne!(other.0, access);
            assert_ne!(other.1, refresh);
        }
        assert!(!format!("{secret:?}").contains(secret.as_str()));
        Ok(())
    }

    #[test]
    fn hash_is_sha256_base64url() {
        // SHA-256("abc") = ba7816bf…, a published test vector.
        let hash = TokenHash::of(&Secret::new("abc"));
        assert_eq!(hash.as_str(), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
        assert!(!format!("{hash:?}").contains("abc"));
    }
}
