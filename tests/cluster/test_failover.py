"""The local cluster of `./fynsync start --nodes 2` (docs/scale.md): two hub
nodes on PostgreSQL under pg_auto_failover, in a var directory of its own on
free ports, driven through ./fynsync as an operator would.

Under load (tills on both nodes submitting, kitchen displays on both):
- kill -9 one hub node: its tills and displays move to the other node (they
  know both URLs), resubmit what was not answered and resume from their
  last seq; nothing accepted is lost;
- stop the PostgreSQL primary: pg_auto_failover promotes the standby, the
  hubs reconnect by themselves, and every event ever answered `accepted`
  is stored exactly once; every display holds exactly the store's sequence
  once duplicate seqs are dropped."""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid

import jwt
import psycopg2
import pytest

from harness import DEFAULT_ACL, PLUGIN, SOURCE_DIR, Client, event, service_dir

FYNSYNC = os.path.join(SOURCE_DIR, "fynsync")
LONG = os.environ.get("FYNSYNC_LONG") == "1"
RID = "r1"


def free_block(size):
    """The first of size consecutive free loopback ports."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + size >= 65000:
            continue
        ok = True
        for port in range(base, base + size):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no block of free ports")


class Cluster:
    def __init__(self, nodes=2):
        self.nodes = nodes
        self.var = service_dir("fynsync-cluster-")
        plugin = os.path.join(self.var, "fynsync.so")
        acl = os.path.join(self.var, "fynsync.acl")
        for src, dst in ((PLUGIN, plugin), (DEFAULT_ACL, acl)):
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o644)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FYNSYNC_") or k == "FYNSYNC_SOURCE_DIR"}
        self.ports = {name: free_block(nodes) for name in
                      ("FYNSYNC_MQTT_PORT", "FYNSYNC_WS_PORT", "FYNSYNC_MQTTS_PORT", "FYNSYNC_WSS_PORT",
                       "FYNSYNC_METRICS_PORT")}
        self.ports["FYNSYNC_PG_PORT"] = free_block(3)
        self.env = dict(env, FYNSYNC_VAR=self.var, FYNSYNC_PLUGIN=plugin, FYNSYNC_ACL_FILE=acl,
                        **{k: str(v) for k, v in self.ports.items()})
        self.mqtt_ports = [self.ports["FYNSYNC_MQTT_PORT"] + k for k in range(nodes)]
        pg = self.ports["FYNSYNC_PG_PORT"]
        self.conninfo = (f"host=127.0.0.1,127.0.0.1 port={pg},{pg + 1} dbname=fynsync user=fynsync "
                         "target_session_attrs=read-write connect_timeout=2")

    def run(self, *args, timeout=240, check=True):
        done = subprocess.run([FYNSYNC, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check:
            assert done.returncode == 0, f"./fynsync {' '.join(args)}: {done.stdout}{done.stderr}{self.log_tails()}"
        return done

    def log_tails(self, lines=40):
        """The end of every server's and node's log: the var directory is
        removed after the test, and a failed start says only which log."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.var, "cluster", "pgaf", "*.log"))
                           + glob.glob(os.path.join(self.var, "cluster", "node*", "log", "mosquitto.log"))):
            with open(path, errors="replace") as f:
                tail = f.readlines()[-lines:]
            out.append(f"\n--- {os.path.relpath(path, self.var)} ---\n" + "".join(tail))
        return "".join(out)

    def cli(self, *args, check=True):
        done = subprocess.run([os.path.join(SOURCE_DIR, "tools", "cli", "cluster.sh"), *args], env=self.env,
                              capture_output=True, text=True, timeout=120)
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def node_pid(self, k):
        with open(os.path.join(self.var, "cluster", f"node{k}", "mosquitto.pid")) as f:
            return int(f.read())

    def primary(self):
        for line in self.run("status", check=False).stderr.splitlines():
            if "<- primary" in line:
                return line.split("postgres ", 1)[1].split(":", 1)[0]
        return None

    def query(self, sql, *params):
        deadline = time.time() + 60
        while True:
            try:
                with psycopg2.connect(self.conninfo) as conn, conn.cursor() as cur:
                    cur.execute(sql, params)
                    return cur.fetchall()
            except psycopg2.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)

    def token(self, sub, role):
        with open(os.path.join(self.var, "jwt.secret")) as f:
            secret = f.read()
        now = int(time.time())
        return jwt.encode({"sub": sub, "role": role, "restaurants": [RID], "iat": now, "exp": now + 3600},
                          secret, algorithm="HS256")

    def destroy(self):
        try:
            self.run("stop", check=False)
        finally:
            shutil.rmtree(self.var, ignore_errors=True)


