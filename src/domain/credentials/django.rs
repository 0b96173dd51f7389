//! Password hashes made by Django (`django.contrib.auth.hashers`), as a django-oauth-toolkit
//! deployment stores its users' passwords and, from version 2.0, its clients' secrets.
//!
//! Only Django's default hasher, PBKDF2-HMAC-SHA256, is verified: `oauth-admin import` keeps such
//! hashes as they are, and the first successful use replaces each with Argon2id (see
//! [`super::Verification::MatchedOutdated`]). Secrets hashed by Django's other hashers
//! (argon2, bcrypt, scrypt, pbkdf2_sha1, …) are not imported and must be reset.

use std::num::NonZeroU32;

use argon2::Argon2;
use aws_lc_rs::pbkdf2::{self, PBKDF2_HMAC_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::argon2::replacement_for;
use super::error::{CredentialError, DERIVED_KEY_BYTES, Verification};
pub use super::error::{DjangoHashError, MAX_ITERATIONS};
use crate::domain::secret::Secret;

/// The algorithm name Django's `PBKDF2PasswordHasher` writes first.
pub const PBKDF2_SHA256: &str = "pbkdf2_sha256";

/// The `algorithm` names of the hashers Django ships or shipped, which its `identify_hasher`
/// reads from the text before the first `$`.
const DJANGO_HASHERS: [&str; 9] = [
    PBKDF2_SHA256,
    "pbkdf2_sha1",
    "argon2",
    "bcrypt_sha256",
    "bcrypt",
    "scrypt",
    "md5",
    "sha1",
    "crypt",
];

/// The Django hasher that made `encoded`, read from its prefix as Django's `identify_hasher`
/// does; `None` if it is not a Django hash (a plaintext client secret, for one).
pub fn django_hasher(encoded: &str) -> Option<&'static str> {
    let (algorithm, _) = encoded.split_once('$')?;
    DJANGO_HASHERS
        .into_iter()
        .find(|&hasher| hasher == algorithm)
}

/// Whether `stored` is meant as a Django PBKDF2-SHA256 hash (well-formed or not).
pub fn is_pbkdf2_sha256(stored: &str) -> bool {
    django_hasher(stored) == Some(PBKDF2_SHA256)
}

/// A parsed `pbkdf2_sha256$<iterations>$<salt>$<standard base64 of the derived key>`.
pub struct DjangoPbkdf2Sha256<'a> {
    iterations: NonZeroU32,
    salt: &'a str,
    derived_key: [u8; DERIVED_KEY_BYTES],
}

impl<'a> DjangoPbkdf2Sha256<'a> {
    /// Parses a hash as Django writes it. Django verifies by encoding the presented password
    /// again and comparing the whole string, so any other spelling of the same numbers (a
    /// leading zero, base64 with other padding or trailing bits) never matches there; it is
    /// refused here, which makes comparing the derived keys equivalent to Django's comparison.
    pub fn parse(encoded: &'a str) -> Result<Self, DjangoHashError> {
        // Django splits at the first three `$`; a `$` in the last part fails base64 below.
        let mut parts = encoded.splitn(4, '$');
        let (Some(PBKDF2_SHA256), Some(iterations), Some(salt), Some(derived_key)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(DjangoHashError::NotPbkdf2Sha256);
        };
        let canonical = !iterations.is_empty()
            && iterations.bytes().all(|b| b.is_ascii_digit())
            && !iterations.starts_with('0');
        let iterations = iterations
            .parse::<NonZeroU32>()
            .ok()
            .filter(|&count| canonical && count.get() <= MAX_ITERATIONS)
            .ok_or(DjangoHashError::Iterations)?;
        if salt.is_empty() {
            return Err(DjangoHashError::EmptySalt);
        }
        // The standard engine insists on canonical padding and zero trailing bits.
        let derived_key = STANDARD
            .decode(derived_key)
            .ok()
            .and_then(|bytes| <[u8; DERIVED_KEY_BYTES]>::try_from(bytes).ok())
            .ok_or(DjangoHashError::DerivedKey)?;
        Ok(Self {
            iterations,
            salt,
            derived_key,
        })
    }

