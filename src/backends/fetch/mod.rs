//! The page fetcher of bookmark enrichment. Users name the URLs, so every request passes the
//! address guard: each hop's host is resolved once, only public addresses (or allowlisted ones)
//! reach the connector, and redirects are followed by hand so each hop is checked again.
//!
//! `guard.rs`, `ranges.rs` and `allow.rs` decide which addresses may be reached, and
//! `resolver.rs` hands reqwest only checked addresses. `target.rs` and `redirect.rs` check URLs
//! and redirect chains, and `refresh.rs` finds meta refreshes. `body.rs` reads bodies up to a
//! limit. `media.rs`, `charset.rs` and `prescan.rs` decide whether a body is text and how to
//! decode it.

mod allow;
mod body;
mod charset;
mod config;
mod enrichment;
mod error;
mod guard;
mod media;
mod page;
mod prescan;
mod ranges;
mod redirect;
mod refresh;
mod resolver;
mod target;

pub use allow::{Allowlist, InvalidAllowEntry};
pub use charset::{DecodedText, EncodingSource};
pub use config::{DEFAULT_USER_AGENT, FetcherConfig, FetcherConfigError};
pub use error::{ErrorPage, FetchError};
pub use guard::{AddressPolicy, BlockedAddress};
pub use page::{FetchedBytes, FetchedPage, PageContent};
pub use ranges::{NonPublic, non_public_range};
pub use redirect::{Redirect, RedirectKind};
pub use refresh::MAX_REFRESH_DELAY_SECS;
pub use resolver::{HostResolver, StaticResolver, SystemResolver};

use body::read_capped;
use charset::DecodeHints;
use chrono::Utc;
use http::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use media::{DocumentKind, MediaType};
use redirect::{RedirectChain, location_target};
use reqwest::Response;
use resolver::GuardedResolver;
use std::future::Future;
use std::sync::Arc;
use url::Url;

const ACCEPT_PAGE: &str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";
const ACCEPT_ANY: &str = "*/*";

/// Fetches pages, favicons and images behind the address guard. Cloning is cheap and clones
/// share one connection pool.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
    config: Arc<FetcherConfig>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Fetcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A response that ended a redirect chain, before its body is read.
struct FinalResponse {
    response: Response,
    media: Option<MediaType>,
}

