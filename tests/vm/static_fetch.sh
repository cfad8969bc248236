#!/usr/bin/env bash
# static_fetch: the static (musl) nmmm-agent fetches over http and https from a loopback server in a
# network namespace of its own, in a mount namespace where /etc is empty (no hosts, resolv.conf,
# nsswitch.conf: nothing of glibc's NSS to lean on). TLS must find the CA bundle at the Debian and at
# the Red Hat path (under --root), or take --ca-file, and must refuse a server its CA does not sign.
# Label vm: it needs the binary from scripts/build-static (NMMM_STATIC_AGENT, default
# build-static/nmmm-agent), which the unit/integration runs do not build.
set -euo pipefail
src=${NMMM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
agent=${NMMM_STATIC_AGENT:-$src/build-static/nmmm-agent}
ns=static-fetch-$$
T=$(mktemp -d /tmp/static-fetch.XXXXXX)
server=

# shellcheck source=tests/lib/report.sh
. "$src/tests/lib/report.sh"
# What explains a failure, shown after its FAIL line (report.sh calls it).
report_context() {
	[ -f "$T/server.log" ] && sed 's/^/  server: /' "$T/server.log" >&2
	return 0
}
cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true # the server's status is its SIGTERM, not the test's
	fi
	ip netns delete "$ns" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
[ -x "$agent" ] || fail "$agent missing; run scripts/build-static (or set NMMM_STATIC_AGENT)"

# A CA, a server certificate for 127.0.0.1 signed by it, and a second CA that signs nothing here.
mkdir -p "$T/www" "$T/debian/etc/ssl/certs" "$T/redhat/etc/pki/tls/certs" "$T/none" "$T/etc"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=static-test-ca -keyout "$T/ca.key" \
	-out "$T/ca.pem" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout "$T/other.key" \
	-out "$T/other.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$T/srv.key" -out "$T/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/san"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
	-extfile "$T/san" -out "$T/srv.pem" 2>/dev/null
cp "$T/ca.pem" "$T/debian/etc/ssl/certs/ca-certificates.crt"
cp "$T/ca.pem" "$T/redhat/etc/pki/tls/certs/ca-bundle.crt"
head -c 1048576 /dev/urandom >"$T/www/blob.bin"
sum=$(sha256sum "$T/www/blob.bin" | cut -d' ' -f1)

ip netns add "$ns"
ip -n "$ns" link set lo up
# One server process: plain http on 8080, https on 8443.
ip netns exec "$ns" python3 - "$T/www" "$T/srv.pem" "$T/srv.key" >"$T/server.log" 2>&1 <<'EOF' &
import functools, http.server, ssl, sys, threading
www, cert, key = sys.argv[1:4]
H = functools.partial(http.server.SimpleHTTPRequestHandler, directory=www)
plain = http.server.ThreadingHTTPServer(("127.0.0.1", 8080), H)
tls = http.server.ThreadingHTTPServer(("127.0.0.1", 8443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
threading.Thread(target=plain.serve_forever, daemon=True).start()
print("ready", flush=True)
tls.serve_forever()
EOF
server=$!
for _ in $(seq 50); do grep -q ready "$T/server.log" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$T/server.log" || fail "the loopback server did not start"

# Runs the agent in the namespace with an empty /etc; prints its exit code.
agent_rc() { # ARGS...
	set +e
	ip netns exec "$ns" unshare --mount sh -c 'mount -t tmpfs none /etc && exec "$@"' sh \
		"$agent" "$@" >>"$T/agent.log" 2>&1
	echo $?
	set -e
}
expect() { # WHAT RC ARGS...
	local what=$1 want=$2 rc
	shift 2
	rc=$(agent_rc "$@")
	[ "$rc" = "$want" ] || fail "$what: exit $rc, expected $want; agent said: $(tail -n 3 "$T/agent.log")"
	echo "static_fetch: $what: exit $rc"
}

expect http_by_address_works_without_etc 0 fetch http://127.0.0.1:8080/blob.bin --sha256 "$sum" --out "$T/o-http"
cmp -s "$T/o-http" "$T/www/blob.bin" || fail "http: the fetched bytes differ"
# No /etc/hosts and no DNS server: "localhost" must still mean the loopback address.
expect http_localhost_works_without_etc_hosts 0 fetch http://localhost:8080/blob.bin --sha256 "$sum" --out "$T/o-lh"
cmp -s "$T/o-lh" "$T/www/blob.bin" || fail "http://localhost: the fetched bytes differ"
expect https_finds_debian_ca_bundle 0 --root "$T/debian" fetch https://127.0.0.1:8443/blob.bin --sha256 "$sum" --out "$T/o-deb"
cmp -s "$T/o-deb" "$T/www/blob.bin" || fail "https (Debian bundle): the fetched bytes differ"
expect https_finds_redhat_ca_bundle 0 --root "$T/redhat" fetch https://127.0.0.1:8443/blob.bin --sha256 "$sum" --out "$T/o-rh"
cmp -s "$T/o-rh" "$T/www/blob.bin" || fail "https (Red Hat bundle): the fetched bytes differ"
expect https_takes_ca_file 0 --root "$T/none" fetch https://127.0.0.1:8443/blob.bin --sha256 "$sum" --ca-file "$T/ca.pem" --out "$T/o-ca"
cmp -s "$T/o-ca" "$T/www/blob.bin" || fail "https (--ca-file): the fetched bytes differ"
expect https_without_a_ca_bundle_is_refused 2 --root "$T/none" fetch https://127.0.0.1:8443/blob.bin --sha256 "$sum" --out "$T/o-none"
[ ! -e "$T/o-none" ] || fail "a refused https fetch left $T/o-none behind"
rc=$(agent_rc --root "$T/none" fetch https://127.0.0.1:8443/blob.bin --sha256 "$sum" --ca-file "$T/other.pem" --out "$T/o-bad")
[ "$rc" != 0 ] || fail "https with a CA that did not sign the server's certificate succeeded"
[ ! -e "$T/o-bad" ] || fail "a refused https fetch left $T/o-bad behind"
echo "static_fetch: https_refuses_unknown_ca: exit $rc"
ok "static_fetch: http, https (Debian, Red Hat, --ca-file) fetched; an unsigned server refused"
