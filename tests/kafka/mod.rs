//! Support for the Kafka integration tests: the two brokers every case runs against
//! (librdkafka's in-process mock cluster, and a tansu process on a free port), a running
//! Zipwire, a producer, offset and topic readers, a store that refuses on demand, and
//! polling with deadlines.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{DefaultProducerContext, FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zipwire::app::App;
use zipwire::collector::{CollectorMetrics, Transport, TransportSnapshot};
use zipwire::model::{DependencyLink, QueryRequest, Span, TraceId};
use zipwire::storage::memory::MemoryStore;
use zipwire::storage::{SpanStore, StorageError, StorageOptions};

/// Longest wait for anything a test polls for. Generous: CI has two busy cores.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A Kafka-protocol broker a test talks to over TCP.
pub trait Broker {
    fn bootstrap(&self) -> String;
    fn create_topic(&self, name: &str, partitions: i32);
    fn name(&self) -> &'static str;
}

/// librdkafka's mock cluster, in-process.
pub struct MockBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl MockBroker {
    pub fn start() -> Self {
        Self {
            cluster: MockCluster::new(1).expect("mock cluster"),
        }
    }
}

impl Broker for MockBroker {
    fn bootstrap(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    fn create_topic(&self, name: &str, partitions: i32) {
        self.cluster
            .create_topic(name, partitions, 1)
            .expect("create topic on the mock cluster");
    }

    fn name(&self) -> &'static str {
        "mock"
    }
}

/// A tansu broker process with in-memory storage, killed on drop.
pub struct TansuBroker {
    child: Child,
    port: u16,
    binary: PathBuf,
}

/// The tansu binary: `TANSU_BIN`, else where `scripts/ensure-tansu.sh` installs it, else
/// `PATH`.
fn tansu_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU_BIN") {
        return PathBuf::from(path);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let cached = PathBuf::from(home).join(".cache/zipwire-tools/bin/tansu");
        if cached.exists() {
            return cached;
        }
    }
    PathBuf::from("tansu")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl TansuBroker {
    pub fn start() -> Self {
        let binary = tansu_binary();
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        // A clean environment: tansu reads LISTENER_URL, STORAGE_ENGINE,
        // OTEL_EXPORTER_OTLP_ENDPOINT and others from it.
        let child = Command::new(&binary)
            .env_clear()
            .env("RUST_LOG", "warn")
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start tansu ({}): {e}; run scripts/ensure-tansu.sh or set TANSU_BIN",
                    binary.display()
                )
            });
        let mut broker = Self {
            child,
            port,
            binary,
        };
        let deadline = Instant::now() + DEADLINE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!("tansu exited before listening: {status}");
            }
            assert!(Instant::now() < deadline, "tansu did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        broker.port = port;
        broker
    }
}

impl Broker for TansuBroker {
    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn create_topic(&self, name: &str, partitions: i32) {
        let status = Command::new(&self.binary)
            .env_clear()
            .args([
                "topic",
                "create",
                name,
                "--partitions",
                &partitions.to_string(),
                "--broker",
                &format!("tcp://127.0.0.1:{}", self.port),
            ])
            .stdout(Stdio::null())
            .status()
            .expect("run tansu topic create");
        assert!(status.success(), "tansu topic create {name}: {status}");
    }

    fn name(&self) -> &'static str {
        "tansu"
    }
}

impl Drop for TansuBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A name no other test (or earlier run against the same broker) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::random::<u64>())
}

