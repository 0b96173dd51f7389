//! Refusals that take as long as a verification: the dummy hash unknown users are checked
//! against, and the imitation answered to callers refused before any check (a locked username),
//! timed after the verifications this instance made recently.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Params;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

use super::error::CredentialError;
use crate::domain::crypto::fill_random;

/// A well-formed Argon2id hash under `params` that no input matches: its output is random, not
/// derived from any secret.
pub(super) fn dummy_hash(params: &Params) -> Result<String, CredentialError> {
    let mut random = [0u8; 48];
    fill_random(&mut random)?;
    let (salt, output) = random.split_at(16);
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(output),
    ))
}

/// How much of an imitation's wait is spent spinning rather than asleep.
const SPIN_TAIL: Duration = Duration::from_millis(2);

/// Waits `duration` on this thread: asleep for most of it, then spinning for the last
/// [`SPIN_TAIL`]. A thread woken from sleep can start a millisecond late (an idle virtual CPU
/// takes that long to wake), while a verification keeps its CPU busy to the end; spinning
/// the tail keeps the two alike at a small fraction of a verification's CPU.
pub(super) fn wait_precisely(duration: Duration) {
    let deadline = Instant::now() + duration;
    std::thread::sleep(duration.saturating_sub(SPIN_TAIL));
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

/// The last few verification times. Their median is what a verification typically takes on
/// this instance: unlike a mean, it is not thrown off by a cold start's slow first verification
/// or a stall, and it is the statistic an attacker timing responses would compare.
#[derive(Default)]
pub(super) struct RecentDurations {
    samples: Mutex<VecDeque<Duration>>,
}

const RECENT_DURATIONS: usize = 31;

impl RecentDurations {
    pub(super) fn record(&self, elapsed: Duration) {
        if let Ok(mut samples) = self.samples.lock() {
            if samples.len() == RECENT_DURATIONS {
                samples.pop_front();
            }
            samples.push_back(elapsed);
        }
    }

    pub(super) fn median(&self) -> Option<Duration> {
        let mut sorted: Vec<Duration> = self.samples.lock().ok()?.iter().copied().collect();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{DJANGO_HASH, DJANGO_PASSWORD, user, verifier};
    use super::super::{Argon2Settings, CredentialVerifier};
    use super::*;

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
    async fn a_cheaper_outdated_hash_takes_as_long_as_a_current_one() -> Result<(), CredentialError>
    {
        let current = CredentialVerifier::new(Argon2Settings::default())?;
        for _ in 0..3 {
            current.verify_password(None, &"guess".into()).await?;
        }
        let typical = current.recent_verifications.median().unwrap_or_default();
        let outdated = user(&verifier().hash(&"pw".into())?);
        let started = Instant::now();
        verifier()
            .verify_password(Some(&outdated), &"guess".into())
            .await?;
        let own_cost = started.elapsed();
        assert!(own_cost < typical, "{own_cost:?} against {typical:?}");
        for presented in ["guess", "pw"] {
            let started = Instant::now();
            current
                .verify_password(Some(&outdated), &presented.into())
                .await?;
            let padded = started.elapsed();
            assert!(padded >= typical, "{presented}: {padded:?} < {typical:?}");
        }
        // The padded verifications are not what later ones are padded to.
        assert_eq!(current.recent_verifications.median(), Some(typical));
        Ok(())
    }

    #[tokio::test]
    async fn an_outdated_hash_checked_first_on_an_instance_times_a_current_check_too()
    -> Result<(), CredentialError> {
        let current = CredentialVerifier::new(Argon2Settings::default())?;
        let outdated = user(&verifier().hash(&"pw".into())?);
        let started = Instant::now();
        current
            .verify_password(Some(&outdated), &"guess".into())
            .await?;
        let first = started.elapsed();
        let timed = current.recent_verifications.median();
        assert!(
            timed.is_some(),
            "the first outdated check timed a current one"
        );
        assert!(
            timed.is_some_and(|typical| first >= typical),
            "{first:?} < {timed:?}"
        );
        Ok(())
    }

    #[tokio::test]
    async fn django_verifications_are_not_what_imitations_imitate() -> Result<(), CredentialError> {
        let verifier = verifier();
        verifier
            .verify_password(Some(&user(DJANGO_HASH)), &DJANGO_PASSWORD.into())
            .await?;
        assert_eq!(verifier.recent_verifications.median(), None);
        Ok(())
    }
}
