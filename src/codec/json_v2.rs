//! Zipkin's JSON v2 span format (`POST /api/v2/spans`, every query response).
//!
//! Decoding has two paths that must agree. The fast path deserializes straight into the model
//! with serde_json visitors: ids parsed from the borrowed text into integers, names and tags
//! built as `CompactString`s, no intermediate DOM. It accepts only plain, well-typed input and
//! gives up on anything else. The reference path (`gson`) then re-reads the body the way
//! Zipkin does, with a re-implementation of the Gson reader Zipkin uses: it decodes what
//! Zipkin tolerates (numbers as strings, `NULL`, raw control characters, trailing bytes, …)
//! and otherwise fails with Zipkin's exact message, location and JSON path included. Input the
//! fast path accepts decodes identically on both (a test checks this), so the slow path costs
//! nothing for well-formed traffic.
//!
//! Encoding writes bytes by hand in the field order and with the omissions of Zipkin's
//! `V2SpanWriter`, so responses are byte-identical to Zipkin's.
//!
//! Where the model cannot hold what Zipkin keeps, decoding differs (all rare in practice):
//! a negative annotation timestamp counts as missing (`Incomplete annotation at ...`); a
//! short all-zero span id such as `"0"` is rejected (`id is all zeros`); an IPv4 text with
//! leading zeros (`10.0.0.01`) is returned without them; a hex-form IPv4-mapped IPv6 address
//! becomes IPv4. Tag keys sort by UTF-8 bytes rather than Java's UTF-16 units, which differ
//! only between characters above U+FFFF and those in U+E000..U+FFFF.

use compact_str::CompactString;

use super::{write_escaped, write_ipv4, write_ipv6, write_json_string, DecodeError};
use crate::model::{Annotation, DependencyLink, Endpoint, Kind, Span, SpanId, TraceId};

mod gson;

/// Decodes a JSON list of spans, all or nothing. An empty body is an empty list, as in
/// Zipkin; so is `[]` followed by anything.
pub fn decode_spans(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    match fast::decode_list(body) {
        Some(spans) => Ok(spans),
        None => gson::decode_list(body),
    }
}

/// Decodes a single span object (Zipkin's `SpanBytesDecoder.JSON_V2.decodeOne`).
pub fn decode_span(body: &[u8]) -> Result<Span, DecodeError> {
    match fast::decode_one(body) {
        Some(span) => Ok(span),
        None => gson::decode_one(body),
    }
}

/// Appends one span as Zipkin's `V2SpanWriter` writes it.
pub fn encode_span(span: &Span, out: &mut Vec<u8>) {
    let mut num = itoa::Buffer::new();
    out.extend_from_slice(b"{\"traceId\":\"");
    out.extend_from_slice(span.trace_id.to_hex().as_str().as_bytes());
    if let Some(parent) = span.parent_id {
        out.extend_from_slice(b"\",\"parentId\":\"");
        out.extend_from_slice(parent.to_hex().as_str().as_bytes());
    }
    out.extend_from_slice(b"\",\"id\":\"");
    out.extend_from_slice(span.id.to_hex().as_str().as_bytes());
    out.push(b'"');
    if let Some(kind) = span.kind {
        out.extend_from_slice(b",\"kind\":\"");
        out.extend_from_slice(kind.as_str().as_bytes());
        out.push(b'"');
    }
    if let Some(name) = &span.name {
        out.extend_from_slice(b",\"name\":");
        write_json_string(out, name);
    }
    if let Some(timestamp) = span.timestamp.filter(|t| *t != 0) {
        out.extend_from_slice(b",\"timestamp\":");
        out.extend_from_slice(num.format(timestamp).as_bytes());
    }
    if let Some(duration) = span.duration.filter(|d| *d != 0) {
        out.extend_from_slice(b",\"duration\":");
        out.extend_from_slice(num.format(duration).as_bytes());
    }
    if let Some(endpoint) = &span.local_endpoint {
        out.extend_from_slice(b",\"localEndpoint\":");
        write_endpoint(endpoint, out);
    }
    if let Some(endpoint) = &span.remote_endpoint {
        out.extend_from_slice(b",\"remoteEndpoint\":");
        write_endpoint(endpoint, out);
    }
    if !span.annotations.is_empty() {
        out.extend_from_slice(b",\"annotations\":[");
        for (i, a) in span.annotations.iter().enumerate() {
            if i != 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"timestamp\":");
            out.extend_from_slice(num.format(a.timestamp).as_bytes());
            out.extend_from_slice(b",\"value\":");
            write_json_string(out, &a.value);
            out.push(b'}');
        }
        out.push(b']');
    }
    if !span.tags.is_empty() {
        out.extend_from_slice(b",\"tags\":{");
        for (i, (key, value)) in span.tags.iter().enumerate() {
            if i != 0 {
                out.push(b',');
            }
            write_json_string(out, key);
            out.push(b':');
            write_json_string(out, value);
        }
        out.push(b'}');
    }
    if span.debug {
        out.extend_from_slice(b",\"debug\":true");
    }
    if span.shared {
        out.extend_from_slice(b",\"shared\":true");
    }
    out.push(b'}');
}

