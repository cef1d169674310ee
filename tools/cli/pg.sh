#!/usr/bin/env bash
# tools/cli/pg.sh: one private PostgreSQL 15 cluster in a directory, for the
# hub (`./fynsync start`, in var/pg) and for the tests (tests/sql/run.sh and
# tests/integration/harness.py, in temporary directories). As root the server
# runs as the service user `fynsync` (created when missing): PostgreSQL
# refuses root. Superuser `fynsync`, trust authentication, 127.0.0.1 only.
#
# A cluster directory DIR holds data/ (the cluster), postgres.log (the
# server's log) and the server's unix socket.
#
#   pg.sh init DIR                           initdb DIR/data unless it exists
#   pg.sh start DIR PORT|auto [NAME=VALUE]...
#                 start on 127.0.0.1:PORT (auto: a free port, retried when
#                 taken) with the given server settings, wait until it
#                 accepts connections, print the port; when already running,
#                 print its port
#   pg.sh createdb DIR NAME                  create database NAME unless it exists
#   pg.sh up DIR PORT|auto DBNAME [NAME=VALUE]...
#                                            init, start, createdb; prints the port
#   pg.sh stop DIR [fast|immediate]          stop (default fast); nothing when stopped
#   pg.sh status DIR                         exit 0 when running, 3 when not
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() { sed -n '/^#   pg.sh/,/^#   *pg.sh status/p' "$CLI/pg.sh" | sed 's/^# \{0,1\}//' >&2; exit 2; }

pg_init() {
	local dir="$1"
	[ -x "$PG_BIN/initdb" ] || die "$PG_BIN/initdb not found: run ./fynsync install (postgresql-15)"
	ensure_run_user
	mkdir -p "$dir"
	chmod 755 "$dir"
	own_for_service "$dir"
	check_service_reach "$dir"
	[ -f "$dir/data/PG_VERSION" ] && return 0
	as_service_user "$PG_BIN/initdb" -D "$dir/data" -U fynsync --auth=trust -E UTF8 --locale=C.UTF-8 \
		>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed in $dir/data (output above)"; }
	rm -f "$dir/initdb.log"
}

pg_running() { as_service_user "$PG_BIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1; }

# The port of the running server: line 4 of postmaster.pid.
running_port() { sed -n 4p "$1/data/postmaster.pid"; }

# The server settings every cluster of ours starts with (the caller's come
# after them, and win): local connections only, and PG_SERVER_TUNING
# (common.sh).
SERVER_DEFAULTS=(listen_addresses=127.0.0.1 "${PG_SERVER_TUNING[@]}")

# try_start DIR PORT SETTINGS...: one pg_ctl start; fails when it did not start.
try_start() {
	local dir="$1" port="$2" opts="" setting; shift 2
	for setting in "${SERVER_DEFAULTS[@]}" "$@"; do opts+=" -c $setting"; done
	as_service_user "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
		-o "-p $port -k $dir$opts" start >/dev/null 2>&1
}

pg_start() {
	local dir="$1" port="$2" attempt; shift 2
	[ -f "$dir/data/PG_VERSION" ] || die "no cluster in $dir/data: run pg.sh init $dir first"
	if pg_running "$dir"; then running_port "$dir"; return 0; fi
	if [ "$port" != auto ]; then
		port_open "$port" && die "port $port is taken by another program; choose another (FYNSYNC_PG_PORT for ./fynsync)"
		try_start "$dir" "$port" "$@" \
			|| { tail -n 20 "$dir/postgres.log" >&2; die "PostgreSQL did not start (log above: $dir/postgres.log)"; }
		echo "$port"
		return 0
	fi
	# auto: another program may take the port between the check and the bind.
	for attempt in $(seq 1 20); do
		port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
		port_open "$port" && continue
		if try_start "$dir" "$port" "$@"; then echo "$port"; return 0; fi
		tail -n 5 "$dir/postgres.log" | grep -q 'could not bind\|in use' || break
	done
	tail -n 20 "$dir/postgres.log" >&2
	die "PostgreSQL did not start after $attempt attempts (log above: $dir/postgres.log)"
}

pg_createdb() {
	local dir="$1" name="$2" port
	pg_running "$dir" || die "PostgreSQL in $dir is not running: run pg.sh start $dir PORT first"
	port=$(running_port "$dir")
	as_service_user psql -h 127.0.0.1 -p "$port" -U fynsync -d postgres -XtAc \
		"SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1 && return 0
	as_service_user "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U fynsync "$name"
}

pg_up() {
	local dir="$1" port="$2" db="$3"; shift 3
	pg_init "$dir"
	port=$(pg_start "$dir" "$port" "$@")
	pg_createdb "$dir" "$db"
	echo "$port"
}

pg_stop() {
	local dir="$1" mode="${2:-fast}"
	[ -f "$dir/data/PG_VERSION" ] || return 0
	pg_running "$dir" || return 0
	as_service_user "$PG_BIN/pg_ctl" -D "$dir/data" -m "$mode" -w stop >/dev/null
}

pg_status() {
	[ -f "$1/data/PG_VERSION" ] && pg_running "$1" && return 0
	return 3
}

# need N ARGS...: at least N arguments, else the usage.
need() { local n="$1"; shift; [ $# -ge "$n" ] || usage; }

command="${1:-}"; shift || true
need 1 "$@"
dir="$(realpath -m "$1")"; shift
# PostgreSQL's tools fail in a working directory the service user cannot read.
cd /
case "$command" in
	init) pg_init "$dir" ;;
	start) need 1 "$@"; pg_start "$dir" "$@" ;;
	createdb) need 1 "$@"; pg_createdb "$dir" "$1" ;;
	up) need 2 "$@"; pg_up "$dir" "$@" ;;
	stop) pg_stop "$dir" "$@" ;;
	status) pg_status "$dir" ;;
	*) usage ;;
esac
