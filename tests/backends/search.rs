//! The search port's contract, run against Tantivy always and against Meilisearch when
//! `LINKYARD_TEST_MEILI_URL` names a server (with `LINKYARD_TEST_MEILI_KEY` as its key, if set).
//! Each case gets a fresh index: a temporary directory, or a Meilisearch index under a unique
//! prefix that is deleted afterwards.

use chrono::{DateTime, TimeZone, Utc};
use linkyard::backends::search::meili::{MeiliOptions, MeiliSearch};
use linkyard::backends::search::tantivy::{TantivyOptions, TantivySearch};
use linkyard_actors::backends::search::{
    BookmarkDocument, MAX_RESULT_WINDOW, SearchError, SearchIndex, SearchRequest,
};
use linkyard_actors::domain::{BookmarkStatus, SearchQuery};
use std::io::Write;
use std::sync::{Arc, Once};
use std::time::Duration;
use tempfile::TempDir;

const ALICE: i64 = 1;
const BOB: i64 = 2;

/// A search engine under test and what must be cleaned up after it.
struct Engine {
    index: Arc<dyn SearchIndex>,
    _cleanup: Cleanup,
}

/// Kept only to be dropped when the test ends.
#[allow(dead_code)]
enum Cleanup {
    Directory(TempDir),
    Meili(MeiliIndexGuard),
}

impl Engine {
    async fn tantivy() -> Self {
        let directory = tempfile::tempdir().expect("temporary directory");
        let options = TantivyOptions {
            path: directory.path().join("search").join("bookmarks"),
            commit_interval: Duration::from_millis(10),
        };
        let index = TantivySearch::open(options)
            .await
            .expect("open Tantivy index");
        index.apply_settings().await.expect("apply settings");
        Self {
            index: Arc::new(index),
            _cleanup: Cleanup::Directory(directory),
        }
    }

    /// Connects to the test server, or returns `None` (printing one line for the whole run)
    /// when `LINKYARD_TEST_MEILI_URL` is not set.
    async fn meilisearch() -> Option<Self> {
        static SKIPPED: Once = Once::new();
        let Ok(url) = std::env::var("LINKYARD_TEST_MEILI_URL") else {
            // Written to stderr directly, because the test harness captures `eprintln!`.
            SKIPPED.call_once(|| {
                let line =
                    "skipped: Meilisearch search tests (set LINKYARD_TEST_MEILI_URL to run them)\n";
                let _ = std::io::stderr().write_all(line.as_bytes());
            });
            return None;
        };
        let options = MeiliOptions {
            url,
            key: std::env::var("LINKYARD_TEST_MEILI_KEY")
                .ok()
                .filter(|key| !key.is_empty()),
            index_prefix: format!("linkyard_test_{:016x}_", rand::random::<u64>()),
            timeout: Duration::from_secs(30),
        };
        let index = Arc::new(MeiliSearch::new(options.clone()).expect("Meilisearch client"));
        let guard = MeiliIndexGuard(options);
        index
            .apply_settings()
            .await
            .expect("apply Meilisearch settings");
        Some(Self {
            index,
            _cleanup: Cleanup::Meili(guard),
        })
    }

    fn index(&self) -> &dyn SearchIndex {
        self.index.as_ref()
    }
}

/// Deletes the test's Meilisearch index when dropped, even when the test panics.
struct MeiliIndexGuard(MeiliOptions);

impl Drop for MeiliIndexGuard {
    fn drop(&mut self) {
        let options = self.0.clone();
        // Drop runs inside the test's runtime, which cannot block on a future, so the cleanup
        // gets a thread and a small runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(runtime) = runtime else { return };
            runtime.block_on(async move {
                let Ok(index) = MeiliSearch::new(options) else {
                    return;
                };
                if let Err(error) = index.delete_index().await {
                    let name = index.index_name();
                    let _ = writeln!(
                        std::io::stderr(),
                        "deleting Meilisearch index {name} failed: {error}"
                    );
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Runs each case once per engine: `on_tantivy::case` and `on_meilisearch::case`.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod on_tantivy {
            $(
                #[tokio::test]
                async fn $case() {
                    let engine = super::Engine::tantivy().await;
                    super::$case(engine.index()).await;
                }
            )*
        }

        mod on_meilisearch {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(engine) = super::Engine::meilisearch().await else { return };
                    super::$case(engine.index()).await;
                }
            )*
        }
    };
}

contract!(
    words_match_any_text_field,
    words_must_all_match,
    words_ignore_case_and_accents,
    phrases_need_adjacent_words,
    tags_match_case_insensitively,
    site_matches_host_and_subdomains,
    unread_and_read,
    status_filters,
    before_and_after_exclude_the_day,
    negation_excludes_matches,
    combined_terms,
    users_never_see_each_other,
    delete_removes_documents,
    upsert_replaces_documents,
    count_all_and_per_user,
    delete_all_empties_the_index,
    equal_relevance_is_newest_first,
    title_match_outranks_note_match,
    paging_and_total,
    result_window_is_limited,
    empty_query_lists_everything,
    ping_succeeds,
);

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test timestamp")
        .with_timezone(&Utc)
}

