//! JWT access tokens (RFC 9068) for the clients that choose them: what the token endpoint
//! issues, checked by an independent library (`jsonwebtoken`) against the published key set;
//! the audience (RFC 8707 `resource`); per-client lifetimes; retries; introspection of
//! genuine, tampered, foreign and revoked JWTs; and a key rotation seen through the key set.

use axum::http::StatusCode;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};
use token_endpoint::admin::Admin;
use token_endpoint::domain::Secret;
use token_endpoint::domain::clock::Clock as _;
use token_endpoint::domain::lifecycle::validate_bearer;
use token_endpoint::domain::signing::{
    KeyRing, KeySetStore as _, MAX_ACCESS_TOKEN_LIFETIME, PUBLICATION_MARGIN, new_signing_key,
};
use token_endpoint::domain::store::ClientChanges;
use token_endpoint::domain::store::prelude::*;
use token_endpoint::http::{Audiences, Discovery, JWKS_PATH};

use crate::helpers::*;

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";
const OTHER_API: &str = "https://other.example.com/v1";

fn discovery() -> Discovery {
    Discovery {
        issuer: Some(ISSUER.into()),
        audiences: format!("{API} {OTHER_API}")
            .parse::<Audiences>()
            .unwrap_or_else(|e| panic!("{e}")),
        ..Discovery::default()
    }
}

/// The claims of `token`, verified by `jsonwebtoken` with the published key it names, for
/// `audience`.
async fn verified(app: &TestApp, token: &str, audience: &str) -> Value {
    let jwks = app.get(JWKS_PATH, &[]).await;
    assert_eq!(jwks.status, StatusCode::OK, "{}", jwks.text());
    let jwks: JwkSet = serde_json::from_str(&jwks.text()).unwrap();
    let header = decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, Algorithm::RS256);
    let kid = header.kid.expect("a kid");
    let jwk = jwks
        .find(&kid)
        .unwrap_or_else(|| panic!("{kid} is not published"));
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap_or_else(|e| panic!("the token does not verify: {e}"))
        .claims
}

/// Alice's tokens from client A, whose access token is a JWT.
async fn alice_tokens(app: &TestApp) -> Tokens {
    let reply = app.password_grant(A, ALICE, ALICE_PASSWORD, None).await;
    let body = reply.json();
    Tokens {
        access: access_of(&reply),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

fn access_of(reply: &crate::helpers::Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_jwt_client_gets_rfc_9068_tokens_that_verify_against_the_published_keys() {
    let (app, _, clock) = spawn_jwt_app(discovery()).await;
    let now = clock.now();

    let reply = app
        .password_grant(A, ALICE, ALICE_PASSWORD, Some("read"))
        .await;
    let body = reply.json();
    let access = access_of(&reply);
    let claims = verified(&app, &access, API).await;

    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["token_type"], "Bearer");
    // The refresh token stays opaque.
    assert_token_shape(body["refresh_token"].as_str().unwrap());
    assert_eq!(claims["sub"], ALICE);
    assert_eq!(claims["client_id"], CLIENT_A);
    assert_eq!(claims["scope"], "read");
    assert_eq!(claims["aud"], API);
    assert_eq!(
        (claims["iat"].as_u64(), claims["exp"].as_u64()),
        (Some(now), Some(now + 3600))
    );
    assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() >= 22));
    // Introspection knows it.
    let introspected = app.introspect(A, &access).await;
    let (iat, exp) = assert_active_for(&introspected, alice_a("read"), Some(API));
    assert_eq!((iat, exp), (now, now + 3600));

    // A client's own token names the client as its subject.
    let client_token = access_of(&app.client_credentials(E, None).await);
    let claims = verified(&app, &client_token, API).await;
    assert_eq!(
        (claims["sub"].as_str(), claims["client_id"].as_str()),
        (Some(CLIENT_E), Some(CLIENT_E))
    );

    // Opaque clients are unchanged.
    let opaque = app.password_grant(B, ALICE, ALICE_PASSWORD, None).await;
    assert_token_shape(&access_of(&opaque));
}

