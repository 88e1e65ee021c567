//! The home page (`GET /`): the paste form, the shorten form and a pointer to the bookmark
//! API, plus the page that shows a newly created short link.
//!
//! The forms post `application/x-www-form-urlencoded` fields named like the JSON API's fields:
//! the paste form to `/p`, the shorten form to `/s`. After a rejected post, the HTTP layer
//! renders this page again with the submitted values and the error.

use super::format::{format_size, time_element};
use super::highlight::Syntax;
use super::layout::{Page, Section};
use chrono::{DateTime, Utc};
use maud::{Markup, html};

/// The target of the paste form.
pub const PASTE_FORM_ACTION: &str = "/p";

/// The target of the shorten form.
pub const SHORTEN_FORM_ACTION: &str = "/s";

/// The `expires_in` choices of the paste form: value and label.
// NOTE: every choice is offered even when an operator maximum caps expiry. The server then
// shortens a longer choice to the maximum, and the paste page shows the real expiry.
pub const EXPIRY_CHOICES: [(&str, &str); 6] = [
    ("burn", "Burn after reading"),
    ("10m", "10 minutes"),
    ("1h", "1 hour"),
    ("1d", "1 day"),
    ("1w", "1 week"),
    ("never", "Never"),
];

/// The preselected expiry of an empty form.
const DEFAULT_EXPIRY: &str = "1w";

/// The preselected visibility of an empty form.
const DEFAULT_VISIBILITY: &str = "unlisted";

/// The `visibility` choices of the paste form: value and label.
pub const VISIBILITY_CHOICES: [(&str, &str); 2] = [
    ("unlisted", "Unlisted: anyone with the link"),
    ("private", "Private: only its owner, with an API key"),
];

/// The content of the home page.
#[derive(Debug, Clone, Default)]
pub struct HomeView {
    /// The largest paste accepted, shown next to the content field.
    pub max_paste_bytes: u64,
    /// The values of a rejected paste form, to fill it again.
    pub paste: PasteFormValues,
    /// The values of a rejected shorten form, to fill it again.
    pub shorten: ShortenFormValues,
    pub error: Option<FormError>,
    /// Whether the visitor is signed in, which turns the bookmarks section into a search form.
    pub signed_in: bool,
}

/// The fields of the paste form, except the password, which is never sent back.
#[derive(Debug, Clone, Default)]
pub struct PasteFormValues {
    pub content: String,
    pub title: String,
    pub syntax: String,
    pub expires_in: String,
    pub visibility: String,
}

/// The fields of the shorten form.
#[derive(Debug, Clone, Default)]
pub struct ShortenFormValues {
    pub url: String,
    pub alias: String,
}

/// The reason a form post was rejected, shown above that form.
#[derive(Debug, Clone)]
pub struct FormError {
    pub form: FormKind,
    /// The form field at fault, as named in the form (`content`, `url`, `alias`, ...).
    pub field: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    Paste,
    Shorten,
}

/// Renders the home page.
pub fn home_page(view: &HomeView) -> Markup {
    let main = html! {
        h1 { "Paste text, shorten links" }
        div.home-sections {
            (paste_form(view))
            (shorten_form(view))
            (bookmarks_section(view.signed_in))
        }
    };
    Page::new("Home")
        .in_section(Section::Home)
        .indexable()
        .render(main)
}

impl HomeView {
    fn error_for(&self, form: FormKind) -> Option<&FormError> {
        self.error.as_ref().filter(|error| error.form == form)
    }

    /// Returns `Some("true")` for `aria-invalid` when the error names `field` of `form`.
    fn invalid(&self, form: FormKind, field: &str) -> Option<&'static str> {
        self.error_for(form)
            .and_then(|error| error.field.as_deref())
            .filter(|faulty| *faulty == field)
            .map(|_| "true")
    }
}

