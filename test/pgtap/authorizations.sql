-- Authorizations: future and recurring payments on a customer's
-- authorization.  okra_initiate_authorized_payment, okra_cancel_authorization
-- and okra_reauthorize (their rows, Okra's refusals, the ledger they keep,
-- bad input refused before anything is sent, 25006 read-only), and the
-- lazy lists okra_list_authorizations and okra_customer_authorizations,
-- which write nothing.  Authorizations come from the sandbox's control API,
-- standing in for the customer in Okra's widget.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(67);

\set cust 64e0000000000000000c0001
\set cust2 64e0000000000000000c0002
\set acct 64e0000000000000000a0001
\set acct2 64e0000000000000000a0002
\set link 64e0000000000000000b0001
\set a1 64e0000000000000000d0001
\set a2 64e0000000000000000d0002
\set a3 64e0000000000000000d0003
\! ctl POST authorizations '{"id": "64e0000000000000000d0001", "customer": "64e0000000000000000c0001", "accounts": ["64e0000000000000000a0001", "64e0000000000000000a0002"], "link": "64e0000000000000000b0001"}' >/dev/null
\! ctl POST authorizations '{"id": "64e0000000000000000d0002", "customer": "64e0000000000000000c0001", "accounts": ["64e0000000000000000a0001"], "link": "64e0000000000000000b0001"}' >/dev/null
\! ctl POST authorizations '{"id": "64e0000000000000000d0003", "customer": "64e0000000000000000c0002", "accounts": ["64e0000000000000000a0002"]}' >/dev/null

-- counts of requests to the three calls, from the sandbox's counters
CREATE FUNCTION pg_temp.auth_requests(c jsonb) RETURNS bigint LANGUAGE sql AS $$
	SELECT pg_temp.requests(c, 'pay/authorization/initiate') + pg_temp.requests(c, 'pay/authorization/cancel')
		 + pg_temp.requests(c, 'pay/authorization/reauth') $$;

--
-- okra_initiate_authorized_payment: recurring
--
\set before `ctl GET counters`
CREATE TEMP TABLE r1 AS
	SELECT * FROM okra_initiate_authorized_payment(:'a1', 10000, 7000, '2027-05-21', '2027-06-27', 'monthly');
\set after `ctl GET counters`
SELECT is((SELECT row(authorization_id, customer_id, accounts, link_id, status, cancelled_by, amount, initial_amount,
					  currency, one_time, schedule_interval, start_date, end_date, disconnected) FROM r1),
	row(:'a1'::text, :'cust'::text, ARRAY[:'acct', :'acct2']::text[], :'link'::text, 'active'::text, NULL::text,
		10000::bigint, 7000::bigint, 'NGN'::text, false, 'monthly'::text, '2027-05-21'::date, '2027-06-27'::date, false),
	'a recurring schedule: the authorization with its amounts, interval and dates');
SELECT is((SELECT response ->> 'message' FROM r1),
	'Payment authorization was successfully updated and will begin 2027-05-21 with an initial payment of NGN 7000 and continue with payments of NGN 10000 on an ongoing basis until cancelled',
	'response is the whole body: Okra''s message names the start and the amounts sent');
SELECT is(pg_temp.requests(:'after', 'pay/authorization/initiate') - pg_temp.requests(:'before', 'pay/authorization/initiate'),
	1::bigint, 'one request');
SELECT is((SELECT row(customer_id, accounts, link_id, status, amount, initial_amount, schedule_interval, start_date,
					  end_date, one_time, disconnected, first_seen_at = last_changed_at, response = (SELECT response FROM r1))
			 FROM okra_authorizations WHERE authorization_id = :'a1'),
	row(:'cust'::text, ARRAY[:'acct', :'acct2']::text[], :'link'::text, 'active'::text, 10000::bigint, 7000::bigint,
		'monthly'::text, '2027-05-21'::date, '2027-06-27'::date, false, false, true, true),
	'the ledger has the authorization as Okra answered');
