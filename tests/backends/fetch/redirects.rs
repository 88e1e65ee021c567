//! Redirect chains: HTTP statuses, relative locations, the hop limit, loops and meta refresh.

use super::server::{Reply, TestServer};
use super::{config, fetch_err, fetch_ok, fetcher_with, html_text, local_fetcher};
use http::StatusCode;
use linkyard::backends::fetch::{FetchError, RedirectKind, StaticResolver};

fn http(status: u16) -> RedirectKind {
    RedirectKind::Http(StatusCode::from_u16(status).expect("status"))
}

#[tokio::test]
async fn chain_of_every_redirect_status_is_followed() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/a" => Reply::redirect(301, "/b"),
        "/b" => Reply::redirect(302, "c"),
        "/c" => Reply::redirect(303, "/d?x=1"),
        "/d?x=1" => Reply::redirect(307, "/e"),
        "/e" => Reply::redirect(308, "/final"),
        "/final" => Reply::html("<title>final</title>"),
        _ => Reply::new(404, "text/plain", "missing"),
    })
    .await;

    let page = fetch_ok(&local_fetcher(), &server.url("/a")).await;
    assert_eq!(page.final_url, server.url("/final"));
    assert_eq!(page.status, 200);
    assert!(html_text(&page).contains("final"));
    let kinds: Vec<RedirectKind> = page.redirects.iter().map(|hop| hop.kind).collect();
    assert_eq!(
        kinds,
        [http(301), http(302), http(303), http(307), http(308)]
    );
    assert_eq!(page.redirects[0].from, server.url("/a"));
    assert_eq!(page.redirects[2].to, server.url("/d?x=1"));
    assert_eq!(server.paths(), ["/a", "/b", "/c", "/d?x=1", "/e", "/final"]);
}

#[tokio::test]
async fn redirect_across_hosts_keeps_fragment() {
    let target = TestServer::start(|_| Reply::html("<title>other</title>")).await;
    let location = target.url_with_host("other.test", "/landing").to_string();
    let site = TestServer::start(move |_| Reply::redirect(302, &location)).await;
    let resolver = StaticResolver::new().with("other.test", &[super::ip("127.0.0.1")]);
    let fetcher = fetcher_with(config(&["127.0.0.1/32"]), resolver);

    let mut start = site.url("/start");
    start.set_fragment(Some("section"));
    let page = fetch_ok(&fetcher, &start).await;
    assert_eq!(page.final_url.host_str(), Some("other.test"));
    assert_eq!(page.final_url.path(), "/landing");
    assert_eq!(page.final_url.fragment(), Some("section"));
}

/// Starts a server where `/N` redirects to `/N+1` up to `/last`, which is a page.
async fn numbered_chain(last: u32) -> TestServer {
    TestServer::start(move |request| {
        let number: u32 = request.path.trim_start_matches('/').parse().unwrap_or(0);
        if number < last {
            Reply::redirect(302, &format!("/{}", number + 1))
        } else {
            Reply::html("<title>end</title>")
        }
    })
    .await
}

#[tokio::test]
async fn hop_limit_allows_exactly_max() {
    let server = numbered_chain(3).await;
    let fetcher = fetcher_with(
        super::FetcherConfig {
            max_redirects: 3,
            ..config(&["127.0.0.1/32"])
        },
        StaticResolver::new(),
    );
    let page = fetch_ok(&fetcher, &server.url("/0")).await;
    assert_eq!(page.redirects.len(), 3);
    assert_eq!(page.final_url, server.url("/3"));
}

#[tokio::test]
async fn over_hop_limit_fails_without_extra_request() {
    let server = numbered_chain(11).await;
    let error = fetch_err(&local_fetcher(), &server.url("/0")).await;
    let FetchError::TooManyRedirects { url, max } = &error else {
        panic!("not too_many_redirects: {error:?}");
    };
    assert_eq!(*max, 10);
    assert_eq!(*url, server.url("/0"));
    assert!(!error.is_retryable());
    // Eleven responses were read, ten redirects followed, and the eleventh never fetched.
    assert_eq!(server.paths().len(), 11);
}

