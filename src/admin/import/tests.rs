//! The import end to end over the in-memory store: what is imported, what is skipped and why,
//! and that importing again changes nothing.

use serde_json::{Value, json};

use super::*;
use crate::admin::CHEAP_ARGON2;
use crate::domain::credentials::{CredentialVerifier, Verification};
use crate::domain::names::{ClientId, Username};
use crate::domain::store::prelude::*;
use crate::domain::{Client, GrantType, Scope, User};
use crate::store::MemoryStore;

/// Made by Django 5.2: `PBKDF2PasswordHasher().encode("correct horse ünïcode ✓",
/// "seasalt2024", 1000)`.
const DJANGO_HASH: &str =
    "pbkdf2_sha256$1000$seasalt2024$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=";
const DJANGO_SECRET: &str = "correct horse ünïcode ✓";
const PLAIN_SECRET: &str = "Fq2cD9xT4mLw8ZpRk1vN6sYbH3jE0uAo";

fn verifier() -> CredentialVerifier {
    CredentialVerifier::new(CHEAP_ARGON2).unwrap_or_else(|error| panic!("{error}"))
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
    assert_eq!(item.outcome, ImportOutcome::Skipped, "{item:?}");
    item.reason.clone().unwrap_or_default()
}

async fn client(store: &MemoryStore, client_id: &str) -> Option<Client> {
    store
        // Looks up any name, malformed ones too: the import must not have stored them.
        .client(&ClientId::from_stored(client_id.to_owned()))
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}

async fn stored_user(store: &MemoryStore, username: &str) -> Option<User> {
    store
        .user(&Username::from_stored(username.to_owned()))
        .await
        .unwrap_or_else(|error| panic!("{error}"))
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
            .replace_client_secret_hash(
                &ClientId::parse(client_id).unwrap(),
                expected,
                "$argon2id$upgraded",
            )
            .await;
        assert!(replaced.is_ok());
    }
    let replaced = store
        .replace_user_password_hash(
            &Username::parse("alice").unwrap(),
            DJANGO_HASH,
            "$argon2id$upgraded",
        )
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

#[tokio::test]
async fn a_user_named_as_a_client_is_skipped_so_that_sub_names_one_of_them() {
    let store = MemoryStore::new();
    let export = json!([
        application(1, "shared", json!({})),
        user(2, "shared", json!({})),
    ])
    .to_string();
    let report = run(&store, &export).await;
    assert_eq!(item(&report, 1, APP).outcome, ImportOutcome::Imported);
    assert!(reason(&report, 2, USER).contains("a username may not be a client id"));
    assert_eq!(stored_user(&store, "shared").await, None);
}
