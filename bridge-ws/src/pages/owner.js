// owner.js: /owner.html, a restaurant as its owner, a manager or staff see
// it, in the view the hub gives their token (cost and profit only in the
// `full` view: the hub removes them from everything a redacted view gets,
// and this page draws no cost or profit figure unless the view is full).
//
// Live orders, today's sales by hour (uPlot), inventory (red when low),
// the employee feed and the menu, whose prices can be edited. The state
// per restaurant starts from a snapshot and takes each event as it comes;
// the DOM is updated once per frame, and only where something changed.
import uPlot from 'uplot';

import { clock, el, frameScheduler, localDay, money, notice, setText, startClient } from './common.js';

const ORDER_ROWS = 60;
const FEED_ROWS = 30;
const CHART_MIN_INTERVAL_MS = 500;
const schedule = frameScheduler();

const client = startClient('owner', { snapshotViews: ['orders', 'menu', 'inventory', 'sales', 'employees'] });
const models = new Map();   // rid -> model
let current = null;          // rid shown
let full = false;            // the session's view shows cost and profit

function itemsCost(items) {
  let cost = 0;
  for (const i of items || []) if (typeof i.cost === 'number') cost += i.cost * (i.qty || 1);
  return cost;
}

// A model from a snapshot: complete before it replaces the one on screen.
function modelFromSnapshot(doc) {
  const tz = doc.sales?.time_zone || 'Europe/London';
  const today = localDay(null, tz).day;
  const m = {
    rid: doc.stream, tz, today, head: doc.head,
    orders: new Map(), menu: new Map(), inventory: new Map(), employees: new Map(), feed: [],
    byHour: new Array(24).fill(0), salesOrders: 0, gross: 0, cost: 0,
  };
  for (const o of doc.orders || []) {
    m.orders.set(o.order_id, o);
    if (o.status === 'completed' && localDay(o.completed_at, tz).day === today) m.cost += itemsCost(o.items);
  }
  for (const i of doc.menu || []) m.menu.set(i.item_id, i);
  for (const i of doc.inventory || []) m.inventory.set(i.item_id, i);
  for (const e of doc.employees || []) m.employees.set(e.created_by, e);
  const day = (doc.sales?.days || []).find((d) => d.day === today);
  if (day) {
    m.salesOrders = day.orders;
    m.gross = day.gross;
    for (const h of day.by_hour) m.byHour[h.hour] = h.gross;
  }
  return m;
}

// ---- what changed since the last frame ------------------------------------

const dirtyShown = { orders: new Set(), menu: new Set(), inventory: new Set(), employees: new Set(), feed: 0, sales: false, all: true };
const dirty = dirtyShown;
const presence = {};   // rid -> Map(client id -> presence)

function markAll() {
  dirty.all = true;
  schedule(render);
}

// Changes to a restaurant not on screen need no drawing: its model is
// drawn whole when it is chosen.
function unseen() {
  return { orders: new Set(), menu: new Set(), inventory: new Set(), employees: new Set(), feed: 0, sales: false };
}

