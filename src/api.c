/*-------------------------------------------------------------------------
 *
 * api.c
 *	  The SQL-callable functions: okra_verify, okra_cancel, okra_refund,
 *	  okra_request, okra_get_payment, okra_initiate_payment and its
 *	  after-commit form; and what the other files of calls share (api.h):
 *	  the call and its journaling, a call once per reference, queueing
 *	  after commit, the argument checks.
 *
 * Each refuses where the ledger cannot be written (25006) and checks its
 * arguments (22023), with nothing sent; builds the JSON request body, makes
 * one call through http.c, and turns the answer into its result through
 * answer.c: a composite built from the function's declared result type
 * (never looked up through search_path), or the whole body as jsonb.  A
 * call that succeeded is recorded in the ledger (ledger.c) before it
 * returns.  One to an endpoint that may move money is journaled first
 * (journal.c: its intent before it is sent, its outcome after, whatever
 * the caller's transaction does), a refund passes the guard first
 * (guard.c), a copy of a call its row already made is answered without
 * sending (repeat.c), and a failure logs a line.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "answer.h"
#include "api.h"
#include "compat.h"
#include "contract.h"
#include "guard.h"
#include "http.h"
#include "journal.h"
#include "ledger.h"
#include "okra.h"
#include "okra_json.h"
#include "repeat.h"

/* Longest endpoint accepted */
#define OKRA_ENDPOINT_MAX	200

PG_FUNCTION_INFO_V1(okra_verify);
PG_FUNCTION_INFO_V1(okra_cancel);
PG_FUNCTION_INFO_V1(okra_refund);
PG_FUNCTION_INFO_V1(okra_request);
PG_FUNCTION_INFO_V1(okra_get_payment);
PG_FUNCTION_INFO_V1(okra_initiate_payment);
PG_FUNCTION_INFO_V1(okra_initiate_payment_after_commit);

/*---- static prototypes ----*/
static void check_endpoint(const char *endpoint);
static char journal_outcome(const OkraCall *call, int sqlerrcode);
static char *created_id_of(const OkraCall *call);
static Datum payment_call(FunctionCallInfo fcinfo, const char *fname,
						  const char *endpoint, const char *const *keys);
static Datum payment_send(FunctionCallInfo fcinfo, OkraCall *call);
static Datum refund_send(FunctionCallInfo fcinfo, OkraCall *call);
static Datum request_send(FunctionCallInfo fcinfo, OkraCall *call);
static void check_request_endpoint(const char *endpoint);
static void initiate_body(FunctionCallInfo fcinfo, StringInfo body,
						  const char **reference);
static Datum find_by_reference(Oid nsp, const char *lookup,
							   const char *reference);
static Datum initiate_send(FunctionCallInfo fcinfo, OkraCall *call);


/*
 * Check an Okra ObjectID argument (24 hex digits, any case) and return it
 * in lower case.
 */
char *
okra_check_object_id(text *arg, const char *argname, const char *what)
{
	char	   *s = text_to_cstring(arg);

	if (!okra_object_id_lower(s))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid %s: \"%s\"", argname, okra_quote_clip(s)),
				errdetail("An Okra %s ID is 24 hexadecimal characters.", what));
	return s;
}

/*
 * Is s an Okra ObjectID (24 hex digits, any case)?  If so, it is put in
 * lower case.
 */
bool
okra_object_id_lower(char *s)
{
	size_t		i;

	if (s == NULL || strlen(s) != 24)
		return false;
	for (i = 0; i < 24; i++)
	{
		if (!isxdigit((unsigned char) s[i]))
			return false;
	}
	for (i = 0; i < 24; i++)
		s[i] = pg_ascii_tolower((unsigned char) s[i]);
	return true;
}

/*
 * Check an endpoint for okra_request against okra's grammar: one or more
 * segments of [a-z0-9_], separated by single "/", at most
 * OKRA_ENDPOINT_MAX bytes.  That leaves exactly one spelling of each path:
 * no leading, trailing or doubled "/", no dot segments, no percent
 * escapes, no query or fragment, no spaces and no upper case, so that the
 * comparison with the refused endpoints (check_request_endpoint) cannot be
 * dodged by a spelling a router would take as the same path.
 */
