//! Backend implementations, one module per port and one file per implementation. The traits
//! they implement live in `linkyard_actors::backends`.

pub mod blob;
pub mod cache;
pub mod fetch;
pub mod queue;
pub mod search;
