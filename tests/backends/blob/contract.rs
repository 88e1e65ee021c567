//! The blob store contract: each case takes a fresh, empty store.

use bytes::Bytes;
use linkyard_actors::backends::blob::{BlobError, BlobStore};

const TEXT: &str = "text/plain; charset=utf-8";
const BINARY: &str = "application/octet-stream";

/// Deterministic pseudo-random bytes, so that a dropped or reordered chunk changes the result.
fn patterned_bytes(length: usize) -> Bytes {
    let mut state: u32 = 0x9E37_79B9;
    let bytes: Vec<u8> = (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect();
    Bytes::from(bytes)
}

async fn put(store: &dyn BlobStore, key: &str, bytes: impl Into<Bytes>, content_type: &str) {
    store
        .put(key, bytes.into(), content_type)
        .await
        .unwrap_or_else(|error| panic!("put {key} on {}: {error}", store.name()));
}

async fn get_bytes(store: &dyn BlobStore, key: &str) -> Option<Bytes> {
    store
        .get(key)
        .await
        .unwrap_or_else(|error| panic!("get {key} on {}: {error}", store.name()))
        .map(|blob| blob.bytes)
}

async fn listed_keys(
    store: &dyn BlobStore,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Vec<String> {
    store
        .list(prefix, after, limit)
        .await
        .unwrap_or_else(|error| panic!("list {prefix:?} on {}: {error}", store.name()))
        .into_iter()
        .map(|entry| entry.key)
        .collect()
}

pub async fn empty_object_round_trips(store: &dyn BlobStore) {
    put(store, "empty/object", Bytes::new(), BINARY).await;

    let blob = store
        .get("empty/object")
        .await
        .expect("get")
        .expect("exists");
    assert!(blob.bytes.is_empty(), "{} bytes", blob.bytes.len());
    assert_eq!(blob.content_type, BINARY);
    assert!(store.exists("empty/object").await.expect("exists"));
}

pub async fn binary_bytes_round_trip(store: &dyn BlobStore) {
    let bytes: &[u8] = b"\0\xff\xfe\xc3\x28 not UTF-8 \0\r\n\x80\0";
    put(store, "binary/nul-and-invalid-utf8", bytes, BINARY).await;

    let read = get_bytes(store, "binary/nul-and-invalid-utf8").await;
    assert_eq!(read.as_deref(), Some(bytes));
}

pub async fn ten_mebibytes_round_trip(store: &dyn BlobStore) {
    let bytes = patterned_bytes(10 * 1024 * 1024);
    put(store, "large/ten-mib", bytes.clone(), BINARY).await;

    let read = get_bytes(store, "large/ten-mib").await.expect("exists");
    assert_eq!(read.len(), bytes.len());
    assert!(
        read == bytes,
        "the 10 MiB object came back with different bytes"
    );
}

pub async fn content_type_round_trips(store: &dyn BlobStore) {
    let cases = [
        ("types/text", TEXT),
        ("types/png", "image/png"),
        ("types/svg", "image/svg+xml"),
        (
            "types/params",
            "text/html; charset=ISO-8859-1; profile=\"a b\"",
        ),
    ];
    for (key, content_type) in cases {
        put(store, key, "x", content_type).await;
    }

    for (key, content_type) in cases {
        let blob = store.get(key).await.expect("get").expect("exists");
        assert_eq!(blob.content_type, content_type, "{key}");
    }
}

pub async fn overwrite_replaces_bytes_and_type(store: &dyn BlobStore) {
    put(store, "overwrite/key", "first version, longer", TEXT).await;
    put(store, "overwrite/key", "second", "image/png").await;

    let blob = store
        .get("overwrite/key")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(&blob.bytes[..], b"second");
    assert_eq!(blob.content_type, "image/png");
    let keys = listed_keys(store, "overwrite/", None, 10).await;
    assert_eq!(keys, ["overwrite/key"]);
}

pub async fn cache_put_round_trips_and_replaces(store: &dyn BlobStore) {
    let first = patterned_bytes(3000);
    store
        .put_cache("cache/image", first.clone(), "image/png")
        .await
        .expect("first cache put");
    let blob = store
        .get("cache/image")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(blob.bytes, first);
    assert_eq!(blob.content_type, "image/png");

    store
        .put_cache(
            "cache/image",
            Bytes::from_static(b"<svg/>"),
            "image/svg+xml",
        )
        .await
        .expect("second cache put");
    let blob = store
        .get("cache/image")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(&blob.bytes[..], b"<svg/>");
    assert_eq!(blob.content_type, "image/svg+xml");
    assert_eq!(
        listed_keys(store, "cache/", None, 10).await,
        ["cache/image"]
    );

    let error = store
        .put_cache("cache/../escape", Bytes::new(), "image/png")
        .await
        .expect_err("a bad key is rejected");
    assert_eq!(error.code(), "invalid_blob_key");
}

pub async fn missing_key_is_none_and_false(store: &dyn BlobStore) {
    assert!(store.get("missing/key").await.expect("get").is_none());
    assert!(!store.exists("missing/key").await.expect("exists"));

    // A key under an existing object's name is missing too, not an error.
    put(store, "missing/file", "x", TEXT).await;
    assert!(
        store
            .get("missing/file/below")
            .await
            .expect("get")
            .is_none()
    );
    assert!(!store.exists("missing/file/below").await.expect("exists"));
    // A key that is only a prefix of other keys is missing.
    assert!(store.get("missing").await.expect("get").is_none());
    assert!(!store.exists("missing").await.expect("exists"));
}

pub async fn delete_is_idempotent(store: &dyn BlobStore) {
    put(store, "delete/key", "x", TEXT).await;

    store.delete("delete/key").await.expect("first delete");
    assert!(store.get("delete/key").await.expect("get").is_none());
    assert!(!store.exists("delete/key").await.expect("exists"));
    store.delete("delete/key").await.expect("second delete");
    store
        .delete("delete/never-written")
        .await
        .expect("delete of a missing key");
    assert!(listed_keys(store, "delete/", None, 10).await.is_empty());

    // The key can be written again after a delete.
    put(store, "delete/key", "again", TEXT).await;
    assert_eq!(
        get_bytes(store, "delete/key").await.as_deref(),
        Some(&b"again"[..])
    );
}

/// Keys in byte order, including keys that share a prefix with a directory of other keys:
/// `/` (0x2F) sorts before `0` (0x30), and `é` (0xC3 0xA9) after every ASCII byte.
const ORDERED_KEYS: [&str; 7] = [
    "list/a/b",
    "list/a/c/d",
    "list/a0",
    "list/ab/x",
    "list/a~",
    "list/b",
    "list/é",
];

async fn put_keys(store: &dyn BlobStore, keys: &[&str]) {
    // Written out of order, so that creation order cannot pass for key order.
    for key in keys.iter().rev() {
        put(store, key, key.as_bytes().to_vec(), TEXT).await;
    }
    put(store, "lis", "outside the prefix", TEXT).await;
    put(store, "listing", "outside the prefix", TEXT).await;
}

/// Lists everything under `prefix` in pages of `page_size`, each page starting after the last
/// key of the previous one, as the sweeper does.
async fn page_through(store: &dyn BlobStore, prefix: &str, page_size: usize) -> Vec<String> {
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = listed_keys(store, prefix, after.as_deref(), page_size).await;
        assert!(page.len() <= page_size, "{page:?}");
        let Some(last) = page.last().cloned() else {
            return paged;
        };
        paged.extend(page);
        after = Some(last);
    }
}

pub async fn list_returns_keys_in_byte_order(store: &dyn BlobStore) {
    put_keys(store, &ORDERED_KEYS).await;

    let keys = listed_keys(store, "list/", None, 100).await;
    assert_eq!(keys, ORDERED_KEYS);

    let everything = listed_keys(store, "", None, 100).await;
    let mut expected: Vec<&str> = ORDERED_KEYS.to_vec();
    expected.extend(["lis", "listing"]);
    expected.sort_unstable();
    assert_eq!(everything, expected);
}

pub async fn list_filters_by_prefix(store: &dyn BlobStore) {
    put_keys(store, &ORDERED_KEYS).await;

    let under_a = listed_keys(store, "list/a", None, 100).await;
    assert_eq!(under_a, &ORDERED_KEYS[..5]);
    let in_a_directory = listed_keys(store, "list/a/", None, 100).await;
    assert_eq!(in_a_directory, ["list/a/b", "list/a/c/d"]);
    let exact = listed_keys(store, "list/b", None, 100).await;
    assert_eq!(exact, ["list/b"]);
    let nothing = listed_keys(store, "list/z", None, 100).await;
    assert!(nothing.is_empty(), "{nothing:?}");
    let list_without_slash = listed_keys(store, "list", None, 100).await;
    assert_eq!(
        list_without_slash.len(),
        ORDERED_KEYS.len() + 1,
        "{list_without_slash:?}"
    );
    assert_eq!(
        list_without_slash.last().map(String::as_str),
        Some("listing")
    );
}

pub async fn list_pages_with_after(store: &dyn BlobStore) {
    put_keys(store, &ORDERED_KEYS).await;

    assert_eq!(page_through(store, "list/", 3).await, ORDERED_KEYS);
    assert_eq!(page_through(store, "list/", 1).await, ORDERED_KEYS);

    // `after` need not be a stored key.
    let after_missing = listed_keys(store, "list/", Some("list/a/bz"), 100).await;
    assert_eq!(after_missing, &ORDERED_KEYS[1..]);
    let after_everything = listed_keys(store, "list/", Some("list0"), 100).await;
    assert!(after_everything.is_empty(), "{after_everything:?}");
    let before_the_prefix = listed_keys(store, "list/", Some("a"), 100).await;
    assert_eq!(before_the_prefix, ORDERED_KEYS);
    assert!(listed_keys(store, "list/", None, 0).await.is_empty());
}

/// Keys where a directory walk that compares bare names disagrees with byte order: `a-c` and
/// `a.b` sort before `a/b` because `-` (0x2D) and `.` (0x2E) sort before `/` (0x2F).
pub const WALK_ORDER_KEYS: [&str; 6] = [
    "list/a-c",
    "list/a.b",
    "list/a/b",
    "list/a/c/d",
    "list/a0",
    "list/b",
];

pub async fn paging_returns_every_key_once(store: &dyn BlobStore) {
    put_keys(store, &WALK_ORDER_KEYS).await;

    let listed = listed_keys(store, "list/", None, 100).await;
    for page_size in [1, 2, 4] {
        let paged = page_through(store, "list/", page_size).await;
        assert_eq!(paged, listed, "pages of {page_size}");
    }
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, WALK_ORDER_KEYS);
}

