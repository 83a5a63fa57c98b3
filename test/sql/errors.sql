--
-- errors: every SQLSTATE of the README's "Errors" table, with the full
-- message, detail and hint a client sees.  Okra's rejections come from the
-- sandbox; transport failures from its faults.  Ports, the test directory,
-- generated ids and timings are masked in the query.
--
\! ctl POST reset >/dev/null
\getenv testdir OKRA_TEST_DIR
SELECT set_config('okra_test.dir', :'testdir', false) IS NOT NULL AS ok;

-- mask(t): hide what changes from run to run
CREATE FUNCTION pg_temp.mask(t text) RETURNS text LANGUAGE sql AS $$
	SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
		-- the data directory first: it may lie inside the test directory
		replace(replace(t, current_setting('data_directory'), '$PGDATA'),
			current_setting('okra_test.dir'), '$OKRA_TEST_DIR'),
		'(127\.0\.0\.1|localhost)( port |:)[0-9]+', '\1\2PORT', 'g'),
		'after [0-9]+ (ms|milliseconds)', 'after N \1', 'g'),
		'with [0-9]+ bytes', 'with N bytes', 'g'),
		'\m(?!64[abc]0)[0-9a-f]{24}\M', 'GENERATED_ID', 'g'),
		'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z', 'TIMESTAMP', 'g')
$$;
-- try(sql): run sql and show the error it raises (or "no error"); context
-- lines of PL/pgSQL itself (and the statement it ran) are left out
CREATE FUNCTION pg_temp.try(q text, OUT state text, OUT message text,
                            OUT detail text, OUT hint text, OUT context text)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	state := 'no error';
EXCEPTION WHEN OTHERS OR query_canceled THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT,
		context = PG_EXCEPTION_CONTEXT;
	message := pg_temp.mask(message);
	detail := nullif(pg_temp.mask(detail), '');
	hint := nullif(pg_temp.mask(hint), '');
	context := nullif(pg_temp.mask(regexp_replace(context,
		'(^|\n)(PL/pgSQL function|SQL statement) .*$', '')), '');
END $$;
-- settle(): a refund whose outcome is unknown refuses the next refund of
-- its payment (OK012) until settled; the tests that provoke one on purpose
-- settle it as failed before going on
CREATE FUNCTION pg_temp.settle() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	j	bigint;
BEGIN
	PERFORM okra_journal_flush();
	FOR j IN SELECT journal_id FROM okra_journal WHERE outcome IS NULL OR outcome = 'unknown' LOOP
		PERFORM okra_journal_resolve(j, 'failed', 'settled by the test');
	END LOOP;
END $$;
\x on

--
-- OK001 duplicate refund: a full refund, then any refund of the same payment.
-- The ledger knows the first, so okra refuses the others itself (nothing is
-- sent); a refund made around okra (here straight to the sandbox, as from
-- Okra's dashboard) leaves it to Okra to refuse.
--
SELECT payment_id, amount, status, refund_payment_status, message
FROM okra_refund('64a000000000000000000008');
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000008')$$);
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000008', 1)$$);
\! curl -sS -o /dev/null -H "Authorization: Bearer $OKRA_SANDBOX_KEY" -H 'Content-Type: application/json' -d '{"payment_id": "64a000000000000000000004"}' "http://127.0.0.1:$OKRA_SANDBOX_PORT/v2/pay/refund"
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000004')$$);

--
-- OK002 refund exceeds payment: at once, and after partial refunds
--
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000006', 1000000)$$);
SELECT amount FROM okra_refund('64a000000000000000000001', 6000);
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000001', 4001)$$);

--
-- OK003 payment not refundable: every status that is not a success, and a
-- refund's own credit payment
--
SELECT p.id, s.status, t.*
FROM (VALUES ('64a00000000000000000000a'), ('64a00000000000000000000d'),
             ('64a00000000000000000000e'), ('64a00000000000000000000f'),
             ('64a000000000000000000011'), ('64a000000000000000000012'),
             ('64a000000000000000000013'), ('64a000000000000000000014'),
             ('64a000000000000000000015')) p(id),
     LATERAL (SELECT status FROM okra_verify(p.id)) s,
     LATERAL pg_temp.try(format('SELECT okra_refund(%L)', p.id)) t
ORDER BY p.id;
SELECT refund_payment_id AS credit_payment FROM okra_refund('64a000000000000000000002', 500) \gset
SELECT * FROM pg_temp.try(format('SELECT okra_refund(%L)', :'credit_payment'));

--
-- OK004 wallet short: without account refused; with account it goes through
--
\! ctl POST wallet '{"amount": 1000}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000007', 2000)$$);
SELECT amount, status, wallet_balance
FROM okra_refund('64a000000000000000000007', 2000, NULL, '64b000000000000000000007');
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000007', 1)$$);
\! ctl POST wallet '{"amount": 10000000}' >/dev/null

