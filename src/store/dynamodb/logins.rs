//! A user's logins, registered on the user's item so that ending them (a password reset with
//! `--revoke-tokens`, a deletion) finds every one, even one still being written, without
//! waiting for the families index. A login registers its family (`login#<family id>`, the
//! time it started) by a conditional update on the user's credential version, beside the
//! write of its family, in the same round trip; ending the logins moves the version on (no
//! login that read the old one registers any more) and bars every registered family, written
//! or not.
//!
//! The user's item stays small, so that a login costs the same write units however often the
//! user logs in: a registration is dropped by a later login once the index surely lists its
//! family ([`GRANTS_IN_FLIGHT_WAIT`](crate::domain::service::GRANTS_IN_FLIGHT_WAIT) after the
//! login started, by default), and at most [`LISTED_LOGINS`] are kept. A login beyond those
//! only notes when it started (`unlisted_login_at`); ending the logins then waits until the
//! index surely lists it too, before the index is read.
//!
//! A client's logins are not registered on its item, which every login of every user would
//! write. A client has a credential version too: each family records the one its grant read
//! (`families.rs`), and ending the client's logins moves it on, so that no refresh token
//! issued under the old one refreshes; their families are found by the index (see `Admin`).

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::DynamoStore;
use super::errors::{conditional, unavailable};
use super::item::Item;
use super::keys::{client_key, family_key, key, user_key};
use super::mapping::{n, optional_number, s};
use crate::domain::clock::{Clock as _, SystemClock, UnixSeconds};
use crate::domain::store::{CredentialVersion, StoreError};

/// The credential version of a user or a client item. Starts at its creation time, so that a
/// user or client deleted and created again under the same name never has a version that a
/// login of the deleted one read.
pub(super) const CREDENTIAL_VERSION: &str = "credential_version";
const REGISTERED: &str = "login#";
/// When the latest login that was not registered (the user had [`LISTED_LOGINS`] already)
/// started.
const UNLISTED_LOGIN_AT: &str = "unlisted_login_at";
/// The most registrations a user's item holds: about 34 bytes each, so with the password hash
/// and the rest the item stays within one write unit (1 KB).
const LISTED_LOGINS: usize = 16;
/// The most registrations one login drops, to bound its update.
const DROPPED_PER_LOGIN: usize = 16;
/// How long a barred family's id stays refused: far longer than a login can be in flight.
const BARRED_SECONDS: UnixSeconds = 86_400;
pub(super) const BARRED: &str = "barred";

/// The credential version of a user's item as read, and its registrations.
pub(super) fn credential_of(user: Option<&Item>) -> CredentialVersion {
    let Some(user) = user else {
        return CredentialVersion::default();
    };
    let version = match user.get(CREDENTIAL_VERSION) {
        Some(AttributeValue::N(value)) => value.parse().unwrap_or(0),
        _ => 0,
    };
    let registered_logins = user
        .iter()
        .filter_map(|(name, value)| {
            let family_id = name.strip_prefix(REGISTERED)?;
            let started: UnixSeconds = value.as_n().ok()?.parse().ok()?;
            Some((family_id.to_owned(), started))
        })
        .collect();
    CredentialVersion {
        version,
        registered_logins,
    }
}

/// The registrations of `credential` as a login starting at `now` sees them: those the
/// families index lists by then (which it drops), and how many it does not yet.
fn settled_logins(
    credential: &CredentialVersion,
    now: UnixSeconds,
    index_lag: UnixSeconds,
) -> (Vec<&str>, usize) {
    let (settled, unsettled): (Vec<_>, Vec<_>) = credential
        .registered_logins
        .iter()
        .partition(|(_, started)| started.saturating_add(index_lag) <= now);
    let settled = settled
        .into_iter()
        .map(|(family_id, _)| family_id.as_str())
        .take(DROPPED_PER_LOGIN)
        .collect();
    (settled, unsettled.len())
}

