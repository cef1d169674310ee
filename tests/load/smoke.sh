#!/usr/bin/env bash
# tests/load/smoke.sh BENCH REPLAY_BENCH PLUGIN OUT: the benchmark's
# consistency smoke run (ctest load.smoke, in ./fynsync test). A few
# seconds of every kind of run `./fynsync bench` makes of the submit path
# (the hub beside plain mosquitto), a reconnect storm of 100 clients
# (each must get exactly its 50 missed events in order) and a 5,000-event
# replay, each on a
# fresh PostgreSQL and broker. It asserts consistency only, never a speed:
# run_bench.py and run_replay_bench.py exit non-zero unless every event was
# answered, every accepted event confirmed once with gap-free seq in order,
# the events table holds exactly the accepted rows, and the replay returned
# exactly the missed events in order.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 BENCH REPLAY_BENCH PLUGIN OUT" >&2; exit 2; }
bench="$1" replay_bench="$2" plugin="$3" out="$4"
here="$(cd "$(dirname "$0")" && pwd)"
/usr/bin/python3 "$here/run_bench.py" --bench "$bench" --plugin "$plugin" --out "$out/bench" \
	--scenarios throughput,raw,storm --throughput-duration 3 --warmup 1 \
	--publishers 4 --restaurants 2 --window 50 --timeout 240 \
	--storm-clients 100 --storm-restaurants 10 --storm-behind 50 --storm-history 10 --storm-timeout 60
/usr/bin/python3 "$here/run_replay_bench.py" --replay-bench "$replay_bench" --bench "$bench" \
	--plugin "$plugin" --out "$out/replay" --scenarios replay --events 5000 --timeout 240
