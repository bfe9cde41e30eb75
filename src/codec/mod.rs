//! Wire formats: bytes in, validated [`model`](crate::model) types out, and back.
//!
//! One module per format (`json_v2`, `json_v1`, `proto3`, `thrift`; `v1` is the v1 model the
//! v1 formats share, `detect` picks a format), all pure and synchronous. They share
//! [`DecodeError`], whose text is exactly what Zipkin answers with a 400, and the few
//! Zipkin-specific rules that every text format needs: how IP strings are accepted, how IPv6
//! is printed and how JSON strings are escaped.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::model::Endpoint;

pub mod detect;
pub mod json_v1;
pub mod json_v2;
pub mod proto3;
pub mod thrift;
pub mod v1;

/// A message that could not be decoded. Display is exactly Zipkin's message (answered as 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    pub message: String,
}

impl DecodeError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// Zipkin's wrapping of a decoder failure: `<cause> reading <what> from <format>`, e.g.
    /// `Malformed reading List<Span> from json` or `... reading Span from proto3`.
    pub fn reading(cause: &str, what: &str, format: &str) -> Self {
        Self::new(format!("{cause} reading {what} from {format}"))
    }
}

/// Sets an endpoint address from text the way Zipkin's `Endpoint.Builder.parseIp` does, and
/// reports whether it was accepted. Input Zipkin cannot parse is ignored, so an earlier
/// address stays.
///
/// Zipkin's rules are narrower than `std`'s parser and the difference shows in what it
/// returns: dotted IPv4 tails are accepted only as `::a.b.c.d` or `::ffff:a.b.c.d` (stored as
/// IPv4), anything else with a dot after a colon (e.g. `7::0.128.128.127`) is dropped, and
/// octets may carry leading zeros.
pub fn set_endpoint_ip(endpoint: &mut Endpoint, text: &str) -> bool {
    set_endpoint_ip_bytes(endpoint, text.as_bytes())
}

/// [`set_endpoint_ip`] for text not yet checked to be UTF-8 (anything that is not ASCII is
/// not an address anyway).
pub fn set_endpoint_ip_bytes(endpoint: &mut Endpoint, text: &[u8]) -> bool {
    match parse_zipkin_ip(text) {
        Some(ZipkinIp::V4(v4)) => {
            endpoint.ipv4 = Some(v4);
            true
        }
        Some(ZipkinIp::V6(v6)) => {
            endpoint.ipv6 = Some(v6);
            true
        }
        None => false,
    }
}

