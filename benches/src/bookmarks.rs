//! Bookmark enrichment throughput: linkyard, in this process on the embedded outbox queue,
//! enriches bookmarks of pages that a local site serves from the metadata test corpus, with a
//! favicon each.
//!
//! Every fetch stays on 127.0.0.1: the page URLs are IP literals, and the fetcher's resolver
//! resolves no host name, so icon and image URLs of the corpus pages that name other sites fail
//! without a network request.

use crate::Options;
use crate::report::{Report, Row};
use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use linkyard::backends::fetch::{Allowlist, Fetcher, FetcherConfig, StaticResolver};
use linkyard::{Application, Settings};
use linkyard_actors::bookmarks::netscape::ImportEntry;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// The enrichment rate the embedded queue should reach, in pages per second.
const TARGET_PAGES_PER_SECOND: f64 = 200.0;
/// The maximum time the benchmark waits for every bookmark to leave `pending`.
const DEADLINE: Duration = Duration::from_secs(600);
const FAVICON: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDRbench-icon";

pub async fn run(options: &Options, report: &mut Report) -> anyhow::Result<()> {
    let pages = corpus_pages()?;
    let site = serve_site(Arc::new(pages)).await?;

    let data_dir = options.data_dir()?;
    let application =
        start_linkyard(data_dir.as_path().to_path_buf(), options.queue_concurrency).await?;
    let state = Arc::clone(application.state());
    let (user_id, _) = state
        .accounts
        .create_user("bench@example.com")
        .await
        .context("creating the bench user")?;

    let count = options.bookmarks;
    let entries: Vec<ImportEntry> = (0..count)
        .map(|index| ImportEntry {
            url: format!("http://{site}/page/{index}"),
            ..ImportEntry::default()
        })
        .collect();
    let started = Instant::now();
    state
        .bookmarks
        .import(user_id, entries, &mut |_| {})
        .await
        .context("importing the bench bookmarks")?;
    let imported = started.elapsed();

    wait_until_enriched(&state.db, count).await?;
    let elapsed = started.elapsed();
    wait_until_indexed(state.search.as_ref(), count).await?;
    let searchable = started.elapsed();
    let (p50, p99) = time_to_enrich(&state.db).await?;
    let (active, failed) = outcome_counts(&state.db).await?;
    let (peak_rss, rss) = linkyard_bench_memory()?;

    let per_second = count as f64 / elapsed.as_secs_f64();
    report.push(Row::throughput(
        "linkyard: bookmark enrichment (outbox queue)",
        per_second,
        p50,
        p99,
        failed,
    ));
    report.note(format!(
        "bookmark enrichment: {count} pages in {:.1} s (import {:.1} s) with queue.concurrency \
         {}, {active} active, {failed} failed; {:.0} pages/s (target: at least \
         {TARGET_PAGES_PER_SECOND:.0}); all searchable after {:.1} s; p50/p99 are from \
         creation to the end of enrichment",
        elapsed.as_secs_f64(),
        imported.as_secs_f64(),
        options.queue_concurrency,
        per_second,
        searchable.as_secs_f64(),
    ));
    report.note(format!(
        "bookmark enrichment memory of the bench process (linkyard, the local site and the \
         corpus): peak RSS {} MiB, {} MiB at the end",
        peak_rss / (1024 * 1024),
        rss / (1024 * 1024)
    ));
    application.shutdown().await?;
    Ok(())
}

/// Reads the HTML pages of the metadata corpus.
fn corpus_pages() -> anyhow::Result<Vec<Bytes>> {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/metadata");
    let mut pages = Vec::new();
    for entry in
        std::fs::read_dir(&directory).with_context(|| format!("reading {}", directory.display()))?
    {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "html")
        {
            pages.push(Bytes::from(std::fs::read(&path)?));
        }
    }
    anyhow::ensure!(!pages.is_empty(), "no pages in {}", directory.display());
    Ok(pages)
}

