//! Hash maps keyed by what clients send.
//!
//! Trace and span ids, service names and tag values come from the network. With a fixed
//! hash function (FxHash) a client can choose ids that all land in one probe sequence and
//! turn every lookup into a scan of the table: the store, the linker and the span tree
//! would slow to a crawl. These maps use foldhash with a per-process random seed instead,
//! a fast hash that costs little more than FxHash per lookup (its string hashing is under
//! 1 % of the store insert's instructions in callgrind). Maps keyed by the store's own interned symbols
//! keep FxHash: their keys are small sequential integers no client chooses.

/// Seeded per process (and per map), so collisions cannot be computed offline.
pub type RandomState = foldhash::fast::RandomState;

/// A `HashMap` keyed by client-controlled values.
pub type RandomMap<K, V> = std::collections::HashMap<K, V, RandomState>;

/// A `HashSet` of client-controlled values.
pub type RandomSet<T> = std::collections::HashSet<T, RandomState>;
