//! Shared by the benchmarks against moto: one request through the router with its DynamoDB
//! tally, and a series of them summarised (latency quantiles, calls, operations, round trips).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ::support::operation_log::OperationLog;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use token_endpoint::domain::TokenService;
use token_endpoint::http::{Discovery, router};
use token_endpoint::store::DynamoStore;
use token_endpoint::telemetry::StoreTime;
use tower::ServiceExt as _;

/// One request through the router: its status, body, latency and DynamoDB tally.
pub async fn send(
    service: &Arc<TokenService<DynamoStore>>,
    discovery: &Discovery,
    request: Request<Body>,
) -> (StatusCode, Value, Duration, StoreTime) {
    let started = Instant::now();
    let response = router(Arc::clone(service), discovery.clone())
        .oneshot(request)
        .await
        .unwrap_or_else(|e| match e {});
    let elapsed = started.elapsed();
    let status = response.status();
    // The router's own tally, as its log line reports it.
    let store = response
        .extensions()
        .get::<StoreTime>()
        .copied()
        .unwrap_or_default();
    let body = ::support::json_body(response.into_body()).await;
    (status, body, elapsed, store)
}

/// Latencies and DynamoDB calls of a series of successful requests.
#[derive(Default)]
pub struct Series {
    latencies: Vec<Duration>,
    calls: Vec<u32>,
    /// The last request's operations (sorted) and sequential round trips.
    operations: (Vec<String>, usize),
}

impl Series {
    /// A request the router answered: its tally comes from the router.
    pub fn add(
        &mut self,
        status: StatusCode,
        elapsed: Duration,
        store: StoreTime,
        log: &OperationLog,
    ) {
        assert_eq!(status, StatusCode::OK);
        self.latencies.push(elapsed);
        self.calls.push(store.calls);
        self.operations = log.take_rounds();
    }

    /// A call outside the router (the authorizer, a key load): its calls are counted from
    /// `log`, which then holds this call's operations only.
    pub fn add_logged(&mut self, elapsed: Duration, log: &OperationLog) {
        let (operations, round_trips) = log.take_rounds();
        self.latencies.push(elapsed);
        self.calls
            .push(u32::try_from(operations.len()).unwrap_or(u32::MAX));
        self.operations = (operations, round_trips);
    }

    /// The median latency, in milliseconds.
    pub fn median_ms(&self) -> f64 {
        self.quantile_ms(0.5)
    }

    fn quantile_ms(&self, quantile: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
        sorted[index].as_secs_f64() * 1000.0
    }

    pub fn summary(self) -> Value {
        json!({
            "requests": self.latencies.len(),
            "p50_ms": self.quantile_ms(0.5),
            "p99_ms": self.quantile_ms(0.99),
            "calls_min": self.calls.iter().min(),
            "calls_max": self.calls.iter().max(),
            "operations": self.operations.0,
            "round_trips": self.operations.1,
        })
    }
}
