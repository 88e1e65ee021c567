//! The page fetcher against local servers: the address guard end to end, redirects, charsets,
//! size and time limits, and error statuses.

mod charsets;
mod guard;
mod limits;
mod redirects;
mod server;
mod statuses;

use linkyard::backends::fetch::{
    Allowlist, FetchError, FetchedPage, Fetcher, FetcherConfig, HostResolver, StaticResolver,
};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Builds a configuration with generous deadlines for a loaded test machine and the given allowlist.
pub fn config(allow: &[&str]) -> FetcherConfig {
    FetcherConfig {
        connect_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_secs(30),
        allow: Allowlist::parse(allow).expect("test allowlist parses"),
        ..FetcherConfig::default()
    }
}

pub fn fetcher_with(config: FetcherConfig, resolver: impl HostResolver) -> Fetcher {
    Fetcher::new(config, Arc::new(resolver)).expect("fetcher builds")
}

/// Builds a fetcher that may reach the test servers on 127.0.0.1 and nothing else that is not public.
pub fn local_fetcher() -> Fetcher {
    fetcher_with(config(&["127.0.0.1/32"]), StaticResolver::new())
}

/// Builds a fetcher with an empty allowlist, as in production.
pub fn guarded_fetcher(resolver: StaticResolver) -> Fetcher {
    fetcher_with(config(&[]), resolver)
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address parses")
}

pub fn url(text: &str) -> Url {
    Url::parse(text).expect("test URL parses")
}

pub async fn fetch_ok(fetcher: &Fetcher, target: &Url) -> FetchedPage {
    match fetcher.fetch_page(target).await {
        Ok(page) => page,
        Err(error) => panic!("fetching {target} failed: {} ({error})", error.code()),
    }
}

pub async fn fetch_err(fetcher: &Fetcher, target: &Url) -> FetchError {
    match fetcher.fetch_page(target).await {
        Ok(page) => panic!(
            "fetching {target} succeeded with {} but must fail",
            page.status
        ),
        Err(error) => error,
    }
}

/// Returns the decoded text of an HTML page and panics for other content.
pub fn html_text(page: &FetchedPage) -> &str {
    let html = page.content.html();
    &html
        .unwrap_or_else(|| panic!("{} is not HTML: {:?}", page.final_url, page.content))
        .text
}
