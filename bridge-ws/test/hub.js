// hub.js: test helpers shared by the unit and browser tests: a real hub
// (test/hub.py over the integration harness), tokens signed with its
// secret (the tests' token issuer), and a till that submits over MQTT.
import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import { FynClient } from '../src/client.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..');

// nodes: hub nodes on one database; options: more plugin options ({key: value}).
export async function startHub({ httpDir = null, maxReplay = 50000, nodes = 1, options = {} } = {}) {
  const args = [path.join(here, 'hub.py'), '--max-replay', String(maxReplay), '--nodes', String(nodes)];
  if (httpDir) args.push('--http-dir', httpDir);
  for (const [k, v] of Object.entries(options)) args.push('--option', `${k}=${v}`);
  const proc = spawn('/usr/bin/python3', args, {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, FYNSYNC_SOURCE_DIR: process.env.FYNSYNC_SOURCE_DIR || ROOT },
  });
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error('test/hub.py exited (its error is above)');
    return JSON.parse(value);
  };
  const info = await next();
  const command = async (c) => { proc.stdin.write(`${c}\n`); return next(); };
  return {
    ...info,
    url: `ws://127.0.0.1:${info.ws_port}`,
    urls: info.nodes.map((n) => `ws://127.0.0.1:${n.ws_port}`),
    token: (claims) => sign(claims, info.secret),
    kill9: (node = 0) => command(`kill9 ${node}`),
    restart: (node = 0) => command(`start ${node}`),
    freezePostgres: () => command('freeze'),
    thawPostgres: () => command('thaw'),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;   // gone already (its error is above)
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.stdin.end('stop\n');
      await exited;
    },
  };
}

function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

export function sign({ sub, role, restaurants, ttl = 3600, exp }, secret) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub, role, iat: now, exp: exp ?? now + ttl };
  if (restaurants) claims.restaurants = restaurants;
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export function rid(prefix = 'r') {
  return `${prefix}-${randomUUID().slice(0, 6)}`;
}

// Resolves with the first value of event name for which test() holds.
export function waitFor(client, name, test = () => true, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no ${name} within ${timeoutMs} ms`)); }, timeoutMs);
    const off = client.on(name, (...args) => {
      if (test(...args)) { clearTimeout(timer); off(); resolve(args.length > 1 ? args : args[0]); }
    });
  });
}

export function waitState(client, state, timeoutMs = 10000) {
  return client.state === state ? Promise.resolve(state) : waitFor(client, 'state', (s) => s === state, timeoutMs);
}

// A submit-only device (a till) on the sync client itself.
export async function till(hub, restaurant, sub = `till-${randomUUID().slice(0, 4)}`, role = 'manager', url = hub.url) {
  const c = new FynClient({ url, token: hub.token({ sub, role, restaurants: [restaurant] }), clientId: sub, subscribe: false });
  await c.start();
  await waitState(c, 'live');
  return c;
}

// Resolves with the answer (the ack) to the submission with this id.
export function answered(client, id, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const offs = [];
    const done = (fn, value) => { clearTimeout(timer); offs.forEach((off) => off()); fn(value); };
    const timer = setTimeout(() => done(reject, new Error(`no answer to ${id} within ${timeoutMs} ms`)), timeoutMs);
    for (const name of ['accepted', 'rejected']) {
      offs.push(client.on(name, (entry, ack) => { if (entry.event.id === id) done(resolve, ack); }));
    }
  });
}

// Submits and resolves with the ack.
export async function submitted(client, restaurant, type, aggregate, payload) {
  const entry = await client.submit(restaurant, type, aggregate, payload);
  return answered(client, entry.event.id);
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
