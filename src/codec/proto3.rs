//! Zipkin's proto3 format (`zipkin.proto`): `ListOfSpans` on `POST /api/v2/spans` with
//! `application/x-protobuf`, in Kafka messages, and as the gRPC `SpanService/Report`
//! request.
//!
//! The messages are prost structs written here (the build needs no `protoc`). Text
//! fields are declared `bytes`, which is wire-identical to `string`, so that invalid
//! UTF-8 is replaced rather than failing the message, as Zipkin's reader does; `tags`
//! is declared as its map-entry message, also wire-identical, which keeps the order
//! the client sent and avoids hashing.
//!
//! Decoding walks the top-level list itself, like Zipkin's `Proto3Codec`, so that a cut
//! message fails with Zipkin's `Truncated: length 66 > bytes available 8` and each span
//! is converted to the model as soon as prost has read it. prost checks every length
//! against the bytes left before allocating and bounds recursion, so the decoder is
//! bounded by the input size.

use prost::Message;

use super::DecodeError;
use crate::model::{self, Endpoint as ModelEndpoint, IdError, Kind, SpanId, TraceId};

/// `zipkin.proto3.ListOfSpans`.
#[derive(Clone, PartialEq, Message)]
pub struct ListOfSpans {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<Span>,
}

/// `zipkin.proto3.ReportResponse`, the gRPC reply: empty.
#[derive(Clone, Copy, PartialEq, Message)]
pub struct ReportResponse {}

/// `zipkin.proto3.Span`.
#[derive(Clone, PartialEq, Message)]
pub struct Span {
    /// 8 or 16 bytes, big-endian.
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub parent_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub id: Vec<u8>,
    /// `Kind`: 0 unspecified, 1 CLIENT, 2 SERVER, 3 PRODUCER, 4 CONSUMER.
    #[prost(int32, tag = "4")]
    pub kind: i32,
    /// `string` on the wire.
    #[prost(bytes = "vec", tag = "5")]
    pub name: Vec<u8>,
    #[prost(fixed64, tag = "6")]
    pub timestamp: u64,
    #[prost(uint64, tag = "7")]
    pub duration: u64,
    #[prost(message, optional, tag = "8")]
    pub local_endpoint: Option<Endpoint>,
    #[prost(message, optional, tag = "9")]
    pub remote_endpoint: Option<Endpoint>,
    #[prost(message, repeated, tag = "10")]
    pub annotations: Vec<Annotation>,
    /// `map<string, string>` on the wire.
    #[prost(message, repeated, tag = "11")]
    pub tags: Vec<TagEntry>,
    #[prost(bool, tag = "12")]
    pub debug: bool,
    #[prost(bool, tag = "13")]
    pub shared: bool,
}

/// `zipkin.proto3.Endpoint`.
#[derive(Clone, PartialEq, Message)]
pub struct Endpoint {
    /// `string` on the wire.
    #[prost(bytes = "vec", tag = "1")]
    pub service_name: Vec<u8>,
    /// 4 bytes.
    #[prost(bytes = "vec", tag = "2")]
    pub ipv4: Vec<u8>,
    /// 16 bytes.
    #[prost(bytes = "vec", tag = "3")]
    pub ipv6: Vec<u8>,
    #[prost(int32, tag = "4")]
    pub port: i32,
}

/// `zipkin.proto3.Annotation`.
#[derive(Clone, PartialEq, Message)]
pub struct Annotation {
    #[prost(fixed64, tag = "1")]
    pub timestamp: u64,
    /// `string` on the wire.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// One entry of `Span.tags`: a map entry message (key = 1, value = 2).
#[derive(Clone, PartialEq, Message)]
pub struct TagEntry {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// Decodes a `ListOfSpans` into model spans. Empty input yields no spans. Any bad span
/// fails the whole message, as in Zipkin.
pub fn decode_list(bytes: &[u8]) -> Result<Vec<model::Span>, DecodeError> {
    decode_list_inner(bytes).map_err(|cause| {
        // Zipkin shortens any "Malformed..." cause to just "Malformed".
        let cause = if cause.contains("Malformed") {
            "Malformed"
        } else {
            &cause
        };
        DecodeError::new(format!("{cause} reading List<Span> from proto3"))
    })
}

fn decode_list_inner(bytes: &[u8]) -> Result<Vec<model::Span>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        // Like Zipkin, the field key is read and not checked: `ListOfSpans` has only
        // field 1, and detection already looked at the first byte.
        read_varint32(bytes, &mut pos)?;
        let length = read_varint32(bytes, &mut pos)? as usize;
        if length == 0 {
            // Zipkin stops at an empty span, keeping what it read before.
            break;
        }
        let available = bytes.len() - pos;
        if length > available {
            return Err(format!(
                "Truncated: length {length} > bytes available {available}"
            ));
        }
        let span =
            Span::decode(&bytes[pos..pos + length]).map_err(|e| format!("Malformed: {e}"))?;
        pos += length;
        out.push(span.into_model()?);
    }
    Ok(out)
}

