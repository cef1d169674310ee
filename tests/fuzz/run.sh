#!/usr/bin/env bash
# tests/fuzz/run.sh TARGET SEEDS MAX_LEN: runs one libFuzzer target for a
# bounded time (FYNSYNC_FUZZ_SECONDS, default 20, or 300 with
# FYNSYNC_LONG=1), starting from the seeds in tests/corpus plus what earlier
# runs of this build found (kept next to the target, in TARGET.corpus/).
# Prints the inputs, executions and edges covered; fails on any crash, leak
# or timeout, leaving the input in TARGET.crashes/ (add it to tests/corpus
# once fixed).
set -euo pipefail
target="$1" seeds="$2" max_len="$3"
seconds="${FYNSYNC_FUZZ_SECONDS:-$([ "${FYNSYNC_LONG:-}" = 1 ] && echo 300 || echo 20)}"
work="$target.corpus" crashes="$target.crashes"
mkdir -p "$work" "$crashes"
log="$target.log"
set +e
"$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$crashes/" "$work" "$seeds" >"$log" 2>&1
rc=$?
set -e
name=$(basename "$target")
inputs=$(find "$seeds" -type f | wc -l)
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
edges=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
features=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
echo "$name: $seconds s, $inputs seed inputs, ${runs:-0} executions, ${edges:-0} edges, ${features:-0} features, corpus $(find "$work" -type f | wc -l) inputs" | tee "$target.summary"
if [ "$rc" -ne 0 ]; then
	echo "$name: FAILED (exit $rc); the input is in $PWD/$crashes:"
	grep -E -A 30 '==ERROR|runtime error|deadly signal|Test unit written' "$log" | head -60
	exit 1
fi
