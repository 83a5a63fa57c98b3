/*-------------------------------------------------------------------------
 *
 * repeat.h
 *	  One call per call node and row: the copies PostgreSQL makes of a call
 *	  that returns a row (repeat.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_REPEAT_H
#define OKRA_REPEAT_H

#include "fmgr.h"

extern Datum okra_repeat_find(FunctionCallInfo fcinfo, MemoryContext row_cxt,
							  const char *body, const char *reference);
extern void okra_repeat_keep(FunctionCallInfo fcinfo, MemoryContext row_cxt,
							 const char *body, const char *reference,
							 Datum result);

#endif							/* OKRA_REPEAT_H */
