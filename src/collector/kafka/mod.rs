//! The Kafka transport, both ways: a consumer-group collector that stores what producers
//! put in the topic (Zipkin's `KafkaCollector`, made at-least-once), and a forwarder that
//! lets the HTTP tier publish to the topic instead of storing (the scale-out shape:
//! stateless HTTP front-ends → Kafka → consumer-group ingesters → storage).
//!
//! What differs from Zipkin, on purpose:
//! - offsets are stored only after storage accepted a message's spans (Zipkin auto-commits
//!   whatever was polled), so a storage outage or a crash loses nothing; duplicates after
//!   a crash are harmless because storing an identical span twice keeps one;
//! - storage errors pause consumption and retry with backoff instead of dropping spans;
//! - undecodable messages can be copied to a dead-letter topic (`KAFKA_DLT_TOPIC`).

mod consumer;
mod dlt;
mod forward;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::{ClientConfig, ClientContext};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use consumer::KafkaCollector;
pub use forward::KafkaForwarder;

use super::{Collector, CollectorMetrics};
use crate::api::HealthCheck;
use crate::config::Config;
use crate::storage::SpanStore;

/// Receives the consumer lag of each assigned partition (messages between the stored
/// offset and the end of the partition), e.g. to export it as a gauge. A partition that
/// is revoked reports 0, so summing over instances stays right after a rebalance.
pub type LagReporter = Arc<dyn Fn(&str, i32, i64) + Send + Sync>;

/// Why the Kafka side could not start.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// A setting is missing or contradicts another; the message names the variable.
    #[error("{0}")]
    Config(String),
    /// librdkafka refused the client configuration (e.g. an unknown property in
    /// KAFKA_OVERRIDES).
    #[error(
        "cannot create the Kafka {client} (check KAFKA_OVERRIDES and --kafka-property): {source}"
    )]
    Client {
        client: &'static str,
        #[source]
        source: rdkafka::error::KafkaError,
    },
}

/// The Kafka settings of a [`Config`], present when `KAFKA_BOOTSTRAP_SERVERS` is set.
#[derive(Clone)]
pub struct KafkaSettings {
    pub bootstrap_servers: String,
    /// `KAFKA_TOPIC`: consumed topics; the forwarder publishes to the first.
    pub topics: Vec<String>,
    pub group_id: String,
    /// `KAFKA_STREAMS`: consumers in this process (each one a group member).
    pub streams: usize,
    /// `KAFKA_OVERRIDES` then `--kafka-property`: librdkafka properties set last, so they
    /// win over Zipwire's own choices.
    pub overrides: Vec<(String, String)>,
    /// `KAFKA_DLT_TOPIC`: where undecodable messages are copied.
    pub dlt_topic: Option<String>,
}

impl fmt::Debug for KafkaSettings {
    /// Only a summary, like Zipkin's `toString`: override values may hold credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KafkaCollector{{bootstrapServers={}, topic={}, groupId={}}}",
            self.bootstrap_servers,
            self.topics.join(","),
            self.group_id
        )
    }
}

impl KafkaSettings {
    /// `None` when `KAFKA_BOOTSTRAP_SERVERS` is unset.
    pub fn from_config(config: &Config) -> Result<Option<Self>, KafkaError> {
        let Some(bootstrap_servers) = config
            .kafka_bootstrap_servers
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            return Ok(None);
        };
        if config.kafka_topic.is_empty() {
            return Err(KafkaError::Config(
                "KAFKA_TOPIC must name at least one topic".into(),
            ));
        }
        let mut overrides = config.kafka_overrides.clone();
        overrides.extend(config.kafka_properties.iter().cloned());
        Ok(Some(Self {
            bootstrap_servers: bootstrap_servers.to_owned(),
            topics: config.kafka_topic.clone(),
            group_id: config.kafka_group_id.clone(),
            streams: usize::from(config.kafka_streams.max(1)),
            overrides,
            dlt_topic: config.kafka_dlt_topic.clone().filter(|t| !t.is_empty()),
        }))
    }

    /// A client configuration with the bootstrap servers, `defaults` (Zipwire's choices
    /// for this client) and then the overrides.
    fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_servers);
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in &self.overrides {
            config.set(key, value);
        }
        config
    }

    fn forward_topic(&self) -> &str {
        &self.topics[0]
    }
}

