//! The results of a fetch: a page decoded to text, or the raw bytes of a favicon or image.

use super::charset::DecodedText;
use super::redirect::Redirect;
use bytes::Bytes;
use http::StatusCode;
use url::Url;

/// A fetched page after redirects.
#[derive(Debug, Clone)]
pub struct FetchedPage {
    /// The URL of the last hop, which returned the content.
    pub final_url: Url,
    /// The final status, below 400 (a status of 400 or more is a [`super::FetchError`]).
    pub status: StatusCode,
    /// The declared media type without parameters, such as `text/html`.
    pub content_type: Option<String>,
    pub content: PageContent,
    /// Every redirect followed, in order. It is empty when the first URL returned the content.
    pub redirects: Vec<Redirect>,
}

/// The body of a fetched page.
#[derive(Debug, Clone)]
pub enum PageContent {
    /// An HTML document, declared as such or sniffed.
    Html(DecodedText),
    /// Another text format: plain text, JSON, XML.
    Text(DecodedText),
    /// Content that is not text, such as an image, a PDF or an archive. Its body is not read
    /// when the `Content-Type` declares it.
    Binary {
        /// The `Content-Length` of the response, or the number of bytes read for a sniffed body.
        content_length: Option<u64>,
    },
}

impl PageContent {
    /// Returns the decoded HTML, if the page is HTML.
    pub fn html(&self) -> Option<&DecodedText> {
        match self {
            Self::Html(decoded) => Some(decoded),
            _ => None,
        }
    }

    /// Returns the decoded text of an HTML or other text page.
    pub fn text(&self) -> Option<&DecodedText> {
        match self {
            Self::Html(decoded) | Self::Text(decoded) => Some(decoded),
            Self::Binary { .. } => None,
        }
    }
}

/// The raw body of a favicon or image fetch.
#[derive(Debug, Clone)]
pub struct FetchedBytes {
    pub final_url: Url,
    /// The declared media type without parameters, such as `image/png`.
    pub content_type: Option<String>,
    pub bytes: Bytes,
}
