/*-------------------------------------------------------------------------
 *
 * errors.c
 *	  The SQLSTATE mapping of okra: how a failed exchange with Okra becomes
 *	  an ereport, and the helpers that raise it.
 *
 * Okra's own rejections carry Okra's message as errmsg and name the
 * endpoint and HTTP status in errdetail.  Transport failures carry our
 * text in errmsg and libcurl's in errdetail_internal.  Every helper here
 * raises ERROR and does not return.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "okra.h"

/*
 * Hints for an error after which the request may have been carried out
 * (OK010, OK011), by what the endpoint does: each says what is true and
 * what settles it (outcome_hint() chooses).
 */
#define OKRA_READ_ONLY_HINT \
	"This request only reads, so it is safe to retry."
#define OKRA_REFUND_HINT \
	"The refund may have happened: do not retry it. okra_journal has it as an " \
	"unknown outcome, and further refunds of this payment are refused until " \
	"someone checks with Okra and settles it with okra_journal_resolve()."
#define OKRA_CANCEL_HINT \
	"The cancel may have been carried out by Okra. " \
	"Call okra_verify to see whether the payment is cancelled before retrying."
#define OKRA_MAY_MOVE_HINT \
	"The request may have been carried out by Okra, and money may have moved. " \
	"Check its outcome with Okra before sending it again."

/*---- static prototypes ----*/
static bool starts_with_ci(const char *s, const char *prefix);
static bool endpoint_is(const char *endpoint, const char *name);
static const char *outcome_hint(const char *endpoint);
static int	classify_rejection(const char *endpoint, long http_status,
							   const OkraErrorBody *err);

/*
 * Does s start with prefix, ignoring ASCII case?
 */
