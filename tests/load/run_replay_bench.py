#!/usr/bin/python3
"""Replay benchmark for fynsync (issue 5): how long one resuming client takes
to get 100,000 missed events (ctl/resume from seq 0 to replay.done), and
what live traffic sees while that replay runs.

Setup, once per invocation: a fresh PostgreSQL 15 cluster with default
durability (fsync on, as tests/load/run_bench.py), the schema applied by a
broker, then --events order.created events (about 320 bytes each, with a
`cost` the redacted view removes) appended to restaurant `replay` by calling
`fynsync_append` directly with batches of --preload-batch events, then
`VACUUM (ANALYZE)`. That database becomes a template. A second template,
copied before the VACUUM ANALYZE and with autovacuum off for `events`, is
the same data as right after a bulk load, before autovacuum's first analyze
(scenario replay-nostats).

Every run: a fresh database copied from the template (CREATE DATABASE ...
TEMPLATE, then CHECKPOINT), a fresh mosquitto with the plugin
(max_queued_messages 300000, plugin_opt_max_replay 200000, the rest as
mosquitto.conf), the reader warmed up with one empty resume, then:

  replay            tools/fynsync-replay-bench alone: role staff (redacted
                    view) resumes {"replay": 0}, checks seq 1..N in order,
                    no gap, no duplicate, until replay.done
  replay-full       the same as restaurant_owner (full view, no redaction)
  live-paced        tools/fynsync-bench alone: 4 publishers, --live-rate
                    events/s in total, restaurant `live` (the baseline)
  replay+paced-other  both; the replay starts --replay-at seconds in
  replay+paced-same   both, the publishers writing to `replay` itself (the
                    resuming client then also subscribes to the live events)
  live-max, replay+max-other, replay+max-same
                    the same with the publishers as fast as the hub answers
                    (window --window each)
  replay+probe      the replay alone, and another client's resume of an
                    empty stream and a snapshot sent 1 s into it
  replay-stalled    the resuming client reads nothing for 10 s after its
                    request (the broker must queue the whole replay)
  replay-nostats    the replay from the template without planner statistics
                    (with the probe)
  replay-nostats+paced-other  that replay with the paced live load (140 s)

Live numbers "during the replay" are the bench's events sent between the
resume request and replay.done (lined up through CLOCK_REALTIME: the
replay tool reports the request's wall-clock time, the bench's first
event's created_at gives its start); "accepted/s during" counts the acks
received in that interval. Results go to --out: results.json (every run,
machine, settings), each tool's output, per-event samples, per-second
timelines, replay progress, per-second CPU, broker logs, and with --figures
DIR the PNG figure of docs/benchmarks.md ("Replay").

  tests/load/run_replay_bench.py --repeat 3 --figures docs/figures

Everything it starts (PostgreSQL, brokers, the tools) is stopped and removed
at the end, also on failure, Ctrl-C, SIGTERM or after --timeout seconds.
Exit status: 0 every run complete and consistent; 1 a replay or the live
load lost, duplicated or reordered something, or the broker dropped
messages; 2 setup error or timeout.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))

import psycopg2  # noqa: E402

import harness  # noqa: E402
import run_bench  # noqa: E402  (BenchPostgres, BenchBroker, CPU accounting, machine info)

REPLAY_RID = "replay"
LIVE_RID = "live"
TEMPLATE = "fynsync_tpl"
TEMPLATE_NOSTATS = "fynsync_tpl_nostats"
DROPPED_TEXT = "Outgoing messages are being dropped"

SCENARIOS = {
    "replay": {"replay": True, "live": None},
    "replay-full": {"replay": True, "live": None, "role": "restaurant_owner"},
    "live-paced": {"replay": False, "live": "paced", "where": "other"},
    "replay+paced-other": {"replay": True, "live": "paced", "where": "other"},
    "replay+paced-same": {"replay": True, "live": "paced", "where": "same"},
    "live-max": {"replay": False, "live": "max", "where": "other"},
    "replay+max-other": {"replay": True, "live": "max", "where": "other"},
    "replay+max-same": {"replay": True, "live": "max", "where": "same"},
    "replay+probe": {"replay": True, "live": None, "probe": True},
    "replay-stalled": {"replay": True, "live": None, "stall": 10},
    "replay-nostats": {"replay": True, "live": None, "template": TEMPLATE_NOSTATS, "probe": True},
    "replay-nostats+paced-other": {"replay": True, "live": "paced", "where": "other",
                                   "template": TEMPLATE_NOSTATS, "live_duration": 140},
}
DEFAULT_SCENARIOS = ("replay,replay-full,replay+probe,replay-stalled,live-paced,replay+paced-other,replay+paced-same,"
                     "live-max,replay+max-other,replay+max-same")


class Timeout(Exception):
    pass


def log(msg):
    print(f"run_replay_bench: {msg}", file=sys.stderr, flush=True)


# ---- PostgreSQL: the preloaded templates ------------------------------------------

def admin(pg, *statements):
    """Runs statements (no transaction) in the cluster's `postgres` database."""
    conn = psycopg2.connect(f"host=127.0.0.1 port={pg.port} dbname=postgres user=fynsync")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


