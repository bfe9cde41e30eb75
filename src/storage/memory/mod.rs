//! In-memory storage: the embedded default (`STORAGE_TYPE=mem`).
//!
//! Layout, following Zipkin's `InMemoryStorage` semantics but indexed for speed:
//! - spans live in *buckets* keyed by the low 64 bits of their trace id, as Zipkin groups
//!   them, so a trace reported with both 64- and 128-bit ids can still be linked and, with
//!   `STRICT_TRACE_ID=false`, returned as one;
//! - a bucket holds one *unit* per trace as queries see it: one per full trace id in strict
//!   mode, one for the whole bucket otherwise. Each unit is indexed by its trace timestamp
//!   (root span's, else earliest) globally and per local service (`time_index`), so a
//!   search walks only candidate traces, newest first, and stops at `limit`;
//! - spans are stored packed (`compact`) with interned names (`interner`);
//! - `MEM_MAX_SPANS` is enforced before each write by evicting whole buckets, oldest trace
//!   timestamp first (spans without timestamps go first, as in Zipkin).
//!
//! Locking: one `RwLock`, never held across `.await`. Writes hold it only to pack and
//! index already-decoded spans; long reads (dependencies) work in chunks so ingest is not
//! stalled behind them.

mod compact;
mod interner;
mod time_index;

use async_trait::async_trait;
use compact_str::CompactString;
use parking_lot::RwLock;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use self::compact::StoredSpan;
use self::interner::{Interner, Sym, NONE};
use self::time_index::{Entry, TimeIndex};
use super::{check_dependency_window, SpanStore, StorageError, StorageOptions};
use crate::hashing::{RandomMap, RandomSet};
use crate::model::{DependencyLink, QueryRequest, Span, TraceId};
use crate::trace::DependencyLinker;

/// Spans kept in process memory, bounded by a span count (`MEM_MAX_SPANS`).
pub struct MemoryStore {
    options: StorageOptions,
    max_spans: usize,
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Bucket {
    spans: Vec<StoredSpan>,
    units: SmallVec<[Unit; 1]>,
    /// Span positions by span id, built once a bucket is large enough that scanning it
    /// for duplicates on every write would be quadratic.
    by_id: Option<RandomMap<u64, SmallVec<[u32; 2]>>>,
}

#[derive(Default)]
struct Unit {
    high: u64,
    /// Timestamp of the first root span (no parent) that had one; 0 if none yet.
    root_ts: u64,
    min_ts: u64,
    max_ts: u64,
    /// The timestamp this unit is currently indexed under (meaningful once `indexed`).
    indexed_ts: u64,
    /// Whether the unit is in the time index yet: a unit is indexed once per write batch,
    /// after all of the batch's spans are in, not once per span.
    indexed: bool,
    /// The generation of its current index entries (unique across units; 0 before the
    /// first); entries of other generations are stale.
    generation: u64,
    /// Already queued for re-indexing at the end of the current write batch.
    dirty: bool,
    /// Local services of its spans (for the per-service index); the first
    /// `indexed_services` of them are in the per-service index.
    services: SmallVec<[Sym; 4]>,
    indexed_services: u32,
}

impl Unit {
    fn trace_ts(&self) -> u64 {
        if self.root_ts != 0 {
            self.root_ts
        } else {
            self.min_ts
        }
    }
}

/// Buckets at or above this size index their spans by id for de-duplication.
const BY_ID_THRESHOLD: usize = 32;
/// Buckets processed per read-lock acquisition when computing dependencies.
const DEPENDENCY_CHUNK: usize = 256;

struct Inner {
    strict: bool,
    search: bool,
    /// Boxed so that the table holds 16-byte entries: a new trace writes its bucket to
    /// freshly allocated memory instead of to a random 170-byte slot of a table that at a
    /// million spans is tens of megabytes.
    buckets: RandomMap<u64, Box<Bucket>>,
    /// Every unit, by trace timestamp: the eviction order and the unfiltered search.
    by_time: TimeIndex,
    /// Units by local service; only when search is enabled.
    by_service: FxHashMap<Sym, TimeIndex>,
    /// The last index generation handed out.
    generation: u64,
    /// Span counts per local service, and per (service, span name) and (service, remote
    /// service): the name endpoints. Only when search is enabled.
    service_spans: FxHashMap<Sym, u32>,
    span_names: FxHashMap<Sym, FxHashMap<Sym, u32>>,
    remote_names: FxHashMap<Sym, FxHashMap<Sym, u32>>,
    /// Values of the configured autocomplete keys, counted so eviction can drop them.
    autocomplete: FxHashMap<Sym, RandomMap<CompactString, u32>>,
    /// Interned (and pinned) autocomplete keys.
    autocomplete_keys: Vec<Sym>,
    interner: Interner,
    span_count: usize,
    /// Largest distance (µs) seen between a unit's indexed timestamp and its earliest
    /// span, and between it and its latest span; lets a window query over span
    /// timestamps (dependencies) use the trace-timestamp index.
    spread_before: u64,
    spread_after: u64,
    scratch: Vec<u8>,
    /// Units (low, high) written by the current batch, re-indexed when it ends.
    dirty: Vec<(u64, u64)>,
}

impl MemoryStore {
    pub fn new(options: StorageOptions, max_spans: usize) -> Self {
        let mut interner = Interner::new();
        let autocomplete_keys = options
            .autocomplete_keys
            .iter()
            .map(|k| interner.acquire(k))
            .collect();
        let inner = Inner {
            strict: options.strict_trace_id,
            search: options.search_enabled,
            buckets: RandomMap::default(),
            by_time: TimeIndex::default(),
            by_service: FxHashMap::default(),
            generation: 0,
            service_spans: FxHashMap::default(),
            span_names: FxHashMap::default(),
            remote_names: FxHashMap::default(),
            autocomplete: FxHashMap::default(),
            autocomplete_keys,
            interner,
            span_count: 0,
            spread_before: 0,
            spread_after: 0,
            scratch: Vec::with_capacity(512),
            dirty: Vec::new(),
        };
        Self {
            options,
            max_spans,
            inner: RwLock::new(inner),
        }
    }

