-- okra_bulk_initiate: many debits in one bulkfiles/initiate upload.  The
-- file, its rows and its payments in the ledger (due a check, in file
-- order), the journal, the CSV's quoting, every kind of bad row refused
-- with the row named and nothing sent, okra-sandbox's own refusal, an
-- answer lost, success answers the ledger cannot take (OK011), bulk
-- payments in okra_money_flow once verified, read-only transactions and
-- privileges.
\! ctl POST reset >/dev/null
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS okra;
\ir helpers.psql
SELECT plan(70);

\set d1 64d0000000000000000000a1
\set d2 64d0000000000000000000a2
\set c1 64d0000000000000000000c1

CREATE TEMP TABLE orders (id integer, debit text, credit text, amount bigint, callback text);
INSERT INTO orders VALUES (3, :'d1', :'c1', 30000, NULL),
						  (1, upper(:'d2'), :'c1', 10000, 'https://shop.example/okra'),
						  (2, :'d1', :'c1', 20000, '');

--
-- three rows, three payments
--
\set before `ctl GET counters`
CREATE TEMP TABLE b1 AS
SELECT * FROM okra_bulk_initiate((SELECT array_agg(ROW(debit, credit, amount, 'NGN', callback)::okra_bulk_payment
												   ORDER BY id) FROM orders));
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'bulkfiles/initiate') - pg_temp.requests(:'before', 'bulkfiles/initiate'),
	1::bigint, 'one upload reached Okra');
SELECT is((SELECT row(file_name, status, rows, total_amount, cardinality(payment_ids)) FROM b1),
	row('payments.csv'::text, 'processed'::text, 3, 60000::bigint, 3), 'the file: its name, status, rows and total');
SELECT ok((SELECT bool_and(p ~ '^[0-9a-f]{24}$' AND bulkfile_id ~ '^[0-9a-f]{24}$') FROM b1, unnest(payment_ids) AS p),
	'its id and its payments'' ids are ObjectIDs');
