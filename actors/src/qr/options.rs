//! Options of a QR image, parsed from the query string of a QR request.
//!
//! | parameter | meaning | accepted | default |
//! |---|---|---|---|
//! | `size` | width and height of the image in pixels | 64 to 2048 | 256 |
//! | `margin` | quiet zone around the code, in modules | 0 to 16 | 4 |
//! | `ecl` | error correction level | `L`, `M`, `Q`, `H` (any case) | `M` |
//! | `fg` | color of the dark modules | `rgb` or `rrggbb` hex, optional `#` | `000000` |
//! | `bg` | color of the background | `rgb` or `rrggbb` hex, optional `#` | `ffffff` |
//!
//! QR Code requires a quiet zone 4 modules wide on every side (Denso Wave, who created QR Code:
//! <http://www.denso-wave.com/qrcode/qrgene4-e.html>). A smaller margin is accepted for images
//! placed on a light background of their own, but scanners may fail to find the code below 4.
//!
//! A raw `#` starts the URL fragment, which browsers never send, so a client writes `fg=1a2b3c`
//! or `fg=%231a2b3c`.
//!
//! Colors are checked with the WCAG 2 contrast ratio `(L1 + 0.05) / (L2 + 0.05)` of their relative
//! luminances. A pair below [`MIN_CONTRAST_RATIO`] is rejected. rqrr 0.11 still reads a clean
//! image down to about 1.5:1, but glare, print and camera noise erase a small difference, and
//! scanners that light the code with red LEDs see pure red (4.0:1 on white) as light.
//!
//! Light modules on a dark background are rejected too, because rqrr 0.11 finds no code in them
//! (see the tests) and scanners that look only for dark finder patterns fail the same way.
//!
//! Unknown parameters and parameters given twice are rejected rather than ignored, so a typo such
//! as `colour=` or `ecc=` fails loudly instead of returning the default image. Clients never need
//! cache-busting parameters because every image URL is immutable.

use std::fmt;

/// Smallest accepted `size`, in pixels.
pub const MIN_SIZE: u32 = 64;
/// Largest accepted `size`, in pixels.
pub const MAX_SIZE: u32 = 2048;
pub const DEFAULT_SIZE: u32 = 256;
/// Largest accepted `margin`, in modules.
pub const MAX_MARGIN: u32 = 16;
/// The quiet zone width that QR Code requires, in modules.
pub const DEFAULT_MARGIN: u32 = 4;
/// Minimum WCAG 2 contrast ratio between `fg` and `bg`: the level AA minimum that WCAG 2 sets
/// for normal text (success criterion 1.4.3).
pub const MIN_CONTRAST_RATIO: f64 = 4.5;
/// The query parameters that [`QrOptions::from_pairs`] accepts.
pub const OPTION_NAMES: [&str; 5] = ["size", "margin", "ecl", "fg", "bg"];

/// Maximum length of an option value quoted in an error message, in characters.
const MAX_ECHOED_CHARS: usize = 64;

/// The error correction level: the share of codewords that can be damaged and still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcLevel {
    /// About 7 % of codewords.
    L,
    /// About 15 % of codewords.
    M,
    /// About 25 % of codewords.
    Q,
    /// About 30 % of codewords.
    H,
}

impl EcLevel {
    pub const ALL: [EcLevel; 4] = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H];

    /// Parses `L`, `M`, `Q` or `H` in either case.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "L" | "l" => Some(Self::L),
            "M" | "m" => Some(Self::M),
            "Q" | "q" => Some(Self::Q),
            "H" | "h" => Some(Self::H),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::L => "L",
            Self::M => "M",
            Self::Q => "Q",
            Self::H => "H",
        }
    }

    pub(crate) fn to_qrcode(self) -> qrcode::EcLevel {
        match self {
            Self::L => qrcode::EcLevel::L,
            Self::M => qrcode::EcLevel::M,
            Self::Q => qrcode::EcLevel::Q,
            Self::H => qrcode::EcLevel::H,
        }
    }
}

