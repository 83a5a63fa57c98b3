/*
 * Webhooks (README.md, "Webhooks"; API.md 8.15, ours): every payment status
 * change becomes an event, POSTed as JSON with a bearer token to the
 * configured URL by one sender thread, retried with backoff on a non-2xx
 * answer or a failed connection. Faults send copies, a wrong token, or hold
 * one payment's events and send them newest first; a "lie" sends an event
 * whose status is not the payment's.
 *
 * Locking: wh_mu guards everything here (configuration, queue, faults,
 * counters). It may be taken while g_lock is held (status changes happen
 * under g_lock), never the other way round: the sender thread never takes
 * g_lock, and never holds wh_mu during a POST, so no API request waits for
 * a receiver.
 */
#include "sandbox.h"

#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TRIES 20
#define MAX_BACKOFF_MS 600000L
#define MAX_DELAY_MS 60000L	/* longest wait between two tries */
#define MAX_COPIES 1000
#define MAX_HELD 100
#define NSTATUS 16		/* distinct HTTP statuses counted */

/* one POST to make (one copy of one event), until a 2xx or the last try */
struct delivery {
	char *url;
	char *token;		/* NULL: no Authorization header */
	char *body;
	char event_id[OID_LEN + 1];
	int tries;		/* POSTs made so far */
	int max_tries;
	long backoff_ms;
	long timeout_ms;
	int64_t due;		/* monotonic ms */
	struct delivery *next;
};

enum wh_kind { WF_DUPLICATE, WF_WRONG_TOKEN, WF_OUT_OF_ORDER, WF_COUNT };

static const char *const wf_names[WF_COUNT] = {
	[WF_DUPLICATE] = "duplicate",
	[WF_WRONG_TOKEN] = "wrong_token",
	[WF_OUT_OF_ORDER] = "out_of_order",
};

struct wh_fault {
	long id;
	enum wh_kind kind;
	long remaining;		/* events it still applies to */
	char payment_id[OID_LEN + 1];	/* "" = any */
	long copies;		/* duplicate */
	char *token;		/* wrong_token; NULL = no header */
	struct delivery *held, *held_tail;	/* out_of_order, oldest first */
	long nheld;
	struct wh_fault *next;
};

struct wh_config {
	char *url;		/* NULL: off */
	char *token;		/* NULL: no Authorization header */
	long tries;
	long backoff_ms;
	long timeout_ms;
};

static pthread_mutex_t wh_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wh_cv;
static pthread_t wh_thread;
static bool wh_started;
static bool wh_stop;		/* under wh_mu; read by curl's callback too */
static struct wh_config cfg;
static struct delivery *queue;	/* by due, then by arrival */
static struct wh_fault *faults, *faults_tail;
static long next_fault_id = 1;
static uint64_t gen;		/* bumped by reset: in-flight results dropped */
static bool in_flight;

static struct {
	long events, deliveries, sent, delivered, retried, failed;
	int status[NSTATUS];
	long count[NSTATUS];
	size_t nstatus;
} ctr;

/* ------------------------------------------------------------ small parts */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool url_ok(const char *s)
{
	return s && (strncmp(s, "http://", 7) == 0 ||
		     strncmp(s, "https://", 8) == 0) &&
	       strlen(s) > 8 && strlen(s) < 2048 && !strpbrk(s, " \r\n\t");
}

