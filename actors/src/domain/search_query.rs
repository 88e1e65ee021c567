//! The bookmark search query language, parsed once into a [`SearchQuery`] that each search
//! engine translates to its own query.
//!
//! A query is a list of terms separated by whitespace, and a bookmark matches when every term
//! matches:
//!
//! | term | matches bookmarks |
//! |---|---|
//! | `word` | containing the word in the title, description, URL, note, tags or site name |
//! | `"quoted phrase"` | containing the words in this order, next to each other |
//! | `#tag` | tagged `tag`: letters, digits, `-` and `_` in any script, compared case-insensitively |
//! | `site:example.com` | on that host or one of its subdomains (`blog.example.com`) |
//! | `is:unread`, `is:read` | marked unread, or not |
//! | `status:pending`, `status:active`, `status:failed` | whose enrichment has that status |
//! | `before:2024-05-01` | created before that day: earlier than 2024-05-01T00:00:00Z |
//! | `after:2024-05-01` | created after that day: at or later than 2024-05-02T00:00:00Z |
//!
//! Both date operators exclude the day they name, and days are UTC, so
//! `after:2024-05-01 before:2024-05-03` is exactly 2024-05-02. Operator names and the values of
//! `is:` and `status:` are case-insensitive. A leading `-` negates any term (`-#draft`,
//! `-site:example.com`, `-"exact words"`). A word whose text before the first `:` is not an
//! operator name, such as `https://example.com` or `c++:tips`, is searched as a word, so pasted
//! URLs work. A known operator with a bad value is an error that names the term.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// Maximum length of a query, in bytes.
pub const MAX_QUERY_BYTES: usize = 1024;
/// The maximum number of terms in one query. Each term becomes at least one clause of the
/// engine's query, so this bounds the cost of one search.
pub const MAX_TERMS: usize = 32;
/// Maximum length of a `#tag` term, in characters after normalization.
pub const MAX_TAG_CHARS: usize = 64;

/// A bookmark's enrichment state: the page fetch is `pending`, has succeeded (`active`) or has
/// given up (`failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookmarkStatus {
    Pending,
    Active,
    Failed,
}

impl BookmarkStatus {
    pub const ALL: [Self; 3] = [Self::Pending, Self::Active, Self::Failed];

    /// Returns the lower-case name used in the API, the database and the search indexes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Failed => "failed",
        }
    }

    /// Parses a status name, ignoring ASCII case.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for BookmarkStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed query: terms that must all hold. Its fields are private, so every value went through
/// [`SearchQuery::parse`]. `Display` renders it back to query text that parses to the same value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    clauses: Vec<Clause>,
}

/// One term of a query, possibly negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub negated: bool,
    pub term: Term,
}

/// The condition of one clause. Text values are in Unicode NFC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// A word as typed: no whitespace and no `"`. The engine splits it into tokens, so a word
    /// with punctuation such as `node.js` matches like the phrase `"node js"`.
    Word(String),
    /// The words of a quoted phrase, separated by single spaces; never empty.
    Phrase(String),
    /// A tag key: see [`tag_key`].
    Tag(String),
    /// A lower-case ASCII host (IDNA-encoded), without a trailing dot.
    Site(String),
    /// `is:unread` is `Unread(true)` and `is:read` is `Unread(false)`.
    Unread(bool),
    Status(BookmarkStatus),
    /// Created before this UTC day began: see [`before_cutoff`].
    Before(NaiveDate),
    /// Created after this UTC day ended: see [`after_cutoff`].
    After(NaiveDate),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchQueryError {
    #[error("search query is {bytes} bytes long; the maximum is {MAX_QUERY_BYTES} bytes")]
    TooLong { bytes: usize },
    #[error("search query has more than {MAX_TERMS} terms; remove some")]
    TooManyTerms,
    #[error("search term '{token}' opens a quote that is never closed; add the closing '\"'")]
    UnterminatedPhrase { token: String },
    #[error(
        "search term '{token}' is not a valid tag: {reason}; a tag is 1 to {MAX_TAG_CHARS} \
         letters, digits, '-' or '_'"
    )]
    InvalidTag { token: String, reason: &'static str },
    #[error("search term '{token}' is invalid: {reason}")]
    InvalidValue { token: String, reason: String },
}

