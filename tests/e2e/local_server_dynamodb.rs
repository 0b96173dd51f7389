//! The local server (`token-endpoint --store dynamodb`) on an account that only `oauth-admin`
//! set up, in moto: after `create-tables` (which makes the KMS key and a first signing key),
//! `create-client --token-format jwt` and `create-user`, the password grant answers with a JWT
//! that `jsonwebtoken` verifies against the server's published keys. The server is given the
//! endpoints of moto and nothing else, but for the rotation: with
//! `SIGNING_KEYS_REFRESH_SECONDS=1`, `oauth-admin rotate-signing-key` reaches it without a
//! restart.

use std::time::{Duration, Instant};

use oauth2::reqwest;
use serde_json::Value;

use crate::jwt::{create_jwt_client, oauth_admin, provisioned_tables, verify};
use crate::server::LocalServer;

const USERNAME: &str = "alice";
const PASSWORD: &str = "alice-Pa55word";

struct Http {
    client: reqwest::Client,
}

impl Http {
    fn new() -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("building the reqwest client");
        Self { client }
    }

    /// GET `url`: 200, and the body.
    async fn get(&self, url: &str) -> String {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status();
        let body = response.text().await.expect("reading the body");
        assert_eq!(status.as_u16(), 200, "GET {url}: {body}");
        body
    }

    /// POST `form` to `url` as the client `(id, secret)` (Basic): 200, and the JSON body.
    async fn post(&self, url: &str, client: (&str, &str), form: &[(&str, &str)]) -> Value {
        let response = self
            .client
            .post(url)
            .basic_auth(client.0, Some(client.1))
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = response.status();
        let body = response.text().await.expect("reading the body");
        assert_eq!(status.as_u16(), 200, "POST {url}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
    }
}

fn text(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {value}"))
        .to_owned()
}

#[tokio::test]
async fn jwt_clients_work_after_create_tables_and_a_rotation_reaches_the_running_server() {
    support::require!(Moto);
    let tables = provisioned_tables(USERNAME, PASSWORD);
    let created = create_jwt_client(&tables, &[]);
    let client = (created.id.as_str(), created.secret.as_str());
    let server = LocalServer::start_on_dynamodb(
        &tables,
        &[("SIGNING_KEYS_REFRESH_SECONDS", "1".to_owned())],
    );
    let http = Http::new();
    let grant = [
        ("grant_type", "password"),
        ("username", USERNAME),
        ("password", PASSWORD),
    ];

    // Where a verifier finds the keys: the metadata's issuer and jwks_uri.
    let metadata: Value =
        serde_json::from_str(&http.get(&server.metadata_url).await).expect("the metadata is JSON");
    let (issuer, jwks_uri) = (text(&metadata, "issuer"), text(&metadata, "jwks_uri"));
    let first = text(
        &http.post(&server.token_url, client, &grant).await,
        "access_token",
    );
    let jwks = http.get(&jwks_uri).await;
    let verified = verify(&first, &jwks, &issuer, false);
    assert_eq!(verified.claims["sub"], USERNAME, "{}", verified.claims);
    assert_eq!(
        verified.claims["client_id"], created.id,
        "{}",
        verified.claims
    );
    let first_kid = verified.kid;

    // A rotation that signs at once, while the server runs.
    let rotated = oauth_admin(
        &tables,
        &["rotate-signing-key", "--propagation-delay", "0"],
        None,
    );
    let new_kid = text(&rotated, "kid");
    assert_ne!(new_kid, first_kid);
    let started = Instant::now();
    let jwks = loop {
        let jwks = http.get(&jwks_uri).await;
        if jwks.contains(&format!("\"{new_kid}\"")) {
            break jwks;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the new key {new_kid} is not published after {:?}: {jwks}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The same copy of the key set signs: the next token is the new key's.
    let second = text(
        &http.post(&server.token_url, client, &grant).await,
        "access_token",
    );
    assert_eq!(verify(&second, &jwks, &issuer, false).kid, new_kid);
    // The old key stays published until its tokens have expired, and they stay active.
    assert_eq!(verify(&first, &jwks, &issuer, false).kid, first_kid);
    let active = http
        .post(&server.introspection_url, client, &[("token", &first)])
        .await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["username"], USERNAME, "{active}");
}
