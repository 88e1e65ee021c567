//! `PageMetadata` and the choice of each field among the page's sources.
//!
//! Every field takes the first source that yields a usable value after cleaning, in this order:
//! - title: `og:title`, `twitter:title`, JSON-LD headline or name, microdata headline, meta
//!   `title` / `dc.title`, `<title>`, first `<h1>`; then a trailing site name is removed.
//! - description: `og:description`, `twitter:description`, meta `description`, JSON-LD,
//!   microdata, `dc.description`, the first substantial paragraph of `<article>` or `<main>`.
//! - site_name: `og:site_name`, JSON-LD publisher / WebSite / Organization name, microdata
//!   publisher, `application-name`, `apple-mobile-web-app-title`, the site suffix of the title.
//! - image_url: `og:image` (and `:url`, `:secure_url`), `twitter:image` (and `:src`), JSON-LD,
//!   microdata, `<link rel="image_src">`, meta `image` / `thumbnail`, the first video poster or
//!   image of `<article>` or `<main>` that is not declared smaller than 100 px.
//! - author: JSON-LD author or creator, meta `author` and common byline metas, microdata,
//!   `<a rel="author">` text. URLs (profile links) are not names and are skipped.
//! - published_at: `article:published_time` and its variants, JSON-LD `datePublished`, common
//!   date metas, microdata, `<time datetime>`, a `/2016/05/24/` date in the page URL's path.
//! - lang: `<html lang>`, `content-language`, `og:locale`, JSON-LD `inLanguage`.
//! - canonical_url: `<link rel="canonical">`, `og:url`, `twitter:url`, JSON-LD url. A canonical
//!   URL that points at the site root from a deeper page is a template bug and is skipped.

use super::dates::{date_from_url_path, parse_datetime};
use super::icons::IconCandidate;
use super::jsonld::JsonLdFacts;
use super::signals::{PageSignals, has_token};
use super::text::{clean_markup, clean_text, decode_entities};
use super::title::strip_site_suffix;
use super::urls::resolve_http_url;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

/// Maximum title length in characters. Longer titles are cut at a word and end with "…".
pub const MAX_TITLE_CHARS: usize = 300;
/// Maximum description length in characters, cut like the title.
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;
/// Maximum site name length in characters, cut like the title.
pub const MAX_SITE_NAME_CHARS: usize = 100;
/// Maximum author length in characters, cut like the title.
pub const MAX_AUTHOR_CHARS: usize = 200;
/// Maximum language tag length in characters. Tags in practical use are far shorter, so longer
/// values are dropped as invalid.
pub const MAX_LANG_CHARS: usize = 35;

const DESCRIPTION_METAS: &[&str] = &["og:description", "twitter:description", "description"];
const SITE_NAME_METAS: &[&str] = &["application-name", "apple-mobile-web-app-title"];
const IMAGE_METAS: &[&str] = &[
    "og:image",
    "og:image:url",
    "og:image:secure_url",
    "twitter:image",
    "twitter:image:src",
];
const AUTHOR_METAS: &[&str] = &[
    "author",
    "article:author",
    "byl",
    "parsely-author",
    "sailthru.author",
    "dc.creator",
    "dcterms.creator",
    "citation_author",
];
const PUBLISHED_METAS: &[&str] = &[
    "article:published_time",
    "og:article:published_time",
    "article:published",
    "published_time",
    "og:published_time",
];
const DATE_METAS: &[&str] = &[
    "datepublished",
    "date",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "publication_date",
    "dc.date",
    "dc.date.issued",
    "dc.date.created",
    "dcterms.date",
    "dcterms.issued",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
    "citation_publication_date",
    "citation_date",
    "article.published",
    "release_date",
];
const LANG_METAS: &[&str] = &[
    "http-equiv:content-language",
    "content-language",
    "language",
    "dc.language",
];
const CANONICAL_METAS: &[&str] = &["og:url", "twitter:url"];

/// Metadata of one web page, with the field names of the bookmark API. Every field is optional
/// and serializes as `null` when the page offers nothing usable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageMetadata {
    pub title: Option<String>,
    pub description: Option<String>,
    pub site_name: Option<String>,
    pub image_url: Option<Url>,
    /// The best icon candidate; `/favicon.ico` of the page's origin when the page declares none.
    pub favicon_url: Option<Url>,
    pub author: Option<String>,
    /// Publication instant in UTC. A date without a time becomes midnight UTC.
    pub published_at: Option<DateTime<Utc>>,
    /// BCP 47 language tag in canonical case ("en", "en-US", "zh-Hant").
    pub lang: Option<String>,
    pub canonical_url: Option<Url>,
}

