//! The operator commands of `oauth-admin`: `show-client`, `list-clients`, `show-user`,
//! `list-users` and `update-client`, which never show a secret or a hash, and
//! `--revoke-tokens` of `set-password` and `rotate-client-secret`, which ends the logins made
//! before the change: their refresh tokens are refused afterwards.

use serde_json::{Value, json};
use token_endpoint::domain::store::prelude::*;
use token_endpoint::domain::{Client, GrantType, Scope, User};
use token_endpoint::store::dynamodb::TableNames;

use super::tokens::{
    Login, access_is_live, assert_refresh_refused, client_credentials_grant, log_in, refresh_grant,
};
use super::{
    App, Run, admin, assert_grant_works, create_app, create_user, provisioned_tables, store,
    stored, text,
};

/// A PBKDF2-SHA256 hash as Django writes it, standing for an imported, not yet upgraded one.
const DJANGO_HASH: &str = "pbkdf2_sha256$1000$salt$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=";

/// Asserts that `run` printed none of `secrets`, and nothing that looks like a stored hash.
fn assert_shows_none_of<'s>(run: &Run, secrets: impl IntoIterator<Item = &'s str>) {
    let hash_markers = ["$argon2", "pbkdf2_sha256"];
    for secret in secrets.into_iter().chain(hash_markers) {
        for output in [&run.stdout, &run.stderr] {
            assert!(!output.contains(secret), "{secret:?} shown: {output}");
        }
    }
}

/// The stored secret hash of a client and password hash of a user, which no output may show.
async fn stored_hashes(tables: &TableNames, client_id: &str, username: &str) -> Vec<String> {
    let context = stored(tables, client_id, username).await;
    let client = context.client.map(|client| client.secret_hash);
    let user = context.user.map(|user| user.password_hash);
    client.into_iter().chain(user).collect()
}

/// Runs a command that must succeed, printing none of `secrets`; returns its JSON.
fn shown(tables: &TableNames, args: &[&str], secrets: &[&str]) -> Value {
    let run = admin(tables, args, None);
    let result = run.json();
    assert_shows_none_of(&run, secrets.iter().copied());
    result
}

#[tokio::test]
async fn clients_and_users_are_shown_and_listed_without_secrets_or_hashes() {
    support::require!(Moto);
    let tables = provisioned_tables();
    assert_eq!(
        shown(&tables, &["list-clients"], &[]),
        json!({ "clients": [] })
    );
    assert_eq!(shown(&tables, &["list-users"], &[]), json!({ "users": [] }));

    let web = create_app(&tables, "read write", "password,refresh_token");
    let job = create_app(&tables, "reports", "client_credentials");
    create_user(&tables, "alice", "pw-alice");
    // An imported client and user whose Django hashes no login has upgraded yet.
    let legacy = Client {
        client_id: support::client_id_of("legacy"),
        name: "Legacy app".into(),
        secret_hash: DJANGO_HASH.into(),
        scope: Scope::parse("read").expect("scope"),
        grant_types: vec![GrantType::Password, GrantType::RefreshToken],
        access_tokens: Default::default(),
        created_at: 0,
        jwks: None,
        credential_version: 0,
    };
    let dynamo = store(&tables);
    dynamo.create_client(&legacy).await.expect("storing");
    let bob = User {
        username: support::username_of("bob"),
        password_hash: DJANGO_HASH.into(),
        created_at: 0,
    };
    dynamo.create_user(&bob).await.expect("storing");
    let mut secrets = vec![web.secret.clone(), job.secret.clone(), "pw-alice".into()];
    for (client_id, username) in [(&web.id, "alice"), (&job.id, "bob")] {
        secrets.extend(stored_hashes(&tables, client_id, username).await);
    }
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();

    let web_shown = shown(&tables, &["show-client", "--client-id", &web.id], &secrets);
    assert_eq!(
        web_shown,
        json!({
            "client_id": web.id,
            "name": "Test app",
            "scope": "read write",
            "grant_types": ["password", "refresh_token"],
            "token_format": "opaque",
            "access_token_lifetime": null,
            "django_hash_pending_upgrade": false,
        })
    );
    let job_shown = shown(&tables, &["show-client", "--client-id", &job.id], &secrets);
    assert_eq!(job_shown["grant_types"], json!(["client_credentials"]));
    let legacy_shown = shown(&tables, &["show-client", "--client-id", "legacy"], &secrets);
    assert_eq!(
        legacy_shown,
        json!({
            "client_id": "legacy",
            "name": "Legacy app",
            "scope": "read",
            "grant_types": ["password", "refresh_token"],
            "token_format": "opaque",
            "access_token_lifetime": null,
            "django_hash_pending_upgrade": true,
        })
    );
    let mut by_id = vec![web_shown, job_shown, legacy_shown];
    by_id.sort_by_key(|client| text(client, "client_id"));
    assert_eq!(
        shown(&tables, &["list-clients"], &secrets),
        json!({ "clients": by_id })
    );

    let alice_shown = shown(&tables, &["show-user", "--username", "alice"], &secrets);
    assert_eq!(
        alice_shown,
        json!({ "username": "alice", "django_hash_pending_upgrade": false })
    );
    let bob_shown = shown(&tables, &["show-user", "--username", "bob"], &secrets);
    assert_eq!(
        bob_shown,
        json!({ "username": "bob", "django_hash_pending_upgrade": true })
    );
    assert_eq!(
        shown(&tables, &["list-users"], &secrets),
        json!({ "users": [alice_shown, bob_shown] })
    );

    admin(&tables, &["show-client", "--client-id", "missing"], None)
        .fails(1, "oauth-admin: client missing does not exist");
    admin(&tables, &["show-user", "--username", "nobody"], None)
        .fails(1, "oauth-admin: user nobody does not exist");
    admin(&tables, &["show-client", "--client-id", "bad id"], None).fails(2, "--client-id");
    admin(&tables, &["show-user", "--username", " alice"], None).fails(2, "whitespace");
}

