//! The work behind each paste operation: database rows and blob store objects in the order
//! that never leaves a row without its object. The [`super::PasteStore`] actor runs these on
//! tasks of their own.

use super::domain::{
    ExpiresIn, PasteId, Visibility, hash_password, new_delete_token, parse_password, parse_syntax,
    parse_title, token_matches, verify_password,
};
use super::{CreatedPaste, DeleteAuth, NewPaste, PasteError, PasteRules};
use crate::backends::blob::BlobStore;
use crate::db;
use crate::db::entities::pastes::Model as PasteRow;
use bytes::Bytes;
use chrono::Utc;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

pub const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
pub const BINARY_CONTENT_TYPE: &str = "application/octet-stream";

/// The database, the blob store and the rules: everything an operation needs.
pub struct PasteCore {
    pub db: DatabaseConnection,
    pub blobs: Arc<dyn BlobStore>,
    pub rules: PasteRules,
}

/// Returns whether paste bytes are binary: not UTF-8, or containing a NUL byte.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.contains(&0) || std::str::from_utf8(bytes).is_err()
}

impl PasteCore {
    /// Validates `input`, writes the body to the blob store and then the row with `insert`,
    /// which the actor batches into group commits. When the row cannot be written, the object
    /// is deleted again; if that fails too, the sweeper removes it after the orphan grace
    /// period.
    pub async fn create<F, Fut>(
        &self,
        input: NewPaste,
        insert: F,
    ) -> Result<CreatedPaste, PasteError>
    where
        F: FnOnce(PasteRow) -> Fut,
        Fut: std::future::Future<Output = Result<(), PasteError>>,
    {
        let row_draft = self.validate(&input)?;
        let password_hash = match parse_password(input.password)? {
            Some(password) => Some(hash_password(password).await?),
            None => None,
        };
        let (delete_token, delete_token_hash) = new_delete_token();
        let id = PasteId::generate();
        let binary = is_binary(&input.content);
        let row = PasteRow {
            id: id.to_string(),
            size: input.content.len() as i64,
            binary,
            password_hash,
            delete_token_hash,
            ..row_draft
        };

        let content_type = if binary {
            BINARY_CONTENT_TYPE
        } else {
            TEXT_CONTENT_TYPE
        };
        self.blobs
            .put(&id.blob_key(), input.content, content_type)
            .await?;
        if let Err(error) = insert(row.clone()).await {
            self.delete_object(&id).await;
            return Err(error);
        }
        tracing::debug!(paste = %id, size = row.size, "paste created");
        Ok(CreatedPaste {
            paste: row,
            delete_token,
        })
    }

    /// Checks every field of a create request and fills a row without id, size, hashes.
    fn validate(&self, input: &NewPaste) -> Result<PasteRow, PasteError> {
        if input.owner_id.is_none() && !self.rules.anonymous_create {
            return Err(PasteError::AnonymousCreateDisabled);
        }
        if input.content.is_empty() {
            return Err(PasteError::Empty);
        }
        if input.content.len() as u64 > self.rules.max_bytes {
            return Err(PasteError::TooLarge {
                max: self.rules.max_bytes,
            });
        }
        let expires_in = match input.expires_in.as_deref() {
            Some(value) if !value.trim().is_empty() => ExpiresIn::parse(value)?,
            _ => self.rules.default_expiry,
        };
        let visibility = match input.visibility.as_deref() {
            Some(value) if !value.trim().is_empty() => Visibility::parse(value)?,
            _ => Visibility::Unlisted,
        };
        if visibility == Visibility::Private && input.owner_id.is_none() {
            return Err(PasteError::PrivateNeedsOwner);
        }
        let now = Utc::now();
        Ok(PasteRow {
            id: String::new(),
            owner_id: input.owner_id,
            title: parse_title(input.title.clone())?,
            syntax: parse_syntax(input.syntax.clone())?,
            size: 0,
            binary: false,
            burn: expires_in == ExpiresIn::Burn,
            private: visibility == Visibility::Private,
            password_hash: None,
            delete_token_hash: String::new(),
            created_at: now,
            expires_at: expires_in.expires_at(now, self.rules.max_expiry),
        })
    }

