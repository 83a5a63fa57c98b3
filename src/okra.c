/*-------------------------------------------------------------------------
 *
 * okra.c
 *	  Module entry point of okra: the module magic block and _PG_init().
 *
 * Loading the library defines the okra.* settings; preloading it also
 * asks for the shared state of okra.rate_limit_per_minute (ratelimit.c)
 * and starts the outbox worker (worker.c).
 * libcurl is initialised on the first request (http.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "okra.h"
#include "outbox.h"

/* PostgreSQL 18 and later also record the module's name and version */
#ifdef PG_MODULE_MAGIC_EXT
PG_MODULE_MAGIC_EXT(.name = "okra",.version = OKRA_VERSION);
#else
PG_MODULE_MAGIC;
#endif

void		_PG_init(void);

/*
 * Module load: define the settings.
 */
void
_PG_init(void)
{
	/*
	 * libcurl writes TLS secrets to the file SSLKEYLOGFILE names: remove it
	 * from this process's environment (from the postmaster's, and so every
	 * backend's, when preloaded) before any library initialises libcurl;
	 * http.c removes it again just before its own curl_global_init().
	 */
	unsetenv("SSLKEYLOGFILE");
	okra_define_gucs();
	if (process_shared_preload_libraries_in_progress)
	{
		okra_rate_limit_preload();
		okra_worker_preload();
	}
}
