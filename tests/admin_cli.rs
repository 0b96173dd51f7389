//! Black-box tests of `oauth-admin`: the real binary against a real (moto) DynamoDB, checked
//! through the store and through the real router's password grant.

mod support;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use token_endpoint::domain::clock::{Clock as _, SystemClock, UnixSeconds};
use token_endpoint::domain::grant::ClientCredentials;
use token_endpoint::domain::model::StoredToken;
use token_endpoint::domain::store::{PasswordGrantContext, Store};
use token_endpoint::domain::token::TokenHash;
use token_endpoint::domain::{GrantError, GrantRequest, IssuedTokens, Secret, TokenRequest};
use token_endpoint::store::DynamoStore;
use token_endpoint::store::dynamodb::{TTL_ATTRIBUTE, TableNames};

/// Environment variables that could point the binary somewhere other than moto.
const AMBIENT_AWS: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_DEFAULT_REGION",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "ACCESS_TOKEN_LIFETIME_SECONDS",
    "REFRESH_TOKEN_LIFETIME_SECONDS",
    "ARGON2_PARALLELISM",
];

/// What one run of the binary did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
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

/// Runs `oauth-admin` with `args`, `stdin`, and an environment naming `tables` in moto.
fn admin_with_env(tables: &TableNames, endpoint: &str, args: &[&str], stdin: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oauth-admin"));
    for name in AMBIENT_AWS {
        command.env_remove(name);
    }
    command
        .args(args)
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("CREDENTIALS_TABLE", &tables.credentials)
        .env("TOKENS_TABLE", &tables.tokens)
        .env("ARGON2_MEMORY_KIB", "256")
        .env("ARGON2_ITERATIONS", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("starting oauth-admin: {error}"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // The binary may exit before reading (invalid arguments): a broken pipe is expected.
        let _ = pipe.write_all(input.as_bytes());
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child
        .wait_with_output()
        .unwrap_or_else(|error| panic!("running oauth-admin: {error}"));
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn admin(tables: &TableNames, args: &[&str], stdin: Option<&str>) -> Run {
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
        .password_grant_context(client_id, username, 0)
        .await
        .unwrap_or_else(|error| panic!("reading the store: {error}"))
}

/// A password grant through the real router over the tables; returns the status and the JSON
/// body.
async fn password_grant(
    tables: &TableNames,
    client_id: &str,
    client_secret: &str,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    let service = support::service(store(tables), &support::cheap_config());
    let encode = |value: &str| utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
    let basic = STANDARD.encode(format!("{}:{}", encode(client_id), encode(client_secret)));
    let request = Request::post("/o/token/")
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "grant_type=password&username={}&password={}",
            encode(username),
            encode(password)
        )))
        .unwrap_or_else(|error| panic!("building the request: {error}"));
    support::serve_json(&service, request).await
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

// Tokens, issued by the real service over the same tables, for the token commands.

/// What one grant issued.
struct Login {
    access: String,
    /// `None` for the client credentials grant.
    refresh: Option<String>,
}

impl Login {
    /// The token strings, which no command may print.
    fn tokens(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.access.as_str()).chain(self.refresh.as_deref())
    }
}

impl From<IssuedTokens> for Login {
    fn from(issued: IssuedTokens) -> Self {
        Self {
            access: issued.access_token.expose().to_owned(),
            refresh: issued
                .refresh_token
                .map(|refresh| refresh.expose().to_owned()),
        }
    }
}

/// Runs one grant through the token service over `tables`, as `app`.
async fn grant(tables: &TableNames, app: &App, grant: GrantRequest) -> Result<Login, GrantError> {
    let service = support::service(store(tables), &support::cheap_config());
    service
        .grant(TokenRequest {
            client: Some(ClientCredentials {
                client_id: app.id.clone(),
                secret_candidates: vec![Secret::new(app.secret.as_str())],
            }),
            grant,
        })
        .await
        .map(Login::from)
}

