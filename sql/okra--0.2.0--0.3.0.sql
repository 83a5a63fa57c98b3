\echo Use "ALTER EXTENSION okra UPDATE TO '0.3.0'" to load this file. \quit

-- okra 0.2.0 -> 0.3.0.  As every upgrade script: the result equals a fresh
-- CREATE EXTENSION okra (sql/okra.sql) object for object, privileges and
-- comments included (test/upgrade/catalog.sql), and every ledger row stays.
-- Statements that create objects are copied from sql/okra.sql.

-- As every update: only once the server runs the library installed with
-- this script (see okra--0.1.0--0.2.0.sql).
DO $$
DECLARE
	lib			text;
	changed		timestamptz;
BEGIN
	SELECT c.setting || '/okra.so' INTO lib FROM pg_catalog.pg_config AS c
	 WHERE c.name = 'PKGLIBDIR';
	changed := (pg_catalog.pg_stat_file(lib, true)).change;
	-- (the file's time has whole seconds: within the server's first second,
	-- the file may be the newer)
	IF changed >= pg_catalog.date_trunc('second', pg_catalog.pg_postmaster_start_time()) THEN
		RAISE EXCEPTION 'the okra library was installed after the server started'
			USING ERRCODE = '55000',
				  DETAIL = pg_catalog.format('%s changed at %s; the server started at %s, so sessions may still run the old library. Nothing was changed.',
											 lib, changed, pg_catalog.pg_postmaster_start_time()),
				  HINT = 'Restart the server, then run ALTER EXTENSION okra UPDATE.';
	END IF;
END
$$;

-- Reading Okra's records.  okra_get_payment records what it read, as
-- okra_verify does; the lists write nothing and ask for a page only when
-- the query needs its rows (README "Reading Okra's records").
CREATE FUNCTION @extschema@.okra_get_payment(payment_id text)
RETURNS @extschema@.okra_payment
AS 'MODULE_PATHNAME', 'okra_get_payment'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_get_payment(text) IS
	'Okra''s record of one payment (pay/get/id), recorded in the ledger like okra_verify''s answer; see README "Reading Okra''s records".';
REVOKE ALL ON FUNCTION @extschema@.okra_get_payment(text) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_list_payments(page_size integer DEFAULT 50)
RETURNS SETOF @extschema@.okra_payment
AS 'MODULE_PATHNAME', 'okra_list_payments'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 50;
COMMENT ON FUNCTION @extschema@.okra_list_payments(integer) IS
	'The merchant''s payments as Okra lists them (pay/list), newest first, a page of page_size at a time, asked for only as rows are needed; writes nothing.';
REVOKE ALL ON FUNCTION @extschema@.okra_list_payments(integer) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_customer_payments(customer_id text, page_size integer DEFAULT 50)
RETURNS SETOF @extschema@.okra_payment
AS 'MODULE_PATHNAME', 'okra_customer_payments'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 50;
COMMENT ON FUNCTION @extschema@.okra_customer_payments(text, integer) IS
	'One customer''s payments as Okra lists them (pay/get/), a page of page_size at a time, asked for only as rows are needed; writes nothing.';
REVOKE ALL ON FUNCTION @extschema@.okra_customer_payments(text, integer) FROM PUBLIC;

-----------------------------------------------------------------------------
-- The journal learns the merchant's reference of an initiated payment (its
-- intent carries it) and what each call created (a refund, a payment):
-- new columns at the end, as in a fresh install.  A refund's id is what
-- its call created.  The intent takes one more argument and the outcome's
-- renamed one, so both are created again (internal: never granted).
-----------------------------------------------------------------------------
ALTER TABLE @extschema@.okra_journal ADD COLUMN reference text, ADD COLUMN created_id text;
UPDATE @extschema@.okra_journal SET created_id = refund_id WHERE refund_id IS NOT NULL;
CREATE INDEX okra_journal_reference_idx ON @extschema@.okra_journal (reference)
	WHERE reference IS NOT NULL;
