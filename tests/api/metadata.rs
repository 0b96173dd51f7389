//! `GET /.well-known/oauth-authorization-server` (RFC 8414): the issuer configured or derived
//! from the request, every endpoint under it, and the usual method and header rules.

use axum::http::{Method, StatusCode};
use serde_json::Value;
use token_endpoint::domain::Scope;
use token_endpoint::http::Discovery;
use token_endpoint::http::discovery::BasePath;

use crate::helpers::*;

const API_HOST: &str = "abc123.execute-api.eu-west-1.amazonaws.com";

/// The whole document for `issuer`, byte for byte, with `scopes` (already JSON) at the end
/// if given.
fn document(issuer: &str, scopes: Option<&str>) -> String {
    let methods = r#"["client_secret_basic", "client_secret_post", "private_key_jwt"]"#;
    let scopes = scopes
        .map(|scopes| format!(r#", "scopes_supported": {scopes}"#))
        .unwrap_or_default();
    format!(
        concat!(
            r#"{{"issuer": "{issuer}", "token_endpoint": "{issuer}/o/token/", "#,
            r#""revocation_endpoint": "{issuer}/o/revoke_token/", "#,
            r#""introspection_endpoint": "{issuer}/o/introspect/", "#,
            r#""jwks_uri": "{issuer}/.well-known/jwks.json", "#,
            r#""grant_types_supported": ["password", "refresh_token", "client_credentials"], "#,
            r#""response_types_supported": [], "#,
            r#""token_endpoint_auth_methods_supported": {methods}, "#,
            r#""token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256"], "#,
            r#""revocation_endpoint_auth_methods_supported": {methods}, "#,
            r#""introspection_endpoint_auth_methods_supported": {methods}, "#,
            r#""dpop_signing_alg_values_supported": ["ES256", "RS256", "PS256"]{scopes}}}"#
        ),
        issuer = issuer,
        methods = methods,
        scopes = scopes,
    )
}

#[track_caller]
fn assert_document(reply: &Reply, issuer: &str, scopes: Option<&str>) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.text(), document(issuer, scopes));
}

fn configured(issuer: Option<&str>, scopes: Option<&str>) -> Discovery {
    Discovery {
        issuer: issuer.map(str::to_owned),
        scopes_supported: scopes
            .map(|scopes| Scope::parse(scopes).unwrap_or_else(|_| panic!("bad scope {scopes}"))),
        ..Discovery::default()
    }
}

/// A GET of the document behind the API Gateway stage `stage`.
fn staged_request(stage: &str, headers: &[(&str, &str)]) -> axum::http::Request<axum::body::Body> {
    let mut request = request(Method::GET, METADATA_PATH, headers);
    request.extensions_mut().insert(BasePath(stage.to_owned()));
    request
}

#[tokio::test]
async fn the_issuer_is_derived_from_host_and_forwarded_proto() {
    let app = spawn_app().await;

    let reply = app
        .get(
            METADATA_PATH,
            &[("host", API_HOST), ("x-forwarded-proto", "https")],
        )
        .await;

    assert_document(&reply, &format!("https://{API_HOST}"), None);
    let body = reply.json();
    assert_eq!(body["issuer"], Value::from(format!("https://{API_HOST}")));
    assert!(body.get("scopes_supported").is_none(), "{body}");
}

#[tokio::test]
async fn the_scheme_follows_x_forwarded_proto() {
    let app = spawn_app().await;

    for (proto, scheme) in [
        (None, "http"),
        (Some("http"), "http"),
        (Some("https"), "https"),
        (Some("HTTPS"), "https"),
        (Some(" https "), "https"),
        (Some("https, http"), "https"),
        (Some("http,https"), "http"),
        (Some("ftp"), "http"),
        (Some(""), "http"),
    ] {
        let mut headers = vec![("host", "auth.example.com")];
        headers.extend(proto.map(|proto| ("x-forwarded-proto", proto)));
        let reply = app.get(METADATA_PATH, &headers).await;
        assert_document(&reply, &format!("{scheme}://auth.example.com"), None);
    }
}

