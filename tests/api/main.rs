//! Integration tests that drive the HTTP API of a real application on port 0.

// A backend test that cannot reach its server prints one line saying so.
#![allow(clippy::print_stderr, clippy::print_stdout)]

#[path = "../support/mod.rs"]
mod support;

mod analytics;
mod bookmarks;
mod browser;
mod faults;
mod helpers;
mod instances;
mod links;
mod ops;
mod pastes;
mod qr;
mod scale_out;
mod shutdown;
