//! The reference JSON v2 reader: what Zipkin accepts, and what it says when it does not.
//!
//! Zipkin reads JSON with Gson's streaming `JsonReader` (shaded into zipkin2, legacy-strict
//! mode) driven by `V2SpanReader`, and answers failures with the exception message run
//! through `JsonCodec.exceptionReading`. Clients and tests see that text, so this module
//! re-implements the reader's observable behaviour, written from its documented semantics:
//!
//! - what it tolerates: numbers where strings are expected and strings where numbers are
//!   (`"timestamp":"1"`), keywords in any case (`NULL`), raw control characters and `\'` in
//!   strings, a byte-order mark, anything after the value that was read;
//! - its messages: `Expected a string but was BOOLEAN at line 1 column 20 path
//!   $[0].traceId` plus Gson's troubleshooting link, `End of input at ...`, Java's number
//!   parsing messages, with line and column counted in UTF-16 units as Java does;
//! - `exceptionReading`: any syntax error, and any message mentioning `malformed` or
//!   `Expected BEGIN_OBJECT`, becomes `Malformed`; the result is suffixed with
//!   `reading List<Span> from json` (or `Span`).
//!
//! It is only used after the fast path gave up, so it favours plainness over speed, but it is
//! still linear in the input, never recursive, and allocates only for what it reads.

use std::fmt::Write as _;

use compact_str::CompactString;

use super::{non_negative, port_from, Draft};
use crate::codec::{set_endpoint_ip, DecodeError};
use crate::model::{Annotation, Endpoint, Kind, Span, SpanId, TraceId};

/// Decodes a list as `JsonCodec.readList(V2SpanReader)` does; the caller handles an empty body.
pub(super) fn decode_list(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let text = String::from_utf8_lossy(body);
    let mut reader = Reader::new(&text);
    read_list(&mut reader).map_err(|failure| failure.into_error("List<Span>"))
}

/// Decodes one span as `JsonCodec.readOne(V2SpanReader)` does.
pub(super) fn decode_one(body: &[u8]) -> Result<Span, DecodeError> {
    let text = String::from_utf8_lossy(body);
    let mut reader = Reader::new(&text);
    read_span(&mut reader).map_err(|failure| failure.into_error("Span"))
}

fn read_list(r: &mut Reader<'_>) -> Result<Vec<Span>, Failure> {
    r.begin_array()?;
    let mut spans = Vec::new();
    // Zipkin returns as soon as the list is empty, without reading its end.
    while r.has_next()? {
        spans.push(read_span(r)?);
    }
    if !spans.is_empty() {
        r.end_array()?;
    }
    Ok(spans)
}

/// `V2SpanReader.fromJson`, field for field.
fn read_span(r: &mut Reader<'_>) -> Result<Span, Failure> {
    r.begin_object()?;
    let mut d = Draft::default();
    while r.has_next()? {
        let name = r.next_name()?;
        // The ids are read before the null check, so a null id fails in `next_string`.
        match name.as_str() {
            "traceId" => d.trace_id = Some(TraceId::parse(&r.next_string()?).map_err(msg)?),
            "id" => d.id = Some(SpanId::parse(&r.next_string()?).map_err(msg)?),
            _ if r.peek_null()? => r.skip_value()?,
            "parentId" => d.parent_id = SpanId::parse_parent(&r.next_string()?).map_err(msg)?,
            "kind" => {
                let kind = r.next_string()?;
                d.kind = Some(Kind::parse(&kind).ok_or_else(|| {
                    Failure::Message(format!("No enum constant zipkin2.Span.Kind.{kind}"))
                })?);
            }
            "name" => d.name = Some(CompactString::from(r.next_string()?)),
            "timestamp" => d.timestamp = Some(non_negative(r.next_long()?)),
            "duration" => d.duration = Some(non_negative(r.next_long()?)),
            "localEndpoint" => d.local_endpoint = read_endpoint(r)?,
            "remoteEndpoint" => d.remote_endpoint = read_endpoint(r)?,
            "annotations" => {
                r.begin_array()?;
                while r.has_next()? {
                    d.annotations.push(read_annotation(r)?);
                }
                r.end_array()?;
            }
            "tags" => {
                r.begin_object()?;
                while r.has_next()? {
                    let key = r.next_name()?;
                    if r.peek_null()? {
                        return Err(Failure::Message(format!("No value at {}", r.path())));
                    }
                    let value = r.next_string()?;
                    d.tags.push((key.into(), value.into()));
                }
                r.end_object()?;
            }
            "debug" => d.debug |= r.next_boolean()?,
            "shared" => d.shared |= r.next_boolean()?,
            _ => r.skip_value()?,
        }
    }
    r.end_object()?;
    d.finish()
        .map_err(|missing| Failure::Message(missing.to_owned()))
}

