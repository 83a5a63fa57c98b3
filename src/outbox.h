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
extern char *okra_outbox_database;
extern int	okra_outbox_poll_interval;
extern int	okra_outbox_max_attempts;
extern bool okra_outbox_trust_idempotency;

extern int	okra_outbox_step(Oid nsp, bool in_procedure);
extern void okra_worker_preload(void);
extern bool okra_journal_enabled(void);
extern void okra_journal_append(const char *endpoint, const char *payment_id,
								bool has_amount, int64 amount,
								const char *refund_id, int sqlerrcode,
								long http_status, const char *message,
								const char *role);

#endif							/* OKRA_OUTBOX_H */
