//! Which format a message is in, for the transports that cannot say (Kafka and other
//! brokers), and the checks the HTTP endpoints make before decoding.
//!
//! Detection follows Zipkin's `SpanBytesDecoderDetector`: the first byte tells binary
//! from JSON (a TBinaryProtocol type is at most 16, a JSON list starts with `[`), proto3
//! starts with field 1 and a non-zero length, a Thrift list starts with the struct type
//! 12 (or 11, a long-lived reporter typo), and JSON v2 is told from v1 by the field
//! names only v2 has. The HTTP endpoints also refuse a body of the other JSON version
//! with Zipkin's "confusion" messages, because the two versions are ambiguous on minimal
//! spans and silently misreading one as the other would lose data.

use std::fmt;

use super::{json_v1, json_v2, proto3, thrift, DecodeError};
use crate::model::Span;

/// A span list encoding Zipkin accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    JsonV2,
    JsonV1,
    Proto3,
    Thrift,
}

impl Encoding {
    /// Zipkin's name for the decoder (`SpanBytesDecoder`), used in its error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::JsonV2 => "JSON_V2",
            Encoding::JsonV1 => "JSON_V1",
            Encoding::Proto3 => "PROTO3",
            Encoding::Thrift => "THRIFT",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// v2 spans name their endpoints `localEndpoint`/`remoteEndpoint`; v1 has no such field.
const ENDPOINT_FIELD_SUFFIX: &[u8] = b"Endpoint\"";
/// A v2 span can have tags and no endpoint; v1 has no `tags` field.
const TAGS_FIELD: &[u8] = b"\"tags\"";
/// `binaryAnnotations` exists only in v1.
const BINARY_ANNOTATION_FIELD_SUFFIX: &[u8] = b"yAnnotations\"";

/// Detects the encoding of a span list (`decoderForListMessage`).
pub fn detect_list(bytes: &[u8]) -> Result<Encoding, DecodeError> {
    let encoding = detect(bytes)?;
    let first = bytes[0];
    if first != 12 && first != 11 && !is_proto3(bytes) && first != b'[' {
        return Err(DecodeError::new(
            "Expected json, proto3 or thrift list encoding",
        ));
    }
    Ok(encoding)
}

/// `detectDecoder`: the format of a list or a single span.
fn detect(bytes: &[u8]) -> Result<Encoding, DecodeError> {
    let Some(&first) = bytes.first() else {
        return Err(DecodeError::new("Could not detect the span format"));
    };
    // Java bytes are signed, so every byte from 0x80 up also counts as "binary".
    if (first as i8) <= 16 {
        return Ok(if is_proto3(bytes) {
            Encoding::Proto3
        } else {
            Encoding::Thrift
        });
    }
    if first != b'[' && first != b'{' {
        return Err(DecodeError::new("Could not detect the span format"));
    }
    if contains(bytes, ENDPOINT_FIELD_SUFFIX) || contains(bytes, TAGS_FIELD) {
        Ok(Encoding::JsonV2)
    } else {
        Ok(Encoding::JsonV1)
    }
}

/// proto3 `ListOfSpans` starts with field 1 (key byte 10) and a non-zero length.
fn is_proto3(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 10 && bytes[1] != 0
}

/// Whole bodies are scanned (a v2 body never contains `yAnnotations"`), so this uses a
/// vectorised substring search rather than comparing every window.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// The other JSON version, when an endpoint expecting `expected` was sent it
/// (`BodyIsExceptionMessage.testForUnexpectedFormat`). Only the JSON endpoints check.
pub fn unexpected_format(expected: Encoding, bytes: &[u8]) -> Option<Encoding> {
    match expected {
        Encoding::JsonV2 if contains(bytes, BINARY_ANNOTATION_FIELD_SUFFIX) => {
            Some(Encoding::JsonV1)
        }
        Encoding::JsonV1
            if contains(bytes, ENDPOINT_FIELD_SUFFIX) || contains(bytes, TAGS_FIELD) =>
        {
            Some(Encoding::JsonV2)
        }
        _ => None,
    }
}

/// What an HTTP endpoint decoding `expected` checks before decoding a non-empty body,
/// with Zipkin's messages: the body must look like some span list, and a JSON body must
/// not be the other JSON version.
pub fn check_http_body(expected: Encoding, bytes: &[u8]) -> Result<(), DecodeError> {
    if detect_list(bytes).is_err() {
        return Err(DecodeError::new(format!(
            "Expected a {expected} encoded list\n"
        )));
    }
    if let Some(actual) = unexpected_format(expected, bytes) {
        return Err(DecodeError::new(format!(
            "Expected a {expected} encoded list, but received: {actual}\n"
        )));
    }
    Ok(())
}

/// Decodes a span list in a known encoding. Empty input yields no spans.
pub fn decode_list(encoding: Encoding, bytes: &[u8]) -> Result<Vec<Span>, DecodeError> {
    match encoding {
        Encoding::JsonV2 => json_v2::decode_spans(bytes),
        Encoding::JsonV1 => json_v1::decode_list(bytes),
        Encoding::Proto3 => proto3::decode_list(bytes),
        Encoding::Thrift => thrift::decode_list(bytes),
    }
}

/// Decodes a broker message (Kafka and the like), whatever its encoding: any span list,
/// or a single Thrift span as very old reporters sent. An empty message yields no spans;
/// a one-byte message is an error, as in Zipkin (it cannot even be told apart).
pub fn decode_message(bytes: &[u8]) -> Result<Vec<Span>, DecodeError> {
    match bytes {
        [] => Ok(Vec::new()),
        [_] => Err(DecodeError::new(
            "Truncated: length 2 > bytes available 1 reading message",
        )),
        [first, ..] if !is_proto3(bytes) && (*first as i8) <= 16 && *first != 12 => {
            thrift::decode_one(bytes)
        }
        _ => decode_list(detect_list(bytes)?, bytes),
    }
}

#[cfg(test)]
mod tests {
    //! Cases from Zipkin's `SpanBytesDecoderDetectorTest` and the collector's HTTP checks.

