//! Zipkin's `Trace.merge`: cleaning up one trace's raw fragments.
//!
//! Instrumentation may report a span in pieces (a flush of annotations, then the finish),
//! and B3-style RPCs put the CLIENT and the SERVER under one span id. Fragments are sorted
//! so that pieces of one span from one host sit next to each other, clients before shared
//! servers and endpoint-less pieces before the rest; adjacent compatible pieces are folded
//! together. Behaviour that depends on that order (which piece absorbs an endpoint-less
//! one, which trace id wins) is kept exactly, down to comparing IP addresses as text.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};

use super::Fragment;
use crate::model::{Endpoint, Kind, Span, SpanId, TraceId};

/// Merges the fragments of one trace the way Zipkin's `Trace.merge` does.
///
/// - Fragments with the same span id, the same `shared` flag and compatible local
///   endpoints (no field set on both sides with different values) become one span:
///   the first value wins for scalars, endpoints are completed field by field,
///   annotations and tags accumulate.
/// - If any fragment has a 128-bit trace id, the first such id (in merge order) replaces
///   the 64-bit ids, because some servers truncate the incoming id.
/// - A SERVER directly after a CLIENT with the same id is marked `shared`, and a shared
///   span that lost its parent id inherits the client's. The two halves stay separate.
///
/// The result is ordered by span id, clients before their shared servers.
pub fn merge_trace(mut spans: Vec<Span>) -> Vec<Span> {
    if spans.len() <= 1 {
        return spans;
    }
    sort_fragments(&mut spans);
    let trace_id = preferred_trace_id(&spans);
    merge_sorted(&mut spans);
    for span in &mut spans {
        // Zipkin compares id lengths only: a different 128-bit id is left alone.
        if span.trace_id.is_128() != trace_id.is_128() {
            span.trace_id = trace_id;
        }
    }
    spans
}

/// The first 128-bit trace id in merge order, else the last id.
fn preferred_trace_id(sorted: &[Span]) -> TraceId {
    sorted
        .iter()
        .map(|s| s.trace_id)
        .find(|id| id.is_128())
        .unwrap_or_else(|| sorted[sorted.len() - 1].trace_id)
}

/// Orders fragments as Zipkin's cleanup comparator does (the sort is stable, like Java's).
pub(crate) fn sort_fragments<T: Fragment>(fragments: &mut [T]) {
    fragments.sort_by(cleanup_order);
}

/// Folds adjacent pieces of the same span together and backfills `shared` and parent ids,
/// in place. `fragments` must be ordered by [`sort_fragments`].
pub(crate) fn merge_sorted<T: Fragment>(fragments: &mut Vec<T>) {
    let len = fragments.len();
    // Retained spans are compacted into [0, write); slots in [write, read) are leftovers.
    let mut write = 0;
    let mut read = 0;
    while read < len {
        // Zipkin's backfill looks at the first piece as reported, not at the merged span.
        let first_kind = fragments[read].kind();
        let first_parent = fragments[read].parent_id();
        let mut shared = fragments[read].shared();

        let mut next = read + 1;
        while next < len
            && fragments[next].id() == fragments[read].id()
            && fragments[next].shared() == shared
            // The merged endpoint so far is exactly what Zipkin's EndpointTracker holds.
            && same_host(
                fragments[read].local_endpoint(),
                fragments[next].local_endpoint(),
            )
        {
            let (head, tail) = fragments.split_at_mut(next);
            head[read].absorb(&mut tail[0]);
            next += 1;
        }

        fragments.swap(write, read);
        if write > 0 {
            let (done, rest) = fragments.split_at_mut(write);
            let (last, span) = (&done[write - 1], &mut rest[0]);
            if last.id() == span.id() {
                // Some instrumentation forgets the flag on the server half of an RPC.
                if last.kind() == Some(Kind::Client) && first_kind == Some(Kind::Server) && !shared
                {
                    shared = true;
                    span.set_shared();
                }
                // ... or does not propagate the parent id to it.
                if shared && first_parent.is_none() {
                    if let Some(parent) = last.parent_id() {
                        span.set_parent_id(parent);
                    }
                }
            }
        }
        write += 1;
        read = next;
    }
    fragments.truncate(write);
}

