-- The C code's hold on its own SQL objects (issue 10 item 5): a role that
-- may CREATE in the extension's schema makes functions named like okra's
-- internal ones; okra still calls only its own.  And when okra's objects
-- do not match the library (a drifted signature or row type), every call
-- fails with one clear internal error before anything is sent.
\getenv key OKRA_SANDBOX_KEY
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(25);

SELECT extnamespace::regnamespace AS nsp FROM pg_extension WHERE extname = 'okra' \gset
\set p1 `ctl POST payments '{"status": "success", "amount": 10000}' | jq -r .payment.id`
\set p2 `ctl POST payments '{"status": "success", "amount": 8000}' | jq -r .payment.id`

CREATE FUNCTION pg_temp.refunds_of(counters jsonb, payment text) RETURNS jsonb
LANGUAGE sql AS $$ SELECT coalesce(counters #> ARRAY['refunds', payment, 'amounts'], '[]') $$;

CREATE ROLE okra_test_hostile;
CREATE ROLE okra_test_app;
GRANT USAGE, CREATE ON SCHEMA :nsp TO okra_test_hostile;
GRANT USAGE ON SCHEMA :nsp TO okra_test_app;
GRANT EXECUTE ON FUNCTION okra_verify(text), okra_refund(text, bigint, text, text) TO okra_test_app;

-- the hostile role's functions, before okra has looked anything up: one
-- of another arity, one of the same arity with other types
SET ROLE okra_test_hostile;
CREATE FUNCTION okra_ledger_record(t text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile okra_ledger_record(text) called'; END $$;
CREATE FUNCTION okra_ledger_record(text, text, integer, timestamptz, timestamptz, name, text, text, boolean, jsonb)
RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile okra_ledger_record(10 args) called'; END $$;
RESET ROLE;
SELECT is((SELECT count(*) FROM pg_proc WHERE proname = 'okra_ledger_record' AND pronamespace = :'nsp'::regnamespace),
	3::bigint, 'the hostile role made two more okra_ledger_record functions in the extension''s schema');

SET ROLE okra_test_app;
SELECT lives_ok(format('SELECT okra_refund(%L, 2500)', :'p1'),
	'okra_refund works beside them (was: "function name is not unique" after the refund was sent)');
SELECT lives_ok(format('SELECT okra_verify(%L)', :'p2'), 'okra_verify works beside them');
RESET ROLE;
SELECT is((SELECT refunded_amount FROM okra_payments WHERE payment_id = :'p1'), 2500::bigint,
	'the refund is in the ledger');
SELECT is((SELECT status FROM okra_payments WHERE payment_id = :'p2'), 'success', 'the verify is in the ledger');
SELECT is((SELECT count(*) FROM okra_api_calls WHERE payment_id IN (:'p1', :'p2')), 2::bigint,
	'both calls are recorded, by okra''s own okra_ledger_record');
\set counters `ctl GET counters`
SELECT is(pg_temp.refunds_of(:'counters', :'p1'), '[2500]'::jsonb, 'the sandbox executed exactly that one refund');

-- more, after okra has cached its lookups: an overload of the guard
SET ROLE okra_test_hostile;
CREATE FUNCTION okra_ledger_guard_refund(text, integer) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile okra_ledger_guard_refund called'; END $$;
CREATE FUNCTION okra_ledger_guard_refund(text) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hostile okra_ledger_guard_refund called'; END $$;
RESET ROLE;
SET ROLE okra_test_app;
SELECT lives_ok(format('SELECT okra_refund(%L, 1000)', :'p1'), 'a second refund works beside a hostile guard too');
SELECT throws_ok(format('SELECT okra_refund(%L, 7000)', :'p1'), 'OK002', NULL,
	'and okra''s own guard still refuses what remains exceeded');
RESET ROLE;
\set counters `ctl GET counters`
SELECT is(pg_temp.refunds_of(:'counters', :'p1'), '[2500, 1000]'::jsonb,
	'the sandbox executed exactly the two refunds, and not the refused one');
SELECT is((SELECT refunded_amount FROM okra_payments WHERE payment_id = :'p1'), 3500::bigint, 'the ledger agrees');

--
-- drift: okra's objects no longer match the library
--
\set drift_msg 'the SQL objects of extension "okra" in schema "' :nsp '" do not match its library'

-- a row type read by column position: a renamed column
SAVEPOINT drift;
ALTER TYPE okra_outbox_claimed RENAME ATTRIBUTE attempt TO attempts;
SELECT is(e.state || ' ' || e.message || ' / ' || e.detail || ' / ' || e.hint,
	'XX000 ' || :'drift_msg' || ' / Column 8 of okra_outbox_claimed is attempts integer, where the library expects attempt integer. / '
	|| 'Run ALTER EXTENSION okra UPDATE, or reinstall the extension, so that its SQL objects match the installed library.',
	'a renamed column of okra_outbox_claimed: the internal error, with what differs and the hint')
  FROM pg_temp.err(format('SELECT okra_refund(%L, 100)', :'p2')) AS e;
\set counters `ctl GET counters`
SELECT is(pg_temp.refunds_of(:'counters', :'p2'), '[]'::jsonb, 'and nothing was sent');
ROLLBACK TO SAVEPOINT drift;

-- a function given arguments by position: another argument type, made
-- the extension's own by its owner
SAVEPOINT drift;
ALTER EXTENSION okra DROP FUNCTION okra_ledger_guard_refund(text, bigint);
ALTER FUNCTION okra_ledger_guard_refund(text, bigint) RENAME TO okra_ledger_guard_refund_old;
DROP FUNCTION okra_ledger_guard_refund(text, integer);
CREATE FUNCTION okra_ledger_guard_refund(text, integer) RETURNS void LANGUAGE sql AS '';
ALTER EXTENSION okra ADD FUNCTION okra_ledger_guard_refund(text, integer);
SELECT is(e.state || ' ' || e.message || ' / ' || e.detail,
	'XX000 ' || :'drift_msg' || ' / Argument 2 of okra_ledger_guard_refund(text,integer) is of type integer, where the library expects bigint.',
	'an argument of another type: the internal error, before anything is sent')
  FROM pg_temp.err(format('SELECT okra_refund(%L, 100)', :'p2')) AS e;
SELECT is((pg_temp.err(format('SELECT okra_verify(%L)', :'p2'))).state, 'XX000',
	'every call fails the same way, okra_verify too');
\set counters `ctl GET counters`
SELECT is(pg_temp.refunds_of(:'counters', :'p2'), '[]'::jsonb, 'and nothing was sent');
ROLLBACK TO SAVEPOINT drift;

-- a missing function
SAVEPOINT drift;
ALTER FUNCTION okra_ledger_guard_refund(text, bigint) RENAME TO okra_ledger_guard_refund_old;
SELECT is(e.state || ' ' || e.detail,
	'XX000 Extension "okra" has no function okra_ledger_guard_refund with 2 arguments.',
	'a function the library needs is gone: the same error, saying which')
  FROM pg_temp.err(format('SELECT okra_refund(%L, 100)', :'p2')) AS e;
ROLLBACK TO SAVEPOINT drift;

-- another version: the library of a package upgrade, before ALTER
-- EXTENSION okra UPDATE (test/upgrade.sh does it for real)
SELECT extversion AS version FROM pg_extension WHERE extname = 'okra' \gset
SAVEPOINT drift;
UPDATE pg_extension SET extversion = '0.0.1' WHERE extname = 'okra';
SELECT is(e.state || ' ' || e.message || ' / ' || e.detail || ' / ' || e.hint,
	'55000 extension "okra" is version 0.0.1 in this database, but its library is version ' || :'version'
	|| ' / Nothing was sent to Okra. / Run ALTER EXTENSION okra UPDATE in this database.',
	'SQL objects of another version: 55000, naming the command, before anything is sent')
  FROM pg_temp.err(format('SELECT okra_refund(%L, 100)', :'p2')) AS e;
SELECT is((pg_temp.err(format('SELECT okra_verify(%L)', :'p2'))).state, '55000', 'okra_verify too');
SELECT is((pg_temp.err(format('SELECT okra_cancel(%L)', :'p2'))).state, '55000', 'okra_cancel too');
SELECT is((pg_temp.err(format('SELECT okra_refund_after_commit(%L, 100)', :'p2'))).state, '55000',
	'and okra_refund_after_commit queues nothing');
\set counters `ctl GET counters`
SELECT is(pg_temp.refunds_of(:'counters', :'p2'), '[]'::jsonb, 'and nothing was sent');
-- newer SQL objects than the library (a package downgrade): the other way
UPDATE pg_extension SET extversion = '9.9.9' WHERE extname = 'okra';
SELECT is(e.state || ' ' || e.hint, '55000 Install okra 9.9.9''s library and restart the server.',
	'SQL objects newer than the library: 55000, and the hint says to install their library')
  FROM pg_temp.err(format('SELECT okra_verify(%L)', :'p2')) AS e;
ROLLBACK TO SAVEPOINT drift;

-- undone, everything works again at once (the cache follows the catalog)
SELECT lives_ok(format('SELECT okra_refund(%L, 100)', :'p2'), 'after the rollback, okra_refund works again');
\set counters `ctl GET counters`
SELECT is(pg_temp.refunds_of(:'counters', :'p2'), '[100]'::jsonb, 'and the sandbox executed exactly that refund');

SELECT * FROM finish();
ROLLBACK;