static void
check_endpoint(const char *endpoint)
{
	const char *p;
	bool		ok;
	size_t		len = strlen(endpoint);

	ok = (len > 0 && len <= OKRA_ENDPOINT_MAX &&
		  endpoint[0] != '/' && endpoint[len - 1] != '/');
	for (p = endpoint; ok && *p; p++)
	{
		if (*p == '/')
			ok = (p[1] != '/');
		else
			ok = ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
				  *p == '_');
	}
	if (!ok)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid Okra API endpoint: \"%s\"", okra_quote_clip(endpoint)),
				errdetail("An endpoint is one or more path segments of lower-case letters, digits and \"_\", separated by single \"/\" characters and at most %d characters long, such as \"pay/list\".",
						  OKRA_ENDPOINT_MAX));
}

/*
 * POST the call's body (server encoding) to its endpoint and keep the
 * answer if it is a success; raise the matching error if it is not.
 */
void
okra_call_send(OkraCall *call, OkraAnswer *ans)
{
	char	   *utf8;

	/* Okra speaks UTF-8 */
	utf8 = pg_server_to_any(call->body.data, call->body.len, PG_UTF8);

	call->record.endpoint = call->endpoint;
	call->record.request = call->body.data;
	okra_http_post(call->endpoint, utf8, strlen(utf8), &ans->http);
	call->record.started_at = ans->http.started_at;
	call->record.http_status = ans->http.status;
	call->record.finished_at = ans->http.received_at;
	okra_judge_answer(call->endpoint, ans);
	call->answered = true;
}


/*
 * The id of what call created, for the journal: an initiated payment's, as
 * soon as Okra's answer names it, or its refund's refund_id; else NULL.
 */
static char *
created_id_of(const OkraCall *call)
{
	bool		isnull;
	Datum		id;

	if (call->created_id != NULL)
		return call->created_id;
	if (call->record.refund == (Datum) 0)
		return NULL;
	id = GetAttributeByNum(DatumGetHeapTupleHeader(call->record.refund), 1, &isnull);
	return isnull ? NULL : TextDatumGetCString(id);
}

/*
 * Before anything is checked, locked or sent: a call is recorded in the
 * ledger, so it cannot run where nothing can be written (a read-only
 * transaction, a hot standby).  Raises 25006 with nothing sent.
 */
void
okra_check_can_record(const char *fname)
{
	if (RecoveryInProgress() || XactReadOnly)
		ereport(ERROR,
				errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				errmsg("cannot call %s in a read-only transaction", fname),
				errdetail("%s records the call in okra's ledger, which cannot be written here. Nothing was sent to Okra.",
						  fname),
				RecoveryInProgress() ?
				errhint("Call it on the primary server.") :
				errhint("Call it in a read-write transaction."));
}

/*
 * What a failed money-moving call did, for the journal: 'f' when surely
 * nothing was carried out (never sent, or refused by Okra), 's' when Okra
 * answered success and something after that failed, else 'u'nknown.
 */
static char
journal_outcome(const OkraCall *call, int sqlerrcode)
{
	long		status = call->record.http_status;

	if (call->record.refund != (Datum) 0 || call->record.payment != (Datum) 0)
		return 's';
	if (sqlerrcode == ERRCODE_OKRA_OUTCOME_UNKNOWN ||
		sqlerrcode == ERRCODE_OKRA_INVALID_RESPONSE)
		return 'u';
	/* Okra answered success, and something after that failed */
	if (call->answered)
		return 's';
	/* Okra's own refusals (OK001 to OK009) */
	if (ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_TO_CATEGORY(ERRCODE_OKRA_OUTCOME_UNKNOWN))
		return 'f';
	/* surely never sent: no answer, and an error raised before sending */
	if (status == 0 &&
		(sqlerrcode == ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION ||
		 sqlerrcode == ERRCODE_QUERY_CANCELED ||
		 sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE ||
		 sqlerrcode == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE))
		return 'f';
	return 'u';
}

