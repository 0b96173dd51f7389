//! Checking and hashing the secrets people and clients present: Argon2id, off the async executor.
//! Hashes imported from Django are checked too, and replaced with Argon2id once they verify.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::django_hash::{self, DjangoHashError, DjangoPbkdf2Sha256};
use super::model::{Client, User};
use super::secret::Secret;

/// Argon2id cost parameters for newly hashed secrets (verification reads them from each hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    /// OWASP's recommendation, which is also the argon2 crate's default: m=19 MiB, t=2, p=1.
    fn default() -> Self {
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("invalid Argon2 parameters: {0}")]
    InvalidParameters(argon2::Error),
    #[error("a stored hash is not a valid PHC string: {0}")]
    MalformedStoredHash(argon2::password_hash::Error),
    /// Refused before any work is done, so a corrupt hash costs nothing.
    #[error("a stored Django hash is malformed: {0}")]
    MalformedDjangoHash(#[from] DjangoHashError),
    #[error("hashing failed: {0}")]
    Hashing(argon2::password_hash::Error),
    #[error("the operating system's random number generator failed: {0}")]
    Randomness(getrandom::Error),
    #[error("the hashing task did not finish: {0}")]
    TaskFailed(#[from] tokio::task::JoinError),
}

/// What checking a presented secret against a stored hash found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    Match,
    /// It matched a hash imported from Django. Holds an Argon2id hash of the same secret, made
    /// with the current settings, to store in the old one's place.
    MatchedLegacy {
        replacement: String,
    },
}

impl Verification {
    pub fn matched(&self) -> bool {
        !matches!(self, Verification::Mismatch)
    }

    fn from_match(matched: bool) -> Self {
        if matched {
            Verification::Match
        } else {
            Verification::Mismatch
        }
    }
}

/// Hashes new secrets and verifies presented ones.
///
/// Cheap to clone; clones share the client-secret cache.
#[derive(Clone)]
pub struct CredentialVerifier {
    argon2: Argon2<'static>,
    /// A well-formed hash no input matches, verified for unknown users so that an unknown
    /// username costs the same Argon2 time as a wrong password.
    dummy_hash: Arc<str>,
    client_secrets: Arc<ClientSecretCache>,
    /// How long recent verifications took here.
    recent_verifications: Arc<RecentDurations>,
}

