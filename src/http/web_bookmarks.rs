//! The bookmarks web UI: `GET|POST /signin`, `POST /signout`, `GET|POST /bookmarks`. Pages
//! need a signed-in session; forms that change something need its CSRF token.

use super::bookmarks::favicon_url;
use super::error::ApiError;
use super::request::Ctx;
use super::response::{Response, empty};
use super::session::{self, Session};
use crate::app::AppState;
use crate::web::bookmarks::{
    AddFormValues, BookmarkItem, BookmarksPageView, bookmarks_page, encode_query, signin_page,
};
use crate::web::html_response;
use chrono::Utc;
use http::{HeaderValue, StatusCode, header};
use linkyard_actors::backends::search::SearchRequest;
use linkyard_actors::bookmarks::{BookmarkError, ListFilter, NewBookmark};
use linkyard_actors::db::entities::bookmarks::Model;
use linkyard_actors::domain::SearchQuery;
use linkyard_actors::domain::search_query::tag_key;
use std::collections::HashMap;

const PAGE_SIZE: i64 = 50;

/// Serves the sign-in page of the web UI.
#[utoipa::path(get, path = "/signin", tag = "web", responses((status = 200, description = "HTML form", content_type = "text/html")))]
pub async fn signin_form(ctx: Ctx) -> Result<Response, ApiError> {
    if session::session_of(&ctx).is_some() {
        return Ok(see_other("/bookmarks", None));
    }
    Ok(html_response(StatusCode::OK, signin_page(None)))
}

/// Signs in with an API key (form field `key`) and sets the session cookie.
#[utoipa::path(post, path = "/signin", tag = "web",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in; redirects to /bookmarks"),
        (status = 401, description = "Unknown key; the form again", content_type = "text/html"),
        (status = 429, description = "Rate limited", content_type = "text/html"),
    ))]
pub async fn signin(mut ctx: Ctx) -> Result<Response, ApiError> {
    let form = read_form(&mut ctx).await?;
    let key = form.get("key").map(|key| key.trim()).unwrap_or_default();
    let principal = match key {
        "" => None,
        key => ctx.state.accounts.authenticate(key).await?,
    };
    let Some(principal) = principal else {
        let page = signin_page(Some("that API key is not valid; check it and try again"));
        return Ok(html_response(StatusCode::UNAUTHORIZED, page));
    };

    let ttl = ctx.state.settings.bookmarks.session_ttl_secs.max(60);
    let expires = Utc::now() + chrono::Duration::seconds(ttl as i64);
    let token = session::issue(&ctx.state.session_key, principal.user_id, expires);
    let cookie = session::set_cookie(&token, ttl, is_https(&ctx.state));
    tracing::info!(user_id = principal.user_id, "web sign-in");
    Ok(see_other("/bookmarks", cookie))
}

/// Signs out: clears the session cookie.
#[utoipa::path(post, path = "/signout", tag = "web",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed out; redirects home"),
        (status = 403, description = "Missing or wrong CSRF token", content_type = "text/html"),
    ))]
pub async fn signout(mut ctx: Ctx) -> Result<Response, ApiError> {
    let session = session::session_of(&ctx);
    let form = read_form(&mut ctx).await?;
    if let Some(session) = &session {
        check_csrf(&ctx, session, &form)?;
    }
    Ok(see_other(
        "/signin",
        session::clear_cookie(is_https(&ctx.state)),
    ))
}

/// The bookmarks page: add form, list with favicons, search box and tag filter.
#[utoipa::path(get, path = "/bookmarks", tag = "web",
    params(
        ("q" = Option<String>, Query, description = "Search query"),
        ("tag" = Option<String>, Query, description = "Tag filter"),
    ),
    responses(
        (status = 200, description = "HTML page", content_type = "text/html"),
        (status = 303, description = "Not signed in; redirects to /signin"),
    ))]
pub async fn page(ctx: Ctx) -> Result<Response, ApiError> {
    let Some(session) = session::session_of(&ctx) else {
        return Ok(see_other("/signin", None));
    };
    let mut view = base_view(&ctx, &session).await?;
    let filled = fill_list(&ctx, &session, &mut view).await;
    let status = match filled {
        Ok(()) => StatusCode::OK,
        Err(error) if error.status.is_client_error() => {
            view.error = Some(error.message.into_owned());
            StatusCode::BAD_REQUEST
        }
        Err(error) => return Err(error),
    };
    if ctx.query("saved").is_some() {
        view.notice = Some("Saved. The page's title and icon appear once it is fetched.".into());
    }
    Ok(html_response(status, bookmarks_page(&view)))
}

/// Adds a bookmark from the page's form.
#[utoipa::path(post, path = "/bookmarks", tag = "web",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Saved; back to /bookmarks"),
        (status = 400, description = "Invalid URL or field; the page with the error", content_type = "text/html"),
        (status = 403, description = "Missing or wrong CSRF token", content_type = "text/html"),
        (status = 429, description = "Rate limited", content_type = "text/html"),
    ))]