#[tokio::test]
async fn the_audience_is_the_resource_asked_for_among_the_configured_ones() {
    let (app, _, _) = spawn_jwt_app(discovery()).await;
    let ask = |resources: &[&str]| {
        let mut fields = vec![("grant_type", "client_credentials")];
        fields.extend(resources.iter().map(|resource| ("resource", *resource)));
        form(&fields)
    };

    let other = access_of(&app.post_form(&ask(&[OTHER_API]), E).await);
    assert_eq!(verified(&app, &other, OTHER_API).await["aud"], OTHER_API);

    for refused in [
        &["https://evil.example"][..],
        &[API, OTHER_API],
        &["not a uri"],
    ] {
        let reply = app.post_form(&ask(refused), E).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{refused:?}");
        assert_eq!(reply.json()["error"], "invalid_target", "{refused:?}");
    }
    // An opaque token names no audience: its clients are answered as they always were.
    let opaque = form(&[
        ("grant_type", "password"),
        ("username", ALICE),
        ("password", ALICE_PASSWORD),
        ("resource", "https://evil.example"),
    ]);
    assert_token_shape(&access_of(&app.post_form(&opaque, B).await));
    // JSON bodies carry it too.
    let reply = app
        .post_json(
            &json!({"grant_type": "client_credentials", "resource": OTHER_API}),
            E,
        )
        .await;
    assert_eq!(
        verified(&app, &access_of(&reply), OTHER_API).await["aud"],
        OTHER_API
    );
}

#[tokio::test]
async fn a_shorter_client_lifetime_bounds_exp_and_expires_in() {
    let (app, service, clock) = spawn_jwt_app(discovery()).await;
    let shorter = ClientChanges {
        access_token_lifetime: Some(Some(300)),
        ..ClientChanges::default()
    };
    service
        .store()
        .update_client(&support::client_id_of(CLIENT_E), &shorter)
        .await
        .unwrap();

    let reply = app.client_credentials(E, None).await;
    let claims = verified(&app, &access_of(&reply), API).await;

    assert_eq!(reply.json()["expires_in"], 300);
    assert_eq!(claims["exp"].as_u64(), Some(clock.now() + 300));
}

#[tokio::test]
async fn a_refresh_retried_within_the_window_gets_the_identical_jwt() {
    let (app, _, clock) = spawn_jwt_app(discovery()).await;
    let tokens = alice_tokens(&app).await;
    clock.advance(5);

    let first = app.refresh(A, &tokens.refresh, None).await;
    clock.advance(7);
    let retry = app.refresh(A, &tokens.refresh, None).await;

    let (first_access, retried_access) = (access_of(&first), access_of(&retry));
    assert_eq!(first_access, retried_access);
    assert_eq!(first.json()["refresh_token"], retry.json()["refresh_token"]);
    // Signed at the rotation, not at the retry; the retry says how long is left.
    let claims = verified(&app, &retried_access, API).await;
    assert_eq!(claims["iat"].as_u64(), Some(clock.now() - 7));
    assert_eq!(retry.json()["expires_in"], 3600 - 7);
}

#[tokio::test]
async fn introspection_refuses_tampered_foreign_and_revoked_jwts() {
    let (app, _, _) = spawn_jwt_app(discovery()).await;
    let tokens = alice_tokens(&app).await;
    let access = tokens.access.clone();
    let introspected = app.introspect(A, &access).await;
    assert_active_for(&introspected, alice_a(ALL_SCOPES), Some(API));

    // Another signature, another payload: nothing this server issued.
    let (signed, signature) = access.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{signed}.{flipped}{}", &signature[1..]);
    assert_inactive(&app.introspect(A, &tampered).await);

    // The same token presented to a server that names itself differently.
    let foreign = Discovery {
        issuer: Some("https://elsewhere.example".into()),
        ..discovery()
    };
    let (elsewhere, _, _) = spawn_jwt_app(foreign).await;
    let theirs = alice_tokens(&elsewhere).await.access;
    assert_inactive(&app.introspect(A, &theirs).await);

    // Revoking the login ends its JWT here at once.
    assert_revoked(&app.revoke(A, &tokens.refresh).await);
    assert_inactive(&app.introspect(A, &access).await);
}

