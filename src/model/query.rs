//! Search criteria of `GET /api/v2/traces`, and Zipkin's rule for whether a trace
//! matches them (`QueryRequest.test`).

use thiserror::Error;

use super::span::Span;

/// A search request, validated. Build it with [`QueryRequest::builder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRequest {
    /// Lower-case local service name; constrains every other criterion.
    pub service_name: Option<String>,
    /// Lower-case remote service name.
    pub remote_service_name: Option<String>,
    /// Lower-case span name (`"all"` means none).
    pub span_name: Option<String>,
    /// `(key, value)` terms, ANDed: an empty value matches an annotation value or a tag
    /// key; otherwise the tag `key` must equal `value`. Keys are unique.
    pub annotation_query: Vec<(String, String)>,
    /// Microseconds, inclusive.
    pub min_duration: Option<u64>,
    /// Microseconds, inclusive; only with `min_duration`.
    pub max_duration: Option<u64>,
    /// Epoch milliseconds; the window's inclusive upper bound.
    pub end_ts: i64,
    /// Milliseconds before `end_ts`; the window's inclusive lower bound.
    pub lookback: i64,
    /// Maximum number of traces.
    pub limit: usize,
}

/// A rejected search request; messages are Zipkin's (answered as 400).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueryError {
    #[error("endTs <= 0")]
    EndTs,
    #[error("lookback <= 0")]
    Lookback,
    #[error("limit <= 0")]
    Limit,
    #[error("minDuration <= 0")]
    MinDuration,
    #[error("maxDuration < minDuration")]
    MaxBelowMin,
    #[error("maxDuration is only valid with minDuration")]
    MaxWithoutMin,
}

/// Collects raw criteria and validates them into a [`QueryRequest`].
#[derive(Debug, Clone, Default)]
pub struct QueryRequestBuilder {
    service_name: Option<String>,
    remote_service_name: Option<String>,
    span_name: Option<String>,
    annotation_query: Vec<(String, String)>,
    min_duration: Option<i64>,
    max_duration: Option<i64>,
    end_ts: i64,
    lookback: i64,
    limit: i64,
}

/// Zipkin splits `annotationQuery` into at most this many terms (the last keeps the rest).
const MAX_ANNOTATION_TERMS: usize = 100;

impl QueryRequest {
    pub fn builder() -> QueryRequestBuilder {
        QueryRequestBuilder {
            limit: 10,
            ..Default::default()
        }
    }

    /// The window's lower bound in epoch microseconds.
    pub fn start_micros(&self) -> i64 {
        (self.end_ts - self.lookback).saturating_mul(1000)
    }

    /// The window's upper bound in epoch microseconds.
    pub fn end_micros(&self) -> i64 {
        self.end_ts.saturating_mul(1000)
    }

    /// Whether a trace timestamp (µs) lies in the window (both bounds inclusive).
    pub fn in_window(&self, ts: u64) -> bool {
        let ts = ts as i64;
        ts >= self.start_micros() && ts <= self.end_micros()
    }

    /// True when nothing but the time window is asked for.
    pub fn is_unfiltered(&self) -> bool {
        self.service_name.is_none()
            && self.remote_service_name.is_none()
            && self.span_name.is_none()
            && self.annotation_query.is_empty()
            && self.min_duration.is_none()
    }

    /// Zipkin's `QueryRequest.test`: whether the spans of one trace match, including the
    /// time window. When `service_name` is set, only spans of that service can satisfy
    /// the other criteria; each criterion may be satisfied by a different span.
    pub fn test(&self, spans: &[Span]) -> bool {
        match trace_timestamp(spans) {
            Some(ts) if self.in_window(ts) => {}
            _ => return false,
        }
        self.test_spans(spans)
    }

    /// [`QueryRequest::test`] without the time window.
    pub fn test_spans(&self, spans: &[Span]) -> bool {
        let mut service_matched = self.service_name.is_none();
        let mut remote_matched = self.remote_service_name.is_none();
        let mut name_matched = self.span_name.is_none();
        let mut duration_matched = self.min_duration.is_none();
        // One flag per term; terms are few, so a linear scan beats a map.
        let mut remaining: Vec<bool> = vec![true; self.annotation_query.len()];
        let mut remaining_count = remaining.len();

        for span in spans {
            if let Some(service) = &self.service_name {
                if span.local_service_name() != Some(service.as_str()) {
                    continue;
                }
                service_matched = true;
            }
            if remaining_count > 0 {
                for (i, (key, value)) in self.annotation_query.iter().enumerate() {
                    if !remaining[i] {
                        continue;
                    }
                    let hit = if value.is_empty() {
                        span.annotations.iter().any(|a| a.value == key.as_str())
                            || span.tag(key).is_some()
                    } else {
                        span.tag(key) == Some(value.as_str())
                    };
                    if hit {
                        remaining[i] = false;
                        remaining_count -= 1;
                    }
                }
            }
            if !remote_matched {
                remote_matched = span.remote_service_name() == self.remote_service_name.as_deref();
            }
            if !name_matched {
                name_matched = span.name.as_deref() == self.span_name.as_deref();
            }
            if !duration_matched {
                let d = span.duration.unwrap_or(0);
                let min = self.min_duration.unwrap_or(0);
                duration_matched = d >= min && self.max_duration.is_none_or(|max| d <= max);
            }
        }
        service_matched
            && remote_matched
            && name_matched
            && duration_matched
            && remaining_count == 0
    }
}

