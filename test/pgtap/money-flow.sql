-- okra_money_flow: money in and out per day and currency, against a
-- hand-made ledger whose sums were worked out by hand (the comments show
-- them), then against a payout made and settled through the sandbox.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(8);
TRUNCATE okra_payments, okra_refunds, okra_status_changes, okra_api_calls;
SET LOCAL TimeZone = 'UTC';

INSERT INTO okra_status_changes (object_type, object_id, payment_id, old_status, new_status, outcome, amount, currency, changed_at, fee) VALUES
	-- 2026-03-01: payments a (10000) and b (5000) succeed, c fails, d is pending
	('payment', 'a', 'a', 'pending', 'success', 'succeeded', 10000, 'NGN', '2026-03-01 09:00Z', NULL),
	('payment', 'b', 'b', NULL, 'success', 'succeeded', 5000, 'NGN', '2026-03-01 23:59Z', NULL),
	('payment', 'c', 'c', NULL, 'failed', 'failed', 3000, 'NGN', '2026-03-01 11:00Z', NULL),
	('payment', 'd', 'd', NULL, 'pending', NULL, 4000, 'NGN', '2026-03-01 12:00Z', NULL),
	--   refund r1 of a, 1000, issued; payouts p1 (2000, fee 10.75) and p2
	--   (600000, fee 26.88) issued
	('refund', 'r1', 'a', NULL, 'initiated', 'issued', 1000, 'NGN', '2026-03-01 14:00Z', NULL),
	('payout', 'p1', 'p1', NULL, 'initiated', 'issued', 2000, 'NGN', '2026-03-01 15:00Z', 10.75),
	('payout', 'p2', 'p2', NULL, 'initiated', 'issued', 600000, 'NGN', '2026-03-01 16:00Z', 26.88),
	-- 2026-03-02: p1 settles (no money moves), p2 fails (600000 and its fee
	--   come back), r1 fails (1000 comes back), payment e succeeds (20000)
	('payout', 'p1', 'p1', 'initiated', 'success', 'succeeded', 2000, 'NGN', '2026-03-02 08:00Z', 10.75),
	('payout', 'p2', 'p2', 'initiated', 'failed', 'failed', 600000, 'NGN', '2026-03-02 09:00Z', 26.88),
	('refund', 'r1', 'a', 'initiated', 'failed', 'failed', 1000, 'NGN', '2026-03-02 10:00Z', NULL),
	('payment', 'e', 'e', NULL, 'success', 'succeeded', 20000, 'NGN', '2026-03-02 11:00Z', NULL),
	-- 2026-03-03: a payment fails only: no money moved that day
	('payment', 'f', 'f', NULL, 'failed', 'failed', 900, 'NGN', '2026-03-03 11:00Z', NULL),
	-- 2026-03-02 USD: collected 700, a payout of 300 with fee 0.5
	('payment', 'g', 'g', NULL, 'success', 'succeeded', 700, 'USD', '2026-03-02 09:00Z', NULL),
	('payout', 'p3', 'p3', NULL, 'initiated', 'issued', 300, 'USD', '2026-03-02 10:00Z', 0.5);

-- (fees are in naira, as Okra gives them: the report has them in kobo)
-- 03-01 NGN: collected 15000; refunded 1000; paid out 2000 + 600000 = 602000;
--   fees 1075 + 2688 = 3763; out 1000 + 602000 + 3763 = 606763;
--   net 15000 - 606763 = -591763
-- 03-02 NGN: collected 20000; refunded -1000 (r1 came back); paid out
--   -600000 (p2 came back); fees -2688; out -603688; net 623688
-- 03-02 USD: collected 700; paid out 300; fees 50; out 350; net 350
-- 03-03: nothing moved, no row
SELECT set_eq($$SELECT day, currency, collected, refunded, paid_out, payout_fees, money_out, net FROM okra_money_flow$$,
	$$VALUES ('2026-03-01'::date, 'NGN', 15000::numeric, 1000::numeric, 602000::numeric, 3763::numeric, 606763::numeric, -591763::numeric),
	         ('2026-03-02', 'NGN', 20000, -1000, -600000, -2688, -603688, 623688),
	         ('2026-03-02', 'USD', 700, 0, 300, 50, 350, 350)$$,
	'okra_money_flow: per day and currency, as worked out by hand');
-- over both days, NGN: collected 35000, refunded 0, paid out 2000, fees
--   1075, net 35000 - 3075 = 31925
SELECT is((SELECT row(sum(collected), sum(refunded), sum(paid_out), sum(payout_fees), sum(net))
             FROM okra_money_flow WHERE currency = 'NGN'),
	row(35000::numeric, 0::numeric, 2000::numeric, 1075::numeric, 31925::numeric),
	'summed over the days, what came back cancels out: p1 and its fee are what left');
SELECT set_eq($$SELECT day, currency, net FROM okra_money_flow('2026-03-02', '2026-03-02')$$,
	$$VALUES ('2026-03-02'::date, 'NGN', 623688::numeric), ('2026-03-02', 'USD', 350)$$,
	'okra_money_flow(since, until): the days asked for');
SELECT is((SELECT count(*) FROM okra_money_flow(NULL, '2026-03-01')), 1::bigint, 'until only: the first day');
SET LOCAL TimeZone = 'Africa/Lagos';
SELECT is((SELECT collected FROM okra_money_flow WHERE day = '2026-03-02' AND currency = 'NGN'), 25000::numeric,
	'days are the session''s time zone: b (23:59 UTC) is 03-02 in Lagos');
RESET TimeZone;
SET LOCAL TimeZone = 'UTC';

-- a payout made through okra_payout, then settled as failed at the sandbox
TRUNCATE okra_status_changes;
SELECT payout_id AS po, fee AS po_fee FROM okra_payout(10000, account_to_credit => '64e000000000000000000001') \gset
SELECT is((SELECT row(paid_out, payout_fees, net) FROM okra_money_flow),
	row(10000::numeric, 100 * :'po_fee'::numeric, -(10000 + 100 * :'po_fee'::numeric)), 'a payout okra_payout made is money out, with its fee in kobo');
\set settled `ctl POST payouts/:po '{"status": "failed"}'`
SELECT okra_get_payout(:'po') \g /dev/null
SELECT is((SELECT outcome FROM okra_status_changes WHERE object_id = :'po' ORDER BY change_id DESC LIMIT 1), 'failed',
	'the ledger learnt that it failed');
SELECT is_empty('SELECT * FROM okra_money_flow', 'so its amount and fee are back: nothing moved that day');

SELECT * FROM finish();
ROLLBACK;
