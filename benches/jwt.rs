//! CPU cost of JWT access tokens (RFC 9068, RS256 over aws-lc-rs RSA-2048) against opaque
//! ones, in process: signing and verifying one token, generating and parsing a key, the
//! grants of a JWT client against those of an opaque one on the memory store, and the Lambda
//! authorizer's decision on either kind of token. Then the same comparisons interleaved, round
//! by round, so that drift in the machine's speed cancels out of the differences; those medians
//! go to `target/jwt-timing.json` for `scripts/bench.sh`.
//!
//! `cargo bench --bench jwt`

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use serde_json::{Value, json};
use token_endpoint::config::Config;
use token_endpoint::domain::TokenService;
use token_endpoint::domain::clock::{Clock, SystemClock};
use token_endpoint::domain::signing::{
    AccessTokenClaims, KeyRing, KeyRingTiming, SigningKey, UnverifiedJwt, VerifyingKey,
    encode_access_token,
};
use token_endpoint::lambda::authorizer::{Authorizer, authorize};
use token_endpoint::startup::{DEMO_JWT_CLIENT_ID, DEMO_PASSWORD, DEMO_USERNAME};
use token_endpoint::store::MemoryStore;

mod support;
use support::Format;

const ROUNDS: usize = 2000;

type Service = Arc<TokenService<MemoryStore>>;

/// A token request from the demo client of `format` through the router; the answer's body.
async fn post(service: &Service, format: Format, form: &str) -> Value {
    let request = support::token_request_from(format, form);
    support::answer(service, support::discovery(), request).await
}

/// A chain of refresh grants for one client: each uses the refresh token the last one got.
struct RefreshChain {
    format: Format,
    token: Mutex<String>,
}

impl RefreshChain {
    async fn start(service: &Service, format: Format) -> Self {
        let form = format!("grant_type=password&username={DEMO_USERNAME}&password={DEMO_PASSWORD}");
        let body = post(service, format, &form).await;
        Self {
            format,
            token: Mutex::new(body["refresh_token"].as_str().unwrap_or_default().into()),
        }
    }

    async fn next(&self, service: &Service) {
        let current = self.token.lock().map(|t| t.clone()).unwrap_or_default();
        let form = format!("grant_type=refresh_token&refresh_token={current}");
        let body = post(service, self.format, &form).await;
        if let (Ok(mut slot), Some(next)) = (self.token.lock(), body["refresh_token"].as_str()) {
            *slot = next.to_owned();
        }
    }
}

/// The Lambda authorizer over the service's store, as the authorizer function builds it: a
/// key ring that only verifies, the issuer derived from each event.
fn authorizer(service: &Service, runtime: &tokio::runtime::Runtime) -> Authorizer<MemoryStore> {
    let store = service.store().clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = KeyRing::verifying(store.clone(), Arc::clone(&clock), KeyRingTiming::default());
    runtime
        .block_on(keys.warm_up())
        .unwrap_or_else(|e| panic!("{e}"));
    Authorizer {
        store,
        keys,
        issuer: None,
        audiences: Vec::new(),
        clock,
        accepts_dpop: true,
    }
}

/// An HTTP API authorizer event carrying `token`, as API Gateway sends it.
fn authorizer_event(token: &str) -> Value {
    ::support::events::Shape::HttpApi.with_authorization(Some(&format!("Bearer {token}")))
}

async fn decide(authorizer: &Authorizer<MemoryStore>, event: Value) {
    let answer = authorize(authorizer, event)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer["isAuthorized"], true, "{answer}");
}

/// An access token of each kind, from a client credentials grant.
fn access_tokens(service: &Service, runtime: &tokio::runtime::Runtime) -> [String; 2] {
    Format::BOTH.map(|format| {
        let body = runtime.block_on(post(service, format, "grant_type=client_credentials"));
        body["access_token"].as_str().unwrap_or_default().to_owned()
    })
}

/// Claims as a refresh grant of the demo JWT client writes them.
fn claims() -> AccessTokenClaims {
    let now = SystemClock.now();
    AccessTokenClaims {
        cnf: None,
        iss: support::issuer(),
        sub: DEMO_USERNAME.into(),
        aud: support::issuer(),
        exp: now + 3600,
        iat: now,
        jti: "Xq3vR8mT2pL9wK4nB7cY1dF6gH0jZ5sA".into(),
        client_id: DEMO_JWT_CLIENT_ID.into(),
        scope: "read write".into(),
    }
}

