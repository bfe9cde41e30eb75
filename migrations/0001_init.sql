-- Zipwire PostgreSQL schema, version 1 (STORAGE_TYPE=postgres).
--
-- Applied at start-up by sqlx (POSTGRES_ENSURE_SCHEMA=true, the default) into the first
-- schema of the connection's search_path (POSTGRES_SCHEMA sets it). Append-only: later
-- changes go into new files.
--
-- Design notes, against Zipkin's v1-shaped MySQL schema (one row per span plus one row per
-- annotation/tag, merged client+server halves):
--   * one row per stored span fragment, so raw fragments and debug/shared flags survive;
--   * what /api/v2/traces filters on is in typed columns, the rest in a compact binary
--     body (codec.rs), keeping a span around 400-500 bytes on disk with its indexes;
--   * rows are range-partitioned by UTC day so retention drops whole partitions instead
--     of deleting rows;
--   * tags and annotation values are searchable through one GIN index over 32-bit hashes;
--     hash collisions only add candidates, which the server re-checks on the decoded spans.

CREATE TABLE zipkin_spans (
    trace_id_high  bigint  NOT NULL,  -- upper 64 bits of a 128-bit trace id; 0 for 64-bit ids
    trace_id       bigint  NOT NULL,  -- lower 64 bits (two's complement)
    id             bigint  NOT NULL,
    parent_id      bigint,
    ts             bigint,            -- Span.timestamp, epoch microseconds
    duration       bigint,            -- microseconds
    content_hash   bigint  NOT NULL,  -- 64-bit hash of every field: identical spans collide
    day            integer NOT NULL,  -- partition key: UTC day (days since 1970-01-01) of ts,
                                      -- or of arrival for spans without a timestamp
    local_service  text,
    remote_service text,
    name           text,
    search_keys    integer[],         -- hashes of tag keys, key=value pairs and annotation
                                      -- values; NULL when SEARCH_ENABLED=false
    body           bytea   NOT NULL   -- kind, flags, addresses, annotations, tags
) PARTITION BY RANGE (day);
-- Day partitions (zipkin_spans_YYYYMMDD) are created by the server: ahead of time by a
-- background task and on demand when a span of another day arrives. Indexes declared
-- here are created on every partition.

-- Serves GET /api/v2/trace/{id} and /api/v2/traceMany (trace_id = $1 / = ANY($1), the high
-- bits re-checked), and loading whole traces for search results and dependency linking.
-- Being unique, it also makes a replayed identical span a no-op (INSERT ... ON CONFLICT DO
-- NOTHING), safely under concurrent writers. A unique index on a partitioned table must
-- contain the partition key, hence `day`.
CREATE UNIQUE INDEX zipkin_spans_trace_id ON zipkin_spans (trace_id, content_hash, day);

-- Serves GET /api/v2/traces?serviceName=...: newest spans of one local service inside
-- [endTs - lookback, endTs], scanned backwards from endTs until `limit` traces match.
CREATE INDEX zipkin_spans_service_ts ON zipkin_spans (local_service, ts)
    WHERE local_service IS NOT NULL;

-- Serves GET /api/v2/traces without serviceName (newest spans in the window) and the
-- on-demand dependency linking of a time range (trace ids with a span in the range).
CREATE INDEX zipkin_spans_ts ON zipkin_spans (ts) WHERE ts IS NOT NULL;

-- Serves annotationQuery terms: `key=value` (tag) and bare `key` (tag key or annotation
-- value) as search_keys @> ARRAY[hash], combined with the service/time scans above.
CREATE INDEX zipkin_spans_search_keys ON zipkin_spans USING gin (search_keys);

-- GET /api/v2/services (DISTINCT service) and /api/v2/spans?serviceName= (the primary key
-- prefix). One row per (local service, span name); '' stands for spans without a name.
-- last_day lets retention forget names whose spans were all dropped.
CREATE TABLE zipkin_span_names (
    service  text    NOT NULL,
    name     text    NOT NULL,
    last_day integer NOT NULL,
    PRIMARY KEY (service, name)
);

-- GET /api/v2/remoteServices?serviceName= (the primary key prefix).
CREATE TABLE zipkin_remote_service_names (
    service        text    NOT NULL,
    remote_service text    NOT NULL,
    last_day       integer NOT NULL,
    PRIMARY KEY (service, remote_service)
);

-- GET /api/v2/autocompleteKeys and /api/v2/autocompleteValues?key= for AUTOCOMPLETE_KEYS.
CREATE TABLE zipkin_autocomplete_tags (
    key      text    NOT NULL,
    value    text    NOT NULL,
    last_day integer NOT NULL,
    PRIMARY KEY (key, value)
);

-- GET /api/v2/dependencies over long windows: links per UTC hour, each trace counted in
-- the hour of its earliest span. The aggregation task fills it in 5-minute slices once a
-- slice has been quiet for a while (each slice added exactly once, in the transaction that
-- advances the watermark), and redoes a whole hour when late spans arrive for it, so
-- neither replays nor re-runs double-count. Read as SUM over the hours of the window.
CREATE TABLE zipkin_dependencies (
    hour        integer NOT NULL,  -- hours since 1970-01-01 UTC
    parent      text    NOT NULL,
    child       text    NOT NULL,
    call_count  bigint  NOT NULL,
    error_count bigint  NOT NULL,
    PRIMARY KEY (hour, parent, child)
);

-- Aggregation progress: traces whose earliest span is before `watermark` (epoch
-- microseconds) are in zipkin_dependencies, except in hours listed in
-- zipkin_dependency_dirty.
CREATE TABLE zipkin_dependency_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    watermark bigint
);
INSERT INTO zipkin_dependency_state (singleton, watermark) VALUES (true, NULL);

-- Hours that received spans after they may have been aggregated (late or replayed data):
-- one row per write, insert-only so concurrent writers never wait on each other. Until
-- the aggregation redoes an hour (and deletes exactly the rows it saw), the hour is linked
-- on demand.
CREATE TABLE zipkin_dependency_dirty (
    id        bigserial   PRIMARY KEY,
    hour      integer     NOT NULL,
    marked_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- The aggregation's "marks of this hour" and retention's "marks before this hour".
CREATE INDEX zipkin_dependency_dirty_hour ON zipkin_dependency_dirty (hour);
