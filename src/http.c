/*-------------------------------------------------------------------------
 *
 * http.c
 *	  libcurl transport for okra: batches of POSTs driven together on one
 *	  per-backend multi handle, so connections (and TLS sessions) are
 *	  reused from one call to the next.  okra_http_post() is a batch of one;
 *	  okra_verify_pending runs many at once (README "Scheduled
 *	  verification").
 *
 * Nothing in this file throws while libcurl is running: callbacks only
 * record a reason, and okra_http_batch_result() raises a transfer's error
 * afterwards (the mapping is in errors.c).  Transfers are driven by
 * curl_multi_poll() in 100 ms slices so a query cancel or
 * statement_timeout is seen quickly; then every transfer is abandoned and
 * CHECK_FOR_INTERRUPTS() raises PostgreSQL's own error.  The caller frees
 * a batch in PG_FINALLY or PG_CATCH: that zeroes the request headers
 * (which hold the key) and gives back the easy handles.  Response bodies
 * grow in the caller's memory context without ever throwing.  Each
 * request first takes its turn under okra.rate_limit_per_minute
 * (ratelimit.c); a turn still held when the batch is freed (a cancel or
 * an error while it waited) is given back there.
 *
 * A request that may move money is never sent twice: libcurl silently
 * resends a request when a reused connection dies before any response
 * byte arrives, on a fresh connection (the socket callback refuses it) or
 * on another pooled one (the pre-request callback refuses it), for every
 * endpoint that is not read-only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "http.h"
#include "okra.h"

/* Largest total size of response headers accepted */
#define OKRA_MAX_HEADER_BYTES	(64 * 1024)

/* How often the transfer loop looks at pending interrupts */
#define OKRA_POLL_MS			100

/* Called between polls, and how often (okra_http_between_polls) */
static void (*between_polls) (void) = NULL;
static int	between_polls_ms = OKRA_POLL_MS;

/* libcurl 7.80: CURLOPT_PREREQFUNCTION tells when a request is about to go */
#if LIBCURL_VERSION_NUM >= 0x075000
#define OKRA_HAVE_PREREQ 1
#endif

/* State of one transfer, shared with the callbacks */
typedef struct OkraTransfer
{
	MemoryContext cxt;			/* where the body grows */
	char	   *body;			/* NUL-terminated while len < cap */
	size_t		len;
	size_t		cap;
	size_t		limit;			/* okra.max_response_size */
	size_t		header_bytes;
	bool		too_large;		/* body over the limit */
	bool		headers_too_large;	/* headers over OKRA_MAX_HEADER_BYTES */
	bool		oom;			/* could not grow the body */
	bool		loopback_only;	/* http: only loopback addresses allowed */
	bool		read_only;		/* a resend cannot move money */
	bool		request_started;	/* the request may have been sent */
	bool		refused_resend; /* refused libcurl's resend */
	bool		refused_address;	/* refused a non-loopback address */
} OkraTransfer;

/* Where a job of a batch is */
typedef enum OkraJobState
{
	JOB_QUEUED,					/* not started (and, once stopped, never) */
	JOB_RUNNING,				/* in the multi handle */
	JOB_DONE					/* finished, well or not */
} OkraJobState;

/* One POST of a batch */
typedef struct OkraJob
{
	const char *endpoint;
	const char *body;
	size_t		body_len;
	OkraJobState state;
	CURL	   *easy;
	bool		attached;		/* easy is in okra_multi */
	bool		done;			/* libcurl reported it complete */
	CURLcode	rc;
	long		status;
	TimestampTz started_at;
	TimestampTz received_at;
	OkraTransfer t;
	const char *extra_header;	/* one more header line, or NULL */
	const char *content_type;	/* its Content-Type line, or NULL: JSON */
	struct curl_slist *own_headers; /* content_type, extra_header, then the
									 * batch's */
	struct curl_slist *own_tail;	/* the last of own_headers, linked to
									 * the batch's */
	char		errbuf[CURL_ERROR_SIZE];
} OkraJob;

struct OkraHttpBatch
{
	int			njobs;
	int			parallel;		/* most jobs running at once */
	int			next;			/* next job to start */
	int			running;
	bool		stopped;		/* start nothing more */
	TimestampTz start_by;		/* start nothing at or after this (0: any time) */
	bool		ready;			/* okra.base_url checked, headers made */
	TimestampTz slot;			/* rate-limit slot held for jobs[next] */
	OkraUrl		url;
	char	   *base;			/* okra.base_url without trailing "/" */
	struct curl_slist *headers; /* shared by every job; has the key */
	OkraJob    *jobs;
};