SELECT is((SELECT response #>> '{data,bulkfile,_id}' FROM b1), (SELECT bulkfile_id FROM b1), 'response is the whole body');
SELECT bulkfile_id AS bf1, payment_ids[1] AS p1, payment_ids[2] AS p2, payment_ids[3] AS p3 FROM b1 \gset

-- okra-sandbox has the file and the payments, in the order of the rows
\set files `ctl GET bulkfiles`
SELECT is((SELECT f -> 'payments' FROM jsonb_array_elements(:'files'::jsonb -> 'bulkfiles') AS f
			WHERE f ->> '_id' = :'bf1'),
	to_jsonb(ARRAY[:'p1', :'p2', :'p3']), 'okra-sandbox has the file with these payments');
SELECT is((okra_verify(:'p1')).amount, 10000::bigint, 'okra_verify: the first payment is the first row''s (id 1)');
SELECT is((SELECT row(status, amount, currency) FROM okra_verify(:'p3')),
	row('initialize'::text, 30000::bigint, 'NGN'::text), 'and the third the third''s (id 3), initialize');

-- the ledger
SELECT is((SELECT row(file_name, status, rows, total_amount, currency, created_by) FROM okra_bulk_files
			WHERE bulkfile_id = :'bf1'),
	row('payments.csv'::text, 'processed'::text, 3, 60000::bigint, 'NGN'::text, current_user::name),
	'okra_bulk_files has the file');
SELECT results_eq(format($$SELECT position, account_to_debit, amount, callback_url, payment_id
							 FROM okra_bulk_file_rows WHERE bulkfile_id = %L ORDER BY position$$, :'bf1'),
	format($$VALUES (1, %L, 10000::bigint, 'https://shop.example/okra', %L),
					(2, %L, 20000::bigint, NULL, %L), (3, %L, 30000::bigint, NULL, %L)$$,
		   :'d2', :'p1', :'d1', :'p2', :'d1', :'p3'),
	'okra_bulk_file_rows: one per row, in order, account ids in lower case, each with its payment');
SELECT is((SELECT count(*) FROM okra_payments
			WHERE payment_id = :'p2' AND amount = 20000 AND currency = 'NGN' AND NOT terminal
			  AND next_check_at <= clock_timestamp()), 1::bigint,
	'okra_payments has an unverified payment, due a check now');
SELECT is((SELECT count(*) FROM okra_payments WHERE payment_id IN (:'p1', :'p2', :'p3')), 3::bigint,
	'all three joined the ledger');
SELECT is((SELECT request FROM okra_api_calls WHERE endpoint = 'bulkfiles/initiate' ORDER BY call_id DESC LIMIT 1),
	jsonb_build_object('product', 'initiate_payment', 'file_name', 'payments.csv', 'rows', jsonb_build_array(
		jsonb_build_object('account_to_debit', :'d2', 'account_to_credit', :'c1', 'amount', 10000,
						   'currency', 'NGN', 'callback_url', 'https://shop.example/okra'),
		jsonb_build_object('account_to_debit', :'d1', 'account_to_credit', :'c1', 'amount', 20000,
						   'currency', 'NGN', 'callback_url', NULL),
		jsonb_build_object('account_to_debit', :'d1', 'account_to_credit', :'c1', 'amount', 30000,
						   'currency', 'NGN', 'callback_url', NULL))),
	'okra_api_calls keeps a description of the file, not the upload''s bytes');
SELECT okra_journal_flush();
SELECT is((SELECT row(amount, outcome, payment_id) FROM okra_journal
			WHERE endpoint = 'bulkfiles/initiate' AND created_id = :'bf1'),
	row(60000::bigint, 'succeeded'::text, NULL::text), 'the journal has it, for the total, succeeded, with the file it created');

-- RFC 4180 quoting: a comma in a callback URL (unquoted, Okra would see 6 columns)
CREATE TEMP TABLE b2 AS SELECT * FROM okra_bulk_initiate(ARRAY[
	ROW(:'d1', :'c1', 500, 'NGN', 'https://shop.example/cb?orders=1,2,3')::okra_bulk_payment], 'june 2027_run-1.csv');
SELECT is((SELECT row(rows, file_name) FROM b2), row(1, 'june 2027_run-1.csv'::text),
	'a callback URL with commas is quoted: okra-sandbox takes the row, and the file name');
SELECT is((SELECT callback_url FROM okra_bulk_file_rows WHERE bulkfile_id = (SELECT bulkfile_id FROM b2)),
	'https://shop.example/cb?orders=1,2,3', 'and the ledger keeps the URL as given');

--
-- bad input: 22023 naming the row, nothing sent
--
\set before `ctl GET counters`
SELECT okra_journal_flush();
SELECT count(*) AS journaled FROM okra_journal \gset
CREATE FUNCTION pg_temp.bad(rows text, file text DEFAULT 'payments.csv') RETURNS text
LANGUAGE sql AS $$
	SELECT e.state || ' ' || e.message
	  FROM pg_temp.err(format('SELECT okra_bulk_initiate(%s, %L)', rows, file)) AS e $$;
\set ok1 'ROW(''64d0000000000000000000a1'', ''64d0000000000000000000c1'', 100, ''NGN'', NULL)'
SELECT is(pg_temp.bad(format('ARRAY[%s, %s, ROW(%L, %L, 0, %L, NULL)]::okra_bulk_payment[]', :'ok1', :'ok1', :'d1', :'c1', 'NGN')),
	'22023 invalid amount in row 3: 0', 'amount 0 in row 3, after two good rows');
SELECT is(e.detail, 'The amount is in kobo and must be positive.', 'a negative amount')
  FROM pg_temp.err(format('SELECT okra_bulk_initiate(ARRAY[ROW(%L, %L, -5, %L, NULL)]::okra_bulk_payment[])', :'d1', :'c1', 'NGN')) AS e;
SELECT is(pg_temp.bad(format('ARRAY[%s, ROW(%L, %L, NULL, %L, NULL)]::okra_bulk_payment[]', :'ok1', :'d1', :'c1', 'NGN')),
	'22023 amount in row 2 must not be null', 'no amount');
SELECT is(pg_temp.bad(format('ARRAY[%s, ROW(%L, %L, 100, %L, NULL)]::okra_bulk_payment[]', :'ok1', 'nope', :'c1', 'NGN')),
	'22023 invalid account_to_debit in row 2: "nope"', 'a malformed account to debit');
SELECT is(pg_temp.bad(format('ARRAY[ROW(NULL, %L, 100, %L, NULL)]::okra_bulk_payment[]', :'c1', 'NGN')),
	'22023 account_to_debit in row 1 must not be null', 'no account to debit');
SELECT is(pg_temp.bad(format('ARRAY[ROW(%L, %L, 100, %L, NULL)]::okra_bulk_payment[]', :'d1', :'c1' || '0', 'NGN')),
	'22023 invalid account_to_credit in row 1: "64d0000000000000000000c10"', 'a malformed account to credit');
SELECT is(pg_temp.bad(format('ARRAY[%s, %s, %s, ROW(%L, NULL, 100, %L, NULL)]::okra_bulk_payment[]', :'ok1', :'ok1', :'ok1', :'d1', 'NGN')),
	'22023 account_to_credit in row 4 must not be null', 'no account to credit');
SELECT is(e.message || ' / ' || e.detail, 'invalid currency in row 2: "USD" / Okra takes payments in NGN only.', 'another currency')
  FROM pg_temp.err(format('SELECT okra_bulk_initiate(ARRAY[%s, ROW(%L, %L, 100, %L, NULL)]::okra_bulk_payment[])', :'ok1', :'d1', :'c1', 'USD')) AS e;
SELECT is(pg_temp.bad(format('ARRAY[ROW(%L, %L, 100, NULL, NULL)]::okra_bulk_payment[]', :'d1', :'c1')),
	'22023 currency in row 1 must not be null', 'no currency');
SELECT is(pg_temp.bad(format('ARRAY[ROW(%L, %L, 100, %L, %L)]::okra_bulk_payment[]', :'d1', :'c1', 'NGN', 'ftp://shop.example/cb')),
	'22023 invalid callback_url in row 1: "ftp://shop.example/cb"', 'a callback URL that is not http or https');
SELECT is(pg_temp.bad(format('ARRAY[%s, ROW(%L, %L, 100, %L, %L)]::okra_bulk_payment[]', :'ok1', :'d1', :'c1', 'NGN', E'https://shop.example/cb\r\nX-Evil: 1')),
	E'22023 invalid callback_url in row 2: "https://shop.example/cb\r\nX-Evil: 1"', 'a callback URL with CR and LF');
SELECT is(pg_temp.bad(format('ARRAY[ROW(%L, %L, 100, %L, %L)]::okra_bulk_payment[]', :'d1', :'c1', 'NGN', 'https://shop.example/"a",b')),
	'22023 invalid callback_url in row 1: "https://shop.example/"a",b"', 'a callback URL with a double quote');
SELECT is(pg_temp.bad(format('ARRAY[ROW(%L, %L, 100, %L, %L)]::okra_bulk_payment[]', :'d1', :'c1', 'NGN', '=HYPERLINK("http://x")')),
	'22023 invalid callback_url in row 1: "=HYPERLINK("http://x")"', 'a formula is no callback URL');
SELECT is((pg_temp.err(format('SELECT okra_bulk_initiate(ARRAY[ROW(%L, %L, 100, %L, %L)]::okra_bulk_payment[])',
		:'d1', :'c1', 'NGN', 'https://x/' || repeat('a', 2040)))).state, '22023', 'a callback URL over 2048 bytes');
SELECT is(pg_temp.bad(format('ARRAY[%s, NULL]::okra_bulk_payment[]', :'ok1')),
	'22023 row 2 must not be null', 'a NULL row');
SELECT is(pg_temp.bad('ARRAY[]::okra_bulk_payment[]'), '22023 payments must not be empty', 'an empty array');
SELECT is(pg_temp.bad('NULL::okra_bulk_payment[]'), '22023 payments must not be null', 'a NULL array');
SELECT is(pg_temp.bad(format('ARRAY[[%s], [%s]]::okra_bulk_payment[]', :'ok1', :'ok1')),
	'22023 payments must be a one-dimensional array', 'a two-dimensional array');
SELECT is(pg_temp.bad(format('array_fill(%s::okra_bulk_payment, ARRAY[1001])', :'ok1')),
	'22023 too many rows in payments: 1001', 'more than 1000 rows');
SELECT is(pg_temp.bad(format('ARRAY[ROW(%L, %L, 9223372036854775807, %L, NULL), ROW(%L, %L, 1, %L, NULL)]::okra_bulk_payment[]',
		:'d1', :'c1', 'NGN', :'d1', :'c1', 'NGN')),
	'22023 total amount of the payments is out of range', 'a total out of range for bigint: the total is blamed, not a row');
SELECT is(e.detail, 'Adding the amount of row 3 (8) takes the total past the largest bigint.',
	'and the detail names the row that overflows it')
  FROM pg_temp.err(format('SELECT okra_bulk_initiate(ARRAY[%s, ROW(%L, %L, 9223372036854775700, %L, NULL), ROW(%L, %L, 8, %L, NULL)]::okra_bulk_payment[])',
		:'ok1', :'d1', :'c1', 'NGN', :'d1', :'c1', 'NGN')) AS e;
SELECT is(pg_temp.bad(format('ARRAY[%s]::okra_bulk_payment[]', :'ok1'), 'a"b.csv'),
	'22023 invalid file_name: "a"b.csv"', 'a file name with a double quote');
SELECT is(pg_temp.bad(format('ARRAY[%s]::okra_bulk_payment[]', :'ok1'), E'a\r\nContent-Type: x'),
	E'22023 invalid file_name: "a\r\nContent-Type: x"', 'a file name with CR and LF');
SELECT is((pg_temp.err(format('SELECT okra_bulk_initiate(ARRAY[%s]::okra_bulk_payment[], NULL)', :'ok1'))).message,
	'file_name must not be null', 'a NULL file name');
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'bulkfiles/initiate'), pg_temp.requests(:'before', 'bulkfiles/initiate'),
	'none of them reached Okra');
