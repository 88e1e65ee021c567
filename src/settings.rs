//! Typed, layered configuration: the embedded `config/default.toml`, then the file given with
//! `--config`, then `LINKYARD_<SECTION>__<KEY>` environment variables, then command-line options.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use url::Url;

const EMBEDDED_DEFAULTS: &str = include_str!("../config/default.toml");
const ENV_PREFIX: &str = "LINKYARD_";

/// Keys read verbatim from their environment variables. The `Env` provider parses values, so
/// an access key `12345` would become an integer that a string field rejects, and `007` would
/// lose its zeros.
const VERBATIM_ENV_KEYS: &[&str] = &[
    "blob.s3_region",
    "blob.s3_bucket",
    "blob.s3_access_key",
    "blob.s3_secret_key",
    "blob.s3_prefix",
    "links.code_secret",
];

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub blob: BlobSettings,
    pub database: DatabaseSettings,
    pub links: LinkSettings,
    pub auth: AuthSettings,
    pub fetcher: FetcherSettings,
    pub cache: CacheSettings,
    pub rate_limit: RateLimitSettings,
    pub log: LogSettings,
    pub web: WebSettings,
    pub queue: QueueSettings,
    pub analytics: AnalyticsSettings,
    pub qr: QrSettings,
    pub search: SearchSettings,
    pub pastes: PasteSettings,
    pub bookmarks: BookmarkSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    #[serde(deserialize_with = "optional_url")]
    pub public_url: Option<Url>,
    #[serde(deserialize_with = "string_or_list")]
    pub own_hosts: Vec<String>,
    /// Proxies (addresses or CIDRs) whose `X-Forwarded-For` entries are believed.
    #[serde(deserialize_with = "string_or_list")]
    pub trusted_proxies: Vec<String>,
    pub header_read_timeout_ms: u64,
    pub max_json_body_bytes: usize,
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub data_dir: PathBuf,
}

/// The blob store: files under a directory, or an S3 bucket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobSettings {
    pub backend: BlobBackend,
    /// Directory of the filesystem store. Empty means `blobs` in `storage.data_dir`.
    pub dir: PathBuf,
    /// Base URL of the S3 API. Empty means AWS S3 in `s3_region`.
    pub s3_endpoint: String,
    pub s3_region: String,
    pub s3_bucket: String,
    pub s3_access_key: String,
    pub s3_secret_key: SecretString,
    /// Prepended to every key, so that several deployments or test runs can share a bucket.
    pub s3_prefix: String,
    /// Addresses the bucket as `endpoint/bucket` instead of `bucket.endpoint`, as MinIO and
    /// SeaweedFS expect.
    pub s3_force_path_style: bool,
    pub s3_connect_timeout_ms: u64,
    /// Limit on one S3 call, all retries included.
    pub s3_operation_timeout_ms: u64,
    /// Attempts per S3 call, the first one included.
    pub s3_max_attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobBackend {
    Filesystem,
    S3,
}

/// A configuration value that must not appear in logs: its `Debug` output is redacted.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("\"[redacted]\"")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_ms: u64,
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSettings {
    pub anonymous_create: bool,
    pub max_url_bytes: usize,
    pub shards: usize,
    pub id_block_size: u64,
    pub high_water_slack: u64,
    pub code_secret: String,
    pub hot_cache_capacity: u64,
    pub cache_ttl_secs: u64,
    pub negative_cache_ttl_secs: u64,
    pub write_batch_max: usize,
    pub read_concurrency: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub key_cache_ttl_secs: u64,
}

/// The page fetcher of bookmark enrichment. `config/default.toml` documents each key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetcherSettings {
    /// The User-Agent header; empty means `linkyard/<version> (bookmark preview)`.
    pub user_agent: String,
    pub connect_timeout_ms: u64,
    pub total_timeout_ms: u64,
    pub max_body_bytes: usize,
    pub max_redirects: usize,
    /// Host names and CIDRs that the address guard lets through.
    #[serde(deserialize_with = "string_or_list")]
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    pub backend: CacheBackend,
    pub redis_url: String,
    pub key_prefix: String,
    pub pool_size: usize,
    pub command_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub reconnect_min_delay_ms: u32,
    pub reconnect_max_delay_ms: u32,
    pub failure_log_interval_secs: u64,
    pub hits_retention_minutes: u32,
    pub unique_retention_days: u32,
    pub memory_values_max_mib: u64,
    pub memory_unique_max_mib: u64,
    pub memory_rate_limit_max_keys: usize,
}

