//! The legacy v1 span model and its conversion to and from v2 spans.
//!
//! v1 spans (JSON v1 and Thrift) describe an RPC from both sides at once: the host that
//! logged each event rides on every annotation, and the RPC's shape is told by "core"
//! annotations (`cs`, `sr`, `ss`, `cr`, `ms`, `mr`, `ws`, `wr`) and "address" binary
//! annotations (`ca`, `sa`, `ma`). [`V1Span::into_v2`] follows Zipkin's
//! `V1SpanConverter` exactly, because stored data must be the same whichever server took
//! it in: one v2 span per local service, a span that carries both the client and the
//! server side is split into a CLIENT span and a shared SERVER span, core annotations
//! become kind, timestamp and duration, and the rest become annotations and tags.
//! [`V1Span::from_v2`] is `V2SpanConverter`, used by the v1 encoders (tests, benches,
//! fuzz seeds).

use compact_str::CompactString;

use crate::model::{Endpoint, Kind, Span, SpanId, TraceId};

/// An annotation as v1 carries it: with the endpoint of the host that logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Annotation {
    /// Epoch microseconds; Java's signed long, as the wire carries it.
    pub timestamp: i64,
    pub value: CompactString,
    pub endpoint: Option<Endpoint>,
}

/// A binary annotation reduced to what v2 can express: a string tag (with the endpoint of
/// the host that logged it) or an address (`ca`, `sa`, `ma`: the endpoint is the remote
/// side and `string_value` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1BinaryAnnotation {
    pub key: CompactString,
    pub string_value: Option<CompactString>,
    pub endpoint: Option<Endpoint>,
}

/// A v1 span as decoded from JSON v1 or Thrift, before conversion.
///
/// Ids are raw integers because that is how both v1 formats carry them (Thrift natively,
/// JSON v1 via Zipkin's lenient hex parser); zero means absent, as in Zipkin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct V1Span {
    pub trace_id_high: u64,
    pub trace_id: u64,
    pub parent_id: u64,
    pub id: u64,
    /// Lower-case, never empty.
    pub name: Option<CompactString>,
    /// Zero means absent.
    pub timestamp: i64,
    /// Zero means absent.
    pub duration: i64,
    pub annotations: Vec<V1Annotation>,
    pub binary_annotations: Vec<V1BinaryAnnotation>,
    pub debug: Option<bool>,
}

/// Why a v1 span could not be built; the messages are Zipkin's (`V1Span`'s constructor).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V1Error {
    #[error("traceId == 0")]
    ZeroTraceId,
    #[error("id == 0")]
    ZeroId,
}

impl V1Span {
    /// Sets the name as `V1Span.Builder.name` does: lower-cased, empty means absent.
    pub fn set_name(&mut self, name: &str) {
        self.name = if name.is_empty() {
            None
        } else if name
            .bytes()
            .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
        {
            Some(CompactString::from(name.to_lowercase()))
        } else {
            Some(CompactString::from(name))
        };
    }

    /// Adds an annotation; an empty endpoint counts as none.
    pub fn add_annotation(&mut self, timestamp: i64, value: &str, endpoint: Option<Endpoint>) {
        self.annotations.push(V1Annotation {
            timestamp,
            value: value.into(),
            endpoint: endpoint.filter(|e| !e.is_empty()),
        });
    }

    /// Adds a string binary annotation (a tag); an empty endpoint counts as none.
    pub fn add_tag(&mut self, key: &str, value: &str, endpoint: Option<Endpoint>) {
        self.binary_annotations.push(V1BinaryAnnotation {
            key: key.into(),
            string_value: Some(value.into()),
            endpoint: endpoint.filter(|e| !e.is_empty()),
        });
    }

    /// Adds an address binary annotation. Empty or missing endpoints are ignored rather
    /// than failing the message, as Zipkin does for bad address data.
    pub fn add_address(&mut self, key: &str, endpoint: Option<Endpoint>) {
        if let Some(endpoint) = endpoint.filter(|e| !e.is_empty()) {
            self.binary_annotations.push(V1BinaryAnnotation {
                key: key.into(),
                string_value: None,
                endpoint: Some(endpoint),
            });
        }
    }

    /// Checks the ids and orders the annotations as `V1Span`'s constructor does: by
    /// (timestamp, value), binary annotations by key; both sorts are stable, which keeps
    /// "last tag wins" meaningful.
    pub fn finish(&mut self) -> Result<(), V1Error> {
        if self.trace_id == 0 {
            return Err(V1Error::ZeroTraceId);
        }
        if self.id == 0 {
            return Err(V1Error::ZeroId);
        }
        self.annotations
            .sort_by(|a, b| (a.timestamp, &a.value).cmp(&(b.timestamp, &b.value)));
        self.binary_annotations.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(())
    }

    /// Converts a finished span (see [`V1Span::finish`]) into v2 spans, appending them to
    /// `out`: usually one, two when one span carries both sides of an RPC or of a
    /// messaging hop, more when several services logged into the same span.
    pub fn into_v2(self, out: &mut Vec<Span>) {
        Converter::new(&self).convert(&self, out);
    }