SELECT okra_journal_flush();
SELECT is((SELECT count(*) FROM okra_journal), :'journaled'::bigint, 'nor the journal');

--
-- okra-sandbox's own refusal, and an answer that is lost
--
SELECT count(*) AS files FROM okra_bulk_files \gset
SELECT is(e.state || ' ' || e.message, 'OK009 Invalid or missing amount in row 2 of the file.',
	'an amount okra-sandbox finds too large (over 10^15 kobo): OK009, its message naming the row')
  FROM pg_temp.err(format('SELECT okra_bulk_initiate(ARRAY[%s, ROW(%L, %L, 10000000000000000, %L, NULL)]::okra_bulk_payment[])',
		:'ok1', :'d1', :'c1', 'NGN')) AS e;
SELECT okra_journal_flush();
SELECT is((SELECT outcome FROM okra_journal WHERE endpoint = 'bulkfiles/initiate' ORDER BY journal_id DESC LIMIT 1),
	'failed', 'the journal: failed, nothing happened');
\! ctl POST faults '{"kind": "after_drop", "route": "bulkfiles/initiate"}' >/dev/null
SELECT is((pg_temp.err(format('SELECT okra_bulk_initiate(ARRAY[%s]::okra_bulk_payment[])', :'ok1'))).state,
	'OK010', 'an upload whose answer is lost: OK010');