impl SearchQueryError {
    /// Stable error code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLong { .. } => "query_too_long",
            Self::TooManyTerms => "query_too_many_terms",
            Self::UnterminatedPhrase { .. }
            | Self::InvalidTag { .. }
            | Self::InvalidValue { .. } => "invalid_query",
        }
    }

    /// Returns the query term that failed to parse, if the error concerns one term.
    pub fn token(&self) -> Option<&str> {
        match self {
            Self::TooLong { .. } | Self::TooManyTerms => None,
            Self::UnterminatedPhrase { token }
            | Self::InvalidTag { token, .. }
            | Self::InvalidValue { token, .. } => Some(token),
        }
    }
}

impl SearchQuery {
    /// Parses query text. Whitespace-only text is the empty query, which matches every bookmark
    /// of the user.
    pub fn parse(input: &str) -> Result<Self, SearchQueryError> {
        if input.len() > MAX_QUERY_BYTES {
            return Err(SearchQueryError::TooLong { bytes: input.len() });
        }
        let text: String = input.nfc().collect();
        let clauses = Parser::new(&text).clauses()?;
        Ok(Self { clauses })
    }

    pub fn clauses(&self) -> &[Clause] {
        &self.clauses
    }

    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// Checks whether any clause is a word or phrase, so that relevance can rank the results. Without
    /// one, every match is equally relevant.
    pub fn has_text(&self) -> bool {
        self.clauses
            .iter()
            .any(|clause| matches!(clause.term, Term::Word(_) | Term::Phrase(_)))
    }
}

impl fmt::Display for SearchQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, clause) in self.clauses.iter().enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{clause}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("-")?;
        }
        match &self.term {
            Term::Word(word) => f.write_str(word),
            Term::Phrase(phrase) => write!(f, "\"{phrase}\""),
            Term::Tag(tag) => write!(f, "#{tag}"),
            Term::Site(host) => write!(f, "site:{host}"),
            Term::Unread(true) => f.write_str("is:unread"),
            Term::Unread(false) => f.write_str("is:read"),
            Term::Status(status) => write!(f, "status:{status}"),
            Term::Before(date) => write!(f, "before:{}", date.format("%Y-%m-%d")),
            Term::After(date) => write!(f, "after:{}", date.format("%Y-%m-%d")),
        }
    }
}

/// Normalizes text to Unicode NFC, the form the parser gives query terms in, so that indexed
/// text and query terms compare equal however they were typed.
pub fn normalize_text(text: &str) -> String {
    text.nfc().collect()
}

/// Returns the key a tag is indexed and matched under: NFC-normalized, then lower-cased, so `#Rust`
/// finds a bookmark tagged `rust`. Search engines index the keys of a bookmark's tags.
pub fn tag_key(tag: &str) -> String {
    let lower: String = tag.trim().nfc().collect::<String>().to_lowercase();
    lower.nfc().collect()
}

/// Lists the host and each parent domain of `host`, most specific first: `blog.example.com` gives
/// `blog.example.com`, `example.com` and `com`. A `site:` term matches a bookmark when its host
/// is one of these. IP addresses give only themselves.
pub fn host_domains(host: &str) -> Vec<String> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Vec::new();
    }
    let is_ip = host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok();
    if is_ip {
        return vec![host];
    }
    let mut domains = vec![host.clone()];
    let mut rest = host.as_str();
    while let Some((_, parent)) = rest.split_once('.') {
        if parent.is_empty() {
            break;
        }
        domains.push(parent.to_owned());
        rest = parent;
    }
    domains
}

