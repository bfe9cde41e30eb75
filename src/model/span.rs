//! The v2 span: a single host's view of one operation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use compact_str::CompactString;

use super::id::{SpanId, TraceId};

/// What a span's timestamp and remote endpoint mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Client,
    Server,
    Producer,
    Consumer,
}

impl Kind {
    /// The upper-case wire name used by JSON v2.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Client => "CLIENT",
            Kind::Server => "SERVER",
            Kind::Producer => "PRODUCER",
            Kind::Consumer => "CONSUMER",
        }
    }

    /// Parses the JSON v2 wire name (case-sensitive, as `Span.Kind.valueOf`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "CLIENT" => Some(Kind::Client),
            "SERVER" => Some(Kind::Server),
            "PRODUCER" => Some(Kind::Producer),
            "CONSUMER" => Some(Kind::Consumer),
            _ => None,
        }
    }
}

/// A network endpoint: who recorded a span, or who was on the other side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// Lower-case service name; never empty.
    pub service_name: Option<CompactString>,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// Never zero.
    pub port: Option<u16>,
}

impl Endpoint {
    /// An endpoint with only a service name (normalised).
    pub fn service(name: &str) -> Self {
        let mut e = Endpoint::default();
        e.set_service_name(name);
        e
    }

    /// Sets the service name with Zipkin's rules: lower-cased, empty means absent.
    pub fn set_service_name(&mut self, name: &str) {
        self.service_name = lowercase_name(name);
    }

    /// Sets whichever address family `ip` parses as. IPv4-mapped IPv6 addresses are stored
    /// as IPv4, as Zipkin does. Unparseable input is ignored (Zipkin drops it silently)
    /// and reported as `false`.
    pub fn set_ip(&mut self, ip: &str) -> bool {
        match ip.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => {
                self.ipv4 = Some(v4);
                true
            }
            Ok(IpAddr::V6(v6)) => {
                match v6.to_ipv4_mapped() {
                    Some(v4) => self.ipv4 = Some(v4),
                    None => self.ipv6 = Some(v6),
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Sets the port; zero means absent.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = (port != 0).then_some(port);
        self
    }

    /// Sets an address (see [`Endpoint::set_ip`]).
    pub fn with_ip(mut self, ip: &str) -> Self {
        self.set_ip(ip);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.service_name.is_none()
            && self.ipv4.is_none()
            && self.ipv6.is_none()
            && self.port.is_none()
    }

    fn normalize(&mut self) {
        lowercase_in_place(&mut self.service_name);
        if self.port == Some(0) {
            self.port = None;
        }
        if let Some(v4) = self.ipv6.and_then(|v6| v6.to_ipv4_mapped()) {
            self.ipv4 = Some(v4);
            self.ipv6 = None;
        }
    }
}

/// A timestamped event within a span.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Annotation {
    /// Epoch microseconds.
    pub timestamp: u64,
    pub value: CompactString,
}

impl Annotation {
    pub fn new(timestamp: u64, value: impl Into<CompactString>) -> Self {
        Self {
            timestamp,
            value: value.into(),
        }
    }
}

/// A Zipkin v2 span, always normalised (see [`Span::normalize`]).
///
/// Fields are public so codecs and storage can build spans cheaply; anything that builds
/// one from outside input must call [`Span::normalize`] (or use [`SpanBuilder`]), so that
/// every span past the codecs follows Zipkin's rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Span {
    pub trace_id: TraceId,
    pub parent_id: Option<SpanId>,
    pub id: SpanId,
    pub kind: Option<Kind>,
    /// Lower-case, never empty.
    pub name: Option<CompactString>,
    /// Epoch microseconds, never zero.
    pub timestamp: Option<u64>,
    /// Microseconds, never zero.
    pub duration: Option<u64>,
    pub local_endpoint: Option<Endpoint>,
    pub remote_endpoint: Option<Endpoint>,
    /// Sorted by (timestamp, value), without duplicates.
    pub annotations: Vec<Annotation>,
    /// Sorted by key, keys unique.
    pub tags: Vec<(CompactString, CompactString)>,
    pub debug: bool,
    pub shared: bool,
}

