#!/usr/bin/env bash
# tools/cli/cluster.sh: the local cluster of `./fynsync start --nodes N`
# (docs/scale.md): N hub nodes and PostgreSQL under pg_auto_failover, all
# under $FYNSYNC_VAR/cluster and run as the service user.
#
# PostgreSQL: a primary on FYNSYNC_PG_PORT, a synchronous standby on
# FYNSYNC_PG_PORT+1 and the pg_auto_failover monitor on FYNSYNC_PG_PORT+2,
# each kept by its own `pg_autoctl run` (pgaf/pg0, pgaf/pg1, pgaf/monitor;
# their logs in pgaf/*.log). The monitor promotes the standby when the
# primary fails, within about 10 s (its health checks are tightened below).
# Hub node k (from 0) listens on FYNSYNC_MQTT_PORT+k, FYNSYNC_WS_PORT+k,
# FYNSYNC_MQTTS_PORT+k, FYNSYNC_WSS_PORT+k and FYNSYNC_METRICS_PORT+k, keeps
# its state in node{k}/ (broker.sh with FYNSYNC_VAR there), and reaches the
# database through both servers with target_session_attrs=read-write, so it
# finds the new primary by itself after a failover.
#
#   cluster.sh start N   create what is missing, start the database and N hub nodes
#   cluster.sh stop      stop the hub nodes, then the database
#   cluster.sh status    every hub node and database server, and which is primary;
#                        exit 0 when all run, 3 otherwise
#   cluster.sh failover  promote the standby now (pg_autoctl perform failover)
#   cluster.sh stop-server pg0|pg1
#                        stop one database server and its keeper, as a failure
#                        would (the tests' way to fail the primary)
#   cluster.sh running   exit 0 when a cluster was started here and not stopped
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CLUSTER="$VAR/cluster"
PGAF="$CLUSTER/pgaf"
NODES_FILE="$CLUSTER/nodes"
MONITOR_PORT=$((FYNSYNC_PG_PORT + 2))
PG_SERVERS=(pg0 pg1)

usage() { sed -n '/^#   cluster.sh/p' "$CLI/cluster.sh" | sed 's/^# *//' >&2; exit 2; }

# pg_autoctl as the service user, with its state (XDG dirs) and the
# servers' unix sockets under pgaf/, not in a home directory or /var/run.
pgaf() {
	as_service_user env PATH="$PG_BIN:/usr/bin:/bin" XDG_CONFIG_HOME="$PGAF/xdg/config" \
		XDG_DATA_HOME="$PGAF/xdg/share" XDG_RUNTIME_DIR="$PGAF/xdg/run" \
		PG_REGRESS_SOCK_DIR="$PGAF/sock" PGHOST="$PGAF/sock" "$@"
}
autoctl() { pgaf pg_autoctl "$@"; }

# server_sql PORT DBNAME PSQL_ARGS...: psql on one of the cluster's servers as
# the service user, tuples only, errors silenced (callers check the output).
server_sql() {
	local port="$1" dbname="$2"; shift 2
	as_service_user psql -h 127.0.0.1 -p "$port" -U fynsync -d "$dbname" -XAtq "$@" 2>/dev/null
}
monitor_sql() { server_sql "$MONITOR_PORT" pg_auto_failover -c "$1"; }

