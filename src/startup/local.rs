//! The local server: the router on 127.0.0.1 over TCP, until Ctrl-C.

use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;

use super::demo::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_JWT_CLIENT_ID, DEMO_JWT_CLIENT_SECRET, DEMO_PASSWORD,
    DEMO_USERNAME,
};
use super::error::BoxError;
use crate::http;

/// Serves `router` on `port`; `demo`: prints the demo credentials and a request to try.
pub(super) async fn serve(router: Router, port: u16, demo: bool) -> Result<(), BoxError> {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    let address = listener.local_addr()?;
    println!(
        "token endpoint listening on http://{address}{}\n  revocation:    http://{address}{}\n  introspection: http://{address}{}\n  metadata:      http://{address}{}",
        http::TOKEN_PATH,
        http::REVOCATION_PATH,
        http::INTROSPECTION_PATH,
        http::METADATA_PATH
    );
    if demo {
        println!(
            "memory store seeded with client {DEMO_CLIENT_ID} (secret {DEMO_CLIENT_SECRET}), JWT client {DEMO_JWT_CLIENT_ID} (secret {DEMO_JWT_CLIENT_SECRET}; keys at http://{address}{}) and user {DEMO_USERNAME} (password {DEMO_PASSWORD}). Try:\n\n  \
             curl -i -X POST -H 'Content-Type: application/x-www-form-urlencoded' -u {DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET} \
             -d 'grant_type=password&username={DEMO_USERNAME}&password={DEMO_PASSWORD}' http://{address}/o/token/\n",
            http::JWKS_PATH
        );
    }
    // The TCP peer is the source address password attempts are counted by.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
