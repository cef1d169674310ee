// bench/pages.mjs: the dashboards' figures of docs/benchmarks.md, in
// Debian's headless Chromium against a real hub (test/hub.py) on loopback:
//   1. bundle sizes (gzip), from build.mjs's sizes.json;
//   2. opening the owner page -> its first live event, while tills submit;
//   3. submit -> visible (the order's row in the DOM) p50/p99 at RATE
//      events/s for SECONDS, with the longest main-thread task meanwhile;
//   4. catching up CATCHUP missed events after a cut, and the longest
//      main-thread task meanwhile (from a Chromium trace: RunTask on the
//      renderer's main thread).
// usage: FYNSYNC_PLUGIN=build/plugin/fynsync.so node bridge-ws/bench/pages.mjs [RATE SECONDS CATCHUP]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { ROOT, rid, sleep, startHub, till } from '../test/hub.js';

const [RATE, SECONDS, CATCHUP] = [Number(process.argv[2] || 200), Number(process.argv[3] || 10), Number(process.argv[4] || 10000)];
const CHROMIUM = process.env.FYNSYNC_CHROMIUM || '/usr/bin/chromium-headless-shell';

const pagesDir = mkdtempSync(path.join(os.tmpdir(), 'fynsync-bench-pages-'));
execFileSync('node', [path.join(ROOT, 'bridge-ws', 'build.mjs'), pagesDir], { stdio: 'ignore' });
const sizes = JSON.parse(readFileSync(path.join(pagesDir, 'sizes.json'), 'utf8'));
const hub = await startHub({ httpDir: pagesDir });
const browser = await chromium.launch({ executablePath: CHROMIUM });
const out = { machine: `${os.cpus().length} x ${os.cpus()[0].model}`, loadAverage: os.loadavg().map((x) => x.toFixed(1)).join(' '), chromium: browser.version(), sizes };

function pct(values, p) {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))];
}