/* Easy handles kept for reuse after a clean transfer */
#define OKRA_IDLE_MAX			64

/*---- per-backend libcurl state ----*/
static bool okra_curl_ready = false;
static CURLM *okra_multi = NULL;
static CURL *okra_idle[OKRA_IDLE_MAX];
static int	okra_nidle = 0;
#ifdef OKRA_HAVE_CUSTOM_WAIT_EVENTS
static uint32 okra_wait_event = 0;
#endif

/*---- static prototypes ----*/
static void okra_curl_init(bool need_tls);
static void start_job(OkraHttpBatch *b, OkraJob *j);
static void finish_job(OkraHttpBatch *b, OkraJob *j, CURLcode rc,
					   const char *why);
static int	take_finished(OkraHttpBatch *b);
static void release_job(OkraJob *j);
static void batch_interrupted(OkraHttpBatch *b) pg_attribute_noreturn();
static OkraJob *money_in_flight(OkraHttpBatch *b);
static void interrupts_in_flight(OkraHttpBatch *b);
static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata);
static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *userdata);
static bool sockaddr_is_loopback(const struct sockaddr *sa);
static curl_socket_t opensocket_cb(void *clientp, curlsocktype purpose,
								   struct curl_sockaddr *address);
#ifdef OKRA_HAVE_PREREQ
static int	prereq_cb(void *clientp, char *conn_primary_ip, char *conn_local_ip,
					  int conn_primary_port, int conn_local_port);
#endif
static struct curl_slist *append_header(struct curl_slist *list,
										const char *header);
static void free_headers(struct curl_slist *list);
static void job_headers(OkraHttpBatch *b, OkraJob *j);
static void post_one(const char *endpoint, const char *content_type,
					 const char *body, size_t body_len,
					 OkraHttpResponse *resp);
static void report_failure(const char *endpoint, const OkraUrl *url,
						   CURLcode rc, const OkraTransfer *t,
						   const char *errtext) pg_attribute_noreturn();

/* Set one libcurl option; a refusal means this libcurl lacks a feature */
#define OKRA_SETOPT(h, opt, val) \
	do { \
		CURLcode	setopt_rc_ = curl_easy_setopt(h, opt, val); \
		if (setopt_rc_ != CURLE_OK) \
			ereport(ERROR, \
					errcode(ERRCODE_SYSTEM_ERROR), \
					errmsg("could not set libcurl option %s: %s", \
						   #opt, curl_easy_strerror(setopt_rc_))); \
	} while (0)

/*
 * Initialise libcurl once per process, and the multi handle whenever it is
 * missing.
 */
static void
okra_curl_init(bool need_tls)
{
	curl_version_info_data *vi;

	if (!okra_curl_ready)
	{
		/*
		 * libcurl (in its TLS backend's initialisation) would append every
		 * TLS session's secrets, and with them the key sent in the headers,
		 * to the file named by SSLKEYLOGFILE: never let it see one.
		 */
		unsetenv("SSLKEYLOGFILE");
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			ereport(ERROR,
					errcode(ERRCODE_SYSTEM_ERROR),
					errmsg("could not initialize libcurl"));
		okra_curl_ready = true;
	}

	vi = curl_version_info(CURLVERSION_NOW);
	if (need_tls && !(vi->features & CURL_VERSION_SSL))
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("libcurl %s has no TLS support", vi->version),
				errhint("Install a libcurl built with TLS support."));

	if (okra_multi == NULL)
	{
		okra_multi = curl_multi_init();
		if (okra_multi == NULL)
			ereport(ERROR,
					errcode(ERRCODE_OUT_OF_MEMORY),
					errmsg("out of memory"),
					errdetail("Could not create a libcurl multi handle."));
	}
}

/*
 * The wait event shown in pg_stat_activity while waiting on Okra: during a
 * transfer, and for a slot under okra.rate_limit_per_minute.
 */
uint32
okra_http_wait_event(void)
{
#ifdef OKRA_HAVE_CUSTOM_WAIT_EVENTS
	if (okra_wait_event == 0)
		okra_wait_event = WaitEventExtensionNew("OkraHttp");
	return okra_wait_event;
#else
	return PG_WAIT_EXTENSION;
#endif
}

/*
 * Body callback: append to the buffer, never throwing.  Returning less
 * than asked stops the transfer (CURLE_WRITE_ERROR); the reason is kept.
 */
static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	OkraTransfer *t = (OkraTransfer *) userdata;
	size_t		n = size * nmemb;

	if (n > t->limit || t->len > t->limit - n)
	{
		t->too_large = true;
		return 0;
	}
	if (t->len + n + 1 > t->cap)
	{
		size_t		newcap = Max(t->cap * 2, (size_t) 8192);
		char	   *newbuf;

		while (newcap < t->len + n + 1)
			newcap *= 2;
		newcap = Min(newcap, t->limit + 1);
		newbuf = MemoryContextAllocExtended(t->cxt, newcap, MCXT_ALLOC_NO_OOM);
		if (newbuf == NULL)
		{
			t->oom = true;
			return 0;
		}
		if (t->body != NULL)
		{
			memcpy(newbuf, t->body, t->len);
			pfree(t->body);
		}
		t->body = newbuf;
		t->cap = newcap;
	}
	memcpy(t->body + t->len, ptr, n);
	t->len += n;
	t->body[t->len] = '\0';
	return n;
}

