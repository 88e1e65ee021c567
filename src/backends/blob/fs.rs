//! The filesystem blob store: one file per object under a root directory, at the path the key
//! names (`pastes/ab/abcdef` is `<root>/pastes/ab/abcdef`).
//!
//! Each file starts with a fixed header that carries the content type, so that the bytes and
//! their content type are replaced by a single rename and a crash cannot pair new bytes with an
//! old content type:
//!
//! | bytes      | contents                                                  |
//! |------------|-----------------------------------------------------------|
//! | 0..8       | the magic `LYBLOB1\n`                                     |
//! | 8          | the length `n` of the content type, 1 to 255              |
//! | 9..264     | the content type (`n` ASCII bytes), then zero padding     |
//! | 264..      | the object's bytes, unchanged                             |
//!
//! The header has a fixed length so that a listing computes sizes from file metadata alone.
//! `tail -c +265 FILE` prints an object's bytes.
//!
//! A write goes to a temporary file (`.tmp-<random>`) in the target directory. The file is
//! flushed to disk and renamed over the key's path, and then the directory itself is flushed.
//! So a reader sees the old object or the new one, and a crash never leaves part of an object
//! under its key. `put_cache` skips both flushes. A reader still gets the old object or the new
//! one, also after the process crashes. After a power cut or a crash of the system, the key may
//! have no file, an empty or cut-short one, or one with stale blocks, and the readers of such
//! keys check for that. `check_key` rejects segments that start with `.`, so temporary files
//! cannot collide with objects, and listings skip such names. Every file operation runs on
//! tokio's blocking thread pool.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use linkyard_actors::backends::blob::{
    Blob, BlobEntry, BlobError, BlobStore, MAX_CONTENT_TYPE_BYTES, check_content_type, check_key,
};
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};

const BACKEND: &str = "filesystem";
const MAGIC: &[u8; 8] = b"LYBLOB1\n";
const HEADER_LEN: usize = MAGIC.len() + 1 + MAX_CONTENT_TYPE_BYTES;

/// How often `put` recreates a parent directory that a concurrent `delete` removed as empty.
const PUT_ATTEMPTS: usize = 3;

/// Blob store on a local directory.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// Opens the store at `root`, creating the directory when it is missing.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        let directory = root.clone();
        blocking("open", move || {
            fs::create_dir_all(&directory).map_err(|error| unavailable("open", &directory, &error))
        })
        .await?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Checks the key and content type, then writes the object on the blocking pool.
    async fn write(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
        flush: Flush,
    ) -> Result<(), BlobError> {
        check_key(key)?;
        check_content_type(content_type)?;

        let root = self.root.clone();
        let key = key.to_owned();
        let header = encode_header(content_type);
        blocking("put", move || {
            write_object(&root, &key, &header, &bytes, flush)
        })
        .await
    }
}

#[async_trait::async_trait]
impl BlobStore for FsBlobStore {
    fn name(&self) -> &'static str {
        BACKEND
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError> {
        self.write(key, bytes, content_type, Flush::Durable).await
    }

    async fn put_cache(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), BlobError> {
        self.write(key, bytes, content_type, Flush::Skip).await
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        check_key(key)?;

        let path = self.root.join(key);
        blocking("get", move || read_object(&path)).await
    }

    async fn exists(&self, key: &str) -> Result<bool, BlobError> {
        check_key(key)?;

        let path = self.root.join(key);
        blocking("exists", move || match fs::metadata(&path) {
            Ok(metadata) => Ok(metadata.is_file()),
            Err(error) if is_missing(&error) => Ok(false),
            Err(error) => Err(unavailable("exists", &path, &error)),
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;

        let root = self.root.clone();
        let path = self.root.join(key);
        blocking("delete", move || delete_object(&root, &path)).await
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BlobEntry>, BlobError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut listing = Listing {
            prefix: prefix.to_owned(),
            after: after.map(str::to_owned),
            limit,
            entries: Vec::new(),
        };
        let root = self.root.clone();
        blocking("list", move || {
            listing.walk(&root, "")?;
            Ok(listing.entries)
        })
        .await
    }

    async fn ping(&self) -> Result<(), BlobError> {
        let root = self.root.clone();
        blocking("ping", move || {
            let (path, mut file) =
                create_temporary(&root).map_err(|error| unavailable("ping", &root, &error))?;
            let written = file.write_all(b"ping");
            drop(file);
            let removed = fs::remove_file(&path);
            written
                .and(removed)
                .map_err(|error| unavailable("ping", &path, &error))
        })
        .await
    }
}

/// Runs file work on the blocking thread pool, so that large objects do not stall the
/// async workers.
async fn blocking<T, F>(operation: &'static str, work: F) -> Result<T, BlobError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, BlobError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| BlobError::Unavailable {
            backend: BACKEND,
            operation,
            message: format!("the blocking file task failed: {error}"),
        })?
}

