//! Configuration from the environment: the one source of settings for the Lambda, the local
//! server and `oauth-admin`, so they agree on table names, lifetimes and hashing costs.
//! [`Settings`] declares every variable; [`Config`] is the typed result the service uses.
//!
//! Plain data, below the adapters: it names no type of `http`, `store`, `lambda` or `vault`,
//! and builds no client. Each adapter builds its own types from these values, and `startup`
//! puts them together.

use std::time::Duration;

use crate::domain::credentials::Argon2Settings;
use crate::domain::signing::KeyRingTiming;
use crate::domain::{Lifetimes, LockoutPolicy, Scope, Secret};

mod defaults;
mod environment;
mod error;
mod settings;
mod values;

pub use defaults::{DEFAULT_CREDENTIALS_TABLE, DEFAULT_SIGNING_KEY_KMS_KEY, DEFAULT_TOKENS_TABLE};
pub(crate) use environment::{read_env, read_lookup};
pub use error::ConfigError;
pub use settings::{
    DynamoDbSettings, FunctionKind, LambdaSettings, LocalServerSettings, MAX_REFRESH_RETRY_WINDOW,
    OFF, ServiceSettings, Settings, StoreKind, TelemetrySettings,
};
pub use values::{AudienceUris, InvalidProxy, ProxyRanges};

/// The settings the service runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub tables: TablesConfig,
    pub lifetimes: Lifetimes,
    pub lockout: LockoutPolicy,
    pub argon2: Argon2Settings,
    pub discovery: DiscoveryConfig,
    pub trusted_proxies: ProxyRanges,
    pub signing: SigningConfig,
    /// Set: DPoP proofs must carry a nonce made under this secret (`DPOP_NONCE_SECRET`).
    pub dpop_nonce_secret: Option<Secret>,
    /// The authorizer accepts DPoP-bound tokens only if API Gateway caches none of its answers.
    pub authorizer_accepts_dpop: bool,
}

/// The names of the DynamoDB tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablesConfig {
    pub credentials: String,
    pub tokens: String,
}

/// How the metadata names the server, and what its JWT access tokens may be for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveryConfig {
    /// The issuer URL, without a trailing slash; `None`: derived from each request.
    pub issuer: Option<String>,
    /// Published as `scopes_supported`; `None`: left out.
    pub scopes_supported: Option<Scope>,
    /// Unset: the issuer, and no other.
    pub audiences: AudienceUris,
    /// The audiences of the API the Lambda authorizer protects; unset: see
    /// [`Self::authorizer_audiences`].
    pub protected_audiences: AudienceUris,
}

impl DiscoveryConfig {
    /// The audiences the Lambda authorizer accepts tokens for: the API's own, or else the
    /// tokens' default one, the first of [`Self::audiences`]; empty: the issuer.
    pub fn authorizer_audiences(&self) -> Vec<String> {
        match self.protected_audiences.0.is_empty() {
            false => self.protected_audiences.0.clone(),
            true => self.audiences.0.iter().take(1).cloned().collect(),
        }
    }
}

/// How JWT access tokens are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningConfig {
    /// The KMS key that seals private keys (DynamoDB store; the memory store seals them in
    /// process).
    pub kms_key: String,
    pub key_ring: KeyRingTiming,
    /// How long a rotated-in key is published before it signs.
    pub propagation_delay: u64,
}

impl Config {
    /// Reads the process environment, not the command line (`oauth-admin` has its own).
    pub fn from_env() -> Result<Self, ConfigError> {
        read_env::<ServiceSettings>().map(Self::from)
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        read_lookup::<ServiceSettings>(lookup).map(Self::from)
    }
}

