//! Scope on the password grant (RFC 6749 §3.3): what is granted and echoed, and what is refused.

use crate::helpers::*;

#[tokio::test]
async fn no_scope_means_all_of_the_clients_scopes_in_registration_order() {
    let app = spawn_app().await;

    let reply = app.password_grant(A, ALICE, ALICE_PASSWORD, None).await;

    assert_tokens(&reply, "read write payouts");
}

#[tokio::test]
async fn an_empty_scope_counts_as_omitted() {
    // DOT answers invalid_scope; RFC 6749 §3.1 says an empty parameter is omitted.
    let app = spawn_app().await;

    for body in [
        "grant_type=password&username=alice&password=alice-Pa55word&scope=",
        "grant_type=password&username=alice&password=alice-Pa55word&scope",
        "grant_type=password&username=alice&password=alice-Pa55word&scope=+",
    ] {
        let reply = app.post_form(body, A).await;
        assert_tokens(&reply, ALL_SCOPES);
    }
}

#[tokio::test]
async fn granted_scopes_are_echoed_in_the_requested_order_without_repeats() {
    let app = spawn_app().await;
    let cases = [
        ("read", "read"),
        ("payouts", "payouts"),
        ("write read", "write read"),
        ("payouts write read", "payouts write read"),
        ("read write payouts", "read write payouts"),
        ("read read", "read"),
        ("write read write", "write read"),
        ("read  write", "read write"),
        ("read write ", "read write"),
        ("  payouts", "payouts"),
    ];

    for (requested, granted) in cases {
        let reply = app
            .password_grant(A, ALICE, ALICE_PASSWORD, Some(requested))
            .await;
        assert_tokens(&reply, granted);
    }
}

#[tokio::test]
async fn a_plus_in_the_form_separates_scopes() {
    let app = spawn_app().await;

    let reply = app
        .post_form(
            "grant_type=password&username=alice&password=alice-Pa55word&scope=write+read",
            A,
        )
        .await;

    assert_tokens(&reply, "write read");
}

#[tokio::test]
async fn unknown_wider_wrong_case_or_malformed_scopes_are_invalid_scope() {
    let app = spawn_app().await;

    for requested in [
        "read write payouts admin",
        "admin",
        "READ",
        "Read write",
        "read,write",
        "read;write",
        "read\twrite",
        "read\"",
        "réad",
    ] {
        let reply = app
            .password_grant(A, ALICE, ALICE_PASSWORD, Some(requested))
            .await;
        assert_eq!(reply.status, 400, "{requested:?}: {}", reply.text());
        assert_bare_error(&reply, "invalid_scope");
        assert_eq!(reply.text(), r#"{"error": "invalid_scope"}"#);
    }
}

#[tokio::test]
async fn scope_is_checked_after_client_and_user() {
    let app = spawn_app().await;

    let wrong_password = app.password_grant(A, ALICE, "nope", Some("admin")).await;
    let wrong_secret = app
        .password_grant(
            Auth::Basic(CLIENT_A, "nope"),
            ALICE,
            ALICE_PASSWORD,
            Some("admin"),
        )
        .await;
    let all_right = app
        .password_grant(A, ALICE, ALICE_PASSWORD, Some("admin"))
        .await;

    assert_credentials_error(&wrong_password);
    assert_invalid_client(&wrong_secret);
    assert_bare_error(&all_right, "invalid_scope");
}

#[tokio::test]
async fn scope_in_a_json_body_works_like_the_form() {
    let app = spawn_app().await;
    let request = |scope: serde_json::Value| {
        serde_json::json!({
            "grant_type": "password",
            "username": ALICE,
            "password": ALICE_PASSWORD,
            "scope": scope,
        })
    };

    let narrowed = app.post_json(&request("write read".into()), A).await;
    let null = app.post_json(&request(serde_json::Value::Null), A).await;
    let empty = app.post_json(&request("".into()), A).await;
    let wider = app.post_json(&request("read admin".into()), A).await;

    assert_tokens(&narrowed, "write read");
    assert_tokens(&null, ALL_SCOPES);
    assert_tokens(&empty, ALL_SCOPES);
    assert_bare_error(&wider, "invalid_scope");
}
