//! Request parameters: read from a POST's body, form-encoded or JSON, never from its URL.

use std::fmt;
use std::sync::LazyLock;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Uri, header};
use percent_encoding::percent_decode;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::error::OAuthError;
use crate::domain::grants::{GRANT_PARAMETERS, GrantParameters};

/// The parameters the endpoints read beside the grants' own: the grant type and the client's
/// credentials, then revocation's and introspection's, then a client assertion (RFC 7523).
const ENDPOINT_PARAMETERS: ([&str; 3], [&str; 4]) = (
    ["grant_type", "client_id", "client_secret"],
    [
        "token",
        "token_type_hint",
        "client_assertion_type",
        "client_assertion",
    ],
);

/// Every parameter the endpoints read, the grants' as each grant declares them. Each may appear
/// at most once (RFC 6749 §3.2); others are ignored, as §3.2 requires of unrecognised
/// parameters. In this order duplicates are reported.
pub static KNOWN: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let (leading, trailing) = ENDPOINT_PARAMETERS;
    let grants = GRANT_PARAMETERS
        .iter()
        .flat_map(|parameters| parameters.iter());
    let mut known: Vec<&'static str> = Vec::new();
    for &name in leading.iter().chain(grants).chain(trailing.iter()) {
        if !known.contains(&name) {
            known.push(name);
        }
    }
    known
});

/// No parameter of a token request comes near this; DynamoDB keys stop at 2 KiB.
pub const MAX_VALUE_BYTES: usize = 4096;

/// Token requests are a few hundred bytes; anything near this is not one.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The decoded parameters of a request, in order.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// The value of `name`. An empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    /// Every non-empty value of `name`, for the parameters that may repeat.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    /// Reads the parameters of a POST to an OAuth endpoint. Parameters in the query string are
    /// refused before the body is read: credentials in a URL end up in access logs, and the
    /// documented endpoint refuses them too.
    pub async fn read(uri: &Uri, headers: &HeaderMap, body: Body) -> Result<Self, OAuthError> {
        if uri.query().is_some_and(|query| !query.is_empty()) {
            return Err(OAuthError::invalid_request(
                "URL query parameters are not allowed",
            ));
        }
        let body = read_body(body).await?;
        Self::from_body(headers, &body)
    }

    /// Form bodies (what the documentation's samples send) and JSON bodies (what its table
    /// says) carry the same fields. A body without a Content-Type is read as a form.
    pub fn from_body(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let media_type = headers
            .get(header::CONTENT_TYPE)
            .map(|value| {
                // A header that is not visible ASCII names no media type we know.
                let value = value.to_str().unwrap_or("unreadable/unreadable");
                let essence = value.split(';').next().unwrap_or_default();
                essence.trim().to_ascii_lowercase()
            })
            .unwrap_or_default();
        match media_type.as_str() {
            "" | "application/x-www-form-urlencoded" => Self::from_form(body),
            "application/json" => Self::from_json(body),
            json if json.starts_with("application/") && json.ends_with("+json") => {
                Self::from_json(body)
            }
            _ => Err(OAuthError::invalid_request(
                "Unsupported Content-Type: send application/x-www-form-urlencoded or application/json.",
            )),
        }
    }

    /// Refuses repeated or over-long known parameters.
    fn validated(self) -> Result<Self, OAuthError> {
        for &name in KNOWN.iter() {
            let mut values = self.0.iter().filter(|(key, _)| key == name);
            if let Some((_, value)) = values.next() {
                if values.next().is_some() {
                    return Err(OAuthError::invalid_request(format!(
                        "Duplicate {name} parameter."
                    )));
                }
                // A token of any length is only looked up (and not found): introspection
                // answers every unknown token inactive (RFC 7662 §2.2), however long.
                if value.len() > MAX_VALUE_BYTES && name != "token" {
                    return Err(OAuthError::invalid_request(format!(
                        "The {name} parameter is too long."
                    )));
                }
            }
        }
        Ok(self)
    }

    /// Parses `application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte, and a `%`
    /// not followed by two hex digits stays as it is. The decoded bytes must be UTF-8.
    pub fn from_form(body: &[u8]) -> Result<Self, OAuthError> {
        let mut fields = Vec::new();
        for pair in body
            .split(|&byte| byte == b'&')
            .filter(|pair| !pair.is_empty())
        {
            let (name, value) = match pair.iter().position(|&byte| byte == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            fields.push((form_decode(name)?, form_decode(value)?));
        }
        Self(fields).validated()
    }

    /// Parses a JSON object whose values are strings (or null, meaning absent).
    pub fn from_json(body: &[u8]) -> Result<Self, OAuthError> {
        let object: JsonObject = serde_json::from_slice(body).map_err(|error| {
            if error.is_data() {
                OAuthError::invalid_request("The JSON body must be an object.")
            } else {
                OAuthError::invalid_request("The request body is not valid JSON.")
            }
        })?;
        let mut fields = Vec::with_capacity(object.0.len());
        for (name, value) in object.0 {
            match value {
                Value::String(text) => fields.push((name, text)),
                Value::Null => {}
                _ if KNOWN.contains(&name.as_str()) => {
                    return Err(OAuthError::invalid_request(format!(
                        "The {name} parameter must be a string."
                    )));
                }
                _ => {}
            }
        }
        Self(fields).validated()
    }
}