    use super::*;
    use crate::model::{Endpoint, Kind, SpanId, TraceId};

    fn spans() -> Vec<Span> {
        let trace = TraceId::parse("a").unwrap();
        vec![
            Span::builder(trace, SpanId::parse("b").unwrap())
                .name("get")
                .timestamp(10)
                .duration(30)
                .kind(Kind::Server)
                .shared(true)
                .tag("http.method", "GET")
                .local_endpoint(Endpoint::service("frontend").with_ip("127.0.0.1"))
                .build(),
            Span::builder(trace, SpanId::parse("c").unwrap())
                .parent_id(SpanId::parse("b").unwrap())
                .name("get")
                .timestamp(15)
                .duration(10)
                .local_endpoint(Endpoint::service("frontend").with_ip("127.0.0.1"))
                .build(),
        ]
    }

    #[test]
    fn each_list_encoding_is_detected() {
        let spans = spans();
        assert_eq!(
            detect_list(&proto3::encode_list(&spans)),
            Ok(Encoding::Proto3)
        );
        assert_eq!(
            detect_list(&thrift::encode_list(&spans)),
            Ok(Encoding::Thrift)
        );
        assert_eq!(
            detect_list(&json_v1::encode_list(&spans)),
            Ok(Encoding::JsonV1)
        );
        assert_eq!(
            detect_list(br#"[{"traceId":"a","id":"b","tags":{"a":"b"}}]"#),
            Ok(Encoding::JsonV2)
        );
        assert_eq!(
            detect_list(br#"[{"traceId":"a","id":"b","localEndpoint":{}}]"#),
            Ok(Encoding::JsonV2)
        );
    }

    #[test]
    fn thrift_list_with_the_old_type_typo_is_still_thrift() {
        // decoderForListMessage_thrift_incorrectFirstByte
        let mut message = thrift::encode_list(&spans());
        message[0] = 11;
        assert_eq!(detect_list(&message), Ok(Encoding::Thrift));
    }

    #[test]
    fn single_items_are_not_lists_except_in_proto3() {
        // decoderForListMessage_*_singleItem
        assert!(detect_list(&thrift::encode_one(&spans()[0])).is_err());
        assert!(detect_list(br#"{"traceId":"a","id":"b"}"#).is_err());
        assert_eq!(
            detect_list(&proto3::encode_list(&spans()[..1])),
            Ok(Encoding::Proto3)
        );
        assert!(detect_list(b"h").is_err());
        assert!(detect_list(b"").is_err());
    }

    #[test]
    fn confusion_between_json_versions_is_refused_with_zipkins_messages() {
        let v1 = br#"[{"traceId":"a","id":"b","binaryAnnotations":[]}]"#;
        assert_eq!(
            check_http_body(Encoding::JsonV2, v1)
                .unwrap_err()
                .to_string(),
            "Expected a JSON_V2 encoded list, but received: JSON_V1\n"
        );
        let v2 = br#"[{"traceId":"a","id":"b","tags":{}}]"#;
        assert_eq!(
            check_http_body(Encoding::JsonV1, v2)
                .unwrap_err()
                .to_string(),
            "Expected a JSON_V1 encoded list, but received: JSON_V2\n"
        );
        // Minimal spans are valid in both versions.
        let minimal = br#"[{"traceId":"1","id":"1","name":"test"}]"#;
        assert!(check_http_body(Encoding::JsonV2, minimal).is_ok());
        assert!(check_http_body(Encoding::JsonV1, minimal).is_ok());
    }

    #[test]
    fn bodies_that_are_no_list_are_refused_with_zipkins_message() {
        for body in [&b"hello"[..], b"{}", &[1, 2, 3, 4]] {
            assert_eq!(
                check_http_body(Encoding::JsonV2, body)
                    .unwrap_err()
                    .to_string(),
                "Expected a JSON_V2 encoded list\n"
            );
            assert_eq!(
                check_http_body(Encoding::Thrift, body)
                    .unwrap_err()
                    .to_string(),
                "Expected a THRIFT encoded list\n"
            );
        }
    }

    #[test]
    fn broker_messages_decode_lists_and_legacy_single_thrift_spans() {
        let spans = spans();
        for message in [
            proto3::encode_list(&spans),
            thrift::encode_list(&spans),
            json_v1::encode_list(&spans),
        ] {
            assert_eq!(decode_message(&message).unwrap(), spans);
        }
        assert_eq!(
            decode_message(&thrift::encode_one(&spans[1])).unwrap(),
            vec![spans[1].clone()]
        );
        assert!(decode_message(&[]).unwrap().is_empty());
        assert!(decode_message(b"[").is_err());
        assert!(decode_message(b"malformed").is_err());
        assert!(decode_message(b"[\"='").is_err());
    }
}
