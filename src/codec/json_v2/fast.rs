//! The fast path: a byte scanner for plain JSON v2, written for this one shape of input.
//!
//! A generic parser spends most of its time on what Zipkin JSON does not need: per-byte
//! string scanning, a visitor call per token, UTF-8 checks of hex ids. This one scans
//! strings eight bytes at a time, matches field names by length and bytes, parses ids
//! from the text into integers and keeps strings borrowed until they become
//! `CompactString`s (inline when short). It accepts a strict subset of JSON and returns
//! `None` on anything else (numbers as strings, lone surrogates, control characters,
//! `NULL`, deep nesting, …), so that the reference path (`gson`) can decode what Zipkin
//! tolerates and word its errors. What this path accepts, the reference path must decode
//! to the same spans: the tests in the parent module and the `json_v2` fuzz target check
//! it.

use std::borrow::Cow;

use compact_str::CompactString;

use super::{non_negative, port_from};
use crate::codec::set_endpoint_ip_bytes;
use crate::model::{Annotation, Endpoint, Kind, Span, SpanId, TraceId};

/// Deeper values inside unknown fields are left to the reference path (Gson's limit is
/// 255); real spans nest at most three levels.
const MAX_SKIP_DEPTH: usize = 32;
/// Longer numbers inside unknown fields are left to the reference path, which has a
/// length limit of its own.
const MAX_SKIPPED_NUMBER: usize = 64;

pub(super) fn decode_list(body: &[u8]) -> Option<Vec<Span>> {
    let mut s = Scanner::new(body)?;
    // Typical spans take 300-600 bytes of JSON; sizing from the body (already in memory,
    // so bounded by the caller) saves re-copying the list as it grows.
    let mut spans = Vec::with_capacity(body.len() / 512);
    if s.open_array()? {
        loop {
            spans.push(s.span()?);
            if !s.more_elements()? {
                break;
            }
        }
    }
    // Like Zipkin, nothing after the closing bracket is looked at.
    Some(spans)
}

pub(super) fn decode_one(body: &[u8]) -> Option<Span> {
    Scanner::new(body)?.span()
}

