//! Edges of the service dependency graph.

/// Calls from `parent` to `child` service, aggregated over a time window.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DependencyLink {
    pub parent: String,
    pub child: String,
    pub call_count: u64,
    /// Calls whose span carried an `error` tag; omitted from JSON when zero.
    pub error_count: u64,
}

impl DependencyLink {
    pub fn new(
        parent: impl Into<String>,
        child: impl Into<String>,
        call_count: u64,
        error_count: u64,
    ) -> Self {
        Self {
            parent: parent.into(),
            child: child.into(),
            call_count,
            error_count,
        }
    }
}
