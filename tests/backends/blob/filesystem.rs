//! What only the filesystem store does: its file layout, temporary files, directory cleanup
//! and the keys a filesystem cannot hold.

use bytes::Bytes;
use linkyard::backends::blob::fs::FsBlobStore;
use linkyard_actors::backends::blob::{BlobError, BlobStore};
use std::path::Path;

/// Length of the header before an object's bytes in its file.
const HEADER_LEN: usize = 264;

async fn open_store(dir: &Path) -> FsBlobStore {
    FsBlobStore::open(dir)
        .await
        .expect("open the filesystem store")
}

#[tokio::test]
async fn open_creates_missing_directories() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path().join("data/blobs/nested");

    let store = open_store(&root).await;

    assert!(root.is_dir());
    assert_eq!(store.root(), root);
    store.ping().await.expect("ping");
}

#[tokio::test]
async fn file_holds_header_then_exact_bytes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = open_store(dir.path()).await;

    store
        .put(
            "pastes/ab/abcdef",
            Bytes::from_static(b"\0body"),
            "text/plain",
        )
        .await
        .expect("put");

    let contents = std::fs::read(dir.path().join("pastes/ab/abcdef")).expect("read the file");
    assert_eq!(&contents[..8], b"LYBLOB1\n");
    assert_eq!(contents[8], 10);
    assert_eq!(&contents[9..19], b"text/plain");
    assert_eq!(&contents[HEADER_LEN..], b"\0body");
}

#[tokio::test]
async fn put_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = open_store(dir.path()).await;

    store
        .put("pastes/one", Bytes::from_static(b"1"), "text/plain")
        .await
        .expect("put");
    store
        .put_cache("pastes/two", Bytes::from_static(b"2"), "text/plain")
        .await
        .expect("cache put");

    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("pastes"))
        .expect("read the directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["one", "two"]);
}

#[tokio::test]
async fn temporary_and_hidden_files_are_invisible() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = open_store(dir.path()).await;
    store
        .put("pastes/one", Bytes::from_static(b"1"), "text/plain")
        .await
        .expect("put");

    // What a crash during a write leaves behind: a temporary file next to the object.
    std::fs::write(
        dir.path().join("pastes/.tmp-0123456789abcdef"),
        b"half an obj",
    )
    .expect("write a temporary file");
    std::fs::create_dir(dir.path().join(".hidden")).expect("create a hidden directory");
    std::fs::write(dir.path().join(".hidden/file"), b"x").expect("write a hidden file");

    let keys: Vec<String> = store
        .list("", None, 100)
        .await
        .expect("list")
        .into_iter()
        .map(|entry| entry.key)
        .collect();
    assert_eq!(keys, ["pastes/one"]);
    let read = store.get("pastes/one").await.expect("get").expect("exists");
    assert_eq!(&read.bytes[..], b"1");
}

#[tokio::test]
async fn delete_removes_empty_directories() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = open_store(dir.path()).await;
    for key in ["favicons/ab/cd/one", "favicons/ab/two"] {
        store
            .put(key, Bytes::from_static(b"x"), "image/png")
            .await
            .expect("put");
    }

    store.delete("favicons/ab/cd/one").await.expect("delete");
    assert!(!dir.path().join("favicons/ab/cd").exists());
    assert!(dir.path().join("favicons/ab").is_dir());

    store.delete("favicons/ab/two").await.expect("delete");
    assert!(!dir.path().join("favicons").exists());
    assert!(dir.path().is_dir(), "the root must stay");
}

fn assert_conflict(result: Result<(), BlobError>, key: &str) {
    match result {
        Err(BlobError::InvalidKey { key: named, reason }) => {
            assert_eq!(named, key);
            assert!(reason.contains("prefix"), "{reason}");
        }
        other => panic!("put {key:?} should fail with InvalidKey, got {other:?}"),
    }
}

#[tokio::test]
async fn object_and_prefix_of_the_same_name_conflict() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = open_store(dir.path()).await;
    let bytes = Bytes::from_static(b"x");
    store
        .put("a", bytes.clone(), "text/plain")
        .await
        .expect("put a");
    store
        .put("c/d", bytes.clone(), "text/plain")
        .await
        .expect("put c/d");

    assert_conflict(store.put("a/b", bytes.clone(), "text/plain").await, "a/b");
    assert_conflict(store.put("c", bytes.clone(), "text/plain").await, "c");

    assert_eq!(
        store.get("a").await.expect("get").map(|blob| blob.bytes),
        Some(bytes.clone())
    );
    assert_eq!(
        store.get("c/d").await.expect("get").map(|blob| blob.bytes),
        Some(bytes)
    );
}

#[tokio::test]
async fn file_without_a_header_is_a_store_failure() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = open_store(dir.path()).await;
    std::fs::write(dir.path().join("foreign"), b"not written by the store").expect("write");

    let error = store.get("foreign").await.expect_err("a foreign file");

    match &error {
        BlobError::Unavailable {
            backend, operation, ..
        } => {
            assert_eq!(*backend, "filesystem");
            assert_eq!(*operation, "get");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(error.to_string().contains("foreign"), "{error}");
}

#[tokio::test]
async fn ping_fails_when_the_root_is_gone() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path().join("blobs");
    let store = open_store(&root).await;
    std::fs::remove_dir(&root).expect("remove the root");

    let error = store.ping().await.expect_err("no root directory");

    assert!(
        matches!(
            error,
            BlobError::Unavailable {
                backend: "filesystem",
                operation: "ping",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("blobs"), "{error}");
}

#[tokio::test]
async fn list_sorts_directories_by_their_keys() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = open_store(dir.path()).await;
    for key in super::contract::WALK_ORDER_KEYS.iter().rev() {
        store
            .put(key, Bytes::from_static(b"x"), "text/plain")
            .await
            .expect("put");
    }

    let keys: Vec<String> = store
        .list("list/", None, 100)
        .await
        .expect("list")
        .into_iter()
        .map(|entry| entry.key)
        .collect();

    assert_eq!(keys, super::contract::WALK_ORDER_KEYS);
}

/// S3 lists `a/b` after `a`, but SeaweedFS 4.48 skips the whole `a/` directory when
/// start-after is `a`, so only the filesystem store is held to this.
#[tokio::test]
async fn list_after_a_directory_name_enters_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = open_store(dir.path()).await;
    for key in ["list/a/b", "list/a/c/d", "list/a0"] {
        store
            .put(key, Bytes::from_static(b"x"), "text/plain")
            .await
            .expect("put");
    }

    let keys: Vec<String> = store
        .list("list/", Some("list/a"), 2)
        .await
        .expect("list")
        .into_iter()
        .map(|entry| entry.key)
        .collect();

    assert_eq!(keys, ["list/a/b", "list/a/c/d"]);
}

#[tokio::test]
async fn put_replaces_an_empty_directory() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = open_store(dir.path()).await;
    // What a crash between deleting an object and removing its directory leaves behind.
    std::fs::create_dir_all(dir.path().join("pastes/left")).expect("create a directory");

    store
        .put("pastes/left", Bytes::from_static(b"x"), "text/plain")
        .await
        .expect("put over an empty directory");

    let read = store
        .get("pastes/left")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(&read.bytes[..], b"x");
}