fn write_endpoint(endpoint: &Endpoint, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut wrote_field = false;
    if let Some(name) = &endpoint.service_name {
        out.extend_from_slice(b"\"serviceName\":\"");
        write_escaped(out, name);
        out.push(b'"');
        wrote_field = true;
    }
    if let Some(ipv4) = endpoint.ipv4 {
        if wrote_field {
            out.push(b',');
        }
        out.extend_from_slice(b"\"ipv4\":\"");
        write_ipv4(out, ipv4);
        out.push(b'"');
        wrote_field = true;
    }
    if let Some(ipv6) = endpoint.ipv6 {
        if wrote_field {
            out.push(b',');
        }
        out.extend_from_slice(b"\"ipv6\":\"");
        write_ipv6(out, ipv6);
        out.push(b'"');
        wrote_field = true;
    }
    if let Some(port) = endpoint.port.filter(|p| *p != 0) {
        if wrote_field {
            out.push(b',');
        }
        out.extend_from_slice(b"\"port\":");
        out.extend_from_slice(itoa::Buffer::new().format(port).as_bytes());
    }
    out.push(b'}');
}

/// Appends `[span,span,...]`.
pub fn encode_spans(spans: &[Span], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, span) in spans.iter().enumerate() {
        if i != 0 {
            out.push(b',');
        }
        encode_span(span, out);
    }
    out.push(b']');
}

/// Appends a list of traces, `[[..],[..]]` (the `/api/v2/traces` and `traceMany` bodies).
pub fn encode_traces(traces: &[Vec<Span>], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, trace) in traces.iter().enumerate() {
        if i != 0 {
            out.push(b',');
        }
        encode_spans(trace, out);
    }
    out.push(b']');
}

/// Appends dependency links as Zipkin's `DependencyLinkBytesEncoder` does: `errorCount` only
/// when non-zero.
pub fn encode_dependency_links(links: &[DependencyLink], out: &mut Vec<u8>) {
    let mut num = itoa::Buffer::new();
    out.push(b'[');
    for (i, link) in links.iter().enumerate() {
        if i != 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"parent\":");
        write_json_string(out, &link.parent);
        out.extend_from_slice(b",\"child\":");
        write_json_string(out, &link.child);
        out.extend_from_slice(b",\"callCount\":");
        out.extend_from_slice(num.format(link.call_count).as_bytes());
        if link.error_count > 0 {
            out.extend_from_slice(b",\"errorCount\":");
            out.extend_from_slice(num.format(link.error_count).as_bytes());
        }
        out.push(b'}');
    }
    out.push(b']');
}

/// Appends a JSON list of strings (service, span and remote service names, autocomplete
/// keys and values).
///
/// Zipkin writes these names raw, without escaping; escaping is identical for ordinary names
/// and keeps the body valid JSON for names containing quotes, backslashes or controls.
pub fn encode_strings(values: &[String], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, value) in values.iter().enumerate() {
        if i != 0 {
            out.push(b',');
        }
        write_json_string(out, value);
    }
    out.push(b']');
}

/// A span being decoded, in the shape of Zipkin's `Span.Builder`: the ids are optional until
/// the object ends, and a repeated field overwrites (annotations and tags accumulate).
#[derive(Default)]
struct Draft {
    trace_id: Option<TraceId>,
    id: Option<SpanId>,
    parent_id: Option<SpanId>,
    kind: Option<Kind>,
    name: Option<CompactString>,
    /// Zero (Zipkin's "absent") after a negative input.
    timestamp: Option<u64>,
    duration: Option<u64>,
    local_endpoint: Option<Endpoint>,
    remote_endpoint: Option<Endpoint>,
    annotations: Vec<Annotation>,
    tags: Vec<(CompactString, CompactString)>,
    debug: bool,
    shared: bool,
}

