// common.js: what the three pages share: the token from ?token= (kept for
// the tab), a client id per tab, the sync client with its IndexedDB
// storage, the status bar (connection state, token expiry, unsent edits),
// and a once-per-frame renderer so that a burst of events costs one small
// DOM update, never a redraw of the page.
import { FynClient, tokenClaims } from '../client.js';
import { idbStorage } from '../storage.js';

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function money(pence) {
  if (typeof pence !== 'number') return '';
  return `£${(pence / 100).toFixed(2)}`;
}

// One formatter for every timestamp: toLocaleTimeString makes a new one per
// call, which was the largest cost of a page taking 200 events/s.
const clockFormat = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function clock(iso) {
  return iso ? clockFormat.format(new Date(iso)) : '';
}

const dayFormats = new Map();   // time zone -> formatter (making one is slow)

// The local day (YYYY-MM-DD) and hour of a timestamp in the restaurant's zone.
export function localDay(iso, tz) {
  let f = dayFormats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' });
    dayFormats.set(tz, f);
  }
  const parts = {};
  for (const p of f.formatToParts(iso ? new Date(iso) : new Date())) parts[p.type] = p.value;
  return { day: `${parts.year}-${parts.month}-${parts.day}`, hour: Number(parts.hour) };
}

// Sets textContent only when it changed (no layout work otherwise).
export function setText(node, text) {
  const t = String(text);
  if (node.textContent !== t) node.textContent = t;
}

// Calls each registered render function at most once per animation frame.
export function frameScheduler() {
  const dirty = new Set();
  let scheduled = false;
  const run = () => {
    scheduled = false;
    const fns = [...dirty];
    dirty.clear();
    for (const fn of fns) fn();
  };
  return (fn) => {
    dirty.add(fn);
    if (!scheduled) {
      scheduled = true;
      (typeof requestAnimationFrame === 'function' && document.visibilityState !== 'hidden' ? requestAnimationFrame : (f) => setTimeout(f, 16))(run);
    }
  };
}

function tokenFromPage(page) {
  const params = new URLSearchParams(location.search);
  const key = `fynsync.token.${page}`;
  const given = params.get('token');
  if (given) {
    sessionStorage.setItem(key, given);
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
  }
  return sessionStorage.getItem(key);
}

function askForToken(page) {
  const input = el('textarea', { rows: 4, placeholder: 'paste a token (./fynsync token --role ...)' });
  const form = el('form', { class: 'ask', onsubmit: (e) => {
    e.preventDefault();
    sessionStorage.setItem(`fynsync.token.${page}`, input.value.trim());
    location.reload();
  } }, el('h2', {}, 'This page needs a token'), el('p', {}, 'Open the link ./fynsync up printed, or paste a token:'), input, el('button', { type: 'submit' }, 'Open'));
  document.body.replaceChildren(form);
}

const STATE_TEXT = {
  connecting: 'connecting…', connected: 'connected', resuming: 'catching up…',
  live: 'live', offline: 'reconnecting…', unauthorized: 'token refused or expired: ask for a new link',
};

// Starts the client for page ('owner', 'kitchen', 'platform'); returns it
// (not started: the page registers its listeners, then calls start()), or
// null when the page has no token yet.
export function startClient(page, { snapshotViews }) {
  const token = tokenFromPage(page);
  if (!token) {
    askForToken(page);
    return null;
  }
  let claims;
  try {
    claims = tokenClaims(token);
  } catch {
    sessionStorage.removeItem(`fynsync.token.${page}`);
    askForToken(page);
    return null;
  }
  const cidKey = `fynsync.cid.${page}`;
  let clientId = sessionStorage.getItem(cidKey);
  if (!clientId) {
    clientId = `${page}-${claims.sub}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 48) + `-${Math.random().toString(36).slice(2, 8)}`;
    sessionStorage.setItem(cidKey, clientId);
  }
  const params = new URLSearchParams(location.search);
  // ?ws=URL[,URL...]: the hub nodes to use, in order (default: this page's own).
  const urls = (params.get('ws') || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`).split(',');
  const client = new FynClient({ urls, token, clientId, snapshotViews, storage: idbStorage(`fynsync-${clientId}`) });
  statusBar(client, claims);
  // For tests and benchmarks: when the page went live and took its first
  // event (performance.now(), ms since the page was opened), long tasks.
  window.fynsync = { client, longestTaskMs: 0, longTasks: 0, liveAt: null, firstEventAt: null };
  client.on('state', (st) => { if (st === 'live' && window.fynsync.liveAt === null) window.fynsync.liveAt = performance.now(); });
  const offFirst = client.on('event', () => { window.fynsync.firstEventAt = performance.now(); offFirst(); });
  watchLongTasks();
  return client;
}

function watchLongTasks() {
  if (typeof PerformanceObserver === 'undefined') return;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        window.fynsync.longTasks++;
        window.fynsync.longestTaskMs = Math.max(window.fynsync.longestTaskMs, e.duration);
      }
    }).observe({ type: 'longtask', buffered: true });
  } catch {
    // no long task timing in this browser
  }
}

function statusBar(client, claims) {
  const state = document.getElementById('state');
  const expiry = document.getElementById('expiry');
  const pending = document.getElementById('pending');
  const who = document.getElementById('who');
  const render = (s) => {
    state.dataset.state = s;
    setText(state, STATE_TEXT[s] || s);
  };
  render(client.state);
  client.on('state', render);
  const showExpiry = (exp) => {
    const at = new Date(exp * 1000);
    setText(expiry, `token expires ${at.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' })}`);
    clearTimeout(showExpiry.timer);
    showExpiry.timer = setTimeout(() => setText(expiry, 'token expired: ask for a new link'), Math.min(2 ** 31 - 1, Math.max(0, at - Date.now())));
  };
  showExpiry(claims.exp);
  client.on('token', showExpiry);
  client.on('session', (s) => setText(who, `${s.sub} · ${s.role.replace('_', ' ')} · ${s.view} view`));
  client.on('outbox', (entries) => setText(pending, entries.length ? `${entries.length} edit(s) not yet confirmed` : ''));
}

// A small notice at the bottom (rejections).
export function notice(text) {
  const box = document.getElementById('notice');
  if (!box) return;
  const item = el('div', { class: 'notice' }, text);
  box.prepend(item);
  setTimeout(() => item.remove(), 8000);
}
