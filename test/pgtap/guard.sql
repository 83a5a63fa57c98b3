-- The local refund guard and what it shares with the reports (issue 10
-- item 6): a payment the ledger knows ended without succeeding is refused
-- with OK003 and nothing is sent; okra_refundable reserves what the guard
-- reserves (refunds queued, being sent or of unknown outcome); refund_rate
-- on a ledger whose numbers are worked out by hand.
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(22);

\set pf `ctl POST payments '{"status": "failed", "amount": 3000}' | jq -r .payment.id`
\set pc `ctl POST payments '{"status": "pending", "amount": 4000}' | jq -r .payment.id`
\set ps `ctl POST payments '{"status": "success", "amount": 10000}' | jq -r .payment.id`
\set pq `ctl POST payments '{"status": "success", "amount": 6000}' | jq -r .payment.id`

--
-- OK003: a failed or cancelled payment is refused locally
--
SELECT okra_verify(:'pf') \g /dev/null
SELECT okra_cancel(:'pc') \g /dev/null
SELECT is((SELECT string_agg(outcome, ' ' ORDER BY amount) FROM okra_payments WHERE payment_id IN (:'pf', :'pc')),
	'failed cancelled', 'the ledger knows one payment failed and the other was cancelled');
\set before `ctl GET counters`

SELECT is(e.state || ' / ' || e.message || ' / ' || e.detail || ' / ' || e.hint,
	'OK003 / payment "' || :'pf' || '" cannot be refunded: it failed / '
	|| 'The ledger records its final status "failed". Nothing was sent to Okra. / '
	|| 'Okra would answer "You cannot intiate a refund on a payment that is in progress or failed."',
	'a refund of a failed payment: OK003, "Nothing was sent to Okra."')
  FROM pg_temp.err(format('SELECT okra_refund(%L)', :'pf')) AS e;
SELECT is((pg_temp.err(format('SELECT okra_refund(%L, 100)', :'pf'))).state, 'OK003', 'a partial refund of it too');
SELECT is(e.state || ' / ' || e.message || ' / ' || e.detail,
	'OK003 / payment "' || :'pc' || '" cannot be refunded: it was cancelled / '
	|| 'The ledger records its final status "cancelled". Nothing was sent to Okra.',
	'a refund of a cancelled payment: OK003')
  FROM pg_temp.err(format('SELECT okra_refund(%L, 100)', :'pc')) AS e;
SELECT is((pg_temp.err(format('SELECT okra_refund_after_commit(%L)', :'pf'))).state, 'OK003',
	'okra_refund_after_commit refuses it the same way');
SELECT is_empty(format('SELECT 1 FROM okra_outbox_requests WHERE payment_id IN (%L, %L)', :'pf', :'pc'),
	'and queues nothing');
\set after `ctl GET counters`
SELECT is(:'after'::jsonb #> '{requests,/v2/pay/refund}', :'before'::jsonb #> '{requests,/v2/pay/refund}',
	'the sandbox got no refund request');
SELECT is(:'after'::jsonb -> 'refunds', :'before'::jsonb -> 'refunds', 'and executed no refund');

--
-- okra_refundable: what remains is what the guard allows
--
SELECT okra_verify(:'ps') \g /dev/null
SELECT okra_verify(:'pq') \g /dev/null
CREATE FUNCTION pg_temp.refundable(p text) RETURNS text LANGUAGE sql AS $$
	SELECT concat_ws(' ', amount, refunded, reserved, remaining) FROM okra_refundable WHERE payment_id = p $$;
SELECT is(pg_temp.refundable(:'ps'), '10000 0 0 10000', 'a succeeded payment: amount, refunded, reserved, remaining');
SELECT is((SELECT count(*) FROM okra_refundable WHERE payment_id IN (:'pf', :'pc')), 0::bigint,
	'failed and cancelled payments are not refundable');

SELECT okra_refund_after_commit(:'ps', 3000) AS r1 \gset
SELECT is(pg_temp.refundable(:'ps'), '10000 0 3000 7000', 'a queued refund is reserved: it counts against what remains');
SELECT is((pg_temp.err(format('SELECT okra_refund(%L, 7001)', :'ps'))).message,
	'refund of 7001 kobo exceeds the 7000 kobo that remain of payment "' || :'ps' || '"',
	'and the guard says the same 7000 remain');
SELECT okra_refund(:'ps', 2000) \g /dev/null
-- (its outcome is written by the worker just after okra_refund returns;
-- until then the journal has it in flight, which reserves it too)
SELECT okra_journal_flush() \g /dev/null
SELECT is(pg_temp.refundable(:'ps'), '10000 2000 3000 5000', 'a refund made: refunded; the queued one still reserved');
UPDATE okra_outbox_requests SET state = 'sending' WHERE request_id = :r1;
SELECT is(pg_temp.refundable(:'ps'), '10000 2000 3000 5000', 'being sent: reserved');
UPDATE okra_outbox_requests SET state = 'unknown' WHERE request_id = :r1;
SELECT is(pg_temp.refundable(:'ps'), '10000 2000 3000 5000', 'outcome unknown: reserved');
SELECT is((pg_temp.err(format('SELECT okra_refund(%L, 5001)', :'ps'))).state, 'OK002',
	'and the guard refuses more than the 5000 that remain');