SELECT is((SELECT count(*) FROM okra_api_calls WHERE endpoint = 'pay/authorization/initiate'), 1::bigint,
	'and okra_api_calls the call');
SELECT okra_journal_flush();
SELECT is((SELECT row(outcome, amount) FROM okra_journal WHERE endpoint = 'pay/authorization/initiate'),
	row('succeeded'::text, 7000::bigint), 'it was journaled, with the first debit, and succeeded');
SELECT is((okra_initiate_authorized_payment(upper(:'a1'), 20000, 20000, '2027-07-01', schedule_interval => 'weekly'))
		  .schedule_interval, 'weekly', 'initiating again replaces the schedule; the id is taken in any case');
SELECT is((SELECT row(amount, schedule_interval, end_date, last_changed_at > first_seen_at)
			 FROM okra_authorizations WHERE authorization_id = :'a1'),
	row(20000::bigint, 'weekly'::text, NULL::date, true), 'the ledger follows, and last_changed_at moves');

-- dates go to Okra as YYYY-MM-DD whatever DateStyle says
SAVEPOINT ds;
SET LOCAL DateStyle = 'SQL, DMY';
SELECT (okra_initiate_authorized_payment(:'a1', 20000, 20000, '2027-01-06', schedule_interval => 'weekly'))
	   .response ->> 'message' AS ds_message \gset
ROLLBACK TO SAVEPOINT ds;
SELECT ok(:'ds_message' LIKE '%will begin 2027-01-06 %', 'a start date under DateStyle SQL, DMY goes as 2027-01-06');

--
-- one-time
--
CREATE TEMP TABLE o1 AS
	SELECT * FROM okra_initiate_authorized_payment(:'a2', 5000, 5000, '2027-02-01', one_time => true);
SELECT is((SELECT row(one_time, schedule_interval, start_date, end_date, amount) FROM o1),
	row(true, NULL::text, '2027-02-01'::date, NULL::date, 5000::bigint), 'a one-time debit: no interval');
SELECT is((SELECT row(one_time, schedule_interval) FROM okra_authorizations WHERE authorization_id = :'a2'),
	row(true, NULL::text), 'and so in the ledger');

--
-- cancel and reauth
--
CREATE TEMP TABLE c1 AS SELECT * FROM okra_cancel_authorization(:'a1', :'cust', :'link');
SELECT is((SELECT row(status, cancelled_by, amount, schedule_interval) FROM c1),
	row('cancelled'::text, 'merchant'::text, 20000::bigint, 'weekly'::text),
	'okra_cancel_authorization: cancelled by the merchant, the schedule kept');
SELECT is((SELECT row(status, cancelled_by) FROM okra_authorizations WHERE authorization_id = :'a1'),
	row('cancelled'::text, 'merchant'::text), 'the ledger has it cancelled');
SELECT is(e.state || ' ' || e.message, 'OK009 This authorization has been cancelled.',
	'cancelling it again: Okra refuses (OK009)')
  FROM pg_temp.err(format('SELECT okra_cancel_authorization(%L, %L, %L)', :'a1', :'cust', :'link')) AS e;
SELECT is(e.state || ' ' || e.message, 'OK009 This authorization has been cancelled.',
	'so does scheduling debits on it')
  FROM pg_temp.err(format('SELECT okra_initiate_authorized_payment(%L, 100, 100, %L, schedule_interval => %L)',
						  :'a1', '2027-01-01', 'monthly')) AS e;
CREATE TEMP TABLE u1 AS SELECT * FROM okra_reauthorize(:'a1', :'cust', :'link', :'acct2');
SELECT is((SELECT row(status, cancelled_by) FROM u1), row('active'::text, NULL::text),
	'okra_reauthorize: active again');
