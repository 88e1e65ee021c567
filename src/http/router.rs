//! The route table. Every route is declared once here; the router, the reserved alias names and
//! the OpenAPI check all derive from this table, so a new route is reserved automatically.

use super::error::ApiError;
use super::request::Ctx;
use super::response::Response;
use super::{bookmarks, links, ops, pastes, qr, redirect, stats, web, web_bookmarks};
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, StatusCode};

pub type Handler = fn(Ctx) -> BoxFuture<'static, Result<Response, ApiError>>;

/// One route: a method, a matchit pattern and its handler.
pub struct Route {
    pub method: Method,
    pub pattern: &'static str,
    pub handler: Handler,
}

macro_rules! route {
    ($method:ident $pattern:literal => $handler:path) => {
        Route {
            method: Method::$method,
            pattern: $pattern,
            handler: |ctx| Box::pin($handler(ctx)),
        }
    };
}

/// Every route of the service.
pub fn routes() -> Vec<Route> {
    vec![
        route!(GET "/healthz" => ops::healthz),
        route!(GET "/readyz" => ops::readyz),
        route!(GET "/metrics" => ops::metrics),
        route!(GET "/api/openapi.json" => ops::openapi),
        route!(POST "/api/links" => links::create),
        route!(GET "/api/links" => links::list),
        route!(GET "/api/links/{code}" => links::get),
        route!(PATCH "/api/links/{code}" => links::update),
        route!(DELETE "/api/links/{code}" => links::delete),
        route!(GET "/api/links/{code}/stats" => stats::link_stats),
        route!(GET "/api/stats/top" => stats::top),
        route!(GET "/stats/{code}" => stats::link_stats_page),
        route!(GET "/api/links/{code}/qr.png" => qr::link_png),
        route!(GET "/api/links/{code}/qr.svg" => qr::link_svg),
        route!(GET "/" => web::home),
        route!(POST "/" => pastes::create_raw),
        route!(GET "/static/{file}" => web::static_file),
        route!(POST "/s" => web::shorten),
        route!(POST "/p" => web::create_paste),
        route!(GET "/p/{id}" => web::paste),
        route!(HEAD "/p/{id}" => web::paste),
        route!(POST "/p/{id}/reveal" => web::reveal),
        route!(POST "/p/{id}/unlock" => web::unlock),
        route!(POST "/p/{id}/delete" => web::delete),
        route!(GET "/p/{id}/raw" => pastes::raw),
        route!(HEAD "/p/{id}/raw" => pastes::raw),
        route!(GET "/p/{id}/download" => pastes::download),
        route!(HEAD "/p/{id}/download" => pastes::download),
        route!(POST "/api/pastes" => pastes::create),
        route!(GET "/api/pastes/{id}" => pastes::get),
        route!(HEAD "/api/pastes/{id}" => pastes::get),
        route!(DELETE "/api/pastes/{id}" => pastes::delete),
        route!(POST "/api/pastes/{id}/reveal" => pastes::reveal),
        route!(GET "/api/pastes/{id}/qr.png" => pastes::qr_png),
        route!(GET "/api/pastes/{id}/qr.svg" => pastes::qr_svg),
        route!(POST "/api/bookmarks" => bookmarks::create),
        route!(GET "/api/bookmarks" => bookmarks::list),
        route!(GET "/api/bookmarks/search" => bookmarks::search),
        route!(POST "/api/bookmarks/import" => bookmarks::import),
        route!(GET "/api/bookmarks/export" => bookmarks::export),
        route!(GET "/api/bookmarks/{id}" => bookmarks::get),
        route!(PATCH "/api/bookmarks/{id}" => bookmarks::update),
        route!(DELETE "/api/bookmarks/{id}" => bookmarks::delete),
        route!(POST "/api/bookmarks/{id}/refresh" => bookmarks::refresh),
        route!(GET "/favicons/{hash}" => bookmarks::favicon),
        route!(GET "/bookmarks" => web_bookmarks::page),
        route!(POST "/bookmarks" => web_bookmarks::add),
        route!(GET "/signin" => web_bookmarks::signin_form),
        route!(POST "/signin" => web_bookmarks::signin),
        route!(POST "/signout" => web_bookmarks::signout),
        route!(GET "/{code}" => redirect::follow),
        route!(HEAD "/{code}" => redirect::follow),
    ]
}

struct Entry {
    pattern: &'static str,
    methods: Vec<(Method, Handler)>,
}

/// The compiled router.
pub struct Router {
    inner: matchit::Router<Entry>,
}

/// A matched route: its pattern (for logs and metrics), handler and raw parameters.
pub struct Matched {
    pub pattern: &'static str,
    pub handler: Handler,
    pub params: Vec<(String, String)>,
}

impl Router {
    pub fn new(routes: Vec<Route>) -> Result<Self, matchit::InsertError> {
        let mut entries: Vec<Entry> = Vec::new();
        for route in routes {
            match entries
                .iter_mut()
                .find(|entry| entry.pattern == route.pattern)
            {
                Some(entry) => entry.methods.push((route.method, route.handler)),
                None => entries.push(Entry {
                    pattern: route.pattern,
                    methods: vec![(route.method, route.handler)],
                }),
            }
        }
        let mut inner = matchit::Router::new();
        for entry in entries {
            inner.insert(entry.pattern, entry)?;
        }
        Ok(Self { inner })
    }

    pub fn find(&self, method: &Method, path: &str) -> Result<Matched, ApiError> {
        let found = self
            .inner
            .at(path)
            .map_err(|_| ApiError::not_found("not_found", format!("no route matches '{path}'")))?;
        let entry = found.value;
        let handler = entry
            .methods
            .iter()
            .find(|(allowed, _)| allowed == method)
            .map(|(_, handler)| *handler)
            .ok_or_else(|| method_not_allowed(method, entry))?;
        let params = found
            .params
            .iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        Ok(Matched {
            pattern: entry.pattern,
            handler,
            params,
        })
    }
}

fn method_not_allowed(method: &Method, entry: &Entry) -> ApiError {
    let allowed: Vec<&str> = entry
        .methods
        .iter()
        .map(|(method, _)| method.as_str())
        .collect();
    let allow = allowed.join(", ");
    let error = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}; use {allow}", entry.pattern),
    );
    match HeaderValue::from_str(&allow) {
        Ok(value) => error.with_header(http::header::ALLOW, value),
        Err(_) => error,
    }
}

/// The first path segment of every route that is not a parameter: `api`, `healthz`, `p`, …
/// Aliases may not take these names.
pub fn reserved_names(routes: &[Route]) -> Vec<String> {
    let mut names: Vec<String> = routes
        .iter()
        .filter_map(|route| route.pattern.trim_start_matches('/').split('/').next())
        .filter(|segment| !segment.is_empty() && !segment.starts_with('{'))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_come_from_routes() {
        let names = reserved_names(&routes());
        assert!(names.contains(&"api".to_owned()));
        assert!(names.contains(&"healthz".to_owned()));
        assert!(!names.iter().any(|name| name.starts_with('{')));
    }

    #[test]
    fn routes_compile() {
        let router = Router::new(routes()).expect("routes do not conflict");
        let matched = router
            .find(&Method::GET, "/api/links/abc")
            .expect("matches");
        assert_eq!(matched.pattern, "/api/links/{code}");
        assert_eq!(matched.params, vec![("code".to_owned(), "abc".to_owned())]);
        let error = router
            .find(&Method::PUT, "/api/links/abc")
            .err()
            .expect("405");
        assert_eq!(error.status, StatusCode::METHOD_NOT_ALLOWED);
    }
}
