//! Pastes: metadata rows in the database, bodies in the blob store, expiry, burn-after-reading,
//! passwords and delete tokens.
//!
//! Request handlers hold the cheap [`Pastes`] handle. It sends each operation to the supervised
//! [`PasteStore`] actor, which runs it on a task of its own so that blob I/O and Argon2 hashing
//! never hold up its mailbox, and which runs the sweeper on an interval.

mod actor;
mod core;
pub mod domain;
mod sweep;

pub use self::core::{BINARY_CONTENT_TYPE, PasteCore, TEXT_CONTENT_TYPE, is_binary};
pub use actor::{PasteMessage, PasteStore, PasteStoreArguments, Pastes, child_spec};
pub use domain::{ExpiresIn, PasteId, Visibility};
pub use sweep::SweepReport;

use crate::backends::blob::BlobError;
use crate::db::DbError;
use crate::db::entities::pastes::Model as PasteRow;
use crate::supervisor::ActorUnavailable;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum PasteError {
    #[error("the paste is empty; send at least one byte of content")]
    Empty,
    #[error("the paste is larger than the limit of {max} bytes")]
    TooLarge { max: u64 },
    #[error(
        "expires_in '{value}' is invalid; use burn, 10m, 1h, 1d, 1w, never or a whole number of seconds"
    )]
    InvalidExpiry { value: String },
    #[error("visibility '{value}' is invalid; use unlisted or private")]
    InvalidVisibility { value: String },
    #[error(
        "title '{title}' is invalid; titles are up to {} characters without control characters",
        domain::MAX_TITLE_CHARS
    )]
    InvalidTitle { title: String },
    #[error("syntax '{syntax}' is unknown; leave it empty or pick a name from the paste form")]
    InvalidSyntax { syntax: String },
    #[error(
        "the password is {length} bytes long; the maximum is {} bytes",
        domain::MAX_PASSWORD_BYTES
    )]
    InvalidPassword { length: usize },
    #[error("a private paste needs an owner; send 'Authorization: Bearer <API key>'")]
    PrivateNeedsOwner,
    #[error("sign in with an API key to create pastes; anonymous paste creation is disabled")]
    AnonymousCreateDisabled,
    #[error("no paste has the id '{id}'")]
    NotFound { id: String },
    #[error("paste '{id}' is protected by a password; send it in the X-Paste-Password header")]
    PasswordRequired { id: String },
    #[error("the password for paste '{id}' is wrong")]
    WrongPassword { id: String },
    #[error("paste '{id}' is burn-after-reading; read it once with POST /api/pastes/{id}/reveal")]
    RevealRequired { id: String },
    #[error("deleting paste '{id}' needs its X-Delete-Token or the owner's API key")]
    DeleteTokenRequired { id: String },
    #[error("the delete token for paste '{id}' is wrong")]
    WrongDeleteToken { id: String },
    #[error("hashing the paste password failed: {message}")]
    Hashing { message: String },
    #[error("the paste sweep failed: {message}")]
    SweepFailed { message: String },
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Database(#[from] Arc<DbError>),
    #[error(transparent)]
    Unavailable(#[from] ActorUnavailable),
}

impl From<DbError> for PasteError {
    fn from(error: DbError) -> Self {
        Self::Database(Arc::new(error))
    }
}

impl PasteError {
    /// Stable error code for clients and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty_paste",
            Self::TooLarge { .. } => "paste_too_large",
            Self::InvalidExpiry { .. } => "invalid_expires_in",
            Self::InvalidVisibility { .. } => "invalid_visibility",
            Self::InvalidTitle { .. } => "invalid_title",
            Self::InvalidSyntax { .. } => "invalid_syntax",
            Self::InvalidPassword { .. } => "invalid_password",
            Self::PrivateNeedsOwner => "private_paste_needs_key",
            Self::AnonymousCreateDisabled => "auth_required",
            Self::NotFound { .. } => "paste_not_found",
            Self::PasswordRequired { .. } => "password_required",
            Self::WrongPassword { .. } => "wrong_password",
            Self::RevealRequired { .. } => "reveal_required",
            Self::DeleteTokenRequired { .. } => "delete_token_required",
            Self::WrongDeleteToken { .. } => "wrong_delete_token",
            Self::Hashing { .. } | Self::SweepFailed { .. } => "internal_error",
            Self::Blob(error) => error.code(),
            Self::Database(_) => "backend_unavailable",
            Self::Unavailable(_) => "actor_unavailable",
        }
    }

    /// Returns the request field at fault, for input errors.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Empty | Self::TooLarge { .. } => Some("content"),
            Self::InvalidExpiry { .. } => Some("expires_in"),
            Self::InvalidVisibility { .. } | Self::PrivateNeedsOwner => Some("visibility"),
            Self::InvalidTitle { .. } => Some("title"),
            Self::InvalidSyntax { .. } => Some("syntax"),
            Self::InvalidPassword { .. } | Self::WrongPassword { .. } => Some("password"),
            _ => None,
        }
    }
}

/// Operator settings of the paste product.
#[derive(Debug, Clone)]
pub struct PasteRules {
    pub anonymous_create: bool,
    pub max_bytes: u64,
    /// Caps every expiry; `None` means pastes may live forever.
    pub max_expiry: Option<Duration>,
    pub default_expiry: ExpiresIn,
    /// Time between sweeps; zero turns the scheduled sweeper off.
    pub sweep_interval: Duration,
    /// Rows and objects handled per sweep step.
    pub sweep_batch: u64,
    /// Age below which an object without a row is left alone, because its create may still
    /// be writing the row.
    pub orphan_grace: Duration,
}

/// A create request as the client sent it; [`Pastes::create`] validates every field.
#[derive(Debug, Clone, Default)]
pub struct NewPaste {
    pub content: Bytes,
    pub title: Option<String>,
    pub syntax: Option<String>,
    pub expires_in: Option<String>,
    pub visibility: Option<String>,
    pub password: Option<String>,
    pub owner_id: Option<i64>,
}

/// A new paste and its delete token, which exists in clear text only in this value.
#[derive(Debug, Clone)]
pub struct CreatedPaste {
    pub paste: PasteRow,
    pub delete_token: String,
}

/// Proof of a delete request: the caller's user id, the delete token, or both.
#[derive(Debug, Clone, Default)]
pub struct DeleteAuth {
    pub caller: Option<i64>,
    pub token: Option<String>,
}
