//! `FetchError`: why a fetch failed, with a stable snake_case code and whether a later attempt
//! may succeed.

use super::guard::BlockedAddress;
use chrono::{DateTime, Utc};
use http::StatusCode;
use std::error::Error as StdError;
use std::time::Duration;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("blocked {url}: {blocked}")]
    BlockedAddress {
        url: Url,
        blocked: Box<BlockedAddress>,
    },
    #[error("URL '{url}' is invalid: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("URL '{url}' has the scheme '{scheme}'; only http and https are fetched")]
    UnsupportedScheme { url: Url, scheme: String },
    #[error("fetching {url} followed {max} redirects without reaching a page")]
    TooManyRedirects { url: Url, max: usize },
    #[error("redirects lead back to {url}, which was already fetched")]
    RedirectLoop { url: Url },
    #[error("connecting to {url} timed out after {}ms", timeout.as_millis())]
    ConnectTimeout { url: Url, timeout: Duration },
    #[error("fetching {url} timed out after {}ms", timeout.as_millis())]
    Timeout { url: Url, timeout: Duration },
    #[error("the body of {url} is larger than the maximum of {max_bytes} bytes")]
    BodyTooLarge { url: Url, max_bytes: usize },
    #[error("{} returned HTTP {}", .0.url, .0.status)]
    HttpStatus(Box<ErrorPage>),
    #[error("fetching {url} failed: {message}")]
    Network { url: Url, message: String },
    #[error("the body of {url} could not be decoded: {message}")]
    Decode { url: Url, message: String },
}

/// A response with a status of 400 or more. A 403 or 503 is often a bot wall whose page is
/// worth classifying, so an HTML body is kept.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub url: Url,
    pub status: StatusCode,
    /// The media type without parameters, such as `text/html`.
    pub content_type: Option<String>,
    /// The decoded body when the response is HTML, cut at the body size limit.
    pub html: Option<String>,
    /// The server's `Retry-After`, as a delay from when the response arrived.
    pub retry_after: Option<Duration>,
}

impl FetchError {
    /// Returns the stable snake_case code for logs, metrics and the bookmark's `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BlockedAddress { .. } => "blocked_address",
            Self::InvalidUrl { .. } => "invalid_url",
            Self::UnsupportedScheme { .. } => "unsupported_scheme",
            Self::TooManyRedirects { .. } => "too_many_redirects",
            Self::RedirectLoop { .. } => "redirect_loop",
            Self::ConnectTimeout { .. } => "connect_timeout",
            Self::Timeout { .. } => "timeout",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::HttpStatus(_) => "http_status",
            Self::Network { .. } => "network",
            Self::Decode { .. } => "decode",
        }
    }

    /// Whether a later attempt may succeed: timeouts, network failures, and the statuses 403,
    /// 429 and 5xx, which bot walls and overloaded servers return.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::ConnectTimeout { .. } | Self::Timeout { .. } | Self::Network { .. } => true,
            Self::HttpStatus(page) => {
                let status = page.status;
                status == StatusCode::FORBIDDEN
                    || status == StatusCode::TOO_MANY_REQUESTS
                    || status.is_server_error()
            }
            _ => false,
        }
    }

    /// Returns the HTTP status of a [`FetchError::HttpStatus`] error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::HttpStatus(page) => Some(page.status),
            _ => None,
        }
    }

    pub(super) fn invalid_url(url: impl ToString, reason: impl ToString) -> Self {
        Self::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        }
    }

    pub(super) fn blocked(url: &Url, blocked: BlockedAddress) -> Self {
        tracing::warn!(
            host = %blocked.host,
            address = %blocked.address,
            range = %blocked.reason.range,
            "fetch target is not a public address"
        );
        Self::BlockedAddress {
            url: url.clone(),
            blocked: Box::new(blocked),
        }
    }

    /// Classifies a reqwest error from sending a request to `url` or reading its body.
    pub(super) fn from_reqwest(
        url: &Url,
        error: reqwest::Error,
        connect_timeout: Duration,
    ) -> Self {
        if let Some(blocked) = find_source::<BlockedAddress>(&error) {
            return Self::blocked(url, blocked.clone());
        }
        let url = url.clone();
        if error.is_connect() && error.is_timeout() {
            return Self::ConnectTimeout {
                url,
                timeout: connect_timeout,
            };
        }
        let message = error_chain(&error);
        if error.is_decode() {
            return Self::Decode { url, message };
        }
        Self::Network { url, message }
    }
}

/// Finds the first error of type `E` in `error`'s source chain.
fn find_source<'a, E: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

/// Joins the messages of `error` and its sources with ": ", skipping repeats.
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let message = error.to_string();
        if messages.last().is_none_or(|last| !last.contains(&message)) {
            messages.push(message);
        }
        current = error.source();
    }
    messages.join(": ")
}

/// Parses `Retry-After` as delay-seconds or as an HTTP date (RFC 9110, section 10.2.3).
pub(super) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    let delay = date.with_timezone(&Utc) - now;
    Some(delay.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_page(status: u16) -> FetchError {
        FetchError::HttpStatus(Box::new(ErrorPage {
            url: Url::parse("https://example.com/").expect("URL"),
            status: StatusCode::from_u16(status).expect("status"),
            content_type: None,
            html: None,
            retry_after: None,
        }))
    }

    #[test]
    fn retryable_statuses() {
        for status in [403, 429, 500, 502, 503, 504] {
            assert!(error_page(status).is_retryable(), "{status}");
        }
        for status in [400, 401, 404, 410, 451] {
            assert!(!error_page(status).is_retryable(), "{status}");
        }
    }

    #[test]
    fn http_status_message_and_code() {
        let error = error_page(503);
        assert_eq!(error.code(), "http_status");
        assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(
            error.to_string(),
            "https://example.com/ returned HTTP 503 Service Unavailable"
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .expect("date")
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
