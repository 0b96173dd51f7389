//! Black-box tests of the router on the in-memory store: `POST /o/token/`, revocation,
//! introspection and the authorization server metadata.
//!
//! Expected behaviour is django-oauth-toolkit's (see `dot-behaviour.md`), except the deliberate,
//! RFC-driven deviations the spec lists; the tests follow the spec.

#[path = "../support/mod.rs"]
mod support;

mod helpers;

mod client_auth;
mod client_credentials;
mod hostile_input;
mod introspection;
mod metadata;
mod password_grant;
mod refresh_grant;
mod request_shape;
mod revocation;
mod scope;
