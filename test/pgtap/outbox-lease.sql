-- The outbox when a claim runs out, and what a check may conclude (issue
-- 11): a request never started goes back to where it came from; an answer
-- that arrives after its claim ran out is applied, never dropped; a check
-- releases a refund's amount only on definite evidence that it did not
-- happen.  Driven by hand, like outbox.sql.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(9);
TRUNCATE okra_payments, okra_refunds, okra_status_changes, okra_api_calls, okra_outbox_requests;

SELECT okra_verify('64a000000000000000000001') \g /dev/null
SELECT okra_verify('64a000000000000000000002') \g /dev/null
SELECT okra_refund_after_commit('64a000000000000000000001', 1000) AS r1 \gset
SELECT okra_refund_after_commit('64a000000000000000000002', 2000) AS r2 \gset
SELECT count(*) FROM unnest(okra_outbox_claim(10, '1 minute')) \g /dev/null

-- never started: back to the queue, its attempt not counted
SELECT okra_outbox_release(:r1, 1, 'send') \g /dev/null
SELECT is((SELECT state || ' ' || attempts FROM okra_outbox_requests WHERE request_id = :r1), 'queued 0',
	'a request its sender never started goes back to the queue, attempt not counted');
SELECT okra_outbox_release(:r1, 1, 'send') \g /dev/null
SELECT is((SELECT state || ' ' || attempts FROM okra_outbox_requests WHERE request_id = :r1), 'queued 0',
	'releasing it again changes nothing (compare-and-set)');

-- the lease ran out: reclaimed as unknown, then the first sender's success arrives
UPDATE okra_outbox_requests SET lease_until = now() - interval '1 s' WHERE request_id = :r2;
SELECT count(*) FROM unnest(okra_outbox_claim(10, '1 minute')) \g /dev/null
SELECT is((SELECT state FROM okra_outbox_requests WHERE request_id = :r2), 'sending',
	'after its lease, another sender took it over (to check it)');
CREATE TEMP TABLE answer AS
SELECT ROW('64b000000000000000000002', '64a000000000000000000002', 2000, 'NGN', 'initiated', NULL, NULL, NULL,
           NULL, 'ok', now(), '{}')::okra_refund AS refund;
SELECT is(okra_outbox_finish(:r2, 1, 'send', NULL, NULL, 200, now(), now(), '{}',
                             (SELECT refund FROM answer), NULL, '{}', 10, false),
	'succeeded', 'the first sender''s late success is applied, not dropped');
SELECT is((SELECT state || ' ' || refund_id FROM okra_outbox_requests WHERE request_id = :r2),
	'succeeded 64b000000000000000000002', 'the request is succeeded, with the refund id');
SELECT is((SELECT amount FROM okra_refunds WHERE refund_id = '64b000000000000000000002'), 2000::bigint,
	'and the ledger has the refund');
SELECT is(okra_outbox_finish(:r2, 2, 'check', NULL, NULL, 200, now(), now(), '{}', NULL,
                             (okra_verify('64a000000000000000000002')), '{}', 10, false),
	NULL, 'the other sender''s check then changes nothing');

-- a check that finds a payment that succeeded now showing another status
SELECT okra_refund_after_commit('64a000000000000000000001', 500) AS r3 \gset
UPDATE okra_outbox_requests SET state = 'unknown', attempts = 1, next_attempt_at = now()
 WHERE request_id IN (:r1, :r3);
SELECT count(*) FROM unnest(okra_outbox_claim(10, '1 minute')) \g /dev/null
CREATE TEMP TABLE refunded AS
SELECT (p).* FROM (SELECT okra_verify('64a000000000000000000001') AS p) AS v;
UPDATE refunded SET status = 'refunded', response_status = 'refunded';
SELECT is(okra_outbox_finish(:r3, 2, 'check', NULL, NULL, 200, now(), now(), '{}', NULL,
                             (SELECT ROW(r.*)::okra_payment FROM refunded r), '{}', 10, false),
	'unknown', 'a succeeded payment now "refunded" proves nothing: the refund stays unknown');
SELECT is((SELECT (next_attempt_at IS NULL) || ' ' || (last_error LIKE '%okra_outbox_resolve%')
             FROM okra_outbox_requests WHERE request_id = :r3),
	'true true', 'for a person to settle, its amount still reserved');

SELECT * FROM finish();
ROLLBACK;
