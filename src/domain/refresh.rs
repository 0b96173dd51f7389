//! The refresh token grant (RFC 6749 §6), idempotent: a refresh token's successor pair is
//! derived from it under its family's secret ([`FamilySecret`]), so presenting it again within
//! the retry window, while the successor is unused, answers the identical pair. Retries and
//! concurrent duplicates converge on one line of the login; anything else that presents a used
//! refresh token revokes the family (RFC 9700 §4.14.2).

use super::clock::UnixSeconds;
use super::error::GrantError;
use super::grant::{ClientCredentials, IssuedTokens, TokenService, narrow};
use super::model::{
    AccessTokenRecord, Client, GrantType, RefreshTokenRecord, StoredToken, TokenPair,
    UsedRefreshToken,
};
use super::scope::Scope;
use super::secret::Secret;
use super::store::{Rotation, Store, StoreError};
use super::token::{FamilySecret, TokenHash};

impl<S: Store> TokenService<S> {
    /// RFC 6749 §6. Order of checks: client, grant permission, token, scope. The client is
    /// checked as it is now: a grant type or scope taken away from it applies at its next
    /// refresh. A refused request leaves the refresh token usable.
    pub(super) async fn refresh_grant(
        &self,
        credentials: &ClientCredentials,
        refresh_token: &Secret,
        requested_scope: Option<&str>,
    ) -> Result<IssuedTokens, GrantError> {
        let now = self.clock.now();
        let context = self
            .store
            .token_context(&credentials.client_id, &TokenHash::of(refresh_token), now)
            .await?;
        let client = self.authenticate(context.client, credentials).await?;
        if !client.allows(GrantType::RefreshToken) {
            return Err(GrantError::UnauthorizedClient);
        }
        let used = match context.token {
            // Another client's token is refused without being used up (RFC 6749 §6: the token
            // must have been issued to the authenticated client).
            // A client registered after the token was issued is a namesake of the one it was
            // issued to, which was deleted: the token is not its.
            Some(StoredToken::Refresh(token))
                if token.client_id == client.client_id
                    && token.is_live_at(now)
                    && !client.registered_after(token.issued_at) =>
            {
                token
            }
            Some(StoredToken::UsedRefresh(used))
                if used.client_id == client.client_id && !client.registered_after(used.used_at) =>
            {
                return self
                    .presented_again(&used, refresh_token, requested_scope, now)
                    .await;
            }
            _ => return Err(GrantError::InvalidRefreshToken),
        };
        let scope = refreshed_scope(requested_scope, &used.scope, &client)?;
        let (issued, pair) = self.successor_pair(&client, &used, refresh_token, scope, now)?;
        let keep_used_record_until = now + self.lifetimes.used_refresh_token_record;
        let rotated = self
            .store
            .rotate_refresh_token(&used, &pair, now, keep_used_record_until)
            .await;
        match rotated {
            Ok(Rotation::Rotated) => Ok(issued),
            // Refused: a concurrent duplicate may have rotated it first, to the same pair.
            // Failed: the write may have committed all the same. Either way the store says.
            Ok(Rotation::Refused) => match self.rotated_to(&used, &pair, now).await? {
                true => Ok(issued),
                false => Err(GrantError::InvalidRefreshToken),
            },
            Err(error) => match self.rotated_to(&used, &pair, now).await {
                Ok(true) => {
                    tracing::info!(
                        client_id = %used.client_id,
                        "a refresh whose outcome was unknown had committed"
                    );
                    Ok(issued)
                }
                Ok(false) | Err(_) => Err(error.into()),
            },
        }
    }

    /// Whether `used` is now a used refresh token whose successor is `pair`'s, still unused:
    /// the rotation this request asked for happened, by this request or a duplicate of it, and
    /// its pair is still the answer.
    async fn rotated_to(
        &self,
        used: &RefreshTokenRecord,
        pair: &TokenPair,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        let found = self
            .store
            .read_tokens(&[&used.token_hash, &pair.refresh.token_hash], now)
            .await?;
        Ok(matches!(
            found.as_slice(),
            [Some(StoredToken::UsedRefresh(record)), Some(StoredToken::Refresh(_))]
                if record.successor_refresh == pair.refresh.token_hash
        ))
    }

