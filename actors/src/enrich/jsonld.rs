//! JSON-LD (`<script type="application/ld+json">`) in the schema.org vocabulary: top-level
//! objects, arrays of objects, `@graph` arrays, `mainEntity` nesting and `@id` references.
//!
//! The main entity is the first article-like node (Article, NewsArticle, BlogPosting and their
//! kin), else the first other creative work (VideoObject, PodcastEpisode, Product, Recipe…), else
//! the first WebPage-like node. The site name comes from the main entity's publisher, else from a
//! WebSite node, else from an Organization node.

use serde_json::{Map, Value};
use std::collections::HashMap;

/// Maximum number of JSON-LD blocks read from one page. Later blocks are ignored.
pub(crate) const MAX_SCRIPTS: usize = 32;

/// Maximum size of one JSON-LD block in bytes. Larger blocks are skipped.
pub(crate) const MAX_SCRIPT_BYTES: usize = 1024 * 1024;

/// Maximum depth of `@graph` and `mainEntity` nesting that node collection follows.
const MAX_NODE_DEPTH: usize = 4;

/// Keys that hold an image's address. An image's `@id` is an identifier such as
/// "https://example.com/#primaryimage", not the image.
const IMAGE_URL_KEYS: &[&str] = &["url", "contentUrl"];

/// Keys that hold a page's address. A WebPage's `@id` is conventionally its URL.
const PAGE_URL_KEYS: &[&str] = &["url", "@id"];

/// Maximum number of authors listed in the author field.
const MAX_AUTHORS: usize = 3;

const ARTICLE_TYPES: &[&str] = &[
    "Article",
    "NewsArticle",
    "BlogPosting",
    "Report",
    "ScholarlyArticle",
    "MedicalScholarlyArticle",
    "TechArticle",
    "APIReference",
    "AnalysisNewsArticle",
    "AskPublicNewsArticle",
    "BackgroundNewsArticle",
    "OpinionNewsArticle",
    "ReportageNewsArticle",
    "ReviewNewsArticle",
    "SatiricalArticle",
    "AdvertiserContentArticle",
    "LiveBlogPosting",
    "SocialMediaPosting",
    "DiscussionForumPosting",
];

const CREATIVE_WORK_TYPES: &[&str] = &[
    "CreativeWork",
    "VideoObject",
    "AudioObject",
    "PodcastEpisode",
    "PodcastSeries",
    "Episode",
    "RadioEpisode",
    "TVEpisode",
    "Clip",
    "Recipe",
    "Product",
    "Event",
    "Book",
    "Movie",
    "MusicRecording",
    "MusicAlbum",
    "Course",
    "Review",
    "HowTo",
    "Question",
    "SoftwareApplication",
    "JobPosting",
    "Dataset",
];

const WEB_PAGE_TYPES: &[&str] = &[
    "WebPage",
    "ItemPage",
    "AboutPage",
    "CollectionPage",
    "ProfilePage",
    "QAPage",
    "FAQPage",
    "SearchResultsPage",
    "ContactPage",
    "CheckoutPage",
    "MedicalWebPage",
    "ImageGallery",
    "VideoGallery",
    "RealEstateListing",
];

const ORGANIZATION_TYPES: &[&str] = &[
    "Organization",
    "NewsMediaOrganization",
    "Corporation",
    "OnlineBusiness",
    "OnlineStore",
    "LocalBusiness",
    "EducationalOrganization",
    "GovernmentOrganization",
    "NGO",
    "Brand",
];

/// Raw values found in a page's JSON-LD, before cleaning. Each field lists candidates, best first.
#[derive(Debug, Default)]
pub(crate) struct JsonLdFacts {
    pub title: Vec<String>,
    pub description: Vec<String>,
    pub image: Vec<String>,
    pub author: Vec<String>,
    pub published: Vec<String>,
    pub site_name: Vec<String>,
    pub url: Vec<String>,
    pub lang: Vec<String>,
}

/// Parses every block (the caller keeps to [`MAX_SCRIPTS`] and [`MAX_SCRIPT_BYTES`]) and reads the facts of the page's main entity.
pub(crate) fn read_facts(scripts: &[String]) -> JsonLdFacts {
    let documents: Vec<Value> = scripts
        .iter()
        .flat_map(|script| parse_block(script))
        .collect();

    let mut nodes = Vec::new();
    for document in &documents {
        collect_nodes(document, 0, &mut nodes);
    }
    let graph = Graph::new(nodes);
    graph.facts()
}

/// Parses one script body. Invalid JSON gets one repair pass (raw control characters inside
/// strings, trailing commas, HTML comment and CDATA wrappers) before it is given up.
pub(crate) fn parse_block(script: &str) -> Vec<Value> {
    let values = parse_values(script);
    if !values.is_empty() {
        return values;
    }
    let Some(repaired) = repair(script) else {
        return Vec::new();
    };
    parse_values(&repaired)
}

