//! Client authentication (RFC 6749 §2.3.1, §3.2.1): Basic (form-encoded and raw), body
//! credentials, malformed headers, conflicting credentials and the 401 answer.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, header};

use crate::helpers::*;

const MALFORMED_BASIC: &str = "The Basic authorization header is malformed.";
const CREDENTIALS_DIFFER: &str =
    "The client credentials in the Authorization header and in the body differ.";

fn alice_form() -> String {
    form(&[
        ("grant_type", "password"),
        ("username", ALICE),
        ("password", ALICE_PASSWORD),
    ])
}

/// Alice's password grant with extra body fields (client credentials).
fn alice_form_with(extra: &[(&str, &str)]) -> String {
    let mut body = alice_form();
    if !extra.is_empty() {
        body.push('&');
        body.push_str(&form(extra));
    }
    body
}

/// Every character as `%XX`.
fn over_encode(text: &str) -> String {
    text.bytes().map(|byte| format!("%{byte:02X}")).collect()
}

#[tokio::test]
async fn client_b_over_basic_form_encoded_as_the_rfc_says() {
    let app = spawn_app().await;

    let reply = app.post_form(&alice_form(), B).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn client_b_over_basic_with_the_raw_secret_as_curl_sends_it() {
    // DOT answers 401 here; this endpoint accepts both readings.
    let app = spawn_app().await;

    let reply = app
        .post_form(&alice_form(), Auth::BasicRaw(CLIENT_B, SECRET_B))
        .await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn client_b_in_the_body() {
    let app = spawn_app().await;
    let body = alice_form_with(&[("client_id", CLIENT_B), ("client_secret", SECRET_B)]);

    let reply = app.post_form(&body, Auth::None).await;

    assert_tokens(&reply, ALL_SCOPES);
}

#[tokio::test]
async fn client_b_body_secret_with_a_raw_plus_decodes_to_a_space_and_fails() {
    let app = spawn_app().await;
    // `b+:%/&= secret` with the `+` left raw (a space once form-decoded).
    let body = format!(
        "{}&client_id=clientB&client_secret=b+%3A%25%2F%26%3D%20secret",
        alice_form()
    );

    let reply = app.post_form(&body, Auth::None).await;

    assert_invalid_client(&reply);
}

#[tokio::test]
async fn client_a_raw_and_encoded_basic_are_the_same() {
    let app = spawn_app().await;

    let raw = app
        .post_form(&alice_form(), Auth::BasicRaw(CLIENT_A, SECRET_A))
        .await;
    let encoded = app.post_form(&alice_form(), A).await;

    assert_tokens(&raw, ALL_SCOPES);
    assert_tokens(&encoded, ALL_SCOPES);
}

#[tokio::test]
async fn over_encoded_basic_credentials_work() {
    let app = spawn_app().await;

    for (id, secret) in [(CLIENT_A, SECRET_A), (CLIENT_B, SECRET_B)] {
        let header = basic(&format!("{}:{}", over_encode(id), over_encode(secret)));
        let reply = app.post_form(&alice_form(), Auth::Header(&header)).await;
        assert_tokens(&reply, ALL_SCOPES);
    }
}

#[tokio::test]
async fn the_basic_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let encoded = basic(&format!("{CLIENT_A}:{SECRET_A}"));
    let credentials = encoded.trim_start_matches("Basic ");

    for scheme in ["basic", "BASIC", "bAsIc"] {
        let header = format!("{scheme} {credentials}");
        let reply = app.post_form(&alice_form(), Auth::Header(&header)).await;
        assert_tokens(&reply, ALL_SCOPES);
    }
}

#[tokio::test]
async fn a_wrong_secret_over_basic_is_401_with_a_basic_challenge() {
    let app = spawn_app().await;

    let reply = app
        .post_form(&alice_form(), Auth::Basic(CLIENT_A, "wrong-secret"))
        .await;

    assert_invalid_client(&reply);
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(!challenge.to_ascii_lowercase().starts_with("bearer"));
}

#[tokio::test]
async fn secrets_that_almost_match_are_refused() {
    let app = spawn_app().await;
    let upper = SECRET_A.to_uppercase();
    let longer = format!("{SECRET_A}x");
    let trailing_space = format!("{SECRET_A} ");

    for secret in [
        &SECRET_A[..SECRET_A.len() - 1],
        longer.as_str(),
        upper.as_str(),
        trailing_space.as_str(),
        "",
        SECRET_B,
    ] {
        let reply = app
            .post_form(&alice_form(), Auth::Basic(CLIENT_A, secret))
            .await;
        assert_invalid_client(&reply);
    }
}

#[tokio::test]
async fn a_wrong_secret_in_the_body_is_401_too() {
    let app = spawn_app().await;
    let body = alice_form_with(&[("client_id", CLIENT_A), ("client_secret", "wrong")]);

    let reply = app.post_form(&body, Auth::None).await;

    assert_invalid_client(&reply);
}

#[tokio::test]
async fn an_unknown_client_is_401_over_basic_and_in_the_body() {
    let app = spawn_app().await;
    let body = alice_form_with(&[("client_id", "nobody"), ("client_secret", SECRET_A)]);

    let basic = app
        .post_form(&alice_form(), Auth::Basic("nobody", SECRET_A))
        .await;
    let in_body = app.post_form(&body, Auth::None).await;
    let id_case = app
        .post_form(&alice_form(), Auth::Basic("CLIENTA", SECRET_A))
        .await;

    assert_invalid_client(&basic);
    assert_invalid_client(&in_body);
    assert_invalid_client(&id_case);
}

#[tokio::test]
async fn no_client_credentials_at_all_is_401() {
    let app = spawn_app().await;

    let reply = app.post_form(&alice_form(), Auth::None).await;

    assert_invalid_client(&reply);
}

#[tokio::test]
async fn a_client_id_without_a_secret_or_a_secret_without_an_id_is_401() {
    let app = spawn_app().await;

    for extra in [
        vec![("client_id", CLIENT_A)],
        vec![("client_id", CLIENT_A), ("client_secret", "")],
        vec![("client_secret", SECRET_A)],
        vec![("client_id", ""), ("client_secret", SECRET_A)],
    ] {
        let reply = app.post_form(&alice_form_with(&extra), Auth::None).await;
        assert_invalid_client(&reply);
    }
}

#[tokio::test]
async fn basic_with_an_empty_secret_is_401_not_malformed() {
    let app = spawn_app().await;

    let reply = app
        .post_form(&alice_form(), Auth::Header(&basic(&format!("{CLIENT_A}:"))))
        .await;

    assert_invalid_client(&reply);
}

#[tokio::test]
async fn malformed_basic_headers_are_invalid_requests() {
    let app = spawn_app().await;
    let cases = [
        ("not base64", "Basic !!!not-base64!!!".to_owned()),
        ("no colon", basic("clientA")),
        ("empty after the scheme", "Basic".to_owned()),
        ("only the scheme and a space", "Basic ".to_owned()),
        ("non-UTF-8 once decoded", basic_bytes(b"client\xffA:\xfe")),
        ("empty client id", basic(&format!(":{SECRET_A}"))),
        ("empty id and secret", basic(":")),
        ("lower-case scheme, not base64", "basic %%%".to_owned()),
    ];

    for (case, header) in cases {
        let reply = app.post_form(&alice_form(), Auth::Header(&header)).await;
        assert_eq!(reply.status, 400, "{case}: {}", reply.text());
        assert_invalid_request(&reply, MALFORMED_BASIC);
    }
}

#[tokio::test]
async fn a_malformed_basic_header_is_refused_even_with_valid_body_credentials() {
    let app = spawn_app().await;
    let body = alice_form_with(&[("client_id", CLIENT_A), ("client_secret", SECRET_A)]);

    let reply = app.post_form(&body, Auth::Header("Basic !!!")).await;

    assert_invalid_request(&reply, MALFORMED_BASIC);
}

#[tokio::test]
async fn a_non_basic_scheme_is_ignored() {
    let app = spawn_app().await;
    let body_credentials = alice_form_with(&[("client_id", CLIENT_A), ("client_secret", SECRET_A)]);
    let a_valid_access_token = app.alice_tokens(None, ALL_SCOPES).await.access;
    let bearer = format!("Bearer {a_valid_access_token}");

    let alone = app.post_form(&alice_form(), Auth::Header(&bearer)).await;
    let with_body = app
        .post_form(&body_credentials, Auth::Header(&bearer))
        .await;
    let digest = app
        .post_form(&alice_form(), Auth::Header("Digest username=\"clientA\""))
        .await;

    assert_invalid_client(&alone);
    assert_tokens(&with_body, ALL_SCOPES);
    assert_invalid_client(&digest);
}

#[tokio::test]
async fn basic_and_body_naming_the_same_client_is_fine() {
    let app = spawn_app().await;

    for extra in [
        vec![("client_id", CLIENT_A), ("client_secret", SECRET_A)],
        vec![("client_id", CLIENT_A)],
    ] {
        let reply = app.post_form(&alice_form_with(&extra), A).await;
        assert_tokens(&reply, ALL_SCOPES);
    }
}

#[tokio::test]
async fn client_b_raw_over_basic_and_in_the_body_is_the_same_client() {
    let app = spawn_app().await;
    let body = alice_form_with(&[("client_id", CLIENT_B), ("client_secret", SECRET_B)]);

    let raw = app
        .post_form(&body, Auth::BasicRaw(CLIENT_B, SECRET_B))
        .await;
    let encoded = app.post_form(&body, B).await;

    assert_tokens(&raw, ALL_SCOPES);
    assert_tokens(&encoded, ALL_SCOPES);
}

#[tokio::test]
async fn basic_and_body_naming_different_clients_is_an_invalid_request() {
    let app = spawn_app().await;

    for extra in [
        vec![("client_id", CLIENT_B), ("client_secret", SECRET_B)],
        vec![("client_id", CLIENT_B)],
        vec![("client_id", "nobody"), ("client_secret", SECRET_A)],
    ] {
        let reply = app.post_form(&alice_form_with(&extra), A).await;
        assert_invalid_request(&reply, CREDENTIALS_DIFFER);
    }
}

#[tokio::test]
async fn basic_and_body_with_the_same_id_but_another_secret_is_an_invalid_request() {
    // DOT ignores the body once Basic succeeds; here two different secrets are a conflict.
    let app = spawn_app().await;

    for extra in [
        vec![("client_id", CLIENT_A), ("client_secret", "wrong")],
        vec![("client_secret", "wrong")],
    ] {
        let reply = app.post_form(&alice_form_with(&extra), A).await;
        assert_invalid_request(&reply, CREDENTIALS_DIFFER);
    }
}

#[tokio::test]
async fn a_conflict_is_reported_even_when_the_basic_secret_is_wrong() {
    let app = spawn_app().await;
    let body = alice_form_with(&[("client_id", CLIENT_B), ("client_secret", SECRET_B)]);

    let reply = app.post_form(&body, Auth::Basic(CLIENT_A, "wrong")).await;

    assert_invalid_request(&reply, CREDENTIALS_DIFFER);
}

#[tokio::test]
async fn the_same_wrong_secret_in_header_and_body_is_401() {
    let app = spawn_app().await;
    let body = alice_form_with(&[("client_id", CLIENT_A), ("client_secret", "wrong")]);

    let reply = app.post_form(&body, Auth::Basic(CLIENT_A, "wrong")).await;

    assert_invalid_client(&reply);
}

#[tokio::test]
async fn a_basic_header_that_is_not_visible_ascii_is_malformed() {
    let app = spawn_app().await;
    let request = Request::builder()
        .method(Method::POST)
        .uri(TOKEN_PATH)
        .header(header::CONTENT_TYPE, FORM)
        .header(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Basic Y2xpZW50QTp\xff").unwrap(),
        )
        .body(Body::from(alice_form()))
        .unwrap();

    let reply = app.send(request).await;

    assert_invalid_request(&reply, MALFORMED_BASIC);
}

#[tokio::test]
async fn a_401_carries_the_challenge_for_body_and_missing_credentials_too() {
    let app = spawn_app().await;
    let body = alice_form_with(&[("client_id", CLIENT_A), ("client_secret", "wrong")]);

    for reply in [
        app.post_form(&body, Auth::None).await,
        app.post_form(&alice_form(), Auth::None).await,
    ] {
        assert_invalid_client(&reply);
        let challenge = reply.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Basic realm="), "{challenge}");
    }
}

/// A non-Basic header is ignored even when it is not ASCII (`Bearer caf\xe9`): the body
/// credentials are used.
#[tokio::test]
async fn a_non_basic_header_with_a_non_ascii_byte_is_ignored_too() {
    let app = spawn_app().await;
    let body = alice_form_with(&[("client_id", CLIENT_A), ("client_secret", SECRET_A)]);
    let request = Request::builder()
        .method(Method::POST)
        .uri(TOKEN_PATH)
        .header(header::CONTENT_TYPE, FORM)
        .header(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer caf\xe9").unwrap(),
        )
        .body(Body::from(body))
        .unwrap();

    let reply = app.send(request).await;

    assert_tokens(&reply, ALL_SCOPES);
}
