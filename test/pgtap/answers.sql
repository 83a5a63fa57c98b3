-- Odd but well-formed answers from Okra.  Whatever the body holds, a call
-- either returns a correct row or raises one of the README's SQLSTATEs: an
-- unusable answer is OK011 (with the "verify first" hint when money may have
-- moved), never a stray 22P05/22P02/22007 from converting the body, and an
-- amount is never silently wrong.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(17);

-- amounts out of bigint's range are refused, not clamped
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"payment_status\":{\"_id\":\"64a000000000000000000001\",\"amount\":99999999999999999999,\"currency\":\"NGN\",\"status\":\"success\"}}}"}' >/dev/null
SELECT is((pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)).state, 'OK011', 'amount above bigint: OK011');
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"payment_status\":{\"_id\":\"64a000000000000000000001\",\"amount\":-99999999999999999999,\"currency\":\"NGN\",\"status\":\"success\"}}}"}' >/dev/null
SELECT is((pg_temp.err($$SELECT (okra_verify('64a000000000000000000001')).amount::text$$)).state, 'OK011',
	'amount below bigint: OK011 (not clamped to -9223372036854775808)');
-- the extremes that do fit are kept exactly
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"payment_status\":{\"_id\":\"64a000000000000000000001\",\"amount\":9007199254740993,\"currency\":\"NGN\",\"status\":\"success\"}}}"}' >/dev/null
SELECT is((okra_verify('64a000000000000000000001')).amount, 9007199254740993::bigint, 'amount 2^53 + 1 is exact');
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"payment_status\":{\"_id\":\"64a000000000000000000001\",\"amount\":10000.5,\"currency\":\"NGN\",\"status\":\"success\"}}}"}' >/dev/null
SELECT is((pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)).state, 'OK011', 'a fractional amount: OK011');
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"payment_status\":{\"_id\":\"64a000000000000000000001\",\"amount\":true,\"currency\":\"NGN\",\"status\":\"success\"}}}"}' >/dev/null
SELECT is((pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)).state, 'OK011', 'a boolean amount: OK011');
\! ctl POST faults '{"kind": "status", "status": 200, "route": "pay/refund", "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"refund\":{\"_id\":\"64b000000000000000000001\",\"payment\":\"64a000000000000000000001\",\"amount\":-99999999999999999999,\"status\":\"initiated\"}}}"}' >/dev/null
SELECT is((pg_temp.err($$SELECT okra_refund('64a000000000000000000001', 1)$$)).state, 'OK011', 'refund amount below bigint: OK011');
SELECT pg_temp.settle_unknown('failed') \g /dev/null

-- a body PostgreSQL's jsonb cannot hold (\u0000, a lone surrogate): OK011
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"a\\u0000b\",\"data\":{\"payment_status\":{\"_id\":\"64a000000000000000000001\",\"amount\":1,\"currency\":\"NGN\",\"status\":\"success\"}}}"}' >/dev/null
SELECT is((pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)).state, 'OK011', 'verify answer with \u0000: OK011');
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"\\ud800\",\"data\":{\"payment_status\":{\"_id\":\"64a000000000000000000001\",\"amount\":1,\"currency\":\"NGN\",\"status\":\"success\"}}}"}' >/dev/null
SELECT is((pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)).state, 'OK011', 'verify answer with a lone surrogate: OK011');
\! ctl POST faults '{"kind": "status", "status": 200, "route": "pay/refund", "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"refund\":{\"_id\":\"64b000000000000000000001\",\"payment\":\"64a000000000000000000001\",\"amount\":1,\"status\":\"initiated\",\"reason\":\"x\\u0000y\"}}}"}' >/dev/null
CREATE TEMP TABLE e1 AS SELECT * FROM pg_temp.err($$SELECT okra_refund('64a000000000000000000001', 1)$$);
SELECT pg_temp.settle_unknown('failed') \g /dev/null
SELECT is((SELECT state FROM e1), 'OK011', 'a refund answer with \u0000: OK011');
SELECT matches((SELECT coalesce(hint, '') FROM e1), 'okra_journal_resolve', '... with the hint that the refund may have happened, and what settles it');
\! ctl POST faults '{"kind": "status", "status": 200, "route": "pay/list", "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"x\":\"\\u0000\"}}"}' >/dev/null
SELECT is((pg_temp.err($$SELECT okra_request('pay/list')$$)).state, 'OK011', 'okra_request answer with \u0000: OK011');

-- an unparsable data.refund.created_at does not turn a refund into 22007
\! ctl POST faults '{"kind": "status", "status": 200, "route": "pay/refund", "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"refund\":{\"_id\":\"64b000000000000000000001\",\"payment\":\"64a000000000000000000001\",\"amount\":1,\"status\":\"initiated\",\"created_at\":\"6th March 2021\"}}}"}' >/dev/null
SELECT ok((pg_temp.err($$SELECT okra_refund('64a000000000000000000001', 1)$$)).state IN ('no error', 'OK011'),
	'an unparsable created_at: the row (created_at NULL) or OK011, not 22007');
