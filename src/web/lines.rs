//! The numbered line listing of a paste: line anchors, marked line ranges and text direction.
//!
//! Every line has an anchor (`id="L10"`) that CSS `:target` marks. A range cannot be marked from
//! a fragment without JavaScript, because browsers do not send fragments to the server. So
//! ranges travel in the query string (`?hl=10-20`) and the server marks them. The line numbers
//! link to the ranges that start at the currently marked line, so two clicks mark a range.

use maud::{Markup, PreEscaped, html};
use std::fmt;
use std::str::FromStr;
use unicode_bidi::{BidiClass, bidi_class};

/// The query parameter that carries a marked line range.
pub const LINE_RANGE_PARAMETER: &str = "hl";

/// The longest prefix of a text that is scanned to choose its direction.
const DIRECTION_SAMPLE_BYTES: usize = 64 * 1024;

/// A 1-based, inclusive range of lines, such as `10-20` or the single line `7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRange {
    start: usize,
    end: usize,
}

/// A line range that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineRangeError {
    #[error(
        "line range '{value}' is invalid; use a line number such as 10 or a range such as 10-20"
    )]
    Invalid { value: String },
    #[error("line range '{value}' contains line 0; lines are numbered from 1")]
    Zero { value: String },
}

impl LineRangeError {
    /// Stable error code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_line_range",
            Self::Zero { .. } => "line_range_zero",
        }
    }
}

impl LineRange {
    /// Builds the range between two line numbers, given in either order. Line numbers start
    /// at 1, so 0 returns `None`.
    pub fn new(first: usize, second: usize) -> Option<Self> {
        if first == 0 || second == 0 {
            return None;
        }
        Some(Self {
            start: first.min(second),
            end: first.max(second),
        })
    }

    pub fn start(self) -> usize {
        self.start
    }

    pub fn end(self) -> usize {
        self.end
    }

    pub fn contains(self, line: usize) -> bool {
        (self.start..=self.end).contains(&line)
    }
}

impl FromStr for LineRange {
    type Err = LineRangeError;

    /// Parses `10`, `10-20`, `L10` or `L10-L20`; a reversed range is put in order.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let invalid = || LineRangeError::Invalid {
            value: value.to_owned(),
        };
        let number = |part: &str| -> Result<usize, LineRangeError> {
            let digits = part.trim().trim_start_matches(['L', 'l']);
            if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(invalid());
            }
            digits.parse().map_err(|_| invalid())
        };

        let (first, second) = match value.split_once('-') {
            Some((first, second)) => (number(first)?, number(second)?),
            None => {
                let line = number(value)?;
                (line, line)
            }
        };
        Self::new(first, second).ok_or_else(|| LineRangeError::Zero {
            value: value.to_owned(),
        })
    }
}

impl fmt::Display for LineRange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(formatter, "{}", self.start)
        } else {
            write!(formatter, "{}-{}", self.start, self.end)
        }
    }
}

/// Returns the anchor id of a line, such as `L10`.
pub fn line_id(line: usize) -> String {
    format!("L{line}")
}

/// Returns the `href` of a line number. Without a marked range, the link marks the line. With
/// one, it marks the range from the marked range's first line to this line. On that first line
/// itself it clears the marking, by linking to `page_url`.
pub fn line_href(line: usize, marked: Option<LineRange>, page_url: &str) -> String {
    let anchor = marked.map(LineRange::start);
    if anchor == Some(line) {
        return format!("{page_url}#L{line}");
    }
    let range = anchor.and_then(|anchor| LineRange::new(anchor, line));
    let range = range.unwrap_or(LineRange {
        start: line,
        end: line,
    });
    format!("?{LINE_RANGE_PARAMETER}={range}#L{}", range.start)
}

