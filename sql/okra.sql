\echo Use "CREATE EXTENSION okra" to load this file. \quit

-- okra: Okra's payments API from SQL (collect, verify, cancel, refund, pay out).
-- Every API function makes one HTTPS POST to okra.base_url, which is not
-- transactional, and records it in the ledger, which is (README "The
-- ledger", "Caveats").  All functions are revoked from PUBLIC.

CREATE TYPE @extschema@.okra_payment AS (
	payment_id		text,
	status			text,
	amount			bigint,
	currency		text,
	customer_id		text,
	link_url		text,
	response_status	text,
	env				text,
	checked_at		timestamptz,
	response		jsonb
);
COMMENT ON TYPE @extschema@.okra_payment IS
	'An Okra payment as okra_verify and okra_cancel return it; see README "Types".';
COMMENT ON COLUMN @extschema@.okra_payment.payment_id IS
	'The payment''s id (_id or id), 24 hexadecimal characters.';
COMMENT ON COLUMN @extschema@.okra_payment.status IS
	'Life-cycle status as Okra sends it (lower case), e.g. initialize, pending, success, completed, cancelled, failed.';
COMMENT ON COLUMN @extschema@.okra_payment.amount IS
	'Amount in kobo (100 kobo = 1 naira).';
COMMENT ON COLUMN @extschema@.okra_payment.currency IS
	'Currency code, NGN.';
COMMENT ON COLUMN @extschema@.okra_payment.customer_id IS
	'Okra customer id (customer).';
COMMENT ON COLUMN @extschema@.okra_payment.link_url IS
	'URL of the payment link (link.url); NULL for payments made through the API.';
COMMENT ON COLUMN @extschema@.okra_payment.response_status IS
	'Outcome (response_status): success with status completed means the payment succeeded.';
COMMENT ON COLUMN @extschema@.okra_payment.env IS
	'Okra environment (env) when Okra sends it: production or production-sandbox.';
COMMENT ON COLUMN @extschema@.okra_payment.checked_at IS
	'When the response arrived.';
COMMENT ON COLUMN @extschema@.okra_payment.response IS
	'The whole response body.';

CREATE TYPE @extschema@.okra_refund AS (
	refund_id				text,
	payment_id				text,
	amount					bigint,
	currency				text,
	status					text,
	reason					text,
	refund_payment_id		text,
	refund_payment_status	text,
	wallet_balance			bigint,
	message					text,
	created_at				timestamptz,
	response				jsonb
);
COMMENT ON TYPE @extschema@.okra_refund IS
	'An Okra refund as okra_refund returns it; see README "Types".';
COMMENT ON COLUMN @extschema@.okra_refund.refund_id IS
	'The refund''s id (data.refund._id).';
COMMENT ON COLUMN @extschema@.okra_refund.payment_id IS
	'The refunded payment (data.refund.payment).';
COMMENT ON COLUMN @extschema@.okra_refund.amount IS
	'Amount refunded, in kobo (data.refund.amount).';
COMMENT ON COLUMN @extschema@.okra_refund.currency IS
	'Currency code (data.refund.currency).';
COMMENT ON COLUMN @extschema@.okra_refund.status IS
	'Refund status (data.refund.status): initiated at first, then completed or failed.';
COMMENT ON COLUMN @extschema@.okra_refund.reason IS
	'Reason given for the customer (data.refund.reason).';
COMMENT ON COLUMN @extschema@.okra_refund.refund_payment_id IS
	'The payment that credits the customer (data.refund_payment.data.payment.id): verify it to follow the refund.';
COMMENT ON COLUMN @extschema@.okra_refund.refund_payment_status IS
	'Status of the refund payment (data.refund_payment.data.payment.status).';
COMMENT ON COLUMN @extschema@.okra_refund.wallet_balance IS
	'Okra Wallet balance after the refund, in kobo (data.refund_payment.data.okra_wallet.amount).';
COMMENT ON COLUMN @extschema@.okra_refund.message IS
	'Okra''s top-level message.';
COMMENT ON COLUMN @extschema@.okra_refund.created_at IS
	'When Okra created the refund (data.refund.created_at).';
COMMENT ON COLUMN @extschema@.okra_refund.response IS
	'The whole response body.';

CREATE FUNCTION @extschema@.okra_verify(payment_id text)
RETURNS @extschema@.okra_payment
AS 'MODULE_PATHNAME', 'okra_verify'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_verify(text) IS
	'Asks Okra for the current status of a payment (pay/verify); see README "Reference".';
REVOKE ALL ON FUNCTION @extschema@.okra_verify(text) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_cancel(payment_id text)
RETURNS @extschema@.okra_payment
AS 'MODULE_PATHNAME', 'okra_cancel'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_cancel(text) IS
	'Cancels a payment that is still initialized or pending (pay/cancel) and returns it; see README "Reference".';
REVOKE ALL ON FUNCTION @extschema@.okra_cancel(text) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_refund(payment_id text,
										amount bigint DEFAULT NULL,
										reason text DEFAULT NULL,
										account text DEFAULT NULL)
RETURNS @extschema@.okra_refund
AS 'MODULE_PATHNAME', 'okra_refund'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_refund(text, bigint, text, text) IS
	'Refunds a payment in whole (amount NULL) or in part, amount in kobo (pay/refund); not transactional; see README "Reference".';
REVOKE ALL ON FUNCTION @extschema@.okra_refund(text, bigint, text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_request(endpoint text, body jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'okra_request'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_request(text, jsonb) IS
	'POSTs a JSON object to any Okra API endpoint (e.g. pay/list) and returns the whole response body; see README "Reference".';
REVOKE ALL ON FUNCTION @extschema@.okra_request(text, jsonb) FROM PUBLIC;

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
-- The ledger: what okra saw, written by the functions above in the calling
-- transaction (README "The ledger").  The tables belong to the extension
-- owner; the calling roles need no privilege on them, because the C code
-- records through okra_ledger_record and okra_ledger_guard_refund, which
-- are SECURITY DEFINER and granted to nobody.
-----------------------------------------------------------------------------

-- Is a payment status final?  Unknown statuses (and NULL: never seen) are not.
CREATE FUNCTION @extschema@.okra_status_is_terminal(status text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT coalesce(lower(status) IN ('success', 'completed', 'cancelled', 'canceled',
									  'failed', 'error', 'no_consent'), false)
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_status_is_terminal(text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_status_is_terminal(text) IS
	'True for the payment statuses Okra never changes again: success, completed, cancelled, failed, error, no_consent.';

-- How a payment ended, for reports: succeeded, failed, cancelled or other.
CREATE FUNCTION @extschema@.okra_payment_outcome(status text, response_status text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT CASE
		WHEN NOT @extschema@.okra_status_is_terminal(status) THEN NULL
		WHEN lower(status) = 'success' THEN 'succeeded'
		WHEN lower(status) = 'completed' AND lower(response_status) = 'success' THEN 'succeeded'
		WHEN lower(status) IN ('failed', 'error') THEN 'failed'
		WHEN lower(status) = 'completed' AND lower(response_status) = 'failed' THEN 'failed'
		WHEN lower(status) IN ('cancelled', 'canceled') THEN 'cancelled'
		ELSE 'other'
	END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_payment_outcome(text, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_payment_outcome(text, text) IS
	'The outcome of a payment in a final status: succeeded, failed, cancelled or other; NULL while it is not final.';

-- When a payment that is not final is due its next check (README
-- "Scheduled verification"): after half the time it has spent in its
-- current status, at least 1 minute and at most 1 hour; after the n-th
-- failed check in a row, 2^(n-1) minutes, at most 1 hour.
CREATE FUNCTION @extschema@.okra_next_check(checked_at timestamptz,
											status_since timestamptz,
											failed_checks integer DEFAULT 0)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT checked_at + CASE
		WHEN failed_checks > 0
		THEN least(interval '1 minute' * power(2, least(failed_checks, 7) - 1), interval '1 hour')
		ELSE least(greatest((checked_at - coalesce(status_since, checked_at)) / 2,
							interval '1 minute'), interval '1 hour')
	END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_next_check(timestamptz, timestamptz, integer) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_next_check(timestamptz, timestamptz, integer) IS
	'The next check of a payment that is not final: half its time in the current status (1 minute to 1 hour), or 2^(n-1) minutes after n failed checks (at most 1 hour).';

CREATE TABLE @extschema@.okra_payments (
	payment_id			text PRIMARY KEY CHECK (payment_id ~ '^[0-9a-f]{24}$'),
	status				text,
	response_status		text,
	amount				bigint,
	currency			text,
	customer_id			text,
	env					text,
	refunded_amount		bigint NOT NULL DEFAULT 0,
	first_seen_at		timestamptz NOT NULL DEFAULT now(),
	last_checked_at		timestamptz,
	status_changed_at	timestamptz,
	next_check_at		timestamptz,
	check_count			integer NOT NULL DEFAULT 0,
	failed_checks		integer NOT NULL DEFAULT 0,
	last_error			text,
	stale_at			timestamptz,
	-- okra_status_is_terminal(status) and okra_payment_outcome(status,
	-- response_status), kept by the ledger functions (a generated column
	-- would cost every write a function call that is not inlined)
	terminal			boolean NOT NULL DEFAULT false,
	outcome				text,
	link_id				text,
	-- when a webhook last made it due (okra_webhook), and when a check it
	-- asked for is due (the worker makes it, okra_webhook_claim)
	webhook_at			timestamptz,
	webhook_due_at		timestamptz
);
CREATE INDEX okra_payments_due_idx ON @extschema@.okra_payments (next_check_at)
	WHERE NOT terminal;
CREATE INDEX okra_payments_customer_idx ON @extschema@.okra_payments (customer_id);
CREATE INDEX okra_payments_webhook_idx ON @extschema@.okra_payments (webhook_due_at)
	WHERE webhook_due_at IS NOT NULL;
COMMENT ON TABLE @extschema@.okra_payments IS
	'One row per payment okra has seen, with its latest status; see README "The ledger".';

CREATE TABLE @extschema@.okra_refunds (
	refund_id				text PRIMARY KEY,
	payment_id				text NOT NULL,
	amount					bigint,
	currency				text,
	reason					text,
	status					text,
	refund_payment_id		text UNIQUE,
	refund_payment_status	text,
	wallet_balance			bigint,
	initiated_at			timestamptz NOT NULL,
	succeeded_at			timestamptz,
	failed_at				timestamptz,
	last_checked_at			timestamptz,
	requested_by			name NOT NULL
);
CREATE INDEX okra_refunds_payment_idx ON @extschema@.okra_refunds (payment_id);
COMMENT ON TABLE @extschema@.okra_refunds IS
	'One row per refund okra_refund made; verifying its refund payment moves it on; see README "The ledger".';

CREATE TABLE @extschema@.okra_status_changes (
	change_id		bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	object_type		text NOT NULL CHECK (object_type IN ('payment', 'refund', 'payout')),
	object_id		text NOT NULL,
	payment_id		text NOT NULL,
	old_status		text,
	new_status		text,
	outcome			text,
	amount			bigint,
	currency		text,
	changed_at		timestamptz NOT NULL,
	-- a payout's fee, in naira as Okra gives it (fractional; the amounts
	-- are kobo); NULL for the others
	fee				numeric
);
CREATE INDEX okra_status_changes_object_idx ON @extschema@.okra_status_changes (object_id, changed_at);
CREATE INDEX okra_status_changes_outcome_idx ON @extschema@.okra_status_changes (changed_at)
	INCLUDE (object_type, outcome, currency, amount) WHERE outcome IS NOT NULL;
COMMENT ON TABLE @extschema@.okra_status_changes IS
	'Append-only: one row per status change okra observed, of a payment, a refund or a payout; reports build on it.';

CREATE TABLE @extschema@.okra_api_calls (
	call_id			bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	called_at		timestamptz NOT NULL,
	endpoint		text NOT NULL,
	payment_id		text,
	http_status		integer,
	okra_status		text,
	okra_message	text,
	sqlstate		text,
	duration_ms		double precision,
	request			jsonb,
	response		jsonb,
	role			name NOT NULL
);
CREATE INDEX okra_api_calls_called_at_idx ON @extschema@.okra_api_calls (called_at);
CREATE INDEX okra_api_calls_payment_idx ON @extschema@.okra_api_calls (payment_id);
COMMENT ON TABLE @extschema@.okra_api_calls IS
	'One row per Okra API call that completed (the secret key is never stored); prune with okra_prune_api_calls.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.okra_payments', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.okra_refunds', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.okra_status_changes', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.okra_api_calls', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.okra_status_changes', 'change_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.okra_api_calls', 'call_id'), '');

-- A payment as okra_verify or okra_cancel returned it.  A refund payment
-- (one okra_refund created) moves its refund on instead.
-- Returns whether the status changed.
CREATE FUNCTION @extschema@.okra_ledger_payment(p @extschema@.okra_payment)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	is_final	boolean := @extschema@.okra_status_is_terminal(p.status);
	new_outcome	text := @extschema@.okra_payment_outcome(p.status, p.response_status);
	-- the payment link it was paid through, when the answer names it: the
	-- link object in pay/verify's payment_status, its id in a payment
	via_link	text := (SELECT lower(CASE jsonb_typeof(o -> 'link')
										WHEN 'object' THEN coalesce(o #>> '{link,_id}', o #>> '{link,id}')
										WHEN 'string' THEN o ->> 'link' END)
						   FROM (VALUES (p.response #> '{data,payment_status}'),
										(p.response #> '{data,payment}')) AS v(o)
						  WHERE lower(coalesce(o ->> '_id', o ->> 'id')) = p.payment_id
						  LIMIT 1);
	refund		@extschema@.okra_refunds;
	prev_status	text;
	was_final	boolean;
	prev_amount	bigint;
	prev_curr	text;
BEGIN
	IF via_link !~ '^[0-9a-f]{24}$' THEN
		via_link := NULL;
	END IF;
	SELECT * INTO refund FROM @extschema@.okra_refunds
	 WHERE refund_payment_id = p.payment_id FOR UPDATE;
	IF FOUND THEN
		PERFORM @extschema@.okra_ledger_refund_payment(refund, p);
		RETURN refund.refund_payment_status IS DISTINCT FROM p.status;
	END IF;

	-- one statement for a payment seen before: it locks the row, updates
	-- it and returns what it was; unless the ledger has a newer answer (a
	-- check that took longer than a later one: a webhook's, a scheduled
	-- run's), which this older one must not undo
	UPDATE @extschema@.okra_payments AS t SET
		status = p.status,
		response_status = p.response_status,
		terminal = is_final,
		outcome = new_outcome,
		amount = coalesce(p.amount, t.amount),
		currency = coalesce(p.currency, t.currency),
		customer_id = coalesce(p.customer_id, t.customer_id),
		env = coalesce(p.env, t.env),
		last_checked_at = p.checked_at,
		status_changed_at = CASE WHEN prev.status IS DISTINCT FROM p.status
							THEN p.checked_at ELSE t.status_changed_at END,
		-- a stale payment stays out of scheduled checks
		next_check_at = CASE WHEN NOT is_final AND t.stale_at IS NULL
						THEN @extschema@.okra_next_check(p.checked_at,
							CASE WHEN prev.status IS DISTINCT FROM p.status
							THEN p.checked_at ELSE t.status_changed_at END) END,
		check_count = t.check_count + 1,
		failed_checks = 0,
		last_error = NULL,
		link_id = coalesce(via_link, t.link_id)
	  FROM (SELECT payment_id, status, terminal, amount, currency, last_checked_at
			  FROM @extschema@.okra_payments
			 WHERE payment_id = p.payment_id FOR UPDATE) AS prev
	 WHERE t.payment_id = prev.payment_id
	   AND (prev.last_checked_at IS NULL OR prev.last_checked_at <= p.checked_at)
	RETURNING prev.status, prev.terminal, prev.amount, prev.currency
	  INTO prev_status, was_final, prev_amount, prev_curr;

	IF NOT FOUND AND EXISTS (SELECT 1 FROM @extschema@.okra_payments AS t
							  WHERE t.payment_id = p.payment_id) THEN
		RETURN false;			-- a newer answer is in the ledger
	ELSIF NOT FOUND THEN
		INSERT INTO @extschema@.okra_payments
			(payment_id, status, response_status, terminal, outcome, amount, currency,
			 customer_id, env, first_seen_at, last_checked_at, status_changed_at,
			 next_check_at, check_count, link_id)
		VALUES (p.payment_id, p.status, p.response_status, is_final, new_outcome,
				p.amount, p.currency, p.customer_id, p.env, p.checked_at, p.checked_at,
				p.checked_at,
				CASE WHEN NOT is_final THEN @extschema@.okra_next_check(p.checked_at, p.checked_at) END,
				1, via_link)
		ON CONFLICT (payment_id) DO NOTHING;
		IF NOT FOUND THEN
			-- another session recorded it first: update what it wrote
			RETURN @extschema@.okra_ledger_payment(p);
		END IF;
		was_final := false;
	END IF;

	IF prev_status IS DISTINCT FROM p.status THEN
		INSERT INTO @extschema@.okra_status_changes
			(object_type, object_id, payment_id, old_status, new_status, outcome,
			 amount, currency, changed_at)
		VALUES ('payment', p.payment_id, p.payment_id, prev_status, p.status,
				CASE WHEN NOT was_final THEN new_outcome END,
				coalesce(p.amount, prev_amount), coalesce(p.currency, prev_curr),
				p.checked_at);
	END IF;
	RETURN prev_status IS DISTINCT FROM p.status;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_payment(@extschema@.okra_payment) FROM PUBLIC;

-- A verified refund payment: success completes its refund, a failure fails
-- it and gives the amount back to what remains refundable.
CREATE FUNCTION @extschema@.okra_ledger_refund_payment(r @extschema@.okra_refunds,
													   p @extschema@.okra_payment)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	paid		text := @extschema@.okra_payment_outcome(p.status, p.response_status);
	new_state	text := CASE WHEN r.status IN ('completed', 'failed') THEN r.status
						WHEN paid = 'succeeded' THEN 'completed'
						WHEN paid IS NOT NULL THEN 'failed'
						ELSE r.status END;
BEGIN
	UPDATE @extschema@.okra_refunds SET
		status = new_state,
		refund_payment_status = p.status,
		succeeded_at = CASE WHEN new_state = 'completed'
					   THEN coalesce(succeeded_at, p.checked_at) END,
		failed_at = CASE WHEN new_state = 'failed'
					THEN coalesce(failed_at, p.checked_at) END,
		last_checked_at = p.checked_at
	 WHERE refund_id = r.refund_id;
	IF new_state IS DISTINCT FROM r.status THEN
		INSERT INTO @extschema@.okra_status_changes
			(object_type, object_id, payment_id, old_status, new_status, outcome,
			 amount, currency, changed_at)
		VALUES ('refund', r.refund_id, r.payment_id, r.status, new_state, new_state,
				r.amount, r.currency, p.checked_at);
		IF new_state = 'failed' THEN
			UPDATE @extschema@.okra_payments
			   SET refunded_amount = refunded_amount - coalesce(r.amount, 0)
			 WHERE payment_id = r.payment_id;
		END IF;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_refund_payment(@extschema@.okra_refunds, @extschema@.okra_payment) FROM PUBLIC;

-- A refund as okra_refund returned it.  full: the request named no amount,
-- so the payment is now refunded in full (which tells its amount if unknown).
-- The payment's row exists: okra_ledger_guard_refund made it, if need be,
-- before the refund was sent, and the refund is of that payment.
CREATE FUNCTION @extschema@.okra_ledger_refund(r @extschema@.okra_refund,
											   requested_by name,
											   full_refund boolean,
											   seen_at timestamptz)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	INSERT INTO @extschema@.okra_refunds
		(refund_id, payment_id, amount, currency, reason, status,
		 refund_payment_id, refund_payment_status, wallet_balance,
		 initiated_at, requested_by)
	VALUES (r.refund_id, r.payment_id, r.amount, r.currency, r.reason, r.status,
			r.refund_payment_id, r.refund_payment_status, r.wallet_balance,
			coalesce(r.created_at, seen_at), requested_by)
	ON CONFLICT (refund_id) DO NOTHING;
	IF NOT FOUND THEN
		RETURN;					-- seen before (an idempotent replay)
	END IF;

	INSERT INTO @extschema@.okra_status_changes
		(object_type, object_id, payment_id, old_status, new_status, outcome,
		 amount, currency, changed_at)
	VALUES ('refund', r.refund_id, r.payment_id, NULL, r.status, 'issued',
			r.amount, r.currency, seen_at);
	UPDATE @extschema@.okra_payments SET
		refunded_amount = refunded_amount + coalesce(r.amount, 0),
		amount = CASE WHEN full_refund AND amount IS NULL
				 THEN refunded_amount + r.amount ELSE amount END,
		currency = coalesce(currency, r.currency),
		-- a payment known only from its refund: verify it when due
		next_check_at = CASE WHEN status IS NULL
						THEN coalesce(next_check_at, seen_at) ELSE next_check_at END
	 WHERE payment_id = r.payment_id;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_refund(@extschema@.okra_refund, name, boolean, timestamptz) FROM PUBLIC;

-- The one entry point the C code calls after every call that succeeded.
CREATE FUNCTION @extschema@.okra_ledger_record(endpoint text,
											   request text,
											   http_status integer,
											   started_at timestamptz,
											   finished_at timestamptz,
											   role name,
											   payment @extschema@.okra_payment,
											   refund @extschema@.okra_refund,
											   full_refund boolean,
											   response jsonb)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	req		jsonb := request::jsonb;
	created	jsonb;
BEGIN
	INSERT INTO @extschema@.okra_api_calls
		(called_at, endpoint, payment_id, http_status, okra_status, okra_message,
		 duration_ms, request, response, role)
	VALUES (started_at, endpoint,
			coalesce(payment.payment_id, refund.payment_id, req ->> 'payment_id'),
			http_status, response ->> 'status', response ->> 'message',
			extract(epoch FROM finished_at - started_at) * 1000,
			req, response, role);

	IF payment.payment_id IS NOT NULL THEN
		RETURN @extschema@.okra_ledger_payment(payment);
	ELSIF refund.refund_id IS NOT NULL THEN
		PERFORM @extschema@.okra_ledger_refund(refund, role, full_refund, finished_at);
	ELSIF lower(endpoint) ~ '^(sandbox/)?pay/initiate$' THEN
		-- a payment created through okra_request: track it from now on
		created := response #> '{data,payment}';
		IF coalesce(created ->> 'id', created ->> '_id') ~ '^[0-9a-f]{24}$' THEN
			PERFORM @extschema@.okra_ledger_payment(ROW(
				coalesce(created ->> 'id', created ->> '_id'), created ->> 'status',
				CASE WHEN jsonb_typeof(created -> 'amount') = 'number'
				THEN (created ->> 'amount')::numeric::bigint END,
				created ->> 'currency', response #>> '{data,customer,id}',
				NULL, NULL, created ->> 'env', finished_at, response
			)::@extschema@.okra_payment);
		END IF;
	END IF;
	RETURN false;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_record(text, text, integer, timestamptz, timestamptz, name, @extschema@.okra_payment, @extschema@.okra_refund, boolean, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_ledger_record(text, text, integer, timestamptz, timestamptz, name, @extschema@.okra_payment, @extschema@.okra_refund, boolean, jsonb) IS
	'Internal: records one completed Okra call in the ledger (true if a payment''s status changed); called by okra''s C functions only.';

-- An Okra ObjectID argument (24 hexadecimal digits, any case) in lower
-- case, as okra's C functions check theirs; 22023 otherwise, with the C
-- functions' messages ("payment_id must not be null" for a NULL).
CREATE FUNCTION @extschema@.okra_object_id(value text, argname text, what text)
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
REVOKE ALL ON FUNCTION @extschema@.okra_object_id(text, text, text) FROM PUBLIC;

-- A payment's ledger row, made if need be, locked until the transaction
-- ends: requests that may move its money queue up behind each other.
CREATE FUNCTION @extschema@.okra_ledger_lock_payment(payment_id text)
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
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_lock_payment(text) FROM PUBLIC;

-- A refund a person settled as succeeded (okra_journal_resolve,
-- okra_outbox_resolve): it counts against what remains refundable.
-- amount NULL: a refund of whatever remained.
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

-- Before a refund is sent or queued, under the payment's lock and with the
-- latest snapshot (okra_refund_guard, guard.c): refuse what the ledger
-- already knows Okra would refuse.
CREATE FUNCTION @extschema@.okra_ledger_guard_refund(payment_id text, amount bigint)
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
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_guard_refund(text, bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_ledger_guard_refund(text, bigint) IS
	'Internal: refuses a refund the ledger shows Okra would refuse (called under the payment''s lock).';

-- A payment made elsewhere (Okra's widget, another system): the ledger
-- learns its id now and everything else from Okra when it is verified.
CREATE FUNCTION @extschema@.okra_track(payment_id text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id	text := @extschema@.okra_object_id(payment_id, 'payment_id', 'payment');
BEGIN
	INSERT INTO @extschema@.okra_payments (payment_id, next_check_at)
	VALUES (id, now())
	ON CONFLICT ON CONSTRAINT okra_payments_pkey DO NOTHING;
	RETURN FOUND;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_track(text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_track(text) IS
	'Adds a payment made elsewhere to the ledger, due a check now; true if it was new. Nothing is sent.';

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
	-- queued by okra_initiate_payment_after_commit
	PERFORM @extschema@.okra_outbox_reference_check('initiate', reference);
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

-----------------------------------------------------------------------------
-- Payouts (money out, README "Paying out"): okra_payout asks Okra to move
-- money from the Okra Wallet to a bank account, once per merchant
-- reference like okra_initiate_payment, and the ledger keeps each payout
-- until it settles (okra_get_payout, okra_verify_pending).
--
-- Each payout writes rows of object_type 'payout' to okra_status_changes
-- (object_id and payment_id: the payout's id), with its amount (kobo) and
-- its fee (naira, fractional, as Okra gives it: not kobo, and not taken
-- from the amount).  Their outcome says what happened to the money:
--   issued     the payout was made: its amount left the Okra Wallet
--   succeeded  it settled: the money reached the bank account
--   failed     it failed: its amount went back to the Okra Wallet
-- So money out is issued minus failed, and the fees are those of the
-- payouts issued minus those that failed.  A payout Okra answers final at
-- once has both rows (issued, then its outcome), at the same time.
-----------------------------------------------------------------------------

CREATE TYPE @extschema@.okra_payout AS (
	payout_id			text,
	status				text,
	ref					text,
	amount				bigint,
	fee					numeric,
	currency			text,
	account_to_credit	text,
	nuban				text,
	bank				text,
	reference			text,
	replayed			boolean,
	initiated_at		timestamptz,
	response			jsonb
);
COMMENT ON TYPE @extschema@.okra_payout IS
	'A payout, as okra_payout and okra_get_payout return it; see README "Types".';
COMMENT ON COLUMN @extschema@.okra_payout.payout_id IS
	'The payout''s id (data.payout._id): okra_get_payout reads it.';
COMMENT ON COLUMN @extschema@.okra_payout.status IS
	'Its status: initiated when made, then success or failed; the ledger''s latest when replayed.';
COMMENT ON COLUMN @extschema@.okra_payout.ref IS
	'Okra''s reference of the payout (data.payout.ref).';
COMMENT ON COLUMN @extschema@.okra_payout.fee IS
	'Okra''s fee in naira, as Okra gives it (fractional, such as 10.75); NULL if Okra gave none.';
COMMENT ON COLUMN @extschema@.okra_payout.nuban IS
	'The bank account number credited (data.payout.nuban_to_credit.nuban).';
COMMENT ON COLUMN @extschema@.okra_payout.bank IS
	'Okra''s id of the bank credited (data.payout.nuban_to_credit.bank).';
COMMENT ON COLUMN @extschema@.okra_payout.reference IS
	'The merchant''s reference given to okra_payout, or NULL.';
COMMENT ON COLUMN @extschema@.okra_payout.replayed IS
	'True when the reference had been used: this is the first call''s payout, and nothing was sent.';

CREATE TABLE @extschema@.okra_payouts (
	payout_id			text PRIMARY KEY CHECK (payout_id ~ '^[0-9a-f]{24}$'),
	reference			text UNIQUE,
	status				text,
	amount				bigint NOT NULL,
	fee					numeric,
	currency			text NOT NULL,
	account_to_credit	text,
	nuban				text,
	bank				text,
	ref					text,
	env					text,
	initiated_at		timestamptz NOT NULL,
	-- NULL for a payout okra_get_payout found that no okra_payout made
	initiated_by		name,
	last_checked_at		timestamptz,
	status_changed_at	timestamptz,
	next_check_at		timestamptz,
	check_count			integer NOT NULL DEFAULT 0,
	failed_checks		integer NOT NULL DEFAULT 0,
	last_error			text,
	-- final (outcome succeeded or failed): no more checks
	terminal			boolean NOT NULL DEFAULT false,
	outcome				text CHECK (outcome IN ('succeeded', 'failed')),
	response			jsonb NOT NULL
);
CREATE INDEX okra_payouts_due_idx ON @extschema@.okra_payouts (next_check_at)
	WHERE NOT terminal;
COMMENT ON TABLE @extschema@.okra_payouts IS
	'One row per payout (money out) with the merchant''s reference, its fee and latest status; see README "Paying out".';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.okra_payouts', '');

-- How a payout ended: succeeded (success), failed (failed, error,
-- cancelled: its amount went back to the wallet), NULL while it is not
-- final (initiated, or a status okra does not know).
CREATE FUNCTION @extschema@.okra_payout_outcome(status text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT CASE
		WHEN lower(status) = 'success' THEN 'succeeded'
		WHEN lower(status) IN ('failed', 'error', 'cancelled', 'canceled') THEN 'failed'
	END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_payout_outcome(text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_payout_outcome(text) IS
	'The outcome of a payout status: succeeded, failed (its amount went back to the wallet), or NULL while it is not final.';

-- The row okra_payout and okra_get_payout return for a stored payout.
CREATE FUNCTION @extschema@.okra_payout_row(o @extschema@.okra_payouts, replayed boolean)
RETURNS @extschema@.okra_payout
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
	SELECT ROW(o.payout_id, o.status, o.ref, o.amount, o.fee, o.currency,
			   o.account_to_credit, o.nuban, o.bank, o.reference, replayed,
			   o.initiated_at, o.response)::@extschema@.okra_payout
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_payout_row(@extschema@.okra_payouts, boolean) FROM PUBLIC;

-- Under the reference's lock (okra_ledger_lock_reference), with the
-- latest snapshot (payouts.c): the payout a reference already made
-- (replayed), NULL if none; or refuse when the journal has a payout under
-- it that may have been made but that the ledger lacks.
CREATE FUNCTION @extschema@.okra_ledger_payout_reference(reference text)
RETURNS @extschema@.okra_payout
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o	@extschema@.okra_payouts;
	j	@extschema@.okra_journal;
BEGIN
	SELECT * INTO o FROM @extschema@.okra_payouts AS t
	 WHERE t.reference = okra_ledger_payout_reference.reference;
	IF FOUND THEN
		RETURN @extschema@.okra_payout_row(o, true);
	END IF;
	-- queued by okra_payout_after_commit
	PERFORM @extschema@.okra_outbox_reference_check('payout', reference);
	SELECT * INTO j FROM @extschema@.okra_journal AS t
	 WHERE t.reference = okra_ledger_payout_reference.reference AND t.endpoint = 'pay/payout'
	   AND t.outcome IS DISTINCT FROM 'failed'
	 ORDER BY t.journal_id LIMIT 1;
	IF NOT FOUND THEN
		RETURN NULL;
	ELSIF j.outcome = 'succeeded' THEN
		RAISE EXCEPTION 'reference "%" already made a payout', reference
			USING ERRCODE = 'OK013',
				  DETAIL = format('Journal entry %s made %s, but the ledger does not have it (%s). Nothing was sent to Okra.',
								  j.journal_id, coalesce('payout ' || j.created_id, 'a payout'),
								  CASE WHEN j.settled_at IS NULL THEN 'the transaction that asked for it rolled back'
								  ELSE 'a person settled its unknown outcome as succeeded' END),
				  HINT = CASE WHEN j.created_id IS NOT NULL
						 THEN format('Read it with okra_get_payout(%L): the ledger then has it under this reference.', j.created_id)
						 ELSE 'Find it in the Okra Dashboard and read it with okra_get_payout, or use another reference.' END;
	END IF;
	RAISE EXCEPTION 'a payout made with reference "%" has an unknown outcome', reference
		USING ERRCODE = 'OK012',
			  DETAIL = format('Journal entry %s was sent with no definite answer, so Okra may have made the payout. Nothing was sent to Okra.', j.journal_id),
			  HINT = format('Check with Okra (the Dashboard lists payouts), then settle it with okra_journal_resolve(%s, ''succeeded'') or okra_journal_resolve(%s, ''failed'').',
							j.journal_id, j.journal_id);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_payout_reference(text) FROM PUBLIC;

-- A payout Okra answered for (okra_payout; okra_get_payout for one the
-- ledger lacks): its row, due a check unless final, and its 'issued'
-- status change (and its outcome's, if final already).  request is what
-- okra_payout sent (NULL: the answer tells everything).
CREATE FUNCTION @extschema@.okra_ledger_payout_record(reference text, request jsonb,
													  response jsonb, role name,
													  initiated_at timestamptz)
RETURNS @extschema@.okra_payout
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p	jsonb := response #> '{data,payout}';
	o	@extschema@.okra_payouts;
BEGIN
	INSERT INTO @extschema@.okra_payouts AS t
		(payout_id, reference, status, amount, fee, currency, account_to_credit,
		 nuban, bank, ref, env, initiated_at, initiated_by, status_changed_at,
		 next_check_at, terminal, outcome, response)
	VALUES (lower(coalesce(p ->> '_id', p ->> 'id')), reference, p ->> 'status',
			CASE WHEN jsonb_typeof(p -> 'amount') = 'number'
			THEN (p ->> 'amount')::numeric::bigint ELSE (request ->> 'amount')::bigint END,
			CASE WHEN jsonb_typeof(p -> 'fee') = 'number' THEN (p ->> 'fee')::numeric END,
			coalesce(p ->> 'currency', request ->> 'currency', 'NGN'),
			coalesce(p ->> 'account_to_credit', request ->> 'account_to_credit'),
			coalesce(p #>> '{nuban_to_credit,nuban}', request ->> 'nuban'),
			coalesce(p #>> '{nuban_to_credit,bank}', request ->> 'bank'),
			p ->> 'ref', p ->> 'env', initiated_at, role, initiated_at,
			CASE WHEN @extschema@.okra_payout_outcome(p ->> 'status') IS NULL
			THEN @extschema@.okra_next_check(initiated_at, initiated_at) END,
			@extschema@.okra_payout_outcome(p ->> 'status') IS NOT NULL,
			@extschema@.okra_payout_outcome(p ->> 'status'), response)
	RETURNING * INTO o;
	INSERT INTO @extschema@.okra_status_changes
		(object_type, object_id, payment_id, old_status, new_status, outcome,
		 amount, currency, changed_at, fee)
	VALUES ('payout', o.payout_id, o.payout_id, NULL, o.status, 'issued',
			o.amount, o.currency, initiated_at, o.fee);
	IF o.terminal THEN
		INSERT INTO @extschema@.okra_status_changes
			(object_type, object_id, payment_id, old_status, new_status, outcome,
			 amount, currency, changed_at, fee)
		VALUES ('payout', o.payout_id, o.payout_id, o.status, o.status, o.outcome,
				o.amount, o.currency, initiated_at, o.fee);
	END IF;
	RETURN @extschema@.okra_payout_row(o, false);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_payout_record(text, jsonb, jsonb, name, timestamptz) FROM PUBLIC;

-- A payout as Okra answered for it now (okra_get_payout, scheduled
-- verification): its latest status, and a status change when it moved
-- (changed).  One the ledger lacks joins it, with the reference and role
-- of the journaled okra_payout that made it, if any (changed: true).
CREATE FUNCTION @extschema@.okra_ledger_payout_seen(response jsonb, checked_at timestamptz,
													OUT changed boolean,
													OUT payout @extschema@.okra_payout)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p			jsonb := response #> '{data,payout}';
	id			text := lower(coalesce(p ->> '_id', p ->> 'id'));
	new_status	text := p ->> 'status';
	new_outcome	text := @extschema@.okra_payout_outcome(p ->> 'status');
	prev		@extschema@.okra_payouts;
	o			@extschema@.okra_payouts;
	j			@extschema@.okra_journal;
BEGIN
	SELECT * INTO prev FROM @extschema@.okra_payouts AS t WHERE t.payout_id = id FOR UPDATE;
	IF NOT FOUND THEN
		SELECT * INTO j FROM @extschema@.okra_journal AS t
		 WHERE t.created_id = id AND t.endpoint = 'pay/payout'
		 ORDER BY t.journal_id LIMIT 1;
		changed := true;
		payout := @extschema@.okra_ledger_payout_record(j.reference, NULL, response, j.role,
														coalesce(j.finished_at, j.called_at, checked_at));
		RETURN;
	END IF;
	changed := prev.status IS DISTINCT FROM new_status;
	UPDATE @extschema@.okra_payouts AS t SET
		status = new_status,
		terminal = new_outcome IS NOT NULL,
		outcome = new_outcome,
		fee = CASE WHEN jsonb_typeof(p -> 'fee') = 'number' THEN (p ->> 'fee')::numeric ELSE t.fee END,
		ref = coalesce(p ->> 'ref', t.ref),
		last_checked_at = checked_at,
		status_changed_at = CASE WHEN changed THEN checked_at ELSE t.status_changed_at END,
		next_check_at = CASE WHEN new_outcome IS NULL
						THEN @extschema@.okra_next_check(checked_at,
							CASE WHEN changed THEN checked_at ELSE t.status_changed_at END) END,
		check_count = t.check_count + 1,
		failed_checks = 0,
		last_error = NULL,
		response = okra_ledger_payout_seen.response
	 WHERE t.payout_id = id
	RETURNING * INTO o;
	IF changed THEN
		INSERT INTO @extschema@.okra_status_changes
			(object_type, object_id, payment_id, old_status, new_status, outcome,
			 amount, currency, changed_at, fee)
		VALUES ('payout', id, id, prev.status, new_status,
				CASE WHEN NOT prev.terminal THEN new_outcome END,
				o.amount, o.currency, checked_at, o.fee);
	END IF;
	payout := @extschema@.okra_payout_row(o, false);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_payout_seen(jsonb, timestamptz) FROM PUBLIC;

-- Scheduled verification of payouts (okra_verify_pending, pending.c): the
-- payouts due a check, claimed under a lease like okra_verify_claim's
-- payments (never marked stale: a live payout may take days); one never
-- sent (after a 429), due again now; and a check that failed, with the
-- payments' backoff (a 429 leaves it due).  The call itself is recorded
-- by okra_ledger_check_failed.
CREATE FUNCTION @extschema@.okra_verify_claim_payouts(n integer, lease interval)
RETURNS text[]
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	WITH due AS (
		SELECT payout_id, next_check_at AS was_due FROM @extschema@.okra_payouts
		 WHERE NOT terminal AND next_check_at <= now()
		 ORDER BY next_check_at
		 LIMIT n
		   FOR UPDATE SKIP LOCKED),
	claimed AS (
		UPDATE @extschema@.okra_payouts AS t SET next_check_at = now() + lease
		  FROM due WHERE t.payout_id = due.payout_id
		RETURNING t.payout_id, due.was_due)
	SELECT coalesce(array_agg(payout_id ORDER BY was_due, payout_id), '{}') FROM claimed
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_verify_claim_payouts(integer, interval) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_verify_unclaim_payout(payout_id text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE @extschema@.okra_payouts AS t SET next_check_at = now()
	 WHERE t.payout_id = okra_verify_unclaim_payout.payout_id AND NOT t.terminal
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_verify_unclaim_payout(text) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_ledger_payout_check_failed(payout_id text, sqlstate text,
															message text,
															finished_at timestamptz)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE @extschema@.okra_payouts AS t SET
		failed_checks = t.failed_checks + 1,
		last_error = okra_ledger_payout_check_failed.sqlstate || ': ' || message,
		next_check_at = @extschema@.okra_next_check(finished_at, NULL, t.failed_checks + 1)
	 WHERE t.payout_id = okra_ledger_payout_check_failed.payout_id AND NOT t.terminal
	   AND sqlstate <> 'OK008';
	UPDATE @extschema@.okra_payouts AS t SET next_check_at = now()
	 WHERE t.payout_id = okra_ledger_payout_check_failed.payout_id AND NOT t.terminal
	   AND sqlstate = 'OK008';
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_payout_check_failed(text, text, text, timestamptz) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_payout(amount bigint,
										account_to_credit text DEFAULT NULL,
										nuban text DEFAULT NULL,
										bank text DEFAULT NULL,
										currency text DEFAULT 'NGN',
										reference text DEFAULT NULL)
RETURNS @extschema@.okra_payout
AS 'MODULE_PATHNAME', 'okra_payout'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_payout(bigint, text, text, text, text, text) IS
	'Asks Okra to pay out from the Okra Wallet (pay/payout) to account_to_credit, or to nuban at bank, once per reference; see README "Paying out".';
REVOKE ALL ON FUNCTION @extschema@.okra_payout(bigint, text, text, text, text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_get_payout(payout_id text)
RETURNS @extschema@.okra_payout
AS 'MODULE_PATHNAME', 'okra_get_payout'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_get_payout(text) IS
	'Okra''s record of one payout (pay/payout/get, okra-sandbox''s: Okra documents none), recorded in the ledger; see README "Paying out".';
REVOKE ALL ON FUNCTION @extschema@.okra_get_payout(text) FROM PUBLIC;

-----------------------------------------------------------------------------
-- Payment links (README "Payment links"): okra_create_payment_link asks
-- Okra for a page where a customer pays, for a fixed amount or one the
-- payer chooses, once or on a schedule.  Okra answers the same link for
-- the same details, so the ledger keeps one row per link and updates it.
-- A payment made through a link is tied to it (okra_payments.link_id) when
-- okra verifies it.
-----------------------------------------------------------------------------

CREATE TYPE @extschema@.okra_payment_link AS (
	link_id				text,
	url					text,
	surl				text,
	short_url			text,
	name				text,
	amount				bigint,
	currency			text,
	type				text,
	note				text,
	account				text,
	schedule_interval	text,
	start_date			date,
	end_date			date,
	created_at			timestamptz,
	response			jsonb
);
COMMENT ON TYPE @extschema@.okra_payment_link IS
	'A payment link okra_create_payment_link made; see README "Types".';
COMMENT ON COLUMN @extschema@.okra_payment_link.link_id IS
	'The link''s id (data._id), 24 hexadecimal characters.';
COMMENT ON COLUMN @extschema@.okra_payment_link.url IS
	'The page where the customer pays (data.url).';
COMMENT ON COLUMN @extschema@.okra_payment_link.surl IS
	'The same page''s short address (data.surl).';
COMMENT ON COLUMN @extschema@.okra_payment_link.short_url IS
	'The short code at the end of both (data.short_url).';
COMMENT ON COLUMN @extschema@.okra_payment_link.amount IS
	'Amount in kobo; NULL when the payer chooses it.';
COMMENT ON COLUMN @extschema@.okra_payment_link.type IS
	'one-time, or recurring (with schedule_interval).';
COMMENT ON COLUMN @extschema@.okra_payment_link.account IS
	'The account the link credits: the one given, or Okra''s default (the business account).';
COMMENT ON COLUMN @extschema@.okra_payment_link.start_date IS
	'The schedule''s first day as given; NULL lets Okra start on the day the link is made.';
COMMENT ON COLUMN @extschema@.okra_payment_link.created_at IS
	'When okra first got the link from Okra.';

CREATE TABLE @extschema@.okra_payment_links (
	link_id				text PRIMARY KEY CHECK (link_id ~ '^[0-9a-f]{24}$'),
	name				text NOT NULL,
	amount				bigint,
	currency			text NOT NULL,
	type				text NOT NULL CHECK (type IN ('one-time', 'recurring')),
	note				text,
	account				text,
	url					text,
	surl				text,
	short_url			text,
	schedule_interval	text,
	start_date			date,
	end_date			date,
	created_at			timestamptz NOT NULL,
	created_by			name NOT NULL,
	last_seen_at		timestamptz NOT NULL,
	response			jsonb NOT NULL
);
COMMENT ON TABLE @extschema@.okra_payment_links IS
	'One row per payment link okra_create_payment_link made (Okra answers the same link for the same details: last_seen_at moves); its payments are the okra_payments rows with its link_id.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.okra_payment_links', '');

COMMENT ON COLUMN @extschema@.okra_payments.link_id IS
	'The payment link it was paid through, as Okra''s answer names it when okra verifies the payment; NULL otherwise.';
CREATE INDEX okra_payments_link_idx ON @extschema@.okra_payments (link_id)
	WHERE link_id IS NOT NULL;

-- After Okra answered: the link's row, new or updated (the same details
-- give the same link), and the row okra_create_payment_link returns.
-- What was asked comes from the request, what Okra chose from the answer.
CREATE FUNCTION @extschema@.okra_ledger_link_record(request jsonb, response jsonb,
													role name, seen_at timestamptz)
RETURNS @extschema@.okra_payment_link
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d	jsonb := response -> 'data';
	l	@extschema@.okra_payment_links;
BEGIN
	INSERT INTO @extschema@.okra_payment_links AS t
		(link_id, name, amount, currency, type, note, account, url, surl, short_url,
		 schedule_interval, start_date, end_date, created_at, created_by,
		 last_seen_at, response)
	VALUES (lower(coalesce(d ->> '_id', d ->> 'id')), request ->> 'name',
			(request ->> 'amount')::bigint, request ->> 'currency', request ->> 'type',
			request ->> 'note', coalesce(request ->> 'account', d ->> 'account'),
			d ->> 'url', d ->> 'surl', d ->> 'short_url',
			request #>> '{schedule,interval}', (request #>> '{schedule,startDate}')::date,
			(request #>> '{schedule,endDate}')::date, seen_at, role, seen_at, response)
	ON CONFLICT (link_id) DO UPDATE SET
		url = excluded.url, surl = excluded.surl, short_url = excluded.short_url,
		last_seen_at = excluded.last_seen_at, response = excluded.response
	WHERE t.last_seen_at <= excluded.last_seen_at
	RETURNING * INTO l;
	IF NOT FOUND THEN
		-- a newer answer is already recorded: keep it, return this one
		SELECT * INTO STRICT l FROM @extschema@.okra_payment_links AS k
		 WHERE k.link_id = lower(coalesce(d ->> '_id', d ->> 'id'));
		l.url := d ->> 'url';
		l.surl := d ->> 'surl';
		l.short_url := d ->> 'short_url';
		l.response := response;
	END IF;
	RETURN ROW(l.link_id, l.url, l.surl, l.short_url, l.name, l.amount, l.currency,
			   l.type, l.note, l.account, l.schedule_interval, l.start_date, l.end_date,
			   l.created_at, l.response)::@extschema@.okra_payment_link;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_link_record(jsonb, jsonb, name, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_ledger_link_record(jsonb, jsonb, name, timestamptz) IS
	'Internal: records a payment link Okra answered; called by okra_create_payment_link only.';

CREATE FUNCTION @extschema@.okra_create_payment_link(name text, amount bigint,
													 currency text DEFAULT 'NGN',
													 note text DEFAULT NULL,
													 account text DEFAULT NULL,
													 schedule_interval text DEFAULT NULL,
													 start_date date DEFAULT NULL,
													 end_date date DEFAULT NULL,
													 success_url text DEFAULT NULL,
													 callback_url text DEFAULT NULL)
RETURNS @extschema@.okra_payment_link
AS 'MODULE_PATHNAME', 'okra_create_payment_link'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_create_payment_link(text, bigint, text, text, text, text, date, date, text, text) IS
	'Asks Okra for a payment link (pay/link/create): a fixed amount, or NULL for the payer to choose; recurring with schedule_interval; see README "Payment links".';
REVOKE ALL ON FUNCTION @extschema@.okra_create_payment_link(text, bigint, text, text, text, text, date, date, text, text) FROM PUBLIC;

-----------------------------------------------------------------------------
-- Authorizations: future and recurring payments (README "Authorizations:
-- future and recurring payments").  A customer gives an authorization in
-- Okra's widget; okra_initiate_authorized_payment schedules debits on it,
-- okra_cancel_authorization and okra_reauthorize stop and restore it, and
-- each keeps okra_authorizations up to date.  The lists write nothing.
-----------------------------------------------------------------------------

CREATE TYPE @extschema@.okra_authorization AS (
	authorization_id	text,
	customer_id			text,
	accounts			text[],
	link_id				text,
	status				text,
	cancelled_by		text,
	amount				bigint,
	initial_amount		bigint,
	currency			text,
	one_time			boolean,
	schedule_interval	text,
	start_date			date,
	end_date			date,
	disconnected		boolean,
	checked_at			timestamptz,
	response			jsonb
);
COMMENT ON TYPE @extschema@.okra_authorization IS
	'A customer''s authorization of future debits, as Okra returns it; see README "Types".';
COMMENT ON COLUMN @extschema@.okra_authorization.authorization_id IS
	'The authorization''s id (_id), 24 hexadecimal characters.';
COMMENT ON COLUMN @extschema@.okra_authorization.customer_id IS
	'The customer who gave it (customer).';
COMMENT ON COLUMN @extschema@.okra_authorization.accounts IS
	'The customer''s accounts it may debit (accounts).';
COMMENT ON COLUMN @extschema@.okra_authorization.link_id IS
	'The link it was given through (link).';
COMMENT ON COLUMN @extschema@.okra_authorization.status IS
	'active or cancelled (status).';
COMMENT ON COLUMN @extschema@.okra_authorization.cancelled_by IS
	'merchant or customer once cancelled, else NULL (cancelled_by); only one the merchant cancelled can be reauthorized.';
COMMENT ON COLUMN @extschema@.okra_authorization.amount IS
	'Each later debit, in kobo (amount); NULL until debits are scheduled.';
COMMENT ON COLUMN @extschema@.okra_authorization.initial_amount IS
	'The first debit, in kobo (initialAmount); NULL until debits are scheduled.';
COMMENT ON COLUMN @extschema@.okra_authorization.currency IS
	'Currency code, NGN.';
COMMENT ON COLUMN @extschema@.okra_authorization.one_time IS
	'True for a single future debit (oneTime).';
COMMENT ON COLUMN @extschema@.okra_authorization.schedule_interval IS
	'monthly, weekly or yearly (duration.interval); NULL for a one-time debit or none scheduled.';
COMMENT ON COLUMN @extschema@.okra_authorization.start_date IS
	'The day debits begin (duration.startDate, UTC).';
COMMENT ON COLUMN @extschema@.okra_authorization.end_date IS
	'The day debits end (duration.endDate, UTC); NULL: until cancelled.';
COMMENT ON COLUMN @extschema@.okra_authorization.disconnected IS
	'True once the customer withdrew it (disconnect).';
COMMENT ON COLUMN @extschema@.okra_authorization.checked_at IS
	'When the response arrived.';
COMMENT ON COLUMN @extschema@.okra_authorization.response IS
	'The whole response body; in a list, the authorization object.';

CREATE TABLE @extschema@.okra_authorizations (
	authorization_id	text PRIMARY KEY CHECK (authorization_id ~ '^[0-9a-f]{24}$'),
	customer_id			text,
	accounts			text[],
	link_id				text,
	status				text,
	cancelled_by		text,
	amount				bigint,
	initial_amount		bigint,
	currency			text,
	one_time			boolean,
	schedule_interval	text,
	start_date			date,
	end_date			date,
	disconnected		boolean,
	first_seen_at		timestamptz NOT NULL,
	last_seen_at		timestamptz NOT NULL,
	last_changed_at		timestamptz NOT NULL,
	response			jsonb NOT NULL
);
CREATE INDEX okra_authorizations_customer_idx ON @extschema@.okra_authorizations (customer_id);
COMMENT ON TABLE @extschema@.okra_authorizations IS
	'One row per authorization okra initiated, cancelled or reauthorized, with the latest state Okra answered; the lists do not write it.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.okra_authorizations', '');

-- After Okra answered one of the three calls: the authorization's latest
-- state.  last_changed_at moves only when something but the response did.
CREATE FUNCTION @extschema@.okra_ledger_authorization(a @extschema@.okra_authorization)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	INSERT INTO @extschema@.okra_authorizations AS t
		(authorization_id, customer_id, accounts, link_id, status, cancelled_by, amount,
		 initial_amount, currency, one_time, schedule_interval, start_date, end_date,
		 disconnected, first_seen_at, last_seen_at, last_changed_at, response)
	VALUES (a.authorization_id, a.customer_id, a.accounts, a.link_id, a.status,
			a.cancelled_by, a.amount, a.initial_amount, a.currency, a.one_time,
			a.schedule_interval, a.start_date, a.end_date, a.disconnected,
			a.checked_at, a.checked_at, a.checked_at, a.response)
	ON CONFLICT (authorization_id) DO UPDATE SET
		customer_id = excluded.customer_id, accounts = excluded.accounts,
		link_id = excluded.link_id, status = excluded.status,
		cancelled_by = excluded.cancelled_by, amount = excluded.amount,
		initial_amount = excluded.initial_amount, currency = excluded.currency,
		one_time = excluded.one_time, schedule_interval = excluded.schedule_interval,
		start_date = excluded.start_date, end_date = excluded.end_date,
		disconnected = excluded.disconnected,
		last_seen_at = excluded.last_seen_at,
		last_changed_at = CASE
			WHEN (t.customer_id, t.accounts, t.link_id, t.status, t.cancelled_by, t.amount,
				  t.initial_amount, t.currency, t.one_time, t.schedule_interval,
				  t.start_date, t.end_date, t.disconnected)
				 IS NOT DISTINCT FROM
				 (excluded.customer_id, excluded.accounts, excluded.link_id, excluded.status,
				  excluded.cancelled_by, excluded.amount, excluded.initial_amount,
				  excluded.currency, excluded.one_time, excluded.schedule_interval,
				  excluded.start_date, excluded.end_date, excluded.disconnected)
			THEN t.last_changed_at ELSE excluded.last_seen_at END,
		response = excluded.response
	WHERE t.last_seen_at <= excluded.last_seen_at
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_authorization(@extschema@.okra_authorization) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_ledger_authorization(@extschema@.okra_authorization) IS
	'Internal: records an authorization''s latest state in okra_authorizations; called by okra''s C functions only.';

CREATE FUNCTION @extschema@.okra_initiate_authorized_payment(authorization_id text, amount bigint,
															 initial_amount bigint, start_date date,
															 end_date date DEFAULT NULL,
															 schedule_interval text DEFAULT NULL,
															 one_time boolean DEFAULT false,
															 currency text DEFAULT 'NGN')
RETURNS @extschema@.okra_authorization
AS 'MODULE_PATHNAME', 'okra_initiate_authorized_payment'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_initiate_authorized_payment(text, bigint, bigint, date, date, text, boolean, text) IS
	'Schedules future debits on a customer''s authorization (pay/authorization/initiate): one-time, or every schedule_interval; see README "Authorizations: future and recurring payments".';
REVOKE ALL ON FUNCTION @extschema@.okra_initiate_authorized_payment(text, bigint, bigint, date, date, text, boolean, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_cancel_authorization(authorization_id text, customer_id text,
													  link_id text)
RETURNS @extschema@.okra_authorization
AS 'MODULE_PATHNAME', 'okra_cancel_authorization'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_cancel_authorization(text, text, text) IS
	'Cancels an authorization as the merchant (pay/authorization/cancel): no further debits; see README "Authorizations: future and recurring payments".';
REVOKE ALL ON FUNCTION @extschema@.okra_cancel_authorization(text, text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_reauthorize(authorization_id text, customer_id text,
											 link_id text, account_id text)
RETURNS @extschema@.okra_authorization
AS 'MODULE_PATHNAME', 'okra_reauthorize'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_reauthorize(text, text, text, text) IS
	'Restores an authorization the merchant cancelled (pay/authorization/reauth); see README "Authorizations: future and recurring payments".';
REVOKE ALL ON FUNCTION @extschema@.okra_reauthorize(text, text, text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_list_authorizations(page_size integer DEFAULT 50)
RETURNS SETOF @extschema@.okra_authorization
AS 'MODULE_PATHNAME', 'okra_list_authorizations'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 50;
COMMENT ON FUNCTION @extschema@.okra_list_authorizations(integer) IS
	'The merchant''s authorizations as Okra lists them (pay/authorization/list), newest first, a page of page_size at a time, asked for only as rows are needed; writes nothing.';
REVOKE ALL ON FUNCTION @extschema@.okra_list_authorizations(integer) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_customer_authorizations(customer_id text, page_size integer DEFAULT 50)
RETURNS SETOF @extschema@.okra_authorization
AS 'MODULE_PATHNAME', 'okra_customer_authorizations'
LANGUAGE C VOLATILE PARALLEL UNSAFE ROWS 50;
COMMENT ON FUNCTION @extschema@.okra_customer_authorizations(text, integer) IS
	'One customer''s authorizations as Okra lists them (pay/authorization/getByCustomer), a page of page_size at a time, asked for only as rows are needed; writes nothing.';
REVOKE ALL ON FUNCTION @extschema@.okra_customer_authorizations(text, integer) FROM PUBLIC;

-----------------------------------------------------------------------------
-- Bulk payments (README "Bulk payments"): okra_bulk_initiate sends many
-- debits in one bulkfiles/initiate upload, a CSV file okra writes from the
-- rows it is given, every row checked first.  The file, its rows and its
-- payments (due a check) are kept in the ledger.
-----------------------------------------------------------------------------

CREATE TYPE @extschema@.okra_bulk_payment AS (
	account_to_debit	text,
	account_to_credit	text,
	amount				bigint,
	currency			text,
	callback_url		text
);
COMMENT ON TYPE @extschema@.okra_bulk_payment IS
	'One row of a bulk payment file, as okra_bulk_initiate takes it; see README "Types".';
COMMENT ON COLUMN @extschema@.okra_bulk_payment.account_to_debit IS
	'The customer''s account debited, an Okra ObjectID.';
COMMENT ON COLUMN @extschema@.okra_bulk_payment.account_to_credit IS
	'The account credited, an Okra ObjectID.';
COMMENT ON COLUMN @extschema@.okra_bulk_payment.amount IS
	'Amount in kobo, positive.';
COMMENT ON COLUMN @extschema@.okra_bulk_payment.currency IS
	'Currency code: NGN.';
COMMENT ON COLUMN @extschema@.okra_bulk_payment.callback_url IS
	'Where Okra reports on the payment: an http or https URL, or NULL.';

CREATE TYPE @extschema@.okra_bulk_file AS (
	bulkfile_id		text,
	file_name		text,
	status			text,
	rows			integer,
	payment_ids		text[],
	total_amount	bigint,
	created_at		timestamptz,
	response		jsonb
);
COMMENT ON TYPE @extschema@.okra_bulk_file IS
	'A bulk payment file okra_bulk_initiate uploaded; see README "Types".';
COMMENT ON COLUMN @extschema@.okra_bulk_file.bulkfile_id IS
	'The file''s id (data.bulkfile._id).';
COMMENT ON COLUMN @extschema@.okra_bulk_file.status IS
	'The file''s status as Okra answered it (data.bulkfile.status).';
COMMENT ON COLUMN @extschema@.okra_bulk_file.rows IS
	'How many payments it holds.';
COMMENT ON COLUMN @extschema@.okra_bulk_file.payment_ids IS
	'The payments Okra created, one per row, in the order of the rows.';
COMMENT ON COLUMN @extschema@.okra_bulk_file.total_amount IS
	'The sum of the rows'' amounts, in kobo.';
COMMENT ON COLUMN @extschema@.okra_bulk_file.created_at IS
	'When Okra''s answer arrived.';
COMMENT ON COLUMN @extschema@.okra_bulk_file.response IS
	'The whole response body.';

CREATE TABLE @extschema@.okra_bulk_files (
	bulkfile_id		text PRIMARY KEY CHECK (bulkfile_id ~ '^[0-9a-f]{24}$'),
	file_name		text NOT NULL,
	status			text,
	rows			integer NOT NULL,
	total_amount	bigint NOT NULL,
	currency		text NOT NULL,
	created_at		timestamptz NOT NULL,
	created_by		name NOT NULL,
	response		jsonb NOT NULL
);
COMMENT ON TABLE @extschema@.okra_bulk_files IS
	'One row per bulk payment file okra_bulk_initiate uploaded; its rows are in okra_bulk_file_rows, its payments in okra_payments.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.okra_bulk_files', '');

CREATE TABLE @extschema@.okra_bulk_file_rows (
	bulkfile_id			text NOT NULL,
	position			integer NOT NULL CHECK (position > 0),
	account_to_debit	text NOT NULL,
	account_to_credit	text NOT NULL,
	amount				bigint NOT NULL,
	currency			text NOT NULL,
	callback_url		text,
	payment_id			text NOT NULL UNIQUE,
	PRIMARY KEY (bulkfile_id, position)
);
COMMENT ON TABLE @extschema@.okra_bulk_file_rows IS
	'One row per row of a bulk payment file (position from 1, in file order), with the payment Okra created for it.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.okra_bulk_file_rows', '');

-- After Okra answered: the file, its rows, and each payment in the ledger,
-- due a check now (the answer names the payments, not their status).
-- request is okra_bulk_initiate's description of the file.
CREATE FUNCTION @extschema@.okra_ledger_bulk_record(request jsonb, response jsonb, role name,
													created_at timestamptz)
RETURNS @extschema@.okra_bulk_file
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f		jsonb := coalesce(response #> '{data,bulkfile}', response #> '{data,data,bulkfile}');
	id		text := lower(coalesce(f ->> '_id', f ->> 'id'));
	total	bigint;
BEGIN
	INSERT INTO @extschema@.okra_bulk_file_rows
		(bulkfile_id, position, account_to_debit, account_to_credit, amount, currency,
		 callback_url, payment_id)
	SELECT id, r.n, r.x ->> 'account_to_debit', r.x ->> 'account_to_credit',
		   (r.x ->> 'amount')::bigint, r.x ->> 'currency', r.x ->> 'callback_url',
		   lower(f -> 'payments' ->> (r.n - 1)::integer)
	  FROM jsonb_array_elements(request -> 'rows') WITH ORDINALITY AS r(x, n);

	INSERT INTO @extschema@.okra_payments AS p
		(payment_id, amount, currency, env, first_seen_at, next_check_at)
	SELECT b.payment_id, b.amount, b.currency, f ->> 'env', created_at, created_at
	  FROM @extschema@.okra_bulk_file_rows AS b
	 WHERE b.bulkfile_id = id
	ON CONFLICT ON CONSTRAINT okra_payments_pkey DO NOTHING;

	SELECT sum(b.amount) INTO total FROM @extschema@.okra_bulk_file_rows AS b
	 WHERE b.bulkfile_id = id;
	INSERT INTO @extschema@.okra_bulk_files
		(bulkfile_id, file_name, status, rows, total_amount, currency, created_at,
		 created_by, response)
	VALUES (id, request ->> 'file_name', f ->> 'status',
			jsonb_array_length(request -> 'rows'), total, 'NGN', created_at, role, response);

	RETURN ROW(id, request ->> 'file_name', f ->> 'status',
			   jsonb_array_length(request -> 'rows'),
			   ARRAY(SELECT b.payment_id FROM @extschema@.okra_bulk_file_rows AS b
					  WHERE b.bulkfile_id = id ORDER BY b.position),
			   total, created_at, response)::@extschema@.okra_bulk_file;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_bulk_record(jsonb, jsonb, name, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_ledger_bulk_record(jsonb, jsonb, name, timestamptz) IS
	'Internal: records a bulk payment file Okra accepted, its rows and its payments (due a check); called by okra_bulk_initiate only.';

-- Before recording an answer: why the ledger cannot take it (the file, or
-- one of its payments, already in a bulk file), or NULL.  okra_bulk_initiate
-- raises OK011 with it rather than fail on the keys after Okra accepted.
CREATE FUNCTION @extschema@.okra_ledger_bulk_conflict(bulkfile_id text, payment_ids text[])
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(
		(SELECT format('Bulk file "%s" is already in okra_bulk_files.', f.bulkfile_id)
		   FROM @extschema@.okra_bulk_files AS f
		  WHERE f.bulkfile_id = $1),
		(SELECT format('Payment %s of bulk file "%s", "%s", is already row %s of bulk file "%s".',
					   p.n, $1, b.payment_id, b.position, b.bulkfile_id)
		   FROM unnest($2) WITH ORDINALITY AS p(id, n)
		   JOIN @extschema@.okra_bulk_file_rows AS b ON b.payment_id = p.id
		  ORDER BY p.n
		  LIMIT 1))
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_bulk_conflict(text, text[]) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_ledger_bulk_conflict(text, text[]) IS
	'Internal: why the ledger cannot record a bulk file Okra answered with (the file or a payment already in a bulk file), or NULL; called by okra_bulk_initiate only.';

CREATE FUNCTION @extschema@.okra_bulk_initiate(payments @extschema@.okra_bulk_payment[],
											   file_name text DEFAULT 'payments.csv')
RETURNS @extschema@.okra_bulk_file
AS 'MODULE_PATHNAME', 'okra_bulk_initiate'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_bulk_initiate(@extschema@.okra_bulk_payment[], text) IS
	'Asks Okra to make one payment per row (bulkfiles/initiate, a CSV upload), every row checked first; see README "Bulk payments".';
REVOKE ALL ON FUNCTION @extschema@.okra_bulk_initiate(@extschema@.okra_bulk_payment[], text) FROM PUBLIC;

-----------------------------------------------------------------------------
-- Scheduled verification (README "Scheduled verification"):
-- okra_verify_pending checks every payment that is due, in chunks it
-- commits one by one, through the internal functions below, which it calls
-- by OID like the ledger's (granted to nobody).
-----------------------------------------------------------------------------

CREATE TABLE @extschema@.okra_verification_runs (
	run_id			bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	started_at		timestamptz NOT NULL,
	finished_at		timestamptz,
	max_payments	integer NOT NULL,
	concurrency		integer NOT NULL,
	checked			integer NOT NULL DEFAULT 0,
	changed			integer NOT NULL DEFAULT 0,
	unchanged		integer NOT NULL DEFAULT 0,
	failed			integer NOT NULL DEFAULT 0,
	rate_limited	integer NOT NULL DEFAULT 0,
	stale			integer NOT NULL DEFAULT 0,
	paused_until	timestamptz,
	role			name NOT NULL
);
CREATE INDEX okra_verification_runs_started_idx ON @extschema@.okra_verification_runs (started_at);
COMMENT ON TABLE @extschema@.okra_verification_runs IS
	'One row per okra_verify_pending run, updated as each chunk commits; finished_at NULL: still running, or cut short.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.okra_verification_runs', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.okra_verification_runs', 'run_id'), '');

-- A run starts: its row, unless a 429 paused scheduled work, which a row
-- that is already finished then records.
CREATE FUNCTION @extschema@.okra_verify_run_begin(max_payments integer, concurrency integer,
												  role name,
												  OUT run_id bigint, OUT paused_until timestamptz)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	SELECT max(r.paused_until) INTO paused_until
	  FROM @extschema@.okra_verification_runs AS r
	 WHERE r.paused_until > now();
	INSERT INTO @extschema@.okra_verification_runs AS r
		(started_at, finished_at, max_payments, concurrency, paused_until, role)
	VALUES (now(), CASE WHEN paused_until IS NOT NULL THEN now() END,
			max_payments, concurrency, paused_until, role)
	RETURNING r.run_id INTO run_id;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_verify_run_begin(integer, integer, name) FROM PUBLIC;

-- The next chunk: first mark stale what is due but older than stale_after
-- (0: never), then lock up to n due payments, most overdue first, skipping
-- those another run holds.  The locks last until the chunk commits.
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

-- A claimed payment its run never sent (after a 429): due again now.
CREATE FUNCTION @extschema@.okra_verify_unclaim(payment_id text)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE @extschema@.okra_payments AS t SET next_check_at = now()
	 WHERE t.payment_id = okra_verify_unclaim.payment_id AND NOT t.terminal
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_verify_unclaim(text) FROM PUBLIC;

-- A check that failed: the call, and the payment's error and backoff.  A
-- 429 is not the payment's doing: it stays due.  OK006 is Okra's definite
-- answer that the payment does not exist: it is marked stale at once
-- (no next check; last_error says why) instead of being re-checked until
-- okra.stale_after.
CREATE FUNCTION @extschema@.okra_ledger_check_failed(payment_id text, endpoint text,
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
REVOKE ALL ON FUNCTION @extschema@.okra_ledger_check_failed(text, text, text, integer, text, text, timestamptz, timestamptz, name) FROM PUBLIC;

-- A chunk committed (finished: the run is over, and says so).  A 429
-- pauses scheduled work for Okra's 60-second window.
CREATE FUNCTION @extschema@.okra_verify_run_progress(run bigint, n_changed integer,
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
REVOKE ALL ON FUNCTION @extschema@.okra_verify_run_progress(bigint, integer, integer, integer, integer, boolean) FROM PUBLIC;

CREATE PROCEDURE @extschema@.okra_verify_pending(max_payments integer DEFAULT 500,
												 concurrency integer DEFAULT 8)
AS 'MODULE_PATHNAME', 'okra_verify_pending'
LANGUAGE C;
COMMENT ON PROCEDURE @extschema@.okra_verify_pending(integer, integer) IS
	'Verifies up to max_payments due payments, concurrency at a time, committing chunk by chunk; see README "Scheduled verification".';
REVOKE ALL ON PROCEDURE @extschema@.okra_verify_pending(integer, integer) FROM PUBLIC;

-- pg_cron, when it is installed in this database (its cron.database_name).
-- Not SECURITY DEFINER: the job is the calling role's, and runs as it.
CREATE FUNCTION @extschema@.okra_schedule_verification(schedule text DEFAULT '* * * * *',
													   max_payments integer DEFAULT 500)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	job			bigint;
BEGIN
	-- pg_cron's objects are always in schema cron; called dynamically, so
	-- that this function exists without pg_cron
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
		RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
			USING ERRCODE = '55000',
				  HINT = 'Install pg_cron (shared_preload_libraries = ''pg_cron'', then CREATE EXTENSION pg_cron) in the database cron.database_name names, or schedule from there with cron.schedule_in_database(); see README "Scheduled verification".';
	END IF;
	IF max_payments IS NULL OR max_payments < 1 THEN
		RAISE EXCEPTION 'invalid max_payments: %', coalesce(max_payments::text, 'NULL')
			USING ERRCODE = '22023', DETAIL = 'max_payments must be at least 1.';
	END IF;
	EXECUTE 'SELECT cron.schedule($1, $2, $3)'
	   INTO STRICT job
	  USING 'okra-verify-pending', schedule,
			format('CALL %I.okra_verify_pending(%s)', '@extschema@', max_payments);
	RETURN job;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_schedule_verification(text, integer) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_schedule_verification(text, integer) IS
	'Creates or updates the pg_cron job "okra-verify-pending" that calls okra_verify_pending; returns its job id.';

CREATE FUNCTION @extschema@.okra_unschedule_verification()
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
	found_job	boolean;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
		RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
			USING ERRCODE = '55000',
				  HINT = 'Nothing can be scheduled here without pg_cron; see README "Scheduled verification".';
	END IF;
	EXECUTE 'SELECT EXISTS (SELECT FROM cron.job WHERE jobname = $1 AND username = current_user)'
	   INTO found_job USING 'okra-verify-pending';
	IF found_job THEN
		EXECUTE 'SELECT cron.unschedule($1)' USING 'okra-verify-pending';
	END IF;
	RETURN found_job;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_unschedule_verification() FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_unschedule_verification() IS
	'Removes the calling role''s pg_cron job "okra-verify-pending"; false if there was none.';

-----------------------------------------------------------------------------
-- The outbox (README "Refunds after commit"): refunds and cancels recorded
-- in the caller's transaction and sent only once it has committed, by the
-- background worker (okra preloaded) or CALL okra_outbox_run().
-----------------------------------------------------------------------------

CREATE TABLE @extschema@.okra_outbox_requests (
	request_id		bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	kind			text NOT NULL CHECK (kind IN ('refund', 'cancel', 'initiate', 'payout')),
	payment_id		text CHECK (payment_id ~ '^[0-9a-f]{24}$'),
	amount			bigint CHECK (amount > 0),
	reason			text,
	account			text CHECK (account ~ '^[0-9a-f]{24}$'),
	state			text NOT NULL DEFAULT 'queued'
					CHECK (state IN ('queued', 'sending', 'succeeded', 'failed', 'unknown')),
	-- a queued request that was sent before with no answer, which Okra has
	-- since shown to be safe to send again
	resend			boolean NOT NULL DEFAULT false,
	attempts		integer NOT NULL DEFAULT 0,
	next_attempt_at	timestamptz DEFAULT now(),
	lease_until		timestamptz,
	created_at		timestamptz NOT NULL DEFAULT now(),
	created_by		name NOT NULL,
	last_attempt_at	timestamptz,
	finished_at		timestamptz,
	http_status		integer,
	sqlstate		text,
	last_error		text,
	refund_id		text,
	response		jsonb,
	-- sent as Idempotency-Key on every attempt: stored, so the same after a
	-- restore, a failover or pg_upgrade
	idempotency_key	text NOT NULL UNIQUE DEFAULT ('okra-' || pg_catalog.gen_random_uuid()),
	-- an initiate's or a payout's: its request body (checked when queued),
	-- the merchant's reference, and the payment or payout it created
	body			jsonb,
	reference		text,
	created_id		text,
	CONSTRAINT okra_outbox_requests_payment_check
		CHECK (kind IN ('initiate', 'payout') OR payment_id IS NOT NULL)
);
CREATE INDEX okra_outbox_due_idx ON @extschema@.okra_outbox_requests (next_attempt_at)
	WHERE state IN ('queued', 'unknown');
CREATE INDEX okra_outbox_payment_idx ON @extschema@.okra_outbox_requests (payment_id);
-- a reference has one initiate (one payout) in flight at a time
CREATE UNIQUE INDEX okra_outbox_reference_idx ON @extschema@.okra_outbox_requests (kind, reference)
	WHERE reference IS NOT NULL AND state IN ('queued', 'sending', 'unknown');
COMMENT ON TABLE @extschema@.okra_outbox_requests IS
	'One row per refund, cancel, initiate or payout requested with an okra_..._after_commit function, and its state.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.okra_outbox_requests', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.okra_outbox_requests', 'request_id'), '');

-- The journal: every synchronous money-moving call (okra_refund,
-- okra_cancel, okra_request to an endpoint that may move money).  Its
-- intent is written, by the okra worker of the database in a transaction
-- of its own committed durably, before the request is sent; its outcome
-- after.  So it stays whatever the caller's transaction does, and a call
-- cut short by a crash or a FATAL exit leaves an intent with no outcome
-- (README "The journal").
CREATE TABLE @extschema@.okra_journal (
	journal_id		bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	call_key		text NOT NULL UNIQUE,
	called_at		timestamptz NOT NULL,
	endpoint		text NOT NULL,
	payment_id		text,
	amount			bigint,
	role			name NOT NULL,
	journaled_at	timestamptz NOT NULL,
	-- NULL while in flight (or if the caller died); unknown: may have
	-- happened; failed: surely did not happen
	outcome			text CHECK (outcome IN ('succeeded', 'failed', 'unknown')),
	finished_at		timestamptz,
	refund_id		text,
	sqlstate		text,
	http_status		integer,
	message			text,
	settled_at		timestamptz,
	settled_by		name,
	-- the merchant's reference of a payment it initiated, and what a call
	-- created (a refund's id, an initiated payment's)
	reference		text,
	created_id		text
);
CREATE INDEX okra_journal_payment_idx ON @extschema@.okra_journal (payment_id);
CREATE INDEX okra_journal_reference_idx ON @extschema@.okra_journal (reference)
	WHERE reference IS NOT NULL;
CREATE INDEX okra_journal_unsettled_idx ON @extschema@.okra_journal (payment_id)
	WHERE outcome IS NULL OR outcome = 'unknown';
COMMENT ON TABLE @extschema@.okra_journal IS
	'One row per synchronous money-moving call: its intent, written before it was sent, and its outcome; kept whatever the caller''s transaction did.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.okra_journal', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.okra_journal', 'journal_id'), '');

-- The worker's writes (journal.c), each called by OID.
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

-- The first refund of a payment whose outcome is not known (in flight, cut
-- short, or unknown), or NULL.  STABLE: okra_refund reads it with the
-- latest snapshot it pushes (journal.c).
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

-- A person's verdict on a journaled call whose outcome is not known.
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
REVOKE ALL ON FUNCTION @extschema@.okra_journal_resolve(bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_journal_resolve(bigint, text, text) IS
	'Settles a journaled call whose outcome is unknown as succeeded or failed, after checking with Okra.';

-- Per payment, the refunds that may still happen or may have happened but
-- are not in refunded_amount: they count against what remains.  The one
-- definition okra_ledger_guard_refund and okra_refundable both read (a
-- view, so that okra_refundable needs no EXECUTE grant and the guard's
-- payment_id reaches the index).  amount: the sum of those with an
-- amount; full_refund: one of them refunds whatever remains.
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

CREATE FUNCTION @extschema@.okra_outbox_wake()
RETURNS void
AS 'MODULE_PATHNAME', 'okra_outbox_wake'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION @extschema@.okra_outbox_wake() FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_outbox_wake() IS
	'Internal: wakes the outbox worker when the calling transaction commits.';

-- Both after-commit functions check their arguments like okra_refund and
-- okra_cancel, take the payment's ledger lock (so that concurrent requests
-- for one payment queue up) and queue the request.
CREATE FUNCTION @extschema@.okra_refund_after_commit(payment_id text,
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
REVOKE ALL ON FUNCTION @extschema@.okra_refund_after_commit(text, bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_refund_after_commit(text, bigint, text, text) IS
	'Queues a refund to be sent once the calling transaction commits, after okra_refund''s local checks; returns its request id.';

CREATE FUNCTION @extschema@.okra_cancel_after_commit(payment_id text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id		text := @extschema@.okra_object_id(payment_id, 'payment_id', 'payment');
	req		bigint;
BEGIN
	PERFORM @extschema@.okra_ledger_lock_payment(id);
	INSERT INTO @extschema@.okra_outbox_requests (kind, payment_id, created_by)
	VALUES ('cancel', id, session_user)
	RETURNING request_id INTO req;
	PERFORM @extschema@.okra_outbox_wake();
	RETURN req;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_cancel_after_commit(text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_cancel_after_commit(text) IS
	'Queues a cancel to be sent once the calling transaction commits; returns its request id.';

-- Initiates and payouts after commit (README "Collecting payments"): the C
-- functions check the arguments as the synchronous calls do, take the
-- reference's lock, and, with the latest snapshot, find a request the
-- reference already queued (returned again: nothing is queued twice) or a
-- payment it already made (refused), before they queue the request.
CREATE FUNCTION @extschema@.okra_outbox_reference_request(kind text, reference text)
RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	SELECT min(o.request_id) FROM @extschema@.okra_outbox_requests AS o
	 WHERE o.kind = okra_outbox_reference_request.kind
	   AND o.reference = okra_outbox_reference_request.reference AND o.state <> 'failed'
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_outbox_reference_request(text, text) FROM PUBLIC;

-- For okra_initiate_payment and okra_payout (okra_ledger_initiation,
-- okra_ledger_payout_reference), with the latest snapshot: refuse a
-- reference an after-commit request holds.  Queued or sending: 55000, wait
-- for it.  Unknown: OK012 until a person settles it.  Succeeded with
-- nothing in the ledger (a person settled it so): OK013.
CREATE FUNCTION @extschema@.okra_outbox_reference_check(kind text, reference text)
RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o		@extschema@.okra_outbox_requests;
	what	text := CASE WHEN kind = 'payout' THEN 'payout' ELSE 'payment' END;
	made	text := CASE WHEN kind = 'payout' THEN 'made a payout' ELSE 'initiated a payment' END;
	look	text := CASE WHEN kind = 'payout' THEN 'the Dashboard lists payouts' ELSE 'okra_customer_payments' END;
BEGIN
	SELECT * INTO o FROM @extschema@.okra_outbox_requests AS t
	 WHERE t.request_id = @extschema@.okra_outbox_reference_request(okra_outbox_reference_check.kind,
																	  okra_outbox_reference_check.reference);
	IF NOT FOUND THEN
		RETURN;
	ELSIF o.state = 'unknown' THEN
		RAISE EXCEPTION 'a % with reference "%" has an unknown outcome', what, reference
			USING ERRCODE = 'OK012',
				  DETAIL = format('Outbox request %s was sent with no definite answer, so Okra may have %s. Nothing was sent to Okra.', o.request_id, made),
				  HINT = format('Check with Okra (%s), then settle it with okra_outbox_resolve(%s, ''succeeded'') or okra_outbox_resolve(%s, ''failed'').',
								look, o.request_id, o.request_id);
	ELSIF o.state = 'succeeded' THEN
		RAISE EXCEPTION 'reference "%" already %', reference, made
			USING ERRCODE = 'OK013',
				  DETAIL = format('Outbox request %s %s, but the ledger does not have it (a person settled its unknown outcome as succeeded). Nothing was sent to Okra.', o.request_id, made),
				  HINT = format('The reference stays refused, so that it does not pay twice: find the %s with Okra and add it to the ledger (%s).',
								what, CASE WHEN kind = 'payout' THEN 'okra_get_payout' ELSE 'okra_track' END);
	END IF;
	RAISE EXCEPTION 'reference "%" is queued to be sent after commit', reference
		USING ERRCODE = '55000',
			  DETAIL = format('Outbox request %s (%s) will send it. Nothing was sent to Okra.', o.request_id, o.state),
			  HINT = format('Wait for it with okra_outbox_wait(%s), then call again to read its %s.', o.request_id, what);
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_outbox_reference_check(text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_outbox_queue(kind text, body jsonb, amount bigint, reference text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	req		bigint;
BEGIN
	INSERT INTO @extschema@.okra_outbox_requests (kind, amount, body, reference, created_by)
	VALUES (kind, amount, body, reference, session_user)
	RETURNING request_id INTO req;
	PERFORM @extschema@.okra_outbox_wake();
	RETURN req;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_outbox_queue(text, jsonb, bigint, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_initiate_payment_after_commit(account_to_debit text, amount bigint,
															   currency text DEFAULT 'NGN',
															   account_to_credit text DEFAULT NULL,
															   reference text DEFAULT NULL,
															   schedule_interval text DEFAULT NULL,
															   start_date date DEFAULT NULL,
															   end_date date DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'okra_initiate_payment_after_commit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_initiate_payment_after_commit(text, bigint, text, text, text, text, date, date) IS
	'Queues okra_initiate_payment''s request to be sent once the calling transaction commits, after its checks; returns its request id (the same one again for a reference already queued).';
REVOKE ALL ON FUNCTION @extschema@.okra_initiate_payment_after_commit(text, bigint, text, text, text, text, date, date) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_payout_after_commit(amount bigint,
													 account_to_credit text DEFAULT NULL,
													 nuban text DEFAULT NULL,
													 bank text DEFAULT NULL,
													 currency text DEFAULT 'NGN',
													 reference text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'okra_payout_after_commit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_payout_after_commit(bigint, text, text, text, text, text) IS
	'Queues okra_payout''s request to be sent once the calling transaction commits, after its checks; returns its request id (the same one again for a reference already queued).';
REVOKE ALL ON FUNCTION @extschema@.okra_payout_after_commit(bigint, text, text, text, text, text) FROM PUBLIC;

-- The sender's next batch.  First, a request still "sending" after its
-- lease may have been sent by a sender that died: unknown.  Then up to n
-- requests that are due, locked and marked sending in one statement: queued
-- ones are sent ('send'), unknown ones are checked ('check').
CREATE TYPE @extschema@.okra_outbox_claimed AS (
	request_id bigint, mode text, kind text, payment_id text, amount bigint,
	reason text, account text, attempt integer, resend boolean,
	idempotency_key text, body text
);
CREATE FUNCTION @extschema@.okra_outbox_claim(n integer, lease interval)
RETURNS @extschema@.okra_outbox_claimed[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	claimed	@extschema@.okra_outbox_claimed[];
BEGIN
	-- (an initiate or a payout cannot be checked: a person settles it)
	UPDATE @extschema@.okra_outbox_requests AS o
	   SET state = 'unknown', lease_until = NULL,
		   next_attempt_at = CASE WHEN o.kind IN ('initiate', 'payout') THEN NULL ELSE now() END,
		   last_error = 'the sender stopped while the request was in flight'
	 WHERE o.state = 'sending' AND o.lease_until < now();
	WITH c AS (
		UPDATE @extschema@.okra_outbox_requests AS o
		   SET state = 'sending', attempts = o.attempts + 1, lease_until = now() + lease,
			   last_attempt_at = now()
		  FROM (SELECT q.request_id, q.state FROM @extschema@.okra_outbox_requests AS q
				 WHERE q.state IN ('queued', 'unknown') AND q.next_attempt_at <= now()
				   -- an unknown initiate or payout is never checked: a person settles it
				   AND (q.state = 'queued' OR q.kind IN ('refund', 'cancel'))
				 ORDER BY q.next_attempt_at, q.request_id
				 LIMIT n FOR UPDATE SKIP LOCKED) AS due
		 WHERE o.request_id = due.request_id
		RETURNING o.request_id, CASE WHEN due.state = 'queued' THEN 'send' ELSE 'check' END AS mode,
				  o.kind, o.payment_id, o.amount, o.reason, o.account, o.attempts, o.resend,
				  o.idempotency_key, o.body::text)
	SELECT array_agg(ROW(c.*)::@extschema@.okra_outbox_claimed ORDER BY c.request_id)
	  INTO claimed FROM c;
	RETURN coalesce(claimed, '{}');
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_outbox_claim(integer, interval) FROM PUBLIC;

-- An initiate or a payout Okra answered success: the request succeeded,
-- and the payment or payout it created joins the ledger, under the
-- request's reference.  An answer that names no valid id leaves it
-- unknown, for a person.  A late answer (its claim ran out, a person
-- settled it as failed) may find its reference used again meanwhile: what
-- it made is recorded without the reference, and a WARNING and the
-- request's last_error say that the customer may have been charged (or
-- paid) twice.
CREATE FUNCTION @extschema@.okra_outbox_created(o @extschema@.okra_outbox_requests, request text,
												http_status integer, started_at timestamptz,
												finished_at timestamptz, response jsonb)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	obj		jsonb := response #> ARRAY['data', CASE WHEN o.kind = 'payout' THEN 'payout' ELSE 'payment' END];
	id		text := lower(coalesce(obj ->> '_id', obj ->> 'id'));
	kept_ref	text := o.reference;
	note	text;
BEGIN
	IF id IS NULL OR id !~ '^[0-9a-f]{24}$' THEN
		UPDATE @extschema@.okra_outbox_requests AS t SET
			state = 'unknown', lease_until = NULL, next_attempt_at = NULL,
			http_status = okra_outbox_created.http_status, sqlstate = 'OK011',
			last_error = 'Okra answered success without a valid id of what it created; check with Okra and settle it with okra_outbox_resolve()',
			response = okra_outbox_created.response
		 WHERE t.request_id = o.request_id;
		RETURN 'unknown';
	END IF;
	IF kept_ref IS NOT NULL AND (
		EXISTS (SELECT 1 FROM @extschema@.okra_outbox_requests AS t
				 WHERE t.kind = o.kind AND t.reference = kept_ref AND t.request_id <> o.request_id
				   AND t.state <> 'failed')
		OR (o.kind = 'initiate' AND EXISTS (SELECT 1 FROM @extschema@.okra_initiations AS i
											 WHERE i.reference = kept_ref AND i.payment_id <> id))
		OR (o.kind = 'payout' AND EXISTS (SELECT 1 FROM @extschema@.okra_payouts AS p
										   WHERE p.reference = kept_ref AND p.payout_id <> id))) THEN
		note := format('reference "%s" was used again before this answer came: %s %s is recorded without it; check with Okra for a second %s',
					   kept_ref, CASE WHEN o.kind = 'payout' THEN 'payout' ELSE 'payment' END, id,
					   CASE WHEN o.kind = 'payout' THEN 'payout' ELSE 'payment' END);
		RAISE WARNING 'okra outbox request %: %', o.request_id, note;
		kept_ref := NULL;
	END IF;
	UPDATE @extschema@.okra_outbox_requests AS t SET
		state = 'succeeded', lease_until = NULL, next_attempt_at = NULL,
		finished_at = clock_timestamp(), http_status = okra_outbox_created.http_status,
		sqlstate = NULL, last_error = note, created_id = id,
		response = okra_outbox_created.response
	 WHERE t.request_id = o.request_id;
	PERFORM @extschema@.okra_ledger_record('pay/' || o.kind, request, http_status, started_at,
										   finished_at, o.created_by, NULL, NULL, false, response);
	-- (okra_get_payment or okra_get_payout may have recorded it first)
	IF o.kind = 'initiate' THEN
		IF NOT EXISTS (SELECT 1 FROM @extschema@.okra_initiations AS i WHERE i.payment_id = id) THEN
			PERFORM @extschema@.okra_ledger_initiation_record(kept_ref, o.body, response,
															  o.created_by, finished_at);
		END IF;
	ELSIF EXISTS (SELECT 1 FROM @extschema@.okra_payouts AS p WHERE p.payout_id = id) THEN
		UPDATE @extschema@.okra_payouts AS p SET reference = kept_ref
		 WHERE p.payout_id = id AND p.reference IS NULL;
	ELSE
		PERFORM @extschema@.okra_ledger_payout_record(kept_ref, o.body, response,
													  o.created_by, finished_at);
	END IF;
	RETURN 'succeeded';
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_outbox_created(@extschema@.okra_outbox_requests, text, integer, timestamptz, timestamptz, jsonb) FROM PUBLIC;

-- The outcome of one attempt, if the request is still this attempt's
-- (compare-and-set on state and attempts): the next state, and the ledger.
-- mode 'send': the refund or cancel itself; 'check': pay/verify of the
-- payment of an unknown request.  sqlstate NULL: Okra answered success
-- (refund or payment holds the answer).  Returns the new state, or NULL
-- when the attempt was no longer current.
CREATE FUNCTION @extschema@.okra_outbox_finish(req bigint, attempt integer, mode text,
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
		IF mode = 'send' AND okra_outbox_finish.sqlstate IS NULL AND attempt <= o.attempts
		   AND o.kind IN ('initiate', 'payout') AND o.state <> 'succeeded' THEN
			RAISE LOG 'okra outbox request % (attempt %) answered after its claim ran out: it succeeded (it was %)',
				req, attempt, o.state;
			RETURN @extschema@.okra_outbox_created(o, request, http_status, started_at, finished_at, response);
		END IF;
		RETURN NULL;
	END IF;
	-- 08001 surely never reached Okra, a 429 was refused: back off, retry
	retry := CASE WHEN okra_outbox_finish.sqlstate = 'OK008' THEN interval '60 seconds'
			 ELSE least(interval '1 second' * power(2, least(attempt, 12)), interval '10 minutes') END;

	IF o.kind IN ('initiate', 'payout') THEN
		-- what a lost initiate or payout created cannot be looked up from
		-- the request: an unknown outcome waits for a person, never resent
		IF okra_outbox_finish.sqlstate IS NULL THEN
			RETURN @extschema@.okra_outbox_created(o, request, http_status, started_at, finished_at, response);
		ELSIF okra_outbox_finish.sqlstate IN ('08001', 'OK008') THEN
			new_state := CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'queued' END;
		ELSIF okra_outbox_finish.sqlstate IN ('OK010', 'OK011') THEN
			new_state := 'unknown';
			why := why || ' (outcome unknown: Okra cannot be asked what this request created; check with Okra and settle it with okra_outbox_resolve())';
		ELSE
			new_state := 'failed';		-- Okra refused it: never sent again
		END IF;
	ELSIF mode = 'send' THEN
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
			WHEN new_state = 'unknown' AND o.kind IN ('initiate', 'payout') THEN NULL
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
REVOKE ALL ON FUNCTION @extschema@.okra_outbox_finish(bigint, integer, text, text, text, integer, timestamptz, timestamptz, text, @extschema@.okra_refund, @extschema@.okra_payment, jsonb, integer, boolean) FROM PUBLIC;

-- A claimed request its sender never started (no time left under the
-- claim): back to the queue, as if not claimed.
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

CREATE PROCEDURE @extschema@.okra_outbox_run(max_requests integer DEFAULT 1000)
AS 'MODULE_PATHNAME', 'okra_outbox_run'
LANGUAGE C;
REVOKE ALL ON PROCEDURE @extschema@.okra_outbox_run(integer) FROM PUBLIC;
COMMENT ON PROCEDURE @extschema@.okra_outbox_run(integer) IS
	'Sends what the outbox holds, as the background worker does, committing after each step; see README "Refunds after commit".';

-- A person's verdict on a request whose outcome Okra cannot tell.
CREATE FUNCTION @extschema@.okra_outbox_resolve(request_id bigint, outcome text, note text DEFAULT NULL)
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
REVOKE ALL ON FUNCTION @extschema@.okra_outbox_resolve(bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_outbox_resolve(bigint, text, text) IS
	'Settles an outbox request in state unknown as succeeded or failed, after checking with Okra.';

-- Waits (after the enqueuing transaction committed) until the request is
-- final or the timeout passes; returns its state then.  A NULL argument is
-- refused (22023): a NULL timeout would wait until statement_timeout.
CREATE FUNCTION @extschema@.okra_outbox_wait(request_id bigint, timeout interval DEFAULT '30 seconds')
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
REVOKE ALL ON FUNCTION @extschema@.okra_outbox_wait(bigint, interval) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_outbox_wait(bigint, interval) IS
	'Waits until an outbox request is succeeded or failed, or the timeout passes, and returns its state.';

CREATE VIEW @extschema@.okra_outbox AS
SELECT state, count(*) AS requests, min(created_at) AS oldest,
	   max(now() - created_at) AS max_age, sum(attempts) AS attempts,
	   count(*) FILTER (WHERE state = 'unknown' AND next_attempt_at IS NULL) AS need_a_person
  FROM @extschema@.okra_outbox_requests
 GROUP BY state;
COMMENT ON VIEW @extschema@.okra_outbox IS
	'Per state: how many outbox requests, the oldest, attempts, and unknowns that need a person (okra_outbox_resolve).';

CREATE FUNCTION @extschema@.okra_outbox_worker_state(OUT running boolean, OUT pid integer,
													 OUT database text, OUT preloaded boolean,
													 OUT key_configured boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'okra_outbox_worker_state'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION @extschema@.okra_outbox_worker_state() FROM PUBLIC;

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

CREATE FUNCTION @extschema@.okra_prune_api_calls(older_than interval DEFAULT '90 days')
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
REVOKE ALL ON FUNCTION @extschema@.okra_prune_api_calls(interval) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_prune_api_calls(interval) IS
	'Deletes okra_api_calls and okra_verification_runs rows older than the interval and returns how many calls it deleted; the other ledger tables are kept.';

-----------------------------------------------------------------------------
-- Reports (README "Reports").  Read access is granted separately from the
-- functions: see README "Granting roles".
-----------------------------------------------------------------------------

-- Per day and currency, built on okra_status_changes only.  The function
-- takes a range of days (NULL: open-ended) that its index serves; the view
-- is all of history.  refund_rate = (refund_amount - refund_failed_amount)
-- / succeeded_amount, all three of that day: the share of the day's
-- collected money that went back, so net_amount = succeeded_amount *
-- (1 - refund_rate); NULL on a day with no succeeded payment.
CREATE FUNCTION @extschema@.okra_daily_summary(since date, until date DEFAULT NULL)
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
REVOKE ALL ON FUNCTION @extschema@.okra_daily_summary(date, date) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_daily_summary(date, date) IS
	'okra_daily_summary for the days from since to until (inclusive, session time zone; NULL is open-ended).';

CREATE VIEW @extschema@.okra_daily_summary AS
SELECT * FROM @extschema@.okra_daily_summary(NULL, NULL);
COMMENT ON VIEW @extschema@.okra_daily_summary IS
	'Per day (session time zone) and currency: payments by outcome, refunds issued and failed, net collected, refund rate.';

-- Money in and out per day and currency, built on okra_status_changes
-- only, like okra_daily_summary: collected (payments that succeeded),
-- refunded (refunds issued, less those that failed), paid out (payouts
-- issued, less those that failed, whose amount went back) and the fees of
-- those payouts, in kobo (Okra gives a fee in naira: 10.75 on a NGN 100
-- payout); money_out = refunded + paid_out + payout_fees, net = collected
-- - money_out.  A failure counts on the day it became known.
CREATE FUNCTION @extschema@.okra_money_flow(since date, until date DEFAULT NULL)
RETURNS TABLE (day date, currency text, collected numeric, refunded numeric,
			   paid_out numeric, payout_fees numeric, money_out numeric, net numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
	SELECT day, currency, collected, refunded, paid_out, payout_fees,
		   refunded + paid_out + payout_fees,
		   collected - (refunded + paid_out + payout_fees)
	  FROM (SELECT changed_at::date AS day, currency,
				   coalesce(sum(amount) FILTER (WHERE object_type = 'payment' AND outcome = 'succeeded'), 0) AS collected,
				   coalesce(sum(amount) FILTER (WHERE object_type = 'refund' AND outcome = 'issued'), 0)
				   - coalesce(sum(amount) FILTER (WHERE object_type = 'refund' AND outcome = 'failed'), 0) AS refunded,
				   coalesce(sum(amount) FILTER (WHERE object_type = 'payout' AND outcome = 'issued'), 0)
				   - coalesce(sum(amount) FILTER (WHERE object_type = 'payout' AND outcome = 'failed'), 0) AS paid_out,
				   100 * (coalesce(sum(fee) FILTER (WHERE object_type = 'payout' AND outcome = 'issued'), 0)
						  - coalesce(sum(fee) FILTER (WHERE object_type = 'payout' AND outcome = 'failed'), 0)) AS payout_fees
			  FROM @extschema@.okra_status_changes
			 WHERE outcome IS NOT NULL
			   AND changed_at >= coalesce(since::timestamptz, '-infinity')
			   AND changed_at < coalesce((until + 1)::timestamptz, 'infinity')
			 GROUP BY 1, 2) AS per_day
	 WHERE collected <> 0 OR refunded <> 0 OR paid_out <> 0 OR payout_fees <> 0
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_money_flow(date, date) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.okra_money_flow(date, date) IS
	'okra_money_flow for the days from since to until (inclusive, session time zone; NULL is open-ended).';

CREATE VIEW @extschema@.okra_money_flow AS
SELECT * FROM @extschema@.okra_money_flow(NULL, NULL);
COMMENT ON VIEW @extschema@.okra_money_flow IS
	'Per day (session time zone) and currency: collected, refunded, paid out, payout fees, money out and net, in kobo.';

-- remaining is what okra_refund's guard allows: refunds not yet final
-- (okra_refund_reservations) are reserved, a queued full refund all of it.
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

CREATE VIEW @extschema@.okra_pending AS
SELECT payment_id, status, amount, currency, customer_id, first_seen_at,
	   now() - first_seen_at AS age, last_checked_at,
	   now() - last_checked_at AS since_last_check, next_check_at, check_count,
	   failed_checks, last_error, stale_at
  FROM @extschema@.okra_payments
 WHERE NOT terminal;
COMMENT ON VIEW @extschema@.okra_pending IS
	'Payments not yet in a final status, with their age, last check, next check, last error and, once given up on, stale_at.';

CREATE VIEW @extschema@.okra_call_stats AS
SELECT date_trunc('hour', called_at) AS hour,
	   endpoint,
	   count(*) AS calls,
	   count(sqlstate) AS errors,
	   (SELECT jsonb_object_agg(s, n)
		  FROM (SELECT s, count(*) AS n
				  FROM unnest(array_agg(sqlstate) FILTER (WHERE sqlstate IS NOT NULL)) AS s
				 GROUP BY s) AS e) AS errors_by_sqlstate,
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)::numeric, 3) AS p50_ms,
	   round(percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::numeric, 3) AS p95_ms,
	   round(max(duration_ms)::numeric, 3) AS max_ms
  FROM @extschema@.okra_api_calls
 WHERE called_at >= date_trunc('hour', now()) - interval '23 hours'
 GROUP BY 1, 2;
COMMENT ON VIEW @extschema@.okra_call_stats IS
	'Per endpoint and hour, over the last 24 hours: calls, errors by SQLSTATE, p50, p95 and max latency in ms.';

-----------------------------------------------------------------------------
-- Webhooks (README "Webhooks"): okra_webhook takes what Okra POSTed to the
-- merchant's endpoint (examples/webhook-receiver passes it on), checks the
-- bearer token, keeps the event once, and makes each payment it names due
-- a check, which the database's okra worker makes at once.  A webhook is a
-- hint, never a fact: only pay/verify's answer changes the ledger.
-----------------------------------------------------------------------------

CREATE TYPE @extschema@.okra_webhook_event AS (
	event_id		bigint,
	duplicate		boolean,
	payment_ids		text[],
	action			text
);
COMMENT ON TYPE @extschema@.okra_webhook_event IS
	'What okra_webhook did with a webhook; see README "Webhooks".';

CREATE TABLE @extschema@.okra_webhook_events (
	event_id			bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	received_at			timestamptz NOT NULL,
	last_received_at	timestamptz NOT NULL,
	deliveries			integer NOT NULL DEFAULT 1,
	body				text NOT NULL,
	body_sha256			bytea NOT NULL UNIQUE,
	payment_ids			text[] NOT NULL,
	action				text NOT NULL,
	role				name NOT NULL
);
CREATE INDEX okra_webhook_events_received_idx ON @extschema@.okra_webhook_events (received_at);
COMMENT ON TABLE @extschema@.okra_webhook_events IS
	'One row per webhook body okra_webhook accepted (a repeated delivery counts in deliveries), the payments it named and what was done.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.okra_webhook_events', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.okra_webhook_events', 'event_id'), '');

-- After okra_webhook checked the token and the size (C): parse, keep the
-- event once (by the body's SHA-256), and make the payments it names due.
-- A payment named again within window of the webhook that made it due is
-- not made due again, only once more when the window is up; one already
-- final is left alone.
CREATE FUNCTION @extschema@.okra_webhook_record(body text, window_ms integer, role name)
RETURNS @extschema@.okra_webhook_event
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	doc			jsonb;
	digest		bytea := sha256(convert_to(body, 'UTF8'));
	ids			text[];
	eid			bigint;
	p			@extschema@.okra_payments;
	id			text;
	win			interval := window_ms * interval '1 millisecond';
	due			integer := 0;
	collapsed	integer := 0;
	final		integer := 0;
	what		text;
BEGIN
	BEGIN
		doc := body::jsonb;
	EXCEPTION WHEN invalid_text_representation THEN
		RAISE EXCEPTION 'webhook body is not valid JSON'
			USING ERRCODE = '22P02', DETAIL = SQLERRM;
	END;
	IF jsonb_typeof(doc) <> 'object' THEN
		RAISE EXCEPTION 'webhook body is not a JSON object'
			USING ERRCODE = '22023', DETAIL = format('It is a JSON %s.', jsonb_typeof(doc));
	END IF;

	-- the same body again: a retried delivery, counted, nothing more
	UPDATE @extschema@.okra_webhook_events AS e
	   SET deliveries = e.deliveries + 1, last_received_at = clock_timestamp()
	 WHERE e.body_sha256 = digest
	RETURNING e.event_id, e.payment_ids INTO eid, ids;
	IF FOUND THEN
		RETURN ROW(eid, true, ids, 'duplicate: already received')::@extschema@.okra_webhook_event;
	END IF;

	-- the payment ids of the documented and conventional shapes
	SELECT coalesce(array_agg(DISTINCT lower(v) ORDER BY lower(v)), '{}') INTO ids
	  FROM unnest(ARRAY[doc ->> 'payment_id', doc #>> '{data,payment_id}',
						doc #>> '{data,payment,id}', doc #>> '{data,payment,_id}',
						doc #>> '{data,payment_status,_id}', doc #>> '{data,payment_status,id}',
						doc #>> '{payment,id}', doc #>> '{payment,_id}',
						CASE WHEN upper(doc ->> 'callback_type') LIKE 'PAYMENT%' THEN doc ->> 'record' END]) AS v
	 WHERE v ~ '^[0-9A-Fa-f]{24}$';

	FOREACH id IN ARRAY ids LOOP
		INSERT INTO @extschema@.okra_payments AS t (payment_id, next_check_at, webhook_at, webhook_due_at)
		VALUES (id, now(), now(), now())
		ON CONFLICT ON CONSTRAINT okra_payments_pkey DO NOTHING;
		IF FOUND THEN
			due := due + 1;
			CONTINUE;
		END IF;
		SELECT * INTO p FROM @extschema@.okra_payments AS t WHERE t.payment_id = id FOR UPDATE;
		IF p.terminal THEN
			final := final + 1;
		ELSIF p.webhook_at > now() - win THEN
			UPDATE @extschema@.okra_payments AS t
			   SET webhook_due_at = least(coalesce(t.webhook_due_at, 'infinity'), p.webhook_at + win)
			 WHERE t.payment_id = id;
			collapsed := collapsed + 1;
		ELSE
			UPDATE @extschema@.okra_payments AS t SET webhook_at = now(), webhook_due_at = now()
			 WHERE t.payment_id = id;
			due := due + 1;
		END IF;
	END LOOP;

	what := CASE WHEN cardinality(ids) = 0 THEN 'no payment named'
			ELSE concat_ws(', ',
						   CASE WHEN due > 0 THEN format('%s due a check now', due) END,
						   CASE WHEN collapsed > 0 THEN format('%s checked just now (once more when the window is up)', collapsed) END,
						   CASE WHEN final > 0 THEN format('%s final already', final) END) END;
	INSERT INTO @extschema@.okra_webhook_events
		(received_at, last_received_at, body, body_sha256, payment_ids, action, role)
	VALUES (clock_timestamp(), clock_timestamp(), body, digest, ids, what, role)
	ON CONFLICT (body_sha256) DO UPDATE
		SET deliveries = okra_webhook_events.deliveries + 1, last_received_at = clock_timestamp()
	RETURNING event_id INTO eid;
	IF due > 0 THEN
		PERFORM @extschema@.okra_outbox_wake();
	END IF;
	RETURN ROW(eid, false, ids, what)::@extschema@.okra_webhook_event;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_webhook_record(text, integer, name) FROM PUBLIC;

CREATE FUNCTION @extschema@.okra_webhook(body text, authorization text)
RETURNS @extschema@.okra_webhook_event
AS 'MODULE_PATHNAME', 'okra_webhook'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.okra_webhook(text, text) IS
	'Takes a webhook Okra POSTed (its body and Authorization header): checks the bearer token, keeps the event once and makes the payments it names due a check, which the okra worker makes at once; see README "Webhooks".';
REVOKE ALL ON FUNCTION @extschema@.okra_webhook(text, text) FROM PUBLIC;

-- The worker's next payments to check because a webhook named them (due),
-- claimed under a lease as okra_verify_claim claims.  One that became
-- final meanwhile needs no check.
CREATE FUNCTION @extschema@.okra_webhook_claim(n integer, lease interval)
RETURNS text[]
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
	WITH final AS (
		UPDATE @extschema@.okra_payments AS t SET webhook_due_at = NULL
		 WHERE t.webhook_due_at <= now() AND t.terminal),
	due AS (
		SELECT t.payment_id, t.webhook_due_at FROM @extschema@.okra_payments AS t
		 WHERE t.webhook_due_at <= now() AND NOT t.terminal
		 ORDER BY t.webhook_due_at
		 LIMIT n
		   FOR UPDATE SKIP LOCKED),
	claimed AS (
		UPDATE @extschema@.okra_payments AS t
		   SET webhook_due_at = NULL, next_check_at = now() + lease
		  FROM due WHERE t.payment_id = due.payment_id
		RETURNING t.payment_id, due.webhook_due_at AS was)
	SELECT coalesce(array_agg(payment_id ORDER BY was, payment_id), '{}') FROM claimed
$$;
REVOKE ALL ON FUNCTION @extschema@.okra_webhook_claim(integer, interval) FROM PUBLIC;

-- With okra preloaded, the launcher starts this database's okra worker
-- once the CREATE EXTENSION commits.
SELECT @extschema@.okra_outbox_wake();
