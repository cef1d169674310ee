#!/usr/bin/python3
"""The cost of fynsync_append in PostgreSQL alone, without the hub: a fresh
cluster with default durability (fsync=on, synchronous_commit=on) through
tests/integration/harness.py, the migrations applied by the given
fynsync-migrate, then --rounds transactions of one batch of --batch
order.created events each (distinct orders, the payload fynsync-bench sends)
over --restaurants streams, from one connection, through the function the
hub's writer calls (fynsync_append_json since migration 014, before it
fynsync_append). Prints the median ms per batch and the backend's CPU µs
per event. Used for the figures in
store/migrations/010_set_based_append.sql:

  tests/load/append_batch.py --migrate build/tools/fynsync-migrate
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def batch(n, restaurants):
    out = []
    for i in range(n):
        u = str(uuid.uuid4())
        out.append({"idx": i, "restaurant": f"r{i % restaurants}", "created_by": "bench-p0",
                    "client_id": "bench-p0", "id": u, "aggregate_id": u, "event_type": "order.created",
                    "payload": {"total": 2500, "status": "open", "table": 12,
                                "items": [{"item_id": "burger", "name": "Burger", "qty": 1,
                                           "price": 1250, "cost": 410}]},
                    "metadata": {"device": "bench-p0"}, "created_at": "2026-12-02T12:00:00.000Z",
                    "retry": False})
    return json.dumps(out)


class DurablePostgres(harness.Postgres):
    """PostgreSQL's default durability, not the test suite's fsync=off."""
    settings = {"max_connections": "50"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--migrate", required=True, help="the fynsync-migrate whose migrations to measure")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--restaurants", type=int, default=1)
    args = parser.parse_args()
    pg = DurablePostgres()
    try:
        subprocess.run([args.migrate, pg.conninfo], check=True, stdout=subprocess.DEVNULL)
        conn = pg.connect()
        cur = conn.cursor()
        cur.execute("SELECT pg_backend_pid(), coalesce(to_regprocedure('fynsync_append_json(jsonb)')::text, "
                    "'fynsync_append(jsonb)')")
        pid, function = cur.fetchone()
        # The writer's query (store/store.c), every row fetched.
        append = ("SELECT idx, status, code, reason, seq, event::text FROM "
                  + function.split("(")[0] + "(%s::jsonb)")
        batches = [batch(args.batch, args.restaurants) for _ in range(args.rounds + 10)]
        for b in batches[:10]:
            cur.execute(append, (b,))
            cur.fetchall()
        times = []
        cpu0 = backend_cpu(pid)
        for b in batches[10:]:
            t = time.monotonic()
            cur.execute(append, (b,))
            assert len(cur.fetchall()) == args.batch
            times.append((time.monotonic() - t) * 1000)
        cpu = backend_cpu(pid) - cpu0
        print(json.dumps({"batch": args.batch, "rounds": args.rounds, "restaurants": args.restaurants,
                          "function": function, "ms_per_batch_median": round(statistics.median(times), 2),
                          "ms_per_batch_min": round(min(times), 2),
                          "backend_cpu_us_per_event": round(cpu / (args.batch * args.rounds) * 1e6, 1),
                          "loadavg": open("/proc/loadavg").read().split()[:3]}))
        conn.close()
    finally:
        pg.destroy()


if __name__ == "__main__":
    main()
