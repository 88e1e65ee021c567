//! The paste API and the raw paths: `POST /api/pastes` (JSON), `POST /` (a raw body),
//! `GET /api/pastes/{id}`, `DELETE /api/pastes/{id}`, `POST /api/pastes/{id}/reveal`,
//! `GET /p/{id}/raw` and the paste QR codes.
//!
//! A password-protected paste takes its password in the `X-Paste-Password` header on every
//! path that returns content or metadata. `DELETE` needs the `X-Delete-Token` header or the
//! owner's API key instead.

use super::error::{ApiError, ErrorBody};
use super::links::timestamp;
use super::qr::image_response;
use super::request::Ctx;
use super::response::{Response, json, no_content, with_body};
use crate::web::highlight::Syntax;
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use linkyard_actors::db::entities::pastes::Model as PasteRow;
use linkyard_actors::pastes::{CreatedPaste, DeleteAuth, NewPaste, PasteError};
use linkyard_actors::qr::{QrFormat, QrOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const PASSWORD_HEADER: HeaderName = HeaderName::from_static("x-paste-password");
pub const DELETE_TOKEN_HEADER: HeaderName = HeaderName::from_static("x-delete-token");

/// Raw content is never interpreted by the browser, even when opened directly.
const RAW_POLICY: &str = "default-src 'none'; sandbox";

/// Room for the JSON syntax and escapes around the content of a JSON create: the body may
/// be twice the paste limit plus this. The decoded content is then held to the limit itself.
const JSON_OVERHEAD_BYTES: u64 = 64 * 1024;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    content: String,
    title: Option<String>,
    syntax: Option<String>,
    /// `burn`, `10m`, `1h`, `1d`, `1w`, `never` or a number of seconds.
    #[schema(value_type = Option<String>)]
    expires_in: Option<Value>,
    visibility: Option<String>,
    password: Option<String>,
}

/// A paste as the API returns it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PasteView {
    pub id: String,
    pub url: String,
    pub raw_url: String,
    pub qr_url: String,
    pub title: Option<String>,
    pub syntax: Option<String>,
    pub size: i64,
    pub binary: bool,
    pub burn: bool,
    pub visibility: &'static str,
    pub password_protected: bool,
    pub created_at: String,
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_token: Option<String>,
    /// The text of a text paste, where the response carries content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The bytes of a binary paste in standard base64, where the response carries content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
}

impl PasteView {
    pub fn new(ctx: &Ctx, row: &PasteRow) -> Self {
        let url = paste_url(ctx, &row.id);
        Self {
            raw_url: format!("{url}/raw"),
            qr_url: format!("{}/qr.png", ctx.state.api_url("pastes", &row.id)),
            url,
            id: row.id.clone(),
            title: row.title.clone(),
            syntax: row.syntax.clone(),
            size: row.size,
            binary: row.binary,
            burn: row.burn,
            visibility: if row.private { "private" } else { "unlisted" },
            password_protected: row.password_hash.is_some(),
            created_at: timestamp(row.created_at),
            expires_at: row.expires_at.map(timestamp),
            delete_token: None,
            content: None,
            content_base64: None,
        }
    }

    fn with_content(mut self, bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) if !self.binary => self.content = Some(text.to_owned()),
            _ => self.content_base64 = Some(base64(bytes)),
        }
        self
    }
}

/// Builds the public page URL of a paste: `{public base}/p/{id}`.
pub fn paste_url(ctx: &Ctx, id: &str) -> String {
    format!(
        "{}{}",
        ctx.state.public_base,
        crate::web::paste::paste_path(id)
    )
}

/// Creates a paste from JSON.
#[utoipa::path(post, path = "/api/pastes", tag = "pastes", request_body = CreateBody,
    security((), ("api_key" = [])),
    responses(
        (status = 201, description = "Created; the only response that carries delete_token", body = PasteView),
        (status = 400, description = "Invalid field, such as empty_paste or invalid_expires_in", body = ErrorBody),
        (status = 401, description = "Unknown API key, or anonymous creation is off", body = ErrorBody),
        (status = 413, description = "Larger than pastes.max_bytes (paste_too_large)", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
        (status = 503, description = "The database or blob store is unavailable; it is named", body = ErrorBody),
    ))]
pub async fn create(mut ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.caller().await?;
    let max = ctx.state.pastes.rules().max_bytes;
    let limit = max.saturating_mul(2).saturating_add(JSON_OVERHEAD_BYTES);
    let body = read_body(&mut ctx, limit, true).await?;
    let body: CreateBody = super::request::parse_json(&body)?;

    let input = NewPaste {
        content: Bytes::from(body.content),
        title: body.title,
        syntax: check_syntax(body.syntax)?,
        expires_in: expires_in_text(body.expires_in)?,
        visibility: body.visibility,
        password: body.password,
        owner_id: caller.map(|user| user.user_id),
    };
    let created = ctx.state.pastes.create(input).await?;
    Ok(created_json(&ctx, created))
}