/* a token goes into a header line: printable ASCII, no spaces */
static bool token_ok(const char *s)
{
	if (!s || strlen(s) > 1024)
		return false;
	for (const char *c = s; *c; c++)
		if (*c <= ' ' || *c > '~')
			return false;
	return true;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void delivery_free(struct delivery *d)
{
	free(d->url);
	free(d->token);
	free(d->body);
	free(d);
}

static void list_free(struct delivery *d)
{
	for (struct delivery *n; d; d = n) {
		n = d->next;
		delivery_free(d);
	}
}

/* into the queue, after every delivery due no later (wh_mu held) */
static void queue_insert(struct delivery *d)
{
	struct delivery **pp = &queue;
	while (*pp && (*pp)->due <= d->due)
		pp = &(*pp)->next;
	d->next = *pp;
	*pp = d;
	pthread_cond_broadcast(&wh_cv);
}

static void config_from_flags(void)
{
	free(cfg.url);
	free(cfg.token);
	cfg.url = dup_or_null(g_cfg.webhook_url);
	cfg.token = dup_or_null(g_cfg.webhook_token);
	cfg.tries = g_cfg.webhook_tries;
	cfg.backoff_ms = g_cfg.webhook_backoff_ms;
	cfg.timeout_ms = g_cfg.webhook_timeout_ms;
}

static void count_status(int status)
{
	for (size_t i = 0; i < ctr.nstatus; i++)
		if (ctr.status[i] == status) {
			ctr.count[i]++;
			return;
		}
	if (ctr.nstatus < NSTATUS) {
		ctr.status[ctr.nstatus] = status;
		ctr.count[ctr.nstatus++] = 1;
	}
}

/* ----------------------------------------------------------------- faults */

static void wh_fault_free(struct wh_fault *f)
{
	list_free(f->held);
	free(f->token);
	free(f);
}

static void fault_unlink(struct wh_fault *f)
{
	struct wh_fault **pp = &faults, *prev = NULL;
	while (*pp && *pp != f) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = f->next;
	if (faults_tail == f)
		faults_tail = prev;
	f->next = NULL;
}

/* queues an out_of_order fault's held deliveries newest first, and frees
 * the fault (wh_mu held) */
static void release_held(struct wh_fault *f)
{
	int64_t now = mono_ms();
	struct delivery *rev = NULL;
	for (struct delivery *d = f->held, *n; d; d = n) {
		n = d->next;
		d->next = rev;
		rev = d;
	}
	f->held = f->held_tail = NULL;
	for (struct delivery *d = rev, *n; d; d = n) {
		n = d->next;
		d->due = now;
		queue_insert(d);
	}
	fault_unlink(f);
	wh_fault_free(f);
}

static struct wh_fault *fault_match(enum wh_kind kind, const char *payment_id)
{
	for (struct wh_fault *f = faults; f; f = f->next)
		if (f->kind == kind &&
		    (!*f->payment_id || strcmp(f->payment_id, payment_id) == 0))
			return f;
	return NULL;
}

/* one use of a duplicate or wrong_token fault */
static void fault_use(struct wh_fault *f)
{
	if (--f->remaining <= 0) {
		fault_unlink(f);
		wh_fault_free(f);
	}
}

static json_object *wh_fault_json(const struct wh_fault *f)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(f->id));
	json_object_object_add(o, "kind", json_object_new_string(wf_names[f->kind]));
	json_object_object_add(o, "remaining", json_object_new_int64(f->remaining));
	json_object_object_add(o, "payment_id", jstr_or_null(f->payment_id));
	if (f->kind == WF_DUPLICATE)
		json_object_object_add(o, "copies", json_object_new_int64(f->copies));
	if (f->kind == WF_WRONG_TOKEN)
		json_object_object_add(o, "token", f->token ?
				       json_object_new_string(f->token) : NULL);
	if (f->kind == WF_OUT_OF_ORDER)
		json_object_object_add(o, "held", json_object_new_int64(f->nheld));
	return o;
}

/* ----------------------------------------------------------------- events */

/* the payload (ours, API.md 8.15), keys in this order */
static char *event_body(const struct payment *p, const char *status,
			const char *event_id, int64_t at)
{
	char code[MAX_STATUS], when[32];
	size_t i;
	for (i = 0; status[i] && i < sizeof code - 1; i++)
		code[i] = (char)toupper((unsigned char)status[i]);
	code[i] = '\0';
	iso_time(at, when);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "callback_type", json_object_new_string("PAYMENT"));
	json_object_object_add(o, "callback_code", json_object_new_string(code));
	json_object_object_add(o, "event_id", json_object_new_string(event_id));
	json_object_object_add(o, "payment_id", json_object_new_string(p->id));
	json_object_object_add(o, "ref", json_object_new_string(p->ref));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "amount", json_object_new_int64(p->amount));
	json_object_object_add(o, "currency", json_object_new_string(p->currency));
	json_object_object_add(o, "env", json_object_new_string(env_name(p->env)));
	json_object_object_add(o, "created_at", json_object_new_string(when));
	char *s = json_dump(o);
	json_object_put(o);
	return s;
}

/*
 * One event for p with this status: its copies are queued, or held by an
 * out_of_order fault. Returns the body (malloc'd) when out is wanted, NULL
 * when webhooks are off. g_lock held (p is read), wh_mu not.
 */
