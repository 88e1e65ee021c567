//! The values of a paste parsed at the edge: its id, expiry, visibility, title and syntax
//! name, and the delete token and password that guard it.

use super::PasteError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;

/// Characters of a paste id: lowercase letters and digits, so ids stay distinct on
/// case-insensitive filesystems and are easy to type.
const ID_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// The length of a paste id: 36^13 is about 2^67 ids, so guessing one is hopeless.
pub const ID_CHARS: usize = 13;

/// The prefix of every paste body in the blob store.
pub const BLOB_PREFIX: &str = "pastes/";

const TOKEN_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const TOKEN_CHARS: usize = 32;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_SYNTAX_CHARS: usize = 64;
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A well-formed paste id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PasteId(String);

impl PasteId {
    /// Draws a fresh random id.
    pub fn generate() -> Self {
        Self(random_string(ID_ALPHABET, ID_CHARS))
    }

    /// Parses an id from a URL. Anything else than [`ID_CHARS`] of `[0-9a-z]` cannot name a
    /// paste, so it is a 404 without a database read.
    pub fn parse(value: &str) -> Result<Self, PasteError> {
        let well_formed = value.len() == ID_CHARS
            && value
                .bytes()
                .all(|byte| byte.is_ascii_digit() || byte.is_ascii_lowercase());
        if well_formed {
            Ok(Self(value.to_owned()))
        } else {
            Err(PasteError::NotFound {
                id: value.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the body's key in the blob store, `pastes/{first two characters}/{id}`. Ids are
    /// random, so each of the 1,296 directories of the filesystem store gets about as many.
    pub fn blob_key(&self) -> String {
        format!("{BLOB_PREFIX}{}/{}", &self.0[..2], self.0)
    }

    /// Returns the id of a blob key made by [`Self::blob_key`].
    pub fn from_blob_key(key: &str) -> Option<Self> {
        let id = key.strip_prefix(BLOB_PREFIX)?.split('/').nth(1)?;
        let id = Self::parse(id).ok()?;
        (id.blob_key() == key).then_some(id)
    }
}

impl fmt::Display for PasteId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

fn random_string(alphabet: &[u8], length: usize) -> String {
    let mut rng = rand::rng();
    (0..length)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// How long a paste lives, as the client asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiresIn {
    /// Until its one reading.
    Burn,
    Never,
    After(Duration),
}

impl ExpiresIn {
    /// Parses `burn`, `10m`, `1h`, `1d`, `1w`, `never` or a whole number of seconds.
    pub fn parse(value: &str) -> Result<Self, PasteError> {
        let trimmed = value.trim();
        let minutes = |count: u64| Self::After(Duration::from_secs(count * 60));
        match trimmed {
            "burn" => return Ok(Self::Burn),
            "never" => return Ok(Self::Never),
            "10m" => return Ok(minutes(10)),
            "1h" => return Ok(minutes(60)),
            "1d" => return Ok(minutes(24 * 60)),
            "1w" => return Ok(minutes(7 * 24 * 60)),
            _ => {}
        }
        match trimmed.parse::<u64>() {
            Ok(seconds) if (1..=MAX_EXPIRY_SECS).contains(&seconds) => {
                Ok(Self::After(Duration::from_secs(seconds)))
            }
            _ => Err(PasteError::InvalidExpiry {
                value: value.to_owned(),
            }),
        }
    }

    /// Returns the expiry time of a paste created at `now`, capped by the operator maximum `max`
    /// (`None`: no maximum). A burn-after-reading paste expires at the maximum if it is never
    /// read.
    pub fn expires_at(self, now: DateTime<Utc>, max: Option<Duration>) -> Option<DateTime<Utc>> {
        let asked = match self {
            Self::Burn | Self::Never => None,
            Self::After(duration) => Some(duration),
        };
        let lifetime = match (asked, max) {
            (Some(asked), Some(max)) => Some(asked.min(max)),
            (asked, max) => asked.or(max),
        }?;
        let lifetime = chrono::Duration::from_std(lifetime).ok()?;
        now.checked_add_signed(lifetime)
    }
}

/// Maximum expiry accepted as a number of seconds: 100 years.
pub const MAX_EXPIRY_SECS: u64 = 100 * 365 * 24 * 3600;

/// Visibility of a paste: the readers it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Anyone with the link.
    #[default]
    Unlisted,
    /// Only the owner, signed in with an API key; everyone else gets 404.
    Private,
}

impl Visibility {
    pub fn parse(value: &str) -> Result<Self, PasteError> {
        match value.trim() {
            "unlisted" => Ok(Self::Unlisted),
            "private" => Ok(Self::Private),
            _ => Err(PasteError::InvalidVisibility {
                value: value.to_owned(),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unlisted => "unlisted",
            Self::Private => "private",
        }
    }
}

/// Checks a title: at most [`MAX_TITLE_CHARS`] characters without control characters. A
/// blank title means none.
pub fn parse_title(title: Option<String>) -> Result<Option<String>, PasteError> {
    let Some(title) = title.map(|title| title.trim().to_owned()) else {
        return Ok(None);
    };
    if title.is_empty() {
        return Ok(None);
    }
    if title.chars().count() > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(PasteError::InvalidTitle { title });
    }
    Ok(Some(title))
}

/// Checks the shape of a syntax name. The HTTP layer checks that the highlighter supports it.
pub fn parse_syntax(syntax: Option<String>) -> Result<Option<String>, PasteError> {
    let Some(syntax) = syntax.map(|syntax| syntax.trim().to_owned()) else {
        return Ok(None);
    };
    if syntax.is_empty() {
        return Ok(None);
    }
    if syntax.chars().count() > MAX_SYNTAX_CHARS || syntax.chars().any(char::is_control) {
        return Err(PasteError::InvalidSyntax { syntax });
    }
    Ok(Some(syntax))
}

/// Generates a delete token and its hex SHA-256, which is what the database stores.
pub fn new_delete_token() -> (String, String) {
    let token = random_string(TOKEN_ALPHABET, TOKEN_CHARS);
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Checks whether `token` hashes to `stored_hash`. The comparison takes the same time wherever the
/// hashes differ.
pub fn token_matches(token: &str, stored_hash: &str) -> bool {
    let candidate = hash_token(token);
    if candidate.len() != stored_hash.len() {
        return false;
    }
    let difference = candidate
        .bytes()
        .zip(stored_hash.bytes())
        .fold(0u8, |difference, (a, b)| difference | (a ^ b));
    difference == 0
}

/// Hashes a password with Argon2id and a fresh random salt into a PHC string. It takes tens of
/// milliseconds of CPU, so it runs on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, PasteError> {
    let hashed = tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
    })
    .await;
    match hashed {
        Ok(Ok(hash)) => Ok(hash),
        Ok(Err(error)) => Err(PasteError::Hashing {
            message: error.to_string(),
        }),
        Err(error) => Err(PasteError::Hashing {
            message: error.to_string(),
        }),
    }
}

/// Checks a password against a PHC string made by [`hash_password`], on a blocking thread.
pub async fn verify_password(password: String, hash: String) -> Result<bool, PasteError> {
    let verified = tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await;
    verified.map_err(|error| PasteError::Hashing {
        message: error.to_string(),
    })
}

/// Checks a password given at creation: a blank one means none.
pub fn parse_password(password: Option<String>) -> Result<Option<String>, PasteError> {
    match password {
        None => Ok(None),
        Some(password) if password.is_empty() => Ok(None),
        Some(password) if password.len() > MAX_PASSWORD_BYTES => Err(PasteError::InvalidPassword {
            length: password.len(),
        }),
        Some(password) => Ok(Some(password)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_map_to_keys() {
        let id = PasteId::generate();
        assert_eq!(id.as_str().len(), ID_CHARS);
        assert_eq!(PasteId::parse(id.as_str()).expect("valid"), id);
        let key = id.blob_key();
        assert!(key.starts_with("pastes/"));
        assert_eq!(PasteId::from_blob_key(&key), Some(id));
    }

    #[test]
    fn malformed_ids_are_not_found() {
        for id in [
            "",
            "abc",
            "ABCDEFGHIJKLM",
            "abcdefghijkl-",
            "abcdefghijklmn",
        ] {
            assert!(PasteId::parse(id).is_err(), "{id}");
        }
        assert_eq!(PasteId::from_blob_key("pastes/zz/abcdefghijklm"), None);
        assert_eq!(PasteId::from_blob_key("qr/ab/abcdefghijklm"), None);
    }

    #[test]
    fn expiry_choices_parse() {
        assert_eq!(ExpiresIn::parse("burn").ok(), Some(ExpiresIn::Burn));
        assert_eq!(ExpiresIn::parse("never").ok(), Some(ExpiresIn::Never));
        let after = |secs| Some(ExpiresIn::After(Duration::from_secs(secs)));
        assert_eq!(ExpiresIn::parse("10m").ok(), after(600));
        assert_eq!(ExpiresIn::parse("1h").ok(), after(3600));
        assert_eq!(ExpiresIn::parse("1d").ok(), after(86_400));
        assert_eq!(ExpiresIn::parse("1w").ok(), after(604_800));
        assert_eq!(ExpiresIn::parse("90").ok(), after(90));
        for bad in ["0", "-5", "1y", "", "1.5", "99999999999999"] {
            assert!(ExpiresIn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn operator_maximum_caps_expiry() {
        let now = Utc::now();
        let day = Some(Duration::from_secs(86_400));
        let capped = ExpiresIn::Never.expires_at(now, day).expect("capped");
        assert_eq!(capped - now, chrono::Duration::days(1));
        let week = ExpiresIn::After(Duration::from_secs(604_800));
        assert_eq!(
            week.expires_at(now, day).expect("capped") - now,
            chrono::Duration::days(1)
        );
        assert_eq!(ExpiresIn::Never.expires_at(now, None), None);
        assert_eq!(ExpiresIn::Burn.expires_at(now, None), None);
    }

    #[test]
    fn tokens_match_only_their_hash() {
        let (token, hash) = new_delete_token();
        assert!(token_matches(&token, &hash));
        assert!(!token_matches("wrong", &hash));
        assert!(!token_matches(&token, ""));
    }

    #[tokio::test]
    async fn passwords_verify() {
        let hash = hash_password("correct horse".to_owned())
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse".to_owned(), hash.clone())
                .await
                .expect("verify")
        );
        assert!(
            !verify_password("wrong".to_owned(), hash)
                .await
                .expect("verify")
        );
    }
}
