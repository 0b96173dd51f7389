//! What an import did, record by record: the result `oauth-admin import` prints. Never holds a
//! secret or a hash.

use serde::Serialize;
use serde_json::Value;

use super::dumpdata::ModelObject;
use crate::domain::store::StoreError;

/// What an import did with one exported record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportOutcome {
    Imported,
    /// Not imported, for the reason given: this service cannot serve it, or it exists already.
    Skipped,
    /// Not imported because the store or the hashing failed; importing again retries it.
    Failed,
}

/// How an imported secret or password is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeptAs {
    /// Django's hash, as it was, until its first successful use replaces it with Argon2id.
    DjangoPbkdf2Sha256,
    /// A plaintext client secret, hashed with Argon2id on import.
    Argon2id,
}

/// What became of one record of the export. Never holds a secret or a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemReport {
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pk: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub outcome: ImportOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_as: Option<KeptAs>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub imported: usize,
    pub skipped: usize,
    pub failed: usize,
}

impl Counts {
    pub(super) fn add(&mut self, outcome: ImportOutcome) {
        let count = match outcome {
            ImportOutcome::Imported => &mut self.imported,
            ImportOutcome::Skipped => &mut self.skipped,
            ImportOutcome::Failed => &mut self.failed,
        };
        *count += 1;
    }
}

/// What an import did, record by record in the export's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub clients: Counts,
    pub users: Counts,
    /// Objects of other models in the export, which are not read.
    pub other_objects: usize,
    pub items: Vec<ItemReport>,
}

impl ImportReport {
    pub fn failed(&self) -> usize {
        self.clients.failed + self.users.failed
    }
}

/// Why a record is not imported.
pub(super) enum Refusal {
    Skip(String),
    Fail(String),
}

pub(super) fn skip(reason: impl Into<String>) -> Refusal {
    Refusal::Skip(reason.into())
}

impl ItemReport {
    /// The report on `object` before anything is decided about it.
    pub(super) fn of(object: &ModelObject) -> Self {
        Self {
            model: object.model.clone(),
            pk: object.pk.clone(),
            client_id: None,
            username: None,
            outcome: ImportOutcome::Skipped,
            reason: None,
            grant_types: None,
            kept_as: None,
        }
    }

    pub(super) fn refused(mut self, refusal: Refusal) -> Self {
        let (outcome, reason) = match refusal {
            Refusal::Skip(reason) => (ImportOutcome::Skipped, reason),
            Refusal::Fail(reason) => (ImportOutcome::Failed, reason),
        };
        self.outcome = outcome;
        self.reason = Some(reason);
        self
    }

    /// The outcome of creating the record.
    pub(super) fn created(self, created: Result<(), StoreError>) -> Self {
        match created {
            Ok(()) => Self {
                outcome: ImportOutcome::Imported,
                ..self
            },
            Err(StoreError::AlreadyExists(what)) => Self {
                grant_types: None,
                kept_as: None,
                ..self
            }
            .refused(skip(format!("{what} exists already; left as it is"))),
            Err(error) => Self {
                grant_types: None,
                kept_as: None,
                ..self
            }
            .refused(Refusal::Fail(error.to_string())),
        }
    }
}
