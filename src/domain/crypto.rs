//! The one cryptographic provider every hash and random draw goes through: aws-lc-rs, which
//! also signs JWTs and derives refresh tokens here, so one audited library (and its
//! assembly) serves them all.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};

/// The operating system's random source failed; nothing random can be made safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RandomnessUnavailable;

/// Fills `buffer` from the OS CSPRNG.
pub fn fill_random(buffer: &mut [u8]) -> Result<(), RandomnessUnavailable> {
    SystemRandom::new()
        .fill(buffer)
        .map_err(|_| RandomnessUnavailable)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> digest::Digest {
    digest::digest(&digest::SHA256, data)
}

/// SHA-256 of several parts fed in order, as if concatenated.
pub fn sha256_of_parts(parts: &[&[u8]]) -> digest::Digest {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in parts {
        context.update(part);
    }
    context.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_vector() {
        // FIPS 180-2, appendix B.1.
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let hex = |digest: digest::Digest| {
            digest
                .as_ref()
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>()
        };
        assert_eq!(hex(sha256(b"abc")), expected);
        assert_eq!(hex(sha256_of_parts(&[b"a", b"", b"bc"])), expected);
    }

    #[test]
    fn random_draws_differ() {
        let (mut first, mut second) = ([0u8; 32], [0u8; 32]);
        assert_eq!(fill_random(&mut first), Ok(()));
        assert_eq!(fill_random(&mut second), Ok(()));
        assert_ne!(first, second);
    }
}
