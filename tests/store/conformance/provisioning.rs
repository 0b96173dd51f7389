//! Clients and users: created once, updated and deleted, listed, and their hashes replaced
//! only while they are the one that was verified.

use super::*;
use token_endpoint::domain::jose::ClientJwks;
use token_endpoint::domain::model::DpopPolicy;
use token_endpoint::domain::{AccessTokenPolicy, TokenFormat};

pub(super) async fn provisioning_refuses_duplicates_and_missing_records<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    assert!(matches!(
        store.create_client(&client("app")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store.create_user(&user("alice")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store
            .set_client_secret_hash(&support::client_id_of("nope"), "h")
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .set_user_password_hash(&support::username_of("nope"), "h")
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_client(&support::client_id_of("nope")).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_user(&support::username_of("nope")).await,
        Err(StoreError::NotFound(_))
    ));
}

pub(super) async fn provisioning_updates_and_deletes<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    ok(store
        .set_client_secret_hash(&support::client_id_of("app"), "new-secret-hash")
        .await);
    ok(store
        .set_user_password_hash(&support::username_of("alice"), "new-password-hash")
        .await);
    let context = ok(store
        .password_grant_context(
            &support::client_id_of("app"),
            &support::username_of("alice"),
        )
        .await);
    assert_eq!(
        context.client.map(|c| c.secret_hash).as_deref(),
        Some("new-secret-hash")
    );
    assert_eq!(
        context.user.map(|u| u.password_hash).as_deref(),
        Some("new-password-hash")
    );
    ok(store.delete_client(&support::client_id_of("app")).await);
    ok(store.delete_user(&support::username_of("alice")).await);
    let context = ok(store
        .password_grant_context(
            &support::client_id_of("app"),
            &support::username_of("alice"),
        )
        .await);
    assert_eq!((context.client, context.user), (None, None));
}

/// Hash upgrades are compare-and-set: an imported Django hash is replaced only while it is the
/// one that was verified, and a missing record is never created.
pub(super) async fn replacing_a_hash_needs_the_expected_one<S: Store>(store: Arc<S>) {
    let django = "pbkdf2_sha256$1000$salt$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=";
    let mut legacy_client = client("app");
    legacy_client.secret_hash = django.into();
    let mut legacy_user = user("alice");
    legacy_user.password_hash = django.into();
    ok(store.create_client(&legacy_client).await);
    ok(store.create_user(&legacy_user).await);
    let stored = |store: Arc<S>| async move {
        let context = ok(store
            .password_grant_context(
                &support::client_id_of("app"),
                &support::username_of("alice"),
            )
            .await);
        (
            context.client.map(|c| c.secret_hash),
            context.user.map(|u| u.password_hash),
        )
    };

    // Another expected hash: nothing changes.
    assert_eq!(
        ok(store
            .replace_client_secret_hash(
                &support::client_id_of("app"),
                "pbkdf2_sha256$1$other$x",
                "$argon2id$new-secret"
            )
            .await),
        HashReplacement::Stale
    );
    assert_eq!(
        ok(store
            .replace_user_password_hash(
                &support::username_of("alice"),
                "",
                "$argon2id$new-password"
            )
            .await),
        HashReplacement::Stale
    );
    assert_eq!(
        stored(Arc::clone(&store)).await,
        (Some(django.to_owned()), Some(django.to_owned()))
    );

    // The expected hash: replaced, and only that attribute.
    assert_eq!(
        ok(store
            .replace_client_secret_hash(
                &support::client_id_of("app"),
                django,
                "$argon2id$new-secret"
            )
            .await),
        HashReplacement::Replaced
    );
    assert_eq!(
        ok(store
            .replace_user_password_hash(
                &support::username_of("alice"),
                django,
                "$argon2id$new-password"
            )
            .await),
        HashReplacement::Replaced
    );
    assert_eq!(
        stored(Arc::clone(&store)).await,
        (
            Some("$argon2id$new-secret".to_owned()),
            Some("$argon2id$new-password".to_owned())
        )
    );
    let upgraded = ok(store.client(&support::client_id_of("app")).await);
    assert_eq!(
        upgraded.map(|c| (c.name, c.scope, c.grant_types)),
        Some((
            legacy_client.name,
            legacy_client.scope,
            legacy_client.grant_types
        ))
    );

    // Once replaced, the old hash is no longer expected: a second upgrade is stale.
    assert_eq!(
        ok(store
            .replace_client_secret_hash(&support::client_id_of("app"), django, "$argon2id$again")
            .await),
        HashReplacement::Stale
    );
    assert_eq!(
        ok(store
            .replace_user_password_hash(&support::username_of("alice"), django, "$argon2id$again")
            .await),
        HashReplacement::Stale
    );
    assert_eq!(
        stored(Arc::clone(&store)).await,
        (
            Some("$argon2id$new-secret".to_owned()),
            Some("$argon2id$new-password".to_owned())
        )
    );

    // Missing or deleted records are not created.
    assert_eq!(
        ok(store
            .replace_client_secret_hash(&support::client_id_of("nope"), django, "h")
            .await),
        HashReplacement::Stale
    );
    assert_eq!(
        ok(store
            .replace_user_password_hash(&support::username_of("nobody"), django, "h")
            .await),
        HashReplacement::Stale
    );
    ok(store.delete_user(&support::username_of("alice")).await);
    assert_eq!(
        ok(store
            .replace_user_password_hash(
                &support::username_of("alice"),
                "$argon2id$new-password",
                "h"
            )
            .await),
        HashReplacement::Stale
    );
    assert_eq!(ok(store.client(&support::client_id_of("nope")).await), None);
    let context = ok(store
        .password_grant_context(
            &support::client_id_of("nope"),
            &support::username_of("nobody"),
        )
        .await);
    assert_eq!((context.client, context.user), (None, None));
    assert_eq!(
        ok(store
            .password_grant_context(
                &support::client_id_of("app"),
                &support::username_of("alice")
            )
            .await)
        .user,
        None
    );
}

