/*
 * HTTP: libmicrohttpd request handling. Body accumulation (bounded by
 * --max-body), JSON and form parsing, routing, auth, rate limit,
 * idempotency, fault execution and response sending.
 *
 * The daemon runs one thread per connection, so sleeping here (latency,
 * jitter, delay/trickle/hang faults) never blocks another connection.
 */
#include "sandbox.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *const CT_JSON = "application/json; charset=utf-8";
static const char *const CT_HTML = "text/html; charset=utf-8";
static const char *const SANDBOX_PREFIX = "/_sandbox/";
static long in_flight;

long http_in_flight(void)
{
	return __atomic_load_n(&in_flight, __ATOMIC_RELAXED);
}

struct req {
	bool control;
	int route;		/* R_NONE: unknown route */
	int env;
	char *buf;
	size_t len, cap;
	bool too_large;
	bool responded;		/* answered on the first call */
	struct timespec t0;
};

/* ---------------------------------------------------------------- logging */

void log_line(const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	fwrite(buf, 1, (size_t)n, stderr);	/* one write per line */
}

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void log_request(const char *method, const char *url, int status,
			const struct req *r, const struct resp *out)
{
	if (g_cfg.verbose < 1 || g_cfg.quiet)
		return;
	char st[8];
	if (status)
		snprintf(st, sizeof st, "%d", status);
	else
		snprintf(st, sizeof st, "-");
	log_line("%s %s %s %.2fms", method, url, st, elapsed_ms(&r->t0));
	if (g_cfg.verbose >= 2) {
		if (r->len)
			log_line("  > %.*s", (int)(r->len > 4000 ? 4000 : r->len),
				 r->buf);
		if (out && out->body)
			log_line("  < %.*s",
				 (int)(out->len > 4000 ? 4000 : out->len),
				 out->body);
	}
}

/* ------------------------------------------------------------ connection */

static bool client_is_loopback(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return false;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
	}
	return false;
}

static int connection_fd(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	return ci ? ci->connect_fd : -1;
}

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* ------------------------------------------------------------------ body */

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static char *url_decode(const char *s, size_t n)
{
	char *o = xmalloc(n + 1), *p = o;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			*p++ = ' ';
		} else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
			   hexval(s[i + 2]) >= 0) {
			*p++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			*p++ = s[i];
		}
	}
	*p = '\0';
	return o;
}

/* application/x-www-form-urlencoded: every value is a string */
static json_object *parse_form(const char *s, size_t n)
{
	json_object *o = json_object_new_object();
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '&')
			j++;
		if (j > i) {
			const char *eq = memchr(s + i, '=', j - i);
			size_t klen = eq ? (size_t)(eq - (s + i)) : j - i;
			char *k = url_decode(s + i, klen);
			char *v = eq ? url_decode(eq + 1, (size_t)(s + j - eq - 1)) :
				       xstrdup("");
			if (*k && !json_object_object_get_ex(o, k, NULL))
				json_object_object_add(o, k,
						       json_object_new_string(v));
			free(k);
			free(v);
		}
		i = j + 1;
	}
	return o;
}

static bool is_form(struct MHD_Connection *c)
{
	const char *ct = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
	return ct && strncasecmp(ct, "application/x-www-form-urlencoded",
				 33) == 0;
}

static bool is_multipart(struct MHD_Connection *c)
{
	const char *ct = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
	return ct && strncasecmp(ct, "multipart/form-data", 19) == 0;
}

/* one part of a multipart/form-data body */
struct part {
	char *key;
	char *filename;		/* NULL: not a file */
	char *ctype;
	char *data;
	size_t len, cap;
	struct part *next;
};

struct parts {
	struct part *head, *tail;
};

