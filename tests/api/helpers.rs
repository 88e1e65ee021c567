//! Spawning a real application on port 0 against SQLite or a fresh PostgreSQL database.

use super::support::PostgresDatabase;
use linkyard::settings::{BlobBackend, SecretString};
use linkyard::{Application, Settings};
use reqwest::{Client, Response, redirect};
use serde_json::Value;
use std::sync::Once;
use tempfile::TempDir;

/// The user agent of the test client: a desktop browser, so visits count as human.
pub const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub app: Option<Application>,
    /// Kept so the directory lives as long as the application.
    pub _data_dir: TempDir,
    pub postgres: Option<PostgresDatabase>,
}

static TELEMETRY: Once = Once::new();

/// Test settings: embedded defaults on port 0 with a temporary data directory.
pub fn test_settings(data_dir: &TempDir) -> Settings {
    let mut settings = Settings::embedded_defaults().expect("embedded defaults parse");
    settings.server.listen = "127.0.0.1:0".parse().expect("address");
    settings.storage.data_dir = data_dir.path().to_path_buf();
    settings.database.max_connections = 4;
    // Tests send bursts from one address; the rate-limit tests turn limits back on.
    settings.rate_limit.enabled = false;
    settings
}

pub async fn spawn_app(db: Db) -> Option<TestApp> {
    spawn_app_with(db, |_| {}).await
}

/// Starts an application, letting `configure` change the settings first. Returns `None` when the
/// PostgreSQL server is unreachable.
pub async fn spawn_app_with(db: Db, configure: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    TELEMETRY.call_once(|| {
        let filter = std::env::var("TEST_LOG").unwrap_or_else(|_| "error".to_owned());
        let mut log = Settings::embedded_defaults().expect("defaults").log;
        log.filter = filter;
        linkyard::telemetry::init(&log);
    });

    let data_dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = test_settings(&data_dir);
    let postgres = match db {
        Db::Sqlite => None,
        Db::Postgres => Some(PostgresDatabase::create().await?),
    };
    if let Some(postgres) = &postgres {
        settings.database.url = postgres.url.clone();
    }
    configure(&mut settings);

    let app = Application::build(settings)
        .await
        .expect("application starts");
    let base = format!("http://{}", app.local_addr());
    let client = Client::builder()
        .redirect(redirect::Policy::none())
        .user_agent(BROWSER)
        .build()
        .expect("http client");
    Some(TestApp {
        base,
        client,
        app: Some(app),
        _data_dir: data_dir,
        postgres,
    })
}

