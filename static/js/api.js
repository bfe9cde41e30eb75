// Calls to Zipkin's /api/v2, relative to the UI's base path (the server mounts the API
// under /zipkin/api/v2 as Zipkin does), and the UI configuration.

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
};

/** Default UI settings when config.json leaves a key out (Zipkin's client defaults). */
export function withDefaults(config) {
  return {
    environment: config.environment || '',
    queryLimit: config.queryLimit || 10,
    defaultLookback: config.defaultLookback || 15 * 60 * 1000,
    searchEnabled: config.searchEnabled !== false,
    dependency: {
      enabled: !config.dependency || config.dependency.enabled !== false,
      lowErrorRate: (config.dependency && config.dependency.lowErrorRate) || 0.5,
      highErrorRate: (config.dependency && config.dependency.highErrorRate) || 0.75,
    },
  };
}
