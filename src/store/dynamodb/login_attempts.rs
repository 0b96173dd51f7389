//! Password attempt counters in the tokens table, where TTL removes them once forgotten.
//!
//! - `LOGIN_SOURCE#<digest>`: one username's attempts from one source address: `taken`,
//!   `locked_until`, `held_until`, `refused`, `known_until` (after a successful login), and the
//!   TTL attribute.
//! - `LOGIN_USERNAME#<digest>`: one username's failures from every source in a window:
//!   `failures` and the TTL attribute.
//!
//! Each decision is one conditional `UpdateItem`, which DynamoDB applies atomically per item,
//! so concurrent attempts are admitted exactly as the rules allow one at a time. A record that
//! expired but that TTL has not deleted yet (TTL lags) is replaced by a fresh one with a
//! conditional put, which costs one more round trip only in that case.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::errors::{unavailable, written};
use super::item::Item;
use super::keys::PK;
use super::mapping::{n, number, s};
use super::{DynamoStore, TTL_ATTRIBUTE};
use crate::domain::clock::UnixSeconds;
use crate::domain::login_throttle::{
    Admission, AttemptKeys, AttemptRequest, FailureRecord, TakenAttempt, UncheckedAttempt,
    UsernameFailures,
};
use crate::domain::store::StoreError;

const LOGIN_SOURCE: &str = "login_source";
const LOGIN_USERNAME: &str = "login_username";

pub(super) fn source_key(keys: &AttemptKeys) -> String {
    format!("LOGIN_SOURCE#{}", keys.per_source)
}

pub(super) fn username_key(keys: &AttemptKeys) -> String {
    format!("LOGIN_USERNAME#{}", keys.per_username)
}

/// The username's failures as read with the password grant's context.
pub(super) fn username_failures_from(
    item: Option<Item>,
    now: UnixSeconds,
) -> Result<UsernameFailures, StoreError> {
    match item {
        Some(item) if attempt_number(&item, TTL_ATTRIBUTE)? > now => Ok(UsernameFailures {
            count: u32::try_from(attempt_number(&item, "failures")?).unwrap_or(u32::MAX),
            expires_at: attempt_number(&item, TTL_ATTRIBUTE)?,
        }),
        _ => Ok(UsernameFailures::default()),
    }
}

/// What [`DynamoStore::update_or_start_again`] did.
enum Counted {
    /// Updated the live record: its attributes now.
    Updated(Item),
    /// Replaced an expired record with the fresh one.
    StartedAgain,
    /// The condition refused the live record: its attributes.
    Refused(Item),
}

/// What a conditional update found when its condition failed.
enum Updated {
    Done(Item),
    /// The condition failed on this item (empty if there was none).
    Refused(Item),
}