pub async fn add(mut ctx: Ctx) -> Result<Response, ApiError> {
    let Some(session) = session::session_of(&ctx) else {
        return Ok(see_other("/signin", None));
    };
    let form = read_form(&mut ctx).await?;
    check_csrf(&ctx, &session, &form)?;

    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let values = AddFormValues {
        url: field("url"),
        title: field("title"),
        tags: field("tags"),
    };
    let tags: Vec<String> = values
        .tags
        .split(',')
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
        .collect();
    let input = NewBookmark {
        url: values.url.clone(),
        title: Some(values.title.clone()),
        tags: Some(tags),
        ..Default::default()
    };
    let error = match ctx
        .state
        .bookmarks
        .create(session.user_id, input, None)
        .await
    {
        Ok(_) => return Ok(see_other("/bookmarks?saved=1", None)),
        Err(BookmarkError::Exists { existing }) => format!(
            "you saved this page already, on {}",
            existing.created_at.format("%Y-%m-%d")
        ),
        Err(error) => {
            let error = ApiError::from(error);
            if !error.status.is_client_error() {
                return Err(error);
            }
            error.message.into_owned()
        }
    };

    let mut view = base_view(&ctx, &session).await?;
    fill_list(&ctx, &session, &mut view).await?;
    view.form = values;
    view.error = Some(error);
    Ok(html_response(
        StatusCode::BAD_REQUEST,
        bookmarks_page(&view),
    ))
}

async fn base_view(ctx: &Ctx, session: &Session) -> Result<BookmarksPageView, ApiError> {
    let email = linkyard_actors::db::users::find_user(&ctx.state.db, session.user_id)
        .await?
        .map(|user| user.email)
        .unwrap_or_default();
    Ok(BookmarksPageView {
        email,
        csrf: session::csrf_token(&ctx.state.session_key, &session.token),
        query: ctx.query("q").unwrap_or_default(),
        tag: ctx.query("tag").unwrap_or_default(),
        ..Default::default()
    })
}

/// Fills the list: search results when there is a query, else the newest bookmarks, filtered
/// by tag.
async fn fill_list(
    ctx: &Ctx,
    session: &Session,
    view: &mut BookmarksPageView,
) -> Result<(), ApiError> {
    let state = &ctx.state;
    if !view.query.trim().is_empty() {
        let offset = ctx.query_i64("offset")?.unwrap_or(0).max(0) as usize;
        let request = SearchRequest {
            user_id: session.user_id,
            query: SearchQuery::parse(&view.query)?,
            limit: PAGE_SIZE as usize,
            offset,
        };
        let hits = state.search.search(&request).await?;
        let found = state
            .bookmarks
            .find_ordered(session.user_id, &hits.ids)
            .await?;
        let next = offset + hits.ids.len();
        if (next as u64) < hits.total && !hits.ids.is_empty() {
            view.next_href = Some(format!(
                "/bookmarks?q={}&offset={next}",
                encode_query(&view.query)
            ));
        }
        view.items = found.into_iter().map(|model| item(state, model)).collect();
        return Ok(());
    }

    let filter = ListFilter {
        tag: Some(tag_key(&view.tag)).filter(|key| !key.is_empty()),
        ..Default::default()
    };
    let cursor = ctx.query("cursor");
    let (page, next_cursor) = state
        .bookmarks
        .list(session.user_id, &filter, cursor.as_deref(), Some(PAGE_SIZE))
        .await?;
    view.next_href = next_cursor
        .map(|cursor| format!("/bookmarks?tag={}&cursor={cursor}", encode_query(&view.tag)));
    view.items = page.into_iter().map(|model| item(state, model)).collect();
    Ok(())
}

fn item(state: &AppState, model: Model) -> BookmarkItem {
    BookmarkItem {
        title: model.display_title().map(str::to_owned),
        tags: model.tag_list(),
        favicon_url: model
            .favicon_hash
            .as_deref()
            .map(|hash| favicon_url(state, hash)),
        url: model.url,
        site_name: model.site_name,
        status: model.status,
        error: model.error,
        unread: model.unread,
        created_at: model.created_at,
    }
}

/// Parses an `application/x-www-form-urlencoded` body.
async fn read_form(ctx: &mut Ctx) -> Result<HashMap<String, String>, ApiError> {
    let limit = ctx.state.settings.server.max_json_body_bytes;
    let body = ctx.bytes(limit).await?;
    Ok(url::form_urlencoded::parse(&body).into_owned().collect())
}

fn check_csrf(
    ctx: &Ctx,
    session: &Session,
    form: &HashMap<String, String>,
) -> Result<(), ApiError> {
    let submitted = form.get("csrf").map(String::as_str).unwrap_or_default();
    if session::csrf_matches(&ctx.state.session_key, session, submitted) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf_token_invalid",
        "the form's CSRF token is missing or belongs to another session; reload the page and submit again",
    ))
}

fn is_https(state: &AppState) -> bool {
    state.public_base.starts_with("https://")
}

/// Builds a 303 to `location`, optionally setting a cookie.
fn see_other(location: &'static str, cookie: Option<HeaderValue>) -> Response {
    let mut response = http::Response::new(empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_static(location));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(cookie) = cookie {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}
