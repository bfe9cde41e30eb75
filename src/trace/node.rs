//! Zipkin's `SpanNode`: the parent/child tree of one merged trace.
//!
//! The rules are Zipkin's, including its two lookup tables, because their quirks decide
//! where odd spans end up:
//! - a span is keyed by its id, except a shared span, keyed by (id, local endpoint) since
//!   several servers may answer one client id; its parent is the span with its own id
//!   (the CLIENT half);
//! - a non-shared span hangs under a shared span with its parent id on the same local
//!   endpoint when there is one (a local span inside a server), else under the span
//!   with its parent id;
//! - the first span without a parent id is the root; spans whose parent cannot be found
//!   hang under it, or under a synthetic root when no span qualifies (headless traces);
//! - children are ordered by timestamp (absent first), ties in the order they were found.
//!
//! Nodes are indices into the merged span list rather than pointers, and the lookup
//! tables live in a [`TreeBuilder`] that the dependency linker reuses for every trace.

use std::collections::hash_map::Entry;
use std::collections::VecDeque;

use crate::hashing::RandomMap as HashMap;

use super::merge::merge_trace;
use super::Fragment;
use crate::model::{Endpoint, Span, SpanId};

/// A node of a [`SpanTree`]: a span, or the synthetic root of a headless trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// The tree of one trace, after [`merge_trace`].
#[derive(Debug, Clone)]
pub struct SpanTree {
    spans: Vec<Span>,
    tree: Tree,
}

impl SpanTree {
    /// Merges the fragments of one trace and links them into a tree. All spans are
    /// assumed to belong to the same trace; an empty input gives a tree with only a
    /// synthetic root.
    pub fn build(spans: Vec<Span>) -> Self {
        let spans = merge_trace(spans);
        let mut tree = Tree::default();
        TreeBuilder::default().build(&spans, &mut tree);
        SpanTree { spans, tree }
    }

    /// The root: the first span without a parent id, or a synthetic node.
    pub fn root(&self) -> NodeId {
        NodeId(self.tree.root)
    }

    /// The node's span; `None` for the synthetic root.
    pub fn span(&self, node: NodeId) -> Option<&Span> {
        self.spans.get(node.index())
    }

    /// The node's parent; `None` for the root (and for the few spans Zipkin leaves out of
    /// the tree, such as a second span claiming the root's id).
    pub fn parent(&self, node: NodeId) -> Option<NodeId> {
        self.tree.parent(node)
    }

    /// The node's children, by timestamp.
    pub fn children(&self, node: NodeId) -> &[NodeId] {
        self.tree.children(node)
    }

    /// All spans reachable from the root, breadth-first. A synthetic root is not yielded:
    /// the walk starts with its children.
    pub fn traverse(&self) -> BreadthFirst<'_> {
        let mut queue = VecDeque::new();
        if self.tree.has_synthetic_root() {
            queue.extend(self.children(self.root()));
        } else {
            queue.push_back(self.root());
        }
        BreadthFirst { tree: self, queue }
    }

    /// The merged spans, in merge order (by span id).
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    pub fn into_spans(self) -> Vec<Span> {
        self.spans
    }
}

/// Breadth-first walk over a [`SpanTree`]; see [`SpanTree::traverse`].
#[derive(Debug)]
pub struct BreadthFirst<'a> {
    tree: &'a SpanTree,
    queue: VecDeque<NodeId>,
}

impl Iterator for BreadthFirst<'_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        let node = self.queue.pop_front()?;
        self.queue.extend(self.tree.children(node));
        Some(node)
    }
}

const NO_NODE: u32 = u32::MAX;

/// Tree shape over spans `0..len`; node `len` is the synthetic root when there is one.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    len: u32,
    root: u32,
    parent: Vec<u32>,
    /// `children[child_start[n]..child_start[n + 1]]` are node `n`'s children.
    child_start: Vec<u32>,
    children: Vec<NodeId>,
}

