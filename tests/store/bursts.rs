//! Password bursts through the router, with real concurrency, on both stores: concurrent logins
//! with the right password are all served (attempts in flight are waited for, not counted as
//! failures), a burst of guesses still locks, and a burst from many addresses checks no more
//! passwords than the username's ceiling.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;
use token_endpoint::config::Config;
use token_endpoint::domain::TokenService;
use token_endpoint::domain::clock::{Clock, UnixSeconds};
use token_endpoint::domain::login_throttle::{
    Admission, AttemptKeys, AttemptRequest, LockoutPolicy, SourceAddress,
};
use token_endpoint::domain::store::Store;
use token_endpoint::store::DynamoStore;
use tokio::sync::{Mutex, MutexGuard};

use crate::security::{App, invalid_credentials, locked_out, login_from, memory, seeded};

const HOME: &str = "198.51.100.20";
const PASSWORD: &str = "correct+horse";

/// The service on DynamoDB in a moto server of its own: a burst's hundreds of requests would
/// otherwise queue behind every other test's (moto serves one request at a time).
/// The server stops when the returned `Moto` is dropped. One DynamoDB burst at a time: each
/// keeps its server busy, and moto servers side by side only slow each other down.
async fn own_dynamodb(
    config: &Config,
) -> (MutexGuard<'static, ()>, support::Moto, App<DynamoStore>) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());
    let turn = ONE_AT_A_TIME.lock().await;
    let moto = support::private_moto();
    let app = seeded(moto.dynamo_store().await, config).await;
    (turn, moto, app)
}

/// Cheap Argon2: these bursts check who is let in, not what a check costs.
fn config() -> Config {
    support::cheap_config()
}

/// `count` logins of alice with `password` from `address`, all at once.
async fn burst<S: Store>(
    service: &Arc<TokenService<S>>,
    count: usize,
    address: &'static str,
    password: &'static str,
) -> Vec<(StatusCode, Value)> {
    let logins: Vec<_> = (0..count)
        .map(|_| {
            let service = Arc::clone(service);
            tokio::spawn(async move { login_from(&service, address, "alice", password).await })
        })
        .collect();
    let mut answers = Vec::new();
    for login in logins {
        answers.push(login.await.unwrap());
    }
    answers
}

fn tokens_issued(answers: &[(StatusCode, Value)]) -> usize {
    answers
        .iter()
        .filter(|(status, body)| *status == StatusCode::OK && body["refresh_token"].is_string())
        .count()
}

