//! DynamoDB calls and time per request: the router runs each request inside [`measure`], and
//! an SDK interceptor ([`DynamoTimer`]) adds every operation it completes to the request's
//! tally. Both run in the request's task, so concurrent requests keep separate tallies.

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use tokio::task::JoinError;

/// The DynamoDB operations of one request (retries included in each) and their total time.
/// Operations run one after another, so `calls` is also the number of sequential round trips.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreTime {
    pub calls: u32,
    pub elapsed: Duration,
}

tokio::task_local! {
    static TALLY: Cell<StoreTime>;
}

/// Runs `request` and returns its output with the DynamoDB time it spent.
pub async fn measure<F: Future>(request: F) -> (F::Output, StoreTime) {
    TALLY
        .scope(Cell::new(StoreTime::default()), async {
            let output = request.await;
            (output, TALLY.with(Cell::get))
        })
        .await
}

/// Runs `work` as a task of its own, whose DynamoDB calls still count in the spawning request's
/// tally (a task-local does not follow `tokio::spawn`). The task runs on even if the returned
/// future is dropped.
pub fn spawn_measured<F>(work: F) -> impl Future<Output = Result<F::Output, JoinError>> + Send
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let task = tokio::spawn(measure(work));
    async move {
        let (output, time) = task.await?;
        add_time(time);
        Ok(output)
    }
}

fn add(elapsed: Duration) {
    add_time(StoreTime { calls: 1, elapsed });
}

fn add_time(more: StoreTime) {
    // Outside `measure` (start-up, oauth-admin) there is nothing to add to.
    let _ = TALLY.try_with(|tally| {
        let mut time = tally.get();
        time.calls = time.calls.saturating_add(more.calls);
        time.elapsed += more.elapsed;
        tally.set(time);
    });
}

/// Times each DynamoDB operation, from before its request is built to after its last attempt.
#[derive(Debug, Default)]
pub struct DynamoTimer;

#[derive(Debug, Clone, Copy)]
struct StartedAt(Instant);

impl Storable for StartedAt {
    type Storer = StoreReplace<Self>;
}

impl Intercept for DynamoTimer {
    fn name(&self) -> &'static str {
        "DynamoTimer"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        cfg.interceptor_state().store_put(StartedAt(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if let Some(StartedAt(started)) = cfg.load::<StartedAt>() {
            add(started.elapsed());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tallies_are_per_request() {
        let (_, first) = measure(async {
            add(Duration::from_millis(3));
            add(Duration::from_millis(4));
        })
        .await;
        let (_, second) = measure(async { add(Duration::from_millis(5)) }).await;
        assert_eq!(
            first,
            StoreTime {
                calls: 2,
                elapsed: Duration::from_millis(7)
            }
        );
        assert_eq!(second.calls, 1);
        add(Duration::from_millis(1)); // outside any request: ignored, no panic
    }

    #[tokio::test]
    async fn a_spawned_task_counts_in_its_requests_tally() {
        let (output, time) = measure(async {
            add(Duration::from_millis(2));
            spawn_measured(async {
                add(Duration::from_millis(3));
                7
            })
            .await
        })
        .await;
        assert_eq!(output.ok(), Some(7));
        assert_eq!(
            time,
            StoreTime {
                calls: 2,
                elapsed: Duration::from_millis(5)
            }
        );
    }
}
