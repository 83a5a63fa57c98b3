/*-------------------------------------------------------------------------
 *
 * txn.c
 *	  Transactions for okra's own work outside the caller's: in the
 *	  procedures that commit as they go (okra_verify_pending,
 *	  okra_outbox_run) and in the okra worker.
 *
 * Each of these transactions commits with synchronous_commit = on,
 * whatever the session or the server says: the outbox claims a request in
 * one before sending it, and records the answer in the next.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "replication/syncrep.h"
#include "replication/walsender_private.h"
#include "storage/lwlock.h"
#include "storage/pmsignal.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "txn.h"

/*
 * At the start of a procedure that commits as it goes (okra_verify_pending,
 * okra_outbox_run): refuse to run where it cannot commit, then connect to
 * SPI, nonatomic.  why says when it commits.  The caller ends with
 * SPI_finish().
 */
void
okra_procedure_begin(FunctionCallInfo fcinfo, const char *name, const char *why)
{
	CallContext *call = (CallContext *) fcinfo->context;

	if (call == NULL || !IsA(call, CallContext) || call->atomic)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				errmsg("%s cannot run inside a transaction block", name),
				errdetail("It commits %s.", why),
				errhint("Run CALL %s() as a statement of its own, as pg_cron does.", name));
	if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect_ext failed");
}

/*
 * A transaction to call okra's internal functions in, with a snapshot: in
 * a procedure the current one, in a background worker a new one.  It
 * commits with synchronous_commit = on whatever the session or the server
 * says: the outbox claims a request in one before sending it, and records
 * the answer in the next.
 */
void
okra_xact_begin(bool in_procedure)
{
	if (!in_procedure)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
	}
	(void) set_config_option("synchronous_commit", "on", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	PushActiveSnapshot(GetTransactionSnapshot());
}

/*
 * Commit it: through SPI in a procedure (which starts the next one).
 */
void
okra_xact_commit(bool in_procedure)
{
	PopActiveSnapshot();
	if (in_procedure)
		okra_spi_commit();
	else
		CommitTransactionCommand();
	if (!okra_commit_was_durable())
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("okra could not confirm that its commit is durable"),
				errdetail("The server is shutting down, or the synchronous standby did not acknowledge the commit. Nothing more is sent."));
}

/*
 * Did the last commit of this process reach everything synchronous_commit
 * = on promises: the local WAL and, where synchronous standbys are
 * configured, their acknowledgement?  The wait for them can end without
 * it: a cancel (a warning, and the commit stands locally), a shutdown, or
 * the postmaster's death (its walsenders are gone).  Then what okra just
 * committed before sending may not survive a failover, so nothing is sent.
 */
bool
okra_commit_was_durable(void)
{
	bool		acked = true;

	if (ProcDiePending || !PostmasterIsAlive())
		return false;
	if (XactLastCommitEnd == InvalidXLogRecPtr || WalSndCtl == NULL)
		return true;
	LWLockAcquire(SyncRepLock, LW_SHARED);
	if (OKRA_SYNC_STANDBYS_DEFINED(WalSndCtl))
		acked = WalSndCtl->lsn[SYNC_REP_WAIT_FLUSH] >= XactLastCommitEnd;
	LWLockRelease(SyncRepLock);
	return acked;
}

/*
 * Wait at most ms for any lock until the end of this transaction (a local
 * setting: the session's comes back at its end), also in the okra worker,
 * which ignores SIGINT, the signal by which a lock timeout cancels the wait: it
 * takes it until okra_lock_timeout_end(), which must come before the
 * commit (a cancel must never cut short a commit's wait for a synchronous
 * standby).  The worker must never wait on a caller's transaction, which
 * may itself wait for the worker to write its journal intent.
 */
void
okra_lock_timeout_begin(const char *ms)
{
	(void) set_config_option("lock_timeout", ms, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	if (IsBackgroundWorker)
		pqsignal(SIGINT, StatementCancelHandler);
}

void
okra_lock_timeout_end(void)
{
	if (IsBackgroundWorker)
	{
		pqsignal(SIGINT, SIG_IGN);
		QueryCancelPending = false;
	}
}
