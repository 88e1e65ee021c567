//! Short-link benchmarks: creation, hot and random redirects, memory with many links.

use crate::Options;
use crate::load::{self, LoadResult, RequestFn};
use crate::report::{Report, Row};
use crate::servers::{self, Server};
use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use rand::Rng;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Measures the bare server's hot redirect, the baseline of every ratio.
pub async fn bare_baseline(options: &Options, report: &mut Report) -> anyhow::Result<()> {
    let bare = servers::start_bare(1).await?;
    let hot = redirects(bare.address, options, Arc::new(vec!["code-0".to_owned()])).await?;
    report.set_baseline(hot.per_second());
    report.push(Row::load("bare hyper: hot redirect", &hot, true));
    Ok(())
}

pub async fn run(options: &Options, report: &mut Report) -> anyhow::Result<()> {
    let bare = servers::start_bare(options.links as usize).await?;
    let bare_hot = redirects(bare.address, options, Arc::new(vec!["code-0".to_owned()])).await?;
    let bare_codes: Vec<String> = (0..options.links).map(|i| format!("code-{i}")).collect();
    let bare_random = redirects(bare.address, options, Arc::new(bare_codes)).await?;
    drop(bare);
    report.set_baseline(bare_hot.per_second());
    report.push(Row::load("bare hyper: hot redirect", &bare_hot, true));
    report.push(Row::load("bare hyper: random redirect", &bare_random, true));

    let data_dir = options.data_dir()?;
    let linkyard = servers::start_linkyard(data_dir.as_path(), &options.linkyard_env()).await?;
    let (codes, create) =
        create_links(linkyard.address, options.connections, options.links).await?;
    report.push(Row::load(
        &format!("linkyard: create, SQLite ({} links)", options.links),
        &create,
        false,
    ));
    let drained = servers::wait_for_idle_queue(linkyard.address).await?;
    report.note(format!(
        "QR pre-rendering of the created links finished {:.1} s after the last create; redirects were measured after it",
        drained.as_secs_f64()
    ));
    let codes = Arc::new(codes);
    let hot = redirects(linkyard.address, options, Arc::new(vec![codes[0].clone()])).await?;
    report.push(Row::load("linkyard: hot redirect", &hot, true));
    let random = redirects(linkyard.address, options, Arc::clone(&codes)).await?;
    report.push(Row::load(
        &format!("linkyard: random redirect ({} links)", options.links),
        &random,
        true,
    ));

    memory_and_durability(
        options,
        report,
        linkyard,
        data_dir.as_path(),
        codes.len() as u64,
    )
    .await?;
    cold_redirects(options, report).await
}

/// Redirects of distinct codes on PostgreSQL with a hot cache too small to hold them, so nearly
/// every redirect reads the database.
pub async fn cold_redirects(options: &Options, report: &mut Report) -> anyhow::Result<()> {
    let Some(database) = crate::postgres::BenchDatabase::create().await? else {
        report.note("cold redirects skipped: PostgreSQL is unreachable".to_owned());
        return Ok(());
    };
    let data_dir = options.data_dir()?;
    let mut env = options.linkyard_env();
    env.push(("LINKYARD_DATABASE__URL", database.url.as_str()));
    env.push(("LINKYARD_DATABASE__MAX_CONNECTIONS", "32"));
    env.push(("LINKYARD_LINKS__HOT_CACHE_CAPACITY", "8"));
    env.push(("LINKYARD_QR__PRERENDER", "false"));
    let linkyard = servers::start_linkyard(data_dir.as_path(), &env).await?;
    let (codes, create) =
        create_links(linkyard.address, options.connections, options.links).await?;
    report.push(Row::load(
        &format!("linkyard: create, PostgreSQL ({} links)", options.links),
        &create,
        false,
    ));
    let cold = redirects(linkyard.address, options, Arc::new(codes)).await?;
    report.push(Row::load(
        &format!(
            "linkyard: cold redirect, PostgreSQL ({} links)",
            options.links
        ),
        &cold,
        true,
    ));
    drop(linkyard);
    database.drop_database().await
}

