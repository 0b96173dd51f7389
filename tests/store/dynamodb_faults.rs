//! The token endpoint when DynamoDB misbehaves: a fault-injecting proxy between the SDK and moto
//! answers 500s and throttling errors, stalls past the SDK's attempt timeout, and drops
//! connections before or after forwarding a request. The endpoint must answer
//! 503 `temporarily_unavailable` with `Retry-After` when DynamoDB stays unavailable, never
//! hang, never write half a grant, and keep the old refresh token usable unless the rotation
//! committed. After every fault the tokens table is checked directly in moto: whole pairs,
//! one refresh token per family.
//!
//! Faults: 500 `InternalServerError`, `ThrottlingException`,
//! `ProvisionedThroughputExceededException`, stalls past the attempt timeout, connections
//! dropped before forwarding (sections 1–5), requests delivered after the SDK gave up on them,
//! and connections dropped after forwarding, when the write committed but its answer is lost
//! (section 6); answers that fail to parse, whose bodies hold secrets (section 7).
//!
//! Each case gets its own proxy, tables and SDK client; the cases of one test run concurrently
//! because most of their time is the SDK's backoff.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::retry::RetryPartition;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use axum::http::{StatusCode, header};
use futures::future::join_all;
use serde_json::{Value, json};
use support::fault_proxy::{
    BATCH_GET_ITEM, Fault, FaultProxy, GARBLED_SECRETS, TRANSACT_WRITE_ITEMS,
};
use support::http::{Auth, token_request};
use token_endpoint::domain::store::GrantStore;
use token_endpoint::domain::token::TokenHash;
use token_endpoint::domain::{GrantType, Secret, TokenService};
use token_endpoint::store::DynamoStore;
use token_endpoint::store::dynamodb::TableNames;
use tracing_subscriber::fmt::MakeWriter;

/// The SDK's timeouts for these tests: production's shape (`aws::dynamodb_timeout_config`:
/// 2 s connect, 3 s per attempt, 8 s per operation), scaled down only so the suite is fast.
/// The operation timeout stays above the standard retry mode's worst-case backoff (up to
/// 1 s + 2 s between three attempts), as in production, so answered faults exhaust all three
/// attempts and only stalls run into the operation timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(600);
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(600);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(4);
/// A stall well past the attempt timeout.
const STALL: Duration = Duration::from_secs(2);
/// A held request delivered after the SDK has given up on it and its retry has finished.
const LATE: Duration = Duration::from_secs(3);
/// No request may take longer: a grant makes two DynamoDB calls, each bounded by the
/// operation timeout. Beyond this the test fails as a hang.
const HANG_GUARD: Duration = Duration::from_secs(10);

/// Attempts per DynamoDB call: production's retry configuration.
fn max_attempts() -> u32 {
    token_endpoint::aws::dynamodb_retry_config().max_attempts()
}

const CLIENT_ID: &str = "app";
const CLIENT_SECRET: &str = "app-secret-0123456789";
const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse";
const PASSWORD_FORM: &str = "grant_type=password&username=alice&password=correct+horse";

const THROTTLING: Fault = Fault::Throttle("ThrottlingException");
const THROUGHPUT_EXCEEDED: Fault = Fault::Throttle("ProvisionedThroughputExceededException");

/// The endpoint, its DynamoDB store behind a fault proxy, one client and one user.
struct App {
    service: Arc<TokenService<DynamoStore>>,
    proxy: FaultProxy,
    tables: TableNames,
}

