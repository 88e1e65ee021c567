//! Compression, the body size limit, deadlines, the user agent and network failures.

use super::server::{Reply, TestServer};
use super::{config, fetch_err, fetch_ok, fetcher_with, html_text, local_fetcher};
use async_trait::async_trait;
use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use linkyard::backends::fetch::{
    DEFAULT_USER_AGENT, FetchError, FetcherConfig, HostResolver, PageContent, StaticResolver,
};
use std::io::Write;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const PAGE: &str = "<html><head><title>Compressed page</title></head><body>hello</body></html>";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("deflate");
    encoder.finish().expect("deflate")
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut output = Vec::new();
    {
        let mut encoder = brotli::CompressorWriter::new(&mut output, 4096, 5, 22);
        encoder.write_all(data).expect("brotli");
    }
    output
}

fn small_limits(max_body_bytes: usize) -> FetcherConfig {
    FetcherConfig {
        max_body_bytes,
        ..config(&["127.0.0.1/32"])
    }
}

type Encoder = fn(&[u8]) -> Vec<u8>;

#[tokio::test]
async fn compressed_bodies_are_decoded() {
    let encodings: [(&str, Encoder); 3] = [("gzip", gzip), ("deflate", zlib), ("br", brotli)];
    for (name, encode) in encodings {
        let body = encode(PAGE.as_bytes());
        let server = TestServer::start(move |_| {
            Reply::new(200, "text/html; charset=utf-8", body.clone())
                .with_header("Content-Encoding", name)
        })
        .await;
        let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
        assert_eq!(html_text(&page), PAGE, "{name}");

        let request = &server.requests()[0];
        let accepted = request.header("Accept-Encoding").unwrap_or_default();
        for token in ["gzip", "deflate", "br"] {
            assert!(
                accepted.contains(token),
                "Accept-Encoding '{accepted}' lacks {token}"
            );
        }
    }
}

#[tokio::test]
async fn gzip_bomb_stops_at_limit() {
    const LIMIT: usize = 1024 * 1024;
    let size = 100 * 1024 * 1024;
    let server = TestServer::start(move |_| Reply::GzipZeros { size: Some(size) }).await;
    let fetcher = fetcher_with(small_limits(LIMIT), StaticResolver::new());

    let page = fetch_ok(&fetcher, &server.url("/bomb")).await;
    let PageContent::Html(decoded) = &page.content else {
        panic!("not HTML: {:?}", page.content);
    };
    assert!(decoded.truncated);
    assert_eq!(decoded.text.len(), LIMIT);

    let error = fetcher
        .fetch_bytes(&server.url("/bomb"), LIMIT)
        .await
        .expect_err("over the limit");
    let FetchError::BodyTooLarge { max_bytes, .. } = error else {
        panic!("not body_too_large: {error:?}");
    };
    assert_eq!(max_bytes, LIMIT);
}

#[tokio::test]
async fn endless_gzip_stream_stops_at_limit() {
    // Were the body inflated to its end, this fetch could only end at the total deadline.
    const LIMIT: usize = 256 * 1024;
    let server = TestServer::start(|_| Reply::GzipZeros { size: None }).await;
    let fetcher = fetcher_with(small_limits(LIMIT), StaticResolver::new());
    let page = fetch_ok(&fetcher, &server.url("/endless")).await;
    let decoded = page.content.html().expect("HTML");
    assert!(decoded.truncated);
    assert_eq!(decoded.text.len(), LIMIT);
}

#[tokio::test]
async fn gzip_zeros_under_limit_arrive_whole() {
    // One partial chunk, and several whole chunks plus a partial one, of the test server's
    // compressed stream. The gzip decoder checks the trailer's CRC and length.
    for size in [1000, 4 * 64 * 1024 + 5] {
        let server = TestServer::start(move |_| Reply::GzipZeros { size: Some(size) }).await;
        let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
        let decoded = page.content.html().expect("HTML");
        assert!(!decoded.truncated, "{size}");
        assert_eq!(decoded.text.len() as u64, size);
        assert!(decoded.text.bytes().all(|byte| byte == 0), "{size}");
    }
}

#[tokio::test]
async fn long_page_is_cut_at_limit() {
    let body = format!("<title>long</title>{}", "x".repeat(10_000));
    let server = TestServer::start(move |_| Reply::html(body.clone())).await;
    let fetcher = fetcher_with(small_limits(1000), StaticResolver::new());
    let page = fetch_ok(&fetcher, &server.url("/")).await;
    let decoded = page.content.html().expect("HTML");
    assert!(decoded.truncated);
    assert_eq!(decoded.text.len(), 1000);
    assert!(decoded.text.starts_with("<title>long</title>"));
}

#[tokio::test]
async fn fetch_bytes_over_limit_fails() {
    let server = TestServer::start(|_| Reply::new(200, "image/png", vec![7u8; 5000])).await;
    let fetcher = local_fetcher();
    let error = fetcher
        .fetch_bytes(&server.url("/big.png"), 4999)
        .await
        .expect_err("too large");
    assert_eq!(error.code(), "body_too_large");
    assert!(!error.is_retryable());

    let fetched = fetcher
        .fetch_bytes(&server.url("/big.png"), 5000)
        .await
        .expect("exactly at the limit");
    assert_eq!(fetched.bytes.len(), 5000);
}