/*
 * Run fn, which sends the call and records it.  When the endpoint may move
 * money, the call is journaled (journal.c): its intent, durably, before
 * anything is sent, and its outcome after, whatever happens to the
 * caller's transaction; a failure also leaves a line in the server log.
 */
Datum
okra_logged_call(FunctionCallInfo fcinfo, OkraCall *call, OkraCallBody fn)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile Datum result = (Datum) 0;

	/* the SQL objects match this library before anything is sent */
	okra_contract_check_version();
	okra_contract_check(okra_ledger_schema(fcinfo));
	if (okra_endpoint_is_read_only(call->endpoint))
		return fn(fcinfo, call);
	/* another copy of a call this query made: its answer (repeat.c) */
	if ((result = okra_repeat_find(fcinfo, cxt, call->body.data,
								   call->reference)) != (Datum) 0)
		return result;
	okra_journal_require(call->endpoint);
	okra_journal_begin(call->endpoint, call->payment_id, call->has_amount,
					   call->amount, call->reference);
	PG_TRY();
	{
		result = fn(fcinfo, call);
	}
	PG_CATCH();
	{
		MemoryContext ecxt = MemoryContextSwitchTo(cxt);
		ErrorData  *edata = CopyErrorData();

		MemoryContextSwitchTo(ecxt);
		okra_journal_end(journal_outcome(call, edata->sqlerrcode),
						 edata->sqlerrcode, call->record.http_status,
						 created_id_of(call), edata->message);
		okra_ledger_log_failure(call->endpoint, call->payment_id, edata);
		PG_RE_THROW();
	}
	PG_END_TRY();
	okra_journal_end('s', 0, call->record.http_status,
					 created_id_of(call), NULL);
	okra_repeat_keep(fcinfo, cxt, call->body.data, call->reference, result);
	return result;
}


/*
 * The function's declared composite result type, checked and blessed.
 */
TupleDesc
okra_result_tupdesc(FunctionCallInfo fcinfo, int natts)
{
	TupleDesc	tupdesc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("function returning record called in context that cannot accept type record"));
	if (tupdesc->natts != natts)
		elog(ERROR, "okra result type has %d columns, expected %d",
			 tupdesc->natts, natts);
	return BlessTupleDesc(tupdesc);
}



/*
 * okra_verify and okra_cancel: POST {"payment_id": ...} and return the
 * payment found under the first of data.<keys>.
 */
static Datum
payment_call(FunctionCallInfo fcinfo, const char *fname, const char *endpoint,
			 const char *const *keys)
{
	OkraCall	call = {endpoint};

	call.payment_keys = keys;
	okra_check_can_record(fname);

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("payment_id must not be null"));
	call.payment_id = okra_check_object_id(PG_GETARG_TEXT_PP(0), "payment_id", "payment");

	initStringInfo(&call.body);
	appendStringInfoString(&call.body, "{\"payment_id\":");
	escape_json(&call.body, call.payment_id);
	appendStringInfoChar(&call.body, '}');

	return okra_logged_call(fcinfo, &call, payment_send);
}

/*
 * Send a payment call, record it, and return the payment found under the
 * first of data.<call->payment_keys> as okra_payment.
 */
static Datum
payment_send(FunctionCallInfo fcinfo, OkraCall *call)
{
	TupleDesc	tupdesc = okra_result_tupdesc(fcinfo, OKRA_PAYMENT_NATTS);
	OkraAnswer	ans;

	okra_call_send(call, &ans);
	call->record.payment = okra_payment_answer(tupdesc, call->endpoint,
										  call->payment_id, call->payment_keys,
										  &ans, &call->record.response);
	(void) okra_ledger_record(fcinfo, &call->record);
	return call->record.payment;
}



/*
 * okra_verify(payment_id text) RETURNS okra_payment
 */
Datum
okra_verify(PG_FUNCTION_ARGS)
{
	return payment_call(fcinfo, "okra_verify", OKRA_VERIFY_ENDPOINT, okra_verify_keys);
}