/*
 * Header callback: only counts bytes, so a server cannot feed endless
 * headers.
 */
static size_t
header_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	OkraTransfer *t = (OkraTransfer *) userdata;
	size_t		n = size * nmemb;

	t->header_bytes += n;
	if (t->header_bytes > OKRA_MAX_HEADER_BYTES)
	{
		t->headers_too_large = true;
		return 0;
	}
	return n;
}

/*
 * Is this socket address in 127.0.0.0/8 or ::1 (or ::ffff:127.x.y.z)?
 */
static bool
sockaddr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
	{
		const struct sockaddr_in *sin = (const struct sockaddr_in *) sa;

		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6)
	{
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) sa;
		const unsigned char *b = sin6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && b[12] == 127;
	}
	return false;
}

/*
 * Socket callback: the request-time checks.  For plain http every address
 * must be loopback, whatever the name resolved to.  And a socket opened
 * after the request may have gone out is libcurl resending it on a fresh
 * connection, which only a read-only request may do.
 */
static curl_socket_t
opensocket_cb(void *clientp, curlsocktype purpose,
			  struct curl_sockaddr *address)
{
	OkraTransfer *t = (OkraTransfer *) clientp;

	if (t->request_started && !t->read_only)
	{
		t->refused_resend = true;
		return CURL_SOCKET_BAD;
	}
	if (t->loopback_only && !sockaddr_is_loopback(&address->addr))
	{
		t->refused_address = true;
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
}

#ifdef OKRA_HAVE_PREREQ
/*
 * Called once a connection is ready, just before the request is sent:
 * from here on a failure leaves the outcome unknown.
 */
static int
prereq_cb(void *clientp, char *conn_primary_ip, char *conn_local_ip,
		  int conn_primary_port, int conn_local_port)
{
	OkraTransfer *t = (OkraTransfer *) clientp;

	/*
	 * Called again for the same transfer: libcurl is resending it after a
	 * reused connection died, here on another pooled connection (a new
	 * socket is refused in opensocket_cb).  Only a read-only request may go
	 * twice.
	 */
	if (t->request_started && !t->read_only)
	{
		t->refused_resend = true;
		return CURL_PREREQFUNC_ABORT;
	}
	t->request_started = true;
	return CURL_PREREQFUNC_OK;
}
#endif

/*
 * Append a header; curl_slist_append() copies it.  On failure the list
 * passed in is intact and still owned by the caller.
 */
static struct curl_slist *
append_header(struct curl_slist *list, const char *header)
{
	struct curl_slist *newlist = curl_slist_append(list, header);

	if (newlist == NULL)
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("out of memory"));
	return newlist;
}

/*
 * Zero (the Authorization header holds the key) and free a header list.
 */
static void
free_headers(struct curl_slist *list)
{
	struct curl_slist *p;

	for (p = list; p != NULL; p = p->next)
		if (p->data != NULL)
			explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(list);
}

/*
 * Raise the error for a transfer that did not complete.  errtext is
 * libcurl's description.
 */
