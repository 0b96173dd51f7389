//! Black-box tests of `POST /o/token/` through the real router on the in-memory store.
//!
//! Expected behaviour is django-oauth-toolkit's (see `dot-behaviour.md`), except the deliberate,
//! RFC-driven deviations the spec lists; the tests follow the spec.

#[path = "../support/mod.rs"]
mod support;

mod helpers;

mod client_auth;
mod hostile_input;
mod password_grant;
mod refresh_grant;
mod request_shape;
mod scope;
