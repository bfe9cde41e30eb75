//! The compact form of a stored span.
//!
//! Fields that queries filter on (ids, times, names) live in a fixed-size struct, with
//! names as interned symbols; everything else (addresses, annotations, tag values) is
//! packed into one exactly-sized byte blob. At the benchmark's span mix this is about
//! half the span's JSON size, against more than twice for an owned `Span`.
//!
//! Blob layout: a flags byte saying which addresses follow; local IPv4, IPv6, port;
//! remote IPv4, IPv6, port; varint annotation count, then per annotation a zig-zag varint
//! timestamp delta from the span's timestamp and a length-prefixed value; varint tag
//! count, then per tag a varint key symbol and a length-prefixed value.

use std::net::{Ipv4Addr, Ipv6Addr};

use compact_str::CompactString;

use super::interner::{Interner, Sym, NONE};
use crate::model::{Annotation, Endpoint, Kind, Span, SpanId, TraceId};

const LOCAL_V4: u8 = 1;
const LOCAL_V6: u8 = 1 << 1;
const LOCAL_PORT: u8 = 1 << 2;
const REMOTE_V4: u8 = 1 << 3;
const REMOTE_V6: u8 = 1 << 4;
const REMOTE_PORT: u8 = 1 << 5;
const DEBUG: u8 = 1;
const SHARED: u8 = 1 << 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSpan {
    /// High 64 bits of the trace id (0 for 64-bit ids); the low bits are the bucket key.
    pub trace_high: u64,
    pub id: u64,
    /// 0 when absent.
    pub parent_id: u64,
    /// 0 when absent.
    pub timestamp: u64,
    /// 0 when absent.
    pub duration: u64,
    pub local_service: Sym,
    pub remote_service: Sym,
    pub name: Sym,
    /// 0 when absent, else 1 + the `Kind` discriminant.
    pub kind: u8,
    pub flags: u8,
    pub blob: Box<[u8]>,
}

impl StoredSpan {
    /// Packs a span, taking interner references for its names and tag keys.
    pub fn pack(span: &Span, interner: &mut Interner, scratch: &mut Vec<u8>) -> Self {
        scratch.clear();
        let mut addr_flags = 0u8;
        scratch.push(0);
        let local = span.local_endpoint.as_ref();
        let remote = span.remote_endpoint.as_ref();
        push_addresses(
            local,
            scratch,
            &mut addr_flags,
            [LOCAL_V4, LOCAL_V6, LOCAL_PORT],
        );
        push_addresses(
            remote,
            scratch,
            &mut addr_flags,
            [REMOTE_V4, REMOTE_V6, REMOTE_PORT],
        );
        scratch[0] = addr_flags;

        let base = span.timestamp.unwrap_or(0);
        push_varint(scratch, span.annotations.len() as u64);
        for a in &span.annotations {
            push_varint(scratch, zigzag(a.timestamp.wrapping_sub(base) as i64));
            push_str(scratch, &a.value);
        }
        push_varint(scratch, span.tags.len() as u64);
        for (k, v) in &span.tags {
            push_varint(scratch, u64::from(interner.acquire(k)));
            push_str(scratch, v);
        }

        let sym = |interner: &mut Interner, name: Option<&str>| {
            name.map_or(NONE, |n| interner.acquire(n))
        };
        StoredSpan {
            trace_high: span.trace_id.high(),
            id: span.id.get(),
            parent_id: span.parent_id.map_or(0, SpanId::get),
            timestamp: span.timestamp.unwrap_or(0),
            duration: span.duration.unwrap_or(0),
            local_service: sym(interner, span.local_service_name()),
            remote_service: sym(interner, span.remote_service_name()),
            name: sym(interner, span.name.as_deref()),
            kind: span.kind.map_or(0, |k| k as u8 + 1),
            flags: if span.debug { DEBUG } else { 0 } | if span.shared { SHARED } else { 0 },
            blob: scratch.as_slice().into(),
        }
    }

    /// Drops the interner references taken by [`StoredSpan::pack`].
    pub fn release(&self, interner: &mut Interner) {
        interner.release(self.local_service);
        interner.release(self.remote_service);
        interner.release(self.name);
        let mut reader = self.body();
        for _ in 0..reader.annotation_count() {
            reader.next_annotation();
        }
        for _ in 0..reader.tag_count() {
            let (key, _) = reader.next_tag();
            interner.release(key);
        }
    }

