//! A [`SpanStore`] decorator that times every call (`zipwire_storage_operation_seconds`),
//! counts the calls waiting on the backend (`zipwire_storage_operations_in_flight`, the
//! storage queue depth as seen from Zipwire) and, when self-tracing samples the request,
//! records each call as a child span (`get-traces`, `accept-spans`, ...).
//!
//! It wraps the store handed to the API and the collectors only. Self-tracing writes its
//! own spans to the undecorated store, so storing them is neither traced nor timed, and
//! cannot feed back into more self-traces.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use opentelemetry::trace::{FutureExt, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::{SpanStore, StorageError};
use crate::model::{DependencyLink, QueryRequest, Span, TraceId};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// The SPI call (`accept`, `get_traces`, ...).
    pub operation: &'static str,
    /// `success` or the [`StorageError`] kind (`invalid_argument`, `unavailable`, `internal`).
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InFlightLabels {
    pub operation: &'static str,
}

/// Latency and concurrency of storage calls.
#[derive(Clone, Debug)]
pub struct StorageMetrics {
    pub latency: Family<OperationLabels, Histogram, fn() -> Histogram>,
    pub in_flight: Family<InFlightLabels, Gauge>,
    pub spans_accepted: prometheus_client::metrics::counter::Counter,
}

impl Default for StorageMetrics {
    fn default() -> Self {
        Self {
            latency: Family::new_with_constructor(crate::telemetry::metrics::latency_histogram),
            in_flight: Family::default(),
            spans_accepted: Default::default(),
        }
    }
}

impl StorageMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "zipwire_storage_operation_seconds",
            "Latency of storage calls by operation and outcome; operation=accept is the write path",
            self.latency.clone(),
        );
        registry.register(
            "zipwire_storage_operations_in_flight",
            "Storage calls started and not yet answered (the write queue depth for operation=accept)",
            self.in_flight.clone(),
        );
        registry.register(
            "zipwire_storage_spans_accepted",
            "Spans handed to storage and acknowledged by it",
            self.spans_accepted.clone(),
        );
    }
}

/// Times and (optionally) traces every call of an inner store.
pub struct InstrumentedStore {
    inner: Arc<dyn SpanStore>,
    metrics: StorageMetrics,
    tracer: Option<SdkTracer>,
}

impl InstrumentedStore {
    pub fn new(
        inner: Arc<dyn SpanStore>,
        metrics: StorageMetrics,
        tracer: Option<SdkTracer>,
    ) -> Self {
        Self {
            inner,
            metrics,
            tracer,
        }
    }

    async fn observe<T>(
        &self,
        operation: &'static str,
        span_name: &'static str,
        call: impl Future<Output = Result<T, StorageError>> + Send,
    ) -> Result<T, StorageError> {
        let in_flight = self
            .metrics
            .in_flight
            .get_or_create(&InFlightLabels { operation })
            .clone();
        in_flight.inc();
        // Decrements even when the caller drops the future (e.g. QUERY_TIMEOUT).
        let _in_flight = scopeguard(move || {
            in_flight.dec();
        });
        let started = Instant::now();
        let result = match self.child_span(span_name) {
            Some(cx) => {
                let result = call.with_context(cx.clone()).await;
                let span = cx.span();
                if let Err(err) = &result {
                    span.set_status(Status::error(err.to_string()));
                    span.set_attribute(KeyValue::new("error", err.to_string()));
                }
                span.end();
                result
            }
            None => call.await,
        };
        let outcome = match &result {
            Ok(_) => "success",
            Err(StorageError::InvalidArgument(_)) => "invalid_argument",
            Err(StorageError::Unavailable(_)) => "unavailable",
            Err(StorageError::Internal(_)) => "internal",
        };
        self.metrics
            .latency
            .get_or_create(&OperationLabels { operation, outcome })
            .observe(started.elapsed().as_secs_f64());
        result
    }

    /// A child of the current request's span, only when that request is sampled: storage
    /// calls never start traces of their own (Kafka ingest, background work).
    fn child_span(&self, name: &'static str) -> Option<Context> {
        let tracer = self.tracer.as_ref()?;
        let parent = Context::current();
        if !parent.span().span_context().is_sampled() {
            return None;
        }
        let span = tracer.start_with_context(name, &parent);
        Some(parent.with_span(span))
    }
}

/// Runs `f` when dropped.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

#[async_trait]
impl SpanStore for InstrumentedStore {
    async fn accept(&self, spans: Vec<Span>) -> Result<(), StorageError> {
        let n = spans.len() as u64;
        let result = self
            .observe("accept", "accept-spans", self.inner.accept(spans))
            .await;
        if result.is_ok() {
            self.metrics.spans_accepted.inc_by(n);
        }
        result
    }

    async fn get_traces(&self, request: &QueryRequest) -> Result<Vec<Vec<Span>>, StorageError> {
        self.observe("get_traces", "get-traces", self.inner.get_traces(request))
            .await
    }

