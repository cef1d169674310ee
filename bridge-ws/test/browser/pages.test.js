// pages.test.js: the dashboards in Debian's headless Chromium (playwright-core
// with executablePath; never `playwright install`), served by mosquitto's
// own http_dir from a real hub (test/hub.py). Tills and the subscribed
// device are the sync client under Node. Between a page and the WebSocket
// port sits a TCP proxy of the test's own, cut to take the page offline.
//
// Env: FYNSYNC_CHROMIUM (default /usr/bin/chromium-headless-shell),
// FYNSYNC_SCREENSHOT_DIR (screenshots of each page; ctest: the build tree),
// FYNSYNC_PAGES_DIR (built pages; default: built here into a temp dir).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { FynClient } from '../../src/client.js';
import { ROOT, answered, rid, sleep, startHub, submitted, till, waitFor, waitState } from '../hub.js';

const MAX_REPLAY = 50;
const ALERT_WINDOW_S = 3;
const CHROMIUM = process.env.FYNSYNC_CHROMIUM || '/usr/bin/chromium-headless-shell';
const SHOTS = process.env.FYNSYNC_SCREENSHOT_DIR || null;
let hub;
let browser;
let pagesDir;
let builtHere = false;

before(async () => {
  pagesDir = process.env.FYNSYNC_PAGES_DIR;
  if (!pagesDir) {
    pagesDir = mkdtempSync(path.join(os.tmpdir(), 'fynsync-pages-'));
    builtHere = true;
    execFileSync('node', [path.join(ROOT, 'bridge-ws', 'build.mjs'), pagesDir], { stdio: 'ignore' });
  }
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  // A short alert window: an alert clears within seconds of its cause.
  hub = await startHub({ httpDir: pagesDir, maxReplay: MAX_REPLAY, options: { alert_window: ALERT_WINDOW_S } });
  browser = await chromium.launch({ executablePath: CHROMIUM });
});

after(async () => {
  await browser?.close();
  await hub?.stop();
  if (builtHere) rmSync(pagesDir, { recursive: true, force: true });
});

