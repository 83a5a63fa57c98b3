-- bench/ledger/generate.sql: a ledger of realistic size, written straight
-- into okra's tables (as the superuser the benchmark runs as).
--   :payments payments over the last 365 days: 85% succeed, 8% fail, 4% are
--     cancelled, 3% are still pending; one status change when first seen and
--     one when final
--   :refunds refunds of succeeded payments (95% complete, 5% fail)
--   :calls API calls over the last 90 days (okra_prune_api_calls' default),
--     2% of them failed, each with a small request and response body
\set ON_ERROR_STOP on
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';

CREATE TEMP TABLE gen_payments AS
SELECT lpad(to_hex(i), 24, '0') AS payment_id,
	   CASE WHEN r < 0.85 THEN 'success' WHEN r < 0.93 THEN 'failed'
			WHEN r < 0.97 THEN 'cancelled' ELSE 'pending' END AS status,
	   (1 + (i * 7919) % 500) * 1000::bigint AS amount,
	   now() - (i % 365) * interval '1 day' - (i % 86400) * interval '1 second' AS seen_at,
	   'c' || lpad(to_hex(1 + i % 50000), 23, '0') AS customer_id
  FROM (SELECT i, (i * 2654435761 % 1000000) / 1000000.0 AS r
		  FROM generate_series(1::bigint, :payments) i) g;

INSERT INTO okra_payments (payment_id, status, response_status, amount, currency, customer_id,
						   refunded_amount, first_seen_at, last_checked_at, status_changed_at,
						   next_check_at, check_count, terminal, outcome)
SELECT payment_id, status, CASE status WHEN 'cancelled' THEN 'cancelled' ELSE status END,
	   amount, 'NGN', customer_id, 0, seen_at,
	   seen_at + interval '2 minutes', seen_at + interval '2 minutes',
	   CASE WHEN status = 'pending' THEN seen_at + interval '3 minutes' END, 2,
	   okra_status_is_terminal(status), okra_payment_outcome(status, status)
  FROM gen_payments;

INSERT INTO okra_status_changes (object_type, object_id, payment_id, old_status, new_status,
								 outcome, amount, currency, changed_at)
SELECT 'payment', payment_id, payment_id, NULL, 'pending', NULL, amount, 'NGN', seen_at
  FROM gen_payments
UNION ALL
SELECT 'payment', payment_id, payment_id, 'pending', status,
	   CASE status WHEN 'success' THEN 'succeeded' ELSE status END, amount, 'NGN',
	   seen_at + interval '2 minutes'
  FROM gen_payments WHERE status <> 'pending';

-- refunds: the first :refunds succeeded payments, each refunded in part
CREATE TEMP TABLE gen_refunds AS
SELECT 'f' || lpad(to_hex(x.n), 23, '0') AS refund_id, x.payment_id, x.amount / 4 AS amount,
	   CASE WHEN x.n % 20 = 0 THEN 'failed' ELSE 'completed' END AS status,
	   x.seen_at + interval '1 day' AS initiated_at
  FROM (SELECT row_number() OVER () AS n, payment_id, amount, seen_at
		  FROM gen_payments WHERE status = 'success' LIMIT :refunds) x;

INSERT INTO okra_refunds (refund_id, payment_id, amount, currency, reason, status,
						  refund_payment_id, refund_payment_status, initiated_at,
						  succeeded_at, failed_at, last_checked_at, requested_by)
SELECT refund_id, payment_id, amount, 'NGN', 'bench', status, 'e' || substr(refund_id, 2),
	   CASE status WHEN 'failed' THEN 'failed' ELSE 'success' END, initiated_at,
	   CASE WHEN status = 'completed' THEN initiated_at + interval '1 hour' END,
	   CASE WHEN status = 'failed' THEN initiated_at + interval '1 hour' END,
	   initiated_at + interval '1 hour', 'app'
  FROM gen_refunds;

UPDATE okra_payments p SET refunded_amount = r.amount
  FROM gen_refunds r WHERE r.payment_id = p.payment_id AND r.status <> 'failed';

INSERT INTO okra_status_changes (object_type, object_id, payment_id, old_status, new_status,
								 outcome, amount, currency, changed_at)
SELECT 'refund', refund_id, payment_id, NULL, 'initiated', 'issued', amount, 'NGN', initiated_at
  FROM gen_refunds
UNION ALL
SELECT 'refund', refund_id, payment_id, 'initiated', status, status, amount, 'NGN',
	   initiated_at + interval '1 hour'
  FROM gen_refunds;

INSERT INTO okra_api_calls (called_at, endpoint, payment_id, http_status, okra_status,
							okra_message, sqlstate, duration_ms, request, response, role)
SELECT now() - (i % (90 * 86400)) * interval '1 second',
	   CASE WHEN i % 10 = 0 THEN 'pay/refund' ELSE 'pay/verify' END,
	   lpad(to_hex(1 + i % :payments), 24, '0'),
	   CASE WHEN i % 50 = 0 THEN 400 ELSE 200 END,
	   CASE WHEN i % 50 = 0 THEN 'error' ELSE 'success' END,
	   CASE WHEN i % 50 = 0 THEN 'Payment not found.' ELSE 'Payment Status suceccefully retrieved!' END,
	   CASE WHEN i % 50 = 0 THEN 'OK006' END,
	   0.2 + (i * 7919 % 1000) / 100.0,
	   jsonb_build_object('payment_id', lpad(to_hex(1 + i % :payments), 24, '0')),
	   jsonb_build_object('status', 'success', 'data',
						  jsonb_build_object('payment_status', jsonb_build_object('status', 'success'))),
	   'app'
  FROM generate_series(1::bigint, :calls) i;

VACUUM ANALYZE okra_payments, okra_refunds, okra_status_changes, okra_api_calls;
