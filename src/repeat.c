/*-------------------------------------------------------------------------
 *
 * repeat.c
 *	  A money-moving call made once, whatever copies of it PostgreSQL
 *	  evaluates.
 *
 * "SELECT (okra_refund(p, 100)).*" asks for one refund, but the parser
 * expands it into one copy of the call per column of okra_refund, each
 * evaluated on its own: twelve refunds.  So the answer of each call that
 * may move money is kept while the row it was evaluated for is, and a call
 * that is another copy of it (an equal call node at another address, for
 * the same row, with the same request and reference) gets that answer
 * instead of sending.
 *
 * "For the same row" is the memory the call was made in: the executor's
 * per-row memory, reset before the next row (and plpgsql's, before its
 * next statement), which forgets what was kept there.  A call node
 * evaluated again (the next row, the next statement, the next run of a
 * plan) is not a copy: it sends.  So two equal calls written twice in one
 * select list are one call, and nothing else is.
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
	MemoryContext row_cxt;		/* the row's memory, where this lives */
	Oid			fn_oid;
	Node	   *fn_expr;		/* the call node that sent it */
	char	   *key;			/* the request it sent, and its reference */
	Datum		result;			/* its answer (varlena: a row, or jsonb) */
	struct Kept *next;
} Kept;

/* What this backend's rows being evaluated sent */
static Kept *kept = NULL;

/* the row's memory is reset or deleted: forget what lived there */
static void
forget(void *arg)
{
	MemoryContext cxt = (MemoryContext) arg;
	Kept	  **k = &kept;

	while (*k != NULL)
	{
		if ((*k)->row_cxt == cxt)
			*k = (*k)->next;
		else
			k = &(*k)->next;
	}
}

static char *
key_of(const char *body, const char *reference)
{
	return psprintf("%s%c%s", body, '\0' + 1, reference ? reference : "");
}

static Kept *
lookup(FunctionCallInfo fcinfo, MemoryContext row_cxt, const char *key)
{
	Kept	   *k;

	for (k = kept; k != NULL; k = k->next)
	{
		if (k->row_cxt == row_cxt && k->fn_oid == fcinfo->flinfo->fn_oid &&
			strcmp(k->key, key) == 0)
			return k;
	}
	return NULL;
}

/*
 * The answer another copy of this call (body and reference: what it
 * sends) had for the same row (row_cxt: the memory current when the call
 * began), or 0.
 */
Datum
okra_repeat_find(FunctionCallInfo fcinfo, MemoryContext row_cxt,
				 const char *body, const char *reference)
{
	Node	   *expr = fcinfo->flinfo ? fcinfo->flinfo->fn_expr : NULL;
	Kept	   *k;

	if (expr == NULL ||
		(k = lookup(fcinfo, row_cxt, key_of(body, reference))) == NULL)
		return (Datum) 0;
	if (k->fn_expr == expr || !equal(k->fn_expr, expr))
		return (Datum) 0;
	return k->result;
}

/*
 * Keep the answer of a call that was sent, for the copies of it that
 * follow for the same row.
 */
void
okra_repeat_keep(FunctionCallInfo fcinfo, MemoryContext row_cxt,
				 const char *body, const char *reference, Datum result)
{
	FmgrInfo   *flinfo = fcinfo->flinfo;
	MemoryContext old;
	Kept	   *k;
	char	   *key;

	if (flinfo == NULL || flinfo->fn_expr == NULL || result == (Datum) 0)
		return;
	old = MemoryContextSwitchTo(row_cxt);
	key = key_of(body, reference);
	if ((k = lookup(fcinfo, row_cxt, key)) == NULL)
	{
		MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));

		k = palloc0(sizeof(Kept));
		k->row_cxt = row_cxt;
		k->fn_oid = flinfo->fn_oid;
		k->key = key;
		k->next = kept;
		kept = k;
		cb->func = forget;
		cb->arg = row_cxt;
		MemoryContextRegisterResetCallback(row_cxt, cb);
	}
	k->fn_expr = flinfo->fn_expr;
	k->result = datumCopy(result, false, -1);
	MemoryContextSwitchTo(old);
}
