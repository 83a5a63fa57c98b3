-- The transport: nothing sent when the connection cannot be made (08001),
-- one connection reused across calls, HTTPS with the test CA.
\! ctl POST reset >/dev/null
\getenv pghost PGHOST
\getenv pgport PGPORT
\getenv pguser PGUSER
\getenv pgpassword PGPASSWORD
\getenv port OKRA_SANDBOX_PORT
\getenv tlsport OKRA_SANDBOX_TLS_PORT
\getenv ca OKRA_TEST_CA
-- okra and dblink are committed: the other sessions (dblink) need okra
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS okra;
CREATE EXTENSION IF NOT EXISTS dblink;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir helpers.psql
SELECT plan(27);

SELECT format('host=%s port=%s user=%s password=%s dbname=%s', :'pghost', :'pgport', :'pguser',
              :'pgpassword', current_database()) AS conninfo \gset

--
-- 08001: connection refused, unresolvable host, unreachable address
--
SET LOCAL okra.base_url = 'http://127.0.0.1:1/v2';
CREATE TEMP TABLE t_refused AS SELECT * FROM pg_temp.timed($$SELECT okra_refund('64a000000000000000000001', 100)$$);
SELECT is((SELECT state FROM t_refused), '08001', 'connection refused: 08001');
SELECT ok((SELECT elapsed < '1 s' FROM t_refused), 'connection refused is reported at once');
SET LOCAL okra.connect_timeout = '300ms';
SET LOCAL okra.base_url = 'https://okra-test.invalid/v2';
SELECT is((pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)).state, '08001', 'unresolvable host: 08001');
SET LOCAL okra.base_url = 'https://192.0.2.1/v2';
CREATE TEMP TABLE t_unreach AS SELECT * FROM pg_temp.timed($$SELECT okra_verify('64a000000000000000000001')$$);
SELECT is((SELECT state FROM t_unreach), '08001', 'unreachable address: 08001');
SELECT ok((SELECT elapsed < '2 s' FROM t_unreach), 'within about okra.connect_timeout');
RESET okra.base_url;
-- a server that accepts the connection but never completes the TLS
-- handshake: okra.connect_timeout covers the handshake; nothing was sent
\! (timeout 10 python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(5); open(sys.argv[1],"w").write(str(s.getsockname()[1])); c=[s.accept() for _ in range(3)]; time.sleep(8)' "$OKRA_TEST_DIR/stall.port" >/dev/null 2>&1 &)
\set stallport `for i in $(seq 1 100); do [ -s "$OKRA_TEST_DIR/stall.port" ] && break; sleep 0.05; done; cat "$OKRA_TEST_DIR/stall.port"`
SELECT set_config('okra.base_url', 'https://127.0.0.1:' || :'stallport' || '/v2', true) \g /dev/null
CREATE TEMP TABLE t_tls_stall AS SELECT * FROM pg_temp.timed($$SELECT okra_refund('64a000000000000000000001', 100)$$);
SELECT is((SELECT state FROM t_tls_stall), '08001', 'a TLS handshake that never completes: 08001 (not sent)');
SELECT ok((SELECT elapsed BETWEEN '0.25 s' AND '1.5 s' FROM t_tls_stall), 'after about okra.connect_timeout (300 ms)');
RESET okra.base_url;
RESET okra.connect_timeout;
\! rm -f "$OKRA_TEST_DIR/stall.port"
\set counters `ctl GET counters`
SELECT is(:'counters'::jsonb -> 'requests', '{}'::jsonb, 'the sandbox received nothing');

--
-- one connection per session, reused: watch the sandbox's "connections"
-- counter around calls made from a fresh session (dblink).  Every ctl call
-- is one connection too; measure that first.
--
\set ca0 `ctl GET counters`
\set ca1 `ctl GET counters`
SELECT (:'ca1'::jsonb ->> 'connections')::int - (:'ca0'::jsonb ->> 'connections')::int AS per_ctl \gset
SELECT is(:per_ctl, 1, 'one ctl call is one connection');

SELECT dblink_connect('reuse', :'conninfo') \g /dev/null
\set c0 `ctl GET counters`
SELECT * FROM dblink('reuse', $$SELECT status FROM okra_verify('64a000000000000000000001')$$) AS t(s text) \g /dev/null
SELECT * FROM dblink('reuse', $$SELECT status FROM okra_verify('64a000000000000000000002')$$) AS t(s text) \g /dev/null
\set c1 `ctl GET counters`
SELECT is((:'c1'::jsonb ->> 'connections')::int - (:'c0'::jsonb ->> 'connections')::int - :per_ctl, 1,
	'two calls in one session: exactly one new connection');
SELECT is((SELECT sum(value::int)::int FROM jsonb_each_text(:'c1'::jsonb #> '{requests,/v2/pay/verify}')), 2,
	'two requests on it');
-- different endpoints, a refund, a rejection: still the same connection
SELECT * FROM dblink('reuse', $$SELECT amount FROM okra_refund('64a000000000000000000003', 100)$$) AS t(a bigint) \g /dev/null
SELECT * FROM dblink('reuse', $$SELECT status FROM okra_cancel('64a00000000000000000000c')$$) AS t(s text) \g /dev/null
SELECT dblink_exec('reuse', $q$DO $d$ BEGIN PERFORM okra_verify('64a0000000000000000000ff'); EXCEPTION WHEN SQLSTATE 'OK006' THEN NULL; END $d$$q$) \g /dev/null
SELECT * FROM dblink('reuse', $$SELECT okra_request('pay/list')::text$$) AS t(r text) \g /dev/null
SELECT * FROM dblink('reuse', $$SELECT status FROM okra_verify('64a000000000000000000001')$$) AS t(s text) \g /dev/null
\set c2 `ctl GET counters`
SELECT is((:'c2'::jsonb ->> 'connections')::int - (:'c1'::jsonb ->> 'connections')::int - :per_ctl, 0,
	'refund, cancel, a rejected call and okra_request reuse it too');
-- a broken connection is replaced once, and then reused (for a read-only
-- request libcurl may itself retry on the new connection)
\set c3 `ctl GET counters`
\! ctl POST faults '{"kind": "reset", "bytes": 0}' >/dev/null
SELECT dblink_exec('reuse', $q$DO $d$ BEGIN PERFORM okra_verify('64a000000000000000000001'); EXCEPTION WHEN SQLSTATE 'OK010' THEN NULL; END $d$$q$) \g /dev/null
SELECT * FROM dblink('reuse', $$SELECT status FROM okra_verify('64a000000000000000000001')$$) AS t(s text) \g /dev/null
SELECT * FROM dblink('reuse', $$SELECT status FROM okra_verify('64a000000000000000000002')$$) AS t(s text) \g /dev/null
\set c4 `ctl GET counters`
SELECT is((:'c4'::jsonb ->> 'connections')::int - (:'c3'::jsonb ->> 'connections')::int - 2 * :per_ctl, 1,
	'after a reset connection: one new connection, then reused');
SELECT dblink_disconnect('reuse') \g /dev/null

-- a cached connection never outlives a change of okra.base_url
SELECT okra_verify('64a000000000000000000001') \g /dev/null
SET LOCAL okra.base_url = 'http://127.0.0.1:1/v2';
SELECT is((pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)).state, '08001',
	'after SET okra.base_url the next call goes to the new URL');
RESET okra.base_url;

--
-- HTTPS against the TLS sandbox
--
SELECT set_config('okra.base_url', 'https://localhost:' || :'tlsport' || '/v2', true) \g /dev/null
SELECT set_config('okra.ca_file', :'ca', true) \g /dev/null
SELECT is((okra_verify('64a000000000000000000001')).status, 'success', 'https://localhost with okra.ca_file = the test CA');
SELECT is((okra_refund('64a000000000000000000001', 100)).amount, 100::bigint, 'a refund over https');
SELECT set_config('okra.base_url', 'https://127.0.0.1:' || :'tlsport' || '/v2', true) \g /dev/null
SELECT is((okra_verify('64a000000000000000000002')).status, 'success', 'https://127.0.0.1 (an IP in the certificate)');
\set t0 `curl -s --cacert "$OKRA_TEST_CA" "https://127.0.0.1:$OKRA_SANDBOX_TLS_PORT/_sandbox/counters"`
-- without the test CA the certificate is not trusted: not sent
RESET okra.ca_file;
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000002', 100)$$, '08001', NULL,
	'without okra.ca_file (system CAs): 08001');
SELECT set_config('okra.ca_file', '/etc/ssl/certs/ca-certificates.crt', true) \g /dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000002', 100)$$, '08001', NULL,
	'with another CA bundle: 08001');