pg_port_of() { echo $((FYNSYNC_PG_PORT + ${1#pg})); }

db_conninfo() {
	echo "host=127.0.0.1,127.0.0.1 port=$FYNSYNC_PG_PORT,$((FYNSYNC_PG_PORT + 1)) dbname=fynsync user=fynsync target_session_attrs=read-write"
}

keeper_running() { autoctl status --pgdata "$PGAF/$1" >/dev/null 2>&1; }

# start_keeper NAME: `pg_autoctl run` for pgaf/NAME in the background.
start_keeper() {
	keeper_running "$1" && return 0
	(cd /; pgaf setsid pg_autoctl run --pgdata "$PGAF/$1" >>"$PGAF/$1.log" 2>&1 </dev/null &)
}

# wait_for WHAT SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
	local what="$1" seconds="$2"; shift 2
	for _ in $(seq 1 $((seconds * 4))); do
		"$@" && return 0
		sleep 0.25
	done
	die "$what did not happen within $seconds s (logs: $PGAF/*.log)"
}

monitor_up() { [ "$(monitor_sql 'SELECT 1')" = 1 ]; }
states() { monitor_sql "SELECT string_agg(reportedstate::text, ' ' ORDER BY nodeid) FROM pgautofailover.node"; }
has_primary_and_standby() { [[ " $(states) " == *" primary "* && " $(states) " == *" secondary "* ]]; }
has_writable() { [[ " $(states) " == *" primary "* || " $(states) " == *" wait_primary "* || " $(states) " == *" single "* ]]; }

create_monitor() {
	[ -f "$PGAF/monitor/PG_VERSION" ] && return 0
	say "creating the pg_auto_failover monitor (port $MONITOR_PORT)"
	(cd /; autoctl create monitor --pgdata "$PGAF/monitor" --pgport "$MONITOR_PORT" --pgctl "$PG_BIN/pg_ctl" \
		--hostname 127.0.0.1 --auth trust --no-ssl >>"$PGAF/monitor.log" 2>&1) \
		|| die "pg_autoctl create monitor failed ($PGAF/monitor.log); remove $CLUSTER to start over"
	# Only this machine may reach it (pg_autoctl's default is every address).
	(cd /; autoctl config set --pgdata "$PGAF/monitor" postgresql.listen_addresses 127.0.0.1 >/dev/null)
}

# Health checks every second and a failed primary replaced after about 5 s
# of silence instead of 20 s + 30 s: the defaults suit a WAN, not one host.
tune_monitor() {
	monitor_sql "ALTER SYSTEM SET listen_addresses = '127.0.0.1'" >/dev/null
	monitor_sql "ALTER SYSTEM SET pgautofailover.health_check_period = 1000" >/dev/null
	monitor_sql "ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000" >/dev/null
	monitor_sql "ALTER SYSTEM SET pgautofailover.health_check_max_retries = 2" >/dev/null
	monitor_sql "ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500" >/dev/null
	monitor_sql "ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 4000" >/dev/null
	monitor_sql "ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 4000" >/dev/null
	monitor_sql "SELECT pg_reload_conf()" >/dev/null
}

# A new cluster's first primary gets PG_SERVER_TUNING (common.sh) by ALTER
# SYSTEM, before the standby exists: its base backup copies
# postgresql.auto.conf, so both servers keep the settings through
# failovers. pg_autoctl writes its own settings to files of its own.
pg0_sql() { server_sql "$(pg_port_of pg0)" fynsync "$@"; }
pg0_accepts() { [ "$(pg0_sql -c 'SELECT 1')" = 1 ]; }
tune_first_primary() {
	local setting statements=()
	for setting in "${PG_SERVER_TUNING[@]}"; do
		statements+=(-c "ALTER SYSTEM SET ${setting%%=*} = '${setting#*=}'")
	done
	wait_for "PostgreSQL pg0 accepting connections" 60 pg0_accepts
	pg0_sql "${statements[@]}" -c "SELECT pg_reload_conf()" >/dev/null \
		|| die "could not configure PostgreSQL pg0 (port $(pg_port_of pg0))"
}

create_server() {
	local name="$1" port
	port=$(pg_port_of "$name")
	[ -f "$PGAF/$name/PG_VERSION" ] && return 0
	say "creating PostgreSQL $name (port $port)"
	(cd /; autoctl create postgres --pgdata "$PGAF/$name" --pgport "$port" --pgctl "$PG_BIN/pg_ctl" \
		--hostname 127.0.0.1 --listen 127.0.0.1 --name "$name" --auth trust --no-ssl \
		--dbname fynsync --username fynsync \
		--monitor "postgres://autoctl_node@127.0.0.1:$MONITOR_PORT/pg_auto_failover?sslmode=disable" \
		>>"$PGAF/$name.log" 2>&1) \
		|| die "pg_autoctl create postgres failed for $name ($PGAF/$name.log); remove $CLUSTER to start over"
}

start_database() {
	local name port
	command -v pg_autoctl >/dev/null || die "pg_autoctl not found: run ./fynsync install (pg-auto-failover-cli)"
	for port in "$FYNSYNC_PG_PORT" "$((FYNSYNC_PG_PORT + 1))" "$MONITOR_PORT"; do
		if port_open "$port" && ! monitor_up; then
			die "port $port is taken by another program (a single-node hub? ./fynsync stop); set FYNSYNC_PG_PORT"
		fi
	done
	ensure_run_user
	mkdir -p "$PGAF/sock" "$PGAF/xdg"
	chmod 755 "$CLUSTER" "$PGAF"
	own_for_service "$PGAF"
	check_service_reach "$PGAF"
	create_monitor
	start_keeper monitor
	wait_for "the monitor accepting connections" 60 monitor_up
	tune_monitor
	for name in "${PG_SERVERS[@]}"; do
		create_server "$name"
		start_keeper "$name"
		if [ "$name" = pg0 ]; then
			wait_for "a writable primary" 60 has_writable
			[ -f "$PGAF/pg1/PG_VERSION" ] || tune_first_primary
		fi
	done
	wait_for "a primary with a synchronous standby" 120 has_primary_and_standby
}

# node_env K: the settings of hub node K, exported for broker.sh.
node_env() {
	local k="$1"
	export FYNSYNC_VAR="$CLUSTER/node$k"
	export FYNSYNC_MQTT_PORT=$((FYNSYNC_MQTT_PORT + k)) FYNSYNC_WS_PORT=$((FYNSYNC_WS_PORT + k))
	export FYNSYNC_MQTTS_PORT=$((FYNSYNC_MQTTS_PORT + k)) FYNSYNC_WSS_PORT=$((FYNSYNC_WSS_PORT + k))
	export FYNSYNC_METRICS_PORT=$((FYNSYNC_METRICS_PORT + k)) FYNSYNC_NODE_NAME="node$k"
	FYNSYNC_DB_CONNINFO="$(db_conninfo)"
	export FYNSYNC_DB_CONNINFO
}

nodes_started() { cat "$NODES_FILE" 2>/dev/null || echo 0; }

cluster_start() {
	local n="$1" k
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 2 ] || die "--nodes needs a number of hub nodes, at least 2"
	[ -f "$VAR/mosquitto.pid" ] && "$CLI/broker.sh" status >/dev/null 2>&1 \
		&& die "the single-node hub is running; ./fynsync stop it first"
	mkdir -p "$CLUSTER"
	# The nodes share one JWT secret and one TLS certificate.
	ensure_jwt_secret
	[ "$FYNSYNC_TLS_CERT" != "$VAR/tls/server.crt" ] || [ -s "$FYNSYNC_TLS_CERT" ] || "$CLI/certs.sh"
	start_database
	[ "$(nodes_started)" -gt "$n" ] && cluster_stop_nodes
	echo "$n" > "$NODES_FILE"
	for k in $(seq 0 $((n - 1))); do
		(node_env "$k"; "$CLI/broker.sh" start)
	done
	cluster_urls "$n"
}

# The primary's name, as the monitor reports it (after a failover it is pg1).
primary_name() {
	monitor_sql "SELECT nodename FROM pgautofailover.node WHERE reportedstate IN ('primary', 'wait_primary', 'single') LIMIT 1"
}

# cluster_urls N: where to point clients, browsers and Prometheus, per node.
cluster_urls() {
	local k primary
	for k in $(seq 0 $(($1 - 1))); do
		(node_env "$k"
		say "node $k: mqtt://127.0.0.1:$FYNSYNC_MQTT_PORT  ws://127.0.0.1:$FYNSYNC_WS_PORT  pages http://127.0.0.1:$FYNSYNC_WS_PORT/platform.html  metrics http://127.0.0.1:$FYNSYNC_METRICS_PORT/metrics  (log $FYNSYNC_VAR/log)")
	done
	primary=$(primary_name || true)
	if [ -n "$primary" ]; then
		say "database primary: $primary, port $(pg_port_of "$primary")"
	else
		say "database primary: unknown (the monitor did not say; ./fynsync status)"
	fi
}

cluster_stop_nodes() {
	local k
	for k in $(seq 0 $(($(nodes_started) - 1))); do
		[ -d "$CLUSTER/node$k" ] && (node_env "$k"; "$CLI/broker.sh" stop)
	done
	return 0
}

cluster_stop() {
	local name
	[ -d "$CLUSTER" ] || return 0
	cluster_stop_nodes
	rm -f "$NODES_FILE"
	# Standby first, so the primary is not failed over on the way down.
	for name in pg1 pg0 monitor; do
		stop_server "$name"
	done
}

stop_server() {
	local name="$1"
	if [ -d "$PGAF/$name" ] && keeper_running "$name"; then
		(cd /; autoctl stop --pgdata "$PGAF/$name" >/dev/null 2>&1) || true
		for _ in $(seq 1 100); do keeper_running "$name" || break; sleep 0.1; done
	fi
}

cluster_status() {
	local rc=0 k name role line
	for k in $(seq 0 $(($(nodes_started) - 1))); do
		if line=$( (node_env "$k"; "$CLI/broker.sh" status) 2>&1); then :; else rc=3; fi
		say "node $k: ${line#fynsync: broker: }"
	done
	for name in "${PG_SERVERS[@]}"; do
		role=$(monitor_sql "SELECT reportedstate || '/' || goalstate FROM pgautofailover.node WHERE nodename = '$name'" || true)
		if keeper_running "$name"; then
			say "postgres $name: port $(pg_port_of "$name"), ${role:-unknown} (reported/assigned)$([[ $role == primary/* || $role == wait_primary/* ]] && echo ' <- primary')"
		else
			say "postgres $name: stopped (port $(pg_port_of "$name"))"
			rc=3
		fi
	done
	if keeper_running monitor; then say "monitor: port $MONITOR_PORT"; else say "monitor: stopped"; rc=3; fi
	return $rc
}

cluster_failover() {
	keeper_running monitor || die "no cluster is running (./fynsync start --nodes N)"
	(cd /; autoctl perform failover --pgdata "$PGAF/monitor" --wait 60) || die "the failover did not complete (see $PGAF/monitor.log)"
}

case "${1:-}" in
	start) [ $# -eq 2 ] || usage; cluster_start "$2" ;;
	stop) cluster_stop ;;
	status) cluster_status ;;
	stop-server) [ $# -eq 2 ] && [[ $2 == pg[01] ]] || usage; stop_server "$2" ;;
	failover) cluster_failover ;;
	running) [ "$(nodes_started)" -gt 0 ] ;;
	*) usage ;;
esac