impl Fetcher {
    /// Builds a fetcher that resolves names with `resolver`.
    pub fn new(
        config: FetcherConfig,
        resolver: Arc<dyn HostResolver>,
    ) -> Result<Self, FetcherConfigError> {
        config.validate()?;
        let policy = Arc::new(AddressPolicy::new(config.allow.clone()));
        let guarded = GuardedResolver::new(resolver, Arc::clone(&policy));
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent.as_str())
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve and connect on our behalf, past the guard.
            .no_proxy()
            .dns_resolver(Arc::new(guarded))
            .referer(false)
            .gzip(true)
            .deflate(true)
            .brotli(true)
            .build()
            .map_err(FetcherConfigError::Client)?;
        Ok(Self {
            client,
            policy,
            config: Arc::new(config),
        })
    }

    /// Builds a fetcher that resolves names with the operating system's resolver.
    pub fn with_system_resolver(config: FetcherConfig) -> Result<Self, FetcherConfigError> {
        Self::new(config, Arc::new(SystemResolver))
    }

    pub fn config(&self) -> &FetcherConfig {
        &self.config
    }

    /// Fetches the page at `url`, following HTTP redirects and short meta refreshes, and
    /// decodes its body when it is text. A final status of 400 or more is a
    /// [`FetchError::HttpStatus`] that keeps an HTML body.
    pub async fn fetch_page(&self, url: &Url) -> Result<FetchedPage, FetchError> {
        self.within_total_timeout(url, self.fetch_page_unbounded(url))
            .await
    }

    /// Fetches the raw body at `url`, such as a favicon or an image, following HTTP redirects.
    /// A body over `max_bytes` after decompression is [`FetchError::BodyTooLarge`].
    pub async fn fetch_bytes(
        &self,
        url: &Url,
        max_bytes: usize,
    ) -> Result<FetchedBytes, FetchError> {
        self.within_total_timeout(url, self.fetch_bytes_unbounded(url, max_bytes))
            .await
    }

    async fn within_total_timeout<T>(
        &self,
        url: &Url,
        fetch: impl Future<Output = Result<T, FetchError>>,
    ) -> Result<T, FetchError> {
        let timeout = self.config.total_timeout;
        tokio::time::timeout(timeout, fetch)
            .await
            .unwrap_or_else(|_| {
                Err(FetchError::Timeout {
                    url: url.clone(),
                    timeout,
                })
            })
    }

    async fn fetch_page_unbounded(&self, url: &Url) -> Result<FetchedPage, FetchError> {
        let mut chain = RedirectChain::start(url, self.config.max_redirects)?;
        loop {
            let last = self.follow_http_redirects(&mut chain, ACCEPT_PAGE).await?;
            let status = last.response.status();
            let content_type = last.media.as_ref().map(|media| media.essence.clone());
            let content = self.read_page_content(last, chain.current()).await?;

            let refresh_target = content
                .html()
                .and_then(|html| refresh::meta_refresh_target(&html.text, chain.current()));
            match refresh_target {
                Some(target) => chain.follow(target, RedirectKind::MetaRefresh)?,
                None => {
                    return Ok(FetchedPage {
                        final_url: chain.current().clone(),
                        status,
                        content_type,
                        content,
                        redirects: chain.into_redirects(),
                    });
                }
            }
        }
    }

    async fn fetch_bytes_unbounded(
        &self,
        url: &Url,
        max_bytes: usize,
    ) -> Result<FetchedBytes, FetchError> {
        let mut chain = RedirectChain::start(url, self.config.max_redirects)?;
        let FinalResponse {
            mut response,
            media,
        } = self.follow_http_redirects(&mut chain, ACCEPT_ANY).await?;
        let final_url = chain.current().clone();

        let too_large = || FetchError::BodyTooLarge {
            url: final_url.clone(),
            max_bytes,
        };
        if response
            .content_length()
            .is_some_and(|length| length > max_bytes as u64)
        {
            return Err(too_large());
        }
        let body = read_capped(&mut response, max_bytes)
            .await
            .map_err(|error| self.request_error(&final_url, error))?;
        if body.truncated {
            return Err(too_large());
        }

        Ok(FetchedBytes {
            content_type: media.map(|media| media.essence),
            bytes: body.bytes.into(),
            final_url,
        })
    }

    /// Sends requests along the chain until a response is not a redirect. A status of 400 or
    /// more becomes an error here.
    async fn follow_http_redirects(
        &self,
        chain: &mut RedirectChain,
        accept: &'static str,
    ) -> Result<FinalResponse, FetchError> {
        loop {
            let response = self.send(chain.current(), accept).await?;
            match location_target(&response, chain.current()) {
                Some(target) => {
                    chain.follow(target?, RedirectKind::Http(response.status()))?;
                }
                None => {
                    let media = media_type(&response);
                    if response.status().as_u16() >= 400 {
                        let url = chain.current();
                        return Err(self.error_page(response, media, url).await);
                    }
                    return Ok(FinalResponse { response, media });
                }
            }
        }
    }

    /// Sends one GET request. IP-literal hosts are checked here because connectors do not
    /// resolve them, while domain names are checked by the resolver.
    async fn send(&self, url: &Url, accept: &'static str) -> Result<Response, FetchError> {
        self.policy
            .check_literal_host(url)
            .map_err(|blocked| FetchError::blocked(url, blocked))?;
        tracing::debug!(host = url.host_str(), "fetching");
        self.client
            .get(url.clone())
            .header(ACCEPT, accept)
            .send()
            .await
            .map_err(|error| self.request_error(url, error))
    }

    async fn read_page_content(
        &self,
        last: FinalResponse,
        url: &Url,
    ) -> Result<PageContent, FetchError> {
        let FinalResponse {
            mut response,
            media,
        } = last;
        let declared = media.as_ref().map(MediaType::document_kind);
        if declared == Some(DocumentKind::Binary) {
            let content_length = response.content_length();
            return Ok(PageContent::Binary { content_length });
        }

        let body = read_capped(&mut response, self.config.max_body_bytes)
            .await
            .map_err(|error| self.request_error(url, error))?;
        let kind = declared.unwrap_or_else(|| media::sniff(&body.bytes));
        let hints = DecodeHints {
            kind,
            header_charset: media.as_ref().and_then(|media| media.charset.as_deref()),
            host: url.host_str(),
            truncated: body.truncated,
        };
        Ok(match kind {
            DocumentKind::Html => PageContent::Html(charset::decode(&body.bytes, hints)),
            DocumentKind::Text => PageContent::Text(charset::decode(&body.bytes, hints)),
            DocumentKind::Binary => PageContent::Binary {
                content_length: Some(body.bytes.len() as u64),
            },
        })
    }

    /// Builds the error for a status of 400 or more, reading the body when it is HTML because
    /// bot walls and outage pages are worth classifying.
    async fn error_page(
        &self,
        mut response: Response,
        media: Option<MediaType>,
        url: &Url,
    ) -> FetchError {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| error::parse_retry_after(value, Utc::now()));

        let is_html = media
            .as_ref()
            .is_some_and(|media| media.document_kind() == DocumentKind::Html);
        let mut html = None;
        if is_html {
            // The status is the error, so a body that fails to arrive only loses the page text.
            match read_capped(&mut response, self.config.max_body_bytes).await {
                Ok(body) => {
                    let hints = DecodeHints {
                        kind: DocumentKind::Html,
                        header_charset: media.as_ref().and_then(|media| media.charset.as_deref()),
                        host: url.host_str(),
                        truncated: body.truncated,
                    };
                    html = Some(charset::decode(&body.bytes, hints).text);
                }
                Err(error) => {
                    tracing::debug!(%status, error = %error, "reading an error page failed");
                }
            }
        }

        FetchError::HttpStatus(Box::new(ErrorPage {
            url: url.clone(),
            status,
            content_type: media.map(|media| media.essence),
            html,
            retry_after,
        }))
    }

    fn request_error(&self, url: &Url, error: reqwest::Error) -> FetchError {
        FetchError::from_reqwest(url, error, self.config.connect_timeout)
    }
}

