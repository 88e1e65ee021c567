//! Choosing a body's character encoding as browsers do (WHATWG Encoding and HTML standards): a
//! byte order mark, then the `Content-Type` charset, then for HTML the `<meta>` prescan of the
//! first 1024 bytes, then a statistical guess by chardetng. Decoding uses encoding_rs, which
//! replaces malformed sequences with U+FFFD.

use super::media::DocumentKind;
use super::prescan::prescan;
use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{CoderResult, Decoder, Encoding};

/// The origin of a decoded body's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingSource {
    ByteOrderMark,
    /// The `charset` parameter of the `Content-Type` header.
    ContentType,
    /// A `<meta charset>` or `<meta http-equiv="content-type">` in the first 1024 bytes.
    MetaPrescan,
    /// chardetng's guess from the bytes and the host's top-level domain.
    Sniffed,
}

/// A body decoded to text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedText {
    pub text: String,
    /// The WHATWG name of the encoding, such as `UTF-8` or `Shift_JIS`.
    pub encoding: &'static str,
    pub encoding_source: EncodingSource,
    /// Whether the body was cut at the size limit, so that the text is only its beginning.
    pub truncated: bool,
}

/// The inputs to the encoding decision besides the bytes.
#[derive(Debug, Clone, Copy)]
pub struct DecodeHints<'a> {
    pub kind: DocumentKind,
    /// The `charset` parameter of the `Content-Type` header.
    pub header_charset: Option<&'a str>,
    /// The host of the final URL, whose top-level domain steers the guess (`.jp` favours
    /// Japanese encodings, for example).
    pub host: Option<&'a str>,
    pub truncated: bool,
}

/// Decodes `body` with the encoding that a browser would choose.
pub fn decode(body: &[u8], hints: DecodeHints<'_>) -> DecodedText {
    let (encoding, encoding_source) = choose_encoding(body, hints);
    let mut decoder = match encoding_source {
        EncodingSource::ByteOrderMark => encoding.new_decoder_with_bom_removal(),
        _ => encoding.new_decoder_without_bom_handling(),
    };
    // A body cut at the size limit may end inside a multi-byte character, which is dropped
    // rather than decoded as U+FFFD.
    let text = decode_all(&mut decoder, body, !hints.truncated);
    DecodedText {
        text,
        encoding: encoding.name(),
        encoding_source,
        truncated: hints.truncated,
    }
}

fn choose_encoding(body: &[u8], hints: DecodeHints<'_>) -> (&'static Encoding, EncodingSource) {
    if let Some((encoding, _)) = Encoding::for_bom(body) {
        return (encoding, EncodingSource::ByteOrderMark);
    }
    let from_header = hints
        .header_charset
        .and_then(|label| Encoding::for_label(label.as_bytes()));
    if let Some(encoding) = from_header {
        return (encoding, EncodingSource::ContentType);
    }
    if hints.kind == DocumentKind::Html
        && let Some(encoding) = prescan(body)
    {
        return (encoding, EncodingSource::MetaPrescan);
    }
    (guess(body, hints), EncodingSource::Sniffed)
}

