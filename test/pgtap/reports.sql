-- The reports, against a hand-made ledger whose answers were worked out by
-- hand (the comments show the sums).  No Okra call is made.
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
SELECT plan(14);
TRUNCATE okra_payments, okra_refunds, okra_status_changes, okra_api_calls;
SET LOCAL TimeZone = 'UTC';

-- payments a..g; refunds r1 (of a, failed later) and r2 (of b, completed)
INSERT INTO okra_payments (payment_id, status, response_status, amount, currency, refunded_amount, first_seen_at, last_checked_at, next_check_at, terminal, outcome)
SELECT *, okra_status_is_terminal(status), okra_payment_outcome(status, response_status) FROM (VALUES
	('aaaaaaaaaaaaaaaaaaaaaaaa', 'success', 'success', 10000, 'NGN', 0, '2026-01-01 09:00Z', '2026-01-01 09:00Z', NULL),
	('bbbbbbbbbbbbbbbbbbbbbbbb', 'success', 'success', 5000, 'NGN', 5000, '2026-01-01 10:00Z', '2026-01-01 10:00Z', NULL),
	('cccccccccccccccccccccccc', 'failed', 'failed', 3000, 'NGN', 0, '2026-01-01 11:00Z', '2026-01-01 11:00Z', NULL),
	('dddddddddddddddddddddddd', 'cancelled', 'cancelled', 2000, 'NGN', 0, '2026-01-01 12:00Z', '2026-01-01 12:00Z', NULL),
	('eeeeeeeeeeeeeeeeeeeeeeee', 'pending', 'pending', 4000, 'NGN', 0, now() - interval '2 hours', now() - interval '5 minutes', now() + interval '1 minute'),
	('ffffffffffffffffffffffff', 'completed', 'success', 20000, 'NGN', 0, '2026-01-02 08:00Z', '2026-01-02 08:00Z', NULL),
	('111111111111111111111111', 'success', 'success', 700, 'USD', 0, '2026-01-02 09:00Z', '2026-01-02 09:00Z', NULL),
	('222222222222222222222222', NULL, NULL, NULL::bigint, NULL, 0, now() - interval '1 hour', NULL::timestamptz, now())) AS v (payment_id, status, response_status, amount, currency, refunded_amount, first_seen_at, last_checked_at, next_check_at);
INSERT INTO okra_status_changes (object_type, object_id, payment_id, old_status, new_status, outcome, amount, currency, changed_at) VALUES
	('payment', 'aaaaaaaaaaaaaaaaaaaaaaaa', 'aaaaaaaaaaaaaaaaaaaaaaaa', NULL, 'pending', NULL, 10000, 'NGN', '2026-01-01 08:00Z'),
	('payment', 'aaaaaaaaaaaaaaaaaaaaaaaa', 'aaaaaaaaaaaaaaaaaaaaaaaa', 'pending', 'success', 'succeeded', 10000, 'NGN', '2026-01-01 09:00Z'),
	('payment', 'bbbbbbbbbbbbbbbbbbbbbbbb', 'bbbbbbbbbbbbbbbbbbbbbbbb', NULL, 'success', 'succeeded', 5000, 'NGN', '2026-01-01 23:59Z'),
	('payment', 'cccccccccccccccccccccccc', 'cccccccccccccccccccccccc', NULL, 'failed', 'failed', 3000, 'NGN', '2026-01-01 11:00Z'),
	('payment', 'dddddddddddddddddddddddd', 'dddddddddddddddddddddddd', NULL, 'cancelled', 'cancelled', 2000, 'NGN', '2026-01-01 12:00Z'),
	('payment', 'eeeeeeeeeeeeeeeeeeeeeeee', 'eeeeeeeeeeeeeeeeeeeeeeee', NULL, 'pending', NULL, 4000, 'NGN', '2026-01-01 13:00Z'),
	('refund', 'r1', 'aaaaaaaaaaaaaaaaaaaaaaaa', NULL, 'initiated', 'issued', 1000, 'NGN', '2026-01-01 14:00Z'),
	('refund', 'r1', 'aaaaaaaaaaaaaaaaaaaaaaaa', 'initiated', 'failed', 'failed', 1000, 'NGN', '2026-01-02 10:00Z'),
	('refund', 'r2', 'bbbbbbbbbbbbbbbbbbbbbbbb', NULL, 'initiated', 'issued', 5000, 'NGN', '2026-01-02 00:00Z'),
	('refund', 'r2', 'bbbbbbbbbbbbbbbbbbbbbbbb', 'initiated', 'completed', 'completed', 5000, 'NGN', '2026-01-02 11:00Z'),
	('payment', 'ffffffffffffffffffffffff', 'ffffffffffffffffffffffff', NULL, 'completed', 'succeeded', 20000, 'NGN', '2026-01-02 08:00Z'),
	('payment', '111111111111111111111111', '111111111111111111111111', NULL, 'success', 'succeeded', 700, 'USD', '2026-01-02 09:00Z');

