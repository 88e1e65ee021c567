//! Short links: creation, validation, redirects, ownership and paging.

use crate::helpers::{Db, TestApp, error_code, on_both_databases, spawn_app, spawn_app_with};
use crate::support::eventually;
use serde_json::{Value, json};
use std::time::Duration;

on_both_databases!(
    create_then_redirect,
    url_rules_have_their_own_codes,
    stored_url_and_location_are_exact,
    alias_rules_have_their_own_codes,
    unicode_alias_round_trips,
    aliases_are_case_sensitive,
    concurrent_alias_creates_conflict,
    max_visits_is_exact_under_concurrency,
    head_never_uses_a_visit,
    expiry_boundaries,
    redirect_status_and_caching,
    query_forwarding_can_be_turned_off,
    ownership_is_enforced,
    anonymous_creation_can_be_disabled,
    keyset_paging_lists_own_links,
    update_and_delete_take_effect,
    invalid_bodies_are_rejected,
    shard_failure_is_survived,
);

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
    assert_eq!(
        link["qr_url"],
        app.url(&format!("/api/links/{code}/qr.png"))
    );
    assert_eq!(link["redirect"], 302);
    assert_eq!(link["visits"], 0);

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

async fn assert_rejected(app: &TestApp, body: Value, code: &str, field: &str) {
    let response = app.post_json("/api/links", None, &body).await;
    assert_eq!(response.status(), 400, "{body}");
    let json: Value = response.json().await.expect("json");
    assert_eq!(json["error"]["code"], code, "{body} gave {json}");
    assert_eq!(json["error"]["field"], field, "{body} gave {json}");
}

async fn url_rules_have_their_own_codes(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let host = app.base.trim_start_matches("http://").to_owned();
    let own_host = host.split(':').next().expect("host").to_owned();
    let long = format!("https://example.com/{}", "a".repeat(8192));
    let cases = [
        (json!(""), "url_empty"),
        (json!("not a url"), "url_invalid"),
        (json!("/relative"), "url_invalid"),
        (json!("javascript:alert(1)"), "url_scheme_not_allowed"),
        (json!("JavaScript:alert(1)"), "url_scheme_not_allowed"),
        (json!("  javascript:alert(1)"), "url_scheme_not_allowed"),
        (json!("java\tscript:alert(1)"), "url_scheme_not_allowed"),
        (json!("ftp://example.com/file"), "url_scheme_not_allowed"),
        (
            json!("https://user:secret@example.com/"),
            "url_userinfo_not_allowed",
        ),
        (json!(format!("http://{host}/x")), "url_own_host"),
        (
            json!(format!("http://{}/x", own_host.to_uppercase())),
            "url_own_host",
        ),
        (json!(format!("http://{own_host}./x")), "url_own_host"),
        (json!(long), "url_too_long"),
    ];
    for (url, code) in cases {
        assert_rejected(&app, json!({ "url": url }), code, "url").await;
    }

    let response = app
        .post_json("/api/links", None, &json!({ "url": "ftp://x.example/" }))
        .await;
    let json: Value = response.json().await.expect("json");
    let message = json["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("'ftp'"),
        "message must name the value: {message}"
    );
    app.shutdown().await;
}

async fn stored_url_and_location_are_exact(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let cases = [
        (
            "https://bücher.example/straße?q=ü",
            "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC",
        ),
        (
            "https://example.com/a%2fb%20c",
            "https://example.com/a%2fb%20c",
        ),
        (
            "https://example.com/path with space",
            "https://example.com/path%20with%20space",
        ),
        (
            "HTTPS://Example.COM:443/Keep#Frag",
            "https://example.com/Keep#Frag",
        ),
        (
            "http://example.com:8080/?a=%41&b=%",
            "http://example.com:8080/?a=%41&b=%",
        ),
    ];
    for (input, stored) in cases {
        let link = app
            .create_link(None, json!({ "url": input, "forward_query": false }))
            .await;
        assert_eq!(link["url"], stored, "{input}");
        let code = link["code"].as_str().expect("code");
        let response = app.get(&format!("/{code}"), None).await;
        assert_eq!(response.headers()["location"], stored, "{input}");
    }
    app.shutdown().await;
}

async fn alias_rules_have_their_own_codes(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let long = "a".repeat(65);
    let cases = [
        ("", "alias_empty"),
        ("has space", "alias_invalid_character"),
        ("slash/y", "alias_invalid_character"),
        ("dot.y", "alias_invalid_character"),
        ("abcdefg", "alias_code_shaped"),
        ("Abcdefg1", "alias_code_shaped"),
        ("api", "alias_reserved"),
        ("API", "alias_reserved"),
        ("healthz", "alias_reserved"),
        ("readyz", "alias_reserved"),
        (long.as_str(), "alias_too_long"),
    ];
    for (alias, code) in cases {
        let body = json!({ "url": "https://example.com/", "alias": alias });
        assert_rejected(&app, body, code, "alias").await;
    }
    app.shutdown().await;
}

