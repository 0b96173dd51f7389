//! Password attempts in the tokens table: one item per username, `LOGIN#<digest>`, holding
//! the rules' [`LoginRecord`]:
//! - `ub`, `ui`: the username's consecutive failures plus attempts in flight, and the attempts
//!   in flight; `uh`: the latest admission's hold; `ul`: the username's lock past its ceiling;
//!   `rf`: attempts refused by a lock; `as`: the tracked address keys (a string set);
//! - per tracked address `X`: `b_X`, `i_X` (the same two counts for the address), `l_X` (its
//!   lock), `e_X` (when its failures are forgotten), `k_X` (known until).
//!
//! Every decision is one conditional `UpdateItem` of that item, which DynamoDB applies
//! atomically: an admission checks and counts the address and the username together; a
//! settlement ends the attempt. No transactions. When a condition refuses, the item it returns
//! says why ([`LoginRecord::obstacle`]): a lock or attempts in flight (wait, polling with
//! strongly consistent reads and jittered backoff, which cost no write units), or something to
//! clear first: an expired item, attempts of requests that died, an address's expired
//! failures, idle addresses in a full item. Each of those is one more conditional write, rare.
//! TTL only tidies: every read checks `expires_at`. With at most
//! [`MAX_TRACKED_ADDRESSES`] entries of about 90 bytes the item stays under 1 KB, so each
//! write costs one write unit.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use tokio::time::Instant;

use super::errors::{unavailable, written};
use super::item::Item;
use super::keys::{PK, key};
use super::mapping::{n, number, s};
use super::{DynamoStore, TTL_ATTRIBUTE};
use crate::domain::clock::UnixSeconds;
use crate::domain::login_record::{AddressRecord, LoginRecord, Obstacle};
use crate::domain::login_throttle::{
    Admission, AttemptKeys, AttemptRequest, MAX_TRACKED_ADDRESSES, Outcome, Settlement, Ticket,
};
use crate::domain::store::StoreError;

const LOGIN: &str = "login";
const ADDRESSES: &str = "as";

/// Writes an admission may need besides waiting (clearing what expired or died, a lost race)
/// before it is answered as an unavailable store.
const MAX_CLEARING_WRITES: u32 = 8;
/// The first and the longest pause between two looks at attempts in flight.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LONGEST_PAUSE: Duration = Duration::from_millis(400);

pub(super) fn record_key(keys: &AttemptKeys) -> String {
    format!("LOGIN#{}", keys.per_username)
}

/// The attribute names of an address's entry.
struct Entry {
    used: String,
    in_flight: String,
    locked_until: String,
    expires_at: String,
    known_until: String,
}

impl Entry {
    fn of(address: &str) -> Self {
        Self {
            used: format!("b_{address}"),
            in_flight: format!("i_{address}"),
            locked_until: format!("l_{address}"),
            expires_at: format!("e_{address}"),
            known_until: format!("k_{address}"),
        }
    }
}

/// An update expression's names and values, added as its clauses are written.
#[derive(Default)]
struct Expression {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expression {
    fn name(&mut self, placeholder: &str, attribute: &str) -> &mut Self {
        self.names
            .insert(placeholder.to_owned(), attribute.to_owned());
        self
    }

    fn value(&mut self, placeholder: &str, value: AttributeValue) -> &mut Self {
        self.values.insert(placeholder.to_owned(), value);
        self
    }

    fn entry(&mut self, entry: &Entry) -> &mut Self {
        self.name("#b", &entry.used)
            .name("#i", &entry.in_flight)
            .name("#l", &entry.locked_until)
            .name("#e", &entry.expires_at)
            .name("#k", &entry.known_until)
    }

