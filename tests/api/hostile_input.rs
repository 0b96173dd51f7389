//! Hostile and odd input: size limits, encodings, and a table of strange requests that must
//! all get a well-formed JSON error, never a 5xx.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use serde_json::json;

use crate::helpers::*;

fn alice_form() -> String {
    form(&[
        ("grant_type", "password"),
        ("username", ALICE),
        ("password", ALICE_PASSWORD),
    ])
}

/// Alice's valid grant padded with an unknown field to exactly `total` bytes.
fn alice_form_of_length(total: usize) -> String {
    let mut body = format!("{}&pad=", alice_form());
    let padding = total - body.len();
    body.push_str(&"a".repeat(padding));
    assert_eq!(body.len(), total);
    body
}

#[track_caller]
fn assert_too_large(reply: &Reply) {
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text()
    );
    assert_json_no_store(reply);
    let body = reply.json();
    assert_eq!(body["error"], "invalid_request");
    assert!(body["error_description"].is_string());
}

#[tokio::test]
async fn a_body_of_exactly_64_kib_is_read() {
    let app = spawn_app().await;

    let reply = app.post_form(&alice_form_of_length(64 * 1024), A).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = spawn_app().await;

    for size in [64 * 1024 + 1, 1024 * 1024, 3 * 1024 * 1024] {
        let reply = app.post_form(&alice_form_of_length(size), A).await;
        assert_too_large(&reply);
    }
}

#[tokio::test]
async fn a_streamed_body_over_64_kib_is_413() {
    let app = spawn_app().await;
    let chunks = (0..100).map(|_| Ok::<_, std::io::Error>(vec![b'a'; 1024]));
    let request = Request::builder()
        .method(Method::POST)
        .uri(TOKEN_PATH)
        .header(header::CONTENT_TYPE, FORM)
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();

    let reply = app.send(request).await;

    assert_too_large(&reply);
}

#[tokio::test]
async fn a_known_parameter_over_4096_bytes_is_refused_by_name() {
    let app = spawn_app().await;
    let long = "a".repeat(4097);

    for name in [
        "grant_type",
        "client_id",
        "client_secret",
        "username",
        "password",
        "scope",
        "refresh_token",
    ] {
        let mut pairs = vec![
            ("grant_type", "password"),
            ("username", ALICE),
            ("password", ALICE_PASSWORD),
        ];
        pairs.retain(|(field, _)| *field != name);
        pairs.push((name, &long));
        let reply = app.post_form(&form(&pairs), A).await;
        assert_invalid_request(&reply, &format!("The {name} parameter is too long."));
    }
}

#[tokio::test]
async fn the_length_limit_counts_decoded_bytes_and_4096_is_allowed() {
    let app = spawn_app().await;
    let at_limit = "a".repeat(4096);
    let multibyte_at_limit = "é".repeat(2048); // 4096 bytes
    let multibyte_over = "é".repeat(2049); // 4098 bytes, 2049 characters

    let username = app.password_grant(A, &at_limit, ALICE_PASSWORD, None).await;
    let password = app.password_grant(A, ALICE, &at_limit, None).await;
    let multibyte = app
        .password_grant(A, &multibyte_at_limit, ALICE_PASSWORD, None)
        .await;
    let multibyte_too_long = app
        .password_grant(A, &multibyte_over, ALICE_PASSWORD, None)
        .await;

    assert_credentials_error(&username);
    assert_credentials_error(&password);
    assert_credentials_error(&multibyte);
    assert_invalid_request(&multibyte_too_long, "The username parameter is too long.");
}