async function longestTask(page, fn) {
  await browser.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'] });
  const result = await fn();
  const trace = JSON.parse((await browser.stopTracing()).toString());
  const events = trace.traceEvents || trace;
  const mains = new Set(events.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  // dur is wall time; tdur the main thread's CPU time in the task (on a
  // loaded machine the thread also waits for a core inside a task).
  let longest = { dur: 0, tdur: 0 };
  for (const e of events) if (e.name === 'RunTask' && e.dur && mains.has(`${e.pid}:${e.tid}`) && e.dur > longest.dur) longest = e;
  let longestCpu = 0;
  for (const e of events) if (e.name === 'RunTask' && e.tdur && mains.has(`${e.pid}:${e.tid}`)) longestCpu = Math.max(longestCpu, e.tdur);
  return { ...result, longestTaskMs: Number((longest.dur / 1000).toFixed(1)), longestTaskCpuMs: Number(((longest.tdur || 0) / 1000).toFixed(1)),
    mostCpuInOneTaskMs: Number((longestCpu / 1000).toFixed(1)) };
}

// Submits order.created events at rate per second from two tills; returns
// {id: epoch ms submitted}.
async function steady(tills, r, rate, seconds) {
  const sent = {};
  const start = Date.now();
  let n = 0;
  while (Date.now() - start < seconds * 1000) {
    const due = Math.floor(((Date.now() - start) / 1000) * rate);
    for (; n < due; n++) {
      const id = `b-${n}`;
      sent[id] = Date.now();
      tills[n % tills.length].submit(r, 'order.created', id, { status: 'open', total: 100 + (n % 900), table: n % 30, items: [{ item_id: 'burger', qty: 1, price: 1250 }] });
    }
    await sleep(2);
  }
  return sent;
}

function ownerUrl(r, ws) {
  const q = new URLSearchParams({ token: hub.token({ sub: 'bench-owner', role: 'restaurant_owner', restaurants: [r] }) });
  if (ws) q.set('ws', ws);
  return `http://127.0.0.1:${hub.ws_port}/owner.html?${q}`;
}

try {
  // 2 and 3: open the page while tills submit; then measure submit -> visible.
  const r = rid('bench');
  const tills = [await till(hub, r, 'bench-till-1'), await till(hub, r, 'bench-till-2')];
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const background = steady(tills, r, 20, 3);
  await page.goto(ownerUrl(r));
  await page.waitForFunction(() => window.fynsync?.firstEventAt !== null && window.fynsync?.firstEventAt !== undefined, null, { timeout: 20000 });
  out.open = await page.evaluate(() => ({ liveMs: Number(window.fynsync.liveAt.toFixed(0)), firstEventMs: Number(window.fynsync.firstEventAt.toFixed(0)) }));
  await background;
  await sleep(500);
  await page.evaluate(() => {
    window.seenAt = {};
    new MutationObserver((records) => {
      const now = performance.timeOrigin + performance.now();
      for (const rec of records) for (const n of rec.addedNodes) if (n.dataset?.order && !(n.dataset.order in window.seenAt)) window.seenAt[n.dataset.order] = now;
    }).observe(document.getElementById('orders'), { childList: true });
  });
  const acked = {};
  for (const t of tills) t.on('accepted', (entry) => { acked[entry.event.aggregate_id] = Date.now(); });
  const steadyResult = await longestTask(page, async () => {
    const sent = await steady(tills, r, RATE, SECONDS);
    await sleep(1500);
    const seen = await page.evaluate(() => window.seenAt);
    const lat = Object.entries(sent).filter(([id]) => id in seen).map(([id, t]) => seen[id] - t);
    const ack = Object.entries(sent).filter(([id]) => id in acked).map(([id, t]) => acked[id] - t);
    return {
      submitted: Object.keys(sent).length, visible: lat.length,
      p50Ms: Number(pct(lat, 50).toFixed(1)), p99Ms: Number(pct(lat, 99).toFixed(1)), maxMs: Number(Math.max(...lat).toFixed(1)),
      ackP50Ms: pct(ack, 50), ackP99Ms: pct(ack, 99),
    };
  });
  out.steady = { rate: RATE, seconds: SECONDS, ...steadyResult };
  await page.context().close();

  // 4: catch-up of CATCHUP missed events.
  const r2 = rid('catch');
  const t2 = [await till(hub, r2, 'catch-till-1'), await till(hub, r2, 'catch-till-2')];
  const sockets = new Set();
  let cut = false;
  const server = net.createServer((a) => {
    if (cut) { a.destroy(); return; }
    const b = net.connect(hub.ws_port, '127.0.0.1');
    for (const [x, y] of [[a, b], [b, a]]) { sockets.add(x); x.on('error', () => y.destroy()); x.on('close', () => { sockets.delete(x); y.destroy(); }); x.pipe(y); }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const p2 = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await p2.goto(ownerUrl(r2, `ws://127.0.0.1:${server.address().port}`));
  await p2.waitForFunction(() => window.fynsync?.client?.state === 'live', null, { timeout: 20000 });
  cut = true;
  for (const s of sockets) s.destroy();
  await p2.waitForFunction(() => window.fynsync.client.state !== 'live');
  const writeStart = Date.now();
  for (let i = 0; i < CATCHUP; i++) t2[i % 2].submit(r2, 'order.created', `c-${i}`, { status: 'open', total: 500, items: [{ item_id: 'fries', qty: 1, price: 500 }] });
  while (t2.some((t) => t.outbox.size > 0)) await sleep(50);
  out.catchup = { events: CATCHUP, writeMs: Date.now() - writeStart };
  const caught = await longestTask(p2, async () => {
    cut = false;
    const t0 = await p2.evaluate(() => { window.dispatchEvent(new Event('online')); return performance.now(); });
    await p2.waitForFunction((n) => window.fynsync.client.streams.get(n.r)?.seq >= n.head && document.querySelector(`tr[data-order="c-${n.last}"]`),
      { r: r2, head: CATCHUP, last: CATCHUP - 1 }, { timeout: 120000, polling: 20 }).catch(async (err) => {
      const st = await p2.evaluate((n) => { const c = window.fynsync.client; const s = c.streams.get(n); return { state: c.state, seq: s?.seq, phase: s?.phase, buffer: s?.buffer.size }; }, r2);
      throw new Error(`catch-up did not finish: ${JSON.stringify(st)}: ${err.message}`);
    });
    const t1 = await p2.evaluate(() => performance.now());
    return { catchUpMs: Number((t1 - t0).toFixed(0)) };
  });
  Object.assign(out.catchup, caught, await p2.evaluate(() => ({ longTasksOver50ms: window.fynsync.longTasks })));
  server.close();
  for (const t of [...tills, ...t2]) await t.close();
} finally {
  await browser.close();
  await hub.stop();
  rmSync(pagesDir, { recursive: true, force: true });
}
out.loadAverageAfter = os.loadavg().map((x) => x.toFixed(1)).join(' ');
console.log(JSON.stringify(out, null, 2));
