//! Interleaved timing: measurements that are compared with each other run in alternation,
//! round after round, so that drift in the machine's speed (other tenants, frequency changes)
//! affects all of them alike. Prints medians and writes them to `target/timing.json`.
//!
//! `cargo bench --bench timing`

use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
use axum::http::StatusCode;
use token_endpoint::config::Config;
use token_endpoint::domain::credentials::{Argon2Settings, CredentialVerifier};
use token_endpoint::domain::login_throttle::LockoutPolicy;
use token_endpoint::domain::names::Username;
use token_endpoint::domain::store::prelude::*;
use token_endpoint::domain::{Secret, TokenService, User};
use token_endpoint::http::router;
use token_endpoint::startup::{DEMO_PASSWORD, DEMO_USERNAME};
use token_endpoint::store::MemoryStore;
use tower::ServiceExt as _;

mod support;

const ROUNDS: usize = 120;

async fn timed(
    service: &Arc<TokenService<MemoryStore>>,
    form: &str,
    expected: StatusCode,
) -> Duration {
    let started = Instant::now();
    let response = router(Arc::clone(service), Default::default())
        .oneshot(support::token_request(form))
        .await
        .unwrap_or_else(|e| match e {});
    let elapsed = started.elapsed();
    assert_eq!(response.status(), expected);
    elapsed
}

fn median_ms(samples: &mut [Duration]) -> f64 {
    samples.sort_unstable();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    // `cargo test --all-targets` runs benches once as tests; a short run is enough there.
    let rounds = if std::env::args().any(|arg| arg == "--bench") {
        ROUNDS
    } else {
        3
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut config = Config::from_lookup(|_| None).unwrap_or_else(|e| panic!("{e}"));
    // Nothing locks: every round's refusals are checked ones.
    config.lockout = LockoutPolicy {
        free_failures: u32::MAX,
        username_ceiling: u32::MAX,
        ..LockoutPolicy::default()
    };
    let open = support::demo_service(&config, &runtime);
    // One failure locks `demo` everywhere for an hour, so every later attempt is refused
    // unchecked, as a locked caller's is.
    config.lockout = LockoutPolicy {
        username_ceiling: 1,
        username_lock_seconds: 3600,
        ..LockoutPolicy::default()
    };
    let locking = support::demo_service(&config, &runtime);

    let password = format!("grant_type=password&username={DEMO_USERNAME}&password={DEMO_PASSWORD}");
    let wrong = format!("grant_type=password&username={DEMO_USERNAME}&password=wrong");
    let unknown = "grant_type=password&username=nobody&password=wrong";
    // A user whose hash predates a raise of the parameters: half the memory, one pass.
    let outdated = "grant_type=password&username=outdated&password=wrong";
    let before_the_raise = CredentialVerifier::new(Argon2Settings {
        memory_kib: Argon2Settings::default().memory_kib / 2,
        iterations: 1,
        parallelism: 1,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let outdated_user = User {
        username: Username::parse("outdated").unwrap_or_else(|e| panic!("{e}")),
        password_hash: before_the_raise
            .hash(&Secret::new("an old password"))
            .unwrap_or_else(|e| panic!("{e}")),
        created_at: 0,
    };
    let stored = open
        .verifier()
        .hash(&Secret::new(DEMO_PASSWORD))
        .unwrap_or_else(|e| panic!("{e}"));

    runtime.block_on(async {
        let created = open.store().create_user(&outdated_user).await;
        created.unwrap_or_else(|e| panic!("{e}"));
        // Warm up: caches the client secret, locks `demo` in the locking service, and lets
        // that service time some verifications, as a warm instance has.
        timed(&open, &password, StatusCode::OK).await;
        timed(&locking, &wrong, StatusCode::BAD_REQUEST).await;
        for warm_up in 0..8 {
            let form = format!("grant_type=password&username=warm-up-{warm_up}&password=wrong");
            timed(&locking, &form, StatusCode::BAD_REQUEST).await;
        }
    });

    let (mut bare, mut granted, mut wrong_times, mut unknown_times, mut locked_times) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut outdated_times = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let hash = PasswordHash::new(&stored).unwrap_or_else(|e| panic!("{e}"));
        Argon2::default()
            .verify_password(DEMO_PASSWORD.as_bytes(), &hash)
            .unwrap_or_else(|e| panic!("{e}"));
        bare.push(started.elapsed());
        runtime.block_on(async {
            granted.push(timed(&open, &password, StatusCode::OK).await);
            wrong_times.push(timed(&open, &wrong, StatusCode::BAD_REQUEST).await);
            unknown_times.push(timed(&open, unknown, StatusCode::BAD_REQUEST).await);
            outdated_times.push(timed(&open, outdated, StatusCode::BAD_REQUEST).await);
            locked_times.push(timed(&locking, &wrong, StatusCode::BAD_REQUEST).await);
        });
    }
    let medians = [
        ("argon2id_verify_ms", median_ms(&mut bare)),
        ("password_grant_ms", median_ms(&mut granted)),
        ("wrong_password_ms", median_ms(&mut wrong_times)),
        ("unknown_user_ms", median_ms(&mut unknown_times)),
        ("outdated_hash_ms", median_ms(&mut outdated_times)),
        ("locked_user_ms", median_ms(&mut locked_times)),
    ];
    let json = serde_json::Value::Object(
        medians
            .iter()
            .map(|(name, value)| ((*name).to_owned(), serde_json::json!(value)))
            .chain([("rounds".to_owned(), serde_json::json!(rounds))])
            .collect(),
    );
    for (name, value) in medians {
        println!("{name:<22} {value:>8.2}");
    }
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/timing.json");
    if let Err(error) = std::fs::write(&target, json.to_string()) {
        eprintln!("could not write {}: {error}", target.display());
    }
}
