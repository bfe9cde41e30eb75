//! The consumer-group collector: each stream is one group member that decodes messages,
//! hands their spans to the [`Collector`] and stores a message's offset only once
//! storage accepted it (at-least-once, as vector's Kafka source does it).
//!
//! Offsets are stored with `enable.auto.offset.store=false` and committed by librdkafka's
//! auto-commit, on rebalance and at close, so a commit never covers a message whose
//! spans were not stored. A stream handles its messages one at a time, which is what
//! makes "store offset n+1" mean "everything up to n is stored" for each partition.
//!
//! When storage (or the dead-letter topic) refuses, the stream pauses its partitions and
//! retries the same message with backoff, still polling so the group keeps it as a
//! member; anything fetched meanwhile is kept in order and handled after recovery.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::{KafkaError as RdKafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::ClientContext;
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::dlt::DeadLetters;
use super::{
    log_librdkafka, probe_topics, topic_in_metadata, KafkaError, KafkaSettings, LagReporter,
    MetadataSource,
};
use crate::api::HealthCheck;
use crate::codec::detect;
use crate::collector::{Collector, Transport};
use crate::model::Span;

/// First wait after storage refused a message; doubled up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How often a stream looks again for a topic that does not exist yet.
const TOPIC_RECHECK: Duration = Duration::from_secs(2);
/// Messages larger than this are decoded with `block_in_place`, as HTTP bodies are.
const OFFLOAD_DECODE_BYTES: usize = 128 * 1024;
/// librdkafka statistics (the source of the lag gauges) are cheap at this interval.
const STATISTICS_INTERVAL_MS: &str = "10000";
/// Longest wait for a consumer to commit and leave the group at shutdown. librdkafka's
/// close waits for the group coordinator, so with the brokers gone it never ends.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// What one stream is doing, for `/health` and tests.
#[derive(Debug, Default)]
struct StreamStatus {
    assignment: BTreeSet<(String, i32)>,
    /// Topics this stream waits for before subscribing.
    missing_topics: Vec<String>,
    /// Set while consumption is paused: what refused (`storage` or `dead-letter topic`)
    /// and why.
    paused: Option<(&'static str, String)>,
    /// Shutting down: connection errors are expected and not worth a warning.
    closing: bool,
}

#[derive(Default)]
struct StreamState {
    status: Mutex<StreamStatus>,
}

impl StreamState {
    fn update(&self, f: impl FnOnce(&mut StreamStatus)) {
        f(&mut self.status.lock().expect("stream status lock"));
    }

    fn read<T>(&self, f: impl FnOnce(&StreamStatus) -> T) -> T {
        f(&self.status.lock().expect("stream status lock"))
    }
}

/// librdkafka callbacks of one stream: logs, rebalances (kept in [`StreamState`]) and
/// statistics (turned into lag reports).
struct StreamContext {
    stream: usize,
    state: Arc<StreamState>,
    lag: Option<LagReporter>,
}

impl ClientContext for StreamContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_librdkafka("consumer", level, facility, message);
    }

    fn error(&self, error: RdKafkaError, reason: &str) {
        if self.state.read(|s| s.closing) {
            tracing::debug!(stream = self.stream, %error, reason, "kafka consumer error while closing");
        } else {
            tracing::warn!(stream = self.stream, %error, reason, "kafka consumer error");
        }
    }

    fn stats(&self, statistics: Statistics) {
        let Some(lag) = &self.lag else { return };
        let assigned = self.state.read(|s| s.assignment.clone());
        for (name, topic) in &statistics.topics {
            for partition in topic.partitions.values() {
                if !assigned.contains(&(name.clone(), partition.partition)) {
                    continue;
                }
                // The stored offset moves with storage; the committed one lags it by up
                // to the auto-commit interval. Either is -1 until known.
                let value = if partition.consumer_lag_stored >= 0 {
                    partition.consumer_lag_stored
                } else {
                    partition.consumer_lag
                };
                if value >= 0 {
                    lag(name, partition.partition, value);
                }
            }
        }
    }
}

