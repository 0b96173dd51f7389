//! The token endpoint's rules, free of HTTP and AWS.
//!
//! [`grant::TokenService`] runs a grant: it authenticates the client, checks the user or the
//! refresh token, settles the scope and asks the [`store::Store`] to persist the new
//! token pair. Everything it needs from the outside world comes through that trait and the
//! [`clock::Clock`].

pub mod clock;
pub mod credentials;
pub mod error;
pub mod grant;
pub mod lifecycle;
pub mod login_throttle;
pub mod minting;
pub mod model;
pub mod names;
mod refresh;
pub mod scope;
pub mod secret;
pub mod signing;
pub mod store;
pub mod token;

pub use error::GrantError;
pub use grant::Lifetimes;
pub use grant::{GrantRequest, IssuedTokens, TokenRequest, TokenService};
pub use login_throttle::LockoutPolicy;
pub use model::{
    AccessTokenPolicy, Client, FamilyOwner, GrantType, TokenFamily, TokenFormat, User,
};
pub use scope::Scope;
pub use secret::Secret;
