//! Zipkin's `DependencyLinker`: service-to-service call counts from traces.
//!
//! Each trace is merged and built into a tree exactly as [`super::merge_trace`] and
//! [`super::SpanTree`] do, then walked breadth-first. A link is counted per RPC or
//! messaging hop:
//! - SERVER and CONSUMER spans link their remote service (the caller, or the broker) to
//!   their local service; CLIENT and PRODUCER spans the other way round;
//! - a span without kind counts as a CLIENT when both service names are known, and is
//!   skipped otherwise;
//! - a CLIENT with children is skipped: its server side is authoritative;
//! - messaging spans link only through the broker, never producer to consumer;
//! - otherwise the nearest ancestor with a kind supplies a missing caller, overrides a
//!   SERVER's caller, and adds a link to a CLIENT recorded under another service;
//! - a call is an error when its span, or the CLIENT it answers, has an `error` tag (an
//!   "error" annotation does not count).
//!
//! The linker is built for aggregating a whole time window: the spans of a trace are
//! merged through borrowed projections (nothing is cloned), all scratch space is reused
//! from trace to trace, and service names are interned once per linker.

use std::collections::BTreeMap;

use crate::hashing::RandomMap as HashMap;

use compact_str::CompactString;

use super::merge::{fill_endpoint, fills_gaps, merge_sorted, sort_fragments};
use super::node::{NodeId, Tree, TreeBuilder};
use super::Fragment;
use crate::model::{DependencyLink, Endpoint, Kind, Span, SpanId};

/// Accumulates dependency links over any number of traces.
///
/// ```
/// use zipwire::trace::DependencyLinker;
/// # let traces: Vec<Vec<zipwire::model::Span>> = Vec::new();
/// let mut linker = DependencyLinker::new();
/// for trace in &traces {
///     linker.put_trace(trace);
/// }
/// let links = linker.link();
/// # assert!(links.is_empty());
/// ```
#[derive(Debug, Default)]
pub struct DependencyLinker {
    builder: TreeBuilder,
    tree: Tree,
    /// Always empty between calls; only its allocation is kept (see [`recycle`]).
    fragments: Vec<LinkSpan<'static>>,
    order: Vec<NodeId>,
    remote_ancestor: Vec<u32>,
    names: Names,
    links: HashMap<(u32, u32), Counts>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    calls: u64,
    errors: u64,
}

const NO_ANCESTOR: u32 = u32::MAX;

impl DependencyLinker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the links of one trace. The spans are raw fragments of a single trace (the
    /// caller groups by trace id; the ids themselves are not looked at, so 64- and 128-bit
    /// forms of one id may be mixed). An empty slice adds nothing.
    pub fn put_trace(&mut self, spans: &[Span]) -> &mut Self {
        if spans.is_empty() {
            return self;
        }
        let mut fragments = recycle(std::mem::take(&mut self.fragments));
        fragments.extend(spans.iter().map(LinkSpan::new));
        sort_fragments(&mut fragments);
        merge_sorted(&mut fragments);
        self.builder.build(&fragments, &mut self.tree);
        self.tree.breadth_first(&mut self.order);
        self.link_tree(&fragments);
        self.fragments = recycle(fragments);
        self
    }

    /// The links counted so far, ordered by (parent, child).
    pub fn link(&self) -> Vec<DependencyLink> {
        let mut links: Vec<DependencyLink> = self
            .links
            .iter()
            .map(|(&(parent, child), counts)| {
                DependencyLink::new(
                    self.names.get(parent),
                    self.names.get(child),
                    counts.calls,
                    counts.errors,
                )
            })
            .collect();
        links.sort_unstable_by(|a, b| (&a.parent, &a.child).cmp(&(&b.parent, &b.child)));
        links
    }

    fn link_tree(&mut self, spans: &[LinkSpan<'_>]) {
        self.remote_ancestor.clear();
        self.remote_ancestor.resize(spans.len(), NO_ANCESTOR);
        let root = self.tree.root();

        for i in 0..self.order.len() {
            let node = self.order[i];
            let span = &spans[node.index()];

            // Breadth-first order visits parents first, so the nearest ancestor with a kind
            // is known for every node without walking up the tree again.
            let ancestor = match self.tree.parent(node) {
                Some(parent) if parent.index() < spans.len() => {
                    if spans[parent.index()].kind.is_some() {
                        parent.index() as u32
                    } else {
                        self.remote_ancestor[parent.index()]
                    }
                }
                _ => NO_ANCESTOR,
            };
            self.remote_ancestor[node.index()] = ancestor;

            if span.kind == Some(Kind::Client) && !self.tree.children(node).is_empty() {
                continue;
            }
            let local = span.local_service();
            let remote = span.remote_service();
            let Some(kind) = span.kind.or_else(|| {
                // A span without kind but with both sides named reads as a client call.
                (local.is_some() && remote.is_some()).then_some(Kind::Client)
            }) else {
                continue;
            };

            let (mut parent, child) = match kind {
                Kind::Server | Kind::Consumer => {
                    // The root's caller is only known if it recorded one.
                    if node == root && remote.is_none() {
                        continue;
                    }
                    (remote, local)
                }
                Kind::Client | Kind::Producer => (local, remote),
            };

            let mut error = span.error;
            if matches!(kind, Kind::Producer | Kind::Consumer) {
                if let (Some(parent), Some(child)) = (parent, child) {
                    self.add_link(parent, child, error);
                }
                continue;
            }

            if ancestor != NO_ANCESTOR {
                let ancestor_span = &spans[ancestor as usize];
                if let Some(ancestor_name) = ancestor_span.local_service() {
                    // A client recorded under another service than its caller's: count the
                    // hop into it too (whether it failed is unknown).
                    if kind == Kind::Client {
                        if let Some(local) = local.filter(|&l| l != ancestor_name) {
                            self.add_link(ancestor_name, local, false);
                        }
                    }
                    if kind == Kind::Server || parent.is_none() {
                        parent = Some(ancestor_name);
                    }
                    // The server half of an RPC fails when its client half did.
                    if !error
                        && ancestor_span.kind == Some(Kind::Client)
                        && span.parent_id == Some(ancestor_span.id)
                    {
                        error = ancestor_span.error;
                    }
                }
            }

            if let (Some(parent), Some(child)) = (parent, child) {
                self.add_link(parent, child, error);
            }
        }
    }

    fn add_link(&mut self, parent: &str, child: &str, error: bool) {
        let key = (self.names.intern(parent), self.names.intern(child));
        let counts = self.links.entry(key).or_default();
        counts.calls += 1;
        if error {
            counts.errors += 1;
        }
    }
}

/// Sums links with the same (parent, child), as Zipkin's `DependencyLinker.merge` does,
/// e.g. to combine per-day aggregates. The result is ordered by (parent, child).
pub fn merge_links(links: impl IntoIterator<Item = DependencyLink>) -> Vec<DependencyLink> {
    let mut sums: BTreeMap<(String, String), Counts> = BTreeMap::new();
    for link in links {
        let counts = sums.entry((link.parent, link.child)).or_default();
        counts.calls = counts.calls.saturating_add(link.call_count);
        counts.errors = counts.errors.saturating_add(link.error_count);
    }
    sums.into_iter()
        .map(|((parent, child), counts)| {
            DependencyLink::new(parent, child, counts.calls, counts.errors)
        })
        .collect()
}

/// Empties a vector of projections and hands back its allocation for another lifetime.
/// The standard library collects a `filter_map` over `into_iter` in place when the
/// element layout is unchanged, so no memory is freed or allocated.
#[allow(
    clippy::unnecessary_filter_map,
    reason = "the map changes the element lifetime, which `filter` cannot"
)]
fn recycle<'b>(mut fragments: Vec<LinkSpan<'_>>) -> Vec<LinkSpan<'b>> {
    fragments.clear();
    fragments.into_iter().filter_map(|_| None).collect()
}