fn paste_form(view: &HomeView) -> Markup {
    let values = &view.paste;
    let invalid = |field| view.invalid(FormKind::Paste, field);
    html! {
        section #paste aria-labelledby="paste-heading" {
            h2 #paste-heading { "New paste" }
            (form_error(view.error_for(FormKind::Paste)))
            form.stacked method="post" action=(PASTE_FORM_ACTION) {
                label {
                    "Content"
                    span.hint { "Up to " (format_size(view.max_paste_bytes)) "." }
                    // The HTML parser drops one newline right after <textarea>; this one keeps
                    // a leading newline of the content.
                    textarea.mono name="content" rows="16" required spellcheck="false"
                        aria-invalid=[invalid("content")] {
                        "\n" (values.content)
                    }
                }
                div.row {
                    label {
                        "Title"
                        span.hint { "Optional. A file name such as main.rs also picks the syntax." }
                        input type="text" name="title" value=(values.title)
                            aria-invalid=[invalid("title")];
                    }
                    label {
                        "Syntax"
                        (syntax_select(&values.syntax, invalid("syntax")))
                    }
                }
                div.row {
                    label {
                        "Expires"
                        (choice_select(
                            "expires_in",
                            &EXPIRY_CHOICES,
                            &values.expires_in,
                            DEFAULT_EXPIRY,
                            invalid("expires_in"),
                        ))
                    }
                    label {
                        "Visibility"
                        (choice_select(
                            "visibility",
                            &VISIBILITY_CHOICES,
                            &values.visibility,
                            DEFAULT_VISIBILITY,
                            invalid("visibility"),
                        ))
                    }
                    label {
                        "Password"
                        span.hint { "Optional." }
                        input type="password" name="password" autocomplete="new-password"
                            aria-invalid=[invalid("password")];
                    }
                }
                button.primary type="submit" { "Create paste" }
            }
        }
    }
}

fn syntax_select(selected: &str, invalid: Option<&str>) -> Markup {
    html! {
        select name="syntax" aria-invalid=[invalid] {
            option value="" selected[selected.is_empty()] { "Detect from title or first line" }
            @for syntax in Syntax::all() {
                option value=(syntax.name()) selected[syntax.name() == selected] { (syntax.name()) }
            }
        }
    }
}

fn choice_select(
    name: &str,
    choices: &[(&str, &str)],
    selected: &str,
    default: &str,
    invalid: Option<&str>,
) -> Markup {
    let selected = if selected.is_empty() {
        default
    } else {
        selected
    };
    html! {
        select name=(name) aria-invalid=[invalid] {
            @for (value, label) in choices {
                option value=(value) selected[*value == selected] { (label) }
            }
        }
    }
}

fn shorten_form(view: &HomeView) -> Markup {
    let values = &view.shorten;
    let invalid = |field| view.invalid(FormKind::Shorten, field);
    html! {
        section #shorten aria-labelledby="shorten-heading" {
            h2 #shorten-heading { "Shorten a link" }
            (form_error(view.error_for(FormKind::Shorten)))
            form.stacked method="post" action=(SHORTEN_FORM_ACTION) {
                label {
                    "URL"
                    input type="url" name="url" required value=(values.url)
                        placeholder="https://example.com/a/long/path"
                        aria-invalid=[invalid("url")];
                }
                label {
                    "Alias"
                    span.hint {
                        "Optional. Letters, digits, - and _, up to 64 characters. "
                        "Empty means a generated code."
                    }
                    input type="text" name="alias" value=(values.alias) autocomplete="off"
                        spellcheck="false" aria-invalid=[invalid("alias")];
                }
                button.primary type="submit" { "Shorten" }
            }
        }
    }
}

fn bookmarks_section(signed_in: bool) -> Markup {
    html! {
        section #bookmarks aria-labelledby="bookmarks-heading" {
            h2 #bookmarks-heading { "Bookmarks" }
            @if signed_in {
                form.stacked method="get" action="/bookmarks" role="search" {
                    label for="bookmark-search" { "Search your bookmarks" }
                    input #bookmark-search type="search" name="q"
                        placeholder="words, \"a phrase\", #tag, site:example.com, is:unread";
                    button.primary type="submit" { "Search" }
                }
                p { a href="/bookmarks" { "All your bookmarks" } }
            } @else {
                p {
                    "Bookmarks belong to an account. " a href="/signin" { "Sign in" }
                    " with an API key to save and search them here, or use "
                    code { "POST /api/bookmarks" } " and "
                    code { "GET /api/bookmarks/search?q=" } "."
                }
            }
        }
    }
}

fn form_error(error: Option<&FormError>) -> Markup {
    html! {
        @if let Some(error) = error {
            p.notice.error role="alert" { strong { "Error: " } (error.message) }
        }
    }
}

