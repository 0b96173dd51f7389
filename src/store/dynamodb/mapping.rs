//! Records to DynamoDB items and back: the attribute names and `kind` values of every item the
//! adapter writes, and the checks that read an item back as a record or report it malformed.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::item::Item;
use super::keys::{PK, client_key, user_key};
use super::logins::CREDENTIAL_VERSION;
use super::schema::{CREATED_AT, TTL_ATTRIBUTE};
use crate::domain::clock::UnixSeconds;
use crate::domain::jose::ClientJwks;
use crate::domain::model::{
    AccessTokenPolicy, AccessTokenRecord, Client, DpopPolicy, GrantType, RefreshTokenRecord,
    StoredToken, TokenFamily, TokenFormat, UsedRefreshToken, User,
};
use crate::domain::names::{ClientId, Username};
use crate::domain::scope::Scope;
use crate::domain::store::{ClientChanges, StoreError};
use crate::domain::token::{FamilySecret, TokenHash};

// The `kind` of each item of the tokens table.
pub(super) const ACCESS: &str = "access";
pub(super) const REFRESH: &str = "refresh";
pub(super) const USED_REFRESH: &str = "used_refresh";
/// The attribute of refresh and used-refresh items that holds the family's secret.
const FAMILY_SECRET: &str = "family_secret";

/// A string attribute.
pub(super) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// A number attribute.
pub(super) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Absent from clients registered before token formats: they are opaque.
const TOKEN_FORMAT: &str = "token_format";
/// 0 (or absent): the server's lifetime.
const ACCESS_TOKEN_LIFETIME: &str = "access_token_lifetime";
/// Absent from clients registered before DPoP: allowed.
const DPOP: &str = "dpop";
/// A private_key_jwt client's JWK Set (JSON); absent or empty: none.
const JWKS: &str = "jwks";
/// An opaque access token's RFC 8707 audience, where its request named one.
const AUDIENCE: &str = "audience";

pub(super) fn client_item(client: &Client) -> Item {
    HashMap::from([
        (PK.to_owned(), s(&client_key(&client.client_id))),
        ("client_id".to_owned(), s(&client.client_id)),
        ("name".to_owned(), s(&client.name)),
        ("secret_hash".to_owned(), s(&client.secret_hash)),
        ("scope".to_owned(), s(&client.scope.to_string())),
        ("grant_types".to_owned(), grant_types(&client.grant_types)),
        (
            TOKEN_FORMAT.to_owned(),
            s(client.access_tokens.format.as_str()),
        ),
        (
            ACCESS_TOKEN_LIFETIME.to_owned(),
            n(client.access_tokens.lifetime.unwrap_or(0)),
        ),
        (DPOP.to_owned(), s(client.access_tokens.dpop.as_str())),
        (CREATED_AT.to_owned(), n(client.created_at)),
        (CREDENTIAL_VERSION.to_owned(), n(client.credential_version)),
        (
            JWKS.to_owned(),
            s(client.jwks.as_ref().map_or("", ClientJwks::as_json)),
        ),
    ])
}

/// The attributes of a client item that `changes` sets, under the names of [`client_item`].
pub(super) fn client_changes(changes: &ClientChanges) -> Vec<(&'static str, AttributeValue)> {
    let mut values = Vec::new();
    if let Some(name) = &changes.name {
        values.push(("name", s(name)));
    }
    if let Some(scope) = &changes.scope {
        values.push(("scope", s(&scope.to_string())));
    }
    if let Some(list) = &changes.grant_types {
        values.push(("grant_types", grant_types(list)));
    }
    if let Some(format) = changes.token_format {
        values.push((TOKEN_FORMAT, s(format.as_str())));
    }
    if let Some(lifetime) = changes.access_token_lifetime {
        values.push((ACCESS_TOKEN_LIFETIME, n(lifetime.unwrap_or(0))));
    }
    if let Some(dpop) = changes.dpop {
        values.push((DPOP, s(dpop.as_str())));
    }
    if let Some(jwks) = &changes.jwks {
        values.push((JWKS, s(jwks.as_ref().map_or("", ClientJwks::as_json))));
    }
    values
}

fn grant_types(grant_types: &[GrantType]) -> AttributeValue {
    AttributeValue::L(grant_types.iter().map(|g| s(g.as_str())).collect())
}

