//! The grants' writes: the items of their transactions, running a transaction (retries, and
//! which items a cancellation names), and telling whether a refused retry had in fact committed.

use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};

use super::DynamoStore;
use super::errors::{built, invalid, unavailable};
use super::item::Item;
use super::keys::{family_key, key, user_key};
use super::mapping::{USED_REFRESH, access_item, kind_of, n, refresh_item, s};
use super::schema::CREATED_AT;
use crate::domain::clock::UnixSeconds;
use crate::domain::model::TokenPair;
use crate::domain::store::StoreError;
use crate::domain::token::TokenHash;

/// Attempts for a transaction that DynamoDB cancelled for a conflict with another transaction
/// or for throttling. The backoffs add up to under 2 s, well within a grant's deadline.
pub(super) const TRANSACTION_ATTEMPTS: u32 = 5;

pub(super) enum Transaction {
    Committed,
    /// Which of the transaction's items failed their condition, in order.
    ConditionFailed(Vec<bool>),
}

/// Why DynamoDB cancelled a transaction, from its cancellation reasons.
#[derive(Debug, PartialEq, Eq)]
enum Cancellation {
    /// Which items failed their condition: a verdict.
    ConditionFailed(Vec<bool>),
    /// Another transaction held an item, or the table was throttled: worth another attempt.
    Retry {
        throttled: bool,
    },
    /// The request itself was invalid: a fault of this service, not of the database.
    Invalid,
    Other,
}

fn cancellation(codes: &[&str]) -> Cancellation {
    if codes.contains(&"ConditionalCheckFailed") {
        Cancellation::ConditionFailed(
            codes
                .iter()
                .map(|code| *code == "ConditionalCheckFailed")
                .collect(),
        )
    } else if codes.contains(&"ValidationError") {
        Cancellation::Invalid
    } else if codes
        .iter()
        .any(|code| matches!(*code, "ThrottlingError" | "ProvisionedThroughputExceeded"))
    {
        Cancellation::Retry { throttled: true }
    } else if codes.contains(&"TransactionConflict") {
        Cancellation::Retry { throttled: false }
    } else {
        Cancellation::Other
    }
}

/// The pause before attempt `attempt` (from 1): short for conflicts, which clear as soon as
/// the other transaction ends; longer and jittered for throttling, so that the instances that
/// were throttled together do not all come back together.
fn backoff(attempt: u32, throttled: bool) -> Duration {
    if throttled {
        let ceiling = 50u64 << attempt.min(4);
        Duration::from_millis(ceiling / 2 + jitter(ceiling / 2))
    } else {
        Duration::from_millis(10 << attempt.min(4))
    }
}

/// A pseudo-random number below `bound`, from the clock: enough to spread retries.
fn jitter(bound: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| u64::from(since.subsec_nanos()))
        .unwrap_or_default();
    nanos % bound.max(1)
}

