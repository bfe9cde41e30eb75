//! Health, info and metrics endpoints (Zipkin's actuator equivalents).

use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use super::AdminState;

/// A health check that takes longer than this reports DOWN (Zipkin's wording), so a
/// hung backend cannot hang the probe.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

const JSON_UTF8: &str = "application/json; charset=utf-8";
const ACTUATOR_JSON: &str = "application/vnd.spring-boot.actuator.v2+json; charset=utf-8";

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/health", get(|s| health(s, JSON_UTF8)))
        .route("/actuator/health", get(|s| health(s, ACTUATOR_JSON)))
        .route("/info", get(|| async { info(JSON_UTF8) }))
        .route("/actuator/info", get(|| async { info(ACTUATOR_JSON) }))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// A component `/health` reports besides storage, like a Zipkin collector `Component`.
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// The key under `zipkin.details` (Zipkin uses the component's `toString()`).
    fn name(&self) -> String;
    /// `Ok` with extra details (possibly none) when healthy, else the reason.
    async fn check(&self) -> Result<Map<String, Value>, String>;
}

/// `GET /health`: 200 `UP` when every component is healthy, else 503 `DOWN` with the
/// reason, in Zipkin's body shape.
async fn health(State(state): State<AdminState>, content_type: &'static str) -> Response {
    let name = state.store.name();
    let storage = async {
        let check = tokio::time::timeout(HEALTH_TIMEOUT, state.store.check()).await;
        match check {
            Ok(Ok(())) => json!({ "status": "UP" }),
            Ok(Err(err)) => json!({ "status": "DOWN", "details": { "error": err.to_string() } }),
            Err(_) => json!({
                "status": "DOWN",
                "details": { "error": "Timed out computing health status. This often means your storage backend is unreachable." }
            }),
        }
    };
    let others = futures::future::join_all(state.checks.iter().map(|check| async move {
        let component = match tokio::time::timeout(HEALTH_TIMEOUT, check.check()).await {
            Ok(Ok(details)) if details.is_empty() => json!({ "status": "UP" }),
            Ok(Ok(details)) => json!({ "status": "UP", "details": details }),
            Ok(Err(error)) => json!({ "status": "DOWN", "details": { "error": error } }),
            Err(_) => json!({
                "status": "DOWN",
                "details": { "error": "Timed out computing health status." }
            }),
        };
        (check.name(), component)
    }));
    let (storage, others) = tokio::join!(storage, others);
    let mut details = Map::new();
    details.insert(name, storage);
    details.extend(others);
    let up = details.values().all(|c| c["status"] == "UP");
    let status = if up { "UP" } else { "DOWN" };
    let body = json!({
        "status": status,
        "zipkin": { "status": status, "details": details }
    });
    let code = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let text = serde_json::to_string_pretty(&body).unwrap_or_default();
    (code, [(header::CONTENT_TYPE, content_type)], text).into_response()
}

/// `GET /info`: the running version.
fn info(content_type: &'static str) -> Response {
    let body = json!({
        "zipkin": {
            "version": env!("CARGO_PKG_VERSION"),
            "commit": option_env!("ZIPWIRE_COMMIT").unwrap_or("unknown"),
        }
    });
    let text = serde_json::to_string_pretty(&body).unwrap_or_default();
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}

/// `GET /metrics`: collector counters in Zipkin's flat JSON shape.
async fn metrics(State(state): State<AdminState>) -> Response {
    let body = state.metrics.to_flat_json(&state.transports);
    ([(header::CONTENT_TYPE, JSON_UTF8)], body.to_string()).into_response()
}
