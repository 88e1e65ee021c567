//! linkyard: short links with click analytics, a pastebin, QR codes and bookmarks behind one
//! REST API. This crate is the binary's library: configuration, the HTTP front end, the backend
//! adapters and the wiring in [`app::Application`].

pub mod app;
pub mod backends;
pub mod bookmark_commands;
pub mod cli;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod migrate;
pub mod settings;
pub mod telemetry;
pub mod web;

pub use app::Application;
pub use settings::Settings;
