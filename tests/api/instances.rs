//! Several instances sharing PostgreSQL and Redis, and Redis going away under them.

use crate::helpers::{Db, TestApp, error_code, spawn_app_with, spawn_instance_of};
use crate::support::eventually;
use crate::support::redis::OwnRedis;
use linkyard::settings::{CacheBackend, Settings};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const SHARED_REDIS: &str = "redis://127.0.0.1:6379";

fn redis_reachable(url: &str) -> bool {
    let address = url.trim_start_matches("redis://");
    let reachable = address.parse().ok().is_some_and(|address| {
        std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok()
    });
    if !reachable {
        eprintln!("skipped: Redis at {url} is unreachable");
    }
    reachable
}

fn use_redis(settings: &mut Settings, url: &str, prefix: &str) {
    settings.cache.backend = CacheBackend::Redis;
    settings.cache.redis_url = url.to_owned();
    settings.cache.key_prefix = prefix.to_owned();
}

async fn location(app: &TestApp, path: &str) -> Option<String> {
    let response = app.get(path, None).await;
    (response.status() == 302).then(|| {
        response.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned()
    })
}

async fn delete_keys(app: &TestApp) {
    let settings = app.application().state().settings.cache.clone();
    if let Ok(cache) = linkyard::backends::cache::redis::RedisCache::connect(&settings).await {
        let _ = cache.delete_prefixed_keys().await;
    }
}

/// An update through one instance reaches another within a second, through the shared cache
/// and its invalidation, even though the other instance had the old target in its hot cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_other_instances_within_a_second() {
    if !redis_reachable(SHARED_REDIS) {
        return;
    }
    let prefix = format!("linkyard-test-{:016x}:", rand::random::<u64>());
    let Some(a) = spawn_app_with(Db::Postgres, |s| use_redis(s, SHARED_REDIS, &prefix)).await
    else {
        return;
    };
    let b = spawn_instance_of(&a, |s| use_redis(s, SHARED_REDIS, &prefix)).await;
    let key = a.create_user("shared@example.com").await;

    a.create_link(
        Some(&key),
        json!({ "url": "https://example.com/old", "alias": "shared-link" }),
    )
    .await;
    assert_eq!(
        location(&b, "/shared-link").await.as_deref(),
        Some("https://example.com/old")
    );

    let changed = Instant::now();
    let patch = a
        .patch_json(
            "/api/links/shared-link",
            Some(&key),
            &json!({ "url": "https://example.com/new" }),
        )
        .await;
    assert_eq!(patch.status(), 200);
    let seen = eventually(Duration::from_secs(1), || async {
        (location(&b, "/shared-link").await.as_deref() == Some("https://example.com/new"))
            .then_some(())
    })
    .await;
    assert!(
        seen.is_some(),
        "the update reached instance B within a second"
    );
    assert!(changed.elapsed() < Duration::from_secs(1));

    // A code that B cached as unknown becomes known as soon as A creates it.
    assert_eq!(b.get("/fresh-alias", None).await.status(), 404);
    a.create_link(
        Some(&key),
        json!({ "url": "https://example.com/fresh", "alias": "fresh-alias" }),
    )
    .await;
    let created = eventually(Duration::from_secs(1), || async {
        location(&b, "/fresh-alias").await
    })
    .await;
    assert_eq!(created.as_deref(), Some("https://example.com/fresh"));

    assert_eq!(
        a.delete("/api/links/shared-link", Some(&key))
            .await
            .status(),
        204
    );
    let gone = eventually(Duration::from_secs(1), || async {
        (b.get("/shared-link", None).await.status() == 404).then_some(())
    })
    .await;
    assert!(
        gone.is_some(),
        "the delete reached instance B within a second"
    );

    delete_keys(&a).await;
    b.shutdown().await;
    a.shutdown().await;
}

/// Links created through several instances at once get distinct codes from disjoint id blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_never_share_codes() {
    let Some(a) = spawn_app_with(Db::Postgres, |_| {}).await else {
        return;
    };
    let b = spawn_instance_of(&a, |_| {}).await;
    let mut requests = Vec::new();
    for i in 0..100 {
        let app = if i % 2 == 0 { &a } else { &b };
        let url = app.url("/api/links");
        let client = app.client.clone();
        requests.push(async move {
            let response = client
                .post(url)
                .json(&json!({ "url": format!("https://example.com/{i}") }))
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), 201);
            let body: Value = response.json().await.expect("json");
            body["code"].as_str().expect("code").to_owned()
        });
    }
    let codes = futures_util::future::join_all(requests).await;
    let distinct: std::collections::HashSet<&String> = codes.iter().collect();
    assert_eq!(distinct.len(), 100);
    // Every code resolves through either instance.
    for code in codes.iter().take(10) {
        assert_eq!(b.get(&format!("/{code}"), None).await.status(), 302);
        assert_eq!(a.get(&format!("/{code}"), None).await.status(), 302);
    }
    b.shutdown().await;
    a.shutdown().await;
}

