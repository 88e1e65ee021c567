//! Agreement with a reference extractor over the saved pages in `tests/fixtures/metadata/`.
//!
//! The reference values are another extractor's output, not ground truth, so the test reports
//! per-field agreement and asserts thresholds rather than equality. Only cases where the
//! reference found a value are compared; values found where the reference has none are counted
//! as extras.
//!
//! Normalizations, each for a deliberate difference between the two extractors:
//! - text fields are compared with whitespace collapsed, with curly quotes as straight ones and
//!   "…" as "...", because the reference rewrites quotes and dots typographically and this
//!   extractor keeps the page's characters;
//! - titles also agree when they match after the site-suffix rule is applied to the reference,
//!   because this extractor strips " | Site" and the reference does not;
//! - URLs are compared after parsing, so escaping and default ports do not count;
//! - a reference date at exactly 12:00:00.000 UTC is a date without a time, because the
//!   reference puts those at noon. It agrees with any instant on that day. Other dates must match
//!   to the second;
//! - languages agree on the primary subtag, because the reference keeps only that;
//! - a page without a declared canonical URL is compared by its own URL, as the reference does.
//!
//! Every page is real content, so the test also checks that none is taken for a block page.
//!
//! The reference `logo` is a brand logo (often a large publisher image), not a favicon, so it is
//! reported for information and left out of the totals.

use super::title::strip_site_suffix;
use super::{PageMetadata, detect_block_page, extract};
use chrono::{DateTime, Timelike, Utc};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use url::Url;

const MIN_TITLE_AGREEMENT: f64 = 0.90;
const MIN_TOTAL_AGREEMENT: f64 = 0.80;

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    url: String,
    expected: Expected,
}

#[derive(Debug, Deserialize)]
struct Expected {
    title: Option<String>,
    description: Option<String>,
    image: Option<String>,
    author: Option<String>,
    date: Option<String>,
    lang: Option<String>,
    publisher: Option<String>,
    url: Option<String>,
    logo: Option<String>,
}

/// Agreement counts of one field.
#[derive(Debug, Default)]
struct Tally {
    agreed: usize,
    compared: usize,
    extra: usize,
    mismatches: Vec<String>,
}

impl Tally {
    fn record(&mut self, case: &str, expected: Option<&str>, actual: Option<&str>, agrees: bool) {
        match expected {
            None => self.extra += usize::from(actual.is_some()),
            Some(expected) => {
                self.compared += 1;
                if agrees {
                    self.agreed += 1;
                } else {
                    self.mismatches
                        .push(format!("{case}: expected {expected:?}, got {actual:?}"));
                }
            }
        }
    }

    fn ratio(&self) -> f64 {
        if self.compared == 0 {
            return 1.0;
        }
        self.agreed as f64 / self.compared as f64
    }
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/metadata"
    ))
}

fn load_cases() -> Vec<Case> {
    let path = corpus_dir().join("cases.jsonl");
    let lines = std::fs::read_to_string(&path).expect("cases.jsonl is readable");
    lines
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("each line is a case object"))
        .collect()
}

fn collapse(text: &str) -> String {
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    words
        .replace(['\u{2018}', '\u{2019}'], "'")
        .replace(['\u{201C}', '\u{201D}'], "\"")
        .replace('\u{2026}', "...")
}

fn text_agrees(expected: Option<&str>, actual: Option<&str>) -> bool {
    match (expected, actual) {
        (Some(expected), Some(actual)) => collapse(expected) == collapse(actual),
        _ => false,
    }
}

fn url_agrees(expected: Option<&str>, actual: Option<&Url>) -> bool {
    let expected = expected.and_then(|expected| Url::parse(expected.trim()).ok());
    matches!((expected, actual), (Some(expected), Some(actual)) if expected == *actual)
}

fn title_agrees(expected: Option<&str>, metadata: &PageMetadata, page_url: &Url) -> bool {
    let Some(expected) = expected else {
        return false;
    };
    if text_agrees(Some(expected), metadata.title.as_deref()) {
        return true;
    }
    let stripped = strip_site_suffix(&collapse(expected), metadata.site_name.as_deref(), page_url);
    text_agrees(Some(&stripped.title), metadata.title.as_deref())
}

fn date_agrees(expected: Option<&str>, actual: Option<DateTime<Utc>>) -> bool {
    let expected = expected.and_then(|expected| DateTime::parse_from_rfc3339(expected).ok());
    let (Some(expected), Some(actual)) = (expected, actual) else {
        return false;
    };
    let expected = expected.with_timezone(&Utc);
    let day_only = expected.hour() == 12
        && expected.minute() == 0
        && expected.second() == 0
        && expected.nanosecond() == 0;
    if day_only {
        return expected.date_naive() == actual.date_naive();
    }
    expected.timestamp() == actual.timestamp()
}