    /// Number of spans currently stored.
    pub fn span_count(&self) -> usize {
        self.inner.read().span_count
    }

    /// Stores spans synchronously; [`SpanStore::accept`] is this behind an async face.
    pub fn accept_sync(&self, spans: &[Span]) {
        let mut inner = self.inner.write();
        let incoming = spans.len();
        if inner.span_count + incoming > self.max_spans {
            let target = self.max_spans.saturating_sub(incoming);
            inner.evict_until(target);
        }
        for span in spans {
            inner.insert(span);
        }
        inner.reindex_dirty();
    }
}

impl Inner {
    fn unit_high(&self, trace_id: TraceId) -> u64 {
        if self.strict {
            trace_id.high()
        } else {
            0
        }
    }

    fn insert(&mut self, span: &Span) {
        let low = span.trace_id.low();
        let high = self.unit_high(span.trace_id);
        let stored = StoredSpan::pack(span, &mut self.interner, &mut self.scratch);
        let bucket = self.buckets.entry(low).or_default().as_mut();
        if bucket.contains(&stored) {
            stored.release(&mut self.interner);
            return;
        }

        // Index names before the span moves into the bucket.
        if self.search && stored.local_service != NONE {
            let svc = stored.local_service;
            *self.service_spans.entry(svc).or_default() += 1;
            if stored.name != NONE {
                *self
                    .span_names
                    .entry(svc)
                    .or_default()
                    .entry(stored.name)
                    .or_default() += 1;
            }
            if stored.remote_service != NONE {
                *self
                    .remote_names
                    .entry(svc)
                    .or_default()
                    .entry(stored.remote_service)
                    .or_default() += 1;
            }
        }
        if self.search && !self.autocomplete_keys.is_empty() {
            for key in self.autocomplete_keys.iter().copied() {
                if let Some(value) = stored.tag(key) {
                    *self
                        .autocomplete
                        .entry(key)
                        .or_default()
                        .entry(CompactString::from(value))
                        .or_default() += 1;
                }
            }
        }

        let unit_pos = match bucket.units.iter().position(|u| u.high == high) {
            Some(pos) => pos,
            None => {
                bucket.units.push(Unit {
                    high,
                    ..Unit::default()
                });
                bucket.units.len() - 1
            }
        };
        let unit = &mut bucket.units[unit_pos];
        if stored.timestamp != 0 {
            let ts = stored.timestamp;
            if stored.parent_id == 0 && unit.root_ts == 0 {
                unit.root_ts = ts;
            }
            unit.min_ts = if unit.min_ts == 0 {
                ts
            } else {
                unit.min_ts.min(ts)
            };
            unit.max_ts = unit.max_ts.max(ts);
        }
        if stored.local_service != NONE && !unit.services.contains(&stored.local_service) {
            unit.services.push(stored.local_service);
        }
        if !unit.dirty {
            unit.dirty = true;
            self.dirty.push((low, high));
        }

        bucket.push(stored);
        self.span_count += 1;
    }

