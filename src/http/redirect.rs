//! `GET|HEAD /{code}`: the redirect, the hot path of the service. A cached link is answered
//! without waiting for the database or an actor.

use super::error::ApiError;
use super::request::Ctx;
use super::response::{Response, empty};
use chrono::Utc;
use http::{HeaderValue, Method, StatusCode, header};
use linkyard_actors::links::Links;
use linkyard_actors::url_shard::CachedLink;

/// How long browsers may reuse a permanent (301 or 308) redirect, so edits and analytics are
/// not hidden for long.
const PERMANENT_MAX_AGE_SECS: i64 = 300;

pub async fn follow(ctx: Ctx) -> Result<Response, ApiError> {
    let code = ctx.param("code")?;
    let links = &ctx.state.links;
    let link = links.resolve(&code).await?;
    let now = Utc::now();
    Links::check_visitable(&link, now)?;

    // HEAD shows where a link goes without visiting it, so it never uses up a visit.
    if ctx.parts.method != Method::HEAD && link.max_visits.is_some() {
        links.take_limited_visit(&link).await?;
    }

    Ok(redirect_response(&ctx, &link, now))
}

fn redirect_response(ctx: &Ctx, link: &CachedLink, now: chrono::DateTime<Utc>) -> Response {
    let query = ctx.raw_query();
    let location = if link.forward_query && !query.is_empty() {
        HeaderValue::from_str(&link.target.with_forwarded_query(query))
    } else {
        HeaderValue::from_maybe_shared(link.location.clone())
    };
    let status = StatusCode::from_u16(link.redirect).unwrap_or(StatusCode::FOUND);

    let mut response = http::Response::new(empty());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(location) = location {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::CACHE_CONTROL, cache_control(link, status, now));
    response
}

/// 302 and 307 are never cached. 301 and 308 may be, briefly, unless the link counts visits or
/// expires sooner, because a cached redirect would skip both.
fn cache_control(link: &CachedLink, status: StatusCode, now: chrono::DateTime<Utc>) -> HeaderValue {
    let permanent = matches!(
        status,
        StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
    );
    if !permanent || link.max_visits.is_some() {
        return HeaderValue::from_static("private, max-age=0");
    }
    let until_expiry = link
        .expires_at
        .map(|expires_at| (expires_at - now).num_seconds().max(0))
        .unwrap_or(PERMANENT_MAX_AGE_SECS);
    let max_age = until_expiry.min(PERMANENT_MAX_AGE_SECS);
    HeaderValue::from_str(&format!("private, max-age={max_age}"))
        .unwrap_or_else(|_| HeaderValue::from_static("private, max-age=0"))
}
