//! The blob store contract, run against the filesystem store and the S3 store, plus tests of
//! what only one of them does.
//!
//! The S3 tests read `LINKYARD_TEST_S3_ENDPOINT`, `LINKYARD_TEST_S3_ACCESS_KEY`,
//! `LINKYARD_TEST_S3_SECRET_KEY`, `LINKYARD_TEST_S3_REGION` and `LINKYARD_TEST_S3_BUCKET`
//! (`scripts/s3-test-server.sh start` prints them), and print one `skipped:` line when they are
//! unset or the server is unreachable. Each S3 test works under its own random key prefix and
//! deletes what it wrote.

#![expect(
    clippy::print_stderr,
    reason = "tests report skips and timings on stderr"
)]

mod contract;
mod filesystem;
mod s3_fault;

use linkyard::backends::blob::fs::FsBlobStore;
use linkyard::backends::blob::s3::{S3BlobStore, S3Options};
use linkyard::settings::SecretString;
use linkyard_actors::backends::blob::BlobStore;
use std::sync::Arc;
use std::time::Duration;

/// A store under test. Dropping it deletes what the test wrote.
pub struct TestStore {
    pub store: Arc<dyn BlobStore>,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(#[allow(dead_code)] tempfile::TempDir),
    Bucket(S3Options),
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Cleanup::Bucket(options) = &self.cleanup {
            delete_prefix(options.clone());
        }
    }
}

/// Opens a filesystem store in a fresh temporary directory.
pub async fn filesystem_store() -> TestStore {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let store = FsBlobStore::open(dir.path().join("blobs"))
        .await
        .expect("open the filesystem store");
    TestStore {
        store: Arc::new(store),
        cleanup: Cleanup::Directory(dir),
    }
}

/// Connects an S3 store under a fresh key prefix of the test bucket. Returns `None` (after
/// printing one line) when the test server is not configured or does not accept connections.
pub async fn s3_store() -> Option<TestStore> {
    let options = s3_test_options()?;
    let endpoint = options.endpoint.clone().unwrap_or_default();
    if !accepts_connections(&endpoint).await {
        eprintln!("skipped: the S3 test server at {endpoint} is unreachable");
        return None;
    }
    let store = S3BlobStore::connect(options.clone())
        .await
        .unwrap_or_else(|error| {
            panic!("S3 at {endpoint} accepts connections, but connecting the store failed: {error}")
        });
    Some(TestStore {
        store: Arc::new(store),
        cleanup: Cleanup::Bucket(options),
    })
}

/// Reads the test server's settings from the environment and adds a random key prefix.
fn s3_test_options() -> Option<S3Options> {
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
                    "skipped: {name} is not set; run eval \"$(scripts/s3-test-server.sh start)\""
                );
                return None;
            }
        }
    }
    let [endpoint, access_key, secret_key, region, bucket] =
        <[String; 5]>::try_from(values).expect("five values");
    Some(S3Options {
        endpoint: Some(endpoint),
        region,
        bucket,
        access_key,
        secret_key: SecretString::new(secret_key),
        prefix: format!("linkyard-test-{:016x}/", rand::random::<u64>()),
        force_path_style: true,
        connect_timeout: Duration::from_secs(2),
        operation_timeout: Duration::from_secs(20),
        max_attempts: 3,
    })
}

/// Returns whether something accepts connections at the endpoint's host and port.
pub async fn accepts_connections(endpoint: &str) -> bool {
    let Ok(url) = url::Url::parse(endpoint) else {
        return false;
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let connect = tokio::net::TcpStream::connect((host, port));
    matches!(
        tokio::time::timeout(Duration::from_secs(2), connect).await,
        Ok(Ok(_))
    )
}

/// Deletes every object under the options' prefix. Drop runs inside the test's runtime, which
/// cannot block on a future, so the cleanup gets a thread and a runtime of its own.
fn delete_prefix(options: S3Options) {
    let cleanup = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build the cleanup runtime");
        runtime.block_on(async move {
            let prefix = options.prefix.clone();
            let store = match S3BlobStore::connect(options).await {
                Ok(store) => store,
                Err(error) => {
                    eprintln!("cleaning up S3 prefix {prefix} failed: {error}");
                    return;
                }
            };
            loop {
                let entries = match store.list("", None, 1000).await {
                    Ok(entries) if !entries.is_empty() => entries,
                    Ok(_) => return,
                    Err(error) => {
                        eprintln!("cleaning up S3 prefix {prefix} failed: {error}");
                        return;
                    }
                };
                for entry in entries {
                    if let Err(error) = store.delete(&entry.key).await {
                        eprintln!("cleaning up S3 prefix {prefix} failed: {error}");
                        return;
                    }
                }
            }
        });
    });
    let _ = cleanup.join();
}

/// Generates one test per contract case and backend: `filesystem_contract::<case>` and
/// `s3_contract::<case>`.
macro_rules! contract_tests {
    ($($case:ident),* $(,)?) => {
        mod filesystem_contract {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let test_store = super::filesystem_store().await;
                    super::contract::$case(&*test_store.store).await;
                }
            )*
        }

        mod s3_contract {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(test_store) = super::s3_store().await else {
                        return;
                    };
                    super::contract::$case(&*test_store.store).await;
                }
            )*
        }
    };
}

contract_tests!(
    empty_object_round_trips,
    binary_bytes_round_trip,
    ten_mebibytes_round_trip,
    content_type_round_trips,
    overwrite_replaces_bytes_and_type,
    cache_put_round_trips_and_replaces,
    missing_key_is_none_and_false,
    delete_is_idempotent,
    list_returns_keys_in_byte_order,
    list_filters_by_prefix,
    list_pages_with_after,
    paging_returns_every_key_once,
    list_reports_sizes,
    invalid_keys_are_rejected,
    invalid_content_types_are_rejected,
    readers_never_see_a_partial_object,
    ping_succeeds,
);
