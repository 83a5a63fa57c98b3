/*-------------------------------------------------------------------------
 *
 * reads.c
 *	  Okra's lists of payments, read lazily: okra_list_payments (pay/list)
 *	  and okra_customer_payments (pay/get/, one customer's).
 *
 * Both are set-returning functions in value-per-call mode.  Each call
 * returns the next payment of the page in hand, and asks Okra for the next
 * page only when that page is used up and Okra said another follows
 * (data.pagination.hasNextPage): a LIMIT that the first page satisfies
 * costs one request.  That holds where PostgreSQL calls a set-returning
 * function row by row: in the select list (SELECT okra_list_payments(10)
 * LIMIT 10); in FROM it runs the function to the end first, every page.
 * They are reads: nothing is journaled and nothing is
 * written (they work in a read-only transaction and on a standby), and a
 * failed page is safe to ask for again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "answer.h"
#include "api.h"
#include "contract.h"
#include "ledger.h"
#include "okra.h"
#include "okra_json.h"

/* Largest page okra asks for (okra-sandbox takes more as 100) */
#define OKRA_PAGE_MAX	100

/* Most pages read: a list that never ends is an error */
#define OKRA_PAGES_MAX	100000

/* A list being read */
typedef struct PageReader
{
	const char *endpoint;
	char	   *customer_id;	/* okra_customer_payments' customer, or NULL */
	int			page_size;
	int			page;			/* the page in hand, from 1; 0 before the first */
	OkraAnswer	ans;			/* its answer */
	int			nitems;			/* payments on it */
	int			next;			/* the next one to return */
	bool		has_next;		/* Okra says another page follows */
} PageReader;

PG_FUNCTION_INFO_V1(okra_list_payments);
PG_FUNCTION_INFO_V1(okra_customer_payments);

static Datum read_list(FunctionCallInfo fcinfo, const char *endpoint,
					   int size_arg, bool by_customer);
static void fetch_page(PageReader *r, int page);

/*
 * okra_list_payments(page_size integer) RETURNS SETOF okra_payment
 */
Datum
okra_list_payments(PG_FUNCTION_ARGS)
{
	return read_list(fcinfo, "pay/list", 0, false);
}

/*
 * okra_customer_payments(customer_id text, page_size integer)
 * RETURNS SETOF okra_payment
 */
Datum
okra_customer_payments(PG_FUNCTION_ARGS)
{
	return read_list(fcinfo, "pay/get/", 1, true);
}

/*
 * The next row of the list at endpoint; argument size_arg is the page
 * size, and argument 0 the customer when by_customer.
 */
static Datum
read_list(FunctionCallInfo fcinfo, const char *endpoint, int size_arg,
		  bool by_customer)
{
	FuncCallContext *fctx;
	PageReader *r;
	MemoryContext old;
	OkraPaymentFields f;
	char	   *item;
	char	   *why;
	Datum		json;
	Datum		row;

	if (SRF_IS_FIRSTCALL())
	{
		TupleDesc	tupdesc;

		fctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(fctx->multi_call_memory_ctx);
		r = palloc0(sizeof(PageReader));
		r->endpoint = endpoint;
		if (by_customer)
		{
			if (PG_ARGISNULL(0))
				ereport(ERROR,
						errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("customer_id must not be null"));
			r->customer_id = okra_check_object_id(PG_GETARG_TEXT_PP(0),
												  "customer_id", "customer");
		}
		if (PG_ARGISNULL(size_arg))
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("page_size must not be null"));
		r->page_size = PG_GETARG_INT32(size_arg);
		if (r->page_size < 1 || r->page_size > OKRA_PAGE_MAX)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("invalid page_size: %d", r->page_size),
					errdetail("page_size is from 1 to %d.", OKRA_PAGE_MAX));
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE ||
			tupdesc->natts != OKRA_PAYMENT_NATTS)
			elog(ERROR, "okra_payment does not have %d columns", OKRA_PAYMENT_NATTS);
		fctx->tuple_desc = BlessTupleDesc(tupdesc);
		fctx->user_fctx = r;
		MemoryContextSwitchTo(old);
		/* the SQL objects match this library before anything is sent */
		okra_contract_check_version();
		okra_contract_check(okra_ledger_schema(fcinfo));
	}
	fctx = SRF_PERCALL_SETUP();
	r = fctx->user_fctx;

	old = MemoryContextSwitchTo(fctx->multi_call_memory_ctx);
	if (r->next >= r->nitems && (r->page == 0 || r->has_next))
		fetch_page(r, r->page + 1);
	MemoryContextSwitchTo(old);
	if (r->next >= r->nitems)
		SRF_RETURN_DONE(fctx);

	if (!okra_json_page_payment(r->ans.doc, "payments", r->next, &f, &item, &why))
		okra_error_invalid_response(r->endpoint, r->ans.http.status,
									"unexpected shape", why);
	if (!okra_safe_input(jsonb_in, item, InvalidOid, &json))
		okra_error_invalid_response(r->endpoint, r->ans.http.status,
									"the body has characters the database encoding cannot hold", NULL);
	r->next++;
	row = okra_payment_tuple(fctx->tuple_desc, &f, r->ans.http.received_at, json);
	SRF_RETURN_NEXT(fctx, row);
}

/*
 * Ask Okra for page number page of r's list, in place of the one in hand.
 * An empty page ends the list, whatever Okra says follows it.
 */
static void
fetch_page(PageReader *r, int page)
{
	StringInfoData body;
	char	   *why;

	if (r->ans.doc != NULL)
		okra_json_free(r->ans.doc);
	if (r->ans.http.body != NULL)
		pfree(r->ans.http.body);
	memset(&r->ans, 0, sizeof(r->ans));

	initStringInfo(&body);
	appendStringInfo(&body, "{\"page\":%d,\"limit\":%d", page, r->page_size);
	if (r->customer_id != NULL)
	{
		appendStringInfoString(&body, ",\"customer_id\":");
		escape_json(&body, r->customer_id);
	}
	appendStringInfoChar(&body, '}');
	okra_http_post(r->endpoint, body.data, body.len, &r->ans.http);
	pfree(body.data);
	okra_judge_answer(r->endpoint, &r->ans);
	if (!okra_json_page(r->ans.doc, "payments", &r->nitems, &r->has_next, &why))
		okra_error_invalid_response(r->endpoint, r->ans.http.status,
									"unexpected shape", why);
	r->page = page;
	r->next = 0;
	if (r->nitems == 0)
		r->has_next = false;
	else if (page >= OKRA_PAGES_MAX && r->has_next)
		ereport(ERROR,
				errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				errmsg("Okra API list \"%s\" has more than %d pages", r->endpoint,
					   OKRA_PAGES_MAX),
				errhint("Use a larger page_size, or a LIMIT."));
}
