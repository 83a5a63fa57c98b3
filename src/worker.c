/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  okra's background workers, started when okra is in
 *	  shared_preload_libraries: one launcher, and one worker per database
 *	  where okra is installed.
 *
 * The launcher connects to no database.  Every okra.outbox_poll_interval,
 * or when woken (CREATE EXTENSION okra, a request queued or a call made in
 * a database it does not serve yet), it lists the databases and starts a
 * worker for each one that has none.  A worker whose database has no okra
 * exits at once; the launcher tries it again after OKRA_RECHECK_SECS or
 * at the next wake, so installing okra is picked up without a restart, and
 * a worker whose database drops okra exits.
 *
 * A database's worker writes its journal (journal.c) and sends its outbox
 * (outbox.c).  It commits with synchronous_commit = on whatever the server
 * says, since its commits are the promises the journal and the outbox make
 * before sending.  While an outbox batch is in flight it keeps writing the
 * journal between polls of the transfers.  SIGTERM ends a worker at the
 * next interrupt check (a transfer in flight is abandoned, its request
 * found "sending" after its lease and checked as unknown); SIGHUP rereads
 * the configuration.  Nothing runs during recovery: workers start once the
 * server accepts writes, so a standby sends nothing until it is promoted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "contract.h"
#include "http.h"
#include "journal.h"
#include "ledger.h"
#include "okra.h"
#include "outbox.h"
#include "txn.h"

/* How long a database without okra waits before it is looked at again */
#define OKRA_RECHECK_SECS	30

/* How often a worker writes its journal while an outbox batch is in flight */
#define OKRA_WORKER_POLL_MS	5

/* The launcher's view of one database */
typedef struct LauncherDb
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
	TimestampTz next_start;		/* not before this, unless woken */
	bool		seen;			/* still in pg_database */
} LauncherDb;

int			okra_outbox_poll_interval = 10000;

static MemoryContext worker_cxt = NULL; /* reset every round */
static int	my_slot = -1;		/* a database worker's slot */
static Oid	my_nsp = InvalidOid;	/* its okra schema */
static char *my_dbname = NULL;
static bool wake_at_commit = false;
static bool xact_callback_registered = false;
static bool journal_stuck = false;	/* an intent could not be written */

PGDLLEXPORT void okra_launcher_main(Datum arg);
PGDLLEXPORT void okra_outbox_worker_main(Datum arg);
PG_FUNCTION_INFO_V1(okra_outbox_wake);
PG_FUNCTION_INFO_V1(okra_outbox_worker_state);

/*---- static prototypes ----*/
static void outbox_xact_callback(XactEvent event, void *arg);
static void wake_when_committed(void);
static Oid	extension_schema(Oid ext);
static Oid	okra_schema_here(void);
static int	list_databases(LauncherDb **dbs, int n);
static void start_worker(LauncherDb *db);
static void worker_detach(int code, Datum arg);
static void launcher_detach(int code, Datum arg);
static void serve_interrupts(void);
static bool claim_slot(void);
static void write_journal_between_polls(void);
static bool worker_cycle(void);
static void worker_error_recovery(void);
static void stop_worker_of(const char *dbname);
static void okra_process_utility(OKRA_PROCESS_UTILITY_ARGS);

static ProcessUtility_hook_type prev_process_utility = NULL;

/*
 * From _PG_init while shared_preload_libraries is processed: the shared
 * state and the launcher.
 */
void
okra_worker_preload(void)
{
	BackgroundWorker bgw;

	okra_shared_preload();

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "okra");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "okra_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "okra launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "okra launcher");
	RegisterBackgroundWorker(&bgw);

	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = okra_process_utility;
}

/*
 * DROP DATABASE, and CREATE DATABASE from a template, wait for no one to
 * be connected to the database: stop its okra worker first, and wait (up
 * to 5 s) until it is gone.  Only for a role that owns the database.  The
 * launcher starts no new one for OKRA_RECHECK_SECS unless woken.
 */
