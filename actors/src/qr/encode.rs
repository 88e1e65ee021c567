//! Turns text into a QR module matrix with the qrcode crate.
//!
//! The qrcode crate's automatic encoding may put byte pairs that look like Shift JIS into kanji
//! mode, which changes UTF-8 text when a scanner decodes it. So the data is segmented here: kanji
//! segments become byte segments, and text that is not ASCII is preceded by the ECI designator
//! for UTF-8 (26) so that scanners do not read it as ISO-8859-1.

use super::QrError;
use super::mask::apply_best_mask;
use super::options::EcLevel;
use qrcode::Version;
use qrcode::bits::Bits;
use qrcode::canvas::Canvas;
use qrcode::optimize::{Optimizer, Parser, Segment, total_encoded_len};
use qrcode::types::Mode;

/// The ECI designator for UTF-8.
const UTF8_ECI: u32 = 26;
/// Bits of an ECI header with a designator below 128: a 4-bit mode and an 8-bit designator.
const ECI_HEADER_BITS: usize = 12;
/// The largest normal QR version, 177 modules wide.
const MAX_VERSION: i16 = 40;

/// Returns the maximum number of bytes that fit in version 40 at `level` in byte mode, which
/// encodes any text. With `utf8` the ECI header costs one byte. Digits and upper-case text pack
/// more densely, so longer strings of them fit.
pub fn max_bytes(level: EcLevel, utf8: bool) -> usize {
    let ascii = match level {
        EcLevel::L => 2953,
        EcLevel::M => 2331,
        EcLevel::Q => 1663,
        EcLevel::H => 1273,
    };
    if utf8 { ascii - 1 } else { ascii }
}

/// The dark and light modules of a code, without its quiet zone.
pub(crate) struct ModuleGrid {
    /// Modules per side.
    pub width: usize,
    /// Row-major, `true` for a dark module.
    pub dark: Vec<bool>,
}

impl ModuleGrid {
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.width + x]
    }
}

/// Encodes `data` in the smallest version that fits it at `level`.
pub(crate) fn encode(data: &str, level: EcLevel) -> Result<ModuleGrid, QrError> {
    let bytes = data.as_bytes();
    let utf8 = !data.is_ascii();
    let parsed: Vec<Segment> = Parser::new(bytes).map(without_kanji).collect();
    // Greedy segment merging is not optimal, so one byte-mode segment is also tried. Every
    // string of at most `max_bytes` bytes fits that way, which makes the limit exact.
    let whole = [Segment {
        mode: Mode::Byte,
        begin: 0,
        end: bytes.len(),
    }];

    for number in 1..=MAX_VERSION {
        let version = Version::Normal(number);
        let optimized: Vec<Segment> = Optimizer::new(parsed.iter().copied(), version).collect();
        for segments in [optimized.as_slice(), whole.as_slice()] {
            if fits(segments, version, level, utf8) {
                return build(bytes, segments, version, level, utf8);
            }
        }
    }
    Err(QrError::DataTooLong {
        len: bytes.len(),
        max: max_bytes(level, utf8),
        ecl: level,
    })
}

fn without_kanji(segment: Segment) -> Segment {
    match segment.mode {
        Mode::Kanji => Segment {
            mode: Mode::Byte,
            ..segment
        },
        _ => segment,
    }
}

fn fits(segments: &[Segment], version: Version, level: EcLevel, utf8: bool) -> bool {
    let header = if utf8 { ECI_HEADER_BITS } else { 0 };
    let needed = header + total_encoded_len(segments, version);
    match Bits::new(version).max_len(level.to_qrcode()) {
        Ok(capacity) => needed <= capacity,
        Err(_) => false,
    }
}

/// Builds the code as `QrCode::with_bits` does, but with this crate's faster mask selection.
fn build(
    bytes: &[u8],
    segments: &[Segment],
    version: Version,
    level: EcLevel,
    utf8: bool,
) -> Result<ModuleGrid, QrError> {
    let level = level.to_qrcode();
    let mut bits = Bits::new(version);
    if utf8 {
        bits.push_eci_designator(UTF8_ECI)
            .map_err(encoding_failed)?;
    }
    bits.push_segments(bytes, segments.iter().copied())
        .map_err(encoding_failed)?;
    bits.push_terminator(level).map_err(encoding_failed)?;

    let (data, error_correction) =
        qrcode::ec::construct_codewords(&bits.into_bytes(), version, level)
            .map_err(encoding_failed)?;
    let mut canvas = Canvas::new(version, level);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &error_correction);
    let width = usize::try_from(version.width()).unwrap_or_default();
    Ok(ModuleGrid {
        width,
        dark: apply_best_mask(&canvas, width),
    })
}

/// Wraps a qrcode error for bits that [`fits`] accepted, which means a bug on one side or the
/// other.
fn encoding_failed(error: qrcode::types::QrError) -> QrError {
    QrError::EncodingFailed {
        format: "QR matrix",
        message: error.to_string(),
    }
}
