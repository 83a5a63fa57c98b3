-- The outbox, the parts that run inside a transaction: the after-commit
-- functions' checks and the payment lock they share with okra_refund, the
-- state machine (okra_outbox_claim and okra_outbox_finish, driven by hand),
-- okra_outbox_resolve, the status view and the health function.  Sending
-- after commit: test/scripts/outbox.sh and outbox-worker.sh.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(27);
TRUNCATE okra_payments, okra_refunds, okra_status_changes, okra_api_calls, okra_outbox_requests;

-- checked before anything is queued
SELECT is((pg_temp.err($$SELECT okra_refund_after_commit('bad')$$)).state, '22023', 'a bad payment_id: 22023');
SELECT is((pg_temp.err($$SELECT okra_refund_after_commit('64a000000000000000000001', 0)$$)).state, '22023', 'amount 0: 22023');
SELECT is((pg_temp.err($$SELECT okra_refund_after_commit('64a000000000000000000001', 5, NULL, 'nope')$$)).state, '22023', 'a bad account: 22023');
SELECT is((pg_temp.err($$SELECT okra_cancel_after_commit(NULL)$$)).state, '22023', 'a NULL payment_id: 22023');
SELECT is_empty('SELECT 1 FROM okra_outbox_requests', 'nothing queued by the refused calls');

-- queued, not sent, and counted by the guard (okra_refund's too)
SELECT okra_verify('64a000000000000000000001') \g /dev/null
SELECT okra_refund_after_commit('64a000000000000000000001', 6000, 'first') AS r1 \gset
SELECT is((SELECT row(kind, payment_id, amount, state, attempts, created_by::text)
             FROM okra_outbox_requests WHERE request_id = :r1),
	row('refund'::text, '64a000000000000000000001'::text, 6000::bigint, 'queued'::text, 0, current_user::text),
	'a refund is queued in the caller''s transaction');
\set counters `ctl GET counters`
SELECT is(:'counters'::jsonb -> 'refunds', '{}'::jsonb, 'and nothing was sent');
SELECT is((pg_temp.err($$SELECT okra_refund_after_commit('64a000000000000000000001', 5000)$$)).state, 'OK002',
	'a second refund over what remains after the queued one: OK002');
SELECT is((pg_temp.err($$SELECT okra_refund('64a000000000000000000001', 5000)$$)).detail,
	'The ledger records 6000 of 10000 kobo refunded or queued. Nothing was sent to Okra.',
	'okra_refund counts the queued refund too');
SELECT okra_refund_after_commit('64a000000000000000000001') AS r2 \gset
SELECT is((pg_temp.err($$SELECT okra_refund_after_commit('64a000000000000000000001', 1)$$)).state, 'OK001',
	'after a queued refund of whatever remains, any other: OK001');
SELECT okra_cancel_after_commit('64a00000000000000000000c') AS c1 \gset
SELECT is((SELECT kind || ' ' || state FROM okra_outbox_requests WHERE request_id = :c1), 'cancel queued', 'a cancel is queued');

-- the state machine, by hand: claim, then each outcome of an attempt
SELECT is((SELECT array_agg(request_id::int || ' ' || mode || ' ' || attempt ORDER BY request_id)
             FROM unnest(okra_outbox_claim(10, '1 minute'))),
	ARRAY[:r1 || ' send 1', :r2 || ' send 1', :c1 || ' send 1'], 'the claim takes the queued requests to send, attempt 1');
SELECT is((SELECT count(*) FROM okra_outbox_requests WHERE state = 'sending' AND lease_until > now()), 3::bigint,
	'they are sending, under a lease');
SELECT is(cardinality(okra_outbox_claim(10, '1 minute')), 0, 'and no other claim gets them');
SELECT is(okra_outbox_finish(:r1, 2, 'send', NULL, NULL, 200, now(), now(), '{}', NULL, NULL, NULL, 10, false), NULL,
	'an outcome for another attempt is ignored (compare-and-set)');
SELECT is(okra_outbox_finish(:r1, 1, 'send', '08001', 'connect failed', 0, now(), now(), '{}', NULL, NULL, NULL, 10, false),
	'queued', 'a request that surely never reached Okra (08001) is queued again');
SELECT ok((SELECT next_attempt_at > now() FROM okra_outbox_requests WHERE request_id = :r1), 'with a backoff');
SELECT is(okra_outbox_finish(:r2, 1, 'send', 'OK010', 'timeout', 0, now(), now(), '{}', NULL, NULL, NULL, 10, false),
	'unknown', 'no answer (OK010): unknown');
SELECT is(okra_outbox_finish(:c1, 1, 'send', 'OK005', 'not cancellable', 400, now(), now(), '{}', NULL, NULL, NULL, 10, false),
	'failed', 'Okra refused it: failed, never sent again');
UPDATE okra_outbox_requests SET state = 'sending', attempts = 10 WHERE request_id = :r1;
SELECT is(okra_outbox_finish(:r1, 10, 'send', 'OK008', 'too many', 429, now(), now(), '{}', NULL, NULL, NULL, 10, false),
	'failed', 'a 429 on the last allowed attempt: failed');

-- an unknown request is checked (verify), and what Okra shows decides
UPDATE okra_outbox_requests SET next_attempt_at = now() WHERE request_id = :r2;
SELECT is((SELECT mode FROM unnest(okra_outbox_claim(10, '1 minute')) WHERE request_id = :r2), 'check',
	'an unknown request is claimed to be checked');
SELECT is(okra_outbox_finish(:r2, 2, 'check', NULL, NULL, 200, now(), now(), '{}', NULL,
		  okra_verify('64a000000000000000000001'), NULL, 10, false),
	'queued', 'a full refund of a succeeded payment may be sent again: Okra answers a repeat with the first');
SELECT is((SELECT resend FROM okra_outbox_requests WHERE request_id = :r2), true, 'marked as a resend');
INSERT INTO okra_outbox_requests (kind, payment_id, amount, state, attempts, created_by)
VALUES ('refund', '64a000000000000000000001', 100, 'sending', 1, current_user) RETURNING request_id AS r3 \gset
SELECT is(okra_outbox_finish(:r3, 1, 'check', NULL, NULL, 200, now(), now(), '{}', NULL,
		  okra_verify('64a000000000000000000001'), NULL, 10, false),
	'unknown', 'a partial refund cannot be told apart: it stays unknown');
SELECT is((SELECT row(next_attempt_at, last_error LIKE '%okra_outbox_resolve()') FROM okra_outbox_requests WHERE request_id = :r3),
	row(NULL::timestamptz, true), 'with no next attempt, for a person to settle');
SELECT okra_outbox_resolve(:r3, 'failed', 'Okra support: never made') \g /dev/null
SELECT is((SELECT state || ': ' || last_error FROM okra_outbox_requests WHERE request_id = :r3),
	'failed: Okra support: never made', 'okra_outbox_resolve settles it');

-- the view and the health function (which never shows the key)
SELECT is((SELECT need_a_person FROM okra_outbox_health()), 0::bigint, 'okra_outbox_health: no unknown left for a person');
SELECT * FROM finish();
ROLLBACK;