static void
report_failure(const char *endpoint, const OkraUrl *url, CURLcode rc,
			   const OkraTransfer *t, const char *errtext)
{
	if (t->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		okra_error_invalid_response(endpoint, 0,
									psprintf("response exceeds okra.max_response_size (%d bytes)",
											 okra_max_response_size),
									NULL);
	if (t->headers_too_large)
		okra_error_invalid_response(endpoint, 0,
									psprintf("response headers exceed %d bytes",
											 OKRA_MAX_HEADER_BYTES),
									NULL);
	if (t->refused_address)
		okra_error_not_sent(endpoint, url->host,
							"An http okra.base_url must resolve to a loopback address only.");
	if (t->refused_resend)
		okra_error_outcome_unknown(endpoint,
								   "the connection closed before any response arrived",
								   "The request went out on a reused connection that then closed; it was not sent again.");
	if (!t->request_started)
		okra_error_not_sent(endpoint, url->host, errtext);
	if (t->oom)
		okra_error_outcome_unknown(endpoint,
								   "out of memory while reading the response",
								   NULL);

	switch (rc)
	{
		case CURLE_OPERATION_TIMEDOUT:
			okra_error_outcome_unknown(endpoint,
									   psprintf("no complete response within okra.request_timeout (%d ms)",
												okra_request_timeout),
									   errtext);
			break;
		case CURLE_GOT_NOTHING:
			okra_error_outcome_unknown(endpoint,
									   "the connection closed before any response arrived",
									   errtext);
			break;
		case CURLE_PARTIAL_FILE:
			okra_error_outcome_unknown(endpoint,
									   "the response was cut short",
									   errtext);
			break;
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
			okra_error_outcome_unknown(endpoint,
									   "the connection failed",
									   errtext);
			break;
		default:
			okra_error_outcome_unknown(endpoint,
									   "the transfer failed",
									   errtext);
			break;
	}
	pg_unreachable();
}

/*
 * A batch of njobs POSTs, at most parallel of them at a time.  Set each
 * job with okra_http_batch_set(), then call okra_http_batch_next() until
 * it returns -1; free the batch with okra_http_batch_free() in PG_FINALLY.
 */
OkraHttpBatch *
okra_http_batch_create(int njobs, int parallel)
{
	OkraHttpBatch *b = palloc0(sizeof(OkraHttpBatch));

	b->njobs = njobs;
	b->parallel = Max(parallel, 1);
	b->jobs = palloc0(sizeof(OkraJob) * Max(njobs, 1));
	return b;
}

/*
 * Job i: POST body (UTF-8, body_len bytes) to okra.base_url + "/" +
 * endpoint.  The strings must live as long as the batch.
 */
void
okra_http_batch_set(OkraHttpBatch *b, int i, const char *endpoint,
					const char *body, size_t body_len)
{
	OkraJob    *j = &b->jobs[i];

	Assert(i >= 0 && i < b->njobs && j->state == JOB_QUEUED);
	j->endpoint = endpoint;
	j->body = body;
	j->body_len = body_len;
	j->t.cxt = CurrentMemoryContext;
}

/*
 * Job i also sends this header line (which must not be secret and must
 * live as long as the batch), e.g. an Idempotency-Key.
 */
void
okra_http_batch_header(OkraHttpBatch *b, int i, const char *header)
{
	b->jobs[i].extra_header = header;
}

/*
 * Job i is sent with this Content-Type header line instead of the JSON one
 * (it must live as long as the batch): a multipart/form-data upload.
 */
void
okra_http_batch_content_type(OkraHttpBatch *b, int i, const char *header)
{
	b->jobs[i].content_type = header;
}

/*
 * Check now what every request needs (okra.base_url, the key), raising as
 * a request would, without sending anything.
 */
void
okra_http_check_config(void)
{
	OkraHttpBatch *b = okra_http_batch_create(0, 1);

	PG_TRY();
	{
		okra_http_batch_prepare(b);
	}
	PG_FINALLY();
	{
		okra_http_batch_free(b);
	}
	PG_END_TRY();
}

/*
 * Start nothing more: jobs not yet started never will be.  Those running
 * still finish.
 */
void
okra_http_batch_stop(OkraHttpBatch *b)
{
	b->stopped = true;
	okra_rate_limit_release(b->slot);
	b->slot = 0;
}

/*
 * Start no job at or after start_by (0: no limit); the jobs not started
 * then never are.  The outbox sets it so that a request is sent only
 * while its claim surely lasts until the answer.
 */
void
okra_http_batch_start_by(OkraHttpBatch *b, TimestampTz start_by)
{
	b->start_by = start_by;
}

/*
 * Before the first job: where to (re-checked now, not only in the
 * setting's hook), the key (read now) and the shared headers.  Needs a
 * transaction (the key's checks look at the catalogs); the first
 * okra_http_batch_next() does it if the caller has not.
 */
void
okra_http_batch_prepare(OkraHttpBatch *b)
{
	const char *why;
	size_t		baselen;
	char	   *key;
	char	   *auth;
	struct curl_slist *withauth;

	if (b->ready)
		return;
	if (okra_base_url == NULL || okra_base_url[0] == '\0')
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("okra.base_url is not set"),
				errhint("Set okra.base_url in postgresql.conf or with ALTER SYSTEM."));
	if (!okra_parse_base_url(okra_base_url, &b->url, &why))
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("invalid okra.base_url: \"%s\"", okra_base_url),
				errdetail("%s", why));
	baselen = strlen(okra_base_url);
	while (baselen > 0 && okra_base_url[baselen - 1] == '/')
		baselen--;
	b->base = pnstrdup(okra_base_url, baselen);

	okra_curl_init(b->url.https);

	/* first: job_headers() replaces it for a job with a content type */
	b->headers = append_header(b->headers, "Content-Type: application/json");
	b->headers = append_header(b->headers, "Accept: application/json");
	b->headers = append_header(b->headers, "Expect:");

	key = okra_read_api_key();
	auth = psprintf("Authorization: Bearer %s", key);
	explicit_bzero(key, strlen(key));
	pfree(key);
	withauth = curl_slist_append(b->headers, auth);
	explicit_bzero(auth, strlen(auth));
	pfree(auth);
	if (withauth == NULL)
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("out of memory"));
	b->headers = withauth;
	b->ready = true;
}