pub(super) fn user_item(user: &User) -> Item {
    HashMap::from([
        (PK.to_owned(), s(&user_key(&user.username))),
        ("username".to_owned(), s(&user.username)),
        ("password_hash".to_owned(), s(&user.password_hash)),
        (CREATED_AT.to_owned(), n(user.created_at)),
        (CREDENTIAL_VERSION.to_owned(), n(user.created_at)),
    ])
}

pub(super) fn used_refresh_item(token: &UsedRefreshToken) -> Item {
    let mut item = HashMap::from([
        (PK.to_owned(), s(token.token_hash.as_str())),
        ("kind".to_owned(), s(USED_REFRESH)),
        ("client_id".to_owned(), s(&token.client_id)),
        ("username".to_owned(), s(&token.username)),
        ("scope".to_owned(), s(&token.scope.to_string())),
        ("family_id".to_owned(), s(&token.family_id)),
        ("used_at".to_owned(), n(token.used_at)),
        (TTL_ATTRIBUTE.to_owned(), n(token.expires_at)),
        (
            "successor_refresh".to_owned(),
            s(token.successor_refresh.as_str()),
        ),
        (
            "successor_access".to_owned(),
            s(token.successor_access.as_str()),
        ),
    ]);
    if let Some(secret) = &token.family_secret {
        item.insert(FAMILY_SECRET.to_owned(), s(secret.as_str()));
    }
    item
}

pub(super) fn kind_of(item: &Item) -> Option<&str> {
    match item.get("kind") {
        Some(AttributeValue::S(kind)) => Some(kind),
        _ => None,
    }
}

pub(super) fn optional_string(item: &Item, name: &str) -> Result<Option<String>, StoreError> {
    item.contains_key(name)
        .then(|| string(item, name))
        .transpose()
}

pub(super) fn optional_number(item: &Item, name: &str) -> Result<Option<u64>, StoreError> {
    item.contains_key(name)
        .then(|| number(item, name))
        .transpose()
}

pub(super) fn string(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(StoreError::Malformed(format!(
            "missing string attribute {name}"
        ))),
    }
}

pub(super) fn number(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| StoreError::Malformed(format!("attribute {name} is not a whole number"))),
        _ => Err(StoreError::Malformed(format!(
            "missing number attribute {name}"
        ))),
    }
}

fn scope(item: &Item) -> Result<Scope, StoreError> {
    Scope::parse(&string(item, "scope")?)
        .map_err(|_| StoreError::Malformed("attribute scope is not a scope".into()))
}

pub(super) fn client_from(item: Item) -> Result<Client, StoreError> {
    // Unknown grant type names are skipped, so an item written by a newer version still reads.
    let grant_types = match item.get("grant_types") {
        Some(AttributeValue::L(values)) => values
            .iter()
            .filter_map(|value| match value {
                AttributeValue::S(name) => name.parse().ok(),
                _ => None,
            })
            .collect::<Vec<GrantType>>(),
        _ => {
            return Err(StoreError::Malformed(
                "missing list attribute grant_types".into(),
            ));
        }
    };
    Ok(Client {
        client_id: ClientId::from_stored(string(&item, "client_id")?),
        name: string(&item, "name")?,
        secret_hash: string(&item, "secret_hash")?,
        scope: scope(&item)?,
        grant_types,
        access_tokens: access_token_policy(&item)?,
        created_at: optional_number(&item, CREATED_AT)?.unwrap_or(0),
        jwks: jwks(&item)?,
        credential_version: optional_number(&item, CREDENTIAL_VERSION)?.unwrap_or(0),
    })
}

fn access_token_policy(item: &Item) -> Result<AccessTokenPolicy, StoreError> {
    let format = match item.get(TOKEN_FORMAT) {
        None => TokenFormat::Opaque,
        Some(AttributeValue::S(format)) => format.parse().map_err(|_| {
            StoreError::Malformed(format!("attribute {TOKEN_FORMAT} is not a token format"))
        })?,
        Some(_) => {
            return Err(StoreError::Malformed(format!(
                "attribute {TOKEN_FORMAT} is not a string"
            )));
        }
    };
    let lifetime = optional_number(item, ACCESS_TOKEN_LIFETIME)?.filter(|&seconds| seconds > 0);
    let dpop = match optional_string(item, DPOP)? {
        None => DpopPolicy::default(),
        Some(policy) => policy
            .parse()
            .map_err(|_| StoreError::Malformed(format!("attribute {DPOP} is not a DPoP policy")))?,
    };
    Ok(AccessTokenPolicy {
        format,
        lifetime,
        dpop,
    })
}