impl DynamoStore {
    /// Registers `family_id` on the user's item (or, past [`LISTED_LOGINS`], notes that a
    /// login started unlisted), provided the user exists and their credential version is
    /// still `credential.version`; drops the settled registrations.
    pub(super) async fn register_login(
        &self,
        username: &str,
        family_id: &str,
        started: UnixSeconds,
        credential: &CredentialVersion,
    ) -> Result<bool, StoreError> {
        let (settled, unsettled) = settled_logins(credential, started, self.index_lag);
        // Concurrent logins may each see room for one more: the item may hold a few more than
        // LISTED_LOGINS for as long as the index lags.
        let listed = unsettled < LISTED_LOGINS;
        let mut update = String::from("SET #new = :started");
        if !settled.is_empty() {
            update.push_str(" REMOVE ");
            let names: Vec<String> = (0..settled.len())
                .map(|index| format!("#old{index}"))
                .collect();
            update.push_str(&names.join(", "));
        }
        let mut request = self
            .client
            .update_item()
            .table_name(&self.tables.credentials)
            .set_key(Some(key(user_key(username))))
            .update_expression(update)
            .expression_attribute_names(
                "#new",
                if listed {
                    format!("{REGISTERED}{family_id}")
                } else {
                    UNLISTED_LOGIN_AT.to_owned()
                },
            )
            .expression_attribute_names("#version", CREDENTIAL_VERSION)
            .expression_attribute_values(":started", n(started));
        for (index, settled) in settled.iter().enumerate() {
            request = request.expression_attribute_names(
                format!("#old{index}"),
                format!("{REGISTERED}{settled}"),
            );
        }
        let request = match credential.version {
            // A user written before versions were kept has none: 0.
            0 => request
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(#version) OR #version = :version)",
                )
                .expression_attribute_values(":version", n(0)),
            version => request
                .condition_expression("#version = :version")
                .expression_attribute_values(":version", n(version)),
        };
        Ok(conditional(request.send().await)?.is_some())
    }

    /// Moves the user's credential version on and answers the families registered on them,
    /// once the index surely lists every login that is not registered.
    pub(super) async fn end_user_logins(&self, username: &str) -> Result<Vec<String>, StoreError> {
        let user = self
            .move_version_on(user_key(username))
            .await?
            .unwrap_or_default();
        if let Some(started) = optional_number(&user, UNLISTED_LOGIN_AT).ok().flatten() {
            // No login is issued under the old version from now on; the last unlisted one
            // was, and the index lists its family by then.
            let listed_by = started.saturating_add(self.index_lag);
            let now = SystemClock.now();
            if listed_by > now {
                tokio::time::sleep(Duration::from_secs(listed_by - now)).await;
            }
        }
        Ok(user
            .into_keys()
            .filter_map(|name| name.strip_prefix(REGISTERED).map(str::to_owned))
            .collect())
    }

    /// Moves the client's credential version on (a client without one, from before versions
    /// were kept, had 0), so that no refresh token of a login issued under the old one
    /// refreshes. Nothing is registered on a client: its logins are found by the index.
    pub(super) async fn end_client_logins(&self, client_id: &str) -> Result<(), StoreError> {
        self.move_version_on(client_key(client_id)).await.map(drop)
    }

    /// Adds one to the credential version of the credentials item `pk`, if there is one, and
    /// answers the item as it is afterwards.
    async fn move_version_on(&self, pk: String) -> Result<Option<Item>, StoreError> {
        let outcome = self
            .client
            .update_item()
            .table_name(&self.tables.credentials)
            .set_key(Some(key(pk)))
            .update_expression("ADD #version :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#version", CREDENTIAL_VERSION)
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        Ok(conditional(outcome)?.map(|output| output.attributes.unwrap_or_default()))
    }

    /// Puts a barrier in place of the family `family_id`, written or not, and answers what
    /// was there.
    pub(super) async fn put_barrier(&self, family_id: &str) -> Result<Option<Item>, StoreError> {
        let expires_at = SystemClock.now().saturating_add(BARRED_SECONDS);
        let output = self
            .client
            .put_item()
            .table_name(&self.tables.tokens)
            .item("pk", s(&family_key(family_id)))
            .item("kind", s(BARRED))
            .item("expires_at", n(expires_at))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.attributes.filter(|item| !item.is_empty()))
    }
}