fn unavailable(operation: &'static str, path: &Path, error: &io::Error) -> BlobError {
    BlobError::Unavailable {
        backend: BACKEND,
        operation,
        message: format!("{}: {error}", path.display()),
    }
}

/// Builds the error for a key whose path runs through an object, or which names a directory of
/// other objects. S3 can store both `a` and `a/b`, but a filesystem cannot.
fn key_conflict(key: &str) -> BlobError {
    BlobError::InvalidKey {
        key: key.to_owned(),
        reason: "the filesystem store cannot hold an object whose key is also a prefix \
                 directory of other objects, such as both 'a' and 'a/b'",
    }
}

/// Returns whether an error means that no object exists at the path: the path or a parent is
/// missing, a parent is a file, or the path is a directory.
fn is_missing(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory
    )
}

fn encode_header(content_type: &str) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    let length = content_type.len().min(MAX_CONTENT_TYPE_BYTES);
    header[..MAGIC.len()].copy_from_slice(MAGIC);
    // `check_content_type` bounds the length by `MAX_CONTENT_TYPE_BYTES`, which is 255.
    header[MAGIC.len()] = length as u8;
    let start = MAGIC.len() + 1;
    header[start..start + length].copy_from_slice(&content_type.as_bytes()[..length]);
    header
}

/// Splits a file's contents into the object: its content type and its bytes.
fn decode_object(contents: Bytes) -> Result<Blob, &'static str> {
    if contents.len() < HEADER_LEN {
        return Err("it is shorter than the blob header");
    }
    if &contents[..MAGIC.len()] != MAGIC {
        return Err("it does not start with the blob header");
    }
    let length = usize::from(contents[MAGIC.len()]);
    if length == 0 {
        return Err("its content type is empty");
    }
    let start = MAGIC.len() + 1;
    let content_type = std::str::from_utf8(&contents[start..start + length])
        .map_err(|_| "its content type is not UTF-8")?;
    Ok(Blob {
        content_type: content_type.to_owned(),
        bytes: contents.slice(HEADER_LEN..),
    })
}

// NOTE: each durable object pays two fsync calls. 4 KiB paste creates measured about 3,900/s on
// one 2-core test VM and 5,100 to 7,200/s on another. Sharing one `syncfs` per round among
// concurrent writers measured about 6,000/s on the first. But `syncfs` also waits for every
// other dirty page of the filesystem, and a CI run right after a large build hung, most likely
// on it. So it is not used. Cache writes (`put_cache`) skip both calls.
fn write_object(
    root: &Path,
    key: &str,
    header: &[u8],
    bytes: &[u8],
    flush: Flush,
) -> Result<(), BlobError> {
    let path = root.join(key);
    let Some(directory) = path.parent() else {
        return Err(key_conflict(key));
    };

    let (temporary, file) = create_temporary_in(directory, key)?;
    let written = write_contents(file, header, bytes, flush)
        .and_then(|()| rename_over(&temporary, &path))
        .and_then(|()| match flush {
            Flush::Durable => sync_directory(directory),
            Flush::Skip => Ok(()),
        });
    let Err(error) = written else {
        return Ok(());
    };

    let _ = fs::remove_file(&temporary);
    if matches!(
        error.kind(),
        ErrorKind::IsADirectory | ErrorKind::DirectoryNotEmpty | ErrorKind::AlreadyExists
    ) {
        return Err(key_conflict(key));
    }
    Err(unavailable("put", &path, &error))
}

