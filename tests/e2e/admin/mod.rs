//! Black-box tests of `oauth-admin`: the real binary against a real (moto) DynamoDB, checked
//! through the store and through the real router's password grant. Here the account commands
//! (tables, clients, users) and the binary's refusals; the token commands in [`tokens`], the
//! import from django-oauth-toolkit in [`migration`], showing, listing and updating clients
//! and users and `--revoke-tokens` in [`operators`], the JWT signing keys in [`signing_keys`].

mod key_clients;
mod migration;
mod operators;
mod signing_keys;
mod tokens;

use std::io::Write as _;
use std::process::{Child, Output, Stdio};

use axum::http::StatusCode;
use serde_json::Value;
use support::http::{Auth, form, token_request};
use support::process::{clean_command, dynamodb_env};
use token_endpoint::domain::TokenService;
use token_endpoint::domain::store::PasswordGrantContext;
use token_endpoint::domain::store::prelude::*;
use token_endpoint::store::DynamoStore;
use token_endpoint::store::dynamodb::{TTL_ATTRIBUTE, TableNames};

/// What one run of the binary did.
pub(crate) struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> Value {
        assert_eq!(
            self.code,
            Some(0),
            "expected success; stderr: {}",
            self.stderr
        );
        assert_eq!(
            self.stdout.lines().count(),
            1,
            "stdout should be one JSON line: {:?}",
            self.stdout
        );
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {:?}", self.stdout))
    }

    /// Asserts a failure with `code`, nothing on stdout, and `needle` in the error message.
    fn fails(&self, code: i32, needle: &str) {
        assert_eq!(
            self.code,
            Some(code),
            "exit status; stdout: {:?}, stderr: {:?}",
            self.stdout,
            self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "stdout must stay empty on failure: {:?}",
            self.stdout
        );
        assert!(
            self.stderr.contains(needle),
            "stderr should mention {needle:?}: {:?}",
            self.stderr
        );
    }
}

fn text(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {value}"))
        .to_owned()
}

/// Runs `oauth-admin` with `args`, `stdin`, and a clean environment naming `tables` on the
/// DynamoDB (and KMS) at `endpoint`.
fn admin_with_env(tables: &TableNames, endpoint: &str, args: &[&str], stdin: Option<&str>) -> Run {
    finished(start_admin(tables, endpoint, args, stdin))
}

/// Starts `oauth-admin` as [`admin_with_env`] runs it, without waiting for it.
fn start_admin(tables: &TableNames, endpoint: &str, args: &[&str], stdin: Option<&str>) -> Child {
    let mut child = clean_command(env!("CARGO_BIN_EXE_oauth-admin"))
        .args(args)
        .envs(dynamodb_env(endpoint, tables))
        .env("ARGON2_MEMORY_KIB", "256")
        .env("ARGON2_ITERATIONS", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting oauth-admin");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // The binary may exit before reading (invalid arguments): a broken pipe is expected.
        let _ = pipe.write_all(input.as_bytes());
    }
    child
}

fn finished(child: Child) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("running oauth-admin");
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

pub(crate) fn admin(tables: &TableNames, args: &[&str], stdin: Option<&str>) -> Run {
    admin_with_env(tables, support::moto_endpoint(), args, stdin)
}

/// Fresh tables, created by `oauth-admin create-tables`.
fn provisioned_tables() -> TableNames {
    let tables = support::unique_tables();
    admin(&tables, &["create-tables"], None).json();
    tables
}

fn store(tables: &TableNames) -> DynamoStore {
    DynamoStore::new(support::dynamodb_client(), tables.clone())
}

async fn stored(tables: &TableNames, client_id: &str, username: &str) -> PasswordGrantContext {
    store(tables)
        .password_grant_context(
            &support::client_id_of(client_id),
            &support::username_of(username),
        )
        .await
        .expect("reading the store")
}

