#[path = "../support/mod.rs"]
mod support;

mod cache;
mod fetch;
