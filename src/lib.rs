//! A serverless OAuth 2.0 token endpoint (RFC 6749) for AWS Lambda, API Gateway and DynamoDB.
//!
//! The crate is laid out as ports and adapters:
//! - [`domain`]: the grants (one file each, over a shared issuer), scopes, token issuing,
//!   credential checks and the storage ports they need ([`domain::store`], one per use). It
//!   knows nothing of HTTP, AWS or the layers above.
//! - [`store`]: the ports' two adapters, DynamoDB and in-memory.
//! - [`vault`]: the key vault's adapters (AWS KMS, in-process), which seal JWT signing keys.
//! - [`http`]: the one router that parses requests into domain calls and maps domain errors to
//!   RFC 6749 §5.2 responses. The Lambda, the local server and the tests all serve it.
//! - [`lambda`]: the Lambda entry points: the router behind API Gateway, and an API Gateway
//!   authorizer that checks bearer tokens.
//! - [`admin`]: the provisioning use cases behind `oauth-admin` (clients, users, their tokens,
//!   and importing a django-oauth-toolkit deployment), over the [`domain::store`] ports,
//!   and its command line.
//! - [`config`]: the settings, as plain data below the adapters, which build their own types
//!   from them; [`aws`]: the SDK clients the DynamoDB store and the KMS vault use.
//! - [`startup`] and [`telemetry`]: start-up wiring shared by the binaries in `src/bin/`;
//!   [`startup`] is the one place that chooses the adapters.

pub mod admin;
pub mod aws;
pub mod config;
pub mod domain;
pub mod http;
pub mod lambda;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod vault;