SELECT is((SELECT row(status, cancelled_by) FROM okra_authorizations WHERE authorization_id = :'a1'),
	row('active'::text, NULL::text), 'and so in the ledger');
SELECT is(e.state || ' ' || e.message, 'OK009 Only a cancelled authorization can be reauthorized.',
	'reauthorizing an active one: Okra refuses')
  FROM pg_temp.err(format('SELECT okra_reauthorize(%L, %L, %L, %L)', :'a1', :'cust', :'link', :'acct')) AS e;


-- the customer cancels (in their bank or Okra's widget): no reauth; a
-- refused call leaves the ledger as it was
\! ctl POST authorizations/64e0000000000000000d0002/cancel-by-customer >/dev/null
SELECT is(e.state || ' ' || e.message, 'OK009 This authorization was cancelled by the customer and cannot be reauthorized.',
	'reauthorizing one the customer cancelled: Okra refuses')
  FROM pg_temp.err(format('SELECT okra_reauthorize(%L, %L, %L, %L)', :'a2', :'cust', :'link', :'acct')) AS e;
SELECT is((SELECT status FROM okra_authorizations WHERE authorization_id = :'a2'), 'active',
	'a refused call writes nothing to the ledger');

-- ids Okra does not know, or that do not belong together
SELECT is(e.state || ' ' || e.message, 'OK009 Authorization not found.', 'an authorization Okra does not know')
  FROM pg_temp.err(format('SELECT okra_cancel_authorization(%L, %L, %L)', '64e0ffffffffffffffffffff', :'cust', :'link')) AS e;
SELECT is((pg_temp.err(format('SELECT okra_cancel_authorization(%L, %L, %L)', :'a1', :'cust2', :'link'))).message,
	'Authorization not found.', 'another customer''s id with it: not found either');
SELECT is((pg_temp.err(format('SELECT okra_reauthorize(%L, %L, %L, %L)', :'a1', :'cust', :'link', '64e0ffffffffffffffffffff'))).message,
	'Authorization not found.', 'an account it does not cover: not found');
SELECT is((pg_temp.err(format('SELECT okra_initiate_authorized_payment(%L, 100, 100, %L, one_time => true)',
							  '64e0ffffffffffffffffffff', '2027-01-01'))).message,
	'Authorization not found.', 'initiating on an unknown one: not found');

-- an answer about another authorization is unusable (OK011), and not recorded
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\": \"success\", \"message\": \"ok\", \"data\": {\"authorization\": {\"_id\": \"64e0000000000000000d0003\", \"status\": \"cancelled\"}}}", "route": "pay/authorization/cancel"}' >/dev/null
SELECT is(e.state || ' ' || e.detail, 'OK011 Okra API endpoint "pay/authorization/cancel" answered HTTP 200. The answer is about authorization "64e0000000000000000d0003", not "64e0000000000000000d0001".',
	'an answer about another authorization: OK011')
  FROM pg_temp.err(format('SELECT okra_cancel_authorization(%L, %L, %L)', :'a1', :'cust', :'link')) AS e;
SELECT is((SELECT count(*) FROM okra_authorizations WHERE authorization_id = :'a3'), 0::bigint, 'and nothing recorded');

--
-- bad input: 22023, nothing sent
--
\set before `ctl GET counters`
SELECT is((pg_temp.err($$SELECT okra_initiate_authorized_payment(NULL, 100, 100, '2027-01-01', one_time => true)$$)).message,
	'authorization_id must not be null', 'no authorization');
SELECT is((pg_temp.err($$SELECT okra_initiate_authorized_payment('nope', 100, 100, '2027-01-01', one_time => true)$$)).message,
	'invalid authorization_id: "nope"', 'a malformed authorization id');
SELECT is(e.message || ' / ' || e.detail, 'invalid amount: 0 / The amount is in kobo and must be positive.', 'amount 0')
  FROM pg_temp.err(format('SELECT okra_initiate_authorized_payment(%L, 0, 100, %L, one_time => true)', :'a1', '2027-01-01')) AS e;
