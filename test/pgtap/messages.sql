-- Messages that tell the caller the truth (issue 10, items 10, 11, 13).
-- A 5xx on a read-only endpoint is safe to retry; an unknown refund says
-- that it may have happened and what settles it, not "call okra_verify",
-- which shows nothing about refunds; a cancel's says to verify; any other
-- money-moving request's says to check with Okra.  okra_track(NULL) says
-- what the other functions say.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(22);

\set safe 'This request only reads, so it is safe to retry.'
\set refund_hint 'The refund may have happened: do not retry it. okra_journal has it as an unknown outcome, and further refunds of this payment are refused until someone checks with Okra and settles it with okra_journal_resolve().'
\set cancel_hint 'The cancel may have been carried out by Okra. Call okra_verify to see whether the payment is cancelled before retrying.'
\set other_hint 'The request may have been carried out by Okra, and money may have moved. Check its outcome with Okra before sending it again.'

-- read-only endpoints answered 5xx: OK010, safe to retry
\! ctl POST faults '{"kind": "status", "status": 502, "route": "pay/verify"}' >/dev/null
SELECT is((SELECT row(state, hint) FROM pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)),
	row('OK010'::text, :'safe'::text), 'pay/verify answered 502: OK010, safe to retry');
\! ctl POST faults '{"kind": "timeout503", "route": "pay/verify"}' >/dev/null
SELECT is((SELECT row(state, hint) FROM pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)),
	row('OK010'::text, :'safe'::text), 'pay/verify answered Okra''s 503 timeout: safe to retry');
\! ctl POST faults '{"kind": "html", "status": 502, "route": "pay/verify"}' >/dev/null
SELECT is((SELECT row(state, hint) FROM pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)),
	row('OK010'::text, :'safe'::text), 'pay/verify answered a proxy''s HTML 502: safe to retry');
\! ctl POST faults '{"kind": "status", "status": 503, "route": "pay/list"}' >/dev/null
SELECT is((SELECT row(state, hint) FROM pg_temp.err($$SELECT okra_request('pay/list')$$)),
	row('OK010'::text, :'safe'::text), 'pay/list answered 503: safe to retry');
\! ctl POST faults '{"kind": "status", "status": 500, "route": "pay/get/id"}' >/dev/null
SELECT is((SELECT row(state, hint) FROM pg_temp.err($$SELECT okra_request('pay/get/id', '{"payment_id": "64a000000000000000000001"}')$$)),
	row('OK010'::text, :'safe'::text), 'pay/get/id answered 500: safe to retry');
\! ctl POST faults '{"kind": "status", "status": 504, "route": "pay/verify"}' >/dev/null
SELECT unalike((SELECT hint FROM pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)),
	'%refund%', 'no read-only 5xx mentions a refund');

-- a refund whose outcome is unknown: what is true, and what settles it
\set p1 `ctl POST payments '{"status": "success", "amount": 5000}' | jq -r .payment.id`
\set p2 `ctl POST payments '{"status": "success", "amount": 5000}' | jq -r .payment.id`
\set p3 `ctl POST payments '{"status": "success", "amount": 5000}' | jq -r .payment.id`
\! ctl POST faults '{"kind": "after_status", "status": 502, "route": "pay/refund"}' >/dev/null
CREATE TEMP TABLE e_5xx AS SELECT * FROM pg_temp.err(format('SELECT okra_refund(%L, 1000)', :'p1'));
SELECT is((SELECT state FROM e_5xx), 'OK010', 'a refund answered 502 after it was carried out: OK010');
SELECT is((SELECT hint FROM e_5xx), :'refund_hint', '... the hint says the refund may have happened and how to settle it');
SELECT unalike((SELECT hint FROM e_5xx), '%okra_verify%', '... and does not send the caller to okra_verify');
\! ctl POST faults '{"kind": "after_drop", "route": "pay/refund"}' >/dev/null
CREATE TEMP TABLE e_drop AS SELECT * FROM pg_temp.err(format('SELECT okra_refund(%L, 1000)', :'p2'));
SELECT is((SELECT row(state, hint) FROM e_drop), row('OK010'::text, :'refund_hint'::text),
	'a refund whose answer was lost: OK010 with the same hint');