/// Returns the instant a `before:` day begins: matching bookmarks have `created_at` earlier than it.
pub fn before_cutoff(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

/// Returns the instant an `after:` day ends: matching bookmarks have `created_at` at or later than it.
pub fn after_cutoff(date: NaiveDate) -> DateTime<Utc> {
    // Parsed dates have four-digit years, so the next day always exists.
    let next = date.checked_add_days(Days::new(1)).unwrap_or(date);
    next.and_time(NaiveTime::MIN).and_utc()
}

/// A cursor over the NFC-normalized query text.
struct Parser<'a> {
    text: &'a str,
    position: usize,
}

/// The result of one parser step.
enum Step {
    End,
    /// A term that matches everything and is dropped, such as `""`.
    Skip,
    Clause(Clause),
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, position: 0 }
    }

    /// Reads every clause, stopping early once there are too many.
    fn clauses(mut self) -> Result<Vec<Clause>, SearchQueryError> {
        let mut clauses = Vec::new();
        loop {
            match self.next_clause()? {
                Step::End => return Ok(clauses),
                Step::Skip => {}
                Step::Clause(clause) => clauses.push(clause),
            }
            if clauses.len() > MAX_TERMS {
                return Err(SearchQueryError::TooManyTerms);
            }
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.position..]
    }

    fn next_clause(&mut self) -> Result<Step, SearchQueryError> {
        let skipped = self.rest().len() - self.rest().trim_start().len();
        self.position += skipped;
        if self.rest().is_empty() {
            return Ok(Step::End);
        }

        let start = self.position;
        let negated = self.starts_negation();
        if negated {
            self.position += 1;
        }
        if self.rest().starts_with('"') {
            return self.phrase(start, negated);
        }

        let length = self
            .rest()
            .find(|c: char| c.is_whitespace() || c == '"')
            .unwrap_or(self.rest().len());
        let token = &self.rest()[..length];
        self.position += length;
        let full_token = &self.text[start..self.position];
        let term = classify(token, full_token)?;
        Ok(Step::Clause(Clause { negated, term }))
    }

    /// Checks whether the text starts with a `-` that negates a following term, rather than a lone `-`.
    fn starts_negation(&self) -> bool {
        let mut chars = self.rest().chars();
        chars.next() == Some('-') && chars.next().is_some_and(|next| !next.is_whitespace())
    }

    fn phrase(&mut self, start: usize, negated: bool) -> Result<Step, SearchQueryError> {
        let inner_start = self.position + 1;
        let Some(length) = self.text[inner_start..].find('"') else {
            return Err(SearchQueryError::UnterminatedPhrase {
                token: self.text[start..].to_owned(),
            });
        };
        let inner = &self.text[inner_start..inner_start + length];
        self.position = inner_start + length + 1;

        let words: Vec<&str> = inner.split_whitespace().collect();
        if words.is_empty() {
            return Ok(Step::Skip);
        }
        let term = Term::Phrase(words.join(" "));
        Ok(Step::Clause(Clause { negated, term }))
    }
}

/// Decides what a bare token is: a tag, an operator or a word. `full_token` includes a leading
/// `-` and is what error messages name.
fn classify(token: &str, full_token: &str) -> Result<Term, SearchQueryError> {
    if let Some(tag) = token.strip_prefix('#') {
        return parse_tag(tag, full_token).map(Term::Tag);
    }
    if let Some((name, value)) = token.split_once(':')
        && let Some(operator) = Operator::parse(name)
    {
        return operator.parse_value(value, full_token);
    }
    Ok(Term::Word(token.to_owned()))
}

fn parse_tag(tag: &str, token: &str) -> Result<String, SearchQueryError> {
    let invalid = |reason| SearchQueryError::InvalidTag {
        token: token.to_owned(),
        reason,
    };
    let key = tag_key(tag);
    if key.is_empty() {
        return Err(invalid("the tag name is missing after '#'"));
    }
    if key.chars().count() > MAX_TAG_CHARS {
        return Err(invalid("it is too long"));
    }
    if !key.chars().all(is_tag_char) {
        return Err(invalid("it contains a character that tags cannot have"));
    }
    Ok(key)
}

