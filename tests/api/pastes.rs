//! Pastes through the HTTP API, the raw paths and the web forms, against the filesystem blob
//! store and, when `LINKYARD_TEST_S3_*` names a server (`scripts/s3-test-server.sh start`
//! prints the variables), against S3 under a key prefix of its own.

use crate::browser::decode_base64;
use crate::helpers::{
    BROWSER, Db, TestApp, error_code, on_both_databases, s3_settings, spawn_app_with, upstream_of,
    use_s3,
};
use crate::support::eventually;
use crate::support::proxy::CuttableProxy;
use linkyard::Settings;
use linkyard_actors::db::entities::pastes;
use linkyard_actors::pastes::PasteId;
use reqwest::Response;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Filesystem,
    S3,
}

/// Declares one test per blob store for an `async fn(Store)`.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn filesystem() {
                    super::$name(super::Store::Filesystem).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn s3() {
                    super::$name(super::Store::S3).await;
                }
            }
        )*
    };
}

on_both_stores!(
    json_create_round_trips,
    raw_upload_is_byte_exact,
    invalid_input_is_rejected,
    oversize_chunked_upload_is_rejected_early,
    dropped_upload_leaves_nothing,
    expired_pastes_vanish_everywhere,
    sweeper_deletes_expired_and_orphans,
    burn_after_reading_survives_bots_and_head,
    delete_needs_token_or_owner,
    private_paste_is_owner_only,
    password_guards_content,
    web_forms_create_and_show,
    paste_qr_encodes_page_url,
);

on_both_databases!(concurrent_reveals_let_one_through);

/// Starts an application on SQLite with the given blob store. Sweeps run only when a test
/// calls one, so tests observe every state in between.
async fn spawn(store: Store, configure: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    let s3 = match store {
        Store::Filesystem => None,
        Store::S3 => Some(s3_settings()?),
    };
    spawn_app_with(Db::Sqlite, |settings| {
        settings.pastes.sweep_interval_secs = 0;
        if let Some(values) = &s3 {
            use_s3(settings, &values[0], values);
        }
        configure(settings);
    })
    .await
}

/// Deletes every object the test left in the blob store and stops the application.
async fn finish(app: TestApp) {
    let blobs = std::sync::Arc::clone(&app.application().state().blobs);
    let objects = blobs.list("", None, 10_000).await.expect("list objects");
    for object in objects {
        let _ = blobs.delete(&object.key).await;
    }
    app.shutdown().await;
}

async fn create(app: &TestApp, key: Option<&str>, body: Value) -> Value {
    let response = app.post_json("/api/pastes", key, &body).await;
    let status = response.status();
    let json: Value = response.json().await.expect("json body");
    assert_eq!(status, 201, "create failed: {json}");
    json
}

async fn create_raw(app: &TestApp, query: &str, body: Vec<u8>) -> Response {
    app.client
        .post(app.url(&format!("/{query}")))
        .body(body)
        .send()
        .await
        .expect("request sent")
}

fn id_of(paste: &Value) -> String {
    paste["id"].as_str().expect("id").to_owned()
}

async fn object_exists(app: &TestApp, id: &str) -> bool {
    let key = PasteId::parse(id).expect("paste id").blob_key();
    let blobs = &app.application().state().blobs;
    blobs.exists(&key).await.expect("blob store answers")
}

async fn row_count(app: &TestApp) -> u64 {
    pastes::Entity::find()
        .count(&app.application().state().db)
        .await
        .expect("count pastes")
}

async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = app.client.get(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request sent")
}

