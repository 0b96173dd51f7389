//! The token function: API Gateway events through `lambda_http` into the one router.

use axum::Router;
use lambda_http::request::RequestContext;
use lambda_http::tower::ServiceBuilder;
use lambda_http::{Request, RequestExt};

use crate::http::RequestIds;
use crate::http::discovery::BasePath;
use crate::http::source_address::PeerAddress;

/// Serves `router` to the Lambda runtime until the runtime stops.
pub async fn run(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(ServiceBuilder::new().map_request(prepare).service(router)).await
}

/// What the router needs from the event beyond the HTTP request: the request ids, the
/// stage as a base path, and the caller's address.
pub fn prepare(request: Request) -> Request {
    with_peer_address(with_request_ids(without_stage(request)))
}

/// The caller's address as API Gateway saw it (`requestContext.http.sourceIp` for an HTTP
/// API, `requestContext.identity.sourceIp` for a REST API), which password attempts are
/// counted by. Headers are not consulted here: anyone can send them.
pub fn with_peer_address(mut request: Request) -> Request {
    let source_ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.identity.source_ip.clone(),
        _ => None,
    };
    if let Some(address) = source_ip.and_then(|ip| ip.trim().parse().ok()) {
        request.extensions_mut().insert(PeerAddress(address));
    }
    request
}

/// Puts the Lambda and API Gateway request ids where the router's log line finds them.
pub fn with_request_ids(mut request: Request) -> Request {
    let api_gateway = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        _ => None,
    };
    let lambda = request
        .lambda_context_ref()
        .map(|context| context.request_id.clone());
    request.extensions_mut().insert(RequestIds {
        lambda,
        api_gateway,
    });
    request
}

/// `lambda_http` puts a named API Gateway stage in front of the path (`/prod/o/token/`); the
/// router's routes have none. The stage is moved from the path into a [`BasePath`], which the
/// metadata endpoint puts into the URLs it publishes.
pub fn without_stage(mut request: Request) -> Request {
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.stage.clone(),
        _ => None,
    };
    let Some(prefix) = stage
        .filter(|stage| !stage.is_empty() && stage != "$default")
        .map(|stage| format!("/{stage}"))
    else {
        return request;
    };
    let uri = request.uri();
    let Some(rest) = uri.path().strip_prefix(&prefix) else {
        return request;
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return request;
    }
    let path_and_query = match uri.query() {
        Some(query) => format!("/{}?{query}", rest.trim_start_matches('/')),
        None => format!("/{}", rest.trim_start_matches('/')),
    };
    let mut parts = uri.clone().into_parts();
    match path_and_query.parse() {
        Ok(path_and_query) => parts.path_and_query = Some(path_and_query),
        Err(_) => return request,
    }
    if let Ok(stripped) = lambda_http::http::Uri::from_parts(parts) {
        *request.uri_mut() = stripped;
        request.extensions_mut().insert(BasePath(prefix));
    }
    request
}

#[cfg(test)]
mod tests {
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
    use lambda_http::http::HeaderValue;
    use lambda_http::http::header::HOST;
    use lambda_http::request::LambdaRequest;

    use super::*;

    fn stripped(stage: &str, raw_path: &str, query: &str) -> (String, Option<String>) {
        let mut event = ApiGatewayV2httpRequest::default();
        event.raw_path = Some(raw_path.into());
        event.raw_query_string = Some(query.into());
        event.headers.insert(
            HOST,
            HeaderValue::from_static("abc.execute-api.eu-west-1.amazonaws.com"),
        );
        event.request_context.stage = Some(stage.into());
        let request = without_stage(LambdaRequest::ApiGatewayV2(event).into());
        let path = request
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let base = request.extensions().get::<BasePath>().map(|b| b.0.clone());
        (path, base)
    }

    #[test]
    fn a_named_stage_moves_from_the_path_to_the_base_path() {
        assert_eq!(
            stripped("prod", "/prod/o/token/", ""),
            ("/o/token/".into(), Some("/prod".into()))
        );
        // lambda_http adds the stage when API Gateway left it out of rawPath.
        assert_eq!(
            stripped("prod", "/o/token/", "a=1"),
            ("/o/token/?a=1".into(), Some("/prod".into()))
        );
    }

    #[test]
    fn the_default_stage_changes_nothing() {
        assert_eq!(
            stripped("$default", "/o/token/", ""),
            ("/o/token/".into(), None)
        );
    }
}
