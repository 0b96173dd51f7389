//! Every environment variable the binaries read, declared once: its name, default, parser and
//! the help text `token-endpoint --help` prints. The AWS SDK reads its own variables
//! (`AWS_REGION`, credentials…) and `tracing` reads `RUST_LOG`.

use std::convert::Infallible;

use clap::{ArgAction, Args, Parser, ValueEnum};

use crate::domain::credentials::Argon2Settings;
use crate::domain::signing::{MAX_ACCESS_TOKEN_LIFETIME, PUBLICATION_MARGIN};
use crate::domain::{Lifetimes, LockoutPolicy, Scope, Secret};

use super::defaults::{
    DEFAULT_CREDENTIALS_TABLE, DEFAULT_SIGNING_KEY_KMS_KEY, DEFAULT_TOKENS_TABLE,
};
use super::values::{AudienceUris, InvalidProxy, ProxyRanges};

/// Each variable is also a flag of the local server; a flag wins over its variable. An empty
/// variable counts as unset (`template.yaml` passes empty parameters as empty strings).
#[derive(Debug, Clone, Parser)]
#[command(
    name = "token-endpoint",
    version,
    about = "OAuth 2.0 token endpoint: POST /o/token/ (local server; on AWS Lambda it serves the runtime instead)"
)]
pub struct Settings {
    #[command(flatten)]
    pub service: ServiceSettings,
    #[command(flatten)]
    pub dynamodb: DynamoDbSettings,
    #[command(flatten)]
    pub lambda: LambdaSettings,
    #[command(flatten)]
    pub telemetry: TelemetrySettings,
    #[command(flatten)]
    pub local: LocalServerSettings,
}

