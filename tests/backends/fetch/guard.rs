//! The address guard end to end. Each block must happen before any connection: the tests aim
//! at a listener on 127.0.0.1 that counts connections, and a control fetch with the allowlist
//! shows that the same URL does reach it.

use super::server::{Reply, TestServer};
use super::{config, fetch_err, fetch_ok, fetcher_with, guarded_fetcher, ip, local_fetcher, url};
use linkyard::backends::fetch::{
    BlockedAddress, FetchError, Fetcher, StaticResolver, SystemResolver,
};
use url::Url;

/// Returns the guard's decision inside a `blocked_address` error and panics on other errors.
fn blocked(error: &FetchError) -> &BlockedAddress {
    match error {
        FetchError::BlockedAddress { blocked, .. } => blocked,
        other => panic!("not a blocked address error: {other:?}"),
    }
}

/// Asserts that `target` is blocked as `address` and that `server` saw no connection.
async fn assert_blocked(fetcher: &Fetcher, target: &Url, address: &str, server: &TestServer) {
    let error = fetch_err(fetcher, target).await;
    assert_eq!(error.code(), "blocked_address", "{target}: {error}");
    assert_eq!(blocked(&error).address, ip(address), "{target}");
    assert!(!error.is_retryable(), "{target}");
    assert_eq!(server.connections(), 0, "{target} reached the listener");
}

