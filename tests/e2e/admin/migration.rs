//! Migration from django-oauth-toolkit, end to end. Django and django-oauth-toolkit themselves
//! (from PyPI, in .venv) make the export: `tests/support/django_hashes.py` creates applications
//! and users through their models and runs `dumpdata`. The real `oauth-admin import` loads it into
//! DynamoDB (moto), and the real router serves the imported clients and users with their original
//! secrets and passwords, replacing each Django hash with Argon2id on its first successful use.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use support::fault_proxy::{Fault, FaultProxy, UPDATE_ITEM};
use support::skip::Tool;
use token_endpoint::domain::credentials::{CredentialVerifier, Verification};
use token_endpoint::domain::store::prelude::*;
use token_endpoint::domain::{Client, Secret, User};
use token_endpoint::store::DynamoStore;
use token_endpoint::store::dynamodb::TableNames;

use super::{admin, provisioned_tables, store, stored, token_request_to, token_request_to_tables};

/// What `django_hashes.py` prints.
#[derive(Debug, Deserialize)]
struct Fixture {
    django: String,
    oauth_toolkit: String,
    /// The text `manage.py dumpdata oauth2_provider.application auth.user --indent 2` wrote.
    dumpdata: String,
    applications: HashMap<String, Application>,
    passwords: HashMap<String, String>,
    vectors: Vec<Vector>,
}

#[derive(Debug, Deserialize)]
struct Application {
    client_id: String,
    /// In plaintext, as the client holds it.
    client_secret: String,
}

#[derive(Debug, Deserialize)]
struct Vector {
    password: String,
    encoded: String,
}

impl Fixture {
    fn app(&self, name: &str) -> &Application {
        self.applications
            .get(name)
            .unwrap_or_else(|| panic!("no application {name} in the fixture"))
    }

    fn password(&self, username: &str) -> &str {
        self.passwords
            .get(username)
            .unwrap_or_else(|| panic!("no password for {username} in the fixture"))
    }

    /// Every client secret and password hash in the export, and every plaintext.
    fn secrets(&self) -> Vec<String> {
        let objects: Vec<Value> =
            serde_json::from_str(&self.dumpdata).expect("the dumpdata is not JSON");
        let hashes = objects.iter().flat_map(|object| {
            ["client_secret", "password"]
                .into_iter()
                .filter_map(|field| object["fields"][field].as_str())
                .map(str::to_owned)
        });
        let plaintexts = self
            .applications
            .values()
            .map(|app| app.client_secret.clone())
            .chain(self.passwords.values().cloned());
        hashes.chain(plaintexts).collect()
    }
}

/// The fixture, made once per test binary (Django takes a couple of seconds to set up).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // The same interpreter as moto's.
        let python = support::test_python();
        let output = Command::new(&python)
            .arg(support::python_script("django_hashes.py"))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot run {}: {error}. Run `make test`, which installs Django into .venv",
                    python.display()
                )
            });
        assert!(
            output.status.success(),
            "django_hashes.py failed (is Django installed in .venv? `make dev-deps`): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("django_hashes.py printed no fixture")
    })
}

/// A file removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn with(contents: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "dot-export-{}-{}.json",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents)
            .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn stored_client(tables: &TableNames, client_id: &str) -> Option<Client> {
    store(tables)
        .client(&support::client_id_of(client_id))
        .await
        .expect("reading the store")
}

async fn stored_user(tables: &TableNames, username: &str) -> Option<User> {
    stored(tables, "", username).await.user
}

async fn secret_hash(tables: &TableNames, client_id: &str) -> String {
    stored_client(tables, client_id)
        .await
        .map(|client| client.secret_hash)
        .unwrap_or_else(|| panic!("client {client_id} is not stored"))
}

async fn password_hash(tables: &TableNames, username: &str) -> String {
    stored_user(tables, username)
        .await
        .map(|user| user.password_hash)
        .unwrap_or_else(|| panic!("user {username} is not stored"))
}

