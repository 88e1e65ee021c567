//! The paste pages: the paste itself, the reveal page of a burn-after-reading paste and the
//! password page of a protected one.
//!
//! The HTTP layer decides which page a request gets. The reveal and password pages take no
//! content at all, so they cannot leak any.

use super::format::{format_count, format_quantity, format_size, time_element};
use super::highlight::{HighlightLimits, Highlighted, Syntax, highlight};
use super::layout::{Page, Section};
use super::lines::{line_table, text_direction};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

pub use super::lines::{LINE_RANGE_PARAMETER, LineRange, LineRangeError};

/// Characters escaped in a paste id that becomes a path segment.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_');

/// Texts up to this size also go into the copy field; larger ones link to the raw view.
/// A burn-after-reading paste always goes in, because its raw view is gone.
const COPY_FIELD_MAX_BYTES: usize = 256 * 1024;

/// Everything the paste page shows, filled by the HTTP layer.
#[derive(Debug, Clone)]
pub struct PasteView {
    pub id: String,
    pub title: Option<String>,
    /// The syntax field as stored; the title's extension and the first line are tried next.
    pub syntax: Option<String>,
    /// The size of the whole paste in bytes.
    pub size: u64,
    pub created_at: DateTime<Utc>,
    /// `None` when the paste never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Set when this view is the one reading of a burn-after-reading paste. The page then
    /// states that the paste is gone and shows no links to the raw view, download, QR code or
    /// deletion.
    pub burn: bool,
    pub body: PasteBody,
    pub urls: PasteUrls,
    /// Set only on the response to the request that created the paste, which is the one time
    /// the token is displayed.
    pub delete_token: Option<String>,
}

/// The content of a paste: text, or bytes that the page does not show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasteBody {
    Text(String),
    Binary,
}

impl PasteBody {
    /// Text when `bytes` are UTF-8 without NUL bytes, binary otherwise.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        if bytes.contains(&0) {
            return Self::Binary;
        }
        match String::from_utf8(bytes) {
            Ok(text) => Self::Text(text),
            Err(_) => Self::Binary,
        }
    }
}

/// Returns whether paste bytes are binary: not UTF-8, or containing a NUL byte.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.contains(&0) || std::str::from_utf8(bytes).is_err()
}

/// The links of a paste page. A `None` link is left out of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasteUrls {
    /// The page itself, without a query string.
    pub page: String,
    pub raw: Option<String>,
    pub download: Option<String>,
    /// The QR code image, which must come from this origin to pass the page's CSP.
    pub qr: Option<String>,
    /// The target of the delete form, which posts the `delete_token` field.
    pub delete: Option<String>,
}

impl PasteUrls {
    /// Builds the standard paths of the paste `id`: `/p/{id}`, `/p/{id}/raw`,
    /// `/p/{id}/raw?download`, `/api/pastes/{id}/qr.png` and `/p/{id}/delete`.
    pub fn for_id(id: &str) -> Self {
        let page = paste_path(id);
        Self {
            raw: Some(format!("{page}/raw")),
            download: Some(format!("{page}/raw?download")),
            qr: Some(format!(
                "/api/pastes/{}/qr.png",
                utf8_percent_encode(id, PATH_SEGMENT)
            )),
            delete: Some(format!("{page}/delete")),
            page,
        }
    }
}

/// Returns the page path of the paste `id`: `/p/{id}`.
pub fn paste_path(id: &str) -> String {
    format!("/p/{}", utf8_percent_encode(id, PATH_SEGMENT))
}

/// How much of a paste the page shows and highlights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderLimits {
    pub highlight: HighlightLimits,
    /// The page shows at most this many lines; the rest is in the raw view.
    pub max_lines: usize,
    /// The page shows at most this many bytes; the rest is in the raw view.
    pub max_bytes: usize,
}

impl Default for RenderLimits {
    fn default() -> Self {
        Self {
            highlight: HighlightLimits::default(),
            max_lines: 50_000,
            max_bytes: 2 * 1024 * 1024,
        }
    }
}

