//! SIGTERM on the real binary: every click of every redirect a client received is stored.

use crate::helpers::BROWSER;
use sea_orm::{ConnectionTrait, Database, Statement};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_acknowledged_click() {
    let data_dir = tempfile::tempdir().expect("temporary directory");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_linkyard"))
        .arg("--data-dir")
        .arg(data_dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("LINKYARD_LOG__FILTER", "warn")
        .env("LINKYARD_RATE_LIMIT__ENABLED", "false")
        // Nothing is flushed on the way: every click must be written by the shutdown.
        .env("LINKYARD_ANALYTICS__FLUSH_INTERVAL_MS", "600000")
        .env("LINKYARD_ANALYTICS__FLUSH_MAX_EVENTS", "100000000")
        .stdin(Stdio::null())
        .spawn()
        .expect("linkyard starts");

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(BROWSER)
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "linkyard did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let link: serde_json::Value = client
        .post(format!("{base}/api/links"))
        .json(&serde_json::json!({ "url": "https://example.com/load", "alias": "under-load" }))
        .send()
        .await
        .expect("created")
        .json()
        .await
        .expect("json");
    assert_eq!(link["code"], "under-load");

    let served = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for _ in 0..8 {
        let client = client.clone();
        let served = Arc::clone(&served);
        let url = format!("{base}/under-load");
        load.push(tokio::spawn(async move {
            while let Ok(response) = client.get(&url).send().await {
                if response.status() == 302 {
                    served.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    let started = Instant::now();
    while served.load(Ordering::SeqCst) < 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "load did not get going"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("wait task")
        .expect("linkyard exits");
    assert!(status.success(), "graceful exit: {status}");
    for task in load {
        task.await.expect("load task");
    }
    let acknowledged = served.load(Ordering::SeqCst);

    let url = format!(
        "sqlite://{}?mode=ro",
        data_dir.path().join("linkyard.db").display()
    );
    let db = Database::connect(url).await.expect("open the database");
    let backend = db.get_database_backend();
    let clicks = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT) FROM click_hours",
        ))
        .await
        .expect("query")
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("a count");
    let visits = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT visits FROM links WHERE code = 'under-load'",
        ))
        .await
        .expect("query")
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("visits");
    assert_eq!(
        clicks as u64, acknowledged,
        "every acknowledged click is stored"
    );
    assert_eq!(visits as u64, acknowledged);
}
