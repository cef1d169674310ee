# tools/cli/common.sh: what the fynsync CLI scripts share; sourced, not run.
# The checkout's paths, the FYNSYNC_* settings with their defaults (the same
# names are the placeholders of mosquitto.conf), messages, and running things
# as the unprivileged service user (PostgreSQL refuses root).
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$ROOT/build"
RUN_USER="fynsync"
PG_BIN="/usr/lib/postgresql/15/bin"
CLI="$ROOT/tools/cli"

# Server settings of every PostgreSQL the CLI runs: pg.sh passes them at
# start, cluster.sh sets them by ALTER SYSTEM on the pg_auto_failover
# servers. wal_init_zero off: a new 16 MB WAL segment is not first filled
# with zeros. A young cluster has no old segments to recycle, so at 2,000
# events/s (about 4 MB of WAL a second) every fourth second a commit waited
# 15-20 ms for that zeroing, and the other commits behind it: the fanout
# run's p99.9 was 15.9-16.7 ms with it and 10.1-10.4 ms without
# (docs/benchmarks.md, "Fan-out latency"). Durability is unchanged (every
# commit is still fdatasync'ed); recycled segments, the steady state, were
# never zeroed anyway.
PG_SERVER_TUNING=(wal_init_zero=off)

# The settings, exported so every script and tool below sees the same ones.
FYNSYNC_VAR="$(realpath -m "${FYNSYNC_VAR:-$ROOT/var}")"
export FYNSYNC_VAR
export FYNSYNC_MQTT_PORT="${FYNSYNC_MQTT_PORT:-1883}"
export FYNSYNC_WS_PORT="${FYNSYNC_WS_PORT:-8080}"
export FYNSYNC_MQTTS_PORT="${FYNSYNC_MQTTS_PORT:-8883}"
export FYNSYNC_WSS_PORT="${FYNSYNC_WSS_PORT:-8443}"
export FYNSYNC_METRICS_PORT="${FYNSYNC_METRICS_PORT:-9464}"
export FYNSYNC_PG_PORT="${FYNSYNC_PG_PORT:-54329}"
# This node's name in metrics and alerts ([A-Za-z0-9._-], at most 64): the
# host's short name. Not exported, like the conninfo below.
FYNSYNC_NODE_NAME="${FYNSYNC_NODE_NAME:-$(hostname -s 2>/dev/null | tr -c 'A-Za-z0-9._\n-' '-' | cut -c1-64)}"
FYNSYNC_NODE_NAME="${FYNSYNC_NODE_NAME:-hub}"
# The hub's libpq connection string (the cluster's names both servers).
# Not exported: derived from FYNSYNC_PG_PORT, it must not outlive it in a
# nested ./fynsync with another port (the tests run one).
FYNSYNC_DB_CONNINFO="${FYNSYNC_DB_CONNINFO:-host=127.0.0.1 port=$FYNSYNC_PG_PORT dbname=fynsync user=fynsync}"
export FYNSYNC_JWT_SECRET_FILE="${FYNSYNC_JWT_SECRET_FILE:-$FYNSYNC_VAR/jwt.secret}"
export FYNSYNC_PLUGIN="${FYNSYNC_PLUGIN:-$BUILD/plugin/fynsync.so}"
export FYNSYNC_ACL_FILE="${FYNSYNC_ACL_FILE:-$ROOT/acl/fynsync.acl}"
export FYNSYNC_TLS_CERT="${FYNSYNC_TLS_CERT:-$FYNSYNC_VAR/tls/server.crt}"
export FYNSYNC_TLS_KEY="${FYNSYNC_TLS_KEY:-$FYNSYNC_VAR/tls/server.key}"
export FYNSYNC_HTTP_DIR="${FYNSYNC_HTTP_DIR:-$ROOT/bridge-ws/dist}"
VAR="$FYNSYNC_VAR"

say() { printf 'fynsync: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

ensure_run_user() {
	is_root || return 0
	id "$RUN_USER" >/dev/null 2>&1 && return 0
	useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$RUN_USER"
}

# Runs a command as the service user when we are root, else as ourselves.
as_service_user() {
	if is_root; then
		runuser -u "$RUN_USER" -- "$@"
	else
		"$@"
	fi
}

own_for_service() {
	is_root && chown -R "$RUN_USER:" "$@"
	return 0
}

# Fails with what to do when the service user cannot reach path.
check_service_reach() {
	as_service_user test -x "$1" || die "the service user '$RUN_USER' cannot reach $1; put it where it can (e.g. not under a 0700 home directory)"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# build_into DIR [cmake args]: configures and builds the checkout into DIR.
build_into() {
	local dir="$1"; shift
	cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$dir" -j "$(nproc)" >/dev/null
}

# The dashboards (bridge-ws/build.mjs) into FYNSYNC_HTTP_DIR, which
# mosquitto serves; skipped, with a note, until npm packages are installed.
build_pages() {
	if [ ! -d "$ROOT/bridge-ws/node_modules" ]; then
		say "dashboards not built: run ./fynsync install (npm packages) first"
		mkdir -p "$FYNSYNC_HTTP_DIR"
		return 0
	fi
	node "$ROOT/bridge-ws/build.mjs" "$FYNSYNC_HTTP_DIR" >/dev/null
}

# The HS256 secret the broker verifies and `token` signs with.
ensure_jwt_secret() {
	if [ ! -s "$FYNSYNC_JWT_SECRET_FILE" ]; then
		mkdir -p "$(dirname "$FYNSYNC_JWT_SECRET_FILE")"
		(umask 077; head -c 48 /dev/urandom | base64 -w0 > "$FYNSYNC_JWT_SECRET_FILE")
		say "created JWT secret $FYNSYNC_JWT_SECRET_FILE"
	fi
	own_for_service "$FYNSYNC_JWT_SECRET_FILE"
}