/// Serves `/page/{n}` as corpus page `n` modulo the corpus size and every other path as a
/// PNG favicon.
async fn serve_site(pages: Arc<Vec<Bytes>>) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let pages = Arc::clone(&pages);
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let response = site_response(&pages, request.uri().path());
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(address)
}

fn site_response(pages: &[Bytes], path: &str) -> Response<Full<Bytes>> {
    let page = path
        .strip_prefix("/page/")
        .and_then(|index| index.parse::<usize>().ok())
        .map(|index| pages[index % pages.len()].clone());
    let (content_type, body) = match page {
        Some(html) => ("text/html; charset=utf-8", html),
        None => ("image/png", Bytes::from_static(FAVICON)),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

async fn start_linkyard(data_dir: PathBuf, concurrency: usize) -> anyhow::Result<Application> {
    let mut settings = Settings::embedded_defaults().map_err(|error| anyhow::anyhow!("{error}"))?;
    settings.server.listen = "127.0.0.1:0".parse()?;
    settings.storage.data_dir = data_dir;
    settings.rate_limit.enabled = false;
    settings.log.filter = "warn".to_owned();
    // Indexing jobs wait for the next Tantivy commit, so they hold a job slot for up to the
    // commit interval. Enough slots keep enrichment from waiting behind them.
    settings.queue.concurrency = concurrency;
    settings.queue.poll_interval_ms = 100;
    settings.bookmarks.workers = 64;

    let config = FetcherConfig {
        allow: Allowlist::parse(["127.0.0.1/32"])?,
        ..FetcherConfig::default()
    };
    let fetcher = Fetcher::new(config, Arc::new(StaticResolver::new()))?;
    Application::build_with_fetcher(settings, Arc::new(fetcher)).await
}

async fn wait_until_enriched(db: &DatabaseConnection, count: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (active, failed) = outcome_counts(db).await?;
        if active + failed >= count {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {count} bookmarks were enriched within {} s",
            active + failed,
            DEADLINE.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the search index has a document of every bookmark, because indexing jobs run
/// after the enrichment that queues them.
async fn wait_until_indexed(
    search: &dyn linkyard_actors::backends::search::SearchIndex,
    count: u64,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + DEADLINE;
    while search.count(None).await? < count {
        anyhow::ensure!(
            Instant::now() < deadline,
            "not every bookmark was indexed within {} s",
            DEADLINE.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Counts active and failed bookmarks.
async fn outcome_counts(db: &DatabaseConnection) -> anyhow::Result<(u64, u64)> {
    let sql = "SELECT status, COUNT(*) AS n FROM bookmarks GROUP BY status";
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    let mut counts = (0, 0);
    for row in rows {
        let status: String = row.try_get("", "status")?;
        let count: i64 = row.try_get("", "n")?;
        match status.as_str() {
            "active" => counts.0 = count as u64,
            "failed" => counts.1 = count as u64,
            _ => {}
        }
    }
    Ok(counts)
}

/// Returns the median and 99th percentile of the time from creation to the end of enrichment.
async fn time_to_enrich(db: &DatabaseConnection) -> anyhow::Result<(Duration, Duration)> {
    let sql = "SELECT created_at, updated_at FROM bookmarks";
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    let mut times = Vec::with_capacity(rows.len());
    for row in rows {
        let created: chrono::DateTime<chrono::Utc> = row.try_get("", "created_at")?;
        let updated: chrono::DateTime<chrono::Utc> = row.try_get("", "updated_at")?;
        times.push((updated - created).to_std().unwrap_or_default());
    }
    times.sort_unstable();
    let at = |quantile: f64| {
        let index = ((times.len() as f64 - 1.0) * quantile).round() as usize;
        times.get(index).copied().unwrap_or_default()
    };
    Ok((at(0.5), at(0.99)))
}

fn linkyard_bench_memory() -> anyhow::Result<(u64, u64)> {
    crate::servers::memory(std::process::id())
}
