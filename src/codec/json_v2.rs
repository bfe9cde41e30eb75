//! Zipkin's JSON v2 span format (`POST /api/v2/spans`, every query response).
//!
//! Decoding has two paths that must agree. The fast path (`fast`) is a byte scanner made for
//! this format: strings scanned eight bytes at a time and kept borrowed, ids parsed from the
//! text into integers, names and tags built as `CompactString`s, no intermediate DOM. It
//! accepts only plain, well-typed input and gives up on anything else. The reference path (`gson`) then re-reads the body the way
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

mod fast;
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

/// The fast path alone: `None` where it defers to the reference path. For the differential
/// fuzz target; not an API.
#[doc(hidden)]
pub fn decode_spans_fast(body: &[u8]) -> Option<Vec<Span>> {
    fast::decode_list(body)
}

/// The reference path alone, for the differential fuzz target; not an API.
#[doc(hidden)]
pub fn decode_spans_reference(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    gson::decode_list(body)
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
    fn strings_decode_alike_wherever_their_special_bytes_fall() {
        // The scanner reads strings eight bytes at a time; put each kind of special
        // content at every offset of strings up to three words long.
        let valid = [
            "\\\"",
            "\\\\",
            "\\/",
            "\\u00e9",
            "\\u00E9",
            "\\ud83d\\ude00",
            "é",
            "😀",
            "\\n",
        ];
        let invalid = ["\t", "\u{1}", "\\x", "\\ud800", "\\ude00x", "\\u12g"];
        for len in 0..24 {
            for (special, fast_expected) in valid
                .iter()
                .map(|s| (s, true))
                .chain(invalid.iter().map(|s| (s, false)))
            {
                for at in 0..=len {
                    let mut text = "a".repeat(len);
                    text.insert_str(at, special);
                    let body = format!(
                        r#"[{{"traceId":"1","id":"2","name":"{text}","tags":{{"{text}":"{text}"}},"x":["{text}"]}}]"#
                    );
                    assert_paths_agree(body.as_bytes());
                    assert_eq!(
                        fast::decode_list(body.as_bytes()).is_some(),
                        fast_expected,
                        "{body}"
                    );
                }
            }
        }
        // Bytes that are not UTF-8 leave the body to the reference path.
        let mut body = br#"[{"traceId":"1","id":"2","name":"ab"}]"#.to_vec();
        body.insert(34, 0xff);
        assert!(fast::decode_list(&body).is_none());
        assert_paths_agree(&body);
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
