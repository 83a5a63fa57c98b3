-- One call, one request: "SELECT (okra_refund(...)).*" is expanded by the
-- parser into one copy of the call per column of its row, each evaluated
-- on its own.  Each copy after the first gets the first's answer, and Okra
-- (the sandbox's counters) sees one request; a call evaluated again, for
-- the next row or the next statement, is sent again.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(16);

\set p 64a000000000000000000001
SELECT okra_verify(:'p') \g /dev/null

-- okra_refund has 12 columns: one refund, not 12
\set c0 `ctl GET counters`
CREATE TEMP TABLE r AS SELECT (okra_refund(:'p', 100, 'once')).*;
\set c1 `ctl GET counters`
SELECT is((:'c1'::jsonb #> ARRAY['refunds', :'p', 'count'])::int, 1, '(okra_refund(...)).*: one refund at Okra');
SELECT is((SELECT count(*) FROM okra_refunds), 1::bigint, 'one refund in the ledger');
SELECT is((SELECT refund_id FROM r), (SELECT refund_id FROM okra_refunds), 'and every column is that refund''s');
-- two equal calls in one select list are one call
SELECT (okra_refund(:'p', 200)).amount, (okra_refund(:'p', 200)).status \g /dev/null
\set c2 `ctl GET counters`
SELECT is((:'c2'::jsonb #> ARRAY['refunds', :'p', 'count'])::int, 2, 'the same call written twice in one query: one refund');
-- one call per row: three rows, three refunds
SELECT (okra_refund(:'p', 300)).amount FROM generate_series(1, 3) \g /dev/null
\set c3 `ctl GET counters`
SELECT is((:'c3'::jsonb #> ARRAY['refunds', :'p', 'count'])::int, 5, 'a call evaluated for three rows: three refunds');
-- and one per run of a statement, even of one plan
DO $$ BEGIN FOR i IN 1..2 LOOP PERFORM (okra_refund('64a000000000000000000001', 50)).*; END LOOP; END $$;
\set c4 `ctl GET counters`
SELECT is((:'c4'::jsonb #> ARRAY['refunds', :'p', 'count'])::int, 7, 'a loop of two runs: two refunds');

-- the same for an initiate (12 columns), a payout and a bulk file
SELECT (okra_initiate_payment('64d0000000000000000000a1', 700)).* \g /dev/null
SELECT (okra_payout(700, '64e000000000000000000001')).* \g /dev/null
SELECT (okra_bulk_initiate(ARRAY[ROW('64d0000000000000000000a1', '64d0000000000000000000c1', 700, 'NGN', NULL)]::okra_bulk_payment[])).* \g /dev/null
\set c5 `ctl GET counters`
SELECT is(pg_temp.requests(:'c5', 'pay/initiate') - pg_temp.requests(:'c4', 'pay/initiate'), 1::bigint,
	'(okra_initiate_payment(...)).*: one payment');
SELECT is(pg_temp.requests(:'c5', 'pay/payout') - pg_temp.requests(:'c4', 'pay/payout'), 1::bigint,
	'(okra_payout(...)).*: one payout');
SELECT is(pg_temp.requests(:'c5', 'bulkfiles/initiate') - pg_temp.requests(:'c4', 'bulkfiles/initiate'), 1::bigint,
	'(okra_bulk_initiate(...)).*: one bulk file');
SELECT is((SELECT count(*) FROM okra_journal WHERE endpoint IN ('pay/initiate', 'pay/payout', 'bulkfiles/initiate')), 3::bigint,
	'and one journal entry each');

-- what is not a copy is sent: equal calls in two plpgsql statements, in two
-- functions of one transaction, in two branches of a UNION ALL, in two CTEs
DO $$ DECLARE r okra_refund; s okra_refund; BEGIN
	r := okra_refund('64a000000000000000000001', 10);
	s := okra_refund('64a000000000000000000001', 10);
END $$;
\set c6 `ctl GET counters`
SELECT is((:'c6'::jsonb #> ARRAY['refunds', :'p', 'count'])::int, 9, 'two plpgsql assignments: two refunds');
CREATE FUNCTION pg_temp.pay(ref text) RETURNS okra_payout LANGUAGE plpgsql AS $$
DECLARE r okra_payout; BEGIN r := okra_payout(500, '64e000000000000000000001', reference => ref); RETURN r; END $$;
CREATE FUNCTION pg_temp.pay_too(ref text) RETURNS okra_payout LANGUAGE plpgsql AS $$
DECLARE r okra_payout; BEGIN r := okra_payout(500, '64e000000000000000000001', reference => ref); RETURN r; END $$;
SELECT (pg_temp.pay('inv-1')).reference AS a \gset
SELECT (pg_temp.pay_too('bonus-1')).reference AS b \gset
SELECT is(:'a' || ' ' || :'b', 'inv-1 bonus-1', 'two functions, two references: each its own');
SELECT is((SELECT count(*) FROM okra_payouts WHERE reference IN ('inv-1', 'bonus-1')), 2::bigint, 'two payouts');
SELECT okra_payout(800, '64e000000000000000000001') UNION ALL SELECT okra_payout(800, '64e000000000000000000001') \g /dev/null
WITH a AS (SELECT okra_payout(900, '64e000000000000000000001') x), b AS (SELECT okra_payout(900, '64e000000000000000000001') y)
SELECT * FROM a, b \g /dev/null
\set c7 `ctl GET counters`
SELECT is(pg_temp.requests(:'c7', 'pay/payout') - pg_temp.requests(:'c6', 'pay/payout'), 6::bigint,
	'UNION ALL and two CTEs: two payouts each (and the two functions'' two)');
-- a row whose reference was used replays, whatever the row before it sent
CREATE TEMP TABLE t (n int, ref text);
INSERT INTO t VALUES (1, 'fresh-1'), (2, 'inv-1');
CREATE TEMP TABLE res AS SELECT t.n, (okra_payout(100, '64e000000000000000000001', reference => t.ref)).* FROM t ORDER BY n;
SELECT is((SELECT row(reference, replayed) FROM res WHERE n = 2), row('inv-1'::text, true),
	'each row''s copies are that row''s call: the used reference replays');
SELECT is((SELECT row(reference, replayed) FROM res WHERE n = 1), row('fresh-1'::text, false), 'and the new one is sent');

SELECT * FROM finish();
ROLLBACK;
