//! Page-metadata extraction for bookmark enrichment: title, description, site name, image,
//! favicon, author, publication date, language and canonical URL from a page's HTML, plus the
//! detection of bot walls and error pages that must not become a bookmark's metadata.
//!
//! Everything here is pure: the caller fetches the page and decodes it to text. One call to
//! [`extract_page`] parses the document once and returns both the metadata and the ranked icon
//! list. [`extract`] and [`icon_candidates`] are shorthands for one of the two, and each parses
//! the document itself. [`detect_block_page`] reads the raw HTML with a light tag scan and the
//! metadata already extracted, so it builds no second DOM.

mod block_page;
mod dates;
mod icons;
mod input;
mod jsonld;
mod markup;
mod metadata;
mod page_text;
mod signals;
mod text;
mod title;
mod urls;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod tests;

pub use block_page::{BlockReason, detect_block_page};
pub use icons::{IconCandidate, IconRel, IconSize};
pub use input::{MAX_HTML_BYTES, MAX_NESTING_DEPTH};
pub use metadata::{
    MAX_AUTHOR_CHARS, MAX_DESCRIPTION_CHARS, MAX_LANG_CHARS, MAX_SITE_NAME_CHARS, MAX_TITLE_CHARS,
    PageMetadata,
};
pub use urls::MAX_URL_BYTES;

use scraper::Html;
use url::Url;

/// The metadata and the ranked favicon candidates of one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedPage {
    pub metadata: PageMetadata,
    /// Best first; see [`icon_candidates`].
    pub icons: Vec<IconCandidate>,
}

/// Extracts metadata and favicon candidates from `html`, with one parse of the document.
/// Relative URLs resolve against the page's `<base href>`, else against `page_url`. Input
/// beyond [`MAX_HTML_BYTES`] or nested deeper than [`MAX_NESTING_DEPTH`] is not read.
pub fn extract_page(html: &str, page_url: &Url) -> ExtractedPage {
    let document = Html::parse_document(input::bounded_input(html));
    let signals = signals::collect(&document);
    drop(document);

    let base = urls::document_base(signals.base_href.as_deref(), page_url);
    let json_ld = jsonld::read_facts(&signals.json_ld);
    let icons = icons::rank_icons(&signals.links, &base, page_url);
    let sources = metadata::Sources {
        signals: &signals,
        json_ld: &json_ld,
        base: &base,
        page_url,
    };
    let metadata = sources.metadata(&icons);
    ExtractedPage { metadata, icons }
}

/// Extracts the metadata of a page. Use [`extract_page`] when the icon list is needed too.
pub fn extract(html: &str, page_url: &Url) -> PageMetadata {
    extract_page(html, page_url).metadata
}

/// Returns the page's favicon candidates, best first, ending with `/favicon.ico` of the page's
/// origin unless the page already lists it. Only http and https pages get that fallback.
/// Use [`extract_page`] when the metadata is needed too.
pub fn icon_candidates(html: &str, page_url: &Url) -> Vec<IconCandidate> {
    extract_page(html, page_url).icons
}
