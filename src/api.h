/*-------------------------------------------------------------------------
 *
 * api.h
 *	  What api.c shares with the other files of SQL-callable calls: the
 *	  call and its journaling (okra_logged_call), the checks every argument
 *	  goes through before anything is sent, and a refund's request body
 *	  (outbox.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_API_H
#define OKRA_API_H

#include "fmgr.h"
#include "access/tupdesc.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/date.h"

#include "answer.h"
#include "ledger.h"

/* What a call sends, and the ledger record it fills in */
typedef struct OkraCall
{
	const char *endpoint;
	const char *payment_id;		/* for the log line; may be NULL */
	const char *const *payment_keys;	/* where payment_send looks */
	bool		has_amount;		/* the amount it moves, for the journal */
	int64		amount;
	const char *reference;		/* the merchant's reference, for the journal */
	char	   *created_id;		/* the object the call created, once known */
	bool		answered;		/* Okra answered success */
	StringInfoData body;
	OkraLedgerCall record;
} OkraCall;

/* Sends the call (okra_call_send) and records it; returns the result */
typedef Datum (*OkraCallBody) (FunctionCallInfo fcinfo, OkraCall *call);

extern void okra_check_can_record(const char *fname);
extern Datum okra_logged_call(FunctionCallInfo fcinfo, OkraCall *call,
							  OkraCallBody fn);
extern void okra_call_send(OkraCall *call, OkraAnswer *ans);
extern TupleDesc okra_result_tupdesc(FunctionCallInfo fcinfo, int natts);

extern char *okra_check_object_id(text *arg, const char *argname,
								  const char *what);
extern bool okra_object_id_lower(char *s);
extern char *okra_check_reference(text *arg);
extern char *okra_iso_date(DateADT d, const char *argname);
extern void okra_schedule_body(FunctionCallInfo fcinfo, int argno,
							   bool one_time_type, StringInfo body);

extern Datum okra_referenced_call(FunctionCallInfo fcinfo, OkraCall *call,
								  const char *fname, const char *lookup,
								  OkraCallBody fn);
extern Datum okra_queue_after_commit(FunctionCallInfo fcinfo, const char *kind,
									 const char *body, const char *reference,
									 int64 amount);

extern void okra_refund_body(StringInfo body, const char *payment_id,
							 bool has_amount, int64 amount, const char *reason,
							 const char *account);

#endif							/* OKRA_API_H */