/// A token request with Basic client authentication (`client`: id and secret), through the
/// real router over the tables, with a fresh service (so no verification is remembered from an
/// earlier request); returns the status and the JSON body.
async fn token_request_to_tables(
    tables: &TableNames,
    client: (&str, &str),
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    let service = support::service(store(tables), &support::cheap_config());
    token_request_to(&service, client, fields).await
}

/// A token request with Basic client authentication through the real router over `service`.
async fn token_request_to(
    service: &std::sync::Arc<TokenService<DynamoStore>>,
    client: (&str, &str),
    fields: &[(&str, &str)],
) -> (StatusCode, Value) {
    let request = token_request(&form(fields), Auth::Basic(client.0, client.1));
    support::serve_json(service, request).await
}

/// A password grant through the real router over the tables.
async fn password_grant(
    tables: &TableNames,
    client_id: &str,
    client_secret: &str,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    let fields = [
        ("grant_type", "password"),
        ("username", username),
        ("password", password),
    ];
    token_request_to_tables(tables, (client_id, client_secret), &fields).await
}

async fn assert_grant_works(
    tables: &TableNames,
    client_id: &str,
    client_secret: &str,
    username: &str,
    password: &str,
) {
    let (status, body) = password_grant(tables, client_id, client_secret, username, password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string(), "{body}");
}

async fn assert_grant_fails(
    tables: &TableNames,
    credentials: (&str, &str, &str, &str),
    status: StatusCode,
    error: &str,
) {
    let (client_id, client_secret, username, password) = credentials;
    let (actual, body) = password_grant(tables, client_id, client_secret, username, password).await;
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
}

/// Creates a client with a generated id and secret; returns them.
fn create_client(tables: &TableNames) -> (String, String) {
    let app = create_app(tables, "read write", "password,refresh_token");
    (app.id, app.secret)
}

/// A client registered by `create-client`, with the secret it printed.
struct App {
    id: String,
    secret: String,
}

/// Creates a client with a generated id and secret, `scope` and `grant_types`.
fn create_app(tables: &TableNames, scope: &str, grant_types: &str) -> App {
    let created = admin(
        tables,
        &[
            "create-client",
            "--name",
            "Test app",
            "--scope",
            scope,
            "--grant-types",
            grant_types,
        ],
        None,
    )
    .json();
    App {
        id: text(&created, "client_id"),
        secret: text(&created, "client_secret"),
    }
}

fn create_user(tables: &TableNames, username: &str, password: &str) {
    let created = admin(
        tables,
        &["create-user", "--username", username, "--password-stdin"],
        Some(&format!("{password}\n")),
    )
    .json();
    assert_eq!(created, serde_json::json!({ "username": username }));
}

#[tokio::test]
async fn create_tables_is_idempotent_and_enables_ttl() {
    support::require!(Moto);
    let tables = support::unique_tables();
    let first = admin(&tables, &["create-tables"], None).json();
    assert_eq!(first["credentials_table"], tables.credentials.as_str());
    assert_eq!(first["tokens_table"], tables.tokens.as_str());
    // The KMS key and the first signing key, made once.
    assert!(first["kms_key_id"].is_string() && first["signing_key"].is_string());
    assert_eq!(admin(&tables, &["create-tables"], None).json(), first);
    let dynamodb = support::dynamodb_client();
    for table in [&tables.credentials, &tables.tokens] {
        dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap_or_else(|error| panic!("table {table} should exist: {error:?}"));
    }
    let ttl = dynamodb
        .describe_time_to_live()
        .table_name(&tables.tokens)
        .send()
        .await
        .expect("describe_time_to_live");
    let description = ttl.time_to_live_description().expect("no TTL description");
    assert_eq!(description.attribute_name(), Some(TTL_ATTRIBUTE));
    assert_eq!(description.attribute_name(), Some("expires_at"));
    assert_eq!(
        description
            .time_to_live_status()
            .map(|status| status.as_str()),
        Some("ENABLED")
    );
}

