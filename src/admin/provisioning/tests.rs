//! The use cases on the memory store.
use super::*;
use crate::admin::CHEAP_ARGON2 as CHEAP;
use crate::domain::model::{AccessTokenRecord, RefreshTokenRecord, TokenPair};
use crate::domain::names::{ClientId, Username};
use crate::domain::store::prelude::*;
use crate::domain::token::TokenHash;
use crate::store::MemoryStore;
use std::time::Duration;

fn verifier() -> CredentialVerifier {
    CredentialVerifier::new(CHEAP).unwrap_or_else(|error| panic!("{error}"))
}

/// No grant runs beside these tests: ending a client's logins need not wait for any.
fn admin() -> Admin<MemoryStore> {
    Admin::new(MemoryStore::new(), CHEAP).waiting_for_grants_in_flight(Duration::ZERO)
}

fn new_client(client_id: Option<&str>, secret: Option<&str>) -> NewClient {
    NewClient {
        jwks: None,
        client_id: client_id.map(|id| ClientId::parse(id).unwrap()),
        name: "App".into(),
        scope: Scope::parse("read write").unwrap_or_default(),
        grant_types: vec![GrantType::Password, GrantType::RefreshToken],
        access_tokens: Default::default(),
        secret: secret.map(Secret::new),
    }
}

async fn stored_client(admin: &Admin<MemoryStore>, client_id: &str) -> Client {
    admin
        .store
        .client(&ClientId::parse(client_id).unwrap())
        .await
        .unwrap_or_else(|error| panic!("{error}"))
        .unwrap_or_else(|| panic!("no client {client_id}"))
}

async fn secret_works(client: &Client, secret: &str) -> bool {
    verifier()
        .verify_client_secret(client, &[Secret::new(secret)])
        .await
        .is_ok_and(|verification| verification.matched())
}

async fn password_works(admin: &Admin<MemoryStore>, username: &str, password: &str) -> bool {
    let user = admin
        .store
        .user(&Username::parse(username).unwrap())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    verifier()
        .verify_password(user.as_ref(), &Secret::new(password))
        .await
        .is_ok_and(|verification| verification.matched())
}

/// A password grant's tokens, starting family `family_id`.
fn pair(client_id: &str, username: &str, family_id: &str) -> TokenPair {
    let access_token_hash = TokenHash::of(&Secret::new(format!("{family_id}-access")));
    TokenPair {
        access: AccessTokenRecord {
            token_hash: access_token_hash.clone(),
            client_id: ClientId::parse(client_id).unwrap(),
            username: Some(Username::parse(username).unwrap()),
            scope: Scope::default(),
            family_id: family_id.into(),
            issued_at: SystemClock.now(),
            expires_at: SystemClock.now() + 3600,
            jkt: None,
            audience: None,
        },
        refresh: RefreshTokenRecord {
            token_hash: TokenHash::of(&Secret::new(format!("{family_id}-refresh"))),
            family_secret: None,
            client_id: ClientId::parse(client_id).unwrap(),
            username: Username::parse(username).unwrap(),
            scope: Scope::default(),
            access_token_hash,
            family_id: family_id.into(),
            issued_at: SystemClock.now(),
            expires_at: None,
            jkt: None,
            client_version: None,
        },
    }
}

#[tokio::test]
async fn a_generated_secret_is_handed_over_and_a_given_one_is_not() {
    let admin = admin();
    let generated = admin
        .create_client(new_client(None, None))
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(generated.client.client_id.len(), CLIENT_ID_LENGTH);
    let secret = generated
        .generated_secret
        .unwrap_or_else(|| panic!("no secret"));
    assert_eq!(secret.expose().len(), CLIENT_SECRET_LENGTH);
    let stored = stored_client(&admin, &generated.client.client_id).await;
    assert_eq!(stored, generated.client);
    assert!(secret_works(&stored, secret.expose()).await);

    let given = admin
        .create_client(new_client(Some("app-1"), Some("kept-secret")))
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(given.generated_secret.is_none());
    assert!(secret_works(&stored_client(&admin, "app-1").await, "kept-secret").await);

    let taken = admin.create_client(new_client(Some("app-1"), None)).await;
    assert!(matches!(
        taken,
        Err(AdminError::Store(StoreError::AlreadyExists(_)))
    ));
}