/// What the token endpoint, the authorizer and `oauth-admin` share; becomes a
/// [`Config`](super::Config).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Service (also read by oauth-admin)")]
pub struct ServiceSettings {
    /// DynamoDB table of clients and users.
    #[arg(long, env = "CREDENTIALS_TABLE", default_value = DEFAULT_CREDENTIALS_TABLE)]
    pub credentials_table: String,
    /// DynamoDB table of access and refresh tokens (TTL on `expires_at`).
    #[arg(long, env = "TOKENS_TABLE", default_value = DEFAULT_TOKENS_TABLE)]
    pub tokens_table: String,
    /// Access token lifetime, also `expires_in`.
    #[arg(long, env = "ACCESS_TOKEN_LIFETIME_SECONDS", value_parser = access_token_lifetime,
          default_value_t = Lifetimes::default().access_token)]
    pub access_token_lifetime_seconds: u64,
    /// Refresh token lifetime; unset or 0: until used.
    #[arg(long, env = "REFRESH_TOKEN_LIFETIME_SECONDS", value_parser = whole_number)]
    pub refresh_token_lifetime_seconds: Option<u64>,
    /// How long a used refresh token is remembered, so a replay revokes its family; `off`:
    /// not at all.
    #[arg(long, env = "USED_REFRESH_TOKEN_RETENTION_SECONDS", value_parser = retention,
          default_value_t = Lifetimes::default().used_refresh_token_record)]
    pub used_refresh_token_retention_seconds: u64,
    /// A used refresh token presented this soon after its successor's use is a duplicate still
    /// in flight: refused, family kept. At most 2.
    #[arg(long, env = "REFRESH_REUSE_LEEWAY_SECONDS", value_parser = reuse_leeway,
          default_value_t = Lifetimes::default().refresh_reuse_leeway)]
    pub refresh_reuse_leeway_seconds: u64,
    /// Within this many seconds of its use, while its successor is unused, a used refresh
    /// token gets the identical pair again: a retry after a lost answer, or a concurrent
    /// duplicate. 0 (a used refresh token is always refused) or 10 to 300.
    #[arg(long, env = "REFRESH_RETRY_WINDOW_SECONDS", value_parser = retry_window,
          default_value_t = Lifetimes::default().refresh_retry_window)]
    pub refresh_retry_window_seconds: u64,
    /// Password attempts per username and address before the first lock; at most 100.
    #[arg(long, env = "LOCKOUT_FREE_FAILURES", value_parser = free_failures,
          default_value_t = LockoutPolicy::default().free_failures)]
    pub lockout_free_failures: u32,
    /// Longest lock of one address (locks double from 1 s); `off`: no lock.
    #[arg(long, env = "LOCKOUT_MAX_SECONDS", value_parser = lock_cap,
          default_value_t = LockoutPolicy::default().max_lock_seconds)]
    pub lockout_max_seconds: u64,
    /// An address's attempts are forgotten this long after its last lock ends; `off`: as soon
    /// as it ends.
    #[arg(long, env = "LOCKOUT_MEMORY_SECONDS", value_parser = lock_memory,
          default_value_t = LockoutPolicy::default().memory_seconds)]
    pub lockout_memory_seconds: u64,
    /// Consecutive failures for one username from all addresses (a success resets them) past
    /// which it takes one attempt per `LOCKOUT_USERNAME_LOCK_SECONDS`, except from addresses
    /// it logged in from; 1 to 100.
    #[arg(long, env = "LOCKOUT_USERNAME_CEILING", value_parser = username_ceiling,
          default_value_t = LockoutPolicy::default().username_ceiling)]
    pub lockout_username_ceiling: u32,
    /// Past the ceiling, how long each failure locks the username everywhere but its known
    /// addresses: the pace left to guessing from any number of addresses. At least 1.
    #[arg(long, env = "LOCKOUT_USERNAME_LOCK_SECONDS", value_parser = at_least_one,
          default_value_t = LockoutPolicy::default().username_lock_seconds)]
    pub lockout_username_lock_seconds: u64,
    /// Proxies in front of the service whose `X-Forwarded-For` is believed (addresses or CIDR
    /// ranges, comma-separated, none of them every address); unset: the address API Gateway or
    /// the TCP peer saw.
    #[arg(long, env = "TRUSTED_PROXIES", value_parser = trusted_proxies, default_value = "")]
    pub trusted_proxies: ProxyRanges,
    /// Argon2id memory for new hashes (OWASP: 19 MiB).
    #[arg(long, env = "ARGON2_MEMORY_KIB", value_parser = positive_u32,
          default_value_t = Argon2Settings::default().memory_kib)]
    pub argon2_memory_kib: u32,
    /// Argon2id passes for new hashes.
    #[arg(long, env = "ARGON2_ITERATIONS", value_parser = positive_u32,
          default_value_t = Argon2Settings::default().iterations)]
    pub argon2_iterations: u32,
    /// Argon2id lanes for new hashes.
    #[arg(long, env = "ARGON2_PARALLELISM", value_parser = positive_u32,
          default_value_t = Argon2Settings::default().parallelism)]
    pub argon2_parallelism: u32,
    /// The metadata's issuer URL (`https://…`, no query); unset: derived from each request.
    #[arg(long, env = "ISSUER", value_parser = issuer_url)]
    pub issuer: Option<String>,
    /// Space-separated scopes published as `scopes_supported`; unset: left out.
    #[arg(long, env = "SCOPES_SUPPORTED", value_parser = scopes)]
    pub scopes_supported: Option<Scope>,
    /// Space-separated absolute URIs a JWT access token may be for: the first is its `aud`
    /// unless the request names another of them as its `resource` (RFC 8707). Unset: the
    /// issuer, and no other.
    #[arg(long, env = "ACCESS_TOKEN_AUDIENCES", value_parser = audiences)]
    pub access_token_audiences: Option<AudienceUris>,
    /// The Lambda authorizer: space-separated absolute URIs of the API it protects. A JWT
    /// whose `aud`, or an opaque token requested for a `resource`, is none of them is refused.
    /// Unset: the tokens' default audience (the first of ACCESS_TOKEN_AUDIENCES, else the
    /// issuer).
    #[arg(long, env = "AUTHORIZER_AUDIENCES", value_parser = audiences)]
    pub authorizer_audiences: Option<AudienceUris>,
    /// KMS key (id, ARN or alias) that seals the JWT signing keys at rest.
    #[arg(long, env = "SIGNING_KEY_KMS_KEY", default_value = DEFAULT_SIGNING_KEY_KMS_KEY)]
    pub signing_key_kms_key: String,
    /// How often an instance re-reads the signing key set, beside a request; a rotation
    /// reaches every instance within this (at most 5 times this for an idle one).
    #[arg(long, env = "SIGNING_KEYS_REFRESH_SECONDS", value_parser = key_set_refresh,
          default_value_t = 60)]
    pub signing_keys_refresh_seconds: u64,
    /// `oauth-admin rotate-signing-key`: how long a new key is published before it signs,
    /// so verifiers (API Gateway caches keys for up to an hour) have it first.
    #[arg(long, env = "SIGNING_KEY_PROPAGATION_SECONDS", value_parser = whole_number,
          default_value_t = 3600)]
    pub signing_key_propagation_seconds: u64,
    /// A secret of at least 32 characters, the same on every instance: set, DPoP proofs must
    /// carry a server nonce (RFC 9449 §8) made from it; unset: proofs need none.
    #[arg(long, env = "DPOP_NONCE_SECRET", value_parser = nonce_secret, hide_env_values = true)]
    pub dpop_nonce_secret: Option<Secret>,
    /// The authorizer: how long API Gateway caches its answers (the template's
    /// AuthorizerCacheTtlSeconds). Above 0 it refuses DPoP-bound tokens, whose every request
    /// needs a fresh proof that a cached answer would skip.
    #[arg(long, env = "AUTHORIZER_CACHE_TTL_SECONDS", value_parser = whole_number,
          default_value_t = 0)]
    pub authorizer_cache_ttl_seconds: u64,
}