-- 2026-01-01 NGN: succeeded a+b = 2, 15000; failed c 3000; cancelled d 2000;
--   refunds r1 1000; net 15000 - 1000 = 14000; rate 1000/15000 = 0.0667
-- 2026-01-02 NGN: succeeded f 20000; refunds r2 5000; r1 failed 1000 comes
--   back; net 20000 - 5000 + 1000 = 16000; rate (5000 - 1000)/20000 = 0.2
-- 2026-01-02 USD: succeeded 700; net 700; rate 0
SELECT set_eq($$SELECT day, currency, succeeded_count, succeeded_amount, failed_count, failed_amount,
                      cancelled_count, cancelled_amount, refund_count, refund_amount, refund_failed_amount,
                      net_amount, refund_rate FROM okra_daily_summary$$,
	$$VALUES ('2026-01-01'::date, 'NGN', 2::bigint, 15000::numeric, 1::bigint, 3000::numeric, 1::bigint, 2000::numeric,
	          1::bigint, 1000::numeric, 0::numeric, 14000::numeric, 0.0667::numeric),
	         ('2026-01-02', 'NGN', 1, 20000, 0, 0, 0, 0, 1, 5000, 1000, 16000, 0.2000),
	         ('2026-01-02', 'USD', 1, 700, 0, 0, 0, 0, 0, 0, 0, 700, 0.0000)$$,
	'okra_daily_summary: per day and currency, as worked out by hand');
SELECT set_eq($$SELECT day, currency, net_amount FROM okra_daily_summary('2026-01-02', '2026-01-02')$$,
	$$VALUES ('2026-01-02'::date, 'NGN', 16000::numeric), ('2026-01-02', 'USD', 700)$$,
	'okra_daily_summary(since, until): only those days');
SELECT set_eq($$SELECT day FROM okra_daily_summary(NULL, '2026-01-01')$$, $$VALUES ('2026-01-01'::date)$$,
	'a NULL bound is open-ended');
SET LOCAL TimeZone = 'Africa/Lagos';
SELECT is((SELECT succeeded_count FROM okra_daily_summary WHERE day = '2026-01-02' AND currency = 'NGN'), 2::bigint,
	'days follow the session time zone: b (23:59 UTC) is 2 January in Lagos');
SET LOCAL TimeZone = 'UTC';

-- refundable: the succeeded payments with an amount
SELECT set_eq($$SELECT payment_id, currency, amount, refunded, remaining FROM okra_refundable$$,
	$$VALUES ('aaaaaaaaaaaaaaaaaaaaaaaa', 'NGN', 10000::bigint, 0::bigint, 10000::bigint),
	         ('bbbbbbbbbbbbbbbbbbbbbbbb', 'NGN', 5000, 5000, 0),
	         ('ffffffffffffffffffffffff', 'NGN', 20000, 0, 20000),
	         ('111111111111111111111111', 'USD', 700, 0, 700)$$,
	'okra_refundable: succeeded payments, refunded and remaining');

