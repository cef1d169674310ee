#!/usr/bin/env bash
# The demo part of `./fynsync up` and `stop`: starts simulated tills and a
# kitchen device for the demo restaurant (tools/simulate_tills.mjs, on the
# JS sync client) and prints the dashboards' links and the tokens; stops
# them.
# usage: tools/demo.sh start|stop
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cli/common.sh"
MQTT_PORT="$FYNSYNC_MQTT_PORT"; WS_PORT="$FYNSYNC_WS_PORT"
RID="demo-bistro"
token() { "$ROOT/fynsync" token --ttl 86400 "$@"; }

stop_tills() {
	local pid
	pid=$(cat "$VAR/tills.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
	rm -f "$VAR/tills.pid"
}

start_tills() {
	local pid
	{ pid=$(cat "$VAR/tills.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; } && return 0
	# Tills log in as managers: the demo sets up the menu and stock first.
	# Tokens go through the environment, not the command line (ps shows that).
	FYNSYNC_TILL_TOKENS="$(token --role manager --restaurant "$RID" --sub demo-till-1) $(token --role manager --restaurant "$RID" --sub demo-till-2)" \
	FYNSYNC_KITCHEN_TOKEN="$(token --role kitchen --restaurant "$RID" --sub demo-kitchen-device)" \
		setsid node "$ROOT/tools/simulate_tills.mjs" "ws://127.0.0.1:$WS_PORT" "$RID" \
		>>"$VAR/log/tills.log" 2>&1 </dev/null &
	echo $! > "$VAR/tills.pid"
}

print_info() {
	local host
	host=$(hostname -I 2>/dev/null | awk '{print $1}') || true
	host=${host:-127.0.0.1}
	cat <<INFO

fynsync is up with the demo restaurant '$RID', two simulated tills and a kitchen device.

  MQTT (TCP):        mqtt://$host:$MQTT_PORT
  MQTT (WebSocket):  ws://$host:$WS_PORT   (subprotocol mqtt)
  MQTT over TLS:     mqtts://$host:$FYNSYNC_MQTTS_PORT  wss://$host:$FYNSYNC_WSS_PORT   (CA: $VAR/tls/ca.crt)
  logs:              $VAR/log/

Dashboards (open in a browser; each link carries its token, valid 24 h):
  restaurant owner:  http://$host:$WS_PORT/owner.html?token=$(token --role restaurant_owner --restaurant "$RID" --sub demo-owner)
  manager:           http://$host:$WS_PORT/owner.html?token=$(token --role manager --restaurant "$RID" --sub demo-manager)
  staff:             http://$host:$WS_PORT/owner.html?token=$(token --role staff --restaurant "$RID" --sub demo-staff)
  kitchen display:   http://$host:$WS_PORT/kitchen.html?token=$(token --role kitchen --restaurant "$RID" --sub demo-kitchen)
  platform owner:    http://$host:$WS_PORT/platform.html?token=$(token --role platform_owner --sub demo-platform)

Tokens (valid 24 h; the MQTT password; the username, if sent, must equal the sub):
  restaurant owner:  $(token --role restaurant_owner --restaurant "$RID" --sub demo-owner)
  staff (POS):       $(token --role staff --restaurant "$RID" --sub demo-staff)
  kitchen display:   $(token --role kitchen --restaurant "$RID" --sub demo-kitchen)
  platform owner:    $(token --role platform_owner --sub demo-platform)

Watch the restaurant live (as its owner):
  mosquitto_sub -p $MQTT_PORT -V mqttv5 -u demo-owner -P "\$(./fynsync token --role restaurant_owner --restaurant $RID --sub demo-owner)" -t 'fynlo/v1/ev/$RID/full/#' -v

Stop everything with: ./fynsync stop
INFO
}

case "${1:-}" in
	start) start_tills; print_info ;;
	stop) stop_tills ;;
	*) echo "usage: tools/demo.sh start|stop" >&2; exit 2 ;;
esac
