//! The refresh token grant (RFC 6749 §6), idempotent: a refresh token's successor pair is
//! derived from it under its family's secret ([`FamilySecret`]), so presenting it again within
//! the retry window, while the successor is unused, answers the identical pair. Retries and
//! concurrent duplicates converge on one line of the login; anything else that presents a used
//! refresh token revokes the family (RFC 9700 §4.14.2).

use super::{GrantContext, GrantParameters, MissingParameter, required};
use crate::domain::clock::UnixSeconds;
use crate::domain::error::GrantError;
use crate::domain::issuance::{Issuance, IssuanceRefused};
use crate::domain::issuer::{
    AccessGrant, ClientCredentials, DpopBinding, IssuedTokens, Issuer, NewPair, narrow,
};
use crate::domain::jose::Thumbprint;
use crate::domain::jose::dpop::{DpopError, ProofRefusal};
use crate::domain::model::{
    AccessTokenRecord, Client, GrantType, RefreshTokenRecord, StoredToken, SupersededToken,
    TokenPair, UsedRefreshToken,
};
use crate::domain::scope::Scope;
use crate::domain::secret::Secret;
use crate::domain::store::{GrantStore, Rotation, StoreError};
use crate::domain::token::{FamilySecret, TokenHash, TokenKey};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRequest {
    pub refresh_token: Secret,
    /// The raw `scope` parameter.
    pub scope: Option<String>,
}

impl RefreshRequest {
    pub const PARAMETERS: &[&str] = &["refresh_token", "scope"];

    pub fn parse(params: &dyn GrantParameters) -> Result<Self, MissingParameter> {
        Ok(Self {
            refresh_token: required(params, "refresh_token", "Missing refresh token parameter.")?
                .into(),
            scope: params.get("scope").map(str::to_owned),
        })
    }
}

/// RFC 6749 §6. Order of checks: client, grant permission, token, scope. The client is checked
/// as it is now: a grant type or scope taken away from it applies at its next refresh. A
/// refused request leaves the refresh token usable.
pub async fn issue<S: GrantStore>(
    context: &GrantContext<'_, S>,
    request: RefreshRequest,
) -> Result<IssuedTokens, GrantError> {
    let refresh = Refresh {
        issuer: context.issuer,
        store: context.store,
    };
    refresh
        .rotate(
            context.client,
            &request.refresh_token,
            request.scope.as_deref(),
            (context.issuance, context.dpop),
        )
        .await
}

/// The issuer and the store a refresh works with.
struct Refresh<'a, S> {
    issuer: &'a Issuer,
    store: &'a S,
}