#[tokio::test]
async fn rotating_a_secret_retires_the_old_one() {
    let admin = admin();
    let created = admin
        .create_client(new_client(Some("app-1"), Some("old-secret")))
        .await;
    assert!(created.is_ok());
    let (secret, revocation) = admin
        .rotate_client_secret(&ClientId::parse("app-1").unwrap(), false)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(matches!(revocation, Revocation::NotAsked));
    let stored = stored_client(&admin, "app-1").await;
    assert!(secret_works(&stored, secret.expose()).await);
    assert!(!secret_works(&stored, "old-secret").await);
    assert!(matches!(
        admin
            .rotate_client_secret(&ClientId::parse("nobody").unwrap(), true)
            .await,
        Err(AdminError::Store(StoreError::NotFound(_)))
    ));
}

#[tokio::test]
async fn users_get_and_change_passwords() {
    let admin = admin();
    let created = admin
        .create_user(&Username::parse("alice").unwrap(), &Secret::new("first"))
        .await;
    assert!(created.is_ok());
    assert!(password_works(&admin, "alice", "first").await);
    let changed = admin
        .set_password(
            &Username::parse("alice").unwrap(),
            &Secret::new("second"),
            false,
        )
        .await;
    assert!(matches!(changed, Ok(Revocation::NotAsked)));
    assert!(password_works(&admin, "alice", "second").await);
    assert!(!password_works(&admin, "alice", "first").await);
    assert!(matches!(
        admin
            .set_password(&Username::parse("bob").unwrap(), &Secret::new("pw"), true)
            .await,
        Err(AdminError::Store(StoreError::NotFound(_)))
    ));
}

#[tokio::test]
async fn deleting_revokes_the_tokens_of_the_client_or_user() {
    let admin = admin();
    let created = admin
        .create_client(new_client(Some("app-1"), Some("secret")))
        .await;
    assert!(created.is_ok());
    for username in ["alice", "bob"] {
        assert!(
            admin
                .create_user(&Username::parse(username).unwrap(), &Secret::new("pw"))
                .await
                .is_ok()
        );
    }
    for (username, family_id) in [
        ("alice", "family1"),
        ("alice", "family2"),
        ("bob", "family3"),
    ] {
        let issued = admin
            .store
            .issue_token_pair(&pair("app-1", username, family_id), None)
            .await;
        assert!(issued.is_ok());
    }
    let alice = FamilyOwner::User(Username::parse("alice").unwrap());
    let families = admin.token_families(&alice).await.unwrap_or_default();
    assert_eq!(families.len(), 2);

    let revoked = admin
        .delete_user(&Username::parse("alice").unwrap())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        revoked,
        Revoked {
            families: 2,
            tokens: 4
        }
    );
    assert!(
        admin
            .token_families(&alice)
            .await
            .unwrap_or_default()
            .is_empty()
    );

    let revoked = admin
        .delete_client(&ClientId::parse("app-1").unwrap())
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        revoked,
        Revoked {
            families: 1,
            tokens: 2
        }
    );
    assert!(matches!(
        admin
            .delete_client(&ClientId::parse("app-1").unwrap())
            .await,
        Err(AdminError::Store(StoreError::NotFound(_)))
    ));
    assert_eq!(admin.revoke_family("family3").await.ok(), Some(0));
}

