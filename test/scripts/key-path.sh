#!/usr/bin/env bash
# The key file's path is shown to superusers only, judged on the caller
# (issue 10, item 8): okra_outbox_health() is SECURITY DEFINER, so inside
# it superuser() is true whoever called it.  With the key file at mode
# 0640 (a WARNING) or unreadable (an error, swallowed by the health check),
# an ordinary role granted okra_outbox_health, reached by SET ROLE or by
# SET SESSION AUTHORIZATION, gets no message that contains the path; a
# superuser still gets it, in the WARNING's and the error's detail.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
: "${OKRA_TEST_DIR:?}"

fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d /tmp/okra-keypath.XXXXXX)
chmod 755 "$work"
cleanup() {
	psql -qX -c "DROP DATABASE IF EXISTS okra_keypath" -c "DROP ROLE IF EXISTS okra_keypath_reader" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

install -m 640 -o postgres -g postgres "$OKRA_TEST_DIR/okra.key" "$work/open.key"
install -m 600 -o root -g root "$OKRA_TEST_DIR/okra.key" "$work/closed.key"
psql -qX -v ON_ERROR_STOP=1 >/dev/null <<SQL || fail "setup"
SET client_min_messages = warning;
DROP DATABASE IF EXISTS okra_keypath;
DROP ROLE IF EXISTS okra_keypath_reader;
CREATE DATABASE okra_keypath;
CREATE ROLE okra_keypath_reader;
SQL
psql -qX -d okra_keypath -v ON_ERROR_STOP=1 >/dev/null <<SQL || fail "setup"
CREATE EXTENSION okra;
GRANT EXECUTE ON FUNCTION okra_outbox_health(), okra_verify(text) TO okra_keypath_reader;
SQL

# run FILE SQL...: each statement in one fresh session (the key is not
# cached yet), as a superuser who then becomes whoever the SQL says;
# everything the client receives goes to stdout
run() {
	local f=$1
	shift
	psql -X -d okra_keypath -v ON_ERROR_STOP=0 -v VERBOSITY=verbose \
		-c "SET okra.api_key_file = '$f'" "${@/#/-c}" 2>&1
}
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
has_path() { [[ $1 == *"$work"* ]]; }
line() { grep -qx -- "$2" <<<"$1"; }

health="SELECT key_configured FROM okra_outbox_health()"
verify="SELECT okra_verify('64a000000000000000000001') IS NOT NULL"

out=$(run "$work/open.key" "SET ROLE okra_keypath_reader" "$health")
check "reader by SET ROLE, key file 0640: the health check warns (key_configured t)" \
	'[[ $out == *"readable by group or others"* ]] && line "$out" " t"'
check "... and no message has the path" '! has_path "$out"' || echo "$out" | sed 's/^/    /'
out=$(run "$work/open.key" "SET SESSION AUTHORIZATION okra_keypath_reader" "$health")
check "reader by SET SESSION AUTHORIZATION, key file 0640: a warning without the path" \
	'[[ $out == *"readable by group or others"* ]] && ! has_path "$out"'
out=$(run "$work/closed.key" "SET ROLE okra_keypath_reader" "$health")
check "reader, unreadable key file: key_configured f, nothing with the path" \
	'line "$out" " f" && ! has_path "$out"'
out=$(run "$work/closed.key" "SET ROLE okra_keypath_reader" "$verify")
check "reader calling okra_verify itself, unreadable key file: 55000 without the path" \
	'[[ $out == *"55000"* ]] && ! has_path "$out"'
out=$(run "$work/open.key" "SET ROLE okra_keypath_reader" "$verify")
check "reader calling okra_verify, key file 0640: a warning without the path" \
	'[[ $out == *"readable by group or others"* ]] && ! has_path "$out"'

# a superuser is still shown the path, in the health check too
out=$(run "$work/open.key" "$health")
check "superuser, key file 0640: the health check's warning names the file" \
	'[[ $out == *"DETAIL:  Key file: \"$work/open.key\"."* ]]'
out=$(run "$work/closed.key" "$verify")
check "superuser, unreadable key file: the error's detail names the file" \
	'[[ $out == *"55000"* && $out == *"Key file: \"$work/closed.key\"."* ]]'
[ $fails -eq 0 ]