impl fmt::Display for EcLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An opaque sRGB color. Displays as `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Rgb {
    pub const BLACK: Rgb = Rgb { r: 0, g: 0, b: 0 };
    pub const WHITE: Rgb = Rgb {
        r: 255,
        g: 255,
        b: 255,
    };

    /// Parses `rgb` or `rrggbb` hex digits in either case, with or without a leading `#`.
    pub fn parse(value: &str) -> Option<Self> {
        let digits = value.strip_prefix('#').unwrap_or(value);
        if !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |hex: &str| u8::from_str_radix(hex, 16).ok();
        match digits.len() {
            3 => {
                // `#abc` is shorthand for `#aabbcc`: each digit is doubled, so 0xa becomes 0xaa.
                let short = |index: usize| channel(&digits[index..=index]).map(|value| value * 17);
                Some(Self {
                    r: short(0)?,
                    g: short(1)?,
                    b: short(2)?,
                })
            }
            6 => Some(Self {
                r: channel(&digits[0..2])?,
                g: channel(&digits[2..4])?,
                b: channel(&digits[4..6])?,
            }),
            _ => None,
        }
    }

    /// Computes the WCAG 2 relative luminance, 0.0 for black to 1.0 for white. Channels are
    /// linearized with the sRGB transfer function (threshold 0.04045).
    pub fn relative_luminance(self) -> f64 {
        let linear = |channel: u8| {
            let value = f64::from(channel) / 255.0;
            if value <= 0.04045 {
                value / 12.92
            } else {
                ((value + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(self.r) + 0.7152 * linear(self.g) + 0.0722 * linear(self.b)
    }

    /// Computes the WCAG 2 contrast ratio of two colors, from 1.0 (equal) to 21.0 (black on white).
    pub fn contrast_ratio(self, other: Rgb) -> f64 {
        let (a, b) = (self.relative_luminance(), other.relative_luminance());
        let (lighter, darker) = if a >= b { (a, b) } else { (b, a) };
        (lighter + 0.05) / (darker + 0.05)
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// An invalid QR option. [`QrOptionError::code`] is the stable code for clients and
/// [`QrOptionError::field`] the query parameter at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QrOptionError {
    #[error(
        "size '{value}' is invalid; use a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}"
    )]
    InvalidSize { value: String },
    #[error(
        "margin '{value}' is invalid; use a whole number of modules from 0 to {MAX_MARGIN} \
         (scanners may fail below {DEFAULT_MARGIN})"
    )]
    InvalidMargin { value: String },
    #[error("ecl '{value}' is invalid; use L, M, Q or H")]
    InvalidEcl { value: String },
    #[error(
        "{option} '{value}' is not a hex color; use 3 or 6 hex digits with an optional '#' \
         (sent as %23), for example {option}=1a2b3c"
    )]
    InvalidColor { option: &'static str, value: String },
    #[error(
        "fg {fg} on bg {bg} has a contrast ratio of {ratio:.2}:1; scanners need at least \
         {MIN_CONTRAST_RATIO}:1, so choose a darker fg or a lighter bg"
    )]
    LowContrast { fg: Rgb, bg: Rgb, ratio: f64 },
    #[error(
        "fg {fg} is lighter than bg {bg}; many scanners read only dark modules on a light \
         background, so swap the two colors"
    )]
    Inverted { fg: Rgb, bg: Rgb },
    #[error("query parameter '{name}' is not a QR option; use size, margin, ecl, fg or bg")]
    Unknown { name: String },
    #[error("query parameter '{name}' is given more than once; give it once")]
    Duplicate { name: String },
}

impl QrOptionError {
    /// Stable error code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidSize { .. }
            | Self::InvalidMargin { .. }
            | Self::InvalidEcl { .. }
            | Self::InvalidColor { .. }
            | Self::Duplicate { .. } => "invalid_qr_option",
            Self::LowContrast { .. } => "qr_contrast_too_low",
            Self::Inverted { .. } => "qr_colors_inverted",
            Self::Unknown { .. } => "unknown_qr_option",
        }
    }

    /// Returns the query parameter at fault. Contrast errors name `fg`, the color a caller
    /// usually changes.
    pub fn field(&self) -> String {
        match self {
            Self::InvalidSize { .. } => "size".to_owned(),
            Self::InvalidMargin { .. } => "margin".to_owned(),
            Self::InvalidEcl { .. } => "ecl".to_owned(),
            Self::InvalidColor { option, .. } => (*option).to_owned(),
            Self::LowContrast { .. } | Self::Inverted { .. } => "fg".to_owned(),
            Self::Unknown { name } | Self::Duplicate { name } => name.clone(),
        }
    }
}

/// Validated options of one QR image: every value is in range and the colors pass the contrast
/// check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QrOptions {
    size: u32,
    margin: u32,
    ecl: EcLevel,
    fg: Rgb,
    bg: Rgb,
}

impl Default for QrOptions {
    fn default() -> Self {
        Self {
            size: DEFAULT_SIZE,
            margin: DEFAULT_MARGIN,
            ecl: EcLevel::M,
            fg: Rgb::BLACK,
            bg: Rgb::WHITE,
        }
    }
}

