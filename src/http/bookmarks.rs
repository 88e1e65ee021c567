//! `/api/bookmarks`: create, read, update, delete, list, refresh, search, import and export a
//! signed-in user's bookmarks, and `/favicons/{hash}`, the favicons enrichment stored.

use super::error::{ApiError, ErrorBody};
use super::links::timestamp;
use super::request::Ctx;
use super::response::{Response, json, no_content, with_body};
use crate::app::AppState;
use http::{HeaderValue, StatusCode, header};
use linkyard_actors::backends::search::SearchRequest;
use linkyard_actors::bookmarks::{
    BookmarkError, BookmarkPatch, ImportSummary, ListFilter, NewBookmark, favicon, netscape,
};
use linkyard_actors::db::entities::bookmarks::Model;
use linkyard_actors::domain::SearchQuery;
use linkyard_actors::domain::search_query::{BookmarkStatus, tag_key};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The policy of every favicon response. SVG favicons may carry scripts, so nothing may run
/// or load, and the inline styles of the drawing are the only thing allowed.
pub const FAVICON_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

const DEFAULT_SEARCH_LIMIT: usize = 20;
const MAX_SEARCH_LIMIT: usize = 100;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    /// The page: an absolute http or https URL.
    url: String,
    title: Option<String>,
    description: Option<String>,
    tags: Option<Vec<String>>,
    note: Option<String>,
    unread: Option<bool>,
}

/// Fields to change; `null` clears `title`, `description` and `note`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "super::request::present")]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::request::present")]
    description: Option<Option<String>>,
    tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "super::request::present")]
    note: Option<Option<String>>,
    unread: Option<bool>,
}

/// A bookmark as the API returns it. `title` and `description` are the user's when given,
/// else the page's.
#[derive(Serialize, ToSchema)]
pub struct BookmarkView {
    pub id: i64,
    pub url: String,
    pub final_url: Option<String>,
    pub canonical_url: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub site_name: Option<String>,
    pub image_url: Option<String>,
    pub favicon_url: Option<String>,
    pub author: Option<String>,
    pub published_at: Option<String>,
    pub lang: Option<String>,
    pub tags: Vec<String>,
    pub note: Option<String>,
    pub unread: bool,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub enriched_at: Option<String>,
}

impl BookmarkView {
    pub fn new(state: &AppState, bookmark: Model) -> Self {
        Self {
            id: bookmark.id,
            title: bookmark.display_title().map(str::to_owned),
            description: bookmark.display_description().map(str::to_owned),
            tags: bookmark.tag_list(),
            favicon_url: bookmark
                .favicon_hash
                .as_deref()
                .map(|hash| favicon_url(state, hash)),
            url: bookmark.url,
            final_url: bookmark.final_url,
            canonical_url: bookmark.canonical_url,
            site_name: bookmark.site_name,
            image_url: bookmark.image_url,
            author: bookmark.author,
            published_at: bookmark.published_at.map(timestamp),
            lang: bookmark.lang,
            note: bookmark.note,
            unread: bookmark.unread,
            status: bookmark.status,
            error: bookmark.error,
            created_at: timestamp(bookmark.created_at),
            updated_at: timestamp(bookmark.updated_at),
            enriched_at: bookmark.enriched_at.map(timestamp),
        }
    }
}

/// Returns the public URL of a stored favicon.
pub fn favicon_url(state: &AppState, hash: &str) -> String {
    format!("{}/favicons/{hash}", state.public_base)
}

#[derive(Serialize, ToSchema)]
struct BookmarkPage {
    items: Vec<BookmarkView>,
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct SearchPage {
    items: Vec<BookmarkView>,
    total: u64,
    next_offset: Option<usize>,
}

/// The 409 of a duplicate: the error, and the bookmark that exists.
#[derive(Serialize, ToSchema)]
struct Duplicate<'a> {
    error: DuplicateDetail<'a>,
    bookmark: BookmarkView,
}

#[derive(Serialize, ToSchema)]
struct DuplicateDetail<'a> {
    code: &'static str,
    message: &'a str,
    field: &'static str,
}

