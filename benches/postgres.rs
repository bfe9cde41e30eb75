//! PostgreSQL backend benchmark: ingest end to end against raw binary COPY, query latency
//! against raw SQL, dependencies over a week, bytes per span. Numbers go to BENCHMARKS.md.
//!
//! ```text
//! cargo bench --bench postgres                       # 1M spans, 4 connections
//! PG_BENCH_SPANS=200000 cargo bench --bench postgres  # smaller run
//! ```
//!
//! Under `cargo test --all-targets` (no `--bench` argument) it makes a 3,000-span smoke run.
//!
//! Settings (environment): `PG_BENCH_URL` (postgres://postgres@127.0.0.1:5432/test),
//! `PG_BENCH_SPANS` (1000000), `PG_BENCH_CONNECTIONS` (4: the store's pool and the COPY
//! baseline's connections), `PG_BENCH_BATCH` (1000 spans per POST / per COPY),
//! `PG_BENCH_QUERIES` (2000), `PG_BENCH_SPREAD_HOURS` (1: the corpus' traces start
//! uniformly over this many hours ending 15 minutes ago, like the reference corpus),
//! `PG_BENCH_KEEP` (set: keep the loaded schema for inspection), `PG_BENCH_REUSE` (the name
//! of a schema kept from a run with the same `PG_BENCH_SPANS`: skip both ingest phases and
//! measure the reads against it, its dependency aggregate reset first; for iterating on
//! the read path), `PG_BENCH_READS` (trace,search,deps: the read phases to run).
//!
//! Corpus: the generator of performance-baselines.md §2a (traces of 3-12 spans, 10
//! services, 3-6 tags, 0-2 annotations, 128-bit trace ids), re-implemented with a seeded
//! RNG. Each phase works in its own new schema, dropped at the end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use sqlx::Row;
use tokio_util::sync::CancellationToken;
use zipwire::app::App;
use zipwire::codec::json_v2;
use zipwire::config::Config;
use zipwire::model::{Endpoint, Kind, Span, SpanId, TraceId};
use zipwire::storage::postgres::{PostgresConfig, PostgresStore};
use zipwire::storage::{SpanStore, StorageOptions};

// The names of the shared corpus (§2a); this bench builds its spans as model structs.
#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/ingest.rs"]
mod ingest;
use corpus::{DB_OPS, ROUTES, SERVICES};

