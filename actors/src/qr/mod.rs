//! QR codes for short links and pastes.
//!
//! [`QrOptions`] parses the query options of a QR request, [`render()`] draws a code as PNG or
//! SVG, and [`cache_key`] names each distinct image. The [`QrRenderer`] handle serves images from
//! the blob store and renders a missing one on a pool of workers off the async threads.

mod encode;
mod handle;
mod key;
mod mask;
mod options;
mod png_writer;
mod pool;
mod render;
mod svg_writer;

#[cfg(test)]
mod tests;

pub use encode::max_bytes;
pub use handle::{QrRenderer, QrStats};
pub use key::{blob_key, cache_key, etag};
pub use options::{
    DEFAULT_MARGIN, DEFAULT_SIZE, EcLevel, MAX_MARGIN, MAX_SIZE, MIN_CONTRAST_RATIO, MIN_SIZE,
    OPTION_NAMES, QrOptionError, QrOptions, Rgb,
};
pub use pool::{QrFactory, QrJob, QrPoolConfig, QrWorker, child_spec};
pub use render::{QrFormat, Rendered, render};

use crate::backends::blob::BlobError;
use crate::supervisor::ActorUnavailable;
use std::sync::Arc;

#[derive(Debug, Clone, thiserror::Error)]
pub enum QrError {
    #[error(transparent)]
    InvalidOption(#[from] QrOptionError),
    #[error(
        "data is {len} bytes long; a QR code with error correction level {ecl} holds at most \
         {max} bytes, so shorten the data or choose a lower ecl"
    )]
    DataTooLong {
        len: usize,
        max: usize,
        ecl: EcLevel,
    },
    #[error(
        "size {size} px is too small for this code, which is {modules} modules wide with its \
         margin; use a size of at least {modules} px or a smaller margin"
    )]
    SizeTooSmall { size: u32, modules: u32 },
    /// An encoder rejected its input, which is a bug rather than bad input.
    #[error("encoding the {format} failed: {message}")]
    EncodingFailed {
        format: &'static str,
        message: String,
    },
    #[error("the QR image cache in the {backend} blob store failed: {source}")]
    Backend {
        backend: &'static str,
        #[source]
        source: Arc<BlobError>,
    },
    #[error(transparent)]
    Unavailable(#[from] ActorUnavailable),
}

impl QrError {
    /// Stable error code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidOption(error) => error.code(),
            Self::DataTooLong { .. } => "qr_data_too_long",
            Self::SizeTooSmall { .. } => "qr_size_too_small",
            Self::EncodingFailed { .. } => "qr_encoding_failed",
            Self::Backend { .. } => "backend_unavailable",
            Self::Unavailable(_) => "actor_unavailable",
        }
    }

    /// Returns the query parameter at fault, for errors that the client caused through one.
    pub fn field(&self) -> Option<String> {
        match self {
            Self::InvalidOption(error) => Some(error.field()),
            Self::SizeTooSmall { .. } => Some("size".to_owned()),
            _ => None,
        }
    }
}
