//! What happens to tokens after they are issued: revocation (RFC 7009), introspection
//! (RFC 7662), bearer validation for protected APIs (RFC 6750), and an operator's revocation
//! of everything a user or a client holds.

use super::clock::UnixSeconds;
use super::error::GrantError;
use super::issuer::{ClientCredentials, Issuer};
use super::model::{AccessTokenRecord, Client, FamilyOwner, StoredToken};
use super::secret::Secret;
use super::signing::{
    JwtRejection, KeyError, KeyRing, MAX_ACCESS_TOKEN_LIFETIME, SigningKeyRecord, UnverifiedJwt,
    looks_like_jwt, unverified_jti,
};
use super::store::{AccessTokenStore, AdminStore, GrantStore, StoreError};
use super::token::{TokenHash, TokenKey, family_named_by};

/// Longer than any token this server issues (a JWT access token is about 800 bytes, more with
/// long usernames and many scopes), and than API Gateway passes in a header; a longer value is
/// not looked up.
pub const MAX_TOKEN_BYTES: usize = 10 * 1024;

/// What an operator's revocation removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Revoked {
    pub families: usize,
    pub tokens: usize,
}

impl Revoked {
    /// Counts a family whose revocation named `tokens` tokens (none: it was gone already).
    fn count(&mut self, tokens: usize) {
        self.families += usize::from(tokens > 0);
        self.tokens += tokens;
    }

    /// What this and `more` removed together.
    pub fn and(self, more: Revoked) -> Revoked {
        Revoked {
            families: self.families + more.families,
            tokens: self.tokens + more.tokens,
        }
    }
}

/// Revocation and introspection: what a client may do with the tokens it holds.
pub struct TokenOperations<'a, S> {
    pub issuer: &'a Issuer,
    pub store: &'a S,
}

impl<S: GrantStore> TokenOperations<'_, S> {
    /// RFC 7009 §2.1: revokes `token` and every token of its family, so revoking a refresh
    /// token also revokes the access token issued with it and the other way round. Unknown,
    /// expired and already revoked tokens need nothing done (§2.2: the answer is the same).
    /// The token type hint is not needed: every kind is found by one lookup.
    pub async fn revoke(
        &self,
        credentials: &ClientCredentials,
        token: &Secret,
    ) -> Result<usize, GrantError> {
        let (client, stored) = self.presented_token(credentials, token).await?;
        let Some(stored) = stored else {
            return Ok(0);
        };
        if *stored.client_id() != client.client_id {
            return Err(GrantError::TokenOfAnotherClient);
        }
        // A used refresh token is already unusable; the client asks to end the grant it came
        // from all the same. A value that only names a family must prove to be an older
        // refresh token of it; anything else is unknown: nothing to do.
        if let StoredToken::Superseded(older) = &stored
            && older.generations_back(token).is_none()
        {
            return Ok(0);
        }
        Ok(self.store.revoke_family(stored.family_id()).await?)
    }

    /// RFC 7662 §2: the live access token `token` names, or `None` for anything else
    /// (expired, revoked, unknown, malformed, or a refresh token). A JWT must also verify
    /// under the published keys as a token of `issuer`. Any authenticated client may ask:
    /// resource servers are registered as clients.
    pub async fn introspect(
        &self,
        credentials: &ClientCredentials,
        token: &Secret,
        issuer: Option<&str>,
    ) -> Result<Option<AccessTokenRecord>, GrantError> {
        let (_, stored) = self.presented_token(credentials, token).await?;
        let Some(StoredToken::Access(access)) = stored else {
            return Ok(None);
        };
        // Where no keys are loaded, no JWT is one of this server's.
        let checked = match self.issuer.signing_keys() {
            Some(keys) => {
                let now = self.issuer.now();
                check_jwt(keys, token, issuer, now, "introspected JWT refused").await?
            }
            None if looks_like_jwt(token.expose()) => JwtCheck::Refused,
            None => JwtCheck::NotJwt,
        };
        Ok(checked.access(Some(access)))
    }

    /// The keys a verifier needs now (RFC 7517 JWK Set): those that sign or will, and those
    /// whose tokens may still be live. Empty where JWTs are not signed.
    pub async fn published_keys(&self) -> Result<Vec<SigningKeyRecord>, GrantError> {
        let Some(key_ring) = self.issuer.signing_keys() else {
            return Ok(Vec::new());
        };
        let keys = key_ring.key_set().await?;
        // The longest lifetime any token can have had, not today's: a retired key stays
        // published for tokens issued before the lifetime was shortened.
        let published = keys.published_at(self.issuer.now(), MAX_ACCESS_TOKEN_LIFETIME);
        Ok(published.into_iter().cloned().collect())
    }

    /// Authenticates the client and finds the live token it presents, in one store read. A
    /// value no token can have is not looked up, but the client is authenticated all the same.
    async fn presented_token(
        &self,
        credentials: &ClientCredentials,
        token: &Secret,
    ) -> Result<(Client, Option<StoredToken>), GrantError> {
        let Some(token_key) = lookup_key(token) else {
            let client = self
                .issuer
                .authenticate_client(self.store, credentials)
                .await?;
            return Ok((client, None));
        };
        let context = self
            .store
            .token_context(&credentials.client_id, &token_key, self.issuer.now())
            .await?;
        let client = self
            .issuer
            .authenticate(self.store, context.client, credentials)
            .await?;
        Ok((client, context.token))
    }
}