    fn apply(self, update: UpdateItemFluentBuilder) -> UpdateItemFluentBuilder {
        let update = match self.names.is_empty() {
            true => update,
            false => update.set_expression_attribute_names(Some(self.names)),
        };
        update.set_expression_attribute_values(Some(self.values))
    }
}

/// What a conditional update did.
enum Updated {
    /// Written: the item now.
    Done(Item),
    /// Its condition refused the item as it was (empty if there was none).
    Refused(Item),
}

impl DynamoStore {
    pub(super) async fn take_attempt(
        &self,
        attempt: &AttemptRequest,
    ) -> Result<Admission, StoreError> {
        let pk = record_key(&attempt.keys);
        let give_up = Instant::now() + attempt.max_wait;
        let mut address = attempt.keys.address.clone();
        let (mut pause, mut clearing_writes) = (FIRST_PAUSE, 0);
        let (mut write, mut waited) = (true, false);
        loop {
            let found = if write {
                match self.admit(&pk, attempt, address.as_deref()).await? {
                    Updated::Done(item) => {
                        let ticket = ticket_from(&item, address.as_deref(), attempt.now)?;
                        return Ok(Admission::Admitted(ticket));
                    }
                    Updated::Refused(item) => item,
                }
            } else {
                self.token_item(pk.clone()).await?.unwrap_or_default()
            };
            let record = record_from(&found)?;
            write = true;
            let obstacle = record.obstacle(attempt, address.as_deref(), waited);
            if !matches!(
                obstacle,
                Some(Obstacle::Busy) | Some(Obstacle::Locked { .. })
            ) {
                clearing_writes += 1;
                if clearing_writes > MAX_CLEARING_WRITES {
                    return Err(StoreError::Unavailable(
                        format!("record {pk} kept changing while an attempt was taken").into(),
                    ));
                }
            }
            match obstacle {
                // The item changed between the write and now: write again.
                None => {}
                Some(Obstacle::Locked { username_wide }) => {
                    return Ok(Admission::Locked { username_wide });
                }
                Some(Obstacle::Busy) => {
                    let now = Instant::now();
                    if now >= give_up {
                        return Ok(Admission::Busy);
                    }
                    tokio::time::sleep(jittered(pause).min(give_up - now)).await;
                    pause = (pause * 2).min(LONGEST_PAUSE);
                    // Look before writing: a read costs no write unit.
                    (write, waited) = (false, true);
                }
                Some(Obstacle::Expired) => self.delete_expired(&pk, attempt.now).await?,
                Some(Obstacle::Stale) => self.reclaim(&pk, &record).await?,
                Some(Obstacle::AddressExpired) => {
                    if let Some(address) = &address {
                        self.forget_failures(&pk, address, &record).await?;
                    }
                }
                Some(Obstacle::Full { idle }) if idle.is_empty() => address = None,
                Some(Obstacle::Full { idle }) => {
                    self.forget(&pk, &idle, &record, attempt.now).await?
                }
            }
        }
    }