impl From<ServiceSettings> for Config {
    fn from(settings: ServiceSettings) -> Self {
        Self {
            tables: TablesConfig {
                credentials: settings.credentials_table,
                tokens: settings.tokens_table,
            },
            lifetimes: Lifetimes {
                access_token: settings.access_token_lifetime_seconds,
                // Unset or 0: refresh tokens last until used.
                refresh_token: settings
                    .refresh_token_lifetime_seconds
                    .filter(|seconds| *seconds > 0),
                used_refresh_token_record: settings.used_refresh_token_retention_seconds,
                refresh_reuse_leeway: settings.refresh_reuse_leeway_seconds,
                refresh_retry_window: settings.refresh_retry_window_seconds,
            },
            lockout: LockoutPolicy {
                free_failures: settings.lockout_free_failures,
                max_lock_seconds: settings.lockout_max_seconds,
                memory_seconds: settings.lockout_memory_seconds,
                username_ceiling: settings.lockout_username_ceiling,
                username_lock_seconds: settings.lockout_username_lock_seconds,
            },
            argon2: Argon2Settings {
                memory_kib: settings.argon2_memory_kib,
                iterations: settings.argon2_iterations,
                parallelism: settings.argon2_parallelism,
            },
            discovery: DiscoveryConfig {
                issuer: settings.issuer,
                scopes_supported: settings.scopes_supported,
                audiences: settings.access_token_audiences.unwrap_or_default(),
                protected_audiences: settings.authorizer_audiences.unwrap_or_default(),
            },
            trusted_proxies: settings.trusted_proxies,
            signing: SigningConfig {
                kms_key: settings.signing_key_kms_key,
                key_ring: KeyRingTiming::refreshing_every(Duration::from_secs(
                    settings.signing_keys_refresh_seconds,
                )),
                propagation_delay: settings.signing_key_propagation_seconds,
            },
            dpop_nonce_secret: settings.dpop_nonce_secret,
            authorizer_accepts_dpop: settings.authorizer_cache_ttl_seconds == 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use clap::CommandFactory;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| env.get(name).cloned())
    }

    fn endpoint_override(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
        read_lookup::<DynamoDbSettings>(lookup)
            .unwrap_or_else(|error| panic!("{error}"))
            .endpoint()
            .map(str::to_owned)
    }

    #[test]
    fn a_rejected_value_names_its_variable() {
        let message = |pairs: &[(&str, &str)]| config(pairs).err().map(|e| e.to_string());
        assert_eq!(
            message(&[("ARGON2_ITERATIONS", "0")]).as_deref(),
            Some("environment variable ARGON2_ITERATIONS: 0 is not between 1 and 4294967295")
        );
        assert_eq!(
            message(&[("ACCESS_TOKEN_LIFETIME_SECONDS", " soon")]).as_deref(),
            Some(
                "environment variable ACCESS_TOKEN_LIFETIME_SECONDS: \" soon\" is not a whole number"
            )
        );
    }

    #[test]
    fn the_authorizer_accepts_its_apis_audiences_else_the_tokens_default() -> Result<(), ConfigError>
    {
        let accepted = |pairs: &[(&str, &str)]| {
            config(pairs).map(|config| config.discovery.authorizer_audiences())
        };
        let (a, b) = ("https://a.example", "https://b.example/v1");
        let both = format!("{a} {b}");
        assert_eq!(accepted(&[("ACCESS_TOKEN_AUDIENCES", &both)])?, [a]);
        let named = [
            ("ACCESS_TOKEN_AUDIENCES", &*both),
            ("AUTHORIZER_AUDIENCES", b),
        ];
        assert_eq!(accepted(&named)?, [b]);
        // Neither: the issuer, which the authorizer knows per event.
        assert!(accepted(&[("AUTHORIZER_AUDIENCES", "")])?.is_empty());
        assert!(accepted(&[("AUTHORIZER_AUDIENCES", "api-a")]).is_err());
        Ok(())
    }

