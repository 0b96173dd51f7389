//! A login as one item: `FAMILY#<id>` holds the family's current access and refresh token
//! (their hashes, the access token's scope and expiry), its secret, and the refresh token it
//! used last, so that issuing is one conditional `PutItem`, a refresh one conditional
//! `UpdateItem` and a revocation one `DeleteItem`, none of them a transaction. Tokens name
//! their family, so every read of one is a read of this item by key.
//!
//! The previous version kept each token in an item of its own, keyed by its hash, and a family
//! item naming the current two. Such a family (without `access_expires_at`) still reads: its
//! tokens are read from their own items, and its first refresh moves it into this form (see
//! `port.rs`).

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::DynamoStore;
use super::errors::conditional;
use super::item::Item;
use super::keys::{PK, family_key, key};
use super::logins::BARRED;
use super::mapping::{kind_of, n, number, optional_number, optional_string, s, string};
use super::schema::{CREATED_AT, FAMILY_CLIENT, FAMILY_USER, TTL_ATTRIBUTE};
use crate::domain::clock::UnixSeconds;
use crate::domain::jose::Thumbprint;
use crate::domain::model::{
    AccessTokenRecord, RefreshTokenRecord, StoredToken, SupersededToken, TokenPair,
    UsedRefreshToken,
};
use crate::domain::names::{ClientId, Username};
use crate::domain::scope::Scope;
use crate::domain::store::StoreError;
use crate::domain::token::{FamilySecret, TokenHash};

const FAMILY: &str = "family";
const CURRENT_ACCESS: &str = "current_access";
const CURRENT_REFRESH: &str = "current_refresh";
/// Present only on families of this form: the current access token lives in the item.
const ACCESS_EXPIRES_AT: &str = "access_expires_at";
const ACCESS_SCOPE: &str = "access_scope";
/// The RFC 8707 resource an opaque access token was requested for, where it was.
const ACCESS_AUDIENCE: &str = "access_audience";
/// The DPoP key (RFC 9449 thumbprint) the current access token is bound to; absent: a Bearer
/// token. The login's binding is kept here once, not on each token.
const JKT: &str = "jkt";
/// Present (true) when the refresh token is bound to [`JKT`] too: only that key's proofs may
/// use it. A bound refresh token's access tokens are always bound to its key, so one
/// thumbprint serves both.
const REFRESH_BOUND: &str = "refresh_bound";
const FAMILY_SECRET: &str = "family_secret";
const PREVIOUS_REFRESH: &str = "previous_refresh";
const ROTATED_AT: &str = "rotated_at";
const PREVIOUS_UNTIL: &str = "previous_until";
const REFRESHED_AT: &str = "refreshed_at";
/// The client's credential version the login was issued under; a refresh leaves it as it is
/// (carries it forward). Absent from families written before versions were kept: any version
/// of the client matches them, and they are ended by revoking them through the index alone.
const CLIENT_VERSION: &str = "client_version";

/// The item of a family a password grant starts; it lives as long as its refresh token.
pub(super) fn pair_family_item(pair: &TokenPair) -> Item {
    let refresh = &pair.refresh;
    let mut item = base_item(&pair.access, &refresh.scope);
    item.insert(CURRENT_REFRESH.to_owned(), s(refresh.token_hash.as_str()));
    if refresh_bound(pair) {
        item.insert(REFRESH_BOUND.to_owned(), AttributeValue::Bool(true));
    }
    if let Some(secret) = &refresh.family_secret {
        item.insert(FAMILY_SECRET.to_owned(), s(secret.as_str()));
    }
    if let Some(expires_at) = refresh.expires_at {
        item.insert(TTL_ATTRIBUTE.to_owned(), n(expires_at));
    }
    if let Some(version) = refresh.client_version {
        item.insert(CLIENT_VERSION.to_owned(), n(version));
    }
    item
}

/// The item of a family a client credentials grant starts under the client's credential
/// version `client_version`: it ends with its one access token.
pub(super) fn access_family_item(access: &AccessTokenRecord, client_version: u64) -> Item {
    let mut item = base_item(access, &access.scope);
    item.insert(TTL_ATTRIBUTE.to_owned(), n(access.expires_at));
    item.insert(CLIENT_VERSION.to_owned(), n(client_version));
    item
}

