//! Zipkin's legacy Thrift format: v1 spans in TBinaryProtocol, as a list (`POST
//! /api/v1/spans` with `application/x-thrift`, Kafka) or, in old Kafka and Scribe
//! messages, a single span.
//!
//! The decoder is written by hand for the four structs Zipkin reads (Span, Annotation,
//! BinaryAnnotation, Endpoint) and skips every other field by type, like Zipkin's
//! `V1ThriftSpanReader`. It is bounded: every length is checked against the bytes left
//! before anything is read or allocated, nothing is pre-allocated from a count, skipping
//! nested containers stops at [`MAX_DEPTH`], and an element type that would consume no
//! bytes is rejected so a forged count cannot spin the CPU. Error messages are Zipkin's
//! (`Truncated: length 8 > bytes available 2 reading List<Span> from TBinary`).
//!
//! The encoder writes what Zipkin's `V1ThriftSpanWriter` writes; it exists for
//! round-trip tests, fuzz seeds and benches.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::v1::V1Span;
use super::DecodeError;
use crate::model::{Endpoint, Span};

const TYPE_STOP: u8 = 0;
const TYPE_BOOL: u8 = 2;
const TYPE_BYTE: u8 = 3;
const TYPE_DOUBLE: u8 = 4;
const TYPE_I16: u8 = 6;
const TYPE_I32: u8 = 8;
const TYPE_I64: u8 = 10;
const TYPE_STRING: u8 = 11;
const TYPE_STRUCT: u8 = 12;
const TYPE_MAP: u8 = 13;
const TYPE_SET: u8 = 14;
const TYPE_LIST: u8 = 15;

/// How deeply unknown nested fields may be skipped. Zipkin's spans are two levels deep;
/// anything close to this limit is an attack, not a span.
pub const MAX_DEPTH: u32 = 64;

/// Decodes a TBinaryProtocol `list<Span>` into v2 spans. An empty input or an empty list
/// yields no spans.
pub fn decode_list(bytes: &[u8]) -> Result<Vec<Span>, DecodeError> {
    decode_list_inner(bytes).map_err(|e| e.reading("List<Span>"))
}

/// Decodes one TBinaryProtocol `Span` struct (the legacy single-span message) into v2
/// spans; one v1 span can become two (client and shared server).
pub fn decode_one(bytes: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let mut out = Vec::new();
    if bytes.is_empty() {
        return Ok(out);
    }
    let mut r = Reader::new(bytes);
    read_span(&mut r)
        .and_then(|mut span| {
            span.finish().map_err(|e| Error::Invalid(e.to_string()))?;
            span.into_v2(&mut out);
            Ok(())
        })
        .map_err(|e| e.reading("Span"))?;
    Ok(out)
}

fn decode_list_inner(bytes: &[u8]) -> Result<Vec<Span>, Error> {
    let mut out = Vec::new();
    if bytes.is_empty() {
        return Ok(out);
    }
    let mut r = Reader::new(bytes);
    // Zipkin ignores the element type: reporters once wrote 11 instead of 12
    // (openzipkin/zipkin-reporter-java#133) and that data must still be read.
    let _element_type = r.byte()?;
    let count = r.i32()?;
    // No pre-allocation from `count`: every span consumes at least one byte or fails, so
    // the loop is bounded by the input, not by the count.
    for _ in 0..count.max(0) {
        let mut span = read_span(&mut r)?;
        span.finish().map_err(|e| Error::Invalid(e.to_string()))?;
        span.into_v2(&mut out);
    }
    Ok(out)
}

/// Encodes spans as a TBinaryProtocol `list<Span>` of their v1 form.
pub fn encode_list(spans: &[Span]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + spans.len() * 256);
    out.push(TYPE_STRUCT);
    out.extend_from_slice(&(spans.len() as i32).to_be_bytes());
    for span in spans {
        write_span(
            &mut out,
            &V1Span::from_v2(span),
            span.local_endpoint.as_ref(),
        );
    }
    out
}

/// Encodes one span as a TBinaryProtocol `Span` struct (the legacy single-span message).
pub fn encode_one(span: &Span) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_span(
        &mut out,
        &V1Span::from_v2(span),
        span.local_endpoint.as_ref(),
    );
    out
}

