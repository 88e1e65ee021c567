//! Media types: parsing `Content-Type`, deciding whether a response is HTML, other text or
//! binary, and sniffing responses that declare no type, after the WHATWG MIME Sniffing
//! Standard's rules for unknown types.

/// A parsed `Content-Type` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// `type/subtype` in lowercase, such as `text/html`.
    pub essence: String,
    /// The `charset` parameter, unquoted.
    pub charset: Option<String>,
}

impl MediaType {
    /// Parses a header value such as `text/html; charset="Shift_JIS"`. Returns `None` for a
    /// value without a `type/subtype`, which then counts as no type at all.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        let (kind, subtype) = essence.split_once('/')?;
        if !is_token(kind) || !is_token(subtype) {
            return None;
        }

        let charset = parts.find_map(|parameter| {
            let (name, value) = parameter.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("charset") {
                return None;
            }
            let value = value.trim().trim_matches('"').trim();
            (!value.is_empty()).then(|| value.to_owned())
        });
        Some(Self { essence, charset })
    }

    /// Classifies the response by its declared type.
    pub fn document_kind(&self) -> DocumentKind {
        let essence = self.essence.as_str();
        if essence == "text/html" || essence == "application/xhtml+xml" {
            return DocumentKind::Html;
        }
        if essence.starts_with("image/")
            || essence.starts_with("audio/")
            || essence.starts_with("video/")
            || essence.starts_with("font/")
        {
            return DocumentKind::Binary;
        }
        let textual_application = [
            "application/json",
            "application/xml",
            "application/javascript",
            "application/ecmascript",
        ];
        if essence.starts_with("text/")
            || textual_application.contains(&essence)
            || essence.ends_with("+xml")
            || essence.ends_with("+json")
        {
            return DocumentKind::Text;
        }
        DocumentKind::Binary
    }
}

fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&byte))
}

/// The fetcher's treatment of a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// HTML, decoded with the browser's charset rules and checked for a meta refresh.
    Html,
    /// Other text (plain text, JSON, XML), decoded without the HTML `<meta>` prescan.
    Text,
    /// Anything else (images, PDF, archives), which is not decoded.
    Binary,
}

/// The number of leading bytes that sniffing looks at (the "resource header" of the WHATWG
/// MIME Sniffing Standard).
pub const SNIFF_LENGTH: usize = 1445;

/// Tag names whose opening tag, followed by a space or `>`, marks a body as HTML when it starts
/// the body. `!--` is the start of a comment.
const HTML_TAGS: [&[u8]; 17] = [
    b"!DOCTYPE HTML",
    b"HTML",
    b"HEAD",
    b"SCRIPT",
    b"IFRAME",
    b"H1",
    b"DIV",
    b"FONT",
    b"TABLE",
    b"A",
    b"STYLE",
    b"TITLE",
    b"B",
    b"BODY",
    b"BR",
    b"P",
    b"!--",
];

/// Leading bytes of common binary formats.
const BINARY_SIGNATURES: [&[u8]; 12] = [
    b"%PDF-",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"\xff\xd8\xff",
    b"RIFF",
    b"BM",
    b"\x00\x00\x01\x00",
    b"PK\x03\x04",
    b"\x1f\x8b\x08",
    b"%!PS-Adobe-",
    b"wOFF",
];

/// Decides the kind of a body that came without a usable `Content-Type`.
pub fn sniff(body: &[u8]) -> DocumentKind {
    let header = &body[..body.len().min(SNIFF_LENGTH)];
    let start = header
        .iter()
        .position(|byte| !is_sniff_whitespace(*byte))
        .unwrap_or(header.len());
    let trimmed = &header[start..];

    if starts_with_html_tag(trimmed) {
        return DocumentKind::Html;
    }
    if BINARY_SIGNATURES
        .iter()
        .any(|signature| header.starts_with(signature))
    {
        return DocumentKind::Binary;
    }
    let has_bom = [&b"\xef\xbb\xbf"[..], b"\xfe\xff", b"\xff\xfe"]
        .iter()
        .any(|bom| header.starts_with(bom));
    if has_bom || !header.iter().any(|byte| is_binary_data_byte(*byte)) {
        return DocumentKind::Text;
    }
    DocumentKind::Binary
}

fn starts_with_html_tag(bytes: &[u8]) -> bool {
    let Some(rest) = bytes.strip_prefix(b"<") else {
        return false;
    };
    HTML_TAGS.iter().any(|tag| {
        rest.len() > tag.len()
            && rest[..tag.len()].eq_ignore_ascii_case(tag)
            && matches!(rest[tag.len()], b' ' | b'>')
    })
}

fn is_sniff_whitespace(byte: u8) -> bool {
    matches!(byte, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

/// Control bytes that never occur in text, as the sniffing standard defines them.
fn is_binary_data_byte(byte: u8) -> bool {
    matches!(byte, 0x00..=0x08 | 0x0b | 0x0e..=0x1a | 0x1c..=0x1f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_essence_and_charset() {
        let parsed = MediaType::parse("Text/HTML; Charset=\"Shift_JIS\"").expect("valid");
        assert_eq!(parsed.essence, "text/html");
        assert_eq!(parsed.charset.as_deref(), Some("Shift_JIS"));
    }

    #[test]
    fn charset_is_optional() {
        let parsed = MediaType::parse("image/png").expect("valid");
        assert_eq!(parsed.charset, None);
        let parsed = MediaType::parse("text/html; charset=").expect("valid");
        assert_eq!(parsed.charset, None);
    }

    #[test]
    fn invalid_types_are_none() {
        for value in ["", "html", "text/", "/html", "text html/x", "text/ht ml"] {
            assert_eq!(MediaType::parse(value), None, "{value}");
        }
    }

    #[test]
    fn kinds_of_declared_types() {
        let cases = [
            ("text/html", DocumentKind::Html),
            ("application/xhtml+xml", DocumentKind::Html),
            ("text/plain", DocumentKind::Text),
            ("application/json", DocumentKind::Text),
            ("application/rss+xml", DocumentKind::Text),
            ("image/png", DocumentKind::Binary),
            ("image/svg+xml", DocumentKind::Binary),
            ("application/pdf", DocumentKind::Binary),
            ("application/octet-stream", DocumentKind::Binary),
            ("video/mp4", DocumentKind::Binary),
        ];
        for (value, kind) in cases {
            let parsed = MediaType::parse(value).expect(value);
            assert_eq!(parsed.document_kind(), kind, "{value}");
        }
    }

    #[test]
    fn sniffs_html() {
        assert_eq!(
            sniff(b"  \n<!DOCTYPE html><title>x</title>"),
            DocumentKind::Html
        );
        assert_eq!(sniff(b"<html lang=en>"), DocumentKind::Html);
        assert_eq!(sniff(b"<p>hello</p>"), DocumentKind::Html);
        assert_eq!(sniff(b"<!-- comment --><div>"), DocumentKind::Html);
    }

    #[test]
    fn sniffs_binary_and_text() {
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3"), DocumentKind::Binary);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\x00\x00"), DocumentKind::Binary);
        assert_eq!(sniff(b"\x00\x01\x02garbage"), DocumentKind::Binary);
        assert_eq!(sniff(b"just some words\n"), DocumentKind::Text);
        assert_eq!(sniff(b"<pre>"), DocumentKind::Text);
        assert_eq!(sniff(b"\xff\xfeh\x00i\x00"), DocumentKind::Text);
        assert_eq!(sniff(b""), DocumentKind::Text);
    }
}
