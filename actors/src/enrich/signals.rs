//! One walk over the parsed document that collects every raw value the extractor reads: meta
//! tags, link tags, JSON-LD blocks, microdata properties, `<time>` elements and a few elements'
//! text. Nothing is cleaned or resolved here.

use super::jsonld;
use html5ever::ns;
use scraper::{ElementRef, Html};

/// Maximum bytes of text read from one element (a `<title>`, an `<h1>`, a microdata value).
const MAX_ELEMENT_TEXT_BYTES: usize = 16 * 1024;

/// Maximum number of meta, link, microdata and `<time>` entries kept of each kind.
const MAX_ENTRIES: usize = 2_000;

/// Minimum length in characters of a paragraph used as a description. Shorter ones tend to be
/// captions, datelines and bylines.
const MIN_PARAGRAPH_CHARS: usize = 40;

/// Images declared smaller than this in width or height are icons, avatars or emoji.
const MIN_CONTENT_IMAGE_PX: u32 = 100;

/// Maximum nodes searched for the `itemprop="name"` of a person or organization item.
const MAX_SCOPE_NODES: usize = 1_000;

/// Microdata properties the extractor reads. Others are skipped without reading their text.
const MICRODATA_PROPERTIES: &[&str] = &[
    "headline",
    "description",
    "author",
    "creator",
    "publisher",
    "datepublished",
    "datecreated",
    "image",
    "inlanguage",
];

/// The raw values of one page.
#[derive(Debug, Default)]
pub(crate) struct PageSignals {
    /// Text of the first `<title>` in the HTML namespace (an SVG `<title>` is a tooltip).
    pub title: Option<String>,
    pub first_h1: Option<String>,
    /// `lang` (or `xml:lang`) of the `<html>` element.
    pub html_lang: Option<String>,
    /// `href` of the first `<base>` that has one, because browsers ignore later ones.
    pub base_href: Option<String>,
    pub metas: Vec<MetaTag>,
    pub links: Vec<LinkTag>,
    pub json_ld: Vec<String>,
    pub microdata: Vec<MicrodataValue>,
    /// `datetime` of `<time>` elements, in document order.
    pub time_datetimes: Vec<String>,
    /// Text of `<a rel="author">` links.
    pub author_links: Vec<String>,
    /// Text of the first substantial `<p>` of the main content; see [`is_main_content`].
    pub content_paragraph: Option<String>,
    /// The first image of the main content: a `<video poster>` or an `<img>` not declared
    /// smaller than [`MIN_CONTENT_IMAGE_PX`].
    pub content_image: Option<String>,
}

/// A `<meta>` tag's key and value. The key is the lower-cased `property`, `name` or
/// `http-equiv` attribute, and an `http-equiv` key is prefixed with `http-equiv:`. A tag with
/// several of these attributes is stored once per key.
#[derive(Debug, Clone)]
pub(crate) struct MetaTag {
    pub key: String,
    pub content: String,
}

/// A `<link>` tag with an `href`.
#[derive(Debug, Clone)]
pub(crate) struct LinkTag {
    /// Lower-cased `rel` attribute.
    pub rel: String,
    pub href: String,
    pub sizes: Option<String>,
    pub mime_type: Option<String>,
}

/// A microdata property (`itemprop`) with a lower-cased name and its value.
#[derive(Debug, Clone)]
pub(crate) struct MicrodataValue {
    pub property: String,
    pub value: String,
}

/// Walks the document once in tree order.
pub(crate) fn collect(document: &Html) -> PageSignals {
    let mut signals = PageSignals::default();
    for node in document.tree.root().descendants() {
        let Some(element) = ElementRef::wrap(node) else {
            continue;
        };
        if element.value().name.ns != ns!(html) {
            continue;
        }
        collect_element(element, &mut signals);
        if let Some(itemprop) = element.value().attr("itemprop") {
            collect_microdata(element, itemprop, &mut signals);
        }
    }
    signals
}