def preload_events(pg, count, batch_size):
    """count order.created events into REPLAY_RID through fynsync_append (the
    writer's own call, docs/store.md); returns seconds taken."""
    conn = pg.connect()
    started = time.monotonic()
    try:
        with conn.cursor() as cur:
            # No autoanalyze halfway through the load: the templates' planner
            # statistics are exactly what the run says (analyzed, or none).
            cur.execute("ALTER TABLE events SET (autovacuum_enabled = off)")
            for start in range(0, count, batch_size):
                batch = []
                for i in range(start, min(count, start + batch_size)):
                    order = uuid.uuid4().hex
                    batch.append({
                        "idx": i - start, "restaurant": REPLAY_RID, "created_by": f"preload-till-{i % 8}",
                        "client_id": f"preload-till-{i % 8}", "id": str(uuid.uuid4()),
                        "aggregate_id": f"order-{order}", "event_type": "order.created", "correlation_id": None,
                        "payload": {"status": "open", "total": 1250, "items": [
                            {"item_id": "burger", "qty": 1, "price": 1250, "cost": 410}]},
                        "metadata": {"device": f"till-{i % 8}"},
                        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(1795000000 + i)),
                    })
                cur.execute("SELECT count(*) FILTER (WHERE status = 'accepted'), count(*) "
                            "FROM fynsync_append(%s::jsonb)", (json.dumps(batch),))
                accepted, rows = cur.fetchone()
                if accepted != len(batch) or rows != len(batch):
                    raise RuntimeError(f"preload: {accepted} of {len(batch)} accepted ({rows} rows)")
            cur.execute("SELECT head FROM restaurants WHERE id = %s", (REPLAY_RID,))
            head = cur.fetchone()[0]
            if head != count:
                raise RuntimeError(f"preload: head {head}, expected {count}")
    finally:
        conn.close()
    return time.monotonic() - started


def build_templates(args, pg, broker_settings, plugin_options):
    """Schema (through a broker), preload, the two templates."""
    broker = run_bench.BenchBroker(pg, broker_settings, plugin_options)
    try:
        warm_reader(broker)   # the schema is applied when the hub connects
    finally:
        broker.destroy()
    log(f"preloading {args.events} events into '{REPLAY_RID}' (fynsync_append, batches of {args.preload_batch})")
    seconds = preload_events(pg, args.events, args.preload_batch)
    log(f"preloaded in {seconds:.1f} s ({args.events / seconds:.0f} events/s)")
    size = pg.query("SELECT pg_size_pretty(pg_database_size('fynsync')), pg_size_pretty(pg_total_relation_size('events'))")[0]
    admin(pg, f"CREATE DATABASE {TEMPLATE_NOSTATS} TEMPLATE fynsync STRATEGY FILE_COPY")
    started = time.monotonic()
    conn = pg.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE events RESET (autovacuum_enabled)")
            cur.execute("VACUUM (ANALYZE)")
    finally:
        conn.close()
    analyze_s = time.monotonic() - started
    admin(pg, f"ALTER DATABASE fynsync RENAME TO {TEMPLATE}",
          f"ALTER DATABASE {TEMPLATE} WITH ALLOW_CONNECTIONS false",
          f"ALTER DATABASE {TEMPLATE_NOSTATS} WITH ALLOW_CONNECTIONS false")
    return {"events": args.events, "batch": args.preload_batch, "seconds": round(seconds, 1),
            "events_per_s": round(args.events / seconds), "vacuum_analyze_s": round(analyze_s, 1),
            "database_size": size[0], "events_table_size": size[1]}


def fresh_database(pg, template):
    admin(pg, "DROP DATABASE IF EXISTS fynsync WITH (FORCE)",
          f"CREATE DATABASE fynsync TEMPLATE {template} STRATEGY FILE_COPY",
          "CHECKPOINT", "SELECT pg_stat_reset_shared('wal')")


# ---- the broker -------------------------------------------------------------------

def warm_reader(broker):
    """One empty resume, so the reader thread is connected before the run."""
    client = broker.client("restaurant_owner", ("warm",))
    try:
        client.subscribe(f"fynlo/v1/client/{client.client_id}/#")
        client.publish("fynlo/v1/ctl/resume", {"streams": {"warm": 0}})
        # The retained client/{cid}/session message arrives first; skip it.
        topic, payload, _ = client.next_message(30)
        while topic.endswith("/session"):
            topic, payload, _ = client.next_message(30)
        if not topic.endswith("/replay.done"):
            raise RuntimeError(f"warm-up resume answered on {topic}: {payload!r}")
    finally:
        client.close()


