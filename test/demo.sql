-- The README demo, run by demo.sh against okra-sandbox seeded with
-- test/sandbox/seed-demo.json. Amounts are in kobo (100 kobo = 1 naira).
\pset footer off
\echo
\echo '-- 1. What is the status of payment 5f88ebf63103d912f1d4baca?'
SELECT payment_id, status, response_status, amount, currency, customer_id
  FROM okra_verify('5f88ebf63103d912f1d4baca');

\echo '-- 2. Cancel a payment that is still pending.'
SELECT payment_id, status, response_status
  FROM okra_cancel('5f88ebf63103d912f1d4bacb');

\echo '-- 3. Refund 2,500 kobo of the successful payment, with a reason.'
SELECT refund_id IS NOT NULL AS has_refund_id, payment_id, amount, status,
       reason, refund_payment_status, wallet_balance
  FROM okra_refund('5f88ebf63103d912f1d4baca', 2500, 'damaged goods');

\echo '-- 4. Refund the rest (amount NULL), then verify the refund payment.'
SELECT r.amount AS refunded_now, v.status AS refund_payment_status
  FROM okra_refund('5f88ebf63103d912f1d4baca') AS r,
       LATERAL okra_verify(r.refund_payment_id) AS v;

\echo '-- 5. A third refund is refused (the ledger knows the payment is refunded in full,'
\echo '--    so nothing is sent); catch exactly that case by its SQLSTATE, as for Okra''s own.'
\echo '--    The detail tells a local refusal ("Nothing was sent to Okra.") from Okra''s.'
DO $$
DECLARE
	detail	text;
BEGIN
	PERFORM okra_refund('5f88ebf63103d912f1d4baca');
EXCEPTION WHEN SQLSTATE 'OK001' THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	IF detail LIKE '%Nothing was sent to Okra.%' THEN
		RAISE NOTICE 'refused by okra''s ledger, nothing sent: % (SQLSTATE %)', SQLERRM, SQLSTATE;
	ELSE
		RAISE NOTICE 'Okra refused it: % (SQLSTATE %)', SQLERRM, SQLSTATE;
	END IF;
END
$$;

\echo '-- 6. Any other error is raised with its own SQLSTATE, Okra''s message and the endpoint:'
\set ON_ERROR_STOP 0
\set VERBOSITY verbose
SELECT * FROM okra_refund('5f88ebf63103d912f1d4bacd');
\set ON_ERROR_STOP 1
\set VERBOSITY default

\echo '-- 7. Every call above that succeeded is in the ledger (the failed ones rolled back with their rows).'
SELECT payment_id, amount, refunded, remaining FROM okra_refundable;
SELECT refund_id IS NOT NULL AS has_refund_id, payment_id, amount, status, requested_by FROM okra_refunds ORDER BY amount;
SELECT endpoint, count(*) AS calls FROM okra_api_calls GROUP BY endpoint ORDER BY endpoint;