/// Builds a plain active bookmark of Alice's on example.org, created `id` hours into 2024.
fn bookmark(id: i64) -> BookmarkDocument {
    let base = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("base time");
    BookmarkDocument {
        id,
        user_id: ALICE,
        url: format!("https://example.org/page/{id}"),
        host: "example.org".to_owned(),
        title: None,
        description: None,
        site_name: None,
        tags: Vec::new(),
        note: None,
        unread: false,
        status: BookmarkStatus::Active,
        created_at: base + chrono::TimeDelta::hours(id),
        lang: Some("en".to_owned()),
    }
}

fn titled(id: i64, title: &str) -> BookmarkDocument {
    BookmarkDocument {
        title: Some(title.to_owned()),
        ..bookmark(id)
    }
}

async fn add(index: &dyn SearchIndex, documents: Vec<BookmarkDocument>) {
    index.upsert(documents).await.expect("upsert");
}

/// Searches Alice's bookmarks and returns the ids in result order.
async fn search(index: &dyn SearchIndex, query: &str) -> Vec<i64> {
    search_as(index, ALICE, query).await
}

async fn search_as(index: &dyn SearchIndex, user_id: i64, query: &str) -> Vec<i64> {
    let request = SearchRequest {
        user_id,
        query: SearchQuery::parse(query).expect("valid query"),
        limit: 50,
        offset: 0,
    };
    let hits = index.search(&request).await.expect("search");
    assert_eq!(hits.total, hits.ids.len() as u64, "total for {query:?}");
    hits.ids
}

/// Searches Alice's bookmarks and returns the ids sorted, for cases where order is not tested.
async fn matches(index: &dyn SearchIndex, query: &str) -> Vec<i64> {
    let mut ids = search(index, query).await;
    ids.sort_unstable();
    ids
}

async fn words_match_any_text_field(index: &dyn SearchIndex) {
    add(
        index,
        vec![
            titled(1, "Learning Rust the hard way"),
            BookmarkDocument {
                description: Some("A guide to rust and memory".into()),
                ..bookmark(2)
            },
            BookmarkDocument {
                url: "https://rust.example/handbook".into(),
                ..bookmark(3)
            },
            BookmarkDocument {
                note: Some("read the rust chapter later".into()),
                ..bookmark(4)
            },
            BookmarkDocument {
                tags: vec!["rust".into()],
                ..bookmark(5)
            },
            BookmarkDocument {
                site_name: Some("Rust Weekly".into()),
                ..bookmark(6)
            },
            titled(7, "Gardening for beginners"),
        ],
    )
    .await;

    assert_eq!(matches(index, "rust").await, [1, 2, 3, 4, 5, 6]);
    assert_eq!(matches(index, "gardening").await, [7]);
    assert!(matches(index, "python").await.is_empty());
}

async fn words_must_all_match(index: &dyn SearchIndex) {
    add(
        index,
        vec![
            titled(1, "tokio runtime internals"),
            titled(2, "tokio tutorial"),
            titled(3, "runtime reflection in java"),
        ],
    )
    .await;

    assert_eq!(matches(index, "tokio runtime").await, [1]);
    assert_eq!(matches(index, "tokio").await, [1, 2]);
}

async fn words_ignore_case_and_accents(index: &dyn SearchIndex) {
    add(
        index,
        vec![titled(1, "Café Culture in VIENNA"), titled(2, "Tea houses")],
    )
    .await;

    assert_eq!(matches(index, "vienna").await, [1]);
    assert_eq!(matches(index, "CULTURE").await, [1]);
    assert_eq!(matches(index, "cafe").await, [1]);
    assert_eq!(matches(index, "café").await, [1]);
}

