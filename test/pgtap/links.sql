-- okra_create_payment_link: payment links.  The row, the ledger row it
-- writes (one per link, also when Okra answers the same link again), the
-- journal, fixed, open and recurring links, Okra's refusals, bad input
-- refused before anything is sent, and a payment made through a link tied
-- to it once verified.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(56);

\set acct 64d0000000000000000000b1

--
-- a fixed amount
--
\set before `ctl GET counters`
CREATE TEMP TABLE l1 AS
	SELECT * FROM okra_create_payment_link('Order 1001', 25000, note => 'Two boxes of tea');
SELECT link_id AS link1, short_url AS short1 FROM l1 \gset
SELECT ok(:'link1' ~ '^[0-9a-f]{24}$', 'a link: its id');
SELECT is((SELECT row(url, surl, name, amount, currency, type, note, schedule_interval) FROM l1),
	row('https://dev-pay.okra.ng/' || :'short1', 'https://dev.okr.to/' || :'short1', 'Order 1001'::text,
		25000::bigint, 'NGN'::text, 'one-time'::text, 'Two boxes of tea'::text, NULL::text),
	'its addresses, name, amount, currency, type and note');
SELECT ok((SELECT account ~ '^[0-9a-f]{24}$' FROM l1), 'the account it credits: Okra''s default when none is given');
SELECT is((SELECT row(response ->> 'message', response #>> '{data,_id}') FROM l1),
	row('Payment link successfully created!'::text, :'link1'::text), 'response is the whole body');
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'pay/link/create') - pg_temp.requests(:'before', 'pay/link/create'), 1::bigint,
	'one request');
SELECT is((SELECT row(name, amount, currency, type, note, account, url, short_url, created_by, response)
			 FROM okra_payment_links WHERE link_id = :'link1'),
	(SELECT row(name, amount, currency, type, note, account, url, short_url, current_user::name, response) FROM l1),
	'the ledger has the link');
SELECT okra_journal_flush();
SELECT is((SELECT row(outcome, created_id) FROM okra_journal WHERE endpoint = 'pay/link/create' AND created_id = :'link1'),
	row('succeeded'::text, :'link1'::text), 'the journal has the call, succeeded, with the link it created');

-- the same details: Okra answers the same link, and the ledger keeps one row
SELECT last_seen_at AS seen1 FROM okra_payment_links WHERE link_id = :'link1' \gset
SELECT pg_sleep(0.01);
\set before `ctl GET counters`
SELECT is((SELECT link_id FROM okra_create_payment_link('Order 1001', 25000, note => 'Two boxes of tea')), :'link1',
	'the same details again: the same link');
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'pay/link/create') - pg_temp.requests(:'before', 'pay/link/create'), 1::bigint,
	'asked of Okra (it makes links idempotent, okra does not need to)');
SELECT is((SELECT count(*) FROM okra_payment_links WHERE name = 'Order 1001'), 1::bigint, 'one ledger row');
SELECT ok((SELECT last_seen_at > :'seen1' AND created_at < last_seen_at FROM okra_payment_links WHERE link_id = :'link1'),
	'seen again: last_seen_at moves, created_at stays');
SELECT isnt((SELECT link_id FROM okra_create_payment_link('Order 1001', 25000, note => 'Three boxes')), :'link1',
	'another note: another link');

-- an older answer never overwrites a newer one: a row seen later (here a
-- day ahead) keeps its answer; the call still returns its own
SELECT link_id AS link4 FROM okra_create_payment_link('Order 1002', 25000) \gset
UPDATE okra_payment_links SET last_seen_at = now() + interval '1 day', response = '{"newer": true}'
 WHERE link_id = :'link4';
CREATE TEMP TABLE l4 AS SELECT * FROM okra_create_payment_link('Order 1002', 25000);
SELECT is((SELECT row(link_id, response ->> 'message') FROM l4),
	row(:'link4'::text, 'Payment link successfully created!'::text), 'asked again: the call returns its own answer');
SELECT is((SELECT row(last_seen_at = now() + interval '1 day', response) FROM okra_payment_links WHERE link_id = :'link4'),
	row(true, '{"newer": true}'::jsonb), 'but an older answer does not overwrite the newer row');

