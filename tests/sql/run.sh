#!/usr/bin/env bash
# tests/sql/run.sh: runs the SQL tests of store/migrations against a real,
# throwaway PostgreSQL 15 cluster.
#
# 1. initdb a cluster in a mktemp dir (as the `postgres` user when run as
#    root: postgres refuses to run as root), start it on a free 127.0.0.1
#    port with its unix socket in the same dir;
# 2. apply store/migrations/NNN_*.sql the way the hub's C runner does: each
#    file sent as ONE query string (psql -c, like PQexec) inside its own
#    transaction, recorded in schema_migrations, skipped when already
#    recorded; then a second time (must apply nothing) into the database
#    used as the template of every test;
# 3. every tests/sql/test_*.sql runs in a fresh copy of that database with
#    psql -v ON_ERROR_STOP=1 (assertions are DO blocks that RAISE);
#    every tests/sql/test_*.sh runs with PGHOST/PGPORT/PGUSER/PGDATABASE set
#    to its own fresh copy (for tests needing several sessions);
# 4. prints "N passed, N failed", stops and removes the cluster on exit.
#
# Usage: tests/sql/run.sh [name-filter]   (e.g. run.sh inventory)
# Env: PG_BIN (default /usr/lib/postgresql/15/bin), KEEP_LOGS=1 to print the
# server log at the end.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
migrations="$root/store/migrations"
filter="${1:-}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

if [[ ! -x "$PG_BIN/initdb" ]]; then
	echo "run.sh: $PG_BIN/initdb not found: install postgresql-15 (apt-get install postgresql-15)" >&2
	exit 2
fi
command -v psql >/dev/null || { echo "run.sh: psql not found (apt-get install postgresql-client-15)" >&2; exit 2; }

# Who runs the server: ourselves, or `postgres` when we are root.
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
	if ! id -u postgres >/dev/null 2>&1; then
		useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres
	fi
	as_pg=(runuser -u postgres --)
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/fynsync-sqltest.XXXXXX")"
chmod 755 "$tmp"
[[ ${#as_pg[@]} -gt 0 ]] && chown postgres: "$tmp"
data="$tmp/data"
log="$tmp/server.log"
started=0

cleanup() {
	local rc=$?
	if [[ $started -eq 1 ]]; then
		"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if [[ "${KEEP_LOGS:-}" == 1 && -f "$log" ]]; then
		echo "---- server log ----"; cat "$log"
	fi
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${as_pg[@]}" "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
	>"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; exit 2; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for attempt in $(seq 1 20); do
	port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
	port_free "$port" || continue
	if "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 30 \
		-o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50" \
		start >/dev/null 2>&1; then
		started=1
		break
	fi
done
if [[ $started -ne 1 ]]; then
	echo "run.sh: could not start PostgreSQL" >&2; cat "$log" >&2 || true; exit 2
fi

export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres
unset PGPASSWORD PGSERVICE
export PGOPTIONS="-c client_min_messages=warning"
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# Applies every migration not yet recorded in schema_migrations of database $1,
# one transaction each, the file as a single query string. Prints the count.
migrate() {
	local db=$1 applied=0 f name version
	psql_q -d "$db" -c "CREATE TABLE IF NOT EXISTS schema_migrations (
		version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
	for f in "$migrations"/[0-9][0-9][0-9]_*.sql; do
		name="$(basename "$f" .sql)"
		version=$((10#${name:0:3}))
		if [[ $(psql_q -d "$db" -At -c "SELECT count(*) FROM schema_migrations WHERE version = $version") != 0 ]]; then
			continue
		fi
		psql_q -d "$db" -c "BEGIN" -c "$(cat "$f")" \
			-c "INSERT INTO schema_migrations (version, name) VALUES ($version, '$name')" \
			-c "COMMIT" >/dev/null || { echo "run.sh: migration $name failed" >&2; return 1; }
		applied=$((applied + 1))
	done
	echo "$applied"
}

passed=0
failed=0
failures=()
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); failures+=("$1"); echo "FAIL $1"; }

psql_q -c "CREATE DATABASE fynsync_template" >/dev/null
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