class Probe(threading.Thread):
    """Another client's small requests while the big replay runs: a resume of
    an empty stream, then a snapshot, the first sent 1.5 s after the tools
    start (about 1 s after the replay request); records how long each took
    to be answered (the reader serves requests one at a time, in order)."""

    def __init__(self, broker, delay, timeout):
        super().__init__(daemon=True)
        self.broker, self.delay, self.timeout = broker, delay, timeout
        self.result = {}
        self.client = broker.client("restaurant_owner", ("warm",))
        self.client.subscribe(f"fynlo/v1/client/{self.client.client_id}/#")

    def ask(self, topic, request, answer):
        sent = time.time()
        self.client.publish(topic, request)
        try:
            self.client.next_message(self.timeout, f"fynlo/v1/client/{self.client.client_id}/{answer}")
        except Exception:   # noqa: BLE001 (a timeout or a lost connection: no answer)
            return {"sent_realtime": sent, "answered_after_s": None}
        return {"sent_realtime": sent, "answered_after_s": round(time.time() - sent, 4)}

    def run(self):
        time.sleep(self.delay)
        self.result["resume"] = self.ask("fynlo/v1/ctl/resume", {"streams": {"warm": 0}}, "replay.done")
        self.result["snapshot"] = self.ask("fynlo/v1/ctl/snapshot", {"stream": "warm"}, "snapshot")

    def close(self):
        self.join(self.timeout * 2 + self.delay + 5)
        self.client.close()


class ToolSampler(run_bench.CpuSampler):
    """run_bench's per-second CPU sampler, counting both tools as ours."""

    def ours(self):
        total = 0.0
        for root in (self.pids["broker"], self.pids["postgres"]):
            total += sum(run_bench.tree_cpu(root).values())
        for pid in self.pids["tools"]:
            st = run_bench.proc_stat(pid)
            total += st[1] if st else 0.0
        return total


