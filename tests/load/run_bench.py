#!/usr/bin/python3
"""Load benchmark for fynsync: a fresh PostgreSQL 15 (default durability:
fsync, synchronous_commit and full_page_writes on) and a fresh mosquitto with
the plugin for every run, started through tests/integration/harness.py, then
tools/fynsync-bench against them:

  throughput  8 publishers, as fast as the hub answers (window 64 each), 20 s;
              one subscriber per restaurant checks every event
  raw         the throughput scenario against plain mosquitto (no plugin, no
              PostgreSQL, anonymous, persistence false, mosquitto.conf's
              queue and in-flight limits): same publishers, QoS 1, payload,
              window and duration, one subscriber; an event counts when the
              subscriber has it (fynsync-bench --raw), so the loop is closed
  latency     8 publishers, 500 events/s in total, 20 s
  storm       issue 10's reconnect storm: --storm-clients (5,000) over
              --storm-restaurants (500), each --storm-behind (100) events
              behind, all connecting and resuming at once to a hub that has
              just been restarted: time until every one is caught up, with
              exactly its missing events in seq order; PostgreSQL's CPU and
              pg_stat_statements of the replay's queries
  scaling     issue 10's scaling curve: at each of --scaling-points (1,000,
              2,000, 5,000, 10,000) connections, one restaurant per 10 of
              them with one till submitting 2 events/s (paced) and nine
              subscribers: accepted/s and submit -> delivered p50/p99
              (figure scaling.png with --figures)

With --restaurants K the publishers write to K restaurants (publisher i to
restaurant i mod K), so that the hub's writers commit in parallel; seq is
checked per restaurant. Running throughput and raw in the same invocation
(interleaved) gives the ratio fynsync / plain mosquitto, the figure that
carries over to other machines.

Each run gets its own PostgreSQL and broker, which are stopped and removed
afterwards (also on failure, Ctrl-C or the overall --timeout). Results go to
--out: results.json (every run, the machine and the settings), the raw
per-event samples, per-second timelines and CPU use, the broker and
PostgreSQL logs, and with --figures DIR the PNG figures of
docs/benchmarks.md (gnuplot). The first --warmup seconds (2) of every run
are left out of the numbers.

  tests/load/run_bench.py --bench build-bench/tools/fynsync-bench \\
      --plugin build-bench/plugin/fynsync.so --out build-bench/load-results

Exit status: 0 every run complete and consistent (every event answered,
every accepted event confirmed once, seq gap-free, rows in the table match);
1 otherwise; 2 setup error.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))

import harness  # noqa: E402

SCENARIOS = {
    "throughput": {"publishers": 8, "rate": 0, "window": 64},
    "raw": {"publishers": 8, "rate": 0, "window": 64},
    "latency": {"publishers": 8, "rate": 500, "window": 64},
    # issue 10's latency goal: 1,000 subscribed clients over 100 restaurants
    # (a till publishing and ten subscribers each), 2,000 events/s, and the
    # same traffic through plain mosquitto. Fixed sizes: --publishers and
    # --restaurants do not apply.
    "fanout": {"publishers": 100, "restaurants": 100, "subscribers": 1000, "rate": 2000, "window": 64},
    "fanout-raw": {"publishers": 100, "restaurants": 100, "subscribers": 1000, "rate": 2000, "window": 64},
    # issue 10's connections goal: 10,000 authenticated clients over 1,000
    # restaurants (a till and nine subscribers each) held while 2,000
    # events/s flow (60 s, or --latency-duration with --quick). libmosquitto
    # 2.0.11 takes 3 descriptors per client (its socket and a socketpair) and
    # one process may hold 20,000 here, so 5,000 of the subscribers are held
    # by a second fynsync-bench (--hold), started first.
    "connections": {"publishers": 1000, "restaurants": 1000, "subscribers": 4000, "rate": 2000, "window": 64,
                    "duration": 60, "held": 5000},
}
FIXED_SIZE = ("fanout", "fanout-raw", "connections")
# Run by storm_run and scaling points (scaling_scenario), not by SCENARIOS.
SPECIAL = ("storm", "scaling")
# One process holds at most 1/3 of the 20,000 descriptors allowed here
# (libmosquitto: 3 per client); a scaling point above it puts the rest of
# its subscribers in a second process, as the connections scenario does.
PER_PROCESS = 5000
SCALING_RATE_PER_TILL = 2   # events/s of each restaurant's till

# mosquitto.conf settings the harness's broker config does not take from the
# repository's default deployment; the benchmark applies them.
BROKER_SETTINGS = ("max_queued_messages", "max_inflight_messages")
PATH_OPTIONS = ("db_conninfo", "jwt_key_file", "acl_file")


class Timeout(Exception):
    pass


def log(msg):
    print(f"run_bench: {msg}", file=sys.stderr, flush=True)


def read_default_deployment():
    """(mosquitto settings, plugin options) of the repository's mosquitto.conf."""
    broker, plugin = {}, {}
    with open(os.path.join(SOURCE_DIR, "mosquitto.conf")) as f:
        for line in f:
            parts = line.split(None, 1)
            if len(parts) != 2 or parts[0].startswith("#"):
                continue
            key, value = parts[0], parts[1].strip()
            if key in BROKER_SETTINGS:
                broker[key] = value
            elif (key.startswith("plugin_opt_") and key[len("plugin_opt_"):] not in PATH_OPTIONS
                  and "${" not in value):   # deployment placeholders (ports, paths): the harness picks its own
                plugin[key[len("plugin_opt_"):]] = value
    return broker, plugin


class BenchPostgres(harness.Postgres):
    """harness.Postgres started with the given server settings instead of the
    test suite's fsync=off: durability 'default' keeps PostgreSQL's defaults."""

    def __init__(self, settings):
        self.settings = settings
        super().__init__()

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None


class BenchBroker(harness.Broker):
    """harness.Broker with mosquitto.conf's queue and in-flight limits."""

    def __init__(self, postgres, broker_settings, plugin_options):
        self.broker_settings = broker_settings
        super().__init__(postgres, options=plugin_options)

    def _config(self):
        path = super()._config()
        with open(path) as f:
            lines = [line for line in f.read().splitlines()
                     if line.split(" ", 1)[0] not in self.broker_settings]
        lines = [f"{k} {v}" for k, v in self.broker_settings.items()] + lines
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path


