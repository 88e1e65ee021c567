//! Custom aliases: user-chosen codes that share the `code` column with generated codes.

use super::code::is_code_shaped;
use std::collections::BTreeSet;
use unicode_normalization::UnicodeNormalization;

/// The longest alias accepted, in Unicode scalar values after NFC normalization.
pub const MAX_ALIAS_CHARS: usize = 64;

/// A validated alias: NFC-normalized, 1 to [`MAX_ALIAS_CHARS`] letters, digits (any script),
/// combining marks, `-` or `_`. Case-sensitive. Never the shape of a generated code and never
/// a reserved route name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Alias(String);

/// The first path segments that the router uses, which an alias must not take. Compared
/// case-insensitively so that `/API` cannot shadow `/api` for a human reader.
#[derive(Debug, Clone, Default)]
pub struct ReservedNames(BTreeSet<String>);

impl ReservedNames {
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(names: I) -> Self {
        Self(
            names
                .into_iter()
                .map(|name| name.as_ref().to_lowercase())
                .collect(),
        )
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(&name.to_lowercase())
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    #[error("alias is empty; use 1 to {MAX_ALIAS_CHARS} letters, digits, '-' or '_'")]
    Empty,
    #[error("alias '{alias}' has {chars} characters; the maximum is {MAX_ALIAS_CHARS}")]
    TooLong { alias: String, chars: usize },
    #[error("alias '{alias}' contains {character:?}; use only letters, digits, '-' and '_'")]
    InvalidCharacter { alias: String, character: char },
    #[error(
        "alias '{alias}' has the shape of a generated code (7 or 8 ASCII letters and digits); \
         add '-' or '_' or change its length"
    )]
    CodeShaped { alias: String },
    #[error("alias '{alias}' is reserved for a route of this service")]
    Reserved { alias: String },
}

impl AliasError {
    /// Stable error code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "alias_empty",
            Self::TooLong { .. } => "alias_too_long",
            Self::InvalidCharacter { .. } => "alias_invalid_character",
            Self::CodeShaped { .. } => "alias_code_shaped",
            Self::Reserved { .. } => "alias_reserved",
        }
    }
}

impl Alias {
    /// Validates `input` against the alias rules, normalizing it to NFC first so that visually
    /// identical aliases typed on different keyboards are the same alias.
    pub fn parse(input: &str, reserved: &ReservedNames) -> Result<Self, AliasError> {
        let alias: String = input.nfc().collect();
        let chars = alias.chars().count();
        if chars == 0 {
            return Err(AliasError::Empty);
        }
        if chars > MAX_ALIAS_CHARS {
            return Err(AliasError::TooLong { alias, chars });
        }
        if let Some(character) = alias.chars().find(|c| !is_alias_char(*c)) {
            return Err(AliasError::InvalidCharacter { alias, character });
        }
        if reserved.contains(&alias) {
            return Err(AliasError::Reserved { alias });
        }
        if is_code_shaped(&alias) {
            return Err(AliasError::CodeShaped { alias });
        }
        Ok(Self(alias))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn is_alias_char(c: char) -> bool {
    // Combining marks cover scripts whose vowel signs NFC leaves as separate characters.
    c == '-' || c == '_' || c.is_alphanumeric() || unicode_normalization::char::is_combining_mark(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reserved() -> ReservedNames {
        ReservedNames::new(["api", "p", "healthz"])
    }

    #[test]
    fn accepts_letters_digits_dash_underscore() {
        for alias in [
            "summer-sale",
            "a",
            "Go_2026",
            "café",
            "日本語",
            "नमस्ते",
            "x-1",
        ] {
            assert!(Alias::parse(alias, &reserved()).is_ok(), "{alias}");
        }
    }

    #[test]
    fn normalizes_to_nfc() {
        let decomposed = "cafe\u{0301}-menu";
        let alias = Alias::parse(decomposed, &reserved()).expect("valid alias");
        assert_eq!(alias.as_str(), "caf\u{00e9}-menu");
    }

    #[test]
    fn is_case_sensitive() {
        let lower = Alias::parse("promo", &reserved()).expect("valid");
        let upper = Alias::parse("PROMO", &reserved()).expect("valid");
        assert_ne!(lower, upper);
    }

    #[test]
    fn rejects_each_rule_with_its_code() {
        let cases = [
            ("", "alias_empty"),
            ("a/b", "alias_invalid_character"),
            ("a b", "alias_invalid_character"),
            ("a.b", "alias_invalid_character"),
            ("%41", "alias_invalid_character"),
            ("abcdefg", "alias_code_shaped"),
            ("Abcdefg1", "alias_code_shaped"),
            ("API", "alias_reserved"),
            ("healthz", "alias_reserved"),
        ];
        for (input, code) in cases {
            let error = Alias::parse(input, &reserved()).expect_err(input);
            assert_eq!(error.code(), code, "{input}");
        }
        let long = "a".repeat(MAX_ALIAS_CHARS + 1);
        assert_eq!(
            Alias::parse(&long, &reserved()).map_err(|e| e.code()),
            Err("alias_too_long")
        );
    }

    #[test]
    fn message_names_the_value() {
        let error = Alias::parse("bad alias", &reserved()).expect_err("space");
        assert!(error.to_string().contains("'bad alias'"), "{error}");
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_is_idempotent(input in "\\PC{0,80}") {
            if let Ok(alias) = Alias::parse(&input, &reserved()) {
                let again = Alias::parse(alias.as_str(), &reserved());
                prop_assert_eq!(again, Ok(alias));
            }
        }
    }
}