fn read_annotation(r: &mut Reader<'_>) -> Result<Annotation, Failure> {
    r.begin_object()?;
    let mut timestamp = None;
    let mut value = None;
    while r.has_next()? {
        match r.next_name()?.as_str() {
            "timestamp" => timestamp = Some(r.next_long()?),
            "value" => value = Some(r.next_string()?),
            _ => r.skip_value()?,
        }
    }
    // Zipkin keeps negative annotation timestamps; the model cannot hold them, so they count
    // as missing, like negative span timestamps do.
    let (Some(timestamp), Some(value)) = (timestamp.filter(|t| *t >= 0), value) else {
        return Err(Failure::Message(format!(
            "Incomplete annotation at {}",
            r.path()
        )));
    };
    r.end_object()?;
    Ok(Annotation::new(timestamp as u64, value))
}

/// `V2SpanReader.ENDPOINT_READER`: `None` when no field had a non-null value.
fn read_endpoint(r: &mut Reader<'_>) -> Result<Option<Endpoint>, Failure> {
    r.begin_object()?;
    let mut endpoint = Endpoint::default();
    let mut read_field = false;
    while r.has_next()? {
        let name = r.next_name()?;
        if r.peek_null()? {
            r.skip_value()?;
            continue;
        }
        match name.as_str() {
            "serviceName" => endpoint.set_service_name(&r.next_string()?),
            "ipv4" | "ipv6" => {
                set_endpoint_ip(&mut endpoint, &r.next_string()?);
            }
            "port" => {
                let port = r.next_int()?;
                if port > 0xffff {
                    return Err(Failure::Message(format!("invalid port {port}")));
                }
                endpoint.port = port_from(i64::from(port));
            }
            _ => {
                r.skip_value()?;
                continue;
            }
        }
        read_field = true;
    }
    r.end_object()?;
    Ok(read_field.then_some(endpoint))
}

fn msg(err: impl std::fmt::Display) -> Failure {
    Failure::Message(err.to_string())
}

/// Why reading stopped.
#[derive(Debug)]
enum Failure {
    /// Gson's `MalformedJsonException`; Zipkin reports every one of them as `Malformed`.
    Syntax,
    /// Any other exception, by its message.
    Message(String),
}

impl Failure {
    /// `JsonCodec.exceptionReading`.
    fn into_error(self, what: &str) -> DecodeError {
        let cause = match &self {
            Failure::Syntax => "Malformed",
            Failure::Message(m)
                if m.contains("Expected BEGIN_OBJECT") || m.contains("malformed") =>
            {
                "Malformed"
            }
            Failure::Message(m) => m.as_str(),
        };
        DecodeError::reading(cause, what, "json")
    }
}

type Result<T, E = Failure> = std::result::Result<T, E>;

/// Gson's nesting scopes; the top one drives what the next token may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    EmptyDocument,
    NonEmptyDocument,
    EmptyArray,
    NonEmptyArray,
    EmptyObject,
    DanglingName,
    NonEmptyObject,
}

/// The token looked at but not yet consumed (Gson's `peeked`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peeked {
    None,
    BeginObject,
    EndObject,
    BeginArray,
    EndArray,
    True,
    False,
    Null,
    /// After the opening quote of a value.
    String,
    /// After the opening quote of a name.
    Name,
    /// An integer literal that fits a long, already consumed.
    Long(i64),
    /// Any other number literal of this many bytes, not yet consumed.
    Number(usize),
    Eof,
}

impl Peeked {
    /// `JsonToken` names, as they appear in messages.
    fn token_name(self) -> &'static str {
        match self {
            Peeked::BeginObject => "BEGIN_OBJECT",
            Peeked::EndObject => "END_OBJECT",
            Peeked::BeginArray => "BEGIN_ARRAY",
            Peeked::EndArray => "END_ARRAY",
            Peeked::True | Peeked::False => "BOOLEAN",
            Peeked::Null => "NULL",
            Peeked::String => "STRING",
            Peeked::Name => "NAME",
            Peeked::Long(_) | Peeked::Number(_) => "NUMBER",
            Peeked::Eof | Peeked::None => "END_DOCUMENT",
        }
    }
}

/// Gson's default nesting limit.
const NESTING_LIMIT: usize = 255;
/// Number literals this long are not numbers to Gson (its buffer is 1024 chars).
const MAX_NUMBER_CHARS: usize = 1024;
const TROUBLESHOOTING: &str = "https://github.com/google/gson/blob/main/Troubleshooting.md#";

/// One UTF-16 code unit or a whole character, from an escape sequence.
enum Escaped {
    Unit(u16),
    Char(char),
}

