//! The AWS SDK clients of the DynamoDB store and the KMS vault: one SDK configuration, with
//! this service's retries and timeouts, at the endpoints the settings name; and how their
//! errors become text.

use std::error::Error;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::config::DynamoDbSettings;

/// Both clients from one SDK configuration, read once: they share the credentials and the
/// HTTP connection pool.
///
/// Region and credentials come from the SDK's standard sources; the endpoints are the
/// settings' overrides, if any. Timeouts are set so a stuck call fails well within API
/// Gateway's 30-second limit instead of hanging.
pub async fn clients(
    endpoints: &DynamoDbSettings,
) -> (aws_sdk_dynamodb::Client, aws_sdk_kms::Client) {
    let shared = shared_sdk_config().await;
    (
        dynamodb_client_with(endpoints, &shared),
        kms_client_with(endpoints, &shared),
    )
}

fn dynamodb_client_with(
    endpoints: &DynamoDbSettings,
    shared: &aws_config::SdkConfig,
) -> aws_sdk_dynamodb::Client {
    let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(shared);
    // The SDK reads these variables too, but an empty AWS_ENDPOINT_URL_DYNAMODB (as declared
    // in template.yaml, so `sam local invoke --env-vars` can set it) makes it panic. Empty
    // means unset here.
    dynamodb.set_endpoint_url(endpoints.endpoint().map(str::to_owned));
    // Tallies each request's DynamoDB calls and time for its log line and metrics.
    dynamodb = dynamodb.interceptor(crate::telemetry::store_timing::DynamoTimer);
    aws_sdk_dynamodb::Client::from_conf(dynamodb.build())
}

/// The same endpoint override rule (empty means unset), and the same retries and timeouts:
/// KMS answers in milliseconds as well.
fn kms_client_with(
    endpoints: &DynamoDbSettings,
    shared: &aws_config::SdkConfig,
) -> aws_sdk_kms::Client {
    let mut kms = aws_sdk_kms::config::Builder::from(shared);
    kms.set_endpoint_url(endpoints.kms_endpoint().map(str::to_owned));
    aws_sdk_kms::Client::from_conf(kms.build())
}

/// The SDK's region and credentials from their standard sources, with this service's retries
/// and timeouts.
async fn shared_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(dynamodb_retry_config())
        .timeout_config(dynamodb_timeout_config())
        .load()
        .await
}

/// Standard retry mode (exponential backoff with jitter, retry quota) with three attempts:
/// throttling and transient 5xx are retried within the operation timeout.
pub fn dynamodb_retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

/// DynamoDB answers in milliseconds, so a stuck connection fails fast (1 s to connect, 2 s per
/// attempt) and one operation, retries included, gives up after 4 s. A grant makes two
/// operations in sequence and the router bounds the whole grant (`http::GRANT_DEADLINE`), so
/// the client gets a 503 well within the function's 10 s timeout and API Gateway's 30 s.
pub fn dynamodb_timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(4))
        .build()
}

/// What an AWS SDK error says, for error values and logs: the service's error code and message
/// when the service answered one, else the `Display` of each error in the chain of causes.
///
/// Never the `Debug` form, which `DisplayErrorContext` appends: it holds the raw HTTP response,
/// and the body of an answer that failed to parse is a batch of password hashes (DynamoDB) or
/// a private key (KMS `Decrypt`).
pub fn error_text<E>(error: &E) -> String
where
    E: ProvideErrorMetadata + Error,
{
    if let Some(code) = error.code() {
        return match error.message() {
            Some(message) => format!("{code}: {message}"),
            None => code.to_owned(),
        };
    }
    let mut described = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        described.push_str(": ");
        described.push_str(&current.to_string());
        cause = current.source();
    }
    described
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::error::SdkError;
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::error_text;

    const BODY: &str =
        r#"{"Responses":{"credentials":[{"password_hash":{"S":"$argon2id$v=19$m=19456"#;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), SdkBody::from(BODY))
    }

    #[test]
    fn an_answer_that_failed_to_parse_is_told_by_its_causes_without_its_body() {
        let parse_failure = "failed to parse JSON: unexpected end of stream";
        let error: SdkError<BatchGetItemError, HttpResponse> =
            SdkError::response_error(parse_failure, response(200));
        assert_eq!(
            error_text(&error),
            format!("response error: {parse_failure}")
        );
    }

    #[test]
    fn a_service_error_is_told_by_its_code_and_message() {
        let meta = ErrorMetadata::builder()
            .code("ProvisionedThroughputExceededException")
            .message("slow down")
            .build();
        let error: SdkError<BatchGetItemError, HttpResponse> =
            SdkError::service_error(BatchGetItemError::generic(meta), response(400));
        assert_eq!(
            error_text(&error),
            "ProvisionedThroughputExceededException: slow down"
        );
    }
}