/*
 * okra_cancel(payment_id text) RETURNS okra_payment
 */
Datum
okra_cancel(PG_FUNCTION_ARGS)
{
	return payment_call(fcinfo, "okra_cancel", "pay/cancel", okra_cancel_keys);
}

/*
 * okra_get_payment(payment_id text) RETURNS okra_payment: Okra's record
 * of one payment (pay/get/id), recorded in the ledger as okra_verify's
 * answer is.
 */
Datum
okra_get_payment(PG_FUNCTION_ARGS)
{
	return payment_call(fcinfo, "okra_get_payment", "pay/get/id", okra_cancel_keys);
}

/*
 * okra_refund(payment_id text, amount bigint, reason text, account text)
 * RETURNS okra_refund.  Not strict: only payment_id is required.
 */
Datum
okra_refund(PG_FUNCTION_ARGS)
{
	OkraCall	call = {"pay/refund"};
	char	   *account = NULL;
	char	   *reason = NULL;
	bool		has_amount = !PG_ARGISNULL(1);
	int64		amount = 0;
	Datum		replay;

	/* every argument checked before anything is sent */
	okra_check_can_record("okra_refund");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("payment_id must not be null"));
	call.payment_id = okra_check_object_id(PG_GETARG_TEXT_PP(0), "payment_id", "payment");
	if (has_amount)
	{
		amount = PG_GETARG_INT64(1);
		if (amount <= 0)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("invalid refund amount: " INT64_FORMAT, amount),
					errdetail("The amount is in kobo and must be positive, or NULL to refund whatever remains."));
	}
	if (!PG_ARGISNULL(2))
		reason = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!PG_ARGISNULL(3))
		account = okra_check_object_id(PG_GETARG_TEXT_PP(3), "account", "account");

	initStringInfo(&call.body);
	okra_refund_body(&call.body, call.payment_id, has_amount, amount, reason,
					 account);
	call.record.full_refund = !has_amount;
	call.has_amount = has_amount;
	call.amount = amount;

	/* another copy of a refund this query made is not another refund */
	if ((replay = okra_repeat_find(fcinfo, CurrentMemoryContext, call.body.data,
								   NULL)) != (Datum) 0)
		return replay;
	/* the payment stays locked until the end of the caller's transaction */
	okra_journal_require(call.endpoint);
	okra_guard_refund(okra_ledger_schema(fcinfo), call.payment_id, has_amount,
					  amount);
	return okra_logged_call(fcinfo, &call, refund_send);
}

/*
 * The JSON body of a refund request; amount only if has_amount, reason and
 * account only if not NULL.
 */
void
okra_refund_body(StringInfo body, const char *payment_id, bool has_amount,
				 int64 amount, const char *reason, const char *account)
{
	appendStringInfoString(body, "{\"payment_id\":");
	escape_json(body, payment_id);
	if (has_amount)
		appendStringInfo(body, ",\"amount\":" INT64_FORMAT, amount);
	if (reason != NULL)
	{
		appendStringInfoString(body, ",\"reason\":");
		escape_json(body, reason);
	}
	if (account != NULL)
	{
		appendStringInfoString(body, ",\"account\":");
		escape_json(body, account);
	}
	appendStringInfoChar(body, '}');
}

/*
 * Send a refund, record it, and return it as okra_refund.
 */
static Datum
refund_send(FunctionCallInfo fcinfo, OkraCall *call)
{
	TupleDesc	tupdesc = okra_result_tupdesc(fcinfo, OKRA_REFUND_NATTS);
	OkraAnswer	ans;

	okra_call_send(call, &ans);
	call->record.refund = okra_refund_answer(tupdesc, call->payment_id, &ans,
										&call->record.response);
	(void) okra_ledger_record(fcinfo, &call->record);
	return call->record.refund;
}



/*
 * The endpoints that move money and have a typed function go through that
 * function only, so that its checks, lock and ledger record cannot be
 * bypassed.  endpoint has passed check_endpoint, so it has one spelling
 * only and an exact comparison is enough.
 */