    /// Converts a v2 span into its v1 form, as `V2SpanConverter` does: kind, timestamp
    /// and duration become core annotations, the remote endpoint an address annotation,
    /// tags string binary annotations, and an endpoint with nothing else to ride on an
    /// empty "lc" tag.
    pub fn from_v2(span: &Span) -> V1Span {
        let md = Metadata::parse(span);
        let mut v1 = V1Span {
            trace_id_high: span.trace_id.high(),
            trace_id: span.trace_id.low(),
            parent_id: span.parent_id.map_or(0, SpanId::get),
            id: span.id.get(),
            name: span.name.clone(),
            debug: span.debug.then_some(true),
            ..V1Span::default()
        };
        // Shared spans don't own the RPC's timestamp and duration.
        if !span.shared {
            v1.timestamp = to_i64(span.timestamp);
            v1.duration = to_i64(span.duration);
        }
        let ep = span.local_endpoint.clone();
        let begin = md.begin.filter(|_| md.start_ts != 0);
        let end = md.end.filter(|_| md.end_ts != 0);
        let mut annotation_count = span.annotations.len();
        if let Some(begin) = begin {
            annotation_count += 1;
            v1.add_annotation(md.start_ts, begin, ep.clone());
        }
        for a in &span.annotations {
            if Some(a.value.as_str()) == begin || Some(a.value.as_str()) == end {
                continue;
            }
            v1.add_annotation(to_i64(Some(a.timestamp)), &a.value, ep.clone());
        }
        if let Some(end) = end {
            annotation_count += 1;
            v1.add_annotation(md.end_ts, end, ep.clone());
        }
        for (key, value) in &span.tags {
            v1.add_tag(key, value, ep.clone());
        }
        if annotation_count == 0 && ep.is_some() && span.tags.is_empty() {
            v1.add_tag("lc", "", ep.clone());
        }
        if let (Some(addr), Some(remote)) = (md.addr, &span.remote_endpoint) {
            v1.add_address(addr, Some(remote.clone()));
        }
        v1.annotations
            .sort_by(|a, b| (a.timestamp, &a.value).cmp(&(b.timestamp, &b.value)));
        v1.binary_annotations.sort_by(|a, b| a.key.cmp(&b.key));
        v1
    }
}

fn to_i64(v: Option<u64>) -> i64 {
    v.map_or(0, |v| i64::try_from(v).unwrap_or(i64::MAX))
}

/// A positive Java long as an optional v2 time; zero or negative means absent.
fn micros(v: i64) -> Option<u64> {
    u64::try_from(v).ok().filter(|v| *v != 0)
}

/// The core annotations the converter found; like Zipkin, the last one of each kind wins.
#[derive(Default)]
struct Core {
    cs: Option<V1Annotation>,
    sr: Option<V1Annotation>,
    ss: Option<V1Annotation>,
    cr: Option<V1Annotation>,
    ms: Option<V1Annotation>,
    mr: Option<V1Annotation>,
    ws: Option<V1Annotation>,
    wr: Option<V1Annotation>,
}

/// The working state of one conversion: `spans[0]` is the span that receives data with no
/// endpoint; further spans are added per distinct local service.
struct Converter {
    spans: Vec<Span>,
    core: Core,
}

impl Converter {
    fn new(source: &V1Span) -> Self {
        Converter {
            spans: vec![new_span(source)],
            core: Core::default(),
        }
    }

    fn convert(mut self, source: &V1Span, out: &mut Vec<Span>) {
        self.process_annotations(source);
        self.process_binary_annotations(source);
        for mut span in self.spans {
            span.normalize();
            out.push(span);
        }
    }