#[tokio::test]
async fn replacing_a_secret_or_password_can_revoke_the_logins_made_before() {
    let admin = admin();
    let created = admin
        .create_client(new_client(Some("app-1"), Some("secret")))
        .await;
    assert!(created.is_ok());
    assert!(
        admin
            .create_user(&Username::parse("alice").unwrap(), &Secret::new("pw"))
            .await
            .is_ok()
    );
    for family_id in ["family1", "family2"] {
        let issued = admin
            .store
            .issue_token_pair(&pair("app-1", "alice", family_id), None)
            .await;
        assert!(issued.is_ok());
    }
    let revocation = admin
        .set_password(
            &Username::parse("alice").unwrap(),
            &Secret::new("new"),
            true,
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let both = Revoked {
        families: 2,
        tokens: 4,
    };
    assert_eq!(revocation.revoked(), Some(both));
    assert!(password_works(&admin, "alice", "new").await);

    let issued = admin
        .store
        .issue_token_pair(&pair("app-1", "alice", "family3"), None)
        .await;
    assert!(issued.is_ok());
    let (secret, revocation) = admin
        .rotate_client_secret(&ClientId::parse("app-1").unwrap(), true)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let one = Revoked {
        families: 1,
        tokens: 2,
    };
    assert_eq!(revocation.revoked(), Some(one));
    assert!(revocation.finish().is_ok());
    assert!(secret_works(&stored_client(&admin, "app-1").await, secret.expose()).await);
}

/// A login that authenticated with the old secret and is written after the rotation revoked
/// what was listed is revoked after the wait; only a rotation with `--revoke-tokens` moves
/// the client's credential version on.
#[tokio::test]
async fn a_rotation_revokes_the_logins_written_while_it_waits() {
    let admin = admin().waiting_for_grants_in_flight(Duration::from_millis(300));
    let created = admin
        .create_client(new_client(Some("app-1"), Some("secret")))
        .await;
    assert!(created.is_ok());
    let client_id = ClientId::parse("app-1").unwrap();
    let version = stored_client(&admin, "app-1").await.credential_version;
    assert!(admin.rotate_client_secret(&client_id, false).await.is_ok());
    assert_eq!(
        stored_client(&admin, "app-1").await.credential_version,
        version
    );
    let store = admin.store.clone();
    let in_flight = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        store
            .issue_token_pair(&pair("app-1", "alice", "late"), None)
            .await
    });
    let (_, revocation) = admin
        .rotate_client_secret(&client_id, true)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(matches!(in_flight.await, Ok(Ok(()))));
    let late = Revoked {
        families: 1,
        tokens: 2,
    };
    assert_eq!(revocation.revoked(), Some(late));
    let owner = FamilyOwner::Client(client_id);
    assert_eq!(admin.token_families(&owner).await.ok(), Some(Vec::new()));
    assert_eq!(
        stored_client(&admin, "app-1").await.credential_version,
        version + 1
    );
}

#[tokio::test]
async fn clients_and_users_are_shown_without_hashes_flagging_django_ones() {
    let admin = admin();
    let django = "pbkdf2_sha256$1000$salt$5VwgYKVgu0BDbJRRjYkMzENKzO1nKAIGJ93brUnGcB4=";
    let imported = Client {
        client_id: ClientId::parse("b-app").unwrap(),
        name: "Imported".into(),
        secret_hash: django.into(),
        scope: Scope::default(),
        grant_types: vec![GrantType::Password],
        access_tokens: Default::default(),
        created_at: 0,
        jwks: None,
        credential_version: 0,
    };
    let stored = admin.store.create_client(&imported).await;
    assert!(stored.is_ok());
    let created = admin
        .create_client(new_client(Some("a-app"), Some("secret")))
        .await;
    assert!(created.is_ok());
    let stored = admin
        .store
        .create_user(&User {
            username: Username::parse("bob").unwrap(),
            password_hash: django.into(),
            created_at: 0,
        })
        .await;
    assert!(stored.is_ok());
    assert!(
        admin
            .create_user(&Username::parse("alice").unwrap(), &Secret::new("pw"))
            .await
            .is_ok()
    );

    let clients = admin.list_clients().await.unwrap_or_default();
    let flags: Vec<(&str, bool)> = clients
        .iter()
        .map(|c| (c.client_id.as_str(), c.django_hash_pending_upgrade))
        .collect();
    assert_eq!(flags, [("a-app", false), ("b-app", true)]);
    let users = admin.list_users().await.unwrap_or_default();
    let flags: Vec<(&str, bool)> = users
        .iter()
        .map(|u| (u.username.as_str(), u.django_hash_pending_upgrade))
        .collect();
    assert_eq!(flags, [("alice", false), ("bob", true)]);
    assert_eq!(
        admin.show_user(&Username::parse("bob").unwrap()).await.ok(),
        users.get(1).cloned()
    );
    assert!(matches!(
        admin.show_client(&ClientId::parse("nobody").unwrap()).await,
        Err(AdminError::Store(StoreError::NotFound(_)))
    ));

    let changes = ClientChanges {
        name: Some("Renamed".into()),
        ..ClientChanges::default()
    };
    let updated = admin
        .update_client(&ClientId::parse("b-app").unwrap(), &changes)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(updated.name, "Renamed");
    assert_eq!(
        admin
            .show_client(&ClientId::parse("b-app").unwrap())
            .await
            .ok(),
        Some(updated)
    );
    assert_eq!(stored_client(&admin, "b-app").await.secret_hash, django);
    assert!(matches!(
        admin
            .update_client(&ClientId::parse("nobody").unwrap(), &changes)
            .await,
        Err(AdminError::Store(StoreError::NotFound(_)))
    ));
}

