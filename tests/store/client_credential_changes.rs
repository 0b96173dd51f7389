//! A client's secret rotated with `--revoke-tokens` while its logins are in flight (issue 20),
//! through the router with real concurrency, on both stores: once the rotation returns, no
//! token of the old secret works, those of grants in flight then included (client
//! credentials, password and refresh grants), and the new secret logs in and refreshes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::http::{Auth, token_request};
use token_endpoint::admin::Admin;
use token_endpoint::domain::TokenService;
use token_endpoint::domain::store::Store;

use crate::security::{App, CLIENT, SECRET, access_token_is_live, dynamodb, memory};

/// The tests' grant deadline: each grant is bounded as the router bounds it with
/// `GRANT_DEADLINE`, and one that runs out is answered nothing (its tokens are dropped).
const TEST_GRANT_DEADLINE: Duration = Duration::from_millis(400);
/// The rotation's wait for grants in flight: the tests' deadline, and a margin for the index
/// (moto's lists a family as soon as it is written).
const TEST_IN_FLIGHT_WAIT: Duration = Duration::from_millis(500);
/// Grants each task makes at most, so that the test ends by itself whatever happens.
const ROUNDS: usize = 150;

/// A grant of the client's, authenticated by `secret`, from one address.
async fn grant<S: Store>(
    service: &Arc<TokenService<S>>,
    form: &str,
    secret: &str,
) -> (StatusCode, Value) {
    let request = token_request(form, Auth::BasicRaw(CLIENT, secret));
    support::serve_json(service, support::http::from_address(request, "192.0.2.10")).await
}

/// The tokens of a grant that succeeded within the tests' deadline.
async fn granted<S: Store>(
    service: &Arc<TokenService<S>>,
    form: &str,
    secret: &str,
) -> Option<Value> {
    match tokio::time::timeout(TEST_GRANT_DEADLINE, grant(service, form, secret)).await {
        Ok((StatusCode::OK, body)) => Some(body),
        _ => None,
    }
}

const CLIENT_CREDENTIALS: &str = "grant_type=client_credentials";
const PASSWORD: &str = "grant_type=password&username=alice&password=correct+horse";

fn refresh_form(tokens: &Value) -> Option<String> {
    let token = tokens["refresh_token"].as_str()?;
    Some(format!("grant_type=refresh_token&refresh_token={token}"))
}

/// Logs in, gets a token of the client's own and refreshes the last login, round after round,
/// until `stop`; answers every answer it got tokens in.
async fn keep_granting<S: Store>(
    service: Arc<TokenService<S>>,
    stop: Arc<AtomicBool>,
    granted_so_far: Arc<AtomicUsize>,
) -> Vec<Value> {
    let mut issued = Vec::new();
    let mut login: Option<Value> = None;
    for _ in 0..ROUNDS {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let refreshed = match login.as_ref().and_then(refresh_form) {
            Some(form) => granted(&service, &form, SECRET).await,
            None => None,
        };
        let own = granted(&service, CLIENT_CREDENTIALS, SECRET).await;
        let logged_in = granted(&service, PASSWORD, SECRET).await;
        login = logged_in.clone().or(refreshed.clone()).or(login);
        let answers = [refreshed, own, logged_in].into_iter().flatten();
        for tokens in answers {
            granted_so_far.fetch_add(1, Ordering::SeqCst);
            issued.push(tokens);
        }
    }
    issued
}

async fn a_secret_rotation_ends_the_logins_in_flight<S: Store + Clone>(service: App<S>) {
    let admin = Admin::new(service.store().clone(), support::cheap_config().argon2)
        .waiting_for_grants_in_flight(TEST_IN_FLIGHT_WAIT);
    let (stop, granted_so_far) = (Arc::new(AtomicBool::new(false)), Arc::default());
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let service = Arc::clone(&service.service);
            tokio::spawn(keep_granting(
                service,
                stop.clone(),
                Arc::clone(&granted_so_far),
            ))
        })
        .collect();
    // Until grants go through (at most a minute, so that the test ends anyway).
    for _ in 0..6_000 {
        if granted_so_far.load(Ordering::SeqCst) >= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (new_secret, revocation) = admin
        .rotate_client_secret(&support::client_id_of(CLIENT), true)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(revocation.revoked().is_some(), "{revocation:?}");
    stop.store(true, Ordering::SeqCst);
    let mut issued = Vec::new();
    for task in tasks {
        issued.extend(task.await.expect("a granting task panicked"));
    }
    assert!(
        issued.len() >= 8,
        "only {} grants went through",
        issued.len()
    );
    // Access tokens first: a refresh refused as a replay would revoke its family itself.
    for tokens in &issued {
        assert!(!access_token_is_live(&service, tokens).await, "{tokens}");
    }
    // The client, with its new secret, presents the refresh tokens of its old one.
    let new_secret = new_secret.expose().to_owned();
    for form in issued.iter().filter_map(refresh_form) {
        assert_eq!(
            grant(&service, &form, &new_secret).await,
            (StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"})),
            "{form}"
        );
    }
    // The new secret's logins are issued under the new version, and refresh.
    let (status, own) = grant(&service, CLIENT_CREDENTIALS, &new_secret).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert!(access_token_is_live(&service, &own).await);
    let (status, login) = grant(&service, PASSWORD, &new_secret).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let form = refresh_form(&login).expect("a refresh token");
    assert_eq!(grant(&service, &form, &new_secret).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_secret_rotation_ends_the_logins_in_flight_on_the_memory_store() {
    a_secret_rotation_ends_the_logins_in_flight(memory(&support::cheap_config()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_secret_rotation_ends_the_logins_in_flight_on_dynamodb() {
    support::require!(Moto);
    a_secret_rotation_ends_the_logins_in_flight(dynamodb(&support::cheap_config()).await).await;
}
