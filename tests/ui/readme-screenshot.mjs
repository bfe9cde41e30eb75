// Regenerates docs/screenshot-trace.png, the trace page shown in the README:
//   node readme-screenshot.mjs   (ZIPWIRE_BIN and CHROMIUM_PATH as for run.sh)

import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launch, newPage } from './lib/browser.mjs';
import { lensTrace } from './lib/fixtures.mjs';
import { postSpans, startZipwire } from './lib/server.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const server = await startZipwire();
const browser = await launch();
try {
  await postSpans(server.base, lensTrace('yelp', 3));
  const page = await newPage(browser, { width: 1360, height: 720 });
  await page.goto(`${server.base}/zipkin/traces/a03ee8fff1dcd9b9`);
  await page.waitForSelector('[data-ready="true"] .row');
  await page.locator('.row', { hasText: 'txn: user_get_basic' }).first().click();
  await page.click('#toggle-critical');
  await page.mouse.move(0, 0);
  await page.screenshot({ path: path.join(repo, 'docs', 'screenshot-trace.png') });
  if (page.problems.length) throw new Error(page.problems.join('\n'));
} finally {
  await browser.close();
  await server.stop();
}