/// Saves a bookmark; its page is fetched and indexed in the background.
#[utoipa::path(post, path = "/api/bookmarks", tag = "bookmarks", request_body = CreateBody,
    security(("api_key" = [])),
    responses(
        (status = 202, description = "Saved with status pending", body = BookmarkView),
        (status = 400, description = "Invalid field, such as url_invalid or invalid_tag", body = ErrorBody),
        (status = 401, description = "API key missing or unknown", body = ErrorBody),
        (status = 409, description = "The caller has this normalized URL (bookmark_exists); the body carries it", body = Duplicate),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
        (status = 503, description = "A backend is unavailable; it is named", body = ErrorBody),
    ))]
pub async fn create(mut ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.require_caller().await?;
    let body: CreateBody = ctx.json().await?;
    let input = NewBookmark {
        url: body.url,
        title: body.title,
        description: body.description,
        tags: body.tags,
        note: body.note,
        unread: body.unread,
    };

    let request_id = request_id(&ctx);
    let created = ctx
        .state
        .bookmarks
        .create(caller.user_id, input, request_id)
        .await;
    let bookmark = match created {
        Ok(bookmark) => bookmark,
        Err(BookmarkError::Exists { existing }) => return Ok(duplicate(&ctx, *existing)),
        Err(error) => return Err(error.into()),
    };
    let view = BookmarkView::new(&ctx.state, bookmark);
    let location = ctx.state.api_url("bookmarks", &view.id.to_string());
    Ok(with_location(json(StatusCode::ACCEPTED, &view), &location))
}

fn duplicate(ctx: &Ctx, existing: Model) -> Response {
    let message = format!(
        "you have a bookmark of '{}' already (id {}); update that one instead",
        existing.normalized_url, existing.id
    );
    let location = ctx.state.api_url("bookmarks", &existing.id.to_string());
    let body = Duplicate {
        error: DuplicateDetail {
            code: "bookmark_exists",
            message: &message,
            field: "url",
        },
        bookmark: BookmarkView::new(&ctx.state, existing),
    };
    with_location(json(StatusCode::CONFLICT, &body), &location)
}

