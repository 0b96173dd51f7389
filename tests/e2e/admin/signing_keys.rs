//! The JWT signing key commands of `oauth-admin`: `create-tables` makes the KMS key and a first
//! signing key, `create-client`/`update-client --token-format jwt` make one where a deployment
//! has none, `rotate-signing-key` publishes the next key before it signs, even when two run at
//! once, `revoke-signing-key` withdraws one, and `list-signing-keys` shows them, never a private
//! key.

use std::collections::BTreeSet;

use serde_json::Value;
use token_endpoint::config::DEFAULT_SIGNING_KEY_KMS_KEY;
use token_endpoint::domain::clock::{Clock as _, SystemClock};
use token_endpoint::domain::signing::{KeySetStore as _, KeyVault as _, SigningKey};
use token_endpoint::store::dynamodb::TableNames;
use token_endpoint::vault::{KmsVault, ensure_kms_key};

use super::{Run, admin, finished, start_admin, store, text};

fn rotate(tables: &TableNames, delay: &str) -> Value {
    admin(
        tables,
        &["rotate-signing-key", "--propagation-delay", delay],
        None,
    )
    .json()
}

/// `list-signing-keys`' version, and each key's kid and status.
fn listed(tables: &TableNames) -> (u64, Vec<(String, String)>) {
    let listed = admin(tables, &["list-signing-keys"], None).json();
    let keys = listed["keys"].as_array().expect("keys").iter();
    let keys = keys
        .map(|key| {
            let mut fields: Vec<&str> = key
                .as_object()
                .expect("a key")
                .keys()
                .map(String::as_str)
                .collect();
            fields.sort_unstable();
            // Never anything of the private key.
            let expected = ["created_at", "kid", "signs_from", "status"];
            assert!(
                fields == expected || fields == [&expected[..], &["retired_at"]].concat(),
                "{key}"
            );
            (text(key, "kid"), text(key, "status"))
        })
        .collect();
    (listed["version"].as_u64().expect("version"), keys)
}

fn kids(values: &Value) -> BTreeSet<String> {
    values
        .as_array()
        .expect("a list of kids")
        .iter()
        .map(|kid| kid.as_str().expect("a kid").to_owned())
        .collect()
}

#[tokio::test]
async fn create_tables_makes_a_kms_sealed_key_a_rotation_publishes_the_next_first_and_a_revocation_replaces_the_signing_one()
 {
    support::require!(Moto);
    let tables = support::unique_tables();
    let created = admin(&tables, &["create-tables"], None).json();
    let first = text(&created, "signing_key");
    assert_eq!(
        listed(&tables),
        (1, vec![(first.clone(), "signing".into())])
    );
    // Sealed by the KMS key create-tables made, under its kid.
    let stored = store(&tables)
        .signing_keys()
        .await
        .expect("reading the keys");
    let vault = KmsVault::new(support::kms_client(), DEFAULT_SIGNING_KEY_KMS_KEY);
    let unsealed = vault
        .unseal(&first, &stored.keys[0].sealed_private)
        .await
        .expect("unsealing with KMS");
    assert!(SigningKey::from_private_der(&first, &unsealed).is_ok());

    let before = SystemClock.now();
    let rotated = rotate(&tables, "3600");
    let next = text(&rotated, "kid");
    let signs_from = rotated["signs_from"].as_u64().expect("signs_from");
    assert!((before + 3600..=SystemClock.now() + 3600).contains(&signs_from));
    assert_eq!(kids(&rotated["kept"]), BTreeSet::from([first.clone()]));
    assert_eq!(
        (&rotated["pruned"], &rotated["retries"]),
        (&Value::from(Vec::<String>::new()), &Value::from(0))
    );
    assert_eq!(
        listed(&tables),
        (
            2,
            vec![
                (first.clone(), "signing".into()),
                (next.clone(), "pending".into())
            ]
        )
    );

    // A leaked signing key: withdrawn, and a new key signs in its place; the pending one
    // still starts when it was to.
    let revoked = admin(&tables, &["revoke-signing-key", &first], None).json();
    assert_eq!(text(&revoked, "kid"), first);
    let replacement = text(&revoked, "replacement");
    assert_eq!(
        listed(&tables),
        (
            3,
            vec![(replacement, "signing".into()), (next, "pending".into())]
        )
    );
    admin(&tables, &["revoke-signing-key", &first], None).fails(1, "does not exist");
}

