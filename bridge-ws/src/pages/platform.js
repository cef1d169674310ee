// platform.js: /platform.html, every restaurant at once for the platform
// owner: devices connected (presence), today's sales, the live event rate
// per restaurant and in all, and the hub's metrics. The list of
// restaurants and their totals come from the platform snapshot
// (docs/protocol.md, "The platform snapshot lists restaurants"); after it,
// every event of every restaurant counts in as it arrives.
import { el, frameScheduler, money, setText, startClient } from './common.js';

const RATE_WINDOW_S = 10;
const schedule = frameScheduler();
const client = startClient('platform', { snapshotViews: null });
const restaurants = new Map();  // rid -> {id, head, orders, gross, open_orders, devices, times: []}
const totals = new Map();       // rid/order id -> order total, for sales of orders seen created
const rows = new Map();
const dirty = new Set();
const eventTimes = [];          // arrival times (ms) of live events, all restaurants

function restaurant(id) {
  let r = restaurants.get(id);
  if (!r) {
    r = { id, head: 0, orders: 0, gross: 0, open_orders: 0, devices: new Set(), times: [] };
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

function showMetrics(m) {
  const box = document.getElementById('metrics');
  const entries = Object.entries(m).filter(([k]) => k !== 'at');
  box.replaceChildren(...entries.map(([k, v]) => el('div', { class: 'metric' }, el('span', { class: 'label' }, k.replace(/_/g, ' ')), el('span', { class: 'value' }, String(v)))));
  setText(document.getElementById('metrics-at'), new Date(m.at * 1000).toLocaleTimeString());
}

if (client) {
  client.on('snapshot', (doc) => {
    for (const x of doc.restaurants || []) {
      const r = restaurant(x.id);
      Object.assign(r, { head: x.head, orders: x.orders, gross: x.gross, open_orders: x.open_orders });
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
    const k = `${ev.restaurant}/${ev.aggregate_id}`;
    if (ev.event_type === 'order.created') {
      totals.set(k, ev.payload.total || 0);
      if (ev.payload.status === 'completed') { r.orders++; r.gross += ev.payload.total || 0; } else r.open_orders++;
    } else if (ev.event_type === 'order.updated' && (ev.payload.status === 'completed' || ev.payload.status === 'cancelled')) {
      if (ev.payload.status === 'completed') { r.orders++; r.gross += ev.payload.total ?? totals.get(k) ?? 0; }
      r.open_orders = Math.max(0, r.open_orders - 1);
      totals.delete(k);
    }
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
  client.on('metrics', showMetrics);
  // Rates fall when nothing comes: redraw them every second.
  setInterval(() => { for (const id of restaurants.keys()) dirty.add(id); schedule(render); }, 1000);
  client.start();
}