function applyEvent(m, ev) {
  const dirty = m.rid === current ? dirtyShown : unseen();
  const p = ev.payload || {};
  const [domain] = ev.event_type.split('.');
  if (ev.event_type === 'order.created') {
    m.orders.set(ev.aggregate_id, { ...p, order_id: ev.aggregate_id, created_seq: ev.seq, created_at: ev.created_at });
    dirty.orders.add(ev.aggregate_id);
  } else if (ev.event_type === 'order.updated') {
    const o = m.orders.get(ev.aggregate_id) || { order_id: ev.aggregate_id, created_seq: ev.seq, created_at: ev.created_at, total: 0 };
    const wasCompleted = o.status === 'completed';
    Object.assign(o, p);
    m.orders.set(ev.aggregate_id, o);
    if (o.status === 'completed' && !wasCompleted) {
      const { day, hour } = localDay(ev.created_at, m.tz);
      if (day === m.today) {
        m.salesOrders++;
        m.gross += o.total || 0;
        m.byHour[hour] += o.total || 0;
        m.cost += itemsCost(o.items);
        dirty.sales = true;
      }
    }
    dirty.orders.add(ev.aggregate_id);
  } else if (ev.event_type === 'menu.updated') {
    m.menu.set(p.item_id || ev.aggregate_id, { ...(m.menu.get(p.item_id || ev.aggregate_id) || {}), ...p });
    dirty.menu.add(p.item_id || ev.aggregate_id);
  } else if (ev.event_type === 'inventory.adjusted' || ev.event_type === 'inventory.low') {
    const id = p.item_id || ev.aggregate_id;
    const i = m.inventory.get(id) || { item_id: id, level: 0, low_threshold: null };
    if (typeof p.level === 'number') i.level = p.level;
    else if (typeof p.delta === 'number') i.level += p.delta;
    if ('low_threshold' in p) i.low_threshold = p.low_threshold;
    i.low = ev.event_type === 'inventory.low' || (i.low_threshold !== null && i.level <= i.low_threshold);
    m.inventory.set(id, i);
    dirty.inventory.add(id);
  }
  if (ev.created_by !== 'hub') {
    const e = m.employees.get(ev.created_by) || { created_by: ev.created_by, events: 0, orders: 0 };
    e.events++;
    if (ev.event_type === 'order.created') e.orders++;
    e.last_seen = ev.created_at;
    m.employees.set(ev.created_by, e);
    dirty.employees.add(ev.created_by);
  }
  m.feed.unshift({ at: ev.created_at, by: ev.created_by, type: ev.event_type, id: ev.aggregate_id, domain, seq: ev.seq });
  if (m.feed.length > FEED_ROWS) m.feed.length = FEED_ROWS;
  dirty.feed++;
  m.head = ev.seq;
}

// ---- the page -----------------------------------------------------------

const $ = (id) => document.getElementById(id);
const rows = { orders: new Map(), menu: new Map(), inventory: new Map(), employees: new Map() };
let chart = null;
let chartDrawnAt = 0;
let chartTimer = null;

// Edits not answered yet, from the outbox: item id -> price shown meanwhile.
let pendingPrices = new Map();

function orderRow(o) {
  const tr = el('tr', { 'data-order': o.order_id },
    el('td', { class: 'id' }), el('td', { class: 'table' }), el('td', { class: 'status' }),
    el('td', { class: 'items' }), el('td', { class: 'num total' }), el('td', { class: 'time' }));
  updateOrderRow(tr, o);
  return tr;
}

function updateOrderRow(tr, o) {
  const [id, table, status, items, total, time] = tr.children;
  setText(id, o.order_id);
  setText(table, o.table ?? '');
  setText(status, o.status || '');
  status.dataset.status = o.status || '';
  const menu = models.get(current)?.menu;
  setText(items, (o.items || []).map((i) => `${i.qty || 1}× ${i.name || menu?.get(i.item_id)?.name || i.item_id}`).join(', '));
  setText(total, money(o.total));
  setText(time, clock(o.created_at));
}

function renderOrders(m) {
  const body = $('orders');
  const top = () => [...m.orders.values()].sort((a, b) => b.created_seq - a.created_seq).slice(0, ORDER_ROWS);
  if (dirty.all || dirty.orders.size > ORDER_ROWS / 2) {
    const keep = new Map();
    const list = top().map((o) => {
      const tr = rows.orders.get(o.order_id) || orderRow(o);
      updateOrderRow(tr, o);
      keep.set(o.order_id, tr);
      return tr;
    });
    body.replaceChildren(...list);
    rows.orders = keep;
  } else {
    for (const id of dirty.orders) {
      const o = m.orders.get(id);
      const tr = rows.orders.get(id);
      if (tr) updateOrderRow(tr, o);
      else {
        const row = orderRow(o);
        rows.orders.set(id, row);
        body.prepend(row);
        while (body.children.length > ORDER_ROWS) {
          const last = body.lastElementChild;
          rows.orders.delete(last.dataset.order);
          last.remove();
        }
      }
    }
  }
  let open = 0;
  for (const o of m.orders.values()) if (o.status !== 'completed' && o.status !== 'cancelled') open++;
  setText($('open-orders'), open);
}

