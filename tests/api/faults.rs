//! Backend faults: the service answers what it can and names what it cannot.

use crate::helpers::{
    Db, TestApp, error_code, s3_settings, spawn_app, spawn_app_with, upstream_of, use_s3,
};
use crate::support::eventually;
use crate::support::proxy::CuttableProxy;
use crate::support::redis::OwnRedis;
use linkyard::settings::{CacheBackend, QueueBackend};
use linkyard_actors::qr::{QrFormat, QrOptions, blob_key, cache_key};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// With the database cut off, a cached redirect still works, a generated code that cannot exist
/// is a 404 (no database read needed), and anything that needs the database is a 503 naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_named_and_survived() {
    let Some(app) = spawn_app(Db::Postgres).await else {
        return;
    };
    let link = app
        .create_link(None, json!({ "url": "https://example.com/hot" }))
        .await;
    let code = link["code"].as_str().expect("code").to_owned();
    assert_eq!(app.get(&format!("/{code}"), None).await.status(), 302);

    let postgres = app.postgres.as_ref().expect("postgres database");
    postgres.cut_off().await;

    let hot = app.get(&format!("/{code}"), None).await;
    assert_eq!(hot.status(), 302, "a cached redirect needs no database");

    let impossible = app.get("/zzzzzzz", None).await;
    assert_eq!(impossible.status(), 404);
    assert_eq!(error_code(impossible).await, "link_not_found");

    let unknown_alias = app.get("/some-alias", None).await;
    assert_eq!(unknown_alias.status(), 503);
    assert!(unknown_alias.headers().contains_key("retry-after"));
    let body: Value = unknown_alias.json().await.expect("json");
    assert_eq!(body["error"]["code"], "backend_unavailable");
    assert_eq!(body["error"]["backend"], "database");

    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.expect("json");
    let failing = body["error"]["backend"].as_str().expect("failing backends");
    assert!(failing.split(',').any(|name| name == "database"), "{body}");
    assert_eq!(body["backends"]["filesystem"], "ok", "{body}");

    postgres.restore().await;
    let again = app.get("/some-alias", None).await;
    assert_eq!(again.status(), 404, "the database is back");
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    app.shutdown().await;
}

/// A client that never finishes its request headers is disconnected after the header read
/// timeout, so slow clients cannot hold connections open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(app) = crate::helpers::spawn_app_with(Db::Sqlite, |settings| {
        settings.server.header_read_timeout_ms = 300;
    })
    .await
    else {
        return;
    };
    let mut stream = tokio::net::TcpStream::connect(app.application().local_addr())
        .await
        .expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");

    let started = std::time::Instant::now();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut buffer),
    )
    .await
    .expect("the server closes the connection");
    assert!(read.is_ok());
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    app.shutdown().await;
}

/// Steady load on one application: redirects of known links and link creations, counted.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    redirect_failures: Arc<AtomicU64>,
    create_failures: Arc<AtomicU64>,
    created: Arc<Mutex<Vec<String>>>,
}

impl Load {
    fn start(app: &TestApp, codes: &[String]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let redirect_failures = Arc::new(AtomicU64::new(0));
        let create_failures = Arc::new(AtomicU64::new(0));
        let created = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (worker, code) in codes.iter().enumerate() {
            let client = app.client.clone();
            let redirect_url = app.url(&format!("/{code}"));
            let create_url = app.url("/api/links");
            let (stop, redirect_failures, create_failures, created) = (
                Arc::clone(&stop),
                Arc::clone(&redirect_failures),
                Arc::clone(&create_failures),
                Arc::clone(&created),
            );
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    if n.is_multiple_of(4) {
                        let response = client
                            .post(&create_url)
                            .json(&json!({ "url": format!("https://example.com/{worker}/{n}") }))
                            .send()
                            .await;
                        match response {
                            Ok(response) if response.status() == 201 => {
                                let body: Value = response.json().await.unwrap_or_default();
                                let code = body["code"].as_str().unwrap_or_default().to_owned();
                                created.lock().expect("created").push(code);
                            }
                            _ => {
                                create_failures.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    } else {
                        let ok = client
                            .get(&redirect_url)
                            .send()
                            .await
                            .is_ok_and(|response| response.status() == 302);
                        if !ok {
                            redirect_failures.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }));
        }
        Self {
            stop,
            tasks,
            redirect_failures,
            create_failures,
            created,
        }
    }

    /// Stops the load and returns the codes of the links it created.
    async fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            task.await.expect("load task");
        }
        assert_eq!(
            self.redirect_failures.load(Ordering::SeqCst),
            0,
            "redirects of cached links failed"
        );
        assert_eq!(
            self.create_failures.load(Ordering::SeqCst),
            0,
            "link creations failed"
        );
        std::mem::take(&mut *self.created.lock().expect("created"))
    }
}

