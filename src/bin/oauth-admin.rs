//! `oauth-admin`: provisions the token endpoint's DynamoDB tables, clients and users, imports
//! them from django-oauth-toolkit, and lists and revokes their tokens.
//!
//! It reads the same environment as the token endpoint (`CREDENTIALS_TABLE`, `TOKENS_TABLE`,
//! `ARGON2_*`, and the AWS SDK's usual variables) and writes through the same store code, so
//! what it provisions is exactly what the endpoint reads.
//!
//! Stdout carries only the command's JSON result; errors go to stderr as `oauth-admin: …`.
//! Passwords and secrets are read from standard input, never from arguments (which other
//! users can see in the process list), and are never printed, except a client secret this
//! tool generated, which is shown once.

use std::io::{self, BufRead as _, IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr as _;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use token_endpoint::config::{self, Config};
use token_endpoint::domain::clock::{Clock as _, SystemClock};
use token_endpoint::domain::credentials::CredentialVerifier;
use token_endpoint::domain::lifecycle::{Revoked, revoke_all};
use token_endpoint::domain::names::{
    NameError, check_client_id, check_client_name, check_username,
};
use token_endpoint::domain::store::Store;
use token_endpoint::domain::token::random_alphanumeric;
use token_endpoint::domain::{Client, FamilyOwner, GrantType, Scope, Secret, TokenFamily, User};
use token_endpoint::migration::{self, ImportOptions};
use token_endpoint::store::DynamoStore;

/// Length of a generated client id.
const CLIENT_ID_LENGTH: usize = 20;
/// Length of a generated client secret.
const CLIENT_SECRET_LENGTH: usize = 40;

/// Invalid input: the same exit code as clap's usage errors.
const EXIT_INVALID_INPUT: u8 = 2;

const AFTER_HELP: &str = "\
Environment:
  CREDENTIALS_TABLE, TOKENS_TABLE       table names (default oauth-credentials, oauth-tokens)
  ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM
                                        cost of new password and secret hashes
  AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_DYNAMODB, ...
                                        the AWS SDK's usual settings

Stdout carries only the JSON result. Exit status: 0 on success, 1 when the operation failed
(already exists, does not exist, store unavailable), 2 for invalid input or usage.";

const IMPORT_HELP: &str = "\
Export from the Django project (any django-oauth-toolkit version), e.g.:
  python manage.py dumpdata oauth2_provider.application auth.user --indent 2 > dot.json
  oauth-admin import --file dot.json --scope \"read write\"
The export holds every password hash, and client secrets, maybe in plaintext: keep it private
and delete it afterwards.

The file is a JSON list of {\"model\", \"pk\", \"fields\"} objects, of which are read:
  oauth2_provider.application  client_id, name, client_type, authorization_grant_type and
      client_secret. Confidential applications of grant type \"password\" become clients
      with password and refresh_token, \"client-credentials\" ones clients with
      client_credentials, all with --scope. A client_secret hashed by django-oauth-toolkit
      2.0 or later (pbkdf2_sha256$...) is kept as it is; a plaintext one (before 2.0, or
      hash_client_secret=False) is hashed with Argon2id here.
  auth.user  username, password (pbkdf2_sha256$..., Django's default hasher) and is_active.
Objects of other models are counted and left out. Django hashes are verified as Django
verifies them and replaced with Argon2id on their first successful use, so nobody resets a
secret or a password.

Skipped, each with its reason: public clients; other grant types (authorization-code,
implicit, openid-hybrid, device code); inactive users; unusable passwords; secrets and
passwords hashed by Django's other hashers (argon2, bcrypt_sha256, scrypt, pbkdf2_sha1, ...),
which must be reset: create-client --client-id ID, or create-user, with a new one. Clients and
users that exist already are skipped too, never overwritten: importing again is safe.

Stdout: one JSON line with counts of imported, skipped and failed clients and users, and each
record's outcome; never a secret or a hash. Exit status 1 if any record failed (importing
again retries it), 2 if the file cannot be read as a dumpdata export (nothing is written).";

#[derive(Debug, Parser)]
#[command(
    name = "oauth-admin",
    version,
    about = "Provisions the OAuth 2.0 token endpoint (its DynamoDB tables, clients and users) and revokes tokens",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates the credentials and tokens tables, with TTL on the tokens table. Safe to run
    /// again: existing tables are left as they are.
    CreateTables,

    /// Registers a client. Prints its client_id and, if generated here, its client_secret:
    /// the secret is shown only this once.
    CreateClient {
        /// Human-readable name of the client.
        #[arg(long)]
        name: String,
        /// Space-separated scopes the client may ask for, e.g. "read write"; also its default
        /// scope when it asks for none.
        #[arg(long)]
        scope: String,
        /// Comma-separated grant types the client may use: password, refresh_token,
        /// client_credentials.
        #[arg(long, value_name = "GRANT_TYPES")]
        grant_types: String,
        /// Use this client id instead of generating one (1 to 100 characters of A-Z a-z 0-9
        /// . _ ~ -), e.g. to keep an existing client's id.
        #[arg(long)]
        client_id: Option<String>,
        /// Read the client's existing secret from the first line of standard input instead of
        /// generating one, so a client moving over keeps its credentials. Requires
        /// --client-id.
        #[arg(long, requires = "client_id")]
        client_secret_stdin: bool,
    },

    /// Replaces a client's secret with a new generated one and prints it, once. The old
    /// secret stops working.
    RotateClientSecret {
        /// The client whose secret to replace.
        #[arg(long)]
        client_id: String,
    },

    /// Removes a client and revokes every token issued to it.
    DeleteClient {
        /// The client to remove.
        #[arg(long)]
        client_id: String,
    },

    /// Adds a user who can log in with the password grant.
    CreateUser {
        /// The username (1 to 150 characters, no control characters, no leading or trailing
        /// whitespace).
        #[arg(long)]
        username: String,
        /// Read the password from the first line of standard input (required: passwords are
        /// never taken as arguments).
        #[arg(long, required = true)]
        password_stdin: bool,
    },

    /// Replaces a user's password. The old password stops working.
    SetPassword {
        /// The user whose password to replace.
        #[arg(long)]
        username: String,
        /// Read the new password from the first line of standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },

    /// Removes a user and revokes every token issued to them.
    DeleteUser {
        /// The user to remove.
        #[arg(long)]
        username: String,
    },

    /// Lists the live token families of a user or a client, oldest first: one per login
    /// (a password grant and its refreshes) or client credentials grant, with when it was
    /// created and last refreshed. Tokens themselves are never shown.
    ListTokens {
        #[command(flatten)]
        owner: OwnerArgs,
    },

    /// Revokes every access and refresh token of a user (e.g. a leaked password) or of a
    /// client (e.g. a leaked secret). Families created in the last second may be missed: the
    /// index behind it is eventually consistent; run it again to be sure.
    RevokeTokens {
        #[command(flatten)]
        owner: OwnerArgs,
    },

    /// Revokes one token family (one login), as listed by list-tokens.
    RevokeFamily {
        /// The family_id from list-tokens.
        #[arg(long)]
        family_id: String,
    },

    /// Imports a django-oauth-toolkit deployment's applications and users from a `manage.py
    /// dumpdata` export, keeping client ids, client secrets and passwords.
    #[command(after_help = IMPORT_HELP)]
    Import {
        /// The dumpdata JSON file, or - for standard input.
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
        /// Space-separated scopes every imported client may ask for, e.g. "read write":
        /// django-oauth-toolkit applications have no scopes of their own (give its SCOPES).
        #[arg(long)]
        scope: String,
        /// The application model's label, if OAUTH2_PROVIDER_APPLICATION_MODEL swaps it.
        #[arg(long, default_value = migration::APPLICATION_MODEL)]
        application_model: String,
        /// The user model's label, if AUTH_USER_MODEL swaps it.
        #[arg(long, default_value = migration::USER_MODEL)]
        user_model: String,
        /// The user model's USERNAME_FIELD.
        #[arg(long, default_value = migration::USERNAME_FIELD)]
        username_field: String,
    },
}

/// Whose tokens: exactly one of --username and --client-id.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct OwnerArgs {
    /// The user whose tokens to act on.
    #[arg(long)]
    username: Option<String>,
    /// The client whose tokens to act on.
    #[arg(long)]
    client_id: Option<String>,
}

impl OwnerArgs {
    fn owner(&self) -> Result<FamilyOwner, Failure> {
        match (&self.username, &self.client_id) {
            (Some(username), _) => Ok(FamilyOwner::User(valid_username(username)?)),
            (None, Some(client_id)) => Ok(FamilyOwner::Client(valid_client_id(client_id)?)),
            (None, None) => Err(Failure::InvalidInput(
                "give --username or --client-id".into(),
            )),
        }
    }
}

/// Why a command failed, and so which exit status it ends with.
#[derive(Debug)]
enum Failure {
    /// The arguments or standard input were not acceptable; nothing was written.
    InvalidInput(String),
    /// The operation itself failed: configuration, store, hashing, output.
    Operation(String),
}

impl Failure {
    fn operation(error: impl std::fmt::Display) -> Self {
        Self::Operation(error.to_string())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::InvalidInput(message)) => {
            eprintln!("oauth-admin: {message}");
            ExitCode::from(EXIT_INVALID_INPUT)
        }
        Err(Failure::Operation(message)) => {
            eprintln!("oauth-admin: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::CreateTables => {
            let (config, store) = connect().await?;
            store.create_tables().await.map_err(Failure::operation)?;
            print_result(
                &json!({
                    "credentials_table": config.tables.credentials,
                    "tokens_table": config.tables.tokens,
                }),
                None,
            )
        }
        Command::CreateClient {
            name,
            scope,
            grant_types,
            client_id,
            client_secret_stdin,
        } => {
            let name = valid_client_name(&name)?;
            let scope = valid_scope(&scope)?;
            let grant_types = valid_grant_types(&grant_types)?;
            let client_id = client_id.as_deref().map(valid_client_id).transpose()?;
            let imported_secret = if client_secret_stdin {
                Some(secret_from_stdin("client secret")?)
            } else {
                None
            };
            let (config, store) = connect().await?;
            let verifier = verifier(&config)?;
            let client_id = match client_id {
                Some(client_id) => client_id,
                None => random_alphanumeric(CLIENT_ID_LENGTH).map_err(Failure::operation)?,
            };
            // An imported secret is the operator's already; only a generated one is shown.
            let (secret, show_secret) = match imported_secret {
                Some(secret) => (secret, false),
                None => (generate_secret()?, true),
            };
            let client = Client {
                client_id,
                name,
                secret_hash: verifier.hash(&secret).map_err(Failure::operation)?,
                scope,
                grant_types,
            };
            store
                .create_client(&client)
                .await
                .map_err(Failure::operation)?;
            let mut result = json!({
                "client_id": client.client_id,
                "name": client.name,
                "scope": client.scope.to_string(),
                "grant_types": client.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            });
            if show_secret && let Some(fields) = result.as_object_mut() {
                fields.insert("client_secret".into(), secret.expose().into());
            }
            print_result(
                &result,
                show_secret.then(|| {
                    format!(
                        "client {} was created but its secret could not be shown; \
                         run rotate-client-secret --client-id {} for a new one",
                        client.client_id, client.client_id
                    )
                }),
            )
        }
        Command::RotateClientSecret { client_id } => {
            let client_id = valid_client_id(&client_id)?;
            let (config, store) = connect().await?;
            let secret = generate_secret()?;
            let secret_hash = verifier(&config)?
                .hash(&secret)
                .map_err(Failure::operation)?;
            store
                .set_client_secret_hash(&client_id, &secret_hash)
                .await
                .map_err(Failure::operation)?;
            print_result(
                &json!({ "client_id": client_id, "client_secret": secret.expose() }),
                Some(format!(
                    "the secret of client {client_id} was replaced but the new one could not \
                     be shown; run rotate-client-secret again"
                )),
            )
        }
        Command::DeleteClient { client_id } => {
            let client_id = valid_client_id(&client_id)?;
            let (_, store) = connect().await?;
            store
                .delete_client(&client_id)
                .await
                .map_err(Failure::operation)?;
            let revoked = revoke(&store, &FamilyOwner::Client(client_id.clone()))
                .await
                .map_err(|failure| {
                    deleted_but_not_revoked(failure, "client", "--client-id", &client_id)
                })?;
            print_result(
                &json!({
                    "client_id": client_id,
                    "deleted": true,
                    "revoked_families": revoked.families,
                    "revoked_tokens": revoked.tokens,
                }),
                None,
            )
        }
        Command::CreateUser { username, .. } => {
            let username = valid_username(&username)?;
            let password = secret_from_stdin("password")?;
            let (config, store) = connect().await?;
            let user = User {
                password_hash: verifier(&config)?
                    .hash(&password)
                    .map_err(Failure::operation)?,
                username,
            };
            store.create_user(&user).await.map_err(Failure::operation)?;
            print_result(&json!({ "username": user.username }), None)
        }
        Command::SetPassword { username, .. } => {
            let username = valid_username(&username)?;
            let password = secret_from_stdin("password")?;
            let (config, store) = connect().await?;
            let password_hash = verifier(&config)?
                .hash(&password)
                .map_err(Failure::operation)?;
            store
                .set_user_password_hash(&username, &password_hash)
                .await
                .map_err(Failure::operation)?;
            print_result(
                &json!({ "username": username, "password_changed": true }),
                None,
            )
        }
        Command::DeleteUser { username } => {
            let username = valid_username(&username)?;
            let (_, store) = connect().await?;
            store
                .delete_user(&username)
                .await
                .map_err(Failure::operation)?;
            let revoked = revoke(&store, &FamilyOwner::User(username.clone()))
                .await
                .map_err(|failure| {
                    deleted_but_not_revoked(failure, "user", "--username", &username)
                })?;
            print_result(
                &json!({
                    "username": username,
                    "deleted": true,
                    "revoked_families": revoked.families,
                    "revoked_tokens": revoked.tokens,
                }),
                None,
            )
        }
        Command::ListTokens { owner } => {
            let owner = owner.owner()?;
            let (_, store) = connect().await?;
            let families = store
                .token_families(&owner, SystemClock.now())
                .await
                .map_err(Failure::operation)?;
            let mut result = owner_json(&owner);
            if let Some(fields) = result.as_object_mut() {
                fields.insert(
                    "families".into(),
                    families.iter().map(family_json).collect(),
                );
            }
            print_result(&result, None)
        }
        Command::RevokeTokens { owner } => {
            let owner = owner.owner()?;
            let (_, store) = connect().await?;
            let revoked = revoke(&store, &owner).await?;
            let mut result = owner_json(&owner);
            if let Some(fields) = result.as_object_mut() {
                fields.insert("revoked_families".into(), revoked.families.into());
                fields.insert("revoked_tokens".into(), revoked.tokens.into());
            }
            print_result(&result, None)
        }
        Command::Import {
            file,
            scope,
            application_model,
            user_model,
            username_field,
        } => {
            let options = ImportOptions {
                scope: valid_scope(&scope)?,
                application_model: application_model.to_ascii_lowercase(),
                user_model: user_model.to_ascii_lowercase(),
                username_field,
            };
            let export = read_export(&file)?;
            let (config, store) = connect().await?;
            let verifier = verifier(&config)?;
            let report = migration::import(&store, &verifier, &export, &options)
                .await
                .map_err(|error| Failure::InvalidInput(format!("--file: {error}")))?;
            let result = serde_json::to_value(&report).map_err(Failure::operation)?;
            print_result(&result, None)?;
            match report.failed() {
                0 => Ok(()),
                failed => Err(Failure::Operation(format!(
                    "{failed} record(s) failed, see \"failed\" in the result; import again to \
                     retry them (what was imported is skipped)"
                ))),
            }
        }
        Command::RevokeFamily { family_id } => {
            let family_id = valid_family_id(&family_id)?;
            let (_, store) = connect().await?;
            let tokens = store
                .revoke_family(&family_id)
                .await
                .map_err(Failure::operation)?;
            print_result(
                &json!({ "family_id": family_id, "revoked_tokens": tokens }),
                None,
            )
        }
    }
}

async fn revoke(store: &DynamoStore, owner: &FamilyOwner) -> Result<Revoked, Failure> {
    revoke_all(store, owner, SystemClock.now())
        .await
        .map_err(Failure::operation)
}

/// The record is gone but its tokens may still work: say so, and how to finish.
fn deleted_but_not_revoked(failure: Failure, what: &str, flag: &str, name: &str) -> Failure {
    let reason = match failure {
        Failure::InvalidInput(reason) | Failure::Operation(reason) => reason,
    };
    Failure::Operation(format!(
        "{what} {name} was deleted, but revoking its tokens failed ({reason}); \
         run oauth-admin revoke-tokens {flag} {name}"
    ))
}

fn owner_json(owner: &FamilyOwner) -> Value {
    match owner {
        FamilyOwner::User(username) => json!({ "username": username }),
        FamilyOwner::Client(client_id) => json!({ "client_id": client_id }),
    }
}

fn family_json(family: &TokenFamily) -> Value {
    json!({
        "family_id": family.family_id,
        "client_id": family.client_id,
        "username": family.username,
        "scope": family.scope.to_string(),
        "created_at": family.created_at,
        "refreshed_at": family.refreshed_at,
        "expires_at": family.expires_at,
    })
}

/// The configuration and the DynamoDB store it names. Called only once the input is known to
/// be valid, so invalid input never reaches the store.
async fn connect() -> Result<(Config, DynamoStore), Failure> {
    let config = Config::from_env().map_err(Failure::operation)?;
    let store = DynamoStore::new(config::dynamodb_client().await, config.tables.clone());
    Ok((config, store))
}

fn verifier(config: &Config) -> Result<CredentialVerifier, Failure> {
    CredentialVerifier::new(config.argon2).map_err(Failure::operation)
}

fn generate_secret() -> Result<Secret, Failure> {
    random_alphanumeric(CLIENT_SECRET_LENGTH)
        .map(Secret::new)
        .map_err(Failure::operation)
}

/// Writes the result as one JSON line. If that fails after a secret was stored, `lost` tells
/// the operator how to recover.
fn print_result(result: &Value, lost: Option<String>) -> Result<(), Failure> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{result}")
        .and_then(|()| stdout.flush())
        .map_err(|error| {
            Failure::Operation(match lost {
                Some(lost) => format!("writing the result failed ({error}): {lost}"),
                None => format!("writing the result failed: {error}"),
            })
        })
}