/// The backend that stores caches and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheBackend {
    /// In this process only: right for a single instance.
    Memory,
    /// Shared by every instance through Redis.
    Redis,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub create: BucketSettings,
    pub redirect: BucketSettings,
    pub not_found: BucketSettings,
}

/// A token bucket: up to `capacity` requests at once, then `refill_per_sec` a second.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketSettings {
    pub capacity: std::num::NonZeroU32,
    #[serde(deserialize_with = "positive_rate")]
    pub refill_per_sec: f64,
}

/// QR rendering. `config/default.toml` documents each key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QrSettings {
    /// Workers rendering at once; 0 means one per CPU.
    pub workers: usize,
    pub queue_limit: usize,
    pub render_timeout_ms: u64,
    pub prerender: bool,
}

/// Bookmarks: enrichment, favicons, import and web sessions. `config/default.toml` documents
/// each key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookmarkSettings {
    /// Enrichment workers; 0 means one per CPU.
    pub workers: usize,
    pub queue_limit: usize,
    pub favicon_max_bytes: usize,
    pub import_max_bytes: usize,
    pub session_ttl_secs: u64,
}

/// Click analytics. `config/default.toml` documents each key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsSettings {
    pub flush_interval_ms: u64,
    pub flush_max_events: usize,
    pub max_queued_clicks: usize,
    /// A MaxMind-format country database; empty means countries are unknown.
    pub geoip_db: PathBuf,
}

/// The paste product. `config/default.toml` documents each key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasteSettings {
    pub anonymous_create: bool,
    pub max_bytes: u64,
    /// 0 means no maximum.
    pub max_expiry_secs: u64,
    pub default_expiry: String,
    /// 0 turns the scheduled sweeper off.
    pub sweep_interval_secs: u64,
    pub sweep_batch: u64,
    pub orphan_grace_secs: u64,
}

/// Rendering limits of the web UI's paste pages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSettings {
    pub highlight_budget_ms: u64,
    pub highlight_max_bytes: usize,
    pub highlight_max_lines: usize,
    pub highlight_max_line_bytes: usize,
    pub page_max_lines: usize,
    pub page_max_bytes: usize,
}

/// The bookmark search engine and its connection. `Debug` leaves out the API key.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSettings {
    pub backend: SearchBackend,
    pub meili_url: String,
    /// The Meilisearch API key; empty means none. Never logged.
    pub meili_key: String,
    /// Prepended to every Meilisearch index name, so that several deployments or test runs can
    /// share one server.
    pub index_prefix: String,
    /// The timeout of one Meilisearch request, and of waiting for one of its tasks.
    pub meili_timeout_ms: u64,
    /// The minimum time between two Tantivy commits. Writes wait up to this long.
    pub commit_interval_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchBackend {
    Tantivy,
    Meilisearch,
}

impl std::fmt::Debug for SearchSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = if self.meili_key.is_empty() {
            ""
        } else {
            "<redacted>"
        };
        f.debug_struct("SearchSettings")
            .field("backend", &self.backend)
            .field("meili_url", &self.meili_url)
            .field("meili_key", &key)
            .field("index_prefix", &self.index_prefix)
            .field("meili_timeout_ms", &self.meili_timeout_ms)
            .field("commit_interval_ms", &self.commit_interval_ms)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The job queue. Every duration is in the unit its key names.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    pub backend: QueueBackend,
    /// The RabbitMQ server, such as `amqp://user:password@host:5672/%2f`. It contains a
    /// password, so `Debug` prints it redacted.
    pub amqp_url: String,
    /// Prefix of every RabbitMQ exchange, queue and connection name.
    pub prefix: String,
    pub concurrency: usize,
    pub prefetch: u16,
    pub max_attempts: u32,
    #[serde(deserialize_with = "number_or_list")]
    pub retry_delays_ms: Vec<u64>,
    pub poll_interval_ms: u64,
    pub lease_ms: u64,
    pub job_timeout_ms: u64,
    pub reconnect_max_ms: u64,
    pub relay_batch: u64,
    pub published_retention_secs: u64,
    /// Whether `linkyard serve` runs jobs too, or leaves them to `linkyard worker` processes.
    pub consume_in_serve: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueBackend {
    /// The outbox table, polled in process.
    Outbox,
    /// The outbox table relayed to RabbitMQ, consumed from there.
    Rabbitmq,
}