SELECT set_config('okra.ca_file', '/nonexistent/ca.pem', true) \g /dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000002', 100)$$, '08001', NULL,
	'with a missing CA file: 08001');
\set t1 `curl -s --cacert "$OKRA_TEST_CA" "https://127.0.0.1:$OKRA_SANDBOX_TLS_PORT/_sandbox/counters"`
SELECT is(:'t1'::jsonb -> 'refunds', :'t0'::jsonb -> 'refunds', 'no refund reached the TLS sandbox');
SELECT is((SELECT sum(value::int)::int FROM jsonb_each_text(:'t1'::jsonb #> '{requests,/v2/pay/refund}')),
	(SELECT sum(value::int)::int FROM jsonb_each_text(:'t0'::jsonb #> '{requests,/v2/pay/refund}')),
	'no refund request reached it at all');
-- the wrong scheme for the port
SELECT set_config('okra.ca_file', :'ca', true) \g /dev/null
SELECT set_config('okra.base_url', 'http://127.0.0.1:' || :'tlsport' || '/v2', true) \g /dev/null
SELECT ok((pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)).state IN ('08001', 'OK010'),
	'http to the https port fails (08001 or OK010)');
SELECT set_config('okra.base_url', 'https://127.0.0.1:' || :'port' || '/v2', true) \g /dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000001', 100)$$, '08001', NULL,
	'https to the http port: 08001 (the TLS handshake fails, nothing sent)');
\set counters `ctl GET counters`
SELECT is((:'counters'::jsonb #>> '{refunds,64a000000000000000000001}'), NULL, 'and the http sandbox executed no refund');

-- TLS connections are reused too
SELECT dblink_connect('tls', :'conninfo') \g /dev/null
SELECT dblink_exec('tls', format('SET okra.base_url = %L', 'https://localhost:' || :'tlsport' || '/v2')) \g /dev/null
SELECT dblink_exec('tls', format('SET okra.ca_file = %L', :'ca')) \g /dev/null
\set t2 `curl -s --cacert "$OKRA_TEST_CA" "https://127.0.0.1:$OKRA_SANDBOX_TLS_PORT/_sandbox/counters"`
SELECT * FROM dblink('tls', $$SELECT status FROM okra_verify('64a000000000000000000004')$$) AS t(s text) \g /dev/null
SELECT * FROM dblink('tls', $$SELECT status FROM okra_verify('64a000000000000000000005')$$) AS t(s text) \g /dev/null
SELECT * FROM dblink('tls', $$SELECT status FROM okra_verify('64a000000000000000000006')$$) AS t(s text) \g /dev/null
\set t3 `curl -s --cacert "$OKRA_TEST_CA" "https://127.0.0.1:$OKRA_SANDBOX_TLS_PORT/_sandbox/counters"`
SELECT is((:'t3'::jsonb ->> 'connections')::int - (:'t2'::jsonb ->> 'connections')::int - :per_ctl, 1,
	'three https calls in one session: one TLS connection');
SELECT dblink_disconnect('tls') \g /dev/null

-- settings are read per call: back to plain http, same session
RESET okra.base_url;
RESET okra.ca_file;
SELECT is((okra_verify('64a000000000000000000001')).status, 'success', 'back to the http sandbox');

SELECT * FROM finish();
ROLLBACK;
