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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "okra.h"

/* Sliding windows count both ends: keep 0.2% clear of the boundary */
#define OKRA_RATE_MARGIN_DIVISOR	500

typedef struct OkraRateState
{
	slock_t		mutex;
	TimestampTz next_slot;		/* earliest time the next request may go */
} OkraRateState;

int			okra_rate_limit_per_minute = 0;

static OkraRateState *rate_shared = NULL;	/* NULL unless preloaded */
static TimestampTz rate_local_next = 0; /* the fallback, per backend */

#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*---- static prototypes ----*/
#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
static void rate_shmem_request(void);
#endif
static void rate_shmem_startup(void);
static TimestampTz reserve_slot(TimestampTz now, int64 interval);

#ifdef OKRA_HAVE_SHMEM_REQUEST_HOOK
static void
rate_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(OkraRateState)));
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
		SpinLockInit(&rate_shared->mutex);
		rate_shared->next_slot = 0;
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
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = rate_shmem_startup;
}

/*
 * Take the next free slot, shared or this backend's own.
 */
static TimestampTz
reserve_slot(TimestampTz now, int64 interval)
{
	TimestampTz slot;

	if (rate_shared != NULL)
	{
		SpinLockAcquire(&rate_shared->mutex);
		slot = Max(now, rate_shared->next_slot);
		rate_shared->next_slot = slot + interval;
		SpinLockRelease(&rate_shared->mutex);
	}
	else
	{
		slot = Max(now, rate_local_next);
		rate_local_next = slot + interval;
	}
	return slot;
}

/*
 * Before a request: the time its turn under okra.rate_limit_per_minute
 * comes (now or later), reserved for it; 0 when there is no limit.  The
 * caller waits, interruptibly (http.c).
 */
TimestampTz
okra_rate_limit_reserve(TimestampTz now)
{
	int64		interval;

	if (okra_rate_limit_per_minute <= 0)
		return 0;
	interval = USECS_PER_MINUTE / okra_rate_limit_per_minute;
	interval += interval / OKRA_RATE_MARGIN_DIVISOR + 1;
	return reserve_slot(now, interval);
}