static void
stop_worker_of(const char *dbname)
{
	Oid			dboid = get_database_oid(dbname, true);
	int			i;
	int			tries;

	TimestampTz until;

	/* only for whoever may drop it (DROP DATABASE checks again) */
	if (!OidIsValid(dboid) || okra_shared == NULL ||
		!OKRA_DATABASE_OWNERCHECK(dboid, GetUserId()))
		return;
	until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										OKRA_RECHECK_SECS * 1000);
	SpinLockAcquire(&okra_shared->mutex);
	okra_shared->paused_dboid = dboid;
	okra_shared->paused_until = until;
	SpinLockRelease(&okra_shared->mutex);
	for (tries = 0; tries < 500; tries++)
	{
		pid_t		pid = 0;

		SpinLockAcquire(&okra_shared->mutex);
		for (i = 0; i < OKRA_MAX_DATABASES; i++)
			if (okra_shared->db[i].dboid == dboid && okra_shared->db[i].procno >= 0)
				pid = okra_shared->db[i].pid;
		SpinLockRelease(&okra_shared->mutex);
		if (pid == 0)
			return;
		if (tries == 0)
			(void) kill(pid, SIGTERM);
		pg_usleep(10000);
		CHECK_FOR_INTERRUPTS();
	}
}

static void
okra_process_utility(OKRA_PROCESS_UTILITY_ARGS)
{
	Node	   *stmt = pstmt->utilityStmt;

	if (IsA(stmt, DropdbStmt) && !IsTransactionBlock())
		stop_worker_of(((DropdbStmt *) stmt)->dbname);
	/* CREATE DATABASE ... TEMPLATE x waits for no one to be connected to x */
	if (IsA(stmt, CreatedbStmt) && !IsTransactionBlock())
	{
		ListCell   *lc;

		foreach(lc, ((CreatedbStmt *) stmt)->options)
		{
			DefElem    *opt = lfirst_node(DefElem, lc);

			if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
				stop_worker_of(defGetString(opt));
		}
	}
	/* DROP EXTENSION okra: its worker looks (and exits) once it commits */
	if (IsA(stmt, DropStmt) && ((DropStmt *) stmt)->removeType == OBJECT_EXTENSION)
		wake_when_committed();
	if (prev_process_utility)
		prev_process_utility(OKRA_PROCESS_UTILITY_PASS);
	else
		standard_ProcessUtility(OKRA_PROCESS_UTILITY_PASS);
}

static void
outbox_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit)
				okra_wake_database(MyDatabaseId);
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
 * okra_outbox_wake(): wake this database's worker (or the launcher, to
 * start one) when this transaction commits.  Called by the after-commit
 * functions, and by CREATE EXTENSION okra.
 */
Datum
okra_outbox_wake(PG_FUNCTION_ARGS)
{
	/* without preload no worker will ever send it: say so now */
	if (okra_shared == NULL && !creating_extension)
		ereport(WARNING,
				errcode(ERRCODE_WARNING),
				errmsg("no okra worker sends the outbox of database \"%s\"",
					   get_database_name(MyDatabaseId)),
				errdetail("okra is not in shared_preload_libraries, so the request stays queued until CALL okra_outbox_run() sends it."),
				errhint("Add okra to shared_preload_libraries, or schedule CALL okra_outbox_run() with pg_cron."));
	wake_when_committed();
	PG_RETURN_VOID();
}

/*
 * Wake this database's worker (or the launcher) when this transaction
 * commits.
 */
static void
wake_when_committed(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(outbox_xact_callback, NULL);
		xact_callback_registered = true;
	}
	wake_at_commit = true;
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
 * okra's schema in this database, or InvalidOid; in a transaction.
 */
static Oid
okra_schema_here(void)
{
	Oid			ext = get_extension_oid("okra", true);

	return OidIsValid(ext) ? extension_schema(ext) : InvalidOid;
}

/*
 * The launcher: merge pg_database into dbs (n of them), return the new n.
 */