    /// The admission: counts the attempt for the username and (if tracked) its address, if the
    /// rules let it in as the item stands.
    async fn admit(
        &self,
        pk: &str,
        attempt: &AttemptRequest,
        address: Option<&str>,
    ) -> Result<Updated, StoreError> {
        let mut expression = Expression::default();
        expression
            .value(":kind", s(LOGIN))
            .value(":record_expires", n(attempt.record_expires_at))
            .value(":hold", n(attempt.hold_until))
            .value(":one", n(1))
            .value(":zero", n(0))
            .value(":now", n(attempt.now))
            .value(":ceiling", n(u64::from(attempt.username_ceiling)));
        let mut set = "SET kind = :kind, expires_at = :record_expires, uh = :hold".to_owned();
        let mut add = " ADD ub :one, ui :one".to_owned();
        let mut condition = "(attribute_not_exists(pk) OR expires_at > :now) \
             AND (attribute_not_exists(uh) OR uh > :now OR ui = :zero)"
            .to_owned();
        let username_limit = "(attribute_not_exists(ub) OR ub < :ceiling \
             OR (ui = :zero AND (attribute_not_exists(ul) OR ul <= :now)))";
        match address {
            Some(address) => {
                expression
                    .entry(&Entry::of(address))
                    .name("#as", ADDRESSES)
                    .value(":x", s(address))
                    .value(":xs", AttributeValue::Ss(vec![address.to_owned()]))
                    .value(":address_expires", n(attempt.address_expires_at))
                    .value(":max", n(MAX_TRACKED_ADDRESSES as u64))
                    .value(":free", n(u64::from(attempt.free_attempts)));
                set.push_str(", #e = :address_expires");
                add.push_str(", #as :xs, #b :one, #i :one");
                condition.push_str(
                    " AND (attribute_not_exists(#e) OR #e > :now OR #b = :zero) \
                     AND (attribute_not_exists(#as) OR contains(#as, :x) OR size(#as) < :max) \
                     AND (attribute_not_exists(#l) OR #l <= :now) \
                     AND (attribute_not_exists(#b) OR #b < :free OR #i = :zero) \
                     AND (#k > :now OR ",
                );
                condition.push_str(username_limit);
                condition.push(')');
            }
            None => {
                condition.push_str(" AND ");
                condition.push_str(username_limit);
            }
        }
        let update = self
            .update_login(pk)
            .update_expression(set + &add)
            .condition_expression(condition)
            .return_values(ReturnValue::AllNew);
        updated(expression.apply(update).send().await)
    }