async fn json_create_round_trips(store: Store) {
    let Some(app) = spawn(store, |_| {}).await else {
        return;
    };
    for content in ["hello\n", "emoji 🦀✨ and 漢字", "crlf\r\nline\r\n"] {
        let paste = create(
            &app,
            None,
            json!({ "content": content, "title": "notes.md", "syntax": "rust", "expires_in": "1h" }),
        )
        .await;
        let id = id_of(&paste);
        assert_eq!(paste["size"], content.len());
        assert_eq!(paste["syntax"], "rust");
        assert_eq!(paste["visibility"], "unlisted");
        assert_eq!(paste["url"], app.url(&format!("/p/{id}")));
        assert_eq!(paste["raw_url"], app.url(&format!("/p/{id}/raw")));
        assert!(
            paste["delete_token"]
                .as_str()
                .is_some_and(|t| t.len() >= 32)
        );
        assert!(paste["expires_at"].is_string());

        let raw = app.get(&format!("/p/{id}/raw"), None).await;
        assert_eq!(raw.status(), 200);
        assert_eq!(raw.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(raw.headers()["x-content-type-options"], "nosniff");
        assert_eq!(
            raw.bytes().await.expect("body").as_ref(),
            content.as_bytes()
        );

        let meta: Value = app
            .get(&format!("/api/pastes/{id}"), None)
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(meta["content"], content);
        assert!(meta.get("delete_token").is_none());
        assert!(object_exists(&app, &id).await);
    }

    let numeric = create(&app, None, json!({ "content": "x", "expires_in": 90 })).await;
    assert!(numeric["expires_at"].is_string());
    finish(app).await;
}

async fn raw_upload_is_byte_exact(store: Store) {
    let Some(app) = spawn(store, |_| {}).await else {
        return;
    };
    let bodies: [(&str, Vec<u8>, bool); 5] = [
        ("utf-8", "plain text\n".as_bytes().to_vec(), false),
        ("emoji", "🦀 crab\n".as_bytes().to_vec(), false),
        ("crlf", b"one\r\ntwo\r\n".to_vec(), false),
        ("nul", b"a\0b".to_vec(), true),
        ("invalid utf-8", vec![0xff, 0xfe, b'a', 0xc3], true),
    ];
    for (case, body, binary) in bodies {
        let response = create_raw(&app, "?title=file.txt&expires_in=1d", body.clone()).await;
        assert_eq!(response.status(), 201, "{case}");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        let location = response.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(response.headers().contains_key("x-delete-token"), "{case}");
        let text = response.text().await.expect("body");
        assert_eq!(text.trim_end(), location, "{case}");
        let id = location.rsplit('/').next().expect("id").to_owned();

        let raw = app.get(&format!("/p/{id}/raw"), None).await;
        let headers = raw.headers().clone();
        assert_eq!(
            raw.bytes().await.expect("body").as_ref(),
            body.as_slice(),
            "{case}"
        );
        let page = app
            .get(&format!("/p/{id}"), None)
            .await
            .text()
            .await
            .expect("page");
        if binary {
            assert_eq!(
                headers["content-type"], "application/octet-stream",
                "{case}"
            );
            let disposition = headers["content-disposition"].to_str().expect("ascii");
            assert!(disposition.starts_with("attachment"), "{case}");
            assert!(page.contains("Binary content"), "{case}");
        } else {
            assert_eq!(
                headers["content-type"], "text/plain; charset=utf-8",
                "{case}"
            );
            assert!(!headers.contains_key("content-disposition"), "{case}");
            assert!(!page.contains("Binary content"), "{case}");
        }

        let meta: Value = app
            .get(&format!("/api/pastes/{id}"), None)
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(meta["binary"], binary, "{case}");
        if binary {
            assert!(meta.get("content").is_none(), "{case}");
            let encoded = meta["content_base64"].as_str().expect("base64 content");
            assert_eq!(decode_base64(encoded), body, "{case}");
        } else {
            assert_eq!(
                meta["content"].as_str().map(str::as_bytes),
                Some(body.as_slice())
            );
        }

        let download = app.get(&format!("/p/{id}/raw?download=1"), None).await;
        let disposition = download.headers()["content-disposition"]
            .to_str()
            .expect("ascii");
        assert_eq!(disposition, "attachment; filename=\"file.txt\"", "{case}");
    }
    finish(app).await;
}

async fn invalid_input_is_rejected(store: Store) {
    let Some(app) = spawn(store, |_| {}).await else {
        return;
    };
    let cases = [
        (json!({ "content": "" }), 400, "empty_paste"),
        (
            json!({ "content": "x", "expires_in": "1y" }),
            400,
            "invalid_expires_in",
        ),
        (
            json!({ "content": "x", "expires_in": 0 }),
            400,
            "invalid_expires_in",
        ),
        (
            json!({ "content": "x", "expires_in": true }),
            400,
            "invalid_expires_in",
        ),
        (
            json!({ "content": "x", "visibility": "public" }),
            400,
            "invalid_visibility",
        ),
        (
            json!({ "content": "x", "visibility": "private" }),
            400,
            "private_paste_needs_key",
        ),
        (
            json!({ "content": "x", "syntax": "no-such-language" }),
            400,
            "invalid_syntax",
        ),
        (
            json!({ "content": "x", "title": "a\u{7}b" }),
            400,
            "invalid_title",
        ),
        (
            json!({ "content": "x", "colour": "red" }),
            400,
            "invalid_field",
        ),
        (json!({ "title": "no content" }), 400, "invalid_field"),
    ];
    for (body, status, code) in cases {
        let response = app.post_json("/api/pastes", None, &body).await;
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.expect("json");
        assert_eq!(error["error"]["code"], code, "{body}");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let empty = create_raw(&app, "", Vec::new()).await;
    assert_eq!(empty.status(), 400);
    assert_eq!(error_code(empty).await, "empty_paste");
    let bad_expiry = create_raw(&app, "?expires_in=soon", b"x".to_vec()).await;
    assert_eq!(error_code(bad_expiry).await, "invalid_expires_in");

    for path in [
        "/p/nope",
        "/p/abcdefghijklm/raw",
        "/api/pastes/ABCDEFGHIJKLM",
    ] {
        assert_eq!(app.get(path, None).await.status(), 404, "{path}");
    }
    assert_eq!(row_count(&app).await, 0);
    finish(app).await;
}

/// Sends `total` bytes of a chunked upload without its last chunk and returns the response.
async fn chunked_upload(app: &TestApp, path: &str, total: usize) -> String {
    let address = app.application().local_addr();
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nTransfer-Encoding: chunked\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let chunk = vec![b'x'; 16 * 1024];
    let mut sent = 0;
    while sent < total {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if stream.write_all(&frame).await.is_err() {
            break;
        }
        sent += chunk.len();
    }
    // The body never ends, so a response can only come from the size check.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server answered before the body ended");
    String::from_utf8_lossy(&answer).into_owned()
}

async fn oversize_chunked_upload_is_rejected_early(store: Store) {
    let max = 64 * 1024;
    let Some(app) = spawn(store, |settings| settings.pastes.max_bytes = max).await else {
        return;
    };
    let answer = chunked_upload(&app, "/", max as usize + 32 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("paste_too_large"), "{answer}");

    let declared = app
        .client
        .post(app.url("/"))
        .body(vec![b'y'; max as usize + 1])
        .send()
        .await
        .expect("request sent");
    assert_eq!(declared.status(), 413);
    assert_eq!(error_code(declared).await, "paste_too_large");

    let exact = create_raw(&app, "", vec![b'z'; max as usize]).await;
    assert_eq!(exact.status(), 201);

    let json_body = json!({ "content": "w".repeat(max as usize + 1) });
    let too_large = app.post_json("/api/pastes", None, &json_body).await;
    assert_eq!(too_large.status(), 413);
    assert_eq!(error_code(too_large).await, "paste_too_large");
    assert_eq!(row_count(&app).await, 1);
    finish(app).await;
}

async fn dropped_upload_leaves_nothing(store: Store) {
    let Some(app) = spawn(store, |_| {}).await else {
        return;
    };
    let address = app.application().local_addr();
    for _ in 0..5 {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        let head = format!("POST / HTTP/1.1\r\nHost: {address}\r\nContent-Length: 1000000\r\n\r\n");
        stream.write_all(head.as_bytes()).await.expect("head");
        stream
            .write_all(&vec![b'q'; 100_000])
            .await
            .expect("part of the body");
        drop(stream);
    }

    let paste = create(&app, None, json!({ "content": "still serving" })).await;
    let raw = app.get(&format!("/p/{}/raw", id_of(&paste)), None).await;
    assert_eq!(raw.text().await.expect("body"), "still serving");
    assert_eq!(app.get("/healthz", None).await.status(), 200);
    assert_eq!(row_count(&app).await, 1);
    let objects = app
        .application()
        .state()
        .blobs
        .list("pastes/", None, 100)
        .await;
    assert_eq!(objects.expect("list").len(), 1);
    finish(app).await;
}

async fn expired_pastes_vanish_everywhere(store: Store) {
    let Some(app) = spawn(store, |settings| settings.pastes.max_expiry_secs = 3600).await else {
        return;
    };
    let paste = create(
        &app,
        None,
        json!({ "content": "short-lived", "expires_in": 2 }),
    )
    .await;
    let id = id_of(&paste);
    let paths = [
        format!("/p/{id}"),
        format!("/p/{id}/raw"),
        format!("/api/pastes/{id}"),
        format!("/api/pastes/{id}/qr.svg"),
    ];
    for path in &paths {
        assert_eq!(app.get(path, None).await.status(), 200, "{path}");
    }

    let gone = eventually(Duration::from_secs(10), || async {
        let status = app.get(&format!("/p/{id}/raw"), None).await.status();
        (status == 404).then_some(())
    })
    .await;
    assert!(gone.is_some(), "the paste did not expire");
    for path in &paths {
        assert_eq!(app.get(path, None).await.status(), 404, "{path}");
        let head = app.client.head(app.url(path)).send().await.expect("head");
        assert!(matches!(head.status().as_u16(), 404 | 405), "HEAD {path}");
    }
    let head = app
        .client
        .head(app.url(&format!("/p/{id}/raw")))
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 404);

    // The operator maximum caps "never".
    let capped = create(&app, None, json!({ "content": "x", "expires_in": "never" })).await;
    let expires_at: chrono::DateTime<chrono::Utc> = capped["expires_at"]
        .as_str()
        .expect("capped expiry")
        .parse()
        .expect("timestamp");
    let lifetime = expires_at - chrono::Utc::now();
    assert!(lifetime <= chrono::Duration::seconds(3600), "{lifetime}");
    assert!(lifetime > chrono::Duration::seconds(3500), "{lifetime}");
    finish(app).await;
}

async fn sweeper_deletes_expired_and_orphans(store: Store) {
    let Some(app) = spawn(store, |settings| {
        // S3 keeps modification times in whole seconds, so an object can look up to a second
        // older than it is: the grace period and the wait leave room for that.
        settings.pastes.orphan_grace_secs = 2;
        settings.pastes.sweep_batch = 2;
    })
    .await
    else {
        return;
    };
    let mut expiring = Vec::new();
    for index in 0..5 {
        let paste = create(
            &app,
            None,
            json!({ "content": format!("{index}"), "expires_in": 1 }),
        )
        .await;
        expiring.push(id_of(&paste));
    }
    let kept = id_of(&create(&app, None, json!({ "content": "kept", "expires_in": "1w" })).await);

    let blobs = std::sync::Arc::clone(&app.application().state().blobs);
    let orphan = PasteId::generate();
    blobs
        .put(
            &orphan.blob_key(),
            "orphan".into(),
            "text/plain; charset=utf-8",
        )
        .await
        .expect("put orphan");
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let fresh = PasteId::generate();
    blobs
        .put(
            &fresh.blob_key(),
            "fresh".into(),
            "text/plain; charset=utf-8",
        )
        .await
        .expect("put fresh orphan");

    let report = app
        .application()
        .state()
        .pastes
        .sweep()
        .await
        .expect("sweep");
    assert_eq!(report.expired, 5);
    assert_eq!(report.orphans, 1);
    for id in &expiring {
        assert!(!object_exists(&app, id).await, "{id}");
    }
    assert!(!blobs.exists(&orphan.blob_key()).await.expect("exists"));
    assert!(
        blobs.exists(&fresh.blob_key()).await.expect("exists"),
        "within grace"
    );
    assert!(object_exists(&app, &kept).await);
    assert_eq!(row_count(&app).await, 1);

    let again = app
        .application()
        .state()
        .pastes
        .sweep()
        .await
        .expect("sweep");
    assert_eq!(again.expired, 0);
    finish(app).await;
}

async fn burn_after_reading_survives_bots_and_head(store: Store) {
    let Some(app) = spawn(store, |_| {}).await else {
        return;
    };
    let secret = "burn me <b>once</b>";
    let paste = create(
        &app,
        None,
        json!({ "content": secret, "expires_in": "burn" }),
    )
    .await;
    let id = id_of(&paste);
    assert_eq!(paste["burn"], true);

    let bots = [
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        BROWSER,
    ];
    for agent in bots {
        let page = get_with(&app, &format!("/p/{id}"), &[("user-agent", agent)]).await;
        assert_eq!(page.status(), 200, "{agent}");
        let html = page.text().await.expect("page");
        assert!(html.contains("Burn after reading"), "{agent}");
        assert!(!html.contains("burn me"), "{agent}");
        let raw = get_with(&app, &format!("/p/{id}/raw"), &[("user-agent", agent)]).await;
        assert_eq!(raw.status(), 403, "{agent}");
        assert_eq!(error_code(raw).await, "reveal_required");
        for path in [
            format!("/p/{id}"),
            format!("/p/{id}/raw"),
            format!("/api/pastes/{id}"),
        ] {
            let head = app
                .client
                .head(app.url(&path))
                .header("user-agent", agent)
                .send()
                .await;
            assert!(head.expect("head").status().as_u16() < 500, "{path}");
        }
    }
    let meta: Value = app
        .get(&format!("/api/pastes/{id}"), None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(meta["burn"], true);
    assert!(meta.get("content").is_none(), "{meta}");

    let revealed = app
        .post_json(&format!("/api/pastes/{id}/reveal"), None, &json!({}))
        .await;
    assert_eq!(revealed.status(), 200);
    let revealed: Value = revealed.json().await.expect("json");
    assert_eq!(revealed["content"], secret);
    let again = app
        .post_json(&format!("/api/pastes/{id}/reveal"), None, &json!({}))
        .await;
    assert_eq!(again.status(), 404);
    assert_eq!(app.get(&format!("/p/{id}"), None).await.status(), 404);
    assert!(!object_exists(&app, &id).await);

    // The HTML reveal form shows the content once.
    let paste = create(
        &app,
        None,
        json!({ "content": secret, "expires_in": "burn" }),
    )
    .await;
    let id = id_of(&paste);
    let page = app
        .client
        .post(app.url(&format!("/p/{id}/reveal")))
        .send()
        .await
        .expect("post");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("page");
    assert!(html.contains("burn me &lt;b&gt;once&lt;/b&gt;"), "{html}");
    assert!(html.contains("This paste has been deleted"));
    let second = app
        .client
        .post(app.url(&format!("/p/{id}/reveal")))
        .send()
        .await
        .expect("post");
    assert_eq!(second.status(), 404);
    assert_eq!(row_count(&app).await, 0);
    finish(app).await;
}

async fn concurrent_reveals_let_one_through(db: Db) {
    let Some(app) = spawn_app_with(db, |settings| settings.pastes.sweep_interval_secs = 0).await
    else {
        return;
    };
    for round in 0..3 {
        let paste = create(
            &app,
            None,
            json!({ "content": format!("round {round}"), "expires_in": "burn" }),
        )
        .await;
        let id = id_of(&paste);
        let url = app.url(&format!("/api/pastes/{id}/reveal"));
        let requests = (0..12).map(|_| {
            let client = app.client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                client
                    .post(url)
                    .send()
                    .await
                    .expect("post")
                    .status()
                    .as_u16()
            })
        });
        let mut statuses = Vec::new();
        for request in requests {
            statuses.push(request.await.expect("task"));
        }
        let succeeded = statuses.iter().filter(|status| **status == 200).count();
        assert_eq!(succeeded, 1, "round {round}: {statuses:?}");
        assert!(
            statuses.iter().all(|status| matches!(status, 200 | 404)),
            "{statuses:?}"
        );
    }
    assert_eq!(row_count(&app).await, 0);
    app.shutdown().await;
}

