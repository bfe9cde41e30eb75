//! Zipwire: a Zipkin-compatible tracing collector and query server.
//!
//! Crate map (dependencies point inward; `model` depends on nothing):
//! - [`model`]: spans, ids, search requests, dependency links, Zipkin's normalisation.
//! - [`codec`]: wire formats (JSON v2 today), pure and synchronous.
//! - [`trace`]: assembling traces: fragment merging, span trees, the dependency linker.
//! - [`storage`]: the `SpanStore` seam and its backends.

pub mod codec;
pub mod model;
pub mod storage;
pub mod trace;
pub mod ui;
