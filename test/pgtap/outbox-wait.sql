-- okra_outbox_wait's arguments (issue 10, item 12): a NULL timeout used to
-- wait until statement_timeout (here 3 s, so the old behaviour shows as
-- 57014); now a NULL argument is refused with 22023 at once, and '0'
-- returns the state without waiting.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(7);
TRUNCATE okra_payments, okra_refunds, okra_status_changes, okra_api_calls, okra_outbox_requests;

-- a request that stays queued: its transaction never commits
SELECT okra_verify('64a000000000000000000001') \g /dev/null
SELECT okra_refund_after_commit('64a000000000000000000001', 100, 'wait test') AS r \gset
SET LOCAL statement_timeout = '3s';

SELECT is((SELECT row(state, elapsed < interval '1 s') FROM pg_temp.timed(format('SELECT okra_outbox_wait(%s, NULL)', :r))),
	row('22023'::text, true), 'okra_outbox_wait(id, NULL): 22023 at once, no wait');
SELECT is((pg_temp.err(format('SELECT okra_outbox_wait(%s, NULL)', :r))).message, 'timeout must not be null',
	'the message names the argument');
SELECT is((pg_temp.err(format('SELECT okra_outbox_wait(%s, NULL)', :r))).hint,
	'Pass how long to wait, for example ''30 seconds''; ''0'' returns the state at once.',
	'with a hint saying what to pass');
SELECT is((SELECT row(state, message) FROM pg_temp.err('SELECT okra_outbox_wait(NULL)')),
	row('22023'::text, 'request_id must not be null'::text), 'okra_outbox_wait(NULL): 22023');
SELECT is((SELECT row(state, message) FROM pg_temp.err('SELECT okra_outbox_wait(NULL, NULL)')),
	row('22023'::text, 'request_id must not be null'::text), 'okra_outbox_wait(NULL, NULL): 22023');
SELECT is(okra_outbox_wait(:r, '0'), 'queued', 'okra_outbox_wait(id, ''0''): the state at once');
SELECT is((SELECT okra_outbox_wait(:r, '0.2 s')), 'queued', 'a short timeout: the state when it passes');

SELECT * FROM finish();
ROLLBACK;
