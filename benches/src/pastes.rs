//! Paste benchmarks: creates of 4 KiB pastes with a durability check after SIGKILL, raw reads
//! of one hot paste against the bare hyper server, and the memory growth of one 10 MiB
//! upload. The S3 rows run when `LINKYARD_TEST_S3_*` names a server.

use crate::Options;
use crate::load::{self, LoadResult, RequestFn};
use crate::report::{Report, Row};
use crate::servers::{self, Server};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use std::net::SocketAddr;
use std::sync::Arc;

use std::time::{Duration, Instant};

const PASTE_BYTES: usize = 4 * 1024;
const LARGE_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

pub async fn run(options: &Options, report: &mut Report) -> anyhow::Result<()> {
    let data_dir = options.data_dir()?;
    let linkyard = servers::start_linkyard(data_dir.as_path(), &options.linkyard_env()).await?;
    let (ids, create) = create_pastes(linkyard.address, options).await?;
    report.push(Row::load(
        "linkyard: create 4 KiB paste, SQLite + filesystem",
        &create,
        false,
    ));
    let hot = hot_raw_reads(linkyard.address, options, &ids[0]).await?;
    report.push(Row::load(
        "linkyard: raw read of a hot paste, filesystem",
        &hot,
        true,
    ));
    large_upload_memory(&linkyard, report).await?;
    durability(linkyard, report, data_dir.as_path(), ids.len() as u64).await?;
    s3_rows(options, report).await
}

/// Creates 4 KiB pastes through `POST /` for the measurement time and returns their ids.
async fn create_pastes(
    address: SocketAddr,
    options: &Options,
) -> anyhow::Result<(Vec<String>, LoadResult)> {
    let started = Instant::now();
    let deadline = started + options.duration;
    let body = Bytes::from(vec![b'p'; PASTE_BYTES]);
    let mut tasks = Vec::new();
    for _ in 0..options.connections {
        tasks.push(tokio::spawn(create_on_connection(
            address,
            deadline,
            body.clone(),
        )));
    }
    let mut ids = Vec::new();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut task_ids, mut task_latencies, task_errors) = task.await??;
        ids.append(&mut task_ids);
        latencies.append(&mut task_latencies);
        errors += task_errors;
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    let result = LoadResult {
        requests: ids.len() as u64,
        errors,
        elapsed: started.elapsed(),
        p50: at(0.5),
        p99: at(0.99),
    };
    if ids.is_empty() {
        anyhow::bail!("no paste was created");
    }
    Ok((ids, result))
}

async fn create_on_connection(
    address: SocketAddr,
    deadline: Instant,
    body: Bytes,
) -> anyhow::Result<(Vec<String>, Vec<Duration>, u64)> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);

    let mut ids = Vec::new();
    let mut latencies = Vec::new();
    let mut errors = 0;
    while Instant::now() < deadline {
        let request = Request::post("/?expires_in=1d")
            .header("host", "bench")
            .body(Full::new(body.clone()))?;
        let sent = Instant::now();
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let text = response.into_body().collect().await?.to_bytes();
        latencies.push(sent.elapsed());
        if status != 201 {
            errors += 1;
            continue;
        }
        let url = String::from_utf8_lossy(&text);
        if let Some(id) = url.trim_end().rsplit('/').next() {
            ids.push(id.to_owned());
        }
    }
    Ok((ids, latencies, errors))
}

async fn hot_raw_reads(
    address: SocketAddr,
    options: &Options,
    id: &str,
) -> anyhow::Result<LoadResult> {
    let path = format!("/p/{id}/raw");
    let build: RequestFn = Arc::new(move |_, _| {
        Request::get(path.as_str())
            .header("host", "bench")
            .body(Full::new(Bytes::new()))
            .unwrap_or_default()
    });
    let period = (options.warmup, options.duration);
    load::warm_and_run(address, options.connections, period, 200, build).await
}

/// Uploads one 10 MiB paste and reports how much the server's peak RSS grew.
async fn large_upload_memory(linkyard: &Server, report: &mut Report) -> anyhow::Result<()> {
    let (peak_before, _) = servers::memory(linkyard.pid())?;
    let stream = tokio::net::TcpStream::connect(linkyard.address).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::post("/")
        .header("host", "bench")
        .body(Full::new(Bytes::from(vec![b'L'; LARGE_UPLOAD_BYTES])))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    if status != 201 {
        anyhow::bail!("the 10 MiB upload got status {status}");
    }
    let (peak_after, _) = servers::memory(linkyard.pid())?;
    report.note(format!(
        "10 MiB raw upload: peak RSS grew by {:.1} MiB (target: under 20 MiB)",
        peak_after.saturating_sub(peak_before) as f64 / (1024.0 * 1024.0)
    ));
    Ok(())
}

