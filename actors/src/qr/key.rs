//! Content keys: one key per distinct image, so each image is rendered once and then served
//! from the blob store, and the key doubles as the image's ETag.

use super::options::QrOptions;
use super::render::QrFormat;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The version of the rendered output. Bump it when the same inputs start to give different
/// bytes (a new layout, encoder or SVG shape), so stored images of the old output are not
/// served under the new keys.
const RENDER_VERSION: u32 = 1;

/// The hex SHA-256 of a canonical encoding of every input of [`super::render`]: the render
/// version, the format, each option and the data. The data comes last, after its length, so no
/// two inputs share an encoding.
pub fn cache_key(data: &str, options: &QrOptions, format: QrFormat) -> String {
    let canonical = format!(
        "linkyard-qr/{RENDER_VERSION}\nformat={format}\nsize={}\nmargin={}\n\
         ecl={}\nfg={}\nbg={}\ndata={}:",
        options.size(),
        options.margin(),
        options.ecl(),
        options.fg(),
        options.bg(),
        data.len(),
    );
    let digest = Sha256::new()
        .chain_update(canonical.as_bytes())
        .chain_update(data.as_bytes())
        .finalize();

    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Formats the `ETag` header value of the image under `key`: the key, quoted.
pub fn etag(key: &str) -> String {
    format!("\"{key}\"")
}

/// Returns the blob store key of the image under `key`, such as `qr/ab12….png`.
pub fn blob_key(key: &str, format: QrFormat) -> String {
    format!("qr/{key}.{}", format.extension())
}
