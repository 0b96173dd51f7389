//! Moving a django-oauth-toolkit deployment's clients and users here without resetting a secret
//! or a password, from what `python manage.py dumpdata oauth2_provider.application auth.user`
//! writes: a JSON list of `{"model", "pk", "fields"}` objects.
//!
//! Django PBKDF2-SHA256 hashes are stored as they are: the verifier checks them as Django does,
//! and the first successful use replaces each with Argon2id. Plaintext client secrets
//! (django-oauth-toolkit before 2.0, or `hash_client_secret=False`) are hashed with Argon2id here,
//! so nothing is stored in plaintext. What this service cannot serve is skipped with its reason,
//! and records that exist already are left as they are, so importing again is safe.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::credentials::CredentialVerifier;
use crate::domain::credentials::django::{self as django_hash, DjangoPbkdf2Sha256, PBKDF2_SHA256};
use crate::domain::names::{check_client_id, check_client_name, check_username};
use crate::domain::store::{Store, StoreError};
use crate::domain::{Client, GrantType, Scope, Secret, User};

/// django-oauth-toolkit's application model, as dumpdata labels it.
pub const APPLICATION_MODEL: &str = "oauth2_provider.application";
/// Django's own user model.
pub const USER_MODEL: &str = "auth.user";
/// Its `USERNAME_FIELD`.
pub const USERNAME_FIELD: &str = "username";

/// How Django's `set_unusable_password` marks a password that nothing matches.
const UNUSABLE_PASSWORD_PREFIX: char = '!';

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