async fn password_grant(
    tables: &TableNames,
    app: &Application,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    token_request_to_tables(
        tables,
        (&app.client_id, &app.client_secret),
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

fn is_django(hash: &str, iterations: u32) -> bool {
    hash.starts_with(&format!("pbkdf2_sha256${iterations}$"))
}

fn is_argon2id(hash: &str) -> bool {
    hash.starts_with("$argon2id$v=19$")
}

/// The report's item for a client id or a username.
fn item<'a>(report: &'a Value, key: &str, value: &str) -> &'a Value {
    report["items"]
        .as_array()
        .and_then(|items| items.iter().find(|item| item[key] == value))
        .unwrap_or_else(|| panic!("no item with {key} {value} in {report}"))
}

fn skip_reason(report: &Value, key: &str, value: &str) -> String {
    let item = item(report, key, value);
    assert_eq!(item["outcome"], "skipped", "{item}");
    item["reason"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn verifies_hashes_made_by_django_as_django_does() -> Result<(), Box<dyn std::error::Error>> {
    if !support::skip::available(&[Tool::Moto]) {
        return Ok(());
    }
    let fixture = fixture();
    let verifier = CredentialVerifier::new(support::cheap_config().argon2)?;
    assert!(!fixture.vectors.is_empty());
    for vector in &fixture.vectors {
        let user = User {
            username: support::username_of("u"),
            password_hash: vector.encoded.clone(),
            created_at: 0,
        };
        let right = verifier
            .verify_password(Some(&user), &Secret::new(vector.password.as_str()))
            .await?;
        assert!(
            matches!(&right, Verification::MatchedOutdated { replacement } if is_argon2id(replacement)),
            "{vector:?}: {right:?}"
        );
        let wrong = format!("{}x", vector.password);
        assert_eq!(
            verifier
                .verify_password(Some(&user), &Secret::new(wrong))
                .await?,
            Verification::Mismatch,
            "{vector:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_django_oauth_toolkit_export_moves_over_and_upgrades_on_first_use() {
    support::require!(Moto);
    let fixture = fixture();
    let tables = provisioned_tables();
    let export = TempFile::with(&fixture.dumpdata);
    let run = admin(
        &tables,
        &["import", "--file", export.path(), "--scope", "read write"],
        None,
    );
    let report = run.json();
    let context = format!(
        "Django {}, django-oauth-toolkit {}: {report}",
        fixture.django, fixture.oauth_toolkit
    );
    assert_eq!(
        report["clients"],
        json!({ "imported": 3, "skipped": 3, "failed": 0 }),
        "{context}"
    );
    assert_eq!(
        report["users"],
        json!({ "imported": 2, "skipped": 3, "failed": 0 }),
        "{context}"
    );
    assert_eq!(report["other_objects"], 0);
    for secret in fixture.secrets() {
        assert!(
            !run.stdout.contains(&secret) && !run.stderr.contains(&secret),
            "a secret or hash was printed: {context}"
        );
    }

    // What was imported, and how it is kept.
    let (mobile, legacy, backend) = (
        fixture.app("mobile"),
        fixture.app("legacy"),
        fixture.app("backend"),
    );
    let imported = item(&report, "client_id", &mobile.client_id);
    assert_eq!(imported["outcome"], "imported");
    assert_eq!(imported["kept_as"], "django_pbkdf2_sha256");
    assert_eq!(
        imported["grant_types"],
        json!(["password", "refresh_token"])
    );
    assert_eq!(
        item(&report, "client_id", &legacy.client_id)["kept_as"],
        "argon2id"
    );
    assert_eq!(
        item(&report, "client_id", &backend.client_id)["grant_types"],
        json!(["client_credentials"])
    );
    assert!(is_django(
        &secret_hash(&tables, &mobile.client_id).await,
        1000
    ));
    assert!(is_argon2id(&secret_hash(&tables, &legacy.client_id).await));
    assert!(is_django(
        &secret_hash(&tables, &backend.client_id).await,
        1_000_000
    ));
    assert_eq!(
        stored_client(&tables, &mobile.client_id)
            .await
            .map(|c| (c.name, c.scope.to_string())),
        Some(("mobile".to_owned(), "read write".to_owned()))
    );
    let alice_django_hash = password_hash(&tables, "alice").await;
    assert!(is_django(&alice_django_hash, 1000));
    assert!(is_django(&password_hash(&tables, "bob").await, 1_000_000));

    // What was skipped, and why.
    assert!(
        skip_reason(&report, "client_id", &fixture.app("web").client_id)
            .contains("\"authorization-code\"")
    );
    assert!(skip_reason(&report, "client_id", &fixture.app("spa").client_id).contains("public"));
    assert!(
        skip_reason(&report, "client_id", &fixture.app("sha1").client_id)
            .contains("pbkdf2_sha1 hasher")
    );
    assert_eq!(skip_reason(&report, "username", "carol"), "inactive user");
    assert!(skip_reason(&report, "username", "dave").contains("unusable password"));
    assert!(skip_reason(&report, "username", "erin").contains("pbkdf2_sha1 hasher"));
    for skipped in ["web", "spa", "sha1"] {
        assert_eq!(
            stored_client(&tables, &fixture.app(skipped).client_id).await,
            None
        );
    }
    for skipped in ["carol", "dave", "erin"] {
        assert_eq!(stored_user(&tables, skipped).await, None, "{skipped}");
    }

    // A wrong password is refused and upgrades nothing of the user's; the client's secret was
    // right, so the client's hash is replaced.
    let (status, body) = password_grant(&tables, mobile, "alice", "not her password").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(password_hash(&tables, "alice").await, alice_django_hash);
    let mobile_upgraded = secret_hash(&tables, &mobile.client_id).await;
    assert!(is_argon2id(&mobile_upgraded), "{mobile_upgraded}");

    // The original password, through the original (Django-hashed) client secret.
    let (status, body) = password_grant(&tables, mobile, "alice", fixture.password("alice")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
    assert_eq!(body["scope"], "read write");
    let alice_upgraded = password_hash(&tables, "alice").await;
    assert!(is_argon2id(&alice_upgraded), "{alice_upgraded}");

    // From now on both verify as Argon2id, and nothing changes them again.
    let (status, body) = password_grant(&tables, mobile, "alice", fixture.password("alice")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(password_hash(&tables, "alice").await, alice_upgraded);
    assert_eq!(
        secret_hash(&tables, &mobile.client_id).await,
        mobile_upgraded
    );
    let wrong_secret = Application {
        client_id: mobile.client_id.clone(),
        client_secret: format!("{}x", mobile.client_secret),
    };
    let (status, body) =
        password_grant(&tables, &wrong_secret, "alice", fixture.password("alice")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );

    // Through a client whose plaintext secret was hashed on import; and a user whose hash has
    // Django's default cost, verified at that cost.
    let (status, body) = password_grant(&tables, legacy, "alice", fixture.password("alice")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = password_grant(&tables, legacy, "bob", fixture.password("bob")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(is_argon2id(&password_hash(&tables, "bob").await));

    // A client credentials client whose secret has Django's default cost.
    let (status, body) = token_request_to_tables(
        &tables,
        (&backend.client_id, &backend.client_secret),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string() && body.get("refresh_token").is_none());
    assert!(is_argon2id(&secret_hash(&tables, &backend.client_id).await));

    // Importing again skips everything and overwrites none of the upgraded hashes.
    let again = admin(
        &tables,
        &["import", "--file", export.path(), "--scope", "read write"],
        None,
    )
    .json();
    assert_eq!(
        again["clients"],
        json!({ "imported": 0, "skipped": 6, "failed": 0 })
    );
    assert_eq!(
        again["users"],
        json!({ "imported": 0, "skipped": 5, "failed": 0 })
    );
    assert!(skip_reason(&again, "username", "alice").contains("exists already"));
    assert!(skip_reason(&again, "client_id", &mobile.client_id).contains("exists already"));
    assert_eq!(password_hash(&tables, "alice").await, alice_upgraded);
    assert_eq!(
        secret_hash(&tables, &mobile.client_id).await,
        mobile_upgraded
    );
    assert!(is_argon2id(&password_hash(&tables, "bob").await));
    assert!(is_argon2id(&secret_hash(&tables, &backend.client_id).await));
    let (status, body) = password_grant(&tables, legacy, "bob", fixture.password("bob")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_unreadable_export_or_bad_arguments_write_nothing() {
    support::require!(Moto);
    let fixture = fixture();
    let tables = provisioned_tables();
    let mobile = fixture.app("mobile");

    // A valid export with one broken object after the applications: refused whole.
    let mut objects: Vec<Value> =
        serde_json::from_str(&fixture.dumpdata).expect("the dumpdata is not JSON");
    objects.push(json!({ "model": "auth.user", "pk": 99 }));
    let broken = TempFile::with(&Value::Array(objects).to_string());
    admin(
        &tables,
        &["import", "--file", broken.path(), "--scope", "read"],
        None,
    )
    .fails(2, "has no \"model\" string and \"fields\" object");
    admin(
        &tables,
        &["import", "--file", "-", "--scope", "read"],
        Some("not json"),
    )
    .fails(2, "the export is not JSON");

    let export = TempFile::with(&fixture.dumpdata);
    admin(&tables, &["import", "--file", export.path()], None).fails(2, "--scope");
    admin(
        &tables,
        &["import", "--file", export.path(), "--scope", " "],
        None,
    )
    .fails(2, "--scope must name at least one scope");
    let missing = Path::new(export.path()).with_extension("missing");
    admin(
        &tables,
        &[
            "import",
            "--file",
            &missing.to_string_lossy(),
            "--scope",
            "read",
        ],
        None,
    )
    .fails(2, "cannot read it");
    assert_eq!(stored_client(&tables, &mobile.client_id).await, None);
    assert_eq!(stored_user(&tables, "alice").await, None);

    // The help documents the recipe.
    let help = admin(&tables, &["import", "--help"], None);
    assert_eq!(help.code, Some(0), "{}", help.stderr);
    assert!(
        help.stdout
            .contains("python manage.py dumpdata oauth2_provider.application auth.user"),
        "{}",
        help.stdout
    );
}

#[tokio::test]
async fn an_export_from_standard_input_imports_the_same() {
    support::require!(Moto);
    let fixture = fixture();
    let tables = provisioned_tables();
    // Only the users, so no Django verification is needed here.
    let users: Vec<Value> = serde_json::from_str::<Vec<Value>>(&fixture.dumpdata)
        .expect("the dumpdata is not JSON")
        .into_iter()
        .filter(|object| object["model"] == "auth.user")
        .collect();
    let report = admin(
        &tables,
        &["import", "--file", "-", "--scope", "read"],
        Some(&Value::Array(users).to_string()),
    )
    .json();
    assert_eq!(report["users"]["imported"], 2, "{report}");
    assert_eq!(report["clients"]["imported"], 0, "{report}");
    assert!(is_django(&password_hash(&tables, "alice").await, 1000));
}

/// Where the store refuses the upgrade (here as IAM would, `AccessDeniedException` on
/// `UpdateItem`), the grant still succeeds and the Django hash keeps working; a later successful
/// use upgrades it.
#[tokio::test]
async fn a_refused_upgrade_still_grants_and_a_later_use_upgrades() {
    support::require!(Moto);
    let fixture = fixture();
    let tables = provisioned_tables();
    let export = TempFile::with(&fixture.dumpdata);
    admin(
        &tables,
        &["import", "--file", export.path(), "--scope", "read"],
        None,
    )
    .json();
    let proxy = FaultProxy::start(support::moto_endpoint()).await;
    let config = support::dynamodb_config(proxy.endpoint())
        .retry_config(token_endpoint::aws::dynamodb_retry_config())
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), tables.clone());
    let service = support::service(store, &support::cheap_config());
    // Its secret was plaintext in the export, so only the user's hash is Django's.
    let legacy = fixture.app("legacy");
    let credentials = (legacy.client_id.as_str(), legacy.client_secret.as_str());
    let login = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", fixture.password("alice")),
    ];
    let django_hash = password_hash(&tables, "alice").await;
    assert!(is_django(&django_hash, 1000));

    // The upgrade's write to the credentials table fails; the grant's own writes (its attempt
    // counting, its login's registration on the user) go through.
    proxy.fail_always_containing(
        UPDATE_ITEM,
        "password_hash",
        Fault::Throttle("AccessDeniedException"),
    );
    let (status, body) = token_request_to(&service, credentials, &login).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(proxy.seen(UPDATE_ITEM) >= 1, "the upgrade was attempted");
    assert_eq!(password_hash(&tables, "alice").await, django_hash);

    proxy.pass();
    let (status, body) = token_request_to(&service, credentials, &login).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(is_argon2id(&password_hash(&tables, "alice").await));
}
