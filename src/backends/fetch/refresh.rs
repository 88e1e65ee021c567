//! `<meta http-equiv="refresh" content="0; url=...">`, which some sites use in place of an
//! HTTP redirect. The `content` value is parsed with the HTML Standard's "shared declarative
//! refresh steps".

use scraper::Html;
use url::Url;

/// The maximum refresh delay, in seconds, that still counts as a redirect. A longer delay is a
/// page that shows content first and reloads or moves on later, so that page is the result.
pub const MAX_REFRESH_DELAY_SECS: u64 = 5;

/// A parsed `content` value of a meta refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Refresh<'a> {
    delay_secs: u64,
    /// The URL text, or `None` when the page refreshes itself.
    url: Option<&'a str>,
}

/// Returns the target of the document's first meta refresh when its delay is at most
/// [`MAX_REFRESH_DELAY_SECS`] and it names a page other than `current`. A URL that does not
/// parse makes no refresh, as in browsers.
pub(super) fn meta_refresh_target(html: &str, current: &Url) -> Option<Url> {
    // Parsing a large page costs far more than this scan, and most pages have no refresh.
    if !contains_ignore_ascii_case(html.as_bytes(), b"http-equiv") {
        return None;
    }
    let document = Html::parse_document(html);
    let content = first_refresh_content(&document)?;
    let refresh = parse_refresh(content)?;
    if refresh.delay_secs > MAX_REFRESH_DELAY_SECS {
        return None;
    }

    let target = document_base(&document, current).join(refresh.url?).ok()?;
    let same_page = target.as_str().split('#').next() == current.as_str().split('#').next();
    (!same_page).then_some(target)
}

fn contains_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

fn first_refresh_content(document: &Html) -> Option<&str> {
    document
        .tree
        .nodes()
        .filter_map(|node| node.value().as_element())
        .filter(|element| element.name() == "meta")
        .filter(|element| {
            element
                .attr("http-equiv")
                .is_some_and(|value| value.trim().eq_ignore_ascii_case("refresh"))
        })
        .find_map(|element| element.attr("content"))
}

/// Returns the URL that relative URLs in the document resolve against: the first
/// `<base href>`, or the document's own URL.
fn document_base(document: &Html, current: &Url) -> Url {
    document
        .tree
        .nodes()
        .filter_map(|node| node.value().as_element())
        .filter(|element| element.name() == "base")
        .find_map(|element| element.attr("href"))
        .and_then(|href| current.join(href).ok())
        .unwrap_or_else(|| current.clone())
}

fn parse_refresh(content: &str) -> Option<Refresh<'_>> {
    let input = trim_start_whitespace(content);
    let digits_end = input
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(input.len());
    let (digits, rest) = input.split_at(digits_end);
    if digits.is_empty() && !rest.starts_with('.') {
        return None;
    }
    // A delay too large for u64 is still a delay, and far over the limit.
    let delay_secs = digits
        .parse::<u64>()
        .unwrap_or(if digits.is_empty() { 0 } else { u64::MAX });
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');

    if rest.is_empty() {
        return Some(Refresh {
            delay_secs,
            url: None,
        });
    }
    if !rest.starts_with([';', ',']) && !rest.starts_with(is_whitespace) {
        return None;
    }
    let rest = trim_start_whitespace(rest);
    let rest = rest.strip_prefix([';', ',']).unwrap_or(rest);
    let rest = trim_start_whitespace(rest);
    if rest.is_empty() {
        return Some(Refresh {
            delay_secs,
            url: None,
        });
    }
    Some(Refresh {
        delay_secs,
        url: Some(refresh_url(rest)),
    })
}

/// Extracts the URL after the delay: `url=` in any case with optional spaces is dropped, then one
/// leading quote and everything from the matching quote on. Text that starts with a `u` but not
/// `url=` is taken whole, as the HTML Standard specifies.
fn refresh_url(input: &str) -> &str {
    let Some(after_u) = input.strip_prefix(['u', 'U']) else {
        return unquote(input);
    };
    let value = after_u
        .strip_prefix(['r', 'R'])
        .and_then(|rest| rest.strip_prefix(['l', 'L']))
        .map(trim_start_whitespace)
        .and_then(|rest| rest.strip_prefix('='))
        .map(trim_start_whitespace);
    match value {
        Some(value) => unquote(value),
        None => input,
    }
}