/// The SDK's standard endpoint override, read here because an empty one makes the SDK panic.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "DynamoDB endpoint (also read by oauth-admin)")]
pub struct DynamoDbSettings {
    /// DynamoDB endpoint, for a local DynamoDB-compatible server; unset: AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL_DYNAMODB", value_parser = trimmed)]
    pub aws_endpoint_url_dynamodb: Option<String>,
    /// Endpoint of every AWS service, used for DynamoDB and KMS when theirs are unset.
    #[arg(long, env = "AWS_ENDPOINT_URL", value_parser = trimmed)]
    pub aws_endpoint_url: Option<String>,
    /// KMS endpoint, for a local KMS-compatible server; unset: AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL_KMS", value_parser = trimmed)]
    pub aws_endpoint_url_kms: Option<String>,
}

impl DynamoDbSettings {
    /// KMS's endpoint; `None`: the SDK's regional endpoint.
    pub fn kms_endpoint(&self) -> Option<&str> {
        self.aws_endpoint_url_kms
            .as_deref()
            .or(self.aws_endpoint_url.as_deref())
    }

    /// `None`: the SDK's regional endpoint.
    pub fn endpoint(&self) -> Option<&str> {
        self.aws_endpoint_url_dynamodb
            .as_deref()
            .or(self.aws_endpoint_url.as_deref())
    }
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Lambda")]
pub struct LambdaSettings {
    /// Which function this process serves on Lambda: `token` (the endpoints) or `authorizer`
    /// (the API Gateway authorizer).
    #[arg(long, env = "FUNCTION_KIND", value_parser = FunctionKind::parse, default_value = "token")]
    pub function_kind: FunctionKind,
    /// Set by the Lambda runtime: present, the process serves Lambda events.
    #[arg(long, env = "AWS_LAMBDA_RUNTIME_API", hide = true)]
    pub aws_lambda_runtime_api: Option<String>,
}

/// Which function this process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    Token,
    Authorizer,
}

impl FunctionKind {
    /// The value of `FUNCTION_KIND` (unset or empty means `token`, see [`LambdaSettings`]).
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim() {
            "token" => Ok(Self::Token),
            "authorizer" => Ok(Self::Authorizer),
            other => Err(format!("must be token or authorizer, not {other:?}")),
        }
    }
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Telemetry")]
pub struct TelemetrySettings {
    /// `off`: on Lambda, write request lines as plain logs instead of CloudWatch EMF.
    #[arg(long = "metrics", env = "METRICS", value_name = "METRICS", value_parser = metrics_on,
          action = ArgAction::Set, default_value = "on")]
    pub metrics_on_lambda: bool,
    /// Set by the Lambda runtime: present, request lines are metrics by this function's name.
    #[arg(long, env = "AWS_LAMBDA_FUNCTION_NAME", hide = true)]
    pub aws_lambda_function_name: Option<String>,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Local server")]
