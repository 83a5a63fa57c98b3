/*-------------------------------------------------------------------------
 *
 * receiver.c
 *	  okra-webhook-receiver: the reference HTTP endpoint for Okra's webhooks.
 *
 * Takes Okra's POST on one path, reads at most max_body bytes of it and
 * hands the raw body and the Authorization header, unread and unchecked, to
 * okra_webhook() in the database, which checks the token, records the event
 * and has the payments it names verified with Okra.  The receiver trusts
 * nothing: it decides no more than the HTTP status, from the SQLSTATE.
 *
 * Logs one line per request to stderr (method, path, status, duration,
 * SQLSTATE); never the body, the Authorization header, the connection
 * string or a database error message, which may quote the body.
 *
 * Usage: okra-webhook-receiver CONFIG-FILE
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libpq-fe.h>
#include <microhttpd.h>

#define PROGNAME "okra-webhook-receiver"
#define QUERY "SELECT event_id, duplicate FROM okra_webhook($1, $2)"
/* MHD renamed its constant for 413 in 0.9.74; the number is the same */
#define HTTP_TOO_LARGE 413

/*---- configuration ----*/

struct config
{
	char	   *listen_address;	/* IPv4 or IPv6 literal */
	unsigned	port;
	char	   *path;
	char	   *conninfo;		/* never logged */
	size_t		max_body;
	unsigned	threads;
	unsigned	timeout;		/* seconds an idle HTTP connection is kept */
};

static struct config cfg;

/*---- connection pool: one connection per HTTP worker thread ----*/

struct pool
{
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned	n;
	PGconn	  **conns;
	bool	   *busy;
};

static struct pool pool;

/*---- one HTTP request ----*/

struct req
{
	struct timespec t0;
	char	   *buf;
	size_t		len;
	size_t		cap;
	bool		responded;
};

/* the outcome of one call of okra_webhook() */
struct outcome
{
	unsigned	status;
	char		sqlstate[6];
	char		event_id[24];
	char		duplicate[2];
};

static void log_line(const char *fmt,...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));
static void *xmalloc(size_t n);
static char *xstrdup(const char *s);
static char *trim(char *s);
static bool parse_uint(const char *s, unsigned long long min,
					   unsigned long long max, unsigned long long *out);
static void load_config(const char *file);
static PGconn *db_connect(void);
static void pool_init(unsigned n);
static unsigned pool_acquire(void);
static void pool_release(unsigned slot);
static void pool_close(void);
static bool call_webhook(PGconn *conn, const char *body, const char *auth,
						 struct outcome *out);
static void deliver(const char *body, const char *auth, struct outcome *out);
static double elapsed_ms(const struct timespec *t0);
static void printable(const char *in, char *out, size_t outlen);
static enum MHD_Result respond(struct MHD_Connection *c, struct req *r,
							   const char *method, const char *url,
							   const struct outcome *out);
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
								  const char *url, const char *method,
								  const char *version, const char *upload_data,
								  size_t *upload_data_size, void **con_cls);
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
						 enum MHD_RequestTerminationCode toe);
static void mhd_log(void *cls, const char *fmt, va_list ap);

/*---- small helpers ----*/

/* log_line: one line to stderr, with a UTC timestamp */
static void
log_line(const char *fmt,...)
{
	char		line[1024];
	char		ts[32];
	struct timespec now;
	struct tm	tm;
	va_list		ap;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03ldZ " PROGNAME ": %s\n", ts,
			now.tv_nsec / 1000000, line);
}

