//! Click analytics: exact counts for a scripted mix of visitors, bots and HEAD requests, the
//! client address behind trusted and untrusted proxies, visit limits against bots, top links.

use crate::helpers::{Db, TestApp, error_code, on_both_databases, spawn_app_with};
use crate::support::mmdb;
use serde_json::{Value, json};
use std::net::Ipv4Addr;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const SLACKBOT: &str = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)";

on_both_databases!(
    scripted_mix_counts_exactly,
    unique_visitors_survive_a_restart,
    untrusted_forwarded_for_is_ignored,
    bots_never_use_up_visits,
    top_lists_the_callers_links,
    stats_options_are_validated,
);

/// An application behind a trusted proxy on 127.0.0.1, with a country database for two
/// documentation networks.
async fn analytics_app(db: Db, trust_proxy: bool) -> Option<TestApp> {
    let database = mmdb::country_database(&[
        (Ipv4Addr::new(203, 0, 113, 0), 24, "DE"),
        (Ipv4Addr::new(198, 51, 100, 0), 24, "FR"),
    ]);
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory.path().join("countries.mmdb");
    std::fs::write(&path, database).expect("write the country database");
    let app = spawn_app_with(db, |settings| {
        settings.analytics.geoip_db = path.clone();
        if trust_proxy {
            settings.server.trusted_proxies = vec!["127.0.0.1/32".to_owned()];
        }
    })
    .await;
    // The database is read at start-up, so the directory may go now.
    drop(directory);
    app
}

async fn visit(
    app: &TestApp,
    code: &str,
    agent: &str,
    forwarded_for: &str,
    referrer: Option<&str>,
) -> u16 {
    let mut request = app
        .client
        .get(app.url(&format!("/{code}")))
        .header("user-agent", agent)
        .header("x-forwarded-for", forwarded_for);
    if let Some(referrer) = referrer {
        request = request.header("referer", referrer);
    }
    request.send().await.expect("sent").status().as_u16()
}

async fn stats(app: &TestApp, code: &str, key: Option<&str>) -> Value {
    app.application()
        .state()
        .clicks
        .flush()
        .await
        .expect("clicks flushed");
    let response = app.get(&format!("/api/links/{code}/stats"), key).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

fn count_of(list: &Value, value: Option<&str>) -> i64 {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|entry| entry["value"].as_str() == value)
        .map(|entry| entry["count"].as_i64().expect("count"))
        .unwrap_or(0)
}