async fn phrases_need_adjacent_words(index: &dyn SearchIndex) {
    add(
        index,
        vec![
            titled(1, "An async runtime for Rust"),
            titled(2, "The runtime is async by default"),
            BookmarkDocument {
                description: Some("notes on the async runtime design".into()),
                ..bookmark(3)
            },
        ],
    )
    .await;

    assert_eq!(matches(index, r#""async runtime""#).await, [1, 3]);
    assert_eq!(matches(index, r#""runtime is async""#).await, [2]);
    assert!(matches(index, r#""runtime async""#).await.is_empty());
}

async fn tags_match_case_insensitively(index: &dyn SearchIndex) {
    add(
        index,
        vec![
            BookmarkDocument {
                tags: vec!["Rust".into(), "web-dev".into()],
                ..bookmark(1)
            },
            BookmarkDocument {
                tags: vec!["rust".into()],
                ..bookmark(2)
            },
            BookmarkDocument {
                tags: vec!["日本語".into()],
                ..bookmark(3)
            },
            titled(4, "rust without the tag"),
        ],
    )
    .await;

    assert_eq!(matches(index, "#rust").await, [1, 2]);
    assert_eq!(matches(index, "#RUST").await, [1, 2]);
    assert_eq!(matches(index, "#web-dev").await, [1]);
    assert_eq!(matches(index, "#日本語").await, [3]);
    assert!(matches(index, "#web").await.is_empty());
}

async fn site_matches_host_and_subdomains(index: &dyn SearchIndex) {
    let on = |id: i64, host: &str| BookmarkDocument {
        url: format!("https://{host}/post/{id}"),
        host: host.to_owned(),
        ..bookmark(id)
    };
    add(
        index,
        vec![
            on(1, "example.com"),
            on(2, "blog.example.com"),
            on(3, "a.b.example.com"),
            on(4, "notexample.com"),
            on(5, "example.com.evil.net"),
            on(6, "example.org"),
        ],
    )
    .await;

    assert_eq!(matches(index, "site:example.com").await, [1, 2, 3]);
    assert_eq!(matches(index, "site:EXAMPLE.com").await, [1, 2, 3]);
    assert_eq!(matches(index, "site:blog.example.com").await, [2]);
    assert_eq!(matches(index, "site:b.example.com").await, [3]);
    assert_eq!(matches(index, "site:evil.net").await, [5]);
    assert!(matches(index, "site:ample.com").await.is_empty());
}

async fn unread_and_read(index: &dyn SearchIndex) {
    add(
        index,
        vec![
            BookmarkDocument {
                unread: true,
                ..bookmark(1)
            },
            bookmark(2),
            BookmarkDocument {
                unread: true,
                ..bookmark(3)
            },
        ],
    )
    .await;

    assert_eq!(matches(index, "is:unread").await, [1, 3]);
    assert_eq!(matches(index, "is:read").await, [2]);
    assert_eq!(matches(index, "-is:unread").await, [2]);
}

async fn status_filters(index: &dyn SearchIndex) {
    let with = |id: i64, status: BookmarkStatus| BookmarkDocument {
        status,
        ..bookmark(id)
    };
    add(
        index,
        vec![
            with(1, BookmarkStatus::Pending),
            with(2, BookmarkStatus::Active),
            with(3, BookmarkStatus::Failed),
            with(4, BookmarkStatus::Failed),
        ],
    )
    .await;

    assert_eq!(matches(index, "status:pending").await, [1]);
    assert_eq!(matches(index, "status:active").await, [2]);
    assert_eq!(matches(index, "status:FAILED").await, [3, 4]);
}

async fn before_and_after_exclude_the_day(index: &dyn SearchIndex) {
    let created = |id: i64, time: &str| BookmarkDocument {
        created_at: at(time),
        ..bookmark(id)
    };
    add(
        index,
        vec![
            created(1, "2024-04-30T23:59:59Z"),
            created(2, "2024-05-01T00:00:00Z"),
            created(3, "2024-05-01T23:59:59Z"),
            created(4, "2024-05-02T00:00:00Z"),
            created(5, "2024-06-15T08:30:00Z"),
        ],
    )
    .await;

    assert_eq!(matches(index, "before:2024-05-01").await, [1]);
    assert_eq!(matches(index, "before:2024-05-02").await, [1, 2, 3]);
    assert_eq!(matches(index, "after:2024-05-01").await, [4, 5]);
    assert_eq!(
        matches(index, "after:2024-04-30 before:2024-05-02").await,
        [2, 3]
    );
    assert_eq!(matches(index, "-before:2024-05-02").await, [4, 5]);
}

async fn negation_excludes_matches(index: &dyn SearchIndex) {
    add(
        index,
        vec![
            BookmarkDocument {
                tags: vec!["draft".into()],
                ..titled(1, "rust notes")
            },
            titled(2, "rust and java compared"),
            titled(3, "rust ownership"),
            BookmarkDocument {
                url: "https://spam.example/rust".into(),
                host: "spam.example".into(),
                ..titled(4, "rust offers")
            },
        ],
    )
    .await;

    assert_eq!(matches(index, "rust -java").await, [1, 3, 4]);
    assert_eq!(matches(index, "rust -#draft").await, [2, 3, 4]);
    assert_eq!(matches(index, "rust -site:spam.example").await, [1, 2, 3]);
    assert_eq!(matches(index, r#"rust -"and java""#).await, [1, 3, 4]);
    assert_eq!(matches(index, "-#draft").await, [2, 3, 4]);
    assert_eq!(matches(index, "-java").await, [1, 3, 4]);
}

async fn combined_terms(index: &dyn SearchIndex) {
    add(
        index,
        vec![
            BookmarkDocument {
                tags: vec!["web".into()],
                unread: true,
                url: "https://blog.example.com/rust-web".into(),
                host: "blog.example.com".into(),
                created_at: at("2024-03-10T10:00:00Z"),
                ..titled(1, "Rust web frameworks")
            },
            BookmarkDocument {
                tags: vec!["web".into()],
                unread: false,
                url: "https://blog.example.com/rust-web-2".into(),
                host: "blog.example.com".into(),
                created_at: at("2024-03-11T10:00:00Z"),
                ..titled(2, "Rust web frameworks, part two")
            },
            BookmarkDocument {
                tags: vec!["web".into()],
                unread: true,
                created_at: at("2024-03-12T10:00:00Z"),
                ..titled(3, "Rust web servers")
            },
            BookmarkDocument {
                tags: vec!["web".into()],
                unread: true,
                url: "https://example.com/old".into(),
                host: "example.com".into(),
                created_at: at("2023-01-01T10:00:00Z"),
                ..titled(4, "Rust web history")
            },
        ],
    )
    .await;

    let query = "rust #web is:unread site:example.com after:2024-01-01";
    assert_eq!(matches(index, query).await, [1]);
    assert_eq!(
        matches(index, "rust web is:unread -site:example.com").await,
        [3]
    );
    assert_eq!(
        matches(index, "\"web frameworks\" status:active is:read").await,
        [2]
    );
}

async fn users_never_see_each_other(index: &dyn SearchIndex) {
    add(
        index,
        vec![
            titled(1, "shared interest: rust"),
            BookmarkDocument {
                user_id: BOB,
                ..titled(2, "shared interest: rust")
            },
            BookmarkDocument {
                user_id: BOB,
                tags: vec!["secret".into()],
                ..titled(3, "bob only")
            },
        ],
    )
    .await;

    assert_eq!(search_as(index, ALICE, "rust").await, [1]);
    assert_eq!(search_as(index, BOB, "rust").await, [2]);
    assert!(search_as(index, ALICE, "#secret").await.is_empty());
    assert!(search_as(index, ALICE, "bob").await.is_empty());
    assert_eq!(search_as(index, ALICE, "").await, [1]);
    assert!(search_as(index, 99, "").await.is_empty());
}

async fn delete_removes_documents(index: &dyn SearchIndex) {
    add(
        index,
        vec![
            titled(1, "keep rust"),
            titled(2, "drop rust"),
            titled(3, "drop rust too"),
        ],
    )
    .await;

    index.delete(&[2, 3, 404]).await.expect("delete");

    assert_eq!(matches(index, "rust").await, [1]);
    assert_eq!(index.count(None).await.expect("count"), 1);
    index.delete(&[]).await.expect("deleting nothing");
}

async fn upsert_replaces_documents(index: &dyn SearchIndex) {
    add(
        index,
        vec![BookmarkDocument {
            tags: vec!["old-tag".into()],
            ..titled(1, "original title")
        }],
    )
    .await;
    add(
        index,
        vec![BookmarkDocument {
            tags: vec!["new-tag".into()],
            status: BookmarkStatus::Failed,
            ..titled(1, "replacement heading")
        }],
    )
    .await;

    assert!(matches(index, "original").await.is_empty());
    assert!(matches(index, "#old-tag").await.is_empty());
    assert_eq!(matches(index, "replacement").await, [1]);
    assert_eq!(matches(index, "#new-tag status:failed").await, [1]);
    assert_eq!(index.count(None).await.expect("count"), 1);
}

async fn count_all_and_per_user(index: &dyn SearchIndex) {
    assert_eq!(index.count(None).await.expect("count of empty index"), 0);
    let mut documents: Vec<_> = (1..=5).map(bookmark).collect();
    documents.extend((6..=8).map(|id| BookmarkDocument {
        user_id: BOB,
        ..bookmark(id)
    }));
    add(index, documents).await;

    assert_eq!(index.count(None).await.expect("count"), 8);
    assert_eq!(index.count(Some(ALICE)).await.expect("count Alice"), 5);
    assert_eq!(index.count(Some(BOB)).await.expect("count Bob"), 3);
    assert_eq!(index.count(Some(99)).await.expect("count nobody"), 0);
}

async fn delete_all_empties_the_index(index: &dyn SearchIndex) {
    add(index, (1..=4).map(|id| titled(id, "rust")).collect()).await;

    index.delete_all().await.expect("delete all");

    assert_eq!(index.count(None).await.expect("count"), 0);
    assert!(matches(index, "rust").await.is_empty());
    add(index, vec![titled(5, "rust again")]).await;
    assert_eq!(matches(index, "rust").await, [5]);
}

async fn equal_relevance_is_newest_first(index: &dyn SearchIndex) {
    let created = |id: i64, time: &str| BookmarkDocument {
        created_at: at(time),
        ..titled(id, "identical rust title")
    };
    add(
        index,
        vec![
            created(1, "2024-01-01T00:00:00Z"),
            created(2, "2024-03-01T00:00:00Z"),
            created(3, "2024-02-01T00:00:00Z"),
        ],
    )
    .await;

    assert_eq!(search(index, "rust").await, [2, 3, 1]);
    assert_eq!(search(index, "status:active").await, [2, 3, 1]);
}

async fn title_match_outranks_note_match(index: &dyn SearchIndex) {
    add(
        index,
        vec![
            BookmarkDocument {
                note: Some("mentions ferris in passing".into()),
                created_at: at("2024-05-01T00:00:00Z"),
                ..titled(1, "weekly links")
            },
            BookmarkDocument {
                created_at: at("2024-01-01T00:00:00Z"),
                ..titled(2, "ferris the crab")
            },
        ],
    )
    .await;

    assert_eq!(search(index, "ferris").await, [2, 1]);
}

async fn paging_and_total(index: &dyn SearchIndex) {
    add(index, (1..=25).map(|id| titled(id, "paged rust")).collect()).await;
    let page = |offset: usize, limit: usize| SearchRequest {
        user_id: ALICE,
        query: SearchQuery::parse("rust").expect("query"),
        limit,
        offset,
    };

    let first = index.search(&page(0, 10)).await.expect("first page");
    let third = index.search(&page(20, 10)).await.expect("third page");
    let odd = index.search(&page(3, 4)).await.expect("unaligned page");
    let none = index.search(&page(0, 0)).await.expect("count only");

    let newest_first: Vec<i64> = (1..=25).rev().collect();
    assert_eq!(first.ids, newest_first[..10]);
    assert_eq!(first.total, 25);
    assert_eq!(third.ids, newest_first[20..]);
    assert_eq!(third.total, 25);
    assert_eq!(odd.ids, newest_first[3..7]);
    assert!(none.ids.is_empty());
    assert_eq!(none.total, 25);
}

async fn result_window_is_limited(index: &dyn SearchIndex) {
    let request = SearchRequest {
        user_id: ALICE,
        query: SearchQuery::default(),
        limit: 10,
        offset: MAX_RESULT_WINDOW,
    };

    let error = index.search(&request).await.expect_err("window exceeded");

    assert!(
        matches!(error, SearchError::ResultWindowTooLarge { .. }),
        "{error}"
    );
    assert_eq!(error.code(), "result_window_too_large");
}

async fn empty_query_lists_everything(index: &dyn SearchIndex) {
    add(index, (1..=3).map(bookmark).collect()).await;

    assert_eq!(search(index, "").await, [3, 2, 1]);
    assert_eq!(search(index, r#""" !!!"#).await, [3, 2, 1]);
}

async fn ping_succeeds(index: &dyn SearchIndex) {
    index.ping().await.expect("ping");
    index.flush().await.expect("flush");
    assert!(["tantivy", "meilisearch"].contains(&index.name()));
}
