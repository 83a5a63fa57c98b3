#!/usr/bin/env bash
# Runs okra-sandbox's own test suite.
#
#   test/sandbox/tests/run.sh [TEST-NAME-FILTER...]
#
# 1. builds the sandbox (make -C test/sandbox);
# 2. makes a throwaway CA and server certificate with openssl;
# 3. starts two sandboxes on 127.0.0.1, port 0: a plain one and a TLS one,
#    both with seed-test.json and two keys (a plain key and an Okra-style JWT);
# 4. runs tests/test_sandbox.py against them (black box, over HTTP), then
#    tests/test_webhooks.py (its own sandboxes and webhook receivers);
# 5. runs the sandbox under valgrind through tests/smoke.py (every route and
#    fault kind), over HTTP and then over HTTPS, stops it with SIGTERM each
#    time, and counts "valgrind clean" (smoke.py passed, no errors, no
#    definite or indirect leaks, exit status 0) as one more test.
#
# Everything it starts is stopped on exit. The last line is
#   RESULT suite=sandbox passed=N failed=M
# and the exit status is non-zero when M > 0. Filters, if given, are passed
# to test_sandbox.py (test names containing one of them); the valgrind run is
# then skipped. Set OKRA_SKIP_VALGRIND=1 to skip it as well.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
sbdir=$(dirname "$here")
bin=$sbdir/okra-sandbox
seed=$sbdir/seed-test.json
py=${PYTHON:-python3}

passed=0
failed=0
pids=()
tmp=$(mktemp -d "${TMPDIR:-/tmp}/okra-sandbox-test.XXXXXX")

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 130' INT TERM

result() {
	echo "RESULT suite=sandbox passed=$passed failed=$failed"
}

# give_up MESSAGE: one failed test for the step that could not run, then stop.
give_up() {
	echo "not ok - $1"
	failed=$((failed + 1))
	result
	exit 1
}