fn created_json(ctx: &Ctx, created: CreatedPaste) -> Response {
    let mut view = PasteView::new(ctx, &created.paste);
    view.delete_token = Some(created.delete_token);
    let location = HeaderValue::from_str(&view.url).ok();
    let mut response = json(StatusCode::CREATED, &view);
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// `POST /`: the body is the paste, byte for byte; `title`, `syntax`, `expires_in` and
/// `visibility` come from the query string and the password from `X-Paste-Password`.
/// Returns 201 with the paste URL as text, in `Location`, and the delete token in
/// `X-Delete-Token`.
#[utoipa::path(post, path = "/", tag = "pastes",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The paste, byte for byte"),
    security((), ("api_key" = [])),
    params(
        ("title" = Option<String>, Query, description = "Title, such as a file name"),
        ("syntax" = Option<String>, Query, description = "Syntax name or file extension"),
        ("expires_in" = Option<String>, Query, description = "burn, 10m, 1h, 1d, 1w, never or seconds"),
        ("visibility" = Option<String>, Query, description = "unlisted (default) or private"),
        ("X-Paste-Password" = Option<String>, Header, description = "The password of a protected paste"),
    ),
    responses(
        (status = 201, description = "The paste URL as text, also in Location; the delete token in X-Delete-Token", content_type = "text/plain"),
        (status = 400, description = "Invalid field, such as empty_paste", body = ErrorBody),
        (status = 413, description = "Larger than pastes.max_bytes (paste_too_large)", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
        (status = 503, description = "The database or blob store is unavailable; it is named", body = ErrorBody),
    ))]
pub async fn create_raw(mut ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.caller().await?;
    let max = ctx.state.pastes.rules().max_bytes;
    let content = read_body(&mut ctx, max, false).await?;

    let input = NewPaste {
        content,
        title: ctx.query("title"),
        syntax: check_syntax(ctx.query("syntax"))?,
        expires_in: ctx.query("expires_in"),
        visibility: ctx.query("visibility"),
        password: header_text(&ctx, &PASSWORD_HEADER),
        owner_id: caller.map(|user| user.user_id),
    };
    let created = ctx.state.pastes.create(input).await?;

    let url = paste_url(&ctx, &created.paste.id);
    let mut response = with_body(
        StatusCode::CREATED,
        "text/plain; charset=utf-8",
        format!("{url}\n"),
    );
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&url) {
        headers.insert(header::LOCATION, location);
    }
    if let Ok(token) = HeaderValue::from_str(&created.delete_token) {
        headers.insert(DELETE_TOKEN_HEADER, token);
    }
    Ok(response)
}

/// Reads a paste upload, rejecting it with 413 `paste_too_large` as soon as it passes `limit`
/// bytes, with or without `Content-Length`. With a `Content-Length`, the body lands in one
/// buffer of that size, so a 10 MiB upload costs 10 MiB of memory rather than twice that.
pub async fn read_body(ctx: &mut Ctx, limit: u64, json_body: bool) -> Result<Bytes, ApiError> {
    if json_body {
        check_json_content_type(ctx)?;
    }
    let too_large = || {
        ApiError::from(PasteError::TooLarge {
            max: ctx.state.pastes.rules().max_bytes,
        })
    };
    let declared = ctx
        .parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let Some(mut body) = ctx.body.take() else {
        return Ok(Bytes::new());
    };

    let capacity = declared.unwrap_or(0).min(limit);
    let mut buffer = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            ApiError::bad_request(
                "body_read_failed",
                format!("reading the request body failed: {error}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if (buffer.len() + data.len()) as u64 > limit {
            return Err(too_large());
        }
        buffer.extend_from_slice(&data);
    }
    Ok(buffer.freeze())
}

fn check_json_content_type(ctx: &Ctx) -> Result<(), ApiError> {
    let Some(value) = ctx.parts.headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let content_type = value.to_str().unwrap_or_default().to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("content type '{content_type}' is not supported; send application/json"),
    ))
}

/// Checks that the highlighter has a syntax for a hint. An empty hint means none.
pub fn check_syntax(syntax: Option<String>) -> Result<Option<String>, ApiError> {
    match syntax {
        Some(hint) if !hint.trim().is_empty() => match Syntax::from_hint(&hint) {
            Some(_) => Ok(Some(hint.trim().to_owned())),
            None => Err(PasteError::InvalidSyntax { syntax: hint }.into()),
        },
        _ => Ok(None),
    }
}

