/*-------------------------------------------------------------------------
 *
 * payouts.c
 *	  Money out: okra_payout (pay/payout) moves money from the Okra Wallet
 *	  to a bank account, okra_get_payout (pay/payout/get, okra-sandbox's
 *	  read) follows it, and okra_payout_check does the same for scheduled
 *	  verification (pending.c).
 *
 * okra_payout is a money-moving call like okra_initiate_payment (api.c):
 * refused where the ledger cannot be written (25006), every argument
 * checked before anything is sent (22023), journaled, and once per
 * merchant reference: under the reference's lock and with the latest
 * snapshot, a reference that already made a payout returns it (replayed)
 * and sends nothing (okra_ledger_payout_reference).  The journal learns
 * the payout's id as soon as Okra's answer names it.  Payouts are kept in
 * okra_payouts, and their status changes (issued, succeeded, failed) in
 * okra_status_changes (sql/okra.sql, "Payouts").
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "answer.h"
#include "api.h"
#include "contract.h"
#include "journal.h"
#include "ledger.h"
#include "okra.h"
#include "okra_json.h"
#include "payouts.h"

/* Where Okra's answers have the payout */
static const char *const payout_keys[] = {"payout", NULL};

PG_FUNCTION_INFO_V1(okra_payout);
PG_FUNCTION_INFO_V1(okra_get_payout);
PG_FUNCTION_INFO_V1(okra_payout_after_commit);

/*---- static prototypes ----*/
static void payout_body(FunctionCallInfo fcinfo, StringInfo body,
						const char **reference);
static char *check_nuban(text *arg);
static char *payout_id_of(const char *endpoint, const OkraAnswer *ans,
						  const char *asked);
static Datum payout_send(FunctionCallInfo fcinfo, OkraCall *call);
static Datum get_payout_send(FunctionCallInfo fcinfo, OkraCall *call);
static Datum payout_seen(FunctionCallInfo fcinfo, Datum response,
						 TimestampTz checked_at, bool *changed);
static Datum read_payout(void *arg, const OkraHttpResponse *http,
						 Datum *response);


/*
 * okra_payout(amount bigint, account_to_credit text, nuban text, bank text,
 *			   currency text, reference text) RETURNS okra_payout
 *
 * Not strict: the destination is account_to_credit, or nuban and bank.
 */
Datum
okra_payout(PG_FUNCTION_ARGS)
{
	OkraCall	call = {"pay/payout"};

	okra_check_can_record("okra_payout");
	initStringInfo(&call.body);
	payout_body(fcinfo, &call.body, &call.reference);
	call.has_amount = true;
	call.amount = PG_GETARG_INT64(0);

	return okra_referenced_call(fcinfo, &call, "okra_payout",
								"okra_ledger_payout_reference", payout_send);
}

/*
 * okra_payout_after_commit(the same arguments) RETURNS bigint: okra_payout's
 * request, checked as it checks it, queued in the outbox to be sent once
 * the caller commits (okra_queue_after_commit).
 */
Datum
okra_payout_after_commit(PG_FUNCTION_ARGS)
{
	StringInfoData body;
	const char *reference;

	okra_check_can_record("okra_payout_after_commit");
	initStringInfo(&body);
	payout_body(fcinfo, &body, &reference);
	return okra_queue_after_commit(fcinfo, "payout", body.data, reference,
								   PG_GETARG_INT64(0));
}

/*
 * Check okra_payout's arguments (22023, nothing sent) and build its
 * request body; *reference is the reference, or NULL.
 */