class RawBroker(harness.Broker):
    """Plain mosquitto: no plugin, anonymous, mosquitto.conf's queue and
    in-flight limits, persistence false, TCP_NODELAY."""

    def __init__(self, broker_settings):
        self.broker_settings = broker_settings
        super().__init__(None)

    def _copy_in(self, path):
        return path

    def _config(self):
        lines = [f"{k} {v}" for k, v in self.broker_settings.items()] + [
            "per_listener_settings false", "allow_anonymous true", "persistence false",
            "set_tcp_nodelay true", f"listener {self.port} 127.0.0.1", "protocol mqtt",
            "log_type error", "log_type warning", "log_type notice"]
        path = os.path.join(self.dir, "mosquitto.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        harness._chown(path)
        return path

    def start(self):
        config = self._config()
        log = open(self.log, "a")
        user = {"user": harness.SERVICE_USER, "group": harness.SERVICE_USER, "extra_groups": []} if harness._is_root() else {}
        self.process = subprocess.Popen(["/usr/sbin/mosquitto", "-c", config], stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True, **user)
        log.close()
        if not harness._wait_port(self.port, 20, lambda: self.process.poll() is None):
            raise RuntimeError("plain mosquitto did not start:\n" + self.read_log())


# ---- CPU accounting -----------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    """(ppid, utime+stime seconds) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def tree_cpu(root_pid):
    """{pid: cpu seconds} for root_pid and its direct children."""
    out = {}
    if root_pid is None:
        return out
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = proc_stat(int(entry))
        if st and (int(entry) == root_pid or st[0] == root_pid):
            out[int(entry)] = st[1]
    return out


def start_holder(args, argv, scenario, duration, tag):
    """A second fynsync-bench holding scenario["held"] subscribers over the
    same restaurants (--hold); returns once they are all subscribed."""
    hold = argv[:argv.index("--restaurant")] + [
        "--restaurant", argv[argv.index("--restaurant") + 1], "--restaurants", str(scenario["restaurants"]),
        "--hold", "--publishers", "0", "--subscribers", str(scenario["held"]), "--connect-timeout", "120",
        "--duration", str(duration + args.drain_timeout + 600), "--id-prefix", f"bench-{tag}-held"]
    proc = subprocess.Popen(hold, stdout=subprocess.PIPE, stderr=open(os.path.join(args.out, f"{tag}.held.err"), "w"),
                            text=True)
    for line in proc.stdout:
        if line.startswith("fynsync-bench: holding"):
            log(f"{tag}: {line.strip()[len('fynsync-bench: '):]} in a second process")
            return proc
    raise RuntimeError(f"{tag}: the holding fynsync-bench exited (status {proc.wait()}) before holding its clients")


def finish_holder(proc):
    """Stops the holding fynsync-bench (SIGINT: it reports what it got)."""
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def proc_memory_kib(pid):
    """{"rss": VmRSS, "peak": VmHWM} of pid in KiB (None when unreadable)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return {"rss": int(fields["VmRSS"].split()[0]), "peak": int(fields["VmHWM"].split()[0])}
    except (OSError, KeyError, ValueError):
        return None


def machine_cpu():
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


def cpu_delta(before, after):
    return sum(after.get(pid, 0) - before.get(pid, 0) for pid in after)


# ---- machine ---------------------------------------------------------------------

def command_output(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def git_state():
    """The checkout's commit (with -dirty when plugin/ or store/ has changes),
    or None when SOURCE_DIR is not the top of a git checkout (an export)."""
    top = command_output(["git", "-C", SOURCE_DIR, "rev-parse", "--show-toplevel"])
    if not top or os.path.realpath(top) != os.path.realpath(SOURCE_DIR):
        return None
    commit = command_output(["git", "-C", SOURCE_DIR, "rev-parse", "--short", "HEAD"])
    dirty = command_output(["git", "-C", SOURCE_DIR, "status", "--porcelain", "--", "plugin", "store"])
    return commit + ("-dirty" if dirty else "")


def machine_info():
    model = ""
    for line in command_output(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    debian = ""
    if os.path.exists("/etc/debian_version"):
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "mem_gib": round(mem_kb / 1024 / 1024, 1),
        "debian": debian,
        "kernel": platform.release(),
        "postgres": command_output([harness.PG_BIN + "/postgres", "--version"]),
        "mosquitto": (command_output(["/usr/sbin/mosquitto", "-h"]).splitlines() or [""])[0],
        "git": git_state(),
    }


# ---- one run ------------------------------------------------------------------------

class CpuSampler(threading.Thread):
    """Once a second: the machine's busy share and the share used by the
    broker, PostgreSQL and the bench, written to path as
    `second machine_busy_pct fynsync_pct other_pct` (percent of all CPUs)."""

    def __init__(self, path, pids):
        super().__init__(daemon=True)
        self.path, self.pids, self.stop_event = path, pids, threading.Event()

    def ours(self):
        total = 0.0
        for root in (self.pids["broker"], self.pids["postgres"]):
            total += sum(tree_cpu(root).values())
        st = proc_stat(self.pids["bench"]) if self.pids.get("bench") else None
        return total + (st[1] if st else 0.0)

    def run(self):
        with open(self.path, "w") as f:
            f.write("# second machine_busy_pct fynsync_pct other_pct (fynsync: broker + postgres + bench)\n")
            start = time.monotonic()
            busy0, total0 = machine_cpu()
            ours0 = self.ours()
            second = 0
            while not self.stop_event.wait(max(0.0, start + second + 1 - time.monotonic())):
                busy1, total1 = machine_cpu()
                ours1 = self.ours()
                dtotal = max(1, total1 - total0)
                busy = (busy1 - busy0) / dtotal * 100
                ours = (ours1 - ours0) * CLK_TCK / dtotal * 100
                f.write(f"{second} {busy:.1f} {ours:.1f} {max(0.0, busy - ours):.1f}\n")
                busy0, total0, ours0 = busy1, total1, ours1
                second += 1

    def stop(self):
        self.stop_event.set()
        self.join(5)


def run_bench_process(argv, out_prefix, timeout, pids):
    """Runs the bench (stdout to out_prefix.out, stderr to out_prefix.err,
    CPU samples to out_prefix.cpu); returns (returncode, its cpu seconds)."""
    with open(out_prefix + ".out", "w") as out, open(out_prefix + ".err", "w") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
    sampler = CpuSampler(out_prefix + ".cpu", dict(pids, bench=proc.pid))
    sampler.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        timer.cancel()
        sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(out_prefix + ".err") as f:
        sys.stderr.write(f.read())
    return proc.returncode, usage.ru_utime + usage.ru_stime


def pg_settings(pg):
    names = ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method", "wal_init_zero", "shared_buffers",
             "wal_level", "max_wal_size", "checkpoint_timeout", "commit_delay", "wal_buffers")
    rows = pg.query("SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", list(names))
    return {name: setting + (f" ({unit})" if unit else "") for name, setting, unit in rows}


def scaling_scenario(connections):
    """A point of the scaling curve: connections / 10 restaurants, each a
    till (2 events/s, paced) and nine subscribers."""
    restaurants = connections // 10
    here = min(connections, PER_PROCESS)
    return {"publishers": restaurants, "restaurants": restaurants, "subscribers": here - restaurants,
            "rate": SCALING_RATE_PER_TILL * restaurants, "window": 64, "duration": 20,
            "held": connections - here}


def keep_logs_and_destroy(args, tag, broker, pg):
    """A run's broker and PostgreSQL (either may be None): their logs go to
    --out as {tag}.broker.log and {tag}.postgres.log, then they are gone."""
    if broker:
        shutil.copy(broker.log, os.path.join(args.out, f"{tag}.broker.log"))
        broker.destroy()
    if pg:
        try:
            shutil.copy(os.path.join(pg.dir, "postgres.log"), os.path.join(args.out, f"{tag}.postgres.log"))
        except OSError:
            pass
        pg.destroy()


def one_run(args, name, repeat, pg_settings_wanted, broker_settings, plugin_options):
    if name.startswith("scaling-"):
        scenario = scaling_scenario(int(name.split("-")[1]))
    else:
        scenario = dict(SCENARIOS[name])
    if name not in FIXED_SIZE and not name.startswith("scaling-"):
        # The hub's events are checked as tills receive them: one subscriber
        # per restaurant. Plain mosquitto keeps the one subscriber.
        # One subscriber of every restaurant lost messages to mosquitto
        # 2.0.11's accounting above about 5,400 events/s (docs/benchmarks.md,
        # "Every run was consistent except one"): it reads one PUBACK per
        # socket per pass of its loop, and the hub publishes a batch a pass.
        scenario.update(publishers=args.publishers, window=args.window, restaurants=args.restaurants,
                        subscribers=1 if name == "raw" else args.restaurants)
    if name == "latency":
        scenario["rate"] = args.latency_rate
    duration = args.latency_duration if name in ("latency",) + FIXED_SIZE or "held" in scenario else args.throughput_duration
    if "duration" in scenario and not args.quick:
        duration = scenario["duration"]
    rid = f"bench{name[0]}{'r' if name.endswith('-raw') else ''}{repeat}"
    scaling = name.startswith("scaling-")
    raw = name in ("raw", "fanout-raw")
    tag = f"{name}-{repeat}"
    samples = os.path.join(args.out, f"{tag}.samples")
    timeline = os.path.join(args.out, f"{tag}.timeline")
    pg = broker = holder = None
    try:
        if raw:
            broker = RawBroker(broker_settings)
            settings = {}
        else:
            pg = BenchPostgres(pg_settings_wanted)
            broker = BenchBroker(pg, broker_settings, plugin_options)
            settings = pg_settings(pg)
        argv = [args.bench, "--port", str(broker.port)] + (["--raw"] if raw else ["--secret-file", broker.secret_file]) + [
                "--restaurant", rid, "--restaurants", str(scenario["restaurants"]), "--publishers", str(scenario["publishers"]),
                "--subscribers", str(scenario["subscribers"]), "--connect-timeout", "120",
                "--rate", str(scenario["rate"]), "--window", str(scenario["window"]),
                "--duration", str(duration), "--warmup", str(args.warmup),
                "--drain-timeout", str(args.drain_timeout), "--id-prefix", f"bench-{tag}",
                "--timeline", timeline, "--samples", samples]
        log(f"{tag}: " + " ".join(argv[:1] + argv[3:]))
        if scenario.get("held"):
            holder = start_holder(args, argv, scenario, duration, tag)
        loadavg = open("/proc/loadavg").read().split()[:3]
        broker_before = tree_cpu(broker.process.pid)
        pg_before = tree_cpu(pg.postmaster_pid() if pg else None)
        machine_before = machine_cpu()
        wall_before = time.monotonic()
        rc, bench_cpu = run_bench_process(argv, os.path.join(args.out, tag), duration + args.drain_timeout + 60,
                                          {"broker": broker.process.pid, "postgres": pg.postmaster_pid() if pg else None})
        wall = time.monotonic() - wall_before
        broker_memory = proc_memory_kib(broker.process.pid)
        held = finish_holder(holder) if holder else None
        machine_after = machine_cpu()
        broker_cpu = cpu_delta(broker_before, tree_cpu(broker.process.pid))
        pg_cpu = cpu_delta(pg_before, tree_cpu(pg.postmaster_pid() if pg else None))
        with open(os.path.join(args.out, f"{tag}.out")) as f:
            lines = [line for line in f.read().splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"{tag}: the bench printed no result (exit {rc})")
        result = json.loads(lines[-1])
        wal = pg.query("SELECT wal_records, wal_bytes, wal_write, wal_sync, wal_write_time, wal_sync_time FROM pg_stat_wal")[0] if pg else [0] * 6
        # Per restaurant of the run: (count, first seq, last seq).
        streams = pg.query("SELECT restaurant, count(*), min(seq), max(seq) FROM events "
                           "WHERE restaurant = %s OR restaurant LIKE %s GROUP BY restaurant", rid, rid + "-%") if pg else []
        count = sum(row[1] for row in streams)
        busy = (machine_after[0] - machine_before[0]) / CLK_TCK
        with open(os.path.join(args.out, f"{tag}.cpu")) as f:
            seconds = [[float(v) for v in line.split()] for line in f if not line.startswith("#")]
        result.update({
            "scenario": name, "repeat": repeat, "bench_exit": rc, "pg_settings": settings,
            "point": int(name.split("-")[1]) if scaling else None,
            "loadavg_before": loadavg, "wall_s": round(wall, 2),
            "cpu_s": {"broker": round(broker_cpu, 2), "postgres": round(pg_cpu, 2), "bench": round(bench_cpu, 2),
                      "machine_busy": round(busy, 2)},
            "broker_memory_kib": broker_memory,
            "held": held,
            "other_load_pct": round(statistics.mean(row[3] for row in seconds), 1) if seconds else None,
            "other_load_pct_max": max((row[3] for row in seconds), default=None),
            "db_rows": count, "db_streams": {row[0]: [row[1], row[2], row[3]] for row in streams},
            "wal": {"records": wal[0], "bytes": int(wal[1]), "writes": wal[2], "syncs": wal[3],
                    "sync_ms_mean": round(wal[5] / wal[3], 3) if wal[3] else None,
                    "write_ms_mean": round(wal[4] / wal[2], 3) if wal[2] else None},
        })
        problems = list(result.get("problems", []))
        if pg and count != result["accepted"]:
            problems.append(f"table holds {count} rows for {result['accepted']} accepted events")
        for restaurant, n, first, last in streams:
            if first != 1 or last != n:
                problems.append(f"{restaurant}: {n} rows with seq {first}..{last}")
        if rc not in (0, 1):
            problems.append(f"bench exited with {rc}")
        result["problems"] = problems
        return result
    finally:
        if holder and holder.poll() is None:
            holder.kill()
            holder.wait()
        keep_logs_and_destroy(args, tag, broker, pg)


# ---- the reconnect storm --------------------------------------------------------------------

STORM_RID = "storm"
# pg_stat_statements (PostgreSQL's contrib, in Debian's postgresql-15) with
# the statements inside the store's SQL functions too.
STATEMENTS = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"}


def warm_hub(broker):
    """One empty resume: the hub's reader connects (and the schema is
    applied) before anything else touches the database."""
    client = broker.client("restaurant_owner", ("warm",))
    try:
        client.subscribe(f"fynlo/v1/client/{client.client_id}/#")
        client.publish("fynlo/v1/ctl/resume", {"streams": {"warm": 0}})
        topic, payload, _ = client.next_message(30, f"fynlo/v1/client/{client.client_id}/replay.done")
    finally:
        client.close()


def preload_storm(pg, restaurants, per_restaurant):
    """per_restaurant order.created events in each of restaurants streams
    (storm-0 ..), appended with fynsync_append as the writer does; seconds."""
    conn = pg.connect()
    started = time.monotonic()
    try:
        with conn.cursor() as cur:
            for k in range(restaurants):
                rid = f"{STORM_RID}-{k}"
                for start in range(0, per_restaurant, 500):
                    batch = []
                    for i in range(start, min(per_restaurant, start + 500)):
                        eid = str(uuid.uuid4())
                        batch.append({
                            "idx": i - start, "restaurant": rid, "created_by": f"{rid}-till", "client_id": f"{rid}-till",
                            "id": eid, "aggregate_id": f"order-{eid}", "event_type": "order.created", "correlation_id": None,
                            "payload": {"status": "open", "total": 1250, "items": [
                                {"item_id": "burger", "qty": 1, "price": 1250, "cost": 410}]},
                            "metadata": {"device": f"{rid}-till"},
                            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(1795000000 + i)),
                        })
                    cur.execute("SELECT count(*) FILTER (WHERE status = 'accepted') FROM fynsync_append(%s::jsonb)",
                                (json.dumps(batch),))
                    if cur.fetchone()[0] != len(batch):
                        raise RuntimeError(f"storm preload: a batch of {rid} was not accepted whole")
            cur.execute("VACUUM (ANALYZE)")
            cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    finally:
        conn.close()
    return time.monotonic() - started


def storm_statements(pg):
    """The reader's statements during the storm, from pg_stat_statements."""
    rows = pg.query("SELECT query, calls, round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3), rows, "
                    "shared_blks_hit, shared_blks_read FROM pg_stat_statements "
                    "WHERE query ILIKE '%%replay_page%%' OR query ILIKE '%%FROM restaurants WHERE id%%' "
                    "ORDER BY total_exec_time DESC LIMIT 6")
    total = pg.query("SELECT coalesce(round(sum(total_exec_time)::numeric, 1), 0), coalesce(sum(calls), 0) "
                     "FROM pg_stat_statements WHERE toplevel")
    return {"top": [{"query": " ".join(q.split())[:160], "calls": c, "total_ms": float(t), "mean_ms": float(m),
                     "rows": r, "blks_hit": h, "blks_read": b} for q, c, t, m, r, h, b in rows],
            "toplevel_total_ms": float(total[0][0]), "toplevel_calls": int(total[0][1])}