async fn memory_and_durability(
    options: &Options,
    report: &mut Report,
    linkyard: Server,
    data_dir: &std::path::Path,
    created: u64,
) -> anyhow::Result<()> {
    let mut acknowledged = created;
    if options.rss_links > options.links {
        let extra = options.rss_links - options.links;
        let (more, _) = create_links(linkyard.address, options.connections, extra).await?;
        acknowledged += more.len() as u64;
    }
    let (peak, current) = servers::memory(linkyard.pid())?;
    report.note(format!(
        "linkyard memory with {acknowledged} links: peak RSS {} MB, current RSS {} MB",
        peak / 1_000_000,
        current / 1_000_000
    ));

    // SIGKILL, then count the rows: every acknowledged link must have been committed.
    linkyard.kill()?;
    let stored = count_links(data_dir).await?;
    report.note(format!(
        "durability after SIGKILL: {stored} links stored, {acknowledged} acknowledged"
    ));
    if stored < acknowledged {
        anyhow::bail!("{} acknowledged links were lost", acknowledged - stored);
    }
    Ok(())
}

async fn redirects(
    address: SocketAddr,
    options: &Options,
    codes: Arc<Vec<String>>,
) -> anyhow::Result<LoadResult> {
    let build: RequestFn = Arc::new(move |_, _| {
        let index = rand::rng().random_range(0..codes.len());
        Request::get(format!("/{}", codes[index]))
            .header("host", "bench")
            .body(Full::new(Bytes::new()))
            .unwrap_or_default()
    });
    let period = (options.warmup, options.duration);
    load::warm_and_run(address, options.connections, period, 302, build).await
}

/// Creates `count` links over `connections` keep-alive connections and returns their codes.
pub async fn create_links(
    address: SocketAddr,
    connections: usize,
    count: u64,
) -> anyhow::Result<(Vec<String>, LoadResult)> {
    let remaining = Arc::new(AtomicU64::new(count));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let remaining = Arc::clone(&remaining);
        tasks.push(tokio::spawn(create_on_connection(
            address, connection, remaining,
        )));
    }
    let mut codes = Vec::with_capacity(count as usize);
    let mut latencies = Vec::with_capacity(count as usize);
    let mut errors = 0;
    for task in tasks {
        let (mut task_codes, mut task_latencies, task_errors) = task.await??;
        codes.append(&mut task_codes);
        latencies.append(&mut task_latencies);
        errors += task_errors;
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * q) as usize)
            .copied()
    };
    let result = LoadResult {
        requests: codes.len() as u64,
        errors,
        elapsed: started.elapsed(),
        p50: at(0.5).unwrap_or_default(),
        p99: at(0.99).unwrap_or_default(),
    };
    Ok((codes, result))
}

async fn create_on_connection(
    address: SocketAddr,
    connection: usize,
    remaining: Arc<AtomicU64>,
) -> anyhow::Result<(Vec<String>, Vec<Duration>, u64)> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);

    let mut codes = Vec::new();
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut sequence = 0u64;
    while remaining
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(1)
        })
        .is_ok()
    {
        let body = format!(r#"{{"url":"https://example.com/{connection}/{sequence}?ref=bench"}}"#);
        sequence += 1;
        let request = Request::post("/api/links")
            .header("host", "bench")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let sent = Instant::now();
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        latencies.push(sent.elapsed());
        if status != 201 {
            errors += 1;
            continue;
        }
        let json: serde_json::Value = serde_json::from_slice(&bytes).context("create response")?;
        if let Some(code) = json["code"].as_str() {
            codes.push(code.to_owned());
        }
    }
    Ok((codes, latencies, errors))
}

async fn count_links(data_dir: &std::path::Path) -> anyhow::Result<u64> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let mut settings = linkyard::Settings::embedded_defaults()?;
    settings.storage.data_dir = data_dir.to_path_buf();
    let db = linkyard::app::connect_database(&settings).await?;
    let count = linkyard_actors::db::entities::links::Entity::find()
        .count(&db)
        .await?;
    Ok(count)
}