impl DynamoStore {
    /// Runs a transaction, retrying while DynamoDB cancels it for a conflict with another
    /// transaction on the same items or for throttling. Neither is a verdict: the retry's
    /// conditions decide.
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Transaction, StoreError> {
        let mut throttled = false;
        for attempt in 0..TRANSACTION_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt, throttled)).await;
            }
            let outcome = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let error = match outcome {
                Ok(_) => return Ok(Transaction::Committed),
                Err(error) => error,
            };
            let cancelled = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled,
                Some(service_error) if service_error.code() == Some("ValidationException") => {
                    return Err(invalid(&error));
                }
                _ => return Err(unavailable(error)),
            };
            let codes: Vec<&str> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|reason| reason.code().unwrap_or("None"))
                .collect();
            match cancellation(&codes) {
                Cancellation::ConditionFailed(failed) => {
                    return Ok(Transaction::ConditionFailed(failed));
                }
                Cancellation::Retry { throttled: now } => throttled |= now,
                Cancellation::Invalid => return Err(invalid(&error)),
                Cancellation::Other => return Err(unavailable(error)),
            }
        }
        Err(StoreError::Unavailable(
            "transaction kept being cancelled for conflicts or throttling".into(),
        ))
    }

    /// Runs a transaction that stores `new_token` in `family_id`, and reads a refusal as
    /// [`Transaction::Committed`] when [`Self::was_committed`] finds the token stored.
    pub(super) async fn transact_storing(
        &self,
        items: Vec<TransactWriteItem>,
        new_token: &TokenHash,
        family_id: &str,
    ) -> Result<Transaction, StoreError> {
        match self.transact(items).await? {
            Transaction::ConditionFailed(_) if self.was_committed(new_token, family_id).await? => {
                Ok(Transaction::Committed)
            }
            outcome => Ok(outcome),
        }
    }

    /// After a transaction was refused: did an earlier attempt of this very write commit?
    ///
    /// When an attempt commits but its answer is lost (a dropped connection, a timeout), the
    /// SDK sends it again, and the retry fails its conditions against the committed state.
    /// DynamoDB itself recognises the retry by its idempotency token, but not every compatible
    /// server does. A new token's hash is 256 random bits: if `new_token` is stored, in
    /// `family_id`, it was stored by this request.
    async fn was_committed(
        &self,
        new_token: &TokenHash,
        family_id: &str,
    ) -> Result<bool, StoreError> {
        let item = self.token_item(new_token.as_str().to_owned()).await?;
        // A used token is not one this request stored just now: a much later duplicate.
        Ok(item.is_some_and(|item| {
            matches!(item.get("family_id"), Some(AttributeValue::S(family)) if family == family_id)
                && kind_of(&item) != Some(USED_REFRESH)
        }))
    }

    /// Deletes an item of the tokens table, whether or not it exists.
    pub(super) fn delete_token_item(&self, pk: String) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.tables.tokens)
            .set_key(Some(key(pk)))
            .build();
        Ok(TransactWriteItem::builder().delete(built(delete)?).build())
    }

    /// Points a family's record at its newest pair, provided its current refresh token is
    /// still `current_refresh`: the family follows its newest pair, so a replay can revoke it,
    /// and lives as long as that pair's refresh token.
    pub(super) fn advance_family(
        &self,
        family_id: &str,
        current_refresh: &TokenHash,
        replacement: &TokenPair,
    ) -> Result<TransactWriteItem, StoreError> {
        const SET: &str = "SET current_refresh = :refresh, current_access = :access, \
                           refreshed_at = :refreshed_at";
        let update = Update::builder()
            .table_name(&self.tables.tokens)
            .set_key(Some(key(family_key(family_id))))
            .condition_expression("current_refresh = :current")
            .expression_attribute_values(":current", s(current_refresh.as_str()))
            .expression_attribute_values(":refresh", s(replacement.refresh.token_hash.as_str()))
            .expression_attribute_values(":access", s(replacement.access.token_hash.as_str()))
            .expression_attribute_values(":refreshed_at", n(replacement.refresh.issued_at));
        let update = match replacement.refresh.expires_at {
            Some(expires_at) => update
                .update_expression(format!("{SET}, expires_at = :expires_at"))
                .expression_attribute_values(":expires_at", n(expires_at)),
            None => update.update_expression(format!("{SET} REMOVE expires_at")),
        };
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    }

    /// Refuses the transaction once the user is deleted, and if a user of the same name was
    /// created after `issued_at` (with the clock skew allowed already added): a deleted user's
    /// tokens stop working, and creating the name again does not revive them, whatever the
    /// revocation index has caught up with.
    pub(super) fn user_still_exists(
        &self,
        username: &str,
        issued_at: UnixSeconds,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.tables.credentials)
            .set_key(Some(key(user_key(username))))
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(#created) OR #created <= :issued_at)",
            )
            .expression_attribute_names("#created", CREATED_AT)
            .expression_attribute_values(":issued_at", n(issued_at))
            .build();
        Ok(TransactWriteItem::builder()
            .condition_check(built(check)?)
            .build())
    }

    /// Puts an item into the tokens table, provided its key is free.
    pub(super) fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .put(built(
                Put::builder()
                    .table_name(&self.tables.tokens)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .build(),
            )?)
            .build())
    }

    pub(super) fn pair_puts(&self, pair: &TokenPair) -> Result<[TransactWriteItem; 2], StoreError> {
        Ok([
            self.put_new(access_item(&pair.access))?,
            self.put_new(refresh_item(&pair.refresh))?,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_reasons_decide_what_happens_next() {
        assert_eq!(
            cancellation(&["None", "ConditionalCheckFailed", "TransactionConflict"]),
            Cancellation::ConditionFailed(vec![false, true, false])
        );
        assert_eq!(
            cancellation(&["None", "ThrottlingError"]),
            Cancellation::Retry { throttled: true }
        );
        assert_eq!(
            cancellation(&["ProvisionedThroughputExceeded", "None"]),
            Cancellation::Retry { throttled: true }
        );
        assert_eq!(
            cancellation(&["TransactionConflict", "None"]),
            Cancellation::Retry { throttled: false }
        );
        assert_eq!(
            cancellation(&["ValidationError", "None"]),
            Cancellation::Invalid
        );
        assert_eq!(
            cancellation(&["ItemCollectionSizeLimitExceeded"]),
            Cancellation::Other
        );
    }

    #[test]
    fn throttled_retries_back_off_longer_and_stay_within_the_deadline() {
        let conflicts: Duration = (1..TRANSACTION_ATTEMPTS).map(|a| backoff(a, false)).sum();
        let throttling: Duration = (1..TRANSACTION_ATTEMPTS).map(|a| backoff(a, true)).sum();
        assert!(conflicts < Duration::from_millis(400), "{conflicts:?}");
        assert!(throttling > conflicts, "{throttling:?}");
        assert!(throttling < Duration::from_secs(2), "{throttling:?}");
    }
}