    pub fn iterations(&self) -> u32 {
        self.iterations.get()
    }

    /// PBKDF2-HMAC-SHA256 of the password's UTF-8 bytes with the salt's, as Django computes it,
    /// compared in constant time. At Django's 1,000,000 iterations that is about 0.1 s of CPU
    /// (aws-lc's SHA-256 assembly; 0.3 s in unoptimised builds, where its C is unoptimised too).
    pub fn verify(&self, password: &str) -> bool {
        pbkdf2::verify(
            PBKDF2_HMAC_SHA256,
            self.iterations,
            self.salt.as_bytes(),
            password.as_bytes(),
            &self.derived_key,
        )
        .is_ok()
    }
}

/// Verifies `presented` against a Django PBKDF2-SHA256 hash as Django does and, if it matches,
/// hashes it with Argon2id to replace the old hash.
pub(super) fn verify_django(
    argon2: &Argon2<'_>,
    stored_hash: &str,
    presented: &Secret,
) -> Result<Verification, CredentialError> {
    if !DjangoPbkdf2Sha256::parse(stored_hash)?.verify(presented.expose()) {
        return Ok(Verification::Mismatch);
    }
    Ok(replacement_for(argon2, presented))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::fixtures::{DJANGO_HASH, DJANGO_PASSWORD, user, verifier};
    use super::*;
    use crate::domain::User;

    /// `PBKDF2PasswordHasher().encode("", "x", 1)`.
    const DJANGO_EMPTY: &str = "pbkdf2_sha256$1$x$yb9iKunqNijXRQKUvO6LoyiwVgfOzKs1+3gaWy8rzxc=";

    fn parse(encoded: &str) -> DjangoPbkdf2Sha256<'_> {
        DjangoPbkdf2Sha256::parse(encoded).unwrap_or_else(|error| panic!("{encoded}: {error}"))
    }

    #[test]
    fn verifies_what_django_made() {
        let hash = parse(DJANGO_HASH);
        assert_eq!(hash.iterations(), 1000);
        assert!(hash.verify("correct horse ünïcode ✓"));
        assert!(!hash.verify("correct horse unicode ✓"));
        assert!(!hash.verify("correct horse ünïcode ✓ "));
        assert!(!hash.verify(""));
        assert!(parse(DJANGO_EMPTY).verify(""));
        assert!(!parse(DJANGO_EMPTY).verify(" "));
    }

    #[test]
    fn identifies_django_hashers_by_prefix() {
        assert_eq!(django_hasher(DJANGO_HASH), Some(PBKDF2_SHA256));
        assert_eq!(
            django_hasher("pbkdf2_sha1$1000$salt$upWEiptc4R8bQ9fRZ9hBPape0is="),
            Some("pbkdf2_sha1")
        );
        assert_eq!(
            django_hasher("argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA"),
            Some("argon2")
        );
        // Plaintext secrets, and Argon2 PHC strings as this service writes them.
        assert_eq!(django_hasher("jP3kX9dLqWz0vB7nM2cR5tY8uA1sE4gH"), None);
        assert_eq!(
            django_hasher("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
            None
        );
        assert_eq!(django_hasher("PBKDF2_SHA256$1$x$y"), None);
        assert!(is_pbkdf2_sha256("pbkdf2_sha256$garbage"));
        assert!(!is_pbkdf2_sha256("pbkdf2_sha256"));
    }

    #[test]
    fn refuses_malformed_and_absurd_hashes_without_panicking() {
        let key = "5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=";
        let cases = [
            ("pbkdf2_sha256".to_owned(), DjangoHashError::NotPbkdf2Sha256),
            (
                "pbkdf2_sha256$1000$salt".to_owned(),
                DjangoHashError::NotPbkdf2Sha256,
            ),
            (
                format!("pbkdf2_sha1$1000$salt${key}"),
                DjangoHashError::NotPbkdf2Sha256,
            ),
            (
                format!("pbkdf2_sha256$0$salt${key}"),
                DjangoHashError::Iterations,
            ),
            (
                format!("pbkdf2_sha256$01000$salt${key}"),
                DjangoHashError::Iterations,
            ),
            (
                format!("pbkdf2_sha256$+1000$salt${key}"),
                DjangoHashError::Iterations,
            ),
            (
                format!("pbkdf2_sha256$ 1000$salt${key}"),
                DjangoHashError::Iterations,
            ),
            (
                format!("pbkdf2_sha256$$salt${key}"),
                DjangoHashError::Iterations,
            ),
            (
                format!("pbkdf2_sha256$10000001$salt${key}"),
                DjangoHashError::Iterations,
            ),
            (
                format!("pbkdf2_sha256$4294967296$salt${key}"),
                DjangoHashError::Iterations,
            ),
            (
                format!("pbkdf2_sha256$99999999999999999999999$salt${key}"),
                DjangoHashError::Iterations,
            ),
            (
                format!("pbkdf2_sha256$1000$${key}"),
                DjangoHashError::EmptySalt,
            ),
            (
                "pbkdf2_sha256$1000$salt$".to_owned(),
                DjangoHashError::DerivedKey,
            ),
            (
                "pbkdf2_sha256$1000$salt$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4".to_owned(),
                DjangoHashError::DerivedKey,
            ),
            (
                "pbkdf2_sha256$1000$salt$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB5=".to_owned(),
                DjangoHashError::DerivedKey,
            ),
            (
                "pbkdf2_sha256$1000$salt$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=$".to_owned(),
                DjangoHashError::DerivedKey,
            ),
            (
                "pbkdf2_sha256$1000$salt$upWEiptc4R8bQ9fRZ9hBPape0is=".to_owned(),
                DjangoHashError::DerivedKey,
            ),
            (
                "pbkdf2_sha256$1000$salt$5VwgYKVg_0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=".to_owned(),
                DjangoHashError::DerivedKey,
            ),
        ];
        for (encoded, expected) in cases {
            assert_eq!(
                DjangoPbkdf2Sha256::parse(&encoded).err(),
                Some(expected),
                "{encoded}"
            );
        }
        assert_eq!(
            parse(&format!("pbkdf2_sha256$10000000$salt${key}")).iterations(),
            MAX_ITERATIONS
        );
    }

    #[test]
    fn error_messages_never_quote_the_hash() {
        let encoded = "pbkdf2_sha256$1000$pepper$notbase64";
        let message = DjangoPbkdf2Sha256::parse(encoded)
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(!message.is_empty());
        assert!(!message.contains("pepper") && !message.contains("notbase64"));
    }

    #[tokio::test]
    async fn a_django_hash_verifies_and_comes_with_its_argon2id_replacement()
    -> Result<(), CredentialError> {
        let verifier = verifier();
        let user = user(DJANGO_HASH);
        let Verification::MatchedOutdated { replacement } = verifier
            .verify_password(Some(&user), &DJANGO_PASSWORD.into())
            .await?
        else {
            panic!("a Django hash that matches asks to be replaced");
        };
        assert!(
            replacement.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{replacement}"
        );
        let upgraded = User {
            password_hash: replacement,
            ..user.clone()
        };
        assert_eq!(
            verifier
                .verify_password(Some(&upgraded), &DJANGO_PASSWORD.into())
                .await?,
            Verification::Match
        );
        for wrong in ["", "correct horse unicode ✓", "CORRECT HORSE ÜNÏCODE ✓"] {
            assert_eq!(
                verifier.verify_password(Some(&user), &wrong.into()).await?,
                Verification::Mismatch,
                "{wrong:?}"
            );
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_malformed_django_hash_is_an_error_and_costs_nothing() {
        let verifier = verifier();
        for stored in [
            "pbkdf2_sha256$4294967295$salt$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=",
            "pbkdf2_sha256$1000$salt$short",
            "pbkdf2_sha256$",
        ] {
            let started = Instant::now();
            let outcome = verifier
                .verify_password(Some(&user(stored)), &DJANGO_PASSWORD.into())
                .await;
            assert!(
                matches!(outcome, Err(CredentialError::MalformedDjangoHash(_))),
                "{stored}: {outcome:?}"
            );
            assert!(started.elapsed() < Duration::from_secs(1), "{stored}");
        }
    }
}