static char *event(const struct payment *p, const char *status, int64_t at,
		   bool want_body)
{
	char *ret = NULL;
	pthread_mutex_lock(&wh_mu);
	if (!cfg.url || wh_stop) {
		pthread_mutex_unlock(&wh_mu);
		return NULL;
	}
	char event_id[OID_LEN + 1];
	new_oid(at, event_id);
	char *body = event_body(p, status, event_id, at);
	long copies = 1;
	const char *token = cfg.token;
	char *token_copy = NULL;
	struct wh_fault *f;
	if ((f = fault_match(WF_DUPLICATE, p->id))) {
		copies = f->copies;
		fault_use(f);
	}
	if ((f = fault_match(WF_WRONG_TOKEN, p->id))) {
		token_copy = dup_or_null(f->token);
		token = token_copy;
		fault_use(f);
	}
	struct wh_fault *hold = fault_match(WF_OUT_OF_ORDER, p->id);
	int64_t now = mono_ms();
	for (long c = 0; c < copies; c++) {
		struct delivery *d = xcalloc(1, sizeof *d);
		d->url = xstrdup(cfg.url);
		d->token = dup_or_null(token);
		d->body = xstrdup(body);
		memcpy(d->event_id, event_id, sizeof event_id);
		d->max_tries = (int)cfg.tries;
		d->backoff_ms = cfg.backoff_ms;
		d->timeout_ms = cfg.timeout_ms;
		d->due = now;
		if (hold) {
			if (hold->held_tail)
				hold->held_tail->next = d;
			else
				hold->held = d;
			hold->held_tail = d;
		} else {
			queue_insert(d);
		}
	}
	ctr.events++;
	ctr.deliveries += copies;
	if (hold) {
		hold->nheld++;
		if (--hold->remaining <= 0)
			release_held(hold);
	}
	if (g_cfg.verbose >= 1 && !g_cfg.quiet)
		log_line("webhook event %s: payment %s %s (%ld cop%s)", event_id,
			 p->id, status, copies, copies == 1 ? "y" : "ies");
	pthread_mutex_unlock(&wh_mu);
	free(token_copy);
	if (want_body)
		ret = body;
	else
		free(body);
	return ret;
}

void webhook_status_change(const struct payment *p, int64_t at)
{
	event(p, p->status, at, false);
}

/* ----------------------------------------------------------------- sender */

static size_t discard(char *ptr, size_t size, size_t n, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * n;
}

/* aborts a POST under way when the sandbox stops */
static int stop_check(void *ud, curl_off_t a, curl_off_t b, curl_off_t c,
		      curl_off_t d)
{
	(void)ud;
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return __atomic_load_n(&wh_stop, __ATOMIC_RELAXED) ? 1 : 0;
}

/* one POST; the HTTP status, or 0 when none came (wh_mu not held) */
static int post(CURL *h, const struct delivery *d)
{
	struct curl_slist *hdrs = NULL, *t;
	char auth[1100];
	int status = 0;
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	if ((t = curl_slist_append(hdrs, "Expect:")))
		hdrs = t;
	if (d->token) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", d->token);
		if ((t = curl_slist_append(hdrs, auth)))
			hdrs = t;
	}
	if (!hdrs)
		return 0;
	curl_easy_setopt(h, CURLOPT_URL, d->url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, d->body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(d->body));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "okra-sandbox webhooks");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, d->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, d->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, stop_check);
	CURLcode rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		long code = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		status = (int)code;
	} else if (g_cfg.verbose >= 1 && !g_cfg.quiet) {
		log_line("webhook %s: %s", d->event_id, curl_easy_strerror(rc));
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	return status;
}

static struct timespec deadline(int64_t due_mono)
{
	struct timespec ts;
	ts.tv_sec = (time_t)(due_mono / 1000);
	ts.tv_nsec = (long)(due_mono % 1000) * 1000000L;
	return ts;
}