/// Service names seen by one linker, each stored once.
#[derive(Debug, Default)]
struct Names {
    ids: HashMap<CompactString, u32>,
    names: Vec<CompactString>,
}

impl Names {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).expect("fewer than 2^32 service names");
        let name = CompactString::from(name);
        self.names.push(name.clone());
        self.ids.insert(name, id);
        id
    }

    fn get(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

/// The part of a span the linker needs, borrowed from the stored span. Kept small
/// because sorting a trace moves these around.
#[derive(Debug)]
struct LinkSpan<'a> {
    id: SpanId,
    parent_id: Option<SpanId>,
    /// Epoch microseconds; 0 when absent (never a real value after normalisation).
    timestamp: u64,
    local: Option<Local<'a>>,
    remote_service: Option<&'a str>,
    kind: Option<Kind>,
    shared: bool,
    error: bool,
}

/// A local endpoint as reported, or completed from several fragments of one span.
#[derive(Debug)]
enum Local<'a> {
    Reported(&'a Endpoint),
    Completed(Box<Endpoint>),
}

impl Local<'_> {
    fn get(&self) -> &Endpoint {
        match self {
            Local::Reported(endpoint) => endpoint,
            Local::Completed(endpoint) => endpoint,
        }
    }
}

impl<'a> LinkSpan<'a> {
    fn new(span: &'a Span) -> Self {
        LinkSpan {
            id: span.id,
            parent_id: span.parent_id,
            timestamp: span.timestamp.unwrap_or(0),
            local: span.local_endpoint.as_ref().map(Local::Reported),
            remote_service: span.remote_service_name(),
            kind: span.kind,
            shared: span.shared,
            error: span.tag("error").is_some(),
        }
    }

    /// Empty names are treated as absent even if a span skipped normalisation: a link to
    /// "" would be meaningless.
    fn local_service(&self) -> Option<&str> {
        let local = self.local.as_ref()?.get();
        local.service_name.as_deref().filter(|n| !n.is_empty())
    }

    fn remote_service(&self) -> Option<&'a str> {
        self.remote_service.filter(|n| !n.is_empty())
    }
}

