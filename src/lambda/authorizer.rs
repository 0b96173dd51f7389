//! The authorizer function: an API Gateway Lambda authorizer that lets a request through if
//! it carries `Authorization: Bearer <token>` with a live access token (RFC 6750 §2.1), or
//! `Authorization: DPoP <token>` with a DPoP-bound one and a `DPoP` proof of its key for this
//! request (RFC 9449 §7; `REQUEST` authorizers only, which see the method, URL and headers).
//! It keeps no decision: API Gateway's result cache must be off on routes that take DPoP
//! tokens, or a cached Allow would let a request through without a fresh proof.
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

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayV2CustomAuthorizerV2Request,
};
use lambda_http::aws_lambda_events::iam::IamPolicyEffect;
use lambda_http::http::HeaderMap;
use lambda_http::http::header::AUTHORIZATION;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::Value;

use crate::domain::Secret;
use crate::domain::clock::{Clock, UnixSeconds};
use crate::domain::model::AccessTokenRecord;
use crate::domain::names::Username;
use crate::domain::resource::{PresentedToken, Scheme, validate_access};
use crate::domain::signing::KeyRing;
use crate::domain::store::{AccessTokenStore, ReplayStore};

/// What the authorizer checks tokens against.
pub struct Authorizer<S> {
    pub store: S,
    /// The published keys JWTs are checked with (public keys only: no vault).
    pub keys: KeyRing,
    /// The issuer a JWT must name; `None`: the one the event's API and stage make, as the
    /// token endpoint derives it from the request.
    pub issuer: Option<String>,
    /// The audiences of the API it protects: a token for another is refused. Empty: the
    /// issuer.
    pub audiences: Vec<String>,
    pub clock: Arc<dyn Clock>,
    /// Whether `Authorization: DPoP` may pass: only where API Gateway caches no answer, or a
    /// cached Allow would let requests through without their proofs.
    pub accepts_dpop: bool,
}

/// Serves authorizer events until the runtime stops.
pub async fn run<S: AccessTokenStore + ReplayStore>(
    authorizer: Authorizer<S>,
) -> Result<(), Error> {
    let authorizer = Arc::new(authorizer);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let authorizer = Arc::clone(&authorizer);
        async move { authorize(&authorizer, event.payload).await }
    }))
    .await
}

/// Decides one authorizer event.
pub async fn authorize<S: AccessTokenStore + ReplayStore>(
    authorizer: &Authorizer<S>,
    event: Value,
) -> Result<Value, Error> {
    let request = AuthorizerRequest::from_event(event)?;
    let token = request.authorization.as_deref().and_then(presented_token);
    let issuer = authorizer.issuer.as_deref().or(request.issuer.as_deref());
    let now = authorizer.clock.now();
    let access = match &token {
        Some((Scheme::Dpop, _)) if !authorizer.accepts_dpop => {
            tracing::warn!(
                "a DPoP token refused: API Gateway caches this authorizer's answers \
                 (AUTHORIZER_CACHE_TTL_SECONDS above 0)"
            );
            None
        }
        Some((scheme, token)) => {
            let presented = PresentedToken {
                scheme: *scheme,
                token,
                proof: request.dpop_proof.as_deref(),
                request: request
                    .request_line
                    .as_ref()
                    .map(|(method, url)| (method.as_str(), url.as_str())),
            };
            let (store, keys) = (&authorizer.store, &authorizer.keys);
            let expected = (issuer, authorizer.audiences.as_slice());
            validate_access(store, keys, &presented, expected, now).await?
        }
        None => None,
    };
    tracing::info!(
        authorizer = request.kind.name(),
        client_id = access.as_ref().map(|a| a.client_id.as_str()),
        outcome = if access.is_some() { "allow" } else { "deny" },
        "authorizer decision"
    );
    Ok(serde_json::to_value(request.answer(access.as_ref()))?)
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
    /// The issuer the token endpoint would name behind the invoked API and stage.
    issuer: Option<String>,
    /// The one `DPoP` header (RFC 9449 §7), if there is exactly one.
    dpop_proof: Option<String>,
    /// The invoked method and URL (`https://domain/path`, no query), which a DPoP proof names.
    request_line: Option<(String, String)>,
}

