//! JWT access tokens against a real DynamoDB- and KMS-compatible server (moto on 127.0.0.1, one
//! request at a time): the grants of a JWT client beside an opaque one's (latency, DynamoDB
//! calls, sequential round trips), the Lambda authorizer's decision on either kind of token
//! with its DynamoDB calls counted, and the cold load of a signing key (`KeyRing::warm_up`: the
//! key set's GetItem, KMS Decrypt, parsing the PKCS#8 key), whole and part by part. Requests
//! of the two kinds alternate, so drift in moto's speed affects both alike. Writes
//! `target/jwt-moto.json` for `scripts/bench.sh`.
//!
//! Moto answers from this machine: its latencies are local figures, not DynamoDB's or KMS's.
//!
//! `cargo bench --bench jwt_moto` (needs `.venv` with moto: `make dev-deps`)

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use test_support::operation_log::OperationLog;
use token_endpoint::domain::TokenService;
use token_endpoint::domain::clock::{Clock, SystemClock};
use token_endpoint::domain::signing::{
    KeyRing, KeyRingTiming, KeySet, KeySetStore as _, KeyVault as _, SigningKey, new_signing_key,
};
use token_endpoint::lambda::authorizer::{Authorizer, authorize};
use token_endpoint::startup::{self, DEMO_PASSWORD, DEMO_USERNAME};
use token_endpoint::store::DynamoStore;
use token_endpoint::telemetry::StoreTime;
use token_endpoint::vault::{KmsVault, ensure_kms_key};

mod support;
use ::support as test_support;
use support::Format;
use support::moto::Series;

const GRANTS: usize = 100;
const DECISIONS: usize = 200;
const KEY_LOADS: usize = 30;

type Service = Arc<TokenService<DynamoStore>>;

/// A token request from the demo client of `format`, through the router.
async fn send(
    service: &Service,
    format: Format,
    form: &str,
) -> (StatusCode, Value, Duration, StoreTime) {
    let request = support::token_request_from(format, form);
    support::moto::send(service, &support::discovery(), request).await
}

/// One series per format.
#[derive(Default)]
struct Pair([Series; 2]);

impl Pair {
    fn summary(self) -> Value {
        let [opaque, jwt] = self.0;
        json!({"opaque": opaque.summary(), "jwt": jwt.summary()})
    }
}

/// Password, refresh and client credentials grants, opaque and JWT client in alternation.
async fn grants(service: &Service, log: &OperationLog, count: usize) -> Value {
    let password_form =
        format!("grant_type=password&username={DEMO_USERNAME}&password={DEMO_PASSWORD}");
    let mut password = Pair::default();
    let mut refresh_tokens = [String::new(), String::new()];
    for _ in 0..count {
        for (side, format) in Format::BOTH.into_iter().enumerate() {
            let (status, body, elapsed, store) = send(service, format, &password_form).await;
            password.0[side].add(status, elapsed, store, log);
            refresh_tokens[side] = body["refresh_token"].as_str().unwrap_or_default().into();
        }
    }
    let mut refresh = Pair::default();
    for _ in 0..count {
        for (side, format) in Format::BOTH.into_iter().enumerate() {
            let form = format!(
                "grant_type=refresh_token&refresh_token={}",
                refresh_tokens[side]
            );
            let (status, body, elapsed, store) = send(service, format, &form).await;
            refresh.0[side].add(status, elapsed, store, log);
            refresh_tokens[side] = body["refresh_token"].as_str().unwrap_or_default().into();
        }
    }
    let mut client_credentials = Pair::default();
    for _ in 0..count {
        for (side, format) in Format::BOTH.into_iter().enumerate() {
            let (status, _, elapsed, store) =
                send(service, format, "grant_type=client_credentials").await;
            client_credentials.0[side].add(status, elapsed, store, log);
        }
    }
    json!({
        "password": password.summary(),
        "refresh_token": refresh.summary(),
        "client_credentials": client_credentials.summary(),
    })
}

/// The authorizer function's state as it builds it: a key ring that only verifies, the issuer
/// derived from each event.
fn authorizer(store: &DynamoStore) -> Authorizer<DynamoStore> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Authorizer {
        store: store.clone(),
        keys: KeyRing::verifying(store.clone(), Arc::clone(&clock), KeyRingTiming::default()),
        issuer: None,
        audiences: Vec::new(),
        clock,
        accepts_dpop: true,
    }
}

/// One decision on an HTTP API authorizer event carrying `token`, which must be allowed.
async fn decide(authorizer: &Authorizer<DynamoStore>, token: &str) -> Duration {
    let event =
        test_support::events::Shape::HttpApi.with_authorization(Some(&format!("Bearer {token}")));
    let started = Instant::now();
    let answer = authorize(authorizer, event)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let elapsed = started.elapsed();
    assert_eq!(answer["isAuthorized"], true, "{answer}");
    elapsed
}

fn operations(log: &OperationLog) -> Value {
    let (operations, round_trips) = log.take_rounds();
    json!({"operations": operations, "round_trips": round_trips})
}

