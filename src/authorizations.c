/*-------------------------------------------------------------------------
 *
 * authorizations.c
 *	  Future and recurring payments on a customer's authorization:
 *	  okra_initiate_authorized_payment (pay/authorization/initiate),
 *	  okra_cancel_authorization (pay/authorization/cancel) and
 *	  okra_reauthorize (pay/authorization/reauth), and the okra_authorization
 *	  rows that they and the lists in reads.c return.
 *
 * Each call refuses where the ledger cannot be written (25006) and checks
 * every argument (22023) with nothing sent, goes through okra_logged_call
 * (journaled, version checked), and records the authorization's latest
 * state in okra_authorizations (okra_ledger_authorization) before it
 * returns.  Okra's answer is read from its jsonb: data.authorization for a
 * call, data.authorizations[i] for a list.  A field of the wrong type, or
 * an answer about another authorization, is an invalid response (OK011).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "answer.h"
#include "api.h"
#include "authorizations.h"
#include "ledger.h"
#include "okra.h"
#include "okra_json.h"

/* Where an answer came from, for the errors about its shape */
typedef struct AuthSource
{
	const char *endpoint;
	long		http_status;
} AuthSource;

PG_FUNCTION_INFO_V1(okra_initiate_authorized_payment);
PG_FUNCTION_INFO_V1(okra_cancel_authorization);
PG_FUNCTION_INFO_V1(okra_reauthorize);

/*---- static prototypes ----*/
static pg_attribute_noreturn() void bad_shape(const AuthSource *src,
											  const char *fmt, const char *key);
static JsonbValue *get_value(JsonbContainer *c, const char *key);
static JsonbContainer *get_object(JsonbContainer *c, const char *key);
static JsonbContainer *data_key(Datum response, const char *key,
								const AuthSource *src);
static char *get_text(JsonbContainer *c, const char *key,
					  const AuthSource *src);
static char *get_id(JsonbContainer *c, const char *key,
					const AuthSource *src);
static Datum get_int8(JsonbContainer *c, const char *key, bool *isnull,
					  const AuthSource *src);
static Datum get_bool(JsonbContainer *c, const char *key, bool *isnull,
					  const AuthSource *src);
static Datum get_date(JsonbContainer *c, const char *key, bool *isnull,
					  const AuthSource *src);
static Datum get_ids(JsonbContainer *c, const char *key, bool *isnull,
					 const AuthSource *src);
static Datum authorization_tuple(TupleDesc tupdesc, JsonbContainer *a,
								 TimestampTz checked_at, Datum response,
								 const AuthSource *src, char **id);
static char *required_id(FunctionCallInfo fcinfo, int argno,
						 const char *argname, const char *what);
static void initiate_body(FunctionCallInfo fcinfo, StringInfo body);
static void ids_body(FunctionCallInfo fcinfo, StringInfo body, int nids);
static Datum authorization_call(FunctionCallInfo fcinfo, const char *fname,
								const char *endpoint, int nids);
static Datum authorization_send(FunctionCallInfo fcinfo, OkraCall *call);

/* The request's keys for arguments 0 to 3 of cancel and reauth */
static const char *const id_keys[] = {"authorization", "customer", "link", "account"};
static const char *const id_args[] = {"authorization_id", "customer_id", "link_id", "account_id"};
static const char *const id_whats[] = {"authorization", "customer", "link", "account"};


/*---- reading an authorization object ----*/

/*
 * Raise OK011 for an answer whose shape okra cannot use; fmt has one %s,
 * the key.
 */
static void
bad_shape(const AuthSource *src, const char *fmt, const char *key)
{
	okra_error_invalid_response(src->endpoint, src->http_status,
								"unexpected shape", psprintf(fmt, key));
	pg_unreachable();
}

/*
 * The value of key in object c, or NULL when c is not an object, or the
 * key is absent or null.
 */
static JsonbValue *
get_value(JsonbContainer *c, const char *key)
{
	JsonbValue *v;

	if (c == NULL || !JsonContainerIsObject(c))
		return NULL;
	v = getKeyJsonValueFromContainer(c, key, strlen(key), NULL);
	return (v == NULL || v->type == jbvNull) ? NULL : v;
}

