//! Black-box tests of the router on the in-memory store: `POST /o/token/`, revocation,
//! introspection and the authorization server metadata, and the `events/` fixtures run in
//! process. Nothing here needs a tool beyond Rust: `make check` runs them.
//!
//! Expected behaviour is django-oauth-toolkit's (see `dot-behaviour.md`), except the deliberate,
//! RFC-driven deviations the spec lists; the tests follow the spec.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod client_auth;
mod client_credentials;
mod dpop;
mod dpop_authorizer;
mod events;
mod hostile_input;
mod introspection;
mod jwt;
mod lockout;
mod metadata;
mod password_grant;
mod private_key_jwt;
mod refresh_grant;
mod request_shape;
mod revocation;
mod scope;