static int
list_databases(LauncherDb **dbs, int n)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	int			i;

	for (i = 0; i < n; i++)
		(*dbs)[i].seen = false;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);

		if (!d->datallowconn || d->datistemplate)
			continue;
		for (i = 0; i < n && (*dbs)[i].dboid != d->oid; i++)
			;
		if (i == n)
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			*dbs = repalloc(*dbs, sizeof(LauncherDb) * (n + 1));
			MemoryContextSwitchTo(old);
			memset(&(*dbs)[n], 0, sizeof(LauncherDb));
			(*dbs)[n].dboid = d->oid;
			n++;
		}
		(*dbs)[i].seen = true;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();

	/* forget dropped databases whose worker is gone */
	for (i = 0; i < n;)
	{
		pid_t		pid;

		if (!(*dbs)[i].seen &&
			((*dbs)[i].handle == NULL ||
			 GetBackgroundWorkerPid((*dbs)[i].handle, &pid) == BGWH_STOPPED))
			(*dbs)[i] = (*dbs)[--n];
		else
			i++;
	}
	return n;
}

/*
 * The launcher: start db's worker unless one runs or it is not yet time.
 */
static void
start_worker(LauncherDb *db)
{
	BackgroundWorker bgw;
	pid_t		pid;
	TimestampTz now = GetCurrentTimestamp();
	bool		paused;

	if (db->handle != NULL &&
		GetBackgroundWorkerPid(db->handle, &pid) != BGWH_STOPPED)
		return;
	if (now < db->next_start)
		return;
	SpinLockAcquire(&okra_shared->mutex);
	paused = (okra_shared->paused_dboid == db->dboid &&
			  now < okra_shared->paused_until);
	SpinLockRelease(&okra_shared->mutex);
	if (paused)
		return;
	if (db->handle != NULL)
	{
		pfree(db->handle);
		db->handle = NULL;
	}
	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "okra");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "okra_outbox_worker_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "okra worker %u", db->dboid);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "okra worker");
	bgw.bgw_main_arg = ObjectIdGetDatum(db->dboid);
	bgw.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&bgw, &db->handle))
	{
		db->handle = NULL;
		ereport(LOG,
				errmsg("okra launcher could not start a worker for database %u",
					   db->dboid),
				errhint("Raise max_worker_processes: okra needs one per database where it is installed, plus its launcher."));
	}
	db->next_start = TimestampTzPlusMilliseconds(now, OKRA_RECHECK_SECS * 1000);
}

/*
 * At the top of the launcher's and the workers' loops: SIGTERM ends the
 * process, SIGHUP rereads the configuration.
 */
static void
serve_interrupts(void)
{
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
	ResetLatch(MyLatch);
}

/*
 * When the launcher exits: nobody to wake.
 */
static void
launcher_detach(int code, Datum arg)
{
	SpinLockAcquire(&okra_shared->mutex);
	okra_shared->launcher_procno = -1;
	SpinLockRelease(&okra_shared->mutex);
}

/*
 * The launcher's main loop.
 */
void
okra_launcher_main(Datum arg)
{
	LauncherDb *dbs;
	int			n = 0;
	int			i;
	bool		woken;
	Oid			woken_dboid;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	dbs = MemoryContextAllocZero(TopMemoryContext, sizeof(LauncherDb));

	SpinLockAcquire(&okra_shared->mutex);
	okra_shared->launcher_procno = OKRA_MY_PROCNO;
	SpinLockRelease(&okra_shared->mutex);
	before_shmem_exit(launcher_detach, (Datum) 0);
	ereport(LOG, errmsg("okra launcher started"));

	for (;;)
	{
		serve_interrupts();
		/* woken by a backend: okra may just have been installed somewhere */
		SpinLockAcquire(&okra_shared->mutex);
		woken = okra_shared->launcher_wake;
		woken_dboid = okra_shared->launcher_wake_dboid;
		okra_shared->launcher_wake = false;
		SpinLockRelease(&okra_shared->mutex);
		n = list_databases(&dbs, n);
		for (i = 0; i < n; i++)
		{
			if (woken && dbs[i].dboid == woken_dboid &&
				okra_slot_of(dbs[i].dboid) < 0)
				dbs[i].next_start = 0;
			if (dbs[i].seen)
				start_worker(&dbs[i]);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 okra_outbox_poll_interval, PG_WAIT_EXTENSION);
	}
}

/*
 * When a database's worker exits: its slot keeps the ring (for the next
 * worker of the database) but nobody is there to wake.
 */