static void
check_request_endpoint(const char *endpoint)
{
	static const struct
	{
		const char *endpoint;
		const char *what;
		const char *use;
	}			typed[] = {
		{"pay/refund", "refunds",
		"okra_refund, which checks the ledger and locks the payment first"},
		{"pay/initiate", "payment initiations",
		"okra_initiate_payment, which records the payment and makes it once per reference"},
		{"pay/payout", "payouts",
		"okra_payout, which records the payout and makes it once per reference"},
		{"pay/authorization/initiate", "payments on an authorization",
		"okra_initiate_authorized_payment, which checks the schedule and records the authorization"},
		{"bulkfiles/initiate", "bulk payments",
		"okra_bulk_initiate, which checks every row first and records the batch"},
	};
	const char *tail = endpoint;
	int			i;

	if (strncmp(tail, "sandbox/", 8) == 0)
		tail += 8;
	for (i = 0; i < lengthof(typed); i++)
	{
		if (strcmp(tail, typed[i].endpoint) == 0)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("okra_request cannot send %s", typed[i].what),
					errhint("Use %s.", typed[i].use));
	}
}

/*
 * okra_request(endpoint text, body jsonb) RETURNS jsonb: any endpoint,
 * the whole response body.
 */
Datum
okra_request(PG_FUNCTION_ARGS)
{
	OkraCall	call = {NULL};
	char	   *endpoint;
	Jsonb	   *jb;
	JsonbValue *pid;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("endpoint must not be null"));
	okra_check_can_record("okra_request");
	endpoint = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_endpoint(endpoint);
	check_request_endpoint(endpoint);

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("request body must not be null"),
				errhint("Pass '{}' for an empty body."));
	jb = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("request body must be a JSON object"));

	call.endpoint = endpoint;
	pid = getKeyJsonValueFromContainer(&jb->root, "payment_id", 10, NULL);
	if (pid != NULL && pid->type == jbvString)
		call.payment_id = pnstrdup(pid->val.string.val, pid->val.string.len);
	initStringInfo(&call.body);
	(void) JsonbToCString(&call.body, &jb->root, VARSIZE(jb));

	return okra_logged_call(fcinfo, &call, request_send);
}

/*
 * Send an okra_request call, record it, and return the whole body.
 */
static Datum
request_send(FunctionCallInfo fcinfo, OkraCall *call)
{
	OkraAnswer	ans;
	Datum		result;

	okra_call_send(call, &ans);
	result = okra_response_jsonb(call->endpoint, &ans);
	okra_json_free(ans.doc);
	call->record.response = result;
	(void) okra_ledger_record(fcinfo, &call->record);
	return result;
}



/*
 * okra_initiate_payment(account_to_debit text, amount bigint, currency text,
 *						 account_to_credit text, reference text,
 *						 schedule_interval text, start_date date,
 *						 end_date date) RETURNS okra_initiated
 *
 * With a reference: under the reference's lock, and with the latest
 * snapshot whatever the isolation level, the payment it already initiated
 * is returned (replayed) and nothing is sent; and a journaled initiate
 * under it that may have created a payment the ledger lacks refuses the
 * call (okra_ledger_initiation).  The journal's intent carries the
 * reference, so that even a caller that rolls back after Okra answered
 * leaves it behind.
 */
Datum
okra_initiate_payment(PG_FUNCTION_ARGS)
{
	OkraCall	call = {"pay/initiate"};

	okra_check_can_record("okra_initiate_payment");
	initStringInfo(&call.body);
	initiate_body(fcinfo, &call.body, &call.reference);
	call.has_amount = true;
	call.amount = PG_GETARG_INT64(1);

	return okra_referenced_call(fcinfo, &call, "okra_initiate_payment",
								"okra_ledger_initiation", initiate_send);
}

/*
 * Make a call that may carry the merchant's reference (okra_initiate_payment,
 * okra_payout; fname): once per reference.  Under the reference's lock, and
 * with the latest snapshot, lookup (an SQL function of the reference)
 * returns what the reference already made, which is returned (replayed)
 * with nothing sent, or raises when it cannot tell; else fn sends it
 * (okra_logged_call).
 */
