/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The outbox worker: a background worker, started when okra is in
 *	  shared_preload_libraries, that sends what the outbox holds in the
 *	  database okra.outbox_database (outbox.c) and writes the journal of
 *	  synchronous money-moving calls (okra_journal) in its own
 *	  transactions.
 *
 * A backend that queued a request wakes it when its transaction commits
 * (okra_outbox_wake registers a transaction callback); it also polls every
 * okra.outbox_poll_interval.  Shared memory holds only plain values: the
 * worker's pgprocno and pid, its database's OID, and a fixed ring of
 * journal entries, all under one spinlock.  SIGTERM ends it at the next
 * interrupt check (a transfer in flight is abandoned, its request found
 * "sending" after its lease and resolved as unknown); SIGHUP rereads the
 * configuration.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "ledger.h"
#include "okra.h"
#include "outbox.h"

/* Journal entries held until the worker writes them */
#define OKRA_JOURNAL_SLOTS	1024

typedef struct OkraJournalEntry
{
	Oid			dboid;
	TimestampTz called_at;
	char		endpoint[64];
	char		payment_id[32];
	char		sqlstate[6];	/* "" for success */
	int32		http_status;
	bool		has_amount;
	int64		amount;
	char		refund_id[32];
	NameData	role;
	char		message[256];
} OkraJournalEntry;

typedef struct OkraWorkerShared
{
	slock_t		mutex;
	int			procno;			/* the worker's pgprocno, or -1 */
	pid_t		pid;
	Oid			dboid;			/* its database, once it has started */
	uint64		head;			/* journal entries written */
	uint64		tail;			/* journal entries taken */
	uint64		lost;			/* dropped because the ring was full */
	OkraJournalEntry ring[OKRA_JOURNAL_SLOTS];
} OkraWorkerShared;

char	   *okra_outbox_database = NULL;
int			okra_outbox_poll_interval = 10000;

static OkraWorkerShared *worker_shared = NULL;
static MemoryContext worker_cxt = NULL;	/* reset every round */
static bool wake_at_commit = false;
static bool xact_callback_registered = false;

#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PGDLLEXPORT void okra_outbox_worker_main(Datum arg);
PG_FUNCTION_INFO_V1(okra_outbox_wake);
PG_FUNCTION_INFO_V1(okra_outbox_worker_state);

/*---- static prototypes ----*/
#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
static void worker_shmem_request(void);
#endif
static void worker_shmem_startup(void);
static void worker_detach(int code, Datum arg);
static void wake_worker(void);
static void outbox_xact_callback(XactEvent event, void *arg);
static int	drain_journal(Oid nsp);
static void journal_taken(int n);
static Oid	extension_schema(Oid ext);
static void worker_cycle(void);

#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
static void
worker_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(OkraWorkerShared)));
}
#endif

static void
worker_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	worker_shared = ShmemInitStruct("okra outbox worker", sizeof(OkraWorkerShared),
									&found);
	if (!found)
	{
		memset(worker_shared, 0, sizeof(OkraWorkerShared));
		SpinLockInit(&worker_shared->mutex);
		worker_shared->procno = -1;
		worker_shared->dboid = InvalidOid;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * From _PG_init while shared_preload_libraries is processed: the shared
 * state and the worker.
 */
void
okra_worker_preload(void)
{
	BackgroundWorker bgw;

#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = worker_shmem_request;
#else
	RequestAddinShmemSpace(MAXALIGN(sizeof(OkraWorkerShared)));
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = worker_shmem_startup;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "okra");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "okra_outbox_worker_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "okra outbox worker");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "okra outbox worker");
	RegisterBackgroundWorker(&bgw);
}

/*
 * Set the worker's latch, if it runs.
 */
static void
wake_worker(void)
{
	int			procno;

	if (worker_shared == NULL)
		return;
	SpinLockAcquire(&worker_shared->mutex);
	procno = worker_shared->procno;
	SpinLockRelease(&worker_shared->mutex);
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

static void
outbox_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit)
				wake_worker();
			wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

/*
 * okra_outbox_wake(): wake the worker when this transaction commits.
 */
