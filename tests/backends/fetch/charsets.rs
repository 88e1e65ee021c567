//! Pages in legacy encodings, declared in the header, in `<meta>`, by a byte order mark, or not
//! at all.

use super::server::{Reply, TestServer};
use super::{config, fetch_ok, fetcher_with, html_text, ip, local_fetcher};
use encoding_rs::{EUC_KR, GBK, SHIFT_JIS, WINDOWS_1252};
use linkyard::backends::fetch::{EncodingSource, FetchedPage, PageContent, StaticResolver};

const FRENCH: &str = "<html><head><title>Café crème</title></head><body><p>« Déjà vu », \
    dit-elle en français : l'été à Noël, où ça ? Un garçon très ému reçoit ses élèves \
    à l'école, près de la forêt où l'on a gardé des bœufs.</p></body></html>";

const JAPANESE: &str = "<html><head><title>日本語のページ</title></head><body><p>\
    これは文字コードの宣言がない日本語のページです。ブラウザはバイト列から推測します。\
    東京都の天気は晴れ、明日は雨が降るでしょう。</p></body></html>";

/// Serves `body` at every path with the given `Content-Type`.
async fn serve(content_type: &'static str, body: Vec<u8>) -> TestServer {
    TestServer::start(move |_| Reply::new(200, content_type, body.clone())).await
}

fn assert_decoded(page: &FetchedPage, expected: &str, encoding: &str, source: EncodingSource) {
    let PageContent::Html(decoded) = &page.content else {
        panic!("not HTML: {:?}", page.content);
    };
    assert_eq!(decoded.text, expected);
    assert_eq!(decoded.encoding, encoding);
    assert_eq!(decoded.encoding_source, source);
    assert!(!decoded.truncated);
}

#[tokio::test]
async fn windows_1252_declared_in_header() {
    let (bytes, _, _) = WINDOWS_1252.encode(FRENCH);
    let server = serve("text/html; charset=windows-1252", bytes.into_owned()).await;
    let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
    assert_decoded(&page, FRENCH, "windows-1252", EncodingSource::ContentType);
    assert_eq!(page.content_type.as_deref(), Some("text/html"));
}

#[tokio::test]
async fn shift_jis_declared_in_header() {
    let (bytes, _, _) = SHIFT_JIS.encode(JAPANESE);
    let server = serve("text/html;charset=\"Shift_JIS\"", bytes.into_owned()).await;
    let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
    assert_decoded(&page, JAPANESE, "Shift_JIS", EncodingSource::ContentType);
}

#[tokio::test]
async fn meta_charset_only() {
    let html = FRENCH.replace("<head>", "<head><meta charset=\"windows-1252\">");
    let (bytes, _, _) = WINDOWS_1252.encode(&html);
    let server = serve("text/html", bytes.into_owned()).await;
    let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
    assert_decoded(&page, &html, "windows-1252", EncodingSource::MetaPrescan);
}

#[tokio::test]
async fn meta_http_equiv_only() {
    let html = JAPANESE.replace(
        "<head>",
        "<head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=shift_jis\">",
    );
    let (bytes, _, _) = SHIFT_JIS.encode(&html);
    let server = serve("text/html", bytes.into_owned()).await;
    let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
    assert_decoded(&page, &html, "Shift_JIS", EncodingSource::MetaPrescan);
}

#[tokio::test]
async fn gbk_meta_after_other_tags() {
    let html = "<!DOCTYPE html><html lang=\"zh\"><head><link rel=\"stylesheet\" href=\"a>b.css\">\
        <meta charset=gb2312><title>中文网页标题</title></head><body>简体中文内容</body></html>";
    let (bytes, _, _) = GBK.encode(html);
    let server = serve("text/html", bytes.into_owned()).await;
    let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
    assert_decoded(&page, html, "GBK", EncodingSource::MetaPrescan);
}

#[tokio::test]
async fn header_wins_over_meta() {
    let html = FRENCH.replace("<head>", "<head><meta charset=\"utf-8\">");
    let (bytes, _, _) = WINDOWS_1252.encode(&html);
    let server = serve("text/html; charset=iso-8859-1", bytes.into_owned()).await;
    let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
    assert_decoded(&page, &html, "windows-1252", EncodingSource::ContentType);
}

#[tokio::test]
async fn undeclared_shift_jis_is_sniffed() {
    let (bytes, _, _) = SHIFT_JIS.encode(JAPANESE);
    let server = serve("text/html", bytes.into_owned()).await;
    let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
    assert_decoded(&page, JAPANESE, "Shift_JIS", EncodingSource::Sniffed);
}

#[tokio::test]
async fn undeclared_windows_1252_is_sniffed() {
    let (bytes, _, _) = WINDOWS_1252.encode(FRENCH);
    let server = serve("text/html", bytes.into_owned()).await;
    let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
    assert_decoded(&page, FRENCH, "windows-1252", EncodingSource::Sniffed);
}

#[tokio::test]
async fn undeclared_korean_on_kr_host_is_sniffed() {
    let html = "<html><head><title>한국어 웹 페이지</title></head><body><p>이 페이지는 문자 \
        인코딩 선언이 없는 한국어 페이지입니다. 브라우저는 바이트를 보고 추측합니다.</p></body></html>";
    let (bytes, _, _) = EUC_KR.encode(html);
    let server = serve("text/html", bytes.into_owned()).await;
    let fetcher = fetcher_with(
        config(&["127.0.0.1/32"]),
        StaticResolver::new().with("news.example.kr", &[ip("127.0.0.1")]),
    );
    let page = fetch_ok(&fetcher, &server.url_with_host("news.example.kr", "/")).await;
    assert_decoded(&page, html, "EUC-KR", EncodingSource::Sniffed);
}

#[tokio::test]
async fn utf8_bom_wins_over_header() {
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend_from_slice(FRENCH.as_bytes());
    let server = serve("text/html; charset=windows-1252", bytes).await;
    let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
    assert_decoded(&page, FRENCH, "UTF-8", EncodingSource::ByteOrderMark);
}

#[tokio::test]
async fn utf16_bom_page() {
    let mut bytes = vec![0xff, 0xfe];
    for unit in JAPANESE.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let server = serve("text/html", bytes).await;
    let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
    assert_decoded(&page, JAPANESE, "UTF-16LE", EncodingSource::ByteOrderMark);
}

#[tokio::test]
async fn untyped_html_is_sniffed_and_decoded() {
    let (bytes, _, _) = WINDOWS_1252.encode(FRENCH);
    let server = TestServer::start(move |_| Reply::untyped(bytes.clone())).await;
    let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
    assert_eq!(page.content_type, None);
    assert_eq!(html_text(&page), FRENCH);
}

#[tokio::test]
async fn plain_text_ignores_meta() {
    let text = "<meta charset=shift_jis> is how a page declares Shift_JIS. Ünïcödé text.";
    let server = serve("text/plain", text.as_bytes().to_vec()).await;
    let page = fetch_ok(&local_fetcher(), &server.url("/")).await;
    let PageContent::Text(decoded) = &page.content else {
        panic!("not text: {:?}", page.content);
    };
    assert_eq!(decoded.text, text);
    assert_eq!(decoded.encoding, "UTF-8");
}
