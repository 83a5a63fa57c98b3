/*-------------------------------------------------------------------------
 *
 * http.c
 *	  libcurl transport for okra: one POST per call, on one easy handle per
 *	  backend kept inside a per-backend multi handle, so connections (and
 *	  TLS sessions) are reused from one call to the next.
 *
 * Nothing in this file throws while libcurl is running: callbacks only
 * record a reason, and okra_http_post() raises the error afterwards (the
 * mapping is in errors.c).  The transfer is driven by curl_multi_poll()
 * in 100 ms slices so a query cancel or statement_timeout is seen quickly;
 * then the easy handle is thrown away (its state is unknown) and
 * CHECK_FOR_INTERRUPTS() raises PostgreSQL's own error.  The request
 * headers (which hold the key) are owned by PG_TRY/PG_CATCH and zeroed
 * before they are freed; the response body grows in the caller's memory
 * context without ever throwing.
 *
 * A request that may move money is never sent twice: libcurl silently
 * resends a request on a fresh connection when a reused one dies before
 * any response byte arrives, and the socket callback refuses that resend
 * for every endpoint that is not read-only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "http.h"
#include "okra.h"

/* Largest total size of response headers accepted */
#define OKRA_MAX_HEADER_BYTES	(64 * 1024)

/* How often the transfer loop looks at pending interrupts */
#define OKRA_POLL_MS			100

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

/*---- per-backend libcurl state ----*/
static bool okra_curl_ready = false;
static CURLM *okra_multi = NULL;
static CURL *okra_easy = NULL;
static bool okra_easy_attached = false;
static char okra_errbuf[CURL_ERROR_SIZE];
#ifdef OKRA_HAVE_CUSTOM_WAIT_EVENTS
static uint32 okra_wait_event = 0;
#endif

/*---- static prototypes ----*/
static void okra_curl_init(bool need_tls);
static void discard_easy(void);
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
static void report_failure(const char *endpoint, const OkraUrl *url,
						   CURLcode rc, const OkraTransfer *t,
						   const char *errtext) pg_attribute_noreturn();

