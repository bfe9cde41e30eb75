// The span tree and clock-skew correction, following Zipkin's rules (Lens's span-node and
// clock-skew): a shared server span hangs under its client (same id), other spans under
// their parent id (preferring a shared span of that id on the same host), the first
// parentless span is the root, orphans attach to the root (or to a synthetic root).
// Everything is iterative: traces can be 100,000 spans long and deep enough to overflow
// a recursive walk.

import { compare, spanOrder } from './clean.js';

// Shared by every leaf until it gets a child: one array less per span for large traces.
const NO_CHILDREN = Object.freeze([]);

/** A tree node; `span` is undefined for the synthetic root of a headless trace. */
export class SpanNode {
  constructor(span) {
    this.span = span;
    this.parent = undefined;
    this.children = NO_CHILDREN;
    // Microseconds subtracted from this span's times by clock-skew correction.
    this.shift = 0;
    // The span as reported, kept so the UI can show raw timings.
    this.raw = span;
    this.seen = false;
  }
}

// Key of a shared span: its id qualified by host, as two servers may answer one client id.
function endpointKey(id, endpoint) {
  if (!endpoint) return `${id}-x`;
  return `${id}-${endpoint.serviceName || ''}|${endpoint.ipv4 || ''}|${endpoint.ipv6 || ''}|${endpoint.port || ''}`;
}

// Children by start time, then name (Zipkin sorts spans by both before building).
function byTimestamp(a, b) {
  const x = a.span.timestamp;
  const y = b.span.timestamp;
  if (x !== y) {
    if (!x) return -1;
    if (!y) return 1;
    return x - y;
  }
  return compare(a.span.name, b.span.name);
}

/** Builds the tree of already-merged spans (see clean.js mergeById); returns the root node. */
export function buildTree(spans) {
  if (spans.length === 0) return new SpanNode(undefined);
  // Shared (server) spans are addressed by id and host; everything else by id.
  const sharedKeys = new Set();
  const sharedIds = new Set();
  for (const span of spans) {
    if (!span.shared) continue;
    sharedKeys.add(endpointKey(span.id, span.localEndpoint));
    sharedIds.add(span.id);
  }

  // The root is the first parentless span in Zipkin's order (earliest, then by name);
  // other parentless spans are attributed to it.
  let rootIndex = -1;
  for (let i = 0; i < spans.length; i += 1) {
    const span = spans[i];
    if (span.shared || span.parentId) continue;
    if (rootIndex < 0 || spanOrder(span, spans[rootIndex]) < 0) rootIndex = i;
  }

  const keyToNode = new Map();
  const nodes = new Array(spans.length);
  const parentKeys = new Array(spans.length);
  let root;
  for (let i = 0; i < spans.length; i += 1) {
    const span = spans[i];
    const node = new SpanNode(span);
    nodes[i] = node;
    let parentKey;
    if (span.shared) {
      // A server sharing its client's id hangs under that client.
      parentKey = span.id;
    } else if (span.parentId) {
      // A local span under a shared server span on the same host belongs to that server half.
      const sharedParent = sharedIds.has(span.parentId) ? endpointKey(span.parentId, span.localEndpoint) : undefined;
      parentKey = sharedParent !== undefined && sharedKeys.has(sharedParent) ? sharedParent : span.parentId;
    }
    parentKeys[i] = parentKey;
    if (i === rootIndex) {
      root = node;
    } else if (span.shared) {
      keyToNode.set(endpointKey(span.id, span.localEndpoint), node);
      keyToNode.set(endpointKey(span.id, undefined), node);
    } else {
      keyToNode.set(span.id, node);
    }
  }
  if (!root) root = new SpanNode(undefined);

  for (let i = 0; i < nodes.length; i += 1) {
    const child = nodes[i];
    if (child === root) continue;
    const key = parentKeys[i];
    const parent = key === undefined ? undefined : keyToNode.get(key);
    // Spans whose parent is missing (headless or partial traces) attach to the root.
    const target = parent && parent !== child ? parent : root;
    child.parent = target;
    if (target.children === NO_CHILDREN) target.children = [child];
    else target.children.push(child);
  }

  // A parent cycle (A under B under A) would hide its spans; hang such spans on the root.
  let reached = 0;
  const walk = [root];
  root.seen = true;
  while (walk.length) {
    const node = walk.pop();
    reached += 1;
    for (const child of node.children) { child.seen = true; walk.push(child); }
  }
  if (reached < nodes.length + (root.span ? 0 : 1)) {
    for (const node of nodes) {
      if (node.seen) continue;
      node.parent.children.splice(node.parent.children.indexOf(node), 1);
      node.parent = root;
      if (root.children === NO_CHILDREN) root.children = [node];
      else root.children.push(node);
      const below = [node];
      while (below.length) {
        const n = below.pop();
        n.seen = true;
        for (const c of n.children) below.push(c);
      }
    }
  }

  const stack = [root];
  while (stack.length) {
    const node = stack.pop();
    if (node.children.length > 1) node.children.sort(byTimestamp);
    for (const child of node.children) stack.push(child);
  }
  return root;
}

