#[path = "../support/mod.rs"]
mod support;

mod queue;
