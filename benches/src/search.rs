//! Search latency benchmark: indexes synthetic bookmarks into the embedded Tantivy index, then
//! runs a mix of queries through the `SearchIndex` port and prints p50 and p99 per kind of query.
//!
//! Run it with `cargo run --release -p linkyard-bench -- search [--search-documents N]
//! [--search-queries N]` (defaults: 100,000 documents and 500 queries of each kind), or as part
//! of `all`. The data is generated from a fixed seed, so runs on one machine are comparable. The
//! target is a p99 of at most 20 ms over 100,000 bookmarks.

use crate::Options;
use crate::report::{Report, Row};
use anyhow::Context;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use linkyard::backends::search::tantivy::{TantivyOptions, TantivySearch};
use linkyard_actors::backends::search::{BookmarkDocument, SearchIndex, SearchRequest};
use linkyard_actors::domain::{BookmarkStatus, SearchQuery};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::time::{Duration, Instant};

const SEED: u64 = 0x6c69_6e6b_7961_7264;
const USERS: usize = 200;
const VOCABULARY: usize = 5_000;
const DOMAINS: usize = 800;
const TAGS: usize = 300;
const BATCH: usize = 1_000;
const PAGE_SIZE: usize = 20;
const TARGET_P99: Duration = Duration::from_millis(20);

/// Indexes the synthetic bookmarks, runs every kind of query, prints the per-kind table and adds
/// the overall row to `report`.
pub async fn run(options: &Options, report: &mut Report) -> anyhow::Result<()> {
    let documents = options.search_documents;
    let queries_per_kind = options.search_queries;

    let mut rng = StdRng::seed_from_u64(SEED);
    let corpus = Corpus::generate(&mut rng);
    let bookmarks: Vec<BookmarkDocument> = (0..documents)
        .map(|id| corpus.bookmark(&mut rng, id as i64 + 1))
        .collect();

    let directory = options.data_dir()?;
    let options = TantivyOptions {
        path: directory.join("bookmarks"),
        commit_interval: Duration::from_millis(500),
    };
    let index = TantivySearch::open(options).await?;
    let indexing = index_all(&index, &bookmarks).await?;

    let mut out = std::io::stdout();
    let largest = largest_user(&bookmarks);
    writeln!(
        out,
        "search benchmark: Tantivy, {documents} bookmarks of {USERS} users (the largest has {}), \
         {queries_per_kind} queries per kind, page size {PAGE_SIZE}",
        largest.1
    )?;
    writeln!(
        out,
        "indexing: {:.1} s in batches of {BATCH} ({:.0} bookmarks/s)",
        indexing.as_secs_f64(),
        documents as f64 / indexing.as_secs_f64()
    )?;

    let mut all = Vec::new();
    writeln!(
        out,
        "{:<28} {:>8} {:>8} {:>8} {:>8}",
        "query kind", "p50 ms", "p99 ms", "max ms", "hits"
    )?;
    for kind in QueryKind::ALL {
        let (latencies, hits) = run_kind(
            &index,
            &corpus,
            &bookmarks,
            &mut rng,
            kind,
            queries_per_kind,
        )
        .await?;
        print_row(&mut out, kind.label(), &latencies, Some(hits))?;
        all.extend(latencies);
    }
    print_row(&mut out, "all kinds", &all, None)?;

    let heavy = run_largest_user(&index, &corpus, &mut rng, largest.0, queries_per_kind).await?;
    print_row(&mut out, "largest user, one word", &heavy, None)?;

    let total: Duration = all.iter().sum();
    let p50 = percentile(&mut all, 0.50);
    let p99 = percentile(&mut all, 0.99);
    let verdict = if p99 <= TARGET_P99 { "met" } else { "NOT met" };
    writeln!(
        out,
        "target p99 <= {} ms over all kinds: {verdict}",
        TARGET_P99.as_millis()
    )?;
    report.push(Row::timed(
        &format!("bookmark search, {documents} bookmarks (Tantivy, one query at a time)"),
        all.len() as f64 / total.as_secs_f64().max(f64::MIN_POSITIVE),
        millis(p50),
        millis(p99),
    ));
    report.note(format!(
        "search: p99 {:.2} ms over {documents} bookmarks, target <= {} ms: {verdict}",
        millis(p99),
        TARGET_P99.as_millis()
    ));
    index.close().await?;
    Ok(())
}

async fn index_all(
    index: &TantivySearch,
    bookmarks: &[BookmarkDocument],
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for batch in bookmarks.chunks(BATCH) {
        index.upsert(batch.to_vec()).await?;
    }
    index.flush().await?;
    Ok(started.elapsed())
}