static void
worker_detach(int code, Datum arg)
{
	if (my_slot < 0)
		return;
	SpinLockAcquire(&okra_shared->mutex);
	okra_shared->db[my_slot].procno = -1;
	okra_shared->db[my_slot].pid = 0;
	SpinLockRelease(&okra_shared->mutex);
	my_slot = -1;
}

/*
 * Take this database's slot: the one it had (whose ring may still hold
 * messages), else a free one.  False if all are taken.
 */
static bool
claim_slot(void)
{
	int			i;
	int			free_slot = -1;

	SpinLockAcquire(&okra_shared->mutex);
	for (i = 0; i < OKRA_MAX_DATABASES; i++)
	{
		OkraDbSlot *s = &okra_shared->db[i];

		if (s->dboid == MyDatabaseId)
			break;
		if (free_slot < 0 && s->procno < 0 &&
			(s->dboid == InvalidOid || s->head == s->tail))
			free_slot = i;
	}
	if (i == OKRA_MAX_DATABASES)
		i = free_slot;
	if (i >= 0)
	{
		OkraDbSlot *s = &okra_shared->db[i];

		if (s->procno >= 0)
			i = -1;				/* another worker serves it */
		else
		{
			if (s->dboid != MyDatabaseId)
			{
				s->dboid = MyDatabaseId;
				s->head = s->tail = s->lost = 0;
			}
			s->procno = OKRA_MY_PROCNO;
			s->pid = MyProcPid;
		}
	}
	SpinLockRelease(&okra_shared->mutex);
	my_slot = i;
	return i >= 0;
}

/*
 * Called by the transfer loop of an outbox batch (outside any
 * transaction): write the journal, so that synchronous calls do not wait
 * behind the batch.
 */
static void
write_journal_between_polls(void)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (my_slot < 0 || IsTransactionState() || !okra_journal_pending(my_slot))
		return;
	/* a failure here must not cost the answers of the batch in flight */
	PG_TRY();
	{
		(void) okra_journal_write(my_slot, my_nsp);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		if (geterrcode() == ERRCODE_QUERY_CANCELED ||
			geterrcode() == ERRCODE_ADMIN_SHUTDOWN)
			PG_RE_THROW();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
}

/*
 * Whether the extension's SQL objects here are of this library's version.
 * After a package upgrade they are not until ALTER EXTENSION okra UPDATE:
 * the worker then sends nothing, and says so once.
 */
static bool
version_matches(const char *version)
{
	static bool warned = false;

	if (version == NULL || strcmp(version, OKRA_VERSION) == 0)
	{
		warned = false;
		return true;
	}
	if (!warned)
		ereport(WARNING,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("okra worker for database \"%s\" waits: extension \"okra\" is version %s there, but its library is version %s",
					   my_dbname, version, OKRA_VERSION),
				errdetail("Queued refunds stay queued, and the journal is not written, until the versions match."),
				errhint("Run ALTER EXTENSION okra UPDATE in database \"%s\".", my_dbname));
	warned = true;
	return false;
}

/*
 * One round: the journal, then outbox steps until nothing is due.  False
 * once okra is no longer installed here.
 */
