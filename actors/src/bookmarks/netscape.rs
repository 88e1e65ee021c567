//! The Netscape bookmark file format that browsers import and export: an HTML document whose
//! `<DT><A HREF=… ADD_DATE=… TAGS=…>title</A>` entries may each be followed by a
//! `<DD>description`. Files in the wild are loose HTML, so the reader uses an HTML5 parser,
//! which accepts any input.

use crate::db::entities::bookmarks::Model;
use chrono::{DateTime, Utc};
use scraper::{ElementRef, Html, Selector};
use std::collections::HashSet;
use std::fmt::Write;

/// The maximum number of entries read from one file. Entries past it count as invalid.
pub const MAX_ENTRIES: usize = 100_000;

/// One bookmark of a file, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportEntry {
    /// The `HREF` attribute; empty when the anchor has none.
    pub url: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// The comma-separated `TAGS` attribute, split.
    pub tags: Vec<String>,
    /// `ADD_DATE`, in seconds since the Unix epoch.
    pub added_at: Option<DateTime<Utc>>,
    /// `TOREAD="1"` marks a bookmark to read later. Other entries are read already.
    pub unread: bool,
}

/// The entries of a file and how many anchors went beyond [`MAX_ENTRIES`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedFile {
    pub entries: Vec<ImportEntry>,
    pub skipped: u64,
}

/// Reads every bookmark anchor of a bookmark file, in document order.
pub fn parse(html: &str) -> ParsedFile {
    let document = Html::parse_document(html);
    let Ok(anchors) = Selector::parse("a") else {
        return ParsedFile::default();
    };
    let mut parsed = ParsedFile::default();
    for anchor in document.select(&anchors) {
        if parsed.entries.len() >= MAX_ENTRIES {
            parsed.skipped += 1;
            continue;
        }
        parsed.entries.push(entry_of(anchor));
    }
    parsed
}