impl Tree {
    pub(crate) fn root(&self) -> NodeId {
        NodeId(self.root)
    }

    pub(crate) fn has_synthetic_root(&self) -> bool {
        self.root == self.len
    }

    pub(crate) fn parent(&self, node: NodeId) -> Option<NodeId> {
        let parent = *self.parent.get(node.index())?;
        (parent != NO_NODE).then_some(NodeId(parent))
    }

    pub(crate) fn children(&self, node: NodeId) -> &[NodeId] {
        let n = node.index();
        &self.children[self.child_start[n] as usize..self.child_start[n + 1] as usize]
    }

    /// Fills `order` with the reachable span nodes, breadth-first (see
    /// [`SpanTree::traverse`]); the vector doubles as the queue.
    pub(crate) fn breadth_first(&self, order: &mut Vec<NodeId>) {
        order.clear();
        if self.has_synthetic_root() {
            order.extend_from_slice(self.children(self.root()));
        } else {
            order.push(self.root());
        }
        let mut next = 0;
        while next < order.len() {
            let node = order[next];
            order.extend_from_slice(self.children(node));
            next += 1;
        }
    }
}

/// A key in Zipkin's node and parent tables.
///
/// Shared spans are told apart by their local endpoint. Rather than borrow endpoints
/// (which would tie the tables to one trace's lifetime), an endpoint is named by a class:
/// 0 for "no endpoint", else one plus the index of the first shared span with this id
/// and an equal endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Id(SpanId),
    Shared(SpanId, u32),
}

const NO_ENDPOINT: u32 = 0;

/// An entry of the insertion-ordered span-to-parent table.
#[derive(Debug, Clone, Copy)]
struct ParentEntry {
    child: Key,
    parent: Option<Key>,
    live: bool,
}

/// Scratch space for building trees, kept between traces to avoid reallocating.
#[derive(Debug, Default)]
pub(crate) struct TreeBuilder {
    key_to_node: HashMap<Key, u32>,
    /// Zipkin iterates its span-to-parent map in insertion order, which decides the order
    /// of children with equal timestamps, so it is mirrored as a vector plus an index.
    parents: Vec<ParentEntry>,
    parent_slot: HashMap<Key, u32>,
    shared_class: Vec<u32>,
    any_shared: bool,
    attached: Vec<u32>,
    attach_seq: Vec<u32>,
    cursor: Vec<u32>,
}

impl TreeBuilder {
    /// Links `spans` into `tree`. The spans must be merged (see [`merge_trace`]), which
    /// also leaves them sorted by id: the spans of one id are then contiguous.
    pub(crate) fn build<T: Fragment>(&mut self, spans: &[T], tree: &mut Tree) {
        let len = u32::try_from(spans.len()).expect("a trace has fewer than 2^32 spans");
        debug_assert!(spans.windows(2).all(|w| w[0].id() <= w[1].id()));
        self.clear(spans.len());

        self.classify_shared(spans);
        // Zipkin's `index`: every span's key and its parent's key.
        for (i, span) in spans.iter().enumerate() {
            let (key, parent) = if span.shared() {
                (self.own_key(span, i), Some(Key::Id(span.id())))
            } else {
                (Key::Id(span.id()), span.parent_id().map(Key::Id))
            };
            self.put_parent(key, parent);
        }

        // Zipkin's `process`: pick the root and refine parents now that all keys are known.
        let mut root = None;
        for (i, span) in spans.iter().enumerate() {
            let key = self.own_key(span, i);
            let unqualified = match key {
                Key::Shared(id, _) if span.local_endpoint().is_some() => {
                    Key::Shared(id, NO_ENDPOINT)
                }
                key => key,
            };
            let has_parent = if span.shared() {
                true
            } else if let Some(parent_id) = span.parent_id() {
                // A local span inside a shared server is the most specific case.
                let class = self.shared_class_of(spans, parent_id, span.local_endpoint());
                if let Some(class) = class {
                    let in_server = Key::Shared(parent_id, class);
                    if self.parent_slot.contains_key(&in_server) {
                        self.put_parent(unqualified, Some(in_server));
                    }
                }
                true
            } else {
                false
            };

            let node = i as u32;
            if !has_parent && root.is_none() {
                root = Some(node);
                self.remove_parent(unqualified);
            } else if span.shared() {
                // Also reachable without endpoint, for children whose endpoint is unknown.
                self.key_to_node.insert(key, node);
                self.key_to_node.insert(unqualified, node);
            } else {
                self.key_to_node.insert(unqualified, node);
            }
        }

        let root = root.unwrap_or(len);
        self.link(spans, root, tree);
    }

