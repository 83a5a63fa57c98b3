/*-------------------------------------------------------------------------
 *
 * guard.h
 *	  The local refund guard (guard.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_GUARD_H
#define OKRA_GUARD_H

extern void okra_guard_refund(Oid nsp, const char *payment_id, bool has_amount,
							  int64 amount);

#endif							/* OKRA_GUARD_H */
