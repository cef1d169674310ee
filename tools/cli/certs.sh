#!/usr/bin/env bash
# tools/cli/certs.sh: `./fynsync certs`. Makes a local certificate authority
# and a server certificate it signs, under $FYNSYNC_VAR/tls/, for trying the
# TLS listeners: clients verify the broker with ca.crt. Not for production
# (docs/deploy.md: real certificates and renewal).
#
#   certs.sh [--force]   keep existing files unless --force; the server
#                        certificate names localhost, this host's name and
#                        its addresses
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TLS="$VAR/tls"
force=0
case "${1:-}" in
	"") ;;
	--force) force=1 ;;
	*) echo "usage: ./fynsync certs [--force]" >&2; exit 2 ;;
esac

if [ -s "$TLS/server.crt" ] && [ "$force" -eq 0 ]; then
	say "TLS certificates exist in $TLS (./fynsync certs --force makes new ones)"
	exit 0
fi
command -v openssl >/dev/null || die "openssl not found: run ./fynsync install"
mkdir -p "$TLS"
host=$(hostname 2>/dev/null) || host=localhost
# The names clients may connect to: localhost, this host's name and addresses.
names="DNS:localhost,DNS:$host,IP:127.0.0.1"
for ip in $(hostname -I 2>/dev/null); do names+=",IP:$ip"; done
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
(
	umask 077
	cd "$TLS"
	openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 3650 -subj "/CN=fynsync local CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	openssl req "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=$host" 2>/dev/null
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$names" > server.ext
	openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
		-extfile server.ext -out server.crt 2>/dev/null
	rm -f server.csr server.ext ca.srl
	chmod 644 ca.crt server.crt
)
own_for_service "$TLS/server.key"   # the broker reads it as the service user
say "made a local CA ($TLS/ca.crt, give it to clients) and a server certificate for $names"
