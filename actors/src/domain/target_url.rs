//! Link targets: the long URLs that short links redirect to.

use url::Url;

/// The default maximum length of a target URL, in bytes of the serialized form.
pub const DEFAULT_MAX_URL_BYTES: usize = 8 * 1024;

/// A validated target URL: WHATWG-parsed, http or https, without userinfo, with an ASCII
/// (punycode) host that is not one of this service's own hosts. The serialized form keeps
/// existing `%XX` escapes byte for byte and keeps the fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl(Url);

/// The rules a target URL is checked against.
#[derive(Debug, Clone)]
pub struct UrlPolicy {
    /// Lower-case host names without a trailing dot that links must not point to.
    own_hosts: Vec<String>,
    max_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("url is empty; send an absolute http or https URL")]
    Empty,
    #[error("url is {bytes} bytes long; the maximum is {max} bytes")]
    TooLong { bytes: usize, max: usize },
    #[error("url '{input}' is not a valid absolute URL: {reason}")]
    Invalid { input: String, reason: String },
    #[error("url scheme '{scheme}' is not allowed; use http or https")]
    SchemeNotAllowed { scheme: String },
    #[error("url '{input}' contains a user name or password, which is not allowed")]
    UserinfoNotAllowed { input: String },
    #[error("url host '{host}' is this service; a short link cannot point to another short link")]
    OwnHost { host: String },
}

impl UrlError {
    /// Stable error code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "url_empty",
            Self::TooLong { .. } => "url_too_long",
            Self::Invalid { .. } => "url_invalid",
            Self::SchemeNotAllowed { .. } => "url_scheme_not_allowed",
            Self::UserinfoNotAllowed { .. } => "url_userinfo_not_allowed",
            Self::OwnHost { .. } => "url_own_host",
        }
    }
}

