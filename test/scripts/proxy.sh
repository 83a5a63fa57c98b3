#!/usr/bin/env bash
# The server's environment does not control the transport (issue 10, item
# 9).  A throwaway cluster is started with https_proxy, HTTPS_PROXY,
# http_proxy and ALL_PROXY pointing at a listener that records whatever
# reaches it, and with SSLKEYLOGFILE set: an okra_verify against the HTTPS
# sandbox succeeds, the listener gets nothing and no key log file appears.
# Then a superuser sets okra.proxy to the listener, and the listener gets
# the request (a CONNECT), so the check above can fail.  Also: only a
# superuser may set okra.proxy, and the value is checked.  With okra
# preloaded and without.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
: "${OKRA_SANDBOX_TLS_PORT:?}" "${OKRA_TEST_CA:?}" "${OKRA_TEST_DIR:?}"
fail() { echo "FAIL: $*"; [ -f "$work/server.log" ] && tail -20 "$work/server.log"; exit 1; }
work=$(mktemp -d /tmp/okra-proxy.XXXXXX)
chown postgres:postgres "$work"
chmod 755 "$work"
cleanup() {
	okra_stop_cluster "$work"
	[ -n "${LISTENER_PID:-}" ] && kill "$LISTENER_PID" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# the listener: records every byte it receives, answers 502 and closes
python3 -u - "$work/listener.log" >"$work/listener.port" <<'PY' &
import socket, sys
log = open(sys.argv[1], "ab", buffering=0)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1])
while True:
    c, _ = s.accept()
    c.settimeout(2)
    try:
        data = c.recv(65536)
        log.write(data)
        c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    except OSError:
        pass
    c.close()
PY
LISTENER_PID=$!
for _ in $(seq 1 50); do [ -s "$work/listener.port" ] && break; sleep 0.1; done
lport=$(cat "$work/listener.port")
[ -n "$lport" ] || fail "the listener did not start"
touch "$work/listener.log"
proxy="http://127.0.0.1:$lport"

fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }

for mode in preloaded local; do
	extra=()
	[ "$mode" = local ] && extra=("shared_preload_libraries = ''")	# a later line wins
	: >"$work/listener.log"
	rm -f "$work/keys.log"
	# the postmaster's environment: every proxy variable, and a key log file
	export https_proxy=$proxy HTTPS_PROXY=$proxy http_proxy=$proxy ALL_PROXY=$proxy all_proxy=$proxy
	export SSLKEYLOGFILE=$work/keys.log
	envseen=$(su postgres -s /bin/sh -c 'echo "$https_proxy $ALL_PROXY $SSLKEYLOGFILE"')
	okra_preloaded_cluster "$work" 1 \
		"okra.base_url = 'https://127.0.0.1:$OKRA_SANDBOX_TLS_PORT/v2'" \
		"okra.ca_file = '$OKRA_TEST_CA'" "${extra[@]}" || fail "the server did not start"
	unset https_proxy HTTPS_PROXY http_proxy ALL_PROXY all_proxy SSLKEYLOGFILE
	port=$OKRA_CLUSTER_PORT
	p() { psql -X -h "$work" -p "$port" -U postgres -d postgres -AtqX "$@" 2>&1; }
	p -v ON_ERROR_STOP=1 -c "CREATE EXTENSION okra" -c "CREATE ROLE app" >/dev/null ||
		fail "CREATE EXTENSION ($mode)"
	echo "-- $mode"
	check "$mode: the server was started with the proxy variables and SSLKEYLOGFILE ($envseen)" \
		'[ "$envseen" = "$proxy $proxy $work/keys.log" ]'

	out=$(p -c "SET okra.request_timeout = '5s'" -c "SELECT status FROM okra_verify('64a000000000000000000001')")
	check "$mode: okra_verify over HTTPS succeeds ($out)" '[ "$out" = success ]'
	check "$mode: and the proxy from the environment got nothing ($(wc -c <"$work/listener.log") bytes)" \
		'[ ! -s "$work/listener.log" ]'
	check "$mode: no TLS key log file was written" '[ ! -e "$work/keys.log" ]'

	# okra.proxy names it: now the request goes there
	out=$(p -v VERBOSITY=verbose -c "SET okra.proxy = '$proxy'" -c "SET okra.request_timeout = '5s'" \
		-c "SELECT status FROM okra_verify('64a000000000000000000001')")
	sleep 0.2
	check "$mode: with okra.proxy set, the proxy gets the request ($(head -c 60 "$work/listener.log" | tr -d '\r\n'))" \
		'grep -q "^CONNECT 127.0.0.1:$OKRA_SANDBOX_TLS_PORT HTTP/1.1" "$work/listener.log"'
	check "$mode: and its 502 is reported as not sent (08001)" '[[ $out == *"ERROR:  08001: "* ]]' ||
		echo "$out" | sed 's/^/    /'

	if [ "$mode" = preloaded ]; then
		out=$(p -c "SET ROLE app" -c "SET okra.proxy = '$proxy'")
		check "an ordinary role cannot set okra.proxy" \
			'[[ $out == *"permission denied to set parameter \"okra.proxy\""* ]]'
		out=$(p -c "SET okra.proxy = 'http://user:secret@127.0.0.1:3128'")
		check "a proxy URL with user information is refused, without repeating it" \
			'[[ $out == *"must not contain user information"* && $out != *secret* ]]'
		for bad in "ftp://127.0.0.1:21" "127.0.0.1:3128" "http://" "http://:3128" "http://proxy:3128/path" \
			"http://proxy:3128?x=1" "http://proxy :3128"; do
			out=$(p -c "SET okra.proxy = '$bad'")
			check "okra.proxy = '$bad' is refused" '[[ $out == *"invalid value for parameter \"okra.proxy\""* ]]'
		done
		for good in "http://proxy.example:3128" "https://proxy.example" "socks5h://127.0.0.1:1080/" "HTTP://[::1]:3128"; do
			out=$(p -c "SET okra.proxy = '$good'" -c "SHOW okra.proxy")
			check "okra.proxy = '$good' is accepted" '[ "$out" = "$good" ]'
		done
	fi
	okra_stop_cluster "$work"
	rm -rf "${work:?}/data" "$work/server.log"
done
[ $fails -eq 0 ]
