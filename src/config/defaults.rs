//! The default table names and KMS key alias, shared by the variables' defaults and
//! `oauth-admin`.

pub const DEFAULT_CREDENTIALS_TABLE: &str = "oauth-credentials";
pub const DEFAULT_TOKENS_TABLE: &str = "oauth-tokens";
/// The alias `oauth-admin create-tables` gives the KMS key it creates.
pub const DEFAULT_SIGNING_KEY_KMS_KEY: &str = "alias/token-endpoint-signing-keys";
