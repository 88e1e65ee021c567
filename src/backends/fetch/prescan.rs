//! The HTML Standard's prescan of a byte stream for a `<meta>` encoding declaration ("prescan a
//! byte stream to determine its encoding", HTML Living Standard 13.2.3.2). Browsers run it on
//! the first 1024 bytes when neither a byte order mark nor the `Content-Type` header names an
//! encoding.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252, X_USER_DEFINED};

/// The number of leading bytes that the prescan reads.
pub const PRESCAN_LENGTH: usize = 1024;

/// Returns the encoding that a `<meta charset>` or `<meta http-equiv="content-type">` in the
/// first [`PRESCAN_LENGTH`] bytes declares. Labels of the "replacement" encoding are ignored, so
/// that a `<meta>` cannot make the page undecodable.
pub fn prescan(body: &[u8]) -> Option<&'static Encoding> {
    let mut scanner = Scanner {
        bytes: &body[..body.len().min(PRESCAN_LENGTH)],
        position: 0,
    };
    scanner.run().ok().flatten()
}

/// The scan ran past the end of its input, which ends the prescan without a result.
struct EndOfInput;

struct Attribute {
    name: Vec<u8>,
    value: Vec<u8>,
}

struct Scanner<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Scanner<'_> {
    fn run(&mut self) -> Result<Option<&'static Encoding>, EndOfInput> {
        while self.position < self.bytes.len() {
            let rest = &self.bytes[self.position..];
            if rest.starts_with(b"<!--") {
                // The closing "-->" may share its dashes with the opening, so "<!-->" is a
                // whole comment.
                let end = find(&rest[2..], b"-->").ok_or(EndOfInput)?;
                self.position += 2 + end + 2;
            } else if is_meta_start(rest) {
                self.position += 5;
                if let Some(encoding) = self.meta()? {
                    return Ok(Some(encoding));
                }
            } else if is_tag_start(rest) {
                self.skip_tag()?;
            } else if rest.starts_with(b"<!") || rest.starts_with(b"</") || rest.starts_with(b"<?")
            {
                let end = rest
                    .iter()
                    .position(|byte| *byte == b'>')
                    .ok_or(EndOfInput)?;
                self.position += end;
            }
            self.position += 1;
        }
        Ok(None)
    }

    /// Reads the attributes of a `<meta>` tag and returns the encoding it declares.
    fn meta(&mut self) -> Result<Option<&'static Encoding>, EndOfInput> {
        let mut seen: Vec<Vec<u8>> = Vec::new();
        let mut got_pragma = false;
        let mut need_pragma = None;
        let mut charset = None;

        while let Some(attribute) = self.attribute()? {
            if seen.contains(&attribute.name) {
                continue;
            }
            match attribute.name.as_slice() {
                b"http-equiv" => got_pragma |= attribute.value == b"content-type",
                b"content" if charset.is_none() => {
                    if let Some(encoding) = charset_from_content(&attribute.value) {
                        charset = Some(encoding);
                        need_pragma = Some(true);
                    }
                }
                b"charset" => {
                    charset = Encoding::for_label_no_replacement(&attribute.value);
                    need_pragma = Some(false);
                }
                _ => {}
            }
            seen.push(attribute.name);
        }

        let declared = match need_pragma {
            None => None,
            Some(true) if !got_pragma => None,
            Some(_) => charset,
        };
        Ok(declared.map(|encoding| {
            if encoding == UTF_16BE || encoding == UTF_16LE {
                UTF_8
            } else if encoding == X_USER_DEFINED {
                WINDOWS_1252
            } else {
                encoding
            }
        }))
    }

    /// Skips a start or end tag other than `<meta>`, attributes included, so that a `>` inside
    /// a quoted attribute value does not end it.
    fn skip_tag(&mut self) -> Result<(), EndOfInput> {
        while !matches!(self.byte()?, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'>') {
            self.position += 1;
        }
        while self.attribute()?.is_some() {}
        Ok(())
    }

    /// The "get an attribute" steps: returns the next attribute with its name and value in
    /// lowercase, or `None` at the `>` that ends the tag.
    fn attribute(&mut self) -> Result<Option<Attribute>, EndOfInput> {
        while is_whitespace(self.byte()?) || self.byte()? == b'/' {
            self.position += 1;
        }
        if self.byte()? == b'>' {
            return Ok(None);
        }

        let mut name = Vec::new();
        loop {
            match self.byte()? {
                b'=' if !name.is_empty() => {
                    self.position += 1;
                    return self.attribute_value(name).map(Some);
                }
                byte if is_whitespace(byte) => break,
                b'/' | b'>' => {
                    return Ok(Some(Attribute {
                        name,
                        value: Vec::new(),
                    }));
                }
                byte => name.push(byte.to_ascii_lowercase()),
            }
            self.position += 1;
        }

        while is_whitespace(self.byte()?) {
            self.position += 1;
        }
        if self.byte()? != b'=' {
            return Ok(Some(Attribute {
                name,
                value: Vec::new(),
            }));
        }
        self.position += 1;
        self.attribute_value(name).map(Some)
    }

    fn attribute_value(&mut self, name: Vec<u8>) -> Result<Attribute, EndOfInput> {
        while is_whitespace(self.byte()?) {
            self.position += 1;
        }

        let mut value = Vec::new();
        let first = self.byte()?;
        if first == b'"' || first == b'\'' {
            loop {
                self.position += 1;
                let byte = self.byte()?;
                if byte == first {
                    self.position += 1;
                    return Ok(Attribute { name, value });
                }
                value.push(byte.to_ascii_lowercase());
            }
        }
        if first == b'>' {
            return Ok(Attribute { name, value });
        }

        loop {
            let byte = self.byte()?;
            if is_whitespace(byte) || byte == b'>' {
                return Ok(Attribute { name, value });
            }
            value.push(byte.to_ascii_lowercase());
            self.position += 1;
        }
    }

    fn byte(&self) -> Result<u8, EndOfInput> {
        self.bytes.get(self.position).copied().ok_or(EndOfInput)
    }
}

