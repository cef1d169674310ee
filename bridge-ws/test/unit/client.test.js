// client.test.js: the sync client (src/client.js) against a real hub
// (PostgreSQL + mosquitto + the fynsync plugin, test/hub.py): backoff,
// session info, order and dedup, gap buffering and resume, partial views,
// snapshot_required, outbox retry, rollback and persistence, token refresh,
// reconnect and catch-up, refusal. Run: node --test test/unit/
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';

import { FynClient, backoffDelay } from '../../src/client.js';
import { memoryStorage } from '../../src/storage.js';
import { answered, rid, sleep, startHub, submitted, till, waitFor, waitState } from '../hub.js';

const MAX_REPLAY = 40;
let hub;

before(async () => { hub = await startHub({ maxReplay: MAX_REPLAY }); });
after(async () => { await hub?.stop(); });

// A client whose MQTT connection can be made to drop chosen incoming
// messages and records what it publishes.
function tapped(options) {
  const tap = { drop: () => false, published: [], connections: [] };
  const connect = (url, opts) => {
    const m = mqtt.connect(url, opts);
    const emit = m.emit.bind(m);
    m.emit = (name, ...args) => (name === 'message' && tap.drop(args[0], JSON.parse(args[1].toString() || 'null')) ? true : emit(name, ...args));
    const publish = m.publish.bind(m);
    m.publish = (topic, payload, ...rest) => { tap.published.push([topic, JSON.parse(payload)]); return publish(topic, payload, ...rest); };
    tap.connections.push(m);
    return m;
  };
  const client = new FynClient({ url: hub.url, connect, ...options });
  return { client, tap };
}

function collect(client) {
  const seen = [];
  client.on('event', (ev) => seen.push(ev));
  return seen;
}

