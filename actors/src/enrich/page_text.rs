//! A light scan of raw HTML for block-page detection: the `<title>` and the first words of
//! visible text, without building a DOM. Script, style and template contents and comments are
//! skipped. `<noscript>` text counts as visible, because a client without JavaScript (such as
//! this fetcher) is shown it.

use super::markup::{find_closing, tag_length, tag_name};
use super::text::{collapse_whitespace, decode_entities};

/// Maximum bytes of visible text kept for phrase matching.
const MAX_TEXT_BYTES: usize = 32 * 1024;

/// Elements whose content is not visible text.
const HIDDEN_ELEMENTS: &[&str] = &["script", "style", "template"];

/// The title and the start of the visible text, both lower-cased with whitespace collapsed.
#[derive(Debug, Default)]
pub(crate) struct PageText {
    pub title: Option<String>,
    pub text: String,
    /// Words of visible text seen, counted up to `word_limit + 1`.
    pub words: usize,
}

/// Scans `html` until the end or until more than `word_limit` words of visible text were seen.
pub(crate) fn scan(html: &str, word_limit: usize) -> PageText {
    let mut scanner = Scanner {
        html,
        position: 0,
        page: PageText::default(),
        raw_text: String::new(),
        word_limit,
    };
    scanner.run();
    scanner.finish()
}

struct Scanner<'a> {
    html: &'a str,
    position: usize,
    page: PageText,
    raw_text: String,
    word_limit: usize,
}

impl Scanner<'_> {
    fn run(&mut self) {
        while self.position < self.html.len() && self.page.words <= self.word_limit {
            let rest = &self.html[self.position..];
            let Some(offset) = rest.find('<') else {
                self.push_text(rest);
                return;
            };
            self.push_text(&rest[..offset]);
            self.position += offset;
            self.skip_markup();
        }
    }

    /// Moves past the comment, tag or hidden element at the current `<`.
    fn skip_markup(&mut self) {
        let rest = &self.html[self.position..];
        if rest.starts_with("<!--") {
            self.position += rest.find("-->").map_or(rest.len(), |end| end + 3);
            return;
        }

        let (closing, name) = tag_name(&rest[1..]);
        let tag_end = self.position + tag_length(rest);
        if closing {
            self.position = tag_end;
        } else if name.eq_ignore_ascii_case("title") {
            let content_end = find_closing(self.html, tag_end, "title");
            if self.page.title.is_none() {
                self.page.title = Some(normalize(&self.html[tag_end..content_end]));
            }
            self.position = content_end;
        } else if HIDDEN_ELEMENTS
            .iter()
            .any(|hidden| name.eq_ignore_ascii_case(hidden))
        {
            self.position = find_closing(self.html, tag_end, name);
        } else {
            self.position = tag_end;
        }
    }

    fn push_text(&mut self, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        self.page.words += text
            .split_whitespace()
            .filter(|word| word.chars().any(char::is_alphanumeric))
            .count();
        if self.raw_text.len() + text.len() <= MAX_TEXT_BYTES {
            self.raw_text.push_str(text);
            self.raw_text.push(' ');
        }
    }

    fn finish(mut self) -> PageText {
        self.page.text = normalize(&self.raw_text);
        self.page
    }
}

/// Decodes entities, collapses whitespace, lower-cases and turns typographic apostrophes into
/// ASCII ones, so phrases match however the page typed them.
pub(crate) fn normalize(text: &str) -> String {
    collapse_whitespace(&decode_entities(text))
        .to_lowercase()
        .replace(['\u{2019}', '\u{2018}'], "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_reads_title_and_visible_text() {
        let page = scan(
            "<html><head><title>Just a&nbsp;Moment&#8230;</title><style>p{}</style></head>\
             <body><script>var x = '<p>hidden</p>';</script><p>Checking your   browser</p>\
             <!-- a comment --><noscript>Enable JavaScript</noscript></body></html>",
            100,
        );
        assert_eq!(page.title.as_deref(), Some("just a moment…"));
        assert_eq!(page.text, "checking your browser enable javascript");
        assert_eq!(page.words, 5);
    }

    #[test]
    fn scan_stops_after_word_limit() {
        let html = "<p>word</p>".repeat(1_000);
        let page = scan(&html, 10);
        assert!(page.words > 10);
        assert!(page.words < 1_000);
    }

    #[test]
    fn scan_handles_quoted_brackets_and_unclosed_markup() {
        let page = scan("<a title='a > b'>link</a><script>never closed", 100);
        assert_eq!(page.text, "link");
        let page = scan("<title>open title", 100);
        assert_eq!(page.title.as_deref(), Some("open title"));
        let page = scan("text <", 100);
        assert_eq!(page.text, "text");
    }

    #[test]
    fn scan_handles_multibyte_text() {
        let page = scan("<p>Überprüfung läuft…</p><SCRIPT>x</SCRIPT>ok", 100);
        assert_eq!(page.text, "überprüfung läuft… ok");
    }
}