impl AuthorizerRequest {
    /// `"type": "TOKEN"` events carry the header's value alone; `REQUEST` events carry all
    /// headers, in payload format 2.0 (`"version": "2.0"`) or else in the REST API's format,
    /// which HTTP API payload format 1.0 shares.
    fn from_event(event: Value) -> Result<Self, Error> {
        let field = |name: &str| event.get(name).and_then(Value::as_str);
        let (is_token_event, is_v2) = (
            field("type") == Some("TOKEN"),
            field("version") == Some("2.0"),
        );
        if is_token_event {
            let token: ApiGatewayCustomAuthorizerRequest = serde_json::from_value(event)?;
            let method_arn = token.method_arn.ok_or(NO_METHOD_ARN)?;
            return Ok(Self {
                kind: AuthorizerKind::Policy,
                authorization: token.authorization_token,
                issuer: issuer_of_method(&method_arn),
                method_arn: Some(method_arn),
                dpop_proof: None,
                request_line: None,
            });
        }
        if is_v2 {
            let request: ApiGatewayV2CustomAuthorizerV2Request = serde_json::from_value(event)?;
            let context = &request.request_context;
            let issuer = context.domain_name.as_deref().map(|domain| {
                issuer_behind(domain, context.stage.as_deref().unwrap_or(DEFAULT_STAGE))
            });
            // rawPath includes a named stage, as the client called it.
            let request_line = context
                .domain_name
                .as_deref()
                .zip(request.raw_path.as_deref())
                .map(|(domain, path)| {
                    (
                        context.http.method.to_string(),
                        format!("https://{domain}{path}"),
                    )
                });
            return Ok(Self {
                kind: AuthorizerKind::HttpApiSimple,
                authorization: authorization_header(&request.headers),
                method_arn: None,
                issuer,
                dpop_proof: dpop_header(&request.headers),
                request_line,
            });
        }
        // The typed context leaves the domain name out.
        let domain = (event.pointer("/requestContext/domainName"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let request: ApiGatewayCustomAuthorizerRequestTypeRequest = serde_json::from_value(event)?;
        let method_arn = request.method_arn.ok_or(NO_METHOD_ARN)?;
        // requestContext.path includes the stage, as the client called it.
        let context = &request.request_context;
        let path = context.path.as_deref().or(request.path.as_deref());
        let method = request
            .http_method
            .as_ref()
            .or(context.http_method.as_ref());
        let request_line = match (method, domain.as_deref(), path) {
            (Some(method), Some(domain), Some(path)) => {
                Some((method.to_string(), format!("https://{domain}{path}")))
            }
            _ => None,
        };
        Ok(Self {
            kind: AuthorizerKind::Policy,
            authorization: authorization_header(&request.headers),
            issuer: issuer_of_method(&method_arn),
            method_arn: Some(method_arn),
            dpop_proof: dpop_header(&request.headers),
            request_line,
        })
    }

    fn answer(&self, access: Option<&AccessTokenRecord>) -> Answer {
        let context = access.map(CallerContext::of);
        let method_arn = self.method_arn.as_deref().unwrap_or_default();
        match (self.kind, access) {
            (AuthorizerKind::HttpApiSimple, _) => Answer::Simple(SimpleResponse {
                is_authorized: context.is_some(),
                context,
            }),
            (AuthorizerKind::Policy, Some(access)) => Answer::Policy(PolicyResponse {
                principal_id: access
                    .username
                    .as_ref()
                    .map_or_else(|| access.client_id.to_string(), Username::to_string),
                policy_document: PolicyDocument::invoke(
                    IamPolicyEffect::Allow,
                    api_wide(method_arn),
                ),
                context,
            }),
            (AuthorizerKind::Policy, None) => Answer::Policy(PolicyResponse {
                principal_id: "anonymous".into(),
                policy_document: PolicyDocument::invoke(IamPolicyEffect::Deny, method_arn.into()),
                context: None,
            }),
        }
    }
}

const NO_METHOD_ARN: &str = "the event has no methodArn";

/// An HTTP API's default stage, which is not part of its URLs.
const DEFAULT_STAGE: &str = "$default";

/// `https://domain[/stage]`: the issuer the token endpoint derives behind `domain` and `stage`.
fn issuer_behind(domain: &str, stage: &str) -> String {
    match stage {
        DEFAULT_STAGE | "" => format!("https://{domain}"),
        stage => format!("https://{domain}/{stage}"),
    }
}

/// The issuer behind the API's own domain, from
/// `arn:aws:execute-api:region:account:api-id/stage/…` (a custom domain needs `ISSUER`).
fn issuer_of_method(method_arn: &str) -> Option<String> {
    let mut fields = method_arn.splitn(6, ':');
    let region = fields.nth(3)?;
    let mut path = fields.nth(1)?.split('/');
    let (api_id, stage) = (path.next()?, path.next()?);
    let domain = format!("{api_id}.execute-api.{region}.amazonaws.com");
    Some(issuer_behind(&domain, stage))
}

/// Header names are case-insensitive; payload format 2.0 lowercases them.
fn authorization_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// The `DPoP` header's value if there is exactly one; payload format 2.0 joins repeated
/// headers with commas, which no proof contains.
fn dpop_header(headers: &HeaderMap) -> Option<String> {
    let mut values = headers.get_all("dpop").iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value
            .to_str()
            .ok()
            .filter(|value| !value.contains(','))
            .map(|value| value.trim().to_owned()),
        _ => None,
    }
}

/// The answers as `aws_lambda_events` has them (`ApiGatewayV2CustomAuthorizerSimpleResponse`,
/// `ApiGatewayCustomAuthorizerResponse`), except that a denial carries no `context`, there is no
/// `usageIdentifierKey: null`, and `Action` and `Resource` are single strings, as they always
/// were on the wire.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Answer {
    Simple(SimpleResponse),
    Policy(PolicyResponse),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SimpleResponse {
    is_authorized: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<CallerContext>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyResponse {
    principal_id: String,
    policy_document: PolicyDocument,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<CallerContext>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyDocument {
    version: &'static str,
    statement: [PolicyStatement; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyStatement {
    action: &'static str,
    effect: IamPolicyEffect,
    resource: String,
}

impl PolicyDocument {
    fn invoke(effect: IamPolicyEffect, resource: String) -> Self {
        Self {
            version: "2012-10-17",
            statement: [PolicyStatement {
                action: "execute-api:Invoke",
                effect,
                resource,
            }],
        }
    }
}

/// What the protected backend learns about the caller. Values must be strings, numbers or
/// booleans; a client's own token has no `username`.
#[derive(Debug, Serialize)]
struct CallerContext {
    client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    scope: String,
    expires_at: UnixSeconds,
}

impl CallerContext {
    fn of(access: &AccessTokenRecord) -> Self {
        Self {
            client_id: access.client_id.to_string(),
            username: access.username.as_ref().map(Username::to_string),
            scope: access.scope.to_string(),
            expires_at: access.expires_at,
        }
    }
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

/// The scheme and token of an `Authorization: Bearer …` or `DPoP …` value (the scheme is
/// case-insensitive).
fn presented_token(authorization: &str) -> Option<(Scheme, Secret)> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim_start_matches(' ');
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return None;
    };
    (!token.is_empty()).then(|| (scheme, Secret::new(token)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The denial, as it goes on the wire.
    fn answer(request: &AuthorizerRequest) -> Result<Value, serde_json::Error> {
        serde_json::to_value(request.answer(None))
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let read = |value: &str| {
            presented_token(value)
                .filter(|(scheme, _)| *scheme == Scheme::Bearer)
                .map(|(_, t)| t.expose().to_owned())
        };
        assert_eq!(
            presented_token("DPoP abc").map(|(scheme, _)| scheme),
            Some(Scheme::Dpop)
        );
        assert_eq!(read("Bearer abc"), Some("abc".into()));
        assert_eq!(read("bearer  abc"), Some("abc".into()));
        assert_eq!(read("BEARER abc "), Some("abc".into()));
        assert_eq!(read("Basic abc"), None);
        assert_eq!(read("Bearer"), None);
        assert_eq!(read("Bearer "), None);
        assert_eq!(read("abc"), None);
    }

    #[test]
    fn the_issuer_is_the_invoked_apis_own() {
        assert_eq!(
            issuer_of_method("arn:aws:execute-api:eu-west-1:123:abc/prod/GET/things/1").as_deref(),
            Some("https://abc.execute-api.eu-west-1.amazonaws.com/prod")
        );
        assert_eq!(
            issuer_of_method("arn:aws:execute-api:eu-west-1:123:abc/$default/GET/x").as_deref(),
            Some("https://abc.execute-api.eu-west-1.amazonaws.com")
        );
        assert_eq!(issuer_of_method("not-an-arn"), None);
        assert_eq!(
            issuer_behind("auth.example.com", "$default"),
            "https://auth.example.com"
        );
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
            "identitySource": ["Bearer x"], "headers": {"authorization": "Bearer x"},
            "requestContext": {"http": {"method": "GET"}}
        }))?;
        assert_eq!(v2.kind, AuthorizerKind::HttpApiSimple);
        assert_eq!(v2.authorization.as_deref(), Some("Bearer x"));
        assert_eq!(answer(&v2)?, json!({"isAuthorized": false}));

        let token = AuthorizerRequest::from_event(json!({
            "type": "TOKEN", "authorizationToken": "Bearer y", "methodArn": "arn:a/prod/GET/x"
        }))?;
        assert_eq!(token.kind, AuthorizerKind::Policy);
        assert_eq!(token.authorization.as_deref(), Some("Bearer y"));
        assert_eq!(
            answer(&token)?["policyDocument"]["Statement"][0]["Effect"],
            "Deny"
        );

        let request_v1 = AuthorizerRequest::from_event(json!({
            "type": "REQUEST", "methodArn": "arn:a/prod/GET/x",
            "headers": {"Authorization": "Bearer z"}, "requestContext": {}
        }))?;
        assert_eq!(request_v1.kind, AuthorizerKind::Policy);
        assert_eq!(request_v1.authorization.as_deref(), Some("Bearer z"));
        assert!(AuthorizerRequest::from_event(json!({"type": "REQUEST"})).is_err());
        Ok(())
    }
}