SELECT pg_temp.settle_unknown('failed') \g /dev/null
-- Okra's own format, with and without milliseconds
\! ctl POST faults '{"kind": "status", "status": 200, "route": "pay/refund", "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"refund\":{\"_id\":\"64b000000000000000000001\",\"payment\":\"64a000000000000000000001\",\"amount\":1,\"status\":\"initiated\",\"created_at\":\"2021-03-06T03:06:40.851Z\"}}}"}' >/dev/null
SELECT is((okra_refund('64a000000000000000000001', 1)).created_at, '2021-03-06 03:06:40.851+00'::timestamptz, 'created_at in Okra''s format');

-- the refund shape Okra documents, verbatim (API.md 5.3), column by column
\! ctl POST faults '{"kind": "status", "status": 200, "route": "pay/refund", "body": "{\"status\":\"success\",\"message\":\"Refund has been initated; Please verify `reufund_payment` to confirm.\",\"data\":{\"refund\":{\"history\":{\"initiated_at\":\"2021-03-06T03:06:40.849Z\",\"success_at\":null,\"failed_at\":null},\"_id\":\"6042f1c03183ddf6d0e2b7ed\",\"env\":\"production-sandbox\",\"owner\":null,\"payment\":\"5f894ee474b8fde5851af169\",\"receiever\":\"5f89451c0f0c0775eed267ac\",\"__v\":0,\"amount\":10000,\"created_at\":\"2021-03-06T03:06:40.851Z\",\"currency\":\"NGN\",\"initiator\":\"6042f1c03183ddf6d0e2b7ee\",\"last_updated\":\"2021-03-06T03:06:40.851Z\",\"reason\":null,\"record\":\"6042f1c03183ddf6d0e2b7ef\",\"status\":\"initiated\"},\"refund_payment\":{\"success\":true,\"data\":{\"payment\":{\"record\":\"6042f1c03183ddf6d0e2b7ec\",\"amount\":10000,\"status\":\"initialize\",\"fee\":null,\"id\":\"6042f1c29016589c6d2a661b\"},\"okra_wallet\":{\"amount\":4356660,\"currency\":\"NGN\",\"last_updated\":\"2021-03-06T03:06:41.040Z\",\"id\":\"6042f1c09016589c6d2a6600\"}},\"error\":null,\"msg\":\"Payment has been initiated; Please verify to complete\"}}}"}' >/dev/null
SELECT is((SELECT row(refund_id, payment_id, amount, currency, status, reason, refund_payment_id, refund_payment_status,
                      wallet_balance, message, created_at)
           FROM okra_refund('5f894ee474b8fde5851af169', 10000)),
	row('6042f1c03183ddf6d0e2b7ed'::text, '5f894ee474b8fde5851af169'::text, 10000::bigint, 'NGN'::text,
	    'initiated'::text, NULL::text, '6042f1c29016589c6d2a661b'::text, 'initialize'::text, 4356660::bigint,
	    'Refund has been initated; Please verify `reufund_payment` to confirm.'::text,
	    '2021-03-06 03:06:40.851+00'::timestamptz),
	'Okra''s documented refund answer maps column by column');
-- a refund answer without refund_payment: those columns are NULL, not an error
\! ctl POST faults '{"kind": "status", "status": 200, "route": "pay/refund", "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"refund\":{\"_id\":\"64b000000000000000000001\",\"payment\":\"64a000000000000000000001\",\"amount\":1,\"status\":\"pending\"}}}"}' >/dev/null
SELECT is((SELECT row(status, refund_payment_id, refund_payment_status, wallet_balance) FROM okra_refund('64a000000000000000000001', 1)),
	row('pending'::text, NULL::text, NULL::text, NULL::bigint), 'no refund_payment: NULL columns');
-- a refund answer about another payment is unusable (and not recorded);
-- one that names no payment is the refund of the payment asked for
\! ctl POST faults '{"kind": "status", "status": 200, "route": "pay/refund", "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"refund\":{\"_id\":\"64b000000000000000000002\",\"payment\":\"64a000000000000000000002\",\"amount\":1,\"status\":\"initiated\"}}}"}' >/dev/null
SELECT is((pg_temp.err($$SELECT okra_refund('64a000000000000000000001', 1)$$)).message,
	'invalid response from Okra API endpoint "pay/refund": the answer is about payment "64a000000000000000000002"',
	'a refund answer about another payment: OK011');
SELECT pg_temp.settle_unknown('failed') \g /dev/null
\! ctl POST faults '{"kind": "status", "status": 200, "route": "pay/refund", "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"refund\":{\"_id\":\"64b000000000000000000003\",\"amount\":1,\"status\":\"initiated\"}}}"}' >/dev/null
SELECT is((SELECT payment_id FROM okra_refund('64a000000000000000000001', 1)), '64a000000000000000000001',
	'a refund answer that names no payment: the payment asked for');

SELECT * FROM finish();
ROLLBACK;
