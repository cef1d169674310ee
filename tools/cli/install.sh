#!/usr/bin/env bash
# tools/cli/install.sh: `./fynsync install`. Installs the Debian and npm
# packages that are missing and creates the service user; idempotent, and
# quick when everything is there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DEBIAN_PACKAGES=(
	build-essential cmake pkg-config git
	mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev
	libjansson-dev libjsmn-dev libjwt-dev libpq-dev libssl-dev libcmocka-dev uthash-dev libmicrohttpd-dev
	postgresql-15 postgresql-client-15 postgresql-15-auto-failover pg-auto-failover-cli
	python3 python3-paho-mqtt python3-psycopg2 python3-jwt python3-pytest python3-cryptography python3-prometheus-client
	openssl valgrind cppcheck clang-tidy clang libclang-rt-14-dev gnuplot-nox
	nodejs chromium-headless-shell
)

missing_debian_packages() {
	local pkg
	for pkg in "${DEBIAN_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
	done
}

install_debian_packages() {
	local missing
	missing=$(missing_debian_packages)
	[ -z "$missing" ] && return 0
	is_root || die "missing Debian packages: $(echo $missing); run as root or install them"
	say "installing Debian packages: $(echo $missing)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

install_npm_packages() {
	[ -f "$ROOT/bridge-ws/package.json" ] || return 0
	# Debian's nodejs comes without npm (NodeSource's includes it).
	if ! command -v npm >/dev/null; then
		is_root || die "npm is missing; run as root or install Debian's npm package"
		apt-get install -y -qq --no-install-recommends npm >/dev/null
	fi
	if [ ! -d "$ROOT/bridge-ws/node_modules" ] || [ "$ROOT/bridge-ws/package-lock.json" -nt "$ROOT/bridge-ws/node_modules" ]; then
		say "installing npm packages for bridge-ws"
		(cd "$ROOT/bridge-ws" && npm ci --no-audit --no-fund --loglevel=error)
		touch "$ROOT/bridge-ws/node_modules"
	fi
}

install_debian_packages
ensure_run_user
install_npm_packages