class Device:
    """A client that knows every node's URL: when its connection drops it
    connects to the next node that answers."""

    def __init__(self, cluster, ports, sub, role):
        self.cluster, self.ports, self.sub, self.role = cluster, ports, sub, role
        self.client_id = f"{sub}-{uuid.uuid4().hex[:6]}"
        self.client = None
        self.port = None

    def connect(self, deadline):
        while time.time() < deadline:
            for port in self.ports:
                c = Client(port, self.client_id)
                try:
                    c.connect(self.sub, self.cluster.token(self.sub, self.role), timeout=3)
                except (OSError, AssertionError, Exception):
                    try:
                        c.mqtt.loop_stop()
                    except Exception:
                        pass
                    continue
                self.client, self.port = c, port
                self.on_connected()
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.sub}: no node accepted a connection")

    def dropped(self):
        return self.client is None or not self.client.disconnects.empty() or not self.client.mqtt.is_connected()

    def on_connected(self):
        pass

    def close(self):
        if self.client:
            self.client.close()


class Till(Device):
    """Submits events and keeps every unanswered or `unavailable` one to
    submit again (same id), as the protocol asks of clients."""

    def __init__(self, cluster, ports, sub):
        super().__init__(cluster, ports, sub, "staff")
        self.pending = {}    # id -> (event, sent at)
        self.accepted = {}   # id -> seq
        self.last_accepted_at = 0.0
        self.submitted = 0

    def on_connected(self):
        for eid in self.pending:   # resubmit at once on the new node
            self.pending[eid] = (self.pending[eid][0], 0)

    def run(self, stop, window=4, resend_after=2.0):
        deadline_connect = time.time() + 60
        self.connect(deadline_connect)
        while not stop.is_set() or self.pending:
            if stop.is_set() and time.time() > self.give_up:
                return
            if self.dropped():
                self.client.close()
                self.connect(time.time() + 60)
            now = time.time()
            if not stop.is_set() and len(self.pending) < window:
                e = event()
                self.pending[e["id"]] = (e, 0)
                self.submitted += 1
            for eid, (e, sent) in list(self.pending.items()):
                if now - sent > resend_after:
                    self.client.publish(f"fynlo/v1/in/{RID}/order/created", e)
                    self.pending[eid] = (e, now)
            try:
                _, payload, _ = self.client.next_message(0.05, f"fynlo/v1/client/{self.client_id}/ack")
            except (TimeoutError, Exception):
                continue
            ack = json.loads(payload)
            if ack.get("id") in self.pending:
                if ack["status"] == "accepted":
                    self.accepted[ack["id"]] = ack["seq"]
                    self.last_accepted_at = time.time()
                    del self.pending[ack["id"]]
                elif ack.get("code") == "unavailable":
                    e, _ = self.pending[ack["id"]]
                    self.pending[ack["id"]] = (e, time.time() - resend_after + 0.2)
                else:
                    raise AssertionError(f"unexpected answer {ack}")


