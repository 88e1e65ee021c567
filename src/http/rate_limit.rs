//! Rate limits: token buckets per client (API key, else client address) and route class.
//!
//! Creating things is limited by waiting for the bucket, one cache round trip. Redirects never
//! wait for Redis: with a shared cache their tokens are taken in the background, and a client
//! whose bucket ran dry is blocked in memory on this instance until it refills. Redirects that
//! end in 404 draw from a small `not_found` bucket too; emptying it blocks the client's redirects,
//! which slows down anyone guessing codes.

use super::error::ApiError;
use crate::settings::{BucketSettings, RateLimitSettings};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use linkyard_actors::backends::cache::Cache;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Clients blocked in memory at most; beyond it the least recently used entries are forgotten.
const MAX_BLOCKED: u64 = 100_000;
/// Failures of the limiter's cache are logged at most this often.
const LOG_INTERVAL: Duration = Duration::from_secs(30);

/// The route classes with separate buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    Create,
    Redirect,
    NotFound,
}

impl RouteClass {
    fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Redirect => "redirect",
            Self::NotFound => "not_found",
        }
    }

    /// The class of a matched route, if it is limited.
    /// Returns the class of a request. Any request that sends a paste password is charged as a create,
    /// so password guessing through the API is bounded like guessing through the unlock form.
    pub fn of_request(
        method: &http::Method,
        pattern: &str,
        headers: &http::HeaderMap,
    ) -> Option<Self> {
        Self::of(method, pattern).or_else(|| {
            headers
                .contains_key("x-paste-password")
                .then_some(Self::Create)
        })
    }

    pub fn of(method: &http::Method, pattern: &str) -> Option<Self> {
        const CREATE_ROUTES: &[&str] = &[
            "/",
            "/s",
            "/p",
            "/api/links",
            "/api/pastes",
            "/api/bookmarks",
            "/api/bookmarks/import",
            // Password attempts: each costs an Argon2 hash, and guessing must stay slow.
            "/p/{id}/unlock",
            "/bookmarks",
            "/signin",
        ];
        match (method, pattern) {
            (&http::Method::GET | &http::Method::HEAD, "/{code}") => Some(Self::Redirect),
            (&http::Method::POST, pattern) if CREATE_ROUTES.contains(&pattern) => {
                Some(Self::Create)
            }
            _ => None,
        }
    }
}

pub struct RateLimiter {
    cache: Arc<dyn Cache>,
    settings: RateLimitSettings,
    /// `class:client` → blocked until.
    blocked: moka::sync::Cache<String, Instant>,
    /// Whether bucket calls leave the process, so redirects must not wait for them.
    remote: bool,
    last_failure_log: Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub fn new(cache: Arc<dyn Cache>, settings: RateLimitSettings) -> Self {
        let remote = cache.name() != "memory";
        Self {
            cache,
            settings,
            blocked: moka::sync::Cache::builder()
                .max_capacity(MAX_BLOCKED)
                .time_to_live(Duration::from_secs(3600))
                .build(),
            remote,
            last_failure_log: Mutex::new(None),
        }
    }

    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// Takes a token for one request of `class`, or returns the 429 to send.
    pub async fn check(self: &Arc<Self>, class: RouteClass, client: &str) -> Result<(), ApiError> {
        if !self.settings.enabled {
            return Ok(());
        }
        let key = format!("{}:{client}", class.name());
        if let Some(wait) = self.blocked_for(&key) {
            return Err(too_many(class, wait));
        }
        if class == RouteClass::Redirect && self.remote {
            self.take_in_background(key, class, class);
            return Ok(());
        }
        match self.take(&key, class).await {
            Some(wait) => {
                self.block(key, wait);
                Err(too_many(class, wait))
            }
            None => Ok(()),
        }
    }

    /// Counts a redirect that ended in 404 against the client's `not_found` bucket.
    pub async fn record_not_found(self: &Arc<Self>, client: &str) {
        if !self.settings.enabled {
            return;
        }
        let key = format!("{}:{client}", RouteClass::NotFound.name());
        let redirect_key = format!("{}:{client}", RouteClass::Redirect.name());
        if self.remote {
            self.take_in_background(key, RouteClass::NotFound, RouteClass::Redirect);
            return;
        }
        if let Some(wait) = self.take(&key, RouteClass::NotFound).await {
            self.block(redirect_key, wait);
        }
    }

