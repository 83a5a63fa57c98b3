#!/usr/bin/env bash
# okra-sandbox pay/verify throughput, as a ratio to a static responder.
#
#   bash bench/sandbox/run.sh
#
# Builds test/sandbox/okra-sandbox and bench/out/static-responder, starts
# both on free loopback ports, warms each up, then measures them with wrk
# using identical parameters, alternating static/sandbox for ROUNDS rounds.
# Prints a table and a PASS/FAIL line against TARGET req/s for the sandbox,
# and writes the same to bench/out/sandbox.txt (raw wrk output goes to
# bench/out/sandbox-wrk.log). Exit status: 0 PASS, 1 FAIL, 2 setup error.
#
# Settings (environment):
#   DURATION=10s  THREADS=1  CONNS=16  ROUNDS=3  WARMUP=3s   wrk parameters
#   TARGET=20000                  sandbox req/s needed for PASS
#   STATIC_MODE=tpc               static-responder --mode (see its --help);
#                                 tpc = what the sandbox uses
#   STATIC_ARGS=, SANDBOX_ARGS=   extra flags for either server
#   WRK_CPUS=, SERVER_CPUS=       optional taskset CPU lists (e.g. 1 and 0)
#   BUILD=1                       0: use the binaries as they are
#   SANDBOX_BIN=test/sandbox/okra-sandbox   STATIC_BIN=bench/out/static-responder
#   OKRA_BENCH_KEY=sk_test_bench  OKRA_BENCH_PAYMENT_ID=5f88ebf63103d912f1d4baca
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/bench/sandbox
outdir=$root/bench/out

DURATION=${DURATION:-10s}
THREADS=${THREADS:-1}
CONNS=${CONNS:-16}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-3s}
TARGET=${TARGET:-20000}
STATIC_MODE=${STATIC_MODE:-tpc}
STATIC_ARGS=${STATIC_ARGS:-}
SANDBOX_ARGS=${SANDBOX_ARGS:-}
WRK_CPUS=${WRK_CPUS:-}
SERVER_CPUS=${SERVER_CPUS:-}
BUILD=${BUILD:-1}
SANDBOX_BIN=${SANDBOX_BIN:-$root/test/sandbox/okra-sandbox}
STATIC_BIN=${STATIC_BIN:-$outdir/static-responder}
export OKRA_BENCH_KEY=${OKRA_BENCH_KEY:-sk_test_bench}
export OKRA_BENCH_PAYMENT_ID=${OKRA_BENCH_PAYMENT_ID:-5f88ebf63103d912f1d4baca}
export OKRA_BENCH_PATH=/v2/pay/verify
unset OKRA_BENCH_CHECK

mkdir -p "$outdir"
work=$(mktemp -d "${TMPDIR:-/tmp}/okra-bench.XXXXXX")
report=$outdir/sandbox.txt
rawlog=$outdir/sandbox-wrk.log
sandbox_pid=
static_pid=

cleanup() { # SIGTERM our two servers, SIGKILL whichever is not gone in 5 s
	local pid _
	for pid in $sandbox_pid $static_pid; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $sandbox_pid $static_pid; do
		for _ in $(seq 50); do
			case $(ps -o stat= -p "$pid" 2>/dev/null) in
			'' | Z*) break ;;
			esac
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() { echo "run.sh: $*" >&2; exit 2; }

for tool in wrk curl awk; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done

# Command prefixes; taskset execs its command, so $! stays the server's pid.
server_pin=(); wrk_pin=()
[ -z "$SERVER_CPUS" ] || server_pin=(taskset -c "$SERVER_CPUS")
[ -z "$WRK_CPUS" ] || wrk_pin=(taskset -c "$WRK_CPUS")

# --- build ----------------------------------------------------------------
if [ "$BUILD" = 1 ]; then
	make -s -C "$root/test/sandbox" >&2 || die "building the sandbox failed"
	make -s -C "$here" >&2 || die "building the static responder failed"
fi
[ -x "$SANDBOX_BIN" ] || die "$SANDBOX_BIN not found (make -C test/sandbox)"
[ -x "$STATIC_BIN" ] || die "$STATIC_BIN not found (make -C bench/sandbox)"

