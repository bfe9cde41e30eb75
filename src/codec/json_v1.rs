//! Zipkin's legacy JSON v1 format (`POST /api/v1/spans`, Kafka): spans whose annotations
//! carry endpoints and whose tags are `binaryAnnotations`, converted to v2 spans with
//! [`V1Span::into_v2`](super::v1::V1Span::into_v2).
//!
//! Reading follows Zipkin's `V1JsonSpanReader` field by field, including its leniency
//! (ids may be up to 32 hex characters and keep their low 64 bits, numbers are accepted
//! where strings are expected and vice versa for longs, nulls are skipped except for the
//! ids, boolean binary annotations other than addresses are dropped) and its messages
//! (`Incomplete annotation at $[0].annotations[0].timestamp`). It streams with serde:
//! each span is converted as soon as it is read and no document tree is built; serde's
//! recursion limit bounds nesting.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::v1::V1Span;
use super::DecodeError;
use crate::model::{Endpoint, Span};

/// Decodes a JSON v1 span list into v2 spans. Empty input or `[]` yields no spans.
pub fn decode_list(bytes: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let mut out = Vec::new();
    if bytes.is_empty() {
        return Ok(out);
    }
    let mut failure = None;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let visitor = ListVisitor {
        out: &mut out,
        failure: &mut failure,
    };
    // Like Zipkin, what follows the closing bracket is not read.
    match de.deserialize_any(visitor) {
        Ok(()) => Ok(out),
        Err(_) => Err(DecodeError::reading(
            failure.as_deref().unwrap_or("Malformed"),
            "List<Span>",
            "json",
        )),
    }
}

/// Encodes spans as a JSON v1 list, in the shape of Zipkin's `V1JsonSpanWriter`.
pub fn encode_list(spans: &[Span]) -> Vec<u8> {
    let list: Vec<serde_json::Value> = spans.iter().map(encode_span).collect();
    serde_json::to_vec(&list).expect("json values always serialize")
}

fn encode_span(span: &Span) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let v1 = V1Span::from_v2(span);
    let mut o = Map::new();
    o.insert("traceId".into(), json!(span.trace_id.to_string()));
    if let Some(parent) = span.parent_id {
        o.insert("parentId".into(), json!(parent.to_string()));
    }
    o.insert("id".into(), json!(span.id.to_string()));
    o.insert("name".into(), json!(v1.name.as_deref().unwrap_or("")));
    if v1.timestamp != 0 {
        o.insert("timestamp".into(), json!(v1.timestamp));
    }
    if v1.duration != 0 {
        o.insert("duration".into(), json!(v1.duration));
    }
    let endpoint = |e: &Endpoint| {
        let mut m = Map::new();
        m.insert(
            "serviceName".into(),
            json!(e.service_name.as_deref().unwrap_or("")),
        );
        if let Some(ip) = e.ipv4 {
            m.insert("ipv4".into(), json!(ip.to_string()));
        }
        if let Some(ip) = e.ipv6 {
            m.insert("ipv6".into(), json!(ip.to_string()));
        }
        if let Some(port) = e.port {
            m.insert("port".into(), json!(port));
        }
        Value::Object(m)
    };
    if !v1.annotations.is_empty() {
        let list = v1.annotations.iter().map(|a| {
            let mut m = Map::new();
            m.insert("timestamp".into(), json!(a.timestamp));
            m.insert("value".into(), json!(a.value.as_str()));
            if let Some(e) = &a.endpoint {
                m.insert("endpoint".into(), endpoint(e));
            }
            Value::Object(m)
        });
        o.insert("annotations".into(), Value::Array(list.collect()));
    }
    if !v1.binary_annotations.is_empty() {
        let list = v1.binary_annotations.iter().map(|b| {
            let mut m = Map::new();
            m.insert("key".into(), json!(b.key.as_str()));
            match &b.string_value {
                Some(v) => m.insert("value".into(), json!(v.as_str())),
                None => m.insert("value".into(), json!(true)),
            };
            if let Some(e) = &b.endpoint {
                m.insert("endpoint".into(), endpoint(e));
            }
            Value::Object(m)
        });
        o.insert("binaryAnnotations".into(), Value::Array(list.collect()));
    }
    if v1.debug == Some(true) {
        o.insert("debug".into(), json!(true));
    }
    Value::Object(o)
}

