//! Bookmarks end to end: creation, enrichment against a local site, duplicates, paging and
//! filters, per-user search, import and export, favicons, refresh, deletion, and the search
//! index rebuilt after it was lost.

use crate::helpers::{Db, TestApp, error_code, on_both_databases, spawn_app_with};
use crate::support::eventually;
use linkyard::Settings;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[allow(dead_code)]
#[path = "../backends/fetch/server.rs"]
mod page_server;

use page_server::{Reply, TestServer};

on_both_databases!(
    enrichment_fills_metadata_and_favicon,
    failed_enrichment_keeps_user_title,
    duplicates_are_found_after_normalization,
    paging_and_filters,
    search_is_scoped_per_user,
    import_export_round_trip,
    refresh_and_delete,
);

const DEADLINE: Duration = Duration::from_secs(30);
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR-test-icon";
const SVG: &str = "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";

/// Keeps every wait short. Loopback stays blocked, so bookmarks of `http://127.0.0.1/…` fail
/// their enrichment at once without a connection.
fn fast(settings: &mut Settings) {
    settings.queue.poll_interval_ms = 50;
    settings.queue.retry_delays_ms = vec![50];
    settings.search.commit_interval_ms = 20;
}

/// Like [`fast`], and lets the fetcher reach the test sites on 127.0.0.1.
fn fast_local(settings: &mut Settings) {
    fast(settings);
    settings.fetcher.allow = vec!["127.0.0.1/32".to_owned()];
}

async fn spawn(db: Db) -> Option<TestApp> {
    spawn_app_with(db, fast).await
}

async fn spawn_local(db: Db) -> Option<TestApp> {
    spawn_app_with(db, fast_local).await
}

fn article(title: &str) -> String {
    format!(
        "<html lang='en'><head><title>{title} | Example Site</title>\
         <meta property='og:site_name' content='Example Site'>\
         <meta name='description' content='All about {title}, in depth and at length.'>\
         <link rel='icon' href='/icon.png'></head>\
         <body><article><h1>{title}</h1><p>{}</p></article></body></html>",
        "Plenty of words so that the page reads as real content rather than a thin error page. "
            .repeat(8)
    )
}

/// A site with an article at `/article` (its title can be changed), a PNG icon, an SVG page
/// and icon, and a page that is gone.
struct Site {
    server: TestServer,
    title: Arc<Mutex<String>>,
}

async fn site() -> Site {
    let title = Arc::new(Mutex::new("Rust ownership".to_owned()));
    let current = Arc::clone(&title);
    let server = TestServer::start(move |request| match request.path.as_str() {
        "/article" => Reply::html(article(&current.lock().expect("title lock"))),
        "/svg-page" => Reply::html(
            "<html><head><title>Vector page</title><link rel='icon' href='/icon.svg'></head>\
             <body><p>An ordinary page with enough words to count as real content here.</p>\
             </body></html>",
        ),
        "/icon.png" => Reply::new(200, "image/png", PNG),
        "/icon.svg" => Reply::new(200, "text/plain", SVG),
        "/busy" => Reply::new(503, "text/plain", "try later"),
        _ => Reply::new(404, "text/html", "<title>Not found</title><p>gone</p>"),
    })
    .await;
    Site { server, title }
}

async fn create(app: &TestApp, key: &str, body: Value) -> Value {
    let response = app.post_json("/api/bookmarks", Some(key), &body).await;
    let status = response.status();
    let json: Value = response.json().await.expect("json body");
    assert_eq!(status, 202, "create failed: {json}");
    json
}

/// Polls the bookmark until its status is `status`, and returns it.
async fn wait_for_status(app: &TestApp, key: &str, id: i64, status: &str) -> Value {
    let path = format!("/api/bookmarks/{id}");
    let found = eventually(DEADLINE, || async {
        let bookmark: Value = app.get(&path, Some(key)).await.json().await.ok()?;
        (bookmark["status"] == status).then_some(bookmark)
    })
    .await;
    found.unwrap_or_else(|| panic!("bookmark {id} never became {status}"))
}

/// Polls the search until it returns exactly `expected` ids, in any order.
async fn wait_for_search(app: &TestApp, key: &str, query: &str, expected: &[i64]) {
    let path = format!("/api/bookmarks/search?q={}", urlencode(query));
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    let found = eventually(DEADLINE, || async {
        let page: Value = app.get(&path, Some(key)).await.json().await.ok()?;
        let mut ids = ids_of(&page);
        ids.sort_unstable();
        (ids == expected).then_some(())
    })
    .await;
    assert!(
        found.is_some(),
        "search '{query}' never returned {expected:?}"
    );
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn ids_of(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["id"].as_i64().expect("id"))
        .collect()
}

