//! The page fetcher of bookmark enrichment. Users name the URLs, so every request passes the
//! address guard: each hop's host is resolved once, and only public addresses (or allowlisted
//! ones) reach the connector.

mod allow;
mod guard;
mod ranges;
mod resolver;

pub use allow::{Allowlist, InvalidAllowEntry};
pub use guard::{AddressPolicy, BlockedAddress};
pub use ranges::{NonPublic, non_public_range};
pub use resolver::{HostResolver, StaticResolver, SystemResolver};