/// A password grant (a login) with the client's default scope or `scope`.
async fn log_in(
    tables: &TableNames,
    app: &App,
    username: &str,
    password: &str,
    scope: Option<&str>,
) -> Login {
    let request = GrantRequest::Password {
        username: username.into(),
        password: Secret::new(password),
        scope: scope.map(str::to_owned),
    };
    let login = grant(tables, app, request)
        .await
        .unwrap_or_else(|error| panic!("password grant for {username}: {error:?}"));
    assert!(
        login.refresh.is_some(),
        "a login comes with a refresh token"
    );
    login
}

async fn client_credentials_grant(tables: &TableNames, app: &App) -> Login {
    let login = grant(tables, app, GrantRequest::ClientCredentials { scope: None })
        .await
        .unwrap_or_else(|error| panic!("client credentials grant for {}: {error:?}", app.id));
    assert!(login.refresh.is_none());
    login
}

/// Uses `login`'s refresh token (which rotates it).
async fn refresh_grant(tables: &TableNames, app: &App, login: &Login) -> Result<Login, GrantError> {
    let refresh_token = login
        .refresh
        .as_deref()
        .unwrap_or_else(|| panic!("no refresh token to use"));
    let request = GrantRequest::RefreshToken {
        refresh_token: Secret::new(refresh_token),
        scope: None,
    };
    grant(tables, app, request).await
}

fn hash(token: &str) -> TokenHash {
    TokenHash::of(&Secret::new(token))
}

/// Whether `access` is a live access token, as a protected API would see it.
async fn access_is_live(tables: &TableNames, access: &str) -> bool {
    store(tables)
        .access_token(&hash(access), SystemClock.now())
        .await
        .unwrap_or_else(|error| panic!("reading the store: {error}"))
        .is_some()
}

/// Whether `refresh` is an unused live refresh token of `client_id`, read without using it.
async fn refresh_is_live(tables: &TableNames, client_id: &str, refresh: &str) -> bool {
    let context = store(tables)
        .token_context(client_id, &hash(refresh), SystemClock.now())
        .await
        .unwrap_or_else(|error| panic!("reading the store: {error}"));
    matches!(context.token, Some(StoredToken::Refresh(_)))
}

/// Asserts that every token of `login` (issued to `client_id`) is live, or that none is.
async fn assert_live(tables: &TableNames, client_id: &str, login: &Login, live: bool, what: &str) {
    assert_eq!(
        access_is_live(tables, &login.access).await,
        live,
        "{what}: access token"
    );
    if let Some(refresh) = &login.refresh {
        assert_eq!(
            refresh_is_live(tables, client_id, refresh).await,
            live,
            "{what}: refresh token"
        );
    }
}

/// Asserts that presenting `login`'s refresh token is refused as revoked.
async fn assert_refresh_refused(tables: &TableNames, app: &App, login: &Login) {
    match refresh_grant(tables, app, login).await {
        Err(GrantError::InvalidRefreshToken) => {}
        Err(error) => panic!("expected invalid_grant, got {error:?}"),
        Ok(_) => panic!("a revoked refresh token still works"),
    }
}

/// Whose tokens a token command acts on.
#[derive(Debug, Clone, Copy)]
enum Owner<'a> {
    User(&'a str),
    Client(&'a str),
}

impl<'a> Owner<'a> {
    fn flag(self) -> &'static str {
        match self {
            Owner::User(_) => "--username",
            Owner::Client(_) => "--client-id",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Owner::User(_) => "username",
            Owner::Client(_) => "client_id",
        }
    }

    fn value(self) -> &'a str {
        match self {
            Owner::User(value) | Owner::Client(value) => value,
        }
    }
}

const FAMILY_FIELDS: [&str; 7] = [
    "family_id",
    "client_id",
    "username",
    "scope",
    "created_at",
    "refreshed_at",
    "expires_at",
];

