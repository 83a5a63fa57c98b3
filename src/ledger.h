/*-------------------------------------------------------------------------
 *
 * ledger.h
 *	  Recording okra's calls in the ledger tables (ledger.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_LEDGER_H
#define OKRA_LEDGER_H

#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "fmgr.h"

/* One call that succeeded, as okra_ledger_record stores it */
typedef struct OkraLedgerCall
{
	const char *endpoint;
	const char *request;		/* the JSON body sent (never the key) */
	long		http_status;
	TimestampTz started_at;
	TimestampTz finished_at;
	Datum		payment;		/* okra_payment, or 0 */
	Datum		refund;			/* okra_refund, or 0 */
	bool		full_refund;	/* the refund named no amount */
	Datum		response;		/* jsonb, or 0 */
} OkraLedgerCall;

extern Oid	okra_ledger_schema(FunctionCallInfo caller);
extern Datum okra_ledger_role(void);
extern Datum okra_ledger_call_in(Oid nsp, const char *name, int nargs,
								 const Datum *args, const bool *nulls,
								 bool *isnull);
extern Datum okra_ledger_call(FunctionCallInfo caller, const char *name,
							  int nargs, const Datum *args, const bool *nulls,
							  bool *isnull);
extern bool okra_ledger_record(FunctionCallInfo caller,
							   const OkraLedgerCall *call);
extern void okra_ledger_check_failed(FunctionCallInfo caller,
									 const OkraLedgerCall *call,
									 const char *payment_id, int sqlerrcode,
									 const char *message);
extern TupleDesc okra_ledger_rowtype(Oid nsp, int which);

/* okra_ledger_rowtype(): which row type (okra_payment, okra_refund) */
#define OKRA_LEDGER_PAYMENT	6
#define OKRA_LEDGER_REFUND	7
extern void okra_ledger_log_failure(const char *endpoint,
									const char *payment_id,
									const ErrorData *edata);

#endif							/* OKRA_LEDGER_H */
