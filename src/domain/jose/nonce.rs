//! DPoP server nonces (RFC 9449 §8) that every instance agrees on without storing them: an
//! HMAC of the current time bucket under a key every instance is configured with. A nonce is
//! accepted in its own bucket and the next, so one lives 5 to 10 minutes.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;

use crate::domain::clock::UnixSeconds;

/// How long one nonce is handed out.
pub const NONCE_BUCKET_SECONDS: u64 = 300;

/// Makes and checks nonces.
pub struct DpopNonces {
    key: hmac::Key,
}

impl fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DpopNonces([redacted])")
    }
}

impl DpopNonces {
    /// Nonces under `secret` (the `DPOP_NONCE_SECRET` setting, shared by every instance).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The nonce to hand out at `now`.
    pub fn current(&self, now: UnixSeconds) -> String {
        self.of_bucket(now / NONCE_BUCKET_SECONDS)
    }

    /// Whether `nonce` is the current bucket's or the previous one's.
    pub fn accepts(&self, nonce: &str, now: UnixSeconds) -> bool {
        let bucket = now / NONCE_BUCKET_SECONDS;
        [bucket, bucket.saturating_sub(1)]
            .into_iter()
            .any(|bucket| bool::from(self.of_bucket(bucket).as_bytes().ct_eq(nonce.as_bytes())))
    }

    fn of_bucket(&self, bucket: u64) -> String {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(b"dpop-nonce\0");
        context.update(&bucket.to_be_bytes());
        URL_SAFE_NO_PAD.encode(&context.sign().as_ref()[..18])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_lives_its_bucket_and_the_next_under_its_key_only() {
        let nonces = DpopNonces::new(b"a shared secret of the deployment");
        let now = 10 * NONCE_BUCKET_SECONDS + 7;
        let nonce = nonces.current(now);
        assert!(nonces.accepts(&nonce, now));
        assert!(nonces.accepts(&nonce, now + NONCE_BUCKET_SECONDS));
        assert!(!nonces.accepts(&nonce, now + 2 * NONCE_BUCKET_SECONDS));
        assert!(!DpopNonces::new(b"another deployment").accepts(&nonce, now));
        assert!(!nonces.accepts("", now));
    }
}
