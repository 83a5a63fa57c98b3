/*-------------------------------------------------------------------------
 *
 * journal.c
 *	  The journal of synchronous money-moving calls (okra_refund,
 *	  okra_cancel, okra_request to an endpoint that may move money), and
 *	  the shared memory it lives in.
 *
 * Before such a call is sent, its intent is written to okra_journal by
 * the okra worker of the caller's database, in the worker's own
 * transaction, committed with synchronous_commit = on: the caller waits
 * for that commit and sends nothing if it does not come.  After the call,
 * its outcome follows the same way without waiting.  So whatever the
 * caller's transaction does, and whether the session ends with FATAL or
 * the server crashes, the intent is there; an intent with no outcome, or
 * an outcome "unknown", is a call that may have moved money, and the
 * refund guard refuses further refunds of that payment until someone
 * settles it (okra_journal_resolve).
 *
 * Shared memory holds one slot per database with a running okra worker:
 * the worker's identity and a ring of messages (intents and outcomes) it
 * has not written yet, all under one spinlock.  Nothing here throws while
 * the spinlock is held.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "journal.h"
#include "ledger.h"
#include "okra.h"
#include "txn.h"

/* How long a call waits for its intent to be written */
#define OKRA_JOURNAL_WAIT_MS	5000

/* How long a preloaded okra waits for a worker to serve this database */
#define OKRA_WORKER_WAIT_MS		3000

#define ERRCODE_OKRA_UNSETTLED	MAKE_SQLSTATE('O','K','0','1','2')

OkraShared *okra_shared = NULL;
bool		okra_allow_unjournaled = false;

/* Where this backend's money-moving call is */
typedef enum CallState
{
	CALL_NONE,					/* none, or its outcome is queued */
	CALL_INTENT,				/* intent put, not yet known written: not sent */
	CALL_SENDING				/* intent written: may be sent by now */
} CallState;

static CallState call_state = CALL_NONE;
static char inflight_key[64];
static uint32 call_counter = 0;
static bool exit_callback_registered = false;

#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*---- static prototypes ----*/
#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
static void shared_request(void);
#endif
static void shared_startup(void);
static int	slot_of_locked(Oid dboid);
static void clip_copy(char *dst, size_t size, const char *src);
static bool put_msg(const OkraJournalMsg *m, uint64 *seq, bool need_worker);
static bool wait_written(uint64 seq, int timeout_ms);
static void post_outcome(char outcome, int sqlerrcode, long http_status,
						 const char *created_id, const char *message);
static void journal_at_exit(int code, Datum arg);
static bool write_msg(Oid nsp, const OkraJournalMsg *m);
static bool journal_flush(void);

PG_FUNCTION_INFO_V1(okra_journal_flush);

#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
static void
shared_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(OkraShared)));
}
#endif

