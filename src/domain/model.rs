//! The records the grants work on: clients, users, and the stored form of issued tokens.

use std::fmt;
use std::str::FromStr;

use super::clock::UnixSeconds;
use super::jose::{ClientJwks, Thumbprint};
use super::names::{ClientId, Username};
use super::scope::Scope;
use super::token::{FamilySecret, TokenHash};

/// Declares [`GrantType`]: each variant with its registered name, once. The variants' order is
/// `GrantType::ALL`'s (the metadata's `grant_types_supported`).
macro_rules! grant_types {
    ($($variant:ident = $name:literal),+ $(,)?) => {
        /// The grant types this server can issue tokens for (RFC 6749 §4). Each has its flow
        /// in `domain::grants`, whose `grants!` must name it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum GrantType {
            $($variant),+
        }

        impl GrantType {
            pub const ALL: &[GrantType] = &[$(GrantType::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(GrantType::$variant => $name),+
                }
            }
        }
    };
}

grant_types! {
    Password = "password",
    RefreshToken = "refresh_token",
    ClientCredentials = "client_credentials",
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value is not a grant type this server supports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported grant type")]
pub struct UnsupportedGrantType;

impl FromStr for GrantType {
    type Err = UnsupportedGrantType;

    /// Grant type names are case-sensitive (`PASSWORD` is not `password`).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        GrantType::ALL
            .iter()
            .copied()
            .find(|grant| grant.as_str() == value)
            .ok_or(UnsupportedGrantType)
    }
}

/// A registered OAuth client (RFC 6749 §2). Every client is confidential: it has a secret, or
/// keys for private_key_jwt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: ClientId,
    pub name: String,
    /// Argon2id PHC string of the client secret, or a Django PBKDF2-SHA256 hash imported from
    /// django-oauth-toolkit until its first successful use replaces it.
    pub secret_hash: String,
    /// The scopes the client may ask for; also its default scope when it asks for none.
    pub scope: Scope,
    pub grant_types: Vec<GrantType>,
    /// The form and lifetime of the access tokens it gets.
    pub access_tokens: AccessTokenPolicy,
    /// When the client was registered. A refresh token issued before then belongs to a
    /// deleted namesake and is refused. 0 for records from before this was kept.
    pub created_at: UnixSeconds,
    /// The public keys it signs private_key_jwt assertions with (RFC 7523); `None`: it
    /// authenticates with its secret. A client has one or the other; both only while it
    /// moves from one to the other.
    pub jwks: Option<ClientJwks>,
    /// Moves on when the client's logins end with a credential change (a secret rotated with
    /// `--revoke-tokens`) or by `revoke-tokens`: a login records the version it was issued
    /// under, and a refresh of a login issued under another is refused. Starts at the client's
    /// creation time, so that a client deleted and registered again never has a version a
    /// login of the deleted one recorded. 0 for records from before this was kept.
    pub credential_version: u64,
}

impl Client {
    /// Whether it has a secret: an empty hash is none (a private_key_jwt client).
    pub fn has_secret(&self) -> bool {
        !self.secret_hash.is_empty()
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Whether this client was registered after `time`, beyond [`CREATION_CLOCK_SKEW`]: a
    /// token issued then was issued to a deleted namesake.
    pub fn registered_after(&self, time: UnixSeconds) -> bool {
        self.created_at > time.saturating_add(CREATION_CLOCK_SKEW)
    }

    /// Whether a login issued under the credential version `version` is still valid for this
    /// client: its version has not moved on since. A login from before versions were kept
    /// (`None`) is ended by revoking its family alone.
    pub fn still_issues_under(&self, version: Option<u64>) -> bool {
        version.is_none_or(|version| version == self.credential_version)
    }
}

/// What a client's access tokens are (opaque by default, as django-oauth-toolkit issues them)
/// and how long they live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccessTokenPolicy {
    pub format: TokenFormat,
    /// Shorter than the server's access token lifetime, for clients whose JWTs must stop
    /// working sooner after a revocation; `None`: the server's.
    pub lifetime: Option<u64>,
    /// Whether its tokens are bound to a DPoP key (RFC 9449).
    pub dpop: DpopPolicy,
}

