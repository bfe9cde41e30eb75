//! The Zipkin v2 data model: spans, ids, search requests and dependency links.
//!
//! Pure data with Zipkin's normalisation rules; no I/O and no wire format here (see
//! `codec`). Everything past the codecs sees only these validated types.

mod dependency;
mod id;
mod query;
mod span;

pub use dependency::DependencyLink;
pub use id::{HexId, IdError, SpanId, TraceId};
pub use query::{
    parse_annotation_query, trace_timestamp, QueryError, QueryRequest, QueryRequestBuilder,
};
pub use span::{Annotation, Endpoint, Kind, Span, SpanBuilder};