def thread_cpu(pid):
    """{tid: cpu seconds} of every thread of pid."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        st = proc_stat(f"{pid}/task/{tid}")
        if st:
            out[int(tid)] = st[1]
    return out


def storm_run(args, repeat, pg_settings_wanted, broker_settings, plugin_options):
    clients, restaurants, behind = args.storm_clients, args.storm_restaurants, args.storm_behind
    tag = f"storm-{repeat}"
    pg = broker = None
    try:
        pg = BenchPostgres(dict(pg_settings_wanted, **STATEMENTS))
        broker = BenchBroker(pg, broker_settings, plugin_options)
        warm_hub(broker)
        preload_s = preload_storm(pg, restaurants, args.storm_history + behind)
        log(f"{tag}: preloaded {restaurants} x {args.storm_history + behind} events in {preload_s:.1f} s; "
            "restarting the hub")
        # The hub restarts (a new process, nothing in memory); every client
        # comes back at once.
        shutil.copy(broker.log, os.path.join(args.out, f"{tag}.first-broker.log"))
        broker.destroy()
        broker = BenchBroker(pg, broker_settings, plugin_options)
        argv = [args.bench, "--port", str(broker.port), "--secret-file", broker.secret_file, "--storm",
                "--restaurant", STORM_RID, "--restaurants", str(restaurants), "--publishers", "0",
                "--subscribers", str(clients), "--resume-after", str(args.storm_history), "--behind", str(behind),
                "--duration", str(args.storm_timeout), "--connect-timeout", "120", "--id-prefix", f"bench-{tag}"]
        log(f"{tag}: " + " ".join(argv[:1] + argv[5:]))
        pg.query("SELECT pg_stat_statements_reset()")
        loadavg = open("/proc/loadavg").read().split()[:3]
        broker_before = tree_cpu(broker.process.pid)
        threads_before = thread_cpu(broker.process.pid)
        pg_before = tree_cpu(pg.postmaster_pid())
        machine_before = machine_cpu()
        rc, bench_cpu = run_bench_process(argv, os.path.join(args.out, tag), args.storm_timeout + 180,
                                          {"broker": broker.process.pid, "postgres": pg.postmaster_pid()})
        machine_after = machine_cpu()
        # The broker's own thread (mosquitto's loop: connects, control
        # requests, every publish) apart from the plugin's threads (the
        # readers build each replayed event's view text).
        threads = {tid: cpu - threads_before.get(tid, 0) for tid, cpu in thread_cpu(broker.process.pid).items()}
        broker_cpu = cpu_delta(broker_before, tree_cpu(broker.process.pid))
        pg_cpu = cpu_delta(pg_before, tree_cpu(pg.postmaster_pid()))
        with open(os.path.join(args.out, f"{tag}.out")) as f:
            lines = [line for line in f.read().splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"{tag}: the bench printed no result (exit {rc})")
        result = json.loads(lines[-1])
        with open(os.path.join(args.out, f"{tag}.cpu")) as f:
            seconds = [[float(v) for v in line.split()] for line in f if not line.startswith("#")]
        events = max(1, result["events"])
        result.update({
            "scenario": "storm", "repeat": repeat, "bench_exit": rc, "loadavg_before": loadavg,
            "preload_s": round(preload_s, 1), "broker_memory_kib": proc_memory_kib(broker.process.pid),
            "cpu_s": {"broker": round(broker_cpu, 2), "postgres": round(pg_cpu, 2), "bench": round(bench_cpu, 2),
                      "machine_busy": round((machine_after[0] - machine_before[0]) / CLK_TCK, 2)},
            "cpu_us_per_event": {"postgres": round(pg_cpu / events * 1e6, 1), "broker": round(broker_cpu / events * 1e6, 1),
                                 "bench": round(bench_cpu / events * 1e6, 1)},
            "broker_threads_cpu_s": {"main": round(threads.get(broker.process.pid, 0), 2),
                                     "plugin_threads_busiest": sorted((round(v, 2) for t, v in threads.items()
                                                                       if t != broker.process.pid), reverse=True)[:4]},
            "other_load_pct": round(statistics.mean(row[3] for row in seconds), 1) if seconds else None,
            "statements": storm_statements(pg),
        })
        problems = list(result.get("problems", []))
        if "Outgoing messages are being dropped" in broker.read_log():
            problems.append("mosquitto dropped outgoing messages")
        if rc not in (0, 1):
            problems.append(f"bench exited with {rc}")
        result["problems"] = problems
        return result
    finally:
        keep_logs_and_destroy(args, tag, broker, pg)


def storm_scaling_headline(storms, results):
    """The storm's and the scaling curve's rows of the headline table."""
    out = []
    if storms:
        t = [r["all_caught_up_s"] for r in storms]
        r = storms[0]
        out.append(f"| reconnect storm, {r['subscribers']:,} clients over {r['restaurants']:,} restaurants, "
                   f"{r['behind']} events behind each: all caught up (s); PostgreSQL CPU s | "
                   f"{statistics.median(t):.1f}; {statistics.median(x['cpu_s']['postgres'] for x in storms):.1f} "
                   f"| {min(t):.1f} – {max(t):.1f} | {len(storms)} | "
                   f"{', '.join(x['loadavg_before'][0] for x in storms)} |")
    for n, accepted, target, p50, p99, _, _, runs, p99_low, p99_high in scaling_points(results):
        out.append(f"| scaling, {n:,} connections, {target:,.0f} events/s paced: accepted/s; submit -> delivered "
                   f"p50 / p99 (ms) | {accepted:,.0f}; {p50:.1f} / {p99:.1f} | p99 {p99_low:.1f} – {p99_high:.1f} "
                   f"| {runs} | |")
    return out


def print_storm(results, args):
    for r in results:
        s, cpu, us = r["start_to_caught_up"], r["cpu_s"], r["cpu_us_per_event"]
        print(f"| storm #{r['repeat']}: {r['subscribers']:,} clients over {r['restaurants']:,} restaurants, "
              f"{r['behind']} behind each | all caught up {r['all_caught_up_s']:.2f} s ({r['events']:,} events, "
              f"{r['events_per_s']:,.0f}/s; all connected {r['connect_s']:.2f} s); per client start -> caught up "
              f"p50 / p99 / max {s['p50_ms'] / 1000:.2f} / {s['p99_ms'] / 1000:.2f} / {s['max_ms'] / 1000:.2f} s; "
              f"busy answers {r['busy_answers']:,} | CPU s postgres / broker / bench {cpu['postgres']} / "
              f"{cpu['broker']} / {cpu['bench']} ({us['postgres']} / {us['broker']} / {us['bench']} µs per event; "
              f"machine {cpu['machine_busy']} s); broker's main thread {r['broker_threads_cpu_s']['main']} s, busiest "
              f"plugin threads {' / '.join(str(x) for x in r['broker_threads_cpu_s']['plugin_threads_busiest'])} s "
              f"| load avg {r['loadavg_before'][0]}, other load {r['other_load_pct']}% |")
        for q in r["statements"]["top"]:
            print(f"|   pg_stat_statements: {q['calls']:,} calls, {q['total_ms']:,.0f} ms total, {q['mean_ms']} ms mean, "
                  f"{q['rows']:,} rows: {q['query'][:90]} |")


# ---- figures ----------------------------------------------------------------------------

def read_samples(path):
    ack, confirmed = [], []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            _, a, c, status = line.split()
            if status == "accepted":
                if float(a) >= 0:
                    ack.append(float(a))
                if float(c) >= 0:
                    confirmed.append(float(c))
    return sorted(ack), sorted(confirmed)


def write_cdf(values, path):
    """Every point of the tail above p99, about 2000 points below it."""
    n = len(values)
    step = max(1, n // 2000)
    with open(path, "w") as f:
        for i, v in enumerate(values):
            if i % step == 0 or i >= int(n * 0.99) or i == n - 1:
                f.write(f"{v:.4f} {(i + 1) / n * 100:.5f}\n")


def percentile(sorted_values, p):
    """Nearest rank, as fynsync-bench computes it."""
    n = len(sorted_values)
    rank = max(1, -(-int(p * n * 1000000) // 1000000))
    return sorted_values[min(n, rank) - 1]


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def latency_figure(args, runs, png):
    """CDF of both latencies, every latency run's samples pooled."""
    ack, confirmed = [], []
    for r in runs:
        a, c = read_samples(os.path.join(args.out, f"latency-{r['repeat']}.samples"))
        ack += a
        confirmed += c
    ack.sort()
    confirmed.sort()
    write_cdf(ack, os.path.join(args.out, "cdf-ack.dat"))
    write_cdf(confirmed, os.path.join(args.out, "cdf-confirmed.dat"))
    p50, p99, p999 = (percentile(confirmed, p) for p in (0.5, 0.99, 0.999))
    r = runs[0]
    gnuplot(f"""
set terminal pngcairo size 900,560 font ',11'
set output '{png}'
set title "fynsync: latency at {r['target_rate']:.0f} events/s from {r['publishers']} publishers, PostgreSQL fsync on\\n{len(runs)} runs x {r['duration_s'] - r['warmup_s']:.0f} s pooled, n = {len(confirmed)}"
set xlabel 'latency from submit (ms, log scale)'
set ylabel 'events at or below (%)'
set logscale x
set xrange [0.3:300]
set grid xtics mxtics ytics
set key bottom right
set yrange [0:100]
set ytics 10
set arrow from {p50},0 to {p50},50 nohead dt 2 lc rgb '#888888'
set arrow from {p99},75 to {p99},99 nohead dt 2 lc rgb '#888888'
set label 'p50 {p50:.2f} ms' at {p50},47 offset 0.7,0
set label 'p99 {p99:.2f} ms' at {p99},93 offset 0.7,0
set label 'p99.9 {p999:.1f} ms' at {p999},99.3 offset 0.7,-1.2
set label 'median gap ack -> confirmed event: {percentile(confirmed, 0.5) - percentile(ack, 0.5):.3f} ms' at graph 0.02,0.93
plot '{args.out}/cdf-ack.dat' using 1:2 with lines lw 3 lc rgb '#9400d3' title 'submit -> ack "accepted"', \\
     '{args.out}/cdf-confirmed.dat' using 1:2 with lines lw 1 lc rgb '#009e73' title 'submit -> confirmed event at a subscriber'
""")


