//! DPoP proofs (RFC 9449) and private_key_jwt client assertions (RFC 7523) made by an
//! independent library, `jsonwebtoken`, with keys aws-lc-rs generates: what a client would
//! send, so the server's checks are tested against code that is not its own.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

/// A client's ES256 key pair.
pub struct ClientKey {
    encoding: EncodingKey,
    jwk: Jwk,
}

impl ClientKey {
    /// A new random P-256 key.
    pub fn es256() -> Self {
        let pkcs8 = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|pair| pair.to_pkcs8v1())
            .unwrap_or_else(|e| panic!("P-256 key: {e}"));
        let encoding = EncodingKey::from_ec_der(pkcs8.as_ref());
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256)
            .unwrap_or_else(|e| panic!("public JWK: {e}"));
        Self { encoding, jwk }
    }

    /// The public key as a JWK, as `jsonwebtoken` writes it.
    pub fn public_jwk(&self) -> Value {
        serde_json::to_value(&self.jwk).unwrap_or_else(|e| panic!("{e}"))
    }

    /// RFC 7638 thumbprint, as `jsonwebtoken` computes it.
    pub fn thumbprint(&self) -> String {
        self.jwk.thumbprint(ThumbprintHash::SHA256)
    }

    /// A DPoP proof for `method` and `url` issued at `iat`, for `access_token` if given.
    pub fn proof(&self, method: &str, url: &str, iat: u64, access_token: Option<&str>) -> String {
        let mut claims = json!({"jti": random_id(), "htm": method, "htu": url, "iat": iat});
        if let Some(token) = access_token {
            claims["ath"] = json!(ath(token));
        }
        self.proof_with(&claims)
    }

    /// A DPoP proof with exactly `claims`.
    pub fn proof_with(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.jwk.clone());
        self.sign(&header, claims)
    }

    /// A JWS of `claims` under `header`.
    pub fn sign(&self, header: &Header, claims: &Value) -> String {
        encode(header, claims, &self.encoding).unwrap_or_else(|e| panic!("signing: {e}"))
    }

    /// A private_key_jwt assertion of `client_id` for `audience`, expiring at `exp`, with
    /// `jti`, naming this key as `kid`.
    pub fn assertion(&self, client_id: &str, audience: &str, exp: u64, jti: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.thumbprint());
        let claims =
            json!({"iss": client_id, "sub": client_id, "aud": audience, "exp": exp, "jti": jti});
        self.sign(&header, &claims)
    }

    /// A JWK Set of this key, its `kid` its thumbprint, as a client registers it.
    pub fn jwks(&self) -> String {
        let mut jwk = self.public_jwk();
        jwk["kid"] = json!(self.thumbprint());
        json!({"keys": [jwk]}).to_string()
    }
}

/// `ath`: the base64url SHA-256 of an access token (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, access_token.as_bytes()))
}

/// A random `jti`.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .unwrap_or_else(|e| panic!("{e}"));
    URL_SAFE_NO_PAD.encode(bytes)
}
