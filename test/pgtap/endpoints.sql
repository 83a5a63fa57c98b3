-- okra_request's endpoint grammar (README "Reference"): lower-case segments
-- of [a-z0-9_] separated by single "/".  Every other spelling of a refund
-- (one a router may well take for pay/refund) is refused with 22023 before
-- anything is sent, and the exact spellings are refused as refunds; the
-- sandbox's counters show that nothing reached it.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(33);

-- a body that would refund, were it ever sent to a refund route
CREATE TEMP TABLE spellings (n serial, endpoint text, what text);
INSERT INTO spellings (endpoint, what) VALUES
	('pay/refund/', 'trailing slash'),
	('pay//refund', 'double slash'),
	('/pay/refund', 'leading slash'),
	('PAY/REFUND', 'upper case'),
	('Pay/Refund', 'mixed case'),
	('pay/./refund', 'dot segment'),
	('./pay/refund', 'leading dot segment'),
	('pay/refund/.', 'trailing dot segment'),
	('pay/x/../refund', 'dot-dot segment'),
	('pay/%72efund', 'percent escape'),
	('pay%2frefund', 'percent-escaped slash'),
	('pay/refund?x=1', 'query'),
	('pay/refund?', 'empty query'),
	('pay/refund#x', 'fragment'),
	(' pay/refund', 'leading space'),
	('pay/refund ', 'trailing space'),
	(E'pay/refund\t', 'tab'),
	('pay/refund;x=1', 'path parameter'),
	('pay\refund', 'backslash'),
	('pay/re-fund', 'hyphen'),
	('sandbox/pay/refund/', 'sandbox/ prefix, trailing slash'),
	('sandbox//pay/refund', 'sandbox/ prefix, double slash'),
	('SANDBOX/pay/refund', 'sandbox/ prefix, upper case'),
	('pay/get/Id', 'the older SDKs'' pay/get/Id (use pay/get/id)');

SELECT is((pg_temp.err(format('SELECT okra_request(%L, %L)', endpoint,
		'{"payment_id": "64a000000000000000000001", "amount": 100}'))).message,
	format('invalid Okra API endpoint: "%s"', endpoint),
	format('%s (%s): 22023 invalid Okra API endpoint', what, endpoint))
  FROM spellings ORDER BY n;
SELECT is((SELECT array_agg(DISTINCT (pg_temp.err(format('SELECT okra_request(%L)', endpoint))).state)
             FROM spellings), ARRAY['22023'], 'every one of them is SQLSTATE 22023');

-- the exact spellings are refused as refunds
SELECT throws_ok($$SELECT okra_request('pay/refund', '{"payment_id": "64a000000000000000000001", "amount": 100}')$$,
	'22023', 'okra_request cannot send refunds', 'pay/refund: refused as a refund');
SELECT throws_ok($$SELECT okra_request('sandbox/pay/refund', '{"payment_id": "64a000000000000000000001", "amount": 100}')$$,
	'22023', 'okra_request cannot send refunds', 'sandbox/pay/refund: refused as a refund');

-- the detail states the grammar
SELECT is((pg_temp.err($$SELECT okra_request('pay/refund/')$$)).detail,
	'An endpoint is one or more path segments of lower-case letters, digits and "_", separated by single "/" characters and at most 200 characters long, such as "pay/list".',
	'the detail states the grammar');

-- nothing reached the sandbox: no request at all, no refund
\set counters `ctl GET counters`
SELECT is(:'counters'::jsonb -> 'requests', '{}'::jsonb, 'the sandbox saw no API request');
SELECT is(:'counters'::jsonb -> 'refunds', '{}'::jsonb, 'and carried out no refund');

-- what the grammar lets through is sent as written
SELECT is(okra_request('pay/get/id', '{"payment_id": "64a000000000000000000001"}') #>> '{data,payment,id}',
	'64a000000000000000000001', 'pay/get/id is sent');
SELECT is(okra_request('pay/list', '{"limit": 1}') ->> 'status', 'success', 'pay/list is sent');
\set counters `ctl GET counters`
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'counters'::jsonb -> 'requests') k),
	ARRAY['/v2/pay/get/id', '/v2/pay/list'], 'and only those reached the sandbox');

SELECT * FROM finish();
ROLLBACK;