/// Authorizer decisions on an opaque token and a JWT, in alternation, after the instance's
/// warm-up; and the first decision of an instance that did not warm up.
async fn authorizer_decisions(service: &Service, log: &OperationLog, count: usize) -> Value {
    let mut tokens = [String::new(), String::new()];
    for (side, format) in Format::BOTH.into_iter().enumerate() {
        let (_, body, ..) = send(service, format, "grant_type=client_credentials").await;
        tokens[side] = body["access_token"].as_str().unwrap_or_default().into();
    }
    log.take();

    let cold = authorizer(service.store());
    decide(&cold, &tokens[1]).await;
    let cold_first_jwt = operations(log);

    let authorizer = authorizer(service.store());
    authorizer
        .keys
        .warm_up()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let init = operations(log);
    let mut decisions = Pair::default();
    for _ in 0..count {
        for (side, token) in tokens.iter().enumerate() {
            let elapsed = decide(&authorizer, token).await;
            decisions.0[side].add_logged(elapsed, log);
        }
    }
    let mut summary = decisions.summary();
    summary["init"] = init;
    summary["cold_first_jwt"] = cold_first_jwt;
    summary
}

/// `KeyRing::warm_up` on a new ring (what a new token function instance's first JWT pays),
/// and its three parts on their own, round by round.
async fn key_loads(
    store: &DynamoStore,
    vault: &KmsVault,
    log: &OperationLog,
    count: usize,
) -> Value {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut warm_up = Series::default();
    let mut get_item = Series::default();
    let mut decrypt = Series::default();
    let mut parse = Series::default();
    log.take();
    for _ in 0..count {
        let ring = KeyRing::signing(
            store.clone(),
            vault.clone(),
            Arc::clone(&clock),
            KeyRingTiming::default(),
        );
        let started = Instant::now();
        ring.warm_up().await.unwrap_or_else(|e| panic!("{e}"));
        warm_up.add_logged(started.elapsed(), log);

        let started = Instant::now();
        let keys = store.signing_keys().await.unwrap_or_else(|e| panic!("{e}"));
        get_item.add_logged(started.elapsed(), log);
        let record = keys
            .signing_key_at(clock.now())
            .unwrap_or_else(|| panic!("no signing key"));

        let started = Instant::now();
        let der = vault
            .unseal(&record.kid, &record.sealed_private)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        decrypt.add_logged(started.elapsed(), log);

        let started = Instant::now();
        SigningKey::from_private_der(&record.kid, &der).unwrap_or_else(|e| panic!("{e}"));
        parse.add_logged(started.elapsed(), log);
    }
    json!({
        "warm_up": warm_up.summary(),
        "get_item": get_item.summary(),
        "kms_decrypt": decrypt.summary(),
        "parse_pkcs8": parse.summary(),
    })
}

fn main() {
    // Without moto, `cargo test --all-targets` (which runs benches once) skips this one.
    if !test_support::skip::available(&[test_support::skip::Tool::Moto]) {
        return;
    }
    let full = std::env::args().any(|arg| arg == "--bench");
    let scale = |count: usize| if full { count } else { 3 };
    let runtime = support::runtime();
    let summary = runtime.block_on(async {
        // Production Argon2 settings: the password grant's figure includes its one verify.
        let config = test_support::test_config();
        let log = OperationLog::default();
        let tables = test_support::unique_tables();
        let alias = format!("alias/bench-{}", tables.credentials);
        let store = DynamoStore::new(log.client(), tables);
        store
            .create_tables()
            .await
            .unwrap_or_else(|e| panic!("creating tables: {e}"));
        // KMS on moto, its calls recorded in the same log as DynamoDB's.
        let kms = aws_sdk_kms::Client::from_conf(
            test_support::kms_config(test_support::moto_endpoint())
                .interceptor(log.clone())
                .build(),
        );
        ensure_kms_key(&kms, &alias)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let vault = KmsVault::new(kms, alias);
        // One key, sealed by KMS, published as `oauth-admin rotate-signing-key` does.
        let now = SystemClock.now();
        let key = new_signing_key(&vault, now, now)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        store
            .save_signing_keys(&KeySet::default().with_key(key, now))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let service = startup::signing_token_service(store.clone(), vault.clone(), &config)
            .unwrap_or_else(|e| panic!("{e}"));
        startup::seed_demo(&service)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // As the Lambda's init does; then connections and the client-secret cache warm up.
        if let Some(keys) = service.signing_keys() {
            keys.warm_up().await.unwrap_or_else(|e| panic!("{e}"));
        }
        for format in Format::BOTH {
            send(&service, format, "grant_type=client_credentials").await;
        }
        log.take();

        json!({
            "grants": grants(&service, &log, scale(GRANTS)).await,
            "authorizer": authorizer_decisions(&service, &log, scale(DECISIONS)).await,
            "key_load": key_loads(&store, &vault, &log, scale(KEY_LOADS)).await,
        })
    });
    println!("{summary:#}");
    std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/jwt-moto.json"),
        summary.to_string(),
    )
    .unwrap_or_else(|e| panic!("writing target/jwt-moto.json: {e}"));
}
