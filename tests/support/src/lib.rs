//! Shared test setup: a real DynamoDB-compatible server (moto) started on 127.0.0.1, fresh
//! tables per test, and token services over either store; requests through the router
//! ([`http`]), the `events/` fixtures ([`events`]), a clock tests move ([`clock`]), the DynamoDB
//! fault proxy ([`fault_proxy`]), processes started with a clean environment ([`process`]) and
//! the decision to skip a test whose tool is missing ([`skip`]).

pub mod capacity;
pub mod clock;
pub mod dpop;
pub mod events;
pub mod fault_proxy;
pub mod http;
pub mod operation_log;
pub mod process;
pub mod signing;
pub mod skip;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use token_endpoint::config::Config;
use token_endpoint::domain::clock::Clock;
use token_endpoint::domain::credentials::{Argon2Settings, CredentialVerifier};
use token_endpoint::domain::names::{ClientId, Username};
use token_endpoint::domain::signing::{KeyRing, KeySetStore};
use token_endpoint::domain::store::Store;
use token_endpoint::domain::{
    AccessTokenPolicy, Client, GrantType, Scope, Secret, TokenService, User,
};
use token_endpoint::startup;
use token_endpoint::store::dynamodb::TableNames;
use token_endpoint::store::{DynamoStore, MemoryStore};

pub use http::{json_body, serve_json};
pub use skip::{lambda_bootstrap, lambda_rie};

/// The repository: where `events/`, `.venv` and `.venv-sam` are.
pub fn repo_root() -> PathBuf {
    let support = Path::new(env!("CARGO_MANIFEST_DIR"));
    support.ancestors().nth(2).unwrap_or(support).to_path_buf()
}

/// The Python that runs moto and Django (`tests/support/*.py`): `MOTO_PYTHON`, or the one
/// `make test` installs them into, `.venv/bin/python`.
pub fn test_python() -> PathBuf {
    std::env::var_os("MOTO_PYTHON")
        .filter(|path| !path.is_empty())
        .map_or_else(|| repo_root().join(".venv/bin/python"), PathBuf::from)
}

/// One of the Python scripts beside this crate (`tests/support/NAME`).
pub fn python_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// A moto server; it stops when this is dropped (its stdin closes).
pub struct Moto {
    endpoint: String,
    // Held so the server's stdin stays open for the life of the test process.
    _child: Mutex<Child>,
}

/// The moto server's URL, starting it on first use (once per test binary).
pub fn moto_endpoint() -> &'static str {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    &MOTO.get_or_init(start_moto).endpoint
}

/// A moto server of its own, for a test whose many requests would otherwise queue behind every
/// other test's on the shared one (moto serves one request at a time).
pub fn private_moto() -> Moto {
    start_moto()
}

impl Moto {
    /// A DynamoDB store on fresh tables in this server.
    pub async fn dynamo_store(&self) -> DynamoStore {
        let client = aws_sdk_dynamodb::Client::from_conf(
            dynamodb_config(&self.endpoint)
                .interceptor(token_endpoint::telemetry::store_timing::DynamoTimer)
                .build(),
        );
        let store = DynamoStore::new(client, unique_tables()).with_index_lag(MOTO_INDEX_LAG);
        store
            .create_tables()
            .await
            .expect("creating tables in moto");
        store
    }
}

fn start_moto() -> Moto {
    let python = test_python();
    let mut child = Command::new(&python)
        .arg(python_script("moto_server.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "cannot start moto with {}: {error}. Run `make test`, which installs it into .venv",
                python.display()
            )
        });
    let mut first_line = String::new();
    if let Some(stdout) = child.stdout.take() {
        BufReader::new(stdout)
            .read_line(&mut first_line)
            .expect("reading moto's port");
    }
    let port: u16 = first_line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("moto did not print its port (got {first_line:?})"));
    Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        _child: Mutex::new(child),
    }
}

/// SDK settings for a DynamoDB-compatible server at `endpoint` (moto, or a proxy in front of
/// it), with throwaway credentials; callers add interceptors, retries and timeouts.
pub fn dynamodb_config(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
}

/// A DynamoDB client for the moto server.
pub fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let config = dynamodb_config(moto_endpoint())
        // As in production (`aws::clients`): each request's DynamoDB calls are tallied.
        .interceptor(token_endpoint::telemetry::store_timing::DynamoTimer)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// SDK settings for a KMS-compatible server at `endpoint`, with throwaway credentials.
pub fn kms_config(endpoint: &str) -> aws_sdk_kms::config::Builder {
    aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
}

/// A KMS client for the moto server, which serves KMS beside DynamoDB (one set of keys for the
/// whole test binary: each test names its own alias).
pub fn kms_client() -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::from_conf(kms_config(moto_endpoint()).build())
}

