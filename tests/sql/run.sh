#!/usr/bin/env bash
# tests/sql/run.sh: runs the SQL tests of store/migrations against a real,
# throwaway PostgreSQL 15 cluster.
#
# 1. a private cluster (tools/cli/pg.sh, the hub's own helper) in a mktemp
#    dir, on a free 127.0.0.1 port;
# 2. apply the migrations with fynsync-migrate, the hub's own C runner (all
#    pending in one transaction under an advisory lock), then a second time
#    (must apply nothing), into the database used as the template of every
#    test;
# 3. every tests/sql/test_*.sql runs in a fresh copy of that database with
#    psql -v ON_ERROR_STOP=1 (assertions are DO blocks that RAISE);
#    every tests/sql/test_*.sh runs with PGHOST/PGPORT/PGUSER/PGDATABASE set
#    to its own fresh copy (for tests needing several sessions);
# 4. prints "N passed, N failed", stops and removes the cluster on exit.
#
# Usage: tests/sql/run.sh [name-filter]   (e.g. run.sh inventory)
# Env: FYNSYNC_MIGRATE, the fynsync-migrate to use (default
# build/tools/fynsync-migrate; ctest passes its build's); KEEP_LOGS=1 to
# print the server log at the end.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
migrations="$root/store/migrations"
pg="$root/tools/cli/pg.sh"
migrate_tool="${FYNSYNC_MIGRATE:-$root/build/tools/fynsync-migrate}"
filter="${1:-}"

[[ -x "$migrate_tool" ]] || { echo "run.sh: $migrate_tool not found: build first (./fynsync build) or set FYNSYNC_MIGRATE" >&2; exit 2; }
command -v psql >/dev/null || { echo "run.sh: psql not found: run ./fynsync install" >&2; exit 2; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fynsync-sqltest.XXXXXX")"
chmod 755 "$tmp"
cluster="$tmp/pg"

cleanup() {
	local rc=$?
	"$pg" stop "$cluster" immediate >/dev/null 2>&1 || true
	if [[ "${KEEP_LOGS:-}" == 1 && -f "$cluster/postgres.log" ]]; then
		echo "---- server log ----"; cat "$cluster/postgres.log"
	fi
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$("$pg" up "$cluster" auto fynsync_template \
	fsync=off synchronous_commit=off full_page_writes=off max_connections=50) || exit 2

export PGHOST=127.0.0.1 PGPORT=$port PGUSER=fynsync PGDATABASE=postgres
unset PGPASSWORD PGSERVICE
export PGOPTIONS="-c client_min_messages=warning"
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# Applies the migrations database $1 has not recorded; prints the count.
migrate() { "$migrate_tool" "host=$PGHOST port=$PGPORT user=$PGUSER dbname=$1"; }

passed=0
failed=0
failures=()
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); failures+=("$1"); echo "FAIL $1"; }

total=$(ls "$migrations"/[0-9][0-9][0-9]_*.sql | wc -l)

# Built-in checks on the migrations themselves.
if [[ -z "$filter" || "migrations" == *"$filter"* ]]; then
	n1=$(migrate fynsync_template) && n2=$(migrate fynsync_template) \
		&& [[ "$n1" == "$total" && "$n2" == 0 ]] \
		&& [[ $(psql_q -d fynsync_template -At -c "SELECT count(*) FROM schema_migrations") == "$total" ]] \
		&& pass "migrations: $total applied once, nothing on the second run" \
		|| fail "migrations: runner (first run applied ${n1:-?}, second ${n2:-?}, expected $total and 0)"

	# What the C runner needs of the files: NNN_name.sql with distinct
	# versions, no transaction control, no psql meta-commands, no
	# schema_migrations (the runner owns it).
	lint=""
	dups=$(ls "$migrations" | grep -E '^[0-9]{3}_' | cut -c1-3 | sort | uniq -d)
	[[ -z "$dups" ]] || lint+="duplicate versions: $dups; "
	bad_names=$(ls "$migrations" | grep -vE '^[0-9]{3}_[a-z0-9_]+\.sql$' || true)
	[[ -z "$bad_names" ]] || lint+="badly named: $bad_names; "
	tx=$(grep -niE '^[[:space:]]*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION|END)[[:space:]]*;' "$migrations"/*.sql || true)
	[[ -z "$tx" ]] || lint+="transaction control: $tx; "
	meta=$(grep -nE '^[[:space:]]*\\' "$migrations"/*.sql || true)
	[[ -z "$meta" ]] || lint+="psql meta-commands: $meta; "
	sm=$(grep -nil 'schema_migrations' "$migrations"/*.sql || true)
	[[ -z "$sm" ]] || lint+="mentions schema_migrations: $sm; "
	[[ -z "$lint" ]] && pass "migrations: file names and content fit the C runner" \
		|| { echo "    $lint"; fail "migrations: file names and content fit the C runner"; }

	# Defensive: executing every file again, without the runner's skip, works.
	psql_q -c "CREATE DATABASE fynsync_rerun" >/dev/null
	if ( migrate fynsync_rerun >/dev/null && for f in "$migrations"/[0-9][0-9][0-9]_*.sql; do
			psql_q -d fynsync_rerun -c "BEGIN" -c "$(cat "$f")" -c "COMMIT" >/dev/null || exit 1
		done ) 2>"$tmp/rerun.err"; then
		pass "migrations: every file can run twice"
	else
		cat "$tmp/rerun.err"; fail "migrations: every file can run twice"
	fi
	psql_q -c "DROP DATABASE fynsync_rerun" >/dev/null
else
	migrate fynsync_template >/dev/null
fi
psql_q -d fynsync_template -f "$here/helpers.sql" >/dev/null

n=0
for t in "$here"/test_*.sql "$here"/test_*.sh; do
	[[ -e "$t" ]] || continue
	name="$(basename "$t")"
	[[ -z "$filter" || "$name" == *"$filter"* ]] || continue
	n=$((n + 1))
	db="t_${n}"
	psql_q -c "CREATE DATABASE $db TEMPLATE fynsync_template" >/dev/null
	out="$tmp/$name.out"
	if [[ "$t" == *.sql ]]; then
		runner=(psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$t")
	else
		runner=(env PGDATABASE="$db" bash "$t")
	fi
	if "${runner[@]}" >"$out" 2>&1; then
		pass "$name"
	else
		fail "$name"
		sed 's/^/    /' "$out"
	fi
	psql_q -c "DROP DATABASE $db" >/dev/null 2>&1 || true
done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
