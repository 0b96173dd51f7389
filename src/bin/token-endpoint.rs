//! The token service: an AWS Lambda function when started by the Lambda runtime (the token
//! endpoints, or the API Gateway authorizer with `FUNCTION_KIND=authorizer`), otherwise a
//! local HTTP server on 127.0.0.1.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use token_endpoint::config::{self, Config};
use token_endpoint::domain::clock::SystemClock;
use token_endpoint::domain::store::Store;
use token_endpoint::lambda::{self, FunctionKind};
use token_endpoint::startup::{
    self, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD, DEMO_USERNAME,
};
use token_endpoint::store::{DynamoStore, MemoryStore};
use token_endpoint::{http, telemetry};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "OAuth 2.0 token endpoint: POST /o/token/ (local server; on AWS Lambda it serves the runtime instead)"
)]
struct Args {
    /// Where clients, users and tokens live.
    #[arg(long, env = "TOKEN_STORE", value_enum, default_value_t = StoreKind::Memory)]
    store: StoreKind,
    /// Port on 127.0.0.1.
    #[arg(long, env = "PORT", default_value_t = 9000)]
    port: u16,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StoreKind {
    /// In-process, seeded with a demo client and user; gone when the process stops.
    Memory,
    /// DynamoDB, at the SDK's configured endpoint (`AWS_ENDPOINT_URL_DYNAMODB` for a local one).
    Dynamodb,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let outcome = if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        run_lambda().await
    } else {
        run_local(Args::parse()).await
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "token-endpoint stopped");
            eprintln!("token-endpoint: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run_lambda() -> Result<(), BoxError> {
    let kind = FunctionKind::from_env()?;
    let config = Config::from_env()?;
    let store = DynamoStore::new(config::dynamodb_client().await, config.tables.clone());
    // Bounded, so a DynamoDB outage delays init by at most this much.
    match tokio::time::timeout(Duration::from_secs(2), store.warm_up()).await {
        Ok(Ok(())) => tracing::debug!("DynamoDB connection warmed"),
        Ok(Err(error)) => tracing::warn!(error = %error, "DynamoDB warm-up failed"),
        Err(_) => tracing::warn!("DynamoDB warm-up timed out"),
    }
    match kind {
        FunctionKind::Token => {
            let service = startup::token_service(store, &config)?;
            lambda::http::run(http::router(service, config.discovery)).await
        }
        FunctionKind::Authorizer => {
            lambda::authorizer::run(store, std::sync::Arc::new(SystemClock)).await
        }
    }
}

async fn run_local(args: Args) -> Result<(), BoxError> {
    let config = Config::from_env()?;
    match args.store {
        StoreKind::Memory => {
            let service = startup::token_service(MemoryStore::new(), &config)?;
            startup::seed_demo(&service).await?;
            serve(service, config.discovery, args.port, true).await
        }
        StoreKind::Dynamodb => {
            let store = DynamoStore::new(config::dynamodb_client().await, config.tables.clone());
            let service = startup::token_service(store, &config)?;
            serve(service, config.discovery, args.port, false).await
        }
    }
}

async fn serve<S: Store>(
    service: std::sync::Arc<token_endpoint::domain::TokenService<S>>,
    discovery: http::Discovery,
    port: u16,
    demo: bool,
) -> Result<(), BoxError> {
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
            "memory store seeded with client {DEMO_CLIENT_ID} (secret {DEMO_CLIENT_SECRET}) and user {DEMO_USERNAME} (password {DEMO_PASSWORD}). Try:\n\n  \
             curl -i -X POST -H 'Content-Type: application/x-www-form-urlencoded' -u {DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET} \
             -d 'grant_type=password&username={DEMO_USERNAME}&password={DEMO_PASSWORD}' http://{address}/o/token/\n"
        );
    }
    axum::serve(listener, http::router(service, discovery))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