impl Fragment for LinkSpan<'_> {
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
        self.local.as_ref().map(Local::get)
    }
    fn timestamp(&self) -> Option<u64> {
        (self.timestamp != 0).then_some(self.timestamp)
    }

    fn set_parent_id(&mut self, parent: SpanId) {
        self.parent_id = Some(parent).filter(|&p| p != self.id);
    }

    fn set_shared(&mut self) {
        self.shared = self.kind != Some(Kind::Client);
    }

    fn absorb(&mut self, later: &mut Self) {
        self.parent_id = self.parent_id.or(later.parent_id);
        self.kind = self.kind.or(later.kind);
        if self.timestamp == 0 {
            self.timestamp = later.timestamp;
        }
        match (self.local.take(), later.local.take()) {
            (Some(ours), Some(theirs)) if fills_gaps(ours.get(), theirs.get()) => {
                let mut completed = match ours {
                    Local::Reported(endpoint) => Box::new(endpoint.clone()),
                    Local::Completed(endpoint) => endpoint,
                };
                fill_endpoint(&mut completed, theirs.get());
                self.local = Some(Local::Completed(completed));
            }
            (None, theirs) => self.local = theirs,
            (ours, _) => self.local = ours,
        }
        // Field-wise endpoint merging keeps the first service name seen.
        self.remote_service = self.remote_service.or(later.remote_service);
        self.error |= later.error;
        // As Span.Builder does: shared is a server-side flag.
        self.shared = (self.shared || later.shared) && self.kind != Some(Kind::Client);
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::model::TraceId;

    /// The fixture of Zipkin's DependencyLinkerTest: a span with optional local and
    /// remote service names, and an empty `error` tag when `error` is set.
    #[track_caller]
    fn span(
        trace_id: &str,
        parent_id: Option<&str>,
        id: &str,
        kind: Option<Kind>,
        local: Option<&str>,
        remote: Option<&str>,
        error: bool,
    ) -> Span {
        let mut builder = Span::builder(
            TraceId::parse(trace_id).unwrap(),
            SpanId::parse(id).unwrap(),
        );
        if let Some(parent) = parent_id {
            builder = builder.parent_id(SpanId::parse(parent).unwrap());
        }
        if let Some(kind) = kind {
            builder = builder.kind(kind);
        }
        if let Some(local) = local {
            builder = builder.local_endpoint(Endpoint::service(local));
        }
        if let Some(remote) = remote {
            builder = builder.remote_endpoint(Endpoint::service(remote));
        }
        if error {
            builder = builder.tag("error", "");
        }
        builder.build()
    }

    fn shared(mut span: Span) -> Span {
        span.shared = true;
        span.normalize();
        span
    }

    fn link(parent: &str, child: &str, calls: u64, errors: u64) -> DependencyLink {
        DependencyLink::new(parent, child, calls, errors)
    }

    fn links_of(trace: &[Span]) -> Vec<DependencyLink> {
        DependencyLinker::new().put_trace(trace).link()
    }

    /// Zipkin's sample trace, in reverse order as reporting most often happens:
    /// web (SERVER) -> web CLIENT -> app shared SERVER -> app CLIENT -> db (error).
    fn trace() -> Vec<Span> {
        vec![
            span(
                "a",
                Some("b"),
                "c",
                Some(Kind::Client),
                Some("app"),
                Some("db"),
                true,
            ),
            shared(span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("app"),
                Some("web"),
                false,
            )),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Client),
                Some("web"),
                Some("app"),
                false,
            ),
            span("a", None, "a", Some(Kind::Server), Some("web"), None, false),
        ]
    }

    fn trace_links() -> Vec<DependencyLink> {
        vec![link("app", "db", 1, 1), link("web", "app", 1, 0)]
    }

    // DependencyLinkerTest.baseCase
    #[test]
    fn a_new_linker_has_no_links() {
        assert!(DependencyLinker::new().link().is_empty());
    }

    // DependencyLinkerTest.linksSpans
    #[test]
    fn a_trace_links_each_rpc_once() {
        assert_eq!(links_of(&trace()), trace_links());
    }

    // DependencyLinkerTest.traceIdIsOpaque
    #[test]
    fn trace_ids_do_not_matter() {
        let other_id: Vec<Span> = trace()
            .into_iter()
            .map(|s| Span {
                trace_id: TraceId::parse("123").unwrap(),
                ..s
            })
            .collect();

        assert_eq!(links_of(&other_id), trace_links());
    }

    // DependencyLinkerTest.linksSpans_serverMissingParentId
    #[test]
    fn a_shared_server_missing_its_parent_id_still_links_to_its_client() {
        let mut trace = vec![
            span("a", None, "a", Some(Kind::Server), Some("arn"), None, false),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Client),
                Some("arn"),
                Some("link"),
                false,
            ),
            shared(span(
                "a",
                None,
                "b",
                Some(Kind::Server),
                Some("link"),
                Some("arn"),
                false,
            )),
        ];
        trace.reverse();

        assert_eq!(links_of(&trace), vec![link("arn", "link", 1, 0)]);
    }

    // DependencyLinkerTest.lateParentIdInSharedSpan
    #[test]
    fn a_client_missing_its_parent_id_still_links() {
        let mut trace = trace();
        trace[2].parent_id = None;

        assert_eq!(links_of(&trace), trace_links());
    }

    // DependencyLinkerTest.lostChildAndNoParentIdInSharedSpan
    #[test]
    fn a_lost_server_half_and_missing_parent_id_still_link() {
        let mut trace = trace();
        trace[2].parent_id = None;
        trace.remove(1);

        assert_eq!(links_of(&trace), trace_links());
    }

    // DependencyLinkerTest.messagingSpansDontLinkWithoutBroker_consumer
    #[test]
    fn a_consumer_links_from_its_broker_only() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Producer),
                Some("producer"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Consumer),
                Some("consumer"),
                Some("kafka"),
                false,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("kafka", "consumer", 1, 0)]);
    }

    // DependencyLinkerTest.messagingSpansDontLinkWithoutBroker_producer
    #[test]
    fn a_producer_links_to_its_broker_only() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Producer),
                Some("producer"),
                Some("kafka"),
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Consumer),
                Some("consumer"),
                None,
                false,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("producer", "kafka", 1, 0)]);
    }

    // DependencyLinkerTest.messagingWithBroker_both_sides_same
    #[test]
    fn messaging_links_go_through_the_broker() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Producer),
                Some("producer"),
                Some("kafka"),
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Consumer),
                Some("consumer"),
                Some("kafka"),
                false,
            ),
        ];

        assert_eq!(
            links_of(&trace),
            vec![
                link("kafka", "consumer", 1, 0),
                link("producer", "kafka", 1, 0)
            ]
        );
    }

    // DependencyLinkerTest.messagingWithBroker_different
    #[test]
    fn each_side_links_to_the_broker_it_saw() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Producer),
                Some("producer"),
                Some("kafka1"),
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Consumer),
                Some("consumer"),
                Some("kafka2"),
                false,
            ),
        ];

        assert_eq!(
            links_of(&trace),
            vec![
                link("kafka2", "consumer", 1, 0),
                link("producer", "kafka1", 1, 0)
            ]
        );
    }

    // DependencyLinkerTest.messagingWithoutBroker_noLinks
    #[test]
    fn producer_and_consumer_are_never_linked_directly() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Producer),
                Some("producer"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Consumer),
                Some("consumer"),
                None,
                false,
            ),
        ];

        assert!(links_of(&trace).is_empty());
    }

    // DependencyLinkerTest.producerLinksToServer_childSpan
    #[test]
    fn a_server_under_a_producer_links_from_it() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Producer),
                Some("producer"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("server"),
                None,
                false,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("producer", "server", 1, 0)]);
    }

    // DependencyLinkerTest.producerLinksToServer_sameSpan
    #[test]
    fn a_server_sharing_a_producers_id_links_from_it() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Producer),
                Some("producer"),
                None,
                false,
            ),
            shared(span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("server"),
                None,
                false,
            )),
        ];

        assert_eq!(links_of(&trace), vec![link("producer", "server", 1, 0)]);
    }

    // DependencyLinkerTest.clientDoesntLinkToConsumer_child
    #[test]
    fn a_client_does_not_link_to_a_consumer() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Client),
                Some("client"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Consumer),
                Some("consumer"),
                None,
                false,
            ),
        ];

        assert!(links_of(&trace).is_empty());
    }

    // DependencyLinkerTest.linksSpansDirectedByKind
    #[test]
    fn a_lone_root_links_in_the_direction_of_its_kind() {
        let roots = [
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("server"),
                Some("client"),
                false,
            ),
            shared(span(
                "a",
                None,
                "a",
                Some(Kind::Client),
                Some("client"),
                Some("server"),
                false,
            )),
        ];

        for root in roots {
            assert_eq!(links_of(&[root]), vec![link("client", "server", 1, 0)]);
        }
    }

    // DependencyLinkerTest.callsAgainstTheSameLinkIncreasesCallCount_span
    #[test]
    fn two_calls_in_one_trace_count_twice() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("client"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Client),
                None,
                Some("server"),
                false,
            ),
            span(
                "a",
                Some("a"),
                "c",
                Some(Kind::Client),
                None,
                Some("server"),
                false,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("client", "server", 2, 0)]);
    }

    // DependencyLinkerTest.callsAgainstTheSameLinkIncreasesCallCount_trace
    #[test]
    fn the_same_call_in_two_traces_counts_twice() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("client"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Client),
                None,
                Some("server"),
                false,
            ),
        ];

        let links = DependencyLinker::new()
            .put_trace(&trace)
            .put_trace(&trace)
            .link();

        assert_eq!(links, vec![link("client", "server", 2, 0)]);
    }

    // DependencyLinkerTest.singleHostSpansResultInASingleCallCount
    #[test]
    fn a_client_and_its_server_in_separate_spans_count_once() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Client),
                Some("client"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("server"),
                None,
                false,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("client", "server", 1, 0)]);
    }

    // DependencyLinkerTest.singleHostSpansResultInASingleErrorCount
    #[test]
    fn a_failed_call_seen_by_both_sides_counts_one_error() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Client),
                Some("client"),
                None,
                true,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("server"),
                None,
                true,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("client", "server", 1, 1)]);
    }

    // DependencyLinkerTest.singleHostSpansResultInASingleErrorCount_sameId
    #[test]
    fn a_failed_call_seen_by_both_halves_of_a_shared_span_counts_one_error() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Client),
                Some("client"),
                None,
                true,
            ),
            shared(span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("server"),
                None,
                true,
            )),
        ];

        assert_eq!(links_of(&trace), vec![link("client", "server", 1, 1)]);
    }

    // DependencyLinkerTest.singleHostSpansResultInASingleCallCount_defersNameToServer
    #[test]
    fn the_server_name_wins_over_the_clients_guess() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Client),
                Some("client"),
                Some("server"),
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("server"),
                None,
                false,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("client", "server", 1, 0)]);
    }

    // DependencyLinkerTest.singleHostSpans_multipleChildren
    #[test]
    fn each_server_under_one_client_counts_with_its_own_error() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Client),
                Some("client"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("server"),
                Some("client"),
                true,
            ),
            span(
                "a",
                Some("a"),
                "c",
                Some(Kind::Server),
                Some("server"),
                Some("client"),
                false,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("client", "server", 2, 1)]);
    }

    // DependencyLinkerTest.singleHostSpans_multipleChildren_defersNameToServer
    #[test]
    fn servers_under_one_named_client_count_once_each() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Client),
                Some("client"),
                Some("server"),
                false,
            ),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("server"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "c",
                Some(Kind::Server),
                Some("server"),
                None,
                false,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("client", "server", 2, 0)]);
    }

    // DependencyLinkerTest.intermediatedClientSpansMissingLocalServiceNameLinkToNearestServer
    #[test]
    fn clients_behind_a_local_span_link_from_the_nearest_server() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("client"),
                None,
                false,
            ),
            span("a", Some("a"), "b", None, None, None, false),
            span(
                "a",
                Some("b"),
                "c",
                Some(Kind::Client),
                Some("server"),
                None,
                false,
            ),
            span(
                "a",
                Some("b"),
                "d",
                Some(Kind::Client),
                Some("server"),
                None,
                false,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("client", "server", 2, 0)]);
    }

    // DependencyLinkerTest.errorsOnUninstrumentedLinks
    #[test]
    fn client_errors_do_not_count_on_the_backfilled_link() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("client"),
                None,
                false,
            ),
            span("a", Some("a"), "b", None, None, None, false),
            span(
                "a",
                Some("b"),
                "c",
                Some(Kind::Client),
                Some("server"),
                None,
                true,
            ),
            span(
                "a",
                Some("b"),
                "d",
                Some(Kind::Client),
                Some("server"),
                None,
                true,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("client", "server", 2, 0)]);
    }

    // DependencyLinkerTest.errorsOnInstrumentedLinks
    #[test]
    fn client_errors_count_on_the_link_to_their_remote() {
        let trace = vec![
            span("a", None, "a", Some(Kind::Server), Some("foo"), None, false),
            span("a", Some("a"), "b", None, None, None, false),
            span(
                "a",
                Some("b"),
                "c",
                Some(Kind::Client),
                Some("bar"),
                Some("baz"),
                true,
            ),
            span(
                "a",
                Some("b"),
                "d",
                Some(Kind::Client),
                Some("bar"),
                Some("baz"),
                false,
            ),
        ];

        assert_eq!(
            links_of(&trace),
            vec![link("bar", "baz", 2, 1), link("foo", "bar", 2, 0)]
        );
    }

    // DependencyLinkerTest.linkWithErrorIsLogged (we do not log; the error is counted)
    #[test]
    fn a_lone_failed_client_counts_an_error() {
        let trace = vec![span(
            "a",
            Some("b"),
            "c",
            Some(Kind::Client),
            Some("foo"),
            Some("bar"),
            true,
        )];

        assert_eq!(links_of(&trace), vec![link("foo", "bar", 1, 1)]);
    }

    // DependencyLinkerTest.annotationNamedErrorDoesntIncrementErrorCount
    #[test]
    fn an_annotation_named_error_is_not_an_error() {
        let mut client = span(
            "a",
            Some("b"),
            "c",
            Some(Kind::Client),
            Some("foo"),
            Some("bar"),
            false,
        );
        client
            .annotations
            .push(crate::model::Annotation::new(1, "error"));

        assert_eq!(links_of(&[client]), vec![link("foo", "bar", 1, 0)]);
    }

    #[test]
    fn an_error_tag_counts_whatever_its_value() {
        let client = Span {
            tags: vec![("error".into(), "".into())],
            ..span(
                "a",
                None,
                "c",
                Some(Kind::Client),
                Some("foo"),
                Some("bar"),
                false,
            )
        };
        let failed = Span {
            tags: vec![("error".into(), "500".into())],
            ..span(
                "b",
                None,
                "c",
                Some(Kind::Client),
                Some("foo"),
                Some("bar"),
                false,
            )
        };

        let links = DependencyLinker::new()
            .put_trace(&[client])
            .put_trace(&[failed])
            .link();

        assert_eq!(links, vec![link("foo", "bar", 2, 2)]);
    }

    // DependencyLinkerTest.linksLoopbackSpans
    #[test]
    fn a_service_calling_itself_links_to_itself() {
        let roots = [
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("service"),
                Some("service"),
                false,
            ),
            span(
                "b",
                None,
                "b",
                Some(Kind::Client),
                Some("service"),
                Some("service"),
                false,
            ),
        ];

        for root in roots {
            assert_eq!(links_of(&[root]), vec![link("service", "service", 1, 0)]);
        }
    }

    // DependencyLinkerTest.noSpanKindTreatedSameAsClient
    #[test]
    fn spans_without_kind_but_both_names_are_clients() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                None,
                Some("some-client"),
                Some("web"),
                false,
            ),
            span("a", Some("a"), "b", None, Some("web"), Some("app"), false),
            span("a", Some("b"), "c", None, Some("app"), Some("db"), false),
        ];

        assert_eq!(
            links_of(&trace),
            vec![
                link("app", "db", 1, 0),
                link("some-client", "web", 1, 0),
                link("web", "app", 1, 0),
            ]
        );
    }

    // DependencyLinkerTest.noSpanKindWithError
    #[test]
    fn spans_without_kind_count_their_own_errors() {
        let trace = vec![
            span(
                "a",
                None,
                "a",
                None,
                Some("some-client"),
                Some("web"),
                false,
            ),
            span("a", Some("a"), "b", None, Some("web"), Some("app"), true),
            span("a", Some("b"), "c", None, Some("app"), Some("db"), false),
        ];

        assert_eq!(
            links_of(&trace),
            vec![
                link("app", "db", 1, 0),
                link("some-client", "web", 1, 0),
                link("web", "app", 1, 1),
            ]
        );
    }

    // DependencyLinkerTest.cannotLinkSingleSpanWithoutBothServiceNames
    #[test]
    fn a_lone_span_needs_both_service_names() {
        let roots = [
            span("a", None, "a", Some(Kind::Server), None, None, false),
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                Some("server"),
                None,
                false,
            ),
            span(
                "a",
                None,
                "a",
                Some(Kind::Server),
                None,
                Some("client"),
                false,
            ),
            span("a", None, "a", Some(Kind::Client), None, None, false),
            span(
                "a",
                None,
                "a",
                Some(Kind::Client),
                Some("client"),
                None,
                false,
            ),
            span(
                "a",
                None,
                "a",
                Some(Kind::Client),
                None,
                Some("server"),
                false,
            ),
        ];

        for root in roots {
            assert!(links_of(std::slice::from_ref(&root)).is_empty(), "{root:?}");
        }
    }

    // DependencyLinkerTest.doesntLinkUnrelatedSpansWhenMissingRootSpan
    #[test]
    fn siblings_under_a_missing_root_are_not_linked_to_each_other() {
        let trace = vec![
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("service1"),
                None,
                false,
            ),
            span(
                "a",
                Some("a"),
                "c",
                Some(Kind::Server),
                Some("service2"),
                None,
                false,
            ),
        ];

        assert!(links_of(&trace).is_empty());
    }

    // DependencyLinkerTest.linksRelatedSpansWhenMissingRootSpan
    #[test]
    fn a_parent_and_child_under_a_missing_root_are_linked() {
        let trace = vec![
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("service1"),
                None,
                false,
            ),
            span(
                "a",
                Some("b"),
                "c",
                Some(Kind::Server),
                Some("service2"),
                None,
                false,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("service1", "service2", 1, 0)]);
    }

    // DependencyLinkerTest.linksSingleHostSpans
    #[test]
    fn a_server_not_sharing_its_clients_id_links_from_it() {
        let trace = vec![
            span("a", None, "a", Some(Kind::Client), Some("web"), None, false),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("app"),
                None,
                false,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("web", "app", 1, 0)]);
    }

    // DependencyLinkerTest.linksSingleHostSpans_errorOnClient
    #[test]
    fn an_error_on_the_client_counts_on_the_link_to_its_server() {
        let trace = vec![
            span("a", None, "a", Some(Kind::Client), Some("web"), None, true),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Server),
                Some("app"),
                None,
                false,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("web", "app", 1, 1)]);
    }

    // DependencyLinkerTest.missingSpan
    #[test]
    fn a_client_on_another_service_implies_a_call_into_it() {
        let trace = vec![
            span("a", None, "a", Some(Kind::Server), Some("web"), None, false),
            span(
                "a",
                Some("a"),
                "b",
                Some(Kind::Client),
                Some("app"),
                None,
                false,
            ),
        ];

        assert_eq!(links_of(&trace), vec![link("web", "app", 1, 0)]);
    }

    // DependencyLinkerTest.merge
    #[test]
    fn merging_links_sums_calls_and_errors() {
        let links = vec![
            link("foo", "bar", 2, 1),
            link("foo", "bar", 2, 2),
            link("foo", "foo", 1, 0),
        ];

        assert_eq!(
            merge_links(links),
            vec![link("foo", "bar", 4, 3), link("foo", "foo", 1, 0)]
        );
    }

    // DependencyLinkerTest.merge_error
    #[test]
    fn merging_links_without_errors_keeps_zero_errors() {
        let links = vec![
            link("client", "server", 2, 0),
            link("client", "server", 2, 0),
            link("client", "client", 1, 0),
        ];

        assert_eq!(
            merge_links(links),
            vec![
                link("client", "client", 1, 0),
                link("client", "server", 4, 0)
            ]
        );
    }

    #[test]
    fn an_empty_trace_adds_nothing() {
        assert!(DependencyLinker::new().put_trace(&[]).link().is_empty());
    }

    #[test]
    fn empty_service_names_never_make_links() {
        // Built without normalisation, as a careless caller might.
        let mut client = span("a", None, "a", Some(Kind::Client), Some("web"), None, false);
        client.remote_endpoint = Some(Endpoint {
            service_name: Some("".into()),
            ..Endpoint::default()
        });

        assert!(links_of(&[client]).is_empty());
    }

    #[test]
    fn fragments_of_one_span_are_merged_before_linking() {
        let start = span("a", None, "a", Some(Kind::Client), Some("web"), None, false);
        let finish = Span {
            remote_endpoint: Some(Endpoint::service("app")),
            tags: vec![("error".into(), "timeout".into())],
            ..span("a", None, "a", None, None, None, false)
        };

        assert_eq!(links_of(&[finish, start]), vec![link("web", "app", 1, 1)]);
    }

    #[test]
    fn an_endpoint_completed_from_fragments_places_children_under_their_server() {
        let backend_at = |ip: &str| Endpoint::service("backend").with_ip(ip);
        let trace = vec![
            span(
                "a",
                None,
                "1",
                Some(Kind::Server),
                Some("frontend"),
                None,
                false,
            ),
            span(
                "a",
                Some("1"),
                "2",
                Some(Kind::Client),
                Some("frontend"),
                None,
                false,
            ),
            // The shared server reported its name and its address in separate fragments.
            shared(span(
                "a",
                Some("1"),
                "2",
                Some(Kind::Server),
                Some("backend"),
                None,
                false,
            )),
            shared(Span {
                local_endpoint: Some(Endpoint::default().with_ip("10.0.0.1")),
                ..span("a", Some("1"), "2", Some(Kind::Server), None, None, false)
            }),
            Span {
                local_endpoint: Some(backend_at("10.0.0.1")),
                ..span(
                    "a",
                    Some("2"),
                    "3",
                    Some(Kind::Client),
                    None,
                    Some("db"),
                    false,
                )
            },
        ];

        // Under the client instead, the db call would add a second frontend -> backend.
        assert_eq!(
            links_of(&trace),
            vec![
                link("backend", "db", 1, 0),
                link("frontend", "backend", 1, 0)
            ]
        );
        let tree = crate::trace::SpanTree::build(trace);
        let db_call = tree.traverse().last().unwrap();
        let server = tree.span(tree.parent(db_call).unwrap()).unwrap();
        assert!(server.shared);
        assert_eq!(server.local_endpoint, Some(backend_at("10.0.0.1")));
    }

    /// A small, messy trace: few ids (so fragments collide), every kind, partial
    /// endpoints, missing parents and timestamps, 64- and 128-bit forms of one trace id.
    fn random_trace(rng: &mut StdRng) -> Vec<Span> {
        let endpoints = [
            Endpoint::service("a"),
            Endpoint::service("b"),
            Endpoint::default().with_ip("10.0.0.1"),
            Endpoint::default().with_ip("9.0.0.2"),
            Endpoint::service("a").with_ip("10.0.0.1"),
            Endpoint::service("b").with_port(8080),
        ];
        let kinds = [
            None,
            Some(Kind::Client),
            Some(Kind::Server),
            Some(Kind::Producer),
            Some(Kind::Consumer),
        ];
        let full = TraceId::parse("7180c278b62e8f6a216a2aea45d08fc9").unwrap();
        (0..rng.random_range(1..12))
            .map(|_| {
                let id = SpanId::new(rng.random_range(1..=6)).unwrap();
                let trace_id = if rng.random_bool(0.5) {
                    full
                } else {
                    full.to_64()
                };
                let mut span = Span::new(trace_id, id);
                if rng.random_bool(0.7) {
                    span.parent_id = SpanId::new(rng.random_range(1..=6));
                }
                span.kind = kinds[rng.random_range(0..kinds.len())];
                span.shared = rng.random_bool(0.3);
                if rng.random_bool(0.8) {
                    span.local_endpoint =
                        Some(endpoints[rng.random_range(0..endpoints.len())].clone());
                }
                if rng.random_bool(0.4) {
                    span.remote_endpoint =
                        Some(Endpoint::service(["a", "b", "c"][rng.random_range(0..3)]));
                }
                if rng.random_bool(0.6) {
                    span.timestamp = Some(rng.random_range(1..5));
                }
                if rng.random_bool(0.2) {
                    span.tags.push(("error".into(), "".into()));
                }
                span.normalize();
                span
            })
            .collect()
    }

    #[test]
    fn the_linker_merges_and_builds_trees_exactly_like_merge_trace_and_span_tree() {
        let mut rng = StdRng::seed_from_u64(0x5eed);
        let mut builder = TreeBuilder::default();
        let mut tree = Tree::default();
        let mut order = Vec::new();
        for _ in 0..3000 {
            let trace = random_trace(&mut rng);

            let mut fragments: Vec<LinkSpan<'_>> = trace.iter().map(LinkSpan::new).collect();
            sort_fragments(&mut fragments);
            merge_sorted(&mut fragments);
            builder.build(&fragments, &mut tree);
            tree.breadth_first(&mut order);
            let reference = crate::trace::SpanTree::build(trace.clone());

            let merged = reference.spans();
            assert_eq!(fragments.len(), merged.len(), "{trace:?}");
            for (projected, span) in fragments.iter().zip(merged) {
                assert_eq!(projected.id, span.id, "{trace:?}");
                assert_eq!(projected.parent_id, span.parent_id, "{trace:?}");
                assert_eq!(projected.kind, span.kind, "{trace:?}");
                assert_eq!(projected.shared, span.shared, "{trace:?}");
                assert_eq!(Fragment::timestamp(projected), span.timestamp, "{trace:?}");
                assert_eq!(
                    projected.local_endpoint(),
                    span.local_endpoint.as_ref(),
                    "{trace:?}"
                );
                assert_eq!(
                    projected.remote_service,
                    span.remote_service_name(),
                    "{trace:?}"
                );
                assert_eq!(projected.error, span.tag("error").is_some(), "{trace:?}");
            }
            assert_eq!(tree.root(), reference.root(), "{trace:?}");
            assert_eq!(order, reference.traverse().collect::<Vec<_>>(), "{trace:?}");
            for &node in &order {
                assert_eq!(tree.parent(node), reference.parent(node), "{trace:?}");
            }
        }
    }

    #[test]
    fn a_reused_linker_gives_the_same_links_as_fresh_ones() {
        let traces: Vec<Vec<Span>> = (1..=50u64)
            .map(|i| {
                let mut trace = trace();
                for span in &mut trace {
                    span.trace_id = TraceId::from_parts(0, i).unwrap();
                }
                if i % 3 == 0 {
                    trace.remove(3); // headless
                }
                trace
            })
            .collect();

        let mut reused = DependencyLinker::new();
        for trace in &traces {
            reused.put_trace(trace);
        }
        let fresh: Vec<DependencyLink> = traces.iter().flat_map(|t| links_of(t)).collect();

        assert_eq!(reused.link(), merge_links(fresh));
        assert_eq!(
            reused.link(),
            vec![link("app", "db", 50, 50), link("web", "app", 50, 0)]
        );
    }
}

