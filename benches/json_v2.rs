//! JSON v2 decode and encode of a 1,000-span corpus (performance-baselines.md §2a), next to
//! the raw baseline of §2b: serde_json into an owned `#[derive(Deserialize)]` model, and
//! `serde_json::to_vec` of it. Throughput is reported in elements (spans) per second.
//!
//! Run with `cargo bench --bench json_v2`. On a shared host wall-clock rates swing with the
//! load, so before the criterion groups the bench also prints rates per second of this
//! thread's CPU time (the per-core figure of §2b, from `/proc/thread-self/schedstat`): 7
//! alternating runs of 0.7 s per case after a 0.3 s warm-up, medians and the median ratio.
//! Set `JSON_V2_SKIP_CPU_REPORT=1` to skip it.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde::{Deserialize, Serialize};
use zipwire::codec::json_v2::{decode_spans, encode_spans};

#[path = "support/corpus.rs"]
mod corpus;

// The allocator matters as much as the parser (§2b), and production uses mimalloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SPANS: usize = 1_000;

/// §2b's "owned" model: strings everywhere, tags in a BTreeMap.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct OwnedSpan {
    trace_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent_id: Option<String>,
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<OwnedKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timestamp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duration: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    local_endpoint: Option<OwnedEndpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remote_endpoint: Option<OwnedEndpoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    annotations: Vec<OwnedAnnotation>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    debug: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    shared: bool,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum OwnedKind {
    Client,
    Server,
    Producer,
    Consumer,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct OwnedEndpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ipv4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ipv6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
}

#[derive(Deserialize, Serialize)]
struct OwnedAnnotation {
    timestamp: u64,
    value: String,
}

fn json_v2(c: &mut Criterion) {
    let body = corpus::generate(SPANS, corpus::SEED);
    let spans = decode_spans(&body).expect("corpus decodes");
    assert_eq!(spans.len(), SPANS);
    let owned: Vec<OwnedSpan> = serde_json::from_slice(&body).expect("corpus parses");
    eprintln!(
        "corpus: {SPANS} spans, {} bytes ({} B/span)",
        body.len(),
        body.len() / SPANS
    );

    if std::env::var_os("JSON_V2_SKIP_CPU_REPORT").is_none() {
        cpu_report(
            "decode",
            || decode_spans(black_box(&body)).unwrap().len(),
            || {
                serde_json::from_slice::<Vec<OwnedSpan>>(black_box(&body))
                    .unwrap()
                    .len()
            },
        );
        cpu_report(
            "encode",
            || {
                let mut out = Vec::new();
                encode_spans(black_box(&spans), &mut out);
                out.len()
            },
            || serde_json::to_vec(black_box(&owned)).unwrap().len(),
        );
    }

    let mut decode = c.benchmark_group("json_v2_decode_1000_spans");
    decode.throughput(Throughput::Elements(SPANS as u64));
    decode.bench_function("zipwire_decode_spans", |b| {
        b.iter(|| decode_spans(black_box(&body)).unwrap())
    });
    decode.bench_function("baseline_serde_json_owned", |b| {
        b.iter(|| serde_json::from_slice::<Vec<OwnedSpan>>(black_box(&body)).unwrap())
    });
    decode.finish();

    // Both encoders start from an empty Vec each time, as a response body would.
    let mut encode = c.benchmark_group("json_v2_encode_1000_spans");
    encode.throughput(Throughput::Elements(SPANS as u64));
    encode.bench_function("zipwire_encode_spans", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            encode_spans(black_box(&spans), &mut out);
            out
        })
    });
    encode.bench_function("baseline_serde_json_to_vec_owned", |b| {
        b.iter(|| serde_json::to_vec(black_box(&owned)).unwrap())
    });
    encode.finish();
}

/// Nanoseconds this thread has spent on a CPU, if the kernel tells.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Spans per CPU-second of `run` over about `wall` of wall-clock time.
fn cpu_rate(wall: Duration, run: &mut impl FnMut() -> usize) -> f64 {
    let (start, cpu_start) = (Instant::now(), thread_cpu_ns().unwrap());
    let mut iterations = 0u64;
    while start.elapsed() < wall {
        black_box(run());
        iterations += 1;
    }
    let cpu_seconds = (thread_cpu_ns().unwrap() - cpu_start) as f64 / 1e9;
    iterations as f64 * SPANS as f64 / cpu_seconds
}

/// Prints zipwire's and the baseline's rates in spans per CPU-second, median (min-max) of 7
/// runs each, and the median of the per-round ratios. The two alternate so that both see
/// the same load on a shared host.
fn cpu_report(what: &str, mut zipwire: impl FnMut() -> usize, mut baseline: impl FnMut() -> usize) {
    if thread_cpu_ns().is_none() {
        eprintln!("{what}: no thread CPU clock on this platform");
        return;
    }
    cpu_rate(Duration::from_millis(300), &mut zipwire);
    cpu_rate(Duration::from_millis(300), &mut baseline);
    let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..7 {
        let a = cpu_rate(Duration::from_millis(700), &mut zipwire);
        let b = cpu_rate(Duration::from_millis(700), &mut baseline);
        ours.push(a);
        theirs.push(b);
        ratios.push(a / b);
    }
    for v in [&mut ours, &mut theirs, &mut ratios] {
        v.sort_by(f64::total_cmp);
    }
    eprintln!(
        "{what}: zipwire {:.0} spans/CPU-s ({:.0}-{:.0}), baseline {:.0} ({:.0}-{:.0}), \
         ratio {:.2} ({:.2}-{:.2})",
        ours[3], ours[0], ours[6], theirs[3], theirs[0], theirs[6], ratios[3], ratios[0], ratios[6]
    );
}

criterion_group!(benches, json_v2);
criterion_main!(benches);
