// bench/failover.mjs: the sync client moving between hub nodes (issue 12),
// figures of docs/benchmarks.md. Two brokers on one PostgreSQL
// (test/hub.py --nodes 2); one client given both URLs; a till on each node.
// RUNS times: kill -9 the node the client is on, submit on the other at
// once, and time kill -> the client live again on the other node, and
// kill -> that event applied; the killed node is started again. At the end
// the client must hold every seq once.
// usage: FYNSYNC_PLUGIN=build/plugin/fynsync.so node bridge-ws/bench/failover.mjs [RUNS]
import { FynClient } from '../src/client.js';
import { rid, sleep, startHub, submitted, till, waitState } from '../test/hub.js';

const RUNS = Number(process.argv[2] || 10);
const hub = await startHub({ nodes: 2 });
const r = rid('failover');
const order = { status: 'open', total: 100, items: [] };
const c = new FynClient({ urls: hub.urls, token: hub.token({ sub: 'bench', role: 'restaurant_owner', restaurants: [r] }) });
const seen = new Map();   // seq -> when applied
c.on('event', (ev) => seen.set(ev.seq, Date.now()));
await c.start();
await waitState(c, 'live');
const tills = [await till(hub, r, 'till-0', 'manager', hub.urls[0]), await till(hub, r, 'till-1', 'manager', hub.urls[1])];
const live = [];
const applied = [];
for (let k = 0; k < RUNS; k++) {
  const node = hub.urls.indexOf(c.url);
  const other = tills[1 - node];
  await submitted(other, r, 'order.created', `before-${k}`, order);
  await sleep(200);
  const t0 = Date.now();
  await hub.kill9(node);
  const ack = await submitted(other, r, 'order.created', `after-${k}`, order);
  while (c.state !== 'live' || !seen.has(ack.seq)) await sleep(2);
  live.push(Date.now() - t0);
  applied.push(seen.get(ack.seq) - t0);
  await hub.restart(node);
  await sleep(300);
}
const seqs = [...seen.keys()].sort((a, b) => a - b);
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
console.log(JSON.stringify({
  runs: RUNS,
  kill_to_live_ms: { min: Math.min(...live), p50: pct(live, 0.5), max: Math.max(...live) },
  kill_to_event_ms: { min: Math.min(...applied), p50: pct(applied, 0.5), max: Math.max(...applied) },
  events: seqs.length, every_seq_once: seqs.every((s, i) => s === i + 1),
}));
for (const t of tills) await t.close();
await c.close();
await hub.stop();
