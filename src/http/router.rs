//! The routes: which path and method reach which endpoint, what OPTIONS and other methods
//! are answered, the 404 for every other path, and the observing middleware around them all.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};

use super::discovery::Discovery;
use super::error::OAuthError;
use super::metadata;
use super::observe::observe;
use super::paths::{
    INTROSPECTION_PATH, JWKS_PATH, METADATA_METHODS, METADATA_PATH, OPENID_CONFIGURATION_PATH,
    POST_METHODS, REVOCATION_PATH, TOKEN_PATH,
};
use super::source_address::{self, TrustedProxies};
use super::{introspection, keys, revocation, token};
use crate::domain::TokenService;
use crate::domain::store::Store;

/// The router for every endpoint, believing no forwarded header. `discovery` says how the
/// metadata document names the server.
pub fn router<S: Store>(service: Arc<TokenService<S>>, discovery: Discovery) -> Router {
    router_behind(service, discovery, TrustedProxies::default())
}

/// The router for every endpoint, believing `X-Forwarded-For` from the `trusted` proxies only.
pub fn router_behind<S: Store>(
    service: Arc<TokenService<S>>,
    discovery: Discovery,
    trusted: TrustedProxies,
) -> Router {
    let token = allowing(post(token::token_endpoint::<S>), POST_METHODS);
    let revocation = allowing(post(revocation::revocation_endpoint::<S>), POST_METHODS);
    let introspection = allowing(
        post(introspection::introspection_endpoint::<S>),
        POST_METHODS,
    );
    let discovery = Arc::new(discovery);
    let metadata = allowing(get(metadata::metadata_endpoint), METADATA_METHODS)
        .with_state(Arc::clone(&discovery));
    // With and without the trailing slash: a redirect would turn a client's POST into a GET
    // and lose the body.
    Router::new()
        .route(TOKEN_PATH, token.clone())
        .route(TOKEN_PATH.trim_end_matches('/'), token)
        .route(REVOCATION_PATH, revocation.clone())
        .route(REVOCATION_PATH.trim_end_matches('/'), revocation)
        .route(INTROSPECTION_PATH, introspection.clone())
        .route(INTROSPECTION_PATH.trim_end_matches('/'), introspection)
        .route_service(METADATA_PATH, metadata.clone())
        .route_service(OPENID_CONFIGURATION_PATH, metadata)
        .route(
            JWKS_PATH,
            allowing(get(keys::jwks_endpoint::<S>), METADATA_METHODS),
        )
        .fallback(not_found)
        .with_state(service)
        .layer(middleware::from_fn_with_state(
            Arc::new(Edge { trusted, discovery }),
            edge,
        ))
}

/// What every request gets before an endpoint sees it.
struct Edge {
    /// The proxies whose `X-Forwarded-For` names the caller.
    trusted: TrustedProxies,
    /// How the token endpoint names the issuer and audience of JWT access tokens.
    discovery: Arc<Discovery>,
}

/// The one middleware around every route: attaches the caller's address and the discovery
/// settings, then observes the request. One layer rather than three, since each layer costs
/// every request a boxed service clone and a boxed future.
async fn edge(State(edge): State<Arc<Edge>>, request: Request, next: Next) -> Response {
    let mut request = source_address::attach(request, &edge.trusted);
    request.extensions_mut().insert(Arc::clone(&edge.discovery));
    observe(request, next).await
}

/// `endpoint`, with OPTIONS answering which methods it allows and any other method a 405
/// saying the same.
fn allowing<State: Clone + Send + Sync + 'static>(
    endpoint: MethodRouter<State>,
    allow: &'static str,
) -> MethodRouter<State> {
    endpoint
        .options(move || async move { (StatusCode::OK, [(header::ALLOW, allow)]) })
        .fallback(move || async move { OAuthError::method_not_allowed(allow) })
}

async fn not_found() -> OAuthError {
    OAuthError::not_found()
}
