-- The secret key: an ordinary role cannot read the key file or learn its
-- path from settings, views or messages; no message ever contains the key,
-- not even a superuser's.  (Server log: test/scripts/key-not-in-log.sh.)
\! ctl POST reset >/dev/null
\getenv key OKRA_SANDBOX_KEY
\getenv key2 OKRA_SANDBOX_KEY2
\getenv testdir OKRA_TEST_DIR
\getenv port OKRA_SANDBOX_PORT
\! printf '%s\nnot a key\n' "$OKRA_SANDBOX_KEY" > "$OKRA_TEST_DIR/secrecy-two-lines.key"; chown postgres:postgres "$OKRA_TEST_DIR/secrecy-two-lines.key"; chmod 600 "$OKRA_TEST_DIR/secrecy-two-lines.key"
\! { head -c 9000 /dev/zero | tr '\0' 'k'; printf '%s\n' "$OKRA_SANDBOX_KEY"; } > "$OKRA_TEST_DIR/secrecy-big.key"; chown postgres:postgres "$OKRA_TEST_DIR/secrecy-big.key"; chmod 600 "$OKRA_TEST_DIR/secrecy-big.key"
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(32);
LOAD 'okra';

SELECT current_setting('okra.api_key_file') AS keyfile \gset
SELECT set_config('okra_test.key', :'key', true) \g /dev/null
SELECT set_config('okra_test.key2', :'key2', true) \g /dev/null
SELECT set_config('okra_test.keyfile', :'keyfile', true) \g /dev/null
SELECT set_config('okra_test.testdir', :'testdir', true) \g /dev/null

