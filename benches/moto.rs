//! The grants against a real DynamoDB-compatible server (moto on 127.0.0.1, one request at a
//! time), through the router: per-grant latency (p50, p99), the DynamoDB calls each grant makes
//! (counted by the same SDK interceptor that feeds the production log line), which operations
//! they are and how many sequential round trips they take. Writes `target/moto.json` for
//! `scripts/bench.sh`.
//!
//! `cargo bench --bench moto` (needs `.venv` with moto: `make dev-deps`)

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use test_support::operation_log::OperationLog;
use token_endpoint::domain::TokenService;
use token_endpoint::http::Discovery;
use token_endpoint::startup::{self, DEMO_PASSWORD, DEMO_USERNAME};
use token_endpoint::store::DynamoStore;
use token_endpoint::telemetry::StoreTime;

mod support;
use ::support as test_support;
use support::moto::Series;

const GRANTS: usize = 200;

/// A token request from the opaque demo client, through the router.
async fn send(
    service: &Arc<TokenService<DynamoStore>>,
    form: &str,
) -> (StatusCode, Value, Duration, StoreTime) {
    support::moto::send(service, &Discovery::default(), support::token_request(form)).await
}

/// Logins of one user from one address at once, as an integration whose workers start together
/// makes them.
const BURST: usize = 32;

/// The burst, on a fresh service: each login's latency (p50, p99, and what they add to an
/// uncontended login's median, `single_ms`), and what the burst wrote. Write units: one per
/// single-item write (a refused conditional write is charged too; attempt records stay under
/// 1 KB), two per item of a transaction (the password grant's puts 3); reads are the polls of
/// logins waiting for the attempts ahead of them (strongly consistent, half a read unit each).
async fn burst(
    config: &token_endpoint::config::Config,
    log: &OperationLog,
    size: usize,
    single_ms: f64,
) -> Value {
    let store = DynamoStore::new(log.client(), test_support::unique_tables());
    store
        .create_tables()
        .await
        .unwrap_or_else(|e| panic!("creating tables: {e}"));
    let service = startup::token_service(store, config).unwrap_or_else(|e| panic!("{e}"));
    startup::seed_demo(&service)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let form = format!("grant_type=password&username={DEMO_USERNAME}&password={DEMO_PASSWORD}");
    send(&service, &form).await;
    log.take();
    let logins: Vec<_> = (0..size)
        .map(|_| {
            let (service, form) = (Arc::clone(&service), form.clone());
            tokio::spawn(async move { send(&service, &form).await })
        })
        .collect();
    let (mut latencies, mut issued) = (Vec::new(), 0);
    for login in logins {
        let (status, _, elapsed, _) = login.await.unwrap_or_else(|e| panic!("{e}"));
        issued += usize::from(status == StatusCode::OK);
        latencies.push(elapsed.as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    let quantile = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    let operations = log.take();
    let count = |name: &str| operations.iter().filter(|op| op.as_str() == name).count();
    let attempt_writes = count("UpdateItem") + count("PutItem") + count("DeleteItem");
    let transactions = count("TransactWriteItems");
    json!({
        "logins": size,
        "issued": issued,
        "p50_ms": quantile(0.5),
        "p99_ms": quantile(0.99),
        "single_ms": single_ms,
        "added_p50_ms": quantile(0.5) - single_ms,
        "added_p99_ms": quantile(0.99) - single_ms,
        "attempt_write_units": attempt_writes,
        "token_write_units": 2 * 3 * transactions,
        "write_units": attempt_writes + 2 * 3 * transactions,
        "polls": count("GetItem"),
    })
}

fn main() {
    // Without moto, `cargo test --all-targets` (which runs benches once) skips this one.
    if !test_support::skip::available(&[test_support::skip::Tool::Moto]) {
        return;
    }
    let grants = if std::env::args().any(|arg| arg == "--bench") {
        GRANTS
    } else {
        3
    };
    let runtime = support::runtime();
    let summary = runtime.block_on(async {
        // Production Argon2 settings: the password grant's figure includes its one verify.
        let config = test_support::test_config();
        let log = OperationLog::default();
        let store = DynamoStore::new(log.client(), test_support::unique_tables());
        store
            .create_tables()
            .await
            .unwrap_or_else(|e| panic!("creating tables: {e}"));
        let service = startup::token_service(store, &config).unwrap_or_else(|e| panic!("{e}"));
        startup::seed_demo(&service)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let password_form =
            format!("grant_type=password&username={DEMO_USERNAME}&password={DEMO_PASSWORD}");
        // Warm-up: connections, the client-secret cache.
        for _ in 0..5 {
            send(&service, &password_form).await;
        }
        log.take();

        let mut password = Series::default();
        let mut refresh_token = String::new();
        for _ in 0..grants {
            let (status, body, elapsed, store) = send(&service, &password_form).await;
            password.add(status, elapsed, store, &log);
            refresh_token = body["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        }
        let mut refresh = Series::default();
        for _ in 0..grants {
            let form = format!("grant_type=refresh_token&refresh_token={refresh_token}");
            let (status, body, elapsed, store) = send(&service, &form).await;
            refresh.add(status, elapsed, store, &log);
            refresh_token = body["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        }
        let mut client_credentials = Series::default();
        for _ in 0..grants {
            let (status, _, elapsed, store) = send(&service, "grant_type=client_credentials").await;
            client_credentials.add(status, elapsed, store, &log);
        }
        // Refusals: the same calls and round trips for a wrong password, an unknown user and a
        // locked address (the demo user's address is locked after these failures).
        let mut refusals = serde_json::Map::new();
        for (name, form) in [
            (
                "wrong_password",
                format!("grant_type=password&username={DEMO_USERNAME}&password=wrong"),
            ),
            (
                "unknown_user",
                "grant_type=password&username=nobody&password=wrong".to_owned(),
            ),
        ] {
            let (status, ..) = send(&service, &form).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            let (operations, round_trips) = log.take_rounds();
            refusals.insert(
                name.into(),
                json!({"operations": operations, "round_trips": round_trips}),
            );
        }
        let wrong = format!("grant_type=password&username={DEMO_USERNAME}&password=wrong");
        let mut locked = None;
        for _ in 0..10 {
            let (status, body, ..) = send(&service, &wrong).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            let calls = log.take_rounds();
            if body["error_description"] == "Too many failed attempts; try again later." {
                locked = Some(calls);
                break;
            }
        }
        let (operations, round_trips) = locked.unwrap_or_else(|| panic!("never locked"));
        refusals.insert(
            "locked".into(),
            json!({"operations": operations, "round_trips": round_trips}),
        );
        let logins = if grants == GRANTS { BURST } else { 6 };
        let burst = burst(&config, &log, logins, password.median_ms()).await;
        json!({
            "burst": burst,
            "refusals": refusals,
            "password": password.summary(),
            "refresh_token": refresh.summary(),
            "client_credentials": client_credentials.summary(),
        })
    });
    println!("{summary:#}");
    std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/moto.json"),
        summary.to_string(),
    )
    .unwrap_or_else(|e| panic!("writing target/moto.json: {e}"));
}
