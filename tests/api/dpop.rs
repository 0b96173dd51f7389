//! DPoP at the token endpoint (RFC 9449), with proofs made by an independent library
//! (`jsonwebtoken`, support::dpop): bound tokens (`token_type` `DPoP`, `cnf.jkt` in a JWT and
//! in introspection), every refusal of a proof (replayed, for another request, stale), the
//! nonce dance, and refresh tokens bound to their key.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode};
use serde_json::json;
use support::dpop::ClientKey;
use token_endpoint::domain::TokenService;
use token_endpoint::domain::clock::Clock;
use token_endpoint::domain::credentials::CredentialVerifier;
use token_endpoint::domain::jose::nonce::DpopNonces;
use token_endpoint::domain::model::DpopPolicy;
use token_endpoint::domain::store::ClientChanges;
use token_endpoint::domain::store::prelude::*;
use token_endpoint::http::Discovery;
use token_endpoint::store::MemoryStore;

use crate::helpers::*;

const ISSUER: &str = "https://auth.example.com";
pub const TOKEN_URL: &str = "https://auth.example.com/o/token/";

fn discovery() -> Discovery {
    Discovery {
        issuer: Some(ISSUER.into()),
        ..Discovery::default()
    }
}

/// An app naming itself [`ISSUER`], its clock, and whether it demands nonces.
pub async fn dpop_app(nonces: bool) -> (TestApp, Arc<ManualClock>, App) {
    let clock = Arc::new(ManualClock::default());
    let config = support::test_config();
    let verifier = CredentialVerifier::new(config.argon2).unwrap();
    let mut service = TokenService::new(
        MemoryStore::new(),
        verifier,
        config.lifetimes,
        clock.clone() as Arc<dyn Clock>,
    );
    if nonces {
        service = service.with_dpop_nonces(DpopNonces::new(b"the deployment's nonce secret"));
    }
    let service = Arc::new(service);
    let app = spawn_app_over(Arc::clone(&service), discovery()).await;
    (app, clock, service)
}

impl TestApp {
    /// `POST /o/token/` of `form` as client A, with `proof` in a `DPoP` header.
    pub async fn with_proof(&self, form_body: &str, proof: Option<&str>) -> Reply {
        let mut request = support::http::token_request(form_body, A);
        if let Some(proof) = proof {
            request
                .headers_mut()
                .insert("dpop", HeaderValue::from_str(proof).unwrap());
        }
        self.send(request).await
    }
}

pub fn login() -> String {
    form(&[
        ("grant_type", "password"),
        ("username", ALICE),
        ("password", ALICE_PASSWORD),
    ])
}

fn refresh(token: &str) -> String {
    form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
}

#[track_caller]
fn assert_dpop_refusal(reply: &Reply, code: &str) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert_eq!(reply.json()["error"], code, "{}", reply.text());
}

#[tokio::test]
async fn a_proof_binds_the_access_token_to_its_key() {
    let (app, clock, _) = dpop_app(false).await;
    let key = ClientKey::es256();
    let proof = key.proof("POST", TOKEN_URL, clock.now(), None);
    let reply = app.with_proof(&login(), Some(&proof)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap();

    let introspected = app.introspect(A, access).await.json();
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["token_type"], "DPoP");
    assert_eq!(introspected["cnf"], json!({"jkt": key.thumbprint()}));

    // Without a proof the same client still gets a Bearer token, as before.
    let plain = app.with_proof(&login(), None).await.json();
    assert_eq!(plain["token_type"], "Bearer");
    let introspected = app
        .introspect(A, plain["access_token"].as_str().unwrap())
        .await
        .json();
    assert!(introspected.get("cnf").is_none(), "{introspected}");
}

#[tokio::test]
async fn a_jwt_access_token_names_its_key_in_cnf() {
    let (app, service, clock) = spawn_jwt_app(discovery()).await;
    drop(service);
    let key = ClientKey::es256();
    let proof = key.proof("POST", TOKEN_URL, clock.now(), None);
    let reply = app.with_proof(&login(), Some(&proof)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&access)
        .unwrap()
        .claims;
    assert_eq!(claims["cnf"], json!({"jkt": key.thumbprint()}));
}