impl GrantParameters for Params {
    fn get(&self, name: &str) -> Option<&str> {
        Params::get(self, name)
    }
}

/// The body, up to [`MAX_BODY_BYTES`].
async fn read_body(body: Body) -> Result<Bytes, OAuthError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|error| {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_large {
                OAuthError::payload_too_large(format!(
                    "The request body exceeds {MAX_BODY_BYTES} bytes."
                ))
            } else {
                OAuthError::invalid_request("The request body could not be read.")
            }
        })
}

/// Decodes one form-encoded name or value. Error descriptions never echo the input, which may
/// be a password.
pub fn form_decode(encoded: &[u8]) -> Result<String, OAuthError> {
    let not_utf8 = || OAuthError::invalid_request("The request body is not valid UTF-8.");
    // Grant types, tokens and most names carry nothing to decode: one copy, no rewriting.
    if !encoded.iter().any(|&byte| byte == b'+' || byte == b'%') {
        return std::str::from_utf8(encoded)
            .map(str::to_owned)
            .map_err(|_| not_utf8());
    }
    let spaced: Vec<u8> = encoded
        .iter()
        .map(|&byte| if byte == b'+' { b' ' } else { byte })
        .collect();
    percent_decode(&spaced)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| not_utf8())
}

/// A JSON object's members in order, duplicates kept, so they can be refused like repeated
/// form parameters instead of silently keeping the last.
struct JsonObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = JsonObject;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonObject, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Value>()? {
                    members.push(member);
                }
                Ok(JsonObject(members))
            }
        }

        deserializer
            .deserialize_map(ObjectVisitor)
            .map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Result<Params, OAuthError> {
        Params::from_form(body.as_bytes())
    }

    #[test]
    fn known_parameters_are_the_endpoints_and_every_grants() {
        let expected = [
            "grant_type",
            "client_id",
            "client_secret",
            "username",
            "password",
            "scope",
            "refresh_token",
            "token",
            "token_type_hint",
            "client_assertion_type",
            "client_assertion",
        ];
        assert_eq!(KNOWN.as_slice(), expected);
    }

    #[test]
    fn decodes_plus_and_percent_escapes() -> Result<(), OAuthError> {
        let params =
            form("password=p%25%5E%40%26%3D%2B+%23%C3%A9%3Ax9%2F%3F&username=bob.builder")?;
        assert_eq!(params.get("password"), Some("p%^@&=+ #é:x9/?"));
        assert_eq!(params.get("username"), Some("bob.builder"));
        Ok(())
    }

    #[test]
    fn keeps_malformed_escapes_literally() -> Result<(), OAuthError> {
        assert_eq!(form("username=%ZZ%4")?.get("username"), Some("%ZZ%4"));
        Ok(())
    }

    #[test]
    fn empty_values_count_as_absent() -> Result<(), OAuthError> {
        let params = form("scope=&refresh_token&grant_type=password")?;
        assert_eq!(params.get("scope"), None);
        assert_eq!(params.get("refresh_token"), None);
        assert_eq!(params.get("grant_type"), Some("password"));
        Ok(())
    }

    #[test]
    fn refuses_repeated_known_parameters_but_not_unknown_ones() {
        let error = form("grant_type=foo&grant_type=password").err();
        assert_eq!(
            error.and_then(|e| e.description).as_deref(),
            Some("Duplicate grant_type parameter.")
        );
        assert!(form("foo=1&foo=2&grant_type=password").is_ok());
    }

    #[test]
    fn refuses_invalid_utf8() {
        for body in ["username=%FF%FE", "username=%C3%28"] {
            assert!(form(body).is_err(), "{body}");
        }
        assert!(Params::from_form(b"username=\xff").is_err());
    }

    #[test]
    fn refuses_over_long_values() {
        let body = format!("username={}", "a".repeat(MAX_VALUE_BYTES + 1));
        assert!(form(&body).is_err());
    }

    #[test]
    fn json_strings_are_parameters_and_null_is_absent() -> Result<(), OAuthError> {
        let params = Params::from_json(br#"{"grant_type": "password", "scope": null, "x": [1]}"#)?;
        assert_eq!(params.get("grant_type"), Some("password"));
        assert_eq!(params.get("scope"), None);
        Ok(())
    }

    #[test]
    fn json_shape_errors_are_invalid_request() {
        for body in [
            &br#"["grant_type"]"#[..],
            br#"{"scope": ["read"]}"#,
            br#"{"password": 1234}"#,
            br#"{"a": {"b": "c"}, "username": {"x": 1}}"#,
            br#"{"grant_type": "password", "grant_type": "password"}"#,
            b"{",
            b"",
        ] {
            let error = Params::from_json(body).err();
            assert_eq!(
                error.map(|e| e.code.as_str()),
                Some("invalid_request"),
                "{body:?}"
            );
        }
    }
}