#[tokio::test]
async fn the_host_keeps_its_port() {
    let app = spawn_app().await;

    for host in ["localhost:3000", "127.0.0.1:9000", "[::1]:8080", "[::1]"] {
        let reply = app.get(METADATA_PATH, &[("host", host)]).await;
        assert_document(&reply, &format!("http://{host}"), None);
    }
}

#[tokio::test]
async fn behind_a_stage_the_stage_is_in_every_url() {
    let app = spawn_app().await;
    let request = staged_request(
        "/prod",
        &[("host", API_HOST), ("x-forwarded-proto", "https")],
    );

    let reply = app.send(request).await;

    let issuer = format!("https://{API_HOST}/prod");
    assert_document(&reply, &issuer, None);
    let body = reply.json();
    for member in [
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let url = body[member].as_str().unwrap_or_default();
        assert!(url.starts_with(&format!("{issuer}/o/")), "{member}: {url}");
    }
}

#[tokio::test]
async fn an_empty_base_path_changes_nothing() {
    let app = spawn_app().await;

    let reply = app.send(staged_request("", &[("host", API_HOST)])).await;

    assert_document(&reply, &format!("http://{API_HOST}"), None);
}

#[tokio::test]
async fn a_configured_issuer_wins_over_the_request() {
    let issuer = "https://auth.example.com/tenant";
    let app = spawn_app_with(configured(Some(issuer), None)).await;

    let plain = app
        .get(
            METADATA_PATH,
            &[("host", API_HOST), ("x-forwarded-proto", "http")],
        )
        .await;
    let staged = app
        .send(staged_request("/prod", &[("host", API_HOST)]))
        .await;
    // No Host header at all: nothing needs deriving.
    let hostless = app.get(METADATA_PATH, &[]).await;
    let malformed_host = app.get(METADATA_PATH, &[("host", "bad host")]).await;

    for reply in [&plain, &staged, &hostless, &malformed_host] {
        assert_document(reply, issuer, None);
    }
}

