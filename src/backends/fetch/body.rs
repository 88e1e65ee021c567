//! Reading a response body up to a byte limit. reqwest decompresses gzip, deflate and brotli as
//! the chunks are read, so the limit applies to the decompressed bytes, and a small compressed
//! body that inflates to gigabytes stops being read at the limit.

use reqwest::Response;

/// A body read up to a limit.
#[derive(Debug)]
pub(super) struct CappedBody {
    pub bytes: Vec<u8>,
    /// Whether the body had more bytes than the limit, in which case `bytes` contains exactly
    /// the limit.
    pub truncated: bool,
}

/// Reads at most `max_bytes` decompressed bytes of `response` and drops the rest unread.
pub(super) async fn read_capped(
    response: &mut Response,
    max_bytes: usize,
) -> Result<CappedBody, reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = max_bytes - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok(CappedBody {
                bytes,
                truncated: true,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(CappedBody {
        bytes,
        truncated: false,
    })
}