static enum MHD_Result part_data(void *cls, enum MHD_ValueKind kind,
				 const char *key, const char *filename,
				 const char *content_type,
				 const char *transfer_encoding,
				 const char *data, uint64_t off, size_t size)
{
	(void)kind;
	(void)transfer_encoding;
	struct parts *ps = cls;
	struct part *p = ps->tail;
	if (off == 0 || !p || strcmp(p->key, key) != 0) {
		p = xcalloc(1, sizeof *p);
		p->key = xstrdup(key);
		p->filename = filename ? xstrdup(filename) : NULL;
		p->ctype = content_type ? xstrdup(content_type) : NULL;
		if (ps->tail)
			ps->tail->next = p;
		else
			ps->head = p;
		ps->tail = p;
	}
	if (p->len + size + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : 256;
		while (cap < p->len + size + 1)
			cap *= 2;
		p->data = xrealloc(p->data, cap);
		p->cap = cap;
	}
	if (size)
		memcpy(p->data + p->len, data, size);
	p->len += size;
	p->data[p->len] = '\0';
	return MHD_YES;
}

/*
 * multipart/form-data through libmicrohttpd's post processor: each field a
 * string, each file {filename, content_type, data}; the first part of a
 * name wins. NULL when the body is not well-formed multipart.
 */
static json_object *parse_multipart(struct MHD_Connection *c,
				    const struct req *r)
{
	struct parts ps = { 0 };
	json_object *o = NULL;
	struct MHD_PostProcessor *pp =
		MHD_create_post_processor(c, 16384, part_data, &ps);
	if (pp) {
		bool ok = r->len == 0 ||
			  MHD_post_process(pp, r->buf, r->len) == MHD_YES;
		if (MHD_destroy_post_processor(pp) == MHD_YES && ok)
			o = json_object_new_object();
	}
	for (struct part *p = ps.head, *nx; p; p = nx) {
		nx = p->next;
		if (o && !json_object_object_get_ex(o, p->key, NULL)) {
			json_object *v = json_object_new_string_len(
				p->data ? p->data : "", (int)p->len);
			if (p->filename) {
				json_object *f = json_object_new_object();
				json_object_object_add(f, "filename",
					json_object_new_string(p->filename));
				json_object_object_add(f, "content_type",
						       jstr_or_null(p->ctype));
				json_object_object_add(f, "data", v);
				v = f;
			}
			json_object_object_add(o, p->key, v);
		}
		free(p->key);
		free(p->filename);
		free(p->ctype);
		free(p->data);
		free(p);
	}
	return o;
}

