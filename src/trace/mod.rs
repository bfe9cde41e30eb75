//! Assembling traces from stored fragments, with Zipkin's semantics.
//!
//! Storage hands back raw fragments: several reports of one span from one host, and the
//! CLIENT and SERVER halves of an RPC that share a span id (B3 style). Everything that
//! needs a whole trace (the dependency graph, and anyone rendering a tree) goes through
//! this module, so the rules live in one place:
//!
//! - `merge`: [`merge_trace`], Zipkin's `Trace.merge`. Fragments of one span on one host
//!   become one span, a 128-bit trace id wins over its 64-bit form, a SERVER reusing its
//!   CLIENT's id is marked shared and inherits the client's parent. The two halves of an
//!   RPC stay separate spans.
//! - `node`: [`SpanTree`], Zipkin's `SpanNode`. Parent/child links by id, with shared
//!   SERVER spans keyed by (id, local endpoint) and hung under their CLIENT; orphans go
//!   under the root, or under a synthetic root when the trace has none. Nodes are indices,
//!   not pointers, and the builder's scratch space is reusable across traces.
//! - `linker`: [`DependencyLinker`], Zipkin's `DependencyLinker`. Walks each trace's
//!   tree breadth-first and counts calls (and errors) between services;
//!   [`merge_links`] sums links from several sources.
//!
//! Grouping spans into traces is the caller's job. For dependencies Zipkin groups by the
//! low 64 bits of the trace id; the linker ignores trace ids entirely, so a trace whose
//! spans mix the 64- and 128-bit forms of one id links as one trace.

mod linker;
mod merge;
mod node;

pub use linker::{merge_links, DependencyLinker};
pub use merge::merge_trace;
pub use node::{BreadthFirst, NodeId, SpanTree};

use crate::model::{Endpoint, Kind, SpanId};

/// What merging and tree building need to see of a span.
///
/// Implemented by the full [`crate::model::Span`] and by the linker's borrowed
/// projection, so both run the very same merge and tree code: the linker then never
/// clones a span, but cannot drift from what [`merge_trace`] and [`SpanTree`] do.
pub(crate) trait Fragment {
    fn id(&self) -> SpanId;
    fn parent_id(&self) -> Option<SpanId>;
    fn kind(&self) -> Option<Kind>;
    fn shared(&self) -> bool;
    fn local_endpoint(&self) -> Option<&Endpoint>;
    fn timestamp(&self) -> Option<u64>;

    fn set_parent_id(&mut self, parent: SpanId);
    fn set_shared(&mut self);
    /// Folds in a later fragment of the same span from the same host (Zipkin's
    /// `Span.Builder.merge`): the first value seen wins for scalars, endpoints merge field
    /// by field, annotations and tags accumulate (a later tag value wins), flags are OR-ed.
    /// `later` is left in an unspecified state; it is discarded afterwards.
    fn absorb(&mut self, later: &mut Self);
}