/// The allocator of the `zipwire` binary, so the in-process server costs what it costs
/// when shipped.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// The §2a corpus: `n` spans, traces starting uniformly in `[start, start + spread)`.
fn corpus(n: usize, start: i64, spread: i64) -> Vec<Vec<Span>> {
    let mut rng = StdRng::seed_from_u64(42);
    let ip = |rng: &mut StdRng| {
        format!(
            "10.{}.{}.{}",
            rng.random_range(0..256),
            rng.random_range(0..256),
            rng.random_range(1..255)
        )
    };
    let mut traces = Vec::new();
    let mut total = 0;
    while total < n {
        let trace_id =
            TraceId::from_parts(rng.random::<u64>() | 1, rng.random::<u64>() | 1).unwrap();
        let root = SpanId::new(rng.random::<u64>() | 1).unwrap();
        let mut ids = vec![root];
        let base = start + rng.random_range(0..spread);
        let mut spans = Vec::new();
        for k in 0..rng.random_range(3..=12usize) {
            if total >= n {
                break;
            }
            let id = if k == 0 {
                root
            } else {
                SpanId::new(rng.random::<u64>() | 1).unwrap()
            };
            let parent = (k > 0).then(|| *ids.choose(&mut rng).unwrap());
            ids.push(id);
            let kind = if k == 0 {
                Kind::Server
            } else {
                *[
                    Kind::Server,
                    Kind::Client,
                    Kind::Client,
                    Kind::Producer,
                    Kind::Consumer,
                ]
                .choose(&mut rng)
                .unwrap()
            };
            let svc = *SERVICES.choose(&mut rng).unwrap();
            let remote = *SERVICES.choose(&mut rng).unwrap();
            let route = *ROUTES.choose(&mut rng).unwrap();
            let method = *["GET", "POST", "PUT", "DELETE"].choose(&mut rng).unwrap();
            let ts = base + k as i64 * rng.random_range(50..5000);
            let name = if matches!(kind, Kind::Server | Kind::Client) {
                format!("{} {route}", method.to_lowercase())
            } else {
                DB_OPS.choose(&mut rng).unwrap().to_string()
            };
            let mut b = Span::builder(trace_id, id)
                .kind(kind)
                .name(&name)
                .timestamp(ts as u64)
                .duration(rng.random_range(100..2_000_000))
                .local_endpoint(
                    Endpoint::service(svc)
                        .with_ip(&ip(&mut rng))
                        .with_port(*[8080, 8443, 9000, 3000].choose(&mut rng).unwrap()),
                );
            if let Some(p) = parent {
                b = b.parent_id(p);
            }
            if kind != Kind::Server || rng.random::<f64>() < 0.5 {
                b = b.remote_endpoint(
                    Endpoint::service(remote)
                        .with_ip(&ip(&mut rng))
                        .with_port(*[5432, 6379, 9092, 8080].choose(&mut rng).unwrap()),
                );
            }
            let path = route.replace("{id}", &rng.random_range(0..100_000).to_string());
            b = b.tag("http.method", method).tag("http.path", &path).tag(
                "http.status_code",
                ["200", "200", "200", "201", "404", "500"]
                    .choose(&mut rng)
                    .unwrap(),
            );
            let url = format!(
                "https://shop.example.com{}",
                route.replace("{id}", &rng.random_range(0..1000).to_string())
            );
            let mut extra = [
                ("component", "spring-webmvc".to_string()),
                ("http.url", url),
                ("peer.service", remote.to_string()),
                ("error", "Internal Server Error".to_string()),
                ("clnt/finagle.version", "6.45.0".to_string()),
                (
                    "db.statement",
                    "SELECT id, name, email FROM users WHERE id = $1".to_string(),
                ),
            ];
            extra.shuffle(&mut rng);
            for (k, v) in extra.iter().take(rng.random_range(0..=3)) {
                b = b.tag(k, v);
            }
            for _ in 0..rng.random_range(0..=2) {
                b = b.annotation(
                    (ts + rng.random_range(1..1000)) as u64,
                    ["wire.send", "wire.recv", "retry", "cache.miss"]
                        .choose(&mut rng)
                        .unwrap(),
                );
            }
            spans.push(b.build());
            total += 1;
        }
        traces.push(spans);
    }
    traces
}

/// CPU seconds (user + system) of this process and of every `postgres` process.
fn cpu_seconds() -> (f64, f64) {
    let ticks = 100.0; // USER_HZ on Linux
    let read = |pid: &str| -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = after.split(' ').collect();
        let u: f64 = fields.get(11)?.parse().ok()?;
        let s: f64 = fields.get(12)?.parse().ok()?;
        Some((u + s) / ticks)
    };
    let own = read("self").unwrap_or(0.0);
    let mut pg = 0.0;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let comm = std::fs::read_to_string(format!("/proc/{name}/comm")).unwrap_or_default();
            if comm.trim() == "postgres" {
                pg += read(&name).unwrap_or(0.0);
            }
        }
    }
    (own, pg)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn summary(mut ms: Vec<f64>) -> String {
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n={})",
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(f64::NAN),
        ms.len()
    )
}

fn schema_name(tag: &str) -> String {
    format!("zwbench_{tag}_{}", std::process::id())
}

async fn new_store(url: &str, schema: &str, connections: u32) -> PostgresStore {
    PostgresStore::connect(
        PostgresConfig {
            url: Some(url.to_string()),
            schema: Some(schema.to_string()),
            max_connections: connections,
            ..PostgresConfig::default()
        },
        StorageOptions::default(),
    )
    .await
    .expect("connect to PostgreSQL")
}