async fn concurrent_right_passwords_all_get_tokens<S: Store>(service: &Arc<TokenService<S>>) {
    let answers = burst(service, 32, HOME, PASSWORD).await;
    assert_eq!(tokens_issued(&answers), 32, "{answers:?}");
    // After three typos from another address, sixteen at once: all served too.
    const OFFICE: &str = "198.51.100.21";
    for _ in 0..3 {
        let typo = login_from(service, OFFICE, "alice", "typo").await;
        assert_eq!(typo, invalid_credentials());
    }
    let answers = burst(service, 16, OFFICE, PASSWORD).await;
    assert_eq!(tokens_issued(&answers), 16, "{answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_logins_are_served_on_the_memory_store() {
    concurrent_right_passwords_all_get_tokens(&memory(&config()).await.service).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_logins_are_served_on_dynamodb() {
    support::require!(Moto);
    let (_turn, _moto, app) = own_dynamodb(&config()).await;
    concurrent_right_passwords_all_get_tokens(&app.service).await;
}

/// 59 guesses at once, then the right password 10 ms later, while the free guesses are still
/// being checked (a real Argon2 check takes longer): it waits behind them with the other
/// guesses, they fail, and it is refused with them.
async fn a_burst_of_guesses_still_locks_the_right_password_out<S: Store>(
    app: &App<S>,
    lockout: LockoutPolicy,
) {
    let service = &app.service;
    const GUESSER: &str = "203.0.113.59";
    let guesses = {
        let service = Arc::clone(service);
        tokio::spawn(async move { burst(&service, 59, GUESSER, "guess").await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    // On a loaded machine 10 ms may not see the burst under way: wait until the free guesses
    // hold every slot, as they do 10 ms on when requests start at once.
    let now = app.clock.now();
    until_the_free_attempts_are_in_flight(service.store(), GUESSER, lockout, now).await;
    let right = login_from(service, GUESSER, "alice", PASSWORD).await;
    let guesses = guesses.await.unwrap();
    assert_eq!(right, locked_out());
    let checked = guesses
        .iter()
        .filter(|answer| **answer == invalid_credentials())
        .count();
    let locked = guesses
        .iter()
        .filter(|answer| **answer == locked_out())
        .count();
    assert_eq!(checked + locked, 59, "{guesses:?}");
    assert!(checked <= 6, "five free, at most a sixth: {checked}");
}

/// Looks, without waiting and without counting anything, until alice's attempts from `address`
/// hold every free slot: an attempt let in meanwhile is given back as one whose password did
/// not count.
async fn until_the_free_attempts_are_in_flight<S: Store>(
    store: &S,
    address: &str,
    lockout: LockoutPolicy,
    now: UnixSeconds,
) {
    let address = address.parse().unwrap();
    let keys = AttemptKeys::new("alice", SourceAddress(Some(address)));
    loop {
        let look = AttemptRequest {
            max_wait: Duration::ZERO,
            ..lockout.attempt_request(keys.clone(), now)
        };
        match store.take_login_attempt(&look).await.unwrap() {
            Admission::Busy | Admission::Locked { .. } => return,
            Admission::Admitted(ticket) => {
                let given_back = lockout.unchecked(keys.clone(), ticket, now);
                store.settle_login_attempt(&given_back).await.unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Production Argon2, so the free guesses are still being checked 10 ms on.
fn real_argon2() -> Config {
    support::test_config()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_guesses_locks_on_the_memory_store() {
    let config = real_argon2();
    let app = memory(&config).await;
    a_burst_of_guesses_still_locks_the_right_password_out(&app, config.lockout).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_guesses_locks_on_dynamodb() {
    support::require!(Moto);
    let config = real_argon2();
    let (_turn, _moto, app) = own_dynamodb(&config).await;
    a_burst_of_guesses_still_locks_the_right_password_out(&app, config.lockout).await;
}

/// Two guesses from each of 40 addresses at once, with a ceiling of 10: ten passwords are
/// checked, every other guess is refused unchecked.
async fn a_burst_from_many_addresses_checks_at_most_the_ceiling<S: Store>(
    service: &Arc<TokenService<S>>,
) {
    let addresses: Vec<String> = (1..=40).map(|n| format!("203.0.113.{n}")).collect();
    let guesses: Vec<_> = addresses
        .iter()
        .flat_map(|address| [address.clone(), address.clone()])
        .map(|address| {
            let service = Arc::clone(service);
            tokio::spawn(async move { login_from(&service, &address, "alice", "guess").await })
        })
        .collect();
    let mut answers = Vec::new();
    for guess in guesses {
        answers.push(guess.await.unwrap());
    }
    let checked = answers
        .iter()
        .filter(|answer| **answer == invalid_credentials())
        .count();
    let locked = answers
        .iter()
        .filter(|answer| **answer == locked_out())
        .count();
    assert_eq!((checked, locked), (10, 70), "{answers:?}");
}

fn ceiling_of_ten() -> Config {
    let mut config = config();
    config.lockout.username_ceiling = 10;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_username_ceiling_holds_a_burst_on_the_memory_store() {
    a_burst_from_many_addresses_checks_at_most_the_ceiling(
        &memory(&ceiling_of_ten()).await.service,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_username_ceiling_holds_a_burst_on_dynamodb() {
    support::require!(Moto);
    let (_turn, _moto, app) = own_dynamodb(&ceiling_of_ten()).await;
    a_burst_from_many_addresses_checks_at_most_the_ceiling(&app.service).await;
}