/// Evaluates `$check` (an expression giving an `Option`, `.await` allowed) every 50 ms
/// until it is `Some`, and yields the value; fails the test with `$what` at [`DEADLINE`].
#[macro_export]
macro_rules! eventually {
    ($what:expr, $check:expr) => {{
        let deadline = std::time::Instant::now() + $crate::kafka::DEADLINE;
        loop {
            if let Some(value) = $check {
                break value;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {}",
                $what
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }};
}

/// A producer for the test's own messages.
pub struct Producer {
    producer: FutureProducer,
}

impl Producer {
    pub fn new(bootstrap: &str) -> Self {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .create()
            .expect("test producer");
        Self { producer }
    }

    /// Sends one message and waits for the acknowledgement.
    pub async fn send(
        &self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: &[u8],
    ) {
        self.send_with_headers(topic, partition, key, value, &[])
            .await;
    }

    pub async fn send_with_headers(
        &self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: &[u8],
        headers: &[(&str, &str)],
    ) {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).payload(value);
        if let Some(partition) = partition {
            record = record.partition(partition);
        }
        if let Some(key) = key {
            record = record.key(key);
        }
        if !headers.is_empty() {
            let mut owned = OwnedHeaders::new();
            for (key, value) in headers {
                owned = owned.insert(Header {
                    key,
                    value: Some(*value),
                });
            }
            record = record.headers(owned);
        }
        self.producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| e)
            .expect("test message acknowledged");
    }
}

/// A message read back from a topic.
#[derive(Debug, Clone)]
pub struct Received {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Received {
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `count` messages from `topic` (all partitions, from the start) with a fresh
/// group, for checking what Zipwire published.
pub async fn read_topic(bootstrap: &str, topic: &str, count: usize) -> Vec<Received> {
    let bootstrap = bootstrap.to_owned();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", unique("reader"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("reader");
        consumer.subscribe(&[&topic]).expect("subscribe");
        let deadline = Instant::now() + DEADLINE;
        let mut out = Vec::new();
        while out.len() < count {
            assert!(
                Instant::now() < deadline,
                "read {} of {count} messages from {topic}",
                out.len()
            );
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => out.push(Received {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().unwrap_or_default().to_vec(),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| {
                                    (
                                        h.key.to_owned(),
                                        String::from_utf8_lossy(h.value.unwrap_or_default())
                                            .into_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                }),
                Some(Err(e)) => eprintln!("reader: {e}"),
                None => {}
            }
        }
        out
    })
    .await
    .expect("reader thread")
}

/// The offsets `group` committed for partitions `0..partitions` of `topic` (`None` where
/// nothing was committed).
pub async fn committed(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> Vec<Option<i64>> {
    let (bootstrap, group, topic) = (bootstrap.to_owned(), group.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        // Not subscribed: fetching committed offsets does not join the group.
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("offset reader");
        let mut list = TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition(&topic, p);
        }
        let list = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .expect("committed offsets");
        (0..partitions)
            .map(
                |p| match list.find_partition(&topic, p).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => Some(o),
                    _ => None,
                },
            )
            .collect()
    })
    .await
    .expect("offset reader thread")
}

