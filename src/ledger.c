/*-------------------------------------------------------------------------
 *
 * ledger.c
 *	  Recording okra's calls in the extension's ledger tables.
 *
 * The tables belong to the extension's owner and the roles that call okra
 * get no privilege on them.  So the SQL-callable functions record through
 * two internal SECURITY DEFINER functions of sql/okra.sql,
 * okra_ledger_record and okra_ledger_guard_refund, which no role may
 * execute: they are found in the schema of the calling function itself
 * (never through search_path) and called by OID, which runs them as their
 * owner without an EXECUTE check.  Everything happens in the caller's
 * transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "ledger.h"

#define LEDGER_RECORD_NARGS	10

/*---- static prototypes ----*/
static Oid	ledger_function(FunctionCallInfo caller, const char *name);

/*
 * The OID of one of okra's internal functions, in the caller's schema.
 */
static Oid
ledger_function(FunctionCallInfo caller, const char *name)
{
	Oid			self = caller->flinfo ? caller->flinfo->fn_oid : InvalidOid;
	char	   *schema;
	Oid			fn;

	if (!OidIsValid(self))
		elog(ERROR, "okra function called without a function OID");
	schema = get_namespace_name(get_func_namespace(self));
	if (schema == NULL)
		elog(ERROR, "cache lookup failed for the schema of function %u", self);
	fn = LookupFuncName(list_make2(makeString(schema), makeString(pstrdup(name))),
						-1, NULL, true);
	if (!OidIsValid(fn))
		ereport(ERROR,
				errcode(ERRCODE_UNDEFINED_FUNCTION),
				errmsg("function %s.%s does not exist",
					   quote_identifier(schema), name),
				errhint("The okra extension's objects are incomplete; reinstall it with DROP EXTENSION and CREATE EXTENSION."));
	return fn;
}

/*
 * Before a refund is sent: lock the payment's ledger row until the end of
 * the transaction and refuse (OK001, OK002) what the ledger already knows
 * Okra would refuse.
 */
void
okra_ledger_guard_refund(FunctionCallInfo caller, const char *payment_id,
						 bool has_amount, int64 amount)
{
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fc, 2);

	fmgr_info(ledger_function(caller, "okra_ledger_guard_refund"), &flinfo);
	InitFunctionCallInfoData(*fc, &flinfo, 2, InvalidOid, NULL, NULL);
	fc->args[0].value = CStringGetTextDatum(payment_id);
	fc->args[0].isnull = false;
	fc->args[1].value = Int64GetDatum(amount);
	fc->args[1].isnull = !has_amount;
	(void) FunctionCallInvoke(fc);
}

/*
 * Record one call that succeeded: the call itself, and the payment or the
 * refund it returned (each may be NULL).
 */
void
okra_ledger_record(FunctionCallInfo caller, const OkraLedgerCall *call)
{
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fc, LEDGER_RECORD_NARGS);
	int			i;

	fmgr_info(ledger_function(caller, "okra_ledger_record"), &flinfo);
	InitFunctionCallInfoData(*fc, &flinfo, LEDGER_RECORD_NARGS, InvalidOid,
							 NULL, NULL);
	for (i = 0; i < LEDGER_RECORD_NARGS; i++)
		fc->args[i].isnull = false;
	fc->args[0].value = CStringGetTextDatum(call->endpoint);
	fc->args[1].value = CStringGetTextDatum(call->request);
	fc->args[2].value = Int32GetDatum((int32) call->http_status);
	fc->args[3].value = TimestampTzGetDatum(call->started_at);
	fc->args[4].value = TimestampTzGetDatum(call->finished_at);
	fc->args[5].value = DirectFunctionCall1(namein,
											CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	fc->args[6].value = call->payment;
	fc->args[6].isnull = (call->payment == (Datum) 0);
	fc->args[7].value = call->refund;
	fc->args[7].isnull = (call->refund == (Datum) 0);
	fc->args[8].value = BoolGetDatum(call->full_refund);
	fc->args[9].value = call->response;
	fc->args[9].isnull = (call->response == (Datum) 0);
	(void) FunctionCallInvoke(fc);
}

/*
 * In a PG_CATCH block of a money-moving call: one server log line naming
 * the endpoint, the payment and the SQLSTATE, so that a call whose ledger
 * rows are rolled back with it still leaves a trace.  cxt is a memory
 * context outside ErrorContext.
 */
void
okra_ledger_log_failure(const char *endpoint, const char *payment_id,
						MemoryContext cxt)
{
	MemoryContext ecxt = MemoryContextSwitchTo(cxt);
	ErrorData  *edata = CopyErrorData();

	ereport(LOG,
			errmsg("Okra API request \"%s\" for payment \"%s\" failed with SQLSTATE %s",
				   endpoint, payment_id ? payment_id : "(none)",
				   unpack_sql_state(edata->sqlerrcode)),
			errdetail_internal("%s", edata->message),
			errhidestmt(true));
	FreeErrorData(edata);
	MemoryContextSwitchTo(ecxt);
}