/// Zipkin's `CLEANUP_COMPARATOR`: by span id, then non-shared clients, other non-shared
/// spans, shared spans, then by local endpoint.
fn cleanup_order<T: Fragment>(a: &T, b: &T) -> Ordering {
    a.id()
        .cmp(&b.id())
        .then_with(|| sharing_rank(a).cmp(&sharing_rank(b)))
        .then_with(|| endpoint_order(a.local_endpoint(), b.local_endpoint()))
}

fn sharing_rank<T: Fragment>(span: &T) -> u8 {
    if span.shared() {
        2
    } else if span.kind() == Some(Kind::Client) {
        0
    } else {
        1
    }
}

/// Absent endpoints first (so their data lands on the first span of the same id), then by
/// service name, IPv4 and IPv6, each with absent values last. Ports are not compared.
fn endpoint_order(a: Option<&Endpoint>, b: Option<&Endpoint>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => present_first(a.service_name.as_deref(), b.service_name.as_deref())
            .then_with(|| present_first(a.ipv4.map(IpText::of), b.ipv4.map(IpText::of)))
            .then_with(|| present_first(a.ipv6.map(IpText::of), b.ipv6.map(IpText::of))),
    }
}

fn present_first<T: Ord>(a: Option<T>, b: Option<T>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => a.cmp(&b),
    }
}

/// An IP address in its text form, on the stack. Zipkin holds addresses as strings, so
/// "10.0.0.2" sorts before "9.0.0.1"; the order decides which piece absorbs another.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct IpText {
    buf: [u8; 45],
    len: usize,
}

impl IpText {
    fn of(ip: impl fmt::Display) -> Self {
        let mut text = IpText {
            buf: [0; 45],
            len: 0,
        };
        // 45 bytes hold the longest IPv6 text form, so this cannot fail.
        let _ = write!(text, "{ip}");
        // Compare only the written prefix: the zero padding sorts below any character.
        text
    }
}

impl fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Zipkin's `EndpointTracker.tryMerge`: whether `next` may come from the same host as the
/// span merged so far, i.e. no field is set on both sides with different values.
fn same_host(merged: Option<&Endpoint>, next: Option<&Endpoint>) -> bool {
    let (Some(a), Some(b)) = (merged, next) else {
        return true;
    };
    !(conflicts(&a.service_name, &b.service_name)
        || conflicts(&a.ipv4, &b.ipv4)
        || conflicts(&a.ipv6, &b.ipv6)
        || conflicts(&a.port, &b.port))
}

fn conflicts<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a != b)
}

/// Whether [`fill_endpoint`] would change `into`.
pub(super) fn fills_gaps(into: &Endpoint, from: &Endpoint) -> bool {
    (into.service_name.is_none() && from.service_name.is_some())
        || (into.ipv4.is_none() && from.ipv4.is_some())
        || (into.ipv6.is_none() && from.ipv6.is_some())
        || (into.port.is_none() && from.port.is_some())
}

/// Zipkin's `Endpoint.Builder.merge`: fields absent in `into` are taken from `from`.
pub(super) fn fill_endpoint(into: &mut Endpoint, from: &Endpoint) {
    if into.service_name.is_none() {
        into.service_name.clone_from(&from.service_name);
    }
    into.ipv4 = into.ipv4.or(from.ipv4);
    into.ipv6 = into.ipv6.or(from.ipv6);
    into.port = into.port.or(from.port);
}

fn merge_endpoint(into: &mut Option<Endpoint>, from: Option<Endpoint>) {
    match (into.as_mut(), from) {
        (None, from) => *into = from,
        (Some(into), Some(from)) => fill_endpoint(into, &from),
        (Some(_), None) => {}
    }
}

impl Fragment for Span {
    fn id(&self) -> SpanId {
        self.id
    }
    fn parent_id(&self) -> Option<SpanId> {
        self.parent_id
    }
    fn kind(&self) -> Option<Kind> {
        self.kind
    }
    fn shared(&self) -> bool {
        self.shared
    }
    fn local_endpoint(&self) -> Option<&Endpoint> {
        self.local_endpoint.as_ref()
    }
    fn timestamp(&self) -> Option<u64> {
        self.timestamp
    }