static void
payout_body(FunctionCallInfo fcinfo, StringInfo body, const char **reference)
{
	char	   *currency;
	int64		amount;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("amount must not be null"));
	if ((amount = PG_GETARG_INT64(0)) <= 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid amount: " INT64_FORMAT, amount),
				errdetail("The amount is in kobo and must be positive."));
	if (PG_ARGISNULL(4))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("currency must not be null"));
	currency = text_to_cstring(PG_GETARG_TEXT_PP(4));
	if (strcmp(currency, "NGN") != 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid currency: \"%s\"", okra_quote_clip(currency)),
				errdetail("Okra pays out in NGN only."));

	/* exactly one destination */
	if (!PG_ARGISNULL(1) && (!PG_ARGISNULL(2) || !PG_ARGISNULL(3)))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("a payout goes to account_to_credit or to nuban and bank, not both"));
	if (PG_ARGISNULL(1) && (PG_ARGISNULL(2) || PG_ARGISNULL(3)))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				PG_ARGISNULL(2) && PG_ARGISNULL(3) ?
				errmsg("a payout needs account_to_credit, or nuban and bank") :
				errmsg("nuban and bank go together"),
				errdetail("Give account_to_credit (an Okra account ID), or nuban (a 10-digit bank account number) and bank (Okra's ID of the bank)."));

	appendStringInfo(body, "{\"amount\":" INT64_FORMAT ",\"currency\":\"NGN\"", amount);
	if (!PG_ARGISNULL(1))
	{
		appendStringInfoString(body, ",\"account_to_credit\":");
		escape_json(body, okra_check_object_id(PG_GETARG_TEXT_PP(1), "account_to_credit", "account"));
	}
	else
	{
		appendStringInfoString(body, ",\"nuban\":");
		escape_json(body, check_nuban(PG_GETARG_TEXT_PP(2)));
		appendStringInfoString(body, ",\"bank\":");
		escape_json(body, okra_check_object_id(PG_GETARG_TEXT_PP(3), "bank", "bank"));
	}
	appendStringInfoChar(body, '}');

	*reference = PG_ARGISNULL(5) ? NULL : okra_check_reference(PG_GETARG_TEXT_PP(5));
}

/*
 * Check a NUBAN argument (exactly 10 ASCII digits; 22023) and return it.
 */
static char *
check_nuban(text *arg)
{
	char	   *s = text_to_cstring(arg);
	int			i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (s[i] != '\0' || i != 10)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid nuban: \"%s\"", okra_quote_clip(s)),
				errdetail("A NUBAN is a bank account number of exactly 10 digits."));
	return s;
}

/*
 * The id of the payout in a successful answer (data.payout), an ObjectID
 * in lower case; OK011 if there is none, or if it is not the one asked
 * for (when asked is not NULL).
 */
static char *
payout_id_of(const char *endpoint, const OkraAnswer *ans, const char *asked)
{
	OkraPaymentFields f;
	char	   *why;

	if (!okra_json_payment(ans->doc, payout_keys, &f, &why) ||
		!okra_object_id_lower(f.payment_id))
		okra_error_invalid_response(endpoint, ans->http.status,
									"unexpected shape",
									"The response has no payout with an ObjectID \"_id\" under \"data.payout\".");
	if (asked != NULL && strcmp(f.payment_id, asked) != 0)
		okra_error_invalid_response(endpoint, ans->http.status,
									psprintf("the answer is about payout \"%s\"",
											 f.payment_id),
									NULL);
	return f.payment_id;
}

/*
 * Send a payout, record it (due a check unless final) and return it as
 * okra_payout.
 */
static Datum
payout_send(FunctionCallInfo fcinfo, OkraCall *call)
{
	OkraAnswer	ans;
	Datum		args[5];
	bool		nulls[5] = {false};
	bool		isnull;

	okra_call_send(call, &ans);
	/* from here on, the journal knows the payout, whatever fails next */
	call->created_id = payout_id_of(call->endpoint, &ans, NULL);
	call->record.response = okra_response_jsonb(call->endpoint, &ans);
	okra_json_free(ans.doc);
	(void) okra_ledger_record(fcinfo, &call->record);

	args[0] = call->reference ? CStringGetTextDatum(call->reference) : (Datum) 0;
	nulls[0] = (call->reference == NULL);
	args[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(call->body.data));
	args[2] = call->record.response;
	args[3] = okra_ledger_role();
	args[4] = TimestampTzGetDatum(call->record.finished_at);
	return okra_ledger_call(fcinfo, "okra_ledger_payout_record", 5, args,
							nulls, &isnull);
}

/*
 * okra_get_payout(payout_id text) RETURNS okra_payout: Okra's record of one
 * payout (pay/payout/get), recorded in the ledger.  A read: not journaled,
 * and safe to retry.
 */
Datum
okra_get_payout(PG_FUNCTION_ARGS)
{
	OkraCall	call = {OKRA_PAYOUT_GET_ENDPOINT};

	okra_check_can_record("okra_get_payout");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("payout_id must not be null"));
	/* the payout's id, for the log line and the answer's check */
	call.payment_id = okra_check_object_id(PG_GETARG_TEXT_PP(0), "payout_id", "payout");

	initStringInfo(&call.body);
	appendStringInfoString(&call.body, "{\"payout_id\":");
	escape_json(&call.body, call.payment_id);
	appendStringInfoChar(&call.body, '}');
	return okra_logged_call(fcinfo, &call, get_payout_send);
}

