-- Scheduled verification, the parts that run inside a transaction: the
-- documented backoff (okra_next_check), what a verify does to the next
-- check, and the claim (due only, most overdue first, stale marking).
-- The procedure itself commits: test/scripts/verify-pending.sh and cron.sh.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(18);
TRUNCATE okra_payments, okra_refunds, okra_status_changes, okra_api_calls, okra_verification_runs;

-- the backoff, as README "Scheduled verification" writes it down
SELECT is(okra_next_check('2026-01-01 12:00', '2026-01-01 12:00') - '2026-01-01 12:00'::timestamptz,
	interval '1 minute', 'just changed: the next check in 1 minute');
SELECT is(okra_next_check('2026-01-01 12:00', '2026-01-01 11:50') - '2026-01-01 12:00'::timestamptz,
	interval '5 minutes', '10 minutes in its status: in 5 minutes (half)');
SELECT is(okra_next_check('2026-01-01 12:00', '2026-01-01 07:00') - '2026-01-01 12:00'::timestamptz,
	interval '1 hour', '5 hours in its status: at most 1 hour');
SELECT is(array_agg(okra_next_check('2026-01-01 12:00', NULL, n) - '2026-01-01 12:00'::timestamptz ORDER BY n),
	ARRAY[interval '1 minute', '2 minutes', '4 minutes', '8 minutes', '16 minutes', '32 minutes', '1 hour', '1 hour'],
	'after n failed checks: 2^(n-1) minutes, at most 1 hour')
  FROM generate_series(1, 8) AS n;

-- a verify that finds the same status backs off by the time in it
SELECT okra_verify('64a00000000000000000000a') \g /dev/null
SELECT is((SELECT next_check_at - last_checked_at FROM okra_payments WHERE payment_id = '64a00000000000000000000a'),
	interval '1 minute', 'first seen pending: next check in 1 minute');
UPDATE okra_payments SET status_changed_at = now() - interval '30 minutes'
 WHERE payment_id = '64a00000000000000000000a';
SELECT okra_verify('64a00000000000000000000a') \g /dev/null
SELECT ok((SELECT next_check_at - last_checked_at BETWEEN interval '14 minutes 59 s' AND interval '15 minutes 1 s'
             FROM okra_payments WHERE payment_id = '64a00000000000000000000a'),
	'pending for 30 minutes: next check in 15 minutes');
UPDATE okra_payments SET failed_checks = 3, last_error = 'OK010: earlier'
 WHERE payment_id = '64a00000000000000000000a';
SELECT okra_verify('64a00000000000000000000a') \g /dev/null
SELECT is((SELECT row(failed_checks, last_error) FROM okra_payments WHERE payment_id = '64a00000000000000000000a'),
	row(0, NULL::text), 'an answered check clears the failures and the error');
-- a stale payment checked by hand stays out of scheduled checks
UPDATE okra_payments SET stale_at = now() WHERE payment_id = '64a00000000000000000000a';
SELECT okra_verify('64a00000000000000000000a') \g /dev/null
SELECT is((SELECT next_check_at FROM okra_payments WHERE payment_id = '64a00000000000000000000a'), NULL,
	'a stale payment verified by hand gets no next check');

-- the claim: due payments only, most overdue first, at most n
TRUNCATE okra_payments;
SELECT okra_track(id) FROM unnest(array['64a00000000000000000000a', '64a00000000000000000000b',
	'64a00000000000000000000c', '64a00000000000000000000d']) AS id \g /dev/null
UPDATE okra_payments SET next_check_at = now() - interval '5 minutes' WHERE payment_id = '64a00000000000000000000b';
UPDATE okra_payments SET next_check_at = now() + interval '5 minutes' WHERE payment_id = '64a00000000000000000000c';
UPDATE okra_payments SET next_check_at = NULL WHERE payment_id = '64a00000000000000000000d';
SELECT run_id FROM okra_verify_run_begin(10, 1, current_user) \gset
SELECT is(okra_verify_claim(:run_id, 10, '2 days', '3 minutes'), ARRAY['64a00000000000000000000b', '64a00000000000000000000a'],
	'the claim takes the due payments, most overdue first, not those due later or never');
SELECT is((SELECT count(*) FROM okra_payments WHERE next_check_at = now() + interval '3 minutes'), 2::bigint,
	'and holds them under its lease (next check pushed out; committed before anything is sent, no row lock kept)');
SELECT is(okra_verify_claim(:run_id, 10, '2 days', '3 minutes'), '{}'::text[], 'so another run does not take them');
UPDATE okra_payments SET next_check_at = now() - interval '5 minutes' WHERE payment_id = '64a00000000000000000000b';
UPDATE okra_payments SET next_check_at = now() WHERE payment_id = '64a00000000000000000000a';
SELECT is(okra_verify_claim(:run_id, 1, '2 days', '0'), ARRAY['64a00000000000000000000b'], 'and at most n of them');
INSERT INTO okra_payments (payment_id, status, terminal, next_check_at)
VALUES ('64a000000000000000000001', 'success', true, now() - interval '1 hour');
SELECT ok(NOT '64a000000000000000000001' = ANY (okra_verify_claim(:run_id, 10, '2 days', '0')),
	'a final payment is never claimed');
-- stale: due and first seen longer ago than stale_after
UPDATE okra_payments SET first_seen_at = now() - interval '3 days' WHERE payment_id = '64a00000000000000000000a';
SELECT is(okra_verify_claim(:run_id, 10, '2 days', '0'), ARRAY['64a00000000000000000000b'],
	'a payment older than stale_after is not claimed');
SELECT is((SELECT row(stale_at IS NOT NULL, next_check_at) FROM okra_pending WHERE payment_id = '64a00000000000000000000a'),
	row(true, NULL::timestamptz), 'but marked stale in okra_pending, with no next check');
SELECT is((SELECT stale FROM okra_verification_runs WHERE run_id = :run_id), 1, 'and counted in its run');
UPDATE okra_payments SET first_seen_at = now() - interval '3 days', stale_at = NULL, next_check_at = now()
 WHERE payment_id = '64a00000000000000000000a';
SELECT ok('64a00000000000000000000a' = ANY (okra_verify_claim(:run_id, 10, '0', '0')), 'stale_after 0: never stale');

-- a 429 seen by a run pauses the next ones
SELECT okra_verify_run_progress(:run_id, 0, 0, 0, 1, true) \g /dev/null
SELECT ok((SELECT paused_until > now() + interval '55 s' FROM okra_verify_run_begin(10, 1, current_user)),
	'after a 429 the next run begins paused for the 60-second window');

SELECT * FROM finish();
ROLLBACK;
