//! [`Admin`], the value the use cases are methods of.

use std::time::Duration;

use crate::domain::credentials::Argon2Settings;
pub use crate::domain::service::GRANTS_IN_FLIGHT_WAIT;

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
    /// does with [`GRANT_DEADLINE`](crate::domain::service::GRANT_DEADLINE)): ending a client's logins waits this long instead of
    /// [`GRANTS_IN_FLIGHT_WAIT`]. Shorter than the grants may take, logins in flight survive.
    #[must_use]
    pub fn waiting_for_grants_in_flight(mut self, wait: Duration) -> Self {
        self.grants_in_flight_wait = wait;
        self
    }
}
