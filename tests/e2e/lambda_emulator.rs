//! The Lambda as AWS runs it: the release `bootstrap` under the AWS Lambda Runtime Interface
//! Emulator (RIE), with DynamoDB in moto, fed the events in `events/`: the API Gateway HTTP API
//! (payload v2) requests to the token function, and the authorizer events to the same
//! bootstrap started with `FUNCTION_KIND=authorizer`. `make test` installs the emulator
//! (aws-sam-cli, into .venv-sam) and builds the bootstrap (`sam build`, which runs
//! `cargo lambda build --release`); `AWS_LAMBDA_RIE` and `LAMBDA_BOOTSTRAP` point elsewhere.
//! Without them (or moto) the tests are skipped, see `support::skip`.

mod jwt;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use support::events::{
    ACCESS_PLACEHOLDER, HOST, REFRESH_PLACEHOLDER, SHAPES, Shape, event, event_json_with_token,
};
use support::process::{clean_command, dynamodb_env};
use token_endpoint::startup;
use token_endpoint::store::DynamoStore;
use token_endpoint::store::dynamodb::TableNames;

/// Where the RIE takes invocations, as the Lambda service would send them.
const INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";

/// An API Gateway response as the function returned it: status, headers (names lowercased)
/// and body (decoded if base64).
pub(crate) type Response = (u16, HashMap<String, String>, String);

/// Two ports nothing listens on, held together so they differ.
fn two_free_addresses() -> (SocketAddr, SocketAddr) {
    let bind = || TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    let (first, second) = (bind(), bind());
    let address = |listener: &TcpListener| listener.local_addr().expect("local address");
    (address(&first), address(&second))
}

/// Fresh tables in moto holding the demo client and user, as `oauth-admin` would provision.
pub(crate) fn seeded_tables() -> TableNames {
    let tables = support::unique_tables();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let store = DynamoStore::new(support::dynamodb_client(), tables.clone());
        store
            .create_tables()
            .await
            .expect("creating tables in moto");
        let service = support::service(store, &support::test_config());
        startup::seed_demo(&service)
            .await
            .expect("seeding the demo client and user");
    });
    tables
}

/// The RIE running the bootstrap; killed on drop, printing its log if the test failed (and
/// removing it if not).
pub(crate) struct Emulator {
    child: Child,
    invoke_address: SocketAddr,
    log_path: PathBuf,
}

impl Emulator {
    /// Starts the token function under the emulator, with the default settings.
    pub(crate) fn start(tables: &TableNames) -> Self {
        Self::start_with(tables, &[])
    }

    /// Starts the emulator, its function configured by `env` on top of the tables, and waits
    /// until it takes connections. The function itself starts (cold) at the first invocation.
    pub(crate) fn start_with(tables: &TableNames, env: &[(&str, &str)]) -> Self {
        Self::start_bootstrap(&support::lambda_bootstrap(), tables, env)
    }