/// Renders the paste page. `marked` is the line range from the `hl` query parameter.
///
/// Highlighting takes up to `limits.highlight.budget` of this thread's time, so call it from a
/// blocking thread (`tokio::task::spawn_blocking`), not from an async task.
pub fn paste_page(view: &PasteView, marked: Option<LineRange>, limits: &RenderLimits) -> Markup {
    let title = display_title(view);
    let content = match &view.body {
        PasteBody::Text(text) => text_content(view, text, marked, limits),
        PasteBody::Binary => binary_content(view),
    };

    let main = html! {
        (created_notice(view))
        (burn_notice(view))
        h1 { (title) }
        (content.meta_and_actions)
        (content.listing)
        @if !view.burn {
            (qr_section(view))
            (delete_section(view))
        }
    };
    Page::new(&title).in_section(Section::Pastes).render(main)
}

/// The parts of the page that depend on the kind of content.
struct Content {
    meta_and_actions: Markup,
    listing: Markup,
}

fn text_content(
    view: &PasteView,
    text: &str,
    marked: Option<LineRange>,
    limits: &RenderLimits,
) -> Content {
    let displayed = DisplayedText::of(text, limits);
    let syntax = Syntax::for_paste(view.syntax.as_deref(), view.title.as_deref(), text);
    let highlighted = highlight(displayed.text, syntax, &limits.highlight);
    let line_count = text.split_inclusive('\n').count();
    let has_copy_field = view.burn || (!displayed.truncated && text.len() <= COPY_FIELD_MAX_BYTES);

    let meta_and_actions = html! {
        (meta_line(view, Some(line_count), syntax))
        (actions(view, marked, has_copy_field))
    };
    let listing = html! {
        (fallback_notice(&highlighted))
        (truncation_notice(view, &displayed, line_count))
        @if text.is_empty() {
            p.notice { "This paste is empty." }
        } @else {
            @let direction = text_direction(displayed.text);
            (line_table(&highlighted.lines, marked, &view.urls.page, direction))
        }
        @if has_copy_field {
            (copy_section(view, text))
        }
    };
    Content {
        meta_and_actions,
        listing,
    }
}

fn binary_content(view: &PasteView) -> Content {
    let download = view.urls.download.as_ref().or(view.urls.raw.as_ref());
    let meta_and_actions = meta_line(view, None, None);
    let listing = html! {
        div.binary {
            p { "Binary content, " (format_count(view.size)) " bytes." }
            @if let Some(download) = download.filter(|_| !view.burn) {
                p { a href=(download) download { "Download" } }
            }
        }
    };
    Content {
        meta_and_actions,
        listing,
    }
}

/// The part of a text that the page shows: whole lines within the line and byte limits, or
/// the start of one overlong first line.
struct DisplayedText<'a> {
    text: &'a str,
    truncated: bool,
}

impl<'a> DisplayedText<'a> {
    fn of(text: &'a str, limits: &RenderLimits) -> Self {
        let mut end = 0;
        for (index, line) in text.split_inclusive('\n').enumerate() {
            if index >= limits.max_lines {
                return Self::truncated(text, end);
            }
            if end + line.len() > limits.max_bytes {
                // Show the start of a first line that alone is over the byte limit.
                if index == 0 {
                    end = floor_char_boundary(text, limits.max_bytes);
                }
                return Self::truncated(text, end);
            }
            end += line.len();
        }
        Self {
            text,
            truncated: false,
        }
    }

    fn truncated(text: &'a str, end: usize) -> Self {
        Self {
            text: &text[..end],
            truncated: true,
        }
    }
}

fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn display_title(view: &PasteView) -> String {
    match view.title.as_deref().map(str::trim) {
        Some(title) if !title.is_empty() => title.to_owned(),
        _ => format!("Paste {}", view.id),
    }
}

/// Size, line count, creation, expiry and syntax.
fn meta_line(view: &PasteView, line_count: Option<usize>, syntax: Option<Syntax>) -> Markup {
    html! {
        p.paste-meta {
            span title={ (format_count(view.size)) " bytes" } { (format_size(view.size)) }
            @if let Some(line_count) = line_count {
                span { (format_quantity(line_count as u64, "line", "lines")) }
            }
            span { "created " (time_element(&view.created_at)) }
            span {
                @if view.burn {
                    "deleted after this reading"
                } @else if let Some(expires_at) = &view.expires_at {
                    "expires " (time_element(expires_at))
                } @else {
                    "never expires"
                }
            }
            @if line_count.is_some() {
                span { (syntax.map_or("plain text", Syntax::name)) }
            }
        }
    }
}

