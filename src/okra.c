/*-------------------------------------------------------------------------
 *
 * okra.c
 *	  Module entry point of okra: the module magic block and _PG_init().
 *
 * Loading the library defines the okra.* settings and nothing else;
 * libcurl is initialised on the first request (http.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "okra.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Module load: define the settings.
 */
void
_PG_init(void)
{
	okra_define_gucs();
}