    /// [`Emulator::start_with`], running `bootstrap`.
    fn start_bootstrap(bootstrap: &Path, tables: &TableNames, env: &[(&str, &str)]) -> Self {
        let rie = support::lambda_rie();
        let (invoke_address, runtime_api_address) = two_free_addresses();
        let log_path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("lambda-emulator-{}.log", invoke_address.port()));
        let log = File::create(&log_path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", log_path.display()));
        let log_too = log.try_clone().expect("duplicating the log file");
        // A clean environment: nothing from the developer's AWS profile or token settings.
        let child = clean_command(&rie)
            .arg("--runtime-interface-emulator-address")
            .arg(invoke_address.to_string())
            .arg("--runtime-api-address")
            .arg(runtime_api_address.to_string())
            .arg(bootstrap)
            .envs(dynamodb_env(support::moto_endpoint(), tables))
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_too)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", rie.display()));
        let mut emulator = Self {
            child,
            invoke_address,
            log_path,
        };
        emulator.wait_until_listening(Duration::from_secs(10));
        emulator
    }

    fn wait_until_listening(&mut self, patience: Duration) {
        let deadline = Instant::now() + patience;
        while TcpStream::connect_timeout(&self.invoke_address, Duration::from_secs(1)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the emulator exited before listening: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "the emulator is not listening on {} after {patience:?}",
                self.invoke_address
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Invokes the function with `event` and returns what it answered; panics on an
    /// invocation error (the function failed or panicked), which API Gateway would turn into
    /// a bare 500.
    pub(crate) fn invoke_json(&self, event: &Value) -> Value {
        let (status, raw) = http_post(self.invoke_address, INVOKE_PATH, event.to_string());
        let payload: Value = serde_json::from_str(&raw).unwrap_or_else(|e| {
            panic!("the emulator answered {status} with non-JSON ({e}): {raw}")
        });
        assert!(
            status == 200 && payload.get("errorType").is_none(),
            "Lambda invocation error ({status}): {payload}"
        );
        payload
    }

    /// Invokes the function with an API Gateway event; panics on an invocation error, which
    /// API Gateway would turn into a bare 500 instead of an OAuth response.
    pub(crate) fn invoke(&self, event: &Value) -> Response {
        let payload = self.invoke_json(event);
        let status_code = payload["statusCode"]
            .as_u64()
            .and_then(|code| u16::try_from(code).ok());
        let Some(status_code) = status_code else {
            panic!("not an API Gateway response: {payload}");
        };
        // HTTP API (payload 2.0) answers carry `headers`; REST API (1.0) answers may carry
        // `multiValueHeaders` instead, which API Gateway merges with them.
        let single = payload["headers"].as_object().into_iter().flatten();
        let multi = payload["multiValueHeaders"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, values)| (name, &values[0]));
        let headers = single
            .chain(multi)
            .map(|(name, value)| {
                let value = value
                    .as_str()
                    .unwrap_or_else(|| panic!("header {name}: {value}"));
                (name.to_ascii_lowercase(), value.to_owned())
            })
            .collect();
        let body = payload["body"].as_str().unwrap_or_default().to_owned();
        let body = if payload["isBase64Encoded"] == true {
            let bytes = STANDARD
                .decode(&body)
                .unwrap_or_else(|e| panic!("body is not base64 ({e}): {body}"));
            String::from_utf8(bytes).expect("body is not UTF-8")
        } else {
            body
        };
        (status_code, headers, body)
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- emulator and function log ({}) ---\n{}",
                self.log_path.display(),
                self.log()
            );
        } else {
            let _ = fs::remove_file(&self.log_path);
        }
    }
}

/// A minimal HTTP/1.1 POST: returns the status and the body.
fn http_post(address: SocketAddr, path: &str, body: String) -> (u16, String) {
    let mut stream =
        TcpStream::connect(address).unwrap_or_else(|e| panic!("connecting to {address}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("setting a read timeout");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut response = Vec::new();
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.read_to_end(&mut response))
        .unwrap_or_else(|e| panic!("POST {path} to {address}: {e}"));
    let response = String::from_utf8(response).expect("not UTF-8");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers: {response:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"));
    let chunked = lines.any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("transfer-encoding") && value.trim() == "chunked"
        })
    });
    let body = if chunked {
        dechunk(body).unwrap_or_else(|| panic!("bad chunked body: {body:?}"))
    } else {
        body.to_owned()
    };
    (status, body)
}

/// Joins a `Transfer-Encoding: chunked` body (extensions and trailers ignored).
fn dechunk(mut rest: &str) -> Option<String> {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.push_str(after.get(..size)?);
        rest = after.get(size..)?.strip_prefix("\r\n")?;
    }
}

/// `events/token-refresh.json` carrying `refresh_token`.
pub(crate) fn refresh_event(refresh_token: &str) -> Value {
    let mut event = event("token-refresh.json");
    assert_eq!(event["isBase64Encoded"], false, "{event}");
    let body = event["body"].as_str().unwrap_or_default();
    assert!(body.contains(REFRESH_PLACEHOLDER), "{body}");
    event["body"] = body.replace(REFRESH_PLACEHOLDER, refresh_token).into();
    event
}