impl CredentialVerifier {
    pub fn new(settings: Argon2Settings) -> Result<Self, CredentialError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(CredentialError::InvalidParameters)?;
        let mut random = [0u8; 48];
        getrandom::fill(&mut random).map_err(CredentialError::Randomness)?;
        let (salt, output) = random.split_at(16);
        let dummy_hash = format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            STANDARD_NO_PAD.encode(salt),
            STANDARD_NO_PAD.encode(output),
        );
        Ok(Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            dummy_hash: dummy_hash.into(),
            client_secrets: Arc::default(),
            recent_verifications: Arc::default(),
        })
    }

    /// Hashes a secret into an Argon2id PHC string with a fresh random salt.
    pub fn hash(&self, secret: &Secret) -> Result<String, CredentialError> {
        hash_argon2(&self.argon2, secret)
    }

    /// Checks a user's password. `None` (no such user) is verified against the dummy hash and
    /// always fails, at the same cost.
    pub async fn verify_password(
        &self,
        user: Option<&User>,
        password: &Secret,
    ) -> Result<Verification, CredentialError> {
        match user {
            Some(user) => {
                self.verify_off_executor(&user.password_hash, password)
                    .await
            }
            None => {
                self.verify_off_executor(&self.dummy_hash, password).await?;
                Ok(Verification::Mismatch)
            }
        }
    }

    /// Checks a client secret, accepting any of `candidates` (the Basic header can be read in
    /// two ways, see `http::client_auth`).
    ///
    /// Client secrets are long random strings, so a successful Argon2 verification is
    /// remembered in-process: keyed by client and by the exact stored hash, holding the SHA-256
    /// of the accepted secret. Rotating the secret, or replacing an imported Django hash with
    /// Argon2id, changes the stored hash and so misses the cache; failures are never cached.
    pub async fn verify_client_secret(
        &self,
        client: &Client,
        candidates: &[Secret],
    ) -> Result<Verification, CredentialError> {
        for candidate in candidates {
            if self.client_secrets.accepts(client, candidate) {
                return Ok(Verification::Match);
            }
        }
        for candidate in candidates {
            let verification = self
                .verify_off_executor(&client.secret_hash, candidate)
                .await?;
            if verification.matched() {
                self.client_secrets.remember(client, candidate);
                return Ok(verification);
            }
        }
        Ok(Verification::Mismatch)
    }

    /// Takes as long as a password verification without doing one: for requests that are
    /// refused before the password is checked (a locked username), so that neither CPU is
    /// burnt nor the refusal shows in the timing. Before any verification was timed, it runs a
    /// real one against the dummy hash.
    pub async fn imitate_verification(&self) -> Result<(), CredentialError> {
        match self.recent_verifications.median() {
            None => self
                .verify_off_executor(&self.dummy_hash, &Secret::new(""))
                .await
                .map(drop),
            // The same path as a verification, a blocking-pool hop, with a precise wait in
            // place of the work: Tokio's timer rounds up to whole milliseconds, which shows.
            Some(typical) => {
                Ok(tokio::task::spawn_blocking(move || wait_precisely(typical)).await?)
            }
        }
    }

    /// Argon2 takes milliseconds of CPU, Django's PBKDF2 a tenth of a second; running them on a
    /// blocking thread keeps the async workers free for other requests.
    async fn verify_off_executor(
        &self,
        stored_hash: &str,
        presented: &Secret,
    ) -> Result<Verification, CredentialError> {
        let stored_hash = stored_hash.to_owned();
        let presented = presented.clone();
        if django_hash::is_pbkdf2_sha256(&stored_hash) {
            let argon2 = self.argon2.clone();
            // Not timed: imitations stand in for the Argon2 verifications every user has once
            // their imported hash is replaced.
            return tokio::task::spawn_blocking(move || {
                verify_django(&argon2, &stored_hash, &presented)
            })
            .await?;
        }
        let started = Instant::now();
        let verified =
            tokio::task::spawn_blocking(move || verify_phc(&stored_hash, &presented)).await?;
        self.observe_verification(started.elapsed());
        verified.map(Verification::from_match)
    }

    fn observe_verification(&self, elapsed: Duration) {
        self.recent_verifications.record(elapsed);
    }
}

/// How much of an imitation's wait is spent spinning rather than asleep.
const SPIN_TAIL: Duration = Duration::from_millis(2);

