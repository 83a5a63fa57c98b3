-- statement_timeout and query cancel interrupt a request in flight within a
-- fraction of a second (README "Settings"), with SQLSTATE 57014, or OK010
-- once a request that may move money was sent (README "The journal"); the
-- session works afterwards.  pg_cancel_backend and pg_terminate_backend
-- reach another session through dblink.
\! ctl POST reset >/dev/null
\getenv pghost PGHOST
\getenv pgport PGPORT
\getenv pguser PGUSER
\getenv pgpassword PGPASSWORD
-- okra and dblink are committed: the other sessions (dblink) need okra
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS okra;
CREATE EXTENSION IF NOT EXISTS dblink;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
\ir helpers.psql
SELECT plan(24);
-- requests left stalled in the sandbox: wait for them at the end, so that
-- they do not land in the next file's counters
CREATE TEMP TABLE stalls (until timestamptz);

SELECT format('host=%s port=%s user=%s password=%s dbname=%s', :'pghost', :'pgport', :'pguser',
              :'pgpassword', current_database()) AS conninfo \gset

--
-- statement_timeout while waiting for the answer (delay 5 s)
--
\! ctl POST faults '{"kind": "delay", "ms": 5000}' >/dev/null
INSERT INTO stalls VALUES (clock_timestamp() + interval '5000 ms');
SET LOCAL statement_timeout = '500ms';
CREATE TEMP TABLE t1 AS SELECT * FROM pg_temp.timed($$SELECT okra_verify('64a000000000000000000001')$$);
RESET statement_timeout;
SELECT is((SELECT state FROM t1), '57014', 'statement_timeout during a delayed answer: 57014');
SELECT ok((SELECT elapsed >= '0.45 s' FROM t1), 'not before the timeout');
SELECT ok((SELECT elapsed < '1.5 s' FROM t1), 'within 1.5 s (timeout 500 ms, answer due in 5 s)');
SELECT ok((SELECT elapsed < '0.8 s' FROM t1), 'in fact within 300 ms of the timeout (README: about 100 ms)');

-- while the body is arriving (a trickle of 10 bytes every 100 ms)
\! ctl POST faults '{"kind": "trickle", "ms": 100, "chunk": 10}' >/dev/null
SET LOCAL statement_timeout = '500ms';
CREATE TEMP TABLE t2 AS SELECT * FROM pg_temp.timed($$SELECT okra_verify('64a000000000000000000001')$$);
RESET statement_timeout;
SELECT is((SELECT state FROM t2), '57014', 'statement_timeout mid-body: 57014');
SELECT ok((SELECT elapsed < '1.5 s' FROM t2), 'mid-body: within 1.5 s');

-- a hang longer than okra.request_timeout: statement_timeout wins when shorter
\! ctl POST faults '{"kind": "hang", "ms": 3000}' >/dev/null
INSERT INTO stalls VALUES (clock_timestamp() + interval '3000 ms');
SET LOCAL statement_timeout = '500ms';
CREATE TEMP TABLE t3 AS SELECT * FROM pg_temp.timed($$SELECT okra_refund('64a000000000000000000001', 100)$$);
RESET statement_timeout;
SELECT is((SELECT state FROM t3), 'OK010', 'statement_timeout during a refund''s hang: OK010, it may have happened');
SELECT pg_temp.settle_unknown('failed') \g /dev/null
SELECT ok((SELECT elapsed < '1.5 s' FROM t3), 'hang: within 1.5 s');

-- the session works at once
SELECT is((okra_verify('64a000000000000000000001')).status, 'success', 'the next call works');

