//! The Zipkin HTTP API: `/api/v2` reads (also under `/zipkin/api/v2` for the UI), health,
//! info and metrics, and the single [`ApiError`] type that becomes a response.

mod admin;
mod error;
mod params;
mod query;

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

pub use admin::HealthCheck;
pub use error::ApiError;

use crate::collector::{CollectorMetrics, Transport};
use crate::storage::SpanStore;

/// Settings of the read API.
#[derive(Debug, Clone)]
pub struct QuerySettings {
    /// `QUERY_LOOKBACK`: default lookback (ms) of searches and dependency queries.
    pub default_lookback: i64,
    /// `QUERY_TIMEOUT`: per-request timeout of reads; `None` disables it.
    pub timeout: Option<Duration>,
    /// Cache-Control max-age (seconds) for name lists.
    pub names_max_age: u32,
    /// `AUTOCOMPLETE_KEYS`, sorted, as `/api/v2/autocompleteKeys` returns them.
    pub autocomplete_keys: Vec<String>,
}

/// State shared by the API handlers.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn SpanStore>,
    pub settings: Arc<QuerySettings>,
    /// Size of the last `/api/v2/services` answer: Zipkin caches name lists only once a
    /// site has more than three services (so a new deployment sees its names at once).
    pub service_count: Arc<AtomicUsize>,
}

/// State of the admin endpoints (`/health`, `/info`, `/metrics`).
#[derive(Clone)]
pub struct AdminState {
    pub store: Arc<dyn SpanStore>,
    pub metrics: Arc<CollectorMetrics>,
    /// Transports reported by `/metrics`.
    pub transports: Vec<Transport>,
    /// Components `/health` reports besides storage (e.g. the Kafka collector).
    pub checks: Vec<Arc<dyn HealthCheck>>,
}

/// The `/api/v2` read routes, mounted at `/` and under `/zipkin` (Lens's base path), as
/// Zipkin mounts them, and under the UI's base path when that is another one
/// (`ZIPKIN_UI_BASEPATH`; `None` when the UI is off): the UI calls the API relative to it.
pub fn query_router(state: ApiState, ui_base: Option<&str>) -> Router {
    let api = query::router(state);
    let router = Router::new()
        .merge(api.clone())
        .nest("/zipkin", api.clone());
    // The root ("") and "/zipkin" are served already.
    match ui_base.map(|base| base.trim_end_matches('/')) {
        Some(base) if !base.is_empty() && base != "/zipkin" => router.nest(base, api),
        _ => router,
    }
}

/// Health, info and metrics routes; always mounted, even with the query API disabled.
pub fn admin_router(state: AdminState) -> Router {
    admin::router(state)
}
