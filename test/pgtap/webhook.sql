-- okra_webhook, inside a transaction: the bearer token, bad input refused
-- with nothing recorded, the event kept once, the payment ids of each shape,
-- what is made due (and what is not: a repeat within the window, a final
-- payment), a lie that changes nothing, privileges.  The worker's checks
-- and the sandbox's deliveries: test/scripts/webhooks.sh.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(36);
\getenv dir OKRA_TEST_DIR
\getenv token OKRA_WEBHOOK_TOKEN
SELECT set_config('okra.webhook_token_file', :'dir' || '/webhook.key', true) IS NOT NULL AS set \g /dev/null
SELECT 'Bearer ' || :'token' AS auth \gset
SET LOCAL okra.webhook_window = '5s';

-- the token first
SELECT is((SELECT row(state, message) FROM pg_temp.err($$SELECT okra_webhook('{}', NULL)$$)),
	row('28000'::text, 'webhook has no bearer token'::text), 'no Authorization header: 28000');
SELECT is((SELECT row(state, message) FROM pg_temp.err($$SELECT okra_webhook('{}', 'Basic dXNlcjpwYXNz')$$)),
	row('28000'::text, 'webhook has no bearer token'::text), 'another scheme: 28000');
SELECT is((SELECT row(state, message, detail) FROM pg_temp.err(format($$SELECT okra_webhook('{}', %L)$$, :'auth' || 'x'))),
	row('28000'::text, 'webhook bearer token is not the one in okra.webhook_token_file'::text, 'Nothing was recorded.'::text),
	'a wrong token: 28000, saying nothing about the token');
SELECT is((pg_temp.err($$SELECT okra_webhook('{}', 'Bearer ')$$)).state, '28000', 'an empty token: 28000');
SELECT is((pg_temp.err(format($$SELECT okra_webhook(%L, %L)$$, '{"payment_id": "64a000000000000000000001"}',
	'bearer ' || :'token'))).state, 'no error', 'the scheme in any case');
DELETE FROM okra_webhook_events;
UPDATE okra_payments SET webhook_at = NULL, webhook_due_at = NULL;
SELECT is((SELECT row(state, message) FROM pg_temp.err($$SELECT okra_webhook('{}', 'Bearer x')$$)),
	row('28000'::text, 'webhook bearer token is not the one in okra.webhook_token_file'::text), 'a short wrong token: 28000');
SELECT is((SELECT row(state, message) FROM pg_temp.err(
	$$SELECT set_config('okra.webhook_token_file', '', true), okra_webhook('{}', 'Bearer x')$$)),
	row('55000'::text, 'okra.webhook_token_file is not set'::text), 'no token file configured: 55000');

-- bad input, after a good token: nothing recorded
SELECT is((SELECT row(state, message) FROM pg_temp.err(format($$SELECT okra_webhook(NULL, %L)$$, :'auth'))),
	row('22023'::text, 'webhook body must not be null'::text), 'a NULL body: 22023');
SELECT is((SELECT row(state, message) FROM pg_temp.err(format($$SELECT okra_webhook('', %L)$$, :'auth'))),
	row('22023'::text, 'webhook body is empty'::text), 'an empty body: 22023');
SELECT is((SELECT row(state, message) FROM pg_temp.err(format($$SELECT okra_webhook('{"payment_id": ', %L)$$, :'auth'))),
	row('22P02'::text, 'webhook body is not valid JSON'::text), 'malformed JSON: 22P02');
SELECT is((SELECT row(state, message) FROM pg_temp.err(format($$SELECT okra_webhook('[1, 2]', %L)$$, :'auth'))),
	row('22023'::text, 'webhook body is not a JSON object'::text), 'a JSON array: 22023');
SELECT is((SELECT row(state, message, detail) FROM pg_temp.err(format(
	$$SELECT set_config('okra.webhook_max_body', '1024', true), okra_webhook(%L, %L)$$,
	'{"pad": "' || repeat('x', 2000) || '"}', :'auth'))),
	row('54000'::text, 'webhook body is too large'::text,
		'It has 2011 bytes; okra.webhook_max_body allows 1024. Nothing was recorded.'::text),
	'a body over okra.webhook_max_body: 54000, before it is parsed');
SELECT is_empty('SELECT 1 FROM okra_webhook_events', 'none of them was recorded');

-- the sandbox's shape: the payment joins the ledger, due a check now
CREATE TEMP TABLE w1 AS SELECT * FROM okra_webhook(
	'{"callback_type": "PAYMENT", "callback_code": "SUCCESS", "event_id": "65a000000000000000000001", "payment_id": "64A0000000000000000000AA", "status": "success", "amount": 100}',
	:'auth');
SELECT is((SELECT row(duplicate, payment_ids, action) FROM w1),
	row(false, '{64a0000000000000000000aa}'::text[], '1 due a check now'::text),
	'a payment webhook: its payment (in lower case), due a check now');
SELECT is((SELECT row(status, amount, webhook_due_at IS NOT NULL, next_check_at <= now()) FROM okra_payments
            WHERE payment_id = '64a0000000000000000000aa'),
	row(NULL::text, NULL::bigint, true, true), 'tracked, with nothing taken from the body: no status, no amount');
SELECT is((SELECT row(deliveries, payment_ids, role::text) FROM okra_webhook_events WHERE event_id = (SELECT event_id FROM w1)),
	row(1, '{64a0000000000000000000aa}'::text[], current_user::text), 'the event is kept');

