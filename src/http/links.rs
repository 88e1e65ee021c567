//! `/api/links`: create, read, update, delete and list short links.

use super::error::ApiError;
use super::request::Ctx;
use super::response::{Response, json, no_content};
use chrono::{DateTime, SecondsFormat, Utc};
use http::StatusCode;
use linkyard_actors::db::entities::links::Model as LinkModel;
use linkyard_actors::links::{LinkPatch, NewLink, tags_of};
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    url: String,
    alias: Option<String>,
    expires_at: Option<String>,
    max_visits: Option<i64>,
    redirect: Option<i64>,
    forward_query: Option<bool>,
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    expires_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    max_visits: Option<Option<i64>>,
    redirect: Option<i64>,
    forward_query: Option<bool>,
    tags: Option<Vec<String>>,
    disabled: Option<bool>,
}

/// Tells a field sent as `null` (`Some(None)`) from a missing one (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A link as the API returns it.
#[derive(Serialize)]
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

#[derive(Serialize)]
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

pub async fn delete(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.require_caller().await?;
    let code = ctx.param("code")?;
    ctx.state.links.delete(Some(caller.user_id), &code).await?;
    Ok(no_content())
}

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
