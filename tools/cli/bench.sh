#!/usr/bin/env bash
# tools/cli/bench.sh: `./fynsync bench [--quick] [--repeat N]`. Installs what
# is missing, builds an optimised tree (build-bench/, RelWithDebInfo), then,
# each run on a fresh PostgreSQL (fsync on, synchronous_commit on) and a
# fresh broker on free ports (tests/load/run_bench.py, interleaved):
#   throughput  8 publishers over 4 restaurants, window 250 each, 30 s,
#               persisted and confirmed events/s
#   raw         the same load against plain mosquitto (no plugin,
#               persistence false, QoS 1, one subscriber, closed loop)
#   latency     2,000 events/s paced: submit -> confirmed p50/p99/p99.9
#   fanout      1,000 subscribers over 100 restaurants (100 tills), 2,000
#               events/s: submit -> delivered p50/p99/p99.9 of every delivery
#   fanout-raw  the same traffic through plain mosquitto
#   connections 10,000 clients over 1,000 restaurants, held 60 s while
#               2,000 events/s flow: connects/s, broker peak RSS, p99
#   storm       5,000 clients over 500 restaurants, each 100 events behind,
#               reconnect and resume at once to a hub just restarted: time
#               until all are caught up (each with exactly its events, in
#               seq order), PostgreSQL's CPU and pg_stat_statements
#   scaling     1,000, 2,000, 5,000 and 10,000 connections (a till at 2
#               events/s and nine subscribers per restaurant): accepted/s
#               and submit -> delivered p50/p99, figure scaling.png
# and a replay of 100,000 missed events to one resuming client, alone and
# while 300 events/s flow on another restaurant (their submit -> confirmed
# p50/p99 during the replay; tests/load/run_replay_bench.py). Prints the
# machine, every run, the medians, and the ratio fynsync / mosquitto of the
# same repeat, and appends
# that table with the date, machine and commit to docs/benchmarks.md ("Runs
# of ./fynsync bench"). Results under build-bench/bench-results and
# build-bench/replay-results. Exit 1, reporting nothing, if any run lost,
# duplicated or reordered anything.
#
#   --quick      5 s runs, one repeat, a 20,000-event replay, a storm of 500
#                clients, no scaling curve (a smoke test); writes nothing
#                under docs/ (the other scenarios' sizes stay: 10,000
#                connections take a few seconds to open)
#   --repeat N   runs per scenario (default 3; the figures are medians)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Appends one run's headline table to docs/benchmarks.md, under its own
# heading with the date, commit, machine and load average.
append_to_benchmarks() {
	local table="$1" load="$2" tree="$3" doc="$ROOT/docs/benchmarks.md"
	grep -q '^## Runs of `./fynsync bench`' "$doc" ||
		printf '\n## Runs of `./fynsync bench`\n\nAppended by `./fynsync bench` (not `--quick`) after a run in which\nnothing was lost, duplicated or reordered; newest last.\n' >>"$doc"
	{
		printf '\n### %s, commit %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$tree"
		printf 'Machine: %s, %s CPUs, %s GiB; load average before: %s.\n\n' \
			"$(lscpu | sed -n 's/^Model name: *//p')" "$(nproc)" \
			"$(awk '/MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)" "$load"
		grep -v '^|' "$table" | sed 's/$/  /'
		echo
		grep '^|' "$table"
	} >>"$doc"
	say "appended the table to $doc"
}

repeat=3
quick=()
scenarios=throughput,raw,latency,fanout,fanout-raw,connections,storm,scaling
figures=()
while [ $# -gt 0 ]; do
	case "$1" in
		--quick) quick=(--quick); repeat=1; scenarios=${scenarios%,scaling} ;;
		--repeat) [ $# -ge 2 ] || die "--repeat needs a number"; repeat="$2"; shift ;;
		*) die "unknown option $1 (./fynsync bench [--quick] [--repeat N])" ;;
	esac
	shift
done
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || die "--repeat needs a positive number, not '$repeat'"

"$CLI/install.sh"
dir="$ROOT/build-bench"
[ ${#quick[@]} -gt 0 ] || figures=(--figures "$dir/bench-results/figures")
say "building $dir (RelWithDebInfo)"
build_into "$dir"

# The tree measured, as it is when the runs start (the appended table changes
# docs/benchmarks.md itself).
tree="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || tree="$tree (with uncommitted changes)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
say "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'); load average $load_before"
headline="$dir/bench-headline.md"
rm -f "$headline"
rc=0
"$ROOT/tests/load/run_bench.py" "${quick[@]}" --repeat "$repeat" --headline "$headline" \
	--bench "$dir/tools/fynsync-bench" --plugin "$dir/plugin/fynsync.so" --out "$dir/bench-results" \
	--scenarios "$scenarios" --publishers 8 --restaurants 4 --window 250 \
	--throughput-duration 30 --latency-rate 2000 --latency-duration 20 \
	"${figures[@]}" || rc=$?
"$ROOT/tests/load/run_replay_bench.py" "${quick[@]}" --repeat "$repeat" --scenarios replay,replay+paced-other \
	--replay-bench "$dir/tools/fynsync-replay-bench" --bench "$dir/tools/fynsync-bench" \
	--plugin "$dir/plugin/fynsync.so" --out "$dir/replay-results" >"$dir/replay-results.txt" || rc=$?
replay_row="$(python3 - "$dir/replay-results/results.json" <<'EOF_PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]["replay"]
print(f"| replay of {r['options']['events']:,} missed events to one client, request -> replay.done (s) "
      f"| {s['replay_s']['median']:.2f} | {s['replay_s']['range'][0]:.2f} – {s['replay_s']['range'][1]:.2f} "
      f"| {s['runs']} | {s['events_per_s']['median']:,.0f} events/s |")
s = r["summary"]["replay+paced-other"]
p99 = s["live_confirmed_p99_ms"]
print(f"| the same replay while {r['options']['live_rate']:,.0f} events/s flow on another restaurant: "
      f"replay (s); live submit -> confirmed p50 / p99 during it (ms) "
      f"| {s['replay_s']['median']:.2f}; {s['live_confirmed_p50_ms']['median']:.2f} / {p99['median']:.2f} "
      f"| p99 {p99['range'][0]:.2f} – {p99['range'][1]:.2f} | {s['runs']} | |")
EOF_PY
)" || rc=1
echo "$replay_row"
[ -f "$headline" ] && echo "$replay_row" >>"$headline"
if [ $rc -eq 0 ] && [ ${#quick[@]} -eq 0 ] && [ -f "$headline" ]; then
	append_to_benchmarks "$headline" "$load_before" "$tree"
fi
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg); every run: $dir/bench-results/results.json, $dir/replay-results/results.json"
exit $rc
