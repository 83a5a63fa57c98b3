-- examples/merchant.sql: the shop's views answer their questions from the
-- ledger, against payments and refunds made through okra and the sandbox.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
SELECT plan(3);
TRUNCATE okra_payments, okra_refunds, okra_status_changes, okra_api_calls;
\ir ../../examples/merchant.sql

-- order 1 paid (001), refunded twice; order 2 paid (002), refunded once;
-- order 3 pending (00a) and shipped, then its payment fails; order 4 has
-- no payment yet; order 5's payment okra has never seen.
INSERT INTO shop.orders (customer, amount, payment_id, shipped_at) VALUES
	('ada', 10000, '64a000000000000000000001', now()),
	('bayo', 25000, '64a000000000000000000002', NULL),
	('chi', 20000, '64a00000000000000000000a', clock_timestamp()),
	('dayo', 5000, NULL, NULL),
	('efe', 7500, '64a000000000000000000009', NULL);
SELECT okra_verify(payment_id) FROM shop.orders WHERE payment_id IN
	('64a000000000000000000001', '64a000000000000000000002', '64a00000000000000000000a') \g /dev/null
SELECT okra_refund('64a000000000000000000001', 1000), okra_refund('64a000000000000000000001', 2000),
       okra_refund('64a000000000000000000002', 500) \g /dev/null
\! ctl POST payments/64a00000000000000000000a '{"status": "failed"}' >/dev/null
SELECT pg_sleep(0.01), okra_verify('64a00000000000000000000a') \g /dev/null

SELECT set_eq($$SELECT order_id, customer, status FROM shop.unpaid_orders$$,
	$$VALUES (3::bigint, 'chi', 'failed'), (4, 'dayo', NULL), (5, 'efe', NULL)$$,
	'unpaid orders: a failed payment, no payment, a payment not seen');
SELECT set_eq($$SELECT order_id, refunds, refunded FROM shop.orders_refunded_more_than_once$$,
	$$VALUES (1::bigint, 2::bigint, 3000::numeric)$$, 'orders refunded more than once');
SELECT set_eq($$SELECT order_id, new_status FROM shop.failed_after_shipping$$,
	$$VALUES (3::bigint, 'failed')$$, 'orders whose payment failed after shipping');

SELECT * FROM finish();
ROLLBACK;
