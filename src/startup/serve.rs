//! Starting the service from its settings: the one place that chooses the store adapter (and
//! the key vault that goes with it), then serves it as the Lambda function or the local
//! server the settings name. Each choice is monomorphised: no dynamic dispatch per request.

use std::sync::Arc;

use crate::config::{Config, FunctionKind, OFF, Settings, StoreKind};
use crate::domain::TokenService;
use crate::domain::clock::SystemClock;
use crate::domain::signing::{KeyRing, KeySetStore, KeyVault};
use crate::domain::store::Store;
use crate::http::Discovery;
use crate::http::source_address::TrustedProxies;
use crate::lambda::{self, authorizer::Authorizer};
use crate::store::dynamodb::TableNames;
use crate::store::{DynamoStore, WarmUp};
use crate::vault::KmsVault;
use crate::{aws, telemetry};

use super::demo::demo_store;
use super::error::BoxError;
use super::local;
use super::service::{seeded_service, signing_token_service};

/// What the service needs of a store, named once so a split of the port changes one line.
pub trait ServiceStore: Store + KeySetStore + WarmUp + Clone {}

impl<S: Store + KeySetStore + WarmUp + Clone> ServiceStore for S {}

/// What this process serves.
#[derive(Debug, Clone, Copy)]
enum Role {
    /// Started by the Lambda runtime.
    Lambda(FunctionKind),
    /// The local server, on 127.0.0.1.
    Local { port: u16 },
}

/// Runs the service the settings describe until it stops.
pub async fn run(settings: Settings) -> Result<(), BoxError> {
    telemetry::init_request_log(&settings.telemetry);
    let Settings {
        service,
        dynamodb,
        lambda,
        local,
        ..
    } = settings;
    for (variable, off_means) in service.protections_off() {
        tracing::warn!(variable, "{variable}={OFF}: {off_means}");
    }
    let config = Config::from(service);
    // On Lambda the store is always DynamoDB; TOKEN_STORE chooses only the local server's.
    let (role, store) = match lambda.aws_lambda_runtime_api {
        Some(_) => (Role::Lambda(lambda.function_kind), StoreKind::Dynamodb),
        None => (Role::Local { port: local.port }, local.store),
    };
    match store {
        StoreKind::Memory => {
            let (store, vault) = demo_store().await?;
            serve(store, vault, config, role, true).await
        }
        StoreKind::Dynamodb => {
            let (dynamodb_client, kms) = aws::clients(&dynamodb).await;
            let store = DynamoStore::new(dynamodb_client, TableNames::from(&config.tables));
            let vault = KmsVault::new(kms, &config.signing.kms_key);
            serve(store, vault, config, role, false).await
        }
    }
}

/// Serves `store` as `role`; `demo`: seeds the demo clients and user, and says so.
async fn serve<S: ServiceStore, V: KeyVault>(
    store: S,
    vault: V,
    config: Config,
    role: Role,
    demo: bool,
) -> Result<(), BoxError> {
    match role {
        Role::Lambda(FunctionKind::Token) => {
            let service = signing_token_service(store.clone(), vault, &config)?;
            lambda::warm_up(&store).await;
            lambda::http::run(router(service, config)).await
        }
        Role::Lambda(FunctionKind::Authorizer) => {
            let clock = Arc::new(SystemClock);
            let keys = KeyRing::verifying(store.clone(), clock.clone(), config.signing.key_ring);
            lambda::warm_up(&store).await;
            let audiences = config.discovery.authorizer_audiences();
            let issuer = config.discovery.issuer;
            let authorizer = Authorizer {
                store,
                keys,
                issuer,
                audiences,
                clock,
                accepts_dpop: config.authorizer_accepts_dpop,
            };
            lambda::authorizer::run(authorizer).await
        }
        Role::Local { port } => {
            let service = seeded_service(store, vault, &config, demo).await?;
            local::serve(router(service, config), port, demo).await
        }
    }
}

/// The router, with the discovery and the trusted proxies `config` names.
fn router<S: Store>(service: Arc<TokenService<S>>, config: Config) -> axum::Router {
    crate::http::router_behind(
        service,
        Discovery::from(config.discovery),
        TrustedProxies::from(config.trusted_proxies),
    )
}