fn is_tag_char(c: char) -> bool {
    // Lower-casing can produce combining marks (U+0130 becomes "i" and U+0307), and some scripts
    // write vowel signs as combining marks, so they are part of a tag.
    c == '-' || c == '_' || c.is_alphanumeric() || unicode_normalization::char::is_combining_mark(c)
}

#[derive(Debug, Clone, Copy)]
enum Operator {
    Site,
    Is,
    Status,
    Before,
    After,
}

impl Operator {
    fn parse(name: &str) -> Option<Self> {
        let operators = [
            ("site", Self::Site),
            ("is", Self::Is),
            ("status", Self::Status),
            ("before", Self::Before),
            ("after", Self::After),
        ];
        operators
            .into_iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, operator)| operator)
    }

    fn parse_value(self, value: &str, token: &str) -> Result<Term, SearchQueryError> {
        let invalid = |reason: &str| SearchQueryError::InvalidValue {
            token: token.to_owned(),
            reason: reason.to_owned(),
        };
        match self {
            Self::Site => parse_site(value)
                .map(Term::Site)
                .ok_or_else(|| invalid("site: takes a host name such as example.com")),
            Self::Is if value.eq_ignore_ascii_case("unread") => Ok(Term::Unread(true)),
            Self::Is if value.eq_ignore_ascii_case("read") => Ok(Term::Unread(false)),
            Self::Is => Err(invalid("use is:unread or is:read")),
            Self::Status => BookmarkStatus::parse(value)
                .map(Term::Status)
                .ok_or_else(|| invalid("use status:pending, status:active or status:failed")),
            Self::Before => parse_date(value)
                .map(Term::Before)
                .ok_or_else(|| invalid("before: takes a date as YYYY-MM-DD")),
            Self::After => parse_date(value)
                .map(Term::After)
                .ok_or_else(|| invalid("after: takes a date as YYYY-MM-DD")),
        }
    }
}

/// Normalizes a `site:` value to the form hosts are indexed in. A pasted URL gives its host.
fn parse_site(value: &str) -> Option<String> {
    if value.contains("://") {
        let url = url::Url::parse(value).ok()?;
        return url.host().map(|host| canonical_host(&host));
    }
    let trimmed = value.strip_suffix('.').unwrap_or(value);
    if trimmed.is_empty() || trimmed.contains(['/', '?', '#', '@']) {
        return None;
    }
    let host = url::Host::parse(trimmed).ok()?;
    Some(canonical_host(&host))
}

fn canonical_host<S: AsRef<str>>(host: &url::Host<S>) -> String {
    host.to_string().trim_end_matches('.').to_ascii_lowercase()
}