/*
 * A job's own header lines (its Content-Type, its extra header), if it has
 * any, in front of the batch's shared list, which they then end with; a
 * job's Content-Type stands for the shared list's first line, the JSON
 * one.  The shared lines (and the key) are never copied.
 */
static void
job_headers(OkraHttpBatch *b, OkraJob *j)
{
	struct curl_slist *shared = b->headers;
	struct curl_slist *tail;

	if (j->content_type != NULL)
	{
		if (shared == NULL || strncmp(shared->data, "Content-Type:", 13) != 0)
			elog(ERROR, "okra request headers do not start with Content-Type");
		shared = shared->next;
		j->own_headers = append_header(NULL, j->content_type);
	}
	if (j->extra_header != NULL)
		j->own_headers = append_header(j->own_headers, j->extra_header);
	if (j->own_headers == NULL)
		return;
	for (tail = j->own_headers; tail->next != NULL; tail = tail->next)
		;
	tail->next = shared;
	j->own_tail = tail;
}

/*
 * Set every option of a job's easy handle from the current settings and
 * add it to the multi handle.
 */
static void
start_job(OkraHttpBatch *b, OkraJob *j)
{
	CURL	   *h;
	CURLMcode	mc;

	if (okra_nidle > 0)
		j->easy = okra_idle[--okra_nidle];
	else if ((j->easy = curl_easy_init()) == NULL)
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("out of memory"),
				errdetail("Could not create a libcurl easy handle."));
	h = j->easy;
	j->t.limit = (size_t) okra_max_response_size;
	j->t.loopback_only = !b->url.https;
	j->t.read_only = okra_endpoint_is_read_only(j->endpoint);

	curl_easy_reset(h);
	OKRA_SETOPT(h, CURLOPT_PRIVATE, (void *) j);
	OKRA_SETOPT(h, CURLOPT_ERRORBUFFER, j->errbuf);
	OKRA_SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	OKRA_SETOPT(h, CURLOPT_URL, psprintf("%s/%s", b->base, j->endpoint));
#if LIBCURL_VERSION_NUM >= 0x075500
	OKRA_SETOPT(h, CURLOPT_PROTOCOLS_STR, b->url.https ? "https" : "http");
	OKRA_SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, b->url.https ? "https" : "http");
#else
	OKRA_SETOPT(h, CURLOPT_PROTOCOLS, b->url.https ? CURLPROTO_HTTPS : CURLPROTO_HTTP);
	OKRA_SETOPT(h, CURLOPT_REDIR_PROTOCOLS, b->url.https ? CURLPROTO_HTTPS : CURLPROTO_HTTP);
