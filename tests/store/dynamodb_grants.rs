//! The token endpoint end to end on a real DynamoDB-compatible server (moto): the grants
//! through the router, the calls each grant makes, and concurrent use of one refresh token.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, IndexStatus, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use axum::http::StatusCode;
use serde_json::Value;
use support::http::{Auth, DPOP_TOKEN_URL, token_request, with_dpop_proof};
use support::operation_log::OperationLog;
use token_endpoint::domain::model::{
    AccessTokenRecord, FamilyOwner, RefreshTokenRecord, TokenPair,
};
use token_endpoint::domain::store::prelude::*;
use token_endpoint::domain::token::{TokenHash, new_token, random_alphanumeric};
use token_endpoint::domain::{GrantType, Scope, TokenService};
use token_endpoint::store::DynamoStore;
use token_endpoint::telemetry::StoreTime;

struct App {
    service: Arc<TokenService<DynamoStore>>,
    operations: OperationLog,
}

const CLIENT_ID: &str = "app";
const CLIENT_SECRET: &str = "app-secret-0123456789";

async fn spawn_app() -> App {
    let operations = OperationLog::default();
    let store = DynamoStore::new(operations.client(), support::unique_tables());
    store.create_tables().await.expect("creating tables");
    let service = support::service(store, &support::test_config());
    support::add_client(
        &service,
        CLIENT_ID,
        CLIENT_SECRET,
        "read write payouts",
        GrantType::ALL,
    )
    .await;
    support::add_user(&service, "alice", "correct horse").await;
    operations.take();
    App {
        service,
        operations,
    }
}

impl App {
    async fn post(&self, form: &str) -> (StatusCode, Value) {
        self.post_with_proof(form, None).await
    }

    /// `POST /o/token/` of `form`, with a DPoP `proof` if given.
    async fn post_with_proof(&self, form: &str, proof: Option<&str>) -> (StatusCode, Value) {
        let mut request = token_request(form, Auth::BasicRaw(CLIENT_ID, CLIENT_SECRET));
        if let Some(proof) = proof {
            request = with_dpop_proof(request, proof);
        }
        support::serve_json(&self.service, request).await
    }

    async fn password_grant(&self) -> Value {
        let (status, body) = self
            .post("grant_type=password&username=alice&password=correct+horse")
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

fn field<'a>(body: &'a Value, name: &str) -> &'a str {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

#[tokio::test]
async fn password_refresh_and_reuse_on_dynamodb() {
    support::require!(Moto);
    let app = spawn_app().await;
    let first = app.password_grant().await;
    assert_eq!(first["expires_in"], 3600);
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["scope"], "read write payouts");

    let refresh = format!(
        "grant_type=refresh_token&refresh_token={}",
        field(&first, "refresh_token")
    );
    let (status, second) = app.post(&refresh).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(
        field(&second, "access_token"),
        field(&first, "access_token")
    );
    assert_ne!(
        field(&second, "refresh_token"),
        field(&first, "refresh_token")
    );

    // Presented again while its successor is unused, the used refresh token answers the same
    // pair; once the successor is used, presenting it again revokes the login.
    let (status, mut retried) = app.post(&refresh).await;
    // What is left of the access token's life: a second less if the clock ticked between.
    let left = |body: &Value| body["expires_in"].as_u64().unwrap_or_default();
    assert!(
        left(&second).saturating_sub(left(&retried)) <= 1,
        "{retried} after {second}"
    );
    retried["expires_in"] = second["expires_in"].clone();
    assert_eq!((status, &retried), (StatusCode::OK, &second));
    let next = format!(
        "grant_type=refresh_token&refresh_token={}",
        field(&second, "refresh_token")
    );
    let (status, third) = app.post(&next).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, reused) = app.post(&refresh).await;
    assert_eq!(
        (status, reused),
        (
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "invalid_grant"})
        )
    );
    let last = format!(
        "grant_type=refresh_token&refresh_token={}",
        field(&third, "refresh_token")
    );
    assert_eq!(app.post(&last).await.0, StatusCode::BAD_REQUEST, "revoked");
}

