//! In-memory storage: the embedded default (`STORAGE_TYPE=mem`).
//!
//! Placeholder with the final constructor; the indexed implementation replaces it.

use async_trait::async_trait;

use super::{check_dependency_window, SpanStore, StorageError, StorageOptions};
use crate::model::{DependencyLink, QueryRequest, Span, TraceId};

/// Spans kept in process memory, bounded by a span count (`MEM_MAX_SPANS`).
pub struct MemoryStore {
    _options: StorageOptions,
    _max_spans: usize,
}

impl MemoryStore {
    pub fn new(options: StorageOptions, max_spans: usize) -> Self {
        Self {
            _options: options,
            _max_spans: max_spans,
        }
    }
}

#[async_trait]
impl SpanStore for MemoryStore {
    async fn accept(&self, _spans: Vec<Span>) -> Result<(), StorageError> {
        Ok(())
    }
    async fn get_traces(&self, _request: &QueryRequest) -> Result<Vec<Vec<Span>>, StorageError> {
        Ok(Vec::new())
    }
    async fn get_trace(&self, _trace_id: TraceId) -> Result<Vec<Span>, StorageError> {
        Ok(Vec::new())
    }
    async fn get_traces_by_ids(&self, _ids: &[TraceId]) -> Result<Vec<Vec<Span>>, StorageError> {
        Ok(Vec::new())
    }
    async fn get_service_names(&self) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
    async fn get_remote_service_names(&self, _service: &str) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
    async fn get_span_names(&self, _service: &str) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
    async fn get_dependencies(
        &self,
        end_ts: i64,
        lookback: i64,
    ) -> Result<Vec<DependencyLink>, StorageError> {
        check_dependency_window(end_ts, lookback)?;
        Ok(Vec::new())
    }
    async fn get_autocomplete_keys(&self) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
    async fn get_autocomplete_values(&self, _key: &str) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
    async fn check(&self) -> Result<(), StorageError> {
        Ok(())
    }
    fn name(&self) -> String {
        "InMemoryStorage{}".into()
    }
}