    /// Takes a token without making the request wait; an empty bucket blocks `blocks`.
    fn take_in_background(self: &Arc<Self>, key: String, class: RouteClass, blocks: RouteClass) {
        let limiter = Arc::clone(self);
        tokio::spawn(async move {
            if let Some(wait) = limiter.take(&key, class).await {
                let client = key
                    .split_once(':')
                    .map(|(_, client)| client)
                    .unwrap_or_default();
                limiter.block(format!("{}:{client}", blocks.name()), wait);
            }
        });
    }

    /// Returns how long to wait when the bucket is empty. A failing cache lets the request
    /// through: limits protect the service, so their outage must not take it down.
    async fn take(&self, key: &str, class: RouteClass) -> Option<Duration> {
        let bucket = self.bucket(class);
        match self
            .cache
            .take(key, bucket.capacity.get(), bucket.refill_per_sec, 1)
            .await
        {
            Ok(decision) if decision.allowed => None,
            Ok(decision) => Some(decision.retry_after.max(Duration::from_millis(1))),
            Err(error) => {
                self.log_failure(&error);
                None
            }
        }
    }

    fn bucket(&self, class: RouteClass) -> &BucketSettings {
        match class {
            RouteClass::Create => &self.settings.create,
            RouteClass::Redirect => &self.settings.redirect,
            RouteClass::NotFound => &self.settings.not_found,
        }
    }

    fn blocked_for(&self, key: &str) -> Option<Duration> {
        let until = self.blocked.get(key)?;
        let wait = until.checked_duration_since(Instant::now());
        if wait.is_none() {
            self.blocked.invalidate(key);
        }
        wait
    }

    fn block(&self, key: String, wait: Duration) {
        self.blocked.insert(key, Instant::now() + wait);
    }

    fn log_failure(&self, error: &dyn std::error::Error) {
        let mut last = self
            .last_failure_log
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|at| at.elapsed() >= LOG_INTERVAL) {
            *last = Some(Instant::now());
            tracing::warn!(backend = self.cache.name(), %error, "rate limits are not applied: the cache failed");
        }
    }
}

/// The bucket a request is charged to: its API key when it sends one, its address otherwise.
/// The key is hashed, so it never sits in memory or Redis as it was sent.
pub fn client_key(headers: &HeaderMap, client_ip: IpAddr) -> String {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|key| !key.is_empty());
    match key {
        Some(key) => {
            let digest = Sha256::digest(key.as_bytes());
            let hex: String = digest[..8]
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            format!("key-{hex}")
        }
        None => format!("ip-{client_ip}"),
    }
}

fn too_many(class: RouteClass, wait: Duration) -> ApiError {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let api = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "too many {} requests from this client; retry in {seconds} s",
            class.name().replace('_', " ")
        ),
    );
    match HeaderValue::from_str(&seconds.to_string()) {
        Ok(value) => api.with_header(header::RETRY_AFTER, value),
        Err(_) => api,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_routes() {
        use http::Method;
        assert_eq!(
            RouteClass::of(&Method::GET, "/{code}"),
            Some(RouteClass::Redirect)
        );
        assert_eq!(
            RouteClass::of(&Method::HEAD, "/{code}"),
            Some(RouteClass::Redirect)
        );
        assert_eq!(
            RouteClass::of(&Method::POST, "/api/links"),
            Some(RouteClass::Create)
        );
        assert_eq!(RouteClass::of(&Method::GET, "/api/links"), None);
        assert_eq!(RouteClass::of(&Method::GET, "/healthz"), None);
    }

    #[test]
    fn clients_are_keys_or_addresses() {
        let ip: IpAddr = "203.0.113.9".parse().expect("ip");
        assert_eq!(client_key(&HeaderMap::new(), ip), "ip-203.0.113.9");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer ly_secret"),
        );
        let key = client_key(&headers, ip);
        assert!(key.starts_with("key-") && !key.contains("secret"), "{key}");
    }

    #[test]
    fn retry_after_rounds_up() {
        let error = too_many(RouteClass::Create, Duration::from_millis(1500));
        assert_eq!(error.status, StatusCode::TOO_MANY_REQUESTS);
        let retry = error
            .headers
            .iter()
            .find(|(name, _)| name == header::RETRY_AFTER);
        assert_eq!(
            retry.map(|(_, value)| value.clone()),
            Some(HeaderValue::from_static("2"))
        );
    }
}
