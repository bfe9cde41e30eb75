//! The ingest pipeline shared by every transport: decode → count → sample → store.
//!
//! Transports (HTTP, gRPC and Kafka) hand decoded spans to [`Collector`],
//! which keeps Zipkin's per-transport counters and applies `COLLECTOR_SAMPLE_RATE`.
//! Unlike Zipkin, a storage failure is returned to the transport so it can answer 503 (or,
//! for Kafka, not commit), instead of being logged and acknowledged.

pub mod grpc;
pub mod http;
pub mod kafka;
mod metrics;

use std::sync::Arc;

pub use metrics::{CollectorMetrics, Transport, TransportMetrics, TransportSnapshot};

use crate::model::Span;
use crate::storage::{SpanStore, StorageError};

/// Zipkin's `CollectorSampler`: keeps a span when its trace id's low 64 bits, read as a
/// signed number, are within `rate` of the range, or when it is a debug span. The decision
/// depends only on the trace id, so all spans of a trace are kept or dropped together.
#[derive(Debug, Clone, Copy)]
pub struct Sampler {
    boundary: i64,
    keep_all: bool,
}

impl Sampler {
    /// `rate` in `0.0..=1.0` (validated by the configuration).
    pub fn new(rate: f64) -> Self {
        Self {
            boundary: (i64::MAX as f64 * rate) as i64,
            keep_all: rate >= 1.0,
        }
    }

    pub fn is_sampled(&self, span: &Span) -> bool {
        if self.keep_all || span.debug {
            return true;
        }
        let low = span.trace_id.low() as i64;
        // |i64::MIN| overflows; Zipkin treats it as i64::MAX.
        let magnitude = if low == i64::MIN { i64::MAX } else { low.abs() };
        magnitude <= self.boundary
    }
}

/// Accepts decoded spans from any transport.
pub struct Collector {
    sink: Sink,
    sampler: Sampler,
    metrics: Arc<CollectorMetrics>,
}

/// Where accepted spans go.
enum Sink {
    Store(Arc<dyn SpanStore>),
    /// `COLLECTOR_FORWARD=kafka`: published for the ingesters to store.
    Kafka(Arc<kafka::KafkaForwarder>),
}

impl Collector {
    pub fn new(
        store: Arc<dyn SpanStore>,
        sample_rate: f64,
        metrics: Arc<CollectorMetrics>,
    ) -> Self {
        Self {
            sink: Sink::Store(store),
            sampler: Sampler::new(sample_rate),
            metrics,
        }
    }

    /// A collector that publishes accepted spans to Kafka instead of storing them.
    pub fn forwarding(
        forwarder: Arc<kafka::KafkaForwarder>,
        sample_rate: f64,
        metrics: Arc<CollectorMetrics>,
    ) -> Self {
        Self {
            sink: Sink::Kafka(forwarder),
            sampler: Sampler::new(sample_rate),
            metrics,
        }
    }

    pub fn sampler(&self) -> Sampler {
        self.sampler
    }

    pub fn metrics(&self) -> &Arc<CollectorMetrics> {
        &self.metrics
    }

    /// Counts, samples and stores one message's spans. On a storage error the spans are
    /// counted as dropped and the error returned, so the transport can make the sender
    /// retry.
    pub async fn accept(&self, transport: Transport, spans: Vec<Span>) -> Result<(), StorageError> {
        let spans = self.count_and_sample(transport, spans);
        if spans.is_empty() {
            return Ok(());
        }
        let n = spans.len();
        let result = self.store(spans).await;
        if let Err(err) = &result {
            self.metrics.transport(transport).add_spans_dropped(n);
            tracing::warn!(%transport, spans = n, error = %err, "cannot store spans");
        }
        result
    }

    /// Counts one message's spans and keeps the sampled ones (the others count as
    /// dropped). With [`Collector::store`], for transports that retry storage themselves
    /// (Kafka), so a retried message is counted once and its spans are not "dropped".
    pub fn count_and_sample(&self, transport: Transport, mut spans: Vec<Span>) -> Vec<Span> {
        let counters = self.metrics.transport(transport);
        counters.add_spans(spans.len());
        let before = spans.len();
        spans.retain(|s| self.sampler.is_sampled(s));
        counters.add_spans_dropped(before - spans.len());
        spans
    }

    /// Stores (or forwards) spans already counted and sampled; counts nothing.
    pub async fn store(&self, spans: Vec<Span>) -> Result<(), StorageError> {
        match &self.sink {
            Sink::Store(store) => store.accept(spans).await,
            Sink::Kafka(forwarder) => forwarder.publish(spans).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SpanId, TraceId};

    fn span(trace_low: u64, debug: bool) -> Span {
        Span::builder(
            TraceId::from_parts(0, trace_low).unwrap(),
            SpanId::new(1).unwrap(),
        )
        .debug(debug)
        .build()
    }

    #[test]
    fn sampler_decides_by_trace_id() {
        let half = Sampler::new(0.5);
        assert!(half.is_sampled(&span(1, false)));
        assert!(!half.is_sampled(&span(i64::MAX as u64, false)));
        // Negative ids use their magnitude.
        assert!(half.is_sampled(&span((-1i64) as u64, false)));
        assert!(!half.is_sampled(&span(i64::MIN as u64, false)));
        assert!(
            half.is_sampled(&span(i64::MIN as u64, true)),
            "debug always kept"
        );
        assert!(Sampler::new(1.0).is_sampled(&span(i64::MIN as u64, false)));
        assert!(!Sampler::new(0.0).is_sampled(&span(5, false)));
    }
}