Datum
okra_outbox_wake(PG_FUNCTION_ARGS)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(outbox_xact_callback, NULL);
		xact_callback_registered = true;
	}
	wake_at_commit = true;
	PG_RETURN_VOID();
}

/*
 * Are calls in this database journaled (okra preloaded, and the worker has
 * started for it)?
 */
bool
okra_journal_enabled(void)
{
	return worker_shared != NULL && worker_shared->dboid == MyDatabaseId;
}

/*
 * Journal a synchronous money-moving call (api.c), for the worker to write
 * in its own transaction: kept whatever the caller's transaction does.
 * Only calls in the worker's database are journaled.  Never throws and
 * looks nothing up, so it is safe in a PG_CATCH block.
 */
void
okra_journal_append(const char *endpoint, const char *payment_id,
					bool has_amount, int64 amount, const char *refund_id,
					int sqlerrcode, long http_status, const char *message,
					const char *role)
{
	OkraJournalEntry *e;
	bool		lost = false;

	if (!okra_journal_enabled())
		return;
	SpinLockAcquire(&worker_shared->mutex);
	if (worker_shared->head - worker_shared->tail >= OKRA_JOURNAL_SLOTS)
	{
		worker_shared->lost++;
		lost = true;
	}
	else
	{
		e = &worker_shared->ring[worker_shared->head % OKRA_JOURNAL_SLOTS];
		memset(e, 0, sizeof(*e));
		e->dboid = MyDatabaseId;
		e->called_at = GetCurrentTimestamp();
		strlcpy(e->endpoint, endpoint, sizeof(e->endpoint));
		strlcpy(e->payment_id, payment_id ? payment_id : "", sizeof(e->payment_id));
		if (sqlerrcode != 0)
			strlcpy(e->sqlstate, unpack_sql_state(sqlerrcode), sizeof(e->sqlstate));
		e->http_status = (int32) http_status;
		e->has_amount = has_amount;
		e->amount = amount;
		strlcpy(e->refund_id, refund_id ? refund_id : "", sizeof(e->refund_id));
		strlcpy(NameStr(e->role), role ? role : "", NAMEDATALEN);
		strlcpy(e->message, message ? message : "", sizeof(e->message));
		worker_shared->head++;
	}
	SpinLockRelease(&worker_shared->mutex);
	if (lost)
		ereport(LOG,
				errmsg("okra journal is full; the call to \"%s\" for payment \"%s\" was not journaled",
					   endpoint, payment_id ? payment_id : "(none)"),
				errhint("Check that the okra outbox worker is running."));
	wake_worker();
}

/*
 * Write the journal entries waiting in shared memory (inside a
 * transaction); returns how many, for journal_taken() once committed.
 */
static int
drain_journal(Oid nsp)
{
	int			n = 0;

	for (;;)
	{
		OkraJournalEntry e;
		Datum		args[10];
		bool		nulls[10] = {false};
		bool		isnull;

		SpinLockAcquire(&worker_shared->mutex);
		if (worker_shared->tail + n == worker_shared->head)
		{
			SpinLockRelease(&worker_shared->mutex);
			break;
		}
		e = worker_shared->ring[(worker_shared->tail + n) % OKRA_JOURNAL_SLOTS];
		SpinLockRelease(&worker_shared->mutex);

		args[0] = TimestampTzGetDatum(e.called_at);
		args[1] = CStringGetTextDatum(e.endpoint);
		args[2] = CStringGetTextDatum(e.payment_id);
		nulls[2] = (e.payment_id[0] == '\0');
		args[3] = Int64GetDatum(e.amount);
		nulls[3] = !e.has_amount;
		args[4] = CStringGetTextDatum(e.refund_id);
		nulls[4] = (e.refund_id[0] == '\0');
		args[5] = CStringGetTextDatum(e.sqlstate);
		nulls[5] = (e.sqlstate[0] == '\0');
		args[6] = Int32GetDatum(e.http_status);
		nulls[6] = (e.http_status == 0);
		args[7] = CStringGetTextDatum(e.message);
		nulls[7] = (e.message[0] == '\0');
		args[8] = NameGetDatum(&e.role);
		args[9] = TimestampTzGetDatum(GetCurrentTimestamp());
		(void) okra_ledger_call_in(nsp, "okra_journal_record", 10, args, nulls,
								   &isnull);
		n++;
	}
	return n;
}

