-- The ledger: every table written by every function, in the caller's
-- transaction; the refund life cycle; the local refund guard; pruning;
-- privileges (the application role calls but cannot touch the tables, the
-- README's reader grant reads them).  Views: test/pgtap/reports.sql.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(64);
-- other files' dblink sessions commit ledger rows: start from nothing
TRUNCATE okra_payments, okra_refunds, okra_status_changes, okra_api_calls;

SELECT extnamespace::regnamespace::text AS okra_schema FROM pg_extension WHERE extname = 'okra' \gset
CREATE ROLE okra_ledger_app;
CREATE ROLE okra_ledger_reader;
-- README "Granting roles", verbatim but for the schema name and the roles
SELECT format('GRANT USAGE ON SCHEMA %I TO okra_ledger_app, okra_ledger_reader', :'okra_schema') \gexec
GRANT EXECUTE ON FUNCTION okra_verify(text), okra_cancel(text),
      okra_refund(text, bigint, text, text), okra_request(text, jsonb) TO okra_ledger_app;
GRANT SELECT ON okra_payments, okra_refunds, okra_status_changes, okra_api_calls,
      okra_daily_summary, okra_refundable, okra_pending, okra_call_stats TO okra_ledger_reader;
GRANT EXECUTE ON FUNCTION okra_daily_summary(date, date) TO okra_ledger_reader;

--
-- okra_verify, as the application role
--
SET LOCAL ROLE okra_ledger_app;
SELECT okra_verify('64a000000000000000000001') \g /dev/null
SELECT okra_verify('64a00000000000000000000a') \g /dev/null
RESET ROLE;
SELECT is((SELECT row(status, response_status, amount, currency, customer_id, refunded_amount, check_count, terminal, outcome)
           FROM okra_payments WHERE payment_id = '64a000000000000000000001'),
	row('success'::text, 'success'::text, 10000::bigint, 'NGN'::text, '64c000000000000000000001'::text, 0::bigint, 1, true, 'succeeded'::text),
	'okra_verify writes okra_payments: status, amount, customer, outcome');
SELECT is((SELECT row(status, terminal, next_check_at IS NOT NULL, next_check_at > last_checked_at)
           FROM okra_payments WHERE payment_id = '64a00000000000000000000a'),
	row('pending'::text, false, true, true), 'a pending payment is not terminal and has a next check');
SELECT is((SELECT next_check_at FROM okra_payments WHERE payment_id = '64a000000000000000000001'), NULL,
	'a final payment has no next check');
SELECT set_eq($$SELECT object_type, object_id, old_status, new_status, outcome, amount FROM okra_status_changes$$,
	$$VALUES ('payment', '64a000000000000000000001', NULL, 'success', 'succeeded', 10000::bigint),
	         ('payment', '64a00000000000000000000a', NULL, 'pending', NULL, 20000::bigint)$$,
	'the first sighting of each is a status change from NULL');
SELECT is((SELECT row(endpoint, payment_id, http_status, okra_status, okra_message, sqlstate, role::text COLLATE "default",
                      request, response #>> '{data,payment_status,status}')
           FROM okra_api_calls WHERE payment_id = '64a000000000000000000001'),
	row('pay/verify'::text, '64a000000000000000000001'::text, 200, 'success'::text,
	    'Payment Status suceccefully retrieved!'::text, NULL::text, 'okra_ledger_app'::text,
	    '{"payment_id": "64a000000000000000000001"}'::jsonb, 'success'::text),
	'okra_verify writes okra_api_calls: endpoint, status, message, role, request, response');
SELECT ok((SELECT bool_and(duration_ms >= 0 AND duration_ms < 10000 AND called_at <= clock_timestamp()) FROM okra_api_calls),
	'okra_api_calls has each call''s duration');
SELECT ok((SELECT bool_and(NOT (request::text ~* 'sk_test|bearer') AND NOT (response::text ~* 'sk_test'))
           FROM okra_api_calls), 'no key in okra_api_calls');

-- the same status again: checked, not changed
SELECT okra_verify('64a000000000000000000001') \g /dev/null
SELECT is((SELECT check_count FROM okra_payments WHERE payment_id = '64a000000000000000000001'), 2, 'a second verify counts a check');
SELECT is((SELECT count(*)::int FROM okra_status_changes WHERE object_id = '64a000000000000000000001'), 1,
	'and adds no status change');
-- a real change: pending -> success, final from here on
\! ctl POST payments/64a00000000000000000000a '{"status": "success"}' >/dev/null
SELECT okra_verify('64a00000000000000000000a') \g /dev/null
SELECT is((SELECT row(old_status, new_status, outcome) FROM okra_status_changes
           WHERE object_id = '64a00000000000000000000a' ORDER BY change_id DESC LIMIT 1),
	row('pending'::text, 'success'::text, 'succeeded'::text), 'pending -> success is recorded with its outcome');
SELECT is((SELECT row(status, terminal, next_check_at, status_changed_at = last_checked_at) FROM okra_payments
           WHERE payment_id = '64a00000000000000000000a'),
	row('success'::text, true, NULL::timestamptz, true), 'and the payment is final, changed when last checked');

-- outcomes of the other final statuses
SELECT okra_verify(id) FROM (VALUES ('64a00000000000000000000e'), ('64a00000000000000000000f'),
	('64a000000000000000000010'), ('64a000000000000000000011'), ('64a000000000000000000013'),
	('64a000000000000000000014')) v(id) \g /dev/null
SELECT set_eq($$SELECT payment_id, outcome FROM okra_payments WHERE payment_id IN ('64a00000000000000000000e',
	'64a00000000000000000000f', '64a000000000000000000010', '64a000000000000000000011', '64a000000000000000000013',
	'64a000000000000000000014')$$,
	$$VALUES ('64a00000000000000000000e', 'failed'), ('64a00000000000000000000f', 'cancelled'),
	         ('64a000000000000000000010', 'succeeded'), ('64a000000000000000000011', 'failed'),
	         ('64a000000000000000000013', 'failed'), ('64a000000000000000000014', NULL)$$,
	'outcomes: failed, cancelled, completed+success, completed+failed, error; success_pending_validation is not final');

--
-- okra_cancel
--
SET LOCAL ROLE okra_ledger_app;
SELECT okra_cancel('64a00000000000000000000c') \g /dev/null
RESET ROLE;
SELECT is((SELECT row(status, outcome, terminal) FROM okra_payments WHERE payment_id = '64a00000000000000000000c'),
	row('cancelled'::text, 'cancelled'::text, true), 'okra_cancel writes the cancelled payment');
SELECT is((SELECT row(old_status, new_status, outcome) FROM okra_status_changes WHERE object_id = '64a00000000000000000000c'),
	row(NULL::text, 'cancelled'::text, 'cancelled'::text), 'and its status change');
SELECT is((SELECT endpoint FROM okra_api_calls WHERE payment_id = '64a00000000000000000000c'), 'pay/cancel',
	'and the call');

--
-- okra_refund: partial, then the rest
--
SET LOCAL ROLE okra_ledger_app;
SELECT refund_id AS rf1, refund_payment_id AS rp1 FROM okra_refund('64a000000000000000000001', 2500, 'damaged') \gset
SELECT refund_id AS rf2, refund_payment_id AS rp2 FROM okra_refund('64a000000000000000000001') \gset
RESET ROLE;
SELECT is((SELECT row(payment_id, amount, currency, reason, status, refund_payment_id, refund_payment_status, requested_by::text COLLATE "default")
           FROM okra_refunds WHERE refund_id = :'rf1'),
	row('64a000000000000000000001'::text, 2500::bigint, 'NGN'::text, 'damaged'::text, 'initiated'::text,
	    :'rp1'::text, 'initialize'::text, 'okra_ledger_app'::text),
	'okra_refund writes okra_refunds, with who asked');
SELECT ok((SELECT initiated_at IS NOT NULL AND succeeded_at IS NULL AND failed_at IS NULL FROM okra_refunds WHERE refund_id = :'rf1'),
	'initiated, neither succeeded nor failed yet');
SELECT is((SELECT amount FROM okra_refunds WHERE refund_id = :'rf2'), 7500::bigint, 'the rest: 7500');
SELECT is((SELECT refunded_amount FROM okra_payments WHERE payment_id = '64a000000000000000000001'), 10000::bigint,
	'okra_payments.refunded_amount adds them up');
SELECT set_eq($$SELECT object_id, old_status, new_status, outcome, amount FROM okra_status_changes WHERE object_type = 'refund'$$,
	format($$VALUES (%L, NULL, 'initiated', 'issued', 2500::bigint), (%L, NULL, 'initiated', 'issued', 7500::bigint)$$, :'rf1', :'rf2'),
	'each refund starts with a status change: issued');
SELECT is((SELECT count(*)::int FROM okra_api_calls WHERE endpoint = 'pay/refund'), 2, 'two refund calls recorded');
SELECT is((SELECT request FROM okra_api_calls WHERE endpoint = 'pay/refund' ORDER BY call_id LIMIT 1),
	'{"payment_id": "64a000000000000000000001", "amount": 2500, "reason": "damaged"}'::jsonb,
	'the request body as sent');

-- the refund payment moves the refund on: completed, and failed
\set out `ctl POST refunds/:rf1 '{"status": "completed"}'`
\set out `ctl POST refunds/:rf2 '{"status": "failed"}'`
SELECT okra_verify(:'rp1') \g /dev/null
SELECT okra_verify(:'rp2') \g /dev/null
SELECT is((SELECT row(status, refund_payment_status, succeeded_at IS NOT NULL, failed_at IS NULL) FROM okra_refunds WHERE refund_id = :'rf1'),
	row('completed'::text, 'success'::text, true, true), 'verifying a succeeded refund payment completes the refund');
SELECT is((SELECT row(status, refund_payment_status, succeeded_at IS NULL, failed_at IS NOT NULL) FROM okra_refunds WHERE refund_id = :'rf2'),
	row('failed'::text, 'failed'::text, true, true), 'verifying a failed refund payment fails the refund');
SELECT is((SELECT refunded_amount FROM okra_payments WHERE payment_id = '64a000000000000000000001'), 2500::bigint,
	'a failed refund no longer counts as refunded');
SELECT is((SELECT count(*)::int FROM okra_payments WHERE payment_id IN (:'rp1', :'rp2')), 0,
	'refund payments are not counted as payments');
SELECT set_eq(format($$SELECT object_id, old_status, new_status, outcome FROM okra_status_changes
                       WHERE object_type = 'refund' AND old_status IS NOT NULL$$),
	format($$VALUES (%L, 'initiated', 'completed', 'completed'), (%L, 'initiated', 'failed', 'failed')$$, :'rf1', :'rf2'),
	'and each change of a refund is recorded');

--
-- the local guard: refused with Okra's SQLSTATE, nothing sent
--
SELECT okra_verify('64a000000000000000000002') \g /dev/null
SELECT okra_refund('64a000000000000000000002') \g /dev/null
\set before `ctl GET counters`
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000002')$$, 'OK001',
	'payment "64a000000000000000000002" is already refunded in full', 'a refund of a fully refunded payment: OK001');
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000002', 1)$$, 'OK001', NULL, 'any amount: OK001');
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000001', 7501)$$, 'OK002',
	'refund of 7501 kobo exceeds the 7500 kobo that remain of payment "64a000000000000000000001"',
	'more than remains: OK002');