#[tokio::test]
async fn update_client_changes_only_what_is_given() {
    support::require!(Moto);
    let tables = provisioned_tables();
    let app = create_app(&tables, "read write", "password,refresh_token");
    create_user(&tables, "alice", "pw-alice");
    let hashes = stored_hashes(&tables, &app.id, "alice").await;
    let mut secrets: Vec<&str> = hashes.iter().map(String::as_str).collect();
    secrets.push(&app.secret);

    let renamed = shown(
        &tables,
        &["update-client", "--client-id", &app.id, "--name", "Renamed"],
        &secrets,
    );
    assert_eq!(
        renamed,
        json!({
            "client_id": app.id,
            "name": "Renamed",
            "scope": "read write",
            "grant_types": ["password", "refresh_token"],
            "token_format": "opaque",
            "access_token_lifetime": null,
            "django_hash_pending_upgrade": false,
        })
    );
    let changed = shown(
        &tables,
        &[
            "update-client",
            "--client-id",
            &app.id,
            "--scope",
            "read  admin read",
            "--grant-types",
            "password, client_credentials,password",
        ],
        &secrets,
    );
    assert_eq!(
        changed,
        json!({
            "client_id": app.id,
            "name": "Renamed",
            "scope": "read admin",
            "grant_types": ["password", "client_credentials"],
            "token_format": "opaque",
            "access_token_lifetime": null,
            "django_hash_pending_upgrade": false,
        })
    );
    let show = ["show-client", "--client-id", app.id.as_str()];
    assert_eq!(shown(&tables, &show, &secrets), changed);
    // The secret stays, and the new grant types and scope are in force.
    assert_grant_works(&tables, &app.id, &app.secret, "alice", "pw-alice").await;
    client_credentials_grant(&tables, &app).await;

    let update = |extra: &[&str]| {
        let mut args = vec!["update-client", "--client-id", app.id.as_str()];
        args.extend_from_slice(extra);
        admin(&tables, &args, None)
    };
    let refused: [(&[&str], &str); 5] = [
        (&["--scope", ""], "--scope"),
        (&["--scope", "read \"write\""], "--scope"),
        (
            &["--grant-types", "implicit"],
            "unknown grant type \"implicit\"",
        ),
        (&["--grant-types", "password,"], "empty entry"),
        (&["--name", " "], "--name"),
    ];
    for (extra, needle) in refused {
        update(extra).fails(2, needle);
    }
    // At least one change is required: clap's usage error.
    let nothing = update(&[]);
    assert_eq!(nothing.code, Some(2), "{}", nothing.stderr);
    assert!(nothing.stdout.is_empty());
    assert_eq!(shown(&tables, &show, &secrets), changed);

    admin(
        &tables,
        &["update-client", "--client-id", "missing", "--name", "X"],
        None,
    )
    .fails(1, "oauth-admin: client missing does not exist");
    admin(&tables, &["show-client", "--client-id", "missing"], None).fails(1, "does not exist");
}