/// `name == literal`, compared as a fixed-size array so that it compiles to a couple of
/// integer comparisons rather than a `memcmp` call.
#[inline(always)]
fn is<const N: usize>(name: &[u8], literal: &[u8; N]) -> bool {
    <&[u8; N]>::try_from(name).is_ok_and(|name| name == literal)
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

impl SpanField {
    fn of(name: &[u8]) -> Self {
        match name.len() {
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
        }
    }
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

/// Up to 16 lower-hex digits, without a branch per digit: invalid bytes are collected in
/// `bad` and checked once.
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

/// Lower-hex digits of at most `max_len` (≤ 32) characters as the model's id parsers accept
/// them, as (high, low) halves; anything they would reject is `None`.
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

/// `Some(None)` for the all-zero id, which the model reads as absent.
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

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of each byte of `word` that is `"`, `\` or a control character (the lowest set
/// bit is exact; higher ones may be false positives, which only cost a byte-wise look).
#[inline(always)]
fn special_bytes(word: u64) -> u64 {
    let below = |v: u64, n: u64| v.wrapping_sub(ONES * n) & !v;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    (below(quote, 1) | below(backslash, 1) | below(word, 0x20)) & HIGHS
}

/// Which of a span's required ids were read.
#[derive(Default)]
struct IdsSeen {
    trace_id: bool,
    id: bool,
}

struct Scanner<'a> {
    /// The body, checked as UTF-8 once: strings are sliced from it, so each needs no
    /// check of its own.
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// `None` for a body that is not UTF-8 throughout (one check for the whole body is
    /// cheaper than one per string; the rare body with bad bytes takes the reference path).
    fn new(body: &'a [u8]) -> Option<Self> {
        Some(Self {
            text: std::str::from_utf8(body).ok()?,
            pos: 0,
        })
    }

    /// The body's bytes, for scanning and for ASCII fields.
    #[inline(always)]
    fn buf(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte that is not JSON whitespace, consumed.
    #[inline]
    fn token(&mut self) -> Option<u8> {
        loop {
            let b = *self.buf().get(self.pos)?;
            self.pos += 1;
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
        }
    }

    /// The next byte that is not whitespace, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        let b = self.token()?;
        self.pos -= 1;
        Some(b)
    }

    #[inline]
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.token()? == byte).then_some(())
    }

    /// Consumes `byte` if it comes next.
    #[inline]
    fn eat(&mut self, byte: u8) -> Option<bool> {
        if self.peek()? == byte {
            self.pos += 1;
            Some(true)
        } else {
            Some(false)
        }
    }

    /// Consumes `null` if it comes next.
    #[inline]
    fn null(&mut self) -> Option<bool> {
        if self.peek()? != b'n' {
            return Some(false);
        }
        self.literal(b"null")?;
        Some(true)
    }

    fn literal<const N: usize>(&mut self, word: &[u8; N]) -> Option<()> {
        let end = self.pos + N;
        if self.buf().get(self.pos..end)? == word {
            self.pos = end;
            Some(())
        } else {
            None
        }
    }

    /// Scans a string after its opening quote up to the closing one, which it consumes.
    /// Returns the byte range of its content and whether it holds escapes.
    #[inline]
    fn string_span(&mut self) -> Option<(usize, usize, bool)> {
        let start = self.pos;
        let mut escaped = false;
        loop {
            if let Some(chunk) = self.buf().get(self.pos..self.pos + 8) {
                let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
                let special = special_bytes(word);
                if special == 0 {
                    self.pos += 8;
                    continue;
                }
                self.pos += (special.trailing_zeros() / 8) as usize;
            }
            let b = *self.buf().get(self.pos)?;
            match b {
                b'"' => {
                    let end = self.pos;
                    self.pos += 1;
                    return Some((start, end, escaped));
                }
                b'\\' => {
                    escaped = true;
                    // The escaped byte is skipped so that `\"` does not end the string;
                    // the escape itself is checked when the string is unescaped.
                    self.pos += 2;
                }
                // Raw control characters are Gson-tolerated, not JSON.
                0..=0x1f => return None,
                _ => self.pos += 1,
            }
        }
    }

    /// A string whose value is matched or parsed as ASCII (keys, ids, kinds, addresses):
    /// escapes are left to the reference path.
    #[inline]
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        match self.string_span()? {
            (start, end, false) => Some(&self.buf()[start..end]),
            (_, _, true) => None,
        }
    }

    /// A string value, unescaped.
    #[inline]
    fn text(&mut self) -> Option<Cow<'a, str>> {
        self.expect(b'"')?;
        let (start, end, escaped) = self.string_span()?;
        // Quotes are ASCII, so these are character boundaries.
        let raw = self.text.get(start..end)?;
        if escaped {
            unescape(raw).map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(raw))
        }
    }

    /// Skips a string after its opening quote, checking its escapes.
    fn skip_string(&mut self) -> Option<()> {
        let (start, end, escaped) = self.string_span()?;
        if escaped {
            unescape(self.text.get(start..end)?)?;
        }
        Some(())
    }

    fn compact(&mut self) -> Option<CompactString> {
        Some(CompactString::from(self.text()?.as_ref()))
    }

    /// An object key and its colon.
    #[inline]
    fn key(&mut self) -> Option<&'a [u8]> {
        let key = self.plain_string()?;
        self.expect(b':')?;
        Some(key)
    }

    /// After a member: whether another follows (`,`) or the object ended (`}`).
    #[inline]
    fn more_members(&mut self) -> Option<bool> {
        match self.token()? {
            b',' => Some(true),
            b'}' => Some(false),
            _ => None,
        }
    }

    /// After an element: whether another follows (`,`) or the array ended (`]`).
    #[inline]
    fn more_elements(&mut self) -> Option<bool> {
        match self.token()? {
            b',' => Some(true),
            b']' => Some(false),
            _ => None,
        }
    }

    /// Opens an array; `false` if it is empty (and already closed).
    #[inline]
    fn open_array(&mut self) -> Option<bool> {
        self.expect(b'[')?;
        Some(!self.eat(b']')?)
    }

    /// Opens an object; `false` if it is empty (and already closed).
    #[inline]
    fn open_object(&mut self) -> Option<bool> {
        self.expect(b'{')?;
        Some(!self.eat(b'}')?)
    }

    /// A JSON integer that fits Java's `long`. Fractions, exponents and leading zeros are
    /// left to the reference path (Gson reads them through a double).
    fn long(&mut self) -> Option<i64> {
        self.peek()?;
        let negative = self.buf()[self.pos] == b'-';
        if negative {
            self.pos += 1;
        }
        let start = self.pos;
        let mut magnitude: u64 = 0;
        while let Some(&b) = self.buf().get(self.pos) {
            if !b.is_ascii_digit() {
                break;
            }
            magnitude = magnitude
                .checked_mul(10)?
                .checked_add(u64::from(b - b'0'))?;
            self.pos += 1;
        }
        let digits = self.pos - start;
        if digits == 0 || (digits > 1 && self.buf()[start] == b'0') {
            return None;
        }
        if matches!(self.buf().get(self.pos), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        if negative {
            // -0 is read through a double by Gson; it still comes out as 0.
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        }
    }

    /// `null` as `None`, else a long.
    fn nullable_long(&mut self) -> Option<Option<i64>> {
        if self.null()? {
            return Some(None);
        }
        self.long().map(Some)
    }

    /// `null` as `false`.
    fn nullable_bool(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| true),
            b'f' => self.literal(b"false").map(|()| false),
            b'n' => self.literal(b"null").map(|()| false),
            _ => None,
        }
    }

    fn span(&mut self) -> Option<Span> {
        // Filled in place, the ids once they come: a separate draft would cost one more
        // copy of the whole span.
        let mut span = Span::new(TraceId::from_parts(0, 1)?, SpanId::new(1)?);
        let mut ids = IdsSeen::default();
        if self.open_object()? {
            loop {
                let field = SpanField::of(self.key()?);
                self.span_field(field, &mut span, &mut ids)?;
                if !self.more_members()? {
                    break;
                }
            }
        }
        // A missing id is Zipkin's "Missing : ..." error, which the reference path words.
        if !(ids.trace_id && ids.id) {
            return None;
        }
        span.normalize();
        Some(span)
    }

    fn span_field(&mut self, field: SpanField, span: &mut Span, ids: &mut IdsSeen) -> Option<()> {
        match field {
            // Unlike the other fields, null ids are errors.
            SpanField::TraceId => {
                span.trace_id = trace_id(self.plain_string()?)?;
                ids.trace_id = true;
            }
            SpanField::Id => {
                span.id = span_id(self.plain_string()?)??;
                ids.id = true;
            }
            SpanField::ParentId => {
                if !self.null()? {
                    span.parent_id = span_id(self.plain_string()?)?;
                }
            }
            SpanField::Kind => {
                if !self.null()? {
                    span.kind = Some(kind(self.plain_string()?)?);
                }
            }
            SpanField::Name => {
                if !self.null()? {
                    span.name = Some(self.compact()?);
                }
            }
            SpanField::Timestamp => {
                if let Some(v) = self.nullable_long()? {
                    span.timestamp = Some(non_negative(v));
                }
            }
            SpanField::Duration => {
                if let Some(v) = self.nullable_long()? {
                    span.duration = Some(non_negative(v));
                }
            }
            SpanField::LocalEndpoint => {
                if !self.null()? {
                    span.local_endpoint = Some(self.endpoint()?);
                }
            }
            SpanField::RemoteEndpoint => {
                if !self.null()? {
                    span.remote_endpoint = Some(self.endpoint()?);
                }
            }
            SpanField::Annotations => {
                if !self.null()? {
                    self.annotations(&mut span.annotations)?;
                }
            }
            SpanField::Tags => {
                if !self.null()? {
                    self.tags(&mut span.tags)?;
                }
            }
            SpanField::Debug => span.debug |= self.nullable_bool()?,
            SpanField::Shared => span.shared |= self.nullable_bool()?,
            SpanField::Other => self.skip_value(0)?,
        }
        Some(())
    }

    fn endpoint(&mut self) -> Option<Endpoint> {
        // An endpoint without usable fields comes out empty, and normalisation drops it,
        // which is where Zipkin's reader ends up too (it returns null).
        let mut e = Endpoint::default();
        if !self.open_object()? {
            return Some(e);
        }
        loop {
            let key = self.key()?;
            match key.len() {
                11 if is(key, b"serviceName") => {
                    // Lower-cased (and "" dropped) once, by `Span::normalize`.
                    if !self.null()? {
                        e.service_name = Some(self.compact()?);
                    }
                }
                // Zipkin parses either field as whichever family the text is.
                4 if is(key, b"ipv4") || is(key, b"ipv6") => {
                    if !self.null()? {
                        set_endpoint_ip_bytes(&mut e, self.plain_string()?);
                    }
                }
                4 if is(key, b"port") => {
                    if let Some(port) = self.nullable_long()? {
                        // Larger values are Zipkin's "invalid port" error; let the reference
                        // path say so.
                        if !(i64::from(i32::MIN)..=0xffff).contains(&port) {
                            return None;
                        }
                        e.port = port_from(port);
                    }
                }
                _ => self.skip_value(0)?,
            }
            if !self.more_members()? {
                return Some(e);
            }
        }
    }

    fn annotations(&mut self, out: &mut Vec<Annotation>) -> Option<()> {
        if self.open_array()? {
            loop {
                out.push(self.annotation()?);
                if !self.more_elements()? {
                    break;
                }
            }
        }
        Some(())
    }

    fn annotation(&mut self) -> Option<Annotation> {
        let mut timestamp = None;
        let mut value = None;
        if self.open_object()? {
            loop {
                let key = self.key()?;
                match key.len() {
                    // Not nullable: Zipkin reads these without a null check.
                    9 if is(key, b"timestamp") => timestamp = Some(self.long()?),
                    5 if is(key, b"value") => value = Some(self.compact()?),
                    _ => self.skip_value(0)?,
                }
                if !self.more_members()? {
                    break;
                }
            }
        }
        // Negative timestamps cannot be held; the reference path reports them.
        let timestamp = u64::try_from(timestamp?).ok()?;
        Some(Annotation {
            timestamp,
            value: value?,
        })
    }

    fn tags(&mut self, out: &mut Vec<(CompactString, CompactString)>) -> Option<()> {
        if !self.open_object()? {
            return Some(());
        }
        // Keys may repeat; `Span::normalize` keeps the last value, as Zipkin's TreeMap.
        loop {
            let key = self.compact()?;
            self.expect(b':')?;
            out.push((key, self.compact()?));
            if !self.more_members()? {
                return Some(());
            }
        }
    }

    /// Skips any JSON value (unknown fields), checking its syntax as strictly as the rest.
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_SKIP_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => {
                self.pos += 1;
                self.skip_string()?;
            }
            b'{' => {
                if self.open_object()? {
                    loop {
                        self.expect(b'"')?;
                        self.skip_string()?;
                        self.expect(b':')?;
                        self.skip_value(depth + 1)?;
                        if !self.more_members()? {
                            break;
                        }
                    }
                }
            }
            b'[' => {
                if self.open_array()? {
                    loop {
                        self.skip_value(depth + 1)?;
                        if !self.more_elements()? {
                            break;
                        }
                    }
                }
            }
            b't' => self.literal(b"true")?,
            b'f' => self.literal(b"false")?,
            b'n' => self.literal(b"null")?,
            b'-' | b'0'..=b'9' => self.skip_number()?,
            _ => return None,
        }
        Some(())
    }

    /// A number in JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn skip_number(&mut self) -> Option<()> {
        let start = self.pos;
        let digits = |s: &mut Self| {
            let from = s.pos;
            while s.buf().get(s.pos).is_some_and(u8::is_ascii_digit) {
                s.pos += 1;
            }
            s.pos - from
        };
        if self.buf().get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        let int_digits = digits(self);
        if int_digits == 0 || (int_digits > 1 && self.buf()[int_start] == b'0') {
            return None;
        }
        if self.buf().get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return None;
            }
        }
        if matches!(self.buf().get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.buf().get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return None;
            }
        }
        (self.pos - start <= MAX_SKIPPED_NUMBER).then_some(())
    }
}

/// Unescapes the raw content of a string with JSON's escapes. Lone surrogates, which Gson
/// turns into `?`, are left to the reference path.
fn unescape(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = *rest.as_bytes().get(at + 1)?;
        // An escape is two ASCII bytes, so this is a character boundary, or `None`.
        rest = rest.get(at + 2..)?;
        let ch = match escape {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = hex4(rest)?;
                rest = &rest[4..];
                match unit {
                    0xD800..=0xDBFF => {
                        let low = rest.strip_prefix("\\u").and_then(hex4)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        rest = &rest[6..];
                        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        char::from_u32(code)?
                    }
                    _ => char::from_u32(unit)?,
                }
            }
            _ => return None,
        };
        out.push(ch);
    }
    out.push_str(rest);
    Some(out)
}

/// Four hex digits (either case) at the start of `s`.
fn hex4(s: &str) -> Option<u32> {
    let digits = s.as_bytes().get(..4)?;
    let mut unit = 0;
    for &d in digits {
        unit = (unit << 4) | (d as char).to_digit(16)?;
    }
    Some(unit)
}