#endif
	OKRA_SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	OKRA_SETOPT(h, CURLOPT_POST, 1L);
	OKRA_SETOPT(h, CURLOPT_POSTFIELDS, j->body);
	OKRA_SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) j->body_len);
	job_headers(b, j);
	OKRA_SETOPT(h, CURLOPT_HTTPHEADER, j->own_headers ? j->own_headers : b->headers);
	OKRA_SETOPT(h, CURLOPT_USERAGENT, "okra/" OKRA_VERSION);
	OKRA_SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, (long) okra_connect_timeout);
	OKRA_SETOPT(h, CURLOPT_TIMEOUT_MS, (long) okra_request_timeout);
	OKRA_SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	OKRA_SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	OKRA_SETOPT(h, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
	if (okra_ca_file != NULL && okra_ca_file[0] != '\0')
		OKRA_SETOPT(h, CURLOPT_CAINFO, okra_ca_file);
	/*
	 * Only okra.proxy chooses a proxy: "" turns off libcurl's use of the
	 * server's http_proxy, https_proxy and ALL_PROXY, and an empty no-proxy
	 * list with okra.proxy turns off no_proxy.  Plain http goes to loopback
	 * only, never through a proxy.
	 */
	if (b->url.https && okra_proxy != NULL && okra_proxy[0] != '\0')
	{
		OKRA_SETOPT(h, CURLOPT_PROXY, okra_proxy);
		OKRA_SETOPT(h, CURLOPT_NOPROXY, "");
	}
	else
	{
		OKRA_SETOPT(h, CURLOPT_PROXY, "");
		OKRA_SETOPT(h, CURLOPT_NOPROXY, "*");
	}
	OKRA_SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) j->t.limit);
	OKRA_SETOPT(h, CURLOPT_WRITEFUNCTION, write_cb);
	OKRA_SETOPT(h, CURLOPT_WRITEDATA, &j->t);
	OKRA_SETOPT(h, CURLOPT_HEADERFUNCTION, header_cb);
	OKRA_SETOPT(h, CURLOPT_HEADERDATA, &j->t);
	OKRA_SETOPT(h, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
	OKRA_SETOPT(h, CURLOPT_OPENSOCKETDATA, &j->t);
#ifdef OKRA_HAVE_PREREQ
	OKRA_SETOPT(h, CURLOPT_PREREQFUNCTION, prereq_cb);
	OKRA_SETOPT(h, CURLOPT_PREREQDATA, &j->t);
#else
	/* no way to refuse a resend: never reuse for what may move money */
	if (!j->t.read_only)
		OKRA_SETOPT(h, CURLOPT_FRESH_CONNECT, 1L);
#endif

	mc = curl_multi_add_handle(okra_multi, h);
	if (mc != CURLM_OK)
		ereport(ERROR,
				errcode(ERRCODE_SYSTEM_ERROR),
				errmsg("could not start Okra API request: %s",
					   curl_multi_strerror(mc)));
	j->attached = true;
	j->state = JOB_RUNNING;
	j->started_at = GetCurrentTimestamp();
	b->running++;
}

/*
 * A running job is over: libcurl said so (why NULL), or the multi handle
 * failed (why says how).
 */
static void
finish_job(OkraHttpBatch *b, OkraJob *j, CURLcode rc, const char *why)
{
	j->received_at = GetCurrentTimestamp();
	j->done = (why == NULL);
	j->rc = why ? CURLE_RECV_ERROR : rc;
	if (why)
		strlcpy(j->errbuf, why, sizeof(j->errbuf));
	if (j->done && rc == CURLE_OK)
		curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &j->status);
#ifndef OKRA_HAVE_PREREQ
	{
		curl_off_t	pretransfer = 0;
		long		reqsize = 0;

		curl_easy_getinfo(j->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
		curl_easy_getinfo(j->easy, CURLINFO_REQUEST_SIZE, &reqsize);
		j->t.request_started = (pretransfer > 0 || reqsize > 0);
	}
#endif
	curl_multi_remove_handle(okra_multi, j->easy);
	j->attached = false;
	j->state = JOB_DONE;
	b->running--;
}

/*
 * The index of a job libcurl has just finished, or -1.
 */
static int
take_finished(OkraHttpBatch *b)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(okra_multi, &left)) != NULL)
	{
		OkraJob    *j = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &j);
		if (j == NULL || j->state != JOB_RUNNING)
			continue;
		finish_job(b, j, msg->data.result, NULL);
		return j - b->jobs;
	}
	return -1;
}

/*
 * A function for the transfer loop to call between polls, every poll_ms
 * at most (the okra worker writes its journal there).
 */
void
okra_http_between_polls(void (*fn) (void), int poll_ms)
{
	between_polls = fn;
	between_polls_ms = poll_ms;
}

/*
 * Wait ms milliseconds while nothing else is to be done (transfers still in
 * flight wait too), calling the between-polls function and serving
 * interrupts.
 */
void
okra_http_idle(int ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, okra_http_wait_event());
	ResetLatch(MyLatch);
	if (between_polls)
		between_polls();
	CHECK_FOR_INTERRUPTS();
}

/*
 * A cancel that CHECK_FOR_INTERRUPTS() held off: the transfers are gone
 * all the same.
 */
static void
batch_interrupted(OkraHttpBatch *b)
{
	int			i;

	for (i = 0; i < b->njobs; i++)
	{
		if (b->jobs[i].state == JOB_RUNNING && b->jobs[i].t.request_started)
			okra_error_outcome_unknown(b->jobs[i].endpoint,
									   "the request was interrupted", NULL);
	}
	ereport(ERROR,
			errcode(ERRCODE_QUERY_CANCELED),
			errmsg("canceling Okra API request due to an interrupt"));
}

/*
 * A money-moving request of the batch already sent, or NULL.
 */
