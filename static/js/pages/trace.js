// Trace page: header facts, a virtualised span-tree timeline (only the rows on screen are in
// the DOM, so 100,000-span traces scroll, collapse and select instantly), a mini-map with
// drag-to-zoom, find-in-trace, clock-skew badges with a raw-timings toggle, the critical
// path, the span detail panel, keyboard navigation, Download JSON, and the links that
// config.json asks for (View logs, Archive trace).

import { api, withTraceId } from '../api.js';
import {
  processTrace, buildRows, traceFacts, criticalPath, rowDetail, searchText, formatEndpoint,
} from '../model/trace.js';
import {
  h, esc, formatCount, formatDuration, formatTimestamp, formatRelative, serviceHue, serviceColor, plural,
  debounce,
} from '../util.js';

const ROW_HEIGHT = 26;
// Indentation per tree level: 14px, narrowed for deep traces so that the deepest rows keep
// at least LABEL_ROOM pixels for their names, but never below MIN_INDENT.
const INDENT = 14;
const MIN_INDENT = 4;
const LABEL_ROOM = 170;
const MAX_INDENT_LEVELS = 60;
const OVERSCAN = 12;

export function mount(container, ctx) {
  const alive = { value: true };
  container.append(h('p.loading', null, ctx.uploaded ? 'Opening file…' : 'Loading trace…'));
  performance.clearMarks();
  performance.clearMeasures();
  performance.mark('zipwire:trace-start');
  let cleanup = () => {};

  // Uploaded spans are cleaned in place when shown, so each visit parses the file text again.
  const load = ctx.uploaded
    ? Promise.resolve(ctx.uploads.current
      ? { text: ctx.uploads.current.text, spans: JSON.parse(ctx.uploads.current.text) }
      : null)
    : (ctx.prefetched(ctx.traceId) || api.traceWithText(ctx.traceId));
  load.then((loaded) => {
    if (!alive.value) return;
    if (loaded === null) {
      container.replaceChildren(uploadPrompt());
      return;
    }
    performance.mark('zipwire:trace-fetched');
    cleanup = showTrace(container, ctx, loaded.spans, loaded.text);
  }).catch((err) => {
    if (!alive.value) return;
    const message = err.status === 404 ? `No trace found with ID ${ctx.traceId}` : `Cannot load trace: ${err.message}`;
    container.replaceChildren(h('section.empty', null, h('h2', null, 'Trace not found'),
      h('p', null, message), h('p', null, h('a', { href: './', 'data-nav': true }, 'Back to search'))));
    ctx.toast(message);
  });
  return () => { alive.value = false; cleanup(); };
}

function uploadPrompt() {
  return h('div.upload-drop', null,
    h('h2', null, 'View a trace from a file'),
    h('p', null, 'Use Upload JSON in the header, or drop a file here. The file is read in your browser and never stored.'),
    h('p.hint', null, 'Expected: a JSON list of Zipkin v2 spans, as produced by Download JSON.'));
}

