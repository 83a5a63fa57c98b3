-- okra_payout and okra_get_payout: money out.  Both destinations, the fee
-- kept as Okra gives it, Okra's refusals, bad input refused before
-- anything is sent, the merchant's reference (once per reference, even
-- after a rollback), the ledger (okra_payouts, status changes of kind
-- issued, succeeded and failed), settling through okra_get_payout and
-- okra_verify_pending, and privileges.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;

-- okra_verify_pending commits chunk by chunk, so it runs first, outside the
-- test's transaction, on two payouts committed for it (removed at the end):
-- Okra settles one as success and fails the other.
\set acct 64d0000000000000000000b1
\set bank 5d6fe57a4099cc4b210bbec0
SELECT payout_id AS vp1 FROM okra_payout(3000, :'acct') \gset
SELECT payout_id AS vp2 FROM okra_payout(700000, nuban => '1329137339', bank => :'bank') \gset
\set out `ctl POST payouts/:vp1 '{"status": "success"}'`
\set out `ctl POST payouts/:vp2 '{"status": "failed"}'`
UPDATE okra_payouts SET next_check_at = now() - interval '1 second' WHERE payout_id IN (:'vp1', :'vp2');
\set vbefore `ctl GET counters`
CALL okra_verify_pending();
\set vafter `ctl GET counters`

BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(53);

--
-- to an account
--
\set before `ctl GET counters`
CREATE TEMP TABLE p1 AS SELECT * FROM okra_payout(10000, :'acct');
SELECT is((SELECT row(status, amount, fee, currency, account_to_credit, reference, replayed) FROM p1),
	row('initiated'::text, 10000::bigint, 10.75::numeric, 'NGN'::text, :'acct'::text, NULL::text, false),
	'to an account: initiated, the amount, fee 10.75, NGN, the account');
SELECT ok((SELECT payout_id ~ '^[0-9a-f]{24}$' AND ref IS NOT NULL AND initiated_at IS NOT NULL FROM p1),
	'its id, Okra''s ref and when');
SELECT is((SELECT response #>> '{data,payout,_id}' FROM p1), (SELECT payout_id FROM p1), 'response is the whole body');
SELECT is((SELECT fee::text FROM p1), '10.75', 'the fee is fractional, not truncated');
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'pay/payout') - pg_temp.requests(:'before', 'pay/payout'), 1::bigint, 'one payout at Okra');
SELECT is((SELECT row(status, amount, fee, currency, account_to_credit, terminal, outcome, initiated_by,
					  next_check_at BETWEEN now() AND clock_timestamp() + interval '1 minute')
			 FROM okra_payouts WHERE payout_id = (SELECT payout_id FROM p1)),
	row('initiated'::text, 10000::bigint, 10.75::numeric, 'NGN'::text, :'acct'::text, false, NULL::text,
		current_user::name, true),
	'the ledger has the payout, due a check within a minute');
SELECT is((SELECT array_agg(row(old_status, new_status, outcome, amount, currency, fee)::text)
			 FROM okra_status_changes WHERE object_type = 'payout' AND object_id = (SELECT payout_id FROM p1)),
	ARRAY[row(NULL::text, 'initiated'::text, 'issued'::text, 10000::bigint, 'NGN'::text, 10.75::numeric)::text],
	'and one status change: issued, with amount and fee');
SELECT okra_journal_flush();
SELECT is((SELECT row(outcome, created_id, amount) FROM okra_journal
			WHERE endpoint = 'pay/payout' AND created_id = (SELECT payout_id FROM p1)),
	row('succeeded'::text, (SELECT payout_id FROM p1), 10000::bigint),
	'the journal has it, succeeded, with the payout it made and the amount');

--
-- to a bank account number; a bigger amount's fee
--
CREATE TEMP TABLE p2 AS SELECT * FROM okra_payout(600000, nuban => '1329137339', bank => :'bank');
SELECT is((SELECT row(status, fee, nuban, bank) FROM p2),
	row('initiated'::text, 26.88::numeric, '1329137339'::text, :'bank'::text),
	'to a NUBAN at a bank: fee 26.88 over NGN 5,000');