-- leaks(t): does t contain either key (or, with path, the key file's path)?
CREATE FUNCTION pg_temp.leaks(t text, path bool DEFAULT true) RETURNS bool LANGUAGE sql AS $$
	SELECT coalesce(strpos(t, current_setting('okra_test.key')) > 0
	             OR strpos(t, current_setting('okra_test.key2')) > 0
	             OR (path AND strpos(t, current_setting('okra_test.keyfile')) > 0)
	             OR (path AND strpos(t, current_setting('okra_test.testdir')) > 0), false)
$$;
-- errors(): every failure a caller can provoke, with everything it says
CREATE TEMP TABLE cases (label text, setup text, q text);
INSERT INTO cases VALUES
	('22023 bad id', NULL, $$SELECT okra_verify('x')$$),
	('OK006 not found', NULL, $$SELECT okra_verify('64a0000000000000000000ff')$$),
	('OK001 duplicate', NULL, $$SELECT okra_refund('64a000000000000000000008')$$),
	('OK005 not cancellable', NULL, $$SELECT okra_cancel('64a000000000000000000001')$$),
	('OK009 bad field', NULL, $$SELECT okra_request('pay/link/create', '{}')$$),
	('OK009 no route', NULL, $$SELECT okra_request('nowhere')$$),
	('OK010 500', '{"kind": "status", "status": 500}', $$SELECT okra_verify('64a000000000000000000001')$$),
	('OK010 after_drop', '{"kind": "after_drop"}', $$SELECT okra_refund('64a000000000000000000003', 1)$$),
	('OK010 reset', '{"kind": "reset"}', $$SELECT okra_verify('64a000000000000000000001')$$),
	('OK010 html', '{"kind": "html"}', $$SELECT okra_verify('64a000000000000000000001')$$),
	('OK011 not JSON', '{"kind": "status", "status": 200, "body": "x"}', $$SELECT okra_verify('64a000000000000000000001')$$),
	('OK011 shape', '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"data\":{}}"}', $$SELECT okra_refund('64a000000000000000000003', 1)$$),
	('OK011 redirect', '{"kind": "status", "status": 302, "body": ""}', $$SELECT okra_verify('64a000000000000000000001')$$),
	('OK011 oversize', '{"kind": "size", "bytes": 2000000}', $$SELECT okra_verify('64a000000000000000000001')$$);

-- the okra_refund('64a..08') duplicate needs a first refund
SELECT okra_refund('64a000000000000000000008') \g /dev/null

-- run(role): run every case as role, arming each case's fault first
-- (faults are armed from psql below, one at a time, through \gexec)
CREATE TEMP TABLE seen (who text, label text, state text, message text, detail text, hint text, context text);
GRANT ALL ON seen TO PUBLIC;

CREATE ROLE okra_app;
GRANT EXECUTE ON FUNCTION okra_verify(text), okra_cancel(text), okra_refund(text, bigint, text, text),
      okra_request(text, jsonb) TO okra_app;

--
-- as the application role
--
SET LOCAL ROLE okra_app;
SELECT throws_ok($$SHOW okra.api_key_file$$, '42501', NULL, 'SHOW okra.api_key_file is refused');
SELECT throws_ok($$SELECT current_setting('okra.api_key_file')$$, '42501', NULL, 'current_setting() is refused');
SELECT throws_ok($$SELECT current_setting('okra.api_key_file', true)$$, '42501', NULL, 'current_setting(missing_ok) is refused');
SELECT is_empty($$SELECT name FROM pg_settings WHERE name = 'okra.api_key_file'$$, 'pg_settings hides okra.api_key_file');
SELECT is_empty($$SELECT name FROM pg_settings
                  WHERE pg_temp.leaks(concat_ws(' ', setting, reset_val, boot_val, sourcefile))$$,
	'no setting shows the key or its file');
SELECT is_empty($$SELECT * FROM pg_show_all_settings() s WHERE s.name = 'okra.api_key_file'
                  OR pg_temp.leaks(concat_ws(' ', s.setting, s.reset_val, s.boot_val))$$,
	'pg_show_all_settings() neither');
SELECT throws_ok(format('SELECT pg_read_file(%L)', :'keyfile'), '42501', NULL, 'pg_read_file of the key file is refused');
SELECT throws_ok(format('SELECT pg_read_binary_file(%L)', :'keyfile'), '42501', NULL, 'pg_read_binary_file is refused');
SELECT throws_ok(format('SELECT pg_stat_file(%L)', :'keyfile'), '42501', NULL, 'pg_stat_file is refused');
SELECT throws_ok(format('SELECT lo_import(%L)', :'keyfile'), '42501', NULL, 'lo_import is refused');
SELECT throws_ok(format('COPY seen (who) FROM %L', :'keyfile'), '42501', NULL, 'COPY FROM the key file is refused');
SELECT throws_ok(format('COPY seen (who) FROM PROGRAM %L', 'cat ' || :'keyfile'), '42501', NULL, 'COPY FROM PROGRAM is refused');
SELECT throws_ok($$SELECT pg_ls_dir('.')$$, '42501', NULL, 'pg_ls_dir is refused');
SELECT throws_ok($$SELECT * FROM pg_file_settings$$, '42501', NULL, 'pg_file_settings is refused');
SELECT throws_ok($$SELECT * FROM pg_hba_file_rules$$, '42501', NULL, 'pg_hba_file_rules is refused');
SELECT is_empty($$SELECT * FROM pg_db_role_setting WHERE pg_temp.leaks(setconfig::text)$$,
	'pg_db_role_setting (readable by all) holds no key');
SELECT is_empty($$SELECT * FROM pg_stat_activity WHERE pg_temp.leaks(query, false)$$,
	'no query in pg_stat_activity holds the key');
SELECT is_empty($$SELECT * FROM pg_proc WHERE pg_temp.leaks(concat_ws(' ', prosrc, probin, proconfig::text), false)$$,
	'no function holds the key');
-- a key file error tells an ordinary role nothing about the file
RESET ROLE;
SELECT set_config('okra.api_key_file', :'testdir' || '/secrecy-two-lines.key', true) \g /dev/null
SET LOCAL ROLE okra_app;
SELECT ok(NOT pg_temp.leaks(concat_ws(' ', e.message, e.detail, e.hint, e.context)),
	'a two-line key file: the error shows neither key nor path') FROM pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$) e;
RESET ROLE;
SELECT set_config('okra.api_key_file', :'testdir' || '/secrecy-big.key', true) \g /dev/null
SET LOCAL ROLE okra_app;
SELECT ok(NOT pg_temp.leaks(concat_ws(' ', e.message, e.detail, e.hint, e.context)),
	'an oversized key file: neither key nor path') FROM pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$) e;
