//! The background jobs this service runs, and the handler of each kind.

use crate::app::AppState;
use linkyard_actors::backends::queue::JobHandlers;
use std::sync::Arc;

/// Returns a handler for every job kind, sharing the application's state.
pub fn handlers(_state: &Arc<AppState>) -> JobHandlers {
    JobHandlers::new()
}