/// Renames `temporary` to `path`. An empty directory at `path`, which a crash during a delete
/// can leave behind, is removed first.
fn rename_over(temporary: &Path, path: &Path) -> io::Result<()> {
    match fs::rename(temporary, path) {
        Err(error) if error.kind() == ErrorKind::IsADirectory => {
            fs::remove_dir(path).map_err(|_| error)?;
            fs::rename(temporary, path)
        }
        result => result,
    }
}

/// Creates the key's directory and a temporary file in it. A concurrent `delete` may remove the
/// directory as empty between the two steps, so both are retried.
fn create_temporary_in(directory: &Path, key: &str) -> Result<(PathBuf, File), BlobError> {
    let mut last_error = None;
    for _ in 0..PUT_ATTEMPTS {
        if let Err(error) = fs::create_dir_all(directory) {
            if matches!(
                error.kind(),
                ErrorKind::NotADirectory | ErrorKind::AlreadyExists
            ) {
                return Err(key_conflict(key));
            }
            return Err(unavailable("put", directory, &error));
        }
        match create_temporary(directory) {
            Ok(created) => return Ok(created),
            Err(error) if error.kind() == ErrorKind::NotFound => last_error = Some(error),
            Err(error) => return Err(unavailable("put", directory, &error)),
        }
    }
    let error = last_error.unwrap_or_else(|| io::Error::from(ErrorKind::NotFound));
    Err(unavailable("put", directory, &error))
}

// NOTE: a crash between creating a temporary file and renaming it leaves the file behind.
// Listings and reads ignore it, but nothing deletes it, so it keeps its disk space.
fn create_temporary(directory: &Path) -> io::Result<(PathBuf, File)> {
    let path = directory.join(format!(".tmp-{:016x}", rand::random::<u64>()));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok((path, file))
}

/// Whether a write waits until its object is on disk.
#[derive(Debug, Clone, Copy)]
enum Flush {
    /// Flush the file and its directory before returning: `put`.
    Durable,
    /// Leave both to the kernel: `put_cache`.
    Skip,
}

fn write_contents(mut file: File, header: &[u8], bytes: &[u8], flush: Flush) -> io::Result<()> {
    file.write_all(header)?;
    file.write_all(bytes)?;
    match flush {
        Flush::Durable => file.sync_all(),
        Flush::Skip => Ok(()),
    }
}

/// Flushes a directory's entries to disk, so that a rename or unlink in it survives a crash.
#[cfg(unix)]
fn sync_directory(directory: &Path) -> io::Result<()> {
    File::open(directory)?.sync_all()
}

#[cfg(not(unix))]
fn sync_directory(_directory: &Path) -> io::Result<()> {
    Ok(())
}

fn read_object(path: &Path) -> Result<Option<Blob>, BlobError> {
    let contents = match fs::read(path) {
        Ok(contents) => Bytes::from(contents),
        Err(error) if is_missing(&error) => return Ok(None),
        Err(error) => return Err(unavailable("get", path, &error)),
    };
    decode_object(contents)
        .map(Some)
        .map_err(|problem| BlobError::Unavailable {
            backend: BACKEND,
            operation: "get",
            message: format!("{} is not a blob file: {problem}", path.display()),
        })
}

fn delete_object(root: &Path, path: &Path) -> Result<(), BlobError> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if is_missing(&error) => return Ok(()),
        Err(error) => return Err(unavailable("delete", path, &error)),
    }
    if let Some(directory) = path.parent() {
        sync_directory(directory).map_err(|error| unavailable("delete", directory, &error))?;
        remove_empty_directories(root, directory);
    }
    Ok(())
}

/// Removes `directory` and its parents up to `root` while they are empty, so that deleted
/// objects leave no directories behind. Stops at the first one that is not empty.
fn remove_empty_directories(root: &Path, mut directory: &Path) {
    while directory != root && directory.starts_with(root) {
        if fs::remove_dir(directory).is_err() {
            return;
        }
        match directory.parent() {
            Some(parent) => directory = parent,
            None => return,
        }
    }
}

/// A listing in progress: a depth-first walk that visits each directory's entries in the byte
/// order of the keys they contain and stops once `limit` entries are found.
struct Listing {
    prefix: String,
    after: Option<String>,
    limit: usize,
    entries: Vec<BlobEntry>,
}

