# Shell helpers shared by test/run-all.sh, test/run-pg.sh and demo.sh.
# Source it; it defines functions only.

OKRA_PACKAGES="build-essential gcc make pkg-config curl jq openssl python3 valgrind
	postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap
	libtap-parser-sourcehandler-pgtap-perl postgresql-15-cron
	libcurl4-openssl-dev libjson-c-dev libmicrohttpd-dev libpq-dev libipc-run-perl
	git debhelper postgresql-server-dev-all lintian"

# okra_install_packages: apt-get install whatever of OKRA_PACKAGES is missing.
okra_install_packages() {
	local missing=() p
	for p in $OKRA_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get install -y -q "${missing[@]}" >/dev/null ||
		{ $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null; }
}

# okra_build: build and install the extension and build okra-sandbox.
okra_build() {
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	make -s && make -s sandbox && $sudo make -s install
}

# okra_start_sandbox VAR LOGFILE ARGS...: start okra-sandbox on a free
# loopback port, store its port in VAR and its pid in VAR_PID.
okra_start_sandbox() {
	local var=$1 log=$2 port="" i
	shift 2
	local out
	out=$(mktemp)
	test/sandbox/okra-sandbox --port 0 "$@" >"$out" 2>"$log" &
	local pid=$!
	for i in $(seq 1 100); do
		port=$(sed -n 's/^OKRA_SANDBOX_PORT=//p' "$out")
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	rm -f "$out"
	if [ -z "$port" ]; then
		echo "okra-sandbox did not start; its log:" >&2
		cat "$log" >&2
		return 1
	fi
	printf -v "$var" '%s' "$port"
	printf -v "${var}_PID" '%s' "$pid"
}

# okra_make_test_ca DIR: a throwaway CA and a server certificate for
# 127.0.0.1/localhost, as DIR/ca.pem, DIR/server.pem, DIR/server.key.
okra_make_test_ca() {
	local d=$1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=okra test CA" \
		-keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null &&
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$d/ext.cnf" &&
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
}

