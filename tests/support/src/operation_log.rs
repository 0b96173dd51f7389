//! An SDK interceptor that records the DynamoDB operations a client sends and how many
//! sequential round trips they took, for the tests and the moto bench that count them.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Records the name of every DynamoDB request the SDK sends, and when requests leave and
/// answers arrive, which shows how many round trips had to wait for one another.
#[derive(Debug, Default, Clone)]
pub struct OperationLog(Arc<Mutex<Calls>>);

#[derive(Debug, Default)]
struct Calls {
    names: Vec<String>,
    /// `true` for a request sent, `false` for an answer received, in order.
    traffic: Vec<bool>,
}

impl OperationLog {
    /// The operations sent since the last call, in the order they were sent.
    pub fn take(&self) -> Vec<String> {
        self.take_calls().names
    }

    /// The operations sent since the last call, sorted (concurrent ones leave in any order),
    /// and the number of sequential round trips they took: a request sent after an answer
    /// arrived starts another round.
    pub fn take_rounds(&self) -> (Vec<String>, usize) {
        let calls = self.take_calls();
        let mut names = calls.names;
        names.sort();
        let (mut rounds, mut answered) = (0, true);
        for sent in calls.traffic {
            if sent && answered {
                rounds += 1;
            }
            answered = !sent;
        }
        (names, rounds)
    }

    fn take_calls(&self) -> Calls {
        self.0
            .lock()
            .map(|mut calls| std::mem::take(&mut *calls))
            .unwrap_or_default()
    }
}

impl Intercept for OperationLog {
    fn name(&self) -> &'static str {
        "OperationLog"
    }

    /// Once per attempt, so a retried call counts as the extra round trip it is.
    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let (Some(metadata), Ok(mut calls)) = (cfg.load::<Metadata>(), self.0.lock()) {
            calls.names.push(metadata.name().to_owned());
            calls.traffic.push(true);
        }
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Ok(mut calls) = self.0.lock() {
            calls.traffic.push(false);
        }
        Ok(())
    }
}

impl OperationLog {
    /// A client for the moto server that records its requests here (and tallies them for the
    /// request's log line, as in production).
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        let config = crate::dynamodb_config(crate::moto_endpoint())
            .interceptor(self.clone())
            .interceptor(token_endpoint::telemetry::store_timing::DynamoTimer)
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }
}
