//! Zipkin's collector counters, per transport (`zipkin_collector_*{transport=...}`).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// How spans arrived; the `transport` label of the collector metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Http,
    Grpc,
    Kafka,
}

impl Transport {
    pub const ALL: [Transport; 3] = [Transport::Http, Transport::Grpc, Transport::Kafka];

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Grpc => "grpc",
            Transport::Kafka => "kafka",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counters of one transport. Meanings are Zipkin's: `messages_dropped` counts messages
/// that could not be read (malformed, too large, client gone); `spans_dropped` counts
/// spans lost to sampling or storage failures.
#[derive(Debug, Default)]
pub struct TransportMetrics {
    messages: AtomicU64,
    messages_dropped: AtomicU64,
    bytes: AtomicU64,
    spans: AtomicU64,
    spans_dropped: AtomicU64,
    /// Gauges: size of the last message.
    message_spans: AtomicU64,
    message_bytes: AtomicU64,
}

/// A point-in-time copy of [`TransportMetrics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportSnapshot {
    pub messages: u64,
    pub messages_dropped: u64,
    pub bytes: u64,
    pub spans: u64,
    pub spans_dropped: u64,
    pub message_spans: u64,
    pub message_bytes: u64,
}

impl TransportMetrics {
    pub fn increment_messages(&self) {
        self.messages.fetch_add(1, Relaxed);
    }
    pub fn increment_messages_dropped(&self) {
        self.messages_dropped.fetch_add(1, Relaxed);
    }
    pub fn add_bytes(&self, n: usize) {
        self.bytes.fetch_add(n as u64, Relaxed);
        self.message_bytes.store(n as u64, Relaxed);
    }
    pub fn add_spans(&self, n: usize) {
        self.spans.fetch_add(n as u64, Relaxed);
        self.message_spans.store(n as u64, Relaxed);
    }
    pub fn add_spans_dropped(&self, n: usize) {
        if n > 0 {
            self.spans_dropped.fetch_add(n as u64, Relaxed);
        }
    }
    pub fn snapshot(&self) -> TransportSnapshot {
        TransportSnapshot {
            messages: self.messages.load(Relaxed),
            messages_dropped: self.messages_dropped.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            spans: self.spans.load(Relaxed),
            spans_dropped: self.spans_dropped.load(Relaxed),
            message_spans: self.message_spans.load(Relaxed),
            message_bytes: self.message_bytes.load(Relaxed),
        }
    }
}

/// Counters of every transport.
#[derive(Debug, Default)]
pub struct CollectorMetrics {
    http: TransportMetrics,
    grpc: TransportMetrics,
    kafka: TransportMetrics,
}

impl CollectorMetrics {
    pub fn transport(&self, transport: Transport) -> &TransportMetrics {
        match transport {
            Transport::Http => &self.http,
            Transport::Grpc => &self.grpc,
            Transport::Kafka => &self.kafka,
        }
    }

    /// Zipkin's `/metrics` JSON: a flat object of `counter.zipkin_collector.<name>.<transport>`
    /// and `gauge.zipkin_collector.<name>.<transport>` keys for the given transports.
    pub fn to_flat_json(&self, transports: &[Transport]) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for t in transports {
            let s = self.transport(*t).snapshot();
            let name = t.as_str();
            for (key, value) in [
                ("messages", s.messages),
                ("messages_dropped", s.messages_dropped),
                ("bytes", s.bytes),
                ("spans", s.spans),
                ("spans_dropped", s.spans_dropped),
            ] {
                map.insert(
                    format!("counter.zipkin_collector.{key}.{name}"),
                    value.into(),
                );
            }
            for (key, value) in [
                ("message_spans", s.message_spans),
                ("message_bytes", s.message_bytes),
            ] {
                map.insert(format!("gauge.zipkin_collector.{key}.{name}"), value.into());
            }
        }
        serde_json::Value::Object(map)
    }
}
