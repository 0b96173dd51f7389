//! The commands and flags of `oauth-admin` (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::admin::import;
use crate::domain::TokenFormat;
use crate::domain::model::{DpopPolicy, UnknownDpopPolicy, UnknownTokenFormat};
use crate::domain::signing::MAX_ACCESS_TOKEN_LIFETIME;

const AFTER_HELP: &str = "\
Environment:
  CREDENTIALS_TABLE, TOKENS_TABLE       table names (default oauth-credentials, oauth-tokens)
  ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM
                                        cost of new password and secret hashes
  SIGNING_KEY_KMS_KEY                   KMS key (id, ARN or alias) sealing the JWT signing keys
                                        (default alias/token-endpoint-signing-keys)
  SIGNING_KEY_PROPAGATION_SECONDS       rotate-signing-key's default --propagation-delay (3600)
  AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_KMS, ...
                                        the AWS SDK's usual settings

Stdout carries only the JSON result. Exit status: 0 on success, 1 when the operation failed
(already exists, does not exist, store unavailable), 2 for invalid input or usage.";

const IMPORT_HELP: &str = "\
Export from the Django project (any django-oauth-toolkit version), e.g.:
  python manage.py dumpdata oauth2_provider.application auth.user --indent 2 > dot.json
  oauth-admin import --file dot.json --scope \"read write\"
The export holds every password hash, and client secrets, maybe in plaintext: keep it private
and delete it afterwards.