/// Parses one or more JSON values written back to back, stopping at the first error.
fn parse_values(text: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .map_while(Result::ok)
        .collect()
}

/// Cuts the text to the outermost JSON container and fixes the errors that hand-written and
/// template-built JSON-LD commonly has. Returns `None` when there is no container at all.
fn repair(script: &str) -> Option<String> {
    let start = script.find(['{', '['])?;
    let end = script.rfind(['}', ']'])?;
    if end < start {
        return None;
    }
    let body = &script[start..=end];

    let mut output = String::with_capacity(body.len());
    let mut in_string = false;
    let mut escaped = false;
    for (index, character) in body.char_indices() {
        if in_string {
            push_string_char(&mut output, character, &mut in_string, &mut escaped);
            continue;
        }
        match character {
            '"' => {
                in_string = true;
                output.push(character);
            }
            ',' if next_is_closing(&body[index + 1..]) => {}
            _ => output.push(character),
        }
    }
    Some(output)
}

fn push_string_char(
    output: &mut String,
    character: char,
    in_string: &mut bool,
    escaped: &mut bool,
) {
    if *escaped {
        *escaped = false;
        // JSON has no `\'` escape; JavaScript authors write it anyway.
        if character == '\'' {
            output.pop();
        }
        output.push(character);
        return;
    }
    match character {
        '\\' => {
            *escaped = true;
            output.push(character);
        }
        '"' => {
            *in_string = false;
            output.push(character);
        }
        control if control.is_control() => output.push(' '),
        _ => output.push(character),
    }
}

fn next_is_closing(rest: &str) -> bool {
    rest.trim_start().starts_with(['}', ']'])
}

/// Collects the objects that describe things: top-level objects, members of arrays and `@graph`,
/// and `mainEntity` / `mainEntityOfPage` objects that carry their own type.
fn collect_nodes<'a>(value: &'a Value, depth: usize, nodes: &mut Vec<&'a Map<String, Value>>) {
    if depth > MAX_NODE_DEPTH {
        return;
    }
    match value {
        Value::Array(items) => {
            for item in items {
                collect_nodes(item, depth + 1, nodes);
            }
        }
        Value::Object(object) => {
            if object.contains_key("@type") {
                nodes.push(object);
            }
            if let Some(graph) = object.get("@graph") {
                collect_nodes(graph, depth + 1, nodes);
            }
            for key in ["mainEntity", "mainEntityOfPage"] {
                if let Some(entity @ Value::Object(inner)) = object.get(key)
                    && inner.contains_key("@type")
                {
                    collect_nodes(entity, depth + 1, nodes);
                }
            }
        }
        _ => {}
    }
}

/// The typed nodes of a page with an index of their `@id`s.
struct Graph<'a> {
    nodes: Vec<&'a Map<String, Value>>,
    by_id: HashMap<&'a str, &'a Map<String, Value>>,
}

impl<'a> Graph<'a> {
    fn new(nodes: Vec<&'a Map<String, Value>>) -> Self {
        let mut by_id = HashMap::new();
        for node in &nodes {
            if let Some(Value::String(id)) = node.get("@id") {
                by_id.entry(id.as_str()).or_insert(*node);
            }
        }
        Self { nodes, by_id }
    }

    fn facts(&self) -> JsonLdFacts {
        let mut facts = JsonLdFacts::default();
        let main = self.main_entity();
        let page = self.first_of(WEB_PAGE_TYPES);

        for node in [main, page].into_iter().flatten() {
            self.read_entity(node, &mut facts);
        }
        self.read_site(main, &mut facts);
        facts
    }

