//! The forwarding tier (`COLLECTOR_FORWARD=kafka`): the HTTP and gRPC collectors publish
//! what they accepted to the Kafka topic instead of storing it, and answer 202 only once
//! the brokers acknowledged every message (idempotent producer, `acks=all`).
//!
//! Each trace's spans become one proto3 `ListOfSpans` message keyed by the trace id's low
//! 64 bits, so a trace's spans share a partition (and 64- and 128-bit forms of one id
//! agree). proto3 is the most compact encoding every Zipkin consumer reads.

use std::sync::Arc;

use async_trait::async_trait;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Map, Value};

use super::{
    probe_topics, topic_in_metadata, KafkaError, KafkaSettings, LogContext, MetadataSource,
};
use crate::api::HealthCheck;
use crate::codec::proto3;
use crate::hashing::RandomMap;
use crate::model::Span;
use crate::storage::StorageError;

/// How long a message may wait for acknowledgement before the request fails with 503.
/// Kafka's default (5 minutes) would outlast any HTTP client's patience.
const DELIVERY_TIMEOUT_MS: &str = "10000";

/// Publishes span lists to the topic the ingesters consume.
pub struct KafkaForwarder {
    producer: Arc<FutureProducer<LogContext>>,
    topic: String,
    name: String,
}

impl MetadataSource for FutureProducer<LogContext> {
    fn topic_exists(&self, topic: &str, timeout: std::time::Duration) -> Result<(), String> {
        use rdkafka::producer::Producer;
        topic_in_metadata(self.client().fetch_metadata(Some(topic), timeout), topic)
    }
}

impl KafkaForwarder {
    pub(super) fn new(settings: &KafkaSettings) -> Result<Self, KafkaError> {
        let producer = settings
            .client_config(&[
                ("client.id", "zipwire-forwarder"),
                // A 202 must mean "in Kafka": every in-sync replica has it, and retries
                // inside librdkafka cannot duplicate or reorder.
                ("acks", "all"),
                ("enable.idempotence", "true"),
                ("message.timeout.ms", DELIVERY_TIMEOUT_MS),
                ("compression.type", "lz4"),
                // Requests arriving together share produce requests.
                ("linger.ms", "5"),
            ])
            .create_with_context(LogContext {
                client: "forwarder",
            })
            .map_err(|source| KafkaError::Client {
                client: "forwarding producer",
                source,
            })?;
        let topic = settings.forward_topic().to_owned();
        tracing::info!(bootstrap_servers = %settings.bootstrap_servers, %topic, "forwarding accepted spans to kafka");
        Ok(Self {
            producer: Arc::new(producer),
            name: format!(
                "KafkaForwarder{{bootstrapServers={}, topic={topic}}}",
                settings.bootstrap_servers
            ),
            topic,
        })
    }

    /// Publishes `spans`, one message per trace, and waits for every acknowledgement. An
    /// error means the sender should retry (503); messages already acknowledged are then
    /// sent again, which storage absorbs (identical spans are stored once).
    pub async fn publish(&self, spans: Vec<Span>) -> Result<(), StorageError> {
        let mut deliveries = Vec::new();
        for (key, trace) in group_by_trace(spans) {
            let payload = proto3::encode_list(&trace);
            let record = FutureRecord::to(&self.topic).key(&key).payload(&payload);
            match self.producer.send_result(record) {
                Ok(delivery) => deliveries.push(delivery),
                Err((error, _)) => return Err(unavailable(&error)),
            }
        }
        for delivery in deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((error, _))) => return Err(unavailable(&error)),
                Err(_) => {
                    return Err(StorageError::Unavailable(
                        "kafka producer dropped the message".into(),
                    ))
                }
            }
        }
        Ok(())
    }
}

fn unavailable(error: &rdkafka::error::KafkaError) -> StorageError {
    StorageError::Unavailable(format!("kafka did not acknowledge the spans: {error}"))
}

/// Spans grouped by trace (low 64 bits of the id, as 16 hex digits), in first-seen order.
fn group_by_trace(spans: Vec<Span>) -> Vec<(String, Vec<Span>)> {
    let mut index: RandomMap<u64, usize> = RandomMap::default();
    let mut groups: Vec<(String, Vec<Span>)> = Vec::new();
    for span in spans {
        let low = span.trace_id.low();
        let slot = *index.entry(low).or_insert_with(|| {
            groups.push((format!("{low:016x}"), Vec::new()));
            groups.len() - 1
        });
        groups[slot].1.push(span);
    }
    groups
}

#[async_trait]
impl HealthCheck for KafkaForwarder {
    fn name(&self) -> String {
        self.name.clone()
    }

    async fn check(&self) -> Result<Map<String, Value>, String> {
        probe_topics(self.producer.clone(), vec![self.topic.clone()]).await?;
        Ok(Map::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SpanId, TraceId};

    fn span(high: u64, low: u64, id: u64) -> Span {
        Span::builder(
            TraceId::from_parts(high, low).unwrap(),
            SpanId::new(id).unwrap(),
        )
        .build()
    }

    #[test]
    fn spans_are_grouped_by_the_low_64_bits_of_their_trace_id_in_first_seen_order() {
        let groups = group_by_trace(vec![
            span(0, 2, 1),
            span(0, 1, 2),
            span(7, 2, 3),
            span(0, 1, 4),
        ]);
        let keys: Vec<&str> = groups.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["0000000000000002", "0000000000000001"]);
        let ids: Vec<Vec<u64>> = groups
            .iter()
            .map(|(_, spans)| spans.iter().map(|s| s.id.get()).collect())
            .collect();
        assert_eq!(ids, [vec![1, 3], vec![2, 4]]);
    }
}
