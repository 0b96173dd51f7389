//! The operator's input, checked before anything reaches the store: flags become the typed
//! requests of [`crate::admin::Admin`], and secrets and exports are read from standard input or
//! a file. Messages name the flag and the rule, and never echo a secret.

use std::io::{self, BufRead as _, IsTerminal as _, Read as _};
use std::path::Path;
use std::str::FromStr as _;

use super::commands::{CreateClientArgs, ImportArgs, OwnerArgs, UpdateClientArgs};
use super::failure::CommandFailure;
use crate::admin::NewClient;
use crate::admin::import::ImportOptions;
use crate::domain::jose::ClientJwks;
use crate::domain::model::ClientAuthMethod;
use crate::domain::names::{ClientId, NameError, Username, check_client_name};
use crate::domain::store::ClientChanges;
use crate::domain::{AccessTokenPolicy, FamilyOwner, GrantType, Scope, Secret};

impl CreateClientArgs {
    /// The client to register. With --client-secret-stdin, its secret is read here.
    pub fn new_client(&self) -> Result<NewClient, CommandFailure> {
        let name = valid_client_name(&self.name)?;
        let scope = valid_scope(&self.scope)?;
        let grant_types = valid_grant_types(&self.grant_types)?;
        let client_id = self.client_id.as_deref().map(valid_client_id).transpose()?;
        let jwks = match (auth_method(&self.auth_method)?, &self.jwks_file) {
            (ClientAuthMethod::PrivateKeyJwt, Some(path)) if !self.client_secret_stdin => {
                Some(jwks_from(path)?)
            }
            (ClientAuthMethod::PrivateKeyJwt, _) => {
                return Err(CommandFailure::InvalidInput(
                    "--auth-method private_key_jwt needs --jwks-file and no secret".into(),
                ));
            }
            (ClientAuthMethod::ClientSecret, Some(_)) => {
                return Err(CommandFailure::InvalidInput(
                    "--jwks-file needs --auth-method private_key_jwt".into(),
                ));
            }
            (ClientAuthMethod::ClientSecret, None) => None,
        };
        let secret = if self.client_secret_stdin {
            Some(secret_from_stdin("client secret")?)
        } else {
            None
        };
        Ok(NewClient {
            client_id,
            name,
            scope,
            grant_types,
            access_tokens: AccessTokenPolicy {
                format: self.token_format,
                lifetime: self.access_token_lifetime,
                dpop: self.dpop,
            },
            secret,
            jwks,
        })
    }
}

impl UpdateClientArgs {
    /// The client to change and the changes, each checked as create-client checks it.
    pub fn checked(&self) -> Result<(ClientId, ClientChanges), CommandFailure> {
        let client_id = valid_client_id(&self.client_id)?;
        let changes = &self.changes;
        let changes = ClientChanges {
            name: changes.name.as_deref().map(valid_client_name).transpose()?,
            scope: changes.scope.as_deref().map(valid_scope).transpose()?,
            grant_types: (changes.grant_types.as_deref())
                .map(valid_grant_types)
                .transpose()?,
            token_format: changes.token_format,
            access_token_lifetime: changes
                .access_token_lifetime
                .map(|seconds| (seconds > 0).then_some(seconds)),
            dpop: changes.dpop,
            jwks: (changes.jwks_file.as_deref())
                .map(jwks_from)
                .transpose()?
                .map(Some),
        };
        Ok((client_id, changes))
    }

    /// The method a move between a secret and keys ends with, if it ends now.
    pub fn auth_method(&self) -> Result<Option<ClientAuthMethod>, CommandFailure> {
        self.changes
            .auth_method
            .as_deref()
            .map(auth_method)
            .transpose()
    }
}

fn auth_method(value: &str) -> Result<ClientAuthMethod, CommandFailure> {
    value
        .parse()
        .map_err(|error| CommandFailure::InvalidInput(format!("--auth-method: {error}")))
}

/// A JWK Set of public keys from `path`, or standard input for `-`.
fn jwks_from(path: &Path) -> Result<ClientJwks, CommandFailure> {
    let mut json = String::new();
    let read = if path == Path::new("-") {
        io::stdin().lock().read_to_string(&mut json)
    } else {
        std::fs::File::open(path).and_then(|mut file| file.read_to_string(&mut json))
    };
    read.map_err(|error| {
        CommandFailure::InvalidInput(format!("--jwks-file {}: {error}", path.display()))
    })?;
    ClientJwks::parse(&json).map_err(|error| {
        CommandFailure::InvalidInput(format!(
            "--jwks-file {}: {error} (a JWK Set of 1 to 10 public EC P-256 or RSA keys)",
            path.display()
        ))
    })
}