#[tokio::test]
async fn the_access_token_issued_with_a_used_refresh_token_is_revoked() {
    support::require!(Moto);
    let app = spawn_app().await;
    let first = app.password_grant().await;
    let store = app.service.store();
    let access_token = token_endpoint::domain::Secret::from(field(&first, "access_token"));
    let access = token_endpoint::domain::lifecycle::token_key(&access_token);
    let now =
        token_endpoint::domain::clock::Clock::now(&token_endpoint::domain::clock::SystemClock);
    assert!(
        token_endpoint::domain::store::AccessTokenStore::access_token(store, &access, now)
            .await
            .ok()
            .flatten()
            .is_some()
    );
    let refresh = format!(
        "grant_type=refresh_token&refresh_token={}",
        field(&first, "refresh_token")
    );
    assert_eq!(app.post(&refresh).await.0, StatusCode::OK);
    assert!(
        token_endpoint::domain::store::AccessTokenStore::access_token(store, &access, now)
            .await
            .ok()
            .flatten()
            .is_none()
    );
}

#[tokio::test]
async fn each_grant_makes_one_read_and_one_write() {
    support::require!(Moto);
    let app = spawn_app().await;
    // The password grant takes its attempt beside the read, and settles it (clearing the
    // failures, marking the address known) and registers the login on its user beside the
    // write of its family: five calls, two sequential round trips, no transaction.
    let issued = app.password_grant().await;
    assert_eq!(
        app.operations.take_rounds(),
        (
            strings(&[
                "BatchGetItem",
                "PutItem",
                "UpdateItem",
                "UpdateItem",
                "UpdateItem"
            ]),
            2
        )
    );

    let refresh = format!(
        "grant_type=refresh_token&refresh_token={}",
        field(&issued, "refresh_token")
    );
    assert_eq!(app.post(&refresh).await.0, StatusCode::OK);
    // A refresh is one conditional update of its family.
    assert_eq!(
        app.operations.take_rounds(),
        (strings(&["BatchGetItem", "UpdateItem"]), 2)
    );

    // A wrong password issues nothing; the second round, one update, counts the failure for the
    // address (locking it if due) and for the username.
    let (status, _) = app
        .post("grant_type=password&username=alice&password=wrong")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let wrong = app.operations.take_rounds();
    assert_eq!(
        wrong,
        (strings(&["BatchGetItem", "UpdateItem", "UpdateItem"]), 2)
    );
    // An unknown user costs exactly the same.
    let (status, _) = app
        .post("grant_type=password&username=nobody&password=wrong")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.operations.take_rounds(), wrong);

    // Other refusals stop after the read.
    let (status, _) = app
        .post("grant_type=refresh_token&refresh_token=unknown")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.operations.take(), ["BatchGetItem"]);
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

