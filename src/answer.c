/*-------------------------------------------------------------------------
 *
 * answer.c
 *	  Reading Okra's answers: a success turned into okra_payment,
 *	  okra_refund or jsonb, anything else raised with its SQLSTATE
 *	  (errors.c).  Used by the synchronous calls (api.c), scheduled
 *	  verification (pending.c) and the outbox (outbox.c).
 *
 * An answer arrives after Okra may already have moved money, so nothing
 * here raises an unrelated SQLSTATE: what cannot be read is OK011
 * (safe.c does the type input).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "answer.h"
#include "okra.h"
#include "okra_json.h"

/* Longest argument value quoted back in an error message */
#define OKRA_QUOTE_MAX		64

/* Where okra_verify and okra_cancel find the payment in Okra's answer */
const char *const okra_verify_keys[] = {"payment_status", "payment", NULL};
const char *const okra_cancel_keys[] = {"payment", "payment_status", NULL};

/*---- static prototypes ----*/
static Datum text_or_null(const char *s, bool *isnull);
static void check_same_payment(const char *endpoint, long http_status,
							   const char *answered, const char *asked);

/*
 * A value quoted back in a message, clipped to OKRA_QUOTE_MAX bytes.
 */
char *
okra_quote_clip(const char *s)
{
	int			len = strlen(s);
	int			clip;

	if (len <= OKRA_QUOTE_MAX)
		return pstrdup(s);
	clip = pg_mbcliplen(s, len, OKRA_QUOTE_MAX);
	return psprintf("%.*s...", clip, s);
}

/*
 * Parse an answer and return if it is a success; raise the matching
 * error if it is not.
 */
void
okra_judge_answer(const char *endpoint, OkraAnswer *ans)
{
	char	   *jerr = NULL;
	bool		is_2xx;
	OkraErrorBody err;

	if (pg_verify_mbstr(PG_UTF8, ans->http.body, (int) ans->http.body_len, true))
		ans->doc = okra_json_parse(ans->http.body, ans->http.body_len, &jerr);
	else
	{
		ans->doc = NULL;
		jerr = pstrdup("The response body is not valid UTF-8.");
	}

	is_2xx = (ans->http.status >= 200 && ans->http.status < 300);
	if (is_2xx && ans->doc != NULL && okra_json_is_success(ans->doc))
		return;

	okra_json_error_body(ans->doc, &err);
	if (is_2xx && ans->doc == NULL)
		okra_error_invalid_response(endpoint, ans->http.status,
									"the body is not a JSON object", jerr);
	if (is_2xx && err.status == NULL)
		okra_error_invalid_response(endpoint, ans->http.status,
									"the body has no \"status\"", NULL);
	okra_error_rejected(endpoint, ans->http.status, &err);
}

/*
 * The whole response body as jsonb, in the server encoding.
 */
Datum
okra_response_jsonb(const char *endpoint, const OkraAnswer *ans)
{
	char	   *text;
	Datum		result;

	text = okra_utf8_to_server(ans->http.body, ans->http.body_len, false);
	if (text == NULL)
		okra_error_invalid_response(endpoint, ans->http.status,
									"the body has characters the database encoding cannot hold", NULL);
	if (!okra_safe_input(jsonb_in, text, InvalidOid, &result))
		okra_error_invalid_response(endpoint, ans->http.status,
									"the body cannot be stored as jsonb", NULL);
	return result;
}

/*
 * A text Datum, or NULL.
 */
static Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = (s == NULL);
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * An answer about another payment than the one asked for is unusable.
 */
static void
check_same_payment(const char *endpoint, long http_status,
				   const char *answered, const char *asked)
{
	if (strcmp(answered, asked) != 0)
		okra_error_invalid_response(endpoint, http_status,
									psprintf("the answer is about payment \"%s\"",
											 okra_quote_clip(answered)),
									NULL);
}

/*
 * The okra_payment in a successful answer, and the whole body as jsonb.
 */