    /// Brings the time and service indexes up to date for the units the batch wrote: one
    /// index update per trace and batch, however many of its spans the batch carried.
    fn reindex_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for (low, high) in dirty.drain(..) {
            let Some(unit) = self
                .buckets
                .get_mut(&low)
                .and_then(|b| b.units.iter_mut().find(|u| u.high == high))
            else {
                continue;
            };
            unit.dirty = false;
            let ts = unit.trace_ts();
            let indexed_services = unit.indexed_services as usize;
            // A unit that moved is appended again under a new generation, which makes its
            // old entries stale; one that only gained services adds entries for those.
            let moved = !unit.indexed || ts != unit.indexed_ts;
            if moved {
                self.generation += 1;
                unit.generation = self.generation;
            }
            let entry = Entry {
                ts,
                low,
                high,
                generation: unit.generation,
            };
            if moved {
                self.by_time.push(entry);
            }
            if self.search {
                let new_services = if moved { 0 } else { indexed_services };
                for svc in &unit.services[new_services..] {
                    self.by_service.entry(*svc).or_default().push(entry);
                }
            }
            unit.indexed = true;
            unit.indexed_ts = ts;
            unit.indexed_services = unit.services.len() as u32;
            if ts != 0 {
                self.spread_before = self.spread_before.max(ts - unit.min_ts);
                self.spread_after = self.spread_after.max(unit.max_ts.saturating_sub(ts));
            }
        }
        self.dirty = dirty;
    }

    /// Evicts whole buckets, oldest trace first, until at most `target` spans remain.
    fn evict_until(&mut self, target: usize) {
        while self.span_count > target {
            let buckets = &self.buckets;
            let Some(oldest) = self.by_time.pop_oldest(|e| is_current(buckets, e)) else {
                break;
            };
            self.evict_bucket(oldest.low);
        }
    }

    fn evict_bucket(&mut self, low: u64) {
        let Some(bucket) = self.buckets.remove(&low) else {
            return;
        };
        // The bucket's entries are stale now. Its units were the oldest, so in each of
        // their services' indexes they are at the old end, where trimming drops them.
        for unit in &bucket.units {
            for svc in &unit.services {
                if let Some(index) = self.by_service.get_mut(svc) {
                    index.trim(|e| is_current(&self.buckets, e));
                    if index.is_empty() {
                        self.by_service.remove(svc);
                    }
                }
            }
        }
        for span in &bucket.spans {
            if self.search && span.local_service != NONE {
                let svc = span.local_service;
                decrement(&mut self.service_spans, svc);
                if span.name != NONE {
                    decrement_nested(&mut self.span_names, svc, &span.name);
                }
                if span.remote_service != NONE {
                    decrement_nested(&mut self.remote_names, svc, &span.remote_service);
                }
            }
            if self.search {
                for key in self.autocomplete_keys.iter().copied() {
                    if let Some(value) = span.tag(key) {
                        decrement_nested(&mut self.autocomplete, key, value);
                    }
                }
            }
            span.release(&mut self.interner);
        }
        self.span_count -= bucket.spans.len();
    }