SELECT okra_journal_flush();
SELECT is((SELECT row(outcome, amount) FROM okra_journal WHERE endpoint = 'bulkfiles/initiate' ORDER BY journal_id DESC LIMIT 1),
	row('unknown'::text, 100::bigint), 'the journal: unknown, for its total');
SELECT is((SELECT count(*) FROM okra_bulk_files), :'files'::bigint, 'neither is in okra_bulk_files');
SELECT pg_temp.settle_unknown('succeeded');

--
-- a success answer the ledger cannot take: OK011 (the hint: money may have
-- moved), the journal unknown with the file it names, nothing recorded;
-- okra-sandbox answers with a crafted 200 and executes nothing
--
-- fault(file, payments): arms that answer for the next upload
CREATE FUNCTION pg_temp.fault(file text, payments text[]) RETURNS text
LANGUAGE sql AS $$
	SELECT jsonb_build_object('kind', 'status', 'status', 200, 'route', 'bulkfiles/initiate',
		'body', jsonb_build_object('status', 'success', 'message', 'Bulk payment file successfully uploaded.',
			'data', jsonb_build_object('bulkfile', jsonb_build_object('_id', file, 'file_name', 'payments.csv',
				'status', 'processed', 'rows', cardinality(payments), 'payments', to_jsonb(payments),
				'env', 'production')))::text)::text $$;