/** Same host: Zipkin compares IPs only (never service names or ports). */
export function ipsMatch(a, b) {
  if (!a || !b) return false;
  if (a.ipv6 && b.ipv6 && a.ipv6 === b.ipv6) return true;
  if (!a.ipv4 && !b.ipv4) return false;
  return a.ipv4 === b.ipv4;
}

/**
 * The skew between a CLIENT parent and its SERVER child, or undefined. Only a server that
 * appears to start before its client, on another host, is considered skewed.
 */
export function clockSkew(node) {
  const parent = node.parent && node.parent.span;
  const child = node.span;
  if (!parent || !child) return undefined;
  if (parent.kind !== 'CLIENT' || child.kind !== 'SERVER') return undefined;
  const clientTs = parent.timestamp;
  const serverTs = child.timestamp;
  if (!clientTs || !serverTs || serverTs > clientTs) return undefined;
  const server = child.localEndpoint;
  const client = parent.localEndpoint;
  if (!server || !client || ipsMatch(server, client)) return undefined;

  const clientDur = parent.duration;
  const serverDur = child.duration;
  if (!clientDur || !serverDur) {
    // One-way: all we know is that the server came after the client.
    const latency = serverTs - clientTs;
    if (latency > 0) return undefined;
    return { endpoint: server, skew: latency - 1 };
  }
  if (clientDur < serverDur) {
    // The client gave up before the server finished (async); still, it sent first.
    return { endpoint: server, skew: serverTs - clientTs - 1 };
  }
  // Assume the network took the same time each way.
  const latency = (clientDur - serverDur) / 2;
  const skew = serverTs - latency - clientTs;
  return skew !== 0 ? { endpoint: server, skew } : undefined;
}

function shifted(span, skew) {
  const out = { ...span };
  if (span.timestamp) out.timestamp = span.timestamp - skew;
  if (span.annotations.length) {
    out.annotations = span.annotations.map((a) => ({ timestamp: a.timestamp - skew, value: a.value }));
  }
  return out;
}

/**
 * Corrects clock skew in place (node.span becomes the corrected span, node.raw keeps the
 * original, node.shift the microseconds subtracted). Returns how many spans were shifted.
 * Like Zipkin, does nothing when the trace has no real root or has a second root.
 */
export function correctClockSkew(root) {
  if (!root.span) return 0;
  for (const child of root.children) {
    if (!child.span.parentId && !child.span.shared) return 0;
  }
  let count = 0;
  const stack = [root];
  const skews = [undefined];
  while (stack.length) {
    const node = stack.pop();
    const fromParent = skews.pop();
    const apply = (skew) => {
      if (!ipsMatch(skew.endpoint, node.span.localEndpoint)) return;
      node.span = shifted(node.span, skew.skew);
      node.shift += skew.skew;
    };
    if (fromParent) apply(fromParent);
    let skew = clockSkew(node);
    if (skew) apply(skew);
    else skew = fromParent;
    if (node.shift !== 0) count += 1;
    for (let i = node.children.length - 1; i >= 0; i -= 1) {
      stack.push(node.children[i]);
      skews.push(skew);
    }
  }
  return count;
}

/** Calls fn(node) for every real node, breadth-first (Zipkin's traversal order). */
export function traverse(root, fn) {
  const queue = root.span ? [root] : root.children.slice(0);
  for (let i = 0; i < queue.length; i += 1) {
    const node = queue[i];
    fn(node);
    for (const child of node.children) queue.push(child);
  }
}