/// Zipkin's storage conformance cases for dependencies (ITDependencies), at the level of
/// the linker: the time-window cases belong to the storage suite.
#[cfg(test)]
mod it_dependencies {
    use super::*;
    use crate::model::{Annotation, TraceId};

    const TODAY_MICROS: u64 = 1_700_000_000_000_000;

    fn frontend() -> Endpoint {
        Endpoint::service("frontend").with_ip("127.0.0.1")
    }
    fn backend() -> Endpoint {
        Endpoint::service("backend")
            .with_ip("192.168.99.101")
            .with_port(9000)
    }
    fn db() -> Endpoint {
        Endpoint::service("db")
            .with_ip("2001:db8::c001")
            .with_port(3036)
    }
    fn kafka() -> Endpoint {
        Endpoint::service("kafka")
    }

    fn trace_id() -> TraceId {
        TraceId::parse("7180c278b62e8f6a216a2aea45d08fc9").unwrap()
    }

    fn id(hex: &str) -> SpanId {
        SpanId::parse(hex).unwrap()
    }

    fn at_ms(ms: u64) -> u64 {
        TODAY_MICROS + ms * 1000
    }

    /// Zipkin's `TestObjects.newTrace`: frontend SERVER, frontend CLIENT to backend,
    /// backend shared SERVER, backend CLIENT to db with an error tag.
    fn new_trace() -> Vec<Span> {
        vec![
            Span::builder(trace_id(), id("1"))
                .name("get")
                .kind(Kind::Server)
                .local_endpoint(frontend())
                .timestamp(at_ms(0))
                .duration(350_000)
                .build(),
            Span::builder(trace_id(), id("2"))
                .parent_id(id("1"))
                .name("get")
                .kind(Kind::Client)
                .local_endpoint(frontend())
                .remote_endpoint(backend())
                .timestamp(at_ms(50))
                .duration(200_000)
                .annotation(at_ms(100), "foo")
                .tag("http.path", "/api")
                .tag("clnt/finagle.version", "6.45.0")
                .build(),
            Span::builder(trace_id(), id("2"))
                .parent_id(id("1"))
                .shared(true)
                .name("get")
                .kind(Kind::Server)
                .local_endpoint(backend())
                .timestamp(at_ms(100))
                .duration(150_000)
                .build(),
            Span::builder(trace_id(), id("3"))
                .parent_id(id("2"))
                .name("query")
                .kind(Kind::Client)
                .local_endpoint(backend())
                .remote_endpoint(db())
                .timestamp(at_ms(150))
                .duration(50_000)
                .annotation(at_ms(190), "⻩")
                .tag("error", "\u{1F4A9}")
                .build(),
        ]
    }