pub(super) fn user_from(item: Item) -> Result<User, StoreError> {
    Ok(User {
        username: Username::from_stored(string(&item, "username")?),
        password_hash: string(&item, "password_hash")?,
        created_at: optional_number(&item, CREATED_AT)?.unwrap_or(0),
    })
}

/// A token item of any kind, or `None` if it is not a token or no longer live at `now`.
pub(super) fn stored_token_from(
    item: Item,
    now: UnixSeconds,
) -> Result<Option<StoredToken>, StoreError> {
    Ok(match kind_of(&item) {
        Some(ACCESS) => Some(access_from(item)?)
            .filter(|token| token.is_live_at(now))
            .map(StoredToken::Access),
        Some(REFRESH) => Some(refresh_from(item)?)
            .filter(|token| token.is_live_at(now))
            .map(StoredToken::Refresh),
        Some(USED_REFRESH) => Some(used_refresh_from(item)?)
            .filter(|used| now < used.expires_at)
            .map(StoredToken::UsedRefresh),
        _ => None,
    })
}

pub(super) fn access_from(item: Item) -> Result<AccessTokenRecord, StoreError> {
    Ok(AccessTokenRecord {
        token_hash: TokenHash::from_stored(string(&item, PK)?),
        client_id: ClientId::from_stored(string(&item, "client_id")?),
        username: optional_string(&item, "username")?.map(Username::from_stored),
        scope: scope(&item)?,
        family_id: string(&item, "family_id")?,
        issued_at: number(&item, "issued_at")?,
        expires_at: number(&item, TTL_ATTRIBUTE)?,
        // Tokens of items of their own predate DPoP: a binding lives on the family item.
        jkt: None,
        audience: optional_string(&item, AUDIENCE)?,
    })
}

fn jwks(item: &Item) -> Result<Option<ClientJwks>, StoreError> {
    match optional_string(item, JWKS)? {
        None => Ok(None),
        Some(json) if json.is_empty() => Ok(None),
        Some(json) => ClientJwks::parse(&json)
            .map(Some)
            .map_err(|_| StoreError::Malformed(format!("attribute {JWKS} is not a JWK Set"))),
    }
}

fn refresh_from(item: Item) -> Result<RefreshTokenRecord, StoreError> {
    Ok(RefreshTokenRecord {
        token_hash: TokenHash::from_stored(string(&item, PK)?),
        client_id: ClientId::from_stored(string(&item, "client_id")?),
        username: Username::from_stored(string(&item, "username")?),
        scope: scope(&item)?,
        access_token_hash: TokenHash::from_stored(string(&item, "access_token_hash")?),
        family_id: string(&item, "family_id")?,
        family_secret: family_secret(&item)?,
        issued_at: number(&item, "issued_at")?,
        expires_at: optional_number(&item, TTL_ATTRIBUTE)?,
        jkt: None,
        // Tokens of items of their own predate credential versions.
        client_version: None,
    })
}

fn family_secret(item: &Item) -> Result<Option<FamilySecret>, StoreError> {
    Ok(optional_string(item, FAMILY_SECRET)?.map(FamilySecret::from_stored))
}

fn used_refresh_from(item: Item) -> Result<UsedRefreshToken, StoreError> {
    Ok(UsedRefreshToken {
        token_hash: TokenHash::from_stored(string(&item, PK)?),
        client_id: ClientId::from_stored(string(&item, "client_id")?),
        username: Username::from_stored(string(&item, "username")?),
        scope: scope(&item)?,
        family_id: string(&item, "family_id")?,
        family_secret: family_secret(&item)?,
        used_at: number(&item, "used_at")?,
        expires_at: number(&item, TTL_ATTRIBUTE)?,
        successor_refresh: TokenHash::from_stored(string(&item, "successor_refresh")?),
        successor_access: TokenHash::from_stored(string(&item, "successor_access")?),
        // Used-token items of their own predate credential versions.
        client_version: None,
    })
}

pub(super) fn family_from(item: Item) -> Result<TokenFamily, StoreError> {
    Ok(TokenFamily {
        family_id: string(&item, "family_id")?,
        client_id: ClientId::from_stored(string(&item, "client_id")?),
        username: optional_string(&item, "username")?.map(Username::from_stored),
        scope: scope(&item)?,
        created_at: number(&item, CREATED_AT)?,
        refreshed_at: number(&item, "refreshed_at")?,
        expires_at: optional_number(&item, TTL_ATTRIBUTE)?,
    })
}
