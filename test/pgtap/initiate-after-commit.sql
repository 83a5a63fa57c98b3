-- okra_initiate_payment_after_commit (and okra_payout_after_commit), the
-- parts inside a transaction: its
-- checks are okra_initiate_payment's, and a reference is shared with it:
-- okra_initiate_payment meets each state of a queued request, and the
-- after-commit call meets a payment okra_initiate_payment made.  Sending
-- after commit: test/scripts/outbox-initiate.sh.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(21);

\set acct 64d0000000000000000000a1

-- the same checks, the same messages, nothing queued
SELECT is((SELECT row(state, message) FROM pg_temp.err($$SELECT okra_initiate_payment_after_commit(NULL, 100)$$)),
	row('22023'::text, 'account_to_debit must not be null'::text), 'a NULL account: okra_initiate_payment''s message');
SELECT is((SELECT row(state, message) FROM pg_temp.err($$SELECT okra_initiate_payment_after_commit('64d0000000000000000000a1', 100, 'USD')$$)),
	row('22023'::text, 'invalid currency: "USD"'::text), 'another currency');
SELECT is((SELECT row(state, message) FROM pg_temp.err($$SELECT okra_initiate_payment_after_commit('64d0000000000000000000a1', 100, schedule_interval => 'hourly')$$)),
	row('22023'::text, 'invalid schedule_interval: "hourly"'::text), 'a bad schedule');
SELECT is_empty('SELECT 1 FROM okra_outbox_requests', 'nothing queued by the refused calls');

-- queued: the request, its body as okra_initiate_payment would send it
\set c0 `ctl GET counters`
SELECT okra_initiate_payment_after_commit(:'acct', 2500, reference => 'order-9',
	schedule_interval => 'monthly', start_date => '2027-01-01') AS r \gset
SELECT is((SELECT row(kind, payment_id, amount, reference, state, body) FROM okra_outbox_requests WHERE request_id = :r),
	row('initiate'::text, NULL::text, 2500::bigint, 'order-9'::text, 'queued'::text,
		'{"account_to_debit": "64d0000000000000000000a1", "amount": 2500, "currency": "NGN", "type": "recurring", "schedule": {"interval": "monthly", "startDate": "2027-01-01"}}'::jsonb),
	'queued with okra_initiate_payment''s request body and the reference');
SELECT is(okra_initiate_payment_after_commit(:'acct', 1, reference => 'order-9'), :r::bigint,
	'the reference again: the same request');

-- okra_initiate_payment meets it in each state, and sends nothing
SELECT is((SELECT row(state, message, hint) FROM pg_temp.err($$SELECT okra_initiate_payment('64d0000000000000000000a1', 2500, reference => 'order-9')$$)),
	row('55000'::text, 'reference "order-9" is queued to be sent after commit'::text,
		format('Wait for it with okra_outbox_wait(%s), then call again to read its payment.', :r)),
	'queued: okra_initiate_payment refuses (55000) and says what to wait for');
UPDATE okra_outbox_requests SET state = 'unknown' WHERE request_id = :r;
SELECT is((SELECT row(state, hint) FROM pg_temp.err($$SELECT okra_initiate_payment('64d0000000000000000000a1', 2500, reference => 'order-9')$$)),
	row('OK012'::text, format('Check with Okra (okra_customer_payments), then settle it with okra_outbox_resolve(%s, ''succeeded'') or okra_outbox_resolve(%s, ''failed'').', :r, :r)),
	'unknown: OK012, settled with okra_outbox_resolve');
UPDATE okra_outbox_requests SET state = 'succeeded' WHERE request_id = :r;
SELECT is((SELECT row(state, detail) FROM pg_temp.err($$SELECT okra_initiate_payment('64d0000000000000000000a1', 2500, reference => 'order-9')$$)),
	row('OK013'::text, format('Outbox request %s initiated a payment, but the ledger does not have it (a person settled its unknown outcome as succeeded). Nothing was sent to Okra.', :r)),
	'succeeded without a payment in the ledger: OK013');