fn actions(view: &PasteView, marked: Option<LineRange>, has_copy_field: bool) -> Markup {
    let urls = &view.urls;
    let live = !view.burn;
    html! {
        nav.actions aria-label="Paste actions" {
            @if let Some(raw) = urls.raw.as_ref().filter(|_| live) {
                a href=(raw) { "Raw" }
            }
            @if let Some(download) = urls.download.as_ref().filter(|_| live) {
                a href=(download) download { "Download" }
            }
            @if has_copy_field {
                a href="#copy" { "Copy" }
            } @else if let Some(raw) = urls.raw.as_ref().filter(|_| live) {
                a href=(raw) { "Copy from the raw view" }
            }
            @if urls.qr.is_some() && live {
                a href="#qr" { "QR code" }
            }
            @if urls.delete.is_some() && live {
                a href="#delete" { "Delete" }
            }
            @if let Some(marked) = marked {
                a href={ (urls.page) "#L" (marked.start()) } { "Clear marked lines" }
            }
            a href="/#paste" { "New paste" }
        }
    }
}

fn created_notice(view: &PasteView) -> Markup {
    html! {
        @if let Some(token) = &view.delete_token {
            p.notice {
                "Paste created. Its delete token is displayed only now: "
                code { (token) }
                ". Keep it to delete the paste before it expires."
            }
        }
    }
}

fn burn_notice(view: &PasteView) -> Markup {
    html! {
        @if view.burn {
            p.notice.warning {
                strong { "This paste has been deleted." }
                " This was its only reading: copy what you need before you leave this page."
            }
        }
    }
}

fn fallback_notice(highlighted: &Highlighted) -> Markup {
    html! {
        @if let Some(fallback) = &highlighted.fallback {
            p.notice.warning {
                "Syntax highlighting stopped at line " (fallback.line) " because "
                (fallback.reason) ". Lines from there on are plain text."
            }
        }
    }
}

fn truncation_notice(view: &PasteView, displayed: &DisplayedText<'_>, line_count: usize) -> Markup {
    let displayed_lines = displayed.text.split_inclusive('\n').count();
    html! {
        @if displayed.truncated {
            p.notice.warning {
                "This page shows " (format_quantity(displayed_lines as u64, "line", "lines"))
                " of " (format_count(line_count as u64)) " ("
                (format_size(displayed.text.len() as u64)) " of " (format_size(view.size)) "). "
                @if let Some(raw) = view.urls.raw.as_ref().filter(|_| !view.burn) {
                    "The whole text is in the " a href=(raw) { "raw view" } "."
                }
            }
        }
    }
}

/// Renders a read-only field with the whole text, to select and copy without JavaScript.
fn copy_section(view: &PasteView, text: &str) -> Markup {
    html! {
        details #copy open[view.burn] {
            summary { "Copy" }
            p { "Select the text in the field and copy it." }
            // The HTML parser drops one newline right after <textarea>, so one is added to
            // keep a leading newline of the text.
            textarea.mono readonly rows="12" aria-label="Paste text" spellcheck="false" {
                "\n" (text)
            }
        }
    }
}

fn qr_section(view: &PasteView) -> Markup {
    html! {
        @if let Some(qr) = &view.urls.qr {
            details #qr .qr {
                summary { "QR code" }
                img src=(qr) alt="QR code of this paste's address" width="192" height="192"
                    loading="lazy";
            }
        }
    }
}

fn delete_section(view: &PasteView) -> Markup {
    html! {
        @if let Some(delete) = &view.urls.delete {
            details #delete open[view.delete_token.is_some()] {
                summary { "Delete" }
                form.stacked method="post" action=(delete) {
                    label {
                        "Delete token"
                        input type="text" name="delete_token" required autocomplete="off"
                            spellcheck="false" value=[view.delete_token.as_deref()];
                    }
                    button.danger type="submit" { "Delete this paste" }
                }
            }
        }
    }
}