/* NULL: the body cannot be parsed (or is not an object) */
static json_object *parse_body(struct MHD_Connection *c, const struct req *r,
			       bool *form, bool *multipart)
{
	*multipart = is_multipart(c);
	if (*multipart) {
		*form = true;
		return parse_multipart(c, r);
	}
	*form = is_form(c);
	size_t i = 0;
	while (i < r->len && (r->buf[i] == ' ' || r->buf[i] == '\t' ||
			      r->buf[i] == '\r' || r->buf[i] == '\n'))
		i++;
	if (r->len == 0 || i == r->len)
		return json_object_new_object();
	/* curl -d labels JSON as a form: a body opening like JSON is JSON */
	if (*form && (r->buf[i] == '{' || r->buf[i] == '['))
		*form = false;
	if (*form)
		return parse_form(r->buf, r->len);
	json_object *o = json_parse_body(r->buf, r->len);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* ------------------------------------------------------------- responses */

struct slow {
	char *body;
	size_t len;
	size_t limit;		/* bytes delivered before the abort */
	enum fault_kind kind;
	long ms;
	long chunk;
	int fd;
};

/*
 * A real reset: SO_LINGER 0, then close the socket at once. libmicrohttpd
 * would shut the socket down (sending FIN) before closing it, so the
 * socket is closed by dup2()ing a fresh unconnected socket over its
 * descriptor; libmicrohttpd then tears down that stand-in.
 */
static void abort_with_rst(int fd)
{
	sb_sleep_ms(20);	/* let the bytes already sent reach the peer */
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	int stand_in = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (stand_in >= 0) {
		dup2(stand_in, fd);	/* closes the original: RST */
		close(stand_in);
	}
}

static ssize_t slow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct slow *s = cls;
	if (pos >= s->limit) {
		if (s->kind == F_RESET && s->fd >= 0)
			abort_with_rst(s->fd);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	size_t n = s->limit - (size_t)pos;
	if (n > max)
		n = max;
	if (s->kind == F_TRICKLE) {
		if (pos > 0 && !sb_sleep_ms(s->ms))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (n > (size_t)s->chunk)
			n = (size_t)s->chunk;
	}
	memcpy(buf, s->body + pos, n);
	return (ssize_t)n;
}

static void slow_free(void *cls)
{
	struct slow *s = cls;
	free(s->body);
	free(s);
}

/* Queues out (taking its body). kind: F_NONE, F_TRUNCATE, F_RESET or
 * F_TRICKLE with the fault's parameters. */
static enum MHD_Result send_resp(struct MHD_Connection *c, struct resp *out,
				 const struct fault *f)
{
	struct MHD_Response *mr;
	enum fault_kind kind = f ? f->kind : F_NONE;
	if (kind == F_TRUNCATE || kind == F_RESET || kind == F_TRICKLE) {
		struct slow *s = xcalloc(1, sizeof *s);
		s->body = out->body;
		s->len = out->len;
		s->kind = kind;
		s->ms = f->ms;
		s->chunk = f->chunk;
		s->fd = connection_fd(c);
		if (kind == F_TRUNCATE)
			s->limit = f->bytes < 0 ? out->len / 2 : (size_t)f->bytes;
		else if (kind == F_RESET)
			s->limit = f->bytes < 0 ? 10 : (size_t)f->bytes;
		else
			s->limit = out->len;
		if (s->limit > out->len)
			s->limit = out->len;
		mr = MHD_create_response_from_callback(out->len, 4096, slow_read,
						       s, slow_free);
		if (!mr)
			slow_free(s);
		else if (kind != F_TRICKLE)
			MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION,
						"close");
	} else {
		mr = MHD_create_response_from_buffer(out->len, out->body,
						     MHD_RESPMEM_MUST_FREE);
		if (!mr)
			free(out->body);
	}
	out->body = NULL;
	if (!mr)
		return MHD_NO;
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
				out->ctype ? out->ctype : CT_JSON);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)out->status, mr);
	MHD_destroy_response(mr);
	return ret;
}

static void resp_msg(struct resp *out, int status, enum msg_id m)
{
	resp_error(out, status, msg(m), NULL, NULL);
}

static const char *status_message(int status)
{
	switch (status) {
	case 400: return msg(MSG_BAD_PAYLOAD);
	case 401: return msg(MSG_BAD_KEY);
	case 404: return msg(MSG_NO_ROUTE);
	case 413: return msg(MSG_TOO_LARGE);
	case 429: return msg(MSG_RATE_LIMIT);
	case 503: return msg(MSG_TIMEOUT);
	default: return msg(MSG_SERVER_ERROR);
	}
}

/* status / after_status: the given body, or an Okra error envelope */
static void fault_status_resp(const struct fault *f, struct resp *out)
{
	if (f->body)
		resp_set(out, f->status, xstrdup(f->body),
			 f->content_type ? NULL : CT_JSON);
	else
		resp_error(out, f->status, status_message(f->status), NULL,
			   NULL);
	/* a custom content type lives in the fault copy; keep it static */
	if (f->content_type)
		out->ctype = f->content_type;
}

static void fault_html_resp(const struct fault *f, struct resp *out)
{
	const char *reason = http_reason(f->status);
	size_t n = strlen(msg(MSG_HTML_PAGE)) + 2 * strlen(reason) + 32;
	char *b = xmalloc(n);
	snprintf(b, n, msg(MSG_HTML_PAGE), f->status, reason, f->status,
		 reason);
	resp_set(out, f->status, b, CT_HTML);
}