--
-- pg_cancel_backend of a session waiting for Okra
--
SELECT dblink_connect('victim', :'conninfo') \g /dev/null
SELECT pid AS victim_pid FROM dblink('victim', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SELECT * FROM dblink('victim', $$SELECT status FROM okra_verify('64a000000000000000000002')$$) AS t(s text) \g /dev/null
\! ctl POST faults '{"kind": "delay", "ms": 3000, "payment_id": "64a000000000000000000003"}' >/dev/null
INSERT INTO stalls VALUES (clock_timestamp() + interval '3000 ms');
SELECT dblink_send_query('victim', $$SELECT status FROM okra_verify('64a000000000000000000003')$$) \g /dev/null

-- wait (up to 3 s) until the victim is inside the request
CREATE FUNCTION pg_temp.wait_for_okra(p int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	w text;
BEGIN
	FOR i IN 1..300 LOOP
		PERFORM pg_stat_clear_snapshot();
		SELECT coalesce(wait_event_type, '') || ':' || coalesce(wait_event, '') INTO w
		FROM pg_stat_activity WHERE pid = p AND state = 'active' AND query ~ 'okra_(verify|refund|cancel|request)';
		IF w IS NOT NULL AND w LIKE 'Extension:%' THEN
			RETURN w;
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN w;
END $$;
SELECT pg_temp.wait_for_okra(:victim_pid) AS victim_wait \gset
SELECT ok(:'victim_wait' LIKE 'Extension:%', 'pg_stat_activity shows the victim waiting on an extension wait event');

CREATE FUNCTION pg_temp.cancel_and_wait(conn text, p int, terminate bool,
                                        OUT signalled bool, OUT state text, OUT message text, OUT elapsed interval)
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	signalled := CASE WHEN terminate THEN pg_terminate_backend(p) ELSE pg_cancel_backend(p) END;
	WHILE dblink_is_busy(conn) = 1 AND clock_timestamp() - t0 < interval '10 s' LOOP
		PERFORM pg_sleep(0.01);
	END LOOP;
	elapsed := clock_timestamp() - t0;
	BEGIN
		PERFORM * FROM dblink_get_result(conn) AS t(s text);
		state := 'no error';
	EXCEPTION WHEN OTHERS OR query_canceled THEN
		GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	END;
END $$;
CREATE TEMP TABLE c1 AS SELECT * FROM pg_temp.cancel_and_wait('victim', :victim_pid, false);
SELECT ok((SELECT signalled FROM c1), 'pg_cancel_backend signalled the victim');
SELECT is((SELECT state FROM c1), '57014', 'the victim''s okra_verify failed with 57014');
SELECT is((SELECT message FROM c1), 'canceling statement due to user request', 'PostgreSQL''s own cancel message');
SELECT ok((SELECT elapsed < '0.3 s' FROM c1), 'the cancel took effect within 300 ms (README: about 100 ms; the answer was due in 3 s)');
-- drain the connection, then the victim's session works again
SELECT * FROM dblink_get_result('victim') AS t(s text) \g /dev/null
SELECT is((SELECT s FROM dblink('victim', $$SELECT status FROM okra_verify('64a000000000000000000004')$$) AS t(s text)),
	'success', 'the cancelled session makes its next call normally');

-- cancel a refund in flight: OK010, and it was executed at most once
SELECT * FROM dblink('victim', $$SELECT status FROM okra_verify('64a000000000000000000004')$$) AS t(s text) \g /dev/null
\! ctl POST faults '{"kind": "after_hang", "ms": 3000, "route": "pay/refund"}' >/dev/null
INSERT INTO stalls VALUES (clock_timestamp() + interval '3000 ms');
SELECT dblink_send_query('victim', $$SELECT status FROM okra_refund('64a000000000000000000004', 700)$$) \g /dev/null
SELECT pg_temp.wait_for_okra(:victim_pid) \g /dev/null
SELECT pg_sleep(0.2) \g /dev/null
CREATE TEMP TABLE c2 AS SELECT * FROM pg_temp.cancel_and_wait('victim', :victim_pid, false);
SELECT is((SELECT state || ': ' || message FROM c2),
	'OK010: outcome of Okra API request "pay/refund" is unknown: canceling statement due to user request',
	'a refund cancelled while waiting for the answer: OK010, with the reason');
SELECT ok((SELECT elapsed < '0.3 s' FROM c2), 'within 300 ms');
SELECT * FROM dblink_get_result('victim') AS t(s text) \g /dev/null
\set counters `ctl GET counters`
SELECT is(:'counters'::jsonb #> '{refunds,64a000000000000000000004}',
	'{"count": 1, "total": 700, "amounts": [700]}'::jsonb,
	'the sandbox executed it once: a cancel is not a rollback (README "Caveats")');
SELECT is((SELECT s FROM dblink('victim', $$SELECT status FROM okra_verify('64a000000000000000000004')$$) AS t(s text)),
	'success', 'and the session works again');

--
-- pg_terminate_backend: the victim goes away quickly, the server stays up
--
\! ctl POST faults '{"kind": "hang", "ms": 3000}' >/dev/null
INSERT INTO stalls VALUES (clock_timestamp() + interval '3000 ms');
SELECT dblink_send_query('victim', $$SELECT status FROM okra_verify('64a000000000000000000005')$$) \g /dev/null
SELECT pg_temp.wait_for_okra(:victim_pid) \g /dev/null
CREATE TEMP TABLE c3 AS SELECT * FROM pg_temp.cancel_and_wait('victim', :victim_pid, true);
SELECT ok((SELECT signalled FROM c3), 'pg_terminate_backend signalled the victim');
SELECT ok((SELECT elapsed < '0.5 s' FROM c3), 'the victim finished within 500 ms');
SELECT ok((SELECT state <> 'no error' FROM c3), 'its query failed');
CREATE FUNCTION pg_temp.gone(p int) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..200 LOOP
		PERFORM pg_stat_clear_snapshot();
		IF NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = p) THEN
			RETURN true;
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN false;
END $$;
SELECT ok(pg_temp.gone(:victim_pid), 'the victim backend is gone');
SELECT dblink_disconnect('victim') \g /dev/null
\! ctl DELETE faults >/dev/null
SELECT is((okra_verify('64a000000000000000000005')).status, 'success', 'the server and this session carry on');

SELECT pg_sleep(extract(epoch FROM (SELECT max(until) FROM stalls) - clock_timestamp()) + 0.5) \g /dev/null
SELECT * FROM finish();
ROLLBACK;