    fn clear(&mut self, len: usize) {
        self.key_to_node.clear();
        self.parents.clear();
        self.parent_slot.clear();
        self.any_shared = false;
        self.shared_class.clear();
        self.shared_class.resize(len, NO_ENDPOINT);
        self.attached.clear();
        self.attach_seq.clear();
        self.attach_seq.resize(len + 1, 0);
    }

    /// Names the local endpoint of every shared span (see [`Key`]).
    fn classify_shared<T: Fragment>(&mut self, spans: &[T]) {
        for (i, span) in spans.iter().enumerate() {
            if span.shared() {
                self.any_shared = true;
                self.shared_class[i] = self
                    .shared_class_of(spans, span.id(), span.local_endpoint())
                    .expect("a shared span finds itself");
            }
        }
    }

    /// The class a shared span with `id` on `endpoint` has, if there is such a span
    /// (for "no endpoint" the class is known up front; whether such a span exists is
    /// left to the caller).
    fn shared_class_of<T: Fragment>(
        &self,
        spans: &[T],
        id: SpanId,
        endpoint: Option<&Endpoint>,
    ) -> Option<u32> {
        if !self.any_shared {
            return None;
        }
        if endpoint.is_none() {
            return Some(NO_ENDPOINT);
        }
        let start = spans.partition_point(|s| s.id() < id);
        spans[start..]
            .iter()
            .take_while(|s| s.id() == id)
            .position(|s| s.shared() && s.local_endpoint() == endpoint)
            .map(|offset| (start + offset) as u32 + 1)
    }

    fn own_key<T: Fragment>(&self, span: &T, index: usize) -> Key {
        if span.shared() {
            Key::Shared(span.id(), self.shared_class[index])
        } else {
            Key::Id(span.id())
        }
    }

    /// `LinkedHashMap.put`: replacing keeps the position, re-adding goes last.
    fn put_parent(&mut self, child: Key, parent: Option<Key>) {
        match self.parent_slot.entry(child) {
            Entry::Occupied(slot) => self.parents[*slot.get() as usize].parent = parent,
            Entry::Vacant(slot) => {
                slot.insert(self.parents.len() as u32);
                self.parents.push(ParentEntry {
                    child,
                    parent,
                    live: true,
                });
            }
        }
    }

    fn remove_parent(&mut self, child: Key) {
        if let Some(slot) = self.parent_slot.remove(&child) {
            self.parents[slot as usize].live = false;
        }
    }

