//! What a django-oauth-toolkit application or a Django user becomes here, if this service can
//! serve it: a [`Client`] or a [`User`], or the reason it is refused.

use serde_json::{Map, Value};

use super::ImportOptions;
use super::dumpdata::string_field;
use super::report::{KeptAs, Refusal, skip};
use crate::domain::AccessTokenPolicy;
use crate::domain::clock::{Clock as _, SystemClock};
use crate::domain::credentials::CredentialVerifier;
use crate::domain::credentials::django::{self as django_hash, DjangoPbkdf2Sha256, PBKDF2_SHA256};
use crate::domain::names::{ClientId, Username, check_client_name};
use crate::domain::{Client, GrantType, Secret, User};

/// How Django's `set_unusable_password` marks a password that nothing matches.
const UNUSABLE_PASSWORD_PREFIX: char = '!';

/// The client a django-oauth-toolkit application becomes, if this service can serve it.
pub(super) fn application_client(
    fields: &Map<String, Value>,
    options: &ImportOptions,
    verifier: &CredentialVerifier,
) -> Result<(Client, KeptAs), Refusal> {
    let client_id = string_field(fields, "client_id").ok_or_else(|| skip("no client_id"))?;
    let client_id =
        ClientId::parse(client_id).map_err(|error| skip(format!("client_id {error}")))?;
    match string_field(fields, "client_type") {
        Some("confidential") => {}
        Some("public") => {
            return Err(skip(
                "a public client: this endpoint authenticates every client with a secret",
            ));
        }
        _ => return Err(skip("client_type is neither confidential nor public")),
    }
    let grant_types = match string_field(fields, "authorization_grant_type") {
        Some("password") => vec![GrantType::Password, GrantType::RefreshToken],
        Some("client-credentials") => vec![GrantType::ClientCredentials],
        Some(other) => {
            return Err(skip(format!(
                "grant type {other:?}: this endpoint serves password and client-credentials \
                 applications only"
            )));
        }
        None => return Err(skip("no authorization_grant_type")),
    };
    // django-oauth-toolkit shows a nameless application by its client id; so does this.
    let name = match string_field(fields, "name").filter(|name| !name.trim().is_empty()) {
        Some(name) => {
            check_client_name(name).map_err(|error| skip(format!("name {error}")))?;
            name
        }
        None => client_id.as_str(),
    };
    let secret = string_field(fields, "client_secret")
        .filter(|secret| !secret.is_empty())
        .ok_or_else(|| skip("no client_secret"))?;
    // django-oauth-toolkit checks a stored secret the same way: as a hash if Django knows its
    // hasher, as plaintext otherwise, whatever `hash_client_secret` says.
    let (secret_hash, kept_as) = match django_hash::django_hasher(secret) {
        Some(PBKDF2_SHA256) => {
            DjangoPbkdf2Sha256::parse(secret).map_err(|error| {
                skip(format!(
                    "client_secret is a malformed pbkdf2_sha256 hash: {error}"
                ))
            })?;
            (secret.to_owned(), KeptAs::DjangoPbkdf2Sha256)
        }
        Some(hasher) => {
            return Err(skip(format!(
                "client_secret was hashed by Django's {hasher} hasher, which this endpoint does \
                 not verify: register the client with create-client --client-id and a new secret"
            )));
        }
        None => (
            verifier
                .hash(&Secret::new(secret))
                .map_err(|error| Refusal::Fail(error.to_string()))?,
            KeptAs::Argon2id,
        ),
    };
    let name = name.to_owned();
    let created_at = SystemClock.now();
    let client = Client {
        client_id,
        name,
        secret_hash,
        scope: options.scope.clone(),
        grant_types,
        access_tokens: AccessTokenPolicy::default(),
        created_at,
        jwks: None,
        credential_version: created_at,
    };
    Ok((client, kept_as))
}

/// The user a Django user becomes, if they can log in with a password this service verifies.
pub(super) fn django_user(
    fields: &Map<String, Value>,
    options: &ImportOptions,
) -> Result<User, Refusal> {
    let field = &options.username_field;
    let username =
        string_field(fields, field).ok_or_else(|| skip(format!("no {field:?} string")))?;
    let username = Username::parse(username).map_err(|error| skip(format!("username {error}")))?;
    // A custom user model without `is_active` has only active users.
    if fields.get("is_active") == Some(&Value::Bool(false)) {
        return Err(skip("inactive user"));
    }
    let password = string_field(fields, "password").unwrap_or_default();
    if password.is_empty() || password.starts_with(UNUSABLE_PASSWORD_PREFIX) {
        return Err(skip(
            "unusable password: the user cannot log in with a password",
        ));
    }
    match django_hash::django_hasher(password) {
        Some(PBKDF2_SHA256) => {
            DjangoPbkdf2Sha256::parse(password).map_err(|error| {
                skip(format!(
                    "password is a malformed pbkdf2_sha256 hash: {error}"
                ))
            })?;
        }
        Some(hasher) => {
            return Err(skip(format!(
                "password was hashed by Django's {hasher} hasher, which this endpoint does not \
                 verify: add the user with create-user and a new password"
            )));
        }
        None => return Err(skip("password is not a Django password hash")),
    }
    Ok(User {
        username,
        password_hash: password.to_owned(),
        created_at: SystemClock.now(),
    })
}
