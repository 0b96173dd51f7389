//! Compatibility with a real OAuth 2.0 client library: the `oauth2` crate (5.x), used as a Rust
//! application would use it, against the real local server (`make run`'s binary) over HTTP.
//!
//! Every answer is read by the library, not by the test: tokens through its `TokenResponse`,
//! refusals through `RequestTokenError::ServerResponse` and its parsed error code, introspection
//! through its `TokenIntrospectionResponse`. The HTTP client is the library's own reqwest
//! integration, wrapped only to note what the library put on the wire (see [`Wire`]).

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse, BasicTokenType};
use oauth2::http::header::AUTHORIZATION;
use oauth2::url::form_urlencoded;
use oauth2::{
    AccessToken, AsyncHttpClient, AuthType, ClientId, ClientSecret, ConfigurationError,
    EndpointNotSet, EndpointSet, ErrorResponse, HttpRequest, IntrospectionUrl, RefreshToken,
    RequestTokenError, ResourceOwnerPassword, ResourceOwnerUsername, RevocationErrorResponseType,
    RevocationUrl, Scope, StandardRevocableToken, TokenIntrospectionResponse, TokenResponse,
    TokenUrl, reqwest,
};
use token_endpoint::startup::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD, DEMO_USERNAME};

use crate::server::LocalServer;

/// A client configured with the token, introspection and revocation endpoints.
type Client = BasicClient<EndpointNotSet, EndpointNotSet, EndpointSet, EndpointSet, EndpointSet>;

/// `demo-client:demo-secret`, base64: the header RFC 6749 §2.3.1 asks for.
const DEMO_BASIC: &str = "Basic ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ=";

/// One request as the library sent it.
#[derive(Debug, Clone)]
struct Sent {
    url: String,
    authorization: Option<String>,
    form: Vec<(String, String)>,
}

impl Sent {
    fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The library's reqwest client, noting each request it is given.
///
/// One change on the way: a request for `https://127.0.0.1:…` goes out as `http://…`. The
/// library refuses a revocation URL that is not HTTPS (RFC 7009 §2: "Clients MUST verify that
/// the URL is an HTTPS URL"); deployed, API Gateway terminates TLS in front of this service,
/// and the local server has no TLS, so this stands in for that front end.
struct Wire {
    client: reqwest::Client,
    sent: Mutex<Vec<Sent>>,
}

impl Wire {
    fn new() -> Self {
        let client = reqwest::Client::builder()
            // As the library's documentation advises: a token endpoint is never followed.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("building the reqwest client");
        Wire {
            client,
            sent: Mutex::new(Vec::new()),
        }
    }

    /// The last request sent.
    fn last(&self) -> Sent {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last()
            .cloned()
            .expect("nothing was sent")
    }
}

impl<'c> AsyncHttpClient<'c> for Wire {
    type Error = <reqwest::Client as AsyncHttpClient<'c>>::Error;
    type Future = <reqwest::Client as AsyncHttpClient<'c>>::Future;

    fn call(&'c self, mut request: HttpRequest) -> Self::Future {
        if let Some(rest) = request.uri().to_string().strip_prefix("https://127.0.0.1:") {
            *request.uri_mut() = format!("http://127.0.0.1:{rest}").parse().unwrap();
        }
        let sent = Sent {
            url: request.uri().to_string(),
            authorization: request
                .headers()
                .get(AUTHORIZATION)
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned()),
            form: form_urlencoded::parse(request.body())
                .into_owned()
                .collect(),
        };
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sent);
        AsyncHttpClient::call(&self.client, request)
    }
}

/// `url` as an HTTPS URL, for the library's revocation check (see [`Wire`]).
fn behind_tls(url: &str) -> String {
    url.strip_prefix("http://127.0.0.1:")
        .map(|rest| format!("https://127.0.0.1:{rest}"))
        .unwrap_or_else(|| panic!("not a loopback URL: {url}"))
}

