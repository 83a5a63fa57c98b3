/*-------------------------------------------------------------------------
 *
 * outbox.h
 *	  The outbox sender (outbox.c) and its background worker (worker.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_OUTBOX_H
#define OKRA_OUTBOX_H

/* settings (guc.c defines them) */
extern int	okra_outbox_poll_interval;
extern int	okra_outbox_max_attempts;
extern bool okra_outbox_trust_idempotency;

extern int	okra_outbox_step(Oid nsp, bool in_procedure);

/* The worker's checks of payments webhooks named (pending.c) */
extern int	okra_verify_webhooks(Oid nsp);
extern void okra_worker_preload(void);

#endif							/* OKRA_OUTBOX_H */