\set after `ctl GET counters`
SELECT is(:'after'::jsonb -> 'requests', :'before'::jsonb -> 'requests', 'the guard sent nothing');
SELECT is((pg_temp.err($$SELECT okra_refund('64a000000000000000000002')$$)).detail,
	'The ledger records 25000 of 25000 kobo refunded or queued. Nothing was sent to Okra.', 'the detail says why, and that nothing was sent');
-- what remains is still refundable, exactly
SELECT is((okra_refund('64a000000000000000000001', 7500)).amount, 7500::bigint, 'exactly what remains is refunded');
-- an amount the ledger does not know is Okra's to check
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000006', 1000000)$$, 'OK002',
	'You cannot intiate a refund for an amount greater than the initial payment.',
	'a payment never verified: Okra refuses, not the ledger');
-- a full refund of a payment never verified tells the ledger its amount
SELECT okra_refund('64a000000000000000000003') \g /dev/null
SELECT is((SELECT row(amount, refunded_amount, status, next_check_at IS NOT NULL) FROM okra_payments WHERE payment_id = '64a000000000000000000003'),
	row(50000::bigint, 50000::bigint, NULL::text, true), 'a full refund of an unverified payment records its amount, and the payment is due a check');
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000003')$$, 'OK001', NULL, 'so a second is refused locally');

