//! CPU cost of the grants on the memory store, against the floor the design sets: a password
//! grant should cost one Argon2 verify and little else; a refresh grant no Argon2 at all.
//!
//! `cargo bench --bench grants`

use std::sync::{Arc, Mutex};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
use criterion::{Criterion, criterion_group, criterion_main};
use token_endpoint::config::Config;
use token_endpoint::domain::{Secret, TokenService};
use token_endpoint::startup::{DEMO_PASSWORD, DEMO_USERNAME};
use token_endpoint::store::MemoryStore;

mod support;

async fn post(service: &Arc<TokenService<MemoryStore>>, form: String) -> serde_json::Value {
    support::answer(service, Default::default(), support::token_request(&form)).await
}

fn grants(c: &mut Criterion) {
    let runtime = support::runtime();
    let config = Config::from_lookup(|_| None).unwrap_or_else(|e| panic!("{e}"));
    let service = support::demo_service(&config, &runtime);
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

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = grants
}
criterion_main!(benches);
