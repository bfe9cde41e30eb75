// Cleaning and merging of raw v2 spans, with the same rules as Zipkin's UI, so a trace
// looks the same here as in Lens: ids padded, self-parents dropped, the name "unknown"
// dropped, annotations sorted and de-duplicated, `shared` removed from CLIENT spans, and
// fragments of one span (same id, same side, compatible host) merged into one.

/** Pads a trace id to 16 or 32 hex characters; a 128-bit id with a zero high half becomes 64-bit. */
export function normalizeTraceId(traceId) {
  const id = String(traceId).toLowerCase();
  if (id.length > 16) {
    const full = id.padStart(32, '0');
    return full.startsWith('0000000000000000') ? full.slice(16) : full;
  }
  return id.padStart(16, '0');
}

function isEndpoint(endpoint) {
  return !!endpoint && typeof endpoint === 'object' && Object.keys(endpoint).length > 0;
}

/** Compares possibly-absent values: absent sorts first. */
export function compare(a, b) {
  if (!a && !b) return 0;
  if (!a) return -1;
  if (!b) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function byTimestampThenValue(a, b) {
  return (a.timestamp - b.timestamp) || compare(a.value, b.value);
}

function uniqueAnnotations(list) {
  if (list.length < 2) return list;
  const sorted = list.slice(0).sort(byTimestampThenValue);
  const out = [sorted[0]];
  for (let i = 1; i < sorted.length; i += 1) {
    const prev = out[out.length - 1];
    if (sorted[i].timestamp !== prev.timestamp || sorted[i].value !== prev.value) out.push(sorted[i]);
  }
  return out;
}

const NO_ANNOTATIONS = Object.freeze([]);
const NO_TAGS = Object.freeze({});

function lowerId(id, width) {
  const text = String(id);
  const lower = text.length === width && !/[A-F]/.test(text) ? text : text.toLowerCase();
  return lower.length < width ? lower.padStart(width, '0') : lower;
}

/**
 * Cleans one span in place and returns it. In place because a 100,000-span trace would
 * otherwise be copied span by span; callers that need the original keep the response text.
 * Absent fields are set to undefined rather than deleted, which keeps objects fast.
 */
export function cleanSpan(span) {
  span.traceId = normalizeTraceId(span.traceId);
  const id = lowerId(span.id, 16);
  span.id = id;
  if (span.parentId) {
    const parentId = lowerId(span.parentId, 16);
    span.parentId = parentId !== id ? parentId : undefined;
  } else {
    span.parentId = undefined;
  }
  if (!span.name || span.name === 'unknown') span.name = undefined;
  if (!span.kind) span.kind = undefined;
  if (!span.timestamp) span.timestamp = undefined;
  if (!span.duration) span.duration = undefined;
  if (!isEndpoint(span.localEndpoint)) span.localEndpoint = undefined;
  if (!isEndpoint(span.remoteEndpoint)) span.remoteEndpoint = undefined;
  const annotations = span.annotations;
  span.annotations = Array.isArray(annotations) && annotations.length
    ? (annotations.length > 1 ? uniqueAnnotations(annotations) : annotations)
    : NO_ANNOTATIONS;
  if (!span.tags || typeof span.tags !== 'object') span.tags = NO_TAGS;
  if (!span.debug) span.debug = undefined;
  // Only a server can share its client's id; the flag on a client is a reporting mistake.
  span.shared = span.shared && span.kind !== 'CLIENT' ? true : undefined;
  return span;
}

/** Merges two cleaned fragments of the same span; first present value wins. */
export function mergeSpans(left, right) {
  const local = { ...left.localEndpoint, ...right.localEndpoint };
  const remote = { ...left.remoteEndpoint, ...right.remoteEndpoint };
  let annotations;
  if (left.annotations.length === 0) annotations = right.annotations;
  else if (right.annotations.length === 0) annotations = left.annotations;
  else annotations = uniqueAnnotations(left.annotations.concat(right.annotations));
  return {
    traceId: right.traceId.length > 16 ? right.traceId : left.traceId,
    parentId: left.parentId || right.parentId || undefined,
    id: left.id,
    name: left.name || right.name || undefined,
    kind: left.kind || right.kind || undefined,
    timestamp: left.timestamp || right.timestamp || undefined,
    duration: left.duration || right.duration || undefined,
    localEndpoint: isEndpoint(local) ? local : undefined,
    remoteEndpoint: isEndpoint(remote) ? remote : undefined,
    annotations,
    tags: { ...left.tags, ...right.tags },
    debug: left.debug || right.debug || undefined,
    shared: left.shared || right.shared || undefined,
  };
}

// Client before server for the same id (unshared first; among unshared, CLIENT first).
function compareShared(a, b) {
  const aPlain = !a.shared;
  const bPlain = !b.shared;
  if (aPlain && bPlain) return a.kind === 'CLIENT' ? -1 : 1;
  if (aPlain) return -1;
  if (bPlain) return 1;
  return 0;
}

// Fragments without an endpoint first, so they merge into the first one with the same id.
function compareEndpoint(a, b) {
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  return compare(a.serviceName, b.serviceName) || compare(a.ipv4, b.ipv4) || compare(a.ipv6, b.ipv6);
}

function fragmentOrder(a, b) {
  return compare(a.id, b.id) || compareShared(a, b) || compareEndpoint(a.localEndpoint, b.localEndpoint);
}

// Accumulates the host seen so far; false when the next fragment is on another host.
function sameHost(current, endpoint) {
  if (!endpoint) return true;
  for (const field of ['serviceName', 'ipv4', 'ipv6', 'port']) {
    if (current[field] && endpoint[field] && current[field] !== endpoint[field]) return false;
  }
  for (const field of ['serviceName', 'ipv4', 'ipv6', 'port']) {
    if (!current[field] && endpoint[field]) current[field] = endpoint[field];
  }
  return true;
}

// Root first, a client before its shared server, then by timestamp and name.
function spanOrder(a, b) {
  if (!a.parentId && b.parentId) return -1;
  if (a.parentId && !b.parentId) return 1;
  if (a.id === b.id) return compareShared(a, b);
  return compare(a.timestamp, b.timestamp) || compare(a.name, b.name);
}

/**
 * Cleans (in place) and merges the raw spans of one trace. The result is in no particular
 * order: the tree orders children by time and picks the root itself (see tree.js).
 */
export function mergeById(spans) {
  if (spans.length === 0) return [];
  let traceId;
  // Most ids have one span (or a client and its server); only groups need the careful merge,
  // so group by id instead of sorting the whole trace by id.
  const groups = new Map();
  for (let i = 0; i < spans.length; i += 1) {
    const span = cleanSpan(spans[i]);
    if (!traceId || traceId.length !== 32) traceId = span.traceId;
    const group = groups.get(span.id);
    if (group === undefined) groups.set(span.id, span);
    else if (Array.isArray(group)) group.push(span);
    else groups.set(span.id, [group, span]);
  }

  const out = [];
  for (const group of groups.values()) {
    if (!Array.isArray(group)) {
      if (group.traceId !== traceId) group.traceId = traceId;
      out.push(group);
      continue;
    }
    group.sort(fragmentOrder);
    let last;
    for (let i = 0; i < group.length; i += 1) {
      let span = group[i];
      if (span.traceId !== traceId) span.traceId = traceId;
      const host = span.localEndpoint ? { ...span.localEndpoint } : {};
      while (i + 1 < group.length) {
        const next = group[i + 1];
        if (!!span.shared !== !!next.shared || !sameHost(host, next.localEndpoint)) break;
        span = mergeSpans(span, next);
        i += 1;
      }
      if (last) {
        // Older instrumentation shares the client's id without setting `shared`.
        if (last.kind === 'CLIENT' && span.kind === 'SERVER' && !span.shared) span.shared = true;
        if (span.shared && !span.parentId && last.parentId) span.parentId = last.parentId;
      }
      last = span;
      out.push(span);
    }
  }

  // A lone root marked shared is not a server half of anything in this trace. "First" and
  // "second" are in Zipkin's span order (roots first, then by time and name).
  let first = 0;
  let second = -1;
  for (let i = 1; i < out.length; i += 1) {
    if (spanOrder(out[i], out[first]) < 0) { second = first; first = i; }
    else if (second < 0 || spanOrder(out[i], out[second]) < 0) second = i;
  }
  const root = out[first];
  if (!root.parentId && root.shared && (second < 0 || !out[second].shared)) root.shared = undefined;
  return out;
}

/** Zipkin's span order: roots first, a client before its shared server, then time and name. */
export { spanOrder };
