//! Trace and span identifiers, parsed once from Zipkin's lower-hex form.
//!
//! Zipkin transports ids as lower-hex strings and normalises them on the way in
//! (`Span.normalizeTraceId`): shorter ids are left-padded, a 32-character id whose upper
//! half is all zeros is a 64-bit id. Holding them as integers makes every comparison,
//! hash and index cheap, and the hex form is produced only when encoding.

use std::fmt;

use thiserror::Error;

/// Why an id string was rejected. The messages are Zipkin's, because clients and tests
/// match on them.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// A character outside `[0-9a-f]`.
    #[error("{0} should be lower-hex encoded with no prefix")]
    NotLowerHex(String),
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("{field}.length > {max}")]
    TooLong { field: &'static str, max: usize },
    #[error("{0} is all zeros")]
    AllZeros(&'static str),
    /// Binary ids (proto3, thrift) of an unsupported width.
    #[error("{field} must be {expected} bytes, was {actual}")]
    BadByteLength {
        field: &'static str,
        expected: &'static str,
        actual: usize,
    },
}

/// A 64- or 128-bit trace id. `high == 0` means a 64-bit id, which is also what Zipkin
/// makes of a 32-character id with 16 leading zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId {
    high: u64,
    low: u64,
}

impl TraceId {
    /// Builds an id from its halves; `None` when both are zero (Zipkin: "empty trace ID").
    pub fn from_parts(high: u64, low: u64) -> Option<Self> {
        (high != 0 || low != 0).then_some(Self { high, low })
    }

    /// Parses and normalises a hex trace id with Zipkin's rules.
    pub fn parse(hex: &str) -> Result<Self, IdError> {
        let len = hex.len();
        if len == 0 {
            return Err(IdError::Empty("traceId"));
        }
        if len > 32 {
            return Err(IdError::TooLong {
                field: "traceId",
                max: 32,
            });
        }
        let value = parse_hex(hex)?;
        if value == 0 {
            return Err(IdError::AllZeros("traceId"));
        }
        // Ids of 17..=31 characters are padded to 32; their high half may then be zero,
        // which makes them 64-bit in this representation (as Zipkin's 32-char rule does).
        Ok(Self {
            high: (value >> 64) as u64,
            low: value as u64,
        })
    }

    /// Decodes a big-endian binary id of 8 or 16 bytes (proto3, thrift); shorter inputs
    /// are left-padded as their hex form would be, longer ones rejected.
    pub fn from_be_bytes(bytes: &[u8]) -> Result<Self, IdError> {
        if bytes.len() > 16 {
            return Err(IdError::BadByteLength {
                field: "traceId",
                expected: "at most 16",
                actual: bytes.len(),
            });
        }
        let value = bytes
            .iter()
            .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
        if value == 0 {
            return Err(IdError::AllZeros("traceId"));
        }
        Ok(Self {
            high: (value >> 64) as u64,
            low: value as u64,
        })
    }

    pub fn high(self) -> u64 {
        self.high
    }

    pub fn low(self) -> u64 {
        self.low
    }

    /// True for 128-bit ids.
    pub fn is_128(self) -> bool {
        self.high != 0
    }

    /// The same trace seen through a 64-bit lens (`STRICT_TRACE_ID=false`, dependency
    /// linking).
    pub fn to_64(self) -> Self {
        Self {
            high: 0,
            low: self.low,
        }
    }

    /// The 16 or 32 character lower-hex form, without allocating.
    pub fn to_hex(self) -> HexId {
        let mut out = HexId {
            buf: [0; 32],
            len: 0,
        };
        if self.high != 0 {
            write_hex_u64(&mut out.buf[..16], self.high);
            write_hex_u64(&mut out.buf[16..], self.low);
            out.len = 32;
        } else {
            write_hex_u64(&mut out.buf[..16], self.low);
            out.len = 16;
        }
        out
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_hex().as_str())
    }
}

impl std::str::FromStr for TraceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A non-zero 64-bit span id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(std::num::NonZeroU64);

impl SpanId {
    pub fn new(value: u64) -> Option<Self> {
        std::num::NonZeroU64::new(value).map(Self)
    }

    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// Parses a span id (`id`): at most 16 lower-hex characters, not all zeros.
    pub fn parse(hex: &str) -> Result<Self, IdError> {
        Self::parse_field(hex, "id")?.ok_or(IdError::AllZeros("id"))
    }

    /// Parses a parent id: like [`SpanId::parse`] but an all-zero id means "no parent".
    pub fn parse_parent(hex: &str) -> Result<Option<Self>, IdError> {
        Self::parse_field(hex, "parentId")
    }