/// Starts a second application on the same PostgreSQL database as `first`, as another
/// instance of one deployment would run.
pub async fn spawn_instance_of(first: &TestApp, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = test_settings(&data_dir);
    settings.database.url = first
        .postgres
        .as_ref()
        .expect("instances share a PostgreSQL database")
        .url
        .clone();
    configure(&mut settings);
    let app = Application::build(settings)
        .await
        .expect("application starts");
    let base = format!("http://{}", app.local_addr());
    TestApp {
        base,
        client: first.client.clone(),
        app: Some(app),
        _data_dir: data_dir,
        postgres: None,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn application(&self) -> &Application {
        self.app.as_ref().expect("application is running")
    }

    /// Creates a user and returns its API key.
    pub async fn create_user(&self, email: &str) -> String {
        let (_, key) = self
            .application()
            .state()
            .accounts
            .create_user(email)
            .await
            .expect("create user");
        key
    }

    pub async fn post_json(&self, path: &str, key: Option<&str>, body: &Value) -> Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("request sent")
    }

    pub async fn patch_json(&self, path: &str, key: Option<&str>, body: &Value) -> Response {
        let mut request = self.client.patch(self.url(path)).json(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("request sent")
    }

    pub async fn delete(&self, path: &str, key: Option<&str>) -> Response {
        let mut request = self.client.delete(self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("request sent")
    }

    /// Creates a link and returns the response body, asserting a 201.
    pub async fn create_link(&self, key: Option<&str>, body: Value) -> Value {
        let response = self.post_json("/api/links", key, &body).await;
        let status = response.status();
        let json: Value = response.json().await.expect("json body");
        assert_eq!(status, 201, "create failed: {json}");
        json
    }

    /// Stops the application gracefully and starts it again on the same data directory and
    /// database, as a restart of the process would.
    pub async fn restart(&mut self, configure: impl FnOnce(&mut Settings)) {
        let app = self.app.take().expect("application is running");
        let mut settings = app.state().settings.clone();
        app.shutdown().await.expect("graceful shutdown");
        settings.server.listen = "127.0.0.1:0".parse().expect("address");
        configure(&mut settings);
        let app = Application::build(settings)
            .await
            .expect("application restarts");
        self.base = format!("http://{}", app.local_addr());
        self.app = Some(app);
    }

    /// Stops the application gracefully.
    pub async fn shutdown(mut self) {
        if let Some(app) = self.app.take() {
            app.shutdown().await.expect("graceful shutdown");
        }
    }
}

/// Returns the error code of an error response.
pub async fn error_code(response: Response) -> String {
    let json: Value = response.json().await.expect("json error body");
    json["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Declares one test per database backend for an `async fn(Db)`.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Db::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Db::Postgres).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_databases;

/// Reads the S3 settings from the environment, or prints one line and returns `None`.
pub fn s3_settings() -> Option<[String; 5]> {
    let names = [
        "LINKYARD_TEST_S3_ENDPOINT",
        "LINKYARD_TEST_S3_ACCESS_KEY",
        "LINKYARD_TEST_S3_SECRET_KEY",
        "LINKYARD_TEST_S3_REGION",
        "LINKYARD_TEST_S3_BUCKET",
    ];
    let mut values = Vec::new();
    for name in names {
        match std::env::var(name) {
            Ok(value) if !value.is_empty() => values.push(value),
            _ => {
                eprintln!(
                    "skipped: S3 test, {name} is not set; run eval \"$(scripts/s3-test-server.sh start)\""
                );
                return None;
            }
        }
    }
    <[String; 5]>::try_from(values).ok()
}

/// Points `settings` at the S3 server of `values`, reached through `endpoint`, under a key
/// prefix of its own.
pub fn use_s3(settings: &mut Settings, endpoint: &str, values: &[String; 5]) {
    let blob = &mut settings.blob;
    blob.backend = BlobBackend::S3;
    blob.s3_endpoint = endpoint.to_owned();
    blob.s3_access_key = values[1].clone();
    blob.s3_secret_key = SecretString::new(values[2].clone());
    blob.s3_region = values[3].clone();
    blob.s3_bucket = values[4].clone();
    blob.s3_prefix = format!("linkyard-test-{:016x}/", rand::random::<u64>());
}

/// Returns the socket address of a backend's URL, for a proxy in front of it.
pub fn upstream_of(endpoint: &str) -> std::net::SocketAddr {
    url::Url::parse(endpoint)
        .ok()
        .and_then(|url| url.socket_addrs(|| None).ok())
        .and_then(|addresses| addresses.into_iter().next())
        .unwrap_or_else(|| panic!("{endpoint} is not a reachable address"))
}

/// Deletes a test's RabbitMQ exchanges and queues when dropped, also after a failed assert.
pub struct TopologyCleanup {
    pub settings: linkyard::settings::QueueSettings,
}

impl Drop for TopologyCleanup {
    fn drop(&mut self) {
        use linkyard_actors::backends::queue::{
            DELETE_BOOKMARK_DOCUMENT, ENRICH_BOOKMARK, INDEX_BOOKMARK, RENDER_QR,
        };
        let Ok(config) = linkyard::backends::queue::QueueConfig::from_settings(&self.settings)
        else {
            return;
        };
        let kinds: Vec<String> = [
            ENRICH_BOOKMARK,
            INDEX_BOOKMARK,
            DELETE_BOOKMARK_DOCUMENT,
            RENDER_QR,
        ]
        .iter()
        .map(|kind| (*kind).to_owned())
        .collect();
        // Drop runs inside the test's runtime, so the cleanup gets a thread and a runtime.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let deleted = runtime.block_on(linkyard::backends::queue::rabbitmq::delete_topology(
                &config, &kinds,
            ));
            if let Err(error) = deleted {
                eprintln!(
                    "deleting the test topology {} failed: {error}",
                    config.prefix
                );
            }
        });
        let _ = cleanup.join();
    }
}