/// Where the reader is, in Gson's path syntax, for error messages.
#[derive(Clone, Copy)]
struct Path<'p> {
    span: usize,
    /// Inside `annotations[i]` or `binaryAnnotations[i]`.
    list: Option<(&'static str, usize)>,
    /// Inside that item's `endpoint`.
    endpoint: bool,
    field: &'p str,
}

impl<'p> Path<'p> {
    fn span(span: usize) -> Self {
        Path {
            span,
            list: None,
            endpoint: false,
            field: "",
        }
    }

    fn field(self, field: &'p str) -> Self {
        Path { field, ..self }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "$[{}]", self.span)?;
        if let Some((list, i)) = self.list {
            write!(f, ".{list}[{i}]")?;
        }
        if self.endpoint {
            f.write_str(".endpoint")?;
        }
        if !self.field.is_empty() {
            write!(f, ".{}", self.field)?;
        }
        Ok(())
    }
}

/// Records a message for the caller and unwinds serde with a placeholder error. Errors
/// that unwind without a message are syntax errors, which Zipkin calls "Malformed".
fn fail<E: de::Error>(failure: &mut Option<String>, message: String) -> E {
    *failure = Some(message);
    E::custom("see failure")
}

struct ListVisitor<'a> {
    out: &'a mut Vec<Span>,
    failure: &'a mut Option<String>,
}

impl<'de> Visitor<'de> for ListVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of spans")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            let seed = SpanSeed {
                index,
                failure: &mut *self.failure,
            };
            let Some(mut span) = seq.next_element_seed(seed)? else {
                return Ok(());
            };
            if let Err(e) = span.finish() {
                return Err(fail(self.failure, e.to_string()));
            }
            span.into_v2(self.out);
            index += 1;
        }
    }
}

struct SpanSeed<'a> {
    index: usize,
    failure: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for SpanSeed<'_> {
    type Value = V1Span;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V1Span, D::Error> {
        // Anything but an object is Gson's "Expected BEGIN_OBJECT", which Zipkin reports
        // as "Malformed".
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SpanSeed<'_> {
    type Value = V1Span;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a span")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<V1Span, A::Error> {
        let mut span = V1Span::default();
        let failure = self.failure;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let path = Path::span(self.index).field(&key.0);
            match key.0.as_ref() {
                // The ids are read even when null, which fails as in Zipkin.
                "traceId" => {
                    let text = expect_string(map.next_value()?, path, failure)?;
                    let (high, low) = parse_v1_trace_id(&text).map_err(|m| fail(failure, m))?;
                    span.trace_id_high = high;
                    span.trace_id = low;
                }
                "id" => {
                    let text = expect_string(map.next_value()?, path, failure)?;
                    span.id = lower_hex_to_u64(&text).map_err(|m| fail(failure, m))?;
                }
                list @ ("annotations" | "binaryAnnotations") => map.next_value_seed(ListSeed {
                    list: if list == "annotations" {
                        "annotations"
                    } else {
                        "binaryAnnotations"
                    },
                    path,
                    span: &mut span,
                    failure: &mut *failure,
                })?,
                field => match (field, map.next_value::<Scalar<'de>>()?) {
                    (_, Scalar::Null) => {}
                    ("name", value) => span.set_name(&expect_string(value, path, failure)?),
                    ("parentId", value) => {
                        let text = expect_string(value, path, failure)?;
                        span.parent_id = lower_hex_to_u64(&text).map_err(|m| fail(failure, m))?;
                    }
                    ("timestamp", value) => span.timestamp = expect_long(value, path, failure)?,
                    ("duration", value) => span.duration = expect_long(value, path, failure)?,
                    ("debug", Scalar::Bool(true)) => span.debug = Some(true),
                    ("debug", Scalar::Bool(false)) => {}
                    ("debug", other) => {
                        return Err(fail(failure, expected("a boolean", &other, path)));
                    }
                    _ => {}
                },
            }
        }
        Ok(span)
    }
}