    /// The spans of one unit, as stored (raw fragments, arrival order).
    fn unit_spans<'a>(
        &'a self,
        bucket: &'a Bucket,
        high: u64,
    ) -> impl Iterator<Item = &'a StoredSpan> + 'a {
        let strict = self.strict;
        bucket
            .spans
            .iter()
            .filter(move |s| !strict || s.trace_high == high)
    }

    fn unpack_unit(&self, low: u64, high: u64) -> Vec<Span> {
        match self.buckets.get(&low) {
            Some(bucket) => self
                .unit_spans(bucket, high)
                .map(|s| s.unpack(low, &self.interner))
                .collect(),
            None => Vec::new(),
        }
    }

    fn unpack_bucket(&self, bucket: &Bucket, low: u64) -> Vec<Span> {
        bucket
            .spans
            .iter()
            .map(|s| s.unpack(low, &self.interner))
            .collect()
    }

    fn sorted_names<'a>(&self, syms: impl Iterator<Item = &'a Sym>) -> Vec<String> {
        let mut names: Vec<String> = syms.map(|s| self.interner.resolve(*s).to_owned()).collect();
        names.sort_unstable();
        names
    }
}

/// Whether an index entry is its unit's current one.
fn is_current(buckets: &RandomMap<u64, Box<Bucket>>, entry: &Entry) -> bool {
    buckets
        .get(&entry.low)
        .and_then(|b| b.units.iter().find(|u| u.high == entry.high))
        .is_some_and(|u| u.generation == entry.generation)
}

impl Bucket {
    fn contains(&self, stored: &StoredSpan) -> bool {
        match &self.by_id {
            Some(index) => index.get(&stored.id).is_some_and(|positions| {
                positions.iter().any(|&i| self.spans[i as usize] == *stored)
            }),
            None => self.spans.iter().any(|s| s == stored),
        }
    }

    fn push(&mut self, stored: StoredSpan) {
        let pos = self.spans.len() as u32;
        let id = stored.id;
        self.spans.push(stored);
        match &mut self.by_id {
            Some(index) => index.entry(id).or_default().push(pos),
            None if self.spans.len() >= BY_ID_THRESHOLD => {
                let mut index: RandomMap<u64, SmallVec<[u32; 2]>> = RandomMap::default();
                for (i, s) in self.spans.iter().enumerate() {
                    index.entry(s.id).or_default().push(i as u32);
                }
                self.by_id = Some(index);
            }
            None => {}
        }
    }
}

fn decrement(map: &mut FxHashMap<Sym, u32>, key: Sym) {
    if let Some(count) = map.get_mut(&key) {
        *count -= 1;
        if *count == 0 {
            map.remove(&key);
        }
    }
}

fn decrement_nested<K, Q, S>(
    map: &mut FxHashMap<Sym, std::collections::HashMap<K, u32, S>>,
    outer: Sym,
    inner: &Q,
) where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
    S: std::hash::BuildHasher,
{
    if let Some(counts) = map.get_mut(&outer) {
        if let Some(count) = counts.get_mut(inner) {
            *count -= 1;
            if *count == 0 {
                counts.remove(inner);
            }
        }
        if counts.is_empty() {
            map.remove(&outer);
        }
    }
}

/// A search request with names resolved to symbols. Built under the read lock; `None`
/// when some required name is not stored at all, so nothing can match.
struct Matcher<'q> {
    request: &'q QueryRequest,
    service: Option<Sym>,
    remote: Option<Sym>,
    name: Option<Sym>,
    /// (annotation value or tag key, tag key symbol if interned, required tag value).
    terms: Vec<(&'q str, Option<Sym>, &'q str)>,
}

impl<'q> Matcher<'q> {
    fn new(request: &'q QueryRequest, interner: &Interner) -> Option<Self> {
        let resolve = |name: &Option<String>| -> Option<Option<Sym>> {
            match name {
                None => Some(None),
                Some(n) => interner.lookup(n).map(Some),
            }
        };
        let mut terms = Vec::with_capacity(request.annotation_query.len());
        for (key, value) in &request.annotation_query {
            let sym = interner.lookup(key);
            if !value.is_empty() && sym.is_none() {
                return None;
            }
            terms.push((key.as_str(), sym, value.as_str()));
        }
        Some(Self {
            request,
            service: resolve(&request.service_name)?,
            remote: resolve(&request.remote_service_name)?,
            name: resolve(&request.span_name)?,
            terms,
        })
    }

