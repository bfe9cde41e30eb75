//! The dead-letter topic (`KAFKA_DLT_TOPIC`): undecodable messages are copied there, key,
//! value and headers intact, with headers saying why and where from, so an operator can
//! inspect or replay them while the source partition moves on.

use std::future::Future;

use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::{KafkaError, KafkaSettings, LogContext};

/// The decode error, as text.
pub const HEADER_ERROR: &str = "zipwire.error";
/// Topic, partition and offset (decimal text) of the original message.
pub const HEADER_SOURCE_TOPIC: &str = "zipwire.source.topic";
pub const HEADER_SOURCE_PARTITION: &str = "zipwire.source.partition";
pub const HEADER_SOURCE_OFFSET: &str = "zipwire.source.offset";

/// A copy is acknowledged or failed within this time; a failure pauses the consumer and
/// is retried, like a storage failure.
const DELIVERY_TIMEOUT_MS: &str = "30000";

pub(super) struct DeadLetters {
    producer: FutureProducer<LogContext>,
    topic: String,
}

impl DeadLetters {
    pub(super) fn new(settings: &KafkaSettings, topic: &str) -> Result<Self, KafkaError> {
        let producer = settings
            .client_config(&[
                ("client.id", "zipwire-dlt"),
                ("acks", "all"),
                ("enable.idempotence", "true"),
                ("message.timeout.ms", DELIVERY_TIMEOUT_MS),
            ])
            .create_with_context(LogContext { client: "dlt" })
            .map_err(|source| KafkaError::Client {
                client: "dead-letter producer",
                source,
            })?;
        Ok(Self {
            producer,
            topic: topic.to_owned(),
        })
    }

    /// Enqueues a copy of `message`; the future completes when the broker acknowledged it.
    pub(super) fn send<M: Message>(
        &self,
        message: &M,
        error: &str,
    ) -> impl Future<Output = Result<(), String>> + Send + 'static {
        let mut headers = OwnedHeaders::new();
        if let Some(original) = message.headers() {
            for header in original.iter() {
                headers = headers.insert(Header {
                    key: header.key,
                    value: header.value,
                });
            }
        }
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let headers = headers
            .insert(Header {
                key: HEADER_ERROR,
                value: Some(error),
            })
            .insert(Header {
                key: HEADER_SOURCE_TOPIC,
                value: Some(message.topic()),
            })
            .insert(Header {
                key: HEADER_SOURCE_PARTITION,
                value: Some(&partition),
            })
            .insert(Header {
                key: HEADER_SOURCE_OFFSET,
                value: Some(&offset),
            });
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic)
            .payload(message.payload().unwrap_or_default())
            .headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(timestamp) = message.timestamp().to_millis() {
            record = record.timestamp(timestamp);
        }
        let enqueued = self
            .producer
            .send_result(record)
            .map_err(|(error, _)| format!("cannot enqueue a dead letter: {error}"));
        async move {
            match enqueued?.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((error, _))) => Err(format!("dead letter not delivered: {error}")),
                Err(_) => Err("the dead-letter producer was dropped".into()),
            }
        }
    }
}
