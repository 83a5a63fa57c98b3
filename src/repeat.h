/*-------------------------------------------------------------------------
 *
 * repeat.h
 *	  One call per call site and row: the copies PostgreSQL makes of a call
 *	  that returns a row (repeat.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_REPEAT_H
#define OKRA_REPEAT_H

#include "fmgr.h"

extern Datum okra_repeat_find(FunctionCallInfo fcinfo, const char *body);
extern void okra_repeat_keep(FunctionCallInfo fcinfo, const char *body,
							 Datum result);

#endif							/* OKRA_REPEAT_H */