--
-- OK005 not cancellable: every status but initialize and pending, an already
-- cancelled payment, and a refund's credit payment
--
SELECT p.id, s.status, t.*
FROM (VALUES ('64a000000000000000000001'), ('64a00000000000000000000e'),
             ('64a00000000000000000000f'), ('64a000000000000000000010'),
             ('64a000000000000000000012'), ('64a000000000000000000013'),
             ('64a000000000000000000014'), ('64a000000000000000000015')) p(id),
     LATERAL (SELECT status FROM okra_verify(p.id)) s,
     LATERAL pg_temp.try(format('SELECT okra_cancel(%L)', p.id)) t
ORDER BY p.id;
SELECT status FROM okra_cancel('64a00000000000000000000a');
SELECT * FROM pg_temp.try($$SELECT okra_cancel('64a00000000000000000000a')$$);
SELECT * FROM pg_temp.try(format('SELECT okra_cancel(%L)', :'credit_payment'));

--
-- OK006 payment not found: ids in no seed, with every function, and
-- another merchant's payment
--
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a0000000000000000000ff')$$);
SELECT * FROM pg_temp.try($$SELECT okra_cancel('64affffffffffffffffffff0')$$);
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a0000000000000000000ff', 100)$$);
SELECT * FROM pg_temp.try($$SELECT okra_request('pay/get/id', '{"payment_id": "64a0000000000000000000ff"}')$$);
\! ctl POST payments "{\"id\": \"64b000000000000000000002\", \"status\": \"success\", \"amount\": 500, \"key\": \"$OKRA_SANDBOX_KEY2\"}" >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64b000000000000000000002')$$);
SELECT set_config('okra.api_key_file', :'testdir' || '/key2.key', false) IS NOT NULL AS ok;
SELECT payment_id, status, amount FROM okra_verify('64b000000000000000000002');
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
RESET okra.api_key_file;

--
-- OK007 unauthorized: a key the sandbox does not know (HTTP 401), and a 403
--
SELECT set_config('okra.api_key_file', :'testdir' || '/wrong.key', false) IS NOT NULL AS ok;
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000001', 1)$$);
RESET okra.api_key_file;
\! ctl POST faults '{"kind": "status", "status": 403, "body": "{\"status\":\"error\",\"message\":\"Forbidden.\"}"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);

--
-- OK008 rate limited (HTTP 429): one request per minute
--
\! ctl POST reset >/dev/null
\! ctl POST config '{"rate_limit": 1}' >/dev/null
SELECT status FROM okra_verify('64a000000000000000000001');
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000001', 1)$$);
\! ctl POST config '{"rate_limit": 0}' >/dev/null

--
-- OK009 any other rejection: bad or missing field, unknown route, body too
-- large, a 2xx whose status is "error", Okra's other message keys, a
-- rejection with no message at all, a non-JSON 4xx
--
SELECT * FROM pg_temp.try($$SELECT okra_request('pay/link/create', '{}')$$);
SELECT * FROM pg_temp.try($$SELECT okra_request('pay/link/create', '{"name": "Order 7", "amount": 5000, "currency": "USD"}')$$);
SELECT * FROM pg_temp.try($$SELECT okra_request('pay/list', '{"page": "two"}')$$);
SELECT * FROM pg_temp.try($$SELECT okra_request('pay/nowhere')$$);
SELECT * FROM pg_temp.try($$SELECT okra_request('pay/list', jsonb_build_object('pad', repeat('x', 1100000)))$$);
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"error\",\"message\":\"Something odd happened.\"}"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! ctl POST faults '{"kind": "status", "status": 400, "body": "{\"status\":\"error\",\"msg\":\"An old-style message.\"}"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! ctl POST faults '{"kind": "status", "status": 400, "body": "{\"status\":\"error\",\"data\":{\"message\":[\"First problem.\",\"Second problem.\"]}}"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! ctl POST faults '{"kind": "status", "status": 400, "body": "{\"status\":\"error\"}"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! ctl POST faults '{"kind": "status", "status": 400, "body": "Bad Request", "content_type": "text/plain"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! ctl POST faults '{"kind": "html", "status": 404}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);

--
-- OK010 outcome unknown: HTTP 5xx (the refund executed, or not), a reset,
-- Okra's 503 timeout, a proxy's HTML 502, a cut-short body, a dropped
-- connection, a hang past okra.request_timeout
--
\! ctl POST reset >/dev/null
\! ctl POST faults '{"kind": "after_status", "route": "pay/refund"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000009', 1000)$$);
SELECT pg_temp.settle() \g /dev/null
\! ctl POST faults '{"kind": "status", "status": 500}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000009')$$);
\! ctl POST faults '{"kind": "reset", "route": "pay/refund"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000009', 1000)$$);
SELECT pg_temp.settle() \g /dev/null
\! ctl POST faults '{"kind": "timeout503"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000009')$$);
\! ctl POST faults '{"kind": "html"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_cancel('64a00000000000000000000c')$$);
\! ctl POST faults '{"kind": "truncate"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000009')$$);
\! ctl POST faults '{"kind": "after_drop", "route": "pay/refund"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000009', 1000)$$);
SELECT pg_temp.settle() \g /dev/null
SET okra.request_timeout = '300ms';
\! ctl POST faults '{"kind": "hang", "ms": 1500}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000009')$$);
RESET okra.request_timeout;
-- what executed: the refunds of the after_status, reset and after_drop faults
-- (the sandbox carries those out before failing), nothing else
\x off
\set counters `ctl GET counters`
SELECT :'counters'::jsonb -> 'refunds' AS refunds,
       (:'counters'::jsonb ->> 'faults_fired')::int AS faults_fired;