#[tokio::test]
async fn a_created_client_and_user_can_use_the_password_grant() {
    support::require!(Moto);
    let tables = provisioned_tables();
    let created = admin(
        &tables,
        &[
            "create-client",
            "--name",
            "Mobile app",
            "--scope",
            "read  write read",
            "--grant-types",
            "password, refresh_token,password",
        ],
        None,
    )
    .json();
    let client_id = text(&created, "client_id");
    let secret = text(&created, "client_secret");
    assert_eq!(client_id.len(), 20, "{created}");
    assert!(client_id.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(secret.len(), 40, "{created}");
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(created["name"], "Mobile app");
    assert_eq!(created["scope"], "read write");
    assert_eq!(
        created["grant_types"],
        serde_json::json!(["password", "refresh_token"])
    );

    // A Windows line ending is stripped too; inner spaces are part of the password.
    let password = "correct horse battery";
    let run = admin(
        &tables,
        &[
            "create-user",
            "--username",
            "alice@example.com",
            "--password-stdin",
        ],
        Some(&format!("{password}\r\nsecond line is ignored\n")),
    );
    assert_eq!(
        run.json(),
        serde_json::json!({ "username": "alice@example.com" })
    );
    assert!(!run.stdout.contains(password) && !run.stderr.contains(password));

    let context = stored(&tables, &client_id, "alice@example.com").await;
    let client = context.client.expect("client not stored");
    assert!(
        client.secret_hash.starts_with("$argon2id$"),
        "{}",
        client.secret_hash
    );
    assert!(!client.secret_hash.contains(&secret));
    let user = context.user.expect("user not stored");
    assert!(user.password_hash.starts_with("$argon2id$"));
    assert!(!user.password_hash.contains(password));

    assert_grant_works(&tables, &client_id, &secret, "alice@example.com", password).await;
    assert_grant_fails(
        &tables,
        (
            &client_id,
            &secret,
            "alice@example.com",
            "correct horse battery\r",
        ),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn an_imported_client_keeps_its_id_and_secret() {
    support::require!(Moto);
    let tables = provisioned_tables();
    let secret = "legacy-Secret.value~42";
    let run = admin(
        &tables,
        &[
            "create-client",
            "--client-id",
            "legacy.app_v1~x-y",
            "--client-secret-stdin",
            "--name",
            "Legacy app",
            "--scope",
            "read",
            "--grant-types",
            "password",
        ],
        Some(&format!("{secret}\n")),
    );
    let imported = run.json();
    assert_eq!(
        imported,
        serde_json::json!({
            "client_id": "legacy.app_v1~x-y",
            "name": "Legacy app",
            "scope": "read",
            "grant_types": ["password"],
            "token_format": "opaque",
            "access_token_lifetime": null,
        })
    );
    assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));

    create_user(&tables, "bob", "pw-bob");
    assert_grant_works(&tables, "legacy.app_v1~x-y", secret, "bob", "pw-bob").await;
    assert_grant_fails(
        &tables,
        (
            "legacy.app_v1~x-y",
            "legacy-Secret.value~4",
            "bob",
            "pw-bob",
        ),
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;

    // A chosen id without --client-secret-stdin gets a generated secret, shown once.
    let chosen = admin(
        &tables,
        &[
            "create-client",
            "--client-id",
            "chosen-id",
            "--name",
            "Chosen",
            "--scope",
            "read",
            "--grant-types",
            "password",
        ],
        None,
    )
    .json();
    assert_eq!(chosen["client_id"], "chosen-id");
    let chosen_secret = text(&chosen, "client_secret");
    assert_eq!(chosen_secret.len(), 40);
    assert_grant_works(&tables, "chosen-id", &chosen_secret, "bob", "pw-bob").await;
}

#[tokio::test]
async fn existing_clients_and_users_are_not_overwritten() {
    support::require!(Moto);
    let tables = provisioned_tables();
    let import = |secret: &str| {
        admin(
            &tables,
            &[
                "create-client",
                "--client-id",
                "taken",
                "--client-secret-stdin",
                "--name",
                "First",
                "--scope",
                "read",
                "--grant-types",
                "password",
            ],
            Some(secret),
        )
    };
    import("first-secret\n").json();
    create_user(&tables, "carol", "first-password");
    let before = stored(&tables, "taken", "carol").await;

    let again = import("second-secret\n");
    again.fails(1, "oauth-admin: client taken already exists");
    assert!(!again.stderr.contains("second-secret"));
    let again = admin(
        &tables,
        &["create-user", "--username", "carol", "--password-stdin"],
        Some("second-password\n"),
    );
    again.fails(1, "oauth-admin: user carol already exists");
    assert!(!again.stderr.contains("second-password"));

    assert_eq!(stored(&tables, "taken", "carol").await, before);
    assert_grant_works(&tables, "taken", "first-secret", "carol", "first-password").await;
}

#[tokio::test]
async fn set_password_replaces_the_password() {
    support::require!(Moto);
    let tables = provisioned_tables();
    let (client_id, secret) = create_client(&tables);
    create_user(&tables, "dave", "old-password");

    let run = admin(
        &tables,
        &["set-password", "--username", "dave", "--password-stdin"],
        Some("new-password\n"),
    );
    assert_eq!(run.json()["username"], "dave");
    assert!(!run.stdout.contains("new-password"));

    assert_grant_fails(
        &tables,
        (&client_id, &secret, "dave", "old-password"),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_grant_works(&tables, &client_id, &secret, "dave", "new-password").await;

    admin(
        &tables,
        &["set-password", "--username", "nobody", "--password-stdin"],
        Some("whatever\n"),
    )
    .fails(1, "oauth-admin: user nobody does not exist");
    assert!(stored(&tables, "x", "nobody").await.user.is_none());
}

#[tokio::test]
async fn rotate_client_secret_replaces_the_secret() {
    support::require!(Moto);
    let tables = provisioned_tables();
    let (client_id, old_secret) = create_client(&tables);
    create_user(&tables, "erin", "pw-erin");
    assert_grant_works(&tables, &client_id, &old_secret, "erin", "pw-erin").await;

    let rotated = admin(
        &tables,
        &["rotate-client-secret", "--client-id", &client_id],
        None,
    )
    .json();
    assert_eq!(rotated["client_id"], client_id.as_str());
    let new_secret = text(&rotated, "client_secret");
    assert_eq!(new_secret.len(), 40);
    assert_ne!(new_secret, old_secret);

    assert_grant_fails(
        &tables,
        (&client_id, &old_secret, "erin", "pw-erin"),
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    assert_grant_works(&tables, &client_id, &new_secret, "erin", "pw-erin").await;

    admin(
        &tables,
        &["rotate-client-secret", "--client-id", "missing-client"],
        None,
    )
    .fails(1, "oauth-admin: client missing-client does not exist");
    assert!(
        stored(&tables, "missing-client", "x")
            .await
            .client
            .is_none()
    );
}

#[tokio::test]
async fn deleted_users_and_clients_can_no_longer_get_tokens() {
    support::require!(Moto);
    let tables = provisioned_tables();
    let (client_id, secret) = create_client(&tables);
    create_user(&tables, "frank", "pw-frank");
    create_user(&tables, "grace", "pw-grace");
    assert_grant_works(&tables, &client_id, &secret, "frank", "pw-frank").await;

    let deleted = admin(&tables, &["delete-user", "--username", "frank"], None).json();
    assert_eq!(deleted["username"], "frank");
    assert_grant_fails(
        &tables,
        (&client_id, &secret, "frank", "pw-frank"),
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_grant_works(&tables, &client_id, &secret, "grace", "pw-grace").await;

    let deleted = admin(&tables, &["delete-client", "--client-id", &client_id], None).json();
    assert_eq!(deleted["client_id"], client_id.as_str());
    assert_grant_fails(
        &tables,
        (&client_id, &secret, "grace", "pw-grace"),
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;

    admin(&tables, &["delete-user", "--username", "frank"], None)
        .fails(1, "oauth-admin: user frank does not exist");
    admin(&tables, &["delete-client", "--client-id", &client_id], None).fails(
        1,
        &format!("oauth-admin: client {client_id} does not exist"),
    );
}

#[tokio::test]
async fn invalid_input_is_refused_and_nothing_is_written() {
    support::require!(Moto);
    let tables = provisioned_tables();
    let client = |client_id: &str, scope: &str, grant_types: &str| {
        vec![
            "create-client".to_owned(),
            "--client-id".to_owned(),
            client_id.to_owned(),
            "--name".to_owned(),
            "App".to_owned(),
            "--scope".to_owned(),
            scope.to_owned(),
            "--grant-types".to_owned(),
            grant_types.to_owned(),
        ]
    };
    let user = |command: &str, username: &str| {
        vec![
            command.to_owned(),
            "--username".to_owned(),
            username.to_owned(),
            "--password-stdin".to_owned(),
        ]
    };
    let long_id = "a".repeat(101);
    let long_name = "u".repeat(151);
    let cases: Vec<(Vec<String>, Option<&str>, &str)> = vec![
        (
            client("app-1", "read", "password,implicit"),
            None,
            "unknown grant type \"implicit\" (allowed: password, refresh_token, client_credentials)",
        ),
        (
            client("app-1", "read", "PASSWORD"),
            None,
            "unknown grant type",
        ),
        (client("app-1", "read", ""), None, "--grant-types"),
        (client("app-1", "read", "password,"), None, "empty entry"),
        (client("app-1", "", "password"), None, "--scope"),
        (client("app-1", "   ", "password"), None, "--scope"),
        (
            client("app-1", "read \"write\"", "password"),
            None,
            "--scope",
        ),
        (client("bad id", "read", "password"), None, "--client-id"),
        (client("bad/id", "read", "password"), None, "--client-id"),
        (client("bad:id", "read", "password"), None, "--client-id"),
        (client("ünicode", "read", "password"), None, "--client-id"),
        (
            client(&long_id, "read", "password"),
            None,
            "1 to 100 characters",
        ),
        (client("", "read", "password"), None, "--client-id"),
        (
            [
                client("app-1", "read", "password"),
                vec!["--client-secret-stdin".into()],
            ]
            .concat(),
            Some(""),
            "client secret on standard input is empty",
        ),
        (
            [
                client("app-1", "read", "password"),
                vec!["--client-secret-stdin".into()],
            ]
            .concat(),
            Some("\r\n"),
            "client secret on standard input is empty",
        ),
        (
            user("create-user", "user-1"),
            Some(""),
            "password on standard input is empty",
        ),
        (
            user("create-user", "user-1"),
            Some("\n"),
            "password on standard input is empty",
        ),
        (user("create-user", " user-1"), Some("pw\n"), "whitespace"),
        (user("create-user", "user-1\t"), Some("pw\n"), "--username"),
        (
            user("create-user", "user\u{7}1"),
            Some("pw\n"),
            "control characters",
        ),
        (user("create-user", ""), Some("pw\n"), "--username"),
        (
            user("create-user", &long_name),
            Some("pw\n"),
            "1 to 150 characters",
        ),
        (
            user("set-password", "user-1"),
            Some("\n"),
            "password on standard input is empty",
        ),
        (
            vec!["delete-client".into(), "--client-id".into(), "a b".into()],
            None,
            "--client-id",
        ),
        (
            vec!["delete-user".into(), "--username".into(), "user-1 ".into()],
            None,
            "whitespace",
        ),
    ];
    for (args, stdin, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = admin(&tables, &args, stdin);
        assert!(
            run.stderr.starts_with("oauth-admin: "),
            "{args:?}: {:?}",
            run.stderr
        );
        run.fails(2, needle);
    }
    // Names at the limits are fine.
    let at_limit = "u".repeat(150);
    create_user(&tables, &at_limit, "pw");
    let context = stored(&tables, "app-1", "user-1").await;
    assert!(context.client.is_none() && context.user.is_none());
    assert!(stored(&tables, "bad id", " user-1").await.user.is_none());

    // Usage errors are clap's, with its exit status 2.
    let usage: [&[&str]; 4] = [
        &["create-client", "--name", "App", "--scope", "read"],
        &[
            "create-client",
            "--name",
            "App",
            "--scope",
            "read",
            "--grant-types",
            "password",
            "--client-secret-stdin",
        ],
        &["create-user", "--username", "user-1"],
        &["create-user", "--username", "user-1", "--password", "pw"],
    ];
    for args in usage {
        let run = admin(&tables, args, Some("pw\n"));
        assert_eq!(run.code, Some(2), "{args:?}: {:?}", run.stderr);
        assert!(run.stdout.is_empty());
    }
    let context = stored(&tables, "app-1", "user-1").await;
    assert!(context.client.is_none() && context.user.is_none());
}

#[tokio::test]
async fn an_unreachable_store_or_bad_configuration_fails_with_status_1() {
    support::require!(Moto);
    let tables = support::unique_tables();
    // Nothing listens on port 1.
    admin_with_env(&tables, "http://127.0.0.1:1", &["create-tables"], None)
        .fails(1, "oauth-admin: the store is unavailable");
    // The tables do not exist.
    admin(&tables, &["delete-user", "--username", "someone"], None)
        .fails(1, "oauth-admin: the store is unavailable");

    let output = clean_command(env!("CARGO_BIN_EXE_oauth-admin"))
        .args(["delete-user", "--username", "someone"])
        .env("ARGON2_ITERATIONS", "0")
        .stdin(Stdio::null())
        .output()
        .expect("running oauth-admin");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("ARGON2_ITERATIONS"));
}

#[test]
fn every_command_has_help() {
    let tables = support::unique_tables();
    let commands: [(&str, &[&str]); 18] = [
        ("create-tables", &[]),
        (
            "create-client",
            &[
                "--name",
                "--scope",
                "--grant-types",
                "--client-id",
                "--client-secret-stdin",
            ],
        ),
        ("rotate-client-secret", &["--client-id", "--revoke-tokens"]),
        (
            "update-client",
            &[
                "--client-id",
                "--name",
                "--scope",
                "--grant-types",
                "--token-format",
                "--access-token-lifetime",
            ],
        ),
        ("show-client", &["--client-id"]),
        ("list-clients", &[]),
        ("delete-client", &["--client-id"]),
        ("create-user", &["--username", "--password-stdin"]),
        (
            "set-password",
            &["--username", "--password-stdin", "--revoke-tokens"],
        ),
        ("show-user", &["--username"]),
        ("list-users", &[]),
        ("delete-user", &["--username"]),
        ("list-tokens", &["--username", "--client-id"]),
        ("revoke-tokens", &["--username", "--client-id"]),
        ("revoke-family", &["--family-id"]),
        ("rotate-signing-key", &["--propagation-delay"]),
        ("revoke-signing-key", &["KID"]),
        ("list-signing-keys", &[]),
    ];
    let top = admin_with_env(&tables, "http://127.0.0.1:1", &["--help"], None);
    assert_eq!(top.code, Some(0));
    for (command, flags) in commands {
        assert!(top.stdout.contains(command), "{command}: {}", top.stdout);
        let help = admin_with_env(&tables, "http://127.0.0.1:1", &[command, "--help"], None);
        assert_eq!(help.code, Some(0), "{command}: {}", help.stderr);
        assert!(
            help.stdout.contains("Usage: oauth-admin"),
            "{}",
            help.stdout
        );
        for flag in flags {
            assert!(help.stdout.contains(flag), "{command} --help lacks {flag}");
        }
    }
    let version = admin_with_env(&tables, "http://127.0.0.1:1", &["--version"], None);
    assert_eq!(version.code, Some(0));
    assert!(
        version.stdout.starts_with("oauth-admin "),
        "{}",
        version.stdout
    );
}
