//! Wiring shared by the binaries and the tests: building the service, choosing the adapters
//! ([`run`] for the token service, [`Deployment`] for `oauth-admin`) and seeding the demo
//! data.

mod demo;
mod deployment;
mod error;
mod local;
mod serve;
mod service;

pub use demo::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_JWT_CLIENT_ID, DEMO_JWT_CLIENT_SECRET, DEMO_PASSWORD,
    DEMO_SCOPE, DEMO_USERNAME, SeedError, seed_demo,
};
pub use deployment::{Deployment, DeploymentStore};
pub use error::BoxError;
pub use serve::{ServiceStore, run};
pub use service::{demo_service, signing_token_service, token_service};
