//! JWT access tokens as AWS runs the functions: the release bootstrap under the Runtime
//! Interface Emulator, on tables, a KMS key and a signing key that only `oauth-admin` made
//! (moto serving DynamoDB and KMS). The token function unseals the signing key with KMS and
//! issues RFC 9068 tokens that `jsonwebtoken` verifies against the key set the same function
//! serves; the authorizer function lets them through, and refuses forged, expired,
//! foreign-issuer and revoked ones, each for its own reason (read from its log, since a forged
//! header breaks the signature too); introspection calls them all inactive.

use std::time::Duration;

use serde_json::{Value, json};
use support::events::{HOST, SHAPES, Shape, event, from_client, get_event, with_form_body};
use token_endpoint::startup::{DEMO_PASSWORD, DEMO_USERNAME};

use super::{Emulator, assert_no_store_json, json_of};
use crate::jwt::{
    ClientCredentials, create_jwt_client, provisioned_tables, unix_now, verify, with_bad_signature,
    with_claims, with_header,
};

/// The authorizer's answer to `shape`'s event carrying `Authorization: Bearer <token>` (a JWT
/// is longer than the events' placeholder); `Some(context)` if it allows the request.
fn decide(shape: Shape, authorizer: &Emulator, token: &str) -> Option<Value> {
    let event = shape.with_authorization(Some(&format!("Bearer {token}")));
    shape.decision(&authorizer.invoke_json(&event))
}

/// A password grant for the events' user (`events/token-password.json`) by `client`: the
/// token response.
fn password_grant(token_function: &Emulator, client: &ClientCredentials) -> Value {
    let grant = from_client(event("token-password.json"), &client.id, &client.secret);
    let (status, headers, body) = token_function.invoke(&grant);
    assert_eq!(status, 200, "{body}");
    assert_no_store_json(&headers);
    json_of(&body)
}

fn access_token(tokens: &Value) -> String {
    tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {tokens}"))
        .to_owned()
}

/// `events/<name>` sent by `client` with the form `body`.
fn form_event(name: &str, client: &ClientCredentials, body: &str) -> Value {
    with_form_body(from_client(event(name), &client.id, &client.secret), body)
}

/// Introspects `token` as `client`, through `events/introspect-token.json` or, with `stage`,
/// through the same API's stage `stage` (whose issuer is `https://{HOST}/{stage}`).
fn introspection(
    token_function: &Emulator,
    client: &ClientCredentials,
    token: &str,
    stage: Option<&str>,
) -> Value {
    let mut event = form_event("introspect-token.json", client, &format!("token={token}"));
    if let Some(stage) = stage {
        let path = format!("/{stage}/o/introspect/");
        event["rawPath"] = path.clone().into();
        event["requestContext"]["http"]["path"] = path.into();
        event["requestContext"]["stage"] = stage.into();
    }
    let (status, headers, body) = token_function.invoke(&event);
    assert_eq!(status, 200, "{body}");
    assert_no_store_json(&headers);
    json_of(&body)
}

/// Why the function refused each JWT it refused, in order: the `rejection` of its log lines
/// with `message`.
fn refusals(function: &Emulator, message: &str) -> Vec<String> {
    function
        .log()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == message)
        .map(|line| {
            line["fields"]["rejection"]
                .as_str()
                .unwrap_or("?")
                .to_owned()
        })
        .collect()
}

const SIGNATURE: &str = "the signature does not verify";
const WRONG_TYPE: &str = "not an access token (typ is not at+jwt)";
const UNKNOWN_KEY: &str = "signed by a key this server does not publish";
const WRONG_ISSUER: &str = "issued by another issuer";
const EXPIRED: &str = "expired";

