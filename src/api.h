/*-------------------------------------------------------------------------
 *
 * api.h
 *	  What api.c shares with pending.c: reading an answer to pay/verify.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_API_H
#define OKRA_API_H

#include "access/tupdesc.h"
#include "http.h"

#define OKRA_VERIFY_ENDPOINT	"pay/verify"

extern Datum okra_verify_answer(TupleDesc tupdesc, const char *payment_id,
								const OkraHttpResponse *http, Datum *response);

#endif							/* OKRA_API_H */