fn base_item(access: &AccessTokenRecord, grant_scope: &Scope) -> Item {
    let mut item = Item::with_capacity(16);
    let mut put = |name: &str, value| item.insert(name.to_owned(), value);
    put(PK, s(&family_key(&access.family_id)));
    put("kind", s(FAMILY));
    put("family_id", s(&access.family_id));
    put("client_id", s(&access.client_id));
    put(FAMILY_CLIENT, s(&access.client_id));
    put("scope", s(&grant_scope.to_string()));
    put(CREATED_AT, n(access.issued_at));
    put(REFRESHED_AT, n(access.issued_at));
    put(CURRENT_ACCESS, s(access.token_hash.as_str()));
    put(ACCESS_SCOPE, s(&access.scope.to_string()));
    put(ACCESS_EXPIRES_AT, n(access.expires_at));
    if let Some(audience) = &access.audience {
        put(ACCESS_AUDIENCE, s(audience));
    }
    if let Some(jkt) = &access.jkt {
        put(JKT, s(jkt.as_str()));
    }
    if let Some(username) = &access.username {
        put("username", s(username));
        put(FAMILY_USER, s(username));
    }
    item
}

/// Whether the pair's refresh token is bound to a DPoP key, which is its access token's: the
/// grants bind a refresh token only together with its access token, to the same key.
fn refresh_bound(pair: &TokenPair) -> bool {
    debug_assert!(pair.refresh.jkt.is_none() || pair.refresh.jkt == pair.access.jkt);
    pair.refresh.jkt.is_some()
}

/// Whether a family item is of the previous form, whose tokens have items of their own.
pub(super) fn is_previous_form(item: &Item) -> bool {
    !item.contains_key(ACCESS_EXPIRES_AT) && kind_of(item) != Some(BARRED)
}

/// Whether an item is a barrier in place of a family (see `logins`).
pub(super) fn is_barred(item: &Item) -> bool {
    kind_of(item) == Some(BARRED)
}

/// The tokens a family item of the previous form names, by their own items' keys.
pub(super) fn previous_form_tokens(item: &Item) -> Result<Vec<String>, StoreError> {
    Ok([
        Some(string(item, CURRENT_ACCESS)?),
        optional_string(item, CURRENT_REFRESH)?,
    ]
    .into_iter()
    .flatten()
    .collect())
}

/// How many tokens a revoked family item named (a barrier names none).
pub(super) fn tokens_named(item: &Item) -> usize {
    if is_barred(item) {
        return 0;
    }
    1 + usize::from(item.contains_key(CURRENT_REFRESH))
}

fn scope_of(item: &Item, name: &str) -> Result<Scope, StoreError> {
    Scope::parse(&string(item, name)?)
        .map_err(|_| StoreError::Malformed(format!("attribute {name} is not a scope")))
}

fn hash_of(item: &Item, name: &str) -> Result<Option<TokenHash>, StoreError> {
    Ok(optional_string(item, name)?.map(TokenHash::from_stored))
}

