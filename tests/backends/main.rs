//! Contract suites of the backend ports, run against every implementation that can be reached.

// A backend test that cannot reach its server prints one line saying so.
#![allow(clippy::print_stderr, clippy::print_stdout)]

#[path = "../support/mod.rs"]
mod support;

mod blob;
mod cache;
mod database;
mod fetch;
mod queue;
mod search;
