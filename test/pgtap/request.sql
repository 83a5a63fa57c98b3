-- okra_request: any endpoint, the whole response body as jsonb.
\! ctl POST reset >/dev/null
\getenv key OKRA_SANDBOX_KEY
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(25);

-- a new payment, in initialize, made by okra_initiate_payment: its whole answer
CREATE TEMP TABLE ini AS
SELECT (okra_initiate_payment('64d000000000000000000001', 5000)).response AS r;
SELECT is((SELECT r ->> 'status' FROM ini), 'success', 'pay/initiate: status success');
SELECT is((SELECT r ->> 'message' FROM ini), 'Payment succesfully initiated!', 'pay/initiate: Okra''s message verbatim');
SELECT is((SELECT jsonb_build_array(r #> '{data,payment,status}', r #> '{data,payment,amount}',
                                    r #> '{data,payment,debit_account}', r #> '{data,payment,credit_account}') FROM ini),
	'["initialize", 5000, "64d000000000000000000001", "Okra Wallet"]'::jsonb, 'pay/initiate: the new payment');
SELECT ok((SELECT r -> 'data' ?& ARRAY['payment', 'okra_wallet', 'callback_url', 'customer'] FROM ini),
	'pay/initiate: data has payment, okra_wallet, callback_url, customer');
SELECT (r #>> '{data,payment,id}') AS new_id FROM ini \gset
SELECT is((SELECT row(payment_id, status, amount) FROM okra_verify(:'new_id')),
	row(:'new_id'::text, 'initialize'::text, 5000::bigint), 'the initiated payment verifies');

-- pay/get/id (pay/get/Id, the older SDKs' spelling, is refused: test/pgtap/endpoints.sql)
CREATE TEMP TABLE one AS
SELECT okra_request('pay/get/id', jsonb_build_object('payment_id', :'new_id')) AS r;
SELECT is((SELECT r #>> '{data,payment,id}' FROM one), :'new_id', 'pay/get/id: the payment');
SELECT is((SELECT r ->> 'message' FROM one), 'Payment successfully retrieved.', 'pay/get/id: message');
SELECT is((SELECT r #> '{data,payment}' FROM one),
	(SELECT r #> '{data,payment}' FROM ini) || '{"response_status": "pending"}'::jsonb,
	'pay/get/id: the initiate shape plus response_status');
SELECT throws_ok($$SELECT okra_request('pay/get/Id', '{"payment_id": "64a000000000000000000010"}')$$,
	'22023', 'invalid Okra API endpoint: "pay/get/Id"',
	'pay/get/Id (the older SDKs'' spelling) is refused: endpoints are lower case (pay/get/id)');

-- pay/list: every payment of the merchant, newest first, paged
\set state `ctl GET state`
SELECT count(*) AS n_payments FROM jsonb_array_elements(:'state'::jsonb -> 'owners') o,
	jsonb_array_elements(o -> 'payments') p WHERE o -> 'keys' ? :'key' \gset
CREATE TEMP TABLE lst AS SELECT okra_request('pay/list') AS r;
SELECT is((SELECT (r #>> '{data,pagination,totalDocs}')::int FROM lst), :n_payments, 'pay/list: totalDocs');
SELECT is((SELECT jsonb_array_length(r #> '{data,payments}') FROM lst), 20, 'pay/list: 20 per page by default');
SELECT is((SELECT r #>> '{data,payments,0,id}' FROM lst), :'new_id', 'pay/list: newest first');
SELECT is((SELECT (r #> '{data,pagination}') - 'totalDocs'::text FROM lst),
	'{"page": 1, "limit": 20, "nextPage": 2, "prevPage": null, "totalPages": 2, "hasNextPage": true, "hasPrevPage": false, "pagingCounter": 1}'::jsonb,
	'pay/list: pagination');
CREATE TEMP TABLE lst2 AS SELECT okra_request('pay/list', '{"page": 2, "limit": 5}') AS r;
SELECT is((SELECT r #> '{data,pagination}' FROM lst2),
	jsonb_build_object('totalDocs', :n_payments, 'limit', 5, 'page', 2, 'totalPages', 5, 'pagingCounter', 6,
	                   'hasPrevPage', true, 'hasNextPage', true, 'prevPage', 1, 'nextPage', 3),
	'pay/list: page 2 of 5');
SELECT is((SELECT count(*) FROM lst, lst2,
	jsonb_array_elements(lst.r #> '{data,payments}') a, jsonb_array_elements(lst2.r #> '{data,payments}') b
	WHERE a -> 'id' = b -> 'id'), 5::bigint, 'page 2 of 5 is items 6 to 10 of page 1 of 20');

-- the endpoints that move money and have a typed function are refused,
-- with nothing sent (payouts' answers: test/pgtap/payouts.sql)
\set c0 `ctl GET counters`
SELECT throws_ok($$SELECT okra_request('pay/initiate', '{"account_to_debit": "64d000000000000000000001", "amount": 5000}')$$,
	'22023', 'okra_request cannot send payment initiations', 'pay/initiate: refused, okra_initiate_payment instead');
SELECT throws_ok($$SELECT okra_request('pay/payout', '{"account_to_credit": "64e000000000000000000001", "amount": 10000}')$$,
	'22023', 'okra_request cannot send payouts', 'pay/payout: refused, okra_payout instead');
SELECT throws_ok($$SELECT okra_request('sandbox/pay/authorization/initiate', '{}')$$,
	'22023', 'okra_request cannot send payments on an authorization', 'pay/authorization/initiate: refused, under the sandbox/ prefix too');
SELECT throws_ok($$SELECT okra_request('bulkfiles/initiate', '{}')$$,
	'22023', 'okra_request cannot send bulk payments', 'bulkfiles/initiate: refused');
\set c1 `ctl GET counters`
SELECT is(pg_temp.requests(:'c1', 'pay/initiate') + pg_temp.requests(:'c1', 'pay/payout')
          + pg_temp.requests(:'c1', 'pay/authorization/initiate') + pg_temp.requests(:'c1', 'bulkfiles/initiate'),
	pg_temp.requests(:'c0', 'pay/initiate') + pg_temp.requests(:'c0', 'pay/payout')
	+ pg_temp.requests(:'c0', 'pay/authorization/initiate') + pg_temp.requests(:'c0', 'bulkfiles/initiate'),
	'none of them reached the sandbox');

-- okra_request on the functions' own endpoints returns what they parse
SELECT is(okra_request('pay/verify', '{"payment_id": "64a000000000000000000003"}'),
	(okra_verify('64a000000000000000000003')).response, 'okra_request(pay/verify) = okra_verify(...).response');

-- the default body is {}
SELECT throws_ok($$SELECT okra_request('pay/verify')$$, 'OK009', 'Invalid or missing payment_id.',
	'the default body {} is sent (and the sandbox wants payment_id)');
-- a rejection is raised, not returned
SELECT throws_ok($$SELECT okra_request('pay/get/id', '{"payment_id": "64a0000000000000000000ff"}')$$, 'OK006',
	'Payment not found.', 'pay/get/id of an unknown id raises OK006');
SELECT throws_ok($$SELECT okra_request('banks/list')$$, 'OK009',
	'The API Route you''re using doesn''t exist. Check our documentation and confirm the route.',
	'an endpoint the sandbox does not serve raises OK009');

-- the endpoints requested, as the sandbox saw them
\set counters `ctl GET counters`
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'counters'::jsonb -> 'requests') k),
	ARRAY['/v2/banks/list', '/v2/pay/get/id', '/v2/pay/initiate', '/v2/pay/list',
	      '/v2/pay/verify'],
	'each call went to base_url + "/" + endpoint');

SELECT * FROM finish();
ROLLBACK;
