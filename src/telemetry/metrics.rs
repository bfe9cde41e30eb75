//! The Prometheus registry behind `/prometheus`: Zipkin's collector counters, HTTP server
//! latency, storage latency and in-flight operations, Kafka consumer lag and process
//! metrics, encoded with `prometheus-client` in the OpenMetrics text format.
//!
//! The collector counters stay where the collector keeps them ([`CollectorMetrics`]
//! atomics, also read by `/metrics`); they are read at scrape time rather than mirrored,
//! so the two endpoints can never disagree or double count.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::process::ProcessCollector;
use crate::collector::{CollectorMetrics, Transport};
use crate::storage::instrumented::StorageMetrics;

/// Content type of the OpenMetrics text exposition (Prometheus 2.5+ negotiates it).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of the latency histograms: 1 ms to 30 s, the range between a
/// cached name lookup and Zipkin's 11 s query timeout plus slow storage.
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0,
];

pub(crate) fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Labels of `http_server_requests_seconds`, as Zipkin's server tags them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The route template (`/api/v2/trace/{traceId}`), `NOT_FOUND` or `REDIRECTION`;
    /// never a raw path, so ids cannot explode the series count.
    pub uri: String,
    pub status: String,
}

/// Labels of the Kafka consumer lag gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KafkaPartitionLabels {
    pub topic: String,
    pub partition: String,
}

/// Every metric family Zipwire exports, plus the registry that encodes them.
///
/// Cheap to clone: families are shared handles, so a clone records into the same series.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    collector: Arc<CollectorMetrics>,
    pub http_requests: Family<HttpLabels, Histogram, fn() -> Histogram>,
    pub storage: StorageMetrics,
    kafka_lag: Family<KafkaPartitionLabels, Gauge>,
    self_tracing: SelfTracingCounters,
}

/// Counters of the self-tracing pipeline (spans handed to storage or OTLP, or dropped).
#[derive(Clone, Debug, Default)]
pub struct SelfTracingCounters {
    pub spans_reported: prometheus_client::metrics::counter::Counter,
    pub spans_dropped: prometheus_client::metrics::counter::Counter,
}

impl Metrics {
    /// A registry exporting `collector`'s counters next to Zipwire's own metrics.
    pub fn new(collector: Arc<CollectorMetrics>) -> Self {
        let mut registry = Registry::default();
        let http_requests: Family<HttpLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_server_requests_seconds",
            "Response time of /api requests by method, route template and status",
            http_requests.clone(),
        );
        let storage = StorageMetrics::default();
        storage.register(&mut registry);
        let kafka_lag = Family::<KafkaPartitionLabels, Gauge>::default();
        registry.register(
            "zipwire_kafka_consumer_lag",
            "Messages between the committed offset and the end of each Kafka partition",
            kafka_lag.clone(),
        );
        let self_tracing = SelfTracingCounters::default();
        registry.register(
            "zipwire_self_tracing_spans",
            "Self-tracing spans handed to storage or the OTLP endpoint",
            self_tracing.spans_reported.clone(),
        );
        registry.register(
            "zipwire_self_tracing_spans_dropped",
            "Self-tracing spans lost because the queue was full or reporting failed",
            self_tracing.spans_dropped.clone(),
        );
        registry.register_collector(Box::new(ProcessCollector));
        Self {
            registry: Arc::new(registry),
            collector,
            http_requests,
            storage,
            kafka_lag,
            self_tracing,
        }
    }

    /// The collector counters this registry exports (and `/metrics` reads).
    pub fn collector(&self) -> &Arc<CollectorMetrics> {
        &self.collector
    }

    /// The lag gauge of one Kafka partition, for the Kafka collector to keep current.
    pub fn kafka_consumer_lag(&self, topic: &str, partition: i32) -> Gauge {
        self.kafka_lag
            .get_or_create(&KafkaPartitionLabels {
                topic: topic.to_owned(),
                partition: partition.to_string(),
            })
            .clone()
    }

    pub fn self_tracing(&self) -> &SelfTracingCounters {
        &self.self_tracing
    }

    /// The whole exposition for a scrape: collector counters of `transports` first, then
    /// everything registered.
    pub fn encode(&self, transports: &[Transport]) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let mut scrape = Registry::default();
        scrape.register_collector(Box::new(CollectorCounters {
            metrics: self.collector.clone(),
            transports: transports.to_vec(),
        }));
        // Writing into a String cannot fail; the encoders only return fmt::Error from
        // the writer.
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &scrape);
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry);
        let _ = prometheus_client::encoding::text::encode_eof(&mut out);
        out
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Zipkin's `zipkin_collector_*` meters, read from the collector's atomics at scrape time.
#[derive(Debug)]
struct CollectorCounters {
    metrics: Arc<CollectorMetrics>,
    transports: Vec<Transport>,
}