--
-- okra_request
--
SET LOCAL ROLE okra_ledger_app;
SELECT okra_request('pay/list', '{"page": 1}') \g /dev/null
SELECT okra_request('pay/get/id', '{"payment_id": "64a000000000000000000015"}')
	#>> '{data,payment,id}' AS initiated \gset
RESET ROLE;
SELECT is((SELECT row(endpoint, payment_id, http_status, request) FROM okra_api_calls WHERE endpoint = 'pay/list'),
	row('pay/list'::text, NULL::text, 200, '{"page": 1}'::jsonb), 'okra_request writes okra_api_calls');
SELECT is((SELECT row(payment_id, http_status, response #>> '{data,payment,status}') FROM okra_api_calls
            WHERE endpoint = 'pay/get/id'),
	row(:'initiated'::text, 200, 'initiated'::text),
	'okra_request(''pay/get/id'') writes okra_api_calls with its payment (okra_get_payment records the payment itself)');
SELECT throws_ok($$SELECT okra_request('pay/refund', '{"payment_id": "64a000000000000000000005"}')$$, '22023',
	'okra_request cannot send refunds', 'refunds go through okra_refund only');
SELECT throws_ok($$SELECT okra_request('sandbox/Pay/Refund', '{}')$$, '22023', NULL, 'under any prefix or case');

--
-- okra_track: a payment made elsewhere, due a check; nothing sent
--
GRANT EXECUTE ON FUNCTION okra_track(text) TO okra_ledger_app;
\set before `ctl GET counters`
SET LOCAL ROLE okra_ledger_app;
SELECT is(okra_track('64A00000000000000000000D'), true, 'okra_track registers a new payment (upper case accepted)');
SELECT is(okra_track('64a00000000000000000000d'), false, 'and says so when it knew it already');
SELECT is(okra_track('64a000000000000000000001'), false, 'a payment already seen is left as it is');
SELECT throws_ok($$SELECT okra_track('nope')$$, '22023', 'invalid payment_id: "nope"', 'a bad id: 22023');
RESET ROLE;
\set after `ctl GET counters`
SELECT is(:'after'::jsonb -> 'requests', :'before'::jsonb -> 'requests', 'okra_track sends nothing');
SELECT is((SELECT row(status, amount, terminal, next_check_at <= now(), check_count) FROM okra_payments
           WHERE payment_id = '64a00000000000000000000d'),
	row(NULL::text, NULL::bigint, false, true, 0), 'the tracked payment is pending a check now, with nothing else known');

--
-- errors and rollbacks take the rows with them
--
SELECT count(*) AS calls_before FROM okra_api_calls \gset
SELECT throws_ok($$SELECT okra_verify('64a0000000000000000000ff')$$, 'OK006', NULL, 'a failed verify');
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000012')$$, 'OK003', NULL, 'a failed refund');
SAVEPOINT s;
SELECT okra_verify('64a00000000000000000000b') \g /dev/null
ROLLBACK TO SAVEPOINT s;
SELECT is((SELECT count(*) FROM okra_api_calls), :'calls_before'::bigint, 'errors and a rollback leave no call behind');
SELECT is((SELECT count(*)::int FROM okra_payments WHERE payment_id IN ('64a0000000000000000000ff', '64a000000000000000000012', '64a00000000000000000000b')),
	0, 'nor any payment');

--
-- privileges
--
SET LOCAL ROLE okra_ledger_app;
SELECT throws_ok($$SELECT * FROM okra_payments$$, '42501', NULL, 'the application role cannot read okra_payments');
SELECT throws_ok($$SELECT * FROM okra_api_calls$$, '42501', NULL, 'nor okra_api_calls');
SELECT throws_ok($$SELECT * FROM okra_daily_summary$$, '42501', NULL, 'nor the reports');
SELECT throws_ok($$INSERT INTO okra_refunds (refund_id, payment_id, initiated_at, requested_by) VALUES ('x', 'y', now(), 'z')$$,
	'42501', NULL, 'nor write okra_refunds');
SELECT throws_ok($$UPDATE okra_payments SET refunded_amount = 0$$, '42501', NULL, 'nor okra_payments');
SELECT throws_ok($$SELECT okra_ledger_guard_refund('64a000000000000000000004', NULL)$$, '42501', NULL,
	'nor call the internal functions');
SELECT throws_ok(format($$SELECT %I.okra_ledger_record('pay/verify', '{}', 200, now(), now(), 'x', NULL, NULL, false, '{}')$$, :'okra_schema'),
	'42501', NULL, 'okra_ledger_record included');
RESET ROLE;
SET LOCAL ROLE okra_ledger_reader;
SELECT ok((SELECT count(*) FROM okra_payments) > 0 AND (SELECT count(*) FROM okra_refunds) > 0
	AND (SELECT count(*) FROM okra_status_changes) > 0 AND (SELECT count(*) FROM okra_api_calls) > 0,
	'the reader grant reads every table');
SELECT lives_ok($$SELECT * FROM okra_daily_summary, okra_refundable, okra_pending, okra_call_stats$$, 'and every report');
SELECT throws_ok($$DELETE FROM okra_api_calls$$, '42501', NULL, 'but writes nothing');
RESET ROLE;

--
-- pruning
--
UPDATE okra_api_calls SET called_at = now() - interval '100 days' WHERE endpoint = 'pay/list';
SELECT is(okra_prune_api_calls(), 1::bigint, 'okra_prune_api_calls() deletes calls older than 90 days');
SELECT is((SELECT count(*)::int FROM okra_api_calls WHERE endpoint = 'pay/list'), 0, 'that one is gone');
SELECT is(okra_prune_api_calls(), 0::bigint, 'a second prune finds nothing to delete');
SELECT ok((SELECT count(*) FROM okra_api_calls) > 0, 'and the recent calls stay');

SELECT * FROM finish();
ROLLBACK;