/// A varint of at most 32 bits, as Zipkin's `readVarint32`.
fn read_varint32(bytes: &[u8], pos: &mut usize) -> Result<u32, String> {
    let mut result: u32 = 0;
    for i in 0..5 {
        let Some(&b) = bytes.get(*pos) else {
            return Err(format!(
                "Truncated: length 1 > bytes available {}",
                bytes.len() - *pos
            ));
        };
        *pos += 1;
        if i == 4 && b & 0xf0 != 0 {
            return Err(format!(
                "Greater than 32-bit varint at position {}",
                *pos - 1
            ));
        }
        result |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(result);
        }
    }
    Ok(result)
}

/// Encodes model spans as a `ListOfSpans`.
pub fn encode_list(spans: &[model::Span]) -> Vec<u8> {
    ListOfSpans {
        spans: spans.iter().map(Span::from_model).collect(),
    }
    .encode_to_vec()
}

impl Span {
    /// Builds the wire form of a model span.
    pub fn from_model(span: &model::Span) -> Self {
        let trace_id = if span.trace_id.is_128() {
            let mut id = span.trace_id.high().to_be_bytes().to_vec();
            id.extend_from_slice(&span.trace_id.low().to_be_bytes());
            id
        } else {
            span.trace_id.low().to_be_bytes().to_vec()
        };
        Span {
            trace_id,
            parent_id: span
                .parent_id
                .map_or_else(Vec::new, |p| p.get().to_be_bytes().to_vec()),
            id: span.id.get().to_be_bytes().to_vec(),
            kind: span.kind.map_or(0, |k| match k {
                Kind::Client => 1,
                Kind::Server => 2,
                Kind::Producer => 3,
                Kind::Consumer => 4,
            }),
            name: span.name.as_deref().unwrap_or("").as_bytes().to_vec(),
            timestamp: span.timestamp.unwrap_or(0),
            duration: span.duration.unwrap_or(0),
            local_endpoint: span.local_endpoint.as_ref().map(Endpoint::from_model),
            remote_endpoint: span.remote_endpoint.as_ref().map(Endpoint::from_model),
            annotations: span
                .annotations
                .iter()
                .map(|a| Annotation {
                    timestamp: a.timestamp,
                    value: a.value.as_bytes().to_vec(),
                })
                .collect(),
            tags: span
                .tags
                .iter()
                .map(|(k, v)| TagEntry {
                    key: k.as_bytes().to_vec(),
                    value: v.as_bytes().to_vec(),
                })
                .collect(),
            debug: span.debug,
            shared: span.shared,
        }
    }

