//! `/api/links`: create, read, update, delete and list short links.

use super::error::ApiError;
use super::request::Ctx;
use super::response::{Response, json, no_content};
use chrono::{DateTime, SecondsFormat, Utc};
use http::StatusCode;
use linkyard_actors::db::entities::links::Model as LinkModel;
use linkyard_actors::links::{LinkPatch, NewLink, tags_of};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ErrorBody;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    /// The target: an absolute http or https URL.
    url: String,
    /// A custom code instead of a generated one.
    alias: Option<String>,
    /// RFC 3339 time after which the link returns 404.
    expires_at: Option<String>,
    /// Visits after which the link returns 404.
    max_visits: Option<i64>,
    /// 301, 302 (default), 307 or 308.
    redirect: Option<i64>,
    /// Append the visitor's query string to the target (default true).
    forward_query: Option<bool>,
    tags: Option<Vec<String>>,
}

/// Fields to change; `null` clears `expires_at` and `max_visits`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    url: Option<String>,
    #[serde(default, deserialize_with = "super::request::present")]
    expires_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::request::present")]
    max_visits: Option<Option<i64>>,
    redirect: Option<i64>,
    forward_query: Option<bool>,
    tags: Option<Vec<String>>,
    disabled: Option<bool>,
}

/// A link as the API returns it.
#[derive(Serialize, ToSchema)]
pub struct LinkView {
    pub code: String,
    pub short_url: String,
    pub url: String,
    pub qr_url: String,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: Option<String>,
    pub max_visits: Option<i64>,
    pub redirect: i16,
    pub forward_query: bool,
    pub tags: Vec<String>,
    pub visits: i64,
    pub disabled: bool,
}

#[derive(Serialize, ToSchema)]
struct LinkPage {
    items: Vec<LinkView>,
    next_cursor: Option<String>,
}

pub fn timestamp(value: DateTime<Utc>) -> String {
    value.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl LinkView {
    pub fn new(ctx: &Ctx, link: LinkModel) -> Self {
        let short_url = ctx.state.short_url(&link.code);
        Self {
            qr_url: format!("{}/qr.png", ctx.state.api_url("links", &link.code)),
            short_url,
            tags: tags_of(&link),
            code: link.code,
            url: link.url,
            created_at: timestamp(link.created_at),
            updated_at: timestamp(link.updated_at),
            expires_at: link.expires_at.map(timestamp),
            max_visits: link.max_visits,
            redirect: link.redirect,
            forward_query: link.forward_query,
            visits: link.visits,
            disabled: link.disabled,
        }
    }
}

/// Creates a short link.
#[utoipa::path(post, path = "/api/links", tag = "links", request_body = CreateBody,
    security((), ("api_key" = [])),
    responses(
        (status = 201, description = "Created", body = LinkView),
        (status = 400, description = "Invalid field, such as invalid_url or alias_taken", body = ErrorBody),
        (status = 401, description = "Unknown API key, or anonymous creation is off", body = ErrorBody),
        (status = 409, description = "The alias is taken (alias_taken)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
        (status = 503, description = "A backend is unavailable; it is named", body = ErrorBody),
    ))]
pub async fn create(mut ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.caller().await?;
    let body: CreateBody = ctx.json().await?;

    let input = NewLink {
        url: body.url,
        alias: body.alias,
        expires_at: body.expires_at,
        max_visits: body.max_visits,
        redirect: body.redirect,
        forward_query: body.forward_query,
        tags: body.tags,
    };
    let link = ctx
        .state
        .links
        .create(caller.map(|user| user.user_id), input)
        .await?;

    let view = LinkView::new(&ctx, link);
    let mut response = json(StatusCode::CREATED, &view);
    if let Ok(location) = http::HeaderValue::from_str(&ctx.state.api_url("links", &view.code)) {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location);
    }
    Ok(response)
}

/// Reads one link.
#[utoipa::path(get, path = "/api/links/{code}", tag = "links",
    params(("code" = String, Path, description = "Generated code or alias")),
    responses(
        (status = 200, description = "The link", body = LinkView),
        (status = 404, description = "No such link", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn get(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.caller().await?;
    let code = ctx.param("code")?;
    let link = ctx
        .state
        .links
        .get(caller.map(|user| user.user_id), &code)
        .await?;
    Ok(json(StatusCode::OK, &LinkView::new(&ctx, link)))
}

/// Changes a link of the caller.
#[utoipa::path(patch, path = "/api/links/{code}", tag = "links", request_body = PatchBody,
    security(("api_key" = [])),
    params(("code" = String, Path, description = "Generated code or alias")),
    responses(
        (status = 200, description = "The changed link", body = LinkView),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "API key missing or unknown", body = ErrorBody),
        (status = 404, description = "No such link of the caller", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn update(mut ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.require_caller().await?;
    let code = ctx.param("code")?;
    let body: PatchBody = ctx.json().await?;

    let patch = LinkPatch {
        url: body.url,
        expires_at: body.expires_at,
        max_visits: body.max_visits,
        redirect: body.redirect,
        forward_query: body.forward_query,
        tags: body.tags,
        disabled: body.disabled,
    };
    let link = ctx
        .state
        .links
        .update(Some(caller.user_id), &code, patch)
        .await?;
    Ok(json(StatusCode::OK, &LinkView::new(&ctx, link)))
}

/// Deletes a link of the caller.
#[utoipa::path(delete, path = "/api/links/{code}", tag = "links",
    security(("api_key" = [])),
    params(("code" = String, Path, description = "Generated code or alias")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "API key missing or unknown", body = ErrorBody),
        (status = 404, description = "No such link of the caller", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn delete(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.require_caller().await?;
    let code = ctx.param("code")?;
    ctx.state.links.delete(Some(caller.user_id), &code).await?;
    Ok(no_content())
}

/// Lists the caller's links, newest first, a page at a time.
#[utoipa::path(get, path = "/api/links", tag = "links",
    security(("api_key" = [])),
    params(
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 100 (default 20)"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses(
        (status = 200, description = "One page", body = LinkPage),
        (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
        (status = 401, description = "API key missing or unknown", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn list(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.require_caller().await?;
    let limit = ctx.query_i64("limit")?;
    let cursor = ctx.query("cursor");

    let (links, next_cursor) = ctx
        .state
        .links
        .list(caller.user_id, cursor.as_deref(), limit)
        .await?;
    let items = links
        .into_iter()
        .map(|link| LinkView::new(&ctx, link))
        .collect();
    Ok(json(StatusCode::OK, &LinkPage { items, next_cursor }))
}