static void *sender(void *arg)
{
	(void)arg;
	CURL *h = curl_easy_init();
	pthread_mutex_lock(&wh_mu);
	while (!wh_stop) {
		if (!queue) {
			pthread_cond_wait(&wh_cv, &wh_mu);
			continue;
		}
		int64_t now = mono_ms();
		if (queue->due > now) {
			struct timespec ts = deadline(queue->due);
			pthread_cond_timedwait(&wh_cv, &wh_mu, &ts);
			continue;
		}
		struct delivery *d = queue;
		queue = d->next;
		d->next = NULL;
		uint64_t g = gen;
		in_flight = true;
		pthread_mutex_unlock(&wh_mu);

		int status = h ? post(h, d) : 0;

		pthread_mutex_lock(&wh_mu);
		in_flight = false;
		if (g != gen || wh_stop) {
			delivery_free(d);
			continue;
		}
		ctr.sent++;
		if (d->tries > 0)
			ctr.retried++;
		d->tries++;
		count_status(status);
		if (g_cfg.verbose >= 1 && !g_cfg.quiet)
			log_line("webhook %s: try %d: %d", d->event_id, d->tries,
				 status);
		if (status >= 200 && status < 300) {
			ctr.delivered++;
			delivery_free(d);
		} else if (d->tries >= d->max_tries) {
			ctr.failed++;
			delivery_free(d);
		} else {
			long wait = d->backoff_ms;
			for (int i = 1; i < d->tries && wait < MAX_DELAY_MS; i++)
				wait *= 2;
			if (wait > MAX_DELAY_MS)
				wait = MAX_DELAY_MS;
			d->due = mono_ms() + wait;
			queue_insert(d);
		}
	}
	pthread_mutex_unlock(&wh_mu);
	if (h)
		curl_easy_cleanup(h);
	return NULL;
}

int webhooks_start(char *err, size_t errlen)
{
	pthread_condattr_t ca;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "webhooks: cannot initialize libcurl");
		return -1;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wh_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&wh_mu);
	config_from_flags();
	pthread_mutex_unlock(&wh_mu);
	if (pthread_create(&wh_thread, NULL, sender, NULL) != 0) {
		snprintf(err, errlen, "webhooks: cannot start the sender thread");
		pthread_cond_destroy(&wh_cv);
		curl_global_cleanup();
		return -1;
	}
	wh_started = true;
	return 0;
}

void webhooks_stop(void)
{
	if (!wh_started)
		return;
	pthread_mutex_lock(&wh_mu);
	__atomic_store_n(&wh_stop, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&wh_cv);
	pthread_mutex_unlock(&wh_mu);
	pthread_join(wh_thread, NULL);
	pthread_mutex_lock(&wh_mu);
	list_free(queue);
	queue = NULL;
	while (faults) {
		struct wh_fault *f = faults;
		faults = f->next;
		wh_fault_free(f);
	}
	faults_tail = NULL;
	free(cfg.url);
	free(cfg.token);
	memset(&cfg, 0, sizeof cfg);
	pthread_mutex_unlock(&wh_mu);
	pthread_cond_destroy(&wh_cv);
	curl_global_cleanup();
	wh_started = false;
}

/* ---------------------------------------------------------------- control */

static void faults_drop(void)
{
	while (faults) {
		struct wh_fault *f = faults;
		faults = f->next;
		wh_fault_free(f);
	}
	faults_tail = NULL;
}

void webhooks_reset(void)
{
	pthread_mutex_lock(&wh_mu);
	gen++;
	list_free(queue);
	queue = NULL;
	faults_drop();
	memset(&ctr, 0, sizeof ctr);
	config_from_flags();
	pthread_cond_broadcast(&wh_cv);
	pthread_mutex_unlock(&wh_mu);
}

/* the counters (wh_mu taken here) */
json_object *webhooks_counters_json(void)
{
	json_object *o = json_object_new_object();
	pthread_mutex_lock(&wh_mu);
	long pending = in_flight ? 1 : 0;
	for (struct delivery *d = queue; d; d = d->next)
		pending++;
	for (struct wh_fault *f = faults; f; f = f->next)
		for (struct delivery *d = f->held; d; d = d->next)
			pending++;
	json_object_object_add(o, "events", json_object_new_int64(ctr.events));
	json_object_object_add(o, "deliveries",
			       json_object_new_int64(ctr.deliveries));
	json_object_object_add(o, "sent", json_object_new_int64(ctr.sent));
	json_object_object_add(o, "delivered",
			       json_object_new_int64(ctr.delivered));
	json_object_object_add(o, "retried", json_object_new_int64(ctr.retried));
	json_object_object_add(o, "failed", json_object_new_int64(ctr.failed));
	json_object_object_add(o, "pending", json_object_new_int64(pending));
	json_object *bs = json_object_new_object();
	for (size_t i = 0; i < ctr.nstatus; i++) {
		char k[16];
		snprintf(k, sizeof k, "%d", ctr.status[i]);
		json_object_object_add(bs, k, json_object_new_int64(ctr.count[i]));
	}
	json_object_object_add(o, "by_status", bs);
	pthread_mutex_unlock(&wh_mu);
	return o;
}

