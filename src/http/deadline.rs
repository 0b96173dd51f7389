//! The bound on a request's domain work: past [`GRANT_DEADLINE`] it fails with
//! [`Failure::DeadlineExceeded`].

use std::future::Future;
use std::time::Duration;

use super::error::Failure;
use crate::domain::GrantError;

/// The longest a request may take before it is answered 503: under the Lambda function's
/// 10 s timeout, so a slow or stuck DynamoDB gives the client an OAuth error, not a gateway
/// error.
pub const GRANT_DEADLINE: Duration = Duration::from_secs(8);

/// Runs a request's domain work under [`GRANT_DEADLINE`].
pub(super) async fn within_deadline<T>(
    work: impl Future<Output = Result<T, GrantError>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(GRANT_DEADLINE, work).await {
        Ok(done) => done.map_err(Failure::Grant),
        Err(_elapsed) => Err(Failure::DeadlineExceeded),
    }
}