SELECT is((SELECT response #> '{data,payout,nuban_to_credit}' FROM p2),
	jsonb_build_object('nuban', '1329137339', 'bank', :'bank'), 'Okra has the NUBAN and the bank');
SELECT is((SELECT row(nuban, bank, fee) FROM okra_payouts WHERE payout_id = (SELECT payout_id FROM p2)),
	row('1329137339'::text, :'bank'::text, 26.88::numeric), 'and so does the ledger');

--
-- bad input: 22023, nothing sent
--
\set before `ctl GET counters`
SELECT is(e.state || ' ' || e.message, '22023 invalid nuban: "132913733"', 'a NUBAN of 9 digits')
  FROM pg_temp.err(format('SELECT okra_payout(100, nuban => %L, bank => %L)', '132913733', :'bank')) AS e;
SELECT is((pg_temp.err(format('SELECT okra_payout(100, nuban => %L, bank => %L)', '13291373x9', :'bank'))).detail,
	'A NUBAN is a bank account number of exactly 10 digits.', 'a NUBAN with a letter');
SELECT is(e.state || ' ' || e.message, '22023 a payout goes to account_to_credit or to nuban and bank, not both',
	'both destinations')
  FROM pg_temp.err(format('SELECT okra_payout(100, %L, %L, %L)', :'acct', '1329137339', :'bank')) AS e;
SELECT is(e.state || ' ' || e.message, '22023 a payout needs account_to_credit, or nuban and bank', 'no destination')
  FROM pg_temp.err('SELECT okra_payout(100)') AS e;
SELECT is((pg_temp.err(format('SELECT okra_payout(100, nuban => %L)', '1329137339'))).message,
	'nuban and bank go together', 'a NUBAN without its bank');
SELECT is((pg_temp.err(format('SELECT okra_payout(100, bank => %L)', :'bank'))).message,
	'nuban and bank go together', 'a bank without a NUBAN');
SELECT is((pg_temp.err(format('SELECT okra_payout(100, nuban => %L, bank => %L)', '1329137339', 'x'))).message,
	'invalid bank: "x"', 'a malformed bank');
SELECT is((pg_temp.err('SELECT okra_payout(100, ''nope'')')).message, 'invalid account_to_credit: "nope"',
	'a malformed account');
SELECT is(e.state || ' ' || e.message || ' / ' || e.detail, '22023 invalid amount: 0 / The amount is in kobo and must be positive.',
	'amount 0')
  FROM pg_temp.err(format('SELECT okra_payout(0, %L)', :'acct')) AS e;
SELECT is((pg_temp.err(format('SELECT okra_payout(-1, %L)', :'acct'))).state, '22023', 'a negative amount');
SELECT is((pg_temp.err(format('SELECT okra_payout(NULL, %L)', :'acct'))).message, 'amount must not be null', 'no amount');
SELECT is(e.state || ' ' || e.message || ' / ' || e.detail, '22023 invalid currency: "USD" / Okra pays out in NGN only.',
	'another currency')
  FROM pg_temp.err(format('SELECT okra_payout(100, %L, currency => %L)', :'acct', 'USD')) AS e;
SELECT is((pg_temp.err(format('SELECT okra_payout(100, %L, currency => NULL)', :'acct'))).message,
	'currency must not be null', 'no currency');
SELECT is((pg_temp.err(format('SELECT okra_payout(100, %L, reference => %L)', :'acct', ''))).message,
	'invalid reference: ""', 'an empty reference');
SELECT is((pg_temp.err('SELECT okra_get_payout(''nope'')')).message, 'invalid payout_id: "nope"', 'okra_get_payout: a malformed id');
SELECT is((pg_temp.err('SELECT okra_get_payout(NULL)')).message, 'payout_id must not be null', 'okra_get_payout: no id');
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'pay/payout') + pg_temp.requests(:'after', 'pay/payout/get'),
	pg_temp.requests(:'before', 'pay/payout') + pg_temp.requests(:'before', 'pay/payout/get'),
	'none of them reached Okra');

