//! The HTML pages of the web UI: the home page and its two forms, the paste page with its
//! reveal, unlock and delete forms, and the static assets. Errors here are HTML pages; the
//! JSON API keeps its JSON errors.

use super::error::ApiError;
use super::pastes::read_body;
use super::request::Ctx;
use super::response::{Response, empty};
use crate::web::home::{FormError, FormKind, PasteFormValues, ShortenFormValues};
use crate::web::paste::paste_path;
use crate::web::{
    HomeView, LineRange, PasteBody, PasteUrls, PasteView, RenderLimits, ShortLinkView, error_page,
    home_page, html_response, password_page, paste_page, reveal_page, short_link_page,
};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use linkyard_actors::db::entities::pastes::Model as PasteRow;
use linkyard_actors::links::NewLink;
use linkyard_actors::pastes::{DeleteAuth, NewPaste, PasteError};
use maud::html;
use std::collections::HashMap;

/// The cookie that carries a new paste's delete token from the form post to the page it
/// redirects to, which shows the token once and clears the cookie.
const TOKEN_COOKIE: &str = "paste_delete_token";
const TOKEN_COOKIE_SECS: u32 = 600;

/// Room for the other fields of the paste form and for percent-encoding, which can triple
/// the size of the content.
const FORM_OVERHEAD_BYTES: u64 = 64 * 1024;

/// Serves the home page with the paste and shorten forms.
#[utoipa::path(get, path = "/", tag = "web", responses((status = 200, description = "HTML page", content_type = "text/html")))]
pub async fn home(ctx: Ctx) -> Result<Response, ApiError> {
    let view = HomeView {
        max_paste_bytes: ctx.state.pastes.rules().max_bytes,
        signed_in: super::session::session_of(&ctx).is_some(),
        ..HomeView::default()
    };
    Ok(html_response(StatusCode::OK, home_page(&view)))
}

/// A static asset such as the stylesheet.
#[utoipa::path(get, path = "/static/{file}", tag = "web",
    params(("file" = String, Path, description = "Asset file name with its content hash")),
    responses(
        (status = 200, description = "The asset, cached for a year"),
        (status = 404, description = "No such asset", content_type = "text/html"),
    ))]
pub async fn static_file(ctx: Ctx) -> Result<Response, ApiError> {
    let file = ctx.param("file")?;
    match crate::web::static_asset(&file) {
        Some(asset) => Ok(asset.response()),
        None => Ok(error_response(&ApiError::not_found(
            "not_found",
            format!("no static file is named '{file}'"),
        ))),
    }
}

/// `POST /p`: creates a paste from the home page form and redirects to its page. A rejected
/// form comes back with its values and the error.
#[utoipa::path(post, path = "/p", tag = "web",
    request_body(content_type = "application/x-www-form-urlencoded", description = "content, title, syntax, expires_in, visibility, password"),
    responses(
        (status = 303, description = "Created; Location is the paste page"),
        (status = 400, description = "The home page again, with the values and the error", content_type = "text/html"),
        (status = 413, description = "Larger than pastes.max_bytes", content_type = "text/html"),
    ))]
pub async fn create_paste(mut ctx: Ctx) -> Result<Response, ApiError> {
    let max = ctx.state.pastes.rules().max_bytes;
    let limit = max.saturating_mul(3).saturating_add(FORM_OVERHEAD_BYTES);
    let body = match read_body(&mut ctx, limit, false).await {
        Ok(body) => body,
        Err(error) => return Ok(error_response(&error)),
    };
    let mut fields = form_fields(&body);
    let mut take = |name: &str| fields.remove(name).unwrap_or_default();
    // Browsers send textarea line breaks as CRLF; pastes keep the LF the user typed.
    let values = PasteFormValues {
        content: take("content").replace("\r\n", "\n"),
        title: take("title"),
        syntax: take("syntax"),
        expires_in: take("expires_in"),
        visibility: take("visibility"),
    };
    let password = take("password");

    match create_from_form(&ctx, &values, password).await {
        Ok((id, token)) => Ok(created_redirect(&ctx, &id, &token)),
        Err(error) => {
            let view = HomeView {
                max_paste_bytes: max,
                paste: values,
                error: Some(form_error(FormKind::Paste, &error)),
                ..HomeView::default()
            };
            Ok(html_response(error.status, home_page(&view)))
        }
    }
}

