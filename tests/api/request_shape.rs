//! The shape of the request: grant_type, repeated parameters, body formats, query strings,
//! methods and paths.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::helpers::*;

fn alice_pairs() -> Vec<(&'static str, &'static str)> {
    vec![
        ("grant_type", "password"),
        ("username", ALICE),
        ("password", ALICE_PASSWORD),
    ]
}

fn alice_json() -> serde_json::Value {
    json!({"grant_type": "password", "username": ALICE, "password": ALICE_PASSWORD})
}

fn request(method: Method, path: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, FORM)
        .header(header::AUTHORIZATION, A.header_value().unwrap_or_default())
        .body(Body::from(form(&alice_pairs())))
        .unwrap()
}

#[tokio::test]
async fn a_missing_or_empty_grant_type_is_an_invalid_request() {
    let app = spawn_app().await;

    for body in [
        "username=alice&password=alice-Pa55word",
        "grant_type=&username=alice&password=alice-Pa55word",
        "grant_type&username=alice&password=alice-Pa55word",
        "",
    ] {
        let reply = app.post_form(body, A).await;
        assert_invalid_request(&reply, "Request is missing grant_type parameter.");
    }
    let no_auth = app.post_form("", Auth::None).await;
    assert_invalid_request(&no_auth, "Request is missing grant_type parameter.");
}

#[tokio::test]
async fn unknown_grant_types_are_unsupported_even_with_a_wrong_secret() {
    let app = spawn_app().await;

    for grant_type in [
        "foo",
        "PASSWORD",
        "Password",
        "password ",
        "REFRESH_TOKEN",
        "CLIENT_CREDENTIALS",
        "authorization_code",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ] {
        let body = form(&[
            ("grant_type", grant_type),
            ("username", ALICE),
            ("password", ALICE_PASSWORD),
        ]);
        for auth in [A, Auth::Basic(CLIENT_A, "wrong"), Auth::None] {
            let reply = app.post_form(&body, auth).await;
            assert_eq!(reply.status, 400, "{grant_type:?}: {}", reply.text());
            assert_bare_error(&reply, "unsupported_grant_type");
        }
    }
}

#[tokio::test]
async fn every_repeated_known_parameter_is_an_invalid_request() {
    let app = spawn_app().await;
    let cases = [
        (
            "grant_type",
            "grant_type=foo&grant_type=password&username=alice&password=x",
        ),
        (
            "grant_type",
            "grant_type=password&grant_type=password&username=alice&password=x",
        ),
        (
            "client_id",
            "grant_type=password&username=alice&password=x&client_id=nobody&client_id=clientA",
        ),
        (
            "client_secret",
            "grant_type=password&username=alice&password=x&client_secret=a&client_secret=b",
        ),
        (
            "username",
            "grant_type=password&username=nobody&username=alice&password=x",
        ),
        (
            "password",
            "grant_type=password&username=alice&password=alice-Pa55word&password=wrong",
        ),
        (
            "scope",
            "grant_type=password&username=alice&password=x&scope=read&scope=write",
        ),
        (
            "scope",
            "grant_type=password&username=alice&password=x&scope=&scope=read",
        ),
        (
            "refresh_token",
            "grant_type=refresh_token&refresh_token=garbage&refresh_token=other",
        ),
    ];

    for (name, body) in cases {
        for auth in [A, Auth::None] {
            let reply = app.post_form(body, auth).await;
            assert_invalid_request(&reply, &format!("Duplicate {name} parameter."));
        }
    }
}

#[tokio::test]
async fn a_repeated_refresh_token_is_refused_even_if_one_is_valid() {
    let app = spawn_app().await;
    let tokens = app.alice_tokens(None, ALL_SCOPES).await;
    let body = format!(
        "grant_type=refresh_token&refresh_token=garbage&refresh_token={}",
        tokens.refresh
    );

    let reply = app.post_form(&body, A).await;

    assert_invalid_request(&reply, "Duplicate refresh_token parameter.");
    // The refused request did not consume the token.
    assert_tokens(&app.refresh(A, &tokens.refresh, None).await, ALL_SCOPES);
}

