-- The key file is read when a call needs it and again whenever it changes
-- (README "The secret key"): rotation in place or by rename, a same-length
-- key, a removed or unreadable file; the setting can be reloaded.
\! ctl POST reset >/dev/null
\getenv testdir OKRA_TEST_DIR
\! install -m 600 -o postgres -g postgres "$OKRA_TEST_DIR/okra.key" "$OKRA_TEST_DIR/rotating.key"
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(10);

SELECT set_config('okra.api_key_file', :'testdir' || '/rotating.key', true) \g /dev/null
SELECT is((okra_verify('64a000000000000000000001')).status, 'success', 'the first merchant''s key');

-- rewritten in place with the second merchant's key: its view at once
\! sleep 0.05; cat "$OKRA_TEST_DIR/key2.key" > "$OKRA_TEST_DIR/rotating.key"
SELECT is((pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)).state, 'OK006',
	'after an in-place rewrite the new key is used (the payment is another merchant''s)');

-- replaced by rename
\! sleep 0.05; install -m 600 -o postgres -g postgres "$OKRA_TEST_DIR/okra.key" "$OKRA_TEST_DIR/rotating.new" && mv "$OKRA_TEST_DIR/rotating.new" "$OKRA_TEST_DIR/rotating.key"
SELECT is((okra_verify('64a000000000000000000001')).status, 'success', 'after a rename the new file is read');

-- a key of the same length, rewritten in place
\! sleep 0.05; printf '%s\n' "$(printf '%s' "$OKRA_SANDBOX_KEY" | sed 's/.$/X/')" > "$OKRA_TEST_DIR/rotating.key"
SELECT is((pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)).state, 'OK007',
	'a same-length key written in place is picked up (401 for the altered key)');
\! sleep 0.05; cat "$OKRA_TEST_DIR/okra.key" > "$OKRA_TEST_DIR/rotating.key"
SELECT is((okra_verify('64a000000000000000000001')).status, 'success', 'and the right one again');

-- unreadable or removed: 55000, never the cached key
\! chmod 000 "$OKRA_TEST_DIR/rotating.key"
SELECT is((pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)).state, '55000',
	'a key file that became unreadable: 55000, the cached key is not used');
\! chmod 600 "$OKRA_TEST_DIR/rotating.key"
SELECT is((okra_verify('64a000000000000000000001')).status, 'success', 'readable again: works');
\! rm -f "$OKRA_TEST_DIR/rotating.key"
SELECT is((pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)).state, '55000',
	'a removed key file: 55000, the cached key is not used');
\! install -m 600 -o postgres -g postgres "$OKRA_TEST_DIR/okra.key" "$OKRA_TEST_DIR/rotating.key"

-- trailing CR LF and no final newline are both fine
\! printf '%s\r\n' "$OKRA_SANDBOX_KEY" > "$OKRA_TEST_DIR/rotating.key"
SELECT is((okra_verify('64a000000000000000000001')).status, 'success', 'a key file with CRLF');
\! sleep 0.05; printf '%s' "$OKRA_SANDBOX_KEY" > "$OKRA_TEST_DIR/rotating.key"
SELECT is((okra_verify('64a000000000000000000001')).status, 'success', 'a key file without a final newline');
RESET okra.api_key_file;
\! rm -f "$OKRA_TEST_DIR/rotating.key"

SELECT * FROM finish();
ROLLBACK;