/// The live access token a bearer presents (RFC 6750) to the API for `audiences`, or `None`.
/// Expiry is checked here, not left to DynamoDB's TTL, which deletes late. A JWT is checked
/// first (signature, `typ`, `iss`, `exp`, `aud`) without a read, then looked up like any
/// token, so a revoked login's JWTs are refused at once. A token for another API is refused
/// (RFC 9068 §4, RFC 8707): a JWT's `aud`, or the audience an opaque token's record keeps,
/// must be one of `audiences`, or, where that is empty, the issuer. An opaque token that
/// names no audience is for any API, as django-oauth-toolkit's are.
pub async fn validate_bearer<S: AccessTokenStore>(
    store: &S,
    keys: &KeyRing,
    token: &Secret,
    issuer: Option<&str>,
    audiences: &[String],
    now: UnixSeconds,
) -> Result<Option<AccessTokenRecord>, KeyError> {
    let for_another_api = |audience: Option<&str>| {
        let accepted = |audience: &str| match audiences.is_empty() {
            true => issuer == Some(audience),
            false => audiences.iter().any(|accepted| accepted == audience),
        };
        let refused = audience.is_some_and(|audience| !accepted(audience));
        if refused {
            tracing::info!(rejection = "for another audience", "bearer token refused");
        }
        refused
    };
    let checked = check_jwt(keys, token, issuer, now, "bearer JWT refused").await?;
    match &checked {
        JwtCheck::Refused => return Ok(None),
        // Refused without a read.
        JwtCheck::Verified { audience } if for_another_api(Some(audience)) => return Ok(None),
        _ => {}
    }
    let Some(token_key) = lookup_key(token) else {
        return Ok(None);
    };
    // An opaque token's audience is on its record (a JWT's passed above).
    let access = checked.access(store.access_token(&token_key, now).await?);
    Ok(access.filter(|access| !for_another_api(access.audience.as_deref())))
}

/// What [`check_jwt`] found.
#[derive(Debug, PartialEq, Eq)]
enum JwtCheck {
    /// Not a JWT: the lookup decides.
    NotJwt,
    /// A JWT that is not a live access token of this issuer's.
    Refused,
    /// A live access token of this issuer's, for `audience`.
    Verified { audience: String },
}

impl JwtCheck {
    /// The token's record, if the check let it through, with the JWT's audience.
    fn access(self, access: Option<AccessTokenRecord>) -> Option<AccessTokenRecord> {
        match self {
            JwtCheck::NotJwt => access,
            JwtCheck::Refused => None,
            JwtCheck::Verified { audience } => access.map(|access| AccessTokenRecord {
                audience: Some(audience),
                ..access
            }),
        }
    }
}

