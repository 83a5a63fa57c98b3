-- Faults between PostgreSQL and Okra: lost answers after a refund really
-- happened (OK010, executed exactly once, verify tells), answers that never
-- come, broken and oversized answers; and the session recovers every time.
\! ctl POST reset >/dev/null
\getenv key OKRA_SANDBOX_KEY
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(38);

-- warm up: the session holds a connection to the sandbox, so the next
-- requests go out on a reused connection (where libcurl would resend a
-- request whose connection died before any answer)
SELECT okra_verify('64a000000000000000000009') \g /dev/null

-- "the refund happened, then the response was lost" (HTTP 500 after executing)
\! ctl POST faults '{"kind": "after_status", "route": "pay/refund"}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000009', 1000)$$, 'OK010', NULL,
	'after_status 500: OK010');
SELECT pg_temp.settle_unknown('succeeded') \g /dev/null
\set counters `ctl GET counters`
SELECT is(:'counters'::jsonb #> '{refunds,64a000000000000000000009}',
	'{"count": 1, "total": 1000, "amounts": [1000]}'::jsonb, 'the refund executed exactly once');
-- okra_verify works, and a retry without amount refunds only what remains
SELECT is((okra_verify('64a000000000000000000009')).status, 'success', 'okra_verify works after OK010');
SELECT is((okra_refund('64a000000000000000000009', 500)).wallet_balance, 10000000 - 1500::bigint,
	'the wallet shows the lost refund was paid');

-- the connection dropped with no answer at all, on a reused connection
SELECT okra_verify('64a000000000000000000009') \g /dev/null
\! ctl POST faults '{"kind": "after_drop", "route": "pay/refund"}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000009', 2000)$$, 'OK010', NULL,
	'after_drop: OK010');
SELECT pg_temp.settle_unknown('succeeded') \g /dev/null
\set counters `ctl GET counters`
SELECT is(:'counters'::jsonb #> '{refunds,64a000000000000000000009}',
	'{"count": 3, "total": 3500, "amounts": [1000, 500, 2000]}'::jsonb,
	'the dropped refund executed exactly once (not resent on a new connection)');
SELECT is((okra_verify('64a000000000000000000009')).status, 'success', 'okra_verify works after after_drop');

-- and again, on the connection opened after the last drop
\! ctl POST faults '{"kind": "after_drop", "route": "pay/refund"}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000001', 100)$$, 'OK010', NULL, 'after_drop again: OK010');
SELECT pg_temp.settle_unknown('succeeded') \g /dev/null
\set counters `ctl GET counters`
SELECT is((:'counters'::jsonb #>> '{refunds,64a000000000000000000001,count}')::int, 1, 'executed once');

-- executed, then no answer until okra.request_timeout
SET LOCAL okra.request_timeout = '500ms';
\! ctl POST faults '{"kind": "after_hang", "route": "pay/refund", "ms": 2000}' >/dev/null
CREATE TEMP TABLE t_after_hang AS SELECT * FROM pg_temp.timed($$SELECT okra_refund('64a000000000000000000002', 100)$$);
SELECT pg_temp.settle_unknown('succeeded') \g /dev/null
SELECT is((SELECT state FROM t_after_hang), 'OK010', 'after_hang: OK010 at okra.request_timeout');
SELECT ok((SELECT elapsed BETWEEN '0.4 s' AND '2 s' FROM t_after_hang), 'after_hang: within about okra.request_timeout');
\set counters `ctl GET counters`
SELECT is((:'counters'::jsonb #>> '{refunds,64a000000000000000000002,count}')::int, 1, 'after_hang: executed once');

-- no answer, nothing executed
\! ctl POST faults '{"kind": "hang", "ms": 2000}' >/dev/null
CREATE TEMP TABLE stall_start AS SELECT clock_timestamp() AS t;
CREATE TEMP TABLE t_hang AS SELECT * FROM pg_temp.timed($$SELECT okra_refund('64a000000000000000000003', 100)$$);
SELECT pg_temp.settle_unknown('failed') \g /dev/null
SELECT is((SELECT state FROM t_hang), 'OK010', 'hang: OK010 at okra.request_timeout');
SELECT ok((SELECT elapsed BETWEEN '0.4 s' AND '2 s' FROM t_hang), 'hang: within about okra.request_timeout');
-- a slow but complete answer within the timeout is fine; a trickle past it is not
\! ctl POST faults '{"kind": "delay", "ms": 200}' >/dev/null
SELECT is((okra_verify('64a000000000000000000003')).status, 'success', 'a 200 ms delay within a 500 ms timeout');
\! ctl POST faults '{"kind": "trickle", "ms": 100, "chunk": 10}' >/dev/null
SELECT is((pg_temp.err($$SELECT okra_verify('64a000000000000000000003')$$)).state, 'OK010',
	'a trickle that outlasts okra.request_timeout: OK010');
RESET okra.request_timeout;
\! ctl POST faults '{"kind": "trickle", "ms": 1, "chunk": 64}' >/dev/null
SELECT is((okra_verify('64a000000000000000000003')).amount, 50000::bigint, 'a fast trickle is read whole');

-- answers cut short: truncated, reset, dropped before executing
\! ctl POST faults '{"kind": "truncate", "route": "pay/refund"}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000004', 100)$$, 'OK010', NULL, 'truncate: OK010');
SELECT pg_temp.settle_unknown('succeeded') \g /dev/null
\! ctl POST faults '{"kind": "truncate", "bytes": 0}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000004')$$, 'OK010', NULL, 'truncate to 0 bytes: OK010');
\! ctl POST faults '{"kind": "reset", "route": "pay/refund"}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000004', 100)$$, 'OK010', NULL, 'reset: OK010');
SELECT pg_temp.settle_unknown('succeeded') \g /dev/null
\! ctl POST faults '{"kind": "reset", "bytes": 0}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000004')$$, 'OK010', NULL, 'reset before any byte: OK010');
\! ctl POST faults '{"kind": "html"}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000004')$$, 'OK010', NULL, 'HTML 502: OK010');
\! ctl POST faults '{"kind": "timeout503"}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000004', 100)$$, 'OK010', NULL, 'Okra''s 503: OK010');
SELECT pg_temp.settle_unknown('failed') \g /dev/null
SELECT is((okra_verify('64a000000000000000000004')).status, 'success', 'the session works after every fault');

