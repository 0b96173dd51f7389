//! The token commands of `oauth-admin` (`list-tokens`, `revoke-tokens`, `revoke-family`, and
//! the revocation that `delete-user` and `delete-client` do): on tokens issued by the real
//! service over the same tables, checked through the store; no command shows a token.

use serde_json::{Value, json};
use token_endpoint::domain::ClientCredentials;
use token_endpoint::domain::IssuanceRefused;
use token_endpoint::domain::clock::{Clock as _, SystemClock, UnixSeconds};
use token_endpoint::domain::grants::client_credentials::ClientCredentialsRequest;
use token_endpoint::domain::grants::password::PasswordRequest;
use token_endpoint::domain::grants::refresh::RefreshRequest;
use token_endpoint::domain::lifecycle::token_key;
use token_endpoint::domain::model::StoredToken;
use token_endpoint::domain::store::prelude::*;
use token_endpoint::domain::{GrantError, GrantRequest, IssuedTokens, Secret, TokenRequest};
use token_endpoint::store::dynamodb::TableNames;

use super::{App, admin, admin_with_env, create_app, create_user, provisioned_tables, store, text};

/// What one grant issued.
pub(super) struct Login {
    pub(super) access: String,
    /// `None` for the client credentials grant.
    pub(super) refresh: Option<String>,
}

impl Login {
    /// The token strings, which no command may print.
    pub(super) fn tokens(&self) -> impl Iterator<Item = &str> {
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
                assertion: None,
                client_id: support::client_id_of(&app.id),
                secret_candidates: vec![Secret::new(app.secret.as_str())],
            }),
            grant,
            source: Default::default(),
            issuance: Err(IssuanceRefused::NoIssuer),
            dpop: None,
        })
        .await
        .map(Login::from)
}

/// A password grant (a login) with the client's default scope or `scope`.
pub(super) async fn log_in(
    tables: &TableNames,
    app: &App,
    username: &str,
    password: &str,
    scope: Option<&str>,
) -> Login {
    let request = GrantRequest::Password(PasswordRequest {
        username: token_endpoint::domain::names::Username::parse(username),
        password: Secret::new(password),
        scope: scope.map(str::to_owned),
    });
    let login = grant(tables, app, request)
        .await
        .unwrap_or_else(|error| panic!("password grant for {username}: {error:?}"));
    assert!(
        login.refresh.is_some(),
        "a login comes with a refresh token"
    );
    login
}

pub(super) async fn client_credentials_grant(tables: &TableNames, app: &App) -> Login {
    let login = grant(
        tables,
        app,
        GrantRequest::ClientCredentials(ClientCredentialsRequest { scope: None }),
    )
    .await
    .unwrap_or_else(|error| panic!("client credentials grant for {}: {error:?}", app.id));
    assert!(login.refresh.is_none());
    login
}

/// Uses `login`'s refresh token (which rotates it).
pub(super) async fn refresh_grant(
    tables: &TableNames,
    app: &App,
    login: &Login,
) -> Result<Login, GrantError> {
    let refresh_token = login.refresh.as_deref().expect("no refresh token to use");
    let request = GrantRequest::RefreshToken(RefreshRequest {
        refresh_token: Secret::new(refresh_token),
        scope: None,
    });
    grant(tables, app, request).await
}

/// Whether `access` is a live access token, as a protected API would see it.
pub(super) async fn access_is_live(tables: &TableNames, access: &str) -> bool {
    let access = Secret::new(access);
    store(tables)
        .access_token(&token_key(&access), SystemClock.now())
        .await
        .expect("reading the store")
        .is_some()
}

/// Whether `refresh` is an unused live refresh token of `client_id`, read without using it.
async fn refresh_is_live(tables: &TableNames, client_id: &str, refresh: &str) -> bool {
    let refresh = Secret::new(refresh);
    let context = store(tables)
        .token_context(
            &support::client_id_of(client_id),
            &token_key(&refresh),
            SystemClock.now(),
        )
        .await
        .expect("reading the store");
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
pub(super) async fn assert_refresh_refused(tables: &TableNames, app: &App, login: &Login) {
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
            !run.stdout.contains(secret)
                && !run.stdout.contains(
                    token_endpoint::domain::token::TokenHash::of(&Secret::new(secret)).as_str()
                ),
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
async fn list_tokens_shows_each_login_and_never_a_token() {
    support::require!(Moto);
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
    support::require!(Moto);
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
        .expect("bob's refresh");
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
    support::require!(Moto);
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
        .expect("alice's refresh on mobile");

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
    support::require!(Moto);
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
        .expect("refreshing the laptop's login");
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
    support::require!(Moto);
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
        .expect("bob's refresh on mobile");

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
    support::require!(Moto);
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
    support::require!(Moto);
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
