//! The verifier: hashes new secrets and checks presented ones, off the async executor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ::argon2::Argon2;

use super::argon2::{
    Argon2Settings, PhcVerification, current_argon2, hash_argon2, replacement_for, verify_phc,
};
use super::cache::ClientSecretCache;
use super::django::{self, verify_django};
use super::error::{CredentialError, Verification};
use super::timing::{RecentDurations, dummy_hash, wait_precisely};
use crate::domain::model::{Client, User};
use crate::domain::secret::Secret;

/// Hashes new secrets and verifies presented ones.
///
/// Cheap to clone; clones share the client-secret cache.
#[derive(Clone)]
pub struct CredentialVerifier {
    pub(super) argon2: Argon2<'static>,
    /// A well-formed hash no input matches, verified for unknown users so that an unknown
    /// username costs the same Argon2 time as a wrong password.
    pub(super) dummy_hash: Arc<str>,
    pub(super) client_secrets: Arc<ClientSecretCache>,
    /// How long recent verifications took here.
    pub(super) recent_verifications: Arc<RecentDurations>,
}

impl CredentialVerifier {
    pub fn new(settings: Argon2Settings) -> Result<Self, CredentialError> {
        let argon2 = current_argon2(settings)?;
        Ok(Self {
            dummy_hash: dummy_hash(argon2.params())?.into(),
            argon2,
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
    /// of the accepted secret. Rotating the secret, or replacing an outdated hash, changes the
    /// stored hash and so misses the cache; failures are never cached.
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

    /// Argon2 takes milliseconds of CPU, Django's PBKDF2 a tenth of a second; running them on a
    /// blocking thread keeps the async workers free for other requests.
    async fn verify_off_executor(
        &self,
        stored_hash: &str,
        presented: &Secret,
    ) -> Result<Verification, CredentialError> {
        let stored_hash = stored_hash.to_owned();
        let presented = presented.clone();
        if django::is_pbkdf2_sha256(&stored_hash) {
            let argon2 = self.argon2.clone();
            // Not timed: imitations stand in for the Argon2 verifications every user has once
            // their imported hash is replaced.
            return tokio::task::spawn_blocking(move || {
                verify_django(&argon2, &stored_hash, &presented)
            })
            .await?;
        }
        let current = self.argon2.params().clone();
        let typical = self.recent_verifications.median();
        let dummy_hash = Arc::clone(&self.dummy_hash);
        let started = Instant::now();
        let (verified, calibration, presented) = tokio::task::spawn_blocking(move || {
            let verified = verify_phc(&stored_hash, &presented, &current);
            let mut calibration = None;
            if let Ok(PhcVerification { outdated: true, .. }) = &verified {
                // A hash under cheaper parameters than the current ones (the dummy hash's)
                // would otherwise answer faster, telling a real user who has not logged in
                // since the change from an unknown username. Dearer ones cannot be hurried.
                match typical {
                    Some(typical) => wait_precisely(typical.saturating_sub(started.elapsed())),
                    // Nothing timed yet on this instance: a verification of the dummy hash
                    // takes at least as long as one under the current parameters, and times
                    // one for the next (instead of paying for it at start-up).
                    None => {
                        let began = Instant::now();
                        let _ = verify_phc(&dummy_hash, &Secret::new(""), &current);
                        calibration = Some(began.elapsed());
                    }
                }
            }
            (verified, calibration, presented)
        })
        .await?;
        let verified = verified?;
        if !verified.outdated {
            // Only verifications under the current parameters are what imitations and the
            // padding above copy.
            self.observe_verification(started.elapsed());
        }
        if let Some(elapsed) = calibration {
            self.observe_verification(elapsed);
        }
        Ok(match verified {
            PhcVerification { matched: false, .. } => Verification::Mismatch,
            PhcVerification {
                outdated: false, ..
            } => Verification::Match,
            // Hashed after the timing, so that imitations copy the verification alone. Before
            // the answer, not after it: only the holder of the right password waits for it,
            // and work left for after a Lambda's answer may be frozen with the instance.
            PhcVerification { outdated: true, .. } => {
                let argon2 = self.argon2.clone();
                tokio::task::spawn_blocking(move || replacement_for(&argon2, &presented)).await?
            }
        })
    }

    fn observe_verification(&self, elapsed: Duration) {
        self.recent_verifications.record(elapsed);
    }
}

impl CredentialVerifier {
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
}
