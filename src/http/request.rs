//! The request context handed to every handler, with the edge parsing that handlers share: path
//! parameters, query strings, JSON bodies under a size limit, and the caller's identity.

use super::error::ApiError;
use crate::app::AppState;
use bytes::Bytes;
use http::{StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use linkyard_actors::accounts::Principal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use std::net::SocketAddr;
use std::sync::Arc;

pub struct Ctx {
    pub state: Arc<AppState>,
    pub parts: http::request::Parts,
    pub body: Option<Incoming>,
    pub params: Vec<(String, String)>,
    pub peer: SocketAddr,
}

impl Ctx {
    /// Returns a path parameter, percent-decoded. A parameter that does not decode to UTF-8
    /// cannot name anything we store, so it is a 404.
    pub fn param(&self, name: &str) -> Result<String, ApiError> {
        let raw = self
            .params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or_default();
        percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map(|value| value.into_owned())
            .map_err(|_| ApiError::not_found("not_found", format!("nothing is at '{raw}'")))
    }

    /// The raw query string, without `?`.
    pub fn raw_query(&self) -> &str {
        self.parts.uri.query().unwrap_or_default()
    }

    /// Returns the decoded value of query parameter `name`, if present.
    pub fn query(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.raw_query().as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// Returns query parameter `name` parsed as an integer.
    pub fn query_i64(&self, name: &'static str) -> Result<Option<i64>, ApiError> {
        let Some(value) = self.query(name) else {
            return Ok(None);
        };
        value.trim().parse::<i64>().map(Some).map_err(|_| {
            ApiError::bad_request(
                "invalid_query",
                format!("{name} '{value}' is not a whole number"),
            )
            .with_field(name)
        })
    }

    /// Reads the whole body, rejecting it with 413 as soon as it passes `limit` bytes.
    pub async fn bytes(&mut self, limit: usize) -> Result<Bytes, ApiError> {
        if let Some(length) = self.content_length()
            && length > limit as u64
        {
            return Err(body_too_large(limit));
        }
        let Some(body) = self.body.take() else {
            return Ok(Bytes::new());
        };
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                Err(body_too_large(limit))
            }
            Err(error) => Err(ApiError::bad_request(
                "body_read_failed",
                format!("reading the request body failed: {error}"),
            )),
        }
    }

    /// Parses a JSON body into `T`. Syntax errors and wrong field types each get their own code,
    /// and the field at fault is named.
    pub async fn json<T: DeserializeOwned>(&mut self) -> Result<T, ApiError> {
        if let Some(content_type) = self.parts.headers.get(header::CONTENT_TYPE) {
            let content_type = content_type
                .to_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !content_type.starts_with("application/json") {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!(
                        "content type '{content_type}' is not supported; send application/json"
                    ),
                ));
            }
        }
        let limit = self.state.settings.server.max_json_body_bytes;
        let bytes = self.bytes(limit).await?;
        parse_json(&bytes)
    }

    /// The signed-in caller, or `None` for a request without `Authorization`. A key that was
    /// never issued is rejected rather than treated as anonymous.
    pub async fn caller(&self) -> Result<Option<Arc<Principal>>, ApiError> {
        let Some(value) = self.parts.headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let key = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_authorization",
                    "the Authorization header must be 'Bearer <API key>'",
                )
            })?;
        match self.state.accounts.authenticate(key).await? {
            Some(principal) => Ok(Some(principal)),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "the API key is not valid; create one with `linkyard user create --email E`",
            )
            .with_header(
                header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            )),
        }
    }

    /// The signed-in caller; 401 without a key.
    pub async fn require_caller(&self) -> Result<Arc<Principal>, ApiError> {
        self.caller().await?.ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "auth_required",
                "this endpoint needs an API key: send 'Authorization: Bearer <key>'",
            )
            .with_header(
                header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            )
        })
    }

    fn content_length(&self) -> Option<u64> {
        self.parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
    }
}

/// The 413 closes the connection: the rest of the body is never read, so the connection cannot
/// carry another request, and saying so stops clients from reusing it.
pub fn body_too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the request body is larger than the limit of {limit} bytes"),
    )
    .with_header(header::CONNECTION, http::HeaderValue::from_static("close"))
}

/// Parses JSON, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_data() {
            let field = if path == "." { None } else { Some(path) };
            let error = ApiError::bad_request("invalid_field", inner.to_string());
            match field {
                Some(field) => error.with_field(field),
                None => error,
            }
        } else {
            ApiError::bad_request(
                "invalid_json",
                format!("the body is not valid JSON: {inner}"),
            )
        }
    })
}

/// Deserializes a nullable PATCH field so that `null` (`Some(None)`) differs from a missing
/// field (`None`), for `#[serde(default, deserialize_with = "super::request::present")]`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