fn largest_user(bookmarks: &[BookmarkDocument]) -> (i64, usize) {
    let mut counts = vec![0usize; USERS + 1];
    for bookmark in bookmarks {
        counts[bookmark.user_id as usize] += 1;
    }
    let (user, count) = counts
        .iter()
        .enumerate()
        .max_by_key(|(_, count)| **count)
        .unwrap_or((1, &0));
    (user as i64, *count)
}

/// The kinds of query the benchmark runs, each against the owner of a random bookmark so that
/// users with many bookmarks are queried more often, as they would be in real use.
#[derive(Debug, Clone, Copy)]
enum QueryKind {
    OneWord,
    TwoWords,
    ThreeWords,
    Phrase,
    Tag,
    Site,
    WordWithFilters,
    Negation,
    StatusOnly,
    Empty,
}

impl QueryKind {
    const ALL: [Self; 10] = [
        Self::OneWord,
        Self::TwoWords,
        Self::ThreeWords,
        Self::Phrase,
        Self::Tag,
        Self::Site,
        Self::WordWithFilters,
        Self::Negation,
        Self::StatusOnly,
        Self::Empty,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::OneWord => "one word",
            Self::TwoWords => "two words",
            Self::ThreeWords => "three words",
            Self::Phrase => "\"two-word phrase\"",
            Self::Tag => "#tag",
            Self::Site => "site:domain",
            Self::WordWithFilters => "word is:unread after:",
            Self::Negation => "word -word",
            Self::StatusOnly => "status:failed",
            Self::Empty => "empty (newest first)",
        }
    }

    /// Builds query text from words of `bookmark`, so most queries have matches.
    fn text(self, corpus: &Corpus, rng: &mut StdRng, bookmark: &BookmarkDocument) -> String {
        let title: Vec<&str> = bookmark.title.as_deref().unwrap_or("").split(' ').collect();
        let word = |rng: &mut StdRng| title[rng.random_range(0..title.len())].to_owned();
        match self {
            Self::OneWord => word(rng),
            Self::TwoWords => format!("{} {}", word(rng), word(rng)),
            Self::ThreeWords => format!("{} {} {}", word(rng), word(rng), corpus.word(rng)),
            Self::Phrase => {
                let start = rng.random_range(0..title.len().saturating_sub(1).max(1));
                let end = (start + 2).min(title.len());
                format!("\"{}\"", title[start..end].join(" "))
            }
            Self::Tag => format!("#{}", corpus.tags[zipf(rng, corpus.tags.len())]),
            Self::Site => {
                let domains = linkyard_actors::domain::search_query::host_domains(&bookmark.host);
                format!("site:{}", domains[domains.len().saturating_sub(2)])
            }
            Self::WordWithFilters => format!("{} is:unread after:2021-06-30", word(rng)),
            Self::Negation => format!("{} -{}", word(rng), corpus.word(rng)),
            Self::StatusOnly => "status:failed".to_owned(),
            Self::Empty => String::new(),
        }
    }
}

async fn run_kind(
    index: &TantivySearch,
    corpus: &Corpus,
    bookmarks: &[BookmarkDocument],
    rng: &mut StdRng,
    kind: QueryKind,
    count: usize,
) -> anyhow::Result<(Vec<Duration>, u64)> {
    let mut latencies = Vec::with_capacity(count);
    let mut hits = 0;
    for _ in 0..count {
        let bookmark = &bookmarks[rng.random_range(0..bookmarks.len())];
        let text = kind.text(corpus, rng, bookmark);
        let (elapsed, total) = timed_search(index, bookmark.user_id, &text).await?;
        latencies.push(elapsed);
        hits += total;
    }
    Ok((latencies, hits / count.max(1) as u64))
}

/// Runs one-word queries against the user with the most bookmarks: the worst case for scoring.
async fn run_largest_user(
    index: &TantivySearch,
    corpus: &Corpus,
    rng: &mut StdRng,
    user_id: i64,
    count: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let (elapsed, _) = timed_search(index, user_id, &corpus.word(rng)).await?;
        latencies.push(elapsed);
    }
    Ok(latencies)
}

async fn timed_search(
    index: &TantivySearch,
    user_id: i64,
    text: &str,
) -> anyhow::Result<(Duration, u64)> {
    let query = SearchQuery::parse(text).with_context(|| format!("parsing {text:?}"))?;
    let request = SearchRequest {
        user_id,
        query,
        limit: PAGE_SIZE,
        offset: 0,
    };
    let started = Instant::now();
    let hits = index.search(&request).await?;
    Ok((started.elapsed(), hits.total))
}

fn print_row(
    out: &mut impl Write,
    label: &str,
    latencies: &[Duration],
    hits: Option<u64>,
) -> std::io::Result<()> {
    let mut sorted = latencies.to_vec();
    let p50 = percentile(&mut sorted, 0.50);
    let p99 = percentile(&mut sorted, 0.99);
    let max = sorted.last().copied().unwrap_or_default();
    let hits = hits.map(|hits| hits.to_string()).unwrap_or_default();
    writeln!(
        out,
        "{label:<28} {:>8.2} {:>8.2} {:>8.2} {hits:>8}",
        millis(p50),
        millis(p99),
        millis(max)
    )
}