Datum
okra_referenced_call(FunctionCallInfo fcinfo, OkraCall *call, const char *fname,
					 const char *lookup, OkraCallBody fn)
{
	Datum		replay;

	okra_journal_require(call->endpoint);
	/* once per reference holds only if the journal keeps the reference */
	if (call->reference != NULL && !okra_journal_enabled())
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("%s with a reference cannot be journaled", fname),
				errdetail("A reference makes a call once only because the journal keeps it, and okra.allow_unjournaled lets this call go without the journal. Nothing was sent to Okra."),
				errhint("Preload okra and let its worker run, or call it without a reference."));
	okra_contract_check_version();
	if ((replay = okra_repeat_find(fcinfo, CurrentMemoryContext, call->body.data,
								   call->reference)) != (Datum) 0)
		return replay;
	if (call->reference != NULL &&
		(replay = find_by_reference(okra_ledger_schema(fcinfo), lookup,
									call->reference)) != (Datum) 0)
		return replay;
	return okra_logged_call(fcinfo, call, fn);
}

/*
 * okra_initiate_payment_after_commit(the same arguments) RETURNS bigint:
 * okra_initiate_payment's request, checked as it checks it, queued in the
 * outbox to be sent once the caller commits (okra_queue_after_commit).
 */
Datum
okra_initiate_payment_after_commit(PG_FUNCTION_ARGS)
{
	StringInfoData body;
	const char *reference;

	okra_check_can_record("okra_initiate_payment_after_commit");
	initStringInfo(&body);
	initiate_body(fcinfo, &body, &reference);
	return okra_queue_after_commit(fcinfo, "initiate", body.data, reference,
								   PG_GETARG_INT64(1));
}

/*
 * Queue an initiate or a payout (kind), whose arguments were checked and
 * body built, in the outbox, and return its request id.  With a reference,
 * under its lock and with the latest snapshot: a request the reference
 * already queued is returned again and nothing is queued; what the
 * synchronous call (okra_initiate_payment, okra_payout) made with it
 * refuses the call (23505), as does anything its lookup refuses.
 */
Datum
okra_queue_after_commit(FunctionCallInfo fcinfo, const char *kind,
						const char *body, const char *reference, int64 amount)
{
	bool		payout = (strcmp(kind, "payout") == 0);
	Oid			nsp;
	Datum		args[4];
	bool		nulls[4] = {false};
	bool		isnull;
	Datum		found;

	okra_contract_check_version();
	nsp = okra_ledger_schema(fcinfo);
	okra_contract_check(nsp);
	args[0] = CStringGetTextDatum(kind);
	if (reference != NULL)
	{
		args[1] = CStringGetTextDatum(reference);
		(void) okra_ledger_call_in(nsp, "okra_ledger_lock_reference", 1, &args[1],
								   nulls, &isnull);
		okra_journal_wait();
		PushActiveSnapshot(GetLatestSnapshot());
		found = okra_ledger_call_in(nsp, "okra_outbox_reference_request", 2, args,
									nulls, &isnull);
		if (!isnull)
		{
			PopActiveSnapshot();
			return found;
		}
		found = okra_ledger_call_in(nsp, payout ? "okra_ledger_payout_reference" :
									"okra_ledger_initiation", 1, &args[1], nulls,
									&isnull);
		PopActiveSnapshot();
		if (!isnull)
			ereport(ERROR,
					errcode(ERRCODE_UNIQUE_VIOLATION),
					errmsg("reference \"%s\" already %s", reference,
						   payout ? "made a payout" : "initiated a payment"),
					errdetail("%s made %s %s with it. Nothing was queued.",
							  payout ? "okra_payout" : "okra_initiate_payment",
							  payout ? "payout" : "payment",
							  TextDatumGetCString(GetAttributeByNum(DatumGetHeapTupleHeader(found),
																	1, &isnull))),
					errhint("Call %s with this reference to read it, or use another reference.",
							payout ? "okra_payout" : "okra_initiate_payment"));
	}

	args[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(body));
	args[2] = Int64GetDatum(amount);
	args[3] = reference ? CStringGetTextDatum(reference) : (Datum) 0;
	nulls[3] = (reference == NULL);
	return okra_ledger_call_in(nsp, "okra_outbox_queue", 4, args, nulls, &isnull);
}

