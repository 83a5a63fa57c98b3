-- okra_verify against okra-sandbox: every seeded payment, field by field
-- against the sandbox's own state, and the response shapes Okra documents.
\! ctl POST reset >/dev/null
\getenv key OKRA_SANDBOX_KEY
\set state `ctl GET state`
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(25);

-- the merchant's payments, as the sandbox holds them
CREATE TEMP TABLE seed AS
SELECT p->>'id' AS id, p->>'status' AS status, (p->>'amount')::bigint AS amount,
       p->>'currency' AS currency, p->>'customer' AS customer,
       p->>'response_status' AS response_status, p->>'env' AS env
FROM jsonb_array_elements(:'state'::jsonb -> 'owners') o,
     jsonb_array_elements(o -> 'payments') p
WHERE o -> 'keys' ? :'key';

CREATE TEMP TABLE got AS
SELECT v.*, clock_timestamp() AS after_call
FROM seed s, LATERAL okra_verify(s.id) v;

SELECT is((SELECT count(*) FROM seed), 21::bigint, 'the test seed has 21 payments');
SELECT is((SELECT count(*) FROM got), 21::bigint, 'okra_verify answers for every one');
SELECT results_eq(
	$$SELECT id, status, amount, currency, customer, response_status FROM seed ORDER BY id$$,
	$$SELECT payment_id, status, amount, currency, customer_id, response_status FROM got ORDER BY payment_id$$,
	'payment_id, status, amount, currency, customer_id, response_status equal the sandbox state');
SELECT is((SELECT count(*) FROM got WHERE link_url IS NOT NULL OR env IS NOT NULL), 0::bigint,
	'link_url is NULL for payments made through the API; env is NULL (verify''s payment_status has none)');
SELECT ok((SELECT bool_and(checked_at >= now() AND checked_at <= after_call) FROM got),
	'checked_at is when the response arrived');
SELECT is((SELECT count(DISTINCT response ->> 'message') FROM got), 1::bigint, 'one success message');
SELECT is((SELECT min(response ->> 'message') FROM got), 'Payment Status suceccefully retrieved!',
	'response holds Okra''s message verbatim');
SELECT ok((SELECT bool_and(response #>> '{data,payment_status,_id}' = payment_id
                           AND response ->> 'status' = 'success') FROM got),
	'response is the whole body');
SELECT is((SELECT status FROM got WHERE payment_id = '64a000000000000000000010'), 'completed',
	'a completed payment ...');
SELECT is((SELECT response_status FROM got WHERE payment_id = '64a000000000000000000010'), 'success',
	'... carries its outcome in response_status');
SELECT is((SELECT amount FROM got WHERE payment_id = '64a000000000000000000005'), 1::bigint,
	'1 kobo stays 1 kobo');