impl QrOptions {
    /// Checks every value against the ranges in the module documentation.
    pub fn new(
        size: u32,
        margin: u32,
        ecl: EcLevel,
        fg: Rgb,
        bg: Rgb,
    ) -> Result<Self, QrOptionError> {
        if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
            return Err(QrOptionError::InvalidSize {
                value: size.to_string(),
            });
        }
        if margin > MAX_MARGIN {
            return Err(QrOptionError::InvalidMargin {
                value: margin.to_string(),
            });
        }
        check_colors(fg, bg)?;
        Ok(Self {
            size,
            margin,
            ecl,
            fg,
            bg,
        })
    }

    /// Parses a raw query string such as `size=512&ecl=h&fg=%23336699`. Percent escapes and `+`
    /// are decoded as in HTML forms.
    pub fn from_query(query: &str) -> Result<Self, QrOptionError> {
        Self::from_pairs(url::form_urlencoded::parse(query.as_bytes()))
    }

    /// Parses decoded query pairs. Missing options take their defaults; unknown or repeated
    /// parameters are errors.
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, QrOptionError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut options = Self::default();
        let mut seen = [false; OPTION_NAMES.len()];
        for (name, value) in pairs {
            let (name, value) = (name.as_ref(), value.as_ref());
            let Some(index) = OPTION_NAMES.iter().position(|known| *known == name) else {
                return Err(QrOptionError::Unknown { name: echo(name) });
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(QrOptionError::Duplicate {
                    name: name.to_owned(),
                });
            }
            options.set(name, value)?;
        }

        check_colors(options.fg, options.bg)?;
        Ok(options)
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), QrOptionError> {
        match name {
            "size" => self.size = parse_size(value)?,
            "margin" => self.margin = parse_margin(value)?,
            "ecl" => {
                self.ecl = EcLevel::parse(value)
                    .ok_or_else(|| QrOptionError::InvalidEcl { value: echo(value) })?;
            }
            "fg" => self.fg = parse_color("fg", value)?,
            _ => self.bg = parse_color("bg", value)?,
        }
        Ok(())
    }

    /// Width and height of the image, in pixels.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Minimum quiet zone on each side, in modules.
    pub fn margin(&self) -> u32 {
        self.margin
    }

    pub fn ecl(&self) -> EcLevel {
        self.ecl
    }

    /// Color of the dark modules.
    pub fn fg(&self) -> Rgb {
        self.fg
    }

    /// Color of the light modules and the quiet zone.
    pub fn bg(&self) -> Rgb {
        self.bg
    }
}

fn parse_size(value: &str) -> Result<u32, QrOptionError> {
    match parse_whole_number(value) {
        Some(size) if (MIN_SIZE..=MAX_SIZE).contains(&size) => Ok(size),
        _ => Err(QrOptionError::InvalidSize { value: echo(value) }),
    }
}

fn parse_margin(value: &str) -> Result<u32, QrOptionError> {
    match parse_whole_number(value) {
        Some(margin) if margin <= MAX_MARGIN => Ok(margin),
        _ => Err(QrOptionError::InvalidMargin { value: echo(value) }),
    }
}

/// Parses ASCII digits only, so `+5` and ` 5` are invalid as well as `5.0`.
fn parse_whole_number(value: &str) -> Option<u32> {
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

fn parse_color(option: &'static str, value: &str) -> Result<Rgb, QrOptionError> {
    Rgb::parse(value).ok_or_else(|| QrOptionError::InvalidColor {
        option,
        value: echo(value),
    })
}

/// Rejects light-on-dark pairs and pairs below [`MIN_CONTRAST_RATIO`].
fn check_colors(fg: Rgb, bg: Rgb) -> Result<(), QrOptionError> {
    if fg.relative_luminance() > bg.relative_luminance() {
        return Err(QrOptionError::Inverted { fg, bg });
    }
    let ratio = fg.contrast_ratio(bg);
    if ratio < MIN_CONTRAST_RATIO {
        return Err(QrOptionError::LowContrast { fg, bg, ratio });
    }
    Ok(())
}

/// Cuts a client value to [`MAX_ECHOED_CHARS`] characters for an error message.
fn echo(value: &str) -> String {
    match value.char_indices().nth(MAX_ECHOED_CHARS) {
        Some((end, _)) => format!("{}...", &value[..end]),
        None => value.to_owned(),
    }
}
