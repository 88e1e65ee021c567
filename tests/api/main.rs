//! Integration tests that drive the HTTP API of a real application on port 0.

#[path = "../support/mod.rs"]
mod support;

mod faults;
mod helpers;
mod links;