-- oversized answers: OK011, at exactly okra.max_response_size + 1
SET LOCAL okra.max_response_size = '4kB';
\! ctl POST faults '{"kind": "size", "bytes": 4096}' >/dev/null
SELECT is((pg_temp.err($$SELECT okra_request('pay/list')$$)).state, 'no error', 'an answer of exactly okra.max_response_size is read');
\! ctl POST faults '{"kind": "size", "bytes": 4096}' >/dev/null
SELECT is(length((okra_request('pay/list') -> 'data' ->> 'padding')) > 3000, true, '... whole');
\! ctl POST faults '{"kind": "size", "bytes": 4097}' >/dev/null
SELECT throws_ok($$SELECT okra_request('pay/list')$$, 'OK011', NULL, 'one byte more: OK011');
\! ctl POST faults '{"kind": "size", "bytes": 10000000}' >/dev/null
CREATE TEMP TABLE t_big AS SELECT * FROM pg_temp.timed($$SELECT okra_request('pay/list')$$);
SELECT is((SELECT state FROM t_big), 'OK011', 'a 10 MB answer: OK011');
SELECT ok((SELECT elapsed < '2 s' FROM t_big), 'and it is not read to the end');
RESET okra.max_response_size;
\! ctl POST faults '{"kind": "size", "bytes": 1048577, "route": "pay/refund"}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000004', 100)$$, 'OK011', NULL, 'default 1MB cap: OK011');
SELECT pg_temp.settle_unknown('failed') \g /dev/null
SELECT is((okra_verify('64a000000000000000000004')).status, 'success', 'the session works after oversized answers');

-- what executed in all (the sandbox's ledger): the lost refunds and the
-- ones that "executed then failed"; nothing for faults that stop before
\set counters `ctl GET counters`
SELECT is((:'counters'::jsonb -> 'refunds') - '64a000000000000000000009'::text - '64a000000000000000000001'::text - '64a000000000000000000002'::text,
	'{"64a000000000000000000004": {"count": 2, "total": 200, "amounts": [100, 100]}}'::jsonb,
	'64a..04: truncate and reset executed (the normal answer was being sent); timeout503 and size did not');
SELECT is((:'counters'::jsonb -> 'refunds') ? '64a000000000000000000003', false, 'hang executed nothing');

-- faults are armed per route and per payment
\! ctl POST faults '{"kind": "status", "status": 500, "payment_id": "64a000000000000000000005"}' >/dev/null
SELECT is((okra_verify('64a000000000000000000006')).status, 'success', 'a fault for another payment does not fire');
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000005')$$, 'OK010', NULL, 'it fires for its payment');
\! ctl POST faults '{"kind": "status", "status": 500, "count": 2}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000005')$$, 'OK010', NULL, 'count 2: first');
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000005')$$, 'OK010', NULL, 'count 2: second');
SELECT is((okra_verify('64a000000000000000000005')).status, 'success', 'count 2: then the real answer');

-- let the stalled requests above end before the next file
SELECT pg_sleep(greatest(0, 2.3 - extract(epoch FROM clock_timestamp() - (SELECT min(t) FROM stall_start)))) \g /dev/null
SELECT * FROM finish();
ROLLBACK;