/// Renders `lines` (HTML fragments from the highlighter, already escaped) as a table with
/// numbered, linked lines. `direction` is `ltr` or `rtl`, and each line still resolves its own
/// direction with `dir="auto"`.
pub fn line_table(
    lines: &[String],
    marked: Option<LineRange>,
    page_url: &str,
    direction: &str,
) -> Markup {
    html! {
        div.code.hl-code dir=(direction) {
            table.lines {
                tbody {
                    @for (index, line) in lines.iter().enumerate() {
                        @let number = index + 1;
                        @let is_marked = marked.is_some_and(|range| range.contains(number));
                        tr id=(line_id(number)) class=[is_marked.then_some("marked")] {
                            td.ln {
                                a href=(line_href(number, marked, page_url)) { (number) }
                            }
                            td.lc dir="auto" { (PreEscaped(line.as_str())) }
                        }
                    }
                }
            }
        }
    }
}

/// Chooses the base direction of a text, `rtl` or `ltr`. It is `rtl` when the strongly
/// right-to-left characters (Hebrew, Arabic and other scripts of Unicode bidi class R or AL)
/// outnumber the strongly left-to-right ones in the first 64 KiB.
pub fn text_direction(text: &str) -> &'static str {
    let mut sample_end = text.len().min(DIRECTION_SAMPLE_BYTES);
    while !text.is_char_boundary(sample_end) {
        sample_end -= 1;
    }

    let (mut left_to_right, mut right_to_left) = (0usize, 0usize);
    for character in text[..sample_end].chars() {
        match bidi_class(character) {
            BidiClass::L => left_to_right += 1,
            BidiClass::R | BidiClass::AL => right_to_left += 1,
            _ => {}
        }
    }
    if right_to_left > left_to_right {
        "rtl"
    } else {
        "ltr"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ranges_parse() {
        for (input, start, end) in [
            ("10", 10, 10),
            ("10-20", 10, 20),
            ("20-10", 10, 20),
            ("L10-L20", 10, 20),
            ("l7", 7, 7),
            (" 3 - 4 ", 3, 4),
        ] {
            let range: LineRange = input.parse().expect(input);
            assert_eq!(
                (range.start(), range.end()),
                (start, end),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn invalid_line_ranges_fail() {
        for input in [
            "",
            "-",
            "a",
            "10-",
            "-10",
            "1-2-3",
            "+5",
            "99999999999999999999999",
        ] {
            let error = input.parse::<LineRange>().expect_err(input);
            assert_eq!(error.code(), "invalid_line_range", "input {input:?}");
        }
        let error = "0-5".parse::<LineRange>().expect_err("line 0");
        assert_eq!(error.code(), "line_range_zero");
        assert!(error.to_string().contains("'0-5'"));
    }

    #[test]
    fn line_ranges_display_compactly() {
        assert_eq!(LineRange::new(4, 4).expect("range").to_string(), "4");
        assert_eq!(LineRange::new(9, 4).expect("range").to_string(), "4-9");
        assert_eq!(LineRange::new(0, 4), None);
    }

    #[test]
    fn line_links_build_ranges() {
        let page = "/p/abc";
        assert_eq!(line_href(5, None, page), "?hl=5#L5");

        let single = LineRange::new(3, 3);
        assert_eq!(line_href(8, single, page), "?hl=3-8#L3");
        assert_eq!(line_href(1, single, page), "?hl=1-3#L1");
        assert_eq!(line_href(3, single, page), "/p/abc#L3");

        let range = LineRange::new(3, 6);
        assert_eq!(line_href(4, range, page), "?hl=3-4#L3");
        assert_eq!(line_href(3, range, page), "/p/abc#L3");
    }

    #[test]
    fn direction_follows_majority() {
        assert_eq!(text_direction("fn main() {}"), "ltr");
        assert_eq!(text_direction("שלום עולם, מה שלומך?"), "rtl");
        assert_eq!(text_direction("مرحبا بالعالم"), "rtl");
        assert_eq!(text_direction("let x = 1; // שלום"), "ltr");
        assert_eq!(text_direction("שלום עולם hello"), "rtl");
        assert_eq!(text_direction("12345 !?"), "ltr");
        assert_eq!(text_direction(""), "ltr");
    }

    #[test]
    fn direction_sample_cuts_on_char_boundary() {
        let text = format!("a{}", "ש".repeat(DIRECTION_SAMPLE_BYTES));
        assert_eq!(text_direction(&text), "rtl");
    }
}