/// Returns the nearest-rank percentile of `latencies`, sorting them first.
fn percentile(latencies: &mut [Duration], fraction: f64) -> Duration {
    if latencies.is_empty() {
        return Duration::ZERO;
    }
    latencies.sort_unstable();
    let rank = (fraction * latencies.len() as f64).ceil() as usize;
    latencies[rank.clamp(1, latencies.len()) - 1]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Samples a rank in `0..count` with probability proportional to 1 / (rank + 1), the shape of
/// word and site frequencies in real text.
fn zipf(rng: &mut StdRng, count: usize) -> usize {
    // The harmonic number H(k) is close to ln(k + 0.5) + γ, so inverting it maps a uniform
    // sample of [0, H(count)) to a rank.
    const EULER_GAMMA: f64 = 0.577_215_664_9;
    let harmonic = (count as f64 + 0.5).ln() + EULER_GAMMA;
    let target = rng.random::<f64>() * harmonic;
    let rank = ((target - EULER_GAMMA).exp() - 0.5).floor().max(0.0) as usize;
    rank.min(count - 1)
}

/// The word lists the synthetic bookmarks are built from.
struct Corpus {
    words: Vec<String>,
    domains: Vec<String>,
    tags: Vec<String>,
}

impl Corpus {
    fn generate(rng: &mut StdRng) -> Self {
        let words = (0..VOCABULARY)
            .map(|_| pseudo_word(rng))
            .collect::<Vec<_>>();
        let tlds = ["com", "org", "net", "io", "dev", "de", "co.uk", "fr"];
        let domains = (0..DOMAINS)
            .map(|_| {
                format!(
                    "{}{}.{}",
                    pseudo_word(rng),
                    pseudo_word(rng),
                    tlds[rng.random_range(0..tlds.len())]
                )
            })
            .collect();
        let tags = (0..TAGS).map(|_| pseudo_word(rng)).collect();
        Self {
            words,
            domains,
            tags,
        }
    }

    fn word(&self, rng: &mut StdRng) -> String {
        self.words[zipf(rng, self.words.len())].clone()
    }

    fn sentence(&self, rng: &mut StdRng, min: usize, max: usize) -> String {
        let length = rng.random_range(min..=max);
        (0..length)
            .map(|_| self.word(rng))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn bookmark(&self, rng: &mut StdRng, id: i64) -> BookmarkDocument {
        let domain = &self.domains[zipf(rng, self.domains.len())];
        let host = match rng.random_range(0..10) {
            0..=4 => domain.clone(),
            5..=7 => format!("www.{domain}"),
            _ => format!("{}.{domain}", self.word(rng)),
        };
        let path = self.sentence(rng, 1, 4).replace(' ', "-");
        let base = Utc
            .with_ymd_and_hms(2019, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or(DateTime::UNIX_EPOCH);
        let created_at = base + TimeDelta::seconds(rng.random_range(0..6 * 365 * 86_400));
        let tag_count = rng.random_range(0..=4);
        let status = match rng.random_range(0..100) {
            0..=89 => BookmarkStatus::Active,
            90..=96 => BookmarkStatus::Pending,
            _ => BookmarkStatus::Failed,
        };
        BookmarkDocument {
            id,
            user_id: zipf(rng, USERS) as i64 + 1,
            url: format!("https://{host}/{path}"),
            host,
            title: Some(self.sentence(rng, 4, 10)),
            description: rng.random_bool(0.7).then(|| self.sentence(rng, 15, 40)),
            site_name: rng
                .random_bool(0.6)
                .then(|| capitalize(&domain.replace('.', " "))),
            tags: (0..tag_count)
                .map(|_| self.tags[zipf(rng, self.tags.len())].clone())
                .collect(),
            note: rng.random_bool(0.1).then(|| self.sentence(rng, 5, 15)),
            unread: rng.random_bool(0.3),
            status,
            created_at,
            lang: Some("en".to_owned()),
        }
    }
}

/// Builds a pronounceable lower-case word of two to four syllables.
fn pseudo_word(rng: &mut StdRng) -> String {
    const ONSETS: [&str; 16] = [
        "b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "st", "tr",
    ];
    const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ou"];
    let syllables = rng.random_range(2..=4);
    (0..syllables)
        .map(|_| {
            format!(
                "{}{}",
                ONSETS[rng.random_range(0..ONSETS.len())],
                VOWELS[rng.random_range(0..VOWELS.len())]
            )
        })
        .collect()
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
