#[path = "../support/mod.rs"]
mod support;

mod blob;