async fn scripted_mix_counts_exactly(db: Db) {
    let Some(app) = analytics_app(db, true).await else {
        return;
    };
    let link = app
        .create_link(None, json!({ "url": "https://example.com/counted" }))
        .await;
    let code = link["code"].as_str().expect("code");

    for _ in 0..3 {
        assert_eq!(visit(&app, code, FIREFOX, "203.0.113.7", None).await, 302);
    }
    let referrer = Some("https://News.Example.com/story?id=1");
    assert_eq!(
        visit(&app, code, SAFARI_IPHONE, "198.51.100.9", referrer).await,
        302
    );
    assert_eq!(visit(&app, code, SLACKBOT, "203.0.113.50", None).await, 302);
    assert_eq!(visit(&app, code, SLACKBOT, "203.0.113.51", None).await, 302);
    assert_eq!(
        visit(&app, code, "curl/8.5.0", "203.0.113.52", None).await,
        302
    );
    for _ in 0..2 {
        let head = app
            .client
            .head(app.url(&format!("/{code}")))
            .send()
            .await
            .expect("sent");
        assert_eq!(head.status(), 302);
    }

    let body = stats(&app, code, None).await;
    assert_eq!(body["total"], 7, "{body}");
    assert_eq!(body["humans"], 4, "{body}");
    assert_eq!(body["bots"], 3, "{body}");
    assert_eq!(body["unique"], 2, "{body}");
    let series_total: i64 = body["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|point| point["total"].as_i64().expect("total"))
        .sum();
    assert_eq!(series_total, 7);

    assert_eq!(
        count_of(&body["referrers"], Some("news.example.com")),
        1,
        "{body}"
    );
    assert_eq!(count_of(&body["referrers"], None), 3, "{body}");
    assert_eq!(count_of(&body["countries"], Some("DE")), 3, "{body}");
    assert_eq!(count_of(&body["countries"], Some("FR")), 1, "{body}");
    assert_eq!(count_of(&body["browsers"], Some("Firefox")), 3, "{body}");
    assert_eq!(count_of(&body["browsers"], Some("Safari")), 1, "{body}");
    assert_eq!(count_of(&body["devices"], Some("desktop")), 3, "{body}");
    assert_eq!(count_of(&body["devices"], Some("mobile")), 1, "{body}");

    let read: Value = app
        .get(&format!("/api/links/{code}"), None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(read["visits"], 4, "visits count humans only");
    app.shutdown().await;
}

async fn unique_visitors_survive_a_restart(db: Db) {
    let Some(mut app) = analytics_app(db, true).await else {
        return;
    };
    let link = app
        .create_link(None, json!({ "url": "https://example.com/kept" }))
        .await;
    let code = link["code"].as_str().expect("code").to_owned();
    for address in ["203.0.113.1", "203.0.113.2", "198.51.100.3"] {
        assert_eq!(visit(&app, &code, FIREFOX, address, None).await, 302);
    }
    assert_eq!(stats(&app, &code, None).await["unique"], 3);

    // The country database was removed after the first start; the restart goes without it.
    app.restart(|settings| settings.analytics.geoip_db = std::path::PathBuf::new())
        .await;
    assert_eq!(visit(&app, &code, FIREFOX, "203.0.113.1", None).await, 302);
    let body = stats(&app, &code, None).await;
    assert_eq!(
        body["unique"], 3,
        "the returning visitor is not new: {body}"
    );
    assert_eq!(body["humans"], 4, "{body}");
    app.shutdown().await;
}

async fn untrusted_forwarded_for_is_ignored(db: Db) {
    let Some(app) = analytics_app(db, false).await else {
        return;
    };
    let link = app
        .create_link(None, json!({ "url": "https://example.com/spoofed" }))
        .await;
    let code = link["code"].as_str().expect("code");
    // Without a trusted proxy every forwarded address is the client's own claim: the visits
    // all come from 127.0.0.1, one visitor, in no known country.
    for forwarded in ["203.0.113.1", "198.51.100.2", "203.0.113.3"] {
        assert_eq!(visit(&app, code, FIREFOX, forwarded, None).await, 302);
    }
    let body = stats(&app, code, None).await;
    assert_eq!(body["humans"], 3, "{body}");
    assert_eq!(body["unique"], 1, "{body}");
    assert_eq!(count_of(&body["countries"], None), 3, "{body}");
    app.shutdown().await;
}

async fn bots_never_use_up_visits(db: Db) {
    let Some(app) = analytics_app(db, true).await else {
        return;
    };
    let link = app
        .create_link(
            None,
            json!({ "url": "https://example.com/once", "max_visits": 1 }),
        )
        .await;
    let code = link["code"].as_str().expect("code");
    for _ in 0..3 {
        assert_eq!(
            visit(&app, code, SLACKBOT, "203.0.113.5", None).await,
            302,
            "previews pass"
        );
    }
    assert_eq!(
        visit(&app, code, FIREFOX, "203.0.113.6", None).await,
        302,
        "the one visit"
    );
    assert_eq!(visit(&app, code, FIREFOX, "203.0.113.7", None).await, 404);
    let response = app
        .client
        .get(app.url(&format!("/{code}")))
        .header("user-agent", SLACKBOT)
        .send()
        .await
        .expect("sent");
    assert_eq!(error_code(response).await, "link_visit_limit_reached");

    let body = stats(&app, code, None).await;
    assert_eq!(body["humans"], 1, "{body}");
    assert_eq!(body["bots"], 3, "{body}");
    app.shutdown().await;
}

async fn top_lists_the_callers_links(db: Db) {
    let Some(app) = analytics_app(db, true).await else {
        return;
    };
    let alice = app.create_user("alice@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    app.create_link(
        Some(&alice),
        json!({ "url": "https://example.com/a", "alias": "alice-hot" }),
    )
    .await;
    app.create_link(
        Some(&alice),
        json!({ "url": "https://example.com/b", "alias": "alice-cold" }),
    )
    .await;
    app.create_link(
        Some(&bob),
        json!({ "url": "https://example.com/c", "alias": "bob-only" }),
    )
    .await;
    for (code, visits) in [("alice-hot", 3), ("alice-cold", 1), ("bob-only", 5)] {
        for i in 0..visits {
            visit(&app, code, FIREFOX, &format!("203.0.113.{i}"), None).await;
        }
    }
    app.application()
        .state()
        .clicks
        .flush()
        .await
        .expect("flushed");

    let top: Value = app
        .get("/api/stats/top?window=1h&limit=10", Some(&alice))
        .await
        .json()
        .await
        .expect("json");
    let items = top["items"].as_array().expect("items");
    let codes: Vec<&str> = items
        .iter()
        .map(|item| item["code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes, ["alice-hot", "alice-cold"], "{top}");
    assert_eq!(items[0]["clicks"], 3);
    assert_eq!(app.get("/api/stats/top", None).await.status(), 401);
    let bad = app.get("/api/stats/top?window=2w", Some(&alice)).await;
    assert_eq!(error_code(bad).await, "invalid_window");
    app.shutdown().await;
}

async fn stats_options_are_validated(db: Db) {
    let Some(app) = analytics_app(db, true).await else {
        return;
    };
    let key = app.create_user("carol@example.com").await;
    app.create_link(
        Some(&key),
        json!({ "url": "https://example.com/", "alias": "carols" }),
    )
    .await;
    let cases = [
        ("interval=week", "invalid_interval"),
        ("from=yesterday", "invalid_time"),
        ("from=2026-12-05&to=2026-12-01", "invalid_range"),
        ("from=2020-01-01&interval=hour", "range_too_long"),
    ];
    for (query, code) in cases {
        let response = app
            .get(&format!("/api/links/carols/stats?{query}"), Some(&key))
            .await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(error_code(response).await, code, "{query}");
    }
    let other = app.create_user("dave@example.com").await;
    assert_eq!(
        app.get("/api/links/carols/stats", Some(&other))
            .await
            .status(),
        403
    );
    let hourly = app.get("/api/links/carols/stats?interval=hour&from=2026-12-01T00:00:00Z&to=2026-12-01T06:00:00Z", Some(&key)).await;
    let body: Value = hourly.json().await.expect("json");
    assert_eq!(
        body["series"].as_array().expect("series").len(),
        6,
        "{body}"
    );
    app.shutdown().await;
}
