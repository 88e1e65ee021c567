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

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub database: DatabaseSettings,
    pub links: LinkSettings,
    pub auth: AuthSettings,
    pub queue: QueueSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    #[serde(deserialize_with = "optional_url")]
    pub public_url: Option<Url>,
    #[serde(deserialize_with = "string_or_list")]
    pub own_hosts: Vec<String>,
    pub header_read_timeout_ms: u64,
    pub max_json_body_bytes: usize,
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub data_dir: PathBuf,
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
    pub code_secret: String,
    pub hot_cache_capacity: u64,
    pub cache_ttl_secs: u64,
    pub negative_cache_ttl_secs: u64,
    pub write_batch_max: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub key_cache_ttl_secs: u64,
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
    ) -> Result<Self, figment::Error> {
        let mut figment = Figment::from(Toml::string(EMBEDDED_DEFAULTS));
        if let Some(path) = config_file {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        figment = merge_overrides(figment, overrides);
        figment.extract()
    }

    /// The embedded defaults alone, ignoring the environment. Tests start from these.
    pub fn embedded_defaults() -> Result<Self, figment::Error> {
        Figment::from(Toml::string(EMBEDDED_DEFAULTS)).extract()
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if !self.database.url.is_empty() {
            return self.database.url.clone();
        }
        let path = self.storage.data_dir.join("linkyard.db");
        format!("sqlite://{}?mode=rwc", path.display())
    }

    /// Whether the database is the embedded SQLite file.
    pub fn uses_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }
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
        assert!(settings.database_url().ends_with("data/linkyard.db?mode=rwc"));
    }

    #[test]
    fn environment_and_command_line_override_files() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("extra.toml", "[links]\nshards = 3\n")?;
            jail.set_env("LINKYARD_SERVER__OWN_HOSTS", "a.example, b.example");
            jail.set_env("LINKYARD_LINKS__ANONYMOUS_CREATE", "false");
            let overrides = CommandLineOverrides {
                listen: Some("127.0.0.1:9999".parse().expect("address")),
                ..Default::default()
            };
            let settings = Settings::load(Some(Path::new("extra.toml")), &overrides)?;
            assert_eq!(settings.links.shards, 3);
            assert_eq!(settings.server.own_hosts, ["a.example", "b.example"]);
            assert!(!settings.links.anonymous_create);
            assert_eq!(settings.server.listen.port(), 9999);
            Ok(())
        });
    }

    #[test]
    fn queue_defaults_and_list_from_environment() {
        figment::Jail::expect_with(|jail| {
            let defaults = Settings::load(None, &CommandLineOverrides::default())?;
            assert_eq!(defaults.queue.backend, QueueBackend::Outbox);
            assert!(!defaults.queue.retry_delays_ms.is_empty());

            jail.set_env("LINKYARD_QUEUE__BACKEND", "rabbitmq");
            jail.set_env("LINKYARD_QUEUE__RETRY_DELAYS_MS", "100, 2000");
            let settings = Settings::load(None, &CommandLineOverrides::default())?;
            assert_eq!(settings.queue.backend, QueueBackend::Rabbitmq);
            assert_eq!(settings.queue.retry_delays_ms, [100, 2000]);

            jail.set_env("LINKYARD_QUEUE__RETRY_DELAYS_MS", "250");
            let settings = Settings::load(None, &CommandLineOverrides::default())?;
            assert_eq!(settings.queue.retry_delays_ms, [250]);

            jail.set_env("LINKYARD_QUEUE__RETRY_DELAYS_MS", "100,soon");
            let error = Settings::load(None, &CommandLineOverrides::default())
                .expect_err("a word in the list must be reported");
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
    fn unknown_key_in_a_section_is_an_error() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LINKYARD_SERVER__LISTNE", "127.0.0.1:1");
            let error = Settings::load(None, &CommandLineOverrides::default())
                .expect_err("typo must be reported");
            assert!(error.to_string().contains("listne"), "{error}");
            Ok(())
        });
    }
}