/// Every answer, success or error, is uncacheable JSON (RFC 6749 §5.1).
fn assert_no_store_json(headers: &HashMap<String, String>) {
    for (name, value) in [
        ("content-type", "application/json"),
        ("cache-control", "no-store"),
        ("pragma", "no-cache"),
    ] {
        assert_eq!(
            headers.get(name).map(String::as_str),
            Some(value),
            "{headers:?}"
        );
    }
}

fn is_token(value: &Value) -> bool {
    value
        .as_str()
        .and_then(|token| token.split_once('.'))
        .is_some_and(|(family, secret)| {
            family.len() == 22
                && secret.len() == 30
                && (family.bytes().chain(secret.bytes())).all(|b| b.is_ascii_alphanumeric())
        })
}

/// Checks a token response with `scope`; returns its access and refresh tokens.
fn assert_issued(response: &Response, scope: &str) -> (String, String) {
    let (status, headers, body) = response;
    assert_eq!(*status, 200, "{body}");
    assert_no_store_json(headers);
    let tokens: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    assert!(is_token(&tokens["access_token"]), "{tokens}");
    assert!(is_token(&tokens["refresh_token"]), "{tokens}");
    assert_ne!(tokens["access_token"], tokens["refresh_token"]);
    assert_eq!(tokens["expires_in"], 3600, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer", "{tokens}");
    assert_eq!(tokens["scope"], scope, "{tokens}");
    assert_eq!(
        tokens.as_object().map(|fields| fields.len()),
        Some(5),
        "{tokens}"
    );
    let text = |name: &str| tokens[name].as_str().unwrap_or_default().to_owned();
    (text("access_token"), text("refresh_token"))
}

/// Checks an error response: its status and its exact body.
fn assert_error(response: &Response, status: u16, body: &str) {
    assert_eq!((response.0, response.2.as_str()), (status, body));
    assert_no_store_json(&response.1);
}

#[test]
fn password_then_refresh_rotation_through_the_emulator() {
    support::require!(Moto, Emulator, Bootstrap);
    let emulator = Emulator::start(&seeded_tables());

    let (access, refresh) = assert_issued(
        &emulator.invoke(&event("token-password.json")),
        "read write",
    );

    let (rotated_access, successor) =
        assert_issued(&emulator.invoke(&refresh_event(&refresh)), "read write");
    assert_ne!(rotated_access, access);
    assert_ne!(successor, refresh);

    // A retry (the answer was lost) gets the identical pair.
    let retried = assert_issued(&emulator.invoke(&refresh_event(&refresh)), "read write");
    assert_eq!(retried, (rotated_access, successor.clone()));

    let (_, third) = assert_issued(&emulator.invoke(&refresh_event(&successor)), "read write");
    assert_ne!(third, successor);
    // Its successor used, the first refresh token is spent.
    assert_error(
        &emulator.invoke(&refresh_event(&refresh)),
        400,
        r#"{"error": "invalid_grant"}"#,
    );
}

#[test]
fn json_body_and_refusals_through_the_emulator() {
    support::require!(Moto, Emulator, Bootstrap);
    let emulator = Emulator::start(&seeded_tables());

    assert_issued(&emulator.invoke(&event("token-json.json")), "read");
    assert_error(
        &emulator.invoke(&event("token-bad-credentials.json")),
        400,
        r#"{"error": "invalid_grant", "error_description": "Invalid credentials given."}"#,
    );
    assert_error(
        &emulator.invoke(&event("token-unsupported-grant.json")),
        400,
        r#"{"error": "unsupported_grant_type"}"#,
    );
}

/// The answer to a caller whose address is locked for the username.
const LOCKED: &str = r#"{"error": "invalid_grant", "error_description": "Too many failed attempts; try again later."}"#;

/// Password attempts are counted by the address API Gateway saw, read from the event:
/// `token-bad-credentials.json` and `token-password.json` come from 203.0.113.7 (HTTP API,
/// `requestContext.http.sourceIp`), `token-password-rest-api.json` from 198.51.100.23 (REST
/// API, `requestContext.identity.sourceIp`).
#[test]
fn guesses_from_one_source_ip_leave_another_free_through_the_emulator() {
    support::require!(Moto, Emulator, Bootstrap);
    let emulator = Emulator::start(&seeded_tables());
    let guess = event("token-bad-credentials.json");
    let wrong = r#"{"error": "invalid_grant", "error_description": "Invalid credentials given."}"#;
    // Six checked failures lock the address for 1 s; two more after each lock has passed
    // make it 4 s, long enough to look at it whatever second the clock is in.
    for _ in 0..6 {
        assert_error(&emulator.invoke(&guess), 400, wrong);
    }
    assert_error(&emulator.invoke(&guess), 400, LOCKED);
    for pause in [1, 2] {
        std::thread::sleep(Duration::from_millis(pause * 1000 + 100));
        assert_error(&emulator.invoke(&guess), 400, wrong);
    }
    assert_error(&emulator.invoke(&event("token-password.json")), 400, LOCKED);
    assert_issued(
        &emulator.invoke(&event("token-password-rest-api.json")),
        "read write",
    );
}

/// At `RUST_LOG=trace` the Lambda runtime would log each raw event (the Authorization header
/// and the body with the password) and the AWS SDK each response body (the password hash):
/// neither may reach the log, nor may the tokens issued.
#[test]
fn no_secret_reaches_the_log_at_trace_level() {
    support::require!(Moto, Emulator, Bootstrap);
    let emulator = Emulator::start_with(&seeded_tables(), &[("RUST_LOG", "trace")]);
    let password = event("token-password.json");
    let (access, refresh) = assert_issued(&emulator.invoke(&password), "read write");
    assert_issued(&emulator.invoke(&refresh_event(&refresh)), "read write");
    let log = emulator.log();
    assert!(
        log.contains(r#""level":"DEBUG""#) || log.contains(r#""level":"TRACE""#),
        "the function logged at a verbose level: {log}"
    );
    let authorization = password["headers"]["authorization"].as_str().unwrap();
    let body = password["body"].as_str().unwrap();
    for secret in [
        startup::DEMO_PASSWORD,
        startup::DEMO_CLIENT_SECRET,
        authorization.trim_start_matches("Basic "),
        body,
        &access,
        &refresh,
        "$argon2id$",
    ] {
        assert!(!log.contains(secret), "{secret:?} is in the log");
    }
}

#[test]
fn malformed_requests_get_oauth_errors_and_the_function_survives() {
    support::require!(Moto, Emulator, Bootstrap);
    let emulator = Emulator::start(&seeded_tables());
    let password = event("token-password.json");

    let mut percent_body = password.clone();
    percent_body["body"] = "%%%".into();
    percent_body["isBase64Encoded"] = false.into();

    let mut get = password.clone();
    get["requestContext"]["http"]["method"] = "GET".into();

    let mut not_utf8 = password.clone();
    not_utf8["body"] = STANDARD.encode([0xff, 0xfe]).into();

    let mut query = password.clone();
    query["rawQueryString"] = "password=demo-password".into();

    for (name, event, status, code) in [
        ("body %%%", percent_body, 400, "invalid_request"),
        ("GET", get, 405, "invalid_request"),
        ("non-UTF-8 body", not_utf8, 400, "invalid_request"),
        ("query string", query, 400, "invalid_request"),
    ] {
        let (got_status, headers, body) = emulator.invoke(&event);
        assert_eq!(got_status, status, "{name}: {body}");
        assert_no_store_json(&headers);
        let error: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {body}"));
        assert_eq!(error["error"], code, "{name}: {body}");
    }

    assert_issued(&emulator.invoke(&password), "read write");
    // One runtime process served them all: none of the bad requests crashed it (the emulator
    // would have started another, as Lambda does, logging a second INIT START).
    let log = emulator.log();
    assert_eq!(log.matches("INIT START").count(), 1, "{log}");
}

pub(crate) fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Introspects `token` through `events/introspect-token.json`.
pub(crate) fn introspection(emulator: &Emulator, token: &str) -> Value {
    let (status, headers, body) =
        emulator.invoke(&event_json_with_token("introspect-token.json", token));
    assert_eq!(status, 200, "{body}");
    assert_no_store_json(&headers);
    json_of(&body)
}

/// Revokes `token` through `events/revoke-token.json`: 200, empty, uncacheable.
fn revoke(emulator: &Emulator, token: &str) {
    let (status, headers, body) =
        emulator.invoke(&event_json_with_token("revoke-token.json", token));
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(
        headers.get("cache-control").map(String::as_str),
        Some("no-store"),
        "{headers:?}"
    );
}

#[test]
fn client_credentials_and_metadata_through_the_emulator() {
    support::require!(Moto, Emulator, Bootstrap);
    let emulator = Emulator::start(&seeded_tables());

    let (status, headers, body) = emulator.invoke(&event("token-client-credentials.json"));
    assert_eq!(status, 200, "{body}");
    assert_no_store_json(&headers);
    let tokens = json_of(&body);
    assert!(is_token(&tokens["access_token"]), "{tokens}");
    // RFC 6749 §4.4.3: no refresh token.
    assert_eq!(
        tokens,
        json!({
            "access_token": tokens["access_token"], "expires_in": 3600,
            "token_type": "Bearer", "scope": "read",
        })
    );
    let access = tokens["access_token"].as_str().unwrap_or_default();
    let active = introspection(&emulator, access);
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["client_id"], "demo-client", "{active}");
    assert!(active.get("username").is_none(), "{active}");

    // The named stage `prod` is in rawPath; it comes out of the path and into every URL.
    let (status, headers, body) = emulator.invoke(&event("metadata.json"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    let metadata = json_of(&body);
    let issuer = format!("https://{HOST}/prod");
    assert_eq!(metadata["issuer"], issuer, "{metadata}");
    for (field, path) in [
        ("token_endpoint", "/o/token/"),
        ("revocation_endpoint", "/o/revoke_token/"),
        ("introspection_endpoint", "/o/introspect/"),
    ] {
        assert_eq!(metadata[field], format!("{issuer}{path}"), "{metadata}");
    }
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["password", "refresh_token", "client_credentials"])
    );
}

#[test]
fn revoke_and_introspect_round_trip_through_the_emulator() {
    support::require!(Moto, Emulator, Bootstrap);
    let emulator = Emulator::start(&seeded_tables());
    let password = event("token-password.json");

    let (access, refresh) = assert_issued(&emulator.invoke(&password), "read write");
    let active = introspection(&emulator, &access);
    let (exp, iat) = (active["exp"].clone(), active["iat"].clone());
    assert_eq!(
        exp.as_u64().zip(iat.as_u64()).map(|(exp, iat)| exp - iat),
        Some(3600),
        "{active}"
    );
    assert_eq!(
        active,
        json!({
            "active": true, "scope": "read write", "client_id": "demo-client",
            "username": "demo", "token_type": "Bearer", "exp": exp, "iat": iat,
        })
    );
    // A refresh token is not an access token; the placeholder is no token.
    assert_eq!(introspection(&emulator, &refresh), json!({"active": false}));
    assert_eq!(
        introspection(&emulator, ACCESS_PLACEHOLDER),
        json!({"active": false})
    );

    revoke(&emulator, &access);
    assert_eq!(introspection(&emulator, &access), json!({"active": false}));
    // The refresh token issued with it is gone too.
    assert_error(
        &emulator.invoke(&refresh_event(&refresh)),
        400,
        r#"{"error": "invalid_grant"}"#,
    );
    // Unknown and already revoked tokens get the same answer (RFC 7009 §2.2).
    revoke(&emulator, ACCESS_PLACEHOLDER);
    revoke(&emulator, &access);

    // Revoking a refresh token revokes the access token issued with it.
    let (access, refresh) = assert_issued(&emulator.invoke(&password), "read write");
    revoke(&emulator, &refresh);
    assert_eq!(introspection(&emulator, &access), json!({"active": false}));
}

/// Runs an authorizer event under the emulator.
trait Decide {
    fn decide(self, authorizer: &Emulator, token: &str) -> Option<Value>;
}

impl Decide for Shape {
    /// Invokes the authorizer with this event carrying `Authorization: Bearer <token>`;
    /// checks the answer's exact shape and returns the context if it allows the request.
    fn decide(self, authorizer: &Emulator, token: &str) -> Option<Value> {
        self.decision(&authorizer.invoke_json(&self.with_token(token)))
    }
}

#[test]
fn authorizer_through_the_emulator() {
    support::require!(Moto, Emulator, Bootstrap);
    let tables = seeded_tables();
    let token_function = Emulator::start(&tables);
    // Tokens that live 2 s: live for at least 1 s after they are issued, expired 2 s after.
    let short_lived = Emulator::start_with(&tables, &[("ACCESS_TOKEN_LIFETIME_SECONDS", "2")]);
    let authorizer = Emulator::start_with(&tables, &[("FUNCTION_KIND", "authorizer")]);
    let password = event("token-password.json");

    // The placeholder is no token. This also gets the authorizer's cold start out of the way.
    for shape in SHAPES {
        assert_eq!(
            shape.decide(&authorizer, ACCESS_PLACEHOLDER),
            None,
            "{shape:?}"
        );
    }

    let (status, _, body) = short_lived.invoke(&password);
    let issued = Instant::now();
    assert_eq!(status, 200, "{body}");
    let tokens = json_of(&body);
    assert_eq!(tokens["expires_in"], 2, "{tokens}");
    let short = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for shape in SHAPES {
        let allowed = shape.decide(&authorizer, &short);
        assert!(
            allowed.is_some() || issued.elapsed() >= Duration::from_secs(1),
            "{shape:?}: a token denied {:?} after it was issued for 2 s",
            issued.elapsed()
        );
    }

    // A fresh token: allowed, and the backend learns who calls.
    let (access, _) = assert_issued(&token_function.invoke(&password), "read write");
    let exp = introspection(&token_function, &access)["exp"].clone();
    let (status, _, body) = token_function.invoke(&event("token-client-credentials.json"));
    assert_eq!(status, 200, "{body}");
    let client_token = json_of(&body)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for shape in SHAPES {
        assert_eq!(
            shape.decide(&authorizer, &access),
            Some(json!({
                "client_id": "demo-client", "username": "demo", "scope": "read write",
                "expires_at": exp,
            })),
            "{shape:?}"
        );
        let client = shape
            .decide(&authorizer, &client_token)
            .unwrap_or_else(|| panic!("{shape:?}: a client credentials token denied"));
        assert_eq!(client["client_id"], "demo-client", "{shape:?}");
        assert_eq!(client["scope"], "read", "{shape:?}");
        assert!(client.get("username").is_none(), "{shape:?}: {client}");
    }

    // Revoked: denied from the next request on.
    revoke(&token_function, &access);
    for shape in SHAPES {
        assert_eq!(shape.decide(&authorizer, &access), None, "{shape:?}");
    }

    // Expired (DynamoDB's TTL has not deleted it; the authorizer checks the expiry itself).
    std::thread::sleep(
        (issued + Duration::from_millis(2100)).saturating_duration_since(Instant::now()),
    );
    for shape in SHAPES {
        assert_eq!(shape.decide(&authorizer, &short), None, "{shape:?}");
    }
    assert_eq!(
        introspection(&token_function, &short),
        json!({"active": false})
    );

    // One authorizer process answered every event.
    let log = authorizer.log();
    assert_eq!(log.matches("INIT START").count(), 1, "{log}");
}

/// Not a check: prints the cold start, from starting the emulator process to the first token
/// response, over 7 runs.
#[test]
#[ignore = "measurement: cargo test --test e2e lambda_emulator -- --ignored --nocapture"]
fn measure_cold_start_to_first_token() {
    support::require!(Moto, Emulator, Bootstrap);
    let tables = seeded_tables();
    let password = event("token-password.json");
    let raw: Vec<f64> = (0..7)
        .map(|_| {
            let started = Instant::now();
            let emulator = Emulator::start(&tables);
            let response = emulator.invoke(&password);
            let elapsed = started.elapsed();
            assert_issued(&response, "read write");
            elapsed.as_secs_f64() * 1000.0
        })
        .collect();
    let mut sorted = raw.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "cold start, emulator process start to first token response, ms: {raw:.1?}; \
         median {:.1}",
        sorted[sorted.len() / 2]
    );
}

