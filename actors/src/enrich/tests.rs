//! Tests of `extract`, `icon_candidates` and `detect_block_page` on small hand-written pages,
//! one source or rule per test.

use super::*;
use proptest::prelude::*;

fn page_url() -> Url {
    Url::parse("https://news.example.com/2020/story.html").expect("valid test URL")
}

fn extract_html(html: &str) -> PageMetadata {
    extract(html, &page_url())
}

fn head(inner: &str) -> String {
    format!("<!doctype html><html><head>{inner}</head><body><p>Body</p></body></html>")
}

fn url_string(url: &Option<Url>) -> Option<&str> {
    url.as_ref().map(Url::as_str)
}

fn iso(instant: Option<chrono::DateTime<chrono::Utc>>) -> Option<String> {
    instant.map(|instant| instant.to_rfc3339())
}

// --- titles ---

#[test]
fn title_prefers_open_graph() {
    let html = head(
        r#"<title>Doc title</title><meta name="twitter:title" content="Card title">
           <meta property="og:title" content="OG title">"#,
    );
    assert_eq!(extract_html(&html).title.as_deref(), Some("OG title"));
}

#[test]
fn title_falls_back_to_twitter_then_title_element() {
    let html = head(r#"<title>Doc title</title><meta name="twitter:title" content="Card title">"#);
    assert_eq!(extract_html(&html).title.as_deref(), Some("Card title"));
    let html = head("<title>Doc title</title>");
    assert_eq!(extract_html(&html).title.as_deref(), Some("Doc title"));
}

#[test]
fn title_falls_back_to_h1() {
    let html = "<html><body><h1> Heading  only </h1></body></html>";
    assert_eq!(extract_html(html).title.as_deref(), Some("Heading only"));
}

#[test]
fn title_ignores_svg_title() {
    let html = r#"<html><head></head><body><svg><title>Icon</title></svg><title>Real</title></body></html>"#;
    assert_eq!(extract_html(html).title.as_deref(), Some("Real"));
}

#[test]
fn title_strips_matching_site_suffix() {
    let html = head(
        r#"<title>Big story | Daily Planet</title><meta property="og:site_name" content="Daily Planet">"#,
    );
    let metadata = extract_html(&html);
    assert_eq!(metadata.title.as_deref(), Some("Big story"));
    assert_eq!(metadata.site_name.as_deref(), Some("Daily Planet"));

    let html = head(
        r#"<title>Big story — Daily Planet</title><meta property="og:site_name" content="Daily Planet">"#,
    );
    assert_eq!(extract_html(&html).title.as_deref(), Some("Big story"));
}

#[test]
fn title_keeps_suffix_of_other_name() {
    let html = head(
        r#"<title>Rust - the book</title><meta property="og:site_name" content="Daily Planet">"#,
    );
    assert_eq!(
        extract_html(&html).title.as_deref(),
        Some("Rust - the book")
    );
}

#[test]
fn title_suffix_matching_host_gives_site_name() {
    let html = head("<title>Big story - Example</title>");
    let metadata = extract_html(&html);
    assert_eq!(metadata.title.as_deref(), Some("Big story"));
    assert_eq!(metadata.site_name.as_deref(), Some("Example"));
}

#[test]
fn title_is_capped() {
    let long = "word ".repeat(200);
    let html = head(&format!("<title>{long}</title>"));
    let title = extract_html(&html).title.expect("title is found");
    assert!(title.chars().count() <= MAX_TITLE_CHARS);
    assert!(title.ends_with('…'));
}

// --- text clean-up ---

#[test]
fn text_decodes_entities_and_collapses_whitespace() {
    let html = head(
        "<meta property=\"og:title\" content=\"  Fish &amp; chips\n\t&#8211;  &quot;best&quot; &nbsp; \">",
    );
    assert_eq!(
        extract_html(&html).title.as_deref(),
        Some("Fish & chips – \"best\"")
    );
}

#[test]
fn text_decodes_double_encoded_entities() {
    let html = head(r#"<meta property="og:description" content="It&amp;#8217;s here">"#);
    assert_eq!(
        extract_html(&html).description.as_deref(),
        Some("It’s here")
    );
}

#[test]
fn empty_values_fall_through() {
    let html = head(
        r#"<meta property="og:title" content="   "><meta property="og:description" content="">
           <meta name="description" content="Real description"><title>Doc title</title>"#,
    );
    let metadata = extract_html(&html);
    assert_eq!(metadata.title.as_deref(), Some("Doc title"));
    assert_eq!(metadata.description.as_deref(), Some("Real description"));
}

#[test]
fn description_sources_in_order() {
    let html = head(
        r#"<meta name="description" content="Plain"><meta name="twitter:description" content="Card">"#,
    );
    assert_eq!(extract_html(&html).description.as_deref(), Some("Card"));
    let html = head(r#"<meta name="description" content="Plain">"#);
    assert_eq!(extract_html(&html).description.as_deref(), Some("Plain"));
}

#[test]
fn description_falls_back_to_article_paragraph() {
    let html = r#"<html><body><header><p>Site navigation text that is long enough to count as prose.</p></header>
        <article><p>Short.</p><p>The first real paragraph of the article, long enough to describe it.</p></article>
        </body></html>"#;
    let description = extract_html(html).description;
    assert_eq!(
        description.as_deref(),
        Some("The first real paragraph of the article, long enough to describe it.")
    );
}

#[test]
fn description_ignores_paragraphs_outside_main_content() {
    let html = "<html><body><p>We use cookies to improve your experience on this site, see our policy.</p></body></html>";
    assert_eq!(extract_html(html).description, None);
}

// --- URLs ---

#[test]
fn image_resolves_relative_url() {
    let html = head(r#"<meta property="og:image" content="../img/a.jpg">"#);
    let metadata = extract_html(&html);
    assert_eq!(
        url_string(&metadata.image_url),
        Some("https://news.example.com/img/a.jpg")
    );
}

#[test]
fn image_resolves_protocol_relative_url() {
    let html = head(r#"<meta property="og:image" content="//cdn.example.net/a.jpg">"#);
    assert_eq!(
        url_string(&extract_html(&html).image_url),
        Some("https://cdn.example.net/a.jpg")
    );
}

#[test]
fn base_href_changes_resolution() {
    let html = head(
        r#"<base href="https://static.example.org/assets/"><base href="/ignored/">
           <meta property="og:image" content="a.jpg"><link rel="canonical" href="/story">"#,
    );
    let metadata = extract_html(&html);
    assert_eq!(
        url_string(&metadata.image_url),
        Some("https://static.example.org/assets/a.jpg")
    );
    assert_eq!(
        url_string(&metadata.canonical_url),
        Some("https://static.example.org/story")
    );
}

#[test]
fn image_skips_unusable_urls() {
    let html = head(
        r#"<meta property="og:image" content="javascript:alert(1)">
           <meta name="twitter:image" content="data:image/png;base64,AAAA">
           <meta name="twitter:image:src" content="/real.png">"#,
    );
    assert_eq!(
        url_string(&extract_html(&html).image_url),
        Some("https://news.example.com/real.png")
    );
}

#[test]
fn image_falls_back_to_link_and_content_image() {
    let html = head(r#"<link rel="image_src" href="/linked.jpg">"#);
    assert_eq!(
        url_string(&extract_html(&html).image_url),
        Some("https://news.example.com/linked.jpg")
    );

    let html = r#"<html><body><main><img src="/avatar.png" width="40" height="40">
        <img src="data:image/gif;base64,R0lG" data-src="/photo.jpg" width="800"></main></body></html>"#;
    assert_eq!(
        url_string(&extract_html(html).image_url),
        Some("https://news.example.com/photo.jpg")
    );
}

#[test]
fn canonical_prefers_link_then_og_url() {
    let html = head(
        r#"<meta property="og:url" content="https://news.example.com/og"><link rel="canonical" href="/canon">"#,
    );
    assert_eq!(
        url_string(&extract_html(&html).canonical_url),
        Some("https://news.example.com/canon")
    );
    let html = head(r#"<meta property="og:url" content="https://news.example.com/og">"#);
    assert_eq!(
        url_string(&extract_html(&html).canonical_url),
        Some("https://news.example.com/og")
    );
}

#[test]
fn canonical_skips_site_root_for_deep_page() {
    let html = head(
        r#"<link rel="canonical" href="/"><meta property="og:url" content="/2020/story.html">"#,
    );
    assert_eq!(
        url_string(&extract_html(&html).canonical_url),
        Some("https://news.example.com/2020/story.html")
    );
}

#[test]
fn canonical_is_none_when_undeclared() {
    assert_eq!(extract_html(&head("<title>x</title>")).canonical_url, None);
}

// --- authors, dates, languages ---

#[test]
fn author_from_meta_and_byline_prefix() {
    let html = head(r#"<meta name="author" content="By Jane Doe">"#);
    assert_eq!(extract_html(&html).author.as_deref(), Some("Jane Doe"));
}

#[test]
fn author_skips_profile_urls() {
    let html = head(
        r#"<meta property="article:author" content="https://www.facebook.com/jane">
           <meta name="parsely-author" content="Jane Doe">"#,
    );
    assert_eq!(extract_html(&html).author.as_deref(), Some("Jane Doe"));
}

#[test]
fn author_from_microdata_and_rel_author() {
    let html = r#"<html><body><span itemprop="author" itemscope itemtype="https://schema.org/Person">
        <span itemprop="name">Ann Smith</span><span itemprop="jobTitle">Editor</span></span></body></html>"#;
    assert_eq!(extract_html(html).author.as_deref(), Some("Ann Smith"));
    let html = r#"<html><body><a rel="author" href="/people/bob">Bob Jones</a></body></html>"#;
    assert_eq!(extract_html(html).author.as_deref(), Some("Bob Jones"));
}

#[test]
fn published_time_from_meta_variants() {
    let html =
        head(r#"<meta property="article:published_time" content="2016-05-24T14:00:00-04:00">"#);
    assert_eq!(
        iso(extract_html(&html).published_at).as_deref(),
        Some("2016-05-24T18:00:00+00:00")
    );
    let html = head(r#"<meta name="DC.date.issued" content="2016-05-24">"#);
    assert_eq!(
        iso(extract_html(&html).published_at).as_deref(),
        Some("2016-05-24T00:00:00+00:00")
    );
    let html = head(r#"<meta name="sailthru.date" content="2016-05-24 16:38:36 -0700">"#);
    assert_eq!(
        iso(extract_html(&html).published_at).as_deref(),
        Some("2016-05-24T23:38:36+00:00")
    );
}

#[test]
fn published_time_from_itemprop_and_time_element() {
    let html = r#"<html><body><time itemprop="datePublished" datetime="2016-05-24T10:00:00Z">May 24</time></body></html>"#;
    assert_eq!(
        iso(extract_html(html).published_at).as_deref(),
        Some("2016-05-24T10:00:00+00:00")
    );
    let html = r#"<html><body><time datetime="2016-05-25">May 25</time></body></html>"#;
    assert_eq!(
        iso(extract_html(html).published_at).as_deref(),
        Some("2016-05-25T00:00:00+00:00")
    );
}

#[test]
fn published_time_skips_unparsable_values() {
    let html = head(
        r#"<meta property="article:published_time" content="soon"><meta name="date" content="2016-05-24">"#,
    );
    assert_eq!(
        iso(extract_html(&html).published_at).as_deref(),
        Some("2016-05-24T00:00:00+00:00")
    );
}

#[test]
fn published_time_falls_back_to_url_date() {
    let url = Url::parse("https://blog.example.com/2016/05/16/story/").expect("valid test URL");
    let metadata = extract(&head("<title>x</title>"), &url);
    assert_eq!(
        iso(metadata.published_at).as_deref(),
        Some("2016-05-16T00:00:00+00:00")
    );
}

#[test]
fn published_time_serializes_as_iso_8601() {
    let html =
        head(r#"<meta property="article:published_time" content="2016-05-24T18:00:03.899Z">"#);
    let json = serde_json::to_value(extract_html(&html)).expect("metadata serializes");
    assert_eq!(json["published_at"], "2016-05-24T18:00:03.899Z");
}

#[test]
fn lang_from_html_and_fallbacks() {
    let html = r#"<html lang="en-us"><head><title>x</title></head></html>"#;
    assert_eq!(extract_html(html).lang.as_deref(), Some("en-US"));
    let html = head(r#"<meta http-equiv="Content-Language" content="de-DE, en">"#);
    assert_eq!(extract_html(&html).lang.as_deref(), Some("de-DE"));
    let html = head(r#"<meta property="og:locale" content="pt_BR">"#);
    assert_eq!(extract_html(&html).lang.as_deref(), Some("pt-BR"));
    let html = r#"<html lang="zh-hant-tw"><body>x</body></html>"#;
    assert_eq!(extract_html(html).lang.as_deref(), Some("zh-Hant-TW"));
}

#[test]
fn lang_rejects_invalid_tags() {
    let html =
        r#"<html lang="english"><head><meta property="og:locale" content="fr_FR"></head></html>"#;
    assert_eq!(extract_html(html).lang.as_deref(), Some("fr-FR"));
    let html = r#"<html lang="und"><body></body></html>"#;
    assert_eq!(extract_html(html).lang, None);
}

// --- JSON-LD ---

fn json_ld(block: &str) -> String {
    head(&format!(
        r#"<script type="application/ld+json">{block}</script>"#
    ))
}

#[test]
fn json_ld_article_fields() {
    let html = json_ld(
        r#"{"@context":"https://schema.org","@type":"NewsArticle","headline":"Headline &amp; more",
            "description":"<p>Desc</p>","image":["/a.jpg","/b.jpg"],
            "author":{"@type":"Person","name":"Jane Doe"},"datePublished":"2016-05-24T18:00:00Z",
            "dateModified":"2017-01-01T00:00:00Z","publisher":{"@type":"Organization","name":"Planet"},
            "inLanguage":"en-GB","mainEntityOfPage":{"@type":"WebPage","@id":"https://news.example.com/canon"}}"#,
    );
    let metadata = extract_html(&html);
    assert_eq!(metadata.title.as_deref(), Some("Headline & more"));
    assert_eq!(metadata.description.as_deref(), Some("Desc"));
    assert_eq!(
        url_string(&metadata.image_url),
        Some("https://news.example.com/a.jpg")
    );
    assert_eq!(metadata.author.as_deref(), Some("Jane Doe"));
    assert_eq!(
        iso(metadata.published_at).as_deref(),
        Some("2016-05-24T18:00:00+00:00")
    );
    assert_eq!(metadata.site_name.as_deref(), Some("Planet"));
    assert_eq!(metadata.lang.as_deref(), Some("en-GB"));
    assert_eq!(
        url_string(&metadata.canonical_url),
        Some("https://news.example.com/canon")
    );
}

#[test]
fn json_ld_graph_with_references() {
    let html = json_ld(
        r##"{"@context":"https://schema.org","@graph":[
            {"@type":"WebSite","@id":"#site","name":"Site Name"},
            {"@type":"Person","@id":"#jane","name":"Jane Doe"},
            {"@type":"Organization","@id":"#org","name":"Org Name"},
            {"@type":"ImageObject","@id":"#image","url":"https://cdn.example.com/p.png"},
            {"@type":"BlogPosting","headline":"Post","author":{"@id":"#jane"},"publisher":{"@id":"#org"},
             "image":{"@id":"#image"}}]}"##,
    );
    let metadata = extract_html(&html);
    assert_eq!(metadata.title.as_deref(), Some("Post"));
    assert_eq!(metadata.author.as_deref(), Some("Jane Doe"));
    assert_eq!(metadata.site_name.as_deref(), Some("Org Name"));
    assert_eq!(
        url_string(&metadata.image_url),
        Some("https://cdn.example.com/p.png")
    );
}

#[test]
fn json_ld_image_identifier_is_not_an_image() {
    let html = json_ld(
        r##"{"@type":"Article","image":{"@id":"https://news.example.com/#primaryimage"}}"##,
    );
    assert_eq!(extract_html(&html).image_url, None);
}

#[test]
fn json_ld_array_of_objects_prefers_article() {
    let html = json_ld(
        r#"[{"@type":"BreadcrumbList","name":"Crumbs"},{"@type":"WebPage","name":"Page name"},
            {"@type":["Article","Thing"],"headline":"Article headline"}]"#,
    );
    assert_eq!(
        extract_html(&html).title.as_deref(),
        Some("Article headline")
    );
}

#[test]
fn json_ld_author_arrays_and_strings() {
    let html = json_ld(
        r#"{"@type":"Article","author":[{"@type":"Person","name":"A One"},"https://example.com/b",
            "B Two","A One",{"@type":"Person","givenName":"C","familyName":"Three"},{"name":"D Four"}]}"#,
    );
    assert_eq!(
        extract_html(&html).author.as_deref(),
        Some("A One, B Two, C Three")
    );
}

#[test]
fn json_ld_prefixed_types_and_main_entity() {
    let html = json_ld(
        r#"{"@type":"http://schema.org/WebPage","name":"Page",
            "mainEntity":{"@type":"schema:NewsArticle","headline":"Nested headline"}}"#,
    );
    assert_eq!(
        extract_html(&html).title.as_deref(),
        Some("Nested headline")
    );
}

#[test]
fn json_ld_broken_blocks_are_repaired_or_skipped() {
    let html = head(
        "<script type=\"application/ld+json\">{ this is not json }</script>\
         <script type=\"application/ld+json\"><!--\n{\"@type\":\"Article\",\"headline\":\"Line\nbreak\",\
         \"author\":{\"name\":\"Jane\",},}\n--></script>",
    );
    let metadata = extract_html(&html);
    assert_eq!(metadata.title.as_deref(), Some("Line break"));
    assert_eq!(metadata.author.as_deref(), Some("Jane"));
}

#[test]
fn json_ld_type_attribute_with_parameters() {
    let html = head(
        r#"<script type=" Application/LD+JSON; charset=utf-8">{"@type":"Article","headline":"H"}</script>"#,
    );
    assert_eq!(extract_html(&html).title.as_deref(), Some("H"));
}

#[test]
fn json_ld_unusable_values_are_ignored() {
    let html = json_ld(
        r#"{"@type":"Article","headline":{"nested":true},"author":42,"datePublished":null,"image":false}"#,
    );
    let metadata = extract_html(&html);
    assert_eq!(metadata.title, None);
    assert_eq!(metadata.author, None);
    assert_eq!(metadata.published_at, None);
    assert_eq!(metadata.image_url, None);
}

// --- documents of odd shape ---

#[test]
fn document_without_head() {
    let html = "<title>No head</title><meta name=description content=desc><p>text";
    let metadata = extract_html(html);
    assert_eq!(metadata.title.as_deref(), Some("No head"));
    assert_eq!(metadata.description.as_deref(), Some("desc"));
}

#[test]
fn empty_document() {
    let metadata = extract_html("");
    assert_eq!(metadata.title, None);
    assert_eq!(
        url_string(&metadata.favicon_url),
        Some("https://news.example.com/favicon.ico")
    );
}

#[test]
fn huge_document_is_bounded() {
    let mut html = head(r#"<meta property="og:title" content="Still found">"#);
    html.push_str(&"<div>filler text é</div>".repeat(MAX_HTML_BYTES / 20));
    assert!(html.len() > MAX_HTML_BYTES);
    assert_eq!(extract_html(&html).title.as_deref(), Some("Still found"));
}

#[test]
fn deeply_nested_document_is_cut() {
    let mut html = head("<title>Deep</title>");
    html.push_str(&"<div><b>".repeat(200_000));
    html.push_str(r#"<meta name="description" content="too deep">"#);
    let metadata = extract_html(&html);
    assert_eq!(metadata.title.as_deref(), Some("Deep"));
    assert_eq!(metadata.description, None);
}

#[test]
fn metadata_serializes_with_api_field_names() {
    let json = serde_json::to_value(extract_html("")).expect("metadata serializes");
    let object = json.as_object().expect("metadata is a JSON object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "author",
            "canonical_url",
            "description",
            "favicon_url",
            "image_url",
            "lang",
            "published_at",
            "site_name",
            "title"
        ]
    );
    assert!(object["title"].is_null());
}

// --- icons ---

fn icon_urls(html: &str) -> Vec<String> {
    icon_candidates(html, &page_url())
        .into_iter()
        .map(|icon| icon.url.to_string())
        .collect()
}

#[test]
fn icons_rank_by_size_and_kind() {
    let html = head(
        r#"<link rel="mask-icon" href="/mask.svg">
           <link rel="apple-touch-icon" sizes="180x180" href="/apple-180.png">
           <link rel="icon" sizes="16x16" href="/16.png">
           <link rel="icon" href="/plain.ico">
           <link rel="apple-touch-icon" sizes="60x60" href="/apple-60.png">
           <link rel="icon" sizes="192x192" href="/192.png">
           <link rel="icon" sizes="32x32" type="image/png" href="/32.png">
           <link rel="icon" sizes="48x24" href="/wide.png">"#,
    );
    let base = "https://news.example.com";
    let expected: Vec<String> = [
        "/32.png",
        "/apple-60.png",
        "/apple-180.png",
        "/192.png",
        "/plain.ico",
        "/16.png",
        "/wide.png",
        "/mask.svg",
        "/favicon.ico",
    ]
    .iter()
    .map(|path| format!("{base}{path}"))
    .collect();
    assert_eq!(icon_urls(&html), expected);
}

#[test]
fn icons_match_rel_tokens_case_insensitively() {
    let html = head(
        r#"<link rel="SHORTCUT Icon" href="/a.png"><link rel="apple-touch-icon-precomposed" href="/b.png">
           <link rel="stylesheet icon-like" href="/c.css"><link rel="iconic" href="/d.png">"#,
    );
    let icons = icon_candidates(&html, &page_url());
    let rels: Vec<IconRel> = icons.iter().map(|icon| icon.rel).collect();
    assert_eq!(
        rels,
        [
            IconRel::Icon,
            IconRel::AppleTouchIconPrecomposed,
            IconRel::Default
        ]
    );
    assert_eq!(icons[0].mime_type.as_deref(), Some("image/png"));
}

#[test]
fn icons_parse_sizes_and_types() {
    let html = head(
        r#"<link rel="icon" sizes="16x16 32X32 any" type="image/vnd.microsoft.icon" href="/multi.ico">"#,
    );
    let icons = icon_candidates(&html, &page_url());
    assert_eq!(
        icons[0].sizes,
        [
            IconSize::Pixels {
                width: 16,
                height: 16
            },
            IconSize::Pixels {
                width: 32,
                height: 32
            },
            IconSize::Any
        ]
    );
    assert_eq!(icons[0].mime_type.as_deref(), Some("image/x-icon"));
}

#[test]
fn icons_prefer_png_over_svg_at_same_class() {
    let html = head(
        r#"<link rel="icon" type="image/svg+xml" href="/i.svg"><link rel="icon" sizes="32x32" href="/i.png">"#,
    );
    assert_eq!(
        icon_urls(&html)[..2],
        [
            "https://news.example.com/i.png",
            "https://news.example.com/i.svg"
        ]
    );
}

#[test]
fn icons_deduplicate_and_keep_declared_favicon() {
    let html = head(
        r#"<link rel="icon" href="/favicon.ico"><link rel="shortcut icon" href="favicon.ico?v=1">"#,
    );
    assert_eq!(
        icon_urls(&html),
        [
            "https://news.example.com/favicon.ico",
            "https://news.example.com/2020/favicon.ico?v=1"
        ]
    );
}

#[test]
fn icons_resolve_against_base_but_fallback_against_page() {
    let html = head(r#"<base href="https://cdn.example.net/"><link rel="icon" href="i.png">"#);
    assert_eq!(
        icon_urls(&html),
        [
            "https://cdn.example.net/i.png",
            "https://news.example.com/favicon.ico"
        ]
    );
}

#[test]
fn favicon_url_is_first_candidate() {
    let html = head(r#"<link rel="icon" sizes="64x64" href="//cdn.example.net/64.png">"#);
    assert_eq!(
        url_string(&extract_html(&html).favicon_url),
        Some("https://cdn.example.net/64.png")
    );
}

#[test]
fn icons_without_http_page_have_no_fallback() {
    let url = Url::parse("file:///tmp/page.html").expect("valid test URL");
    assert!(icon_candidates("<html></html>", &url).is_empty());
}

// --- block pages ---

fn block_reason(status: u16, html: &str) -> Option<BlockReason> {
    let metadata = extract_html(html);
    detect_block_page(status, html, &metadata)
}

const CLOUDFLARE_CHALLENGE: &str = r#"<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="refresh" content="390"></head><body><div class="main-wrapper"><div class="main-content">
<h1 class="zone-name-title h1">news.example.com</h1><h2 class="h2" id="challenge-running">Checking if the site
connection is secure</h2><noscript><div class="h2">Enable JavaScript and cookies to continue</div></noscript>
<div id="challenge-body-text" class="core-msg spacer">news.example.com needs to review the security of your
connection before proceeding.</div></div></div><script>(function(){window._cf_chl_opt={cvId: '2'};})();</script>
</body></html>"#;

#[test]
fn block_cloudflare_challenge() {
    let reason = block_reason(503, CLOUDFLARE_CHALLENGE).expect("challenge is detected");
    assert_eq!(
        reason,
        BlockReason::Challenge {
            marker: "just a moment"
        }
    );
    assert_eq!(reason.code(), "bot_challenge");
    assert!(reason.is_retryable());
}

#[test]
fn block_challenge_detected_by_structure_without_title() {
    let html = CLOUDFLARE_CHALLENGE.replace("<title>Just a moment...</title>", "");
    assert_eq!(
        block_reason(200, &html),
        Some(BlockReason::Challenge {
            marker: "_cf_chl_opt"
        })
    );
}

#[test]
fn block_javascript_and_cookies_wall() {
    let html = "<html><head><title>news.example.com</title></head><body>\
                <p>Please enable JavaScript and cookies to continue.</p></body></html>";
    assert_eq!(
        block_reason(200, html),
        Some(BlockReason::Challenge {
            marker: "enable javascript and cookies to continue"
        })
    );
}

#[test]
fn block_attention_required_title() {
    let html = "<html><head><title>Attention Required! | Cloudflare</title></head><body>\
                <h1>Sorry, you have been blocked</h1></body></html>";
    let reason = block_reason(403, html).expect("block page is detected");
    assert_eq!(
        reason,
        BlockReason::Challenge {
            marker: "attention required! | cloudflare"
        }
    );
}

#[test]
fn block_access_denied() {
    let html = "<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY><H1>Access Denied</H1>\
                You don't have permission to access this page on this server.<P>Reference #18.1</BODY></HTML>";
    assert_eq!(
        block_reason(403, html),
        Some(BlockReason::AccessDenied {
            marker: "access denied"
        })
    );
}

#[test]
fn block_access_denied_first_title_segment() {
    let html = "<html><head><title>Access denied | news.example.com used Cloudflare to restrict access</title>\
                </head><body><p>The owner of this website has banned your access.</p></body></html>";
    assert_eq!(
        block_reason(403, html),
        Some(BlockReason::AccessDenied {
            marker: "access denied"
        })
    );
}

#[test]
fn block_captcha_pages() {
    let html = r#"<html><head><title>news.example.com</title></head><body>
        <iframe src="https://geo.captcha-delivery.com/captcha/?initialCid=x"></iframe></body></html>"#;
    assert_eq!(
        block_reason(403, html),
        Some(BlockReason::Captcha {
            marker: "captcha-delivery.com"
        })
    );

    let html = r#"<html><head><title>Robot or human?</title></head><body><p>Press &amp; Hold</p></body></html>"#;
    assert_eq!(
        block_reason(200, html),
        Some(BlockReason::Captcha {
            marker: "robot or human"
        })
    );

    let html = r#"<html><head><title>Verify</title></head><body><div class="g-recaptcha" data-sitekey="k"></div>
        </body></html>"#;
    assert_eq!(
        block_reason(200, html),
        Some(BlockReason::Captcha {
            marker: "g-recaptcha"
        })
    );
}

#[test]
fn block_firewall_pages_by_text() {
    let html = "<html><head><title>Sucuri WebSite Firewall - Access Denied</title></head><body>\
                <h2>Access Denied - Sucuri Website Firewall</h2><p>Block reason: suspicious request.</p>\
                </body></html>";
    assert_eq!(
        block_reason(403, html),
        Some(BlockReason::AccessDenied {
            marker: "access denied"
        })
    );

    let html = "<html><head><title>Vercel Security Checkpoint</title></head><body>\
                <p>We're verifying your browser</p></body></html>";
    assert_eq!(
        block_reason(429, html),
        Some(BlockReason::Challenge {
            marker: "verifying your browser"
        })
    );

    let html = "<html><head><title>Access to this page has been denied.</title></head><body><p>Access to this \
                page has been denied because we believe you are using automation tools.</p><div id=\"px-captcha\">\
                </div><p>Press &amp; Hold to confirm you are a human (and not a bot).</p></body></html>";
    assert_eq!(
        block_reason(403, html),
        Some(BlockReason::AccessDenied {
            marker: "access to this page has been denied"
        })
    );
}

#[test]
fn block_ddos_protection_page() {
    let html = "<html><head><title>DDoS-Guard</title></head><body>Checking your browser before accessing \
                news.example.com</body></html>";
    assert_eq!(
        block_reason(200, html),
        Some(BlockReason::Challenge {
            marker: "ddos-guard"
        })
    );
}

#[test]
fn block_http_error_status() {
    let html = head(
        r#"<meta property="og:title" content="Fine title"><meta name="description" content="d">"#,
    );
    let reason = block_reason(404, &html).expect("error status is detected");
    assert_eq!(reason, BlockReason::HttpError { status: 404 });
    assert!(!reason.is_retryable());
    assert!(BlockReason::HttpError { status: 503 }.is_retryable());
    assert!(BlockReason::HttpError { status: 429 }.is_retryable());
}

#[test]
fn block_error_page_with_success_status() {
    let html = head(
        r#"<title>404 - Page Not Found | Daily Planet</title><meta property="og:site_name" content="Daily Planet">"#,
    );
    assert_eq!(
        block_reason(200, &html),
        Some(BlockReason::ErrorPage {
            marker: "http status"
        })
    );
    let html = head("<title>Page not found – Example</title>");
    assert_eq!(
        block_reason(200, &html),
        Some(BlockReason::ErrorPage {
            marker: "page not found"
        })
    );
}

#[test]
fn block_ignores_real_pages() {
    let article = head(
        r#"<title>Why sites say "Access denied" | Daily Planet</title>
           <meta property="og:description" content="A look at bot walls.">
           <meta property="og:image" content="/a.jpg">
           <meta property="article:published_time" content="2020-01-01T00:00:00Z">"#,
    );
    assert_eq!(block_reason(200, &article), None);

    let film = head(
        r#"<title>Forbidden</title><meta property="og:description" content="A 2024 thriller.">
           <meta property="og:image" content="/poster.jpg">"#,
    );
    assert_eq!(block_reason(200, &film), None);

    let about_errors = head(
        r#"<title>Page not found: how we redesigned our 404 page</title>
           <meta name="author" content="Jane Doe">"#,
    );
    assert_eq!(block_reason(200, &about_errors), None);

    let sign_in = head(
        r#"<title>Sign in</title><meta name="description" content="Sign in to your account">
           </head><body><form><div class="g-recaptcha"></div></form>"#,
    );
    assert_eq!(block_reason(200, &sign_in), None);
}

#[test]
fn block_ignores_phrases_on_long_pages() {
    let body = "Plenty of ordinary article text here. ".repeat(100);
    let html = format!(
        "<html><head><title>A long read</title></head><body><p>{body}</p>\
         <p>Please enable JavaScript and cookies to continue.</p></body></html>"
    );
    assert_eq!(block_reason(200, &html), None);
}

#[test]
fn block_reason_messages_name_the_marker() {
    let reason = BlockReason::AccessDenied {
        marker: "access denied",
    };
    assert_eq!(
        reason.to_string(),
        "the site denied access to the page (matched 'access denied')"
    );
    assert_eq!(
        BlockReason::HttpError { status: 502 }.to_string(),
        "the site responded with HTTP status 502"
    );
}

// --- robustness ---

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn extract_never_panics_on_arbitrary_text(html in any::<String>()) {
        let metadata = extract_html(&html);
        let _ = detect_block_page(200, &html, &metadata);
    }

    #[test]
    fn extract_never_panics_on_tag_soup(
        parts in prop::collection::vec(
            prop_oneof![
                Just("<meta property=\"og:title\" content=\"".to_owned()),
                Just("<script type=\"application/ld+json\">{\"@type\":\"Article\",\"headline\":".to_owned()),
                Just("</script>".to_owned()),
                Just("<link rel=\"icon\" sizes=\"".to_owned()),
                Just("<base href=\"".to_owned()),
                Just("<title>".to_owned()),
                Just("\">".to_owned()),
                Just("&#x".to_owned()),
                Just("<!--".to_owned()),
                "[ -~]{0,12}",
                "\\PC{0,6}",
            ],
            0..40,
        )
    ) {
        let html = parts.concat();
        let metadata = extract_html(&html);
        let _ = detect_block_page(403, &html, &metadata);
        if let Some(title) = &metadata.title {
            prop_assert!(title.chars().count() <= MAX_TITLE_CHARS);
            prop_assert_eq!(title.trim(), title.as_str());
        }
    }
}