    fn process_annotations(&mut self, source: &V1Span) {
        for a in &source.annotations {
            let current = self.for_endpoint(source, a.endpoint.as_ref());
            // Core annotations need an endpoint; without one they are plain events.
            if a.value.len() != 2 || a.endpoint.is_none() {
                self.add_annotation(current, a.timestamp, &a.value);
                continue;
            }
            match a.value.as_str() {
                "cs" => {
                    self.spans[current].kind = Some(Kind::Client);
                    self.core.cs = Some(a.clone());
                }
                "sr" => {
                    self.spans[current].kind = Some(Kind::Server);
                    self.core.sr = Some(a.clone());
                }
                "ss" => {
                    self.spans[current].kind = Some(Kind::Server);
                    self.core.ss = Some(a.clone());
                }
                "cr" => {
                    self.spans[current].kind = Some(Kind::Client);
                    self.core.cr = Some(a.clone());
                }
                "ms" => {
                    self.spans[current].kind = Some(Kind::Producer);
                    self.core.ms = Some(a.clone());
                }
                "mr" => {
                    self.spans[current].kind = Some(Kind::Consumer);
                    self.core.mr = Some(a.clone());
                }
                "ws" => self.core.ws = Some(a.clone()),
                "wr" => self.core.wr = Some(a.clone()),
                _ => self.add_annotation(current, a.timestamp, &a.value),
            }
        }

        // Bridged data can lack the start annotation while the span's own timestamp and
        // duration still say where it began.
        if self.core.cs.is_none() && end_reflects_duration(self.core.cr.as_ref(), source) {
            let cr = self.core.cr.as_ref().expect("checked above");
            self.core.cs = Some(V1Annotation {
                timestamp: source.timestamp,
                value: "cs".into(),
                endpoint: cr.endpoint.clone(),
            });
        }
        if self.core.sr.is_none() && end_reflects_duration(self.core.ss.as_ref(), source) {
            let ss = self.core.ss.as_ref().expect("checked above");
            self.core.sr = Some(V1Annotation {
                timestamp: source.timestamp,
                value: "sr".into(),
                endpoint: ss.endpoint.clone(),
            });
        }

        let core = &self.core;
        let (cs, sr, ss, cr) = (
            core.cs.clone(),
            core.sr.clone(),
            core.ss.clone(),
            core.cr.clone(),
        );
        let (ms, mr, ws, wr) = (
            core.ms.clone(),
            core.mr.clone(),
            core.ws.clone(),
            core.wr.clone(),
        );

        match (&cs, &sr) {
            (Some(cs), Some(sr)) => {
                // In a shared span the client side owns the duration.
                self.maybe_timestamp_duration(source, cs, cr.as_ref());
                let client = self.for_endpoint(source, cs.endpoint.as_ref());
                let server = if same_service(cs.endpoint.as_ref(), sr.endpoint.as_ref()) {
                    // Loopback: both sides are the same service, so fork the server side.
                    self.spans[client].kind = Some(Kind::Client);
                    let server = self.new_span(source, sr.endpoint.clone());
                    self.spans[server].kind = Some(Kind::Server);
                    server
                } else {
                    self.for_endpoint(source, sr.endpoint.as_ref())
                };
                self.spans[server].shared = true;
                self.spans[server].timestamp = micros(sr.timestamp);
                if let Some(ss) = &ss {
                    self.spans[server].duration = micros(ss.timestamp.wrapping_sub(sr.timestamp));
                }
                if cr.is_none() && source.duration == 0 {
                    // A one-way RPC has no duration.
                    self.spans[client].duration = None;
                }
            }
            _ => {
                if let (Some(cs), Some(cr)) = (&cs, &cr) {
                    self.maybe_timestamp_duration(source, cs, Some(cr));
                } else if let (Some(sr), Some(ss)) = (&sr, &ss) {
                    self.maybe_timestamp_duration(source, sr, Some(ss));
                } else {
                    self.handle_incomplete_rpc(source);
                }
            }
        }

        // v1 had no shared flag: a server-side span without its own timestamp (or with a
        // finished server side but no duration) was, by convention, shared with the client.
        if let (None, Some(sr)) = (&cs, &sr) {
            if source.timestamp == 0 || (ss.is_some() && source.duration == 0) {
                let server = self.for_endpoint(source, sr.endpoint.as_ref());
                self.spans[server].shared = true;
            }
        }

        match (&ms, &mr) {
            (Some(ms), Some(mr)) => {
                // Messaging spans should not share ids, but when they do, fork like RPC.
                let producer = self.for_endpoint(source, ms.endpoint.as_ref());
                let consumer = if same_service(ms.endpoint.as_ref(), mr.endpoint.as_ref()) {
                    self.spans[producer].kind = Some(Kind::Producer);
                    let consumer = self.new_span(source, mr.endpoint.clone());
                    self.spans[consumer].kind = Some(Kind::Consumer);
                    consumer
                } else {
                    self.for_endpoint(source, mr.endpoint.as_ref())
                };
                self.spans[consumer].shared = true;
                if let Some(wr) = &wr {
                    self.spans[consumer].timestamp = micros(wr.timestamp);
                    self.spans[consumer].duration = micros(mr.timestamp.wrapping_sub(wr.timestamp));
                } else {
                    self.spans[consumer].timestamp = micros(mr.timestamp);
                }
                self.spans[producer].timestamp = micros(ms.timestamp);
                self.spans[producer].duration = ws
                    .as_ref()
                    .and_then(|ws| micros(ws.timestamp.wrapping_sub(ms.timestamp)));
            }
            (Some(ms), None) => self.maybe_timestamp_duration(source, ms, ws.as_ref()),
            (None, Some(mr)) => match &wr {
                Some(wr) => self.maybe_timestamp_duration(source, wr, Some(mr)),
                None => self.maybe_timestamp_duration(source, mr, None),
            },
            (None, None) => {
                for a in [&ws, &wr].into_iter().flatten() {
                    let span = self.for_endpoint(source, a.endpoint.as_ref());
                    self.add_annotation(span, a.timestamp, &a.value);
                }
            }
        }
    }

    /// Without a complete pair of core annotations, the span keeps what it has: its start
    /// as timestamp and its end as a plain annotation.
    fn handle_incomplete_rpc(&mut self, source: &V1Span) {
        for i in 0..self.spans.len() {
            match self.spans[i].kind {
                Some(Kind::Client) => {
                    if let Some(cs) = &self.core.cs {
                        self.spans[i].timestamp = micros(cs.timestamp);
                    }
                    if let Some(cr) = self.core.cr.clone() {
                        self.add_annotation(i, cr.timestamp, &cr.value);
                    }
                }
                Some(Kind::Server) => {
                    if let Some(sr) = &self.core.sr {
                        self.spans[i].timestamp = micros(sr.timestamp);
                    }
                    if let Some(ss) = self.core.ss.clone() {
                        self.add_annotation(i, ss.timestamp, &ss.value);
                    }
                }
                _ => {}
            }
        }
        if source.timestamp != 0 {
            self.spans[0].timestamp = micros(source.timestamp);
            self.spans[0].duration = micros(source.duration);
        }
    }

    fn maybe_timestamp_duration(
        &mut self,
        source: &V1Span,
        begin: &V1Annotation,
        end: Option<&V1Annotation>,
    ) {
        let span = self.for_endpoint(source, begin.endpoint.as_ref());
        let span = &mut self.spans[span];
        if source.timestamp != 0 && source.duration != 0 {
            span.timestamp = micros(source.timestamp);
            span.duration = micros(source.duration);
        } else {
            span.timestamp = micros(begin.timestamp);
            if let Some(end) = end {
                span.duration = micros(end.timestamp.wrapping_sub(begin.timestamp));
            }
        }
    }