/* die: log and exit 2 (a configuration or start-up error) */
static void
die(const char *fmt,...)
{
	char		line[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_line("%s", line);
	exit(2);
}

/* xmalloc: malloc or die */
static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* xstrdup: strdup or die */
static char *
xstrdup(const char *s)
{
	char	   *p = strdup(s);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* trim: strip leading and trailing white space in place */
static char *
trim(char *s)
{
	char	   *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
					 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* parse_uint: a decimal integer within [min, max] */
static bool
parse_uint(const char *s, unsigned long long min, unsigned long long max,
		   unsigned long long *out)
{
	char	   *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/*---- configuration file ----*/

/*
 * load_config: read "key = value" lines; blank lines and lines starting with
 * '#' or ';' are ignored.  Unknown keys and bad values are fatal.
 */
static void
load_config(const char *file)
{
	FILE	   *f;
	char	   *line = NULL;
	size_t		linecap = 0;
	unsigned	lineno = 0;

	cfg.listen_address = xstrdup("127.0.0.1");
	cfg.port = 8090;
	cfg.path = xstrdup("/okra/webhook");
	cfg.conninfo = xstrdup("");
	cfg.max_body = 65536;
	cfg.threads = 4;
	cfg.timeout = 30;

	f = fopen(file, "r");
	if (f == NULL)
		die("could not open configuration file \"%s\": %s", file,
			strerror(errno));
	while (getline(&line, &linecap, f) != -1)
	{
		char	   *s = trim(line);
		char	   *eq;
		char	   *key;
		char	   *val;
		unsigned long long n;

		lineno++;
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL)
			die("%s:%u: expected \"key = value\"", file, lineno);
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);

		if (strcmp(key, "listen_address") == 0)
		{
			free(cfg.listen_address);
			cfg.listen_address = xstrdup(val);
		}
		else if (strcmp(key, "port") == 0)
		{
			if (!parse_uint(val, 0, 65535, &n))
				die("%s:%u: port must be an integer from 0 to 65535", file, lineno);
			cfg.port = (unsigned) n;
		}
		else if (strcmp(key, "path") == 0)
		{
			if (val[0] != '/')
				die("%s:%u: path must start with \"/\"", file, lineno);
			free(cfg.path);
			cfg.path = xstrdup(val);
		}
		else if (strcmp(key, "conninfo") == 0)
		{
			free(cfg.conninfo);
			cfg.conninfo = xstrdup(val);
		}
		else if (strcmp(key, "max_body") == 0)
		{
			if (!parse_uint(val, 1, 64 * 1024 * 1024, &n))
				die("%s:%u: max_body must be an integer from 1 to 67108864 (bytes)",
					file, lineno);
			cfg.max_body = (size_t) n;
		}
		else if (strcmp(key, "threads") == 0)
		{
			if (!parse_uint(val, 1, 256, &n))
				die("%s:%u: threads must be an integer from 1 to 256", file, lineno);
			cfg.threads = (unsigned) n;
		}
		else if (strcmp(key, "timeout") == 0)
		{
			if (!parse_uint(val, 1, 3600, &n))
				die("%s:%u: timeout must be an integer from 1 to 3600 (seconds)",
					file, lineno);
			cfg.timeout = (unsigned) n;
		}
		else
			die("%s:%u: unknown key \"%.64s\"", file, lineno, key);
	}
	free(line);
	fclose(f);

	/*
	 * Check the connection string now.  libpq's parse error may quote a
	 * piece of it (a password, even), so it is not shown.
	 */
	{
		char	   *err = NULL;
		PQconninfoOption *opts = PQconninfoParse(cfg.conninfo, &err);
		PQconninfoOption *o;

		if (opts == NULL)
		{
			PQfreemem(err);
			die("%s: conninfo is not a valid libpq connection string", file);
		}
		for (o = opts; o->keyword != NULL; o++)
			if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
				log_line("warning: conninfo contains a password; "
						 "keep it in ~/.pgpass or a file named by PGPASSFILE instead");
		PQconninfoFree(opts);
	}
}

/*---- database connections ----*/

/*
 * db_connect: a new connection from conninfo.  The client encoding is forced
 * to UTF8, so that the body's bytes reach okra_webhook() as sent and a body
 * that is not UTF-8 is refused (22021) rather than converted.
 */
static PGconn *
db_connect(void)
{
	const char *const keys[] = {"fallback_application_name", "connect_timeout",
	"dbname", "client_encoding", NULL};
	const char *const vals[] = {PROGNAME, "10", cfg.conninfo, "UTF8", NULL};
	PGconn	   *conn = PQconnectdbParams(keys, vals, 1);

	if (conn == NULL)
		return NULL;
	if (PQstatus(conn) != CONNECTION_OK)
	{
		char		msg[512];
		size_t		n;

		/* libpq's connection errors name host, user and database, never the password */
		snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn));
		n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		for (char *p = msg; *p; p++)
			if (*p == '\n')
				*p = ' ';
		log_line("could not connect to the database: %s", msg);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* pool_init: n empty slots, connected on first use */
static void
pool_init(unsigned n)
{
	pthread_mutex_init(&pool.mu, NULL);
	pthread_cond_init(&pool.cv, NULL);
	pool.n = n;
	pool.conns = xmalloc(n * sizeof(PGconn *));
	pool.busy = xmalloc(n * sizeof(bool));
	for (unsigned i = 0; i < n; i++)
	{
		pool.conns[i] = NULL;
		pool.busy[i] = false;
	}
}

/* pool_acquire: take a free slot, waiting for one */
static unsigned
pool_acquire(void)
{
	unsigned	slot;

	pthread_mutex_lock(&pool.mu);
	for (;;)
	{
		for (slot = 0; slot < pool.n; slot++)
			if (!pool.busy[slot])
				break;
		if (slot < pool.n)
			break;
		pthread_cond_wait(&pool.cv, &pool.mu);
	}
	pool.busy[slot] = true;
	pthread_mutex_unlock(&pool.mu);
	return slot;
}

/* pool_release: give a slot back */
static void
pool_release(unsigned slot)
{
	pthread_mutex_lock(&pool.mu);
	pool.busy[slot] = false;
	pthread_cond_signal(&pool.cv);
	pthread_mutex_unlock(&pool.mu);
}

/* pool_close: close every connection (the HTTP daemon is stopped) */
static void
pool_close(void)
{
	for (unsigned i = 0; i < pool.n; i++)
		if (pool.conns[i] != NULL)
			PQfinish(pool.conns[i]);
	free(pool.conns);
	free(pool.busy);
	pthread_cond_destroy(&pool.cv);
	pthread_mutex_destroy(&pool.mu);
}

/*---- the call ----*/

/*
 * call_webhook: run okra_webhook(body, auth) on conn and map the result to
 * an HTTP status.  Returns false when the connection broke (out is then a
 * 503 without SQLSTATE unless the server sent one).
 */
static bool
call_webhook(PGconn *conn, const char *body, const char *auth,
			 struct outcome *out)
{
	const char *params[2] = {body, auth};
	PGresult   *res = PQexecParams(conn, QUERY, 2, NULL, params, NULL, NULL, 0);
	const char *state;

	out->sqlstate[0] = '\0';
	out->event_id[0] = '\0';
	out->duplicate[0] = '\0';
	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		out->status = MHD_HTTP_OK;
		if (PQntuples(res) > 0 && PQnfields(res) >= 2)
		{
			snprintf(out->event_id, sizeof out->event_id, "%s",
					 PQgetisnull(res, 0, 0) ? "null" : PQgetvalue(res, 0, 0));
			snprintf(out->duplicate, sizeof out->duplicate, "%s",
					 PQgetisnull(res, 0, 1) ? "-" : PQgetvalue(res, 0, 1));
		}
		PQclear(res);
		return true;
	}

	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state != NULL)
		snprintf(out->sqlstate, sizeof out->sqlstate, "%s", state);
	if (state == NULL)
		out->status = MHD_HTTP_SERVICE_UNAVAILABLE;
	else if (strcmp(state, "28000") == 0)
		out->status = MHD_HTTP_UNAUTHORIZED;
	else if (strcmp(state, "22P02") == 0 || strcmp(state, "22023") == 0 ||
			 strcmp(state, "22021") == 0 || strcmp(state, "54000") == 0)
		out->status = MHD_HTTP_BAD_REQUEST;
	else
		out->status = MHD_HTTP_SERVICE_UNAVAILABLE;
	PQclear(res);
	return PQstatus(conn) == CONNECTION_OK;
}

