// kitchen.js: /kitchen.html, the kitchen display. Tickets by status (open,
// preparing, ready) in large type; one tap moves a ticket on (open ->
// preparing -> ready) at once, and back with the reason if the hub refuses.
// A kitchen reads orders only (a partial view of the stream): the client
// resumes after every reconnect and never takes a jump in seq for a gap.
import { clock, el, frameScheduler, notice, setText, startClient } from './common.js';

const NEXT = { open: 'preparing', preparing: 'ready' };
const ACTION = { open: 'Start', preparing: 'Ready' };
const SHOWN = new Set(['open', 'preparing', 'ready']);
const schedule = frameScheduler();

const client = startClient('kitchen', { snapshotViews: ['orders'] });
const orders = new Map();     // rid/order id -> order (confirmed)
const tickets = new Map();    // rid/order id -> ticket node
const dirty = new Set();
let pendingStatus = new Map(); // rid/order id -> status not yet confirmed
let all = true;

const key = (rid, id) => `${rid}/${id}`;

function statusOf(k) {
  return pendingStatus.get(k) ?? orders.get(k)?.status;
}

function ticket(k, o) {
  const button = el('button', { class: 'advance', onclick: () => advance(k) });
  const node = el('article', { class: 'ticket', 'data-order': o.order_id },
    el('header', {}, el('span', { class: 'id' }), el('span', { class: 'table' })),
    el('ul', { class: 'items' }), el('footer', {}, el('time', {}), button));
  return node;
}

function fill(node, k, o) {
  const status = statusOf(k);
  const [head, items, foot] = node.children;
  setText(head.children[0], o.order_id);
  setText(head.children[1], o.table !== undefined ? `table ${o.table}` : '');
  const text = (o.items || []).map((i) => `${i.qty || 1}× ${i.name || i.item_id}`).join('\n');
  if (items.dataset.text !== text) {
    items.dataset.text = text;
    items.replaceChildren(...(o.items || []).map((i) => el('li', {}, `${i.qty || 1}× ${i.name || i.item_id}`)));
  }
  setText(foot.children[0], clock(o.created_at));
  const button = foot.children[1];
  button.hidden = !NEXT[status];
  setText(button, ACTION[status] || '');
  node.dataset.status = status;
  node.classList.toggle('pending', pendingStatus.has(k));
}

function place(k) {
  const o = orders.get(k);
  const status = o && statusOf(k);
  let node = tickets.get(k);
  if (!o || !SHOWN.has(status)) {
    node?.remove();
    tickets.delete(k);
    return;
  }
  if (!node) {
    node = ticket(k, o);
    tickets.set(k, node);
  }
  fill(node, k, o);
  const column = document.getElementById(`col-${status}`);
  if (node.parentElement !== column) {
    // Oldest first: insert before the first ticket created after this one.
    const after = [...column.children].find((n) => (orders.get(n.dataset.key)?.created_seq ?? 0) > (o.created_seq ?? 0));
    node.dataset.key = k;
    column.insertBefore(node, after || null);
  }
}

function render() {
  if (all) {
    for (const s of SHOWN) document.getElementById(`col-${s}`).replaceChildren();
    tickets.clear();
    const keys = [...orders.keys()].sort((a, b) => orders.get(a).created_seq - orders.get(b).created_seq);
    for (const k of keys) place(k);
  } else {
    for (const k of dirty) place(k);
  }
  for (const s of SHOWN) setText(document.getElementById(`n-${s}`), document.getElementById(`col-${s}`).children.length);
  dirty.clear();
  all = false;
}

async function advance(k) {
  const status = statusOf(k);
  const next = NEXT[status];
  if (!next) return;
  const [rid, ...rest] = k.split('/');
  await client.submit(rid, 'order.updated', rest.join('/'), { status: next });
}

if (client) {
  client.on('snapshot', (doc) => {
    if (doc.stream === 'platform') return;
    for (const k of [...orders.keys()]) if (k.startsWith(`${doc.stream}/`)) orders.delete(k);
    for (const o of doc.orders || []) orders.set(key(doc.stream, o.order_id), o);
    all = true;
    schedule(render);
  });
  client.on('event', (ev) => {
    if (!ev.event_type.startsWith('order.')) return;
    const k = key(ev.restaurant, ev.aggregate_id);
    if (ev.event_type === 'order.created') {
      orders.set(k, { ...ev.payload, order_id: ev.aggregate_id, created_seq: ev.seq, created_at: ev.created_at });
    } else {
      const o = orders.get(k) || { order_id: ev.aggregate_id, created_seq: ev.seq, created_at: ev.created_at };
      orders.set(k, Object.assign(o, ev.payload));
    }
    dirty.add(k);
    schedule(render);
  });
  client.on('outbox', (entries) => {
    const next = new Map();
    for (const e of entries) {
      if (e.event.event_type === 'order.updated') next.set(key(e.rid, e.event.aggregate_id), e.event.payload.status);
    }
    for (const k of new Set([...next.keys(), ...pendingStatus.keys()])) dirty.add(k);
    pendingStatus = next;
    schedule(render);
  });
  client.on('rejected', (entry, ack) => notice(`order ${entry.event.aggregate_id}: ${ack.code}${ack.reason ? ` (${ack.reason})` : ''}`));
  client.on('session', (s) => setText(document.getElementById('rid'), (s.restaurants || []).join(', ')));
  client.start();
}