fn client(server: &LocalServer, auth_type: AuthType, secret: &str) -> Client {
    BasicClient::new(ClientId::new(DEMO_CLIENT_ID.to_owned()))
        .set_client_secret(ClientSecret::new(secret.to_owned()))
        .set_auth_type(auth_type)
        .set_token_uri(TokenUrl::new(server.token_url.clone()).expect("token URL"))
        .set_introspection_url(
            IntrospectionUrl::new(server.introspection_url.clone()).expect("introspection URL"),
        )
        .set_revocation_url(
            RevocationUrl::new(behind_tls(&server.revocation_url)).expect("revocation URL"),
        )
}

fn scopes(names: &[&str]) -> Vec<Scope> {
    names
        .iter()
        .map(|name| Scope::new((*name).to_owned()))
        .collect()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// The OAuth error response the library parsed out of a refusal; anything else fails the test.
fn refusal<R, RE, TE>(result: Result<R, RequestTokenError<RE, TE>>) -> TE
where
    R: std::fmt::Debug,
    RE: std::error::Error + 'static,
    TE: ErrorResponse + 'static,
{
    match result {
        Err(RequestTokenError::ServerResponse(error)) => error,
        Err(other) => panic!("expected an OAuth error response, the library got: {other:?}"),
        Ok(answer) => panic!("expected a refusal, got {answer:?}"),
    }
}

/// A family id (22 characters of `[A-Za-z0-9]`), a dot and 30 characters of `[A-Za-z0-9]`, as
/// docs/clients.md documents.
fn assert_token_format(token: &str) {
    let (family, secret) = token.split_once('.').unwrap_or_default();
    assert_eq!(
        (family.len(), secret.len()),
        (22, 30),
        "token {token:?} should be a 22-character family id, a dot and 30 characters"
    );
    assert!(
        (family.bytes().chain(secret.bytes())).all(|byte| byte.is_ascii_alphanumeric()),
        "token {token:?} should be alphanumeric"
    );
}

/// A user's grant: a Bearer access token for an hour, the scopes, and a refresh token.
fn assert_user_pair(answer: &BasicTokenResponse, granted: &[&str]) -> (AccessToken, RefreshToken) {
    assert_token_format(answer.access_token().secret());
    assert_eq!(answer.token_type(), &BasicTokenType::Bearer);
    assert_eq!(answer.expires_in(), Some(Duration::from_secs(3600)));
    assert_eq!(answer.scopes(), Some(&scopes(granted)));
    let refresh = answer
        .refresh_token()
        .unwrap_or_else(|| panic!("no refresh token: {answer:?}"));
    assert_token_format(refresh.secret());
    assert_ne!(answer.access_token().secret(), refresh.secret());
    (answer.access_token().clone(), refresh.clone())
}

async fn password_grant(client: &Client, wire: &Wire) -> BasicTokenResponse {
    client
        .exchange_password(
            &ResourceOwnerUsername::new(DEMO_USERNAME.to_owned()),
            &ResourceOwnerPassword::new(DEMO_PASSWORD.to_owned()),
        )
        .request_async(wire)
        .await
        .expect("password grant")
}

async fn is_active(client: &Client, wire: &Wire, token: &AccessToken) -> bool {
    client
        .introspect(token)
        .request_async(wire)
        .await
        .expect("introspection")
        .active()
}

#[tokio::test]
async fn password_grant_with_client_secret_basic_then_refresh() {
    let server = LocalServer::start();
    let wire = Wire::new();
    let client = client(&server, AuthType::BasicAuth, DEMO_CLIENT_SECRET);

    let issued = password_grant(&client, &wire).await;
    let (access, refresh) = assert_user_pair(&issued, &["read", "write"]);
    let sent = wire.last();
    assert_eq!(sent.url, server.token_url);
    assert_eq!(sent.authorization.as_deref(), Some(DEMO_BASIC));
    assert_eq!(sent.param("grant_type"), Some("password"));
    assert_eq!(sent.param("username"), Some(DEMO_USERNAME));
    assert_eq!(sent.param("password"), Some(DEMO_PASSWORD));
    assert_eq!(sent.param("client_id"), None, "{sent:?}");
    assert_eq!(sent.param("client_secret"), None, "{sent:?}");

    let refreshed = client
        .exchange_refresh_token(&refresh)
        .request_async(&wire)
        .await
        .expect("refresh grant");
    let (new_access, new_refresh) = assert_user_pair(&refreshed, &["read", "write"]);
    let sent = wire.last();
    assert_eq!(sent.authorization.as_deref(), Some(DEMO_BASIC));
    assert_eq!(sent.param("grant_type"), Some("refresh_token"));
    assert_eq!(sent.param("refresh_token"), Some(refresh.secret().as_str()));
    assert_ne!(new_access.secret(), access.secret());
    assert_ne!(new_refresh.secret(), refresh.secret());
    assert!(is_active(&client, &wire, &new_access).await);
    // The used pair stops working at once.
    assert!(!is_active(&client, &wire, &access).await);

    assert_replay_after_the_successor_is_used(&client, &wire, &refresh, &new_refresh).await;
}

/// A retry of the refresh gets the identical pair; once the successor is used, the old token
/// is refused.
async fn assert_replay_after_the_successor_is_used(
    client: &Client,
    wire: &Wire,
    used: &RefreshToken,
    successor: &RefreshToken,
) {
    let retried = client
        .exchange_refresh_token(used)
        .request_async(wire)
        .await
        .expect("a retry of the refresh");
    assert_eq!(
        retried.refresh_token().map(RefreshToken::secret),
        Some(successor.secret())
    );
    client
        .exchange_refresh_token(successor)
        .request_async(wire)
        .await
        .expect("refreshing the successor");
    let replay = refusal(
        client
            .exchange_refresh_token(used)
            .request_async(wire)
            .await,
    );
    assert_eq!(replay.error(), &BasicErrorResponseType::InvalidGrant);
    assert_eq!(replay.error_description(), None);
}

#[tokio::test]
async fn password_grant_with_client_secret_post_then_refresh() {
    let server = LocalServer::start();
    let wire = Wire::new();
    let client = client(&server, AuthType::RequestBody, DEMO_CLIENT_SECRET);

    let issued = client
        .exchange_password(
            &ResourceOwnerUsername::new(DEMO_USERNAME.to_owned()),
            &ResourceOwnerPassword::new(DEMO_PASSWORD.to_owned()),
        )
        .add_scope(Scope::new("read".to_owned()))
        .request_async(&wire)
        .await
        .expect("password grant");
    let (access, refresh) = assert_user_pair(&issued, &["read"]);
    let sent = wire.last();
    assert_eq!(sent.authorization, None, "{sent:?}");
    assert_eq!(sent.param("client_id"), Some(DEMO_CLIENT_ID));
    assert_eq!(sent.param("client_secret"), Some(DEMO_CLIENT_SECRET));
    assert_eq!(sent.param("grant_type"), Some("password"));
    assert_eq!(sent.param("scope"), Some("read"));

    let refreshed = client
        .exchange_refresh_token(&refresh)
        .request_async(&wire)
        .await
        .expect("refresh grant");
    let (new_access, new_refresh) = assert_user_pair(&refreshed, &["read"]);
    let sent = wire.last();
    assert_eq!(sent.authorization, None, "{sent:?}");
    assert_eq!(sent.param("client_secret"), Some(DEMO_CLIENT_SECRET));
    assert_eq!(sent.param("refresh_token"), Some(refresh.secret().as_str()));
    assert_ne!(new_access.secret(), access.secret());
    assert_ne!(new_refresh.secret(), refresh.secret());

    assert_replay_after_the_successor_is_used(&client, &wire, &refresh, &new_refresh).await;
}

#[tokio::test]
async fn client_credentials_grant_has_no_refresh_token() {
    let server = LocalServer::start();
    let wire = Wire::new();
    let client = client(&server, AuthType::BasicAuth, DEMO_CLIENT_SECRET);

    let issued = client
        .exchange_client_credentials()
        .add_scope(Scope::new("read".to_owned()))
        .request_async(&wire)
        .await
        .expect("client credentials grant");
    assert_token_format(issued.access_token().secret());
    assert_eq!(issued.token_type(), &BasicTokenType::Bearer);
    assert_eq!(issued.expires_in(), Some(Duration::from_secs(3600)));
    assert_eq!(issued.scopes(), Some(&scopes(&["read"])));
    assert!(issued.refresh_token().is_none(), "{issued:?}");
    let sent = wire.last();
    assert_eq!(sent.authorization.as_deref(), Some(DEMO_BASIC));
    assert_eq!(sent.param("grant_type"), Some("client_credentials"));

    // No user behind it: introspection names the client and no username.
    let info = client
        .introspect(issued.access_token())
        .request_async(&wire)
        .await
        .expect("introspection");
    assert!(info.active(), "{info:?}");
    assert_eq!(info.client_id().map(|id| id.as_str()), Some(DEMO_CLIENT_ID));
    assert_eq!(info.username(), None, "{info:?}");
    assert_eq!(info.scopes(), Some(&scopes(&["read"])));

    // Without a scope, every scope the client may have.
    let all = client
        .exchange_client_credentials()
        .request_async(&wire)
        .await
        .expect("client credentials grant");
    assert_eq!(all.scopes(), Some(&scopes(&["read", "write"])));
    assert!(all.refresh_token().is_none(), "{all:?}");
}

#[tokio::test]
async fn wrong_password_is_invalid_grant_with_the_documented_description() {
    let server = LocalServer::start();
    let wire = Wire::new();
    let client = client(&server, AuthType::BasicAuth, DEMO_CLIENT_SECRET);

    let error = refusal(
        client
            .exchange_password(
                &ResourceOwnerUsername::new(DEMO_USERNAME.to_owned()),
                &ResourceOwnerPassword::new("not-the-password".to_owned()),
            )
            .request_async(&wire)
            .await,
    );
    assert_eq!(error.error(), &BasicErrorResponseType::InvalidGrant);
    assert_eq!(
        error.error_description().map(String::as_str),
        Some("Invalid credentials given.")
    );
    assert_eq!(error.error_uri(), None);
}

#[tokio::test]
async fn wrong_client_secret_is_invalid_client() {
    let server = LocalServer::start();
    let wire = Wire::new();
    // A real token, to introspect and revoke with the wrong secret.
    let good = client(&server, AuthType::BasicAuth, DEMO_CLIENT_SECRET);
    let issued = good
        .exchange_client_credentials()
        .request_async(&wire)
        .await
        .expect("client credentials grant");

    for auth_type in [AuthType::BasicAuth, AuthType::RequestBody] {
        let context = format!("{auth_type:?}");
        let client = client(&server, auth_type, "wrong-secret");

        let error = refusal(
            client
                .exchange_password(
                    &ResourceOwnerUsername::new(DEMO_USERNAME.to_owned()),
                    &ResourceOwnerPassword::new(DEMO_PASSWORD.to_owned()),
                )
                .request_async(&wire)
                .await,
        );
        assert_eq!(
            error.error(),
            &BasicErrorResponseType::InvalidClient,
            "{context}"
        );

        let error = refusal(
            client
                .exchange_client_credentials()
                .request_async(&wire)
                .await,
        );
        assert_eq!(
            error.error(),
            &BasicErrorResponseType::InvalidClient,
            "{context}"
        );

        let error = refusal(
            client
                .introspect(issued.access_token())
                .request_async(&wire)
                .await,
        );
        assert_eq!(
            error.error(),
            &BasicErrorResponseType::InvalidClient,
            "{context}"
        );

        let error = refusal(
            client
                .revoke_token(issued.access_token().into())
                .unwrap()
                .request_async(&wire)
                .await,
        );
        assert_eq!(
            error.error(),
            &RevocationErrorResponseType::Basic(BasicErrorResponseType::InvalidClient),
            "{context}"
        );
    }
    // Nothing was revoked by the refused attempts.
    assert!(is_active(&good, &wire, issued.access_token()).await);
}

#[tokio::test]
async fn introspection_then_revocation_through_the_library() {
    let server = LocalServer::start();
    let wire = Wire::new();
    let client = client(&server, AuthType::BasicAuth, DEMO_CLIENT_SECRET);

    let before = unix_now();
    let issued = password_grant(&client, &wire).await;
    let after = unix_now();
    let (access, refresh) = assert_user_pair(&issued, &["read", "write"]);

    // RFC 7662: every field the library parses.
    let info = client
        .introspect(&access)
        .request_async(&wire)
        .await
        .expect("introspection");
    let sent = wire.last();
    assert_eq!(sent.url, server.introspection_url);
    assert_eq!(sent.authorization.as_deref(), Some(DEMO_BASIC));
    assert_eq!(sent.param("token"), Some(access.secret().as_str()));
    assert!(info.active(), "{info:?}");
    assert_eq!(info.scopes(), Some(&scopes(&["read", "write"])));
    assert_eq!(info.client_id().map(|id| id.as_str()), Some(DEMO_CLIENT_ID));
    assert_eq!(info.username(), Some(DEMO_USERNAME));
    assert_eq!(info.token_type(), Some(&BasicTokenType::Bearer));
    let iat = info
        .iat()
        .unwrap_or_else(|| panic!("no iat: {info:?}"))
        .timestamp();
    let exp = info
        .exp()
        .unwrap_or_else(|| panic!("no exp: {info:?}"))
        .timestamp();
    assert!(
        (before - 1..=after + 1).contains(&iat),
        "iat {iat} not in [{before}, {after}]"
    );
    assert_eq!(exp - iat, 3600);
    // A refresh token is not an access token: inactive.
    let refresh_as_access = AccessToken::new(refresh.secret().clone());
    assert!(!is_active(&client, &wire, &refresh_as_access).await);

    // The library insists on HTTPS for revocation (hence `Wire`'s stand-in for TLS).
    let plain = BasicClient::new(ClientId::new(DEMO_CLIENT_ID.to_owned()))
        .set_client_secret(ClientSecret::new(DEMO_CLIENT_SECRET.to_owned()))
        .set_revocation_url(
            RevocationUrl::new(server.revocation_url.clone()).expect("revocation URL"),
        );
    assert!(matches!(
        plain.revoke_token(refresh.clone().into()),
        Err(ConfigurationError::InsecureUrl("revocation"))
    ));

    // RFC 7009, by refresh token: the whole grant ends.
    client
        .revoke_token(StandardRevocableToken::from(&refresh))
        .unwrap()
        .request_async(&wire)
        .await
        .expect("revocation");
    let sent = wire.last();
    assert_eq!(sent.url, server.revocation_url);
    assert_eq!(sent.authorization.as_deref(), Some(DEMO_BASIC));
    assert_eq!(sent.param("token"), Some(refresh.secret().as_str()));
    assert_eq!(sent.param("token_type_hint"), Some("refresh_token"));

    let info = client
        .introspect(&access)
        .request_async(&wire)
        .await
        .expect("introspection");
    assert!(!info.active(), "{info:?}");
    // Exactly `{"active": false}`: nothing says why.
    assert_eq!(info.scopes(), None);
    assert_eq!(info.client_id(), None);
    assert_eq!(info.username(), None);
    assert_eq!(info.token_type(), None);
    assert_eq!(info.exp(), None);
    assert_eq!(info.iat(), None);
    let error = refusal(
        client
            .exchange_refresh_token(&refresh)
            .request_async(&wire)
            .await,
    );
    assert_eq!(error.error(), &BasicErrorResponseType::InvalidGrant);
    // Revoking again is still a success (RFC 7009 §2.2).
    client
        .revoke_token(StandardRevocableToken::from(&refresh))
        .unwrap()
        .request_async(&wire)
        .await
        .expect("second revocation");

    // By access token: its refresh token goes with it.
    let (access, refresh) =
        assert_user_pair(&password_grant(&client, &wire).await, &["read", "write"]);
    assert!(is_active(&client, &wire, &access).await);
    client
        .revoke_token(StandardRevocableToken::from(&access))
        .unwrap()
        .request_async(&wire)
        .await
        .expect("revocation");
    assert_eq!(wire.last().param("token_type_hint"), Some("access_token"));
    assert!(!is_active(&client, &wire, &access).await);
    let error = refusal(
        client
            .exchange_refresh_token(&refresh)
            .request_async(&wire)
            .await,
    );
    assert_eq!(error.error(), &BasicErrorResponseType::InvalidGrant);
}