pub struct LocalServerSettings {
    /// Where clients, users and tokens live.
    #[arg(long, env = "TOKEN_STORE", value_enum, default_value_t = StoreKind::Memory)]
    pub store: StoreKind,
    /// Port on 127.0.0.1.
    #[arg(long, env = "PORT", value_parser = port, default_value_t = 9000)]
    pub port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// In-process, seeded with a demo client and user; gone when the process stops.
    Memory,
    /// DynamoDB, at the SDK's configured endpoint (`AWS_ENDPOINT_URL_DYNAMODB` for a local one).
    Dynamodb,
}

fn whole_number(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number"))
}

fn access_token_lifetime(text: &str) -> Result<u64, String> {
    match at_least_one(text)? {
        seconds if seconds > MAX_ACCESS_TOKEN_LIFETIME => Err(format!(
            "must be at most {MAX_ACCESS_TOKEN_LIFETIME} (a day)"
        )),
        seconds => Ok(seconds),
    }
}

/// An instance may sign with a retired key until its copy of the key set is 5 refreshes old:
/// that must stay within the margin a retired key is published for.
fn key_set_refresh(text: &str) -> Result<u64, String> {
    const LONGEST: u64 = PUBLICATION_MARGIN / 5;
    match at_least_one(text)? {
        seconds if seconds > LONGEST => Err(format!("must be at most {LONGEST}")),
        seconds => Ok(seconds),
    }
}

fn audiences(text: &str) -> Result<AudienceUris, String> {
    text.parse()
}

fn at_least_one(text: &str) -> Result<u64, String> {
    match whole_number(text)? {
        0 => Err("must be at least 1".into()),
        number => Ok(number),
    }
}

/// A range of every address would let any client name its own address in `X-Forwarded-For`,
/// and so escape the per-address lock.
fn trusted_proxies(text: &str) -> Result<ProxyRanges, String> {
    let ranges: ProxyRanges = text
        .parse()
        .map_err(|error: InvalidProxy| error.to_string())?;
    match ranges.0.iter().find(|range| range.prefix_len() == 0) {
        Some(everything) => Err(format!(
            "{everything} trusts every address: any client could choose its own address and \
             escape the per-address lock"
        )),
        None => Ok(ranges),
    }
}

fn reuse_leeway(text: &str) -> Result<u64, String> {
    match whole_number(text)? {
        seconds if seconds > 2 => Err("must be at most 2 (longer hides a divergence)".into()),
        seconds => Ok(seconds),
    }
}

/// The longest retry window: a client's retries after a lost answer (timeouts of 10–30 s, with
/// backoff between) fit well within it, and the window is how long a copy of a used refresh
/// token can still get its owner's pair, so it stays short.
pub const MAX_REFRESH_RETRY_WINDOW: u64 = 300;

/// 0 is strict (a used refresh token is always refused); otherwise a client's retry needs time.
fn retry_window(text: &str) -> Result<u64, String> {
    match whole_number(text)? {
        seconds @ (0 | 10..=MAX_REFRESH_RETRY_WINDOW) => Ok(seconds),
        _ => Err(format!(
            "must be 0 (a used refresh token is always refused) or from 10 (a client's retry \
             needs time) to {MAX_REFRESH_RETRY_WINDOW}"
        )),
    }
}

/// NIST SP 800-63B §5.2.2: at most 100 consecutive failures per account. More free failures
/// would let one address pass that with no lock at all, a ceiling above it never lock.
const MAX_CONSECUTIVE_FAILURES: u32 = 100;

fn free_failures(text: &str) -> Result<u32, String> {
    match whole_number(text)? {
        number if number > u64::from(MAX_CONSECUTIVE_FAILURES) => Err(format!(
            "must be at most {MAX_CONSECUTIVE_FAILURES} (NIST SP 800-63B §5.2.2)"
        )),
        number => u32::try_from(number).map_err(|_| "too large".into()),
    }
}

