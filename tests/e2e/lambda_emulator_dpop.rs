//! DPoP (RFC 9449) through the Runtime Interface Emulator: a login with a proof gets tokens
//! bound to the proof's key, and the authorizer function allows the bound access token only
//! under the `DPoP` scheme with a fresh proof of that key for the API request, once.
//! Proofs are made by `jsonwebtoken` (`support::dpop`), as a client would make them.

use serde_json::{Value, json};
use support::dpop::ClientKey;
use support::events::{HOST, event};

use crate::jwt::unix_now;
use crate::lambda_emulator::{Emulator, introspection, json_of, refresh_event, seeded_tables};

fn with_proof(mut event: Value, proof: &str) -> Value {
    event["headers"]["dpop"] = json!(proof);
    event
}

/// The authorizer's answer to the fixture's `GET /example/whoami` with `authorization` and,
/// if given, a `DPoP` header.
fn allowed(authorizer: &Emulator, authorization: &str, proof: Option<&str>) -> bool {
    let mut request = event("authorizer-http-api.json");
    request["headers"]["authorization"] = json!(authorization);
    if let Some(proof) = proof {
        request = with_proof(request, proof);
    }
    authorizer.invoke_json(&request)["isAuthorized"] == json!(true)
}

#[test]
fn a_dpop_bound_login_through_the_emulator() {
    support::require!(Moto, Emulator, Bootstrap);
    let tables = seeded_tables();
    let token_function = Emulator::start(&tables);
    let authorizer = Emulator::start_with(&tables, &[("FUNCTION_KIND", "authorizer")]);
    let (key, other) = (ClientKey::es256(), ClientKey::es256());
    let token_url = format!("https://{HOST}/o/token/");
    let api_url = format!("https://{HOST}/example/whoami");

    let login = with_proof(
        event("token-password.json"),
        &key.proof("POST", &token_url, unix_now(), None),
    );
    let (status, _, body) = token_function.invoke(&login);
    assert_eq!(status, 200, "{body}");
    let tokens = json_of(&body);
    assert_eq!(tokens["token_type"], "DPoP", "{tokens}");
    let text = |name: &str| tokens[name].as_str().unwrap_or_default().to_owned();
    let (access, refresh) = (text("access_token"), text("refresh_token"));
    assert_eq!(
        introspection(&token_function, &access)["cnf"],
        json!({"jkt": key.thumbprint()})
    );

    let dpop = format!("DPoP {access}");
    let proof = key.proof("GET", &api_url, unix_now(), Some(&access));
    assert!(allowed(&authorizer, &dpop, Some(&proof)));
    assert!(
        !allowed(&authorizer, &dpop, Some(&proof)),
        "a replayed proof"
    );
    assert!(!allowed(&authorizer, &dpop, None), "no proof");
    let fresh = key.proof("GET", &api_url, unix_now(), Some(&access));
    assert!(
        !allowed(&authorizer, &format!("Bearer {access}"), Some(&fresh)),
        "a bound token presented as Bearer"
    );
    let another_key = other.proof("GET", &api_url, unix_now(), Some(&access));
    assert!(
        !allowed(&authorizer, &dpop, Some(&another_key)),
        "another key"
    );
    let for_the_token_endpoint = key.proof("POST", &token_url, unix_now(), Some(&access));
    assert!(
        !allowed(&authorizer, &dpop, Some(&for_the_token_endpoint)),
        "a proof for another request"
    );

    // A confidential client's refresh token is bound to the client's authentication, not to
    // the key (RFC 9449 §5; `--dpop required` binds it too): a refresh with a new key's proof
    // gets an access token bound to the new key.
    let (status, _, body) = token_function.invoke(&with_proof(
        refresh_event(&refresh),
        &other.proof("POST", &token_url, unix_now(), None),
    ));
    assert_eq!(status, 200, "{body}");
    let refreshed = json_of(&body);
    assert_eq!(refreshed["token_type"], "DPoP", "{refreshed}");
    let access = refreshed["access_token"].as_str().unwrap_or_default();
    assert_eq!(
        introspection(&token_function, access)["cnf"],
        json!({"jkt": other.thumbprint()})
    );
    let proof = other.proof("GET", &api_url, unix_now(), Some(access));
    assert!(allowed(
        &authorizer,
        &format!("DPoP {access}"),
        Some(&proof)
    ));
}