-- pending: e, and 2222 that a refund made known (status not yet verified)
SELECT set_eq($$SELECT payment_id, status, age, since_last_check FROM okra_pending$$,
	$$VALUES ('eeeeeeeeeeeeeeeeeeeeeeee', 'pending', interval '2 hours', interval '5 minutes'),
	         ('222222222222222222222222', NULL, interval '1 hour', NULL)$$,
	'okra_pending: payments not final, with age and time since the last check');

-- call stats: pay/verify takes 1..100 ms (5 OK006, 2 OK010), pay/refund
-- 10, 20 .. 100 ms; both in the current hour.  A call 25 hours old is out.
INSERT INTO okra_api_calls (called_at, endpoint, http_status, sqlstate, duration_ms, role)
SELECT date_trunc('hour', now()), 'pay/verify', 200,
	   CASE WHEN i <= 5 THEN 'OK006' WHEN i <= 7 THEN 'OK010' END, i, 'app'
  FROM generate_series(1, 100) i;
INSERT INTO okra_api_calls (called_at, endpoint, http_status, duration_ms, role)
SELECT date_trunc('hour', now()), 'pay/refund', 200, 10 * i, 'app' FROM generate_series(1, 10) i;
INSERT INTO okra_api_calls (called_at, endpoint, http_status, duration_ms, role)
VALUES (now() - interval '25 hours', 'pay/verify', 200, 5000, 'app');
-- p50 of 1..100 = 50.5; p95 = 1 + 0.95 * 99 = 95.05.  Of 10..100: p50 = 55,
-- p95 = 90 + 0.55 * 10 = 95.5
SELECT set_eq($$SELECT hour, endpoint, calls, errors, errors_by_sqlstate, p50_ms, p95_ms, max_ms FROM okra_call_stats$$,
	$$VALUES (date_trunc('hour', now()), 'pay/verify', 100::bigint, 7::bigint, '{"OK006": 5, "OK010": 2}'::jsonb,
	          50.500::numeric, 95.050::numeric, 100.000::numeric),
	         (date_trunc('hour', now()), 'pay/refund', 10, 0, NULL, 55.000, 95.500, 100.000)$$,
	'okra_call_stats: calls, errors by SQLSTATE, p50/p95/max per endpoint and hour, last 24 hours only');

-- the indexes the reports and scheduled checks rely on
SELECT has_index('okra_payments', 'okra_payments_due_idx', 'okra_payments: due checks of payments not final');
SELECT has_index('okra_refunds', 'okra_refunds_payment_idx', 'okra_refunds: by payment');
SELECT has_index('okra_status_changes', 'okra_status_changes_outcome_idx', 'okra_status_changes: outcomes by time');
SELECT has_index('okra_status_changes', 'okra_status_changes_object_idx', 'okra_status_changes: by object');
SELECT has_index('okra_api_calls', 'okra_api_calls_called_at_idx', 'okra_api_calls: by time');
SELECT has_index('okra_api_calls', 'okra_api_calls_payment_idx', 'okra_api_calls: by payment');
-- pg_dump keeps the ledger (test/scripts/dump-restore.sh dumps and restores it)
SELECT set_eq($$SELECT c.relname::text FROM pg_extension e, unnest(e.extconfig) AS t(oid) JOIN pg_class c ON c.oid = t.oid
                WHERE e.extname = 'okra'$$,
	$$VALUES ('okra_payments'), ('okra_refunds'), ('okra_status_changes'), ('okra_api_calls'),
	         ('okra_verification_runs'), ('okra_outbox_requests'), ('okra_journal'),
	         ('okra_initiations'), ('okra_payouts'), ('okra_payment_links'), ('okra_authorizations'),
	         ('okra_bulk_files'), ('okra_bulk_file_rows'), ('okra_webhook_events'), ('okra_webhook_events_event_id_seq'),
	         ('okra_status_changes_change_id_seq'), ('okra_api_calls_call_id_seq'),
	         ('okra_verification_runs_run_id_seq'), ('okra_outbox_requests_request_id_seq'),
	         ('okra_journal_journal_id_seq')$$,
	'the fourteen tables and their sequences are extension configuration (pg_dump dumps their rows)');

SELECT * FROM finish();
ROLLBACK;
