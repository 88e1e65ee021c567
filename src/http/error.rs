//! The one place where errors become HTTP responses. Each error maps to a status and a stable
//! snake_case code; the client gets a message it can act on, and failures on our side are logged
//! with their cause chain.

use super::response::{Response, json};
use http::{HeaderName, HeaderValue, StatusCode};
use linkyard_actors::accounts::AccountError;
use linkyard_actors::backends::blob::BlobError;
use linkyard_actors::backends::queue::QueueError;
use linkyard_actors::backends::search::SearchError;
use linkyard_actors::bookmarks::BookmarkError;
use linkyard_actors::db::DbError;
use linkyard_actors::domain::SearchQueryError;
use linkyard_actors::links::LinkError;
use linkyard_actors::pastes::PasteError;
use linkyard_actors::qr::{QrError, QrOptionError};
use linkyard_actors::supervisor::ActorUnavailable;
use serde::Serialize;
use std::borrow::Cow;

/// An error response: `{"error": {"code", "message", "field"?, "backend"?}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Cow<'static, str>,
    pub field: Option<Cow<'static, str>>,
    pub backend: Option<&'static str>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// The body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// Stable snake_case code, such as `invalid_url` or `rate_limited`.
    code: &'a str,
    /// Explanation for people, with the offending value.
    message: &'a str,
    /// The request field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// The failing backend of a 503: database, cache, blob, queue or search.
    #[serde(skip_serializing_if = "Option::is_none")]
    backend: Option<&'a str>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            backend: None,
            headers: Vec::new(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn with_field(mut self, field: impl Into<Cow<'static, str>>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// A 503 naming the backend that failed. The cause is logged, never sent to the client.
    pub fn backend_unavailable(backend: &'static str, cause: &dyn std::error::Error) -> Self {
        tracing::error!(backend, error = %error_chain(cause), "backend failure");
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "backend_unavailable",
            format!("the {backend} is unavailable; try again shortly"),
        );
        error.backend = Some(backend);
        error.with_header(http::header::RETRY_AFTER, HeaderValue::from_static("1"))
    }

    pub fn into_response(self) -> Response {
        let envelope = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
                backend: self.backend,
            },
        };
        let mut response = json(self.status, &envelope);
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// Formats an error and its sources as `outer: inner: innermost`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        // Some errors repeat their source in their own message; print each text once.
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        Self::backend_unavailable("database", &error)
    }
}

impl From<ActorUnavailable> for ApiError {
    fn from(error: ActorUnavailable) -> Self {
        tracing::warn!(actor = error.name, "request failed: actor not running");
        let mut api = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "actor_unavailable",
            format!("{error}; try again shortly"),
        );
        api.backend = Some(error.name);
        api.with_header(http::header::RETRY_AFTER, HeaderValue::from_static("1"))
    }
}

impl From<LinkError> for ApiError {
    fn from(error: LinkError) -> Self {
        use LinkError as E;
        let message = error.to_string();
        let (status, code, field) = match &error {
            E::Url(url) => (StatusCode::BAD_REQUEST, url.code(), Some("url")),
            E::Alias(alias) => (StatusCode::BAD_REQUEST, alias.code(), Some("alias")),
            E::AliasTaken { .. } => (StatusCode::CONFLICT, "alias_taken", Some("alias")),
            E::InvalidRedirect { .. } => (
                StatusCode::BAD_REQUEST,
                "invalid_redirect",
                Some("redirect"),
            ),
            E::InvalidMaxVisits { .. } => (
                StatusCode::BAD_REQUEST,
                "invalid_max_visits",
                Some("max_visits"),
            ),
            E::InvalidExpiresAt { .. } => (
                StatusCode::BAD_REQUEST,
                "invalid_expires_at",
                Some("expires_at"),
            ),
            E::ExpiresAtInPast { .. } => (
                StatusCode::BAD_REQUEST,
                "expires_at_in_past",
                Some("expires_at"),
            ),
            E::InvalidTag { .. } => (StatusCode::BAD_REQUEST, "invalid_tag", Some("tags")),
            E::TooManyTags { .. } => (StatusCode::BAD_REQUEST, "too_many_tags", Some("tags")),
            E::InvalidCursor { .. } => (StatusCode::BAD_REQUEST, "invalid_cursor", Some("cursor")),
            E::InvalidLimit { .. } => (StatusCode::BAD_REQUEST, "invalid_limit", Some("limit")),
            E::NotFound { .. } => (StatusCode::NOT_FOUND, "link_not_found", None),
            E::Expired { .. } => (StatusCode::NOT_FOUND, "link_expired", None),
            E::VisitLimitReached { .. } => {
                (StatusCode::NOT_FOUND, "link_visit_limit_reached", None)
            }
            E::Disabled { .. } => (StatusCode::NOT_FOUND, "link_disabled", None),
            E::NotOwner { .. } => (StatusCode::FORBIDDEN, "not_owner", None),
            E::Anonymous { .. } => (StatusCode::FORBIDDEN, "link_anonymous", None),
            E::AnonymousCreateDisabled => (StatusCode::UNAUTHORIZED, "auth_required", None),
            E::CodesExhausted => (StatusCode::SERVICE_UNAVAILABLE, "codes_exhausted", None),
            E::Database(db) => return Self::backend_unavailable("database", db.as_ref()),
            E::Unavailable(actor) => return actor.clone().into(),
        };
        let error = Self::new(status, code, message);
        match field {
            Some(field) => error.with_field(field),
            None => error,
        }
    }
}

impl From<QrOptionError> for ApiError {
    fn from(error: QrOptionError) -> Self {
        QrError::InvalidOption(error).into()
    }
}