/// Runs the "extracting a character encoding from a meta element" steps on a lowercase
/// `content` value such as `text/html; charset=windows-1252`.
pub fn charset_from_content(value: &[u8]) -> Option<&'static Encoding> {
    let mut position = 0;
    loop {
        position += find(&value[position..], b"charset")? + b"charset".len();
        position = skip_whitespace(value, position);
        if value.get(position) != Some(&b'=') {
            continue;
        }
        position = skip_whitespace(value, position + 1);

        let rest = &value[position..];
        let label = match rest.first()? {
            &quote @ (b'"' | b'\'') => {
                let end = rest[1..].iter().position(|byte| *byte == quote)?;
                &rest[1..1 + end]
            }
            _ => {
                let end = rest
                    .iter()
                    .position(|byte| is_whitespace(*byte) || *byte == b';')
                    .unwrap_or(rest.len());
                &rest[..end]
            }
        };
        return Encoding::for_label_no_replacement(label);
    }
}

fn is_meta_start(bytes: &[u8]) -> bool {
    bytes.len() > 5
        && bytes[..5].eq_ignore_ascii_case(b"<meta")
        && (is_whitespace(bytes[5]) || bytes[5] == b'/')
}

/// `<` and a letter, or `</` and a letter.
fn is_tag_start(bytes: &[u8]) -> bool {
    match bytes {
        [b'<', b'/', letter, ..] | [b'<', letter, ..] => letter.is_ascii_alphabetic(),
        _ => false,
    }
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

fn skip_whitespace(bytes: &[u8], mut position: usize) -> usize {
    while bytes.get(position).is_some_and(|byte| is_whitespace(*byte)) {
        position += 1;
    }
    position
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(html: &str) -> Option<&'static str> {
        prescan(html.as_bytes()).map(Encoding::name)
    }

    #[test]
    fn meta_charset() {
        assert_eq!(name("<meta charset=\"shift_jis\">"), Some("Shift_JIS"));
        assert_eq!(name("<META CHARSET=Windows-1252>"), Some("windows-1252"));
        assert_eq!(name("<meta/charset='euc-kr'/>"), Some("EUC-KR"));
        assert_eq!(name("<meta charset = gbk >"), Some("GBK"));
    }

    #[test]
    fn http_equiv_content_type() {
        let html = "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\">";
        assert_eq!(name(html), Some("windows-1251"));
        let reversed = "<meta content='text/html; charset=\"euc-jp\"' http-equiv=content-type>";
        assert_eq!(name(reversed), Some("EUC-JP"));
    }

    #[test]
    fn content_without_pragma_is_ignored() {
        assert_eq!(name("<meta name=x content=\"charset=iso-8859-2\">"), None);
        assert_eq!(
            name("<meta http-equiv=refresh content=\"charset=iso-8859-2\">"),
            None
        );
    }

    #[test]
    fn utf16_and_user_defined_are_replaced() {
        assert_eq!(name("<meta charset=utf-16le>"), Some("UTF-8"));
        assert_eq!(name("<meta charset=utf-16be>"), Some("UTF-8"));
        assert_eq!(name("<meta charset=x-user-defined>"), Some("windows-1252"));
    }

    #[test]
    fn first_attribute_of_a_name_wins() {
        assert_eq!(name("<meta charset=koi8-r charset=gbk>"), Some("KOI8-R"));
    }

    #[test]
    fn unknown_and_replacement_labels_skip_to_next_meta() {
        assert_eq!(name("<meta charset=bogus><meta charset=gbk>"), Some("GBK"));
        assert_eq!(
            name("<meta charset=iso-2022-kr><meta charset=big5>"),
            Some("Big5")
        );
    }

    #[test]
    fn comments_hide_declarations() {
        assert_eq!(name("<!-- <meta charset=koi8-r> --><p>"), None);
        assert_eq!(name("<!--><meta charset=koi8-r>"), Some("KOI8-R"));
        assert_eq!(name("<!-- unterminated <meta charset=koi8-r>"), None);
    }

    #[test]
    fn quoted_gt_in_other_tags_is_skipped() {
        let html = "<div title=\"a>b <meta charset=koi8-r>\"><meta charset=gbk>";
        assert_eq!(name(html), Some("GBK"));
    }

    #[test]
    fn processing_instructions_and_end_tags_are_skipped() {
        assert_eq!(
            name("<?xml version=\"1.0\"?></x><meta charset=iso-8859-7>"),
            Some("ISO-8859-7")
        );
    }

    #[test]
    fn meta_must_be_followed_by_space_or_slash() {
        assert_eq!(name("<metacharset=gbk>"), None);
        assert_eq!(name("<meta-x charset=gbk>"), None);
    }

    #[test]
    fn only_first_1024_bytes_are_read() {
        let padding = " ".repeat(PRESCAN_LENGTH);
        assert_eq!(name(&format!("{padding}<meta charset=gbk>")), None);
        let padding = " ".repeat(PRESCAN_LENGTH - 20);
        assert_eq!(name(&format!("{padding}<meta charset=gbk>")), Some("GBK"));
    }

    #[test]
    fn truncated_tag_gives_nothing() {
        assert_eq!(name("<meta charset=\"gbk"), None);
        assert_eq!(name("<meta charset=gbk"), None);
    }

    #[test]
    fn content_value_forms() {
        let cases: [(&[u8], Option<&str>); 7] = [
            (b"text/html; charset=utf-8", Some("UTF-8")),
            (b"text/html;charset='big5'", Some("Big5")),
            (b"text/html; charset = \"gbk\" ; x", Some("GBK")),
            (b"charsetx; charset=koi8-r", Some("KOI8-R")),
            (b"text/html; charset=\"gbk", None),
            (b"text/html", None),
            (b"text/html; charset=", None),
        ];
        for (value, expected) in cases {
            let found = charset_from_content(value).map(Encoding::name);
            assert_eq!(found, expected, "{}", String::from_utf8_lossy(value));
        }
    }
}