impl std::fmt::Debug for QueueSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("QueueSettings")
            .field("backend", &self.backend)
            .field("amqp_url", &redact_password(&self.amqp_url))
            .field("prefix", &self.prefix)
            .field("concurrency", &self.concurrency)
            .field("prefetch", &self.prefetch)
            .field("max_attempts", &self.max_attempts)
            .field("retry_delays_ms", &self.retry_delays_ms)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .field("lease_ms", &self.lease_ms)
            .field("job_timeout_ms", &self.job_timeout_ms)
            .field("reconnect_max_ms", &self.reconnect_max_ms)
            .field("relay_batch", &self.relay_batch)
            .field("published_retention_secs", &self.published_retention_secs)
            .field("consume_in_serve", &self.consume_in_serve)
            .finish()
    }
}

/// Replaces the password of a URL with `***`. A string that is not a URL is replaced whole,
/// since it may be a mistyped URL that still contains a password.
pub fn redact_password(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) if url.is_empty() => String::new(),
        Err(_) => "<not a URL>".to_owned(),
    }
}

/// Accepts a list of numbers, one number, or one comma-separated string of numbers, so that
/// environment variables can hold lists.
fn number_or_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Number(u64),
        Text(String),
        Many(Vec<u64>),
    }
    match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Number(number) => Ok(vec![number]),
        OneOrMany::Many(numbers) => Ok(numbers),
        OneOrMany::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse().map_err(|_| {
                    serde::de::Error::custom(format!(
                        "invalid number '{item}' in '{text}'; use whole numbers separated by commas"
                    ))
                })
            })
            .collect(),
    }
}

/// Values from the command line, applied over every other layer.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CommandLineOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

impl Settings {
    /// Loads the layers in order. `config_file` is the `--config` file, if any.
    pub fn load(
        config_file: Option<&Path>,
        overrides: &CommandLineOverrides,
    ) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Toml::string(EMBEDDED_DEFAULTS));
        if let Some(path) = config_file {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        figment = merge_verbatim_env(figment);
        figment = merge_overrides(figment, overrides);
        figment.extract().map_err(Box::new)
    }

    /// The embedded defaults alone, ignoring the environment. Tests start from these.
    pub fn embedded_defaults() -> Result<Self, Box<figment::Error>> {
        Figment::from(Toml::string(EMBEDDED_DEFAULTS))
            .extract()
            .map_err(Box::new)
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if !self.database.url.is_empty() {
            return self.database.url.clone();
        }
        let path = self.storage.data_dir.join("linkyard.db");
        format!("sqlite://{}?mode=rwc", path.display())
    }

    /// Returns the directory of the filesystem blob store: `blob.dir`, or `blobs` in the data
    /// directory when `blob.dir` is empty.
    pub fn blob_dir(&self) -> PathBuf {
        if self.blob.dir.as_os_str().is_empty() {
            return self.storage.data_dir.join("blobs");
        }
        self.blob.dir.clone()
    }

    /// Returns the directory of the embedded Tantivy bookmark index.
    pub fn search_index_dir(&self) -> PathBuf {
        self.storage.data_dir.join("search").join("bookmarks")
    }

    /// Whether the database is the embedded SQLite file.
    pub fn uses_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }
}

fn merge_verbatim_env(mut figment: Figment) -> Figment {
    for key in VERBATIM_ENV_KEYS {
        let name = format!("{ENV_PREFIX}{}", key.replace('.', "__").to_uppercase());
        if let Ok(value) = std::env::var(&name) {
            figment = figment.merge(Serialized::default(key, value));
        }
    }
    figment
}

