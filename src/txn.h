/*-------------------------------------------------------------------------
 *
 * txn.h
 *	  okra's own transactions (txn.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_TXN_H
#define OKRA_TXN_H

#include "fmgr.h"

extern void okra_procedure_begin(FunctionCallInfo fcinfo, const char *name,
								 const char *why);
extern void okra_xact_begin(bool in_procedure);
extern void okra_xact_commit(bool in_procedure);
extern bool okra_commit_was_durable(void);
extern void okra_lock_timeout_begin(const char *ms);
extern void okra_lock_timeout_end(void);

#endif							/* OKRA_TXN_H */
