//! The adapters of the storage ports ([`crate::domain::store`]), side by side:
//! [`dynamodb::DynamoStore`] for production and [`memory::MemoryStore`] for local runs and fast
//! tests. One conformance suite checks that they behave alike.

pub mod dynamodb;
pub mod memory;

pub use dynamodb::DynamoStore;
pub use memory::MemoryStore;

use std::future::Future;

use crate::domain::store::StoreError;

/// Connecting ahead of the first request: the Lambda's init runs it, for either store.
pub trait WarmUp {
    /// Failure is not fatal: the first request connects instead.
    fn warm_up(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl WarmUp for DynamoStore {
    fn warm_up(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        DynamoStore::warm_up(self)
    }
}

/// Nothing to connect to.
impl WarmUp for MemoryStore {
    async fn warm_up(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
