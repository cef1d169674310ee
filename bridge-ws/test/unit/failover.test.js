// failover.test.js: the sync client given several hub nodes' URLs (issue
// 12), against two real brokers on one PostgreSQL (test/hub.py --nodes 2):
// a platform owner on either node is given every node's metrics and
// alerts; a node that cannot be reached is skipped for the next; a node killed
// (-9) under a live client sends it to the other node, where it resumes
// from its last seq and misses nothing. Run: node --test test/unit/
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { FynClient } from '../../src/client.js';
import { rid, sleep, startHub, submitted, till, waitState } from '../hub.js';

let hub;

before(async () => { hub = await startHub({ nodes: 2 }); });
after(async () => { await hub?.stop(); });

async function until(check, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

const order = (total = 1250) => ({ status: 'open', total, items: [{ item_id: 'burger', qty: 1, price: total }] });
const ownerOf = (r) => hub.token({ sub: 'olivia', role: 'restaurant_owner', restaurants: [r] });

describe('every node seen from any node', () => {
  test('a platform owner on one node is given both nodes\' metrics and alerts', async () => {
    const c = new FynClient({ url: hub.urls[1], token: hub.token({ sub: 'pat', role: 'platform_owner' }) });
    const metrics = new Map();
    const alerts = new Map();
    c.on('metrics', (doc, node) => { if (doc) metrics.set(node, doc); });
    c.on('alerts', (doc, node) => { if (doc) alerts.set(node, doc); });
    await c.start();
    await waitState(c, 'live');
    // Other nodes' documents come through the database every 5 s.
    await until(() => metrics.size === 2 && alerts.size === 2, 20000);
    assert.deepEqual([...metrics.keys()].sort(), ['node-0', 'node-1']);
    for (const [node, doc] of metrics) assert.equal(doc.node, node);
    for (const [node, doc] of alerts) {
      assert.equal(doc.node, node);
      assert.ok('store_query_time' in doc.alerts, 'the alert document lists each alert');
    }
    await c.close();
  });
});

describe('a list of hub URLs', () => {
  test('a node that cannot be reached is skipped for the next one', async () => {
    const r = rid('skip');
    const c = new FynClient({ urls: ['ws://127.0.0.1:1', hub.urls[1]], token: ownerOf(r), random: () => 0 });
    await c.start();
    await waitState(c, 'live');
    assert.equal(c.url, hub.urls[1]);
    await c.close();
  });

  test('a node killed under a live client: it resumes on the other node and misses nothing', async () => {
    const r = rid('fail');
    const c = new FynClient({ urls: hub.urls, token: ownerOf(r), gapMs: 300 });
    const seen = [];
    c.on('event', (ev) => seen.push(ev.seq));
    await c.start();
    await waitState(c, 'live');
    assert.equal(c.url, hub.urls[0]);
    const onA = await till(hub, r, 'till-a', 'manager', hub.urls[0]);
    for (let i = 0; i < 3; i++) assert.equal((await submitted(onA, r, 'order.created', `a-${i}`, order())).status, 'accepted');
    await until(() => seen.length === 3);
    await onA.close();

    const onB = await till(hub, r, 'till-b', 'manager', hub.urls[1]);
    const states = [];
    c.on('state', (s) => states.push(s));
    await hub.kill9(0);
    // Submitted while the client is between nodes, and after it arrived.
    for (let i = 0; i < 5; i++) assert.equal((await submitted(onB, r, 'order.created', `b-${i}`, order())).status, 'accepted');
    await waitState(c, 'live', 15000);
    for (let i = 5; i < 8; i++) assert.equal((await submitted(onB, r, 'order.created', `b-${i}`, order())).status, 'accepted');
    await until(() => seen.length >= 11);
    await sleep(300);
    assert.equal(c.url, hub.urls[1], 'moved to the other node');
    assert.ok(states.includes('offline') && states.includes('resuming'), `went offline and resumed (${states})`);
    assert.deepEqual(seen, [...Array(11).keys()].map((i) => i + 1), 'every seq once, in order');
    await onB.close();
    await c.close();
    await hub.restart(0);
  });
});