pub async fn list_reports_sizes(store: &dyn BlobStore) {
    put(store, "sizes/empty", Bytes::new(), BINARY).await;
    put(store, "sizes/five", "12345", TEXT).await;
    put(store, "sizes/large", patterned_bytes(70_000), BINARY).await;

    let entries = store.list("sizes/", None, 10).await.expect("list");
    let sizes: Vec<(&str, u64)> = entries
        .iter()
        .map(|entry| (entry.key.as_str(), entry.size))
        .collect();
    assert_eq!(
        sizes,
        [
            ("sizes/empty", 0),
            ("sizes/five", 5),
            ("sizes/large", 70_000)
        ]
    );
    let now = chrono::Utc::now();
    for entry in &entries {
        let modified = entry.last_modified.expect("a modification time");
        let age = now - modified;
        assert!(
            age.num_seconds().abs() < 300,
            "{} modified at {modified}",
            entry.key
        );
    }
}

const INVALID_KEYS: [&str; 10] = [
    "",
    "/absolute/path",
    "a//b",
    "trailing/",
    "a/../b",
    "..",
    "./a",
    "a\\b",
    "a\0b",
    "a/.hidden",
];

fn assert_invalid_key(result: Result<(), BlobError>, key: &str, operation: &str) {
    match result {
        Err(error @ BlobError::InvalidKey { .. }) => {
            let BlobError::InvalidKey { key: named, .. } = &error else {
                unreachable!()
            };
            assert_eq!(named, key, "{operation}");
            assert!(
                error.to_string().contains(&format!("{key:?}")),
                "{operation}: {error}"
            );
        }
        other => panic!("{operation} of {key:?} should fail with InvalidKey, got {other:?}"),
    }
}

