/*-------------------------------------------------------------------------
 *
 * answer.h
 *	  Reading Okra's answers (answer.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_ANSWER_H
#define OKRA_ANSWER_H

#include "access/tupdesc.h"
#include "http.h"
#include "okra_json.h"

#define OKRA_VERIFY_ENDPOINT	"pay/verify"

/* Columns of okra_payment and okra_refund, as in sql/okra.sql */
#define OKRA_PAYMENT_NATTS	10
#define OKRA_REFUND_NATTS	12

/* An answer that is a success: the body and its parsed tree */
typedef struct OkraAnswer
{
	OkraHttpResponse http;
	OkraJsonDoc *doc;
} OkraAnswer;

extern const char *const okra_verify_keys[];
extern const char *const okra_cancel_keys[];

extern char *okra_quote_clip(const char *s);
extern void okra_judge_answer(const char *endpoint, OkraAnswer *ans);
extern Datum okra_response_jsonb(const char *endpoint, const OkraAnswer *ans);
extern Datum okra_payment_answer(TupleDesc tupdesc, const char *endpoint,
								 const char *payment_id,
								 const char *const *keys, OkraAnswer *ans,
								 Datum *response);
extern Datum okra_payment_tuple(TupleDesc tupdesc, const OkraPaymentFields *f,
								TimestampTz checked_at, Datum response);
extern Datum okra_refund_answer(TupleDesc tupdesc, const char *payment_id,
								OkraAnswer *ans, Datum *response);
extern Datum okra_read_answer(TupleDesc tupdesc, const char *endpoint,
							  const char *payment_id,
							  const OkraHttpResponse *http,
							  bool duplicate_is_answer, Datum *response);
extern ErrorData *okra_read_job(OkraHttpBatch *b, int i, TupleDesc tupdesc,
								const char *endpoint, const char *payment_id,
								bool duplicate_is_answer,
								OkraHttpResponse *http, Datum *answer,
								Datum *response);

/* Reads one answer of a batch (okra_read_job_with): raises as a call would */
typedef Datum (*OkraJobReader) (void *arg, const OkraHttpResponse *http,
								Datum *response);
extern ErrorData *okra_read_job_with(OkraHttpBatch *b, int i,
									 OkraJobReader reader, void *arg,
									 OkraHttpResponse *http, Datum *answer,
									 Datum *response);

#endif							/* OKRA_ANSWER_H */