async fn delete_needs_token_or_owner(store: Store) {
    let Some(app) = spawn(store, |_| {}).await else {
        return;
    };
    let paste = create(&app, None, json!({ "content": "delete me" })).await;
    let id = id_of(&paste);
    let token = paste["delete_token"].as_str().expect("token").to_owned();
    let path = format!("/api/pastes/{id}");

    let missing = app.delete(&path, None).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(error_code(missing).await, "delete_token_required");
    let wrong = app
        .client
        .delete(app.url(&path))
        .header("x-delete-token", "nope")
        .send()
        .await;
    let wrong = wrong.expect("delete");
    assert_eq!(wrong.status(), 403);
    assert_eq!(error_code(wrong).await, "wrong_delete_token");
    assert!(object_exists(&app, &id).await);

    let right = app
        .client
        .delete(app.url(&path))
        .header("x-delete-token", &token)
        .send()
        .await;
    assert_eq!(right.expect("delete").status(), 204);
    assert_eq!(app.get(&format!("/p/{id}/raw"), None).await.status(), 404);
    assert!(!object_exists(&app, &id).await);

    // The owner's key deletes without the token; another user's key does not.
    let owner = app.create_user("paste-owner@example.com").await;
    let other = app.create_user("paste-other@example.com").await;
    let owned = id_of(&create(&app, Some(&owner), json!({ "content": "mine" })).await);
    let path = format!("/api/pastes/{owned}");
    assert_eq!(app.delete(&path, Some(&other)).await.status(), 401);
    assert_eq!(app.delete(&path, Some(&owner)).await.status(), 204);
    assert_eq!(app.get(&path, None).await.status(), 404);

    // The delete form on the page takes the token too.
    let paste = create(&app, None, json!({ "content": "form delete" })).await;
    let id = id_of(&paste);
    let form_path = format!("/p/{id}/delete");
    let wrong = app
        .client
        .post(app.url(&form_path))
        .form(&[("delete_token", "bad")])
        .send()
        .await;
    assert_eq!(wrong.expect("post").status(), 403);
    let token = paste["delete_token"].as_str().expect("token");
    let right = app
        .client
        .post(app.url(&form_path))
        .form(&[("delete_token", token)])
        .send()
        .await;
    let right = right.expect("post");
    assert_eq!(right.status(), 200);
    assert!(right.text().await.expect("page").contains("Paste deleted"));
    assert_eq!(row_count(&app).await, 0);
    finish(app).await;
}