#[test]
fn jwt_access_tokens_issued_checked_and_refused_through_the_emulator() {
    support::require!(Moto, Emulator, Bootstrap);
    let tables = provisioned_tables(DEMO_USERNAME, DEMO_PASSWORD);
    let client = create_jwt_client(&tables, &[]);
    let short_lived = create_jwt_client(&tables, &["--access-token-lifetime", "1"]);
    // Token events come to the API's $default stage: the issuer the function derives.
    let issuer = format!("https://{HOST}");
    let token_function = Emulator::start(&tables);
    let authorizer = |issuer: Option<&str>| {
        let mut env = vec![("FUNCTION_KIND", "authorizer")];
        env.extend(issuer.map(|issuer| ("ISSUER", issuer)));
        Emulator::start_with(&tables, &env)
    };
    // The issuer from each event's API and stage; the token's own; another.
    let (derived, configured, elsewhere) = (
        authorizer(None),
        authorizer(Some(&issuer)),
        authorizer(Some("https://auth.example.com")),
    );

    // First the token that lives 1 s, so it expires while the rest runs.
    let tokens = password_grant(&token_function, &short_lived);
    assert_eq!(tokens["expires_in"], 1, "{tokens}");
    let expired = access_token(&tokens);

    let (status, headers, jwks) = token_function.invoke(&get_event("/.well-known/jwks.json"));
    assert_eq!(status, 200, "{jwks}");
    assert_eq!(
        headers.get("content-type").map(String::as_str),
        Some("application/json"),
        "{headers:?}"
    );
    let tokens = password_grant(&token_function, &client);
    let access = access_token(&tokens);
    assert_eq!(
        (
            &tokens["token_type"],
            &tokens["expires_in"],
            &tokens["scope"]
        ),
        (&json!("Bearer"), &json!(3600), &json!("read write")),
        "{tokens}"
    );
    // The refresh token stays opaque.
    assert!(
        tokens["refresh_token"]
            .as_str()
            .is_some_and(|refresh| refresh.len() == 22 + 1 + 30),
        "{tokens}"
    );
    let verified = verify(&access, &jwks, &issuer, false);
    let claims = &verified.claims;
    assert_eq!(
        (&claims["sub"], &claims["client_id"], &claims["scope"]),
        (
            &json!(DEMO_USERNAME),
            &json!(client.id),
            &json!("read write")
        ),
        "{claims}"
    );
    let exp = claims["exp"].as_u64().unwrap_or_default();
    assert_eq!(claims["iat"].as_u64().map(|iat| exp - iat), Some(3600));
    // The only key, made by `oauth-admin create-tables`, unsealed by the function with KMS.
    let published: Value = json_of(&jwks);
    assert_eq!(
        published["keys"].as_array().map(Vec::len),
        Some(1),
        "{jwks}"
    );
    let log = token_function.log();
    assert!(
        log.lines()
            .any(|line| line.contains("signing key unsealed") && line.contains(&verified.kid)),
        "{log}"
    );
    // The short-lived token is genuine: only its lifetime will fail it.
    let short = verify(&expired, &jwks, &issuer, true).claims;
    assert_eq!(
        short["exp"]
            .as_u64()
            .zip(short["iat"].as_u64())
            .map(|(exp, iat)| exp - iat),
        Some(1),
        "{short}"
    );

    // Allowed, with the caller in the context; behind another API (the REST event's own
    // domain) only where the issuer is configured.
    let context = json!({
        "client_id": client.id, "username": DEMO_USERNAME, "scope": "read write",
        "expires_at": exp,
    });
    assert_eq!(
        decide(Shape::HttpApi, &derived, &access),
        Some(context.clone())
    );
    assert_eq!(decide(Shape::RestToken, &derived, &access), None);
    for shape in SHAPES {
        assert_eq!(
            decide(shape, &configured, &access),
            Some(context.clone()),
            "{shape:?}"
        );
        assert_eq!(decide(shape, &elsewhere, &access), None, "{shape:?}");
    }
    let active = introspection(&token_function, &client, &access, None);
    assert_eq!(
        (&active["active"], &active["client_id"], &active["username"]),
        (&json!(true), &json!(client.id), &json!(DEMO_USERNAME)),
        "{active}"
    );
    // Through another stage the issuer is another: the same token is not its.
    assert_eq!(
        introspection(&token_function, &client, &access, Some("prod")),
        json!({"active": false})
    );

    // Forged from the genuine token, refused by an authorizer that would let it through.
    let forged = [
        (with_bad_signature(&access), SIGNATURE),
        (
            with_claims(&access, |claims| claims["scope"] = "admin".into()),
            SIGNATURE,
        ),
        (
            with_header(&access, |header| header["typ"] = "JWT".into()),
            WRONG_TYPE,
        ),
        (
            with_header(&access, |header| {
                header["kid"] = "not-a-published-key".into()
            }),
            UNKNOWN_KEY,
        ),
    ];
    for (token, reason) in &forged {
        for shape in SHAPES {
            assert_eq!(
                decide(shape, &configured, token),
                None,
                "{reason}, {shape:?}"
            );
        }
        assert_eq!(
            introspection(&token_function, &client, token, None),
            json!({"active": false}),
            "{reason}"
        );
    }

    // Expired: its exp has passed (its record too: DynamoDB's TTL would delete it late).
    let wait = short["exp"]
        .as_u64()
        .unwrap_or_default()
        .saturating_sub(unix_now());
    std::thread::sleep(Duration::from_secs(wait) + Duration::from_millis(50));
    assert_eq!(decide(Shape::HttpApi, &derived, &expired), None);
    assert_eq!(
        introspection(&token_function, &short_lived, &expired, None),
        json!({"active": false})
    );

    // Revoked by its client: refused at once, though its signature, issuer and exp are fine.
    let revocation = format!("token={access}&token_type_hint=access_token");
    let (status, _, body) =
        token_function.invoke(&form_event("revoke-token.json", &client, &revocation));
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(decide(Shape::HttpApi, &derived, &access), None);
    for shape in SHAPES {
        assert_eq!(decide(shape, &configured, &access), None, "{shape:?}");
    }
    assert_eq!(
        introspection(&token_function, &client, &access, None),
        json!({"active": false})
    );

    // Each refusal for its reason, the revoked token's by the lookup after the checks passed.
    let refused = "bearer JWT refused";
    assert_eq!(refusals(&derived, refused), [WRONG_ISSUER, EXPIRED]);
    let reasons: Vec<&str> = forged
        .iter()
        .flat_map(|(_, reason)| [*reason; SHAPES.len()])
        .collect();
    assert_eq!(refusals(&configured, refused), reasons);
    assert_eq!(refusals(&elsewhere, refused), [WRONG_ISSUER; SHAPES.len()]);
    // Introspection of a forged token finds no record (its hash is no token's); the other
    // stage's was refused as the wrong issuer's.
    assert_eq!(
        refusals(&token_function, "introspected JWT refused"),
        [WRONG_ISSUER]
    );
    for function in [&token_function, &derived, &configured, &elsewhere] {
        let log = function.log();
        assert_eq!(log.matches("INIT START").count(), 1, "{log}");
    }
}