DROP FUNCTION @extschema@.okra_journal_intent(text, timestamptz, text, text, bigint, name);
DROP FUNCTION @extschema@.okra_journal_outcome(text, timestamptz, text, text, integer, text, text);
CREATE FUNCTION @extschema@.okra_journal_intent(call_key text, called_at timestamptz,
												endpoint text, payment_id text,
												amount bigint, role name,
												reference text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO @extschema@.okra_journal
		(call_key, called_at, endpoint, payment_id, amount, role, journaled_at, reference)
	VALUES (call_key, called_at, endpoint, payment_id, amount, role, clock_timestamp(), reference)
	-- written again by a worker that died before it could say so
	ON CONFLICT (call_key) DO NOTHING
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_journal_intent(text, timestamptz, text, text, bigint, name, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_journal_outcome(call_key text, finished_at timestamptz,
												 outcome text, sqlstate text,
												 http_status integer, created_id text,
												 message text)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	-- never over a person's settlement, nor waiting for one in progress;
	-- false if there was no entry to take it
	WITH u AS (
		UPDATE @extschema@.okra_journal AS j
		   SET outcome = okra_journal_outcome.outcome, finished_at = okra_journal_outcome.finished_at,
			   sqlstate = okra_journal_outcome.sqlstate, http_status = okra_journal_outcome.http_status,
			   created_id = okra_journal_outcome.created_id,
			   refund_id = CASE WHEN j.endpoint = 'pay/refund' THEN okra_journal_outcome.created_id END,
			   message = okra_journal_outcome.message
		  FROM (SELECT t.journal_id FROM @extschema@.okra_journal AS t
				 WHERE t.call_key = okra_journal_outcome.call_key AND t.settled_at IS NULL
				   FOR UPDATE SKIP LOCKED) AS mine
		 WHERE j.journal_id = mine.journal_id
		RETURNING 1)
	SELECT count(*) > 0 FROM u
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_journal_outcome(text, timestamptz, text, text, integer, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.okra_journal_resolve(journal_id bigint, outcome text, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	j	@extschema@.okra_journal;
BEGIN
	IF outcome IS NULL OR outcome NOT IN ('succeeded', 'failed') THEN
		RAISE EXCEPTION 'invalid outcome: "%"', coalesce(outcome, 'NULL')
			USING ERRCODE = '22023', DETAIL = 'The outcome is succeeded or failed.';
	END IF;
	-- a refund still in flight holds its payment's lock: wait for it to
	-- end, and for its outcome to be written (which then wins)
	PERFORM 1 FROM @extschema@.okra_payments AS p
	  JOIN @extschema@.okra_journal AS t ON t.payment_id = p.payment_id
	 WHERE t.journal_id = okra_journal_resolve.journal_id AND t.endpoint = 'pay/refund'
	   FOR UPDATE OF p;
	-- and an initiate in flight, its reference's
	PERFORM @extschema@.okra_ledger_lock_reference(t.reference)
	   FROM @extschema@.okra_journal AS t
	  WHERE t.journal_id = okra_journal_resolve.journal_id AND t.reference IS NOT NULL;
	PERFORM @extschema@.okra_journal_flush();
	UPDATE @extschema@.okra_journal AS t
	   SET outcome = okra_journal_resolve.outcome, settled_at = clock_timestamp(),
		   settled_by = session_user,
		   message = coalesce(note, t.message)
	 WHERE t.journal_id = okra_journal_resolve.journal_id
	   AND (t.outcome IS NULL OR t.outcome = 'unknown')
	RETURNING * INTO j;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'journal entry % has no unknown outcome to settle', coalesce(journal_id::text, 'NULL')
			USING ERRCODE = '55000',
				  HINT = 'Only an entry whose outcome is unknown, or that has none, can be settled by hand.';
	END IF;
	IF outcome = 'succeeded' AND j.endpoint = 'pay/refund' THEN
		PERFORM @extschema@.okra_ledger_settled_refund(j.payment_id, j.amount);
	END IF;
END
$$;

-----------------------------------------------------------------------------
-- Payments okra initiates (money in, README "Collecting payments"):
-- okra_initiate_payment asks Okra to debit a customer's account.  The
-- merchant's reference (say, its order id) makes it idempotent here, which
-- Okra is not: a second call with a reference already used returns the
-- first payment's row and sends nothing, whichever session makes it.
-----------------------------------------------------------------------------

CREATE TYPE @extschema@.okra_initiated AS (
	payment_id		text,
	status			text,
	ref				text,
	amount			bigint,
	currency		text,
	debit_account	text,
	credit_account	text,
	wallet_balance	bigint,
	reference		text,
	replayed		boolean,
	initiated_at	timestamptz,
	response		jsonb
);
COMMENT ON TYPE @extschema@.okra_initiated IS
	'A payment okra_initiate_payment started; see README "Types".';
COMMENT ON COLUMN @extschema@.okra_initiated.payment_id IS
	'The new payment''s id (data.payment.id): verify it to follow it.';
COMMENT ON COLUMN @extschema@.okra_initiated.status IS
	'Its status: initialize when Okra answered; the ledger''s latest when replayed.';
COMMENT ON COLUMN @extschema@.okra_initiated.ref IS
	'Okra''s reference of the payment (data.payment.ref).';
COMMENT ON COLUMN @extschema@.okra_initiated.wallet_balance IS
	'Okra Wallet balance in kobo when Okra answered (data.okra_wallet.amount).';
COMMENT ON COLUMN @extschema@.okra_initiated.reference IS
	'The merchant''s reference given to okra_initiate_payment, or NULL.';
COMMENT ON COLUMN @extschema@.okra_initiated.replayed IS
	'True when the reference had been used: this is the first call''s payment, and nothing was sent.';

CREATE TABLE @extschema@.okra_initiations (
	payment_id			text PRIMARY KEY CHECK (payment_id ~ '^[0-9a-f]{24}$'),
	reference			text UNIQUE,
	type				text NOT NULL CHECK (type IN ('one-time', 'recurring')),
	debit_account		text NOT NULL,
	credit_account		text,
	amount				bigint NOT NULL,
	currency			text NOT NULL,
	schedule_interval	text,
	start_date			date,
	end_date			date,
	ref					text,
	wallet_balance		bigint,
	initiated_at		timestamptz NOT NULL,
	initiated_by		name NOT NULL,
	response			jsonb NOT NULL
);
COMMENT ON TABLE @extschema@.okra_initiations IS
	'One row per payment okra_initiate_payment started (money in), with the merchant''s reference; the payment itself is in okra_payments.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.okra_initiations', '');

-- The row okra_initiate_payment returns for a stored initiation, with the
-- ledger's latest status.
CREATE FUNCTION @extschema@.okra_initiated_row(i @extschema@.okra_initiations, replayed boolean)
RETURNS @extschema@.okra_initiated
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
	SELECT ROW(i.payment_id,
			   coalesce((SELECT p.status FROM @extschema@.okra_payments AS p
						  WHERE p.payment_id = i.payment_id),
						i.response #>> '{data,payment,status}'),
			   i.ref, i.amount, i.currency, i.debit_account, i.credit_account,
			   i.wallet_balance, i.reference, replayed, i.initiated_at, i.response
		   )::@extschema@.okra_initiated
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_initiated_row(@extschema@.okra_initiations, boolean) FROM PUBLIC;

-- Held until the end of the transaction by whoever initiates with a
-- reference (and by okra_journal_resolve settling such a call): a second
-- session with the same reference waits, then finds the first's payment.
CREATE FUNCTION @extschema@.okra_ledger_lock_reference(reference text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_advisory_xact_lock(hashtextextended(reference, 1869312609))	-- 'okra'
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_lock_reference(text) FROM PUBLIC;

-- Under that lock, with the latest snapshot (initiate.c): the payment a
-- reference already initiated (replayed), NULL if none; or refuse when the
-- journal has a call under it that may have created one the ledger lacks.
CREATE FUNCTION @extschema@.okra_ledger_initiation(reference text)
RETURNS @extschema@.okra_initiated
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	i	@extschema@.okra_initiations;
	j	@extschema@.okra_journal;
BEGIN
	SELECT * INTO i FROM @extschema@.okra_initiations AS t
	 WHERE t.reference = okra_ledger_initiation.reference;
	IF FOUND THEN
		RETURN @extschema@.okra_initiated_row(i, true);
	END IF;
	SELECT * INTO j FROM @extschema@.okra_journal AS t
	 WHERE t.reference = okra_ledger_initiation.reference AND t.endpoint = 'pay/initiate'
	   AND t.outcome IS DISTINCT FROM 'failed'
	 ORDER BY t.journal_id LIMIT 1;
	IF NOT FOUND THEN
		RETURN NULL;
	ELSIF j.outcome = 'succeeded' THEN
		RAISE EXCEPTION 'reference "%" already initiated a payment', reference
			USING ERRCODE = 'OK013',
				  DETAIL = format('Journal entry %s initiated %s, but the ledger does not have it (%s). Nothing was sent to Okra.',
								  j.journal_id, coalesce('payment ' || j.created_id, 'a payment'),
								  CASE WHEN j.settled_at IS NULL THEN 'the transaction that asked for it rolled back'
								  ELSE 'a person settled its unknown outcome as succeeded' END),
				  HINT = 'Find it with okra_customer_payments and add it with okra_track, or use another reference.';
	END IF;
	RAISE EXCEPTION 'a payment initiated with reference "%" has an unknown outcome', reference
		USING ERRCODE = 'OK012',
			  DETAIL = format('Journal entry %s was sent with no definite answer, so Okra may have created the payment. Nothing was sent to Okra.', j.journal_id),
			  HINT = format('Check with Okra (okra_customer_payments), then settle it with okra_journal_resolve(%s, ''succeeded'') or okra_journal_resolve(%s, ''failed'').',
							j.journal_id, j.journal_id);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_initiation(text) FROM PUBLIC;

-- After Okra answered: the initiation and its row (the payment itself is
-- recorded by okra_ledger_record, due a check).
CREATE FUNCTION @extschema@.okra_ledger_initiation_record(reference text, request jsonb,
														  response jsonb, role name,
														  initiated_at timestamptz)
RETURNS @extschema@.okra_initiated
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p	jsonb := response #> '{data,payment}';
	i	@extschema@.okra_initiations;
BEGIN
	INSERT INTO @extschema@.okra_initiations AS t
		(payment_id, reference, type, debit_account, credit_account, amount, currency,
		 schedule_interval, start_date, end_date, ref, wallet_balance, initiated_at,
		 initiated_by, response)
	VALUES (lower(coalesce(p ->> '_id', p ->> 'id')), reference,
			coalesce(request ->> 'type', 'one-time'), request ->> 'account_to_debit',
			request ->> 'account_to_credit', (request ->> 'amount')::bigint,
			request ->> 'currency', request #>> '{schedule,interval}',
			(request #>> '{schedule,startDate}')::date, (request #>> '{schedule,endDate}')::date,
			p ->> 'ref',
			CASE WHEN jsonb_typeof(response #> '{data,okra_wallet,amount}') = 'number'
			THEN (response #>> '{data,okra_wallet,amount}')::numeric::bigint END,
			initiated_at, role, response)
	RETURNING * INTO i;
	RETURN @extschema@.okra_initiated_row(i, false);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_initiation_record(text, jsonb, jsonb, name, timestamptz) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_initiate_payment(account_to_debit text, amount bigint,
												  currency text DEFAULT 'NGN',
												  account_to_credit text DEFAULT NULL,
												  reference text DEFAULT NULL,
												  schedule_interval text DEFAULT NULL,
												  start_date date DEFAULT NULL,
												  end_date date DEFAULT NULL)
RETURNS @extschema@.okra_initiated
AS 'MODULE_PATHNAME', 'okra_initiate_payment'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_initiate_payment(text, bigint, text, text, text, text, date, date) IS
	'Asks Okra to debit a customer''s account (pay/initiate), once per reference; recurring with schedule_interval; see README "Collecting payments".';
REVOKE ALL ON FUNCTION @extschema@.okra_initiate_payment(text, bigint, text, text, text, text, date, date) FROM PUBLIC;

-- (payouts: section to come)

-- (payment links: section to come)

-- (authorizations: section to come)

-- (bulk payments: section to come)
