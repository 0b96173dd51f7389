//! `oauth-admin`: provisions, shows and lists the token endpoint's DynamoDB tables, clients
//! and users, imports them from django-oauth-toolkit, lists and revokes their tokens, and
//! creates, rotates and lists the JWT signing keys.
//!
//! It reads the same environment as the token endpoint (`CREDENTIALS_TABLE`, `TOKENS_TABLE`,
//! `ARGON2_*`, `SIGNING_KEY_*`, and the AWS SDK's usual variables) and writes through the same
//! store code, so what it provisions is exactly what the endpoint reads.
//!
//! Stdout carries only the command's JSON result; errors go to stderr as `oauth-admin: …`.
//! Passwords and secrets are read from standard input, never from arguments (which other
//! users can see in the process list), and are never printed, except a client secret this
//! tool generated, which is shown once.
//!
//! This file only starts: the use cases are `token_endpoint::admin`; the commands, input
//! checks and output are `token_endpoint::admin::cli`; the wiring to DynamoDB and KMS is
//! `token_endpoint::startup::Deployment`.

use std::process::ExitCode;

use clap::Parser as _;
use token_endpoint::admin::cli::{Cli, run};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("oauth-admin: {failure}");
            failure.exit_code()
        }
    }
}