async fn private_paste_is_owner_only(store: Store) {
    let Some(app) = spawn(store, |_| {}).await else {
        return;
    };
    let owner = app.create_user("private-owner@example.com").await;
    let other = app.create_user("private-other@example.com").await;
    let paste = create(
        &app,
        Some(&owner),
        json!({ "content": "secret", "visibility": "private" }),
    )
    .await;
    let id = id_of(&paste);
    assert_eq!(paste["visibility"], "private");

    let paths = [
        format!("/p/{id}"),
        format!("/p/{id}/raw"),
        format!("/api/pastes/{id}"),
        format!("/api/pastes/{id}/qr.png"),
    ];
    for path in &paths {
        assert_eq!(app.get(path, None).await.status(), 404, "anonymous {path}");
        assert_eq!(
            app.get(path, Some(&other)).await.status(),
            404,
            "other {path}"
        );
        assert_eq!(
            app.get(path, Some(&owner)).await.status(),
            200,
            "owner {path}"
        );
    }
    let raw = app.get(&format!("/p/{id}/raw"), Some(&owner)).await;
    assert_eq!(raw.text().await.expect("body"), "secret");
    finish(app).await;
}

async fn password_guards_content(store: Store) {
    let Some(app) = spawn(store, |_| {}).await else {
        return;
    };
    let paste = create(
        &app,
        None,
        json!({ "content": "behind a password", "password": "hunter2" }),
    )
    .await;
    let id = id_of(&paste);
    assert_eq!(paste["password_protected"], true);
    let raw = format!("/p/{id}/raw");

    let missing = app.get(&raw, None).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(error_code(missing).await, "password_required");
    let wrong = get_with(&app, &raw, &[("x-paste-password", "hunter3")]).await;
    assert_eq!(wrong.status(), 403);
    assert_eq!(error_code(wrong).await, "wrong_password");
    let right = get_with(&app, &raw, &[("x-paste-password", "hunter2")]).await;
    assert_eq!(right.status(), 200);
    assert_eq!(right.text().await.expect("body"), "behind a password");
    let meta = get_with(
        &app,
        &format!("/api/pastes/{id}"),
        &[("x-paste-password", "hunter2")],
    )
    .await;
    let meta: Value = meta.json().await.expect("json");
    assert_eq!(meta["content"], "behind a password");

    let page = app.get(&format!("/p/{id}"), None).await;
    assert_eq!(page.status(), 401);
    let html = page.text().await.expect("page");
    assert!(html.contains("Password required"));
    assert!(!html.contains("behind a password"));
    let unlock = format!("/p/{id}/unlock");
    let wrong = app
        .client
        .post(app.url(&unlock))
        .form(&[("password", "nope")])
        .send()
        .await;
    let wrong = wrong.expect("post");
    assert_eq!(wrong.status(), 403);
    assert!(
        !wrong
            .text()
            .await
            .expect("page")
            .contains("behind a password")
    );
    let right = app
        .client
        .post(app.url(&unlock))
        .form(&[("password", "hunter2")])
        .send()
        .await;
    let right = right.expect("post");
    assert_eq!(right.status(), 200);
    assert!(
        right
            .text()
            .await
            .expect("page")
            .contains("behind a password")
    );
    finish(app).await;
}

