-- The error-path workload of test/valgrind/run.sh: one session, with its
-- backend under memcheck, makes every kind of okra call fail (and succeed)
-- :n times in a row, each call caught by a PL/pgSQL EXCEPTION block, then
-- exits so memcheck runs its leak check on that backend.  A leak of one
-- block per failed call shows up as a loss record of :n blocks.
--
-- psql variables (set by run.sh): sbtls (okra-sandbox's HTTPS port),
-- closed (a port nobody listens on), dir (the directory with the key files
-- and ca.pem), n (calls per kind), nslow (calls per kind that each wait for
-- a timeout), ntls (calls per kind that each make a TLS handshake).
-- Environment: `ctl` (test/sandbox) on PATH, OKRA_SANDBOX_PORT and
-- OKRA_SANDBOX_TLS_PORT and OKRA_TEST_CA set; faults are armed with "count": n, so each
-- fires for exactly the calls of its loop.
--
-- Each kind's outcome is one line "VGCHECK ok|FAIL <kind> ..." at the end:
-- the SQLSTATE every call of that kind must have raised (00000: success),
-- so the run proves the paths it claims to exercise were taken.

\set ON_ERROR_STOP 1
\pset pager off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS okra;
SELECT 'VGPID ' || pg_backend_pid() AS vgpid \gset
\echo :vgpid
\! ctl POST reset >/dev/null

CREATE TEMP TABLE vg_hits (seq serial, kind text, expect text, state text);

-- vg_settle(): every journal entry of unknown outcome settled as failed
CREATE FUNCTION pg_temp.vg_settle()
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	j	bigint;
BEGIN
	PERFORM okra_journal_flush();
	FOR j IN SELECT journal_id FROM okra_journal WHERE outcome IS NULL OR outcome = 'unknown' LOOP
		PERFORM okra_journal_resolve(j, 'failed', 'settled by the valgrind workload');
	END LOOP;
END $$;

-- vg_loop(kind, expect, n, sql): run sql n times ($i replaced by 1..n),
-- catching whatever it raises, and record each outcome's SQLSTATE.
CREATE FUNCTION pg_temp.vg_loop(kind text, expect text, n int, q text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	st text;
BEGIN
	FOR i IN 1..n LOOP
		BEGIN
			EXECUTE replace(q, '$i', i::text);
			st := '00000';
		EXCEPTION WHEN OTHERS OR query_canceled THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
		END;
		INSERT INTO vg_hits (kind, expect, state) VALUES (kind, expect, st);
		-- a refund of unknown outcome refuses the next one (OK012): settle it
		IF st IN ('OK010', 'OK011') THEN
			PERFORM pg_temp.vg_settle();
		END IF;
	END LOOP;
END $$;

-- vg_once(kind, expect, sql): the same for one call, for statements that
-- must each be a top-level statement (statement_timeout)
CREATE FUNCTION pg_temp.vg_once(kind text, expect text, q text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_temp.vg_loop(kind, expect, 1, q);
END $$;

---------------------------------------------------------------- successes
SELECT pg_temp.vg_loop('ok verify', '00000', :n,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
SELECT pg_temp.vg_loop('ok request pay/list', '00000', :n,
	$q$SELECT okra_request('pay/list', '{"limit": 5}')$q$);
SELECT pg_temp.vg_loop('ok refund', '00000', :n,
	$q$SELECT okra_refund('64a000000000000000000007', 1, 'valgrind $i')$q$);
SELECT pg_temp.vg_loop('ok initiate+cancel', '00000', :n / 2,
	$q$SELECT okra_cancel((okra_initiate_payment('64b0000000000000000000a1', 100)).payment_id)$q$);

SELECT pg_temp.vg_loop('ok initiate with a reference, then its replay', '00000', :n / 2,
	$q$SELECT (okra_initiate_payment('64b0000000000000000000a2', 100, reference => 'vg-$i')).replayed
		   = (okra_initiate_payment('64b0000000000000000000a2', 100, reference => 'vg-$i')).replayed$q$);
SELECT pg_temp.vg_loop('ok recurring initiate', '00000', :n / 4,
	$q$SELECT okra_initiate_payment('64b0000000000000000000a2', 100, schedule_interval => 'monthly',
								   start_date => '2027-01-01', end_date => '2027-02-01')$q$);
SELECT pg_temp.vg_loop('ok get payment', '00000', :n,
	$q$SELECT okra_get_payment('64a000000000000000000001')$q$);
SELECT pg_temp.vg_loop('ok lists, walked to the end and abandoned mid-page', '00000', :n / 4,
	$q$SELECT (SELECT count(*) FROM okra_list_payments(7)) + (SELECT count(*) FROM (SELECT okra_list_payments(3) LIMIT 4) s)
			+ (SELECT count(*) FROM okra_customer_payments('64c00000000000000000000a', 1))$q$);
SELECT pg_temp.vg_loop('22023 initiate inputs', '22023', :n, $q$SELECT CASE $i % 4
	WHEN 0 THEN okra_initiate_payment('64b0000000000000000000a2', 0)
	WHEN 1 THEN okra_initiate_payment('64b0000000000000000000a2', 1, 'USD')
	WHEN 2 THEN okra_initiate_payment('64b0000000000000000000a2', 1, reference => '')
	ELSE okra_initiate_payment('64b0000000000000000000a2', 1, schedule_interval => 'monthly',
							   start_date => '2027-02-01', end_date => '2027-01-01') END$q$);

---------------------------------------------------------------- 22023: inputs, nothing sent
SELECT pg_temp.vg_loop('22023 inputs', '22023', :n, $q$SELECT CASE $i % 8
	WHEN 0 THEN okra_verify('xyz')::text
	WHEN 1 THEN okra_verify(NULL)::text
	WHEN 2 THEN okra_refund('64a000000000000000000001', -5)::text
	WHEN 3 THEN okra_refund('64a000000000000000000001', 1, NULL, 'not-an-account')::text
	WHEN 4 THEN okra_request('/pay/list', '{}')::text
	WHEN 5 THEN okra_request('pay/list', '[1, 2]')::text
	WHEN 6 THEN okra_request('pay/../x', '{}')::text
	ELSE okra_cancel(repeat('z', 500))::text END$q$);

---------------------------------------------------------------- Okra's rejections
SELECT okra_refund('64a000000000000000000002') \g /dev/null
SELECT pg_temp.vg_loop('OK001 duplicate refund', 'OK001', :n,
	$q$SELECT okra_refund('64a000000000000000000002')$q$);
SELECT pg_temp.vg_loop('OK002 refund too large', 'OK002', :n,
	$q$SELECT okra_refund('64a000000000000000000003', 99999999)$q$);
SELECT pg_temp.vg_loop('OK003 not refundable', 'OK003', :n,
	$q$SELECT okra_refund('64a00000000000000000000a', 10)$q$);
\! ctl POST wallet '{"amount": 0}' >/dev/null
SELECT pg_temp.vg_loop('OK004 wallet short', 'OK004', :n,
	$q$SELECT okra_refund('64a000000000000000000004', 100)$q$);
\! ctl POST wallet '{"amount": 10000000}' >/dev/null
SELECT pg_temp.vg_loop('OK005 not cancellable', 'OK005', :n,
	$q$SELECT okra_cancel('64a000000000000000000001')$q$);
SELECT pg_temp.vg_loop('OK006 not found', 'OK006', :n,
	$q$SELECT okra_verify('64a0000000000000000000ff')$q$);
SELECT set_config('okra.api_key_file', :'dir' || '/wrong.key', false) \g /dev/null
SELECT pg_temp.vg_loop('OK007 wrong key', 'OK007', :n,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
RESET okra.api_key_file;
\! ctl POST config '{"rate_limit": 1}' >/dev/null
DO $$ BEGIN PERFORM okra_verify('64a000000000000000000001'); EXCEPTION WHEN OTHERS THEN NULL; END $$;
SELECT pg_temp.vg_loop('OK008 rate limited', 'OK008', :n,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
\! ctl POST config '{"rate_limit": 0}' >/dev/null
SELECT pg_temp.vg_loop('OK009 other rejection', 'OK009', :n,
	$q$SELECT okra_request('pay/get/id', '{}')$q$);

---------------------------------------------------------------- faults: outcome unknown (OK010)
SELECT format('{"kind": "after_status", "status": 500, "route": "pay/refund", "count": %s}', :n) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SELECT pg_temp.vg_loop('OK010 after_status 500', 'OK010', :n,
	$q$SELECT okra_refund('64a000000000000000000006', 1)$q$);
SELECT format('{"kind": "after_drop", "route": "pay/refund", "count": %s}', :n) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SELECT pg_temp.vg_loop('OK010 after_drop', 'OK010', :n,
	$q$SELECT okra_refund('64a000000000000000000006', 1)$q$);
SELECT format('{"kind": "reset", "bytes": 10, "route": "pay/verify", "count": %s}', :n) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SELECT pg_temp.vg_loop('OK010 reset', 'OK010', :n,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
SELECT format('{"kind": "truncate", "route": "pay/verify", "count": %s}', :n) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SELECT pg_temp.vg_loop('OK010 truncate', 'OK010', :n,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
SELECT format('{"kind": "html", "status": 502, "route": "pay/verify", "count": %s}', :n) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SELECT pg_temp.vg_loop('OK010 html 502', 'OK010', :n,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
SELECT format('{"kind": "timeout503", "route": "pay/verify", "count": %s}', :n) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SELECT pg_temp.vg_loop('OK010 timeout503', 'OK010', :n,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
SET okra.request_timeout = '250ms';
SELECT format('{"kind": "hang", "ms": 1500, "route": "pay/verify", "count": %s}', :nslow) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SELECT pg_temp.vg_loop('OK010 hang past okra.request_timeout', 'OK010', :nslow,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
RESET okra.request_timeout;

---------------------------------------------------------------- faults: invalid response (OK011)
SET okra.max_response_size = '2kB';
SELECT format('{"kind": "size", "bytes": 100000, "route": "pay/verify", "count": %s}', :n) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SELECT pg_temp.vg_loop('OK011 over okra.max_response_size', 'OK011', :n,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
RESET okra.max_response_size;
SELECT format('{"kind": "status", "status": 200, "body": "<html>not json</html>", "content_type": "text/html", "route": "pay/verify", "count": %s}', :n) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SELECT pg_temp.vg_loop('OK011 not JSON', 'OK011', :n,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
SELECT format('{"kind": "status", "status": 200, "body": "{\"status\": \"success\", \"data\": {\"payment_status\": {\"_id\": \"x\", \"amount\": [1]}}}", "route": "pay/verify", "count": %s}', :n) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SELECT pg_temp.vg_loop('OK011 wrong shape (parsed tree alive at ERROR)', 'OK011', :n,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
SELECT format('{"kind": "status", "status": 200, "body": "{\"status\": \"success\", \"data\": {\"refund\": {\"amount\": 5}, \"x\": [1, 2, {\"y\": null}", "route": "pay/refund", "count": %s}', :n) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SELECT pg_temp.vg_loop('OK011 incomplete JSON', 'OK011', :n,
	$q$SELECT okra_refund('64a000000000000000000006', 1)$q$);

---------------------------------------------------------------- 55000 and 08001: nothing sent
SELECT set_config('okra.api_key_file', :'dir' || '/no-such.key', false) \g /dev/null
SELECT pg_temp.vg_loop('55000 key file missing', '55000', :n,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
RESET okra.api_key_file;
SELECT set_config('okra.base_url', format('http://127.0.0.1:%s/v2', :'closed'), false) \g /dev/null
SELECT pg_temp.vg_loop('08001 closed port', '08001', :n,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
SELECT set_config('okra.base_url', format('https://127.0.0.1:%s/v2', :'sbtls'), false) \g /dev/null
SELECT pg_temp.vg_loop('08001 TLS certificate not trusted', '08001', :ntls,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
SELECT set_config('okra.ca_file', :'dir' || '/ca.pem', false) \g /dev/null
SELECT pg_temp.vg_loop('ok verify over TLS', '00000', :n,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
SELECT format('{"kind": "reset", "route": "pay/verify", "count": %s}', :ntls) AS f \gset
\setenv VG_FAULT :f
\! curl -sS --cacert "$OKRA_TEST_CA" -H 'Content-Type: application/json' --data-binary "$VG_FAULT" "https://127.0.0.1:$OKRA_SANDBOX_TLS_PORT/_sandbox/faults" >/dev/null
SELECT pg_temp.vg_loop('OK010 reset over TLS', 'OK010', :ntls,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);
SELECT pg_temp.vg_loop('OK006 not found over TLS', 'OK006', :n,
	$q$SELECT okra_verify('64a0000000000000000000ff')$q$);
RESET okra.ca_file;
RESET okra.base_url;

---------------------------------------------------------------- 57014: statement_timeout mid-transfer
-- statement_timeout is per top-level statement: one statement per call.
-- trickle: the body is arriving, a byte at a time, when the timeout fires;
-- hang: the request went out and no answer has come.
SELECT format('{"kind": "trickle", "ms": 40, "chunk": 1, "route": "pay/verify", "count": %s}', :nslow) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SET statement_timeout = '300ms';
SELECT format($g$SELECT pg_temp.vg_once('57014 statement_timeout mid-body', '57014', %L)$g$,
	$q$SELECT okra_verify('64a000000000000000000001')$q$)
	FROM generate_series(1, :nslow) \gexec
RESET statement_timeout;
\! ctl DELETE faults >/dev/null
SELECT format('{"kind": "hang", "ms": 1500, "route": "pay/refund", "count": %s}', :nslow) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SET statement_timeout = '300ms';
SELECT format($g$SELECT pg_temp.vg_once('OK010 statement_timeout waiting for a refund''s answer', 'OK010', %L)$g$,
	$q$SELECT okra_refund('64a000000000000000000006', 1)$q$)
	FROM generate_series(1, :nslow) \gexec
RESET statement_timeout;
\! ctl DELETE faults >/dev/null

---------------------------------------------------------------- okra_verify_pending
-- top-level CALLs (it commits), through \gexec: each run checks three
-- payments at once, one answered, one not JSON (OK011), one unknown (OK006)
UPDATE okra_payments SET next_check_at = NULL;
SELECT okra_track(id) FROM unnest(array['64a00000000000000000000a', '64a00000000000000000000b',
	'64a0000000000000000000ff']) AS id \g /dev/null
\set due 'UPDATE okra_payments SET next_check_at = now() WHERE payment_id IN (''64a00000000000000000000a'', ''64a00000000000000000000b'', ''64a0000000000000000000ff'')'
SELECT format('{"kind": "status", "status": 200, "body": "nope", "payment_id": "64a00000000000000000000b", "count": %s}', :nslow) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SELECT :'due', 'CALL okra_verify_pending(10, 4)' FROM generate_series(1, :nslow) \gexec
INSERT INTO vg_hits (kind, expect, state)
SELECT 'ok verify_pending run', '3 checked, 1 answered, 2 failed',
	format('%s checked, %s answered, %s failed', checked, changed + unchanged, failed)
  FROM okra_verification_runs ORDER BY run_id;
\! ctl DELETE faults >/dev/null
-- and cut short by statement_timeout while one answer hangs
TRUNCATE okra_verification_runs;
SELECT format('{"kind": "hang", "ms": 1500, "payment_id": "64a00000000000000000000b", "count": %s}', :nslow) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
\set ON_ERROR_STOP 0
SET statement_timeout = '300ms';
SELECT :'due', 'CALL okra_verify_pending(10, 4)' FROM generate_series(1, :nslow) \gexec
RESET statement_timeout;
\set ON_ERROR_STOP 1
INSERT INTO vg_hits (kind, expect, state)
SELECT '57014 verify_pending cut short', 'unfinished', CASE WHEN finished_at IS NULL THEN 'unfinished' ELSE 'finished' END
  FROM okra_verification_runs ORDER BY run_id;
\! ctl DELETE faults >/dev/null

---------------------------------------------------------------- the outbox (CALL okra_outbox_run)
-- each round: a refund after commit that is answered, one whose answer is
-- lost (unknown, then checked with pay/verify and left for a person), and
-- a cancel Okra refuses
SELECT format('{"kind": "after_drop", "route": "pay/refund", "payment_id": "64a000000000000000000009", "count": %s}', :nslow) AS f \gset
\setenv VG_FAULT :f
\! ctl POST faults "$VG_FAULT" >/dev/null
SELECT $q$SELECT okra_refund_after_commit('64a000000000000000000008', 1), okra_refund_after_commit('64a000000000000000000009', 1), okra_cancel_after_commit('64a000000000000000000001')$q$,
	'CALL okra_outbox_run()',
	$q$UPDATE okra_outbox_requests SET next_attempt_at = now() WHERE state = 'unknown' AND next_attempt_at IS NOT NULL$q$,
	'CALL okra_outbox_run()'
  FROM generate_series(1, :nslow) \gexec
INSERT INTO vg_hits (kind, expect, state)
SELECT 'outbox ' || kind || ' ' || payment_id,
	CASE WHEN kind = 'cancel' THEN 'failed OK005' WHEN payment_id = '64a000000000000000000008' THEN 'succeeded '
	ELSE 'unknown OK010' END,
	state || ' ' || coalesce(sqlstate, '')
  FROM okra_outbox_requests ORDER BY request_id;
\! ctl DELETE faults >/dev/null

---------------------------------------------------------------- authorizations
-- each round schedules, cancels and reauthorizes one authorization; the
-- lists read two pages; a bad schedule (22023) and an unknown
-- authorization Okra refuses (OK009)
\! ctl POST authorizations '{"id": "64b00000000000000000d001", "customer": "64b00000000000000000c001", "accounts": ["64b00000000000000000a001"], "link": "64b00000000000000000b001"}' >/dev/null
SELECT pg_temp.vg_loop('ok authorization initiate+cancel+reauth', '00000', :n / 2,
	$q$SELECT okra_initiate_authorized_payment('64b00000000000000000d001', 100, 100, '2027-01-01', schedule_interval => 'monthly'),
			  okra_cancel_authorization('64b00000000000000000d001', '64b00000000000000000c001', '64b00000000000000000b001'),
			  okra_reauthorize('64b00000000000000000d001', '64b00000000000000000c001', '64b00000000000000000b001', '64b00000000000000000a001')$q$);
SELECT pg_temp.vg_loop('ok authorization lists', '00000', :n,
	$q$SELECT (SELECT count(*) FROM (SELECT okra_list_authorizations(1) LIMIT 2) s),
			  (SELECT count(*) FROM okra_customer_authorizations('64b00000000000000000c001'))$q$);
SELECT pg_temp.vg_loop('22023 authorization dates', '22023', :n,
	$q$SELECT okra_initiate_authorized_payment('64b00000000000000000d001', 100, 100, '2027-06-30', '2027-01-01', 'monthly')$q$);
SELECT pg_temp.vg_loop('OK009 authorization not found', 'OK009', :n,
	$q$SELECT okra_cancel_authorization('64b0ffffffffffffffffffff', '64b00000000000000000c001', '64b00000000000000000b001')$q$);

---------------------------------------------------------------- payment links
-- each round makes a fixed and a recurring link (the same details answer
-- the same link, so the ledger is updated), an open one with redirects;
-- a bad amount (22023) and a schedule Okra refuses (OK009)
SELECT pg_temp.vg_loop('ok payment links', '00000', :n,
	$q$SELECT okra_create_payment_link('vg link', 25000, note => 'valgrind'),
			  okra_create_payment_link('vg club', 5000, schedule_interval => 'monthly',
									   start_date => '2027-01-01', end_date => '2027-12-31'),
			  okra_create_payment_link('vg open', NULL, success_url => 'https://shop.example/thanks',
									   callback_url => 'https://shop.example/hook')$q$);
SELECT pg_temp.vg_loop('22023 payment link amount', '22023', :n,
	$q$SELECT okra_create_payment_link('vg link', 99)$q$);
SELECT pg_temp.vg_loop('OK009 payment link schedule', 'OK009', :n,
	$q$SELECT okra_create_payment_link('vg late', 700, schedule_interval => 'daily', end_date => '2020-01-01')$q$);

---------------------------------------------------------------- bulk payments
-- each round uploads a file of three rows (one callback URL with commas,
-- quoted in the CSV); a bad row (22023, nothing sent) and a row the sandbox
-- refuses (an amount over its 10^15 kobo: OK009)
SELECT pg_temp.vg_loop('ok bulk payments', '00000', :n,
	$q$SELECT okra_bulk_initiate(ARRAY[
		ROW('64d0000000000000000000a1', '64d0000000000000000000c1', 1000, 'NGN', NULL),
		ROW('64d0000000000000000000a2', '64d0000000000000000000c1', 2000, 'NGN', 'https://shop.example/cb?o=1,2'),
		ROW('64d0000000000000000000a1', '64d0000000000000000000c1', 3000, 'NGN', '')]::okra_bulk_payment[])$q$);
SELECT pg_temp.vg_loop('22023 bulk row', '22023', :n,
	$q$SELECT okra_bulk_initiate(ARRAY[
		ROW('64d0000000000000000000a1', '64d0000000000000000000c1', 1000, 'NGN', NULL),
		ROW('64d0000000000000000000a1', 'nope', 1000, 'NGN', NULL)]::okra_bulk_payment[])$q$);
SELECT pg_temp.vg_loop('OK009 bulk row', 'OK009', :n,
	$q$SELECT okra_bulk_initiate(ARRAY[
		ROW('64d0000000000000000000a1', '64d0000000000000000000c1', 10000000000000000, 'NGN', NULL)]::okra_bulk_payment[])$q$);

---------------------------------------------------------------- payouts
-- each round pays out to an account and to a NUBAN (with a reference),
-- then reads the first back; a NUBAN of 9 digits (22023, nothing sent) and
-- an unknown payout (OK009)
SELECT pg_temp.vg_loop('ok payouts', '00000', :n,
	$q$SELECT okra_get_payout((okra_payout(100, '64d0000000000000000000a1')).payout_id),
			  okra_payout(200, nuban => '1329137339', bank => '5d6fe57a4099cc4b210bbec0',
						  reference => 'vg-payout-$i')$q$);
SELECT pg_temp.vg_loop('22023 payout nuban', '22023', :n,
	$q$SELECT okra_payout(100, nuban => '132913733', bank => '5d6fe57a4099cc4b210bbec0')$q$);
SELECT pg_temp.vg_loop('OK009 unknown payout', 'OK009', :n,
	$q$SELECT okra_get_payout('64d00000000000000000ffff')$q$);

---------------------------------------------------------------- initiates after commit
-- queued with and without a reference, the reference again (the same
-- request), bad input; the worker sends them as each loop commits
SELECT pg_temp.vg_loop('ok initiate after commit', '00000', :n,
	$q$SELECT okra_initiate_payment_after_commit('64d0000000000000000000a1', 100),
			  okra_initiate_payment_after_commit('64d0000000000000000000a1', 100, reference => 'vg-ac-$i'),
			  okra_initiate_payment_after_commit('64d0000000000000000000a1', 100, reference => 'vg-ac-$i')$q$);
SELECT pg_temp.vg_loop('22023 initiate after commit', '22023', :n,
	$q$SELECT okra_initiate_payment_after_commit('64d0000000000000000000a1', 0)$q$);
SELECT pg_temp.vg_loop('ok money flow', '00000', 10,
	$q$SELECT count(*) FROM okra_money_flow$q$);

---------------------------------------------------------------- webhooks
-- a body naming a payment (each a new event; the worker verifies it), the
-- same body again, a wrong token (28000), a body that is not JSON (22P02)
SELECT set_config('okra.webhook_token_file', :'dir' || '/webhook.key', false) IS NOT NULL AS set \g /dev/null
\getenv token OKRA_WEBHOOK_TOKEN
SELECT pg_temp.vg_loop('ok webhook', '00000', :n,
	format('SELECT okra_webhook(%L, %L), okra_webhook(%L, %L)',
		   '{"payment_id": "64a00000000000000000000b", "event_id": "$i"}', 'Bearer ' || :'token',
		   '{"payment_id": "64a00000000000000000000b", "event_id": "$i"}', 'Bearer ' || :'token'));
SELECT pg_temp.vg_loop('28000 webhook token', '28000', :n,
	format('SELECT okra_webhook(%L, %L)', '{"payment_id": "64a00000000000000000000b"}', 'Bearer not-the-token'));
SELECT pg_temp.vg_loop('22P02 webhook body', '22P02', :n,
	format('SELECT okra_webhook(%L, %L)', '{"payment_id": ', 'Bearer ' || :'token'));

---------------------------------------------------------------- and the session still works
SELECT pg_temp.vg_loop('ok verify at the end', '00000', 10,
	$q$SELECT okra_verify('64a000000000000000000001')$q$);

-- the verdicts
\pset format unaligned
\pset tuples_only on
SELECT format('VGCHECK %s %s: %s', CASE WHEN ok THEN 'ok  ' ELSE 'FAIL' END, kind, detail)
FROM (
	SELECT min(seq) AS first, kind,
		bool_and(state = expect) AS ok,
		format('%s calls, expected %s, got %s', count(*), min(expect),
			string_agg(DISTINCT state, ',')) AS detail
	FROM vg_hits GROUP BY kind
) s ORDER BY first;
