-- Every error case, by SQLSTATE, with its message; detail and hint where
-- the README promises them.  (Exact full text: test/sql/errors.sql.)
\! ctl POST reset >/dev/null
\getenv testdir OKRA_TEST_DIR
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(46);

-- 22023: bad arguments (one of each kind; all of them: test/sql/inputs.sql)
SELECT throws_ok($$SELECT okra_verify(NULL)$$, '22023', NULL, 'NULL payment_id');
SELECT throws_ok($$SELECT okra_verify('64a00000000000000000001')$$, '22023', NULL, 'short payment_id');
SELECT throws_ok($$SELECT okra_cancel('64a00000000000000000000x')$$, '22023', NULL, 'non-hex payment_id');
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000001', 0)$$, '22023', NULL, 'amount 0');
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000001', -5)$$, '22023', NULL, 'negative amount');
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000001', 5, NULL, 'nope')$$, '22023', NULL, 'bad account');
SELECT throws_ok($$SELECT okra_request('../x')$$, '22023', NULL, 'endpoint with ..');
SELECT throws_ok($$SELECT okra_request('pay/list', '[]')$$, '22023', NULL, 'body not an object');

-- OK001..OK006: Okra's rejections, message verbatim, detail names endpoint and status.
-- The first refund is made around okra (as from Okra's dashboard), so that the
-- ledger does not know it and Okra is the one to refuse the second.
\! curl -sS -o /dev/null -H "Authorization: Bearer $OKRA_SANDBOX_KEY" -H 'Content-Type: application/json' -d '{"payment_id": "64a000000000000000000008"}' "http://127.0.0.1:$OKRA_SANDBOX_PORT/v2/pay/refund"
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000008')$$, 'OK001',
	'Duplicate request. This payment has already been refunded.', 'OK001 duplicate refund');
SELECT is((pg_temp.err($$SELECT okra_refund('64a000000000000000000008')$$)).detail,
	'Okra API endpoint "pay/refund" answered HTTP 400.', 'the detail names the endpoint and HTTP status');
SELECT pg_temp.settle_unknown('failed') \g /dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000006', 1000000)$$, 'OK002',
	'You cannot intiate a refund for an amount greater than the initial payment.', 'OK002 amount too large');
SELECT throws_ok($$SELECT okra_refund('64a00000000000000000000e')$$, 'OK003',
	'You cannot intiate a refund on a payment that is in progress or failed.', 'OK003 not refundable');
\! ctl POST wallet '{"amount": 10}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000007', 11)$$, 'OK004',
	'You do not have sufficient funds in your wallet to initiate this refund, please pass an `account` ID or lower the refund amount to continue',
	'OK004 wallet short');
\! ctl POST wallet '{"amount": 10000000}' >/dev/null
SELECT throws_ok($$SELECT okra_cancel('64a00000000000000000000f')$$, 'OK005',
	'Payment can only be cancelled when it is initialized or pending.', 'OK005 not cancellable');
SELECT throws_ok($$SELECT okra_verify('64a0000000000000000000ff')$$, 'OK006', 'Payment not found.', 'OK006 verify');
SELECT throws_ok($$SELECT okra_cancel('64a0000000000000000000ff')$$, 'OK006', 'Payment not found.', 'OK006 cancel');
SELECT throws_ok($$SELECT okra_refund('64a0000000000000000000ff')$$, 'OK006', 'Payment not found.', 'OK006 refund');

-- the same rejections classified by the object under "data" when Okra's
-- wording changes (README: by message, then by data.refund/payment/wallet)
\! ctl POST faults '{"kind": "status", "status": 400, "route": "pay/refund", "body": "{\"status\":\"error\",\"message\":\"Already refunded.\",\"data\":{\"refund\":{\"_id\":\"x\"}}}"}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000001')$$, 'OK001', 'Already refunded.', 'OK001 from data.refund');
\! ctl POST faults '{"kind": "status", "status": 400, "route": "pay/refund", "body": "{\"status\":\"error\",\"message\":\"Too much.\",\"data\":{\"payment\":{\"_id\":\"x\",\"refund_amount\":5}}}"}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000001')$$, 'OK002', 'Too much.', 'OK002 from data.payment.refund_amount');
\! ctl POST faults '{"kind": "status", "status": 400, "route": "pay/refund", "body": "{\"status\":\"error\",\"message\":\"Not now.\",\"data\":{\"payment\":{\"_id\":\"x\"}}}"}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000001')$$, 'OK003', 'Not now.', 'OK003 from data.payment');
\! ctl POST faults '{"kind": "status", "status": 400, "route": "pay/refund", "body": "{\"status\":\"error\",\"message\":\"Top up.\",\"data\":{\"wallet\":{\"amount\":0}}}"}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000001')$$, 'OK004', 'Top up.', 'OK004 from data.wallet');

-- OK007: HTTP 401 (a key the sandbox does not know) and 403
SELECT set_config('okra.api_key_file', :'testdir' || '/wrong.key', true) \g /dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, 'OK007', 'Invalid or missing secret key.', 'OK007 wrong key (401)');
SELECT is((pg_temp.err($$SELECT okra_refund('64a000000000000000000001', 1)$$)).detail,
	'Okra API endpoint "pay/refund" answered HTTP 401.', 'OK007 detail');