-- ledger(): what the ledger holds, to compare before and after
CREATE FUNCTION pg_temp.ledger() RETURNS bigint[]
LANGUAGE sql AS $$
	SELECT ARRAY[(SELECT count(*) FROM okra_bulk_files), (SELECT count(*) FROM okra_bulk_file_rows),
				 (SELECT count(*) FROM okra_payments), (SELECT count(*) FROM okra_api_calls)] $$;
-- last(): the journal's latest bulk upload
CREATE FUNCTION pg_temp.last(OUT outcome text, OUT created_id text, OUT amount bigint)
LANGUAGE sql AS $$
	SELECT outcome, created_id, amount FROM okra_journal
	 WHERE endpoint = 'bulkfiles/initiate' ORDER BY journal_id DESC LIMIT 1 $$;
\set may_move 'The request may have been carried out by Okra, and money may have moved. Check its outcome with Okra before sending it again.'
\set two 'ARRAY[ROW(''64d0000000000000000000a1'', ''64d0000000000000000000c1'', 100, ''NGN'', NULL), ROW(''64d0000000000000000000a2'', ''64d0000000000000000000c1'', 200, ''NGN'', NULL)]::okra_bulk_payment[]'
SELECT pg_temp.ledger() AS ledger0 \gset

-- the same payment twice (once in upper case): refused before the keys see it
SELECT pg_temp.fault('64e0000000000000000000f1', ARRAY['64e0000000000000000000b1', '64E0000000000000000000B1']) AS fault \gset
\setenv FAULT :fault
\! ctl POST faults "$FAULT" >/dev/null
SELECT is(e.state || ' ' || e.message || ' / ' || e.detail || ' / ' || e.hint,
	'OK011 invalid response from Okra API endpoint "bulkfiles/initiate": unexpected shape / '
	'Okra API endpoint "bulkfiles/initiate" answered HTTP 200. Payments 1 and 2 of bulk file "64e0000000000000000000f1" '
	'are both "64e0000000000000000000b1": each row must have its own payment. / ' || :'may_move',
	'an answer that lists a payment twice: OK011, money may have moved')
  FROM pg_temp.err(format('SELECT okra_bulk_initiate(%s)', :'two')) AS e;
SELECT okra_journal_flush();
SELECT is(pg_temp.last(), row('unknown'::text, '64e0000000000000000000f1'::text, 300::bigint),
	'the journal: unknown, with the file Okra named, for the total');
SELECT is(pg_temp.ledger(), :'ledger0'::bigint[], 'nothing half-recorded: no file, row, payment or call');

-- a file id the ledger has already
SELECT pg_temp.fault(upper(:'bf1'), ARRAY['64e0000000000000000000b2', '64e0000000000000000000b3']) AS fault \gset
\setenv FAULT :fault
\! ctl POST faults "$FAULT" >/dev/null
SELECT is(e.state || ' ' || e.detail || ' / ' || e.hint,
	format('OK011 Okra API endpoint "bulkfiles/initiate" answered HTTP 200. Bulk file "%s" is already in okra_bulk_files. / %s',
		   :'bf1', :'may_move'),
	'an answer naming a bulk file already in the ledger: OK011, not 23505')
  FROM pg_temp.err(format('SELECT okra_bulk_initiate(%s)', :'two')) AS e;
SELECT okra_journal_flush();
SELECT is(pg_temp.last(), row('unknown'::text, :'bf1'::text, 300::bigint), 'the journal: unknown, with that file');
SELECT is(pg_temp.ledger(), :'ledger0'::bigint[], 'nothing half-recorded');
SELECT is((SELECT row(rows, payment_ids) FROM okra_bulk_files, LATERAL (SELECT array_agg(payment_id ORDER BY position) AS payment_ids
			 FROM okra_bulk_file_rows AS r WHERE r.bulkfile_id = :'bf1') AS r WHERE bulkfile_id = :'bf1'),
	row(3, ARRAY[:'p1', :'p2', :'p3']), 'and the file already recorded is as it was');