The file is a JSON list of {\"model\", \"pk\", \"fields\"} objects, of which are read:
  oauth2_provider.application  client_id, name, client_type, authorization_grant_type and
      client_secret. Confidential applications of grant type \"password\" become clients
      with password and refresh_token, \"client-credentials\" ones clients with
      client_credentials, all with --scope. A client_secret hashed by django-oauth-toolkit
      2.0 or later (pbkdf2_sha256$...) is kept as it is; a plaintext one (before 2.0, or
      hash_client_secret=False) is hashed with Argon2id here.
  auth.user  username, password (pbkdf2_sha256$..., Django's default hasher) and is_active.
Objects of other models are counted and left out. Django hashes are verified as Django
verifies them and replaced with Argon2id on their first successful use, so nobody resets a
secret or a password.

Skipped, each with its reason: public clients; other grant types (authorization-code,
implicit, openid-hybrid, device code); inactive users; unusable passwords; secrets and
passwords hashed by Django's other hashers (argon2, bcrypt_sha256, scrypt, pbkdf2_sha1, ...),
which must be reset: create-client --client-id ID, or create-user, with a new one. Clients and
users that exist already are skipped too, never overwritten: importing again is safe.

Stdout: one JSON line with counts of imported, skipped and failed clients and users, and each
record's outcome; never a secret or a hash. Exit status 1 if any record failed (importing
again retries it), 2 if the file cannot be read as a dumpdata export (nothing is written).";

#[derive(Debug, Parser)]
#[command(
    name = "oauth-admin",
    version,
    about = "Provisions the OAuth 2.0 token endpoint (its DynamoDB tables, clients, users and JWT signing keys) and revokes tokens",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Creates the credentials and tokens tables, with TTL on the tokens table; the KMS key
    /// that seals the JWT signing keys, if SIGNING_KEY_KMS_KEY is an alias of none; and a first
    /// signing key, if there is none. Safe to run again: what exists is left as it is.
    CreateTables,

    /// Registers a client. Prints its client_id and, if generated here, its client_secret:
    /// the secret is shown only this once. With --token-format jwt, also creates a first JWT
    /// signing key if there is none.
    CreateClient(CreateClientArgs),

    /// Replaces a client's secret with a new generated one and prints it, once. The old
    /// secret stops working; tokens issued before keep working unless --revoke-tokens, which
    /// also ends the logins in flight: it revokes again after 13 s (the grant deadline and the
    /// families index's lag).
    RotateClientSecret {
        /// The client whose secret to replace.
        #[arg(long)]
        client_id: String,
        #[arg(long, help = REVOKE_TOKENS_HELP)]
        revoke_tokens: bool,
    },

    /// Changes a client's name, scope, grant types or access tokens (at least one); its id and
    /// secret stay. Prints the client as show-client does. Its refresh tokens follow the new
    /// scope and grant types from their next use. With --token-format jwt, also creates a
    /// first JWT signing key if there is none.
    UpdateClient(UpdateClientArgs),

    /// Shows a client: its id, name, scope, grant types, token format, access token lifetime
    /// (null: the server's), and whether its secret hash is an imported Django one not yet
    /// replaced by Argon2id. Never the secret or its hash.
    ShowClient {
        /// The client to show.
        #[arg(long)]
        client_id: String,
    },

    /// Lists every client, by client id, as show-client shows them. Reads the whole
    /// credentials table.
    ListClients,

    /// Removes a client and revokes every token issued to it, those of logins in flight too: it
    /// revokes again after 13 s (the grant deadline and the families index's lag).
    DeleteClient {
        /// The client to remove.
        #[arg(long)]
        client_id: String,
    },

    /// Adds a user who can log in with the password grant.
    CreateUser {
        /// The username (1 to 150 characters, no control characters, no leading or trailing
        /// whitespace).
        #[arg(long)]
        username: String,
        /// Read the password from the first line of standard input (required: passwords are
        /// never taken as arguments).
        #[arg(long, required = true)]
        password_stdin: bool,
    },

    /// Replaces a user's password. The old password stops working; logins made with it go
    /// on unless --revoke-tokens.
    SetPassword {
        /// The user whose password to replace.
        #[arg(long)]
        username: String,
        /// Read the new password from the first line of standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long, help = REVOKE_TOKENS_HELP)]
        revoke_tokens: bool,
    },

    /// Shows a user: the username, and whether the password hash is an imported Django one
    /// not yet replaced by Argon2id. Never the password or its hash.
    ShowUser {
        /// The user to show.
        #[arg(long)]
        username: String,
    },

    /// Lists every user, by username, as show-user shows them. Reads the whole credentials
    /// table.
    ListUsers,

    /// Removes a user and revokes every token issued to them.
    DeleteUser {
        /// The user to remove.
        #[arg(long)]
        username: String,
    },

    /// Lists the live token families of a user or a client, oldest first: one per login
    /// (a password grant and its refreshes) or client credentials grant, with when it was
    /// created and last refreshed. Tokens themselves are never shown.
    ListTokens {
        #[command(flatten)]
        owner: OwnerArgs,
    },

    /// Revokes every access and refresh token of a user (e.g. a leaked password) or of a
    /// client (e.g. a leaked secret). Families created in the last second may be missed: the
    /// index behind it is eventually consistent; run it again to be sure.
    RevokeTokens {
        #[command(flatten)]
        owner: OwnerArgs,
    },

    /// Revokes one token family (one login), as listed by list-tokens.
    RevokeFamily {
        /// The family_id from list-tokens.
        #[arg(long)]
        family_id: String,
    },

    /// Deletes the tokens table's expired items (logins, attempt records): for tables without
    /// TTL, such as a multi-Region strongly consistent global table. Expiry never waits for
    /// it; it only keeps the table small. Reads the whole table once.
    SweepExpired,

    /// Imports a django-oauth-toolkit deployment's applications and users from a `manage.py
    /// dumpdata` export, keeping client ids, client secrets and passwords.
    #[command(after_help = IMPORT_HELP)]
    Import(ImportArgs),

    /// Adds a JWT signing key: published at once, signing from now plus the propagation delay,
    /// so that every verifier has it before its first token; the current key signs until then,
    /// and keys retired more than two days ago are dropped. Prints the new kid and signs_from
    /// (Unix seconds). Two rotations at once are saved one after the other.
    RotateSigningKey {
        /// Seconds the new key is published before it signs; default
        /// SIGNING_KEY_PROPAGATION_SECONDS (3600: API Gateway caches keys for up to an hour).
        /// 0 signs with it at once (a leaked key): verifiers that cached the key set refuse
        /// its tokens until they fetch it again.
        #[arg(long, value_name = "SECONDS")]
        propagation_delay: Option<u64>,
    },

    /// Withdraws a JWT signing key at once (a leaked one): unpublished, and no longer
    /// signing; if it signed now, a new key replaces it and signs at once. Introspection and
    /// the Lambda authorizer refuse its tokens once they read the key set again (within
    /// SIGNING_KEYS_REFRESH_SECONDS); gateway JWT authorizers, once their copy of the key set
    /// expires (API Gateway: up to an hour). Tokens it signed stop working: clients refresh.
    /// Prints the kid, the replacement's kid (or null) and the set's version.
    RevokeSigningKey {
        /// The key's id, as list-signing-keys shows it.
        #[arg(value_name = "KID")]
        kid: String,
    },

    /// Lists the JWT signing keys, by when each starts signing: kid, created_at, signs_from
    /// and status (pending, signing, or retired with retired_at). Never a private key.
    ListSigningKeys,
}

/// The help of --revoke-tokens, for both commands that take it.
const REVOKE_TOKENS_HELP: &str = "Also revoke every access and refresh token issued before, \
    as revoke-tokens does, ending every login (e.g. after a leak). Prints how many were \
    revoked; if revoking fails, the change stands and the exit status is 1.";

// No doc comments on these structs: clap may show them as the command's description.

