// client.js: the fynsync sync client, one ES module for the browser (bundled
// by build.mjs), Node and React Native, on MQTT.js 5 (MQTT 5, the token as
// password). It never loses an event and never applies one twice:
//
//  - Connection: MQTT.js's own reconnect is off (it retries at a fixed
//    period); this client reconnects with exponential backoff and full
//    jitter (0.5 s doubling to 20 s), at once on the browser's `online`
//    event, and keeps its keepalive timers in a worker (timerVariant) so a
//    background tab is not dropped. Given several hub nodes' URLs, every
//    reconnect after a lost or failed connection goes to the next one (same
//    backoff), and resumes there from the last seq. States, emitted as
//    `state`: connecting -> connected -> resuming -> live, offline,
//    unauthorized.
//  - What to read: the hub's retained fynlo/v1/client/{cid}/session
//    (docs/protocol.md, "Session info") says the view, the filters and how
//    much of each stream the client reads; nothing here knows roles.
//  - Convergence: per stream the last applied seq (kept in storage). A
//    stream read whole is applied strictly in seq order: a gap is buffered
//    and, unless filled within gapMs, the stream is resumed. A stream read
//    in part (a kitchen) takes any higher seq, and is resumed after every
//    reconnect. `snapshot_required` -> snapshot, then resume from its head;
//    the `snapshot` event hands over a complete new state, so a page keeps
//    the old one on screen until then.
//  - Outbox: every submission is stored until answered, sent again with the
//    same id after each reconnect, after `unavailable` (with backoff) and
//    when unanswered for ackTimeoutMs; `accepted` and `rejected` are emitted.
//  - Tokens: getToken() is called before expiry and the new token sent on
//    ctl/token; reconnects use the newest token.
//
// Events (client.on(name, fn)): state, session, event (ev), snapshot (doc),
// outbox (entries), accepted (entry, ack), rejected (entry, ack),
// presence (rid, cid, doc|null), metrics (doc|null, node), alerts
// (doc|null, node), token (exp), error (err).

import mqtt from 'mqtt';
import { memoryStorage } from './storage.js';

export const STATES = ['connecting', 'connected', 'resuming', 'live', 'offline', 'unauthorized'];

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 20000;
const RESUME_MAX_STREAMS = 256;
const NOT_AUTHORIZED = new Set([0x86, 0x87, 0x8c]);

// Full jitter: a delay drawn uniformly from [0, min(max, min * 2^attempt)),
// never below 0 and at least 1 ms apart from zero so timers stay ordered.
export function backoffDelay(attempt, random = Math.random, min = BACKOFF_MIN_MS, max = BACKOFF_MAX_MS) {
  const cap = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * cap);
}

// The claims of a JWT (no verification: the hub verifies).
export function tokenClaims(token) {
  const part = String(token).split('.')[1] || '';
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const text = typeof atob === 'function' ? atob(b64) : Buffer.from(b64, 'base64').toString('binary');
  return JSON.parse(decodeURIComponent(escape(text)));
}