fn id_of(bookmark: &Value) -> i64 {
    bookmark["id"].as_i64().expect("id")
}

async fn enrichment_fills_metadata_and_favicon(db: Db) {
    let Some(app) = spawn_local(db).await else {
        return;
    };
    let site = site().await;
    let key = app.create_user("reader@example.com").await;

    let url = site.server.url("/article#intro");
    let created = create(&app, &key, json!({ "url": url.as_str(), "tags": ["rust"] })).await;
    assert_eq!(created["status"], "pending");
    assert_eq!(created["title"], Value::Null);
    assert_eq!(created["unread"], true);
    assert!(created.get("error").is_none(), "{created}");

    let active = wait_for_status(&app, &key, id_of(&created), "active").await;
    assert_eq!(active["title"], "Rust ownership");
    assert_eq!(active["site_name"], "Example Site");
    assert_eq!(
        active["description"],
        "All about Rust ownership, in depth and at length."
    );
    assert_eq!(active["lang"], "en");
    assert_eq!(active["url"], url.as_str());
    assert_eq!(
        active["final_url"],
        url.as_str(),
        "no redirect, so the same URL"
    );
    assert_eq!(active["tags"], json!(["rust"]));
    assert!(active["enriched_at"].is_string(), "{active}");

    let favicon_url = active["favicon_url"].as_str().expect("favicon_url");
    assert!(
        favicon_url.starts_with(&app.url("/favicons/")),
        "{favicon_url}"
    );
    let favicon = app.client.get(favicon_url).send().await.expect("favicon");
    assert_eq!(favicon.status(), 200);
    assert_eq!(favicon.headers()["content-type"], "image/png");
    assert_eq!(favicon.headers()["x-content-type-options"], "nosniff");
    let etag = favicon.headers()["etag"].to_str().expect("etag").to_owned();
    assert_eq!(favicon.bytes().await.expect("bytes").as_ref(), PNG);
    let revalidated = app
        .client
        .get(favicon_url)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("revalidation");
    assert_eq!(revalidated.status(), 304);

    // An SVG icon served as text/plain is stored as SVG and served under a strict policy.
    let svg_page = site.server.url("/svg-page");
    let created = create(&app, &key, json!({ "url": svg_page.as_str() })).await;
    let active = wait_for_status(&app, &key, id_of(&created), "active").await;
    let favicon_url = active["favicon_url"].as_str().expect("svg favicon_url");
    let favicon = app.client.get(favicon_url).send().await.expect("favicon");
    assert_eq!(favicon.headers()["content-type"], "image/svg+xml");
    let policy = favicon.headers()["content-security-policy"]
        .to_str()
        .expect("policy")
        .to_owned();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(!policy.contains("script-src"), "{policy}");

    let missing = app
        .get(&format!("/favicons/{}", "0".repeat(64)), None)
        .await;
    assert_eq!(missing.status(), 404);
    let malformed = app.get("/favicons/..%2F..%2Fetc", None).await;
    assert_eq!(malformed.status(), 404);
    app.shutdown().await;
}

async fn failed_enrichment_keeps_user_title(db: Db) {
    let Some(app) = spawn_app_with(db, |settings| {
        fast_local(settings);
        settings.queue.max_attempts = 2;
    })
    .await
    else {
        return;
    };
    let site = site().await;
    let key = app.create_user("reader@example.com").await;

    let gone = site.server.url("/gone");
    let body = json!({ "url": gone.as_str(), "title": "My own title", "description": "Mine" });
    let created = create(&app, &key, body).await;
    let failed = wait_for_status(&app, &key, id_of(&created), "failed").await;
    assert_eq!(failed["title"], "My own title");
    assert_eq!(failed["description"], "Mine");
    let error = failed["error"].as_str().expect("error");
    assert!(error.contains("404"), "{error}");

    // A 503 is retried until the attempts run out, then the bookmark fails.
    let busy = site.server.url("/busy");
    let created = create(&app, &key, json!({ "url": busy.as_str() })).await;
    let failed = wait_for_status(&app, &key, id_of(&created), "failed").await;
    let error = failed["error"].as_str().expect("error");
    assert!(error.contains("503"), "{error}");
    let attempts = site
        .server
        .paths()
        .iter()
        .filter(|path| *path == "/busy")
        .count();
    assert_eq!(attempts, 2, "one fetch per attempt");

    // A page on a non-public address is never fetched.
    let blocked = "http://10.255.255.1/private";
    let created = create(&app, &key, json!({ "url": blocked })).await;
    let failed = wait_for_status(&app, &key, id_of(&created), "failed").await;
    let error = failed["error"].as_str().expect("error");
    assert!(error.starts_with("blocked_address"), "{error}");
    app.shutdown().await;
}