    /// Deletes an item that has expired but that TTL has not deleted yet.
    async fn delete_expired(&self, pk: &str, now: UnixSeconds) -> Result<(), StoreError> {
        let outcome = self
            .client
            .delete_item()
            .table_name(&self.tables.tokens)
            .set_key(Some(key(pk.to_owned())))
            .condition_expression("expires_at <= :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        written(outcome).map(drop)
    }

    /// Gives back the attempts counted in flight past every hold (their requests died), if
    /// no attempt was admitted or settled since `record` was read.
    async fn reclaim(&self, pk: &str, record: &LoginRecord) -> Result<(), StoreError> {
        let mut expression = Expression::default();
        expression
            .value(":uh", n(record.hold_until))
            .value(":ui", n(u64::from(record.in_flight)))
            .value(
                ":ub",
                n(u64::from(record.used.saturating_sub(record.in_flight))),
            )
            .value(":zero", n(0));
        let mut set = "SET ub = :ub, ui = :zero".to_owned();
        let mut condition = "uh = :uh AND ui = :ui".to_owned();
        for (index, (address, entry)) in record.addresses.iter().enumerate() {
            if entry.in_flight == 0 {
                continue;
            }
            let names = Entry::of(address);
            let (b, i) = (format!("#b{index}"), format!("#i{index}"));
            expression
                .name(&b, &names.used)
                .name(&i, &names.in_flight)
                .value(&format!(":i{index}"), n(u64::from(entry.in_flight)))
                .value(
                    &format!(":b{index}"),
                    n(u64::from(entry.used.saturating_sub(entry.in_flight))),
                );
            set.push_str(&format!(", {b} = :b{index}, {i} = :zero"));
            condition.push_str(&format!(" AND {i} = :i{index}"));
        }
        let update = self
            .update_login(pk)
            .update_expression(set)
            .condition_expression(condition);
        updated(expression.apply(update).send().await).map(drop)
    }

    /// Forgets an address's failures once they have expired (it stays known if it is).
    async fn forget_failures(
        &self,
        pk: &str,
        address: &str,
        record: &LoginRecord,
    ) -> Result<(), StoreError> {
        let entry = record.addresses.get(address).copied().unwrap_or_default();
        let names = Entry::of(address);
        let mut expression = Expression::default();
        expression
            .name("#b", &names.used)
            .name("#i", &names.in_flight)
            .name("#l", &names.locked_until)
            .name("#e", &names.expires_at)
            .value(":e", n(entry.expires_at))
            .value(":zero", n(0));
        let update = self
            .update_login(pk)
            .update_expression("SET #b = :zero, #l = :zero")
            .condition_expression("#e = :e AND #i = :zero");
        updated(expression.apply(update).send().await).map(drop)
    }

    /// Removes idle address entries to make room, each only if still idle as read.
    async fn forget(
        &self,
        pk: &str,
        idle: &[String],
        record: &LoginRecord,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        let mut expression = Expression::default();
        expression
            .name("#as", ADDRESSES)
            .value(":idle", AttributeValue::Ss(idle.to_vec()))
            .value(":zero", n(0))
            .value(":now", n(now));
        let mut removed = Vec::new();
        let mut conditions = Vec::new();
        for (index, address) in idle.iter().enumerate() {
            let entry = record.addresses.get(address).copied().unwrap_or_default();
            let names = Entry::of(address);
            let attributes = [
                &names.used,
                &names.in_flight,
                &names.locked_until,
                &names.expires_at,
                &names.known_until,
            ];
            for (part, attribute) in attributes.into_iter().enumerate() {
                let placeholder = format!("#a{index}_{part}");
                expression.name(&placeholder, attribute);
                removed.push(placeholder);
            }
            expression.value(&format!(":e{index}"), n(entry.expires_at));
            conditions.push(format!(
                "#a{index}_3 = :e{index} AND #a{index}_1 = :zero \
                 AND (attribute_not_exists(#a{index}_4) OR #a{index}_4 <= :now)"
            ));
        }
        let update = self
            .update_login(pk)
            .update_expression(format!("REMOVE {} DELETE #as :idle", removed.join(", ")))
            .condition_expression(conditions.join(" AND "));
        updated(expression.apply(update).send().await).map(drop)
    }

    /// Settles an admitted attempt; returns the username's consecutive failures after it.
    /// Counts move by `SET x = x - 1` (every right-hand side reads the item as it was before
    /// the update), so one expression can clear the failures and end the attempt together.
    pub(super) async fn settle_attempt(&self, settlement: &Settlement) -> Result<u32, StoreError> {
        let ticket = settlement.ticket;
        let address = settlement
            .keys
            .address
            .as_deref()
            .filter(|_| ticket.tracked);
        let mut expression = Expression::default();
        expression
            .value(":one", n(1))
            .value(":zero", n(0))
            .value(":record_expires", n(settlement.record_expires_at));
        let mut set = vec!["expires_at = :record_expires", "ui = ui - :one"];
        let mut condition = "ui > :zero".to_owned();
        if let Some(address) = address {
            expression.entry(&Entry::of(address));
            set.push("#i = #i - :one");
            condition.push_str(" AND #i > :zero");
        }
        match settlement.outcome {
            Outcome::Failed {
                locked_until,
                address_expires_at,
                username_locked_until,
            } => {
                if address.is_some() {
                    expression.value(":address_expires", n(address_expires_at));
                    set.push("#e = :address_expires");
                    if locked_until > 0 {
                        expression.value(":lock", n(locked_until));
                        set.push("#l = :lock");
                    }
                }
                if username_locked_until > 0 {
                    expression.value(":username_lock", n(username_locked_until));
                    set.push("ul = :username_lock");
                }
            }
            Outcome::Succeeded {
                known_until,
                address_expires_at,
            } => {
                set.extend(["ub = ui - :one", "ul = :zero"]);
                if address.is_some() {
                    expression
                        .value(":known", n(known_until))
                        .value(":address_expires", n(address_expires_at));
                    set.extend([
                        "#b = #i - :one",
                        "#l = :zero",
                        "#k = :known",
                        "#e = :address_expires",
                    ]);
                }
            }
            Outcome::Unchecked => {
                set.push("ub = ub - :one");
                if address.is_some() {
                    set.push("#b = #b - :one");
                }
            }
        }
        // Only the names and values this expression uses may be declared.
        let text = format!("SET {}", set.join(", "));
        let used = format!("{text} {condition}");
        expression
            .names
            .retain(|placeholder, _| used.contains(placeholder.as_str()));
        expression
            .values
            .retain(|placeholder, _| used.contains(placeholder.as_str()));
        let update = self
            .update_login(&record_key(&settlement.keys))
            .update_expression(text)
            .condition_expression(condition)
            .return_values(ReturnValue::AllNew);
        // Refused: the attempt is no longer counted in flight (given back as a request that
        // died); nothing changes.
        let item = match updated(expression.apply(update).send().await)? {
            Updated::Done(item) | Updated::Refused(item) => item,
        };
        Ok(record_from(&item)?.failures())
    }

    pub(super) async fn note_refused(
        &self,
        keys: &AttemptKeys,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        let update = self
            .update_login(&record_key(keys))
            .update_expression("ADD rf :one")
            .condition_expression("attribute_exists(pk) AND expires_at > :now")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now));
        updated(update.send().await).map(drop)
    }

