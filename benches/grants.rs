//! CPU cost of the grants on the memory store, against the floor the design sets: a password
//! grant should cost one Argon2 verify and little else; a refresh grant no Argon2 at all.
//!
//! `cargo bench --bench grants`

use std::sync::{Arc, Mutex};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt as _;
use token_endpoint::config::Config;
use token_endpoint::domain::grant::LockoutPolicy;
use token_endpoint::domain::{Secret, TokenService};
use token_endpoint::http::router;
use token_endpoint::startup::{
    self, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD, DEMO_USERNAME,
};
use token_endpoint::store::MemoryStore;
use tower::ServiceExt as _;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn token_request(form: String) -> Request<Body> {
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}"),
    );
    Request::post("/o/token/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .body(Body::from(form))
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn post(service: &Arc<TokenService<MemoryStore>>, form: String) -> serde_json::Value {
    let response = router(Arc::clone(service))
        .oneshot(token_request(form))
        .await
        .unwrap_or_else(|e| match e {});
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .to_bytes();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn grants(c: &mut Criterion) {
    let runtime = runtime();
    let config = Config::from_lookup(|_| None).unwrap_or_else(|e| panic!("{e}"));
    let service =
        startup::token_service(MemoryStore::new(), &config).unwrap_or_else(|e| panic!("{e}"));
    runtime
        .block_on(startup::seed_demo(&service))
        .unwrap_or_else(|e| panic!("{e}"));
    let password_form =
        format!("grant_type=password&username={DEMO_USERNAME}&password={DEMO_PASSWORD}");

    // The floor: one Argon2id verify at the default parameters, on this thread.
    let stored = service
        .verifier()
        .hash(&Secret::new(DEMO_PASSWORD))
        .unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("argon2id_verify_default_params", |b| {
        b.iter(|| {
            let hash = PasswordHash::new(&stored).unwrap_or_else(|e| panic!("{e}"));
            Argon2::default()
                .verify_password(DEMO_PASSWORD.as_bytes(), &hash)
                .unwrap_or_else(|e| panic!("{e}"));
        })
    });

    c.bench_function("password_grant_memory_store", |b| {
        b.to_async(&runtime)
            .iter(|| post(&service, password_form.clone()))
    });

    // Each iteration refreshes with the token the previous one received.
    let first = runtime.block_on(post(&service, password_form.clone()));
    let refresh_token = Mutex::new(
        first["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );
    c.bench_function("refresh_grant_memory_store", |b| {
        b.to_async(&runtime).iter(|| async {
            let current = refresh_token.lock().map(|t| t.clone()).unwrap_or_default();
            let body = post(
                &service,
                format!("grant_type=refresh_token&refresh_token={current}"),
            )
            .await;
            if let (Ok(mut slot), Some(next)) =
                (refresh_token.lock(), body["refresh_token"].as_str())
            {
                *slot = next.to_owned();
            }
        })
    });
}

/// Refusals must not reveal which usernames exist or are locked: their medians should match.
fn refusal_timing(c: &mut Criterion) {
    let runtime = runtime();
    let mut config = Config::from_lookup(|_| None).unwrap_or_else(|e| panic!("{e}"));
    // Never lock here, so wrong passwords stay wrong passwords however many iterations run.
    config.lockout = LockoutPolicy {
        free_failures: u32::MAX,
        ..LockoutPolicy::default()
    };
    let open =
        startup::token_service(MemoryStore::new(), &config).unwrap_or_else(|e| panic!("{e}"));
    runtime
        .block_on(startup::seed_demo(&open))
        .unwrap_or_else(|e| panic!("{e}"));
    // Lock at the first failure, for longer than the benchmark runs.
    config.lockout = LockoutPolicy {
        free_failures: 0,
        max_lock_seconds: 3600,
        memory_seconds: 3600,
    };
    let locking =
        startup::token_service(MemoryStore::new(), &config).unwrap_or_else(|e| panic!("{e}"));
    runtime
        .block_on(startup::seed_demo(&locking))
        .unwrap_or_else(|e| panic!("{e}"));
    let wrong = format!("grant_type=password&username={DEMO_USERNAME}&password=wrong");
    let unknown = "grant_type=password&username=nobody&password=wrong".to_owned();
    runtime.block_on(refuse(&locking, wrong.clone()));
    // A locked request waits as long as verifications have recently taken: let the locking
    // service see some, as a warm instance has, from usernames that each fail once.
    for warm_up in 0..16 {
        let form = format!("grant_type=password&username=warm-up-{warm_up}&password=wrong");
        runtime.block_on(refuse(&locking, form));
    }
    runtime.block_on(refuse(&open, wrong.clone()));

    let mut group = c.benchmark_group("refused_password_grant");
    group.bench_function("wrong_password", |b| {
        b.to_async(&runtime).iter(|| refuse(&open, wrong.clone()))
    });
    group.bench_function("unknown_user", |b| {
        b.to_async(&runtime).iter(|| refuse(&open, unknown.clone()))
    });
    group.bench_function("locked_user", |b| {
        b.to_async(&runtime)
            .iter(|| refuse(&locking, wrong.clone()))
    });
    group.finish();
}

async fn refuse(service: &Arc<TokenService<MemoryStore>>, form: String) {
    let response = router(Arc::clone(service))
        .oneshot(token_request(form))
        .await
        .unwrap_or_else(|e| match e {});
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = grants, refusal_timing
}
criterion_main!(benches);
