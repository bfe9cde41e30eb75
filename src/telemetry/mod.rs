//! Operability: logging set-up, the Prometheus registry (`/prometheus`), HTTP and storage
//! instrumentation, and self-tracing.
//!
//! - [`init`]: `tracing` with `RUST_LOG`-style filters, human or JSON lines.
//! - [`metrics`]: the registry and its families; Zipkin's collector counters are read
//!   from [`CollectorMetrics`] at scrape time.
//! - [`http`]: the request histogram and server spans (a middleware).
//! - [`self_tracing`]: the OpenTelemetry pipeline that stores Zipwire's own traces.
//! - `process`: `process_*` metrics from `/proc`.
//!
//! [`Telemetry`] bundles what the router needs; `app` creates it.

pub mod http;
pub mod metrics;
mod process;
pub mod self_tracing;

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use opentelemetry_sdk::trace::SdkTracer;
use tracing_subscriber::EnvFilter;

pub use self::metrics::Metrics;
pub use self::self_tracing::{SelfTracing, SelfTracingSettings};
use crate::collector::{CollectorMetrics, Transport};
use crate::config::Config;
use crate::storage::instrumented::InstrumentedStore;
use crate::storage::SpanStore;

/// Installs the global subscriber. `RUST_LOG`, when set, wins over `LOG_LEVEL`.
pub fn init(format: &str, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests) keeps the first subscriber; nothing to do.
    let _ = result;
}

/// The one start-up line: version and the effective configuration, secrets masked
/// (`Config::redacted`, and the PostgreSQL settings' own redacting `Debug`).
pub fn log_effective_config(config: &Config) {
    let postgres = (config.storage_type == "postgres").then(|| match config.postgres() {
        Ok(pg) => format!("{pg:?}"),
        Err(err) => format!("invalid: {err}"),
    });
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = ?config.redacted(),
        postgres = postgres.as_deref().unwrap_or("-"),
        "starting zipwire"
    );
}

/// What the router needs to observe itself: the metric families and, when self-tracing
/// is on, its tracer. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Telemetry {
    pub metrics: Metrics,
    pub tracer: Option<SdkTracer>,
}

impl Telemetry {
    /// Metrics over `collector`'s counters, without self-tracing.
    pub fn new(collector: Arc<CollectorMetrics>) -> Self {
        Self {
            metrics: Metrics::new(collector),
            tracer: None,
        }
    }

    pub fn with_tracer(mut self, tracer: SdkTracer) -> Self {
        self.tracer = Some(tracer);
        self
    }

    /// `store` timed and traced (what the API and the collectors use).
    pub fn instrument(&self, store: Arc<dyn SpanStore>) -> Arc<dyn SpanStore> {
        Arc::new(InstrumentedStore::new(
            store,
            self.metrics.storage.clone(),
            self.tracer.clone(),
        ))
    }

    /// State of the [`http::observe`] middleware.
    pub fn http(&self) -> http::HttpTelemetry {
        http::HttpTelemetry {
            requests: self.metrics.http_requests.clone(),
            tracer: self.tracer.clone(),
            ui_base: None,
        }
    }

    /// `GET /prometheus` (and Spring's `/actuator/prometheus`), with the collector
    /// counters of `transports`.
    pub fn prometheus_router(&self, transports: Vec<Transport>) -> Router {
        let state = Arc::new((self.metrics.clone(), transports));
        Router::new()
            .route("/prometheus", get(prometheus))
            .route("/actuator/prometheus", get(prometheus))
            .with_state(state)
    }
}

/// `GET /prometheus`: every metric in the OpenMetrics text format.
async fn prometheus(State(state): State<Arc<(Metrics, Vec<Transport>)>>) -> Response {
    let (metrics, transports) = &*state;
    let body = metrics.encode(transports);
    (
        [(header::CONTENT_TYPE, metrics::OPENMETRICS_CONTENT_TYPE)],
        body,
    )
        .into_response()
}
