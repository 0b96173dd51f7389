//! The adapters of the storage port ([`crate::domain::store::Store`]), side by side:
//! [`dynamodb::DynamoStore`] for production and [`memory::MemoryStore`] for local runs and fast
//! tests. One conformance suite checks that they behave alike.

pub mod dynamodb;
pub mod memory;

pub use dynamodb::DynamoStore;
pub use memory::MemoryStore;
