//! Configuration from the environment: the one source of settings for the Lambda, the local
//! server and `oauth-admin`, so they agree on table names, lifetimes and hashing costs.

use std::env;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use crate::domain::Scope;
use crate::domain::credentials::Argon2Settings;
use crate::domain::grant::{Lifetimes, LockoutPolicy};
use crate::http::Discovery;
use crate::store::dynamodb::TableNames;

pub const DEFAULT_CREDENTIALS_TABLE: &str = "oauth-credentials";
pub const DEFAULT_TOKENS_TABLE: &str = "oauth-tokens";

#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}: {problem}")]
pub struct ConfigError {
    name: &'static str,
    problem: String,
}

/// Every setting, with its environment variable and default in `README.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub tables: TableNames,
    pub lifetimes: Lifetimes,
    pub lockout: LockoutPolicy,
    pub argon2: Argon2Settings,
    pub discovery: Discovery,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let present = |name: &'static str| lookup(name).filter(|value| !value.trim().is_empty());
        let text =
            |name: &'static str, default: &str| present(name).unwrap_or_else(|| default.to_owned());
        let number = |name: &'static str, default: u64| -> Result<Option<u64>, ConfigError> {
            match lookup(name).filter(|value| !value.trim().is_empty()) {
                None => Ok((default > 0).then_some(default)),
                Some(value) => value
                    .trim()
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| ConfigError {
                        name,
                        problem: format!("{value:?} is not a whole number"),
                    }),
            }
        };
        let positive_u32 = |name: &'static str, default: u32| -> Result<u32, ConfigError> {
            let value = number(name, u64::from(default))?.unwrap_or(0);
            u32::try_from(value)
                .ok()
                .filter(|value| *value > 0)
                .ok_or_else(|| ConfigError {
                    name,
                    problem: format!("{value} is not between 1 and {}", u32::MAX),
                })
        };
        let defaults = Argon2Settings::default();
        let defaults_lifetimes = Lifetimes::default();
        let default_lockout = LockoutPolicy::default();
        let access_token = number("ACCESS_TOKEN_LIFETIME_SECONDS", 3600)?
            .filter(|seconds| *seconds > 0)
            .ok_or(ConfigError {
                name: "ACCESS_TOKEN_LIFETIME_SECONDS",
                problem: "must be at least 1".into(),
            })?;
        Ok(Self {
            tables: TableNames {
                credentials: text("CREDENTIALS_TABLE", DEFAULT_CREDENTIALS_TABLE),
                tokens: text("TOKENS_TABLE", DEFAULT_TOKENS_TABLE),
            },
            lifetimes: Lifetimes {
                access_token,
                // Unset or 0: refresh tokens last until used.
                refresh_token: number("REFRESH_TOKEN_LIFETIME_SECONDS", 0)?
                    .filter(|seconds| *seconds > 0),
                used_refresh_token_record: number(
                    "USED_REFRESH_TOKEN_RETENTION_SECONDS",
                    defaults_lifetimes.used_refresh_token_record,
                )?
                .unwrap_or(0),
                refresh_reuse_leeway: number(
                    "REFRESH_REUSE_LEEWAY_SECONDS",
                    defaults_lifetimes.refresh_reuse_leeway,
                )?
                .unwrap_or(0),
                refresh_retry_grace: number(
                    "REFRESH_RETRY_GRACE_SECONDS",
                    defaults_lifetimes.refresh_retry_grace,
                )?
                .unwrap_or(0),
            },
            lockout: LockoutPolicy {
                free_failures: u32::try_from(
                    number(
                        "LOCKOUT_FREE_FAILURES",
                        u64::from(default_lockout.free_failures),
                    )?
                    .unwrap_or(0),
                )
                .map_err(|_| ConfigError {
                    name: "LOCKOUT_FREE_FAILURES",
                    problem: "too large".into(),
                })?,
                max_lock_seconds: number("LOCKOUT_MAX_SECONDS", default_lockout.max_lock_seconds)?
                    .unwrap_or(0),
                memory_seconds: number("LOCKOUT_MEMORY_SECONDS", default_lockout.memory_seconds)?
                    .unwrap_or(0),
            },
            argon2: Argon2Settings {
                memory_kib: positive_u32("ARGON2_MEMORY_KIB", defaults.memory_kib)?,
                iterations: positive_u32("ARGON2_ITERATIONS", defaults.iterations)?,
                parallelism: positive_u32("ARGON2_PARALLELISM", defaults.parallelism)?,
            },
            discovery: Discovery {
                issuer: present("ISSUER").map(|url| issuer(&url)).transpose()?,
                scopes_supported: present("SCOPES_SUPPORTED")
                    .map(|text| {
                        Scope::parse(&text).map_err(|_| ConfigError {
                            name: "SCOPES_SUPPORTED",
                            problem: format!("{text:?} is not a space-separated list of scopes"),
                        })
                    })
                    .transpose()?,
            },
        })
    }
}

