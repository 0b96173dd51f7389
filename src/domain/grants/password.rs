//! The resource owner password credentials grant (RFC 6749 §4.3), with the attempt counting of
//! [`crate::domain::login_throttle`]: a burst of guesses cannot check more passwords than the
//! lockout policy allows.

use super::{GrantContext, GrantParameters, MissingParameter, required};
use crate::domain::clock::UnixSeconds;
use crate::domain::credentials::Verification;
use crate::domain::error::GrantError;
use crate::domain::issuer::{
    DpopBinding, IssuedTokens, NewPair, log_upgrade, narrow, new_family_id,
};
use crate::domain::login_throttle::{
    Admission, AttemptKeys, KNOWN_SOURCE_SECONDS, TakenAttempt, UncheckedAttempt,
};
use crate::domain::model::{Client, GrantType, User};
use crate::domain::names::{NameError, Username};
use crate::domain::scope::Scope;
use crate::domain::secret::Secret;
use crate::domain::store::{GrantStore, LoginAttemptStore};
use crate::domain::token::{FamilySecret, new_token};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRequest {
    /// As presented: a malformed one ([`Username::parse`]) can belong to no user.
    pub username: Result<Username, NameError>,
    pub password: Secret,
    /// The raw `scope` parameter, parsed at its turn in the grant's order of checks.
    pub scope: Option<String>,
}

impl PasswordRequest {
    pub const PARAMETERS: &[&str] = &["username", "password", "scope"];

    pub fn parse(params: &dyn GrantParameters) -> Result<Self, MissingParameter> {
        Ok(Self {
            username: Username::parse(required(
                params,
                "username",
                "Request is missing username parameter.",
            )?),
            password: required(params, "password", "Request is missing password parameter.")?
                .into(),
            scope: params.get("scope").map(str::to_owned),
        })
    }
}

/// Order of checks: client, grant permission, lockout, user, scope. The grant permission comes
/// before the password so that a client not allowed this grant learns nothing about users'
/// passwords.
///
/// The attempt is taken from the source's budget while the client and user are read, in the
/// same round trip, so that a burst of guesses cannot check more passwords than the policy
/// allows. Every answer that is not a token costs one more write, whatever the reason: a wrong
/// password, an unknown user and a lock take the same time.
pub async fn issue<S: GrantStore + LoginAttemptStore>(
    context: &GrantContext<'_, S>,
    request: PasswordRequest,
) -> Result<IssuedTokens, GrantError> {
    let username = match &request.username {
        Ok(username) => username,
        Err(_) => return malformed_username(context).await,
    };
    let attempt = Attempt {
        context,
        username,
        keys: AttemptKeys::new(username, context.source),
        now: context.issuer.now(),
    };
    let Admitted {
        client,
        user,
        number,
        binding,
    } = attempt.admit().await?;
    let verifier = context.issuer.verifier();
    let verification = verifier
        .verify_password(user.as_ref(), &request.password)
        .await?;
    if !verification.matched() {
        attempt.record_failure(number).await;
        return Err(GrantError::InvalidCredentials);
    }
    if let (Verification::MatchedOutdated { replacement }, Some(user)) = (verification, &user) {
        upgrade_password_hash(context.store, user, &replacement).await;
    }
    let scope = match narrow(request.scope.as_deref(), &client.scope) {
        Ok(scope) => scope,
        // The password was right; the request fails on its scope, which is no guess.
        Err(error) => {
            let admission = Admission::Admitted { number };
            return Err(attempt.unchecked(admission, error).await);
        }
    };
    attempt.log_in(&client, scope, binding).await
}

/// The answer to a username no user can have: the client is checked as for any attempt, then
/// the answer is a wrong password's. No attempt is counted, as there is no account to guard.
async fn malformed_username<S: GrantStore>(
    context: &GrantContext<'_, S>,
) -> Result<IssuedTokens, GrantError> {
    let client = context
        .issuer
        .authenticate_client(context.store, context.client)
        .await?;
    if !client.allows(GrantType::Password) {
        return Err(GrantError::UnauthorizedClient);
    }
    Err(GrantError::InvalidCredentials)
}

/// One password attempt's bookkeeping: how it ends when it is not a success.
struct Attempt<'a, S> {
    context: &'a GrantContext<'a, S>,
    username: &'a Username,
    keys: AttemptKeys,
    now: UnixSeconds,
}

