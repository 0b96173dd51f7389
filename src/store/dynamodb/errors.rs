//! The SDK's outcomes and errors as [`StoreError`]s.

use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};

use crate::aws::error_text;
use crate::domain::store::StoreError;

/// Whether a single-item conditional write was made: `false` if its condition refused it.
pub(super) fn written<O, E, R>(outcome: Result<O, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    conditional(outcome).map(|output| output.is_some())
}

/// The output of a single-item conditional write, or `None` if its condition refused it.
pub(super) fn conditional<O, E, R>(
    outcome: Result<O, SdkError<E, R>>,
) -> Result<Option<O>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match outcome {
        Ok(output) => Ok(Some(output)),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.code() == Some("ConditionalCheckFailedException")) =>
        {
            Ok(None)
        }
        Err(error) => Err(unavailable(error)),
    }
}

/// DynamoDB refused a request as invalid: a fault of this service, logged as such.
pub(super) fn invalid(error: &(impl ProvideErrorMetadata + std::error::Error)) -> StoreError {
    StoreError::Invalid(error_text(error))
}

pub(super) fn unavailable(error: impl ProvideErrorMetadata + std::error::Error) -> StoreError {
    StoreError::Unavailable(error_text(&error).into())
}

pub(super) fn built<T>(request: Result<T, BuildError>) -> Result<T, StoreError> {
    request.map_err(|error| StoreError::Malformed(format!("could not build a request: {error}")))
}