/// Table names no other test uses.
pub fn unique_tables() -> TableNames {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let id = format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    TableNames {
        credentials: format!("credentials-{id}"),
        tokens: format!("tokens-{id}"),
    }
}

/// A DynamoDB store on fresh tables in moto.
pub async fn dynamo_store() -> DynamoStore {
    let store = DynamoStore::new(dynamodb_client(), unique_tables()).with_index_lag(MOTO_INDEX_LAG);
    store
        .create_tables()
        .await
        .expect("creating tables in moto");
    store
}

/// One "Region" of a multi-Region strongly consistent (MRSC) global table on `tables` (made
/// already): a store whose calls pass through a proxy of its own that refuses what such a
/// table refuses (transactions, TTL), as DynamoDB does there. Stores on the same tables are
/// Regions of one strongly consistent table, as moto applies each write atomically.
pub async fn mrsc_region(tables: TableNames) -> DynamoStore {
    let proxy = fault_proxy::FaultProxy::start(moto_endpoint()).await;
    proxy.refuse_like_mrsc();
    let config = dynamodb_config(proxy.endpoint())
        .interceptor(token_endpoint::telemetry::store_timing::DynamoTimer)
        .build();
    DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), tables)
        .with_index_lag(MOTO_INDEX_LAG)
}

/// moto's indexes list an item as soon as it is written; the stores of tests allow them a
/// second, so that ending the logins of a user who logs in often waits no longer.
pub const MOTO_INDEX_LAG: u64 = 1;

/// A DynamoDB store on fresh tables in moto, reached as one Region of an MRSC global table.
pub async fn mrsc_dynamo_store() -> DynamoStore {
    let made = dynamo_store().await;
    mrsc_region(made.tables().clone()).await
}

/// Production settings: tests exercise the real Argon2 cost (release-optimised in dev builds).
pub fn test_config() -> Config {
    Config::from_lookup(|_| None).unwrap()
}

/// Cheap Argon2 parameters, for tests that hash many secrets and check logic, not cost.
pub fn cheap_config() -> Config {
    Config {
        argon2: Argon2Settings {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        },
        ..test_config()
    }
}

pub fn service<S: Store + KeySetStore + Clone>(store: S, config: &Config) -> Arc<TokenService<S>> {
    startup::signing_token_service(store, signing::vault(), config).unwrap()
}

/// The service over `store` as `config` sets it up, reading the time from `clock`.
pub fn service_with_clock<S: Store + KeySetStore + Clone>(
    store: S,
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Arc<TokenService<S>> {
    let verifier = CredentialVerifier::new(config.argon2).expect("building the verifier");
    let keys = KeyRing::signing(
        store.clone(),
        signing::vault(),
        Arc::clone(&clock),
        config.signing.key_ring,
    );
    Arc::new(
        TokenService::new(store, verifier, config.lifetimes, clock)
            .with_lockout(config.lockout)
            .with_signing_keys(keys),
    )
}

pub fn memory_service() -> Arc<TokenService<MemoryStore>> {
    service(MemoryStore::new(), &test_config())
}

/// `value` as a client id. A malformed one is taken as it is, for the tests that look up what
/// must not have been stored.
pub fn client_id_of(value: &str) -> ClientId {
    ClientId::parse(value).unwrap_or_else(|_| ClientId::from_stored(value.to_owned()))
}

/// `value` as a username, malformed ones taken as they are (see [`client_id_of`]).
pub fn username_of(value: &str) -> Username {
    Username::parse(value).unwrap_or_else(|_| Username::from_stored(value.to_owned()))
}

/// Registers a client with `secret`, `scope` and `grant_types`.
pub async fn add_client<S: Store>(
    service: &TokenService<S>,
    client_id: &str,
    secret: &str,
    scope: &str,
    grant_types: &[GrantType],
) {
    let client = Client {
        client_id: client_id_of(client_id),
        name: format!("{client_id} (test)"),
        secret_hash: hash(service, secret),
        scope: Scope::parse(scope).unwrap_or_else(|_| panic!("bad scope {scope:?}")),
        grant_types: grant_types.to_vec(),
        access_tokens: AccessTokenPolicy::default(),
        created_at: 0,
        jwks: None,
        credential_version: 0,
    };
    service.store().create_client(&client).await.unwrap();
}

/// Registers a user with `password`.
pub async fn add_user<S: Store>(service: &TokenService<S>, username: &str, password: &str) {
    let user = User {
        username: username_of(username),
        password_hash: hash(service, password),
        created_at: 0,
    };
    service.store().create_user(&user).await.unwrap();
}

fn hash<S: Store>(service: &TokenService<S>, secret: &str) -> String {
    service.verifier().hash(&Secret::new(secret)).unwrap()
}