async fn unicode_alias_round_trips(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    // Created in decomposed form (e + combining acute), found in composed form.
    let link = app
        .create_link(
            None,
            json!({ "url": "https://example.com/menu", "alias": "cafe\u{301}-menu" }),
        )
        .await;
    assert_eq!(link["code"], "caf\u{e9}-menu");
    assert_eq!(link["short_url"], app.url("/caf%C3%A9-menu"));

    let response = app.get("/caf%C3%A9-menu", None).await;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "https://example.com/menu");

    let read = app.get("/api/links/caf%C3%A9-menu", None).await;
    assert_eq!(read.status(), 200);
    app.shutdown().await;
}

async fn aliases_are_case_sensitive(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    app.create_link(
        None,
        json!({ "url": "https://example.com/lower", "alias": "promo" }),
    )
    .await;
    app.create_link(
        None,
        json!({ "url": "https://example.com/upper", "alias": "PROMO" }),
    )
    .await;
    let lower = app.get("/promo", None).await;
    assert_eq!(lower.headers()["location"], "https://example.com/lower");
    let upper = app.get("/PROMO", None).await;
    assert_eq!(upper.headers()["location"], "https://example.com/upper");
    let other = app.get("/Promo", None).await;
    assert_eq!(other.status(), 404);
    app.shutdown().await;
}

async fn concurrent_alias_creates_conflict(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    for round in 0..5 {
        let alias = format!("race-{round}");
        let requests = (0..2).map(|i| {
            let body = json!({ "url": format!("https://example.com/{i}"), "alias": alias });
            let client = app.client.clone();
            let url = app.url("/api/links");
            async move { client.post(url).json(&body).send().await.expect("sent") }
        });
        let responses = futures_util::future::join_all(requests).await;
        let mut statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "round {round}");
        for response in responses {
            if response.status() == 409 {
                assert_eq!(error_code(response).await, "alias_taken");
            }
        }
    }
    app.shutdown().await;
}