impl App {
    async fn start() -> Self {
        // `RUST_LOG=error cargo test --test store dynamodb_faults -- --nocapture` shows why each
        // request failed.
        if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        // The retry quota (token bucket) is shared by every client of a retry partition in
        // the process; in production there is one client per process, so each test client
        // gets a partition of its own instead of draining its neighbours' quota.
        static PARTITION: AtomicU32 = AtomicU32::new(0);
        let partition = format!(
            "dynamodb-faults-{}",
            PARTITION.fetch_add(1, Ordering::Relaxed)
        );
        let proxy = FaultProxy::start(support::moto_endpoint()).await;
        let config = support::dynamodb_config(proxy.endpoint())
            .retry_config(token_endpoint::aws::dynamodb_retry_config())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .retry_partition(RetryPartition::new(partition))
            .build();
        let tables = support::unique_tables();
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), tables.clone());
        store
            .create_tables()
            .await
            .expect("creating tables through the proxy");
        let service = support::service(store, &support::cheap_config());
        support::add_client(
            &service,
            CLIENT_ID,
            CLIENT_SECRET,
            "read write",
            &[GrantType::Password, GrantType::RefreshToken],
        )
        .await;
        support::add_user(&service, USERNAME, PASSWORD).await;
        proxy.reset_counts();
        Self {
            service,
            proxy,
            tables,
        }
    }

    /// Serves one token request through the real router, bounded by [`HANG_GUARD`].
    async fn post(&self, form: &str) -> Reply {
        let request = token_request(form, Auth::BasicRaw(CLIENT_ID, CLIENT_SECRET));
        let started = Instant::now();
        let router = support::http::router(&self.service);
        let reply = tokio::time::timeout(HANG_GUARD, support::http::send(router, request))
            .await
            .unwrap_or_else(|_| panic!("no answer within {HANG_GUARD:?}: the endpoint hangs"));
        let elapsed = started.elapsed();
        let retry_after = reply
            .headers
            .get(header::RETRY_AFTER)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        Reply {
            status: reply.status,
            retry_after,
            body: reply.json(),
            elapsed,
        }
    }

    async fn password_grant(&self) -> Reply {
        self.post(PASSWORD_FORM).await
    }

    async fn refresh(&self, refresh_token: &str) -> Reply {
        self.post(&format!(
            "grant_type=refresh_token&refresh_token={refresh_token}"
        ))
        .await
    }

    /// A successful password grant with no faults planned.
    async fn issued_pair(&self) -> Pair {
        let reply = self.password_grant().await;
        let pair = reply.pair();
        self.proxy.reset_counts();
        pair
    }

    /// The tokens table, read directly from moto (not through the proxy).
    async fn tokens(&self) -> Tokens {
        let scan = support::dynamodb_client()
            .scan()
            .table_name(&self.tables.tokens)
            .consistent_read(true)
            .send()
            .await
            .expect("scanning the tokens table");
        assert!(
            scan.last_evaluated_key().is_none(),
            "the tokens table outgrew one scan page"
        );
        let mut tokens = Tokens::default();
        for item in scan.items() {
            let text = |name: &str| match item.get(name) {
                Some(AttributeValue::S(value)) => value.clone(),
                other => panic!("token item without string {name}: {other:?}"),
            };
            match text("kind").as_str() {
                "access" => {
                    tokens.access.insert(text("pk"));
                }
                "refresh" => {
                    tokens.refresh.insert(
                        text("pk"),
                        RefreshRow {
                            family: text("family_id"),
                            access: text("access_token_hash"),
                        },
                    );
                }
                // Password attempt counters record attempts, which happened whether or not the
                // grant could finish; they are the conformance suite's concern.
                "login" => {}
                // Records other than tokens (families, used tokens): kept whole, so "nothing
                // changed" covers them too.
                _ => {
                    tokens.others.insert(
                        text("pk"),
                        item.iter()
                            .map(|(name, value)| (name.clone(), format!("{value:?}")))
                            .collect(),
                    );
                }
            }
        }
        tokens
    }

    /// Waits until moto has answered `count` `target` requests (a held request delivered
    /// late, say).
    async fn until_forwarded(&self, target: &str, count: u32) {
        let deadline = Instant::now() + HANG_GUARD;
        while self.proxy.forwarded(target) < count {
            assert!(
                Instant::now() < deadline,
                "moto saw {} of {count} {target} requests",
                self.proxy.forwarded(target)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

struct Reply {
    status: StatusCode,
    retry_after: Option<String>,
    body: Value,
    elapsed: Duration,
}

impl Reply {
    /// 503 `temporarily_unavailable` with `Retry-After`, the answer to an unavailable store.
    fn assert_unavailable(&self, case: &str) {
        assert_eq!(
            (self.status, &self.body),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"error": "temporarily_unavailable"})
            ),
            "{case}"
        );
        assert_eq!(
            self.retry_after.as_deref(),
            Some("1"),
            "{case}: Retry-After"
        );
    }

    fn pair(&self) -> Pair {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        assert_eq!(self.retry_after, None);
        let field = |name: &str| {
            self.body[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in {}", self.body))
                .to_owned()
        };
        Pair {
            access: field("access_token"),
            refresh: field("refresh_token"),
        }
    }
}

/// Plaintext tokens as the client received them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    access: String,
    refresh: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RefreshRow {
    family: String,
    access: String,
}

/// The tokens table: access token hashes, refresh token hash → row, and any other record
/// by key, attribute by attribute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Tokens {
    access: BTreeSet<String>,
    refresh: BTreeMap<String, RefreshRow>,
    others: BTreeMap<String, BTreeMap<String, String>>,
}