/// An attempt that may check its password, and what was read with it.
struct Admitted {
    client: Client,
    /// `None` for an unknown username, checked against a dummy hash all the same.
    user: Option<User>,
    /// The attempt's number from its source (see [`Admission::Admitted`]).
    number: u32,
    /// What the login's tokens are bound to.
    binding: DpopBinding,
}

impl<S: GrantStore + LoginAttemptStore> Attempt<'_, S> {
    /// Takes the attempt from the source's budget while the client, the user and the
    /// username's failures are read, in the same round trip; then authenticates the client
    /// and decides whether the password may be checked. An attempt that may not is ended here.
    async fn admit(&self) -> Result<Admitted, GrantError> {
        let GrantContext {
            issuer,
            store,
            lockout,
            client: credentials,
            ..
        } = *self.context;
        let (username, keys, now) = (self.username, &self.keys, self.now);
        let attempt_request = lockout.attempt_request(keys.clone(), now);
        let (read, taken) = tokio::join!(
            store.password_grant_context(&credentials.client_id, username, keys, now),
            store.take_login_attempt(&attempt_request),
        );
        // Store unavailable: nothing is checked. A failed attempt-taking may or may not have
        // counted; a failed read gives back the attempt it took.
        let TakenAttempt {
            admission,
            known_source,
        } = taken?;
        let read = match read {
            Ok(read) => read,
            Err(error) => return Err(self.unchecked(admission, error).await),
        };
        let client = issuer
            .authenticate(store, read.client, credentials)
            .await
            .and_then(|client| match client.allows(GrantType::Password) {
                true => Ok(client),
                false => Err(GrantError::UnauthorizedClient),
            })
            .and_then(|client| {
                let binding = issuer.dpop_binding(&client, self.context.dpop)?;
                Ok((client, binding))
            });
        let (client, binding) = match client {
            Ok(client) => client,
            Err(error) => return Err(self.unchecked(admission, error).await),
        };
        match admission {
            Admission::Admitted { number }
                if known_source || !lockout.username_locked(read.username_failures, now) =>
            {
                Ok(Admitted {
                    client,
                    user: read.user,
                    number,
                    binding,
                })
            }
            Admission::Admitted { .. } | Admission::Refused => {
                // No password is checked while locked, so guessing burns no CPU; the answer
                // takes as long as a verification and the write after it would, as a wrong
                // password's does, so the lock is not visible in the timing either.
                let username_wide = matches!(admission, Admission::Admitted { .. });
                issuer.verifier().imitate_verification().await?;
                self.end_unchecked(admission).await;
                Err(GrantError::LockedOut { username_wide })
            }
        }
    }

    /// Issues a new login's pair, which starts a family, and clears the source's count.
    async fn log_in(
        &self,
        client: &Client,
        scope: Scope,
        binding: DpopBinding,
    ) -> Result<IssuedTokens, GrantError> {
        let (issuer, now) = (self.context.issuer, self.now);
        // The refresh token carries the scope granted here, not everything the client may ask
        // for, so a later refresh cannot widen it (RFC 6749 §6).
        let tokens = (new_token()?, new_token()?);
        let new_pair = NewPair {
            client,
            username: self.username,
            access_scope: scope.clone(),
            grant_scope: scope,
            family_id: new_family_id()?,
            family_secret: FamilySecret::generate()?,
            issued_at: now,
            binding,
        };
        let (issued, pair) = issuer
            .new_pair(new_pair, tokens, self.context.issuance)
            .await?;
        let known_until = now.saturating_add(KNOWN_SOURCE_SECONDS);
        self.context
            .store
            .issue_token_pair(&pair, Some((&self.keys, known_until)))
            .await?;
        Ok(issued)
    }
}