/// Runs `list-tokens` for `owner`; checks the shape of its answer and that it shows none of
/// `secrets` (tokens, or their hashes, which are the store's keys); returns the families.
fn list_tokens<'s>(
    tables: &TableNames,
    owner: Owner<'_>,
    secrets: impl IntoIterator<Item = &'s str>,
) -> Vec<Value> {
    let run = admin(tables, &["list-tokens", owner.flag(), owner.value()], None);
    let listed = run.json();
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stdout.contains(hash(secret).as_str()),
            "list-tokens shows a token or its hash: {}",
            run.stdout
        );
    }
    let fields = listed
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {listed}"));
    let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = vec![owner.key(), "families"];
    expected.sort_unstable();
    assert_eq!(keys, expected, "{listed}");
    assert_eq!(listed[owner.key()], owner.value(), "{listed}");
    let families = listed["families"]
        .as_array()
        .unwrap_or_else(|| panic!("families is not an array: {listed}"))
        .clone();
    for family in &families {
        let mut keys: Vec<&str> = family
            .as_object()
            .unwrap_or_else(|| panic!("a family is not an object: {family}"))
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = FAMILY_FIELDS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected, "{family}");
        let family_id = text(family, "family_id");
        assert!(
            !family_id.is_empty() && family_id.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{family}"
        );
        assert!(
            seconds(family, "refreshed_at") >= seconds(family, "created_at"),
            "{family}"
        );
    }
    let created: Vec<UnixSeconds> = families
        .iter()
        .map(|family| seconds(family, "created_at"))
        .collect();
    assert!(
        created.windows(2).all(|pair| pair[0] <= pair[1]),
        "families should be listed oldest first: {created:?}"
    );
    let mut ids: Vec<String> = families
        .iter()
        .map(|family| text(family, "family_id"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), families.len(), "family ids repeat: {families:?}");
    families
}

/// Waits until the clock shows the next whole second.
async fn next_second() {
    let start = SystemClock.now();
    while SystemClock.now() == start {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn seconds(value: &Value, field: &str) -> UnixSeconds {
    value[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} is not a number in {value}"))
}

/// The family in `families` with `client_id` and `scope`; fails unless there is exactly one.
fn family<'f>(families: &'f [Value], client_id: &str, scope: &str) -> &'f Value {
    let found: Vec<&Value> = families
        .iter()
        .filter(|family| family["client_id"] == client_id && family["scope"] == scope)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one family of {client_id} with scope {scope:?}: {families:?}"
    );
    found[0]
}

/// `(client_id, username, scope)` of each family, sorted, to compare listings.
fn summary(families: &[Value]) -> Vec<(String, Option<String>, String)> {
    let mut summary: Vec<_> = families
        .iter()
        .map(|family| {
            (
                text(family, "client_id"),
                family["username"].as_str().map(str::to_owned),
                text(family, "scope"),
            )
        })
        .collect();
    summary.sort();
    summary
}

fn revoke_tokens(tables: &TableNames, owner: Owner<'_>) -> Value {
    admin(
        tables,
        &["revoke-tokens", owner.flag(), owner.value()],
        None,
    )
    .json()
}

#[tokio::test]
async fn create_tables_is_idempotent_and_enables_ttl() {
    let tables = support::unique_tables();
    for _ in 0..2 {
        let created = admin(&tables, &["create-tables"], None).json();
        assert_eq!(
            created,
            serde_json::json!({
                "credentials_table": tables.credentials,
                "tokens_table": tables.tokens,
            })
        );
    }
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
        .unwrap_or_else(|error| panic!("describe_time_to_live: {error:?}"));
    let description = ttl
        .time_to_live_description()
        .unwrap_or_else(|| panic!("no TTL description"));
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
    let client = context
        .client
        .unwrap_or_else(|| panic!("client not stored"));
    assert!(
        client.secret_hash.starts_with("$argon2id$"),
        "{}",
        client.secret_hash
    );
    assert!(!client.secret_hash.contains(&secret));
    let user = context.user.unwrap_or_else(|| panic!("user not stored"));
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
    let tables = support::unique_tables();
    // Nothing listens on port 1.
    admin_with_env(&tables, "http://127.0.0.1:1", &["create-tables"], None)
        .fails(1, "oauth-admin: the store is unavailable");
    // The tables do not exist.
    admin(&tables, &["delete-user", "--username", "someone"], None)
        .fails(1, "oauth-admin: the store is unavailable");

    let mut command = Command::new(env!("CARGO_BIN_EXE_oauth-admin"));
    let output = command
        .args(["delete-user", "--username", "someone"])
        .env("ARGON2_ITERATIONS", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("running oauth-admin: {error}"));
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("ARGON2_ITERATIONS"));
}

