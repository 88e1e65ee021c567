//! `GET /api/links/{code}/qr.png|svg`: QR codes of short links. The image encodes the short URL,
//! never the target, so the target can change without reprinting the code. Every image URL is
//! immutable: the same options always give the same bytes.

use super::error::{ApiError, ErrorBody};

/// The rendering options of every QR route, for the API description.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct QrQuery {
    /// Width and height of the image in pixels, 64 to 2048 (default 256).
    size: Option<u32>,
    /// Quiet zone around the code in modules, 0 to 16 (default 4).
    margin: Option<u32>,
    /// Error correction level: L, M (default), Q or H.
    ecl: Option<String>,
    /// Foreground colour as hex, such as 000000.
    fg: Option<String>,
    /// Background colour as hex, such as ffffff.
    bg: Option<String>,
}
use super::request::Ctx;
use super::response::{Response, empty, full};
use http::{HeaderValue, StatusCode, header};
use linkyard_actors::qr::{QrFormat, QrOptions, cache_key, etag};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// An SVG opened on its own cannot run anything or load anything.
const SVG_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/// The QR code of a short link, as PNG.
#[utoipa::path(get, path = "/api/links/{code}/qr.png", tag = "qr",
    params(("code" = String, Path, description = "Generated code or alias"), QrQuery),
    responses(
        (status = 200, description = "The image", content_type = "image/png"),
        (status = 304, description = "The client's copy (If-None-Match) is current"),
        (status = 400, description = "Invalid option, such as qr_invalid_size", body = ErrorBody),
        (status = 404, description = "No such link", body = ErrorBody),
        (status = 503, description = "The renderers are busy", body = ErrorBody),
    ))]
pub async fn link_png(ctx: Ctx) -> Result<Response, ApiError> {
    link_qr(ctx, QrFormat::Png).await
}

/// The QR code of a short link, as SVG.
#[utoipa::path(get, path = "/api/links/{code}/qr.svg", tag = "qr",
    params(("code" = String, Path, description = "Generated code or alias"), QrQuery),
    responses(
        (status = 200, description = "The image", content_type = "image/svg+xml"),
        (status = 304, description = "The client's copy (If-None-Match) is current"),
        (status = 400, description = "Invalid option", body = ErrorBody),
        (status = 404, description = "No such link", body = ErrorBody),
        (status = 503, description = "The renderers are busy", body = ErrorBody),
    ))]
pub async fn link_svg(ctx: Ctx) -> Result<Response, ApiError> {
    link_qr(ctx, QrFormat::Svg).await
}

async fn link_qr(ctx: Ctx, format: QrFormat) -> Result<Response, ApiError> {
    let code = ctx.param("code")?;
    let options = QrOptions::from_query(ctx.raw_query())?;
    // A deleted link serves no QR code; `resolve` answers from the hot cache when it can.
    ctx.state.links.resolve(&code).await?;
    let data = ctx.state.short_url(&code);
    image_response(&ctx, &data, &options, format).await
}

/// Answers a QR request: 304 when the client has this exact image, the image otherwise.
pub async fn image_response(
    ctx: &Ctx,
    data: &str,
    options: &QrOptions,
    format: QrFormat,
) -> Result<Response, ApiError> {
    let tag = etag(&cache_key(data, options, format));
    let tag_value = HeaderValue::from_str(&tag).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "invalid ETag",
        )
    })?;
    if client_has(ctx, &tag) {
        let mut response = http::Response::new(empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        set_cache_headers(&mut response, tag_value);
        return Ok(response);
    }

    let image = ctx.state.qr.image(data, options, format).await?;
    let mut response = http::Response::new(full(image.bytes));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(image.content_type),
    );
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if format == QrFormat::Svg {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(SVG_POLICY),
        );
    }
    set_cache_headers(&mut response, tag_value);
    Ok(response)
}

/// Whether `If-None-Match` lists `tag` (or `*`), ignoring weak markers.
fn client_has(ctx: &Ctx, tag: &str) -> bool {
    ctx.parts
        .headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|candidate| candidate.trim().trim_start_matches("W/"))
        .any(|candidate| candidate == tag || candidate == "*")
}

fn set_cache_headers(response: &mut Response, tag: HeaderValue) {
    let headers = response.headers_mut();
    headers.insert(header::ETAG, tag);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
}