static OkraJob *
money_in_flight(OkraHttpBatch *b)
{
	int			i;

	for (i = 0; i < b->njobs; i++)
	{
		OkraJob    *j = &b->jobs[i];

		/* without the pre-request callback, a running one may have been sent */
		if (j->state == JOB_RUNNING && !j->t.read_only &&
#ifdef OKRA_HAVE_PREREQ
			j->t.request_started
#else
			true
#endif
			)
			return j;
	}
	return NULL;
}

/*
 * Serve pending interrupts.  A cancel or statement_timeout that ends a
 * money-moving request already sent is not a plain 57014: Okra may have
 * carried it out, so it is raised as OK010, outcome unknown, with the
 * reason for the cancel.  Ending the session (FATAL) cannot be caught: the
 * journal's exit callback records that outcome.
 */
static void
interrupts_in_flight(OkraHttpBatch *b)
{
	MemoryContext cxt = CurrentMemoryContext;
	OkraJob    *j = money_in_flight(b);

	if (j == NULL || ProcDiePending)
	{
		CHECK_FOR_INTERRUPTS();
		return;
	}
	PG_TRY();
	{
		CHECK_FOR_INTERRUPTS();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_QUERY_CANCELED)
			PG_RE_THROW();
		FlushErrorState();
		okra_error_outcome_unknown(j->endpoint, edata->message,
								   "The request was sent and then cancelled before its answer came back; Okra may have carried it out.");
	}
	PG_END_TRY();
}

/*
 * Drive the batch until a job finishes and return its index (then read it
 * with okra_http_batch_result()); -1 once every job has been returned or
 * will never start.  Jobs start in order, at most b->parallel at a time,
 * each when okra.rate_limit_per_minute gives it its turn.
 */
int
okra_http_batch_next(OkraHttpBatch *b)
{
	if (!b->ready)
		okra_http_batch_prepare(b);

	for (;;)
	{
		int			done;
		int			running = 0;
		long		wait_ms = between_polls ? between_polls_ms : OKRA_POLL_MS;
		CURLMcode	mc;

		/* start whatever may start now */
		while (!b->stopped && b->next < b->njobs && b->running < b->parallel)
		{
			TimestampTz now = GetCurrentTimestamp();

			/*
			 * too late to start anything (okra_http_batch_start_by), or the
			 * server is going away (what was committed before may not last)
			 */
			if ((b->start_by != 0 && now >= b->start_by) || !PostmasterIsAlive())
			{
				okra_http_batch_stop(b);
				break;
			}
			/* too many waiters to reserve a turn: ask again at the next poll */
			if (b->slot == 0 && !okra_rate_limit_reserve(now, &b->slot))
				break;
			if (b->slot > now)
			{
				wait_ms = Min(wait_ms, (long) ((b->slot - now + 999) / 1000));
				break;
			}
			okra_rate_limit_taken(b->slot);
			b->slot = 0;
			start_job(b, &b->jobs[b->next++]);
		}

		mc = curl_multi_perform(okra_multi, &running);
		if ((done = take_finished(b)) >= 0)
			return done;
		if (mc != CURLM_OK)
		{
			int			i;

			for (i = 0; i < b->njobs; i++)
				if (b->jobs[i].state == JOB_RUNNING)
				{
					finish_job(b, &b->jobs[i], CURLE_OK, curl_multi_strerror(mc));
					return i;
				}
		}
		if (b->running == 0 && (b->stopped || b->next >= b->njobs))
			return -1;

		pgstat_report_wait_start(okra_http_wait_event());
		if (b->running > 0)
		{
#if LIBCURL_VERSION_NUM >= 0x074200
			(void) curl_multi_poll(okra_multi, NULL, 0, (int) wait_ms, NULL);
#else
			(void) curl_multi_wait(okra_multi, NULL, 0, (int) wait_ms, NULL);
#endif
		}
		else
		{
			/* only waiting for a rate-limit turn */
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 wait_ms, okra_http_wait_event());
			ResetLatch(MyLatch);
		}
		pgstat_report_wait_end();
		if (between_polls)
			between_polls();

		if (InterruptPending)
		{
			/* a cancel raises here; the caller frees the transfers */
			interrupts_in_flight(b);
			if (QueryCancelPending || ProcDiePending)
				batch_interrupted(b);
		}
	}
}

/*
 * Job i's final HTTP status and whole body, once okra_http_batch_next()
 * has returned it.  Raises 08001 when the request surely was not sent,
 * OK010 when it may have been but no complete answer came back, OK011 for
 * a redirect or an over-large answer; resp still has the status and times.
 * Any HTTP status other than 3xx is returned for the caller to judge.
 */