/*
 * deliver: call okra_webhook() on a pooled connection.  A connection found
 * broken (the server restarted, the backend was terminated) is replaced and
 * the call made once more: safe, since okra_webhook() records a retried
 * delivery once, and it is what Okra would do anyway after a 503.
 */
static void
deliver(const char *body, const char *auth, struct outcome *out)
{
	unsigned	slot = pool_acquire();

	for (int attempt = 0; attempt < 2; attempt++)
	{
		PGconn	   *conn = pool.conns[slot];

		if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		{
			if (conn != NULL)
				PQfinish(conn);
			conn = pool.conns[slot] = db_connect();
			if (conn == NULL)
			{
				out->status = MHD_HTTP_SERVICE_UNAVAILABLE;
				snprintf(out->sqlstate, sizeof out->sqlstate, "08001");
				break;
			}
		}
		if (call_webhook(conn, body, auth, out))
			break;
		log_line("the database connection broke (%s); reconnecting",
				 out->sqlstate[0] ? out->sqlstate : "no SQLSTATE");
		PQfinish(conn);
		pool.conns[slot] = NULL;
	}
	pool_release(slot);
}

/*---- HTTP ----*/

/* elapsed_ms: milliseconds since t0 */
static double
elapsed_ms(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double) (now.tv_sec - t0->tv_sec) * 1000.0 +
		(double) (now.tv_nsec - t0->tv_nsec) / 1e6;
}

