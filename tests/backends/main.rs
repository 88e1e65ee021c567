//! Contract suites of the backend ports, run against every implementation that can be reached.

#[path = "../support/mod.rs"]
mod support;

mod blob;
mod cache;
mod fetch;
mod queue;