def throughput_figure(args, runs, png):
    """Accepted events per second of every throughput run."""
    r = runs[0]
    colors = ["#9400d3", "#009e73", "#56b4e9", "#e69f00", "#e51e10"]
    plots = []
    for i, run in enumerate(runs):
        timeline = os.path.join(args.out, f"throughput-{run['repeat']}.timeline")
        plots.append(f"'{timeline}' using ($1 + 0.5):($1 < {r['duration_s']:.0f} ? $3 : NaN) with linespoints lw 2 pt 7 ps 0.6 "
                     f"lc rgb '{colors[i % len(colors)]}' "
                     f"title 'run {run['repeat']}: accepted/s (mean after warmup {run['accepted_per_s']:.0f})'")
    gnuplot(f"""
set terminal pngcairo size 900,{480 + 18 * len(runs)} font ',11'
set output '{png}'
set title "fynsync: {r['publishers']} publishers as fast as possible (window {r['window']} each), PostgreSQL fsync on"
set xlabel 'time since the first submission (s); acks counted per second, plotted mid-second'
set ylabel 'accepted events per second'
set grid
set key outside below vertical maxrows {len(runs)}
set yrange [0:*]
set xrange [0:{r['duration_s']:.0f}]
set arrow from {r['warmup_s']},graph 0 to {r['warmup_s']},graph 1 nohead dt 3 lc rgb '#888888'
set label 'warmup' at {r['warmup_s']},graph 0.05 right offset -0.5,0
plot {", ".join(plots)}
""")