/// A decoding failure before it is phrased for the caller.
#[derive(Debug)]
enum Error {
    /// A length or fixed-size read ran past the end of the input.
    Truncated { length: i64, available: usize },
    /// Structurally impossible data; Zipkin answers plainly "Malformed".
    Malformed,
    /// A valid structure with invalid content (ids), reported with its own message.
    Invalid(String),
}

impl Error {
    fn reading(self, what: &str) -> DecodeError {
        let cause = match self {
            Error::Truncated { length, available } => {
                format!("Truncated: length {length} > bytes available {available}")
            }
            Error::Malformed => "Malformed".to_owned(),
            Error::Invalid(message) => message,
        };
        DecodeError::new(format!("{cause} reading {what} from TBinary"))
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn available(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.available() {
            return Err(Error::Truncated {
                length: n as i64,
                available: self.available(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    fn i16(&mut self) -> Result<i16, Error> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }

    fn i32(&mut self) -> Result<i32, Error> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn i64(&mut self) -> Result<i64, Error> {
        Ok(i64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// A length-prefixed byte string; the length is checked before anything is read.
    fn binary(&mut self) -> Result<&'a [u8], Error> {
        let length = self.i32()?;
        if length < 0 {
            return Err(Error::Malformed);
        }
        let length = length as usize;
        if length > self.available() {
            return Err(Error::Truncated {
                length: length as i64,
                available: self.available(),
            });
        }
        self.take(length)
    }

    /// A length-prefixed string; invalid UTF-8 is replaced, as Java's decoder does.
    fn string(&mut self) -> Result<String, Error> {
        Ok(String::from_utf8_lossy(self.binary()?).into_owned())
    }

    /// A field header: (type, id), or `None` at the struct's end.
    fn field(&mut self) -> Result<Option<(u8, i16)>, Error> {
        let ty = self.byte()?;
        if ty == TYPE_STOP {
            return Ok(None);
        }
        Ok(Some((ty, self.i16()?)))
    }

    /// Skips a value of the given type.
    fn skip(&mut self, ty: u8, depth: u32) -> Result<(), Error> {
        if depth >= MAX_DEPTH {
            return Err(Error::Malformed);
        }
        match ty {
            TYPE_BOOL | TYPE_BYTE => self.take(1).map(drop),
            TYPE_I16 => self.take(2).map(drop),
            TYPE_I32 => self.take(4).map(drop),
            TYPE_DOUBLE | TYPE_I64 => self.take(8).map(drop),
            TYPE_STRING => self.binary().map(drop),
            TYPE_STRUCT => {
                while let Some((ty, _)) = self.field()? {
                    self.skip(ty, depth + 1)?;
                }
                Ok(())
            }
            TYPE_MAP => {
                let key_type = self.byte()?;
                let value_type = self.byte()?;
                let count = self.i32()?;
                for _ in 0..count.max(0) {
                    self.skip(key_type, depth + 1)?;
                    self.skip(value_type, depth + 1)?;
                }
                Ok(())
            }
            TYPE_SET | TYPE_LIST => {
                let element_type = self.byte()?;
                let count = self.i32()?;
                for _ in 0..count.max(0) {
                    self.skip(element_type, depth + 1)?;
                }
                Ok(())
            }
            // Zipkin treats other types as zero-width, which lets a forged list of 2^31
            // of them loop without reading a byte; no real writer emits them.
            _ => Err(Error::Malformed),
        }
    }

    /// A list header; the element type is not checked, as in Zipkin.
    fn list_count(&mut self) -> Result<i32, Error> {
        let _element_type = self.byte()?;
        self.i32()
    }
}

fn read_span(r: &mut Reader<'_>) -> Result<V1Span, Error> {
    let mut span = V1Span::default();
    while let Some((ty, id)) = r.field()? {
        match (ty, id) {
            (TYPE_I64, 1) => span.trace_id = r.i64()? as u64,
            (TYPE_STRING, 3) => span.set_name(&r.string()?),
            (TYPE_I64, 4) => span.id = r.i64()? as u64,
            (TYPE_I64, 5) => span.parent_id = r.i64()? as u64,
            (TYPE_LIST, 6) => {
                for _ in 0..r.list_count()?.max(0) {
                    read_annotation(r, &mut span)?;
                }
            }
            (TYPE_LIST, 8) => {
                for _ in 0..r.list_count()?.max(0) {
                    read_binary_annotation(r, &mut span)?;
                }
            }
            (TYPE_BOOL, 9) => span.debug = Some(r.byte()? == 1),
            (TYPE_I64, 10) => span.timestamp = r.i64()?,
            (TYPE_I64, 11) => span.duration = r.i64()?,
            (TYPE_I64, 12) => span.trace_id_high = r.i64()? as u64,
            (ty, _) => r.skip(ty, 1)?,
        }
    }
    Ok(span)
}

fn read_annotation(r: &mut Reader<'_>, span: &mut V1Span) -> Result<(), Error> {
    let (mut timestamp, mut value, mut endpoint) = (0, None, None);
    while let Some((ty, id)) = r.field()? {
        match (ty, id) {
            (TYPE_I64, 1) => timestamp = r.i64()?,
            (TYPE_STRING, 2) => value = Some(r.string()?),
            (TYPE_STRUCT, 3) => endpoint = Some(read_endpoint(r)?),
            (ty, _) => r.skip(ty, 2)?,
        }
    }
    // Zipkin drops annotations without a time or a value rather than failing the span.
    if let (true, Some(value)) = (timestamp != 0, value) {
        span.add_annotation(timestamp, &value, endpoint);
    }
    Ok(())
}

fn read_binary_annotation(r: &mut Reader<'_>, span: &mut V1Span) -> Result<(), Error> {
    let (mut key, mut value, mut endpoint) = (None, None, None);
    let (mut is_bool, mut is_string) = (false, false);
    while let Some((ty, id)) = r.field()? {
        match (ty, id) {
            (TYPE_STRING, 1) => key = Some(r.string()?),
            (TYPE_STRING, 2) => value = Some(r.binary()?),
            (TYPE_I32, 3) => match r.i32()? {
                0 => is_bool = true,
                6 => is_string = true,
                _ => {}
            },
            (TYPE_STRUCT, 4) => endpoint = Some(read_endpoint(r)?),
            (ty, _) => r.skip(ty, 2)?,
        }
    }
    let (Some(key), Some(value)) = (key, value) else {
        return Ok(());
    };
    if is_string {
        span.add_tag(&key, &String::from_utf8_lossy(value), endpoint);
    } else if is_bool && value == [1] && matches!(key.as_str(), "ca" | "sa" | "ma") {
        // Only address annotations survive among booleans; others have no v2 form.
        span.add_address(&key, endpoint);
    }
    Ok(())
}

fn read_endpoint(r: &mut Reader<'_>) -> Result<Endpoint, Error> {
    let mut endpoint = Endpoint::default();
    while let Some((ty, id)) = r.field()? {
        match (ty, id) {
            (TYPE_I32, 1) => {
                let ipv4 = r.i32()? as u32;
                if ipv4 != 0 {
                    endpoint.ipv4 = Some(Ipv4Addr::from(ipv4));
                }
            }
            (TYPE_I16, 2) => {
                let port = r.i16()? as u16;
                endpoint.port = (port != 0).then_some(port);
            }
            (TYPE_STRING, 3) => endpoint.set_service_name(&r.string()?),
            (TYPE_STRING, 4) => set_ip_bytes(&mut endpoint, r.binary()?),
            (ty, _) => r.skip(ty, 3)?,
        }
    }
    Ok(endpoint)
}

/// Sets an address from its raw bytes as Zipkin's `Endpoint.Builder.parseIp(byte[])`
/// does: 4 bytes are IPv4, 16 bytes IPv6 (an embedded IPv4 address becomes IPv4), any
/// other length is ignored.
pub(crate) fn set_ip_bytes(endpoint: &mut Endpoint, bytes: &[u8]) {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        endpoint.ipv4 = Some(Ipv4Addr::from(v4));
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        let v6 = Ipv6Addr::from(v6);
        let compat = v6.octets()[..12].iter().all(|b| *b == 0) && v6 != Ipv6Addr::LOCALHOST;
        match v6.to_ipv4_mapped() {
            Some(v4) => endpoint.ipv4 = Some(v4),
            None if compat => {
                let o = v6.octets();
                endpoint.ipv4 = Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            }
            None => endpoint.ipv6 = Some(v6),
        }
    }
}

fn write_field(out: &mut Vec<u8>, ty: u8, id: i16) {
    out.push(ty);
    out.extend_from_slice(&id.to_be_bytes());
}

fn write_binary(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn write_endpoint(out: &mut Vec<u8>, e: &Endpoint) {
    // Like Zipkin's writer: ipv4, port and service name always, ipv6 when present.
    write_field(out, TYPE_I32, 1);
    out.extend_from_slice(&e.ipv4.map_or(0, u32::from).to_be_bytes());
    write_field(out, TYPE_I16, 2);
    out.extend_from_slice(&e.port.unwrap_or(0).to_be_bytes());
    write_field(out, TYPE_STRING, 3);
    write_binary(out, e.service_name.as_deref().unwrap_or("").as_bytes());
    if let Some(v6) = e.ipv6 {
        write_field(out, TYPE_STRING, 4);
        write_binary(out, &v6.octets());
    }
    out.push(TYPE_STOP);
}

fn write_span(out: &mut Vec<u8>, v1: &V1Span, local: Option<&Endpoint>) {
    write_field(out, TYPE_I64, 1);
    out.extend_from_slice(&v1.trace_id.to_be_bytes());
    write_field(out, TYPE_STRING, 3);
    write_binary(out, v1.name.as_deref().unwrap_or("").as_bytes());
    write_field(out, TYPE_I64, 4);
    out.extend_from_slice(&v1.id.to_be_bytes());
    if v1.parent_id != 0 {
        write_field(out, TYPE_I64, 5);
        out.extend_from_slice(&v1.parent_id.to_be_bytes());
    }
    // Lists are written even when empty, as Finagle did.
    write_field(out, TYPE_LIST, 6);
    out.push(TYPE_STRUCT);
    out.extend_from_slice(&(v1.annotations.len() as i32).to_be_bytes());
    for a in &v1.annotations {
        write_field(out, TYPE_I64, 1);
        out.extend_from_slice(&a.timestamp.to_be_bytes());
        write_field(out, TYPE_STRING, 2);
        write_binary(out, a.value.as_bytes());
        if let Some(e) = local {
            write_field(out, TYPE_STRUCT, 3);
            write_endpoint(out, e);
        }
        out.push(TYPE_STOP);
    }
    write_field(out, TYPE_LIST, 8);
    out.push(TYPE_STRUCT);
    out.extend_from_slice(&(v1.binary_annotations.len() as i32).to_be_bytes());
    for b in &v1.binary_annotations {
        write_field(out, TYPE_STRING, 1);
        write_binary(out, b.key.as_bytes());
        write_field(out, TYPE_STRING, 2);
        let (ty, endpoint) = match &b.string_value {
            Some(value) => {
                write_binary(out, value.as_bytes());
                (6i32, local)
            }
            None => {
                write_binary(out, &[1]);
                (0i32, b.endpoint.as_ref())
            }
        };
        write_field(out, TYPE_I32, 3);
        out.extend_from_slice(&ty.to_be_bytes());
        if let Some(e) = endpoint {
            write_field(out, TYPE_STRUCT, 4);
            write_endpoint(out, e);
        }
        out.push(TYPE_STOP);
    }
    if let Some(debug) = v1.debug {
        write_field(out, TYPE_BOOL, 9);
        out.push(u8::from(debug));
    }
    if v1.timestamp != 0 {
        write_field(out, TYPE_I64, 10);
        out.extend_from_slice(&v1.timestamp.to_be_bytes());
    }
    if v1.duration != 0 {
        write_field(out, TYPE_I64, 11);
        out.extend_from_slice(&v1.duration.to_be_bytes());
    }
    if v1.trace_id_high != 0 {
        write_field(out, TYPE_I64, 12);
        out.extend_from_slice(&v1.trace_id_high.to_be_bytes());
    }
    out.push(TYPE_STOP);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, SpanId, TraceId};

    fn client_span() -> Span {
        Span::builder(
            TraceId::parse("7180c278b62e8f6a216a2aea45d08fc9").unwrap(),
            SpanId::parse("5b4185666d50f68b").unwrap(),
        )
        .parent_id(SpanId::parse("6b221d5bc9e6496c").unwrap())
        .name("get")
        .kind(Kind::Client)
        .local_endpoint(Endpoint::service("frontend").with_ip("127.0.0.1"))
        .remote_endpoint(
            Endpoint::service("backend")
                .with_ip("192.168.99.101")
                .with_port(9000),
        )
        .timestamp(1_472_470_996_199_000)
        .duration(207_000)
        .annotation(1_472_470_996_238_000, "foo")
        .tag("clnt/finagle.version", "6.45.0")
        .tag("http.path", "/api")
        .build()
    }

    #[test]
    fn list_round_trips() {
        let spans = vec![client_span(); 3];
        assert_eq!(decode_list(&encode_list(&spans)).unwrap(), spans);
    }

    #[test]
    fn single_span_round_trips() {
        let span = client_span();
        assert_eq!(decode_one(&encode_one(&span)).unwrap(), vec![span]);
    }

    #[test]
    fn truncated_list_names_the_missing_bytes() {
        // V1SpanBytesDecoderTest.niceErrorOnTruncatedSpans_THRIFT
        let encoded = encode_list(&[client_span()]);
        assert_eq!(
            decode_list(&encoded[..10]).unwrap_err().to_string(),
            "Truncated: length 8 > bytes available 2 reading List<Span> from TBinary"
        );
    }

    #[test]
    fn truncated_single_span_names_the_missing_bytes() {
        // V1SpanBytesDecoderTest.niceErrorOnTruncatedSpan_THRIFT
        let encoded = encode_one(&client_span());
        assert_eq!(
            decode_one(&encoded[..10]).unwrap_err().to_string(),
            "Truncated: length 8 > bytes available 7 reading Span from TBinary"
        );
    }

    #[test]
    fn garbage_reads_as_a_huge_list_and_fails_without_allocating_it() {
        // V1SpanBytesDecoderTest.niceErrorOnMalformed_inputSpans_THRIFT
        assert_eq!(
            decode_list(b"hello").unwrap_err().to_string(),
            "Truncated: length 1 > bytes available 0 reading List<Span> from TBinary"
        );
    }

    #[test]
    fn empty_input_and_empty_list_are_no_spans() {
        // V1SpanBytesDecoderTest.emptyListOk_THRIFT
        assert!(decode_list(&[]).unwrap().is_empty());
        assert!(decode_list(&[12, 0, 0, 0, 0]).unwrap().is_empty());
    }

    #[test]
    fn deeply_nested_unknown_fields_are_rejected_not_recursed() {
        // A span whose unknown field 99 is a struct nesting structs far past MAX_DEPTH.
        let mut bytes = vec![TYPE_STRUCT, 0, 0, 0, 1];
        for _ in 0..10_000 {
            bytes.extend_from_slice(&[TYPE_STRUCT, 0, 99]);
        }
        assert_eq!(
            decode_list(&bytes).unwrap_err().to_string(),
            "Malformed reading List<Span> from TBinary"
        );
    }

    #[test]
    fn forged_counts_of_zero_width_elements_are_rejected() {
        let bytes = [
            TYPE_STRUCT,
            0,
            0,
            0,
            1, // list of one span
            TYPE_LIST,
            0,
            99,
            1,
            0x7f,
            0xff,
            0xff,
            0xff, // unknown list of 2^31 type-1 items
        ];
        assert_eq!(
            decode_list(&bytes).unwrap_err().to_string(),
            "Malformed reading List<Span> from TBinary"
        );
    }

    #[test]
    fn zero_ids_fail_with_zipkin_messages() {
        let bytes = [TYPE_STRUCT, 0, 0, 0, 1, TYPE_STOP];
        assert_eq!(
            decode_list(&bytes).unwrap_err().to_string(),
            "traceId == 0 reading List<Span> from TBinary"
        );
    }

    #[test]
    fn incorrect_list_type_byte_is_tolerated() {
        // SpanBytesDecoderDetectorTest.decoderForListMessage_thrift_incorrectFirstByte
        let spans = vec![client_span()];
        let mut encoded = encode_list(&spans);
        encoded[0] = TYPE_STRING;
        assert_eq!(decode_list(&encoded).unwrap(), spans);
    }

    #[test]
    fn embedded_ipv4_in_ipv6_bytes_becomes_ipv4() {
        let mut e = Endpoint::default();
        let mut bytes = [0u8; 16];
        bytes[12..].copy_from_slice(&[1, 2, 3, 4]);
        set_ip_bytes(&mut e, &bytes);
        assert_eq!(e.ipv4, Some(Ipv4Addr::new(1, 2, 3, 4)));
        let mut e = Endpoint::default();
        set_ip_bytes(&mut e, &[0, 1]);
        assert!(e.is_empty());
    }
}