    fn new_trace_links() -> Vec<DependencyLink> {
        vec![
            DependencyLink::new("backend", "db", 1, 1),
            DependencyLink::new("frontend", "backend", 1, 0),
        ]
    }

    fn links_of(trace: &[Span]) -> Vec<DependencyLink> {
        DependencyLinker::new().put_trace(trace).link()
    }

    fn link(parent: &str, child: &str, calls: u64) -> DependencyLink {
        DependencyLink::new(parent, child, calls, 0)
    }

    // ITDependencies.getDependencies
    #[test]
    fn the_sample_trace_links_frontend_backend_and_db() {
        assert_eq!(links_of(&new_trace()), new_trace_links());
    }

    // ITDependencies.getDependencies_linksMixedTraceId
    #[test]
    fn a_server_that_dropped_the_high_trace_id_bits_still_links() {
        let full = trace_id();
        let truncated = full.to_64();
        let trace = vec![
            Span::builder(full, id("1"))
                .name("get")
                .kind(Kind::Server)
                .timestamp(at_ms(0))
                .duration(350_000)
                .local_endpoint(frontend())
                .build(),
            Span::builder(truncated, id("2"))
                .parent_id(id("1"))
                .name("get")
                .kind(Kind::Server)
                .shared(true)
                .timestamp(at_ms(100))
                .duration(250_000)
                .local_endpoint(backend())
                .build(),
            Span::builder(full, id("2"))
                .parent_id(id("1"))
                .kind(Kind::Client)
                .timestamp(at_ms(50))
                .duration(300_000)
                .local_endpoint(frontend())
                .build(),
        ];

        assert_eq!(links_of(&trace), vec![link("frontend", "backend", 1)]);
    }

