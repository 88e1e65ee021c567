//! The server-rendered web UI: HTML pages built with maud, syntax highlighting with syntect,
//! and the stylesheet. The pages need no JavaScript.
//!
//! Rendering is pure: the HTTP layer fetches the data, fills a view struct, calls a page
//! function and sends the markup with [`html_response`], which adds the security headers.

pub mod assets;
pub mod error;
pub mod format;
pub mod highlight;
pub mod layout;

pub use assets::{StaticAsset, static_asset, stylesheet};
pub use error::error_page;
pub use layout::{CONTENT_SECURITY_POLICY, html_response, security_headers};

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