/// A raw value and how to clean it.
#[derive(Debug, Clone, Copy)]
enum Raw<'a> {
    /// Text the HTML parser already decoded (attribute values, element text).
    Text(&'a str),
    /// Text from a JSON-LD block, which may carry tags and undecoded entities.
    Markup(&'a str),
}

impl Raw<'_> {
    fn clean(self, max_chars: usize) -> Option<String> {
        match self {
            Self::Text(text) => clean_text(text, max_chars),
            Self::Markup(text) => clean_markup(text, max_chars),
        }
    }

    fn url(self, base: &Url) -> Option<Url> {
        match self {
            Self::Text(text) => resolve_http_url(text, base),
            Self::Markup(text) => resolve_http_url(&decode_entities(text), base),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Text(text) | Self::Markup(text) => text,
        }
    }
}

/// The page's raw values with what is needed to read them.
pub(crate) struct Sources<'a> {
    pub signals: &'a PageSignals,
    pub json_ld: &'a JsonLdFacts,
    /// Base for relative URLs: `<base href>` or the page URL.
    pub base: &'a Url,
    pub page_url: &'a Url,
}

impl<'a> Sources<'a> {
    /// Chooses every field. `icons` is the ranked favicon list.
    pub(crate) fn metadata(&self, icons: &[IconCandidate]) -> PageMetadata {
        let declared_site = self.site_name();
        let title = self
            .title()
            .map(|raw| strip_site_suffix(&raw, declared_site.as_deref(), self.page_url));
        let suffix_site = title.as_ref().and_then(|title| title.site_suffix.clone());

        PageMetadata {
            title: title.map(|title| title.title),
            description: self.description(),
            site_name: declared_site.or(suffix_site),
            image_url: self.image_url(),
            favicon_url: icons.first().map(|icon| icon.url.clone()),
            author: self.author(),
            published_at: self.published_at(),
            lang: self.lang(),
            canonical_url: self.canonical_url(),
        }
    }

    fn metas(&self, keys: &'a [&'a str]) -> impl Iterator<Item = Raw<'a>> + 'a {
        let metas = &self.signals.metas;
        keys.iter().flat_map(move |key| {
            metas
                .iter()
                .filter(move |meta| meta.key == *key)
                .map(|meta| Raw::Text(&meta.content))
        })
    }

    fn microdata(&self, property: &'a str) -> impl Iterator<Item = Raw<'a>> + 'a {
        self.signals
            .microdata
            .iter()
            .filter(move |item| item.property == property)
            .map(|item| Raw::Text(&item.value))
    }

    fn json_ld(values: &'a [String]) -> impl Iterator<Item = Raw<'a>> + 'a {
        values.iter().map(|value| Raw::Markup(value))
    }

    fn title(&self) -> Option<String> {
        let signals = self.signals;
        let candidates = self
            .metas(&["og:title", "twitter:title"])
            .chain(Self::json_ld(&self.json_ld.title))
            .chain(self.microdata("headline"))
            .chain(self.metas(&["title", "dc.title"]))
            .chain(signals.title.as_deref().map(Raw::Text))
            .chain(signals.first_h1.as_deref().map(Raw::Text));
        first_clean(candidates, MAX_TITLE_CHARS)
    }

    fn description(&self) -> Option<String> {
        let candidates = self
            .metas(DESCRIPTION_METAS)
            .chain(Self::json_ld(&self.json_ld.description))
            .chain(self.microdata("description"))
            .chain(self.metas(&["dc.description"]))
            .chain(self.signals.content_paragraph.as_deref().map(Raw::Text));
        first_clean(candidates, MAX_DESCRIPTION_CHARS)
    }

    fn site_name(&self) -> Option<String> {
        let candidates = self
            .metas(&["og:site_name"])
            .chain(Self::json_ld(&self.json_ld.site_name))
            .chain(self.microdata("publisher"))
            .chain(self.metas(SITE_NAME_METAS));
        first_clean(candidates, MAX_SITE_NAME_CHARS)
    }

    fn image_url(&self) -> Option<Url> {
        let image_links = self.link_hrefs("image_src");
        let content_image = self.signals.content_image.as_deref().map(Raw::Text);
        let mut candidates = self
            .metas(IMAGE_METAS)
            .chain(Self::json_ld(&self.json_ld.image))
            .chain(self.microdata("image"))
            .chain(image_links)
            .chain(self.metas(&["image", "thumbnail"]))
            .chain(content_image);
        candidates.find_map(|raw| raw.url(self.base))
    }

    fn author(&self) -> Option<String> {
        let author_links = self.signals.author_links.iter().map(|text| Raw::Text(text));
        let mut candidates = Self::json_ld(&self.json_ld.author)
            .chain(self.metas(AUTHOR_METAS))
            .chain(self.microdata("author"))
            .chain(self.microdata("creator"))
            .chain(author_links);
        candidates.find_map(|raw| clean_author(raw))
    }

    fn published_at(&self) -> Option<DateTime<Utc>> {
        let times = self
            .signals
            .time_datetimes
            .iter()
            .map(|time| Raw::Text(time));
        let mut candidates = self
            .metas(PUBLISHED_METAS)
            .chain(Self::json_ld(&self.json_ld.published))
            .chain(self.metas(DATE_METAS))
            .chain(self.microdata("datepublished"))
            .chain(self.microdata("datecreated"))
            .chain(times);
        let declared = candidates.find_map(|raw| parse_datetime(raw.as_str()));
        declared.or_else(|| date_from_url_path(self.page_url.path()))
    }

    fn lang(&self) -> Option<String> {
        let html_lang = self.signals.html_lang.as_deref().map(Raw::Text);
        let mut candidates = html_lang
            .into_iter()
            .chain(self.metas(LANG_METAS))
            .chain(self.metas(&["og:locale"]))
            .chain(Self::json_ld(&self.json_ld.lang))
            .chain(self.microdata("inlanguage"));
        candidates.find_map(|raw| normalize_language_tag(raw.as_str()))
    }

    fn canonical_url(&self) -> Option<Url> {
        let mut candidates = self
            .link_hrefs("canonical")
            .chain(self.metas(CANONICAL_METAS))
            .chain(Self::json_ld(&self.json_ld.url));
        candidates.find_map(|raw| {
            raw.url(self.base)
                .filter(|url| !self.is_misplaced_root(url))
        })
    }

    /// Returns whether `url` is the bare site root while the page itself is deeper.
    fn is_misplaced_root(&self, url: &Url) -> bool {
        let is_root = |url: &Url| url.path() == "/" && url.query().is_none();
        is_root(url) && !is_root(self.page_url)
    }

    fn link_hrefs(&self, rel: &'a str) -> impl Iterator<Item = Raw<'a>> + 'a {
        self.signals
            .links
            .iter()
            .filter(move |link| has_token(Some(&link.rel), rel))
            .map(|link| Raw::Text(&link.href))
    }
}