/// `annotations` or `binaryAnnotations`: null is skipped, anything but a list fails.
struct ListSeed<'a, 'p> {
    list: &'static str,
    path: Path<'p>,
    span: &'a mut V1Span,
    failure: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        loop {
            let path = Path {
                list: Some((self.list, index)),
                ..self.path.field("")
            };
            let item = ItemSeed {
                annotation: self.list == "annotations",
                path,
                span: &mut *self.span,
                failure: &mut *self.failure,
            };
            if seq.next_element_seed(item)?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    // Other JSON types: Gson's `beginArray` fails naming what it found.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(self.not_a_list("BOOLEAN"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(self.not_a_list("NUMBER"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(self.not_a_list("NUMBER"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(self.not_a_list("NUMBER"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(self.not_a_list("STRING"))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(self.not_a_list("BEGIN_OBJECT"))
    }
}

impl ListSeed<'_, '_> {
    fn not_a_list<E: de::Error>(self, token: &str) -> E {
        let path = self.path;
        fail(
            self.failure,
            format!("Expected BEGIN_ARRAY but was {token} at path {path}"),
        )
    }
}

/// One annotation or binary annotation, added to the span as Zipkin's reader adds it.
struct ItemSeed<'a, 'p> {
    annotation: bool,
    path: Path<'p>,
    span: &'a mut V1Span,
    failure: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an annotation")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let failure = self.failure;
        let (mut timestamp, mut key, mut string_value, mut bool_value) = (None, None, None, None);
        let mut endpoint = None;
        let mut last_field: Option<Key<'de>> = None;
        while let Some(field) = map.next_key::<Key<'de>>()? {
            let path = self.path.field(&field.0);
            match (self.annotation, field.0.as_ref()) {
                (_, "endpoint") => {
                    endpoint = map.next_value_seed(EndpointSeed {
                        path: Path {
                            endpoint: true,
                            ..self.path
                        },
                        failure: &mut *failure,
                    })?;
                }
                // Annotations read timestamp and value even when null, which fails.
                (true, "timestamp") => {
                    timestamp = Some(expect_long(map.next_value()?, path, failure)?);
                }
                (true, "value") => {
                    let value = expect_string(map.next_value()?, path, failure)?;
                    string_value = Some(value.into_owned());
                }
                (false, name) => match (name, map.next_value::<Scalar<'de>>()?) {
                    (_, Scalar::Null) => {}
                    ("key", value) => key = Some(expect_string(value, path, failure)?.into_owned()),
                    ("value", Scalar::Str(s)) => string_value = Some(s.into_owned()),
                    ("value", Scalar::Bool(b)) => bool_value = Some(b),
                    _ => {}
                },
                (true, _) => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            last_field = Some(field);
        }
        let last = last_field.as_ref().map_or("", |k| k.0.as_ref());
        if self.annotation {
            let (Some(timestamp), Some(value)) = (timestamp, string_value) else {
                let path = self.path.field(last);
                return Err(fail(failure, format!("Incomplete annotation at {path}")));
            };
            self.span.add_annotation(timestamp, &value, endpoint);
            return Ok(());
        }
        let Some(key) = key else {
            let path = self.path.field(last);
            return Err(fail(failure, format!("No key at {path}")));
        };
        if let Some(value) = string_value {
            self.span.add_tag(&key, &value, endpoint);
        } else if bool_value == Some(true)
            && endpoint.is_some()
            && matches!(key.as_str(), "ca" | "sa" | "ma")
        {
            // Only address annotations survive among booleans; others have no v2 form.
            self.span.add_address(&key, endpoint);
        }
        Ok(())
    }
}