fn expires_in_text(value: Option<Value>) -> Result<Option<String>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(other) => Err(PasteError::InvalidExpiry {
            value: other.to_string(),
        }
        .into()),
    }
}

fn header_text(ctx: &Ctx, name: &HeaderName) -> Option<String> {
    ctx.parts
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// `GET /api/pastes/{id}`: the metadata, with the content unless the paste is
/// burn-after-reading, which only `POST /api/pastes/{id}/reveal` releases.
#[utoipa::path(method(get, head), path = "/api/pastes/{id}", tag = "pastes",
    params(("id" = String, Path, description = "Paste id: 13 characters of [0-9a-z]"), ("X-Paste-Password" = Option<String>, Header, description = "The password of a protected paste")),
    responses(
        (status = 200, description = "The paste, with content unless it is burn-after-reading", body = PasteView),
        (status = 401, description = "The paste has a password (password_required)", body = ErrorBody),
        (status = 403, description = "Wrong password", body = ErrorBody),
        (status = 404, description = "No such live paste visible to the caller", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn get(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.caller().await?.map(|user| user.user_id);
    let id = ctx.param("id")?;
    let password = header_text(&ctx, &PASSWORD_HEADER);
    let pastes = &ctx.state.pastes;

    let view = match pastes.content(&id, caller, password.clone()).await {
        Ok((row, bytes)) => PasteView::new(&ctx, &row).with_content(&bytes),
        Err(PasteError::RevealRequired { .. }) => {
            let row = pastes.unlock(&id, caller, password).await?;
            PasteView::new(&ctx, &row)
        }
        Err(error) => return Err(error.into()),
    };
    let mut response = json(StatusCode::OK, &view);
    no_store(&mut response);
    Ok(response)
}

/// `POST /api/pastes/{id}/reveal`: metadata and content; a burn-after-reading paste is
/// deleted by this request, and of concurrent reveals exactly one succeeds.
#[utoipa::path(post, path = "/api/pastes/{id}/reveal", tag = "pastes",
    params(("id" = String, Path, description = "Paste id: 13 characters of [0-9a-z]"), ("X-Paste-Password" = Option<String>, Header, description = "The password of a protected paste")),
    responses(
        (status = 200, description = "The paste with content; a burn-after-reading paste is now deleted", body = PasteView),
        (status = 401, description = "The paste has a password (password_required)", body = ErrorBody),
        (status = 403, description = "Wrong password", body = ErrorBody),
        (status = 404, description = "No such live paste, or another reveal came first", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn reveal(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.caller().await?.map(|user| user.user_id);
    let id = ctx.param("id")?;
    let password = header_text(&ctx, &PASSWORD_HEADER);

    let (row, bytes) = ctx.state.pastes.reveal(&id, caller, password).await?;
    let view = PasteView::new(&ctx, &row).with_content(&bytes);
    let mut response = json(StatusCode::OK, &view);
    no_store(&mut response);
    Ok(response)
}

/// `DELETE /api/pastes/{id}` with `X-Delete-Token` or the owner's API key.
#[utoipa::path(delete, path = "/api/pastes/{id}", tag = "pastes",
    security((), ("api_key" = [])),
    params(("id" = String, Path, description = "Paste id: 13 characters of [0-9a-z]"), ("X-Delete-Token" = Option<String>, Header, description = "The token returned at creation")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Neither a delete token nor the owner's key (delete_token_required)", body = ErrorBody),
        (status = 403, description = "Wrong delete token", body = ErrorBody),
        (status = 404, description = "No such live paste", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn delete(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.caller().await?.map(|user| user.user_id);
    let id = ctx.param("id")?;
    let auth = DeleteAuth {
        caller,
        token: header_text(&ctx, &DELETE_TOKEN_HEADER),
    };
    ctx.state.pastes.delete(&id, auth).await?;
    Ok(no_content())
}

/// `GET /p/{id}/raw`: the exact stored bytes. Text is `text/plain; charset=utf-8`; binary
/// content and `?download` are attachments.
#[utoipa::path(method(get, head), path = "/p/{id}/raw", tag = "pastes",
    params(("id" = String, Path, description = "Paste id: 13 characters of [0-9a-z]"), ("download" = Option<String>, Query, description = "Any value but 0 makes it an attachment"), ("X-Paste-Password" = Option<String>, Header, description = "The password of a protected paste")),
    responses(
        (status = 200, description = "The exact bytes: text/plain; charset=utf-8, or application/octet-stream for binary content", content_type = "text/plain"),
        (status = 401, description = "The paste has a password (password_required)", body = ErrorBody),
        (status = 403, description = "Wrong password, or burn-after-reading (reveal_required)", body = ErrorBody),
        (status = 404, description = "No such live paste visible to the caller", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn raw(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.caller().await?.map(|user| user.user_id);
    let id = ctx.param("id")?;
    let password = header_text(&ctx, &PASSWORD_HEADER);
    let (row, bytes) = ctx.state.pastes.content(&id, caller, password).await?;
    let download = ctx.query("download").is_some_and(|value| value != "0");
    Ok(raw_response(&row, bytes, download))
}

/// `GET /p/{id}/download`: the raw bytes as an attachment.
#[utoipa::path(method(get, head), path = "/p/{id}/download", tag = "pastes",
    params(("id" = String, Path, description = "Paste id: 13 characters of [0-9a-z]"), ("X-Paste-Password" = Option<String>, Header, description = "The password of a protected paste")),
    responses(
        (status = 200, description = "The exact bytes as an attachment", content_type = "application/octet-stream"),
        (status = 403, description = "Wrong password, or burn-after-reading (reveal_required)", body = ErrorBody),
        (status = 404, description = "No such live paste visible to the caller", body = ErrorBody),
    ))]
pub async fn download(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.caller().await?.map(|user| user.user_id);
    let id = ctx.param("id")?;
    let password = header_text(&ctx, &PASSWORD_HEADER);
    let (row, bytes) = ctx.state.pastes.content(&id, caller, password).await?;
    Ok(raw_response(&row, bytes, true))
}

/// Builds the raw response of a paste's bytes.
pub fn raw_response(row: &PasteRow, bytes: Bytes, download: bool) -> Response {
    let content_type = if row.binary {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut response = with_body(StatusCode::OK, content_type, bytes);
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(RAW_POLICY),
    );
    if row.binary || download {
        let disposition = format!("attachment; filename=\"{}\"", download_name(row));
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
    }
    no_store(&mut response);
    response
}

/// Builds the download file name: the title's ASCII letters, digits, `.`, `-` and `_`, or the id.
fn download_name(row: &PasteRow) -> String {
    let from_title: String = row
        .title
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    let name = from_title.trim_start_matches('.');
    if name.is_empty() {
        let extension = if row.binary { "bin" } else { "txt" };
        format!("{}.{extension}", row.id)
    } else {
        name.to_owned()
    }
}

/// Paste content may expire or be burned at any moment, so no cache may keep it.
fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The QR code of a paste's URL, as PNG.
#[utoipa::path(get, path = "/api/pastes/{id}/qr.png", tag = "qr",
    params(("id" = String, Path, description = "Paste id: 13 characters of [0-9a-z]"), super::qr::QrQuery),
    responses(
        (status = 200, description = "The image", content_type = "image/png"),
        (status = 304, description = "The client's copy (If-None-Match) is current"),
        (status = 400, description = "Invalid option", body = ErrorBody),
        (status = 404, description = "No such live paste visible to the caller", body = ErrorBody),
    ))]
pub async fn qr_png(ctx: Ctx) -> Result<Response, ApiError> {
    paste_qr(ctx, QrFormat::Png).await
}

/// The QR code of a paste's URL, as SVG.
#[utoipa::path(get, path = "/api/pastes/{id}/qr.svg", tag = "qr",
    params(("id" = String, Path, description = "Paste id: 13 characters of [0-9a-z]"), super::qr::QrQuery),
    responses(
        (status = 200, description = "The image", content_type = "image/svg+xml"),
        (status = 304, description = "The client's copy (If-None-Match) is current"),
        (status = 400, description = "Invalid option", body = ErrorBody),
        (status = 404, description = "No such live paste visible to the caller", body = ErrorBody),
    ))]
pub async fn qr_svg(ctx: Ctx) -> Result<Response, ApiError> {
    paste_qr(ctx, QrFormat::Svg).await
}

/// Serves the QR code of a paste's page URL. Expired, deleted and other people's private
/// pastes have none.
async fn paste_qr(ctx: Ctx, format: QrFormat) -> Result<Response, ApiError> {
    let caller = ctx.caller().await?.map(|user| user.user_id);
    let id = ctx.param("id")?;
    let options = QrOptions::from_query(ctx.raw_query())?;
    let row = ctx.state.pastes.lookup(&id, caller).await?;
    let data = paste_url(&ctx, &row.id);
    image_response(&ctx, &data, &options, format).await
}

/// Encodes bytes as standard base64 with padding (RFC 4648, section 4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let triple = chunk.iter().enumerate().fold(0u32, |acc, (index, byte)| {
            acc | u32::from(*byte) << (16 - 8 * index)
        });
        for index in 0..4 {
            if index <= chunk.len() {
                let sextet = (triple >> (18 - 6 * index)) & 0x3f;
                encoded.push(char::from(ALPHABET[sextet as usize]));
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, output) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), output, "{input}");
        }
        assert_eq!(base64(&[0xff, 0x00, 0xfe]), "/wD+");
    }
}
