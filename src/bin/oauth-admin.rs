//! `oauth-admin`: provisions, shows and lists the token endpoint's DynamoDB tables, clients
//! and users, imports them from django-oauth-toolkit, and lists and revokes their tokens.
//!
//! It reads the same environment as the token endpoint (`CREDENTIALS_TABLE`, `TOKENS_TABLE`,
//! `ARGON2_*`, and the AWS SDK's usual variables) and writes through the same store code, so
//! what it provisions is exactly what the endpoint reads.
//!
//! Stdout carries only the command's JSON result; errors go to stderr as `oauth-admin: …`.
//! Passwords and secrets are read from standard input, never from arguments (which other
//! users can see in the process list), and are never printed, except a client secret this
//! tool generated, which is shown once.
//!
//! This file only wires: the use cases are `token_endpoint::admin`, the commands, input
//! checks and output are `token_endpoint::admin::cli`.

use std::process::ExitCode;

use clap::Parser as _;
use token_endpoint::admin::Admin;
use token_endpoint::admin::cli::{
    Cli, Command, Failure, failed_records, output, secret_from_stdin, valid_client_id,
    valid_family_id, valid_username,
};
use token_endpoint::config::{self, Config};
use token_endpoint::domain::FamilyOwner;
use token_endpoint::store::DynamoStore;

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

/// Each command checks its input before connecting, so invalid input never reaches the store.
async fn run(command: Command) -> Result<(), Failure> {
    match command {
        // DynamoDB's own provisioning, outside the storage port.
        Command::CreateTables => {
            let (config, store) = connect().await?;
            store.create_tables().await.map_err(Failure::operation)?;
            output::tables_created(&config.tables).print()
        }
        Command::CreateClient(args) => {
            let new_client = args.new_client()?;
            let created = admin().await?.create_client(new_client).await?;
            output::client_created(&created).print()
        }
        Command::RotateClientSecret {
            client_id,
            revoke_tokens,
        } => {
            let client_id = valid_client_id(&client_id)?;
            let admin = admin().await?;
            let (secret, revocation) = admin
                .rotate_client_secret(&client_id, revoke_tokens)
                .await?;
            output::client_secret_rotated(&client_id, &secret, &revocation).print()?;
            Ok(revocation.finish()?)
        }
        Command::UpdateClient(args) => {
            let (client_id, changes) = args.checked()?;
            let client = admin().await?.update_client(&client_id, &changes).await?;
            output::client(&client).print()
        }
        Command::ShowClient { client_id } => {
            let client_id = valid_client_id(&client_id)?;
            output::client(&admin().await?.show_client(&client_id).await?).print()
        }
        Command::ListClients => output::clients(&admin().await?.list_clients().await?).print(),
        Command::DeleteClient { client_id } => {
            let client_id = valid_client_id(&client_id)?;
            let revoked = admin().await?.delete_client(&client_id).await?;
            output::deleted(&FamilyOwner::Client(client_id), revoked).print()
        }
        Command::CreateUser { username, .. } => {
            let username = valid_username(&username)?;
            let password = secret_from_stdin("password")?;
            admin().await?.create_user(&username, &password).await?;
            output::user_created(&username).print()
        }
        Command::SetPassword {
            username,
            revoke_tokens,
            ..
        } => {
            let username = valid_username(&username)?;
            let password = secret_from_stdin("password")?;
            let admin = admin().await?;
            let revocation = admin
                .set_password(&username, &password, revoke_tokens)
                .await?;
            output::password_changed(&username, &revocation).print()?;
            Ok(revocation.finish()?)
        }
        Command::ShowUser { username } => {
            let username = valid_username(&username)?;
            output::user(&admin().await?.show_user(&username).await?).print()
        }
        Command::ListUsers => output::users(&admin().await?.list_users().await?).print(),
        Command::DeleteUser { username } => {
            let username = valid_username(&username)?;
            let revoked = admin().await?.delete_user(&username).await?;
            output::deleted(&FamilyOwner::User(username), revoked).print()
        }
        Command::ListTokens { owner } => {
            let owner = owner.owner()?;
            let families = admin().await?.token_families(&owner).await?;
            output::token_families(&owner, &families).print()
        }
        Command::RevokeTokens { owner } => {
            let owner = owner.owner()?;
            let revoked = admin().await?.revoke_tokens(&owner).await?;
            output::tokens_revoked(&owner, revoked).print()
        }
        Command::RevokeFamily { family_id } => {
            let family_id = valid_family_id(&family_id)?;
            let tokens = admin().await?.revoke_family(&family_id).await?;
            output::family_revoked(&family_id, tokens).print()
        }
        Command::Import(args) => {
            let options = args.options()?;
            let export = args.read_export()?;
            let report = admin().await?.import(&export, &options).await?;
            output::import_report(&report)?.print()?;
            failed_records(&report)
        }
    }
}

/// The configuration and the DynamoDB store it names.
async fn connect() -> Result<(Config, DynamoStore), Failure> {
    let config = Config::from_env().map_err(Failure::operation)?;
    let store = DynamoStore::new(config::dynamodb_client().await, config.tables.clone());
    Ok((config, store))
}

/// The use cases over that store, hashing at the configured cost.
async fn admin() -> Result<Admin<DynamoStore>, Failure> {
    let (config, store) = connect().await?;
    Ok(Admin::new(store, config.argon2))
}