    /// Converts to a normalised model span with Zipkin's rules: ids from bytes (8 or 16,
    /// shorter left-padded, longer rejected), defaults meaning absent, unknown kinds
    /// ignored, annotations without time or value and tags without key dropped.
    pub fn into_model(self) -> Result<model::Span, String> {
        let trace_id = (!self.trace_id.is_empty())
            .then(|| trace_id(&self.trace_id))
            .transpose()?;
        let id = (!self.id.is_empty())
            .then(|| span_id(&self.id, "id"))
            .transpose()?;
        let (trace_id, id) = match (trace_id, id) {
            (Some(t), Some(Some(id))) => (t, id),
            (Some(_), Some(None)) => return Err(IdError::AllZeros("id").to_string()),
            (t, i) => {
                let mut missing = String::from("Missing :");
                if t.is_none() {
                    missing.push_str(" traceId");
                }
                if i.is_none() {
                    missing.push_str(" id");
                }
                return Err(missing);
            }
        };
        let mut span = model::Span::new(trace_id, id);
        if !self.parent_id.is_empty() {
            span.parent_id = span_id(&self.parent_id, "parentId")?;
        }
        span.kind = match self.kind {
            1 => Some(Kind::Client),
            2 => Some(Kind::Server),
            3 => Some(Kind::Producer),
            4 => Some(Kind::Consumer),
            _ => None,
        };
        if !self.name.is_empty() {
            span.name = Some(lossy(&self.name));
        }
        // Java reads these as signed longs: values past i64::MAX are negative, so absent.
        span.timestamp = Some(self.timestamp).filter(|t| *t != 0 && *t <= i64::MAX as u64);
        span.duration = Some(self.duration).filter(|d| *d != 0 && *d <= i64::MAX as u64);
        span.local_endpoint = self.local_endpoint.map(Endpoint::into_model).transpose()?;
        span.remote_endpoint = self.remote_endpoint.map(Endpoint::into_model).transpose()?;
        span.annotations = self
            .annotations
            .into_iter()
            .filter(|a| a.timestamp != 0 && !a.value.is_empty())
            .map(|a| model::Annotation::new(a.timestamp, lossy(&a.value)))
            .collect();
        span.tags = self
            .tags
            .into_iter()
            .filter(|t| !t.key.is_empty())
            .map(|t| (lossy(&t.key), lossy(&t.value)))
            .collect();
        span.debug = self.debug;
        span.shared = self.shared;
        span.normalize();
        Ok(span)
    }
}

impl Endpoint {
    fn from_model(e: &ModelEndpoint) -> Self {
        Endpoint {
            service_name: e.service_name.as_deref().unwrap_or("").as_bytes().to_vec(),
            ipv4: e.ipv4.map_or_else(Vec::new, |ip| ip.octets().to_vec()),
            ipv6: e.ipv6.map_or_else(Vec::new, |ip| ip.octets().to_vec()),
            port: e.port.map_or(0, i32::from),
        }
    }

    fn into_model(self) -> Result<ModelEndpoint, String> {
        let mut e = ModelEndpoint::default();
        if !self.service_name.is_empty() {
            e.set_service_name(&String::from_utf8_lossy(&self.service_name));
        }
        super::thrift::set_ip_bytes(&mut e, &self.ipv4);
        super::thrift::set_ip_bytes(&mut e, &self.ipv6);
        if self.port > 0xffff {
            return Err(format!("invalid port {}", self.port));
        }
        // Negative ports are unknown, as in Zipkin.
        e.port = u16::try_from(self.port).ok().filter(|p| *p != 0);
        Ok(e)
    }
}

fn lossy(bytes: &[u8]) -> compact_str::CompactString {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.into(),
        Err(_) => String::from_utf8_lossy(bytes).as_ref().into(),
    }
}

/// A trace id from bytes, with the messages Zipkin gives for their hex form.
fn trace_id(bytes: &[u8]) -> Result<TraceId, String> {
    if bytes.len() > 16 {
        return Err(too_long_hex(bytes.len()).unwrap_or_else(|| {
            IdError::TooLong {
                field: "traceId",
                max: 32,
            }
            .to_string()
        }));
    }
    TraceId::from_be_bytes(bytes).map_err(|e| e.to_string())
}

/// A span or parent id from bytes; all zeros yields `None`.
fn span_id(bytes: &[u8], field: &'static str) -> Result<Option<SpanId>, String> {
    if bytes.len() > 8 {
        return Err(too_long_hex(bytes.len())
            .unwrap_or_else(|| IdError::TooLong { field, max: 16 }.to_string()));
    }
    SpanId::from_be_bytes(bytes, field).map_err(|e| e.to_string())
}