function renderSales(m) {
  setText($('sales-orders'), m.salesOrders);
  setText($('sales-gross'), money(m.gross));
  if (full) {
    setText($('sales-cost'), money(m.cost));
    setText($('sales-profit'), money(m.gross - m.cost));
  }
  const draw = () => {
    chartTimer = null;
    chartDrawnAt = performance.now();
    const data = [[...Array(24).keys()], m.byHour.map((g) => g / 100)];
    if (!chart) {
      const box = $('chart');
      chart = new uPlot({
        width: Math.max(280, box.clientWidth), height: 220,
        scales: { x: { time: false } },
        axes: [{ label: 'hour' }, { label: '£', size: 60 }],
        series: [{ label: 'hour' }, { label: 'sales £', fill: 'rgba(40,120,200,0.35)', stroke: '#2878c8', paths: uPlot.paths.bars({ size: [0.8, 40] }) }],
        legend: { show: false },
      }, data, box);
      new ResizeObserver(() => chart.setSize({ width: Math.max(280, box.clientWidth), height: 220 })).observe(box);
    } else {
      chart.setData(data);
    }
  };
  const wait = CHART_MIN_INTERVAL_MS - (performance.now() - chartDrawnAt);
  if (wait <= 0) draw();
  else if (!chartTimer) chartTimer = setTimeout(() => schedule(draw), wait);
}

function inventoryRow(i) {
  return el('tr', { 'data-item': i.item_id }, el('td', {}), el('td', { class: 'num' }), el('td', { class: 'num' }));
}

function renderInventory(m) {
  const body = $('inventory');
  const ids = dirty.all ? [...m.inventory.keys()].sort() : [...dirty.inventory];
  for (const id of ids) {
    const i = m.inventory.get(id);
    let tr = rows.inventory.get(id);
    if (!tr) {
      tr = inventoryRow(i);
      rows.inventory.set(id, tr);
      body.append(tr);
    }
    const [name, level, threshold] = tr.children;
    setText(name, m.menu.get(id)?.name || id);
    setText(level, i.level);
    setText(threshold, i.low_threshold ?? '');
    tr.classList.toggle('low', !!i.low);
  }
}

function menuRow(item) {
  const input = el('input', { type: 'number', step: '0.01', min: '0', 'aria-label': `price of ${item.item_id}` });
  const save = el('button', { class: 'save', onclick: () => editPrice(item.item_id, input) }, 'Save');
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') editPrice(item.item_id, input); });
  const cells = [el('td', { class: 'name' }), el('td', { class: 'num price' }, input, save)];
  if (full) cells.push(el('td', { class: 'num cost' }));
  cells.push(el('td', { class: 'available' }));
  return el('tr', { 'data-item': item.item_id }, ...cells);
}

function updateMenuRow(tr, item) {
  const cells = tr.children;
  setText(cells[0], item.name || item.item_id);
  const input = cells[1].firstChild;
  const pending = pendingPrices.get(item.item_id);
  const shown = pending ?? item.price;
  if (document.activeElement !== input) input.value = typeof shown === 'number' ? (shown / 100).toFixed(2) : '';
  tr.classList.toggle('pending', pending !== undefined);
  if (full) setText(cells[2], money(item.cost));
  setText(cells[cells.length - 1], item.available === false ? 'no' : 'yes');
}

function renderMenu(m) {
  const body = $('menu');
  const ids = dirty.all ? [...m.menu.keys()].sort() : [...dirty.menu];
  for (const id of ids) {
    const item = m.menu.get(id) || { item_id: id };
    let tr = rows.menu.get(id);
    if (!tr) {
      tr = menuRow(item);
      rows.menu.set(id, tr);
      body.append(tr);
    }
    updateMenuRow(tr, item);
    const inv = rows.inventory.get(id);
    if (inv) setText(inv.firstChild, item.name || id);
  }
}

