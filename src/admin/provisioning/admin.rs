//! [`Admin`], the value the use cases are methods of.

use std::time::Duration;

use crate::domain::credentials::Argon2Settings;
use crate::domain::service::GRANT_DEADLINE;

/// How long after a write the families index may still not list the family, on top of the
/// grant deadline. DynamoDB propagates a global secondary index asynchronously, usually within
/// a second; a few seconds more keep the wait short while covering a slow propagation.
pub const INDEX_LAG_MARGIN: Duration = Duration::from_secs(5);

/// How long ending a client's logins waits before it revokes again what the index lists: by
/// then every grant that authenticated the client before the change has been answered or will
/// never be ([`GRANT_DEADLINE`]), and the index lists the family it wrote.
pub const GRANTS_IN_FLIGHT_WAIT: Duration = GRANT_DEADLINE.saturating_add(INDEX_LAG_MARGIN);

/// The provisioning use cases over one store.
pub struct Admin<S> {
    pub(super) store: S,
    /// The cost of new secret and password hashes.
    pub(super) argon2: Argon2Settings,
    /// [`GRANTS_IN_FLIGHT_WAIT`], shorter in tests.
    pub(super) grants_in_flight_wait: Duration,
}

impl<S> Admin<S> {
    /// For tests whose grants all finish within `wait` (they bound each one as the router
    /// does with [`GRANT_DEADLINE`]): ending a client's logins waits this long instead of
    /// [`GRANTS_IN_FLIGHT_WAIT`]. Shorter than the grants may take, logins in flight survive.
    #[must_use]
    pub fn waiting_for_grants_in_flight(mut self, wait: Duration) -> Self {
        self.grants_in_flight_wait = wait;
        self
    }
}