/// Whether a client's access tokens are sender-constrained with DPoP (RFC 9449).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DpopPolicy {
    /// Every token request carries a proof; the tokens and the refresh token are bound to its
    /// key.
    Required,
    /// A request with a proof gets a bound access token, one without a Bearer token; existing
    /// clients are unchanged.
    #[default]
    Allowed,
    /// Proofs are ignored: always Bearer tokens.
    Off,
}

impl DpopPolicy {
    pub const ALL: [DpopPolicy; 3] = [DpopPolicy::Required, DpopPolicy::Allowed, DpopPolicy::Off];

    pub fn as_str(self) -> &'static str {
        match self {
            DpopPolicy::Required => "required",
            DpopPolicy::Allowed => "allowed",
            DpopPolicy::Off => "off",
        }
    }
}

impl fmt::Display for DpopPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a client authenticates (RFC 8414 `token_endpoint_auth_methods_supported`), as an
/// operator chooses it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// With its secret, in a Basic header or the body.
    #[default]
    ClientSecret,
    /// With a JWT signed by one of its registered keys (RFC 7523 §2.2).
    PrivateKeyJwt,
}

impl FromStr for ClientAuthMethod {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "client_secret" | "client_secret_basic" | "client_secret_post" => {
                Ok(ClientAuthMethod::ClientSecret)
            }
            "private_key_jwt" => Ok(ClientAuthMethod::PrivateKeyJwt),
            _ => Err("unknown method (expected client_secret_basic or private_key_jwt)".into()),
        }
    }
}

/// The value is not a DPoP policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown DPoP policy (expected required, allowed or off)")]
pub struct UnknownDpopPolicy;

impl FromStr for DpopPolicy {
    type Err = UnknownDpopPolicy;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        DpopPolicy::ALL
            .into_iter()
            .find(|policy| policy.as_str() == value)
            .ok_or(UnknownDpopPolicy)
    }
}

impl AccessTokenPolicy {
    /// The lifetime of this client's access tokens, given the server's: never longer.
    pub fn lifetime_within(&self, server_lifetime: u64) -> u64 {
        self.lifetime
            .map_or(server_lifetime, |lifetime| lifetime.min(server_lifetime))
    }
}

/// The form of a client's access tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TokenFormat {
    /// 30 random characters, meaningful only to this server (introspection, the authorizer).
    #[default]
    Opaque,
    /// An RFC 9068 JWT, signed with the published key set: API Gateway's JWT authorizers and
    /// any resource server can check it without calling this server.
    Jwt,
}

impl TokenFormat {
    pub const ALL: [TokenFormat; 2] = [TokenFormat::Opaque, TokenFormat::Jwt];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenFormat::Opaque => "opaque",
            TokenFormat::Jwt => "jwt",
        }
    }
}

impl fmt::Display for TokenFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The value is not a token format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown token format (expected opaque or jwt)")]
pub struct UnknownTokenFormat;

impl FromStr for TokenFormat {
    type Err = UnknownTokenFormat;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        TokenFormat::ALL
            .into_iter()
            .find(|format| format.as_str() == value)
            .ok_or(UnknownTokenFormat)
    }
}

/// How far the clock of the machine that creates users and clients (an operator's, for
/// `oauth-admin`) may run ahead of the token function's before tokens issued just after a
/// creation are taken for a namesake's. A name deleted and created again within this long of a
/// token's issue does not invalidate it.
pub const CREATION_CLOCK_SKEW: UnixSeconds = 60;

/// A resource owner who can log in with the password grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: Username,
    /// Argon2id PHC string of the password, or a Django PBKDF2-SHA256 hash imported from
    /// Django until its first successful use replaces it.
    pub password_hash: String,
    /// When the user was created. A refresh token issued before then belongs to a deleted
    /// namesake and is refused. 0 for records from before this was kept.
    pub created_at: UnixSeconds,
}