--
-- an open amount, an account, the redirects
--
CREATE TEMP TABLE l2 AS
	SELECT * FROM okra_create_payment_link('Donations', NULL, account => upper(:'acct'),
		success_url => 'https://shop.example/thanks', callback_url => 'https://shop.example/okra/hook');
SELECT link_id AS link2 FROM l2 \gset
SELECT is((SELECT row(amount, account, type) FROM l2), row(NULL::bigint, :'acct'::text, 'one-time'::text),
	'an open amount: NULL, the payer chooses; the account given (lower case)');
SELECT is((SELECT response #> '{data,amount}' FROM l2), 'null'::jsonb, 'Okra has no amount for it');
SELECT is((SELECT request - 'name' - 'currency' - 'type' - 'account' FROM okra_api_calls
			WHERE endpoint = 'pay/link/create' AND response #>> '{data,_id}' = :'link2'),
	'{"amount": null, "success_url": "https://shop.example/thanks", "callback_url": "https://shop.example/okra/hook"}'::jsonb,
	'sent: amount null, and the redirects');
SELECT is((SELECT row(amount, account) FROM okra_payment_links WHERE link_id = :'link2'), row(NULL::bigint, :'acct'::text),
	'the ledger row');

--
-- recurring
--
CREATE TEMP TABLE l3 AS
	SELECT * FROM okra_create_payment_link('Tea club', 5000, schedule_interval => 'monthly',
		start_date => '2027-01-01', end_date => '2027-12-31');
SELECT link_id AS link3 FROM l3 \gset
SELECT is((SELECT row(type, schedule_interval, start_date, end_date) FROM l3),
	row('recurring'::text, 'monthly'::text, '2027-01-01'::date, '2027-12-31'::date), 'a recurring link: its schedule');
SELECT is((SELECT response #> '{data,schedule}' FROM l3),
	'{"interval": "monthly", "startDate": "2027-01-01", "endDate": "2027-12-31"}'::jsonb, 'as Okra has it');
SELECT is((SELECT row(type, schedule_interval, start_date, end_date) FROM okra_payment_links WHERE link_id = :'link3'),
	row('recurring'::text, 'monthly'::text, '2027-01-01'::date, '2027-12-31'::date), 'and as the ledger has it');
SELECT is((SELECT row(type, start_date) FROM okra_create_payment_link('Tea club weekly', 700, schedule_interval => 'weekly')),
	row('recurring'::text, NULL::date), 'an interval without dates: Okra starts it today');
-- dates go to Okra as YYYY-MM-DD whatever DateStyle says
SAVEPOINT ds;
SET LOCAL DateStyle = 'SQL, DMY';
SELECT (okra_create_payment_link('Tea club DMY', 700, schedule_interval => 'yearly', start_date => '2027-01-06'))
	   .response #>> '{data,schedule,startDate}' AS sent_date \gset
ROLLBACK TO SAVEPOINT ds;
SELECT is(:'sent_date'::text, '2027-01-06', 'a start date under DateStyle SQL, DMY goes as 2027-01-06');

--
-- Okra's refusals: OK009, Okra's message, journaled failed, no ledger row
--
SELECT is(e.state || ' ' || e.message, 'OK009 schedule.startDate must not be after schedule.endDate.',
	'an end before today, without a start (Okra starts it today): refused by Okra')
  FROM pg_temp.err($$SELECT okra_create_payment_link('Too late', 700, schedule_interval => 'daily', end_date => '2020-01-01')$$) AS e;
SELECT is(e.state || ' ' || e.message, 'OK009 Invalid or missing schedule.startDate.',
	'a start before 1900: refused by Okra')
  FROM pg_temp.err($$SELECT okra_create_payment_link('Too early', 700, schedule_interval => 'daily', start_date => '1899-12-31')$$) AS e;
\! ctl POST faults '{"kind": "status", "status": 400, "body": "{\"status\": \"error\", \"message\": \"Invalid or missing account.\"}", "route": "pay/link/create"}' >/dev/null
SELECT is(e.state || ' ' || e.message || ' / ' || e.detail,
	'OK009 Invalid or missing account. / Okra API endpoint "pay/link/create" answered HTTP 400.',
	'an account Okra does not take: OK009')
  FROM pg_temp.err(format('SELECT okra_create_payment_link(%L, 700, account => %L)', 'Other account', :'acct')) AS e;
SELECT is((SELECT count(*) FROM okra_payment_links WHERE name IN ('Too late', 'Too early', 'Other account')), 0::bigint,
	'no ledger row for a refused link');
SELECT okra_journal_flush();
SELECT is((SELECT array_agg(outcome ORDER BY journal_id) FROM okra_journal
			WHERE endpoint = 'pay/link/create' AND journal_id > (SELECT max(journal_id) - 3 FROM okra_journal)),
	ARRAY['failed', 'failed', 'failed'], 'the journal has them failed');

-- an answer whose addresses are not strings: OK011, no ledger row
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\": \"success\", \"message\": \"Payment link successfully created!\", \"data\": {\"_id\": \"64f00000000000000000e001\", \"url\": 5, \"surl\": \"https://dev.okr.to/x\", \"short_url\": \"x\"}}", "route": "pay/link/create"}' >/dev/null
SELECT is(e.state || ' ' || e.message || ' / ' || e.detail,
	'OK011 invalid response from Okra API endpoint "pay/link/create": unexpected shape / Okra API endpoint "pay/link/create" answered HTTP 200. The link''s "data.url" is not a string.',
	'a url that is a number: OK011, unexpected shape')
  FROM pg_temp.err($$SELECT okra_create_payment_link('Bad url', 700)$$) AS e;
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\": \"success\", \"data\": {\"_id\": \"64f00000000000000000e002\", \"url\": \"https://dev-pay.okra.ng/x\", \"surl\": [], \"short_url\": \"x\"}}", "route": "pay/link/create"}' >/dev/null
SELECT is((pg_temp.err($$SELECT okra_create_payment_link('Bad surl', 700)$$)).state, 'OK011', 'a surl that is an array: OK011');
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\": \"success\", \"data\": {\"_id\": \"64f00000000000000000e003\", \"url\": \"https://dev-pay.okra.ng/x\", \"surl\": \"https://dev.okr.to/x\", \"short_url\": true}}", "route": "pay/link/create"}' >/dev/null
SELECT is((pg_temp.err($$SELECT okra_create_payment_link('Bad short_url', 700)$$)).state, 'OK011', 'a short_url that is a boolean: OK011');
SELECT is((SELECT count(*) FROM okra_payment_links WHERE link_id LIKE '64f00000000000000000e00_'), 0::bigint,
	'no ledger row for them');

--
-- bad input: 22023, nothing sent
--
\set before `ctl GET counters`
SELECT is(e.state || ' ' || e.message, '22023 name must not be null', 'no name')
  FROM pg_temp.err($$SELECT okra_create_payment_link(NULL, 100)$$) AS e;
SELECT is(e.message || ' / ' || e.detail, 'invalid name: " " / A payment link needs a name, which the payer sees.', 'a blank name')
  FROM pg_temp.err($$SELECT okra_create_payment_link(' ', 100)$$) AS e;
SELECT is(e.state || ' ' || e.message || ' / ' || e.detail,
	'22023 invalid amount: 99 / A link''s amount is in kobo and at least 100; NULL lets the payer choose.', 'an amount under 100 kobo')
  FROM pg_temp.err($$SELECT okra_create_payment_link('x', 99)$$) AS e;
SELECT is((pg_temp.err($$SELECT okra_create_payment_link('x', -5)$$)).message, 'invalid amount: -5', 'a negative amount');
SELECT is((pg_temp.err($$SELECT okra_create_payment_link('x', 100, NULL)$$)).message, 'currency must not be null', 'no currency');
SELECT is(e.message || ' / ' || e.detail, 'invalid currency: "USD" / Okra takes payments in NGN only.', 'another currency')
  FROM pg_temp.err($$SELECT okra_create_payment_link('x', 100, 'USD')$$) AS e;
SELECT is((pg_temp.err($$SELECT okra_create_payment_link('x', 100, account => 'nope')$$)).message,
	'invalid account: "nope"', 'a malformed account');
SELECT is((pg_temp.err($$SELECT okra_create_payment_link('x', 100, schedule_interval => 'hourly')$$)).message,
	'invalid schedule_interval: "hourly"', 'an interval Okra does not have');
SELECT is((pg_temp.err($$SELECT okra_create_payment_link('x', 100, end_date => '2027-01-01')$$)).message,
	'start_date and end_date need a schedule_interval', 'a date without an interval');
SELECT is((pg_temp.err($$SELECT okra_create_payment_link('x', 100, schedule_interval => 'monthly',
		start_date => '2027-06-30', end_date => '2027-01-01')$$)).message,
	'invalid schedule: start_date 2027-06-30 is after end_date 2027-01-01', 'dates in the wrong order');
SELECT is((pg_temp.err($$SELECT okra_create_payment_link('x', 100, schedule_interval => 'monthly', start_date => '-infinity')$$)).message,
	'invalid start_date: -infinity', 'an infinite date');
SELECT is((pg_temp.err($$SELECT okra_create_payment_link('x', 100, success_url => 'ftp://shop.example/')$$)).message,
	'invalid success_url: "ftp://shop.example/"', 'a success_url that is not http(s)');
SELECT is((pg_temp.err($$SELECT okra_create_payment_link('x', 100, callback_url => 'https://shop.example/a b')$$)).state,
	'22023', 'a callback_url with a space');
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'pay/link/create'), pg_temp.requests(:'before', 'pay/link/create'),
	'none of them reached Okra');