fn collect_element(element: ElementRef<'_>, signals: &mut PageSignals) {
    let value = element.value();
    match value.name() {
        "html" => {
            let lang = value.attr("lang").or_else(|| value.attr("xml:lang"));
            if signals.html_lang.is_none() {
                signals.html_lang = lang.map(str::to_owned);
            }
        }
        "base" if signals.base_href.is_none() => {
            signals.base_href = value.attr("href").map(str::to_owned);
        }
        "title" if signals.title.is_none() => signals.title = Some(bounded_text(element)),
        "h1" if signals.first_h1.is_none() => signals.first_h1 = Some(bounded_text(element)),
        "meta" => collect_meta(element, signals),
        "link" => collect_link(element, signals),
        "script" if is_json_ld(value.attr("type")) => collect_json_ld(element, signals),
        "time" => {
            if let Some(datetime) = value.attr("datetime") {
                push_bounded(&mut signals.time_datetimes, datetime.to_owned());
            }
        }
        "a" if has_token(value.attr("rel"), "author") => {
            push_bounded(&mut signals.author_links, bounded_text(element));
        }
        "p" if signals.content_paragraph.is_none() => collect_paragraph(element, signals),
        "img" | "video" if signals.content_image.is_none() => {
            collect_content_image(element, signals)
        }
        _ => {}
    }
}

fn collect_json_ld(element: ElementRef<'_>, signals: &mut PageSignals) {
    if signals.json_ld.len() >= jsonld::MAX_SCRIPTS {
        return;
    }
    let text: String = element.text().collect();
    if text.len() <= jsonld::MAX_SCRIPT_BYTES {
        signals.json_ld.push(text);
    }
}

fn collect_meta(element: ElementRef<'_>, signals: &mut PageSignals) {
    let value = element.value();
    let Some(content) = value.attr("content").or_else(|| value.attr("value")) else {
        return;
    };
    for attribute in ["property", "name"] {
        if let Some(key) = value.attr(attribute) {
            push_meta(signals, key.trim().to_ascii_lowercase(), content);
        }
    }
    if let Some(key) = value.attr("http-equiv") {
        let key = format!("http-equiv:{}", key.trim().to_ascii_lowercase());
        push_meta(signals, key, content);
    }
}

fn push_meta(signals: &mut PageSignals, key: String, content: &str) {
    let tag = MetaTag {
        key,
        content: content.to_owned(),
    };
    push_bounded(&mut signals.metas, tag);
}

fn collect_link(element: ElementRef<'_>, signals: &mut PageSignals) {
    let value = element.value();
    let (Some(rel), Some(href)) = (value.attr("rel"), value.attr("href")) else {
        return;
    };
    let link = LinkTag {
        rel: rel.to_ascii_lowercase(),
        href: href.to_owned(),
        sizes: value.attr("sizes").map(str::to_owned),
        mime_type: value.attr("type").map(str::to_owned),
    };
    push_bounded(&mut signals.links, link);
}

fn collect_paragraph(element: ElementRef<'_>, signals: &mut PageSignals) {
    if !is_main_content(element) {
        return;
    }
    let text = bounded_text(element);
    if text.trim().chars().count() >= MIN_PARAGRAPH_CHARS {
        signals.content_paragraph = Some(text);
    }
}

fn collect_content_image(element: ElementRef<'_>, signals: &mut PageSignals) {
    let value = element.value();
    let source = if value.name() == "video" {
        value.attr("poster")
    } else {
        // Lazy loaders put a placeholder in `src` and the real image in `data-src`.
        let src = value
            .attr("src")
            .filter(|src| !src.trim_start().starts_with("data:"));
        src.or_else(|| value.attr("data-src"))
    };
    let Some(source) = source else {
        return;
    };
    let declared_small = ["width", "height"].iter().any(|dimension| {
        let pixels = value
            .attr(dimension)
            .and_then(|size| size.trim().parse::<u32>().ok());
        pixels.is_some_and(|pixels| pixels < MIN_CONTENT_IMAGE_PX)
    });
    if !declared_small && is_main_content(element) {
        signals.content_image = Some(source.to_owned());
    }
}

