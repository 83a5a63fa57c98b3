/*-------------------------------------------------------------------------
 *
 * api.h
 *	  What api.c shares: building a refund's request body (outbox.c), and
 *	  checking an Okra ObjectID argument.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_API_H
#define OKRA_API_H

#include "lib/stringinfo.h"
#include "utils/builtins.h"

extern void okra_refund_body(StringInfo body, const char *payment_id,
							 bool has_amount, int64 amount, const char *reason,
							 const char *account);
extern char *okra_check_object_id(text *arg, const char *argname,
								  const char *what);

#endif							/* OKRA_API_H */