class Display(Device):
    """A kitchen display: every confirmed event of the restaurant, by seq;
    after moving to another node it resumes from its last seq."""

    def __init__(self, cluster, ports, sub):
        super().__init__(cluster, ports, sub, "restaurant_owner")
        self.events = {}     # seq -> id
        self.conflicts = []
        self.lock = threading.Lock()

    def on_connected(self):
        self.client.mqtt.on_message = self.on_message
        self.client.subscribe(f"fynlo/v1/ev/{RID}/full/#")
        with self.lock:
            last = self.contiguous()
        self.client.publish("fynlo/v1/ctl/resume", {"streams": {RID: last}})

    def contiguous(self):
        seq = 0
        while seq + 1 in self.events:
            seq += 1
        return seq

    def on_message(self, client, userdata, message):
        if not message.topic.startswith(f"fynlo/v1/ev/{RID}/"):
            return
        e = json.loads(message.payload)
        with self.lock:
            if self.events.setdefault(e["seq"], e["id"]) != e["id"]:
                self.conflicts.append((e["seq"], e["id"]))

    def watch(self, stop):
        self.connect(time.time() + 60)
        while not stop.is_set():
            if self.dropped():
                self.client.close()
                self.connect(time.time() + 60)
            time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster():
    # free_block's ports are free when probed, not held: on a busy machine
    # another program can bind one before a broker does. That start failure
    # says so ("Unable to create ... listener", "Address already in use");
    # it is retried on fresh ports and a fresh var dir, anything else fails.
    for attempt in range(3):
        c = Cluster()
        done = c.run("start", "--nodes", "2", check=False)
        if done.returncode == 0:
            break
        taken = any(s in done.stderr for s in ("Unable to create", "Address already in use"))
        c.destroy()
        assert taken and attempt < 2, f"./fynsync start --nodes 2: {done.stdout}{done.stderr}"
    try:
        said = done.stderr
        # An operator is told where each node is and which server is primary.
        for k in range(c.nodes):
            p = {name: port + k for name, port in c.ports.items()}
            assert (f"node {k}: mqtt://127.0.0.1:{p['FYNSYNC_MQTT_PORT']}  ws://127.0.0.1:{p['FYNSYNC_WS_PORT']}"
                    f"  pages http://127.0.0.1:{p['FYNSYNC_WS_PORT']}/platform.html"
                    f"  metrics http://127.0.0.1:{p['FYNSYNC_METRICS_PORT']}/metrics") in said, said
        assert f"database primary: pg0, port {c.ports['FYNSYNC_PG_PORT']}" in said, said
        yield c
    finally:
        c.destroy()


def run_load(cluster, tills_per_node, displays, during, settle=60):
    """Tills on every node submit while during() runs; then every till gets
    every event answered. Returns (tills, displays)."""
    ports = cluster.mqtt_ports
    tills = []
    for k in range(len(ports)):
        order = ports[k:] + ports[:k]
        tills += [Till(cluster, order, f"till-{k}-{j}") for j in range(tills_per_node)]
    shows = [Display(cluster, ports[k:] + ports[:k], f"kds-{k}") for k in range(displays)]
    stop = threading.Event()
    errors = []

    def guarded(fn):
        def run():
            try:
                fn(stop)
            except BaseException as exc:   # reported below, in the test's thread
                errors.append(exc)
        return run

    threads = [threading.Thread(target=guarded(d.watch)) for d in shows]
    for t in threads:
        t.start()
    time.sleep(1)
    for till in tills:
        till.give_up = float("inf")
        threads.append(threading.Thread(target=guarded(till.run)))
        threads[-1].start()
    try:
        during()
    finally:
        for till in tills:
            till.give_up = time.time() + settle
        stop_tills = stop
        stop_tills.set()
        for t in threads[len(shows):]:
            t.join(settle + 30)
    assert not errors, errors
    return tills, shows


