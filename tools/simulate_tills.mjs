// simulate_tills.mjs: the demo restaurant's devices for `./fynsync up`, on
// the sync client (bridge-ws/src/client.js) under Node, as a real POS
// would run it: tills open orders (with a table) and complete them once
// the kitchen has them ready, adjusting inventory; a kitchen device moves
// each new order to preparing, then ready. Every submission goes through
// the client's outbox, so a hub restart loses nothing. Stopped by
// `./fynsync stop`.
//
// usage: FYNSYNC_TILL_TOKENS="TOKEN [TOKEN...]" FYNSYNC_KITCHEN_TOKEN=TOKEN \
//        node tools/simulate_tills.mjs WS_URL[,WS_URL...] RESTAURANT
// (one token per till; tills must be allowed to write menu and inventory;
// several URLs: hub nodes, each device moves to the next when one is lost)
import { FynClient } from '../bridge-ws/src/client.js';

const [urlList, rid] = process.argv.slice(2);
const urls = urlList.split(',');
const MENU = [['burger', 'Burger', 1250, 410], ['fries', 'Fries', 450, 90], ['cola', 'Cola', 300, 60], ['salad', 'Salad', 850, 240]];
const pick = (list) => list[Math.floor(Math.random() * list.length)];
const between = (lo, hi) => lo + Math.random() * (hi - lo);
const later = (lo, hi, fn) => setTimeout(fn, between(lo, hi) * 1000);

function device(token, clientId, options = {}) {
  const c = new FynClient({ urls, token, clientId, watchOnline: false, ...options });
  c.on('state', (s) => console.log(`${new Date().toISOString()} ${clientId}: ${s}`));
  c.on('rejected', (entry, ack) => console.log(`${clientId}: ${entry.event.event_type} ${entry.event.aggregate_id} rejected: ${ack.code} ${ack.reason || ''}`));
  c.on('error', () => {});
  return c;
}

const tills = process.env.FYNSYNC_TILL_TOKENS.split(/\s+/).filter(Boolean)
  .map((t, i) => device(t, `demo-till-${i + 1}`, { snapshotViews: i === 0 ? ['orders'] : null, subscribe: i === 0 }));
const kitchen = device(process.env.FYNSYNC_KITCHEN_TOKEN, 'demo-kitchen-1', { snapshotViews: ['orders'] });
const orders = new Map();   // order id -> items, for the inventory when it completes

// The kitchen takes each new order: preparing after a few seconds, then ready.
kitchen.on('event', (ev) => {
  if (ev.replay || ev.event_type !== 'order.created') return;
  later(1, 4, () => kitchen.submit(rid, 'order.updated', ev.aggregate_id, { status: 'preparing' }));
  later(5, 10, () => kitchen.submit(rid, 'order.updated', ev.aggregate_id, { status: 'ready' }));
});

// The first till completes what is ready and takes the stock off.
tills[0].on('event', (ev) => {
  if (ev.replay || ev.event_type !== 'order.updated' || ev.payload.status !== 'ready') return;
  later(1, 3, () => {
    tills[0].submit(rid, 'order.updated', ev.aggregate_id, { status: 'completed' });
    for (const item of orders.get(ev.aggregate_id) || []) {
      tills[0].submit(rid, 'inventory.adjusted', item.item_id, { item_id: item.item_id, delta: -item.qty });
    }
    orders.delete(ev.aggregate_id);
  });
});

function openOrder() {
  const till = pick(tills);
  const items = [...new Set([...Array(1 + Math.floor(Math.random() * 3))].map(() => pick(MENU)))]
    .map(([id, , price, cost]) => ({ item_id: id, qty: 1 + Math.floor(Math.random() * 2), price, cost }));
  const id = `order-${Math.random().toString(16).slice(2, 8)}`;
  orders.set(id, items);
  till.submit(rid, 'order.created', id, {
    status: 'open', table: 1 + Math.floor(Math.random() * 20),
    total: items.reduce((sum, i) => sum + i.qty * i.price, 0), items,
  });
  later(2, 6, openOrder);
}

await Promise.all([...tills, kitchen].map((c) => c.start()));
for (const [id, name, price, cost] of MENU) {
  tills[0].submit(rid, 'menu.updated', id, { item_id: id, name, price, cost, available: true });
  tills[0].submit(rid, 'inventory.adjusted', id, { item_id: id, level: 200, low_threshold: 20 });
}
openOrder();
process.on('SIGTERM', async () => {
  await Promise.all([...tills, kitchen].map((c) => c.close()));
  process.exit(0);
});
