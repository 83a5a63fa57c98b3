/*-------------------------------------------------------------------------
 *
 * api.h
 *	  What api.c shares with pending.c and outbox.c: building a request and
 *	  reading its answer.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_API_H
#define OKRA_API_H

#include "access/tupdesc.h"
#include "lib/stringinfo.h"
#include "http.h"

#define OKRA_VERIFY_ENDPOINT	"pay/verify"

extern Datum okra_read_answer(TupleDesc tupdesc, const char *endpoint,
							  const char *payment_id,
							  const OkraHttpResponse *http,
							  bool duplicate_is_answer, Datum *response);
extern ErrorData *okra_read_job(OkraHttpBatch *b, int i, TupleDesc tupdesc,
								const char *endpoint, const char *payment_id,
								bool duplicate_is_answer,
								OkraHttpResponse *http, Datum *answer,
								Datum *response);
extern void okra_refund_body(StringInfo body, const char *payment_id,
							 bool has_amount, int64 amount, const char *reason,
							 const char *account);

#endif							/* OKRA_API_H */
