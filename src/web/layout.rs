//! The page shell shared by every HTML page, and the headers that every HTML response carries.
//!
//! Pages contain no scripts and no inline styles: the Content-Security-Policy below allows only
//! the stylesheet from this origin, so a paste that smuggles markup past escaping still could
//! not run code or restyle the page.

use super::assets::stylesheet;
use crate::http::response::{Response, with_body};
use http::{HeaderName, HeaderValue, StatusCode, header};
use maud::{DOCTYPE, Markup, html};

/// The policy for every HTML response: styles from the stylesheet only, images from this
/// origin or `data:` URLs, forms posting to this origin only, no scripts, no frames.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The content type of every HTML page.
pub const HTML_CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// The part of the site a page belongs to, highlighted in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Home,
    Links,
    Pastes,
    Bookmarks,
}

/// The header's links, in order.
// NOTE: Links, Pastes and Bookmarks point at sections of the home page because they have no
// pages of their own yet. A path added here must be a routed path: the first segment of an
// unrouted path can be taken as a short-link alias, and the link would then redirect away.
const NAVIGATION: [(Section, &str, &str); 4] = [
    (Section::Home, "Home", "/"),
    (Section::Links, "Links", "/#shorten"),
    (Section::Pastes, "Pastes", "/#paste"),
    (Section::Bookmarks, "Bookmarks", "/bookmarks"),
];

/// The frame of one page: its title, its section and whether search engines may index it.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    pub title: &'a str,
    pub section: Option<Section>,
    /// Only the home page is indexable. Pastes are unlisted, so every other page carries a
    /// `robots` meta tag with `noindex, nofollow`.
    pub indexable: bool,
}

impl<'a> Page<'a> {
    /// Creates a page in no section, not indexable.
    pub fn new(title: &'a str) -> Self {
        Self {
            title,
            section: None,
            indexable: false,
        }
    }

    pub fn in_section(mut self, section: Section) -> Self {
        self.section = Some(section);
        self
    }

    pub fn indexable(mut self) -> Self {
        self.indexable = true;
        self
    }

    /// Renders the complete document around `main`, the page's content.
    pub fn render(&self, main: Markup) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="color-scheme" content="light dark";
                    @if !self.indexable {
                        meta name="robots" content="noindex, nofollow";
                    }
                    title { (self.title) " · linkyard" }
                    link rel="stylesheet" href=(stylesheet().path());
                    // An empty icon stops browsers from requesting /favicon.ico, for which
                    // the short-link route would return a 404.
                    link rel="icon" href="data:,";
                }
                body {
                    (self.header())
                    main { (main) }
                    (footer())
                }
            }
        }
    }

    fn header(&self) -> Markup {
        html! {
            header.site-header {
                nav aria-label="Main" {
                    a.brand href="/" { "linkyard" }
                    @for (section, label, href) in NAVIGATION {
                        @let current = (self.section == Some(section)).then_some("page");
                        a href=(href) aria-current=[current] {
                            (label)
                        }
                    }
                }
            }
        }
    }
}

fn footer() -> Markup {
    html! {
        footer.site-footer {
            "linkyard: short links, pastes, QR codes and bookmarks · "
            a href="/api/openapi.json" { "API (OpenAPI)" }
        }
    }
}

/// Returns the security headers of every HTML response, besides its content type.
pub fn security_headers() -> [(HeaderName, HeaderValue); 4] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        // Paste and link URLs are the only secret of unlisted pastes, so they must not leak
        // to the sites that pastes link to.
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        // For browsers without CSP frame-ancestors.
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ]
}

/// Builds an HTML response with the security headers. It also sets `Cache-Control: no-store`,
/// because pages can show private or burn-after-reading content.
pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut response = with_body(status, HTML_CONTENT_TYPE, markup.into_string());
    let headers = response.headers_mut();
    for (name, value) in security_headers() {
        headers.insert(name, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::test_support::{assert_csp_compatible, parse, select, select_one};

    #[test]
    fn page_links_stylesheet_and_marks_section() {
        let html = Page::new("A <title>")
            .in_section(Section::Pastes)
            .render(html! { p { "body" } })
            .into_string();
        let document = parse(&html);

        assert!(html.starts_with("<!DOCTYPE html>"));
        let stylesheet_link = select_one(&document, "link[rel=stylesheet]");
        assert_eq!(
            stylesheet_link.value().attr("href"),
            Some(stylesheet().path().as_str())
        );
        let title = select_one(&document, "title");
        assert_eq!(title.text().collect::<String>(), "A <title> · linkyard");
        let current = select_one(&document, "nav a[aria-current=page]");
        assert_eq!(current.text().collect::<String>(), "Pastes");
        assert_eq!(select(&document, "header nav a").len(), 5);
        assert_eq!(select(&document, "footer").len(), 1);
        assert_csp_compatible(&html);
    }

    #[test]
    fn only_indexable_pages_allow_robots() {
        let hidden = Page::new("x").render(html! {}).into_string();
        let indexable = Page::new("x").indexable().render(html! {}).into_string();
        assert_eq!(select(&parse(&hidden), "meta[name=robots]").len(), 1);
        assert!(select(&parse(&indexable), "meta[name=robots]").is_empty());
    }

    #[test]
    fn html_response_has_security_headers() {
        let response = html_response(StatusCode::NOT_FOUND, html! { p { "x" } });
        let headers = response.headers();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(headers[header::CONTENT_TYPE], HTML_CONTENT_TYPE);
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn policy_forbids_scripts_and_inline_styles() {
        assert!(CONTENT_SECURITY_POLICY.starts_with("default-src 'none';"));
        assert!(!CONTENT_SECURITY_POLICY.contains("script-src"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        assert!(CONTENT_SECURITY_POLICY.contains("style-src 'self';"));
    }
}
