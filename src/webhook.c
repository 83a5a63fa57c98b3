/*-------------------------------------------------------------------------
 *
 * webhook.c
 *	  okra_webhook: what Okra POSTed to the merchant's webhook endpoint.
 *
 * The endpoint (examples/webhook-receiver, or the merchant's own) passes
 * the raw body and the Authorization header.  Here the bearer token is
 * compared, in constant time, with the one in okra.webhook_token_file, and
 * the body's size with okra.webhook_max_body, before anything is parsed or
 * kept; okra_webhook_record (sql/okra.sql) parses it, keeps the event
 * once, and makes the payments it names due a check, which the database's
 * okra worker makes at once (okra_verify_webhooks, pending.c).  Nothing in
 * the body changes a status or an amount: only pay/verify's answer does.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "api.h"
#include "contract.h"
#include "ledger.h"
#include "okra.h"

PG_FUNCTION_INFO_V1(okra_webhook);

/*---- static prototypes ----*/
static bool same_token(const char *given, const char *expected);
static void check_token(const char *authorization);

/*
 * Does given equal expected?  The time taken depends on expected's length
 * only, not on where the two differ nor on given's length.
 */
static bool
same_token(const char *given, const char *expected)
{
	size_t		glen = strlen(given);
	size_t		elen = strlen(expected);
	volatile unsigned char diff = (glen != elen);
	size_t		i;

	for (i = 0; i < elen; i++)
		diff |= (unsigned char) given[glen ? i % glen : 0] ^ (unsigned char) expected[i];
	return glen > 0 && diff == 0;
}

/*
 * Refuse (28000) an Authorization header that is not "Bearer <the token>".
 * No message says anything about the token.
 */
static void
check_token(const char *authorization)
{
	char	   *expected = okra_read_webhook_token();
	const char *given;
	bool		ok;

	if (authorization == NULL || pg_strncasecmp(authorization, "Bearer ", 7) != 0)
	{
		explicit_bzero(expected, strlen(expected));
		ereport(ERROR,
				errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				errmsg("webhook has no bearer token"),
				errdetail("The Authorization header must be \"Bearer\" and the token set for webhooks in Okra's dashboard. Nothing was recorded."));
	}
	for (given = authorization + 7; *given == ' '; given++)
		;
	ok = same_token(given, expected);
	explicit_bzero(expected, strlen(expected));
	if (!ok)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				errmsg("webhook bearer token is not the one in okra.webhook_token_file"),
				errdetail("Nothing was recorded."));
}

/*
 * okra_webhook(body text, authorization text) RETURNS okra_webhook_event
 */
Datum
okra_webhook(PG_FUNCTION_ARGS)
{
	Oid			nsp;
	text	   *body;
	int64		len;
	Datum		args[3];
	bool		nulls[3] = {false, false, false};
	bool		isnull;

	okra_check_can_record("okra_webhook");
	okra_contract_check_version();
	nsp = okra_ledger_schema(fcinfo);
	okra_contract_check(nsp);

	/* who sent it first: a stranger learns nothing about the body's fate */
	check_token(PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)));

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("webhook body must not be null"));
	body = PG_GETARG_TEXT_PP(0);
	len = VARSIZE_ANY_EXHDR(body);
	if (len == 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("webhook body is empty"));
	if (len > okra_webhook_max_body)
		ereport(ERROR,
				errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				errmsg("webhook body is too large"),
				errdetail("It has " INT64_FORMAT " bytes; okra.webhook_max_body allows %d. Nothing was recorded.",
						  len, okra_webhook_max_body));

	args[0] = PointerGetDatum(body);
	args[1] = Int32GetDatum(okra_webhook_window);
	args[2] = okra_ledger_role();
	return okra_ledger_call_in(nsp, "okra_webhook_record", 3, args, nulls,
							   &isnull);
}
