/*-------------------------------------------------------------------------
 *
 * journal.h
 *	  okra's shared memory (one slot per database: its worker and its
 *	  journal ring) and the journal of synchronous money-moving calls.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_JOURNAL_H
#define OKRA_JOURNAL_H

#include "datatype/timestamp.h"
#include "storage/spin.h"

/* Databases served at once, and journal messages waiting per database */
#define OKRA_MAX_DATABASES	32
#define OKRA_JOURNAL_SLOTS	128

/* Longest merchant's reference of an initiated payment, in bytes */
#define OKRA_REFERENCE_MAX	100

/* Longest journal message text, in bytes */
#define OKRA_JOURNAL_MESSAGE	256

typedef enum OkraJournalKind
{
	JOURNAL_INTENT,				/* a call is about to be sent */
	JOURNAL_OUTCOME				/* what became of it */
} OkraJournalKind;

/* One message for the database's worker to write */
typedef struct OkraJournalMsg
{
	OkraJournalKind kind;
	char		call_key[64];	/* identifies the call in okra_journal */
	int			waiter;			/* pgprocno to wake once written, or -1 */
	TimestampTz at;
	char		endpoint[208];	/* okra_request allows 200 bytes */
	char		payment_id[32];
	char		reference[OKRA_REFERENCE_MAX + 1];	/* initiate's, or "" */
	bool		has_amount;
	int64		amount;
	NameData	role;
	char		outcome;		/* 's'ucceeded, 'f'ailed, 'u'nknown */
	char		sqlstate[6];	/* "" for none */
	int32		http_status;
	char		created_id[32];	/* what the call created: a refund, a payment */
	char		message[OKRA_JOURNAL_MESSAGE];
} OkraJournalMsg;

/* One database served by an okra worker */
typedef struct OkraDbSlot
{
	Oid			dboid;			/* InvalidOid: free */
	int			procno;			/* its worker's pgprocno */
	pid_t		pid;
	uint64		head;			/* messages put */
	uint64		tail;			/* messages written and committed */
	uint64		lost;			/* outcomes dropped: the ring was full */
	OkraJournalMsg ring[OKRA_JOURNAL_SLOTS];
} OkraDbSlot;

typedef struct OkraShared
{
	slock_t		mutex;
	int			launcher_procno;	/* -1 if not running */
	bool		launcher_wake;	/* a backend asked it to look again */
	Oid			launcher_wake_dboid;	/* at this database */
	Oid			paused_dboid;	/* being dropped: start no worker there */
	TimestampTz paused_until;
	OkraDbSlot	db[OKRA_MAX_DATABASES];
} OkraShared;

extern OkraShared *okra_shared;

/* shared memory (journal.c) */
extern void okra_shared_preload(void);
extern int	okra_slot_of(Oid dboid);
extern void okra_wake_database(Oid dboid);
extern void okra_wake_launcher(Oid dboid);

/* a backend's calls */
extern bool okra_allow_unjournaled;
extern bool okra_journal_enabled(void);
extern void okra_journal_require(const char *endpoint);
extern void okra_journal_begin(const char *endpoint, const char *payment_id,
							   bool has_amount, int64 amount,
							   const char *reference);
extern void okra_journal_wait(void);
extern void okra_journal_end(char outcome, int sqlerrcode, long http_status,
							 const char *created_id, const char *message);
extern void okra_journal_check_unsettled(Oid nsp, const char *payment_id);

/* the worker's side */
extern bool okra_journal_pending(int slot);
extern bool okra_journal_write(int slot, Oid nsp);

#endif							/* OKRA_JOURNAL_H */
