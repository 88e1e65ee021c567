//! Text clean-up shared by every metadata field: entity decoding, tag stripping, whitespace
//! collapsing and length caps.

use html5ever::data::{C1_REPLACEMENTS, NAMED_ENTITIES};

/// Maximum length of a name in the HTML named character reference table
/// ("CounterClockwiseContourIntegral;").
const MAX_ENTITY_NAME_CHARS: usize = 33;

/// Cleans a value that the HTML parser has already decoded once (attribute values, element text).
/// A second entity pass undoes double encoding such as `&amp;#8217;`, which many CMSs emit.
pub(crate) fn clean_text(raw: &str, max_chars: usize) -> Option<String> {
    let decoded = decode_entities(raw);
    finish(&decoded, max_chars)
}

/// Cleans a string taken from raw markup-bearing text such as a JSON-LD value: tags are removed
/// first, because they are markup, and entities are decoded after, because they are text.
pub(crate) fn clean_markup(raw: &str, max_chars: usize) -> Option<String> {
    let stripped = strip_tags(raw);
    let decoded = decode_entities(&stripped);
    finish(&decoded, max_chars)
}

fn finish(decoded: &str, max_chars: usize) -> Option<String> {
    let collapsed = collapse_whitespace(decoded);
    if collapsed.is_empty() || is_placeholder(&collapsed) {
        return None;
    }
    Some(truncate_chars(&collapsed, max_chars))
}

/// Returns whether `value` is what a template or script leaves behind when it has nothing to
/// insert.
fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "null" | "undefined" | "nan" | "[object object]"
    ) || (value.starts_with("{{") && value.ends_with("}}"))
        || (value.starts_with("${") && value.ends_with('}'))
}

/// Decodes HTML character references (`&amp;`, `&#8217;`, `&#x2014;`, legacy `&copy` without a
/// semicolon) the way the HTML tokenizer does. Unknown references stay as written.
pub(crate) fn decode_entities(input: &str) -> String {
    if !input.contains('&') {
        return input.to_owned();
    }

    let mut output = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(position) = rest.find('&') {
        output.push_str(&rest[..position]);
        rest = &rest[position..];
        match decode_reference(rest) {
            Some((decoded, consumed)) => {
                output.push_str(&decoded);
                rest = &rest[consumed..];
            }
            None => {
                output.push('&');
                rest = &rest[1..];
            }
        }
    }
    output.push_str(rest);
    output
}

/// Decodes the character reference at the start of `input` (which begins with `&`) and returns
/// the text and the number of bytes consumed.
fn decode_reference(input: &str) -> Option<(String, usize)> {
    let body = &input[1..];
    if let Some(numeric) = body.strip_prefix('#') {
        return decode_numeric(numeric).map(|(text, used)| (text, used + 2));
    }

    let name_len = body
        .bytes()
        .take(MAX_ENTITY_NAME_CHARS)
        .take_while(u8::is_ascii_alphanumeric)
        .count();
    if name_len == 0 {
        return None;
    }
    let name = &body[..name_len];
    if body[name_len..].starts_with(';')
        && let Some(text) = lookup_entity(&body[..=name_len])
    {
        return Some((text, name_len + 2));
    }
    lookup_entity(name).map(|text| (text, name_len + 1))
}

fn lookup_entity(name: &str) -> Option<String> {
    let &(first, second) = NAMED_ENTITIES.get(name)?;
    // The table also lists every prefix of every name, with code point 0, for the tokenizer.
    if first == 0 {
        return None;
    }
    let mut text = String::new();
    text.extend(char::from_u32(first));
    if second != 0 {
        text.extend(char::from_u32(second));
    }
    Some(text)
}

/// Decodes `123;` or `x7B;` (the part after `&#`). Returns the text and the bytes consumed.
fn decode_numeric(input: &str) -> Option<(String, usize)> {
    let (digits_start, radix) = match input.as_bytes().first() {
        Some(b'x' | b'X') => (1, 16),
        _ => (0, 10),
    };
    let digits_len = input[digits_start..]
        .bytes()
        .take_while(|byte| byte.is_ascii_digit() || (radix == 16 && byte.is_ascii_hexdigit()))
        .count();
    if digits_len == 0 {
        return None;
    }

    let digits = &input[digits_start..digits_start + digits_len];
    let mut consumed = digits_start + digits_len;
    if input[consumed..].starts_with(';') {
        consumed += 1;
    }
    // Out-of-range values become U+FFFD, as in the HTML tokenizer. A value too long to parse is
    // out of range too.
    let code = u32::from_str_radix(digits, radix).unwrap_or(u32::MAX);
    Some((numeric_reference_char(code).to_string(), consumed))
}

fn numeric_reference_char(code: u32) -> char {
    if (0x80..=0x9F).contains(&code)
        && let Some(replacement) = C1_REPLACEMENTS[(code - 0x80) as usize]
    {
        return replacement;
    }
    match code {
        0 => char::REPLACEMENT_CHARACTER,
        _ => char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
    }
}

/// Removes `<tag ...>` and `<!-- ... -->` runs. A `<` that is not followed by a letter, `/` or
/// `!` is text ("a < b") and stays.
pub(crate) fn strip_tags(input: &str) -> String {
    if !input.contains('<') {
        return input.to_owned();
    }

    let mut output = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(position) = rest.find('<') {
        output.push_str(&rest[..position]);
        rest = &rest[position..];
        match tag_length(rest) {
            Some(length) => {
                // A tag separates words ("<p>one</p><p>two</p>").
                output.push(' ');
                rest = &rest[length..];
            }
            None => {
                output.push('<');
                rest = &rest[1..];
            }
        }
    }
    output.push_str(rest);
    output
}