--
-- Okra's refusals
--
SELECT is(e.state || ' ' || e.message,
	'OK004 You do not have sufficient funds in your wallet to initiate this payout.', 'more than the wallet holds: OK004')
  FROM pg_temp.err(format('SELECT okra_payout(900000000000000, %L, reference => %L)', :'acct', 'po-short')) AS e;
SELECT is((SELECT replayed FROM okra_payout(1000, :'acct', reference => 'po-short')), false,
	'a refused payout leaves its reference free');
SELECT is(e.state || ' ' || e.message, 'OK009 Payout not found.', 'okra_get_payout of a payout Okra does not have: OK009')
  FROM pg_temp.err(format('SELECT okra_get_payout(%L)', '64d00000000000000000ffff')) AS e;

--
-- the reference: once per reference
--
CREATE TEMP TABLE r1 AS SELECT * FROM okra_payout(5000, :'acct', reference => 'po-1001');
SELECT is((SELECT row(reference, replayed) FROM r1), row('po-1001'::text, false), 'first call with a reference: sent');
\set before `ctl GET counters`
SELECT is((SELECT row(payout_id, amount, replayed) FROM okra_payout(7000, nuban => '1329137339', bank => :'bank', reference => 'po-1001')),
	(SELECT row(payout_id, amount, true) FROM r1), 'the same reference again: the first payout, replayed, whatever the call says');
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'pay/payout'), pg_temp.requests(:'before', 'pay/payout'), 'and nothing more reached Okra');

-- the caller rolls back after Okra answered: the journal keeps the reference
SAVEPOINT rb;
SELECT payout_id AS rolled_back FROM okra_payout(4400, :'acct', reference => 'po-rb') \gset
ROLLBACK TO SAVEPOINT rb;
SELECT is((SELECT count(*) FROM okra_payouts WHERE reference = 'po-rb'), 0::bigint, 'a rollback takes the payout away');
\set before `ctl GET counters`
SELECT is(e.state || ' ' || e.message || ' / ' || e.detail || ' / ' || e.hint, 'OK013 reference "po-rb" already made a payout / '
	|| format('Journal entry %s made payout %s, but the ledger does not have it (the transaction that asked for it rolled back). Nothing was sent to Okra. / ',
			  (SELECT journal_id FROM okra_journal WHERE reference = 'po-rb'), :'rolled_back')
	|| format('Read it with okra_get_payout(%L): the ledger then has it under this reference.', :'rolled_back'),
	'but not the journal''s entry: the reference is refused (OK013), naming the payout')
  FROM pg_temp.err(format('SELECT okra_payout(4400, %L, reference => %L)', :'acct', 'po-rb')) AS e;
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'pay/payout'), pg_temp.requests(:'before', 'pay/payout'), 'and nothing was sent');
SELECT is((SELECT row(payout_id, reference, status, replayed) FROM okra_get_payout(:'rolled_back')),
	row(:'rolled_back'::text, 'po-rb'::text, 'initiated'::text, false), 'okra_get_payout reads it back');
SELECT is((SELECT row(reference, amount, initiated_by) FROM okra_payouts WHERE payout_id = :'rolled_back'),
	row('po-rb'::text, 4400::bigint, current_user::name), 'the ledger has it again, with the journal''s reference and role');
SELECT is((SELECT row(payout_id, replayed) FROM okra_payout(4400, :'acct', reference => 'po-rb')),
	row(:'rolled_back'::text, true), 'and the reference replays it');

--
-- settling: okra_get_payout, and scheduled verification
--
\set out `ctl POST payouts/:rolled_back '{"status": "success"}'`
SELECT is((SELECT row(status, fee) FROM okra_get_payout(:'rolled_back')), row('success'::text, 10.75::numeric),
	'Okra settles it: okra_get_payout says success');