/// Zipkin's meter names, in the order of [`CollectorCounters::values`].
const COLLECTOR_METERS: [(&str, &str, MetricType); 7] = [
    (
        "zipkin_collector_messages",
        "Messages received (requests or broker records)",
        MetricType::Counter,
    ),
    (
        "zipkin_collector_messages_dropped",
        "Messages that could not be read: malformed, too large or cut off",
        MetricType::Counter,
    ),
    (
        "zipkin_collector_bytes",
        "Bytes of messages received",
        MetricType::Counter,
    ),
    (
        "zipkin_collector_spans",
        "Spans received",
        MetricType::Counter,
    ),
    (
        "zipkin_collector_spans_dropped",
        "Spans not stored: sampled out or refused by storage",
        MetricType::Counter,
    ),
    (
        "zipkin_collector_message_spans",
        "Spans in the last message received",
        MetricType::Gauge,
    ),
    (
        "zipkin_collector_message_bytes",
        "Size of the last message received",
        MetricType::Gauge,
    ),
];

impl CollectorCounters {
    fn values(&self, transport: Transport) -> [u64; 7] {
        let s = self.metrics.transport(transport).snapshot();
        [
            s.messages,
            s.messages_dropped,
            s.bytes,
            s.spans,
            s.spans_dropped,
            s.message_spans,
            s.message_bytes,
        ]
    }
}

impl Collector for CollectorCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let rows: Vec<(&str, [u64; 7])> = self
            .transports
            .iter()
            .map(|t| (t.as_str(), self.values(*t)))
            .collect();
        for (i, (name, help, metric_type)) in COLLECTOR_METERS.into_iter().enumerate() {
            let mut family = encoder.encode_descriptor(name, help, None, metric_type)?;
            for (transport, values) in &rows {
                let labels = [("transport", *transport)];
                let series = family.encode_family(&labels)?;
                match metric_type {
                    MetricType::Counter => ConstCounter::new(values[i]).encode(series)?,
                    _ => ConstGauge::new(values[i] as i64).encode(series)?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_counters_are_read_from_the_collector_atomics() {
        let collector = Arc::new(CollectorMetrics::default());
        let metrics = Metrics::new(collector.clone());
        let http = collector.transport(Transport::Http);
        http.increment_messages();
        http.add_bytes(120);
        http.add_spans(3);
        http.add_spans_dropped(1);

        let text = metrics.encode(&[Transport::Http, Transport::Grpc]);

        assert!(
            text.contains("zipkin_collector_messages_total{transport=\"http\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("zipkin_collector_bytes_total{transport=\"http\"} 120\n"),
            "{text}"
        );
        assert!(
            text.contains("zipkin_collector_spans_total{transport=\"http\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("zipkin_collector_spans_dropped_total{transport=\"http\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("zipkin_collector_message_bytes{transport=\"http\"} 120\n"),
            "{text}"
        );
        assert!(
            text.contains("zipkin_collector_messages_total{transport=\"grpc\"} 0\n"),
            "{text}"
        );
        assert!(
            !text.contains("transport=\"kafka\""),
            "only the given transports: {text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn kafka_lag_gauges_are_labelled_by_topic_and_partition() {
        let metrics = Metrics::new(Arc::new(CollectorMetrics::default()));
        metrics.kafka_consumer_lag("zipkin", 2).set(42);

        let text = metrics.encode(&[]);

        assert!(
            text.contains("zipwire_kafka_consumer_lag{topic=\"zipkin\",partition=\"2\"} 42\n"),
            "{text}"
        );
    }
}
