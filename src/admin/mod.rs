//! `oauth-admin`'s use cases, apart from its terminal: provisioning, showing and listing
//! clients and users, listing and revoking their tokens, importing a django-oauth-toolkit
//! deployment, and creating, rotating and listing the JWT signing keys, all through the
//! [`crate::domain::store`] and [`crate::domain::signing`] ports, so they run on any of
//! their adapters.
//!
//! - `provisioning`: [`Admin`], the use cases, with their typed results and [`AdminError`]; the
//!   signing key ones in `provisioning/signing_keys.rs`.
//! - [`import`]: the django-oauth-toolkit import: reading a `dumpdata` export and applying it.
//! - [`cli`]: the command line: clap's definitions, checking the operator's input, the JSON
//!   line each command prints, and running each command on the DynamoDB store and the KMS
//!   vault; `src/bin/oauth-admin.rs` only starts it.

pub mod cli;
pub mod import;
mod provisioning;

pub use provisioning::{
    Admin, AdminError, CLIENT_ID_LENGTH, CLIENT_SECRET_LENGTH, Change, ClientDetails,
    CreatedClient, EnsuredSigningKey, GRANTS_IN_FLIGHT_WAIT, KEY_SET_SAVE_ATTEMPTS, KeySetDetails,
    KeyState, NewClient, Revocation, RevokedSigningKey, RotatedSigningKey, SigningKeyDetails,
    UserDetails,
};

/// Argon2 settings that make hashing instant: the tests here check logic, not cost.
#[cfg(test)]
const CHEAP_ARGON2: crate::domain::credentials::Argon2Settings =
    crate::domain::credentials::Argon2Settings {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
