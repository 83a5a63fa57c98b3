-- okra_cancel: the row describes the payment after the call; what can and
-- cannot be cancelled; the sandbox's state follows.
\! ctl POST reset >/dev/null
\getenv key OKRA_SANDBOX_KEY
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(22);

-- pending -> cancelled
CREATE TEMP TABLE c1 AS SELECT *, clock_timestamp() AS after_call FROM okra_cancel('64a00000000000000000000a');
SELECT is((SELECT row(payment_id, status, amount, currency, customer_id, link_url, env) FROM c1),
	row('64a00000000000000000000a'::text, 'cancelled'::text, 20000::bigint, 'NGN'::text,
	    '64c00000000000000000000a'::text, NULL::text, 'production'::text),
	'cancel of a pending payment returns it, now cancelled');
SELECT is((SELECT response_status FROM c1), 'cancelled', 'its response_status follows (API.md 4)');
SELECT ok((SELECT checked_at BETWEEN now() AND after_call FROM c1), 'checked_at is when the answer arrived');
SELECT is((SELECT response ->> 'message' FROM c1), 'Payment successfully cancelled.', 'the response body is kept');
SELECT is((SELECT response #>> '{data,payment,id}' FROM c1), '64a00000000000000000000a', 'response is the whole body');
SELECT is((okra_verify('64a00000000000000000000a')).status, 'cancelled', 'verify agrees');

-- initialize -> cancelled
SELECT is((SELECT row(payment_id, status, amount) FROM okra_cancel('64a00000000000000000000c')),
	row('64a00000000000000000000c'::text, 'cancelled'::text, 15000::bigint),
	'cancel of an initialize payment');

-- "initialized" (the docs' spelling) can be cancelled too
\set created `ctl POST payments '{"status": "initialized", "amount": 777}'`
SELECT is((SELECT row(status, amount) FROM okra_cancel(:'created'::jsonb #>> '{payment,id}')),
	row('cancelled'::text, 777::bigint), 'cancel of an initialized payment');

-- a payment started with pay/initiate
SELECT payment_id AS initiated FROM okra_initiate_payment('64d000000000000000000001', 4200) \gset
SELECT is((SELECT row(payment_id, status, amount) FROM okra_cancel(:'initiated')),
	row(:'initiated'::text, 'cancelled'::text, 4200::bigint), 'cancel of a payment started with pay/initiate');

-- what cannot be cancelled: OK005, and the payment is unchanged
SELECT throws_ok($$SELECT okra_cancel('64a00000000000000000000a')$$, 'OK005',
	'Payment can only be cancelled when it is initialized or pending.', 'a cancelled payment cannot be cancelled again');
SELECT throws_ok($$SELECT okra_cancel('64a000000000000000000001')$$, 'OK005',
	'Payment can only be cancelled when it is initialized or pending.', 'a successful payment cannot be cancelled');
SELECT throws_ok($$SELECT okra_cancel('64a000000000000000000015')$$, 'OK005',
	'Payment can only be cancelled when it is initialized or pending.', 'an initiated (processing) payment cannot be cancelled');
SELECT throws_ok($$SELECT okra_cancel('64a00000000000000000000e')$$, 'OK005',
	'Payment can only be cancelled when it is initialized or pending.', 'a failed payment cannot be cancelled');
SELECT is((okra_verify('64a000000000000000000015')).status, 'initiated', 'a refused cancel changes nothing');
SELECT refund_payment_id AS credit FROM okra_refund('64a000000000000000000001', 100) \gset
SELECT throws_ok(format('SELECT okra_cancel(%L)', :'credit'), 'OK005',
	'Payment can only be cancelled when it is initialized or pending.', 'a refund''s credit payment cannot be cancelled');
SELECT throws_ok($$SELECT okra_cancel('64a0000000000000000000ff')$$, 'OK006',
	'Payment not found.', 'an unknown payment');

-- another merchant's payment is not found, and stays as it was
\set other `ctl POST payments "{\"status\": \"pending\", \"amount\": 900, \"key\": \"$OKRA_SANDBOX_KEY2\"}"`
SELECT throws_ok(format('SELECT okra_cancel(%L)', :'other'::jsonb #>> '{payment,id}'), 'OK006',
	'Payment not found.', 'another merchant''s payment cannot be cancelled');

-- okra_cancel also reads data.payment_status (README "Types")
\! ctl POST faults '{"kind": "status", "status": 200, "route": "pay/cancel", "body": "{\"status\":\"success\",\"message\":\"Payment successfully cancelled.\",\"data\":{\"payment_status\":{\"_id\":\"64a00000000000000000000b\",\"amount\":30000,\"currency\":\"NGN\",\"status\":\"cancelled\"}}}"}' >/dev/null
SELECT is((SELECT row(payment_id, status, amount) FROM okra_cancel('64a00000000000000000000b')),
	row('64a00000000000000000000b'::text, 'cancelled'::text, 30000::bigint),
	'a cancel answer under data.payment_status is read');
-- and the fault answered instead of the sandbox: 0b is still pending
SELECT is((okra_verify('64a00000000000000000000b')).status, 'pending', 'the faked answer executed nothing');

-- the sandbox's state: exactly the four cancels above happened
\set state `ctl GET state`
CREATE TEMP TABLE st AS
SELECT p->>'id' AS id, p->>'status' AS status
FROM jsonb_array_elements(:'state'::jsonb -> 'owners') o, jsonb_array_elements(o -> 'payments') p
WHERE o -> 'keys' ? :'key';
SELECT is((SELECT count(*) FROM st WHERE status = 'cancelled'), 5::bigint,
	'the sandbox holds 5 cancelled payments: the seeded one and the four cancelled here');
SELECT set_eq($$SELECT id FROM st WHERE status = 'cancelled'$$,
	format($$VALUES ('64a00000000000000000000a'), ('64a00000000000000000000c'), ('64a00000000000000000000f'), (%L), (%L)$$,
	       :'created'::jsonb #>> '{payment,id}', :'initiated'),
	'and they are the right ones');
\set counters `ctl GET counters`
SELECT is(:'counters'::jsonb #> '{requests,/v2/pay/cancel}', '{"200": 5, "400": 7}'::jsonb,
	'cancel requests: 5 answered 200 (one by a fault), 7 refused');

SELECT * FROM finish();
ROLLBACK;
