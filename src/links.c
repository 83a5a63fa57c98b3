/*-------------------------------------------------------------------------
 *
 * links.c
 *	  Payment links: okra_create_payment_link (pay/link/create).
 *
 * A link is a page where a customer pays through Okra's widget, for a
 * fixed amount or one the payer chooses, once or on a schedule.  Creating
 * one moves no money, but it is journaled like every call to an endpoint
 * that is not a read (okra_logged_call), and refused where the ledger
 * cannot be written (25006).  Every argument is checked first (22023),
 * with nothing sent.  Okra answers the same link for the same details, so
 * the ledger (okra_payment_links) keeps one row per link id and updates
 * it.  A payment made through a link is tied to it when it is verified
 * (okra_ledger_payment reads the link from the answer).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "answer.h"
#include "api.h"
#include "ledger.h"
#include "okra.h"
#include "okra_json.h"

/* Okra's smallest link amount, in kobo ("at least 100") */
#define OKRA_LINK_MIN_AMOUNT	100

/* Longest success_url or callback_url accepted */
#define OKRA_URL_MAX	2048

/* okra_create_payment_link's arguments, by position */
enum
{
	ARG_NAME,
	ARG_AMOUNT,
	ARG_CURRENCY,
	ARG_NOTE,
	ARG_ACCOUNT,
	ARG_INTERVAL,
	ARG_START,
	ARG_END,
	ARG_SUCCESS_URL,
	ARG_CALLBACK_URL
};

PG_FUNCTION_INFO_V1(okra_create_payment_link);

/*---- static prototypes ----*/
static void link_body(FunctionCallInfo fcinfo, StringInfo body);
static void url_field(FunctionCallInfo fcinfo, int argno, const char *argname,
					  StringInfo body);
static void text_field(StringInfo body, const char *key, const char *value);
static char *link_id_of(Datum response);
static const char *link_address_not_string(Datum response);
static Datum link_send(FunctionCallInfo fcinfo, OkraCall *call);


/*
 * okra_create_payment_link(name text, amount bigint, currency text,
 *							note text, account text, schedule_interval text,
 *							start_date date, end_date date,
 *							success_url text, callback_url text)
 *	RETURNS okra_payment_link
 *
 * Not strict: amount NULL lets the payer choose; only name and currency
 * must not be NULL.
 */
Datum
okra_create_payment_link(PG_FUNCTION_ARGS)
{
	OkraCall	call = {"pay/link/create"};

	okra_check_can_record("okra_create_payment_link");
	initStringInfo(&call.body);
	link_body(fcinfo, &call.body);
	return okra_logged_call(fcinfo, &call, link_send);
}

/*
 * Check the arguments (22023, nothing sent) and build the request body.
 */
static void
link_body(FunctionCallInfo fcinfo, StringInfo body)
{
	char	   *name;
	char	   *currency;

	if (PG_ARGISNULL(ARG_NAME))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("name must not be null"));
	name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_NAME));
	if (name[strspn(name, " \t\r\n")] == '\0')
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid name: \"%s\"", okra_quote_clip(name)),
				errdetail("A payment link needs a name, which the payer sees."));
	if (!PG_ARGISNULL(ARG_AMOUNT) &&
		PG_GETARG_INT64(ARG_AMOUNT) < OKRA_LINK_MIN_AMOUNT)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid amount: " INT64_FORMAT, PG_GETARG_INT64(ARG_AMOUNT)),
				errdetail("A link's amount is in kobo and at least %d; NULL lets the payer choose.",
						  OKRA_LINK_MIN_AMOUNT));
	if (PG_ARGISNULL(ARG_CURRENCY))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("currency must not be null"));
	currency = text_to_cstring(PG_GETARG_TEXT_PP(ARG_CURRENCY));
	if (strcmp(currency, "NGN") != 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid currency: \"%s\"", okra_quote_clip(currency)),
				errdetail("Okra takes payments in NGN only."));

	appendStringInfoString(body, "{\"name\":");
	escape_json(body, name);
	if (PG_ARGISNULL(ARG_AMOUNT))
		appendStringInfoString(body, ",\"amount\":null");
	else
		appendStringInfo(body, ",\"amount\":" INT64_FORMAT,
						 PG_GETARG_INT64(ARG_AMOUNT));
	appendStringInfoString(body, ",\"currency\":\"NGN\"");
	if (!PG_ARGISNULL(ARG_NOTE))
		text_field(body, "note", text_to_cstring(PG_GETARG_TEXT_PP(ARG_NOTE)));
	if (!PG_ARGISNULL(ARG_ACCOUNT))
		text_field(body, "account",
				   okra_check_object_id(PG_GETARG_TEXT_PP(ARG_ACCOUNT),
										"account", "account"));
	okra_schedule_body(fcinfo, ARG_INTERVAL, true, body);
	url_field(fcinfo, ARG_SUCCESS_URL, "success_url", body);
	url_field(fcinfo, ARG_CALLBACK_URL, "callback_url", body);
	appendStringInfoChar(body, '}');
}

