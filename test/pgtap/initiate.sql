-- okra_initiate_payment: money in.  The row, the ledger it writes (the
-- payment due a check, the initiation, the journal), recurring schedules,
-- bad input refused before anything is sent, and the merchant's reference:
-- once per reference, even when the first caller rolled back after Okra
-- answered, or never got the answer.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(48);

\set acct 64d0000000000000000000a1
\set acct2 64d0000000000000000000a2

--
-- one-time, no reference
--
\set before `ctl GET counters`
CREATE TEMP TABLE i1 AS SELECT * FROM okra_initiate_payment(:'acct', 25000);
SELECT is((SELECT row(status, amount, currency, debit_account, credit_account, reference, replayed) FROM i1),
	row('initialize'::text, 25000::bigint, 'NGN'::text, :'acct'::text, NULL::text, NULL::text, false),
	'a one-time payment: initialize, the amount, NGN, the account debited');
SELECT ok((SELECT payment_id ~ '^[0-9a-f]{24}$' AND ref IS NOT NULL AND wallet_balance IS NOT NULL FROM i1),
	'its id, Okra''s ref and the wallet balance');
SELECT is((SELECT response #>> '{data,payment,id}' FROM i1), (SELECT payment_id FROM i1), 'response is the whole body');
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'pay/initiate') - pg_temp.requests(:'before', 'pay/initiate'), 1::bigint, 'one payment at Okra');
SELECT is((SELECT row(status, amount, customer_id IS NOT NULL,
					  next_check_at BETWEEN now() AND clock_timestamp() + interval '1 minute')
			 FROM okra_payments WHERE payment_id = (SELECT payment_id FROM i1)),
	row('initialize'::text, 25000::bigint, true, true), 'the ledger has the payment, due a check within a minute');
SELECT is((SELECT row(type, debit_account, amount, currency, initiated_by) FROM okra_initiations
			WHERE payment_id = (SELECT payment_id FROM i1)),
	row('one-time'::text, :'acct'::text, 25000::bigint, 'NGN'::text, current_user::name), 'and the initiation');
SELECT okra_journal_flush();
SELECT is((SELECT row(outcome, created_id, reference) FROM okra_journal
			WHERE endpoint = 'pay/initiate' AND created_id = (SELECT payment_id FROM i1)),
	row('succeeded'::text, (SELECT payment_id FROM i1), NULL::text), 'the journal has it, succeeded, with the payment it created');
SELECT is((okra_verify((SELECT payment_id FROM i1))).status, 'initialize', 'okra_verify finds it');

-- to another account, recurring
CREATE TEMP TABLE i2 AS SELECT * FROM okra_initiate_payment(:'acct', 5000, 'NGN', :'acct2', NULL,
	'monthly', '2027-01-01', '2027-06-30');
SELECT is((SELECT credit_account FROM i2), :'acct2', 'account_to_credit');
SELECT is((SELECT response #> '{data,payment,schedule}' FROM i2),
	'{"interval": "monthly", "startDate": "2027-01-01", "endDate": "2027-06-30"}'::jsonb,
	'a recurring payment: Okra has its schedule');
SELECT is((SELECT row(type, schedule_interval, start_date, end_date) FROM okra_initiations
			WHERE payment_id = (SELECT payment_id FROM i2)),
	row('recurring'::text, 'monthly'::text, '2027-01-01'::date, '2027-06-30'::date), 'and so does the ledger');
SELECT payment_id AS weekly FROM okra_initiate_payment(:'acct', 700, schedule_interval => 'weekly') \gset
SELECT is((SELECT type FROM okra_initiations WHERE payment_id = :'weekly'), 'recurring', 'a schedule without dates');

--
-- bad input: 22023, nothing sent
--
\set before `ctl GET counters`
SELECT is((pg_temp.err($$SELECT okra_initiate_payment(NULL, 100)$$)).message, 'account_to_debit must not be null', 'no account');
SELECT is((pg_temp.err($$SELECT okra_initiate_payment('nope', 100)$$)).message, 'invalid account_to_debit: "nope"', 'a malformed account');
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, 0)', :'acct'))).message, 'invalid amount: 0', 'amount 0');
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, -5)', :'acct'))).detail,
	'The amount is in kobo and must be positive.', 'a negative amount');
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, NULL)', :'acct'))).message, 'amount must not be null', 'no amount');
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, 100, NULL)', :'acct'))).message, 'currency must not be null', 'no currency');
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, 100, schedule_interval => %L, end_date => %L)', :'acct', 'monthly', 'infinity'))).message,
	'invalid end_date: infinity', 'an infinite date');
