//! Renders a QR code as PNG or SVG.
//!
//! How `size` maps to pixels: the image is exactly `size` × `size` pixels. The code is
//! `width + 2 × margin` modules across, where `width` is 21 to 177 by version. Each module gets
//! the largest whole number of pixels that fits, so edges stay crisp at any scale. The pixels
//! left over are split between the two sides as extra quiet zone, and the odd one goes to the
//! right and bottom. So `margin` is a minimum, and the quiet zone is wider when `size` is not a
//! multiple of the module count. A code that needs more modules than `size` has pixels is
//! rejected with [`QrError::SizeTooSmall`].

use super::encode::encode;
use super::options::QrOptions;
use super::{QrError, png_writer, svg_writer};
use bytes::Bytes;
use std::fmt;

/// The eight bytes every PNG file starts with.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The bytes of a PNG chunk around its data: length and type before it, CRC after it.
const PNG_CHUNK_OVERHEAD: usize = 12;

/// The image formats a QR code is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QrFormat {
    Png,
    Svg,
}

impl QrFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Svg => "image/svg+xml",
        }
    }

    /// Returns the file extension, without a dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Svg => "svg",
        }
    }

    /// Returns whether `bytes` are a whole image of this format as the renderer writes it, so
    /// that a cached copy damaged by a power cut is rendered again. A PNG must be the signature
    /// and chunks with matching CRCs up to `IEND` at its end. An SVG must start with an XML
    /// declaration or `<svg`, and end with `</svg>`.
    // NOTE: an SVG has no checksum, so one whose middle blocks a power cut left stale while its
    // first and last block were written still passes. Such blocks need a filesystem without
    // ordered data writes, such as ext4 without a journal, and an SVG larger than one block.
    pub fn is_complete(self, bytes: &[u8]) -> bool {
        match self {
            Self::Png => is_whole_png(bytes),
            Self::Svg => {
                let start = bytes.trim_ascii_start();
                (start.starts_with(b"<?xml") || start.starts_with(b"<svg"))
                    && bytes.trim_ascii_end().ends_with(b"</svg>")
            }
        }
    }

    /// Parses a file extension such as `png` (lower case, without a dot).
    pub fn from_extension(extension: &str) -> Option<Self> {
        match extension {
            "png" => Some(Self::Png),
            "svg" => Some(Self::Svg),
            _ => None,
        }
    }
}

/// Returns whether `bytes` are the PNG signature followed by chunks whose CRCs match, the last
/// of them `IEND` and ending at the last byte.
fn is_whole_png(bytes: &[u8]) -> bool {
    let Some(mut rest) = bytes.strip_prefix(PNG_SIGNATURE) else {
        return false;
    };
    while let Some(header) = rest.first_chunk::<8>() {
        let [l0, l1, l2, l3, kind @ ..] = *header;
        let Ok(length) = usize::try_from(u32::from_be_bytes([l0, l1, l2, l3])) else {
            return false;
        };
        let Some(chunk) = length
            .checked_add(PNG_CHUNK_OVERHEAD)
            .and_then(|chunk_length| rest.get(..chunk_length))
        else {
            return false;
        };
        let (covered, stored) = chunk[4..].split_at(4 + length);
        if stored != crc32fast::hash(covered).to_be_bytes() {
            return false;
        }
        rest = &rest[chunk.len()..];
        if &kind == b"IEND" {
            return rest.is_empty();
        }
    }
    false
}

impl fmt::Display for QrFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// An encoded image, ready to be sent or stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub bytes: Bytes,
    pub content_type: &'static str,
}

/// The position and scale of the modules in the image, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Width and height of the image.
    pub size: u32,
    /// Width and height of one module.
    pub module: u32,
    /// Distance from the left and top edges to the first module.
    pub offset: u32,
}

impl Layout {
    /// Fits `width` modules plus `margin` modules on each side into `size` pixels.
    pub fn new(width: usize, size: u32, margin: u32) -> Result<Self, QrError> {
        let modules = u32::try_from(width)
            .unwrap_or(u32::MAX)
            .saturating_add(2 * margin);
        let module = size / modules;
        if module == 0 {
            return Err(QrError::SizeTooSmall { size, modules });
        }
        let leftover = size - module * modules;
        Ok(Self {
            size,
            module,
            offset: margin * module + leftover / 2,
        })
    }
}

/// Encodes `data` and draws it in `format`.
pub fn render(data: &str, options: &QrOptions, format: QrFormat) -> Result<Rendered, QrError> {
    let grid = encode(data, options.ecl())?;
    let layout = Layout::new(grid.width, options.size(), options.margin())?;

    let bytes = match format {
        QrFormat::Png => png_writer::write(&grid, layout, options.fg(), options.bg())?,
        QrFormat::Svg => svg_writer::write(&grid, layout, options.fg(), options.bg()),
    };
    Ok(Rendered {
        bytes: Bytes::from(bytes),
        content_type: format.content_type(),
    })
}