/// A stored access token. The token itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    pub token_hash: TokenHash,
    pub client_id: ClientId,
    /// `None` for a client's own token (client credentials grant).
    pub username: Option<Username>,
    pub scope: Scope,
    /// The family the token belongs to, so that revoking it revokes its refresh token too.
    pub family_id: String,
    pub issued_at: UnixSeconds,
    /// Also the DynamoDB TTL attribute; reads must still check it, because TTL deletion lags.
    pub expires_at: UnixSeconds,
    /// The DPoP key the token is bound to (RFC 9449 `cnf.jkt`); `None`: a Bearer token.
    pub jkt: Option<Thumbprint>,
    /// The one API the token is for (RFC 8707): kept for an opaque token whose request named
    /// it as its `resource`; `None` for the others, which django-oauth-toolkit's tokens are
    /// like: any API may accept them. A JWT names its own in `aud`; introspection and the
    /// authorizer fill this in from the verified token.
    pub audience: Option<String>,
}

impl AccessTokenRecord {
    pub fn is_live_at(&self, now: UnixSeconds) -> bool {
        now < self.expires_at
    }
}

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub token_hash: TokenHash,
    pub client_id: ClientId,
    pub username: Username,
    /// The scope of the original grant. It never narrows: RFC 6749 §6 says a refresh may ask for
    /// less, and a later refresh may ask for the original scope again.
    pub scope: Scope,
    /// The access token issued together with this refresh token; deleted when this one is used.
    pub access_token_hash: TokenHash,
    /// Identifies every token descended from one password grant.
    pub family_id: String,
    /// Derives this token's successor pair from it when it is used. `None` for tokens issued
    /// before families had secrets; their rotation gives the family one.
    pub family_secret: Option<FamilySecret>,
    pub issued_at: UnixSeconds,
    /// `None`: lasts until used.
    pub expires_at: Option<UnixSeconds>,
    /// The DPoP key it is bound to: only a proof by that key may use it. Set for a client that
    /// requires DPoP.
    pub jkt: Option<Thumbprint>,
    /// The client's credential version its login was issued under ([`Client::
    /// credential_version`]), kept by the family and carried forward by each refresh. `None`
    /// for logins written before versions were kept.
    pub client_version: Option<u64>,
}

impl RefreshTokenRecord {
    pub fn is_live_at(&self, now: UnixSeconds) -> bool {
        self.expires_at.is_none_or(|expires_at| now < expires_at)
    }
}

/// An access token and the refresh token issued with it, written together or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    pub access: AccessTokenRecord,
    pub refresh: RefreshTokenRecord,
}

/// What remains of a refresh token after it was used: enough to answer a retry with the pair
/// it was exchanged for, and to recognise a replay and revoke the family it belongs to
/// (RFC 9700 §4.14.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedRefreshToken {
    pub token_hash: TokenHash,
    pub client_id: ClientId,
    pub username: Username,
    /// The scope of the original grant.
    pub scope: Scope,
    pub family_id: String,
    /// Derives the successor pair again from the token, for a retry. `None` for records left
    /// before families had secrets.
    pub family_secret: Option<FamilySecret>,
    pub used_at: UnixSeconds,
    /// The record is kept until then (DynamoDB TTL); a replay after that reads as unknown.
    pub expires_at: UnixSeconds,
    /// The pair issued when this token was used.
    pub successor_refresh: TokenHash,
    pub successor_access: TokenHash,
    /// Its login's [`RefreshTokenRecord::client_version`]: a retry is answered only while the
    /// client's credentials have not changed since.
    pub client_version: Option<u64>,
}

impl UsedRefreshToken {
    /// The record a rotation leaves in place of `used`, made of it; it keeps the secret the
    /// successor was derived with.
    pub fn after_rotation(
        used: RefreshTokenRecord,
        successor: &TokenPair,
        now: UnixSeconds,
        expires_at: UnixSeconds,
    ) -> Self {
        Self {
            token_hash: used.token_hash,
            client_id: used.client_id,
            username: used.username,
            scope: used.scope,
            family_id: used.family_id,
            family_secret: successor.refresh.family_secret.clone(),
            used_at: now,
            expires_at,
            successor_refresh: successor.refresh.token_hash.clone(),
            successor_access: successor.access.token_hash.clone(),
            client_version: used.client_version,
        }
    }
}