impl ConsumerContext for StreamContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                let added = partition_names(partitions);
                tracing::info!(stream = self.stream, partitions = ?added, "partitions assigned");
                self.state.update(|s| s.assignment.extend(added));
            }
            Rebalance::Revoke(partitions) => {
                let removed = partition_names(partitions);
                tracing::info!(stream = self.stream, partitions = ?removed, "partitions revoked");
                self.state.update(|s| {
                    for p in &removed {
                        s.assignment.remove(p);
                    }
                });
                if let Some(lag) = &self.lag {
                    for (topic, partition) in &removed {
                        lag(topic, *partition, 0);
                    }
                }
            }
            Rebalance::Error(error) => {
                tracing::warn!(stream = self.stream, %error, "consumer group rebalance failed")
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => {
                tracing::debug!(stream = self.stream, offsets = ?offset_list(offsets), "offsets committed")
            }
            // Nothing stored since the last commit: not a failure.
            Err(RdKafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => {
                tracing::warn!(stream = self.stream, %error, "committing offsets failed; retried on the next commit")
            }
        }
    }
}

fn partition_names(list: &TopicPartitionList) -> Vec<(String, i32)> {
    list.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

fn offset_list(list: &TopicPartitionList) -> Vec<String> {
    list.elements()
        .iter()
        .map(|e| format!("{}-{}@{:?}", e.topic(), e.partition(), e.offset()))
        .collect()
}

type KafkaConsumer = StreamConsumer<StreamContext>;

impl MetadataSource for KafkaConsumer {
    fn topic_exists(&self, topic: &str, timeout: Duration) -> Result<(), String> {
        topic_in_metadata(self.fetch_metadata(Some(topic), timeout), topic)
    }
}

/// The running consumers of one process.
pub struct KafkaCollector {
    health: Arc<ConsumerHealth>,
}

impl KafkaCollector {
    /// Creates `settings.streams` consumers and spawns them on `tasks`; each stops when
    /// `cancel` fires, committing what it stored.
    pub(super) fn start(
        settings: &KafkaSettings,
        collector: Arc<Collector>,
        lag: Option<LagReporter>,
        cancel: CancellationToken,
        tasks: &TaskTracker,
    ) -> Result<Self, KafkaError> {
        let dead_letters = match &settings.dlt_topic {
            Some(topic) => Some(Arc::new(DeadLetters::new(settings, topic)?)),
            None => None,
        };
        let mut defaults = vec![
            ("group.id", settings.group_id.as_str()),
            ("client.id", "zipwire"),
            // Zipkin's choice: a new group starts from the oldest retained message.
            ("auto.offset.reset", "earliest"),
            // At-least-once: offsets are stored by hand after storage accepted the
            // spans, and librdkafka commits only stored offsets.
            ("enable.auto.commit", "true"),
            ("enable.auto.offset.store", "false"),
        ];
        if lag.is_some() {
            defaults.push(("statistics.interval.ms", STATISTICS_INTERVAL_MS));
        }
        let config = settings.client_config(&defaults);

        let mut streams = Vec::with_capacity(settings.streams);
        let mut workers = Vec::with_capacity(settings.streams);
        for stream in 0..settings.streams {
            let state = Arc::new(StreamState::default());
            let context = StreamContext {
                stream,
                state: state.clone(),
                lag: lag.clone(),
            };
            let consumer: KafkaConsumer =
                config
                    .create_with_context(context)
                    .map_err(|source| KafkaError::Client {
                        client: "consumer",
                        source,
                    })?;
            let consumer = Arc::new(consumer);
            streams.push((Arc::downgrade(&consumer), state.clone()));
            let worker = Worker {
                stream,
                consumer,
                topics: settings.topics.clone(),
                collector: collector.clone(),
                dead_letters: dead_letters.clone(),
                state,
                cancel: cancel.clone(),
            };
            workers.push(worker);
        }
        // Only once every consumer could be created, so a configuration error starts none.
        for worker in workers {
            tasks.spawn(worker.run());
        }
        tracing::info!(settings = ?settings, streams = settings.streams, "kafka collector started");
        Ok(Self {
            health: Arc::new(ConsumerHealth {
                name: format!("{settings:?}"),
                topics: settings.topics.clone(),
                streams,
            }),
        })
    }

    /// The `/health` component of the consumers.
    pub fn health(&self) -> Arc<dyn HealthCheck> {
        self.health.clone()
    }

    /// Partitions assigned to this process's consumers right now, sorted.
    pub fn assignment(&self) -> Vec<(String, i32)> {
        self.health.assignment()
    }
}

/// One group member's loop.
struct Worker {
    stream: usize,
    consumer: Arc<KafkaConsumer>,
    topics: Vec<String>,
    collector: Arc<Collector>,
    dead_letters: Option<Arc<DeadLetters>>,
    state: Arc<StreamState>,
    cancel: CancellationToken,
}

/// Whether the loop goes on after a message.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

impl Worker {
    async fn run(self) {
        if self.wait_for_topics().await {
            let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
            match self.consumer.subscribe(&topics) {
                Ok(()) => self.consume().await,
                Err(error) => {
                    tracing::error!(stream = self.stream, %error, "cannot subscribe to the kafka topics; this consumer stops")
                }
            }
        }
        self.close().await;
    }

    /// Waits until every topic exists (Zipkin waits for absent topics rather than failing),
    /// reporting the missing ones in `/health`. False when cancelled first.
    async fn wait_for_topics(&self) -> bool {
        let mut logged = false;
        loop {
            let missing = self.missing_topics().await;
            if missing.is_empty() {
                self.state.update(|s| s.missing_topics.clear());
                return true;
            }
            if !logged {
                let reasons: Vec<&str> = missing.iter().map(|(_, why)| why.as_str()).collect();
                tracing::warn!(stream = self.stream, reasons = ?reasons, "waiting for the kafka topics before subscribing");
                logged = true;
            }
            self.state
                .update(|s| s.missing_topics = missing.into_iter().map(|(t, _)| t).collect());
            tokio::select! {
                () = self.cancel.cancelled() => return false,
                () = tokio::time::sleep(TOPIC_RECHECK) => {}
            }
        }
    }

    /// Topics not (yet) usable, each with the reason (missing, or no cluster answering).
    async fn missing_topics(&self) -> Vec<(String, String)> {
        let consumer = self.consumer.clone();
        let topics = self.topics.clone();
        tokio::task::spawn_blocking(move || {
            topics
                .into_iter()
                .filter_map(|t| {
                    let error = consumer.topic_exists(&t, super::PROBE_TIMEOUT).err()?;
                    Some((t, error))
                })
                .collect()
        })
        .await
        .unwrap_or_else(|e| {
            let why = format!("topic check failed: {e}");
            self.topics
                .iter()
                .map(|t| (t.clone(), why.clone()))
                .collect()
        })
    }

    async fn consume(&self) {
        // Messages fetched while paused, in arrival order (so per partition in offset order).
        let mut backlog: VecDeque<OwnedMessage> = VecDeque::new();
        loop {
            let flow = if let Some(message) = backlog.pop_front() {
                self.handle(&message, &mut backlog).await
            } else {
                let received = tokio::select! {
                    biased;
                    () = self.cancel.cancelled() => break,
                    received = self.consumer.recv() => received,
                };
                match received {
                    Ok(message) => self.handle(&message, &mut backlog).await,
                    Err(error) => {
                        self.on_error(&error);
                        Flow::Continue
                    }
                }
            };
            if flow == Flow::Stop {
                break;
            }
            // With a backlog, `recv` and an in-memory store are always ready, so without
            // this the loop would hold its worker thread until the topic is drained,
            // starving HTTP requests (and `/health`) on a small instance. A message is
            // far more work than a yield.
            tokio::task::yield_now().await;
        }
    }

    /// One message: count, decode, store (or set aside), then store its offset.
    async fn handle<M: Message>(&self, message: &M, backlog: &mut VecDeque<OwnedMessage>) -> Flow {
        let counters = self.collector.metrics().transport(Transport::Kafka);
        let payload = message.payload().unwrap_or_default();
        counters.increment_messages();
        counters.add_bytes(payload.len());
        if payload.is_empty() {
            self.store_offset(message);
            return Flow::Continue;
        }
        let spans = match decode(payload) {
            Ok(spans) => spans,
            Err(error) => {
                counters.increment_messages_dropped();
                tracing::warn!(
                    topic = message.topic(),
                    partition = message.partition(),
                    offset = message.offset(),
                    %error,
                    "skipping undecodable message"
                );
                if let Some(dlt) = &self.dead_letters {
                    let flow = self
                        .until_ok("dead-letter topic", backlog, || dlt.send(message, &error))
                        .await;
                    if flow == Flow::Stop {
                        return flow;
                    }
                }
                self.store_offset(message);
                return Flow::Continue;
            }
        };
        let spans = self.collector.count_and_sample(Transport::Kafka, spans);
        if !spans.is_empty() {
            let mut first = Some(spans);
            let flow = self
                .until_ok("storage", backlog, || {
                    // A retry decodes again rather than cloning every message up front.
                    let spans = first.take().unwrap_or_else(|| self.redecode(payload));
                    let collector = self.collector.clone();
                    async move { collector.store(spans).await.map_err(|e| e.to_string()) }
                })
                .await;
            if flow == Flow::Stop {
                return flow;
            }
        }
        self.store_offset(message);
        Flow::Continue
    }

    /// The sampled spans of a payload that decoded before.
    fn redecode(&self, payload: &[u8]) -> Vec<Span> {
        let sampler = self.collector.sampler();
        let mut spans = decode(payload).unwrap_or_default();
        spans.retain(|s| sampler.is_sampled(s));
        spans
    }

    /// Runs `attempt` until it succeeds. While it fails, the stream's partitions are
    /// paused and the consumer is still polled (group membership needs it); `Stop` when
    /// shutdown comes first, in which case the offset is not stored.
    async fn until_ok<F, Fut>(
        &self,
        what: &'static str,
        backlog: &mut VecDeque<OwnedMessage>,
        mut attempt: F,
    ) -> Flow
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let mut delay = INITIAL_BACKOFF;
        let mut paused = false;
        loop {
            let error = match attempt().await {
                Ok(()) => break,
                Err(error) => error,
            };
            if !paused {
                tracing::warn!(stream = self.stream, %error, "cannot write to {what}; pausing consumption and retrying");
                self.set_paused(true);
                self.state
                    .update(|s| s.paused = Some((what, error.clone())));
                paused = true;
            } else {
                tracing::debug!(stream = self.stream, %error, retry_in = ?delay, "{what} still failing");
            }
            if !self.wait_paused(delay, backlog).await {
                return Flow::Stop;
            }
            delay = (delay * 2).min(MAX_BACKOFF);
        }
        if paused {
            tracing::info!(
                stream = self.stream,
                "{what} accepted again; resuming consumption"
            );
            self.set_paused(false);
            self.state.update(|s| s.paused = None);
        }
        Flow::Continue
    }

    /// Sleeps `delay` while serving the consumer: rebalances and errors are handled, and a
    /// message that still arrives is kept in `backlog` with its partition paused. False
    /// when cancelled.
    async fn wait_paused(&self, delay: Duration, backlog: &mut VecDeque<OwnedMessage>) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return false,
                () = &mut sleep => return true,
                received = self.consumer.recv() => match received {
                    Ok(message) => {
                        // A partition assigned during the outage is not paused yet.
                        let mut partition = TopicPartitionList::new();
                        partition.add_partition(message.topic(), message.partition());
                        if let Err(error) = self.consumer.pause(&partition) {
                            tracing::debug!(%error, "cannot pause partition");
                        }
                        backlog.push_back(message.detach());
                    }
                    Err(error) => self.on_error(&error),
                },
            }
        }
    }

    fn set_paused(&self, pause: bool) {
        let assignment = match self.consumer.assignment() {
            Ok(assignment) => assignment,
            Err(error) => {
                tracing::warn!(stream = self.stream, %error, "cannot read the assignment");
                return;
            }
        };
        let result = if pause {
            self.consumer.pause(&assignment)
        } else {
            self.consumer.resume(&assignment)
        };
        if let Err(error) = result {
            tracing::warn!(stream = self.stream, %error, pause, "cannot pause or resume partitions");
        }
    }

    /// Marks `message` done: its offset + 1 is committed with the next (auto) commit.
    fn store_offset<M: Message>(&self, message: &M) {
        // librdkafka stores offset + 1 here. It refuses partitions no longer assigned;
        // the new owner then reads the message again, which is harmless.
        if let Err(error) =
            self.consumer
                .store_offset(message.topic(), message.partition(), message.offset())
        {
            tracing::debug!(
                topic = message.topic(),
                partition = message.partition(),
                offset = message.offset(),
                %error,
                "offset not stored"
            );
        }
    }

    fn on_error(&self, error: &RdKafkaError) {
        tracing::warn!(stream = self.stream, %error, "kafka consumer error");
    }

    /// Commits what was stored and leaves the group. librdkafka's close blocks until the
    /// coordinator answers, so it runs on a thread of its own that is abandoned after
    /// [`CLOSE_TIMEOUT`] (the blocking pool would hold up the runtime's shutdown).
    async fn close(self) {
        let stream = self.stream;
        self.state.update(|s| s.closing = true);
        let consumer = self.consumer;
        let (done, closed) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("kafka-close-{stream}"))
            .spawn(move || {
                match consumer.commit_consumer_state(CommitMode::Sync) {
                    Ok(()) | Err(RdKafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                    Err(error) => {
                        tracing::warn!(stream, %error, "final offset commit failed; the next owner re-reads from the last commit")
                    }
                }
                drop(consumer);
                let _ = done.send(());
            });
        if let Err(error) = spawned {
            tracing::warn!(stream, %error, "cannot start a thread to close the kafka consumer");
            return;
        }
        match tokio::time::timeout(CLOSE_TIMEOUT, closed).await {
            Ok(_) => tracing::info!(stream, "kafka consumer stopped"),
            Err(_) => {
                tracing::warn!(stream, timeout = ?CLOSE_TIMEOUT, "kafka consumer did not leave the group in time (brokers unreachable?); abandoning it")
            }
        }
    }
}