#[tokio::test]
async fn scopes_supported_is_published_only_when_configured() {
    let with_scopes = spawn_app_with(configured(None, Some(ALL_SCOPES))).await;
    let with_both = spawn_app_with(configured(
        Some("https://auth.example.com"),
        Some("read write"),
    ))
    .await;
    let without = spawn_app().await;
    let host = [("host", "auth.example.com")];

    let reply = with_scopes.get(METADATA_PATH, &host).await;
    let both = with_both.get(METADATA_PATH, &host).await;
    let none = without.get(METADATA_PATH, &host).await;

    assert_document(
        &reply,
        "http://auth.example.com",
        Some(r#"["read", "write", "payouts"]"#),
    );
    assert_document(
        &both,
        "https://auth.example.com",
        Some(r#"["read", "write"]"#),
    );
    assert_document(&none, "http://auth.example.com", None);
    assert!(!none.text().contains("scopes_supported"));
}

#[tokio::test]
async fn the_advertised_endpoints_are_the_ones_served() {
    let app = spawn_app().await;
    let reply = app.get(METADATA_PATH, &[("host", API_HOST)]).await;
    let body = reply.json();
    let issuer = format!("http://{API_HOST}");
    let path = |member: &str| {
        body[member]
            .as_str()
            .and_then(|url| url.strip_prefix(&issuer))
            .unwrap_or_else(|| panic!("{member} is not under {issuer}: {body}"))
            .to_owned()
    };

    let token = app
        .post_form_to(&path("token_endpoint"), "grant_type=client_credentials", E)
        .await;
    let token = assert_client_token(&token, E_SCOPES);
    let active = app
        .post_form_to(
            &path("introspection_endpoint"),
            &form(&[("token", &token)]),
            E,
        )
        .await;
    let revoked = app
        .post_form_to(&path("revocation_endpoint"), &form(&[("token", &token)]), E)
        .await;

    assert_active(
        &active,
        Active {
            scope: E_SCOPES,
            client_id: CLIENT_E,
            username: None,
        },
    );
    assert_revoked(&revoked);
    assert_inactive(&app.introspect(E, &token).await);
}

#[tokio::test]
async fn head_gives_the_headers_without_a_body() {
    let app = spawn_app().await;

    let reply = app
        .send(request(Method::HEAD, METADATA_PATH, &[("host", API_HOST)]))
        .await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("private, max-age=3600"));
    assert!(reply.body.is_empty(), "{}", reply.text());
}

/// A document derived from the Host header must not be kept by a shared cache, which could
/// serve one caller's issuer to another; a configured issuer's document may be.
#[tokio::test]
async fn only_a_configured_issuers_document_is_publicly_cacheable() {
    let derived = spawn_app().await;
    let reply = derived.get(METADATA_PATH, &[("host", API_HOST)]).await;
    assert_eq!(reply.header("cache-control"), Some("private, max-age=3600"));
    assert_eq!(reply.header("vary"), Some("Host, X-Forwarded-Proto"));

    let configured = spawn_app_with(configured(Some("https://auth.example.com"), None)).await;
    let reply = configured
        .get(METADATA_PATH, &[("host", "attacker.example")])
        .await;
    assert_eq!(reply.header("cache-control"), Some("public, max-age=3600"));
    assert_eq!(reply.header("vary"), None);
    assert_eq!(reply.json()["issuer"], "https://auth.example.com");
}

#[tokio::test]
async fn other_methods_are_405_with_allow() {
    let app = spawn_app().await;

    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let reply = app
            .send(request(
                method.clone(),
                METADATA_PATH,
                &[("host", API_HOST)],
            ))
            .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(
            reply.header("allow"),
            Some("GET, HEAD, OPTIONS"),
            "{method}"
        );
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(reply.json()["error"], "invalid_request", "{method}");
    }
    // A form POST with client credentials is no different.
    let post = app
        .post_form_to(METADATA_PATH, "grant_type=client_credentials", E)
        .await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.header("allow"), Some("GET, HEAD, OPTIONS"));

    let options = app.send(request(Method::OPTIONS, METADATA_PATH, &[])).await;
    assert_eq!(options.status, StatusCode::OK);
    assert_eq!(options.header("allow"), Some("GET, HEAD, OPTIONS"));
}

#[tokio::test]
async fn a_missing_or_malformed_host_is_an_invalid_request() {
    let app = spawn_app().await;

    let missing = app
        .get(METADATA_PATH, &[("x-forwarded-proto", "https")])
        .await;
    assert_invalid_request(&missing, "The Host header is missing or malformed.");
    for host in [
        "",
        "bad host",
        "user@auth.example.com",
        "user:pass@auth.example.com",
        "auth.example.com/path",
        "auth.example.com?x=1",
        "http://auth.example.com",
    ] {
        let reply = app.get(METADATA_PATH, &[("host", host)]).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{host:?}: {}",
            reply.text()
        );
        assert_invalid_request(&reply, "The Host header is missing or malformed.");
    }
}

#[tokio::test]
async fn without_a_host_header_the_request_target_authority_is_used() {
    let app = spawn_app().await;

    let reply = app
        .get(&format!("https://auth.example.com{METADATA_PATH}"), &[])
        .await;

    assert_document(&reply, "https://auth.example.com", None);
}

#[tokio::test]
async fn openid_configuration_is_the_same_document() {
    let app = spawn_app().await;
    let headers = [("host", API_HOST), ("x-forwarded-proto", "https")];

    let reply = app.get("/.well-known/openid-configuration", &headers).await;

    // Where API Gateway's JWT authorizers read the issuer and the key set's address.
    assert_document(&reply, &format!("https://{API_HOST}"), None);
}

#[tokio::test]
async fn other_well_known_paths_are_not_found() {
    let app = spawn_app().await;

    for path in [
        "/.well-known/oauth-authorization-server/prod",
        "/prod/.well-known/oauth-authorization-server",
    ] {
        let reply = app.get(path, &[("host", API_HOST)]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
}
