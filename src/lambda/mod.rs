//! The Lambda entry points. One binary serves two functions, chosen by `FUNCTION_KIND`:
//! - `token` (the default): the HTTP router behind API Gateway, in [`http`];
//! - `authorizer`: an API Gateway Lambda authorizer that checks bearer tokens, in
//!   [`authorizer`].

pub mod authorizer;
pub mod http;

use std::time::Duration;

use crate::store::WarmUp;

/// Opens the store's connection while the instance initialises, bounded, so an outage delays
/// init by at most this much and the first request does not pay for the connection.
///
/// Only what every request needs: the signing keys are left to the first request that uses
/// them (`KeyRing` loads them once, however many ask at the same time), so an instance that
/// serves only opaque tokens never reads the key set nor calls KMS.
pub async fn warm_up(store: &impl WarmUp) {
    match tokio::time::timeout(Duration::from_secs(2), store.warm_up()).await {
        Ok(Ok(())) => tracing::debug!("DynamoDB connection warmed"),
        Ok(Err(error)) => tracing::warn!(error = %error, "warm-up failed"),
        Err(_) => tracing::warn!("warm-up timed out"),
    }
}