struct Reader<'a> {
    text: &'a str,
    src: &'a [u8],
    pos: usize,
    line_number: usize,
    line_start: usize,
    peeked: Peeked,
    stack: Vec<Scope>,
    /// Indexed by depth and, as in Gson, not cleared when a scope is pushed: a stale name can
    /// show in a path until the new object's first name is read.
    path_names: Vec<Option<String>>,
    path_indices: Vec<usize>,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        // Gson skips a leading byte-order mark, and counts columns after it.
        let start = if text.starts_with('\u{feff}') { 3 } else { 0 };
        Reader {
            text,
            src: text.as_bytes(),
            pos: start,
            line_number: 0,
            line_start: start,
            peeked: Peeked::None,
            stack: vec![Scope::EmptyDocument],
            path_names: vec![None],
            path_indices: vec![0],
        }
    }

    // --- the public surface Zipkin's reader uses ------------------------------------------

    fn begin_array(&mut self) -> Result<()> {
        if self.peek()? != Peeked::BeginArray {
            return Err(self.unexpected("BEGIN_ARRAY"));
        }
        self.push(Scope::EmptyArray)?;
        *self.top_index() = 0;
        self.peeked = Peeked::None;
        Ok(())
    }

    fn end_array(&mut self) -> Result<()> {
        if self.peek()? != Peeked::EndArray {
            return Err(self.unexpected("END_ARRAY"));
        }
        self.stack.pop();
        *self.top_index() += 1;
        self.peeked = Peeked::None;
        Ok(())
    }

    fn begin_object(&mut self) -> Result<()> {
        if self.peek()? != Peeked::BeginObject {
            return Err(self.unexpected("BEGIN_OBJECT"));
        }
        self.push(Scope::EmptyObject)?;
        self.peeked = Peeked::None;
        Ok(())
    }

    fn end_object(&mut self) -> Result<()> {
        if self.peek()? != Peeked::EndObject {
            return Err(self.unexpected("END_OBJECT"));
        }
        self.stack.pop();
        self.path_names[self.stack.len()] = None;
        *self.top_index() += 1;
        self.peeked = Peeked::None;
        Ok(())
    }

    fn has_next(&mut self) -> Result<bool> {
        let p = self.peek()?;
        Ok(!matches!(
            p,
            Peeked::EndObject | Peeked::EndArray | Peeked::Eof
        ))
    }

    fn peek_null(&mut self) -> Result<bool> {
        Ok(self.peek()? == Peeked::Null)
    }

    fn next_name(&mut self) -> Result<String> {
        if self.peek()? != Peeked::Name {
            return Err(self.unexpected("a name"));
        }
        let name = self.read_quoted()?;
        self.peeked = Peeked::None;
        let depth = self.stack.len() - 1;
        self.path_names[depth] = Some(name.clone());
        Ok(name)
    }

    /// Strings, and numbers in their literal form (Gson's `nextString`).
    fn next_string(&mut self) -> Result<String> {
        let value = match self.peek()? {
            Peeked::String => self.read_quoted()?,
            Peeked::Long(v) => v.to_string(),
            Peeked::Number(len) => {
                let literal = self.text[self.pos..self.pos + len].to_owned();
                self.pos += len;
                literal
            }
            _ => return Err(self.unexpected("a string")),
        };
        self.consumed();
        Ok(value)
    }

    fn next_boolean(&mut self) -> Result<bool> {
        let value = match self.peek()? {
            Peeked::True => true,
            Peeked::False => false,
            _ => return Err(self.unexpected("a boolean")),
        };
        self.consumed();
        Ok(value)
    }

    /// Integers, strings holding a long, and anything a double reads exactly as a long.
    fn next_long(&mut self) -> Result<i64> {
        let literal = match self.peek()? {
            Peeked::Long(v) => {
                self.consumed();
                return Ok(v);
            }
            Peeked::Number(len) => {
                let literal = &self.text[self.pos..self.pos + len];
                self.pos += len;
                literal.to_owned()
            }
            Peeked::String => {
                let s = self.read_quoted()?;
                if let Ok(v) = s.parse::<i64>() {
                    self.consumed();
                    return Ok(v);
                }
                s
            }
            _ => return Err(self.unexpected("a long")),
        };
        let double = java_parse_double(&literal).map_err(Failure::Message)?;
        // Java's (long) cast saturates and maps NaN to 0, as `as` does.
        let value = double as i64;
        if value as f64 != double {
            return Err(Failure::Message(format!(
                "Expected a long but was {literal}{}",
                self.location()
            )));
        }
        self.consumed();
        Ok(value)
    }

    fn next_int(&mut self) -> Result<i32> {
        let literal = match self.peek()? {
            Peeked::Long(v) => {
                return match i32::try_from(v) {
                    Ok(value) => {
                        self.consumed();
                        Ok(value)
                    }
                    Err(_) => Err(Failure::Message(format!(
                        "Expected an int but was {v}{}",
                        self.location()
                    ))),
                };
            }
            Peeked::Number(len) => {
                let literal = &self.text[self.pos..self.pos + len];
                self.pos += len;
                literal.to_owned()
            }
            Peeked::String => {
                let s = self.read_quoted()?;
                if let Ok(v) = s.parse::<i32>() {
                    self.consumed();
                    return Ok(v);
                }
                s
            }
            _ => return Err(self.unexpected("an int")),
        };
        let double = java_parse_double(&literal).map_err(Failure::Message)?;
        let value = double as i32;
        if f64::from(value) != double {
            return Err(Failure::Message(format!(
                "Expected an int but was {literal}{}",
                self.location()
            )));
        }
        self.consumed();
        Ok(value)
    }

    /// Skips one value, however deep, without recursion (Gson's `skipValue`).
    fn skip_value(&mut self) -> Result<()> {
        let mut count = 0usize;
        loop {
            match self.peek()? {
                Peeked::BeginArray => {
                    self.push(Scope::EmptyArray)?;
                    count += 1;
                }
                Peeked::BeginObject => {
                    self.push(Scope::EmptyObject)?;
                    count += 1;
                }
                Peeked::EndArray | Peeked::EndObject => {
                    // Zipkin only skips values, so this closes a scope opened while skipping.
                    self.stack.pop();
                    count = count.saturating_sub(1);
                }
                Peeked::String | Peeked::Name => self.skip_quoted()?,
                Peeked::Number(len) => self.pos += len,
                Peeked::Eof => return Ok(()),
                Peeked::True | Peeked::False | Peeked::Null | Peeked::Long(_) | Peeked::None => {}
            }
            self.peeked = Peeked::None;
            if count == 0 {
                break;
            }
        }
        *self.top_index() += 1;
        Ok(())
    }

    /// Gson's `getPath`: `$`, then `[index]` per array and `.name` per object.
    fn path(&self) -> String {
        let mut path = String::from("$");
        for (depth, scope) in self.stack.iter().enumerate() {
            match scope {
                Scope::EmptyArray | Scope::NonEmptyArray => {
                    let _ = write!(path, "[{}]", self.path_indices[depth]);
                }
                Scope::EmptyObject | Scope::DanglingName | Scope::NonEmptyObject => {
                    path.push('.');
                    if let Some(name) = &self.path_names[depth] {
                        path.push_str(name);
                    }
                }
                Scope::EmptyDocument | Scope::NonEmptyDocument => {}
            }
        }
        path
    }

    // --- internals ------------------------------------------------------------------------

    fn peek(&mut self) -> Result<Peeked> {
        if self.peeked == Peeked::None {
            self.peeked = self.do_peek()?;
        }
        Ok(self.peeked)
    }

    /// A value was consumed: clear the peek and advance the enclosing array's index.
    fn consumed(&mut self) {
        self.peeked = Peeked::None;
        *self.top_index() += 1;
    }

    fn top_index(&mut self) -> &mut usize {
        let depth = self.stack.len() - 1;
        &mut self.path_indices[depth]
    }

    fn set_top(&mut self, scope: Scope) {
        let depth = self.stack.len() - 1;
        self.stack[depth] = scope;
    }

    fn push(&mut self, scope: Scope) -> Result<()> {
        // The document scope does not count.
        if self.stack.len() > NESTING_LIMIT {
            return Err(Failure::Message(format!(
                "Nesting limit {NESTING_LIMIT} reached{}",
                self.location()
            )));
        }
        self.stack.push(scope);
        if self.path_names.len() < self.stack.len() {
            self.path_names.push(None);
            self.path_indices.push(0);
        }
        Ok(())
    }

    /// ` at line L column C path P`, with the column in UTF-16 units like Java's.
    fn location(&self) -> String {
        let column = utf16_len(&self.src[self.line_start..self.pos]) + 1;
        format!(
            " at line {} column {} path {}",
            self.line_number + 1,
            column,
            self.path()
        )
    }

    /// Gson's `unexpectedTokenError`, troubleshooting link included.
    fn unexpected(&self, expected: &str) -> Failure {
        let anchor = if self.peeked == Peeked::Null {
            "adapter-not-null-safe"
        } else {
            "unexpected-json-structure"
        };
        Failure::Message(format!(
            "Expected {expected} but was {}{}\nSee {TROUBLESHOOTING}{anchor}",
            self.peeked.token_name(),
            self.location()
        ))
    }

    fn end_of_input(&self) -> Failure {
        Failure::Message(format!("End of input{}", self.location()))
    }

    /// Next byte that is not whitespace, consumed. Comments are lenient-mode only, so `/`
    /// and `#` are syntax errors here.
    fn next_non_whitespace(&mut self) -> Result<Option<u8>> {
        while let Some(&c) = self.src.get(self.pos) {
            self.pos += 1;
            match c {
                b'\n' => {
                    self.line_number += 1;
                    self.line_start = self.pos;
                }
                b' ' | b'\r' | b'\t' => {}
                b'/' | b'#' => return Err(Failure::Syntax),
                _ => return Ok(Some(c)),
            }
        }
        Ok(None)
    }

    fn next_token_byte(&mut self) -> Result<u8> {
        match self.next_non_whitespace()? {
            Some(c) => Ok(c),
            None => Err(self.end_of_input()),
        }
    }

    fn do_peek(&mut self) -> Result<Peeked> {
        let top = *self
            .stack
            .last()
            .expect("the document scope is never popped");
        match top {
            Scope::EmptyArray => self.set_top(Scope::NonEmptyArray),
            Scope::NonEmptyArray => match self.next_token_byte()? {
                b']' => return Ok(Peeked::EndArray),
                b',' => {}
                _ => return Err(Failure::Syntax),
            },
            Scope::EmptyObject | Scope::NonEmptyObject => {
                self.set_top(Scope::DanglingName);
                if top == Scope::NonEmptyObject {
                    match self.next_token_byte()? {
                        b'}' => return Ok(Peeked::EndObject),
                        b',' => {}
                        _ => return Err(Failure::Syntax),
                    }
                }
                return match self.next_token_byte()? {
                    b'"' => Ok(Peeked::Name),
                    b'}' if top == Scope::EmptyObject => Ok(Peeked::EndObject),
                    // Unquoted and single-quoted names are lenient-mode only.
                    _ => Err(Failure::Syntax),
                };
            }
            Scope::DanglingName => {
                self.set_top(Scope::NonEmptyObject);
                if self.next_token_byte()? != b':' {
                    return Err(Failure::Syntax);
                }
            }
            Scope::EmptyDocument => self.set_top(Scope::NonEmptyDocument),
            Scope::NonEmptyDocument => {
                return match self.next_non_whitespace()? {
                    None => Ok(Peeked::Eof),
                    // A second top-level value is lenient-mode only.
                    Some(_) => Err(Failure::Syntax),
                };
            }
        }
        match self.next_token_byte()? {
            b']' if top == Scope::EmptyArray => Ok(Peeked::EndArray),
            b'"' => Ok(Peeked::String),
            b'[' => Ok(Peeked::BeginArray),
            b'{' => Ok(Peeked::BeginObject),
            // Missing values and single quotes are lenient-mode only.
            b']' | b';' | b',' | b'\'' => Err(Failure::Syntax),
            _ => {
                self.pos -= 1;
                if let Some(keyword) = self.peek_keyword()? {
                    return Ok(keyword);
                }
                if let Some(number) = self.peek_number()? {
                    return Ok(number);
                }
                // Either not a value at all or an unquoted string: both syntax errors.
                is_literal(self.src[self.pos])?;
                Err(Failure::Syntax)
            }
        }
    }

    /// `true`, `false` or `null`, in any mix of case per letter (legacy-strict allows
    /// upper case), not followed by another literal character.
    fn peek_keyword(&mut self) -> Result<Option<Peeked>> {
        let (lower, upper, peeked): (&[u8], &[u8], Peeked) = match self.src[self.pos] {
            b't' | b'T' => (b"true", b"TRUE", Peeked::True),
            b'f' | b'F' => (b"false", b"FALSE", Peeked::False),
            b'n' | b'N' => (b"null", b"NULL", Peeked::Null),
            _ => return Ok(None),
        };
        for i in 1..lower.len() {
            match self.src.get(self.pos + i) {
                Some(&c) if c == lower[i] || c == upper[i] => {}
                _ => return Ok(None),
            }
        }
        if let Some(&next) = self.src.get(self.pos + lower.len()) {
            if is_literal(next)? {
                return Ok(None);
            }
        }
        self.pos += lower.len();
        Ok(Some(peeked))
    }

    /// Gson's number state machine: integers that fit a long are consumed as `Long`, other
    /// valid numbers are left for the caller as `Number(len)`.
    fn peek_number(&mut self) -> Result<Option<Peeked>> {
        #[derive(PartialEq)]
        enum Last {
            None,
            Sign,
            Digit,
            Decimal,
            FractionDigit,
            ExpE,
            ExpSign,
            ExpDigit,
        }
        const MIN_INCOMPLETE_INTEGER: i64 = i64::MIN / 10;
        // Accumulated negatively so that i64::MIN fits.
        let mut value: i64 = 0;
        let mut negative = false;
        let mut fits_in_long = true;
        let mut last = Last::None;
        let mut i = 0;
        loop {
            if i == MAX_NUMBER_CHARS {
                return Ok(None);
            }
            let Some(&c) = self.src.get(self.pos + i) else {
                break;
            };
            match c {
                b'-' if last == Last::None => {
                    negative = true;
                    last = Last::Sign;
                }
                b'-' | b'+' if last == Last::ExpE => last = Last::ExpSign,
                b'-' | b'+' => return Ok(None),
                b'e' | b'E' if matches!(last, Last::Digit | Last::FractionDigit) => {
                    last = Last::ExpE;
                }
                b'e' | b'E' => return Ok(None),
                b'.' if last == Last::Digit => last = Last::Decimal,
                b'.' => return Ok(None),
                b'0'..=b'9' => {
                    let digit = i64::from(c - b'0');
                    match last {
                        Last::None | Last::Sign => {
                            value = -digit;
                            last = Last::Digit;
                        }
                        Last::Digit => {
                            if value == 0 {
                                return Ok(None); // leading zeros are not allowed
                            }
                            let next = value.wrapping_mul(10).wrapping_sub(digit);
                            fits_in_long &= value > MIN_INCOMPLETE_INTEGER
                                || (value == MIN_INCOMPLETE_INTEGER && next < value);
                            value = next;
                        }
                        Last::Decimal => last = Last::FractionDigit,
                        Last::ExpE | Last::ExpSign => last = Last::ExpDigit,
                        Last::FractionDigit | Last::ExpDigit => {}
                    }
                }
                _ => {
                    if is_literal(c)? {
                        return Ok(None);
                    }
                    break;
                }
            }
            i += 1;
        }
        // -0 stays a Number so that its sign survives, as in Gson.
        if last == Last::Digit
            && fits_in_long
            && (value != i64::MIN || negative)
            && (value != 0 || !negative)
        {
            self.pos += i;
            Ok(Some(Peeked::Long(if negative {
                value
            } else {
                value.wrapping_neg()
            })))
        } else if matches!(last, Last::Digit | Last::FractionDigit | Last::ExpDigit) {
            Ok(Some(Peeked::Number(i)))
        } else {
            Ok(None)
        }
    }

    /// Reads a string after its opening quote, unescaping it. Lone UTF-16 surrogates become
    /// `?`, which is what Zipkin writes for them.
    fn read_quoted(&mut self) -> Result<String> {
        let mut out = String::new();
        let mut pending_high: Option<u16> = None;
        let mut start = self.pos;
        loop {
            let Some(&c) = self.src.get(self.pos) else {
                return Err(Failure::Syntax); // unterminated string
            };
            match c {
                b'"' => {
                    push_raw(&mut out, &mut pending_high, &self.text[start..self.pos]);
                    flush_surrogate(&mut out, &mut pending_high);
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    push_raw(&mut out, &mut pending_high, &self.text[start..self.pos]);
                    self.pos += 1;
                    match self.read_escape()? {
                        Escaped::Char(ch) => {
                            flush_surrogate(&mut out, &mut pending_high);
                            out.push(ch);
                        }
                        Escaped::Unit(unit) => push_unit(&mut out, &mut pending_high, unit),
                    }
                    start = self.pos;
                }
                b'\n' => {
                    self.pos += 1;
                    self.line_number += 1;
                    self.line_start = self.pos;
                }
                _ => self.pos += 1,
            }
        }
    }

    fn skip_quoted(&mut self) -> Result<()> {
        loop {
            let Some(&c) = self.src.get(self.pos) else {
                return Err(Failure::Syntax);
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(()),
                b'\\' => {
                    self.read_escape()?;
                }
                b'\n' => {
                    self.line_number += 1;
                    self.line_start = self.pos;
                }
                _ => {}
            }
        }
    }

    /// After a backslash. Legacy-strict mode also takes `\'` and an escaped line break.
    fn read_escape(&mut self) -> Result<Escaped> {
        let Some(&c) = self.src.get(self.pos) else {
            return Err(Failure::Syntax);
        };
        self.pos += 1;
        Ok(match c {
            b'u' => {
                let hex = self
                    .src
                    .get(self.pos..self.pos + 4)
                    .ok_or(Failure::Syntax)?;
                let mut unit: u16 = 0;
                for &h in hex {
                    let digit = (h as char).to_digit(16).ok_or(Failure::Syntax)?;
                    unit = (unit << 4) | digit as u16;
                }
                self.pos += 4;
                Escaped::Unit(unit)
            }
            b't' => Escaped::Char('\t'),
            b'b' => Escaped::Char('\u{8}'),
            b'n' => Escaped::Char('\n'),
            b'r' => Escaped::Char('\r'),
            b'f' => Escaped::Char('\u{c}'),
            b'\n' => {
                self.line_number += 1;
                self.line_start = self.pos;
                Escaped::Char('\n')
            }
            b'\'' | b'"' | b'\\' | b'/' => Escaped::Char(c as char),
            _ => return Err(Failure::Syntax),
        })
    }
}

