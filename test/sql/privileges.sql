--
-- privileges: every function is revoked from PUBLIC; the README's grants
-- are enough for an application role; settings that decide where the key
-- goes are superuser-only and the key file setting is hidden.
-- (Key secrecy in depth: test/pgtap/secrecy.sql and test/scripts/.)
--
\! ctl POST reset >/dev/null
\getenv testdir OKRA_TEST_DIR
SELECT set_config('okra_test.dir', :'testdir', false) IS NOT NULL AS ok;

-- try(sql): run sql and show the error it raises (or "no error")
CREATE FUNCTION pg_temp.try(q text, OUT state text, OUT message text,
                            OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	state := 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	detail := nullif(replace(detail, current_setting('okra_test.dir'), '$OKRA_TEST_DIR'), '');
	hint := nullif(hint, '');
END $$;

-- the ACLs: the owner only, no PUBLIC
SELECT p.oid::regprocedure AS function,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC'
            WHEN a.grantee = p.proowner THEN 'owner'
            ELSE a.grantee::regrole::text END AS grantee,
       a.privilege_type
FROM pg_proc p,
     LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
WHERE p.proname LIKE 'okra\_%'
ORDER BY 1, 2;

CREATE ROLE regress_okra_app;
CREATE ROLE regress_okra_nobody;
-- the README's grants
GRANT USAGE ON SCHEMA public TO regress_okra_app;
GRANT EXECUTE ON FUNCTION okra_verify(text), okra_cancel(text),
      okra_refund(text, bigint, text, text) TO regress_okra_app;

SELECT r.rolname, p.oid::regprocedure AS function,
       has_function_privilege(r.rolname, p.oid, 'EXECUTE') AS can_execute
FROM pg_proc p, (VALUES ('regress_okra_app'), ('regress_okra_nobody')) r(rolname)
WHERE p.proname LIKE 'okra\_%'
ORDER BY 1, 2;

-- a role without grants can call nothing
SET ROLE regress_okra_nobody;
\x on
SELECT f, t.*
FROM (VALUES ($$SELECT okra_verify('64a000000000000000000001')$$),
             ($$SELECT okra_cancel('64a00000000000000000000c')$$),
             ($$SELECT okra_refund('64a000000000000000000001', 1)$$),
             ($$SELECT okra_request('pay/list')$$)) c(f),
     LATERAL pg_temp.try(f) t;
\x off
RESET ROLE;
-- and nothing was sent on its behalf
\set counters `ctl GET counters`
SELECT :'counters'::jsonb -> 'requests' AS requests;

-- the application role calls what it was granted
SET ROLE regress_okra_app;
SELECT payment_id, status, amount FROM okra_verify('64a000000000000000000001');
SELECT payment_id, status FROM okra_cancel('64a00000000000000000000c');
SELECT payment_id, amount, status FROM okra_refund('64a000000000000000000002', 700);
-- but not okra_request, until granted
SELECT * FROM pg_temp.try($$SELECT okra_request('pay/list')$$);
RESET ROLE;
GRANT EXECUTE ON FUNCTION okra_request(text, jsonb) TO regress_okra_app;
SET ROLE regress_okra_app;
SELECT okra_request('pay/get/id', '{"payment_id": "64a000000000000000000002"}')
	#>> '{data,payment,status}' AS status;

-- settings: the timeouts are the caller's; where requests go, what is
-- trusted and how much is read are not
SELECT g, t.state, t.message
FROM (VALUES ('okra.base_url', 'http://127.0.0.1:1/v2'),
             ('okra.api_key_file', '/etc/passwd'),
             ('okra.ca_file', '/tmp/my-ca.pem'),
             ('okra.max_response_size', '100MB'),
             ('okra.request_timeout', '5s'),
             ('okra.connect_timeout', '2s')) c(g, v),
     LATERAL pg_temp.try(format('SET %s = %L', g, v)) t;
SELECT * FROM pg_temp.try($$SELECT set_config('okra.base_url', 'http://127.0.0.1:1/v2', false)$$);
SELECT * FROM pg_temp.try($$ALTER ROLE CURRENT_USER SET okra.base_url = 'http://127.0.0.1:1/v2'$$);
SELECT * FROM pg_temp.try($$ALTER ROLE CURRENT_USER SET okra.api_key_file = '/etc/passwd'$$);
-- the key file setting is hidden; the others may be read
SELECT * FROM pg_temp.try($$SHOW okra.api_key_file$$);
SELECT * FROM pg_temp.try($$SELECT current_setting('okra.api_key_file')$$);
SELECT * FROM pg_temp.try($$SELECT current_setting('okra.api_key_file', true)$$);
SELECT name FROM pg_settings WHERE name LIKE 'okra.%' ORDER BY 1;
-- the key file itself cannot be read
SELECT * FROM pg_temp.try(format('SELECT pg_read_file(%L)', current_setting('okra_test.dir') || '/okra.key'));
SELECT * FROM pg_temp.try(format('SELECT pg_read_binary_file(%L)', current_setting('okra_test.dir') || '/okra.key'));
SELECT * FROM pg_temp.try(format('SELECT lo_import(%L)', current_setting('okra_test.dir') || '/okra.key'));
CREATE TEMP TABLE keyfile (line text);
SELECT * FROM pg_temp.try(format('COPY keyfile FROM %L', current_setting('okra_test.dir') || '/okra.key'));
SELECT count(*) AS lines_read FROM keyfile;
RESET ROLE;

-- a key file error shows the path to superusers only
SELECT set_config('okra.api_key_file', :'testdir' || '/missing.key', false) IS NOT NULL AS ok;
SET ROLE regress_okra_app;
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
RESET ROLE;
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
RESET okra.api_key_file;

-- only a superuser creates the extension (it is not trusted)
DROP EXTENSION okra;
GRANT CREATE ON DATABASE contrib_regression TO regress_okra_app;
SET ROLE regress_okra_app;
SELECT * FROM pg_temp.try($$CREATE EXTENSION okra$$);
RESET ROLE;
CREATE EXTENSION okra;
-- a fresh install has no grants left over
SELECT has_function_privilege('regress_okra_app', 'okra_verify(text)', 'EXECUTE') AS app_can_verify;

REVOKE CREATE ON DATABASE contrib_regression FROM regress_okra_app;
REVOKE USAGE ON SCHEMA public FROM regress_okra_app;
DROP ROLE regress_okra_app;
DROP ROLE regress_okra_nobody;
