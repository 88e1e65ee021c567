//! QR codes of short links: decodable images of the short URL, option checks, caching.

use crate::helpers::{Db, TestApp, error_code, on_both_databases, spawn_app};
use crate::support::eventually;
use serde_json::{Value, json};
use std::time::Duration;

on_both_databases!(
    png_encodes_the_short_url,
    svg_is_valid_and_scalable,
    options_are_validated,
    etag_and_not_modified,
    new_links_are_prerendered,
    deleted_link_serves_no_qr,
);

fn decode_png(bytes: &[u8]) -> String {
    let image = image::load_from_memory(bytes)
        .expect("a PNG image")
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    let (_, text) = grids[0].decode().expect("the code decodes");
    text
}

async fn link_code(app: &TestApp) -> String {
    let link = app
        .create_link(None, json!({ "url": "https://example.com/target" }))
        .await;
    link["code"].as_str().expect("code").to_owned()
}

async fn png_encodes_the_short_url(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let code = link_code(&app).await;
    let short_url = app.url(&format!("/{code}"));
    let cases = [
        "",
        "?size=64",
        "?size=2048&margin=0",
        "?ecl=L",
        "?ecl=q&margin=16&size=512",
        "?ecl=H",
        "?fg=1a2b3c&bg=ffffff",
        "?fg=%23000&bg=%23eeffee",
    ];
    for query in cases {
        let response = app
            .get(&format!("/api/links/{code}/qr.png{query}"), None)
            .await;
        assert_eq!(response.status(), 200, "{query}");
        assert_eq!(response.headers()["content-type"], "image/png");
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let bytes = response.bytes().await.expect("body");
        assert_eq!(decode_png(&bytes), short_url, "{query}");
    }

    // The image encodes the short URL, so changing the target changes nothing.
    let key = app.create_user("qr@example.com").await;
    let owned = app
        .create_link(
            Some(&key),
            json!({ "url": "https://example.com/a", "alias": "qr-owned" }),
        )
        .await;
    let before = app
        .get("/api/links/qr-owned/qr.png", None)
        .await
        .bytes()
        .await
        .expect("body");
    app.patch_json(
        "/api/links/qr-owned",
        Some(&key),
        &json!({ "url": "https://example.com/b" }),
    )
    .await;
    let after = app
        .get("/api/links/qr-owned/qr.png", None)
        .await
        .bytes()
        .await
        .expect("body");
    assert_eq!(before, after);
    assert_eq!(
        decode_png(&after),
        owned["short_url"].as_str().expect("short url")
    );
    app.shutdown().await;
}

async fn svg_is_valid_and_scalable(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let code = link_code(&app).await;
    let response = app
        .get(&format!("/api/links/{code}/qr.svg?size=300"), None)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("default-src 'none'")
    );
    let text = response.text().await.expect("body");

    let mut reader = quick_xml::Reader::from_str(&text);
    let mut root = None;
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(element) | quick_xml::events::Event::Empty(element)
                if root.is_none() =>
            {
                root = Some(element.into_owned());
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    let root = root.expect("a root element");
    assert_eq!(root.name().0, "svg");
    let view_box = root
        .try_get_attribute("viewBox")
        .expect("attributes")
        .expect("a viewBox");
    assert_eq!(view_box.value, "0 0 300 300");
    app.shutdown().await;
}

async fn options_are_validated(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let code = link_code(&app).await;
    let cases = [
        ("size=10", "invalid_qr_option", "size"),
        ("size=big", "invalid_qr_option", "size"),
        ("margin=99", "invalid_qr_option", "margin"),
        ("ecl=X", "invalid_qr_option", "ecl"),
        ("fg=zzz", "invalid_qr_option", "fg"),
        ("fg=777777&bg=888888", "qr_contrast_too_low", "fg"),
        ("fg=ffffff&bg=000000", "qr_colors_inverted", "fg"),
        ("colour=red", "unknown_qr_option", "colour"),
    ];
    for (query, expected, field) in cases {
        let response = app
            .get(&format!("/api/links/{code}/qr.png?{query}"), None)
            .await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], expected, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(field), "{query}: {message}");
    }
    app.shutdown().await;
}

async fn etag_and_not_modified(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let code = link_code(&app).await;
    let path = format!("/api/links/{code}/qr.png?size=128");
    let first = app.get(&path, None).await;
    let tag = first.headers()["etag"].clone();
    assert!(tag.to_str().expect("etag").starts_with('"'));
    let body = first.bytes().await.expect("body");

    let again = app.get(&path, None).await;
    assert_eq!(again.headers()["etag"], tag);
    assert_eq!(
        again.bytes().await.expect("body"),
        body,
        "the same options give the same bytes"
    );

    let revalidated = app
        .client
        .get(app.url(&path))
        .header("if-none-match", tag.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(revalidated.status(), 304);
    assert_eq!(revalidated.headers()["etag"], tag);
    assert!(revalidated.bytes().await.expect("body").is_empty());

    let other = app
        .get(&format!("/api/links/{code}/qr.png?size=129"), None)
        .await;
    assert_ne!(other.headers()["etag"], tag);
    app.shutdown().await;
}

async fn new_links_are_prerendered(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let code = link_code(&app).await;
    let state = app.application().state();
    let qr = state.qr.clone();

    // The default PNG reaches the blob store through the job queue, not through a request.
    let short_url = app.url(&format!("/{code}"));
    let options = linkyard_actors::qr::QrOptions::default();
    let format = linkyard_actors::qr::QrFormat::Png;
    let key = linkyard_actors::qr::blob_key(
        &linkyard_actors::qr::cache_key(&short_url, &options, format),
        format,
    );
    let stored = eventually(Duration::from_secs(10), || async {
        state.blobs.exists(&key).await.ok().filter(|stored| *stored)
    })
    .await;
    assert!(stored.is_some(), "the pre-render job stored the image");
    let renders = qr.stats().renders;

    let response = app.get(&format!("/api/links/{code}/qr.png"), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        qr.stats().renders,
        renders,
        "the first request is a cache hit"
    );
    app.shutdown().await;
}

async fn deleted_link_serves_no_qr(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let key = app.create_user("gone@example.com").await;
    app.create_link(
        Some(&key),
        json!({ "url": "https://example.com/", "alias": "soon-gone" }),
    )
    .await;
    assert_eq!(
        app.get("/api/links/soon-gone/qr.png", None).await.status(),
        200
    );
    assert_eq!(
        app.delete("/api/links/soon-gone", Some(&key))
            .await
            .status(),
        204
    );
    let response = app.get("/api/links/soon-gone/qr.svg", None).await;
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(response).await, "link_not_found");
    assert_eq!(
        app.get("/api/links/zzzzzzz/qr.png", None).await.status(),
        404
    );
    app.shutdown().await;
}