/// The running Kafka side of one process: consumers, the forwarder, or both.
pub struct Kafka {
    settings: KafkaSettings,
    collector: Option<KafkaCollector>,
    forwarder: Option<Arc<KafkaForwarder>>,
}

impl Kafka {
    /// Starts what `config` asks for: the consumers when `KAFKA_BOOTSTRAP_SERVERS` is set
    /// and `COLLECTOR_KAFKA_ENABLED` is not false, the forwarder when
    /// `COLLECTOR_FORWARD=kafka`. `None` when neither applies. Consumers run on `tasks`
    /// until `cancel`, then commit the offsets of what they stored.
    pub fn start(
        config: &Config,
        store: Arc<dyn SpanStore>,
        metrics: Arc<CollectorMetrics>,
        lag: Option<LagReporter>,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> Result<Option<Self>, KafkaError> {
        let forward = config.collector_forward == "kafka";
        let Some(settings) = KafkaSettings::from_config(config)? else {
            if forward {
                return Err(KafkaError::Config(
                    "COLLECTOR_FORWARD=kafka needs KAFKA_BOOTSTRAP_SERVERS".into(),
                ));
            }
            return Ok(None);
        };
        let collector = if config.collector_kafka_enabled {
            // The consumers always store: with forwarding on as well, HTTP spans go to
            // the topic and come back through here.
            let pipeline = Arc::new(Collector::new(store, config.collector_sample_rate, metrics));
            Some(KafkaCollector::start(
                &settings, pipeline, lag, cancel, tasks,
            )?)
        } else {
            None
        };
        let forwarder = if forward {
            Some(Arc::new(KafkaForwarder::new(&settings)?))
        } else {
            None
        };
        if collector.is_none() && forwarder.is_none() {
            tracing::info!("KAFKA_BOOTSTRAP_SERVERS is set but COLLECTOR_KAFKA_ENABLED=false and nothing is forwarded");
        }
        Ok(Some(Self {
            settings,
            collector,
            forwarder,
        }))
    }

    pub fn settings(&self) -> &KafkaSettings {
        &self.settings
    }

    /// Whether spans are consumed here (so `/metrics` reports the `kafka` transport).
    pub fn consuming(&self) -> bool {
        self.collector.is_some()
    }

    pub fn collector(&self) -> Option<&KafkaCollector> {
        self.collector.as_ref()
    }

    /// The publisher the HTTP and gRPC collectors use instead of the store.
    pub fn forwarder(&self) -> Option<&Arc<KafkaForwarder>> {
        self.forwarder.as_ref()
    }

    /// The components `/health` reports.
    pub fn health_checks(&self) -> Vec<Arc<dyn HealthCheck>> {
        let mut checks: Vec<Arc<dyn HealthCheck>> = Vec::new();
        if let Some(collector) = &self.collector {
            checks.push(collector.health());
        }
        if let Some(forwarder) = &self.forwarder {
            checks.push(forwarder.clone());
        }
        checks
    }
}

/// librdkafka's log lines, as tracing events. Its errors are mostly connection trouble it
/// recovers from by itself, so they are warnings here: ERROR is kept for lost data.
fn log_librdkafka(client: &'static str, level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error
        | RDKafkaLogLevel::Warning => {
            tracing::warn!(target: "librdkafka", client, facility, "{message}")
        }
        RDKafkaLogLevel::Notice => {
            tracing::info!(target: "librdkafka", client, facility, "{message}")
        }
        RDKafkaLogLevel::Info | RDKafkaLogLevel::Debug => {
            tracing::debug!(target: "librdkafka", client, facility, "{message}")
        }
    }
}

/// The context of the producers: only routes librdkafka's logs and errors.
struct LogContext {
    client: &'static str,
}

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_librdkafka(self.client, level, facility, message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        tracing::warn!(client = self.client, %error, reason, "kafka client error");
    }
}