async fn create_from_form(
    ctx: &Ctx,
    values: &PasteFormValues,
    password: String,
) -> Result<(String, String), ApiError> {
    let input = NewPaste {
        content: Bytes::from(values.content.clone()),
        title: Some(values.title.clone()),
        syntax: super::pastes::check_syntax(Some(values.syntax.clone()))?,
        expires_in: Some(values.expires_in.clone()),
        visibility: Some(values.visibility.clone()),
        password: Some(password),
        owner_id: None,
    };
    let created = ctx.state.pastes.create(input).await?;
    Ok((created.paste.id, created.delete_token))
}

/// Builds the 303 to a new paste's page, with the delete token in a cookie scoped to that page.
fn created_redirect(ctx: &Ctx, id: &str, token: &str) -> Response {
    let path = paste_path(id);
    let secure = if ctx.state.public_base.starts_with("https:") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{TOKEN_COOKIE}={token}; Path={path}; Max-Age={TOKEN_COOKIE_SECS}; HttpOnly; SameSite=Strict{secure}"
    );
    let mut response = http::Response::new(empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&path) {
        headers.insert(header::LOCATION, location);
    }
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /s`: creates a short link from the home page form.
#[utoipa::path(post, path = "/s", tag = "web",
    request_body(content_type = "application/x-www-form-urlencoded", description = "url, alias"),
    responses(
        (status = 201, description = "The new short link", content_type = "text/html"),
        (status = 400, description = "The home page again, with the values and the error", content_type = "text/html"),
    ))]
pub async fn shorten(mut ctx: Ctx) -> Result<Response, ApiError> {
    let limit = ctx.state.settings.server.max_json_body_bytes;
    let body = match ctx.bytes(limit).await {
        Ok(body) => body,
        Err(error) => return Ok(error_response(&error)),
    };
    let mut fields = form_fields(&body);
    let values = ShortenFormValues {
        url: fields.remove("url").unwrap_or_default(),
        alias: fields.remove("alias").unwrap_or_default(),
    };
    let input = NewLink {
        url: values.url.clone(),
        alias: Some(values.alias.trim().to_owned()).filter(|alias| !alias.is_empty()),
        ..NewLink::default()
    };

    match ctx.state.links.create(None, input).await {
        Ok(link) => {
            let view = ShortLinkView {
                short_url: ctx.state.short_url(&link.code),
                qr_url: format!(
                    "/api/links/{}/qr.png",
                    crate::app::encode_segment(&link.code)
                ),
                target_url: link.url,
                expires_at: link.expires_at,
            };
            Ok(html_response(StatusCode::CREATED, short_link_page(&view)))
        }
        Err(error) => {
            let error = ApiError::from(error);
            let view = HomeView {
                max_paste_bytes: ctx.state.pastes.rules().max_bytes,
                shorten: values,
                error: Some(form_error(FormKind::Shorten, &error)),
                ..HomeView::default()
            };
            Ok(html_response(error.status, home_page(&view)))
        }
    }
}

/// `GET /p/{id}`: the paste page, or the reveal page of a burn-after-reading paste, or the
/// password page of a protected one. Nothing here consumes a burn-after-reading paste.
#[utoipa::path(method(get, head), path = "/p/{id}", tag = "web",
    params(("id" = String, Path, description = "Paste id: 13 characters of [0-9a-z]")),
    responses(
        (status = 200, description = "The highlighted paste, or the reveal form of a burn-after-reading paste", content_type = "text/html"),
        (status = 401, description = "The password form", content_type = "text/html"),
        (status = 404, description = "No such live paste visible to the caller", content_type = "text/html"),
    ))]
pub async fn paste(ctx: Ctx) -> Result<Response, ApiError> {
    let id = ctx.param("id")?;
    let caller = web_caller(&ctx).await;
    let row = match ctx.state.pastes.lookup(&id, caller).await {
        Ok(row) => row,
        Err(error) => return Ok(error_response(&error.into())),
    };
    if row.burn {
        let page = reveal_page(
            &action(&row.id, "reveal"),
            row.password_hash.is_some(),
            None,
        );
        return Ok(html_response(StatusCode::OK, page));
    }
    if row.password_hash.is_some() {
        let page = password_page(&action(&row.id, "unlock"), None);
        return Ok(html_response(StatusCode::UNAUTHORIZED, page));
    }

    let token = token_cookie(&ctx);
    let response = match ctx.state.pastes.content(&id, caller, None).await {
        Ok((row, bytes)) => render_paste(&ctx, row, bytes, token.clone()).await,
        Err(error) => error_response(&error.into()),
    };
    Ok(clear_token_cookie(&row.id, token.is_some(), response))
}

/// `POST /p/{id}/reveal`: shows a burn-after-reading paste once and deletes it.
#[utoipa::path(post, path = "/p/{id}/reveal", tag = "web",
    params(("id" = String, Path, description = "Paste id: 13 characters of [0-9a-z]")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "password, when the paste has one"),
    responses(
        (status = 200, description = "The paste, shown once and deleted if burn-after-reading", content_type = "text/html"),
        (status = 403, description = "Wrong password", content_type = "text/html"),
        (status = 404, description = "No such live paste", content_type = "text/html"),
    ))]
pub async fn reveal(mut ctx: Ctx) -> Result<Response, ApiError> {
    let id = ctx.param("id")?;
    let caller = web_caller(&ctx).await;
    let password = form_password(&mut ctx).await;
    match ctx.state.pastes.reveal(&id, caller, password).await {
        Ok((row, bytes)) => Ok(render_paste(&ctx, row, bytes, None).await),
        Err(error @ (PasteError::WrongPassword { .. } | PasteError::PasswordRequired { .. })) => {
            let message = error.to_string();
            let page = reveal_page(&action(&id, "reveal"), true, Some(&message));
            Ok(html_response(ApiError::from(error).status, page))
        }
        Err(error) => Ok(error_response(&error.into())),
    }
}

/// `POST /p/{id}/unlock`: shows a password-protected paste.
#[utoipa::path(post, path = "/p/{id}/unlock", tag = "web",
    params(("id" = String, Path, description = "Paste id: 13 characters of [0-9a-z]")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "password"),
    responses(
        (status = 200, description = "The paste", content_type = "text/html"),
        (status = 403, description = "Wrong password", content_type = "text/html"),
        (status = 404, description = "No such live paste", content_type = "text/html"),
    ))]
pub async fn unlock(mut ctx: Ctx) -> Result<Response, ApiError> {
    let id = ctx.param("id")?;
    let caller = web_caller(&ctx).await;
    let password = form_password(&mut ctx).await;
    match ctx
        .state
        .pastes
        .content(&id, caller, password.clone())
        .await
    {
        Ok((row, bytes)) => Ok(render_paste(&ctx, row, bytes, None).await),
        Err(error @ (PasteError::WrongPassword { .. } | PasteError::PasswordRequired { .. })) => {
            let message = error.to_string();
            let page = password_page(&action(&id, "unlock"), Some(&message));
            Ok(html_response(ApiError::from(error).status, page))
        }
        // A burn-after-reading paste with a password is unlocked by its reveal form.
        Err(PasteError::RevealRequired { .. }) => {
            let page = reveal_page(&action(&id, "reveal"), password.is_some(), None);
            Ok(html_response(StatusCode::OK, page))
        }
        Err(error) => Ok(error_response(&error.into())),
    }
}

/// `POST /p/{id}/delete`: deletes a paste with the `delete_token` form field.
#[utoipa::path(post, path = "/p/{id}/delete", tag = "web",
    params(("id" = String, Path, description = "Paste id: 13 characters of [0-9a-z]")),
    request_body(content_type = "application/x-www-form-urlencoded", description = "delete_token"),
    responses(
        (status = 200, description = "Deleted", content_type = "text/html"),
        (status = 401, description = "No token", content_type = "text/html"),
        (status = 403, description = "Wrong token", content_type = "text/html"),
        (status = 404, description = "No such live paste", content_type = "text/html"),
    ))]
pub async fn delete(mut ctx: Ctx) -> Result<Response, ApiError> {
    let id = ctx.param("id")?;
    let limit = ctx.state.settings.server.max_json_body_bytes;
    let token = match ctx.bytes(limit).await {
        Ok(body) => form_fields(&body).remove("delete_token"),
        Err(error) => return Ok(error_response(&error)),
    };
    let auth = DeleteAuth {
        caller: web_caller(&ctx).await,
        token: token.map(|token| token.trim().to_owned()),
    };
    if let Err(error) = ctx.state.pastes.delete(&id, auth).await {
        return Ok(error_response(&error.into()));
    }
    let main = html! {
        h1 { "Paste deleted" }
        p { "The paste " code { (id) } " is deleted. Its address now leads nowhere." }
        p { a href="/#paste" { "Create a new paste" } }
    };
    let page = crate::web::layout::Page::new("Paste deleted").render(main);
    Ok(html_response(StatusCode::OK, page))
}

/// Renders the paste page off the async threads, since highlighting takes CPU time.
async fn render_paste(
    ctx: &Ctx,
    row: PasteRow,
    bytes: Bytes,
    delete_token: Option<String>,
) -> Response {
    let mut urls = PasteUrls::for_id(&row.id);
    // The browser cannot send an API key or the password header, so these links would fail.
    if row.private {
        urls.qr = None;
    }
    if row.password_hash.is_some() {
        urls.raw = None;
        urls.download = None;
    }
    let view = PasteView {
        id: row.id,
        title: row.title,
        syntax: row.syntax,
        size: u64::try_from(row.size).unwrap_or_default(),
        created_at: row.created_at,
        expires_at: row.expires_at,
        burn: row.burn,
        body: PasteBody::from_bytes(bytes.to_vec()),
        urls,
        delete_token,
    };
    let marked = ctx
        .query(crate::web::paste::LINE_RANGE_PARAMETER)
        .and_then(|value| value.parse::<LineRange>().ok());
    let limits = RenderLimits::from_settings(&ctx.state.settings.web);
    match tokio::task::spawn_blocking(move || paste_page(&view, marked, &limits)).await {
        Ok(page) => html_response(StatusCode::OK, page),
        Err(error) => {
            tracing::error!(%error, "rendering a paste page failed");
            error_response(&super::error::internal_error())
        }
    }
}

fn action(id: &str, name: &str) -> String {
    format!("{}/{name}", paste_path(id))
}

/// Returns the signed-in caller of a page request. Browsers send no API key, and a page treats
/// a bad key as none rather than returning a JSON error.
async fn web_caller(ctx: &Ctx) -> Option<i64> {
    ctx.caller().await.ok().flatten().map(|user| user.user_id)
}

async fn form_password(ctx: &mut Ctx) -> Option<String> {
    let limit = ctx.state.settings.server.max_json_body_bytes;
    let body = ctx.bytes(limit).await.ok()?;
    form_fields(&body).remove("password")
}

/// Parses an `application/x-www-form-urlencoded` body; the first value of a name wins.
fn form_fields(body: &[u8]) -> HashMap<String, String> {
    let mut fields = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        fields
            .entry(name.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    fields
}

fn form_error(form: FormKind, error: &ApiError) -> FormError {
    FormError {
        form,
        field: error.field.as_ref().map(|field| field.to_string()),
        message: error.message.to_string(),
    }
}

fn token_cookie(ctx: &Ctx) -> Option<String> {
    ctx.parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == TOKEN_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|token| token.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Clears the delete token cookie once the page has shown the token.
fn clear_token_cookie(id: &str, present: bool, mut response: Response) -> Response {
    if !present {
        return response;
    }
    let cookie = format!(
        "{TOKEN_COOKIE}=; Path={}; Max-Age=0; HttpOnly; SameSite=Strict",
        paste_path(id)
    );
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// Renders the HTML error page of an error, with its status and headers.
pub fn error_response(error: &ApiError) -> Response {
    let mut response = html_response(error.status, error_page(error.status, Some(&error.message)));
    for (name, value) in &error.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}