    /// `QueryRequest::test_spans` over packed spans.
    fn matches<'a>(&self, spans: impl Iterator<Item = &'a StoredSpan>) -> bool {
        let mut service_ok = self.service.is_none();
        let mut remote_ok = self.remote.is_none();
        let mut name_ok = self.name.is_none();
        let mut duration_ok = self.request.min_duration.is_none();
        let mut remaining: SmallVec<[bool; 8]> = SmallVec::from_elem(true, self.terms.len());
        let mut remaining_count = self.terms.len();
        for span in spans {
            if let Some(svc) = self.service {
                if span.local_service != svc {
                    continue;
                }
                service_ok = true;
            }
            if remaining_count > 0 {
                for (i, (key, sym, value)) in self.terms.iter().enumerate() {
                    if !remaining[i] {
                        continue;
                    }
                    let tag = sym.and_then(|k| span.tag(k));
                    let hit = if value.is_empty() {
                        tag.is_some() || span.has_annotation(key)
                    } else {
                        tag == Some(*value)
                    };
                    if hit {
                        remaining[i] = false;
                        remaining_count -= 1;
                    }
                }
            }
            remote_ok = remote_ok || Some(span.remote_service) == self.remote;
            name_ok = name_ok || Some(span.name) == self.name;
            if !duration_ok {
                let min = self.request.min_duration.unwrap_or(0);
                duration_ok = span.duration >= min
                    && self
                        .request
                        .max_duration
                        .is_none_or(|max| span.duration <= max);
            }
        }
        service_ok && remote_ok && name_ok && duration_ok && remaining_count == 0
    }
}

#[async_trait]
impl SpanStore for MemoryStore {
    async fn accept(&self, spans: Vec<Span>) -> Result<(), StorageError> {
        self.accept_sync(&spans);
        Ok(())
    }

    async fn get_traces(&self, request: &QueryRequest) -> Result<Vec<Vec<Span>>, StorageError> {
        if !self.options.search_enabled {
            return Ok(Vec::new());
        }
        let start = request.start_micros().max(1) as u64;
        let end = request.end_micros();
        if end < start as i64 {
            return Ok(Vec::new());
        }
        let end = end as u64;
        let inner = self.inner.read();
        let Some(matcher) = Matcher::new(request, &inner.interner) else {
            return Ok(Vec::new());
        };
        let index = match matcher.service {
            Some(svc) => match inner.by_service.get(&svc) {
                Some(index) => index,
                None => return Ok(Vec::new()),
            },
            None => &inner.by_time,
        };
        let mut traces = Vec::new();
        let buckets = &inner.buckets;
        for key in index.newest_first(start, end, |e| is_current(buckets, e)) {
            let Some(bucket) = inner.buckets.get(&key.low) else {
                continue;
            };
            if matcher.matches(inner.unit_spans(bucket, key.high)) {
                traces.push(inner.unpack_unit(key.low, key.high));
                if traces.len() >= request.limit {
                    break;
                }
            }
        }
        Ok(traces)
    }

    async fn get_trace(&self, trace_id: TraceId) -> Result<Vec<Span>, StorageError> {
        let inner = self.inner.read();
        Ok(inner.unpack_unit(trace_id.low(), inner.unit_high(trace_id)))
    }

    async fn get_traces_by_ids(
        &self,
        trace_ids: &[TraceId],
    ) -> Result<Vec<Vec<Span>>, StorageError> {
        let inner = self.inner.read();
        let mut seen: RandomSet<(u64, u64)> = RandomSet::default();
        let mut traces = Vec::new();
        for id in trace_ids {
            let key = (id.low(), inner.unit_high(*id));
            if seen.insert(key) {
                let spans = inner.unpack_unit(key.0, key.1);
                if !spans.is_empty() {
                    traces.push(spans);
                }
            }
        }
        Ok(traces)
    }

