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

/// A new access or refresh token of the previous form: 30 characters and no family. Tokens
/// this version issues name their family ([`new_token_in`]).
pub fn new_token() -> Result<Secret, RandomnessUnavailable> {
    random_alphanumeric(TOKEN_LENGTH).map(Secret::new)
}

/// Between a token's family id and its secret part: `<family id>.<30 characters>`. `.` is an
/// unreserved character (RFC 3986), so tokens still need no escaping in a form or a URL.
pub const FAMILY_SEPARATOR: u8 = b'.';

/// The longest family id a token may name; ids this server makes have 22 characters.
const MAX_FAMILY_ID: usize = 64;

/// A new access or refresh token of `family_id`: the id, [`FAMILY_SEPARATOR`], then 30 random
/// characters that carry all its ≈ 178 bits of secrecy (the id is not secret: it is in every
/// token of the family). The id leads the store to the family's one item, without an index.
pub fn new_token_in(family_id: &str) -> Result<Secret, RandomnessUnavailable> {
    let mut output = String::with_capacity(family_id.len() + 1 + TOKEN_LENGTH);
    output.push_str(family_id);
    output.push(char::from(FAMILY_SEPARATOR));
    let mut buffer = Zeroizing::new([0u8; 64]);
    let length = output.len() + TOKEN_LENGTH;
    while output.len() < length {
        fill_random(buffer.as_mut())?;
        push_alphanumerics(&mut output, length, buffer.as_ref());
    }
    Ok(Secret::new(output))
}

/// The family id a token names before its [`FAMILY_SEPARATOR`], or `None` for a token of the
/// previous form (30 characters, no separator) or a value no family id can start.
pub fn family_named_by(token: &str) -> Option<&str> {
    let end = token.bytes().position(|byte| byte == FAMILY_SEPARATOR)?;
    let family_id = &token[..end];
    (!family_id.is_empty()
        && family_id.len() <= MAX_FAMILY_ID
        && family_id.bytes().all(|byte| byte.is_ascii_alphanumeric()))
    .then_some(family_id)
}

/// Where a presented token is stored: in its family's item (tokens of this version), or in an
/// item of its own keyed by its hash (tokens the previous version issued, read until they
/// are used or expire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKey<'a> {
    /// `None`: a token of the previous form.
    pub family_id: Option<std::borrow::Cow<'a, str>>,
    pub hash: TokenHash,
}

impl<'a> TokenKey<'a> {
    /// The key of an opaque token (a refresh token, or an opaque access token).
    pub fn of(token: &'a Secret) -> Self {
        Self {
            family_id: family_named_by(token.expose()).map(std::borrow::Cow::Borrowed),
            hash: TokenHash::of(token),
        }
    }

    /// The key of a token of `family_id` whose hash is `hash`.
    pub fn in_family(family_id: &'a str, hash: TokenHash) -> Self {
        Self {
            family_id: Some(std::borrow::Cow::Borrowed(family_id)),
            hash,
        }
    }

    /// The key of a token of the previous form.
    pub fn alone(hash: TokenHash) -> Self {
        Self {
            family_id: None,
            hash,
        }
    }

    pub fn family_id(&self) -> Option<&str> {
        self.family_id.as_deref()
    }
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

    /// The access and refresh token of `family_id` that succeed `presented`, always the same
    /// for the same secret and token, and indistinguishable from random ones without the
    /// secret.
    pub fn successors(&self, family_id: &str, presented: &Secret) -> (Secret, Secret) {
        let key = self.key();
        (
            derive(&key, b"access", family_id, presented),
            derive(&key, b"refresh", family_id, presented),
        )
    }

    /// How many refreshes ago `presented` was the family's refresh token, if it was one within
    /// `generations`: the chain of successors from it reaches a refresh token whose hash
    /// `is_known` says the family knows. A value the family never issued reaches none.
    pub fn generations_back(
        &self,
        family_id: &str,
        presented: &Secret,
        generations: u32,
        is_known: impl Fn(&TokenHash) -> bool,
    ) -> Option<u32> {
        let key = self.key();
        let mut token = derive(&key, b"refresh", family_id, presented);
        for generation in 1..=generations {
            if is_known(&TokenHash::of(&token)) {
                return Some(generation);
            }
            token = derive(&key, b"refresh", family_id, &token);
        }
        None
    }

    fn key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, self.0.as_bytes())
    }
}

/// A token of `family_id` from the HMAC stream of `label` and `presented` under `key`, drawn
/// as [`random_alphanumeric`] draws from the OS, so derived tokens look like any other.
fn derive(key: &hmac::Key, label: &[u8], family_id: &str, presented: &Secret) -> Secret {
    let mut output = String::with_capacity(family_id.len() + 1 + TOKEN_LENGTH);
    output.push_str(family_id);
    output.push(char::from(FAMILY_SEPARATOR));
    let length = output.len() + TOKEN_LENGTH;
    let mut block = 0u8;
    while output.len() < length {
        let mut context = hmac::Context::with_key(key);
        context.update(label);
        context.update(&[0, block]);
        context.update(presented.expose().as_bytes());
        push_alphanumerics(&mut output, length, context.sign().as_ref());
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
        let (access, refresh) = secret.successors("fam", &presented);
        assert_eq!(
            secret.successors("fam", &presented),
            (access.clone(), refresh.clone())
        );
        for token in [&access, &refresh] {
            let (family, rest) = token.expose().split_at(4);
            assert_eq!((family, rest.len()), ("fam.", TOKEN_LENGTH));
            assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(family_named_by(token.expose()), Some("fam"));
        }
        assert_ne!(access, refresh);
        let other_token = secret.successors("fam", &new_token()?);
        let other_secret = FamilySecret::generate()?.successors("fam", &presented);
        for other in [other_token, other_secret] {
            assert_ne!(other.0, access);
            assert_ne!(other.1, refresh);
        }
        assert!(!format!("{secret:?}").contains(secret.as_str()));
        Ok(())
    }

    #[test]
    fn a_refresh_token_is_recognised_generations_later_and_a_forgery_never()
    -> Result<(), RandomnessUnavailable> {
        let secret = FamilySecret::generate()?;
        let first = new_token_in("fam")?;
        let second = secret.successors("fam", &first).1;
        let third = secret.successors("fam", &second).1;
        let current = TokenHash::of(&third);
        let known = |hash: &TokenHash| *hash == current;
        assert_eq!(secret.generations_back("fam", &second, 8, known), Some(1));
        assert_eq!(secret.generations_back("fam", &first, 8, known), Some(2));
        assert_eq!(secret.generations_back("fam", &first, 1, known), None);
        let forged = new_token_in("fam")?;
        assert_eq!(secret.generations_back("fam", &forged, 8, known), None);
        Ok(())
    }

    #[test]
    fn tokens_name_their_family_and_old_ones_none() -> Result<(), RandomnessUnavailable> {
        let token = new_token_in("Fam1ly")?;
        assert_eq!(token.expose().len(), 6 + 1 + TOKEN_LENGTH);
        assert_eq!(TokenKey::of(&token).family_id(), Some("Fam1ly"));
        let old = new_token()?;
        assert_eq!(TokenKey::of(&old).family_id(), None);
        for value in [".abc", "a-b.c", "x", ""] {
            assert_eq!(family_named_by(value), None, "{value:?}");
        }
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
