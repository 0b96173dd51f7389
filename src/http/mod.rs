//! The HTTP face of the service: one axum router, served by the Lambda runtime, by the local
//! server and by the tests.
//!
//! - `POST /o/token/`: grants (RFC 6749), in [`token`];
//! - `POST /o/revoke_token/`: revocation (RFC 7009), in [`revocation`];
//! - `POST /o/introspect/`: introspection (RFC 7662), in [`introspection`];
//! - `GET /.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`:
//!   metadata (RFC 8414), in [`metadata`];
//! - `GET /.well-known/jwks.json`: the keys JWT access tokens are signed with, in `keys`.
//!
//! What they share: the routes and method handling (`router`, `paths`), reading parameters
//! ([`params`], [`client_auth`]), the revocation and introspection request
//! (`token_operation`), the deadline on domain work (`deadline`), error answers ([`error`],
//! `response`, [`json`]) and the request's log record (`observe`).

pub mod client_auth;
mod deadline;
pub mod discovery;
pub mod error;
pub mod introspection;
pub mod json;
mod keys;
pub mod metadata;
mod observe;
pub mod params;
mod paths;
mod response;
pub mod revocation;
mod router;
pub mod source_address;
pub mod token;
mod token_operation;

pub use deadline::GRANT_DEADLINE;
pub use discovery::{Audiences, Discovery};
pub use error::{ErrorCode, OAuthError};
pub use observe::{EndpointOutcome, RequestIds};
pub use params::MAX_BODY_BYTES;
pub use paths::{
    INTROSPECTION_PATH, JWKS_PATH, METADATA_METHODS, METADATA_PATH, OPENID_CONFIGURATION_PATH,
    POST_METHODS, REVOCATION_PATH, TOKEN_PATH,
};
pub use router::{router, router_behind};
pub use token::parse_token_request;