json_object *webhooks_json(void)
{
	json_object *c = webhooks_counters_json();
	json_object *o = json_object_new_object();
	pthread_mutex_lock(&wh_mu);
	json_object_object_add(o, "url", jstr_or_null(cfg.url));
	json_object_object_add(o, "token", json_object_new_boolean(cfg.token != NULL));
	json_object_object_add(o, "tries", json_object_new_int64(cfg.tries));
	json_object_object_add(o, "backoff_ms", json_object_new_int64(cfg.backoff_ms));
	json_object_object_add(o, "timeout_ms", json_object_new_int64(cfg.timeout_ms));
	pthread_mutex_unlock(&wh_mu);
	json_object_object_add(o, "counters", c);
	return o;
}

/* member k when present and not null */
static json_object *member(json_object *o, const char *k)
{
	json_object *v;
	if (!json_object_object_get_ex(o, k, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

static bool present(json_object *o, const char *k)
{
	return json_object_object_get_ex(o, k, NULL);
}

/* integer member k in lo..hi into *out (left alone when absent) */
static int get_long(json_object *o, const char *k, long lo, long hi,
		    long *out)
{
	json_object *v = member(o, k);
	if (!v)
		return present(o, k) ? -1 : 0;
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < lo || json_object_get_int64(v) > hi)
		return -1;
	*out = (long)json_object_get_int64(v);
	return 0;
}

int webhooks_configure(json_object *b, char *err, size_t errlen)
{
	json_object *v;
	const char *url = NULL, *token = NULL;
	bool set_url = present(b, "url"), set_token = present(b, "token");
	long tries = -1, backoff = -1, timeout = -1;
	if (set_url && (v = member(b, "url"))) {
		url = json_object_is_type(v, json_type_string) ?
			json_object_get_string(v) : NULL;
		if (!url_ok(url))
			return spec_bad(err, errlen, "url");
	}
	if (set_token && (v = member(b, "token"))) {
		token = json_object_is_type(v, json_type_string) ?
			json_object_get_string(v) : NULL;
		if (!token_ok(token))
			return spec_bad(err, errlen, "token");
	}
	if (get_long(b, "tries", 1, MAX_TRIES, &tries) < 0)
		return spec_bad(err, errlen, "tries");
	if (get_long(b, "backoff_ms", 0, MAX_BACKOFF_MS, &backoff) < 0)
		return spec_bad(err, errlen, "backoff_ms");
	if (get_long(b, "timeout_ms", 1, MAX_BACKOFF_MS, &timeout) < 0)
		return spec_bad(err, errlen, "timeout_ms");
	pthread_mutex_lock(&wh_mu);
	if (set_url) {
		free(cfg.url);
		cfg.url = dup_or_null(url);
	}
	if (set_token) {
		free(cfg.token);
		cfg.token = dup_or_null(token);
	}
	if (tries > 0)
		cfg.tries = tries;
	if (backoff >= 0)
		cfg.backoff_ms = backoff;
	if (timeout > 0)
		cfg.timeout_ms = timeout;
	pthread_mutex_unlock(&wh_mu);
	return 0;
}

int webhooks_fault_arm(json_object *b, json_object **out, char *err,
		       size_t errlen)
{
	json_object *v;
	struct wh_fault *f = xcalloc(1, sizeof *f);
	int k;
	const char *kind = (v = member(b, "kind")) &&
		json_object_is_type(v, json_type_string) ?
		json_object_get_string(v) : "";
	for (k = 0; k < WF_COUNT; k++)
		if (strcmp(kind, wf_names[k]) == 0)
			break;
	if (k == WF_COUNT)
		goto bad_kind;
	f->kind = (enum wh_kind)k;
	if ((v = member(b, "payment_id"))) {
		if (!json_object_is_type(v, json_type_string) ||
		    !is_oid(json_object_get_string(v))) {
			wh_fault_free(f);
			return spec_bad(err, errlen, "payment_id");
		}
		memcpy(f->payment_id, json_object_get_string(v), OID_LEN + 1);
	} else if (f->kind == WF_OUT_OF_ORDER) {
		wh_fault_free(f);
		return spec_bad(err, errlen, "payment_id");
	}
	f->remaining = f->kind == WF_OUT_OF_ORDER ? 2 : 1;
	if (get_long(b, f->kind == WF_OUT_OF_ORDER ? "events" : "count",
		     f->kind == WF_OUT_OF_ORDER ? 2 : 1,
		     f->kind == WF_OUT_OF_ORDER ? MAX_HELD : 1L << 40,
		     &f->remaining) < 0) {
		wh_fault_free(f);
		return spec_bad(err, errlen, f->kind == WF_OUT_OF_ORDER ?
				"events" : "count");
	}
	f->copies = 2;
	if (f->kind == WF_DUPLICATE &&
	    get_long(b, "copies", 1, MAX_COPIES, &f->copies) < 0) {
		wh_fault_free(f);
		return spec_bad(err, errlen, "copies");
	}
	if (f->kind == WF_WRONG_TOKEN) {
		if (!present(b, "token")) {
			f->token = xstrdup("wrong-token");
		} else if ((v = member(b, "token"))) {
			const char *t = json_object_is_type(v, json_type_string) ?
				json_object_get_string(v) : NULL;
			if (!token_ok(t)) {
				wh_fault_free(f);
				return spec_bad(err, errlen, "token");
			}
			f->token = xstrdup(t);
		}
	}
	pthread_mutex_lock(&wh_mu);
	f->id = next_fault_id++;
	if (faults_tail)
		faults_tail->next = f;
	else
		faults = f;
	faults_tail = f;
	*out = wh_fault_json(f);
	pthread_mutex_unlock(&wh_mu);
	return 0;

bad_kind:
	wh_fault_free(f);
	return spec_bad(err, errlen, "kind");
}

json_object *webhooks_faults_json(void)
{
	json_object *a = json_object_new_array();
	pthread_mutex_lock(&wh_mu);
	for (struct wh_fault *f = faults; f; f = f->next)
		json_object_array_add(a, wh_fault_json(f));
	pthread_mutex_unlock(&wh_mu);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "faults", a);
	return o;
}

/* disarms every webhook fault; events held out of order are sent now,
 * newest first */
void webhooks_faults_clear(void)
{
	pthread_mutex_lock(&wh_mu);
	while (faults) {
		struct wh_fault *f = faults;
		if (f->held)
			release_held(f);
		else {
			fault_unlink(f);
			wh_fault_free(f);
		}
	}
	pthread_mutex_unlock(&wh_mu);
}

/* POST /_sandbox/webhooks/lie {payment_id, status}: 0, or the HTTP status
 * of the error in err */
int webhooks_lie(json_object *b, json_object **out, char *err, size_t errlen)
{
	json_object *v;
	const char *id = (v = member(b, "payment_id")) &&
		json_object_is_type(v, json_type_string) ?
		json_object_get_string(v) : NULL;
	const char *st = (v = member(b, "status")) &&
		json_object_is_type(v, json_type_string) ?
		json_object_get_string(v) : NULL;
	if (!id || !is_oid(id)) {
		spec_bad(err, errlen, "payment_id");
		return 400;
	}
	if (!status_word(st)) {
		spec_bad(err, errlen, "status");
		return 400;
	}
	int rc = 0;
	lock();
	struct payment *p = payment_find(id);
	if (!p) {
		snprintf(err, errlen, "%s", msg(MSG_CTL_NO_PAYMENT));
		rc = 404;
	} else if (strcmp(p->status, st) == 0) {
		snprintf(err, errlen, "%s", msg(MSG_CTL_WH_NOT_A_LIE));
		rc = 400;
	} else {
		char *body = event(p, st, now_ms(), true);
		if (!body) {
			snprintf(err, errlen, "%s", msg(MSG_CTL_WH_OFF));
			rc = 400;
		} else {
			json_object *o = json_object_new_object();
			json_object_object_add(o, "event",
					       json_tokener_parse(body));
			free(body);
			*out = o;
		}
	}
	unlock();
	return rc;
}