def scaling_points(results):
    """[(connections, accepted/s, target/s, p50, p99 of every delivery, RSS MiB, machine busy,
    runs, lowest p99, highest p99)] of the scaling runs: each figure the median over the
    point's repeats (the held subscribers' deliveries, timed from created_at, are left
    out: ms resolution)."""
    by_point = {}
    for r in results:
        if r.get("point"):
            d = r["fanout"]["submit_to_delivered"]
            by_point.setdefault(r["point"], []).append(
                (r["accepted_per_s"], r["target_rate"], d["p50_ms"], d["p99_ms"],
                 (r.get("broker_memory_kib") or {}).get("peak", 0) / 1024,
                 r["cpu_s"]["machine_busy"] / max(1e-9, r["wall_s"])))
    out = []
    for point, runs in sorted(by_point.items()):
        medians = [statistics.median(column) for column in zip(*runs)]
        p99s = [run[3] for run in runs]
        out.append((point, *medians, len(runs), min(p99s), max(p99s)))
    return out


def print_scaling(results):
    points = scaling_points(results)
    if not points:
        return
    print("| connections | target events/s | accepted/s | deliveries/s | submit -> delivered p50 / p99 (ms) "
          "| p99 range (ms) | runs | broker peak RSS (MiB) | machine busy (of 2 vCPUs) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, accepted, target, p50, p99, rss, busy, runs, p99_low, p99_high in points:
        print(f"| {n:,} | {target:,.0f} | {accepted:,.0f} | {accepted * 9:,.0f} | {p50:.1f} / {p99:.1f} "
              f"| {p99_low:.1f} – {p99_high:.1f} | {runs} | {rss:.0f} | {busy:.2f} |")


def scaling_figure(args, points, png):
    data = os.path.join(args.out, "scaling.dat")
    with open(data, "w") as f:
        f.write("# connections accepted_per_s target_per_s p50_ms p99_ms rss_mib machine_busy runs p99_low_ms p99_high_ms\n")
        for p in points:
            f.write(" ".join(f"{v:.3f}" for v in p) + "\n")
    gnuplot(f"""
set terminal pngcairo size 900,760 font ',11'
set output '{png}'
set multiplot layout 2,1 title "fynsync: cost as connections grow (one restaurant per 10 connections: a till at {SCALING_RATE_PER_TILL} events/s and nine subscribers)\\nPostgreSQL fsync on; broker, PostgreSQL and load generator on the same 2 vCPUs"
set grid
set key top left
set logscale x
set xrange [800:12500]
set xtics (1000, 2000, 5000, 10000)
set ylabel 'events/s'
set yrange [0:*]
set y2label 'machine busy (vCPUs)'
set y2range [0:2.2]
set y2tics 0.5
plot '{data}' using 1:3 with lines dt 2 lw 2 lc rgb '#888888' title 'submitted (paced)', \\
     '{data}' using 1:2 with linespoints lw 2 pt 7 lc rgb '#9400d3' title 'accepted/s', \\
     '{data}' using 1:7 axes x1y2 with linespoints lw 1 pt 5 lc rgb '#e69f00' title 'machine busy (right axis)'
unset y2label
unset y2tics
set xlabel 'connections (JWT-authenticated, MQTT 5, QoS 1)'
set ylabel 'submit -> delivered (ms, log scale)'
set logscale y
set yrange [*:*]
plot '{data}' using 1:4 with linespoints lw 2 pt 7 lc rgb '#009e73' title 'p50', \\
     '{data}' using 1:5 with linespoints lw 2 pt 7 lc rgb '#e51e10' title 'p99'
unset multiplot
""")


def make_figures(args, results, figures_dir):
    if not shutil.which("gnuplot"):
        log("gnuplot not installed (apt-get install gnuplot-nox); no figures")
        return []
    os.makedirs(figures_dir, exist_ok=True)
    made = []
    latency = [r for r in results if r["scenario"] == "latency"]
    throughput = [r for r in results if r["scenario"] == "throughput"]
    if latency:
        made.append(os.path.join(figures_dir, "latency-cdf-500.png"))
        latency_figure(args, latency, made[-1])
    if throughput:
        made.append(os.path.join(figures_dir, "throughput-8pub.png"))
        throughput_figure(args, throughput, made[-1])
    scaling = scaling_points(results)
    if scaling:
        made.append(os.path.join(figures_dir, "scaling.png"))
        scaling_figure(args, scaling, made[-1])
    return made


# ---- summary -------------------------------------------------------------------------------

def summarize(results):
    by = {}
    for r in results:
        by.setdefault(r["scenario"], []).append(r)
    summary = {}
    for name, runs in by.items():
        def med(f):
            return statistics.median(f(r) for r in runs)

        def rng(f):
            return [min(f(r) for r in runs), max(f(r) for r in runs)]
        summary[name] = {
            "runs": len(runs),
            "accepted_per_s": {"median": med(lambda r: r["accepted_per_s"]), "range": rng(lambda r: r["accepted_per_s"])},
        }
        for metric in ("submit_to_ack", "submit_to_confirmed"):
            summary[name][metric] = {p: {"median": med(lambda r: r[metric][p]), "range": rng(lambda r: r[metric][p])}
                                     for p in ("p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms")}
        if all("fanout" in r for r in runs):
            summary[name]["submit_to_delivered"] = {
                p: {"median": med(lambda r: r["fanout"]["submit_to_delivered"][p]),
                    "range": rng(lambda r: r["fanout"]["submit_to_delivered"][p])}
                for p in ("p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms")}
            summary[name]["deliveries"] = sum(r["fanout"]["deliveries"] for r in runs)
            summary[name]["connections"] = runs[0].get("connections", 0) + ((runs[0].get("held") or {}).get("connections") or 0)
            if all((r.get("held") or {}).get("fanout") for r in runs):
                summary[name]["held_submit_to_delivered"] = {
                    p: {"median": med(lambda r: r["held"]["fanout"]["submit_to_delivered"][p]),
                        "range": rng(lambda r: r["held"]["fanout"]["submit_to_delivered"][p])}
                    for p in ("p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms")}
                summary[name]["held_connects_per_s"] = {"median": med(lambda r: r["held"]["connections"] / r["held"]["connect_s"])}
            summary[name]["connects_per_s"] = {"median": med(lambda r: r["connections"] / r["connect_s"])}
            if all(r.get("broker_memory_kib") for r in runs):
                summary[name]["broker_peak_rss_mib"] = {"median": med(lambda r: r["broker_memory_kib"]["peak"] / 1024),
                                                        "range": rng(lambda r: r["broker_memory_kib"]["peak"] / 1024)}
        summary[name]["rejected"] = sum(r["rejected"] for r in runs)
        summary[name]["unavailable"] = sum(r["unavailable"] for r in runs)
        summary[name]["problems"] = [p for r in runs for p in r["problems"]]
        summary[name]["loadavg_1min"] = [float(r["loadavg_before"][0]) for r in runs]
    # fynsync / plain mosquitto, each throughput run against the raw run of
    # the same repeat (they ran one after the other).
    raw = {r["repeat"]: r for r in by.get("raw", [])}
    ratios = [r["accepted_per_s"] / raw[r["repeat"]]["accepted_per_s"] for r in by.get("throughput", [])
              if r["repeat"] in raw and raw[r["repeat"]]["accepted_per_s"] > 0]
    if ratios:
        summary["ratio_throughput_to_raw"] = {"median": statistics.median(ratios), "range": [min(ratios), max(ratios)],
                                              "per_repeat": [round(x, 3) for x in ratios]}
    return summary


def headline(summary, machine, args):
    """The figures that travel, as markdown lines: fynsync against plain
    mosquitto, and the latency."""
    out = []
    out.append(f"machine: {machine['cpu_model']}, {machine['cpus']} CPUs, {machine['mem_gib']} GiB; "
          f"{machine['postgres']}; {machine['mosquitto']}; fynsync {machine['git']}")
    durability = "fsync on, synchronous_commit on" if args.durability == "default" else "fsync OFF"
    out.append(f"{args.publishers} publishers over {args.restaurants} restaurant(s), QoS 1, window {args.window}; "
          f"PostgreSQL {durability}")
    out.append("| | median | range | runs | load average (1 min) before each run |")
    out.append("|---|---|---|---|---|")
    labels = {"throughput": "fynsync: persisted + confirmed events/s", "raw": "plain mosquitto: delivered msgs/s"}
    for name in ("throughput", "raw"):
        if name in summary:
            t = summary[name]
            out.append(f"| {labels[name]} | {t['accepted_per_s']['median']:,.0f} | {t['accepted_per_s']['range'][0]:,.0f} – "
                  f"{t['accepted_per_s']['range'][1]:,.0f} | {t['runs']} | {', '.join(f'{x:.2f}' for x in t['loadavg_1min'])} |")
    if "ratio_throughput_to_raw" in summary:
        q = summary["ratio_throughput_to_raw"]
        out.append(f"| **ratio fynsync / mosquitto** (same repeat) | **{q['median']:.3f}** | {q['range'][0]:.3f} – "
              f"{q['range'][1]:.3f} | {len(q['per_repeat'])} | |")
    if "connections" in summary:
        c, t = summary["connections"]["submit_to_delivered"], summary["connections"]
        rss = t.get("broker_peak_rss_mib", {}).get("median")
        out.append(f"| fynsync, {t['connections']:,} clients over 1,000 restaurants at 2,000 events/s: connects/s, "
              f"broker peak RSS (MiB), submit -> delivered p50 / p99 / p99.9 (ms) | {t['connects_per_s']['median']:,.0f}; "
              f"{rss if rss is None else round(rss)}; {c['p50_ms']['median']:.2f} / {c['p99_ms']['median']:.2f} / "
              f"{c['p999_ms']['median']:.2f} | | {t['runs']} | {', '.join(f'{x:.2f}' for x in t['loadavg_1min'])} |")
        if "held_submit_to_delivered" in t:
            h = t["held_submit_to_delivered"]
            out.append(f"| the same, the subscribers held by the second process (from created_at, ms resolution): connects/s, "
                  f"p50 / p99 / p99.9 (ms) | {t['held_connects_per_s']['median']:,.0f}; {h['p50_ms']['median']:.1f} / "
                  f"{h['p99_ms']['median']:.1f} / {h['p999_ms']['median']:.1f} | | {t['runs']} | |")
    for name, label in (("fanout", "fynsync"), ("fanout-raw", "plain mosquitto")):
        if name in summary:
            c = summary[name]["submit_to_delivered"]
            out.append(f"| {label}, 1,000 subscribers over 100 restaurants at 2,000 events/s, submit -> delivered "
                  f"p50 / p99 / p99.9 (ms) | {c['p50_ms']['median']:.2f} / {c['p99_ms']['median']:.2f} / "
                  f"{c['p999_ms']['median']:.2f} | p99 {c['p99_ms']['range'][0]:.2f} – {c['p99_ms']['range'][1]:.2f} "
                  f"| {summary[name]['runs']} | {', '.join(f'{x:.2f}' for x in summary[name]['loadavg_1min'])} |")
    if "latency" in summary:
        c = summary["latency"]["submit_to_confirmed"]
        out.append(f"| latency at {args.latency_rate:.0f} events/s, submit -> confirmed p50 / p99 / p99.9 (ms) | "
              f"{c['p50_ms']['median']:.2f} / {c['p99_ms']['median']:.2f} / {c['p999_ms']['median']:.2f} | "
              f"p99 {c['p99_ms']['range'][0]:.2f} – {c['p99_ms']['range'][1]:.2f} | {summary['latency']['runs']} | "
              f"{', '.join(f'{x:.2f}' for x in summary['latency']['loadavg_1min'])} |")
    return out


def print_table(results):
    print("| run | accepted/s | rejected | unavailable | ack p50 / p99 (ms) | confirmed p50 | confirmed p90 "
          "| confirmed p99 | confirmed p99.9 | confirmed max | seq gaps | CPU per event: postgres / broker / bench (µs) "
          "| other load mean / max | load avg | WAL fsync mean |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        a, c, cpu = r["submit_to_ack"], r["submit_to_confirmed"], r["cpu_s"]
        n = max(1, r["accepted"])
        target = "as fast as possible" if r["target_rate"] == 0 else f"{r['target_rate']:.0f}/s"
        if r.get("mode") == "raw":
            target += ", plain mosquitto"
        print(f"| {r['scenario']} #{r['repeat']} ({r['publishers']} pub, {target}) | {r['accepted_per_s']:.0f} "
              f"| {r['rejected']} | {r['unavailable']} | {a['p50_ms']:.2f} / {a['p99_ms']:.2f} "
              f"| {c['p50_ms']:.2f} | {c['p90_ms']:.2f} | {c['p99_ms']:.2f} | {c['p999_ms']:.2f} | {c['max_ms']:.2f} "
              f"| {r['seq']['missing']} "
              f"| {cpu['postgres'] / n * 1e6:.0f} / {cpu['broker'] / n * 1e6:.0f} / {cpu['bench'] / n * 1e6:.0f} "
              f"| {r['other_load_pct']}% / {r['other_load_pct_max']}% | {r['loadavg_before'][0]} "
              f"| {r['wal']['sync_ms_mean']} ms |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", default=os.path.join(SOURCE_DIR, "build-bench", "tools", "fynsync-bench"))
    parser.add_argument("--plugin", default=os.environ.get("FYNSYNC_PLUGIN", os.path.join(SOURCE_DIR, "build-bench", "plugin", "fynsync.so")))
    parser.add_argument("--out", default=os.path.join(SOURCE_DIR, "build-bench", "load-results"))
    parser.add_argument("--scenarios", default="throughput,latency",
                        help="comma-separated: " + ",".join(SCENARIOS))
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario, each on a fresh PostgreSQL and broker")
    parser.add_argument("--throughput-duration", type=float, default=20)
    parser.add_argument("--latency-duration", type=float, default=20)
    parser.add_argument("--publishers", type=int, default=8, help="publisher connections of every scenario")
    parser.add_argument("--restaurants", type=int, default=1, help="restaurants the publishers are spread over")
    parser.add_argument("--window", type=int, default=64, help="unanswered events allowed per publisher")
    parser.add_argument("--latency-rate", type=float, default=500, help="events/s of the latency scenario")
    parser.add_argument("--warmup", type=float, default=2, help="seconds at the start of each run left out of the numbers")
    parser.add_argument("--drain-timeout", type=float, default=15)
    parser.add_argument("--durability", choices=("default", "off"), default="default",
                        help="default: PostgreSQL's defaults (fsync on); off: the test suite's fsync=off")
    parser.add_argument("--pg-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="extra PostgreSQL setting (diagnostics, e.g. log_min_duration_statement=0)")
    parser.add_argument("--broker-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="override one of mosquitto.conf's " + ", ".join(BROKER_SETTINGS) + " (both brokers)")
    parser.add_argument("--plugin-option", action="append", default=[], metavar="NAME=VALUE",
                        help="override one of mosquitto.conf's plugin_opt_NAME for the hub (diagnostics, e.g. max_batch=1024)")
    parser.add_argument("--quick", action="store_true", help="5 s runs (a smoke test of the benchmark itself)")
    parser.add_argument("--figures", metavar="DIR", help="write the PNG figures (gnuplot) into DIR")
    parser.add_argument("--replot", action="store_true",
                        help="only reprint the table and redraw the figures (with --figures) from --out/results.json")
    parser.add_argument("--timeout", type=float, default=900, help="hard bound on the whole run, seconds")
    parser.add_argument("--storm-clients", type=int, default=5000, help="storm: clients reconnecting at once (5000; 500 with --quick)")
    parser.add_argument("--storm-restaurants", type=int, default=500, help="storm: restaurants they are spread over (500; 50 with --quick)")
    parser.add_argument("--storm-behind", type=int, default=100, help="storm: events each client missed")
    parser.add_argument("--storm-history", type=int, default=20, help="storm: events each restaurant had before those")
    parser.add_argument("--storm-timeout", type=float, default=120, help="storm: seconds allowed until all are caught up")
    parser.add_argument("--scaling-points", default="1000,2000,5000,10000", help="scaling: connections at each point")
    parser.add_argument("--headline", metavar="FILE", help="also write the headline table (markdown) into FILE")
    args = parser.parse_args()
    if args.quick:
        args.throughput_duration = args.latency_duration = 5
        args.warmup = 1
        args.storm_clients = min(args.storm_clients, 500)
        args.storm_restaurants = min(args.storm_restaurants, 50)
    if args.replot:
        with open(os.path.join(args.out, "results.json")) as f:
            saved = json.load(f)
        runs = saved["runs"]
        print_table(runs)
        print_storm(saved.get("storms", []), args)
        print_scaling(runs)
        for png in make_figures(args, runs, args.figures) if args.figures else []:
            log(f"wrote {png}")
        return 0
    names = []
    for n in (n for n in args.scenarios.split(",") if n):
        if n not in SCENARIOS and n not in SPECIAL:
            parser.error(f"unknown scenario {n!r}")
        if n == "scaling":
            points = [int(p) for p in args.scaling_points.split(",") if p]
            if any(p < 100 or p % 10 or p > 2 * PER_PROCESS or 0 < p - PER_PROCESS < p // 10 for p in points):
                parser.error("--scaling-points: multiples of 10 from 100 to 10000")
            names += [f"scaling-{p}" for p in points]
        else:
            names.append(n)
    if args.storm_clients < args.storm_restaurants or args.storm_clients * 3 + 100 > 20000:
        parser.error("--storm-clients: at least one per restaurant, and at most 6,600 (3 descriptors each)")
    for path, what in ((args.bench, "--bench"), (args.plugin, "--plugin")):
        if not os.path.exists(path):
            log(f"{what} {path} does not exist; build it first (cmake --build build-bench)")
            return 2
    args.bench = os.path.abspath(args.bench)
    args.out = os.path.abspath(args.out)
    harness.PLUGIN = os.path.abspath(args.plugin)
    os.makedirs(args.out, exist_ok=True)

    def on_alarm(signum, frame):
        raise Timeout(f"the benchmark exceeded --timeout {args.timeout:.0f}s")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(int(args.timeout))

    # track_wal_io_timing: pg_stat_wal then says how long the WAL fsyncs took
    # (two clock reads per WAL write; durability is unchanged).
    pg_wanted = {"listen_addresses": "127.0.0.1", "max_connections": "50", "track_wal_io_timing": "on"}
    if args.durability == "off":
        pg_wanted.update({"fsync": "off", "shared_buffers": "64MB"})
    for item in args.pg_setting:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[a-z_.]+", name) or not re.fullmatch(r"[A-Za-z0-9_.:-]+", value):
            parser.error(f"--pg-setting {item!r}: expected name=value")
        pg_wanted[name] = value
    broker_settings, plugin_options = read_default_deployment()
    for item in args.broker_setting:
        name, sep, value = item.partition("=")
        if not sep or name not in BROKER_SETTINGS or not value.isdigit():
            parser.error(f"--broker-setting {item!r}: expected one of {', '.join(BROKER_SETTINGS)}=N")
        broker_settings[name] = value
    for item in args.plugin_option:
        name, sep, value = item.partition("=")
        if not sep or name not in plugin_options or name in PATH_OPTIONS or not value.isdigit():
            parser.error(f"--plugin-option {item!r}: expected one of mosquitto.conf's numeric plugin_opt_NAME=N")
        plugin_options[name] = value
    results, storms = [], []
    try:
        for repeat in range(1, args.repeat + 1):
            for name in names:
                if name == "storm":
                    r = storm_run(args, repeat, pg_wanted, broker_settings, plugin_options)
                    storms.append(r)
                    log(f"storm-{repeat}: all {r['subscribers']} caught up in {r['all_caught_up_s']:.2f} s, "
                        f"PostgreSQL {r['cpu_s']['postgres']} CPU s" + (f"; PROBLEMS: {r['problems']}" if r["problems"] else ""))
                    continue
                results.append(one_run(args, name, repeat, pg_wanted, broker_settings, plugin_options))
                r = results[-1]
                log(f"{name}-{repeat}: {r['accepted_per_s']:.0f} accepted/s, confirmed p50 "
                    f"{r['submit_to_confirmed']['p50_ms']:.2f} ms p99 {r['submit_to_confirmed']['p99_ms']:.2f} ms"
                    + (f"; PROBLEMS: {r['problems']}" if r["problems"] else ""))
    except (Timeout, KeyboardInterrupt) as e:
        log(f"stopped: {e or 'interrupted'}")
        return 2
    finally:
        signal.alarm(0)
    figures = make_figures(args, results, args.figures) if args.figures else []
    report = {
        "machine": machine_info(),
        "postgres_settings_requested": pg_wanted,
        "broker_settings": broker_settings,
        "plugin_options": plugin_options,
        "summary": summarize(results),
        "runs": results,
        "storms": storms,
        "figures": figures,
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(report, f, indent=2)
    if results:
        print_table(results)
    print_storm(storms, args)
    print_scaling(results)
    lines = (headline(report["summary"], report["machine"], args) if results else []) + storm_scaling_headline(storms, results)
    print("\n" + "\n".join(lines))
    if args.headline:
        with open(args.headline, "w") as f:
            f.write("\n".join(lines) + "\n")
    print(json.dumps({"summary": report["summary"]}, separators=(",", ":")))
    bad = [p for r in results + storms for p in r["problems"]]
    if bad:
        log(f"{len(bad)} problem(s): {bad}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