RESET ROLE;
SELECT set_config('okra.api_key_file', :'testdir' || '/wrong.key', true) \g /dev/null
SET LOCAL ROLE okra_app;
SELECT ok(NOT pg_temp.leaks(concat_ws(' ', e.message, e.detail, e.hint, e.context)) AND e.state = 'OK007',
	'a wrong key (401): neither key nor path') FROM pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$) e;
RESET ROLE;
RESET okra.api_key_file;

--
-- every failure a caller can provoke, as okra_app and as a superuser:
-- psql writes one block per case (arm the fault, then record the error)
-- and runs the blocks once per role
--
\o :testdir/secrecy-cases.psql
SELECT concat(CASE WHEN setup IS NOT NULL THEN format(E'\\! ctl POST faults ''%s'' >/dev/null\n', setup) END,
              format('INSERT INTO seen SELECT current_user, %L, e.* FROM pg_temp.err(%L) e;', label, q),
              -- a refund left unknown would block the next case's (OK012)
              E'\nRESET ROLE;\nSELECT pg_temp.settle_unknown() \\g /dev/null\n\\if :as_app\nSET LOCAL ROLE okra_app;\n\\endif')
FROM cases ORDER BY label;
\o
\set as_app true
SET LOCAL ROLE okra_app;
\i :testdir/secrecy-cases.psql
RESET ROLE;
\set as_app false
\i :testdir/secrecy-cases.psql

SELECT is((SELECT count(*) FROM seen WHERE who = 'okra_app' AND state = split_part(label, ' ', 1)), 14::bigint,
	'okra_app: each of the 14 cases failed with its SQLSTATE');
SELECT is_empty($$SELECT label FROM seen WHERE who = 'okra_app'
                  AND pg_temp.leaks(concat_ws(' ', message, detail, hint, context))$$,
	'okra_app: no message, detail, hint or context shows the key or the key file');
SELECT is((SELECT count(*) FROM seen WHERE who <> 'okra_app' AND state = split_part(label, ' ', 1)), 14::bigint,
	'superuser: each of the 14 cases failed with its SQLSTATE');
SELECT is_empty($$SELECT label FROM seen WHERE who <> 'okra_app'
                  AND pg_temp.leaks(concat_ws(' ', message, detail, hint, context), false)$$,
	'superuser: no message, detail, hint or context shows the key');

-- a superuser's key file errors show the path, never the key
SELECT set_config('okra.api_key_file', :'testdir' || '/secrecy-two-lines.key', true) \g /dev/null
SELECT ok(e.state = '55000' AND NOT pg_temp.leaks(concat_ws(' ', e.message, e.detail, e.hint, e.context), false),
	'superuser, a two-line key file: 55000 without the key') FROM pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$) e;
SELECT set_config('okra.api_key_file', :'testdir' || '/secrecy-big.key', true) \g /dev/null
SELECT ok(e.state = '55000' AND NOT pg_temp.leaks(concat_ws(' ', e.message, e.detail, e.hint, e.context), false),
	'superuser, an oversized key file: 55000 without the key') FROM pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$) e;
SELECT set_config('okra.api_key_file', :'testdir' || '/wrong.key', true) \g /dev/null
SELECT ok(e.state = 'OK007' AND NOT pg_temp.leaks(concat_ws(' ', e.message, e.detail, e.hint, e.context), false),
	'superuser, a wrong key: OK007 without the key') FROM pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$) e;
RESET okra.api_key_file;

-- a success's response holds no key; the superuser's views hold none
SELECT ok(NOT pg_temp.leaks((okra_verify('64a000000000000000000001')).response::text, false), 'a response holds no key');
SELECT is_empty($$SELECT * FROM pg_file_settings WHERE pg_temp.leaks(concat_ws(' ', name, setting), false)$$,
	'pg_file_settings (superuser) holds no key');
SELECT is_empty($$SELECT * FROM pg_hba_file_rules WHERE pg_temp.leaks(concat_ws(' ', database::text, user_name::text, options::text), false)$$,
	'pg_hba_file_rules (superuser) holds no key');
SELECT ok((SELECT setting = :'keyfile' AND NOT pg_temp.leaks(setting, false) FROM pg_settings WHERE name = 'okra.api_key_file'),
	'a superuser sees the key file''s path, not the key');

SELECT * FROM finish();
ROLLBACK;