/// What a presented token's hash finds in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredToken {
    Access(AccessTokenRecord),
    Refresh(RefreshTokenRecord),
    /// A refresh token that was used once: kept only to recognise replays.
    UsedRefresh(UsedRefreshToken),
    /// A value that names a live family but none of the tokens it remembers: an older refresh
    /// token of it, an access token it replaced, or a forgery. Only the presented value tells
    /// which ([`crate::domain::token::FamilySecret::generations_back`]).
    Superseded(SupersededToken),
}

/// What a family tells of a value that names it but is none of its current tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupersededToken {
    pub family_id: String,
    pub client_id: ClientId,
    pub family_secret: Option<FamilySecret>,
    /// The refresh tokens the family knows: its current one and the one used last.
    pub current_refresh: Option<TokenHash>,
    pub previous_refresh: Option<TokenHash>,
    /// When the family's refresh token was last used (0: never).
    pub rotated_at: UnixSeconds,
}

/// How many refreshes back an older refresh token of a family is still recognised as one (and
/// its replay revokes the family); each generation costs one HMAC to check. Older ones are
/// only refused.
pub const REPLAY_GENERATIONS: u32 = 1024;

impl SupersededToken {
    /// How many refreshes ago `presented` was this family's refresh token, if it was one (its
    /// chain of successors reaches a refresh token the family knows) within
    /// [`REPLAY_GENERATIONS`]; `None` for anything else.
    pub fn generations_back(&self, presented: &crate::domain::secret::Secret) -> Option<u32> {
        let known = |hash: &TokenHash| {
            Some(hash) == self.current_refresh.as_ref()
                || Some(hash) == self.previous_refresh.as_ref()
        };
        self.family_secret.as_ref().and_then(|secret| {
            secret.generations_back(&self.family_id, presented, REPLAY_GENERATIONS, known)
        })
    }
}

impl StoredToken {
    pub fn client_id(&self) -> &ClientId {
        match self {
            StoredToken::Access(token) => &token.client_id,
            StoredToken::Refresh(token) => &token.client_id,
            StoredToken::UsedRefresh(token) => &token.client_id,
            StoredToken::Superseded(token) => &token.client_id,
        }
    }

    /// The family the token belongs to, or belonged to before it was used.
    pub fn family_id(&self) -> &str {
        match self {
            StoredToken::Access(token) => &token.family_id,
            StoredToken::Refresh(token) => &token.family_id,
            StoredToken::UsedRefresh(token) => &token.family_id,
            StoredToken::Superseded(token) => &token.family_id,
        }
    }
}

/// The tokens descended from one grant: a password grant and its refreshes, or one client
/// credentials grant. Revoking a family revokes its live access and refresh token at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFamily {
    pub family_id: String,
    pub client_id: ClientId,
    /// `None` for a client's own tokens (client credentials grant).
    pub username: Option<Username>,
    /// The scope of the grant that started the family.
    pub scope: Scope,
    pub created_at: UnixSeconds,
    /// When its current tokens were issued (the last refresh, or the grant).
    pub refreshed_at: UnixSeconds,
    /// `None`: lasts until its refresh token is used or revoked.
    pub expires_at: Option<UnixSeconds>,
}

/// Whose token families an operator means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FamilyOwner {
    User(Username),
    Client(ClientId),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_type_names_are_exact() {
        assert_eq!("password".parse(), Ok(GrantType::Password));
        assert_eq!("refresh_token".parse(), Ok(GrantType::RefreshToken));
        assert_eq!("PASSWORD".parse::<GrantType>(), Err(UnsupportedGrantType));
        assert_eq!(
            "client_credentials".parse(),
            Ok(GrantType::ClientCredentials)
        );
        assert_eq!("implicit".parse::<GrantType>(), Err(UnsupportedGrantType));
    }
}
