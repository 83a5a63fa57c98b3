/*-------------------------------------------------------------------------
 *
 * repeat.c
 *	  A money-moving call made once, whatever copies of it PostgreSQL
 *	  evaluates.
 *
 * "SELECT (okra_refund(p, 100)).*" asks for one refund, but the parser
 * expands it into one copy of the call per column of okra_refund, each
 * evaluated on its own: twelve refunds.  So the answer of each call that
 * may move money is kept for the rest of its query, and a call that is
 * another copy of it (an equal call node at another address, in the same
 * query, with the same request) gets that answer instead of sending.
 *
 * A call node evaluated again (the next row of the same query, the next
 * run of a plan) is not a copy: it sends, and its answer replaces the one
 * kept.  What is kept lives in the query's memory (fn_mcxt), and is
 * forgotten when that is reset or deleted.  So two equal calls written
 * twice in one query's select list are one call, and nothing else is.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/nodes.h"
#include "utils/datum.h"
#include "utils/memutils.h"

#include "repeat.h"

typedef struct Kept
{
	MemoryContext query_cxt;	/* the query's memory, where this lives */
	Oid			fn_oid;
	Node	   *fn_expr;		/* the call node that sent it */
	char	   *body;			/* the request it sent */
	Datum		result;			/* its answer (varlena: a row, or jsonb) */
	struct Kept *next;
} Kept;

/* What this backend's running queries sent */
static Kept *kept = NULL;

/* the query's memory is going: forget what lived there */
static void
forget(void *arg)
{
	MemoryContext cxt = (MemoryContext) arg;
	Kept	  **k = &kept;

	while (*k != NULL)
	{
		if ((*k)->query_cxt == cxt)
			*k = (*k)->next;
		else
			k = &(*k)->next;
	}
}

static Kept *
lookup(FunctionCallInfo fcinfo, const char *body)
{
	FmgrInfo   *flinfo = fcinfo->flinfo;
	Kept	   *k;

	for (k = kept; k != NULL; k = k->next)
	{
		if (k->query_cxt == flinfo->fn_mcxt && k->fn_oid == flinfo->fn_oid &&
			strcmp(k->body, body) == 0)
			return k;
	}
	return NULL;
}

/*
 * The answer this call's query already had from another copy of this call
 * with the same request, or 0.
 */
Datum
okra_repeat_find(FunctionCallInfo fcinfo, const char *body)
{
	Node	   *expr = fcinfo->flinfo ? fcinfo->flinfo->fn_expr : NULL;
	Kept	   *k;

	if (expr == NULL || (k = lookup(fcinfo, body)) == NULL)
		return (Datum) 0;
	if (k->fn_expr == expr || !equal(k->fn_expr, expr))
		return (Datum) 0;
	return k->result;
}

/*
 * Keep the answer of a call that was sent, for the copies of it that
 * follow in its query.
 */
void
okra_repeat_keep(FunctionCallInfo fcinfo, const char *body, Datum result)
{
	FmgrInfo   *flinfo = fcinfo->flinfo;
	MemoryContext old;
	Kept	   *k;

	if (flinfo == NULL || flinfo->fn_expr == NULL || result == (Datum) 0)
		return;
	old = MemoryContextSwitchTo(flinfo->fn_mcxt);
	if ((k = lookup(fcinfo, body)) == NULL)
	{
		MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));

		k = palloc0(sizeof(Kept));
		k->query_cxt = flinfo->fn_mcxt;
		k->fn_oid = flinfo->fn_oid;
		k->body = pstrdup(body);
		k->next = kept;
		kept = k;
		cb->func = forget;
		cb->arg = flinfo->fn_mcxt;
		MemoryContextRegisterResetCallback(flinfo->fn_mcxt, cb);
	}
	k->fn_expr = flinfo->fn_expr;
	k->result = datumCopy(result, false, -1);
	MemoryContextSwitchTo(old);
}
