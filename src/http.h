/*-------------------------------------------------------------------------
 *
 * http.h
 *	  The libcurl transport: POSTs to okra.base_url + "/" + endpoint, one at
 *	  a time or many at once.
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
	TimestampTz started_at;		/* when the request started */
	TimestampTz received_at;	/* when the last byte arrived */
} OkraHttpResponse;

/* Many POSTs driven together (http.c) */
typedef struct OkraHttpBatch OkraHttpBatch;

extern uint32 okra_http_wait_event(void);
extern void okra_http_post(const char *endpoint, const char *body,
						   size_t body_len, OkraHttpResponse *resp);
extern void okra_http_post_multipart(const char *endpoint,
									 const char *boundary, const char *body,
									 size_t body_len, OkraHttpResponse *resp);
extern OkraHttpBatch *okra_http_batch_create(int njobs, int parallel);
extern void okra_http_batch_set(OkraHttpBatch *b, int i, const char *endpoint,
								const char *body, size_t body_len);
extern void okra_http_batch_prepare(OkraHttpBatch *b);
extern int	okra_http_batch_next(OkraHttpBatch *b);
extern void okra_http_batch_result(OkraHttpBatch *b, int i,
								   OkraHttpResponse *resp);
extern void okra_http_batch_header(OkraHttpBatch *b, int i,
								   const char *header);
extern void okra_http_batch_content_type(OkraHttpBatch *b, int i,
										 const char *header);
extern void okra_http_batch_stop(OkraHttpBatch *b);
extern long okra_http_batch_status(OkraHttpBatch *b, int i);
extern void okra_http_batch_start_by(OkraHttpBatch *b, TimestampTz start_by);
extern void okra_http_check_config(void);
extern void okra_http_batch_free(OkraHttpBatch *b);
extern void okra_http_between_polls(void (*fn) (void), int poll_ms);
extern void okra_http_idle(int ms);

#endif							/* OKRA_HTTP_H */