/// One directory entry, sorted by the key it holds: its name for a file, and its name plus
/// `/` for a directory, which is the prefix of every key below it.
struct Child {
    sort_key: String,
    name: String,
    is_dir: bool,
    entry: fs::DirEntry,
}

impl Listing {
    fn walk(&mut self, directory: &Path, directory_key: &str) -> Result<(), BlobError> {
        for child in read_children(directory)? {
            if self.entries.len() >= self.limit {
                return Ok(());
            }
            let key = format!("{directory_key}{}", child.sort_key);
            if key.as_str() > self.prefix.as_str() && !key.starts_with(&self.prefix) {
                // Every later key is greater too, so none of them starts with the prefix.
                return Ok(());
            }
            if child.is_dir {
                if self.subtree_may_match(&key) {
                    self.walk(&directory.join(&child.name), &key)?;
                }
            } else if self.includes(&key) {
                match child.entry.metadata() {
                    Ok(metadata) => self.entries.push(entry(key, &metadata)),
                    // Deleted since the directory was read.
                    Err(error) if error.kind() == ErrorKind::NotFound => {}
                    Err(error) => return Err(unavailable("list", &child.entry.path(), &error)),
                }
            }
        }
        Ok(())
    }

    /// Returns whether a directory of keys that start with `subtree` may contain a key to list.
    fn subtree_may_match(&self, subtree: &str) -> bool {
        let prefix_matches = subtree.starts_with(&self.prefix) || self.prefix.starts_with(subtree);
        // Every key below is greater than `subtree`. So only a subtree that sorts before `after`
        // without being a prefix of it contains no key after `after`.
        let after_matches = match &self.after {
            None => true,
            Some(after) => subtree > after.as_str() || after.starts_with(subtree),
        };
        prefix_matches && after_matches
    }

    fn includes(&self, key: &str) -> bool {
        let after_matches = match &self.after {
            None => true,
            Some(after) => key > after.as_str(),
        };
        key.starts_with(&self.prefix) && after_matches && check_key(key).is_ok()
    }
}

/// Reads a directory's entries in key order without their metadata, skipping names that no key can produce (hidden
/// and temporary files, names that are not UTF-8) and anything but files and directories.
fn read_children(directory: &Path) -> Result<Vec<Child>, BlobError> {
    let read_error = |error: io::Error| unavailable("list", directory, &error);
    let mut children = Vec::new();
    for item in fs::read_dir(directory).map_err(read_error)? {
        let item = item.map_err(read_error)?;
        let Ok(name) = item.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let file_type = item.file_type().map_err(read_error)?;
        if !file_type.is_dir() && !file_type.is_file() {
            continue;
        }
        let is_dir = file_type.is_dir();
        let sort_key = if is_dir {
            format!("{name}/")
        } else {
            name.clone()
        };
        children.push(Child {
            sort_key,
            name,
            is_dir,
            entry: item,
        });
    }
    children.sort_by(|left, right| left.sort_key.cmp(&right.sort_key));
    Ok(children)
}

fn entry(key: String, metadata: &fs::Metadata) -> BlobEntry {
    let size = metadata.len().saturating_sub(HEADER_LEN as u64);
    let last_modified = metadata.modified().ok().map(DateTime::<Utc>::from);
    BlobEntry {
        key,
        size,
        last_modified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_the_content_type() {
        let header = encode_header("text/plain; charset=utf-8");
        let mut contents = header.to_vec();
        contents.extend_from_slice(b"\0body");
        let blob = decode_object(Bytes::from(contents)).expect("decodes");
        assert_eq!(blob.content_type, "text/plain; charset=utf-8");
        assert_eq!(&blob.bytes[..], b"\0body");
    }

    #[test]
    fn foreign_files_are_not_blobs() {
        let short = decode_object(Bytes::from_static(b"hello"));
        assert_eq!(short.err(), Some("it is shorter than the blob header"));
        let foreign = decode_object(Bytes::from(vec![b'x'; HEADER_LEN + 10]));
        assert_eq!(
            foreign.err(),
            Some("it does not start with the blob header")
        );
    }
}
