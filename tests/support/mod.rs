//! Shared test setup: a real DynamoDB-compatible server (moto) started on 127.0.0.1, fresh
//! tables per test, and token services over either store.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use token_endpoint::config::Config;
use token_endpoint::domain::credentials::Argon2Settings;
use token_endpoint::domain::store::Store;
use token_endpoint::domain::{Client, GrantType, Scope, Secret, TokenService, User};
use token_endpoint::startup;
use token_endpoint::store::dynamodb::TableNames;
use token_endpoint::store::{DynamoStore, MemoryStore};

struct Moto {
    endpoint: String,
    // Held so the server's stdin stays open for the life of the test process.
    _child: Mutex<Child>,
}

/// The moto server's URL, starting it on first use (once per test binary).
pub fn moto_endpoint() -> &'static str {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    &MOTO.get_or_init(start_moto).endpoint
}

fn start_moto() -> Moto {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("MOTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv/bin/python"));
    let mut child = Command::new(&python)
        .arg(root.join("tests/support/moto_server.py"))
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
            .unwrap_or_else(|error| panic!("reading moto's port: {error}"));
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

/// A DynamoDB client for the moto server.
pub fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        // As in production (`config::dynamodb_client`): each request's DynamoDB calls are tallied.
        .interceptor(token_endpoint::telemetry::store_timing::DynamoTimer)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
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
    let store = DynamoStore::new(dynamodb_client(), unique_tables());
    store
        .create_tables()
        .await
        .unwrap_or_else(|error| panic!("creating tables in moto: {error}"));
    store
}

/// Production settings: tests exercise the real Argon2 cost (release-optimised in dev builds).
pub fn test_config() -> Config {
    Config::from_lookup(|_| None).unwrap_or_else(|error| panic!("{error}"))
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

pub fn service<S: Store>(store: S, config: &Config) -> Arc<TokenService<S>> {
    startup::token_service(store, config).unwrap_or_else(|error| panic!("{error}"))
}

pub fn memory_service() -> Arc<TokenService<MemoryStore>> {
    service(MemoryStore::new(), &test_config())
}

pub async fn dynamo_service() -> Arc<TokenService<DynamoStore>> {
    service(dynamo_store().await, &test_config())
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
        client_id: client_id.into(),
        name: format!("{client_id} (test)"),
        secret_hash: hash(service, secret),
        scope: Scope::parse(scope).unwrap_or_else(|_| panic!("bad scope {scope:?}")),
        grant_types: grant_types.to_vec(),
    };
    service
        .store()
        .create_client(&client)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
}

/// Registers a user with `password`.
pub async fn add_user<S: Store>(service: &TokenService<S>, username: &str, password: &str) {
    let user = User {
        username: username.into(),
        password_hash: hash(service, password),
    };
    service
        .store()
        .create_user(&user)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
}

fn hash<S: Store>(service: &TokenService<S>, secret: &str) -> String {
    service
        .verifier()
        .hash(&Secret::new(secret))
        .unwrap_or_else(|error| panic!("{error}"))
}

/// Serves one request through the real router and returns its status and JSON body.
pub async fn serve_json<S: Store>(
    service: &Arc<TokenService<S>>,
    request: axum::http::Request<axum::body::Body>,
) -> (axum::http::StatusCode, serde_json::Value) {
    use tower::ServiceExt as _;

    let response = token_endpoint::http::router(Arc::clone(service), Default::default())
        .oneshot(request)
        .await
        .unwrap_or_else(|error| match error {});
    let status = response.status();
    (status, json_body(response.into_body()).await)
}

/// Reads a whole response body as JSON; a body that is not JSON fails the test.
pub async fn json_body(body: axum::body::Body) -> serde_json::Value {
    use http_body_util::BodyExt as _;

    let bytes = body
        .collect()
        .await
        .unwrap_or_else(|error| panic!("reading the response: {error}"))
        .to_bytes();
    serde_json::from_slice(&bytes).unwrap_or_else(|error| {
        panic!(
            "response is not JSON ({error}): {}",
            String::from_utf8_lossy(&bytes)
        )
    })
}
