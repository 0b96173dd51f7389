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
use token_endpoint::domain::clock::Clock;
use token_endpoint::domain::login_throttle::{
    Admission, AttemptKeys, LockoutPolicy, SourceAddress,
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

/// How many of `answers` had their password checked (and wrong), and how many were refused
/// unchecked as locked.
fn checked_and_locked(answers: &[(StatusCode, Value)]) -> (usize, usize) {
    let count = |wanted: (StatusCode, Value)| answers.iter().filter(|a| **a == wanted).count();
    (count(invalid_credentials()), count(locked_out()))
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

/// `count` guesses from one address at once: whatever their order, five are checked free and
/// at most a sixth after them (one arriving once the five have failed); every other guess
/// waits for those and is refused unchecked.
async fn a_burst_of_guesses_checks_at_most_six<S: Store>(
    service: &Arc<TokenService<S>>,
    count: usize,
) {
    let guesses = burst(service, count, "203.0.113.59", "guess").await;
    let (checked, locked) = checked_and_locked(&guesses);
    assert_eq!(checked + locked, count, "{guesses:?}");
    assert!(
        (5..=6).contains(&checked),
        "five free, at most a sixth: {checked}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_guesses_locks_on_the_memory_store() {
    a_burst_of_guesses_checks_at_most_six(&memory(&config()).await.service, 59).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_guesses_locks_on_dynamodb() {
    support::require!(Moto);
    let (_turn, _moto, app) = own_dynamodb(&config()).await;
    // Fewer than on memory: moto answers one call at a time, and every waiting guess polls it.
    a_burst_of_guesses_checks_at_most_six(&app.service, 15).await;
}

/// The right password sent among `waiting` guesses while the five free ones are being checked
/// (59 attempts in all on memory, as a burst of 59 would be) waits behind them with the other
/// guesses; they fail, and it is refused with them instead of taking the sixth attempt. The free guesses in flight are attempts taken straight from the
/// store and settled as failures once everyone else is waiting, so no Argon2 timing decides
/// the order.
async fn the_right_password_among_guesses_is_held_back<S: Store>(
    app: &App<S>,
    lockout: LockoutPolicy,
    waiting: usize,
) {
    const GUESSER: &str = "203.0.113.60";
    let store = app.service.store();
    let now = app.clock.now();
    let keys = AttemptKeys::new("alice", SourceAddress(Some(GUESSER.parse().unwrap())));
    let mut in_flight = Vec::new();
    for _ in 0..lockout.free_failures {
        let attempt = lockout.attempt_request(keys.clone(), now);
        match store.take_login_attempt(&attempt).await.unwrap() {
            Admission::Admitted(ticket) => in_flight.push(ticket),
            other => panic!("a free attempt was refused: {other:?}"),
        }
    }
    let right = {
        let service = Arc::clone(&app.service);
        tokio::spawn(async move { login_from(&service, GUESSER, "alice", PASSWORD).await })
    };
    let guesses = {
        let service = Arc::clone(&app.service);
        tokio::spawn(async move { burst(&service, waiting, GUESSER, "guess").await })
    };
    // Long enough for every request to reach the store and wait, well within its wait.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for ticket in in_flight {
        let failed = lockout.failure(keys.clone(), ticket, now);
        store.settle_login_attempt(&failed).await.unwrap();
    }
    assert_eq!(right.await.unwrap(), locked_out());
    for guess in guesses.await.unwrap() {
        assert_eq!(guess, locked_out());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_right_password_among_guesses_is_held_back_on_the_memory_store() {
    let config = config();
    let app = memory(&config).await;
    the_right_password_among_guesses_is_held_back(&app, config.lockout, 54).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_right_password_among_guesses_is_held_back_on_dynamodb() {
    support::require!(Moto);
    let config = config();
    let (_turn, _moto, app) = own_dynamodb(&config).await;
    // Fewer waiting guesses than on memory: each polls moto, which answers one call at a time.
    the_right_password_among_guesses_is_held_back(&app, config.lockout, 9).await;
}

/// Two guesses from each of `count` addresses at once, with a ceiling of 10: ten passwords are
/// checked, every other guess is refused unchecked.
async fn a_burst_from_many_addresses_checks_at_most_the_ceiling<S: Store>(
    service: &Arc<TokenService<S>>,
    count: usize,
) {
    let addresses: Vec<String> = (1..=count).map(|n| format!("203.0.113.{n}")).collect();
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
    let (checked, locked) = checked_and_locked(&answers);
    assert_eq!((checked, locked), (10, 2 * count - 10), "{answers:?}");
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
        40,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_username_ceiling_holds_a_burst_on_dynamodb() {
    support::require!(Moto);
    let (_turn, _moto, app) = own_dynamodb(&ceiling_of_ten()).await;
    // Fewer than on memory, as in the burst from one address: the waiting guesses poll moto.
    a_burst_from_many_addresses_checks_at_most_the_ceiling(&app.service, 20).await;
}
