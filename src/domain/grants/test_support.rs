//! What the grants' unit tests share: a memory store seeded with a client and a user, an
//! issuer with cheap Argon2 settings, and a clock the tests move.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::client_credentials::ClientCredentialsRequest;
use super::password::PasswordRequest;
use super::refresh::RefreshRequest;
use super::{GrantRequest, TokenRequest, grant};
use crate::domain::clock::{Clock, UnixSeconds};
use crate::domain::credentials::{Argon2Settings, CredentialVerifier};
use crate::domain::error::GrantError;
use crate::domain::issuance::IssuanceRefused;
use crate::domain::issuer::{ClientCredentials, IssuedTokens, Issuer, Lifetimes};
use crate::domain::login_throttle::{LockoutPolicy, SourceAddress};
use crate::domain::model::{Client, GrantType, User};
use crate::domain::names::{ClientId, Username};
use crate::domain::scope::Scope;
use crate::domain::secret::Secret;
use crate::domain::store::prelude::*;
use crate::store::MemoryStore;

/// Allowed every grant, `read write`.
pub const APP: &str = "app";
/// Allowed every grant, `read`.
pub const OTHER_APP: &str = "other-app";
pub const ALICE: &str = "alice";
pub const ALICE_PASSWORD: &str = "alice-password";
pub const START: UnixSeconds = 1_800_000_000;

pub struct ManualClock(AtomicU64);

impl Clock for ManualClock {
    fn now(&self) -> UnixSeconds {
        self.0.load(Ordering::SeqCst)
    }
}

/// A seeded memory store and what the grants run with.
pub struct Grants {
    pub store: MemoryStore,
    pub issuer: Issuer,
    pub lockout: LockoutPolicy,
    clock: Arc<ManualClock>,
}

impl Grants {
    pub async fn new() -> Self {
        Self::with_lockout(LockoutPolicy::default()).await
    }

    pub async fn with_lockout(lockout: LockoutPolicy) -> Self {
        // Cheap parameters: these tests check rules, not cost.
        let cheap = Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let verifier = CredentialVerifier::new(cheap).unwrap_or_else(|error| panic!("{error}"));
        let clock = Arc::new(ManualClock(AtomicU64::new(START)));
        let store = MemoryStore::new();
        for (client_id, scope) in [(APP, "read write"), (OTHER_APP, "read")] {
            let client = client(&verifier, client_id, scope, GrantType::ALL);
            store
                .create_client(&client)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let alice = User {
            username: username(ALICE),
            password_hash: hash(&verifier, ALICE_PASSWORD),
            created_at: 0,
        };
        store
            .create_user(&alice)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let issuer = Issuer::new(verifier, Lifetimes::default(), clock.clone());
        Self {
            store,
            issuer,
            lockout,
            clock,
        }
    }

    /// The same grants, issued with `lifetimes`.
    pub fn with_lifetimes(mut self, lifetimes: Lifetimes) -> Self {
        let verifier = self.issuer.verifier().clone();
        self.issuer = Issuer::new(verifier, lifetimes, self.clock.clone());
        self
    }

    pub fn advance(&self, seconds: u64) {
        self.clock.0.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn now(&self) -> UnixSeconds {
        self.clock.now()
    }

    /// Registers `client_id` with `secret` = `<client_id>-secret`, allowed `grant_types`.
    pub async fn add_client(&self, client_id: &str, scope: &str, grant_types: &[GrantType]) {
        let client = client(self.issuer.verifier(), client_id, scope, grant_types);
        let created = self.store.create_client(&client).await;
        created.unwrap_or_else(|e| panic!("{e}"));
    }

    /// Runs `grant` for `client_id` (secret `<client_id>-secret`) from `source`.
    pub async fn run(
        &self,
        client_id: &str,
        grant_request: GrantRequest,
        source: SourceAddress,
    ) -> Result<IssuedTokens, GrantError> {
        let credentials = credentials(client_id, &format!("{client_id}-secret"));
        self.run_as(Some(credentials), grant_request, source).await
    }

    /// Runs `grant` with the client credentials `client`, if any.
    pub async fn run_as(
        &self,
        client: Option<ClientCredentials>,
        grant_request: GrantRequest,
        source: SourceAddress,
    ) -> Result<IssuedTokens, GrantError> {
        let request = TokenRequest {
            client,
            grant: grant_request,
            source,
            issuance: Err(IssuanceRefused::NoIssuer),
            dpop: None,
        };
        grant(&self.issuer, &self.store, &self.lockout, request).await
    }

    pub async fn password_from(
        &self,
        client_id: &str,
        password: &str,
        source: SourceAddress,
    ) -> Result<IssuedTokens, GrantError> {
        self.run(client_id, password_request(ALICE, password, None), source)
            .await
    }

    pub async fn refresh(
        &self,
        client_id: &str,
        refresh_token: &Secret,
        scope: Option<&str>,
    ) -> Result<IssuedTokens, GrantError> {
        let request = GrantRequest::RefreshToken(RefreshRequest {
            refresh_token: refresh_token.clone(),
            scope: scope.map(str::to_owned),
        });
        self.run(client_id, request, address(1)).await
    }

    pub async fn client_credentials(
        &self,
        client_id: &str,
        scope: Option<&str>,
    ) -> Result<IssuedTokens, GrantError> {
        let request = GrantRequest::ClientCredentials(ClientCredentialsRequest {
            scope: scope.map(str::to_owned),
        });
        self.run(client_id, request, address(1)).await
    }

    /// Alice's tokens from a password grant of `APP`.
    pub async fn alice_logs_in(&self) -> IssuedTokens {
        self.password_from(APP, ALICE_PASSWORD, address(1))
            .await
            .unwrap_or_else(|error| panic!("alice's login: {error}"))
    }
}

pub fn password_request(username: &str, password: &str, scope: Option<&str>) -> GrantRequest {
    GrantRequest::Password(PasswordRequest {
        username: Username::parse(username),
        password: Secret::new(password),
        scope: scope.map(str::to_owned),
    })
}

pub fn credentials(client_id: &str, secret: &str) -> ClientCredentials {
    ClientCredentials {
        assertion: None,
        client_id: self::client_id(client_id),
        secret_candidates: vec![Secret::new(secret)],
    }
}

/// `value` as a client id, which a test means to be valid.
pub fn client_id(value: &str) -> ClientId {
    ClientId::parse(value).unwrap_or_else(|error| panic!("{value:?}: {error}"))
}

/// `value` as a username, which a test means to be valid.
pub fn username(value: &str) -> Username {
    Username::parse(value).unwrap_or_else(|error| panic!("{value:?}: {error}"))
}

/// The IPv4 address 192.0.2.`n` (TEST-NET-1).
pub fn address(n: u8) -> SourceAddress {
    SourceAddress(Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))))
}

pub fn scope(text: &str) -> Scope {
    Scope::parse(text).unwrap_or_else(|_| panic!("bad scope {text:?}"))
}

fn client(
    verifier: &CredentialVerifier,
    client_id: &str,
    scope_text: &str,
    grant_types: &[GrantType],
) -> Client {
    Client {
        client_id: self::client_id(client_id),
        name: client_id.into(),
        secret_hash: hash(verifier, &format!("{client_id}-secret")),
        scope: scope(scope_text),
        grant_types: grant_types.to_vec(),
        access_tokens: Default::default(),
        created_at: 0,
        jwks: None,
        credential_version: 0,
    }
}

fn hash(verifier: &CredentialVerifier, secret: &str) -> String {
    verifier
        .hash(&Secret::new(secret))
        .unwrap_or_else(|error| panic!("{error}"))
}