impl Draft {
    /// Builds the normalised span, or names what is missing as `Span.Builder.build` does.
    fn finish(self) -> Result<Span, &'static str> {
        let (trace_id, id) = match (self.trace_id, self.id) {
            (Some(trace_id), Some(id)) => (trace_id, id),
            (None, Some(_)) => return Err("Missing : traceId"),
            (Some(_), None) => return Err("Missing : id"),
            (None, None) => return Err("Missing : traceId id"),
        };
        let mut span = Span {
            trace_id,
            parent_id: self.parent_id,
            id,
            kind: self.kind,
            name: self.name,
            timestamp: self.timestamp,
            duration: self.duration,
            local_endpoint: self.local_endpoint,
            remote_endpoint: self.remote_endpoint,
            annotations: self.annotations,
            tags: self.tags,
            debug: self.debug,
            shared: self.shared,
        };
        span.normalize();
        Ok(span)
    }
}

/// Zipkin's `Builder.timestamp(long)`/`duration(long)`: negative means absent.
fn non_negative(value: i64) -> u64 {
    value.max(0) as u64
}

/// Zipkin's `Endpoint.Builder.port(int)`, for values already known to be at most 65535.
fn port_from(value: i64) -> Option<u16> {
    (value > 0).then_some(value as u16)
}

/// The serde_json path. Every function returns `None` as soon as the input is anything but
/// plain, well-typed JSON v2; the caller then asks the reference path for the answer.
mod fast {
    use std::fmt;

    use compact_str::CompactString;
    use serde::de::{
        self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
    };

    use super::{non_negative, port_from, Draft};
    use crate::codec::set_endpoint_ip_bytes;
    use crate::model::{Annotation, Endpoint, Kind, Span, SpanId, TraceId};

    pub(super) fn decode_list(body: &[u8]) -> Option<Vec<Span>> {
        let mut de = serde_json::Deserializer::from_slice(body);
        // Like Zipkin, nothing after the closing bracket is looked at.
        de.deserialize_seq(ListVisitor {
            // Typical spans take 300-600 bytes of JSON; sizing from the body (already in
            // memory, so bounded by the caller) saves re-copying the list as it grows.
            capacity: body.len() / 512,
        })
        .ok()
    }

    pub(super) fn decode_one(body: &[u8]) -> Option<Span> {
        let mut de = serde_json::Deserializer::from_slice(body);
        SpanSeed.deserialize(&mut de).ok()
    }

    /// The fast path never reports why; the reference path will.
    fn give_up<E: de::Error>() -> E {
        E::custom("")
    }