    /// A refresh token presented again after it was used.
    ///
    /// Within the retry window, while its successor is unused, the answer is the identical
    /// pair: the client's earlier answer was lost, or this is a concurrent duplicate. A
    /// successor already used means two holders of the login diverged: within the leeway that
    /// is a duplicate still in flight and only refused, later the family is revoked. Past the
    /// window, someone holds a copy: the family is revoked.
    async fn presented_again(
        &self,
        used: &UsedRefreshToken,
        presented: &Secret,
        requested_scope: Option<&str>,
        now: UnixSeconds,
    ) -> Result<IssuedTokens, GrantError> {
        let since_use = now.saturating_sub(used.used_at);
        // The successor's access token must still be live for the pair to be the same answer.
        let window = self
            .lifetimes
            .refresh_retry_window
            .min(self.lifetimes.access_token);
        let successors = used
            .family_secret
            .as_ref()
            .map(|secret| secret.successors(presented))
            .filter(|(_, refresh)| TokenHash::of(refresh) == used.successor_refresh);
        match successors {
            Some((access, refresh)) if since_use < window => {
                // A retry may not ask for more than the grant; it gets the pair as first issued.
                narrow(requested_scope, &used.scope)?;
                let found = self
                    .store
                    .read_tokens(&[&used.successor_refresh, &used.successor_access], now)
                    .await?;
                match found.as_slice() {
                    [
                        Some(StoredToken::Refresh(_)),
                        Some(StoredToken::Access(record)),
                    ] => {
                        return Ok(retried_answer(access, refresh, record, now));
                    }
                    [Some(StoredToken::UsedRefresh(successor)), _]
                        if now.saturating_sub(successor.used_at)
                            < self.lifetimes.refresh_reuse_leeway =>
                    {
                        return Err(GrantError::InvalidRefreshToken);
                    }
                    [Some(StoredToken::UsedRefresh(_)), _] => {}
                    // Revoked or expired: there is nothing to answer with, and nothing left
                    // to revoke.
                    _ => return Err(GrantError::InvalidRefreshToken),
                }
            }
            // A record left before families had secrets: duplicates within the leeway are
            // only refused.
            None if since_use < self.lifetimes.refresh_reuse_leeway => {
                return Err(GrantError::InvalidRefreshToken);
            }
            _ => {}
        }
        let revoked = self.store.revoke_family(&used.family_id).await?;
        tracing::warn!(
            client_id = %used.client_id,
            family = %used.family_id,
            revoked_tokens = revoked,
            "used refresh token presented again: token family revoked"
        );
        Err(GrantError::InvalidRefreshToken)
    }

    /// The pair that succeeds `used`, derived from the presented token under the family's
    /// secret (a family from before secrets gets one now). The access token gets `scope`; the
    /// refresh token keeps the grant's scope, so a later refresh may ask for it again.
    fn successor_pair(
        &self,
        client: &Client,
        used: &RefreshTokenRecord,
        presented: &Secret,
        scope: Scope,
        now: UnixSeconds,
    ) -> Result<(IssuedTokens, TokenPair), GrantError> {
        let secret = match &used.family_secret {
            Some(secret) => secret.clone(),
            None => FamilySecret::generate()?,
        };
        let tokens = secret.successors(presented);
        Ok(self.new_pair(
            client,
            &used.username,
            scope,
            used.scope.clone(),
            used.family_id.clone(),
            tokens,
            secret,
            now,
        ))
    }
}

/// The scope of a refreshed access token: the one requested, which must lie within the
/// original grant's (RFC 6749 §6), or the grant's; then only what the client may still have.
fn refreshed_scope(
    requested: Option<&str>,
    grant_scope: &Scope,
    client: &Client,
) -> Result<Scope, GrantError> {
    let scope = narrow(requested, grant_scope)?.intersection(&client.scope);
    if scope.is_empty() && !grant_scope.is_empty() {
        // Everything this login was granted has been taken away from the client.
        return Err(GrantError::InvalidScope);
    }
    Ok(scope)
}

/// The answer to a retry: the identical tokens, with the access token's remaining lifetime
/// and its scope as first issued.
fn retried_answer(
    access: Secret,
    refresh: Secret,
    record: &AccessTokenRecord,
    now: UnixSeconds,
) -> IssuedTokens {
    IssuedTokens {
        access_token: access,
        refresh_token: Some(refresh),
        expires_in: record.expires_at.saturating_sub(now),
        scope: record.scope.clone(),
    }
}
