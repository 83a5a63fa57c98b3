-- Reading Okra's records: okra_get_payment (pay/get/id, recorded like a
-- verify), and the lazy lists okra_list_payments (pay/list) and
-- okra_customer_payments (pay/get/): a page is asked for only when the
-- query needs its rows; the lists write nothing.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(24);


--
-- okra_get_payment
--
\set p1 `ctl POST payments '{"status": "success", "amount": 12300, "customer": "64c0000000000000000000aa"}' | jq -r .payment.id`
SELECT is((SELECT row(payment_id, status, amount, currency, customer_id) FROM okra_get_payment(:'p1')),
	row(:'p1'::text, 'success'::text, 12300::bigint, 'NGN'::text, '64c0000000000000000000aa'::text),
	'okra_get_payment returns Okra''s record of the payment');
SELECT is((okra_get_payment(upper(:'p1'))).response #>> '{data,payment,id}', :'p1',
	'response is the whole body; the id is taken in any case');
SELECT is((SELECT row(status, amount, customer_id) FROM okra_payments WHERE payment_id = :'p1'),
	row('success'::text, 12300::bigint, '64c0000000000000000000aa'::text), 'and the ledger has it');
SELECT is((SELECT count(*) FROM okra_api_calls WHERE payment_id = :'p1' AND endpoint = 'pay/get/id'), 2::bigint,
	'each call is in okra_api_calls');
SELECT is((pg_temp.err($$SELECT okra_get_payment('64a0ffffffffffffffffffff')$$)).state, 'OK006',
	'an id Okra does not know: OK006');
SELECT is((pg_temp.err($$SELECT okra_get_payment('nope')$$)).message, 'invalid payment_id: "nope"',
	'a malformed id: 22023, nothing sent');
SELECT is((pg_temp.err($$SELECT okra_get_payment(NULL)$$)).state, '22023', 'NULL: 22023');

--
-- okra_list_payments: every payment, exactly once, a page at a time
--
SELECT (okra_request('pay/list', '{"limit": 1}') #>> '{data,pagination,totalDocs}')::int AS total \gset
SELECT is((SELECT count(*) FROM okra_list_payments(7))::int, :total, 'okra_list_payments walks every page: all payments');
SELECT is((SELECT count(DISTINCT payment_id) FROM okra_list_payments(7))::int, :total, 'each exactly once');
SELECT is((SELECT count(*) FROM okra_list_payments(100))::int, :total, 'whatever the page size');
SELECT is((SELECT payment_id FROM okra_list_payments(3) LIMIT 1), :'p1', 'newest first: the payment just made');
SELECT is((SELECT response ->> 'id' FROM okra_list_payments(3) LIMIT 1), :'p1',
	'a row''s response is its payment object');

-- lazily, called in the select list (in FROM, PostgreSQL runs a
-- set-returning function to the end before the first row is used): LIMIT
-- 10 over pages of 10 costs one request, 11 costs two
\set c0 `ctl GET counters`
SELECT is((SELECT count(*) FROM (SELECT okra_list_payments(10) LIMIT 10) s), 10::bigint, 'LIMIT 10 over pages of 10');
\set c1 `ctl GET counters`
SELECT is(pg_temp.requests(:'c1', 'pay/list') - pg_temp.requests(:'c0', 'pay/list'), 1::bigint, 'costs one request');
SELECT is((SELECT count((p).payment_id) FROM (SELECT okra_list_payments(10) AS p LIMIT 11) s), 11::bigint, 'LIMIT 11');
\set c2 `ctl GET counters`
SELECT is(pg_temp.requests(:'c2', 'pay/list') - pg_temp.requests(:'c1', 'pay/list'), 2::bigint, 'costs two');

SELECT is((pg_temp.err('SELECT * FROM okra_list_payments(0)')).message, 'invalid page_size: 0', 'page_size 0: 22023');
SELECT is((pg_temp.err('SELECT * FROM okra_list_payments(101)')).detail, 'page_size is from 1 to 100.', 'page_size over 100 too');

--
-- okra_customer_payments
--
\set cust 64c0000000000000000000bb
\! ctl POST payments '{"status": "success", "amount": 100, "customer": "64c0000000000000000000bb"}' >/dev/null
\! ctl POST payments '{"status": "pending", "amount": 200, "customer": "64c0000000000000000000bb"}' >/dev/null
\! ctl POST payments '{"status": "failed", "amount": 300, "customer": "64c0000000000000000000bb"}' >/dev/null
SELECT is(array(SELECT amount FROM okra_customer_payments(:'cust', 2) ORDER BY amount), ARRAY[100, 200, 300]::bigint[],
	'one customer''s payments, over two pages of 2, and no one else''s');
SELECT is((SELECT count(*) FROM okra_customer_payments('64c0000000000000000000cc')), 0::bigint,
	'a customer with none: no rows');
SELECT is((pg_temp.err($$SELECT * FROM okra_customer_payments('x')$$)).message, 'invalid customer_id: "x"',
	'a malformed customer id: 22023');

-- the lists write nothing: they work in a read-only transaction, and
-- leave the ledger as it was
SELECT count(*) AS ledger, (SELECT count(*) FROM okra_api_calls) AS calls FROM okra_payments \gset
SAVEPOINT ro;
SET LOCAL transaction_read_only = on;
SELECT (SELECT count(*) FROM okra_customer_payments(:'cust')) AS ro_customer,
	   (SELECT count(*) FROM (SELECT okra_list_payments(5) LIMIT 5) s) AS ro_list,
	   (SELECT count(*) FROM okra_payments) || ' ' || (SELECT count(*) FROM okra_api_calls) AS ro_ledger \gset
ROLLBACK TO SAVEPOINT ro;
SELECT is(:'ro_customer'::text, '3', 'okra_customer_payments works read-only');
SELECT is(:'ro_list'::text, '5', 'okra_list_payments too');
SELECT is(:'ro_ledger'::text, :'ledger' || ' ' || :'calls', 'and the ledger is as it was');

SELECT * FROM finish();
ROLLBACK;