#[tokio::test]
async fn concurrent_rotations_both_land_on_one_set() {
    support::require!(Moto);
    let tables = support::unique_tables();
    let first = text(
        &admin(&tables, &["create-tables"], None).json(),
        "signing_key",
    );
    let args = ["rotate-signing-key", "--propagation-delay", "3600"];
    let endpoint = support::moto_endpoint();
    let children = [0, 1].map(|_| start_admin(&tables, endpoint, &args, None));
    let runs: Vec<Run> = children.into_iter().map(finished).collect();
    let rotations: Vec<Value> = runs.iter().map(Run::json).collect();
    // One read the set the other had just saved, or saved again after a conflict: either
    // way each saved a version of its own.
    let versions: BTreeSet<u64> = rotations
        .iter()
        .map(|rotated| rotated["version"].as_u64().expect("version"))
        .collect();
    assert_eq!(versions, BTreeSet::from([2, 3]), "{rotations:?}");
    // A rotation replaces a pending key that would start no earlier than its own (both chose
    // the same second): the later one says so.
    let mut expected = BTreeSet::from([first]);
    let superseded: BTreeSet<String> = rotations
        .iter()
        .flat_map(|rotated| kids(&rotated["superseded"]))
        .collect();
    for rotated in &rotations {
        assert!(kids(&rotated["pruned"]).is_empty(), "{rotated}");
        let kid = text(rotated, "kid");
        if !superseded.contains(&kid) {
            expected.insert(kid);
        }
    }
    let (version, keys) = listed(&tables);
    let stored: Vec<&String> = keys.iter().map(|(kid, _)| kid).collect();
    assert_eq!(version, 3);
    assert_eq!(stored.len(), expected.len(), "no key twice: {keys:?}");
    assert_eq!(
        stored.into_iter().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    assert!((2..=3).contains(&expected.len()), "{keys:?}");
}

#[tokio::test]
async fn a_jwt_client_gets_a_signing_key_where_create_tables_never_ran() {
    support::require!(Moto);
    // As `sam deploy` leaves it: the tables and the KMS key, no signing key.
    let tables = support::dynamo_store().await.tables().clone();
    ensure_kms_key(&support::kms_client(), DEFAULT_SIGNING_KEY_KMS_KEY)
        .await
        .expect("the KMS key");
    let create = |format: &str| {
        let args = [
            "create-client",
            "--name",
            "App",
            "--scope",
            "read",
            "--grant-types",
            "client_credentials",
            "--token-format",
            format,
        ];
        admin(&tables, &args, None).json()
    };
    let opaque = create("opaque");
    assert_eq!(listed(&tables), (0, vec![]));

    let client_id = text(&opaque, "client_id");
    let update = [
        "update-client",
        "--client-id",
        &client_id,
        "--token-format",
        "jwt",
        "--access-token-lifetime",
        "600",
    ];
    let run = admin(&tables, &update, None);
    let updated = run.json();
    assert_eq!(
        (&updated["token_format"], &updated["access_token_lifetime"]),
        (&Value::from("jwt"), &Value::from(600))
    );
    let (version, keys) = listed(&tables);
    assert_eq!((version, keys.len()), (1, 1));
    assert!(run.stderr.contains(&keys[0].0), "{}", run.stderr);

    let jwt = create("jwt");
    assert_eq!(jwt["token_format"], "jwt");
    assert_eq!(listed(&tables), (version, keys));
}
