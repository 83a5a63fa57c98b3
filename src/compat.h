/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every PG_VERSION_NUM test of okra, so the other files need none.
 *
 * okra supports PostgreSQL 13 to 17.  Each block below names the release
 * that introduced what it papers over.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_COMPAT_H
#define OKRA_COMPAT_H

#include "utils/guc.h"

#if PG_VERSION_NUM < 130000
#error "okra requires PostgreSQL 13 or later"
#endif

/* PostgreSQL 15 renamed EmitWarningsOnPlaceholders() */
#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/* PostgreSQL 15: shared memory is requested from shmem_request_hook */
#if PG_VERSION_NUM >= 150000
#define OKRA_HAVE_SHMEM_REQUEST_HOOK 1
#endif

/* PostgreSQL 16: soft errors from input functions */
#if PG_VERSION_NUM >= 160000
#define OKRA_HAVE_SOFT_INPUT_ERRORS 1
#include "nodes/miscnodes.h"
#endif

/* PostgreSQL 17: named custom wait events */
#if PG_VERSION_NUM >= 170000
#define OKRA_HAVE_CUSTOM_WAIT_EVENTS 1
#endif

/* PostgreSQL 14 moved the wait event API out of pgstat.h */
#if PG_VERSION_NUM >= 140000
#include "utils/wait_event.h"
#else
#include "pgstat.h"
#endif

/* PostgreSQL 15: SPI_commit() starts the next transaction itself */
#include "executor/spi.h"
static inline void
okra_spi_commit(void)
{
	SPI_commit();
#if PG_VERSION_NUM < 150000
	SPI_start_transaction();
#endif
}

/* PostgreSQL 16: the *_ownercheck functions became object_ownercheck */
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_database.h"
#include "utils/acl.h"
#define OKRA_DATABASE_OWNERCHECK(dboid, roleid) \
	object_ownercheck(DatabaseRelationId, (dboid), (roleid))
#else
#include "utils/acl.h"
#define OKRA_DATABASE_OWNERCHECK(dboid, roleid) \
	pg_database_ownercheck((dboid), (roleid))
#endif

/*
 * Later minor releases (2025) replaced WalSndCtl's sync_standbys_defined
 * by the flags of sync_standbys_status
 */
#ifdef SYNC_STANDBY_DEFINED
#define OKRA_SYNC_STANDBYS_DEFINED(ctl) \
	(((ctl)->sync_standbys_status & SYNC_STANDBY_DEFINED) != 0)
#else
#define OKRA_SYNC_STANDBYS_DEFINED(ctl) ((ctl)->sync_standbys_defined)
#endif

/* PostgreSQL 17: a backend's number is MyProcNumber, no longer pgprocno */
#if PG_VERSION_NUM >= 170000
#define OKRA_MY_PROCNO MyProcNumber
#else
#define OKRA_MY_PROCNO (MyProc->pgprocno)
#endif

/* PostgreSQL 14: ProcessUtility_hook takes readOnlyTree */
#if PG_VERSION_NUM >= 140000
#define OKRA_PROCESS_UTILITY_ARGS \
	PlannedStmt *pstmt, const char *queryString, bool readOnlyTree, \
	ProcessUtilityContext context, ParamListInfo params, \
	QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc
#define OKRA_PROCESS_UTILITY_PASS \
	pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc
#else
#define OKRA_PROCESS_UTILITY_ARGS \
	PlannedStmt *pstmt, const char *queryString, \
	ProcessUtilityContext context, ParamListInfo params, \
	QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc
#define OKRA_PROCESS_UTILITY_PASS \
	pstmt, queryString, context, params, queryEnv, dest, qc
#endif

#endif							/* OKRA_COMPAT_H */