    async fn get_trace(&self, trace_id: TraceId) -> Result<Vec<Span>, StorageError> {
        self.observe("get_trace", "get-trace", self.inner.get_trace(trace_id))
            .await
    }

    async fn get_traces_by_ids(
        &self,
        trace_ids: &[TraceId],
    ) -> Result<Vec<Vec<Span>>, StorageError> {
        self.observe(
            "get_traces_by_ids",
            "get-traces-by-ids",
            self.inner.get_traces_by_ids(trace_ids),
        )
        .await
    }

    async fn get_service_names(&self) -> Result<Vec<String>, StorageError> {
        self.observe(
            "get_service_names",
            "get-service-names",
            self.inner.get_service_names(),
        )
        .await
    }

    async fn get_remote_service_names(
        &self,
        service_name: &str,
    ) -> Result<Vec<String>, StorageError> {
        self.observe(
            "get_remote_service_names",
            "get-remote-service-names",
            self.inner.get_remote_service_names(service_name),
        )
        .await
    }

    async fn get_span_names(&self, service_name: &str) -> Result<Vec<String>, StorageError> {
        self.observe(
            "get_span_names",
            "get-span-names",
            self.inner.get_span_names(service_name),
        )
        .await
    }

    async fn get_dependencies(
        &self,
        end_ts: i64,
        lookback: i64,
    ) -> Result<Vec<DependencyLink>, StorageError> {
        self.observe(
            "get_dependencies",
            "get-dependencies",
            self.inner.get_dependencies(end_ts, lookback),
        )
        .await
    }

    async fn get_autocomplete_keys(&self) -> Result<Vec<String>, StorageError> {
        self.observe(
            "get_autocomplete_keys",
            "get-autocomplete-keys",
            self.inner.get_autocomplete_keys(),
        )
        .await
    }

    async fn get_autocomplete_values(&self, key: &str) -> Result<Vec<String>, StorageError> {
        self.observe(
            "get_autocomplete_values",
            "get-autocomplete-values",
            self.inner.get_autocomplete_values(key),
        )
        .await
    }

    // Health checks are frequent and not part of any request's work: neither timed nor
    // traced.
    async fn check(&self) -> Result<(), StorageError> {
        self.inner.check().await
    }

    async fn close(&self) -> Result<(), StorageError> {
        self.inner.close().await
    }

    fn name(&self) -> String {
        self.inner.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SpanId;
    use crate::storage::memory::MemoryStore;
    use crate::storage::StorageOptions;

    fn store() -> (InstrumentedStore, StorageMetrics) {
        let metrics = StorageMetrics::default();
        let inner = Arc::new(MemoryStore::new(StorageOptions::default(), 1_000));
        (
            InstrumentedStore::new(inner, metrics.clone(), None),
            metrics,
        )
    }

    fn count(metrics: &StorageMetrics, operation: &'static str, outcome: &'static str) -> u64 {
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        let needle = format!(
            "zipwire_storage_operation_seconds_count{{operation=\"{operation}\",outcome=\"{outcome}\"}} "
        );
        text.lines()
            .find_map(|l| l.strip_prefix(&needle))
            .map_or(0, |v| v.parse().unwrap())
    }

    #[tokio::test]
    async fn calls_are_timed_by_operation_and_outcome() {
        let (store, metrics) = store();
        let span = Span::builder(TraceId::from_parts(0, 1).unwrap(), SpanId::new(2).unwrap())
            .name("get")
            .build();

        store.accept(vec![span]).await.unwrap();
        store.get_service_names().await.unwrap();
        let bad = store.get_dependencies(0, 1).await;

        assert!(matches!(bad, Err(StorageError::InvalidArgument(_))));
        assert_eq!(count(&metrics, "accept", "success"), 1);
        assert_eq!(count(&metrics, "get_service_names", "success"), 1);
        assert_eq!(count(&metrics, "get_dependencies", "invalid_argument"), 1);
        assert_eq!(metrics.spans_accepted.get(), 1);
        let idle = metrics
            .in_flight
            .get_or_create(&InFlightLabels {
                operation: "accept",
            })
            .get();
        assert_eq!(idle, 0, "nothing in flight once the calls returned");
    }

    #[tokio::test]
    async fn the_in_flight_gauge_recovers_when_a_call_is_abandoned() {
        let (store, metrics) = store();
        let gauge = || {
            metrics
                .in_flight
                .get_or_create(&InFlightLabels { operation: "hung" })
                .get()
        };
        let call = store.observe("hung", "hung", std::future::pending::<Result<(), _>>());
        let mut call = Box::pin(call);

        assert!(futures::poll!(call.as_mut()).is_pending());
        assert_eq!(gauge(), 1, "the call is waiting on the backend");
        // A caller giving up (QUERY_TIMEOUT) drops the call; the gauge must follow.
        drop(call);
        assert_eq!(gauge(), 0);
    }
}