/// A newly created short link.
#[derive(Debug, Clone)]
pub struct ShortLinkView {
    pub short_url: String,
    /// The URL the short link redirects to.
    pub target_url: String,
    /// The QR code image, which must come from this origin to pass the page's CSP.
    pub qr_url: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Renders the page shown after a short link is created: the short URL in a read-only field
/// to copy, its QR code and its target.
pub fn short_link_page(view: &ShortLinkView) -> Markup {
    let main = html! {
        h1 { "Short link created" }
        div.short-link {
            div.copy-field {
                label {
                    "Short link"
                    input.mono type="text" readonly value=(view.short_url);
                }
                p { "Select the link in the field to copy it." }
                p { "Open it: " (web_link(&view.short_url)) }
                p { "It redirects to " (web_link(&view.target_url)) "." }
                @if let Some(expires_at) = &view.expires_at {
                    p { "It expires " (time_element(expires_at)) "." }
                }
                p { a href="/#shorten" { "Shorten another link" } }
            }
            figure.qr {
                img src=(view.qr_url) alt="QR code of the short link" width="192" height="192";
                figcaption.visually-hidden { "QR code of " (view.short_url) }
            }
        }
    };
    Page::new("Short link created")
        .in_section(Section::Links)
        .render(main)
}

/// Renders a link to an http or https URL. Any other URL is shown as text, so a `javascript:`
/// URL can never become a link.
fn web_link(url: &str) -> Markup {
    let is_web =
        url::Url::parse(url).is_ok_and(|parsed| matches!(parsed.scheme(), "http" | "https"));
    html! {
        @if is_web {
            a href=(url) rel="noopener noreferrer nofollow" { (url) }
        } @else {
            code { (url) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::test_support::{assert_csp_compatible, parse, select, select_one};
    use chrono::TimeZone;

    fn home() -> HomeView {
        HomeView {
            max_paste_bytes: 10 * 1024 * 1024,
            ..HomeView::default()
        }
    }

    fn attribute<'a>(element: scraper::ElementRef<'a>, name: &str) -> Option<&'a str> {
        element.value().attr(name)
    }

    #[test]
    fn paste_form_has_api_fields() {
        let html = home_page(&home()).into_string();
        let document = parse(&html);

        let form = select_one(&document, "#paste form");
        assert_eq!(attribute(form, "method"), Some("post"));
        assert_eq!(attribute(form, "action"), Some("/p"));
        for name in [
            "content",
            "title",
            "syntax",
            "expires_in",
            "visibility",
            "password",
        ] {
            let selector = format!("#paste form [name={name}]");
            assert_eq!(select(&document, &selector).len(), 1, "field {name}");
        }
        let password = select_one(&document, "#paste input[name=password]");
        assert_eq!(attribute(password, "type"), Some("password"));
        assert!(html.contains("Up to 10.0 MiB."));
        assert_csp_compatible(&html);
    }

    #[test]
    fn expiry_choices_default_to_a_week() {
        let document = parse(&home_page(&home()).into_string());
        let values: Vec<&str> = select(&document, "select[name=expires_in] option")
            .into_iter()
            .filter_map(|option| attribute(option, "value"))
            .collect();
        assert_eq!(values, ["burn", "10m", "1h", "1d", "1w", "never"]);
        let selected = select_one(&document, "select[name=expires_in] option[selected]");
        assert_eq!(attribute(selected, "value"), Some("1w"));
        let visibility = select_one(&document, "select[name=visibility] option[selected]");
        assert_eq!(attribute(visibility, "value"), Some("unlisted"));
    }

    #[test]
    fn syntax_select_lists_syntaxes() {
        let document = parse(&home_page(&home()).into_string());
        let options = select(&document, "select[name=syntax] option");
        assert_eq!(attribute(options[0], "value"), Some(""));
        assert!(
            options
                .iter()
                .any(|option| attribute(*option, "value") == Some("Rust"))
        );
        assert_eq!(options.len(), Syntax::all().len() + 1);
    }

    #[test]
    fn shorten_form_posts_url_and_alias() {
        let document = parse(&home_page(&home()).into_string());
        let form = select_one(&document, "#shorten form");
        assert_eq!(attribute(form, "method"), Some("post"));
        assert_eq!(attribute(form, "action"), Some("/s"));
        let url = select_one(&document, "#shorten input[name=url]");
        assert_eq!(attribute(url, "type"), Some("url"));
        assert!(attribute(url, "required").is_some());
        assert_eq!(select(&document, "#shorten input[name=alias]").len(), 1);
        assert_eq!(select(&document, "#bookmarks").len(), 1);
    }

    #[test]
    fn bookmark_search_needs_sign_in() {
        let html = home_page(&home()).into_string();
        let document = parse(&html);
        assert!(select(&document, "#bookmarks form").is_empty());
        let sign_in = select_one(&document, "#bookmarks a[href='/signin']");
        assert_eq!(sign_in.text().collect::<String>(), "Sign in");

        let view = HomeView {
            signed_in: true,
            ..home()
        };
        let html = home_page(&view).into_string();
        let document = parse(&html);
        let form = select_one(&document, "#bookmarks form");
        assert_eq!(attribute(form, "method"), Some("get"));
        assert_eq!(attribute(form, "action"), Some("/bookmarks"));
        let query = select_one(&document, "#bookmarks input[name=q]");
        assert_eq!(attribute(query, "type"), Some("search"));
        assert_csp_compatible(&html);
    }

    #[test]
    fn rejected_paste_form_keeps_values() {
        let view = HomeView {
            paste: PasteFormValues {
                content: "</textarea><script>alert(1)</script>".to_owned(),
                title: "\" autofocus onfocus=\"alert(2)".to_owned(),
                syntax: "Rust".to_owned(),
                expires_in: "1h".to_owned(),
                visibility: "private".to_owned(),
            },
            error: Some(FormError {
                form: FormKind::Paste,
                field: Some("content".to_owned()),
                message: "content is 11 MiB; the maximum is <10 MiB>".to_owned(),
            }),
            ..home()
        };
        let html = home_page(&view).into_string();
        let document = parse(&html);

        assert!(!html.contains("<script"));
        assert_csp_compatible(&html);
        let content = select_one(&document, "textarea[name=content]");
        assert_eq!(content.text().collect::<String>(), view.paste.content);
        assert_eq!(attribute(content, "aria-invalid"), Some("true"));
        let title = select_one(&document, "input[name=title]");
        assert_eq!(attribute(title, "value"), Some(view.paste.title.as_str()));
        assert_eq!(attribute(title, "aria-invalid"), None);
        let syntax = select_one(&document, "select[name=syntax] option[selected]");
        assert_eq!(attribute(syntax, "value"), Some("Rust"));
        let expiry = select_one(&document, "select[name=expires_in] option[selected]");
        assert_eq!(attribute(expiry, "value"), Some("1h"));
        let alert = select_one(&document, "#paste [role=alert]");
        assert!(
            alert
                .text()
                .collect::<String>()
                .contains("maximum is <10 MiB>")
        );
        assert!(select(&document, "#shorten [role=alert]").is_empty());
    }

    #[test]
    fn rejected_shorten_form_marks_field() {
        let view = HomeView {
            shorten: ShortenFormValues {
                url: "https://example.com/".to_owned(),
                alias: "api".to_owned(),
            },
            error: Some(FormError {
                form: FormKind::Shorten,
                field: Some("alias".to_owned()),
                message: "alias 'api' is reserved".to_owned(),
            }),
            ..home()
        };
        let document = parse(&home_page(&view).into_string());

        let alias = select_one(&document, "input[name=alias]");
        assert_eq!(attribute(alias, "value"), Some("api"));
        assert_eq!(attribute(alias, "aria-invalid"), Some("true"));
        let url = select_one(&document, "input[name=url]");
        assert_eq!(attribute(url, "aria-invalid"), None);
        assert_eq!(select(&document, "#shorten [role=alert]").len(), 1);
        assert!(select(&document, "#paste [role=alert]").is_empty());
    }

    fn short_link() -> ShortLinkView {
        ShortLinkView {
            short_url: "https://ly.example/aB3dE9x".to_owned(),
            target_url: "https://example.com/a?b=1&c=\"2\"".to_owned(),
            qr_url: "/api/links/aB3dE9x/qr.png".to_owned(),
            expires_at: Some(
                Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
                    .single()
                    .expect("valid"),
            ),
        }
    }

    #[test]
    fn short_link_page_offers_copy_and_qr() {
        let html = short_link_page(&short_link()).into_string();
        let document = parse(&html);

        let field = select_one(&document, "input[readonly]");
        assert_eq!(
            attribute(field, "value"),
            Some("https://ly.example/aB3dE9x")
        );
        let qr = select_one(&document, "img");
        assert_eq!(attribute(qr, "src"), Some("/api/links/aB3dE9x/qr.png"));
        let target = select_one(&document, "a[href^=\"https://example.com\"]");
        assert_eq!(
            attribute(target, "href"),
            Some("https://example.com/a?b=1&c=\"2\"")
        );
        assert!(attribute(target, "rel").is_some_and(|rel| rel.contains("noreferrer")));
        assert!(html.contains("2025-01-01 00:00 UTC"));
        assert_csp_compatible(&html);
    }

    #[test]
    fn script_urls_never_become_links() {
        let view = ShortLinkView {
            target_url: "javascript:alert(1)".to_owned(),
            ..short_link()
        };
        let document = parse(&short_link_page(&view).into_string());
        assert!(select(&document, "a[href^=javascript]").is_empty());
        let target_text = select_one(&document, "main code");
        assert_eq!(
            target_text.text().collect::<String>(),
            "javascript:alert(1)"
        );
    }

    #[test]
    fn pages_contain_no_script_or_style() {
        for html in [
            home_page(&home()).into_string(),
            short_link_page(&short_link()).into_string(),
        ] {
            assert!(!html.contains("style="), "{html}");
            assert!(!html.contains("<script"), "{html}");
        }
    }
}