def check_store_and_displays(cluster, tills, shows):
    accepted = {}
    for till in tills:
        assert not till.pending, f"{till.sub}: {len(till.pending)} events never accepted"
        accepted.update(till.accepted)
    rows = cluster.query("SELECT seq, id::text FROM events WHERE restaurant = %s ORDER BY seq", RID)
    stored = {i: s for s, i in rows}
    # Every event ever answered `accepted` is stored exactly once (ids are
    # unique), with the seq its ack named; seq is gap-free.
    wrong = [(i, s, stored.get(i)) for i, s in accepted.items() if stored.get(i) != s]
    assert not wrong, f"accepted (id, ack seq, stored seq): {wrong[:10]}"
    assert [s for s, _ in rows] == list(range(1, len(rows) + 1))
    deadline = time.time() + 30
    for d in shows:
        while True:
            with d.lock:
                got = dict(d.events)
            if len(got) >= len(rows) or time.time() > deadline:
                break
            time.sleep(0.2)
        assert not d.conflicts, d.conflicts[:5]
        missing = [s for s, _ in rows if s not in got]
        extra = sorted(set(got) - {s for s, _ in rows})
        assert sorted(got.items()) == rows, f"{d.sub}: {len(got)} of {len(rows)} events, missing {missing[:20]}, not stored {extra[:20]} ({cluster.var})"
    return len(accepted)


def test_a_killed_hub_node_loses_nothing_its_clients_resume_on_the_other(cluster):
    load_s = 12 if LONG else 5

    def kill_node0():
        time.sleep(load_s / 2)
        os.kill(cluster.node_pid(0), signal.SIGKILL)
        time.sleep(load_s / 2)

    tills, shows = run_load(cluster, 2, 2, kill_node0)
    try:
        moved = [t for t in tills if t.sub.startswith("till-0")]
        assert all(t.port == cluster.mqtt_ports[1] for t in moved)
        assert check_store_and_displays(cluster, tills, shows) > 0
        assert all(t.accepted for t in moved)
    finally:
        for d in tills + shows:
            d.close()
    cluster.run("start", "--nodes", "2")   # node 0 back for the next test


def standby_processes(cluster, server):
    """The pids of a database server: its postmaster and every child (the
    WAL receiver among them)."""
    with open(os.path.join(cluster.var, "cluster", "pgaf", server, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
    return [postmaster] + [int(c) for c in children]


def test_a_page_read_is_handed_out_only_once_the_synchronous_standby_has_it(cluster):
    """Migration 013: a commit is visible on the primary before the
    synchronous standby confirms it; a page read must wait for the standby,
    and give up (the store counts as down) while the standby is frozen."""
    standby = "pg1" if cluster.primary() == "pg0" else "pg0"
    assert cluster.query("SELECT fynsync_wait_replicated(2000)") == [(True,)]
    frozen = standby_processes(cluster, standby)
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        # A commit the frozen standby cannot have (synchronous_commit local:
        # this one does not wait for it, as a cancelled wait would not).
        cluster.query("SET synchronous_commit = local; CREATE TEMP TABLE after_freeze (i int); "
                      "INSERT INTO after_freeze VALUES (1); SELECT 1")
        started = time.time()
        assert cluster.query("SELECT fynsync_wait_replicated(300)") == [(False,)]
        assert time.time() - started >= 0.3
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    assert cluster.query("SELECT fynsync_wait_replicated(5000)") == [(True,)]


def test_primary_stopped_under_load_standby_promoted_every_accepted_event_present_once(cluster):
    deadline = time.time() + 60
    while cluster.primary() is None or "secondary/" not in cluster.run("status", check=False).stderr:
        assert time.time() < deadline, "no primary with a standby"
        time.sleep(0.5)
    old = cluster.primary()
    new = "pg1" if old == "pg0" else "pg0"
    promoted = []

    def fail_primary():
        time.sleep(2)
        cluster.cli("stop-server", old)
        deadline = time.time() + 90
        while cluster.primary() != new:
            assert time.time() < deadline, "the standby was not promoted within 90 s"
            time.sleep(0.5)
        promoted.append(time.time())
        time.sleep(3 if not LONG else 10)

    tills, shows = run_load(cluster, 1, 2, fail_primary)
    try:
        assert promoted
        total = check_store_and_displays(cluster, tills, shows)
        # Accepted after the promotion too: the hubs reconnected by themselves.
        assert total > 0 and max(t.last_accepted_at for t in tills) > promoted[0]
    finally:
        for d in tills + shows:
            d.close()