    async fn get_service_names(&self) -> Result<Vec<String>, StorageError> {
        let inner = self.inner.read();
        Ok(inner.sorted_names(inner.service_spans.keys()))
    }

    async fn get_remote_service_names(
        &self,
        service_name: &str,
    ) -> Result<Vec<String>, StorageError> {
        let inner = self.inner.read();
        let names = inner
            .interner
            .lookup(&service_name.to_lowercase())
            .and_then(|svc| inner.remote_names.get(&svc));
        Ok(names.map_or_else(Vec::new, |n| inner.sorted_names(n.keys())))
    }

    async fn get_span_names(&self, service_name: &str) -> Result<Vec<String>, StorageError> {
        let inner = self.inner.read();
        let names = inner
            .interner
            .lookup(&service_name.to_lowercase())
            .and_then(|svc| inner.span_names.get(&svc));
        Ok(names.map_or_else(Vec::new, |n| inner.sorted_names(n.keys())))
    }

    async fn get_dependencies(
        &self,
        end_ts: i64,
        lookback: i64,
    ) -> Result<Vec<DependencyLink>, StorageError> {
        check_dependency_window(end_ts, lookback)?;
        // Zipkin links every trace with a span whose millisecond timestamp is in the window.
        let start = (end_ts - lookback).max(0) as u64 * 1000;
        let end = (end_ts as u64).saturating_mul(1000).saturating_add(999);
        // The buckets of every unit indexed near the window, taken under one short read
        // lock (no ordering needed: links are counts). The window check is made per chunk
        // under the lock, so units that moved or left since are simply skipped.
        let lows: Vec<u64> = {
            let inner = self.inner.read();
            let from = start.saturating_sub(inner.spread_after).max(1);
            let to = end.saturating_add(inner.spread_before);
            inner.by_time.in_window(from, to).map(|e| e.low).collect()
        };
        let mut seen: RandomSet<u64> = RandomSet::default();
        let lows: Vec<u64> = lows.into_iter().filter(|low| seen.insert(*low)).collect();
        let mut linker = DependencyLinker::new();
        for chunk in lows.chunks(DEPENDENCY_CHUNK) {
            let batch: Vec<Vec<Span>> = {
                let inner = self.inner.read();
                chunk
                    .iter()
                    .filter_map(|low| {
                        let bucket = inner.buckets.get(low)?;
                        let in_window = bucket
                            .spans
                            .iter()
                            .any(|s| s.timestamp >= start && s.timestamp <= end);
                        in_window.then(|| inner.unpack_bucket(bucket, *low))
                    })
                    .collect()
            };
            for trace in &batch {
                linker.put_trace(trace);
            }
        }
        Ok(linker.link())
    }