/// Any encoding Zipkin accepts on a broker, including a single legacy Thrift span.
fn decode(payload: &[u8]) -> Result<Vec<Span>, String> {
    let run = || detect::decode_message(payload).map_err(|e| e.to_string());
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if payload.len() > OFFLOAD_DECODE_BYTES && multi_thread {
        tokio::task::block_in_place(run)
    } else {
        run()
    }
}

/// `/health` of the consumers: UP when the cluster answers and the topics exist.
struct ConsumerHealth {
    name: String,
    topics: Vec<String>,
    /// Weak, so a health probe never keeps a stopped consumer alive.
    streams: Vec<(Weak<KafkaConsumer>, Arc<StreamState>)>,
}

impl ConsumerHealth {
    fn assignment(&self) -> Vec<(String, i32)> {
        let mut all: Vec<(String, i32)> = self
            .streams
            .iter()
            .flat_map(|(_, state)| state.read(|s| s.assignment.iter().cloned().collect::<Vec<_>>()))
            .collect();
        all.sort();
        all
    }
}

#[async_trait]
impl HealthCheck for ConsumerHealth {
    fn name(&self) -> String {
        self.name.clone()
    }

    async fn check(&self) -> Result<Map<String, Value>, String> {
        // First, so the error names the actual trouble: no cluster, or a missing topic.
        let Some(consumer) = self.streams.iter().find_map(|(c, _)| c.upgrade()) else {
            return Err("the kafka consumers have stopped".into());
        };
        probe_topics(consumer, self.topics.clone()).await?;
        let mut paused = None;
        for (_, state) in &self.streams {
            let (missing, pause) = state.read(|s| (s.missing_topics.clone(), s.paused.clone()));
            if !missing.is_empty() {
                // The topics exist now; the stream subscribes at its next check.
                return Err(format!(
                    "waiting for topic(s) {} to be created",
                    missing.join(",")
                ));
            }
            if let Some((what, error)) = pause {
                // Storage has its own component; a dead-letter topic has none.
                if what == "dead-letter topic" {
                    return Err(format!("paused: cannot write to the {what}: {error}"));
                }
                paused = Some(format!("cannot write to {what}: {error}"));
            }
        }
        let mut details = Map::new();
        let assignment: Vec<String> = self
            .assignment()
            .into_iter()
            .map(|(topic, partition)| format!("{topic}-{partition}"))
            .collect();
        details.insert("assignment".into(), json!(assignment));
        if let Some(paused) = paused {
            details.insert("paused".into(), json!(paused));
        }
        Ok(details)
    }
}
