// Dependencies page: the service graph for a time range, laid out left to right by dagre
// (vendored, MIT), edge thickness by call count and colour by error rate. Clicking a
// service focuses the graph on it and lists whom it calls and who calls it, with counts.

import dagre from '../../vendor/dagre/dagre.esm.js';
import { api } from '../api.js';
import { h, toLocalInput, fromLocalInput, plural, formatCount } from '../util.js';

const SVG = 'http://www.w3.org/2000/svg';

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Colour class of an edge from its error rate and the configured thresholds. */
export function errorLevel(link, low, high) {
  const rate = link.callCount ? (link.errorCount || 0) / link.callCount : 0;
  if (rate === 0) return 'ok';
  if (rate >= high) return 'high';
  if (rate >= low) return 'medium';
  return 'low';
}

/** 0.3 → "30%" (rounded to a tenth, so floating-point noise never shows). */
function percent(rate) {
  return `${Math.round(rate * 1000) / 10}%`;
}

const LEVEL_COLOURS = { ok: 'var(--faint)', low: '#e0a800', medium: '#f07c00', high: 'var(--error)' };

export function mount(container, ctx) {
  const { params, config } = ctx;
  const alive = { value: true };
  const now = Date.now();
  const endMs = Number(params.get('endTime')) || now;
  const startMs = Number(params.get('startTime')) || endMs - 86400e3;

  const startInput = h('input#dep-start', { type: 'datetime-local', value: toLocalInput(startMs) });
  const endInput = h('input#dep-end', { type: 'datetime-local', value: toLocalInput(endMs) });
  const filter = h('select#dep-filter', { 'aria-label': 'Focus a service' }, h('option', { value: '' }, 'All services'));
  const stats = h('span.stats#dep-stats');
  const form = h('form.deps-bar', null,
    h('label.field', null, 'From', startInput),
    h('label.field', null, 'To', endInput),
    h('button.btn.primary', { type: 'submit', id: 'dep-run' }, 'Show dependencies'),
    h('label.field', null, 'Focus', filter),
    stats);
  const graph = h('div.graph#dep-graph');
  const panel = h('aside.dep-panel#dep-panel', { hidden: true });
  container.append(h('div.deps', null, form, h('div.deps-body', null, graph, panel)));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const start = fromLocalInput(startInput.value);
    const end = fromLocalInput(endInput.value);
    if (!(start < end)) {
      ctx.toast('The start of the range must be before its end');
      return;
    }
    ctx.navigate(`dependency?startTime=${start}&endTime=${end}`);
  });

  let links = [];
  let selected = params.get('service') || '';
  graph.replaceChildren(h('p.loading', null, 'Loading dependencies…'));
  api.dependencies(endMs, Math.max(1, endMs - startMs)).then((data) => {
    if (!alive.value) return;
    links = data;
    const services = [...new Set(links.flatMap((l) => [l.parent, l.child]))].sort();
    filter.replaceChildren(h('option', { value: '' }, 'All services'), ...services.map((name) => h('option', { value: name, selected: name === selected || undefined }, name)));
    const calls = links.reduce((sum, l) => sum + l.callCount, 0);
    stats.textContent = `${plural(services.length, 'service')} · ${plural(links.length, 'link')} · ${plural(calls, 'call')}`;
    draw();
  }).catch((err) => {
    if (!alive.value) return;
    graph.replaceChildren(h('div.error-box', { style: { margin: '18px' } }, `Cannot load dependencies: ${err.message}`));
  });

  filter.addEventListener('change', () => choose(filter.value));

  let view = { x: 0, y: 0, k: 1 };
  let svg;
  let root;
  let layout;

  // With a service chosen, only its neighbourhood is laid out: a whole-system graph of
  // dozens of services is a picture, a service's callers and callees are an answer.
  function draw() {
    if (links.length === 0) {
      graph.replaceChildren(h('div.empty', null, h('h2', null, 'No dependencies'),
        h('p', null, 'No service called another in this time range.')));
      return;
    }
    const shown = selected ? links.filter((l) => l.parent === selected || l.child === selected) : links;
    const g = new dagre.graphlib.Graph({ multigraph: false });
    g.setGraph({ rankdir: 'LR', nodesep: 28, ranksep: 110, marginx: 30, marginy: 30 });
    g.setDefaultEdgeLabel(() => ({}));
    const names = [...new Set(shown.flatMap((l) => [l.parent, l.child]))];
    if (selected && !names.includes(selected)) names.push(selected);
    for (const name of names) g.setNode(name, { label: name, width: Math.max(90, name.length * 7.6 + 28), height: 34 });
    for (const link of shown) {
      if (link.parent !== link.child) g.setEdge(link.parent, link.child, { link, labelpos: 'c', width: 40, height: 14 });
    }
    dagre.layout(g);
    layout = g;
    const maxCalls = Math.max(...shown.map((l) => l.callCount), 1);
    const edgeEls = [];
    const nodeEls = [];
    for (const e of g.edges()) {
      const { points, link } = g.edge(e);
      const d = points.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
      const level = errorLevel(link, config.dependency.lowErrorRate, config.dependency.highErrorRate);
      const width = 1.2 + 5 * Math.sqrt(link.callCount / maxCalls);
      const mid = points[Math.floor(points.length / 2)];
      const label = link.errorCount ? `${link.callCount} (${link.errorCount} err)` : String(link.callCount);
      edgeEls.push(s('g', { class: 'edge', 'data-parent': link.parent, 'data-child': link.child },
        s('title', null, `${link.parent} → ${link.child}: ${plural(link.callCount, 'call')}, ${plural(link.errorCount || 0, 'error')}`),
        s('path', { d, stroke: LEVEL_COLOURS[level], 'stroke-width': width.toFixed(2), 'marker-end': `url(#arrow-${level})` }),
        s('text', { x: mid.x, y: mid.y - 6, 'text-anchor': 'middle' }, label)));
    }
    for (const link of shown.filter((l) => l.parent === l.child)) {
      const n = g.node(link.parent);
      const level = errorLevel(link, config.dependency.lowErrorRate, config.dependency.highErrorRate);
      const x = n.x + n.width / 2 - 14;
      const y = n.y - n.height / 2;
      edgeEls.push(s('g', { class: 'edge', 'data-parent': link.parent, 'data-child': link.child },
        s('title', null, `${link.parent} → itself: ${plural(link.callCount, 'call')}`),
        s('path', { d: `M${x},${y} C${x + 10},${y - 30} ${x + 34},${y - 10} ${x + 14},${y + 6}`, stroke: LEVEL_COLOURS[level], 'stroke-width': 1.6 }),
        s('text', { x: x + 26, y: y - 16 }, String(link.callCount))));
    }
    for (const name of g.nodes()) {
      const n = g.node(name);
      nodeEls.push(s('g', {
        class: 'node', 'data-service': name, transform: `translate(${n.x - n.width / 2},${n.y - n.height / 2})`,
        onclick: (event) => { event.stopPropagation(); choose(name === selected ? '' : name); },
      },
      s('title', null, name),
      s('rect', { width: n.width, height: n.height, rx: 7 }),
      s('text', { x: n.width / 2, y: n.height / 2 + 4.5, 'text-anchor': 'middle' }, name)));
    }
    const defs = s('defs', null, Object.entries(LEVEL_COLOURS).map(([level, colour]) =>
      s('marker', { id: `arrow-${level}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, orient: 'auto-start-reverse', markerUnits: 'userSpaceOnUse' },
        s('path', { d: 'M0,0 L10,5 L0,10 z', fill: colour }))));
    root = s('g', null, edgeEls, nodeEls);
    svg = s('svg', { role: 'img', 'aria-label': 'Service dependency graph' }, defs, root);
    const legend = h('div.graph-legend', null,
      h('span', null, h('i', { style: { background: LEVEL_COLOURS.ok } }), 'no errors'),
      h('span', null, h('i', { style: { background: LEVEL_COLOURS.low } }), 'some errors'),
      // A rate above 1 turns its colour off (Zipkin's convention): no legend entry then.
      config.dependency.lowErrorRate <= 1
        ? h('span#legend-low', null, h('i', { style: { background: LEVEL_COLOURS.medium } }), `≥ ${percent(config.dependency.lowErrorRate)}`)
        : null,
      config.dependency.highErrorRate <= 1
        ? h('span#legend-high', null, h('i', { style: { background: LEVEL_COLOURS.high } }), `≥ ${percent(config.dependency.highErrorRate)}`)
        : null,
      h('span', null, 'thickness: calls'));
    const zoom = h('div.graph-zoom', null,
      selected ? h('button.btn.small', { type: 'button', id: 'dep-show-all', onclick: () => choose('') }, 'Show all services') : null,
      h('button.btn.small.icon', { type: 'button', title: 'Zoom in', onclick: () => zoomBy(1.25) }, '+'),
      h('button.btn.small.icon', { type: 'button', title: 'Zoom out', onclick: () => zoomBy(0.8) }, '−'),
      h('button.btn.small', { type: 'button', title: 'Fit the graph', onclick: fit }, 'Fit'));
    // The panel first: it takes width from the graph, and fit() measures what is left.
    renderPanel(selected);
    graph.replaceChildren(svg, legend, zoom);
    fit();
    for (const el of root.querySelectorAll('.node')) el.classList.toggle('selected', el.dataset.service === selected);
  }

  function apply() {
    root.setAttribute('transform', `translate(${view.x},${view.y}) scale(${view.k})`);
  }
  function fit() {
    const { width, height } = layout.graph();
    const rect = graph.getBoundingClientRect();
    // Small graphs stay at a natural size instead of being blown up to fill the screen.
    const k = Math.min(rect.width / width, rect.height / height, 1.15);
    view = { k, x: (rect.width - width * k) / 2, y: (rect.height - height * k) / 2 };
    apply();
  }
  function zoomBy(factor, cx, cy) {
    const rect = graph.getBoundingClientRect();
    const x = cx ?? rect.width / 2;
    const y = cy ?? rect.height / 2;
    const k = Math.min(Math.max(view.k * factor, 0.1), 6);
    view = { k, x: x - ((x - view.x) * k) / view.k, y: y - ((y - view.y) * k) / view.k };
    apply();
  }
  graph.addEventListener('wheel', (event) => {
    if (!root) return;
    event.preventDefault();
    const rect = graph.getBoundingClientRect();
    zoomBy(event.deltaY < 0 ? 1.12 : 1 / 1.12, event.clientX - rect.left, event.clientY - rect.top);
  }, { passive: false });
  let drag = null;
  graph.addEventListener('pointerdown', (event) => {
    if (!root || event.target.closest('.node, button')) return;
    drag = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y, moved: false };
    graph.classList.add('dragging');
  });
  window.addEventListener('pointermove', onMove);
  window.addEventListener('pointerup', onUp);
  function onMove(event) {
    if (!drag) return;
    view.x = drag.vx + event.clientX - drag.x;
    view.y = drag.vy + event.clientY - drag.y;
    apply();
  }
  function onUp() {
    drag = null;
    graph.classList.remove('dragging');
  }

  function choose(name) {
    selected = name;
    filter.value = name;
    const url = new URL(window.location.href);
    if (name) url.searchParams.set('service', name); else url.searchParams.delete('service');
    window.history.replaceState(null, '', url);
    if (links.length) draw();
  }

  function renderPanel(name) {
    if (!name) { panel.hidden = true; return; }
    const uses = links.filter((l) => l.parent === name).sort((a, b) => b.callCount - a.callCount);
    const usedBy = links.filter((l) => l.child === name).sort((a, b) => b.callCount - a.callCount);
    const table = (list, key, id) => (list.length
      ? h(`table.data#${id}`, null,
        h('thead', null, h('tr', null, h('th', null, 'Service'), h('th', { style: { textAlign: 'right' } }, 'Calls'), h('th', { style: { textAlign: 'right' } }, 'Errors'))),
        h('tbody', null, list.map((l) => h('tr', null,
          h('td', null, h('a', { href: '#', onclick: (e) => { e.preventDefault(); choose(l[key]); } }, l[key])),
          h('td.n', null, formatCount(l.callCount)),
          h(`td.n${l.errorCount ? '.bad' : ''}`, null, formatCount(l.errorCount || 0))))))
      : h('p.hint', null, 'None'));
    const search = new URLSearchParams({ serviceName: name });
    panel.hidden = false;
    panel.replaceChildren(
      h('section', null, h('h2#dep-panel-title', null, name),
        h('p.hint', { style: { margin: '4px 0 0' } }, 'Showing this service, its callers and callees.'),
        h('p', { style: { margin: '6px 0 0' } }, h('a', { href: `./?${search}`, 'data-nav': true }, 'Find traces of this service'))),
      h('section', null, h('h3', null, `Uses (${uses.length})`), table(uses, 'child', 'dep-uses')),
      h('section', null, h('h3', null, `Used by (${usedBy.length})`), table(usedBy, 'parent', 'dep-used-by')));
  }

  return () => {
    alive.value = false;
    window.removeEventListener('pointermove', onMove);
    window.removeEventListener('pointerup', onUp);
  };
}