fn guess(body: &[u8], hints: DecodeHints<'_>) -> &'static Encoding {
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(body, !hints.truncated);
    let tld = hints.host.and_then(top_level_domain);
    detector.guess(tld.map(str::as_bytes), Utf8Detection::Allow)
}

/// Returns the last label of a host name when chardetng accepts its form, which is lowercase
/// ASCII without dots. chardetng panics on any other form.
fn top_level_domain(host: &str) -> Option<&str> {
    let label = host.trim_end_matches('.').rsplit('.').next()?;
    let valid = !label.is_empty()
        && label
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    valid.then_some(label)
}

fn decode_all(decoder: &mut Decoder, mut input: &[u8], last: bool) -> String {
    let capacity = decoder
        .max_utf8_buffer_length(input.len())
        .unwrap_or(input.len());
    let mut text = String::with_capacity(capacity);
    loop {
        let (result, read, _had_replacements) = decoder.decode_to_string(input, &mut text, last);
        input = &input[read..];
        match result {
            CoderResult::InputEmpty => return text,
            CoderResult::OutputFull => text.reserve(input.len().max(64) * 3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(kind: DocumentKind, header_charset: Option<&str>) -> DecodeHints<'_> {
        DecodeHints {
            kind,
            header_charset,
            host: Some("example.com"),
            truncated: false,
        }
    }

    #[test]
    fn bom_wins_over_header_and_meta() {
        let body = b"\xef\xbb\xbf<meta charset=windows-1252>caf\xc3\xa9";
        let decoded = decode(body, hints(DocumentKind::Html, Some("shift_jis")));
        assert_eq!(decoded.encoding, "UTF-8");
        assert_eq!(decoded.encoding_source, EncodingSource::ByteOrderMark);
        assert_eq!(decoded.text, "<meta charset=windows-1252>café");
    }

    #[test]
    fn utf16_bom_is_decoded() {
        let body = b"\xff\xfeh\x00\xe9\x00";
        let decoded = decode(body, hints(DocumentKind::Text, None));
        assert_eq!(decoded.encoding, "UTF-16LE");
        assert_eq!(decoded.text, "hé");
    }

    #[test]
    fn header_wins_over_meta() {
        let body = b"<meta charset=utf-8>caf\xe9";
        let decoded = decode(body, hints(DocumentKind::Html, Some("windows-1252")));
        assert_eq!(decoded.encoding_source, EncodingSource::ContentType);
        assert_eq!(decoded.text, "<meta charset=utf-8>café");
    }

    #[test]
    fn latin1_label_means_windows_1252() {
        let decoded = decode(
            b"\x93quoted\x94",
            hints(DocumentKind::Text, Some("ISO-8859-1")),
        );
        assert_eq!(decoded.encoding, "windows-1252");
        assert_eq!(decoded.text, "\u{201c}quoted\u{201d}");
    }

    #[test]
    fn unknown_header_label_falls_through_to_meta() {
        let body = b"<meta charset=windows-1252>caf\xe9";
        let decoded = decode(body, hints(DocumentKind::Html, Some("no-such-charset")));
        assert_eq!(decoded.encoding_source, EncodingSource::MetaPrescan);
        assert_eq!(decoded.encoding, "windows-1252");
    }

    #[test]
    fn meta_is_ignored_for_plain_text() {
        let body = "<meta charset=shift_jis>日本語のテキスト".as_bytes();
        let decoded = decode(body, hints(DocumentKind::Text, None));
        assert_eq!(decoded.encoding_source, EncodingSource::Sniffed);
        assert_eq!(decoded.encoding, "UTF-8");
    }

    #[test]
    fn undeclared_shift_jis_is_sniffed() {
        let text =
            "<p>日本語のページです。文字コードの宣言がありませんが、ブラウザは推測します。</p>";
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        let decoded = decode(&bytes, hints(DocumentKind::Html, None));
        assert_eq!(decoded.encoding_source, EncodingSource::Sniffed);
        assert_eq!(decoded.encoding, "Shift_JIS");
        assert_eq!(decoded.text, text);
    }

    #[test]
    fn truncated_body_drops_partial_character() {
        let body = "abcé".as_bytes();
        let cut = &body[..body.len() - 1];
        let mut cut_hints = hints(DocumentKind::Text, Some("utf-8"));
        cut_hints.truncated = true;
        let decoded = decode(cut, cut_hints);
        assert_eq!(decoded.text, "abc");
        assert!(decoded.truncated);

        let whole = decode(cut, hints(DocumentKind::Text, Some("utf-8")));
        assert_eq!(whole.text, "abc\u{fffd}");
    }

    #[test]
    fn top_level_domain_forms() {
        assert_eq!(top_level_domain("www.example.jp"), Some("jp"));
        assert_eq!(top_level_domain("example.jp."), Some("jp"));
        assert_eq!(top_level_domain("xn--p1ai"), Some("xn--p1ai"));
        assert_eq!(top_level_domain("EXAMPLE.JP"), None);
        assert_eq!(top_level_domain(""), None);
    }
}