async function until(check, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

const order = (total = 1250) => ({ status: 'open', total, items: [{ item_id: 'burger', qty: 1, price: total, cost: 410 }] });

describe('backoff', () => {
  test('full jitter below a cap doubling from 0.5 s to 20 s', () => {
    const caps = [...Array(10).keys()].map((n) => backoffDelay(n, () => 0.999999) + 1);
    assert.deepEqual(caps, [500, 1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000, 20000]);
    for (let n = 0; n < 10; n++) assert.equal(backoffDelay(n, () => 0), 0);
    const draws = [...Array(200)].map(() => backoffDelay(3));
    assert.ok(draws.every((d) => d >= 0 && d < 4000));
    assert.ok(new Set(draws).size > 50, 'jittered');
  });

  test('reconnect attempts follow the schedule while the hub is unreachable', async () => {
    const delays = [];
    const c = new FynClient({ url: 'ws://127.0.0.1:1', token: hub.token({ sub: 'u', role: 'staff', restaurants: ['x'] }), random: () => 0.5 });
    const after = c.after.bind(c);
    c.after = (ms, fn) => { delays.push(ms); return after(Math.min(ms, 5), fn); };
    await c.start();
    await until(() => delays.length >= 5);
    await c.close();
    assert.deepEqual(delays.slice(0, 5), [250, 500, 1000, 2000, 4000]);
    assert.equal(c.state, 'offline');
  });
});

describe('session and live events', () => {
  test('states, session info, events in seq order exactly once', async () => {
    const r = rid();
    const states = [];
    const c = new FynClient({ url: hub.url, token: hub.token({ sub: 'olivia', role: 'restaurant_owner', restaurants: [r] }) });
    c.on('state', (s) => states.push(s));
    const seen = collect(c);
    const session = waitFor(c, 'session');
    await c.start();
    assert.equal((await session).view, 'full');
    await waitState(c, 'live');
    assert.deepEqual(states, ['connecting', 'connected', 'resuming', 'live']);
    const t = await till(hub, r);
    for (let i = 0; i < 5; i++) assert.equal((await submitted(t, r, 'order.created', `o${i}`, order())).status, 'accepted');
    await until(() => seen.length === 5);
    assert.deepEqual(seen.map((e) => e.seq), [1, 2, 3, 4, 5]);
    assert.equal(seen[0].payload.items[0].cost, 410, 'the owner reads the full view');
    await t.close();
    await c.close();
  });

  test('a duplicate and an old seq are dropped', async () => {
    const r = rid();
    const c = new FynClient({ url: hub.url, token: hub.token({ sub: 'olivia', role: 'restaurant_owner', restaurants: [r] }) });
    const seen = collect(c);
    await c.start();
    await waitState(c, 'live');
    const t = await till(hub, r);
    await submitted(t, r, 'order.created', 'o1', order());
    await until(() => seen.length === 1);
    c.onEvent({ ...seen[0] });
    c.onEvent({ ...seen[0], seq: 0 });
    await submitted(t, r, 'order.created', 'o2', order());
    await until(() => seen.length === 2);
    assert.deepEqual(seen.map((e) => e.seq), [1, 2]);
    await t.close();
    await c.close();
  });
});

describe('gaps', () => {
  test('a lost event is buffered around, then resumed within a second and applied in order', async () => {
    const r = rid();
    const { client: c, tap } = tapped({ token: hub.token({ sub: 'olivia', role: 'restaurant_owner', restaurants: [r] }), gapMs: 300 });
    const seen = collect(c);
    await c.start();
    await waitState(c, 'live');
    tap.drop = (topic, doc) => topic.startsWith('fynlo/v1/ev/') && doc.seq === 2 && !doc.replay;
    const t = await till(hub, r);
    for (let i = 1; i <= 4; i++) await submitted(t, r, 'order.created', `o${i}`, order());
    await until(() => seen.length === 4, 5000);
    assert.deepEqual(seen.map((e) => e.seq), [1, 2, 3, 4]);
    assert.equal(seen[1].replay, true, 'seq 2 came from the replay');
    const resumes = tap.published.filter(([topic]) => topic === 'fynlo/v1/ctl/resume').map(([, p]) => p.streams);
    assert.deepEqual(resumes.at(-1), { [r]: 1 });
    await sleep(300);
    assert.equal(seen.length, 4, 'replayed copies of 3 and 4 were dropped');
    await t.close();
    await c.close();
  });

  test('a partial view (kitchen) takes jumps in seq without resuming', async () => {
    const r = rid();
    const { client: k, tap } = tapped({ token: hub.token({ sub: 'kim', role: 'kitchen', restaurants: [r] }), gapMs: 200 });
    const seen = collect(k);
    await k.start();
    await waitState(k, 'live');
    assert.equal(k.session.streams[r], 'some');
    const resumesBefore = tap.published.filter(([topic]) => topic === 'fynlo/v1/ctl/resume').length;
    const t = await till(hub, r);
    await submitted(t, r, 'order.created', 'o1', order());
    await submitted(t, r, 'menu.updated', 'burger', { item_id: 'burger', price: 1300 });
    await submitted(t, r, 'order.updated', 'o1', { status: 'preparing' });
    await until(() => seen.length === 2);
    await sleep(400);
    assert.deepEqual(seen.map((e) => [e.seq, e.event_type]), [[1, 'order.created'], [3, 'order.updated']]);
    assert.equal(seen[0].payload.items[0].cost, undefined, 'redacted');
    assert.equal(tap.published.filter(([topic]) => topic === 'fynlo/v1/ctl/resume').length, resumesBefore, 'no resume for a jump');
    await t.close();
    await k.close();
  });
});

describe('resume and snapshot', () => {
  test('reconnecting resumes: events submitted while cut off arrive once, in order', async () => {
    const r = rid();
    const { client: c, tap } = tapped({ token: hub.token({ sub: 'olivia', role: 'restaurant_owner', restaurants: [r] }), random: () => 0 });
    const seen = collect(c);
    await c.start();
    await waitState(c, 'live');
    const t = await till(hub, r);
    await submitted(t, r, 'order.created', 'o1', order());
    await until(() => seen.length === 1);
    const { url } = c;
    c.urls[0] = 'ws://127.0.0.1:1';   // reconnects fail until the events are in
    tap.connections.at(-1).stream.destroy();
    await waitState(c, 'offline');
    for (let i = 2; i <= 6; i++) await submitted(t, r, 'order.created', `o${i}`, order());
    c.urls[0] = url;
    c.reconnectNow();
    await waitState(c, 'live');
    await until(() => seen.length === 6);
    assert.deepEqual(seen.map((e) => e.seq), [1, 2, 3, 4, 5, 6]);
    assert.ok(seen.slice(1).every((e) => e.replay));
    await t.close();
    await c.close();
  });

  test('snapshot_required: a snapshot, then resume from its head', async () => {
    const r = rid();
    const t = await till(hub, r);
    for (let i = 0; i < MAX_REPLAY + 5; i++) await t.submit(r, 'order.created', `o${i}`, order());
    await until(() => t.outbox.size === 0, 20000);
    const storage = memoryStorage();
    await storage.setSeqs({ [r]: 1 });
    const c = new FynClient({ url: hub.url, storage, token: hub.token({ sub: 'olivia', role: 'restaurant_owner', restaurants: [r] }) });
    const snapshot = waitFor(c, 'snapshot');
    await c.start();
    const doc = await snapshot;
    assert.equal(doc.head, MAX_REPLAY + 5);
    assert.equal(doc.orders.length, MAX_REPLAY + 5);
    await waitState(c, 'live');
    const seen = collect(c);
    await submitted(t, r, 'order.created', 'after', order());
    await until(() => seen.length === 1);
    assert.equal(seen[0].seq, MAX_REPLAY + 6);
    await c.flushSeqs();
    assert.deepEqual(await storage.getSeqs(), { [r]: MAX_REPLAY + 6 });
    await t.close();
    await c.close();
  });

  test('snapshotViews: a page starts from a snapshot of each stream, then goes live', async () => {
    const r = rid();
    const t = await till(hub, r);
    await submitted(t, r, 'order.created', 'o1', order());
    const c = new FynClient({ url: hub.url, snapshotViews: ['orders'], token: hub.token({ sub: 'mia', role: 'manager', restaurants: [r] }) });
    const snaps = [];
    c.on('snapshot', (d) => snaps.push(d));
    await c.start();
    await waitState(c, 'live');
    const mine = snaps.find((d) => d.stream === r);
    assert.equal(mine.head, 1);
    assert.equal(mine.orders[0].items[0].cost, undefined, 'the manager gets the redacted view');
    await t.close();
    await c.close();
  });
});

describe('outbox', () => {
  test('rejected submissions are reported and leave the outbox', async () => {
    const r = rid();
    const t = await till(hub, r);
    assert.equal((await submitted(t, r, 'order.created', 'dup', order())).status, 'accepted');
    const ack = await submitted(t, r, 'order.created', 'dup', order());
    assert.equal(ack.status, 'rejected');
    assert.equal(ack.code, 'conflict');
    assert.equal(t.outbox.size, 0);
    await t.close();
  });

  test('an unanswered submission is sent again with the same id and stored once', async () => {
    const r = rid();
    const { client: c, tap } = tapped({ token: hub.token({ sub: 'mia', role: 'manager', restaurants: [r] }), ackTimeoutMs: 400 });
    await c.start();
    await waitState(c, 'live');
    let dropped = 0;
    tap.drop = (topic) => topic.endsWith('/ack') && dropped++ === 0;
    const entry = await c.submit(r, 'order.created', 'o1', order());
    const ack = await answered(c, entry.event.id);
    assert.equal(ack.status, 'accepted');
    assert.equal(ack.seq, 1, 'stored once');
    const sent = tap.published.filter(([topic]) => topic.startsWith('fynlo/v1/in/'));
    assert.ok(sent.length >= 2);
    assert.ok(sent.every(([, ev]) => ev.id === entry.event.id));
    await c.close();
  });

  test('the outbox survives a restart: kept while offline, sent once connected', async () => {
    const r = rid();
    const storage = memoryStorage();
    const token = hub.token({ sub: 'mia', role: 'manager', restaurants: [r] });
    const offline = new FynClient({ url: 'ws://127.0.0.1:1', token, storage, clientId: 'tab-1' });
    await offline.start();
    const entry = await offline.submit(r, 'menu.updated', 'burger', { item_id: 'burger', price: 1400 });
    await offline.close();
    assert.equal((await storage.getOutbox()).length, 1);
    const online = new FynClient({ url: hub.url, token, storage, clientId: 'tab-1' });
    const outboxAtStart = waitFor(online, 'outbox');
    const ack = answered(online, entry.event.id);
    await online.start();
    assert.equal((await outboxAtStart).length, 1, 'pending entries are shown at start');
    assert.equal((await ack).status, 'accepted');
    assert.equal((await storage.getOutbox()).length, 0);
    await online.close();
  });
});

describe('tokens', () => {
  test('getToken is called before expiry and the connection carries on with the new token', async () => {
    const r = rid();
    const first = hub.token({ sub: 'olivia', role: 'restaurant_owner', restaurants: [r], ttl: 62 });
    let issued = 0;
    const c = new FynClient({
      url: hub.url, token: first, refreshBeforeS: 61,
      getToken: async () => { issued++; return hub.token({ sub: 'olivia', role: 'restaurant_owner', restaurants: [r], ttl: 3600 }); },
    });
    const states = [];
    // Listening from the start: on a loaded machine the refresh (due 1 s
    // after the token was made) can be answered before the client is live.
    const token = waitFor(c, 'token', () => true, 15000);
    try {
      await c.start();
      await waitState(c, 'live');
      const afterLive = c.on('state', (s) => states.push(s));
      const exp = await token;
      assert.ok(exp > Date.now() / 1000 + 3000);
      assert.equal(issued, 1);
      await waitFor(c, 'session', (s) => s.exp === exp, 5000).catch(() => assert.equal(c.session.exp, exp));
      afterLive();
      assert.deepEqual(states, [], 'no reconnect');
    } finally {
      await c.close();
    }
  });

  test('a refused token ends in unauthorized, without retrying forever', async () => {
    const bad = hub.token({ sub: 'olivia', role: 'restaurant_owner', restaurants: ['x'], exp: Math.floor(Date.now() / 1000) - 10 });
    const c = new FynClient({ url: hub.url, token: bad });
    await c.start();
    await waitState(c, 'unauthorized');
    await sleep(700);
    assert.equal(c.state, 'unauthorized');
    await c.close();
  });
});