#[tokio::test]
async fn loop_is_detected() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/a" => Reply::redirect(302, "/b"),
        _ => Reply::redirect(302, "/a#again"),
    })
    .await;
    let error = fetch_err(&local_fetcher(), &server.url("/a")).await;
    let FetchError::RedirectLoop { url } = &error else {
        panic!("not redirect_loop: {error:?}");
    };
    assert_eq!(url.path(), "/a");
    assert_eq!(server.paths(), ["/a", "/b"]);
}

#[tokio::test]
async fn self_redirect_is_a_loop() {
    let server = TestServer::start(|_| Reply::redirect(301, "/same")).await;
    let error = fetch_err(&local_fetcher(), &server.url("/same")).await;
    assert_eq!(error.code(), "redirect_loop");
    assert_eq!(server.paths(), ["/same"]);
}

#[tokio::test]
async fn redirect_without_location_is_final() {
    let server = TestServer::start(|_| Reply::new(302, "text/html", "<p>no location</p>")).await;
    let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
    assert_eq!(page.status, 302);
    assert!(page.redirects.is_empty());
    assert!(html_text(&page).contains("no location"));
}

#[tokio::test]
async fn unparseable_location_is_invalid_url() {
    let server = TestServer::start(|_| Reply::redirect(302, "http://[::1")).await;
    let error = fetch_err(&local_fetcher(), &server.url("/")).await;
    assert_eq!(error.code(), "invalid_url", "{error}");
}

#[tokio::test]
async fn meta_refresh_is_followed() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/start" => Reply::html(
            r#"<html><head><meta http-equiv="refresh" content="0; URL='/moved'"></head></html>"#,
        ),
        "/moved" => Reply::html("<title>moved here</title>"),
        _ => Reply::new(404, "text/plain", "missing"),
    })
    .await;
    let page = fetch_ok(&local_fetcher(), &server.url("/start")).await;
    assert_eq!(page.final_url, server.url("/moved"));
    assert!(html_text(&page).contains("moved here"));
    assert_eq!(page.redirects.len(), 1);
    assert_eq!(page.redirects[0].kind, RedirectKind::MetaRefresh);
}

#[tokio::test]
async fn slow_meta_refresh_is_a_page() {
    let server = TestServer::start(|_| {
        Reply::html(r#"<meta http-equiv="refresh" content="60; url=/later"><title>stay</title>"#)
    })
    .await;
    let page = fetch_ok(&local_fetcher(), &server.url("/start")).await;
    assert_eq!(page.final_url, server.url("/start"));
    assert!(page.redirects.is_empty());
    assert_eq!(server.paths(), ["/start"]);
}

#[tokio::test]
async fn meta_refresh_counts_toward_hop_limit() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/a" => Reply::redirect(302, "/b"),
        "/b" => Reply::html(r#"<meta http-equiv="refresh" content="0;url=/c">"#),
        _ => Reply::html("<title>c</title>"),
    })
    .await;
    let fetcher = fetcher_with(
        super::FetcherConfig {
            max_redirects: 1,
            ..config(&["127.0.0.1/32"])
        },
        StaticResolver::new(),
    );
    let error = fetch_err(&fetcher, &server.url("/a")).await;
    assert_eq!(error.code(), "too_many_redirects");
    assert_eq!(server.paths(), ["/a", "/b"]);
}

#[tokio::test]
async fn meta_refresh_loop_is_detected() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/a" => Reply::html(r#"<meta http-equiv="refresh" content="0;url=/b">"#),
        _ => Reply::html(r#"<meta http-equiv="refresh" content="1;url=/a">"#),
    })
    .await;
    let error = fetch_err(&local_fetcher(), &server.url("/a")).await;
    assert_eq!(error.code(), "redirect_loop");
    assert_eq!(server.paths(), ["/a", "/b"]);
}
