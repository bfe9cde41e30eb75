// Small helpers shared by every page: DOM building, formatting of Zipkin's microsecond
// times, duration parsing, colours. No dependencies, so the model tests can import it in Node.

/**
 * Creates an element: h('div#id.row.selected', {title: 'x', onclick}, child, 'text', [more]).
 * Attributes starting with "on" become listeners; `dataset` and `style` objects are merged;
 * null/undefined/false children are skipped.
 */
export function h(tag, attrs, ...children) {
  const name = /^[^.#]*/.exec(tag)[0];
  const el = document.createElement(name || 'div');
  const classes = [];
  for (const [, sigil, value] of tag.slice(name.length).matchAll(/([.#])([^.#]+)/g)) {
    if (sigil === '#') el.id = value; else classes.push(value);
  }
  if (classes.length) el.className = classes.join(' ');
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2), value);
      } else if (key === 'dataset') {
        Object.assign(el.dataset, value);
      } else if (key === 'style' && typeof value === 'object') {
        for (const [prop, v] of Object.entries(value)) {
          if (prop.startsWith('--')) el.style.setProperty(prop, v); else el.style[prop] = v;
        }
      } else if (key === 'class') {
        el.className = [el.className, value].filter(Boolean).join(' ');
      } else if (key in el && typeof value !== 'string') {
        el[key] = value;
      } else {
        el.setAttribute(key, value === true ? '' : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Escapes text for the few places that build HTML strings for speed (timeline rows). */
export function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}

/** Formats a microsecond duration the way Zipkin does: 850μs, 12ms, 12.345ms, 1.234s. */
export function formatDuration(us) {
  if (us === undefined || us === null || Number.isNaN(us)) return '';
  const sign = us < 0 ? '-' : '';
  const v = Math.abs(us);
  if (v < 1000) return `${sign}${v.toFixed(0)}μs`;
  if (v < 1000000) {
    if (v % 1000 === 0) return `${sign}${(v / 1000).toFixed(0)}ms`;
    return `${sign}${(v / 1000).toFixed(3)}ms`;
  }
  if (v < 60000000) return `${sign}${(v / 1000000).toFixed(3)}s`;
  const minutes = Math.floor(v / 60000000);
  const seconds = (v - minutes * 60000000) / 1000000;
  return `${sign}${minutes}m ${seconds.toFixed(1)}s`;
}

const DURATION_UNITS = { us: 1, μs: 1, ms: 1000, s: 1000000, m: 60000000, min: 60000000 };

/**
 * Parses a duration typed by a person into microseconds: "10ms", "1.5s", "250us", "2m",
 * or a bare number of microseconds (Zipkin's API unit, so old links keep working).
 * Returns undefined for empty input and NaN for input that is not a duration.
 */
export function parseDuration(text) {
  const value = String(text ?? '').trim().toLowerCase();
  if (value === '') return undefined;
  const match = /^(\d+(?:\.\d+)?|\.\d+)\s*(us|μs|ms|s|m|min)?$/.exec(value);
  if (!match) return NaN;
  const number = Number(match[1]);
  const unit = DURATION_UNITS[match[2] || 'us'];
  return Math.round(number * unit);
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

/** Absolute local time of an epoch-microsecond timestamp: 2024-05-01 13:45:12.345. */
export function formatTimestamp(us) {
  if (!us) return '';
  const d = new Date(us / 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

// Hand-written rather than Intl.RelativeTimeFormat: creating that formatter loads locale
// data and costs tens of milliseconds on the page's first paint.
const UNITS = [[60, 'second', 1], [3600, 'minute', 60], [86400, 'hour', 3600],
  [86400 * 60, 'day', 86400], [86400 * 730, 'month', 86400 * 30], [Infinity, 'year', 86400 * 365]];

/** "3 minutes ago", "in 2 hours", from an epoch-microsecond timestamp. */
export function formatRelative(us, nowMs = Date.now()) {
  if (!us) return '';
  const seconds = Math.round((us / 1000 - nowMs) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 10) return 'just now';
  const [, unit, size] = UNITS.find(([limit]) => abs < limit);
  const n = Math.max(1, Math.round(abs / size));
  const text = `${n} ${unit}${n === 1 ? '' : 's'}`;
  return seconds < 0 ? `${text} ago` : `in ${text}`;
}

/** Value for an <input type="datetime-local"> from epoch milliseconds (local time). */
export function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Epoch milliseconds from an <input type="datetime-local"> value, NaN when empty. */
export function fromLocalInput(value) {
  if (!value) return NaN;
  return new Date(value).getTime();
}

const HUES = [211, 28, 145, 355, 268, 185, 48, 318, 96, 236, 12, 166, 292, 72, 198, 338, 122, 250];

/** Stable hue per service name so a service keeps its colour across pages and traces. */
export function serviceHue(name) {
  let hash = 2166136261;
  const text = String(name || 'unknown');
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  // A fixed set of well-separated hues reads better than any hue on the wheel: two
  // services never end up a barely different purple.
  return HUES[Math.abs(hash) % HUES.length];
}

/** CSS colour for a service; the lightness comes from the theme through CSS variables. */
export function serviceColor(name) {
  return `hsl(${serviceHue(name).toFixed(0)} var(--svc-s) var(--svc-l))`;
}

/** Debounces calls; the returned function has .cancel(). */
export function debounce(fn, ms) {
  let timer;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

/** 12345 → "12,345". Not toLocaleString: its first call loads locale data (slow). */
export function formatCount(n) {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Plural helper: plural(3, 'span') → "3 spans". */
export function plural(n, word, many = `${word}s`) {
  return `${formatCount(n)} ${n === 1 ? word : many}`;
}