// Input validation. Messages name the flag and the rule, and never echo a secret.

/// "--flag rule", or "--flag "value" rule" where the value helps to see what is wrong.
fn invalid_name(flag: &str, value: &str, error: NameError) -> Failure {
    Failure::InvalidInput(if error.is_about_length() {
        format!("{flag} {error}")
    } else {
        format!("{flag} {value:?} {error}")
    })
}

fn valid_client_id(client_id: &str) -> Result<String, Failure> {
    check_client_id(client_id).map_err(|error| invalid_name("--client-id", client_id, error))?;
    Ok(client_id.to_owned())
}

/// Family ids are generated alphanumerics; anything else names no family.
fn valid_family_id(family_id: &str) -> Result<String, Failure> {
    if family_id.is_empty()
        || family_id.len() > 64
        || !family_id.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(Failure::InvalidInput(format!(
            "--family-id {family_id:?} is not a family id (letters and digits, as list-tokens shows)"
        )));
    }
    Ok(family_id.to_owned())
}

fn valid_username(username: &str) -> Result<String, Failure> {
    check_username(username).map_err(|error| invalid_name("--username", username, error))?;
    Ok(username.to_owned())
}

fn valid_client_name(name: &str) -> Result<String, Failure> {
    check_client_name(name).map_err(|error| invalid_name("--name", name, error))?;
    Ok(name.to_owned())
}

