//! `oauth-admin`'s use cases, apart from its terminal: provisioning, showing and listing
//! clients and users, listing and revoking their tokens, and importing a django-oauth-toolkit deployment, all through the
//! [`crate::domain::store::Store`] port, so they run on any of its adapters.
//!
//! - `provisioning.rs`: [`Admin`], the use cases, with their typed results and [`AdminError`].
//! - [`import`]: the django-oauth-toolkit import: reading a `dumpdata` export and applying it.
//! - [`cli`]: the command line: clap's definitions, checking the operator's input, and the JSON
//!   line each command prints. `src/bin/oauth-admin.rs` wires it to the DynamoDB adapter.

pub mod cli;
pub mod import;
mod provisioning;

pub use provisioning::{
    Admin, AdminError, CLIENT_ID_LENGTH, CLIENT_SECRET_LENGTH, Change, ClientDetails,
    CreatedClient, NewClient, Revocation, UserDetails,
};

/// Argon2 settings that make hashing instant: the tests here check logic, not cost.
#[cfg(test)]
const CHEAP_ARGON2: crate::domain::credentials::Argon2Settings =
    crate::domain::credentials::Argon2Settings {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