    pub fn trace_id(&self, low: u64) -> TraceId {
        TraceId::from_parts(self.trace_high, low).expect("stored trace ids are non-zero")
    }

    /// Unpacks into a model span.
    pub fn unpack(&self, low: u64, interner: &Interner) -> Span {
        let name = |sym: Sym| (sym != NONE).then(|| CompactString::from(interner.resolve(sym)));
        let mut reader = BlobReader {
            buf: &self.blob,
            pos: 0,
        };
        let (local, remote) = reader.endpoints();
        let local = endpoint(name(self.local_service), local);
        let remote = endpoint(name(self.remote_service), remote);
        let annotations = (0..reader.annotation_count())
            .map(|_| {
                let (delta, value) = reader.next_annotation();
                Annotation::new(self.timestamp.wrapping_add(delta as u64), value)
            })
            .collect();
        let tags = (0..reader.tag_count())
            .map(|_| {
                let (key, value) = reader.next_tag();
                (
                    CompactString::from(interner.resolve(key)),
                    CompactString::from(value),
                )
            })
            .collect();
        Span {
            trace_id: self.trace_id(low),
            parent_id: SpanId::new(self.parent_id),
            id: SpanId::new(self.id).expect("stored span ids are non-zero"),
            kind: match self.kind {
                1 => Some(Kind::Client),
                2 => Some(Kind::Server),
                3 => Some(Kind::Producer),
                4 => Some(Kind::Consumer),
                _ => None,
            },
            name: name(self.name),
            timestamp: (self.timestamp != 0).then_some(self.timestamp),
            duration: (self.duration != 0).then_some(self.duration),
            local_endpoint: local,
            remote_endpoint: remote,
            annotations,
            tags,
            debug: self.flags & DEBUG != 0,
            shared: self.flags & SHARED != 0,
        }
    }

    /// A reader positioned after the addresses, for matching on tags and annotations
    /// without unpacking.
    pub fn body(&self) -> BlobReader<'_> {
        let mut reader = BlobReader {
            buf: &self.blob,
            pos: 0,
        };
        reader.endpoints();
        reader
    }

    /// Whether any annotation has this value.
    pub fn has_annotation(&self, value: &str) -> bool {
        let mut reader = self.body();
        (0..reader.annotation_count()).any(|_| reader.next_annotation().1 == value)
    }

    /// The value of the tag with this key symbol.
    pub fn tag(&self, key: Sym) -> Option<&str> {
        let mut reader = self.body();
        for _ in 0..reader.annotation_count() {
            reader.next_annotation();
        }
        (0..reader.tag_count())
            .map(|_| reader.next_tag())
            .find_map(|(k, v)| (k == key).then_some(v))
    }
}

#[derive(Default)]
pub struct Addresses {
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
    port: Option<u16>,
}

fn endpoint(service_name: Option<CompactString>, a: Addresses) -> Option<Endpoint> {
    let e = Endpoint {
        service_name,
        ipv4: a.ipv4,
        ipv6: a.ipv6,
        port: a.port,
    };
    (!e.is_empty()).then_some(e)
}

