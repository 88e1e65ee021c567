//! The yardstick: a bare hyper server that answers `GET /{code}` with a 302 from a HashMap.
//! Every ratio the benchmarks print is against this server, measured in the same run.

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Serves forever on `listener`, knowing the codes `code-0` … `code-{count-1}`.
pub async fn serve(listener: TcpListener, count: usize) -> anyhow::Result<()> {
    let targets: HashMap<String, String> = (0..count)
        .map(|i| (format!("code-{i}"), format!("https://example.com/page/{i}")))
        .collect();
    let targets = Arc::new(targets);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let targets = Arc::clone(&targets);
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let targets = Arc::clone(&targets);
                async move { Ok::<_, Infallible>(answer(&targets, request.uri().path())) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(targets: &HashMap<String, String>, path: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    match targets.get(path.trim_start_matches('/')) {
        Some(target) => {
            *response.status_mut() = StatusCode::FOUND;
            if let Ok(location) = hyper::header::HeaderValue::from_str(target) {
                response
                    .headers_mut()
                    .insert(hyper::header::LOCATION, location);
            }
        }
        None => *response.status_mut() = StatusCode::NOT_FOUND,
    }
    response
}