#[test]
fn every_command_has_help() {
    let tables = support::unique_tables();
    let commands: [(&str, &[&str]); 10] = [
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
        ("rotate-client-secret", &["--client-id"]),
        ("delete-client", &["--client-id"]),
        ("create-user", &["--username", "--password-stdin"]),
        ("set-password", &["--username", "--password-stdin"]),
        ("delete-user", &["--username"]),
        ("list-tokens", &["--username", "--client-id"]),
        ("revoke-tokens", &["--username", "--client-id"]),
        ("revoke-family", &["--family-id"]),
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

#[tokio::test]
async fn list_tokens_shows_each_login_and_never_a_token() {
    let tables = provisioned_tables();
    let web = create_app(&tables, "read write", "password,refresh_token");
    let mobile = create_app(&tables, "read write", "password,refresh_token");
    let created = admin(
        &tables,
        &[
            "create-client",
            "--name",
            "Reports job",
            "--scope",
            "reports",
            "--grant-types",
            "client_credentials",
        ],
        None,
    )
    .json();
    assert_eq!(created["grant_types"], json!(["client_credentials"]));
    let job = App {
        id: text(&created, "client_id"),
        secret: text(&created, "client_secret"),
    };
    create_user(&tables, "alice", "pw-alice");
    create_user(&tables, "bob", "pw-bob");

    let before = SystemClock.now();
    let alice_web = log_in(&tables, &web, "alice", "pw-alice", None).await;
    // Timestamps are whole seconds: the next login is visibly newer.
    next_second().await;
    let alice_mobile = log_in(&tables, &mobile, "alice", "pw-alice", Some("write")).await;
    let bob_web = log_in(&tables, &web, "bob", "pw-bob", Some("read")).await;
    let job_token = client_credentials_grant(&tables, &job).await;
    let after = SystemClock.now();
    let logins = [&alice_web, &alice_mobile, &bob_web, &job_token];
    let secrets = || logins.iter().flat_map(|login| login.tokens());

    // Alice's two logins, one per client, with the scope each granted.
    let alice = list_tokens(&tables, Owner::User("alice"), secrets());
    assert_eq!(alice.len(), 2, "{alice:?}");
    let mut expected = vec![
        (web.id.clone(), Some("alice".into()), "read write".into()),
        (mobile.id.clone(), Some("alice".into()), "write".into()),
    ];
    expected.sort();
    assert_eq!(summary(&alice), expected);
    assert_eq!(
        alice[0]["client_id"],
        web.id.as_str(),
        "oldest first: {alice:?}"
    );
    assert_eq!(
        alice[1]["client_id"],
        mobile.id.as_str(),
        "oldest first: {alice:?}"
    );
    for family in &alice {
        let created_at = seconds(family, "created_at");
        assert!((before..=after).contains(&created_at), "{family}");
        assert_eq!(family["refreshed_at"], created_at, "{family}");
        // Refresh tokens do not expire by default, so neither does a login.
        assert_eq!(family["expires_at"], Value::Null, "{family}");
    }
    assert_ne!(
        family(&alice, &web.id, "read write")["family_id"],
        family(&alice, &mobile.id, "write")["family_id"]
    );

    // The web client's families: Alice's and Bob's logins, not the mobile client's.
    let web_families = list_tokens(&tables, Owner::Client(&web.id), secrets());
    let mut expected = vec![
        (web.id.clone(), Some("alice".into()), "read write".into()),
        (web.id.clone(), Some("bob".into()), "read".into()),
    ];
    expected.sort();
    assert_eq!(summary(&web_families), expected);
    assert_eq!(
        family(&web_families, &web.id, "read write")["family_id"],
        family(&alice, &web.id, "read write")["family_id"],
        "the same login under either owner"
    );

    // The job's client credentials grant: its own family, no user, ends with its token.
    let job_families = list_tokens(&tables, Owner::Client(&job.id), secrets());
    assert_eq!(
        summary(&job_families),
        vec![(job.id.clone(), None, "reports".into())]
    );
    let job_family = &job_families[0];
    let created_at = seconds(job_family, "created_at");
    assert!((before..=after).contains(&created_at), "{job_family}");
    assert_eq!(job_family["username"], Value::Null);
    assert_eq!(
        seconds(job_family, "expires_at"),
        created_at + 3600,
        "{job_family}"
    );
    assert!(access_is_live(&tables, &job_token.access).await);

    // Nobody's tokens: an empty list, whether or not the user exists.
    assert!(list_tokens(&tables, Owner::User("carol"), secrets()).is_empty());
    assert!(list_tokens(&tables, Owner::Client("no-such-client"), secrets()).is_empty());

    // Listing changes nothing.
    for login in [&alice_web, &bob_web] {
        assert_live(&tables, &web.id, login, true, "after listing").await;
    }
    assert_live(&tables, &mobile.id, &alice_mobile, true, "after listing").await;
}

#[tokio::test]
async fn revoke_tokens_by_username_revokes_every_login_of_that_user_only() {
    let tables = provisioned_tables();
    let web = create_app(&tables, "read write", "password,refresh_token");
    let mobile = create_app(&tables, "read write", "password,refresh_token");
    create_user(&tables, "alice", "pw-alice");
    create_user(&tables, "bob", "pw-bob");
    let alice_web = log_in(&tables, &web, "alice", "pw-alice", None).await;
    let alice_mobile = log_in(&tables, &mobile, "alice", "pw-alice", None).await;
    let bob_web = log_in(&tables, &web, "bob", "pw-bob", None).await;

    let run = admin(&tables, &["revoke-tokens", "--username", "alice"], None);
    assert_eq!(
        run.json(),
        json!({ "username": "alice", "revoked_families": 2, "revoked_tokens": 4 })
    );
    for token in [&alice_web, &alice_mobile, &bob_web]
        .iter()
        .flat_map(|login| login.tokens())
    {
        assert!(!run.stdout.contains(token) && !run.stderr.contains(token));
    }

    assert_live(&tables, &web.id, &alice_web, false, "alice on web").await;
    assert_live(&tables, &mobile.id, &alice_mobile, false, "alice on mobile").await;
    assert_refresh_refused(&tables, &web, &alice_web).await;
    assert_refresh_refused(&tables, &mobile, &alice_mobile).await;
    assert!(list_tokens(&tables, Owner::User("alice"), alice_web.tokens()).is_empty());

    // Bob, on the same client, is untouched and can still refresh.
    assert_live(&tables, &web.id, &bob_web, true, "bob on web").await;
    assert_eq!(
        summary(&list_tokens(&tables, Owner::User("bob"), bob_web.tokens())),
        vec![(web.id.clone(), Some("bob".into()), "read write".into())]
    );
    let refreshed = refresh_grant(&tables, &web, &bob_web)
        .await
        .unwrap_or_else(|error| panic!("bob's refresh: {error:?}"));
    assert_live(&tables, &web.id, &refreshed, true, "bob refreshed").await;

    // Again: nothing left to revoke. Alice can still log in: her account is not touched.
    assert_eq!(
        revoke_tokens(&tables, Owner::User("alice")),
        json!({ "username": "alice", "revoked_families": 0, "revoked_tokens": 0 })
    );
    let again = log_in(&tables, &web, "alice", "pw-alice", None).await;
    assert_live(&tables, &web.id, &again, true, "alice's new login").await;
}

#[tokio::test]
async fn revoke_tokens_by_client_id_revokes_every_token_of_that_client_only() {
    let tables = provisioned_tables();
    let web = create_app(&tables, "read write", "password,refresh_token");
    let mobile = create_app(&tables, "read write", "password,refresh_token");
    let job = create_app(&tables, "reports", "client_credentials");
    create_user(&tables, "alice", "pw-alice");
    create_user(&tables, "bob", "pw-bob");
    let alice_web = log_in(&tables, &web, "alice", "pw-alice", None).await;
    let bob_web = log_in(&tables, &web, "bob", "pw-bob", Some("read")).await;
    let alice_mobile = log_in(&tables, &mobile, "alice", "pw-alice", None).await;
    let job_first = client_credentials_grant(&tables, &job).await;
    let job_second = client_credentials_grant(&tables, &job).await;

    let run = admin(&tables, &["revoke-tokens", "--client-id", &web.id], None);
    assert_eq!(
        run.json(),
        json!({ "client_id": web.id, "revoked_families": 2, "revoked_tokens": 4 })
    );
    assert_live(&tables, &web.id, &alice_web, false, "alice on web").await;
    assert_live(&tables, &web.id, &bob_web, false, "bob on web").await;
    assert_refresh_refused(&tables, &web, &alice_web).await;
    assert_refresh_refused(&tables, &web, &bob_web).await;
    assert!(list_tokens(&tables, Owner::Client(&web.id), alice_web.tokens()).is_empty());

    // The other clients' tokens, Alice's on mobile included, are untouched.
    assert_live(&tables, &mobile.id, &alice_mobile, true, "alice on mobile").await;
    assert_live(&tables, &job.id, &job_first, true, "job").await;
    assert_eq!(
        summary(&list_tokens(
            &tables,
            Owner::User("alice"),
            alice_web.tokens()
        )),
        vec![(mobile.id.clone(), Some("alice".into()), "read write".into())]
    );
    refresh_grant(&tables, &mobile, &alice_mobile)
        .await
        .unwrap_or_else(|error| panic!("alice's refresh on mobile: {error:?}"));

    // A client credentials client's tokens: one per family.
    assert_eq!(
        revoke_tokens(&tables, Owner::Client(&job.id)),
        json!({ "client_id": job.id, "revoked_families": 2, "revoked_tokens": 2 })
    );
    assert_live(&tables, &job.id, &job_first, false, "job, first").await;
    assert_live(&tables, &job.id, &job_second, false, "job, second").await;
    assert!(list_tokens(&tables, Owner::Client(&job.id), job_first.tokens()).is_empty());

    // The clients keep working for new grants.
    let again = log_in(&tables, &web, "bob", "pw-bob", None).await;
    assert_live(&tables, &web.id, &again, true, "bob's new login").await;
}

#[tokio::test]
async fn revoke_family_revokes_exactly_one_login() {
    let tables = provisioned_tables();
    let web = create_app(&tables, "read write", "password,refresh_token");
    create_user(&tables, "alice", "pw-alice");
    let phone = log_in(&tables, &web, "alice", "pw-alice", Some("read")).await;
    let laptop = log_in(&tables, &web, "alice", "pw-alice", Some("write")).await;
    let tablet = log_in(&tables, &web, "alice", "pw-alice", Some("read write")).await;
    let logins = [&phone, &laptop, &tablet];
    let secrets = || logins.iter().flat_map(|login| login.tokens());
    let families = list_tokens(&tables, Owner::User("alice"), secrets());
    assert_eq!(families.len(), 3, "{families:?}");
    let phone_family = text(family(&families, &web.id, "read"), "family_id");
    let laptop_family = text(family(&families, &web.id, "write"), "family_id");

    let run = admin(
        &tables,
        &["revoke-family", "--family-id", &phone_family],
        None,
    );
    assert_eq!(
        run.json(),
        json!({ "family_id": phone_family, "revoked_tokens": 2 })
    );
    assert_live(&tables, &web.id, &phone, false, "the revoked login").await;
    assert_refresh_refused(&tables, &web, &phone).await;
    assert_live(&tables, &web.id, &laptop, true, "another login").await;
    assert_live(&tables, &web.id, &tablet, true, "another login").await;
    let left = list_tokens(&tables, Owner::User("alice"), secrets());
    assert_eq!(
        summary(&left),
        vec![
            (web.id.clone(), Some("alice".into()), "read write".into()),
            (web.id.clone(), Some("alice".into()), "write".into()),
        ]
    );

    // A family follows its refreshes: revoking it revokes the newest pair.
    let refreshed = refresh_grant(&tables, &web, &laptop)
        .await
        .unwrap_or_else(|error| panic!("refreshing the laptop's login: {error:?}"));
    assert_live(&tables, &web.id, &laptop, false, "the refreshed-away pair").await;
    let listed = list_tokens(
        &tables,
        Owner::User("alice"),
        secrets().chain(refreshed.tokens()),
    );
    assert_eq!(
        text(family(&listed, &web.id, "write"), "family_id"),
        laptop_family,
        "a refresh stays in its family"
    );
    assert_eq!(
        admin(
            &tables,
            &["revoke-family", "--family-id", &laptop_family],
            None
        )
        .json(),
        json!({ "family_id": laptop_family, "revoked_tokens": 2 })
    );
    assert_live(&tables, &web.id, &refreshed, false, "the refreshed pair").await;
    assert_refresh_refused(&tables, &web, &refreshed).await;
    assert_live(&tables, &web.id, &tablet, true, "the last login").await;

    // Revoked and unknown families: nothing to revoke.
    for family_id in [phone_family.as_str(), "NoSuchFamily0123456789"] {
        assert_eq!(
            admin(&tables, &["revoke-family", "--family-id", family_id], None).json(),
            json!({ "family_id": family_id, "revoked_tokens": 0 })
        );
    }
    assert_live(&tables, &web.id, &tablet, true, "the last login").await;
    assert_eq!(
        list_tokens(&tables, Owner::User("alice"), secrets()).len(),
        1
    );
}

#[tokio::test]
async fn deleting_a_user_or_a_client_revokes_its_tokens() {
    let tables = provisioned_tables();
    let web = create_app(&tables, "read write", "password,refresh_token");
    let mobile = create_app(&tables, "read write", "password,refresh_token");
    let job = create_app(&tables, "reports", "client_credentials");
    create_user(&tables, "alice", "pw-alice");
    create_user(&tables, "bob", "pw-bob");
    let alice_web = log_in(&tables, &web, "alice", "pw-alice", None).await;
    let alice_mobile = log_in(&tables, &mobile, "alice", "pw-alice", None).await;
    let bob_web = log_in(&tables, &web, "bob", "pw-bob", None).await;
    let bob_mobile = log_in(&tables, &mobile, "bob", "pw-bob", None).await;
    let job_token = client_credentials_grant(&tables, &job).await;

    assert_eq!(
        admin(&tables, &["delete-user", "--username", "alice"], None).json(),
        json!({
            "username": "alice",
            "deleted": true,
            "revoked_families": 2,
            "revoked_tokens": 4,
        })
    );
    assert_live(&tables, &web.id, &alice_web, false, "alice on web").await;
    assert_live(&tables, &mobile.id, &alice_mobile, false, "alice on mobile").await;
    assert_refresh_refused(&tables, &web, &alice_web).await;
    assert!(list_tokens(&tables, Owner::User("alice"), alice_web.tokens()).is_empty());
    assert_live(&tables, &web.id, &bob_web, true, "bob on web").await;
    assert_live(&tables, &mobile.id, &bob_mobile, true, "bob on mobile").await;

    assert_eq!(
        admin(&tables, &["delete-client", "--client-id", &web.id], None).json(),
        json!({
            "client_id": web.id,
            "deleted": true,
            "revoked_families": 1,
            "revoked_tokens": 2,
        })
    );
    assert_live(
        &tables,
        &web.id,
        &bob_web,
        false,
        "bob on the deleted client",
    )
    .await;
    assert!(list_tokens(&tables, Owner::Client(&web.id), bob_web.tokens()).is_empty());
    assert_live(&tables, &mobile.id, &bob_mobile, true, "bob on mobile").await;
    refresh_grant(&tables, &mobile, &bob_mobile)
        .await
        .unwrap_or_else(|error| panic!("bob's refresh on mobile: {error:?}"));

    assert_eq!(
        admin(&tables, &["delete-client", "--client-id", &job.id], None).json(),
        json!({
            "client_id": job.id,
            "deleted": true,
            "revoked_families": 1,
            "revoked_tokens": 1,
        })
    );
    assert!(!access_is_live(&tables, &job_token.access).await);
}

#[tokio::test]
async fn token_commands_refuse_bad_owners_and_family_ids_and_touch_nothing() {
    let tables = provisioned_tables();
    let web = create_app(&tables, "read write", "password,refresh_token");
    create_user(&tables, "alice", "pw-alice");
    let login = log_in(&tables, &web, "alice", "pw-alice", None).await;
    let families = list_tokens(&tables, Owner::User("alice"), login.tokens());
    let family_id = text(family(&families, &web.id, "read write"), "family_id");

    // Usage errors are clap's, with its exit status 2.
    let usage: Vec<Vec<&str>> = vec![
        vec!["list-tokens"],
        vec!["list-tokens", "--username", "alice", "--client-id", &web.id],
        vec!["list-tokens", "--username"],
        vec!["revoke-tokens"],
        vec![
            "revoke-tokens",
            "--username",
            "alice",
            "--client-id",
            &web.id,
        ],
        vec![
            "revoke-tokens",
            "--client-id",
            &web.id,
            "--username",
            "alice",
        ],
        vec!["revoke-tokens", "--username", "alice", "--username", "bob"],
        vec!["revoke-tokens", "alice"],
        vec!["revoke-family"],
        vec!["revoke-family", "--family-id"],
        vec!["revoke-family", "--username", "alice"],
        vec![
            "revoke-family",
            "--family-id",
            &family_id,
            "--username",
            "alice",
        ],
    ];
    for args in &usage {
        let run = admin(&tables, args, None);
        assert_eq!(run.code, Some(2), "{args:?}: {:?}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {:?}", run.stdout);
        assert!(!run.stderr.is_empty(), "{args:?}");
    }

    // Invalid ids are refused before the store is reached (so even with no store at all).
    let long = "a".repeat(65);
    let spaced = format!(" {family_id}");
    let keyed = format!("FAMILY#{family_id}");
    let invalid: Vec<(Vec<&str>, &str)> = vec![
        (vec!["revoke-family", "--family-id", ""], "--family-id"),
        (vec!["revoke-family", "--family-id", &spaced], "--family-id"),
        (vec!["revoke-family", "--family-id", &keyed], "--family-id"),
        (vec!["revoke-family", "--family-id", "a/b"], "--family-id"),
        (
            vec!["revoke-family", "--family-id", "fämily"],
            "--family-id",
        ),
        (vec!["revoke-family", "--family-id", &long], "--family-id"),
        (vec!["revoke-tokens", "--username", " alice"], "whitespace"),
        (vec!["revoke-tokens", "--username", ""], "--username"),
        (
            vec!["revoke-tokens", "--username", "al\u{7}ice"],
            "control characters",
        ),
        (vec!["revoke-tokens", "--client-id", "a b"], "--client-id"),
        (vec!["revoke-tokens", "--client-id", ""], "--client-id"),
        (vec!["list-tokens", "--username", "alice "], "whitespace"),
        (vec!["list-tokens", "--client-id", "bad/id"], "--client-id"),
    ];
    for (args, needle) in &invalid {
        for endpoint in [support::moto_endpoint(), "http://127.0.0.1:1"] {
            let run = admin_with_env(&tables, endpoint, args, None);
            assert!(
                run.stderr.starts_with("oauth-admin: "),
                "{args:?}: {:?}",
                run.stderr
            );
            run.fails(2, needle);
        }
    }

    // Nothing was revoked.
    assert_live(&tables, &web.id, &login, true, "after refused commands").await;
    assert_eq!(
        list_tokens(&tables, Owner::User("alice"), login.tokens()),
        families
    );
}

#[tokio::test]
async fn token_commands_fail_with_status_1_when_the_store_fails() {
    // The tables do not exist.
    let tables = support::unique_tables();
    let commands: [&[&str]; 5] = [
        &["list-tokens", "--username", "alice"],
        &["list-tokens", "--client-id", "app"],
        &["revoke-tokens", "--username", "alice"],
        &["revoke-tokens", "--client-id", "app"],
        &["revoke-family", "--family-id", "abc123"],
    ];
    for args in commands {
        admin(&tables, args, None).fails(1, "oauth-admin: the store is unavailable");
    }
}
