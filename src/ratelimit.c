/*-------------------------------------------------------------------------
 *
 * ratelimit.c
 *	  okra.rate_limit_per_minute: spacing Okra API requests out so that no
 *	  60-second window holds more than the limit.
 *
 * Okra answers 429 beyond 20, 40 or 60 requests a minute, depending on the
 * plan.  Every request first reserves the next free slot, at least
 * 60 s / limit after the one before, and http.c waits until then
 * (interruptibly: cancel and statement_timeout work while it waits).  When okra is in
 * shared_preload_libraries the slots live in shared memory, so the limit
 * holds for every backend of the cluster together; otherwise each backend
 * spaces only its own requests (README "Rate limits").
 *
 * A reserved turn belongs to its waiter until the waiter uses it or
 * leaves: the state is the list of turns held now (and the last one
 * used), not a cursor that only moves forward.  A waiter that is
 * cancelled or fails gives its turn back (http.c frees the batch in
 * PG_FINALLY; a backend that exits gives back all of its turns), and the
 * next request takes the earliest free time, gaps included.  So a cancel
 * never pushes anyone else's turn later.  With more waiters than the list
 * holds, a request reserves nothing and asks again at its next poll.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "okra.h"

/* Sliding windows count both ends: keep 0.2% clear of the boundary */
#define OKRA_RATE_MARGIN_DIVISOR	500

/* Most turns held (reserved, not yet used) at once */
#define OKRA_RATE_MAX_HELD		1024

#define OKRA_RATE_TRANCHE		"okra rate limit"

/* A turn reserved by a waiting request */
typedef struct OkraRateTurn
{
	TimestampTz slot;			/* when it may go */
	int			pid;			/* the process waiting for it */
} OkraRateTurn;

typedef struct OkraRateState
{
	LWLock	   *lock;			/* NULL in the per-backend state */
	TimestampTz last_taken;		/* the latest turn used */
	int			nheld;
	OkraRateTurn held[OKRA_RATE_MAX_HELD];	/* held turns, by slot */
} OkraRateState;

int			okra_rate_limit_per_minute = 0;

static OkraRateState *rate_shared = NULL;	/* NULL unless preloaded */
static OkraRateState *rate_local = NULL;	/* the fallback, per backend */
static bool rate_exit_registered = false;

#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*---- static prototypes ----*/
#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
static void rate_shmem_request(void);
#endif
static void rate_shmem_startup(void);
static OkraRateState *rate_state_lock(void);
static void rate_state_unlock(OkraRateState *st);
static bool reserve_slot(OkraRateState *st, TimestampTz now, int64 interval,
						 TimestampTz *slot);
static bool drop_turn(OkraRateState *st, TimestampTz slot);
static void rate_release_at_exit(int code, Datum arg);

#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
static void
rate_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(OkraRateState)));
	RequestNamedLWLockTranche(OKRA_RATE_TRANCHE, 1);
}
#endif