async fn max_visits_is_exact_under_concurrency(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let link = app
        .create_link(
            None,
            json!({ "url": "https://example.com/limited", "max_visits": 2 }),
        )
        .await;
    let code = link["code"].as_str().expect("code").to_owned();

    let requests = (0..10).map(|_| {
        let client = app.client.clone();
        let url = app.url(&format!("/{code}"));
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
    assert_eq!(
        statuses.iter().filter(|s| **s == 302).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 404).count(),
        8,
        "{statuses:?}"
    );

    let exhausted = app.get(&format!("/{code}"), None).await;
    assert_eq!(error_code(exhausted).await, "link_visit_limit_reached");
    let read: Value = app
        .get(&format!("/api/links/{code}"), None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(read["visits"], 2);
    app.shutdown().await;
}

async fn head_never_uses_a_visit(db: Db) {
    let Some(app) = spawn_app(db).await else {
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
        let head = app
            .client
            .head(app.url(&format!("/{code}")))
            .send()
            .await
            .expect("sent");
        assert_eq!(head.status(), 302);
        assert_eq!(head.headers()["location"], "https://example.com/once");
    }
    assert_eq!(app.get(&format!("/{code}"), None).await.status(), 302);
    assert_eq!(app.get(&format!("/{code}"), None).await.status(), 404);
    app.shutdown().await;
}

async fn expiry_boundaries(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let past = (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
    let body = json!({ "url": "https://example.com/", "expires_at": past });
    assert_rejected(&app, body, "expires_at_in_past", "expires_at").await;
    let body = json!({ "url": "https://example.com/", "expires_at": "tomorrow" });
    assert_rejected(&app, body, "invalid_expires_at", "expires_at").await;

    let soon = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let link = app
        .create_link(
            None,
            json!({ "url": "https://example.com/soon", "expires_at": soon.to_rfc3339() }),
        )
        .await;
    let code = link["code"].as_str().expect("code").to_owned();
    assert_eq!(app.get(&format!("/{code}"), None).await.status(), 302);

    let expired = eventually(Duration::from_secs(5), || async {
        let response = app.get(&format!("/{code}"), None).await;
        (response.status() == 404).then_some(response)
    })
    .await
    .expect("link expires");
    assert!(chrono::Utc::now() >= soon, "expired before its time");
    assert_eq!(error_code(expired).await, "link_expired");
    app.shutdown().await;
}

async fn redirect_status_and_caching(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let cases = [
        (301, "private, max-age=300"),
        (302, "private, max-age=0"),
        (307, "private, max-age=0"),
        (308, "private, max-age=300"),
    ];
    for (status, cache_control) in cases {
        let link = app
            .create_link(
                None,
                json!({ "url": "https://example.com/", "redirect": status }),
            )
            .await;
        let response = app
            .get(&format!("/{}", link["code"].as_str().expect("code")), None)
            .await;
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(
            response.headers()["cache-control"],
            cache_control,
            "{status}"
        );
    }
    let counted = app
        .create_link(
            None,
            json!({ "url": "https://example.com/", "redirect": 301, "max_visits": 5 }),
        )
        .await;
    let response = app
        .get(
            &format!("/{}", counted["code"].as_str().expect("code")),
            None,
        )
        .await;
    assert_eq!(response.headers()["cache-control"], "private, max-age=0");

    for bad in [json!(303), json!(200), json!("302")] {
        let response = app
            .post_json(
                "/api/links",
                None,
                &json!({ "url": "https://example.com/", "redirect": bad }),
            )
            .await;
        assert_eq!(response.status(), 400, "{bad}");
    }
    app.shutdown().await;
}

async fn query_forwarding_can_be_turned_off(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let link = app
        .create_link(
            None,
            json!({ "url": "https://example.com/p#frag", "forward_query": false }),
        )
        .await;
    let response = app
        .get(
            &format!("/{}?utm=1", link["code"].as_str().expect("code")),
            None,
        )
        .await;
    assert_eq!(response.headers()["location"], "https://example.com/p#frag");

    let forwarding = app
        .create_link(None, json!({ "url": "https://example.com/p#frag" }))
        .await;
    let code = forwarding["code"].as_str().expect("code");
    let response = app.get(&format!("/{code}?a=%20b&c"), None).await;
    assert_eq!(
        response.headers()["location"],
        "https://example.com/p?a=%20b&c#frag"
    );
    app.shutdown().await;
}

async fn ownership_is_enforced(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let alice = app.create_user("alice@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let link = app
        .create_link(Some(&alice), json!({ "url": "https://example.com/alice" }))
        .await;
    let path = format!("/api/links/{}", link["code"].as_str().expect("code"));

    assert_eq!(app.get(&path, Some(&alice)).await.status(), 200);
    let read = app.get(&path, Some(&bob)).await;
    assert_eq!(read.status(), 403);
    assert_eq!(error_code(read).await, "not_owner");
    let patch = app
        .patch_json(
            &path,
            Some(&bob),
            &json!({ "url": "https://evil.example/" }),
        )
        .await;
    assert_eq!(patch.status(), 403);
    assert_eq!(app.delete(&path, Some(&bob)).await.status(), 403);
    let anonymous = app
        .patch_json(&path, None, &json!({ "disabled": true }))
        .await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(error_code(anonymous).await, "auth_required");
    let forged = app.get(&path, Some("ly_not-a-real-key")).await;
    assert_eq!(forged.status(), 401);
    assert_eq!(error_code(forged).await, "invalid_api_key");

    let anonymous_link = app
        .create_link(None, json!({ "url": "https://example.com/anon" }))
        .await;
    let anonymous_path = format!(
        "/api/links/{}",
        anonymous_link["code"].as_str().expect("code")
    );
    assert_eq!(app.get(&anonymous_path, None).await.status(), 200);
    let change = app.delete(&anonymous_path, Some(&alice)).await;
    assert_eq!(change.status(), 403);
    assert_eq!(error_code(change).await, "link_anonymous");

    let unchanged: Value = app
        .get(&path, Some(&alice))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(unchanged["url"], "https://example.com/alice");
    app.shutdown().await;
}

async fn anonymous_creation_can_be_disabled(db: Db) {
    let Some(app) = spawn_app_with(db, |settings| settings.links.anonymous_create = false).await
    else {
        return;
    };
    let response = app
        .post_json(
            "/api/links",
            None,
            &json!({ "url": "https://example.com/" }),
        )
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "auth_required");
    let key = app.create_user("carol@example.com").await;
    app.create_link(Some(&key), json!({ "url": "https://example.com/" }))
        .await;
    app.shutdown().await;
}

async fn keyset_paging_lists_own_links(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let alice = app.create_user("alice@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let mut created = Vec::new();
    for i in 0..25 {
        let link = app
            .create_link(
                Some(&alice),
                json!({ "url": format!("https://example.com/{i}") }),
            )
            .await;
        created.push(link["code"].as_str().expect("code").to_owned());
        if i % 5 == 0 {
            app.create_link(Some(&bob), json!({ "url": "https://example.com/bob" }))
                .await;
        }
    }

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/links?limit=10&cursor={cursor}"),
            None => "/api/links?limit=10".to_owned(),
        };
        let page: Value = app
            .get(&path, Some(&alice))
            .await
            .json()
            .await
            .expect("json");
        pages += 1;
        for item in page["items"].as_array().expect("items") {
            seen.push(item["code"].as_str().expect("code").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    created.reverse();
    assert_eq!(seen, created, "newest first, each link once, only alice's");

    for bad in [
        "/api/links?cursor=abc",
        "/api/links?cursor=-1",
        "/api/links?limit=0",
        "/api/links?limit=1000",
        "/api/links?limit=x",
    ] {
        let response = app.get(bad, Some(&alice)).await;
        assert_eq!(response.status(), 400, "{bad}");
    }
    assert_eq!(app.get("/api/links", None).await.status(), 401);
    app.shutdown().await;
}

async fn update_and_delete_take_effect(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let key = app.create_user("dana@example.com").await;
    let link = app
        .create_link(Some(&key), json!({ "url": "https://example.com/old", "alias": "moving-link", "tags": ["a", " b ", "a"] }))
        .await;
    assert_eq!(link["tags"], json!(["a", "b"]));

    let updated = app
        .patch_json(
            "/api/links/moving-link",
            Some(&key),
            &json!({ "url": "https://example.com/new", "redirect": 307, "max_visits": null }),
        )
        .await;
    assert_eq!(updated.status(), 200);
    let response = app.get("/moving-link", None).await;
    assert_eq!(response.status(), 307);
    assert_eq!(response.headers()["location"], "https://example.com/new");

    let bad = app
        .patch_json(
            "/api/links/moving-link",
            Some(&key),
            &json!({ "url": "javascript:x" }),
        )
        .await;
    assert_eq!(error_code(bad).await, "url_scheme_not_allowed");
    assert_eq!(
        app.get("/moving-link", None).await.headers()["location"],
        "https://example.com/new"
    );

    app.patch_json(
        "/api/links/moving-link",
        Some(&key),
        &json!({ "disabled": true }),
    )
    .await;
    let disabled = app.get("/moving-link", None).await;
    assert_eq!(disabled.status(), 404);
    assert_eq!(error_code(disabled).await, "link_disabled");

    assert_eq!(
        app.delete("/api/links/moving-link", Some(&key))
            .await
            .status(),
        204
    );
    assert_eq!(app.get("/moving-link", None).await.status(), 404);
    assert_eq!(
        app.delete("/api/links/moving-link", Some(&key))
            .await
            .status(),
        404
    );
    app.create_link(
        Some(&key),
        json!({ "url": "https://example.com/again", "alias": "moving-link" }),
    )
    .await;
    assert_eq!(
        app.get("/moving-link", None).await.headers()["location"],
        "https://example.com/again"
    );
    app.shutdown().await;
}

async fn invalid_bodies_are_rejected(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let cases: [(&str, &str, u16, &str); 5] = [
        ("{", "application/json", 400, "invalid_json"),
        ("{\"url\": 5}", "application/json", 400, "invalid_field"),
        ("{}", "application/json", 400, "invalid_field"),
        (
            "{\"url\": \"https://e.com\", \"colour\": 1}",
            "application/json",
            400,
            "invalid_field",
        ),
        (
            "url=https://e.com",
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
        ),
    ];
    for (body, content_type, status, code) in cases {
        let response = app
            .client
            .post(app.url("/api/links"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status().as_u16(), status, "{body}");
        assert_eq!(error_code(response).await, code, "{body}");
    }
    let huge = format!("{{\"url\": \"https://e.com/{}\"}}", "a".repeat(70_000));
    let response = app
        .client
        .post(app.url("/api/links"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 413);
    assert_eq!(error_code(response).await, "body_too_large");

    let wrong_method = app
        .client
        .put(app.url("/api/links"))
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["allow"], "POST, GET");
    app.shutdown().await;
}

async fn shard_failure_is_survived(db: Db) {
    let Some(app) = spawn_app(db).await else {
        return;
    };
    let link = app
        .create_link(None, json!({ "url": "https://example.com/survivor" }))
        .await;
    let code = link["code"].as_str().expect("code").to_owned();
    assert_eq!(app.get(&format!("/{code}"), None).await.status(), 302);

    let links = &app.application().state().links;
    links.inject_shard_failure(&code).expect("failure injected");

    // The restarted shard starts with an empty cache, so the redirect reaches the shard again.
    let served = eventually(Duration::from_secs(5), || async {
        let response = app.get(&format!("/{code}"), None).await;
        (response.status() == 302).then_some(response)
    })
    .await
    .expect("redirect served after the restart");
    assert_eq!(served.headers()["location"], "https://example.com/survivor");
    let created = app
        .create_link(None, json!({ "url": "https://example.com/after" }))
        .await;
    assert_eq!(created["url"], "https://example.com/after");
    app.shutdown().await;
}
