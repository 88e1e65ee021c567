//! Short links: creation, validation, redirects, ownership and paging.

use crate::helpers::{Db, error_code, on_both_databases, spawn_app};
use serde_json::json;

on_both_databases!(create_then_redirect);

async fn create_then_redirect(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let link = app
        .create_link(None, json!({ "url": "https://example.com/a%2Fb?x=1#top" }))
        .await;
    let code = link["code"].as_str().expect("code");
    assert_eq!(code.len(), 7);
    assert_eq!(link["url"], "https://example.com/a%2Fb?x=1#top");
    assert_eq!(link["short_url"], app.url(&format!("/{code}")));

    let response = app.get(&format!("/{code}?y=2"), None).await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        "https://example.com/a%2Fb?x=1&y=2#top"
    );
    assert_eq!(response.headers()["cache-control"], "private, max-age=0");

    let missing = app.get("/nothing-here", None).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(error_code(missing).await, "link_not_found");
    app.shutdown().await;
}