/// Not a check: prints the function's init as the emulator reports it (its `INIT REPORT`
/// line, what Lambda reports as the cold start's init), over 7 cold starts each
/// answering a password grant. With `LAMBDA_BOOTSTRAP_BASE` (another build's bootstrap, say
/// an older commit's), that one is measured too, interleaved run by run on the same tables.
#[test]
#[ignore = "measurement: cargo test --test e2e lambda_emulator -- --ignored --nocapture"]
fn measure_init_duration() {
    support::require!(Moto, Emulator, Bootstrap);
    let tables = seeded_tables();
    let password = event("token-password.json");
    let base = std::env::var_os("LAMBDA_BOOTSTRAP_BASE").map(PathBuf::from);
    let mut sides = vec![("bootstrap", support::lambda_bootstrap())];
    sides.extend(base.map(|base| ("base", base)));
    let mut inits: Vec<Vec<f64>> = vec![Vec::new(); sides.len()];
    for run in 0..7 {
        for side in 0..sides.len() {
            // Alternate which goes first, so neither always follows the other's warm caches.
            let index = (side + run) % sides.len();
            let emulator = Emulator::start_bootstrap(&sides[index].1, &tables, &[]);
            let response = emulator.invoke(&password);
            // An older build may not read what this one's tables hold: it need only start.
            if index == 0 {
                assert_issued(&response, "read write");
            }
            inits[index].push(init_duration_ms(&emulator));
        }
    }
    for ((name, path), mut runs) in sides.into_iter().zip(inits) {
        let raw = runs.clone();
        runs.sort_by(f64::total_cmp);
        println!(
            "init duration ({name}: {}), ms: {raw:.2?}; median {:.2}",
            path.display(),
            runs[runs.len() / 2]
        );
    }
}