/* printable: a short copy of in, fit for a log line */
static void
printable(const char *in, char *out, size_t outlen)
{
	size_t		i;

	for (i = 0; in[i] != '\0' && i + 1 < outlen; i++)
	{
		unsigned char ch = (unsigned char) in[i];

		out[i] = (ch < 0x21 || ch > 0x7e || ch == '"' || ch == '\\') ? '?' : (char) ch;
	}
	out[i] = '\0';
}

/* respond: queue the answer for status and log the request's line */
static enum MHD_Result
respond(struct MHD_Connection *c, struct req *r, const char *method,
		const char *url, const struct outcome *out)
{
	const char *body;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char		m[16];
	char		p[128];

	switch (out->status)
	{
		case MHD_HTTP_OK:
			body = "{\"ok\":true}\n";
			break;
		case MHD_HTTP_BAD_REQUEST:
			body = "{\"ok\":false,\"error\":\"bad request\"}\n";
			break;
		case MHD_HTTP_UNAUTHORIZED:
			body = "{\"ok\":false,\"error\":\"unauthorized\"}\n";
			break;
		case MHD_HTTP_NOT_FOUND:
			body = "{\"ok\":false,\"error\":\"not found\"}\n";
			break;
		case MHD_HTTP_METHOD_NOT_ALLOWED:
			body = "{\"ok\":false,\"error\":\"method not allowed\"}\n";
			break;
		case HTTP_TOO_LARGE:
			body = "{\"ok\":false,\"error\":\"payload too large\"}\n";
			break;
		case MHD_HTTP_LENGTH_REQUIRED:
			body = "{\"ok\":false,\"error\":\"Content-Length required\"}\n";
			break;
		default:
			body = "{\"ok\":false,\"error\":\"unavailable, try again later\"}\n";
			break;
	}
	r->responded = true;
	resp = MHD_create_response_from_buffer(strlen(body), (void *) body,
										   MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (out->status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST");
	else if (out->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	else if (out->status == MHD_HTTP_SERVICE_UNAVAILABLE)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "5");
	else if (out->status == HTTP_TOO_LARGE)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, out->status, resp);
	MHD_destroy_response(resp);

	printable(method, m, sizeof m);
	printable(url, p, sizeof p);
	if (out->event_id[0] != '\0')
		log_line("%s %s %u %.1f ms sqlstate=%s event_id=%s duplicate=%s", m, p,
				 out->status, elapsed_ms(&r->t0), "-", out->event_id,
				 out->duplicate);
	else
		log_line("%s %s %u %.1f ms sqlstate=%s", m, p, out->status,
				 elapsed_ms(&r->t0), out->sqlstate[0] ? out->sqlstate : "-");
	return ret;
}

/*
 * on_request: MHD's access handler.  The first call (headers only) answers
 * 404, 405, 411 (no Content-Length) or, from Content-Length, 413 at once,
 * before any of the body is read; the following calls gather the body (at
 * most max_body bytes, as Content-Length said); the last one delivers it.
 */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
		   const char *method, const char *version, const char *upload_data,
		   size_t *upload_data_size, void **con_cls)
{
	struct req *r = *con_cls;
	struct outcome out;

	(void) cls;
	(void) version;
	memset(&out, 0, sizeof out);

	if (r == NULL)
	{
		const char *cl;

		r = calloc(1, sizeof *r);
		if (r == NULL)
			return MHD_NO;		/* out of memory: closes the connection */
		clock_gettime(CLOCK_MONOTONIC, &r->t0);
		*con_cls = r;
		if (strcmp(url, cfg.path) != 0)
			out.status = MHD_HTTP_NOT_FOUND;
		else if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			out.status = MHD_HTTP_METHOD_NOT_ALLOWED;
		else if (MHD_lookup_connection_value(c, MHD_HEADER_KIND,
											 MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
		{
			/*
			 * A body of unknown length: libmicrohttpd cannot answer before
			 * it has read all of it, so it is refused unread.  Okra and
			 * reverse proxies (nginx buffers the body) send Content-Length.
			 */
			out.status = MHD_HTTP_LENGTH_REQUIRED;
		}
		else if ((cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
												   MHD_HTTP_HEADER_CONTENT_LENGTH)) != NULL)
		{
			unsigned long long n;

			if (!parse_uint(cl, 0, ULLONG_MAX, &n) || n > cfg.max_body)
				out.status = HTTP_TOO_LARGE;
		}
		if (out.status != 0)
			return respond(c, r, method, url, &out);
		return MHD_YES;
	}

	if (*upload_data_size != 0)
	{
		size_t		n = *upload_data_size;

		*upload_data_size = 0;
		if (r->responded)
			return MHD_YES;
		if (n > cfg.max_body - r->len)
		{
			/*
			 * More than Content-Length said (checked against max_body
			 * already): MHD does not allow that, but never buffer it.
			 */
			return MHD_NO;
		}
		if (r->len + n + 1 > r->cap)
		{
			size_t		cap = r->cap ? r->cap : 4096;
			char	   *nb;

			while (cap < r->len + n + 1)
				cap *= 2;
			nb = realloc(r->buf, cap);
			if (nb == NULL)
				return MHD_NO;
			r->buf = nb;
			r->cap = cap;
		}
		memcpy(r->buf + r->len, upload_data, n);
		r->len += n;
		r->buf[r->len] = '\0';
		return MHD_YES;
	}
	if (r->responded)
		return MHD_YES;

	/* the whole body is here */
	if (r->len > 0 && memchr(r->buf, '\0', r->len) != NULL)
	{
		/* a text parameter would end at the NUL: refused as PostgreSQL would */
		out.status = MHD_HTTP_BAD_REQUEST;
		snprintf(out.sqlstate, sizeof out.sqlstate, "22021");
	}
	else
		deliver(r->buf ? r->buf : "",
				MHD_lookup_connection_value(c, MHD_HEADER_KIND,
											MHD_HTTP_HEADER_AUTHORIZATION),
				&out);
	return respond(c, r, method, url, &out);
}

/* on_completed: free the request's state */
static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;

	(void) cls;
	(void) c;
	(void) toe;
	if (r != NULL)
	{
		free(r->buf);
		free(r);
		*con_cls = NULL;
	}
}

