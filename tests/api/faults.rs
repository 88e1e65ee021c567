//! Backend faults: the service answers what it can and names what it cannot.

use crate::helpers::{Db, error_code, spawn_app};
use serde_json::{Value, json};

/// With the database cut off, a cached redirect still works, a generated code that cannot exist
/// is a 404 (no database read needed), and anything that needs the database is a 503 naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_named_and_survived() {
    let Some(app) = spawn_app(Db::Postgres).await else {
        return;
    };
    let link = app
        .create_link(None, json!({ "url": "https://example.com/hot" }))
        .await;
    let code = link["code"].as_str().expect("code").to_owned();
    assert_eq!(app.get(&format!("/{code}"), None).await.status(), 302);

    let postgres = app.postgres.as_ref().expect("postgres database");
    postgres.cut_off().await;

    let hot = app.get(&format!("/{code}"), None).await;
    assert_eq!(hot.status(), 302, "a cached redirect needs no database");

    let impossible = app.get("/zzzzzzz", None).await;
    assert_eq!(impossible.status(), 404);
    assert_eq!(error_code(impossible).await, "link_not_found");

    let unknown_alias = app.get("/some-alias", None).await;
    assert_eq!(unknown_alias.status(), 503);
    assert!(unknown_alias.headers().contains_key("retry-after"));
    let body: Value = unknown_alias.json().await.expect("json");
    assert_eq!(body["error"]["code"], "backend_unavailable");
    assert_eq!(body["error"]["backend"], "database");

    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.expect("json");
    let failing = body["error"]["backend"].as_str().expect("failing backends");
    assert!(failing.split(',').any(|name| name == "database"), "{body}");
    assert_eq!(body["backends"]["filesystem"], "ok", "{body}");

    postgres.restore().await;
    let again = app.get("/some-alias", None).await;
    assert_eq!(again.status(), 404, "the database is back");
    assert_eq!(app.get("/readyz", None).await.status(), 200);
    app.shutdown().await;
}

/// A client that never finishes its request headers is disconnected after the header read
/// timeout, so slow clients cannot hold connections open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(app) = crate::helpers::spawn_app_with(Db::Sqlite, |settings| {
        settings.server.header_read_timeout_ms = 300;
    })
    .await
    else {
        return;
    };
    let mut stream = tokio::net::TcpStream::connect(app.application().local_addr())
        .await
        .expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");

    let started = std::time::Instant::now();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut buffer),
    )
    .await
    .expect("the server closes the connection");
    assert!(read.is_ok());
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    app.shutdown().await;
}