fn signing(c: &mut Criterion) {
    let key = SigningKey::generate().unwrap_or_else(|e| panic!("{e}"));
    let verifying = VerifyingKey::from_jwk(&key.public_jwk()).unwrap_or_else(|| panic!("jwk"));
    let claims = claims();
    let token = encode_access_token(&key, &claims).unwrap_or_else(|e| panic!("{e}"));
    let token = token.expose().to_owned();
    let (signing_input, _) = token.rsplit_once('.').unwrap_or_default();
    let signature = key
        .sign(signing_input.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let issuer = support::issuer();
    let now = SystemClock.now();

    // The whole token: header and claims to JSON, base64url, RS256 signature.
    c.bench_function("jwt_encode_access_token_rs256", |b| {
        b.iter(|| encode_access_token(&key, &claims).unwrap_or_else(|e| panic!("{e}")))
    });
    // The RSA-2048 private-key operation alone, over the same signing input.
    c.bench_function("rsa2048_pkcs1_sha256_sign", |b| {
        b.iter(|| {
            key.sign(signing_input.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"))
        })
    });
    // The authorizer's check: header, signature, claims, issuer and expiry.
    c.bench_function("jwt_parse_and_verify_rs256", |b| {
        b.iter(|| {
            UnverifiedJwt::parse(&token)
                .and_then(|jwt| jwt.verify(&verifying, &issuer, now))
                .unwrap_or_else(|e| panic!("{e}"))
        })
    });
    c.bench_function("rsa2048_pkcs1_sha256_verify", |b| {
        b.iter(|| assert!(verifying.verifies(signing_input.as_bytes(), &signature)))
    });
    // What a cold instance does to the PKCS#8 key its vault unsealed.
    let der = key.private_der().unwrap_or_else(|e| panic!("{e}"));
    c.bench_function("rsa2048_parse_pkcs8_key", |b| {
        b.iter(|| SigningKey::from_private_der(key.kid(), &der).unwrap_or_else(|e| panic!("{e}")))
    });

    // Key generation (oauth-admin rotate-signing-key): a prime search, whose time varies a lot
    // from one key to the next.
    let mut generation = c.benchmark_group("rsa2048_generate");
    generation
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    generation.bench_function("key", |b| {
        b.iter(|| SigningKey::generate().unwrap_or_else(|e| panic!("{e}")))
    });
    generation.finish();
}

fn grants(c: &mut Criterion, runtime: &tokio::runtime::Runtime, service: &Service) {
    for format in Format::BOTH {
        // The client's secret is checked once, then cached: no Argon2 here.
        c.bench_function(
            &format!("client_credentials_grant_{}_memory_store", format.name()),
            |b| {
                b.to_async(runtime)
                    .iter(|| post(service, format, "grant_type=client_credentials"))
            },
        );
        let chain = runtime.block_on(RefreshChain::start(service, format));
        c.bench_function(
            &format!("refresh_grant_{}_memory_store", format.name()),
            |b| b.to_async(runtime).iter(|| chain.next(service)),
        );
    }
    let authorizer = authorizer(service, runtime);
    for (format, token) in Format::BOTH
        .into_iter()
        .zip(access_tokens(service, runtime))
    {
        let event = authorizer_event(&token);
        c.bench_function(
            &format!("authorizer_decision_{}_memory_store", format.name()),
            |b| {
                b.to_async(runtime)
                    .iter(|| decide(&authorizer, event.clone()))
            },
        );
    }
}

fn median_us(samples: &mut [Duration]) -> f64 {
    samples.sort_unstable();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

/// Each round times one of each, opaque and JWT side by side.
fn interleaved(runtime: &tokio::runtime::Runtime, service: &Service, rounds: usize) -> Value {
    let authorizer = authorizer(service, runtime);
    let events = access_tokens(service, runtime).map(|token| authorizer_event(&token));
    let chains = runtime.block_on(async {
        [
            RefreshChain::start(service, Format::Opaque).await,
            RefreshChain::start(service, Format::Jwt).await,
        ]
    });
    // [client credentials, refresh, authorizer] × [opaque, JWT]
    let mut samples: [[Vec<Duration>; 2]; 3] = Default::default();
    runtime.block_on(async {
        for _ in 0..rounds {
            for (side, format) in Format::BOTH.into_iter().enumerate() {
                let started = Instant::now();
                post(service, format, "grant_type=client_credentials").await;
                samples[0][side].push(started.elapsed());
                let started = Instant::now();
                chains[side].next(service).await;
                samples[1][side].push(started.elapsed());
                let started = Instant::now();
                decide(&authorizer, events[side].clone()).await;
                samples[2][side].push(started.elapsed());
            }
        }
    });
    let mut result = serde_json::Map::new();
    for (name, [opaque, jwt]) in ["client_credentials", "refresh", "authorizer"]
        .into_iter()
        .zip(samples.iter_mut())
    {
        let (opaque, jwt) = (median_us(opaque), median_us(jwt));
        println!(
            "interleaved {name:<20} opaque {opaque:>8.1} µs   jwt {jwt:>8.1} µs   +{:.1} µs",
            jwt - opaque
        );
        result.insert(name.into(), json!({"opaque_us": opaque, "jwt_us": jwt}));
    }
    result.insert("rounds".into(), json!(rounds));
    Value::Object(result)
}

fn main() {
    let runtime = support::runtime();
    let config = Config::from_lookup(|_| None).unwrap_or_else(|e| panic!("{e}"));
    // The demo clients and user, as `make run` seeds them, with a signing key.
    let service = support::signing_demo_service(&config, &runtime);

    let mut criterion = Criterion::default().sample_size(30).configure_from_args();
    signing(&mut criterion);
    grants(&mut criterion, &runtime, &service);
    criterion.final_summary();

    // `cargo test --all-targets` runs benches once as tests; a short run is enough there.
    let rounds = if std::env::args().any(|arg| arg == "--bench") {
        ROUNDS
    } else {
        3
    };
    let timing = interleaved(&runtime, &service, rounds);
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/jwt-timing.json");
    if let Err(error) = std::fs::write(&target, timing.to_string()) {
        eprintln!("could not write {}: {error}", target.display());
    }
}
