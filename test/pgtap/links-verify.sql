-- A payment made through a payment link, found by scheduled verification:
-- okra_verify_pending ties it to its link (okra_payments.link_id), and once
-- it succeeded it counts in okra_money_flow's collected for its day and
-- currency.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;

-- okra_verify_pending commits chunk by chunk, so it runs first, outside the
-- test's transaction, on a link and a payment committed for it (removed at
-- the end): the customer pays through the link, okra learns the payment's
-- id (okra_track, as from Okra's webhook) and scheduled verification does
-- the rest.
SELECT link_id AS vlink FROM okra_create_payment_link('Verified tea', 4200) \gset
\set paid `ctl POST links/:vlink/pay '{"status": "completed", "response_status": "success"}'`
SELECT :'paid'::jsonb #>> '{payment,id}' AS vpay \gset
SELECT okra_track(:'vpay') AS tracked \gset
SELECT coalesce((SELECT collected FROM okra_money_flow WHERE day = current_date AND currency = 'NGN'), 0)
	AS collected_before \gset
CALL okra_verify_pending();

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(5);

SELECT ok(:'tracked'::boolean, 'the payment made through the link is tracked');
SELECT is((SELECT row(link_id, amount, currency, outcome) FROM okra_payments WHERE payment_id = :'vpay'),
	row(:'vlink'::text, 4200::bigint, 'NGN'::text, 'succeeded'::text),
	'okra_verify_pending verified it and tied it to its link');
SELECT is((SELECT row(outcome, amount, currency) FROM okra_status_changes
			WHERE object_type = 'payment' AND object_id = :'vpay' AND outcome IS NOT NULL),
	row('succeeded'::text, 4200::bigint, 'NGN'::text), 'its status change: succeeded');
SELECT is((SELECT collected FROM okra_money_flow WHERE day = current_date AND currency = 'NGN') - :'collected_before',
	4200::numeric, 'okra_money_flow: collected for the day and NGN grew by the link payment');
SELECT is((SELECT coalesce(sum(p.amount), 0) FROM okra_payment_links AS l JOIN okra_payments AS p USING (link_id)
			WHERE l.link_id = :'vlink' AND p.outcome = 'succeeded'),
	4200::numeric, 'and what the link collected, from the ledger');

SELECT * FROM finish();
ROLLBACK;

-- what the committed part left
DELETE FROM okra_status_changes WHERE object_type = 'payment' AND object_id = :'vpay';
DELETE FROM okra_payments WHERE payment_id = :'vpay';
DELETE FROM okra_payment_links WHERE link_id = :'vlink';
DELETE FROM okra_api_calls WHERE endpoint = 'pay/link/create' AND response #>> '{data,_id}' = :'vlink';