#[tokio::test]
async fn a_long_unknown_parameter_is_ignored() {
    let app = spawn_app().await;
    let body = format!("{}&note={}", alice_form(), "x".repeat(20_000));

    let reply = app.post_form(&body, A).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn bytes_that_are_not_utf8_after_decoding_are_invalid_requests() {
    let app = spawn_app().await;
    let cases: [(&str, Vec<u8>); 7] = [
        (
            "%FF%FE",
            b"grant_type=password&username=%FF%FE&password=x".to_vec(),
        ),
        (
            "raw 0xFF",
            b"grant_type=password&username=\xff&password=x".to_vec(),
        ),
        (
            "%C3%28",
            b"grant_type=password&username=%C3%28&password=x".to_vec(),
        ),
        (
            "overlong /",
            b"grant_type=password&username=alice&password=%C0%AF".to_vec(),
        ),
        (
            "lone surrogate",
            b"grant_type=password&username=%ED%A0%80&password=x".to_vec(),
        ),
        (
            "in a name",
            b"grant_type=password&user%FFname=alice&password=x".to_vec(),
        ),
        (
            "in an unknown field",
            b"grant_type=password&username=alice&password=x&x=%FF".to_vec(),
        ),
    ];

    for (case, body) in cases {
        let reply = app.post(Some(FORM), body, A).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            reply.text()
        );
        assert_json_no_store(&reply);
        assert_eq!(reply.json()["error"], "invalid_request", "{case}");
    }
}

#[tokio::test]
async fn a_nul_or_a_bad_escape_in_the_username_is_just_a_wrong_user() {
    let app = spawn_app().await;

    for body in [
        "grant_type=password&username=alice%00&password=alice-Pa55word",
        "grant_type=password&username=%ZZ%4&password=alice-Pa55word",
        "grant_type=password&username=alice%&password=alice-Pa55word",
        "grant_type=password&username=alice%20&password=alice-Pa55word",
        "grant_type=password&username=alice&password=alice-Pa55word%00",
        "grant_type=password&username=alice&password=%ZZ%4",
    ] {
        let reply = app.post_form(body, A).await;
        assert_credentials_error(&reply);
    }
}