async fn drop_schema(store: &PostgresStore, schema: &str) {
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(store.pool())
        .await
        .expect("drop bench schema");
}

struct Rate {
    spans_per_sec: f64,
    per_cpu_sec: f64,
    wall: f64,
    own_cpu: f64,
    pg_cpu: f64,
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} spans/s wall ({:.1} s), {:.0} spans per CPU-s (bench process {:.1} s + postgres {:.1} s)",
            self.spans_per_sec, self.wall, self.per_cpu_sec, self.own_cpu, self.pg_cpu
        )
    }
}

async fn measure<F: std::future::Future<Output = ()>>(spans: usize, f: F) -> Rate {
    let (own0, pg0) = cpu_seconds();
    let t0 = Instant::now();
    f.await;
    let wall = t0.elapsed().as_secs_f64();
    let (own1, pg1) = cpu_seconds();
    let (own, pg) = (own1 - own0, pg1 - pg0);
    Rate {
        spans_per_sec: spans as f64 / wall,
        per_cpu_sec: spans as f64 / (own + pg),
        wall,
        own_cpu: own,
        pg_cpu: pg,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url: String = env(
        "PG_BENCH_URL",
        "postgres://postgres@127.0.0.1:5432/test".to_string(),
    );
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it,
    // and then a small smoke run checks that the benchmark still works.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let n: usize = env("PG_BENCH_SPANS", if smoke { 3_000 } else { 1_000_000 });
    let connections: u32 = env("PG_BENCH_CONNECTIONS", 4);
    let batch: usize = env("PG_BENCH_BATCH", 1000);
    let queries: usize = env("PG_BENCH_QUERIES", if smoke { 100 } else { 2000 });
    let spread_hours: i64 = env("PG_BENCH_SPREAD_HOURS", 1);

    let reuse: Option<String> = std::env::var("PG_BENCH_REUSE").ok();
    let hour = 3_600_000_000i64;
    let mut data_end = now_micros() - 15 * 60 * 1_000_000;
    if let Some(schema) = &reuse {
        // The kept corpus was generated with the same seed (same trace ids) but an earlier
        // clock: take its time range from the data.
        let store = new_store(&url, schema, 1).await;
        let max: i64 = sqlx::query_scalar("SELECT max(ts) FROM zipkin_spans")
            .fetch_one(store.pool())
            .await
            .expect("reused schema has spans");
        data_end = max;
    }
    let data_start = data_end - spread_hours * hour;
    let t = Instant::now();
    let traces = corpus(n, data_start, spread_hours * hour);
    let mut batches: Vec<Vec<Span>> = Vec::new();
    let mut current = Vec::with_capacity(batch);
    for trace in &traces {
        for s in trace {
            current.push(s.clone());
            if current.len() == batch {
                batches.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        batches.push(current);
    }
    let bodies: Vec<Vec<u8>> = batches
        .iter()
        .map(|b| {
            let mut out = Vec::new();
            json_v2::encode_spans(b, &mut out);
            out
        })
        .collect();
    let json_bytes: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "corpus: {n} spans in {} traces, {} batches of {batch}, {:.0} B/span as JSON v2 (built in {:.1} s)",
        traces.len(),
        batches.len(),
        json_bytes as f64 / n as f64,
        t.elapsed().as_secs_f64()
    );
    let batches = Arc::new(batches);
    let bodies = Arc::new(bodies);

    let schema = reuse.clone().unwrap_or_else(|| schema_name("e2e"));
    let store = if reuse.is_some() {
        let store = new_store(&url, &schema, connections).await;
        sqlx::raw_sql(
            "TRUNCATE zipkin_dependencies, zipkin_dependency_dirty; \
             UPDATE zipkin_dependency_state SET watermark = NULL",
        )
        .execute(store.pool())
        .await
        .expect("reset the dependency aggregate");
        println!("reusing schema {schema}: ingest not measured");
        store
    } else {
        ingest(&url, &schema, connections, n, &batches, &bodies).await
    };
    reads(&store, queries, &traces, data_start, spread_hours).await;
    if std::env::var("PG_BENCH_KEEP").is_ok() || reuse.is_some() {
        println!("kept schema {schema}");
    } else {
        drop_schema(&store, &schema).await;
    }
}

/// Phases 1 (raw COPY) and 2 (end to end through HTTP), then the on-disk size; returns the
/// store holding the end-to-end data.
async fn ingest(
    url: &str,
    schema: &str,
    connections: u32,
    n: usize,
    batches: &Arc<Vec<Vec<Span>>>,
    bodies: &Arc<Vec<Vec<u8>>>,
) -> PostgresStore {
    // 1. Raw binary COPY of the same rows into the same schema, same connection count.
    let raw_schema = schema_name("copy");
    let raw = new_store(url, &raw_schema, connections).await;
    sqlx::query("CHECKPOINT").execute(raw.pool()).await.ok();
    let next = Arc::new(AtomicUsize::new(0));
    let copy_rate = measure(n, async {
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let (raw, batches, next) = (raw.clone(), batches.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(b) = batches.get(i) else { break };
                    raw.copy_rows_for_benchmark(b).await.expect("copy");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    println!("raw binary COPY, {connections} connections: {copy_rate}");
    drop_schema(&raw, &raw_schema).await;
    drop(raw);

    // 2. End to end: HTTP JSON in, durable commit, through the real server.
    let store = new_store(url, schema, connections).await;
    sqlx::query("CHECKPOINT").execute(store.pool()).await.ok();
    let (base, shutdown, server) = serve(&store).await;
    let clients = connections as usize * 2;
    let e2e_rate = measure(n, ingest::post_all(&base, &bodies[..], clients)).await;
    println!(
        "end to end (HTTP JSON, {clients} client connections, pool of {connections}): {e2e_rate}"
    );
    println!(
        "ratio end to end / raw COPY: {:.2} (wall), {:.2} (per CPU-s)",
        e2e_rate.spans_per_sec / copy_rate.spans_per_sec,
        e2e_rate.per_cpu_sec / copy_rate.per_cpu_sec
    );

    sqlx::query("VACUUM ANALYZE zipkin_spans")
        .execute(store.pool())
        .await
        .unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM zipkin_spans")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let sizes = sqlx::query(
        "SELECT sum(pg_relation_size(c.oid))::int8, sum(pg_indexes_size(c.oid))::int8, \
         sum(pg_total_relation_size(c.oid))::int8 \
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'zipkin_spans'::regclass",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    let (heap, index, total): (i64, i64, i64) = (sizes.get(0), sizes.get(1), sizes.get(2));
    println!(
        "on disk: {stored} spans, {:.0} B/span total = {:.0} heap (+toast {:.0}) + {:.0} indexes",
        total as f64 / stored as f64,
        heap as f64 / stored as f64,
        (total - heap - index) as f64 / stored as f64,
        index as f64 / stored as f64
    );

    shutdown.cancel();
    server.await.unwrap().unwrap();
    store
}

/// The real server on the store, on a free port: its base URL, its stop switch and its task.
async fn serve(
    store: &PostgresStore,
) -> (
    String,
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let config = Config::try_parse_from(["zipwire", "--query-port", "0"]).unwrap();
    let app = App::with_store(config, Arc::new(store.clone()) as Arc<dyn SpanStore>)
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let server = tokio::spawn(app.run_until(async move { stop.cancelled().await }));
    (base, shutdown, server)
}

/// Phases 3 to 5: trace by id, search and dependencies, each next to its raw SQL.
async fn reads(
    store: &PostgresStore,
    queries: usize,
    traces: &[Vec<Span>],
    data_start: i64,
    spread_hours: i64,
) {
    let phases: String = env("PG_BENCH_READS", "trace,search,deps".to_string());
    let want = |phase: &str| phases.split(',').any(|p| p.trim() == phase);
    let (base, shutdown, server) = serve(store).await;
    let http = reqwest::Client::new();

    // 3. Trace by id: HTTP vs raw SQL, sequential, one connection.
    let mut rng = StdRng::seed_from_u64(7);
    let sample: Vec<TraceId> = (0..queries)
        .map(|_| traces.choose(&mut rng).unwrap()[0].trace_id)
        .collect();
    if want("trace") {
        // Latency, and CPU per request (this process, client included, plus PostgreSQL):
        // under a loaded host the CPU figures say more about per-request overhead than
        // the latency tails do.
        let plain = reqwest::Client::builder().no_gzip().build().unwrap();
        let mut rows: Vec<(&str, Vec<f64>, f64, f64)> = Vec::new();
        for (label, client) in [
            ("GET /api/v2/trace/{id}", &http),
            ("GET /api/v2/trace/{id} without gzip", &plain),
        ] {
            let (own0, pg0) = cpu_seconds();
            let mut ms = Vec::new();
            for id in &sample {
                let t = Instant::now();
                let r = client
                    .get(format!("{base}/api/v2/trace/{id}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200);
                let _ = r.bytes().await.unwrap();
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            let (own1, pg1) = cpu_seconds();
            rows.push((label, ms, own1 - own0, pg1 - pg0));
        }
        // The store call alone (pool, statement, decoding), without HTTP and JSON.
        let (own0, pg0) = cpu_seconds();
        let mut ms = Vec::new();
        for id in &sample {
            let t = Instant::now();
            let spans = store.get_trace(*id).await.unwrap();
            assert!(!spans.is_empty());
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let (own1, pg1) = cpu_seconds();
        rows.push(("store.get_trace (no HTTP)", ms, own1 - own0, pg1 - pg0));
        let mut conn = store.pool().acquire().await.unwrap();
        let (own0, pg0) = cpu_seconds();
        let mut ms = Vec::new();
        for id in &sample {
            let t = Instant::now();
            let rows = sqlx::query(
                "SELECT trace_id_high, trace_id, id, parent_id, ts, duration, local_service, \
                 remote_service, name, body FROM zipkin_spans \
                 WHERE trace_id = $1 AND trace_id_high = $2",
            )
            .bind(id.low() as i64)
            .bind(id.high() as i64)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
            assert!(!rows.is_empty());
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let (own1, pg1) = cpu_seconds();
        rows.push(("raw SQL", ms, own1 - own0, pg1 - pg0));
        drop(conn);
        for (label, ms, own, pg) in rows {
            let n = ms.len() as f64;
            println!(
                "trace by id, {label}: {} ; CPU per request {:.0} us here + {:.0} us postgres",
                summary(ms),
                own / n * 1e6,
                pg / n * 1e6
            );
        }
    }

    if want("search") {
        // 4. Search: service + tag + minDuration, 15 minute window, limit 10.
        let window = 900_000i64; // ms
        let mut conn = store.pool().acquire().await.unwrap();
        let min_duration = 100_000i64;
        let mut http_ms = Vec::new();
        let mut sql_ms = Vec::new();
        let mut returned = 0usize;
        for _ in 0..queries / 2 {
            let service = *SERVICES.choose(&mut rng).unwrap();
            let end_ms = (data_start / 1000)
                + window
                + rng.random_range(0..(spread_hours * 3_600_000 - window).max(1));
            let url = format!(
                "{base}/api/v2/traces?serviceName={service}&annotationQuery=http.status_code%3D500\
             &minDuration={min_duration}&endTs={end_ms}&lookback={window}&limit=10"
            );
            let t = Instant::now();
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let body: serde_json::Value = r.json().await.unwrap();
            http_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            returned += body.as_array().map_or(0, Vec::len);

            // The same lookup as one raw statement: the newest spans of the service carrying
            // the tag and the duration (an ordered index scan that stops early), their 10
            // newest traces, then all their spans by trace id (a join on the trace columns
            // is planned as a scan of every span).
            let start_us = (end_ms - window) * 1000;
            let end_us = end_ms * 1000;
            let key = zipwire::storage::postgres::search_key_for_tag("http.status_code", "500");
            let t = Instant::now();
            let rows = sqlx::query(
                "WITH c AS (SELECT trace_id_high, trace_id, ts FROM zipkin_spans \
             WHERE day BETWEEN $1 AND $2 AND local_service = $3 AND ts BETWEEN $4 AND $5 \
             AND search_keys @> $6 AND duration >= $7 ORDER BY ts DESC LIMIT 100), \
             t AS (SELECT trace_id_high, trace_id, max(ts) AS m FROM c GROUP BY 1, 2 \
             ORDER BY m DESC LIMIT 10) \
             SELECT trace_id_high, trace_id, id, parent_id, ts, duration, \
             local_service, remote_service, name, body FROM zipkin_spans \
             WHERE trace_id = ANY(ARRAY(SELECT trace_id FROM t))",
            )
            .bind((start_us / 86_400_000_000) as i32)
            .bind((end_us / 86_400_000_000) as i32)
            .bind(service)
            .bind(start_us)
            .bind(end_us)
            .bind(vec![key])
            .bind(min_duration)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
            let _ = rows.len();
            sql_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!(
        "search (service + http.status_code=500 + minDuration=100ms, 15 min, limit 10), GET /api/v2/traces: {} ; {:.1} traces returned on average",
        summary(http_ms),
        returned as f64 / (queries / 2) as f64
    );
        println!(
            "search, raw SQL (same criteria on one span, one statement): {}",
            summary(sql_ms)
        );
        drop(conn);
    }

    if want("deps") {
        // 5. Dependencies over 7 days: first with nothing aggregated (every trace linked on
        // demand, called on the store: it can outlast QUERY_TIMEOUT), then from the aggregate.
        let end_ms = now_micros() / 1000;
        let week = 7 * 86_400_000i64;
        let t = Instant::now();
        let links = store.get_dependencies(end_ms, week).await.unwrap();
        println!(
        "dependencies over 7 days, nothing aggregated (all {} traces linked on demand): {:.0} ms ; {} links",
        traces.len(),
        t.elapsed().as_secs_f64() * 1000.0,
        links.len()
    );
        let t = Instant::now();
        store.aggregate_dependencies(now_micros()).await.unwrap();
        println!(
            "dependency aggregation of the corpus (5-minute slices up to 5 minutes ago): {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let mut ms = Vec::new();
        let mut links = 0;
        for _ in 0..20 {
            let t = Instant::now();
            let r = http
                .get(format!(
                    "{base}/api/v2/dependencies?endTs={}&lookback={week}",
                    now_micros() / 1000
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let v: serde_json::Value = r.json().await.unwrap();
            links = v.as_array().map_or(0, Vec::len);
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!(
        "dependencies over 7 days, GET /api/v2/dependencies after aggregation: {} ; {links} links",
        summary(ms)
    );
        let mut conn = store.pool().acquire().await.unwrap();
        let mut ms = Vec::new();
        for _ in 0..20 {
            let hour_now = now_micros() / 3_600_000_000;
            let t = Instant::now();
            let rows = sqlx::query(
                "SELECT parent, child, sum(call_count)::int8, sum(error_count)::int8 \
             FROM zipkin_dependencies WHERE hour BETWEEN $1 AND $2 GROUP BY 1, 2",
            )
            .bind((hour_now - 168) as i32)
            .bind(hour_now as i32)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
            let _ = rows.len();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!(
            "dependencies, raw SQL sum of 7 days of hourly rows: {}",
            summary(ms)
        );
        drop(conn);
    }

    shutdown.cancel();
    server.await.unwrap().unwrap();
}