/// Parses exactly `YYYY-MM-DD`, rejecting shorter forms such as `2024-2-1`.
fn parse_date(value: &str) -> Option<NaiveDate> {
    let bytes = value.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(index, byte)| index == 4 || index == 7 || byte.is_ascii_digit());
    if !shaped {
        return None;
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(input: &str) -> Vec<Clause> {
        SearchQuery::parse(input)
            .unwrap_or_else(|error| panic!("{input}: {error}"))
            .clauses
    }

    fn positive(term: Term) -> Clause {
        Clause {
            negated: false,
            term,
        }
    }

    fn negative(term: Term) -> Clause {
        Clause {
            negated: true,
            term,
        }
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
    }

    #[test]
    fn parses_every_term_kind() {
        let clauses = parse(
            r#"rust "async runtime" #Tokio site:Docs.RS is:unread status:failed before:2024-05-01 after:2023-01-31"#,
        );
        assert_eq!(
            clauses,
            vec![
                positive(Term::Word("rust".into())),
                positive(Term::Phrase("async runtime".into())),
                positive(Term::Tag("tokio".into())),
                positive(Term::Site("docs.rs".into())),
                positive(Term::Unread(true)),
                positive(Term::Status(BookmarkStatus::Failed)),
                positive(Term::Before(date("2024-05-01"))),
                positive(Term::After(date("2023-01-31"))),
            ]
        );
    }

    #[test]
    fn operator_names_ignore_case() {
        let clauses = parse("SITE:example.com Is:Read STATUS:Active Before:2024-01-01");
        assert_eq!(
            clauses,
            vec![
                positive(Term::Site("example.com".into())),
                positive(Term::Unread(false)),
                positive(Term::Status(BookmarkStatus::Active)),
                positive(Term::Before(date("2024-01-01"))),
            ]
        );
    }

    #[test]
    fn leading_dash_negates_any_term() {
        let clauses = parse(r#"-spam -"bad phrase" -#draft -site:ads.example -is:unread"#);
        assert_eq!(
            clauses,
            vec![
                negative(Term::Word("spam".into())),
                negative(Term::Phrase("bad phrase".into())),
                negative(Term::Tag("draft".into())),
                negative(Term::Site("ads.example".into())),
                negative(Term::Unread(true)),
            ]
        );
    }

    #[test]
    fn lone_dash_is_a_word() {
        assert_eq!(parse("a - b")[1], positive(Term::Word("-".into())));
    }

    #[test]
    fn unknown_operator_is_a_word() {
        let clauses = parse("https://example.com/a?b=c lang:en");
        assert_eq!(
            clauses,
            vec![
                positive(Term::Word("https://example.com/a?b=c".into())),
                positive(Term::Word("lang:en".into())),
            ]
        );
    }

    #[test]
    fn phrase_collapses_whitespace_and_ends_words() {
        let clauses = parse("foo\"  two\twords \"bar");
        assert_eq!(
            clauses,
            vec![
                positive(Term::Word("foo".into())),
                positive(Term::Phrase("two words".into())),
                positive(Term::Word("bar".into())),
            ]
        );
    }

    #[test]
    fn empty_phrase_is_dropped() {
        assert_eq!(parse(r#"a "" -"  " b"#).len(), 2);
    }

    #[test]
    fn empty_query_has_no_clauses() {
        let query = SearchQuery::parse(" \t\n").expect("blank query");
        assert!(query.is_empty());
        assert!(!query.has_text());
    }

    #[test]
    fn tags_accept_any_script() {
        let clauses = parse("#Café #日本語 #नमस्ते #rust-lang #a_b #2024");
        let tags: Vec<_> = clauses.into_iter().map(|clause| clause.term).collect();
        assert_eq!(
            tags,
            vec![
                Term::Tag("café".into()),
                Term::Tag("日本語".into()),
                Term::Tag("नमस्ते".into()),
                Term::Tag("rust-lang".into()),
                Term::Tag("a_b".into()),
                Term::Tag("2024".into()),
            ]
        );
    }

    #[test]
    fn tag_key_normalizes_case_and_composition() {
        assert_eq!(tag_key("Cafe\u{0301}"), "caf\u{00e9}");
        assert_eq!(tag_key(" RUST "), "rust");
    }

    #[test]
    fn site_normalizes_hosts() {
        let cases = [
            ("site:Example.COM.", "example.com"),
            ("site:bücher.de", "xn--bcher-kva.de"),
            (
                "site:https://Blog.Example.com/post?id=1",
                "blog.example.com",
            ),
            ("site:127.0.0.1", "127.0.0.1"),
            ("site:[::1]", "[::1]"),
        ];
        for (input, host) in cases {
            assert_eq!(
                parse(input),
                vec![positive(Term::Site(host.into()))],
                "{input}"
            );
        }
    }

    #[test]
    fn host_domains_lists_parents() {
        assert_eq!(
            host_domains("Blog.Example.com."),
            ["blog.example.com", "example.com", "com"]
        );
        assert_eq!(host_domains("localhost"), ["localhost"]);
        assert_eq!(host_domains("10.0.0.1"), ["10.0.0.1"]);
        assert_eq!(host_domains("[::1]"), ["[::1]"]);
        assert!(host_domains("").is_empty());
    }

    #[test]
    fn date_cutoffs_exclude_the_named_day() {
        let day = date("2024-05-01");
        assert_eq!(before_cutoff(day).to_rfc3339(), "2024-05-01T00:00:00+00:00");
        assert_eq!(after_cutoff(day).to_rfc3339(), "2024-05-02T00:00:00+00:00");
        let last = date("9999-12-31");
        assert_eq!(
            after_cutoff(last).timestamp(),
            before_cutoff(last).timestamp() + 86_400
        );
    }

    #[test]
    fn rejects_invalid_values_with_the_token() {
        let cases = [
            ("is:unred", "is:unred"),
            ("-status:done", "-status:done"),
            ("before:2024-13-01", "before:2024-13-01"),
            ("after:2024-2-01", "after:2024-2-01"),
            ("after:yesterday", "after:yesterday"),
            ("before:2023-02-29", "before:2023-02-29"),
            ("site:", "site:"),
            ("site:a/b", "site:a/b"),
            ("site:example.com:8080", "site:example.com:8080"),
            ("#", "#"),
            ("#a.b", "#a.b"),
            ("#rust,", "#rust,"),
            ("ok \"open", "\"open"),
        ];
        for (input, token) in cases {
            let error = SearchQuery::parse(input).expect_err(input);
            assert_eq!(error.code(), "invalid_query", "{input}");
            assert_eq!(error.token(), Some(token), "{input}");
            assert!(error.to_string().contains(token), "{input}: {error}");
        }
    }

    #[test]
    fn rejects_long_tags() {
        let input = format!("#{}", "a".repeat(MAX_TAG_CHARS + 1));
        let error = SearchQuery::parse(&input).expect_err("long tag");
        assert!(
            matches!(error, SearchQueryError::InvalidTag { .. }),
            "{error}"
        );
    }

    #[test]
    fn rejects_oversized_queries() {
        let long = "a".repeat(MAX_QUERY_BYTES + 1);
        let error = SearchQuery::parse(&long).expect_err("long");
        assert_eq!(error.code(), "query_too_long");

        let many = vec!["w"; MAX_TERMS + 1].join(" ");
        let error = SearchQuery::parse(&many).expect_err("many terms");
        assert_eq!(error.code(), "query_too_many_terms");
        assert!(SearchQuery::parse(&vec!["w"; MAX_TERMS].join(" ")).is_ok());
    }

    #[test]
    fn renders_canonical_text() {
        let query = SearchQuery::parse(r#"  Rust   "a  b"  #X -IS:unread after:2024-01-01 "#)
            .expect("valid");
        assert_eq!(
            query.to_string(),
            r#"Rust "a b" #x -is:unread after:2024-01-01"#
        );
    }

    /// Query-like text: operators, tags, quotes, dashes and arbitrary characters.
    fn query_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("site:".to_owned()),
            Just("is:".to_owned()),
            Just("status:".to_owned()),
            Just("before:".to_owned()),
            Just("after:".to_owned()),
            Just("2024-02-29".to_owned()),
            Just("unread".to_owned()),
            Just("failed".to_owned()),
            Just("#".to_owned()),
            Just("-".to_owned()),
            Just("\"".to_owned()),
            Just(" ".to_owned()),
            "[a-zA-Z0-9.:/_-]{1,8}",
            "\\PC{1,4}",
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in "\\PC{0,200}") {
            let _ = SearchQuery::parse(&input);
        }

        #[test]
        fn rendering_reparses_to_the_same_query(input in query_text()) {
            if let Ok(query) = SearchQuery::parse(&input) {
                let rendered = query.to_string();
                let again = SearchQuery::parse(&rendered);
                prop_assert_eq!(again, Ok(query), "rendered as {:?}", rendered);
            }
        }

        #[test]
        fn arbitrary_text_round_trips(input in "\\PC{0,120}") {
            if let Ok(query) = SearchQuery::parse(&input) {
                let rendered = query.to_string();
                prop_assert_eq!(SearchQuery::parse(&rendered), Ok(query), "rendered as {:?}", rendered);
            }
        }
    }
}