/// Asserts that `login` (to `app`) can still be refreshed, and returns its successor.
async fn assert_refresh_works(tables: &TableNames, app: &App, login: &Login) -> Login {
    refresh_grant(tables, app, login)
        .await
        .unwrap_or_else(|error| panic!("refresh refused: {error:?}"))
}

#[tokio::test]
async fn set_password_with_revoke_tokens_ends_the_users_logins() {
    support::require!(Moto);
    let tables = provisioned_tables();
    let app = create_app(&tables, "read write", "password,refresh_token");
    create_user(&tables, "alice", "pw-1");
    create_user(&tables, "bob", "pw-bob");
    let first = log_in(&tables, &app, "alice", "pw-1", None).await;
    let bob = log_in(&tables, &app, "bob", "pw-bob", None).await;
    let set_password = |password: &str, revoke: bool| {
        let mut args = vec!["set-password", "--username", "alice", "--password-stdin"];
        if revoke {
            args.push("--revoke-tokens");
        }
        let run = admin(&tables, &args, Some(&format!("{password}\n")));
        let result = run.json();
        assert_shows_none_of(&run, [password]);
        result
    };

    // Without the flag, as before: the login made with the old password goes on.
    assert_eq!(
        set_password("pw-2", false),
        json!({ "username": "alice", "password_changed": true })
    );
    let first = assert_refresh_works(&tables, &app, &first).await;
    let second = log_in(&tables, &app, "alice", "pw-2", None).await;

    assert_eq!(
        set_password("pw-3", true),
        json!({
            "username": "alice",
            "password_changed": true,
            "revoked_families": 2,
            "revoked_tokens": 4,
        })
    );
    assert_refresh_refused(&tables, &app, &first).await;
    assert_refresh_refused(&tables, &app, &second).await;
    assert_refresh_works(&tables, &app, &bob).await;
    log_in(&tables, &app, "alice", "pw-3", None).await;

    let run = admin(
        &tables,
        &[
            "set-password",
            "--username",
            "nobody",
            "--password-stdin",
            "--revoke-tokens",
        ],
        Some("pw\n"),
    );
    run.fails(1, "oauth-admin: user nobody does not exist");
}

#[tokio::test]
async fn rotate_client_secret_with_revoke_tokens_ends_the_clients_logins() {
    support::require!(Moto);
    let tables = provisioned_tables();
    let mut app = create_app(
        &tables,
        "read write",
        "password,refresh_token,client_credentials",
    );
    let other = create_app(&tables, "read write", "password,refresh_token");
    create_user(&tables, "alice", "pw-alice");
    let login = log_in(&tables, &app, "alice", "pw-alice", None).await;
    let own = client_credentials_grant(&tables, &app).await;
    let elsewhere = log_in(&tables, &other, "alice", "pw-alice", None).await;
    let rotate = |old_secret: &str, revoke: bool| {
        let mut args = vec!["rotate-client-secret", "--client-id", app.id.as_str()];
        if revoke {
            args.push("--revoke-tokens");
        }
        let run = admin(&tables, &args, None);
        let result = run.json();
        assert_shows_none_of(&run, [old_secret]);
        result
    };

    // Without the flag, as before: logins go on, refreshed with the new secret.
    let rotated = rotate(&app.secret, false);
    assert_eq!(rotated.as_object().map(|fields| fields.len()), Some(2));
    assert_eq!(rotated["client_id"], app.id.as_str());
    app.secret = text(&rotated, "client_secret");
    let login = assert_refresh_works(&tables, &app, &login).await;

    let rotated = rotate(&app.secret, true);
    let new_secret = text(&rotated, "client_secret");
    assert_eq!(new_secret.len(), 40);
    assert_eq!(
        rotated,
        json!({
            "client_id": app.id,
            "client_secret": new_secret,
            "revoked_families": 2,
            "revoked_tokens": 3,
        })
    );
    assert!(
        !stored_hashes(&tables, &app.id, "alice")
            .await
            .iter()
            .any(|hash| hash.contains(&new_secret))
    );
    app.secret = new_secret;
    assert_refresh_refused(&tables, &app, &login).await;
    assert!(
        !access_is_live(&tables, &own.access).await,
        "the client's own token is revoked too"
    );
    assert_refresh_works(&tables, &other, &elsewhere).await;
    log_in(&tables, &app, "alice", "pw-alice", None).await;

    admin(
        &tables,
        &[
            "rotate-client-secret",
            "--client-id",
            "missing",
            "--revoke-tokens",
        ],
        None,
    )
    .fails(1, "oauth-admin: client missing does not exist");
}