/// The tally behind each request's log line and metrics agrees with the calls DynamoDB saw.
#[tokio::test]
async fn the_request_tally_counts_every_dynamodb_call() {
    support::require!(Moto);
    let app = spawn_app().await;
    let tally = |path: &'static str, form: String| {
        let app = &app;
        async move {
            let request = support::http::post_request(
                path,
                Some(support::http::FORM),
                form,
                Auth::BasicRaw(CLIENT_ID, CLIENT_SECRET),
            );
            let reply = support::http::send(support::http::router(&app.service), request).await;
            let store = reply
                .extensions
                .get::<StoreTime>()
                .copied()
                .unwrap_or_else(|| panic!("{path}: no tally on the response"));
            // Revocation answers with an empty body.
            let body = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
            (reply.status, store, body)
        }
    };
    let (status, store, issued) = tally(
        "/o/token/",
        "grant_type=password&username=alice&password=correct+horse".into(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(store.calls, 5);
    assert!(store.elapsed > Duration::ZERO);
    assert_eq!(app.operations.take().len(), 5);

    let refresh = format!(
        "grant_type=refresh_token&refresh_token={}",
        field(&issued, "refresh_token")
    );
    let (status, store, refreshed) = tally("/o/token/", refresh).await;
    assert_eq!((status, store.calls), (StatusCode::OK, 2));
    assert_eq!(app.operations.take().len(), 2);

    let access = field(&refreshed, "access_token").to_owned();
    for (path, form, calls) in [
        ("/o/token/", "grant_type=client_credentials".to_owned(), 2),
        ("/o/introspect/", format!("token={access}"), 1),
        // A revocation reads the token's family, then deletes it.
        ("/o/revoke_token/", format!("token={access}"), 2),
        // Nothing left to revoke: the read finds nothing.
        ("/o/revoke_token/", format!("token={access}"), 1),
    ] {
        let (status, store, _) = tally(path, form).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(store.calls, calls, "{path}");
        assert_eq!(app.operations.take().len(), calls as usize, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_token_converge_on_one_pair() {
    support::require!(Moto);
    let app = Arc::new(spawn_app().await);
    let issued = app.password_grant().await;
    let refresh = format!(
        "grant_type=refresh_token&refresh_token={}",
        field(&issued, "refresh_token")
    );

    let attempts: Vec<_> = (0..50)
        .map(|_| {
            let (app, refresh) = (Arc::clone(&app), refresh.clone());
            tokio::spawn(async move { app.post(&refresh).await })
        })
        .collect();
    let mut answers = Vec::new();
    for attempt in attempts {
        let (status, body) = attempt.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        answers.push((
            field(&body, "access_token").to_owned(),
            field(&body, "refresh_token").to_owned(),
        ));
    }
    answers.dedup();
    assert_eq!(answers.len(), 1, "every duplicate gets the one pair");
    let stored = support::dynamodb_client()
        .scan()
        .table_name(&app.service.store().tables().tokens)
        .send()
        .await
        .unwrap();
    // The family (its live pair and the used token) and the login's address record: the
    // rotation happened once.
    assert_eq!(stored.count(), 2);

    // The pair's refresh token works.
    let next = format!("grant_type=refresh_token&refresh_token={}", answers[0].1);
    assert_eq!(app.post(&next).await.0, StatusCode::OK);
}

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    support::require!(Moto);
    let app = spawn_app().await;
    let issued = app.password_grant().await;
    let scan = support::dynamodb_client()
        .scan()
        .table_name(&app.service.store().tables().tokens)
        .send()
        .await
        .unwrap();
    let dump = format!("{:?}", scan.items());
    // The family, which holds the access and refresh token's hashes, and the address the login
    // came from (known now; its key is a digest).
    assert_eq!(scan.count(), 2);
    for token in [
        field(&issued, "access_token"),
        field(&issued, "refresh_token"),
    ] {
        assert!(!dump.contains(token), "a plaintext token is stored");
    }
    assert!(
        dump.contains("expires_at"),
        "access tokens carry the TTL attribute"
    );
}

/// A password attempt record missing its expiry, as moto lets a read see one that a concurrent
/// `UpdateItem` is still creating, fails safe: the grant answers 503 with `Retry-After`, not
/// 500. The username's one record is read back by the attempt's conditional update.
#[tokio::test]
async fn an_attempt_record_missing_its_expiry_answers_503() {
    support::require!(Moto);
    for kind in ["login"] {
        let app = spawn_app().await;
        let (status, body) = app
            .post("grant_type=password&username=alice&password=wrong")
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{kind}: {body}");
        let client = support::dynamodb_client();
        let tokens = &app.service.store().tables().tokens;
        let records = client
            .scan()
            .table_name(tokens)
            .filter_expression("kind = :kind")
            .expression_attribute_values(":kind", AttributeValue::S(kind.to_owned()))
            .send()
            .await
            .unwrap();
        assert_eq!(records.count(), 1, "{kind}");
        for record in records.items() {
            client
                .update_item()
                .table_name(tokens)
                .key("pk", record["pk"].clone())
                .update_expression("REMOVE expires_at")
                .send()
                .await
                .unwrap();
        }

        let request = token_request(
            "grant_type=password&username=alice&password=correct+horse",
            Auth::BasicRaw(CLIENT_ID, CLIENT_SECRET),
        );
        let reply = support::http::send(support::http::router(&app.service), request).await;
        assert_eq!(
            (reply.status, reply.json()),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"error": "temporarily_unavailable"})
            ),
            "{kind}"
        );
        assert!(reply.headers.contains_key("retry-after"), "{kind}");
    }
}