fn unquote(input: &str) -> &str {
    let Some(quote) = input.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return input;
    };
    let inner = &input[1..];
    match inner.find(quote) {
        Some(end) => &inner[..end],
        None => inner,
    }
}

fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

fn trim_start_whitespace(text: &str) -> &str {
    text.trim_start_matches(is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refresh(delay_secs: u64, url: Option<&str>) -> Option<Refresh<'_>> {
        Some(Refresh { delay_secs, url })
    }

    #[test]
    fn content_forms() {
        let cases = [
            ("0; url=/next", refresh(0, Some("/next"))),
            ("0;URL='/next'", refresh(0, Some("/next"))),
            (
                "0; URL = \"http://b.test/a\" trailing",
                refresh(0, Some("http://b.test/a")),
            ),
            ("3,url=/x", refresh(3, Some("/x"))),
            ("0.5; url=/x", refresh(0, Some("/x"))),
            (".5; url=/x", refresh(0, Some("/x"))),
            ("  7  ", refresh(7, None)),
            ("5", refresh(5, None)),
            ("0; ", refresh(0, None)),
            ("0 /path", refresh(0, Some("/path"))),
            ("0;'/quoted'", refresh(0, Some("/quoted"))),
            ("0; urlx=/y", refresh(0, Some("urlx=/y"))),
            ("0; url='/open", refresh(0, Some("/open"))),
            (
                "99999999999999999999999; url=/x",
                refresh(u64::MAX, Some("/x")),
            ),
            ("abc", None),
            ("", None),
            ("0x; url=/x", None),
        ];
        for (content, expected) in cases {
            assert_eq!(parse_refresh(content), expected, "{content:?}");
        }
    }

    fn current() -> Url {
        Url::parse("http://a.test/dir/page").expect("test URL parses")
    }

    fn target(html: &str) -> Option<String> {
        meta_refresh_target(html, &current()).map(String::from)
    }

    #[test]
    fn immediate_refresh_is_followed() {
        let html = r#"<html><head><meta http-equiv="Refresh" content="0; url=next"></head></html>"#;
        assert_eq!(target(html).as_deref(), Some("http://a.test/dir/next"));
    }

    #[test]
    fn uppercase_attribute_is_found() {
        let html = r#"<META HTTP-EQUIV="REFRESH" CONTENT="0;URL=/up">"#;
        assert_eq!(target(html).as_deref(), Some("http://a.test/up"));
    }

    #[test]
    fn base_href_is_used() {
        let html =
            r#"<base href="http://b.test/root/"><meta http-equiv=refresh content="1;url=x">"#;
        assert_eq!(target(html).as_deref(), Some("http://b.test/root/x"));
    }

    #[test]
    fn long_delay_is_not_a_redirect() {
        let html = r#"<meta http-equiv="refresh" content="30; url=/elsewhere">"#;
        assert_eq!(target(html), None);
    }

    #[test]
    fn self_refresh_is_not_a_redirect() {
        for content in ["0", "0; url=page", "0; url=/dir/page#top"] {
            let html = format!(r#"<meta http-equiv="refresh" content="{content}">"#);
            assert_eq!(target(&html), None, "{content}");
        }
    }

    #[test]
    fn first_refresh_wins() {
        let html = r#"<meta http-equiv=refresh content="0;url=/one"><meta http-equiv=refresh content="0;url=/two">"#;
        assert_eq!(target(html).as_deref(), Some("http://a.test/one"));
    }

    #[test]
    fn refresh_in_script_or_noscript_is_ignored() {
        let html = r#"<script>document.write('<meta http-equiv="refresh" content="0;url=/s">')</script>
            <noscript><meta http-equiv="refresh" content="0;url=/n"></noscript>"#;
        assert_eq!(target(html), None);
    }

    #[test]
    fn unparseable_url_is_no_refresh() {
        let html = r#"<meta http-equiv="refresh" content="0; url=http://[bad">"#;
        assert_eq!(target(html), None);
    }
}
