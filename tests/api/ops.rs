//! Operations: metrics, and the coalescing of concurrent cache misses.

use crate::helpers::{Db, on_both_databases, spawn_app};
use crate::support::sqlite_pragma;
use serde_json::json;
use std::sync::atomic::Ordering;

on_both_databases!(
    concurrent_misses_read_the_database_once,
    metrics_are_exposed
);

async fn concurrent_misses_read_the_database_once(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    app.create_link(
        None,
        json!({ "url": "https://example.com/popular", "alias": "popular-link" }),
    )
    .await;
    let state = app.application().state();
    // Forget the link everywhere but the database.
    state.links.invalidate_all();
    state
        .cache
        .delete("link:popular-link")
        .await
        .expect("shared entry deleted");
    let stats = state.links.cache_stats();
    let reads_before = stats.database_reads.load(Ordering::SeqCst);

    let requests = (0..1000).map(|_| {
        let client = app.client.clone();
        let url = app.url("/popular-link");
        async move {
            client
                .get(url)
                .send()
                .await
                .expect("sent")
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(requests).await;
    assert!(statuses.iter().all(|status| *status == 302), "{statuses:?}");
    let reads = stats.database_reads.load(Ordering::SeqCst) - reads_before;
    assert_eq!(
        reads, 1,
        "1000 concurrent misses for one code read the database once"
    );
    app.shutdown().await;
}

async fn metrics_are_exposed(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let link = app
        .create_link(None, json!({ "url": "https://example.com/m" }))
        .await;
    let code = link["code"].as_str().expect("code");
    assert_eq!(app.get(&format!("/{code}"), None).await.status(), 302);
    assert_eq!(app.get("/no-such-code", None).await.status(), 404);

    let response = app.get("/metrics", None).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/plain")
    );
    let text = response.text().await.expect("body");
    for needle in [
        "linkyard_http_requests_total{route=\"/{code}\",method=\"GET\",status=\"302\"}",
        "linkyard_http_requests_total{route=\"/{code}\",method=\"GET\",status=\"404\"}",
        "linkyard_http_request_duration_seconds_count{route=\"/api/links\"}",
        "linkyard_link_cache_hot_hits_total",
        "linkyard_link_database_reads_total",
        "linkyard_actor_restarts_total",
        "linkyard_click_flushes_total",
        "linkyard_queue_depth",
        "linkyard_qr_renders_total",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn openapi_document_covers_every_route() {
    let Some(app) = spawn_app(Db::Sqlite).await else {
        return;
    };
    let response = app.get("/api/openapi.json", None).await;
    assert_eq!(response.status(), 200);
    let document: serde_json::Value = response.json().await.expect("JSON document");
    let version = document["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "OpenAPI version {version}");

    let mut missing = Vec::new();
    for route in linkyard::http::router::routes() {
        let method = route.method.as_str().to_ascii_lowercase();
        let operation = &document["paths"][route.pattern][&method];
        if !operation.is_object() {
            missing.push(format!("{} {}", route.method, route.pattern));
            continue;
        }
        // Every operation that can fail documents its errors with the shared error body.
        let responses = operation["responses"].as_object().expect("responses");
        assert!(
            !responses.is_empty(),
            "{method} {} has no responses",
            route.pattern
        );
    }
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document: {missing:?}"
    );

    let error_schema = &document["components"]["schemas"]["ErrorBody"];
    assert!(error_schema.is_object(), "the error body has a schema");
    assert!(
        document["components"]["securitySchemes"]["api_key"].is_object(),
        "the bearer key scheme is described"
    );
}

/// A job carries the id of the request that caused it, so its log lines can be matched up.
#[tokio::test]
async fn jobs_carry_the_request_id() {
    use sea_orm::{ConnectionTrait, Statement};
    let Some(app) = crate::helpers::spawn_app_with(Db::Sqlite, |settings| {
        // No consumer runs in this process, so the outbox row stays for inspection.
        settings.queue.consume_in_serve = false;
    })
    .await
    else {
        return;
    };
    let response = app
        .client
        .post(app.url("/api/links"))
        .header("x-request-id", "trace-abc-123")
        .json(&json!({ "url": "https://example.com/traced" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-request-id"], "trace-abc-123");

    let db = &app.application().state().db;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT kind, request_id FROM outbox",
        ))
        .await
        .expect("outbox read");
    assert_eq!(rows.len(), 1, "one pre-render job");
    let request_id: Option<String> = rows[0].try_get("", "request_id").expect("column");
    assert_eq!(request_id.as_deref(), Some("trace-abc-123"));
    app.shutdown().await;
}

#[tokio::test]
async fn queue_pool_skips_flush_on_sqlite() {
    let Some(app) = spawn_app(Db::Sqlite).await else {
        return;
    };
    let application = app.application();

    // SQLite numbers the levels OFF 0, NORMAL 1, FULL 2.
    assert_eq!(
        sqlite_pragma(&application.state().db, "synchronous").await,
        "2"
    );
    assert_eq!(
        sqlite_pragma(application.queue_database(), "synchronous").await,
        "1"
    );
    app.shutdown().await;
}