    // ITDependencies.replayOverwrites
    #[test]
    fn the_same_spans_stored_twice_count_once() {
        let mut twice = new_trace();
        twice.extend(new_trace());

        assert_eq!(links_of(&twice), new_trace_links());
    }

    // ITDependencies.getDependenciesAllInstrumented
    #[test]
    fn ports_do_not_split_a_service() {
        let one = Endpoint::service("frontend").with_ip("127.0.0.1");
        let two = Endpoint::service("backend").with_ip("127.0.0.2");
        let three = Endpoint::service("db").with_ip("127.0.0.3");
        let trace = vec![
            Span::builder(trace_id(), id("10"))
                .kind(Kind::Server)
                .local_endpoint(one.clone())
                .timestamp(at_ms(0))
                .build(),
            Span::builder(trace_id(), id("20"))
                .parent_id(id("10"))
                .kind(Kind::Client)
                .local_endpoint(one.with_port(3001))
                .timestamp(at_ms(50))
                .build(),
            Span::builder(trace_id(), id("20"))
                .parent_id(id("10"))
                .shared(true)
                .kind(Kind::Server)
                .local_endpoint(two.clone())
                .timestamp(at_ms(100))
                .build(),
            Span::builder(trace_id(), id("30"))
                .parent_id(id("20"))
                .kind(Kind::Client)
                .local_endpoint(two.with_port(3002))
                .timestamp(at_ms(150))
                .build(),
            Span::builder(trace_id(), id("30"))
                .parent_id(id("20"))
                .shared(true)
                .kind(Kind::Server)
                .local_endpoint(three)
                .timestamp(at_ms(160))
                .build(),
        ];

        assert_eq!(
            links_of(&trace),
            vec![link("backend", "db", 1), link("frontend", "backend", 1)]
        );
    }

