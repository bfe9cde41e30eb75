//! Decode throughput per wire format, for the same span set.
//!
//! One deterministic set of realistic spans (web-shop traces: a gateway calling services
//! that call databases and a broker, with HTTP tags, annotations, 128-bit ids) is encoded
//! in every format Zipwire accepts; each body is then decoded repeatedly and the table
//! reports MB/s of wire bytes and spans/s. Because the spans are the same, the numbers
//! compare the formats, not the data.
//!
//! `cargo bench --bench codecs` measures (about 2 s per format). Without `--bench` (as
//! `cargo test --all-targets` runs it) each body is decoded once and checked against the
//! span set, so the harness cannot rot.

use std::hint::black_box;
use std::time::{Duration, Instant};

use zipwire::codec::{json_v1, json_v2, proto3, thrift};
use zipwire::model::{Endpoint, Kind, Span, SpanId, TraceId};

/// Spans per message: a typical reporter batch.
const SPANS_PER_MESSAGE: usize = 500;

fn main() {
    let measure = std::env::args().any(|a| a == "--bench");
    let spans = corpus(SPANS_PER_MESSAGE);
    let formats: [(&str, Vec<u8>, Decoder); 4] = [
        ("JSON v2", json_v2_bytes(&spans), json_v2::decode_spans),
        ("proto3", proto3::encode_list(&spans), proto3::decode_list),
        ("Thrift", thrift::encode_list(&spans), thrift::decode_list),
        (
            "JSON v1",
            json_v1::encode_list(&spans),
            json_v1::decode_list,
        ),
    ];
    for (name, body, decode) in &formats {
        let decoded = decode(body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&decoded, &spans, "{name} must decode to the span set");
    }
    if !measure {
        println!("codecs: {} formats decode the span set", formats.len());
        return;
    }
    println!(
        "{} spans per message; median of 5 runs of ~400 ms each\n",
        spans.len()
    );
    println!("| format | bytes/message | MB/s | spans/s |\n|---|---:|---:|---:|");
    for (name, body, decode) in &formats {
        let per_message = time_per_call(|| {
            black_box(decode(black_box(body)).expect("decodes"));
        });
        let secs = per_message.as_secs_f64();
        println!(
            "| {name} | {} | {:.0} | {:.0} |",
            body.len(),
            body.len() as f64 / secs / 1e6,
            spans.len() as f64 / secs,
        );
    }
}

type Decoder = fn(&[u8]) -> Result<Vec<Span>, zipwire::codec::DecodeError>;

fn json_v2_bytes(spans: &[Span]) -> Vec<u8> {
    let mut out = Vec::new();
    json_v2::encode_spans(spans, &mut out);
    out
}

/// Median time per call over five ~400 ms runs, after a warm-up.
fn time_per_call(mut f: impl FnMut()) -> Duration {
    let run = |f: &mut dyn FnMut(), budget: Duration| {
        let start = Instant::now();
        let mut calls = 0u32;
        while start.elapsed() < budget {
            f();
            calls += 1;
        }
        start.elapsed() / calls
    };
    run(&mut f, Duration::from_millis(200));
    let mut samples: Vec<Duration> = (0..5)
        .map(|_| run(&mut f, Duration::from_millis(400)))
        .collect();
    samples.sort();
    samples[2]
}

/// A small deterministic generator (SplitMix64), so every run and every machine sees the
/// same spans.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const SERVICES: &[&str] = &[
    "frontend",
    "checkout",
    "cart",
    "payment",
    "inventory",
    "shipping",
    "search",
    "accounts",
];
const ROUTES: &[&str] = &[
    "/api/cart",
    "/api/checkout",
    "/api/products/{id}",
    "/api/search",
    "/api/orders",
];
const DATABASES: &[&str] = &["postgres", "redis", "kafka"];

/// `n` spans forming traces of up to eight spans: a server span per service hop with its
/// client span, plus database or broker calls.
pub fn corpus(n: usize) -> Vec<Span> {
    let mut rng = Rng(0x5eed);
    let mut spans = Vec::with_capacity(n);
    let mut start = 1_700_000_000_000_000u64;
    while spans.len() < n {
        let trace = TraceId::from_parts(rng.next() | 1, rng.next() | 1).expect("non-zero");
        let root_service = rng.pick(SERVICES);
        let route = rng.pick(ROUTES);
        let root_id = SpanId::new(rng.next() | 1).expect("non-zero");
        let root_duration = 20_000 + rng.below(200_000);
        spans.push(
            Span::builder(trace, root_id)
                .name(&format!("get {route}"))
                .kind(Kind::Server)
                .timestamp(start)
                .duration(root_duration)
                .local_endpoint(endpoint(&mut rng, root_service))
                .remote_endpoint(Endpoint::default().with_ip("203.0.113.7").with_port(51234))
                .tag("http.method", "GET")
                .tag("http.path", route)
                .tag("http.status_code", "200")
                .annotation(start + 150, "wire.recv")
                .build(),
        );
        let hops = 1 + rng.below(3);
        let mut offset = 1_000;
        for _ in 0..hops {
            if spans.len() + 3 > n {
                break;
            }
            let callee = rng.pick(SERVICES);
            let client_id = SpanId::new(rng.next() | 1).expect("non-zero");
            let duration = 2_000 + rng.below(15_000);
            let ts = start + offset;
            spans.push(
                Span::builder(trace, client_id)
                    .parent_id(root_id)
                    .name(&format!("post /{callee}"))
                    .kind(Kind::Client)
                    .timestamp(ts)
                    .duration(duration)
                    .local_endpoint(endpoint(&mut rng, root_service))
                    .remote_endpoint(Endpoint::service(callee))
                    .tag("http.method", "POST")
                    .tag("http.path", &format!("/{callee}"))
                    .build(),
            );
            spans.push(
                Span::builder(trace, client_id)
                    .parent_id(root_id)
                    .name(&format!("post /{callee}"))
                    .kind(Kind::Server)
                    .shared(true)
                    .timestamp(ts + 300)
                    .duration(duration - 600)
                    .local_endpoint(endpoint(&mut rng, callee))
                    .tag(
                        "http.status_code",
                        if rng.below(20) == 0 { "500" } else { "200" },
                    )
                    .build(),
            );
            let db = rng.pick(DATABASES);
            spans.push(
                Span::builder(trace, SpanId::new(rng.next() | 1).expect("non-zero"))
                    .parent_id(client_id)
                    .name(if db == "kafka" { "send" } else { "query" })
                    .kind(if db == "kafka" {
                        Kind::Producer
                    } else {
                        Kind::Client
                    })
                    .timestamp(ts + 500)
                    .duration(500 + rng.below(3_000))
                    .local_endpoint(endpoint(&mut rng, callee))
                    .remote_endpoint(Endpoint::service(db).with_port(5432))
                    .tag("db.statement", "SELECT id, qty FROM items WHERE sku = $1")
                    .build(),
            );
            offset += duration;
        }
        start += 1_000_000;
    }
    spans.truncate(n);
    spans
}

fn endpoint(rng: &mut Rng, service: &str) -> Endpoint {
    let ip = format!("10.0.{}.{}", rng.below(4), 1 + rng.below(250));
    Endpoint::service(service).with_ip(&ip).with_port(8080)
}
