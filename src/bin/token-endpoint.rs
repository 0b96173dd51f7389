//! The token service: an AWS Lambda function when started by the Lambda runtime (the token
//! endpoints, or the API Gateway authorizer with `FUNCTION_KIND=authorizer`), otherwise a
//! local HTTP server on 127.0.0.1. `startup::run` chooses the adapters and serves them.

use std::process::ExitCode;

use token_endpoint::config::{ConfigError, Settings};
use token_endpoint::{startup, telemetry};

/// A refresh allocates about 120 small blocks, many of one size alive together (records,
/// hashes, ids), which overflow glibc's per-thread cache: glibc's malloc took 15 % of the
/// server's CPU, mimalloc takes 5.6 %. Built without transparent huge pages, which cost init
/// time (docs/operations.md, "CPU: the allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init_logs();
    let outcome = match Settings::from_env_and_args(std::env::args_os()) {
        Ok(settings) => startup::run(settings).await,
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