fn with_location(mut response: Response, location: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn request_id(ctx: &Ctx) -> Option<String> {
    ctx.parts
        .headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Reads one of the caller's bookmarks.
#[utoipa::path(get, path = "/api/bookmarks/{id}", tag = "bookmarks",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Bookmark id")),
    responses(
        (status = 200, description = "The bookmark", body = BookmarkView),
        (status = 401, description = "API key missing or unknown", body = ErrorBody),
        (status = 404, description = "No such bookmark of the caller (bookmark_not_found)", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn get(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.require_caller().await?;
    let id = ctx.param("id")?;
    let bookmark = ctx.state.bookmarks.get(caller.user_id, &id).await?;
    Ok(json(
        StatusCode::OK,
        &BookmarkView::new(&ctx.state, bookmark),
    ))
}

/// Changes the user's fields of a bookmark.
#[utoipa::path(patch, path = "/api/bookmarks/{id}", tag = "bookmarks", request_body = PatchBody,
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Bookmark id")),
    responses(
        (status = 200, description = "The changed bookmark", body = BookmarkView),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "API key missing or unknown", body = ErrorBody),
        (status = 404, description = "No such bookmark of the caller", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn update(mut ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.require_caller().await?;
    let id = ctx.param("id")?;
    let body: PatchBody = ctx.json().await?;
    let patch = BookmarkPatch {
        title: body.title,
        description: body.description,
        tags: body.tags,
        note: body.note,
        unread: body.unread,
    };
    let bookmark = ctx
        .state
        .bookmarks
        .update(caller.user_id, &id, patch)
        .await?;
    Ok(json(
        StatusCode::OK,
        &BookmarkView::new(&ctx.state, bookmark),
    ))
}

/// Deletes a bookmark and its search document.
#[utoipa::path(delete, path = "/api/bookmarks/{id}", tag = "bookmarks",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Bookmark id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "API key missing or unknown", body = ErrorBody),
        (status = 404, description = "No such bookmark of the caller", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn delete(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.require_caller().await?;
    let id = ctx.param("id")?;
    ctx.state.bookmarks.delete(caller.user_id, &id).await?;
    Ok(no_content())
}

/// Fetches the bookmark's page again.
#[utoipa::path(post, path = "/api/bookmarks/{id}/refresh", tag = "bookmarks",
    security(("api_key" = [])),
    params(("id" = i64, Path, description = "Bookmark id")),
    responses(
        (status = 202, description = "Queued; status is pending again", body = BookmarkView),
        (status = 401, description = "API key missing or unknown", body = ErrorBody),
        (status = 404, description = "No such bookmark of the caller", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn refresh(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.require_caller().await?;
    let id = ctx.param("id")?;
    let bookmark = ctx.state.bookmarks.refresh(caller.user_id, &id).await?;
    Ok(json(
        StatusCode::ACCEPTED,
        &BookmarkView::new(&ctx.state, bookmark),
    ))
}

/// Lists the caller's bookmarks, newest first, a page at a time.
#[utoipa::path(get, path = "/api/bookmarks", tag = "bookmarks",
    security(("api_key" = [])),
    params(
        ("tag" = Option<String>, Query, description = "Only bookmarks with this tag"),
        ("status" = Option<String>, Query, description = "pending, active or failed"),
        ("unread" = Option<bool>, Query, description = "Only unread (true) or read (false) bookmarks"),
        ("limit" = Option<i64>, Query, description = "Page size"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses(
        (status = 200, description = "One page", body = BookmarkPage),
        (status = 400, description = "Invalid filter, limit or cursor", body = ErrorBody),
        (status = 401, description = "API key missing or unknown", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn list(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.require_caller().await?;
    let filter = list_filter(&ctx)?;
    let limit = ctx.query_i64("limit")?;
    let cursor = ctx.query("cursor");

    let (bookmarks, next_cursor) = ctx
        .state
        .bookmarks
        .list(caller.user_id, &filter, cursor.as_deref(), limit)
        .await?;
    let items = bookmarks
        .into_iter()
        .map(|bookmark| BookmarkView::new(&ctx.state, bookmark))
        .collect();
    Ok(json(StatusCode::OK, &BookmarkPage { items, next_cursor }))
}

/// Reads `tag`, `status` and `unread` from the query string.
fn list_filter(ctx: &Ctx) -> Result<ListFilter, ApiError> {
    let tag = ctx
        .query("tag")
        .map(|tag| tag_key(&tag))
        .filter(|key| !key.is_empty());
    let status = match ctx.query("status") {
        None => None,
        Some(value) => Some(
            BookmarkStatus::parse(value.trim())
                .ok_or(BookmarkError::InvalidStatus { value })?
                .as_str()
                .to_owned(),
        ),
    };
    let unread = match ctx.query("unread").as_deref().map(str::trim) {
        None => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("unread '{other}' is invalid; use true or false"),
            )
            .with_field("unread"));
        }
    };
    Ok(ListFilter {
        tag,
        status,
        unread,
    })
}

/// Searches the caller's bookmarks with the query language: words, "phrases", #tag,
/// site:host, is:unread, status:failed, before:/after: dates.
#[utoipa::path(get, path = "/api/bookmarks/search", tag = "bookmarks",
    security(("api_key" = [])),
    params(
        ("q" = Option<String>, Query, description = "The query; empty lists the newest"),
        ("limit" = Option<usize>, Query, description = "1 to 100 (default 20)"),
        ("offset" = Option<usize>, Query, description = "next_offset of the previous page"),
    ),
    responses(
        (status = 200, description = "Matches, best first", body = SearchPage),
        (status = 400, description = "Invalid query, limit or offset", body = ErrorBody),
        (status = 401, description = "API key missing or unknown", body = ErrorBody),
        (status = 503, description = "The search engine is unavailable; it is named", body = ErrorBody),
    ))]
pub async fn search(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.require_caller().await?;
    let query = SearchQuery::parse(&ctx.query("q").unwrap_or_default())?;
    let limit = match ctx.query_i64("limit")? {
        None => DEFAULT_SEARCH_LIMIT,
        Some(value) if (1..=MAX_SEARCH_LIMIT as i64).contains(&value) => value as usize,
        Some(value) => return Err(BookmarkError::InvalidLimit { value }.into()),
    };
    let offset = match ctx.query_i64("offset")? {
        None => 0,
        Some(value) if value >= 0 => value as usize,
        Some(value) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("offset {value} is invalid; use 0 or more"),
            )
            .with_field("offset"));
        }
    };

    // The index is scoped to the caller, and the rows are read scoped again.
    let request = SearchRequest {
        user_id: caller.user_id,
        query,
        limit,
        offset,
    };
    let hits = ctx.state.search.search(&request).await?;
    let bookmarks = ctx
        .state
        .bookmarks
        .find_ordered(caller.user_id, &hits.ids)
        .await?;
    let returned = hits.ids.len();
    let next_offset =
        (offset + returned < hits.total as usize && returned == limit).then_some(offset + returned);
    let items = bookmarks
        .into_iter()
        .map(|bookmark| BookmarkView::new(&ctx.state, bookmark))
        .collect();
    Ok(json(
        StatusCode::OK,
        &SearchPage {
            items,
            total: hits.total,
            next_offset,
        },
    ))
}

/// Imports a Netscape bookmark file, as browsers export it.
#[utoipa::path(post, path = "/api/bookmarks/import", tag = "bookmarks",
    security(("api_key" = [])),
    request_body(content = String, content_type = "text/html", description = "Netscape bookmark HTML"),
    responses(
        (status = 200, description = "Counts of imported, duplicate and invalid entries"),
        (status = 401, description = "API key missing or unknown", body = ErrorBody),
        (status = 413, description = "Larger than bookmarks.import_max_bytes", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn import(mut ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.require_caller().await?;
    let limit = ctx.state.settings.bookmarks.import_max_bytes;
    let body = ctx.bytes(limit).await?;
    let html = String::from_utf8_lossy(&body);

    let parsed = netscape::parse(&html);
    let mut summary: ImportSummary = ctx
        .state
        .bookmarks
        .import(caller.user_id, parsed.entries, &mut |_| {})
        .await?;
    summary.invalid += parsed.skipped;
    tracing::info!(
        imported = summary.imported,
        duplicates = summary.duplicates,
        invalid = summary.invalid,
        "bookmark file imported"
    );
    Ok(json(StatusCode::OK, &summary))
}

/// Exports the caller's bookmarks as a Netscape bookmark file.
#[utoipa::path(get, path = "/api/bookmarks/export", tag = "bookmarks",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Netscape bookmark HTML", content_type = "text/html"),
        (status = 401, description = "API key missing or unknown", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn export(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.require_caller().await?;
    let bookmarks = ctx.state.bookmarks.all_of(caller.user_id).await?;
    let mut response = with_body(
        StatusCode::OK,
        "text/html; charset=utf-8",
        netscape::export(&bookmarks),
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"bookmarks.html\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Serves a stored favicon with the type sniffed when it was stored. The path is its content
/// hash, so it never changes and may be cached for good.
/// Serves a stored favicon by its SHA-256, with the type sniffed from its bytes.
#[utoipa::path(get, path = "/favicons/{hash}", tag = "bookmarks",
    params(("hash" = String, Path, description = "SHA-256 of the icon, in hex")),
    responses(
        (status = 200, description = "The icon", content_type = "image/*"),
        (status = 304, description = "The client's copy (If-None-Match) is current"),
        (status = 404, description = "No such favicon (favicon_not_found)", body = ErrorBody),
    ))]
pub async fn favicon(ctx: Ctx) -> Result<Response, ApiError> {
    let hash = ctx.param("hash")?;
    let not_found = || ApiError::not_found("favicon_not_found", format!("no favicon '{hash}'"));
    if !favicon::is_hash(&hash) {
        return Err(not_found());
    }
    let etag = format!("\"{hash}\"");
    if client_has(&ctx, &etag) {
        let mut response = no_content();
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        set_favicon_cache_headers(&mut response, &etag);
        return Ok(response);
    }
    let blob = ctx
        .state
        .blobs
        .get(&favicon::blob_key(&hash))
        .await
        .map_err(|error| ApiError::backend_unavailable("blob store", &error))?
        .ok_or_else(not_found)?;

    // Only the types the sniffer produces are served as such; anything else is bytes.
    let content_type = favicon::sniff_image_type(&blob.bytes).unwrap_or("application/octet-stream");
    let mut response = with_body(StatusCode::OK, content_type, blob.bytes);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(FAVICON_CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    set_favicon_cache_headers(&mut response, &etag);
    Ok(response)
}

/// Sets the entity tag and the caching of a favicon, whose path never changes its content.
fn set_favicon_cache_headers(response: &mut Response, etag: &str) {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if let Ok(etag) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, etag);
    }
}

/// Checks whether `If-None-Match` lists `etag` (or `*`), ignoring weak markers.
fn client_has(ctx: &Ctx, etag: &str) -> bool {
    ctx.parts
        .headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|candidate| candidate.trim().trim_start_matches("W/"))
        .any(|candidate| candidate == etag || candidate == "*")
}
