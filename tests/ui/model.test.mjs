// Unit tests of the UI's trace model (static/js/model/ and util.js), run in Node: the same
// modules the browser loads, no bundler in between.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { mergeById, normalizeTraceId } from '../../static/js/model/clean.js';
import { buildTree, correctClockSkew, clockSkew } from '../../static/js/model/tree.js';
import { buildRows, criticalPath, processTrace, rowDetail, summarize } from '../../static/js/model/trace.js';
import { parseTraceFile } from '../../static/js/model/upload.js';
import { markArchived } from '../../static/js/model/archive.js';
import { formatDuration, parseDuration } from '../../static/js/util.js';
import { generateTrace, lensTrace } from './lib/fixtures.mjs';

const ep = (serviceName, ipv4) => ({ serviceName, ipv4 });

describe('cleaning and merging', () => {
  test('trace ids are padded and a zero high half is dropped', () => {
    assert.equal(normalizeTraceId('abc'), '0000000000000abc');
    assert.equal(normalizeTraceId('00000000000000000000000000000abc'), '0000000000000abc');
    assert.equal(normalizeTraceId('1000000000000000000000000000abc'), '01000000000000000000000000000abc');
  });

  test('fragments of one span merge and a server sharing its client id is marked shared', () => {
    const spans = mergeById([
      { traceId: 'a', id: '1', name: 'root', kind: 'SERVER', timestamp: 10, duration: 100, localEndpoint: ep('front', '1.1.1.1') },
      { traceId: 'a', parentId: '1', id: '2', kind: 'CLIENT', timestamp: 20, localEndpoint: ep('front', '1.1.1.1') },
      { traceId: 'a', parentId: '1', id: '2', name: 'call', duration: 50, localEndpoint: ep('front', '1.1.1.1') },
      { traceId: 'a', parentId: '1', id: '2', kind: 'SERVER', name: 'call', timestamp: 25, duration: 40, localEndpoint: ep('back', '2.2.2.2') },
    ]);
    assert.equal(spans.length, 3);
    const client = spans.find((s) => s.kind === 'CLIENT');
    assert.equal(client.duration, 50, 'the two client fragments merged');
    assert.equal(spans.find((s) => s.kind === 'SERVER' && s.id === '0000000000000002').shared, true);
    const rows = buildRows(buildTree(spans));
    assert.equal(rows.length, 2, 'client and server halves are one row');
    assert.equal(rows[1].serviceName, 'back', "the server's service names the row");
    assert.equal(rows[1].ts, 20, "the client's timing is preferred");
  });

  test('a span naming itself as parent does not disappear', () => {
    const rows = buildRows(buildTree(mergeById([
      { traceId: 'a', id: '1', timestamp: 1, duration: 5 },
      { traceId: 'a', id: '2', parentId: '2', timestamp: 2, duration: 1 },
    ])));
    assert.equal(rows.length, 2);
  });
});

describe('clock skew (Zipkin rules)', () => {
  test('the skew fixture is shifted so the server sits inside its client', () => {
    const trace = processTrace(lensTrace('skew', 1));
    assert.equal(trace.skewed, 2);
    const rows = buildRows(trace.root);
    const rpc = rows[1];
    const server = rpc.nodes.find((n) => n.span.kind === 'SERVER');
    const client = rpc.nodes.find((n) => n.span.kind === 'CLIENT');
    assert.equal(server.shift, -65922);
    // Latency is split evenly: the server starts half the duration gap after the client.
    const gap = (client.span.duration - server.span.duration) / 2;
    assert.equal(server.span.timestamp - client.span.timestamp, gap);
    assert.equal(rows[2].shift, -65922, 'descendants on the same host move too');
    assert.equal(rows[2].rawTs - rows[2].ts, -65922);
  });

  test('no skew between spans on the same host or when the server starts after the client', () => {
    const build = (serverTs, serverIp) => {
      const root = buildTree(mergeById([
        { traceId: 'a', id: '1', kind: 'CLIENT', timestamp: 100, duration: 50, localEndpoint: ep('a', '1.1.1.1') },
        { traceId: 'a', id: '1', kind: 'SERVER', shared: true, timestamp: serverTs, duration: 30, localEndpoint: ep('b', serverIp) },
      ]));
      return { root, skew: clockSkew(root.children[0]) };
    };
    assert.equal(build(90, '1.1.1.1').skew, undefined, 'same IP');
    assert.equal(build(105, '2.2.2.2').skew, undefined, 'server after client');
    assert.deepEqual(build(90, '2.2.2.2').skew.skew, 90 - 10 - 100);
  });

  test('a second root disables the correction, as in Zipkin', () => {
    const root = buildTree(mergeById([
      { traceId: 'a', id: '1', kind: 'CLIENT', timestamp: 100, duration: 50, localEndpoint: ep('a', '1.1.1.1') },
      { traceId: 'a', id: '1', kind: 'SERVER', shared: true, timestamp: 10, duration: 30, localEndpoint: ep('b', '2.2.2.2') },
      { traceId: 'a', id: '9', timestamp: 100, duration: 5, localEndpoint: ep('c', '3.3.3.3') },
    ]));
    assert.equal(correctClockSkew(root), 0);
  });
});