#[tokio::test]
async fn repeated_unknown_parameters_are_ignored() {
    let app = spawn_app().await;
    let body = format!("foo=1&foo=2&{}&foo=3&state=a&state=b", form(&alice_pairs()));

    let reply = app.post_form(&body, A).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn parameter_names_are_case_sensitive() {
    let app = spawn_app().await;

    let reply = app
        .post_form(
            "GRANT_TYPE=password&username=alice&password=alice-Pa55word",
            A,
        )
        .await;

    assert_invalid_request(&reply, "Request is missing grant_type parameter.");
}

#[tokio::test]
async fn json_bodies_are_accepted_with_the_same_fields() {
    let app = spawn_app().await;

    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "Application/JSON",
    ] {
        let reply = app
            .post(Some(content_type), alice_json().to_string(), A)
            .await;
        assert_tokens(&reply, ALL_SCOPES);
    }
}

#[tokio::test]
async fn json_bodies_may_carry_client_credentials_and_null_or_unknown_members() {
    let app = spawn_app().await;
    let body = json!({
        "grant_type": "password",
        "username": BOB,
        "password": BOB_PASSWORD,
        "client_id": CLIENT_B,
        "client_secret": SECRET_B,
        "scope": null,
        "extra": [1, {"nested": true}],
        "number": 7,
    });

    let reply = app.post_json(&body, Auth::None).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn json_null_counts_as_omitted() {
    let app = spawn_app().await;
    let body = json!({"grant_type": "password", "username": ALICE, "password": null});

    let reply = app.post_json(&body, A).await;

    assert_invalid_request(&reply, "Request is missing password parameter.");
}

#[tokio::test]
async fn json_wrong_credentials_behave_like_the_form() {
    let app = spawn_app().await;
    let wrong_password = json!({"grant_type": "password", "username": ALICE, "password": "wrong"});
    let unknown_grant = json!({"grant_type": "authorization_code"});

    let bad_user = app.post_json(&wrong_password, A).await;
    let bad_client = app
        .post_json(&alice_json(), Auth::Basic(CLIENT_A, "wrong"))
        .await;
    let unsupported = app.post_json(&unknown_grant, A).await;

    assert_credentials_error(&bad_user);
    assert_invalid_client(&bad_client);
    assert_bare_error(&unsupported, "unsupported_grant_type");
}

#[tokio::test]
async fn malformed_json_bodies_are_invalid_requests() {
    let app = spawn_app().await;
    let cases = [
        "[\"grant_type\", \"password\"]",
        "\"grant_type=password\"",
        "42",
        "null",
        "{",
        "{\"grant_type\": \"password\",}",
        "grant_type=password&username=alice&password=alice-Pa55word",
        "",
        r#"{"grant_type": "password", "username": "alice", "password": "alice-Pa55word", "scope": ["read"]}"#,
        r#"{"grant_type": "password", "username": "alice", "password": 1234}"#,
        r#"{"grant_type": "password", "username": {"name": "alice"}, "password": "x"}"#,
        r#"{"grant_type": true, "username": "alice", "password": "x"}"#,
        r#"{"grant_type": "password", "username": "alice", "username": "alice", "password": "x"}"#,
        r#"{"grant_type": "password", "grant_type": "foo"}"#,
    ];

    for body in cases {
        let reply = app.post(Some("application/json"), body, A).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text()
        );
        assert_json_no_store(&reply);
        let json = reply.json();
        assert_eq!(json["error"], "invalid_request", "{body}");
        assert!(json["error_description"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn form_bodies_with_a_charset_or_without_a_content_type_work() {
    let app = spawn_app().await;
    let body = form(&alice_pairs());

    for content_type in [
        Some("application/x-www-form-urlencoded; charset=UTF-8"),
        Some("application/x-www-form-urlencoded;charset=utf-8"),
        Some("APPLICATION/X-WWW-FORM-URLENCODED"),
        None,
    ] {
        let reply = app.post(content_type, body.clone(), A).await;
        assert_tokens(&reply, ALL_SCOPES);
    }
}

#[tokio::test]
async fn unsupported_content_types_are_invalid_requests() {
    let app = spawn_app().await;
    let body = form(&alice_pairs());

    for content_type in [
        "text/plain",
        "text/plain; charset=utf-8",
        "multipart/form-data; boundary=xyz",
        "application/xml",
        "application/octet-stream",
        "text/json",
    ] {
        let reply = app.post(Some(content_type), body.clone(), A).await;
        assert_eq!(reply.status, 400, "{content_type}: {}", reply.text());
        let json = reply.json();
        assert_eq!(json["error"], "invalid_request", "{content_type}");
        let description = json["error_description"].as_str().unwrap_or_default();
        assert!(
            description.contains("Content-Type"),
            "{content_type}: {description}"
        );
        assert_json_no_store(&reply);
    }
}

#[tokio::test]
async fn query_parameters_on_the_post_url_are_refused_as_json() {
    let app = spawn_app().await;

    for path in [
        "/o/token/?grant_type=password&username=alice&password=alice-Pa55word",
        "/o/token/?foo=bar",
        "/o/token?client_secret=x",
    ] {
        // With a valid body too: the query alone is enough to refuse.
        let reply = app
            .send(post_request(path, Some(FORM), form(&alice_pairs()), A))
            .await;
        assert_invalid_request(&reply, "URL query parameters are not allowed");
        assert_eq!(reply.header("content-type"), Some("application/json"));
    }
}

#[tokio::test]
async fn the_path_without_the_trailing_slash_works_the_same() {
    let app = spawn_app().await;

    let grant = app
        .send(post_request(
            "/o/token",
            Some(FORM),
            form(&alice_pairs()),
            A,
        ))
        .await;
    let tokens = assert_tokens(&grant, ALL_SCOPES);
    let refresh_body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &tokens.refresh),
    ]);
    let refresh = app
        .send(post_request("/o/token", Some(FORM), refresh_body, A))
        .await;
    let error = app
        .send(post_request("/o/token", Some(FORM), "grant_type=foo", A))
        .await;

    assert!(grant.header("location").is_none());
    assert_tokens(&refresh, ALL_SCOPES);
    assert_bare_error(&error, "unsupported_grant_type");
}

#[tokio::test]
async fn other_methods_are_405_with_allow_and_a_json_body() {
    let app = spawn_app().await;

    for path in ["/o/token/", "/o/token"] {
        for method in [Method::GET, Method::PUT, Method::DELETE, Method::PATCH] {
            let reply = app.send(request(method.clone(), path)).await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(
                reply.header("allow"),
                Some("POST, OPTIONS"),
                "{method} {path}"
            );
            assert_eq!(reply.header("content-type"), Some("application/json"));
            assert_eq!(reply.json()["error"], "invalid_request", "{method} {path}");
        }
    }
}

#[tokio::test]
async fn head_is_405_with_allow() {
    let app = spawn_app().await;

    let reply = app.send(request(Method::HEAD, TOKEN_PATH)).await;

    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some("POST, OPTIONS"));
}

#[tokio::test]
async fn options_is_200_with_allow() {
    let app = spawn_app().await;

    for path in ["/o/token/", "/o/token"] {
        let reply = app.send(request(Method::OPTIONS, path)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.header("allow"), Some("POST, OPTIONS"), "{path}");
    }
}

#[tokio::test]
async fn unknown_paths_are_404_json() {
    let app = spawn_app().await;

    for (method, path) in [
        (Method::POST, "/"),
        (Method::POST, "/o/token/extra"),
        (Method::POST, "/o/token//"),
        (Method::POST, "/o/authorize/"),
        (Method::POST, "/O/TOKEN/"),
        (Method::GET, "/favicon.ico"),
    ] {
        let reply = app.send(request(method.clone(), path)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(reply.json()["error"], "invalid_request", "{method} {path}");
    }
}
