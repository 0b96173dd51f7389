//! The authorizer function: an API Gateway Lambda authorizer that lets a request through if
//! it carries `Authorization: Bearer <token>` with a live access token (RFC 6750 §2.1).
//!
//! The event's shape says which kind of authorizer invoked it, and the answer takes the
//! matching shape:
//! - HTTP API, payload format 2.0 (`"version": "2.0"`): a simple response,
//!   `{"isAuthorized": …, "context": {…}}`, for `EnableSimpleResponses: true`;
//! - REST API `TOKEN` authorizer (`"type": "TOKEN"`) and `REQUEST` authorizers with payload
//!   format 1.0: an IAM policy allowing or denying `execute-api:Invoke`.
//!
//! An allowed request carries `client_id`, `scope` and, for a user's token, `username` in the
//! context, which API Gateway hands to the protected backend
//! (`$context.authorizer.<name>`; for Lambda backends, `requestContext.authorizer`).
//! Lookups that fail (DynamoDB unavailable) are an error, which API Gateway answers with 500:
//! failing closed without pretending the token was bad.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::domain::Secret;
use crate::domain::clock::Clock;
use crate::domain::lifecycle::validate_bearer;
use crate::domain::model::AccessTokenRecord;
use crate::domain::store::Store;

/// Serves authorizer events until the runtime stops.
pub async fn run<S: Store>(store: S, clock: Arc<dyn Clock>) -> Result<(), Error> {
    let store = Arc::new(store);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (store, clock) = (Arc::clone(&store), Arc::clone(&clock));
        async move { authorize(store.as_ref(), clock.as_ref(), event.payload).await }
    }))
    .await
}

/// Decides one authorizer event.
pub async fn authorize<S: Store>(
    store: &S,
    clock: &dyn Clock,
    event: Value,
) -> Result<Value, Error> {
    let request = AuthorizerRequest::from_event(event)?;
    let token = request.authorization.as_deref().and_then(bearer_token);
    let access = match token {
        Some(token) => validate_bearer(store, &token, clock.now()).await?,
        None => None,
    };
    tracing::info!(
        authorizer = request.kind.name(),
        client_id = access.as_ref().map(|a| a.client_id.as_str()),
        outcome = if access.is_some() { "allow" } else { "deny" },
        "authorizer decision"
    );
    Ok(request.answer(access.as_ref()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthorizerKind {
    /// HTTP API, payload format 2.0, simple responses.
    HttpApiSimple,
    /// REST API TOKEN or REQUEST authorizer, or HTTP API payload format 1.0: IAM policies.
    Policy,
}

impl AuthorizerKind {
    fn name(self) -> &'static str {
        match self {
            AuthorizerKind::HttpApiSimple => "http_api",
            AuthorizerKind::Policy => "policy",
        }
    }
}

/// The parts of an authorizer event this function reads.
#[derive(Debug)]
struct AuthorizerRequest {
    kind: AuthorizerKind,
    authorization: Option<String>,
    /// The invoked method's ARN, which a policy names; absent in payload format 2.0.
    method_arn: Option<String>,
}

/// `"type": "TOKEN"` events carry the header's value alone.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenEvent {
    authorization_token: Option<String>,
    method_arn: String,
}

/// `REQUEST` events carry all headers; payload format 2.0 lowercases their names.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestEvent {
    #[serde(default)]
    headers: Option<Map<String, Value>>,
    method_arn: Option<String>,
}

impl AuthorizerRequest {
    fn from_event(event: Value) -> Result<Self, Error> {
        let is_token_event = event.get("type").and_then(Value::as_str) == Some("TOKEN");
        let is_v2 = event.get("version").and_then(Value::as_str) == Some("2.0");
        if is_token_event {
            let token: TokenEvent = serde_json::from_value(event)?;
            return Ok(Self {
                kind: AuthorizerKind::Policy,
                authorization: token.authorization_token,
                method_arn: Some(token.method_arn),
            });
        }
        let request: RequestEvent = serde_json::from_value(event)?;
        let authorization = request.headers.as_ref().and_then(|headers| {
            headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
                .and_then(|(_, value)| value.as_str())
                .map(str::to_owned)
        });
        if is_v2 {
            Ok(Self {
                kind: AuthorizerKind::HttpApiSimple,
                authorization,
                method_arn: None,
            })
        } else {
            Ok(Self {
                kind: AuthorizerKind::Policy,
                authorization,
                method_arn: Some(request.method_arn.ok_or("the event has no methodArn")?),
            })
        }
    }

