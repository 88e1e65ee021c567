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

/// The `IEND` chunk every PNG file ends with: zero length, type, CRC.
const PNG_END: &[u8] = b"\0\0\0\0IEND\xae\x42\x60\x82";

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
    /// that a cached copy cut short by a crash is rendered again. A PNG must start with the PNG
    /// signature and end with the `IEND` chunk, and an SVG must end with `</svg>`.
    pub fn is_complete(self, bytes: &[u8]) -> bool {
        match self {
            Self::Png => bytes.starts_with(PNG_SIGNATURE) && bytes.ends_with(PNG_END),
            Self::Svg => bytes.trim_ascii_end().ends_with(b"</svg>"),
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