/* a success envelope exactly f->bytes long (when that is possible) */
static void fault_size_resp(int route, const struct fault *f, struct resp *out)
{
	char head[512];
	int hn = snprintf(head, sizeof head,
			  "{\"status\":\"success\",\"message\":\"%s\","
			  "\"data\":{\"padding\":\"", msg(route_ok_msg(route)));
	static const char tail[] = "\"}}";
	size_t base = (size_t)hn + sizeof tail - 1;
	size_t want = (size_t)f->bytes;
	size_t pad = want > base ? want - base : 0;
	char *b = xmalloc(base + pad + 1);
	memcpy(b, head, (size_t)hn);
	memset(b + hn, 'x', pad);
	memcpy(b + hn + pad, tail, sizeof tail);
	resp_set(out, 200, b, CT_JSON);
}

/* ------------------------------------------------------------------- API */

static long latency(void)
{
	lock();
	long ms = g_set.latency_ms, j = g_set.jitter_ms;
	unlock();
	if (j > 0)
		ms += (long)(rnd64() % (uint64_t)(j + 1));
	return ms;
}

static int auth_key(struct MHD_Connection *c)
{
	const char *h = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h)
		return -1;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return -1;
	h += 7;
	while (*h == ' ')
		h++;
	char key[1024];
	size_t n = strlen(h);
	while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof key)
		return -1;
	memcpy(key, h, n);
	key[n] = '\0';
	return key_index(key);
}

/* route (404), auth (401), rate limit (429), size (413); true: answered */
static bool api_prechecks(struct MHD_Connection *c, const struct req *r,
			  const char *method, int *key, struct resp *out)
{
	if (r->route == R_NONE || strcmp(method, "POST") != 0) {
		resp_msg(out, 404, MSG_NO_ROUTE);
		return true;
	}
	if ((*key = auth_key(c)) < 0) {
		resp_msg(out, 401, MSG_BAD_KEY);
		return true;
	}
	lock();
	bool ok = rate_allow(*key, now_ms());
	unlock();
	if (!ok) {
		resp_msg(out, 429, MSG_RATE_LIMIT);
		return true;
	}
	if (r->too_large) {
		resp_msg(out, 413, MSG_TOO_LARGE);
		return true;
	}
	return false;
}

static bool pre_exec_fault(enum fault_kind k)
{
	return k == F_STATUS || k == F_HTML || k == F_SIZE || k == F_HANG ||
	       k == F_TIMEOUT503;
}

/*
 * Executes the operation after the latency (and a delay fault's ms),
 * honouring Idempotency-Key: a claim is held in flight during the sleep so
 * a concurrent repeat sees 409. Replays, 409 and 422 execute nothing.
 * Returns false when a stop cut the sleep short (nothing executed).
 */
static bool run_operation(struct MHD_Connection *c, const struct req *r,
			  const char *url, int key, json_object *body,
			  bool form, bool multipart, long wait_ms,
			  struct resp *out)
{
	const char *ikey = header(c, "Idempotency-Key");
	char owner[OID_LEN + 1];
	uint64_t seq = 0;
	enum idem_result ir = IDEM_NEW;

	if (ikey && *ikey) {
		lock();
		memcpy(owner, owner_of_key(key)->id, sizeof owner);
		ir = idem_claim(owner, ikey, url, r->buf, r->len, &seq, out);
		if (ir == IDEM_REPLAY)
			counters_replay();
		unlock();
	} else {
		ikey = NULL;
	}
	bool slept = sb_sleep_ms(wait_ms);
	if (ir == IDEM_MISMATCH) {
		resp_msg(out, 422, MSG_IDEM_MISMATCH);
	} else if (ir == IDEM_IN_FLIGHT) {
		resp_msg(out, 409, MSG_IDEM_IN_FLIGHT);
	} else if (ir == IDEM_NEW) {
		if (!slept) {
			if (ikey) {
				lock();
				idem_release(owner, ikey, seq);
				unlock();
			}
			return false;
		}
		struct api_req rq = {
			.route = r->route, .env = r->env, .key = key,
			.body = body, .form = form, .multipart = multipart,
		};
		okra_execute(&rq, out);
		if (ikey) {
			lock();
			idem_store(owner, ikey, seq, out);
			unlock();
		}
	}
	return true;
}