# start_sandbox NAME [wrapper...] -- ARGS...: starts okra-sandbox (optionally
# under a wrapper such as valgrind) with --port 0 and waits for its port line.
# Sets sb_pid and sb_port.
start_sandbox() {
	local name=$1 wait_s=${START_WAIT:-10} line= i
	shift
	local wrapper=()
	while [[ $# -gt 0 && $1 != -- ]]; do
		wrapper+=("$1")
		shift
	done
	shift
	"${wrapper[@]}" "$bin" --port 0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	sb_pid=$!
	pids+=("$sb_pid")
	for ((i = 0; i < wait_s * 20; i++)); do
		# a whole first line (with its newline) has been written (the
		# background job may not have opened the file yet)
		if [[ -f $tmp/$name.out && $(wc -l <"$tmp/$name.out") -ge 1 ]]; then
			line=$(head -n 1 "$tmp/$name.out")
			break
		fi
		kill -0 "$sb_pid" 2>/dev/null || break
		sleep 0.05
	done
	if [[ ! $line =~ ^OKRA_SANDBOX_PORT=([0-9]+)$ ]]; then
		echo "# $name sandbox did not start; first stdout line: '$line'; stderr:"
		sed 's/^/#   /' "$tmp/$name.err" | tail -n 20
		return 1
	fi
	sb_port=${BASH_REMATCH[1]}
}

# ---- 1. build ----------------------------------------------------------
if ! make -C "$sbdir" >"$tmp/build.log" 2>&1; then
	sed 's/^/#   /' "$tmp/build.log" | tail -n 40
	give_up "build okra-sandbox"
fi
[[ -x $bin ]] || give_up "build okra-sandbox (no $bin)"

# ---- 2. throwaway CA and server certificate ------------------------------
(
	cd "$tmp" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout ca.key -out ca.pem -days 2 -subj "/CN=okra-sandbox test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout server.key -out server.csr -subj "/CN=localhost" &&
	printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >server.ext &&
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
		-out server.pem -days 2 -extfile server.ext
) >"$tmp/openssl.log" 2>&1 || {
	sed 's/^/#   /' "$tmp/openssl.log"
	give_up "make the test CA and certificate"
}

# ---- 3. sandboxes ------------------------------------------------------------
key1=sk_test_sandbox_suite_one
key2_owner=64b00000000000000000abcd
key2=$("$py" - "$key2_owner" <<'EOF'
import base64, hashlib, hmac, json, sys
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
h = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
p = b64(json.dumps({"_id": sys.argv[1], "iat": 1600000000}, separators=(",", ":")).encode())
s = b64(hmac.new(b"not-okra-secret", (h + "." + p).encode(), hashlib.sha256).digest())
print(h + "." + p + "." + s)
EOF
) || give_up "make the JWT test key"

start_sandbox main -- -q --key "$key1" --key "$key2" --seed "$seed" ||
	give_up "start okra-sandbox"
port=$sb_port
start_sandbox tls -- -q --key "$key1" --key "$key2" --seed "$seed" \
	--tls-cert "$tmp/server.pem" --tls-key "$tmp/server.key" ||
	give_up "start okra-sandbox with TLS"
tls_port=$sb_port
echo "# sandbox on port $port, TLS sandbox on port $tls_port"

# ---- 4. the black-box suite ----------------------------------------------------
export OKRA_SANDBOX_PORT=$port OKRA_SANDBOX_KEY=$key1 OKRA_SANDBOX_KEY2=$key2 \
	OKRA_SANDBOX_KEY2_OWNER=$key2_owner OKRA_SANDBOX_TLS_PORT=$tls_port \
	OKRA_SANDBOX_CA=$tmp/ca.pem OKRA_SANDBOX_BIN=$bin OKRA_SANDBOX_SEED=$seed
timeout -k 5 150 "$py" "$here/test_sandbox.py" "$@" | tee "$tmp/suite.out"
summary=$(grep -E '^SUMMARY passed=[0-9]+ failed=[0-9]+$' "$tmp/suite.out" | tail -n 1)
if [[ $summary =~ passed=([0-9]+)\ failed=([0-9]+) ]]; then
	passed=$((passed + BASH_REMATCH[1]))
	failed=$((failed + BASH_REMATCH[2]))
else
	echo "not ok - test_sandbox.py did not finish (crash or timeout)"
	failed=$((failed + 1))
fi
# the webhook tests start their own sandboxes and receivers
timeout -k 5 120 "$py" "$here/test_webhooks.py" "$@" | tee "$tmp/webhooks.out"
summary=$(grep -E '^SUMMARY passed=[0-9]+ failed=[0-9]+$' "$tmp/webhooks.out" | tail -n 1)
if [[ $summary =~ passed=([0-9]+)\ failed=([0-9]+) ]]; then
	passed=$((passed + BASH_REMATCH[1]))
	failed=$((failed + BASH_REMATCH[2]))
else
	echo "not ok - test_webhooks.py did not finish (crash or timeout)"
	failed=$((failed + 1))
fi
for name in main tls; do
	if [[ -s $tmp/$name.err ]]; then
		echo "# stderr of the $name sandbox (last lines):"
		tail -n 15 "$tmp/$name.err" | sed 's/^/#   /'
	fi
done

# ---- 5. valgrind -----------------------------------------------------------------
# valgrind_run NAME SMOKE-EXTRA-ARGS... -- SANDBOX-ARGS...: starts the sandbox
# under valgrind, drives it with smoke.py, stops it with SIGTERM; returns 0
# when smoke.py passed and valgrind reported nothing (exit status 0).
valgrind_run() {
	local name=$1 smoke_args=() ok=1 rc i
	shift
	while [[ $1 != -- ]]; do
		smoke_args+=("$1")
		shift
	done
	shift
	START_WAIT=60 start_sandbox "$name" valgrind --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
		--error-exitcode=99 --log-file="$tmp/$name.vg" -- "$@" || return 1
	local pid=$sb_pid
	if timeout -k 5 90 "$py" "$here/smoke.py" "$sb_port" "$key1" "$key2" "${smoke_args[@]}" \
		>"$tmp/$name.smoke" 2>&1; then
		echo "# $name: $(tail -n 1 "$tmp/$name.smoke")"
	else
		echo "# $name: smoke.py failed:"
		tail -n 30 "$tmp/$name.smoke" | sed 's/^/#   /'
		ok=0
	fi
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "# $name: the sandbox did not stop within 30 s of SIGTERM"
		kill -KILL "$pid" 2>/dev/null
		ok=0
	fi
	wait "$pid"
	rc=$?
	if [[ $rc -ne 0 ]]; then
		echo "# $name: exit status $rc (99: valgrind found errors or leaks); valgrind log:"
		grep -v '^==[0-9]*== *$' "$tmp/$name.vg" | head -n 80 | sed 's/^/#   /'
		ok=0
	else
		echo "# $name: $(grep -E 'ERROR SUMMARY' "$tmp/$name.vg" | sed 's/^==[0-9]*== //')"
	fi
	((ok))
}

if [[ $# -gt 0 || -n ${OKRA_SKIP_VALGRIND:-} ]]; then
	echo "# valgrind run skipped"
elif ! command -v valgrind >/dev/null; then
	echo "not ok - valgrind clean (valgrind is not installed)"
	failed=$((failed + 1))
else
	vg_ok=1
	valgrind_run valgrind -- -q --key "$key1" --key "$key2" --seed "$seed" || vg_ok=0
	valgrind_run valgrind-tls "$tmp/ca.pem" -- -q --key "$key1" --key "$key2" --seed "$seed" \
		--tls-cert "$tmp/server.pem" --tls-key "$tmp/server.key" || vg_ok=0
	if ((vg_ok)); then
		echo "ok - valgrind clean (every route and fault kind, HTTP and HTTPS, then SIGTERM)"
		passed=$((passed + 1))
	else
		echo "not ok - valgrind clean"
		failed=$((failed + 1))
	fi
fi

result
[[ $failed -eq 0 ]]
