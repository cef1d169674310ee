"""The chaos suite's moving parts (tests/README.md, "Chaos"):

- ChaosHub: the hub as `./fynsync start` runs it (harness.CliHub), with the
  faults it suffers: the broker killed with -9 and started again by
  `./fynsync start`, PostgreSQL fast-stopped and started again by
  `./fynsync start`, PostgreSQL frozen with SIGSTOP and thawed. It makes
  the test process a child subreaper, so the broker and PostgreSQL, which
  `./fynsync start` leaves running in the background, are our children and
  their zombies are reaped; a detached reaper.py ends them if the test
  process dies before its teardown.
- Peers, each one MQTT 5 connection that paho re-opens by itself (0.2 to 2 s
  apart) with a freshly minted token: Till (an outbox that keeps every
  event until it is answered and resends it), Subscriber (live events of
  its restaurant; after every (re)connect it subscribes, then resumes from
  the last seq it holds without a gap), Prober (asks ctl/snapshot and
  ctl/resume over and over), Witness (asks once when a fault is over).
  Every ctl request is tracked until answered;
  one still unanswered after ANSWER_WITHIN seconds on a connection that
  stayed up is counted unanswered and asked again.
- Phase: one fault under steady load on restaurants of its own, then the
  drain, the catch-up and the figures, taken from what the peers saw and
  what PostgreSQL holds.

Threads: each peer's paho thread runs its callbacks; one load thread per
phase creates events and runs every peer's timers. A peer's state is
guarded by its lock, and nothing is published while holding it (paho's
publish takes locks its callbacks hold)."""

import ctypes
import json
import math
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from harness import CliHub, Client, event  # noqa: E402
import procs  # noqa: E402

LONG = os.environ.get("FYNSYNC_LONG") == "1"
ANSWER_WITHIN = 10     # s: the wait for a ctl answer before it counts as unanswered
RESEND_AFTER = 3       # s: an outbox resends a submission not answered by then
ERROR_CODES = {"invalid", "forbidden", "unavailable", "busy"}   # issue 11, defect 7
KICKED = 0x98          # MQTT 5 DISCONNECT reason of the hub's expiry kick (docs/protocol.md)
PR_SET_CHILD_SUBREAPER = 36
REAPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reaper.py")


def _set_subreaper(on):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