fn valid_scope(scope: &str) -> Result<Scope, Failure> {
    let parsed = Scope::parse(scope).map_err(|_| {
        Failure::InvalidInput(format!(
            "--scope {scope:?} is not a space-separated list of scope tokens \
             (printable ASCII except space, \" and \\)"
        ))
    })?;
    if parsed.is_empty() {
        return Err(Failure::InvalidInput(
            "--scope must name at least one scope, e.g. --scope \"read write\"".into(),
        ));
    }
    Ok(parsed)
}

fn valid_grant_types(list: &str) -> Result<Vec<GrantType>, Failure> {
    let allowed = || {
        GrantType::ALL
            .iter()
            .map(|grant| grant.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut grant_types = Vec::new();
    for name in list.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(Failure::InvalidInput(format!(
                "--grant-types {list:?} has an empty entry; give a comma-separated list of: {}",
                allowed()
            )));
        }
        let grant = GrantType::from_str(name).map_err(|_| {
            Failure::InvalidInput(format!(
                "--grant-types: unknown grant type {name:?} (allowed: {})",
                allowed()
            ))
        })?;
        if !grant_types.contains(&grant) {
            grant_types.push(grant);
        }
    }
    Ok(grant_types)
}

/// Reads the whole export, from a file or, for `-`, standard input. Checked before connecting,
/// like every input.
fn read_export(path: &Path) -> Result<String, Failure> {
    let mut export = String::new();
    let read = if path == Path::new("-") {
        io::stdin().lock().read_to_string(&mut export)
    } else {
        std::fs::File::open(path).and_then(|mut file| file.read_to_string(&mut export))
    };
    read.map_err(|error| {
        Failure::InvalidInput(format!(
            "--file {}: cannot read it: {error}",
            path.display()
        ))
    })?;
    Ok(export)
}

/// Reads a secret from the first line of standard input, without its line ending.
fn secret_from_stdin(what: &str) -> Result<Secret, Failure> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        eprintln!("oauth-admin: reading the {what} from standard input (one line)");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|error| {
        if error.kind() == io::ErrorKind::InvalidData {
            Failure::InvalidInput(format!("the {what} on standard input is not valid UTF-8"))
        } else {
            Failure::Operation(format!("reading the {what} from standard input: {error}"))
        }
    })?;
    let secret = line
        .strip_suffix('\n')
        .map(|rest| rest.strip_suffix('\r').unwrap_or(rest))
        .unwrap_or(&line);
    if secret.is_empty() {
        return Err(Failure::InvalidInput(format!(
            "the {what} on standard input is empty; pipe it in, e.g. printf '%s\\n' \"$VALUE\" | oauth-admin ..."
        )));
    }
    Ok(Secret::new(secret))
}