impl<S: LoginAttemptStore> Attempt<'_, S> {
    /// Ends an attempt that fails with `error` before its password counts as a guess, and
    /// returns the error to answer.
    async fn unchecked(&self, admission: Admission, error: impl Into<GrantError>) -> GrantError {
        self.end_unchecked(admission).await;
        error.into()
    }

    /// Gives back an attempt whose password was not checked. A failure to write is logged, not
    /// answered: the answer is decided already, and at worst the source waits for its hold.
    async fn end_unchecked(&self, admission: Admission) {
        let ended = match admission {
            Admission::Refused => UncheckedAttempt::Refused,
            Admission::Admitted { number } => UncheckedAttempt::Admitted {
                held: self.context.lockout.holds_source(number),
            },
        };
        let store = self.context.store;
        if let Err(error) = store
            .end_unchecked_login_attempt(&self.keys, ended, self.now)
            .await
        {
            tracing::error!(error = %error, "could not end a password attempt");
        }
    }

    /// Records that the `number`th attempt from a source had a wrong password, for a username
    /// known or not (counting only known users would reveal which exist). A failure to record
    /// is logged, not answered: the credentials were wrong either way, and the source stays
    /// held until the hold ends.
    async fn record_failure(&self, number: u32) {
        let (lockout, now) = (self.context.lockout, self.now);
        let failure = lockout.failure(self.keys.clone(), number, now);
        let recorded = self
            .context
            .store
            .record_login_failure(
                &failure,
                lockout.username_ceiling,
                lockout.username_lock_ends(now),
            )
            .await;
        match recorded {
            Err(error) => tracing::error!(error = %error, "could not record a failed login"),
            Ok(username) if username.count == lockout.username_ceiling => {
                tracing::warn!(
                    failures = username.count,
                    locked_for_seconds = username.expires_at.saturating_sub(now),
                    "password grant locked for a username everywhere: failures from many \
                     addresses reached the ceiling"
                );
            }
            Ok(_) if failure.locked_until > now => tracing::info!(
                attempt = number,
                locked_for_seconds = failure.locked_until - now,
                "password grant locked for a username from one address after repeated failures"
            ),
            Ok(_) => {}
        }
    }
}