SELECT is(e.message || ' / ' || e.detail, 'invalid currency: "USD" / Okra takes payments in NGN only.', 'another currency')
  FROM pg_temp.err(format('SELECT okra_initiate_payment(%L, 100, %L)', :'acct', 'USD')) AS e;
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, 100, %L, %L)', :'acct', 'NGN', 'x'))).message,
	'invalid account_to_credit: "x"', 'a malformed account to credit');
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, 100, reference => %L)', :'acct', ''))).message,
	'invalid reference: ""', 'an empty reference');
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, 100, reference => %L)', :'acct', repeat('r', 101)))).detail,
	'A reference is 1 to 100 bytes, with no control characters.', 'a reference over 100 bytes');
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, 100, reference => %L)', :'acct', E'a\nb'))).state,
	'22023', 'a reference with a control character');
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, 100, schedule_interval => %L)', :'acct', 'hourly'))).message,
	'invalid schedule_interval: "hourly"', 'an interval Okra does not have');
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, 100, start_date => %L)', :'acct', '2027-01-01'))).message,
	'start_date and end_date need a schedule_interval', 'dates without an interval');
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, 100, schedule_interval => %L, start_date => %L, end_date => %L)',
		:'acct', 'monthly', '2027-06-30', '2027-01-01'))).message,
	'invalid schedule: start_date 2027-06-30 is after end_date 2027-01-01', 'dates in the wrong order');
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'pay/initiate'), pg_temp.requests(:'before', 'pay/initiate'), 'none of them reached Okra');

--
-- the reference: once per reference
--
CREATE TEMP TABLE r1 AS SELECT * FROM okra_initiate_payment(:'acct', 9900, reference => 'order-1001');
SELECT is((SELECT row(reference, replayed) FROM r1), row('order-1001'::text, false), 'first call with a reference: sent');
\set before `ctl GET counters`
CREATE TEMP TABLE r2 AS SELECT * FROM okra_initiate_payment(:'acct', 9900, reference => 'order-1001');
SELECT is((SELECT row(payment_id, replayed) FROM r2), (SELECT row(payment_id, true) FROM r1),
	'the same reference again: the first payment, replayed');
SELECT is((SELECT amount FROM okra_initiate_payment(:'acct2', 1, reference => 'order-1001')), 9900::bigint,
	'whatever else the call says: the reference is the order');
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'pay/initiate'), pg_temp.requests(:'before', 'pay/initiate'), 'and nothing more reached Okra');
SELECT is((SELECT count(*) FROM okra_initiations WHERE reference = 'order-1001'), 1::bigint, 'one initiation');

-- the caller rolls back after Okra answered: the journal keeps the reference
SAVEPOINT rb;
SELECT payment_id AS rolled_back FROM okra_initiate_payment(:'acct', 4400, reference => 'order-rb') \gset
ROLLBACK TO SAVEPOINT rb;
SELECT is((SELECT count(*) FROM okra_initiations WHERE reference = 'order-rb'), 0::bigint,
	'a rollback takes the initiation away');
\set before `ctl GET counters`
SELECT is(e.state || ' ' || e.message || ' / ' || e.detail, 'OK013 reference "order-rb" already initiated a payment / '
	|| format('Journal entry %s initiated payment %s, but the ledger does not have it (the transaction that asked for it rolled back). Nothing was sent to Okra.',
			  (SELECT journal_id FROM okra_journal WHERE reference = 'order-rb'), :'rolled_back'),
	'but not the journal''s entry: the reference is refused (OK013), naming the payment')
  FROM pg_temp.err(format('SELECT okra_initiate_payment(%L, 4400, reference => %L)', :'acct', 'order-rb')) AS e;
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'pay/initiate'), pg_temp.requests(:'before', 'pay/initiate'), 'and nothing was sent');

