//! End-to-end figures of the in-memory server (issue targets), each next to its physical
//! baseline measured by this same harness in the same run:
//!
//! 1. HTTP JSON ingest (100-span bodies) into the memory store, per server CPU-second,
//!    against a plain `serde_json` parse of the same bodies into owned structs on one core;
//! 2. resident memory per stored span against the span's JSON size;
//! 3. `/api/v2/trace/{id}` and `/api/v2/traces?serviceName=..&limit=10` latency (p50/p99)
//!    against the round trip of a trivial endpoint (`/info`) over the same connection;
//! 4. JSON encoding of stored traces (store read + encode) against `serde_json::to_vec` of
//!    the same spans as owned structs.
//!
//! Run: `cargo bench --bench server` (1M spans; `ZIPWIRE_BENCH_SPANS` to change). The server
//! is the real binary, pinned to core 0 with `taskset` when available, while this process
//! re-executes itself on core 1, so server CPU and client CPU do not mix. Under
//! `cargo test` (no `--bench` argument) it runs a small smoke pass instead.
//!
//! Profiling: `ZIPWIRE_BENCH_INGEST_ONLY=1` stops after the ingest figures,
//! `ZIPWIRE_BENCH_BIN=<path>` benchmarks another build of the server, and
//! `ZIPWIRE_BENCH_SERVER_WRAP="perf record -e cpu-clock -F 2000 -o server.perf --"` runs the
//! server under a profiler (the server is stopped with SIGTERM, so the profiler can finish
//! its file).

use std::hint::black_box;
use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zipwire::codec::json_v2;
use zipwire::model::{Span, TraceId};
use zipwire::storage::memory::MemoryStore;
use zipwire::storage::{SpanStore, StorageOptions};

