// From raw spans to what the pages show: a search-result summary, and the timeline rows
// of the trace page (one row per span id, a client and its shared server merged as Lens
// does), the critical path, and the span detail tables.

import { mergeById } from './clean.js';
import { buildTree, correctClockSkew, traverse } from './tree.js';

/** Cleans, merges, builds the tree and corrects clock skew. */
export function processTrace(rawSpans) {
  const spans = mergeById(rawSpans);
  const root = buildTree(spans);
  const skewed = correctClockSkew(root);
  return { traceId: spans.length ? spans[0].traceId : '', spans, root, skewed };
}

/** 'critical' when a span has an `error` tag, 'transient' for an "error" annotation, else 'none'. */
export function errorType(span, current = 'none') {
  if (current === 'critical') return current;
  if (span.tags && span.tags.error !== undefined) return 'critical';
  if (span.annotations && span.annotations.some((a) => a.value === 'error')) return 'transient';
  return current;
}

function serviceOf(endpoint) {
  return endpoint && endpoint.serviceName ? endpoint.serviceName : undefined;
}

/** One search result: timing, root name, counts per service, error marker. */
export function summarize(rawSpans) {
  const { traceId, root } = processTrace(rawSpans);
  let min = Infinity;
  let max = -Infinity;
  let spanCount = 0;
  let error = 'none';
  const services = new Map();
  traverse(root, (node) => {
    const span = node.span;
    spanCount += 1;
    error = errorType(span, error);
    if (span.timestamp) {
      min = Math.min(min, span.timestamp);
      max = Math.max(max, span.timestamp + (span.duration || 0));
    }
    for (const name of new Set([serviceOf(span.localEndpoint), serviceOf(span.remoteEndpoint)])) {
      if (name) services.set(name, (services.get(name) || 0) + 1);
    }
  });
  const top = root.span ? root : root.children[0];
  const topSpan = top ? top.span : {};
  return {
    traceId,
    timestamp: Number.isFinite(min) ? min : 0,
    duration: Number.isFinite(min) ? max - min : 0,
    spanCount,
    errorType: error,
    rootService: serviceOf(topSpan.localEndpoint) || serviceOf(topSpan.remoteEndpoint) || 'unknown',
    rootName: topSpan.name || 'unknown',
    services: [...services.entries()]
      .map(([name, count]) => ({ name, count }))
      .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : 1)),
  };
}

// Sets a row's start and duration in one view (corrected or raw).
function timing(row, useRaw) {
  let timestamp;
  let duration;
  let sharedTimestamp;
  let sharedDuration;
  for (const node of row.nodes) {
    const span = useRaw ? node.raw : node.span;
    if (span.shared) {
      if (!sharedTimestamp) sharedTimestamp = span.timestamp;
      if (!sharedDuration) sharedDuration = span.duration;
    } else {
      if (!timestamp && span.timestamp) timestamp = span.timestamp;
      if (!duration && span.duration) duration = span.duration;
    }
  }
  // The client's view of an RPC is preferred; the server's is the fallback.
  if (useRaw) {
    row.rawTs = timestamp || sharedTimestamp || 0;
    row.rawDur = duration || sharedDuration || 0;
  } else {
    row.ts = timestamp || sharedTimestamp || 0;
    row.dur = duration || sharedDuration || 0;
  }
}

const NO_ROWS = Object.freeze([]);

// Every row gets all its fields at creation: one object shape for 100,000 rows keeps the
// engine's property access fast.
function newRow(nodes, isLeaf, index, depth, parent) {
  const row = {
    spanId: nodes[0].span.id,
    parentId: undefined,
    spanName: undefined,
    serviceName: undefined,
    serviceNames: [],
    kinds: [],
    nodes,
    errorType: 'none',
    shift: 0,
    debug: false,
    ts: 0,
    dur: 0,
    rawTs: 0,
    rawDur: 0,
    index,
    depth,
    parent,
    children: NO_ROWS,
    end: index + 1,
    last: false,
  };
  for (const node of nodes) {
    const span = node.span;
    if (span.parentId) row.parentId = span.parentId;
    // The server names the operation it served; prefer its name and service.
    if (span.name && (!row.spanName || span.kind === 'SERVER')) row.spanName = span.name;
    const local = serviceOf(span.localEndpoint);
    const remote = serviceOf(span.remoteEndpoint);
    if (local && span.kind === 'SERVER') row.serviceName = local;
    else if (isLeaf && remote && span.kind === 'CLIENT' && !row.serviceName) row.serviceName = remote;
    else if (local && !row.serviceName) row.serviceName = local;
    if (local && !row.serviceNames.includes(local)) row.serviceNames.push(local);
    if (remote && !row.serviceNames.includes(remote)) row.serviceNames.push(remote);
    if (span.kind && !row.kinds.includes(span.kind)) row.kinds.push(span.kind);
    row.errorType = errorType(span, row.errorType);
    if (Math.abs(node.shift) > Math.abs(row.shift)) row.shift = node.shift;
    if (span.debug) row.debug = true;
  }
  row.spanName = row.spanName || 'unknown';
  row.serviceName = row.serviceName || 'unknown';
  if (row.serviceNames.length > 1) row.serviceNames.sort();
  return row;
}

