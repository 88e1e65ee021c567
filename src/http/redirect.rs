//! `GET|HEAD /{code}`: the redirect, the hot path of the service. A cached link is answered
//! without waiting for the database or an actor.

use super::error::ApiError;
use super::request::Ctx;
use super::response::{Response, empty};
use chrono::Utc;
use http::{HeaderValue, Method, StatusCode, header};
use linkyard_actors::analytics::ClickEvent;
use linkyard_actors::analytics::visitor;
use linkyard_actors::links::{LinkError, Links};
use linkyard_actors::url_shard::CachedLink;

/// How long browsers may reuse a permanent (301 or 308) redirect, so edits and analytics are
/// not hidden for long.
const PERMANENT_MAX_AGE_SECS: i64 = 300;

/// Redirects to the link's target and counts the visit. HEAD returns the same without counting.
#[utoipa::path(method(get, head), path = "/{code}", tag = "links",
    params(("code" = String, Path, description = "Generated code or alias")),
    responses(
        (status = 302, description = "Redirect (301, 302, 307 or 308 as the link says); Location contains the target"),
        (status = 404, description = "Unknown, expired, used up or disabled", body = super::error::ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = super::error::ErrorBody),
    ))]
pub async fn follow(ctx: Ctx) -> Result<Response, ApiError> {
    let code = ctx.param("code")?;
    let links = &ctx.state.links;
    let link = links.resolve(&code).await?;
    let now = Utc::now();
    Links::check_visitable(&link, now)?;

    // HEAD shows where a link goes without visiting it: it counts nothing.
    if ctx.parts.method == Method::HEAD {
        return Ok(redirect_response(&ctx, &link, now));
    }
    let user_agent = header_text(&ctx, header::USER_AGENT);
    let visit = take_visit(&ctx, &link, user_agent.as_deref()).await?;

    ctx.state.clicks.record(ClickEvent {
        link_id: link.id,
        owner_id: link.owner_id,
        at: now,
        client_ip: ctx
            .state
            .trusted_proxies
            .client_ip(ctx.peer.ip(), &ctx.parts.headers),
        user_agent,
        referrer: header_text(&ctx, header::REFERER),
        is_bot: visit.is_bot,
        visit_counted: visit.counted,
    });
    Ok(redirect_response(&ctx, &link, now))
}

/// What the visit-limit check learned about a visit.
struct Visit {
    is_bot: Option<bool>,
    counted: bool,
}

/// Takes one visit of a link with a visit limit. Bots never use up visits: they are let through
/// only while visits are left.
async fn take_visit(
    ctx: &Ctx,
    link: &CachedLink,
    user_agent: Option<&str>,
) -> Result<Visit, ApiError> {
    if link.max_visits.is_none() {
        return Ok(Visit {
            is_bot: None,
            counted: false,
        });
    }
    let links = &ctx.state.links;
    let is_bot = visitor::is_bot(user_agent);
    if is_bot {
        if !links.has_visits_left(link).await? {
            return Err(LinkError::VisitLimitReached {
                code: link.code.clone(),
            }
            .into());
        }
    } else {
        links.take_limited_visit(link).await?;
    }
    Ok(Visit {
        is_bot: Some(is_bot),
        counted: !is_bot,
    })
}

fn header_text(ctx: &Ctx, name: header::HeaderName) -> Option<String> {
    ctx.parts
        .headers
        .get(name)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

fn redirect_response(ctx: &Ctx, link: &CachedLink, now: chrono::DateTime<Utc>) -> Response {
    let query = ctx.raw_query();
    let forwarded = (link.forward_query && !query.is_empty())
        .then(|| link.target())
        .flatten()
        .map(|target| target.with_forwarded_query(query));
    let location = match forwarded {
        Some(location) => HeaderValue::from_str(&location),
        None => HeaderValue::from_maybe_shared(link.location.clone()),
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