#[tokio::test]
async fn a_malformed_escape_is_kept_literally() {
    // Keeping `%4` as is means a password that really contains `%4` still works: bob's
    // password `p%^@&=+ #é:x9/?` has a `%` followed by a non-hex character.
    let app = spawn_app().await;
    let body = "grant_type=password&username=bob.builder\
                &password=p%^%40%26%3D%2B%20%23%C3%A9%3Ax9%2F%3F";

    let reply = app.post_form(body, A).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn two_thousand_small_unknown_fields_are_fine() {
    let app = spawn_app().await;
    let extra: Vec<String> = (0..2000).map(|i| format!("f{i}=v")).collect();
    let body = format!("{}&{}", alice_form(), extra.join("&"));

    let reply = app.post_form(&body, A).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn many_empty_pairs_and_repeated_unknown_fields_are_fine() {
    let app = spawn_app().await;
    let body = format!(
        "{}{}{}",
        "&".repeat(5000),
        alice_form(),
        "&x=1".repeat(3000)
    );

    let reply = app.post_form(&body, A).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn error_bodies_never_echo_what_was_sent() {
    let app = spawn_app().await;
    let marker = "Zq9SecretMarker";
    let with_marker = |field: &str| {
        let mut pairs = vec![
            ("grant_type", "password"),
            ("username", ALICE),
            ("password", ALICE_PASSWORD),
        ];
        pairs.retain(|(name, _)| *name != field);
        pairs.push((field, marker));
        form(&pairs)
    };

    let replies = [
        app.post_form(&with_marker("password"), A).await,
        app.post_form(&with_marker("username"), A).await,
        app.post_form(&with_marker("scope"), A).await,
        app.post_form(&with_marker("grant_type"), A).await,
        app.post_form(&alice_form(), Auth::Basic(CLIENT_A, marker))
            .await,
        app.post_form(&alice_form(), Auth::Basic(marker, marker))
            .await,
        app.refresh(A, marker, None).await,
        app.post(Some("application/json"), format!("{{\"{marker}\""), A)
            .await,
    ];

    for reply in replies {
        assert!(reply.status.is_client_error(), "{}", reply.text());
        assert!(!reply.text().contains(marker), "echoed: {}", reply.text());
        for value in reply.headers.values() {
            let value = String::from_utf8_lossy(value.as_bytes());
            assert!(!value.contains(marker), "echoed in a header: {value}");
        }
    }
}

/// One odd request for the table below.
struct Odd {
    case: &'static str,
    method: Method,
    path: String,
    content_type: Option<Vec<u8>>,
    authorization: Option<Vec<u8>>,
    body: Vec<u8>,
}

fn odd(case: &'static str, body: impl Into<Vec<u8>>) -> Odd {
    Odd {
        case,
        method: Method::POST,
        path: TOKEN_PATH.to_owned(),
        content_type: Some(FORM.as_bytes().to_vec()),
        authorization: A.header_value().map(String::into_bytes),
        body: body.into(),
    }
}

impl Odd {
    fn content_type(mut self, value: Option<&[u8]>) -> Self {
        self.content_type = value.map(<[u8]>::to_vec);
        self
    }

    fn authorization(mut self, value: Option<&[u8]>) -> Self {
        self.authorization = value.map(<[u8]>::to_vec);
        self
    }

    fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    fn request(&self) -> Request<Body> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(self.path.as_str());
        let header_value = |bytes: &[u8]| {
            HeaderValue::from_bytes(bytes)
                .unwrap_or_else(|error| panic!("{}: bad header in the test: {error}", self.case))
        };
        if let Some(content_type) = &self.content_type {
            builder = builder.header(header::CONTENT_TYPE, header_value(content_type));
        }
        if let Some(authorization) = &self.authorization {
            builder = builder.header(header::AUTHORIZATION, header_value(authorization));
        }
        builder
            .body(Body::from(self.body.clone()))
            .unwrap_or_else(|error| panic!("{}: {error}", self.case))
    }
}

fn odd_requests() -> Vec<Odd> {
    let json: Option<&[u8]> = Some(b"application/json");
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_member = format!(
        "{{\"grant_type\": \"password\", \"x\": {}{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let long_basic = format!("Basic {}", "A".repeat(10_000));
    let long_secret = basic(&format!("clientA:{}", "x".repeat(5_000)));
    let many_scopes: Vec<String> = (0..600).map(|i| format!("s{i}")).collect();
    let many_scopes = format!("{}&scope={}", alice_form(), many_scopes.join("+"));
    let garbage_refresh = format!(
        "grant_type=refresh_token&refresh_token={}",
        "Z".repeat(4096)
    );
    vec![
        odd("empty body", ""),
        odd("empty body, no content type", "").content_type(None),
        odd("only ampersands", "&&&&&&"),
        odd("only equals", "="),
        odd("equals everywhere", "==&==&=="),
        odd("a name without a value", "grant_type"),
        odd("a lone percent", "%"),
        odd("a percent value", "grant_type=%"),
        odd("username without a value", "grant_type=password&username"),
        odd("an empty name", "=password&grant_type=password"),
        odd("a value with equals", "grant_type=password=password"),
        odd("NUL in grant_type", "grant_type=pass%00word"),
        odd("newline in grant_type", "grant_type=password%0A"),
        odd(
            "NUL refresh token",
            "grant_type=refresh_token&refresh_token=%00",
        ),
        odd(
            "control characters in a refresh token",
            "grant_type=refresh_token&refresh_token=%01%02%03%1B%7F",
        ),
        odd("a 4096-byte garbage refresh token", garbage_refresh),
        odd(
            "device_code grant without device_code (DOT's 500)",
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code",
        ),
        odd(
            "authorization_code without code",
            "grant_type=authorization_code&redirect_uri=http%3A%2F%2Fx",
        ),
        odd(
            "client_credentials",
            "grant_type=client_credentials&scope=read",
        ),
        odd(
            "emoji username",
            "grant_type=password&username=%F0%9F%92%A3&password=x",
        ),
        odd(
            "bidi override username",
            "grant_type=password&username=%E2%80%AEecila&password=x",
        ),
        odd(
            "spaces-only password",
            "grant_type=password&username=alice&password=+++",
        ),
        odd("600 unknown scopes", many_scopes),
        odd(
            "scope with a NUL",
            format!("{}&scope=read%00", alice_form()),
        ),
        odd(
            "scope with quotes",
            format!("{}&scope=%22read%22", alice_form()),
        ),
        odd("deeply nested JSON array", deep_array).content_type(json),
        odd("deeply nested unknown JSON member", deep_member).content_type(json),
        odd(
            "JSON lone surrogate",
            r#"{"grant_type": "\ud800", "username": "alice"}"#,
        )
        .content_type(json),
        odd("JSON huge number", r#"{"grant_type": 1e999}"#).content_type(json),
        odd("JSON with a BOM", "\u{feff}{\"grant_type\": \"password\"}").content_type(json),
        odd(
            "JSON with raw 0xFF",
            b"{\"grant_type\": \"pass\xffword\"}".to_vec(),
        )
        .content_type(json),
        odd("JSON trailing garbage", r#"{"grant_type": "password"} x"#).content_type(json),
        odd("JSON string", r#""password""#).content_type(json),
        odd("a form labelled JSON", alice_form()).content_type(json),
        odd("JSON labelled a form", r#"{"grant_type": "password"}"#),
        odd(
            "JSON without a content type",
            r#"{"grant_type": "password"}"#,
        )
        .content_type(None),
        odd("non-UTF-8 content type", r#"{"grant_type": "password"}"#)
            .content_type(Some(b"application/json\xff")),
        odd("empty content type", "grant_type=foo").content_type(Some(b"")),
        odd("content type of semicolons", "grant_type=foo").content_type(Some(b";;;")),
        odd(
            "latin-1 form",
            b"grant_type=password&username=\xe9&password=x".to_vec(),
        )
        .content_type(Some(b"application/x-www-form-urlencoded; charset=latin1")),
        odd(
            "multipart",
            "--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\npassword\r\n--x--",
        )
        .content_type(Some(b"multipart/form-data; boundary=x")),
        odd("Basic of 10 000 characters", alice_form()).authorization(Some(long_basic.as_bytes())),
        odd("Basic with a 5000-character secret", alice_form())
            .authorization(Some(long_secret.as_bytes())),
        odd("Basic with a non-ASCII byte", alice_form()).authorization(Some(b"Basic \xff\xfe")),
        odd("Basic of a lone colon", alice_form()).authorization(Some(b"Basic Og==")),
        odd("Basic with a tab", alice_form()).authorization(Some(b"Basic\tY2xpZW50QTp4")),
        odd("Basic, two spaces", alice_form()).authorization(Some(b"Basic  Y2xpZW50QTp4")),
        odd("Basic of NULs", alice_form()).authorization(Some(b"Basic AAAAAAAA")),
        odd("an empty Authorization header", alice_form()).authorization(Some(b"")),
        odd("Bearer only", alice_form()).authorization(Some(b"Bearer")),
        odd("query with a valid body", alice_form()).path("/o/token/?x=1"),
        odd("an encoded NUL in the path", alice_form()).path("/o/token/%00"),
        odd("a long path", alice_form()).path(format!("/o/token/{}", "a".repeat(5_000))),
        odd("a dot-dot path", alice_form()).path("/o/token/../token/"),
        odd("GET with a body", alice_form()).method(Method::GET),
        odd("TRACE", alice_form()).method(Method::TRACE),
        odd("a custom method", alice_form())
            .method(Method::from_bytes(b"BREW").unwrap_or_default()),
    ]
}

#[tokio::test]
async fn odd_requests_get_well_formed_json_errors_never_a_5xx() {
    let app = spawn_app().await;

    for odd in odd_requests() {
        let reply = app.send(odd.request()).await;
        assert_well_formed_error(&reply, odd.case);
    }
}

#[tokio::test]
async fn a_body_that_is_a_json_object_but_form_labelled_is_read_as_a_form() {
    let app = spawn_app().await;
    let body = json!({"grant_type": "password", "username": ALICE, "password": ALICE_PASSWORD});

    let reply = app.post_form(&body.to_string(), A).await;

    assert_invalid_request(&reply, "Request is missing grant_type parameter.");
}