pub async fn invalid_keys_are_rejected(store: &dyn BlobStore) {
    let too_long = "k".repeat(513);
    let long_segment = format!("a/{}", "s".repeat(256));
    let mut keys: Vec<&str> = INVALID_KEYS.to_vec();
    keys.extend([too_long.as_str(), long_segment.as_str()]);

    for key in keys {
        let put = store.put(key, Bytes::from_static(b"x"), TEXT).await;
        assert_invalid_key(put, key, "put");
        assert_invalid_key(store.get(key).await.map(|_| ()), key, "get");
        assert_invalid_key(store.exists(key).await.map(|_| ()), key, "exists");
        assert_invalid_key(store.delete(key).await, key, "delete");
    }
    assert!(listed_keys(store, "", None, 100).await.is_empty());
}

pub async fn invalid_content_types_are_rejected(store: &dyn BlobStore) {
    let too_long = format!("text/{}", "x".repeat(300));
    for content_type in [
        "",
        "text/plain\r\nX-Injected: 1",
        "text/plaïn",
        too_long.as_str(),
    ] {
        let result = store
            .put("types/bad", Bytes::from_static(b"x"), content_type)
            .await;
        assert!(
            matches!(result, Err(BlobError::InvalidContentType { .. })),
            "{content_type:?}: {result:?}"
        );
    }
    assert!(!store.exists("types/bad").await.expect("exists"));
}

pub async fn readers_never_see_a_partial_object(store: &dyn BlobStore) {
    let first = Bytes::from(vec![b'a'; 1024 * 1024]);
    let second = Bytes::from(vec![b'b'; 512 * 1024]);
    put(store, "atomic/key", first.clone(), TEXT).await;

    let writer = async {
        for round in 0..20 {
            let (bytes, content_type) = if round % 2 == 0 {
                (second.clone(), BINARY)
            } else {
                (first.clone(), TEXT)
            };
            store
                .put("atomic/key", bytes, content_type)
                .await
                .expect("put");
        }
    };
    let reader = async {
        let mut reads = 0;
        for _ in 0..40 {
            let blob = store.get("atomic/key").await.expect("get").expect("exists");
            let whole_first = blob.bytes == first && blob.content_type == TEXT;
            let whole_second = blob.bytes == second && blob.content_type == BINARY;
            assert!(
                whole_first || whole_second,
                "read {} bytes with content type {} that match neither version",
                blob.bytes.len(),
                blob.content_type
            );
            reads += 1;
        }
        reads
    };
    let ((), reads) = tokio::join!(writer, reader);
    assert_eq!(reads, 40);
}

pub async fn ping_succeeds(store: &dyn BlobStore) {
    store.ping().await.expect("ping");
    assert!(listed_keys(store, "", None, 10).await.is_empty());
}
