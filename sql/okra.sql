\echo Use "CREATE EXTENSION okra" to load this file. \quit

-- okra: Okra's payments API (verify, cancel, refund) from SQL.
-- Every function makes one HTTPS POST to okra.base_url; none is
-- transactional (see README "Caveats").  All are revoked from PUBLIC.

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