async fn hot_links(app: &TestApp, count: usize) -> Vec<String> {
    let mut codes = Vec::new();
    for n in 0..count {
        let link = app
            .create_link(
                None,
                json!({ "url": format!("https://example.com/hot/{n}") }),
            )
            .await;
        let code = link["code"].as_str().expect("code").to_owned();
        assert_eq!(app.get(&format!("/{code}"), None).await.status(), 302);
        codes.push(code);
    }
    codes
}

/// Files under `dir`, recursively.
fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| match entry.path() {
                    path if path.is_dir() => files_under(&path),
                    _ => 1,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// RabbitMQ goes away and comes back while links are created and followed: creations keep
/// succeeding (their jobs wait in the outbox), redirects never fail, /readyz names the queue,
/// and every job of the outage runs once the broker is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_outage_under_load_loses_no_job() {
    let Ok(broker) = "127.0.0.1:5672".parse::<std::net::SocketAddr>() else {
        return;
    };
    if tokio::net::TcpStream::connect(broker).await.is_err() {
        eprintln!("skipped: RabbitMQ at {broker} is unreachable");
        return;
    }
    let proxy = CuttableProxy::start(broker).await;
    let prefix = format!("linkyard-fault-{:012x}", rand::random::<u64>() >> 16);
    let amqp_url = format!("amqp://guest:guest@{}/%2f", proxy.address);
    let Some(app) = spawn_app_with(Db::Sqlite, |settings| {
        settings.queue.backend = QueueBackend::Rabbitmq;
        settings.queue.amqp_url = amqp_url;
        settings.queue.prefix = prefix.clone();
        settings.queue.poll_interval_ms = 100;
        settings.queue.reconnect_max_ms = 300;
        settings.queue.retry_delays_ms = vec![200];
    })
    .await
    else {
        return;
    };
    // The cleanup goes to the broker directly, so a cut proxy cannot stall it.
    let mut queue_settings = app.application().state().settings.queue.clone();
    queue_settings.amqp_url = format!("amqp://guest:guest@{broker}/%2f");
    let _topology = crate::helpers::TopologyCleanup {
        settings: queue_settings,
    };
    let qr_dir = app
        .application()
        .state()
        .settings
        .storage
        .data_dir
        .join("blobs/qr");
    let codes = hot_links(&app, 4).await;

    let load = Load::start(&app, &codes);
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.cut();
    let ready = eventually(Duration::from_secs(5), || async {
        let response = app.get("/readyz", None).await;
        let body: Value = response.json().await.unwrap_or_default();
        (body["error"]["backend"].as_str() == Some("rabbitmq")).then_some(())
    })
    .await;
    assert!(ready.is_some(), "/readyz names RabbitMQ while it is away");
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.restore();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let created = load.finish().await;
    assert!(
        created.len() > 10,
        "only {} links were created",
        created.len()
    );

    // One pre-rendered QR image per link: the jobs of the outage ran after it.
    let expected = created.len() + codes.len();
    let caught_up = eventually(Duration::from_secs(30), || async {
        (files_under(&qr_dir) >= expected).then_some(())
    })
    .await;
    assert!(
        caught_up.is_some(),
        "{} of {expected} QR jobs ran after the outage",
        files_under(&qr_dir)
    );
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    app.shutdown().await;
}