/// The family indexes of `table`, with their key attributes and status.
async fn family_indexes(table: &str) -> Vec<(String, Vec<String>, Option<IndexStatus>)> {
    let description = support::dynamodb_client()
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap_or_else(|e| panic!("describing {table}: {e}"));
    let mut indexes: Vec<_> = description
        .table()
        .map(|table| table.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .map(|index| {
            (
                index.index_name().unwrap_or_default().to_owned(),
                index
                    .key_schema()
                    .iter()
                    .map(|key| format!("{} {}", key.attribute_name(), key.key_type()))
                    .collect(),
                index.index_status().cloned(),
            )
        })
        .collect();
    indexes.sort();
    indexes
}

#[tokio::test]
async fn create_tables_adds_the_family_indexes_to_an_older_tokens_table() {
    support::require!(Moto);
    // The tokens table as an earlier version created it: keyed by `pk`, without indexes.
    let tables = support::unique_tables();
    let attribute = |name: &str, kind| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .unwrap()
    };
    support::dynamodb_client()
        .create_table()
        .table_name(&tables.tokens)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk", ScalarAttributeType::S))
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("creating the old tokens table");
    assert_eq!(family_indexes(&tables.tokens).await, vec![]);

    let operations = OperationLog::default();
    let store = DynamoStore::new(operations.client(), tables.clone());
    // A family written before the upgrade (by new code on the old table) is indexed too.
    let now = 1_800_000_000;
    let before = pair("app", "alice", now);
    store.issue_token_pair(&before, None).await.unwrap();

    store.create_tables().await.expect("upgrading the tables");
    let expected = vec![
        (
            "families_by_client".to_owned(),
            vec![
                "family_client HASH".to_owned(),
                "created_at RANGE".to_owned(),
            ],
            Some(IndexStatus::Active),
        ),
        (
            "families_by_user".to_owned(),
            vec!["family_user HASH".to_owned(), "created_at RANGE".to_owned()],
            Some(IndexStatus::Active),
        ),
    ];
    assert_eq!(family_indexes(&tables.tokens).await, expected);
    let upgrade = operations.take();
    assert_eq!(
        upgrade.iter().filter(|op| *op == "UpdateTable").count(),
        2,
        "one index per UpdateTable: {upgrade:?}"
    );

    // Running it again changes nothing.
    store
        .create_tables()
        .await
        .expect("running create_tables again");
    let again = operations.take();
    assert!(
        !again
            .iter()
            .any(|op| op == "UpdateTable" || op == "UpdateTimeToLive"),
        "{again:?}"
    );
    assert_eq!(family_indexes(&tables.tokens).await, expected);

    // The indexes answer for families written before and after the upgrade.
    let after = pair("app", "alice", now + 1);
    store.issue_token_pair(&after, None).await.unwrap();
    let own = AccessTokenRecord {
        token_hash: TokenHash::of(&new_token().unwrap()),
        client_id: support::client_id_of("app"),
        username: None,
        scope: Scope::parse("read").expect("scope"),
        family_id: random_alphanumeric(12).unwrap(),
        issued_at: now + 2,
        expires_at: now + 3602,
        jkt: None,
        audience: None,
    };
    store.issue_access_token(&own, 0).await.unwrap();
    let family_ids = |owner: FamilyOwner| {
        let store = store.clone();
        async move {
            store
                .token_families(&owner, now + 10)
                .await
                .unwrap()
                .into_iter()
                .map(|family| family.family_id)
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(
        family_ids(FamilyOwner::User(support::username_of("alice"))).await,
        [before.refresh.family_id.as_str(), &after.refresh.family_id]
    );
    assert_eq!(
        family_ids(FamilyOwner::Client(support::client_id_of("app"))).await,
        [
            before.refresh.family_id.as_str(),
            &after.refresh.family_id,
            &own.family_id
        ]
    );
}

/// A pair for `client_id`/`username` issued at `issued_at`, starting a family.
pub(crate) fn pair(client_id: &str, username: &str, issued_at: u64) -> TokenPair {
    let hash = || TokenHash::of(&new_token().unwrap());
    let family_id = random_alphanumeric(12).unwrap();
    let access = AccessTokenRecord {
        token_hash: hash(),
        client_id: support::client_id_of(client_id),
        username: Some(support::username_of(username)),
        scope: Scope::parse("read").expect("scope"),
        family_id: family_id.clone(),
        issued_at,
        expires_at: issued_at + 3600,
        jkt: None,
        audience: None,
    };
    let refresh = RefreshTokenRecord {
        token_hash: hash(),
        client_id: support::client_id_of(client_id),
        username: support::username_of(username),
        scope: access.scope.clone(),
        access_token_hash: access.token_hash.clone(),
        family_id,
        family_secret: None,
        issued_at,
        expires_at: None,
        jkt: None,
        client_version: None,
    };
    TokenPair { access, refresh }
}

/// What each grant costs, priced from the items it reads and writes (see
/// `support::capacity`): within the budget of issue 21 (refresh ≤ 3 write and ≤ 2 read units,
/// password ≤ 5 write units with the attempt bookkeeping, client credentials ≤ 2), in two
/// sequential round trips each. `--nocapture` prints the figures docs/operations.md quotes.
#[tokio::test]
async fn each_grant_stays_within_its_capacity_budget() {
    use support::capacity::{CapacityMeter, Snapshot, Units};
    support::require!(Moto);
    let (operations, meter) = (OperationLog::default(), CapacityMeter::default());
    let config = support::dynamodb_config(support::moto_endpoint())
        .interceptor(operations.clone())
        .interceptor(meter.clone())
        .build();
    let tables = support::unique_tables();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), tables.clone());
    store.create_tables().await.expect("creating tables");
    let service = support::service(store, &support::test_config());
    support::add_client(
        &service,
        CLIENT_ID,
        CLIENT_SECRET,
        "read write payouts",
        GrantType::ALL,
    )
    .await;
    support::add_user(&service, "alice", "correct horse").await;
    let app = App {
        service,
        operations,
    };
    let names = [tables.credentials.as_str(), tables.tokens.as_str()];
    let priced_with = |form: String, proof: Option<String>| {
        let (app, meter) = (&app, &meter);
        async move {
            app.operations.take();
            meter.reset();
            let before = Snapshot::of(&names).await;
            let (status, body) = app.post_with_proof(&form, proof.as_deref()).await;
            let after = Snapshot::of(&names).await;
            let units: Units = meter.price(&before, &after);
            let (_, rounds) = app.operations.take_rounds();
            (status, body, units, rounds)
        }
    };
    let priced = |form: String| priced_with(form, None);

    let (status, login, password, rounds) =
        priced("grant_type=password&username=alice&password=correct+horse".into()).await;
    assert_eq!((status, rounds), (StatusCode::OK, 2), "{login}");
    eprintln!("password grant: {password:?}");
    assert!(password.write <= 5.0, "password grant: {password:?}");
    let mut refresh_token = field(&login, "refresh_token").to_owned();
    for n in 1..=2 {
        let form = format!("grant_type=refresh_token&refresh_token={refresh_token}");
        let (status, body, refresh, rounds) = priced(form).await;
        assert_eq!((status, rounds), (StatusCode::OK, 2), "{body}");
        eprintln!("refresh {n}: {refresh:?}");
        assert!(
            refresh.write <= 3.0 && refresh.read <= 2.0,
            "refresh: {refresh:?}"
        );
        refresh_token = field(&body, "refresh_token").to_owned();
    }
    // A proof costs its jti's record, one put before the grant's two rounds, and stays within
    // the refresh's budget.
    let key = support::dpop::ClientKey::es256();
    let now =
        token_endpoint::domain::clock::Clock::now(&token_endpoint::domain::clock::SystemClock);
    let proof = key.proof("POST", DPOP_TOKEN_URL, now, None);
    let form = format!("grant_type=refresh_token&refresh_token={refresh_token}");
    let (status, body, refresh, rounds) = priced_with(form, Some(proof)).await;
    assert_eq!((status, rounds), (StatusCode::OK, 3), "{body}");
    assert_eq!(body["token_type"], "DPoP");
    eprintln!("refresh with a DPoP proof: {refresh:?}");
    assert!(
        refresh.write <= 3.0 && refresh.read <= 2.0,
        "refresh with a DPoP proof: {refresh:?}"
    );
    // A user who logs in often costs no more: their item keeps at most 16 registrations (40,
    // of about 34 bytes each, would take it over 1 KB).
    let form = || "grant_type=password&username=alice&password=correct+horse".to_owned();
    for _ in 0..40 {
        assert_eq!(app.post(&form()).await.0, StatusCode::OK);
    }
    let (status, body, often, rounds) = priced(form()).await;
    assert_eq!((status, rounds), (StatusCode::OK, 2), "{body}");
    eprintln!("password grant, 42nd login within 13 s: {often:?}");
    assert_eq!(
        often.write, password.write,
        "{often:?} against {password:?}"
    );
    let (status, body, client_credentials, rounds) =
        priced("grant_type=client_credentials".into()).await;
    assert_eq!((status, rounds), (StatusCode::OK, 2), "{body}");
    eprintln!("client credentials: {client_credentials:?}");
    assert!(client_credentials.write <= 2.0, "{client_credentials:?}");
}
