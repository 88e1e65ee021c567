//! Error statuses, bot-wall pages, and binary content.

use super::server::{Reply, TestServer};
use super::{fetch_err, fetch_ok, local_fetcher};
use encoding_rs::WINDOWS_1252;
use linkyard::backends::fetch::{ErrorPage, FetchError, PageContent};
use std::time::Duration;

const CHALLENGE: &str = "<!DOCTYPE html><html><head><title>Just a moment...</title></head>\
    <body><h1>Checking your browser before accessing the site</h1>\
    <p>Vérification en cours…</p></body></html>";

fn error_page(error: &FetchError) -> &ErrorPage {
    match error {
        FetchError::HttpStatus(page) => page,
        other => panic!("not http_status: {other:?}"),
    }
}

#[tokio::test]
async fn forbidden_challenge_page_is_kept() {
    let (bytes, _, _) = WINDOWS_1252.encode(CHALLENGE);
    let body = bytes.into_owned();
    let server = TestServer::start(move |_| {
        Reply::new(403, "text/html; charset=windows-1252", body.clone())
    })
    .await;
    let error = fetch_err(&local_fetcher(), &server.url("/article")).await;
    assert_eq!(error.code(), "http_status");
    assert_eq!(error.status().map(|status| status.as_u16()), Some(403));
    assert!(error.is_retryable());

    let page = error_page(&error);
    assert_eq!(page.url, server.url("/article"));
    assert_eq!(page.content_type.as_deref(), Some("text/html"));
    assert_eq!(page.html.as_deref(), Some(CHALLENGE));
}

#[tokio::test]
async fn unavailable_page_carries_retry_after() {
    let server = TestServer::start(|_| {
        Reply::new(503, "text/html", "<title>Down for maintenance</title>")
            .with_header("Retry-After", "120")
    })
    .await;
    let error = fetch_err(&local_fetcher(), &server.url("/")).await;
    assert!(error.is_retryable());
    let page = error_page(&error);
    assert_eq!(page.status, 503);
    assert_eq!(page.retry_after, Some(Duration::from_secs(120)));
    assert!(
        page.html
            .as_deref()
            .is_some_and(|html| html.contains("maintenance"))
    );
}

#[tokio::test]
async fn error_after_redirect_names_final_url() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/old" => Reply::redirect(301, "/new"),
        _ => Reply::new(429, "text/html", "<title>Too many requests</title>"),
    })
    .await;
    let error = fetch_err(&local_fetcher(), &server.url("/old")).await;
    assert!(error.is_retryable());
    assert_eq!(error_page(&error).url, server.url("/new"));
}

#[tokio::test]
async fn client_errors_are_final() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/gone" => Reply::new(410, "application/json", r#"{"error":"gone"}"#),
        _ => Reply::new(404, "text/html", "<title>Not found</title>"),
    })
    .await;
    let missing = fetch_err(&local_fetcher(), &server.url("/missing")).await;
    assert!(!missing.is_retryable());
    assert_eq!(error_page(&missing).status, 404);
    assert!(error_page(&missing).html.is_some());

    let gone = fetch_err(&local_fetcher(), &server.url("/gone")).await;
    assert!(!gone.is_retryable());
    assert_eq!(error_page(&gone).html, None);
}

#[tokio::test]
async fn declared_binary_is_not_decoded() {
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
    let server = TestServer::start(move |request| match request.path.as_str() {
        "/doc.pdf" => Reply::new(
            200,
            "application/pdf",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3".to_vec(),
        ),
        _ => Reply::new(200, "image/png", png.clone()),
    })
    .await;

    let page = fetch_ok(&local_fetcher(), &server.url("/image.png")).await;
    assert_eq!(page.content_type.as_deref(), Some("image/png"));
    let PageContent::Binary { content_length } = page.content else {
        panic!("not binary: {:?}", page.content);
    };
    assert_eq!(content_length, Some(16));

    let pdf = fetch_ok(&local_fetcher(), &server.url("/doc.pdf")).await;
    assert_eq!(pdf.content_type.as_deref(), Some("application/pdf"));
    assert!(matches!(pdf.content, PageContent::Binary { .. }));
    assert!(pdf.content.text().is_none());
}

#[tokio::test]
async fn untyped_binary_is_sniffed() {
    let server =
        TestServer::start(|_| Reply::untyped(b"GIF89a\x01\x00\x01\x00\x00\x00".to_vec())).await;
    let page = fetch_ok(&local_fetcher(), &server.url("/pixel")).await;
    assert_eq!(page.content_type, None);
    assert!(matches!(
        page.content,
        PageContent::Binary {
            content_length: Some(12)
        }
    ));
}

#[tokio::test]
async fn fetch_bytes_follows_redirects() {
    let icon = vec![0u8, 0, 1, 0, 1, 0, 16, 16];
    let expected = icon.clone();
    let server = TestServer::start(move |request| match request.path.as_str() {
        "/favicon.ico" => Reply::redirect(302, "/static/icon.ico"),
        _ => Reply::new(200, "image/x-icon", icon.clone()),
    })
    .await;
    let fetched = local_fetcher()
        .fetch_bytes(&server.url("/favicon.ico"), 1024)
        .await
        .expect("icon");
    assert_eq!(fetched.final_url, server.url("/static/icon.ico"));
    assert_eq!(fetched.content_type.as_deref(), Some("image/x-icon"));
    assert_eq!(fetched.bytes.as_ref(), expected.as_slice());
}

#[tokio::test]
async fn fetch_bytes_error_status() {
    let server = TestServer::start(|_| Reply::new(404, "text/plain", "no icon")).await;
    let error = local_fetcher()
        .fetch_bytes(&server.url("/favicon.ico"), 1024)
        .await
        .expect_err("missing");
    assert_eq!(error.status().map(|status| status.as_u16()), Some(404));
    assert!(!error.is_retryable());
}