/*
 * Check okra_initiate_payment's arguments (22023, nothing sent) and build
 * its request body; *reference is the reference, or NULL.
 */
static void
initiate_body(FunctionCallInfo fcinfo, StringInfo body, const char **reference)
{
	char	   *currency;
	int64		amount;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("account_to_debit must not be null"));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("amount must not be null"));
	if ((amount = PG_GETARG_INT64(1)) <= 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid amount: " INT64_FORMAT, amount),
				errdetail("The amount is in kobo and must be positive."));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("currency must not be null"));
	currency = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(currency, "NGN") != 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid currency: \"%s\"", okra_quote_clip(currency)),
				errdetail("Okra takes payments in NGN only."));

	appendStringInfoString(body, "{\"account_to_debit\":");
	escape_json(body, okra_check_object_id(PG_GETARG_TEXT_PP(0), "account_to_debit", "account"));
	appendStringInfo(body, ",\"amount\":" INT64_FORMAT ",\"currency\":\"NGN\"", amount);
	if (!PG_ARGISNULL(3))
	{
		appendStringInfoString(body, ",\"account_to_credit\":");
		escape_json(body, okra_check_object_id(PG_GETARG_TEXT_PP(3), "account_to_credit", "account"));
	}

	*reference = PG_ARGISNULL(4) ? NULL : okra_check_reference(PG_GETARG_TEXT_PP(4));

	okra_schedule_body(fcinfo, 5, false, body);
	appendStringInfoChar(body, '}');
}

/*
 * Check a merchant's reference argument (1 to OKRA_REFERENCE_MAX bytes, no
 * control characters; 22023) and return it.
 */
char *
okra_check_reference(text *arg)
{
	char	   *ref = text_to_cstring(arg);
	size_t		len = strlen(ref);
	bool		ok = (len > 0 && len <= OKRA_REFERENCE_MAX);
	size_t		i;

	for (i = 0; ok && ref[i] != '\0'; i++)
		ok = !iscntrl((unsigned char) ref[i]);
	if (!ok)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid reference: \"%s\"", okra_quote_clip(ref)),
				errdetail("A reference is 1 to %d bytes, with no control characters.",
						  OKRA_REFERENCE_MAX));
	return ref;
}

/*
 * A schedule's arguments, at argno (schedule_interval), argno + 1
 * (start_date) and argno + 2 (end_date), checked (22023) and appended to
 * a request body: "type" recurring and the "schedule"; without an interval,
 * no dates may be given, and "type" one-time is appended if one_time_type.
 */
void
okra_schedule_body(FunctionCallInfo fcinfo, int argno, bool one_time_type,
				   StringInfo body)
{
	static const char *const intervals[] = {"daily", "weekly", "monthly",
	"quarterly", "yearly", NULL};
	int			start = argno + 1;
	int			end = argno + 2;
	char	   *interval;
	int			i;

	if (PG_ARGISNULL(argno))
	{
		if (!PG_ARGISNULL(start) || !PG_ARGISNULL(end))
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("start_date and end_date need a schedule_interval"),
					errdetail("With a schedule it is recurring; without schedule_interval it is one-time."));
		if (one_time_type)
			appendStringInfoString(body, ",\"type\":\"one-time\"");
		return;
	}
	interval = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	for (i = 0; intervals[i] != NULL && strcmp(intervals[i], interval) != 0; i++)
		;
	if (intervals[i] == NULL)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid schedule_interval: \"%s\"", okra_quote_clip(interval)),
				errdetail("The interval is daily, weekly, monthly, quarterly or yearly."));
	if (!PG_ARGISNULL(start) && !PG_ARGISNULL(end) &&
		PG_GETARG_DATEADT(start) > PG_GETARG_DATEADT(end))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid schedule: start_date %s is after end_date %s",
					   okra_iso_date(PG_GETARG_DATEADT(start), "start_date"),
					   okra_iso_date(PG_GETARG_DATEADT(end), "end_date")));

	appendStringInfoString(body, ",\"type\":\"recurring\",\"schedule\":{\"interval\":");
	escape_json(body, interval);
	if (!PG_ARGISNULL(start))
	{
		appendStringInfoString(body, ",\"startDate\":");
		escape_json(body, okra_iso_date(PG_GETARG_DATEADT(start), "start_date"));
	}
	if (!PG_ARGISNULL(end))
	{
		appendStringInfoString(body, ",\"endDate\":");
		escape_json(body, okra_iso_date(PG_GETARG_DATEADT(end), "end_date"));
	}
	appendStringInfoChar(body, '}');
}