/// A trace's timestamp as Zipkin defines it for search: the root span's (no parent)
/// timestamp, else the smallest span timestamp; `None` if no span has one.
pub fn trace_timestamp(spans: &[Span]) -> Option<u64> {
    let mut min: Option<u64> = None;
    for span in spans {
        let Some(ts) = span.timestamp else { continue };
        if span.parent_id.is_none() {
            return Some(ts);
        }
        min = Some(min.map_or(ts, |m| m.min(ts)));
    }
    min
}

impl QueryRequestBuilder {
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }
    pub fn remote_service_name(mut self, name: impl Into<String>) -> Self {
        self.remote_service_name = Some(name.into());
        self
    }
    pub fn span_name(mut self, name: impl Into<String>) -> Self {
        self.span_name = Some(name.into());
        self
    }
    /// Parses Zipkin's `annotationQuery` syntax, e.g. `http.method=GET and error`.
    pub fn parse_annotation_query(mut self, query: &str) -> Self {
        self.annotation_query = parse_annotation_query(query);
        self
    }
    /// Sets the terms directly; a later duplicate key replaces an earlier one.
    pub fn annotation_query<K: Into<String>, V: Into<String>>(
        mut self,
        terms: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.annotation_query.clear();
        for (k, v) in terms {
            put_term(&mut self.annotation_query, k.into(), v.into());
        }
        self
    }
    pub fn min_duration(mut self, micros: i64) -> Self {
        self.min_duration = Some(micros);
        self
    }
    pub fn max_duration(mut self, micros: i64) -> Self {
        self.max_duration = Some(micros);
        self
    }
    pub fn end_ts(mut self, millis: i64) -> Self {
        self.end_ts = millis;
        self
    }
    pub fn lookback(mut self, millis: i64) -> Self {
        self.lookback = millis;
        self
    }
    pub fn limit(mut self, limit: i64) -> Self {
        self.limit = limit;
        self
    }

    /// Validates in Zipkin's order and lower-cases names; `""` names and the span name
    /// `"all"` mean "any".
    pub fn build(self) -> Result<QueryRequest, QueryError> {
        let lower = |s: Option<String>| s.map(|s| s.to_lowercase()).filter(|s| !s.is_empty());
        let span_name = lower(self.span_name).filter(|s| s != "all");
        if self.end_ts <= 0 {
            return Err(QueryError::EndTs);
        }
        if self.limit <= 0 {
            return Err(QueryError::Limit);
        }
        if self.lookback <= 0 {
            return Err(QueryError::Lookback);
        }
        match (self.min_duration, self.max_duration) {
            (Some(min), _) if min <= 0 => return Err(QueryError::MinDuration),
            (Some(min), Some(max)) if max < min => return Err(QueryError::MaxBelowMin),
            (None, Some(_)) => return Err(QueryError::MaxWithoutMin),
            _ => {}
        }
        Ok(QueryRequest {
            service_name: lower(self.service_name),
            remote_service_name: lower(self.remote_service_name),
            span_name,
            annotation_query: self.annotation_query,
            min_duration: self.min_duration.map(|d| d as u64),
            max_duration: self.max_duration.map(|d| d as u64),
            end_ts: self.end_ts,
            lookback: self.lookback,
            limit: usize::try_from(self.limit).unwrap_or(usize::MAX),
        })
    }
}

/// Zipkin's `parseAnnotationQuery`: terms split on `" and "`; `k=v` is a tag term (last
/// wins), a bare term matches an annotation value or tag key and never overrides a tag
/// term with the same key.
pub fn parse_annotation_query(query: &str) -> Vec<(String, String)> {
    let mut terms: Vec<(String, String)> = Vec::new();
    if query.is_empty() {
        return terms;
    }
    for term in query.splitn(MAX_ANNOTATION_TERMS, " and ") {
        match term.split_once('=') {
            None => {
                let key = term.trim();
                if !terms.iter().any(|(k, _)| k == key) {
                    terms.push((key.to_owned(), String::new()));
                }
            }
            Some((key, value)) => {
                put_term(&mut terms, key.trim().to_owned(), value.trim().to_owned());
            }
        }
    }
    terms
}

