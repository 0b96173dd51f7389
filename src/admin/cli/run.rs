//! Runs a command on the deployment the environment names: its DynamoDB tables and the KMS
//! key that seals its JWT signing keys ([`Deployment`] connects to them). One function per
//! command; each checks its input before connecting, so invalid input never reaches the
//! store.

use super::commands::{Command, CreateClientArgs, ImportArgs, OwnerArgs, UpdateClientArgs};
use super::failure::{CommandFailure, failed_records};
use super::input::{secret_from_stdin, valid_client_id, valid_family_id, valid_username};
use super::output;
use crate::admin::{Admin, GRANTS_IN_FLIGHT_WAIT};
use crate::domain::clock::{Clock as _, SystemClock};
use crate::domain::{FamilyOwner, TokenFormat};
use crate::startup::{Deployment, DeploymentStore};

pub async fn run(command: Command) -> Result<(), CommandFailure> {
    match command {
        Command::CreateTables => create_tables().await,
        Command::CreateClient(args) => create_client(args).await,
        Command::RotateClientSecret {
            client_id,
            revoke_tokens,
        } => rotate_client_secret(&client_id, revoke_tokens).await,
        Command::UpdateClient(args) => update_client(args).await,
        Command::ShowClient { client_id } => show_client(&client_id).await,
        Command::ListClients => list_clients().await,
        Command::DeleteClient { client_id } => delete_client(&client_id).await,
        Command::CreateUser { username, .. } => create_user(&username).await,
        Command::SetPassword {
            username,
            revoke_tokens,
            ..
        } => set_password(&username, revoke_tokens).await,
        Command::ShowUser { username } => show_user(&username).await,
        Command::ListUsers => list_users().await,
        Command::DeleteUser { username } => delete_user(&username).await,
        Command::ListTokens { owner } => list_tokens(owner).await,
        Command::RevokeTokens { owner } => revoke_tokens(owner).await,
        Command::RevokeFamily { family_id } => revoke_family(&family_id).await,
        Command::SweepExpired => sweep_expired().await,
        Command::Import(args) => import(args).await,
        Command::RotateSigningKey { propagation_delay } => {
            rotate_signing_key(propagation_delay).await
        }
        Command::RevokeSigningKey { kid } => revoke_signing_key(&kid).await,
        Command::ListSigningKeys => list_signing_keys().await,
    }
}

/// The deployment, and the use cases over its store.
struct Operator {
    deployment: Deployment,
    admin: Admin<DeploymentStore>,
}

async fn connect() -> Result<Operator, CommandFailure> {
    let deployment = Deployment::connect()
        .await
        .map_err(CommandFailure::operation)?;
    // Hashing at the configured cost.
    let admin = Admin::new(deployment.store.clone(), deployment.config.argon2);
    Ok(Operator { deployment, admin })
}

async fn create_tables() -> Result<(), CommandFailure> {
    let operator = connect().await?;
    let deployment = &operator.deployment;
    let kms_key_id = deployment
        .create_tables()
        .await
        .map_err(CommandFailure::operation)?;
    let signing_key = operator
        .admin
        .ensure_signing_key(&deployment.vault(), SystemClock.now())
        .await?;
    output::tables_created(&deployment.config.tables, &kms_key_id, &signing_key).print()
}

async fn create_client(args: CreateClientArgs) -> Result<(), CommandFailure> {
    let new_client = args.new_client()?;
    let operator = connect().await?;
    ensure_signing_key_for(&operator, Some(new_client.access_tokens.format)).await?;
    let created = operator.admin.create_client(new_client).await?;
    output::client_created(&created).print()
}

async fn rotate_client_secret(client_id: &str, revoke_tokens: bool) -> Result<(), CommandFailure> {
    let client_id = valid_client_id(client_id)?;
    let admin = connect().await?.admin;
    if revoke_tokens {
        note_wait_for_grants_in_flight();
    }
    let (secret, revocation) = admin
        .rotate_client_secret(&client_id, revoke_tokens)
        .await?;
    output::client_secret_rotated(&client_id, &secret, &revocation).print()?;
    Ok(revocation.finish()?)
}

async fn update_client(args: UpdateClientArgs) -> Result<(), CommandFailure> {
    let (client_id, changes) = args.checked()?;
    let auth_method = args.auth_method()?;
    let operator = connect().await?;
    ensure_signing_key_for(&operator, changes.token_format).await?;
    let mut client = operator.admin.update_client(&client_id, &changes).await?;
    if let Some(method) = auth_method {
        client = (operator.admin)
            .settle_auth_method(&client_id, method)
            .await?;
    }
    output::client(&client).print()
}

async fn show_client(client_id: &str) -> Result<(), CommandFailure> {
    let client_id = valid_client_id(client_id)?;
    output::client(&connect().await?.admin.show_client(&client_id).await?).print()
}

async fn list_clients() -> Result<(), CommandFailure> {
    output::clients(&connect().await?.admin.list_clients().await?).print()
}

async fn delete_client(client_id: &str) -> Result<(), CommandFailure> {
    let client_id = valid_client_id(client_id)?;
    let admin = connect().await?.admin;
    note_wait_for_grants_in_flight();
    let revoked = admin.delete_client(&client_id).await?;
    output::deleted(&FamilyOwner::Client(client_id), revoked).print()
}