-- where the ledger cannot be written: 25006, nothing sent
\set before `ctl GET counters`
SAVEPOINT ro;
SET LOCAL transaction_read_only = on;
SELECT (pg_temp.err($$SELECT okra_create_payment_link('Read only', 100)$$)).state AS ro_state \gset
ROLLBACK TO SAVEPOINT ro;
\set after `ctl GET counters`
SELECT is(:'ro_state'::text, '25006', 'read-only: 25006');
SELECT is(pg_temp.requests(:'after', 'pay/link/create'), pg_temp.requests(:'before', 'pay/link/create'), 'and nothing sent');

--
-- payments through a link, tied to it once verified
--
\set paid1 `ctl POST links/:link1/pay '{"status": "completed", "response_status": "success"}'`
\set paid2 `ctl POST links/:link2/pay '{"status": "completed", "response_status": "success", "amount": 1500}'`
SELECT :'paid1'::jsonb #>> '{payment,id}' AS pay1, :'paid2'::jsonb #>> '{payment,id}' AS pay2 \gset
SELECT is((okra_verify(:'pay1')).link_url, 'https://dev-pay.okra.ng/' || :'short1', 'okra_verify: the payment names its link');
SELECT is((SELECT row(link_id, amount, outcome) FROM okra_payments WHERE payment_id = :'pay1'),
	row(:'link1'::text, 25000::bigint, 'succeeded'::text), 'the ledger ties the payment to its link');