/// The export as a whole cannot be read; nothing was written. Messages never quote its content.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the export is not JSON ({0})")]
    NotJson(#[source] serde_json::Error),
    #[error("the export is not a JSON list of objects, as `manage.py dumpdata` writes")]
    NotAList,
    #[error(
        "object {0} of the export (counting from 0) has no \"model\" string and \"fields\" object"
    )]
    NotAModelObject(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
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
    pub outcome: Outcome,
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
    fn add(&mut self, outcome: Outcome) {
        let count = match outcome {
            Outcome::Imported => &mut self.imported,
            Outcome::Skipped => &mut self.skipped,
            Outcome::Failed => &mut self.failed,
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

/// One object of a dumpdata export.
struct ModelObject {
    /// In lower case, as labels are compared.
    model: String,
    pk: Option<Value>,
    fields: Map<String, Value>,
}

fn model_objects(export: &str) -> Result<Vec<ModelObject>, ExportError> {
    let Value::Array(objects) =
        serde_json::from_str::<Value>(export).map_err(ExportError::NotJson)?
    else {
        return Err(ExportError::NotAList);
    };
    objects
        .into_iter()
        .enumerate()
        .map(|(index, object)| {
            let Value::Object(mut object) = object else {
                return Err(ExportError::NotAModelObject(index));
            };
            match (object.remove("model"), object.remove("fields")) {
                (Some(Value::String(model)), Some(Value::Object(fields))) => Ok(ModelObject {
                    model: model.to_ascii_lowercase(),
                    pk: object.remove("pk"),
                    fields,
                }),
                _ => Err(ExportError::NotAModelObject(index)),
            }
        })
        .collect()
}

/// Why a record is not imported.
enum Refusal {
    Skip(String),
    Fail(String),
}

fn skip(reason: impl Into<String>) -> Refusal {
    Refusal::Skip(reason.into())
}

impl ItemReport {
    fn of(object: &ModelObject) -> Self {
        Self {
            model: object.model.clone(),
            pk: object.pk.clone(),
            client_id: None,
            username: None,
            outcome: Outcome::Skipped,
            reason: None,
            grant_types: None,
            kept_as: None,
        }
    }

    fn refused(mut self, refusal: Refusal) -> Self {
        let (outcome, reason) = match refusal {
            Refusal::Skip(reason) => (Outcome::Skipped, reason),
            Refusal::Fail(reason) => (Outcome::Failed, reason),
        };
        self.outcome = outcome;
        self.reason = Some(reason);
        self
    }

    /// The outcome of creating the record.
    fn created(self, created: Result<(), StoreError>) -> Self {
        match created {
            Ok(()) => Self {
                outcome: Outcome::Imported,
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

async fn import_application<S: Store>(
    store: &S,
    verifier: &CredentialVerifier,
    object: ModelObject,
    options: &ImportOptions,
) -> ItemReport {
    let mut item = ItemReport::of(&object);
    item.client_id = string_field(&object.fields, "client_id").map(str::to_owned);
    let (client, kept_as) = match application_client(&object.fields, options, verifier) {
        Ok(client) => client,
        Err(refusal) => return item.refused(refusal),
    };
    item.grant_types = Some(client.grant_types.iter().map(|g| g.as_str()).collect());
    item.kept_as = Some(kept_as);
    item.created(store.create_client(&client).await)
}

/// The client a django-oauth-toolkit application becomes, if this service can serve it.
fn application_client(
    fields: &Map<String, Value>,
    options: &ImportOptions,
    verifier: &CredentialVerifier,
) -> Result<(Client, KeptAs), Refusal> {
    let client_id = string_field(fields, "client_id").ok_or_else(|| skip("no client_id"))?;
    check_client_id(client_id).map_err(|error| skip(format!("client_id {error}")))?;
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
        None => client_id,
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
    let client = Client {
        client_id: client_id.to_owned(),
        name: name.to_owned(),
        secret_hash,
        scope: options.scope.clone(),
        grant_types,
    };
    Ok((client, kept_as))
}

async fn import_user<S: Store>(
    store: &S,
    object: ModelObject,
    options: &ImportOptions,
) -> ItemReport {
    let mut item = ItemReport::of(&object);
    item.username = string_field(&object.fields, &options.username_field).map(str::to_owned);
    let user = match django_user(&object.fields, options) {
        Ok(user) => user,
        Err(refusal) => return item.refused(refusal),
    };
    item.kept_as = Some(KeptAs::DjangoPbkdf2Sha256);
    item.created(store.create_user(&user).await)
}

/// The user a Django user becomes, if they can log in with a password this service verifies.
fn django_user(fields: &Map<String, Value>, options: &ImportOptions) -> Result<User, Refusal> {
    let field = &options.username_field;
    let username =
        string_field(fields, field).ok_or_else(|| skip(format!("no {field:?} string")))?;
    check_username(username).map_err(|error| skip(format!("username {error}")))?;
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
        username: username.to_owned(),
        password_hash: password.to_owned(),
    })
}

fn string_field<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::credentials::{Argon2Settings, Verification};
    use crate::store::MemoryStore;

    /// Made by Django 5.2: `PBKDF2PasswordHasher().encode("correct horse ünïcode ✓",
    /// "seasalt2024", 1000)`.
    const DJANGO_HASH: &str =
        "pbkdf2_sha256$1000$seasalt2024$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=";
    const DJANGO_SECRET: &str = "correct horse ünïcode ✓";
    const PLAIN_SECRET: &str = "Fq2cD9xT4mLw8ZpRk1vN6sYbH3jE0uAo";

    fn verifier() -> CredentialVerifier {
        CredentialVerifier::new(Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap_or_else(|error| panic!("{error}"))
    }

    fn options() -> ImportOptions {
        ImportOptions::new(Scope::parse("read write").unwrap_or_default())
    }

    fn application(pk: u64, client_id: &str, fields: Value) -> Value {
        let mut all = json!({
            "client_id": client_id,
            "user": null,
            "redirect_uris": "",
            "post_logout_redirect_uris": "",
            "client_type": "confidential",
            "authorization_grant_type": "password",
            "client_secret": DJANGO_HASH,
            "hash_client_secret": true,
            "name": format!("{client_id} app"),
            "skip_authorization": false,
            "created": "2025-01-01T00:00:00Z",
            "updated": "2025-01-01T00:00:00Z",
            "algorithm": "",
        });
        if let (Some(all), Value::Object(fields)) = (all.as_object_mut(), fields) {
            all.extend(fields);
        }
        json!({ "model": "oauth2_provider.application", "pk": pk, "fields": all })
    }

    fn user(pk: u64, username: &str, fields: Value) -> Value {
        let mut all = json!({
            "password": DJANGO_HASH,
            "last_login": null,
            "is_superuser": false,
            "username": username,
            "first_name": "",
            "last_name": "",
            "email": "",
            "is_staff": false,
            "is_active": true,
            "date_joined": "2025-01-01T00:00:00Z",
            "groups": [],
            "user_permissions": [],
        });
        if let (Some(all), Value::Object(fields)) = (all.as_object_mut(), fields) {
            all.extend(fields);
        }
        json!({ "model": "auth.user", "pk": pk, "fields": all })
    }

    fn export() -> String {
        json!([
            application(1, "hashed", json!({})),
            application(2, "plain", json!({ "client_secret": PLAIN_SECRET, "hash_client_secret": false, "name": "" })),
            application(3, "machine", json!({ "authorization_grant_type": "client-credentials" })),
            application(4, "web", json!({ "authorization_grant_type": "authorization-code" })),
            application(5, "spa", json!({ "client_type": "public" })),
            application(6, "sha1", json!({ "client_secret": "pbkdf2_sha1$1000$salt$upWEiptc4R8bQ9fRZ9hBPape0is=" })),
            application(7, "bad id", json!({})),
            application(8, "broken", json!({ "client_secret": "pbkdf2_sha256$0$salt$x" })),
            application(9, "empty", json!({ "client_secret": "" })),
            { "model": "auth.group", "pk": 1, "fields": { "name": "staff", "permissions": [] } },
            user(1, "alice", json!({})),
            user(2, "carol", json!({ "is_active": false })),
            user(3, "dave", json!({ "password": "!unusable0123456789" })),
            user(4, "erin", json!({ "password": "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuv" })),
            user(5, "frank", json!({ "password": "plaintext" })),
            user(6, " spaced", json!({})),
        ])
        .to_string()
    }

    async fn run(store: &MemoryStore, export: &str) -> ImportReport {
        import(store, &verifier(), export, &options())
            .await
            .unwrap_or_else(|error| panic!("{error}"))
    }

    fn item<'a>(report: &'a ImportReport, pk: u64, model: &str) -> &'a ItemReport {
        report
            .items
            .iter()
            .find(|item| item.pk == Some(json!(pk)) && item.model == model)
            .unwrap_or_else(|| panic!("no item {model} {pk} in {report:?}"))
    }

    fn reason(report: &ImportReport, pk: u64, model: &str) -> String {
        let item = item(report, pk, model);
        assert_eq!(item.outcome, Outcome::Skipped, "{item:?}");
        item.reason.clone().unwrap_or_default()
    }

    async fn client(store: &MemoryStore, client_id: &str) -> Option<Client> {
        store
            .client(client_id)
            .await
            .unwrap_or_else(|error| panic!("{error}"))
    }

    async fn stored_user(store: &MemoryStore, username: &str) -> Option<User> {
        store
            .password_grant_context("", username, 0)
            .await
            .unwrap_or_else(|error| panic!("{error}"))
            .user
    }

    const APP: &str = "oauth2_provider.application";
    const USER: &str = "auth.user";

    #[tokio::test]
    async fn imports_what_this_service_serves_and_says_why_it_skips_the_rest() {
        let store = MemoryStore::new();
        let report = run(&store, &export()).await;
        assert_eq!(
            report.clients,
            Counts {
                imported: 3,
                skipped: 6,
                failed: 0
            }
        );
        assert_eq!(
            report.users,
            Counts {
                imported: 1,
                skipped: 5,
                failed: 0
            }
        );
        assert_eq!(report.other_objects, 1);

        let hashed = client(&store, "hashed").await;
        assert_eq!(
            hashed.as_ref().map(|c| c.secret_hash.as_str()),
            Some(DJANGO_HASH)
        );
        assert_eq!(
            hashed.as_ref().map(|c| c.grant_types.clone()),
            Some(vec![GrantType::Password, GrantType::RefreshToken])
        );
        assert_eq!(
            hashed.map(|c| (c.name, c.scope.to_string())),
            Some(("hashed app".into(), "read write".into()))
        );
        assert_eq!(
            item(&report, 1, APP).kept_as,
            Some(KeptAs::DjangoPbkdf2Sha256)
        );
        let hashed = client(&store, "hashed")
            .await
            .unwrap_or_else(|| panic!("hashed was not imported"));
        assert!(matches!(
            verifier()
                .verify_client_secret(&hashed, &[DJANGO_SECRET.into()])
                .await,
            Ok(Verification::MatchedOutdated { .. })
        ));

        // The plaintext secret is hashed, and still works.
        let plain = client(&store, "plain")
            .await
            .unwrap_or_else(|| panic!("plain was not imported"));
        assert!(plain.secret_hash.starts_with("$argon2id$"), "{plain:?}");
        assert_eq!(
            plain.name, "plain",
            "a nameless application is named by its id"
        );
        assert_eq!(item(&report, 2, APP).kept_as, Some(KeptAs::Argon2id));
        assert_eq!(
            verifier()
                .verify_client_secret(&plain, &[PLAIN_SECRET.into()])
                .await
                .ok(),
            Some(Verification::Match)
        );

        assert_eq!(
            client(&store, "machine").await.map(|c| c.grant_types),
            Some(vec![GrantType::ClientCredentials])
        );
        assert_eq!(
            item(&report, 3, APP).grant_types,
            Some(vec!["client_credentials"])
        );

        assert!(reason(&report, 4, APP).contains("\"authorization-code\""));
        assert!(reason(&report, 5, APP).contains("public client"));
        assert!(reason(&report, 6, APP).contains("pbkdf2_sha1 hasher"));
        assert!(reason(&report, 7, APP).starts_with("client_id may contain only"));
        assert!(reason(&report, 8, APP).contains("malformed pbkdf2_sha256"));
        assert!(reason(&report, 9, APP).contains("no client_secret"));
        for skipped in ["web", "spa", "sha1", "bad id", "broken", "empty"] {
            assert_eq!(client(&store, skipped).await, None, "{skipped}");
        }

        assert_eq!(
            stored_user(&store, "alice").await.map(|u| u.password_hash),
            Some(DJANGO_HASH.to_owned())
        );
        assert_eq!(item(&report, 1, USER).username.as_deref(), Some("alice"));
        assert_eq!(reason(&report, 2, USER), "inactive user");
        assert!(reason(&report, 3, USER).contains("unusable password"));
        assert!(reason(&report, 4, USER).contains("bcrypt_sha256 hasher"));
        assert!(reason(&report, 5, USER).contains("not a Django password hash"));
        assert!(reason(&report, 6, USER).contains("whitespace"));
        for skipped in ["carol", "dave", "erin", "frank", " spaced"] {
            assert_eq!(stored_user(&store, skipped).await, None, "{skipped}");
        }
    }

    #[tokio::test]
    async fn importing_again_skips_everything_and_overwrites_nothing() {
        let store = MemoryStore::new();
        run(&store, &export()).await;
        // Meanwhile the hashes were upgraded on first use.
        for (client_id, expected) in [("hashed", DJANGO_HASH), ("machine", DJANGO_HASH)] {
            let replaced = store
                .replace_client_secret_hash(client_id, expected, "$argon2id$upgraded")
                .await;
            assert!(replaced.is_ok());
        }
        let replaced = store
            .replace_user_password_hash("alice", DJANGO_HASH, "$argon2id$upgraded")
            .await;
        assert!(replaced.is_ok());
        let plain_before = client(&store, "plain").await;

        let again = run(&store, &export()).await;
        assert_eq!(
            again.clients.imported + again.users.imported,
            0,
            "{again:?}"
        );
        assert_eq!((again.clients.skipped, again.users.skipped), (9, 6));
        assert!(reason(&again, 1, APP).contains("client hashed exists already"));
        assert!(reason(&again, 1, USER).contains("user alice exists already"));
        assert_eq!(item(&again, 1, APP).kept_as, None);
        assert_eq!(
            client(&store, "hashed").await.map(|c| c.secret_hash),
            Some("$argon2id$upgraded".to_owned())
        );
        assert_eq!(
            stored_user(&store, "alice").await.map(|u| u.password_hash),
            Some("$argon2id$upgraded".to_owned())
        );
        assert_eq!(client(&store, "plain").await, plain_before);
    }

    #[tokio::test]
    async fn the_report_never_shows_a_secret_or_a_hash() {
        let report = run(&MemoryStore::new(), &export()).await;
        let text = serde_json::to_string(&report).unwrap_or_default();
        for needle in [
            DJANGO_HASH,
            "5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4",
            "seasalt2024",
            PLAIN_SECRET,
            "upWEiptc4R8bQ9fRZ9hBPape0is",
            "unusable0123456789",
            "abcdefghijklmnopqrstuv",
            "plaintext",
            "$argon2",
        ] {
            assert!(!text.contains(needle), "{needle} in {text}");
        }
    }

    #[tokio::test]
    async fn an_unreadable_export_is_refused_before_anything_is_written() {
        let store = MemoryStore::new();
        let valid = application(1, "first", json!({}));
        for (export, expected) in [
            ("not json".to_owned(), "not JSON"),
            ("{}".to_owned(), "not a JSON list"),
            ("[1]".to_owned(), "object 0"),
            (
                json!([valid.clone(), { "model": "auth.user", "pk": 2 }]).to_string(),
                "object 1",
            ),
            (
                json!([valid.clone(), { "model": 3, "fields": {} }]).to_string(),
                "object 1",
            ),
        ] {
            let outcome = import(&store, &verifier(), &export, &options()).await;
            let message = outcome.err().map(|error| error.to_string());
            assert!(
                message.as_deref().is_some_and(|m| m.contains(expected)),
                "{export}: {message:?}"
            );
        }
        assert_eq!(client(&store, "first").await, None);
        assert_eq!(run(&store, "[]").await, ImportReport::default());
    }

    #[tokio::test]
    async fn swapped_models_and_username_fields_are_read_by_their_labels() {
        let store = MemoryStore::new();
        let export = json!([
            { "model": "accounts.User", "pk": 7, "fields": { "email": "zoe@example.com", "password": DJANGO_HASH } },
            { "model": "auth.user", "pk": 8, "fields": { "username": "ignored", "password": DJANGO_HASH } },
            { "model": "accounts.User", "pk": 9, "fields": { "username": "no-email", "password": DJANGO_HASH } },
        ])
        .to_string();
        let options = ImportOptions {
            user_model: "accounts.user".into(),
            username_field: "email".into(),
            ..options()
        };
        let report = import(&store, &verifier(), &export, &options)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(report.users.imported, 1);
        assert_eq!(report.other_objects, 1);
        assert!(reason(&report, 9, "accounts.user").contains("no \"email\" string"));
        assert!(stored_user(&store, "zoe@example.com").await.is_some());
        assert_eq!(stored_user(&store, "ignored").await, None);
    }
}