# --- start ----------------------------------------------------------------
wait_port() { # wait_port PID FILE PREFIX: echo the port the server printed
	local pid=$1 file=$2 prefix=$3 port
	for _ in $(seq 100); do
		port=$(sed -n "s/^${prefix}\([0-9][0-9]*\).*/\1/p" "$file" 2>/dev/null | head -n1)
		if [ -n "$port" ]; then echo "$port"; return 0; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

cat > "$work/seed.json" <<EOF
{"payments":[{"id":"$OKRA_BENCH_PAYMENT_ID","status":"success","amount":10000}]}
EOF

# shellcheck disable=SC2086
"${server_pin[@]}" "$SANDBOX_BIN" --port 0 --key "$OKRA_BENCH_KEY" \
	--seed "$work/seed.json" -q $SANDBOX_ARGS \
	>"$work/sandbox.out" 2>"$work/sandbox.err" &
sandbox_pid=$!
sandbox_port=$(wait_port "$sandbox_pid" "$work/sandbox.out" OKRA_SANDBOX_PORT=) ||
	{ cat "$work/sandbox.err" >&2; die "the sandbox did not print its port"; }
sandbox_url=http://127.0.0.1:$sandbox_port

# One verify by hand: it must succeed, and its body becomes the static
# responder's body so both send responses of identical size.
code=$(curl -sS -o "$work/verify-body.json" -D "$work/sandbox.hdr" -w '%{http_code}' \
	-X POST -H 'Content-Type: application/json' \
	-H "Authorization: Bearer $OKRA_BENCH_KEY" \
	--data "{\"payment_id\":\"$OKRA_BENCH_PAYMENT_ID\"}" "$sandbox_url/v2/pay/verify") ||
	die "curl to the sandbox failed"
[ "$code" = 200 ] || { cat "$work/verify-body.json" >&2; die "verify answered $code, not 200"; }
grep -q '"payment_status"' "$work/verify-body.json" ||
	die "verify answer has no payment_status: $(cat "$work/verify-body.json")"
ctype=$(sed -n 's/^[Cc]ontent-[Tt]ype: *\([^\r]*\).*/\1/p' "$work/sandbox.hdr" | head -n1)

# shellcheck disable=SC2086
"${server_pin[@]}" "$STATIC_BIN" --port 0 --mode "$STATIC_MODE" \
	--body-file "$work/verify-body.json" --content-type "${ctype:-application/json}" \
	$STATIC_ARGS >"$work/static.out" 2>"$work/static.err" &
static_pid=$!
static_port=$(wait_port "$static_pid" "$work/static.out" PORT=) ||
	{ cat "$work/static.err" >&2; die "the static responder did not print its port"; }
static_url=http://127.0.0.1:$static_port

curl -sS -o "$work/static-body.json" -D "$work/static.hdr" -X POST \
	-H 'Content-Type: application/json' --data '{}' "$static_url/v2/pay/verify" ||
	die "curl to the static responder failed"
cmp -s "$work/static-body.json" "$work/verify-body.json" ||
	die "the static responder's body differs from the sandbox's"
resp_bytes() { echo $(( $(wc -c <"$1") + $(wc -c <"$2") )); }
sandbox_bytes=$(resp_bytes "$work/sandbox.hdr" "$work/verify-body.json")
static_bytes=$(resp_bytes "$work/static.hdr" "$work/static-body.json")
body_bytes=$(wc -c <"$work/verify-body.json")

# --- measure --------------------------------------------------------------
: >"$rawlog"
run_wrk() { # run_wrk URL DURATION: echo the WRK_RESULT line
	local out
	out=$("${wrk_pin[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$2" --latency \
		-s "$here/verify.lua" "$1") || die "wrk failed against $1"
	printf '%s\n%s\n\n' "== wrk -t$THREADS -c$CONNS -d$2 $1" "$out" >>"$rawlog"
	grep '^WRK_RESULT ' <<<"$out" || die "wrk printed no WRK_RESULT line"
}
field() { # field NAME LINE
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "warming up ($WARMUP each)..." >&2
run_wrk "$static_url" "$WARMUP" >/dev/null
run_wrk "$sandbox_url" "$WARMUP" >/dev/null

declare -a rows
for r in $(seq "$ROUNDS"); do
	for who in static sandbox; do
		if [ "$who" = static ]; then url=$static_url; else url=$sandbox_url; fi
		echo "round $r/$ROUNDS: $who ($DURATION)..." >&2
		line=$(run_wrk "$url" "$DURATION")
		rows+=("$r $who $(field rps "$line") $(field p50_us "$line") $(field p99_us "$line") $(field non2xx "$line") $(( $(field connect_err "$line") + $(field read_err "$line") + $(field write_err "$line") + $(field timeout_err "$line") )) $(field requests "$line")")
	done
done

# Cross-check with the sandbox's own counters: every verify it served
# (warm-up included) must have been a 200, over few TCP connections.
counters=$(curl -sS "$sandbox_url/_sandbox/counters" || true)
measured=$(printf '%s\n' "${rows[@]}" | awk '$2=="sandbox" {s+=$8} END {print s+0}')
counter_check="not checked (no python3)"
if command -v python3 >/dev/null && [ -n "$counters" ]; then
	counter_check=$(python3 -c '
import json, sys
c = json.loads(sys.argv[1])
measured = int(sys.argv[2])
by = c.get("requests", {}).get("/v2/pay/verify", {})
ok = sum(v for k, v in by.items() if k.startswith("2"))
bad = sum(v for k, v in by.items() if not k.startswith("2"))
note = "" if ok + bad >= measured else " (fewer than the %d wrk completed!)" % measured
print("%d verify requests%s, %d non-2xx, %s TCP connections"
      % (ok + bad, note, bad, c.get("connections", "?")))
' "$counters" "$measured" 2>/dev/null) || counter_check="unreadable: $counters"
fi
counter_bad=$(sed -n 's/.* \([0-9][0-9]*\) non-2xx.*/\1/p' <<<" $counter_check")

# --- report ---------------------------------------------------------------
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
col() { # col SERVER N: column N of that server's rows
	printf '%s\n' "${rows[@]}" | awk -v w="$1" -v n="$2" '$2==w {print $n}'
}
s_rps=$(col static 3 | median);  b_rps=$(col sandbox 3 | median)
s_p50=$(col static 4 | median);  b_p50=$(col sandbox 4 | median)
s_p99=$(col static 5 | median);  b_p99=$(col sandbox 5 | median)
s_bad=$(col static 6 | awk '{s+=$1} END {print s+0}')
b_bad=$(col sandbox 6 | awk '{s+=$1} END {print s+0}')
s_err=$(col static 7 | awk '{s+=$1} END {print s+0}')
b_err=$(col sandbox 7 | awk '{s+=$1} END {print s+0}')
ratio=$(awk -v a="$b_rps" -v b="$s_rps" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')
need=$(awk -v t="$TARGET" -v b="$s_rps" 'BEGIN {printf "%.3f", (b > 0 ? t / b : 0)}')

verdict=PASS
why=()
if awk -v a="$b_rps" -v t="$TARGET" 'BEGIN {exit !(a < t)}'; then
	verdict=FAIL; why+=("median below target")
fi
if [ "$b_bad" != 0 ] || { [ -n "$counter_bad" ] && [ "$counter_bad" != 0 ]; }; then
	verdict=FAIL; why+=("non-2xx verify answers")
fi
if [ "$b_err" != 0 ]; then
	verdict=FAIL; why+=("socket errors")
fi

{
	echo "okra-sandbox pay/verify vs static responder"
	echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
	# shellcheck source=/dev/null
	echo "machine:  $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-?}"), kernel $(uname -r), $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "load:     $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at end (1/5/15 min; other work on the machine skews both servers)"
	echo "tools:    $(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}'), libmicrohttpd $(pkg-config --modversion libmicrohttpd 2>/dev/null || echo '?')"
	echo "wrk:      -t$THREADS -c$CONNS -d$DURATION (keep-alive), warm-up $WARMUP each, $ROUNDS rounds static/sandbox alternating${WRK_CPUS:+, wrk on CPU $WRK_CPUS}${SERVER_CPUS:+, servers on CPU $SERVER_CPUS}"
	echo "request:  POST /v2/pay/verify {\"payment_id\":\"$OKRA_BENCH_PAYMENT_ID\"} with Authorization: Bearer <key>"
	echo "response: body $body_bytes bytes both; with headers sandbox $sandbox_bytes, static $static_bytes bytes"
	echo "static:   static-responder --mode $STATIC_MODE $STATIC_ARGS"
	echo "          ($(sed -n 's/^static-responder: listening on [^,]*, //p' "$work/static.err" | head -n1))"
	echo "sandbox:  okra-sandbox -q $SANDBOX_ARGS"
	echo "          (thread per connection + poll + turbo, per test/sandbox/http.c)"
	echo
	printf '%-6s %-8s %10s %9s %9s %8s %7s %10s\n' round server 'req/s' 'p50 us' 'p99 us' non-2xx errors requests
	for row in "${rows[@]}"; do
		# shellcheck disable=SC2086
		printf '%-6s %-8s %10.0f %9s %9s %8s %7s %10s\n' $row
	done
	echo
	printf '%-15s %10s %9s %9s %8s %7s\n' 'median (sums)' 'req/s' 'p50 us' 'p99 us' non-2xx errors
	printf '%-15s %10.0f %9.0f %9.0f %8s %7s\n' static "$s_rps" "$s_p50" "$s_p99" "$s_bad" "$s_err"
	printf '%-15s %10.0f %9.0f %9.0f %8s %7s\n' sandbox "$b_rps" "$b_p50" "$b_p99" "$b_bad" "$b_err"
	echo
	echo "ratio sandbox/static (medians): $ratio"
	echo "ratio needed for $TARGET req/s at this static rate: $need"
	echo "sandbox counters: $counter_check"
	echo
	if [ "$verdict" = PASS ]; then
		printf 'PASS: sandbox %.0f req/s >= %s req/s target (%.1f%% of static), 0 non-2xx\n' \
			"$b_rps" "$TARGET" "$(awk -v r="$ratio" 'BEGIN {print r * 100}')"
	else
		printf 'FAIL: sandbox %.0f req/s vs %s req/s target (%.1f%% of static): %s\n' \
			"$b_rps" "$TARGET" "$(awk -v r="$ratio" 'BEGIN {print r * 100}')" \
			"$(IFS=,; echo "${why[*]}")"
	fi
} | tee "$report"
echo "written to ${report#"$root"/} (raw wrk output: ${rawlog#"$root"/})" >&2

[ "$verdict" = PASS ]
