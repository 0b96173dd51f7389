//! The DynamoDB adapter.
//!
//! Two tables, both keyed by a string `pk`:
//! - credentials: clients (`CLIENT#<client_id>`) and users (`USER#<username>`); the token
//!   function only reads them, except to replace an imported Django hash with Argon2id. One
//!   more item, `SIGNING_KEYS`, holds the JWT signing key set;
//! - tokens: one item per login (`FAMILY#<id>`, see `families`) holding its current access and
//!   refresh token (as hashes), its secret and the refresh token it used last, with the TTL
//!   attribute `expires_at` (epoch seconds). Tokens name their family, so a token is read by
//!   its family's key. TTL deletion lags (and a multi-Region strongly consistent table has no
//!   TTL), so every read also compares the expiries with now. Two sparse indexes find a user's
//!   or a client's families. Password attempt counters live there too, keyed by digests of
//!   the username and source address. Items of the previous version (a token per item, keyed
//!   by its hash) are still read.
//!
//! A grant is two sequential round trips: one `BatchGetItem` for everything it reads (the
//! password grant sends its attempt-taking `UpdateItem` beside it), one single-item write for
//! everything it writes (no transaction anywhere on the token paths).
//!
//! The files, by concern:
//! - `item`: an item as the SDK holds it;
//! - `errors`: the SDK's outcomes and errors as `StoreError`s;
//! - `keys`: the partition key and the key of each kind of item;
//! - `mapping`: records to items and back;
//! - `schema`: the tables as data (keys, indexes, TTL, billing), checked against template.yaml;
//! - `provisioning`: `create_tables`, which makes the tables of `schema` exist;
//! - `reads`: the batched read of a grant, single reads of the tokens table, and the scan that
//!   lists clients or users;
//! - `families`: the family item, the token it holds for a hash, and its single-item writes;
//! - `credential_writes`: conditional single-item writes to the credentials table (creating,
//!   updating, replacing a hash, deleting);
//! - `login_attempts`: the password attempt counters, one conditional update per decision;
//! - `logins`: a user's logins registered on their item (a bounded number), and ending them;
//! - `replay`: used `jti`s of DPoP proofs and client assertions, one conditional put each;
//! - `signing_keys`: the JWT signing key set (`impl KeySetStore`), one versioned item;
//! - `sweep`: removal of expired items where the table has no TTL;
//! - `port`: `impl Store for DynamoStore`, which puts the above together.

use aws_sdk_dynamodb::Client as DynamoClient;

use crate::config::TablesConfig;
use crate::domain::clock::UnixSeconds;
use crate::domain::service::GRANTS_IN_FLIGHT_WAIT;
use crate::domain::store::StoreError;

mod credential_writes;
mod errors;
mod families;
mod item;
mod keys;
mod login_attempts;
mod logins;
mod mapping;
mod port;
mod provisioning;
mod reads;
mod replay;
mod schema;
mod signing_keys;
mod sweep;

use errors::unavailable;
use keys::key;

pub use schema::{FAMILIES_BY_CLIENT, FAMILIES_BY_USER, TTL_ATTRIBUTE};

/// The names of the two tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub credentials: String,
    pub tokens: String,
}

impl From<&TablesConfig> for TableNames {
    fn from(config: &TablesConfig) -> Self {
        Self {
            credentials: config.credentials.clone(),
            tokens: config.tokens.clone(),
        }
    }
}

#[derive(Clone)]
pub struct DynamoStore {
    client: DynamoClient,
    tables: TableNames,
    /// The most items one page of a listing's `Scan` evaluates; `None`: DynamoDB's own limit
    /// of 1 MB a page.
    scan_page_items: Option<i32>,
    /// How long after a login starts the families index surely lists its family (see
    /// `logins`): [`GRANTS_IN_FLIGHT_WAIT`] by default.
    index_lag: UnixSeconds,
}

impl DynamoStore {
    pub fn new(client: DynamoClient, tables: TableNames) -> Self {
        Self {
            client,
            tables,
            scan_page_items: None,
            index_lag: GRANTS_IN_FLIGHT_WAIT.as_secs(),
        }
    }

    /// Takes the families index to list a login's family within `seconds` of its start,
    /// instead of [`GRANTS_IN_FLIGHT_WAIT`]: tests against a server whose index has no lag use
    /// a second, so that ending the logins of a user who logs in often waits no longer.
    pub fn with_index_lag(mut self, seconds: UnixSeconds) -> Self {
        self.index_lag = seconds;
        self
    }

    /// Makes each page of a listing evaluate at most `items` items, so that tests can make
    /// a listing span many pages without writing megabytes.
    pub fn with_scan_page_items(mut self, items: i32) -> Self {
        self.scan_page_items = Some(items);
        self
    }

    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// Opens the connection to DynamoDB (DNS, TCP, TLS) with one cheap read, so the first
    /// request does not pay for it. On Lambda this runs during init, which has the full CPU;
    /// at small memory sizes the TLS handshake otherwise adds hundreds of milliseconds to the
    /// first request. Failure is not fatal: the first request will connect instead.
    pub async fn warm_up(&self) -> Result<(), StoreError> {
        // The tokens table: the authorizer function may read only that one.
        self.client
            .get_item()
            .table_name(&self.tables.tokens)
            .set_key(Some(key("WARMUP#connection".to_owned())))
            .send()
            .await
            .map(drop)
            .map_err(unavailable)
    }
}