    /// Returns the paste if `caller` may see it: it exists, has not expired, and is not a
    /// private paste of someone else. The password is not checked here.
    pub async fn lookup(&self, id: &str, caller: Option<i64>) -> Result<PasteRow, PasteError> {
        let id = PasteId::parse(id)?;
        let not_found = || PasteError::NotFound { id: id.to_string() };
        let row = db::pastes::find_live(&self.db, id.as_str(), Utc::now())
            .await?
            .ok_or_else(not_found)?;
        if row.private && (caller.is_none() || row.owner_id != caller) {
            return Err(not_found());
        }
        Ok(row)
    }

    /// Checks the password of a protected paste: 401 without one, 403 for a wrong one. The HTTP
    /// layer charges every attempt to the client's create bucket, which bounds guessing.
    pub async fn check_password(
        &self,
        row: &PasteRow,
        password: Option<String>,
    ) -> Result<(), PasteError> {
        let Some(hash) = row.password_hash.clone() else {
            return Ok(());
        };
        let id = row.id.clone();
        let Some(password) = password.filter(|password| !password.is_empty()) else {
            return Err(PasteError::PasswordRequired { id });
        };
        if password.len() > super::domain::MAX_PASSWORD_BYTES
            || !verify_password(password, hash).await?
        {
            return Err(PasteError::WrongPassword { id });
        }
        Ok(())
    }

    /// Returns the metadata and body of a paste that is not burn-after-reading.
    pub async fn content(
        &self,
        id: &str,
        caller: Option<i64>,
        password: Option<String>,
    ) -> Result<(PasteRow, Bytes), PasteError> {
        let row = self.lookup(id, caller).await?;
        self.check_password(&row, password).await?;
        if row.burn {
            return Err(PasteError::RevealRequired { id: row.id });
        }
        let bytes = self.read_object(&row).await?;
        Ok((row, bytes))
    }

    /// Returns the metadata and body of a paste, and deletes it when it is burn-after-reading.
    /// The body is read before the row is deleted, so a blob store outage consumes nothing.
    /// The conditional delete lets exactly one of several concurrent reveals through.
    pub async fn reveal(
        &self,
        id: &str,
        caller: Option<i64>,
        password: Option<String>,
    ) -> Result<(PasteRow, Bytes), PasteError> {
        let row = self.lookup(id, caller).await?;
        self.check_password(&row, password).await?;
        let bytes = self.read_object(&row).await?;
        if !row.burn {
            return Ok((row, bytes));
        }
        if !db::pastes::delete_live(&self.db, &row.id, Utc::now()).await? {
            return Err(PasteError::NotFound { id: row.id });
        }
        let id = PasteId::parse(&row.id)?;
        self.delete_object(&id).await;
        tracing::debug!(paste = %id, "burn-after-reading paste revealed and deleted");
        Ok((row, bytes))
    }

    /// Deletes a paste for its owner or for the holder of its delete token. The row goes first,
    /// so the paste disappears at once; a failed object delete leaves an orphan for the sweeper.
    pub async fn delete(&self, id: &str, auth: DeleteAuth) -> Result<(), PasteError> {
        let row = self.lookup(id, auth.caller).await?;
        let owner = auth.caller.is_some() && row.owner_id == auth.caller;
        if !owner {
            match auth.token.as_deref().filter(|token| !token.is_empty()) {
                None => return Err(PasteError::DeleteTokenRequired { id: row.id }),
                Some(token) if !token_matches(token, &row.delete_token_hash) => {
                    return Err(PasteError::WrongDeleteToken { id: row.id });
                }
                Some(_) => {}
            }
        }
        if !db::pastes::delete_live(&self.db, &row.id, Utc::now()).await? {
            return Err(PasteError::NotFound { id: row.id });
        }
        let id = PasteId::parse(&row.id)?;
        self.delete_object(&id).await;
        tracing::debug!(paste = %id, "paste deleted");
        Ok(())
    }

    async fn read_object(&self, row: &PasteRow) -> Result<Bytes, PasteError> {
        let id = PasteId::parse(&row.id)?;
        match self.blobs.get(&id.blob_key()).await? {
            Some(blob) => Ok(blob.bytes),
            None => {
                tracing::warn!(paste = %id, "paste row has no object in the blob store");
                Err(PasteError::NotFound { id: row.id.clone() })
            }
        }
    }

    /// Deletes a paste's object, logging a failure: the sweeper retries it as an orphan.
    async fn delete_object(&self, id: &PasteId) {
        if let Err(error) = self.blobs.delete(&id.blob_key()).await {
            tracing::warn!(paste = %id, %error, "deleting a paste object failed; the sweeper will retry");
        }
    }
}