/*
 * The first n journal entries are committed: free their slots.
 */
static void
journal_taken(int n)
{
	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->tail += n;
	SpinLockRelease(&worker_shared->mutex);
}

/*
 * The schema of extension ext (get_extension_schema() is static before
 * PostgreSQL 16).
 */
static Oid
extension_schema(Oid ext)
{
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			nsp = InvalidOid;

	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
		nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nsp;
}

/*
 * When the worker exits: nobody to wake.
 */
static void
worker_detach(int code, Datum arg)
{
	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->procno = -1;
	worker_shared->pid = 0;
	SpinLockRelease(&worker_shared->mutex);
}

/*
 * One round: the journal, then outbox steps until nothing is due.  The
 * extension may not be installed (yet): then nothing.
 */
static void
worker_cycle(void)
{
	Oid			nsp = InvalidOid;
	Oid			ext;
	int			journaled = 0;

	okra_xact_begin(false);
	pgstat_report_activity(STATE_RUNNING, "okra outbox: journal");
	ext = get_extension_oid("okra", true);
	if (OidIsValid(ext))
	{
		nsp = extension_schema(ext);
		journaled = drain_journal(nsp);
	}
	okra_xact_commit(false);
	journal_taken(journaled);

	if (!OidIsValid(nsp))
		return;
	pgstat_report_activity(STATE_RUNNING, "okra outbox: sending");
	MemoryContextSwitchTo(worker_cxt);
	while (okra_outbox_step(nsp, false) > 0)
		CHECK_FOR_INTERRUPTS();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * The worker's main loop.
 */
void
okra_outbox_worker_main(Datum arg)
{
	sigjmp_buf	local_sigjmp_buf;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(okra_outbox_database, NULL, 0);

	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->procno = MyProc->pgprocno;
	worker_shared->pid = MyProcPid;
	worker_shared->dboid = MyDatabaseId;
	SpinLockRelease(&worker_shared->mutex);
	before_shmem_exit(worker_detach, (Datum) 0);
	worker_cxt = AllocSetContextCreate(TopMemoryContext, "okra outbox worker",
									   ALLOCSET_DEFAULT_SIZES);
	ereport(LOG,
			errmsg("okra outbox worker started for database \"%s\"",
				   okra_outbox_database));

	/* an error ends the round, not the worker: log it and carry on */
	if (sigsetjmp(local_sigjmp_buf, 1) != 0)
	{
		HOLD_INTERRUPTS();
		EmitErrorReport();
		AbortOutOfAnyTransaction();
		FlushErrorState();
		MemoryContextSwitchTo(TopMemoryContext);
		RESUME_INTERRUPTS();
		/* do not spin on a persistent error */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 okra_outbox_poll_interval, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	PG_exception_stack = &local_sigjmp_buf;

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		ResetLatch(MyLatch);
		MemoryContextReset(worker_cxt);
		worker_cycle();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 okra_outbox_poll_interval, PG_WAIT_EXTENSION);
	}
}

/*
 * okra_outbox_worker_state(): whether the worker runs, its pid and
 * database, whether okra is preloaded, and whether a key is configured
 * and readable (never the key).
 */
Datum
okra_outbox_worker_state(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false};
	volatile int pid = 0;
	volatile bool key_ok = false;
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (worker_shared != NULL)
	{
		SpinLockAcquire(&worker_shared->mutex);
		pid = worker_shared->procno >= 0 ? worker_shared->pid : 0;
		SpinLockRelease(&worker_shared->mutex);
	}
	/* in a subtransaction: only whether it worked is shown, never why */
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		char	   *key = okra_read_api_key();

		explicit_bzero(key, strlen(key));
		pfree(key);
		key_ok = true;
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;

	values[0] = BoolGetDatum(pid != 0);
	values[1] = Int32GetDatum(pid);
	nulls[1] = (pid == 0);
	values[2] = CStringGetTextDatum(okra_outbox_database ? okra_outbox_database : "");
	nulls[2] = (worker_shared == NULL);
	values[3] = BoolGetDatum(worker_shared != NULL);
	values[4] = BoolGetDatum(key_ok);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}