    fn parse_field(hex: &str, field: &'static str) -> Result<Option<Self>, IdError> {
        if hex.is_empty() {
            return Err(IdError::Empty(field));
        }
        if hex.len() > 16 {
            return Err(IdError::TooLong { field, max: 16 });
        }
        Ok(Self::new(parse_hex(hex)? as u64))
    }

    /// Decodes a big-endian binary id of at most 8 bytes; zero yields `None`.
    pub fn from_be_bytes(bytes: &[u8], field: &'static str) -> Result<Option<Self>, IdError> {
        if bytes.len() > 8 {
            return Err(IdError::BadByteLength {
                field,
                expected: "at most 8",
                actual: bytes.len(),
            });
        }
        Ok(Self::new(
            bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
        ))
    }

    pub fn to_hex(self) -> HexId {
        let mut out = HexId {
            buf: [0; 32],
            len: 16,
        };
        write_hex_u64(&mut out.buf[..16], self.get());
        out
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_hex().as_str())
    }
}

/// A stack-allocated lower-hex id.
#[derive(Clone, Copy)]
pub struct HexId {
    buf: [u8; 32],
    len: usize,
}

impl HexId {
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into `buf`.
        std::str::from_utf8(&self.buf[..self.len]).expect("hex digits are ascii")
    }
}

impl fmt::Debug for HexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn write_hex_u64(out: &mut [u8], v: u64) {
    for (i, slot) in out.iter_mut().enumerate().take(16) {
        *slot = HEX[((v >> (60 - 4 * i)) & 0xf) as usize];
    }
}

/// Parses up to 32 lower-hex digits; anything else is Zipkin's "lower-hex" error, which
/// quotes the whole input.
fn parse_hex(hex: &str) -> Result<u128, IdError> {
    let mut value: u128 = 0;
    for b in hex.bytes() {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return Err(IdError::NotLowerHex(hex.to_owned())),
        };
        value = (value << 4) | u128::from(digit);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_trace_ids_are_left_padded_to_16() {
        assert_eq!(
            TraceId::parse("abcd").unwrap().to_string(),
            "000000000000abcd"
        );
    }

    #[test]
    fn thirty_two_char_ids_with_zero_high_half_become_64_bit() {
        let id = TraceId::parse("000000000000000048485a3953bb6124").unwrap();
        assert!(!id.is_128());
        assert_eq!(id.to_string(), "48485a3953bb6124");
    }

    #[test]
    fn seventeen_char_ids_are_padded_to_128_bit() {
        let id = TraceId::parse("148485a3953bb6124").unwrap();
        assert!(id.is_128());
        assert_eq!(id.to_string(), "000000000000000148485a3953bb6124");
    }

    #[test]
    fn trace_id_errors_use_zipkin_messages() {
        assert_eq!(
            TraceId::parse("0e8b46e1-81b").unwrap_err().to_string(),
            "0e8b46e1-81b should be lower-hex encoded with no prefix"
        );
        assert_eq!(
            TraceId::parse("ABCD").unwrap_err().to_string(),
            "ABCD should be lower-hex encoded with no prefix"
        );
        assert_eq!(
            TraceId::parse(&"a".repeat(33)).unwrap_err().to_string(),
            "traceId.length > 32"
        );
        assert_eq!(
            TraceId::parse("0000").unwrap_err().to_string(),
            "traceId is all zeros"
        );
        assert_eq!(
            TraceId::parse("").unwrap_err().to_string(),
            "traceId is empty"
        );
    }

    #[test]
    fn span_ids_pad_and_reject_zero() {
        assert_eq!(SpanId::parse("a").unwrap().to_string(), "000000000000000a");
        assert_eq!(
            SpanId::parse("0000").unwrap_err().to_string(),
            "id is all zeros"
        );
        assert_eq!(
            SpanId::parse(&"1".repeat(17)).unwrap_err().to_string(),
            "id.length > 16"
        );
        assert_eq!(SpanId::parse_parent("0000000000000000").unwrap(), None);
    }

    #[test]
    fn binary_ids_follow_the_hex_rules() {
        let mut wide = [0u8; 16];
        wide[15] = 1;
        assert!(!TraceId::from_be_bytes(&wide).unwrap().is_128());
        wide[0] = 1;
        assert!(TraceId::from_be_bytes(&wide).unwrap().is_128());
        assert!(TraceId::from_be_bytes(&[1u8; 17]).is_err());
        assert!(SpanId::from_be_bytes(&[1u8; 9], "id").is_err());
        assert_eq!(SpanId::from_be_bytes(&[0u8; 8], "id").unwrap(), None);
    }
}
