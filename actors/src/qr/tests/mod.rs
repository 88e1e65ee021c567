//! Tests of the QR renderer: option parsing, rendering decoded back with rqrr, content keys and
//! the caching pool.

mod key;
mod memory_store;
mod options;
mod pool;
mod render;
mod support;
