//! Favicons: the media type sniffed from the bytes (never taken from the server's header), and
//! content-addressed storage in the blob store at `favicons/<sha256>`, once per distinct image.

use crate::backends::blob::{BlobError, BlobStore};
use crate::db::{self, DbError};
use bytes::Bytes;
use chrono::Utc;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};

/// The blob key prefix of favicons.
pub const BLOB_PREFIX: &str = "favicons/";
/// How much of an SVG is searched for its root element.
const SVG_SNIFF_BYTES: usize = 1024;

/// Returns the image type of `bytes` from their leading bytes, or `None` when they are not an
/// image type that browsers show as a favicon.
pub fn sniff_image_type(bytes: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\x00\x00\x01\x00", "image/x-icon"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"BM", "image/bmp"),
    ];
    if let Some((_, media_type)) = SIGNATURES
        .iter()
        .find(|(signature, _)| bytes.starts_with(signature))
    {
        return Some(media_type);
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    is_svg(bytes).then_some("image/svg+xml")
}

/// Checks whether `bytes` are UTF-8 text whose first element is `<svg`, after an optional BOM, XML
/// declaration, comments and doctype.
fn is_svg(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(SVG_SNIFF_BYTES)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // The cut may split a character; the valid prefix is enough.
        Err(error) => match std::str::from_utf8(&head[..error.valid_up_to()]) {
            Ok(text) => text,
            Err(_) => return false,
        },
    };
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        if rest.starts_with("<?") || rest.starts_with("<!") {
            let end = if rest.starts_with("<!--") {
                rest.find("-->").map(|end| end + 3)
            } else {
                rest.find('>').map(|end| end + 1)
            };
            let Some(end) = end else {
                return false;
            };
            rest = rest[end..].trim_start();
            continue;
        }
        let lower = rest.get(..4).map(str::to_ascii_lowercase);
        return lower.as_deref() == Some("<svg");
    }
}

/// Returns the blob key of a favicon.
pub fn blob_key(hash: &str) -> String {
    format!("{BLOB_PREFIX}{hash}")
}

/// Checks whether `hash` has the shape of a favicon hash: 64 lower-case hex digits.
pub fn is_hash(hash: &str) -> bool {
    hash.len() == 64
        && hash
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

/// A failure while storing a favicon.
#[derive(Debug, thiserror::Error)]
pub enum FaviconStoreError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Database(#[from] DbError),
}

/// Stores an image under its hash, unless it is stored already, and returns the hash. The
/// blob is written before the row, so a row always names a stored blob.
pub async fn store(
    db: &DatabaseConnection,
    blobs: &dyn BlobStore,
    bytes: Bytes,
    media_type: &str,
) -> Result<String, FaviconStoreError> {
    let hash: String = Sha256::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    if db::bookmarks::find_favicon(db, &hash).await?.is_some() {
        return Ok(hash);
    }
    let size = bytes.len();
    blobs.put(&blob_key(&hash), bytes, media_type).await?;
    db::bookmarks::insert_favicon(db, &hash, media_type, size, Utc::now()).await?;
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_types_are_sniffed() {
        let cases: [(&[u8], Option<&str>); 10] = [
            (b"\x89PNG\r\n\x1a\nrest", Some("image/png")),
            (b"\x00\x00\x01\x00\x01\x00", Some("image/x-icon")),
            (b"GIF89a....", Some("image/gif")),
            (b"\xff\xd8\xff\xe0", Some("image/jpeg")),
            (b"RIFF\x00\x00\x00\x00WEBPVP8 ", Some("image/webp")),
            (
                b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                Some("image/svg+xml"),
            ),
            (
                b"\xef\xbb\xbf<?xml version='1.0'?>\n<!-- icon -->\n<!DOCTYPE svg>\n<SVG>",
                Some("image/svg+xml"),
            ),
            (b"<html><body>not found</body></html>", None),
            (b"<?xml version='1.0'?><rss/>", None),
            (b"", None),
        ];
        for (bytes, expected) in cases {
            assert_eq!(sniff_image_type(bytes), expected, "{bytes:?}");
        }
    }

    #[test]
    fn hash_shape_is_checked() {
        assert!(is_hash(&"a".repeat(64)));
        assert!(!is_hash(&"A".repeat(64)));
        assert!(!is_hash(&"a".repeat(63)));
        assert!(!is_hash("../../etc/passwd"));
    }
}