impl Tokens {
    /// Tokens stored: each grant adds a pair, each refresh replaces one.
    fn len(&self) -> usize {
        self.access.len() + self.refresh.len()
    }

    fn holds(&self, pair: &Pair) -> bool {
        let (access, refresh) = (hash(&pair.access), hash(&pair.refresh));
        self.access.contains(&access)
            && self
                .refresh
                .get(&refresh)
                .is_some_and(|row| row.access == access)
    }

    fn holds_none_of(&self, pair: &Pair) -> bool {
        !self.access.contains(&hash(&pair.access))
            && !self.refresh.contains_key(&hash(&pair.refresh))
    }

    fn family_of(&self, pair: &Pair) -> String {
        self.refresh
            .get(&hash(&pair.refresh))
            .unwrap_or_else(|| panic!("refresh token not stored: {self:?}"))
            .family
            .clone()
    }

    /// Whole pairs only: every refresh token names a stored access token, every access token
    /// belongs to exactly one refresh token, and each family has exactly one refresh token.
    fn assert_consistent(&self, case: &str) {
        let named: Vec<&String> = self.refresh.values().map(|row| &row.access).collect();
        let named_set: BTreeSet<&String> = named.iter().copied().collect();
        assert_eq!(
            named.len(),
            named_set.len(),
            "{case}: two refresh tokens share an access token: {self:?}"
        );
        assert_eq!(
            named_set,
            self.access.iter().collect(),
            "{case}: half a pair is stored: {self:?}"
        );
        let families: BTreeSet<&String> = self.refresh.values().map(|row| &row.family).collect();
        assert_eq!(
            families.len(),
            self.refresh.len(),
            "{case}: a family has two live refresh tokens: {self:?}"
        );
    }
}

fn hash(token: &str) -> String {
    TokenHash::of(&Secret::from(token)).as_str().to_owned()
}

