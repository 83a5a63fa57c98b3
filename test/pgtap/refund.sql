-- okra_refund: partial, then the rest; every column; the refund payment is
-- verifiable; the refund life cycle; the wallet and the account; the
-- sandbox's ledger agrees.
\! ctl POST reset >/dev/null
\getenv key OKRA_SANDBOX_KEY
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(39);

-- a partial refund, with a reason
CREATE TEMP TABLE r1 AS SELECT *, clock_timestamp() AS after_call
FROM okra_refund('64a000000000000000000001', 2500, 'damaged goods');
SELECT is((SELECT row(payment_id, amount, currency, status, reason, refund_payment_status, wallet_balance) FROM r1),
	row('64a000000000000000000001'::text, 2500::bigint, 'NGN'::text, 'initiated'::text, 'damaged goods'::text,
	    'initialize'::text, 9997500::bigint),
	'a partial refund: every column');
SELECT is((SELECT message FROM r1), 'Refund has been initated; Please verify `reufund_payment` to confirm.',
	'message is Okra''s, verbatim');
SELECT matches((SELECT refund_id FROM r1), '^[0-9a-f]{24}$', 'refund_id is an ObjectID');
SELECT matches((SELECT refund_payment_id FROM r1), '^[0-9a-f]{24}$', 'refund_payment_id is an ObjectID');
SELECT is((SELECT created_at FROM r1), (SELECT (response #>> '{data,refund,created_at}')::timestamptz FROM r1),
	'created_at is data.refund.created_at');
SELECT ok((SELECT created_at BETWEEN now() - interval '5 s' AND after_call + interval '5 s' FROM r1),
	'created_at is about now');
SELECT is((SELECT response #>> '{data,refund,_id}' FROM r1), (SELECT refund_id FROM r1), 'response is the whole body');

-- the rest: amount NULL refunds what remains
CREATE TEMP TABLE r2 AS SELECT * FROM okra_refund('64a000000000000000000001');
SELECT is((SELECT row(payment_id, amount, status, reason, wallet_balance) FROM r2),
	row('64a000000000000000000001'::text, 7500::bigint, 'initiated'::text, NULL::text, 9990000::bigint),
	'amount NULL refunds the remaining 7500');
SELECT isnt((SELECT refund_id FROM r2), (SELECT refund_id FROM r1), 'a new refund');
SELECT isnt((SELECT refund_payment_id FROM r2), (SELECT refund_payment_id FROM r1), 'with its own refund payment');

-- the refund payments can be verified
SELECT is((SELECT row(payment_id, status, amount, currency) FROM okra_verify((SELECT refund_payment_id FROM r1))),
	row((SELECT refund_payment_id FROM r1), 'initialize'::text, 2500::bigint, 'NGN'::text),
	'the first refund payment verifies: initialize, 2500');
SELECT is((SELECT row(status, amount) FROM okra_verify((SELECT refund_payment_id FROM r2))),
	row('initialize'::text, 7500::bigint), 'the second refund payment verifies: initialize, 7500');
-- the README's one-liner
SELECT is((SELECT status FROM okra_verify((okra_refund('64a000000000000000000002')).refund_payment_id)),
	'initialize', 'verify((refund(id)).refund_payment_id) in one statement');

-- nothing left: the ledger refuses a third refund with Okra's SQLSTATE (the
-- sandbox's counters below show it was never sent); the payment is unchanged
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000001')$$, 'OK001',
	'payment "64a000000000000000000001" is already refunded in full', 'a third refund is refused locally as a duplicate');
SELECT is((okra_verify('64a000000000000000000001')).status, 'success', 'a refund leaves the payment''s status');

-- the sandbox's ledger agrees
\set state `ctl GET state`
\set counters `ctl GET counters`
CREATE TEMP TABLE ledger AS
SELECT f->>'_id' AS refund_id, f->>'payment' AS payment_id, (f->>'amount')::bigint AS amount,
       f->>'reason' AS reason, f->>'status' AS status, f->>'refund_payment' AS refund_payment_id
FROM jsonb_array_elements(:'state'::jsonb -> 'owners') o, jsonb_array_elements(o -> 'refunds') f
WHERE o -> 'keys' ? :'key';
SELECT set_eq($$SELECT refund_id, payment_id, amount, reason, status, refund_payment_id FROM ledger WHERE payment_id = '64a000000000000000000001'$$,
	$$SELECT refund_id, payment_id, amount, reason, status, refund_payment_id FROM r1
	  UNION ALL SELECT refund_id, payment_id, amount, reason, status, refund_payment_id FROM r2$$,
	'the sandbox holds exactly these two refunds of the payment, as returned');
SELECT is(:'counters'::jsonb #> '{refunds,64a000000000000000000001}',
	'{"count": 2, "total": 10000, "amounts": [2500, 7500]}'::jsonb, 'executed: 2500 then 7500, once each');
SELECT is((SELECT (o #>> '{wallet,amount}')::bigint FROM jsonb_array_elements(:'state'::jsonb -> 'owners') o
           WHERE o -> 'keys' ? :'key'), 10000000 - 10000 - 25000::bigint,
	'the wallet paid for both refunds and the one-liner''s');

-- life cycle: completed, then the refund payment is a success
SELECT refund_id AS r3, refund_payment_id AS r3_payment FROM okra_refund('64a000000000000000000003', 20000) \gset
\set out `ctl POST refunds/:r3 '{"status": "completed"}'`
SELECT is((okra_verify(:'r3_payment')).status, 'success', 'a completed refund''s payment verifies as success');
SELECT is((SELECT amount FROM okra_refund('64a000000000000000000003')), 30000::bigint, 'after it, the rest is 30000');

-- life cycle: failed, then the remainder and the wallet are restored
SELECT refund_id AS r4, refund_payment_id AS r4_payment, wallet_balance AS w4
FROM okra_refund('64a000000000000000000004', 40000) \gset
\set out `ctl POST refunds/:r4 '{"status": "failed"}'`
SELECT is((okra_verify(:'r4_payment')).status, 'failed', 'a failed refund''s payment verifies as failed');
SELECT is((SELECT row(amount, wallet_balance) FROM okra_refund('64a000000000000000000004')),
	row(100000::bigint, (:w4 + 40000 - 100000)::bigint),
	'after a failed refund the whole amount can be refunded, from a restored wallet');

-- a completed payment with response_status success is refundable
SELECT is((SELECT row(payment_id, amount) FROM okra_refund('64a000000000000000000010', 60000)),
	row('64a000000000000000000010'::text, 60000::bigint), 'a completed/success payment is refundable');

-- the smallest amount, and an odd one
SELECT is((okra_refund('64a000000000000000000005', 1)).amount, 1::bigint, '1 kobo');
SELECT is((okra_refund('64a000000000000000000006', 333333)).amount, 333333::bigint, 'an odd amount');
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000006', 666667)$$, 'OK002',
	'You cannot intiate a refund for an amount greater than the initial payment.',
	'one kobo more than the remainder');
SELECT is((okra_refund('64a000000000000000000006', 666666)).amount, 666666::bigint, 'exactly the remainder');

-- the wallet runs short: refused without account, then paid from the account
\! ctl POST wallet '{"amount": 1000}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000007', 5000)$$, 'OK004',
	'You do not have sufficient funds in your wallet to initiate this refund, please pass an `account` ID or lower the refund amount to continue',
	'a short wallet without account');
CREATE TEMP TABLE r7 AS SELECT * FROM okra_refund('64a000000000000000000007', 5000, NULL, '64E0000000000000000000AB');
SELECT is((SELECT row(amount, wallet_balance) FROM r7), row(5000::bigint, 0::bigint),
	'with an account: the wallet is emptied, the rest comes from the account');
\set state `ctl GET state`
SELECT is((SELECT row((f->>'from_wallet')::bigint, f->>'account')
           FROM jsonb_array_elements(:'state'::jsonb -> 'owners') o, jsonb_array_elements(o -> 'refunds') f
           WHERE f->>'_id' = (SELECT refund_id FROM r7)),
	row(1000::bigint, '64e0000000000000000000ab'::text),
	'the sandbox took 1000 from the wallet and the rest from the account, sent in lower case');
\! ctl POST wallet '{"amount": 10000000}' >/dev/null

-- a reason with quotes, backslashes, newlines and non-ASCII is stored as sent
SELECT is((okra_refund('64a000000000000000000009', 10, E'a "b" \\ c\nd ₦ é')).reason, E'a "b" \\ c\nd ₦ é',
	'reason is sent as JSON and comes back intact');
\set state `ctl GET state`
SELECT is((SELECT f->>'reason' FROM jsonb_array_elements(:'state'::jsonb -> 'owners') o,
           jsonb_array_elements(o -> 'refunds') f WHERE f->>'payment' = '64a000000000000000000009'),
	E'a "b" \\ c\nd ₦ é', 'and the sandbox stored exactly that');

-- not transactional: a refund inside a rolled-back savepoint has happened
SAVEPOINT before_refund;
SELECT okra_refund('64a000000000000000000009', 100) \g /dev/null
ROLLBACK TO SAVEPOINT before_refund;
\set counters `ctl GET counters`
SELECT is(:'counters'::jsonb #> '{refunds,64a000000000000000000009,amounts}', '[10, 100]'::jsonb,
	'a refund rolled back in SQL has still happened at Okra (README "Caveats")');

-- refused refunds: the OK00x cases, and nothing executed for them
SELECT throws_ok($$SELECT okra_refund('64a00000000000000000000a')$$, 'OK003',
	'You cannot intiate a refund on a payment that is in progress or failed.', 'pending: not refundable');
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000011')$$, 'OK003',
	'You cannot intiate a refund on a payment that is in progress or failed.', 'completed but failed: not refundable');
SELECT throws_ok(format('SELECT okra_refund(%L)', :'r3_payment'), 'OK003',
	'You cannot intiate a refund on a payment that is in progress or failed.', 'a refund payment is not refundable');
SELECT throws_ok($$SELECT okra_refund('64affffffffffffffffffff0', 5)$$, 'OK006', 'Payment not found.', 'an unknown payment');
\set counters `ctl GET counters`
SELECT is((SELECT count(*) FROM jsonb_object_keys(:'counters'::jsonb -> 'refunds')), 9::bigint,
	'refunds executed for exactly 9 payments');
SELECT is((SELECT sum((value ->> 'count')::int)::int FROM jsonb_each(:'counters'::jsonb -> 'refunds')), 14,
	'14 refunds executed in all');

SELECT * FROM finish();
ROLLBACK;
