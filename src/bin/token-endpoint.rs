//! The token service: an AWS Lambda function when started by the Lambda runtime (the token
//! endpoints, or the API Gateway authorizer with `FUNCTION_KIND=authorizer`), otherwise a
//! local HTTP server on 127.0.0.1.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use token_endpoint::config::{
    Config, ConfigError, DynamoDbSettings, LocalServerSettings, Settings, StoreKind,
};
use token_endpoint::domain::TokenService;
use token_endpoint::domain::clock::SystemClock;
use token_endpoint::domain::signing::KeyRing;
use token_endpoint::domain::store::Store;
use token_endpoint::lambda::authorizer::Authorizer;
use token_endpoint::lambda::{self, FunctionKind};
use token_endpoint::startup::{
    self, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_JWT_CLIENT_ID, DEMO_JWT_CLIENT_SECRET,
    DEMO_PASSWORD, DEMO_USERNAME,
};
use token_endpoint::store::DynamoStore;
use token_endpoint::vault::KmsVault;
use token_endpoint::{http, telemetry};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init_logs();
    let outcome = match Settings::from_env_and_args(std::env::args_os()) {
        Ok(settings) => run(settings).await,
        // Usage errors, --help and --version: clap prints them and exits.
        Err(ConfigError::CommandLine(error)) => error.exit(),
        Err(error) => Err(error.into()),
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

async fn run(settings: Settings) -> Result<(), BoxError> {
    telemetry::init_request_log(&settings.telemetry);
    let Settings {
        service,
        dynamodb,
        lambda,
        local,
        ..
    } = settings;
    let config = Config::from(service);
    match lambda.aws_lambda_runtime_api {
        Some(_) => run_lambda(config, &dynamodb, lambda.function_kind).await,
        None => run_local(config, &dynamodb, local).await,
    }
}

async fn run_lambda(
    config: Config,
    dynamodb: &DynamoDbSettings,
    kind: FunctionKind,
) -> Result<(), BoxError> {
    let (dynamodb_client, kms) = dynamodb.clients().await;
    let store = DynamoStore::new(dynamodb_client, config.tables.clone());
    match kind {
        FunctionKind::Token => {
            let vault = KmsVault::new(kms, &config.signing.kms_key);
            let service = startup::signing_token_service(store.clone(), vault, &config)?;
            lambda::warm_up(&store, service.signing_keys()).await;
            let router = http::router_behind(service, config.discovery, config.trusted_proxies);
            lambda::http::run(router).await
        }
        FunctionKind::Authorizer => {
            let clock = Arc::new(SystemClock);
            let keys = KeyRing::verifying(store.clone(), clock.clone(), config.signing.key_ring);
            lambda::warm_up(&store, Some(&keys)).await;
            let issuer = config.discovery.issuer;
            let authorizer = Authorizer {
                store,
                keys,
                issuer,
                clock,
            };
            lambda::authorizer::run(authorizer).await
        }
    }
}

async fn run_local(
    config: Config,
    dynamodb: &DynamoDbSettings,
    local: LocalServerSettings,
) -> Result<(), BoxError> {
    match local.store {
        StoreKind::Memory => {
            let service = startup::demo_service(&config).await?;
            serve(service, config, local.port, true).await
        }
        StoreKind::Dynamodb => {
            let (dynamodb_client, kms) = dynamodb.clients().await;
            let store = DynamoStore::new(dynamodb_client, config.tables.clone());
            let vault = KmsVault::new(kms, &config.signing.kms_key);
            let service = startup::signing_token_service(store, vault, &config)?;
            serve(service, config, local.port, false).await
        }
    }
}

async fn serve<S: Store>(
    service: Arc<TokenService<S>>,
    config: Config,
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
            "memory store seeded with client {DEMO_CLIENT_ID} (secret {DEMO_CLIENT_SECRET}), JWT client {DEMO_JWT_CLIENT_ID} (secret {DEMO_JWT_CLIENT_SECRET}; keys at http://{address}{}) and user {DEMO_USERNAME} (password {DEMO_PASSWORD}). Try:\n\n  \
             curl -i -X POST -H 'Content-Type: application/x-www-form-urlencoded' -u {DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET} \
             -d 'grant_type=password&username={DEMO_USERNAME}&password={DEMO_PASSWORD}' http://{address}/o/token/\n",
            http::JWKS_PATH
        );
    }
    let router = http::router_behind(service, config.discovery, config.trusted_proxies);
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