/*
 * A date as Okra takes it, YYYY-MM-DD, whatever DateStyle says; 22023 for
 * one it cannot take (infinite, or before year 1).
 */
char *
okra_iso_date(DateADT d, const char *argname)
{
	int			year;
	int			month;
	int			day;

	if (DATE_NOT_FINITE(d))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid %s: %s", argname, d < 0 ? "-infinity" : "infinity"),
				errdetail("A schedule's dates are days of the calendar."));
	j2date(d + POSTGRES_EPOCH_JDATE, &year, &month, &day);
	if (year < 1 || year > 9999)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid %s: year %d", argname, year),
				errdetail("A schedule's dates are in the years 1 to 9999."));
	return psprintf("%04d-%02d-%02d", year, month, day);
}

/*
 * Under reference's lock, with the latest snapshot: what it already made
 * (lookup: okra_ledger_initiation, okra_ledger_payout_reference), or 0
 * (lookup raises when it cannot tell).  The journal is written first, so
 * that its latest outcomes count.
 */
static Datum
find_by_reference(Oid nsp, const char *lookup, const char *reference)
{
	Datum		arg = CStringGetTextDatum(reference);
	bool		argnull = false;
	bool		isnull;
	Datum		row;

	(void) okra_ledger_call_in(nsp, "okra_ledger_lock_reference", 1, &arg,
							   &argnull, &isnull);
	okra_journal_wait();
	PushActiveSnapshot(GetLatestSnapshot());
	row = okra_ledger_call_in(nsp, lookup, 1, &arg, &argnull, &isnull);
	PopActiveSnapshot();
	return isnull ? (Datum) 0 : row;
}

/*
 * Send an initiate, record the payment (due a check) and the initiation,
 * and return it as okra_initiated.
 */
static Datum
initiate_send(FunctionCallInfo fcinfo, OkraCall *call)
{
	static const char *const keys[] = {"payment", NULL};
	OkraAnswer	ans;
	OkraPaymentFields f;
	char	   *why;
	Datum		args[5];
	bool		nulls[5] = {false};
	bool		isnull;

	okra_call_send(call, &ans);
	if (!okra_json_payment(ans.doc, keys, &f, &why))
		okra_error_invalid_response(call->endpoint, ans.http.status,
									"unexpected shape", why);
	/* from here on, the journal knows the payment, whatever fails next */
	if (!okra_object_id_lower(f.payment_id))
		okra_error_invalid_response(call->endpoint, ans.http.status,
									"unexpected shape",
									psprintf("The new payment's id \"%s\" is not an ObjectID.",
											 okra_quote_clip(f.payment_id)));
	call->created_id = f.payment_id;
	call->record.response = okra_response_jsonb(call->endpoint, &ans);
	okra_json_free(ans.doc);
	(void) okra_ledger_record(fcinfo, &call->record);

	args[0] = call->reference ? CStringGetTextDatum(call->reference) : (Datum) 0;
	nulls[0] = (call->reference == NULL);
	args[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(call->body.data));
	args[2] = call->record.response;
	args[3] = okra_ledger_role();
	args[4] = TimestampTzGetDatum(call->record.finished_at);
	return okra_ledger_call(fcinfo, "okra_ledger_initiation_record", 5, args,
							nulls, &isnull);
}