/*
 * The object under key in c, or NULL.
 */
static JsonbContainer *
get_object(JsonbContainer *c, const char *key)
{
	JsonbValue *v = get_value(c, key);

	if (v == NULL || v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		return NULL;
	return v->val.binary.data;
}

/*
 * The container under data.<key> of a whole response (or data.data.<key>,
 * which Okra's SDKs tolerate); OK011 when there is none.
 */
static JsonbContainer *
data_key(Datum response, const char *key, const AuthSource *src)
{
	Jsonb	   *jb = DatumGetJsonbP(response);
	JsonbContainer *data = get_object(&jb->root, "data");
	JsonbValue *v = get_value(data, key);

	if (v == NULL)
		v = get_value(get_object(data, "data"), key);
	if (v == NULL || v->type != jbvBinary)
		bad_shape(src, "The response has no \"data.%s\".", key);
	return v->val.binary.data;
}

/*
 * The string under key, or NULL when absent or null; OK011 for another type.
 */
static char *
get_text(JsonbContainer *c, const char *key, const AuthSource *src)
{
	JsonbValue *v = get_value(c, key);

	if (v == NULL)
		return NULL;
	if (v->type != jbvString)
		bad_shape(src, "The authorization's \"%s\" is not a string.", key);
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * An id under key: a string, or an object with "_id" or "id".
 */
static char *
get_id(JsonbContainer *c, const char *key, const AuthSource *src)
{
	JsonbContainer *o = get_object(c, key);
	char	   *id;

	if (o == NULL)
		return get_text(c, key, src);
	id = get_text(o, "_id", src);
	return id ? id : get_text(o, "id", src);
}

/*
 * The integer under key as int8 (a number with no fraction, in range).
 */
static Datum
get_int8(JsonbContainer *c, const char *key, bool *isnull,
		 const AuthSource *src)
{
	JsonbValue *v = get_value(c, key);
	char	   *s;
	Datum		d;

	*isnull = (v == NULL);
	if (v == NULL)
		return (Datum) 0;
	if (v->type != jbvNumeric)
		bad_shape(src, "The authorization's \"%s\" is not a number.", key);
	s = numeric_normalize(v->val.numeric);
	if (strchr(s, '.') != NULL || !okra_safe_input(int8in, s, InvalidOid, &d))
		bad_shape(src, "The authorization's \"%s\" is not an integer amount.", key);
	return d;
}

/*
 * The boolean under key.
 */
static Datum
get_bool(JsonbContainer *c, const char *key, bool *isnull,
		 const AuthSource *src)
{
	JsonbValue *v = get_value(c, key);

	*isnull = (v == NULL);
	if (v == NULL)
		return (Datum) 0;
	if (v->type != jbvBool)
		bad_shape(src, "The authorization's \"%s\" is not a boolean.", key);
	return BoolGetDatum(v->val.boolean);
}

/*
 * The day of the ISO time (or date) under key: its first ten characters,
 * YYYY-MM-DD (or YYYY/MM/DD), the day in UTC.
 */
static Datum
get_date(JsonbContainer *c, const char *key, bool *isnull,
		 const AuthSource *src)
{
	char	   *s = get_text(c, key, src);
	char		day[11];
	int			i;
	bool		ok;
	Datum		d;

	*isnull = (s == NULL);
	if (s == NULL)
		return (Datum) 0;
	ok = strlen(s) >= 10 && (s[10] == '\0' || s[10] == 'T');
	for (i = 0; ok && i < 10; i++)
	{
		if (i == 4 || i == 7)
			ok = (s[i] == '-' || s[i] == '/');
		else
			ok = isdigit((unsigned char) s[i]);
		day[i] = (i == 4 || i == 7) ? '-' : s[i];
	}
	day[10] = '\0';
	if (!ok || !okra_safe_input(date_in, day, InvalidOid, &d))
		bad_shape(src, "The authorization's \"duration.%s\" is not a date.", key);
	return d;
}

/*
 * The array of ids under key as text[].
 */
static Datum
get_ids(JsonbContainer *c, const char *key, bool *isnull,
		const AuthSource *src)
{
	JsonbValue *v = get_value(c, key);
	JsonbContainer *arr;
	Datum	   *elems;
	int			n;
	int			i;

	*isnull = (v == NULL);
	if (v == NULL)
		return (Datum) 0;
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		bad_shape(src, "The authorization's \"%s\" is not an array.", key);
	arr = v->val.binary.data;
	n = JsonContainerSize(arr);
	elems = palloc(sizeof(Datum) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(arr, i);

		if (e->type != jbvString)
			bad_shape(src, "An element of the authorization's \"%s\" is not a string.", key);
		elems[i] = PointerGetDatum(cstring_to_text_with_len(e->val.string.val,
															e->val.string.len));
	}
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

/*
 * An okra_authorization row from the authorization object a; *id is its
 * id, in lower case.  An object without an ObjectID as "_id" (or "id") is
 * an invalid response.
 */
static Datum
authorization_tuple(TupleDesc tupdesc, JsonbContainer *a,
					TimestampTz checked_at, Datum response,
					const AuthSource *src, char **id)
{
	Datum		values[OKRA_AUTHORIZATION_NATTS];
	bool		nulls[OKRA_AUTHORIZATION_NATTS] = {false};
	JsonbContainer *duration = get_object(a, "duration");
	const char *const text_keys[] = {"customer", "link", "status", "cancelled_by"};
	const int	text_cols[] = {1, 3, 4, 5};
	int			i;

	*id = get_text(a, "_id", src);
	if (*id == NULL)
		*id = get_text(a, "id", src);
	if (*id == NULL || !okra_object_id_lower(*id))
		bad_shape(src, "The authorization has no ObjectID as \"%s\".", "_id");
	values[0] = CStringGetTextDatum(*id);
	for (i = 0; i < lengthof(text_keys); i++)
	{
		char	   *s = (i < 2) ? get_id(a, text_keys[i], src) :
			get_text(a, text_keys[i], src);

		nulls[text_cols[i]] = (s == NULL);
		values[text_cols[i]] = s ? CStringGetTextDatum(s) : (Datum) 0;
	}
	values[2] = get_ids(a, "accounts", &nulls[2], src);
	values[6] = get_int8(a, "amount", &nulls[6], src);
	values[7] = get_int8(a, "initialAmount", &nulls[7], src);
	{
		char	   *currency = get_text(a, "currency", src);

		nulls[8] = (currency == NULL);
		values[8] = currency ? CStringGetTextDatum(currency) : (Datum) 0;
	}
	values[9] = get_bool(a, "oneTime", &nulls[9], src);
	{
		char	   *interval = get_text(duration, "interval", src);

		nulls[10] = (interval == NULL);
		values[10] = interval ? CStringGetTextDatum(interval) : (Datum) 0;
	}
	values[11] = get_date(duration, "startDate", &nulls[11], src);
	values[12] = get_date(duration, "endDate", &nulls[12], src);
	values[13] = get_bool(a, "disconnect", &nulls[13], src);
	values[14] = TimestampTzGetDatum(checked_at);
	values[15] = response;
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * Row i of a page of pay/authorization/list or getByCustomer (page is
 * the whole response as jsonb); its response column is the object itself.
 */
Datum
okra_authorization_list_row(TupleDesc tupdesc, const char *endpoint,
							long http_status, Datum page, int i,
							TimestampTz checked_at)
{
	AuthSource	src = {endpoint, http_status};
	JsonbContainer *items = data_key(page, "authorizations", &src);
	JsonbValue *item;
	char	   *id;

	if (!JsonContainerIsArray(items) || i >= (int) JsonContainerSize(items))
		bad_shape(&src, "The response has no array \"data.%s\".", "authorizations");
	item = getIthJsonbValueFromContainer(items, i);
	if (item->type != jbvBinary || !JsonContainerIsObject(item->val.binary.data))
		bad_shape(&src, "An item of \"data.%s\" is not an object.", "authorizations");
	return authorization_tuple(tupdesc, item->val.binary.data, checked_at,
							   JsonbPGetDatum(JsonbValueToJsonb(item)), &src,
							   &id);
}


/*---- the calls ----*/

/*
 * Argument argno, an ObjectID that must not be NULL, in lower case.
 */
static char *
required_id(FunctionCallInfo fcinfo, int argno, const char *argname,
			const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("%s must not be null", argname));
	return okra_check_object_id(PG_GETARG_TEXT_PP(argno), argname, what);
}

/*
 * Check okra_initiate_authorized_payment's arguments (22023, nothing sent)
 * and build its request body.
 */
static void
initiate_body(FunctionCallInfo fcinfo, StringInfo body)
{
	static const char *const intervals[] = {"monthly", "weekly", "yearly", NULL};
	static const char *const amounts[] = {"amount", "initial_amount"};
	char	   *id = required_id(fcinfo, 0, "authorization_id", "authorization");
	char	   *interval = NULL;
	char	   *currency;
	bool		one_time;
	int			i;

	for (i = 1; i <= 2; i++)
	{
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("%s must not be null", amounts[i - 1]));
		if (PG_GETARG_INT64(i) <= 0)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("invalid %s: " INT64_FORMAT, amounts[i - 1],
						   PG_GETARG_INT64(i)),
					errdetail("The amount is in kobo and must be positive."));
	}
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("start_date must not be null"),
				errdetail("Okra needs the day the debits begin."));
	if (PG_ARGISNULL(6))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("one_time must not be null"));
	one_time = PG_GETARG_BOOL(6);
	if (!PG_ARGISNULL(5))
		interval = text_to_cstring(PG_GETARG_TEXT_PP(5));
	if (one_time && interval != NULL)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("a one-time payment takes no schedule_interval"),
				errdetail("Pass one_time => false for debits every schedule_interval."));
	if (!one_time)
	{
		for (i = 0; interval != NULL && intervals[i] != NULL &&
			 strcmp(intervals[i], interval) != 0; i++)
			;
		if (interval == NULL || intervals[i] == NULL)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					interval ?
					errmsg("invalid schedule_interval: \"%s\"", okra_quote_clip(interval)) :
					errmsg("schedule_interval must not be null unless one_time is true"),
					errdetail("Recurring payments on an authorization are monthly, weekly or yearly."));
	}
	if (PG_ARGISNULL(7))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("currency must not be null"));
	currency = text_to_cstring(PG_GETARG_TEXT_PP(7));
	if (strcmp(currency, "NGN") != 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid currency: \"%s\"", okra_quote_clip(currency)),
				errdetail("Okra takes payments in NGN only."));

	appendStringInfoString(body, "{\"authorization\":");
	escape_json(body, id);
	appendStringInfo(body, ",\"amount\":" INT64_FORMAT ",\"initialAmount\":" INT64_FORMAT
					 ",\"currency\":\"NGN\",\"startDate\":",
					 PG_GETARG_INT64(1), PG_GETARG_INT64(2));
	escape_json(body, okra_iso_date(PG_GETARG_DATEADT(3), "start_date"));
	if (!PG_ARGISNULL(4))
	{
		if (PG_GETARG_DATEADT(3) > PG_GETARG_DATEADT(4))
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("invalid schedule: start_date %s is after end_date %s",
						   okra_iso_date(PG_GETARG_DATEADT(3), "start_date"),
						   okra_iso_date(PG_GETARG_DATEADT(4), "end_date")));
		appendStringInfoString(body, ",\"endDate\":");
		escape_json(body, okra_iso_date(PG_GETARG_DATEADT(4), "end_date"));
	}
	if (interval != NULL)
	{
		appendStringInfoString(body, ",\"interval\":");
		escape_json(body, interval);
	}
	appendStringInfo(body, ",\"oneTime\":%s}", one_time ? "true" : "false");
}

