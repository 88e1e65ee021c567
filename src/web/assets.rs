//! Static assets: the stylesheet, under a content-hashed file name so that browsers may cache
//! it forever. A changed stylesheet gets a new name, and pages link to the new one.

use super::highlight::CLASS_STYLE;
use crate::http::response::{Response, with_body};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};
use std::fmt::Write;
use std::sync::LazyLock;
use syntect::highlighting::{Theme, ThemeSet};
use syntect::html::css_for_theme_with_class_style;

/// The path under which the HTTP layer serves [`static_asset`]s: `/static/{file}`.
pub const STATIC_PATH_PREFIX: &str = "/static/";

/// `Cache-Control` of a static asset. Its name changes with its content, so it never goes stale.
pub const STATIC_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// The syntect themes of highlighted code: light, and dark under `prefers-color-scheme: dark`.
const LIGHT_THEME: &str = "InspiredGitHub";
const DARK_THEME: &str = "base16-ocean.dark";

const BASE_CSS: &str = include_str!("style.css");

/// A file served under [`STATIC_PATH_PREFIX`].
#[derive(Debug)]
pub struct StaticAsset {
    /// The file name with the content hash, such as `app.3f2a9c0d1b4e5f67.css`.
    pub file_name: String,
    pub content_type: &'static str,
    pub body: Bytes,
    /// A strong entity tag: the quoted content hash.
    pub etag: String,
}

impl StaticAsset {
    fn new(stem: &str, extension: &str, content_type: &'static str, body: Vec<u8>) -> Self {
        let digest = Sha256::digest(&body);
        let mut hash = String::with_capacity(16);
        for byte in &digest[..8] {
            let _ = write!(hash, "{byte:02x}");
        }
        Self {
            file_name: format!("{stem}.{hash}.{extension}"),
            content_type,
            body: Bytes::from(body),
            etag: format!("\"{hash}\""),
        }
    }

    /// Returns the path that pages link to: `/static/<file_name>`.
    pub fn path(&self) -> String {
        format!("{STATIC_PATH_PREFIX}{}", self.file_name)
    }

    /// Builds a 200 response with the asset, its content type, entity tag and immutable
    /// caching.
    pub fn response(&self) -> Response {
        let mut response = with_body(StatusCode::OK, self.content_type, self.body.clone());
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(STATIC_CACHE_CONTROL),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if let Ok(etag) = HeaderValue::from_str(&self.etag) {
            headers.insert(header::ETAG, etag);
        }
        response
    }
}

static STYLESHEET: LazyLock<StaticAsset> = LazyLock::new(|| {
    StaticAsset::new(
        "app",
        "css",
        "text/css; charset=utf-8",
        build_stylesheet().into_bytes(),
    )
});

/// Returns the stylesheet: the page styles, then the light and the dark highlighting theme.
pub fn stylesheet() -> &'static StaticAsset {
    &STYLESHEET
}

/// Finds the asset with this file name, for the `/static/{file}` route. Old names return
/// `None`.
pub fn static_asset(file_name: &str) -> Option<&'static StaticAsset> {
    let stylesheet = stylesheet();
    (stylesheet.file_name == file_name).then_some(stylesheet)
}

/// Builds the CSS. The theme set is loaded here once and dropped, because no other code needs
/// it: highlighting emits classes, and only this stylesheet maps them to colors.
fn build_stylesheet() -> String {
    let themes = ThemeSet::load_defaults();
    let mut css = String::from(BASE_CSS);
    for (theme_name, color_scheme) in [(LIGHT_THEME, "light"), (DARK_THEME, "dark")] {
        let Some(theme) = themes.themes.get(theme_name) else {
            tracing::error!(
                theme_name,
                "syntect theme not found; highlighted code stays uncolored"
            );
            continue;
        };
        let theme_css = theme_css(theme);
        let _ = write!(
            css,
            "\n@media (prefers-color-scheme: {color_scheme}) {{\n{theme_css}}}\n"
        );
    }
    css
}

/// Generates the CSS of one syntect theme for the classes that highlighting emits. The theme's
/// base rule targets `.hl-code`, the class of the element around highlighted lines.
fn theme_css(theme: &Theme) -> String {
    css_for_theme_with_class_style(theme, CLASS_STYLE).unwrap_or_else(|error| {
        tracing::error!(
            %error,
            theme = ?theme.name,
            "generating theme CSS failed; highlighted code stays uncolored"
        );
        String::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stylesheet_name_carries_hash() {
        let name = &stylesheet().file_name;
        let hash = name
            .strip_prefix("app.")
            .and_then(|rest| rest.strip_suffix(".css"))
            .expect("app.<hash>.css");
        assert_eq!(hash.len(), 16);
        assert!(hash.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_eq!(stylesheet().etag, format!("\"{hash}\""));
        assert_eq!(stylesheet().path(), format!("/static/{name}"));
    }

    #[test]
    fn stylesheet_found_by_name_only() {
        let name = stylesheet().file_name.clone();
        assert!(static_asset(&name).is_some());
        assert!(static_asset("app.css").is_none());
        assert!(static_asset("app.0000000000000000.css").is_none());
        assert!(static_asset("../Cargo.toml").is_none());
    }

    #[test]
    fn stylesheet_has_both_themes() {
        let css = std::str::from_utf8(&stylesheet().body).expect("UTF-8");
        assert!(css.starts_with(BASE_CSS));
        assert!(css.contains("@media (prefers-color-scheme: light) {\n"));
        assert!(css.contains("@media (prefers-color-scheme: dark) {\n"));
        assert_eq!(css.matches(".hl-code {").count(), 2);
        assert!(css.contains(".hl-comment"));
        assert_eq!(css.matches('{').count(), css.matches('}').count());
    }

    #[test]
    fn asset_response_is_immutable() {
        let response = stylesheet().response();
        let headers = response.headers();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert_eq!(headers[header::CACHE_CONTROL], STATIC_CACHE_CONTROL);
        assert_eq!(headers[header::ETAG], stylesheet().etag.as_str());
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}
