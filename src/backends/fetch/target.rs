//! The check of a URL before any address is looked at: only http and https URLs with a host
//! and without credentials are fetched.

use super::error::FetchError;
use url::Url;

/// Checks the scheme, the host and the absence of a user name or password. Credentials are
/// rejected because reqwest would send them as `Authorization: Basic` to whatever host a user
/// or a redirect names.
// NOTE: ports are not restricted. A public host may be fetched on any port, including ones
// that browsers block for non-HTTP services, such as 25 (SMTP).
pub(super) fn check_fetchable(url: &Url) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::UnsupportedScheme {
            url: url.clone(),
            scheme: url.scheme().to_owned(),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(FetchError::invalid_url(url, "it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // The error ends up in logs and in the bookmark, so the password is left out of it.
        let mut redacted = url.clone();
        let _ = redacted.set_password(None);
        return Err(FetchError::invalid_url(
            redacted,
            "it contains a user name or password, which the fetcher does not send",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<(), &'static str> {
        let url = Url::parse(text).expect("test URL parses");
        check_fetchable(&url).map_err(|error| error.code())
    }

    #[test]
    fn http_and_https_pass() {
        assert_eq!(check("http://example.com/"), Ok(()));
        assert_eq!(check("https://example.com:8443/a?b#c"), Ok(()));
    }

    #[test]
    fn other_schemes_are_unsupported() {
        for text in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "data:text/plain,x",
            "gopher://x/",
        ] {
            assert_eq!(check(text), Err("unsupported_scheme"), "{text}");
        }
    }

    #[test]
    fn credentials_are_invalid() {
        assert_eq!(check("http://user@example.com/"), Err("invalid_url"));
        assert_eq!(check("http://user:secret@example.com/"), Err("invalid_url"));
        assert_eq!(check("http://:secret@example.com/"), Err("invalid_url"));
    }

    #[test]
    fn password_is_left_out_of_the_error() {
        let url = Url::parse("http://user:secret@example.com/").expect("test URL parses");
        let error = check_fetchable(&url).expect_err("credentials");
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