-- a payment already in another bulk file
SELECT pg_temp.fault('64e0000000000000000000f3', ARRAY['64e0000000000000000000b4', :'p2']) AS fault \gset
\setenv FAULT :fault
\! ctl POST faults "$FAULT" >/dev/null
SELECT is(e.state || ' ' || e.detail || ' / ' || e.hint,
	format('OK011 Okra API endpoint "bulkfiles/initiate" answered HTTP 200. Payment 2 of bulk file "64e0000000000000000000f3", '
		   '"%s", is already row 2 of bulk file "%s". / %s', :'p2', :'bf1', :'may_move'),
	'an answer naming a payment of another bulk file: OK011, not 23505')
  FROM pg_temp.err(format('SELECT okra_bulk_initiate(%s)', :'two')) AS e;
SELECT okra_journal_flush();
SELECT is(pg_temp.last(), row('unknown'::text, '64e0000000000000000000f3'::text, 300::bigint), 'the journal: unknown');
SELECT is(pg_temp.ledger(), :'ledger0'::bigint[], 'nothing half-recorded');
SELECT is(pg_temp.settle_unknown('failed'), 3, 'okra-sandbox executed none of the three: settled as failed');

-- a payment okra_payments has from elsewhere (okra_verify) is no conflict:
-- recorded, and its okra_payments row kept as it is
SELECT okra_verify('64a00000000000000000000a') \g /dev/null
SELECT row(amount, status, check_count, next_check_at) AS seen FROM okra_payments WHERE payment_id = '64a00000000000000000000a' \gset
SELECT pg_temp.fault('64e0000000000000000000f4', ARRAY['64A00000000000000000000A']) AS fault \gset
\setenv FAULT :fault
\! ctl POST faults "$FAULT" >/dev/null
SELECT is(e.state, 'no error', 'an answer naming a payment already in okra_payments: recorded')
  FROM pg_temp.err(format('CREATE TEMP TABLE b4 AS SELECT * FROM okra_bulk_initiate(ARRAY[%s]::okra_bulk_payment[])', :'ok1')) AS e;
SELECT is((SELECT row(bulkfile_id, payment_ids) FROM b4), row('64e0000000000000000000f4'::text, ARRAY['64a00000000000000000000a']),
	'the file, with that payment');
SELECT is((SELECT row(position, amount, payment_id) FROM okra_bulk_file_rows WHERE bulkfile_id = '64e0000000000000000000f4'),
	row(1, 100::bigint, '64a00000000000000000000a'::text), 'its row in okra_bulk_file_rows');
SELECT is((SELECT row(amount, status, check_count, next_check_at)::text FROM okra_payments WHERE payment_id = '64a00000000000000000000a'),
	:'seen'::text, 'the payment''s row in okra_payments is kept as it was');
SELECT okra_journal_flush();
SELECT is(pg_temp.last(), row('succeeded'::text, '64e0000000000000000000f4'::text, 100::bigint), 'the journal: succeeded');

--
-- bulk payments verified as success are money collected (okra_money_flow),
-- on the day they succeeded, in their currency; one still initialize is not
--
CREATE TEMP TABLE mf0 AS SELECT * FROM okra_money_flow;
SELECT payment_ids[1] AS m1, payment_ids[2] AS m2, payment_ids[3] AS m3
  FROM okra_bulk_initiate(ARRAY[ROW(:'d1', :'c1', 700, 'NGN', NULL), ROW(:'d2', :'c1', 1100, 'NGN', NULL),
								ROW(:'d1', :'c1', 1300, 'NGN', NULL)]::okra_bulk_payment[], 'flow.csv') \gset
\setenv M1 :m1
\setenv M2 :m2
\! ctl POST payments/$M1 '{"status": "success"}' >/dev/null
\! ctl POST payments/$M2 '{"status": "success"}' >/dev/null
SELECT count(*) FROM okra_verify(:'m1') UNION ALL SELECT count(*) FROM okra_verify(:'m2')
 UNION ALL SELECT count(*) FROM okra_verify(:'m3') \g /dev/null