/*
 * Send a payout read, record it, and return the payout as okra_payout.
 */
static Datum
get_payout_send(FunctionCallInfo fcinfo, OkraCall *call)
{
	OkraAnswer	ans;
	bool		changed;

	okra_call_send(call, &ans);
	(void) payout_id_of(call->endpoint, &ans, call->payment_id);
	call->record.response = okra_response_jsonb(call->endpoint, &ans);
	okra_json_free(ans.doc);
	(void) okra_ledger_record(fcinfo, &call->record);
	return payout_seen(fcinfo, call->record.response,
					   call->record.finished_at, &changed);
}

/*
 * Record a payout as an answer has it now (okra_ledger_payout_seen):
 * return its okra_payout row, and whether its status changed.
 */
static Datum
payout_seen(FunctionCallInfo fcinfo, Datum response, TimestampTz checked_at,
			bool *changed)
{
	Datum		args[2];
	bool		nulls[2] = {false};
	bool		isnull;
	HeapTupleHeader seen;
	Datum		row;

	args[0] = response;
	args[1] = TimestampTzGetDatum(checked_at);
	seen = DatumGetHeapTupleHeader(okra_ledger_call(fcinfo, "okra_ledger_payout_seen",
													2, args, nulls, &isnull));
	*changed = DatumGetBool(GetAttributeByNum(seen, 1, &isnull));
	row = GetAttributeByNum(seen, 2, &isnull);
	if (isnull)
		elog(ERROR, "okra_ledger_payout_seen returned no payout");
	return row;
}



/*
 * For scheduled verification (pending.c): read job i of batch b, the
 * pay/payout/get of payout_id whose request body is body, and record it:
 * the payout's status, or the failed check with its backoff.
 */
OkraCheckResult
okra_payout_check(FunctionCallInfo fcinfo, OkraHttpBatch *b, int i,
				  const char *payout_id, const char *body)
{
	OkraHttpResponse http;
	OkraLedgerCall record;
	ErrorData  *edata;
	Datum		unused;
	Datum		args[4];
	bool		nulls[4] = {false};
	bool		isnull;
	bool		changed;
	OkraCheckResult result;

	memset(&record, 0, sizeof(record));
	record.endpoint = OKRA_PAYOUT_GET_ENDPOINT;
	record.request = body;
	edata = okra_read_job_with(b, i, read_payout, unconstify(char *, payout_id),
							   &http, &unused, &record.response);
	record.http_status = http.status;
	record.started_at = http.started_at;
	record.finished_at = http.received_at;
	if (edata == NULL)
	{
		(void) okra_ledger_record(fcinfo, &record);
		(void) payout_seen(fcinfo, record.response, record.finished_at, &changed);
		return changed ? OKRA_CHECK_CHANGED : OKRA_CHECK_UNCHANGED;
	}

	/* the call (okra_ledger_check_failed), then the payout's backoff */
	okra_ledger_check_failed(fcinfo, &record, payout_id, edata->sqlerrcode,
							 edata->message);
	args[0] = CStringGetTextDatum(payout_id);
	args[1] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
	args[2] = CStringGetTextDatum(edata->message ? edata->message : "");
	args[3] = TimestampTzGetDatum(record.finished_at);
	(void) okra_ledger_call(fcinfo, "okra_ledger_payout_check_failed", 4, args,
							nulls, &isnull);
	result = (edata->sqlerrcode == ERRCODE_OKRA_RATE_LIMITED) ?
		OKRA_CHECK_RATE_LIMITED : OKRA_CHECK_FAILED;
	FreeErrorData(edata);
	return result;
}

/*
 * A scheduled check's answer (okra_read_job_with), read as okra_get_payout
 * reads it: the whole body, of the payout asked for (arg), or raise.
 */
static Datum
read_payout(void *arg, const OkraHttpResponse *http, Datum *response)
{
	OkraAnswer	ans;

	ans.http = *http;
	ans.doc = NULL;
	okra_judge_answer(OKRA_PAYOUT_GET_ENDPOINT, &ans);
	(void) payout_id_of(OKRA_PAYOUT_GET_ENDPOINT, &ans, (const char *) arg);
	*response = okra_response_jsonb(OKRA_PAYOUT_GET_ENDPOINT, &ans);
	okra_json_free(ans.doc);
	return (Datum) 0;
}
