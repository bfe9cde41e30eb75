//! The storage seam, named after Zipkin's SPI (`SpanConsumer`, `SpanStore`, `Traces`,
//! `ServiceAndSpanNames`, `AutocompleteTags`), and its backends.
//!
//! Only `model` types and [`StorageError`] cross it, so the HTTP API, the collectors and
//! the conformance suite (`tests/conformance`) work with any backend.

pub mod instrumented;
pub mod memory;
pub mod postgres;

use async_trait::async_trait;
use thiserror::Error;

use crate::model::{DependencyLink, QueryRequest, Span, TraceId};

/// Why a storage call failed; the API maps each variant to one status code.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The caller's fault (Zipkin's `IllegalArgumentException`): answered 400.
    #[error("{0}")]
    InvalidArgument(String),
    /// The backend cannot be reached right now; the caller may retry (503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else (500); the message is logged, not shown.
    #[error("storage failure: {0}")]
    Internal(String),
}

/// Options shared by every backend, from Zipkin's storage builder flags.
#[derive(Debug, Clone)]
pub struct StorageOptions {
    /// `STRICT_TRACE_ID`: when false, traces are grouped and looked up by the low 64 bits.
    pub strict_trace_id: bool,
    /// `SEARCH_ENABLED`: when false, nothing is indexed for search and search/name calls
    /// answer empty; lookups by id keep working.
    pub search_enabled: bool,
    /// `AUTOCOMPLETE_KEYS`: tag keys whose values are indexed for autocomplete.
    pub autocomplete_keys: Vec<String>,
}

impl Default for StorageOptions {
    fn default() -> Self {
        Self {
            strict_trace_id: true,
            search_enabled: true,
            autocomplete_keys: Vec::new(),
        }
    }
}

/// One tracing backend. Implementations must be cheap to share (`Arc<dyn SpanStore>`).
///
/// Semantics are Zipkin's, pinned down by the conformance suite: stored spans are returned
/// raw (fragments are not merged), identical spans are stored once, names are lower-case
/// and sorted, traces are grouped by trace id (its low 64 bits when `strict_trace_id` is
/// false).
#[async_trait]
pub trait SpanStore: Send + Sync + 'static {
    /// `SpanConsumer.accept`: stores spans. Returns only once they are stored (readable).
    async fn accept(&self, spans: Vec<Span>) -> Result<(), StorageError>;

    /// `SpanStore.getTraces(QueryRequest)`: up to `limit` traces matching the request,
    /// the ones nearest to `end_ts` first. Each trace is the full list of its spans.
    async fn get_traces(&self, request: &QueryRequest) -> Result<Vec<Vec<Span>>, StorageError>;

    /// `Traces.getTrace`: every span of one trace; empty when unknown.
    async fn get_trace(&self, trace_id: TraceId) -> Result<Vec<Span>, StorageError>;

    /// `Traces.getTraces(ids)`: the traces found among `trace_ids`; unknown ids are absent.
    async fn get_traces_by_ids(
        &self,
        trace_ids: &[TraceId],
    ) -> Result<Vec<Vec<Span>>, StorageError>;

    /// `ServiceAndSpanNames.getServiceNames`: local service names, sorted.
    async fn get_service_names(&self) -> Result<Vec<String>, StorageError>;

    /// `ServiceAndSpanNames.getRemoteServiceNames`: remote service names seen by a local
    /// service, sorted.
    async fn get_remote_service_names(
        &self,
        service_name: &str,
    ) -> Result<Vec<String>, StorageError>;

    /// `ServiceAndSpanNames.getSpanNames`: span names of a local service, sorted.
    async fn get_span_names(&self, service_name: &str) -> Result<Vec<String>, StorageError>;

    /// `SpanStore.getDependencies`: links from traces in `[end_ts - lookback, end_ts]`
    /// (epoch milliseconds). Both must be positive (`InvalidArgument` otherwise).
    async fn get_dependencies(
        &self,
        end_ts: i64,
        lookback: i64,
    ) -> Result<Vec<DependencyLink>, StorageError>;

    /// `AutocompleteTags.getKeys`: the configured autocomplete keys, sorted (empty when
    /// search is disabled).
    async fn get_autocomplete_keys(&self) -> Result<Vec<String>, StorageError>;

    /// `AutocompleteTags.getValues`: stored values of a configured key, sorted.
    async fn get_autocomplete_values(&self, key: &str) -> Result<Vec<String>, StorageError>;

    /// Health check for `/health`: `Ok` when the backend can serve requests.
    async fn check(&self) -> Result<(), StorageError>;

    /// A short name for `/health` details and logs, e.g. `InMemoryStorage{}`.
    fn name(&self) -> String;

    /// Called once at shutdown, after the last request: flushes anything buffered and
    /// releases connections. Backends that write synchronously have nothing to do.
    async fn close(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

/// Zipkin's argument checks for `getDependencies`, shared by every backend.
pub fn check_dependency_window(end_ts: i64, lookback: i64) -> Result<(), StorageError> {
    if end_ts <= 0 {
        return Err(StorageError::InvalidArgument("endTs <= 0".into()));
    }
    if lookback <= 0 {
        return Err(StorageError::InvalidArgument("lookback <= 0".into()));
    }
    Ok(())
}
