//! The Lambda entry points. One binary serves two functions, chosen by `FUNCTION_KIND`:
//! - `token` (the default): the HTTP router behind API Gateway, in [`http`];
//! - `authorizer`: an API Gateway Lambda authorizer that checks bearer tokens, in
//!   [`authorizer`].

pub mod authorizer;
pub mod http;

use std::time::Duration;

use crate::domain::signing::KeyRing;
use crate::store::DynamoStore;

/// Opens the DynamoDB connection and loads the signing keys (unsealing the current one) while
/// the instance initialises, together and bounded, so an outage delays init by at most this
/// much and the first request waits for neither.
pub async fn warm_up(store: &DynamoStore, keys: Option<&KeyRing>) {
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

/// Which function this process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    Token,
    Authorizer,
}

impl FunctionKind {
    /// The value of `FUNCTION_KIND` (unset or empty means `token`, see
    /// [`LambdaSettings`](crate::config::LambdaSettings)).
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim() {
            "token" => Ok(Self::Token),
            "authorizer" => Ok(Self::Authorizer),
            other => Err(format!("must be token or authorizer, not {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, LambdaSettings, read_lookup};

    fn function_kind(value: Option<&str>) -> Result<FunctionKind, ConfigError> {
        read_lookup::<LambdaSettings>(|name| {
            value.filter(|_| name == "FUNCTION_KIND").map(str::to_owned)
        })
        .map(|settings| settings.function_kind)
    }

    #[test]
    fn function_kind_defaults_to_token() {
        assert_eq!(function_kind(None).ok(), Some(FunctionKind::Token));
        assert_eq!(function_kind(Some("")).ok(), Some(FunctionKind::Token));
        assert_eq!(
            function_kind(Some("authorizer")).ok(),
            Some(FunctionKind::Authorizer)
        );
        assert!(function_kind(Some("Authorizer")).is_err());
    }
}