function showTrace(container, ctx, rawSpans, rawText) {
  if (!Array.isArray(rawSpans) || rawSpans.length === 0) {
    container.replaceChildren(h('section.empty', null, h('h2', null, 'Empty trace')));
    return () => {};
  }
  const model = processTrace(rawSpans);
  const rows = buildRows(model.root);
  const facts = traceFacts(rows);
  const { bounds } = rows;
  performance.mark('zipwire:trace-processed');

  const st = {
    raw: false,
    critical: false,
    criticalSegments: null,
    collapsed: new Uint8Array(rows.length),
    visible: null,
    selected: -1,
    matches: [],
    matchSet: null,
    matchPos: -1,
    view: null, // [start, end] in µs when zoomed
    indent: 0, // px per tree level, from the label column's width and the trace depth
  };
  const bound = () => (st.raw ? bounds.raw : bounds.adjusted);
  const rowTs = (r) => (st.raw ? r.rawTs : r.ts);
  const rowDur = (r) => (st.raw ? r.rawDur : r.dur);
  const viewWindow = () => {
    const b = bound();
    if (st.view) return st.view;
    return [b.start, b.start + Math.max(b.duration, 1)];
  };

  document.title = `${facts.rootService}: ${facts.rootName} · Zipwire`;

  // ---------- header ----------
  const b0 = bounds.adjusted;
  const copyId = h('button.btn.small', { type: 'button', title: 'Copy trace ID', onclick: () => copy(model.traceId) }, 'Copy');
  const legend = h('div.svc-legend', null, facts.services.map((s) => h('span.chip', {
    title: `Find spans of ${s.name}`, dataset: { service: s.name },
    onclick: () => { findInput.value = s.name; runFind(); },
  }, h('span.dot', { style: { background: serviceColor(s.name) } }), `${s.name} × ${s.count}`)));
  const head = h('div.trace-head', null,
    h('div.trace-title', null,
      facts.errorType !== 'none' ? h(`span.err-mark.${facts.errorType}`, null, 'ERROR') : null,
      h('h1#trace-title', null, h('span.svc', null, `${facts.rootService}: `), facts.rootName)),
    h('div.facts#trace-facts', null,
      h('span', null, 'Started ', h('b', { title: formatTimestamp(b0.start) }, formatRelative(b0.start)), ` · ${formatTimestamp(b0.start)}`),
      h('span', null, 'Duration ', h('b#fact-duration', null, formatDuration(b0.duration))),
      h('span', null, 'Services ', h('b#fact-services', null, String(facts.services.length))),
      h('span', null, 'Depth ', h('b#fact-depth', null, String(facts.depth))),
      h('span', null, 'Spans ', h('b#fact-spans', null, formatCount(facts.spanCount))),
      h('span', null, 'Trace ID ', h('span.mono#fact-trace-id', null, model.traceId), ' ', copyId)),
    legend);

  // ---------- toolbar ----------
  const collapseAll = h('button.btn.small#collapse-all', { type: 'button', title: 'Collapse every span with children' }, 'Collapse all');
  const expandAll = h('button.btn.small#expand-all', { type: 'button', title: 'Expand every span' }, 'Expand all');
  const criticalBtn = h('button.btn.small#toggle-critical', { type: 'button', 'aria-pressed': 'false', title: 'Highlight the spans that determine the trace duration (c)' }, 'Critical path');
  const rawBtn = h('button.btn.small#toggle-raw', { type: 'button', 'aria-pressed': 'false', disabled: model.skewed === 0 || undefined, title: model.skewed ? 'Show the timestamps as reported, without clock-skew correction (r)' : 'No clock skew was corrected in this trace' }, 'Raw timings');
  const skewNote = model.skewed
    ? h('span.skew-note#skew-note', { title: "Zipkin's rule: a server that appears to start before its client, on another host, is shifted so the network latency is split evenly" },
      `${plural(model.skewed, 'span')} corrected for clock skew`)
    : null;
  const findInput = h('input.find#find-input', { type: 'search', placeholder: 'Find service, span name, tag…  ( / )', 'aria-label': 'Find in trace', spellcheck: 'false' });
  const findCount = h('span.find-count#find-count');
  const prevBtn = h('button.btn.small.icon#find-prev', { type: 'button', title: 'Previous match (Shift+Enter)', 'aria-label': 'Previous match' }, '↑');
  const nextBtn = h('button.btn.small.icon#find-next', { type: 'button', title: 'Next match (Enter)', 'aria-label': 'Next match' }, '↓');
  const download = h('button.btn.small#download-json', { type: 'button', title: 'Download the raw spans as JSON' }, 'Download JSON');
  const { logsUrl, archivePostUrl, archiveUrl } = ctx.config;
  const logs = logsUrl
    ? h('a.btn.small#view-logs', { href: withTraceId(logsUrl, model.traceId), target: '_blank', rel: 'noopener noreferrer', title: 'Open the logs of this trace in a new tab' }, 'View logs')
    : null;
  // Archiving copies the trace as stored, so an uploaded file (not stored here) has none.
  const archive = archivePostUrl && !ctx.uploaded
    ? h('button.btn.small#archive-trace', { type: 'button', title: `Copy this trace to the archive (${archivePostUrl})` }, 'Archive trace')
    : null;
  const toolbar = h('div.toolbar', null, collapseAll, expandAll, h('span.sep'), criticalBtn, rawBtn, skewNote,
    h('span.sep'), findInput, prevBtn, nextBtn, findCount, h('div.spacer'), logs, archive, download);

  // ---------- minimap ----------
  const canvas = h('canvas');
  const brush = h('div.brush', { hidden: true });
  const windowBox = h('div.window', { hidden: true });
  const viewport = h('div.viewport');
  const minimap = h('div.minimap#minimap', { title: 'Drag to zoom into a time range; click to jump to a span' }, canvas, viewport, windowBox, brush);
  const resetZoom = h('button.btn.small#reset-zoom', { type: 'button', hidden: true }, 'Reset zoom');
  const zoomLabel = h('span#zoom-label');
  const minimapWrap = h('div.minimap-wrap', null,
    h('div.minimap-caption', null, h('span', null, 'Overview · drag to zoom, click to jump'), zoomLabel, resetZoom, h('div.spacer'),
      h('span', null, 'Keys: ↑ ↓ select · ← → collapse / expand · Enter toggle · / find · c critical path')),
    minimap);

  // ---------- timeline ----------
  const axis = h('div.axis');
  const ticks = h('div.ticks', null, h('div.label-head', null, 'Service: span'), axis);
  const spacer = h('div.rows-spacer');
  const scroller = h('div.rows#rows', { tabindex: 0, role: 'tree', 'aria-label': 'Spans' }, spacer);
  const timeline = h('div.timeline', { style: { '--label-w': 'clamp(300px, 36%, 560px)' } }, ticks, scroller);
  const detail = h('aside.detail#detail', { 'aria-label': 'Span details' });
  const body = h('div.trace-body', null, timeline, detail);

  const banner = ctx.uploaded && ctx.uploads.current
    ? h('div.banner#upload-banner', null, `Viewing ${ctx.uploads.current.name} from your computer; it is not stored on the server.`)
    : null;
  container.replaceChildren(h('div.trace', null, banner, head, toolbar, minimapWrap, body));

  // ---------- visibility ----------
  function computeVisible() {
    const out = new Int32Array(rows.length);
    let n = 0;
    for (let i = 0; i < rows.length;) {
      out[n] = i;
      n += 1;
      i = st.collapsed[i] ? rows[i].end : i + 1;
    }
    st.visible = out.subarray(0, n);
    spacer.style.height = `${n * ROW_HEIGHT}px`;
  }

  function positionOf(index) {
    let lo = 0;
    let hi = st.visible.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = st.visible[mid];
      if (v === index) return mid;
      if (v < index) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  }

  // ---------- rendering ----------
  const hueCache = new Map();
  const hue = (name) => {
    let value = hueCache.get(name);
    if (value === undefined) { value = serviceHue(name).toFixed(0); hueCache.set(name, value); }
    return value;
  };

  function rowHtml(index, position) {
    const r = rows[index];
    const [vs, ve] = viewWindow();
    const span = ve - vs;
    const classes = ['row'];
    if (index === st.selected) classes.push('selected');
    if (r.errorType !== 'none') classes.push('error');
    if (st.matchSet && st.matchSet[index]) classes.push('match');
    if (st.matchPos >= 0 && st.matches[st.matchPos] === index) classes.push('current');
    if (st.critical && !st.criticalSegments.has(index)) classes.push('dim');

    // Tree guides: a vertical line for each ancestor level whose subtree continues below.
    const levels = Math.min(r.depth, MAX_INDENT_LEVELS);
    const indent = st.indent;
    let guides = '';
    if (r.depth > 0) {
      let a = r.parent;
      for (let d = r.depth - 1; d >= 1; d -= 1) {
        if (d <= MAX_INDENT_LEVELS && !rows[a].last) guides += `<span class="guide" style="left:${d * indent - indent / 2 + 4}px"></span>`;
        a = rows[a].parent;
      }
      if (r.depth <= MAX_INDENT_LEVELS) {
        const x = r.depth * indent - indent / 2 + 4;
        guides += `<span class="guide${r.last ? ' half' : ''}" style="left:${x}px"></span><span class="elbow" style="left:${x}px;width:${indent / 2 + 2}px"></span>`;
      }
    }
    const hasKids = r.children.length > 0;
    const collapsed = st.collapsed[index] === 1;
    const toggle = `<button type="button" class="toggle${hasKids ? '' : ' leaf'}" tabindex="-1" aria-label="${collapsed ? 'Expand' : 'Collapse'}" data-toggle="1">${collapsed ? '▶' : '▼'}</button>`;
    const hidden = collapsed ? `<span class="kids">+${formatCount(r.end - index - 1)}</span>` : '';
    let badges = '';
    if (r.shift !== 0) {
      const shown = formatDuration(-r.shift);
      badges += `<span class="badge skew" title="Clock skew corrected: times on this host shifted by ${shown}${st.raw ? ' (showing raw timings)' : ''}">⇆ ${-r.shift > 0 ? '+' : ''}${shown}</span>`;
    }
    if (r.errorType === 'critical') badges += '<span class="badge err" title="error tag">error</span>';
    const label = `<div class="label" title="${esc(r.serviceName)}: ${esc(r.spanName)}" style="padding-left:${levels * indent + 6}px">${guides}${toggle}`
      + `<span class="swatch" style="background:hsl(${hue(r.serviceName)} var(--svc-s) var(--svc-l))"></span>`
      + `<span class="svc-name">${esc(r.serviceName)}</span><span class="span-name">${esc(r.spanName)}</span>${hidden}${badges}</div>`;

    let lane = '';
    const ts = rowTs(r);
    const dur = rowDur(r);
    if (ts && span > 0) {
      const left = ((ts - vs) / span) * 100;
      const width = (dur / span) * 100;
      if (left + width >= 0 && left <= 100) {
        const l = Math.max(left, 0);
        const w = Math.max(Math.min(left + width, 100) - l, 0);
        lane += `<div class="bar" style="left:${l}%;width:${w}%;background:hsl(${hue(r.serviceName)} var(--svc-s) var(--svc-l))"></div>`;
        if (st.critical) {
          for (const [from, to] of st.criticalSegments.get(index) || []) {
            const cl = Math.max(((from - vs) / span) * 100, 0);
            const cr = Math.min(((to - vs) / span) * 100, 100);
            if (cr > cl) lane += `<div class="cp" style="left:${cl}%;width:${cr - cl}%"></div>`;
          }
        }
        let count = 0;
        for (const node of r.nodes) {
          const s = st.raw ? node.raw : node.span;
          for (const a of s.annotations) {
            const x = ((a.timestamp - vs) / span) * 100;
            if (x < 0 || x > 100 || count > 40) continue;
            count += 1;
            lane += `<div class="ann${a.value === 'error' ? ' error' : ''}" style="left:${x}%" title="${esc(a.value)}"></div>`;
          }
        }
        lane += `<span class="dur" style="left:calc(${Math.min(l + w, 100)}% + 5px)">${dur ? esc(formatDuration(dur)) : '—'}</span>`;
      }
    }
    return `<div class="${classes.join(' ')}" role="treeitem" aria-level="${r.depth + 1}" aria-selected="${index === st.selected}"`
      + `${hasKids ? ` aria-expanded="${!collapsed}"` : ''} data-index="${index}" style="top:${position * ROW_HEIGHT}px">`
      + `${label}<div class="lane">${lane}</div></div>`;
  }

  let frame = 0;
  let painted = false;
  const renderTimes = [];
  // Widths come from the CSS rules (label column clamp(300px, 36%, 560px) of the timeline,
  // detail panel 420px or 340px) rather than from layout, so the first paint needs a
  // single layout pass.
  function labelWidth() {
    const timelineWidth = window.innerWidth - (window.innerWidth <= 1100 ? 340 : 420);
    return Math.min(560, Math.max(300, timelineWidth * 0.36));
  }
  function computeIndent() {
    const width = labelWidth();
    const levels = Math.min(Math.max(facts.depth - 1, 1), MAX_INDENT_LEVELS);
    st.indent = Math.max(MIN_INDENT, Math.min(INDENT, Math.floor((width - LABEL_ROOM) / levels)));
  }
  function renderRows() {
    frame = 0;
    const started = performance.now();
    if (!st.indent) computeIndent();
    // Before the first paint, reading the scroll position would force an extra layout of the
    // whole page; it is known to be the top, and the window height bounds what is visible.
    const top = painted ? scroller.scrollTop : 0;
    const height = painted ? scroller.clientHeight || 600 : window.innerHeight;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(st.visible.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    let html = '';
    for (let p = first; p < last; p += 1) html += rowHtml(st.visible[p], p);
    spacer.innerHTML = html;
    updateWindowBox();
    // The band on the mini-map marks the spans on screen (rows are drawn in tree order).
    // Hidden when every row fits on screen: there is nothing to locate.
    viewport.hidden = st.visible.length * ROW_HEIGHT <= height;
    if (!viewport.hidden && last > first) {
      const top = st.visible[Math.min(first + OVERSCAN, last - 1)];
      const bottom = st.visible[Math.max(last - 1 - OVERSCAN, first)];
      viewport.style.top = `${(top / rows.length) * 100}%`;
      viewport.style.height = `max(2px, ${((bottom - top + 1) / rows.length) * 100}%)`;
    }
    // Kept for the performance script: how long building the visible rows took.
    if (renderTimes.length >= 200) renderTimes.shift();
    renderTimes.push(performance.now() - started);
  }
  const scheduleRows = () => { if (!frame) frame = requestAnimationFrame(renderRows); };

  function renderAxis() {
    const [vs, ve] = viewWindow();
    const b = bound();
    const parts = [];
    for (let i = 0; i <= 4; i += 1) {
      const t = vs + ((ve - vs) * i) / 4;
      parts.push(`<span class="tick" style="left:${i * 25}%">${esc(formatDuration(Math.round(t - b.start)) || '0μs')}</span>`);
    }
    axis.innerHTML = parts.join('');
  }

  // ---------- minimap ----------
  let rowHues = null;
  function drawMinimap() {
    const rect = { width: Math.max(100, window.innerWidth - 38), height: 50 };
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.floor(rect.width * dpr));
    canvas.height = Math.max(1, Math.floor(rect.height * dpr));
    const g = canvas.getContext('2d');
    g.clearRect(0, 0, canvas.width, canvas.height);
    const b = bound();
    const total = Math.max(b.duration, 1);
    const style = getComputedStyle(document.documentElement);
    const sat = style.getPropertyValue('--svc-s').trim() || '60%';
    const light = style.getPropertyValue('--svc-l').trim() || '55%';
    const rowH = canvas.height / rows.length;
    const barH = Math.max(rowH, 1);
    // One pass per colour: one fillStyle change per service keeps 100k rows cheap.
    if (!rowHues) rowHues = rows.map((r) => hue(r.serviceName));
    for (const hueValue of new Set(rowHues)) {
      g.fillStyle = `hsl(${hueValue} ${sat} ${light})`;
      for (let i = 0; i < rows.length; i += 1) {
        if (rowHues[i] !== hueValue) continue;
        const r = rows[i];
        const ts = rowTs(r);
        if (!ts) continue;
        const x = ((ts - b.start) / total) * canvas.width;
        const w = Math.max((rowDur(r) / total) * canvas.width, 1);
        g.fillRect(x, i * rowH, w, barH);
      }
    }
    updateWindowBox();
  }

  function updateWindowBox() {
    const b = bound();
    if (!st.view) { windowBox.hidden = true; return; }
    const total = Math.max(b.duration, 1);
    windowBox.hidden = false;
    windowBox.style.left = `${((st.view[0] - b.start) / total) * 100}%`;
    windowBox.style.width = `${((st.view[1] - st.view[0]) / total) * 100}%`;
  }

  let dragStart = null;
  minimap.addEventListener('pointerdown', (event) => {
    const rect = minimap.getBoundingClientRect();
    dragStart = { x: event.clientX - rect.left, width: rect.width };
    minimap.setPointerCapture(event.pointerId);
    brush.hidden = false;
    brush.style.left = `${dragStart.x}px`;
    brush.style.width = '0px';
  });
  minimap.addEventListener('pointermove', (event) => {
    if (!dragStart) return;
    const rect = minimap.getBoundingClientRect();
    const x = Math.min(Math.max(event.clientX - rect.left, 0), rect.width);
    brush.style.left = `${Math.min(x, dragStart.x)}px`;
    brush.style.width = `${Math.abs(x - dragStart.x)}px`;
  });
  minimap.addEventListener('pointerup', (event) => {
    if (!dragStart) return;
    const rect = minimap.getBoundingClientRect();
    const x = Math.min(Math.max(event.clientX - rect.left, 0), rect.width);
    const from = Math.min(x, dragStart.x) / rect.width;
    const to = Math.max(x, dragStart.x) / rect.width;
    dragStart = null;
    brush.hidden = true;
    if (to - from < 0.005) {
      // A click: jump to the span drawn at that height.
      const index = Math.min(rows.length - 1, Math.floor(((event.clientY - rect.top) / rect.height) * rows.length));
      if (index >= 0) {
        reveal(index);
        select(index);
        scroller.focus({ preventScroll: true });
      }
      return;
    }
    const b = bound();
    const total = Math.max(b.duration, 1);
    setView([b.start + from * total, b.start + to * total]);
  });
  resetZoom.addEventListener('click', () => setView(null));

  function setView(view) {
    st.view = view;
    resetZoom.hidden = !view;
    zoomLabel.textContent = view ? `showing ${formatDuration(Math.round(view[0] - bound().start))} – ${formatDuration(Math.round(view[1] - bound().start))}` : '';
    renderAxis();
    renderRows();
  }

  // ---------- selection and detail ----------
  function select(index, { scroll = true } = {}) {
    st.selected = index;
    if (scroll && index >= 0) scrollToRow(index);
    renderRows();
    renderDetail();
  }

  function scrollToRow(index) {
    const pos = positionOf(index);
    if (pos < 0) return;
    const top = pos * ROW_HEIGHT;
    const height = scroller.clientHeight;
    if (top < scroller.scrollTop) scroller.scrollTop = top;
    else if (top + ROW_HEIGHT > scroller.scrollTop + height) scroller.scrollTop = top + ROW_HEIGHT - height;
  }

  function renderDetail() {
    if (st.selected < 0) {
      detail.replaceChildren(h('div.empty', null, h('p', null, 'Select a span to see its details.'),
        h('p.hint', null, 'Click a row, or use the arrow keys in the timeline.')));
      return;
    }
    const r = rows[st.selected];
    const b = bound();
    const info = rowDetail(r, st.raw, b.start);
    const ts = rowTs(r);
    const dur = rowDur(r);
    const badges = h('div.badges', null,
      r.kinds.map((k) => h('span.badge.kind', null, k)),
      r.nodes.length > 1 ? h('span.badge.kind', { title: 'Client and server halves reported with the same span ID, shown as one row' }, 'shared') : null,
      r.errorType !== 'none' ? h('span.badge.err', null, r.errorType === 'critical' ? 'error' : 'error annotation') : null,
      r.shift ? h('span.badge.skew', null, `⇆ skew ${-r.shift > 0 ? '+' : ''}${formatDuration(-r.shift)}`) : null,
      r.debug ? h('span.badge.kind', null, 'debug') : null);
    const kv = (pairs) => h('dl.kv', null, pairs.filter(Boolean).map(([k, v, mono]) => [h('dt', null, k), h(mono ? 'dd.mono' : 'dd', null, v)]));

    const endpoints = [];
    for (const node of r.nodes) {
      const s = node.span;
      const side = s.kind ? ` (${s.kind.toLowerCase()})` : '';
      if (s.localEndpoint) endpoints.push([`Local${side}`, formatEndpoint(s.localEndpoint), true]);
      if (s.remoteEndpoint) endpoints.push([`Remote${side}`, formatEndpoint(s.remoteEndpoint), true]);
    }
    const strip = h('div.ann-strip', null, info.annotations.map((a) => h(`span.mark${a.derived ? '.derived' : ''}`, {
      title: `${a.value} at +${formatDuration(a.relative)}`,
      style: { left: `${dur ? Math.min(Math.max(((a.timestamp - ts) / dur) * 100, 0), 100) : 0}%` },
    })));
    const skewSection = r.shift ? h('section#skew-detail', null, h('h3', null, 'Clock skew'),
      h('p', { style: { margin: 0, fontSize: '13px' } },
        `This span's host clock looked ${formatDuration(Math.abs(r.shift))} ${r.shift > 0 ? 'ahead of' : 'behind'} its caller's. `,
        st.raw ? 'Showing the times as reported.' : `Its times are shifted by ${-r.shift > 0 ? '+' : ''}${formatDuration(-r.shift)}; use Raw timings to see them as reported.`),
      kv([['Reported start', formatTimestamp(r.rawTs), true], ['Corrected start', formatTimestamp(r.ts), true]])) : null;

    detail.replaceChildren(...[
      h('div.detail-head', null,
        h('h2#detail-title', null, h('span.svc', { style: { color: serviceColor(r.serviceName) } }, r.serviceName), ': ', r.spanName),
        badges),
      h('section', null, kv([
        ['Span ID', r.spanId, true],
        ['Parent ID', r.parentId || 'none', true],
        ['Trace ID', model.traceId, true],
        ['Start', ts ? `+${formatDuration(ts - b.start) || '0μs'} · ${formatTimestamp(ts)}` : 'unknown'],
        ['Duration', dur ? formatDuration(dur) : 'unknown'],
        r.serviceNames.length > 1 ? ['Services', r.serviceNames.join(', ')] : null,
        ...endpoints,
      ])),
      skewSection,
      h('section#detail-annotations', null, h('h3', null, `Annotations (${info.annotations.length})`),
        info.annotations.length ? [strip, h('table.data', null, h('tbody', null, info.annotations.map((a) => h(`tr${a.derived ? '.derived' : ''}`, null,
          h('td.t', null, `+${formatDuration(a.relative) || '0μs'}`),
          h('td', null, a.value, h('span.host', { title: formatTimestamp(a.timestamp) }, a.host))))))]
          : h('p.hint', null, 'None')),
      h('section#detail-tags', null, h('h3', null, `Tags (${info.tags.length})`),
        info.tags.length ? h('table.data', null, h('tbody', null, info.tags.map((t) => h('tr', { dataset: { key: t.rawKey || t.key } },
          h('td.k', null, t.key, t.hosts && t.hosts.length > 1 ? h('span.host', null, t.hosts.join(', ')) : null),
          h('td.v', null, t.value)))))
          : h('p.hint', null, 'None')),
      h('section', null, rawJson(r)),
    ].filter(Boolean));
  }

  // The span's JSON is only serialised when someone opens it.
  function rawJson(r) {
    const pre = h('pre.mono', { style: { whiteSpace: 'pre-wrap', wordBreak: 'break-all', fontSize: '11.5px' } });
    const details = h('details', null, h('summary', null, 'Raw JSON'), pre);
    details.addEventListener('toggle', () => {
      if (details.open && !pre.textContent) pre.textContent = JSON.stringify(r.nodes.map((n) => n.raw), null, 2);
    });
    return details;
  }

  // ---------- collapse ----------
  function toggle(index, open) {
    const r = rows[index];
    if (!r.children.length) return;
    st.collapsed[index] = open === undefined ? (st.collapsed[index] ? 0 : 1) : open ? 0 : 1;
    computeVisible();
    renderRows();
  }
  collapseAll.addEventListener('click', () => {
    for (let i = 0; i < rows.length; i += 1) st.collapsed[i] = rows[i].children.length ? 1 : 0;
    computeVisible();
    if (st.selected >= 0 && positionOf(st.selected) < 0) {
      let a = st.selected;
      while (rows[a].parent >= 0 && positionOf(a) < 0) a = rows[a].parent;
      st.selected = a;
      renderDetail();
    }
    scroller.scrollTop = 0;
    renderRows();
  });
  expandAll.addEventListener('click', () => {
    st.collapsed.fill(0);
    computeVisible();
    if (st.selected >= 0) scrollToRow(st.selected);
    renderRows();
  });

  function reveal(index) {
    let changed = false;
    for (let a = rows[index].parent; a >= 0; a = rows[a].parent) {
      if (st.collapsed[a]) { st.collapsed[a] = 0; changed = true; }
    }
    if (changed) computeVisible();
  }

  // ---------- toggles ----------
  function setCritical(on) {
    st.critical = on;
    criticalBtn.setAttribute('aria-pressed', String(on));
    st.criticalSegments = on ? criticalPath(rows, st.raw) : null;
    renderRows();
  }
  criticalBtn.addEventListener('click', () => setCritical(!st.critical));
  function setRaw(on) {
    if (model.skewed === 0) return;
    st.raw = on;
    rawBtn.setAttribute('aria-pressed', String(on));
    st.view = null;
    resetZoom.hidden = true;
    zoomLabel.textContent = '';
    if (st.critical) st.criticalSegments = criticalPath(rows, st.raw);
    document.getElementById('fact-duration').textContent = formatDuration(bound().duration);
    renderAxis();
    drawMinimap();
    renderRows();
    renderDetail();
  }
  rawBtn.addEventListener('click', () => setRaw(!st.raw));

  // ---------- find ----------
  let texts = null;
  let lastQuery = '';
  function runFind() {
    const q = findInput.value.trim().toLowerCase();
    lastQuery = q;
    st.matches = [];
    st.matchPos = -1;
    st.matchSet = null;
    if (q) {
      if (!texts) texts = rows.map((r) => searchText(r));
      st.matchSet = new Uint8Array(rows.length);
      for (let i = 0; i < rows.length; i += 1) {
        if (texts[i].includes(q)) { st.matches.push(i); st.matchSet[i] = 1; }
      }
    }
    findCount.textContent = q ? (st.matches.length ? `${plural(st.matches.length, 'match', 'matches')}` : 'no matches') : '';
    if (st.matches.length) gotoMatch(0);
    else renderRows();
  }
  function gotoMatch(pos) {
    if (!st.matches.length) return;
    st.matchPos = (pos + st.matches.length) % st.matches.length;
    const index = st.matches[st.matchPos];
    findCount.textContent = `${st.matchPos + 1} of ${st.matches.length}`;
    reveal(index);
    select(index);
  }
  const findLater = debounce(runFind, 150);
  findInput.addEventListener('input', findLater);
  findInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      findLater.cancel();
      // Typed faster than the debounce: search for what is in the box before moving on.
      if (findInput.value.trim().toLowerCase() !== lastQuery || !st.matches.length) runFind();
      else gotoMatch(st.matchPos + (event.shiftKey ? -1 : 1));
    } else if (event.key === 'Escape') {
      findInput.value = '';
      runFind();
      scroller.focus();
    }
  });
  nextBtn.addEventListener('click', () => gotoMatch(st.matchPos + 1));
  prevBtn.addEventListener('click', () => gotoMatch(st.matchPos - 1));

  // ---------- mouse and keyboard ----------
  spacer.addEventListener('click', (event) => {
    const rowEl = event.target.closest('.row');
    if (!rowEl) return;
    const index = Number(rowEl.dataset.index);
    if (event.target.closest('[data-toggle]')) toggle(index);
    else select(index, { scroll: false });
    scroller.focus({ preventScroll: true });
  });
  scroller.addEventListener('scroll', scheduleRows, { passive: true });

  scroller.addEventListener('keydown', (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const pos = st.selected >= 0 ? positionOf(st.selected) : -1;
    const page = Math.max(1, Math.floor(scroller.clientHeight / ROW_HEIGHT) - 1);
    const go = (p) => select(st.visible[Math.min(Math.max(p, 0), st.visible.length - 1)]);
    const r = st.selected >= 0 ? rows[st.selected] : null;
    switch (event.key) {
      case 'ArrowDown': go(pos + 1); break;
      case 'ArrowUp': go(pos < 0 ? 0 : pos - 1); break;
      case 'PageDown': go(pos + page); break;
      case 'PageUp': go(pos - page); break;
      case 'Home': go(0); break;
      case 'End': go(st.visible.length - 1); break;
      case 'ArrowRight':
        if (!r) go(0);
        else if (r.children.length && st.collapsed[r.index]) toggle(r.index, true);
        else if (r.children.length) select(r.children[0]);
        break;
      case 'ArrowLeft':
        if (!r) go(0);
        else if (r.children.length && !st.collapsed[r.index]) toggle(r.index, false);
        else if (r.parent >= 0) select(r.parent);
        break;
      case 'Enter': case ' ':
        if (r) toggle(r.index);
        break;
      default: return;
    }
    event.preventDefault();
  });

  function onGlobalKey(event) {
    const target = event.target;
    const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === '/') { event.preventDefault(); findInput.focus(); findInput.select(); }
    else if (event.key === 'c') setCritical(!st.critical);
    else if (event.key === 'r') setRaw(!st.raw);
    else if (event.key === 'Escape' && st.view) setView(null);
  }
  document.addEventListener('keydown', onGlobalKey);

  download.addEventListener('click', () => {
    // The text as received: the spans themselves were cleaned in place for display.
    const blob = new Blob([rawText], { type: 'application/json' });
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: `${model.traceId}.json` });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });

  if (archive) {
    archive.addEventListener('click', async () => {
      archive.disabled = true;
      try {
        await api.archiveTrace(model.traceId, archivePostUrl);
        if (archiveUrl) {
          const link = withTraceId(archiveUrl, model.traceId);
          // Kept until dismissed: the user may want to copy or follow the link.
          ctx.toast(h('span', null, 'Trace archived: ', h('a#archive-link', { href: link, target: '_blank', rel: 'noopener noreferrer' }, link)),
            'info', { sticky: true });
        } else {
          ctx.toast('Trace archived', 'info');
        }
      } catch (err) {
        ctx.toast(`Failed to archive trace: ${err.message}`);
      } finally {
        archive.disabled = false;
      }
    });
  }

  function copy(text) {
    const done = () => ctx.toast('Trace ID copied', 'info');
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, () => {});
    else {
      const area = h('textarea', { style: { position: 'fixed', opacity: '0' } }, text);
      document.body.appendChild(area);
      area.select();
      try { document.execCommand('copy'); done(); } catch { /* nothing to do */ }
      area.remove();
    }
  }

  const onResize = debounce(() => { drawMinimap(); computeIndent(); renderRows(); }, 100);
  const onTheme = () => drawMinimap();
  window.addEventListener('resize', onResize);
  window.addEventListener('themechange', onTheme);

  // ---------- first paint ----------
  computeVisible();
  renderAxis();
  renderRows();
  renderDetail();
  drawMinimap();
  requestAnimationFrame(() => {
    painted = true;
    // A task queued from the frame callback runs once that frame is painted.
    setTimeout(() => performance.mark('zipwire:trace-painted'), 0);
  });
  performance.mark('zipwire:trace-rendered');
  performance.measure('zipwire:process', 'zipwire:trace-fetched', 'zipwire:trace-processed');
  performance.measure('zipwire:render', 'zipwire:trace-processed', 'zipwire:trace-rendered');
  performance.measure('zipwire:total', 'zipwire:trace-start', 'zipwire:trace-rendered');
  container.dataset.ready = 'true';
  // Focusing needs layout; in the next frame it shares the layout the paint does anyway.
  requestAnimationFrame(() => scroller.focus({ preventScroll: true }));

  // For the browser tests and the performance script: a handle on the page state.
  window.zipwireTrace = {
    rows: rows.length,
    visible: () => st.visible.length,
    select: (index) => select(index),
    toggle: (index) => toggle(index),
    collapseAll: () => collapseAll.click(),
    expandAll: () => expandAll.click(),
    renderTimes: () => renderTimes.slice(0),
  };

  return () => {
    document.removeEventListener('keydown', onGlobalKey);
    window.removeEventListener('resize', onResize);
    window.removeEventListener('themechange', onTheme);
    findLater.cancel();
    onResize.cancel();
    if (frame) cancelAnimationFrame(frame);
    delete window.zipwireTrace;
  };
}
