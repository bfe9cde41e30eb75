// Starts the real Zipwire binary on a free port for a test run, and posts spans to it.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The binary under test: $ZIPWIRE_BIN, else the release build in the cargo target dir. */
export function zipwireBinary() {
  if (process.env.ZIPWIRE_BIN) return process.env.ZIPWIRE_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(repo, 'target');
  return path.join(target, 'release', 'zipwire');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Starts Zipwire with in-memory storage; resolves once it answers. */
export async function startZipwire(extraEnv = {}) {
  const binary = zipwireBinary();
  if (!fs.existsSync(binary)) {
    throw new Error(`Zipwire binary not found at ${binary}; build it with 'cargo build --release' or set ZIPWIRE_BIN`);
  }
  const port = await freePort();
  const child = spawn(binary, [], {
    env: {
      ...process.env,
      QUERY_PORT: String(port),
      STORAGE_TYPE: 'mem',
      // Seven days, so searches and dependency queries over old-ish fixture data still match.
      QUERY_LOOKBACK: String(7 * 86400000),
      AUTOCOMPLETE_KEYS: 'http.method,kafka.topic',
      MEM_MAX_SPANS: '1000000',
      RUST_LOG: process.env.RUST_LOG || 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`zipwire exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(`${base}/api/v2/services`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`zipwire did not start within 30 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** POSTs spans to /api/v2/spans in chunks (request bodies are size-limited). */
export async function postSpans(base, spans, chunk = 5000) {
  for (let i = 0; i < spans.length; i += chunk) {
    const body = JSON.stringify(spans.slice(i, i + chunk));
    const res = await fetch(`${base}/api/v2/spans`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body,
    });
    if (res.status !== 202) throw new Error(`POST /api/v2/spans answered ${res.status}: ${await res.text()}`);
  }
}

/** Polls until the trace is readable with the expected number of spans (storage may be async). */
export async function waitForTrace(base, traceId, count) {
  // Generous: CI may drive a debug build on a busy machine.
  const deadline = Date.now() + 60000;
  for (;;) {
    const res = await fetch(`${base}/api/v2/trace/${traceId}`);
    if (res.ok) {
      const spans = await res.json();
      if (spans.length >= count) return spans;
    }
    if (Date.now() > deadline) throw new Error(`trace ${traceId} not readable with ${count} spans`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
