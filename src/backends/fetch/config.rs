//! `FetcherConfig`: the fetcher's limits, user agent and allowlist, built from the `[fetcher]`
//! settings section.

use super::allow::{Allowlist, InvalidAllowEntry};
use crate::settings::FetcherSettings;
use http::HeaderValue;
use std::time::Duration;

/// The User-Agent header when `fetcher.user_agent` is empty. It names the software and its
/// purpose, so that site operators can tell what is fetching their pages.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "linkyard/",
    env!("CARGO_PKG_VERSION"),
    " (bookmark preview)"
);

/// Limits and identity of a [`super::Fetcher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetcherConfig {
    pub user_agent: String,
    /// Deadline for DNS resolution, the TCP connection and the TLS handshake of each request.
    pub connect_timeout: Duration,
    /// Deadline for a whole fetch: every redirect hop and the body.
    pub total_timeout: Duration,
    /// Maximum decompressed size of a page body. A longer page is cut at this size.
    pub max_body_bytes: usize,
    /// Maximum number of redirects, HTTP and meta refresh, in one fetch.
    pub max_redirects: usize,
    /// Hosts and networks that the address guard lets through.
    pub allow: Allowlist,
}

/// A `[fetcher]` setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FetcherConfigError {
    #[error(transparent)]
    InvalidAllowEntry(#[from] InvalidAllowEntry),
    #[error("fetcher.user_agent '{value}' is not a valid header value; use printable ASCII")]
    InvalidUserAgent { value: String },
    #[error("fetcher.{key} is 0; set it to at least 1")]
    Zero { key: &'static str },
    #[error("building the fetcher's HTTP client failed: {0}")]
    Client(#[source] reqwest::Error),
}

impl Default for FetcherConfig {
    /// Returns the values of `config/default.toml` with an empty allowlist.
    fn default() -> Self {
        Self {
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(20),
            max_body_bytes: 5 * 1024 * 1024,
            max_redirects: 10,
            allow: Allowlist::default(),
        }
    }
}

impl FetcherConfig {
    /// Builds the configuration from the `[fetcher]` settings, checking every value.
    pub fn from_settings(settings: &FetcherSettings) -> Result<Self, FetcherConfigError> {
        let user_agent = match settings.user_agent.trim() {
            "" => DEFAULT_USER_AGENT.to_owned(),
            custom => custom.to_owned(),
        };
        let config = Self {
            user_agent,
            connect_timeout: Duration::from_millis(settings.connect_timeout_ms),
            total_timeout: Duration::from_millis(settings.total_timeout_ms),
            max_body_bytes: settings.max_body_bytes,
            max_redirects: settings.max_redirects,
            allow: Allowlist::parse(&settings.allow)?,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the values that the settings types cannot: a usable header value and non-zero
    /// limits. `max_redirects` may be 0, which follows no redirect.
    pub fn validate(&self) -> Result<(), FetcherConfigError> {
        if HeaderValue::from_str(&self.user_agent).is_err() {
            return Err(FetcherConfigError::InvalidUserAgent {
                value: self.user_agent.clone(),
            });
        }
        let limits = [
            ("connect_timeout_ms", self.connect_timeout.is_zero()),
            ("total_timeout_ms", self.total_timeout.is_zero()),
            ("max_body_bytes", self.max_body_bytes == 0),
        ];
        match limits.iter().find(|(_, is_zero)| *is_zero) {
            Some((key, _)) => Err(FetcherConfigError::Zero { key }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    fn default_settings() -> FetcherSettings {
        Settings::embedded_defaults()
            .expect("defaults parse")
            .fetcher
    }

    #[test]
    fn default_matches_embedded_settings() {
        let config = FetcherConfig::from_settings(&default_settings()).expect("valid");
        assert_eq!(config, FetcherConfig::default());
    }

    #[test]
    fn default_user_agent_names_version_and_purpose() {
        assert_eq!(
            DEFAULT_USER_AGENT,
            format!("linkyard/{} (bookmark preview)", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn custom_user_agent_is_kept() {
        let mut settings = default_settings();
        settings.user_agent = "examplebot/2.0 (+https://example.com/bot)".to_owned();
        let config = FetcherConfig::from_settings(&settings).expect("valid");
        assert_eq!(
            config.user_agent,
            "examplebot/2.0 (+https://example.com/bot)"
        );
    }

    #[test]
    fn invalid_values_are_rejected() {
        let mut settings = default_settings();
        settings.user_agent = "bad\nagent".to_owned();
        let error = FetcherConfig::from_settings(&settings).expect_err("newline");
        assert!(
            matches!(error, FetcherConfigError::InvalidUserAgent { .. }),
            "{error}"
        );

        let mut settings = default_settings();
        settings.total_timeout_ms = 0;
        let error = FetcherConfig::from_settings(&settings).expect_err("zero");
        assert_eq!(
            error.to_string(),
            "fetcher.total_timeout_ms is 0; set it to at least 1"
        );

        let mut settings = default_settings();
        settings.allow = vec!["10.0.0.0/99".to_owned()];
        let error = FetcherConfig::from_settings(&settings).expect_err("bad CIDR");
        assert!(
            matches!(error, FetcherConfigError::InvalidAllowEntry(_)),
            "{error}"
        );
    }
}