    // ITDependencies.dependencies_loopback
    #[test]
    fn a_client_calling_its_own_service_is_a_loopback_link() {
        let trace = new_trace();
        let mut client = trace[1].clone();
        client.remote_endpoint = trace[0].local_endpoint.clone();

        assert_eq!(
            links_of(&[trace[0].clone(), client]),
            vec![link("frontend", "frontend", 1)]
        );
    }

    // ITDependencies.dependencies_headlessTrace
    #[test]
    fn a_trace_missing_its_root_still_links() {
        let mut trace = new_trace();
        trace.remove(0);

        assert_eq!(links_of(&trace), new_trace_links());
    }

    // ITDependencies.notInstrumentedClientAndServer
    #[test]
    fn uninstrumented_caller_and_callee_are_linked_from_remote_endpoints() {
        let trace = vec![
            Span::builder(trace_id(), id("20"))
                .kind(Kind::Server)
                .local_endpoint(frontend())
                .remote_endpoint(kafka())
                .timestamp(at_ms(0))
                .build(),
            Span::builder(trace_id(), id("21"))
                .parent_id(id("20"))
                .kind(Kind::Client)
                .local_endpoint(frontend())
                .timestamp(at_ms(50))
                .build(),
            Span::builder(trace_id(), id("21"))
                .parent_id(id("20"))
                .shared(true)
                .kind(Kind::Server)
                .local_endpoint(backend())
                .timestamp(at_ms(250))
                .build(),
            Span::builder(trace_id(), id("22"))
                .parent_id(id("21"))
                .kind(Kind::Client)
                .local_endpoint(backend())
                .remote_endpoint(db())
                .timestamp(at_ms(150))
                .build(),
        ];

        assert_eq!(
            links_of(&trace),
            vec![
                link("backend", "db", 1),
                link("frontend", "backend", 1),
                link("kafka", "frontend", 1),
            ]
        );
    }

    // ITDependencies.instrumentedClientAndServer
    #[test]
    fn a_root_client_and_its_shared_server_link() {
        let trace = vec![
            Span::builder(trace_id(), id("10"))
                .kind(Kind::Client)
                .local_endpoint(frontend())
                .timestamp(at_ms(50))
                .build(),
            Span::builder(trace_id(), id("10"))
                .shared(true)
                .kind(Kind::Server)
                .local_endpoint(backend())
                .timestamp(at_ms(100))
                .build(),
            Span::builder(trace_id(), id("11"))
                .parent_id(id("10"))
                .kind(Kind::Client)
                .local_endpoint(backend())
                .remote_endpoint(db())
                .timestamp(at_ms(150))
                .build(),
        ];

        assert_eq!(
            links_of(&trace),
            vec![link("backend", "db", 1), link("frontend", "backend", 1)]
        );
    }

    // ITDependencies.instrumentedProducerAndConsumer
    #[test]
    fn producer_and_consumer_link_through_the_broker() {
        let trace = vec![
            Span::builder(trace_id(), id("10"))
                .kind(Kind::Producer)
                .local_endpoint(frontend())
                .remote_endpoint(kafka())
                .timestamp(at_ms(50))
                .duration(1)
                .build(),
            Span::builder(trace_id(), id("11"))
                .parent_id(id("10"))
                .kind(Kind::Consumer)
                .local_endpoint(backend())
                .remote_endpoint(kafka())
                .timestamp(at_ms(100))
                .duration(1)
                .build(),
        ];

        assert_eq!(
            links_of(&trace),
            vec![link("frontend", "kafka", 1), link("kafka", "backend", 1)]
        );
    }

    // ITDependencies.missingIntermediateSpan
    #[test]
    fn a_missing_intermediate_span_still_links_the_services_around_it() {
        let trace = vec![
            Span::builder(trace_id(), id("20"))
                .kind(Kind::Server)
                .local_endpoint(frontend())
                .timestamp(at_ms(0))
                .build(),
            Span::builder(trace_id(), id("22"))
                .parent_id(id("21"))
                .kind(Kind::Client)
                .local_endpoint(backend())
                .timestamp(at_ms(150))
                .build(),
        ];

        assert_eq!(links_of(&trace), vec![link("frontend", "backend", 1)]);
    }

    // ITDependencies.canSearchForIntervalsBesidesToday (the two days' traces together)
    #[test]
    fn two_traces_of_the_same_shape_add_up() {
        let yesterday: Vec<Span> = new_trace()
            .into_iter()
            .map(|s| Span {
                trace_id: TraceId::from_parts(0, 42).unwrap(),
                timestamp: s.timestamp.map(|t| t - 86_400_000_000),
                ..s
            })
            .collect();

        let links = DependencyLinker::new()
            .put_trace(&yesterday)
            .put_trace(&new_trace())
            .link();

        assert_eq!(
            links,
            vec![
                DependencyLink::new("backend", "db", 2, 2),
                DependencyLink::new("frontend", "backend", 2, 0),
            ]
        );
    }