fn username_ceiling(text: &str) -> Result<u32, String> {
    match positive_u32(text)? {
        number if number > MAX_CONSECUTIVE_FAILURES => Err(format!(
            "must be at most {MAX_CONSECUTIVE_FAILURES} (NIST SP 800-63B §5.2.2)"
        )),
        number => Ok(number),
    }
}

/// How a protection a number of seconds sets is switched off on purpose. The number that would
/// mean the same, 0, is refused: it is as easily a slip or an empty template parameter.
pub const OFF: &str = "off";

/// What each protection that can be switched off leaves undone: the warning at start-up, and
/// the reason its 0 is refused.
const NO_REPLAY_DETECTION: &str =
    "used refresh tokens are not remembered: a replayed one revokes nothing";
const NO_ADDRESS_LOCK: &str = "no address is locked after its free failures";
const NO_ADDRESS_MEMORY: &str =
    "an address's failures are forgotten as its lock ends: pausing buys fresh free attempts";

/// Seconds of a protection, where `off` (read as 0) switches it off and 0 is refused.
fn protection_seconds(text: &str, off_means: &str) -> Result<u64, String> {
    if text.trim() == OFF {
        return Ok(0);
    }
    match whole_number(text)? {
        0 => Err(format!(
            "0 would switch a protection off ({off_means}); write {OFF} if that is meant"
        )),
        seconds => Ok(seconds),
    }
}

fn retention(text: &str) -> Result<u64, String> {
    protection_seconds(text, NO_REPLAY_DETECTION)
}

fn lock_cap(text: &str) -> Result<u64, String> {
    protection_seconds(text, NO_ADDRESS_LOCK)
}

fn lock_memory(text: &str) -> Result<u64, String> {
    protection_seconds(text, NO_ADDRESS_MEMORY)
}

impl ServiceSettings {
    /// The protections these settings switch off, by variable, with what each leaves undone:
    /// only an explicit `off` reads as 0 for them.
    pub fn protections_off(&self) -> Vec<(&'static str, &'static str)> {
        [
            (
                "USED_REFRESH_TOKEN_RETENTION_SECONDS",
                self.used_refresh_token_retention_seconds,
                NO_REPLAY_DETECTION,
            ),
            (
                "LOCKOUT_MAX_SECONDS",
                self.lockout_max_seconds,
                NO_ADDRESS_LOCK,
            ),
            (
                "LOCKOUT_MEMORY_SECONDS",
                self.lockout_memory_seconds,
                NO_ADDRESS_MEMORY,
            ),
        ]
        .into_iter()
        .filter(|(_, seconds, _)| *seconds == 0)
        .map(|(variable, _, off_means)| (variable, off_means))
        .collect()
    }
}

fn positive_u32(text: &str) -> Result<u32, String> {
    let number = whole_number(text)?;
    u32::try_from(number)
        .ok()
        .filter(|number| *number > 0)
        .ok_or_else(|| format!("{number} is not between 1 and {}", u32::MAX))
}

/// RFC 8414 §2: an https URL (http for local runs) with no query or fragment. A trailing
/// slash is dropped, so endpoint URLs join without a double slash.
fn issuer_url(text: &str) -> Result<String, String> {
    let url = text.trim();
    let invalid = |problem: &str| format!("{url:?} {problem}");
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

fn scopes(text: &str) -> Result<Scope, String> {
    Scope::parse(text).map_err(|_| format!("{text:?} is not a space-separated list of scopes"))
}

fn port(text: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a port number"))
}

fn nonce_secret(text: &str) -> Result<Secret, String> {
    match text.trim() {
        secret if secret.len() >= 32 => Ok(Secret::new(secret)),
        _ => Err("must be at least 32 characters".into()),
    }
}

fn trimmed(text: &str) -> Result<String, Infallible> {
    Ok(text.trim().to_owned())
}

/// Anything but `off` leaves metrics on.
fn metrics_on(text: &str) -> Result<bool, Infallible> {
    Ok(text.trim() != "off")
}