async fn web_forms_create_and_show(store: Store) {
    let Some(app) = spawn(store, |_| {}).await else {
        return;
    };
    let home = app.get("/", None).await;
    assert_eq!(home.status(), 200);
    let html = home.text().await.expect("page");
    assert!(html.contains("action=\"/p\""));
    assert!(html.contains("action=\"/s\""));
    let stylesheet = linkyard::web::stylesheet().path();
    assert_eq!(app.get(&stylesheet, None).await.status(), 200);
    assert_eq!(app.get("/static/old.css", None).await.status(), 404);

    let form = [
        ("content", "fn main() {\r\n    println!(\"hi\");\r\n}\r\n"),
        ("title", "main.rs"),
        ("syntax", ""),
        ("expires_in", "1d"),
        ("visibility", "unlisted"),
        ("password", ""),
    ];
    let created = app
        .client
        .post(app.url("/p"))
        .form(&form)
        .send()
        .await
        .expect("post");
    assert_eq!(created.status(), 303);
    let location = created.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let cookie = created.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let id = location.trim_start_matches("/p/").to_owned();
    let raw = app
        .get(&format!("/p/{id}/raw"), None)
        .await
        .text()
        .await
        .expect("raw");
    assert_eq!(raw, "fn main() {\n    println!(\"hi\");\n}\n");

    let token_pair = cookie.split(';').next().expect("cookie pair").to_owned();
    let page = get_with(&app, &location, &[("cookie", &token_pair)]).await;
    assert_eq!(page.status(), 200);
    let cleared = page.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let html = page.text().await.expect("page");
    assert!(html.contains("delete token is displayed only now"));
    assert!(html.contains("id=\"L3\""), "line anchors");
    assert!(html.contains("class=\"hl-"), "highlighted spans");

    let rejected = app
        .client
        .post(app.url("/p"))
        .form(&[("content", ""), ("title", "kept title")])
        .send()
        .await;
    let rejected = rejected.expect("post");
    assert_eq!(rejected.status(), 400);
    let html = rejected.text().await.expect("page");
    assert!(html.contains("kept title"));
    assert!(html.contains("role=\"alert\""));

    let shortened = app
        .client
        .post(app.url("/s"))
        .form(&[("url", "https://example.com/long"), ("alias", "")])
        .send()
        .await;
    let shortened = shortened.expect("post");
    assert_eq!(shortened.status(), 201);
    assert!(
        shortened
            .text()
            .await
            .expect("page")
            .contains("https://example.com/long")
    );
    let bad_link = app
        .client
        .post(app.url("/s"))
        .form(&[("url", "ftp://example.com"), ("alias", "")])
        .send()
        .await;
    assert_eq!(bad_link.expect("post").status(), 400);
    finish(app).await;
}

