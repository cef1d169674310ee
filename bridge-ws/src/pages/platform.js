// platform.js: /platform.html, every restaurant and every hub node at once
// for the platform owner: devices connected (presence), today's sales, the
// live event rate per restaurant and in all, each node's metrics
// (fynlo/v1/sys/metrics/{node}) and every raised alert
// (fynlo/v1/sys/alerts/{node}) on top, red (docs/protocol.md, "Presence
// and metrics"). The list of restaurants and their totals come from the
// platform snapshot (docs/protocol.md, "The platform snapshot lists
// restaurants"); after it, every event of every restaurant counts in as it
// arrives. An order that was already open then has a total the page never
// saw: when one completes, the page takes that restaurant's snapshot
// (orders and sales, once) and goes on from its head.
import { el, frameScheduler, localDay, money, setText, startClient } from './common.js';

const RATE_WINDOW_S = 10;
const STALE_S = 15;             // a node silent this long (3 reports) is not reporting
const ALERT_TEXT = {
  connection_drops: 'connection drops', delivery_latency: 'delivery latency',
  sync_failures: 'sync failures', store_query_time: 'store query time',
};
const RATIOS = new Set(['connection_drops', 'sync_failures']);
const schedule = frameScheduler();
const client = startClient('platform', { snapshotViews: null });
// rid -> {id, head, tz, today, orders, gross, open_orders, devices, times,
// complete: every open order's total is known}
const restaurants = new Map();
const totals = new Map();       // rid/order id -> total of an order not yet completed or cancelled
const rows = new Map();
const dirty = new Set();
const eventTimes = [];          // arrival times (ms) of live events, all restaurants
const nodes = new Map();        // node -> {metrics, previous, alerts}
const nodeRows = new Map();

function restaurant(id) {
  let r = restaurants.get(id);
  if (!r) {
    // First seen after the snapshot: a new restaurant, all of it seen here.
    r = { id, head: 0, tz: 'Europe/London', today: null, orders: 0, gross: 0, open_orders: 0, devices: new Set(), times: [], complete: true };
    r.today = localDay(null, r.tz).day;
    restaurants.set(id, r);
  }
  return r;
}

function rate(times, now) {
  while (times.length && times[0] < now - RATE_WINDOW_S * 1000) times.shift();
  return times.length / RATE_WINDOW_S;
}

function row(r) {
  return el('tr', { 'data-restaurant': r.id }, el('td', { class: 'id' }), el('td', { class: 'num devices' }),
    el('td', { class: 'num orders' }), el('td', { class: 'num gross' }), el('td', { class: 'num open' }),
    el('td', { class: 'num rate' }), el('td', { class: 'num head' }));
}

function render() {
  const now = Date.now();
  const body = document.getElementById('restaurants');
  for (const id of dirty) {
    const r = restaurants.get(id);
    let tr = rows.get(id);
    if (!tr) {
      tr = row(r);
      rows.set(id, tr);
      const after = [...body.children].find((n) => n.dataset.restaurant > id);
      body.insertBefore(tr, after || null);
    }
    const [name, devices, orders, gross, open, ratePerS, head] = tr.children;
    setText(name, id);
    setText(devices, r.devices.size);
    setText(orders, r.orders);
    setText(gross, money(r.gross));
    setText(open, r.open_orders);
    setText(ratePerS, rate(r.times, now).toFixed(1));
    setText(head, r.head);
  }
  dirty.clear();
  let gross = 0;
  let orders = 0;
  let devices = 0;
  for (const r of restaurants.values()) { gross += r.gross; orders += r.orders; devices += r.devices.size; }
  setText(document.getElementById('total-restaurants'), restaurants.size);
  setText(document.getElementById('total-gross'), money(gross));
  setText(document.getElementById('total-orders'), orders);
  setText(document.getElementById('total-devices'), devices);
  setText(document.getElementById('total-rate'), rate(eventTimes, now).toFixed(1));
}

// ---- sales -------------------------------------------------------------

// A new local day in the restaurant: today's figures start again.
function rollDay(r) {
  const today = localDay(null, r.tz).day;
  if (today !== r.today) {
    r.today = today;
    r.orders = 0;
    r.gross = 0;
  }
}