/*
 * Check the first nids id arguments of cancel or reauth (22023, nothing
 * sent) and build the request body.
 */
static void
ids_body(FunctionCallInfo fcinfo, StringInfo body, int nids)
{
	int			i;

	appendStringInfoChar(body, '{');
	for (i = 0; i < nids; i++)
	{
		char	   *id = required_id(fcinfo, i, id_args[i], id_whats[i]);

		appendStringInfo(body, "%s\"%s\":", i > 0 ? "," : "", id_keys[i]);
		escape_json(body, id);
	}
	appendStringInfoChar(body, '}');
}

/*
 * okra_initiate_authorized_payment(authorization_id text, amount bigint,
 *		initial_amount bigint, start_date date, end_date date,
 *		schedule_interval text, one_time boolean, currency text)
 * RETURNS okra_authorization
 */
Datum
okra_initiate_authorized_payment(PG_FUNCTION_ARGS)
{
	OkraCall	call = {"pay/authorization/initiate"};

	okra_check_can_record("okra_initiate_authorized_payment");
	initStringInfo(&call.body);
	initiate_body(fcinfo, &call.body);
	/* the journal keeps the first debit */
	call.has_amount = true;
	call.amount = PG_GETARG_INT64(2);
	return okra_logged_call(fcinfo, &call, authorization_send);
}