/// What the token whose hash is `hash` is to the family `item` (of this form) at `now`: one of
/// its tokens, or what the family tells of a value that is none of them. `None` once the
/// family, or that token, expired.
pub(super) fn family_token(
    item: &Item,
    hash: &TokenHash,
    now: UnixSeconds,
) -> Result<Option<StoredToken>, StoreError> {
    let expires_at = optional_number(item, TTL_ATTRIBUTE)?;
    if expires_at.is_some_and(|expires_at| now >= expires_at) || is_barred(item) {
        return Ok(None);
    }
    let family_id = string(item, "family_id")?;
    let client_id = ClientId::from_stored(string(item, FAMILY_CLIENT)?);
    let username = optional_string(item, "username")?.map(Username::from_stored);
    let refreshed_at = number(item, REFRESHED_AT)?;
    let current_access = TokenHash::from_stored(string(item, CURRENT_ACCESS)?);
    let current_refresh = hash_of(item, CURRENT_REFRESH)?;
    let family_secret = optional_string(item, FAMILY_SECRET)?.map(FamilySecret::from_stored);
    let jkt = optional_string(item, JKT)?.map(Thumbprint::from_stored);
    if current_refresh.as_ref() == Some(hash) {
        let username = username.ok_or_else(|| StoreError::Malformed("missing username".into()))?;
        return Ok(Some(StoredToken::Refresh(RefreshTokenRecord {
            token_hash: hash.clone(),
            client_id,
            username,
            scope: scope_of(item, "scope")?,
            access_token_hash: current_access,
            family_id,
            family_secret,
            issued_at: refreshed_at,
            expires_at,
            jkt: jkt.filter(|_| item.contains_key(REFRESH_BOUND)),
            client_version: optional_number(item, CLIENT_VERSION)?,
        })));
    }
    if current_access == *hash {
        let access_expires_at = number(item, ACCESS_EXPIRES_AT)?;
        let audience = optional_string(item, ACCESS_AUDIENCE)?;
        return Ok((now < access_expires_at).then(|| {
            StoredToken::Access(AccessTokenRecord {
                token_hash: current_access,
                client_id,
                username,
                scope: scope_of(item, ACCESS_SCOPE).unwrap_or_default(),
                family_id,
                issued_at: refreshed_at,
                expires_at: access_expires_at,
                jkt,
                audience,
            })
        }));
    }
    let previous_refresh = hash_of(item, PREVIOUS_REFRESH)?;
    let rotated_at = optional_number(item, ROTATED_AT)?.unwrap_or(0);
    if previous_refresh.as_ref() == Some(hash) {
        let previous_until = number(item, PREVIOUS_UNTIL)?;
        let username = username.ok_or_else(|| StoreError::Malformed("missing username".into()))?;
        let (Some(successor_refresh), true) = (current_refresh, now < previous_until) else {
            return Ok(None);
        };
        return Ok(Some(StoredToken::UsedRefresh(UsedRefreshToken {
            token_hash: hash.clone(),
            client_id,
            username,
            scope: scope_of(item, "scope")?,
            family_id,
            family_secret,
            used_at: rotated_at,
            expires_at: previous_until,
            successor_refresh,
            successor_access: current_access,
            client_version: optional_number(item, CLIENT_VERSION)?,
        })));
    }
    Ok(Some(StoredToken::Superseded(SupersededToken {
        family_id,
        client_id,
        family_secret,
        current_refresh,
        previous_refresh,
        rotated_at,
    })))
}

/// What a new family's conditional put found.
pub(super) enum NewFamily {
    Written,
    /// Its id is barred: the user's logins ended while this one was in flight.
    Barred,
    Taken,
}

/// Whether a family write's condition refused it.
pub(super) enum FamilyWrite {
    Written(Option<Item>),
    Refused,
}

impl DynamoStore {
    /// Puts a new family's item, provided its id is free. A refusal whose item holds
    /// `access` was this very write, committed by an attempt whose answer was lost.
    pub(super) async fn put_new_family(
        &self,
        item: Item,
        family_id: &str,
        access: &TokenHash,
    ) -> Result<NewFamily, StoreError> {
        let outcome = self
            .client
            .put_item()
            .table_name(&self.tables.tokens)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if conditional(outcome)?.is_some() {
            return Ok(NewFamily::Written);
        }
        let stored = self.token_item(family_key(family_id)).await?;
        Ok(match stored {
            Some(item) if kind_of(&item) == Some(BARRED) => NewFamily::Barred,
            Some(item) if matches!(item.get(CURRENT_ACCESS), Some(AttributeValue::S(hash)) if hash == access.as_str()) => {
                NewFamily::Written
            }
            _ => NewFamily::Taken,
        })
    }

    /// Deletes a family this request wrote, if it still holds `access`.
    pub(super) async fn withdraw_family(
        &self,
        family_id: &str,
        access: &TokenHash,
    ) -> Result<(), StoreError> {
        let outcome = self
            .client
            .delete_item()
            .table_name(&self.tables.tokens)
            .set_key(Some(key(family_key(family_id))))
            .condition_expression("current_access = :access")
            .expression_attribute_values(":access", s(access.as_str()))
            .send()
            .await;
        conditional(outcome).map(drop)
    }