    async fn get_autocomplete_keys(&self) -> Result<Vec<String>, StorageError> {
        if !self.options.search_enabled {
            return Ok(Vec::new());
        }
        let mut keys = self.options.autocomplete_keys.clone();
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    async fn get_autocomplete_values(&self, key: &str) -> Result<Vec<String>, StorageError> {
        if key.is_empty() {
            return Err(StorageError::InvalidArgument("key was empty".into()));
        }
        let inner = self.inner.read();
        let values = inner
            .interner
            .lookup(key)
            .and_then(|k| inner.autocomplete.get(&k));
        let mut values: Vec<String> =
            values.map_or_else(Vec::new, |v| v.keys().map(|s| s.to_string()).collect());
        values.sort_unstable();
        Ok(values)
    }

    async fn check(&self) -> Result<(), StorageError> {
        Ok(())
    }

    fn name(&self) -> String {
        "InMemoryStorage{}".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, Kind, SpanId};

    fn client_at(millis: u64, trace: u64) -> Span {
        Span::builder(
            TraceId::from_parts(0, trace).unwrap(),
            SpanId::new(1).unwrap(),
        )
        .kind(Kind::Client)
        .timestamp(millis * 1000)
        .local_endpoint(Endpoint::service("frontend"))
        .remote_endpoint(Endpoint::service("backend"))
        .build()
    }

    fn links(store: &MemoryStore, end: i64, lookback: i64) -> usize {
        futures::executor::block_on(store.get_dependencies(end, lookback))
            .unwrap()
            .len()
    }

    #[test]
    fn dependency_window_is_inclusive_at_millisecond_precision() {
        // Zipkin compares span timestamps truncated to milliseconds with both bounds.
        let store = MemoryStore::new(StorageOptions::default(), 100);
        store.accept_sync(&[client_at(1_000_000, 7)]);
        assert_eq!(links(&store, 1_000_010, 10), 1, "start bound is inclusive");
        assert_eq!(
            links(&store, 1_000_010, 9),
            0,
            "one millisecond later excludes it"
        );
        assert_eq!(links(&store, 1_000_000, 10), 1, "end bound is inclusive");
        assert_eq!(links(&store, 999_999, 10), 0);
    }

    #[test]
    fn eviction_drops_whole_oldest_traces_and_their_names() {
        let store = MemoryStore::new(StorageOptions::default(), 3);
        let old = Span::builder(TraceId::from_parts(0, 1).unwrap(), SpanId::new(1).unwrap())
            .timestamp(1_000)
            .local_endpoint(Endpoint::service("old-service"))
            .build();
        let mut old_child = old.clone();
        old_child.id = SpanId::new(2).unwrap();
        store.accept_sync(&[old, old_child]);
        store.accept_sync(&[client_at(5, 2), client_at(6, 3)]);
        assert_eq!(
            store.span_count(),
            2,
            "the two-span oldest trace was evicted whole"
        );
        let names = futures::executor::block_on(store.get_service_names()).unwrap();
        assert_eq!(names, vec!["frontend"]);
        let trace =
            futures::executor::block_on(store.get_trace(TraceId::from_parts(0, 1).unwrap()));
        assert!(trace.unwrap().is_empty());
    }

    /// Searches `frontend` (or everything) over all time, newest first, as trace ids.
    fn search(store: &MemoryStore, service: Option<&str>) -> Vec<u64> {
        let mut request = QueryRequest::builder()
            .end_ts(10_000_000)
            .lookback(10_000_000)
            .limit(10);
        if let Some(service) = service {
            request = request.service_name(service);
        }
        let request = request.build().unwrap();
        futures::executor::block_on(store.get_traces(&request))
            .unwrap()
            .iter()
            .map(|trace| trace[0].trace_id.low())
            .collect()
    }

    #[test]
    fn a_trace_that_moves_in_time_is_found_once_and_evicted_by_its_new_time() {
        let store = MemoryStore::new(StorageOptions::default(), 4);
        // The child is reported first; the root, earlier, arrives in a later batch and
        // moves the trace from 9 ms to 1 ms.
        let mut child = client_at(9, 1);
        child.parent_id = SpanId::new(1);
        child.id = SpanId::new(2).unwrap();
        store.accept_sync(&[child]);
        store.accept_sync(&[client_at(5, 2)]);
        let mut root = client_at(1, 1);
        root.local_endpoint = Some(Endpoint::service("backend"));
        store.accept_sync(&[root]);
        assert_eq!(search(&store, None), [2, 1]);
        assert_eq!(search(&store, Some("frontend")), [2, 1]);
        assert_eq!(search(&store, Some("backend")), [1]);

        // Two more spans overflow the store by one: the oldest trace by its new time goes
        // (trace 1, whole), not the one at 5 ms.
        store.accept_sync(&[client_at(7, 3), client_at(8, 4)]);
        assert_eq!(store.span_count(), 3);
        assert_eq!(search(&store, None), [4, 3, 2]);
        assert_eq!(search(&store, Some("frontend")), [4, 3, 2]);
        assert!(search(&store, Some("backend")).is_empty());
        let inner = store.inner.read();
        let backend = inner.interner.lookup("backend");
        assert!(
            backend.is_none_or(|svc| !inner.by_service.contains_key(&svc)),
            "the index of a service without spans is dropped"
        );
    }
}
