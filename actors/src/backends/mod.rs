//! The backend ports. Each trait has an embedded implementation (no services) and a production
//! one, both in the binary crate under `src/backends/`; code above a trait does not know which
//! one it has.

pub mod blob;
pub mod cache;
pub mod queue;
pub mod search;