/// Says why ending a client's logins takes a while (see `Admin::end_client_logins`).
fn note_wait_for_grants_in_flight() {
    eprintln!(
        "oauth-admin: revoking the client's tokens, then, after {} s (for token requests in \
         flight to end), the logins they made",
        GRANTS_IN_FLIGHT_WAIT.as_secs()
    );
}

async fn create_user(username: &str) -> Result<(), CommandFailure> {
    let username = valid_username(username)?;
    let password = secret_from_stdin("password")?;
    connect()
        .await?
        .admin
        .create_user(&username, &password)
        .await?;
    output::user_created(&username).print()
}

async fn set_password(username: &str, revoke_tokens: bool) -> Result<(), CommandFailure> {
    let username = valid_username(username)?;
    let password = secret_from_stdin("password")?;
    let admin = connect().await?.admin;
    let revocation = admin
        .set_password(&username, &password, revoke_tokens)
        .await?;
    output::password_changed(&username, &revocation).print()?;
    Ok(revocation.finish()?)
}

async fn show_user(username: &str) -> Result<(), CommandFailure> {
    let username = valid_username(username)?;
    output::user(&connect().await?.admin.show_user(&username).await?).print()
}

async fn list_users() -> Result<(), CommandFailure> {
    output::users(&connect().await?.admin.list_users().await?).print()
}

async fn delete_user(username: &str) -> Result<(), CommandFailure> {
    let username = valid_username(username)?;
    let revoked = connect().await?.admin.delete_user(&username).await?;
    output::deleted(&FamilyOwner::User(username), revoked).print()
}

async fn list_tokens(owner: OwnerArgs) -> Result<(), CommandFailure> {
    let owner = owner.owner()?;
    let families = connect().await?.admin.token_families(&owner).await?;
    output::token_families(&owner, &families).print()
}

async fn revoke_tokens(owner: OwnerArgs) -> Result<(), CommandFailure> {
    let owner = owner.owner()?;
    let revoked = connect().await?.admin.revoke_tokens(&owner).await?;
    output::tokens_revoked(&owner, revoked).print()
}

async fn revoke_family(family_id: &str) -> Result<(), CommandFailure> {
    let family_id = valid_family_id(family_id)?;
    let tokens = connect().await?.admin.revoke_family(&family_id).await?;
    output::family_revoked(&family_id, tokens).print()
}

async fn sweep_expired() -> Result<(), CommandFailure> {
    let deleted = connect()
        .await?
        .deployment
        .store
        .sweep_expired(SystemClock.now())
        .await
        .map_err(CommandFailure::operation)?;
    output::swept(deleted).print()
}

async fn import(args: ImportArgs) -> Result<(), CommandFailure> {
    let options = args.options()?;
    let export = args.read_export()?;
    let report = connect().await?.admin.import(&export, &options).await?;
    output::import_report(&report)?.print()?;
    failed_records(&report)
}

async fn rotate_signing_key(propagation_delay: Option<u64>) -> Result<(), CommandFailure> {
    let operator = connect().await?;
    let deployment = &operator.deployment;
    let delay = propagation_delay.unwrap_or(deployment.config.signing.propagation_delay);
    let rotated = operator
        .admin
        .rotate_signing_key(&deployment.vault(), SystemClock.now(), delay)
        .await?;
    output::signing_key_rotated(&rotated).print()?;
    for kid in &rotated.superseded {
        eprintln!(
            "oauth-admin: note: key {kid}, of an earlier rotation, was to start signing \
             no earlier than the new key, which replaces it"
        );
    }
    // Version 1: the set was empty, so no verifier can hold a copy without the key.
    if delay == 0 && rotated.version > 1 {
        eprintln!(
            "oauth-admin: warning: the new key signs at once; verifiers that cached the \
             key set without it (API Gateway: up to an hour) refuse its tokens until \
             they fetch the set again"
        );
    }
    Ok(())
}

async fn revoke_signing_key(kid: &str) -> Result<(), CommandFailure> {
    let operator = connect().await?;
    let revoked = operator
        .admin
        .revoke_signing_key(&operator.deployment.vault(), kid, SystemClock.now())
        .await?;
    output::signing_key_revoked(&revoked).print()
}

async fn list_signing_keys() -> Result<(), CommandFailure> {
    let keys = connect()
        .await?
        .admin
        .signing_keys(SystemClock.now())
        .await?;
    output::signing_keys(&keys).print()
}

/// A JWT client needs a signing key. A deployment made by `sam deploy` (which does not run
/// `create-tables`) has none until its first JWT client.
async fn ensure_signing_key_for(
    operator: &Operator,
    format: Option<TokenFormat>,
) -> Result<(), CommandFailure> {
    if format != Some(TokenFormat::Jwt) {
        return Ok(());
    }
    let key = operator
        .admin
        .ensure_signing_key(&operator.deployment.vault(), SystemClock.now())
        .await?;
    if key.created {
        eprintln!(
            "oauth-admin: created the first JWT signing key, {}; it signs from now",
            key.kid
        );
    }
    Ok(())
}
