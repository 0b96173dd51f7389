//! `oauth-admin` for key-based clients: a private_key_jwt client registered from a JWK Set
//! (no secret), its keys rotated, a move between secret and keys that never leaves a client
//! with neither, and the DPoP policy of `--dpop`.

use support::dpop::ClientKey;
use token_endpoint::domain::jose::ClientJwks;
use token_endpoint::domain::model::DpopPolicy;
use token_endpoint::domain::store::prelude::*;

use token_endpoint::domain::Client;
use token_endpoint::store::dynamodb::TableNames;

use super::{admin, create_client, provisioned_tables, store, text};

async fn stored(tables: &TableNames, client_id: &str) -> Client {
    let client_id = support::client_id_of(client_id);
    store(tables).client(&client_id).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_private_key_jwt_client_is_registered_from_its_keys_and_rotates_them() {
    support::require!(Moto);
    let tables = provisioned_tables();
    let (key, next) = (ClientKey::es256(), ClientKey::es256());
    let create = [
        "create-client",
        "--name",
        "Payouts",
        "--scope",
        "payouts",
        "--grant-types",
        "client_credentials",
        "--auth-method",
        "private_key_jwt",
        "--dpop",
        "required",
    ];
    admin(&tables, &create, None).fails(2, "--jwks-file");
    let with_keys = [create.as_slice(), &["--jwks-file", "-"]].concat();
    let created = admin(&tables, &with_keys, Some(&key.jwks())).json();
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(
        created["auth_methods"],
        serde_json::json!(["private_key_jwt"])
    );
    assert_eq!(created["dpop"], "required");
    let client_id = text(&created, "client_id");
    let client = stored(&tables, &client_id).await;
    assert!(!client.has_secret());
    assert_eq!(client.jwks, ClientJwks::parse(&key.jwks()).ok());
    assert_eq!(client.access_tokens.dpop, DpopPolicy::Required);

    // Without a secret it cannot drop its keys.
    let to_secret = [
        "update-client",
        "--client-id",
        &client_id,
        "--auth-method",
        "client_secret_basic",
    ];
    admin(&tables, &to_secret, None).fails(2, "--auth-method");
    let rotate = [
        "update-client",
        "--client-id",
        &client_id,
        "--jwks-file",
        "-",
        "--dpop",
        "allowed",
    ];
    let updated = admin(&tables, &rotate, Some(&next.jwks())).json();
    assert!(
        updated.get("dpop").is_none(),
        "the default is not shown: {updated}"
    );
    assert_eq!(
        stored(&tables, &client_id).await.jwks,
        ClientJwks::parse(&next.jwks()).ok()
    );

    // A secret client adds keys, then drops its secret.
    let (secret_client, _) = create_client(&tables);
    let add_keys = [
        "update-client",
        "--client-id",
        &secret_client,
        "--jwks-file",
        "-",
    ];
    let both = admin(&tables, &add_keys, Some(&key.jwks())).json();
    assert_eq!(
        both["auth_methods"],
        serde_json::json!(["client_secret_basic", "private_key_jwt"])
    );
    let to_keys = [
        "update-client",
        "--client-id",
        &secret_client,
        "--auth-method",
        "private_key_jwt",
    ];
    let moved = admin(&tables, &to_keys, None).json();
    assert_eq!(
        moved["auth_methods"],
        serde_json::json!(["private_key_jwt"])
    );
}