/*
 * okra_cancel_authorization and okra_reauthorize: POST the first nids ids.
 */
static Datum
authorization_call(FunctionCallInfo fcinfo, const char *fname,
				   const char *endpoint, int nids)
{
	OkraCall	call = {endpoint};

	okra_check_can_record(fname);
	initStringInfo(&call.body);
	ids_body(fcinfo, &call.body, nids);
	return okra_logged_call(fcinfo, &call, authorization_send);
}

/*
 * okra_cancel_authorization(authorization_id text, customer_id text,
 *							 link_id text) RETURNS okra_authorization
 */
Datum
okra_cancel_authorization(PG_FUNCTION_ARGS)
{
	return authorization_call(fcinfo, "okra_cancel_authorization",
							  "pay/authorization/cancel", 3);
}

/*
 * okra_reauthorize(authorization_id text, customer_id text, link_id text,
 *					account_id text) RETURNS okra_authorization
 */
Datum
okra_reauthorize(PG_FUNCTION_ARGS)
{
	return authorization_call(fcinfo, "okra_reauthorize",
							  "pay/authorization/reauth", 4);
}

/*
 * Send an authorization call, record it and the authorization's latest
 * state, and return it as okra_authorization.  An answer about another
 * authorization than argument 0 is an invalid response.
 */