/// Renders the page of a burn-after-reading paste before it is read. It shows nothing of the
/// paste but a form that posts to `reveal_url`, and only that POST reads (and so deletes) the
/// paste. `password_required` adds the password field, and `error` reports a wrong password.
pub fn reveal_page(reveal_url: &str, password_required: bool, error: Option<&str>) -> Markup {
    let main = html! {
        h1 { "Burn after reading" }
        p {
            "This paste is deleted the moment it is displayed, so it can be read only once. "
            "Open it only when you are ready to copy what you need."
        }
        (error_notice(error))
        form.stacked method="post" action=(reveal_url) {
            @if password_required {
                (password_field(error.is_some()))
            }
            button.primary type="submit" { "Show and delete the paste" }
        }
    };
    Page::new("Burn after reading")
        .in_section(Section::Pastes)
        .render(main)
}

/// Renders the page of a password-protected paste. It shows nothing of the paste but a
/// password form that posts to `unlock_url`, and `error` reports a wrong password.
pub fn password_page(unlock_url: &str, error: Option<&str>) -> Markup {
    let main = html! {
        h1 { "Password required" }
        p { "This paste is protected by a password." }
        (error_notice(error))
        form.stacked method="post" action=(unlock_url) {
            (password_field(error.is_some()))
            button.primary type="submit" { "Show the paste" }
        }
    };
    Page::new("Password required")
        .in_section(Section::Pastes)
        .render(main)
}

fn password_field(invalid: bool) -> Markup {
    html! {
        label {
            "Password"
            input type="password" name="password" required autocomplete="current-password"
                aria-invalid=[invalid.then_some("true")];
        }
    }
}