async fn duplicates_are_found_after_normalization(db: Db) {
    let Some(app) = spawn(db).await else {
        return;
    };
    let first_key = app.create_user("first@example.com").await;
    let second_key = app.create_user("second@example.com").await;

    let original = "http://127.0.0.1/docs?b=2&a=1&utm_source=mail#top";
    let created = create(&app, &first_key, json!({ "url": original })).await;
    for same in [
        "HTTP://127.0.0.1:80/docs?a=1&b=2",
        "http://127.0.0.1/docs?fbclid=x&a=1&b=2&gclid=y#other",
    ] {
        let response = app
            .post_json("/api/bookmarks", Some(&first_key), &json!({ "url": same }))
            .await;
        assert_eq!(response.status(), 409, "{same}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "bookmark_exists", "{body}");
        assert_eq!(body["error"]["field"], "url");
        assert_eq!(body["bookmark"]["id"], created["id"], "{body}");
        assert_eq!(body["bookmark"]["url"], original);
    }

    // A different path, or another user, is not a duplicate.
    create(
        &app,
        &first_key,
        json!({ "url": "http://127.0.0.1/docs/?a=1&b=2" }),
    )
    .await;
    create(&app, &second_key, json!({ "url": original })).await;
    app.shutdown().await;
}

async fn paging_and_filters(db: Db) {
    let Some(app) = spawn(db).await else {
        return;
    };
    let key = app.create_user("pager@example.com").await;
    let other_key = app.create_user("other@example.com").await;
    create(
        &app,
        &other_key,
        json!({ "url": "http://127.0.0.1/theirs", "tags": ["Rust"] }),
    )
    .await;

    let mut ids = Vec::new();
    for index in 0..5 {
        let tags = if index % 2 == 0 {
            json!(["Rust", "web"])
        } else {
            json!(["go"])
        };
        let body = json!({
            "url": format!("http://127.0.0.1/page/{index}"),
            "tags": tags,
            "unread": index < 2,
        });
        ids.push(id_of(&create(&app, &key, body).await));
    }
    ids.reverse();

    let mut seen = Vec::new();
    let mut path = "/api/bookmarks?limit=2".to_owned();
    loop {
        let page: Value = app.get(&path, Some(&key)).await.json().await.expect("page");
        seen.extend(ids_of(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/bookmarks?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids, "newest first, each once, own bookmarks only");

    let tagged: Value = app
        .get("/api/bookmarks?tag=rust", Some(&key))
        .await
        .json()
        .await
        .expect("tagged");
    assert_eq!(ids_of(&tagged), vec![ids[0], ids[2], ids[4]]);
    let unread: Value = app
        .get("/api/bookmarks?unread=true", Some(&key))
        .await
        .json()
        .await
        .expect("unread");
    assert_eq!(ids_of(&unread), vec![ids[3], ids[4]]);

    // Loopback is not allowed here, so every enrichment fails.
    for id in &ids {
        wait_for_status(&app, &key, *id, "failed").await;
    }
    let failed: Value = app
        .get("/api/bookmarks?status=failed&tag=web", Some(&key))
        .await
        .json()
        .await
        .expect("failed");
    assert_eq!(ids_of(&failed), vec![ids[0], ids[2], ids[4]]);

    let cases = [
        ("/api/bookmarks?limit=0", "invalid_limit"),
        ("/api/bookmarks?limit=101", "invalid_limit"),
        ("/api/bookmarks?cursor=abc", "invalid_cursor"),
        ("/api/bookmarks?status=done", "invalid_status"),
        ("/api/bookmarks?unread=maybe", "invalid_query"),
    ];
    for (path, code) in cases {
        let response = app.get(path, Some(&key)).await;
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(error_code(response).await, code, "{path}");
    }
    app.shutdown().await;
}

async fn search_is_scoped_per_user(db: Db) {
    let Some(app) = spawn(db).await else {
        return;
    };
    let alice = app.create_user("alice@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let body = |path: &str| json!({ "url": format!("http://127.0.0.1/{path}"), "title": "Ferris notes", "tags": ["crab"] });
    let alice_id = id_of(&create(&app, &alice, body("a")).await);
    let bob_id = id_of(&create(&app, &bob, body("b")).await);

    wait_for_search(&app, &alice, "ferris", &[alice_id]).await;
    wait_for_search(&app, &bob, "ferris", &[bob_id]).await;
    wait_for_search(&app, &alice, "#crab site:127.0.0.1", &[alice_id]).await;
    wait_for_search(&app, &alice, "pelican", &[]).await;

    let invalid = app
        .get("/api/bookmarks/search?q=before:2024-13-45", Some(&alice))
        .await;
    assert_eq!(invalid.status(), 400);
    let anonymous = app.get("/api/bookmarks/search?q=ferris", None).await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(error_code(anonymous).await, "auth_required");
    app.shutdown().await;
}

const IMPORT_FILE: &str = r#"<!DOCTYPE NETSCAPE-Bookmark-file-1>
<TITLE>Bookmarks</TITLE>
<DL><p>
    <DT><A HREF="http://127.0.0.1/one" ADD_DATE="1600000000" TAGS="a,b">One</A>
    <DD>The first one
    <DT><A HREF="http://127.0.0.1/two" TOREAD="1">Two</A>
    <DT><A HREF="http://127.0.0.1/two#again">Two again</A>
    <DT><A HREF="http://127.0.0.1/existing?utm_medium=x">Existing</A>
    <DT><A HREF="javascript:alert(1)">Script</A>
    <DT><A HREF="not a url">Broken</A>
</DL><p>
"#;

async fn import_export_round_trip(db: Db) {
    let Some(app) = spawn(db).await else {
        return;
    };
    let key = app.create_user("importer@example.com").await;
    create(&app, &key, json!({ "url": "http://127.0.0.1/existing" })).await;

    let response = app
        .client
        .post(app.url("/api/bookmarks/import"))
        .bearer_auth(&key)
        .header("content-type", "text/html")
        .body(IMPORT_FILE)
        .send()
        .await
        .expect("import");
    assert_eq!(response.status(), 200);
    let summary: Value = response.json().await.expect("summary");
    assert_eq!(
        summary,
        json!({ "imported": 2, "duplicates": 2, "invalid": 2 })
    );

    let page: Value = app
        .get("/api/bookmarks?tag=b", Some(&key))
        .await
        .json()
        .await
        .expect("page");
    let one = &page["items"][0];
    assert_eq!(one["title"], "One");
    assert_eq!(one["description"], "The first one");
    assert_eq!(one["unread"], false);
    assert_eq!(one["created_at"], "2020-09-13T12:26:40.000Z");

    let export = app.get("/api/bookmarks/export", Some(&key)).await;
    assert_eq!(export.status(), 200);
    assert_eq!(export.headers()["content-type"], "text/html; charset=utf-8");
    let html = export.text().await.expect("export");
    assert!(
        html.starts_with("<!DOCTYPE NETSCAPE-Bookmark-file-1>"),
        "{html}"
    );
    assert!(html.contains(r#"HREF="http://127.0.0.1/two" "#), "{html}");
    assert!(html.contains(r#"TAGS="a,b""#), "{html}");
    assert!(html.contains("TOREAD=\"1\">Two</A>"), "{html}");

    // The export imports into another account completely, and again as duplicates only.
    let other = app.create_user("copy@example.com").await;
    for expected in [
        json!({ "imported": 3, "duplicates": 0, "invalid": 0 }),
        json!({ "imported": 0, "duplicates": 3, "invalid": 0 }),
    ] {
        let response = app
            .client
            .post(app.url("/api/bookmarks/import"))
            .bearer_auth(&other)
            .body(html.clone())
            .send()
            .await
            .expect("import");
        let summary: Value = response.json().await.expect("summary");
        assert_eq!(summary, expected);
    }
    app.shutdown().await;
}

async fn refresh_and_delete(db: Db) {
    let Some(app) = spawn_local(db).await else {
        return;
    };
    let site = site().await;
    let key = app.create_user("refresher@example.com").await;
    let url = site.server.url("/article");
    let created = create(
        &app,
        &key,
        json!({ "url": url.as_str(), "note": "read later" }),
    )
    .await;
    let id = id_of(&created);
    wait_for_status(&app, &key, id, "active").await;
    wait_for_search(&app, &key, "ownership", &[id]).await;

    *site.title.lock().expect("title lock") = "Borrowing explained".to_owned();
    let response = app
        .post_json(
            &format!("/api/bookmarks/{id}/refresh"),
            Some(&key),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let refreshed = eventually(DEADLINE, || async {
        let bookmark: Value = app
            .get(&format!("/api/bookmarks/{id}"), Some(&key))
            .await
            .json()
            .await
            .ok()?;
        (bookmark["title"] == "Borrowing explained").then_some(bookmark)
    })
    .await
    .expect("refreshed title");
    assert_eq!(refreshed["status"], "active");
    assert_eq!(refreshed["note"], "read later");
    wait_for_search(&app, &key, "borrowing", &[id]).await;

    let patched = app
        .patch_json(
            &format!("/api/bookmarks/{id}"),
            Some(&key),
            &json!({ "title": "Pinned title", "unread": false, "note": null }),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.expect("patched");
    assert_eq!(patched["title"], "Pinned title");
    assert_eq!(patched["note"], Value::Null);
    assert_eq!(patched["unread"], false);
    wait_for_search(&app, &key, "pinned", &[id]).await;

    let other = app.create_user("stranger@example.com").await;
    let foreign = app
        .delete(&format!("/api/bookmarks/{id}"), Some(&other))
        .await;
    assert_eq!(foreign.status(), 404);
    let deleted = app
        .delete(&format!("/api/bookmarks/{id}"), Some(&key))
        .await;
    assert_eq!(deleted.status(), 204);
    let gone = app.get(&format!("/api/bookmarks/{id}"), Some(&key)).await;
    assert_eq!(gone.status(), 404);
    assert_eq!(error_code(gone).await, "bookmark_not_found");
    wait_for_search(&app, &key, "pinned", &[]).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_is_rejected() {
    let Some(app) = spawn(Db::Sqlite).await else {
        return;
    };
    let key = app.create_user("strict@example.com").await;
    let cases = [
        (json!({ "url": "" }), "url_empty", "url"),
        (
            json!({ "url": "ftp://127.0.0.1/" }),
            "url_scheme_not_allowed",
            "url",
        ),
        (json!({ "url": "nope" }), "url_invalid", "url"),
        (
            json!({ "url": "http://127.0.0.1/", "title": "x".repeat(1001) }),
            "field_too_long",
            "title",
        ),
        (
            json!({ "url": "http://127.0.0.1/", "tags": [""] }),
            "invalid_tag",
            "tags",
        ),
        (
            json!({ "url": "http://127.0.0.1/", "color": "red" }),
            "invalid_field",
            "",
        ),
    ];
    for (body, code, field) in cases {
        let response = app.post_json("/api/bookmarks", Some(&key), &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.expect("json");
        assert_eq!(error["error"]["code"], code, "{body}");
        if !field.is_empty() {
            assert_eq!(error["error"]["field"], field, "{body}");
        }
    }

    let anonymous = app
        .post_json(
            "/api/bookmarks",
            None,
            &json!({ "url": "http://127.0.0.1/" }),
        )
        .await;
    assert_eq!(anonymous.status(), 401);
    let missing = app.get("/api/bookmarks/999999", Some(&key)).await;
    assert_eq!(missing.status(), 404);
    let malformed = app.get("/api/bookmarks/abc", Some(&key)).await;
    assert_eq!(malformed.status(), 404);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_index_is_backfilled_and_reindexed() {
    let Some(mut app) = spawn(Db::Sqlite).await else {
        return;
    };
    let key = app.create_user("keeper@example.com").await;
    let body = json!({ "url": "http://127.0.0.1/kept", "title": "Durable words" });
    let id = id_of(&create(&app, &key, body).await);
    wait_for_search(&app, &key, "durable", &[id]).await;

    // A restart on an empty index directory backfills it from the database.
    let index_dir = app.application().state().settings.search_index_dir();
    let settings = app.application().state().settings.clone();
    app.app
        .take()
        .expect("running")
        .shutdown()
        .await
        .expect("stop");
    std::fs::remove_dir_all(&index_dir).expect("remove the index");
    let restarted = linkyard::Application::build(settings.clone())
        .await
        .expect("restart");
    app.base = format!("http://{}", restarted.local_addr());
    app.app = Some(restarted);
    wait_for_search(&app, &key, "durable", &[id]).await;
    app.app
        .take()
        .expect("running")
        .shutdown()
        .await
        .expect("stop");

    // `linkyard reindex` rebuilds a lost index while the service is stopped.
    std::fs::remove_dir_all(&index_dir).expect("remove the index");
    linkyard::bookmark_commands::reindex(&settings)
        .await
        .expect("reindex");
    let (search, tantivy) = linkyard::app::open_search(&settings).await.expect("open");
    assert_eq!(search.count(None).await.expect("count"), 1);
    drop(search);
    linkyard::app::close_tantivy(tantivy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_runs_through_rabbitmq() {
    let broker = "127.0.0.1:5672";
    let reachable = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(broker),
    )
    .await;
    if !matches!(reachable, Ok(Ok(_))) {
        eprintln!("skipped: RabbitMQ at {broker} is unreachable");
        return;
    }
    let prefix = format!("linkyard_test_{:08x}", rand::random::<u32>());
    let queue_prefix = prefix.clone();
    let Some(app) = spawn_app_with(Db::Sqlite, move |settings| {
        fast_local(settings);
        settings.queue.backend = linkyard::settings::QueueBackend::Rabbitmq;
        settings.queue.amqp_url = "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned();
        settings.queue.prefix = queue_prefix;
    })
    .await
    else {
        return;
    };
    let queue_settings = app.application().state().settings.queue.clone();
    let _cleanup = crate::helpers::TopologyCleanup {
        settings: queue_settings,
    };
    let site = site().await;
    let key = app.create_user("rabbit@example.com").await;

    let url = site.server.url("/article");
    let created = create(&app, &key, json!({ "url": url.as_str() })).await;
    let active = wait_for_status(&app, &key, id_of(&created), "active").await;
    assert_eq!(active["title"], "Rust ownership");
    wait_for_search(&app, &key, "ownership", &[id_of(&created)]).await;
    app.shutdown().await;
}

/// Returns the value of the first `csrf` field of a page.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    let end = html[start..].find('"').expect("end of the csrf value") + start;
    html[start..end].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_pages_need_a_session_and_csrf() {
    let Some(app) = spawn(Db::Sqlite).await else {
        return;
    };
    let key = app.create_user("web@example.com").await;

    let anonymous = app.get("/bookmarks", None).await;
    assert_eq!(anonymous.status(), 303);
    assert_eq!(anonymous.headers()["location"], "/signin");

    let form = |pairs: &[(&str, &str)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let post = |path: &str, body: String, cookie: Option<&str>| {
        let mut request = app
            .client
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };

    let rejected = post("/signin", form(&[("key", "ly_wrong")]), None)
        .await
        .expect("sign in");
    assert_eq!(rejected.status(), 401);
    assert!(rejected.headers().get("set-cookie").is_none());

    let signed_in = post("/signin", form(&[("key", &key)]), None)
        .await
        .expect("sign in");
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.headers()["location"], "/bookmarks");
    let set_cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain http: {set_cookie}");
    let cookie = set_cookie.split(';').next().expect("pair").to_owned();

    let page = app
        .client
        .get(app.url("/bookmarks"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("default-src 'none'")
    );
    let html = page.text().await.expect("html");
    assert!(html.contains("web@example.com"), "{html}");
    let csrf = csrf_of(&html);

    let url = "http://127.0.0.1/from-the-web";
    let forged = post(
        "/bookmarks",
        form(&[("url", url), ("csrf", "forged")]),
        Some(&cookie),
    )
    .await
    .expect("add");
    assert_eq!(forged.status(), 403);

    let added = post(
        "/bookmarks",
        form(&[
            ("url", url),
            ("title", "From the web"),
            ("tags", "web, ui"),
            ("csrf", &csrf),
        ]),
        Some(&cookie),
    )
    .await
    .expect("add");
    assert_eq!(added.status(), 303);
    let listed: Value = app
        .get("/api/bookmarks?tag=ui", Some(&key))
        .await
        .json()
        .await
        .expect("list");
    assert_eq!(listed["items"][0]["title"], "From the web");
    assert_eq!(listed["items"][0]["tags"], json!(["web", "ui"]));

    let again = post(
        "/bookmarks",
        form(&[("url", url), ("csrf", &csrf)]),
        Some(&cookie),
    )
    .await
    .expect("add again");
    assert_eq!(again.status(), 400);
    assert!(
        again
            .text()
            .await
            .expect("html")
            .contains("saved this page already")
    );

    let id = id_of(&listed["items"][0]);
    wait_for_search(&app, &key, "web", &[id]).await;
    let search = app
        .client
        .get(app.url("/bookmarks?q=%23ui"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("search page");
    let html = search.text().await.expect("html");
    assert!(html.contains("From the web"), "{html}");

    let signed_out = post("/signout", form(&[("csrf", &csrf)]), Some(&cookie))
        .await
        .expect("sign out");
    assert_eq!(signed_out.status(), 303);
    let cleared = signed_out.headers()["set-cookie"].to_str().expect("cookie");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_worker_restarts_after_panic() {
    let Some(app) = spawn_app_with(Db::Sqlite, |settings| {
        fast_local(settings);
        settings.bookmarks.workers = 1;
    })
    .await
    else {
        return;
    };
    let site = site().await;
    let key = app.create_user("survivor@example.com").await;

    // The only worker panics; the factory replaces it and the next job is served.
    app.application().state().enrichment.inject_failure();
    let url = site.server.url("/article");
    let created = create(&app, &key, json!({ "url": url.as_str() })).await;
    let active = wait_for_status(&app, &key, id_of(&created), "active").await;
    assert_eq!(active["title"], "Rust ownership");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_enriches_without_http() {
    let site = site().await;
    let data_dir = tempfile::tempdir().expect("temporary directory");
    let mut settings = crate::helpers::test_settings(&data_dir);
    fast_local(&mut settings);
    let worker = linkyard::Application::build_worker(settings)
        .await
        .expect("worker starts");
    let state = std::sync::Arc::clone(worker.state());

    let (user_id, _) = state
        .accounts
        .create_user("worker@example.com")
        .await
        .expect("user");
    let input = linkyard_actors::bookmarks::NewBookmark {
        url: site.server.url("/article").to_string(),
        ..Default::default()
    };
    let created = state
        .bookmarks
        .create(user_id, input, None)
        .await
        .expect("create");
    let enriched = eventually(DEADLINE, || async {
        let bookmark = state
            .bookmarks
            .get(user_id, &created.id.to_string())
            .await
            .ok()?;
        (bookmark.status == "active").then_some(bookmark)
    })
    .await
    .expect("the worker enriches the bookmark");
    assert_eq!(enriched.page_title.as_deref(), Some("Rust ownership"));
    drop(state);
    worker.shutdown().await.expect("worker stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_enrichment_changes_nothing() {
    let Some(app) = spawn_local(Db::Sqlite).await else {
        return;
    };
    let site = site().await;
    let key = app.create_user("again@example.com").await;
    let url = site.server.url("/article");
    let created = create(&app, &key, json!({ "url": url.as_str() })).await;
    let id = id_of(&created);
    let active = wait_for_status(&app, &key, id, "active").await;
    let fetches = site.server.paths().len();

    // The queue may deliver a job again after it succeeded: it must leave the row as it is.
    let state = app.application().state();
    let payload = linkyard_actors::bookmarks::BookmarkJobPayload { bookmark_id: id };
    let outcome = state.enrichment.enrich(payload, 1).await.expect("enrich");
    assert_eq!(
        outcome,
        linkyard_actors::bookmarks::enrich::EnrichOutcome::Skipped
    );
    let again: Value = app
        .get(&format!("/api/bookmarks/{id}"), Some(&key))
        .await
        .json()
        .await
        .expect("bookmark");
    assert_eq!(again, active);
    assert_eq!(site.server.paths().len(), fetches, "no second fetch");

    // A job for a deleted bookmark is skipped too.
    let deleted = app
        .delete(&format!("/api/bookmarks/{id}"), Some(&key))
        .await;
    assert_eq!(deleted.status(), 204);
    let outcome = state.enrichment.enrich(payload, 1).await.expect("enrich");
    assert_eq!(
        outcome,
        linkyard_actors::bookmarks::enrich::EnrichOutcome::Skipped
    );
    app.shutdown().await;
}

/// Deletes a test's Meilisearch index when dropped.
struct MeiliIndexCleanup(linkyard::backends::search::meili::MeiliOptions);

impl Drop for MeiliIndexCleanup {
    fn drop(&mut self) {
        let options = self.0.clone();
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(index) = linkyard::backends::search::meili::MeiliSearch::new(options) else {
                    return;
                };
                if let Err(error) = index.delete_index().await {
                    eprintln!(
                        "deleting Meilisearch index {} failed: {error}",
                        index.index_name()
                    );
                }
            });
        });
        let _ = cleanup.join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_through_meilisearch() {
    let Ok(meili_url) = std::env::var("LINKYARD_TEST_MEILI_URL") else {
        eprintln!(
            "skipped: bookmark search on Meilisearch (set LINKYARD_TEST_MEILI_URL to run it)"
        );
        return;
    };
    let meili_key = std::env::var("LINKYARD_TEST_MEILI_KEY").unwrap_or_default();
    let prefix = format!("linkyard_test_{:016x}_", rand::random::<u64>());
    let _cleanup = MeiliIndexCleanup(linkyard::backends::search::meili::MeiliOptions {
        url: meili_url.clone(),
        key: Some(meili_key.clone()).filter(|key| !key.is_empty()),
        index_prefix: prefix.clone(),
        timeout: Duration::from_secs(30),
    });
    let Some(app) = spawn_app_with(Db::Sqlite, move |settings| {
        fast(settings);
        settings.search.backend = linkyard::settings::SearchBackend::Meilisearch;
        settings.search.meili_url = meili_url;
        settings.search.meili_key = meili_key;
        settings.search.index_prefix = prefix;
    })
    .await
    else {
        return;
    };
    let alice = app.create_user("alice@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let body = json!({ "url": "http://127.0.0.1/meili", "title": "Ferris on Meilisearch" });
    let alice_id = id_of(&create(&app, &alice, body.clone()).await);
    let bob_id = id_of(&create(&app, &bob, body).await);
    wait_for_search(&app, &alice, "ferris", &[alice_id]).await;
    wait_for_search(&app, &bob, "ferris", &[bob_id]).await;

    let deleted = app
        .delete(&format!("/api/bookmarks/{alice_id}"), Some(&alice))
        .await;
    assert_eq!(deleted.status(), 204);
    wait_for_search(&app, &alice, "ferris", &[]).await;
    app.shutdown().await;
}

/// Meilisearch goes away and comes back while bookmarks are saved and searched. Saves still
/// return 202, because their index jobs wait in the outbox. Searches return 503 naming
/// Meilisearch, /readyz names it, and every bookmark of the outage is searchable afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meilisearch_outage_under_load_loses_nothing() {
    let Ok(meili_url) = std::env::var("LINKYARD_TEST_MEILI_URL") else {
        eprintln!("skipped: Meilisearch outage (set LINKYARD_TEST_MEILI_URL to run it)");
        return;
    };
    let upstream = crate::helpers::upstream_of(&meili_url);
    let proxy = crate::support::proxy::CuttableProxy::start(upstream).await;
    let meili_key = std::env::var("LINKYARD_TEST_MEILI_KEY").unwrap_or_default();
    let prefix = format!("linkyard_test_{:016x}_", rand::random::<u64>());
    let _cleanup = MeiliIndexCleanup(linkyard::backends::search::meili::MeiliOptions {
        url: meili_url.clone(),
        key: Some(meili_key.clone()).filter(|key| !key.is_empty()),
        index_prefix: prefix.clone(),
        timeout: Duration::from_secs(30),
    });
    let proxied = format!("http://{}", proxy.address);
    let Some(app) = spawn_app_with(Db::Sqlite, move |settings| {
        fast(settings);
        settings.search.backend = linkyard::settings::SearchBackend::Meilisearch;
        settings.search.meili_url = proxied;
        settings.search.meili_key = meili_key;
        settings.search.index_prefix = prefix;
        settings.search.meili_timeout_ms = 1000;
        settings.queue.retry_delays_ms = vec![200];
        settings.queue.max_attempts = 100;
    })
    .await
    else {
        return;
    };
    let key = app.create_user("outage@example.com").await;
    let before = id_of(
        &create(
            &app,
            &key,
            json!({ "url": "http://127.0.0.1/before", "title": "Walrus before" }),
        )
        .await,
    );
    wait_for_search(&app, &key, "walrus", &[before]).await;

    proxy.cut();
    let mut during = Vec::new();
    for n in 0..10 {
        let body = json!({ "url": format!("http://127.0.0.1/during/{n}"), "title": format!("Walrus during {n}") });
        during.push(id_of(&create(&app, &key, body).await));
    }
    let search = app.get("/api/bookmarks/search?q=walrus", Some(&key)).await;
    assert_eq!(search.status(), 503, "search without Meilisearch");
    let body: Value = search.json().await.expect("json");
    assert_eq!(body["error"]["backend"], "meilisearch", "{body}");
    let ready: Value = app.get("/readyz", None).await.json().await.expect("json");
    let failing = ready["error"]["backend"].as_str().unwrap_or_default();
    assert!(failing.contains("meilisearch"), "{ready}");

    proxy.restore();
    let mut expected = vec![before];
    expected.extend(&during);
    wait_for_search(&app, &key, "walrus", &expected).await;
    app.shutdown().await;
}
