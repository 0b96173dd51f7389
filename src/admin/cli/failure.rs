//! [`CommandFailure`], the error a command ends with, and the exit status that goes with it.

use std::process::ExitCode;

use crate::admin::AdminError;
use crate::admin::import::ImportReport;
use crate::domain::FamilyOwner;

/// Invalid input: the same exit code as clap's usage errors.
const EXIT_INVALID_INPUT: u8 = 2;

/// Why a command failed, and so which exit status it ends with. Displays as the message.
#[derive(Debug, thiserror::Error)]
pub enum CommandFailure {
    /// The arguments or standard input were not acceptable; nothing was written.
    #[error("{0}")]
    InvalidInput(String),
    /// The operation itself failed: configuration, store, hashing, output.
    #[error("{0}")]
    Operation(String),
}

impl CommandFailure {
    pub fn operation(error: impl std::fmt::Display) -> Self {
        Self::Operation(error.to_string())
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::InvalidInput(_) => ExitCode::from(EXIT_INVALID_INPUT),
            Self::Operation(_) => ExitCode::FAILURE,
        }
    }
}

impl From<AdminError> for CommandFailure {
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::UnreadableExport(error) => Self::InvalidInput(format!("--file: {error}")),
            AdminError::NoCredentialLeft => Self::InvalidInput(format!("--auth-method: {error}")),
            // The record is gone but its tokens may still work: say so, and how to finish.
            AdminError::NotRevoked {
                change,
                owner,
                source,
            } => {
                let (what, flag, name) = match &owner {
                    FamilyOwner::Client(client_id) => ("client", "--client-id", client_id.as_str()),
                    FamilyOwner::User(username) => ("user", "--username", username.as_str()),
                };
                Self::Operation(format!(
                    "{what} {name}: {change}, but revoking its tokens failed ({source}); \
                     run oauth-admin revoke-tokens {flag} {name}"
                ))
            }
            error => Self::operation(error),
        }
    }
}

/// An import ends with status 1 if any record failed (the result, printed first, says which).
pub fn failed_records(report: &ImportReport) -> Result<(), CommandFailure> {
    match report.failed() {
        0 => Ok(()),
        failed => Err(CommandFailure::Operation(format!(
            "{failed} record(s) failed, see \"failed\" in the result; import again to \
             retry them (what was imported is skipped)"
        ))),
    }
}