/// How long a `/health` probe waits for the broker's metadata answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Asks the cluster about `topics` through `client`: the error names an unreachable
/// cluster or a missing topic. Blocking (librdkafka waits for the answer), so it runs on
/// the blocking pool.
async fn probe_topics<C>(client: Arc<C>, topics: Vec<String>) -> Result<(), String>
where
    C: MetadataSource + Send + Sync + 'static,
{
    tokio::task::spawn_blocking(move || {
        for topic in &topics {
            client.topic_exists(topic, PROBE_TIMEOUT)?;
        }
        Ok(())
    })
    .await
    .unwrap_or_else(|err| Err(format!("health probe failed: {err}")))
}

/// A Kafka client that can answer "does this topic exist", i.e. a consumer or producer.
trait MetadataSource {
    fn topic_exists(&self, topic: &str, timeout: Duration) -> Result<(), String>;
}

fn topic_in_metadata(
    metadata: Result<rdkafka::metadata::Metadata, rdkafka::error::KafkaError>,
    topic: &str,
) -> Result<(), String> {
    let metadata = metadata.map_err(|err| format!("cannot reach the Kafka cluster: {err}"))?;
    match metadata.topics().iter().find(|t| t.name() == topic) {
        Some(t) if t.error().is_none() && !t.partitions().is_empty() => Ok(()),
        Some(t) => Err(match t.error() {
            Some(err) => format!(
                "topic {topic} is not available: {}",
                rdkafka::error::RDKafkaErrorCode::from(err)
            ),
            None => format!("topic {topic} has no partitions"),
        }),
        None => Err(format!("topic {topic} does not exist")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str]) -> Config {
        let mut argv = vec!["zipwire"];
        argv.extend_from_slice(args);
        Config::try_parse_from(argv).unwrap()
    }

    #[test]
    fn kafka_is_off_without_bootstrap_servers() {
        assert!(KafkaSettings::from_config(&config(&[])).unwrap().is_none());
    }

    #[test]
    fn settings_have_zipkin_defaults() {
        let settings =
            KafkaSettings::from_config(&config(&["--kafka-bootstrap-servers", "broker:9092"]))
                .unwrap()
                .unwrap();
        assert_eq!(settings.topics, vec!["zipkin"]);
        assert_eq!(settings.group_id, "zipkin");
        assert_eq!(settings.streams, 1);
        assert_eq!(settings.dlt_topic, None);
        assert!(settings.overrides.is_empty());
    }

    #[test]
    fn flag_properties_win_over_kafka_overrides() {
        let settings = KafkaSettings::from_config(&config(&[
            "--kafka-bootstrap-servers",
            "b:9092",
            "--kafka-overrides",
            "fetch.min.bytes=1,client.id=from-env",
            "--kafka-property",
            "client.id=from-flag",
        ]))
        .unwrap()
        .unwrap();
        let config = settings.client_config(&[("client.id", "default")]);
        assert_eq!(config.get("client.id"), Some("from-flag"));
        assert_eq!(config.get("fetch.min.bytes"), Some("1"));
    }

    #[test]
    fn debug_output_holds_no_property_values() {
        let settings = KafkaSettings::from_config(&config(&[
            "--kafka-bootstrap-servers",
            "b:9092",
            "--kafka-property",
            "sasl.password=hunter2",
        ]))
        .unwrap()
        .unwrap();
        let text = format!("{settings:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("bootstrapServers=b:9092"), "{text}");
    }

    #[tokio::test]
    async fn forwarding_without_bootstrap_servers_is_a_startup_error() {
        let err = Kafka::start(
            &config(&["--collector-forward", "kafka"]),
            Arc::new(crate::storage::memory::MemoryStore::new(
                Default::default(),
                10,
            )),
            Arc::default(),
            None,
            CancellationToken::new(),
            &TaskTracker::new(),
        )
        .err()
        .expect("an error");
        assert!(err.to_string().contains("KAFKA_BOOTSTRAP_SERVERS"), "{err}");
    }
}