function renderEmployees(m) {
  const body = $('employees');
  const ids = dirty.all ? [...m.employees.keys()].sort() : [...dirty.employees];
  for (const id of ids) {
    const e = m.employees.get(id);
    let tr = rows.employees.get(id);
    if (!tr) {
      tr = el('tr', {}, el('td', {}), el('td', { class: 'num' }), el('td', { class: 'num' }), el('td', {}));
      rows.employees.set(id, tr);
      body.append(tr);
    }
    const [who, events, orders, seen] = tr.children;
    setText(who, id);
    setText(events, e.events);
    setText(orders, e.orders);
    setText(seen, clock(e.last_seen));
  }
  const feed = $('feed');
  const fresh = dirty.all ? m.feed.length : Math.min(dirty.feed, FEED_ROWS);
  const items = m.feed.slice(0, fresh).map((f) => el('li', { 'data-domain': f.domain },
    el('time', {}, clock(f.at)), ' ', el('b', {}, f.by), ` ${f.type} `, el('code', {}, f.id)));
  if (dirty.all) feed.replaceChildren(...items);
  else feed.prepend(...items);
  while (feed.children.length > FEED_ROWS) feed.lastElementChild.remove();
}

function render() {
  const m = models.get(current);
  if (!m) return;
  if (dirty.all) {
    for (const id of ['orders', 'menu', 'inventory', 'employees']) { $(id).replaceChildren(); rows[id] = new Map(); }
  }
  if (dirty.all || dirty.orders.size) renderOrders(m);
  if (dirty.all || dirty.sales) renderSales(m);
  if (dirty.all || dirty.menu.size) renderMenu(m);
  if (dirty.all || dirty.inventory.size) renderInventory(m);
  if (dirty.all || dirty.employees.size || dirty.feed) renderEmployees(m);
  setText($('head'), `seq ${m.head}`);
  dirty.orders.clear(); dirty.menu.clear(); dirty.inventory.clear(); dirty.employees.clear();
  dirty.feed = 0; dirty.sales = false; dirty.all = false;
}

async function editPrice(itemId, input) {
  const price = Math.round(Number(input.value) * 100);
  if (!Number.isFinite(price) || price < 0) {
    notice('a price is a number of pounds, e.g. 12.50');
    return;
  }
  input.blur();
  await client.submit(current, 'menu.updated', itemId, { item_id: itemId, price });
}

function showPending(entries) {
  const next = new Map();
  for (const e of entries) {
    if (e.rid === current && e.event.event_type === 'menu.updated') next.set(e.event.payload.item_id, e.event.payload.price);
  }
  for (const id of new Set([...next.keys(), ...pendingPrices.keys()])) dirty.menu.add(id);
  pendingPrices = next;
  schedule(render);
}

function showRestaurants(session) {
  const select = $('restaurant');
  const list = session.restaurants || [];
  select.replaceChildren(...list.map((r) => el('option', { value: r }, r)));
  select.hidden = list.length < 2;
  setText($('rid'), current || '');
  select.value = current;
}

if (client) {
  client.on('session', (s) => {
    full = s.view === 'full';
    document.body.classList.toggle('full', full);
    // A redacted view has no cost or profit figure: the places for them go.
    for (const node of document.querySelectorAll('.full-only')) {
      if (full) node.hidden = false;
      else node.remove();
    }
    if (!current || !s.restaurants.includes(current)) current = s.restaurants[0] || null;
    showRestaurants(s);
  });
  $('restaurant').addEventListener('change', (e) => {
    current = e.target.value;
    setText($('rid'), current);
    setText($('devices'), presence[current]?.size ?? 0);
    markAll();
  });
  client.on('snapshot', (doc) => {
    if (doc.stream === 'platform') return;
    models.set(doc.stream, modelFromSnapshot(doc));
    if (doc.stream === current) markAll();
  });
  client.on('event', (ev) => {
    const m = models.get(ev.restaurant);
    if (!m) return;
    applyEvent(m, ev);
    if (ev.restaurant === current) schedule(render);
  });
  client.on('outbox', showPending);
  client.on('rejected', (entry, ack) => notice(`${entry.event.event_type} ${entry.event.aggregate_id} refused: ${ack.code}${ack.reason ? ` (${ack.reason})` : ''}`));
  client.on('presence', (r, cid, doc) => {
    const set = (presence[r] ||= new Map());
    if (doc) set.set(cid, doc); else set.delete(cid);
    setText($('devices'), presence[current]?.size ?? 0);
  });
  client.start();
}
