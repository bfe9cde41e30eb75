//! The benchmark corpus of performance-baselines.md §2a, ported from its Python generator.
//!
//! Same shape and distribution: traces of 3-12 spans with 128-bit trace ids, a SERVER root
//! and SERVER/CLIENT/PRODUCER/CONSUMER children, HTTP or DB/queue names, a local endpoint
//! with ipv4 and port, a remote endpoint on all non-root spans and half the roots, 3-6 tags,
//! 0-2 annotations, 10 services, compact JSON (about 540 bytes per span). The random source
//! is a seeded SplitMix64, so the bytes are stable across runs and machines (not identical to
//! Python's output, whose generator differs).
//!
//! Use from any bench with `#[path = "support/corpus.rs"] mod corpus;`.

#![allow(dead_code)] // each bench uses its own subset

use std::fmt::Write as _;

/// The seed used by the baselines.
pub const SEED: u64 = 42;

/// A JSON v2 list of `n` spans.
pub fn generate(n: usize, seed: u64) -> Vec<u8> {
    generate_spans(n, seed).into_bytes()
}

/// Like [`generate`], one string per span, for callers that batch differently.
pub fn generate_span_objects(n: usize, seed: u64) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    Generator::new(seed).run(n, |span| out.push(span.to_owned()));
    out
}

fn generate_spans(n: usize, seed: u64) -> String {
    let mut json = String::with_capacity(n * 560 + 2);
    json.push('[');
    let mut first = true;
    Generator::new(seed).run(n, |span| {
        if !first {
            json.push(',');
        }
        first = false;
        json.push_str(span);
    });
    json.push(']');
    json
}

pub const SERVICES: [&str; 10] = [
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
pub const ROUTES: [&str; 10] = [
    "/api/users/{id}",
    "/api/orders",
    "/api/orders/{id}/items",
    "/checkout",
    "/api/search",
    "/login",
    "/api/cart",
    "/api/products/{id}",
    "/health",
    "/api/recommendations",
];
pub const DB_OPS: [&str; 6] = [
    "SELECT users",
    "INSERT orders",
    "UPDATE inventory",
    "SELECT products",
    "redis GET",
    "kafka send",
];
const KINDS: [&str; 5] = ["SERVER", "CLIENT", "CLIENT", "PRODUCER", "CONSUMER"];
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const STATUS: [&str; 6] = ["200", "200", "200", "201", "404", "500"];
const ANNOTATIONS: [&str; 4] = ["wire.send", "wire.recv", "retry", "cache.miss"];
const T0: u64 = 1_700_000_000_000_000;

struct Generator {
    state: u64,
}

impl Generator {
    fn new(seed: u64) -> Self {
        Generator { state: seed }
    }

    /// SplitMix64.
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `randrange(lo, hi)`: lo <= x < hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }

    /// `randint(lo, hi)`: lo <= x <= hi.
    fn int(&mut self, lo: u64, hi: u64) -> u64 {
        self.range(lo, hi + 1)
    }

    fn choice<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.range(0, items.len() as u64) as usize]
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn hex64(&mut self) -> String {
        format!("{:016x}", self.next_u64())
    }

    fn ip(&mut self) -> String {
        format!(
            "10.{}.{}.{}",
            self.range(0, 256),
            self.range(0, 256),
            self.range(1, 255)
        )
    }

    fn run(&mut self, n: usize, mut emit: impl FnMut(&str)) {
        let mut produced = 0;
        let mut span = String::with_capacity(1024);
        while produced < n {
            let trace_id = format!("{}{}", self.hex64(), self.hex64());
            let root = self.hex64();
            let mut ids = vec![root.clone()];
            let base = T0 + self.range(0, 3_600_000_000);
            for k in 0..self.int(3, 12) {
                if produced >= n {
                    break;
                }
                let sid = if k == 0 { root.clone() } else { self.hex64() };
                let parent =
                    (k != 0).then(|| ids[self.range(0, ids.len() as u64) as usize].clone());
                ids.push(sid.clone());
                let kind = if k == 0 {
                    "SERVER"
                } else {
                    self.choice(&KINDS)
                };
                let svc = self.choice(&SERVICES);
                let remote = self.choice(&SERVICES);
                let route = self.choice(&ROUTES);
                let method = self.choice(&METHODS);
                let ts = base + k * self.range(50, 5000);
                let name = if kind == "SERVER" || kind == "CLIENT" {
                    format!("{} {route}", method.to_lowercase())
                } else {
                    self.choice(&DB_OPS).to_owned()
                };
                let duration = self.range(100, 2_000_000);

                span.clear();
                let _ = write!(span, r#"{{"traceId":"{trace_id}""#);
                if let Some(parent) = parent {
                    let _ = write!(span, r#","parentId":"{parent}""#);
                }
                let _ = write!(
                    span,
                    r#","id":"{sid}","kind":"{kind}","name":"{name}","timestamp":{ts},"duration":{duration}"#
                );
                let local_ip = self.ip();
                let local_port = [8080, 8443, 9000, 3000][self.range(0, 4) as usize];
                let _ = write!(
                    span,
                    r#","localEndpoint":{{"serviceName":"{svc}","ipv4":"{local_ip}","port":{local_port}}}"#
                );
                if kind != "SERVER" || self.chance(0.5) {
                    let remote_ip = self.ip();
                    let remote_port = [5432, 6379, 9092, 8080][self.range(0, 4) as usize];
                    let _ = write!(
                        span,
                        r#","remoteEndpoint":{{"serviceName":"{remote}","ipv4":"{remote_ip}","port":{remote_port}}}"#
                    );
                }
                let path = route.replace("{id}", &self.range(0, 100_000).to_string());
                let status = self.choice(&STATUS);
                let _ = write!(
                    span,
                    r#","tags":{{"http.method":"{method}","http.path":"{path}","http.status_code":"{status}""#
                );
                let url = format!(
                    "https://shop.example.com{}",
                    route.replace("{id}", &self.range(0, 1000).to_string())
                );
                let mut extra: Vec<(&str, String)> = vec![
                    ("component", "spring-webmvc".to_owned()),
                    ("http.url", url),
                    ("peer.service", remote.to_owned()),
                    ("error", "Internal Server Error".to_owned()),
                    ("clnt/finagle.version", "6.45.0".to_owned()),
                    (
                        "db.statement",
                        "SELECT id, name, email FROM users WHERE id = $1".to_owned(),
                    ),
                ];
                // `random.sample`: k distinct entries in random order.
                let k_extra = self.int(0, 3) as usize;
                for i in 0..k_extra {
                    let j = self.range(i as u64, extra.len() as u64) as usize;
                    extra.swap(i, j);
                    let (key, value) = &extra[i];
                    let _ = write!(span, r#","{key}":"{value}""#);
                }
                span.push('}');
                let annotations = self.int(0, 2);
                if annotations > 0 {
                    span.push_str(r#","annotations":["#);
                    for i in 0..annotations {
                        if i != 0 {
                            span.push(',');
                        }
                        let at = ts + self.range(1, 1000);
                        let value = self.choice(&ANNOTATIONS);
                        let _ = write!(span, r#"{{"timestamp":{at},"value":"{value}"}}"#);
                    }
                    span.push(']');
                }
                span.push('}');
                emit(&span);
                produced += 1;
            }
        }
    }
}
