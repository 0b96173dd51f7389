//! What the JWT tests share: the check of an issued access token by a library independent of
//! this crate (`jsonwebtoken`) against the key set the server publishes, the forged variants of
//! a genuine token, and `oauth-admin` provisioning a DynamoDB (moto) account for JWT clients as
//! an operator would (`create-tables`, which also makes the KMS key and a first signing key,
//! then `create-client --token-format jwt` and `create-user`).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use token_endpoint::store::dynamodb::TableNames;

/// An access token checked by `jsonwebtoken`: its key id and its claims.
pub struct Verified {
    pub kid: String,
    pub claims: Value,
}

/// Checks `token` as an API would with `jsonwebtoken`: an RFC 9068 header (`typ` `at+jwt`,
/// RS256, a `kid` that `jwks` publishes), the signature under that key, `iss` and `aud`
/// (`issuer`: no audience is configured), `exp` unless `expired_is_fine`, and every claim of
/// RFC 9068 §2.2 present.
pub fn verify(token: &str, jwks: &str, issuer: &str, expired_is_fine: bool) -> Verified {
    let jwks: JwkSet =
        serde_json::from_str(jwks).unwrap_or_else(|e| panic!("not a JWK Set ({e}): {jwks}"));
    let header = decode_header(token).unwrap_or_else(|e| panic!("no JWT header ({e}): {token}"));
    assert_eq!(header.typ.as_deref(), Some("at+jwt"), "{header:?}");
    assert_eq!(header.alg, Algorithm::RS256, "{header:?}");
    let kid = header.kid.unwrap_or_else(|| panic!("no kid: {token}"));
    let jwk = jwks
        .find(&kid)
        .unwrap_or_else(|| panic!("{kid} is not in the published key set"));
    let key = DecodingKey::from_jwk(jwk).unwrap_or_else(|e| panic!("{kid}: {e}"));
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_exp = !expired_is_fine;
    validation.leeway = 0;
    let claims = decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("the token does not verify: {e}"))
        .claims;
    for claim in ["iat", "jti", "client_id", "scope"] {
        assert!(claims.get(claim).is_some(), "no {claim}: {claims}");
    }
    Verified { kid, claims }
}

/// `token` with its header's JSON changed by `change` and encoded again, payload and signature
/// kept: a header no key signed.
pub fn with_header(token: &str, change: impl FnOnce(&mut Value)) -> String {
    with_part(token, 0, change)
}

/// `token` with its claims changed by `change` and encoded again, header and signature kept.
pub fn with_claims(token: &str, change: impl FnOnce(&mut Value)) -> String {
    with_part(token, 1, change)
}

fn with_part(token: &str, index: usize, change: impl FnOnce(&mut Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    assert_eq!(parts.len(), 3, "not a JWT: {token}");
    let json = URL_SAFE_NO_PAD
        .decode(&parts[index])
        .unwrap_or_else(|e| panic!("part {index} is not base64url ({e}): {token}"));
    let mut value: Value = serde_json::from_slice(&json)
        .unwrap_or_else(|e| panic!("part {index} is not JSON ({e}): {token}"));
    change(&mut value);
    parts[index] = URL_SAFE_NO_PAD.encode(value.to_string());
    parts.join(".")
}

/// `token` with the first character of its signature changed (each of its bits is signature,
/// so the signature still decodes, and only its check can refuse it).
pub fn with_bad_signature(token: &str) -> String {
    let start = token
        .rfind('.')
        .unwrap_or_else(|| panic!("not a JWT: {token}"))
        + 1;
    let replacement = if token[start..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    format!("{}{replacement}{}", &token[..start], &token[start + 1..])
}

/// Now, in Unix seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// Runs `oauth-admin` with `args` (and `stdin`) against `tables` and the KMS in moto, as the
/// admin tests run it; returns its JSON output, asserting it succeeded.
pub fn oauth_admin(tables: &TableNames, args: &[&str], stdin: Option<&str>) -> Value {
    crate::admin::admin(tables, args, stdin).json()
}

/// A client's generated id and secret.
pub struct ClientCredentials {
    pub id: String,
    pub secret: String,
}

/// Fresh tables with nothing but what `oauth-admin create-tables` makes (the KMS key, if
/// absent, and a first signing key) and the user `username`.
pub fn provisioned_tables(username: &str, password: &str) -> TableNames {
    let tables = support::unique_tables();
    oauth_admin(&tables, &["create-tables"], None);
    oauth_admin(
        &tables,
        &["create-user", "--username", username, "--password-stdin"],
        Some(&format!("{password}\n")),
    );
    tables
}

/// `oauth-admin create-client --token-format jwt` for the password and refresh grants, with
/// `extra` arguments (`--access-token-lifetime`); its generated id and secret.
pub fn create_jwt_client(tables: &TableNames, extra: &[&str]) -> ClientCredentials {
    let mut args = vec![
        "create-client",
        "--name",
        "JWT app",
        "--scope",
        "read write",
        "--grant-types",
        "password,refresh_token",
        "--token-format",
        "jwt",
    ];
    args.extend_from_slice(extra);
    let created = oauth_admin(tables, &args, None);
    let text = |field: &str| {
        created[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field}: {created}"))
            .to_owned()
    };
    ClientCredentials {
        id: text("client_id"),
        secret: text("client_secret"),
    }
}
