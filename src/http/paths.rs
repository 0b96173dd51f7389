//! Where the endpoints are and which methods they allow: shared by the router, which routes
//! them, and the metadata document, which publishes them.

/// Paths of the endpoints, relative to the issuer.
pub const TOKEN_PATH: &str = "/o/token/";
pub const REVOCATION_PATH: &str = "/o/revoke_token/";
pub const INTROSPECTION_PATH: &str = "/o/introspect/";
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// The same document where OpenID Connect discovery (and API Gateway's JWT authorizers) look.
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// What the POST endpoints allow.
pub const POST_METHODS: &str = "POST, OPTIONS";

/// What the metadata document allows (axum answers HEAD for a GET route).
pub const METADATA_METHODS: &str = "GET, HEAD, OPTIONS";