function fromRestaurantSnapshot(doc) {
  const r = restaurant(doc.stream);
  r.tz = doc.sales?.time_zone || r.tz;
  r.today = localDay(null, r.tz).day;
  const day = (doc.sales?.days || []).find((d) => d.day === r.today);
  r.orders = day?.orders || 0;
  r.gross = day?.gross || 0;
  r.open_orders = 0;
  for (const o of doc.orders || []) {
    const k = `${r.id}/${o.order_id}`;
    if (o.status === 'completed' || o.status === 'cancelled') totals.delete(k);
    else { totals.set(k, o.total || 0); r.open_orders++; }
  }
  r.head = Math.max(r.head, doc.head);
  r.complete = true;
  r.snapshotAsked = false;
  dirty.add(r.id);
}

function onOrder(r, ev) {
  const p = ev.payload || {};
  const k = `${ev.restaurant}/${ev.aggregate_id}`;
  rollDay(r);
  const completedToday = () => localDay(ev.created_at, r.tz).day === r.today;
  if (ev.event_type === 'order.created') {
    if (p.status === 'completed') {
      if (completedToday()) { r.orders++; r.gross += p.total || 0; }
    } else if (p.status !== 'cancelled') {
      totals.set(k, p.total || 0);
      r.open_orders++;
    }
  } else if (ev.event_type === 'order.updated') {
    if (typeof p.total === 'number' && totals.has(k)) totals.set(k, p.total);
    if (p.status !== 'completed' && p.status !== 'cancelled') return;
    const known = totals.has(k);
    if (p.status === 'completed' && !known && typeof p.total !== 'number' && !r.complete) {
      // Opened before this page: its total is in the restaurant's snapshot,
      // which also brings today's sales up to its head.
      if (!r.snapshotAsked) { r.snapshotAsked = true; client.snapshot(r.id, ['orders', 'sales']); }
      return;
    }
    if (p.status === 'completed' && completedToday()) { r.orders++; r.gross += typeof p.total === 'number' ? p.total : totals.get(k) || 0; }
    r.open_orders = Math.max(0, r.open_orders - 1);
    totals.delete(k);
  }
}

// ---- nodes and alerts --------------------------------------------------