/// Gson's `isLiteral`: whether `c` can continue an unquoted literal. Characters that only
/// have meaning in lenient mode are syntax errors.
fn is_literal(c: u8) -> Result<bool> {
    match c {
        b'/' | b'\\' | b';' | b'#' | b'=' => Err(Failure::Syntax),
        b'{' | b'}' | b'[' | b']' | b':' | b',' | b' ' | b'\t' | 0x0c | b'\r' | b'\n' => Ok(false),
        _ => Ok(true),
    }
}

fn push_raw(out: &mut String, pending_high: &mut Option<u16>, raw: &str) {
    if !raw.is_empty() {
        flush_surrogate(out, pending_high);
        out.push_str(raw);
    }
}

fn flush_surrogate(out: &mut String, pending_high: &mut Option<u16>) {
    if pending_high.take().is_some() {
        out.push('?');
    }
}

fn push_unit(out: &mut String, pending_high: &mut Option<u16>, unit: u16) {
    match unit {
        0xD800..=0xDBFF => {
            flush_surrogate(out, pending_high);
            *pending_high = Some(unit);
        }
        0xDC00..=0xDFFF => match pending_high.take() {
            Some(high) => {
                let code =
                    0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                out.push(char::from_u32(code).expect("a surrogate pair is a valid char"));
            }
            None => out.push('?'),
        },
        _ => {
            flush_surrogate(out, pending_high);
            out.push(char::from_u32(u32::from(unit)).expect("not a surrogate"));
        }
    }
}