/**
 * Timeline rows in display order (depth-first, children by start time). Each row has:
 * index, depth, parent (row index or -1), children (row indexes), end (index after its
 * subtree), last (whether it is its parent's last child), and timings for both views:
 * ts/dur (skew-corrected) and rawTs/rawDur (as reported).
 */
export function buildRows(root) {
  const rows = [];
  // Start and duration of the whole trace over every span (so nothing falls off screen),
  // in both views, gathered on the way as rows.bounds.
  const bounds = { adjusted: [Infinity, -Infinity], raw: [Infinity, -Infinity] };
  const widen = (b, span) => {
    if (!span.timestamp) return;
    if (span.timestamp < b[0]) b[0] = span.timestamp;
    const end = span.timestamp + (span.duration || 0);
    if (end > b[1]) b[1] = end;
  };
  const top = root.span ? [root] : root.children.slice(0);
  // Parallel stacks instead of a tuple per span: large traces allocate enough already.
  const stack = [];
  const depths = [];
  const parents = [];
  for (let i = top.length - 1; i >= 0; i -= 1) { stack.push(top[i]); depths.push(0); parents.push(-1); }
  while (stack.length) {
    const node = stack.pop();
    const depth = depths.pop();
    const parent = parents.pop();
    let merged = null;
    for (const child of node.children) {
      if (child.span.id === node.span.id) (merged || (merged = [node])).push(child);
    }
    let children = node.children;
    if (merged) {
      // The server half's children become the row's children, in time order.
      children = [];
      for (const child of node.children) {
        if (child.span.id === node.span.id) for (const grandChild of child.children) children.push(grandChild);
        else children.push(child);
      }
      children.sort((a, b) => (a.span.timestamp || 0) - (b.span.timestamp || 0));
    } else {
      merged = [node];
    }
    for (const n of merged) {
      widen(bounds.adjusted, n.span);
      widen(bounds.raw, n.raw);
    }
    const row = newRow(merged, children.length === 0, rows.length, depth, parent);
    timing(row, false);
    timing(row, true);
    if (parent >= 0) {
      const p = rows[parent];
      if (p.children === NO_ROWS) p.children = [row.index];
      else p.children.push(row.index);
    }
    rows.push(row);
    for (let i = children.length - 1; i >= 0; i -= 1) {
      stack.push(children[i]);
      depths.push(depth + 1);
      parents.push(row.index);
    }
  }
  for (let i = rows.length - 1; i >= 0; i -= 1) {
    const row = rows[i];
    row.end = row.children.length ? rows[row.children[row.children.length - 1]].end : i + 1;
    if (row.children.length) rows[row.children[row.children.length - 1]].last = true;
  }
  let lastTop = -1;
  for (const row of rows) if (row.parent < 0) lastTop = row.index;
  if (lastTop >= 0) rows[lastTop].last = true;
  const toBounds = ([min, max]) => (Number.isFinite(min) ? { start: min, duration: max - min } : { start: 0, duration: 0 });
  rows.bounds = { adjusted: toBounds(bounds.adjusted), raw: toBounds(bounds.raw) };
  return rows;
}