    /// Zipkin's final pass: attach every span to its parent, or to the root when the
    /// parent is unknown, then order children by timestamp.
    fn link<T: Fragment>(&mut self, spans: &[T], root: u32, tree: &mut Tree) {
        let len = spans.len();
        tree.len = len as u32;
        tree.root = root;
        tree.parent.clear();
        tree.parent.resize(len + 1, NO_NODE);
        tree.child_start.clear();
        tree.child_start.resize(len + 2, 0);

        for entry in self.parents.iter().filter(|e| e.live) {
            let Some(&child) = self.key_to_node.get(&entry.child) else {
                continue;
            };
            let parent = entry
                .parent
                .and_then(|key| self.key_to_node.get(&key).copied())
                .unwrap_or(root);
            // After merging, no span can be reached under two keys nor be its own parent;
            // Zipkin would add such a child twice, this keeps the first place instead.
            if parent == child || tree.parent[child as usize] != NO_NODE {
                continue;
            }
            tree.parent[child as usize] = parent;
            self.attach_seq[child as usize] = self.attached.len() as u32;
            self.attached.push(child);
            tree.child_start[parent as usize + 1] += 1;
        }

        for n in 1..tree.child_start.len() {
            tree.child_start[n] += tree.child_start[n - 1];
        }
        self.cursor.clear();
        self.cursor.extend_from_slice(&tree.child_start[..len + 1]);
        tree.children.clear();
        tree.children.resize(self.attached.len(), NodeId(NO_NODE));
        for &child in &self.attached {
            let parent = tree.parent[child as usize] as usize;
            tree.children[self.cursor[parent] as usize] = NodeId(child);
            self.cursor[parent] += 1;
        }
        for n in 0..=len {
            let (start, end) = (
                tree.child_start[n] as usize,
                tree.child_start[n + 1] as usize,
            );
            if end - start > 1 {
                // Keys are unique thanks to the sequence number, so an unstable sort gives
                // Java's stable order without allocating.
                tree.children[start..end].sort_unstable_by_key(|c| {
                    (
                        spans[c.index()].timestamp().unwrap_or(0),
                        self.attach_seq[c.index()],
                    )
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, Kind, TraceId};

    fn id(hex: &str) -> SpanId {
        SpanId::parse(hex).unwrap()
    }

    fn trace_id(hex: &str) -> TraceId {
        TraceId::parse(hex).unwrap()
    }

    /// A bare span in trace "a", optionally with a parent.
    fn span(parent: Option<&str>, span_id: &str) -> Span {
        let mut span = Span::new(trace_id("a"), id(span_id));
        span.parent_id = parent.map(id);
        span
    }

    fn named(span: Span, name: &str) -> Span {
        Span {
            name: Some(name.into()),
            ..span
        }
    }

    fn at(span: Span, timestamp: u64) -> Span {
        Span {
            timestamp: Some(timestamp),
            ..span
        }
    }

    fn shared(span: Span) -> Span {
        Span {
            shared: true,
            ..span
        }
    }

    fn on(span: Span, service: &str) -> Span {
        Span {
            local_endpoint: Some(Endpoint::service(service)),
            ..span
        }
    }

    fn child_spans(tree: &SpanTree, node: NodeId) -> Vec<&Span> {
        tree.children(node)
            .iter()
            .map(|&c| tree.span(c).unwrap())
            .collect()
    }

    /// Zipkin's SpanNodeTest builds from the reversed list, to prove the tree comes from
    /// ids and not from input order.
    fn build_reversed(trace: &[Span]) -> SpanTree {
        let mut copy = trace.to_vec();
        copy.reverse();
        SpanTree::build(copy)
    }

    /// Each span is the only child of the previous one.
    #[track_caller]
    fn assert_ancestry(trace: &[Span]) {
        let tree = build_reversed(trace);
        let mut current = tree.root();
        assert_eq!(tree.span(current), Some(&trace[0]));
        for expected in &trace[1..] {
            let children = tree.children(current);
            assert_eq!(children.len(), 1);
            current = children[0];
            assert_eq!(tree.span(current), Some(expected));
        }
        assert!(tree.children(current).is_empty());
    }

    // SpanNodeTest.build_redundantIgnored
    #[test]
    fn redundant_copies_become_one_node() {
        let trace = vec![span(None, "a"), span(None, "b"), span(None, "b")];

        let tree = SpanTree::build(trace.clone());

        assert_eq!(tree.span(tree.root()), Some(&trace[0]));
        assert_eq!(child_spans(&tree, tree.root()), vec![&trace[1]]);
    }

    // SpanNodeTest.traversesBreadthFirst (Zipkin wires nodes by hand; here parents and
    // timestamps give the same shape and order)
    #[test]
    fn traversal_is_breadth_first() {
        let trace = vec![
            span(None, "a"),
            at(span(Some("a"), "b"), 1),
            at(span(Some("a"), "c"), 2),
            at(span(Some("a"), "d"), 3),
            at(span(Some("b"), "e"), 4),
            at(span(Some("b"), "f"), 5),
            at(span(Some("b"), "1"), 6),
            at(span(Some("1"), "2"), 7),
        ];

        let tree = SpanTree::build(trace);

        let order: Vec<String> = tree
            .traverse()
            .map(|n| {
                tree.span(n)
                    .unwrap()
                    .id
                    .to_string()
                    .trim_start_matches('0')
                    .to_owned()
            })
            .collect();
        assert_eq!(order, ["a", "b", "c", "d", "e", "f", "1", "2"]);
    }

    // SpanNodeTest.constructsTraceTree
    #[test]
    fn the_tree_follows_parent_ids_not_input_order() {
        assert_ancestry(&[
            span(None, "a"),
            span(Some("a"), "b"),
            span(Some("b"), "c"),
            span(Some("c"), "d"),
        ]);
    }

    // SpanNodeTest.constructsTraceTree_sharedId
    #[test]
    fn a_shared_span_hangs_under_the_span_with_its_id() {
        assert_ancestry(&[
            span(None, "a"),
            span(Some("a"), "b"),
            shared(span(Some("a"), "b")),
            span(Some("b"), "c"),
        ]);
    }

    // SpanNodeTest.constructsTraceTree_sharedRootId
    #[test]
    fn a_shared_span_can_share_the_root_id() {
        assert_ancestry(&[
            span(None, "a"),
            shared(span(None, "a")),
            span(Some("a"), "b"),
            span(Some("b"), "c"),
        ]);
    }

    /// The client `b` has the two servers as children, bar first; each server has the
    /// local span on its own endpoint.
    #[track_caller]
    fn assert_server_ancestry(trace: &[Span]) {
        let tree = build_reversed(trace);
        assert_eq!(tree.span(tree.root()), Some(&trace[0]));

        let client = tree.children(tree.root())[0];
        assert_eq!(tree.span(client), Some(&trace[1]));
        assert_eq!(child_spans(&tree, client), vec![&trace[3], &trace[2]]);

        let server_bar = tree.children(client)[0];
        assert_eq!(child_spans(&tree, server_bar), vec![&trace[4]]);
        let server_foo = tree.children(client)[1];
        assert_eq!(child_spans(&tree, server_foo), vec![&trace[5]]);
    }

    // SpanNodeTest.constructsTraceTree_qualifiesChildrenOfDuplicateServerSpans
    #[test]
    fn children_of_servers_sharing_an_id_are_told_apart_by_endpoint() {
        assert_server_ancestry(&[
            span(None, "a"),
            span(Some("a"), "b"),
            on(shared(span(Some("a"), "b")), "foo"),
            on(shared(span(Some("a"), "b")), "bar"),
            on(span(Some("b"), "c"), "bar"),
            on(span(Some("b"), "d"), "foo"),
        ]);
    }

    // SpanNodeTest.constructsTraceTree_qualifiesChildrenOfDuplicateServerSpans_mixedShared
    #[test]
    fn children_of_a_client_and_its_shared_server_are_told_apart_by_endpoint() {
        assert_server_ancestry(&[
            span(None, "a"),
            span(Some("a"), "b"),
            on(span(Some("b"), "c"), "foo"),
            on(shared(span(Some("a"), "b")), "bar"),
            on(span(Some("b"), "d"), "bar"),
            on(span(Some("c"), "e"), "foo"),
        ]);
    }

    // SpanNodeTest.constructsTraceTree_dedupes
    #[test]
    fn duplicate_roots_collapse_into_one_node() {
        let trace = vec![span(None, "a"), span(None, "a"), span(None, "a")];

        let tree = SpanTree::build(trace.clone());

        assert_eq!(tree.span(tree.root()), Some(&trace[0]));
        assert!(tree.children(tree.root()).is_empty());
    }

    // SpanNodeTest.constructsTraceTree_duplicateRoots
    #[test]
    fn a_second_parentless_span_hangs_under_the_first() {
        let trace = vec![span(None, "a"), span(None, "b")];

        let tree = SpanTree::build(trace.clone());

        assert_eq!(tree.span(tree.root()), Some(&trace[0]));
        assert_eq!(child_spans(&tree, tree.root()), vec![&trace[1]]);
    }

    // SpanNodeTest.build_noChildLeftBehind
    #[test]
    fn every_span_is_reachable_when_some_lack_parents() {
        let trace = vec![
            named(span(None, "b"), "root-0"),
            named(span(Some("b"), "c"), "child-0"),
            named(span(Some("b"), "d"), "child-1"),
            named(span(None, "e"), "lost-0"),
            named(span(None, "f"), "lost-1"),
        ];

        let tree = SpanTree::build(trace.clone());

        assert_eq!(tree.traverse().count(), trace.len());
        assert_eq!(tree.span(tree.root()), Some(&trace[0]));
    }

    // SpanNodeTest.build_headless and build_outOfOrder
    #[test]
    fn a_headless_trace_gets_a_synthetic_root() {
        let s2 = named(span(Some("a"), "b"), "s2");
        let s3 = named(span(Some("a"), "c"), "s3");
        let s4 = named(span(Some("a"), "d"), "s4");

        let tree = SpanTree::build(vec![s4.clone(), s2.clone(), s3.clone()]);

        assert_eq!(tree.span(tree.root()), None);
        assert_eq!(child_spans(&tree, tree.root()), vec![&s2, &s3, &s4]);
        let walked: Vec<&Span> = tree.traverse().map(|n| tree.span(n).unwrap()).collect();
        assert_eq!(
            walked,
            vec![&s2, &s3, &s4],
            "the synthetic root is not yielded"
        );
    }

    // SpanNodeTest.build_skewedTrace
    #[test]
    fn a_span_id_reused_by_an_async_span_keeps_every_span_in_the_tree() {
        let trace = vec![
            Span::builder(trace_id("1e223ff1f80f1c69"), id("43210ae0c10d1234"))
                .parent_id(id("74280ae0c10d8062"))
                .name("async")
                .timestamp(1470150004008762)
                .duration(65000)
                .local_endpoint(Endpoint::service("serviceb").with_ip("192.0.0.0"))
                .build(),
            Span::builder(trace_id("1e223ff1f80f1c69"), id("43210ae0c10d1234"))
                .parent_id(id("bf396325699c84bf"))
                .kind(Kind::Server)
                .name("post")
                .timestamp(1541138169255688)
                .duration(168731)
                .local_endpoint(Endpoint::service("serviceb").with_ip("192.0.0.0"))
                .shared(true)
                .build(),
            Span::builder(trace_id("1e223ff1f80f1c69"), id("bb1f0e21882325b8"))
                .kind(Kind::Server)
                .name("get")
                .timestamp(1470150004071068)
                .duration(99411)
                .local_endpoint(Endpoint::service("servicea").with_ip("127.0.0.0"))
                .build(),
            Span::builder(trace_id("1e223ff1f80f1c69"), id("74280ae0c10d8062"))
                .parent_id(id("bb1f0e21882325b8"))
                .kind(Kind::Client)
                .name("post")
                .timestamp(1470150004074202)
                .duration(94539)
                .local_endpoint(Endpoint::service("servicea").with_ip("127.0.0.0"))
                .build(),
        ];

        let tree = SpanTree::build(trace.clone());

        let mut walked: Vec<Span> = tree
            .traverse()
            .map(|n| tree.span(n).unwrap().clone())
            .collect();
        let mut expected = trace;
        let by_debug = |a: &Span, b: &Span| format!("{a:?}").cmp(&format!("{b:?}"));
        walked.sort_by(by_debug);
        expected.sort_by(by_debug);
        assert_eq!(walked, expected);
    }

    // SpanNodeTest.ordersChildrenByTimestamp
    #[test]
    fn children_are_ordered_by_timestamp_with_absent_first() {
        let trace = vec![
            span(None, "1"),
            at(named(span(Some("1"), "a"), "a"), 2),
            at(named(span(Some("1"), "b"), "b"), 1),
            named(span(Some("1"), "c"), "c"),
        ];

        let tree = SpanTree::build(trace);

        let names: Vec<&str> = child_spans(&tree, tree.root())
            .iter()
            .map(|s| s.name.as_deref().unwrap())
            .collect();
        assert_eq!(names, ["c", "b", "a"]);
    }

    // SpanNodeTest.build_changingIps
    #[test]
    fn a_span_hangs_under_the_shared_server_on_its_own_endpoint() {
        let at_10 = Endpoint::service("my-service").with_ip("10.2.3.4");
        let trace = vec![
            Span::builder(trace_id("1"), id("c"))
                .parent_id(id("a"))
                .kind(Kind::Server)
                .timestamp(1)
                .local_endpoint(at_10.clone())
                .shared(true)
                .build(),
            Span::builder(trace_id("1"), id("b"))
                .parent_id(id("c"))
                .kind(Kind::Client)
                .timestamp(2)
                .local_endpoint(Endpoint::service("my-service").with_ip("169.2.3.4"))
                .build(),
            Span::builder(trace_id("1"), id("a"))
                .parent_id(id("c"))
                .timestamp(3)
                .local_endpoint(at_10)
                .build(),
        ];

        let tree = SpanTree::build(trace.clone());

        let walked: Vec<&Span> = tree.traverse().map(|n| tree.span(n).unwrap()).collect();
        assert_eq!(walked, trace.iter().collect::<Vec<_>>());
    }

    #[test]
    fn an_empty_trace_is_a_lone_synthetic_root() {
        let tree = SpanTree::build(Vec::new());

        assert_eq!(tree.span(tree.root()), None);
        assert_eq!(tree.traverse().count(), 0);
    }

    #[test]
    fn parents_point_back_up_the_tree() {
        let trace = vec![span(None, "a"), span(Some("a"), "b"), span(Some("b"), "c")];

        let tree = SpanTree::build(trace);

        let c = tree.traverse().last().unwrap();
        let b = tree.parent(c).unwrap();
        assert_eq!(tree.span(b).unwrap().id, id("b"));
        assert_eq!(tree.parent(tree.parent(b).unwrap()), None);
    }

    #[test]
    fn spans_in_a_parent_cycle_are_left_out_instead_of_looping() {
        let trace = vec![span(None, "a"), span(Some("c"), "b"), span(Some("b"), "c")];

        let tree = SpanTree::build(trace);

        let walked: Vec<SpanId> = tree.traverse().map(|n| tree.span(n).unwrap().id).collect();
        assert_eq!(walked, vec![id("a")]);
    }

    #[test]
    fn a_reused_builder_forgets_the_previous_trace() {
        let mut builder = TreeBuilder::default();
        let mut tree = Tree::default();
        let big = merge_trace(vec![
            span(None, "a"),
            span(Some("a"), "b"),
            span(Some("b"), "c"),
        ]);
        builder.build(&big, &mut tree);

        let headless = merge_trace(vec![span(Some("f"), "d")]);
        builder.build(&headless, &mut tree);

        assert!(tree.has_synthetic_root());
        assert_eq!(tree.children(tree.root()), &[NodeId(0)]);
        assert!(tree.children(NodeId(0)).is_empty());
    }
}