/// Sequential reader over a blob written by [`StoredSpan::pack`]. The blob is only ever
/// produced by `pack`, so malformed input is a bug, not an input error.
pub struct BlobReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> BlobReader<'a> {
    /// Reads the addresses; must be the first read of a fresh reader.
    fn endpoints(&mut self) -> (Addresses, Addresses) {
        debug_assert_eq!(self.pos, 0, "addresses are at the start of the blob");
        let flags = self.buf[0];
        self.pos = 1;
        let local = self.addresses(flags, [LOCAL_V4, LOCAL_V6, LOCAL_PORT]);
        let remote = self.addresses(flags, [REMOTE_V4, REMOTE_V6, REMOTE_PORT]);
        (local, remote)
    }

    fn addresses(&mut self, flags: u8, bits: [u8; 3]) -> Addresses {
        let mut a = Addresses::default();
        if flags & bits[0] != 0 {
            let b: [u8; 4] = self.take(4).try_into().expect("4 bytes");
            a.ipv4 = Some(Ipv4Addr::from(b));
        }
        if flags & bits[1] != 0 {
            let b: [u8; 16] = self.take(16).try_into().expect("16 bytes");
            a.ipv6 = Some(Ipv6Addr::from(b));
        }
        if flags & bits[2] != 0 {
            let b: [u8; 2] = self.take(2).try_into().expect("2 bytes");
            a.port = Some(u16::from_le_bytes(b));
        }
        a
    }

    pub fn annotation_count(&mut self) -> usize {
        self.varint() as usize
    }

    /// Returns (timestamp delta from the span's timestamp, value).
    pub fn next_annotation(&mut self) -> (i64, &'a str) {
        let delta = unzigzag(self.varint());
        (delta, self.str())
    }

    pub fn tag_count(&mut self) -> usize {
        self.varint() as usize
    }

    pub fn next_tag(&mut self) -> (Sym, &'a str) {
        let key = self.varint() as Sym;
        (key, self.str())
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        out
    }

    fn str(&mut self) -> &'a str {
        let len = self.varint() as usize;
        // Written from a &str by `push_str`.
        std::str::from_utf8(self.take(len)).expect("blob strings are utf-8")
    }

    fn varint(&mut self) -> u64 {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let b = self.buf[self.pos];
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return value;
            }
            shift += 7;
        }
    }
}

fn push_addresses(e: Option<&Endpoint>, out: &mut Vec<u8>, flags: &mut u8, bits: [u8; 3]) {
    let Some(e) = e else { return };
    if let Some(v4) = e.ipv4 {
        *flags |= bits[0];
        out.extend_from_slice(&v4.octets());
    }
    if let Some(v6) = e.ipv6 {
        *flags |= bits[1];
        out.extend_from_slice(&v6.octets());
    }
    if let Some(port) = e.port {
        *flags |= bits[2];
        out.extend_from_slice(&port.to_le_bytes());
    }
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    push_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_span() -> Span {
        Span::builder(
            TraceId::parse("463ac35c9f6413ad48485a3953bb6124").unwrap(),
            SpanId::parse("a").unwrap(),
        )
        .parent_id(SpanId::parse("b").unwrap())
        .kind(Kind::Client)
        .name("get /api")
        .timestamp(1_700_000_000_000_000)
        .duration(207_000)
        .local_endpoint(
            Endpoint::service("frontend")
                .with_ip("192.168.0.1")
                .with_port(8080),
        )
        .remote_endpoint(
            Endpoint::service("backend")
                .with_ip("2001:db8::c001")
                .with_port(9000),
        )
        .annotation(1_700_000_000_000_010, "wire.send")
        .annotation(1_699_999_999_999_990, "early")
        .tag("http.path", "/api")
        .tag("error", "")
        .debug(true)
        .build()
    }

    #[test]
    fn pack_and_unpack_round_trip_every_field() {
        let mut interner = Interner::new();
        let span = full_span();
        let stored = StoredSpan::pack(&span, &mut interner, &mut Vec::new());
        assert_eq!(stored.unpack(span.trace_id.low(), &interner), span);
        assert_eq!(stored.tag(interner.lookup("error").unwrap()), Some(""));
        assert!(stored.has_annotation("early"));
        assert!(!stored.has_annotation("late"));
    }

    #[test]
    fn endpoints_without_service_names_survive() {
        let mut interner = Interner::new();
        let span = Span::builder(TraceId::parse("1").unwrap(), SpanId::parse("2").unwrap())
            .local_endpoint(Endpoint::default().with_port(80))
            .remote_endpoint(Endpoint::default().with_ip("10.0.0.1"))
            .shared(true)
            .kind(Kind::Server)
            .build();
        let stored = StoredSpan::pack(&span, &mut interner, &mut Vec::new());
        assert_eq!(stored.unpack(1, &interner), span);
    }

    #[test]
    fn release_returns_every_reference() {
        let mut interner = Interner::new();
        let span = full_span();
        let a = StoredSpan::pack(&span, &mut interner, &mut Vec::new());
        let b = StoredSpan::pack(&span, &mut interner, &mut Vec::new());
        a.release(&mut interner);
        assert!(interner.lookup("frontend").is_some());
        b.release(&mut interner);
        assert_eq!(interner.len(), 0);
    }
}