/// A Zipwire serving on a free port until [`Running::stop`].
pub struct Running {
    pub port: u16,
    pub metrics: Arc<CollectorMetrics>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    pub async fn start(args: &[&str], store: Arc<dyn SpanStore>) -> Self {
        // `TEST_LOG=zipwire=debug` shows what the app did (captured per test).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_env("TEST_LOG"))
            .with_test_writer()
            .try_init();
        let config = crate::common::config(args);
        let app = App::with_store(config, store).await.expect("app starts");
        let port = app.port();
        let metrics = app.telemetry().metrics.collector().clone();
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        Self {
            port,
            metrics,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn kafka(&self) -> TransportSnapshot {
        self.metrics.transport(Transport::Kafka).snapshot()
    }

    /// `/health` status code and body.
    pub async fn health(&self) -> (u16, serde_json::Value) {
        let response = reqwest::get(self.url("/health"))
            .await
            .expect("GET /health");
        let status = response.status().as_u16();
        (status, response.json().await.expect("health JSON"))
    }

    /// Partitions the Kafka component of `/health` lists as assigned.
    pub async fn assignment(&self) -> Vec<String> {
        let (_, body) = self.health().await;
        let details = &body["zipkin"]["details"];
        details
            .as_object()
            .into_iter()
            .flat_map(|d| d.iter())
            .filter(|(name, _)| name.starts_with("KafkaCollector"))
            .flat_map(|(_, c)| {
                c["details"]["assignment"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect()
    }

    /// Graceful shutdown: consumers commit what they stored and leave the group.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.expect("app task").expect("app run");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The flags every Kafka test passes: the broker, its topic and group, and settings that
/// make group changes and commits quick enough to watch.
pub fn kafka_args(bootstrap: &str, topic: &str, group: &str) -> Vec<String> {
    [
        "--kafka-bootstrap-servers",
        bootstrap,
        "--kafka-topic",
        topic,
        "--kafka-group-id",
        group,
        "--kafka-property",
        "auto.commit.interval.ms=100",
        "--kafka-property",
        "heartbeat.interval.ms=500",
        "--kafka-property",
        "session.timeout.ms=10000",
        // The lag gauges come from librdkafka's statistics (every 10 s by default).
        "--kafka-property",
        "statistics.interval.ms=200",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub fn memory_store() -> Arc<dyn SpanStore> {
    Arc::new(MemoryStore::new(StorageOptions::default(), 500_000))
}

/// Whether every span of `trace` is in `store` (as many spans as expected).
pub async fn has_trace(store: &dyn SpanStore, trace: TraceId, spans: usize) -> bool {
    store
        .get_trace(trace)
        .await
        .map(|t| t.len() == spans)
        .unwrap_or(false)
}

/// A store that refuses writes while its gate is closed, counting the refusals.
pub struct GatedStore {
    inner: Arc<dyn SpanStore>,
    open: AtomicBool,
    pub refused: AtomicUsize,
    pub accepted: AtomicUsize,
}

impl GatedStore {
    pub fn closed() -> Arc<Self> {
        Arc::new(Self {
            inner: memory_store(),
            open: AtomicBool::new(false),
            refused: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
        })
    }

    pub fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SpanStore for GatedStore {
    async fn accept(&self, spans: Vec<Span>) -> Result<(), StorageError> {
        if !self.open.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(StorageError::Unavailable("connection refused".into()));
        }
        self.accepted.fetch_add(spans.len(), Ordering::SeqCst);
        self.inner.accept(spans).await
    }
    async fn get_traces(&self, r: &QueryRequest) -> Result<Vec<Vec<Span>>, StorageError> {
        self.inner.get_traces(r).await
    }
    async fn get_trace(&self, id: TraceId) -> Result<Vec<Span>, StorageError> {
        self.inner.get_trace(id).await
    }
    async fn get_traces_by_ids(&self, ids: &[TraceId]) -> Result<Vec<Vec<Span>>, StorageError> {
        self.inner.get_traces_by_ids(ids).await
    }
    async fn get_service_names(&self) -> Result<Vec<String>, StorageError> {
        self.inner.get_service_names().await
    }
    async fn get_remote_service_names(&self, s: &str) -> Result<Vec<String>, StorageError> {
        self.inner.get_remote_service_names(s).await
    }
    async fn get_span_names(&self, s: &str) -> Result<Vec<String>, StorageError> {
        self.inner.get_span_names(s).await
    }
    async fn get_dependencies(&self, e: i64, l: i64) -> Result<Vec<DependencyLink>, StorageError> {
        self.inner.get_dependencies(e, l).await
    }
    async fn get_autocomplete_keys(&self) -> Result<Vec<String>, StorageError> {
        self.inner.get_autocomplete_keys().await
    }
    async fn get_autocomplete_values(&self, k: &str) -> Result<Vec<String>, StorageError> {
        self.inner.get_autocomplete_values(k).await
    }
    async fn check(&self) -> Result<(), StorageError> {
        Ok(())
    }
    fn name(&self) -> String {
        "GatedStore{}".into()
    }
}

/// Expands generic `async fn case(broker: &dyn Broker)` functions into one test per
/// broker: `mock::case` and `tansu::case`. Cases listed after `mock_only:` need
/// something tansu lacks (each says what) and run on the mock cluster alone.
#[macro_export]
macro_rules! broker_tests {
    ($($case:ident),* $(,)? $(; mock_only: $($mock_case:ident),* $(,)?)?) => {
        mod mock {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let broker = $crate::kafka::MockBroker::start();
                    super::$case(&broker).await;
                }
            )*
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $mock_case() {
                    let broker = $crate::kafka::MockBroker::start();
                    super::$mock_case(&broker).await;
                }
            )*)?
        }
        mod tansu {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let broker = $crate::kafka::TansuBroker::start();
                    super::$case(&broker).await;
                }
            )*
        }
    };
}