/// With Redis gone, redirects keep working from the hot cache and the database, writes still
/// succeed, and /readyz names Redis until it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_survive_a_redis_outage() {
    let Some(mut redis) = OwnRedis::start() else {
        return;
    };
    let url = redis.url();
    let Some(app) = spawn_app_with(Db::Sqlite, |s| {
        use_redis(s, &url, "linkyard-test-outage:");
        s.cache.connect_timeout_ms = 500;
    })
    .await
    else {
        return;
    };
    app.create_link(
        None,
        json!({ "url": "https://example.com/hot", "alias": "hot-link" }),
    )
    .await;
    app.create_link(
        None,
        json!({ "url": "https://example.com/cold", "alias": "cold-link" }),
    )
    .await;
    assert!(location(&app, "/hot-link").await.is_some());

    redis.kill();
    let links = &app.application().state().links;
    assert_eq!(
        location(&app, "/hot-link").await.as_deref(),
        Some("https://example.com/hot")
    );
    links.invalidate_all();
    let started = Instant::now();
    assert_eq!(
        location(&app, "/cold-link").await.as_deref(),
        Some("https://example.com/cold")
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a dead Redis fails fast"
    );
    app.create_link(
        None,
        json!({ "url": "https://example.com/during", "alias": "made-during" }),
    )
    .await;
    assert_eq!(
        location(&app, "/made-during").await.as_deref(),
        Some("https://example.com/during")
    );
    assert_eq!(app.get("/not-a-link", None).await.status(), 404);

    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.expect("json");
    let failing = body["error"]["backend"].as_str().expect("backends");
    assert!(failing.contains("redis"), "{body}");

    redis.restart().expect("redis restarts");
    let ready = eventually(Duration::from_secs(10), || async {
        (app.get("/readyz", None).await.status() == 200).then_some(())
    })
    .await;
    assert!(ready.is_some(), "ready again once Redis is back");
    assert!(location(&app, "/cold-link").await.is_some());
    app.shutdown().await;
}

/// A client that draws too many 404s, or creates too fast, gets 429 with Retry-After, and is
/// served again once its bucket refills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_and_recover() {
    let Some(app) = spawn_app_with(Db::Sqlite, |s| {
        s.rate_limit.enabled = true;
        s.rate_limit.create.capacity = std::num::NonZeroU32::new(3).expect("nonzero");
        s.rate_limit.create.refill_per_sec = 5.0;
        s.rate_limit.not_found.capacity = std::num::NonZeroU32::new(2).expect("nonzero");
        s.rate_limit.not_found.refill_per_sec = 1.0;
    })
    .await
    else {
        return;
    };
    for i in 0..3 {
        app.create_link(None, json!({ "url": format!("https://example.com/{i}") }))
            .await;
    }
    let limited = app
        .post_json(
            "/api/links",
            None,
            &json!({ "url": "https://example.com/x" }),
        )
        .await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_eq!(error_code(limited).await, "rate_limited");
    let recovered = eventually(Duration::from_secs(5), || async {
        let response = app
            .post_json(
                "/api/links",
                None,
                &json!({ "url": "https://example.com/y" }),
            )
            .await;
        (response.status() == 201).then_some(())
    })
    .await;
    assert!(recovered.is_some(), "creation works again after the refill");

    // Guessing codes: two 404s empty the bucket, then even a real code is refused for a while.
    let key = app.create_user("other-client@example.com").await;
    let real = app
        .create_link(
            Some(&key),
            json!({ "url": "https://example.com/real", "alias": "real-one" }),
        )
        .await;
    assert_eq!(real["code"], "real-one");
    for guess in ["guess-1", "guess-2", "guess-3"] {
        app.get(&format!("/{guess}"), None).await;
    }
    let blocked = app.get("/real-one", None).await;
    assert_eq!(blocked.status(), 429);
    let served = eventually(Duration::from_secs(5), || async {
        (app.get("/real-one", None).await.status() == 302).then_some(())
    })
    .await;
    assert!(served.is_some(), "redirects resume once the bucket refills");

    // Another client, by API key, has buckets of its own.
    let own = app
        .post_json(
            "/api/links",
            Some(&key),
            &json!({ "url": "https://example.com/z" }),
        )
        .await;
    assert_eq!(own.status(), 201);
    app.shutdown().await;
}