function uuid() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class FynClient {
  // options: url (ws://host:port, or a list of hub nodes' URLs; also as
  // urls), token, clientId; getToken (async () =>
  // new JWT), storage (see storage.js; memory by default), snapshotViews
  // (projection names to load at start, or null for none), subscribe
  // (false: a submit-only device), gapMs (1000), ackTimeoutMs (5000),
  // controlTimeoutMs (10000), refreshBeforeS (60), random, connect
  // (mqtt.connect), watchOnline (true in browsers).
  constructor(options) {
    this.urls = [].concat(options.urls || options.url);
    if (this.urls.length === 0 || this.urls.some((u) => typeof u !== 'string' || !u)) throw new Error('FynClient: url (or urls) is required');
    this.urlIndex = 0;
    this.token = options.token;
    this.claims = tokenClaims(options.token);
    this.clientId = options.clientId || `fyn-${uuid().slice(0, 8)}`;
    this.getToken = options.getToken || null;
    this.storage = options.storage || memoryStorage();
    this.snapshotViews = options.snapshotViews === undefined ? null : options.snapshotViews;
    this.subscribeEvents = options.subscribe !== false;
    this.gapMs = options.gapMs ?? 1000;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.controlTimeoutMs = options.controlTimeoutMs ?? 10000;
    this.refreshBeforeS = options.refreshBeforeS ?? 60;
    this.random = options.random || Math.random;
    this.connectFn = options.connect || mqtt.connect;
    this.watchOnline = options.watchOnline ?? (typeof window !== 'undefined' && !!window.addEventListener);
    this.listeners = new Map();
    this.state = 'offline';
    this.mqtt = null;
    this.attempt = 0;
    this.session = null;
    this.streams = new Map();   // stream -> {seq, scope, buffer: Map, gapTimer, phase}
    this.outbox = new Map();    // id -> entry
    this.control = new Map();   // key -> {topic, payload, sentAt}: unanswered control requests
    this.pendingToken = null;
    this.timers = new Set();
    this.closed = false;
    this.started = false;
    this.seqDirty = false;
    this.onOnline = () => this.reconnectNow();
  }

  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
    return () => this.listeners.get(name)?.delete(fn);
  }

  emit(name, ...args) {
    for (const fn of this.listeners.get(name) || []) {
      try {
        fn(...args);
      } catch (err) {
        if (name !== 'error') this.emit('error', err);
      }
    }
  }

  setState(state) {
    if (this.state !== state) {
      this.state = state;
      this.emit('state', state);
    }
  }

  after(ms, fn) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  cancel(t) {
    if (t) {
      clearTimeout(t);
      this.timers.delete(t);
    }
  }

  // Loads the stored seqs and outbox, then connects. Resolves once loaded.
  async start() {
    if (this.started) return;
    this.started = true;
    const seqs = (await this.storage.getSeqs()) || {};
    for (const [stream, seq] of Object.entries(seqs)) this.stream(stream).seq = seq;
    for (const entry of (await this.storage.getOutbox()) || []) this.outbox.set(entry.event.id, entry);
    if (this.outbox.size) this.emit('outbox', this.pending());
    this.loadedFromStorage = Object.keys(seqs).length > 0;
    if (this.watchOnline) window.addEventListener('online', this.onOnline);
    this.ticker = setInterval(() => this.tick(), 250);
    this.connect();
  }

  async close() {
    this.closed = true;
    if (this.watchOnline) window.removeEventListener('online', this.onOnline);
    clearInterval(this.ticker);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.streams.values()) s.gapTimer = null;
    await this.flushSeqs();
    const m = this.mqtt;
    this.mqtt = null;
    if (m) await new Promise((resolve) => m.end(true, {}, resolve));
    this.setState('offline');
  }

  // The URL of the hub node in use (or tried next).
  get url() {
    return this.urls[this.urlIndex];
  }

  stream(name) {
    let s = this.streams.get(name);
    if (!s) {
      s = { seq: 0, scope: 'whole', buffer: new Map(), gapTimer: null, phase: 'idle', snapshotDone: false };
      this.streams.set(name, s);
    }
    return s;
  }

  // ---- connection -------------------------------------------------------

  connect() {
    if (this.closed) return;
    this.cancel(this.reconnectTimer);
    this.reconnectTimer = null;
    const old = this.mqtt;
    if (old) {
      old.removeAllListeners();
      old.on('error', () => {});
      old.end(true);
    }
    this.setState('connecting');
    const token = this.pendingToken || this.token;
    const m = this.connectFn(this.url, {
      protocolVersion: 5,
      clientId: this.clientId,
      username: tokenClaims(token).sub,
      password: token,
      clean: true,
      keepalive: 20,
      reconnectPeriod: 0,
      connectTimeout: 10000,
      resubscribe: false,
      timerVariant: 'auto',
      queueQoSZero: false,
    });
    this.mqtt = m;
    this.session = null;
    m.on('connect', () => this.onConnect(m));
    m.on('message', (topic, payload) => this.onMessage(topic, payload));
    m.on('error', (err) => this.onError(m, err));
    m.on('disconnect', (packet) => this.onServerDisconnect(m, packet));
    m.on('close', () => this.onClose(m));
  }

  reconnectNow() {
    if (this.closed || this.state === 'live' || this.state === 'resuming' || this.state === 'connected') return;
    this.attempt = 0;
    this.connect();
  }

  scheduleReconnect() {
    if (this.closed || this.reconnectTimer) return;
    const delay = backoffDelay(this.attempt++, this.random);
    this.reconnectTimer = this.after(delay, () => {
      this.reconnectTimer = null;
      this.connect();
    });
  }

  onError(m, err) {
    if (m !== this.mqtt) return;
    if (NOT_AUTHORIZED.has(err?.code)) {
      this.unauthorized = true;
    }
    this.emit('error', err);
  }

  onServerDisconnect(m, packet) {
    if (m !== this.mqtt) return;
    // 0x98 (administrative action) is how the hub drops an expired token.
    if (packet?.reasonCode === 0x98 && this.claims.exp * 1000 <= Date.now() + 2000) this.unauthorized = true;
  }

  async onClose(m) {
    if (m !== this.mqtt || this.closed) return;
    this.mqtt = null;
    m.removeAllListeners();
    m.on('error', () => {});
    for (const s of this.streams.values()) {
      this.cancel(s.gapTimer);
      s.gapTimer = null;
      if (s.phase === 'replaying' || s.phase === 'live') s.phase = 'idle';
    }
    if (this.unauthorized) {
      this.unauthorized = false;
      const fresh = this.getToken ? await this.fetchToken() : null;
      if (!fresh) {
        this.setState('unauthorized');
        return;
      }
      this.pendingToken = fresh;
    }
    this.setState('offline');
    // The node is gone or unreachable: the next attempt goes to the next one.
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    this.scheduleReconnect();
  }

  async fetchToken() {
    try {
      const t = await this.getToken();
      return t && tokenClaims(t).exp * 1000 > Date.now() ? t : null;
    } catch (err) {
      this.emit('error', err);
      return null;
    }
  }

  onConnect(m) {
    if (m !== this.mqtt) return;
    this.attempt = 0;
    if (this.pendingToken) {
      this.token = this.pendingToken;
      this.claims = tokenClaims(this.token);
      this.pendingToken = null;
      this.emit('token', this.claims.exp);
    }
    this.setState('connected');
    m.subscribe(`fynlo/v1/client/${this.clientId}/#`, { qos: 1 });
  }

  publish(topic, payload) {
    if (this.mqtt?.connected) this.mqtt.publish(topic, JSON.stringify(payload), { qos: 1 });
  }

  // ---- session and resume ----------------------------------------------

  onSession(info) {
    const previous = this.sessionConn === this.mqtt ? this.session : null;
    this.session = info;
    this.sessionConn = this.mqtt;
    this.emit('session', info);
    if (previous) {
      this.onSessionChanged(previous, info);
      return;
    }
    const fresh = !this.sessionSeen;
    this.sessionSeen = true;
    this.subscribeFilters(info.filters);
    for (const [name, scope] of Object.entries(info.streams || {})) this.stream(name).scope = scope;
    this.resendOutbox();
    this.resendControl();
    this.scheduleRefresh();
    if (!this.subscribeEvents) {
      this.setState('live');
      return;
    }
    this.setState('resuming');
    if (fresh && info.every_restaurant) {
      this.requestSnapshot('platform', this.snapshotViews ? [...new Set([...this.snapshotViews, 'restaurants'])] : ['restaurants']);
    }
    const toResume = {};
    for (const name of Object.keys(info.streams || {})) this.startStream(name, toResume);
    if (info.every_restaurant) {
      for (const [name, s] of this.streams) {
        if (!(name in (info.streams || {})) && s.phase !== 'snapshotting' && (s.snapshotDone || !this.snapshotViews || s.seq > 0)) {
          toResume[name] = s.seq;
        }
      }
    }
    this.resume(toResume);
    this.checkLive();
  }

  subscribeFilters(filters, except = []) {
    if (!this.subscribeEvents) return;
    const own = `fynlo/v1/client/${this.clientId}/`;
    const wanted = filters.filter((f) => !f.startsWith(own) && !except.includes(f));
    if (wanted.length) this.mqtt.subscribe(wanted, { qos: 1 });
  }

  // Snapshot (pages) or resume (into toResume) one stream.
  startStream(name, toResume) {
    const s = this.stream(name);
    if (s.phase === 'snapshotting') return;
    if (this.snapshotViews && !s.snapshotDone) this.requestSnapshot(name, this.snapshotViews);
    else toResume[name] = s.seq;
  }

  // The same connection was told again (a token refresh, an ACL reload):
  // subscribe to new filters, drop old ones, start new streams.
  onSessionChanged(previous, info) {
    this.subscribeFilters(info.filters, previous.filters);
    const gone = previous.filters.filter((f) => !info.filters.includes(f));
    if (gone.length && this.subscribeEvents) this.mqtt.unsubscribe(gone);
    const toResume = {};
    for (const [name, scope] of Object.entries(info.streams || {})) {
      this.stream(name).scope = scope;
      if (!(name in (previous.streams || {})) && this.subscribeEvents) this.startStream(name, toResume);
    }
    if (Object.keys(toResume).length) {
      this.setState('resuming');
      this.resume(toResume);
    }
  }

  // ctl/resume for {stream: seq}, in requests of at most 256 streams.
  resume(streams) {
    const names = Object.keys(streams);
    for (let i = 0; i < names.length; i += RESUME_MAX_STREAMS) {
      const part = {};
      for (const n of names.slice(i, i + RESUME_MAX_STREAMS)) {
        part[n] = streams[n];
        const s = this.stream(n);
        s.phase = 'replaying';
        s.replayProgress = Date.now();
        this.cancel(s.gapTimer);
        s.gapTimer = null;
      }
      this.publish('fynlo/v1/ctl/resume', { streams: part });
    }
  }

  // Asks for a snapshot of one stream (views: projection names, null for
  // all): the `snapshot` event brings it, then the stream is resumed from its
  // head, its events in between held back meanwhile.
  snapshot(stream, views = null) {
    if (this.stream(stream).phase !== 'snapshotting') this.requestSnapshot(stream, views);
  }

  requestSnapshot(stream, views) {
    const s = this.stream(stream);
    s.phase = 'snapshotting';
    const payload = views ? { stream, views } : { stream };
    this.control.set(`snapshot:${stream}`, { topic: 'fynlo/v1/ctl/snapshot', payload, sentAt: Date.now() });
    this.publish('fynlo/v1/ctl/snapshot', payload);
  }

  resendControl() {
    for (const c of this.control.values()) {
      c.sentAt = Date.now();
      this.publish(c.topic, c.payload);
    }
  }

  checkLive() {
    if (this.state !== 'resuming' && this.state !== 'live') return;
    for (const s of this.streams.values()) {
      if (s.phase === 'replaying' || s.phase === 'snapshotting') return;
    }
    this.setState('live');
  }

  // ---- messages --------------------------------------------------------

  onMessage(topic, payload) {
    if (payload.length === 0) {   // a cleared retained message
      this.onCleared(topic);
      return;
    }
    let doc;
    try {
      doc = JSON.parse(payload.toString());
    } catch {
      return;
    }
    const own = `fynlo/v1/client/${this.clientId}/`;
    if (topic.startsWith('fynlo/v1/ev/')) {
      this.onEvent(doc);
    } else if (topic.startsWith(own)) {
      const kind = topic.slice(own.length);
      if (kind === 'session') this.onSession(doc);
      else if (kind === 'ack') this.onAck(doc);
      else if (kind === 'replay.done') this.onReplayDone(doc);
      else if (kind === 'snapshot') this.onSnapshot(doc);
      else if (kind === 'error') this.onControlError(doc);
    } else if (topic.startsWith('fynlo/v1/presence/')) {
      const [, , , rid, cid] = topic.split('/');
      this.emit('presence', rid, cid, doc);
    } else if (topic.startsWith('fynlo/v1/sys/')) {
      const [, , , kind, node] = topic.split('/');
      if (kind === 'metrics' || kind === 'alerts') this.emit(kind, doc, node || doc.node || null);
    }
  }

  // Presence, metrics and alerts cleared: emitted with a null document.
  onCleared(topic) {
    const [, , kind, a, b] = topic.split('/');
    if (kind === 'presence' && a && b) this.emit('presence', a, b, null);
    else if (kind === 'sys' && b && (a === 'metrics' || a === 'alerts')) this.emit(a, null, b);
  }

  onEvent(ev) {
    const name = ev.restaurant;
    if (!name || typeof ev.seq !== 'number') return;
    const known = this.streams.has(name);
    const s = this.stream(name);
    if (!known && this.session?.every_restaurant) s.seq = ev.seq - 1;   // a new restaurant
    if (ev.seq <= s.seq) return;                                        // already applied
    if (s.phase === 'snapshotting' || (s.phase === 'replaying' && !ev.replay)) {
      s.buffer.set(ev.seq, ev);
      return;
    }
    if (ev.replay) s.replayProgress = Date.now();
    if (s.scope === 'some' || ev.seq === s.seq + 1) {
      this.apply(s, ev);
      this.drain(name, s);
    } else {
      s.buffer.set(ev.seq, ev);
      this.armGap(name, s);
    }
  }

  apply(s, ev) {
    s.seq = ev.seq;
    this.seqDirty = true;
    this.emit('event', ev);
  }

  // Applies buffered events that are now in order.
  drain(name, s) {
    if (s.buffer.size === 0) return;
    const seqs = [...s.buffer.keys()].sort((a, b) => a - b);
    for (const seq of seqs) {
      const ev = s.buffer.get(seq);
      if (seq <= s.seq) {
        s.buffer.delete(seq);
      } else if (s.scope === 'some' || seq === s.seq + 1) {
        s.buffer.delete(seq);
        this.apply(s, ev);
      } else {
        break;
      }
    }
    if (s.buffer.size > 0) this.armGap(name, s);
    else {
      this.cancel(s.gapTimer);
      s.gapTimer = null;
    }
  }

  armGap(name, s) {
    if (s.gapTimer || s.phase !== 'live') return;
    s.gapTimer = this.after(this.gapMs, () => {
      s.gapTimer = null;
      if (s.buffer.size > 0 && s.phase === 'live' && this.mqtt?.connected) {
        this.resume({ [name]: s.seq });
        this.setState('resuming');
      }
    });
  }

  onReplayDone(done) {
    const s = this.stream(done.stream);
    if (done.snapshot_required) {
      this.requestSnapshot(done.stream, this.snapshotViews);
      return;
    }
    s.phase = 'live';
    this.drain(done.stream, s);
    const short = s.scope === 'whole' && typeof done.head === 'number' && done.head > s.seq;
    if (short && s.buffer.size === 0 && s.shortAt !== s.seq) {
      // Replayed events went missing (a full queue drops them): once more.
      s.shortAt = s.seq;
      this.resume({ [done.stream]: s.seq });
      return;
    }
    this.checkLive();
  }

  onSnapshot(doc) {
    const stream = doc.stream;
    this.control.delete(`snapshot:${stream}`);
    const s = this.stream(stream);
    // The platform owner's list of restaurants: each is followed from its
    // head on (the list carries today's totals up to that head).
    for (const r of doc.restaurants || []) {
      const rs = this.stream(r.id);
      rs.seq = Math.max(rs.seq, r.head);
      rs.snapshotDone = true;
    }
    s.seq = doc.head;
    s.snapshotDone = true;
    this.seqDirty = true;
    for (const seq of [...s.buffer.keys()]) if (seq <= doc.head) s.buffer.delete(seq);
    this.emit('snapshot', doc);
    const resume = { [stream]: s.seq };
    for (const r of doc.restaurants || []) resume[r.id] = this.stream(r.id).seq;
    this.resume(resume);
  }

  onControlError(err) {
    if (err.verb === 'snapshot' && err.stream) {
      this.control.delete(`snapshot:${err.stream}`);
      this.stream(err.stream).phase = 'idle';
    } else if (err.verb === 'resume' && err.stream) {
      this.stream(err.stream).phase = 'idle';
    }
    this.emit('error', Object.assign(new Error(`${err.verb}: ${err.reason}`), { reply: err }));
    this.checkLive();
  }

  // ---- outbox ----------------------------------------------------------

  // Submits an event for restaurant rid (or 'platform'). Returns the outbox
  // entry; entry.event.id is the idempotency key, the same on every retry.
  async submit(rid, eventType, aggregateId, payload, metadata = null) {
    const event = {
      id: uuid(),
      aggregate_id: aggregateId,
      event_type: eventType,
      payload,
      metadata,
      created_at: new Date().toISOString(),
    };
    const entry = { rid, event, attempts: 0, sentAt: 0, notBefore: 0 };
    this.outbox.set(event.id, entry);
    await this.storage.putOutbox(entry);
    this.emit('outbox', this.pending());
    this.send(entry);
    return entry;
  }

  pending() {
    return [...this.outbox.values()];
  }

  send(entry) {
    if (!this.mqtt?.connected || !this.session) return;
    const [domain, action] = entry.event.event_type.split('.');
    entry.sentAt = Date.now();
    entry.attempts++;
    this.publish(`fynlo/v1/in/${entry.rid}/${domain}/${action}`, entry.event);
  }

  resendOutbox() {
    for (const entry of this.outbox.values()) {
      entry.notBefore = 0;
      this.send(entry);
    }
  }

  async onAck(ack) {
    if (ack.id === 'token') {
      this.onTokenAck(ack);
      return;
    }
    const entry = this.outbox.get(ack.id);
    if (!entry) return;
    if (ack.status === 'rejected' && ack.code === 'unavailable') {
      entry.sentAt = 0;
      entry.notBefore = Date.now() + backoffDelay(entry.attempts, this.random);
      return;
    }
    this.outbox.delete(ack.id);
    await this.storage.deleteOutbox(ack.id);
    this.emit(ack.status === 'accepted' ? 'accepted' : 'rejected', entry, ack);
    this.emit('outbox', this.pending());
  }

  // ---- tokens ----------------------------------------------------------

  scheduleRefresh() {
    if (!this.getToken || this.refreshTimer) return;
    const at = (this.claims.exp - this.refreshBeforeS) * 1000;
    this.refreshTimer = this.after(Math.max(0, at - Date.now()), async () => {
      this.refreshTimer = null;
      const fresh = await this.fetchToken();
      if (!fresh) {
        this.refreshTimer = this.after(5000, () => { this.refreshTimer = null; this.scheduleRefresh(); });
        return;
      }
      this.pendingToken = fresh;
      this.control.set('token', { topic: 'fynlo/v1/ctl/token', payload: { token: fresh }, sentAt: Date.now() });
      this.publish('fynlo/v1/ctl/token', { token: fresh });
    });
  }

  onTokenAck(ack) {
    const sent = this.control.get('token');
    if (!sent) return;   // an answer already taken (a request sent twice)
    this.control.delete('token');
    if (ack.status === 'accepted') {
      this.token = sent.payload.token;
      this.claims = tokenClaims(this.token);
      this.pendingToken = null;
      this.emit('token', this.claims.exp);
      this.scheduleRefresh();
    } else {
      // Refused: ask getToken() again later, not at once (the refused token
      // is still due, so an immediate retry would loop with the hub).
      this.pendingToken = null;
      this.emit('error', new Error(`token refresh refused: ${ack.reason}`));
      this.refreshTimer = this.after(5000, () => { this.refreshTimer = null; this.scheduleRefresh(); });
    }
  }

  // ---- housekeeping (every 250 ms) -------------------------------------

  tick() {
    const now = Date.now();
    if (this.mqtt?.connected && this.session) {
      for (const entry of this.outbox.values()) {
        const due = entry.sentAt === 0 ? entry.notBefore <= now : now - entry.sentAt >= this.ackTimeoutMs;
        if (due) this.send(entry);
      }
      for (const c of this.control.values()) {
        if (now - c.sentAt >= this.controlTimeoutMs) {
          c.sentAt = now;
          this.publish(c.topic, c.payload);
        }
      }
      for (const [name, s] of this.streams) {
        if (s.phase === 'replaying' && now - s.replayProgress >= this.controlTimeoutMs) this.resume({ [name]: s.seq });
      }
    }
    if (this.seqDirty) this.flushSeqs();
  }

  async flushSeqs() {
    if (!this.seqDirty) return;
    this.seqDirty = false;
    const seqs = {};
    for (const [name, s] of this.streams) if (s.seq > 0) seqs[name] = s.seq;
    await this.storage.setSeqs(seqs);
  }
}