static bool
starts_with_ci(const char *s, const char *prefix)
{
	return s != NULL && pg_strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * Is endpoint the named one, ignoring case (Okra's SDKs write pay/get/Id)?
 */
static bool
endpoint_is(const char *endpoint, const char *name)
{
	return pg_strcasecmp(endpoint, name) == 0;
}

/*
 * Endpoints that only read: a repeat of one of them cannot move money.
 * Any other endpoint (including unknown ones sent through okra_request)
 * is treated as one that may.
 */
bool
okra_endpoint_is_read_only(const char *endpoint)
{
	return endpoint_is(endpoint, "pay/verify") ||
		endpoint_is(endpoint, "pay/get/id") ||
		endpoint_is(endpoint, "pay/list") ||
		endpoint_is(endpoint, "pay/get/") ||
		endpoint_is(endpoint, "pay/payout/get") ||
		endpoint_is(endpoint, "pay/authorization/list") ||
		endpoint_is(endpoint, "pay/authorization/getByCustomer");
}

/*
 * The hint for an error after which a request to endpoint may have been
 * carried out: safe to retry for a read-only endpoint; for a refund, that
 * it may have happened and how the unknown outcome is settled; for a
 * cancel, to verify the payment; for anything else, to check with Okra.
 */
static const char *
outcome_hint(const char *endpoint)
{
	if (okra_endpoint_is_read_only(endpoint))
		return OKRA_READ_ONLY_HINT;
	if (endpoint_is(endpoint, "pay/refund"))
		return OKRA_REFUND_HINT;
	if (endpoint_is(endpoint, "pay/cancel"))
		return OKRA_CANCEL_HINT;
	return OKRA_MAY_MOVE_HINT;
}

/*
 * Raise 08001: DNS, connect or TLS failed, so nothing was sent.
 */
void
okra_error_not_sent(const char *endpoint, const char *host, const char *detail)
{
	ereport(ERROR,
			errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
			errmsg("could not connect to Okra API at \"%s\"", host),
			detail && detail[0] ? errdetail_internal("%s", detail) : 0,
			errhint("Check okra.base_url and that this server can reach it. The request was not sent."),
			errcontext("while sending POST \"%s\" to Okra API", endpoint));
}

/*
 * Raise OK010: the request may have reached Okra but no usable answer came
 * back.  reason is our one-line summary, detail libcurl's text.
 */
void
okra_error_outcome_unknown(const char *endpoint, const char *reason,
						   const char *detail)
{
	ereport(ERROR,
			errcode(ERRCODE_OKRA_OUTCOME_UNKNOWN),
			errmsg("outcome of Okra API request \"%s\" is unknown: %s",
				   endpoint, reason),
			detail && detail[0] ? errdetail_internal("%s", detail) : 0,
			errhint("%s", outcome_hint(endpoint)));
}

/*
 * Raise OK011: an answer came back but it is unusable (not JSON, wrong
 * shape, too large, a redirect).  For an endpoint that may move money the
 * hint is outcome_hint()'s: the request may well have been carried out.
 */
void
okra_error_invalid_response(const char *endpoint, long http_status,
							const char *reason, const char *detail)
{
	bool		read_only = okra_endpoint_is_read_only(endpoint);

	ereport(ERROR,
			errcode(ERRCODE_OKRA_INVALID_RESPONSE),
			errmsg("invalid response from Okra API endpoint \"%s\": %s",
				   endpoint, reason),
			http_status > 0 ?
			errdetail_internal("Okra API endpoint \"%s\" answered HTTP %ld.%s%s",
							   endpoint, http_status,
							   detail && detail[0] ? " " : "",
							   detail ? detail : "") :
			detail && detail[0] ? errdetail_internal("%s", detail) : 0,
			read_only ? 0 : errhint("%s", outcome_hint(endpoint)));
}

/*
 * Map an Okra rejection to its SQLSTATE: by HTTP status first (401/403,
 * 429, 5xx), then by the start of Okra's message, then by the key under
 * "data" (refund, payment, wallet), as okra-api.md section 2 says.
 */
static int
classify_rejection(const char *endpoint, long http_status,
				   const OkraErrorBody *err)
{
	const char *msg = err->message;
	bool		refund = endpoint_is(endpoint, "pay/refund");
	bool		cancel = endpoint_is(endpoint, "pay/cancel");

	if (http_status == 401 || http_status == 403)
		return ERRCODE_OKRA_UNAUTHORIZED;
	if (http_status == 429)
		return ERRCODE_OKRA_RATE_LIMITED;
	if (http_status >= 500)
		return ERRCODE_OKRA_OUTCOME_UNKNOWN;

	/* the messages Okra documents (typos included) and okra-sandbox's */
	if (starts_with_ci(msg, "Duplicate request"))
		return ERRCODE_OKRA_DUPLICATE_REFUND;
	if (starts_with_ci(msg, "You cannot intiate a refund for an amount greater") ||
		starts_with_ci(msg, "You cannot initiate a refund for an amount greater"))
		return ERRCODE_OKRA_REFUND_EXCEEDS_PAYMENT;
	if (starts_with_ci(msg, "You cannot intiate a refund on a payment") ||
		starts_with_ci(msg, "You cannot initiate a refund on a payment"))
		return ERRCODE_OKRA_NOT_REFUNDABLE;
	if (starts_with_ci(msg, "You do not have sufficient funds"))
		return ERRCODE_OKRA_INSUFFICIENT_FUNDS;
	if (starts_with_ci(msg, "Payment can only be cancel") ||
		starts_with_ci(msg, "Payment cannot be cancel") ||
		starts_with_ci(msg, "Payment can't be cancel"))
		return ERRCODE_OKRA_NOT_CANCELLABLE;
	if (starts_with_ci(msg, "Payment not found"))
		return ERRCODE_OKRA_PAYMENT_NOT_FOUND;

	/* an unfamiliar message: the object Okra returned tells the case */
	if (refund)
	{
		if (err->has_refund)
			return ERRCODE_OKRA_DUPLICATE_REFUND;
		if (err->has_wallet)
			return ERRCODE_OKRA_INSUFFICIENT_FUNDS;
		if (err->has_payment)
			return err->has_refund_amount ?
				ERRCODE_OKRA_REFUND_EXCEEDS_PAYMENT :
				ERRCODE_OKRA_NOT_REFUNDABLE;
	}
	if (cancel && err->has_payment)
		return ERRCODE_OKRA_NOT_CANCELLABLE;

	return ERRCODE_OKRA_REJECTED;
}

/*
 * Raise the error for an answer that is not a success: an HTTP status
 * other than 2xx, or a 2xx whose "status" is not "success".
 */
void
okra_error_rejected(const char *endpoint, long http_status,
					const OkraErrorBody *err)
{
	int			sqlstate = classify_rejection(endpoint, http_status, err);
	const char *hint = NULL;

	if (sqlstate == ERRCODE_OKRA_UNAUTHORIZED)
		hint = "Check that okra.api_key_file holds a valid secret key for okra.base_url.";
	else if (sqlstate == ERRCODE_OKRA_RATE_LIMITED)
		hint = "Okra limits requests per minute; wait 60 seconds before retrying.";
	else if (sqlstate == ERRCODE_OKRA_OUTCOME_UNKNOWN)
		hint = outcome_hint(endpoint);	/* a 5xx: read-only ones are safe */

	if (err->message != NULL && err->message[0] != '\0')
		ereport(ERROR,
				errcode(sqlstate),
				errmsg_internal("%s", err->message),
				errdetail("Okra API endpoint \"%s\" answered HTTP %ld.",
						  endpoint, http_status),
				hint ? errhint("%s", hint) : 0);
	else
		ereport(ERROR,
				errcode(sqlstate),
				errmsg("Okra API request failed with HTTP status %ld",
					   http_status),
				errdetail("Okra API endpoint \"%s\" answered HTTP %ld.",
						  endpoint, http_status),
				hint ? errhint("%s", hint) : 0);
}