static Datum
authorization_send(FunctionCallInfo fcinfo, OkraCall *call)
{
	TupleDesc	tupdesc = okra_result_tupdesc(fcinfo, OKRA_AUTHORIZATION_NATTS);
	char	   *asked = required_id(fcinfo, 0, "authorization_id", "authorization");
	OkraAnswer	ans;
	AuthSource	src;
	JsonbContainer *a;
	Datum		row;
	char	   *id;
	bool		isnull;
	bool		argnull = false;

	okra_call_send(call, &ans);
	src.endpoint = call->endpoint;
	src.http_status = ans.http.status;
	call->record.response = okra_response_jsonb(call->endpoint, &ans);
	okra_json_free(ans.doc);
	ans.doc = NULL;
	a = data_key(call->record.response, "authorization", &src);
	if (!JsonContainerIsObject(a))
		bad_shape(&src, "\"data.%s\" is not an object.", "authorization");
	row = authorization_tuple(tupdesc, a, ans.http.received_at,
							  call->record.response, &src, &id);
	if (strcmp(id, asked) != 0)
		okra_error_invalid_response(call->endpoint, ans.http.status,
									"unexpected shape",
									psprintf("The answer is about authorization \"%s\", not \"%s\".",
											 id, asked));
	(void) okra_ledger_record(fcinfo, &call->record);
	(void) okra_ledger_call(fcinfo, "okra_ledger_authorization", 1, &row,
							&argnull, &isnull);
	return row;
}
