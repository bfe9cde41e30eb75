//! How a span becomes one `zipkin_spans` row and back.
//!
//! What search filters on lives in typed columns (ids, timestamp, duration, service and
//! span names); everything else (kind, flags, addresses, annotations, tags) is packed into
//! a compact binary `body`. Why not JSON v2 text or jsonb: the corpus' spans are ~540 B
//! as JSON and ~270 B as proto3; a row must stay under the 600 B/span budget including
//! heap overhead and indexes, and jsonb input parsing halves the COPY rate (see
//! BENCHMARKS.md). The body omits what the columns already hold, so a typical span's
//! body is ~150 B, and decoding it is a few length-prefixed reads.
//!
//! Layout (version 1), integers as LEB128 varints unless noted:
//! ```text
//! u8 version = 1
//! u8 flags: bit0 debug, bit1 shared, bits2-4 kind (0 none, 1 CLIENT, 2 SERVER,
//!           3 PRODUCER, 4 CONSUMER), bit5 local endpoint present, bit6 remote present
//! [local endpoint address] [remote endpoint address], each when present:
//!     u8 mask (1 ipv4, 2 ipv6, 4 port), then 4 B ipv4, 16 B ipv6, 2 B port (big-endian)
//! varint annotation count; each: zigzag varint (timestamp - span timestamp), string
//! varint tag count; each: string key, string value
//! string = varint byte length + UTF-8 bytes
//! ```
//! Service names of both endpoints and the span name are in their columns.

use std::net::{Ipv4Addr, Ipv6Addr};

use compact_str::CompactString;

use crate::model::{Annotation, Endpoint, Kind, Span, SpanId, TraceId};

const VERSION: u8 = 1;
pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;
pub(crate) const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// One span as the columns of `zipkin_spans`.
#[derive(Debug, Clone)]
pub(crate) struct SpanRow {
    pub trace_id_high: i64,
    pub trace_id: i64,
    pub id: i64,
    pub parent_id: Option<i64>,
    pub ts: Option<i64>,
    pub duration: Option<i64>,
    pub content_hash: i64,
    pub day: i32,
    pub local_service: Option<String>,
    pub remote_service: Option<String>,
    pub name: Option<String>,
    /// `None` when search is disabled; see [`search_key_tag`] and friends.
    pub search_keys: Option<Vec<i32>>,
    pub body: Vec<u8>,
}

/// UTC day number (days since the epoch) of a µs timestamp.
pub(crate) fn day_of(micros: i64) -> i32 {
    micros.div_euclid(MICROS_PER_DAY) as i32
}

/// UTC hour number of a µs timestamp.
pub(crate) fn hour_of(micros: i64) -> i32 {
    micros.div_euclid(MICROS_PER_HOUR) as i32
}

/// Builds the row for a (normalised) span. `now_micros` files timestamp-less spans under
/// the day they arrived.
pub(crate) fn encode_row(span: &Span, now_micros: i64, search_enabled: bool) -> SpanRow {
    let ts = span.timestamp.map(|t| t as i64);
    let mut body = Vec::with_capacity(64 + span.tags.len() * 32);
    body.push(VERSION);
    let kind_bits = match span.kind {
        None => 0u8,
        Some(Kind::Client) => 1,
        Some(Kind::Server) => 2,
        Some(Kind::Producer) => 3,
        Some(Kind::Consumer) => 4,
    };
    let flags = u8::from(span.debug)
        | (u8::from(span.shared) << 1)
        | (kind_bits << 2)
        | (u8::from(span.local_endpoint.is_some()) << 5)
        | (u8::from(span.remote_endpoint.is_some()) << 6);
    body.push(flags);
    for endpoint in [&span.local_endpoint, &span.remote_endpoint]
        .into_iter()
        .flatten()
    {
        put_address(&mut body, endpoint);
    }
    let base = ts.unwrap_or(0);
    put_varint(&mut body, span.annotations.len() as u64);
    for a in &span.annotations {
        put_varint(&mut body, zigzag((a.timestamp as i64).wrapping_sub(base)));
        put_str(&mut body, &a.value);
    }
    put_varint(&mut body, span.tags.len() as u64);
    for (k, v) in &span.tags {
        put_str(&mut body, k);
        put_str(&mut body, v);
    }

    let search_keys = search_enabled.then(|| {
        let mut keys: Vec<i32> = Vec::with_capacity(span.tags.len() * 2 + span.annotations.len());
        for (k, v) in &span.tags {
            keys.push(search_key_term(k));
            keys.push(search_key_tag(k, v));
        }
        for a in &span.annotations {
            keys.push(search_key_term(&a.value));
        }
        keys.sort_unstable();
        keys.dedup();
        keys
    });

    let mut row = SpanRow {
        trace_id_high: span.trace_id.high() as i64,
        trace_id: span.trace_id.low() as i64,
        id: span.id.get() as i64,
        parent_id: span.parent_id.map(|p| p.get() as i64),
        ts,
        duration: span.duration.map(|d| d as i64),
        content_hash: 0,
        day: day_of(ts.unwrap_or(now_micros)),
        local_service: span.local_service_name().map(str::to_owned),
        remote_service: span.remote_service_name().map(str::to_owned),
        name: span.name.as_deref().map(str::to_owned),
        search_keys,
        body,
    };
    row.content_hash = content_hash(&row);
    row
}