impl<S: GrantStore> Refresh<'_, S> {
    /// Uses the presented refresh token and answers its successor pair, or the pair a
    /// duplicate or an earlier answer already got.
    async fn rotate(
        &self,
        credentials: &ClientCredentials,
        refresh_token: &Secret,
        requested_scope: Option<&str>,
        (issuance, proven): (Result<&Issuance, IssuanceRefused>, Option<&Thumbprint>),
    ) -> Result<IssuedTokens, GrantError> {
        let now = self.issuer.now();
        let context = self
            .store
            .token_context(&credentials.client_id, &TokenKey::of(refresh_token), now)
            .await?;
        let client = self
            .issuer
            .authenticate(self.store, context.client, credentials)
            .await?;
        if !client.allows(GrantType::RefreshToken) {
            return Err(GrantError::UnauthorizedClient);
        }
        let mut binding = self.issuer.dpop_binding(&client, proven)?;
        let used = match context.token {
            // Another client's token is refused without being used up (RFC 6749 §6: the token
            // must have been issued to the authenticated client).
            // A client registered after the token was issued is a namesake of the one it was
            // issued to, which was deleted: the token is not its. A login issued under a
            // credential version the client has moved on from ended with that change (a
            // secret rotated with `--revoke-tokens`), even if it was in flight then.
            Some(StoredToken::Refresh(token))
                if token.client_id == client.client_id
                    && token.is_live_at(now)
                    && !client.registered_after(token.issued_at)
                    && client.still_issues_under(token.client_version) =>
            {
                token
            }
            Some(StoredToken::UsedRefresh(used))
                if used.client_id == client.client_id
                    && !client.registered_after(used.used_at)
                    && client.still_issues_under(used.client_version) =>
            {
                let presented = Presentation {
                    client: &client,
                    token: refresh_token,
                    requested_scope,
                    issuance,
                    binding: &binding,
                };
                return self.presented_again(&used, presented, now).await;
            }
            Some(StoredToken::Superseded(older)) if older.client_id == client.client_id => {
                return self.older_presented(&older, refresh_token, now).await;
            }
            _ => return Err(GrantError::InvalidRefreshToken),
        };
        // A bound refresh token is used by its key's proofs only (RFC 9449 §5), and its
        // successor stays bound to that key whatever the client's policy is now. Refused, it
        // is not used up.
        if let Some(bound) = &used.jkt {
            if proven != Some(bound) {
                return Err(DpopError::Invalid(ProofRefusal::WrongKey).into());
            }
            binding.refresh = Some(bound.clone());
        }
        let scope = refreshed_scope(requested_scope, &used.scope, &client)?;
        let successor = Successor {
            client: &client,
            used: &used,
            presented: refresh_token,
            scope,
            issuance,
            binding: &binding,
        };
        let (issued, pair) = self.successor_pair(&successor, now).await?;
        let keep_used_record_until = now + self.issuer.lifetimes().used_refresh_token_record;
        let rotated = self
            .store
            .rotate_refresh_token(&used, &pair, now, keep_used_record_until)
            .await;
        match rotated {
            Ok(Rotation::Rotated) => Ok(issued),
            // Refused: a concurrent duplicate may have rotated it first, to the same pair.
            // Failed: the write may have committed all the same. Either way the store says.
            Ok(Rotation::Refused) => match self.rotated_to(&used, &pair, now).await? {
                Some(access) => {
                    self.as_rotated(&successor, &access, (issued, pair), now)
                        .await
                }
                None => Err(GrantError::InvalidRefreshToken),
            },
            Err(error) => match self.rotated_to(&used, &pair, now).await {
                Ok(Some(access)) => {
                    tracing::info!(
                        client_id = %used.client_id,
                        "a refresh whose outcome was unknown had committed"
                    );
                    self.as_rotated(&successor, &access, (issued, pair), now)
                        .await
                }
                Ok(None) | Err(_) => Err(error.into()),
            },
        }
    }

    /// The answer of a rotation that stored the access token `stored_access`, by this request
    /// or a duplicate of it: this request's pair if that is what was stored, or else the
    /// stored pair, signed again from its record. A duplicate may have rotated at another
    /// second (a JWT's `iat` and `exp` are the rotation's), or for another scope or audience;
    /// the answer is the token that was stored, or none.
    async fn as_rotated(
        &self,
        successor: &Successor<'_>,
        stored_access: &TokenHash,
        (issued, pair): (IssuedTokens, TokenPair),
        now: UnixSeconds,
    ) -> Result<IssuedTokens, GrantError> {
        if *stored_access == pair.access.token_hash {
            return Ok(issued);
        }
        let family_id = &successor.used.family_id;
        let key = TokenKey::in_family(family_id, stored_access.clone());
        let found = self.store.read_tokens(&[&key], now).await?;
        let (Some(family_secret), [Some(StoredToken::Access(record))]) =
            (&successor.used.family_secret, found.as_slice())
        else {
            return Err(GrantError::InvalidRefreshToken);
        };
        let values = family_secret.successors(family_id, successor.presented);
        let answering = Presentation {
            client: successor.client,
            token: successor.presented,
            requested_scope: None,
            issuance: successor.issuance,
            binding: successor.binding,
        };
        self.retried_answer(&answering, values, record, now).await
    }

    /// The access token stored by the rotation of `used`, if `used` is now a used refresh
    /// token whose successor is `pair`'s, still unused: the rotation this request asked for
    /// happened, by this request or a duplicate of it, and its pair is still the answer.
    async fn rotated_to(
        &self,
        used: &RefreshTokenRecord,
        pair: &TokenPair,
        now: UnixSeconds,
    ) -> Result<Option<TokenHash>, StoreError> {
        let family_id = &used.family_id;
        let used_key = TokenKey::in_family(family_id, used.token_hash.clone());
        let successor_key = TokenKey::in_family(family_id, pair.refresh.token_hash.clone());
        let found = self
            .store
            .read_tokens(&[&used_key, &successor_key], now)
            .await?;
        Ok(match found.as_slice() {
            [
                Some(StoredToken::UsedRefresh(record)),
                Some(StoredToken::Refresh(_)),
            ] if record.successor_refresh == pair.refresh.token_hash => {
                Some(record.successor_access.clone())
            }
            _ => None,
        })
    }

    /// A refresh token presented again after it was used.
    ///
    /// Within the retry window, while its successor is unused, the answer is the identical
    /// pair: the client's earlier answer was lost, or this is a concurrent duplicate. A
    /// successor already used means two holders of the login diverged: within the leeway that
    /// is a duplicate still in flight and only refused, later the family is revoked. Past the
    /// window, someone holds a copy: the family is revoked. With a window of 0 a used token is
    /// always refused: within the leeway of its use only refused, later its family revoked.
    async fn presented_again(
        &self,
        used: &UsedRefreshToken,
        presented: Presentation<'_>,
        now: UnixSeconds,
    ) -> Result<IssuedTokens, GrantError> {
        let since_use = now.saturating_sub(used.used_at);
        // The successor's access token must still be live for the pair to be the same answer.
        let window = self
            .issuer
            .lifetimes()
            .refresh_retry_window
            .min(self.issuer.lifetimes().access_token);
        let successors = used
            .family_secret
            .as_ref()
            .map(|secret| secret.successors(&used.family_id, presented.token))
            .filter(|(_, refresh)| TokenHash::of(refresh) == used.successor_refresh);
        match successors {
            Some((access, refresh)) if since_use < window => {
                // A retry may not ask for more than the grant; it gets the pair as first issued.
                narrow(presented.requested_scope, &used.scope)?;
                let family_id = &used.family_id;
                let refresh_key = TokenKey::in_family(family_id, used.successor_refresh.clone());
                let access_key = TokenKey::in_family(family_id, used.successor_access.clone());
                let found = self
                    .store
                    .read_tokens(&[&refresh_key, &access_key], now)
                    .await?;
                match found.as_slice() {
                    [
                        Some(StoredToken::Refresh(_)),
                        Some(StoredToken::Access(record)),
                    ] => {
                        return self
                            .retried_answer(&presented, (access, refresh), record, now)
                            .await;
                    }
                    [Some(StoredToken::UsedRefresh(successor)), _]
                        if now.saturating_sub(successor.used_at)
                            < self.issuer.lifetimes().refresh_reuse_leeway =>
                    {
                        return Err(GrantError::InvalidRefreshToken);
                    }
                    [
                        Some(StoredToken::UsedRefresh(_) | StoredToken::Superseded(_)),
                        _,
                    ] => {}
                    // Revoked or expired: there is nothing to answer with, and nothing left
                    // to revoke.
                    _ => return Err(GrantError::InvalidRefreshToken),
                }
            }
            // No identical pair to answer with (a record left before families had secrets,
            // or a retry window of 0): duplicates within the leeway are only refused.
            _ if since_use < self.issuer.lifetimes().refresh_reuse_leeway => {
                return Err(GrantError::InvalidRefreshToken);
            }
            _ => {}
        }
        self.revoke_replayed(&used.client_id, &used.family_id).await
    }

    /// A value naming a live family that is none of the refresh tokens it remembers. If it is
    /// an older refresh token of the family (its chain of successors reaches one the family
    /// knows), someone replays a copy: the family is revoked, unless its successor was used
    /// within the leeway (a duplicate still in flight). Any other value is only refused.
    async fn older_presented(
        &self,
        older: &SupersededToken,
        presented: &Secret,
        now: UnixSeconds,
    ) -> Result<IssuedTokens, GrantError> {
        let lifetimes = self.issuer.lifetimes();
        // Used refresh tokens not remembered at all (USED_REFRESH_TOKEN_RETENTION_SECONDS=off):
        // a replay reads as unknown and revokes nothing, whatever its age.
        if lifetimes.used_refresh_token_record == 0 {
            return Err(GrantError::InvalidRefreshToken);
        }
        let back = older.generations_back(presented);
        let leeway = lifetimes.refresh_reuse_leeway;
        match back {
            None => Err(GrantError::InvalidRefreshToken),
            Some(1) if now.saturating_sub(older.rotated_at) < leeway => {
                Err(GrantError::InvalidRefreshToken)
            }
            Some(_) => {
                self.revoke_replayed(&older.client_id, &older.family_id)
                    .await
            }
        }
    }

    async fn revoke_replayed(
        &self,
        client_id: &str,
        family_id: &str,
    ) -> Result<IssuedTokens, GrantError> {
        let revoked = self.store.revoke_family(family_id).await?;
        tracing::warn!(
            client_id,
            family = family_id,
            revoked_tokens = revoked,
            "used refresh token presented again: token family revoked"
        );
        Err(GrantError::InvalidRefreshToken)
    }

    /// The pair that succeeds `successor.used`, issued at `issued_at`, derived from the
    /// presented token under the family's secret (a family from before secrets gets one now).
    /// The access token gets the successor's scope; the refresh token keeps the grant's, so a
    /// later refresh may ask for it again.
    async fn successor_pair(
        &self,
        successor: &Successor<'_>,
        issued_at: UnixSeconds,
    ) -> Result<(IssuedTokens, TokenPair), GrantError> {
        let used = successor.used;
        let family_secret = match &used.family_secret {
            Some(secret) => secret.clone(),
            None => FamilySecret::generate()?,
        };
        let tokens = family_secret.successors(&used.family_id, successor.presented);
        let new_pair = NewPair {
            client: successor.client,
            username: &used.username,
            access_scope: successor.scope.clone(),
            grant_scope: used.scope.clone(),
            family_id: used.family_id.clone(),
            family_secret,
            issued_at,
            binding: successor.binding.clone(),
            client_version: used.client_version,
        };
        self.issuer
            .new_pair(new_pair, tokens, successor.issuance)
            .await
    }

    /// The answer to a retry: the identical tokens, with the access token's remaining lifetime
    /// and its scope as first issued. A JWT is signed again from the stored record, as it was
    /// first; if that does not give the stored token (the client's format changed since, or
    /// the retry asks for another audience), there is no identical answer to give. Nor is
    /// there if the retry would bind the access token to another DPoP key, or to none.
    async fn retried_answer(
        &self,
        presented: &Presentation<'_>,
        (access_value, refresh): (Secret, Secret),
        record: &AccessTokenRecord,
        now: UnixSeconds,
    ) -> Result<IssuedTokens, GrantError> {
        if record.jkt != presented.binding.access {
            return Err(GrantError::InvalidRefreshToken);
        }
        let grant = AccessGrant {
            client: presented.client,
            username: record.username.as_ref(),
            scope: &record.scope,
            issued_at: record.issued_at,
            expires_at: record.expires_at,
            jkt: record.jkt.as_ref(),
        };
        let access_token = self
            .issuer
            .access_token(&grant, access_value, presented.issuance)
            .await?;
        if TokenHash::of(&access_token) != record.token_hash {
            return Err(GrantError::InvalidRefreshToken);
        }
        Ok(IssuedTokens {
            access_token,
            refresh_token: Some(refresh),
            expires_in: record.expires_at.saturating_sub(now),
            scope: record.scope.clone(),
            dpop_bound: record.jkt.is_some(),
        })
    }
}