SELECT is((SELECT array_agg(row(object_id, new_status, outcome, amount)::text ORDER BY amount)
			 FROM okra_status_changes WHERE object_id IN (:'m1', :'m2', :'m3') AND outcome IS NOT NULL),
	ARRAY[row(:'m1', 'success', 'succeeded', 700)::text, row(:'m2', 'success', 'succeeded', 1100)::text],
	'okra_verify saw the two bulk payments succeed');
SELECT min(changed_at::date) AS flow_day FROM okra_status_changes WHERE object_id IN (:'m1', :'m2') \gset
SELECT set_eq($$SELECT f.day, f.currency, f.collected - coalesce(o.collected, 0) AS collected, f.net - coalesce(o.net, 0) AS net
				 FROM okra_money_flow AS f LEFT JOIN mf0 AS o USING (day, currency)
				WHERE f.collected IS DISTINCT FROM o.collected OR f.net IS DISTINCT FROM o.net$$,
	format($$VALUES (%L::date, 'NGN', 1800::numeric, 1800::numeric)$$, :'flow_day'),
	'okra_money_flow: collected (and net) grew by the two, 700 + 1100, that day, in NGN, and nothing else moved');

--
-- where the ledger cannot be written: 25006, nothing sent
--
\set before `ctl GET counters`
SAVEPOINT ro;
SET LOCAL transaction_read_only = on;
SELECT e.state AS ro_state, e.message AS ro_message
  FROM pg_temp.err(format('SELECT okra_bulk_initiate(ARRAY[%s]::okra_bulk_payment[])', :'ok1')) AS e \gset
ROLLBACK TO SAVEPOINT ro;
SELECT is(:'ro_state'::text || ' ' || :'ro_message', '25006 cannot call okra_bulk_initiate in a read-only transaction', 'read-only: 25006');

--
-- privileges
--
SELECT is((SELECT count(*) FROM information_schema.routine_privileges
			WHERE routine_name IN ('okra_bulk_initiate', 'okra_ledger_bulk_record', 'okra_ledger_bulk_conflict')
			  AND grantee = 'PUBLIC'), 0::bigint,
	'okra_bulk_initiate, okra_ledger_bulk_record and okra_ledger_bulk_conflict are not granted to PUBLIC');
CREATE ROLE okra_bulk_nobody;
SAVEPOINT nobody;
SET LOCAL ROLE okra_bulk_nobody;
SELECT (pg_temp.err(format('SELECT okra_bulk_initiate(ARRAY[%s]::okra_bulk_payment[])', :'ok1'))).state AS nobody_state \gset
ROLLBACK TO SAVEPOINT nobody;
SELECT is(:'nobody_state'::text, '42501', 'a role without a grant cannot call it');
SELECT ok(NOT has_table_privilege('okra_bulk_nobody', 'okra_bulk_files', 'SELECT')
		  AND NOT has_table_privilege('okra_bulk_nobody', 'okra_bulk_file_rows', 'SELECT'),
	'nor read the bulk files');
\set after `ctl GET counters`
SELECT is(pg_temp.requests(:'after', 'bulkfiles/initiate'), pg_temp.requests(:'before', 'bulkfiles/initiate'),
	'and neither reached Okra');
-- README "Granting roles": enough for an application role, which needs no
-- privilege on the ledger to be recorded in it
CREATE ROLE okra_bulk_app;
SELECT format('GRANT USAGE ON SCHEMA %I TO okra_bulk_app', extnamespace::regnamespace) FROM pg_extension WHERE extname = 'okra' \gexec
GRANT EXECUTE ON FUNCTION okra_bulk_initiate(okra_bulk_payment[], text) TO okra_bulk_app;
SAVEPOINT app;
SET LOCAL ROLE okra_bulk_app;
SELECT bulkfile_id AS app_file FROM okra_bulk_initiate(ARRAY[:ok1]::okra_bulk_payment[]) \gset
RESET ROLE;
SELECT created_by AS app_by FROM okra_bulk_files WHERE bulkfile_id = :'app_file' \gset
ROLLBACK TO SAVEPOINT app;
SELECT is(:'app_by'::text, 'okra_bulk_app', 'the README''s grant lets a role upload, and the ledger records it');

SELECT * FROM finish();
ROLLBACK;