    #[test]
    fn every_variable_is_a_flag_once() {
        Settings::command().debug_assert();
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

    #[test]
    fn a_zero_that_switches_a_protection_off_is_refused_and_off_is_warned_about()
    -> Result<(), ConfigError> {
        let switches = [
            "USED_REFRESH_TOKEN_RETENTION_SECONDS",
            "LOCKOUT_MAX_SECONDS",
            "LOCKOUT_MEMORY_SECONDS",
        ];
        for variable in switches {
            let refused = config(&[(variable, "0")]).err().map(|e| e.to_string());
            let refused = refused.unwrap_or_else(|| panic!("{variable}=0 is accepted"));
            assert!(
                refused.starts_with(&format!(
                    "environment variable {variable}: 0 would switch a protection off ("
                )) && refused.ends_with("); write off if that is meant"),
                "{refused}"
            );
            let off = read_lookup::<ServiceSettings>(|name| {
                (name == variable).then(|| " off ".to_owned())
            })?;
            let warned: Vec<_> = off.protections_off().into_iter().map(|(v, _)| v).collect();
            assert_eq!(warned, [variable]);
        }
        let off = config(&switches.map(|variable| (variable, "off")))?;
        assert_eq!(off.lifetimes.used_refresh_token_record, 0);
        assert_eq!(off.lockout.max_lock_seconds, 0);
        assert_eq!(off.lockout.memory_seconds, 0);
        let defaults = read_lookup::<ServiceSettings>(|_| None)?;
        assert_eq!(defaults.protections_off(), []);
        Ok(())
    }

    #[test]
    fn the_retry_window_is_strict_at_0_or_from_10_to_its_maximum() {
        let window = |value: &str| {
            config(&[("REFRESH_RETRY_WINDOW_SECONDS", value)])
                .map(|config| config.lifetimes.refresh_retry_window)
                .ok()
        };
        assert_eq!(window("0"), Some(0));
        assert_eq!(window("10"), Some(10));
        assert_eq!(window("300"), Some(MAX_REFRESH_RETRY_WINDOW));
        for refused in ["9", "301", "off", "-1"] {
            assert_eq!(window(refused), None, "{refused}");
        }
    }

    #[test]
    fn lockout_counts_stay_within_the_nist_limit() {
        let accepted = |variable: &str, value: &str| config(&[(variable, value)]).is_ok();
        assert!(accepted("LOCKOUT_FREE_FAILURES", "0"));
        assert!(accepted("LOCKOUT_FREE_FAILURES", "100"));
        assert!(!accepted("LOCKOUT_FREE_FAILURES", "101"));
        assert!(!accepted("LOCKOUT_FREE_FAILURES", "off"));
        assert!(accepted("LOCKOUT_USERNAME_CEILING", "100"));
        assert!(!accepted("LOCKOUT_USERNAME_CEILING", "101"));
        assert!(!accepted("LOCKOUT_USERNAME_CEILING", "0"));
        assert!(!accepted("LOCKOUT_USERNAME_CEILING", "off"));
    }

    #[test]
    fn trusting_every_address_is_refused() {
        let proxies =
            |value: &str| config(&[("TRUSTED_PROXIES", value)]).map(|c| c.trusted_proxies);
        assert!(proxies("10.0.0.0/8, 192.0.2.1").is_ok());
        for everything in ["0.0.0.0/0", "10.0.0.0/8 ::/0"] {
            let refused = proxies(everything).err().map(|e| e.to_string());
            assert!(
                refused.as_deref().is_some_and(|message| message
                    .starts_with("environment variable TRUSTED_PROXIES: ")
                    && message.contains("trusts every address")),
                "{everything}: {refused:?}"
            );
        }
    }

    #[test]
    fn rejects_nonsense() {
        assert!(config(&[("ACCESS_TOKEN_LIFETIME_SECONDS", "soon")]).is_err());
        assert!(config(&[("ACCESS_TOKEN_LIFETIME_SECONDS", "0")]).is_err());
        assert!(config(&[("ARGON2_ITERATIONS", "0")]).is_err());
        assert!(config(&[("ARGON2_MEMORY_KIB", "99999999999")]).is_err());
    }
}