SELECT status FROM okra_cancel('64a00000000000000000000c');
\x on

--
-- OK011 invalid response: too large, not JSON, not an object, no status,
-- the wrong shape, a redirect
--
SET okra.max_response_size = '4kB';
\! ctl POST faults '{"kind": "size", "bytes": 5000}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! ctl POST faults '{"kind": "size", "bytes": 5000, "route": "pay/refund"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000001', 1)$$);
SELECT pg_temp.settle() \g /dev/null
RESET okra.max_response_size;
\! ctl POST faults '{"kind": "size", "bytes": 1100000}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_request('pay/list')$$);
\! ctl POST faults '{"kind": "status", "status": 200, "body": "<html>OK</html>", "content_type": "text/html"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! ctl POST faults '{"kind": "status", "status": 200, "body": "[\"success\"]"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_request('pay/list')$$);
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"data\": {}}"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_request('pay/list')$$);
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{}}"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"refund\":\"x\"}}"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000001', 1)$$);
SELECT pg_temp.settle() \g /dev/null
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"data\":{\"payment_status\":{\"_id\":\"64a000000000000000000001\",\"amount\":\"lots\",\"status\":\"success\"}}}"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"data\":{\"payment_status\":{\"_id\":\"64a000000000000000000001\"}}} trailing"}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! ctl POST faults '{"kind": "status", "status": 302, "body": ""}' >/dev/null
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);

--
-- 08001: the request was not sent (nothing listens on port 1)
--
SET okra.base_url = 'http://127.0.0.1:1/v2';
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000001', 1)$$);
SELECT pg_temp.settle() \g /dev/null
RESET okra.base_url;

--
-- 55000: not configured, or the key file is unusable
--
SET okra.base_url = '';
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
RESET okra.base_url;
SET okra.api_key_file = '';
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
SELECT set_config('okra.api_key_file', :'testdir' || '/missing.key', false) IS NOT NULL AS ok;
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! install -m 600 -o postgres -g postgres /dev/null "$OKRA_TEST_DIR/empty.key"
SELECT set_config('okra.api_key_file', :'testdir' || '/empty.key', false) IS NOT NULL AS ok;
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! printf '\n\n' > "$OKRA_TEST_DIR/blank.key"; chown postgres:postgres "$OKRA_TEST_DIR/blank.key"; chmod 600 "$OKRA_TEST_DIR/blank.key"
SELECT set_config('okra.api_key_file', :'testdir' || '/blank.key', false) IS NOT NULL AS ok;
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! printf '%s\nsecond line\n' "$OKRA_SANDBOX_KEY" > "$OKRA_TEST_DIR/two-lines.key"; chown postgres:postgres "$OKRA_TEST_DIR/two-lines.key"; chmod 600 "$OKRA_TEST_DIR/two-lines.key"
SELECT set_config('okra.api_key_file', :'testdir' || '/two-lines.key', false) IS NOT NULL AS ok;
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! mkdir -p "$OKRA_TEST_DIR/keydir"
SELECT set_config('okra.api_key_file', :'testdir' || '/keydir', false) IS NOT NULL AS ok;
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
\! install -m 600 -o root -g root /dev/null "$OKRA_TEST_DIR/root-only.key"
SELECT set_config('okra.api_key_file', :'testdir' || '/root-only.key', false) IS NOT NULL AS ok;
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
RESET okra.api_key_file;
-- a key file readable by others still works, with a warning
\! install -m 644 -o postgres -g postgres "$OKRA_TEST_DIR/okra.key" "$OKRA_TEST_DIR/open.key"
SELECT set_config('okra.api_key_file', :'testdir' || '/open.key', false) IS NOT NULL AS ok;
\set VERBOSITY terse
SELECT status FROM okra_verify('64a000000000000000000001');
\set VERBOSITY default
RESET okra.api_key_file;
-- a relative path is relative to the data directory (no such file there)
SET okra.api_key_file = 'okra-test-no-such.key';
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
RESET okra.api_key_file;

--
-- 57014: statement_timeout during a call (timing: test/pgtap)
--
\! ctl POST faults '{"kind": "delay", "ms": 1500}' >/dev/null
SET statement_timeout = '300ms';
SELECT * FROM pg_temp.try($$SELECT okra_verify('64a000000000000000000001')$$);
RESET statement_timeout;

-- and afterwards every function works again in this session
\x off
SELECT status FROM okra_verify('64a000000000000000000001');
-- let the delayed request end in the sandbox before the next test file
\! sleep 1.5
