//! Moving a django-oauth-toolkit deployment's clients and users here without resetting a secret
//! or a password, from what `python manage.py dumpdata oauth2_provider.application auth.user`
//! writes: a JSON list of `{"model", "pk", "fields"}` objects.
//!
//! Django PBKDF2-SHA256 hashes are stored as they are: the verifier checks them as Django does,
//! and the first successful use replaces each with Argon2id. Plaintext client secrets
//! (django-oauth-toolkit before 2.0, or `hash_client_secret=False`) are hashed with Argon2id here,
//! so nothing is stored in plaintext. What this service cannot serve is skipped with its reason,
//! and records that exist already are left as they are, so importing again is safe.
//!
//! This file applies the export through the [`Store`] port; `dumpdata.rs` reads the file,
//! `django.rs` decides what each record becomes, and `report.rs` says what became of it.

mod django;
mod dumpdata;
mod report;
#[cfg(test)]
mod tests;

pub use dumpdata::ExportError;
pub use report::{Counts, ImportOutcome, ImportReport, ItemReport, KeptAs};

use crate::domain::Scope;
use crate::domain::credentials::CredentialVerifier;
use crate::domain::store::Store;
use dumpdata::{ModelObject, model_objects, string_field};

/// django-oauth-toolkit's application model, as dumpdata labels it.
pub const APPLICATION_MODEL: &str = "oauth2_provider.application";
/// Django's own user model.
pub const USER_MODEL: &str = "auth.user";
/// Its `USERNAME_FIELD`.
pub const USERNAME_FIELD: &str = "username";

/// What to import, and how the export names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// The scope of every imported client: django-oauth-toolkit applications have none of their
    /// own (its `SCOPES` setting applies to all of them).
    pub scope: Scope,
    /// The application model's label (`OAUTH2_PROVIDER_APPLICATION_MODEL`), in lower case as
    /// dumpdata writes it.
    pub application_model: String,
    /// The user model's label (`AUTH_USER_MODEL`), in lower case.
    pub user_model: String,
    /// The user model's `USERNAME_FIELD`.
    pub username_field: String,
}

impl ImportOptions {
    /// django-oauth-toolkit's and Django's own models.
    pub fn new(scope: Scope) -> Self {
        Self {
            scope,
            application_model: APPLICATION_MODEL.into(),
            user_model: USER_MODEL.into(),
            username_field: USERNAME_FIELD.into(),
        }
    }
}

/// Imports the applications and users of a dumpdata export into `store`. The whole export is
/// read before anything is written, so an unreadable one changes nothing.
pub async fn import<S: Store>(
    store: &S,
    verifier: &CredentialVerifier,
    export: &str,
    options: &ImportOptions,
) -> Result<ImportReport, ExportError> {
    let objects = model_objects(export)?;
    let mut report = ImportReport::default();
    for object in objects {
        if object.model == options.application_model {
            let item = import_application(store, verifier, object, options).await;
            report.clients.add(item.outcome);
            report.items.push(item);
        } else if object.model == options.user_model {
            let item = import_user(store, object, options).await;
            report.users.add(item.outcome);
            report.items.push(item);
        } else {
            report.other_objects += 1;
        }
    }
    Ok(report)
}

async fn import_application<S: Store>(
    store: &S,
    verifier: &CredentialVerifier,
    object: ModelObject,
    options: &ImportOptions,
) -> ItemReport {
    let mut item = ItemReport::of(&object);
    item.client_id = string_field(&object.fields, "client_id").map(str::to_owned);
    let (client, kept_as) = match django::application_client(&object.fields, options, verifier) {
        Ok(client) => client,
        Err(refusal) => return item.refused(refusal),
    };
    item.grant_types = Some(client.grant_types.iter().map(|g| g.as_str()).collect());
    item.kept_as = Some(kept_as);
    item.created(store.create_client(&client).await)
}

async fn import_user<S: Store>(
    store: &S,
    object: ModelObject,
    options: &ImportOptions,
) -> ItemReport {
    let mut item = ItemReport::of(&object);
    item.username = string_field(&object.fields, &options.username_field).map(str::to_owned);
    let user = match django::django_user(&object.fields, options) {
        Ok(user) => user,
        Err(refusal) => return item.refused(refusal),
    };
    item.kept_as = Some(KeptAs::DjangoPbkdf2Sha256);
    item.created(store.create_user(&user).await)
}