/// Waits `duration` on this thread: asleep for most of it, then spinning for the last
/// [`SPIN_TAIL`]. A thread woken from sleep can start a millisecond late (an idle virtual CPU
/// takes that long to wake), while a verification keeps its CPU busy to the end; spinning
/// the tail keeps the two alike at a small fraction of a verification's CPU.
fn wait_precisely(duration: Duration) {
    let deadline = Instant::now() + duration;
    std::thread::sleep(duration.saturating_sub(SPIN_TAIL));
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

thread_local! {
    /// Argon2's working memory (19 MiB at the default cost), kept per blocking thread. The
    /// crate's `verify_password` allocates it afresh on every call, and the page faults of
    /// touching 19 MiB of new memory cost a quarter of the verification again.
    static ARGON2_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn hash_argon2(argon2: &Argon2<'_>, secret: &Secret) -> Result<String, CredentialError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(CredentialError::Randomness)?;
    let salt = SaltString::encode_b64(&salt).map_err(CredentialError::Hashing)?;
    argon2
        .hash_password(secret.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(CredentialError::Hashing)
}

/// Verifies `presented` against a Django PBKDF2-SHA256 hash as Django does and, if it matches,
/// hashes it with Argon2id to replace the old hash: the only moment the secret is at hand.
fn verify_django(
    argon2: &Argon2<'_>,
    stored_hash: &str,
    presented: &Secret,
) -> Result<Verification, CredentialError> {
    if !DjangoPbkdf2Sha256::parse(stored_hash)?.verify(presented.expose()) {
        return Ok(Verification::Mismatch);
    }
    Ok(match hash_argon2(argon2, presented) {
        Ok(replacement) => Verification::MatchedLegacy { replacement },
        // The secret is right either way; the Django hash stays and is replaced another time.
        Err(error) => {
            tracing::error!(error = %error, "could not hash the Argon2id replacement of an imported Django hash");
            Verification::Match
        }
    })
}

/// Verifies `presented` against a PHC string, with the parameters the string records, so
/// secrets hashed under older settings still verify. The comparison is constant-time.
fn verify_phc(stored_hash: &str, presented: &Secret) -> Result<bool, CredentialError> {
    let malformed = |error: argon2::Error| CredentialError::MalformedStoredHash(error.into());
    let parsed = PasswordHash::new(stored_hash).map_err(CredentialError::MalformedStoredHash)?;
    let algorithm =
        Algorithm::try_from(parsed.algorithm).map_err(CredentialError::MalformedStoredHash)?;
    let version = match parsed.version {
        Some(version) => Version::try_from(version).map_err(malformed)?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(CredentialError::MalformedStoredHash)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(CredentialError::MalformedStoredHash(
            argon2::password_hash::Error::PhcStringField,
        ));
    };
    let mut salt_bytes = [0u8; 64];
    let salt = salt
        .decode_b64(&mut salt_bytes)
        .map_err(CredentialError::MalformedStoredHash)?;
    let mut computed = vec![0u8; expected.len()];
    let block_count = params.block_count();
    ARGON2_MEMORY
        .with(|memory| {
            let mut memory = memory.borrow_mut();
            if memory.len() < block_count {
                memory.resize(block_count, Block::default());
            }
            Argon2::new(algorithm, version, params).hash_password_into_with_memory(
                presented.expose().as_bytes(),
                salt,
                &mut computed,
                &mut memory[..block_count],
            )
        })
        .map_err(malformed)?;
    Ok(bool::from(computed.as_slice().ct_eq(expected.as_bytes())))
}

/// The last few verification times. Their median is what a verification typically takes on
/// this instance: unlike a mean, it is not thrown off by a cold start's slow first verification
/// or a stall, and it is the statistic an attacker timing responses would compare.
#[derive(Default)]
struct RecentDurations {
    samples: Mutex<VecDeque<Duration>>,
}

const RECENT_DURATIONS: usize = 31;

impl RecentDurations {
    fn record(&self, elapsed: Duration) {
        if let Ok(mut samples) = self.samples.lock() {
            if samples.len() == RECENT_DURATIONS {
                samples.pop_front();
            }
            samples.push_back(elapsed);
        }
    }

    fn median(&self) -> Option<Duration> {
        let mut sorted: Vec<Duration> = self.samples.lock().ok()?.iter().copied().collect();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied()
    }
}

/// Successful client-secret verifications, remembered so a warm instance pays Argon2 once per
/// client secret instead of once per request.
#[derive(Default)]
struct ClientSecretCache {
    entries: Mutex<HashMap<String, CachedVerification>>,
}

struct CachedVerification {
    secret_hash: String,
    accepted_digest: [u8; 32],
}

/// More clients than this in one instance is unusual; clearing keeps memory bounded.
const CLIENT_CACHE_CAPACITY: usize = 4096;

impl ClientSecretCache {
    fn accepts(&self, client: &Client, presented: &Secret) -> bool {
        let digest = sha256(presented);
        let Ok(entries) = self.entries.lock() else {
            return false;
        };
        entries.get(&client.client_id).is_some_and(|entry| {
            entry.secret_hash == client.secret_hash
                && bool::from(entry.accepted_digest.ct_eq(&digest))
        })
    }

    fn remember(&self, client: &Client, accepted: &Secret) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CLIENT_CACHE_CAPACITY && !entries.contains_key(&client.client_id) {
            entries.clear();
        }
        entries.insert(
            client.client_id.clone(),
            CachedVerification {
                secret_hash: client.secret_hash.clone(),
                accepted_digest: sha256(accepted),
            },
        );
    }
}

fn sha256(secret: &Secret) -> [u8; 32] {
    Sha256::digest(secret.expose().as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{GrantType, Scope};

    /// Cheap parameters: these tests check logic, not cost.
    fn verifier() -> CredentialVerifier {
        CredentialVerifier::new(Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap_or_else(|error| panic!("{error}"))
    }

    fn client(verifier: &CredentialVerifier, secret: &str) -> Client {
        Client {
            client_id: "app".into(),
            name: "App".into(),
            secret_hash: verifier
                .hash(&Secret::new(secret))
                .unwrap_or_else(|error| panic!("{error}")),
            scope: Scope::default(),
            grant_types: vec![GrantType::Password],
        }
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_that_verify() -> Result<(), CredentialError> {
        let verifier = verifier();
        let hash = verifier.hash(&Secret::new("pw"))?;
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        let user = User {
            username: "u".into(),
            password_hash: hash,
        };
        assert!(
            verifier
                .verify_password(Some(&user), &"pw".into())
                .await?
                .matched()
        );
        assert!(
            !verifier
                .verify_password(Some(&user), &"PW".into())
                .await?
                .matched()
        );
        Ok(())
    }

    #[tokio::test]
    async fn hashes_made_under_other_settings_still_verify() -> Result<(), CredentialError> {
        let old = verifier().hash(&Secret::new("pw"))?;
        let user = User {
            username: "u".into(),
            password_hash: old,
        };
        let current = CredentialVerifier::new(Argon2Settings::default())?;
        assert!(
            current
                .verify_password(Some(&user), &"pw".into())
                .await?
                .matched()
        );
        assert!(
            !current
                .verify_password(Some(&user), &"pw ".into())
                .await?
                .matched()
        );
        Ok(())
    }

    #[tokio::test]
    async fn unknown_users_never_verify() -> Result<(), CredentialError> {
        let verifier = verifier();
        assert!(!verifier.verify_password(None, &"".into()).await?.matched());
        assert!(
            !verifier
                .verify_password(None, &"anything".into())
                .await?
                .matched()
        );
        Ok(())
    }

    #[tokio::test]
    async fn imitation_takes_about_as_long_as_a_verification() -> Result<(), CredentialError> {
        let verifier = CredentialVerifier::new(Argon2Settings::default())?;
        // First call: nothing timed yet, so it verifies against the dummy hash, and learns.
        verifier.imitate_verification().await?;
        let typical = verifier
            .recent_verifications
            .median()
            .unwrap_or_default()
            .as_micros();
        assert!(
            typical > 1_000,
            "a default-cost verification takes milliseconds: {typical} µs"
        );
        let started = Instant::now();
        verifier.imitate_verification().await?;
        let slept = started.elapsed().as_micros();
        assert!(slept >= typical, "slept {slept} µs, typical {typical} µs");
        Ok(())
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_an_error_not_a_match() {
        let user = User {
            username: "u".into(),
            password_hash: "plaintext".into(),
        };
        let outcome = verifier()
            .verify_password(Some(&user), &"plaintext".into())
            .await;
        assert!(matches!(
            outcome,
            Err(CredentialError::MalformedStoredHash(_))
        ));
    }

    #[tokio::test]
    async fn client_cache_is_bound_to_the_stored_hash() -> Result<(), CredentialError> {
        let verifier = verifier();
        let original = client(&verifier, "s3cret");
        assert!(
            verifier
                .verify_client_secret(&original, &["s3cret".into()])
                .await?
                .matched()
        );
        assert!(verifier.client_secrets.accepts(&original, &"s3cret".into()));
        assert!(!verifier.client_secrets.accepts(&original, &"other".into()));

        // After a rotation the stored hash differs: the cached acceptance must not apply.
        let rotated = client(&verifier, "new-secret");
        assert!(!verifier.client_secrets.accepts(&rotated, &"s3cret".into()));
        assert!(
            !verifier
                .verify_client_secret(&rotated, &["s3cret".into()])
                .await?
                .matched()
        );
        assert!(
            verifier
                .verify_client_secret(&rotated, &["wrong".into(), "new-secret".into()])
                .await?
                .matched()
        );
        Ok(())
    }

    /// Made by Django 5.2: `PBKDF2PasswordHasher().encode("correct horse ünïcode ✓",
    /// "seasalt2024", 1000)`.
    const DJANGO_HASH: &str =
        "pbkdf2_sha256$1000$seasalt2024$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=";
    const DJANGO_PASSWORD: &str = "correct horse ünïcode ✓";

    fn legacy_client(secret_hash: &str) -> Client {
        Client {
            client_id: "app".into(),
            name: "App".into(),
            secret_hash: secret_hash.into(),
            scope: Scope::default(),
            grant_types: vec![GrantType::Password],
        }
    }

    #[tokio::test]
    async fn a_django_hash_verifies_and_comes_with_its_argon2id_replacement()
    -> Result<(), CredentialError> {
        let verifier = verifier();
        let user = User {
            username: "u".into(),
            password_hash: DJANGO_HASH.into(),
        };
        let Verification::MatchedLegacy { replacement } = verifier
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
            let user = User {
                username: "u".into(),
                password_hash: stored.into(),
            };
            let started = Instant::now();
            let outcome = verifier
                .verify_password(Some(&user), &DJANGO_PASSWORD.into())
                .await;
            assert!(
                matches!(outcome, Err(CredentialError::MalformedDjangoHash(_))),
                "{stored}: {outcome:?}"
            );
            assert!(started.elapsed() < Duration::from_secs(1), "{stored}");
        }
    }

    #[tokio::test]
    async fn django_verifications_are_not_what_imitations_imitate() -> Result<(), CredentialError> {
        let verifier = verifier();
        let user = User {
            username: "u".into(),
            password_hash: DJANGO_HASH.into(),
        };
        verifier
            .verify_password(Some(&user), &DJANGO_PASSWORD.into())
            .await?;
        assert_eq!(verifier.recent_verifications.median(), None);
        Ok(())
    }

    #[tokio::test]
    async fn client_cache_stays_sound_across_the_upgrade() -> Result<(), CredentialError> {
        let verifier = verifier();
        let legacy = legacy_client(DJANGO_HASH);
        let Verification::MatchedLegacy { replacement } = verifier
            .verify_client_secret(&legacy, &["wrong".into(), DJANGO_PASSWORD.into()])
            .await?
        else {
            panic!("a Django hash that matches asks to be replaced");
        };
        // Remembered against the Django hash: while that is stored, no PBKDF2 again.
        assert!(
            verifier
                .client_secrets
                .accepts(&legacy, &DJANGO_PASSWORD.into())
        );
        assert_eq!(
            verifier
                .verify_client_secret(&legacy, &[DJANGO_PASSWORD.into()])
                .await?,
            Verification::Match
        );
        // Once the replacement is stored, the remembered acceptance no longer applies: the
        // secret is verified against the new hash, and a wrong one is refused.
        let upgraded = legacy_client(&replacement);
        assert!(
            !verifier
                .client_secrets
                .accepts(&upgraded, &DJANGO_PASSWORD.into())
        );
        assert_eq!(
            verifier
                .verify_client_secret(&upgraded, &["wrong".into()])
                .await?,
            Verification::Mismatch
        );
        assert_eq!(
            verifier
                .verify_client_secret(&upgraded, &[DJANGO_PASSWORD.into()])
                .await?,
            Verification::Match
        );
        // And a client whose hash was rotated back to another value misses it too.
        let rotated = client(&verifier, "new-secret");
        assert_eq!(
            verifier
                .verify_client_secret(&rotated, &[DJANGO_PASSWORD.into()])
                .await?,
            Verification::Mismatch
        );
        Ok(())
    }
}
