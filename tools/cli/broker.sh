#!/usr/bin/env bash
# tools/cli/broker.sh: the hub's mosquitto, run in the background with the
# fynsync plugin. Renders mosquitto.conf (a template with ${FYNSYNC_*}
# placeholders) into $FYNSYNC_VAR/mosquitto.conf, keeps the broker's pid in
# $FYNSYNC_VAR/mosquitto.pid and its log in $FYNSYNC_VAR/log/mosquitto.log.
#
#   broker.sh start    start unless running; returns once it accepts connections
#   broker.sh stop     SIGTERM, then SIGKILL after 5 s
#   broker.sh status   print the state; exit 0 running, 3 not
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CONFIG="$VAR/mosquitto.conf"
PID_FILE="$VAR/mosquitto.pid"
LOG="$VAR/log/mosquitto.log"
MOSQUITTO=/usr/sbin/mosquitto
PLACEHOLDERS=(FYNSYNC_MQTT_PORT FYNSYNC_WS_PORT FYNSYNC_MQTTS_PORT FYNSYNC_WSS_PORT
	FYNSYNC_DB_CONNINFO FYNSYNC_VAR FYNSYNC_PLUGIN FYNSYNC_JWT_SECRET_FILE FYNSYNC_ACL_FILE
	FYNSYNC_TLS_CERT FYNSYNC_TLS_KEY FYNSYNC_HTTP_DIR FYNSYNC_METRICS_PORT FYNSYNC_NODE_NAME)
PORTS=(FYNSYNC_MQTT_PORT FYNSYNC_WS_PORT FYNSYNC_MQTTS_PORT FYNSYNC_WSS_PORT)
# The Prometheus endpoint is a port like the others, unless turned off (0).
[ "$FYNSYNC_METRICS_PORT" = 0 ] || PORTS+=(FYNSYNC_METRICS_PORT)

# mosquitto.conf with every ${NAME} of PLACEHOLDERS replaced by its value.
render_config() {
	local text name unknown
	text=$(<"$ROOT/mosquitto.conf")
	for name in "${PLACEHOLDERS[@]}"; do
		text=${text//"\${$name}"/"${!name}"}
	done
	unknown=$(grep -v '^[[:space:]]*#' <<<"$text" | grep -o '\${[^}]*}' | sort -u | tr '\n' ' ' || true)
	[ -z "$unknown" ] || die "mosquitto.conf: unknown placeholder(s) $unknown(known: ${PLACEHOLDERS[*]})"
	printf '%s\n' "$text" > "$CONFIG"
}

# The pid of our broker: the pid file names a live (not zombie) process
# running mosquitto with our config. A broker killed with -9 stays a zombie
# until its parent reaps it (forever under a PID 1 that does not reap), and
# a pid can be reused: neither is a running broker.
broker_pid() {
	local pid
	pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	pid_alive "$pid" || return 1
	[[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == "$MOSQUITTO -c $CONFIG " ]] || return 1
	echo "$pid"
}

# pid_alive PID: the process exists and is not a zombie, whatever it runs.
pid_alive() {
	local state
	state=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ $state != [ZX] ]]
}

# The TLS listeners need a certificate: the local one of `certs` unless
# FYNSYNC_TLS_CERT/KEY name others, which must exist.
ensure_tls() {
	if [ "$FYNSYNC_TLS_CERT" = "$VAR/tls/server.crt" ] && [ ! -s "$FYNSYNC_TLS_CERT" ]; then
		"$CLI/certs.sh"
	fi
	[ -s "$FYNSYNC_TLS_CERT" ] || die "FYNSYNC_TLS_CERT: no certificate at $FYNSYNC_TLS_CERT"
	as_service_user test -r "$FYNSYNC_TLS_KEY" || die "FYNSYNC_TLS_KEY: the service user '$RUN_USER' cannot read $FYNSYNC_TLS_KEY"
}

# mosquitto opens its listeners one by one after loading the plugin.
all_listening() {
	local name
	for name in "${PORTS[@]}"; do port_open "${!name}" || return 1; done
}

broker_start() {
	local pid name
	if pid=$(broker_pid); then say "broker already running (pid $pid)"; return 0; fi
	[ -f "$FYNSYNC_PLUGIN" ] || die "not built yet: run ./fynsync build (or ./fynsync up)"
	for name in "${PORTS[@]}"; do
		port_open "${!name}" && die "port ${!name} is taken by another program; set $name"
	done
	mkdir -p "$VAR/log"
	ensure_jwt_secret
	ensure_tls
	render_config
	: > "$LOG"
	own_for_service "$VAR/log"
	check_service_reach "$VAR"
	[ -d "$FYNSYNC_HTTP_DIR" ] || build_pages
	check_service_reach "$FYNSYNC_HTTP_DIR"
	# setpriv and setsid exec in place, so $! is mosquitto's own pid.
	local drop=()
	is_root && drop=(setpriv --reuid="$RUN_USER" --regid="$RUN_USER" --init-groups)
	(cd "$VAR"; "${drop[@]}" setsid "$MOSQUITTO" -c "$CONFIG" >>"$LOG" 2>&1 </dev/null & echo $! > "$PID_FILE")
	pid=$(cat "$PID_FILE")
	for _ in $(seq 1 100); do
		# Until setpriv and setsid have exec'd mosquitto (slow on a loaded
		# machine), the pid runs one of them: only its end is a failure.
		pid_alive "$pid" || { tail -n 20 "$LOG" >&2; die "the broker exited while starting (log above, $LOG)"; }
		broker_pid >/dev/null && grep -q "fynsync: ready" "$LOG" && all_listening && return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	tail -n 20 "$LOG" >&2
	die "the broker did not accept connections on every port (${PORTS[*]}) within 10 s; stopped it (log above, $LOG)"
}

broker_stop() {
	local pid
	if pid=$(broker_pid); then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do broker_pid >/dev/null || break; sleep 0.1; done
		broker_pid >/dev/null && kill -9 "$pid" 2>/dev/null
	fi
	rm -f "$PID_FILE"
}

broker_status() {
	local pid
	if pid=$(broker_pid); then
		say "broker: running (pid $pid), mqtt $FYNSYNC_MQTT_PORT, ws $FYNSYNC_WS_PORT, mqtts $FYNSYNC_MQTTS_PORT, wss $FYNSYNC_WSS_PORT, metrics $FYNSYNC_METRICS_PORT"
	else
		say "broker: stopped"
		return 3
	fi
}

case "${1:-}" in
	start) broker_start ;;
	stop) broker_stop ;;
	status) broker_status ;;
	*) sed -n '/^#   broker.sh/p' "$CLI/broker.sh" | sed 's/^# *//' >&2; exit 2 ;;
esac