SELECT is((pg_temp.err(format('SELECT okra_initiate_authorized_payment(%L, 100, -1, %L, one_time => true)', :'a1', '2027-01-01'))).message,
	'invalid initial_amount: -1', 'a negative initial amount');
SELECT is((pg_temp.err(format('SELECT okra_initiate_authorized_payment(%L, 100, NULL, %L, one_time => true)', :'a1', '2027-01-01'))).message,
	'initial_amount must not be null', 'no initial amount');
SELECT is((pg_temp.err(format('SELECT okra_initiate_authorized_payment(%L, 100, 100, NULL, one_time => true)', :'a1'))).message,
	'start_date must not be null', 'no start date');
SELECT is((pg_temp.err(format('SELECT okra_initiate_authorized_payment(%L, 100, 100, %L)', :'a1', '2027-01-01'))).message,
	'schedule_interval must not be null unless one_time is true', 'recurring without an interval');
SELECT is(e.message || ' / ' || e.detail, 'invalid schedule_interval: "daily" / Recurring payments on an authorization are monthly, weekly or yearly.',
	'daily is not an interval of authorizations')
  FROM pg_temp.err(format('SELECT okra_initiate_authorized_payment(%L, 100, 100, %L, schedule_interval => %L)', :'a1', '2027-01-01', 'daily')) AS e;
SELECT is((pg_temp.err(format('SELECT okra_initiate_authorized_payment(%L, 100, 100, %L, schedule_interval => %L, one_time => true)',
							  :'a1', '2027-01-01', 'monthly'))).message,
	'a one-time payment takes no schedule_interval', 'one-time with an interval');
SELECT is((pg_temp.err(format('SELECT okra_initiate_authorized_payment(%L, 100, 100, %L, %L, %L)', :'a1', '2027-06-30', '2027-01-01', 'monthly'))).message,
	'invalid schedule: start_date 2027-06-30 is after end_date 2027-01-01', 'dates in the wrong order');
SELECT is((pg_temp.err(format('SELECT okra_initiate_authorized_payment(%L, 100, 100, %L, one_time => true)', :'a1', 'infinity'))).message,
	'invalid start_date: infinity', 'an infinite date');
SELECT is(e.message || ' / ' || e.detail, 'invalid currency: "USD" / Okra takes payments in NGN only.', 'another currency')
  FROM pg_temp.err(format('SELECT okra_initiate_authorized_payment(%L, 100, 100, %L, one_time => true, currency => %L)', :'a1', '2027-01-01', 'USD')) AS e;
SELECT is((pg_temp.err(format('SELECT okra_cancel_authorization(%L, %L, NULL)', :'a1', :'cust'))).message,
	'link_id must not be null', 'cancel without the link');
SELECT is((pg_temp.err(format('SELECT okra_cancel_authorization(%L, %L, %L)', :'a1', 'x', :'link'))).message,
	'invalid customer_id: "x"', 'cancel with a malformed customer id');
SELECT is((pg_temp.err(format('SELECT okra_reauthorize(%L, %L, %L, NULL)', :'a1', :'cust', :'link'))).message,
	'account_id must not be null', 'reauth without the account');
\set after `ctl GET counters`
SELECT is(pg_temp.auth_requests(:'after'), pg_temp.auth_requests(:'before'), 'none of them reached Okra');

-- where the ledger cannot be written: 25006, nothing sent
SAVEPOINT ro;
SET LOCAL transaction_read_only = on;
SELECT (pg_temp.err(format('SELECT okra_initiate_authorized_payment(%L, 100, 100, %L, one_time => true)', :'a1', '2027-01-01'))).state
	|| ' ' || (pg_temp.err(format('SELECT okra_cancel_authorization(%L, %L, %L)', :'a1', :'cust', :'link'))).state
	|| ' ' || (pg_temp.err(format('SELECT okra_reauthorize(%L, %L, %L, %L)', :'a1', :'cust', :'link', :'acct'))).state AS ro_states \gset
