//! The processes the tests start (`oauth-admin`, `token-endpoint`, the Lambda Runtime Interface
//! Emulator) see a clean environment: nothing from the developer's shell (AWS profile,
//! endpoint, region or credentials, token lifetimes, Argon2 settings, a Lambda runtime API)
//! reaches them, only what the test sets.

use std::ffi::OsStr;
use std::process::Command;

use token_endpoint::store::dynamodb::TableNames;

/// A command for `program` that inherits no environment variable but `PATH`.
pub fn clean_command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

/// The environment that points the crate's binaries at `tables` on the DynamoDB at
/// `endpoint` (moto), and at the KMS there too, with throwaway credentials and no instance
/// metadata lookups.
pub fn dynamodb_env(endpoint: &str, tables: &TableNames) -> [(&'static str, String); 8] {
    [
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.to_owned()),
        ("AWS_ENDPOINT_URL_KMS", endpoint.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("CREDENTIALS_TABLE", tables.credentials.clone()),
        ("TOKENS_TABLE", tables.tokens.clone()),
    ]
}
