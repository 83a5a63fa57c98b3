-- examples/merchant.sql: a merchant's orders next to okra's ledger.
--
-- A shop keeps its orders in its own schema; each order names the Okra
-- payment that pays for it.  The three views answer the questions finance
-- and operations ask, by joining the orders to the ledger.  Load it with
--   psql -f examples/merchant.sql
-- in a database where okra is installed (the views read the ledger, so the
-- role that loads it needs the README's reader grant).

CREATE SCHEMA IF NOT EXISTS shop;

CREATE TABLE shop.orders (
	order_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	customer	text NOT NULL,
	amount		bigint NOT NULL,			-- kobo
	payment_id	text,						-- the Okra payment, once there is one
	created_at	timestamptz NOT NULL DEFAULT now(),
	shipped_at	timestamptz
);
CREATE INDEX ON shop.orders (payment_id);

-- Orders not (yet) paid: no payment, a payment okra has not seen, or one
-- that did not succeed.
CREATE VIEW shop.unpaid_orders AS
SELECT o.order_id, o.customer, o.amount, o.payment_id, p.status, o.created_at
  FROM shop.orders o
  LEFT JOIN okra_payments p USING (payment_id)
 WHERE p.outcome IS DISTINCT FROM 'succeeded';

-- Orders whose payment was refunded more than once (refunds that did not
-- fail), with the refunds' total.
CREATE VIEW shop.orders_refunded_more_than_once AS
SELECT o.order_id, o.customer, o.amount, count(*) AS refunds, sum(r.amount) AS refunded
  FROM shop.orders o
  JOIN okra_refunds r USING (payment_id)
 WHERE r.status IS DISTINCT FROM 'failed'
 GROUP BY o.order_id, o.customer, o.amount
HAVING count(*) > 1;

-- Orders shipped before their payment failed: the status change that made
-- the payment fail came after shipping.
CREATE VIEW shop.failed_after_shipping AS
SELECT o.order_id, o.customer, o.amount, o.payment_id, o.shipped_at,
	   c.new_status, c.changed_at AS failed_at
  FROM shop.orders o
  JOIN okra_status_changes c ON c.object_type = 'payment' AND c.object_id = o.payment_id
 WHERE o.shipped_at IS NOT NULL
   AND c.outcome = 'failed'
   AND c.changed_at > o.shipped_at;