fn merge_overrides(mut figment: Figment, overrides: &CommandLineOverrides) -> Figment {
    if let Some(data_dir) = &overrides.data_dir {
        figment = figment.merge(Serialized::default("storage.data_dir", data_dir));
    }
    if let Some(listen) = overrides.listen {
        figment = figment.merge(Serialized::default("server.listen", listen.to_string()));
    }
    if let Some(public_url) = &overrides.public_url {
        figment = figment.merge(Serialized::default("server.public_url", public_url));
    }
    figment
}

/// Accepts a list or one comma-separated string, so that environment variables can hold lists.
fn string_or_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(text) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect(),
        OneOrMany::Many(items) => items,
    })
}

/// Accepts a finite number above zero.
fn positive_rate<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let rate = f64::deserialize(deserializer)?;
    if rate.is_finite() && rate > 0.0 {
        return Ok(rate);
    }
    Err(serde::de::Error::custom(format!(
        "refill_per_sec {rate} is invalid; use a number of tokens per second above 0"
    )))
}

/// Parses a URL, treating an empty string as unset.
fn optional_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Url>, D::Error> {
    let text = String::deserialize(deserializer)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    Url::parse(text.trim())
        .map(Some)
        .map_err(|error| serde::de::Error::custom(format!("invalid URL '{text}': {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_parse() {
        let settings = Settings::embedded_defaults().expect("defaults parse");
        assert_eq!(settings.server.listen.to_string(), "127.0.0.1:8080");
        assert!(settings.uses_sqlite());
        assert!(
            settings
                .database_url()
                .ends_with("data/linkyard.db?mode=rwc")
        );
        assert_eq!(settings.cache.backend, CacheBackend::Memory);
        assert_eq!(settings.cache.command_timeout_ms, 250);
        assert!(settings.rate_limit.enabled);
        assert_eq!(settings.rate_limit.not_found.capacity.get(), 20);
        assert_eq!(settings.search.backend, SearchBackend::Tantivy);
        assert!(
            settings
                .search_index_dir()
                .ends_with("data/search/bookmarks")
        );
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail fixes the closure's error type"
    )]
    fn search_backend_comes_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LINKYARD_SEARCH__BACKEND", "meilisearch");
            jail.set_env("LINKYARD_SEARCH__MEILI_URL", "http://127.0.0.1:7701");
            let settings =
                Settings::load(None, &CommandLineOverrides::default()).map_err(|e| *e)?;
            assert_eq!(settings.search.backend, SearchBackend::Meilisearch);
            assert_eq!(settings.search.meili_url, "http://127.0.0.1:7701");
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail fixes the closure's error type"
    )]
    fn cache_and_rate_limits_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LINKYARD_CACHE__BACKEND", "redis");
            jail.set_env("LINKYARD_CACHE__KEY_PREFIX", "tenant-a:");
            jail.set_env("LINKYARD_RATE_LIMIT__CREATE__REFILL_PER_SEC", "2.5");
            let settings =
                Settings::load(None, &CommandLineOverrides::default()).map_err(|e| *e)?;
            assert_eq!(settings.cache.backend, CacheBackend::Redis);
            assert_eq!(settings.cache.key_prefix, "tenant-a:");
            assert_eq!(settings.rate_limit.create.refill_per_sec, 2.5);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail fixes the closure's error type"
    )]
    fn invalid_buckets_are_errors() {
        for (key, value, expected) in [
            ("LINKYARD_RATE_LIMIT__REDIRECT__CAPACITY", "0", "nonzero"),
            (
                "LINKYARD_RATE_LIMIT__REDIRECT__REFILL_PER_SEC",
                "0",
                "refill_per_sec 0 is invalid",
            ),
            ("LINKYARD_CACHE__BACKEND", "memcached", "memcached"),
        ] {
            figment::Jail::expect_with(|jail| {
                jail.set_env(key, value);
                let error = Settings::load(None, &CommandLineOverrides::default())
                    .expect_err("invalid value must be reported");
                assert!(error.to_string().contains(expected), "{key}: {error}");
                Ok(())
            });
        }
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail fixes the closure's error type"
    )]
    fn environment_and_command_line_override_files() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("extra.toml", "[links]\nshards = 3\n")?;
            jail.set_env("LINKYARD_SERVER__OWN_HOSTS", "a.example, b.example");
            jail.set_env("LINKYARD_LINKS__ANONYMOUS_CREATE", "false");
            let overrides = CommandLineOverrides {
                listen: Some("127.0.0.1:9999".parse().expect("address")),
                ..Default::default()
            };
            let settings =
                Settings::load(Some(Path::new("extra.toml")), &overrides).map_err(|e| *e)?;
            assert_eq!(settings.links.shards, 3);
            assert_eq!(settings.server.own_hosts, ["a.example", "b.example"]);
            assert!(!settings.links.anonymous_create);
            assert_eq!(settings.server.listen.port(), 9999);
            Ok(())
        });
    }

    #[test]
    fn fetcher_defaults_parse() {
        let fetcher = Settings::embedded_defaults()
            .expect("defaults parse")
            .fetcher;
        assert_eq!(fetcher.user_agent, "");
        assert_eq!(fetcher.connect_timeout_ms, 5000);
        assert_eq!(fetcher.total_timeout_ms, 20000);
        assert_eq!(fetcher.max_body_bytes, 5 * 1024 * 1024);
        assert_eq!(fetcher.max_redirects, 10);
        assert!(fetcher.allow.is_empty());
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail closures return figment::Error"
    )]
    fn fetcher_allow_from_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LINKYARD_FETCHER__ALLOW", "127.0.0.1/32,intranet.example");
            let settings =
                Settings::load(None, &CommandLineOverrides::default()).map_err(|e| *e)?;
            assert_eq!(settings.fetcher.allow, ["127.0.0.1/32", "intranet.example"]);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail closures return figment::Error"
    )]
    fn fetcher_allow_from_file_list() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "extra.toml",
                "[fetcher]\nallow = [\"10.1.0.0/16\", \"*.corp.example\"]\n",
            )?;
            let settings = Settings::load(Some(Path::new("extra.toml")), &Default::default())
                .map_err(|e| *e)?;
            assert_eq!(settings.fetcher.allow, ["10.1.0.0/16", "*.corp.example"]);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail fixes the closure's error type"
    )]
    fn queue_defaults_and_list_from_environment() {
        figment::Jail::expect_with(|jail| {
            let load = || Settings::load(None, &CommandLineOverrides::default()).map_err(|e| *e);
            let defaults = load()?;
            assert_eq!(defaults.queue.backend, QueueBackend::Outbox);
            assert!(!defaults.queue.retry_delays_ms.is_empty());

            jail.set_env("LINKYARD_QUEUE__BACKEND", "rabbitmq");
            jail.set_env("LINKYARD_QUEUE__RETRY_DELAYS_MS", "100, 2000");
            let settings = load()?;
            assert_eq!(settings.queue.backend, QueueBackend::Rabbitmq);
            assert_eq!(settings.queue.retry_delays_ms, [100, 2000]);

            jail.set_env("LINKYARD_QUEUE__RETRY_DELAYS_MS", "250");
            assert_eq!(load()?.queue.retry_delays_ms, [250]);

            jail.set_env("LINKYARD_QUEUE__RETRY_DELAYS_MS", "100,soon");
            let error = load().expect_err("a word in the list must be reported");
            assert!(error.to_string().contains("soon"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn queue_debug_hides_the_amqp_password() {
        let mut queue = Settings::embedded_defaults().expect("defaults parse").queue;
        queue.amqp_url = "amqp://linkyard:hunter2@rabbitmq:5672/%2f".to_owned();
        let printed = format!("{queue:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("rabbitmq:5672"), "{printed}");
    }

    #[test]
    fn blob_defaults_use_the_data_dir() {
        let settings = Settings::embedded_defaults().expect("defaults parse");
        assert_eq!(settings.blob.backend, BlobBackend::Filesystem);
        assert_eq!(settings.blob_dir(), Path::new("./data").join("blobs"));
        assert!(settings.blob.s3_force_path_style);
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail fixes the closure's error type"
    )]
    fn blob_s3_settings_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LINKYARD_BLOB__BACKEND", "s3");
            jail.set_env("LINKYARD_BLOB__S3_ENDPOINT", "http://127.0.0.1:9000");
            jail.set_env("LINKYARD_BLOB__S3_ACCESS_KEY", "12345");
            jail.set_env("LINKYARD_BLOB__S3_BUCKET", "007");
            jail.set_env("LINKYARD_BLOB__S3_SECRET_KEY", "hunter2");
            jail.set_env("LINKYARD_BLOB__S3_FORCE_PATH_STYLE", "false");
            let settings =
                Settings::load(None, &CommandLineOverrides::default()).map_err(|e| *e)?;
            assert_eq!(settings.blob.backend, BlobBackend::S3);
            assert_eq!(settings.blob.s3_endpoint, "http://127.0.0.1:9000");
            assert_eq!(settings.blob.s3_access_key, "12345");
            assert_eq!(settings.blob.s3_bucket, "007");
            assert_eq!(settings.blob.s3_secret_key.expose(), "hunter2");
            assert!(!settings.blob.s3_force_path_style);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail fixes the closure's error type"
    )]
    fn production_profile_uses_s3_and_redis() {
        figment::Jail::expect_with(|jail| {
            let profile = include_str!("../config/production.toml");
            jail.create_file("production.toml", profile)?;
            let settings = Settings::load(
                Some(Path::new("production.toml")),
                &CommandLineOverrides::default(),
            )
            .map_err(|e| *e)?;
            assert_eq!(settings.blob.backend, BlobBackend::S3);
            assert_eq!(settings.blob.s3_endpoint, "http://minio:9000");
            assert_eq!(settings.cache.backend, CacheBackend::Redis);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail fixes the closure's error type"
    )]
    fn secret_key_is_redacted_in_debug_output() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LINKYARD_BLOB__S3_SECRET_KEY", "hunter2");
            let settings =
                Settings::load(None, &CommandLineOverrides::default()).map_err(|e| *e)?;
            let debug = format!("{settings:?}");
            assert!(!debug.contains("hunter2"), "{debug}");
            assert!(debug.contains("[redacted]"), "{debug}");
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail fixes the closure's error type"
    )]
    fn unknown_key_in_a_section_is_an_error() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LINKYARD_SERVER__LISTNE", "127.0.0.1:1");
            let error = Settings::load(None, &CommandLineOverrides::default())
                .expect_err("typo must be reported");
            assert!(error.to_string().contains("listne"), "{error}");
            Ok(())
        });
    }

    /// `config/production.toml` names the services of `docker-compose.yml`, and parses.
    #[test]
    fn production_profile_names_compose_services() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let production = root.join("config/production.toml");
        let settings = Figment::from(Toml::string(EMBEDDED_DEFAULTS))
            .merge(Toml::file_exact(&production))
            .extract::<Settings>()
            .expect("production profile parses");
        let compose =
            std::fs::read_to_string(root.join("docker-compose.yml")).expect("compose file");
        let services: Vec<&str> = compose
            .lines()
            .filter_map(|line| line.strip_prefix("  ")?.strip_suffix(':'))
            .filter(|name| !name.starts_with(' '))
            .collect();

        assert_eq!(settings.cache.backend, CacheBackend::Redis);
        assert_eq!(settings.search.backend, SearchBackend::Meilisearch);
        let addresses = [
            &settings.database.url,
            &settings.cache.redis_url,
            &settings.blob.s3_endpoint,
            &settings.queue.amqp_url,
            &settings.search.meili_url,
        ];
        for address in addresses {
            let host = url::Url::parse(address)
                .ok()
                .and_then(|parsed| parsed.host_str().map(str::to_owned))
                .unwrap_or_default();
            assert!(
                services.contains(&host.as_str()),
                "{address}: host '{host}' is not a compose service ({services:?})"
            );
        }
        for needed in ["app1", "app2", "worker", "nginx", "minio-init", "migrate"] {
            assert!(
                services.contains(&needed),
                "compose service {needed} missing"
            );
        }
    }
}