\! ctl POST faults '{"kind": "status", "status": 200, "route": "pay/refund", "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"refund\":\"x\"}}"}' >/dev/null
SELECT is((SELECT row(state, hint) FROM pg_temp.err(format('SELECT okra_refund(%L, 1000)', :'p3'))),
	row('OK011'::text, :'refund_hint'::text), 'a refund answered with an unusable body: OK011 with the same hint');
\set counters `ctl GET counters`
SELECT is((SELECT count(*) FROM jsonb_object_keys(:'counters'::jsonb -> 'refunds') k WHERE k IN (:'p1', :'p2')),
	2::bigint, 'both refunds did happen at the sandbox, as the hint says they may have');

-- a cancel: okra_verify does show whether it happened
\! ctl POST faults '{"kind": "html", "status": 502, "route": "pay/cancel"}' >/dev/null
SELECT is((SELECT row(state, hint) FROM pg_temp.err($$SELECT okra_cancel('64a00000000000000000000c')$$)),
	row('OK010'::text, :'cancel_hint'::text), 'a cancel answered 502: verify the payment');
\! ctl POST faults '{"kind": "after_drop", "route": "pay/cancel"}' >/dev/null
SELECT is((SELECT row(state, hint) FROM pg_temp.err($$SELECT okra_cancel('64a00000000000000000000d')$$)),
	row('OK010'::text, :'cancel_hint'::text), 'a cancel whose answer was lost: the same');

-- any other endpoint that may move money: check with Okra
\! ctl POST faults '{"kind": "status", "status": 500, "route": "pay/initiate"}' >/dev/null
SELECT is((SELECT row(state, hint) FROM pg_temp.err($$SELECT okra_initiate_payment('64d000000000000000000001', 100)$$)),
	row('OK010'::text, :'other_hint'::text), 'pay/initiate answered 500: check its outcome with Okra');

-- okra_track(NULL) and the after-commit functions say what okra_verify(NULL) says
SELECT is((SELECT row(state, message) FROM pg_temp.err($$SELECT okra_verify(NULL)$$)),
	row('22023'::text, 'payment_id must not be null'::text), 'okra_verify(NULL)');
SELECT is((SELECT row(state, message) FROM pg_temp.err($$SELECT okra_track(NULL)$$)),
	row('22023'::text, 'payment_id must not be null'::text), 'okra_track(NULL): the same message');
SELECT is((SELECT row(state, message) FROM pg_temp.err($$SELECT okra_refund_after_commit(NULL)$$)),
	row('22023'::text, 'payment_id must not be null'::text), 'okra_refund_after_commit(NULL): the same message');
SELECT is((SELECT row(state, message) FROM pg_temp.err($$SELECT okra_cancel_after_commit(NULL)$$)),
	row('22023'::text, 'payment_id must not be null'::text), 'okra_cancel_after_commit(NULL): the same message');
SELECT is((SELECT row(state, message, detail) FROM pg_temp.err($$SELECT okra_track('nope')$$)),
	row('22023'::text, 'invalid payment_id: "nope"'::text, 'An Okra payment ID is 24 hexadecimal characters.'::text),
	'okra_track of a bad id: as before');
SELECT is((SELECT row(state, message) FROM pg_temp.err($$SELECT okra_refund_after_commit('64a000000000000000000001', NULL, NULL, 'acct')$$)),
	row('22023'::text, 'invalid account: "acct"'::text), 'a bad account: as before');
SELECT is((SELECT count(*) FROM okra_payments WHERE payment_id IS NULL), 0::bigint, 'nothing was tracked');

SELECT * FROM finish();
ROLLBACK;