\set c1 `ctl GET counters`
SELECT is(pg_temp.requests(:'c1', 'pay/initiate'), pg_temp.requests(:'c0', 'pay/initiate'), 'none of them sent anything');
UPDATE okra_outbox_requests SET state = 'failed' WHERE request_id = :r;
SELECT is((SELECT replayed FROM okra_initiate_payment(:'acct', 2500, reference => 'order-9')), false,
	'failed: the reference is free, and okra_initiate_payment sends');

-- the after-commit call meets okra_initiate_payment's payment
SELECT payment_id AS p FROM okra_initiations WHERE reference = 'order-9' \gset
SELECT is((SELECT row(state, message, detail) FROM pg_temp.err($$SELECT okra_initiate_payment_after_commit('64d0000000000000000000a1', 2500, reference => 'order-9')$$)),
	row('23505'::text, 'reference "order-9" already initiated a payment'::text,
		format('okra_initiate_payment made payment %s with it. Nothing was queued.', :'p')),
	'a reference okra_initiate_payment used: 23505, naming the payment');
SELECT is((SELECT count(*) FROM okra_outbox_requests), 1::bigint, 'nothing more queued');

-- the sync call's unknown outcome holds the after-commit call too
\! ctl POST faults '{"kind": "after_drop", "route": "pay/initiate"}' >/dev/null
SELECT (pg_temp.err($$SELECT okra_initiate_payment('64d0000000000000000000a1', 300, reference => 'order-10')$$)).state AS lost \gset
SELECT is(:'lost'::text, 'OK010', 'an initiate whose answer was lost');
SELECT is((pg_temp.err($$SELECT okra_initiate_payment_after_commit('64d0000000000000000000a1', 300, reference => 'order-10')$$)).state,
	'OK012', 'its reference is refused by the after-commit call too (OK012)');

-- okra_payout_after_commit and okra_payout share a reference the same way
SELECT okra_payout_after_commit(500, '64e000000000000000000001', reference => 'po-1') AS q \gset
SELECT is((SELECT row(kind, amount, body) FROM okra_outbox_requests WHERE request_id = :q),
	row('payout'::text, 500::bigint, '{"amount": 500, "currency": "NGN", "account_to_credit": "64e000000000000000000001"}'::jsonb),
	'a payout is queued with okra_payout''s request body');
SELECT is((SELECT row(state, message) FROM pg_temp.err($$SELECT okra_payout(500, '64e000000000000000000001', reference => 'po-1')$$)),
	row('55000'::text, 'reference "po-1" is queued to be sent after commit'::text), 'okra_payout meets the queued payout: 55000');
UPDATE okra_outbox_requests SET state = 'unknown' WHERE request_id = :q;
SELECT is((SELECT row(state, message) FROM pg_temp.err($$SELECT okra_payout(500, '64e000000000000000000001', reference => 'po-1')$$)),
	row('OK012'::text, 'a payout with reference "po-1" has an unknown outcome'::text), 'and its unknown outcome: OK012');
SELECT payout_id AS po FROM okra_payout(700, '64e000000000000000000001', reference => 'po-2') \gset
SELECT is((SELECT row(state, detail) FROM pg_temp.err($$SELECT okra_payout_after_commit(700, '64e000000000000000000001', reference => 'po-2')$$)),
	row('23505'::text, format('okra_payout made payout %s with it. Nothing was queued.', :'po')),
	'a reference okra_payout used: 23505, naming the payout');

-- revoked from PUBLIC
SELECT ok(NOT has_function_privilege('public', 'okra_initiate_payment_after_commit(text, bigint, text, text, text, text, date, date)', 'EXECUTE'),
	'okra_initiate_payment_after_commit is revoked from PUBLIC');
SELECT ok(NOT has_function_privilege('public', 'okra_payout_after_commit(bigint, text, text, text, text, text)', 'EXECUTE'),
	'okra_payout_after_commit is revoked from PUBLIC');

SELECT * FROM finish();
ROLLBACK;