impl Span {
    /// A span with only its ids set; fill it with the builder methods.
    pub fn builder(trace_id: TraceId, id: SpanId) -> SpanBuilder {
        SpanBuilder(Span::new(trace_id, id))
    }

    /// A span with only its ids set.
    pub fn new(trace_id: TraceId, id: SpanId) -> Self {
        Span {
            trace_id,
            parent_id: None,
            id,
            kind: None,
            name: None,
            timestamp: None,
            duration: None,
            local_endpoint: None,
            remote_endpoint: None,
            annotations: Vec::new(),
            tags: Vec::new(),
            debug: false,
            shared: false,
        }
    }

    /// Applies Zipkin's normalisation (`Span.Builder`): lower-case names, empty values
    /// and endpoints dropped, zero times dropped, self-parent dropped, `shared` removed
    /// from CLIENT spans, annotations sorted and de-duplicated, tags sorted by key (the
    /// last value of a repeated key wins).
    pub fn normalize(&mut self) {
        if self.parent_id == Some(self.id) {
            self.parent_id = None;
        }
        lowercase_in_place(&mut self.name);
        if self.timestamp == Some(0) {
            self.timestamp = None;
        }
        if self.duration == Some(0) {
            self.duration = None;
        }
        for endpoint in [&mut self.local_endpoint, &mut self.remote_endpoint] {
            if let Some(e) = endpoint {
                e.normalize();
                if e.is_empty() {
                    *endpoint = None;
                }
            }
        }
        if self.kind == Some(Kind::Client) {
            self.shared = false;
        }
        // Decoded spans are often normalised already; checking is cheaper than sorting.
        if !self.annotations.is_sorted_by(|a, b| a < b) {
            self.annotations.sort_unstable();
            self.annotations.dedup();
        }
        if !self.tags.is_sorted_by(|a, b| a.0 < b.0) {
            // A stable sort keeps input order among equal keys; moving each later value
            // into the kept entry gives "last value wins", like Java's TreeMap.put.
            self.tags.sort_by(|a, b| a.0.cmp(&b.0));
            self.tags.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same {
                    std::mem::swap(&mut later.1, &mut kept.1);
                }
                same
            });
        }
    }

    pub fn local_service_name(&self) -> Option<&str> {
        self.local_endpoint.as_ref()?.service_name.as_deref()
    }

    pub fn remote_service_name(&self) -> Option<&str> {
        self.remote_endpoint.as_ref()?.service_name.as_deref()
    }

    /// The value of a tag, by key.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.tags[i].1.as_str())
    }
}

/// Fluent construction of normalised spans, mostly for tests and fixtures.
#[derive(Debug, Clone)]
pub struct SpanBuilder(Span);

impl SpanBuilder {
    pub fn parent_id(mut self, parent: SpanId) -> Self {
        self.0.parent_id = Some(parent);
        self
    }
    pub fn kind(mut self, kind: Kind) -> Self {
        self.0.kind = Some(kind);
        self
    }
    pub fn name(mut self, name: &str) -> Self {
        self.0.name = Some(name.into());
        self
    }
    pub fn timestamp(mut self, micros: u64) -> Self {
        self.0.timestamp = Some(micros);
        self
    }
    pub fn duration(mut self, micros: u64) -> Self {
        self.0.duration = Some(micros);
        self
    }
    pub fn local_endpoint(mut self, endpoint: Endpoint) -> Self {
        self.0.local_endpoint = Some(endpoint);
        self
    }
    pub fn remote_endpoint(mut self, endpoint: Endpoint) -> Self {
        self.0.remote_endpoint = Some(endpoint);
        self
    }
    pub fn annotation(mut self, micros: u64, value: &str) -> Self {
        self.0.annotations.push(Annotation::new(micros, value));
        self
    }
    pub fn tag(mut self, key: &str, value: &str) -> Self {
        self.0.tags.push((key.into(), value.into()));
        self
    }
    pub fn debug(mut self, debug: bool) -> Self {
        self.0.debug = debug;
        self
    }
    pub fn shared(mut self, shared: bool) -> Self {
        self.0.shared = shared;
        self
    }
    pub fn build(mut self) -> Span {
        self.0.normalize();
        self.0
    }
}

