//! Zipwire: a Zipkin-compatible tracing collector and query server.
//!
//! Crate map (dependencies point inward; `model` depends on nothing):
//! - [`model`]: spans, ids, search requests, dependency links, Zipkin's normalisation.
//! - [`codec`]: wire formats (JSON v2 today), pure and synchronous.
//! - [`trace`]: assembling traces: fragment merging, span trees, the dependency linker.
//! - [`storage`]: the `SpanStore` seam and its backends.
//! - [`collector`]: the ingest pipeline (decode, count, sample, store) and its transports.
//! - [`api`]: the Zipkin HTTP API and the one error type that becomes a response.
//! - [`ui`]: the embedded web UI.
//! - [`config`], [`telemetry`], [`app`]: configuration, logging, and the wiring.
//! - [`hashing`]: the seeded hash maps used for client-controlled keys.

pub mod api;
pub mod app;
pub mod codec;
pub mod collector;
pub mod config;
pub mod hashing;
pub mod model;
pub mod storage;
pub mod telemetry;
pub mod trace;
pub mod ui;
