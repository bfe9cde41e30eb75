// Test data: the real traces from Zipkin's Lens test data (shared/testdata/zipkin-lens,
// Apache-2.0), moved to "now" so default lookbacks find them, and a generated trace of any
// size with realistic shape (RPCs with shared client/server ids, local spans, tags, errors).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Folder of the Lens test traces: $ZIPWIRE_TESTDATA, or ../shared/testdata/zipkin-lens beside the repo. */
export function testdataDir() {
  const candidates = [
    process.env.ZIPWIRE_TESTDATA,
    path.resolve(here, '../../../../shared/testdata/zipkin-lens'),
    path.resolve(here, '../../../shared/testdata/zipkin-lens'),
    '/work/shared/testdata/zipkin-lens',
  ].filter(Boolean);
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'yelp.json')));
  if (!found) throw new Error(`Lens test data not found; set ZIPWIRE_TESTDATA (tried ${candidates.join(', ')})`);
  return found;
}

/** Moves every timestamp of a trace by the same amount so it starts at startUs. */
export function shiftTo(spans, startUs) {
  const min = Math.min(...spans.filter((s) => s.timestamp).map((s) => s.timestamp));
  const delta = startUs - min;
  return spans.map((s) => ({
    ...s,
    ...(s.timestamp ? { timestamp: s.timestamp + delta } : {}),
    ...(s.annotations ? { annotations: s.annotations.map((a) => ({ ...a, timestamp: a.timestamp + delta })) } : {}),
  }));
}

/** Loads a Lens fixture by name, shifted to start minutesAgo minutes before now. */
export function lensTrace(name, minutesAgo) {
  const spans = JSON.parse(fs.readFileSync(path.join(testdataDir(), `${name}.json`), 'utf8'));
  return shiftTo(spans, (Date.now() - minutesAgo * 60000) * 1000);
}

// Small deterministic PRNG (mulberry32) so generated traces are the same on every run.
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERVICES = ['gateway', 'orders', 'inventory', 'payments', 'users', 'search', 'pricing',
  'shipping', 'notifications', 'recommendations', 'catalog', 'auth'];
const OPERATIONS = ['get /api/items', 'post /api/orders', 'get /api/users/{id}', 'select', 'insert',
  'cache.get', 'publish', 'compute', 'validate', 'render'];

const hex = (rnd, n) => Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join('');

/**
 * A single trace of exactly `count` spans starting at startUs. RPCs are a CLIENT span and
 * a SERVER span sharing its id (B3 style), so rows merge as in Lens; about 1 span in 60
 * has an error tag.
 */
export function generateTrace(count, { seed = 42, startUs = Date.now() * 1000 - 120e6, traceId } = {}) {
  const rnd = random(seed);
  const id = traceId || hex(rnd, 16);
  const spans = [];
  let ip = 1;
  const hosts = new Map(SERVICES.map((s) => [s, `10.0.${Math.floor(ip / 250)}.${(ip++ % 250) + 1}`]));
  const endpoint = (service) => ({ serviceName: service, ipv4: hosts.get(service), port: 8080 });
  const root = {
    traceId: id, id: hex(rnd, 16), kind: 'SERVER', name: 'get /checkout', timestamp: startUs,
    duration: 2_000_000 + Math.floor(rnd() * 2_000_000), localEndpoint: endpoint('gateway'),
    tags: { 'http.method': 'GET', 'http.path': '/checkout' },
  };
  spans.push(root);
  // Breadth-first growth: each open span receives children until the budget is spent.
  const open = [{ span: root, service: 'gateway', depth: 0 }];
  let cursor = 0;
  while (spans.length < count) {
    const parent = open[cursor % open.length];
    cursor += 1;
    const fanout = 1 + Math.floor(rnd() * 4);
    const p = parent.span;
    for (let k = 0; k < fanout && spans.length < count; k += 1) {
      const offset = Math.floor(rnd() * p.duration * 0.6);
      const duration = Math.max(5, Math.floor((p.duration - offset) * (0.2 + rnd() * 0.7)));
      const error = rnd() < 1 / 60;
      // Services only call those after them in SERVICES, so the system is layered (a DAG)
      // like most real ones, and the dependency graph stays readable.
      const from = SERVICES.indexOf(parent.service);
      const rpc = spans.length + 2 <= count && parent.depth < 14 && from < SERVICES.length - 1 && rnd() < 0.55;
      if (rpc) {
        const target = SERVICES[from + 1 + Math.floor(rnd() * (SERVICES.length - from - 1))];
        const spanId = hex(rnd, 16);
        const name = OPERATIONS[Math.floor(rnd() * OPERATIONS.length)];
        const client = {
          traceId: id, parentId: p.id, id: spanId, kind: 'CLIENT', name, timestamp: p.timestamp + offset,
          duration, localEndpoint: endpoint(parent.service), remoteEndpoint: { serviceName: target },
          tags: { 'http.method': rnd() < 0.7 ? 'GET' : 'POST', 'http.path': `/${target}/${name.split(' ').pop()}` },
        };
        const server = {
          traceId: id, parentId: p.id, id: spanId, kind: 'SERVER', name, shared: true,
          timestamp: client.timestamp + 150, duration: Math.max(1, duration - 300), localEndpoint: endpoint(target),
          tags: error ? { error: 'upstream timeout', 'http.status_code': '504' } : { 'http.status_code': '200' },
          annotations: rnd() < 0.2 ? [{ timestamp: client.timestamp + 200, value: 'wr' }] : undefined,
        };
        spans.push(client, server);
        open.push({ span: server, service: target, depth: parent.depth + 1 });
      } else {
        const local = {
          traceId: id, parentId: p.id, id: hex(rnd, 16), name: OPERATIONS[Math.floor(rnd() * OPERATIONS.length)],
          timestamp: p.timestamp + offset, duration, localEndpoint: endpoint(parent.service),
          tags: error ? { error: 'failed', lc: 'worker' } : { lc: 'worker' },
        };
        spans.push(local);
        if (parent.depth < 14) open.push({ span: local, service: parent.service, depth: parent.depth + 1 });
      }
    }
  }
  return spans;
}
