/*-------------------------------------------------------------------------
 *
 * http.h
 *	  The libcurl transport: one POST to okra.base_url + "/" + endpoint.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_HTTP_H
#define OKRA_HTTP_H

#include "datatype/timestamp.h"

/* One completed exchange with Okra: a final status and a whole body */
typedef struct OkraHttpResponse
{
	long		status;			/* HTTP status code, never 3xx */
	char	   *body;			/* palloc'd, NUL-terminated */
	size_t		body_len;		/* bytes in body, without the NUL */
	TimestampTz received_at;	/* when the last byte arrived */
} OkraHttpResponse;

extern uint32 okra_http_wait_event(void);
extern void okra_http_post(const char *endpoint, const char *body,
						   size_t body_len, OkraHttpResponse *resp);

#endif							/* OKRA_HTTP_H */
