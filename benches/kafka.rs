//! Kafka ingest throughput next to HTTP ingest, same corpus, same machine, same run:
//!
//! 1. HTTP JSON ingest (100-span bodies, 8 connections) into the memory store: the baseline;
//! 2. Kafka ingest by one consumer (`KAFKA_STREAMS=1`) of the same bodies as messages, JSON v2
//!    and proto3, pre-loaded into a one-partition topic, into the memory store;
//! 3. the forwarding tier: HTTP ingest with `COLLECTOR_FORWARD=kafka` (202 after the broker
//!    acknowledged each trace's message).
//!
//! Each figure is spans per server CPU-second and per wall second. The server is the real
//! binary pinned to core 0 (with `taskset`); this process, which produces and polls, and the
//! broker run on core 1. The broker is tansu (`TANSU_BIN` or `scripts/ensure-tansu.sh`'s
//! install) when present, else librdkafka's mock cluster in this process;
//! `ZIPWIRE_BENCH_BROKER=mock|tansu` chooses.
//!
//! Run: `cargo bench --bench kafka` (200k spans; `ZIPWIRE_BENCH_SPANS` to change). Under
//! `cargo test` it makes a small smoke pass on the mock cluster.

use std::io::Read;
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::mocking::MockCluster;
use rdkafka::producer::{DefaultProducerContext, FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use zipwire::codec::{json_v2, proto3};

#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/ingest.rs"]
mod ingest;

const SPANS_PER_BODY: usize = 100;
const CONNECTIONS: usize = 8;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    if full && std::env::var_os("ZIPWIRE_BENCH_PINNED").is_none() && has_taskset() {
        // Re-run on core 1; the server gets core 0.
        let exe = std::env::current_exe().expect("own path");
        let status = Command::new("taskset")
            .args(["-c", "1"])
            .arg(exe)
            .args(std::env::args().skip(1))
            .env("ZIPWIRE_BENCH_PINNED", "1")
            .status()
            .expect("taskset runs");
        std::process::exit(status.code().unwrap_or(1));
    }
    let n: usize = std::env::var("ZIPWIRE_BENCH_SPANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 200_000 } else { 2_000 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(n, full));
}

async fn run(n: usize, full: bool) {
    let objects = corpus::generate_span_objects(n, corpus::SEED);
    let json: Vec<Vec<u8>> = objects
        .chunks(SPANS_PER_BODY)
        .map(|chunk| format!("[{}]", chunk.join(",")).into_bytes())
        .collect();
    let proto: Vec<Vec<u8>> = json
        .iter()
        .map(|body| proto3::encode_list(&json_v2::decode_spans(body).unwrap()))
        .collect();
    let per_span =
        |bodies: &[Vec<u8>]| bodies.iter().map(Vec::len).sum::<usize>() as f64 / n as f64;

    let broker = Broker::start(full);
    println!(
        "# zipwire Kafka bench: {n} spans, {SPANS_PER_BODY} spans per body/message, broker: {}\n",
        broker.name()
    );
    println!(
        "corpus: {:.0} bytes per span as JSON v2, {:.0} as proto3\n",
        per_span(&json),
        per_span(&proto)
    );

    let http = {
        let server = Server::start(n, &[]);
        server.measure_posts(&json).await
    };

    let mut kafka = Vec::new();
    for (label, bodies) in [("JSON v2", &json), ("proto3", &proto)] {
        let topic = format!("bench-{}", label.replace(' ', "").to_lowercase());
        let partitions = broker.partitions_for(bodies.iter().map(Vec::len).sum());
        broker.create_topic(&topic, partitions);
        produce_all(&broker.bootstrap(), &topic, partitions, bodies).await;
        let server = Server::start(
            n,
            &[
                ("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap()),
                ("KAFKA_TOPIC", topic.clone()),
                ("KAFKA_GROUP_ID", format!("bench-{topic}")),
                ("KAFKA_STREAMS", "1".into()),
            ],
        );
        kafka.push((label, server.measure_consumed(n).await));
    }

    let forward = {
        broker.create_topic("bench-forward", 1);
        let server = Server::start(
            n,
            &[
                ("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap()),
                ("KAFKA_TOPIC", "bench-forward".into()),
                ("COLLECTOR_FORWARD", "kafka".into()),
                ("COLLECTOR_KAFKA_ENABLED", "false".into()),
            ],
        );
        server.measure_posts(&json).await
    };

    println!("## Ingest into the memory store (server on one core)\n");
    println!("| path | spans per server CPU-second | ratio to HTTP | wall spans/s |");
    println!("|---|---:|---:|---:|");
    println!(
        "| HTTP POST JSON v2, {CONNECTIONS} connections (baseline) | {:.0} | 1.00 | {:.0} |",
        http.per_cpu, http.per_wall
    );
    for (label, rate) in &kafka {
        println!(
            "| Kafka, one consumer, {label} messages | {:.0} | {:.2} | {:.0} |",
            rate.per_cpu,
            rate.per_cpu / http.per_cpu,
            rate.per_wall
        );
    }
    println!(
        "| HTTP POST forwarded to Kafka (COLLECTOR_FORWARD=kafka, 202 after ack) | {:.0} | {:.2} | {:.0} |",
        forward.per_cpu,
        forward.per_cpu / http.per_cpu,
        forward.per_wall
    );
}

/// Spans per server CPU-second and per wall second.
struct Rate {
    per_cpu: f64,
    per_wall: f64,
}

/// Loads `bodies` into `topic` (round-robin over `partitions`) before any consumer runs.
async fn produce_all(bootstrap: &str, topic: &str, partitions: i32, bodies: &[Vec<u8>]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("message.max.bytes", "10000000")
        .set("message.timeout.ms", "120000")
        .create()
        .expect("bench producer");
    let mut deliveries = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.iter().enumerate() {
        let mut record: FutureRecord<'_, (), [u8]> = FutureRecord::to(topic)
            .payload(body.as_slice())
            .partition(i as i32 % partitions);
        loop {
            match producer.send_result(record) {
                Ok(delivery) => break deliveries.push(delivery),
                // Local queue full: let librdkafka drain it, then offer the record again.
                Err((_, returned)) => {
                    record = returned;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }
    for delivery in deliveries {
        delivery
            .await
            .expect("delivery")
            .map_err(|(e, _)| e)
            .expect("message acknowledged");
    }
}

enum Broker {
    Mock(MockCluster<'static, DefaultProducerContext>),
    Tansu {
        child: Child,
        port: u16,
        binary: PathBuf,
    },
}

impl Broker {
    fn start(full: bool) -> Self {
        let choice = std::env::var("ZIPWIRE_BENCH_BROKER").ok();
        let tansu = tansu_binary();
        let use_tansu = match choice.as_deref() {
            Some("tansu") => true,
            Some("mock") => false,
            _ => full && tansu.exists(),
        };
        if !use_tansu {
            return Broker::Mock(MockCluster::new(1).expect("mock cluster"));
        }
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&tansu)
            .env_clear()
            .env("RUST_LOG", "warn")
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .spawn()
            .expect("start tansu");
        wait_for_port(port);
        Broker::Tansu {
            child,
            port,
            binary: tansu,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Broker::Mock(_) => "librdkafka mock cluster (in the bench process)",
            Broker::Tansu { .. } => "tansu (memory storage, own process)",
        }
    }

    fn bootstrap(&self) -> String {
        match self {
            Broker::Mock(cluster) => cluster.bootstrap_servers(),
            Broker::Tansu { port, .. } => format!("127.0.0.1:{port}"),
        }
    }

    /// Partitions for a topic holding `bytes`: one (the consumer reads it in order) except
    /// on the mock cluster, whose partitions keep only their last 5 MB or so, so the
    /// corpus is spread thin enough to be kept whole. One consumer reads them all either
    /// way.
    fn partitions_for(&self, bytes: usize) -> i32 {
        match self {
            Broker::Mock(_) => (bytes / (2 << 20) + 1) as i32,
            Broker::Tansu { .. } => 1,
        }
    }

    fn create_topic(&self, name: &str, partitions: i32) {
        match self {
            Broker::Mock(cluster) => cluster.create_topic(name, partitions, 1).expect("topic"),
            Broker::Tansu { port, binary, .. } => {
                let status = Command::new(binary)
                    .env_clear()
                    .args([
                        "topic",
                        "create",
                        name,
                        "--partitions",
                        &partitions.to_string(),
                    ])
                    .args(["--broker", &format!("tcp://127.0.0.1:{port}")])
                    .stdout(Stdio::null())
                    .status()
                    .expect("tansu topic create");
                assert!(status.success(), "tansu topic create {name}");
            }
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Broker::Tansu { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn tansu_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU_BIN") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join(".cache/zipwire-tools/bin/tansu")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn has_taskset() -> bool {
    Command::new("taskset")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The zipwire binary on a free port, on core 0 when pinned, with extra environment.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(n: usize, env: &[(&str, String)]) -> Self {
        let port = free_port();
        let exe = env!("CARGO_BIN_EXE_zipwire");
        let mut command = if std::env::var_os("ZIPWIRE_BENCH_PINNED").is_some() {
            let mut c = Command::new("taskset");
            c.args(["-c", "0", exe]);
            c
        } else {
            Command::new(exe)
        };
        // `ZIPWIRE_BENCH_LOG=info` shows the server's log on this bench's stderr.
        let log = std::env::var("ZIPWIRE_BENCH_LOG").ok();
        let stdout = match &log {
            Some(_) => std::io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
            None => Stdio::null(),
        };
        command
            .env("QUERY_PORT", port.to_string())
            .env("QUERY_BIND_ADDRESS", "127.0.0.1")
            .env("MEM_MAX_SPANS", (n * 2).to_string())
            .env("LOG_LEVEL", log.as_deref().unwrap_or("warn"))
            .stdout(stdout);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("start zipwire");
        wait_for_port(port);
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// POSTs every body over [`CONNECTIONS`] connections; each must be answered 202.
    async fn measure_posts(&self, bodies: &[Vec<u8>]) -> Rate {
        let spans = bodies.len() * SPANS_PER_BODY;
        let cpu_before = self.cpu_seconds();
        let started = Instant::now();
        ingest::post_all(&self.base, bodies, CONNECTIONS).await;
        let wall = started.elapsed().as_secs_f64();
        let cpu = self.cpu_seconds() - cpu_before;
        Rate {
            per_cpu: spans as f64 / cpu,
            per_wall: spans as f64 / wall,
        }
    }

    /// Waits until the Kafka consumer counted `n` spans (and stored them: the counter moves
    /// before the store call, so the last message's store is within one poll interval).
    /// Timed from the first consumed message, so group join and start-up are left out.
    async fn measure_consumed(&self, n: usize) -> Rate {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut first: Option<(Instant, f64, u64)> = None;
        loop {
            let metrics: serde_json::Value = client
                .get(format!("{}/metrics", self.base))
                .send()
                .await
                .expect("metrics")
                .json()
                .await
                .expect("metrics JSON");
            let spans = metrics["counter.zipkin_collector.spans.kafka"]
                .as_u64()
                .unwrap_or(0);
            let dropped = metrics["counter.zipkin_collector.messages_dropped.kafka"]
                .as_u64()
                .unwrap_or(0);
            assert_eq!(dropped, 0, "the corpus decodes");
            if spans > 0 && first.is_none() {
                first = Some((Instant::now(), self.cpu_seconds(), spans));
            }
            if spans as usize >= n {
                let (t0, cpu0, spans0) = first.expect("first observation");
                let consumed = (spans - spans0) as f64;
                return Rate {
                    per_cpu: consumed / (self.cpu_seconds() - cpu0),
                    per_wall: consumed / t0.elapsed().as_secs_f64(),
                };
            }
            assert!(Instant::now() < deadline, "consumed {spans} of {n} spans");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// utime + stime of the server process.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        ticks / clock_ticks_per_second()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clock_ticks_per_second() -> f64 {
    let mut out = String::new();
    Command::new("getconf")
        .arg("CLK_TCK")
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdout.take().unwrap().read_to_string(&mut out)?;
            c.wait()
        })
        .ok();
    out.trim().parse().unwrap_or(100.0)
}