function seconds(s) {
  if (typeof s !== 'number') return '';
  return s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(2)} s`;
}

function alertValue(name, v) {
  if (typeof v !== 'number') return '';
  return RATIOS.has(name) ? `${(v * 100).toFixed(1)} %` : seconds(v);
}

// The average of a latency between two reports (sum_s/count deltas).
function average(m, previous, key) {
  const now = m.latency?.[key];
  if (!now) return '';
  const before = previous?.latency?.[key] || { count: 0, sum_s: 0 };
  const count = now.count - before.count;
  if (count <= 0) return previous ? '—' : seconds(now.count ? now.sum_s / now.count : null);
  return seconds((now.sum_s - before.sum_s) / count);
}

function node(name) {
  let n = nodes.get(name);
  if (!n) {
    n = { name, metrics: null, previous: null, alerts: {} };
    nodes.set(name, n);
  }
  return n;
}

function raised(n) {
  return Object.entries(n.alerts || {}).filter(([, a]) => a.state === 'raised');
}

function renderNodes() {
  const now = Date.now() / 1000;
  const body = document.getElementById('nodes');
  const names = [...nodes.keys()].sort();
  for (const name of names) {
    const n = nodes.get(name);
    let tr = nodeRows.get(name);
    if (!tr) {
      tr = el('tr', { 'data-node': name }, ...[...Array(12)].map((_, i) => el('td', { class: i === 0 ? 'id' : i === 1 ? 'status' : i === 3 ? '' : 'num' })));
      nodeRows.set(name, tr);
      const after = [...body.children].find((x) => x.dataset.node > name);
      body.insertBefore(tr, after || null);
    }
    const m = n.metrics || {};
    const p = n.previous;
    const stale = n.metrics && now - m.at > STALE_S;
    const alerts = raised(n);
    const status = stale ? 'stale' : alerts.length ? 'alert' : n.metrics ? 'ok' : 'unknown';
    tr.dataset.status = status;
    const cells = tr.children;
    cells[1].dataset.status = status;
    const dt = p && m.at > p.at ? m.at - p.at : 0;
    const accepted = dt ? ((m.submissions?.accepted ?? 0) - (p.submissions?.accepted ?? 0)) / dt : null;
    const values = [
      name,
      { stale: `not reporting for ${Math.round(now - m.at)} s`, alert: `${alerts.length} alert(s)`, ok: 'ok', unknown: '…' }[status],
      m.clients ?? '', m.store_up === undefined ? '' : m.store_up ? 'up' : 'DOWN',
      accepted === null ? '' : accepted.toFixed(1),
      average(m, p, 'delivery'), average(m, p, 'store_commit'), seconds(m.sync_lag_s),
      m.queued ?? '', m.connections?.dropped ?? '', m.auth_failures ?? '',
      m.at ? new Date(m.at * 1000).toLocaleTimeString() : '',
    ];
    values.forEach((v, i) => setText(cells[i], v));
  }
  setText(document.getElementById('total-nodes'), nodes.size);
  const box = document.getElementById('alerts');
  const all = names.flatMap((name) => raised(nodes.get(name)).map(([alert, a]) => ({ name, alert, a })));
  box.dataset.raised = String(all.length);
  if (all.length === 0) {
    if (!box.querySelector('.none')) box.replaceChildren(el('span', { class: 'none' }, 'No alerts'));
    return;
  }
  box.replaceChildren(...all.map(({ name, alert, a }) => el('span', { class: 'alert', 'data-alert': `${name}/${alert}` },
    `${name}: ${ALERT_TEXT[alert] || alert.replace(/_/g, ' ')} ${alertValue(alert, a.value)} (threshold ${alertValue(alert, a.threshold)})`
    + (a.since ? ` since ${new Date(typeof a.since === 'number' ? a.since * 1000 : a.since).toLocaleTimeString()}` : ''))));
}

function onMetrics(doc, name) {
  if (!name) return;
  const n = node(name);
  if (!doc) { nodes.delete(name); nodeRows.get(name)?.remove(); nodeRows.delete(name); schedule(renderNodes); return; }
  if (n.metrics && doc.at <= n.metrics.at) return;   // the same report twice (both topics)
  n.previous = n.metrics;
  n.metrics = doc;
  schedule(renderNodes);
}

function onAlerts(doc, name) {
  if (!name) return;
  node(name).alerts = doc?.alerts || {};
  schedule(renderNodes);
}

if (client) {
  client.on('snapshot', (doc) => {
    if (doc.stream !== 'platform') fromRestaurantSnapshot(doc);
    for (const x of doc.restaurants || []) {
      const r = restaurant(x.id);
      Object.assign(r, { head: x.head, orders: x.orders, gross: x.gross, open_orders: x.open_orders });
      r.tz = x.time_zone || r.tz;
      r.today = x.today || localDay(null, r.tz).day;
      r.complete = x.open_orders === 0;   // else some open order's total is unknown here
      dirty.add(x.id);
    }
    schedule(render);
  });
  client.on('event', (ev) => {
    if (ev.restaurant === 'platform') return;
    const r = restaurant(ev.restaurant);
    r.head = ev.seq;
    const now = Date.now();
    if (!ev.replay) { r.times.push(now); eventTimes.push(now); }
    if (ev.event_type.startsWith('order.')) onOrder(r, ev);
    dirty.add(ev.restaurant);
    schedule(render);
  });
  client.on('presence', (rid, cid, doc) => {
    if (rid === 'platform') return;
    const r = restaurant(rid);
    if (doc) r.devices.add(cid); else r.devices.delete(cid);
    dirty.add(rid);
    schedule(render);
  });
  client.on('metrics', onMetrics);
  client.on('alerts', onAlerts);
  // Rates fall when nothing comes, a silent node grows stale: redraw every second.
  setInterval(() => {
    for (const id of restaurants.keys()) dirty.add(id);
    schedule(render);
    schedule(renderNodes);
  }, 1000);
  client.start();
}
