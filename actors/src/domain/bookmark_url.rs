//! Bookmark URLs and the normalized form that detects duplicates: two URLs that name the same
//! page for practical purposes normalize to the same string.
//!
//! Normalization, on top of WHATWG parsing (which already lower-cases the scheme and the host,
//! drops the default port, encodes international hosts as punycode and resolves `.` and `..`
//! path segments):
//! - the fragment is dropped, because it names a place inside the page;
//! - a trailing dot of the host is dropped;
//! - tracking parameters (`utm_*`, `fbclid`, `gclid` and the others in [`TRACKING_PARAMS`]) are
//!   removed from the query;
//! - the remaining query parameters are decoded, sorted by name and then value, and encoded
//!   again in one form (`application/x-www-form-urlencoded`), and an empty query is dropped.
//!
//! The path keeps its case and its trailing slash, because servers may treat them as different
//! resources.

use super::target_url::{TargetUrl, UrlError, UrlPolicy};
use sha2::{Digest, Sha256};
use url::Url;

/// Query parameters that only track where a click came from. Names compare ASCII
/// case-insensitively; every name starting with `utm_` is a tracking parameter too.
pub const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "yclid",
    "igshid",
    "twclid",
    "ttclid",
    "li_fat_id",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "_ga",
    "_gl",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "wickedid",
    "s_cid",
];

/// A bookmark's URL as the user gave it (validated like a link target), with its normalized
/// form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookmarkUrl {
    url: TargetUrl,
    normalized: String,
}

impl BookmarkUrl {
    /// Parses and checks `input` with the link target rules of `policy`, then normalizes it.
    pub fn parse(input: &str, policy: &UrlPolicy) -> Result<Self, UrlError> {
        let url = TargetUrl::parse(input.trim(), policy)?;
        let normalized = normalize(url.as_url());
        Ok(Self { url, normalized })
    }

    /// Returns the URL as given, after parsing.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    pub fn as_url(&self) -> &Url {
        self.url.as_url()
    }

    /// Returns the normalized form, which is the duplicate key.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// Returns the hex SHA-256 of the normalized form, which the database's unique index covers.
    pub fn normalized_hash(&self) -> String {
        hash_normalized(&self.normalized)
    }
}

/// Returns the hex SHA-256 of a normalized URL.
pub fn hash_normalized(normalized: &str) -> String {
    Sha256::digest(normalized.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Returns the normalized form of a parsed URL; see the module documentation.
pub fn normalize(url: &Url) -> String {
    let mut url = url.clone();
    url.set_fragment(None);

    if let Some(host) = url.host_str()
        && host.len() > 1
        && host.ends_with('.')
    {
        let trimmed = host.trim_end_matches('.').to_owned();
        // A host that the parser accepted stays valid without its trailing dot.
        let _ = url.set_host(Some(&trimmed));
    }

    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| !is_tracking_param(name))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        pairs.sort();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        url.set_query(Some(&query));
    }
    url.into()
}