    fn process_binary_annotations(&mut self, source: &V1Span) {
        let (mut ca, mut sa, mut ma) = (None, None, None);
        for b in &source.binary_annotations {
            // Address annotations should have the value true, but some zipkin-ruby versions
            // wrote "1"; Zipkin reads any ca/sa/ma as an address, and so do we.
            match b.key.as_str() {
                "ca" => {
                    ca = b.endpoint.clone();
                    continue;
                }
                "sa" => {
                    sa = b.endpoint.clone();
                    continue;
                }
                "ma" => {
                    ma = b.endpoint.clone();
                    continue;
                }
                _ => {}
            }
            let Some(value) = &b.string_value else {
                continue;
            };
            let current = self.for_endpoint(source, b.endpoint.as_ref());
            // An empty "lc" tag only marks the local endpoint.
            if b.key == "lc" && value.is_empty() {
                continue;
            }
            self.spans[current]
                .tags
                .push((b.key.clone(), value.clone()));
        }

        let core = &self.core;
        let no_core =
            core.cs.is_none() && core.cr.is_none() && core.ss.is_none() && core.sr.is_none();
        if no_core && (ca.is_some() || sa.is_some()) {
            match (ca, sa) {
                (Some(ca), Some(sa)) => {
                    let span = self.for_endpoint(source, Some(&ca));
                    self.spans[span].remote_endpoint = Some(sa);
                }
                // "sa" alone is just a remote address: it does not make a client span.
                (None, Some(sa)) => self.spans[0].remote_endpoint = Some(sa),
                // "ca" alone means we are looking at the server side.
                (Some(ca), None) => {
                    self.spans[0].kind = Some(Kind::Server);
                    self.spans[0].remote_endpoint = Some(ca);
                }
                (None, None) => unreachable!("one of them is set"),
            }
            return;
        }

        let server = self.core.sr.clone().or_else(|| self.core.ss.clone());
        if let (Some(mut ca), Some(server)) = (ca, server) {
            if Some(&ca) != server.endpoint.as_ref() {
                // Finagle logs the client socket as "ca" under the server's own service
                // name; dropping the name avoids a false loopback link.
                if same_service(Some(&ca), server.endpoint.as_ref()) {
                    ca.service_name = None;
                }
                let span = self.for_endpoint(source, server.endpoint.as_ref());
                self.spans[span].remote_endpoint = Some(ca).filter(|e| !e.is_empty());
            }
        }
        if let Some(sa) = sa {
            let client = self.core.cs.clone().or_else(|| self.core.cr.clone());
            if let Some(client) = client {
                let span = self.for_endpoint(source, client.endpoint.as_ref());
                self.spans[span].remote_endpoint = Some(sa);
            }
        }
        if let Some(ma) = ma {
            // Both sides get the broker, in case a messaging span was shared by mistake.
            for a in [self.core.ms.clone(), self.core.mr.clone()]
                .into_iter()
                .flatten()
            {
                let span = self.for_endpoint(source, a.endpoint.as_ref());
                self.spans[span].remote_endpoint = Some(ma.clone());
            }
        }
    }

    /// The span that data logged by `endpoint` belongs to: the first span for data with no
    /// endpoint, else the span of the same service (a span without a local endpoint
    /// adopts this one), else a new span.
    fn for_endpoint(&mut self, source: &V1Span, endpoint: Option<&Endpoint>) -> usize {
        let Some(endpoint) = endpoint else {
            return 0;
        };
        for (i, span) in self.spans.iter_mut().enumerate() {
            match &span.local_endpoint {
                None => {
                    span.local_endpoint = Some(endpoint.clone()).filter(|e| !e.is_empty());
                    return i;
                }
                Some(local) if local.service_name == endpoint.service_name => return i,
                Some(_) => {}
            }
        }
        self.new_span(source, Some(endpoint.clone()))
    }

    fn new_span(&mut self, source: &V1Span, endpoint: Option<Endpoint>) -> usize {
        let mut span = new_span(source);
        span.local_endpoint = endpoint.filter(|e| !e.is_empty());
        self.spans.push(span);
        self.spans.len() - 1
    }

    fn add_annotation(&mut self, span: usize, timestamp: i64, value: &str) {
        // v2 annotation times are unsigned; Zipkin keeps a negative one as is, which no
        // reader can place, so we store it at zero like other absent times.
        let timestamp = u64::try_from(timestamp).unwrap_or(0);
        self.spans[span]
            .annotations
            .push(crate::model::Annotation::new(timestamp, value));
    }
}

fn new_span(source: &V1Span) -> Span {
    let trace_id =
        TraceId::from_parts(source.trace_id_high, source.trace_id).expect("finish checked ids");
    let id = SpanId::new(source.id).expect("finish checked ids");
    let mut span = Span::new(trace_id, id);
    span.parent_id = SpanId::new(source.parent_id);
    span.name = source.name.clone();
    span.debug = source.debug == Some(true);
    span
}

fn end_reflects_duration(end: Option<&V1Annotation>, source: &V1Span) -> bool {
    end.is_some_and(|end| {
        source.timestamp != 0
            && source.duration != 0
            && source.timestamp.wrapping_add(source.duration) == end.timestamp
    })
}

