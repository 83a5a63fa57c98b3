\echo Use "ALTER EXTENSION okra UPDATE TO '0.2.0'" to load this file. \quit

-- okra 0.1.0 -> 0.2.0.  The result must equal a fresh CREATE EXTENSION okra
-- (0.2.0, sql/okra.sql) object for object, privileges and comments
-- included (test/upgrade/catalog.sql compares them), and keep every ledger
-- row.  So: tables are altered, never recreated; a function whose body,
-- volatility or security changed is CREATE OR REPLACEd (its privileges and
-- comment stay, so the install script's REVOKE is not repeated: a REVOKE
-- here would record a DBA's later grants as the extension's initial
-- privileges, which pg_dump then leaves out); a function whose arguments or
-- result changed, and a view that gains a column in the middle, are
-- dropped and created as the install script creates them.  The statements
-- that create or replace objects are copied verbatim from sql/okra.sql.

-----------------------------------------------------------------------------
-- First, the library.  Sessions started before the new library was
-- installed may still run the old one (always, when okra is preloaded and
-- the server was not restarted), and old code must never meet the new SQL
-- objects: 0.1.0's finds functions by name alone, so it would call the new
-- ones with its old arguments.  So the update refuses to run until the
-- server was restarted after the library file last changed.
-----------------------------------------------------------------------------
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

-----------------------------------------------------------------------------
-- Grants a DBA made (README "Granting roles") on what is dropped below:
-- the view okra_refundable and okra_outbox_health() are recreated, and
-- okra_journal's columns are moved; noted now, given back at the end.
-----------------------------------------------------------------------------
SELECT pg_catalog.set_config('okra_upgrade.grants', coalesce((
	SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
			   'target', g.target, 'col', g.col, 'acl', g.acl::text,
			   'owner', pg_catalog.pg_get_userbyid(g.owner)))
	  FROM (SELECT 'TABLE @extschema@.okra_refundable' AS target, NULL::name AS col,
				   c.relacl AS acl, c.relowner AS owner
			  FROM pg_catalog.pg_class AS c
			 WHERE c.oid = '@extschema@.okra_refundable'::pg_catalog.regclass
			UNION ALL
			SELECT 'FUNCTION @extschema@.okra_outbox_health()', NULL, p.proacl, p.proowner
			  FROM pg_catalog.pg_proc AS p
			 WHERE p.oid = '@extschema@.okra_outbox_health()'::pg_catalog.regprocedure
			UNION ALL
			SELECT 'TABLE @extschema@.okra_journal', a.attname, a.attacl, c.relowner
			  FROM pg_catalog.pg_attribute AS a
			  JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
			 WHERE a.attrelid = '@extschema@.okra_journal'::pg_catalog.regclass
			   AND a.attnum > 1 AND NOT a.attisdropped) AS g
	 WHERE g.acl IS NOT NULL), '[]')::text, true);

