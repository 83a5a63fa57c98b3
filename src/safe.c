/*-------------------------------------------------------------------------
 *
 * safe.c
 *	  Turning Okra's answer into SQL values without raising stray errors.
 *
 * An answer arrives after Okra may already have moved money, so what it
 * holds must never surface as an unrelated SQLSTATE (22P02, 22P05, 22007):
 * the callers turn a false return into OK011 with the "verify first" hint.
 * Type input uses PostgreSQL 16's soft errors where they exist; before
 * that, and for encoding conversion, a data exception (class 22) raised
 * inside a subtransaction is caught and reported as false.  Any other
 * error (a cancel, out of memory) is re-thrown unchanged.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "mb/pg_wchar.h"
#include "utils/elog.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "compat.h"
#include "okra.h"

/* One guarded step: either an input function or an encoding conversion */
typedef struct SafeStep
{
	PGFunction	infunc;			/* input function, or NULL to convert */
	char	   *str;
	size_t		len;
	Oid			typioparam;
	Datum		result;
	char	   *converted;
} SafeStep;

/*---- static prototypes ----*/
static void run_step(SafeStep *step);
static bool run_guarded(SafeStep *step);
static char *ascii_escaped(const char *s, size_t len);

/*
 * Do the step; may raise.
 */
static void
run_step(SafeStep *step)
{
	if (step->infunc != NULL)
		step->result = DirectFunctionCall3(step->infunc,
										   CStringGetDatum(step->str),
										   ObjectIdGetDatum(step->typioparam),
										   Int32GetDatum(-1));
	else
		step->converted = pg_any_to_server(step->str, (int) step->len, PG_UTF8);
}

/*
 * Do the step in a subtransaction; false if it raised a data exception.
 */
static bool
run_guarded(SafeStep *step)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		run_step(step);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			ReThrowError(edata);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * Run a type input function on str; false if the input is invalid.
 */
bool
okra_safe_input(PGFunction infunc, char *str, Oid typioparam, Datum *result)
{
#ifdef OKRA_HAVE_SOFT_INPUT_ERRORS
	ErrorSaveContext escontext = {T_ErrorSaveContext};

	return DirectInputFunctionCallSafe(infunc, str, typioparam, -1,
									   (Node *) &escontext, result);
#else
	SafeStep	step = {infunc, str, 0, typioparam, (Datum) 0, NULL};

	if (!run_guarded(&step))
		return false;
	*result = step.result;
	return true;
#endif
}

/*
 * Valid UTF-8 text as a palloc'd string in the server encoding.  Returns
 * NULL when a character has no equivalent there, unless escape is true:
 * then every non-ASCII character is written as \uXXXX instead (for
 * messages, which must get through whatever they contain).
 */
char *
okra_utf8_to_server(const char *s, size_t len, bool escape)
{
	SafeStep	step = {NULL, (char *) s, len, InvalidOid, (Datum) 0, NULL};
	size_t		i;

	if (GetDatabaseEncoding() == PG_UTF8 || GetDatabaseEncoding() == PG_SQL_ASCII)
		return pnstrdup(s, len);
	for (i = 0; i < len && !IS_HIGHBIT_SET(s[i]); i++)
		;
	if (i == len)
		return pnstrdup(s, len);	/* ASCII is the same everywhere */

	if (run_guarded(&step))
		return step.converted == s ? pnstrdup(s, len) : step.converted;
	return escape ? ascii_escaped(s, len) : NULL;
}

/*
 * Valid UTF-8 with every non-ASCII character written as \uXXXX (or
 * \UXXXXXXXX beyond the BMP).
 */
static char *
ascii_escaped(const char *s, size_t len)
{
	StringInfoData buf;
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;

	initStringInfo(&buf);
	while (p < end)
	{
		int			clen = pg_utf_mblen(p);
		pg_wchar	c;

		if (clen == 1 || p + clen > end)
		{
			appendStringInfoChar(&buf, (char) (*p & 0x7f));
			p++;
			continue;
		}
		c = utf8_to_unicode(p);
		if (c > 0xFFFF)
			appendStringInfo(&buf, "\\U%08X", (unsigned int) c);
		else
			appendStringInfo(&buf, "\\u%04X", (unsigned int) c);
		p += clen;
	}
	return buf.data;
}