    macro_rules! expecting {
        ($what:literal) => {
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($what)
            }
        };
    }

    struct ListVisitor {
        capacity: usize,
    }

    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<Span>;
        expecting!("a list of spans");

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Span>, A::Error> {
            let mut spans = Vec::with_capacity(self.capacity);
            while let Some(span) = seq.next_element_seed(SpanSeed)? {
                spans.push(span);
            }
            Ok(spans)
        }
    }

    struct SpanSeed;

    impl<'de> DeserializeSeed<'de> for SpanSeed {
        type Value = Span;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Span, D::Error> {
            d.deserialize_map(SpanVisitor)
        }
    }

    enum SpanField {
        TraceId,
        ParentId,
        Id,
        Kind,
        Name,
        Timestamp,
        Duration,
        LocalEndpoint,
        RemoteEndpoint,
        Annotations,
        Tags,
        Debug,
        Shared,
        Other,
    }

    /// `name == literal`, compared as a fixed-size array so that it compiles to a couple
    /// of integer comparisons rather than a `memcmp` call (field names are matched ~25
    /// times per span).
    #[inline(always)]
    fn is<const N: usize>(name: &[u8], literal: &[u8; N]) -> bool {
        <&[u8; N]>::try_from(name).is_ok_and(|name| name == literal)
    }

    impl SpanField {
        fn of(name: &[u8]) -> Option<Self> {
            Some(match name.len() {
                2 if is(name, b"id") => Self::Id,
                4 if is(name, b"name") => Self::Name,
                4 if is(name, b"kind") => Self::Kind,
                4 if is(name, b"tags") => Self::Tags,
                5 if is(name, b"debug") => Self::Debug,
                6 if is(name, b"shared") => Self::Shared,
                7 if is(name, b"traceId") => Self::TraceId,
                8 if is(name, b"parentId") => Self::ParentId,
                8 if is(name, b"duration") => Self::Duration,
                9 if is(name, b"timestamp") => Self::Timestamp,
                11 if is(name, b"annotations") => Self::Annotations,
                13 if is(name, b"localEndpoint") => Self::LocalEndpoint,
                14 if is(name, b"remoteEndpoint") => Self::RemoteEndpoint,
                _ => Self::Other,
            })
        }
    }

    /// Reads an object key and maps it with `F`.
    struct Key<F>(F);

    impl<'de, T, F: FnOnce(&str) -> T> DeserializeSeed<'de> for Key<F> {
        type Value = T;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
            d.deserialize_identifier(StrVisitor(|s: &str| Some((self.0)(s))))
        }
    }

    /// Reads a JSON string (borrowed or unescaped) and converts it with `F`; `None` from `F`,
    /// or any other JSON type, gives up.
    struct StrVisitor<F>(F);

    impl<'de, T, F: FnOnce(&str) -> Option<T>> Visitor<'de> for StrVisitor<F> {
        type Value = T;
        expecting!("a string");

        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.0)(v).ok_or_else(give_up)
        }
    }

    struct Str<F>(F);

    impl<'de, T, F: FnOnce(&str) -> Option<T>> DeserializeSeed<'de> for Str<F> {
        type Value = T;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
            d.deserialize_str(StrVisitor(self.0))
        }
    }

    /// Pins the closure's argument to a higher-ranked `&str`, which inference alone misses.
    fn key<T, F: FnOnce(&str) -> T>(f: F) -> Key<F> {
        Key(f)
    }

    fn compact() -> Str<fn(&str) -> Option<CompactString>> {
        Str(|s| Some(CompactString::from(s)))
    }

    /// Reads a JSON string as raw bytes and converts it with `F`. serde_json skips UTF-8
    /// validation here, which keys, ids, kinds and addresses do not need: they are matched
    /// or parsed as ASCII, and anything else misses and gives up.
    struct Bytes<F>(F);

    impl<'de, T, F: FnOnce(&[u8]) -> Option<T>> DeserializeSeed<'de> for Bytes<F> {
        type Value = T;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
            d.deserialize_bytes(BytesVisitor(self.0))
        }
    }

    struct BytesVisitor<F>(F);

    impl<'de, T, F: FnOnce(&[u8]) -> Option<T>> Visitor<'de> for BytesVisitor<F> {
        type Value = T;
        expecting!("a string");

        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<T, E> {
            (self.0)(v).ok_or_else(give_up)
        }
    }

    fn bytes<T, F: FnOnce(&[u8]) -> Option<T>>(f: F) -> Bytes<F> {
        Bytes(f)
    }

    /// Digit values of lower-hex characters; 0xFF for every other byte.
    const HEX_VALUE: [u8; 256] = {
        let mut table = [0xFF; 256];
        let mut i = 0;
        while i < 10 {
            table[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            table[b'a' as usize + i] = 10 + i as u8;
            i += 1;
        }
        table
    };

    /// Up to 16 lower-hex digits, without a branch per digit: invalid bytes are collected
    /// in `bad` and checked once.
    fn hex_u64(hex: &[u8]) -> Option<u64> {
        let mut value = 0u64;
        let mut bad = 0u8;
        for &b in hex {
            let digit = HEX_VALUE[b as usize];
            bad |= digit;
            value = (value << 4) | u64::from(digit & 0xf);
        }
        (bad & 0xf0 == 0).then_some(value)
    }

    /// Lower-hex digits of at most `max_len` (≤ 32) characters as the model's id parsers
    /// accept them, as (high, low) halves; anything they would reject is `None`.
    fn parse_hex(hex: &[u8], max_len: usize) -> Option<(u64, u64)> {
        if hex.is_empty() || hex.len() > max_len {
            return None;
        }
        let split = hex.len().saturating_sub(16);
        Some((hex_u64(&hex[..split])?, hex_u64(&hex[split..])?))
    }

    fn trace_id(hex: &[u8]) -> Option<TraceId> {
        let (high, low) = parse_hex(hex, 32)?;
        TraceId::from_parts(high, low)
    }

    fn span_id(hex: &[u8]) -> Option<Option<SpanId>> {
        let (_, low) = parse_hex(hex, 16)?;
        Some(SpanId::new(low))
    }

    fn kind(name: &[u8]) -> Option<Kind> {
        match name.len() {
            6 if is(name, b"CLIENT") => Some(Kind::Client),
            6 if is(name, b"SERVER") => Some(Kind::Server),
            8 if is(name, b"PRODUCER") => Some(Kind::Producer),
            8 if is(name, b"CONSUMER") => Some(Kind::Consumer),
            _ => None,
        }
    }

    /// `null` is `None` (Zipkin skips null optional fields); anything else goes to `S`.
    struct Nullable<S>(S);

    impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nullable<S> {
        type Value = Option<S::Value>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_option(NullableVisitor(self.0))
        }
    }

    struct NullableVisitor<S>(S);

    impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for NullableVisitor<S> {
        type Value = Option<S::Value>;
        expecting!("a value or null");

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            self.0.deserialize(d).map(Some)
        }
    }

    /// A JSON integer that fits Java's `long`. Floats, and integers past `i64::MAX` (which
    /// Gson reads through a double), are left to the reference path.
    struct Long;

    impl<'de> DeserializeSeed<'de> for Long {
        type Value = i64;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<i64, D::Error> {
            d.deserialize_i64(LongVisitor)
        }
    }

    struct LongVisitor;

    impl<'de> Visitor<'de> for LongVisitor {
        type Value = i64;
        expecting!("an integer");

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| give_up())
        }
    }

    struct Bool;

    impl<'de> DeserializeSeed<'de> for Bool {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_bool(BoolVisitor)
        }
    }

    struct BoolVisitor;

    impl<'de> Visitor<'de> for BoolVisitor {
        type Value = bool;
        expecting!("a boolean");

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
    }

    struct SpanVisitor;

    impl<'de> Visitor<'de> for SpanVisitor {
        type Value = Span;
        expecting!("a span");

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Span, A::Error> {
            let mut d = Draft::default();
            while let Some(field) = map.next_key_seed(bytes(SpanField::of))? {
                match field {
                    // Unlike the other fields, null ids are errors.
                    SpanField::TraceId => d.trace_id = Some(map.next_value_seed(bytes(trace_id))?),
                    SpanField::Id => d.id = Some(map.next_value_seed(bytes(|hex| span_id(hex)?))?),
                    SpanField::ParentId => {
                        if let Some(parent) = map.next_value_seed(Nullable(bytes(span_id)))? {
                            d.parent_id = parent;
                        }
                    }
                    SpanField::Kind => {
                        if let Some(kind) = map.next_value_seed(Nullable(bytes(kind)))? {
                            d.kind = Some(kind);
                        }
                    }
                    SpanField::Name => {
                        if let Some(name) = map.next_value_seed(Nullable(compact()))? {
                            d.name = Some(name);
                        }
                    }
                    SpanField::Timestamp => {
                        if let Some(v) = map.next_value_seed(Nullable(Long))? {
                            d.timestamp = Some(non_negative(v));
                        }
                    }
                    SpanField::Duration => {
                        if let Some(v) = map.next_value_seed(Nullable(Long))? {
                            d.duration = Some(non_negative(v));
                        }
                    }
                    SpanField::LocalEndpoint => {
                        if let Some(e) = map.next_value_seed(Nullable(EndpointSeed))? {
                            d.local_endpoint = Some(e);
                        }
                    }
                    SpanField::RemoteEndpoint => {
                        if let Some(e) = map.next_value_seed(Nullable(EndpointSeed))? {
                            d.remote_endpoint = Some(e);
                        }
                    }
                    SpanField::Annotations => {
                        map.next_value_seed(Nullable(AnnotationsSeed(&mut d.annotations)))?;
                    }
                    SpanField::Tags => {
                        map.next_value_seed(Nullable(TagsSeed(&mut d.tags)))?;
                    }
                    SpanField::Debug => {
                        d.debug |= map.next_value_seed(Nullable(Bool))?.unwrap_or(false);
                    }
                    SpanField::Shared => {
                        d.shared |= map.next_value_seed(Nullable(Bool))?.unwrap_or(false);
                    }
                    SpanField::Other => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            d.finish().map_err(|_| give_up())
        }
    }

    enum EndpointField {
        ServiceName,
        Ip,
        Port,
        Other,
    }

    impl EndpointField {
        fn of(name: &[u8]) -> Option<Self> {
            Some(match name.len() {
                11 if is(name, b"serviceName") => Self::ServiceName,
                // Zipkin parses either field as whichever family the text is.
                4 if is(name, b"ipv4") || is(name, b"ipv6") => Self::Ip,
                4 if is(name, b"port") => Self::Port,
                _ => Self::Other,
            })
        }
    }

    struct EndpointSeed;

    impl<'de> DeserializeSeed<'de> for EndpointSeed {
        type Value = Endpoint;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Endpoint, D::Error> {
            d.deserialize_map(EndpointVisitor)
        }
    }

    struct EndpointVisitor;

    impl<'de> Visitor<'de> for EndpointVisitor {
        type Value = Endpoint;
        expecting!("an endpoint");

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Endpoint, A::Error> {
            // An endpoint without usable fields comes out empty, and normalisation drops it,
            // which is where Zipkin's reader ends up too (it returns null).
            let mut e = Endpoint::default();
            while let Some(field) = map.next_key_seed(bytes(EndpointField::of))? {
                match field {
                    EndpointField::ServiceName => {
                        // Lower-cased (and "" dropped) once, by `Span::normalize`.
                        if let Some(name) = map.next_value_seed(Nullable(compact()))? {
                            e.service_name = Some(name);
                        }
                    }
                    EndpointField::Ip => {
                        map.next_value_seed(Nullable(bytes(|ip| {
                            set_endpoint_ip_bytes(&mut e, ip);
                            Some(())
                        })))?;
                    }
                    EndpointField::Port => {
                        if let Some(port) = map.next_value_seed(Nullable(Long))? {
                            // Larger values are Zipkin's "invalid port" error; let the
                            // reference path say so.
                            if !(i64::from(i32::MIN)..=0xffff).contains(&port) {
                                return Err(give_up());
                            }
                            e.port = port_from(port);
                        }
                    }
                    EndpointField::Other => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(e)
        }
    }

    struct AnnotationsSeed<'a>(&'a mut Vec<Annotation>);

    impl<'de> DeserializeSeed<'de> for AnnotationsSeed<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for AnnotationsSeed<'_> {
        type Value = ();
        expecting!("a list of annotations");

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(annotation) = seq.next_element_seed(AnnotationSeed)? {
                self.0.push(annotation);
            }
            Ok(())
        }
    }

    struct AnnotationSeed;

    impl<'de> DeserializeSeed<'de> for AnnotationSeed {
        type Value = Annotation;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Annotation, D::Error> {
            d.deserialize_map(self)
        }
    }

    enum AnnotationField {
        Timestamp,
        Value,
        Other,
    }

    impl AnnotationField {
        fn of(name: &[u8]) -> Option<Self> {
            Some(match name.len() {
                9 if is(name, b"timestamp") => Self::Timestamp,
                5 if is(name, b"value") => Self::Value,
                _ => Self::Other,
            })
        }
    }

    impl<'de> Visitor<'de> for AnnotationSeed {
        type Value = Annotation;
        expecting!("an annotation");

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Annotation, A::Error> {
            let mut timestamp = None;
            let mut value = None;
            while let Some(f) = map.next_key_seed(bytes(AnnotationField::of))? {
                match f {
                    // Not nullable: Zipkin reads these without a null check.
                    AnnotationField::Timestamp => timestamp = Some(map.next_value_seed(Long)?),
                    AnnotationField::Value => value = Some(map.next_value_seed(compact())?),
                    AnnotationField::Other => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            match (timestamp, value) {
                // Negative timestamps cannot be held; the reference path reports them.
                (Some(ts), Some(value)) if ts >= 0 => Ok(Annotation {
                    timestamp: ts as u64,
                    value,
                }),
                _ => Err(give_up()),
            }
        }
    }

    struct TagsSeed<'a>(&'a mut Vec<(CompactString, CompactString)>);

    impl<'de> DeserializeSeed<'de> for TagsSeed<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for TagsSeed<'_> {
        type Value = ();
        expecting!("tags");

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            // Keys may repeat; `Span::normalize` keeps the last value, as Zipkin's TreeMap.
            while let Some(key) = map.next_key_seed(key(|s| CompactString::from(s)))? {
                let value = map.next_value_seed(compact())?;
                self.0.push((key, value));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs the fast path must handle itself, covering every field and normalisation.
    const WELL_FORMED: &[&str] = &[
        r#"[]"#,
        r#"[{"traceId":"4d1e00c0db9010db86154a4ba6e91385","parentId":"86154a4ba6e91385","id":"4d1e00c0db9010db","kind":"CLIENT","name":"get","timestamp":1472470996199000,"duration":207000,"localEndpoint":{"serviceName":"frontend","ipv6":"7::0.128.128.127"},"remoteEndpoint":{"serviceName":"backend","ipv4":"192.168.99.101","port":9000},"annotations":[{"timestamp":1472470996238000,"value":"foo"},{"timestamp":1472470996403000,"value":"bar"}],"tags":{"http.path":"/api","clnt/finagle.version":"6.45.0"}}]"#,
        r#"[{"traceId":"1","id":"2","parentId":"2","name":"Mixed CASE","kind":"SERVER","shared":true,"debug":true,"timestamp":-1,"duration":0,"localEndpoint":{"serviceName":"","ipv4":"::ffff:1.2.3.4","port":-5},"remoteEndpoint":{"ipv6":"2001:DB8::1","port":443,"x":[{}]},"tags":{"b":"1","a":"","b":"2"},"annotations":[{"timestamp":5,"value":"x"},{"timestamp":5,"value":"x"},{"value":"a","timestamp":0}],"unknown":{"a":[null,1.5,"s"]}}]"#,
        r#" [ {"traceId":"0000000000000000000000000000000a","id":"b","parentId":null,"kind":null,"name":null,"timestamp":null,"duration":null,"localEndpoint":null,"remoteEndpoint":null,"annotations":null,"tags":null,"debug":null,"shared":null} , {"traceId":"a","id":"c","name":"\u4e2a\ud83d\ude00\n\"","tags":{"k\u0041":"v\\"}} ] "#,
        r#"[{"traceId":"a","id":"b","localEndpoint":{"serviceName":"x"},"localEndpoint":{},"kind":"CLIENT","shared":true,"debug":false}]"#,
    ];

    /// Inputs the reference path must handle, valid or not.
    const ODD: &[&str] = &[
        "",
        "hello",
        "[1]",
        "{}",
        "[{\"traceId\":\"a\",\"id\":\"b\"}] trailing",
        "[{\"traceId\":1,\"id\":\"b\",\"timestamp\":\"5\",\"tags\":{\"n\":1}}]",
        "[{\"traceId\":\"a\",\"id\":\"b\",\"debug\":TRUE,\"name\":NULL}]",
        "[{\"traceId\":\"a\",\"id\":\"b\",\"name\":\"raw\tcontrol\"}]",
        "[{\"traceId\":\"a\",\"id\":\"b\",\"annotations\":[{\"timestamp\":-1,\"value\":\"x\"}]}]",
        "[{\"traceId\":\"a\",\"id\":\"b\",\"localEndpoint\":{\"port\":65536}}]",
        "[{\"traceId\":\"A\",\"id\":\"b\"}]",
        "[{\"traceId\":\"a\",\"id\":\"b\",\"kind\":\"nope\"}]",
        "\u{feff}[{\"traceId\":\"a\",\"id\":\"b\"}]",
    ];

    fn seeds() -> Vec<Vec<u8>> {
        WELL_FORMED
            .iter()
            .chain(ODD)
            .map(|s| s.as_bytes().to_vec())
            .collect()
    }

    /// Whenever the fast path decodes something, the reference path must agree exactly;
    /// and the reference path must never panic.
    #[track_caller]
    fn assert_paths_agree(body: &[u8]) -> bool {
        let reference = std::panic::catch_unwind(|| gson::decode_list(body)).unwrap_or_else(|_| {
            panic!(
                "reference path panicked on {:?}",
                String::from_utf8_lossy(body)
            )
        });
        let fast = fast::decode_list(body);
        if let Some(fast) = &fast {
            assert_eq!(
                reference.as_ref().ok(),
                Some(fast),
                "paths disagree on {:?}",
                String::from_utf8_lossy(body)
            );
        }
        let _ = std::panic::catch_unwind(|| gson::decode_one(body)).unwrap_or_else(|_| {
            panic!(
                "reference path panicked on {:?}",
                String::from_utf8_lossy(body)
            )
        });
        fast.is_some_and(|spans| !spans.is_empty())
    }

    #[test]
    fn well_formed_input_takes_the_fast_path() {
        for json in WELL_FORMED {
            assert!(fast::decode_list(json.as_bytes()).is_some(), "{json}");
            assert_paths_agree(json.as_bytes());
        }
    }

    #[test]
    fn fast_and_reference_paths_agree_on_seed_inputs() {
        for body in seeds() {
            assert_paths_agree(&body);
        }
    }

    #[test]
    fn fast_and_reference_paths_agree_on_mutated_inputs() {
        // A deterministic xorshift, so a failure reproduces.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        const TOKENS: &[&[u8]] = &[
            b"\"",
            b"\\",
            b"{",
            b"}",
            b"[",
            b"]",
            b",",
            b":",
            b"null",
            b"NULL",
            b"true",
            b"-",
            b"0",
            b"1e5",
            b"1.5",
            b" ",
            b"\n",
            b"\t",
            b"\\u",
            b"\\ud800",
            b"\xe4\xb8\xaa",
            b"\xff",
            b"\"traceId\":\"1\"",
            b"\"id\":\"2\"",
            b"\"port\":70000",
            b"\"timestamp\":-1",
        ];
        let seeds = seeds();
        let mut fast_decodes = 0;
        for _ in 0..50_000 {
            let mut body = seeds[(next() % seeds.len() as u64) as usize].clone();
            for _ in 0..=(next() % 3) {
                let at = if body.is_empty() {
                    0
                } else {
                    (next() % body.len() as u64) as usize
                };
                match next() % 4 {
                    0 if !body.is_empty() => {
                        body.remove(at);
                    }
                    1 => {
                        let token = TOKENS[(next() % TOKENS.len() as u64) as usize];
                        body.splice(at..at, token.iter().copied());
                    }
                    2 if !body.is_empty() => body[at] = (next() % 128) as u8,
                    _ => body.truncate(at),
                }
            }
            fast_decodes += usize::from(assert_paths_agree(&body));
        }
        // Many mutants must still be plain JSON v2, or the comparison proves little.
        assert!(
            fast_decodes > 1_500,
            "only {fast_decodes} mutants took the fast path"
        );
    }

    #[test]
    fn fast_id_parsing_matches_the_model() {
        let ids = [
            "1",
            "a",
            "48485a3953bb6124",
            "148485a3953bb6124",
            "000000000000000048485a3953bb6124",
            "463ac35c9f6413ad48485a3953bb6124",
            "ffffffffffffffffffffffffffffffff",
            "0",
            "",
            "48485A3953BB6124",
            "0x1",
            "g",
            "463ac35c9f6413ad48485a3953bb61245",
        ];
        for trace in ids {
            let json = format!(r#"{{"traceId":"{trace}","id":"1"}}"#);
            let fast = fast::decode_one(json.as_bytes()).map(|s| s.trace_id);
            assert_eq!(fast, TraceId::parse(trace).ok(), "traceId {trace:?}");
        }
        for id in ids {
            let json = format!(r#"{{"traceId":"1","id":"{id}"}}"#);
            let fast = fast::decode_one(json.as_bytes()).map(|s| s.id);
            assert_eq!(fast, SpanId::parse(id).ok(), "id {id:?}");
            let json = format!(r#"{{"traceId":"1","id":"2","parentId":"{id}"}}"#);
            let fast = fast::decode_one(json.as_bytes()).map(|s| s.parent_id);
            let model = SpanId::parse_parent(id)
                .ok()
                .map(|p| p.filter(|p| p.get() != 2));
            assert_eq!(fast, model, "parentId {id:?}");
        }
    }

    #[test]
    fn encoding_omits_absent_and_default_fields() {
        let span = Span::new(TraceId::parse("a").unwrap(), SpanId::parse("b").unwrap());
        let mut out = Vec::new();
        encode_span(&span, &mut out);
        assert_eq!(
            out,
            br#"{"traceId":"000000000000000a","id":"000000000000000b"}"#
        );
    }

    #[test]
    fn encoding_orders_fields_like_zipkins_writer() {
        let span = Span::builder(
            TraceId::parse("463ac35c9f6413ad48485a3953bb6124").unwrap(),
            SpanId::parse("c").unwrap(),
        )
        .parent_id(SpanId::parse("b").unwrap())
        .kind(Kind::Server)
        .name("n")
        .timestamp(1)
        .duration(2)
        .local_endpoint(Endpoint::service("l").with_ip("10.0.0.1").with_port(1))
        .remote_endpoint(Endpoint::service("r").with_ip("::1"))
        .annotation(3, "a")
        .tag("k", "v")
        .debug(true)
        .shared(true)
        .build();
        let mut out = Vec::new();
        encode_span(&span, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                r#"{"traceId":"463ac35c9f6413ad48485a3953bb6124","parentId":"000000000000000b","#,
                r#""id":"000000000000000c","kind":"SERVER","name":"n","timestamp":1,"duration":2,"#,
                r#""localEndpoint":{"serviceName":"l","ipv4":"10.0.0.1","port":1},"#,
                r#""remoteEndpoint":{"serviceName":"r","ipv6":"::1"},"#,
                r#""annotations":[{"timestamp":3,"value":"a"}],"tags":{"k":"v"},"#,
                r#""debug":true,"shared":true}"#
            )
        );
    }
}