-----------------------------------------------------------------------------
-- The ledger's helpers: okra_object_id's messages now match the C
-- functions'; okra_ledger_lock_payment is called by the C guard (guard.c)
-- under any role, so it runs as the owner; the guard proper reads the
-- journal and the outbox through okra_refund_reservations, under a lock
-- the caller already holds (hence STABLE); settling a refund by hand is
-- shared by both resolve functions.
-----------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION @extschema@.okra_object_id(value text, argname text, what text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NULL THEN
		RAISE EXCEPTION '% must not be null', argname
			USING ERRCODE = '22023';
	END IF;
	IF lower(value) !~ '^[0-9a-f]{24}$' THEN
		RAISE EXCEPTION 'invalid %: "%"', argname, left(value, 64)
			USING ERRCODE = '22023',
				  DETAIL = format('An Okra %s ID is 24 hexadecimal characters.', what);
	END IF;
	RETURN lower(value);
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.okra_ledger_lock_payment(payment_id text)
RETURNS @extschema@.okra_payments
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p	@extschema@.okra_payments;
BEGIN
	INSERT INTO @extschema@.okra_payments (payment_id) VALUES (payment_id)
	ON CONFLICT ON CONSTRAINT okra_payments_pkey DO NOTHING;
	SELECT * INTO p FROM @extschema@.okra_payments AS t
	 WHERE t.payment_id = okra_ledger_lock_payment.payment_id FOR UPDATE;
	RETURN p;
END
$$;

CREATE FUNCTION @extschema@.okra_ledger_settled_refund(payment_id text, amount bigint)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE @extschema@.okra_payments AS p
	   SET refunded_amount = CASE WHEN okra_ledger_settled_refund.amount IS NULL
								  THEN coalesce(p.amount, p.refunded_amount)
								  ELSE p.refunded_amount + okra_ledger_settled_refund.amount END
	 WHERE p.payment_id = okra_ledger_settled_refund.payment_id
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_settled_refund(text, bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.okra_ledger_guard_refund(payment_id text, amount bigint)
RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p		@extschema@.okra_payments;
	queued	@extschema@.okra_refund_reservations;
BEGIN
	SELECT * INTO p FROM @extschema@.okra_payments AS t
	 WHERE t.payment_id = okra_ledger_guard_refund.payment_id;
	-- a final status other than success never changes, and Okra refunds
	-- succeeded payments only
	IF p.outcome IS NOT NULL AND p.outcome <> 'succeeded' THEN
		RAISE EXCEPTION 'payment "%" cannot be refunded: it %', payment_id,
				CASE p.outcome WHEN 'failed' THEN 'failed' WHEN 'cancelled' THEN 'was cancelled'
				ELSE 'ended without succeeding' END
			USING ERRCODE = 'OK003',
				  DETAIL = format('The ledger records its final status "%s"%s. Nothing was sent to Okra.', p.status,
								  CASE WHEN lower(p.response_status) <> lower(p.status)
								  THEN format(' with response_status "%s"', p.response_status) ELSE '' END),
				  HINT = 'Okra would answer "You cannot intiate a refund on a payment that is in progress or failed."';
	END IF;
	-- refunds not yet final count as made (the same numbers as okra_refundable)
	SELECT * INTO queued FROM @extschema@.okra_refund_reservations AS r
	 WHERE r.payment_id = okra_ledger_guard_refund.payment_id;
	IF queued.full_refund THEN
		RAISE EXCEPTION 'payment "%" already has a refund of whatever remains queued', payment_id
			USING ERRCODE = 'OK001',
				  DETAIL = 'A refund not yet final (queued in the outbox, or in flight) refunds the rest of it. Nothing was sent to Okra.';
	END IF;
	IF p.amount IS NULL THEN
		RETURN;
	END IF;
	p.refunded_amount := p.refunded_amount + coalesce(queued.amount, 0);
	IF p.refunded_amount >= p.amount THEN
		RAISE EXCEPTION 'payment "%" is already refunded in full', payment_id
			USING ERRCODE = 'OK001',
				  DETAIL = format('The ledger records %s of %s kobo refunded or queued. Nothing was sent to Okra.',
								  p.refunded_amount, p.amount),
				  HINT = 'Okra would answer "Duplicate request. This payment has already been refunded."';
	END IF;
	IF amount > p.amount - p.refunded_amount THEN
		RAISE EXCEPTION 'refund of % kobo exceeds the % kobo that remain of payment "%"',
				amount, p.amount - p.refunded_amount, payment_id
			USING ERRCODE = 'OK002',
				  DETAIL = format('The ledger records %s of %s kobo refunded or queued. Nothing was sent to Okra.',
								  p.refunded_amount, p.amount),
				  HINT = 'Okra would answer "You cannot intiate a refund for an amount greater than the initial payment."';
	END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.okra_ledger_guard_refund(text, bigint) IS
	'Internal: refuses a refund the ledger shows Okra would refuse (called under the payment''s lock).';

-----------------------------------------------------------------------------
-- Scheduled verification claims under a lease committed before anything is
-- sent (the C code now passes the lease: a new signature, so the 0.1.0
-- function goes); a claim given back after a 429 (okra_verify_unclaim);
-- OK006 marks a payment stale at once; a run that did nothing leaves no
-- row.  Existing payments and runs need no change: a payment Okra said
-- does not exist becomes stale at its next check, and 0.1.0's empty runs
-- stay, for okra_prune_api_calls to age out.
-----------------------------------------------------------------------------
DROP FUNCTION @extschema@.okra_verify_claim(bigint, integer, interval);
CREATE FUNCTION @extschema@.okra_verify_claim(run_id bigint, n integer, stale_after interval,
											  lease interval)
RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	marked	integer;
	ids		text[];
BEGIN
	IF stale_after > interval '0' THEN
		UPDATE @extschema@.okra_payments AS t
		   SET stale_at = now(), next_check_at = NULL
		 WHERE t.payment_id IN (
				SELECT payment_id FROM @extschema@.okra_payments
				 WHERE NOT terminal AND next_check_at <= now()
				   AND first_seen_at < now() - stale_after
				   FOR UPDATE SKIP LOCKED);
		GET DIAGNOSTICS marked = ROW_COUNT;
		IF marked > 0 THEN
			UPDATE @extschema@.okra_verification_runs AS r
			   SET stale = r.stale + marked
			 WHERE r.run_id = okra_verify_claim.run_id;
		END IF;
	END IF;
	-- claimed under a lease, committed before anything is sent: no row
	-- lock is held while Okra answers, and no other run takes them
	WITH due AS (
		SELECT payment_id, next_check_at AS was_due FROM @extschema@.okra_payments
		 WHERE NOT terminal AND next_check_at <= now()
		 ORDER BY next_check_at
		 LIMIT n
		   FOR UPDATE SKIP LOCKED),
	claimed AS (
		UPDATE @extschema@.okra_payments AS t SET next_check_at = now() + lease
		  FROM due WHERE t.payment_id = due.payment_id
		RETURNING t.payment_id, due.was_due)
	SELECT array_agg(payment_id ORDER BY was_due, payment_id) INTO ids FROM claimed;
	RETURN coalesce(ids, '{}');
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_verify_claim(bigint, integer, interval, interval) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_verify_unclaim(payment_id text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE @extschema@.okra_payments AS t SET next_check_at = now()
	 WHERE t.payment_id = okra_verify_unclaim.payment_id AND NOT t.terminal
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_verify_unclaim(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.okra_ledger_check_failed(payment_id text, endpoint text,
													 request text, http_status integer,
													 sqlstate text, message text,
													 started_at timestamptz,
													 finished_at timestamptz, role name)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO @extschema@.okra_api_calls
		(called_at, endpoint, payment_id, http_status, okra_message, sqlstate,
		 duration_ms, request, role)
	VALUES (started_at, endpoint, payment_id, nullif(http_status, 0), message, sqlstate,
			extract(epoch FROM finished_at - started_at) * 1000, request::jsonb, role);
	IF sqlstate = 'OK006' THEN
		UPDATE @extschema@.okra_payments AS t SET
			failed_checks = t.failed_checks + 1,
			last_error = 'OK006: ' || message ||
						 ' (Okra says this payment does not exist; it is no longer checked on schedule)',
			stale_at = finished_at,
			next_check_at = NULL
		 WHERE t.payment_id = okra_ledger_check_failed.payment_id;
	ELSIF sqlstate <> 'OK008' THEN
		UPDATE @extschema@.okra_payments AS t SET
			failed_checks = t.failed_checks + 1,
			last_error = okra_ledger_check_failed.sqlstate || ': ' || message,
			next_check_at = @extschema@.okra_next_check(finished_at, NULL, t.failed_checks + 1)
		 WHERE t.payment_id = okra_ledger_check_failed.payment_id;
	ELSE
		-- a 429: due again at once (the claim's lease is given back)
		UPDATE @extschema@.okra_payments AS t SET next_check_at = now()
		 WHERE t.payment_id = okra_ledger_check_failed.payment_id AND NOT t.terminal;
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.okra_verify_run_progress(run bigint, n_changed integer,
													 n_unchanged integer, n_failed integer,
													 n_rate_limited integer, finished boolean)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r	@extschema@.okra_verification_runs;
BEGIN
	UPDATE @extschema@.okra_verification_runs AS t SET
		checked = t.checked + n_changed + n_unchanged + n_failed,
		changed = t.changed + n_changed,
		unchanged = t.unchanged + n_unchanged,
		failed = t.failed + n_failed,
		rate_limited = t.rate_limited + n_rate_limited,
		paused_until = CASE WHEN n_rate_limited > 0
					   THEN clock_timestamp() + interval '60 seconds' ELSE t.paused_until END,
		finished_at = CASE WHEN finished THEN clock_timestamp() END
	 WHERE t.run_id = run
	RETURNING * INTO r;
	IF finished THEN
		RAISE NOTICE 'okra_verify_pending: % checked (% changed, % unchanged, % failed), % rate limited, % stale, in % s',
			r.checked, r.changed, r.unchanged, r.failed, r.rate_limited, r.stale,
			round(extract(epoch FROM r.finished_at - r.started_at), 1);
		IF r.paused_until > now() THEN
			RAISE NOTICE 'Okra answered 429: scheduled verification is paused until %', r.paused_until;
		END IF;
		-- a run that found nothing to do leaves no row (pg_cron would add
		-- one a minute); one that did something is the record
		IF r.checked = 0 AND r.rate_limited = 0 AND r.stale = 0 THEN
			DELETE FROM @extschema@.okra_verification_runs AS t WHERE t.run_id = run;
		END IF;
	END IF;
END
$$;

-----------------------------------------------------------------------------
-- okra_outbox_requests.idempotency_key: 0.2.0 stores the key it sends, so
-- that it survives a restore, a failover or pg_upgrade.  0.1.0 derived it
-- from the cluster, the database and the request ("okra-<system
-- identifier>-<database OID>-<request_id>", outbox.c at 737d225): an old
-- request keeps the key 0.1.0 sent, or would have sent, so a request that
-- may already have reached Okra (unknown, sending, or queued to be resent)
-- is still recognized as a repeat.  (Unless the database was restored or
-- pg_upgraded after 0.1.0 sent it: the key 0.1.0 would send now differs
-- too; README "Upgrading" says to settle those by hand.)  New requests get a
-- random key (the column's default).  Same column position as a fresh
-- install: it is the last column of both.
-----------------------------------------------------------------------------
ALTER TABLE @extschema@.okra_outbox_requests ADD COLUMN idempotency_key text;
UPDATE @extschema@.okra_outbox_requests AS o
   SET idempotency_key = 'okra-' || k.sysid || '-' || k.dboid || '-' || o.request_id
  FROM (SELECT CASE WHEN s.system_identifier < 0	-- 0.1.0 printed it unsigned
					THEN s.system_identifier::numeric + 18446744073709551616
					ELSE s.system_identifier END::text AS sysid,
			   d.oid::text AS dboid
		  FROM pg_catalog.pg_control_system() AS s, pg_catalog.pg_database AS d
		 WHERE d.datname = pg_catalog.current_database()) AS k;
ALTER TABLE @extschema@.okra_outbox_requests
	ALTER COLUMN idempotency_key SET DEFAULT ('okra-' || pg_catalog.gen_random_uuid()),
	ALTER COLUMN idempotency_key SET NOT NULL,
	ADD CONSTRAINT okra_outbox_requests_idempotency_key_key UNIQUE (idempotency_key);

-----------------------------------------------------------------------------
-- okra_journal: 0.1.0 wrote one row per call after it ended; 0.2.0 writes
-- its intent before sending (call_key identifies it) and its outcome
-- after, and a person may settle an unknown one.  The table keeps its rows,
-- its OID and its identity sequence, but its columns take 0.2.0's order:
-- a fresh install's SELECT * and row type (okra_journal_resolve's
-- variable) must be the same, so every column after journal_id is moved
-- (renamed, added again in order, copied, dropped).
-----------------------------------------------------------------------------
ALTER TABLE @extschema@.okra_journal RENAME COLUMN called_at TO called_at_0_1_0;
ALTER TABLE @extschema@.okra_journal RENAME COLUMN endpoint TO endpoint_0_1_0;
ALTER TABLE @extschema@.okra_journal RENAME COLUMN payment_id TO payment_id_0_1_0;
ALTER TABLE @extschema@.okra_journal RENAME COLUMN amount TO amount_0_1_0;
ALTER TABLE @extschema@.okra_journal RENAME COLUMN refund_id TO refund_id_0_1_0;
ALTER TABLE @extschema@.okra_journal RENAME COLUMN sqlstate TO sqlstate_0_1_0;
ALTER TABLE @extschema@.okra_journal RENAME COLUMN http_status TO http_status_0_1_0;
ALTER TABLE @extschema@.okra_journal RENAME COLUMN message TO message_0_1_0;
ALTER TABLE @extschema@.okra_journal RENAME COLUMN role TO role_0_1_0;
ALTER TABLE @extschema@.okra_journal RENAME COLUMN journaled_at TO journaled_at_0_1_0;
ALTER TABLE @extschema@.okra_journal
	ADD COLUMN call_key		text,
	ADD COLUMN called_at	timestamptz,
	ADD COLUMN endpoint		text,
	ADD COLUMN payment_id	text,
	ADD COLUMN amount		bigint,
	ADD COLUMN role			name,
	ADD COLUMN journaled_at	timestamptz,
	ADD COLUMN outcome		text,
	ADD COLUMN finished_at	timestamptz,
	ADD COLUMN refund_id	text,
	ADD COLUMN sqlstate		text,
	ADD COLUMN http_status	integer,
	ADD COLUMN message		text,
	ADD COLUMN settled_at	timestamptz,
	ADD COLUMN settled_by	name;
-- An old row is a call that had ended when it was written:
--  * call_key: 0.2.0's keys are "<pid>-<timestamp>-<counter>"; an old row
--    gets one that cannot collide, and is never looked up (no outcome will
--    come for it);
--  * called_at: 0.1.0 took it as the call ended, so it is also finished_at;
--    journaled_at stays when the worker wrote the row;
--  * outcome: what api.c's journal_outcome() makes of the same error, from
--    what 0.1.0 kept (it kept no refund for a failed call; a 2xx answer
--    stands for it): no error is succeeded; OK010 and OK011 are unknown; a
--    2xx answer followed by an error is succeeded (Okra carried it out);
--    Okra's refusals (OK...) are failed, and so are 08001, 22023 and 55000
--    with no answer (never sent, in 0.1.0 too).  Anything else is unknown,
--    57014 included: 0.2.0 raises OK010 for a call cancelled once sent
--    (http.c's interrupts_in_flight), but 0.1.0 could raise a plain 57014
--    while its request was in flight, so a 57014 of 0.1.0 may have moved
--    money.  Unknown refunds
--    then count against what remains refundable and make okra_refund
--    refuse the payment's next refund (OK012) until okra_journal_resolve
--    settles them, as in 0.2.0;
--  * settled_at, settled_by: NULL, nobody settled anything in 0.1.0.
UPDATE @extschema@.okra_journal AS j SET
	call_key = 'okra-0.1.0-' || j.journal_id,
	called_at = j.called_at_0_1_0,
	endpoint = j.endpoint_0_1_0,
	payment_id = j.payment_id_0_1_0,
	amount = j.amount_0_1_0,
	role = j.role_0_1_0,
	journaled_at = j.journaled_at_0_1_0,
	outcome = CASE
		WHEN j.sqlstate_0_1_0 IS NULL THEN 'succeeded'
		WHEN j.sqlstate_0_1_0 IN ('OK010', 'OK011') THEN 'unknown'
		WHEN j.http_status_0_1_0 BETWEEN 200 AND 299 THEN 'succeeded'
		WHEN j.sqlstate_0_1_0 LIKE 'OK%' THEN 'failed'
		WHEN j.http_status_0_1_0 IS NULL AND j.sqlstate_0_1_0 IN ('08001', '22023', '55000') THEN 'failed'
		ELSE 'unknown' END,
	finished_at = j.called_at_0_1_0,
	refund_id = j.refund_id_0_1_0,
	sqlstate = j.sqlstate_0_1_0,
	http_status = j.http_status_0_1_0,
	message = j.message_0_1_0;
-- (okra_journal_payment_idx goes with payment_id_0_1_0)
ALTER TABLE @extschema@.okra_journal
	DROP COLUMN called_at_0_1_0,
	DROP COLUMN endpoint_0_1_0,
	DROP COLUMN payment_id_0_1_0,
	DROP COLUMN amount_0_1_0,
	DROP COLUMN refund_id_0_1_0,
	DROP COLUMN sqlstate_0_1_0,
	DROP COLUMN http_status_0_1_0,
	DROP COLUMN message_0_1_0,
	DROP COLUMN role_0_1_0,
	DROP COLUMN journaled_at_0_1_0,
	ALTER COLUMN call_key SET NOT NULL,
	ALTER COLUMN called_at SET NOT NULL,
	ALTER COLUMN endpoint SET NOT NULL,
	ALTER COLUMN role SET NOT NULL,
	ALTER COLUMN journaled_at SET NOT NULL,
	ADD CONSTRAINT okra_journal_call_key_key UNIQUE (call_key),
	ADD CONSTRAINT okra_journal_outcome_check CHECK (outcome IN ('succeeded', 'failed', 'unknown'));
CREATE INDEX okra_journal_payment_idx ON @extschema@.okra_journal (payment_id);
CREATE INDEX okra_journal_unsettled_idx ON @extschema@.okra_journal (payment_id)
	WHERE outcome IS NULL OR outcome = 'unknown';
COMMENT ON TABLE @extschema@.okra_journal IS
	'One row per synchronous money-moving call: its intent, written before it was sent, and its outcome; kept whatever the caller''s transaction did.';

-- 0.1.0's worker wrote a whole row at once; 0.2.0's writes an intent and
-- an outcome, and people settle what stays unknown.
DROP FUNCTION @extschema@.okra_journal_record(timestamptz, text, text, bigint, text, text, integer, text, name, timestamptz);

CREATE FUNCTION @extschema@.okra_journal_intent(call_key text, called_at timestamptz,
												endpoint text, payment_id text,
												amount bigint, role name)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO @extschema@.okra_journal
		(call_key, called_at, endpoint, payment_id, amount, role, journaled_at)
	VALUES (call_key, called_at, endpoint, payment_id, amount, role, clock_timestamp())
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_journal_intent(text, timestamptz, text, text, bigint, name) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_journal_outcome(call_key text, finished_at timestamptz,
												 outcome text, sqlstate text,
												 http_status integer, refund_id text,
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
			   refund_id = okra_journal_outcome.refund_id, message = okra_journal_outcome.message
		  FROM (SELECT t.journal_id FROM @extschema@.okra_journal AS t
				 WHERE t.call_key = okra_journal_outcome.call_key AND t.settled_at IS NULL
				   FOR UPDATE SKIP LOCKED) AS mine
		 WHERE j.journal_id = mine.journal_id
		RETURNING 1)
	SELECT count(*) > 0 FROM u
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_journal_outcome(text, timestamptz, text, text, integer, text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_journal_unsettled(payment_id text)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	SELECT min(j.journal_id) FROM @extschema@.okra_journal AS j
	 WHERE j.payment_id = okra_journal_unsettled.payment_id AND j.endpoint = 'pay/refund'
	   AND (j.outcome IS NULL OR j.outcome = 'unknown')
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_journal_unsettled(text) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_journal_flush()
RETURNS void
AS 'MODULE_PATHNAME', 'okra_journal_flush'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION @extschema@.okra_journal_flush() FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_journal_flush() IS
	'Internal: waits until the okra worker has written what this database''s journal holds.';

CREATE FUNCTION @extschema@.okra_journal_resolve(journal_id bigint, outcome text, note text DEFAULT NULL)
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
REVOKE ALL ON FUNCTION @extschema@.okra_journal_resolve(bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_journal_resolve(bigint, text, text) IS
	'Settles a journaled call whose outcome is unknown as succeeded or failed, after checking with Okra.';

-----------------------------------------------------------------------------
-- What remains refundable now counts synchronous refunds not yet final,
-- or carried out but missing from the ledger, besides queued ones: one
-- view replaces okra_outbox_pending_amount for the guard and
-- okra_refundable; okra_refund_after_commit goes through the C guard
-- (locks, then OK012 for an unsettled refund) like okra_refund.
-----------------------------------------------------------------------------
DROP FUNCTION @extschema@.okra_outbox_pending_amount(text);

CREATE VIEW @extschema@.okra_refund_reservations AS
SELECT r.payment_id, sum(r.amount)::bigint AS amount, bool_or(r.amount IS NULL) AS full_refund
  FROM (-- outbox refunds queued, being sent, or of unknown outcome
		SELECT o.payment_id, o.amount
		  FROM @extschema@.okra_outbox_requests AS o
		 WHERE o.kind = 'refund' AND o.state IN ('queued', 'sending', 'unknown')
		UNION ALL
		-- synchronous refunds in flight or of unknown outcome (okra_journal)
		SELECT j.payment_id, j.amount
		  FROM @extschema@.okra_journal AS j
		 WHERE j.endpoint = 'pay/refund' AND (j.outcome IS NULL OR j.outcome = 'unknown')
		UNION ALL
		-- synchronous refunds Okra carried out whose caller's transaction
		-- never committed them to the ledger (a rollback, an error after
		-- the answer): they happened all the same
		SELECT j.payment_id, j.amount
		  FROM @extschema@.okra_journal AS j
		 WHERE j.endpoint = 'pay/refund' AND j.outcome = 'succeeded' AND j.settled_at IS NULL
		   AND NOT EXISTS (SELECT 1 FROM @extschema@.okra_refunds AS f WHERE f.refund_id = j.refund_id)
	   ) AS r
 GROUP BY r.payment_id;
COMMENT ON VIEW @extschema@.okra_refund_reservations IS
	'Internal: per payment, refunds not yet final (queued, in flight or of unknown outcome), and refunds made but missing from the ledger, that count against what remains refundable.';

CREATE FUNCTION @extschema@.okra_refund_guard(payment_id text, amount bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'okra_refund_guard'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION @extschema@.okra_refund_guard(text, bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_refund_guard(text, bigint) IS
	'Internal: okra_refund''s guard for okra_refund_after_commit: locks the payment, then refuses an unsettled (OK012) or impossible refund.';

CREATE OR REPLACE FUNCTION @extschema@.okra_refund_after_commit(payment_id text,
													 amount bigint DEFAULT NULL,
													 reason text DEFAULT NULL,
													 account text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id		text := @extschema@.okra_object_id(payment_id, 'payment_id', 'payment');
	acct	text;
	req		bigint;
BEGIN
	IF amount <= 0 THEN
		RAISE EXCEPTION 'invalid refund amount: %', amount
			USING ERRCODE = '22023',
				  DETAIL = 'The amount is in kobo and must be positive, or NULL to refund whatever remains.';
	END IF;
	IF account IS NOT NULL THEN
		acct := @extschema@.okra_object_id(account, 'account', 'account');
	END IF;
	PERFORM @extschema@.okra_refund_guard(id, amount);
	INSERT INTO @extschema@.okra_outbox_requests (kind, payment_id, amount, reason, account, created_by)
	VALUES ('refund', id, amount, reason, acct, session_user)
	RETURNING request_id INTO req;
	PERFORM @extschema@.okra_outbox_wake();
	RETURN req;
END
$$;

-----------------------------------------------------------------------------
-- The outbox sender: a claim carries the stored Idempotency-Key (outbox.c
-- reads it as the row type's 10th attribute, src/contract.c, which ADD
-- ATTRIBUTE puts last, as the install script does); late answers settle a
-- reclaimed request; a claimed request never started goes back to the
-- queue; a NULL wait is refused; the health report counts the journal's
-- unsettled calls (a new OUT column: a new result type, so the function is
-- recreated).
-----------------------------------------------------------------------------
ALTER TYPE @extschema@.okra_outbox_claimed ADD ATTRIBUTE idempotency_key text;
CREATE OR REPLACE FUNCTION @extschema@.okra_outbox_claim(n integer, lease interval)
RETURNS @extschema@.okra_outbox_claimed[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	claimed	@extschema@.okra_outbox_claimed[];
BEGIN
	UPDATE @extschema@.okra_outbox_requests AS o
	   SET state = 'unknown', lease_until = NULL, next_attempt_at = now(),
		   last_error = 'the sender stopped while the request was in flight'
	 WHERE o.state = 'sending' AND o.lease_until < now();
	WITH c AS (
		UPDATE @extschema@.okra_outbox_requests AS o
		   SET state = 'sending', attempts = o.attempts + 1, lease_until = now() + lease,
			   last_attempt_at = now()
		  FROM (SELECT q.request_id, q.state FROM @extschema@.okra_outbox_requests AS q
				 WHERE q.state IN ('queued', 'unknown') AND q.next_attempt_at <= now()
				 ORDER BY q.next_attempt_at, q.request_id
				 LIMIT n FOR UPDATE SKIP LOCKED) AS due
		 WHERE o.request_id = due.request_id
		RETURNING o.request_id, CASE WHEN due.state = 'queued' THEN 'send' ELSE 'check' END AS mode,
				  o.kind, o.payment_id, o.amount, o.reason, o.account, o.attempts, o.resend,
				  o.idempotency_key)
	SELECT array_agg(ROW(c.*)::@extschema@.okra_outbox_claimed ORDER BY c.request_id)
	  INTO claimed FROM c;
	RETURN coalesce(claimed, '{}');
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.okra_outbox_finish(req bigint, attempt integer, mode text,
											   sqlstate text, message text, http_status integer,
											   started_at timestamptz, finished_at timestamptz,
											   request text, refund @extschema@.okra_refund,
											   payment @extschema@.okra_payment, response jsonb,
											   max_attempts integer, trust_idempotency boolean)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o		@extschema@.okra_outbox_requests;
	new_state	text;
	why		text := CASE WHEN sqlstate IS NOT NULL THEN sqlstate || ': ' || message END;
	retry	interval;
	outcome	text;
BEGIN
	SELECT * INTO o FROM @extschema@.okra_outbox_requests AS t
	 WHERE t.request_id = req AND t.state = 'sending' AND t.attempts = attempt FOR UPDATE;
	IF NOT FOUND THEN
		-- no longer this attempt's (its lease ran out and another sender
		-- took it over).  A refund or cancel Okra says it carried out is
		-- still the truth: it settles the request, whatever its state, and
		-- is never dropped.
		SELECT * INTO o FROM @extschema@.okra_outbox_requests AS t
		 WHERE t.request_id = req FOR UPDATE;
		IF okra_outbox_finish.sqlstate IS NOT NULL THEN
			RAISE LOG 'okra outbox request % (attempt %, %) answered % after its claim ran out: %; it stays %',
				req, attempt, mode, okra_outbox_finish.sqlstate, message, o.state;
		END IF;
		IF mode = 'send' AND okra_outbox_finish.sqlstate IS NULL AND attempt <= o.attempts
		   AND (refund.refund_id IS NOT NULL OR payment.payment_id IS NOT NULL) THEN
			RAISE LOG 'okra outbox request % (attempt %) answered after its claim ran out: it succeeded (it was %)',
				req, attempt, o.state;
			IF o.state <> 'succeeded' THEN
				UPDATE @extschema@.okra_outbox_requests AS t SET
					state = 'succeeded', lease_until = NULL, next_attempt_at = NULL,
					finished_at = clock_timestamp(), http_status = okra_outbox_finish.http_status,
					sqlstate = NULL,
					last_error = 'answered after its claim ran out (it was ' || o.state || ')',
					refund_id = coalesce(refund.refund_id, t.refund_id),
					response = coalesce(okra_outbox_finish.response, t.response)
				 WHERE t.request_id = req;
				PERFORM @extschema@.okra_ledger_record('pay/' || o.kind, request, http_status,
					started_at, finished_at, o.created_by, payment, refund, o.amount IS NULL, response);
				RETURN 'succeeded';
			END IF;
		END IF;
		RETURN NULL;
	END IF;
	-- 08001 surely never reached Okra, a 429 was refused: back off, retry
	retry := CASE WHEN okra_outbox_finish.sqlstate = 'OK008' THEN interval '60 seconds'
			 ELSE least(interval '1 second' * power(2, least(attempt, 12)), interval '10 minutes') END;

	IF mode = 'send' THEN
		IF okra_outbox_finish.sqlstate IS NULL THEN
			new_state := 'succeeded';
		ELSIF okra_outbox_finish.sqlstate IN ('08001', 'OK008') THEN
			new_state := CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'queued' END;
		ELSIF okra_outbox_finish.sqlstate IN ('OK010', 'OK011') THEN
			new_state := 'unknown';
		ELSE
			new_state := 'failed';		-- Okra refused it: never sent again
		END IF;
	ELSE
		-- an unknown request, and what pay/verify says of its payment
		outcome := @extschema@.okra_payment_outcome(payment.status, payment.response_status);
		IF okra_outbox_finish.sqlstate IS NOT NULL THEN
			new_state := 'unknown';
		ELSIF o.kind = 'cancel' AND lower(payment.status) IN ('cancelled', 'canceled') THEN
			new_state := 'succeeded';
			why := NULL;
		ELSIF o.kind = 'cancel' AND lower(payment.status) IN ('initialize', 'initialized', 'pending') THEN
			new_state := 'queued';		-- not cancelled: the first did nothing
			why := 'Okra shows the payment still ' || payment.status || ': sending the cancel again';
		ELSIF o.kind = 'cancel' THEN
			new_state := 'failed';
			why := 'Okra shows the payment ' || payment.status || ': it cannot be cancelled';
		ELSIF outcome IS DISTINCT FROM 'succeeded'
			  AND (outcome IN ('failed', 'cancelled')
				   OR lower(payment.status) IN ('initialize', 'initialized', 'pending'))
			  AND NOT EXISTS (SELECT 1 FROM @extschema@.okra_payments AS p
							   WHERE p.payment_id = o.payment_id AND p.outcome = 'succeeded') THEN
			-- definite: Okra refunds succeeded payments only, and this one
			-- never succeeded
			new_state := 'failed';
			why := 'Okra shows the payment ' || payment.status || ': the refund cannot have happened';
		ELSIF outcome IS DISTINCT FROM 'succeeded' THEN
			-- a payment that succeeded and now shows another status (Okra may
			-- change it on refund) proves nothing: a person decides
			new_state := 'unknown';
			why := 'outcome unknown: Okra now shows the payment ' || coalesce(payment.status, 'without a status')
				|| ', which does not tell whether the refund happened; check with Okra and settle it with okra_outbox_resolve()';
		ELSIF o.amount IS NULL OR trust_idempotency THEN
			-- a repeat is answered "Duplicate request" if the first went
			-- through (a full refund), or replayed under its Idempotency-Key
			new_state := 'queued';
			why := 'outcome unknown: sending it again, which Okra answers with the first refund if there was one';
		ELSE
			new_state := 'unknown';
			why := 'outcome unknown: Okra offers no way to tell whether a partial refund happened; check with Okra and settle it with okra_outbox_resolve()';
		END IF;
	END IF;

	UPDATE @extschema@.okra_outbox_requests AS t SET
		state = new_state,
		resend = t.resend OR (mode = 'check' AND new_state = 'queued'),
		lease_until = NULL,
		next_attempt_at = CASE
			WHEN new_state = 'queued' AND mode = 'check' THEN now()
			WHEN new_state = 'queued' THEN now() + retry
			WHEN new_state = 'unknown' AND (mode = 'send' OR okra_outbox_finish.sqlstate IS NOT NULL) THEN now() + retry
			END,
		finished_at = CASE WHEN new_state IN ('succeeded', 'failed') THEN clock_timestamp() END,
		http_status = okra_outbox_finish.http_status,
		-- a check that answered keeps the SQLSTATE that made it unknown
		sqlstate = CASE WHEN new_state = 'succeeded' THEN NULL
				   WHEN mode = 'check' AND okra_outbox_finish.sqlstate IS NULL THEN t.sqlstate
				   ELSE okra_outbox_finish.sqlstate END,
		last_error = why,
		refund_id = coalesce(refund.refund_id, t.refund_id),
		response = coalesce(okra_outbox_finish.response, t.response)
	 WHERE t.request_id = req;

	IF okra_outbox_finish.sqlstate IS NULL THEN
		PERFORM @extschema@.okra_ledger_record(
			CASE WHEN mode = 'check' THEN 'pay/verify' ELSE 'pay/' || o.kind END,
			request, http_status, started_at, finished_at, o.created_by,
			payment, refund, o.amount IS NULL, response);
	END IF;
	RETURN new_state;
END
$$;

CREATE FUNCTION @extschema@.okra_outbox_release(req bigint, attempt integer, mode text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE @extschema@.okra_outbox_requests AS t
	   SET state = CASE WHEN mode = 'check' THEN 'unknown' ELSE 'queued' END,
		   attempts = t.attempts - 1, lease_until = NULL, next_attempt_at = now()
	 WHERE t.request_id = req AND t.state = 'sending' AND t.attempts = attempt
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_outbox_release(bigint, integer, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.okra_outbox_resolve(request_id bigint, outcome text, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o	@extschema@.okra_outbox_requests;
BEGIN
	IF outcome NOT IN ('succeeded', 'failed') THEN
		RAISE EXCEPTION 'invalid outcome: "%"', outcome
			USING ERRCODE = '22023', DETAIL = 'The outcome is succeeded or failed.';
	END IF;
	UPDATE @extschema@.okra_outbox_requests AS t
	   SET state = outcome, finished_at = clock_timestamp(), next_attempt_at = NULL,
		   last_error = coalesce(note, 'settled by ' || session_user)
	 WHERE t.request_id = okra_outbox_resolve.request_id AND t.state = 'unknown'
	RETURNING * INTO o;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'outbox request % is not unknown', request_id
			USING ERRCODE = '55000', HINT = 'Only a request in state unknown can be settled by hand.';
	END IF;
	IF outcome = 'succeeded' AND o.kind = 'refund' THEN
		PERFORM @extschema@.okra_ledger_settled_refund(o.payment_id, o.amount);
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.okra_outbox_wait(request_id bigint, timeout interval DEFAULT '30 seconds')
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	st			text;
	give_up		timestamptz := clock_timestamp() + timeout;
BEGIN
	IF request_id IS NULL THEN
		RAISE EXCEPTION 'request_id must not be null'
			USING ERRCODE = '22023';
	END IF;
	IF timeout IS NULL THEN
		RAISE EXCEPTION 'timeout must not be null'
			USING ERRCODE = '22023',
				  HINT = 'Pass how long to wait, for example ''30 seconds''; ''0'' returns the state at once.';
	END IF;
	LOOP
		SELECT o.state INTO st FROM @extschema@.okra_outbox_requests AS o
		 WHERE o.request_id = okra_outbox_wait.request_id;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'outbox request % does not exist', request_id
				USING ERRCODE = '22023',
					  HINT = 'A request becomes visible when the transaction that queued it commits.';
		END IF;
		EXIT WHEN st IN ('succeeded', 'failed') OR clock_timestamp() >= give_up;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RETURN st;
END
$$;

DROP FUNCTION @extschema@.okra_outbox_health();
CREATE FUNCTION @extschema@.okra_outbox_health(OUT worker_running boolean, OUT worker_pid integer,
											   OUT worker_database text, OUT preloaded boolean,
											   OUT key_configured boolean, OUT queued bigint,
											   OUT unknown bigint, OUT need_a_person bigint,
											   OUT oldest_queued_at timestamptz,
											   OUT journal_unsettled bigint)
RETURNS record
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	SELECT w.running, w.pid, w.database, w.preloaded, w.key_configured,
		   count(*) FILTER (WHERE o.state = 'queued'),
		   count(*) FILTER (WHERE o.state = 'unknown'),
		   count(*) FILTER (WHERE o.state = 'unknown' AND o.next_attempt_at IS NULL),
		   min(o.created_at) FILTER (WHERE o.state = 'queued'),
		   (SELECT count(*) FROM @extschema@.okra_journal AS j
			 WHERE j.outcome IS NULL OR j.outcome = 'unknown')
	  FROM @extschema@.okra_outbox_worker_state() AS w
	  LEFT JOIN @extschema@.okra_outbox_requests AS o ON o.state IN ('queued', 'unknown')
	 GROUP BY w.running, w.pid, w.database, w.preloaded, w.key_configured
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_outbox_health() FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_outbox_health() IS
	'The outbox worker''s state, the backlog, and whether a key is configured (never the key).';

-----------------------------------------------------------------------------
-- Housekeeping and reports: pruning takes old verification runs too; the
-- refund rate nets out failed refunds; okra_refundable gains "reserved"
-- before "remaining", which CREATE OR REPLACE VIEW cannot insert, so the
-- view is recreated (it holds no data).
-----------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION @extschema@.okra_prune_api_calls(older_than interval DEFAULT '90 days')
RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$
	-- okra_verification_runs is a log of calls too: its old rows go with
	-- them, but never the one whose 429 pause is still in force
	WITH runs AS (
		DELETE FROM @extschema@.okra_verification_runs AS r
		 WHERE r.started_at < now() - older_than
		   AND NOT coalesce(r.paused_until > now(), false)),
	gone AS (
		DELETE FROM @extschema@.okra_api_calls
		 WHERE called_at < now() - older_than
		RETURNING 1)
	SELECT count(*) FROM gone
$$;
COMMENT ON FUNCTION @extschema@.okra_prune_api_calls(interval) IS
	'Deletes okra_api_calls and okra_verification_runs rows older than the interval and returns how many calls it deleted; the other ledger tables are kept.';

CREATE OR REPLACE FUNCTION @extschema@.okra_daily_summary(since date, until date DEFAULT NULL)
RETURNS TABLE (day date, currency text,
			   succeeded_count bigint, succeeded_amount numeric,
			   failed_count bigint, failed_amount numeric,
			   cancelled_count bigint, cancelled_amount numeric,
			   refund_count bigint, refund_amount numeric,
			   refund_failed_amount numeric, net_amount numeric, refund_rate numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
	SELECT day, currency,
		   coalesce(sum(n) FILTER (WHERE kind = 'payment succeeded'), 0)::bigint,
		   coalesce(sum(total) FILTER (WHERE kind = 'payment succeeded'), 0),
		   coalesce(sum(n) FILTER (WHERE kind = 'payment failed'), 0)::bigint,
		   coalesce(sum(total) FILTER (WHERE kind = 'payment failed'), 0),
		   coalesce(sum(n) FILTER (WHERE kind = 'payment cancelled'), 0)::bigint,
		   coalesce(sum(total) FILTER (WHERE kind = 'payment cancelled'), 0),
		   coalesce(sum(n) FILTER (WHERE kind = 'refund issued'), 0)::bigint,
		   coalesce(sum(total) FILTER (WHERE kind = 'refund issued'), 0),
		   coalesce(sum(total) FILTER (WHERE kind = 'refund failed'), 0),
		   coalesce(sum(total) FILTER (WHERE kind = 'payment succeeded'), 0)
		   - coalesce(sum(total) FILTER (WHERE kind = 'refund issued'), 0)
		   + coalesce(sum(total) FILTER (WHERE kind = 'refund failed'), 0),
		   round((coalesce(sum(total) FILTER (WHERE kind = 'refund issued'), 0)
				  - coalesce(sum(total) FILTER (WHERE kind = 'refund failed'), 0))
				 / nullif(sum(total) FILTER (WHERE kind = 'payment succeeded'), 0), 4)
	  FROM (SELECT changed_at::date AS day, currency, object_type || ' ' || outcome AS kind,
				   count(*) AS n, sum(amount) AS total
			  FROM @extschema@.okra_status_changes
			 WHERE outcome IS NOT NULL
			   AND changed_at >= coalesce(since::timestamptz, '-infinity')
			   AND changed_at < coalesce((until + 1)::timestamptz, 'infinity')
			 GROUP BY 1, 2, 3) AS per_kind
	 GROUP BY day, currency
$$;

DROP VIEW @extschema@.okra_refundable;
CREATE VIEW @extschema@.okra_refundable AS
SELECT p.payment_id, p.currency, p.amount, p.refunded_amount AS refunded, h.reserved,
	   p.amount - p.refunded_amount - h.reserved AS remaining, p.last_checked_at
  FROM @extschema@.okra_payments AS p
  LEFT JOIN @extschema@.okra_refund_reservations AS r ON r.payment_id = p.payment_id
 CROSS JOIN LATERAL (SELECT CASE WHEN r.full_refund THEN greatest(p.amount - p.refunded_amount, 0)
						ELSE coalesce(r.amount, 0) END AS reserved) AS h
 WHERE p.outcome = 'succeeded' AND p.amount IS NOT NULL;
COMMENT ON VIEW @extschema@.okra_refundable IS
	'Per succeeded payment: amount, refunded so far (refunds not failed), reserved by refunds not yet final, and what remains refundable, in kobo.';

-----------------------------------------------------------------------------
-- The DBA's grants noted at the start, given back to the recreated view,
-- function and moved columns.  A GRANT in an extension script is recorded
-- as the extension's initial privilege (pg_init_privs), which pg_dump
-- leaves to CREATE EXTENSION and so would never dump: the initial
-- privileges of those objects are put back as the install script leaves
-- them, so that the grants stay the DBA's, as they were.  Nothing is done
-- when there was no such grant.
-----------------------------------------------------------------------------
DO $$
DECLARE
	g			record;
	e			record;
	init		pg_catalog.pg_init_privs[];
	objs		oid[] := ARRAY['@extschema@.okra_refundable'::pg_catalog.regclass::oid,
							   '@extschema@.okra_outbox_health()'::pg_catalog.regprocedure::oid,
							   '@extschema@.okra_journal'::pg_catalog.regclass::oid];
	regranted	boolean := false;
BEGIN
	SELECT pg_catalog.array_agg(ip) INTO init FROM pg_catalog.pg_init_privs AS ip
	 WHERE ip.objoid = ANY (objs);
	FOR g IN SELECT * FROM pg_catalog.jsonb_to_recordset(
				pg_catalog.current_setting('okra_upgrade.grants')::pg_catalog.jsonb)
				AS x(target text, col name, acl text, owner name)
	LOOP
		FOR e IN SELECT a.privilege_type, a.is_grantable,
						CASE WHEN a.grantee = 0 THEN 'PUBLIC'
						ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END AS grantee
				   FROM pg_catalog.aclexplode(g.acl::pg_catalog.aclitem[]) AS a
				  WHERE a.grantee = 0 OR pg_catalog.pg_get_userbyid(a.grantee) <> g.owner
		LOOP
			EXECUTE pg_catalog.format('GRANT %s%s ON %s TO %s%s', e.privilege_type,
									  CASE WHEN g.col IS NOT NULL
									  THEN pg_catalog.format(' (%I)', g.col) ELSE '' END,
									  g.target, e.grantee,
									  CASE WHEN e.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
			regranted := true;
		END LOOP;
	END LOOP;
	IF regranted THEN
		DELETE FROM pg_catalog.pg_init_privs AS ip WHERE ip.objoid = ANY (objs);
		INSERT INTO pg_catalog.pg_init_privs SELECT * FROM pg_catalog.unnest(init);
	END IF;
END
$$;

-- As after CREATE EXTENSION: with okra preloaded, the launcher starts (or
-- restarts) this database's okra worker once the update commits.
SELECT @extschema@.okra_outbox_wake();