fn put_term(terms: &mut Vec<(String, String)>, key: String, value: String) {
    match terms.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => terms.push((key, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, SpanId, TraceId};

    fn terms(q: &str) -> Vec<(String, String)> {
        parse_annotation_query(q)
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn annotation_query_parsing_matches_zipkin() {
        assert_eq!(terms("error"), pairs(&[("error", "")]));
        assert_eq!(terms("a and a=123"), pairs(&[("a", "123")]));
        assert_eq!(terms("a=123 and a"), pairs(&[("a", "123")]));
        assert_eq!(terms("a=123 and a=456"), pairs(&[("a", "456")]));
        assert_eq!(terms("http.path = /a=b "), pairs(&[("http.path", "/a=b")]));
        assert_eq!(terms("key="), pairs(&[("key", "")]));
        assert_eq!(terms("L O L and x"), pairs(&[("L O L", ""), ("x", "")]));
        assert!(terms("").is_empty());
    }

    #[test]
    fn builder_validates_with_zipkin_messages() {
        let ok = || QueryRequest::builder().end_ts(1).lookback(1);
        assert_eq!(
            QueryRequest::builder().lookback(1).build(),
            Err(QueryError::EndTs)
        );
        assert_eq!(ok().lookback(0).build(), Err(QueryError::Lookback));
        assert_eq!(ok().limit(0).build(), Err(QueryError::Limit));
        assert_eq!(ok().min_duration(0).build(), Err(QueryError::MinDuration));
        assert_eq!(
            ok().min_duration(2).max_duration(1).build(),
            Err(QueryError::MaxBelowMin)
        );
        assert_eq!(ok().max_duration(1).build(), Err(QueryError::MaxWithoutMin));
        assert_eq!(
            QueryError::MaxWithoutMin.to_string(),
            "maxDuration is only valid with minDuration"
        );
        let q = ok()
            .service_name("FOO")
            .span_name("ALL")
            .remote_service_name("")
            .build()
            .unwrap();
        assert_eq!(q.service_name.as_deref(), Some("foo"));
        assert_eq!(q.span_name, None);
        assert_eq!(q.remote_service_name, None);
    }

    #[test]
    fn test_uses_root_timestamp_and_inclusive_bounds() {
        let t = TraceId::parse("1").unwrap();
        let root = Span::builder(t, SpanId::parse("1").unwrap())
            .timestamp(2_000)
            .local_endpoint(Endpoint::service("a"))
            .build();
        let child = Span::builder(t, SpanId::parse("2").unwrap())
            .parent_id(SpanId::parse("1").unwrap())
            .timestamp(1_000)
            .build();
        let trace = vec![child, root];
        assert_eq!(trace_timestamp(&trace), Some(2_000));
        let q = |end, back| {
            QueryRequest::builder()
                .end_ts(end)
                .lookback(back)
                .build()
                .unwrap()
        };
        assert!(q(2, 1).test(&trace));
        assert!(q(3, 1).test(&trace));
        assert!(!q(1, 1).test(&trace));
        assert!(!q(4, 1).test(&trace));
    }

    #[test]
    fn service_name_constrains_other_criteria() {
        let t = TraceId::parse("1").unwrap();
        let a = Span::builder(t, SpanId::parse("1").unwrap())
            .timestamp(1_000)
            .local_endpoint(Endpoint::service("a"))
            .annotation(1_000, "web")
            .build();
        let b = Span::builder(t, SpanId::parse("2").unwrap())
            .parent_id(SpanId::parse("1").unwrap())
            .local_endpoint(Endpoint::service("b"))
            .tag("k", "v")
            .duration(50)
            .build();
        let trace = vec![a, b];
        let q = |svc: &str, ann: &str| {
            QueryRequest::builder()
                .end_ts(1)
                .lookback(1)
                .service_name(svc)
                .parse_annotation_query(ann)
                .build()
                .unwrap()
        };
        assert!(q("a", "web").test(&trace));
        assert!(!q("b", "web").test(&trace));
        assert!(q("b", "k=v").test(&trace));
        assert!(q("b", "k").test(&trace));
        assert!(!q("a", "k").test(&trace));
        assert!(!q("c", "").test(&trace));
        let d = QueryRequest::builder()
            .end_ts(1)
            .lookback(1)
            .service_name("a")
            .min_duration(50)
            .build()
            .unwrap();
        assert!(!d.test(&trace));
    }
}