/// A used refresh token presented again, and by whom.
struct Presentation<'a> {
    client: &'a Client,
    token: &'a Secret,
    requested_scope: Option<&'a str>,
    issuance: Result<&'a Issuance, IssuanceRefused>,
    binding: &'a DpopBinding,
}

/// What a refresh's successor pair is derived from.
struct Successor<'a> {
    client: &'a Client,
    used: &'a RefreshTokenRecord,
    presented: &'a Secret,
    scope: Scope,
    issuance: Result<&'a Issuance, IssuanceRefused>,
    binding: &'a DpopBinding,
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{APP, Grants, OTHER_APP, client_id, scope, username};
    use crate::domain::error::GrantError;
    use crate::domain::issuer::{IssuedTokens, Lifetimes};
    use crate::domain::model::{FamilyOwner, GrantType};
    use crate::domain::secret::Secret;
    use crate::domain::store::ClientChanges;
    use crate::domain::store::prelude::*;

    fn refresh_token(issued: &IssuedTokens) -> Secret {
        issued
            .refresh_token
            .clone()
            .unwrap_or_else(|| panic!("a pair has a refresh token"))
    }

    fn is_refused(result: &Result<IssuedTokens, GrantError>) -> bool {
        matches!(result, Err(GrantError::InvalidRefreshToken))
    }

    #[tokio::test]
    async fn a_refresh_token_is_spent_for_a_new_pair_of_the_same_login() {
        let grants = Grants::new().await;
        let login = grants.alice_logs_in().await;
        let next = grants.refresh(APP, &refresh_token(&login), None).await;
        let next = next.unwrap_or_else(|error| panic!("{error}"));
        assert_ne!(next.access_token, login.access_token);
        assert_ne!(refresh_token(&next), refresh_token(&login));
        assert_eq!(next.scope, scope("read write"));
        assert!(
            grants
                .refresh(APP, &refresh_token(&next), None)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_retry_within_the_window_gets_the_identical_pair() {
        let grants = Grants::new().await;
        let login = grants.alice_logs_in().await;
        let first = grants.refresh(APP, &refresh_token(&login), None).await;
        grants.advance(5);
        let retry = grants.refresh(APP, &refresh_token(&login), None).await;
        let (first, retry) = (first.ok(), retry.ok());
        assert!(first.is_some());
        assert_eq!(
            retry.as_ref().map(|r| (&r.access_token, &r.refresh_token)),
            first.as_ref().map(|f| (&f.access_token, &f.refresh_token))
        );
        assert_eq!(
            retry.map(|r| r.expires_in),
            Some(3600 - 5),
            "what is left of it"
        );
    }

    #[tokio::test]
    async fn a_replay_after_the_successor_was_used_revokes_the_login() {
        let grants = Grants::new().await;
        let login = grants.alice_logs_in().await;
        let second = grants.refresh(APP, &refresh_token(&login), None).await;
        let second = second.unwrap_or_else(|error| panic!("{error}"));
        let third = grants.refresh(APP, &refresh_token(&second), None).await;
        let third = third.unwrap_or_else(|error| panic!("{error}"));
        // Past the leeway for duplicates in flight, someone else holds the first token.
        grants.advance(10);
        assert!(is_refused(
            &grants.refresh(APP, &refresh_token(&login), None).await
        ));
        assert!(is_refused(
            &grants.refresh(APP, &refresh_token(&third), None).await
        ));
    }

    /// A login and the pair its refresh token was spent for.
    async fn refreshed_once(grants: &Grants) -> (IssuedTokens, IssuedTokens) {
        let login = grants.alice_logs_in().await;
        let next = grants.refresh(APP, &refresh_token(&login), None).await;
        (login, next.unwrap_or_else(|error| panic!("{error}")))
    }

    #[tokio::test]
    async fn with_a_retry_window_of_0_a_used_token_is_always_refused() {
        let strict = Lifetimes {
            refresh_retry_window: 0,
            ..Lifetimes::default()
        };
        let grants = Grants::new().await.with_lifetimes(strict);
        let (login, second) = refreshed_once(&grants).await;
        // Within the leeway of its use: a duplicate in flight, refused, the login kept.
        assert!(is_refused(
            &grants.refresh(APP, &refresh_token(&login), None).await
        ));
        let third = grants.refresh(APP, &refresh_token(&second), None).await;
        let third = third.unwrap_or_else(|error| panic!("{error}"));
        // Later: a replay, refused, and the login revoked.
        grants.advance(strict.refresh_reuse_leeway);
        assert!(is_refused(
            &grants.refresh(APP, &refresh_token(&login), None).await
        ));
        assert!(is_refused(
            &grants.refresh(APP, &refresh_token(&third), None).await
        ));

        // Without a leeway, the first presentation again revokes the login.
        let strictest = Lifetimes {
            refresh_reuse_leeway: 0,
            ..strict
        };
        let grants = Grants::new().await.with_lifetimes(strictest);
        let (login, second) = refreshed_once(&grants).await;
        assert!(is_refused(
            &grants.refresh(APP, &refresh_token(&login), None).await
        ));
        assert!(is_refused(
            &grants.refresh(APP, &refresh_token(&second), None).await
        ));
    }

    #[tokio::test]
    async fn a_login_of_a_client_credential_version_moved_on_from_is_refused() {
        let grants = Grants::new().await;
        let (login, refreshed) = refreshed_once(&grants).await;
        let owner = FamilyOwner::Client(client_id(APP));
        assert!(grants.store.end_logins(&owner).await.is_ok());
        // Both the login's refresh token and a retry of the one it replaced.
        for token in [refresh_token(&refreshed), refresh_token(&login)] {
            assert!(is_refused(&grants.refresh(APP, &token, None).await));
        }
        let again = grants.alice_logs_in().await;
        assert!(
            grants
                .refresh(APP, &refresh_token(&again), None)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn another_clients_token_is_refused_and_left_usable() {
        let grants = Grants::new().await;
        let login = grants.alice_logs_in().await;
        assert!(is_refused(
            &grants
                .refresh(OTHER_APP, &refresh_token(&login), None)
                .await
        ));
        assert!(is_refused(
            &grants.refresh(APP, &Secret::new("unknown"), None).await
        ));
        assert!(
            grants
                .refresh(APP, &refresh_token(&login), None)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn the_scope_may_narrow_within_the_grant_and_come_back_later() {
        let grants = Grants::new().await;
        let login = grants.alice_logs_in().await;
        let wider = grants
            .refresh(APP, &refresh_token(&login), Some("read admin"))
            .await;
        assert!(matches!(wider, Err(GrantError::InvalidScope)), "{wider:?}");
        let narrowed = grants
            .refresh(APP, &refresh_token(&login), Some("read"))
            .await;
        let narrowed = narrowed.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(narrowed.scope, scope("read"));
        let restored = grants.refresh(APP, &refresh_token(&narrowed), None).await;
        assert_eq!(restored.map(|r| r.scope).ok(), Some(scope("read write")));
    }

    #[tokio::test]
    async fn the_client_is_checked_as_it_is_now() {
        let grants = Grants::new().await;
        let login = grants.alice_logs_in().await;
        let fewer_scopes = ClientChanges {
            scope: Some(scope("read")),
            ..ClientChanges::default()
        };
        let changed = grants
            .store
            .update_client(&client_id(APP), &fewer_scopes)
            .await;
        changed.unwrap_or_else(|error| panic!("{error}"));
        let narrowed = grants.refresh(APP, &refresh_token(&login), None).await;
        let narrowed = narrowed.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(narrowed.scope, scope("read"));
        let no_refresh = ClientChanges {
            grant_types: Some(vec![GrantType::Password]),
            ..ClientChanges::default()
        };
        let changed = grants
            .store
            .update_client(&client_id(APP), &no_refresh)
            .await;
        changed.unwrap_or_else(|error| panic!("{error}"));
        let refused = grants.refresh(APP, &refresh_token(&narrowed), None).await;
        assert!(
            matches!(refused, Err(GrantError::UnauthorizedClient)),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_deleted_users_login_ends() {
        let grants = Grants::new().await;
        let login = grants.alice_logs_in().await;
        let deleted = grants.store.delete_user(&username("alice")).await;
        deleted.unwrap_or_else(|error| panic!("{error}"));
        assert!(is_refused(
            &grants.refresh(APP, &refresh_token(&login), None).await
        ));
    }
}
