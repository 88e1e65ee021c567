//! Operations endpoints: liveness and readiness.

use super::error::ApiError;
use super::request::Ctx;
use super::response::{Response, json};
use http::StatusCode;
use serde_json::json;

/// The process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive")))]
pub async fn healthz(_ctx: Ctx) -> Result<Response, ApiError> {
    Ok(json(StatusCode::OK, &json!({ "status": "ok" })))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Metrics", content_type = "text/plain")))]
pub async fn metrics(ctx: Ctx) -> Result<Response, ApiError> {
    let text = crate::metrics::METRICS.render(&ctx.state).await;
    Ok(super::response::with_body(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        text,
    ))
}

/// Serves the OpenAPI 3.1 document of this API.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations", responses((status = 200, description = "The document")))]
pub async fn openapi(_ctx: Ctx) -> Result<Response, ApiError> {
    Ok(super::response::with_body(
        StatusCode::OK,
        "application/json",
        super::openapi::document().clone(),
    ))
}

/// Every configured backend answers. A failing backend is named, with a 503.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Every backend is reachable"),
    (status = 503, description = "The failing backends are named", body = super::error::ErrorBody),
))]
pub async fn readyz(ctx: Ctx) -> Result<Response, ApiError> {
    let checks = ctx.state.check_backends().await;
    let failing: Vec<&str> = checks
        .iter()
        .filter(|(_, result)| result.is_err())
        .map(|(name, _)| *name)
        .collect();
    let backends: serde_json::Map<String, serde_json::Value> = checks
        .iter()
        .map(|(name, result)| {
            let status = match result {
                Ok(()) => "ok".to_owned(),
                Err(error) => format!("unavailable: {error}"),
            };
            ((*name).to_owned(), serde_json::Value::String(status))
        })
        .collect();

    if failing.is_empty() {
        return Ok(json(
            StatusCode::OK,
            &json!({ "status": "ready", "backends": backends }),
        ));
    }
    let body = json!({
        "status": "unavailable",
        "error": {
            "code": "backend_unavailable",
            "message": format!("not ready: {} unavailable", failing.join(", ")),
            "backend": failing.join(","),
        },
        "backends": backends,
    });
    Ok(json(StatusCode::SERVICE_UNAVAILABLE, &body))
}