enum ZipkinIp {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// Follows `Endpoint.detectFamily` then the family's parser.
fn parse_zipkin_ip(bytes: &[u8]) -> Option<ZipkinIp> {
    // The common case in one pass: only a valid dotted quad is both IPv4 to
    // `detectFamily` and accepted by the IPv4 parser.
    if let Some(v4) = parse_ipv4_netty(bytes) {
        return Some(ZipkinIp::V4(v4));
    }
    if bytes.is_empty() {
        return None;
    }
    let mut has_colon = false;
    let mut has_dot = false;
    for &b in bytes {
        match b {
            b'.' => has_dot = true,
            b':' => {
                if has_dot {
                    return None; // colons may not follow dots
                }
                has_colon = true;
            }
            _ if b.is_ascii_hexdigit() => {}
            _ => return None,
        }
    }
    if has_colon && has_dot {
        let last_colon = bytes.iter().rposition(|b| *b == b':')?;
        let v4 = parse_ipv4_netty(&bytes[last_colon + 1..])?;
        if last_colon == 1 && bytes[0] == b':' {
            return Some(ZipkinIp::V4(v4)); // compressed, like ::1.2.3.4
        }
        if last_colon != 6 || bytes[0] != b':' || bytes[1] != b':' {
            return None;
        }
        if !bytes[2..6].iter().all(|b| matches!(b, b'f' | b'F' | b'0')) {
            return None;
        }
        Some(ZipkinIp::V4(v4))
    } else if has_colon {
        // Only ASCII hex digits and colons are left, so this is valid UTF-8.
        parse_ipv6_guava(std::str::from_utf8(bytes).ok()?).map(ZipkinIp::V6)
    } else if has_dot {
        parse_ipv4_netty(bytes).map(ZipkinIp::V4)
    } else {
        None
    }
}

/// Dotted quad with one to three digits per octet, each at most 255 (Netty's
/// `isValidIpV4Address`, which Zipkin uses): leading zeros are allowed and read as decimal.
fn parse_ipv4_netty(bytes: &[u8]) -> Option<Ipv4Addr> {
    if !(7..=15).contains(&bytes.len()) {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut part = 0;
    let mut value: u16 = 0;
    let mut digits = 0;
    for &b in bytes {
        match b {
            b'0'..=b'9' if digits < 3 => {
                value = value * 10 + u16::from(b - b'0');
                digits += 1;
            }
            b'.' if digits > 0 && part < 3 && value <= 255 => {
                octets[part] = value as u8;
                part += 1;
                value = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if part != 3 || digits == 0 || value > 255 {
        return None;
    }
    octets[3] = value as u8;
    Some(Ipv4Addr::from(octets))
}

/// IPv6 text without an IPv4 tail, as Guava's `textToNumericFormatV6` (which Zipkin copies)
/// reads it: at most one `::`, hextets of any length whose value fits 16 bits.
fn parse_ipv6_guava(text: &str) -> Option<Ipv6Addr> {
    const PARTS: usize = 8;
    let parts: Vec<&str> = text.splitn(PARTS + 2, ':').collect();
    if parts.len() < 3 || parts.len() > PARTS + 1 {
        return None;
    }
    let mut skip_index = None;
    for (i, part) in parts.iter().enumerate().take(parts.len() - 1).skip(1) {
        if part.is_empty() {
            if skip_index.is_some() {
                return None;
            }
            skip_index = Some(i);
        }
    }
    let (parts_hi, parts_lo) = match skip_index {
        Some(skip) => {
            let mut hi = skip;
            let mut lo = parts.len() - skip - 1;
            if parts[0].is_empty() {
                hi -= 1;
                if hi != 0 {
                    return None;
                }
            }
            if parts[parts.len() - 1].is_empty() {
                lo -= 1;
                if lo != 0 {
                    return None;
                }
            }
            (hi, lo)
        }
        None => (parts.len(), 0),
    };
    let skipped = PARTS.checked_sub(parts_hi + parts_lo)?;
    if skip_index.is_some() && skipped == 0 || skip_index.is_none() && skipped != 0 {
        return None;
    }
    let mut groups = [0u16; PARTS];
    let hextet = |part: &str| -> Option<u16> {
        if part.is_empty() {
            return None;
        }
        // Integer.parseInt(part, 16) accepts leading zeros beyond four digits.
        let trimmed = part.trim_start_matches('0');
        if trimmed.len() > 4 {
            return None;
        }
        Some(if trimmed.is_empty() {
            0
        } else {
            u16::from_str_radix(trimmed, 16).ok()?
        })
    };
    for i in 0..parts_hi {
        groups[i] = hextet(parts[i])?;
    }
    for i in 0..parts_lo {
        groups[PARTS - parts_lo + i] = hextet(parts[parts.len() - parts_lo + i])?;
    }
    Some(Ipv6Addr::from(groups))
}

/// Writes dotted-quad IPv4.
pub fn write_ipv4(out: &mut Vec<u8>, ip: Ipv4Addr) {
    let mut buf = itoa::Buffer::new();
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i != 0 {
            out.push(b'.');
        }
        out.extend_from_slice(buf.format(octet).as_bytes());
    }
}

/// Writes IPv6 exactly as Zipkin's `Endpoint.writeIpV6` does, which differs from RFC 5952
/// (and `std`'s `Display`): a single zero group is compressed too, and a trailing run of
/// zeros is compressed only when no earlier run was.
pub fn write_ipv6(out: &mut Vec<u8>, ip: Ipv6Addr) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let groups = ip.segments();
    if groups.iter().all(|g| *g == 0) {
        out.extend_from_slice(b"::");
        return;
    }
    // Longest run of zero groups that is followed by a non-zero group; earliest wins ties.
    let mut best: Option<(usize, usize)> = None;
    let mut run_start: Option<usize> = None;
    for (i, g) in groups.iter().enumerate() {
        if *g == 0 {
            run_start.get_or_insert(i);
            continue;
        }
        if let Some(start) = run_start.take() {
            if best.is_none_or(|(_, len)| i - start > len) {
                best = Some((start, i - start));
            }
        }
    }
    if best.is_none() {
        if let Some(start) = run_start {
            best = Some((start, groups.len() - start));
        }
    }
    let mut i = 0;
    while i < groups.len() {
        if let Some((start, len)) = best.filter(|(start, _)| *start == i) {
            out.push(b':');
            i = start + len;
            if i == groups.len() {
                out.push(b':');
            }
            continue;
        }
        if i != 0 {
            out.push(b':');
        }
        let g = groups[i];
        let mut started = false;
        for shift in [12u32, 8, 4] {
            let digit = ((g >> shift) & 0xf) as usize;
            if started || digit != 0 {
                out.push(HEX[digit]);
                started = true;
            }
        }
        out.push(HEX[(g & 0xf) as usize]);
        i += 1;
    }
}

/// Which bytes need escaping: `"`, `\` and controls below 0x20 (for ASCII), and 0xE2, the
/// lead byte of U+2028 and U+2029, which Zipkin escapes because JavaScript treats them as
/// line breaks.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0xE2] = true;
    table
};

/// Appends `value` JSON-escaped (without quotes) as Zipkin's `JsonEscaper` does: short forms
/// for `\t \b \n \r \f`, `\u00xx` (lower-case hex) for other controls, `\"`, `\\`, and
/// `\u2028`/`\u2029`; everything else, `/` and non-ASCII included, is written as is.
pub fn write_escaped(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = value.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !NEEDS_ESCAPE[b as usize] {
            i += 1;
            continue;
        }
        let replacement: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            0x0c => b"\\f",
            0xE2 => match bytes.get(i + 1..i + 3) {
                Some([0x80, 0xA8]) => b"\\u2028",
                Some([0x80, 0xA9]) => b"\\u2029",
                _ => {
                    i += 1;
                    continue;
                }
            },
            _ => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
                i += 1;
                start = i;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(replacement);
        i += if b == 0xE2 { 3 } else { 1 };
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends `value` as a quoted, escaped JSON string.
pub fn write_json_string(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    write_escaped(out, value);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Endpoint {
        let mut e = Endpoint::default();
        set_endpoint_ip(&mut e, text);
        e
    }

    fn ipv6_text(text: &str) -> String {
        let mut out = Vec::new();
        write_ipv6(&mut out, text.parse().unwrap());
        String::from_utf8(out).unwrap()
    }

    fn escaped(value: &str) -> String {
        let mut out = Vec::new();
        write_escaped(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ipv4_follows_netty_rules() {
        assert_eq!(
            ip("192.168.99.101").ipv4,
            Some(Ipv4Addr::new(192, 168, 99, 101))
        );
        assert_eq!(ip("010.001.1.1").ipv4, Some(Ipv4Addr::new(10, 1, 1, 1)));
        assert!(ip("256.1.1.1").is_empty());
        assert!(ip("1.1.1").is_empty());
        assert!(ip("1.1.1.1.1").is_empty());
        assert!(ip("a.b.c.d").is_empty());
        assert!(ip("").is_empty());
        assert!(ip("localhost").is_empty());
    }

    #[test]
    fn embedded_ipv4_is_accepted_only_in_zipkins_two_shapes() {
        assert_eq!(ip("::1.2.3.4").ipv4, Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(ip("::ffff:1.2.3.4").ipv4, Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(ip("::FFFF:1.2.3.4").ipv4, Some(Ipv4Addr::new(1, 2, 3, 4)));
        // The benchmark span's local endpoint: Zipkin drops this address.
        assert!(ip("7::0.128.128.127").is_empty());
        assert!(ip("1.2.3.4:80").is_empty());
    }

    #[test]
    fn ipv6_follows_guava_rules() {
        let e = ip("2001:DB8:0:0:0:0:0:C001");
        assert_eq!(e.ipv6, Some("2001:db8::c001".parse().unwrap()));
        assert_eq!(ip("::1").ipv6, Some(Ipv6Addr::LOCALHOST));
        assert_eq!(ip("1::").ipv6, Some("1::".parse().unwrap()));
        assert_eq!(ip("00001::").ipv6, Some("1::".parse().unwrap()));
        assert!(ip("1:2:3:4:5:6:7:8:9").is_empty());
        assert!(ip("1::2::3").is_empty());
        assert!(ip(":1::2").is_empty());
        assert!(ip("1:2:3:4:5:6:7:").is_empty());
        assert!(ip("1:2:3:4:5:6:7:8::").is_empty());
        assert!(ip("10000::").is_empty());
        assert!(ip("g::1").is_empty());
    }

    #[test]
    fn ipv6_is_written_as_zipkin_writes_it() {
        assert_eq!(ipv6_text("2001:db8::c001"), "2001:db8::c001");
        assert_eq!(ipv6_text("::"), "::");
        assert_eq!(ipv6_text("::1"), "::1");
        assert_eq!(ipv6_text("1::"), "1::");
        // A single zero group is compressed, unlike RFC 5952.
        assert_eq!(ipv6_text("1:0:2:3:4:5:6:7"), "1::2:3:4:5:6:7");
        // A trailing run loses to any earlier run, even a shorter one.
        assert_eq!(ipv6_text("1:0:0:2:0:0:0:0"), "1::2:0:0:0:0");
        // Earliest of equally long runs wins.
        assert_eq!(ipv6_text("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4");
        assert_eq!(ipv6_text("fe80::a:bcd:0:1"), "fe80::a:bcd:0:1");
    }

    #[test]
    fn escaping_matches_zipkins_json_escaper() {
        assert_eq!(escaped("plain /path"), "plain /path");
        assert_eq!(escaped("a\"b\\c"), "a\\\"b\\\\c");
        assert_eq!(escaped("\t\u{8}\n\r\u{c}"), "\\t\\b\\n\\r\\f");
        assert_eq!(
            escaped("\u{0}\u{1}\u{1f}\u{7f}"),
            "\\u0000\\u0001\\u001f\u{7f}"
        );
        assert_eq!(escaped("x\u{2028}y\u{2029}z"), "x\\u2028y\\u2029z");
        // Other characters with the same lead byte are left alone.
        assert_eq!(escaped("\u{2026}\u{20ac}"), "\u{2026}\u{20ac}");
        assert_eq!(escaped("个人信息服务 😀"), "个人信息服务 😀");
    }
}