fn same_service(left: Option<&Endpoint>, right: Option<&Endpoint>) -> bool {
    left.and_then(|e| e.service_name.as_ref()) == right.and_then(|e| e.service_name.as_ref())
}

/// What `V2SpanConverter` reads from a v2 span before writing v1 annotations.
struct Metadata {
    start_ts: i64,
    end_ts: i64,
    begin: Option<&'static str>,
    end: Option<&'static str>,
    addr: Option<&'static str>,
}

impl Metadata {
    fn parse(span: &Span) -> Self {
        let mut start_ts = to_i64(span.timestamp);
        let mut end_ts = match (start_ts, span.duration) {
            (s, Some(d)) if s != 0 => s.saturating_add(to_i64(Some(d))),
            _ => 0,
        };
        let (mut ms_ts, mut ws_ts, mut wr_ts, mut mr_ts) = (0, 0, 0, 0);
        let mut kind = span.kind;
        // Annotations may hold better timestamps, or imply the kind.
        for a in &span.annotations {
            let ts = to_i64(Some(a.timestamp));
            match a.value.as_str() {
                "cs" => {
                    kind = Some(Kind::Client);
                    start_ts = start_ts.min(ts);
                }
                "sr" => {
                    kind = Some(Kind::Server);
                    start_ts = start_ts.min(ts);
                }
                "ss" => {
                    kind = Some(Kind::Server);
                    end_ts = end_ts.max(ts);
                }
                "cr" => {
                    kind = Some(Kind::Client);
                    end_ts = end_ts.max(ts);
                }
                "ms" => {
                    kind = Some(Kind::Producer);
                    ms_ts = ts;
                }
                "mr" => {
                    kind = Some(Kind::Consumer);
                    mr_ts = ts;
                }
                "ws" => ws_ts = ts,
                "wr" => wr_ts = ts,
                _ => {}
            }
        }
        let has_remote = span.remote_endpoint.is_some();
        let mut md = Metadata {
            start_ts,
            end_ts,
            begin: None,
            end: None,
            addr: has_remote.then_some("sa"),
        };
        let Some(kind) = kind else {
            return md;
        };
        match kind {
            Kind::Client => {
                md.addr = Some("sa");
                md.begin = Some("cs");
                md.end = Some("cr");
            }
            Kind::Server => {
                md.addr = Some("ca");
                md.begin = Some("sr");
                md.end = Some("ss");
            }
            Kind::Producer => {
                md.addr = Some("ma");
                md.begin = Some("ms");
                md.end = Some("ws");
                if md.start_ts == 0 || (ms_ts != 0 && ms_ts < md.start_ts) {
                    md.start_ts = ms_ts;
                }
                if md.end_ts == 0 || (ws_ts != 0 && ws_ts > md.end_ts) {
                    md.end_ts = ws_ts;
                }
            }
            Kind::Consumer => {
                md.addr = Some("ma");
                if md.start_ts == 0 || (wr_ts != 0 && wr_ts < md.start_ts) {
                    md.start_ts = wr_ts;
                }
                if md.end_ts == 0 || (mr_ts != 0 && mr_ts > md.end_ts) {
                    md.end_ts = mr_ts;
                }
                if md.end_ts != 0 || wr_ts != 0 {
                    md.begin = Some("wr");
                    md.end = Some("mr");
                } else {
                    md.begin = Some("mr");
                }
            }
        }
        if !has_remote {
            md.addr = None;
        }
        md
    }
}

#[cfg(test)]
mod tests {
    //! Cases ported from Zipkin's `SpanConverterTest` and `V1SpanConverterTest`; each
    //! keeps the Java test's name in a comment.

    use super::*;

    const TS: i64 = 1_472_470_996_199_000;

    fn frontend() -> Endpoint {
        Endpoint::service("frontend").with_ip("172.17.0.13")
    }

    fn backend() -> Endpoint {
        Endpoint::service("backend")
            .with_ip("192.168.99.101")
            .with_port(9000)
    }

    fn kafka() -> Endpoint {
        Endpoint::service("kafka")
    }

    fn v1(trace: u64, parent: u64, id: u64, name: &str) -> V1Span {
        let mut span = V1Span {
            trace_id: trace,
            parent_id: parent,
            id,
            ..V1Span::default()
        };
        span.set_name(name);
        span
    }

    fn v2(parent: Option<u64>, id: u64, name: &str) -> crate::model::SpanBuilder {
        let mut b =
            Span::builder(TraceId::from_parts(0, 1).unwrap(), SpanId::new(id).unwrap()).name(name);
        if let Some(p) = parent {
            b = b.parent_id(SpanId::new(p).unwrap());
        }
        b
    }

    #[track_caller]
    fn convert(mut v1: V1Span) -> Vec<Span> {
        v1.finish().unwrap();
        let mut out = Vec::new();
        v1.into_v2(&mut out);
        out
    }