#[derive(Debug, Args)]
pub struct CreateClientArgs {
    /// Human-readable name of the client.
    #[arg(long)]
    pub(super) name: String,
    /// Space-separated scopes the client may ask for, e.g. "read write"; also its default
    /// scope when it asks for none.
    #[arg(long)]
    pub(super) scope: String,
    /// Comma-separated grant types the client may use: password, refresh_token,
    /// client_credentials.
    #[arg(long, value_name = "GRANT_TYPES")]
    pub(super) grant_types: String,
    /// Use this client id instead of generating one (1 to 100 characters of A-Z a-z 0-9
    /// . _ ~ -), e.g. to keep an existing client's id.
    #[arg(long)]
    pub(super) client_id: Option<String>,
    /// Read the client's existing secret from the first line of standard input instead of
    /// generating one, so a client moving over keeps its credentials. Requires
    /// --client-id.
    #[arg(long, requires = "client_id")]
    pub(super) client_secret_stdin: bool,
    /// The form of its access tokens: opaque (30 characters, checked by this server) or jwt
    /// (RFC 9068, signed with the published keys; API Gateway JWT authorizers check them).
    #[arg(long, value_name = "FORMAT", default_value = "opaque", value_parser = parse_token_format)]
    pub(super) token_format: TokenFormat,
    /// Seconds its access tokens live, if shorter than the server's (ACCESS_TOKEN_LIFETIME_SECONDS):
    /// a revoked JWT keeps passing gateway JWT authorizers until it expires.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=MAX_ACCESS_TOKEN_LIFETIME))]
    pub(super) access_token_lifetime: Option<u64>,
    /// DPoP (RFC 9449): required (every token request proves a key; tokens and refresh
    /// tokens are bound to it), allowed (a request with a proof gets a bound token) or off.
    #[arg(long, value_name = "POLICY", default_value = "allowed", value_parser = parse_dpop_policy)]
    pub(super) dpop: DpopPolicy,
    /// How it authenticates: client_secret_basic (a generated or given secret, sent in a Basic
    /// header or the body) or private_key_jwt (RFC 7523: a JWT signed with a key of
    /// --jwks-file; no secret).
    #[arg(long, value_name = "METHOD", default_value = "client_secret_basic")]
    pub(super) auth_method: String,
    /// The private_key_jwt client's public keys: a JWK Set file (`{"keys": [...]}`, EC P-256 or
    /// RSA, with a kid each), or - for standard input.
    #[arg(long, value_name = "PATH")]
    pub(super) jwks_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpdateClientArgs {
    /// The client to change.
    #[arg(long)]
    pub(super) client_id: String,
    #[command(flatten)]
    pub(super) changes: ClientChangeArgs,
}

// At least one change; each flag as create-client takes it.
#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct ClientChangeArgs {
    /// The new name.
    #[arg(long)]
    pub(super) name: Option<String>,
    /// The new space-separated scopes the client may ask for, e.g. "read write".
    #[arg(long)]
    pub(super) scope: Option<String>,
    /// The new comma-separated grant types: password, refresh_token, client_credentials.
    #[arg(long, value_name = "GRANT_TYPES")]
    pub(super) grant_types: Option<String>,
    /// The new access token format: opaque or jwt. Tokens already issued keep theirs.
    #[arg(long, value_name = "FORMAT", value_parser = parse_token_format)]
    pub(super) token_format: Option<TokenFormat>,
    /// The new access token lifetime in seconds; 0: the server's.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(0..=MAX_ACCESS_TOKEN_LIFETIME))]
    pub(super) access_token_lifetime: Option<u64>,
    /// The new DPoP policy: required, allowed or off. Refresh tokens already bound stay bound.
    #[arg(long, value_name = "POLICY", value_parser = parse_dpop_policy)]
    pub(super) dpop: Option<DpopPolicy>,
    /// New private_key_jwt keys (a JWK Set file, or - for standard input), replacing the
    /// registered ones: list the old and the new key while the client rotates. A secret
    /// client keeps its secret too, until --auth-method private_key_jwt.
    #[arg(long, value_name = "PATH")]
    pub(super) jwks_file: Option<PathBuf>,
    /// Ends a move: private_key_jwt removes the secret (the client must have keys);
    /// client_secret_basic removes the keys (it must have a secret: rotate-client-secret).
    #[arg(long, value_name = "METHOD")]
    pub(super) auth_method: Option<String>,
}

fn parse_dpop_policy(value: &str) -> Result<DpopPolicy, String> {
    value
        .parse()
        .map_err(|error: UnknownDpopPolicy| error.to_string())
}

fn parse_token_format(value: &str) -> Result<TokenFormat, String> {
    value
        .parse()
        .map_err(|error: UnknownTokenFormat| error.to_string())
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The dumpdata JSON file, or - for standard input.
    #[arg(long, value_name = "PATH")]
    pub(super) file: PathBuf,
    /// Space-separated scopes every imported client may ask for, e.g. "read write":
    /// django-oauth-toolkit applications have no scopes of their own (give its SCOPES).
    #[arg(long)]
    pub(super) scope: String,
    /// The application model's label, if OAUTH2_PROVIDER_APPLICATION_MODEL swaps it.
    #[arg(long, default_value = import::APPLICATION_MODEL)]
    pub(super) application_model: String,
    /// The user model's label, if AUTH_USER_MODEL swaps it.
    #[arg(long, default_value = import::USER_MODEL)]
    pub(super) user_model: String,
    /// The user model's USERNAME_FIELD.
    #[arg(long, default_value = import::USERNAME_FIELD)]
    pub(super) username_field: String,
}

/// Whose tokens: exactly one of --username and --client-id.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct OwnerArgs {
    /// The user whose tokens to act on.
    #[arg(long)]
    pub(super) username: Option<String>,
    /// The client whose tokens to act on.
    #[arg(long)]
    pub(super) client_id: Option<String>,
}
