// Calls to Zipkin's /api/v2, relative to the UI's base path (the server mounts the API
// under /zipkin/api/v2 as Zipkin does), and the UI configuration.

import { markArchived } from './model/archive.js';

/** Base URL of the UI, from <base href>, e.g. "http://host:9411/zipkin/". */
export const BASE = new URL(document.baseURI);

/** Path of the UI (no trailing slash): "/zipkin". */
export const BASE_PATH = BASE.pathname.replace(/\/$/, '');

/** An HTTP error with the server's message, which Zipkin puts in the body. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function getJson(path, params) {
  const url = new URL(path, BASE);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value));
  }
  let response;
  try {
    response = await fetch(url, { headers: { Accept: 'application/json' } });
  } catch (err) {
    throw new ApiError(0, `Cannot reach the server (${err.message})`);
  }
  if (!response.ok) {
    const text = (await response.text().catch(() => '')).trim();
    throw new ApiError(response.status, text || `${response.status} ${response.statusText}`);
  }
  return response.json();
}

const cache = new Map();

// Name lists change rarely; one request per page load is enough.
function cached(key, load) {
  if (!cache.has(key)) cache.set(key, load().catch((err) => { cache.delete(key); throw err; }));
  return cache.get(key);
}

export const api = {
  // The server inlines config.json into index.html; fetching it is the fallback.
  config: () => cached('config', () => {
    const inline = document.getElementById('zipwire-config');
    if (inline) {
      try { return Promise.resolve(JSON.parse(inline.textContent)); } catch { /* fetch instead */ }
    }
    return getJson('config.json').catch(() => ({}));
  }),
  services: () => cached('services', () => getJson('api/v2/services')),
  remoteServices: (serviceName) =>
    cached(`remote:${serviceName}`, () => getJson('api/v2/remoteServices', { serviceName })),
  spanNames: (serviceName) => cached(`spans:${serviceName}`, () => getJson('api/v2/spans', { serviceName })),
  autocompleteKeys: () => cached('keys', () => getJson('api/v2/autocompleteKeys').catch(() => [])),
  autocompleteValues: (key) =>
    cached(`values:${key}`, () => getJson('api/v2/autocompleteValues', { key }).catch(() => [])),
  traces: (params) => getJson('api/v2/traces', params),
  trace: (traceId) => getJson(`api/v2/trace/${encodeURIComponent(traceId)}`),
  /** The trace's spans and the response text (Download hands out exactly what the server sent). */
  traceWithText: async (traceId) => {
    const url = new URL(`api/v2/trace/${encodeURIComponent(traceId)}`, BASE);
    // index.html may have started this very request before any module loaded; use it once.
    const early = window.zipwirePrefetch;
    window.zipwirePrefetch = undefined;
    let response;
    try {
      response = early && early.traceId === traceId
        ? await early.response
        : await fetch(url, { headers: { Accept: 'application/json' } });
    } catch (err) {
      throw new ApiError(0, `Cannot reach the server (${err.message})`);
    }
    const text = await response.text();
    if (!response.ok) throw new ApiError(response.status, text.trim() || `${response.status} ${response.statusText}`);
    return { text, spans: JSON.parse(text) };
  },
  dependencies: (endTs, lookback) => getJson('api/v2/dependencies', { endTs, lookback }),
  /**
   * Lens's "Archive trace": fetches the trace again (the page's copy was cleaned for
   * display), tags its root span and POSTs it as JSON v2 to `postUrl`, typically another
   * Zipkin-compatible server's /api/v2/spans.
   */
  archiveTrace: async (traceId, postUrl) => {
    const spans = markArchived(await getJson(`api/v2/trace/${encodeURIComponent(traceId)}`));
    let response;
    try {
      response = await fetch(postUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(spans),
      });
    } catch (err) {
      throw new ApiError(0, `cannot reach ${postUrl} (${err.message})`);
    }
    if (!response.ok) {
      const text = (await response.text().catch(() => '')).trim();
      throw new ApiError(response.status, `${postUrl} answered ${response.status}${text ? `: ${text}` : ''}`);
    }
  },
};

/** Default UI settings when config.json leaves a key out (Zipkin's client defaults). */
export function withDefaults(config) {
  const dependency = config.dependency || {};
  // A rate of 0 is a setting (every error counts), not a missing key.
  const rate = (value, fallback) => (typeof value === 'number' && value >= 0 ? value : fallback);
  const url = (value) => (typeof value === 'string' && value.trim() ? value.trim() : null);
  return {
    environment: config.environment || '',
    queryLimit: config.queryLimit || 10,
    defaultLookback: config.defaultLookback || 15 * 60 * 1000,
    searchEnabled: config.searchEnabled !== false,
    logsUrl: url(config.logsUrl),
    supportUrl: url(config.supportUrl),
    archivePostUrl: url(config.archivePostUrl),
    archiveUrl: url(config.archiveUrl),
    dependency: {
      enabled: dependency.enabled !== false,
      lowErrorRate: rate(dependency.lowErrorRate, 0.5),
      highErrorRate: rate(dependency.highErrorRate, 0.75),
    },
  };
}

/** A URL template from config.json with the trace ID filled in (every `{traceId}`). */
export function withTraceId(template, traceId) {
  return template.split('{traceId}').join(encodeURIComponent(traceId));
}
