//! The hyper 1.x front end: accept loop, per-request dispatch through the router, request spans,
//! header read timeout and graceful shutdown.

pub mod bookmarks;
pub mod client_ip;
pub mod error;
pub mod links;
pub mod openapi;
pub mod ops;
pub mod pastes;
pub mod qr;
pub mod rate_limit;
pub mod redirect;
pub mod request;
pub mod response;
pub mod router;
pub mod session;
pub mod stats;
pub mod web;
pub mod web_bookmarks;

use crate::app::AppState;
use error::ApiError;
use http::{HeaderValue, Request};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use request::Ctx;
use response::Response;
use router::Router;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::Instrument;

const REQUEST_ID: &str = "x-request-id";

/// Serves connections until `shutdown` flips to true, then stops accepting and waits up to
/// `grace` for open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    router: Arc<Router>,
    mut shutdown: watch::Receiver<bool>,
) {
    let server = &state.settings.server;
    let grace = Duration::from_secs(server.shutdown_grace_secs);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(server.header_read_timeout_ms));
    let graceful = GracefulShutdown::new();

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Running out of file descriptors must not spin; wait a little.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                let router = Arc::clone(&router);
                let service = service_fn(move |request| {
                    dispatch(request, peer, Arc::clone(&state), Arc::clone(&router))
                });
                let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }

    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections closed"),
        _ = tokio::time::sleep(grace) => tracing::warn!(?grace, "connections still open after the grace period"),
    }
}

async fn dispatch(
    request: Request<Incoming>,
    peer: SocketAddr,
    state: Arc<AppState>,
    router: Arc<Router>,
) -> Result<Response, Infallible> {
    let started = Instant::now();
    let request_id = request_id(&request);
    let method = request.method().clone();
    let matched = router.find(&method, request.uri().path());
    let route = matched.as_ref().map(|m| m.pattern).unwrap_or("unmatched");
    let span = tracing::info_span!("request", %method, route, request_id = %request_id.to_str().unwrap_or_default());

    let mut response = match matched {
        Ok(matched) => {
            let id = request_id.to_str().unwrap_or_default().to_owned();
            linkyard_actors::backends::queue::REQUEST_ID
                .scope(id, handle(request, matched, peer, state))
                .instrument(span.clone())
                .await
        }
        Err(error) => error.into_response(),
    };

    response.headers_mut().insert(REQUEST_ID, request_id);
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    crate::metrics::METRICS.observe_request(route, &method, status, elapsed);
    let latency_us = elapsed.as_micros() as u64;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, latency_us, "request failed");
        } else {
            tracing::debug!(status, latency_us, "request completed");
        }
    });
    Ok(response)
}

/// Runs a matched route: rate limits first, then the handler.
async fn handle(
    request: Request<Incoming>,
    matched: router::Matched,
    peer: SocketAddr,
    state: Arc<AppState>,
) -> Response {
    let (parts, body) = request.into_parts();
    let class = rate_limit::RouteClass::of_request(&parts.method, matched.pattern, &parts.headers);
    let limited = class.filter(|_| state.limiter.enabled()).map(|class| {
        let client_ip = state.trusted_proxies.client_ip(peer.ip(), &parts.headers);
        (class, rate_limit::client_key(&parts.headers, client_ip))
    });
    if let Some((class, client)) = &limited
        && let Err(error) = state.limiter.check(*class, client).await
    {
        return error.into_response();
    }

    let limiter = Arc::clone(&state.limiter);
    let ctx = Ctx {
        state,
        parts,
        body: Some(body),
        params: matched.params,
        peer,
    };
    let response = (matched.handler)(ctx)
        .await
        .unwrap_or_else(ApiError::into_response);

    if let Some((rate_limit::RouteClass::Redirect, client)) = &limited
        && response.status() == http::StatusCode::NOT_FOUND
    {
        limiter.record_not_found(client).await;
    }
    response
}

/// Keeps a well-formed incoming request id, so one id follows a request through proxies, or
/// makes a new one.
fn request_id(request: &Request<Incoming>) -> HeaderValue {
    let incoming = request.headers().get(REQUEST_ID).filter(|value| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= 64
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    });
    match incoming {
        Some(value) => value.clone(),
        None => {
            let id: u64 = rand::random();
            HeaderValue::from_str(&format!("{id:016x}")).unwrap_or(HeaderValue::from_static("0"))
        }
    }
}