/// Stores the replacement of a user's outdated hash (imported from Django, or made with older
/// Argon2 settings), which just verified.
async fn upgrade_password_hash<S: GrantStore>(store: &S, user: &User, replacement: &str) {
    let outcome = store
        .replace_user_password_hash(&user.username, &user.password_hash, replacement)
        .await;
    log_upgrade(outcome, "password", None);
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        ALICE, ALICE_PASSWORD, APP, Grants, OTHER_APP, address, credentials, password_request,
        scope,
    };
    use crate::domain::error::GrantError;
    use crate::domain::login_throttle::LockoutPolicy;
    use crate::domain::model::GrantType;
    use crate::domain::store::prelude::*;
    use crate::domain::token::TokenHash;

    fn is_locked_out(result: &Result<impl std::fmt::Debug, GrantError>, wide: bool) -> bool {
        matches!(result, Err(GrantError::LockedOut { username_wide }) if *username_wide == wide)
    }

    #[tokio::test]
    async fn the_right_password_gets_a_pair_for_the_clients_scope() {
        let grants = Grants::new().await;
        let issued = grants.alice_logs_in().await;
        assert!(issued.refresh_token.is_some());
        assert_eq!(issued.expires_in, 3600);
        assert_eq!(issued.scope, scope("read write"));
        let narrowed = grants
            .run(
                APP,
                password_request(ALICE, ALICE_PASSWORD, Some("write")),
                address(1),
            )
            .await;
        assert_eq!(
            narrowed.map(|issued| issued.scope).ok(),
            Some(scope("write"))
        );
    }

    #[tokio::test]
    async fn a_wrong_password_and_an_unknown_user_are_told_apart_by_nothing() {
        let grants = Grants::new().await;
        let wrong = grants.password_from(APP, "guess", address(1)).await;
        let unknown = grants
            .run(
                APP,
                password_request("mallory", ALICE_PASSWORD, None),
                address(1),
            )
            .await;
        assert!(
            matches!(wrong, Err(GrantError::InvalidCredentials)),
            "{wrong:?}"
        );
        assert!(
            matches!(unknown, Err(GrantError::InvalidCredentials)),
            "{unknown:?}"
        );
    }

    #[tokio::test]
    async fn a_username_no_user_can_have_is_a_wrong_password_after_the_client_check() {
        let grants = Grants::new().await;
        for malformed in [" alice", "a\u{7}b", &"u".repeat(151)] {
            let refused = grants
                .run(
                    APP,
                    password_request(malformed, ALICE_PASSWORD, None),
                    address(1),
                )
                .await;
            assert!(
                matches!(refused, Err(GrantError::InvalidCredentials)),
                "{refused:?}"
            );
            let wrong_client = grants
                .run_as(
                    Some(credentials(APP, "not-the-secret")),
                    password_request(malformed, ALICE_PASSWORD, None),
                    address(1),
                )
                .await;
            assert!(
                matches!(wrong_client, Err(GrantError::InvalidClient)),
                "{wrong_client:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_client_is_checked_before_the_password_and_costs_no_attempt() {
        let grants = Grants::new().await;
        grants
            .add_client("machines", "read", &[GrantType::ClientCredentials])
            .await;
        for _ in 0..10 {
            let refused = grants.password_from("machines", "guess", address(1)).await;
            assert!(
                matches!(refused, Err(GrantError::UnauthorizedClient)),
                "{refused:?}"
            );
            let wrong_secret = grants
                .run_as(
                    Some(credentials(APP, "not-the-secret")),
                    password_request(ALICE, "guess", None),
                    address(1),
                )
                .await;
            assert!(
                matches!(wrong_secret, Err(GrantError::InvalidClient)),
                "{wrong_secret:?}"
            );
        }
        let anonymous = grants
            .run_as(
                None,
                password_request(ALICE, ALICE_PASSWORD, None),
                address(1),
            )
            .await;
        assert!(
            matches!(anonymous, Err(GrantError::InvalidClient)),
            "{anonymous:?}"
        );
        // None of those counted as a guess from that address.
        grants.alice_logs_in().await;
    }

    #[tokio::test]
    async fn a_scope_wider_than_the_clients_is_refused_after_the_password() {
        let grants = Grants::new().await;
        let wider = grants
            .run(
                OTHER_APP,
                password_request(ALICE, ALICE_PASSWORD, Some("write")),
                address(1),
            )
            .await;
        assert!(matches!(wider, Err(GrantError::InvalidScope)), "{wider:?}");
    }

    #[tokio::test]
    async fn repeated_failures_lock_the_address_even_for_the_right_password_until_the_lock_ends() {
        let grants = Grants::new().await;
        let free = LockoutPolicy::default().free_failures;
        // The free failures, then one more, which sets the first lock (1 s).
        for _ in 0..=free {
            let wrong = grants.password_from(APP, "guess", address(1)).await;
            assert!(
                matches!(wrong, Err(GrantError::InvalidCredentials)),
                "{wrong:?}"
            );
        }
        let locked = grants.password_from(APP, ALICE_PASSWORD, address(1)).await;
        assert!(is_locked_out(&locked, false), "{locked:?}");
        // Another address is not held back by this one's failures.
        assert!(
            grants
                .password_from(APP, ALICE_PASSWORD, address(2))
                .await
                .is_ok()
        );
        grants.advance(2);
        assert!(
            grants
                .password_from(APP, ALICE_PASSWORD, address(1))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_success_clears_the_addresss_failures() {
        let grants = Grants::new().await;
        let free = LockoutPolicy::default().free_failures;
        for _ in 0..2 {
            for _ in 0..free {
                let wrong = grants.password_from(APP, "guess", address(1)).await;
                assert!(
                    matches!(wrong, Err(GrantError::InvalidCredentials)),
                    "{wrong:?}"
                );
            }
            grants.alice_logs_in().await;
        }
    }

    #[tokio::test]
    async fn failures_from_many_addresses_lock_the_username_except_for_known_addresses() {
        let lockout = LockoutPolicy {
            username_ceiling: 3,
            ..LockoutPolicy::default()
        };
        let grants = Grants::with_lockout(lockout).await;
        // Address 1 logged in before: it is known.
        grants.alice_logs_in().await;
        for n in 10..13 {
            let wrong = grants.password_from(APP, "guess", address(n)).await;
            assert!(
                matches!(wrong, Err(GrantError::InvalidCredentials)),
                "{wrong:?}"
            );
        }
        let stranger = grants.password_from(APP, ALICE_PASSWORD, address(20)).await;
        assert!(is_locked_out(&stranger, true), "{stranger:?}");
        assert!(
            grants
                .password_from(APP, ALICE_PASSWORD, address(1))
                .await
                .is_ok()
        );
        grants.advance(
            lockout
                .username_window_seconds
                .max(lockout.username_lock_seconds)
                + 1,
        );
        assert!(
            grants
                .password_from(APP, ALICE_PASSWORD, address(20))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn the_pair_is_stored_for_the_user_and_the_client() {
        let grants = Grants::new().await;
        let issued = grants.alice_logs_in().await;
        let access = grants
            .store
            .access_token(&TokenHash::of(&issued.access_token), grants.now())
            .await
            .unwrap_or_else(|error| panic!("{error}"))
            .unwrap_or_else(|| panic!("the access token is stored"));
        assert_eq!(access.client_id, APP);
        assert_eq!(access.username.as_deref(), Some(ALICE));
    }
}