impl From<QrError> for ApiError {
    fn from(error: QrError) -> Self {
        match error {
            QrError::Unavailable(actor) => actor.into(),
            QrError::Backend { backend, .. } => Self::backend_unavailable(backend, &error),
            QrError::EncodingFailed { .. } => {
                tracing::error!(%error, "encoding a QR image failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "qr_encoding_failed",
                    error.to_string(),
                )
            }
            other => {
                let api = Self::bad_request(other.code(), other.to_string());
                match other.field() {
                    Some(field) => api.with_field(field),
                    None => api,
                }
            }
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Database(db) => db.into(),
            other => Self::bad_request("invalid_account", other.to_string()),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::Database(db) => db.into(),
            QueueError::Unavailable { .. } => Self::backend_unavailable("job queue", &error),
            // An invalid kind, job id or setting is a bug on our side, never the client's input.
            QueueError::InvalidJobId { .. }
            | QueueError::InvalidKind { .. }
            | QueueError::InvalidSettings { .. } => {
                tracing::error!(code = error.code(), error = %error, "job could not be enqueued");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the request could not be completed because of a server error",
                )
            }
        }
    }
}

impl From<SearchError> for ApiError {
    fn from(error: SearchError) -> Self {
        match &error {
            SearchError::Unavailable { backend, .. } => Self::backend_unavailable(backend, &error),
            SearchError::ResultWindowTooLarge { .. } => {
                Self::bad_request(error.code(), error.to_string()).with_field("offset")
            }
        }
    }
}

impl From<SearchQueryError> for ApiError {
    fn from(error: SearchQueryError) -> Self {
        Self::bad_request(error.code(), error.to_string()).with_field("q")
    }
}

impl From<BlobError> for ApiError {
    fn from(error: BlobError) -> Self {
        match &error {
            BlobError::Unavailable { backend, .. } => {
                tracing::error!(backend, error = %error_chain(&error), "blob store failure");
                let mut api = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "backend_unavailable",
                    format!("the blob store ({backend}) is unavailable; try again shortly"),
                );
                api.backend = Some(backend);
                api.with_header(http::header::RETRY_AFTER, HeaderValue::from_static("1"))
            }
            // Keys and content types are built by the server, so a rejected one is our bug.
            BlobError::InvalidKey { .. } | BlobError::InvalidContentType { .. } => {
                tracing::error!(code = error.code(), %error, "blob store rejected a request");
                internal_error()
            }
        }
    }
}

impl From<PasteError> for ApiError {
    fn from(error: PasteError) -> Self {
        use PasteError as E;
        let status = match &error {
            E::Empty
            | E::InvalidExpiry { .. }
            | E::InvalidVisibility { .. }
            | E::InvalidTitle { .. }
            | E::InvalidSyntax { .. }
            | E::InvalidPassword { .. }
            | E::PrivateNeedsOwner => StatusCode::BAD_REQUEST,
            E::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            E::AnonymousCreateDisabled
            | E::PasswordRequired { .. }
            | E::DeleteTokenRequired { .. } => StatusCode::UNAUTHORIZED,
            E::WrongPassword { .. } | E::WrongDeleteToken { .. } | E::RevealRequired { .. } => {
                StatusCode::FORBIDDEN
            }
            E::NotFound { .. } => StatusCode::NOT_FOUND,
            E::Hashing { .. } | E::SweepFailed { .. } => {
                tracing::error!(%error, "paste operation failed");
                return internal_error();
            }
            E::Blob(_) => {
                let E::Blob(blob) = error else {
                    return internal_error();
                };
                return blob.into();
            }
            E::Database(db) => return Self::backend_unavailable("database", db.as_ref()),
            E::Unavailable(actor) => return actor.clone().into(),
        };
        let api = Self::new(status, error.code(), error.to_string());
        let api = match error.field() {
            Some(field) => api.with_field(field),
            None => api,
        };
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return api.with_header(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        api
    }
}

/// Builds a 500 whose cause is already logged. The client gets no internal detail.
pub fn internal_error() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "the request could not be completed because of a server error",
    )
}
impl From<BookmarkError> for ApiError {
    fn from(error: BookmarkError) -> Self {
        use BookmarkError as E;
        let message = error.to_string();
        let (status, code, field) = match &error {
            E::Url(url) => (StatusCode::BAD_REQUEST, url.code(), Some("url")),
            E::InvalidTag { .. } => (StatusCode::BAD_REQUEST, "invalid_tag", Some("tags")),
            E::TooManyTags { .. } => (StatusCode::BAD_REQUEST, "too_many_tags", Some("tags")),
            E::TooLong { field, .. } => (StatusCode::BAD_REQUEST, "field_too_long", Some(*field)),
            E::InvalidCursor { .. } => (StatusCode::BAD_REQUEST, "invalid_cursor", Some("cursor")),
            E::InvalidLimit { .. } => (StatusCode::BAD_REQUEST, "invalid_limit", Some("limit")),
            E::InvalidStatus { .. } => (StatusCode::BAD_REQUEST, "invalid_status", Some("status")),
            E::Exists { .. } => (StatusCode::CONFLICT, "bookmark_exists", Some("url")),
            E::NotFound { .. } => (StatusCode::NOT_FOUND, "bookmark_not_found", None),
            E::Database(_) => return Self::backend_unavailable("database", &error),
            E::Queue(_) => match error {
                E::Queue(queue) => return queue.into(),
                _ => return Self::backend_unavailable("job queue", &error),
            },
        };
        let error = Self::new(status, code, message);
        match field {
            Some(field) => error.with_field(field),
            None => error,
        }
    }
}