Datum
okra_payment_answer(TupleDesc tupdesc, const char *endpoint, const char *payment_id,
			   const char *const *keys, OkraAnswer *ans, Datum *response)
{
	OkraPaymentFields f;
	char	   *why;

	if (!okra_json_payment(ans->doc, keys, &f, &why))
		okra_error_invalid_response(endpoint, ans->http.status,
									"unexpected shape", why);
	check_same_payment(endpoint, ans->http.status, f.payment_id, payment_id);

	*response = okra_response_jsonb(endpoint, ans);
	okra_json_free(ans->doc);
	ans->doc = NULL;
	return okra_payment_tuple(tupdesc, &f, ans->http.received_at, *response);
}

/*
 * An okra_payment row: the payment's fields, when the answer arrived, and
 * the JSON it came in.
 */
Datum
okra_payment_tuple(TupleDesc tupdesc, const OkraPaymentFields *f,
				   TimestampTz checked_at, Datum response)
{
	Datum		values[OKRA_PAYMENT_NATTS];
	bool		nulls[OKRA_PAYMENT_NATTS];

	memset(nulls, 0, sizeof(nulls));
	values[0] = text_or_null(f->payment_id, &nulls[0]);
	values[1] = text_or_null(f->status, &nulls[1]);
	values[2] = Int64GetDatum(f->amount);
	nulls[2] = !f->has_amount;
	values[3] = text_or_null(f->currency, &nulls[3]);
	values[4] = text_or_null(f->customer_id, &nulls[4]);
	values[5] = text_or_null(f->link_url, &nulls[5]);
	values[6] = text_or_null(f->response_status, &nulls[6]);
	values[7] = text_or_null(f->env, &nulls[7]);
	values[8] = TimestampTzGetDatum(checked_at);
	values[9] = response;
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/* okra_read_job's arguments, for read_answer */
typedef struct ReadAnswerArgs
{
	TupleDesc	tupdesc;
	const char *endpoint;
	const char *payment_id;
	bool		duplicate_is_answer;
} ReadAnswerArgs;

static Datum
read_answer(void *arg, const OkraHttpResponse *http, Datum *response)
{
	ReadAnswerArgs *a = (ReadAnswerArgs *) arg;

	return okra_read_answer(a->tupdesc, a->endpoint, a->payment_id, http,
							a->duplicate_is_answer, response);
}

/*
 * Job i of batch b, read as okra_read_answer() reads it: see
 * okra_read_job_with.
 */
ErrorData *
okra_read_job(OkraHttpBatch *b, int i, TupleDesc tupdesc, const char *endpoint,
			  const char *payment_id, bool duplicate_is_answer,
			  OkraHttpResponse *http, Datum *answer, Datum *response)
{
	ReadAnswerArgs a = {tupdesc, endpoint, payment_id, duplicate_is_answer};

	return okra_read_job_with(b, i, read_answer, &a, http, answer, response);
}

/*
 * Job i of batch b, read by reader (which raises as the synchronous call
 * would), in a subtransaction that writes nothing: NULL, with *answer and
 * *response set, or the error that is this request's outcome.  Cancel,
 * shutdown and running out of memory are raised, not returned.  *http is
 * filled in either way.
 */
ErrorData *
okra_read_job_with(OkraHttpBatch *b, int i, OkraJobReader reader, void *arg,
				   OkraHttpResponse *http, Datum *answer, Datum *response)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	memset(http, 0, sizeof(*http));
	*answer = (Datum) 0;
	*response = (Datum) 0;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		okra_http_batch_result(b, i, http);
		*answer = reader(arg, http, response);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;

	if (edata != NULL &&
		(edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
		 edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
		 edata->sqlerrcode == ERRCODE_OUT_OF_MEMORY))
		ReThrowError(edata);
	return edata;
}

