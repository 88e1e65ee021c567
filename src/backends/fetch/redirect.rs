//! Redirects, followed by hand so that every hop passes the URL and address checks again: HTTP
//! redirects (301, 302, 303, 307, 308 with a `Location`) and `<meta http-equiv="refresh">`.

use super::error::FetchError;
use super::target::check_fetchable;
use http::StatusCode;
use http::header::LOCATION;
use reqwest::Response;
use std::collections::HashSet;
use url::Url;

/// The mechanism of one redirect hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    /// An HTTP redirect with this status.
    Http(StatusCode),
    /// A `<meta http-equiv="refresh">` with a short delay.
    MetaRefresh,
}

/// One hop of a redirect chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub from: Url,
    pub to: Url,
    pub kind: RedirectKind,
}

/// The URLs of one fetch so far, with the checks each new hop must pass.
#[derive(Debug)]
pub(super) struct RedirectChain {
    start: Url,
    current: Url,
    redirects: Vec<Redirect>,
    /// Every URL fetched so far, without its fragment, for loop detection.
    visited: HashSet<String>,
    max_redirects: usize,
}

impl RedirectChain {
    /// Starts a chain at `url`, which must be fetchable.
    pub(super) fn start(url: &Url, max_redirects: usize) -> Result<Self, FetchError> {
        check_fetchable(url)?;
        Ok(Self {
            start: url.clone(),
            current: url.clone(),
            redirects: Vec::new(),
            visited: HashSet::from([without_fragment(url)]),
            max_redirects,
        })
    }

    /// Returns the URL to fetch next.
    pub(super) fn current(&self) -> &Url {
        &self.current
    }

    /// Moves to `target`, rejecting schemes other than http and https, a URL that the chain
    /// already fetched, and a hop over the limit.
    pub(super) fn follow(&mut self, target: Url, kind: RedirectKind) -> Result<(), FetchError> {
        check_fetchable(&target)?;
        if !self.visited.insert(without_fragment(&target)) {
            return Err(FetchError::RedirectLoop { url: target });
        }
        if self.redirects.len() >= self.max_redirects {
            return Err(FetchError::TooManyRedirects {
                url: self.start.clone(),
                max: self.max_redirects,
            });
        }

        tracing::debug!(
            hop = self.redirects.len() + 1,
            ?kind,
            host = target.host_str(),
            "following redirect"
        );
        let from = std::mem::replace(&mut self.current, target.clone());
        self.redirects.push(Redirect {
            from,
            to: target,
            kind,
        });
        Ok(())
    }

    pub(super) fn into_redirects(self) -> Vec<Redirect> {
        self.redirects
    }
}

/// Returns where an HTTP redirect response points, or `None` when `response` is not a redirect.
/// A redirect without a `Location` is a final response, as in browsers.
pub(super) fn location_target(
    response: &Response,
    current: &Url,
) -> Option<Result<Url, FetchError>> {
    let status = response.status();
    let is_redirect = matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308);
    let location = response.headers().get(LOCATION).filter(|_| is_redirect)?;

    // Servers send raw UTF-8 in Location now and then, which the URL parser percent-encodes.
    let location = String::from_utf8_lossy(location.as_bytes());
    Some(resolve_location(&location, current))
}

/// Resolves a `Location` value against the URL that returned it. A target without a fragment
/// keeps the current URL's fragment (WHATWG Fetch, "HTTP-redirect fetch").
pub(super) fn resolve_location(location: &str, current: &Url) -> Result<Url, FetchError> {
    let mut target = current.join(location.trim()).map_err(|error| {
        FetchError::invalid_url(
            location,
            format!("the redirect from {current} cannot be parsed: {error}"),
        )
    })?;
    if target.fragment().is_none() {
        target.set_fragment(current.fragment());
    }
    Ok(target)
}

fn without_fragment(url: &Url) -> String {
    let mut url = url.clone();
    url.set_fragment(None);
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("test URL parses")
    }

    const FOUND: RedirectKind = RedirectKind::Http(StatusCode::FOUND);

    #[test]
    fn records_each_hop() {
        let mut chain = RedirectChain::start(&url("http://a.test/"), 10).expect("start");
        chain
            .follow(url("http://b.test/"), FOUND)
            .expect("first hop");
        chain
            .follow(url("https://c.test/"), RedirectKind::MetaRefresh)
            .expect("second hop");
        assert_eq!(chain.current().as_str(), "https://c.test/");
        let hops = chain.into_redirects();
        assert_eq!(hops.len(), 2);
        assert_eq!(hops[0].from.as_str(), "http://a.test/");
        assert_eq!(hops[1].to.as_str(), "https://c.test/");
        assert_eq!(hops[1].kind, RedirectKind::MetaRefresh);
    }

    #[test]
    fn limit_allows_exactly_max_hops() {
        let mut chain = RedirectChain::start(&url("http://a.test/0"), 3).expect("start");
        for hop in 1..=3 {
            chain
                .follow(url(&format!("http://a.test/{hop}")), FOUND)
                .expect("within limit");
        }
        let error = chain
            .follow(url("http://a.test/4"), FOUND)
            .expect_err("over limit");
        assert_eq!(error.code(), "too_many_redirects");
    }

    #[test]
    fn revisit_is_a_loop() {
        let mut chain = RedirectChain::start(&url("http://a.test/"), 10).expect("start");
        chain
            .follow(url("http://b.test/"), FOUND)
            .expect("first hop");
        let error = chain
            .follow(url("http://a.test/#top"), FOUND)
            .expect_err("loop");
        assert_eq!(error.code(), "redirect_loop");
    }

    #[test]
    fn unsupported_scheme_is_rejected() {
        let mut chain = RedirectChain::start(&url("http://a.test/"), 10).expect("start");
        let error = chain
            .follow(url("file:///etc/passwd"), FOUND)
            .expect_err("file");
        assert_eq!(error.code(), "unsupported_scheme");
    }

    #[test]
    fn relative_location_keeps_fragment() {
        let current = url("http://a.test/dir/page#section");
        let target = resolve_location("../other?q=1", &current).expect("resolves");
        assert_eq!(target.as_str(), "http://a.test/other?q=1#section");
        let target = resolve_location("/x#own", &current).expect("resolves");
        assert_eq!(target.as_str(), "http://a.test/x#own");
    }

    #[test]
    fn unparseable_location_is_invalid_url() {
        let error = resolve_location("http://[::1", &url("http://a.test/")).expect_err("invalid");
        assert_eq!(error.code(), "invalid_url");
        assert!(error.to_string().contains("http://[::1"), "{error}");
    }
}
