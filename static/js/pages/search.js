// Search page: the query form (service, remote service, span name, tags with autocomplete,
// durations with units, lookback or range, limit) kept entirely in the URL, and the result
// list with relative duration bars, per-service span counts and error markers.

import { api } from '../api.js';
import { summarize } from '../model/trace.js';
import {
  h, formatCount, formatDuration, parseDuration, formatTimestamp, formatRelative, toLocalInput,
  fromLocalInput, serviceColor, plural, debounce,
} from '../util.js';

const LOOKBACKS = [
  ['1m', 'Last minute', 60e3], ['5m', 'Last 5 minutes', 300e3], ['15m', 'Last 15 minutes', 900e3],
  ['30m', 'Last 30 minutes', 1800e3], ['1h', 'Last hour', 3600e3], ['2h', 'Last 2 hours', 7200e3],
  ['3h', 'Last 3 hours', 10800e3], ['6h', 'Last 6 hours', 21600e3], ['12h', 'Last 12 hours', 43200e3],
  ['1d', 'Last day', 86400e3], ['2d', 'Last 2 days', 172800e3], ['7d', 'Last 7 days', 604800e3],
];

const SORTS = {
  newest: ['Newest first', (a, b) => b.timestamp - a.timestamp],
  oldest: ['Oldest first', (a, b) => a.timestamp - b.timestamp],
  longest: ['Longest first', (a, b) => b.duration - a.duration],
  shortest: ['Shortest first', (a, b) => a.duration - b.duration],
};

/** The lookback preset matching a number of milliseconds, if any. */
function presetFor(ms) {
  const found = LOOKBACKS.find(([, , value]) => value === ms);
  return found ? found[0] : undefined;
}

/** Turns the URL's query into API parameters, or throws an Error naming the bad field. */
export function apiQuery(params, config, nowMs = Date.now()) {
  const query = {};
  for (const key of ['serviceName', 'remoteServiceName', 'spanName', 'annotationQuery']) {
    const value = (params.get(key) || '').trim();
    if (value) query[key] = value;
  }
  const min = parseDuration(params.get('minDuration'));
  const max = parseDuration(params.get('maxDuration'));
  if (Number.isNaN(min)) throw new Error('Min duration is not a duration (try 10ms, 1.5s or 250us)');
  if (Number.isNaN(max)) throw new Error('Max duration is not a duration (try 10ms, 1.5s or 250us)');
  if (max !== undefined && min === undefined) throw new Error('Max duration needs a min duration');
  if (min !== undefined && max !== undefined && max < min) throw new Error('Max duration is less than min duration');
  if (min !== undefined) query.minDuration = Math.max(1, min);
  if (max !== undefined) query.maxDuration = max;

  const lookback = params.get('lookback') || presetFor(config.defaultLookback) || 'millis';
  if (lookback === 'range') {
    const start = Number(params.get('startTs'));
    const end = Number(params.get('endTs')) || nowMs;
    if (!start || start >= end) throw new Error('The time range needs a start before its end');
    query.endTs = end;
    query.lookback = end - start;
  } else {
    const preset = LOOKBACKS.find(([key]) => key === lookback);
    const ms = preset ? preset[2] : Number(params.get('millis')) || config.defaultLookback;
    query.endTs = Number(params.get('endTs')) || nowMs;
    query.lookback = ms;
  }
  const limit = Number(params.get('limit')) || config.queryLimit;
  if (!Number.isInteger(limit) || limit <= 0) throw new Error('Limit must be a positive whole number');
  query.limit = limit;
  return query;
}

function option(value, label, selected) {
  return h('option', { value, selected: selected || undefined }, label);
}