SELECT is((SELECT row(status, terminal, outcome, next_check_at) FROM okra_payouts WHERE payout_id = :'rolled_back'),
	row('success'::text, true, 'succeeded'::text, NULL::timestamptz), 'the ledger: final, succeeded, no more checks');
SELECT is(pg_temp.requests(:'vafter', 'pay/payout/get') - pg_temp.requests(:'vbefore', 'pay/payout/get'), 2::bigint,
	'okra_verify_pending read the two payouts that were due');
SELECT is((SELECT array_agg(row(status, terminal, outcome, check_count, next_check_at)::text ORDER BY status DESC)
			 FROM okra_payouts WHERE payout_id IN (:'vp1', :'vp2')),
	ARRAY[row('success'::text, true, 'succeeded'::text, 1, NULL::timestamptz)::text,
		  row('failed'::text, true, 'failed'::text, 1, NULL::timestamptz)::text],
	'and moved them on: one succeeded, one failed, both final');
SELECT is((SELECT array_agg(row(old_status, new_status, outcome, amount, fee)::text ORDER BY change_id)
			 FROM okra_status_changes WHERE object_type = 'payout' AND object_id = :'vp2'),
	ARRAY[row(NULL::text, 'initiated'::text, 'issued'::text, 700000::bigint, 26.88::numeric)::text,
		  row('initiated'::text, 'failed'::text, 'failed'::text, 700000::bigint, 26.88::numeric)::text],
	'the failed one''s status changes: issued, then failed (its amount went back), with its fee');
SELECT is((SELECT array_agg(outcome ORDER BY change_id) FROM okra_status_changes
			WHERE object_type = 'payout' AND object_id = :'rolled_back'),
	ARRAY['issued', 'succeeded'], 'the settled one: issued, then succeeded');
SELECT is((SELECT sum(amount) FILTER (WHERE outcome = 'issued') - coalesce(sum(amount) FILTER (WHERE outcome = 'failed'), 0)
			 FROM okra_status_changes WHERE object_type = 'payout'),
	(SELECT sum(amount) FROM okra_payouts WHERE outcome IS DISTINCT FROM 'failed'),
	'money out: issued minus failed is what the ledger paid out');

SELECT okra_journal_flush();
SELECT is((SELECT count(*) FROM okra_journal WHERE endpoint = 'pay/payout/get'), 0::bigint,
	'okra_get_payout only reads: it is not journaled');

-- where the ledger cannot be written: 25006, nothing sent
\set before `ctl GET counters`
SAVEPOINT ro;
SET LOCAL transaction_read_only = on;
SELECT (pg_temp.err(format('SELECT okra_payout(100, %L)', :'acct'))).state AS ro_state,
	   (pg_temp.err(format('SELECT okra_get_payout(%L)', :'vp2'))).state AS ro_get \gset
ROLLBACK TO SAVEPOINT ro;
\set after `ctl GET counters`
SELECT is(:'ro_state'::text, '25006', 'okra_payout in a read-only transaction: 25006');
SELECT is(:'ro_get'::text, '25006', 'okra_get_payout too (it records what it reads)');
SELECT is(pg_temp.requests(:'after', 'pay/payout') + pg_temp.requests(:'after', 'pay/payout/get'),
	pg_temp.requests(:'before', 'pay/payout') + pg_temp.requests(:'before', 'pay/payout/get'),
	'and neither sent anything');

SELECT is((SELECT count(*) FROM information_schema.routine_privileges
			WHERE routine_name IN ('okra_payout', 'okra_get_payout') AND grantee = 'PUBLIC'), 0::bigint,
	'okra_payout and okra_get_payout are not granted to PUBLIC');
SELECT table_privs_are('okra_payouts', 'public', ARRAY[]::text[], 'okra_payouts: nothing for PUBLIC');

SELECT * FROM finish();
ROLLBACK;

-- what okra_verify_pending's part committed
DELETE FROM okra_status_changes WHERE object_type = 'payout' AND object_id IN (:'vp1', :'vp2');
DELETE FROM okra_payouts WHERE payout_id IN (:'vp1', :'vp2');