SELECT is((okra_get_payment(:'pay2')).status, 'completed', 'okra_get_payment of a payment through the open link');
SELECT is((SELECT link_id FROM okra_payments WHERE payment_id = :'pay2'), :'link2',
	'tied to its link too (pay/get/id names the link by its id)');
SELECT is((SELECT array_agg(row(l.name, p.amount)::text ORDER BY l.name)
			 FROM okra_payment_links AS l JOIN okra_payments AS p USING (link_id)),
	ARRAY['(Donations,1500)', '("Order 1001",25000)'], 'each link and its payments');
-- a payment not made through a link has none
\set paid3 `ctl POST payments '{"status": "completed", "response_status": "success", "amount": 800}'`
SELECT :'paid3'::jsonb #>> '{payment,id}' AS pay3 \gset
SELECT okra_verify(:'pay3') IS NOT NULL AS verified3 \gset
SELECT is((SELECT row(payment_id, link_id) FROM okra_payments WHERE payment_id = :'pay3'), row(:'pay3'::text, NULL::text),
	'a payment made through the API: no link');

--
-- privileges
--
SELECT is((SELECT count(*) FROM information_schema.routine_privileges
			WHERE routine_name IN ('okra_create_payment_link', 'okra_ledger_link_record') AND grantee = 'PUBLIC'), 0::bigint,
	'okra_create_payment_link and its ledger function are not granted to PUBLIC');
SELECT is((SELECT count(*) FROM information_schema.table_privileges
			WHERE table_name = 'okra_payment_links' AND grantee = 'PUBLIC'), 0::bigint,
	'okra_payment_links is not granted to PUBLIC');

SELECT * FROM finish();
ROLLBACK;