/// Decodes a saved HTML file as a browser would without HTTP headers: a byte order mark, then a
/// `<meta charset>`, then a guess steered by the top-level domain of `host`.
pub fn decode_html_file(bytes: &[u8], host: Option<&str>) -> DecodedText {
    let hints = DecodeHints {
        kind: DocumentKind::Html,
        header_charset: None,
        host,
        truncated: false,
    };
    charset::decode(bytes, hints)
}

fn media_type(response: &Response) -> Option<MediaType> {
    let value = response.headers().get(CONTENT_TYPE)?;
    MediaType::parse(&String::from_utf8_lossy(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn fetch_futures_are_send() {
        // The enrichment worker runs fetches on tokio tasks, which need Send futures.
        let fetcher = Fetcher::new(FetcherConfig::default(), Arc::new(StaticResolver::new()))
            .expect("fetcher builds");
        let url = Url::parse("https://example.com/").expect("URL parses");
        let page = fetcher.fetch_page(&url);
        assert_send(&page);
        let bytes = fetcher.fetch_bytes(&url, 1024);
        assert_send(&bytes);
    }

    #[test]
    fn invalid_config_is_rejected() {
        let config = FetcherConfig {
            max_body_bytes: 0,
            ..FetcherConfig::default()
        };
        let error = Fetcher::with_system_resolver(config).expect_err("zero limit");
        assert_eq!(
            error.to_string(),
            "fetcher.max_body_bytes is 0; set it to at least 1"
        );
    }
}