fn lang_agrees(expected: Option<&str>, actual: Option<&str>) -> bool {
    let primary = |tag: &str| {
        tag.split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    matches!((expected, actual), (Some(expected), Some(actual)) if primary(expected) == primary(actual))
}

#[test]
fn corpus_field_agreement() {
    let cases = load_cases();
    assert_eq!(cases.len(), 45, "the corpus has 45 cases");

    let field_names = [
        "title",
        "description",
        "image",
        "author",
        "date",
        "lang",
        "publisher",
        "url",
        "logo",
    ];
    let mut tallies: Vec<Tally> = field_names.iter().map(|_| Tally::default()).collect();
    let mut elapsed = Duration::ZERO;
    let mut total_bytes = 0;

    for case in &cases {
        let html_path = corpus_dir().join(format!("{}.html", case.name));
        let html = std::fs::read_to_string(&html_path).expect("fixture page is readable UTF-8");
        let page_url = Url::parse(&case.url).expect("case URL is valid");

        let started = Instant::now();
        let metadata = extract(&html, &page_url);
        elapsed += started.elapsed();
        total_bytes += html.len();
        let block = detect_block_page(200, &html, &metadata);
        assert_eq!(
            block, None,
            "{} is a real page, not a block page",
            case.name
        );

        let expected = &case.expected;
        let name = case.name.as_str();
        let canonical = metadata
            .canonical_url
            .clone()
            .unwrap_or_else(|| page_url.clone());
        let published = metadata.published_at.map(|instant| instant.to_rfc3339());
        let image = metadata.image_url.as_ref().map(Url::as_str);
        let favicon = metadata.favicon_url.as_ref().map(Url::as_str);

        let rows: [(Option<&str>, Option<&str>, bool); 9] = [
            (
                expected.title.as_deref(),
                metadata.title.as_deref(),
                title_agrees(expected.title.as_deref(), &metadata, &page_url),
            ),
            (
                expected.description.as_deref(),
                metadata.description.as_deref(),
                text_agrees(
                    expected.description.as_deref(),
                    metadata.description.as_deref(),
                ),
            ),
            (
                expected.image.as_deref(),
                image,
                url_agrees(expected.image.as_deref(), metadata.image_url.as_ref()),
            ),
            (
                expected.author.as_deref(),
                metadata.author.as_deref(),
                text_agrees(expected.author.as_deref(), metadata.author.as_deref()),
            ),
            (
                expected.date.as_deref(),
                published.as_deref(),
                date_agrees(expected.date.as_deref(), metadata.published_at),
            ),
            (
                expected.lang.as_deref(),
                metadata.lang.as_deref(),
                lang_agrees(expected.lang.as_deref(), metadata.lang.as_deref()),
            ),
            (
                expected.publisher.as_deref(),
                metadata.site_name.as_deref(),
                text_agrees(expected.publisher.as_deref(), metadata.site_name.as_deref()),
            ),
            (
                expected.url.as_deref(),
                Some(canonical.as_str()),
                url_agrees(expected.url.as_deref(), Some(&canonical)),
            ),
            (
                expected.logo.as_deref(),
                favicon,
                url_agrees(expected.logo.as_deref(), metadata.favicon_url.as_ref()),
            ),
        ];
        for (tally, (expected, actual, agrees)) in tallies.iter_mut().zip(rows) {
            tally.record(name, expected, actual, agrees);
        }
    }

    let mut total_agreed = 0;
    let mut total_compared = 0;
    println!("field         agreed/compared   ratio  extra");
    for (field, tally) in field_names.iter().zip(&tallies) {
        let counted = *field != "logo";
        if counted {
            total_agreed += tally.agreed;
            total_compared += tally.compared;
        }
        let note = if counted { "" } else { "  (not counted)" };
        println!(
            "{field:<12} {:>6}/{:<8} {:>7.1}% {:>5}{note}",
            tally.agreed,
            tally.compared,
            tally.ratio() * 100.0,
            tally.extra
        );
    }
    let total = total_agreed as f64 / total_compared as f64;
    println!(
        "all counted  {total_agreed:>6}/{total_compared:<8} {:>7.1}%",
        total * 100.0
    );
    println!(
        "extract: {} pages, {:.1} MB in {:?} ({:?} per page, this build profile)",
        cases.len(),
        total_bytes as f64 / 1e6,
        elapsed,
        elapsed / cases.len() as u32
    );
    for (field, tally) in field_names.iter().zip(&tallies) {
        for mismatch in &tally.mismatches {
            println!("mismatch {field}: {mismatch}");
        }
    }

    let title = &tallies[0];
    assert!(
        title.ratio() >= MIN_TITLE_AGREEMENT,
        "title agreement {:.3} is below {MIN_TITLE_AGREEMENT}",
        title.ratio()
    );
    assert!(
        total >= MIN_TOTAL_AGREEMENT,
        "total agreement {total:.3} is below {MIN_TOTAL_AGREEMENT}"
    );
}