/// The S3 server goes away and comes back under load. Redirects and link creations never fail,
/// and QR images are still served, because the blob store only caches them. /readyz names the
/// blob store, and the pre-render jobs that failed during the outage succeed on retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_outage_under_load_catches_up() {
    let Some(values) = s3_settings() else {
        return;
    };
    let proxy = CuttableProxy::start(upstream_of(&values[0])).await;
    let endpoint = format!("http://{}", proxy.address);
    let Some(app) = spawn_app_with(Db::Sqlite, |settings| {
        use_s3(settings, &endpoint, &values);
        settings.blob.s3_operation_timeout_ms = 2000;
        settings.blob.s3_connect_timeout_ms = 500;
        settings.blob.s3_max_attempts = 1;
        settings.queue.retry_delays_ms = vec![300];
        settings.queue.poll_interval_ms = 100;
    })
    .await
    else {
        return;
    };
    let codes = hot_links(&app, 4).await;
    let load = Load::start(&app, &codes);
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.cut();

    let qr = app
        .get(&format!("/api/links/{}/qr.svg?size=300", codes[0]), None)
        .await;
    assert_eq!(qr.status(), 200, "QR images render without the blob store");
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["error"]["backend"], "s3", "{body}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.restore();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let created = load.finish().await;
    assert!(!created.is_empty());

    // Every link's default PNG ends up in the bucket, the outage's ones through retries.
    let state = app.application().state();
    let all: Vec<String> = codes.iter().chain(created.iter()).cloned().collect();
    let caught_up = eventually(Duration::from_secs(30), || async {
        let mut missing = 0;
        for code in &all {
            let key = cache_key(&state.short_url(code), &QrOptions::default(), QrFormat::Png);
            let path = blob_key(&key, QrFormat::Png);
            if !state.blobs.exists(&path).await.unwrap_or(false) {
                missing += 1;
            }
        }
        (missing == 0).then_some(())
    })
    .await;
    assert!(
        caught_up.is_some(),
        "pre-renders of the outage never caught up"
    );
    assert_eq!(app.get("/readyz", None).await.status(), 200);

    while let Ok(entries) = state.blobs.list("", None, 1000).await {
        if entries.is_empty() {
            break;
        }
        for entry in entries {
            let _ = state.blobs.delete(&entry.key).await;
        }
    }
    app.shutdown().await;
}

/// Redis dies and comes back while links are created and followed: no redirect and no creation
/// fails, /readyz names Redis meanwhile, and the shared cache is used again afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_under_load_fails_no_request() {
    let Some(mut redis) = OwnRedis::start() else {
        eprintln!("skipped: redis-server is not installed");
        return;
    };
    let url = redis.url();
    let Some(app) = spawn_app_with(Db::Sqlite, |settings| {
        settings.cache.backend = CacheBackend::Redis;
        settings.cache.redis_url = url;
        settings.cache.key_prefix = "linkyard-test-load:".to_owned();
        settings.cache.connect_timeout_ms = 500;
    })
    .await
    else {
        return;
    };
    let codes = hot_links(&app, 4).await;
    let load = Load::start(&app, &codes);
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.kill();
    let named = eventually(Duration::from_secs(5), || async {
        let body: Value = app
            .get("/readyz", None)
            .await
            .json()
            .await
            .unwrap_or_default();
        body["error"]["backend"]
            .as_str()
            .is_some_and(|backends| backends.contains("redis"))
            .then_some(())
    })
    .await;
    assert!(named.is_some(), "/readyz names Redis while it is down");
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.restart().expect("redis restarts");
    let ready = eventually(Duration::from_secs(10), || async {
        (app.get("/readyz", None).await.status() == 200).then_some(())
    })
    .await;
    assert!(ready.is_some(), "ready again once Redis is back");
    let created = load.finish().await;
    assert!(
        created.len() > 10,
        "only {} links were created",
        created.len()
    );

    // The shared cache works again: a link created now is written through to Redis.
    let state = app.application().state();
    let link = app
        .create_link(
            None,
            json!({ "url": "https://example.com/after", "alias": "after-outage" }),
        )
        .await;
    assert_eq!(link["code"], "after-outage");
    assert_eq!(app.get("/after-outage", None).await.status(), 302);
    let cached = eventually(Duration::from_secs(5), || async {
        state
            .cache
            .get("link:after-outage")
            .await
            .ok()
            .flatten()
            .map(|_| ())
    })
    .await;
    assert!(
        cached.is_some(),
        "the shared cache is written again after the outage"
    );
    app.shutdown().await;
}
