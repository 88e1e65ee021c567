//! Minimal tag-level reading of raw HTML for the passes that must not build a DOM: the input
//! guard that runs before parsing and the block-page text scan. It recognizes comments, start
//! and end tags with quoted attributes, and raw-text elements. It does not build a tree.

/// Returns whether the tag after `<` is an end tag, and its element name (ASCII letters, digits
/// and hyphens).
pub(crate) fn tag_name(after_bracket: &str) -> (bool, &str) {
    let closing = after_bracket.starts_with('/');
    let name = &after_bracket[usize::from(closing)..];
    let end = name
        .bytes()
        .position(|byte| !(byte.is_ascii_alphanumeric() || byte == b'-'))
        .unwrap_or(name.len());
    (closing, &name[..end])
}

/// Returns the byte length of the tag at the start of `rest`, up to and including the first `>`
/// outside a quoted attribute value. An unclosed tag runs to the end of the input. As in HTML,
/// a quote opens a value only right after `=`.
pub(crate) fn tag_length(rest: &str) -> usize {
    let mut quote = None;
    let mut after_equals = false;
    for (index, byte) in rest.bytes().enumerate() {
        if let Some(open) = quote {
            if byte == open {
                quote = None;
            }
            continue;
        }
        match byte {
            b'"' | b'\'' if after_equals => quote = Some(byte),
            b'>' => return index + 1,
            _ => {}
        }
        if byte == b'=' {
            after_equals = true;
        } else if !byte.is_ascii_whitespace() {
            after_equals = false;
        }
    }
    rest.len()
}

/// Returns the position of the `</name` that closes raw-text content starting at `from`, or the
/// end of the input when there is none.
pub(crate) fn find_closing(html: &str, from: usize, name: &str) -> usize {
    let bytes = html.as_bytes();
    let mut search = from;
    while let Some(offset) = html[search..].find("</") {
        let start = search + offset;
        let name_start = start + 2;
        let name_end = name_start + name.len();
        if bytes
            .get(name_start..name_end)
            .is_some_and(|candidate| candidate.eq_ignore_ascii_case(name.as_bytes()))
        {
            return start;
        }
        search = start + 2;
    }
    html.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_name_reads_start_and_end_tags() {
        assert_eq!(tag_name("div class=x>"), (false, "div"));
        assert_eq!(tag_name("/DIV>"), (true, "DIV"));
        assert_eq!(tag_name("!doctype html>"), (false, ""));
        assert_eq!(tag_name(" x"), (false, ""));
    }

    #[test]
    fn tag_length_skips_quoted_brackets() {
        assert_eq!(tag_length("<a title='a > b'>x"), 17);
        assert_eq!(tag_length("<a title = \"a > b\">x"), 19);
        assert_eq!(tag_length("<a b\"c>x"), 7);
        assert_eq!(tag_length("<a href=\"never closed>x"), 23);
    }

    #[test]
    fn find_closing_ignores_case_and_other_tags() {
        let html = "<script>a</b></SCRIPT>";
        assert_eq!(find_closing(html, 8, "script"), 13);
        assert_eq!(find_closing(html, 8, "style"), html.len());
    }
}
