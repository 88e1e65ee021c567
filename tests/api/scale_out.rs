//! Scale-out with real processes: three `linkyard serve` instances and one `linkyard worker` on
//! one PostgreSQL database, a Redis of the test's own and RabbitMQ queues of the test's own.

use crate::helpers::BROWSER;
use crate::support::PostgresDatabase;
use crate::support::redis::OwnRedis;
use sea_orm::{ConnectionTrait, Database, Statement};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One linkyard process, killed when dropped.
struct Process {
    child: Child,
    base: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Cluster {
    env: Vec<(String, String)>,
    blob_dir: PathBuf,
    _dirs: Vec<tempfile::TempDir>,
}

impl Cluster {
    fn command(&self, data_dir: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_linkyard"));
        command
            .arg("--data-dir")
            .arg(data_dir)
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        command
    }

    fn spawn(&mut self, arguments: &[&str]) -> (Child, u16) {
        let data_dir = tempfile::tempdir().expect("data directory");
        let port = free_port();
        let mut command = self.command(data_dir.path());
        command.args(arguments);
        if arguments == ["serve"] {
            command.args(["--listen", &format!("127.0.0.1:{port}")]);
        }
        let child = command
            .stdout(Stdio::null())
            .spawn()
            .expect("linkyard starts");
        self._dirs.push(data_dir);
        (child, port)
    }

    async fn serve(&mut self, client: &reqwest::Client) -> Process {
        let (child, port) = self.spawn(&["serve"]);
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = client.get(format!("{base}/readyz")).send().await;
            if ready.is_ok_and(|response| response.status() == reqwest::StatusCode::OK) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "linkyard at {base} did not get ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Process { child, base }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() { count_files(&path) } else { 1 }
        })
        .sum()
}

