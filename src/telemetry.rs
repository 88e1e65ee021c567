//! Log output: human-readable text or one JSON object a line.

use crate::settings::{LogFormat, LogSettings};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the global subscriber. `RUST_LOG` takes precedence over the configured filter.
/// Calling it twice keeps the first subscriber, which is what tests that build several
/// applications in one process need.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let result = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if result.is_err() {
        tracing::debug!("a log subscriber was already installed");
    }
}