UPDATE okra_outbox_requests SET state = 'failed' WHERE request_id = :r1;
SELECT is(pg_temp.refundable(:'ps'), '10000 2000 0 8000', 'failed: no longer reserved');

SELECT okra_refund_after_commit(:'pq') AS r2 \gset
SELECT is(pg_temp.refundable(:'pq'), '6000 0 6000 0', 'a queued refund of whatever remains reserves all of it');
SELECT is((pg_temp.err(format('SELECT okra_refund(%L, 1)', :'pq'))).state, 'OK001', 'and the guard refuses any other');
\set counters `ctl GET counters`
SELECT is(:'counters'::jsonb #> ARRAY['refunds', :'ps', 'amounts'], '[2000]'::jsonb,
	'the sandbox executed only the one refund that was sent');
-- a reader with the README's grant needs nothing more to read it
CREATE ROLE okra_test_guard_reader;
SELECT extnamespace::regnamespace AS nsp FROM pg_extension WHERE extname = 'okra' \gset
GRANT USAGE ON SCHEMA :nsp TO okra_test_guard_reader;
GRANT SELECT ON okra_refundable TO okra_test_guard_reader;
SET ROLE okra_test_guard_reader;
SELECT is(pg_temp.refundable(:'pq'), '6000 0 6000 0', 'a reader granted SELECT on okra_refundable sees the reservations');
RESET ROLE;

--
-- refund_rate = (refund_amount - refund_failed_amount) / succeeded_amount,
-- each of that day and currency
--
TRUNCATE okra_status_changes;
SET LOCAL TimeZone = 'UTC';
INSERT INTO okra_status_changes (object_type, object_id, payment_id, old_status, new_status, outcome, amount, currency, changed_at) VALUES
	-- 1 Feb: 15000 + 5000 succeeded, a refund of 5000 issued, an earlier
	-- one of 1000 failed: (5000 - 1000) / 20000 = 0.2; net 16000
	('payment', 'aaaaaaaaaaaaaaaaaaaaaaaa', 'aaaaaaaaaaaaaaaaaaaaaaaa', NULL, 'success', 'succeeded', 15000, 'NGN', '2026-02-01 09:00Z'),
	('payment', 'bbbbbbbbbbbbbbbbbbbbbbbb', 'bbbbbbbbbbbbbbbbbbbbbbbb', NULL, 'success', 'succeeded', 5000, 'NGN', '2026-02-01 10:00Z'),
	('refund', 'r1', 'aaaaaaaaaaaaaaaaaaaaaaaa', NULL, 'initiated', 'issued', 5000, 'NGN', '2026-02-01 11:00Z'),
	('refund', 'r0', 'cccccccccccccccccccccccc', 'initiated', 'failed', 'failed', 1000, 'NGN', '2026-02-01 12:00Z'),
	-- a payment that failed counts nowhere in the rate
	('payment', 'dddddddddddddddddddddddd', 'dddddddddddddddddddddddd', NULL, 'failed', 'failed', 9000, 'NGN', '2026-02-01 13:00Z'),
	-- 2 Feb: 1000 succeeded, a refund of 3000 (of an older payment)
	-- issued: 3000 / 1000 = 3; net -2000
	('payment', 'eeeeeeeeeeeeeeeeeeeeeeee', 'eeeeeeeeeeeeeeeeeeeeeeee', NULL, 'success', 'succeeded', 1000, 'NGN', '2026-02-02 09:00Z'),
	('refund', 'r2', 'bbbbbbbbbbbbbbbbbbbbbbbb', NULL, 'initiated', 'issued', 3000, 'NGN', '2026-02-02 10:00Z'),
	-- 3 Feb: nothing succeeded, a refund of 500 failed: NULL; net 500
	('refund', 'r2', 'bbbbbbbbbbbbbbbbbbbbbbbb', 'initiated', 'failed', 'failed', 500, 'NGN', '2026-02-03 10:00Z'),
	-- 3 Feb USD: 700 succeeded, no refund: 0
	('payment', '111111111111111111111111', '111111111111111111111111', NULL, 'success', 'succeeded', 700, 'USD', '2026-02-03 09:00Z');
SELECT set_eq($$SELECT day, currency, succeeded_amount, refund_amount, refund_failed_amount, net_amount, refund_rate
                  FROM okra_daily_summary$$,
	$$VALUES ('2026-02-01'::date, 'NGN', 20000::numeric, 5000::numeric, 1000::numeric, 16000::numeric, 0.2000::numeric),
	         ('2026-02-02', 'NGN', 1000, 3000, 0, -2000, 3.0000),
	         ('2026-02-03', 'NGN', 0, 0, 500, 500, NULL),
	         ('2026-02-03', 'USD', 700, 0, 0, 700, 0.0000)$$,
	'refund_rate: refunds issued minus refunds failed, over payments succeeded, per day and currency');

SELECT * FROM finish();
ROLLBACK;