-- the answer is lost: unknown, and the reference waits for a person
\! ctl POST faults '{"kind": "after_drop", "route": "pay/initiate"}' >/dev/null
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, 3300, reference => %L)', :'acct', 'order-lost'))).state,
	'OK010', 'an initiate whose answer is lost: OK010');
\set before `ctl GET counters`
SELECT okra_journal_flush();
SELECT journal_id AS lost FROM okra_journal WHERE reference = 'order-lost' \gset
SELECT is(e.state || ' ' || e.message || ' / ' || e.hint, 'OK012 a payment initiated with reference "order-lost" has an unknown outcome / '
	|| format('Check with Okra (okra_customer_payments), then settle it with okra_journal_resolve(%s, ''succeeded'') or okra_journal_resolve(%s, ''failed'').', :lost, :lost),
	'the same reference: refused (OK012), it may have happened')
  FROM pg_temp.err(format('SELECT okra_initiate_payment(%L, 3300, reference => %L)', :'acct', 'order-lost')) AS e;
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'pay/initiate'), pg_temp.requests(:'before', 'pay/initiate'), 'and nothing was sent');
SELECT lives_ok(format('SELECT okra_journal_resolve(%s, %L)', :lost, 'succeeded'), 'a person settles it: it happened');
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, 3300, reference => %L)', :'acct', 'order-lost'))).state,
	'OK013', 'then the reference is used (OK013)');
-- a call that surely failed leaves the reference free
\! ctl POST faults '{"kind": "status", "status": 400, "route": "pay/initiate"}' >/dev/null
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, 3300, reference => %L)', :'acct', 'order-400'))).state,
	'OK009', 'Okra refuses an initiate: OK009');
SELECT is((SELECT replayed FROM okra_initiate_payment(:'acct', 3300, reference => 'order-400')), false,
	'the same reference may then be sent again');

-- dates go to Okra as YYYY-MM-DD whatever DateStyle says
SAVEPOINT ds;
SET LOCAL DateStyle = 'SQL, DMY';
SELECT (okra_initiate_payment(:'acct', 100, schedule_interval => 'monthly', start_date => '2027-01-06'))
	   .response #>> '{data,payment,schedule,startDate}' AS sent_date \gset
ROLLBACK TO SAVEPOINT ds;
SELECT is(:'sent_date'::text, '2027-01-06', 'a start date under DateStyle SQL, DMY goes as 2027-01-06');
-- an answer that says error with HTTP 200 is a refusal: the reference stays free
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\": \"error\", \"message\": \"Account not eligible.\"}", "route": "pay/initiate"}' >/dev/null
SELECT is((pg_temp.err(format('SELECT okra_initiate_payment(%L, 3300, reference => %L)', :'acct', 'order-200'))).state,
	'OK009', 'Okra refuses with HTTP 200: OK009');
SELECT is((SELECT replayed FROM okra_initiate_payment(:'acct', 3300, reference => 'order-200')), false,
	'and the reference may be sent again');

-- where the ledger cannot be written: 25006, nothing sent
SAVEPOINT ro;
SET LOCAL transaction_read_only = on;
SELECT (pg_temp.err(format('SELECT okra_initiate_payment(%L, 100)', :'acct'))).state AS ro_state \gset
ROLLBACK TO SAVEPOINT ro;
SELECT is(:'ro_state'::text, '25006', 'read-only: 25006');

SELECT is((SELECT count(*) FROM information_schema.routine_privileges
			WHERE routine_name = 'okra_initiate_payment' AND grantee = 'PUBLIC'), 0::bigint,
	'okra_initiate_payment is not granted to PUBLIC');

SELECT * FROM finish();
ROLLBACK;