impl DynamoStore {
    pub(super) async fn take_attempt(
        &self,
        attempt: &AttemptRequest,
    ) -> Result<TakenAttempt, StoreError> {
        let pk = source_key(&attempt.keys);
        let update = self
            .update_attempts(&pk)
            // A known source's record lives as long as it is known.
            .update_expression(
                "SET kind = :kind, held_until = :hold, \
                 expires_at = if_not_exists(known_until, :expires_at), \
                 locked_until = if_not_exists(locked_until, :zero) ADD taken :one",
            )
            // The lock only matters past the free attempts: a burst within them is admitted
            // whole, and after them one attempt at a time.
            .condition_expression(
                "attribute_not_exists(pk) OR (expires_at > :now AND (taken < :free OR \
                 (locked_until <= :now AND held_until <= :now)))",
            )
            .expression_attribute_values(":kind", s(LOGIN_SOURCE))
            .expression_attribute_values(":hold", n(attempt.hold_until))
            .expression_attribute_values(":expires_at", n(attempt.expires_at))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(attempt.now))
            .expression_attribute_values(":free", n(u64::from(attempt.free_attempts)))
            .return_values(ReturnValue::AllNew);
        let fresh = HashMap::from([
            ("kind".to_owned(), s(LOGIN_SOURCE)),
            ("taken".to_owned(), n(1)),
            ("locked_until".to_owned(), n(0)),
            ("held_until".to_owned(), n(attempt.hold_until)),
            ("refused".to_owned(), n(0)),
            (TTL_ATTRIBUTE.to_owned(), n(attempt.expires_at)),
        ]);
        Ok(
            match self
                .update_or_start_again(&pk, update, fresh, attempt.now)
                .await?
            {
                Counted::Updated(item) => TakenAttempt {
                    admission: Admission::Admitted {
                        number: u32::try_from(attempt_number(&item, "taken")?).unwrap_or(u32::MAX),
                    },
                    known_source: known(&item, attempt.now)?,
                },
                Counted::StartedAgain => TakenAttempt {
                    admission: Admission::Admitted { number: 1 },
                    known_source: false,
                },
                Counted::Refused(record) => TakenAttempt {
                    admission: Admission::Refused,
                    known_source: known(&record, attempt.now)?,
                },
            },
        )
    }

    pub(super) async fn record_failure(
        &self,
        failure: &FailureRecord,
        username_ceiling: u32,
        username_lock_ends: UnixSeconds,
    ) -> Result<UsernameFailures, StoreError> {
        let (source, username) = tokio::join!(
            self.lock_source(failure),
            self.count_username_failure(failure, username_ceiling, username_lock_ends)
        );
        source?;
        username
    }

    /// Grows the source's lock and, if this attempt held the source, releases the hold. A
    /// record deleted meanwhile (a success) or holding a longer lock (a slower request's) is
    /// left as it is.
    async fn lock_source(&self, failure: &FailureRecord) -> Result<(), StoreError> {
        // A known source's record lives as long as it is known, whatever its failures.
        let expression = if failure.releases_hold {
            "SET locked_until = :locked_until, held_until = :zero, \
             expires_at = if_not_exists(known_until, :expires_at)"
        } else {
            "SET locked_until = :locked_until, expires_at = if_not_exists(known_until, :expires_at)"
        };
        let mut update = self
            .update_attempts(&source_key(&failure.keys))
            .update_expression(expression)
            .condition_expression("locked_until <= :locked_until")
            .expression_attribute_values(":locked_until", n(failure.locked_until))
            .expression_attribute_values(":expires_at", n(failure.expires_at));
        if failure.releases_hold {
            update = update.expression_attribute_values(":zero", n(0));
        }
        updated(update.send().await).map(drop)
    }

    async fn count_username_failure(
        &self,
        failure: &FailureRecord,
        ceiling: u32,
        lock_ends: UnixSeconds,
    ) -> Result<UsernameFailures, StoreError> {
        let pk = username_key(&failure.keys);
        let update = self
            .update_attempts(&pk)
            .update_expression(
                "SET kind = :kind, expires_at = if_not_exists(expires_at, :window_ends) \
                 ADD failures :one",
            )
            .condition_expression("attribute_not_exists(pk) OR expires_at > :now")
            .expression_attribute_values(":kind", s(LOGIN_USERNAME))
            .expression_attribute_values(":window_ends", n(failure.username_window_ends))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(failure.now))
            .return_values(ReturnValue::AllNew);
        let fresh = HashMap::from([
            ("kind".to_owned(), s(LOGIN_USERNAME)),
            ("failures".to_owned(), n(1)),
            (TTL_ATTRIBUTE.to_owned(), n(failure.username_window_ends)),
        ]);
        let mut failures = match self
            .update_or_start_again(&pk, update, fresh, failure.now)
            .await?
        {
            Counted::Updated(item) => username_failures_from(Some(item), failure.now)?,
            Counted::StartedAgain => UsernameFailures {
                count: 1,
                expires_at: failure.username_window_ends,
            },
            // The condition refuses only a record that has expired.
            Counted::Refused(_) => {
                return Err(StoreError::Malformed(
                    "a live username failure record refused a count".into(),
                ));
            }
        };
        // Exactly one failure reaches the ceiling; it makes the lock last long enough.
        if failures.count == ceiling && failures.expires_at < lock_ends {
            let update = self
                .update_attempts(&pk)
                .update_expression("SET expires_at = :lock_ends")
                .condition_expression("expires_at < :lock_ends")
                .expression_attribute_values(":lock_ends", n(lock_ends));
            updated(update.send().await)?;
            failures.expires_at = lock_ends;
        }
        Ok(failures)
    }

    pub(super) async fn end_unchecked_attempt(
        &self,
        keys: &AttemptKeys,
        ended: UncheckedAttempt,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        let (expression, zero) = match ended {
            UncheckedAttempt::Refused => ("ADD refused :one", false),
            UncheckedAttempt::Admitted { held: false } => {
                ("ADD taken :minus_one, refused :one", false)
            }
            UncheckedAttempt::Admitted { held: true } => (
                "SET held_until = :zero ADD taken :minus_one, refused :one",
                true,
            ),
        };
        let admitted = matches!(ended, UncheckedAttempt::Admitted { .. });
        let mut update = self
            .update_attempts(&source_key(keys))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk) AND expires_at > :now")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now));
        if admitted {
            update = update
                .expression_attribute_values(":minus_one", AttributeValue::N("-1".to_owned()));
        }
        if zero {
            update = update.expression_attribute_values(":zero", n(0));
        }
        updated(update.send().await).map(drop)
    }

    /// Starts a source's record again after a successful login, which clears its count and
    /// makes the source known until `known_until`.
    pub(super) async fn mark_known(
        &self,
        keys: &AttemptKeys,
        known_until: UnixSeconds,
    ) -> Result<(), StoreError> {
        let record = HashMap::from([
            (PK.to_owned(), s(&source_key(keys))),
            ("kind".to_owned(), s(LOGIN_SOURCE)),
            ("taken".to_owned(), n(0)),
            ("locked_until".to_owned(), n(0)),
            ("held_until".to_owned(), n(0)),
            ("refused".to_owned(), n(0)),
            ("known_until".to_owned(), n(known_until)),
            (TTL_ATTRIBUTE.to_owned(), n(known_until)),
        ]);
        self.client
            .put_item()
            .table_name(&self.tables.tokens)
            .set_item(Some(record))
            .send()
            .await
            .map(drop)
            .map_err(unavailable)
    }

    fn update_attempts(&self, pk: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.tables.tokens)
            .key(PK, s(pk))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    }

    /// Applies `update` to record `pk`. If its condition refuses a record that expired at `now`
    /// (TTL deletes late), puts `fresh` in its place instead; a lost race to do so tries the
    /// update once more.
    async fn update_or_start_again(
        &self,
        pk: &str,
        update: UpdateItemFluentBuilder,
        fresh: Item,
        now: UnixSeconds,
    ) -> Result<Counted, StoreError> {
        for _ in 0..2 {
            match updated(update.clone().send().await)? {
                Updated::Done(item) => return Ok(Counted::Updated(item)),
                Updated::Refused(record) if !expired(&record, now)? => {
                    return Ok(Counted::Refused(record));
                }
                Updated::Refused(_) => {
                    if self.replace_expired(pk, fresh.clone(), now).await? {
                        return Ok(Counted::StartedAgain);
                    }
                }
            }
        }
        // Two lost races in a row: not a refusal, so not answered as one.
        Err(StoreError::Unavailable(
            format!("record {pk} kept changing while it was counted").into(),
        ))
    }

    /// Puts `fresh` in place of a record that expired at `now`; false if another writer
    /// replaced it first.
    async fn replace_expired(
        &self,
        pk: &str,
        mut fresh: Item,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        fresh.insert(PK.to_owned(), s(pk));
        let outcome = self
            .client
            .put_item()
            .table_name(&self.tables.tokens)
            .set_item(Some(fresh))
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        written(outcome)
    }
}