    fn update_login(&self, pk: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.tables.tokens)
            .key(PK, s(pk))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    }
}

/// `pause` give or take half, so waiting attempts do not look all at once.
fn jittered(pause: Duration) -> Duration {
    let random = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    let half = pause / 2;
    let spread = u64::try_from(pause.as_micros()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_micros(random % spread)
}

fn updated<R: std::fmt::Debug>(
    outcome: Result<UpdateItemOutput, SdkError<UpdateItemError, R>>,
) -> Result<Updated, StoreError> {
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

/// The rules' view of an item (an empty one: no record).
fn record_from(item: &Item) -> Result<LoginRecord, StoreError> {
    if item.is_empty() {
        return Ok(LoginRecord::default());
    }
    let addresses = match item.get(ADDRESSES) {
        Some(AttributeValue::Ss(addresses)) => addresses.clone(),
        _ => Vec::new(),
    };
    let mut record = LoginRecord {
        used: count(item, "ub")?,
        in_flight: count(item, "ui")?,
        hold_until: optional(item, "uh")?,
        locked_until: optional(item, "ul")?,
        refused: optional(item, "rf")?,
        expires_at: attempt_number(item, TTL_ATTRIBUTE)?,
        addresses: Default::default(),
    };
    for address in addresses {
        let names = Entry::of(&address);
        let entry = AddressRecord {
            used: count(item, &names.used)?,
            in_flight: count(item, &names.in_flight)?,
            locked_until: optional(item, &names.locked_until)?,
            expires_at: optional(item, &names.expires_at)?,
            known_until: optional(item, &names.known_until)?,
        };
        record.addresses.insert(address, entry);
    }
    Ok(record)
}

/// The ticket of an attempt the item, just written, admitted.
fn ticket_from(item: &Item, address: Option<&str>, now: UnixSeconds) -> Result<Ticket, StoreError> {
    let entry = address.map(Entry::of);
    Ok(Ticket {
        number: match &entry {
            Some(entry) => count(item, &entry.used)?,
            None => 0,
        },
        username_number: count(item, "ub")?,
        tracked: entry.is_some(),
        known_source: match &entry {
            Some(entry) => optional(item, &entry.known_until)? > now,
            None => false,
        },
    })
}

/// A number of an attempt item. One missing or malformed reads as an unavailable store (503)
/// rather than a broken item (500): a lockout that cannot be read fails safe, and a burst must
/// not answer 500.
fn attempt_number(item: &Item, name: &str) -> Result<u64, StoreError> {
    number(item, name).map_err(|error| {
        StoreError::Unavailable(format!("a password attempt record is unreadable: {error}").into())
    })
}

/// A number that a record may not have yet (0 then).
fn optional(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.contains_key(name) {
        true => attempt_number(item, name),
        false => Ok(0),
    }
}

fn count(item: &Item, name: &str) -> Result<u32, StoreError> {
    Ok(u32::try_from(optional(item, name)?).unwrap_or(u32::MAX))
}