#[tokio::test]
async fn loopback_forms_blocked_before_connecting() {
    let server = TestServer::reachable().await;
    let forms = [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("0.0.0.0", "0.0.0.0"),
        ("0", "0.0.0.0"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("[::ffff:7f00:1]", "::ffff:127.0.0.1"),
    ];
    let guarded = guarded_fetcher(StaticResolver::new());
    for (host, address) in forms {
        let target = server.url_with_host(host, "/");
        assert_blocked(&guarded, &target, address, &server).await;
    }

    // Control: the loopback form reaches the listener once the allowlist admits it.
    let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
    assert_eq!(page.status, 200);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn unspecified_address_blocked() {
    // On Linux a connection to 0.0.0.0 goes to the local host, which makes it an SSRF vector.
    let server = TestServer::reachable().await;
    let guarded = guarded_fetcher(StaticResolver::new());
    assert_blocked(
        &guarded,
        &server.url_with_host("0.0.0.0", "/"),
        "0.0.0.0",
        &server,
    )
    .await;

    let allowed = fetcher_with(config(&["0.0.0.0/32"]), StaticResolver::new());
    let page = fetch_ok(&allowed, &server.url_with_host("0.0.0.0", "/")).await;
    assert_eq!(page.status, 200);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn ipv6_special_addresses_blocked() {
    let server = TestServer::reachable().await;
    let guarded = guarded_fetcher(StaticResolver::new());
    let forms = [
        ("[::1]", "::1"),
        ("[64:ff9b::7f00:1]", "64:ff9b::7f00:1"),
        ("[64:ff9b::a00:1]", "64:ff9b::a00:1"),
        ("[64:ff9b:1::1]", "64:ff9b:1::1"),
        ("[::127.0.0.1]", "::127.0.0.1"),
        ("[2002:7f00:1::1]", "2002:7f00:1::1"),
        ("[2001::1]", "2001::1"),
        ("[fd00::1]", "fd00::1"),
        ("[fe80::1]", "fe80::1"),
        ("[fec0::1]", "fec0::1"),
    ];
    for (host, address) in forms {
        let target = server.url_with_host(host, "/");
        assert_blocked(&guarded, &target, address, &server).await;
    }
}

#[tokio::test]
async fn private_literals_blocked() {
    let server = TestServer::reachable().await;
    let guarded = guarded_fetcher(StaticResolver::new());
    let addresses = [
        ("10.0.0.1", "10.0.0.0/8"),
        ("172.16.0.1", "172.16.0.0/12"),
        ("192.168.1.1", "192.168.0.0/16"),
        ("169.254.1.1", "169.254.0.0/16"),
        ("100.64.0.1", "100.64.0.0/10"),
        ("198.18.0.1", "198.18.0.0/15"),
        ("192.0.2.1", "192.0.2.0/24"),
        ("224.0.0.1", "224.0.0.0/4"),
        ("255.255.255.255", "255.255.255.255/32"),
        ("240.0.0.1", "240.0.0.0/4"),
    ];
    for (address, range) in addresses {
        let target = server.url_with_host(address, "/");
        let error = fetch_err(&guarded, &target).await;
        let decision = blocked(&error);
        assert_eq!(decision.host, address);
        assert_eq!(decision.address, ip(address));
        assert_eq!(decision.reason.range.to_string(), range, "{target}");
    }
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn private_name_answers_blocked() {
    let server = TestServer::reachable().await;
    let resolver = StaticResolver::new()
        .with("evil.test", &[ip("10.0.0.1")])
        .with("link-local.test", &[ip("169.254.1.1")])
        .with("cgnat.test", &[ip("100.100.100.100")])
        .with("loop.test", &[ip("127.0.0.1")])
        .with("mapped.test", &[ip("::ffff:127.0.0.1")])
        .with("mixed.test", &[ip("93.184.215.14"), ip("127.0.0.1")]);
    let guarded = guarded_fetcher(resolver);

    let cases = [
        ("evil.test", "10.0.0.1"),
        ("link-local.test", "169.254.1.1"),
        ("cgnat.test", "100.100.100.100"),
        ("loop.test", "127.0.0.1"),
        ("mapped.test", "::ffff:127.0.0.1"),
        ("mixed.test", "127.0.0.1"),
    ];
    for (host, address) in cases {
        let target = server.url_with_host(host, "/");
        let error = fetch_err(&guarded, &target).await;
        let decision = blocked(&error);
        assert_eq!(decision.host, host);
        assert_eq!(decision.address, ip(address), "{target}");
        let message = error.to_string();
        assert!(
            message.contains(host) && message.contains(address),
            "{message}"
        );
    }
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn localhost_via_system_resolver_blocked() {
    let server = TestServer::reachable().await;
    let guarded = fetcher_with(config(&[]), SystemResolver);
    let error = fetch_err(&guarded, &server.url_with_host("localhost", "/")).await;
    assert_eq!(error.code(), "blocked_address", "{error}");
    let address = blocked(&error).address;
    assert!(address.is_loopback(), "{address}");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn allowlist_admits_site_by_network_or_name() {
    let server = TestServer::reachable().await;
    let resolver = || StaticResolver::new().with("site.test", &[ip("127.0.0.1")]);
    let target = server.url_with_host("site.test", "/");

    let blocked_error = fetch_err(&guarded_fetcher(resolver()), &target).await;
    assert_eq!(blocked_error.code(), "blocked_address");
    assert_eq!(server.connections(), 0);

    let by_network = fetcher_with(config(&["127.0.0.1/32"]), resolver());
    assert_eq!(fetch_ok(&by_network, &target).await.status, 200);
    let by_name = fetcher_with(config(&["site.test"]), resolver());
    assert_eq!(fetch_ok(&by_name, &target).await.status, 200);
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn allowed_name_does_not_admit_its_literal_address() {
    let server = TestServer::reachable().await;
    let fetcher = fetcher_with(
        config(&["site.test"]),
        StaticResolver::new().with("site.test", &[ip("127.0.0.1")]),
    );
    let error = fetch_err(&fetcher, &server.url("/")).await;
    assert_eq!(error.code(), "blocked_address");
    assert_eq!(server.connections(), 0);
}

/// Starts a server for the allowed `site.test` that redirects every request to `location`.
async fn redirecting_site(location: String) -> TestServer {
    TestServer::start(move |_| Reply::redirect(302, &location)).await
}

#[tokio::test]
async fn redirect_from_allowed_page_blocked() {
    let target = TestServer::reachable().await;
    let site = redirecting_site(target.url("/internal").to_string()).await;
    let resolver = StaticResolver::new()
        .with("site.test", &[ip("127.0.0.1")])
        .with("evil.test", &[ip("127.0.0.1")]);
    let fetcher = fetcher_with(config(&["site.test"]), resolver);

    let error = fetch_err(&fetcher, &site.url_with_host("site.test", "/")).await;
    assert_eq!(error.code(), "blocked_address", "{error}");
    assert_eq!(site.connections(), 1);
    assert_eq!(target.connections(), 0);

    let by_name =
        redirecting_site(target.url_with_host("evil.test", "/internal").to_string()).await;
    let error = fetch_err(&fetcher, &by_name.url_with_host("site.test", "/")).await;
    assert_eq!(error.code(), "blocked_address", "{error}");
    assert_eq!(by_name.connections(), 1);
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn redirect_to_private_address_blocked() {
    let site = redirecting_site("http://10.0.0.1/admin".to_owned()).await;
    let error = fetch_err(&local_fetcher(), &site.url("/")).await;
    let FetchError::BlockedAddress { url, blocked } = &error else {
        panic!("not a blocked address error: {error:?}");
    };
    assert_eq!(blocked.address, ip("10.0.0.1"));
    assert_eq!(url.as_str(), "http://10.0.0.1/admin");
}

#[tokio::test]
async fn meta_refresh_to_loopback_blocked() {
    let target = TestServer::reachable().await;
    let refresh = format!(
        r#"<meta http-equiv="refresh" content="0; url={}">"#,
        target.url_with_host("evil.test", "/")
    );
    let site = TestServer::start(move |_| Reply::html(refresh.clone())).await;
    let resolver = StaticResolver::new()
        .with("site.test", &[ip("127.0.0.1")])
        .with("evil.test", &[ip("127.0.0.1")]);
    let fetcher = fetcher_with(config(&["site.test"]), resolver);

    let error = fetch_err(&fetcher, &site.url_with_host("site.test", "/")).await;
    assert_eq!(error.code(), "blocked_address", "{error}");
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn fetch_bytes_is_guarded() {
    let server = TestServer::reachable().await;
    let guarded = guarded_fetcher(StaticResolver::new().with("evil.test", &[ip("127.0.0.1")]));
    for host in ["127.0.0.1", "evil.test", "2130706433"] {
        let target = server.url_with_host(host, "/favicon.ico");
        let error = guarded.fetch_bytes(&target, 1024).await.expect_err(host);
        assert_eq!(error.code(), "blocked_address", "{host}: {error}");
    }
    assert_eq!(server.connections(), 0);

    let redirecting = redirecting_site(server.url("/favicon.ico").to_string()).await;
    let fetcher = fetcher_with(
        config(&["site.test"]),
        StaticResolver::new().with("site.test", &[ip("127.0.0.1")]),
    );
    let target = redirecting.url_with_host("site.test", "/icon");
    let error = fetcher
        .fetch_bytes(&target, 1024)
        .await
        .expect_err("redirect");
    assert_eq!(error.code(), "blocked_address", "{error}");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn non_http_schemes_and_credentials_rejected() {
    let fetcher = local_fetcher();
    for target in [
        "ftp://example.com/",
        "file:///etc/passwd",
        "data:text/html,hi",
    ] {
        let error = fetch_err(&fetcher, &url(target)).await;
        assert_eq!(error.code(), "unsupported_scheme", "{target}");
    }
    let error = fetch_err(&fetcher, &url("http://user:pw@example.com/")).await;
    assert_eq!(error.code(), "invalid_url");

    let site = redirecting_site("file:///etc/passwd".to_owned()).await;
    let error = fetch_err(&fetcher, &site.url("/")).await;
    assert_eq!(error.code(), "unsupported_scheme", "{error}");
}