/// Runs `case` for every fault concurrently, each on its own app.
async fn for_each_fault<F, Fut>(faults: &[(&'static str, Fault)], case: F)
where
    F: Fn(&'static str, Fault) -> Fut,
    Fut: Future<Output = ()>,
{
    join_all(faults.iter().map(|(name, fault)| case(name, *fault))).await;
}

// 1. Transient faults: the SDK retries and the grant succeeds.

#[tokio::test]
async fn a_transient_fault_on_the_read_is_retried_and_the_grant_succeeds() {
    support::require!(Moto);
    let faults = [
        ("500 InternalServerError", Fault::InternalServerError),
        ("ThrottlingException", THROTTLING),
        (
            "ProvisionedThroughputExceededException",
            THROUGHPUT_EXCEEDED,
        ),
        ("connection dropped before forwarding", Fault::DropRequest),
        ("stall past the attempt timeout", Fault::Stall(STALL)),
    ];
    for_each_fault(&faults, |case, fault| async move {
        let app = App::start().await;
        app.proxy.fail_times(BATCH_GET_ITEM, fault, 1);
        let pair = app.password_grant().await.pair();
        assert_eq!(app.proxy.seen(BATCH_GET_ITEM), 2, "{case}: one retry");
        assert_eq!(app.proxy.forwarded(BATCH_GET_ITEM), 1, "{case}");
        assert_eq!(app.proxy.seen(TRANSACT_WRITE_ITEMS), 1, "{case}");
        let tokens = app.tokens().await;
        assert_eq!(tokens.len(), 2, "{case}: one pair");
        assert!(tokens.holds(&pair), "{case}");
        tokens.assert_consistent(case);
    })
    .await;
}

#[tokio::test]
async fn a_transient_fault_on_the_write_is_retried_and_the_refresh_succeeds() {
    support::require!(Moto);
    let faults = [
        ("500 InternalServerError", Fault::InternalServerError),
        ("ThrottlingException", THROTTLING),
        (
            "ProvisionedThroughputExceededException",
            THROUGHPUT_EXCEEDED,
        ),
        ("connection dropped before forwarding", Fault::DropRequest),
        ("stall past the attempt timeout", Fault::Stall(STALL)),
    ];
    for_each_fault(&faults, |case, fault| async move {
        let app = App::start().await;
        let first = app.issued_pair().await;
        app.proxy.fail_times(TRANSACT_WRITE_ITEMS, fault, 1);
        let second = app.refresh(&first.refresh).await.pair();
        assert_eq!(app.proxy.seen(TRANSACT_WRITE_ITEMS), 2, "{case}: one retry");
        assert_eq!(app.proxy.forwarded(TRANSACT_WRITE_ITEMS), 1, "{case}");
        let tokens = app.tokens().await;
        assert_eq!(tokens.len(), 2, "{case}: a refresh keeps the count");
        assert!(tokens.holds(&second), "{case}");
        assert!(tokens.holds_none_of(&first), "{case}");
        tokens.assert_consistent(case);
    })
    .await;
}

// 2. Persistent faults on the read: 503, nothing written, and recovery.

#[tokio::test]
async fn persistent_read_faults_answer_503_and_write_nothing() {
    support::require!(Moto);
    let faults = [
        ("500 InternalServerError", Fault::InternalServerError),
        ("ThrottlingException", THROTTLING),
        (
            "ProvisionedThroughputExceededException",
            THROUGHPUT_EXCEEDED,
        ),
        ("connection dropped before forwarding", Fault::DropRequest),
    ];
    for_each_fault(&faults, |case, fault| async move {
        let app = App::start().await;
        let first = app.issued_pair().await;
        let before = app.tokens().await;

        app.proxy.fail_always(BATCH_GET_ITEM, fault);
        app.password_grant().await.assert_unavailable(case);
        assert_eq!(
            app.proxy.seen(BATCH_GET_ITEM),
            max_attempts(),
            "{case}: every attempt"
        );
        app.refresh(&first.refresh).await.assert_unavailable(case);
        assert_eq!(app.proxy.seen(BATCH_GET_ITEM), 2 * max_attempts(), "{case}");
        assert_eq!(app.proxy.seen(TRANSACT_WRITE_ITEMS), 0, "{case}: no write");
        assert_eq!(app.tokens().await, before, "{case}: nothing written");

        // DynamoDB is back: the untouched refresh token works.
        app.proxy.pass();
        let second = app.refresh(&first.refresh).await.pair();
        let tokens = app.tokens().await;
        assert_eq!(tokens.len(), 2, "{case}");
        assert!(tokens.holds(&second), "{case}");
        tokens.assert_consistent(case);
    })
    .await;
}

// 3. Persistent faults on the write of a password grant: 503, no half-written pair.

#[tokio::test]
async fn persistent_write_faults_in_a_password_grant_answer_503_and_write_nothing() {
    support::require!(Moto);
    let faults = [
        ("500 InternalServerError", Fault::InternalServerError),
        ("ThrottlingException", THROTTLING),
        (
            "ProvisionedThroughputExceededException",
            THROUGHPUT_EXCEEDED,
        ),
        ("connection dropped before forwarding", Fault::DropRequest),
    ];
    for_each_fault(&faults, |case, fault| async move {
        let app = App::start().await;
        app.proxy.fail_always(TRANSACT_WRITE_ITEMS, fault);
        app.password_grant().await.assert_unavailable(case);
        assert_eq!(app.proxy.seen(BATCH_GET_ITEM), 1, "{case}");
        assert_eq!(
            app.proxy.seen(TRANSACT_WRITE_ITEMS),
            max_attempts(),
            "{case}: every attempt"
        );
        assert_eq!(app.proxy.forwarded(TRANSACT_WRITE_ITEMS), 0, "{case}");
        assert_eq!(
            app.tokens().await,
            Tokens::default(),
            "{case}: nothing stored"
        );

        app.proxy.pass();
        let pair = app.password_grant().await.pair();
        let tokens = app.tokens().await;
        assert_eq!(tokens.len(), 2, "{case}: exactly one pair");
        assert!(tokens.holds(&pair), "{case}");
        tokens.assert_consistent(case);
    })
    .await;
}

// 4. Persistent faults on the write of a refresh: 503, and the old tokens survive.

#[tokio::test]
async fn persistent_write_faults_in_a_refresh_lose_nothing() {
    support::require!(Moto);
    let faults = [
        ("500 InternalServerError", Fault::InternalServerError),
        ("ThrottlingException", THROTTLING),
        (
            "ProvisionedThroughputExceededException",
            THROUGHPUT_EXCEEDED,
        ),
        ("connection dropped before forwarding", Fault::DropRequest),
        ("stall past the attempt timeout", Fault::Stall(STALL)),
    ];
    for_each_fault(&faults, |case, fault| async move {
        let app = App::start().await;
        let first = app.issued_pair().await;
        let before = app.tokens().await;

        app.proxy.fail_always(TRANSACT_WRITE_ITEMS, fault);
        app.refresh(&first.refresh).await.assert_unavailable(case);
        let attempts = app.proxy.seen(TRANSACT_WRITE_ITEMS);
        if matches!(fault, Fault::Stall(_)) {
            // Stalled attempts can run into the operation timeout before the third.
            assert!(
                (2..=max_attempts()).contains(&attempts),
                "{case}: {attempts}"
            );
        } else {
            assert_eq!(attempts, max_attempts(), "{case}: every attempt");
        }
        assert_eq!(app.proxy.forwarded(TRANSACT_WRITE_ITEMS), 0, "{case}");
        let after = app.tokens().await;
        assert_eq!(after, before, "{case}: nothing changed");
        assert!(
            after.holds(&first),
            "{case}: the old access and refresh tokens are still stored"
        );

        // DynamoDB is back: the old refresh token still works, once.
        app.proxy.pass();
        let second = app.refresh(&first.refresh).await.pair();
        let tokens = app.tokens().await;
        assert_eq!(tokens.len(), 2, "{case}");
        assert!(tokens.holds(&second), "{case}");
        assert!(
            tokens.holds_none_of(&first),
            "{case}: the old pair is gone now"
        );
        assert_eq!(
            tokens.family_of(&second),
            before.family_of(&first),
            "{case}"
        );
        tokens.assert_consistent(case);
        // Presented again within the retry window: the same pair, nothing new written.
        assert_eq!(app.refresh(&first.refresh).await.pair(), second, "{case}");
        assert_eq!(app.tokens().await, tokens, "{case}");
    })
    .await;
}

// 5. Stalls past the attempt timeout: 503 in bounded time, then recovery.

#[tokio::test]
async fn stalls_answer_503_within_the_operation_timeout_and_then_recover() {
    support::require!(Moto);
    let cases = [
        ("read stalls", BATCH_GET_ITEM),
        ("write stalls", TRANSACT_WRITE_ITEMS),
    ];
    join_all(cases.iter().map(|&(case, target)| async move {
        let app = App::start().await;
        app.proxy.fail_always(target, Fault::Stall(STALL));
        let reply = app.password_grant().await;
        reply.assert_unavailable(case);
        assert!(
            reply.elapsed < OPERATION_TIMEOUT + Duration::from_secs(1),
            "{case}: answered after {:?}",
            reply.elapsed
        );
        let attempts = app.proxy.seen(target);
        assert!(
            (2..=max_attempts()).contains(&attempts),
            "{case}: {attempts}"
        );
        assert_eq!(app.proxy.forwarded(target), 0, "{case}");
        assert_eq!(
            app.tokens().await,
            Tokens::default(),
            "{case}: nothing stored"
        );

        app.proxy.pass();
        let pair = app.password_grant().await.pair();
        let tokens = app.tokens().await;
        assert_eq!(tokens.len(), 2, "{case}");
        assert!(tokens.holds(&pair), "{case}");
    }))
    .await;
}

/// A grant makes two DynamoDB calls, each with its own operation timeout, so the budgets add
/// up: a read that succeeds late followed by a stalled write takes longer than either call's
/// timeout, up to twice the operation timeout. In production that is 2 × 8 s, more than the
/// function's 10 s timeout.
#[tokio::test]
async fn a_slow_read_and_a_stalled_write_spend_two_operation_budgets() {
    support::require!(Moto);
    let case = "slow read, stalled write";
    let app = App::start().await;
    app.proxy.fail_times(BATCH_GET_ITEM, Fault::Stall(STALL), 1);
    app.proxy
        .fail_always(TRANSACT_WRITE_ITEMS, Fault::Stall(STALL));
    let reply = app.password_grant().await;
    reply.assert_unavailable(case);
    eprintln!("{case}: 503 after {:?}", reply.elapsed);
    assert_eq!(app.proxy.seen(BATCH_GET_ITEM), 2, "{case}");
    assert_eq!(
        app.proxy.forwarded(BATCH_GET_ITEM),
        1,
        "{case}: the read succeeded"
    );
    let write_attempts = app.proxy.seen(TRANSACT_WRITE_ITEMS);
    assert!(
        (2..=max_attempts()).contains(&write_attempts),
        "{case}: {write_attempts}"
    );
    // One stalled read attempt and at least two stalled write attempts, in sequence.
    assert!(
        reply.elapsed > 3 * ATTEMPT_TIMEOUT,
        "{case}: {:?}",
        reply.elapsed
    );
    assert!(
        reply.elapsed < 2 * OPERATION_TIMEOUT + Duration::from_secs(1),
        "{case}: {:?}",
        reply.elapsed
    );
    assert_eq!(app.tokens().await, Tokens::default(), "{case}");
}

// 6. Writes that land although the client does not know: late delivery and lost answers.

/// The SDK gave up on an attempt that the proxy still holds; its retry commits; then the held
/// request reaches moto. The late duplicate's conditions fail, so it changes nothing.
#[tokio::test]
async fn a_write_delivered_after_the_sdk_gave_up_on_it_changes_nothing() {
    support::require!(Moto);
    let password = async {
        let case = "password grant, late duplicate";
        let app = App::start().await;
        app.proxy
            .fail_times(TRANSACT_WRITE_ITEMS, Fault::LateDelivery(LATE), 1);
        let pair = app.password_grant().await.pair();
        assert_eq!(app.proxy.seen(TRANSACT_WRITE_ITEMS), 2, "{case}");
        app.until_forwarded(TRANSACT_WRITE_ITEMS, 2).await;
        let tokens = app.tokens().await;
        assert_eq!(
            tokens.len(),
            2,
            "{case}: the duplicate stored no second pair"
        );
        assert!(tokens.holds(&pair), "{case}");
        tokens.assert_consistent(case);
    };
    let refresh = async {
        let case = "refresh, late duplicate";
        let app = App::start().await;
        let first = app.issued_pair().await;
        app.proxy
            .fail_times(TRANSACT_WRITE_ITEMS, Fault::LateDelivery(LATE), 1);
        let second = app.refresh(&first.refresh).await.pair();
        app.until_forwarded(TRANSACT_WRITE_ITEMS, 2).await;
        let tokens = app.tokens().await;
        assert_eq!(tokens.len(), 2, "{case}");
        assert!(tokens.holds(&second), "{case}");
        assert!(tokens.holds_none_of(&first), "{case}");
        tokens.assert_consistent(case);
        app.refresh(&second.refresh).await.pair();
    };
    futures::join!(password, refresh);
}

// The nasty case: the transaction commits, its answer is lost, the SDK retries it.

/// Against moto, which ignores `ClientRequestToken`, the SDK's retry of a committed
/// transaction runs again and its conditions fail (the old refresh token is used, the new
/// hashes are taken). The store recognises its own commit (the new refresh token is stored in
/// this family) and answers the rotation as done: the client gets the new pair. The table
/// stays consistent: exactly one live refresh token in the family, never both, never neither.
#[tokio::test]
async fn a_lost_answer_to_a_committed_refresh_without_idempotency_tokens() {
    support::require!(Moto);
    let app = App::start().await;
    let first = app.issued_pair().await;
    let family = app.tokens().await.family_of(&first);
    app.proxy
        .fail_times(TRANSACT_WRITE_ITEMS, Fault::DropResponse, 1);
    let reply = app.refresh(&first.refresh).await;
    assert_eq!(app.proxy.seen(TRANSACT_WRITE_ITEMS), 2, "the SDK retried");
    assert_eq!(app.proxy.forwarded(TRANSACT_WRITE_ITEMS), 2);
    eprintln!(
        "lost answer to a committed refresh (moto, no idempotency): {} {}",
        reply.status, reply.body
    );

    let tokens = app.tokens().await;
    tokens.assert_consistent("lost answer");
    assert_eq!(tokens.len(), 2, "one pair: the rotation committed once");
    assert!(
        tokens.holds_none_of(&first),
        "the old pair is gone: it committed"
    );
    let (successor, row) = tokens
        .refresh
        .iter()
        .next()
        .unwrap_or_else(|| panic!("no refresh token left in the family: {tokens:?}"));
    assert_eq!(row.family, family, "the successor continues the family");
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(*successor, hash(&reply.pair().refresh));
    // Presented again within the retry window, the spent token answers the same pair.
    assert_eq!(app.refresh(&first.refresh).await.pair(), reply.pair());
}

/// The same with DynamoDB's behaviour: the SDK sends one `ClientRequestToken` for all
/// attempts of an operation, and DynamoDB answers a repeat of a committed transaction with
/// success. The client gets the new pair.
#[tokio::test]
async fn a_lost_answer_to_a_committed_refresh_with_idempotency_tokens() {
    support::require!(Moto);
    let app = App::start().await;
    app.proxy.emulate_idempotency_tokens();
    let first = app.issued_pair().await;
    app.proxy
        .fail_times(TRANSACT_WRITE_ITEMS, Fault::DropResponse, 1);
    let second = app.refresh(&first.refresh).await.pair();
    assert_eq!(app.proxy.seen(TRANSACT_WRITE_ITEMS), 2, "the SDK retried");
    assert_eq!(app.proxy.forwarded(TRANSACT_WRITE_ITEMS), 1);
    assert_eq!(
        app.proxy.idempotent_replays(),
        1,
        "the retry carried the same ClientRequestToken"
    );
    let tokens = app.tokens().await;
    tokens.assert_consistent("lost answer, idempotent retry");
    assert_eq!(tokens.len(), 2);
    assert!(tokens.holds(&second));
    assert!(tokens.holds_none_of(&first));
    app.refresh(&second.refresh).await.pair();
}

/// A password grant's lost answer: without idempotency the retry finds its own hashes taken,
/// the store recognises its own commit, and the client gets that pair; with idempotency
/// DynamoDB answers the retry itself.
#[tokio::test]
async fn a_lost_answer_to_a_committed_password_grant() {
    support::require!(Moto);
    let raw = async {
        let case = "password grant, lost answer, moto";
        let app = App::start().await;
        app.proxy
            .fail_times(TRANSACT_WRITE_ITEMS, Fault::DropResponse, 1);
        let reply = app.password_grant().await;
        eprintln!("{case}: {} {}", reply.status, reply.body);
        assert_eq!(app.proxy.seen(TRANSACT_WRITE_ITEMS), 2, "{case}");
        let tokens = app.tokens().await;
        tokens.assert_consistent(case);
        assert_eq!(tokens.len(), 2, "{case}: one whole pair");
        assert_eq!(reply.status, StatusCode::OK, "{case}: {}", reply.body);
        assert!(tokens.holds(&reply.pair()), "{case}");
    };
    let idempotent = async {
        let case = "password grant, lost answer, idempotent retry";
        let app = App::start().await;
        app.proxy.emulate_idempotency_tokens();
        app.proxy
            .fail_times(TRANSACT_WRITE_ITEMS, Fault::DropResponse, 1);
        let pair = app.password_grant().await.pair();
        assert_eq!(app.proxy.idempotent_replays(), 1, "{case}");
        let tokens = app.tokens().await;
        tokens.assert_consistent(case);
        assert_eq!(tokens.len(), 2, "{case}");
        assert!(tokens.holds(&pair), "{case}");
    };
    futures::join!(raw, idempotent);
}

/// Every answer lost: the first attempt commits, the retries' answers are lost too, and the
/// endpoint answers 503. The refresh token the client holds is spent and its successor was
/// never delivered: the one way a refresh token is lost, and no store can prevent it. The
/// table still holds exactly one refresh token for the family.
#[tokio::test]
async fn every_answer_lost_after_a_committed_refresh() {
    support::require!(Moto);
    let app = App::start().await;
    app.proxy.emulate_idempotency_tokens();
    let first = app.issued_pair().await;
    let family = app.tokens().await.family_of(&first);
    app.proxy
        .fail_always(TRANSACT_WRITE_ITEMS, Fault::DropResponse);
    // Every answer to the write is lost, but the write committed: a strongly consistent read
    // finds the rotation done, and the client gets the pair instead of a 503.
    let answered = app.refresh(&first.refresh).await.pair();
    assert_eq!(app.proxy.seen(TRANSACT_WRITE_ITEMS), max_attempts());

    let tokens = app.tokens().await;
    tokens.assert_consistent("every answer lost");
    assert_eq!(tokens.len(), 2, "the rotation committed exactly once");
    assert!(tokens.holds_none_of(&first));
    assert!(tokens.holds(&answered));
    assert!(tokens.refresh.values().all(|row| row.family == family));

    // A client that saw nothing (say the function timed out) retries: the identical pair.
    app.proxy.pass();
    assert_eq!(app.refresh(&first.refresh).await.pair(), answered);
}

// 7. Answers that fail to parse: 503, and what they held reaches no log.

/// The SDK keeps the raw response of an answer that failed to parse in its error, and prints
/// it when debug-formatted. A `BatchGetItem` answer holds password hashes, client secret
/// hashes and family secrets; the store's error and the log say what failed without them.
#[tokio::test]
async fn an_answer_that_fails_to_parse_answers_503_and_logs_no_secret() {
    support::require!(Moto);
    let case = "garbled BatchGetItem answer";
    let app = App::start().await;
    let logs = CapturedLogs::default();
    let _capturing = tracing::subscriber::set_default(logs.subscriber());
    app.proxy.fail_always(BATCH_GET_ITEM, Fault::GarbledAnswer);

    app.password_grant().await.assert_unavailable(case);
    let error = app
        .service
        .store()
        .read_tokens(&[&TokenHash::of(&Secret::from("any token"))], 0)
        .await
        .expect_err("a read of a garbled answer fails");
    let error = error.to_string();
    let logged = logs.text();
    eprintln!("{case}: the store's error: {error}");
    assert!(
        logged.contains("store unavailable"),
        "{case}: the failure is logged: {logged}"
    );
    for secret in GARBLED_SECRETS {
        assert!(!error.contains(secret), "{case}: {error}");
        assert!(!logged.contains(secret), "{case}: {logged}");
    }
}

/// The tracing events of the test's thread (where `#[tokio::test]` runs every task) while
/// [`Self::subscriber`] is its default, at the most verbose level the service lets other
/// crates log (`telemetry::init_logs`).
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl MakeWriter<'_> for CapturedLogs {
    type Writer = Self;

    fn make_writer(&self) -> Self {
        self.clone()
    }
}