/// Returns the byte length of the tag or comment at the start of `input`, if it is one.
fn tag_length(input: &str) -> Option<usize> {
    let next = input[1..].chars().next()?;
    if input.starts_with("<!--") {
        return input.find("-->").map(|end| end + 3);
    }
    if next.is_ascii_alphabetic() || next == '/' || next == '!' {
        return input.find('>').map(|end| end + 1);
    }
    None
}

/// Replaces every run of whitespace with one space, drops control and invisible formatting
/// characters (zero-width space, BOM, word joiner, soft hyphen) and trims both ends.
pub(crate) fn collapse_whitespace(input: &str) -> String {
    let mut output = String::with_capacity(input.len());
    let mut pending_space = false;
    for character in input.chars() {
        if character.is_whitespace() {
            pending_space = !output.is_empty();
            continue;
        }
        if character.is_control() || is_invisible_format(character) {
            continue;
        }
        if pending_space {
            output.push(' ');
            pending_space = false;
        }
        output.push(character);
    }
    output
}

fn is_invisible_format(character: char) -> bool {
    matches!(character, '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')
}

/// Shortens `value` to at most `max_chars` characters, cutting at a word boundary when one is
/// close and marking the cut with `…`.
pub(crate) fn truncate_chars(value: &str, max_chars: usize) -> String {
    if max_chars == 0 {
        return String::new();
    }
    let Some((cut, _)) = value.char_indices().nth(max_chars) else {
        return value.to_owned();
    };

    // Keep room for the ellipsis, then back up to a space if one is within the last fifth.
    let limit = value
        .char_indices()
        .nth(max_chars - 1)
        .map_or(cut, |(index, _)| index);
    let head = &value[..limit];
    let earliest_space = head.len() - head.len() / 5;
    let head = match head.rfind(' ') {
        Some(space) if space >= earliest_space => head[..space].trim_end(),
        _ => head,
    };
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn char_count(value: &str) -> usize {
        value.chars().count()
    }

    #[test]
    fn decode_named_and_numeric_entities() {
        assert_eq!(decode_entities("Tom &amp; Jerry"), "Tom & Jerry");
        assert_eq!(decode_entities("it&#8217;s"), "it’s");
        assert_eq!(decode_entities("a&#x2014;b"), "a—b");
        assert_eq!(decode_entities("&copy 2020"), "© 2020");
        assert_eq!(decode_entities("&nbsp;x"), "\u{a0}x");
    }

    #[test]
    fn decode_keeps_unknown_references() {
        assert_eq!(decode_entities("AT&T"), "AT&T");
        assert_eq!(decode_entities("&unknown; &"), "&unknown; &");
        assert_eq!(decode_entities("&#;"), "&#;");
        assert_eq!(decode_entities("trailing &"), "trailing &");
    }

    #[test]
    fn decode_maps_invalid_code_points() {
        assert_eq!(decode_entities("&#0;"), "\u{FFFD}");
        assert_eq!(decode_entities("&#xD800;"), "\u{FFFD}");
        assert_eq!(decode_entities("&#99999999999999999999;"), "\u{FFFD}");
        // Windows-1252 mapping of the C1 range, as browsers do.
        assert_eq!(decode_entities("&#150;"), "–");
    }

    #[test]
    fn decode_handles_multibyte_neighbours() {
        assert_eq!(decode_entities("é&amp;ü&"), "é&ü&");
    }

    #[test]
    fn strip_tags_keeps_text_comparisons() {
        assert_eq!(strip_tags("<p>one</p><p>two</p>"), " one  two ");
        assert_eq!(strip_tags("a < b and c > d"), "a < b and c > d");
        assert_eq!(strip_tags("x<!-- note -->y"), "x y");
        assert_eq!(strip_tags("open <b"), "open <b");
    }

    #[test]
    fn collapse_whitespace_and_invisible_characters() {
        assert_eq!(collapse_whitespace("  a \n\t b\u{a0}c "), "a b c");
        assert_eq!(
            collapse_whitespace("zero\u{200B}width\u{FEFF}"),
            "zerowidth"
        );
        assert_eq!(collapse_whitespace("bell\u{7}"), "bell");
    }

    #[test]
    fn clean_text_drops_empty_and_placeholders() {
        assert_eq!(clean_text(" \n ", 10), None);
        assert_eq!(clean_text("undefined", 10), None);
        assert_eq!(clean_text("{{ page.title }}", 40), None);
        assert_eq!(
            clean_text("Fish &amp; chips", 40).as_deref(),
            Some("Fish & chips")
        );
    }

    #[test]
    fn clean_markup_strips_tags_before_decoding() {
        let value = clean_markup("<p>5 &lt;b&gt; bold</p>", 40);
        assert_eq!(value.as_deref(), Some("5 <b> bold"));
    }

    #[test]
    fn truncate_cuts_at_word_boundary() {
        let value = truncate_chars("alpha beta gamma delta", 18);
        assert_eq!(value, "alpha beta gamma…");
        assert!(char_count(&value) <= 18);
    }

    #[test]
    fn truncate_cuts_long_words_mid_word() {
        let value = truncate_chars("abcdefghijklmnopqrstuvwxyz", 10);
        assert_eq!(value, "abcdefghi…");
        assert_eq!(char_count(&value), 10);
    }

    #[test]
    fn truncate_keeps_short_values() {
        assert_eq!(truncate_chars("short", 5), "short");
        assert_eq!(truncate_chars("ééééé", 5), "ééééé");
        assert_eq!(truncate_chars("éééééé", 5), "éééé…");
    }
}
