// The application shell: client-side routing under the base path, the header (navigation,
// go-to-trace box, upload, theme), and toasts. Pages are modules with a mount() function.

import { api, BASE, BASE_PATH, withDefaults } from './api.js';
import { h } from './util.js';
import { parseTraceFile } from './model/upload.js';

const app = document.getElementById('app');
let unmount = null;
let config = withDefaults({});
let renderId = 0;

/** A file opened with Upload JSON; it lives only in this tab. */
export const uploads = { current: null };

/**
 * Shows a short message in the corner; errors stay longer. The message may hold elements
 * (links); `sticky` keeps it until dismissed, for messages the user should act on.
 */
export function toast(message, kind = 'error', { sticky = false } = {}) {
  const box = document.getElementById('toasts');
  const close = h('button.toast-close', { type: 'button', 'aria-label': 'Dismiss', onclick: () => item.remove() }, '×');
  const item = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, h('span', null, message), close);
  box.appendChild(item);
  if (!sticky) setTimeout(() => item.remove(), kind === 'error' ? 10000 : 4000);
}

/** Navigates inside the UI: path is relative to the base ("traces/abc", "?serviceName=x"). */
export function navigate(path, { replace = false } = {}) {
  const url = new URL(path, BASE);
  if (url.href === window.location.href && !replace) return render();
  if (replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  return render();
}

function route() {
  const path = window.location.pathname.startsWith(BASE_PATH)
    ? window.location.pathname.slice(BASE_PATH.length).replace(/^\/+/, '')
    : '';
  const [first, second] = path.split('/');
  if (first === '' || first === 'index.html') return { page: 'search' };
  if (first === 'traces' && second) return { page: 'trace', traceId: decodeURIComponent(second) };
  if (first === 'traceViewer') return { page: 'trace', uploaded: true };
  if (first === 'dependency') return { page: 'dependency' };
  return { page: 'missing' };
}

const PAGES = {
  search: () => import('./pages/search.js'),
  trace: () => import('./pages/trace.js'),
  dependency: () => import('./pages/dependencies.js'),
};

async function render() {
  const id = ++renderId;
  const target = route();
  for (const link of document.querySelectorAll('.nav a')) {
    link.classList.toggle('active', link.dataset.page === target.page);
  }
  if (unmount) {
    try { unmount(); } catch (err) { console.warn('unmount failed', err); }
    unmount = null;
  }
  if (target.page === 'missing' || (target.page === 'dependency' && !config.dependency.enabled)) {
    app.replaceChildren(h('section.empty', null, h('h2', null, 'Page not found'),
      h('p', null, h('a', { href: './', 'data-nav': true }, 'Find a trace'))));
    return;
  }
  const module = await PAGES[target.page]();
  if (id !== renderId) return;
  const container = h('div.page');
  app.replaceChildren(container);
  document.title = 'Zipwire';
  unmount = module.mount(container, {
    ...target,
    config,
    params: new URLSearchParams(window.location.search),
    navigate,
    toast,
    uploads,
    prefetched: takePrefetched,
  }) || null;
}

function setTheme(theme) {
  document.documentElement.dataset.theme = theme;
  try { localStorage.setItem('zipwireTheme', theme); } catch { /* private mode */ }
  window.dispatchEvent(new CustomEvent('themechange'));
}

async function openFile(file) {
  try {
    const text = await file.text();
    const { spans, nested, traceCount } = parseTraceFile(text);
    uploads.current = { text: nested ? JSON.stringify(spans) : text, name: file.name };
    if (traceCount > 1) toast(`The file holds ${traceCount} traces; showing the first.`, 'info');
    navigate('traceViewer');
  } catch (err) {
    toast(`Failed to load file: ${err.message}`);
  }
}

function wireHeader() {
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a[data-nav]');
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(link.getAttribute('href'));
  });
  window.addEventListener('popstate', () => render());

  const gotoForm = document.getElementById('goto-form');
  const gotoInput = document.getElementById('goto-input');
  gotoForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const id = gotoInput.value.trim().toLowerCase();
    if (!id) return;
    if (!/^[0-9a-f]{1,32}$/.test(id)) {
      toast(`"${id}" is not a trace ID: expected 1 to 32 hexadecimal characters`);
      return;
    }
    gotoInput.value = '';
    gotoInput.blur();
    navigate(`traces/${id}`);
  });

  const uploadInput = document.getElementById('upload-input');
  document.getElementById('upload-button').addEventListener('click', () => uploadInput.click());
  uploadInput.addEventListener('change', () => {
    const [file] = uploadInput.files;
    uploadInput.value = '';
    if (file) openFile(file);
  });
  // Dropping a file anywhere opens it too.
  document.addEventListener('dragover', (event) => {
    if (event.dataTransfer && [...event.dataTransfer.types].includes('Files')) event.preventDefault();
  });
  document.addEventListener('drop', (event) => {
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (!file) return;
    event.preventDefault();
    openFile(file);
  });

  document.getElementById('theme-button').addEventListener('click', () => {
    setTheme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark');
  });
}

// A trace opened by URL starts downloading before the configuration and page code have
// loaded, so the three overlap; large traces open that much sooner.
let prefetch = null;
function takePrefetched(traceId) {
  if (!prefetch || prefetch.traceId !== traceId) return null;
  const { promise } = prefetch;
  prefetch = null;
  return promise;
}

async function start() {
  wireHeader();
  const first = route();
  if (first.page === 'trace' && first.traceId) {
    prefetch = { traceId: first.traceId, promise: api.traceWithText(first.traceId) };
    prefetch.promise.catch(() => {});
  }
  if (PAGES[first.page]) PAGES[first.page]().catch(() => {});
  config = withDefaults(await api.config());
  const nav = document.getElementById('nav-dependency');
  nav.hidden = !config.dependency.enabled;
  if (config.environment) {
    const env = document.getElementById('environment');
    env.textContent = config.environment;
    env.hidden = false;
  }
  if (config.supportUrl) {
    const support = document.getElementById('support-link');
    support.href = config.supportUrl;
    support.hidden = false;
  }
  await render();
}

start();