describe('critical path', () => {
  const rowsOf = (spans) => buildRows(buildTree(mergeById(spans)));

  test('follows the last-finishing child, then what finished before it started', () => {
    const rows = rowsOf([
      { traceId: 'a', id: '1', name: 'root', timestamp: 0 + 1, duration: 100 },
      { traceId: 'a', parentId: '1', id: '2', name: 'early', timestamp: 10, duration: 30 },
      { traceId: 'a', parentId: '1', id: '3', name: 'overlapped', timestamp: 12, duration: 10 },
      { traceId: 'a', parentId: '1', id: '4', name: 'late', timestamp: 50, duration: 40 },
    ]);
    const path = criticalPath(rows, false);
    const byName = Object.fromEntries(rows.map((r) => [r.spanName, path.get(r.index) || []]));
    assert.deepEqual(byName.late, [[50, 90]]);
    assert.deepEqual(byName.early, [[10, 40]]);
    assert.deepEqual(byName.overlapped, [], 'hidden behind a longer sibling');
    assert.deepEqual(byName.root.sort((x, y) => x[0] - y[0]), [[1, 10], [40, 50], [90, 101]]);
  });

  test('a generated trace of 10,000 spans has a path from start to end', () => {
    const rows = buildRows(processTrace(generateTrace(10000)).root);
    const path = criticalPath(rows, false);
    const total = [...path.values()].flat().reduce((sum, [a, b]) => sum + (b - a), 0);
    assert.equal(total, rows[0].dur, 'the segments tile the root span exactly');
  });
});

describe('summaries and details', () => {
  test('a search summary names the root, counts spans per service and flags errors', () => {
    const summary = summarize(lensTrace('messaging-kafka', 1));
    assert.equal(summary.spanCount, 28);
    assert.equal(summary.errorType, 'critical');
    assert.equal(summary.rootService, 'servicea');
    assert.ok(summary.services.some((s) => s.name === 'serviceb'));
  });

  test('span detail derives client and server start and finish and remote addresses', () => {
    const rows = buildRows(processTrace(lensTrace('yelp', 1)).root);
    const client = rows.find((r) => r.kinds.includes('CLIENT') && r.nodes.length === 1 && r.nodes[0].span.remoteEndpoint);
    const detail = rowDetail(client, false, rows[0].ts);
    assert.deepEqual(detail.annotations.filter((a) => a.derived).map((a) => a.value), ['Client Start', 'Client Finish']);
    assert.ok(detail.tags.some((t) => t.key === 'Server Address'));
  });
});

describe('durations and files', () => {
  test('durations parse with units and format like Zipkin', () => {
    assert.equal(parseDuration('10ms'), 10000);
    assert.equal(parseDuration('1.5s'), 1500000);
    assert.equal(parseDuration('250us'), 250);
    assert.equal(parseDuration('2m'), 120000000);
    assert.equal(parseDuration('1234'), 1234, 'bare numbers are microseconds');
    assert.equal(parseDuration(''), undefined);
    assert.ok(Number.isNaN(parseDuration('ten')));
    assert.equal(formatDuration(850), '850μs');
    assert.equal(formatDuration(12000), '12ms');
    assert.equal(formatDuration(12345), '12.345ms');
    assert.equal(formatDuration(1234567), '1.235s');
  });

  test('upload accepts v2 spans and refuses v1, non-lists and mixed traces', () => {
    const v2 = [{ traceId: 'a1', id: 'b2', localEndpoint: { serviceName: 'x' } }];
    assert.equal(parseTraceFile(JSON.stringify(v2)).spans.length, 1);
    assert.equal(parseTraceFile(JSON.stringify([v2, v2])).traceCount, 2);
    assert.throws(() => parseTraceFile('{'), /not valid JSON/);
    assert.throws(() => parseTraceFile('{"traceId":"a"}'), /expected a JSON list/);
    assert.throws(() => parseTraceFile('[]'), /no spans/);
    assert.throws(() => parseTraceFile(JSON.stringify([{ traceId: 'a', id: 'b', binaryAnnotations: [] }])), /v1/);
    assert.throws(() => parseTraceFile(JSON.stringify([{ traceId: 'zz', id: 'b' }])), /traceId/);
    assert.throws(() => parseTraceFile(JSON.stringify([{ traceId: 'a', id: 'b' }, { traceId: 'c', id: 'd' }])), /2 different traces/);
  });
});

describe('archive', () => {
  test('the root span is tagged zipkin.archived=true and its other tags are kept', () => {
    const spans = markArchived([
      { traceId: 'a', parentId: '1', id: '2', timestamp: 5 },
      { traceId: 'a', id: '1', timestamp: 10, tags: { 'http.path': '/' } },
    ]);
    assert.deepEqual(spans[1].tags, { 'http.path': '/', 'zipkin.archived': 'true' });
    assert.equal(spans[0].tags, undefined);
  });

  test('a trace without its root span tags its earliest span', () => {
    const spans = markArchived([
      { traceId: 'a', parentId: '1', id: '3', timestamp: 20 },
      { traceId: 'a', parentId: '1', id: '2', timestamp: 5 },
    ]);
    assert.deepEqual(spans[1].tags, { 'zipkin.archived': 'true' });
    assert.equal(spans[0].tags, undefined);
    assert.deepEqual(markArchived([]), []);
  });
});
