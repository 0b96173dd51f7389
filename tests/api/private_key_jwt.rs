//! private_key_jwt client authentication (RFC 7523 §2.2) with assertions made by an
//! independent library (`jsonwebtoken`, support::dpop): accepted for the token endpoint or
//! the issuer as `aud`, refused for another audience, when replayed, when signed by another
//! key or expiring too far ahead; a keys-only client has no secret to present.

use axum::http::StatusCode;
use support::dpop::{ClientKey, random_id};
use token_endpoint::domain::clock::Clock as _;
use token_endpoint::domain::jose::ClientJwks;
use token_endpoint::domain::jose::assertion::JWT_BEARER_ASSERTION_TYPE;
use token_endpoint::domain::store::prelude::*;
use token_endpoint::domain::{AccessTokenPolicy, Client, GrantType, Scope};

use crate::dpop::{TOKEN_URL, dpop_app};
use crate::helpers::*;

const SERVICE: &str = "reporting-service";

fn grant(assertion: &str) -> String {
    form(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
        ("client_assertion", assertion),
    ])
}

#[tokio::test]
async fn a_client_authenticates_with_a_fresh_assertion_signed_by_its_registered_key() {
    let (app, clock, service) = dpop_app(false).await;
    let (key, other) = (ClientKey::es256(), ClientKey::es256());
    let client = Client {
        client_id: support::client_id_of(SERVICE),
        name: "Reporting".into(),
        secret_hash: String::new(),
        scope: Scope::parse("read").unwrap(),
        grant_types: vec![GrantType::ClientCredentials],
        access_tokens: AccessTokenPolicy::default(),
        created_at: 0,
        jwks: Some(ClientJwks::parse(&key.jwks()).unwrap()),
        credential_version: 0,
    };
    service.store().create_client(&client).await.unwrap();
    let exp = clock.now() + 60;

    let assertion = key.assertion(SERVICE, TOKEN_URL, exp, &random_id());
    let reply = app.post_form(&grant(&assertion), Auth::None).await;
    assert_client_token(&reply, "read");
    let replayed = app.post_form(&grant(&assertion), Auth::None).await;
    assert_eq!(
        replayed.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        replayed.text()
    );
    assert_eq!(replayed.json()["error"], "invalid_client");

    let by_issuer = key.assertion(SERVICE, "https://auth.example.com", exp, &random_id());
    assert_client_token(&app.post_form(&grant(&by_issuer), Auth::None).await, "read");

    for refused in [
        key.assertion(
            SERVICE,
            "https://other.example.com/o/token/",
            exp,
            &random_id(),
        ),
        key.assertion(SERVICE, TOKEN_URL, clock.now() + 3600, &random_id()),
        key.assertion(SERVICE, TOKEN_URL, clock.now() - 60, &random_id()),
        key.assertion(CLIENT_E, TOKEN_URL, exp, &random_id()),
        other.assertion(SERVICE, TOKEN_URL, exp, &random_id()),
    ] {
        let reply = app.post_form(&grant(&refused), Auth::None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    }

    // No secret to present; and one method at a time.
    let with_secret = app
        .client_credentials(Auth::Basic(SERVICE, "x"), None)
        .await;
    assert_eq!(with_secret.status, StatusCode::UNAUTHORIZED);
    let assertion = key.assertion(SERVICE, TOKEN_URL, exp, &random_id());
    let both = app.post_form(&grant(&assertion), E).await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert_eq!(both.json()["error"], "invalid_request");
}