static bool
worker_cycle(void)
{
	char	   *version;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	my_nsp = okra_schema_here();
	version = okra_contract_sql_version();
	if (version != NULL)
		version = MemoryContextStrdup(worker_cxt, version);
	PopActiveSnapshot();
	CommitTransactionCommand();
	if (!OidIsValid(my_nsp))
		return false;
	if (!version_matches(version))
	{
		journal_stuck = true;	/* wait for the poll interval, not spin */
		return true;
	}

	pgstat_report_activity(STATE_RUNNING, "okra: journal");
	MemoryContextSwitchTo(worker_cxt);
	/* an intent that cannot be written is tried again after a pause */
	journal_stuck = !okra_journal_write(my_slot, my_nsp);
	/*
	 * The outbox, and the payments webhooks named (checked now, not at the
	 * next scheduled run), a step of each in turn, so that neither waits
	 * behind the other, until neither has anything due
	 */
	for (;;)
	{
		int			sent;
		int			checked;

		pgstat_report_activity(STATE_RUNNING, "okra: outbox");
		MemoryContextSwitchTo(worker_cxt);
		sent = okra_outbox_step(my_nsp, false);
		okra_journal_write(my_slot, my_nsp);
		pgstat_report_activity(STATE_RUNNING, "okra: webhooks");
		MemoryContextSwitchTo(worker_cxt);
		checked = okra_verify_webhooks(my_nsp);
		okra_journal_write(my_slot, my_nsp);
		MemoryContextSwitchTo(worker_cxt);
		if (sent == 0 && checked == 0)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	okra_journal_write(my_slot, my_nsp);
	pgstat_report_activity(STATE_IDLE, NULL);
	return true;
}

/*
 * After an error ends a round: log it and carry on, without spinning.
 */
static void
worker_error_recovery(void)
{
	HOLD_INTERRUPTS();
	okra_lock_timeout_end();
	EmitErrorReport();
	AbortOutOfAnyTransaction();
	FlushErrorState();
	MemoryContextSwitchTo(TopMemoryContext);
	RESUME_INTERRUPTS();
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 Min(okra_outbox_poll_interval, 1000), PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
}

/*
 * A database's worker: main loop.
 */
void
okra_outbox_worker_main(Datum arg)
{
	sigjmp_buf	local_sigjmp_buf;
	Oid			dboid = DatumGetObjectId(arg);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	/* no cancel: it could cut short a commit's wait for the standby */
	pqsignal(SIGINT, SIG_IGN);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	/*
	 * Its commits are promises made before sending: durable, always; and
	 * nothing a database or role setting says may stop it writing them.
	 */
	SetConfigOption("synchronous_commit", "on", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	/* (a session value, so that okra_lock_timeout_begin can set it locally) */
	SetConfigOption("lock_timeout", "0", PGC_SUSET, PGC_S_SESSION);
	SetConfigOption("idle_in_transaction_session_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	my_nsp = okra_schema_here();
	my_dbname = MemoryContextStrdup(TopMemoryContext,
									get_database_name(MyDatabaseId));
	PopActiveSnapshot();
	CommitTransactionCommand();
	if (!OidIsValid(my_nsp))
		proc_exit(0);			/* no okra here (yet) */

	before_shmem_exit(worker_detach, (Datum) 0);
	if (!claim_slot())
	{
		/* another worker serves it (the launcher restarted): nothing to do */
		if (okra_slot_of(dboid) < 0)
			ereport(LOG,
					errmsg("okra serves at most %d databases; database \"%s\" is not served",
						   OKRA_MAX_DATABASES, my_dbname));
		proc_exit(0);
	}
	worker_cxt = AllocSetContextCreate(TopMemoryContext, "okra worker",
									   ALLOCSET_DEFAULT_SIZES);
	okra_http_between_polls(write_journal_between_polls, OKRA_WORKER_POLL_MS);
	ereport(LOG,
			errmsg("okra worker started for database \"%s\"", my_dbname));

	/* an error ends the round, not the worker */
	if (sigsetjmp(local_sigjmp_buf, 1) != 0)
		worker_error_recovery();
	PG_exception_stack = &local_sigjmp_buf;

	for (;;)
	{
		serve_interrupts();
		MemoryContextReset(worker_cxt);
		if (!worker_cycle())
		{
			ereport(LOG,
					errmsg("okra worker for database \"%s\" exits: okra is not installed there",
						   my_dbname));
			proc_exit(0);
		}
		/* the journal is written as soon as a backend puts something */
		if (okra_journal_pending(my_slot) && !journal_stuck)
			continue;
		journal_stuck = false;
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
	if (okra_shared != NULL)
	{
		int			i;

		SpinLockAcquire(&okra_shared->mutex);
		for (i = 0; i < OKRA_MAX_DATABASES; i++)
			if (okra_shared->db[i].dboid == MyDatabaseId &&
				okra_shared->db[i].procno >= 0)
				pid = okra_shared->db[i].pid;
		SpinLockRelease(&okra_shared->mutex);
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
	values[2] = CStringGetTextDatum(get_database_name(MyDatabaseId));
	nulls[2] = (pid == 0);
	values[3] = BoolGetDatum(okra_shared != NULL);
	values[4] = BoolGetDatum(key_ok);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}