    #[test]
    fn client_span_takes_kind_times_and_remote_endpoint_from_v1_annotations() {
        // SpanConverterTest.client
        let mut s = v1(1, 2, 3, "get");
        s.timestamp = TS;
        s.duration = 207_000;
        s.add_annotation(TS, "cs", Some(frontend()));
        s.add_annotation(TS + 39_000, "ws", Some(frontend()));
        s.add_annotation(TS + 204_000, "wr", Some(frontend()));
        s.add_annotation(TS + 207_000, "cr", Some(frontend()));
        s.add_tag("http.path", "/api", Some(frontend()));
        s.add_tag("clnt/finagle.version", "6.45.0", Some(frontend()));
        s.add_address("sa", Some(backend()));
        let expected = v2(Some(2), 3, "get")
            .kind(Kind::Client)
            .local_endpoint(frontend())
            .remote_endpoint(backend())
            .timestamp(TS as u64)
            .duration(207_000)
            .annotation(TS as u64 + 39_000, "ws")
            .annotation(TS as u64 + 204_000, "wr")
            .tag("http.path", "/api")
            .tag("clnt/finagle.version", "6.45.0")
            .build();
        assert_eq!(convert(s.clone()), vec![expected.clone()]);
        // And back: SpanConverterTest checks both directions.
        let mut back = V1Span::from_v2(&expected);
        back.finish().unwrap();
        s.finish().unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn unfinished_client_keeps_its_start() {
        // SpanConverterTest.client_unfinished
        let mut s = v1(1, 2, 3, "get");
        s.timestamp = TS;
        s.add_annotation(TS, "cs", Some(frontend()));
        s.add_annotation(TS + 39_000, "ws", Some(frontend()));
        let expected = v2(Some(2), 3, "get")
            .kind(Kind::Client)
            .local_endpoint(frontend())
            .timestamp(TS as u64)
            .annotation(TS as u64 + 39_000, "ws")
            .build();
        assert_eq!(convert(s), vec![expected]);
    }

    #[test]
    fn late_cr_with_sa_is_a_client_span_with_an_annotation() {
        // SpanConverterTest.lateRemoteEndpoint_cr
        let mut s = v1(1, 2, 3, "get");
        s.add_annotation(TS, "cr", Some(frontend()));
        s.add_address("sa", Some(backend()));
        let expected = v2(Some(2), 3, "get")
            .kind(Kind::Client)
            .local_endpoint(frontend())
            .remote_endpoint(backend())
            .annotation(TS as u64, "cr")
            .build();
        assert_eq!(convert(s), vec![expected]);
    }

    #[test]
    fn sa_alone_is_only_a_remote_endpoint() {
        // SpanConverterTest.lateRemoteEndpoint_sa
        let mut s = v1(1, 2, 3, "");
        s.add_address("sa", Some(backend()));
        let expected = v2(Some(2), 3, "").remote_endpoint(backend()).build();
        assert_eq!(convert(s), vec![expected]);
    }

    #[test]
    fn lc_marks_the_local_endpoint_without_becoming_a_tag() {
        // SpanConverterTest.noAnnotationsExceptAddresses
        let mut s = v1(1, 2, 3, "get");
        s.timestamp = TS;
        s.duration = 207_000;
        s.add_tag("lc", "", Some(frontend()));
        s.add_address("sa", Some(backend()));
        let expected = v2(Some(2), 3, "get")
            .local_endpoint(frontend())
            .remote_endpoint(backend())
            .timestamp(TS as u64)
            .duration(207_000)
            .build();
        assert_eq!(convert(s), vec![expected]);
    }

    #[test]
    fn server_span_with_ca_becomes_a_server_span() {
        // SpanConverterTest.server
        let mut s = v1(1, 0, 2, "get");
        s.timestamp = TS;
        s.duration = 207_000;
        s.add_annotation(TS, "sr", Some(backend()));
        s.add_annotation(TS + 207_000, "ss", Some(backend()));
        s.add_tag("http.path", "/api", Some(backend()));
        s.add_tag("finagle.version", "6.45.0", Some(backend()));
        s.add_address("ca", Some(frontend()));
        let expected = v2(None, 2, "get")
            .kind(Kind::Server)
            .local_endpoint(backend())
            .remote_endpoint(frontend())
            .timestamp(TS as u64)
            .duration(207_000)
            .tag("http.path", "/api")
            .tag("finagle.version", "6.45.0")
            .build();
        assert_eq!(convert(s), vec![expected]);
    }

    #[test]
    fn core_annotations_without_endpoint_are_plain_annotations() {
        // SpanConverterTest.missingEndpoints_coreAnnotation
        let mut s = v1(1, 1, 2, "foo");
        s.timestamp = TS;
        s.add_annotation(TS, "sr", None);
        let expected = v2(Some(1), 2, "foo")
            .timestamp(TS as u64)
            .annotation(TS as u64, "sr")
            .build();
        assert_eq!(convert(s), vec![expected]);
    }

    #[test]
    fn server_without_timestamp_is_shared() {
        // SpanConverterTest.server_shared_v1_no_timestamp_duration
        let mut s = v1(1, 2, 3, "get");
        s.add_annotation(TS, "sr", Some(backend()));
        s.add_annotation(TS + 207_000, "ss", Some(backend()));
        let expected = v2(Some(2), 3, "get")
            .kind(Kind::Server)
            .shared(true)
            .local_endpoint(backend())
            .timestamp(TS as u64)
            .duration(207_000)
            .build();
        assert_eq!(convert(s), vec![expected]);
    }

    #[test]
    fn incomplete_server_is_shared() {
        // SpanConverterTest.server_incomplete_shared
        let mut s = v1(1, 2, 3, "get");
        s.add_annotation(TS, "sr", Some(backend()));
        let expected = v2(Some(2), 3, "get")
            .kind(Kind::Server)
            .shared(true)
            .local_endpoint(backend())
            .timestamp(TS as u64)
            .build();
        assert_eq!(convert(s), vec![expected]);
    }

    #[test]
    fn ca_alone_means_a_server() {
        // SpanConverterTest.lateRemoteEndpoint_ca
        let mut s = v1(1, 0, 2, "");
        s.add_address("ca", Some(frontend()));
        let expected = v2(None, 2, "")
            .kind(Kind::Server)
            .remote_endpoint(frontend())
            .build();
        assert_eq!(convert(s), vec![expected]);
    }

    #[test]
    fn producer_and_consumer_durations_come_from_ws_and_wr() {
        // SpanConverterTest.producer_duration, consumer_duration
        let mut s = v1(1, 2, 3, "send");
        s.timestamp = TS;
        s.duration = 51_000;
        s.add_annotation(TS, "ms", Some(frontend()));
        s.add_annotation(TS + 51_000, "ws", Some(frontend()));
        let expected = v2(Some(2), 3, "send")
            .kind(Kind::Producer)
            .local_endpoint(frontend())
            .timestamp(TS as u64)
            .duration(51_000)
            .build();
        assert_eq!(convert(s), vec![expected]);

        let mut s = v1(1, 2, 3, "next-message");
        s.timestamp = TS;
        s.duration = 51_000;
        s.add_annotation(TS, "wr", Some(backend()));
        s.add_annotation(TS + 51_000, "mr", Some(backend()));
        let expected = v2(Some(2), 3, "next-message")
            .kind(Kind::Consumer)
            .local_endpoint(backend())
            .timestamp(TS as u64)
            .duration(51_000)
            .build();
        assert_eq!(convert(s), vec![expected.clone()]);
        let mut back = V1Span::from_v2(&expected);
        back.finish().unwrap();
        assert_eq!(back.annotations.len(), 2);
        assert_eq!(back.annotations[0].value, "wr");
    }

    #[test]
    fn client_and_server_in_one_span_split_into_client_and_shared_server() {
        // SpanConverterTest.clientAndServer
        let mut s = v1(1, 2, 3, "get");
        s.timestamp = TS;
        s.duration = 207_000;
        s.add_annotation(TS, "cs", Some(frontend()));
        s.add_annotation(TS + 39_000, "ws", Some(frontend()));
        s.add_annotation(TS + 51_000, "sr", Some(backend()));
        s.add_annotation(TS + 151_000, "ss", Some(backend()));
        s.add_annotation(TS + 204_000, "wr", Some(frontend()));
        s.add_annotation(TS + 207_000, "cr", Some(frontend()));
        s.add_tag("http.path", "/api", Some(frontend()));
        s.add_tag("http.path", "/BACKEND", Some(backend()));
        s.add_tag("clnt/finagle.version", "6.45.0", Some(frontend()));
        s.add_tag("srv/finagle.version", "6.44.0", Some(backend()));
        s.add_address("ca", Some(frontend()));
        s.add_address("sa", Some(backend()));
        let client = v2(Some(2), 3, "get")
            .kind(Kind::Client)
            .local_endpoint(frontend())
            .remote_endpoint(backend())
            .timestamp(TS as u64)
            .duration(207_000)
            .annotation(TS as u64 + 39_000, "ws")
            .annotation(TS as u64 + 204_000, "wr")
            .tag("http.path", "/api")
            .tag("clnt/finagle.version", "6.45.0")
            .build();
        let server = v2(Some(2), 3, "get")
            .kind(Kind::Server)
            .shared(true)
            .local_endpoint(backend())
            .remote_endpoint(frontend())
            .timestamp(TS as u64 + 51_000)
            .duration(100_000)
            .tag("http.path", "/BACKEND")
            .tag("srv/finagle.version", "6.44.0")
            .build();
        assert_eq!(convert(s), vec![client, server]);
    }

    #[test]
    fn loopback_rpc_still_splits_into_two_spans() {
        // SpanConverterTest.clientAndServer_loopback
        let mut s = v1(1, 2, 3, "get");
        s.timestamp = TS;
        s.duration = 207_000;
        s.add_annotation(TS, "cs", Some(frontend()));
        s.add_annotation(TS + 51_000, "sr", Some(frontend()));
        s.add_annotation(TS + 151_000, "ss", Some(frontend()));
        s.add_annotation(TS + 207_000, "cr", Some(frontend()));
        let client = v2(Some(2), 3, "get")
            .kind(Kind::Client)
            .local_endpoint(frontend())
            .timestamp(TS as u64)
            .duration(207_000)
            .build();
        let server = v2(Some(2), 3, "get")
            .kind(Kind::Server)
            .shared(true)
            .local_endpoint(frontend())
            .timestamp(TS as u64 + 51_000)
            .duration(100_000)
            .build();
        assert_eq!(convert(s), vec![client, server]);
    }

    #[test]
    fn one_way_loopback_has_no_durations() {
        // SpanConverterTest.oneway_loopback
        let mut s = v1(1, 2, 3, "get");
        s.add_annotation(TS, "cs", Some(frontend()));
        s.add_annotation(TS + 51_000, "sr", Some(frontend()));
        let client = v2(Some(2), 3, "get")
            .kind(Kind::Client)
            .local_endpoint(frontend())
            .timestamp(TS as u64)
            .build();
        let server = v2(Some(2), 3, "get")
            .kind(Kind::Server)
            .shared(true)
            .local_endpoint(frontend())
            .timestamp(TS as u64 + 51_000)
            .build();
        assert_eq!(convert(s), vec![client, server]);
    }

    #[test]
    fn missing_cs_is_inferred_from_the_span_timestamp() {
        // SpanConverterTest.client_missingCs
        let mut s = v1(1, 0, 2, "get");
        s.timestamp = TS;
        s.duration = 207_000;
        s.add_annotation(TS + 207_000, "cs", Some(frontend()));
        let expected = v2(None, 2, "get")
            .kind(Kind::Client)
            .local_endpoint(frontend())
            .timestamp(TS as u64)
            .duration(207_000)
            .build();
        assert_eq!(convert(s), vec![expected]);
    }

    #[test]
    fn finagle_ca_with_the_server_service_name_loses_its_name() {
        // SpanConverterTest.redundantServiceNameOnAddressAnnotations_serverRetainsClientSocket
        let mut s = v1(1, 2, 3, "get");
        s.timestamp = TS;
        s.duration = 207_000;
        s.add_annotation(TS, "sr", Some(backend()));
        s.add_annotation(TS + 207_000, "ss", Some(backend()));
        let mut ca = frontend();
        ca.service_name = Some("backend".into());
        s.add_address("ca", Some(ca));
        s.add_address("sa", Some(backend()));
        let mut remote = frontend();
        remote.service_name = None;
        let expected = v2(Some(2), 3, "get")
            .kind(Kind::Server)
            .local_endpoint(backend())
            .remote_endpoint(remote)
            .timestamp(TS as u64)
            .duration(207_000)
            .build();
        assert_eq!(convert(s), vec![expected]);
    }

    #[test]
    fn shared_messaging_span_splits_into_producer_and_consumer() {
        // SpanConverterTest.producerAndConsumer
        let mut s = v1(1, 2, 3, "whatev");
        s.add_annotation(TS, "ms", Some(frontend()));
        s.add_annotation(TS + 39_000, "ws", Some(frontend()));
        s.add_annotation(TS + 204_000, "wr", Some(backend()));
        s.add_annotation(TS + 207_000, "mr", Some(backend()));
        s.add_address("ma", Some(kafka()));
        let producer = v2(Some(2), 3, "whatev")
            .kind(Kind::Producer)
            .local_endpoint(frontend())
            .remote_endpoint(kafka())
            .timestamp(TS as u64)
            .duration(39_000)
            .build();
        let consumer = v2(Some(2), 3, "whatev")
            .kind(Kind::Consumer)
            .shared(true)
            .local_endpoint(backend())
            .remote_endpoint(kafka())
            .timestamp(TS as u64 + 204_000)
            .duration(3_000)
            .build();
        assert_eq!(convert(s), vec![producer, consumer]);
    }

    #[test]
    fn only_address_annotations_make_an_unkinded_span() {
        // SpanConverterTest.onlyAddressAnnotations
        let mut s = v1(1, 2, 3, "rpc");
        s.add_address("ca", Some(frontend()));
        s.add_address("sa", Some(backend()));
        let expected = v2(Some(2), 3, "rpc")
            .local_endpoint(frontend())
            .remote_endpoint(backend())
            .build();
        assert_eq!(convert(s), vec![expected]);
    }

    #[test]
    fn string_valued_address_annotations_are_read_leniently() {
        // V1SpanConverterTest.convert_sa_incorrect_value
        let mut s = v1(1, 0, 2, "");
        s.add_annotation(TS, "cs", Some(frontend()));
        s.add_tag("sa", "1", Some(backend()));
        let expected = v2(None, 2, "")
            .kind(Kind::Client)
            .local_endpoint(frontend())
            .remote_endpoint(backend())
            .timestamp(TS as u64)
            .build();
        assert_eq!(convert(s), vec![expected]);
    }

    #[test]
    fn data_without_endpoint_goes_on_the_first_span() {
        // SpanConverterTest.dataMissingEndpointGoesOnFirstSpan
        let mut s = v1(1, 0, 2, "missing");
        s.add_annotation(TS, "foo", Some(frontend()));
        s.add_annotation(TS + 1, "baz", Some(backend()));
        s.add_annotation(TS + 2, "missing", None);
        s.add_tag("foo", "bar", Some(frontend()));
        s.add_tag("baz", "qux", Some(backend()));
        s.add_tag("missing", "", None);
        let first = v2(None, 2, "missing")
            .local_endpoint(frontend())
            .annotation(TS as u64, "foo")
            .annotation(TS as u64 + 2, "missing")
            .tag("foo", "bar")
            .tag("missing", "")
            .build();
        let second = v2(None, 2, "missing")
            .local_endpoint(backend())
            .annotation(TS as u64 + 1, "baz")
            .tag("baz", "qux")
            .build();
        assert_eq!(convert(s), vec![first, second]);
    }

    #[test]
    fn zero_ids_are_rejected_with_zipkin_messages() {
        let mut s = V1Span::default();
        assert_eq!(s.finish().unwrap_err().to_string(), "traceId == 0");
        s.trace_id = 1;
        assert_eq!(s.finish().unwrap_err().to_string(), "id == 0");
    }

    #[test]
    fn v2_to_v1_writes_lc_for_a_local_span() {
        // SpanConverterTest.localSpan_emptyComponent
        let span = v2(None, 2, "local")
            .local_endpoint(Endpoint::service("frontend"))
            .timestamp(TS as u64)
            .duration(207_000)
            .build();
        let v1 = V1Span::from_v2(&span);
        assert_eq!(v1.binary_annotations.len(), 1);
        assert_eq!(v1.binary_annotations[0].key, "lc");
        assert_eq!(convert(v1), vec![span]);
    }
}
