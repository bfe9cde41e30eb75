//! The storage conformance suite against the in-memory store (`STORAGE_TYPE=mem`).
//!
//! Zipkin runs all its storage suites against `InMemoryStorage`; the embedded store must
//! pass every case, so nothing is skipped here.

#[macro_use]
mod conformance;

use std::sync::Arc;

use zipwire::storage::memory::MemoryStore;
use zipwire::storage::{SpanStore, StorageOptions};

/// Zipkin's default `MEM_MAX_SPANS`; far above what any case writes, so eviction never
/// interferes with a case.
const MAX_SPANS: usize = 500_000;

conformance_suite!(|options: StorageOptions| async move {
    Arc::new(MemoryStore::new(options, MAX_SPANS)) as Arc<dyn SpanStore>
});
