//! The `events/*.json` fixtures (`sam local invoke -e`): API Gateway events for the token
//! function and authorizer events, with placeholders where a test puts a real token, and how
//! each authorizer event's answer must look.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};
use token_endpoint::domain::clock::Clock;
use token_endpoint::domain::signing::{KeyRing, KeyRingTiming, KeySetStore};
use token_endpoint::lambda::authorizer::Authorizer;

use crate::repo_root;

/// The refresh token in `events/token-refresh.json`, to be replaced by a real one.
pub const REFRESH_PLACEHOLDER: &str = "REPLACEwithREFRESHtoken0000000";
/// The token in the revocation, introspection and authorizer events: as long as a real token,
/// so `content-length` stays right when one replaces it.
pub const ACCESS_PLACEHOLDER: &str = "REPLACEwithAFAMILYid00.REPLACEwithACCESStoken00000000";
/// Where the events say the API is.
pub const HOST: &str = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com";

/// An authorizer over `store` that reads the time from `clock`, takes the issuer the event's
/// API makes and no audience of its own, and lets `Authorization: DPoP` pass if `accepts_dpop`.
pub fn authorizer<S: KeySetStore + Clone>(
    store: S,
    clock: Arc<dyn Clock>,
    accepts_dpop: bool,
) -> Authorizer<S> {
    Authorizer {
        keys: KeyRing::verifying(store.clone(), Arc::clone(&clock), KeyRingTiming::default()),
        store,
        issuer: None,
        audiences: Vec::new(),
        clock,
        accepts_dpop,
    }
}

pub fn events_dir() -> PathBuf {
    repo_root().join("events")
}

/// `events/<name>`, as text.
pub fn read_event(name: &str) -> String {
    let path = events_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `events/<name>`, parsed.
pub fn event(name: &str) -> Value {
    parse(&read_event(name))
}

/// `events/<name>` as text, with a real token in place of the access-token placeholder.
pub fn event_with_token(name: &str, token: &str) -> String {
    let template = read_event(name);
    assert!(template.contains(ACCESS_PLACEHOLDER), "{name}: {template}");
    assert_eq!(token.len(), ACCESS_PLACEHOLDER.len(), "{token}");
    template.replace(ACCESS_PLACEHOLDER, token)
}

/// `events/<name>`, parsed, with a real token in place of the access-token placeholder.
pub fn event_json_with_token(name: &str, token: &str) -> Value {
    parse(&event_with_token(name, token))
}

/// `event` as sent by another client: `Authorization: Basic` with its id and secret (both
/// free of characters that RFC 6749 §2.3.1 would have form-encoded first).
pub fn from_client(mut event: Value, client_id: &str, secret: &str) -> Value {
    use base64::Engine as _;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
    event["headers"]["authorization"] = format!("Basic {credentials}").into();
    event
}

/// `event` carrying `body` (form-encoded, not base64), with its `content-length`: for a token
/// of any length, such as a JWT, in the revocation and introspection events.
pub fn with_form_body(mut event: Value, body: &str) -> Value {
    event["body"] = body.into();
    event["isBase64Encoded"] = false.into();
    event["headers"]["content-length"] = body.len().to_string().into();
    event
}

/// A GET of `path` on the API's `$default` stage, where the token events are:
/// `events/metadata.json` (which asks behind the `prod` stage) asking for `path` instead.
pub fn get_event(path: &str) -> Value {
    let mut event = event("metadata.json");
    event["rawPath"] = path.into();
    event["routeKey"] = format!("ANY {path}").into();
    event["requestContext"]["routeKey"] = format!("ANY {path}").into();
    event["requestContext"]["http"]["path"] = path.into();
    event["requestContext"]["stage"] = "$default".into();
    event
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The two authorizer events, and how each answers.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// `events/authorizer-http-api.json`: HTTP API, payload format 2.0, simple responses.
    HttpApi,
    /// `events/authorizer-rest-token.json`: REST API TOKEN authorizer, IAM policies.
    RestToken,
}

pub const SHAPES: [Shape; 2] = [Shape::HttpApi, Shape::RestToken];

impl Shape {
    pub fn file(self) -> &'static str {
        match self {
            Shape::HttpApi => "authorizer-http-api.json",
            Shape::RestToken => "authorizer-rest-token.json",
        }
    }

    /// The event as shipped.
    pub fn shipped(self) -> Value {
        event(self.file())
    }

    /// The event carrying `Authorization: Bearer <token>`.
    pub fn with_token(self, token: &str) -> Value {
        event_json_with_token(self.file(), token)
    }

    /// The event with another `Authorization` value, or none.
    pub fn with_authorization(self, authorization: Option<&str>) -> Value {
        let mut event = self.shipped();
        let Some(fields) = event.as_object_mut() else {
            panic!("{event}");
        };
        match (self, authorization) {
            (Shape::HttpApi, Some(value)) => {
                fields.insert("identitySource".into(), json!([value]));
                fields["headers"]["authorization"] = value.into();
            }
            (Shape::HttpApi, None) => {
                fields.remove("identitySource");
                let headers = fields["headers"].as_object_mut();
                assert!(headers.and_then(|h| h.remove("authorization")).is_some());
            }
            (Shape::RestToken, Some(value)) => {
                fields.insert("authorizationToken".into(), value.into());
            }
            (Shape::RestToken, None) => {
                assert!(fields.remove("authorizationToken").is_some());
            }
        }
        event
    }

    /// Checks the answer's exact shape; `Some(context)` if it lets the request through.
    pub fn decision(self, answer: &Value) -> Option<Value> {
        match self {
            Shape::HttpApi => {
                if *answer == json!({"isAuthorized": false}) {
                    return None;
                }
                let context = answer["context"].clone();
                assert_eq!(
                    *answer,
                    json!({"isAuthorized": true, "context": context}),
                    "{self:?}"
                );
                Some(context)
            }
            Shape::RestToken => {
                let method_arn = self.shipped()["methodArn"].clone();
                let policy = |effect: &str, resource: &Value| {
                    json!({
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Action": "execute-api:Invoke", "Effect": effect, "Resource": resource,
                        }],
                    })
                };
                if answer["policyDocument"]["Statement"][0]["Effect"] == "Deny" {
                    assert_eq!(
                        *answer,
                        json!({
                            "principalId": "anonymous",
                            "policyDocument": policy("Deny", &method_arn),
                        })
                    );
                    return None;
                }
                // Allowed on the whole stage: API Gateway caches the policy per token.
                let stage_wide = "arn:aws:execute-api:us-east-1:123456789012:k9l8m7n6o5/prod/*";
                assert!(
                    method_arn
                        .as_str()
                        .is_some_and(|arn| arn.starts_with(stage_wide.trim_end_matches('*'))),
                    "{method_arn}"
                );
                let context = answer["context"].clone();
                let principal = context.get("username").unwrap_or(&context["client_id"]);
                assert_eq!(
                    *answer,
                    json!({
                        "principalId": principal,
                        "policyDocument": policy("Allow", &json!(stage_wide)),
                        "context": context,
                    }),
                    "{self:?}"
                );
                Some(context)
            }
        }
    }
}