/// Returns whether the element sits inside `<article>`, `<main>` or `role="main"`, and not inside
/// page chrome (`<header>`, `<footer>`, `<nav>`, `<aside>`, `<form>`) within it.
fn is_main_content(element: ElementRef<'_>) -> bool {
    for ancestor in element.ancestors().filter_map(ElementRef::wrap) {
        let value = ancestor.value();
        match value.name() {
            "header" | "footer" | "nav" | "aside" | "form" | "figcaption" => return false,
            "article" | "main" => return true,
            _ if value.attr("role") == Some("main") => return true,
            _ => {}
        }
    }
    false
}

// NOTE: item scopes are not tracked, so a `headline` or `description` of a nested item (a
// review or a related article inside the page's item) counts as the page's own.
fn collect_microdata(element: ElementRef<'_>, itemprop: &str, signals: &mut PageSignals) {
    for property in itemprop.split_ascii_whitespace() {
        let property = property.to_ascii_lowercase();
        if !MICRODATA_PROPERTIES.contains(&property.as_str()) {
            continue;
        }
        let value = match property.as_str() {
            "author" | "creator" | "publisher" => scoped_name(element),
            _ => microdata_value(element),
        };
        if let Some(value) = value {
            push_bounded(&mut signals.microdata, MicrodataValue { property, value });
        }
    }
}

/// Returns the value of a person or organization property: the `itemprop="name"` inside it
/// when the property is its own item (`itemscope`), else its own value.
fn scoped_name(element: ElementRef<'_>) -> Option<String> {
    if element.value().attr("itemscope").is_none() {
        return microdata_value(element);
    }
    let mut descendants = element
        .descendants()
        .take(MAX_SCOPE_NODES)
        .filter_map(ElementRef::wrap);
    let name = descendants.find(|inner| {
        let itemprop = inner.value().attr("itemprop");
        itemprop.is_some_and(|props| props.split_ascii_whitespace().any(|prop| prop == "name"))
    });
    name.and_then(microdata_value)
}

/// Returns the element's microdata property value, which the microdata specification defines
/// per element type (`content`, `href`, `src`, `datetime` or the text).
fn microdata_value(element: ElementRef<'_>) -> Option<String> {
    let value = element.value();
    let attribute = match value.name() {
        "meta" => value.attr("content"),
        "a" | "area" | "link" => value.attr("href"),
        "img" | "audio" | "video" | "source" | "iframe" | "embed" | "track" => value.attr("src"),
        "object" => value.attr("data"),
        "data" | "meter" => value.attr("value"),
        "time" => value.attr("datetime"),
        _ => value.attr("content"),
    };
    match attribute {
        Some(attribute) => Some(attribute.to_owned()),
        None if value.name() == "time" || !is_void(value.name()) => Some(bounded_text(element)),
        None => None,
    }
}

fn is_void(name: &str) -> bool {
    matches!(
        name,
        "meta" | "link" | "img" | "source" | "track" | "embed" | "area" | "br" | "hr" | "input"
    )
}

/// Returns the element's text, cut at a character boundary after [`MAX_ELEMENT_TEXT_BYTES`].
fn bounded_text(element: ElementRef<'_>) -> String {
    let mut text = String::new();
    for piece in element.text() {
        let room = MAX_ELEMENT_TEXT_BYTES.saturating_sub(text.len());
        if piece.len() <= room {
            text.push_str(piece);
            continue;
        }
        let mut cut = room;
        while !piece.is_char_boundary(cut) {
            cut -= 1;
        }
        text.push_str(&piece[..cut]);
        break;
    }
    text
}

fn push_bounded<T>(entries: &mut Vec<T>, entry: T) {
    if entries.len() < MAX_ENTRIES {
        entries.push(entry);
    }
}

/// Returns whether a `type` attribute names JSON-LD, ignoring parameters and case.
fn is_json_ld(script_type: Option<&str>) -> bool {
    let Some(script_type) = script_type else {
        return false;
    };
    let essence = script_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/ld+json")
}

/// Returns whether a space-separated token list (`rel`, `itemprop`) contains `token`, ignoring ASCII case.
pub(crate) fn has_token(list: Option<&str>, token: &str) -> bool {
    list.is_some_and(|list| {
        list.split_ascii_whitespace()
            .any(|item| item.eq_ignore_ascii_case(token))
    })
}