fn error_notice(error: Option<&str>) -> Markup {
    html! {
        @if let Some(error) = error {
            p.notice.error role="alert" { strong { "Error: " } (error) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::test_support::{assert_csp_compatible, parse, select, select_one};
    use chrono::TimeZone;
    use std::time::Duration;

    const HOSTILE: &str = concat!(
        "</textarea><script>alert(1)</script>\n",
        "\"><img src=x onerror=alert(2)>\n",
        "' onmouseover='x\n",
        "<style>body{}</style> style=\"color:red\"\n",
    );

    fn limits() -> RenderLimits {
        let mut limits = RenderLimits::default();
        limits.highlight.budget = Duration::from_secs(60);
        limits
    }

    fn view(text: &str) -> PasteView {
        PasteView {
            id: "abc123".to_owned(),
            title: Some("main.rs".to_owned()),
            syntax: None,
            size: text.len() as u64,
            created_at: Utc
                .with_ymd_and_hms(2024, 5, 1, 12, 0, 0)
                .single()
                .expect("valid"),
            expires_at: Some(
                Utc.with_ymd_and_hms(2024, 5, 8, 12, 0, 0)
                    .single()
                    .expect("valid"),
            ),
            burn: false,
            body: PasteBody::Text(text.to_owned()),
            urls: PasteUrls::for_id("abc123"),
            delete_token: None,
        }
    }

    fn render(view: &PasteView, marked: Option<LineRange>) -> String {
        paste_page(view, marked, &limits()).into_string()
    }

    fn text_of(element: scraper::ElementRef<'_>) -> String {
        element.text().collect()
    }

    #[test]
    fn hostile_text_is_escaped() {
        let mut paste = view(HOSTILE);
        paste.title = Some("\"><script>alert(3)</script>".to_owned());
        paste.syntax = Some("html".to_owned());
        let html = render(&paste, None);
        let document = parse(&html);

        assert!(!html.contains("<script"));
        assert!(!html.contains("<img src=x"));
        assert!(!html.contains("</textarea><script"));
        assert_csp_compatible(&html);
        let textarea = select_one(&document, "#copy textarea");
        assert_eq!(text_of(textarea), HOSTILE);
        let heading = select_one(&document, "h1");
        assert_eq!(text_of(heading), "\"><script>alert(3)</script>");
        let cells = select(&document, "td.lc");
        assert_eq!(cells.len(), 4);
        assert_eq!(text_of(cells[0]), "</textarea><script>alert(1)</script>");
    }

    #[test]
    fn hostile_text_escaped_in_plain_text() {
        let mut paste = view(HOSTILE);
        paste.title = None;
        let html = render(&paste, None);
        let document = parse(&html);

        assert!(!html.contains("<script"));
        assert_csp_compatible(&html);
        let cells = select(&document, "td.lc");
        assert_eq!(text_of(cells[1]), "\"><img src=x onerror=alert(2)>");
        assert_eq!(text_of(cells[2]), "' onmouseover='x");
    }

    #[test]
    fn lines_have_anchors_and_links() {
        let html = render(&view("fn a() {}\nfn b() {}\nfn c() {}\n"), None);
        let document = parse(&html);

        let rows = select(&document, "table.lines tr");
        assert_eq!(rows.len(), 3);
        for (index, row) in rows.iter().enumerate() {
            let number = index + 1;
            assert_eq!(row.value().attr("id"), Some(format!("L{number}").as_str()));
            assert_eq!(row.value().attr("class"), None);
        }
        let links = select(&document, "td.ln a");
        assert_eq!(links[1].value().attr("href"), Some("?hl=2#L2"));
        assert_eq!(text_of(links[1]), "2");
        assert!(html.contains("hl-storage"));
    }

    #[test]
    fn marked_range_is_rendered() {
        let text = "1\n2\n3\n4\n5\n";
        let marked = "2-3".parse().ok();
        let html = render(&view(text), marked);
        let document = parse(&html);

        let marked_rows: Vec<_> = select(&document, "tr.marked")
            .iter()
            .filter_map(|row| row.value().attr("id"))
            .map(str::to_owned)
            .collect();
        assert_eq!(marked_rows, ["L2", "L3"]);
        let links = select(&document, "td.ln a");
        assert_eq!(links[4].value().attr("href"), Some("?hl=2-5#L2"));
        assert_eq!(links[1].value().attr("href"), Some("/p/abc123#L2"));
        let clear = select_one(&document, "nav.actions a[href=\"/p/abc123#L2\"]");
        assert_eq!(text_of(clear), "Clear marked lines");
    }

    #[test]
    fn range_past_the_end_marks_existing_lines() {
        let html = render(&view("a\nb\n"), LineRange::new(2, 90));
        let document = parse(&html);
        assert_eq!(select(&document, "tr.marked").len(), 1);
        assert_eq!(select(&document, "tr").len(), 2);
    }

    #[test]
    fn right_to_left_text_sets_direction() {
        let mut paste = view("שלום עולם\nזו הדבקה בעברית\n");
        paste.title = None;
        let document = parse(&render(&paste, None));
        let container = select_one(&document, "div.code");
        assert_eq!(container.value().attr("dir"), Some("rtl"));
        for cell in select(&document, "td.lc") {
            assert_eq!(cell.value().attr("dir"), Some("auto"));
        }

        let document = parse(&render(&view("fn main() {}\n"), None));
        let container = select_one(&document, "div.code");
        assert_eq!(container.value().attr("dir"), Some("ltr"));
    }

    #[test]
    fn binary_detection() {
        assert_eq!(
            PasteBody::from_bytes(b"text\n".to_vec()),
            PasteBody::Text("text\n".to_owned())
        );
        assert_eq!(
            PasteBody::from_bytes(vec![b'a', 0, b'b']),
            PasteBody::Binary
        );
        assert_eq!(
            PasteBody::from_bytes(vec![0xff, 0xfe, 0x41]),
            PasteBody::Binary
        );
        assert!(is_binary(&[0x89, b'P', b'N', b'G']));
        assert!(is_binary(b"nul\0inside"));
        assert!(!is_binary("ünïcödé".as_bytes()));
    }

    #[test]
    fn binary_paste_shows_notice() {
        let mut paste = view("");
        paste.body = PasteBody::from_bytes(vec![0x00, 0x9f, 0x92, 0x96, 0x42]);
        paste.size = 12_345;
        let html = render(&paste, None);
        let document = parse(&html);

        let notice = select_one(&document, "div.binary");
        assert!(text_of(notice).contains("Binary content, 12,345 bytes."));
        let download = select_one(&document, "div.binary a[download]");
        assert_eq!(
            download.value().attr("href"),
            Some("/p/abc123/raw?download")
        );
        assert!(select(&document, "table.lines").is_empty());
        assert!(select(&document, "#copy").is_empty());
        assert_csp_compatible(&html);
    }

    #[test]
    fn actions_link_raw_download_copy_qr() {
        let html = render(&view("x\n"), None);
        let document = parse(&html);

        let hrefs: Vec<&str> = select(&document, "nav.actions a")
            .iter()
            .filter_map(|link| link.value().attr("href"))
            .collect();
        assert_eq!(
            hrefs,
            [
                "/p/abc123/raw",
                "/p/abc123/raw?download",
                "#copy",
                "#qr",
                "#delete",
                "/#paste"
            ]
        );
        let qr = select_one(&document, "#qr img");
        assert_eq!(qr.value().attr("src"), Some("/api/pastes/abc123/qr.png"));
        assert!(qr.value().attr("alt").is_some_and(|alt| !alt.is_empty()));
        let textarea = select_one(&document, "#copy textarea");
        assert!(textarea.value().attr("readonly").is_some());
    }

    #[test]
    fn delete_form_posts_token() {
        let html = render(&view("x\n"), None);
        let document = parse(&html);

        let form = select_one(&document, "#delete form");
        assert_eq!(form.value().attr("method"), Some("post"));
        assert_eq!(form.value().attr("action"), Some("/p/abc123/delete"));
        let token = select_one(&document, "#delete input[name=delete_token]");
        assert_eq!(token.value().attr("value"), None);
        assert!(select(&document, "#delete[open]").is_empty());
    }

    #[test]
    fn new_paste_shows_its_delete_token() {
        let mut paste = view("x\n");
        paste.delete_token = Some("tok-\"1\"".to_owned());
        let document = parse(&render(&paste, None));

        let token = select_one(&document, "#delete input[name=delete_token]");
        assert_eq!(token.value().attr("value"), Some("tok-\"1\""));
        assert_eq!(select(&document, "#delete[open]").len(), 1);
        assert_eq!(text_of(select_one(&document, "p.notice code")), "tok-\"1\"");
    }

    #[test]
    fn meta_line_shows_size_dates_syntax() {
        let document = parse(&render(&view("fn a() {}\nfn b() {}\n"), None));
        let meta = text_of(select_one(&document, "p.paste-meta"));
        assert!(meta.contains("20 bytes"), "{meta}");
        assert!(meta.contains("2 lines"), "{meta}");
        assert!(meta.contains("created 2024-05-01 12:00 UTC"), "{meta}");
        assert!(meta.contains("expires 2024-05-08 12:00 UTC"), "{meta}");
        assert!(meta.contains("Rust"), "{meta}");

        let mut forever = view("plain words\n");
        forever.title = None;
        forever.expires_at = None;
        let meta = text_of(select_one(&parse(&render(&forever, None)), "p.paste-meta"));
        assert!(meta.contains("never expires"), "{meta}");
        assert!(meta.contains("plain text"), "{meta}");
    }

    #[test]
    fn burned_paste_hides_dead_links() {
        let mut paste = view("secret\n");
        paste.burn = true;
        let html = render(&paste, None);
        let document = parse(&html);

        assert!(text_of(select_one(&document, "p.notice.warning")).contains("has been deleted"));
        assert!(select(&document, "a[href^=\"/p/abc123/raw\"]").is_empty());
        assert!(select(&document, "#qr").is_empty());
        assert!(select(&document, "#delete").is_empty());
        assert_eq!(select(&document, "details#copy[open]").len(), 1);
        assert_eq!(text_of(select_one(&document, "#copy textarea")), "secret\n");
    }

    #[test]
    fn long_paste_is_truncated() {
        let mut limits = limits();
        limits.max_lines = 3;
        let paste = view("1\n2\n3\n4\n5\n");
        let document = parse(&paste_page(&paste, None, &limits).into_string());

        assert_eq!(select(&document, "tr").len(), 3);
        let notice = text_of(select_one(&document, "p.notice.warning"));
        assert!(notice.contains("3 lines of 5"), "{notice}");
        assert!(select(&document, "#copy").is_empty());
        assert_eq!(
            select(&document, "p.notice.warning a[href=\"/p/abc123/raw\"]").len(),
            1
        );
    }

    #[test]
    fn overlong_single_line_is_cut_on_char_boundary() {
        let mut limits = limits();
        limits.max_bytes = 5;
        let paste = view("ééééé");
        let document = parse(&paste_page(&paste, None, &limits).into_string());
        let cells = select(&document, "td.lc");
        assert_eq!(cells.len(), 1);
        assert_eq!(text_of(cells[0]), "éé");
    }

    #[test]
    fn highlight_fallback_is_explained() {
        let mut paste = view(&format!("fn a() {{}}\n{}\n", "x".repeat(5000)));
        paste.title = Some("a.rs".to_owned());
        let document = parse(&render(&paste, None));
        let notice = text_of(select_one(&document, "p.notice.warning"));
        assert!(notice.contains("stopped at line 2"), "{notice}");
        assert!(notice.contains("5001 bytes"), "{notice}");
    }

    #[test]
    fn empty_paste_says_so() {
        let document = parse(&render(&view(""), None));
        assert!(text_of(select_one(&document, "main")).contains("This paste is empty."));
        assert!(select(&document, "table.lines").is_empty());
    }

    #[test]
    fn leading_newline_survives_copy_field() {
        let document = parse(&render(&view("\nafter a blank line\n"), None));
        let textarea = select_one(&document, "#copy textarea");
        assert_eq!(text_of(textarea), "\nafter a blank line\n");
    }

    #[test]
    fn reveal_page_shows_no_content() {
        let html = reveal_page("/p/abc123/reveal", false, None).into_string();
        let document = parse(&html);

        assert!(select(&document, "textarea, table, pre, code, .binary").is_empty());
        let form = select_one(&document, "main form");
        assert_eq!(form.value().attr("method"), Some("post"));
        assert_eq!(form.value().attr("action"), Some("/p/abc123/reveal"));
        assert!(select(&document, "input[type=password]").is_empty());
        assert!(select(&document, "a[href^=\"/p/\"]").is_empty());
        assert_csp_compatible(&html);
    }

    #[test]
    fn reveal_page_asks_password_when_needed() {
        let html = reveal_page("/p/abc123/reveal", true, Some("wrong password")).into_string();
        let document = parse(&html);
        let field = select_one(&document, "main form input[name=password]");
        assert_eq!(field.value().attr("type"), Some("password"));
        assert_eq!(field.value().attr("aria-invalid"), Some("true"));
        assert!(text_of(select_one(&document, "[role=alert]")).contains("wrong password"));
    }

    #[test]
    fn password_page_shows_no_content() {
        let html = password_page("/p/abc123/unlock", Some("<b>wrong</b>")).into_string();
        let document = parse(&html);

        assert!(!html.contains("<b>wrong"));
        assert!(select(&document, "textarea, table, pre, code, .binary").is_empty());
        let form = select_one(&document, "main form");
        assert_eq!(form.value().attr("method"), Some("post"));
        assert_eq!(form.value().attr("action"), Some("/p/abc123/unlock"));
        let field = select_one(&document, "main form input[name=password]");
        assert_eq!(field.value().attr("type"), Some("password"));
        assert!(field.value().attr("required").is_some());
        assert_csp_compatible(&html);
    }

    #[test]
    fn urls_escape_the_id() {
        let urls = PasteUrls::for_id("a/b c");
        assert_eq!(urls.page, "/p/a%2Fb%20c");
        assert_eq!(urls.raw.as_deref(), Some("/p/a%2Fb%20c/raw"));
        assert_eq!(urls.qr.as_deref(), Some("/api/pastes/a%2Fb%20c/qr.png"));
    }

    #[test]
    fn pages_contain_no_script_or_style() {
        let mut binary = view("");
        binary.body = PasteBody::Binary;
        let mut burned = view("fn x() {}\n");
        burned.burn = true;
        let pages = [
            render(&view("fn main() {}\n"), None),
            render(&view("a\nb\nc\n"), LineRange::new(1, 2)),
            render(&binary, None),
            render(&burned, None),
            reveal_page("/p/abc123/reveal", true, Some("wrong")).into_string(),
            password_page("/p/abc123/unlock", None).into_string(),
        ];
        for html in pages {
            assert!(!html.contains("style="), "{html}");
            assert!(!html.contains("<script"), "{html}");
            assert_csp_compatible(&html);
        }
    }
}