async fn paste_qr_encodes_page_url(store: Store) {
    let Some(app) = spawn(store, |_| {}).await else {
        return;
    };
    let id = id_of(&create(&app, None, json!({ "content": "qr" })).await);
    let response = app
        .get(&format!("/api/pastes/{id}/qr.png?size=256"), None)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = response.headers()["etag"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let bytes = response.bytes().await.expect("png");
    let image = image::load_from_memory(&bytes).expect("png").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, text) = grids[0].decode().expect("decodes");
    assert_eq!(text, app.url(&format!("/p/{id}")));

    let cached = get_with(
        &app,
        &format!("/api/pastes/{id}/qr.png?size=256"),
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(cached.status(), 304);
    let svg = app.get(&format!("/api/pastes/{id}/qr.svg"), None).await;
    assert_eq!(svg.status(), 200);
    let bad = app
        .get(&format!("/api/pastes/{id}/qr.png?size=1"), None)
        .await;
    assert_eq!(bad.status(), 400);
    finish(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_outage_during_create_is_503() {
    let Some(values) = s3_settings() else {
        return;
    };
    let upstream = upstream_of(&values[0]);
    let proxy = CuttableProxy::start(upstream).await;
    let endpoint = format!("http://{}", proxy.address);
    let app = spawn_app_with(Db::Sqlite, |settings| {
        settings.pastes.sweep_interval_secs = 0;
        use_s3(settings, &endpoint, &values);
        settings.blob.s3_connect_timeout_ms = 500;
        settings.blob.s3_operation_timeout_ms = 3000;
        settings.blob.s3_max_attempts = 1;
    })
    .await
    .expect("application starts");
    let before = create(&app, None, json!({ "content": "before the outage" })).await;
    let token = before["delete_token"].as_str().expect("token");
    let path = format!("/api/pastes/{}", id_of(&before));
    let deleted = app
        .client
        .delete(app.url(&path))
        .header("x-delete-token", token)
        .send()
        .await;
    assert_eq!(deleted.expect("delete").status(), 204);
    proxy.cut();

    let response = app
        .post_json("/api/pastes", None, &json!({ "content": "during" }))
        .await;
    assert_eq!(response.status(), 503);
    let error: Value = response.json().await.expect("json");
    assert_eq!(error["error"]["code"], "backend_unavailable");
    assert_eq!(error["error"]["backend"], "s3");
    let message = error["error"]["message"].as_str().expect("message");
    assert!(message.contains("blob store"), "{message}");
    let raw = create_raw(&app, "", b"raw during".to_vec()).await;
    assert_eq!(raw.status(), 503);
    assert_eq!(row_count(&app).await, 0, "no row without its object");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_command_deletes_expired() {
    let Some(mut app) = spawn(Store::Filesystem, |_| {}).await else {
        return;
    };
    let expiring = id_of(&create(&app, None, json!({ "content": "old", "expires_in": 1 })).await);
    let kept = id_of(&create(&app, None, json!({ "content": "kept", "expires_in": "1d" })).await);
    let expired = eventually(Duration::from_secs(10), || async {
        let status = app.get(&format!("/p/{expiring}/raw"), None).await.status();
        (status == 404).then_some(())
    })
    .await;
    assert!(expired.is_some(), "the paste did not expire");
    let application = app.app.take().expect("application is running");
    let mut settings = application.state().settings.clone();
    application.shutdown().await.expect("graceful shutdown");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_linkyard"))
        .arg("--data-dir")
        .arg(&settings.storage.data_dir)
        .arg("sweep")
        .env("LINKYARD_LOG__FILTER", "error")
        .output()
        .expect("run linkyard sweep");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "sweep failed: {stdout}");
    assert_eq!(
        stdout.trim(),
        "deleted 1 expired pastes and 0 orphaned objects"
    );

    settings.server.listen = "127.0.0.1:0".parse().expect("address");
    let restarted = linkyard::Application::build(settings)
        .await
        .expect("restart");
    app.base = format!("http://{}", restarted.local_addr());
    app.app = Some(restarted);
    assert_eq!(row_count(&app).await, 1);
    assert!(!object_exists(&app, &expiring).await);
    assert!(object_exists(&app, &kept).await);
    finish(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paste_store_failure_is_survived() {
    let Some(app) = spawn(Store::Filesystem, |_| {}).await else {
        return;
    };
    let before = id_of(&create(&app, None, json!({ "content": "before the failure" })).await);
    let pastes = &app.application().state().pastes;
    pastes.inject_failure().expect("failure injected");

    // Reads wait for the supervisor to start a new PasteStore, then serve again.
    let served = eventually(Duration::from_secs(5), || async {
        let response = app.get(&format!("/api/pastes/{before}"), None).await;
        (response.status() == 200).then_some(response)
    })
    .await
    .expect("the paste is served after the restart");
    let json: Value = served.json().await.expect("json");
    assert_eq!(json["content"], "before the failure");
    let after = create(&app, None, json!({ "content": "after the failure" })).await;
    let raw = app.get(&format!("/p/{}/raw", id_of(&after)), None).await;
    assert_eq!(raw.text().await.expect("body"), "after the failure");
    let restarts = app
        .application()
        .state()
        .actor_restarts
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(restarts >= 1, "the supervisor counted no restart");
    finish(app).await;
}

/// Password guesses through the API and through the unlock form share the client's create
/// bucket, so guessing runs into 429.
#[tokio::test]
async fn password_guesses_are_rate_limited() {
    let Some(app) = spawn(Store::Filesystem, |settings| {
        settings.rate_limit.enabled = true;
        settings.rate_limit.create.capacity = std::num::NonZeroU32::new(4).expect("nonzero");
        settings.rate_limit.create.refill_per_sec = 0.01;
    })
    .await
    else {
        return;
    };
    let paste = create(
        &app,
        None,
        json!({ "content": "secret text", "password": "correct horse" }),
    )
    .await;
    let id = id_of(&paste);
    let path = format!("/api/pastes/{id}");

    let mut statuses = Vec::new();
    for guess in 0..5 {
        let response = get_with(
            &app,
            &path,
            &[("x-paste-password", &format!("guess-{guess}"))],
        )
        .await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[..3], [403, 403, 403], "{statuses:?}");
    assert_eq!(statuses[3..], [429, 429], "{statuses:?}");

    let form = app
        .client
        .post(app.url(&format!("/p/{id}/unlock")))
        .form(&[("password", "another guess")])
        .send()
        .await
        .expect("unlock sent");
    assert_eq!(form.status(), 429, "the unlock form shares the bucket");
    finish(app).await;
}
