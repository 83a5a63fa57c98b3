-- Privileges: no PUBLIC execute; the README's grants are enough for an
-- application role; a role without grants gets 42501 and sends nothing.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(30);

SELECT extnamespace::regnamespace::text AS okra_schema FROM pg_extension WHERE extname = 'okra' \gset
CREATE ROLE okra_app;
CREATE ROLE okra_nobody;
-- README "Granting roles", verbatim but for the schema name
SELECT format('GRANT USAGE ON SCHEMA %I TO okra_app', :'okra_schema') \gexec
GRANT EXECUTE ON FUNCTION okra_verify(text), okra_cancel(text),
      okra_refund(text, bigint, text, text) TO okra_app;

-- no PUBLIC execute on any function of the extension
SELECT is_empty($$
	SELECT p.oid::regprocedure FROM pg_proc p
	JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'okra',
	LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
	WHERE a.grantee = 0$$, 'no function of the extension is executable by PUBLIC');
SELECT function_privs_are(:'okra_schema', 'okra_verify', ARRAY['text'], 'okra_nobody', ARRAY[]::text[], 'okra_nobody: okra_verify');
SELECT function_privs_are(:'okra_schema', 'okra_cancel', ARRAY['text'], 'okra_nobody', ARRAY[]::text[], 'okra_nobody: okra_cancel');
SELECT function_privs_are(:'okra_schema', 'okra_refund', ARRAY['text', 'bigint', 'text', 'text'], 'okra_nobody', ARRAY[]::text[], 'okra_nobody: okra_refund');
SELECT function_privs_are(:'okra_schema', 'okra_request', ARRAY['text', 'jsonb'], 'okra_nobody', ARRAY[]::text[], 'okra_nobody: okra_request');
SELECT function_privs_are(:'okra_schema', 'okra_verify', ARRAY['text'], 'okra_app', ARRAY['EXECUTE'], 'okra_app: okra_verify');
SELECT function_privs_are(:'okra_schema', 'okra_cancel', ARRAY['text'], 'okra_app', ARRAY['EXECUTE'], 'okra_app: okra_cancel');
SELECT function_privs_are(:'okra_schema', 'okra_refund', ARRAY['text', 'bigint', 'text', 'text'], 'okra_app', ARRAY['EXECUTE'], 'okra_app: okra_refund');
SELECT function_privs_are(:'okra_schema', 'okra_request', ARRAY['text', 'jsonb'], 'okra_app', ARRAY[]::text[], 'okra_app: not okra_request by default');
SELECT set_eq($$SELECT p.proname::text, p.proconfig::text FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass
           AND d.objid = p.oid AND d.deptype = 'e' JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'okra'
           WHERE p.prosecdef$$,
	$$VALUES ('okra_ledger_record', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_guard_refund', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_check_failed', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_verify_run_begin', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_verify_claim', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_verify_unclaim', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_verify_run_progress', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_track', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_refund_after_commit', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_cancel_after_commit', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_outbox_claim', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_outbox_finish', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_outbox_resolve', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_outbox_wait', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_outbox_health', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_lock_payment', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_settled_refund', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_outbox_release', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_outbox_reference_request', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_outbox_reference_check', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_webhook_record', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_webhook_claim', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_outbox_queue', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_outbox_created', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_journal_intent', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_journal_outcome', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_journal_unsettled', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_journal_resolve', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_lock_reference', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_initiation', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_link_record', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_authorization', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_bulk_record', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_bulk_conflict', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_initiation_record', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_payout_reference', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_payout_record', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_payout_seen', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_ledger_payout_check_failed', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_verify_claim_payouts', '{"search_path=pg_catalog, pg_temp"}'),
	         ('okra_verify_unclaim_payout', '{"search_path=pg_catalog, pg_temp"}')$$,
	'only the internal ledger, run, outbox, journal and initiation functions, okra_track and the outbox''s own are SECURITY DEFINER, each with a safe search_path');

-- the application role calls everything it was granted
SET LOCAL ROLE okra_app;
SELECT is((okra_verify('64a000000000000000000001')).status, 'success', 'okra_app: okra_verify');
SELECT is((okra_cancel('64a00000000000000000000c')).status, 'cancelled', 'okra_app: okra_cancel');
SELECT is((okra_refund('64a000000000000000000002', 100, 'app')).amount, 100::bigint, 'okra_app: okra_refund');
SELECT is((SELECT status FROM okra_verify((okra_refund('64a000000000000000000002')).refund_payment_id)),
	'initialize', 'okra_app: the README quick start''s one-liner');
SELECT throws_ok($$SELECT okra_request('pay/list')$$, '42501', NULL, 'okra_app: okra_request needs its own GRANT');
-- an Okra error reaches the application role like anyone else
SELECT throws_ok($$SELECT okra_verify('64a0000000000000000000ff')$$, 'OK006', 'Payment not found.', 'okra_app: OK006');
-- the timeouts are its to set; the rest are not
SELECT lives_ok($$SET LOCAL okra.request_timeout = '5s'$$, 'okra_app may set okra.request_timeout');
SELECT lives_ok($$SET LOCAL okra.connect_timeout = '2s'$$, 'okra_app may set okra.connect_timeout');
SELECT throws_ok($$SET LOCAL okra.base_url = 'http://127.0.0.1:1/v2'$$, '42501', NULL, 'okra_app may not set okra.base_url');
SELECT throws_ok($$SET LOCAL okra.ca_file = '/tmp/ca.pem'$$, '42501', NULL, 'okra_app may not set okra.ca_file');
SELECT throws_ok($$SET LOCAL okra.max_response_size = '100MB'$$, '42501', NULL, 'okra_app may not set okra.max_response_size');
SELECT throws_ok($$SET LOCAL okra.api_key_file = '/etc/passwd'$$, '42501', NULL, 'okra_app may not set okra.api_key_file');
RESET ROLE;
GRANT EXECUTE ON FUNCTION okra_request(text, jsonb) TO okra_app;
SET LOCAL ROLE okra_app;
SELECT is(okra_request('pay/list') ->> 'status', 'success', 'okra_app: okra_request once granted');
RESET ROLE;

-- a role without grants: 42501 for everything, before anything is sent
\set before `ctl GET counters`
SET LOCAL ROLE okra_nobody;
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, '42501', NULL, 'okra_nobody: okra_verify');
SELECT throws_ok($$SELECT okra_cancel('64a00000000000000000000a')$$, '42501', NULL, 'okra_nobody: okra_cancel');
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000001', 1)$$, '42501', NULL, 'okra_nobody: okra_refund');
SELECT throws_ok($$SELECT okra_request('pay/list')$$, '42501', NULL, 'okra_nobody: okra_request');
RESET ROLE;
\set after `ctl GET counters`
SELECT is(:'after'::jsonb -> 'requests', :'before'::jsonb -> 'requests', 'nothing was sent for okra_nobody');

-- granting to PUBLIC is the DBA's choice; REVOKE takes it back
GRANT EXECUTE ON FUNCTION okra_verify(text) TO PUBLIC;
SET LOCAL ROLE okra_nobody;
SELECT is((okra_verify('64a000000000000000000001')).status, 'success', 'after GRANT ... TO PUBLIC anyone may verify');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION okra_verify(text) FROM PUBLIC;
SET LOCAL ROLE okra_nobody;
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, '42501', NULL, 'and REVOKE takes it back');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