async fn rabbitmq_reachable() -> bool {
    tokio::net::TcpStream::connect("127.0.0.1:5672")
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_one_stack() {
    let Some(database) = PostgresDatabase::create().await else {
        return;
    };
    let Some(redis) = OwnRedis::start() else {
        eprintln!("skipped: redis-server is not installed");
        return;
    };
    if !rabbitmq_reachable().await {
        eprintln!("skipped: RabbitMQ at 127.0.0.1:5672 is unreachable");
        return;
    }
    let prefix = format!("linkyard-scale-{:012x}", rand::random::<u64>() >> 16);
    // The processes run with the default queue settings under this prefix.
    let mut queue_settings = linkyard::Settings::embedded_defaults()
        .expect("defaults")
        .queue;
    queue_settings.prefix = prefix.clone();
    let _topology = crate::helpers::TopologyCleanup {
        settings: queue_settings,
    };
    let shared = tempfile::tempdir().expect("shared blob directory");
    let blob_dir = shared.path().join("blobs");
    let env = [
        ("LINKYARD_DATABASE__URL", database.url.clone()),
        ("LINKYARD_DATABASE__MIGRATE_ON_START", "false".to_owned()),
        ("LINKYARD_CACHE__BACKEND", "redis".to_owned()),
        (
            "LINKYARD_CACHE__REDIS_URL",
            format!("redis://127.0.0.1:{}", redis.port),
        ),
        ("LINKYARD_QUEUE__BACKEND", "rabbitmq".to_owned()),
        ("LINKYARD_QUEUE__PREFIX", prefix.clone()),
        ("LINKYARD_QUEUE__CONSUME_IN_SERVE", "false".to_owned()),
        ("LINKYARD_QUEUE__POLL_INTERVAL_MS", "100".to_owned()),
        ("LINKYARD_BLOB__DIR", blob_dir.display().to_string()),
        (
            "LINKYARD_SERVER__PUBLIC_URL",
            "https://sho.example".to_owned(),
        ),
        ("LINKYARD_RATE_LIMIT__ENABLED", "false".to_owned()),
        // Small blocks, so that every instance leases several while the test creates links.
        ("LINKYARD_LINKS__ID_BLOCK_SIZE", "50".to_owned()),
        ("LINKYARD_LOG__FILTER", "warn".to_owned()),
    ];
    let mut cluster = Cluster {
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        blob_dir,
        _dirs: Vec::new(),
    };

    let scratch = tempfile::tempdir().expect("scratch directory");
    let migrated = cluster
        .command(scratch.path())
        .arg("migrate")
        .status()
        .expect("migrate runs");
    assert!(migrated.success(), "linkyard migrate failed");
    let output = cluster
        .command(scratch.path())
        .args(["user", "create", "--email", "ops@example.com"])
        .output()
        .expect("user create runs");
    assert!(output.status.success(), "user create failed");
    // The key is the only line on stdout.
    let key = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(!key.is_empty(), "user create printed no key");

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(BROWSER)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(cluster.serve(&client).await);
    }
    let (worker, _) = cluster.spawn(&["worker"]);
    let _worker = Process {
        child: worker,
        base: String::new(),
    };

    // Links created through all three instances at once: distinct codes, disjoint id blocks.
    let per_instance = 60;
    let mut creations = Vec::new();
    for (index, instance) in instances.iter().enumerate() {
        for n in 0..per_instance {
            let client = client.clone();
            let url = format!("{}/api/links", instance.base);
            let key = key.clone();
            creations.push(tokio::spawn(async move {
                let response = client
                    .post(url)
                    .bearer_auth(key)
                    .json(&serde_json::json!({ "url": format!("https://example.com/{index}/{n}") }))
                    .send()
                    .await
                    .expect("create sent");
                assert_eq!(response.status(), 201, "create through instance {index}");
                let body: serde_json::Value = response.json().await.expect("json");
                (index, body["code"].as_str().expect("code").to_owned())
            }));
        }
    }
    let mut created = Vec::new();
    for creation in creations {
        created.push(creation.await.expect("creation task"));
    }
    let codes: HashSet<&str> = created.iter().map(|(_, code)| code.as_str()).collect();
    assert_eq!(
        codes.len(),
        created.len(),
        "duplicate codes across instances"
    );

    let db = Database::connect(&database.url).await.expect("connect");
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT code, id FROM links",
        ))
        .await
        .expect("links read");
    let ids: BTreeMap<String, i64> = rows
        .iter()
        .map(|row| {
            (
                row.try_get::<String>("", "code").expect("code"),
                row.try_get::<i64>("", "id").expect("id"),
            )
        })
        .collect();
    let mut blocks_of: Vec<HashSet<i64>> = vec![HashSet::new(); instances.len()];
    for (index, code) in &created {
        let id = ids[code];
        blocks_of[*index].insert((id - 1) / 50);
    }
    for a in 0..blocks_of.len() {
        for b in a + 1..blocks_of.len() {
            assert!(
                blocks_of[a].is_disjoint(&blocks_of[b]),
                "instances {a} and {b} handed out ids from one block"
            );
        }
    }

    // An update through one instance is seen by the others within a second.
    let code = &created[0].1;
    for instance in &instances {
        let response = client
            .get(format!("{}/{code}", instance.base))
            .send()
            .await
            .expect("redirect");
        assert_eq!(response.status(), 302);
    }
    let patched = client
        .patch(format!("{}/api/links/{code}", instances[0].base))
        .bearer_auth(&key)
        .json(&serde_json::json!({ "url": "https://example.com/moved" }))
        .send()
        .await
        .expect("patch sent");
    assert_eq!(patched.status(), 200);
    let updated_at = Instant::now();
    for instance in &instances[1..] {
        loop {
            let response = client
                .get(format!("{}/{code}", instance.base))
                .send()
                .await
                .expect("redirect");
            let location = response
                .headers()
                .get("location")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            if location == "https://example.com/moved" {
                break;
            }
            assert!(
                updated_at.elapsed() < Duration::from_secs(1),
                "{} still redirects to {location} a second after the update",
                instance.base
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // The worker runs the jobs that the instances commit: each link's QR image is pre-rendered.
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_files(&cluster.blob_dir.join("qr")) < created.len() {
        assert!(
            Instant::now() < deadline,
            "the worker rendered {} of {} QR images",
            count_files(&cluster.blob_dir.join("qr")),
            created.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // One instance is killed under load; the other two keep serving every request.
    let failures = Arc::new(AtomicU64::new(0));
    let served = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for instance in &instances[..2] {
        for (_, code) in &created[..4] {
            let client = client.clone();
            let base = instance.base.clone();
            let code = code.clone();
            let key = key.clone();
            let (failures, served, stop) = (
                Arc::clone(&failures),
                Arc::clone(&served),
                Arc::clone(&stop),
            );
            load.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let response = if n.is_multiple_of(5) {
                        client
                            .post(format!("{base}/api/links"))
                            .bearer_auth(&key)
                            .json(&serde_json::json!({ "url": format!("https://example.com/load/{n}") }))
                            .send()
                            .await
                    } else {
                        client.get(format!("{base}/{code}")).send().await
                    };
                    match response {
                        Ok(response) if response.status() == 302 || response.status() == 201 => {
                            served.fetch_add(1, Ordering::SeqCst);
                        }
                        _ => {
                            failures.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut victim = instances.pop().expect("third instance");
    victim.child.kill().expect("kill");
    let _ = victim.child.wait();
    let served_at_kill = served.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.expect("load task");
    }
    assert_eq!(
        failures.load(Ordering::SeqCst),
        0,
        "requests failed on the surviving instances"
    );
    assert!(
        served.load(Ordering::SeqCst) > served_at_kill + 50,
        "the surviving instances stopped serving after the kill"
    );
    let _ = db.close().await;
    drop(redis);
}
