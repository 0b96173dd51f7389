//! [`Admin`], the value the use cases are methods of.

use crate::domain::credentials::Argon2Settings;

/// The provisioning use cases over one store.
pub struct Admin<S> {
    pub(super) store: S,
    /// The cost of new secret and password hashes.
    pub(super) argon2: Argon2Settings,
}