#[tokio::test]
async fn trickling_server_hits_total_deadline() {
    let server = TestServer::start(|_| Reply::Trickle {
        body: vec![b'x'; 10_000],
        interval: Duration::from_millis(50),
    })
    .await;
    let fetcher = fetcher_with(
        FetcherConfig {
            total_timeout: Duration::from_millis(500),
            ..config(&["127.0.0.1/32"])
        },
        StaticResolver::new(),
    );
    let started = Instant::now();
    let error = fetch_err(&fetcher, &server.url("/slow")).await;
    let FetchError::Timeout { timeout, .. } = &error else {
        panic!("not timeout: {error:?}");
    };
    assert_eq!(*timeout, Duration::from_millis(500));
    assert!(error.is_retryable());
    // The body would take 500 s, and the deadline ends the fetch long before.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn silent_server_hits_total_deadline() {
    let server = TestServer::start(|_| Reply::Silent).await;
    let fetcher = fetcher_with(
        FetcherConfig {
            total_timeout: Duration::from_millis(300),
            ..config(&["127.0.0.1/32"])
        },
        StaticResolver::new(),
    );
    let error = fetch_err(&fetcher, &server.url("/")).await;
    assert_eq!(error.code(), "timeout", "{error}");
    assert_eq!(server.connections(), 1);

    let error = fetcher
        .fetch_bytes(&server.url("/icon"), 1024)
        .await
        .expect_err("silent");
    assert_eq!(error.code(), "timeout", "{error}");
}

/// A resolver that never answers, as a DNS server that drops queries.
struct HangingResolver;

#[async_trait]
impl HostResolver for HangingResolver {
    async fn resolve(&self, _host: &str) -> std::io::Result<Vec<IpAddr>> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn hanging_resolution_hits_connect_deadline() {
    let fetcher = fetcher_with(
        FetcherConfig {
            connect_timeout: Duration::from_millis(200),
            ..config(&[])
        },
        HangingResolver,
    );
    let error = fetch_err(&fetcher, &super::url("http://dns-blackhole.test/")).await;
    let FetchError::ConnectTimeout { timeout, .. } = &error else {
        panic!("not connect_timeout: {error:?}");
    };
    assert_eq!(*timeout, Duration::from_millis(200));
    assert!(error.is_retryable());
}

#[tokio::test]
async fn full_accept_queue_hits_connect_deadline() {
    // A listener with a backlog of 0 takes one connection into its queue and then drops the
    // SYN of the next, so the fetcher's TCP handshake never completes (Linux behaviour).
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("address"))
        .expect("bind");
    let listener = socket.listen(0).expect("listen");
    let address = listener.local_addr().expect("address");
    let _queued = tokio::net::TcpStream::connect(address)
        .await
        .expect("first connection");

    let fetcher = fetcher_with(
        FetcherConfig {
            connect_timeout: Duration::from_millis(300),
            ..config(&["127.0.0.1/32"])
        },
        StaticResolver::new(),
    );
    let target = super::url(&format!("http://{address}/"));
    let error = fetch_err(&fetcher, &target).await;
    assert_eq!(error.code(), "connect_timeout", "{error}");
}

#[tokio::test]
async fn refused_connection_is_retryable_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);

    let error = fetch_err(&local_fetcher(), &super::url(&format!("http://{address}/"))).await;
    assert_eq!(error.code(), "network", "{error}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn unknown_host_is_network_error() {
    let error = fetch_err(&local_fetcher(), &super::url("http://no-such-host.test/")).await;
    assert_eq!(error.code(), "network", "{error}");
    assert!(error.to_string().contains("no-such-host.test"), "{error}");
}

#[tokio::test]
async fn broken_gzip_is_decode_error() {
    let server = TestServer::start(|_| {
        Reply::new(
            200,
            "text/html",
            b"\x1f\x8b\x08\x00 definitely not gzip".to_vec(),
        )
        .with_header("Content-Encoding", "gzip")
    })
    .await;
    let error = fetch_err(&local_fetcher(), &server.url("/")).await;
    assert_eq!(error.code(), "decode", "{error}");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn user_agent_default_and_custom() {
    let server = TestServer::reachable().await;
    fetch_ok(&local_fetcher(), &server.url("/")).await;
    let custom = fetcher_with(
        FetcherConfig {
            user_agent: "examplebot/1.0 (+https://bot.example)".to_owned(),
            ..config(&["127.0.0.1/32"])
        },
        StaticResolver::new(),
    );
    fetch_ok(&custom, &server.url("/")).await;

    let agents: Vec<String> = server
        .requests()
        .iter()
        .map(|request| request.header("User-Agent").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        agents,
        [DEFAULT_USER_AGENT, "examplebot/1.0 (+https://bot.example)"]
    );
    assert!(DEFAULT_USER_AGENT.starts_with("linkyard/"));
}