/// An endpoint, read as the v2 reader reads it: null fields skipped, addresses parsed
/// with Zipkin's rules (unparseable ones dropped), ports checked.
struct EndpointSeed<'a, 'p> {
    path: Path<'p>,
    failure: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for EndpointSeed<'_, '_> {
    type Value = Option<Endpoint>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Endpoint>, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for EndpointSeed<'_, '_> {
    type Value = Option<Endpoint>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an endpoint")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<Endpoint>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<Endpoint>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<Endpoint>, D::Error> {
        // Anything but an object is Gson's "Expected BEGIN_OBJECT": "Malformed".
        d.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Endpoint>, A::Error> {
        let failure = self.failure;
        let mut endpoint = Endpoint::default();
        while let Some(field) = map.next_key::<Key<'de>>()? {
            let path = self.path.field(&field.0);
            match (field.0.as_ref(), map.next_value::<Scalar<'de>>()?) {
                (_, Scalar::Null) => {}
                ("serviceName", value) => {
                    endpoint.set_service_name(&expect_string(value, path, failure)?);
                }
                ("ipv4" | "ipv6", value) => {
                    super::set_endpoint_ip(&mut endpoint, &expect_string(value, path, failure)?);
                }
                ("port", value) => {
                    let port = expect_long(value, path, failure)?;
                    let port = i32::try_from(port).map_err(|_| {
                        fail::<A::Error>(
                            failure,
                            format!("Expected an int but was {port} at path {path}"),
                        )
                    })?;
                    if port > 0xffff {
                        return Err(fail(failure, format!("invalid port {port}")));
                    }
                    endpoint.port = u16::try_from(port).ok().filter(|p| *p != 0);
                }
                _ => {}
            }
        }
        Ok(Some(endpoint).filter(|e| !e.is_empty()))
    }
}

/// A field name, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A JSON value as Zipkin's reader sees it when it expects a scalar: containers are
/// skipped and only their type is kept, for error messages.
enum Scalar<'de> {
    Str(Cow<'de, str>),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Null,
    Array,
    Object,
}

impl Scalar<'_> {
    /// Gson's token name, as its messages print it.
    fn token(&self) -> &'static str {
        match self {
            Scalar::Str(_) => "STRING",
            Scalar::I64(_) | Scalar::U64(_) | Scalar::F64(_) => "NUMBER",
            Scalar::Bool(_) => "BOOLEAN",
            Scalar::Null => "NULL",
            Scalar::Array => "BEGIN_ARRAY",
            Scalar::Object => "BEGIN_OBJECT",
        }
    }
}

impl<'de> de::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::I64(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::U64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::F64(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Object)
    }
}

fn expected(what: &str, got: &Scalar<'_>, path: Path<'_>) -> String {
    format!("Expected {what} but was {} at path {path}", got.token())
}

/// Gson's `nextString`: strings, and numbers as their text.
fn expect_string<'de, E: de::Error>(
    value: Scalar<'de>,
    path: Path<'_>,
    failure: &mut Option<String>,
) -> Result<Cow<'de, str>, E> {
    match value {
        Scalar::Str(s) => Ok(s),
        Scalar::I64(n) => Ok(Cow::Owned(n.to_string())),
        Scalar::U64(n) => Ok(Cow::Owned(n.to_string())),
        Scalar::F64(n) => Ok(Cow::Owned(n.to_string())),
        other => Err(fail(failure, expected("a string", &other, path))),
    }
}

/// Gson's `nextLong`: integral numbers, and strings holding one.
fn expect_long<E: de::Error>(
    value: Scalar<'_>,
    path: Path<'_>,
    failure: &mut Option<String>,
) -> Result<i64, E> {
    let parsed = match &value {
        Scalar::I64(n) => Some(*n),
        Scalar::U64(n) => i64::try_from(*n).ok(),
        Scalar::F64(n) if n.fract() == 0.0 && n.abs() < 9.2e18 => Some(*n as i64),
        Scalar::Str(s) => s.parse::<i64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| match &value {
        Scalar::I64(_) | Scalar::U64(_) | Scalar::F64(_) | Scalar::Str(_) => fail(
            failure,
            format!(
                "Expected a long but was {} at path {path}",
                describe(&value)
            ),
        ),
        other => fail(failure, expected("a long", other, path)),
    })
}

fn describe(value: &Scalar<'_>) -> String {
    match value {
        Scalar::Str(s) => s.to_string(),
        Scalar::U64(n) => n.to_string(),
        Scalar::F64(n) => n.to_string(),
        Scalar::I64(n) => n.to_string(),
        other => other.token().to_owned(),
    }
}

/// Zipkin's `HexCodec.lowerHexToUnsignedLong`: 1 to 32 lower-hex characters, of which
/// only the low 16 count.
fn lower_hex_to_u64(text: &str) -> Result<u64, String> {
    let begin = text.len().saturating_sub(16);
    if text.is_empty() || text.len() > 32 {
        return Err(not_lower_hex(text));
    }
    hex_u64(text, begin).ok_or_else(|| not_lower_hex(text))
}

/// v1 trace ids: the high half is kept only for exactly 32 characters, as in Zipkin.
fn parse_v1_trace_id(text: &str) -> Result<(u64, u64), String> {
    let low = lower_hex_to_u64(text)?;
    let high = if text.len() == 32 {
        hex_u64(&text[..16], 0).ok_or_else(|| not_lower_hex(text))?
    } else {
        0
    };
    Ok((high, low))
}

