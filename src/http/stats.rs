//! Click statistics: `GET /api/links/{code}/stats` and `GET /api/stats/top`.

use super::error::{ApiError, ErrorBody};
use super::request::Ctx;
use super::response::{Response, json};
use chrono::Utc;
use http::StatusCode;
use linkyard_actors::analytics::stats::{self, StatsError, StatsRange};
use serde::Serialize;
use std::time::Duration;

/// The longest window of the top list; hot counters are kept for one day.
const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_TOP: i64 = 10;
const MAX_TOP: i64 = 100;

/// Click statistics of one link over a range.
#[utoipa::path(get, path = "/api/links/{code}/stats", tag = "analytics",
    params(
        ("code" = String, Path, description = "Generated code or alias"),
        ("from" = Option<String>, Query, description = "RFC 3339 start (default: 7 days before `to`)"),
        ("to" = Option<String>, Query, description = "RFC 3339 end (default: now)"),
        ("interval" = Option<String>, Query, description = "hour or day"),
    ),
    responses(
        (status = 200, description = "The statistics", body = stats::LinkStats),
        (status = 400, description = "Invalid range or interval", body = ErrorBody),
        (status = 404, description = "No such link", body = ErrorBody),
        (status = 503, description = "A backend is unavailable", body = ErrorBody),
    ))]
pub async fn link_stats(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.caller().await?;
    let code = ctx.param("code")?;
    let link = ctx
        .state
        .links
        .get(caller.map(|user| user.user_id), &code)
        .await?;
    let range = StatsRange::parse(
        ctx.query("from").as_deref(),
        ctx.query("to").as_deref(),
        ctx.query("interval").as_deref(),
        Utc::now(),
    )?;

    let stats = stats::link_stats(&ctx.state.db, ctx.state.live.as_ref(), link.id, range).await?;
    Ok(json(StatusCode::OK, &stats))
}

/// `GET /stats/{code}`: the statistics page, with the default range.
#[utoipa::path(get, path = "/stats/{code}", tag = "analytics",
    params(("code" = String, Path, description = "Generated code or alias")),
    responses(
        (status = 200, description = "HTML page", content_type = "text/html"),
        (status = 404, description = "No such link", content_type = "text/html"),
    ))]
pub async fn link_stats_page(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.caller().await?;
    let code = ctx.param("code")?;
    let link = match ctx
        .state
        .links
        .get(caller.map(|user| user.user_id), &code)
        .await
    {
        Ok(link) => link,
        Err(error) => {
            let api = ApiError::from(error);
            let page = crate::web::error_page(api.status, Some(&api.message));
            return Ok(crate::web::html_response(api.status, page));
        }
    };
    let range = StatsRange::parse(None, None, None, Utc::now())?;
    let stats = stats::link_stats(&ctx.state.db, ctx.state.live.as_ref(), link.id, range).await?;

    let short_url = ctx.state.short_url(&link.code);
    let view = crate::web::stats::StatsPageView {
        code: &link.code,
        short_url: &short_url,
        target: &link.url,
        stats: &stats,
    };
    let page = crate::web::stats::stats_page(&view);
    Ok(crate::web::html_response(StatusCode::OK, page))
}

#[derive(Serialize, utoipa::ToSchema)]
struct TopLink {
    code: String,
    short_url: String,
    url: String,
    clicks: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TopList {
    window: String,
    items: Vec<TopLink>,
}

/// The caller's most clicked links over a recent window.
#[utoipa::path(get, path = "/api/stats/top", tag = "analytics",
    security(("api_key" = [])),
    params(
        ("window" = Option<String>, Query, description = "Such as 15m, 1h (default) or 24h; at most 24h"),
        ("limit" = Option<i64>, Query, description = "1 to 100 (default 10)"),
    ),
    responses(
        (status = 200, description = "The top links", body = TopList),
        (status = 400, description = "Invalid window or limit", body = ErrorBody),
        (status = 401, description = "API key missing or unknown", body = ErrorBody),
        (status = 503, description = "The cache is unavailable", body = ErrorBody),
    ))]
pub async fn top(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.require_caller().await?;
    let window_text = ctx.query("window").unwrap_or_else(|| "1h".to_owned());
    let window = parse_window(&window_text)?;
    let limit = ctx.query_i64("limit")?.unwrap_or(DEFAULT_TOP);
    if !(1..=MAX_TOP).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit {limit} is invalid; use 1 to {MAX_TOP}"),
        )
        .with_field("limit"));
    }

    let live = &ctx.state.live;
    let counts = live
        .top_links(caller.user_id, window, limit as usize)
        .await
        .map_err(|message| {
            ApiError::backend_unavailable(live.name(), &std::io::Error::other(message))
        })?;
    let ids: Vec<i64> = counts.iter().map(|(id, _)| *id).collect();
    let links =
        linkyard_actors::db::links::find_owned_by_ids(&ctx.state.db, caller.user_id, &ids).await?;

    let items = counts
        .into_iter()
        .filter_map(|(id, clicks)| {
            let link = links.iter().find(|link| link.id == id)?;
            Some(TopLink {
                short_url: ctx.state.short_url(&link.code),
                code: link.code.clone(),
                url: link.url.clone(),
                clicks,
            })
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &TopList {
            window: window_text,
            items,
        },
    ))
}

/// Parses a window such as `15m`, `1h` or `1d`, from one minute to one day.
fn parse_window(text: &str) -> Result<Duration, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_window",
            format!("window '{text}' is invalid; use minutes, hours or a day such as 15m, 1h or 1d, up to 24h"),
        )
        .with_field("window")
    };
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let amount: u64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(invalid()),
    };
    let window = Duration::from_secs(amount.saturating_mul(seconds));
    if window < Duration::from_secs(60) || window > MAX_WINDOW {
        return Err(invalid());
    }
    Ok(window)
}

impl From<StatsError> for ApiError {
    fn from(error: StatsError) -> Self {
        match error {
            StatsError::Database(db) => db.into(),
            other => {
                let api = ApiError::bad_request(other.code(), other.to_string());
                match other.field() {
                    Some(field) => api.with_field(field),
                    None => api,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_and_are_bounded() {
        assert_eq!(parse_window("15m").ok(), Some(Duration::from_secs(900)));
        assert_eq!(parse_window("1h").ok(), Some(Duration::from_secs(3600)));
        assert_eq!(parse_window("1d").ok(), Some(Duration::from_secs(86_400)));
        for bad in ["", "h", "0m", "30s", "2d", "25h", "1w", "-1h", "1.5h"] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }
}
