/*-------------------------------------------------------------------------
 *
 * api.h
 *	  What api.c shares with outbox.c: building a refund's request body.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_API_H
#define OKRA_API_H

#include "lib/stringinfo.h"

extern void okra_refund_body(StringInfo body, const char *payment_id,
							 bool has_amount, int64 amount, const char *reason,
							 const char *account);

#endif							/* OKRA_API_H */