    fn answer(&self, access: Option<&AccessTokenRecord>) -> Value {
        let context = access.map(context_of);
        match self.kind {
            AuthorizerKind::HttpApiSimple => match context {
                Some(context) => json!({"isAuthorized": true, "context": context}),
                None => json!({"isAuthorized": false}),
            },
            AuthorizerKind::Policy => {
                let method_arn = self.method_arn.as_deref().unwrap_or_default();
                match (access, context) {
                    (Some(access), Some(context)) => json!({
                        "principalId": access.username.as_deref().unwrap_or(&access.client_id),
                        "policyDocument": policy("Allow", &api_wide(method_arn)),
                        "context": context,
                    }),
                    _ => json!({
                        "principalId": "anonymous",
                        "policyDocument": policy("Deny", method_arn),
                    }),
                }
            }
        }
    }
}

/// What the protected backend learns about the caller. Values must be strings, numbers or
/// booleans; a client's own token has no `username`.
fn context_of(access: &AccessTokenRecord) -> Value {
    let mut context = Map::new();
    context.insert("client_id".into(), access.client_id.clone().into());
    if let Some(username) = &access.username {
        context.insert("username".into(), username.clone().into());
    }
    context.insert("scope".into(), access.scope.to_string().into());
    context.insert("expires_at".into(), access.expires_at.into());
    Value::Object(context)
}

fn policy(effect: &str, resource: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Action": "execute-api:Invoke",
            "Effect": effect,
            "Resource": resource,
        }],
    })
}

/// `arn:…:api-id/stage/*`: an Allow that API Gateway caches for a token must cover every
/// route, or a cached policy for one route would deny the token on the next.
fn api_wide(method_arn: &str) -> String {
    let mut segments = method_arn.splitn(3, '/');
    match (segments.next(), segments.next()) {
        (Some(api), Some(stage)) => format!("{api}/{stage}/*"),
        _ => method_arn.to_owned(),
    }
}

/// The token of an `Authorization: Bearer …` value (the scheme is case-insensitive).
fn bearer_token(authorization: &str) -> Option<Secret> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim_start_matches(' ');
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| Secret::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let read = |value: &str| bearer_token(value).map(|t| t.expose().to_owned());
        assert_eq!(read("Bearer abc"), Some("abc".into()));
        assert_eq!(read("bearer  abc"), Some("abc".into()));
        assert_eq!(read("BEARER abc "), Some("abc".into()));
        assert_eq!(read("Basic abc"), None);
        assert_eq!(read("Bearer"), None);
        assert_eq!(read("Bearer "), None);
        assert_eq!(read("abc"), None);
    }

    #[test]
    fn allow_policies_cover_the_whole_stage() {
        assert_eq!(
            api_wide("arn:aws:execute-api:eu-west-1:123:abc/prod/GET/things/1"),
            "arn:aws:execute-api:eu-west-1:123:abc/prod/*"
        );
        assert_eq!(api_wide("not-an-arn"), "not-an-arn");
    }

    #[test]
    fn the_event_shape_picks_the_answer_shape() -> Result<(), Error> {
        let v2 = AuthorizerRequest::from_event(json!({
            "version": "2.0", "type": "REQUEST", "routeArn": "arn",
            "identitySource": ["Bearer x"], "headers": {"authorization": "Bearer x"}
        }))?;
        assert_eq!(v2.kind, AuthorizerKind::HttpApiSimple);
        assert_eq!(v2.authorization.as_deref(), Some("Bearer x"));
        assert_eq!(v2.answer(None), json!({"isAuthorized": false}));

        let token = AuthorizerRequest::from_event(json!({
            "type": "TOKEN", "authorizationToken": "Bearer y", "methodArn": "arn:a/prod/GET/x"
        }))?;
        assert_eq!(token.kind, AuthorizerKind::Policy);
        assert_eq!(token.authorization.as_deref(), Some("Bearer y"));
        assert_eq!(
            token.answer(None)["policyDocument"]["Statement"][0]["Effect"],
            "Deny"
        );

        let request_v1 = AuthorizerRequest::from_event(json!({
            "type": "REQUEST", "methodArn": "arn:a/prod/GET/x",
            "headers": {"Authorization": "Bearer z"}
        }))?;
        assert_eq!(request_v1.kind, AuthorizerKind::Policy);
        assert_eq!(request_v1.authorization.as_deref(), Some("Bearer z"));
        assert!(AuthorizerRequest::from_event(json!({"type": "REQUEST"})).is_err());
        Ok(())
    }
}