ROLLBACK TO SAVEPOINT ro;
SELECT is(:'ro_states'::text, '25006 25006 25006', 'read-only: 25006 for each of the three');
\set after2 `ctl GET counters`
SELECT is(pg_temp.auth_requests(:'after2'), pg_temp.auth_requests(:'after'), 'and nothing sent');

--
-- okra_list_authorizations: every authorization, once, a page at a time
--
SELECT (okra_request('pay/authorization/list', '{"limit": 1}') #>> '{data,pagination,totalDocs}')::int AS total \gset
SELECT okra_journal_flush();
SELECT is((SELECT count(*) FROM okra_journal WHERE endpoint = 'pay/authorization/list'), 0::bigint,
	'pay/authorization/list is a read: okra_request does not journal it');
\! ctl POST faults '{"kind": "status", "status": 500, "route": "pay/authorization/getByCustomer"}' >/dev/null
SELECT is(e.state || ' ' || e.hint, 'OK010 This request only reads, so it is safe to retry.',
	'getByCustomer is a read too: after a 500, safe to retry')
  FROM pg_temp.err(format('SELECT count(*) FROM okra_customer_authorizations(%L)', :'cust')) AS e;
SELECT is((SELECT count(*) FROM okra_list_authorizations(2))::int, :total, 'okra_list_authorizations walks every page');
SELECT is((SELECT count(DISTINCT authorization_id) FROM okra_list_authorizations(2))::int, :total, 'each exactly once');
SELECT is((SELECT authorization_id FROM okra_list_authorizations(2) LIMIT 1), :'a3', 'newest first');
SELECT is((SELECT row(status, cancelled_by, disconnected, one_time, amount) FROM okra_list_authorizations() WHERE authorization_id = :'a2'),
	row('cancelled'::text, 'customer'::text, true, true, 5000::bigint), 'a row is Okra''s state: cancelled by the customer');
SELECT is((SELECT response ->> '_id' FROM okra_list_authorizations() WHERE authorization_id = :'a1'), :'a1',
	'a row''s response is its authorization object');
SELECT is((SELECT row(amount, initial_amount, schedule_interval, start_date) FROM okra_list_authorizations() WHERE authorization_id = :'a3'),
	row(NULL::bigint, NULL::bigint, NULL::text, NULL::date), 'one with no debits scheduled: NULL amounts and schedule');

-- lazily, in the select list: LIMIT 2 over pages of 2 costs one request, 3 costs two
\set c0 `ctl GET counters`
SELECT is((SELECT count(*) FROM (SELECT okra_list_authorizations(2) LIMIT 2) s), 2::bigint, 'LIMIT 2 over pages of 2');
\set c1 `ctl GET counters`
SELECT is(pg_temp.requests(:'c1', 'pay/authorization/list') - pg_temp.requests(:'c0', 'pay/authorization/list'), 1::bigint, 'costs one request');
SELECT is((SELECT count((a).authorization_id) FROM (SELECT okra_list_authorizations(2) AS a LIMIT 3) s), 3::bigint, 'LIMIT 3');
\set c2 `ctl GET counters`
SELECT is(pg_temp.requests(:'c2', 'pay/authorization/list') - pg_temp.requests(:'c1', 'pay/authorization/list'), 2::bigint, 'costs two');
SELECT is((pg_temp.err('SELECT * FROM okra_list_authorizations(101)')).message, 'invalid page_size: 101', 'page_size over 100: 22023');

--
-- okra_customer_authorizations
--
SELECT is(array(SELECT authorization_id FROM okra_customer_authorizations(:'cust', 1) ORDER BY 1), ARRAY[:'a1', :'a2'],
	'one customer''s authorizations, over two pages of 1, and no one else''s');
SELECT is((SELECT count(*) FROM okra_customer_authorizations('64e0000000000000000c00ff')), 0::bigint, 'a customer with none: no rows');
SELECT is((pg_temp.err($$SELECT * FROM okra_customer_authorizations('x')$$)).message, 'invalid customer_id: "x"',
	'a malformed customer id: 22023');

-- the lists write nothing: they work read-only, and the ledger stays as it was
SELECT (SELECT count(*) FROM okra_authorizations) || ' ' || (SELECT count(*) FROM okra_api_calls)
	|| ' ' || (SELECT string_agg(status, ',' ORDER BY authorization_id) FROM okra_authorizations) AS ledger \gset
SAVEPOINT ro2;
SET LOCAL transaction_read_only = on;
SELECT (SELECT count(*) FROM okra_customer_authorizations(:'cust')) AS ro_customer,
	   (SELECT count(*) FROM (SELECT okra_list_authorizations(5) LIMIT 3) s) AS ro_list \gset
ROLLBACK TO SAVEPOINT ro2;
SELECT is(:'ro_customer' || ' ' || :'ro_list', '2 3', 'both lists work in a read-only transaction');
SELECT is((SELECT count(*) FROM okra_authorizations) || ' ' || (SELECT count(*) FROM okra_api_calls)
	|| ' ' || (SELECT string_agg(status, ',' ORDER BY authorization_id) FROM okra_authorizations), :'ledger',
	'and the ledger is as it was (a2 still active there, though the list says cancelled)');

--
-- an older answer never overwrites a newer one: a row seen later (here a
-- day ahead) keeps its state; the call still returns its own answer
--
\! ctl POST authorizations '{"id": "64e0000000000000000d0009", "customer": "64e0000000000000000c0002", "accounts": ["64e0000000000000000a0002"]}' >/dev/null
SELECT (okra_initiate_authorized_payment('64e0000000000000000d0009', 1000, 1000, '2027-05-21', schedule_interval => 'weekly')).status
	AS a9_status \gset
UPDATE okra_authorizations SET last_seen_at = now() + interval '1 day', response = '{"newer": true}'
 WHERE authorization_id = '64e0000000000000000d0009';
SELECT is((SELECT row(amount, initial_amount) FROM okra_initiate_authorized_payment('64e0000000000000000d0009', 2000, 3000,
																					 '2027-05-21', schedule_interval => 'weekly')),
	row(2000::bigint, 3000::bigint), 'a new schedule: the call returns its own answer');
SELECT is((SELECT row(amount, initial_amount, last_seen_at = now() + interval '1 day', response)
			 FROM okra_authorizations WHERE authorization_id = '64e0000000000000000d0009'),
	row(1000::bigint, 1000::bigint, true, '{"newer": true}'::jsonb), 'but an older answer does not overwrite the newer row');

--
-- privileges: nothing for PUBLIC
--
CREATE ROLE okra_test_auth_nobody;
SELECT is(array(SELECT p.oid::regprocedure::text FROM pg_proc AS p
				 WHERE p.proname IN ('okra_initiate_authorized_payment', 'okra_cancel_authorization', 'okra_reauthorize',
									 'okra_list_authorizations', 'okra_customer_authorizations', 'okra_ledger_authorization')
				   AND has_function_privilege('okra_test_auth_nobody', p.oid, 'EXECUTE')),
	ARRAY[]::text[], 'no function of authorizations is granted to PUBLIC');
SELECT ok(NOT has_table_privilege('okra_test_auth_nobody', 'okra_authorizations', 'SELECT'),
	'nor okra_authorizations');
SELECT is((SELECT count(*)::int FROM pg_proc WHERE proname IN ('okra_initiate_authorized_payment', 'okra_cancel_authorization',
		'okra_reauthorize', 'okra_list_authorizations', 'okra_customer_authorizations')), 5, 'the five functions exist');

SELECT * FROM finish();
ROLLBACK;
