/*-------------------------------------------------------------------------
 *
 * ledger.c
 *	  Recording okra's calls in the extension's ledger tables.
 *
 * The tables belong to the extension's owner and the roles that call okra
 * get no privilege on them.  So the SQL-callable functions record through
 * internal SECURITY DEFINER functions of sql/okra.sql,
 * such as okra_ledger_record and okra_ledger_guard_refund, which no role
 * may execute: they are found in the schema of the calling function itself
 * (never through search_path), by name and number of arguments among the
 * extension's own functions (contract.c, which also checks their
 * signatures once), and called by OID, which runs them as their owner
 * without an EXECUTE check.  Everything happens in the caller's
 * transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "funcapi.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "compat.h"
#include "contract.h"
#include "ledger.h"

#define LEDGER_RECORD_NARGS	10

/*
 * The schema of the calling function: okra's own.
 */
Oid
okra_ledger_schema(FunctionCallInfo caller)
{
	Oid			self = caller->flinfo ? caller->flinfo->fn_oid : InvalidOid;

	if (!OidIsValid(self))
		elog(ERROR, "okra function called without a function OID");
	return get_func_namespace(self);
}

/*
 * Call one of okra's internal functions in schema nsp with nargs arguments
 * (NULL where nulls says so) and return its result.  Only the extension's
 * own function of that name and number of arguments is called, never one
 * another role created beside it (contract.c).
 */
Datum
okra_ledger_call_in(Oid nsp, const char *name, int nargs, const Datum *args,
					const bool *nulls, bool *isnull)
{
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fc, FUNC_MAX_ARGS);
	Datum		result;
	int			i;

	Assert(nargs <= FUNC_MAX_ARGS);
	fmgr_info(okra_contract_function(nsp, name, nargs), &flinfo);
	InitFunctionCallInfoData(*fc, &flinfo, nargs, InvalidOid, NULL, NULL);
	for (i = 0; i < nargs; i++)
	{
		fc->args[i].value = args[i];
		fc->args[i].isnull = nulls[i];
	}
	result = FunctionCallInvoke(fc);
	*isnull = fc->isnull;
	return result;
}

/*
 * The same, in the schema of the calling function.
 */
Datum
okra_ledger_call(FunctionCallInfo caller, const char *name, int nargs,
				 const Datum *args, const bool *nulls, bool *isnull)
{
	return okra_ledger_call_in(okra_ledger_schema(caller), name, nargs, args,
							   nulls, isnull);
}

/*
 * The calling role, as a name Datum: who the ledger says made a call.
 */
Datum
okra_ledger_role(void)
{
	return DirectFunctionCall1(namein,
							   CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
}

/*
 * Record one call that succeeded: the call itself, and the payment or the
 * refund it returned (each may be NULL).  True if a payment's status
 * changed.
 */
bool
okra_ledger_record(FunctionCallInfo caller, const OkraLedgerCall *call)
{
	Datum		args[LEDGER_RECORD_NARGS];
	bool		nulls[LEDGER_RECORD_NARGS] = {false};
	bool		isnull;
	Datum		changed;

	args[0] = CStringGetTextDatum(call->endpoint);
	args[1] = CStringGetTextDatum(call->request);
	args[2] = Int32GetDatum((int32) call->http_status);
	args[3] = TimestampTzGetDatum(call->started_at);
	args[4] = TimestampTzGetDatum(call->finished_at);
	args[5] = okra_ledger_role();
	args[6] = call->payment;
	nulls[6] = (call->payment == (Datum) 0);
	args[7] = call->refund;
	nulls[7] = (call->refund == (Datum) 0);
	args[8] = BoolGetDatum(call->full_refund);
	args[9] = call->response;
	nulls[9] = (call->response == (Datum) 0);
	changed = okra_ledger_call(caller, "okra_ledger_record", LEDGER_RECORD_NARGS,
							   args, nulls, &isnull);
	return !isnull && DatumGetBool(changed);
}

/*
 * Record a check of a payment that failed with the given SQLSTATE and
 * message: the call, and the payment's error and next check.
 */
void
okra_ledger_check_failed(FunctionCallInfo caller, const OkraLedgerCall *call,
						 const char *payment_id, int sqlerrcode,
						 const char *message)
{
	Datum		args[9];
	bool		nulls[9] = {false};
	bool		isnull;

	args[0] = CStringGetTextDatum(payment_id);
	args[1] = CStringGetTextDatum(call->endpoint);
	args[2] = CStringGetTextDatum(call->request);
	args[3] = Int32GetDatum((int32) call->http_status);
	args[4] = CStringGetTextDatum(unpack_sql_state(sqlerrcode));
	args[5] = CStringGetTextDatum(message ? message : "");
	args[6] = TimestampTzGetDatum(call->started_at);
	args[7] = TimestampTzGetDatum(call->finished_at);
	args[8] = okra_ledger_role();
	(void) okra_ledger_call(caller, "okra_ledger_check_failed", 9, args, nulls,
							&isnull);
}

/*
 * okra_payment (which = OKRA_LEDGER_PAYMENT) or okra_refund
 * (OKRA_LEDGER_REFUND), as the ledger takes them, blessed; okra's schema
 * is nsp.  The contract (contract.c) fixes their columns and makes them
 * okra_ledger_record's arguments 7 and 8.
 */
TupleDesc
okra_ledger_rowtype(Oid nsp, int which)
{
	const char *name;

	if (which == OKRA_LEDGER_PAYMENT)
		name = "okra_payment";
	else if (which == OKRA_LEDGER_REFUND)
		name = "okra_refund";
	else
		elog(ERROR, "unrecognized okra row type %d", which);
	okra_contract_check(nsp);
	return BlessTupleDesc(lookup_rowtype_tupdesc_copy(okra_contract_type(nsp, name), -1));
}

/*
 * In a PG_CATCH block of a money-moving call: one server log line naming
 * the endpoint, the payment and the SQLSTATE, so that a call whose ledger
 * rows are rolled back with it still leaves a trace.  edata is a copy of
 * the error.
 */
void
okra_ledger_log_failure(const char *endpoint, const char *payment_id,
						const ErrorData *edata)
{
	ereport(LOG,
			errmsg("Okra API request \"%s\" for payment \"%s\" failed with SQLSTATE %s",
				   endpoint, payment_id ? payment_id : "(none)",
				   unpack_sql_state(edata->sqlerrcode)),
			errdetail_internal("%s", edata->message),
			errhidestmt(true));
}