#[tokio::test]
async fn replayed_stale_and_misdirected_proofs_are_refused() {
    let (app, clock, _) = dpop_app(false).await;
    let key = ClientKey::es256();
    let now = clock.now();
    let proof = key.proof("POST", TOKEN_URL, now, None);
    assert_eq!(
        app.with_proof(&login(), Some(&proof)).await.status,
        StatusCode::OK
    );
    assert_dpop_refusal(
        &app.with_proof(&login(), Some(&proof)).await,
        "invalid_dpop_proof",
    );
    let refused = [
        key.proof("GET", TOKEN_URL, now, None),
        key.proof("POST", "https://auth.example.com/o/introspect/", now, None),
        key.proof("POST", "https://evil.example.com/o/token/", now, None),
        key.proof("POST", TOKEN_URL, now - 120, None),
        key.proof("POST", TOKEN_URL, now + 120, None),
        // Signed with another key than the one in its header.
        {
            let mut parts: Vec<String> = proof.split('.').map(str::to_owned).collect();
            let other = key.proof("POST", TOKEN_URL, now, None);
            parts[2] = other.split('.').nth(2).unwrap().to_owned();
            parts.join(".")
        },
        "not a proof".to_owned(),
    ];
    for proof in refused {
        let reply = app.with_proof(&login(), Some(&proof)).await;
        assert_dpop_refusal(&reply, "invalid_dpop_proof");
    }
}

#[tokio::test]
async fn the_nonce_dance() {
    let (app, clock, _) = dpop_app(true).await;
    let key = ClientKey::es256();
    let without = key.proof("POST", TOKEN_URL, clock.now(), None);
    let reply = app.with_proof(&login(), Some(&without)).await;
    assert_dpop_refusal(&reply, "use_dpop_nonce");
    let nonce = reply
        .header("dpop-nonce")
        .expect("a DPoP-Nonce header")
        .to_owned();

    let claims = json!({
        "jti": support::dpop::random_id(), "htm": "POST", "htu": TOKEN_URL,
        "iat": clock.now(), "nonce": nonce,
    });
    let reply = app
        .with_proof(&login(), Some(&key.proof_with(&claims)))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["token_type"], "DPoP");

    let mut stale = claims.clone();
    stale["jti"] = json!(support::dpop::random_id());
    stale["nonce"] = json!("not-the-nonce");
    let reply = app
        .with_proof(&login(), Some(&key.proof_with(&stale)))
        .await;
    assert_dpop_refusal(&reply, "use_dpop_nonce");
}

#[tokio::test]
async fn a_client_that_requires_dpop_has_its_refresh_token_bound_to_the_key() {
    let (app, clock, service) = dpop_app(false).await;
    let required = ClientChanges {
        dpop: Some(DpopPolicy::Required),
        ..ClientChanges::default()
    };
    let client = support::client_id_of(CLIENT_A);
    service
        .store()
        .update_client(&client, &required)
        .await
        .unwrap();
    let (key, thief) = (ClientKey::es256(), ClientKey::es256());
    let proof = |key: &ClientKey| key.proof("POST", TOKEN_URL, clock.now(), None);

    assert_dpop_refusal(&app.with_proof(&login(), None).await, "invalid_dpop_proof");
    let reply = app.with_proof(&login(), Some(&proof(&key))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let refresh_token = reply.json()["refresh_token"].as_str().unwrap().to_owned();

    // Another key, or none, is refused and does not use the token up.
    let by_thief = app
        .with_proof(&refresh(&refresh_token), Some(&proof(&thief)))
        .await;
    assert_dpop_refusal(&by_thief, "invalid_dpop_proof");
    let allowed = ClientChanges {
        dpop: Some(DpopPolicy::Allowed),
        ..ClientChanges::default()
    };
    service
        .store()
        .update_client(&client, &allowed)
        .await
        .unwrap();
    let unproven = app.with_proof(&refresh(&refresh_token), None).await;
    assert_dpop_refusal(&unproven, "invalid_dpop_proof");

    let reply = app
        .with_proof(&refresh(&refresh_token), Some(&proof(&key)))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["token_type"], "DPoP");
    // The successor stays bound to the key, though the client now only allows DPoP.
    let next = reply.json()["refresh_token"].as_str().unwrap().to_owned();
    let by_thief = app.with_proof(&refresh(&next), Some(&proof(&thief))).await;
    assert_dpop_refusal(&by_thief, "invalid_dpop_proof");
}