/* A fault that answers in place of the operation (nothing executes);
 * false for a hang, which answers nothing. */
static bool replace_response(int route, const struct fault *f,
			     struct resp *out)
{
	switch (f->kind) {
	case F_STATUS:
		fault_status_resp(f, out);
		return true;
	case F_HTML:
		fault_html_resp(f, out);
		return true;
	case F_SIZE:
		fault_size_resp(route, f, out);
		return true;
	case F_TIMEOUT503:
		resp_msg(out, 503, MSG_TIMEOUT);
		return true;
	default:		/* F_HANG */
		return false;
	}
}

static enum MHD_Result api_final(struct MHD_Connection *c, struct req *r,
				 const char *method, const char *url)
{
	struct resp out = { 0 };
	struct fault f = { 0 };
	bool faulted = false, drop = false;
	long hang_ms = 0;
	int key = -1;

	if (api_prechecks(c, r, method, &key, &out)) {
		sb_sleep_ms(latency());
	} else {
		bool form, multipart;
		json_object *body = parse_body(c, r, &form, &multipart), *v;
		const char *pid = NULL;
		if (body && json_object_object_get_ex(body, "payment_id", &v) &&
		    json_object_is_type(v, json_type_string))
			pid = json_object_get_string(v);
		faulted = fault_take(r->route, pid, &f);

		if (faulted && pre_exec_fault(f.kind)) {
			drop = !replace_response(r->route, &f, &out);
			if (drop)
				hang_ms = f.ms;
			else
				sb_sleep_ms(latency());
		} else {
			long wait = latency() + (faulted && f.kind == F_DELAY ?
						 f.ms : 0);
			drop = !run_operation(c, r, url, key, body, form,
					      multipart, wait, &out);
		}
		json_object_put(body);
	}

	if (faulted && !drop) {
		if (f.kind == F_AFTER_STATUS) {
			resp_free(&out);
			fault_status_resp(&f, &out);
		} else if (f.kind == F_AFTER_DROP || f.kind == F_AFTER_HANG) {
			drop = true;
			hang_ms = f.kind == F_AFTER_HANG ? f.ms : 0;
		}
	}
	if (drop)
		resp_free(&out);
	counters_request(url, drop ? 0 : out.status);
	log_request(method, url, drop ? 0 : out.status, r, &out);

	enum MHD_Result ret;
	if (drop) {
		sb_hang_ms(hang_ms);
		ret = MHD_NO;	/* closes the connection, nothing sent */
	} else {
		ret = send_resp(c, &out, faulted ? &f : NULL);
	}
	if (faulted)
		fault_copy_free(&f);
	return ret;
}

/* -------------------------------------------------------------- control */

static enum MHD_Result control_final(struct MHD_Connection *c, struct req *r,
				     const char *method, const char *url)
{
	struct resp out = { 0 };
	if (!client_is_loopback(c)) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "error", json_object_new_string(
			msg(MSG_CTL_FORBIDDEN)));
		resp_set(&out, 403, json_dump(o), CT_JSON);
		json_object_put(o);
	} else {
		control_handle(method, url + strlen(SANDBOX_PREFIX), r->buf,
			       r->len, r->too_large, &out);
	}
	log_request(method, url, out.status, r, &out);
	return send_resp(c, &out, NULL);
}

/* --------------------------------------------------------------- routing */

static void classify(struct req *r, const char *url)
{
	r->route = R_NONE;
	r->env = ENV_PRODUCTION;
	if (strncmp(url, SANDBOX_PREFIX, strlen(SANDBOX_PREFIX)) == 0) {
		r->control = true;
		return;
	}
	if (strncmp(url, "/v2/sandbox/", 12) == 0) {
		r->env = ENV_SANDBOX;
		r->route = route_lookup(url + 12);
	} else if (strncmp(url, "/v2/", 4) == 0) {
		r->route = route_lookup(url + 4);
	}
}