/// Concurrent first logins of one user each verify the Django hash and try to store their own
/// Argon2id replacement: exactly one is stored, the others find it stale.
pub(super) async fn concurrent_hash_replacements_have_one_winner<S: Store>(store: Arc<S>) {
    let django = "pbkdf2_sha256$1000$salt$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=";
    let mut legacy_user = user("alice");
    legacy_user.password_hash = django.into();
    ok(store.create_user(&legacy_user).await);
    let mut attempts = tokio::task::JoinSet::new();
    for attempt in 0..8 {
        let store = Arc::clone(&store);
        attempts.spawn(async move {
            let replacement = format!("$argon2id$attempt-{attempt}");
            let outcome = ok(store
                .replace_user_password_hash(&support::username_of("alice"), django, &replacement)
                .await);
            (outcome, replacement)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = attempts.join_next().await {
        let (outcome, replacement) = joined.unwrap();
        if outcome == HashReplacement::Replaced {
            winners.push(replacement);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(
        ok(store
            .password_grant_context(&support::client_id_of(""), &support::username_of("alice"))
            .await)
        .user
        .map(|u| u.password_hash),
        winners.pop()
    );
}

/// `update_client` changes only the attributes given, returns the client as stored, and
/// never creates one.
pub(super) async fn clients_are_updated_in_place_and_never_created<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    // A secret replaced before the update stays: the update writes only what it changes.
    ok(store
        .set_client_secret_hash(&support::client_id_of("app"), "rotated-hash")
        .await);
    let renamed = ok(store
        .update_client(
            &support::client_id_of("app"),
            &ClientChanges {
                name: Some("Renamed".into()),
                ..ClientChanges::default()
            },
        )
        .await);
    let mut expected = client("app");
    expected.name = "Renamed".into();
    expected.secret_hash = "rotated-hash".into();
    assert_eq!(renamed, expected);
    assert_eq!(
        ok(store.client(&support::client_id_of("app")).await),
        Some(expected.clone())
    );

    let changes = ClientChanges {
        name: None,
        scope: Some(scope("read admin")),
        grant_types: Some(vec![GrantType::ClientCredentials]),
        token_format: Some(TokenFormat::Jwt),
        access_token_lifetime: Some(Some(300)),
        dpop: Some(DpopPolicy::Required),
        jwks: Some(Some(rfc_7517_key_set())),
    };
    let changed = ok(store
        .update_client(&support::client_id_of("app"), &changes)
        .await);
    expected.scope = scope("read admin");
    expected.grant_types = vec![GrantType::ClientCredentials];
    expected.access_tokens = AccessTokenPolicy {
        format: TokenFormat::Jwt,
        lifetime: Some(300),
        dpop: DpopPolicy::Required,
    };
    expected.jwks = Some(rfc_7517_key_set());
    assert_eq!(changed, expected);
    assert_eq!(
        ok(store.client(&support::client_id_of("app")).await),
        Some(expected.clone())
    );
    // No changes: the client as it is.
    assert_eq!(
        ok(store
            .update_client(&support::client_id_of("app"), &ClientChanges::default())
            .await),
        expected
    );

    for changes in [changes, ClientChanges::default()] {
        assert!(matches!(
            store
                .update_client(&support::client_id_of("nope"), &changes)
                .await,
            Err(StoreError::NotFound(_))
        ));
    }
    assert_eq!(ok(store.client(&support::client_id_of("nope")).await), None);
    ok(store.delete_client(&support::client_id_of("app")).await);
    assert!(matches!(
        store
            .update_client(
                &support::client_id_of("app"),
                &ClientChanges {
                    name: Some("Back".into()),
                    ..ClientChanges::default()
                }
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(ok(store.client(&support::client_id_of("app")).await), None);
}

/// Lists hold every client or user, in id or username order, whatever else is stored; on
/// DynamoDB they span many scan pages, some of them with no match.
pub(super) async fn clients_and_users_are_listed_in_order_across_pages<S: Store>(store: Arc<S>) {
    assert_eq!(ok(store.list_clients().await), []);
    assert_eq!(ok(store.list_users().await), []);
    let client_ids = ["m-app", "a-app", "z.app", "b-app", "A-app", "c-app", "app"];
    let usernames = [
        "mallory",
        "alice@example.com",
        "bob",
        "Zed",
        "carol",
        "dave",
    ];
    for client_id in client_ids {
        ok(store.create_client(&client(client_id)).await);
    }
    for username in usernames {
        ok(store.create_user(&user(username)).await);
    }
    // Tokens live in the other table and are never listed.
    ok(store
        .issue_token_pair(&pair("app", "bob", None), None)
        .await);

    let mut expected_clients: Vec<Client> = client_ids.into_iter().map(client).collect();
    expected_clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    let mut expected_users: Vec<User> = usernames.into_iter().map(user).collect();
    expected_users.sort_by(|a, b| a.username.cmp(&b.username));
    assert_eq!(ok(store.list_clients().await), expected_clients);
    assert_eq!(ok(store.list_users().await), expected_users);

    ok(store.delete_client(&support::client_id_of("b-app")).await);
    ok(store.delete_user(&support::username_of("Zed")).await);
    expected_clients.retain(|c| c.client_id != "b-app");
    expected_users.retain(|u| u.username != "Zed");
    assert_eq!(ok(store.list_clients().await), expected_clients);
    assert_eq!(ok(store.list_users().await), expected_users);
}

/// RFC 7517 appendix A.1's EC public key, as a client's private_key_jwt key set.
fn rfc_7517_key_set() -> ClientJwks {
    ClientJwks::parse(
        r#"{"keys": [{"kty": "EC", "crv": "P-256", "kid": "1",
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#,
    )
    .unwrap()
}

/// A JWT's `sub` is the username, or the client id for a client's own token: a name is one or
/// the other, never both, even when both are created at once.
pub(super) async fn a_client_and_a_user_never_share_a_name<S: Store>(store: Arc<S>) {
    ok(store.create_client(&client("app")).await);
    ok(store.create_user(&user("alice")).await);
    assert!(matches!(
        store.create_user(&user("app")).await,
        Err(StoreError::AlreadyExists(what)) if what.starts_with("client app ")
    ));
    assert!(matches!(
        store.create_client(&client("alice")).await,
        Err(StoreError::AlreadyExists(what)) if what.starts_with("user alice ")
    ));
    for name in ["both-1", "both-2", "both-3"] {
        let (as_client, as_user) = (client(name), user(name));
        let (created_client, created_user) =
            tokio::join!(store.create_client(&as_client), store.create_user(&as_user));
        assert!(
            created_client.is_ok() != created_user.is_ok(),
            "{name}: {created_client:?} {created_user:?}"
        );
    }
}