static void
rate_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	rate_shared = ShmemInitStruct("okra rate limit", sizeof(OkraRateState), &found);
	if (!found)
	{
		rate_shared->lock = &(GetNamedLWLockTranche(OKRA_RATE_TRANCHE))->lock;
		rate_shared->last_taken = 0;
		rate_shared->nheld = 0;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * From _PG_init while shared_preload_libraries is processed: ask for the
 * shared state.
 */
void
okra_rate_limit_preload(void)
{
#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = rate_shmem_request;
#else
	RequestAddinShmemSpace(MAXALIGN(sizeof(OkraRateState)));
	RequestNamedLWLockTranche(OKRA_RATE_TRANCHE, 1);
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = rate_shmem_startup;
}

/*
 * The state to use, locked: the shared one when preloaded, else this
 * backend's own (made on first use).  Nothing in between may throw.
 */
static OkraRateState *
rate_state_lock(void)
{
	if (rate_shared != NULL)
	{
		LWLockAcquire(rate_shared->lock, LW_EXCLUSIVE);
		return rate_shared;
	}
	if (rate_local == NULL)
		rate_local = MemoryContextAllocZero(TopMemoryContext,
											sizeof(OkraRateState));
	return rate_local;
}

/*
 * Unlock what rate_state_lock() returned.
 */
static void
rate_state_unlock(OkraRateState *st)
{
	if (st->lock != NULL)
		LWLockRelease(st->lock);
}

/*
 * Reserve the earliest time from now that is at least interval after the
 * last turn used and at least interval away from every turn held, gaps
 * left by waiters that gave up included.  False when every entry of the
 * list is in use (nothing reserved).
 */
static bool
reserve_slot(OkraRateState *st, TimestampTz now, int64 interval,
			 TimestampTz *slot)
{
	TimestampTz t;
	int			i;

	if (st->nheld >= OKRA_RATE_MAX_HELD)
		return false;
	t = Max(now, st->last_taken + interval);
	for (i = 0; i < st->nheld; i++)
	{
		TimestampTz s = st->held[i].slot;

		if (s + interval <= t)
			continue;			/* far enough before t */
		if (s >= t + interval)
			break;				/* t fits in the gap before s */
		t = s + interval;		/* too close: try just after s */
	}
	/* held[i] is the first turn after t: keep the list in order */
	memmove(&st->held[i + 1], &st->held[i],
			sizeof(OkraRateTurn) * (st->nheld - i));
	st->held[i].slot = t;
	st->held[i].pid = MyProcPid;
	st->nheld++;
	*slot = t;
	return true;
}

/*
 * Remove this process's turn at slot from the list; false if it holds
 * none there.
 */
static bool
drop_turn(OkraRateState *st, TimestampTz slot)
{
	int			i;

	for (i = 0; i < st->nheld; i++)
	{
		if (st->held[i].slot == slot && st->held[i].pid == MyProcPid)
		{
			memmove(&st->held[i], &st->held[i + 1],
					sizeof(OkraRateTurn) * (st->nheld - i - 1));
			st->nheld--;
			return true;
		}
	}
	return false;
}

/*
 * At process exit (a FATAL error or pg_terminate_backend() while waiting
 * skips PG_FINALLY): give back every turn this process holds.
 */
static void
rate_release_at_exit(int code, Datum arg)
{
	int			i;
	int			kept = 0;

	if (rate_shared == NULL)
		return;
	LWLockAcquire(rate_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < rate_shared->nheld; i++)
		if (rate_shared->held[i].pid != MyProcPid)
			rate_shared->held[kept++] = rate_shared->held[i];
	rate_shared->nheld = kept;
	LWLockRelease(rate_shared->lock);
}

/*
 * Before a request: reserve its turn under okra.rate_limit_per_minute,
 * now or later, into *slot (0 when there is no limit: go now).  The
 * caller waits, interruptibly, then calls okra_rate_limit_taken() as the
 * request starts, or okra_rate_limit_release() if it never does (http.c).
 * False when too many requests wait to reserve one more: ask again later.
 */
bool
okra_rate_limit_reserve(TimestampTz now, TimestampTz *slot)
{
	int64		interval;
	OkraRateState *st;
	bool		ok;

	*slot = 0;
	if (okra_rate_limit_per_minute <= 0)
		return true;
	interval = USECS_PER_MINUTE / okra_rate_limit_per_minute;
	interval += interval / OKRA_RATE_MARGIN_DIVISOR + 1;
	if (rate_shared != NULL && !rate_exit_registered)
	{
		before_shmem_exit(rate_release_at_exit, (Datum) 0);
		rate_exit_registered = true;
	}
	st = rate_state_lock();
	ok = reserve_slot(st, now, interval, slot);
	rate_state_unlock(st);
	return ok;
}

/*
 * The request whose turn is slot starts now: the turn is used.
 */
void
okra_rate_limit_taken(TimestampTz slot)
{
	OkraRateState *st;

	if (slot == 0 || (rate_shared == NULL && rate_local == NULL))
		return;
	st = rate_state_lock();
	if (drop_turn(st, slot))
		st->last_taken = Max(st->last_taken, slot);
	rate_state_unlock(st);
}

/*
 * The request whose turn is slot will not be sent (cancel, error, a batch
 * stopped): give the turn back for the next request to take.  Never
 * throws.
 */
void
okra_rate_limit_release(TimestampTz slot)
{
	OkraRateState *st;

	if (slot == 0 || (rate_shared == NULL && rate_local == NULL))
		return;
	st = rate_state_lock();
	(void) drop_turn(st, slot);
	rate_state_unlock(st);
}