SELECT pg_temp.settle_unknown('failed') \g /dev/null
RESET okra.api_key_file;
\! ctl POST faults '{"kind": "status", "status": 403, "body": "{\"status\":\"error\",\"message\":\"Forbidden.\"}"}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, 'OK007', 'Forbidden.', 'OK007 for 403');

-- OK008: HTTP 429
\! ctl POST faults '{"kind": "status", "status": 429, "body": "{\"status\":\"error\",\"message\":\"Too many requests. You can try again in 60 seconds.\"}"}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, 'OK008',
	'Too many requests. You can try again in 60 seconds.', 'OK008 rate limited (fault)');
\! ctl POST reset >/dev/null
\! ctl POST config '{"rate_limit": 1}' >/dev/null
SELECT is((pg_temp.err($$SELECT okra_verify('64a000000000000000000001')$$)).state, 'no error',
	'one request a minute: the first passes');
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, 'OK008',
	'Too many requests. You can try again in 60 seconds.', 'OK008 rate limited (the sandbox''s limit)');
\! ctl POST config '{"rate_limit": 0}' >/dev/null

-- OK009: other rejections
SELECT throws_ok($$SELECT okra_request('pay/link/create', '{"amount": 5000, "currency": "NGN"}')$$, 'OK009',
	'Invalid or missing name.', 'OK009 missing field on pay/link/create');
SELECT throws_ok($$SELECT okra_request('pay/link/create', '{"name": "Order 7", "amount": -5, "currency": "NGN"}')$$,
	'OK009', 'Invalid or missing amount.', 'OK009 ill-typed field on pay/link/create');
SELECT throws_ok($$SELECT okra_request('pay/unknown')$$, 'OK009', NULL, 'OK009 unknown route (404)');
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"error\",\"message\":\"Nope.\"}"}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, 'OK009', 'Nope.', 'OK009 status error in a 200');
\! ctl POST faults '{"kind": "status", "status": 422, "body": "{\"status\":\"error\",\"message\":\"Idempotency-Key has already been used with a different request body.\"}"}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000001', 1)$$, 'OK009', NULL, 'OK009 for 422');

-- OK010: 5xx and transport failures after the request may have gone out
\! ctl POST faults '{"kind": "status", "status": 500}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, 'OK010', 'Something went wrong on our side.', 'OK010 HTTP 500');
SELECT is((pg_temp.err($$SELECT 1$$)).state, 'no error', '(helper sanity)');
\! ctl POST faults '{"kind": "status", "status": 500}' >/dev/null
SELECT matches((pg_temp.err($$SELECT okra_refund('64a000000000000000000001', 1)$$)).hint, 'okra_journal_resolve',
	'OK010''s hint for a refund says what settles it (okra_verify shows no refunds)');
SELECT pg_temp.settle_unknown('failed') \g /dev/null
\! ctl POST faults '{"kind": "timeout503"}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, 'OK010',
	'Our data source has returned a timeout response. Please retry the request.',
	'OK010 Okra''s 503, message verbatim (but for the trailing space Okra sends)');
\! ctl POST faults '{"kind": "html"}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, 'OK010', NULL, 'OK010 HTML 502');
\! ctl POST faults '{"kind": "status", "status": 504, "body": "", "content_type": "text/plain"}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, 'OK010', NULL, 'OK010 empty 504');

-- OK011: unusable answers
\! ctl POST faults '{"kind": "status", "status": 200, "body": "not json", "content_type": "text/plain"}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, 'OK011', NULL, 'OK011 non-JSON 200');
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"data\":{\"payment\":{}}}"}' >/dev/null
SELECT throws_ok($$SELECT okra_refund('64a000000000000000000001', 1)$$, 'OK011', NULL, 'OK011 refund answer of the wrong shape');
SELECT pg_temp.settle_unknown('failed') \g /dev/null
\! ctl POST faults '{"kind": "status", "status": 200, "body": "{\"status\":\"success\",\"data\":[]}"}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, 'OK011', NULL, 'OK011 data is not an object');
\! ctl POST faults '{"kind": "status", "status": 200, "body": ""}' >/dev/null
SELECT throws_ok($$SELECT okra_request('pay/list')$$, 'OK011', NULL, 'OK011 empty 200');
\! ctl POST faults '{"kind": "size", "bytes": 2000000}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, 'OK011', NULL, 'OK011 answer over okra.max_response_size');
\! ctl POST faults '{"kind": "status", "status": 301, "body": ""}' >/dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, 'OK011', NULL, 'OK011 redirect');

-- 55000 and 08001
SELECT set_config('okra.api_key_file', '', true) \g /dev/null
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, '55000', 'okra.api_key_file is not set', '55000 no key');
RESET okra.api_key_file;
SET LOCAL okra.base_url = 'http://127.0.0.1:1/v2';
SELECT throws_ok($$SELECT okra_verify('64a000000000000000000001')$$, '08001', NULL, '08001 connection refused');
RESET okra.base_url;

SELECT * FROM finish();
ROLLBACK;