/// Checks whether `name` is a tracking parameter: a name in [`TRACKING_PARAMS`] or one starting with
/// `utm_`, compared ASCII case-insensitively.
pub fn is_tracking_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || TRACKING_PARAMS.contains(&lower.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> UrlPolicy {
        UrlPolicy::new(Vec::<String>::new(), 8192)
    }

    fn normalized(input: &str) -> String {
        BookmarkUrl::parse(input, &policy())
            .expect("test URL is valid")
            .normalized()
            .to_owned()
    }

    #[test]
    fn scheme_host_and_default_port_are_canonical() {
        assert_eq!(
            normalized("HTTPS://Example.COM:443/Path"),
            "https://example.com/Path"
        );
        assert_eq!(normalized("http://example.com:80"), "http://example.com/");
        assert_eq!(
            normalized("http://example.com:8080/"),
            "http://example.com:8080/"
        );
        assert_eq!(
            normalized("https://example.com./a"),
            "https://example.com/a"
        );
    }

    #[test]
    fn fragment_is_dropped() {
        assert_eq!(
            normalized("https://example.com/a#section-2"),
            "https://example.com/a"
        );
        assert_eq!(
            normalized("https://example.com/a#"),
            "https://example.com/a"
        );
    }

    #[test]
    fn tracking_params_are_removed() {
        assert_eq!(
            normalized(
                "https://example.com/a?utm_source=x&UTM_Medium=y&fbclid=1&gclid=2&mc_cid=3&mc_eid=4&id=7"
            ),
            "https://example.com/a?id=7"
        );
        assert_eq!(
            normalized("https://example.com/a?utm_campaign=spring"),
            "https://example.com/a"
        );
    }

    #[test]
    fn query_is_sorted_and_reencoded() {
        assert_eq!(
            normalized("https://example.com/?b=2&a=1&a=0"),
            "https://example.com/?a=0&a=1&b=2"
        );
        assert_eq!(
            normalized("https://example.com/?q=a%20b"),
            normalized("https://example.com/?q=a+b")
        );
        assert_eq!(normalized("https://example.com/?"), "https://example.com/");
    }

    #[test]
    fn path_case_and_trailing_slash_are_kept() {
        assert_ne!(
            normalized("https://example.com/Docs/"),
            normalized("https://example.com/docs/")
        );
        assert_ne!(
            normalized("https://example.com/docs/"),
            normalized("https://example.com/docs")
        );
    }

    #[test]
    fn given_url_is_kept_next_to_normalized() {
        let url = BookmarkUrl::parse(" https://Example.com/a?utm_source=x#top ", &policy())
            .expect("valid");
        assert_eq!(url.as_str(), "https://example.com/a?utm_source=x#top");
        assert_eq!(url.normalized(), "https://example.com/a");
        assert_eq!(url.normalized_hash().len(), 64);
    }

    #[test]
    fn invalid_urls_keep_link_error_codes() {
        let cases = [
            ("", "url_empty"),
            ("ftp://example.com/", "url_scheme_not_allowed"),
            ("https://user:pw@example.com/", "url_userinfo_not_allowed"),
            ("not a url", "url_invalid"),
        ];
        for (input, code) in cases {
            let error = BookmarkUrl::parse(input, &policy()).expect_err(input);
            assert_eq!(error.code(), code, "{input}");
        }
    }

    fn url_strategy() -> impl Strategy<Value = String> {
        let scheme = prop_oneof![Just("http"), Just("https"), Just("HTTP")];
        let host = "[a-zA-Z0-9]{1,8}(\\.[a-zA-Z]{2,5}){0,2}\\.?";
        let port = prop::option::of(prop_oneof![Just(80u16), Just(443u16), 1u16..65535]);
        let path = "(/[a-zA-Z0-9._~%+-]{0,6}){0,4}";
        let query = prop::option::of("[a-zA-Z0-9_=&%+.;-]{0,24}");
        let fragment = prop::option::of("[a-zA-Z0-9#?/-]{0,8}");
        (scheme, host, port, path, query, fragment).prop_map(
            |(scheme, host, port, path, query, fragment)| {
                let mut url = format!("{scheme}://{host}");
                if let Some(port) = port {
                    url.push_str(&format!(":{port}"));
                }
                url.push_str(&path);
                if let Some(query) = query {
                    url.push('?');
                    url.push_str(&query);
                }
                if let Some(fragment) = fragment {
                    url.push('#');
                    url.push_str(&fragment);
                }
                url
            },
        )
    }

    proptest! {
        #[test]
        fn normalization_is_idempotent(input in url_strategy()) {
            if let Ok(url) = BookmarkUrl::parse(&input, &policy()) {
                let once = url.normalized().to_owned();
                let again = BookmarkUrl::parse(&once, &policy()).expect("normalized URL parses");
                prop_assert_eq!(again.normalized(), once.as_str());
            }
        }

        #[test]
        fn normalization_never_panics(input in "\\PC{0,64}") {
            let _ = BookmarkUrl::parse(&input, &policy());
        }
    }
}