class ChaosHub(CliHub):
    """The hub under test and its faults. Every fault ends with the hub
    running again the way an operator or a supervisor would bring it back
    (`./fynsync start`), or with nothing done at all (a freeze, a drop)."""

    def __init__(self):
        super().__init__("fynsync-chaos-")
        env_file = os.path.join(self.var, "chaos-env.json")
        with open(env_file, "w") as f:
            json.dump(self.env, f)
        # Detached before we become a subreaper, so it is not our child and
        # a kill of our process tree does not reach it.
        starter = subprocess.Popen(["/bin/sh", "-c", 'exec 3<&0; "$0" "$1" "$2" "$3" <&3 3<&- >/dev/null 2>&1 &',
                                    sys.executable, REAPER, self.var, env_file],
                                   stdin=subprocess.PIPE, start_new_session=True)
        starter.wait()
        self.reaper_pipe = starter.stdin
        _set_subreaper(True)
        try:
            self._first_start(env_file)
        except BaseException:
            self.destroy()
            raise

    def _first_start(self, env_file, attempts=3):
        """./fynsync start, on new ports when another program took one of
        ours first (the machine is shared)."""
        for attempt in range(attempts):
            done = self.run("start")
            if done.returncode == 0:
                return
            if attempt + 1 == attempts or not ("already in use" in done.stderr or "is taken" in done.stderr):
                raise AssertionError(f"./fynsync start failed:\n{done.stderr}\n{self.read_log()[-3000:]}")
            procs.cleanup(self.var, self.env)
            self.pick_ports()
            with open(env_file, "w") as f:
                json.dump(self.env, f)

    def start(self):
        done = self.run("start")
        assert done.returncode == 0, f"./fynsync start failed:\n{done.stderr}\n{self.read_log()[-3000:]}"
        return self.broker_pid()

    def kill9(self):
        """SIGKILL the broker (and reap its zombie)."""
        pid = procs.broker_pid(self.var)
        assert pid, "no broker to kill"
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 10
        while procs.broker_pid(self.var) and time.time() < deadline:
            time.sleep(0.02)
        procs.reap(pid)

    def pg_stop_fast(self):
        pid = procs.postmaster_pid(self.var)
        subprocess.run([procs.PG_SH, "stop", self.pg_dir, "fast"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        if pid:
            procs.reap(pid)

    def pg_freeze(self):
        return procs.freeze(self.var)

    def pg_thaw(self, pids):
        procs.thaw(self.var, pids)

    def destroy(self):
        try:
            procs.cleanup(self.var, self.env)
        finally:
            _set_subreaper(False)
            self.reaper_pipe.close()   # the reaper checks again and removes var
            deadline = time.time() + 120
            while os.path.isdir(self.var) and time.time() < deadline:
                time.sleep(0.1)


class Peer(Client):
    """One connection of one device: reconnects by itself with a fresh
    token (ttl seconds), and refreshes it in band (ctl/token) 2 s before it
    expires when refresh is on. Tracks its ctl requests by key (one
    outstanding per key)."""

    role = "staff"

    def __init__(self, hub, rid, name, ttl=3600, refresh=False):
        super().__init__(hub.port, f"{name}-{uuid.uuid4().hex[:6]}")
        self.hub, self.rid, self.sub = hub, rid, f"{name}-user"
        self.ttl, self.refresh = ttl, refresh
        self.lock = threading.Lock()
        self.is_up = False
        self.generation = 0
        self.connects = self.kicks = self.drops = 0
        self.pending = {}          # ctl key -> (asked at, generation)
        self.asked = self.answered = self.unanswered = self.late = 0
        self.errors = self.errors_without_code = 0
        self.refreshed = self.refresh_refused = 0
        self.token_exp = 0
        self.kick_delay = 0.0      # s: the longest from a token's exp to its kick
        self.closing = False
        self.mqtt.on_message = self._on_message
        self.mqtt.reconnect_delay_set(0.2, 2)
        self.mqtt.max_inflight_messages_set(1000)

    # -- connection

    def _fresh_token(self):
        self.token_exp = int(time.time()) + self.ttl
        return self.hub.token(self.sub, self.role, [self.rid], ttl=self.ttl)

    def open(self):
        self.connect(self.sub, self._fresh_token())

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        super()._on_connect(client, userdata, flags, rc, properties)
        if (rc if isinstance(rc, int) else rc.value) != 0:
            return
        with self.lock:
            self.is_up = True
            self.generation += 1
            self.connects += 1
        self.on_up()

    def _on_disconnect(self, client, userdata, rc, properties=None):
        super()._on_disconnect(client, userdata, rc, properties)
        code = rc if isinstance(rc, int) else getattr(rc, "value", rc)
        now = time.time()
        with self.lock:
            # Only a disconnect we did not cause past the token's exp is the
            # hub's expiry kick (MQTT 5 reason 0x98; paho 1.6 does not hand
            # us the reason of a short DISCONNECT packet).
            if self.is_up and not self.closing and (code == KICKED or now >= self.token_exp):
                self.kicks += 1
                self.kick_delay = max(self.kick_delay, now - self.token_exp)
            self.is_up = False
            # The hub cannot answer a closed connection: ask again once back.
            self.pending.clear()
        self.mqtt.username_pw_set(self.sub, self._fresh_token())

    def drop(self):
        """Closes the connection abruptly (no DISCONNECT); paho reconnects."""
        sock = self.mqtt.socket()
        if sock is None:
            return False
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            return False
        with self.lock:
            self.drops += 1
        return True

    def close(self):
        self.closing = True
        self.mqtt.disconnect()
        self.mqtt.loop_stop()

    # -- control requests

    def ask(self, key, verb, request):
        with self.lock:
            if not self.is_up or key in self.pending:
                return False
            self.pending[key] = (time.time(), self.generation)
            self.asked += 1
        self.publish(f"fynlo/v1/ctl/{verb}", request)
        return True

    def got_answer(self, key):
        with self.lock:
            if self.pending.pop(key, None) is None:
                self.late += 1   # answered after we gave up on it, or twice
            else:
                self.answered += 1

    def _on_message(self, client, userdata, message):
        try:
            doc = json.loads(message.payload)
        except ValueError:
            doc = None
        kind = message.topic.rsplit("/", 1)[-1]
        if message.topic.startswith(f"fynlo/v1/client/{self.client_id}/"):
            if kind == "ack" and isinstance(doc, dict) and doc.get("id") == "token":
                self.got_answer("token")
                with self.lock:
                    if doc.get("status") == "accepted":
                        self.refreshed += 1
                    else:
                        self.refresh_refused += 1
            elif kind == "error" and isinstance(doc, dict):
                with self.lock:
                    self.errors += 1
                    if doc.get("code") not in ERROR_CODES:
                        self.errors_without_code += 1
                self.got_answer(doc.get("verb"))
                self.on_error(doc)
            else:
                self.on_reply(kind, doc)
        elif message.topic.startswith("fynlo/v1/ev/"):
            self.on_event(doc)

    def tick(self, now):
        """The load thread's call, every few ms: timeouts and refreshes."""
        late = []
        with self.lock:
            for key, (asked_at, generation) in list(self.pending.items()):
                if now - asked_at > ANSWER_WITHIN and generation == self.generation and self.is_up:
                    del self.pending[key]
                    self.unanswered += 1
                    late.append(key)
            refresh = self.refresh and self.is_up and self.token_exp - now < 2 and "token" not in self.pending
        for key in late:
            self.on_unanswered(key)
        if refresh:
            token = self._fresh_token()
            self.ask("token", "token", {"token": token})
            self.mqtt.username_pw_set(self.sub, token)

    # -- what subclasses add

    def on_up(self):
        pass

    def on_reply(self, kind, doc):
        pass

    def on_error(self, doc):
        pass

    def on_event(self, doc):
        pass

    def on_unanswered(self, key):
        pass


class Till(Peer):
    """A POS till with an outbox: every event stays until the hub answers it
    (accepted, or rejected other than unavailable); unanswered ones are
    resent after RESEND_AFTER s, `unavailable` ones after a backoff, all of
    them at once after a reconnect."""

    def __init__(self, hub, rid, name, **kwargs):
        super().__init__(hub, rid, name, **kwargs)
        self.outbox = {}       # id -> [event, due, attempts]
        self.submitted = []
        self.accepted = {}     # id -> seq
        self.accepted_at = []  # times of first acceptance
        self.rejected = {}     # id -> final rejection
        self.unavailable = self.resent = self.seq_changed = 0

    def new_event(self):
        e = event(aggregate_id=f"order-{uuid.uuid4().hex[:12]}")
        with self.lock:
            self.outbox[e["id"]] = [e, 0.0, 0]
            self.submitted.append(e["id"])

    def on_up(self):
        with self.lock:
            for entry in self.outbox.values():
                entry[1] = 0.0

    def on_reply(self, kind, doc):
        if kind != "ack" or not isinstance(doc, dict):
            return
        event_id, now = doc.get("id"), time.time()
        with self.lock:
            if doc.get("status") == "accepted":
                seq = doc.get("seq")
                if event_id in self.accepted and self.accepted[event_id] != seq:
                    self.seq_changed += 1
                elif event_id not in self.accepted:
                    self.accepted[event_id] = seq
                    self.accepted_at.append(now)
                self.outbox.pop(event_id, None)
            elif doc.get("code") == "unavailable":
                self.unavailable += 1
                entry = self.outbox.get(event_id)
                if entry:
                    entry[1] = now + min(2.0, 0.25 * 2 ** entry[2]) * random.uniform(0.5, 1)
            elif event_id in self.outbox:
                self.rejected[event_id] = doc
                self.outbox.pop(event_id)

    def tick(self, now):
        super().tick(now)
        sends = []
        with self.lock:
            if not self.is_up:
                return
            for entry in self.outbox.values():
                if entry[1] <= now:
                    entry[1] = now + RESEND_AFTER
                    entry[2] += 1
                    if entry[2] > 1:
                        self.resent += 1
                    sends.append(entry[0])
        for e in sends:
            self.publish(f"fynlo/v1/in/{self.rid}/order/created", e)

    def undrained(self):
        with self.lock:
            return len(self.outbox)


class Subscriber(Peer):
    """A restaurant owner's dashboard: the full view of its restaurant live,
    applied in seq order. After every (re)connect it subscribes and, once
    subscribed, resumes after the last seq it holds without a gap; an error
    answer is retried a second later, an unanswered request at once."""

    role = "restaurant_owner"

    def __init__(self, hub, rid, name, **kwargs):
        super().__init__(hub, rid, name, **kwargs)
        self.held = {}         # seq -> id
        self.upto = 0          # every seq up to here is held
        self.duplicates = self.mismatched = self.resumes_done = 0
        self.retry_at = None

    def on_up(self):
        self.mqtt.subscribe(f"fynlo/v1/ev/{self.rid}/full/#", 1)

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        self.resume()

    def resume(self):
        with self.lock:
            upto = self.upto
            self.retry_at = None
        self.ask("resume", "resume", {"streams": {self.rid: upto}})

    def on_event(self, doc):
        if not isinstance(doc, dict) or doc.get("restaurant") != self.rid:
            return
        seq, event_id = doc.get("seq"), doc.get("id")
        with self.lock:
            if seq in self.held:
                self.duplicates += 1
                if self.held[seq] != event_id:
                    self.mismatched += 1
                return
            self.held[seq] = event_id
            while self.upto + 1 in self.held:
                self.upto += 1

    def on_reply(self, kind, doc):
        if kind == "replay.done" and isinstance(doc, dict) and doc.get("stream") == self.rid:
            self.got_answer("resume")
            with self.lock:
                self.resumes_done += 1

    def on_error(self, doc):
        if doc.get("verb") == "resume":
            with self.lock:
                self.retry_at = time.time() + 1

    def on_unanswered(self, key):
        if key == "resume":
            self.resume()

    def tick(self, now):
        super().tick(now)
        with self.lock:
            due = self.retry_at is not None and now >= self.retry_at and self.is_up
        if due:
            self.resume()


class Prober(Peer):
    """A manager's screen that keeps asking: ctl/snapshot of its restaurant's
    sales and ctl/resume from the head it was last told, each again every
    PROBE_EVERY s after its answer (replayed events are ignored)."""

    role = "manager"
    PROBE_EVERY = 0.5

    def __init__(self, hub, rid, name, **kwargs):
        super().__init__(hub, rid, name, **kwargs)
        self.head = 0
        self.next = {"snapshot": 0.0, "resume": 0.0}
        self.paused = False

    def on_reply(self, kind, doc):
        if not isinstance(doc, dict):
            return
        if kind == "snapshot":
            self.got_answer("snapshot")
            self._again("snapshot")
        elif kind == "replay.done" and doc.get("stream") == self.rid:
            self.got_answer("resume")
            with self.lock:
                self.head = max(self.head, doc.get("head") or 0)
            self._again("resume")

    def on_error(self, doc):
        if doc.get("verb") in self.next:
            self._again(doc["verb"])

    def _again(self, key):
        with self.lock:
            self.next[key] = time.time() + self.PROBE_EVERY

    def tick(self, now):
        super().tick(now)
        if self.paused:
            return
        with self.lock:
            due = [k for k, at in self.next.items() if at <= now and k not in self.pending]
            head = self.head
        for key in due:
            request = {"stream": self.rid, "views": ["sales"]} if key == "snapshot" else {"streams": {self.rid: head}}
            if self.ask(key, key, request):
                with self.lock:
                    self.next[key] = float("inf")   # until answered (or given up on)

    def on_unanswered(self, key):
        self._again(key)


class Witness(Peer):
    """A manager's screen that asks only when the fault tells it to: one
    request, then the wait for its answer (ask_and_wait)."""

    role = "manager"

    def __init__(self, hub, rid, name, **kwargs):
        super().__init__(hub, rid, name, **kwargs)
        self.answers = queue.Queue()

    def on_reply(self, kind, doc):
        if kind in ("snapshot", "replay.done"):
            self.got_answer("snapshot" if kind == "snapshot" else "resume")
            self.answers.put("result")

    def on_error(self, doc):
        self.answers.put("error")

    def ask_and_wait(self, verb, timeout=ANSWER_WITHIN + 1):
        """Asks ctl/resume from 0 or ctl/snapshot of the sales (once
        connected, up to 10 s) and returns "result", "error" or "none"."""
        deadline = time.time() + ANSWER_WITHIN
        while not self.is_up and time.time() < deadline:
            time.sleep(0.05)
        while not self.answers.empty():
            self.answers.get()
        request = {"stream": self.rid, "views": ["sales"]} if verb == "snapshot" else {"streams": {self.rid: 0}}
        if not self.ask(verb, verb, request):
            return "not asked"
        try:
            return self.answers.get(timeout=timeout)
        except queue.Empty:
            return "none"


class Settings:
    """The load and the length of the faults: short in `./fynsync test`,
    minutes per fault with FYNSYNC_LONG=1."""

    def __init__(self, long):
        self.restaurants = 4 if long else 2
        self.tills = 3 if long else 2            # per restaurant
        self.rate = 15 if long else 8            # events/s per till
        self.warmup = 5 if long else 3           # s of load before the first fault
        self.settle = 5 if long else 3           # s of load after the last fault
        self.repeats = 6 if long else 1          # faults per phase
        self.between = 15 if long else 0         # s of load between two faults
        self.window = 90 if long else 8          # s of drops or of short tokens
        self.token_ttl = 3                       # s: the short tokens
        self.drain = 120 if long else 60         # s allowed for outboxes and subscribers


SETTINGS = Settings(LONG)


class Phase:
    """One fault under steady load, on restaurants `{name}-0`, `{name}-1`,
    ... of its own: tills, one subscriber per restaurant, a prober and a
    witness. run(inject) brings the fault and returns the figures (a dict)."""

    def __init__(self, hub, name, settings=SETTINGS, ttl=3600, refresh=False):
        self.hub, self.name, self.settings = hub, name, settings
        self.rids = [f"{name}-{i}" for i in range(settings.restaurants)]
        self.tills = [Till(hub, rid, f"till{n}-{rid}", ttl=ttl, refresh=refresh)
                      for rid in self.rids for n in range(settings.tills)]
        self.subscribers = [Subscriber(hub, rid, f"dash-{rid}", ttl=ttl, refresh=refresh) for rid in self.rids]
        self.probers = [Prober(hub, self.rids[0], f"probe-{name}", ttl=ttl, refresh=refresh)]
        self.witness = Witness(hub, self.rids[-1], f"witness-{name}", ttl=ttl, refresh=refresh)
        self.peers = self.tills + self.subscribers + self.probers + [self.witness]
        self.right_after = []   # answers to the witness's requests right after each fault
        self.creating = threading.Event()
        self.stopping = threading.Event()
        self.fault_times = []   # (start, end) of each fault
        self.notes = {}

    def _load(self):
        interval = 1.0 / self.settings.rate
        next_event = {id(t): time.time() + random.uniform(0, interval) for t in self.tills}
        while not self.stopping.is_set():
            now = time.time()
            for till in self.tills:
                if self.creating.is_set() and now >= next_event[id(till)]:
                    till.new_event()
                    next_event[id(till)] = max(next_event[id(till)] + interval, now - 1)
            for peer in self.peers:
                peer.tick(now)
            time.sleep(0.01)

    def load_for(self, seconds):
        """Waits while the load thread goes on."""
        time.sleep(seconds)

    def fault(self, start, end):
        """Records a fault over; the witness then asks ctl/resume and
        ctl/snapshot, which must get their results."""
        self.fault_times.append((start, end))
        for verb in ("resume", "snapshot"):
            self.right_after.append(f"{verb}:{self.witness.ask_and_wait(verb)}")

    def run(self, inject, repeat=True):
        """inject(phase) brings the fault, settings.repeats times with load
        in between when repeat is on (a fault that lasts a window runs
        once); then load, drain, catch-up, figures."""
        s = self.settings
        started = time.time()
        broker_before = self.hub.broker_pid()
        loader = threading.Thread(target=self._load, name=f"load-{self.name}", daemon=True)
        try:
            for peer in self.peers:
                peer.open()
            self.creating.set()
            loader.start()
            self.load_for(s.warmup)
            for i in range(s.repeats if repeat else 1):
                if i:
                    self.load_for(s.between)
                inject(self)
            self.load_for(s.settle)
            self.creating.clear()
            load_end = time.time()
            self._wait(lambda: all(t.undrained() == 0 for t in self.tills), s.drain)
            drained_at = time.time()
            heads = self.store_heads()
            self._wait(lambda: all(sub.upto >= heads.get(sub.rid, 0) for sub in self.subscribers)
                       and not any(p.pending for p in self.peers), s.drain)
        finally:
            self.stopping.set()
            if loader.is_alive():
                loader.join(10)
            for peer in self.peers:
                peer.close()
        figures = self.figures()
        figures.update(seconds=round(time.time() - started), drain_s=round(drained_at - load_end, 1),
                       broker_restarted=self.hub.broker_pid() != broker_before)
        figures.update(self.recovery())
        figures.update(self.notes)
        return figures

    @staticmethod
    def _wait(condition, seconds):
        deadline = time.time() + seconds
        while not condition() and time.time() < deadline:
            time.sleep(0.1)

    def store_heads(self):
        return dict(self.hub.query("SELECT id, head FROM restaurants WHERE id = ANY(%s)", self.rids))

    def figures(self):
        rows = self.hub.query("SELECT id::text, restaurant, seq, aggregate_id FROM events WHERE restaurant = ANY(%s)",
                              self.rids)
        stored = {}
        for event_id, rid, seq, aggregate in rows:
            stored.setdefault(event_id, []).append((rid, seq, aggregate))
        per_aggregate = {}
        for _, _, _, aggregate in rows:
            per_aggregate[aggregate] = per_aggregate.get(aggregate, 0) + 1
        submitted = {i for t in self.tills for i in t.submitted}
        accepted = {i: seq for t in self.tills for i, seq in t.accepted.items()}
        stored_once = sum(1 for i, seq in accepted.items() if len(stored.get(i, [])) == 1 and stored[i][0][1] == seq)
        by_rid = {rid: {} for rid in self.rids}
        for event_id, rid, seq, _ in rows:
            by_rid[rid][seq] = event_id
        subscribers_off = [sub.client_id for sub in self.subscribers if sub.held != by_rid[sub.rid]]
        gaps = [rid for rid, seqs in by_rid.items() if sorted(seqs) != list(range(1, len(seqs) + 1))]
        peers = self.peers
        return {
            "submitted": len(submitted),
            "accepted": len(accepted),
            "stored_once": stored_once,
            "duplicated": sum(n - 1 for n in per_aggregate.values()) + sum(len(v) - 1 for v in stored.values()),
            "lost": sum(1 for i in accepted if i not in stored),
            "wrong_seq": sum(1 for i, seq in accepted.items() if i in stored and stored[i][0][1] != seq),
            "phantoms": sum(1 for i in stored if i not in submitted),
            "seq_gaps": gaps,
            "undrained": sum(t.undrained() for t in self.tills),
            "rejected": sum(len(t.rejected) for t in self.tills),
            "seq_changed": sum(t.seq_changed for t in self.tills),
            "resent": sum(t.resent for t in self.tills),
            "unavailable": sum(t.unavailable for t in self.tills),
            "ctl_asked": sum(p.asked for p in peers),
            "ctl_answered": sum(p.answered for p in peers),
            "unanswered": sum(p.unanswered for p in peers),
            "late_answers": sum(p.late for p in peers),
            "ctl_errors": sum(p.errors for p in peers),
            "errors_without_code": sum(p.errors_without_code for p in peers),
            "refreshed": sum(p.refreshed for p in peers),
            "refresh_refused": sum(p.refresh_refused for p in peers),
            "kicks": sum(p.kicks for p in peers),
            "kicked_peers": sum(1 for p in peers if p.kicks),
            "kick_delay_s": round(max(p.kick_delay for p in peers), 2),
            "drops": sum(p.drops for p in peers),
            "reconnects": sum(p.connects - 1 for p in peers),
            "peers": len(peers),
            "subscribers": len(self.subscribers),
            "subscribers_off": subscribers_off,
            "sub_duplicates": sum(s.duplicates for s in self.subscribers),
            "sub_mismatched": sum(s.mismatched for s in self.subscribers),
            "sub_resumes": min(s.resumes_done for s in self.subscribers),
            "right_after": sorted(set(self.right_after)),
            "recovery_s": self._recovery_seconds(),
            "stall_s": self._longest_stall(),
        }

    def _longest_stall(self):
        """The longest time while events were being created without any
        being accepted (a store outage shows here)."""
        times = sorted(at for t in self.tills for at in t.accepted_at)
        return round(max((b - a for a, b in zip(times, times[1:])), default=0), 2)

    def _recovery_seconds(self):
        """From the end of the last fault to the first event accepted after it."""
        if not self.fault_times:
            return None
        end = self.fault_times[-1][1]
        after = [at for t in self.tills for at in t.accepted_at if at >= end]
        return round(min(after) - end, 2) if after else None

    def recovery(self):
        """Did the hub come back without a hand? A new client submits and is
        accepted, resumes and is answered, asks a snapshot and gets it, each
        within 10 s, with the broker and PostgreSQL left as they are."""
        rid = self.rids[0]
        checks = {}
        c = Client(self.hub.port, f"after-{self.name}")
        try:
            c.connect("after-user", self.hub.token("after-user", "restaurant_owner", [rid]))
            ack = c.submit(rid, event(), timeout=10)
            checks["after_submit"] = ack.get("status")
            c.publish("fynlo/v1/ctl/resume", {"streams": {rid: 0}})
            checks["after_resume"] = json.loads(c.next_message(10, f"fynlo/v1/client/{c.client_id}/+")[1]).get("head") is not None
            c.drain(0.5)
            c.publish("fynlo/v1/ctl/snapshot", {"stream": rid, "views": ["sales"]})
            topic, _, _ = c.next_message(10, f"fynlo/v1/client/{c.client_id}/+")
            checks["after_snapshot"] = topic.endswith("/snapshot")
        except (TimeoutError, AssertionError) as e:
            checks["after_failure"] = repr(e)
        finally:
            c.close()
        return checks


# -- the faults: each takes the phase, brings the fault once, and records
# when it struck and when it was over.

def broker_kill9(phase):
    start = time.time()
    phase.hub.kill9()
    phase.load_for(1)
    phase.hub.start()
    phase.fault(start, time.time())


def postgres_restart(phase):
    """3 s without PostgreSQL. Meanwhile the witness asks a snapshot, which
    must be answered (an error), and the prober pauses: after the restart
    the hub's replay reader has then not used its connection since the
    stop, which is where defect 1 bites."""
    start = time.time()
    for prober in phase.probers:
        prober.paused = True
    phase.hub.pg_stop_fast()
    phase.notes.setdefault("during_outage", []).append(f"snapshot:{phase.witness.ask_and_wait('snapshot')}")
    phase.load_for(max(0.0, start + 3 - time.time()))
    phase.hub.start()
    end = time.time()
    phase.fault(start, end)
    for prober in phase.probers:
        prober.paused = False


def postgres_freeze(phase):
    start = time.time()
    pids = phase.hub.pg_freeze()
    try:
        phase.load_for(5)
    finally:
        phase.hub.pg_thaw(pids)
    phase.fault(start, time.time())


def connection_drops(phase):
    """Every second, 10% of the phase's connections (at least one) closed
    abruptly."""
    start = time.time()
    per_second = max(1, math.ceil(len(phase.peers) / 10))
    for _ in range(phase.settings.window):
        for peer in random.sample(phase.peers, per_second):
            peer.drop()
        phase.load_for(1)
    phase.fault(start, time.time())


def token_expiry(phase):
    """The peers' tokens (ttl settings.token_ttl) expire again and again for
    settings.window s; with refresh on they are refreshed in band first.
    Then they get long tokens again (at the next reconnect or refresh)."""
    start = time.time()
    phase.load_for(phase.settings.window)
    for peer in phase.peers:
        peer.ttl = 3600
    phase.load_for(phase.settings.token_ttl + 1)
    phase.fault(start, time.time())


FAULTS = {
    # name: (inject, repeated, Phase keyword arguments)
    "broker_kill9": (broker_kill9, True, {}),
    "postgres_restart": (postgres_restart, True, {}),
    "postgres_freeze": (postgres_freeze, True, {}),
    "connection_drops": (connection_drops, False, {}),
    "token_expiry": (token_expiry, False, {"ttl": SETTINGS.token_ttl}),
    "token_refresh": (token_expiry, False, {"ttl": SETTINGS.token_ttl, "refresh": True}),
}


def run_fault(hub, name):
    inject, repeat, options = FAULTS[name]
    return Phase(hub, name, **options).run(inject, repeat)