static void
shared_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	okra_shared = ShmemInitStruct("okra", sizeof(OkraShared), &found);
	if (!found)
	{
		int			i;

		memset(okra_shared, 0, sizeof(OkraShared));
		SpinLockInit(&okra_shared->mutex);
		okra_shared->launcher_procno = -1;
		for (i = 0; i < OKRA_MAX_DATABASES; i++)
			okra_shared->db[i].procno = -1;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * From _PG_init while shared_preload_libraries is processed.
 */
void
okra_shared_preload(void)
{
#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shared_request;
#else
	RequestAddinShmemSpace(MAXALIGN(sizeof(OkraShared)));
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shared_startup;
}

/* The slot of a database whose worker runs, or -1; mutex held. */
static int
slot_of_locked(Oid dboid)
{
	int			i;

	for (i = 0; i < OKRA_MAX_DATABASES; i++)
		if (okra_shared->db[i].dboid == dboid && okra_shared->db[i].procno >= 0)
			return i;
	return -1;
}

/*
 * The slot of the database whose worker runs, or -1.
 */
int
okra_slot_of(Oid dboid)
{
	int			i;

	if (okra_shared == NULL)
		return -1;
	SpinLockAcquire(&okra_shared->mutex);
	i = slot_of_locked(dboid);
	SpinLockRelease(&okra_shared->mutex);
	return i;
}

/*
 * Wake the launcher: database dboid has no worker (okra was just
 * installed there, or its worker went away).
 */
void
okra_wake_launcher(Oid dboid)
{
	int			procno;

	if (okra_shared == NULL)
		return;
	SpinLockAcquire(&okra_shared->mutex);
	procno = okra_shared->launcher_procno;
	okra_shared->launcher_wake = true;
	okra_shared->launcher_wake_dboid = dboid;
	SpinLockRelease(&okra_shared->mutex);
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

/*
 * Wake the worker of a database, or the launcher if it has none.
 */
void
okra_wake_database(Oid dboid)
{
	int			procno = -1;
	int			i;

	if (okra_shared == NULL)
		return;
	SpinLockAcquire(&okra_shared->mutex);
	i = slot_of_locked(dboid);
	if (i >= 0)
		procno = okra_shared->db[i].procno;
	SpinLockRelease(&okra_shared->mutex);
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
	else
		okra_wake_launcher(dboid);
}

/*
 * Are calls in this database journaled (okra preloaded, and its worker
 * runs here)?
 */
bool
okra_journal_enabled(void)
{
	return okra_slot_of(MyDatabaseId) >= 0;
}

/*
 * Before a money-moving call checks or locks anything: refuse it, with
 * nothing sent, if it cannot be journaled, unless a superuser allowed
 * that (okra.allow_unjournaled).  A preloaded okra gives a worker that is
 * still starting (okra just installed here) a moment.
 */
void
okra_journal_require(const char *endpoint)
{
	TimestampTz give_up;

	if (okra_journal_enabled() || okra_allow_unjournaled)
		return;
	if (okra_shared != NULL)
	{
		give_up = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											  OKRA_WORKER_WAIT_MS);
		okra_wake_launcher(MyDatabaseId);
		while (!okra_journal_enabled() && GetCurrentTimestamp() < give_up)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 10, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if (okra_journal_enabled())
			return;
	}
	ereport(ERROR,
			errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			errmsg("Okra API request \"%s\" cannot be journaled", endpoint),
			errdetail("A request that may move money is journaled before it is sent, by the okra worker of this database, and %s. Nothing was sent to Okra.",
					  okra_shared == NULL ? "okra is not in shared_preload_libraries" :
					  "no okra worker serves this database"),
			okra_shared == NULL ?
			errhint("Add okra to shared_preload_libraries and restart, or queue the request with okra_refund_after_commit or okra_cancel_after_commit.") :
			errhint("Check okra_outbox_health() and the server log for the okra worker."));
}

/*
 * Copy a string, cut at a character boundary (server encoding) to fit.
 */
static void
clip_copy(char *dst, size_t size, const char *src)
{
	int			len;

	if (src == NULL)
	{
		dst[0] = '\0';
		return;
	}
	len = strlen(src);
	if (len >= (int) size)
		len = pg_mbcliplen(src, len, (int) size - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/*
 * Put a message in this database's ring and wake its worker; false if
 * there is no room, or no slot for this database.  An intent needs a
 * running worker (need_worker); an outcome may wait in the ring for the
 * database's next worker.  *seq is its place.
 */
static bool
put_msg(const OkraJournalMsg *m, uint64 *seq, bool need_worker)
{
	OkraDbSlot *s = NULL;
	int			i;
	int			procno = -1;
	bool		ok = false;

	if (okra_shared == NULL)
		return false;
	SpinLockAcquire(&okra_shared->mutex);
	i = slot_of_locked(MyDatabaseId);
	if (i < 0 && !need_worker)
	{
		for (i = OKRA_MAX_DATABASES - 1; i >= 0; i--)
			if (okra_shared->db[i].dboid == MyDatabaseId)
				break;
	}
	if (i >= 0)
	{
		s = &okra_shared->db[i];
		if (s->head - s->tail < OKRA_JOURNAL_SLOTS)
		{
			*seq = s->head;
			s->ring[s->head % OKRA_JOURNAL_SLOTS] = *m;
			s->head++;
			ok = true;
		}
		else if (m->kind == JOURNAL_OUTCOME)
			s->lost++;
		procno = s->procno;
	}
	SpinLockRelease(&okra_shared->mutex);
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
	return ok;
}

/*
 * Wait until message seq is written and committed (or, with seq = 0 and
 * everything put so far, the ring is empty); false on timeout or if the
 * worker went away.  Cancel and die are served.
 */
static bool
wait_written(uint64 seq, int timeout_ms)
{
	TimestampTz give_up = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													  timeout_ms);

	for (;;)
	{
		int			i;
		bool		done = false;
		bool		gone = false;

		SpinLockAcquire(&okra_shared->mutex);
		i = slot_of_locked(MyDatabaseId);
		if (i < 0)
			gone = true;
		else
			done = okra_shared->db[i].tail > seq;
		SpinLockRelease(&okra_shared->mutex);
		if (done)
			return true;
		if (gone || GetCurrentTimestamp() >= give_up)
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Before a money-moving request is sent: write its intent and wait until
 * it is committed.  Raises 55000, with nothing sent, if it cannot be.
 * Unjournaled (a superuser's okra.allow_unjournaled, no worker) it does
 * nothing.
 */
void
okra_journal_begin(const char *endpoint, const char *payment_id,
				   bool has_amount, int64 amount, const char *reference)
{
	OkraJournalMsg m;
	uint64		seq = 0;
	volatile bool written = false;
	TimestampTz give_up;

	Assert(call_state == CALL_NONE);
	if (!okra_journal_enabled())
	{
		/* the worker went away since okra_journal_require() */
		okra_journal_require(endpoint);
		if (!okra_journal_enabled())
			return;				/* allowed unjournaled */
	}
	if (!exit_callback_registered)
	{
		before_shmem_exit(journal_at_exit, (Datum) 0);
		exit_callback_registered = true;
	}

	memset(&m, 0, sizeof(m));
	m.kind = JOURNAL_INTENT;
	snprintf(m.call_key, sizeof(m.call_key), "%d-" INT64_FORMAT "-%u",
			 MyProcPid, (int64) GetCurrentTimestamp(), ++call_counter);
	m.waiter = OKRA_MY_PROCNO;
	m.at = GetCurrentTimestamp();
	clip_copy(m.endpoint, sizeof(m.endpoint), endpoint);
	clip_copy(m.payment_id, sizeof(m.payment_id), payment_id);
	clip_copy(m.reference, sizeof(m.reference), reference);
	m.has_amount = has_amount;
	m.amount = amount;
	namestrcpy(&m.role, GetUserNameFromId(GetUserId(), false));
	strlcpy(inflight_key, m.call_key, sizeof(inflight_key));

	/* from here on, an exit of any kind leaves an outcome behind */
	give_up = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										  OKRA_JOURNAL_WAIT_MS);
	PG_TRY();
	{
		bool		put;

		while (!(put = put_msg(&m, &seq, true)) && okra_journal_enabled() &&
			   GetCurrentTimestamp() < give_up)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 10, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if (put)
			call_state = CALL_INTENT;
		written = put &&
			wait_written(seq, (int) Max((give_up - GetCurrentTimestamp()) / 1000, 0));
	}
	PG_CATCH();
	{
		/* cancelled while the intent was written: it was not sent */
		if (call_state == CALL_INTENT)
			post_outcome('f', ERRCODE_QUERY_CANCELED, 0, NULL,
						 "not sent: cancelled while its intent was written");
		call_state = CALL_NONE;
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (!written)
	{
		if (call_state == CALL_INTENT)
			post_outcome('f', 0, 0, NULL,
						 "not sent: its intent was not written in time");
		call_state = CALL_NONE;
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("Okra API request \"%s\" cannot be journaled", endpoint),
				errdetail("The okra worker of this database did not write the request's intent within %d ms. Nothing was sent to Okra.",
						  OKRA_JOURNAL_WAIT_MS),
				errhint("Check okra_outbox_health() and the server log for the okra worker."));
	}
	call_state = CALL_SENDING;
}

/*
 * Queue an outcome for the call in flight; never throws (but may LOG).
 */
static void
post_outcome(char outcome, int sqlerrcode, long http_status,
			 const char *created_id, const char *message)
{
	OkraJournalMsg m;
	uint64		seq;

	memset(&m, 0, sizeof(m));
	m.kind = JOURNAL_OUTCOME;
	strlcpy(m.call_key, inflight_key, sizeof(m.call_key));
	m.waiter = -1;
	m.at = GetCurrentTimestamp();
	m.outcome = outcome;
	if (sqlerrcode != 0)
		strlcpy(m.sqlstate, unpack_sql_state(sqlerrcode), sizeof(m.sqlstate));
	m.http_status = (int32) http_status;
	clip_copy(m.created_id, sizeof(m.created_id), created_id);
	clip_copy(m.message, sizeof(m.message), message);
	if (!put_msg(&m, &seq, false))
		ereport(LOG,
				errmsg("okra journal could not take the outcome (%s) of call %s: its journal entry keeps no outcome",
					   outcome == 's' ? "succeeded" : outcome == 'f' ? "failed" : "unknown",
					   inflight_key),
				errhint("Settle it with okra_journal_resolve() once its outcome is known."));
}

/*
 * After a journaled call: its outcome ('s'ucceeded, 'f'ailed: surely not
 * carried out, 'u'nknown), written by the worker without waiting.  Never
 * throws, so it is safe in a PG_CATCH block.
 */
void
okra_journal_end(char outcome, int sqlerrcode, long http_status,
				 const char *created_id, const char *message)
{
	if (call_state == CALL_NONE)
		return;
	call_state = CALL_NONE;
	post_outcome(outcome, sqlerrcode, http_status, created_id, message);
}

/*
 * A session that ends (FATAL, pg_terminate_backend) mid-call.
 */
static void
journal_at_exit(int code, Datum arg)
{
	if (call_state == CALL_INTENT)
		okra_journal_end('f', ERRCODE_ADMIN_SHUTDOWN, 0, NULL,
						 "not sent: the session ended while its intent was written");
	else if (call_state == CALL_SENDING)
		okra_journal_end('u', ERRCODE_ADMIN_SHUTDOWN, 0, NULL,
						 "the session ended while the request was in flight");
}

/*
 * Wait (up to OKRA_JOURNAL_WAIT_MS) until everything put in this
 * database's journal so far is written; false if it was not by then.
 */
static bool
journal_flush(void)
{
	uint64		last;
	int			i;

	if (!okra_journal_enabled())
		return true;
	SpinLockAcquire(&okra_shared->mutex);
	i = slot_of_locked(MyDatabaseId);
	last = i >= 0 ? okra_shared->db[i].head : 0;
	SpinLockRelease(&okra_shared->mutex);
	return last == 0 || wait_written(last - 1, OKRA_JOURNAL_WAIT_MS);
}

/*
 * Wait until what this database's journal holds is written (journal_flush),
 * before reading it.
 */
void
okra_journal_wait(void)
{
	(void) journal_flush();
}

/*
 * okra_journal_flush(): journal_flush, for okra_journal_resolve, so that
 * it settles an entry after its outcome, if any, was written.
 */
Datum
okra_journal_flush(PG_FUNCTION_ARGS)
{
	/* a person must not settle a call whose own outcome is still coming */
	if (!journal_flush())
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("the okra journal of this database was not written within %d ms",
					   OKRA_JOURNAL_WAIT_MS),
				errdetail("Outcomes of calls may still be on their way to okra_journal."),
				errhint("Check that the okra worker of this database runs (okra_outbox_health()), then try again."));
	PG_RETURN_VOID();
}

/*
 * Under the payment's lock, before a refund is sent: refuse it (OK012) if
 * an earlier refund of the payment has an unknown outcome.  Waits for this
 * database's journal to be written first, and reads it with a fresh
 * snapshot, whatever the isolation level.
 */
void
okra_journal_check_unsettled(Oid nsp, const char *payment_id)
{
	Datum		arg = CStringGetTextDatum(payment_id);
	bool		argnull = false;
	bool		isnull;
	Datum		id;

	(void) journal_flush();
	PushActiveSnapshot(GetLatestSnapshot());
	id = okra_ledger_call_in(nsp, "okra_journal_unsettled", 1, &arg, &argnull,
							 &isnull);
	PopActiveSnapshot();
	if (!isnull)
		ereport(ERROR,
				errcode(ERRCODE_OKRA_UNSETTLED),
				errmsg("payment \"%s\" has a refund whose outcome is unknown",
					   payment_id),
				errdetail("Journal entry " INT64_FORMAT " is a refund of this payment that was sent with no definite answer, so it may have happened. Nothing was sent to Okra.",
						  DatumGetInt64(id)),
				errhint("Check the refund with Okra, then settle it with okra_journal_resolve(" INT64_FORMAT ", 'succeeded') or okra_journal_resolve(" INT64_FORMAT ", 'failed').",
						DatumGetInt64(id), DatumGetInt64(id)));
}

/*
 * Are messages waiting in a slot's ring?
 */
bool
okra_journal_pending(int slot)
{
	bool		pending;

	SpinLockAcquire(&okra_shared->mutex);
	pending = okra_shared->db[slot].head != okra_shared->db[slot].tail;
	SpinLockRelease(&okra_shared->mutex);
	return pending;
}

/*
 * Write one message, in a subtransaction; false if it could not be (then
 * logged).  An outcome that cannot be written is skipped: its intent stays
 * with no outcome, which counts as unknown.  An intent is never skipped.
 */
static bool
write_msg(Oid nsp, const OkraJournalMsg *m)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Datum		args[8];
	bool		nulls[8] = {false};
	bool		isnull;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		args[0] = CStringGetTextDatum(m->call_key);
		args[1] = TimestampTzGetDatum(m->at);
		if (m->kind == JOURNAL_INTENT)
		{
			args[2] = CStringGetTextDatum(m->endpoint);
			args[3] = CStringGetTextDatum(m->payment_id);
			nulls[3] = (m->payment_id[0] == '\0');
			args[4] = Int64GetDatum(m->amount);
			nulls[4] = !m->has_amount;
			args[5] = NameGetDatum(&m->role);
			args[6] = CStringGetTextDatum(m->reference);
			nulls[6] = (m->reference[0] == '\0');
			(void) okra_ledger_call_in(nsp, "okra_journal_intent", 7, args,
									   nulls, &isnull);
		}
		else
		{
			char		outcome[2] = {m->outcome, '\0'};

			args[2] = CStringGetTextDatum(outcome[0] == 's' ? "succeeded" :
										  outcome[0] == 'f' ? "failed" : "unknown");
			args[3] = CStringGetTextDatum(m->sqlstate);
			nulls[3] = (m->sqlstate[0] == '\0');
			args[4] = Int32GetDatum(m->http_status);
			nulls[4] = (m->http_status == 0);
			args[5] = CStringGetTextDatum(m->created_id);
			nulls[5] = (m->created_id[0] == '\0');
			args[6] = CStringGetTextDatum(m->message);
			nulls[6] = (m->message[0] == '\0');
			if (!DatumGetBool(okra_ledger_call_in(nsp, "okra_journal_outcome", 7,
												  args, nulls, &isnull)))
				ereport(LOG,
						errmsg("okra journal found no entry to take the outcome of call %s (settled by hand meanwhile, or its intent is gone)",
							   m->call_key));
		}
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			ReThrowError(edata);
		ereport(LOG,
				errmsg("okra journal could not write the %s of call %s: %s",
					   m->kind == JOURNAL_INTENT ? "intent" : "outcome",
					   m->call_key, edata->message),
				m->kind == JOURNAL_INTENT ?
				errdetail("Nothing is sent until it is written; it is tried again.") : 0);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return ok;
}

/*
 * The worker's side: write what waits in slot's ring, in one transaction
 * of its own committed durably, then free the ring's places and wake the
 * backends waiting for their intents.  An intent that cannot be written
 * stops the round there: it and what follows stay in the ring (their
 * backends send nothing meanwhile).  Called outside any transaction;
 * false if something was left.
 */
bool
okra_journal_write(int slot, Oid nsp)
{
	OkraDbSlot *s = &okra_shared->db[slot];
	uint64		from;
	uint64		to;
	uint64		k;
	int			waiters[OKRA_JOURNAL_SLOTS];
	int			nwaiters = 0;
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext tmp;

	SpinLockAcquire(&okra_shared->mutex);
	from = s->tail;
	to = s->head;
	SpinLockRelease(&okra_shared->mutex);
	if (from == to)
		return true;

	tmp = AllocSetContextCreate(cxt, "okra journal write", ALLOCSET_DEFAULT_SIZES);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	MemoryContextSwitchTo(tmp);
	for (k = from; k < to; k++)
	{
		OkraJournalMsg m;

		/* only this worker moves the tail: the message stays put */
		SpinLockAcquire(&okra_shared->mutex);
		m = s->ring[k % OKRA_JOURNAL_SLOTS];
		SpinLockRelease(&okra_shared->mutex);
		if (!write_msg(nsp, &m) && m.kind == JOURNAL_INTENT)
			break;
		if (m.waiter >= 0)
			waiters[nwaiters++] = m.waiter;
		MemoryContextReset(tmp);
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	MemoryContextDelete(tmp);

	/*
	 * An intent not surely durable (a shutdown, the postmaster gone, no
	 * standby's acknowledgement) must not let its call be sent: nobody is
	 * woken, the backends give up (nothing sent), and this worker exits.
	 */
	if (!okra_commit_was_durable())
		ereport(FATAL,
				errcode(ERRCODE_ADMIN_SHUTDOWN),
				errmsg("okra worker could not confirm that the journal's commit is durable"),
				errdetail("The calls waiting for their intent are not sent."));
	SpinLockAcquire(&okra_shared->mutex);
	s->tail = k;
	SpinLockRelease(&okra_shared->mutex);
	while (nwaiters > 0)
		SetLatch(&ProcGlobal->allProcs[waiters[--nwaiters]].procLatch);
	return k == to;
}
