//! Child processes under test: the bench binary re-executes itself as the bare server or as a
//! release linkyard, so load generator and server never share a process.

use anyhow::{Context, bail};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process, killed when dropped.
pub struct Server {
    pub address: SocketAddr,
    child: Child,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill().context("killing the server")?;
        self.child.wait().context("waiting for the server")?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the bare hyper server knowing `count` codes.
pub async fn start_bare(count: usize) -> anyhow::Result<Server> {
    let address = free_address()?;
    let child = Command::new(std::env::current_exe()?)
        .args([
            "serve-bare",
            "--listen",
            &address.to_string(),
            "--count",
            &count.to_string(),
        ])
        .stdin(Stdio::null())
        .spawn()
        .context("starting the bare server")?;
    let server = Server { address, child };
    wait_until_listening(address, "/").await?;
    Ok(server)
}

/// Starts linkyard on embedded defaults with its data in `data_dir`, plus `env` overrides.
pub async fn start_linkyard(data_dir: &Path, env: &[(&str, &str)]) -> anyhow::Result<Server> {
    let address = free_address()?;
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["serve-linkyard", "--data-dir"])
        .arg(data_dir)
        .args(["serve", "--listen", &address.to_string()])
        .env("LINKYARD_LOG__FILTER", "warn")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command.spawn().context("starting linkyard")?;
    let server = Server { address, child };
    wait_until_listening(address, "/healthz").await?;
    Ok(server)
}

fn free_address() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

async fn wait_until_listening(address: SocketAddr, path: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(address).await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
            if stream.write_all(request.as_bytes()).await.is_ok() {
                let mut buffer = [0u8; 12];
                if stream.read_exact(&mut buffer).await.is_ok() {
                    return Ok(());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("server at {address} did not start within 60 s")
}

/// Waits until linkyard's job queue is empty, so background work left by a previous step (QR
/// pre-rendering of freshly created links) does not share the CPU with the next measurement.
/// Returns how long that took.
pub async fn wait_for_idle_queue(address: SocketAddr) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    while Instant::now() < deadline {
        if queue_depth(address).await? == 0 {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!("timed out after 600 s waiting for the job queue of {address} to empty")
}

/// Reads `linkyard_queue_depth` from `/metrics`.
async fn queue_depth(address: SocketAddr) -> anyhow::Result<u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    text.lines()
        .find_map(|line| line.strip_prefix("linkyard_queue_depth "))
        .and_then(|value| value.trim().parse().ok())
        .context("/metrics has no linkyard_queue_depth")
}

/// Peak and current resident memory of a process, in bytes, from /proc.
pub fn memory(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .unwrap_or(0)
    };
    Ok((field("VmHWM:"), field("VmRSS:")))
}
