//! The Lambda entry points. One binary serves two functions, chosen by `FUNCTION_KIND`:
//! - `token` (the default): the HTTP router behind API Gateway, in [`http`];
//! - `authorizer`: an API Gateway Lambda authorizer that checks bearer tokens, in
//!   [`authorizer`].

pub mod authorizer;
pub mod http;

use std::time::Duration;

use crate::domain::signing::KeyRing;
use crate::store::WarmUp;

/// Opens the store's connection and loads the signing keys (unsealing the current one) while
/// the instance initialises, together and bounded, so an outage delays init by at most this
/// much and the first request waits for neither.
pub async fn warm_up(store: &impl WarmUp, keys: Option<&KeyRing>) {
    let keys = async {
        match keys {
            Some(keys) => keys.warm_up().await,
            None => Ok(()),
        }
    };
    let both = async { tokio::join!(store.warm_up(), keys) };
    match tokio::time::timeout(Duration::from_secs(2), both).await {
        Ok((Ok(()), Ok(()))) => tracing::debug!("DynamoDB connection and signing keys warmed"),
        Ok((store, keys)) => {
            let error = store
                .err()
                .map(|e| e.to_string())
                .or(keys.err().map(|e| e.to_string()));
            tracing::warn!(error = error.unwrap_or_default(), "warm-up failed");
        }
        Err(_) => tracing::warn!("warm-up timed out"),
    }
}