/** Header facts for the trace page. */
export function traceFacts(rows) {
  const services = new Map();
  let depth = 0;
  let error = 'none';
  let spanCount = 0;
  for (const row of rows) {
    spanCount += row.nodes.length;
    for (const name of row.serviceNames) services.set(name, (services.get(name) || 0) + 1);
    depth = Math.max(depth, row.depth + 1);
    if (row.errorType === 'critical' || error === 'none') {
      error = row.errorType === 'none' ? error : row.errorType;
    }
  }
  const first = rows[0];
  return {
    rootService: first ? first.serviceName : 'unknown',
    rootName: first ? first.spanName : 'unknown',
    depth,
    spanCount,
    errorType: error,
    services: [...services.entries()]
      .map(([name, count]) => ({ name, count }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

/**
 * The critical path: the chain of work that determines when the trace ends. Walking back
 * from a span's end, the child that finished last is on the path; before that child
 * started, the next-latest child that finished by then; gaps between them are the span's
 * own time. Returns a Map of row index → [[start, end], ...] in microseconds.
 */
export function criticalPath(rows, useRaw) {
  const ts = (i) => (useRaw ? rows[i].rawTs : rows[i].ts);
  const ownEnd = (i) => ts(i) + (useRaw ? rows[i].rawDur : rows[i].dur);
  // Async work can outlive its parent; a subtree ends when its last span does, so the path
  // follows the work that really finishes last instead of stopping at the parent's end.
  const subtreeEnd = new Float64Array(rows.length);
  for (let i = rows.length - 1; i >= 0; i -= 1) {
    let value = ts(i) ? ownEnd(i) : 0;
    for (const c of rows[i].children) value = Math.max(value, subtreeEnd[c]);
    subtreeEnd[i] = value;
  }
  const end = (i) => subtreeEnd[i];
  const segments = new Map();
  const add = (i, from, to) => {
    if (i < 0) return;
    const a = Math.max(from, ts(i));
    const b = Math.min(to, ownEnd(i));
    if (b <= a) return;
    if (!segments.has(i)) segments.set(i, []);
    segments.get(i).push([a, b]);
  };
  const kidsOf = (list) => list.filter((i) => ts(i) > 0).sort((a, b) => end(b) - end(a));
  const tops = rows.filter((r) => r.parent < 0 && ts(r.index) > 0).map((r) => r.index);
  if (tops.length === 0) return segments;

  // A virtual root (index -1) spans all top-level rows, so headless traces work too.
  const frame = (i, limit) => {
    const start = i < 0 ? Math.min(...tops.map(ts)) : ts(i);
    const stop = i < 0 ? Math.max(...tops.map(end)) : end(i);
    const kids = kidsOf(i < 0 ? tops : rows[i].children);
    return { i, start, cursor: Math.min(stop, limit), kids, k: 0 };
  };
  const stack = [frame(-1, Infinity)];
  while (stack.length) {
    const f = stack[stack.length - 1];
    let next = -1;
    while (f.k < f.kids.length) {
      const c = f.kids[f.k];
      f.k += 1;
      if (ts(c) >= f.cursor || end(c) <= f.start) continue;
      next = c;
      break;
    }
    if (next < 0) {
      add(f.i, f.start, f.cursor);
      stack.pop();
      continue;
    }
    const childEnd = Math.min(end(next), f.cursor);
    add(f.i, childEnd, f.cursor);
    f.cursor = Math.max(ts(next), f.start);
    stack.push(frame(next, childEnd));
  }
  return segments;
}

// Readable names for Zipkin's v1 core annotations and well-known tag keys.
const CONSTANT_NAMES = {
  cs: 'Client Send', sr: 'Server Receive', ss: 'Server Send', cr: 'Client Receive',
  ms: 'Producer Send', mr: 'Consumer Receive', ws: 'Wire Send', wr: 'Wire Receive',
  csf: 'Client Send Fragment', crf: 'Client Receive Fragment',
  ssf: 'Server Send Fragment', srf: 'Server Receive Fragment',
  ca: 'Client Address', sa: 'Server Address', ma: 'Message Address', lc: 'Local Component',
};

/** "10.0.0.1:8080 (frontend)", "[::1]:80", or the service name alone. */
export function formatEndpoint(endpoint) {
  if (!endpoint) return '';
  const { ipv4, ipv6, port, serviceName } = endpoint;
  if (ipv4 || ipv6) {
    const ip = ipv6 ? `[${ipv6}]` : ipv4;
    return `${ip}${port ? `:${port}` : ''}${serviceName ? ` (${serviceName})` : ''}`;
  }
  return serviceName || '';
}

const BOUNDARY = {
  CLIENT: ['Client Start', 'Client Finish'],
  SERVER: ['Server Start', 'Server Finish'],
  PRODUCER: ['Producer Start', 'Producer Finish'],
  CONSUMER: ['Consumer Start', 'Consumer Finish'],
};

// Annotation rows of one span: its own annotations plus derived start/finish rows from its
// kind, timestamp and duration (v1 core annotations fold into those).
function annotationRows(span) {
  const host = formatEndpoint(span.localEndpoint) || 'unknown';
  let start = span.timestamp || 0;
  let finish = start && span.duration ? start + span.duration : 0;
  let kind = span.kind;
  const extra = [];
  const special = {};
  for (const a of span.annotations) {
    switch (a.value) {
      case 'cs': case 'sr':
        kind = a.value === 'cs' ? 'CLIENT' : 'SERVER';
        if (!start || a.timestamp <= start) start = a.timestamp; else extra.push(a);
        break;
      case 'cr': case 'ss':
        kind = a.value === 'cr' ? 'CLIENT' : 'SERVER';
        if (a.timestamp >= finish) finish = a.timestamp; else extra.push(a);
        break;
      case 'ms': kind = 'PRODUCER'; special.ms = a.timestamp; break;
      case 'mr': kind = 'CONSUMER'; special.mr = a.timestamp; break;
      case 'ws': special.ws = a.timestamp; break;
      case 'wr': special.wr = a.timestamp; break;
      default: extra.push(a);
    }
  }
  if (kind === 'PRODUCER') {
    if (!start || (special.ms && special.ms < start)) { start = special.ms || start; delete special.ms; }
    if (!finish || (special.ws && special.ws > finish)) { finish = special.ws || finish; delete special.ws; }
  } else if (kind === 'CONSUMER') {
    if (!start || (special.wr && special.wr < start)) { start = special.wr || start; delete special.wr; }
    if (!finish || (special.mr && special.mr > finish)) { finish = special.mr || finish; delete special.mr; }
  }
  for (const [value, timestamp] of Object.entries(special)) if (timestamp) extra.push({ value, timestamp });
  const [begin, done] = BOUNDARY[kind] || [];
  const out = [];
  if (begin && start) out.push({ value: begin, timestamp: start, host, derived: true });
  for (const a of extra) {
    if (a.value === begin || a.value === done) continue;
    out.push({ value: CONSTANT_NAMES[a.value] || a.value, timestamp: a.timestamp, host, derived: false });
  }
  if (done && finish) out.push({ value: done, timestamp: finish, host, derived: true });
  return out;
}

function tagRows(span) {
  const host = formatEndpoint(span.localEndpoint);
  const out = Object.entries(span.tags).map(([key, value]) => ({
    key: CONSTANT_NAMES[key] || key, rawKey: key, value: String(value), host,
  }));
  if (!span.kind && span.annotations.length === 0 && host && out.length === 0) {
    out.push({ key: 'Local Address', value: host, host: '', derived: true });
  }
  if (span.remoteEndpoint) {
    const label = { CLIENT: 'Server Address', SERVER: 'Client Address', PRODUCER: 'Broker Address', CONSUMER: 'Broker Address' }[span.kind] || 'Server Address';
    out.push({ key: label, value: formatEndpoint(span.remoteEndpoint), host: '', derived: true });
  }
  return out;
}

/**
 * Detail tables for a row: annotations (sorted, with times relative to the trace start)
 * and tags, merged over the client and server halves without duplicates.
 */
export function rowDetail(row, useRaw, traceStart) {
  const annotations = [];
  const tags = [];
  for (const node of row.nodes) {
    const span = useRaw ? node.raw : node.span;
    for (const a of annotationRows(span)) {
      if (!annotations.some((b) => b.timestamp === a.timestamp && b.value === a.value)) annotations.push(a);
    }
    for (const t of tagRows(span)) {
      const same = tags.find((u) => u.key === t.key && u.value === t.value);
      if (!same) tags.push({ ...t, hosts: t.host ? [t.host] : [] });
      else if (t.host && !same.hosts.includes(t.host)) same.hosts.push(t.host);
    }
  }
  annotations.sort((a, b) => a.timestamp - b.timestamp);
  for (const a of annotations) a.relative = a.timestamp - traceStart;
  return { annotations, tags };
}

/** Lower-cased text a find-in-trace query is matched against. */
export function searchText(row) {
  const parts = [row.serviceName, row.spanName, row.spanId, ...row.serviceNames];
  for (const node of row.nodes) {
    for (const [key, value] of Object.entries(node.span.tags)) parts.push(`${key}=${value}`);
    for (const a of node.span.annotations) parts.push(a.value);
  }
  return parts.join('\n').toLowerCase();
}