#[tokio::test]
async fn invalid_argon2_settings_fail_only_the_use_cases_that_hash() {
    let admin = Admin::new(
        MemoryStore::new(),
        Argon2Settings {
            memory_kib: 1,
            ..CHEAP
        },
    );
    assert!(matches!(
        admin
            .create_user(&Username::parse("alice").unwrap(), &Secret::new("pw"))
            .await,
        Err(AdminError::Hashing(_))
    ));
    assert!(matches!(
        admin
            .import("[]", &ImportOptions::new(Scope::default()))
            .await,
        Err(AdminError::Hashing(_))
    ));
    let owner = FamilyOwner::Client(ClientId::parse("app-1").unwrap());
    assert_eq!(
        admin.revoke_tokens(&owner).await.ok(),
        Some(Revoked::default())
    );
}

/// RFC 7517 appendix A.1's EC public key as a JWK Set.
fn key_set() -> ClientJwks {
    ClientJwks::parse(
        r#"{"keys": [{"kty": "EC", "crv": "P-256", "kid": "1",
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#,
    )
    .unwrap_or_else(|error| panic!("{error}"))
}

#[tokio::test]
async fn a_client_moves_from_its_secret_to_keys_and_back_never_left_with_neither() {
    let admin = admin();
    let keys_only = NewClient {
        jwks: Some(key_set()),
        ..new_client(Some("signer"), None)
    };
    let created = admin.create_client(keys_only).await.unwrap();
    assert!(created.generated_secret.is_none());
    let signer = stored_client(&admin, "signer").await;
    assert!(!signer.has_secret() && signer.jwks == Some(key_set()));
    let signer = ClientId::parse("signer").unwrap();
    let to_secret = admin
        .settle_auth_method(&signer, ClientAuthMethod::ClientSecret)
        .await;
    assert!(matches!(to_secret, Err(AdminError::NoCredentialLeft)));

    let created = admin.create_client(new_client(Some("app"), None)).await;
    let secret = created.unwrap().generated_secret.unwrap();
    let app = ClientId::parse("app").unwrap();
    let to_keys = admin
        .settle_auth_method(&app, ClientAuthMethod::PrivateKeyJwt)
        .await;
    assert!(matches!(to_keys, Err(AdminError::NoCredentialLeft)));
    let with_keys = ClientChanges {
        jwks: Some(Some(key_set())),
        ..ClientChanges::default()
    };
    admin.update_client(&app, &with_keys).await.unwrap();
    // Rotating: both work.
    let rotating = stored_client(&admin, "app").await;
    assert!(rotating.jwks.is_some() && secret_works(&rotating, secret.expose()).await);
    admin
        .settle_auth_method(&app, ClientAuthMethod::PrivateKeyJwt)
        .await
        .unwrap();
    let moved = stored_client(&admin, "app").await;
    assert!(moved.jwks.is_some() && !moved.has_secret());
}