    /// The one write of a refresh: moves the family from `used` to `replacement`, remembering
    /// `used` as the refresh token used last until `used_until`, provided `used` is still the
    /// family's live refresh token and the family is `used.client_id`'s. Answers the item as
    /// it was before, which tells a family of the previous form.
    pub(super) async fn advance_family(
        &self,
        used: &RefreshTokenRecord,
        replacement: &TokenPair,
        now: UnixSeconds,
        used_until: UnixSeconds,
    ) -> Result<FamilyWrite, StoreError> {
        const SET: &str = "SET current_refresh = :refresh, current_access = :access, \
            access_scope = :access_scope, access_expires_at = :access_expires_at, \
            refreshed_at = :refreshed_at, previous_refresh = :used, rotated_at = :now, \
            previous_until = :previous_until";
        let (access, refresh) = (&replacement.access, &replacement.refresh);
        let mut set = String::with_capacity(SET.len() + 64);
        set.push_str(SET);
        let update = self
            .client
            .update_item()
            .table_name(&self.tables.tokens)
            .set_key(Some(key(family_key(&used.family_id))))
            .condition_expression(
                "current_refresh = :used AND family_client = :client \
                 AND (attribute_not_exists(expires_at) OR expires_at > :now)",
            )
            .expression_attribute_values(":used", s(used.token_hash.as_str()))
            .expression_attribute_values(":client", s(&used.client_id))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":refresh", s(refresh.token_hash.as_str()))
            .expression_attribute_values(":access", s(access.token_hash.as_str()))
            .expression_attribute_values(":access_scope", s(&access.scope.to_string()))
            .expression_attribute_values(":access_expires_at", n(access.expires_at))
            .expression_attribute_values(":refreshed_at", n(refresh.issued_at))
            .expression_attribute_values(":previous_until", n(used_until))
            .return_values(ReturnValue::AllOld);
        // What the new access token does not have, the old one's must not leave behind.
        let mut remove: Vec<&str> = Vec::new();
        let update = match &access.audience {
            Some(audience) => {
                set.push_str(", access_audience = :audience");
                update.expression_attribute_values(":audience", s(audience))
            }
            None => {
                remove.push(ACCESS_AUDIENCE);
                update
            }
        };
        let update = match &access.jkt {
            Some(jkt) => {
                set.push_str(", jkt = :jkt");
                update.expression_attribute_values(":jkt", s(jkt.as_str()))
            }
            None => {
                remove.push(JKT);
                update
            }
        };
        let update = match refresh_bound(replacement) {
            true => {
                set.push_str(", refresh_bound = :bound");
                update.expression_attribute_values(":bound", AttributeValue::Bool(true))
            }
            false => {
                remove.push(REFRESH_BOUND);
                update
            }
        };
        let update = match &refresh.family_secret {
            Some(secret) => {
                set.push_str(", family_secret = :secret");
                update.expression_attribute_values(":secret", s(secret.as_str()))
            }
            None => update,
        };
        let update = match refresh.expires_at {
            Some(expires_at) => {
                set.push_str(", expires_at = :expires_at");
                update.expression_attribute_values(":expires_at", n(expires_at))
            }
            None => {
                remove.push(TTL_ATTRIBUTE);
                update
            }
        };
        if !remove.is_empty() {
            set.push_str(" REMOVE ");
            set.push_str(&remove.join(", "));
        }
        let outcome = update.update_expression(set).send().await;
        Ok(match conditional(outcome)? {
            Some(output) => FamilyWrite::Written(output.attributes),
            None => FamilyWrite::Refused,
        })
    }

    /// Deletes a family's item, whatever its state, but a barrier (which must stay to refuse
    /// a login still in flight); answers the item as it was.
    pub(super) async fn delete_family(&self, family_id: &str) -> Result<Option<Item>, StoreError> {
        let outcome = self
            .client
            .delete_item()
            .table_name(&self.tables.tokens)
            .set_key(Some(key(family_key(family_id))))
            .condition_expression("attribute_not_exists(kind) OR kind <> :barred")
            .expression_attribute_values(":barred", s(BARRED))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        Ok(conditional(outcome)?
            .and_then(|output| output.attributes)
            .filter(|item| !item.is_empty()))
    }
}