/* Set one libcurl option; a refusal means this libcurl lacks a feature */
#define OKRA_SETOPT(opt, val) \
	do { \
		CURLcode	setopt_rc_ = curl_easy_setopt(okra_easy, opt, val); \
		if (setopt_rc_ != CURLE_OK) \
			ereport(ERROR, \
					errcode(ERRCODE_SYSTEM_ERROR), \
					errmsg("could not set libcurl option %s: %s", \
						   #opt, curl_easy_strerror(setopt_rc_))); \
	} while (0)

/*
 * Initialise libcurl once per process, and the multi and easy handles
 * whenever they are missing.
 */
static void
okra_curl_init(bool need_tls)
{
	curl_version_info_data *vi;

	if (!okra_curl_ready)
	{
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
	if (okra_easy == NULL)
	{
		okra_easy = curl_easy_init();
		if (okra_easy == NULL)
			ereport(ERROR,
					errcode(ERRCODE_OUT_OF_MEMORY),
					errmsg("out of memory"),
					errdetail("Could not create a libcurl easy handle."));
		okra_easy_attached = false;
	}
}

/*
 * Throw the easy handle away (aborting its transfer, if any); the next
 * call makes a new one.  Connections stay in the multi handle's cache,
 * which closes any that are broken.
 */
static void
discard_easy(void)
{
	if (okra_easy == NULL)
		return;
	if (okra_easy_attached && okra_multi != NULL)
		curl_multi_remove_handle(okra_multi, okra_easy);
	okra_easy_attached = false;
	curl_easy_cleanup(okra_easy);
	okra_easy = NULL;
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
 * POST body to okra.base_url + "/" + endpoint and return the final HTTP
 * status and whole body.  Raises 55000 when not configured, 08001 when
 * the request surely was not sent, OK010 when it may have been but no
 * complete answer came back, OK011 for a redirect or an over-large
 * answer, and PostgreSQL's own error on cancel.  Any HTTP status other
 * than 3xx is returned for the caller to judge.
 */
void
okra_http_post(const char *endpoint, const char *body, size_t body_len,
			   OkraHttpResponse *resp)
{
	OkraUrl		url;
	const char *why;
	char	   *base;
	size_t		baselen;
	char	   *full_url;
	char	   *key;
	char	   *auth;
	OkraTransfer t;
	struct curl_slist *volatile headers = NULL;
	volatile CURLcode rc = CURLE_OK;
	volatile bool interrupted = false;
	volatile bool done = false;
	volatile long status = 0;
	char		errtext[CURL_ERROR_SIZE + 64];

	/* where to: re-check okra.base_url now, not only in its hook */
	if (okra_base_url == NULL || okra_base_url[0] == '\0')
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("okra.base_url is not set"),
				errhint("Set okra.base_url in postgresql.conf or with ALTER SYSTEM."));
	if (!okra_parse_base_url(okra_base_url, &url, &why))
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("invalid okra.base_url: \"%s\"", okra_base_url),
				errdetail("%s", why));
	baselen = strlen(okra_base_url);
	while (baselen > 0 && okra_base_url[baselen - 1] == '/')
		baselen--;
	base = pnstrdup(okra_base_url, baselen);
	full_url = psprintf("%s/%s", base, endpoint);

	/* the key, read (or re-read) now */
	key = okra_read_api_key();
	auth = psprintf("Authorization: Bearer %s", key);
	explicit_bzero(key, strlen(key));
	pfree(key);

	okra_curl_init(url.https);

	memset(&t, 0, sizeof(t));
	t.cxt = CurrentMemoryContext;
	t.limit = (size_t) okra_max_response_size;
	t.loopback_only = !url.https;
	t.read_only = okra_endpoint_is_read_only(endpoint);
	okra_errbuf[0] = '\0';

	PG_TRY();
	{
		CURLMcode	mc = CURLM_OK;
		CURLMsg    *msg;
		int			left;

		headers = append_header(headers, "Content-Type: application/json");
		headers = append_header(headers, "Accept: application/json");
		headers = append_header(headers, "Expect:");
		headers = append_header(headers, auth);
		explicit_bzero(auth, strlen(auth));

		/* every option, from the current settings */
		curl_easy_reset(okra_easy);
		OKRA_SETOPT(CURLOPT_ERRORBUFFER, okra_errbuf);
		OKRA_SETOPT(CURLOPT_NOSIGNAL, 1L);
		OKRA_SETOPT(CURLOPT_URL, full_url);
#if LIBCURL_VERSION_NUM >= 0x075500
		OKRA_SETOPT(CURLOPT_PROTOCOLS_STR, url.https ? "https" : "http");
		OKRA_SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, url.https ? "https" : "http");
#else
		OKRA_SETOPT(CURLOPT_PROTOCOLS, url.https ? CURLPROTO_HTTPS : CURLPROTO_HTTP);
		OKRA_SETOPT(CURLOPT_REDIR_PROTOCOLS, url.https ? CURLPROTO_HTTPS : CURLPROTO_HTTP);
#endif
		OKRA_SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
		OKRA_SETOPT(CURLOPT_POST, 1L);
		OKRA_SETOPT(CURLOPT_POSTFIELDS, body);
		OKRA_SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
		OKRA_SETOPT(CURLOPT_HTTPHEADER, (struct curl_slist *) headers);
		OKRA_SETOPT(CURLOPT_USERAGENT, "okra/" OKRA_VERSION);
		OKRA_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long) okra_connect_timeout);
		OKRA_SETOPT(CURLOPT_TIMEOUT_MS, (long) okra_request_timeout);
		OKRA_SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
		OKRA_SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
		OKRA_SETOPT(CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
		if (okra_ca_file != NULL && okra_ca_file[0] != '\0')
			OKRA_SETOPT(CURLOPT_CAINFO, okra_ca_file);
		if (!url.https)
			OKRA_SETOPT(CURLOPT_NOPROXY, "*");
		OKRA_SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) t.limit);
		OKRA_SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
		OKRA_SETOPT(CURLOPT_WRITEDATA, &t);
		OKRA_SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
		OKRA_SETOPT(CURLOPT_HEADERDATA, &t);
		OKRA_SETOPT(CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
		OKRA_SETOPT(CURLOPT_OPENSOCKETDATA, &t);
#ifdef OKRA_HAVE_PREREQ
		OKRA_SETOPT(CURLOPT_PREREQFUNCTION, prereq_cb);
		OKRA_SETOPT(CURLOPT_PREREQDATA, &t);
#else
		/* no way to refuse a resend: never reuse for what may move money */
		if (!t.read_only)
			OKRA_SETOPT(CURLOPT_FRESH_CONNECT, 1L);
#endif

		mc = curl_multi_add_handle(okra_multi, okra_easy);
		if (mc != CURLM_OK)
			ereport(ERROR,
					errcode(ERRCODE_SYSTEM_ERROR),
					errmsg("could not start Okra API request: %s",
						   curl_multi_strerror(mc)));
		okra_easy_attached = true;

		pgstat_report_wait_start(okra_http_wait_event());
		for (;;)
		{
			int			running = 0;

			mc = curl_multi_perform(okra_multi, &running);
			if (mc != CURLM_OK || running == 0)
				break;
#if LIBCURL_VERSION_NUM >= 0x074200
			mc = curl_multi_poll(okra_multi, NULL, 0, OKRA_POLL_MS, NULL);
#else
			mc = curl_multi_wait(okra_multi, NULL, 0, OKRA_POLL_MS, NULL);
#endif
			if (mc != CURLM_OK)
				break;
			if (InterruptPending)
			{
				if (QueryCancelPending || ProcDiePending)
				{
					/* abandon the transfer, then let PostgreSQL raise */
					pgstat_report_wait_end();
					discard_easy();
					interrupted = true;
					CHECK_FOR_INTERRUPTS();
					break;
				}
				/* anything else: handle it and carry on */
				CHECK_FOR_INTERRUPTS();
			}
		}
		pgstat_report_wait_end();
		resp->received_at = GetCurrentTimestamp();

		if (!interrupted)
		{
			while ((msg = curl_multi_info_read(okra_multi, &left)) != NULL)
			{
				if (msg->msg == CURLMSG_DONE && msg->easy_handle == okra_easy)
				{
					rc = msg->data.result;
					done = true;
				}
			}
			if (mc != CURLM_OK && !done)
			{
				rc = CURLE_RECV_ERROR;
				snprintf(okra_errbuf, sizeof(okra_errbuf), "%s",
						 curl_multi_strerror(mc));
			}
			if (done && rc == CURLE_OK)
			{
				long		code = 0;

				curl_easy_getinfo(okra_easy, CURLINFO_RESPONSE_CODE, &code);
				status = code;
			}
#ifndef OKRA_HAVE_PREREQ
			{
				curl_off_t	pretransfer = 0;
				long		reqsize = 0;

				curl_easy_getinfo(okra_easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
				curl_easy_getinfo(okra_easy, CURLINFO_REQUEST_SIZE, &reqsize);
				t.request_started = (pretransfer > 0 || reqsize > 0);
			}
#endif
			curl_multi_remove_handle(okra_multi, okra_easy);
			okra_easy_attached = false;
			if (!done || rc != CURLE_OK)
				discard_easy();
		}
	}
	PG_CATCH();
	{
		pgstat_report_wait_end();
		discard_easy();
		free_headers(headers);
		PG_RE_THROW();
	}
	PG_END_TRY();

	free_headers(headers);
	headers = NULL;
	pfree(auth);

	if (interrupted)
	{
		/* the cancel was held off; still, the transfer is gone */
		if (t.request_started)
			okra_error_outcome_unknown(endpoint, "the request was interrupted",
									   NULL);
		ereport(ERROR,
				errcode(ERRCODE_QUERY_CANCELED),
				errmsg("canceling Okra API request due to an interrupt"));
	}

	if (!done || rc != CURLE_OK)
	{
		snprintf(errtext, sizeof(errtext), "%s",
				 okra_errbuf[0] ? okra_errbuf : curl_easy_strerror(rc));
		report_failure(endpoint, &url, rc, &t, errtext);
	}

	if (status >= 300 && status < 400)
		okra_error_invalid_response(endpoint, status,
									"redirects are not followed", NULL);
	if (status < 100)
		okra_error_invalid_response(endpoint, 0, "no HTTP status", NULL);

	resp->status = status;
	if (t.body == NULL)
	{
		resp->body = pstrdup("");
		resp->body_len = 0;
	}
	else
	{
		resp->body = t.body;
		resp->body_len = t.len;
	}
}