    fn set_parent_id(&mut self, parent: SpanId) {
        self.parent_id = Some(parent);
        self.normalize();
    }

    fn set_shared(&mut self) {
        self.shared = true;
        self.normalize();
    }

    fn absorb(&mut self, later: &mut Span) {
        self.parent_id = self.parent_id.or(later.parent_id);
        self.kind = self.kind.or(later.kind);
        if self.name.is_none() {
            self.name = later.name.take();
        }
        self.timestamp = self.timestamp.or(later.timestamp);
        self.duration = self.duration.or(later.duration);
        merge_endpoint(&mut self.local_endpoint, later.local_endpoint.take());
        merge_endpoint(&mut self.remote_endpoint, later.remote_endpoint.take());
        self.annotations.append(&mut later.annotations);
        // Appended after ours, later values win once normalisation keeps the last of a key.
        self.tags.append(&mut later.tags);
        self.debug |= later.debug;
        self.shared |= later.shared;
        self.normalize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Annotation;

    /// The fixture of Zipkin's TraceTest: a span with an optional endpoint made of a
    /// service name and/or an IP.
    #[track_caller]
    fn span(
        trace_id: &str,
        parent_id: Option<&str>,
        id: &str,
        kind: Option<Kind>,
        local: Option<&str>,
        ip: Option<&str>,
        shared: bool,
    ) -> Span {
        let mut builder = Span::builder(
            TraceId::parse(trace_id).unwrap(),
            SpanId::parse(id).unwrap(),
        )
        .shared(shared);
        if let Some(parent) = parent_id {
            builder = builder.parent_id(SpanId::parse(parent).unwrap());
        }
        if let Some(kind) = kind {
            builder = builder.kind(kind);
        }
        if local.is_some() || ip.is_some() {
            let mut endpoint = Endpoint::service(local.unwrap_or(""));
            if let Some(ip) = ip {
                endpoint.set_ip(ip);
            }
            builder = builder.local_endpoint(endpoint);
        }
        builder.build()
    }

    fn with(span: Span, edit: impl FnOnce(&mut Span)) -> Span {
        let mut span = span;
        edit(&mut span);
        span.normalize();
        span
    }

    #[track_caller]
    fn assert_same_spans(actual: Vec<Span>, expected: Vec<Span>) {
        let key = |s: &Span| format!("{s:?}");
        let mut actual: Vec<String> = actual.iter().map(key).collect();
        let mut expected: Vec<String> = expected.iter().map(key).collect();
        actual.sort();
        expected.sort();
        assert_eq!(actual, expected);
    }

    // TraceTest.backfillsMissingParentIdOnSharedSpan
    #[test]
    fn a_shared_server_without_parent_id_inherits_the_clients_parent() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("frontend"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Client),
                Some("frontend"),
                None,
                false,
            ),
            span(
                "a",
                None,
                "b",
                Some(Kind::Server),
                Some("backend"),
                None,
                true,
            ),
        ];

        assert_same_spans(
            merge_trace(trace),
            vec![
                span(
                    "a",
                    None,
                    "a",
                    Some(Kind::Server),
                    Some("frontend"),
                    None,
                    false,
                ),
                span(
                    "a",
                    Some("a"),
                    "b",
                    Some(Kind::Client),
                    Some("frontend"),
                    None,
                    false,
                ),
                span(
                    "a",
                    Some("a"),
                    "b",
                    Some(Kind::Server),
                    Some("backend"),
                    None,
                    true,
                ),
            ],
        );
    }

    // TraceTest.backfillsMissingSharedFlag
    #[test]
    fn a_server_reusing_its_clients_id_is_marked_shared() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("frontend"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Client),
                Some("frontend"),
                Some("1.2.3.4"),
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("backend"),
                Some("5.6.7.8"),
                false,
            ),
        ];

        assert_same_spans(
            merge_trace(trace),
            vec![
                span(
                    "a",
                    None,
                    "a",
                    Some(Kind::Server),
                    Some("frontend"),
                    None,
                    false,
                ),
                span(
                    "a",
                    Some("a"),
                    "b",
                    Some(Kind::Client),
                    Some("frontend"),
                    Some("1.2.3.4"),
                    false,
                ),
                span(
                    "a",
                    Some("a"),
                    "b",
                    Some(Kind::Server),
                    Some("backend"),
                    Some("5.6.7.8"),
                    true,
                ),
            ],
        );
    }

    // TraceTest.choosesBestTraceId
    #[test]
    fn the_128_bit_trace_id_replaces_a_truncated_one() {
        let long = "7180c278b62e8f6a216a2aea45d08fc9";
        let trace = vec![
            span(
                long,
                None,
                "a",
                Some(Kind::Server),
                Some("frontend"),
                None,
                false,
            ),
            span(
                long,
                Some("a"),
                "b",
                Some(Kind::Client),
                Some("frontend"),
                None,
                false,
            ),
            span(
                "216a2aea45d08fc9",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("backend"),
                None,
                true,
            ),
        ];

        let ids: Vec<String> = merge_trace(trace)
            .iter()
            .map(|s| s.trace_id.to_string())
            .collect();

        assert_eq!(ids, vec![long; 3]);
    }

    #[test]
    fn the_128_bit_trace_id_wins_even_when_only_a_merged_away_piece_has_it() {
        let long = "7180c278b62e8f6a216a2aea45d08fc9";
        let trace = vec![
            span(
                "216a2aea45d08fc9",
                None,
                "a",
                Some(Kind::Server),
                Some("frontend"),
                None,
                false,
            ),
            with(
                span(long, None, "a", None, Some("frontend"), None, false),
                |s| s.duration = Some(10),
            ),
        ];

        let merged = merge_trace(trace);

        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].trace_id.to_string(), long);
        assert_eq!(merged[0].duration, Some(10));
    }

    // TraceTest.mergesWhenMissingEndpoints
    #[test]
    fn pieces_without_endpoints_merge_into_the_same_span() {
        let (t, a, b) = (
            TraceId::parse("a").unwrap(),
            SpanId::parse("a").unwrap(),
            SpanId::parse("b").unwrap(),
        );
        let root = Span::builder(t, a)
            .tag("service", "frontend")
            .tag("span.kind", "SERVER")
            .build();
        let client_start = Span::builder(t, b)
            .parent_id(a)
            .tag("service", "frontend")
            .tag("span.kind", "CLIENT")
            .timestamp(1)
            .build();
        let server = span(
            "a",
            Some("a"),
            "b",
            Some(Kind::Server),
            Some("backend"),
            None,
            true,
        );
        let client_finish = Span::builder(t, b).parent_id(a).duration(10).build();

        let merged = merge_trace(vec![
            root.clone(),
            client_start.clone(),
            server.clone(),
            client_finish,
        ]);

        let client = with(client_start, |s| s.duration = Some(10));
        assert_same_spans(merged, vec![root, client, server]);
    }

    // TraceTest.doesntMergeSharedSpansOnDifferentIPs
    #[test]
    fn shared_spans_on_different_ips_stay_apart() {
        let client = span(
            "a",
            Some("a"),
            "b",
            Some(Kind::Client),
            Some("frontend"),
            None,
            false,
        );
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("frontend"),
                None,
                false,
            ),
            with(client.clone(), |s| {
                s.timestamp = Some(1);
                s.annotations.push(Annotation::new(3, "brave.flush"));
            }),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("backend"),
                Some("1.2.3.4"),
                true,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("backend"),
                Some("1.2.3.5"),
                true,
            ),
            with(client.clone(), |s| s.duration = Some(10)),
        ];

        assert_same_spans(
            merge_trace(trace),
            vec![
                span(
                    "a",
                    None,
                    "a",
                    Some(Kind::Server),
                    Some("frontend"),
                    None,
                    false,
                ),
                with(client, |s| {
                    s.timestamp = Some(1);
                    s.duration = Some(10);
                    s.annotations.push(Annotation::new(3, "brave.flush"));
                }),
                span(
                    "a",
                    Some("a"),
                    "b",
                    Some(Kind::Server),
                    Some("backend"),
                    Some("1.2.3.4"),
                    true,
                ),
                span(
                    "a",
                    Some("a"),
                    "b",
                    Some(Kind::Server),
                    Some("backend"),
                    Some("1.2.3.5"),
                    true,
                ),
            ],
        );
    }

    // TraceTest.putsRandomDataOnFirstSpanWithEndpoint
    #[test]
    fn late_pieces_without_endpoint_land_on_the_first_span_of_that_id() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("frontend"),
                None,
                false,
            ),
            span("a", Some("a"), "b", Some(Kind::Client), None, None, false),
            with(
                span("a", Some("a"), "b", None, Some("frontend"), None, false),
                |s| {
                    s.timestamp = Some(1);
                    s.annotations.push(Annotation::new(3, "brave.flush"));
                },
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("backend"),
                Some("1.2.3.4"),
                true,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("backend"),
                Some("1.2.3.5"),
                true,
            ),
            with(span("a", Some("a"), "b", None, None, None, false), |s| {
                s.duration = Some(10)
            }),
        ];

        assert_same_spans(
            merge_trace(trace),
            vec![
                span(
                    "a",
                    None,
                    "a",
                    Some(Kind::Server),
                    Some("frontend"),
                    None,
                    false,
                ),
                with(
                    span(
                        "a",
                        Some("a"),
                        "b",
                        Some(Kind::Client),
                        Some("frontend"),
                        None,
                        false,
                    ),
                    |s| {
                        s.timestamp = Some(1);
                        s.duration = Some(10);
                        s.annotations.push(Annotation::new(3, "brave.flush"));
                    },
                ),
                span(
                    "a",
                    Some("a"),
                    "b",
                    Some(Kind::Server),
                    Some("backend"),
                    Some("1.2.3.4"),
                    true,
                ),
                span(
                    "a",
                    Some("a"),
                    "b",
                    Some(Kind::Server),
                    Some("backend"),
                    Some("1.2.3.5"),
                    true,
                ),
            ],
        );
    }

    // TraceTest.mergesIncompleteEndpoints
    #[test]
    fn endpoints_reported_in_parts_are_completed() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("frontend"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Client),
                Some("frontend"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Client),
                None,
                Some("1.2.3.4"),
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                None,
                Some("1.2.3.5"),
                true,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("backend"),
                None,
                true,
            ),
        ];

        assert_same_spans(
            merge_trace(trace),
            vec![
                span(
                    "a",
                    None,
                    "a",
                    Some(Kind::Server),
                    Some("frontend"),
                    None,
                    false,
                ),
                span(
                    "a",
                    Some("a"),
                    "b",
                    Some(Kind::Client),
                    Some("frontend"),
                    Some("1.2.3.4"),
                    false,
                ),
                span(
                    "a",
                    Some("a"),
                    "b",
                    Some(Kind::Server),
                    Some("backend"),
                    Some("1.2.3.5"),
                    true,
                ),
            ],
        );
    }

    // TraceTest.deletesSelfReferencingParentId
    #[test]
    fn a_span_cannot_be_its_own_parent() {
        let trace = vec![
            span(
                "a",
                Some("a"),
                "a",
                Some(Kind::Server),
                Some("frontend"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Client),
                Some("frontend"),
                None,
                false,
            ),
        ];

        let merged = merge_trace(trace);

        assert_eq!(merged[0].parent_id, None);
        assert_eq!(merged[1].parent_id, Some(SpanId::parse("a").unwrap()));
    }

    // TraceTest.worksWhenMissingParentSpan
    #[test]
    fn spans_whose_parent_is_missing_are_left_as_they_are() {
        let trace = vec![
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("backend"),
                Some("1.2.3.4"),
                false,
            ),
            span(
                "a",
                Some("a"),
                "c",
                Some(Kind::Server),
                Some("backend"),
                None,
                false,
            ),
        ];

        assert_eq!(merge_trace(trace.clone()), trace);
    }

    #[test]
    fn identical_copies_of_a_span_collapse_into_one() {
        let server = with(
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("frontend"),
                None,
                false,
            ),
            |s| {
                s.annotations.push(Annotation::new(1, "wr"));
                s.tags.push(("error".into(), "boom".into()));
            },
        );

        let merged = merge_trace(vec![server.clone(), server.clone(), server.clone()]);

        assert_eq!(merged, vec![server]);
    }

    #[test]
    fn later_tag_values_win_and_flags_accumulate() {
        let first = with(
            span("a", None, "a", Some(Kind::Server), Some("web"), None, false),
            |s| {
                s.tags.push(("http.status".into(), "200".into()));
                s.tags.push(("a".into(), "1".into()));
            },
        );
        let second = with(span("a", None, "a", None, Some("web"), None, false), |s| {
            s.tags.push(("http.status".into(), "500".into()));
            s.debug = true;
        });

        let merged = merge_trace(vec![first, second]);

        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].tag("http.status"), Some("500"));
        assert_eq!(merged[0].tag("a"), Some("1"));
        assert!(merged[0].debug);
    }

    // TraceTest.cleanupComparator_ordersClientFirst
    #[test]
    fn clients_sort_before_servers_of_the_same_id() {
        let mut trace = vec![
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("backend"),
                Some("1.2.3.5"),
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Client),
                Some("frontend"),
                None,
                false,
            ),
        ];

        sort_fragments(&mut trace);

        assert_eq!(trace[0].kind, Some(Kind::Client));
    }

    // TraceTest.cleanupComparator_transitiveKindComparison
    #[test]
    fn the_cleanup_order_is_total_clients_then_local_spans_then_shared() {
        let t = TraceId::parse("a").unwrap();
        let id = SpanId::parse("a").unwrap();
        let template = Span::new(t, id);
        let a = Endpoint::service("a");
        let b = Endpoint::service("b");
        let mut trace = Vec::new();
        for _ in 0..7 {
            trace.push(with(template.clone(), |s| {
                s.shared = true;
                s.local_endpoint = Some(b.clone());
            }));
            trace.push(with(template.clone(), |s| {
                s.kind = Some(Kind::Client);
                s.local_endpoint = Some(b.clone());
            }));
            trace.push(with(template.clone(), |s| {
                s.local_endpoint = Some(a.clone())
            }));
            trace.push(template.clone());
            trace.push(with(template.clone(), |s| {
                s.kind = Some(Kind::Client);
                s.local_endpoint = Some(a.clone());
            }));
        }

        sort_fragments(&mut trace);
        trace.dedup();

        let shape: Vec<(bool, Option<Kind>, Option<&str>)> = trace
            .iter()
            .map(|s| (s.shared, s.kind, s.local_service_name()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (false, Some(Kind::Client), Some("a")),
                (false, Some(Kind::Client), Some("b")),
                (false, None, None),
                (false, None, Some("a")),
                (true, None, Some("b")),
            ]
        );
    }

    #[test]
    fn ip_addresses_sort_as_text_like_zipkin() {
        let ten = Endpoint::service("svc").with_ip("10.0.0.2");
        let nine = Endpoint::service("svc").with_ip("9.0.0.1");

        assert_eq!(endpoint_order(Some(&ten), Some(&nine)), Ordering::Less);
        assert_eq!(
            endpoint_order(Some(&Endpoint::service("svc")), Some(&nine)),
            Ordering::Greater,
            "an absent address sorts last"
        );
    }

    #[test]
    fn a_piece_without_address_merges_into_the_first_host_in_text_order() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("svc"),
                Some("9.0.0.1"),
                false,
            ),
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("svc"),
                Some("10.0.0.2"),
                false,
            ),
            with(span("a", None, "a", None, Some("svc"), None, false), |s| {
                s.duration = Some(5)
            }),
        ];

        let merged = merge_trace(trace);

        let ten = merged
            .iter()
            .find(|s| s.local_endpoint.as_ref().unwrap().ipv4.unwrap().octets()[0] == 10)
            .unwrap();
        let nine = merged
            .iter()
            .find(|s| s.local_endpoint.as_ref().unwrap().ipv4.unwrap().octets()[0] == 9)
            .unwrap();
        assert_eq!(merged.len(), 2);
        assert_eq!(
            nine.duration,
            Some(5),
            "Zipkin sorts 9.0.0.1 after 10.0.0.2"
        );
        assert_eq!(ten.duration, None);
    }

    #[test]
    fn a_single_span_is_returned_unchanged() {
        let only = span(
            "a",
            Some("b"),
            "a",
            Some(Kind::Server),
            Some("web"),
            None,
            true,
        );

        assert_eq!(merge_trace(vec![only.clone()]), vec![only]);
    }
}