-- a payment created through the control API, in a status not seeded
\set created `ctl POST payments '{"status": "success_pending_validation", "amount": 123456789012, "customer": "64c0000000000000000000aa"}'`
SELECT is((SELECT row(status, amount, customer_id) FROM okra_verify(:'created'::jsonb #>> '{payment,id}')),
	row('success_pending_validation'::text, 123456789012::bigint, '64c0000000000000000000aa'::text),
	'a payment created at run time, with an amount beyond 32 bits');

-- a status moved by the control API is seen at once
\! ctl POST payments/64a00000000000000000000b '{"status": "initiated"}' >/dev/null
SELECT is((okra_verify('64a00000000000000000000b')).status, 'initiated', 'a status change is seen by the next call');

-- the same payment through the sandbox environment's URL
\getenv port OKRA_SANDBOX_PORT
SELECT set_config('okra.base_url', 'http://127.0.0.1:' || :'port' || '/v2/sandbox', true) \g /dev/null
SELECT is((okra_verify('64a000000000000000000002')).amount, 25000::bigint, 'verify through /v2/sandbox');
RESET okra.base_url;

-- Okra's documented answer, verbatim (API.md 5.1): link.url, _id, the
-- status pair of a completed payment
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"Payment Status suceccefully retrieved!\",\"data\":{\"payment_status\":{\"_id\":\"5f88ebf63103d912f1d4baca\",\"amount\":10000,\"currency\":\"NGN\",\"customer\":\"5f5b67748df30163f294f432\",\"link\":{\"_id\":\"5f824ed45f283033c424f530\",\"url\":\"https://dev-pay.okra.ng/wyred\",\"short_url\":\"wyred\",\"surl\":\"https://dev.okr.to/wyred\"},\"status\":\"completed\",\"response_status\":\"success\"}}}"}' >/dev/null
CREATE TEMP TABLE doc AS SELECT * FROM okra_verify('5f88ebf63103d912f1d4baca');
SELECT is((SELECT row(payment_id, status, amount, currency, customer_id, link_url, response_status) FROM doc),
	row('5f88ebf63103d912f1d4baca'::text, 'completed'::text, 10000::bigint, 'NGN'::text,
	    '5f5b67748df30163f294f432'::text, 'https://dev-pay.okra.ng/wyred'::text, 'success'::text),
	'Okra''s documented verify answer maps column by column');
SELECT is((SELECT env FROM doc), NULL, 'env is NULL when Okra does not send it');

-- "id" instead of "_id"; an unrecognized status is kept; unknown keys ignored
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"payment_status\":{\"id\":\"64a000000000000000000001\",\"amount\":10000,\"currency\":\"NGN\",\"customer\":\"64c000000000000000000001\",\"status\":\"on_hold\",\"response_status\":\"pending\",\"surprise\":{\"x\":[1,2]}},\"extra\":true}}"}' >/dev/null
SELECT is((SELECT row(payment_id, status) FROM okra_verify('64a000000000000000000001')),
	row('64a000000000000000000001'::text, 'on_hold'::text),
	'"id" is read when "_id" is absent, and an unrecognized status is kept');

-- HTTP 201 is a success too (API.md 3.1)
\! ctl POST faults '{"kind": "status", "status": 201, "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"payment_status\":{\"_id\":\"64a000000000000000000001\",\"amount\":10000,\"currency\":\"NGN\",\"status\":\"success\"}}}"}' >/dev/null
SELECT is((okra_verify('64a000000000000000000001')).status, 'success', 'a 201 with a success body is a success');

-- a doubled data.data is tolerated (API.md 3.3 rule 3)
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"data\":{\"payment_status\":{\"_id\":\"64a000000000000000000001\",\"amount\":10000,\"currency\":\"NGN\",\"status\":\"success\"}}}}"}' >/dev/null
SELECT is((pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)).state, 'no error',
	'a doubled data.data is tolerated');

-- JSON null for optional fields gives SQL NULL
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"ok\",\"data\":{\"payment_status\":{\"_id\":\"64a000000000000000000001\",\"amount\":10000,\"currency\":null,\"customer\":null,\"link\":null,\"status\":\"success\",\"response_status\":null}}}"}' >/dev/null
SELECT is((SELECT row(currency, customer_id, link_url, response_status) FROM okra_verify('64a000000000000000000001')),
	row(NULL::text, NULL::text, NULL::text, NULL::text), 'JSON nulls become SQL NULLs');

-- non-ASCII text in the answer arrives intact in the server encoding
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"message\":\"Ọ̀kọ́ ₦ \\u00e9\",\"data\":{\"payment_status\":{\"_id\":\"64a000000000000000000001\",\"amount\":10000,\"currency\":\"NGN\",\"status\":\"success\"}}}"}' >/dev/null
SELECT is((okra_verify('64a000000000000000000001')).response ->> 'message', 'Ọ̀kọ́ ₦ é', 'UTF-8 and \u escapes survive');

-- the sandbox saw exactly the requests made above (21 + 1 + 1 + 1 API
-- calls reached pay/verify, 6 of them answered by faults)
\set counters `ctl GET counters`
SELECT is((SELECT sum(value::int)::int FROM jsonb_each_text(:'counters'::jsonb #> '{requests,/v2/pay/verify}')),
	29, 'every verify is one request');
SELECT is((:'counters'::jsonb ->> 'faults_fired')::int, 6, 'every fault fired once');
SELECT is(:'counters'::jsonb -> 'refunds', '{}'::jsonb, 'verify executes nothing');
SELECT is((:'counters'::jsonb #>> '{requests,/v2/sandbox/pay/verify,200}')::int, 1, 'one verify through /v2/sandbox');

SELECT * FROM finish();
ROLLBACK;