impl ImportArgs {
    pub fn options(&self) -> Result<ImportOptions, CommandFailure> {
        Ok(ImportOptions {
            scope: valid_scope(&self.scope)?,
            application_model: self.application_model.to_ascii_lowercase(),
            user_model: self.user_model.to_ascii_lowercase(),
            username_field: self.username_field.clone(),
        })
    }

    /// Reads the whole export, from a file or, for `-`, standard input.
    pub fn read_export(&self) -> Result<String, CommandFailure> {
        let path = &self.file;
        let mut export = String::new();
        let read = if path == Path::new("-") {
            io::stdin().lock().read_to_string(&mut export)
        } else {
            std::fs::File::open(path).and_then(|mut file| file.read_to_string(&mut export))
        };
        read.map_err(|error| {
            CommandFailure::InvalidInput(format!(
                "--file {}: cannot read it: {error}",
                path.display()
            ))
        })?;
        Ok(export)
    }
}

impl OwnerArgs {
    pub fn owner(&self) -> Result<FamilyOwner, CommandFailure> {
        match (&self.username, &self.client_id) {
            (Some(username), _) => Ok(FamilyOwner::User(valid_username(username)?)),
            (None, Some(client_id)) => Ok(FamilyOwner::Client(valid_client_id(client_id)?)),
            (None, None) => Err(CommandFailure::InvalidInput(
                "give --username or --client-id".into(),
            )),
        }
    }
}

/// "--flag rule", or "--flag "value" rule" where the value helps to see what is wrong.
fn invalid_name(flag: &str, value: &str, error: NameError) -> CommandFailure {
    CommandFailure::InvalidInput(if error.is_about_length() {
        format!("{flag} {error}")
    } else {
        format!("{flag} {value:?} {error}")
    })
}

pub fn valid_client_id(client_id: &str) -> Result<ClientId, CommandFailure> {
    ClientId::parse(client_id).map_err(|error| invalid_name("--client-id", client_id, error))
}

/// Family ids are generated alphanumerics; anything else names no family.
pub fn valid_family_id(family_id: &str) -> Result<String, CommandFailure> {
    if family_id.is_empty()
        || family_id.len() > 64
        || !family_id.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(CommandFailure::InvalidInput(format!(
            "--family-id {family_id:?} is not a family id (letters and digits, as list-tokens shows)"
        )));
    }
    Ok(family_id.to_owned())
}

pub fn valid_username(username: &str) -> Result<Username, CommandFailure> {
    Username::parse(username).map_err(|error| invalid_name("--username", username, error))
}

fn valid_client_name(name: &str) -> Result<String, CommandFailure> {
    check_client_name(name).map_err(|error| invalid_name("--name", name, error))?;
    Ok(name.to_owned())
}

fn valid_scope(scope: &str) -> Result<Scope, CommandFailure> {
    let parsed = Scope::parse(scope).map_err(|_| {
        CommandFailure::InvalidInput(format!(
            "--scope {scope:?} is not a space-separated list of scope tokens \
             (printable ASCII except space, \" and \\)"
        ))
    })?;
    if parsed.is_empty() {
        return Err(CommandFailure::InvalidInput(
            "--scope must name at least one scope, e.g. --scope \"read write\"".into(),
        ));
    }
    Ok(parsed)
}

fn valid_grant_types(list: &str) -> Result<Vec<GrantType>, CommandFailure> {
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
            return Err(CommandFailure::InvalidInput(format!(
                "--grant-types {list:?} has an empty entry; give a comma-separated list of: {}",
                allowed()
            )));
        }
        let grant = GrantType::from_str(name).map_err(|_| {
            CommandFailure::InvalidInput(format!(
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

/// Reads a secret from the first line of standard input, without its line ending.
pub fn secret_from_stdin(what: &str) -> Result<Secret, CommandFailure> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        eprintln!("oauth-admin: reading the {what} from standard input (one line)");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|error| {
        if error.kind() == io::ErrorKind::InvalidData {
            CommandFailure::InvalidInput(format!("the {what} on standard input is not valid UTF-8"))
        } else {
            CommandFailure::Operation(format!("reading the {what} from standard input: {error}"))
        }
    })?;
    let secret = line
        .strip_suffix('\n')
        .map(|rest| rest.strip_suffix('\r').unwrap_or(rest))
        .unwrap_or(&line);
    if secret.is_empty() {
        return Err(CommandFailure::InvalidInput(format!(
            "the {what} on standard input is empty; pipe it in, e.g. printf '%s\\n' \"$VALUE\" | oauth-admin ..."
        )));
    }
    Ok(Secret::new(secret))
}
