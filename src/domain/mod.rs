//! The token endpoint's rules, free of HTTP and AWS.
//!
//! [`TokenService`] serves the endpoints: a grant in [`grants`] (one file per grant type)
//! authenticates the client, checks the user or the refresh token and settles the scope, then
//! the shared [`issuer::Issuer`] mints the tokens and the storage ports in [`store`] persist
//! them; [`lifecycle`] revokes and introspects them. Everything it needs from the outside
//! world comes through those ports and the [`clock::Clock`].

pub mod clock;
pub mod credentials;
pub mod crypto;
pub mod error;
pub mod grants;
pub mod issuance;
pub mod issuer;
pub mod jose;
pub mod lifecycle;
pub mod login_record;
pub mod login_throttle;
pub mod model;
pub mod names;
pub mod resource;
pub mod scope;
pub mod secret;
pub mod service;
pub mod signing;
pub mod store;
pub mod token;

pub use error::GrantError;
pub use grants::{GrantRequest, TokenRequest};
pub use issuance::{Issuance, IssuanceRefused};
pub use issuer::{ClientAssertion, ClientCredentials, IssuedTokens, Lifetimes};
pub use login_throttle::LockoutPolicy;
pub use model::{
    AccessTokenPolicy, Client, FamilyOwner, GrantType, TokenFamily, TokenFormat, User,
};
pub use scope::Scope;
pub use secret::Secret;
pub use service::TokenService;
