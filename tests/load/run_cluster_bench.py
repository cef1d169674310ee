#!/usr/bin/python3
"""Cross-node fan-out latency (docs/scale.md, docs/benchmarks.md): one fresh
PostgreSQL 15 with its default durability and two fresh brokers on it
(tests/load/run_bench.py's setup, the repository's mosquitto.conf limits),
then tools/fynsync-bench twice per round: publishers on node A and the
subscriber on node A ("same"), then publishers on A and the subscriber on
node B ("cross"). The difference between the two submit-to-confirmed
distributions is what cross-node fan-out adds.

  tests/load/run_cluster_bench.py --bench build/tools/fynsync-bench \\
      --plugin build/plugin/fynsync.so [--rate 500] [--duration 20] [--rounds 2]

Prints one JSON line per run and a summary; exit 0 when every run was
complete and consistent (the bench's own checks), 1 otherwise.
"""

import argparse
import json
import os
import subprocess
import sys

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
sys.path.insert(0, os.path.dirname(__file__))

import harness  # noqa: E402
import run_bench  # noqa: E402


class ClusterBroker(run_bench.BenchBroker):
    """run_bench's broker with a given JWT secret, shared by every node."""

    def __init__(self, postgres, broker_settings, plugin_options, secret):
        self.broker_settings = broker_settings
        harness.Broker.__init__(self, postgres, options=plugin_options, secret=secret)


def bench(args, broker, port, sub_port, rid, tag):
    argv = [args.bench, "--port", str(port), "--sub-port", str(sub_port), "--restaurant", rid,
            "--publishers", str(args.publishers), "--rate", str(args.rate), "--duration", str(args.duration),
            "--warmup", "2", "--secret-file", broker.secret_file, "--id-prefix", f"cl-{tag}", "--quiet"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=args.duration + 120)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["exit"] = done.returncode
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", required=True)
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--publishers", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    harness.PLUGIN = os.path.abspath(args.plugin)
    broker_settings, plugin_options = run_bench.read_default_deployment()

    pg, nodes, ok, rows = None, [], True, []
    try:
        pg = run_bench.BenchPostgres({"max_connections": "50"})
        secret = os.urandom(32).hex()
        for _ in range(2):
            nodes.append(ClusterBroker(pg, broker_settings, plugin_options, secret))
        a, b = nodes
        for round_no in range(args.rounds):
            for kind, sub_port in (("same", a.port), ("cross", b.port)):
                r = bench(args, a, a.port, sub_port, f"lat{round_no}{kind}", f"{round_no}{kind}")
                ok = ok and r["exit"] == 0
                conf = r["submit_to_confirmed"]
                rows.append((kind, conf))
                print(json.dumps({"run": kind, "round": round_no, "accepted_per_s": r["accepted_per_s"],
                                  "submit_to_confirmed": conf, "submit_to_ack": r["submit_to_ack"],
                                  "problems": r["problems"]}), flush=True)
    finally:
        for node in nodes:
            node.destroy()
        if pg:
            pg.destroy()
    for kind in ("same", "cross"):
        mine = [c for k, c in rows if k == kind]
        if mine:
            keys = [k for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms") if k in mine[0]]
            print(kind, " ".join(f"{k}={sum(c[k] for c in mine) / len(mine):.2f}" for k in keys), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