/// How many UTF-16 units the UTF-8 bytes hold: one per character, two for those outside the
/// basic plane (4-byte sequences).
fn utf16_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0xBF => 0,
            0xF0..=0xFF => 2,
            _ => 1,
        })
        .sum()
}

/// `Double.parseDouble`, far enough for the literals that reach it (JSON numbers and quoted
/// strings), with Java's messages.
fn java_parse_double(literal: &str) -> Result<f64, String> {
    let trimmed = literal.trim_matches(|c: char| c <= ' ');
    if trimmed.is_empty() {
        return Err("empty String".to_owned());
    }
    let invalid = || format!("For input string: \"{literal}\"");
    let (sign, body) = match trimmed.as_bytes()[0] {
        b'-' => (-1.0, &trimmed[1..]),
        b'+' => (1.0, &trimmed[1..]),
        _ => (1.0, trimmed),
    };
    match body {
        "NaN" => return Ok(f64::NAN),
        "Infinity" => return Ok(sign * f64::INFINITY),
        _ => {}
    }
    // A float-type suffix is allowed after the number.
    let body = body
        .strip_suffix(['d', 'D', 'f', 'F'])
        .filter(|rest| rest.ends_with(|c: char| c.is_ascii_digit() || c == '.'))
        .unwrap_or(body);
    let plain = body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !plain || !body.bytes().any(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    body.parse::<f64>().map(|v| sign * v).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn list_error(body: &str) -> String {
        decode_list(body.as_bytes()).unwrap_err().message
    }

    #[test]
    fn type_errors_carry_gsons_location_path_and_link() {
        assert_eq!(
            list_error(r#"[{"traceId":true}]"#),
            "Expected a string but was BOOLEAN at line 1 column 17 path $[0].traceId\n\
             See https://github.com/google/gson/blob/main/Troubleshooting.md#unexpected-json-structure \
             reading List<Span> from json"
        );
        assert_eq!(
            list_error("[{\"id\":\"1\",\n \"traceId\" : null}]"),
            "Expected a string but was NULL at line 2 column 18 path $[0].traceId\n\
             See https://github.com/google/gson/blob/main/Troubleshooting.md#adapter-not-null-safe \
             reading List<Span> from json"
        );
    }

    #[test]
    fn columns_count_utf16_units() {
        // "个" is one UTF-16 unit (3 UTF-8 bytes), "😀" two (4 bytes).
        let message = list_error(r#"[{"个😀":1,"debug":"x"}]"#);
        assert!(
            message.starts_with(
                "Expected a boolean but was STRING at line 1 column 20 path $[0].debug"
            ),
            "{message}"
        );
    }

    #[test]
    fn truncated_input_is_end_of_input_not_malformed() {
        assert_eq!(
            list_error(r#"[{"traceId":"a""#),
            "End of input at line 1 column 16 path $[0].traceId reading List<Span> from json"
        );
        assert_eq!(
            list_error("  "),
            "End of input at line 1 column 3 path $ reading List<Span> from json"
        );
    }

    #[test]
    fn syntax_errors_are_malformed() {
        for body in [
            "hello",
            "[{\"traceId\":'a'}]",
            "[{traceId:\"a\"}]",
            "[{\"traceId\":\"a\",}]",
            "[{\"traceId\":\"a\",\"id\":\"b\"},]",
            "[{\"traceId\":\"a\" \"id\":\"b\"}]",
            "[{\"traceId\":\"a\\x\"}]",
            "[{\"traceId\":\"a\\u12\"}]",
            "[{\"traceId\":\"unterminated",
            "[{\"a\":01}]",
            "[{\"a\":1.}]",
            "[{\"a\":tru}]",
            "[{\"traceId\":\"a\",\"id\":\"b\"} /* comment */]",
            "[1]",
            "[{\"tags\":[]}]",
            "[{\"localEndpoint\":\"x\"}]",
        ] {
            assert_eq!(
                list_error(body),
                "Malformed reading List<Span> from json",
                "{body}"
            );
        }
    }

    #[test]
    fn numbers_follow_gson_and_java_rules() {
        let span =
            |json: &str| decode_one(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"));
        let base = r#""traceId":"a","id":"b""#;
        assert_eq!(
            span(&format!(r#"{{{base},"timestamp":"12"}}"#)).timestamp,
            Some(12)
        );
        assert_eq!(
            span(&format!(r#"{{{base},"timestamp":1.0e3}}"#)).timestamp,
            Some(1000)
        );
        assert_eq!(
            span(&format!(r#"{{{base},"timestamp":9223372036854775808}}"#)).timestamp,
            Some(i64::MAX as u64)
        );
        assert_eq!(
            span(&format!(r#"{{{base},"timestamp":-5}}"#)).timestamp,
            None
        );
        let err = decode_one(format!(r#"{{{base},"timestamp":1.5}}"#).as_bytes()).unwrap_err();
        assert_eq!(
            err.message,
            "Expected a long but was 1.5 at line 1 column 40 path $.timestamp reading Span from json"
        );
        let err = decode_one(format!(r#"{{{base},"duration":"soon"}}"#).as_bytes()).unwrap_err();
        assert_eq!(
            err.message,
            "For input string: \"soon\" reading Span from json"
        );
        let err =
            decode_one(format!(r#"{{{base},"localEndpoint":{{"port":4294967296}}}}"#).as_bytes())
                .unwrap_err();
        assert_eq!(
            err.message,
            "Expected an int but was 4294967296 at line 1 column 59 path $.localEndpoint.port \
             reading Span from json"
        );
    }

    #[test]
    fn strings_accept_what_legacy_strict_gson_accepts() {
        let span = decode_one(
            "{\"traceId\":\"a\",\"id\":\"b\",\"name\":\"x\ty\\'\\/\",\"tags\":{\"n\":-0,\"m\":12}}"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(span.name.as_deref(), Some("x\ty'/"));
        assert_eq!(span.tag("n"), Some("-0"));
        assert_eq!(span.tag("m"), Some("12"));
        let span =
            decode_one(br#"{"traceId":"a","id":"b","name":"\ud83d\ude00 \ud83d!"}"#).unwrap();
        assert_eq!(span.name.as_deref(), Some("😀 ?!"));
    }

    #[test]
    fn deep_nesting_is_skipped_iteratively_up_to_gsons_limit() {
        let deep = |depth: usize| {
            format!(
                r#"[{{"traceId":"a","id":"b","x":{}1{}}}]"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
        };
        assert_eq!(decode_list(deep(250).as_bytes()).unwrap().len(), 1);
        let message = decode_list(deep(300).as_bytes()).unwrap_err().message;
        assert!(
            message.starts_with("Nesting limit 255 reached at line 1 column"),
            "{message}"
        );
    }

    #[test]
    fn java_double_parsing_is_close_enough() {
        assert_eq!(java_parse_double("1.5"), Ok(1.5));
        assert_eq!(java_parse_double(" 2d "), Ok(2.0));
        assert_eq!(java_parse_double("-Infinity"), Ok(f64::NEG_INFINITY));
        assert!(java_parse_double("NaN").unwrap().is_nan());
        assert_eq!(java_parse_double(""), Err("empty String".to_owned()));
        assert_eq!(
            java_parse_double("inf"),
            Err("For input string: \"inf\"".to_owned())
        );
        assert_eq!(
            java_parse_double("1e"),
            Err("For input string: \"1e\"".to_owned())
        );
    }
}
