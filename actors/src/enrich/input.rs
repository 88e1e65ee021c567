//! Limits on the HTML handed to the parser. Parsing cost grows with input size and, for deeply
//! nested markup, with the square of the nesting depth (the tree builder scans the stack of open
//! elements for each new tag), so both are capped before parsing.

use super::markup::{find_closing, tag_length, tag_name};

/// Maximum HTML size that is parsed, in bytes. Longer input is cut at a character boundary,
/// which keeps the `<head>` and the start of the body where metadata lives.
pub const MAX_HTML_BYTES: usize = 4 * 1024 * 1024;

/// Maximum element nesting depth that is parsed; the input is cut at the first tag that would
/// go deeper. Real pages stay far below this (an estimate: a few dozen levels is typical), so
/// only pathological or hostile markup is cut.
pub const MAX_NESTING_DEPTH: usize = 512;

/// Elements without content or with an optional end tag. They are not counted as nesting, so
/// a page full of unclosed `<p>` or `<li>` is not mistaken for a deep one.
const NOT_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "param", "keygen", "frame", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td",
    "th", "tbody", "thead", "tfoot", "colgroup", "caption", "rb", "rt", "rtc", "rp", "html",
    "head", "body",
];

/// Elements whose content is text up to their end tag, so tags inside them do not nest.
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
];

/// Returns the prefix of `html` that is parsed: at most [`MAX_HTML_BYTES`], cut before the
/// first tag nested deeper than [`MAX_NESTING_DEPTH`].
pub(crate) fn bounded_input(html: &str) -> &str {
    let mut cut = html.len().min(MAX_HTML_BYTES);
    while !html.is_char_boundary(cut) {
        cut -= 1;
    }
    cut_at_depth(&html[..cut], MAX_NESTING_DEPTH)
}

/// Counts start tags minus end tags, which overestimates the depth of sloppy markup but never
/// underestimates it, and cuts before the tag that exceeds `max_depth`.
fn cut_at_depth(html: &str, max_depth: usize) -> &str {
    let mut depth = 0_usize;
    let mut position = 0;
    while let Some(offset) = html[position..].find('<') {
        let start = position + offset;
        let rest = &html[start..];
        if rest.starts_with("<!--") {
            position = start + rest.find("-->").map_or(rest.len(), |end| end + 3);
            continue;
        }

        let (closing, name) = tag_name(&rest[1..]);
        if name.is_empty() {
            position = start + 1;
            continue;
        }
        let end = start + tag_length(rest);
        if closing {
            depth = depth.saturating_sub(1);
            position = end;
            continue;
        }
        if is_one_of(RAW_TEXT, name) {
            position = skip_raw_text(html, end, name);
            continue;
        }

        let self_closing = html[..end].ends_with("/>");
        if !self_closing && !is_one_of(NOT_NESTING, name) {
            depth += 1;
            if depth > max_depth {
                return &html[..start];
            }
        }
        position = end;
    }
    html
}

/// Returns the position after the end tag of a raw-text element whose content starts at `from`.
fn skip_raw_text(html: &str, from: usize, name: &str) -> usize {
    let closing = find_closing(html, from, name);
    closing + tag_length(&html[closing..])
}

fn is_one_of(names: &[&str], name: &str) -> bool {
    names.iter().any(|known| known.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shallow_documents_are_kept() {
        let html = "<html><head><title>t</title></head><body><div><p>a<p>b<br><img src=x></div></body></html>";
        assert_eq!(cut_at_depth(html, 3), html);
    }

    #[test]
    fn deep_nesting_is_cut_before_the_deep_tag() {
        let html = "<div><div><span>x</span></div></div><div><div><div><b>deep";
        assert_eq!(
            cut_at_depth(html, 3),
            "<div><div><span>x</span></div></div><div><div><div>"
        );
    }

    #[test]
    fn unclosed_optional_end_tags_do_not_count() {
        let html = "<ul>".to_owned() + &"<li>item".repeat(10_000) + "</ul>";
        assert_eq!(cut_at_depth(&html, 5), html);
    }

    #[test]
    fn raw_text_and_comments_do_not_count() {
        let html =
            "<script>if (a<b) { '<div><div><div>' }</script><!-- <div><div><div> --><div>ok</div>";
        assert_eq!(cut_at_depth(html, 1), html);
    }

    #[test]
    fn self_closing_foreign_elements_do_not_count() {
        let html = "<svg><path/><path/><path/></svg>";
        assert_eq!(cut_at_depth(html, 1), html);
    }

    #[test]
    fn byte_cap_respects_character_boundaries() {
        let html = "é".repeat(MAX_HTML_BYTES);
        let bounded = bounded_input(&html);
        assert!(bounded.len() <= MAX_HTML_BYTES);
        assert!(bounded.len() >= MAX_HTML_BYTES - 1);
    }
}
