//! URL resolution for extracted links: relative and protocol-relative references resolve against
//! the document base, and only absolute http(s) URLs of bounded length come out.

use url::Url;

/// Maximum length in bytes of an extracted URL. Longer URLs are dropped, not truncated, because
/// a cut URL points somewhere else.
pub const MAX_URL_BYTES: usize = 2048;

/// Returns the URL that relative references resolve against: the first `<base href>` resolved
/// against the page URL, else the page URL.
pub(crate) fn document_base(base_href: Option<&str>, page_url: &Url) -> Url {
    let base = base_href
        .map(str::trim)
        .filter(|href| !href.is_empty())
        .and_then(|href| page_url.join(href).ok())
        .filter(|base| !base.cannot_be_a_base());
    base.unwrap_or_else(|| page_url.clone())
}

/// Resolves `reference` against `base`. Returns `None` unless the result is an http or https URL
/// with a host and at most [`MAX_URL_BYTES`] bytes long. Fragment-only references (`#top`) are
/// rejected because they name the page itself, not a resource.
pub(crate) fn resolve_http_url(reference: &str, base: &Url) -> Option<Url> {
    let reference = reference.trim();
    if reference.is_empty() || reference.starts_with('#') || reference.len() > MAX_URL_BYTES {
        return None;
    }
    let url = base.join(reference).ok()?;
    let is_http = matches!(url.scheme(), "http" | "https");
    let has_host = url.host_str().is_some_and(|host| !host.is_empty());
    (is_http && has_host && url.as_str().len() <= MAX_URL_BYTES).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://example.com/news/2016/story.html?id=1").expect("valid test URL")
    }

    fn resolve(reference: &str) -> Option<String> {
        resolve_http_url(reference, &page()).map(String::from)
    }

    #[test]
    fn resolve_relative_references() {
        assert_eq!(
            resolve("img/a.png").as_deref(),
            Some("https://example.com/news/2016/img/a.png")
        );
        assert_eq!(
            resolve("/img/a.png").as_deref(),
            Some("https://example.com/img/a.png")
        );
        assert_eq!(
            resolve("../a.png").as_deref(),
            Some("https://example.com/news/a.png")
        );
        assert_eq!(
            resolve("  /a.png\n").as_deref(),
            Some("https://example.com/a.png")
        );
    }

    #[test]
    fn resolve_protocol_relative_references() {
        assert_eq!(
            resolve("//cdn.example.net/a.png").as_deref(),
            Some("https://cdn.example.net/a.png")
        );
    }

    #[test]
    fn resolve_rejects_other_schemes_and_fragments() {
        assert_eq!(resolve("javascript:alert(1)"), None);
        assert_eq!(resolve("data:image/png;base64,AAAA"), None);
        assert_eq!(resolve("mailto:someone@example.com"), None);
        assert_eq!(resolve("#top"), None);
        assert_eq!(resolve(""), None);
        assert_eq!(resolve("http://"), None);
    }

    #[test]
    fn resolve_rejects_long_urls() {
        let long = format!("/{}", "a".repeat(MAX_URL_BYTES));
        assert_eq!(resolve(&long), None);
    }

    #[test]
    fn base_href_resolves_against_page() {
        let base = document_base(Some("/static/"), &page());
        assert_eq!(base.as_str(), "https://example.com/static/");
        let base = document_base(Some("https://cdn.example.net/x/"), &page());
        assert_eq!(base.as_str(), "https://cdn.example.net/x/");
    }

    #[test]
    fn base_href_falls_back_to_page() {
        assert_eq!(document_base(None, &page()), page());
        assert_eq!(document_base(Some("   "), &page()), page());
        assert_eq!(document_base(Some("data:text/plain,x"), &page()), page());
    }
}