// A TCP proxy to the hub's WebSocket port that the test can cut and restore.
async function proxy() {
  const sockets = new Set();
  let cut = false;
  const server = net.createServer((inbound) => {
    if (cut) { inbound.destroy(); return; }
    const outbound = net.connect(hub.ws_port, '127.0.0.1');
    for (const [a, b] of [[inbound, outbound], [outbound, inbound]]) {
      sockets.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => { sockets.delete(a); b.destroy(); });
      a.pipe(b);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    sever() { cut = true; for (const s of sockets) s.destroy(); },
    restore() { cut = false; },
    close() { this.sever(); server.close(); },
  };
}

// Opens page (owner, kitchen, platform) with a token for claims; collects
// console errors, page errors and every WebSocket frame received.
async function open(name, claims, { ws = null, viewport = { width: 1280, height: 900 } } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const seen = { errors: [], pageErrors: [], frames: [] };
  page.on('console', (m) => { if (m.type() === 'error') seen.errors.push(m.text()); });
  page.on('pageerror', (e) => seen.pageErrors.push(e.message));
  page.on('websocket', (socket) => socket.on('framereceived', ({ payload }) => seen.frames.push(Buffer.from(payload))));
  const token = hub.token(claims);
  const query = new URLSearchParams({ token });
  if (ws) query.set('ws', ws);
  await page.goto(`http://127.0.0.1:${hub.ws_port}/${name}.html?${query}`);
  await live(page);
  return { page, context, seen };
}

function live(page, timeout = 15000) {
  return page.waitForFunction(() => window.fynsync?.client?.state === 'live', null, { timeout });
}

const owner = (r, sub = 'olivia') => ({ sub, role: 'restaurant_owner', restaurants: [r] });
const order = (total = 1250, table = 7) => ({ status: 'open', total, table, items: [{ item_id: 'burger', qty: 1, price: total, cost: 410 }] });

async function shoot(page, name) {
  if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
}

async function seedMenu(t, r) {
  await submitted(t, r, 'menu.updated', 'burger', { item_id: 'burger', name: 'Burger', price: 1250, cost: 410, available: true, profit_margin: 0.67 });
  await submitted(t, r, 'menu.updated', 'fries', { item_id: 'fries', name: 'Fries', price: 450, cost: 90, available: true });
  await submitted(t, r, 'inventory.adjusted', 'burger', { item_id: 'burger', level: 30, low_threshold: 20 });
  await submitted(t, r, 'inventory.adjusted', 'fries', { item_id: 'fries', level: 12, low_threshold: 20 });
}

describe('pages', () => {
  test('each page loads with no console errors, on a laptop and on a tablet', async () => {
    const r = rid('load');
    const t = await till(hub, r);
    await seedMenu(t, r);
    await submitted(t, r, 'order.created', 'order-1', order());
    const o = `order-${Date.now() % 10000}`;
    await submitted(t, r, 'order.created', o, order(450, 3));
    await submitted(t, r, 'order.updated', o, { status: 'completed' });
    const pages = [
      ['owner', owner(r)],
      ['kitchen', { sub: 'kim', role: 'kitchen', restaurants: [r] }],
      ['platform', { sub: 'pat', role: 'platform_owner' }],
    ];
    for (const [name, claims] of pages) {
      for (const [size, viewport] of [['laptop', { width: 1280, height: 900 }], ['tablet', { width: 768, height: 1024 }]]) {
        const { page, context, seen } = await open(name, claims, { viewport });
        await page.waitForTimeout(300);
        await shoot(page, `${name}-${size}`);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.deepEqual(seen.errors, [], `${name} console errors`);
        assert.deepEqual(seen.pageErrors, [], `${name} page errors`);
        assert.ok(overflow <= 0, `${name} fits a ${viewport.width} px wide screen (overflow ${overflow} px)`);
        await context.close();
      }
    }
    await t.close();
  });

  test('an order from a till is on the owner page and the kitchen display within 1 s; the kitchen moves it on', async () => {
    const r = rid('live');
    const t = await till(hub, r);
    await seedMenu(t, r);
    const own = await open('owner', owner(r));
    const kds = await open('kitchen', { sub: 'kim', role: 'kitchen', restaurants: [r] });
    const id = 'order-1842';
    const sent = Date.now();
    await submitted(t, r, 'order.created', id, order(1250, 12));
    const row = own.page.locator(`tr[data-order="${id}"]`);
    const ticket = kds.page.locator(`#col-open article[data-order="${id}"]`);
    await row.waitFor({ timeout: 1000 });
    await ticket.waitFor({ timeout: 1000 });
    assert.ok(Date.now() - sent < 1500);
    assert.equal(await row.locator('.id').textContent(), id);
    assert.equal(await row.locator('.table').textContent(), '12');
    assert.match(await ticket.textContent(), /table 12/);

    await ticket.locator('button').click();
    await kds.page.locator(`#col-preparing article[data-order="${id}"]`).waitFor({ timeout: 1000 });
    await own.page.locator(`tr[data-order="${id}"] td.status[data-status="preparing"]`).waitFor({ timeout: 2000 });
    await kds.page.locator(`#col-preparing article[data-order="${id}"] button`).click();
    await kds.page.locator(`#col-ready article[data-order="${id}"]`).waitFor({ timeout: 1000 });
    await own.page.locator(`tr[data-order="${id}"] td.status[data-status="ready"]`).waitFor({ timeout: 2000 });
    await kds.page.waitForFunction(() => window.fynsync.client.outbox.size === 0);
    assert.deepEqual([...own.seen.pageErrors, ...kds.seen.pageErrors], []);
    await own.context.close();
    await kds.context.close();
    await t.close();
  });

  test('a menu edit on the owner page reaches a subscribed till', async () => {
    const r = rid('menu');
    const t = await till(hub, r);
    await seedMenu(t, r);
    const device = new FynClient({ url: hub.url, token: hub.token({ sub: 'pos-1', role: 'staff', restaurants: [r] }) });
    await device.start();
    await waitState(device, 'live');
    const own = await open('owner', owner(r));
    const input = own.page.locator('tr[data-item="burger"] input');
    await input.fill('13.75');
    const arrives = waitFor(device, 'event', (ev) => ev.event_type === 'menu.updated' && ev.payload.price === 1375, 1500);
    await own.page.locator('tr[data-item="burger"] button').click();
    const ev = await arrives;
    assert.equal(ev.payload.cost, undefined, 'the staff till reads the redacted view');
    await own.context.close();
    await device.close();
    await t.close();
  });

  test('managers and staff never receive cost or profit_margin, in any WebSocket frame or on screen', async () => {
    const r = rid('redact');
    const t = await till(hub, r);
    await seedMenu(t, r);
    await submitted(t, r, 'order.created', 'o-before', order());
    const pages = await Promise.all([
      open('owner', { sub: 'mia', role: 'manager', restaurants: [r] }),
      open('owner', { sub: 'sam', role: 'staff', restaurants: [r] }),
      open('owner', owner(r)),
    ]);
    await submitted(t, r, 'order.created', 'o-live', order());
    await submitted(t, r, 'menu.updated', 'burger', { item_id: 'burger', cost: 420, profit_margin: 0.66 });
    for (const p of pages) await p.page.locator('tr[data-order="o-live"]').waitFor({ timeout: 2000 });
    await sleep(300);
    const [manager, staff, own] = pages;
    for (const [who, p] of [['manager', manager], ['staff', staff]]) {
      const all = Buffer.concat(p.seen.frames).toString('latin1');
      assert.ok(all.includes('o-live') && all.includes('"price"'), `${who} frames were captured`);
      assert.ok(!all.includes('"cost"') && !all.includes('profit_margin'), `${who} received cost or profit_margin`);
      const text = await p.page.evaluate(() => document.body.innerText);
      assert.doesNotMatch(text, /cost|profit/i, `${who} sees a cost or profit figure`);
      await shoot(p.page, `owner-${who}`);
    }
    const ownerFrames = Buffer.concat(own.seen.frames).toString('latin1');
    assert.ok(ownerFrames.includes('"cost"'), 'the owner gets the full view (the inspection works)');
    assert.match(await own.page.evaluate(() => document.body.innerText), /gross profit/i);
    for (const p of pages) await p.context.close();
    await t.close();
  });
});

describe('platform', () => {
  const platformOwner = { sub: 'pat', role: 'platform_owner' };

  test('every node\'s metrics are shown; an alert (PostgreSQL frozen) appears at once and goes when cleared', async () => {
    const r = rid('alert');
    const t = await till(hub, r);
    await submitted(t, r, 'order.created', 'a-0', order());   // the writer is connected
    const { page, context, seen } = await open('platform', platformOwner);
    const nodeRow = page.locator('#nodes tr[data-status="ok"]');
    await nodeRow.waitFor({ timeout: 10000 });
    assert.equal(await page.locator('#nodes tr').count(), 1, 'one node');
    assert.match(await nodeRow.locator('td').nth(3).textContent(), /^up$/);
    assert.equal(await page.locator('#alerts').getAttribute('data-raised'), '0');
    const alert = page.locator('#alerts .alert[data-alert$="/store_query_time"]');
    await hub.freezePostgres();
    try {
      t.submit(r, 'order.created', 'a-1', order());
      await alert.waitFor({ timeout: 10000 });
      assert.match(await alert.textContent(), /store query time .* \(threshold 500 ms\)/);
      await page.locator('#nodes tr[data-status="alert"]').waitFor({ timeout: 2000 });
      await shoot(page, 'platform-alert');
    } finally {
      await hub.thawPostgres();
    }
    await alert.waitFor({ state: 'detached', timeout: (ALERT_WINDOW_S + 15) * 1000 });
    await page.locator('#alerts[data-raised="0"]').waitFor({ timeout: 2000 });
    if (t.outbox.size) await waitFor(t, 'outbox', (entries) => entries.length === 0, 20000);   // taken after the thaw
    assert.deepEqual(seen.pageErrors, []);
    await context.close();
    await t.close();
  });

  test('an order opened before the page and completed after it counts in today\'s sales', async () => {
    const r = rid('sales');
    const t = await till(hub, r);
    await submitted(t, r, 'order.created', 'p-1', order(1250));
    await submitted(t, r, 'order.created', 'p-2', order(700));
    const { page, context, seen } = await open('platform', platformOwner);
    const cells = page.locator(`#restaurants tr[data-restaurant="${r}"] td`);
    const shows = async (orders, gross, open) => {
      await page.waitForFunction(([id, o, g, n]) => {
        const tds = document.querySelectorAll(`#restaurants tr[data-restaurant="${id}"] td`);
        return tds.length && tds[2].textContent === o && tds[3].textContent === g && tds[4].textContent === n;
      }, [r, String(orders), gross, String(open)], { timeout: 5000 }).catch(async () => {
        assert.fail(`${r} shows ${await cells.allTextContents()}, not ${orders} orders, ${gross}, ${open} open`);
      });
    };
    await shows(0, '£0.00', 2);
    await submitted(t, r, 'order.updated', 'p-1', { status: 'completed' });
    await shows(1, '£12.50', 1);
    await submitted(t, r, 'order.created', 'p-3', order(450));
    await submitted(t, r, 'order.updated', 'p-3', { status: 'completed' });
    await shows(2, '£17.00', 1);
    await submitted(t, r, 'order.updated', 'p-2', { status: 'completed' });
    await shows(3, '£24.00', 0);
    assert.deepEqual(seen.pageErrors, []);
    await context.close();
    await t.close();
  });
});

describe('offline and back', () => {
  test('cut off while tills submit: the events come without a reload', async () => {
    const r = rid('catch');
    const t = await till(hub, r);
    const link = await proxy();
    const own = await open('owner', owner(r), { ws: link.url });
    await own.page.evaluate(() => { window.notReloaded = true; });
    await submitted(t, r, 'order.created', 'o-0', order());
    await own.page.locator('tr[data-order="o-0"]').waitFor({ timeout: 2000 });
    link.sever();
    await own.page.waitForFunction(() => window.fynsync.client.state !== 'live');
    await own.page.locator('#state[data-state="offline"], #state[data-state="connecting"]').waitFor();
    for (let i = 1; i <= 10; i++) await submitted(t, r, 'order.created', `o-${i}`, order());
    link.restore();
    await own.page.locator('tr[data-order="o-10"]').waitFor({ timeout: 25000 });
    assert.equal(await own.page.locator('#orders tr').count(), 11);
    assert.equal(await own.page.evaluate(() => window.notReloaded), true);
    await live(own.page);
    await own.context.close();
    link.close();
    await t.close();
  });

  test('the same after the broker is killed (-9) and started again', async () => {
    const r = rid('kill');
    const t0 = await till(hub, r);
    await submitted(t0, r, 'order.created', 'k-0', order());
    await t0.close();
    const own = await open('owner', owner(r));
    await own.page.locator('tr[data-order="k-0"]').waitFor({ timeout: 2000 });
    await own.page.evaluate(() => { window.notReloaded = true; });
    await hub.kill9();
    await own.page.waitForFunction(() => window.fynsync.client.state !== 'live');
    await hub.restart();
    const t = await till(hub, r);
    for (let i = 1; i <= 5; i++) await submitted(t, r, 'order.created', `k-${i}`, order());
    await own.page.locator('tr[data-order="k-5"]').waitFor({ timeout: 30000 });
    assert.equal(await own.page.locator('#orders tr').count(), 6);
    assert.equal(await own.page.evaluate(() => window.notReloaded), true);
    await own.context.close();
    await t.close();
  });

  test('an edit made while cut off survives a reload and is delivered exactly once', async () => {
    const r = rid('outbox');
    const t = await till(hub, r);
    await seedMenu(t, r);
    const device = new FynClient({ url: hub.url, token: hub.token({ sub: 'pos-2', role: 'manager', restaurants: [r] }) });
    const prices = [];
    device.on('event', (ev) => { if (ev.event_type === 'menu.updated' && ev.payload.price === 1995) prices.push(ev.seq); });
    await device.start();
    await waitState(device, 'live');
    const link = await proxy();
    const own = await open('owner', owner(r), { ws: link.url });
    link.sever();
    await own.page.waitForFunction(() => window.fynsync.client.state !== 'live');
    await own.page.locator('tr[data-item="burger"] input').fill('19.95');
    await own.page.locator('tr[data-item="burger"] button').click();
    await own.page.locator('#pending', { hasText: '1 edit' }).waitFor();
    await own.page.reload();
    await own.page.locator('#pending', { hasText: '1 edit' }).waitFor({ timeout: 5000 });
    link.restore();
    await own.page.evaluate(() => window.dispatchEvent(new Event('online')));
    await live(own.page, 25000);
    await own.page.waitForFunction(() => window.fynsync.client.outbox.size === 0, null, { timeout: 10000 });
    await own.page.locator('tr[data-item="burger"]:not(.pending) input').waitFor();
    assert.equal(await own.page.locator('tr[data-item="burger"] input').inputValue(), '19.95');
    await sleep(500);
    assert.equal(prices.length, 1, 'delivered exactly once');
    await own.context.close();
    link.close();
    await device.close();
    await t.close();
  });

  test('too much missed: the page reloads its state from a snapshot, the old one on screen until then', async () => {
    const r = rid('snap');
    const t = await till(hub, r);
    await submitted(t, r, 'order.created', 's-0', order());
    const link = await proxy();
    const own = await open('owner', owner(r), { ws: link.url });
    await own.page.locator('tr[data-order="s-0"]').waitFor({ timeout: 2000 });
    await own.page.evaluate(() => {
      window.fewestRows = Infinity;
      window.snapshots = 0;
      window.fynsync.client.on('snapshot', () => window.snapshots++);
      new MutationObserver(() => { window.fewestRows = Math.min(window.fewestRows, document.querySelectorAll('#orders tr').length); })
        .observe(document.getElementById('orders'), { childList: true });
    });
    link.sever();
    await own.page.waitForFunction(() => window.fynsync.client.state !== 'live');
    for (let i = 1; i <= MAX_REPLAY + 10; i++) t.submit(r, 'order.created', `s-${i}`, order());
    await waitFor(t, 'outbox', (entries) => entries.length === 0, 20000);
    link.restore();
    await own.page.evaluate(() => window.dispatchEvent(new Event('online')));
    await own.page.locator(`tr[data-order="s-${MAX_REPLAY + 10}"]`).waitFor({ timeout: 25000 });
    assert.ok(await own.page.evaluate(() => window.snapshots) >= 1, 'a snapshot was taken');
    assert.ok(await own.page.evaluate(() => window.fewestRows) > 0, 'the orders never went blank');
    await own.context.close();
    link.close();
    await t.close();
  });
});
