//! The server-rendered web UI: HTML pages built with maud, syntax highlighting with syntect,
//! and the stylesheet. The pages need no JavaScript.
//!
//! Rendering is pure: the HTTP layer fetches the data, fills a view struct, calls a page
//! function and sends the markup with [`html_response`], which adds the security headers.

pub mod assets;
pub mod bookmarks;
pub mod error;
pub mod format;
pub mod highlight;
pub mod home;
pub mod layout;
pub mod lines;
pub mod paste;
pub mod stats;

pub use assets::{StaticAsset, static_asset, stylesheet};
pub use error::error_page;
pub use home::{HomeView, ShortLinkView, home_page, short_link_page};
pub use layout::{CONTENT_SECURITY_POLICY, html_response, security_headers};
pub use paste::{
    LineRange, PasteBody, PasteUrls, PasteView, RenderLimits, password_page, paste_page,
    reveal_page,
};

use crate::settings::WebSettings;
use highlight::HighlightLimits;
use std::time::Duration;

impl RenderLimits {
    /// Reads the limits from the `[web]` settings.
    pub fn from_settings(settings: &WebSettings) -> Self {
        Self {
            highlight: HighlightLimits {
                budget: Duration::from_millis(settings.highlight_budget_ms),
                max_bytes: settings.highlight_max_bytes,
                max_lines: settings.highlight_max_lines,
                max_line_bytes: settings.highlight_max_line_bytes,
            },
            max_lines: settings.page_max_lines,
            max_bytes: settings.page_max_bytes,
        }
    }
}

#[cfg(test)]
mod test_support {
    use scraper::{ElementRef, Html, Selector};

    /// Parses a rendered page the way a browser would.
    pub fn parse(html: &str) -> Html {
        Html::parse_document(html)
    }

    /// Returns the elements that match a CSS selector.
    pub fn select<'a>(document: &'a Html, selector: &str) -> Vec<ElementRef<'a>> {
        let selector = Selector::parse(selector).expect("valid selector");
        document.select(&selector).collect()
    }

    /// Returns the one element that matches a CSS selector, and fails on none or several.
    pub fn select_one<'a>(document: &'a Html, selector: &str) -> ElementRef<'a> {
        let found = select(document, selector);
        assert_eq!(found.len(), 1, "expected one element for {selector}");
        found[0]
    }

    /// Asserts that a page works under the CSP: no script elements, no inline style or event
    /// handler attributes, and no style elements.
    pub fn assert_csp_compatible(html: &str) {
        let document = parse(html);
        assert!(
            select(&document, "script").is_empty(),
            "script element in {html}"
        );
        assert!(
            select(&document, "style").is_empty(),
            "style element in {html}"
        );
        for element in select(&document, "*") {
            for (name, _) in element.value().attrs() {
                assert_ne!(name, "style", "style attribute in {html}");
                assert!(!name.starts_with("on"), "event handler {name} in {html}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    #[test]
    fn default_settings_give_default_limits() {
        let settings = Settings::embedded_defaults().expect("defaults parse");
        assert_eq!(
            RenderLimits::from_settings(&settings.web),
            RenderLimits::default()
        );
    }
}
