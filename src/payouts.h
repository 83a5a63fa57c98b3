/*-------------------------------------------------------------------------
 *
 * payouts.h
 *	  What payouts.c shares with scheduled verification (pending.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_PAYOUTS_H
#define OKRA_PAYOUTS_H

#include "fmgr.h"

#include "http.h"

/* okra-sandbox's read of one payout (Okra documents none) */
#define OKRA_PAYOUT_GET_ENDPOINT	"pay/payout/get"

/* What one scheduled check of a payout found */
typedef enum OkraCheckResult
{
	OKRA_CHECK_CHANGED,			/* answered; the status moved */
	OKRA_CHECK_UNCHANGED,		/* answered; the same status */
	OKRA_CHECK_FAILED,			/* no usable answer: error and backoff kept */
	OKRA_CHECK_RATE_LIMITED		/* Okra answered 429 */
} OkraCheckResult;

extern OkraCheckResult okra_payout_check(FunctionCallInfo fcinfo,
										 OkraHttpBatch *b, int i,
										 const char *payout_id,
										 const char *body);

#endif							/* OKRA_PAYOUTS_H */
