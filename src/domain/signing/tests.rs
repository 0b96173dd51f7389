use super::*;
use crate::domain::clock::UnixSeconds;

fn record(kid: &str, signs_from: UnixSeconds) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.into(),
        public: PublicJwk {
            n: "n".into(),
            e: "AQAB".into(),
        },
        sealed_private: SealedPrivateKey(vec![1, 2, 3]),
        created_at: signs_from.saturating_sub(3600),
        signs_from,
    }
}

fn kids<'a>(keys: impl IntoIterator<Item = &'a SigningKeyRecord>) -> Vec<&'a str> {
    keys.into_iter().map(|key| key.kid.as_str()).collect()
}

#[test]
fn the_latest_key_whose_time_has_come_signs() {
    let set = KeySet::default()
        .with_key(record("a", 100), 100)
        .with_key(record("b", 1000), 100);
    assert_eq!(set.version, 2);
    assert_eq!(set.signing_key_at(99), None);
    assert_eq!(
        set.signing_key_at(999).map(|key| key.kid.as_str()),
        Some("a")
    );
    assert_eq!(
        set.signing_key_at(1000).map(|key| key.kid.as_str()),
        Some("b")
    );
}

#[test]
fn a_retired_key_is_published_until_its_last_token_expired() {
    let lifetime = 3600;
    let set = KeySet::default()
        .with_key(record("a", 0), 0)
        .with_key(record("b", 1000), 10);
    // Before b signs, both are published: verifiers learn b first.
    assert_eq!(kids(set.published_at(500, lifetime)), ["a", "b"]);
    let last_token_of_a_expires = 1000 + lifetime;
    assert_eq!(
        kids(set.published_at(last_token_of_a_expires + PUBLICATION_MARGIN - 1, lifetime)),
        ["a", "b"]
    );
    assert_eq!(
        kids(set.published_at(last_token_of_a_expires + PUBLICATION_MARGIN, lifetime)),
        ["b"]
    );
}

#[test]
fn rotation_drops_keys_retired_long_ago_and_keys_that_would_never_sign() {
    let set = KeySet::default()
        .with_key(record("a", 0), 0)
        .with_key(record("b", 1000), 10)
        .with_key(record("c", 2000), 20);
    // A rotation that starts signing no later than a pending key replaces it.
    let replaced = set.with_key(record("d", 1500), 30);
    assert_eq!(kids(&replaced.keys), ["a", "b", "d"]);
    let later = 1000 + RETIRED_KEY_RETENTION;
    let pruned = set.with_key(record("e", later + 10), later);
    assert_eq!(kids(&pruned.keys), ["b", "c", "e"]);
}

#[test]
fn a_rotation_never_drops_a_key_that_has_signed() {
    let set = KeySet::default().with_key(record("a", 100), 100);
    // Without delay, in the second the current key started: the new one starts a second later.
    let rotated = set.with_key(record("b", 100), 100);
    assert_eq!(kids(&rotated.keys), ["a", "b"]);
    assert_eq!(rotated.keys.last().map(|key| key.signs_from), Some(101));
    assert_eq!(rotated.retired_at(0), Some(101));
}

#[test]
fn signed_tokens_verify_only_with_their_key_and_issuer() {
    let key = SigningKey::generate().unwrap_or_else(|error| panic!("{error}"));
    let other = SigningKey::generate().unwrap_or_else(|error| panic!("{error}"));
    let claims = AccessTokenClaims {
        cnf: None,
        iss: "https://issuer.example".into(),
        sub: "alice".into(),
        aud: "https://api.example".into(),
        exp: 2000,
        iat: 1000,
        jti: "jti".into(),
        client_id: "client".into(),
        scope: "read".into(),
    };
    let token = encode_access_token(&key, &claims).unwrap_or_else(|error| panic!("{error}"));
    let token = token.expose();
    assert!(looks_like_jwt(token));
    // Deterministic: a retried refresh gets the identical token.
    assert_eq!(
        encode_access_token(&key, &claims)
            .map(|again| again.expose() == token)
            .ok(),
        Some(true)
    );
    let verifying = VerifyingKey::from_jwk(&key.public_jwk());
    let verifying = verifying.unwrap_or_else(|| panic!("the public key is base64url"));
    let parsed = || UnverifiedJwt::parse(token).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(parsed().kid(), key.kid());
    assert_eq!(
        parsed().verify(&verifying, "https://issuer.example", 1999),
        Ok(claims.clone())
    );
    assert_eq!(
        parsed().verify(&verifying, "https://issuer.example", 2000),
        Err(JwtRejection::Expired)
    );
    assert_eq!(
        parsed().verify(&verifying, "https://other.example", 1999),
        Err(JwtRejection::WrongIssuer)
    );
    let other_key = VerifyingKey::from_jwk(&other.public_jwk());
    let other_key = other_key.unwrap_or_else(|| panic!("the public key is base64url"));
    assert_eq!(
        parsed().verify(&other_key, "https://issuer.example", 1999),
        Err(JwtRejection::BadSignature)
    );
    // The private key survives the round trip a vault puts it through, under its own kid.
    let der = key.private_der().unwrap_or_else(|error| panic!("{error}"));
    assert!(SigningKey::from_private_der(key.kid(), &der).is_ok());
    assert!(SigningKey::from_private_der(other.kid(), &der).is_err());
}

#[test]
fn headers_other_than_rs256_at_jwt_are_refused_before_any_key_is_tried() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let with_header =
        |header: &str| format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header.as_bytes()));
    let cases = [
        (
            r#"{"alg":"none","typ":"at+jwt","kid":"k"}"#,
            JwtRejection::UnsupportedAlgorithm,
        ),
        (
            r#"{"alg":"HS256","typ":"at+jwt","kid":"k"}"#,
            JwtRejection::UnsupportedAlgorithm,
        ),
        (
            r#"{"alg":"RS256","typ":"JWT","kid":"k"}"#,
            JwtRejection::WrongType,
        ),
        (r#"{"alg":"RS256","kid":"k"}"#, JwtRejection::WrongType),
        (
            r#"{"alg":"RS256","typ":"at+jwt"}"#,
            JwtRejection::UnknownKey,
        ),
        ("not json", JwtRejection::Malformed),
    ];
    for (header, rejection) in cases {
        assert_eq!(
            UnverifiedJwt::parse(&with_header(header)).map(|jwt| jwt.kid().to_owned()),
            Err(rejection),
            "{header}"
        );
    }
    let accepted = with_header(r#"{"alg":"RS256","typ":"application/at+jwt","kid":"k"}"#);
    assert!(UnverifiedJwt::parse(&accepted).is_ok());
    assert_eq!(
        UnverifiedJwt::parse("a.b").map(|_| ()),
        Err(JwtRejection::Malformed)
    );
}