/// Zipkin refuses to even hex-encode id fields longer than 32 bytes.
fn too_long_hex(len: usize) -> Option<String> {
    (len > 32).then(|| format!("hex field greater than 32 chars long: {len}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Endpoint as E;

    fn span() -> model::Span {
        model::Span::builder(
            TraceId::parse("7180c278b62e8f6a216a2aea45d08fc9").unwrap(),
            SpanId::parse("5b4185666d50f68b").unwrap(),
        )
        .parent_id(SpanId::parse("6b221d5bc9e6496c").unwrap())
        .name("get")
        .kind(Kind::Client)
        .local_endpoint(E::service("frontend").with_ip("127.0.0.1"))
        .remote_endpoint(
            E::service("backend")
                .with_ip("2001:db8::c001")
                .with_port(9000),
        )
        .timestamp(1_472_470_996_199_000)
        .duration(207_000)
        .annotation(1_472_470_996_238_000, "foo")
        .tag("clnt/finagle.version", "6.45.0")
        .tag("error", "")
        .debug(true)
        .build()
    }

    #[test]
    fn list_round_trips() {
        let spans = vec![span(), span()];
        assert_eq!(decode_list(&encode_list(&spans)).unwrap(), spans);
    }

    #[test]
    fn empty_input_is_no_spans() {
        assert!(decode_list(&[]).unwrap().is_empty());
    }

    #[test]
    fn truncated_message_names_the_missing_bytes() {
        // SpanBytesDecoderTest.niceErrorOnTruncatedSpans_PROTO3
        let encoded = encode_list(&[span()]);
        // One key byte and a two-byte length prefix precede the span.
        let span_length = encoded.len() - 3;
        assert_eq!(
            decode_list(&encoded[..10]).unwrap_err().to_string(),
            format!("Truncated: length {span_length} > bytes available 7 reading List<Span> from proto3")
        );
    }

    #[test]
    fn sixteen_bytes_with_zero_high_half_are_a_64_bit_trace_id() {
        let mut wire = Span::from_model(&span());
        wire.trace_id = [[0u8; 8], 0x216a2aea45d08fc9u64.to_be_bytes()].concat();
        let decoded = wire.into_model().unwrap();
        assert_eq!(decoded.trace_id.to_string(), "216a2aea45d08fc9");
    }

    #[test]
    fn over_long_ids_are_rejected_with_zipkin_messages() {
        let mut wire = Span::from_model(&span());
        wire.trace_id = vec![1; 17];
        assert_eq!(
            wire.clone().into_model().unwrap_err(),
            "traceId.length > 32"
        );
        wire.trace_id = vec![1; 33];
        assert_eq!(
            wire.into_model().unwrap_err(),
            "hex field greater than 32 chars long: 33"
        );
        let mut wire = Span::from_model(&span());
        wire.id = vec![1; 9];
        assert_eq!(wire.into_model().unwrap_err(), "id.length > 16");
        let mut wire = Span::from_model(&span());
        wire.parent_id = vec![1; 9];
        assert_eq!(wire.into_model().unwrap_err(), "parentId.length > 16");
    }

    #[test]
    fn missing_ids_are_named() {
        let mut wire = Span::from_model(&span());
        wire.trace_id.clear();
        wire.id.clear();
        assert_eq!(wire.into_model().unwrap_err(), "Missing : traceId id");
    }

    #[test]
    fn defaults_mean_absent_and_unknown_kinds_are_ignored() {
        let wire = Span {
            trace_id: vec![1],
            id: vec![2],
            kind: 9,
            annotations: vec![Annotation {
                timestamp: 0,
                value: b"dropped".to_vec(),
            }],
            tags: vec![TagEntry {
                key: vec![],
                value: b"dropped".to_vec(),
            }],
            local_endpoint: Some(Endpoint {
                service_name: vec![],
                ipv4: vec![],
                ipv6: vec![],
                port: 0,
            }),
            ..Span::default()
        };
        let s = wire.into_model().unwrap();
        assert_eq!(s.trace_id.to_string(), "0000000000000001");
        assert_eq!(s.kind, None);
        assert!(s.annotations.is_empty());
        assert!(s.tags.is_empty());
        assert_eq!(s.local_endpoint, None);
    }

    #[test]
    fn port_past_u16_is_rejected() {
        let mut wire = Span::from_model(&span());
        wire.local_endpoint.as_mut().unwrap().port = 70_000;
        assert_eq!(wire.into_model().unwrap_err(), "invalid port 70000");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        let mut wire = Span::from_model(&span());
        wire.name = vec![b'a', 0xff];
        assert_eq!(
            wire.into_model().unwrap().name.as_deref(),
            Some("a\u{fffd}")
        );
    }

    #[test]
    fn garbage_inside_a_span_is_malformed() {
        // key 0x0a, length 3, then a field with wire type 7.
        let message = decode_list(&[0x0a, 0x03, 0x0f, 0x00, 0x00])
            .unwrap_err()
            .to_string();
        assert_eq!(message, "Malformed reading List<Span> from proto3");
    }
}
