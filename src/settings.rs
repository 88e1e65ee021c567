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
    pub log: LogSettings,
    pub search: SearchSettings,
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
        let key = if self.meili_key.is_empty() { "" } else { "<redacted>" };
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

    /// Returns the directory of the embedded Tantivy bookmark index.
    pub fn search_index_dir(&self) -> PathBuf {
        self.storage.data_dir.join("search").join("bookmarks")
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
        assert_eq!(settings.search.backend, SearchBackend::Tantivy);
        assert!(
            settings
                .search_index_dir()
                .ends_with("data/search/bookmarks")
        );
    }

    #[test]
    fn search_backend_comes_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LINKYARD_SEARCH__BACKEND", "meilisearch");
            jail.set_env("LINKYARD_SEARCH__MEILI_URL", "http://127.0.0.1:7701");
            let settings = Settings::load(None, &CommandLineOverrides::default())?;
            assert_eq!(settings.search.backend, SearchBackend::Meilisearch);
            assert_eq!(settings.search.meili_url, "http://127.0.0.1:7701");
            Ok(())
        });
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