void
okra_http_batch_result(OkraHttpBatch *b, int i, OkraHttpResponse *resp)
{
	OkraJob    *j = &b->jobs[i];

	Assert(j->state == JOB_DONE);
	/* what is known even of a failure, for the caller's records */
	resp->status = j->status;
	resp->started_at = j->started_at;
	resp->received_at = j->received_at;
	resp->body = j->t.body ? j->t.body : pstrdup("");
	resp->body_len = j->t.len;

	if (!j->done || j->rc != CURLE_OK)
	{
		char		errtext[CURL_ERROR_SIZE + 64];

		snprintf(errtext, sizeof(errtext), "%s",
				 j->errbuf[0] ? j->errbuf : curl_easy_strerror(j->rc));
		report_failure(j->endpoint, &b->url, j->rc, &j->t, errtext);
	}
	if (j->status >= 300 && j->status < 400)
		okra_error_invalid_response(j->endpoint, j->status,
									"redirects are not followed", NULL);
	if (j->status < 100)
		okra_error_invalid_response(j->endpoint, 0, "no HTTP status", NULL);
}

/*
 * Job i's HTTP status once okra_http_batch_next() has returned it (0 if no
 * answer came), without judging it: the caller may stop the batch on it.
 */
long
okra_http_batch_status(OkraHttpBatch *b, int i)
{
	return b->jobs[i].status;
}

/*
 * Give a job's easy handle back: kept for reuse after a clean transfer,
 * else (aborted, failed: its connection state is unknown) thrown away.
 */
static void
release_job(OkraJob *j)
{
	bool		clean = (j->state == JOB_DONE && j->done && j->rc == CURLE_OK);

	if (j->easy != NULL)
	{
		if (j->attached)
			curl_multi_remove_handle(okra_multi, j->easy);
		j->attached = false;
		if (clean && okra_nidle < OKRA_IDLE_MAX)
			okra_idle[okra_nidle++] = j->easy;
		else
			curl_easy_cleanup(j->easy);
		j->easy = NULL;
	}
	if (j->own_headers != NULL)
	{
		if (j->own_tail != NULL)
			j->own_tail->next = NULL;	/* the rest is the batch's */
		curl_slist_free_all(j->own_headers);
		j->own_headers = NULL;
		j->own_tail = NULL;
	}
}

/*
 * Free a batch, wherever it stopped: abandon what still runs, give back
 * the easy handles, zero and free the headers.  Never throws.
 */
void
okra_http_batch_free(OkraHttpBatch *b)
{
	int			i;

	/* a turn reserved for a job that will never start: give it back */
	okra_rate_limit_release(b->slot);
	b->slot = 0;
	for (i = 0; i < b->njobs; i++)
		release_job(&b->jobs[i]);
	free_headers(b->headers);
	b->headers = NULL;
	pfree(b->jobs);
	pfree(b);
}

/*
 * POST body to okra.base_url + "/" + endpoint and return the final HTTP
 * status and whole body, or raise as okra_http_batch_result() does: a
 * batch of one.  Raises 55000 when okra is not configured, and
 * PostgreSQL's own error on cancel.
 */
void
okra_http_post(const char *endpoint, const char *body, size_t body_len,
			   OkraHttpResponse *resp)
{
	post_one(endpoint, NULL, body, body_len, resp);
}

/*
 * The same for a multipart/form-data body (body_len bytes, its parts
 * separated by boundary): an upload such as bulkfiles/initiate.  The
 * boundary is 1 to 70 letters, digits, "-" or "_" (RFC 2046).
 */
void
okra_http_post_multipart(const char *endpoint, const char *boundary,
						 const char *body, size_t body_len,
						 OkraHttpResponse *resp)
{
	size_t		len = strlen(boundary);

	if (len < 1 || len > 70 ||
		strspn(boundary, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != len)
		elog(ERROR, "invalid multipart boundary");
	post_one(endpoint,
			 psprintf("Content-Type: multipart/form-data; boundary=%s", boundary),
			 body, body_len, resp);
}

/*
 * One POST, with the given Content-Type line (NULL: JSON): a batch of one.
 */
static void
post_one(const char *endpoint, const char *content_type, const char *body,
		 size_t body_len, OkraHttpResponse *resp)
{
	OkraHttpBatch *b = okra_http_batch_create(1, 1);

	PG_TRY();
	{
		okra_http_batch_set(b, 0, endpoint, body, body_len);
		okra_http_batch_content_type(b, 0, content_type);
		if (okra_http_batch_next(b) != 0)
			elog(ERROR, "okra request was not started");
		okra_http_batch_result(b, 0, resp);
	}
	PG_FINALLY();
	{
		okra_http_batch_free(b);
	}
	PG_END_TRY();
}