/// Identity of a stored span: every field, so identical spans collide (and are stored
/// once) while fragments that differ in anything stay apart. FNV-1a is stable across
/// builds and platforms, which matters because replays may come from another version.
fn content_hash(row: &SpanRow) -> i64 {
    let mut h = Fnv::new();
    h.write(&row.trace_id_high.to_be_bytes());
    h.write(&row.trace_id.to_be_bytes());
    h.write(&row.id.to_be_bytes());
    for v in [row.parent_id, row.ts, row.duration] {
        match v {
            Some(v) => {
                h.write(&[1]);
                h.write(&v.to_be_bytes());
            }
            None => h.write(&[0]),
        }
    }
    for s in [&row.local_service, &row.remote_service, &row.name] {
        match s {
            Some(s) => {
                h.write(&[1]);
                h.write(&(s.len() as u64).to_be_bytes());
                h.write(s.as_bytes());
            }
            None => h.write(&[0]),
        }
    }
    h.write(&row.body);
    h.finish() as i64
}

/// Search key of an annotation value or a tag key: the two things a bare
/// `annotationQuery` term may match, so one key serves both.
pub(crate) fn search_key_term(value: &str) -> i32 {
    let mut h = Fnv::new();
    h.write(b"k");
    h.write(value.as_bytes());
    h.finish_32()
}

/// Search key of a `key=value` tag term.
pub(crate) fn search_key_tag(key: &str, value: &str) -> i32 {
    let mut h = Fnv::new();
    h.write(b"t");
    h.write(&(key.len() as u64).to_be_bytes());
    h.write(key.as_bytes());
    h.write(value.as_bytes());
    h.finish_32()
}

/// The raw columns read back for one span.
pub(crate) struct StoredSpan {
    pub trace_id_high: i64,
    pub trace_id: i64,
    pub id: i64,
    pub parent_id: Option<i64>,
    pub ts: Option<i64>,
    pub duration: Option<i64>,
    pub local_service: Option<String>,
    pub remote_service: Option<String>,
    pub name: Option<String>,
    pub body: Vec<u8>,
}