#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/ingest.rs"]
mod ingest;
#[path = "support/owned.rs"]
mod owned;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SPANS_PER_BODY: usize = 100;
const CONNECTIONS: usize = 8;
/// Ingest rounds, each compared with a raw parse of its own bodies.
const INGEST_ROUNDS: usize = 5;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    if full && std::env::var_os("ZIPWIRE_BENCH_PINNED").is_none() && has_taskset() {
        // Re-run this bench on core 1; the server gets core 0.
        let exe = std::env::current_exe().expect("own path");
        let status = Command::new("taskset")
            .arg("-c")
            .arg("1")
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
        .unwrap_or(if full { 1_000_000 } else { 5_000 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(n, full));
}

async fn run(n: usize, full: bool) {
    println!("# zipwire server bench: {n} spans, {SPANS_PER_BODY} spans per POST body\n");
    let objects = corpus::generate_span_objects(n, corpus::SEED);
    let json_bytes: usize = objects.iter().map(String::len).sum::<usize>() + objects.len();
    let bodies: Vec<Vec<u8>> = objects
        .chunks(SPANS_PER_BODY)
        .map(|chunk| format!("[{}]", chunk.join(",")).into_bytes())
        .collect();
    let json_per_span = json_bytes as f64 / n as f64;
    println!("corpus: {:.0} bytes of JSON per span\n", json_per_span);

    // 1a. Baseline: plain serde_json into owned structs, this thread, CPU time.
    let raw_rate = cpu_rate(n, || {
        for body in &bodies {
            black_box(serde_json::from_slice::<Vec<owned::OwnedSpan>>(body).unwrap());
        }
    });
    let ours_rate = cpu_rate(n, || {
        for body in &bodies {
            black_box(json_v2::decode_spans(body).unwrap());
        }
    });

    // 1b. Decode and store insert in process (one core, no HTTP): the store's share.
    let in_process_rate = {
        let store = MemoryStore::new(StorageOptions::default(), n * 2);
        cpu_rate(n, || {
            for body in &bodies {
                store.accept_sync(&json_v2::decode_spans(body).unwrap());
            }
        })
    };

    // 1c. The store insert alone, on spans decoded beforehand: in corpus order (traces
    // start at random times over an hour) and with the same traces in time order, as live
    // traffic mostly arrives. The difference is the cost of the indexes' cache misses.
    let (store_random, store_ordered) = {
        let batches: Vec<Vec<Span>> = bodies
            .iter()
            .map(|body| json_v2::decode_spans(body).unwrap())
            .collect();
        let ordered = time_ordered(&batches);
        let insert_rate = |batches: &[Vec<Span>]| {
            let store = MemoryStore::new(StorageOptions::default(), n * 2);
            cpu_rate(n, || {
                for batch in batches {
                    store.accept_sync(batch);
                }
            })
        };
        (insert_rate(&batches), insert_rate(&ordered))
    };

    // 1d. The real server.
    let server = Server::start(n);
    let rss_before = server.rss_bytes();
    let stat_before = server.stat();
    let cpu_before = server.cpu_seconds();
    // The host's speed drifts over seconds (shared machine), so the corpus goes in rounds,
    // each next to a raw parse of the same bodies just before it; the median of the
    // per-round ratios is the figure least moved by that drift.
    let mut round_ratios = Vec::with_capacity(INGEST_ROUNDS);
    let mut wall = 0.0;
    let round_size = bodies.len().div_ceil(INGEST_ROUNDS);
    for round in bodies.chunks(round_size) {
        let spans: usize = round.len() * SPANS_PER_BODY;
        let raw = cpu_rate(spans, || {
            for body in round {
                black_box(serde_json::from_slice::<Vec<owned::OwnedSpan>>(body).unwrap());
            }
        });
        let round_cpu = server.cpu_seconds();
        let started = Instant::now();
        ingest::post_all(&server.base, round, CONNECTIONS).await;
        wall += started.elapsed().as_secs_f64();
        round_ratios.push(spans as f64 / (server.cpu_seconds() - round_cpu) / raw);
    }
    let mut sorted = round_ratios.clone();
    sorted.sort_by(f64::total_cmp);
    let median_ratio = sorted[sorted.len() / 2];
    let server_cpu = server.cpu_seconds() - cpu_before;
    let stat_after = server.stat();
    let rss_after = server.rss_bytes();
    let ingest_per_cpu = n as f64 / server_cpu;

    println!("## Ingest (HTTP JSON, memory store)\n");
    println!("| figure | spans/s | ratio to raw parse |");
    println!("|---|---:|---:|");
    println!(
        "| raw serde_json parse into owned structs (1 core, baseline) | {raw_rate:.0} | 1.00 |"
    );
    println!(
        "| zipwire JSON v2 decode alone (1 core) | {ours_rate:.0} | {:.2} |",
        ours_rate / raw_rate
    );
    println!(
        "| zipwire decode + memory store insert, in process (1 core) | {in_process_rate:.0} | {:.2} |",
        in_process_rate / raw_rate
    );
    println!(
        "| memory store insert alone, corpus order (random trace start times) | {store_random:.0} | - |"
    );
    println!(
        "| memory store insert alone, the same traces in time order | {store_ordered:.0} | - |"
    );
    println!(
        "| HTTP ingest into memory, per server CPU-second | {ingest_per_cpu:.0} | {:.2} |",
        ingest_per_cpu / raw_rate
    );
    println!(
        "| HTTP ingest per server CPU-second, median of {INGEST_ROUNDS} rounds each next to its own raw parse | - | **{median_ratio:.2}** (rounds in order: {}) |",
        round_ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "| HTTP ingest wall rate ({CONNECTIONS} connections, server on 1 core) | {:.0} | - |\n",
        n as f64 / wall
    );
    println!(
        "server during ingest: {:.2} s user, {:.2} s system, {:.0} minor page faults per 1,000 spans\n",
        stat_after.0 - stat_before.0,
        stat_after.1 - stat_before.1,
        (stat_after.2 - stat_before.2) as f64 * 1000.0 / n as f64
    );

    if std::env::var_os("ZIPWIRE_BENCH_INGEST_ONLY").is_some() {
        return;
    }

    // 2. Memory.
    let per_span = (rss_after.saturating_sub(rss_before)) as f64 / n as f64;
    println!("## Memory\n");
    println!("| figure | bytes per span | ratio to JSON |");
    println!("|---|---:|---:|");
    println!("| JSON v2 size (baseline) | {json_per_span:.0} | 1.00 |");
    println!(
        "| server RSS growth after ingest | {per_span:.0} | {:.2} |\n",
        per_span / json_per_span
    );

    // 3. Query latency over HTTP.
    let trace_ids: Vec<String> = sample_trace_ids(&objects, if full { 5_000 } else { 200 });
    let client = reqwest::Client::new();
    let floor = latencies(&client, (0..2_000).map(|_| format!("{}/info", server.base))).await;
    let by_id = latencies(
        &client,
        trace_ids
            .iter()
            .map(|id| format!("{}/api/v2/trace/{id}", server.base)),
    )
    .await;
    let services = [
        "frontend",
        "api-gateway",
        "user-service",
        "order-service",
        "payment-service",
        "inventory",
        "auth",
        "search",
        "recommendation",
        "notification",
    ];
    // The corpus spans one hour from t0; look back over all of it.
    let end_ts: i64 = 1_700_000_000_000 + 3_700_000;
    let searches = if full { 1_000 } else { 50 };
    let search = latencies(
        &client,
        (0..searches).map(|i| {
            format!(
                "{}/api/v2/traces?serviceName={}&endTs={end_ts}&lookback=7200000&limit=10",
                server.base,
                services[i % services.len()]
            )
        }),
    )
    .await;
    println!("## Query latency at {n} stored spans (HTTP round trip, one connection)\n");
    println!("| request | p50 ms | p99 ms |");
    println!("|---|---:|---:|");
    println!(
        "| GET /info (HTTP floor, baseline) | {:.3} | {:.3} |",
        floor.0, floor.1
    );
    println!(
        "| GET /api/v2/trace/{{id}} | {:.3} | {:.3} |",
        by_id.0, by_id.1
    );
    println!(
        "| GET /api/v2/traces?serviceName=..&limit=10 | {:.3} | {:.3} |\n",
        search.0, search.1
    );
    drop(server);

    // 4. Encoding, in process.
    let store = MemoryStore::new(StorageOptions::default(), n * 2);
    let mut by_trace: std::collections::HashMap<String, Vec<owned::OwnedSpan>> = Default::default();
    for body in &bodies {
        store.accept_sync(&json_v2::decode_spans(body).unwrap());
        for span in serde_json::from_slice::<Vec<owned::OwnedSpan>>(body).unwrap() {
            by_trace
                .entry(span.trace_id.clone())
                .or_default()
                .push(span);
        }
    }
    let ids: Vec<TraceId> = trace_ids
        .iter()
        .map(|id| TraceId::parse(id).unwrap())
        .collect();
    let sample_spans: usize = trace_ids.iter().map(|id| by_trace[id].len()).sum();
    let rounds = if full { 20 } else { 2 };
    let serde_rate = cpu_rate(sample_spans * rounds, || {
        for _ in 0..rounds {
            for id in &trace_ids {
                black_box(serde_json::to_vec(&by_trace[id]).unwrap());
            }
        }
    });
    let store = Arc::new(store);
    let encode_rate = cpu_rate(sample_spans * rounds, || {
        let mut out = Vec::with_capacity(64 * 1024);
        for _ in 0..rounds {
            for id in &ids {
                let spans: Vec<Span> = futures::executor::block_on(store.get_trace(*id)).unwrap();
                out.clear();
                json_v2::encode_spans(&spans, &mut out);
                black_box(&out);
            }
        }
    });
    println!("## Response encoding\n");
    println!("| figure | spans/s | ratio |");
    println!("|---|---:|---:|");
    println!("| serde_json::to_vec of owned spans (baseline) | {serde_rate:.0} | 1.00 |");
    println!(
        "| memory store read + zipwire JSON encode | {encode_rate:.0} | {:.2} |",
        encode_rate / serde_rate
    );
}

/// Work items per CPU-second of this thread for `f`.
/// The spans of `batches` regrouped by trace, traces ordered by their earliest timestamp,
/// in batches of [`SPANS_PER_BODY`].
fn time_ordered(batches: &[Vec<Span>]) -> Vec<Vec<Span>> {
    let mut traces: Vec<Vec<Span>> = Vec::new();
    for span in batches.iter().flatten() {
        // The corpus writes each trace's spans one after another.
        match traces.last_mut() {
            Some(trace) if trace[0].trace_id == span.trace_id => trace.push(span.clone()),
            _ => traces.push(vec![span.clone()]),
        }
    }
    traces.sort_by_key(|trace| trace.iter().filter_map(|s| s.timestamp).min());
    let spans: Vec<Span> = traces.into_iter().flatten().collect();
    spans.chunks(SPANS_PER_BODY).map(<[Span]>::to_vec).collect()
}

fn cpu_rate(items: usize, f: impl FnOnce()) -> f64 {
    let before = thread_cpu_seconds();
    f();
    items as f64 / (thread_cpu_seconds() - before)
}

/// CPU time of the calling thread, from the scheduler's nanosecond counter.
fn thread_cpu_seconds() -> f64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("linux schedstat");
    let ns: f64 = text.split_whitespace().next().unwrap().parse().unwrap();
    ns / 1e9
}