# okra_find_server_log: print the path of the running server's log file (the
# file that receives a LOG line sent now); fails if there is none.
okra_find_server_log() {
	local marker="okra-log-marker-$$-$RANDOM" c f datadir
	local candidates=()
	psql -qX -c "DO \$\$ BEGIN RAISE LOG '%', '$marker'; END \$\$" >/dev/null || return 1
	sleep 0.5
	datadir=$(psql -AtqX -c "SHOW data_directory")
	f=$(psql -AtqX -c "SELECT pg_current_logfile()" || true)
	if [ -n "$f" ]; then
		case $f in /*) candidates+=("$f") ;; *) candidates+=("$datadir/$f") ;; esac
	fi
	[ -n "${PG_CLUSTER_CONF_ROOT:-}" ] && candidates+=("$(dirname "$PG_CLUSTER_CONF_ROOT")"/log/*)
	candidates+=(/var/log/postgresql/*.log "$datadir"/log/*)
	for c in "${candidates[@]}"; do
		[ -f "$c" ] && grep -qF "$marker" "$c" && { echo "$c"; return 0; }
	done
	echo "no server log among: ${candidates[*]}" >&2
	return 1
}

# okra_configure BASE_URL KEY_FILE: point the running cluster's okra at an
# Okra (or okra-sandbox) and a key file, as the README shows.
okra_configure() {
	psql -qX -v ON_ERROR_STOP=1 >/dev/null <<SQL
LOAD 'okra';
ALTER SYSTEM SET okra.base_url = '$1';
ALTER SYSTEM SET okra.api_key_file = '$2';
SELECT pg_reload_conf();
SQL
}

# okra_preloaded_cluster DIR SANDBOX_PORT [CONF_LINE...]: initdb and start a
# throwaway cluster in DIR (owned by postgres) with okra preloaded and
# pointed at the sandbox, listening on a socket in DIR only; sets
# OKRA_CLUSTER_PORT.  Stop it with okra_stop_cluster DIR.
okra_preloaded_cluster() {
	local dir=$1 sb=$2 bindir line
	shift 2
	bindir=$(pg_config --bindir)
	OKRA_CLUSTER_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	su postgres -s /bin/sh -c "$bindir/initdb -D '$dir/data' -A trust -U postgres" >/dev/null 2>&1 || return 1
	{
		echo "port = $OKRA_CLUSTER_PORT"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$dir'"
		echo "shared_preload_libraries = 'okra'"
		echo "okra.base_url = 'http://127.0.0.1:$sb/v2'"
		echo "okra.api_key_file = '$OKRA_TEST_DIR/okra.key'"
		for line in "$@"; do echo "$line"; done
	} >>"$dir/data/postgresql.conf"
	su postgres -s /bin/sh -c "$bindir/pg_ctl -D '$dir/data' -l '$dir/server.log' -w start" >/dev/null
}
okra_stop_cluster() {
	su postgres -s /bin/sh -c "$(pg_config --bindir)/pg_ctl -D '$1/data' -m immediate stop" >/dev/null 2>&1
}

# okra_test_fixtures DIR: what the extension's suites talk to, in DIR: a
# test CA, okra-sandbox over HTTP (two merchants' keys) and HTTPS, and the
# key files (readable by the server's OS user only: okra.key, key2.key for
# the other merchant, wrong.key that no sandbox knows, webhook.key with the
# webhook token OKRA_WEBHOOK_TOKEN).  Sets SB, SBTLS and
# their _PID, and exports what the tests read (OKRA_SANDBOX_*, OKRA_TEST_*,
# PATH with ctl).
okra_test_fixtures() {
	local d=$1
	export OKRA_SANDBOX_KEY=sk_test_okra_regress
	export OKRA_SANDBOX_KEY2=sk_test_okra_other_merchant
	okra_make_test_ca "$d" || return 1
	okra_start_sandbox SB "$d/sandbox.log" --key "$OKRA_SANDBOX_KEY" --key "$OKRA_SANDBOX_KEY2" \
		--seed test/sandbox/seed-test.json || return 1
	okra_start_sandbox SBTLS "$d/sandbox-tls.log" --key "$OKRA_SANDBOX_KEY" \
		--seed test/sandbox/seed-test.json --tls-cert "$d/server.pem" --tls-key "$d/server.key" || return 1
	export OKRA_SANDBOX_PORT=$SB OKRA_SANDBOX_TLS_PORT=$SBTLS
	export OKRA_TEST_DIR=$d OKRA_TEST_CA=$d/ca.pem
	export PATH="$PWD/test/sandbox:$PATH"	# ctl
	printf '%s\n' "$OKRA_SANDBOX_KEY" >"$d/okra.key"
	printf '%s\n' "$OKRA_SANDBOX_KEY2" >"$d/key2.key"
	printf 'sk_test_not_a_key\n' >"$d/wrong.key"
	export OKRA_WEBHOOK_TOKEN=whk_okra_regress_token
	printf '%s\n' "$OKRA_WEBHOOK_TOKEN" >"$d/webhook.key"
	chown postgres:postgres "$d"/*.key "$d/ca.pem"
	chmod 600 "$d"/*.key
}

# okra_run_pgtap DB OUT [existing]: every test/pgtap file against a new
# database DB (or, with "existing", DB as it is, okra installed: the upgrade
# test's), one file at a time, pg_prove's output in OUT.  okra is installed
# (committed) first, so the database's okra worker serves it; each file's
# own transaction rolls back, but the journal the worker writes does not,
# so it is emptied between files.  Sets PGTAP_TESTS, PGTAP_FAILS and
# PGTAP_RC (non-zero if any file failed).
okra_run_pgtap() {
	local db=$1 out=$2 f n
	PGTAP_TESTS=0 PGTAP_FAILS=0 PGTAP_RC=0
	: >"$out"
	if [ "${3:-}" = existing ]; then
		psql -qX -d "$db" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION pgtap" >/dev/null
	else
		createdb "$db" && psql -qX -d "$db" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION pgtap" \
			-c "CREATE EXTENSION okra" >/dev/null
	fi || { PGTAP_RC=1; return; }
	for f in test/pgtap/*.sql; do
		pg_prove -d "$db" "$f" >"$out.file" 2>&1 || PGTAP_RC=1
		cat "$out.file" >>"$out"
		n=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$out.file")
		PGTAP_TESTS=$((PGTAP_TESTS + ${n:-0}))
		PGTAP_FAILS=$((PGTAP_FAILS + $(awk '/^Failed [0-9]+\/[0-9]+ subtests/ { split($2, a, "/"); n += a[1] } END { print n + 0 }' "$out.file")))
		psql -qX -d "$db" -c "DELETE FROM okra_journal" >/dev/null
	done
	rm -f "$out.file"
}
