// Large-trace performance of the web UI in real (headless) Chromium against the real
// Zipwire binary. Not a test: it prints figures for BENCHMARKS.md.
//
//   node perf.mjs [sizes...]      default: 10000 100000
//   ZIPWIRE_BIN, CHROMIUM_PATH as for run.sh; PERF_RUNS (default 3) page loads per size.
//
// For each size it reports the median of PERF_RUNS fresh page loads:
//   open       navigation start → timeline painted (module load, fetch, parse, model build,
//              first render, layout and paint), from the page's own performance marks
//   fetch      trace request + JSON parse (from the page's start; the request itself starts
//              earlier, from index.html);  model  clean/merge/tree/skew/rows;  render  building
//              the DOM of the first screen (layout and paint follow, included in open)
// then, on one loaded page: collapse all, expand all, select a row (with detail panel),
// critical path on, find-in-trace (each until the second frame after it, i.e. painted),
// and scrolling: 60 jumps to scattered positions.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launch, newPage } from './lib/browser.mjs';
import { generateTrace } from './lib/fixtures.mjs';
import { postSpans, startZipwire, waitForTrace } from './lib/server.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sizes = process.argv.slice(2).map(Number).filter(Boolean);
const SIZES = sizes.length ? sizes : [10000, 100000];
const RUNS = Number(process.env.PERF_RUNS || 3);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0)} ms`;

// Runs fn in the page and waits two animation frames, so the time includes layout and paint.
async function timed(page, fn, arg) {
  return page.evaluate(async ([source, value]) => {
    const f = new Function('value', `return (${source})(value);`);
    const t0 = performance.now();
    await f(value);
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return performance.now() - t0;
  }, [fn.toString(), arg]);
}

const server = await startZipwire();
const browser = await launch();
const results = [];
try {
  for (const size of SIZES) {
    const traceId = `ba5e${String(size).padStart(12, '0')}`;
    const spans = generateTrace(size, { seed: size, traceId, startUs: (Date.now() - 30 * 60000) * 1000 });
    const bytes = JSON.stringify(spans).length;
    await postSpans(server.base, spans);
    await waitForTrace(server.base, traceId, size);

    const loads = [];
    let page;
    for (let run = 0; run < RUNS; run += 1) {
      if (page) await page.context().close();
      page = await newPage(browser, { width: 1440, height: 900 });
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Performance.enable');
      await page.goto(`${server.base}/zipkin/traces/${traceId}`);
      await page.waitForSelector('[data-ready="true"] .row', { timeout: 120000 });
      await page.waitForFunction(() => performance.getEntriesByName('zipwire:trace-painted').length > 0);
      // CPU time of the page's main thread: unlike wall time, it does not grow when other
      // processes compete for the machine's two cores.
      const { metrics } = await cdp.send('Performance.getMetrics');
      const cpu = metrics.find((m) => m.name === 'ThreadTime').value * 1000;
      loads.push(await page.evaluate((cpuMs) => {
        const mark = (name) => performance.getEntriesByName(name)[0].startTime;
        return {
          openMark: mark('zipwire:trace-painted'),
          fetch: mark('zipwire:trace-fetched') - mark('zipwire:trace-start'),
          model: mark('zipwire:trace-processed') - mark('zipwire:trace-fetched'),
          render: mark('zipwire:trace-rendered') - mark('zipwire:trace-processed'),
          cpu: cpuMs,
        };
      }, cpu));
    }
    // The server's part: the trace request as the browser makes it (gzip accepted).
    const serverTimes = [];
    for (let i = 0; i < 3; i += 1) {
      const t0 = performance.now();
      const res = await fetch(`${server.base}/api/v2/trace/${traceId}`, { headers: { 'Accept-Encoding': 'gzip' } });
      await res.arrayBuffer();
      serverTimes.push(performance.now() - t0);
    }
    const rows = await page.evaluate(() => window.zipwireTrace.rows);
    const collapse = await timed(page, () => window.zipwireTrace.collapseAll());
    const expand = await timed(page, () => window.zipwireTrace.expandAll());
    const select = await timed(page, (i) => window.zipwireTrace.select(i), Math.floor(rows / 2));
    const critical = await timed(page, () => document.getElementById('toggle-critical').click());
    await timed(page, () => document.getElementById('toggle-critical').click());
    const find = await timed(page, () => new Promise((resolve) => {
      const input = document.getElementById('find-input');
      input.value = 'upstream timeout';
      input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
      resolve();
    }));
    // Jumps to 60 scattered positions; each jump re-renders the rows on screen. Reported:
    // the time to build those rows (the work a scroll costs) and the time until the
    // second animation frame after the jump (work plus waiting for the display).
    const scroll = await page.evaluate(async () => {
      const s = document.getElementById('rows');
      const steps = [];
      for (let i = 0; i < 60; i += 1) {
        const t0 = performance.now();
        s.scrollTop = ((i * 7919) % 60) / 60 * (s.scrollHeight - s.clientHeight);
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        steps.push(performance.now() - t0);
      }
      const renders = window.zipwireTrace.renderTimes().slice(-60);
      return {
        frameMean: steps.reduce((a, b) => a + b, 0) / steps.length,
        renderMean: renders.reduce((a, b) => a + b, 0) / renders.length,
        renderMax: Math.max(...renders),
        rowsInDom: document.querySelectorAll('.row').length,
      };
    });
    const heap = await page.evaluate(() => (performance.memory ? performance.memory.usedJSHeapSize : 0));
    const problems = page.problems.slice(0);
    await page.context().close();

    const result = {
      spans: size,
      rows,
      jsonBytes: bytes,
      openMs: median(loads.map((l) => l.openMark)),
      mainThreadCpuMs: median(loads.map((l) => l.cpu)),
      serverResponseMs: median(serverTimes),
      loadAverage: fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0],
      fetchMs: median(loads.map((l) => l.fetch)),
      modelMs: median(loads.map((l) => l.model)),
      renderMs: median(loads.map((l) => l.render)),
      collapseAllMs: collapse,
      expandAllMs: expand,
      selectMs: select,
      criticalPathMs: critical,
      findMs: find,
      scrollRenderMeanMs: scroll.renderMean,
      scrollRenderMaxMs: scroll.renderMax,
      scrollFrameMeanMs: scroll.frameMean,
      rowsInDom: scroll.rowsInDom,
      heapMB: heap / 1048576,
      problems,
    };
    results.push(result);
    console.log(`\n${size.toLocaleString('en')} spans (${rows.toLocaleString('en')} rows, ${(bytes / 1048576).toFixed(1)} MB JSON), median of ${RUNS} loads:`);
    console.log(`  open ${ms(result.openMs)}  (fetch+parse ${ms(result.fetchMs)}, model ${ms(result.modelMs)}, first render ${ms(result.renderMs)})`);
    console.log(`  page main-thread CPU to first paint ${ms(result.mainThreadCpuMs)}; server answers the trace in ${ms(result.serverResponseMs)}; load average ${result.loadAverage}`);
    console.log(`  collapse all ${ms(collapse)}, expand all ${ms(expand)}, select ${ms(select)}, critical path ${ms(critical)}, find ${ms(find)}`);
    console.log(`  scroll: rows rebuilt in ${scroll.renderMean.toFixed(1)} ms mean, ${scroll.renderMax.toFixed(1)} ms max; jump to second frame ${scroll.frameMean.toFixed(1)} ms; ${scroll.rowsInDom} rows in the DOM; JS heap ${result.heapMB.toFixed(0)} MB`);
    if (problems.length) console.log(`  page problems: ${problems.join('; ')}`);
  }
} finally {
  await browser.close();
  await server.stop();
}
const out = path.join(repo, 'target', 'ui-perf.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), runs: RUNS, results }, null, 2)}\n`);
console.log(`\nwritten ${path.relative(repo, out)}`);
