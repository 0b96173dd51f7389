//! The error the start-up functions end with: any error, boxed.

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