static bool expects_continue(struct MHD_Connection *c)
{
	const char *e = header(c, MHD_HTTP_HEADER_EXPECT);
	return e && strncasecmp(e, "100-continue", 12) == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)version;
	struct req *r = *con_cls;

	if (!r) {
		__atomic_add_fetch(&in_flight, 1, __ATOMIC_RELAXED);
		r = xcalloc(1, sizeof *r);
		clock_gettime(CLOCK_MONOTONIC, &r->t0);
		classify(r, url);
		*con_cls = r;
		const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(cl, &end, 10);
			if (errno || n > g_cfg.max_body)
				r->too_large = true;
		}
		/* A client waiting for "100 Continue" gets its answer now,
		 * and the oversized body is never sent. */
		if (r->too_large && expects_continue(c)) {
			r->responded = true;
			if (r->control)
				return control_final(c, r, method, url);
			return api_final(c, r, method, url);
		}
		return MHD_YES;
	}
	if (r->responded)
		return MHD_YES;

	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (r->too_large)
			return MHD_YES;	/* drained, never buffered */
		if (r->len + n > g_cfg.max_body) {
			r->too_large = true;
			free(r->buf);
			r->buf = NULL;
			r->len = r->cap = 0;
			return MHD_YES;
		}
		if (r->len + n + 1 > r->cap) {
			size_t cap = r->cap ? r->cap : 1024;
			while (cap < r->len + n + 1)
				cap *= 2;
			r->buf = xrealloc(r->buf, cap);
			r->cap = cap;
		}
		memcpy(r->buf + r->len, upload_data, n);
		r->len += n;
		r->buf[r->len] = '\0';
		return MHD_YES;
	}

	r->responded = true;
	if (r->control)
		return control_final(c, r, method, url);
	return api_final(c, r, method, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct req *r = *con_cls;
	if (r) {
		free(r->buf);
		free(r);
		*con_cls = NULL;
		__atomic_sub_fetch(&in_flight, 1, __ATOMIC_RELAXED);
	}
}

static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)c;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		counters_connection();
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char buf[1024];
	vsnprintf(buf, sizeof buf, fmt, ap);
	size_t n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_line("okra-sandbox: mhd: %s", buf);
}

/* ---------------------------------------------------------------- daemon */

static char *tls_cert_pem, *tls_key_pem;

static char *slurp(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 strerror(errno));
		return NULL;
	}
	size_t cap = 4096, len = 0;
	char *b = xmalloc(cap);
	size_t n;
	while ((n = fread(b + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0)
			b = xrealloc(b, cap *= 2);
	}
	fclose(f);
	b[len] = '\0';
	return b;
}

struct MHD_Daemon *http_start(char *err, size_t errlen)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)g_cfg.port);
	if (inet_pton(AF_INET, g_cfg.host, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "invalid --host %s (IPv4 literal)",
			 g_cfg.host);
		return NULL;
	}
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			 MHD_USE_TURBO | MHD_USE_ITC;
	if (g_cfg.verbose >= 1 && !g_cfg.quiet)
		flags |= MHD_USE_ERROR_LOG;
	if (g_cfg.tls_cert || g_cfg.tls_key) {
		if (!g_cfg.tls_cert || !g_cfg.tls_key) {
			snprintf(err, errlen,
				 "--tls-cert and --tls-key go together");
			return NULL;
		}
		if (!(tls_cert_pem = slurp(g_cfg.tls_cert, err, errlen)) ||
		    !(tls_key_pem = slurp(g_cfg.tls_key, err, errlen)))
			return NULL;
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, tls_cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, tls_key_pem },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, NULL,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
		MHD_OPTION_ARRAY, (flags & MHD_USE_TLS) ? tls_opts :
			tls_opts + 2,
		MHD_OPTION_END);
	if (!d) {
		snprintf(err, errlen, "cannot listen on %s:%u%s", g_cfg.host,
			 g_cfg.port,
			 (flags & MHD_USE_TLS) ? " (check the TLS files)" : "");
		return NULL;
	}
	return d;
}

void http_free(void)
{
	free(tls_cert_pem);
	free(tls_key_pem);
	tls_cert_pem = tls_key_pem = NULL;
}