/*
 * The okra_refund in an answer (a success, or the refund a "Duplicate
 * request" carries), and the whole body as jsonb.
 */
Datum
okra_refund_answer(TupleDesc tupdesc, const char *payment_id, OkraAnswer *ans,
			  Datum *response)
{
	const char *endpoint = "pay/refund";
	OkraRefundFields f;
	char	   *why;
	Datum		values[OKRA_REFUND_NATTS];
	bool		nulls[OKRA_REFUND_NATTS];

	if (!okra_json_refund(ans->doc, &f, &why))
		okra_error_invalid_response(endpoint, ans->http.status,
									"unexpected shape", why);
	/* the refund is of the payment asked for, whether Okra says so or not */
	if (f.payment_id == NULL)
		f.payment_id = pstrdup(payment_id);
	check_same_payment(endpoint, ans->http.status, f.payment_id, payment_id);

	memset(nulls, 0, sizeof(nulls));
	values[0] = text_or_null(f.refund_id, &nulls[0]);
	values[1] = text_or_null(f.payment_id, &nulls[1]);
	values[2] = Int64GetDatum(f.amount);
	nulls[2] = !f.has_amount;
	values[3] = text_or_null(f.currency, &nulls[3]);
	values[4] = text_or_null(f.status, &nulls[4]);
	values[5] = text_or_null(f.reason, &nulls[5]);
	values[6] = text_or_null(f.refund_payment_id, &nulls[6]);
	values[7] = text_or_null(f.refund_payment_status, &nulls[7]);
	values[8] = Int64GetDatum(f.wallet_balance);
	nulls[8] = !f.has_wallet_balance;
	values[9] = text_or_null(f.message, &nulls[9]);
	nulls[10] = true;
	values[10] = (Datum) 0;
	if (f.created_at != NULL &&
		okra_safe_input(timestamptz_in, f.created_at, InvalidOid, &values[10]))
		nulls[10] = false;
	values[11] = okra_response_jsonb(endpoint, ans);
	okra_json_free(ans->doc);
	ans->doc = NULL;

	*response = values[11];
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * For the outbox (outbox.c): the answer to a request sent by another path,
 * as okra_verify, okra_cancel or okra_refund would read it, or raise as
 * they would.  A refund answered "Duplicate request" with the refund in it
 * is taken as that refund when duplicate_is_answer.  An initiate's or a
 * payout's answer is only judged: 0, with the whole body in *response
 * (okra_outbox_created reads what it created).
 */
Datum
okra_read_answer(TupleDesc tupdesc, const char *endpoint,
				 const char *payment_id, const OkraHttpResponse *http,
				 bool duplicate_is_answer, Datum *response)
{
	OkraAnswer	ans;
	bool		refund = (strcmp(endpoint, "pay/refund") == 0);

	ans.http = *http;
	ans.doc = NULL;
	if (strcmp(endpoint, "pay/initiate") == 0 || strcmp(endpoint, "pay/payout") == 0)
	{
		okra_judge_answer(endpoint, &ans);
		*response = okra_response_jsonb(endpoint, &ans);
		okra_json_free(ans.doc);
		return (Datum) 0;
	}
	if (!refund)
	{
		okra_judge_answer(endpoint, &ans);
		return okra_payment_answer(tupdesc, endpoint, payment_id,
							  strcmp(endpoint, "pay/cancel") == 0 ?
							  okra_cancel_keys : okra_verify_keys,
							  &ans, response);
	}
	PG_TRY();
	{
		okra_judge_answer(endpoint, &ans);
	}
	PG_CATCH();
	{
		if (!duplicate_is_answer || geterrcode() != ERRCODE_OKRA_DUPLICATE_REFUND ||
			ans.doc == NULL)
			PG_RE_THROW();
		/* nothing but json-c and palloc ran since the raise: carry on */
		FlushErrorState();
	}
	PG_END_TRY();
	return okra_refund_answer(tupdesc, payment_id, &ans, response);
}