-- the same body again: counted, nothing more
SELECT is((SELECT row(event_id, duplicate) FROM okra_webhook(
	'{"callback_type": "PAYMENT", "callback_code": "SUCCESS", "event_id": "65a000000000000000000001", "payment_id": "64A0000000000000000000AA", "status": "success", "amount": 100}',
	:'auth')), row((SELECT event_id FROM w1), true), 'a repeated delivery: the same event, duplicate');
SELECT is((SELECT deliveries FROM okra_webhook_events), 2, 'its deliveries counted');

-- another event for it within the window: one check, once more at the end
UPDATE okra_payments SET webhook_due_at = NULL WHERE payment_id = '64a0000000000000000000aa';  -- as if checked
SELECT is((SELECT action FROM okra_webhook('{"payment_id": "64a0000000000000000000aa", "status": "failed"}', :'auth')),
	'1 checked just now (once more when the window is up)', 'named again within the window: not due now');
SELECT is((SELECT webhook_due_at = webhook_at + interval '5 s' FROM okra_payments WHERE payment_id = '64a0000000000000000000aa'),
	true, 'due once more when the window is up');

-- the documented and conventional shapes
SELECT is((SELECT payment_ids FROM okra_webhook('{"data": {"payment": {"id": "64a0000000000000000000b1"}}}', :'auth')),
	'{64a0000000000000000000b1}', 'data.payment.id');
SELECT is((SELECT payment_ids FROM okra_webhook('{"data": {"payment_status": {"_id": "64a0000000000000000000b2"}}}', :'auth')),
	'{64a0000000000000000000b2}', 'data.payment_status._id');
SELECT is((SELECT payment_ids FROM okra_webhook('{"callback_type": "PAYMENT", "record": "64a0000000000000000000b3"}', :'auth')),
	'{64a0000000000000000000b3}', 'record, when callback_type is a payment''s');
SELECT is((SELECT row(payment_ids, action) FROM okra_webhook(
	'{"callback_type": "TRANSACTIONS", "callback_code": "INITIAL_TRANSACTIONS", "record": "6042f1c03183ddf6d0e2b7ec1234a"}', :'auth')),
	row('{}'::text[], 'no payment named'::text), 'a v1 callback names no payment: recorded, not an error');
SELECT is((SELECT payment_ids FROM okra_webhook('{"payment_id": "not-an-id", "data": {"payment": {"id": "64a0000000000000000000b4"}}}', :'auth')),
	'{64a0000000000000000000b4}', 'what is not an ObjectID is left out');

-- a final payment is left alone; a lie changes nothing
SELECT okra_verify('64a000000000000000000001') \g /dev/null
SELECT is((SELECT action FROM okra_webhook('{"payment_id": "64a000000000000000000001", "status": "failed"}', :'auth')),
	'1 final already', 'a payment already final: nothing to check');
SELECT okra_verify('64a00000000000000000000b') \g /dev/null
SELECT status AS before FROM okra_payments WHERE payment_id = '64a00000000000000000000b' \gset
SELECT okra_webhook('{"payment_id": "64a00000000000000000000b", "status": "success", "amount": 999999}', :'auth') \g /dev/null
SELECT is((SELECT row(status, amount <> 999999) FROM okra_payments WHERE payment_id = '64a00000000000000000000b'),
	row(:'before'::text, true), 'a webhook that lies changes neither status nor amount');

-- the worker's claim takes what is due, once
SELECT is((SELECT array_agg(id ORDER BY id) FROM unnest(okra_webhook_claim(100, '1 minute')) AS id),
	'{64a00000000000000000000b,64a0000000000000000000b1,64a0000000000000000000b2,64a0000000000000000000b3,64a0000000000000000000b4}'::text[],
	'okra_webhook_claim takes the payments due now (not the final one, not one due at the end of its window)');
SELECT is(cardinality(okra_webhook_claim(100, '1 minute')), 0, 'and no other claim gets them');
UPDATE okra_payments SET webhook_due_at = now() - interval '1 s' WHERE payment_id = '64a000000000000000000001';
SELECT is(cardinality(okra_webhook_claim(100, '1 minute')), 0, 'a payment that became final is not claimed');
SELECT is((SELECT webhook_due_at FROM okra_payments WHERE payment_id = '64a000000000000000000001'), NULL,
	'and its due check is cleared');

-- an answer older than the ledger's (a slower check) changes nothing
SELECT okra_verify('64a000000000000000000001') \g /dev/null
SELECT is((SELECT okra_ledger_payment(ROW(payment_id, 'pending', amount, currency, customer_id, NULL, 'pending', env,
	                                      last_checked_at - interval '5 s', '{}')::okra_payment)
             FROM okra_payments WHERE payment_id = '64a000000000000000000001'), false,
	'an older answer (pending, 5 s before the ledger''s success) is not recorded');
SELECT is((SELECT row(status, terminal) FROM okra_payments WHERE payment_id = '64a000000000000000000001'),
	row('success'::text, true), 'the payment stays success');
SELECT is((SELECT count(*) FROM okra_status_changes WHERE object_id = '64a000000000000000000001' AND outcome = 'succeeded'),
	1::bigint, 'and its success is counted once');

-- read-only, privileges
SELECT is((SELECT state FROM pg_temp.err($$SET LOCAL transaction_read_only = on; SELECT okra_webhook('{}', NULL)$$)), '25006',
	'in a read-only transaction: 25006');
SELECT ok(NOT has_function_privilege('public', 'okra_webhook(text, text)', 'EXECUTE'), 'okra_webhook is revoked from PUBLIC');

SELECT * FROM finish();
ROLLBACK;