fn kid(token: &str) -> String {
    decode_header(token).unwrap().kid.unwrap()
}

/// The kids of a JWK Set answer.
fn published(reply: &crate::helpers::Reply) -> Vec<String> {
    let keys: JwkSet = serde_json::from_str(&reply.text()).unwrap();
    keys.keys
        .iter()
        .filter_map(|key| key.common.key_id.clone())
        .collect()
}

#[tokio::test]
async fn a_rotation_publishes_the_new_key_first_and_keeps_the_old_until_its_tokens_expire() {
    let (app, service, clock) = spawn_jwt_app(discovery()).await;
    let old_kid = kid(&alice_tokens(&app).await.access);

    // What `oauth-admin rotate-signing-key` does: a new key that signs an hour from now.
    let store = service.store();
    let now = clock.now();
    let new_key = new_signing_key(&support::signing::vault(), now, now + 3600)
        .await
        .unwrap();
    let keys = store
        .signing_keys()
        .await
        .unwrap()
        .with_key(new_key.clone(), now);
    store.save_signing_keys(&keys).await.unwrap();
    // Running instances see it without a restart: this one re-reads its copy beside requests.
    let ring = service.signing_keys().unwrap();
    ring.warm_up().await.unwrap();

    let jwks = app.get(JWKS_PATH, &[]).await;
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(published(&jwks), [old_kid.clone(), new_key.kid.clone()]);
    assert_eq!(kid(&alice_tokens(&app).await.access), old_kid);

    clock.advance(3600);
    let signed_by_new = alice_tokens(&app).await.access;
    assert_eq!(kid(&signed_by_new), new_key.kid);
    verified(&app, &signed_by_new, API).await;

    // The old key's last tokens expire at most a day (the longest lifetime a deployment may
    // have set) after it retired; it goes a margin later.
    clock.advance(MAX_ACCESS_TOKEN_LIFETIME + PUBLICATION_MARGIN - 1);
    assert_eq!(published(&app.get(JWKS_PATH, &[]).await).len(), 2);
    clock.advance(1);
    assert_eq!(published(&app.get(JWKS_PATH, &[]).await), [new_key.kid]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_asking_for_different_scopes_all_get_the_stored_token_or_none() {
    let (app, _, _) = spawn_jwt_app(discovery()).await;
    let app = std::sync::Arc::new(app);
    let tokens = alice_tokens(&app).await;

    // Duplicates that lose the rotation to another one are answered with what it stored.
    let duplicates: Vec<_> = [Some("read"), None, Some("write"), None]
        .into_iter()
        .cycle()
        .take(24)
        .map(|scope| {
            let (app, refresh) = (std::sync::Arc::clone(&app), tokens.refresh.clone());
            tokio::spawn(async move { app.refresh(A, &refresh, scope).await })
        })
        .collect();
    let mut issued = Vec::new();
    for duplicate in duplicates {
        let reply = duplicate.await.unwrap();
        match reply.status {
            StatusCode::OK => {
                issued.push((access_of(&reply), reply.json()["refresh_token"].clone()));
            }
            _ => assert_eq!(reply.json()["error"], "invalid_grant", "{}", reply.text()),
        }
    }
    assert!(!issued.is_empty(), "one of them rotated the token");
    issued.dedup();
    assert_eq!(issued.len(), 1, "every answer is the one stored pair");
    let introspected = app.introspect(A, &issued[0].0).await;
    assert_eq!(
        introspected.json()["active"],
        true,
        "{}",
        introspected.text()
    );
}

#[tokio::test]
async fn a_revoked_signing_key_is_unpublished_and_its_tokens_refused_from_the_next_reload() {
    let (app, service, clock) = spawn_jwt_app(discovery()).await;
    let store = service.store().clone();
    let before = alice_tokens(&app).await;
    let leaked = kid(&before.access);
    // An authorizer instance that has read the key set already.
    let authorizer_keys = KeyRing::verifying(store.clone(), clock.clone(), Default::default());
    let authorized = |keys: KeyRing, token: String| {
        let (store, now) = (store.clone(), clock.now());
        async move {
            let token = Secret::new(token);
            let audiences = [API.to_owned()];
            let access = validate_bearer(&store, &keys, &token, Some(ISSUER), &audiences, now);
            let access = access.await;
            access.unwrap().is_some()
        }
    };
    assert!(authorized(authorizer_keys.clone(), before.access.clone()).await);

    // What `oauth-admin revoke-signing-key` does.
    let admin = Admin::new(store.clone(), support::cheap_config().argon2);
    let revoked = admin
        .revoke_signing_key(&support::signing::vault(), &leaked, clock.now())
        .await
        .unwrap();
    let replacement = revoked
        .replacement
        .expect("the key signed: a new one replaces it");
    // Each instance's next read of the set (beside a request, within a minute).
    for keys in [service.signing_keys().unwrap(), &authorizer_keys] {
        keys.warm_up().await.unwrap();
    }

    assert_eq!(
        published(&app.get(JWKS_PATH, &[]).await),
        [replacement.as_str()]
    );
    assert_inactive(&app.introspect(A, &before.access).await);
    assert!(!authorized(authorizer_keys.clone(), before.access.clone()).await);
    // The refresh token is opaque: the login goes on, under the new key.
    let refreshed = access_of(&app.refresh(A, &before.refresh, None).await);
    assert_eq!(kid(&refreshed), replacement);
    verified(&app, &refreshed, API).await;
    assert!(authorized(authorizer_keys, refreshed).await);
}

/// RFC 9068 §4, RFC 8707: a token for one API is refused in front of another. JWTs always
/// name their audience; an opaque token names one only if its request named a `resource`.
#[tokio::test]
async fn a_token_for_another_api_is_refused_and_introspection_names_its_audience() {
    let (app, service, clock) = spawn_jwt_app(discovery()).await;
    let store = service.store().clone();
    let keys = KeyRing::verifying(store.clone(), clock.clone(), Default::default());
    let accepted_by = |audience: &str, token: &str| {
        let (store, keys, now) = (store.clone(), keys.clone(), clock.now());
        let (audiences, token) = ([audience.to_owned()], Secret::new(token.to_owned()));
        async move {
            let access = validate_bearer(&store, &keys, &token, Some(ISSUER), &audiences, now);
            access.await.unwrap().is_some()
        }
    };
    let jwt = [("grant_type", "client_credentials")];
    let opaque = [
        ("grant_type", "password"),
        ("username", ALICE),
        ("password", ALICE_PASSWORD),
    ];
    let cases = [
        (E, &jwt[..], None, Some(API)),
        (E, &jwt[..], Some(OTHER_API), Some(OTHER_API)),
        (B, &opaque[..], Some(OTHER_API), Some(OTHER_API)),
        (B, &opaque[..], None, None),
    ];
    for (client, grant, resource, audience) in cases {
        let mut fields = grant.to_vec();
        fields.extend(resource.map(|resource| ("resource", resource)));
        let token = access_of(&app.post_form(&form(&fields), client).await);
        let introspected = app.introspect(A, &token).await.json();
        assert_eq!(introspected["aud"].as_str(), audience, "{fields:?}");
        for api in [API, OTHER_API] {
            let accepted = audience.is_none_or(|audience| audience == api);
            assert_eq!(
                accepted_by(api, &token).await,
                accepted,
                "{fields:?} at {api}"
            );
        }
    }
}