/// (p50, p99) in milliseconds of sequential GETs, each checked for 200.
async fn latencies(client: &reqwest::Client, urls: impl Iterator<Item = String>) -> (f64, f64) {
    let mut samples = Vec::new();
    for url in urls {
        let started = Instant::now();
        let response = client.get(&url).send().await.expect("get");
        let status = response.status().as_u16();
        let body = response.bytes().await.expect("body");
        samples.push(started.elapsed());
        assert_eq!(status, 200, "{url}: {}", String::from_utf8_lossy(&body));
        black_box(body);
    }
    samples.sort_unstable();
    let pick =
        |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    (pick(0.50), pick(0.99))
}

/// Distinct trace ids spread over the corpus.
fn sample_trace_ids(objects: &[String], count: usize) -> Vec<String> {
    let mut ids: Vec<String> = objects
        .iter()
        .map(|o| o[12..44].to_owned()) // `{"traceId":"` is 12 bytes, ids are 32 hex
        .collect();
    ids.dedup();
    let step = (ids.len() / count).max(1);
    ids.into_iter().step_by(step).take(count).collect()
}

fn has_taskset() -> bool {
    Command::new("taskset")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The zipwire binary under test, on a free port.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(n: usize) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // ZIPWIRE_BENCH_BIN runs another build of the server (A/B comparisons).
        let exe = std::env::var("ZIPWIRE_BENCH_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_zipwire").to_owned());
        let exe = exe.as_str();
        let pinned = std::env::var_os("ZIPWIRE_BENCH_PINNED").is_some();
        // ZIPWIRE_BENCH_SERVER_WRAP prefixes the server command, e.g. with
        // `perf record -e cpu-clock -o server.perf --` to profile the server alone.
        let mut argv: Vec<String> = Vec::new();
        if pinned {
            argv.extend(["taskset", "-c", "0"].map(String::from));
        }
        if let Ok(wrap) = std::env::var("ZIPWIRE_BENCH_SERVER_WRAP") {
            argv.extend(wrap.split_whitespace().map(String::from));
        }
        argv.push(exe.to_owned());
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        let child = command
            .env("QUERY_PORT", port.to_string())
            .env("QUERY_BIND_ADDRESS", "127.0.0.1")
            .env("MEM_MAX_SPANS", (n * 2).to_string())
            .env("LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start zipwire");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "zipwire did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { child, base }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// utime + stime of the whole process (all threads, including exited ones).
    fn cpu_seconds(&self) -> f64 {
        let (user, system, _) = self.stat();
        user + system
    }

    /// (user CPU s, system CPU s, minor page faults) of the whole process.
    fn stat(&self) -> (f64, f64, u64) {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the parenthesised command name: minflt is the 10th field of the
        // line, utime and stime the 14th and 15th.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields[i].parse::<f64>().unwrap() / clock_ticks_per_second();
        (ticks(11), ticks(12), fields[7].parse().unwrap())
    }

    fn rss_bytes(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM first, so a wrapping profiler can finish its output file.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
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
