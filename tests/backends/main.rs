//! Backend contract suites: the same cases against every implementation of a port.

#[path = "../support/mod.rs"]
mod support;

mod search;
