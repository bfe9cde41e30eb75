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
  if (list.length < 2) return list.slice(0);
  const sorted = list.slice(0).sort(byTimestampThenValue);
  const out = [sorted[0]];
  for (let i = 1; i < sorted.length; i += 1) {
    const prev = out[out.length - 1];
    if (sorted[i].timestamp !== prev.timestamp || sorted[i].value !== prev.value) out.push(sorted[i]);
  }
  return out;
}

/** A cleaned copy of one span; the input is not modified. */
export function cleanSpan(span) {
  const out = { traceId: normalizeTraceId(span.traceId) };
  const id = String(span.id).toLowerCase().padStart(16, '0');
  if (span.parentId) {
    const parentId = String(span.parentId).toLowerCase().padStart(16, '0');
    if (parentId !== id) out.parentId = parentId;
  }
  out.id = id;
  if (span.name && span.name !== 'unknown') out.name = span.name;
  if (span.kind) out.kind = span.kind;
  if (span.timestamp) out.timestamp = span.timestamp;
  if (span.duration) out.duration = span.duration;
  if (isEndpoint(span.localEndpoint)) out.localEndpoint = { ...span.localEndpoint };
  if (isEndpoint(span.remoteEndpoint)) out.remoteEndpoint = { ...span.remoteEndpoint };
  out.annotations = uniqueAnnotations(Array.isArray(span.annotations) ? span.annotations : []);
  out.tags = span.tags && typeof span.tags === 'object' ? span.tags : {};
  if (span.debug) out.debug = true;
  // Only a server can share its client's id; the flag on a client is a reporting mistake.
  if (span.shared && span.kind !== 'CLIENT') out.shared = true;
  return out;
}

/** Merges two cleaned fragments of the same span; first present value wins. */
export function mergeSpans(left, right) {
  const out = { traceId: right.traceId.length > 16 ? right.traceId : left.traceId };
  const parentId = left.parentId || right.parentId;
  if (parentId) out.parentId = parentId;
  out.id = left.id;
  const name = left.name || right.name;
  if (name) out.name = name;
  const kind = left.kind || right.kind;
  if (kind) out.kind = kind;
  const timestamp = left.timestamp || right.timestamp;
  if (timestamp) out.timestamp = timestamp;
  const duration = left.duration || right.duration;
  if (duration) out.duration = duration;
  const local = { ...left.localEndpoint, ...right.localEndpoint };
  if (isEndpoint(local)) out.localEndpoint = local;
  const remote = { ...left.remoteEndpoint, ...right.remoteEndpoint };
  if (isEndpoint(remote)) out.remoteEndpoint = remote;
  if (left.annotations.length === 0) out.annotations = right.annotations;
  else if (right.annotations.length === 0) out.annotations = left.annotations;
  else out.annotations = uniqueAnnotations(left.annotations.concat(right.annotations));
  out.tags = { ...left.tags, ...right.tags };
  if (left.debug || right.debug) out.debug = true;
  if (left.shared || right.shared) out.shared = true;
  return out;
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

/** Cleans and merges the raw spans of one trace; returns a new, sorted list. */
export function mergeById(spans) {
  if (spans.length === 0) return [];
  let traceId;
  const cleaned = new Array(spans.length);
  for (let i = 0; i < spans.length; i += 1) {
    const span = cleanSpan(spans[i]);
    if (!traceId || traceId.length !== 32) traceId = span.traceId;
    cleaned[i] = span;
  }
  if (cleaned.length === 1) return cleaned;
  cleaned.sort(fragmentOrder);

  const out = [];
  let last;
  for (let i = 0; i < cleaned.length; i += 1) {
    let span = cleaned[i];
    if (span.traceId !== traceId) span.traceId = traceId;
    const host = span.localEndpoint ? { ...span.localEndpoint } : {};
    while (i + 1 < cleaned.length) {
      const next = cleaned[i + 1];
      if (next.id !== span.id) break;
      if (!!span.shared !== !!next.shared || !sameHost(host, next.localEndpoint)) break;
      span = mergeSpans(span, next);
      i += 1;
    }
    if (last && last.id === span.id) {
      // Older instrumentation shares the client's id without setting `shared`.
      if (last.kind === 'CLIENT' && span.kind === 'SERVER' && !span.shared) span.shared = true;
      if (span.shared && !span.parentId && last.parentId) span.parentId = last.parentId;
    }
    last = span;
    out.push(span);
  }

  out.sort(spanOrder);
  // A lone root marked shared is not a server half of anything in this trace.
  if (!out[0].parentId && out[0].shared && (out.length === 1 || !out[1].shared)) {
    delete out[0].shared;
  }
  return out;
}
