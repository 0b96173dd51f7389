//! The resource owner password credentials grant (RFC 6749 §4.3), with the attempt counting of
//! [`crate::domain::login_throttle`]: a burst of guesses cannot check more passwords than the
//! lockout policy allows.

use super::{GrantContext, GrantParameters, MissingParameter, required};
use crate::domain::clock::UnixSeconds;
use crate::domain::credentials::Verification;
use crate::domain::error::GrantError;
use crate::domain::issuer::{IssuedTokens, NewPair, log_upgrade, narrow, new_family_id};
use crate::domain::login_throttle::{
    Admission, AttemptKeys, KNOWN_SOURCE_SECONDS, TakenAttempt, UncheckedAttempt,
};
use crate::domain::model::{GrantType, User};
use crate::domain::secret::Secret;
use crate::domain::store::{GrantStore, LoginAttemptStore};
use crate::domain::token::{FamilySecret, new_token};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRequest {
    pub username: String,
    pub password: Secret,
    /// The raw `scope` parameter, parsed at its turn in the grant's order of checks.
    pub scope: Option<String>,
}

impl PasswordRequest {
    pub const PARAMETERS: &[&str] = &["username", "password", "scope"];

    pub fn parse(params: &dyn GrantParameters) -> Result<Self, MissingParameter> {
        Ok(Self {
            username: required(params, "username", "Request is missing username parameter.")?
                .to_owned(),
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
    let GrantContext {
        issuer,
        store,
        lockout,
        client: credentials,
        ..
    } = *context;
    let now = issuer.now();
    let attempt = Attempt {
        context,
        keys: AttemptKeys::new(&request.username, context.source),
        now,
    };
    let attempt_request = lockout.attempt_request(attempt.keys.clone(), now);
    let (read, taken) = tokio::join!(
        store.password_grant_context(
            &credentials.client_id,
            &request.username,
            &attempt.keys,
            now
        ),
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
        Err(error) => return Err(attempt.unchecked(admission, error).await),
    };
    let client = issuer
        .authenticate(store, read.client, credentials)
        .await
        .and_then(|client| match client.allows(GrantType::Password) {
            true => Ok(client),
            false => Err(GrantError::UnauthorizedClient),
        });
    let client = match client {
        Ok(client) => client,
        Err(error) => return Err(attempt.unchecked(admission, error).await),
    };
    let number = match admission {
        Admission::Admitted { number }
            if known_source || !lockout.username_locked(read.username_failures, now) =>
        {
            number
        }
        Admission::Admitted { .. } | Admission::Refused => {
            // No password is checked while locked, so guessing burns no CPU; the answer takes
            // as long as a verification and the write after it would, as a wrong password's
            // does, so the lock is not visible in the timing either.
            let username_wide = matches!(admission, Admission::Admitted { .. });
            issuer.verifier().imitate_verification().await?;
            attempt.end_unchecked(admission).await;
            return Err(GrantError::LockedOut { username_wide });
        }
    };
    let verification = issuer
        .verifier()
        .verify_password(read.user.as_ref(), &request.password)
        .await?;
    if !verification.matched() {
        attempt.record_failure(number).await;
        return Err(GrantError::InvalidCredentials);
    }
    if let (Verification::MatchedOutdated { replacement }, Some(user)) = (verification, &read.user)
    {
        upgrade_password_hash(store, user, &replacement).await;
    }
    let scope = match narrow(request.scope.as_deref(), &client.scope) {
        Ok(scope) => scope,
        // The password was right; the request fails on its scope, which is no guess.
        Err(error) => return Err(attempt.unchecked(admission, error).await),
    };

    // The refresh token carries the scope granted here, not everything the client may ask
    // for, so a later refresh cannot widen it (RFC 6749 §6).
    let tokens = (new_token()?, new_token()?);
    let new_pair = NewPair {
        client: &client,
        username: &request.username,
        access_scope: scope.clone(),
        grant_scope: scope,
        family_id: new_family_id()?,
        family_secret: FamilySecret::generate()?,
        issued_at: now,
    };
    let (issued, pair) = issuer.new_pair(new_pair, tokens, context.issuance).await?;
    let known_until = now.saturating_add(KNOWN_SOURCE_SECONDS);
    store
        .issue_token_pair(&pair, Some((&attempt.keys, known_until)))
        .await?;
    Ok(issued)
}

/// One password attempt's bookkeeping: how it ends when it is not a success.
struct Attempt<'a, S> {
    context: &'a GrantContext<'a, S>,
    keys: AttemptKeys,
    now: UnixSeconds,
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