/// RFC 8414 §2: an https URL (http for local runs) with no query or fragment. A trailing
/// slash is dropped, so endpoint URLs join without a double slash.
fn issuer(url: &str) -> Result<String, ConfigError> {
    let url = url.trim();
    let invalid = |problem: &str| ConfigError {
        name: "ISSUER",
        problem: format!("{url:?} {problem}"),
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid("is not an https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("has no host"));
    }
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("must not have a query, a fragment or spaces"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The DynamoDB client, built once per process.
///
/// Region, credentials and endpoint come from the SDK's standard sources, so
/// `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL`) points it at a local server. Timeouts are
/// set so a stuck call fails well within API Gateway's 30-second limit instead of hanging.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(dynamodb_retry_config())
        .timeout_config(dynamodb_timeout_config())
        .load()
        .await;
    let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&shared);
    // The SDK reads these variables too, but an empty AWS_ENDPOINT_URL_DYNAMODB (as declared in
    // template.yaml, so `sam local invoke --env-vars` can set it) makes it panic. Empty means
    // unset here.
    dynamodb.set_endpoint_url(endpoint_override(|name| env::var(name).ok()));
    // Tallies each request's DynamoDB calls and time for its log line and metrics.
    dynamodb = dynamodb.interceptor(crate::telemetry::store_timing::DynamoTimer);
    aws_sdk_dynamodb::Client::from_conf(dynamodb.build())
}

/// Standard retry mode (exponential backoff with jitter, retry quota) with three attempts:
/// throttling and transient 5xx are retried within the operation timeout.
pub fn dynamodb_retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

/// DynamoDB answers in milliseconds, so a stuck connection fails fast (1 s to connect, 2 s per
/// attempt) and one operation, retries included, gives up after 4 s. A grant makes two
/// operations in sequence and the router bounds the whole grant (`http::GRANT_DEADLINE`), so
/// the client gets a 503 well within the function's 10 s timeout and API Gateway's 30 s.
pub fn dynamodb_timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(4))
        .build()
}

/// The DynamoDB endpoint from `AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`, ignoring
/// empty values; `None` means the SDK's regional endpoint.
fn endpoint_override(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"]
        .into_iter()
        .filter_map(&lookup)
        .map(|value| value.trim().to_owned())
        .find(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn the_issuer_is_an_url_without_query_or_trailing_slash() -> Result<(), ConfigError> {
        let issuer = |url: &str| config(&[("ISSUER", url)]).map(|c| c.discovery.issuer);
        assert_eq!(
            issuer("https://auth.example.com/prod/")?,
            Some("https://auth.example.com/prod".into())
        );
        assert_eq!(issuer("")?, None);
        for bad in [
            "auth.example.com",
            "https://",
            "https:///path",
            "https://a.example?x=1",
            "https://a.example/#f",
            "ftp://a.example",
        ] {
            assert!(issuer(bad).is_err(), "{bad}");
        }
        let scopes = config(&[("SCOPES_SUPPORTED", "read write")])?;
        assert_eq!(
            scopes.discovery.scopes_supported.map(|s| s.to_string()),
            Some("read write".into())
        );
        assert!(config(&[("SCOPES_SUPPORTED", "read \"x\"")]).is_err());
        Ok(())
    }

    #[test]
    fn defaults_match_the_documentation() -> Result<(), ConfigError> {
        let config = config(&[])?;
        assert_eq!(config.tables.credentials, "oauth-credentials");
        assert_eq!(config.tables.tokens, "oauth-tokens");
        assert_eq!(config.lifetimes.access_token, 3600);
        assert_eq!(config.lifetimes.refresh_token, None);
        assert_eq!(
            config.argon2,
            Argon2Settings {
                memory_kib: 19 * 1024,
                iterations: 2,
                parallelism: 1
            }
        );
        Ok(())
    }

    #[test]
    fn reads_every_setting() -> Result<(), ConfigError> {
        let config = config(&[
            ("CREDENTIALS_TABLE", "c"),
            ("TOKENS_TABLE", "t"),
            ("ACCESS_TOKEN_LIFETIME_SECONDS", "60"),
            ("REFRESH_TOKEN_LIFETIME_SECONDS", "86400"),
            ("ARGON2_MEMORY_KIB", "65536"),
            ("ARGON2_ITERATIONS", "3"),
            ("ARGON2_PARALLELISM", "2"),
        ])?;
        assert_eq!(config.tables.credentials, "c");
        assert_eq!(config.tables.tokens, "t");
        assert_eq!(config.lifetimes.access_token, 60);
        assert_eq!(config.lifetimes.refresh_token, Some(86400));
        assert_eq!(config.argon2.memory_kib, 65536);
        assert_eq!(config.argon2.iterations, 3);
        assert_eq!(config.argon2.parallelism, 2);
        Ok(())
    }

    #[test]
    fn empty_endpoint_variables_mean_unset() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        assert_eq!(endpoint_override(lookup(&[])), None);
        assert_eq!(
            endpoint_override(lookup(&[("AWS_ENDPOINT_URL_DYNAMODB", "")])),
            None
        );
        assert_eq!(
            endpoint_override(lookup(&[
                ("AWS_ENDPOINT_URL_DYNAMODB", " "),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:8000")
            ])),
            Some("http://127.0.0.1:8000".into())
        );
        assert_eq!(
            endpoint_override(lookup(&[
                ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:5000"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:8000")
            ])),
            Some("http://127.0.0.1:5000".into())
        );
    }

    #[test]
    fn rejects_nonsense() {
        assert!(config(&[("ACCESS_TOKEN_LIFETIME_SECONDS", "soon")]).is_err());
        assert!(config(&[("ACCESS_TOKEN_LIFETIME_SECONDS", "0")]).is_err());
        assert!(config(&[("ARGON2_ITERATIONS", "0")]).is_err());
        assert!(config(&[("ARGON2_MEMORY_KIB", "99999999999")]).is_err());
    }
}
