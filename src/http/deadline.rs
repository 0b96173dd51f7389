//! The bound on a request's domain work, and how that work fails ([`DomainFailure`]): past
//! [`GRANT_DEADLINE`] with [`DomainFailure::DeadlineExceeded`].

use std::future::Future;

use crate::domain::GrantError;
use crate::domain::login_throttle::MAX_ATTEMPT_WAIT;

pub use crate::domain::service::GRANT_DEADLINE;

// A password attempt waiting for attempts in flight gives up in time to be answered, and to
// check its password if it is let in at the last moment.
const _: () = assert!(MAX_ATTEMPT_WAIT.as_secs() < GRANT_DEADLINE.as_secs());

/// Why a request's domain work gave no answer.
#[derive(Debug)]
pub enum DomainFailure {
    /// The domain refused the request or could not carry it out.
    Grant(GrantError),
    /// The work did not finish within [`GRANT_DEADLINE`].
    DeadlineExceeded,
}

/// Runs a request's domain work under [`GRANT_DEADLINE`].
pub(super) async fn within_deadline<T>(
    work: impl Future<Output = Result<T, GrantError>>,
) -> Result<T, DomainFailure> {
    match tokio::time::timeout(GRANT_DEADLINE, work).await {
        Ok(done) => done.map_err(DomainFailure::Grant),
        Err(_elapsed) => Err(DomainFailure::DeadlineExceeded),
    }
}
