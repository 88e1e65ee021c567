//! Users and API keys. A key is shown once when it is issued; only its SHA-256 is stored, which is
//! enough because keys are long random strings, not passwords.

use crate::db::{self, DbError};
use rand::Rng;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

const KEY_PREFIX: &str = "ly_";
const KEY_RANDOM_CHARS: usize = 40;
const SHOWN_PREFIX_CHARS: usize = 10;
const MAX_EMAIL_BYTES: usize = 254;

/// A signed-in caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub email: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("email '{email}' is invalid; use an address such as name@example.com")]
    InvalidEmail { email: String },
    #[error(
        "a user with email '{email}' already exists; use `linkyard user key --email {email}` for another key"
    )]
    EmailTaken { email: String },
    #[error("no user has the email '{email}'")]
    UnknownUser { email: String },
    #[error(transparent)]
    Database(#[from] DbError),
}

/// The cheap, cloneable handle on users and keys. Successful and failed key look-ups are cached
/// briefly, so authenticated requests do not read the database each time.
#[derive(Clone)]
pub struct Accounts {
    db: DatabaseConnection,
    cache: moka::sync::Cache<String, Option<Arc<Principal>>>,
}

impl Accounts {
    pub fn new(db: DatabaseConnection, cache_ttl: Duration) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(cache_ttl)
            .build();
        Self { db, cache }
    }

    /// Creates a user and its first API key. Returns the user id and the key.
    pub async fn create_user(&self, email: &str) -> Result<(i64, String), AccountError> {
        let email = normalize_email(email)?;
        let user = db::users::insert_user(&self.db, &email)
            .await?
            .ok_or(AccountError::EmailTaken { email })?;
        let key = self.issue_key_for(user.id).await?;
        Ok((user.id, key))
    }

    /// Issues another API key for an existing user.
    pub async fn issue_key(&self, email: &str) -> Result<String, AccountError> {
        let email = normalize_email(email)?;
        let user = db::users::find_user_by_email(&self.db, &email)
            .await?
            .ok_or(AccountError::UnknownUser { email })?;
        self.issue_key_for(user.id).await
    }

    pub async fn find_by_email(&self, email: &str) -> Result<Option<Principal>, AccountError> {
        let email = normalize_email(email)?;
        let user = db::users::find_user_by_email(&self.db, &email).await?;
        Ok(user.map(|user| Principal {
            user_id: user.id,
            email: user.email,
        }))
    }

    /// Returns the owner of `key`, or `None` for a key that was never issued.
    pub async fn authenticate(&self, key: &str) -> Result<Option<Arc<Principal>>, DbError> {
        let hash = hash_key(key);
        if let Some(cached) = self.cache.get(&hash) {
            return Ok(cached);
        }
        let user = db::users::find_user_by_key_hash(&self.db, &hash).await?;
        let principal = user.map(|user| {
            Arc::new(Principal {
                user_id: user.id,
                email: user.email,
            })
        });
        self.cache.insert(hash, principal.clone());
        Ok(principal)
    }

    async fn issue_key_for(&self, user_id: i64) -> Result<String, AccountError> {
        let key = generate_key();
        let prefix: String = key.chars().take(SHOWN_PREFIX_CHARS).collect();
        db::users::insert_api_key(&self.db, user_id, &hash_key(&key), &prefix).await?;
        Ok(key)
    }
}

fn generate_key() -> String {
    let random: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(KEY_RANDOM_CHARS)
        .map(char::from)
        .collect();
    format!("{KEY_PREFIX}{random}")
}

/// Hex SHA-256 of a key.
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Trims and lower-cases an email address and checks its basic shape.
pub fn normalize_email(email: &str) -> Result<String, AccountError> {
    let email = email.trim().to_lowercase();
    let invalid = || AccountError::InvalidEmail {
        email: email.clone(),
    };
    if email.len() > MAX_EMAIL_BYTES || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return Err(invalid());
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_and_prefixed() {
        let key = generate_key();
        assert!(key.starts_with(KEY_PREFIX));
        assert_eq!(key.len(), KEY_PREFIX.len() + KEY_RANDOM_CHARS);
        assert_ne!(generate_key(), key);
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            normalize_email(" Ann@Example.COM ").ok(),
            Some("ann@example.com".to_owned())
        );
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "a b@example.com",
            "a@b@c",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
