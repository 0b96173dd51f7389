//! The stores: one conformance suite run on the memory store and on DynamoDB (moto), the
//! router's defences on both, and what only DynamoDB shows: the calls each grant makes,
//! concurrency on a real server, the table layout, and faults injected between the SDK and moto.
//! Beside them, the key vaults that seal the JWT signing keys, KMS on moto and in-process.
//!
//! The DynamoDB tests need moto (`make test` installs it into .venv; `MOTO_PYTHON` names
//! another Python); without it they are skipped, see `support::skip`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bursts;
mod client_credential_changes;
mod conformance;
mod dynamodb_faults;
mod dynamodb_grants;
mod dynamodb_upkeep;
mod kms_vault;
mod multi_region;
mod security;
mod upgrade;