/// SIGKILLs the server and counts the rows: every acknowledged paste must have been
/// committed, with its object.
async fn durability(
    linkyard: Server,
    report: &mut Report,
    data_dir: &std::path::Path,
    acknowledged: u64,
) -> anyhow::Result<()> {
    linkyard.kill()?;
    use sea_orm::{EntityTrait, PaginatorTrait};
    let mut settings = linkyard::Settings::embedded_defaults()?;
    settings.storage.data_dir = data_dir.to_path_buf();
    let db = linkyard::app::connect_database(&settings).await?;
    let stored = linkyard_actors::db::entities::pastes::Entity::find()
        .count(&db)
        .await?;
    // Every acknowledged paste plus the 10 MiB one.
    let expected = acknowledged + 1;
    report.note(format!(
        "paste durability after SIGKILL: {stored} pastes stored, {expected} acknowledged"
    ));
    if stored < expected {
        anyhow::bail!("{} acknowledged pastes were lost", expected - stored);
    }
    Ok(())
}

/// Measures creates and hot reads on the S3 blob store, when a test server is configured.
async fn s3_rows(options: &Options, report: &mut Report) -> anyhow::Result<()> {
    let names = [
        ("LINKYARD_TEST_S3_ENDPOINT", "LINKYARD_BLOB__S3_ENDPOINT"),
        (
            "LINKYARD_TEST_S3_ACCESS_KEY",
            "LINKYARD_BLOB__S3_ACCESS_KEY",
        ),
        (
            "LINKYARD_TEST_S3_SECRET_KEY",
            "LINKYARD_BLOB__S3_SECRET_KEY",
        ),
        ("LINKYARD_TEST_S3_REGION", "LINKYARD_BLOB__S3_REGION"),
        ("LINKYARD_TEST_S3_BUCKET", "LINKYARD_BLOB__S3_BUCKET"),
    ];
    let mut values = Vec::new();
    for (test_name, setting) in names {
        match std::env::var(test_name) {
            Ok(value) if !value.is_empty() => values.push((setting, value)),
            _ => {
                report.note(format!("S3 paste rows skipped: {test_name} is not set"));
                return Ok(());
            }
        }
    }
    let prefix = format!("linkyard-bench-{:016x}", rand::random::<u64>());
    let data_dir = options.data_dir()?;
    let mut env = options.linkyard_env();
    env.push(("LINKYARD_BLOB__BACKEND", "s3"));
    env.push(("LINKYARD_BLOB__S3_PREFIX", prefix.as_str()));
    for (setting, value) in &values {
        env.push((setting, value.as_str()));
    }
    let linkyard = servers::start_linkyard(data_dir.as_path(), &env).await?;
    let (ids, create) = create_pastes(linkyard.address, options).await?;
    report.push(Row::load(
        "linkyard: create 4 KiB paste, S3",
        &create,
        false,
    ));
    let hot = hot_raw_reads(linkyard.address, options, &ids[0]).await?;
    report.push(Row::load(
        "linkyard: raw read of a hot paste, S3",
        &hot,
        true,
    ));
    drop(linkyard);
    delete_prefix(&env).await
}

/// Deletes every object the S3 rows wrote, through a store opened with the same settings.
async fn delete_prefix(env: &[(&str, &str)]) -> anyhow::Result<()> {
    let mut settings = linkyard::Settings::embedded_defaults()?;
    let blob = &mut settings.blob;
    blob.backend = linkyard::settings::BlobBackend::S3;
    for (name, value) in env {
        let value = (*value).to_owned();
        match *name {
            "LINKYARD_BLOB__S3_ENDPOINT" => blob.s3_endpoint = value,
            "LINKYARD_BLOB__S3_ACCESS_KEY" => blob.s3_access_key = value,
            "LINKYARD_BLOB__S3_SECRET_KEY" => {
                blob.s3_secret_key = linkyard::settings::SecretString::new(value)
            }
            "LINKYARD_BLOB__S3_REGION" => blob.s3_region = value,
            "LINKYARD_BLOB__S3_BUCKET" => blob.s3_bucket = value,
            "LINKYARD_BLOB__S3_PREFIX" => blob.s3_prefix = value,
            _ => {}
        }
    }
    let store = linkyard::backends::blob::connect(&settings).await?;
    loop {
        let objects = store.list("", None, 1000).await?;
        if objects.is_empty() {
            return Ok(());
        }
        for object in objects {
            store.delete(&object.key).await?;
        }
    }
}