/// Whether `token` is a JWT, and if so whether it is a live access token `issuer` signed with
/// a published key (signature, `typ`, `iss`, `exp`); a refusal is logged with `refusal` and
/// the reason.
async fn check_jwt(
    keys: &KeyRing,
    token: &Secret,
    issuer: Option<&str>,
    now: UnixSeconds,
    refusal: &str,
) -> Result<JwtCheck, KeyError> {
    if !looks_like_jwt(token.expose()) {
        return Ok(JwtCheck::NotJwt);
    }
    let checked = match (issuer, UnverifiedJwt::parse(token.expose())) {
        (None, _) => Err(JwtRejection::WrongIssuer),
        (_, Err(rejection)) => Err(rejection),
        (Some(issuer), Ok(jwt)) => match keys.verifying_key(jwt.kid()).await? {
            Some(key) => jwt.verify(&key, issuer, now),
            None => Err(JwtRejection::UnknownKey),
        },
    };
    Ok(match checked {
        Ok(claims) => JwtCheck::Verified {
            audience: claims.aud,
        },
        Err(rejection) => {
            tracing::info!(%rejection, "{refusal}");
            JwtCheck::Refused
        }
    })
}

/// Revokes every live family of a user or a client: for a user who left or whose password
/// leaked, for a client that was compromised or retired. Their logins end first: the
/// credential version moves on, so no login of a user in flight is issued any more and no
/// refresh token of a client's old version refreshes, and the logins registered on a user are
/// barred, written or not; then what the families index lists ([`revoke_listed`]). The index
/// may not list yet a client's login written a moment ago, or one still in flight: see
/// `Admin`'s second sweep.
pub async fn revoke_all<S: AdminStore + GrantStore>(
    store: &S,
    owner: &FamilyOwner,
    now: UnixSeconds,
) -> Result<Revoked, StoreError> {
    let mut revoked = Revoked::default();
    let registered = store.end_logins(owner).await?;
    for family_id in &registered {
        let tokens = store.bar_family(family_id).await?;
        revoked.count(tokens);
    }
    let listed = revoke_listed(store, owner, now, &registered).await?;
    Ok(revoked.and(listed))
}

/// Revokes the live families of a user or a client that the families index lists, but those
/// in `done`.
pub async fn revoke_listed<S: AdminStore + GrantStore>(
    store: &S,
    owner: &FamilyOwner,
    now: UnixSeconds,
    done: &[String],
) -> Result<Revoked, StoreError> {
    let mut revoked = Revoked::default();
    for family in store.token_families(owner, now).await? {
        if done.contains(&family.family_id) {
            continue;
        }
        revoked.count(store.revoke_family(&family.family_id).await?);
    }
    Ok(revoked)
}

/// The store key of a presented token, or `None` for a value that no token can have: empty,
/// too long, or with characters outside RFC 6750's b64token.
fn lookup_key(token: &Secret) -> Option<TokenKey<'_>> {
    let value = token.expose();
    let plausible = !value.is_empty()
        && value.len() <= MAX_TOKEN_BYTES
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~+/=".contains(&byte));
    plausible.then(|| token_key(token))
}

/// Where a token of any kind is stored: a JWT by the family its `jti` names, an opaque token
/// by the family it names itself; a token of the previous version by its hash alone.
pub fn token_key(token: &Secret) -> TokenKey<'_> {
    if looks_like_jwt(token.expose()) {
        let family_id =
            unverified_jti(token.expose()).and_then(|jti| family_named_by(&jti).map(str::to_owned));
        return TokenKey {
            family_id: family_id.map(std::borrow::Cow::Owned),
            hash: TokenHash::of(token),
        };
    }
    TokenKey::of(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implausible_tokens_are_not_looked_up() {
        for value in [
            "",
            "has space",
            "quote\"",
            "ünïcode",
            &"a".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert_eq!(lookup_key(&Secret::new(value)), None, "{value:?}");
        }
        for value in [
            "abcDEF123",
            "b64/token+with=",
            "a-b.c_d~e",
            &"a".repeat(MAX_TOKEN_BYTES),
        ] {
            assert!(lookup_key(&Secret::new(value)).is_some(), "{value:?}");
        }
    }
}
