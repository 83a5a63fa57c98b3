/*-------------------------------------------------------------------------
 *
 * authorizations.h
 *	  okra_authorization rows from Okra's answers (authorizations.c), for
 *	  the calls there and the lists in reads.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_AUTHORIZATIONS_H
#define OKRA_AUTHORIZATIONS_H

#include "access/tupdesc.h"
#include "datatype/timestamp.h"

/* Columns of okra_authorization, as in sql/okra.sql */
#define OKRA_AUTHORIZATION_NATTS	16

extern Datum okra_authorization_list_row(TupleDesc tupdesc,
										 const char *endpoint,
										 long http_status, Datum page, int i,
										 TimestampTz checked_at);

#endif							/* OKRA_AUTHORIZATIONS_H */