fn first_clean<'a>(
    mut candidates: impl Iterator<Item = Raw<'a>>,
    max_chars: usize,
) -> Option<String> {
    candidates.find_map(|raw| raw.clean(max_chars))
}

/// Cleans an author value: drops a leading "By", and rejects URLs, which profile metas such as
/// `article:author` often hold instead of a name.
fn clean_author(raw: Raw<'_>) -> Option<String> {
    let author = raw.clean(MAX_AUTHOR_CHARS)?;
    if author.contains("://") || author.starts_with("www.") {
        return None;
    }
    let without_by =
        strip_prefix_ignore_case(&author, "by ").map_or(author.as_str(), str::trim_start);
    (!without_by.is_empty()).then(|| without_by.to_owned())
}

fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Normalizes a language tag or locale ("en_US", "EN-us", "en-US,fr") to canonical BCP 47 case:
/// language lower case, script title case, region upper case. Only the first tag of a list is
/// kept. An invalid tag or "und" (undetermined) gives `None`.
pub(crate) fn normalize_language_tag(raw: &str) -> Option<String> {
    let first = raw.split([',', ';']).next()?.trim();
    if first.is_empty() || first.len() > MAX_LANG_CHARS {
        return None;
    }

    let mut subtags = first.split(['-', '_']);
    let language = subtags.next()?.to_ascii_lowercase();
    let valid_language = (2..=3).contains(&language.len())
        && language.bytes().all(|byte| byte.is_ascii_alphabetic());
    if !valid_language || language == "und" {
        return None;
    }

    let mut tag = language;
    for subtag in subtags {
        if subtag.is_empty()
            || subtag.len() > 8
            || !subtag.bytes().all(|byte| byte.is_ascii_alphanumeric())
        {
            break;
        }
        tag.push('-');
        tag.push_str(&canonical_subtag_case(subtag));
    }
    Some(tag)
}

fn canonical_subtag_case(subtag: &str) -> String {
    let alphabetic = subtag.bytes().all(|byte| byte.is_ascii_alphabetic());
    match subtag.len() {
        2 if alphabetic => subtag.to_ascii_uppercase(),
        4 if alphabetic => {
            let lower = subtag.to_ascii_lowercase();
            let (first, rest) = lower.split_at(1);
            format!("{}{rest}", first.to_ascii_uppercase())
        }
        _ => subtag.to_ascii_lowercase(),
    }
}