/// Why a stored row could not be turned back into a span (corruption or a newer format).
#[derive(Debug, thiserror::Error)]
#[error("undecodable span row: {0}")]
pub(crate) struct DecodeError(&'static str);

pub(crate) fn decode_row(row: StoredSpan) -> Result<Span, DecodeError> {
    decode(row, true)
}

/// The part of a row the dependency linker reads: ids, timestamp, kind, flags, endpoints
/// and an `error` tag. Annotations and the other tags are skipped without allocating,
/// which makes linking a week of spans on demand several times cheaper than decoding them
/// whole (the row's name and duration need not be selected either).
pub(crate) fn decode_row_for_linking(row: StoredSpan) -> Result<Span, DecodeError> {
    decode(row, false)
}

fn decode(row: StoredSpan, whole: bool) -> Result<Span, DecodeError> {
    let trace_id = TraceId::from_parts(row.trace_id_high as u64, row.trace_id as u64)
        .ok_or(DecodeError("zero trace id"))?;
    let id = SpanId::new(row.id as u64).ok_or(DecodeError("zero span id"))?;
    let mut span = Span::new(trace_id, id);
    span.parent_id = row.parent_id.and_then(|p| SpanId::new(p as u64));
    span.timestamp = row.ts.map(|t| t as u64);
    span.duration = row.duration.map(|d| d as u64);
    span.name = row.name.map(CompactString::from);

    let mut r = Reader {
        buf: &row.body,
        pos: 0,
    };
    if r.u8()? != VERSION {
        return Err(DecodeError("unknown body version"));
    }
    let flags = r.u8()?;
    span.debug = flags & 1 != 0;
    span.shared = flags & 2 != 0;
    span.kind = match (flags >> 2) & 0b111 {
        0 => None,
        1 => Some(Kind::Client),
        2 => Some(Kind::Server),
        3 => Some(Kind::Producer),
        4 => Some(Kind::Consumer),
        _ => return Err(DecodeError("bad kind")),
    };
    if flags & (1 << 5) != 0 {
        let mut e = r.address()?;
        e.service_name = row.local_service.map(CompactString::from);
        span.local_endpoint = Some(e);
    }
    if flags & (1 << 6) != 0 {
        let mut e = r.address()?;
        e.service_name = row.remote_service.map(CompactString::from);
        span.remote_endpoint = Some(e);
    }
    let base = row.ts.unwrap_or(0);
    let n = r.varint()? as usize;
    if whole {
        span.annotations.reserve(n.min(1024));
    }
    for _ in 0..n {
        let delta = unzigzag(r.varint()?);
        let value = r.str()?;
        if whole {
            span.annotations
                .push(Annotation::new(base.wrapping_add(delta) as u64, value));
        }
    }
    let n = r.varint()? as usize;
    if whole {
        span.tags.reserve(n.min(1024));
    }
    for _ in 0..n {
        let k = r.str()?;
        let v = r.str()?;
        if whole || k == "error" {
            span.tags.push((k.into(), v.into()));
        }
    }
    Ok(span)
}

fn put_address(out: &mut Vec<u8>, e: &Endpoint) {
    let mask = u8::from(e.ipv4.is_some())
        | (u8::from(e.ipv6.is_some()) << 1)
        | (u8::from(e.port.is_some()) << 2);
    out.push(mask);
    if let Some(v4) = e.ipv4 {
        out.extend_from_slice(&v4.octets());
    }
    if let Some(v6) = e.ipv6 {
        out.extend_from_slice(&v6.octets());
    }
    if let Some(port) = e.port {
        out.extend_from_slice(&port.to_be_bytes());
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError("truncated body"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError("varint too long"))
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.varint()? as usize;
        std::str::from_utf8(self.take(n)?).map_err(|_| DecodeError("invalid utf-8"))
    }

    fn address(&mut self) -> Result<Endpoint, DecodeError> {
        let mask = self.u8()?;
        let mut e = Endpoint::default();
        if mask & 1 != 0 {
            let b: [u8; 4] = self.take(4)?.try_into().expect("4 bytes");
            e.ipv4 = Some(Ipv4Addr::from(b));
        }
        if mask & 2 != 0 {
            let b: [u8; 16] = self.take(16)?.try_into().expect("16 bytes");
            e.ipv6 = Some(Ipv6Addr::from(b));
        }
        if mask & 4 != 0 {
            let b: [u8; 2] = self.take(2)?.try_into().expect("2 bytes");
            e.port = Some(u16::from_be_bytes(b));
        }
        Ok(e)
    }
}

/// 64-bit FNV-1a: tiny, fast on short inputs and identical everywhere.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
    fn finish_32(&self) -> i32 {
        ((self.0 >> 32) ^ self.0) as u32 as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(row: &SpanRow) -> StoredSpan {
        StoredSpan {
            trace_id_high: row.trace_id_high,
            trace_id: row.trace_id,
            id: row.id,
            parent_id: row.parent_id,
            ts: row.ts,
            duration: row.duration,
            local_service: row.local_service.clone(),
            remote_service: row.remote_service.clone(),
            name: row.name.clone(),
            body: row.body.clone(),
        }
    }

    fn full_span() -> Span {
        Span::builder(
            TraceId::parse("463ac35c9f6413ad48485a3953bb6124").unwrap(),
            SpanId::parse("a").unwrap(),
        )
        .parent_id(SpanId::parse("ffffffffffffffff").unwrap())
        .kind(Kind::Server)
        .shared(true)
        .debug(true)
        .name("get /api")
        .timestamp(1_700_000_000_000_001)
        .duration(207)
        .local_endpoint(
            Endpoint::service("frontend")
                .with_ip("10.0.0.1")
                .with_port(8080),
        )
        .remote_endpoint(Endpoint::default().with_ip("2001:db8::c001"))
        .annotation(1_700_000_000_000_000, "before")
        .annotation(1_700_000_000_000_900, "⻩")
        .tag("error", "")
        .tag("http.path", "/api")
        .build()
    }

    #[test]
    fn a_span_survives_the_round_trip_through_its_row() {
        let span = full_span();
        let row = encode_row(&span, 0, true);
        assert_eq!(row.remote_service, None);
        assert_eq!(decode_row(stored(&row)).unwrap(), span);
        let minimal = Span::new(TraceId::parse("1").unwrap(), SpanId::parse("2").unwrap());
        let row = encode_row(&minimal, 5 * MICROS_PER_DAY, true);
        assert_eq!(row.day, 5);
        assert_eq!(decode_row(stored(&row)).unwrap(), minimal);
    }

    #[test]
    fn identical_spans_share_a_hash_and_any_difference_changes_it() {
        let a = encode_row(&full_span(), 0, true);
        let b = encode_row(&full_span(), 99, true);
        assert_eq!(a.content_hash, b.content_hash);
        let mut other = full_span();
        other.shared = false;
        assert_ne!(encode_row(&other, 0, true).content_hash, a.content_hash);
        let mut other = full_span();
        other.tags[1].1 = "/api2".into();
        assert_ne!(encode_row(&other, 0, true).content_hash, a.content_hash);
    }

    #[test]
    fn search_keys_cover_tag_keys_pairs_and_annotation_values() {
        let row = encode_row(&full_span(), 0, true);
        let keys = row.search_keys.unwrap();
        for k in [
            search_key_term("error"),
            search_key_term("http.path"),
            search_key_tag("http.path", "/api"),
            search_key_term("⻩"),
        ] {
            assert!(keys.contains(&k));
        }
        assert!(!keys.contains(&search_key_tag("http.path", "/api2")));
        assert!(encode_row(&full_span(), 0, false).search_keys.is_none());
    }

    #[test]
    fn rows_decoded_for_linking_keep_what_the_linker_reads() {
        let span = full_span();
        let linked = decode_row_for_linking(stored(&encode_row(&span, 0, true))).unwrap();
        assert!(linked.annotations.is_empty());
        assert_eq!(linked.tags.len(), 1);
        assert_eq!(linked.tag("error"), Some(""));
        assert_eq!(linked.local_endpoint, span.local_endpoint);
        assert_eq!(linked.remote_endpoint, span.remote_endpoint);
        assert_eq!(
            (
                linked.kind,
                linked.shared,
                linked.parent_id,
                linked.timestamp
            ),
            (span.kind, span.shared, span.parent_id, span.timestamp)
        );
    }

    #[test]
    fn truncated_bodies_are_errors_not_panics() {
        let row = encode_row(&full_span(), 0, true);
        for cut in 0..row.body.len() {
            let mut s = stored(&row);
            s.body.truncate(cut);
            assert!(decode_row(s).is_err());
        }
    }

    #[test]
    fn days_and_hours_floor_negative_times() {
        assert_eq!(day_of(-1), -1);
        assert_eq!(day_of(MICROS_PER_DAY), 1);
        assert_eq!(hour_of(MICROS_PER_HOUR - 1), 0);
    }
}