export function mount(container, ctx) {
  const { config, params, navigate } = ctx;
  const state = { alive: true };

  if (!config.searchEnabled) {
    container.append(h('section.empty', null, h('h2', null, 'Search is disabled'),
      h('p', null, 'Searching has been disabled via the SEARCH_ENABLED setting. You can still open a trace by its ID or upload a file.')));
    return () => {};
  }

  const get = (key) => params.get(key) || '';
  const service = h('select#f-service', { name: 'serviceName', 'aria-label': 'Service' }, option('', 'All services'));
  const remote = h('select#f-remote', { name: 'remoteServiceName', 'aria-label': 'Remote service' }, option('', 'Any'));
  const spanName = h('select#f-span', { name: 'spanName', 'aria-label': 'Span name' }, option('', 'Any'));
  const tagList = h('datalist#f-tag-options');
  const tags = h('input#f-tags', {
    type: 'text', name: 'annotationQuery', value: get('annotationQuery'), list: 'f-tag-options',
    placeholder: 'error and http.method=POST', autocomplete: 'off', spellcheck: 'false',
  });
  const minDuration = h('input#f-min', { type: 'text', name: 'minDuration', value: get('minDuration'), placeholder: 'e.g. 10ms' });
  const maxDuration = h('input#f-max', { type: 'text', name: 'maxDuration', value: get('maxDuration'), placeholder: 'e.g. 1.5s' });
  const lookbackValue = get('lookback') || presetFor(config.defaultLookback) || 'millis';
  const lookback = h('select#f-lookback', { name: 'lookback' },
    LOOKBACKS.map(([key, label]) => option(key, label, key === lookbackValue)),
    lookbackValue === 'millis' ? option('millis', `Last ${formatDuration((Number(get('millis')) || config.defaultLookback) * 1000)}`, true) : null,
    option('range', 'Custom range…', lookbackValue === 'range'));
  const now = Date.now();
  const startInput = h('input#f-start', { type: 'datetime-local', value: toLocalInput(Number(get('startTs')) || now - 3600e3) });
  const endInput = h('input#f-end', { type: 'datetime-local', value: toLocalInput(Number(get('endTs')) || now) });
  const range = h('div.range', { hidden: lookbackValue !== 'range' },
    h('label.field', null, 'From', startInput), h('label.field', null, 'To', endInput));
  const limit = h('input#f-limit', { type: 'number', name: 'limit', min: 1, max: 10000, value: get('limit') || config.queryLimit });
  const form = h('form.search-form.card', { id: 'search-form' },
    h('label.field.wide', null, 'Service', service),
    h('label.field', null, 'Remote service', remote),
    h('label.field.wide', null, 'Span name', spanName),
    h('label.field', null, 'Limit', limit),
    h('label.field.tags', null, 'Tags and annotations', tags, tagList),
    h('label.field', null, 'Min duration', minDuration),
    h('label.field', null, 'Max duration', maxDuration),
    h('label.field', null, 'Time', lookback),
    range,
    h('div.actions', null, h('button.btn.primary', { type: 'submit', id: 'run-query' }, 'Run query')),
  );
  const status = h('div.results-status');
  const sortSelect = h('select#f-sort', { 'aria-label': 'Sort results' },
    Object.entries(SORTS).map(([key, [label]]) => option(key, label, key === (get('sort') || 'newest'))));
  const heading = h('h2#results-title', null, '');
  const resultsHead = h('div.results-head', { hidden: true }, heading, h('span.hint#results-window'), h('div.spacer'), sortSelect);
  const list = h('div.results.card', { hidden: true });
  container.append(h('div.search', null, form, status, resultsHead, list));

  // ---- pickers filled from the API ----
  const fill = (select, names, selected, first) => {
    select.replaceChildren(option('', first), ...names.map((n) => option(n, n, n === selected)));
    if (selected && !names.includes(selected)) select.append(option(selected, selected, true));
  };
  api.services().then((names) => {
    if (!state.alive) return;
    fill(service, names, get('serviceName'), 'All services');
    loadServiceNames(get('serviceName'), get('spanName'), get('remoteServiceName'));
  }).catch((err) => ctx.toast(`Cannot load services: ${err.message}`));

  function loadServiceNames(name, selectedSpan, selectedRemote) {
    remote.disabled = !name;
    spanName.disabled = !name;
    fill(remote, [], selectedRemote, 'Any');
    fill(spanName, [], selectedSpan, 'Any');
    if (!name) return;
    api.spanNames(name).then((names) => state.alive && fill(spanName, names, selectedSpan, 'Any')).catch(() => {});
    api.remoteServices(name).then((names) => state.alive && fill(remote, names, selectedRemote, 'Any')).catch(() => {});
  }
  service.addEventListener('change', () => loadServiceNames(service.value, '', ''));

  // ---- tag autocomplete from AUTOCOMPLETE_KEYS ----
  let keys = [];
  api.autocompleteKeys().then((k) => { keys = k; suggest(); });
  const suggest = debounce(async () => {
    const value = tags.value;
    const cut = value.lastIndexOf(' and ');
    const prefix = cut >= 0 ? value.slice(0, cut + 5) : '';
    const term = (cut >= 0 ? value.slice(cut + 5) : value).trimStart();
    let options = [];
    if (term.includes('=')) {
      const key = term.slice(0, term.indexOf('=')).trim();
      if (keys.includes(key)) options = (await api.autocompleteValues(key)).map((v) => `${prefix}${key}=${v}`);
    } else {
      options = [...keys, 'error'].filter((k) => k.startsWith(term)).map((k) => `${prefix}${k}`);
      options = options.concat(keys.filter((k) => k.startsWith(term)).map((k) => `${prefix}${k}=`));
    }
    if (!state.alive) return;
    tagList.replaceChildren(...options.slice(0, 200).map((v) => h('option', { value: v })));
  }, 120);
  tags.addEventListener('input', suggest);
  tags.addEventListener('focus', suggest);

  // ---- validation and submit ----
  const checkDuration = (input) => {
    input.classList.toggle('invalid', Number.isNaN(parseDuration(input.value)));
  };
  for (const input of [minDuration, maxDuration]) input.addEventListener('input', () => checkDuration(input));
  lookback.addEventListener('change', () => { range.hidden = lookback.value !== 'range'; });
  sortSelect.addEventListener('change', () => {
    const next = new URLSearchParams(window.location.search);
    next.set('sort', sortSelect.value);
    window.history.replaceState(null, '', `?${next}`);
    renderResults();
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    const set = (key, value) => { if (value !== '' && value !== undefined && value !== null) next.set(key, value); };
    set('serviceName', service.value);
    if (service.value) {
      set('remoteServiceName', remote.value);
      set('spanName', spanName.value);
    }
    set('annotationQuery', tags.value.trim());
    set('minDuration', minDuration.value.trim());
    set('maxDuration', maxDuration.value.trim());
    set('lookback', lookback.value);
    if (lookback.value === 'range') {
      set('startTs', fromLocalInput(startInput.value));
      set('endTs', fromLocalInput(endInput.value));
    } else if (lookback.value === 'millis') {
      set('millis', get('millis') || config.defaultLookback);
    }
    if (Number(limit.value) !== config.queryLimit) set('limit', limit.value);
    if (sortSelect.value !== 'newest') set('sort', sortSelect.value);
    navigate(`?${next}`);
  });

  // ---- run the query in the URL ----
  let summaries = [];
  let query;
  try {
    query = apiQuery(params, config);
  } catch (err) {
    status.replaceChildren(h('div.error-box', null, err.message));
    return () => { state.alive = false; };
  }
  status.replaceChildren(h('p.loading', null, 'Searching…'));
  api.traces(query).then((traces) => {
    if (!state.alive) return;
    summaries = traces.filter((t) => t.length).map((t) => summarize(t));
    status.replaceChildren();
    renderResults();
  }).catch((err) => {
    if (!state.alive) return;
    status.replaceChildren(h('div.error-box', null, `Search failed: ${err.message}`));
  });

  function renderResults() {
    const sort = SORTS[sortSelect.value] || SORTS.newest;
    const sorted = summaries.slice(0).sort(sort[1]);
    resultsHead.hidden = false;
    heading.textContent = plural(sorted.length, 'trace');
    const from = query.endTs - query.lookback;
    document.getElementById('results-window').textContent =
      `${formatTimestamp(from * 1000).slice(0, 16)} → ${formatTimestamp(query.endTs * 1000).slice(0, 16)}`;
    if (sorted.length === 0) {
      list.hidden = false;
      list.replaceChildren(h('div.empty', null, 'No traces match. Widen the time range or remove criteria.'));
      return;
    }
    const longest = Math.max(1, ...sorted.map((s) => s.duration));
    const nowMs = Date.now();
    list.hidden = false;
    list.replaceChildren(
      h('div.results-table-head', null, h('span', null, 'Root'), h('span', null, 'Start time'), h('span', null, 'Duration'), h('span.count', null, 'Spans')),
      ...sorted.map((s) => resultRow(s, longest, nowMs)),
    );
  }

  function resultRow(s, longest, nowMs) {
    const shown = s.services.slice(0, 8);
    const error = s.errorType !== 'none';
    return h(`a.result${error ? '.error' : ''}`, { href: `traces/${s.traceId}`, 'data-nav': true, dataset: { traceId: s.traceId } },
      h('div', null,
        h('div.root', null,
          error ? h(`span.err-mark.${s.errorType}`, { title: s.errorType === 'critical' ? 'A span has an error tag' : 'A span has an error annotation' }, 'ERROR') : null,
          h('span.svc', null, `${s.rootService}: `), s.rootName,
          h('span.trace-id', null, s.traceId)),
        h('div.chips', null, shown.map((svc) => h('span.chip', { title: `${svc.name}: ${plural(svc.count, 'span')}` },
          h('span.dot', { style: { background: serviceColor(svc.name) } }), `${svc.name} × ${svc.count}`)),
        s.services.length > shown.length ? h('span.chip', null, `+${s.services.length - shown.length} more`) : null)),
      h('div.when', null, formatRelative(s.timestamp, nowMs), h('span.abs', null, formatTimestamp(s.timestamp))),
      h('div', null, h('span.mono', null, formatDuration(s.duration)),
        h('div.dur-bar', { style: { width: `${Math.max(1, (s.duration / longest) * 100).toFixed(1)}%` } })),
      h('div.count', null, formatCount(s.spanCount)));
  }

  return () => { state.alive = false; suggest.cancel(); };
}

