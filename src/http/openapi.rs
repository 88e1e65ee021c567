//! `/api/openapi.json`: the OpenAPI 3.1 document, generated from the handlers' `utoipa::path`
//! attributes and the request and response types. A test checks that every route of the route
//! table appears in it, so a new route cannot go undocumented.

use super::{bookmarks, links, ops, pastes, qr, redirect, stats, web, web_bookmarks};
use bytes::Bytes;
use std::sync::LazyLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "linkyard",
        description = "Short links with click analytics, a pastebin, QR codes and bookmarks. \
            JSON errors are {\"error\": {\"code\", \"message\", \"field\"?, \"backend\"?}}.",
    ),
    paths(
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::openapi,
        links::create,
        links::list,
        links::get,
        links::update,
        links::delete,
        stats::link_stats,
        stats::top,
        stats::link_stats_page,
        qr::link_png,
        qr::link_svg,
        redirect::follow,
        bookmarks::create,
        bookmarks::list,
        bookmarks::search,
        bookmarks::import,
        bookmarks::export,
        bookmarks::get,
        bookmarks::update,
        bookmarks::delete,
        bookmarks::refresh,
        bookmarks::favicon,
        web_bookmarks::signin_form,
        web_bookmarks::signin,
        web_bookmarks::signout,
        web_bookmarks::page,
        web_bookmarks::add,
        pastes::create,
        pastes::create_raw,
        pastes::get,
        pastes::delete,
        pastes::reveal,
        pastes::raw,
        pastes::download,
        pastes::qr_png,
        pastes::qr_svg,
        web::home,
        web::static_file,
        web::shorten,
        web::create_paste,
        web::paste,
        web::reveal,
        web::unlock,
        web::delete,
    ),
    modifiers(&BearerKey),
    tags(
        (name = "links", description = "Short links and redirects"),
        (name = "analytics", description = "Click statistics"),
        (name = "pastes", description = "Pastes: create, read, reveal and delete"),
        (name = "web", description = "HTML pages and forms of the web UI"),
        (name = "qr", description = "QR codes of links and pastes"),
        (name = "bookmarks", description = "Bookmarks, their search, import and export"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

/// `Authorization: Bearer KEY`, with keys from `linkyard user create`.
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Returns the document, serialized once.
pub fn document() -> &'static Bytes {
    static DOCUMENT: LazyLock<Bytes> = LazyLock::new(|| {
        let mut openapi = ApiDoc::openapi();
        openapi.info.version = env!("CARGO_PKG_VERSION").to_owned();
        Bytes::from(openapi.to_json().unwrap_or_else(|error| {
            // Serializing fails only when a schema is broken. The body then carries the error.
            format!(r#"{{"error":{{"code":"openapi_broken","message":"{error}"}}}}"#)
        }))
    });
    &DOCUMENT
}