def broker_memory(pid):
    """{peak, now} resident MiB of the broker (a fresh process every run, so
    the peak is this run's)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    out["peak" if line.startswith("VmHWM") else "now"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return out


BROKER_THREADS = ("main", "waker", "writer", "reader")   # creation order: mosquitto, then plugin/plugin.c's


def broker_threads_cpu(pid):
    """{thread: cpu seconds} of the broker's threads, named by creation
    order (mosquitto's own thread, then the plugin's outbox waker, writer
    and reader)."""
    out = {}
    try:
        tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return out
    for i, tid in enumerate(tids):
        st = run_bench.proc_stat(f"{pid}/task/{tid}")
        if st:
            out[BROKER_THREADS[i] if i < len(BROKER_THREADS) else f"thread{i}"] = st[1]
    return out


def start_tool(argv, prefix):
    out = open(prefix + ".out", "w")
    err = open(prefix + ".err", "w")
    try:
        return subprocess.Popen(argv, stdout=out, stderr=err)
    finally:
        out.close()
        err.close()


def wait_tools(procs, timeout):
    """Waits for every process (killing all at timeout); returns
    {name: (exit code, cpu seconds)}."""
    timer = threading.Timer(timeout, lambda: [p.kill() for p in procs.values() if p.poll() is None])
    timer.start()
    results = {}
    try:
        for name, proc in procs.items():
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            results[name] = (proc.returncode, usage.ru_utime + usage.ru_stime)
    finally:
        timer.cancel()
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def last_json(path):
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else None


# ---- live latency around the replay ---------------------------------------------

def read_samples(path):
    """[(send_s, ack_ms, confirmed_ms, status)] from fynsync-bench --samples."""
    rows = []
    with open(path) as f:
        for line in f:
            if not line.startswith("#"):
                s, a, c, status = line.split()
                rows.append((float(s), float(a), float(c), status))
    return rows


def window_stats(rows, start_s, end_s):
    """Latency of events sent in [start_s, end_s) and accepted/s from the acks
    received in it (times relative to the bench's start)."""
    conf = sorted(c for s, a, c, st in rows if start_s <= s < end_s and st == "accepted" and c >= 0)
    acks = sorted(a for s, a, c, st in rows if start_s <= s < end_s and st == "accepted" and a >= 0)
    answered = sum(1 for s, a, c, st in rows if st == "accepted" and a >= 0 and start_s <= s + a / 1000 < end_s)
    length = max(1e-9, end_s - start_s)
    out = {"from_s": round(start_s, 3), "to_s": round(end_s, 3), "sent": sum(1 for r in rows if start_s <= r[0] < end_s),
           "accepted_per_s": round(answered / length, 1), "confirmed_n": len(conf)}
    for name, values in (("confirmed", conf), ("ack", acks)):
        if values:
            out[name] = {"p50_ms": run_bench.percentile(values, 0.5), "p90_ms": run_bench.percentile(values, 0.9),
                         "p99_ms": run_bench.percentile(values, 0.99), "max_ms": values[-1]}
    return out


# ---- one run ---------------------------------------------------------------------

def one_run(args, name, repeat, broker_settings, plugin_options, pg):
    spec = SCENARIOS[name]
    tag = f"{name}-{repeat}"
    live_rid = None
    if spec["live"]:
        live_rid = REPLAY_RID if spec["where"] == "same" else LIVE_RID
    rate = args.live_rate if spec["live"] == "paced" else 0
    live_duration = max(args.live_duration, spec.get("live_duration", 0))
    files = {k: os.path.join(args.out, f"{tag}.{k}") for k in ("samples", "timeline", "progress", "cpu")}
    result = {"scenario": name, "repeat": repeat, "events": args.events, "problems": []}
    fresh_database(pg, spec.get("template", TEMPLATE))
    broker = probe = None
    procs = {}
    try:
        broker = run_bench.BenchBroker(pg, broker_settings, plugin_options)
        warm_reader(broker)
        argv = {}
        if spec["live"]:
            argv["bench"] = [args.bench, "--port", str(broker.port), "--secret-file", broker.secret_file,
                             "--restaurant", live_rid, "--publishers", str(args.live_publishers),
                             "--rate", str(rate), "--window", str(args.window),
                             "--duration", str(live_duration), "--warmup", str(args.warmup),
                             "--drain-timeout", "15", "--id-prefix", f"live-{tag}".replace("+", "_"),
                             "--timeline", files["timeline"], "--samples", files["samples"]]
        if spec["replay"]:
            argv["replay"] = [args.replay_bench, "--port", str(broker.port), "--secret-file", broker.secret_file,
                              "--restaurant", REPLAY_RID, "--after", "0",
                              "--role", spec.get("role", args.role),
                              "--delay", str(args.replay_at if spec["live"] else 0.5),
                              "--timeout", str(args.replay_timeout), "--progress", files["progress"],
                              "--id-prefix", f"resume-{tag}".replace("+", "_")]
            if spec.get("stall"):
                argv["replay"] += ["--stall", str(spec["stall"])]
            if spec["live"] and spec["where"] == "same":
                # The stream grows while the run waits for --replay-at: the
                # replay is seq 1..head at the request (checked by the tool
                # against replay.done's head), more than --events. The client
                # also takes the live events, as a till would.
                argv["replay"].append("--subscribe-live")
            else:
                argv["replay"] += ["--expect", str(args.events)]
        log(f"{tag}: " + " | ".join(" ".join([os.path.basename(a[0])] + a[5:]) for a in argv.values()))
        loadavg = open("/proc/loadavg").read().split()[:3]
        broker_before = run_bench.tree_cpu(broker.process.pid)
        threads_before = broker_threads_cpu(broker.process.pid)
        pg_before = run_bench.tree_cpu(pg.postmaster_pid())
        machine_before = run_bench.machine_cpu()
        wall_before = time.monotonic()
        probe = Probe(broker, 1.5, args.replay_timeout) if spec.get("probe") else None
        for tool, a in argv.items():
            procs[tool] = start_tool(a, os.path.join(args.out, f"{tag}.{tool}"))
        if probe:
            probe.start()
        sampler = ToolSampler(files["cpu"], {"broker": broker.process.pid, "postgres": pg.postmaster_pid(),
                                             "tools": [p.pid for p in procs.values()]})
        sampler.start()
        try:
            exits = wait_tools(procs, live_duration + args.replay_timeout + 60)
        finally:
            sampler.stop()
            if probe:
                probe.close()
        wall = time.monotonic() - wall_before
        result["broker_memory_mb"] = broker_memory(broker.process.pid)
        threads_after = broker_threads_cpu(broker.process.pid)
        result["broker_threads_cpu_s"] = {k: round(v - threads_before.get(k, 0), 2) for k, v in threads_after.items()}
        machine_after = run_bench.machine_cpu()
        cpu = {"broker": run_bench.cpu_delta(broker_before, run_bench.tree_cpu(broker.process.pid)),
               "postgres": run_bench.cpu_delta(pg_before, run_bench.tree_cpu(pg.postmaster_pid()))}
        cpu.update({tool: exits[tool][1] for tool in exits})
        cpu["machine_busy"] = (machine_after[0] - machine_before[0]) / run_bench.CLK_TCK
        with open(files["cpu"]) as f:
            seconds = [[float(v) for v in line.split()] for line in f if not line.startswith("#")]
        result.update({
            "loadavg_before": loadavg, "wall_s": round(wall, 2),
            "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
            "other_load_pct": round(statistics.mean(r[3] for r in seconds), 1) if seconds else None,
            "other_load_pct_max": max((r[3] for r in seconds), default=None),
            "live_rid": live_rid, "live_rate": rate if spec["live"] else None,
            "live_publishers": args.live_publishers if spec["live"] else None,
        })
        for tool, (rc, _) in exits.items():
            if rc not in (0, 1):
                result["problems"].append(f"{tool} exited with {rc}")
        if spec["replay"]:
            replay = last_json(os.path.join(args.out, f"{tag}.replay.out"))
            if replay is None:
                raise RuntimeError(f"{tag}: fynsync-replay-bench printed no result (exit {exits['replay'][0]})")
            result["replay"] = replay
            result["problems"] += [f"replay: {p}" for p in replay["problems"]]
            if replay["head"] < args.events or replay["seq"]["first"] != 1:
                result["problems"].append(f"replay: seq {replay['seq']['first']}..{replay['head']} does not cover "
                                          f"the {args.events} preloaded events")
        if probe:
            result["probe"] = probe.result
            for verb, p in probe.result.items():
                if p["answered_after_s"] is None:
                    result["problems"].append(f"probe: the {verb} request got no answer")
                else:
                    p["sent_after_request_s"] = round(p["sent_realtime"] - replay["request_realtime"], 3)
        if spec["live"]:
            bench = last_json(os.path.join(args.out, f"{tag}.bench.out"))
            if bench is None:
                raise RuntimeError(f"{tag}: fynsync-bench printed no result (exit {exits['bench'][0]})")
            result["live"] = bench
            result["problems"] += [f"live: {p}" for p in bench["problems"]]
            prefix = f"live-{tag}".replace("+", "_")
            count, start = pg.query("SELECT count(*), extract(epoch FROM min(created_at)) FROM events "
                                    "WHERE restaurant = %s AND created_by LIKE %s", live_rid, prefix + "-p%")[0]
            if count != bench["accepted"]:
                result["problems"].append(f"live: table holds {count} events of the bench for {bench['accepted']} accepted")
            # created_at is the bench's clock at its first send, truncated to the ms.
            result["live_start_realtime"] = float(start) + 0.0005 if start is not None else None
            rows = read_samples(files["samples"])
            end_s = bench["duration_s"]
            result["live_all"] = window_stats(rows, args.warmup, end_s)
            if spec["replay"] and result["live_start_realtime"] and replay["done_realtime"] > 0:
                req = replay["request_realtime"] - result["live_start_realtime"]
                done = replay["done_realtime"] - result["live_start_realtime"]
                result["replay_window_s"] = [round(req, 3), round(done, 3)]
                result["live_during"] = window_stats(rows, req, min(done, end_s))
                result["live_before"] = window_stats(rows, args.warmup, req)
                result["live_after"] = window_stats(rows, done + 1, end_s)
                if done > end_s:
                    result["problems"].append(f"the replay outlasted the live load ({done:.1f} s > {end_s:.1f} s); "
                                              "raise --live-duration")
        wal = pg.query("SELECT wal_records, wal_bytes, wal_sync, wal_sync_time FROM pg_stat_wal")[0]
        result["wal"] = {"records": wal[0], "bytes": int(wal[1]), "syncs": wal[2],
                         "sync_ms_mean": round(wal[3] / wal[2], 3) if wal[2] else None}
        log_text = broker.read_log()
        dropped = log_text.count(DROPPED_TEXT)
        if dropped:
            result["problems"].append(f"the broker logged '{DROPPED_TEXT}' {dropped} times")
        result["broker_log_warnings"] = [line for line in log_text.splitlines()
                                         if "fynsync:" in line and "ready" not in line][:20]
        return result
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if probe and probe.is_alive():
            probe.client.close()
        if broker:
            shutil.copy(broker.log, os.path.join(args.out, f"{tag}.broker.log"))
            broker.destroy()
        admin(pg, "DROP DATABASE IF EXISTS fynsync WITH (FORCE)")


# ---- figure -------------------------------------------------------------------------

def median_run(results, name):
    """The scenario's median run: by replay time, or for live-only runs by
    accepted events/s (the figure shows one run per scenario)."""
    runs = [r for r in results if r["scenario"] == name]
    if not runs:
        return None
    runs.sort(key=lambda r: r["replay"]["replay_s"] if "replay" in r else r.get("live_all", {}).get("accepted_per_s", 0))
    return runs[(len(runs) - 1) // 2]


def figure(args, results, png):
    """Three panels on one time axis (seconds since the resume request):
    replay progress per scenario; live submit->confirmed latency at the paced
    rate; live accepted events per second with the publishers at full speed."""
    colors = {"replay": "#000000", "replay-full": "#888888", "replay+paced-other": "#009e73",
              "replay+paced-same": "#9400d3", "replay+max-other": "#e69f00", "replay+max-same": "#e51e10",
              "replay-nostats": "#56b4e9"}
    labels = {"replay": "alone (staff, redacted view)", "replay-full": "alone (owner, full view)",
              "replay+paced-other": "with {rate}/s live, other restaurant",
              "replay+paced-same": "with {rate}/s live, same restaurant",
              "replay+max-other": "with live at full speed, other restaurant",
              "replay+max-same": "with live at full speed, same restaurant"}
    progress, xmax = [], 5.0
    for name in labels:
        r = median_run(results, name)
        if not r or "replay" not in r:
            continue
        path = os.path.join(args.out, f"{name}-{r['repeat']}.progress")
        rate = r.get("live_rate") or args.live_rate
        xmax = max(xmax, r["replay"]["replay_s"])
        progress.append(f"'{path}' using 1:($3/1000) with lines lw 2 lc rgb '{colors[name]}' "
                        f"title '{labels[name].format(rate=int(rate))}: {r['replay']['replay_s']:.1f} s'")
    xmin, xmax = -3.0, xmax + 3.0

    def shifted(name, kind):
        """Bench data of one run, times shifted to the replay request."""
        r = median_run(results, name)
        if not r or "replay_window_s" not in r:
            return None, None
        req = r["replay_window_s"][0]
        out = os.path.join(args.out, f"fig-{name}-{kind}.dat")
        with open(out, "w") as f:
            if kind == "latency":
                for s, a, c, st in read_samples(os.path.join(args.out, f"{name}-{r['repeat']}.samples")):
                    if st == "accepted" and c >= 0:
                        f.write(f"{s - req:.4f} {c:.3f}\n")
            else:
                # Accepted acks per 500 ms (the bench's own timeline has 1 s
                # bins, coarse next to a replay of a few seconds), plotted
                # mid-bin; only events sent after the warm-up are sampled.
                bins = {}
                for s, a, c, st in read_samples(os.path.join(args.out, f"{name}-{r['repeat']}.samples")):
                    at = s + a / 1000
                    if st == "accepted" and a >= 0 and at < r["live"]["duration_s"]:
                        bins[int(at * 2)] = bins.get(int(at * 2), 0) + 1
                for b in range(int(args.warmup * 2) + 1, int(r["live"]["duration_s"] * 2)):
                    f.write(f"{(b + 0.5) / 2 - req:.3f} {bins.get(b, 0) * 2}\n")
        return r, out

    lat_plots, thr_plots, shade, shade_max = [], [], [], []
    for name, color in (("replay+paced-other", "#009e73"), ("replay+paced-same", "#9400d3")):
        r, path = shifted(name, "latency")
        if r:
            d = r["live_during"]["confirmed"]
            lat_plots.append(f"'{path}' using 1:2 with points pt 7 ps 0.25 lc rgb '{color}' "
                             f"title '{labels[name].format(rate=int(r['live_rate']))}: during the replay p50 "
                             f"{d['p50_ms']:.2f} ms, p99 {d['p99_ms']:.1f} ms'")
            shade.append(r["replay_window_s"][1] - r["replay_window_s"][0])
    base = median_run(results, "live-paced")
    for name, color in (("replay+max-other", "#e69f00"), ("replay+max-same", "#e51e10")):
        r, path = shifted(name, "throughput")
        if r:
            shade_max.append(r["replay_window_s"][1] - r["replay_window_s"][0])
            thr_plots.append(f"'{path}' using 1:2 with linespoints lw 2 pt 7 ps 0.5 lc rgb '{color}' "
                             f"title '{labels[name]}: {r['live_during']['accepted_per_s']:.0f}/s during the replay, "
                             f"{r['live_before']['accepted_per_s']:.0f}/s before'")
    base_max = median_run(results, "live-max")
    if not progress:
        log("no replay runs to plot")
        return None
    if base and "live_all" in base and "confirmed" in base["live_all"]:
        b = base["live_all"]["confirmed"]
        lat_plots.append(f"{b['p50_ms']} with lines dt 3 lw 2 lc rgb '#444444' title 'no replay (same load alone): p50 {b['p50_ms']:.2f} ms'")
        lat_plots.append(f"{b['p99_ms']} with lines dt 2 lw 2 lc rgb '#444444' title 'no replay: p99 {b['p99_ms']:.1f} ms'")
    if base_max and "live_all" in base_max:
        v = base_max["live_all"]["accepted_per_s"]
        thr_plots.append(f"{v} with lines dt 2 lw 2 lc rgb '#444444' title 'no replay (same load alone): {v:.0f}/s'")
    longest = max(shade) if shade else 0
    longest_max = max(shade_max) if shade_max else 0
    r0 = median_run(results, "replay")
    n = r0["events"] if r0 else args.events
    script = f"""
set terminal pngcairo size 1000,1250 font ',11'
set output '{png}'
set lmargin 10
set rmargin 3
set multiplot layout 3,1 title "fynsync: replaying {n:,} missed events to one resuming client (loopback, PostgreSQL fsync on, 2 vCPUs)\\nthe median run of each scenario"
set grid
set xrange [{xmin}:{xmax}]
set key bottom right box opaque
set xlabel 'seconds since the ctl/resume request'
set ylabel 'replayed events received (thousands)'
set yrange [0:*]
set title 'replay progress at the resuming client (until replay.done)'
plot {", ".join(progress)}
unset arrow
unset label
set title 'live submit -> confirmed latency, {int(args.live_rate)} events/s from {args.live_publishers} publishers (each point one event, by send time)'
set ylabel 'latency (ms, log scale)'
set logscale y
set yrange [0.3:3000]
set key top right box opaque width -8
set object 1 rect from 0,graph 0 to {longest},graph 1 fc rgb '#f0f0f0' fs solid 1.0 noborder behind
set label 'replay running' at 0.2,graph 0.05
plot {", ".join(lat_plots) if lat_plots else "NaN notitle"}
unset object 1
unset arrow
unset label
unset logscale y
set title 'live accepted events per second (per 500 ms), {args.live_publishers} publishers as fast as the hub answers (window {args.window} each)'
set ylabel 'accepted events per second'
set yrange [0:*]
set key bottom right box opaque
set object 2 rect from 0,graph 0 to {longest_max},graph 1 fc rgb '#f0f0f0' fs solid 1.0 noborder behind
plot {", ".join(thr_plots) if thr_plots else "NaN notitle"}
unset multiplot
"""
    run_bench.gnuplot(script)
    return png


# ---- summary -------------------------------------------------------------------

def summarize(results):
    by = {}
    for r in results:
        by.setdefault(r["scenario"], []).append(r)
    out = {}
    for name, runs in by.items():
        s = {"runs": len(runs), "problems": [p for r in runs for p in r["problems"]]}

        def med(values):
            values = [v for v in values if v is not None]
            return {"median": statistics.median(values), "range": [min(values), max(values)]} if values else None
        if "replay" in runs[0]:
            s["replay_s"] = med([r["replay"]["replay_s"] for r in runs])
            s["events_per_s"] = med([r["replay"]["events_per_s"] for r in runs])
            s["first_event_ms"] = med([r["replay"]["first_event_ms"] for r in runs])
        key = "live_during" if "live_during" in runs[0] else ("live_all" if "live_all" in runs[0] else None)
        if key:
            s["live_window"] = key
            s["live_accepted_per_s"] = med([r[key]["accepted_per_s"] for r in runs])
            for p in ("p50_ms", "p99_ms", "max_ms"):
                s[f"live_confirmed_{p}"] = med([r[key].get("confirmed", {}).get(p) for r in runs])
        out[name] = s
    return out


def print_table(results):
    print("| run | replay: request -> replay.done | replayed events/s | first event | live window | live accepted/s "
          "| live confirmed p50 / p99 / max (ms) | other client's resume / snapshot answered after | CPU s: postgres / broker / replay client / bench "
          "| broker RSS peak | other load mean / max | problems |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        rp = r.get("replay")
        live_key = "live_during" if "live_during" in r else ("live_all" if "live_all" in r else None)
        lv = r.get(live_key) if live_key else None
        cpu, threads = r["cpu_s"], r.get("broker_threads_cpu_s", {})
        live_label = ""
        if r.get("live_rid"):
            live_label = (f"{r['live_publishers']} pub, {r['live_rate']:.0f}/s" if r["live_rate"] else
                          f"{r['live_publishers']} pub, max") + f", rid {r['live_rid']}"
        conf = lv.get("confirmed") if lv else None
        print(f"| {r['scenario']} #{r['repeat']} | "
              + ((f"{rp['replay_s']:.2f} s (read nothing for {rp['stall_s']:.0f} s) | "
                  f"{rp['events_per_s_after_stall']:,.0f} after the stall | {rp['first_event_ms']:.0f} ms")
                 if rp and rp.get("stall_s") and rp["replay_s"] > 0 else
                 f"{rp['replay_s']:.2f} s | {rp['events_per_s']:,.0f} | {rp['first_event_ms']:.0f} ms" if rp and rp["replay_s"] > 0
                 else "– | – | –")
              + f" | {(('during replay' if live_key == 'live_during' else 'whole run') + ', ' + live_label) if lv else '–'}"
              + (f" | {lv['accepted_per_s']:.0f}" if lv else " | –")
              + (f" | {conf['p50_ms']:.2f} / {conf['p99_ms']:.2f} / {conf['max_ms']:.1f}" if conf else " | –")
              + (" | " + " / ".join(f"{r['probe'][v]['answered_after_s']:.3f} s" if r["probe"].get(v, {}).get("answered_after_s")
                                     is not None else "none" for v in ("resume", "snapshot")) if r.get("probe") else " | –")
              + f" | {cpu['postgres']:.1f} / {cpu['broker']:.1f}"
              + (f" (reader {threads['reader']:.1f}, writer {threads['writer']:.1f}, mosquitto {threads['main']:.1f})"
                 if all(k in threads for k in ("reader", "writer", "main")) else "")
              + f" / {cpu.get('replay', 0):.1f} / {cpu.get('bench', 0):.1f}"
              + f" | {r.get('broker_memory_mb', {}).get('peak', '?')} MiB"
              + f" | {r['other_load_pct']}% / {r['other_load_pct_max']}%"
              + f" | {'; '.join(r['problems']) or 'none'} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    build = os.path.join(SOURCE_DIR, "build-replay")
    parser.add_argument("--replay-bench", default=os.path.join(build, "tools", "fynsync-replay-bench"))
    parser.add_argument("--bench", default=os.path.join(build, "tools", "fynsync-bench"))
    parser.add_argument("--plugin", default=os.environ.get("FYNSYNC_PLUGIN", os.path.join(build, "plugin", "fynsync.so")))
    parser.add_argument("--out", default=os.path.join(build, "replay-results"))
    parser.add_argument("--scenarios", default=DEFAULT_SCENARIOS, help=f"comma-separated, of: {', '.join(SCENARIOS)}")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario (interleaved), each on a fresh database and broker")
    parser.add_argument("--events", type=int, default=100000, help="events preloaded and replayed")
    parser.add_argument("--preload-batch", type=int, default=5000, help="events per fynsync_append call")
    parser.add_argument("--role", default="staff", help="role of the resuming client (staff: redacted view)")
    parser.add_argument("--live-publishers", type=int, default=4)
    parser.add_argument("--live-rate", type=float, default=300, help="events/s in total of the paced scenarios")
    parser.add_argument("--window", type=int, default=64, help="unanswered events per publisher")
    parser.add_argument("--live-duration", type=float, default=25, help="seconds of live load per run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of live load left out of the numbers")
    parser.add_argument("--replay-at", type=float, default=5, help="seconds after the live load starts when the replay is requested")
    parser.add_argument("--replay-timeout", type=float, default=300, help="seconds a replay may take")
    parser.add_argument("--durability", choices=("default", "off"), default="default")
    parser.add_argument("--quick", action="store_true", help="20,000 events, 12 s of live load (a smoke test of the benchmark)")
    parser.add_argument("--figures", metavar="DIR", help="write the PNG figure (gnuplot) into DIR")
    parser.add_argument("--replot", action="store_true", help="only the table and the figure again from --out/results.json")
    parser.add_argument("--timeout", type=float, default=1800, help="hard bound on the whole run, seconds")
    args = parser.parse_args()
    if args.quick:
        args.events, args.live_duration = 20000, 12
    args.out = os.path.abspath(args.out)
    if args.replot:
        with open(os.path.join(args.out, "results.json")) as f:
            report = json.load(f)
        for k, v in report.get("options", {}).items():
            if k in ("live_rate", "live_publishers", "window", "events"):
                setattr(args, k, v)
        print_table(report["runs"])
        if args.figures and shutil.which("gnuplot"):
            os.makedirs(args.figures, exist_ok=True)
            log(f"wrote {figure(args, report['runs'], os.path.join(args.figures, 'replay-100k.png'))}")
        return 0
    names = [n for n in args.scenarios.split(",") if n]
    for n in names:
        if n not in SCENARIOS:
            parser.error(f"unknown scenario {n!r}")
    if args.replay_at <= args.warmup or args.replay_at >= args.live_duration:
        parser.error("--replay-at must lie between --warmup and --live-duration")
    for path, what in ((args.replay_bench, "--replay-bench"), (args.bench, "--bench"), (args.plugin, "--plugin")):
        if not os.path.exists(path):
            log(f"{what} {path} does not exist; build it first "
                "(cmake --build build-replay --target fynsync fynsync-bench fynsync-replay-bench)")
            return 2
    args.replay_bench, args.bench = os.path.abspath(args.replay_bench), os.path.abspath(args.bench)
    harness.PLUGIN = os.path.abspath(args.plugin)
    os.makedirs(args.out, exist_ok=True)

    def on_alarm(signum, frame):
        raise Timeout(f"the benchmark exceeded --timeout {args.timeout:.0f}s")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(int(args.timeout))

    pg_wanted = {"listen_addresses": "127.0.0.1", "max_connections": "50", "track_wal_io_timing": "on"}
    if args.durability == "off":
        pg_wanted.update({"fsync": "off", "shared_buffers": "64MB"})
    broker_settings, plugin_options = run_bench.read_default_deployment()
    # A whole replay must fit in the client's queue (docs/protocol.md, "Replay
    # pacing"), and max_replay must admit it.
    broker_settings["max_queued_messages"] = str(max(300000, 3 * args.events))
    plugin_options["max_replay"] = str(max(200000, 2 * args.events))
    results, pg, preload = [], None, None
    try:
        pg = run_bench.BenchPostgres(pg_wanted)
        settings = run_bench.pg_settings(pg)
        preload = build_templates(args, pg, broker_settings, plugin_options)
        for repeat in range(1, args.repeat + 1):
            for name in names:
                r = one_run(args, name, repeat, broker_settings, plugin_options, pg)
                results.append(r)
                msg = f"{name}-{repeat}:"
                if "replay" in r:
                    msg += f" replay {r['replay']['replay_s']:.2f} s ({r['replay']['events_per_s']:,.0f} ev/s)"
                key = "live_during" if "live_during" in r else "live_all"
                if key in r and "confirmed" in r[key]:
                    msg += (f"; live ({key}) {r[key]['accepted_per_s']:.0f} accepted/s, confirmed p50 "
                            f"{r[key]['confirmed']['p50_ms']:.2f} ms p99 {r[key]['confirmed']['p99_ms']:.2f} ms")
                log(msg + (f"; PROBLEMS: {r['problems']}" if r["problems"] else ""))
    except (Timeout, KeyboardInterrupt) as e:
        log(f"stopped: {e or 'interrupted'}")
        return 2
    finally:
        signal.alarm(0)
        if pg:
            try:
                shutil.copy(os.path.join(pg.dir, "postgres.log"), os.path.join(args.out, "postgres.log"))
            except OSError:
                pass
            pg.destroy()
    figures = []
    if args.figures:
        if shutil.which("gnuplot"):
            os.makedirs(args.figures, exist_ok=True)
            png = figure(args, results, os.path.join(args.figures, "replay-100k.png"))
            figures = [png] if png else []
        else:
            log("gnuplot not installed (apt-get install gnuplot-nox); no figure")
    report = {
        "machine": run_bench.machine_info(),
        "postgres_settings_requested": pg_wanted,
        "postgres_settings": settings,
        "broker_settings": broker_settings,
        "plugin_options": plugin_options,
        "preload": preload,
        "options": {k: getattr(args, k) for k in ("events", "role", "live_publishers", "live_rate", "window",
                                                 "live_duration", "warmup", "replay_at", "durability")},
        "summary": summarize(results),
        "runs": results,
        "figures": figures,
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(report, f, indent=2)
    print_table(results)
    print(json.dumps({"summary": report["summary"]}, separators=(",", ":")))
    bad = [p for r in results for p in r["problems"]]
    if bad:
        log(f"{len(bad)} problem(s): {bad}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