impl UrlPolicy {
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(own_hosts: I, max_bytes: usize) -> Self {
        let own_hosts = own_hosts.into_iter().map(|h| normalize_host(h.as_ref())).collect();
        Self {
            own_hosts,
            max_bytes,
        }
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Whether `host` (any case, with or without a trailing dot) is one of this service's hosts.
    pub fn is_own_host(&self, host: &str) -> bool {
        let host = normalize_host(host);
        self.own_hosts.contains(&host)
    }
}

fn normalize_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl TargetUrl {
    /// Parses and checks `input`. The scheme is checked on the parsed URL, so leading spaces,
    /// embedded tabs and mixed case (`JavaScript:`) cannot hide a scheme from the check.
    pub fn parse(input: &str, policy: &UrlPolicy) -> Result<Self, UrlError> {
        if input.trim().is_empty() {
            return Err(UrlError::Empty);
        }
        if input.len() > policy.max_bytes {
            return Err(too_long(input.len(), policy));
        }

        let url = Url::parse(input).map_err(|error| UrlError::Invalid {
            input: shorten(input),
            reason: error.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UrlError::SchemeNotAllowed {
                scheme: url.scheme().to_owned(),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::UserinfoNotAllowed {
                input: shorten(input),
            });
        }
        let host = url.host_str().unwrap_or_default();
        if policy.is_own_host(host) {
            return Err(UrlError::OwnHost {
                host: host.to_owned(),
            });
        }
        // Punycode and percent-encoding can make the serialized form longer than the input.
        if url.as_str().len() > policy.max_bytes {
            return Err(too_long(url.as_str().len(), policy));
        }
        Ok(Self(url))
    }

    /// Wraps a URL that was validated before it was stored.
    pub fn from_stored(url: Url) -> Self {
        Self(url)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// Returns the redirect target with `query` (the raw query of the incoming request, without
    /// `?`) appended to the target's own query, before any fragment. Escapes already in either
    /// part are kept as they are.
    pub fn with_forwarded_query(&self, query: &str) -> String {
        if query.is_empty() {
            return self.0.as_str().to_owned();
        }
        let mut url = self.0.clone();
        let combined = match url.query() {
            Some(own) if !own.is_empty() => format!("{own}&{query}"),
            _ => query.to_owned(),
        };
        url.set_query(Some(&combined));
        url.into()
    }
}

fn too_long(bytes: usize, policy: &UrlPolicy) -> UrlError {
    UrlError::TooLong {
        bytes,
        max: policy.max_bytes,
    }
}

/// Shortens a value for an error message so that a rejected 8 KiB URL does not fill the response.
fn shorten(input: &str) -> String {
    const MAX_CHARS: usize = 200;
    if input.chars().count() <= MAX_CHARS {
        return input.to_owned();
    }
    let head: String = input.chars().take(MAX_CHARS).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> UrlPolicy {
        UrlPolicy::new(["sho.rt", "127.0.0.1"], DEFAULT_MAX_URL_BYTES)
    }

    fn parse(input: &str) -> Result<String, &'static str> {
        TargetUrl::parse(input, &policy())
            .map(|url| url.as_str().to_owned())
            .map_err(|error| error.code())
    }

    #[test]
    fn keeps_valid_urls_exactly() {
        let cases = [
            ("https://example.com/a%2Fb?q=%41#frag", "https://example.com/a%2Fb?q=%41#frag"),
            ("https://example.com/a%2fb", "https://example.com/a%2fb"),
            ("http://example.com", "http://example.com/"),
            ("  https://example.com/x", "https://example.com/x"),
            ("https://example.com/a b", "https://example.com/a%20b"),
            ("HTTPS://EXAMPLE.COM/Path", "https://example.com/Path"),
            ("https://example.com:443/x", "https://example.com/x"),
            ("https://bücher.example/straße", "https://xn--bcher-kva.example/stra%C3%9Fe"),
            ("https://example.com/%zz", "https://example.com/%zz"),
        ];
        for (input, stored) in cases {
            assert_eq!(parse(input), Ok(stored.to_owned()), "{input}");
        }
    }

    #[test]
    fn rejects_each_rule_with_its_code() {
        let cases = [
            ("", "url_empty"),
            ("   ", "url_empty"),
            ("not a url", "url_invalid"),
            ("/relative/path", "url_invalid"),
            ("http://", "url_invalid"),
            ("javascript:alert(1)", "url_scheme_not_allowed"),
            ("JavaScript:alert(1)", "url_scheme_not_allowed"),
            (" javascript:alert(1)", "url_scheme_not_allowed"),
            ("java\tscript:alert(1)", "url_scheme_not_allowed"),
            ("data:text/html,hi", "url_scheme_not_allowed"),
            ("ftp://example.com/", "url_scheme_not_allowed"),
            ("https://user:pw@example.com/", "url_userinfo_not_allowed"),
            ("https://user@example.com/", "url_userinfo_not_allowed"),
            ("https://SHO.RT/abc", "url_own_host"),
            ("https://sho.rt./abc", "url_own_host"),
            ("https://sho.rt:443/abc", "url_own_host"),
            ("http://0x7f.0.0.1/abc", "url_own_host"),
        ];
        for (input, code) in cases {
            assert_eq!(parse(input), Err(code), "{input:?}");
        }
    }

    #[test]
    fn enforces_maximum_length() {
        let path = "a".repeat(DEFAULT_MAX_URL_BYTES);
        assert_eq!(parse(&format!("https://example.com/{path}")), Err("url_too_long"));
        let fits = "a".repeat(DEFAULT_MAX_URL_BYTES - "https://example.com/".len());
        assert!(parse(&format!("https://example.com/{fits}")).is_ok());
    }

    #[test]
    fn forwards_query_before_fragment() {
        let target = TargetUrl::parse("https://example.com/p?a=1#top", &policy()).expect("valid");
        assert_eq!(target.with_forwarded_query("b=%20x"), "https://example.com/p?a=1&b=%20x#top");
        assert_eq!(target.with_forwarded_query(""), "https://example.com/p?a=1#top");

        let bare = TargetUrl::parse("https://example.com/p#top", &policy()).expect("valid");
        assert_eq!(bare.with_forwarded_query("b=2"), "https://example.com/p?b=2#top");

        let empty_query = TargetUrl::parse("https://example.com/p?", &policy()).expect("valid");
        assert_eq!(empty_query.with_forwarded_query("b=2"), "https://example.com/p?b=2");
    }

    proptest! {
        #[test]
        fn accepted_urls_reparse_to_themselves(input in "(https?|ftp|javascript)://[a-z0-9.:@%/?#&= -]{0,60}") {
            if let Ok(url) = TargetUrl::parse(&input, &policy()) {
                let again = TargetUrl::parse(url.as_str(), &policy()).map(|u| u.as_str().to_owned());
                prop_assert_eq!(again, Ok(url.as_str().to_owned()));
            }
        }
    }
}
