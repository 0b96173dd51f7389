//! The real processes: the Lambda artifact under the Runtime Interface Emulator, the local
//! server (`make run`'s binary) driven by curl and by the `oauth2` client library, and the
//! `oauth-admin` binary, including its import from django-oauth-toolkit; JWT access tokens
//! through the emulator and the local server on DynamoDB ([`jwt`] has what they share).
//!
//! Each process starts with a clean environment (`support::process`). The tests that need moto,
//! the emulator, a sam-built bootstrap or curl are skipped without them, see `support::skip`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod jwt;
mod lambda_emulator;
mod lambda_emulator_dpop;
mod local_server;
mod local_server_dynamodb;
mod oauth2_client;
mod server;
