--
-- inputs: every argument check.  Each bad argument is SQLSTATE 22023 and is
-- raised before anything is sent: the sandbox's counters do not move.
--
\! ctl POST reset >/dev/null

-- try(sql): run sql and show the error it raises (or "no error")
CREATE FUNCTION pg_temp.try(q text, OUT state text, OUT message text,
                            OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	state := 'no error';
EXCEPTION WHEN OTHERS OR query_canceled THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	detail := nullif(detail, '');
	hint := nullif(hint, '');
END $$;

CREATE TEMP TABLE cases (n serial, q text);
INSERT INTO cases (q) VALUES
	-- payment_id: NULL, empty, short, long, very long (quoted back clipped), not hex
	($$SELECT okra_verify(NULL)$$),
	($$SELECT okra_verify('')$$),
	($$SELECT okra_verify('64a00000000000000000001')$$),
	($$SELECT okra_verify('64a0000000000000000000011')$$),
	($$SELECT okra_verify(repeat('ab', 100))$$),
	($$SELECT okra_verify('64a00000000000000000000g')$$),
	($$SELECT okra_verify('64a00000000000000000000-')$$),
	($$SELECT okra_verify(' 64a000000000000000000001')$$),
	($$SELECT okra_verify('64a000000000000000000001 ')$$),
	($$SELECT okra_verify('0x64a0000000000000000001')$$),
	($$SELECT okra_verify(E'64a00000000000000000000\n')$$),
	($$SELECT okra_verify('64a0000000000000000000é')$$),
	($$SELECT okra_cancel(NULL)$$),
	($$SELECT okra_cancel('not-an-id')$$),
	($$SELECT okra_refund(NULL)$$),
	($$SELECT okra_refund(NULL, 100)$$),
	($$SELECT okra_refund('64a00000000000000000000z')$$),
	-- amount: zero, negative, minimum bigint
	($$SELECT okra_refund('64a000000000000000000001', 0)$$),
	($$SELECT okra_refund('64a000000000000000000001', -1)$$),
	($$SELECT okra_refund('64a000000000000000000001', -9223372036854775808)$$),
	-- account: same rules as payment_id
	($$SELECT okra_refund('64a000000000000000000001', 100, NULL, '')$$),
	($$SELECT okra_refund('64a000000000000000000001', 100, NULL, 'acct')$$),
	($$SELECT okra_refund('64a000000000000000000001', 100, 'r', '64b00000000000000000000100')$$),
	-- a bad account fails even when the amount is fine and the id is good
	($$SELECT okra_refund('64a000000000000000000001', NULL, NULL, '64b0000000000000000000x1')$$),
	-- endpoint: NULL, empty, absolute, parent, query, fragment, other characters
	($$SELECT okra_request(NULL)$$),
	($$SELECT okra_request(NULL, '{}')$$),
	($$SELECT okra_request('')$$),
	($$SELECT okra_request('/pay/x')$$),
	($$SELECT okra_request('../x')$$),
	($$SELECT okra_request('pay/../verify')$$),
	($$SELECT okra_request('pay/..')$$),
	($$SELECT okra_request('pay/x?y')$$),
	($$SELECT okra_request('pay/x?y=1')$$),
	($$SELECT okra_request('pay/x#y')$$),
	($$SELECT okra_request('pay/x y')$$),
	($$SELECT okra_request('pay/x%2F..')$$),
	($$SELECT okra_request('pay\verify')$$),
	($$SELECT okra_request('pay/verify.json')$$),
	($$SELECT okra_request('http://example.com/pay/verify')$$),
	($$SELECT okra_request('//example.com/pay/verify')$$),
	($$SELECT okra_request(E'pay/verify\r\nX-Injected: 1')$$),
	($$SELECT okra_request('pay/vérifier')$$),
	($$SELECT okra_request(repeat('a/', 150))$$),
	-- body: SQL NULL, and JSON that is not an object
	($$SELECT okra_request('pay/list', NULL)$$),
	($$SELECT okra_request('pay/list', '[]')$$),
	($$SELECT okra_request('pay/list', '[{"page": 1}]')$$),
	($$SELECT okra_request('pay/list', '"pay"')$$),
	($$SELECT okra_request('pay/list', '1')$$),
	($$SELECT okra_request('pay/list', 'true')$$),
	($$SELECT okra_request('pay/list', 'null')$$);

\set before `ctl GET counters`

\x on
SELECT c.n, c.q, t.* FROM cases c, LATERAL pg_temp.try(c.q) t ORDER BY c.n;
\x off

-- nothing reached the sandbox: no API request and no new connection (the
-- one ctl connection in between is the only one)
\set after `ctl GET counters`
SELECT :'before'::jsonb -> 'requests' AS requests_before,
       :'after'::jsonb -> 'requests' AS requests_after,
       (:'after'::jsonb ->> 'connections')::int - (:'before'::jsonb ->> 'connections')::int
           AS new_connections;

-- upper case is accepted and sent in lower case (the sandbox only knows
-- lower-case ids, so these succeeding proves it)
SELECT payment_id, status, amount FROM okra_verify('64A00000000000000000000B');
SELECT payment_id, status FROM okra_cancel('64A00000000000000000000C');
SELECT payment_id, amount, reason
FROM okra_refund('64A000000000000000000001', 100, 'Upper Case Id', '64B0000000000000000000AA');
SELECT (okra_refund('64a000000000000000000001', 1, NULL, '64B0000000000000000000AA')).response
	#>> '{data,refund_payment,data,payment,status}' AS refund_payment_status;
-- what the sandbox received
\set after `ctl GET counters`
SELECT :'after'::jsonb -> 'requests' AS requests,
       :'after'::jsonb -> 'refunds' AS refunds;

-- the smallest and the largest positive amounts are passed through (the
-- sandbox refuses amounts over 10^15 kobo: "Invalid or missing amount.")
SELECT amount, status FROM okra_refund('64a000000000000000000005', 1);
SELECT * FROM pg_temp.try($$SELECT okra_refund('64a000000000000000000006', 9223372036854775807)$$);

-- reason is free text: quotes, backslashes, newlines and non-ASCII are sent
-- as JSON and come back intact
SELECT reason = E'it''s "broken" \\ naïve\nline 2 ₦' AS reason_intact
FROM okra_refund('64a000000000000000000003', 10, E'it''s "broken" \\ naïve\nline 2 ₦');
-- empty reason
SELECT quote_nullable(reason) AS reason FROM okra_refund('64a000000000000000000003', 10, '');

-- a body is sent as given (keys and nested values intact)
SELECT okra_request('pay/list', '{"page": 2, "limit": 5}') -> 'data' -> 'pagination'
	-> 'page' AS page,
       okra_request('pay/list', '{"page": 2, "limit": 5}') -> 'data' -> 'pagination'
	-> 'limit' AS "limit";