/// [`lowercase_name`] without copying a name that is already lower-case.
fn lowercase_in_place(name: &mut Option<CompactString>) {
    if let Some(n) = name {
        if n.is_empty() {
            *name = None;
        } else if n.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
            *n = CompactString::from(n.as_str().to_lowercase());
        }
    }
}

/// Lower-cases a name as Java's `toLowerCase(Locale.ROOT)` would; `""` means absent.
/// Avoids allocating when the name is already lower-case ASCII (the common case).
fn lowercase_name(name: &str) -> Option<CompactString> {
    if name.is_empty() {
        None
    } else if name
        .bytes()
        .all(|b| !b.is_ascii_uppercase() && b.is_ascii())
    {
        Some(CompactString::from(name))
    } else {
        Some(CompactString::from(name.to_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (TraceId, SpanId) {
        (TraceId::parse("a").unwrap(), SpanId::parse("b").unwrap())
    }

    #[test]
    fn normalize_applies_zipkin_rules() {
        let (t, id) = ids();
        let span = Span::builder(t, id)
            .parent_id(id)
            .name("GET /Foo")
            .kind(Kind::Client)
            .shared(true)
            .timestamp(0)
            .duration(0)
            .local_endpoint(Endpoint::service("FrontEnd"))
            .remote_endpoint(Endpoint::default().with_port(0))
            .annotation(2, "b")
            .annotation(1, "z")
            .annotation(2, "b")
            .tag("z", "1")
            .tag("a", "1")
            .tag("z", "2")
            .build();
        assert_eq!(span.parent_id, None);
        assert_eq!(span.name.as_deref(), Some("get /foo"));
        assert!(!span.shared);
        assert_eq!(span.timestamp, None);
        assert_eq!(span.duration, None);
        assert_eq!(span.local_service_name(), Some("frontend"));
        assert_eq!(span.remote_endpoint, None);
        assert_eq!(
            span.annotations,
            vec![Annotation::new(1, "z"), Annotation::new(2, "b")]
        );
        assert_eq!(span.tag("z"), Some("2"));
        assert_eq!(span.tags[0].0, "a");
    }

    #[test]
    fn shared_is_kept_on_server_spans() {
        let (t, id) = ids();
        let span = Span::builder(t, id).kind(Kind::Server).shared(true).build();
        assert!(span.shared);
    }

    #[test]
    fn empty_names_are_absent() {
        let (t, id) = ids();
        let span = Span::builder(t, id)
            .name("")
            .local_endpoint(Endpoint::service(""))
            .build();
        assert_eq!(span.name, None);
        assert_eq!(span.local_endpoint, None);
    }

    #[test]
    fn ipv4_mapped_ipv6_becomes_ipv4_and_ipv6_is_compressed() {
        let e = Endpoint::default().with_ip("::ffff:192.168.0.1");
        assert_eq!(e.ipv4, Some(Ipv4Addr::new(192, 168, 0, 1)));
        assert_eq!(e.ipv6, None);
        let e = Endpoint::default().with_ip("2001:DB8:0:0:0:0:0:C001");
        assert_eq!(e.ipv6.unwrap().to_string(), "2001:db8::c001");
        let mut e = Endpoint::default();
        assert!(!e.set_ip("not an ip"));
        assert!(e.is_empty());
    }

    #[test]
    fn non_ascii_names_are_lowercased() {
        assert_eq!(lowercase_name("ÄBC").as_deref(), Some("äbc"));
        assert_eq!(
            lowercase_name("个人信息服务").as_deref(),
            Some("个人信息服务")
        );
    }
}