fn entry_of(anchor: ElementRef<'_>) -> ImportEntry {
    let attribute = |name: &str| anchor.value().attr(name).map(str::trim);
    let title: String = anchor.text().collect();
    let tags = attribute("tags")
        .map(|tags| {
            tags.split(',')
                .map(|tag| tag.trim().to_owned())
                .filter(|tag| !tag.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let added_at = attribute("add_date")
        .and_then(|seconds| seconds.parse::<i64>().ok())
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0));
    ImportEntry {
        url: attribute("href").unwrap_or_default().to_owned(),
        title: Some(collapse_whitespace(&title)).filter(|title| !title.is_empty()),
        description: description_after(anchor),
        tags,
        added_at,
        unread: attribute("toread") == Some("1"),
    }
}

/// Returns the text of the `<DD>` that follows the anchor's `<DT>`, if any.
fn description_after(anchor: ElementRef<'_>) -> Option<String> {
    let term = anchor
        .parent()
        .and_then(ElementRef::wrap)
        .filter(|parent| parent.value().name() == "dt")?;
    let next = term.next_siblings().find_map(ElementRef::wrap)?;
    if next.value().name() != "dd" {
        return None;
    }
    // A <DD> without an end tag may hold the entries that follow it; keep its own text only.
    let text: String = next
        .children()
        .filter_map(|child| child.value().as_text().map(|text| text.to_string()))
        .collect();
    Some(collapse_whitespace(&text)).filter(|text| !text.is_empty())
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Entries sorted into valid ones, duplicates within the file and invalid ones.
#[derive(Debug)]
pub struct ImportPlan<T> {
    pub valid: Vec<T>,
    pub duplicates: u64,
    pub invalid: u64,
}

/// Validates entries with `validate`, which returns `None` for an invalid entry, and drops
/// later entries whose normalized URL repeats an earlier one. The three counts add up to the
/// number of entries.
pub fn plan_import<T: HasNormalizedUrl>(
    entries: Vec<ImportEntry>,
    mut validate: impl FnMut(ImportEntry) -> Option<T>,
) -> ImportPlan<T> {
    let mut plan = ImportPlan {
        valid: Vec::new(),
        duplicates: 0,
        invalid: 0,
    };
    let mut seen = HashSet::new();
    for entry in entries {
        match validate(entry) {
            None => plan.invalid += 1,
            Some(valid) if !seen.insert(valid.normalized_url().to_owned()) => plan.duplicates += 1,
            Some(valid) => plan.valid.push(valid),
        }
    }
    plan
}

/// A validated entry with its duplicate key.
pub trait HasNormalizedUrl {
    fn normalized_url(&self) -> &str;
}

impl HasNormalizedUrl for super::Valid {
    fn normalized_url(&self) -> &str {
        self.url.normalized()
    }
}

/// Writes bookmarks as a Netscape bookmark file, in the given order.
pub fn export(bookmarks: &[Model]) -> String {
    let mut out = String::from(
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n\
         <!-- This is an automatically generated file. It will be read and overwritten. -->\n\
         <META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=UTF-8\">\n\
         <TITLE>Bookmarks</TITLE>\n<H1>Bookmarks</H1>\n<DL><p>\n",
    );
    for bookmark in bookmarks {
        write_entry(&mut out, bookmark);
    }
    out.push_str("</DL><p>\n");
    out
}

fn write_entry(out: &mut String, bookmark: &Model) {
    let title = bookmark.display_title().unwrap_or(&bookmark.url);
    let _ = write!(
        out,
        "    <DT><A HREF=\"{}\" ADD_DATE=\"{}\" LAST_MODIFIED=\"{}\"",
        escape(&bookmark.url),
        bookmark.created_at.timestamp(),
        bookmark.updated_at.timestamp(),
    );
    let tags = bookmark.tag_list();
    if !tags.is_empty() {
        let _ = write!(out, " TAGS=\"{}\"", escape(&tags.join(",")));
    }
    if bookmark.unread {
        out.push_str(" TOREAD=\"1\"");
    }
    let _ = writeln!(out, ">{}</A>", escape(title));
    if let Some(description) = bookmark.display_description() {
        let _ = writeln!(out, "    <DD>{}", escape(description));
    }
}

/// Escapes text for an HTML attribute value or element content.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FIREFOX_EXPORT: &str = r#"<!DOCTYPE NETSCAPE-Bookmark-file-1>
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
<TITLE>Bookmarks</TITLE>
<H1>Bookmarks Menu</H1>
<DL><p>
    <DT><H3 ADD_DATE="1600000000">Rust</H3>
    <DL><p>
        <DT><A HREF="https://www.rust-lang.org/" ADD_DATE="1600000001" TAGS="rust,lang">Rust &amp; Cargo</A>
        <DD>A language empowering everyone
        <DT><A HREF="https://doc.rust-lang.org/book/" TOREAD="1">The   Book</A>
    </DL><p>
    <DT><A HREF="javascript:alert(1)">Bookmarklet</A>
    <DT><A>No address</A>
</DL><p>
"#;

    #[test]
    fn browser_export_is_read() {
        let parsed = parse(FIREFOX_EXPORT);
        assert_eq!(parsed.skipped, 0);
        assert_eq!(parsed.entries.len(), 4);

        let rust = &parsed.entries[0];
        assert_eq!(rust.url, "https://www.rust-lang.org/");
        assert_eq!(rust.title.as_deref(), Some("Rust & Cargo"));
        assert_eq!(
            rust.description.as_deref(),
            Some("A language empowering everyone")
        );
        assert_eq!(rust.tags, vec!["rust", "lang"]);
        assert_eq!(rust.added_at.map(|at| at.timestamp()), Some(1_600_000_001));
        assert!(!rust.unread);

        let book = &parsed.entries[1];
        assert_eq!(book.title.as_deref(), Some("The Book"));
        assert_eq!(book.description, None);
        assert!(book.unread);

        assert_eq!(parsed.entries[2].url, "javascript:alert(1)");
        assert_eq!(parsed.entries[3].url, "");
    }

    #[test]
    fn escaping_survives_a_round_trip() {
        let text = r#"a "quoted" <b> & 'single'"#;
        let html = format!(
            "<DT><A HREF=\"https://example.com/?a=1&amp;b=2\">{}</A>",
            escape(text)
        );
        let parsed = parse(&html);
        assert_eq!(parsed.entries[0].title.as_deref(), Some(text));
        assert_eq!(parsed.entries[0].url, "https://example.com/?a=1&b=2");
    }

    struct Keyed(String);

    impl HasNormalizedUrl for Keyed {
        fn normalized_url(&self) -> &str {
            &self.0
        }
    }

    fn anchor_strategy() -> impl Strategy<Value = String> {
        let url = prop_oneof![
            "https://[a-c]\\.example/[a-c]{0,2}",
            Just("javascript:void(0)".to_owned()),
            Just(String::new()),
            "\\PC{0,12}",
        ];
        (url, "\\PC{0,16}", prop::option::of("[a-z, ]{0,12}")).prop_map(|(url, title, tags)| {
            let tags = tags
                .map(|tags| format!(" TAGS=\"{}\"", escape(&tags)))
                .unwrap_or_default();
            format!(
                "<DT><A HREF=\"{}\"{tags}>{}</A>\n",
                escape(&url),
                escape(&title)
            )
        })
    }

    proptest! {
        #[test]
        fn parser_never_panics(input in "\\PC{0,512}") {
            let _ = parse(&input);
        }

        #[test]
        fn counts_add_up(anchors in prop::collection::vec(anchor_strategy(), 0..40)) {
            let html = format!("<DL><p>\n{}</DL>", anchors.concat());
            let parsed = parse(&html);
            prop_assert_eq!(parsed.entries.len(), anchors.len());

            let total = parsed.entries.len() as u64;
            let plan = plan_import(parsed.entries, |entry| {
                url::Url::parse(&entry.url)
                    .ok()
                    .filter(|url| url.scheme() == "https")
                    .map(|url| Keyed(url.to_string()))
            });
            prop_assert_eq!(plan.valid.len() as u64 + plan.duplicates + plan.invalid, total);
            let distinct: HashSet<&str> = plan.valid.iter().map(|keyed| keyed.0.as_str()).collect();
            prop_assert_eq!(distinct.len(), plan.valid.len());
        }
    }
}