fn hex_u64(text: &str, begin: usize) -> Option<u64> {
    let bytes = text.as_bytes();
    let end = bytes.len().min(begin + 16);
    let mut value = 0u64;
    for &b in bytes.get(begin..end)? {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        value = (value << 4) | u64::from(digit);
    }
    Some(value)
}

fn not_lower_hex(text: &str) -> String {
    format!("{text} should be a 1 to 32 character lower-hex string with no prefix")
}

#[cfg(test)]
mod tests {
    //! Cases from Zipkin's `V1SpanBytesDecoderTest`.

    use super::*;
    use crate::model::{Kind, SpanId, TraceId};

    fn decode(json: &str) -> Result<Vec<Span>, String> {
        decode_list(json.as_bytes()).map_err(|e| e.to_string())
    }

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
        .tag("http.path", "/api")
        .build()
    }

    #[test]
    fn list_round_trips() {
        let spans = vec![client_span(), client_span()];
        assert_eq!(decode_list(&encode_list(&spans)).unwrap(), spans);
    }

    #[test]
    fn empty_input_and_empty_list_are_no_spans() {
        assert!(decode("").unwrap().is_empty());
        assert!(decode("[]").unwrap().is_empty());
    }

    #[test]
    fn malformed_json_is_malformed() {
        // niceErrorOnMalformed_inputSpans_JSON_V1
        assert_eq!(
            decode("hello").unwrap_err(),
            "Malformed reading List<Span> from json"
        );
        assert_eq!(
            decode("[{\"traceId\":").unwrap_err(),
            "Malformed reading List<Span> from json"
        );
        assert_eq!(
            decode("[1]").unwrap_err(),
            "Malformed reading List<Span> from json"
        );
    }

    #[test]
    fn a_128_bit_trace_id_keeps_its_high_half() {
        // readsTraceIdHighFromTraceIdField
        let spans = decode(
            r#"[{"traceId":"48485a3953bb61246b221d5bc9e6496c","name":"get-traces","id":"6b221d5bc9e6496c"}]"#,
        )
        .unwrap();
        assert_eq!(
            spans[0].trace_id.to_string(),
            "48485a3953bb61246b221d5bc9e6496c"
        );
        assert_eq!(spans[0].name.as_deref(), Some("get-traces"));
    }

    #[test]
    fn nulls_are_ignored_except_for_ids() {
        // ignoresNull_topLevelFields, niceErrorOnNull_traceId, niceErrorOnNull_id
        let spans = decode(
            r#"[{"traceId":"6b221d5bc9e6496c","parentId":null,"id":"6b221d5bc9e6496c","name":null,
                "timestamp":null,"duration":null,"annotations":null,"binaryAnnotations":null,
                "debug":null,"shared":null}]"#,
        )
        .unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(
            decode(r#"[{"traceId":null,"id":"6b221d5bc9e6496c"}]"#).unwrap_err(),
            "Expected a string but was NULL at path $[0].traceId reading List<Span> from json"
        );
        assert_eq!(
            decode(r#"[{"traceId":"1","id":null}]"#).unwrap_err(),
            "Expected a string but was NULL at path $[0].id reading List<Span> from json"
        );
    }

    #[test]
    fn endpoint_with_only_an_address_or_nothing_at_all() {
        // ignoresNull_endpoint_topLevelFields, skipsIncompleteEndpoint
        let spans = decode(
            r#"[{"traceId":"6b221d5bc9e6496c","id":"6b221d5bc9e6496c","binaryAnnotations":[
                {"key":"lc","value":"","endpoint":{"serviceName":null,"ipv4":"127.0.0.1","ipv6":null,"port":null}}]}]"#,
        )
        .unwrap();
        assert_eq!(
            spans[0].local_endpoint,
            Some(Endpoint::default().with_ip("127.0.0.1"))
        );
        let spans = decode(
            r#"[{"traceId":"6b221d5bc9e6496c","id":"6b221d5bc9e6496c","binaryAnnotations":[
                {"key":"lc","value":"","endpoint":{}}]}]"#,
        )
        .unwrap();
        assert_eq!(spans[0].local_endpoint, None);
    }

    #[test]
    fn boolean_binary_annotations_other_than_addresses_are_dropped() {
        // ignoresNonAddressBooleanBinaryAnnotations
        let spans = decode(
            r#"[{"traceId":"6b221d5bc9e6496c","id":"6b221d5bc9e6496c","binaryAnnotations":[
                {"key":"aa","value":true,"endpoint":{"serviceName":"foo"}}]}]"#,
        )
        .unwrap();
        assert!(spans[0].tags.is_empty());
        assert_eq!(spans[0].local_endpoint, None);
        assert_eq!(spans[0].remote_endpoint, None);
    }

    #[test]
    fn incomplete_annotations_fail_with_their_path() {
        // niceErrorOnIncomplete_annotation, niceErrorOnNull_annotationValue
        assert_eq!(
            decode(r#"[{"traceId":"1","id":"1","annotations":[{"timestamp":1472470996199000}]}]"#)
                .unwrap_err(),
            "Incomplete annotation at $[0].annotations[0].timestamp reading List<Span> from json"
        );
        let message = decode(
            r#"[{"traceId":"1","id":"1","annotations":[{"timestamp":1472470996199000,"value":null}]}]"#,
        )
        .unwrap_err();
        assert!(message.contains("$[0].annotations[0].value"), "{message}");
    }

    #[test]
    fn binary_annotation_without_key_fails() {
        assert_eq!(
            decode(r#"[{"traceId":"1","id":"1","binaryAnnotations":[{"value":"x"}]}]"#)
                .unwrap_err(),
            "No key at $[0].binaryAnnotations[0].value reading List<Span> from json"
        );
    }

    #[test]
    fn ids_follow_the_v1_hex_rules() {
        assert_eq!(
            decode(r#"[{"traceId":"48485A3953BB6124","id":"1"}]"#).unwrap_err(),
            "48485A3953BB6124 should be a 1 to 32 character lower-hex string with no prefix reading List<Span> from json"
        );
        assert_eq!(
            decode(r#"[{"traceId":"0","id":"1"}]"#).unwrap_err(),
            "traceId == 0 reading List<Span> from json"
        );
        // Numbers are read as their text, as Gson's nextString does.
        assert_eq!(decode(r#"[{"traceId":12,"id":3}]"#).unwrap()[0].id.get(), 3);
    }

    #[test]
    fn address_annotations_become_endpoints() {
        let spans = decode(
            r#"[{"traceId":"1","id":"2","annotations":[
                {"timestamp":1,"value":"cs","endpoint":{"serviceName":"front","ipv4":"10.0.0.1"}},
                {"timestamp":5,"value":"cr","endpoint":{"serviceName":"front","ipv4":"10.0.0.1"}}],
              "binaryAnnotations":[{"key":"sa","value":true,"endpoint":{"serviceName":"back","port":8080}}]}]"#,
        )
        .unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].kind, Some(Kind::Client));
        assert_eq!(spans[0].timestamp, Some(1));
        assert_eq!(spans[0].duration, Some(4));
        assert_eq!(spans[0].remote_service_name(), Some("back"));
        assert_eq!(spans[0].remote_endpoint.as_ref().unwrap().port, Some(8080));
    }

    #[test]
    fn wrong_types_name_gson_tokens() {
        assert_eq!(
            decode(r#"[{"traceId":"1","id":"1","debug":"yes"}]"#).unwrap_err(),
            "Expected a boolean but was STRING at path $[0].debug reading List<Span> from json"
        );
        assert_eq!(
            decode(r#"[{"traceId":"1","id":"1","annotations":"x"}]"#).unwrap_err(),
            "Expected BEGIN_ARRAY but was STRING at path $[0].annotations reading List<Span> from json"
        );
        assert_eq!(
            decode(r#"[{"traceId":"1","id":"1","timestamp":1.5}]"#).unwrap_err(),
            "Expected a long but was 1.5 at path $[0].timestamp reading List<Span> from json"
        );
    }

    #[test]
    fn ports_past_u16_are_rejected() {
        assert_eq!(
            decode(r#"[{"traceId":"1","id":"1","binaryAnnotations":[{"key":"k","value":"v","endpoint":{"port":70000}}]}]"#)
                .unwrap_err(),
            "invalid port 70000 reading List<Span> from json"
        );
    }
}
