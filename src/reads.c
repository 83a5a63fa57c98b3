/*-------------------------------------------------------------------------
 *
 * reads.c
 *	  Okra's lists, read lazily: okra_list_payments (pay/list) and
 *	  okra_customer_payments (pay/get/, one customer's) of okra_payment
 *	  rows; okra_list_authorizations (pay/authorization/list) and
 *	  okra_customer_authorizations (pay/authorization/getByCustomer) of
 *	  okra_authorization rows.
 *
 * All are set-returning functions in value-per-call mode.  Each call
 * returns the next item of the page in hand, and asks Okra for the next
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
#include "authorizations.h"
#include "contract.h"
#include "ledger.h"
#include "okra.h"
#include "okra_json.h"

/* Largest page okra asks for (okra-sandbox takes more as 100) */
#define OKRA_PAGE_MAX	100

/* Most pages read: a list that never ends is an error */
#define OKRA_PAGES_MAX	100000

typedef struct PageReader PageReader;

/* One kind of list: where it is read, and how its items become rows */
typedef struct ListKind
{
	const char *endpoint;
	const char *items_key;		/* the page's items are data.<items_key> */
	const char *customer_key;	/* the request's key for the customer, or NULL */
	int			natts;			/* columns of the row type */
	bool		page_jsonb;		/* row() reads the page as jsonb */
	Datum		(*row) (PageReader *r, TupleDesc tupdesc);	/* item r->next */
} ListKind;

/* A list being read */
struct PageReader
{
	const ListKind *kind;
	const char *endpoint;
	char	   *customer_id;	/* the customer of a list by customer, or NULL */
	int			page_size;
	int			page;			/* the page in hand, from 1; 0 before the first */
	OkraAnswer	ans;			/* its answer */
	Datum		json;			/* the same as jsonb, if kind->page_jsonb */
	int			nitems;			/* items on it */
	int			next;			/* the next one to return */
	bool		has_next;		/* Okra says another page follows */
};

PG_FUNCTION_INFO_V1(okra_list_payments);
PG_FUNCTION_INFO_V1(okra_customer_payments);
PG_FUNCTION_INFO_V1(okra_list_authorizations);
PG_FUNCTION_INFO_V1(okra_customer_authorizations);

static Datum read_list(FunctionCallInfo fcinfo, const ListKind *kind);
static void fetch_page(PageReader *r, int page);
static Datum payment_row(PageReader *r, TupleDesc tupdesc);
static Datum authorization_row(PageReader *r, TupleDesc tupdesc);

static const ListKind payments = {
	"pay/list", "payments", NULL, OKRA_PAYMENT_NATTS, false, payment_row
};
static const ListKind customer_payments = {
	"pay/get/", "payments", "customer_id", OKRA_PAYMENT_NATTS, false, payment_row
};
static const ListKind authorizations = {
	"pay/authorization/list", "authorizations", NULL,
	OKRA_AUTHORIZATION_NATTS, true, authorization_row
};
static const ListKind customer_authorizations = {
	"pay/authorization/getByCustomer", "authorizations", "customer",
	OKRA_AUTHORIZATION_NATTS, true, authorization_row
};

/*
 * okra_list_payments(page_size integer) RETURNS SETOF okra_payment
 */
Datum
okra_list_payments(PG_FUNCTION_ARGS)
{
	return read_list(fcinfo, &payments);
}

/*
 * okra_customer_payments(customer_id text, page_size integer)
 * RETURNS SETOF okra_payment
 */
Datum
okra_customer_payments(PG_FUNCTION_ARGS)
{
	return read_list(fcinfo, &customer_payments);
}

/*
 * okra_list_authorizations(page_size integer)
 * RETURNS SETOF okra_authorization
 */
Datum
okra_list_authorizations(PG_FUNCTION_ARGS)
{
	return read_list(fcinfo, &authorizations);
}

/*
 * okra_customer_authorizations(customer_id text, page_size integer)
 * RETURNS SETOF okra_authorization
 */
Datum
okra_customer_authorizations(PG_FUNCTION_ARGS)
{
	return read_list(fcinfo, &customer_authorizations);
}

/*
 * The next row of a list of kind; the last argument is the page size, and
 * argument 0 the customer of a list by customer.
 */
static Datum
read_list(FunctionCallInfo fcinfo, const ListKind *kind)
{
	FuncCallContext *fctx;
	PageReader *r;
	MemoryContext old;
	int			size_arg = kind->customer_key ? 1 : 0;
	Datum		row;

	if (SRF_IS_FIRSTCALL())
	{
		TupleDesc	tupdesc;

		fctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(fctx->multi_call_memory_ctx);
		r = palloc0(sizeof(PageReader));
		r->kind = kind;
		r->endpoint = kind->endpoint;
		if (kind->customer_key != NULL)
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
			tupdesc->natts != kind->natts)
			elog(ERROR, "okra result type does not have %d columns", kind->natts);
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

	row = kind->row(r, fctx->tuple_desc);
	r->next++;
	SRF_RETURN_NEXT(fctx, row);
}

/*
 * Item r->next of the page in hand as okra_payment.
 */
static Datum
payment_row(PageReader *r, TupleDesc tupdesc)
{
	OkraPaymentFields f;
	char	   *item;
	char	   *why;
	Datum		json;

	if (!okra_json_page_payment(r->ans.doc, "payments", r->next, &f, &item, &why))
		okra_error_invalid_response(r->endpoint, r->ans.http.status,
									"unexpected shape", why);
	if (!okra_safe_input(jsonb_in, item, InvalidOid, &json))
		okra_error_invalid_response(r->endpoint, r->ans.http.status,
									"the body has characters the database encoding cannot hold", NULL);
	return okra_payment_tuple(tupdesc, &f, r->ans.http.received_at, json);
}

/*
 * Item r->next of the page in hand as okra_authorization.
 */
static Datum
authorization_row(PageReader *r, TupleDesc tupdesc)
{
	return okra_authorization_list_row(tupdesc, r->endpoint, r->ans.http.status,
									   r->json, r->next,
									   r->ans.http.received_at);
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
	if (r->json != (Datum) 0)
		pfree(DatumGetPointer(r->json));
	memset(&r->ans, 0, sizeof(r->ans));
	r->json = (Datum) 0;

	initStringInfo(&body);
	appendStringInfo(&body, "{\"page\":%d,\"limit\":%d", page, r->page_size);
	if (r->customer_id != NULL)
	{
		appendStringInfo(&body, ",\"%s\":", r->kind->customer_key);
		escape_json(&body, r->customer_id);
	}
	appendStringInfoChar(&body, '}');
	okra_http_post(r->endpoint, body.data, body.len, &r->ans.http);
	pfree(body.data);
	okra_judge_answer(r->endpoint, &r->ans);
	if (!okra_json_page(r->ans.doc, r->kind->items_key, &r->nitems, &r->has_next, &why))
		okra_error_invalid_response(r->endpoint, r->ans.http.status,
									"unexpected shape", why);
	if (r->kind->page_jsonb)
		r->json = okra_response_jsonb(r->endpoint, &r->ans);
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