/*
 * An optional URL argument: absolute http or https, no spaces or control
 * characters, at most OKRA_URL_MAX bytes (22023); appended if not NULL.
 */
static void
url_field(FunctionCallInfo fcinfo, int argno, const char *argname,
		  StringInfo body)
{
	char	   *url;
	size_t		len;
	bool		ok;
	size_t		i;

	if (PG_ARGISNULL(argno))
		return;
	url = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	len = strlen(url);
	ok = (len <= OKRA_URL_MAX &&
		  ((strncmp(url, "https://", 8) == 0 && len > 8) ||
		   (strncmp(url, "http://", 7) == 0 && len > 7)));
	for (i = 0; ok && i < len; i++)
		ok = !(isspace((unsigned char) url[i]) || iscntrl((unsigned char) url[i]));
	if (!ok)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid %s: \"%s\"", argname, okra_quote_clip(url)),
				errdetail("A URL starts with https:// or http://, has no spaces or control characters, and is at most %d bytes.",
						  OKRA_URL_MAX));
	text_field(body, argname, url);
}

/*
 * Append ,"key":"value" to a JSON object being built.
 */
static void
text_field(StringInfo body, const char *key, const char *value)
{
	appendStringInfoChar(body, ',');
	escape_json(body, key);
	appendStringInfoChar(body, ':');
	escape_json(body, value);
}

/*
 * The link's id in an answer (data._id, or data.id), or NULL.
 */
static char *
link_id_of(Datum response)
{
	Jsonb	   *jb = DatumGetJsonbP(response);
	JsonbValue *data;
	JsonbValue *id;

	if (!JB_ROOT_IS_OBJECT(jb))
		return NULL;
	data = getKeyJsonValueFromContainer(&jb->root, "data", 4, NULL);
	if (data == NULL || data->type != jbvBinary ||
		!JsonContainerIsObject(data->val.binary.data))
		return NULL;
	id = getKeyJsonValueFromContainer(data->val.binary.data, "_id", 3, NULL);
	if (id == NULL)
		id = getKeyJsonValueFromContainer(data->val.binary.data, "id", 2, NULL);
	if (id == NULL || id->type != jbvString)
		return NULL;
	return pnstrdup(id->val.string.val, id->val.string.len);
}

/*
 * The first of data.url, data.surl and data.short_url in an answer that is
 * there and neither a string nor null, or NULL when there is none such.
 * link_id_of has checked that data is an object.
 */
static const char *
link_address_not_string(Datum response)
{
	static const char *const keys[] = {"url", "surl", "short_url"};
	Jsonb	   *jb = DatumGetJsonbP(response);
	JsonbValue *data;
	int			i;

	data = getKeyJsonValueFromContainer(&jb->root, "data", 4, NULL);
	for (i = 0; i < lengthof(keys); i++)
	{
		JsonbValue *v = getKeyJsonValueFromContainer(data->val.binary.data,
													 keys[i], strlen(keys[i]),
													 NULL);

		if (v != NULL && v->type != jbvString && v->type != jbvNull)
			return keys[i];
	}
	return NULL;
}

/*
 * Send the request, record the call and the link (a new row, or the row of
 * the link Okra answered again), and return it as okra_payment_link.
 */
static Datum
link_send(FunctionCallInfo fcinfo, OkraCall *call)
{
	OkraAnswer	ans;
	char	   *id;
	const char *bad;
	Datum		args[4];
	bool		nulls[4] = {false};
	bool		isnull;
	Datum		row;

	okra_call_send(call, &ans);
	call->record.response = okra_response_jsonb(call->endpoint, &ans);
	okra_json_free(ans.doc);
	id = link_id_of(call->record.response);
	if (!okra_object_id_lower(id))
		okra_error_invalid_response(call->endpoint, ans.http.status,
									"unexpected shape",
									id == NULL ?
									pstrdup("The answer has no \"data._id\".") :
									psprintf("The link's id \"%s\" is not an ObjectID.",
											 okra_quote_clip(id)));
	/* from here on, the journal knows the link, whatever fails next */
	call->created_id = id;
	bad = link_address_not_string(call->record.response);
	if (bad != NULL)
		okra_error_invalid_response(call->endpoint, ans.http.status,
									"unexpected shape",
									psprintf("The link's \"data.%s\" is not a string.",
											 bad));
	(void) okra_ledger_record(fcinfo, &call->record);

	args[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(call->body.data));
	args[1] = call->record.response;
	args[2] = okra_ledger_role();
	args[3] = TimestampTzGetDatum(call->record.finished_at);
	row = okra_ledger_call(fcinfo, "okra_ledger_link_record", 4, args, nulls,
						   &isnull);
	if (isnull)
		elog(ERROR, "okra_ledger_link_record returned NULL");
	return row;
}