fn updated<R>(
    outcome: Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        SdkError<UpdateItemError, R>,
    >,
) -> Result<Updated, StoreError>
where
    R: std::fmt::Debug,
{
    match outcome {
        Ok(output) => Ok(Updated::Done(output.attributes.unwrap_or_default())),
        Err(SdkError::ServiceError(error)) => match error.into_err() {
            UpdateItemError::ConditionalCheckFailedException(failed) => {
                Ok(Updated::Refused(failed.item.unwrap_or_default()))
            }
            other => Err(unavailable(other)),
        },
        Err(error) => Err(unavailable(error)),
    }
}

/// A number of an attempt record. One missing or malformed reads as an unavailable store (503)
/// rather than a broken item (500): a lockout that cannot be read fails safe, and a burst must
/// not answer 500 (moto lets a read see a record that an `UpdateItem` is still creating).
fn attempt_number(item: &Item, name: &str) -> Result<u64, StoreError> {
    number(item, name).map_err(|error| {
        StoreError::Unavailable(format!("a password attempt record is unreadable: {error}").into())
    })
}

/// Whether a source record says the username logged in from there recently.
fn known(item: &Item, now: UnixSeconds) -> Result<bool, StoreError> {
    Ok(item.contains_key("known_until") && attempt_number(item, "known_until")? > now)
}

/// Whether a record that failed a condition had expired (or was absent).
fn expired(item: &Item, now: UnixSeconds) -> Result<bool, StoreError> {
    if item.is_empty() {
        return Ok(true);
    }
    Ok(attempt_number(item, TTL_ATTRIBUTE)? <= now)
}