    fn main_entity(&self) -> Option<&'a Map<String, Value>> {
        self.first_of(ARTICLE_TYPES)
            .or_else(|| self.first_of(CREATIVE_WORK_TYPES))
            .or_else(|| self.first_of(WEB_PAGE_TYPES))
    }

    fn first_of(&self, types: &[&str]) -> Option<&'a Map<String, Value>> {
        self.nodes
            .iter()
            .copied()
            .find(|node| has_type(node, types))
    }

    fn read_entity(&self, node: &'a Map<String, Value>, facts: &mut JsonLdFacts) {
        let title_keys: &[&str] = if has_type(node, ARTICLE_TYPES) {
            &["headline", "name", "alternativeHeadline"]
        } else {
            &["name", "headline"]
        };
        for key in title_keys {
            facts.title.extend(node.get(*key).and_then(text_of));
        }
        facts
            .description
            .extend(node.get("description").and_then(text_of));
        for key in ["image", "thumbnailUrl", "primaryImageOfPage"] {
            let image = node
                .get(key)
                .and_then(|value| self.url_of(value, IMAGE_URL_KEYS));
            facts.image.extend(image);
        }
        for key in ["author", "creator"] {
            if let Some(value) = node.get(key) {
                facts.author.extend(self.joined_names(value));
            }
        }
        for key in ["datePublished", "dateCreated", "uploadDate"] {
            facts.published.extend(node.get(key).and_then(text_of));
        }
        for key in ["url", "mainEntityOfPage"] {
            let url = node
                .get(key)
                .and_then(|value| self.url_of(value, PAGE_URL_KEYS));
            facts.url.extend(url);
        }
        facts
            .lang
            .extend(node.get("inLanguage").and_then(language_of));
    }

    fn read_site(&self, main: Option<&'a Map<String, Value>>, facts: &mut JsonLdFacts) {
        let publisher = main.and_then(|node| {
            node.get("publisher")
                .or_else(|| node.get("sourceOrganization"))
        });
        if let Some(publisher) = publisher {
            facts
                .site_name
                .extend(self.names(publisher).into_iter().next());
        }
        if let Some(website) = self.first_of(&["WebSite"]) {
            facts
                .site_name
                .extend(website.get("name").and_then(text_of));
            facts
                .lang
                .extend(website.get("inLanguage").and_then(language_of));
        }
        if let Some(organization) = self.first_of(ORGANIZATION_TYPES) {
            facts
                .site_name
                .extend(organization.get("name").and_then(text_of));
        }
    }

    /// Returns the names of a person, an organization or a list of them, joined with ", ".
    /// URLs, which some sites put in place of a name, and repeated names are skipped.
    fn joined_names(&self, value: &'a Value) -> Option<String> {
        let mut names: Vec<String> = Vec::new();
        for name in self.names(value) {
            let name = name.trim();
            let usable = !name.is_empty() && !name.contains("://");
            if usable && !names.iter().any(|known| known == name) {
                names.push(name.to_owned());
            }
        }
        names.truncate(MAX_AUTHORS);
        (!names.is_empty()).then(|| names.join(", "))
    }

    fn names(&self, value: &'a Value) -> Vec<String> {
        match value {
            Value::String(name) => vec![name.clone()],
            Value::Array(items) => items.iter().flat_map(|item| self.names(item)).collect(),
            Value::Object(object) => self.object_name(object).into_iter().collect(),
            _ => Vec::new(),
        }
    }

    fn object_name(&self, object: &'a Map<String, Value>) -> Option<String> {
        let object = self.dereference(object);
        if let Some(name) = object.get("name").and_then(text_of) {
            return Some(name);
        }
        let given = object.get("givenName").and_then(text_of);
        let family = object.get("familyName").and_then(text_of);
        match (given, family) {
            (Some(given), Some(family)) => Some(format!("{given} {family}")),
            (Some(single), None) | (None, Some(single)) => Some(single),
            (None, None) => None,
        }
    }

    /// Returns the node that an `{"@id": …}` stub refers to, or the object itself.
    fn dereference(&self, object: &'a Map<String, Value>) -> &'a Map<String, Value> {
        if object.contains_key("name") {
            return object;
        }
        let reference = object.get("@id").and_then(Value::as_str);
        reference
            .and_then(|id| self.by_id.get(id).copied())
            .unwrap_or(object)
    }

    /// Returns a URL given as a string, the first of an array, or the first of `keys` in an
    /// object or in the node that the object's `@id` refers to.
    fn url_of(&self, value: &'a Value, keys: &[&str]) -> Option<String> {
        match value {
            Value::String(url) => Some(url.clone()),
            Value::Array(items) => items.iter().find_map(|item| self.url_of(item, keys)),
            Value::Object(object) => {
                let own = keys.iter().find_map(|key| object.get(*key));
                let referenced = || {
                    let id = object.get("@id").and_then(Value::as_str)?;
                    let target = self.by_id.get(id)?;
                    keys.iter().find_map(|key| target.get(*key))
                };
                own.or_else(referenced)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }
            _ => None,
        }
    }
}

/// Returns whether the node's `@type` is one of `types`, with or without a vocabulary prefix
/// ("schema:Article", "https://schema.org/Article").
fn has_type(node: &Map<String, Value>, types: &[&str]) -> bool {
    let matches = |name: &str| {
        let local = name.rsplit(['/', ':', '#']).next().unwrap_or(name);
        types.contains(&local)
    };
    match node.get("@type") {
        Some(Value::String(name)) => matches(name),
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).any(matches),
        _ => false,
    }
}

/// Returns a plain text value: a string, a number, the first text of an array or a `@value`
/// object.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Array(items) => items.iter().find_map(text_of),
        Value::Object(object) => object.get("@value").and_then(text_of),
        _ => None,
    }
}

/// Returns `inLanguage` given as a string or as a Language object with a BCP 47
/// `alternateName`.
fn language_of(value: &Value) -> Option<String> {
    match value {
        Value::Object(object) => object
            .get("alternateName")
            .or_else(|| object.get("name"))
            .and_then(text_of),
        other => text_of(other),
    }
}
