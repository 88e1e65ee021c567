//! A closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending its next
//! request as soon as the previous response has been read, for a fixed duration.

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Builds the request a connection sends next; `sequence` counts that connection's requests.
pub type RequestFn = Arc<dyn Fn(usize, u64) -> Request<Full<Bytes>> + Send + Sync>;

/// Throughput and latency of one run.
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `connections` closed loops against `address` for `duration` and collects every latency.
/// A response with a status other than `expected_status` counts as an error.
/// Runs `build` for `warmup` (results discarded), then measures it for `duration`.
pub async fn warm_and_run(
    address: SocketAddr,
    connections: usize,
    (warmup, duration): (Duration, Duration),
    expected_status: u16,
    build: RequestFn,
) -> anyhow::Result<LoadResult> {
    run(
        address,
        connections,
        warmup,
        expected_status,
        Arc::clone(&build),
    )
    .await?;
    run(address, connections, duration, expected_status, build).await
}

pub async fn run(
    address: SocketAddr,
    connections: usize,
    duration: Duration,
    expected_status: u16,
    build: RequestFn,
) -> anyhow::Result<LoadResult> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(connections);
    for connection in 0..connections {
        let build = Arc::clone(&build);
        tasks.push(tokio::spawn(async move {
            drive(address, connection, deadline, expected_status, build).await
        }));
    }

    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut connection_latencies, connection_errors) = task.await.context("load task")??;
        latencies.append(&mut connection_latencies);
        errors += connection_errors;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Ok(LoadResult {
        requests: latencies.len() as u64,
        errors,
        elapsed,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    })
}

async fn drive(
    address: SocketAddr,
    connection: usize,
    deadline: Instant,
    expected_status: u16,
    build: RequestFn,
) -> anyhow::Result<(Vec<Duration>, u64)> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .context("connect")?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .context("handshake")?;
    tokio::spawn(conn);

    let mut latencies = Vec::with_capacity(100_000);
    let mut errors = 0;
    let mut sequence = 0;
    while Instant::now() < deadline {
        let request = build(connection, sequence);
        sequence += 1;
        let sent = Instant::now();
        let response = sender.send_request(request).await.context("send")?;
        let status = response.status().as_u16();
        response.into_body().collect().await.context("read body")?;
        latencies.push(sent.elapsed());
        if status != expected_status {
            errors += 1;
        }
    }
    Ok((latencies, errors))
}

fn percentile(sorted: &[Duration], quantile: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
    sorted[index]
}