/* mhd_log: libmicrohttpd's own messages, one line each */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char		buf[512];
	size_t		n;

	(void) cls;
	vsnprintf(buf, sizeof buf, fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_line("libmicrohttpd: %s", buf);
}

/*---- main ----*/

int
main(int argc, char **argv)
{
	struct sockaddr_in sa4;
	struct sockaddr_in6 sa6;
	struct sockaddr *sa;
	unsigned	flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t	sigs;
	int			sig;
	PGconn	   *first;

	if (argc != 2 || argv[1][0] == '-')
	{
		fprintf(stderr, "usage: " PROGNAME " CONFIG-FILE\n");
		return 2;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	load_config(argv[1]);

	memset(&sa4, 0, sizeof sa4);
	memset(&sa6, 0, sizeof sa6);
	if (inet_pton(AF_INET, cfg.listen_address, &sa4.sin_addr) == 1)
	{
		sa4.sin_family = AF_INET;
		sa4.sin_port = htons((uint16_t) cfg.port);
		sa = (struct sockaddr *) &sa4;
	}
	else if (inet_pton(AF_INET6, cfg.listen_address, &sa6.sin6_addr) == 1)
	{
		sa6.sin6_family = AF_INET6;
		sa6.sin6_port = htons((uint16_t) cfg.port);
		sa = (struct sockaddr *) &sa6;
		flags |= MHD_USE_IPv6;
	}
	else
		die("listen_address \"%.64s\" is not an IPv4 or IPv6 address", cfg.listen_address);

	/*
	 * SIGTERM and SIGINT are blocked in every thread (MHD's inherit the
	 * mask) and taken by sigwait() below; SIGPIPE is ignored.
	 */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	pool_init(cfg.threads);
	/* a first connection now, so that a wrong conninfo shows at start */
	first = db_connect();
	if (first != NULL)
		pool.conns[0] = first;

	d = MHD_start_daemon(flags, (uint16_t) cfg.port, NULL, NULL,
						 on_request, NULL,
						 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
						 MHD_OPTION_SOCK_ADDR, sa,
						 MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
						 MHD_OPTION_THREAD_POOL_SIZE, cfg.threads > 1 ? cfg.threads : 0,
						 MHD_OPTION_CONNECTION_TIMEOUT, cfg.timeout,
						 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 65536,
						 MHD_OPTION_END);
	if (d == NULL)
	{
		pool_close();
		die("could not listen on %s port %u", cfg.listen_address, cfg.port);
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	log_line("listening on %s port %u, path %s, %u threads, max_body %zu",
			 cfg.listen_address, info ? (unsigned) info->port : cfg.port,
			 cfg.path, cfg.threads, cfg.max_body);

	while (sigwait(&sigs, &sig) != 0)
		;
	log_line("%s received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	MHD_stop_daemon(d);
	pool_close();
	log_line("stopped");
	free(cfg.listen_address);
	free(cfg.path);
	free(cfg.conninfo);
	return 0;
}