    /// Three kind-less spans, each naming both sides, under a root recorded by `root`.
    fn kindless_chain(root: Endpoint) -> Vec<Span> {
        vec![
            Span::builder(trace_id(), id("20"))
                .local_endpoint(root)
                .remote_endpoint(frontend())
                .timestamp(at_ms(0))
                .build(),
            Span::builder(trace_id(), id("21"))
                .parent_id(id("20"))
                .local_endpoint(frontend())
                .remote_endpoint(backend())
                .timestamp(at_ms(50))
                .build(),
            Span::builder(trace_id(), id("22"))
                .parent_id(id("21"))
                .local_endpoint(backend())
                .remote_endpoint(db())
                .timestamp(at_ms(150))
                .build(),
        ]
    }

    // ITDependencies.spanKindIsNotRequiredWhenEndpointsArePresent
    #[test]
    fn spans_without_kind_link_when_both_endpoints_are_named() {
        assert_eq!(
            links_of(&kindless_chain(kafka())),
            vec![
                link("backend", "db", 1),
                link("frontend", "backend", 1),
                link("kafka", "frontend", 1),
            ]
        );
    }

    // ITDependencies.unnamedEndpointsAreSkipped
    #[test]
    fn an_endpoint_without_service_name_makes_no_link() {
        let unnamed = Endpoint::default().with_ip("172.17.0.4");

        assert_eq!(
            links_of(&kindless_chain(unnamed)),
            vec![link("backend", "db", 1), link("frontend", "backend", 1)]
        );
    }

    // ITDependencies.intermediateSpans
    #[test]
    fn local_spans_between_rpcs_are_looked_through() {
        let trace = vec![
            Span::builder(trace_id(), id("20"))
                .kind(Kind::Server)
                .local_endpoint(frontend())
                .timestamp(at_ms(0))
                .build(),
            Span::builder(trace_id(), id("21"))
                .parent_id(id("20"))
                .name("call")
                .local_endpoint(frontend())
                .timestamp(at_ms(25))
                .build(),
            Span::builder(trace_id(), id("22"))
                .parent_id(id("21"))
                .kind(Kind::Client)
                .local_endpoint(frontend())
                .timestamp(at_ms(50))
                .build(),
            Span::builder(trace_id(), id("22"))
                .parent_id(id("21"))
                .shared(true)
                .kind(Kind::Server)
                .local_endpoint(backend())
                .timestamp(at_ms(100))
                .build(),
            Span::builder(trace_id(), id("23"))
                .parent_id(id("22"))
                .name("depth4")
                .local_endpoint(backend())
                .timestamp(at_ms(110))
                .build(),
            Span::builder(trace_id(), id("24"))
                .parent_id(id("23"))
                .name("depth5")
                .local_endpoint(backend())
                .timestamp(at_ms(125))
                .build(),
            Span::builder(trace_id(), id("25"))
                .parent_id(id("24"))
                .kind(Kind::Client)
                .local_endpoint(backend())
                .remote_endpoint(db())
                .timestamp(at_ms(150))
                .build(),
        ];

        assert_eq!(
            links_of(&trace),
            vec![link("backend", "db", 1), link("frontend", "backend", 1)]
        );
    }

    // ITDependencies.duplicateAddress (the v1 spans as Zipkin's converter turns them into
    // v2: a "ca" equal to the server's own endpoint is dropped)
    #[test]
    fn a_server_whose_caller_address_is_itself_makes_no_loopback() {
        let trace = vec![
            Span::builder(trace_id(), id("20"))
                .kind(Kind::Server)
                .local_endpoint(frontend())
                .timestamp(at_ms(0))
                .duration(350_000)
                .build(),
            Span::builder(trace_id(), id("22"))
                .parent_id(id("21"))
                .kind(Kind::Client)
                .local_endpoint(frontend())
                .remote_endpoint(backend())
                .timestamp(at_ms(50))
                .duration(250_000)
                .build(),
        ];

        assert_eq!(links_of(&trace), vec![link("frontend", "backend", 1)]);
    }

    fn oneway(server_annotation: Option<Annotation>) -> Vec<Span> {
        let mut server = Span::builder(trace_id(), id("10"))
            .shared(true)
            .kind(Kind::Server)
            .local_endpoint(backend())
            .timestamp(at_ms(100))
            .build();
        server.annotations.extend(server_annotation);
        vec![
            Span::builder(trace_id(), id("10"))
                .kind(Kind::Client)
                .local_endpoint(frontend())
                .timestamp(at_ms(50))
                .build(),
            server,
        ]
    }

    // ITDependencies.oneway
    #[test]
    fn a_one_way_call_without_durations_links() {
        assert_eq!(
            links_of(&oneway(None)),
            vec![link("frontend", "backend", 1)]
        );
    }

    // ITDependencies.annotationNamedErrorIsntError
    #[test]
    fn an_error_annotation_on_the_server_is_not_a_failed_call() {
        let trace = oneway(Some(Annotation::new(at_ms(72), "error")));

        assert_eq!(links_of(&trace), vec![link("frontend", "backend", 1)]);
    }

    // ITDependencies.oneway_noClient
    #[test]
    fn a_root_server_links_from_the_remote_it_recorded() {
        let trace = vec![
            Span::builder(trace_id(), id("10"))
                .name("receive")
                .kind(Kind::Server)
                .local_endpoint(backend())
                .remote_endpoint(kafka())
                .timestamp(at_ms(0))
                .build(),
            Span::builder(trace_id(), id("11"))
                .parent_id(id("10"))
                .name("process")
                .local_endpoint(backend())
                .timestamp(at_ms(25))
                .build(),
        ];

        assert_eq!(links_of(&trace), vec![link("kafka", "backend", 1)]);
    }

    // ITDependenciesHeavy.manyLinks
    #[test]
    fn many_traces_make_many_distinct_links() {
        let mut linker = DependencyLinker::new();
        for i in 0..256u64 {
            let (web, app, db) = (
                Endpoint::service(&format!("web-{i}")),
                Endpoint::service(&format!("app-{i}")),
                Endpoint::service(&format!("db-{i}")),
            );
            let trace_id = TraceId::from_parts(0, i + 1).unwrap();
            linker.put_trace(&[
                Span::builder(trace_id, id("10"))
                    .kind(Kind::Client)
                    .local_endpoint(web)
                    .build(),
                Span::builder(trace_id, id("10"))
                    .shared(true)
                    .kind(Kind::Server)
                    .local_endpoint(app.clone())
                    .build(),
                Span::builder(trace_id, id("11"))
                    .parent_id(id("10"))
                    .kind(Kind::Client)
                    .local_endpoint(app)
                    .remote_endpoint(db)
                    .build(),
            ]);
        }

        let links = linker.link();

        assert_eq!(links.len(), 512);
        assert!(links
            .iter()
            .all(|l| l.call_count == 1 && l.error_count == 0));
        assert!(links.contains(&link("web-7", "app-7", 1)));
        assert!(links.contains(&link("app-255", "db-255", 1)));
    }
}