/// The function's init as the emulator's `INIT REPORT(durationMs: …)` line gives it (its
/// REPORT line's `Init Duration` is not the init).
fn init_duration_ms(emulator: &Emulator) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = emulator.log();
        let init = log
            .split("INIT REPORT(durationMs: ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .and_then(|value| value.trim().parse().ok());
        match init {
            Some(init) => return init,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            None => panic!("no INIT REPORT in the emulator's log:\n{log}"),
        }
    }
}

/// Not a check: prints the function's peak resident memory (VmHWM) after a burst of password
/// grants under the emulator.
#[test]
#[ignore = "measurement: cargo test --test e2e lambda_emulator -- --ignored --nocapture"]
fn measure_peak_memory_during_password_grants() {
    support::require!(Moto, Emulator, Bootstrap);
    let tables = seeded_tables();
    let password = event("token-password.json");
    let emulator = Emulator::start(&tables);
    for _ in 0..30 {
        assert_issued(&emulator.invoke(&password), "read write");
    }
    // The bootstrap is the emulator's child process.
    let rie_pid = emulator.child.id();
    let children = std::fs::read_to_string(format!("/proc/{rie_pid}/task/{rie_pid}/children"))
        .unwrap_or_default();
    let peaks: Vec<String> = std::fs::read_dir(format!("/proc/{rie_pid}/task"))
        .into_iter()
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("children")).ok())
        .chain([children])
        .flat_map(|pids| {
            pids.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .map(|line| line.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .collect();
    println!("peak resident memory of the function after 30 password grants: {peaks:?}");
}
