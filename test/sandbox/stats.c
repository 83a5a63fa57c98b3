/*
 * Counters (GET /_sandbox/counters), the per-key rate-limit windows and the
 * Idempotency-Key store. Functions marked "locked" expect g_lock held.
 */
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATHS 10000

/* -------------------------------------------------------------- counters */

struct pathc {
	size_t n;
	int *status;
	uint64_t *count;
};

struct refc {
	uint64_t count;
	int64_t total;
	size_t n, cap;
	int64_t *amounts;
};

static struct smap requests, refunds;
static uint64_t connections, replays;

static void pathc_free(void *v)
{
	struct pathc *p = v;
	free(p->status);
	free(p->count);
	free(p);
}

static void refc_free(void *v)
{
	struct refc *r = v;
	free(r->amounts);
	free(r);
}

void counters_connection(void)
{
	__atomic_add_fetch(&connections, 1, __ATOMIC_RELAXED);
}

void counters_request(const char *path, int status)
{
	lock();
	struct pathc *p = smap_get(&requests, path);
	if (!p) {
		if (requests.n >= MAX_PATHS)
			path = "(other)";
		p = smap_get(&requests, path);
	}
	if (!p) {
		p = xcalloc(1, sizeof *p);
		smap_put(&requests, path, p);
	}
	size_t i;
	for (i = 0; i < p->n; i++)
		if (p->status[i] == status)
			break;
	if (i == p->n) {
		p->status = xrealloc(p->status, (p->n + 1) * sizeof *p->status);
		p->count = xrealloc(p->count, (p->n + 1) * sizeof *p->count);
		p->status[i] = status;
		p->count[i] = 0;
		p->n++;
	}
	p->count[i]++;
	unlock();
}

void counters_refund(const char *payment_id, int64_t amount)
{
	struct refc *r = smap_get(&refunds, payment_id);
	if (!r) {
		r = xcalloc(1, sizeof *r);
		smap_put(&refunds, payment_id, r);
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 4;
		r->amounts = xrealloc(r->amounts, r->cap * sizeof *r->amounts);
	}
	r->amounts[r->n++] = amount;
	r->count++;
	r->total += amount;
}

void counters_replay(void)
{
	replays++;
}

json_object *counters_json(void)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "connections", json_object_new_int64(
		(int64_t)__atomic_load_n(&connections, __ATOMIC_RELAXED)));
	json_object *rq = json_object_new_object();
	for (struct smap_ent *e = requests.ohead; e; e = e->onext) {
		struct pathc *p = e->val;
		json_object *s = json_object_new_object();
		for (size_t i = 0; i < p->n; i++) {
			char k[16];
			snprintf(k, sizeof k, "%d", p->status[i]);
			json_object_object_add(s, k, json_object_new_int64(
				(int64_t)p->count[i]));
		}
		json_object_object_add(rq, e->key, s);
	}
	json_object_object_add(o, "requests", rq);
	json_object *rf = json_object_new_object();
	for (struct smap_ent *e = refunds.ohead; e; e = e->onext) {
		struct refc *r = e->val;
		json_object *x = json_object_new_object();
		json_object_object_add(x, "count",
				       json_object_new_int64((int64_t)r->count));
		json_object_object_add(x, "total", json_object_new_int64(r->total));
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < r->n; i++)
			json_object_array_add(a, json_object_new_int64(r->amounts[i]));
		json_object_object_add(x, "amounts", a);
		json_object_object_add(rf, e->key, x);
	}
	json_object_object_add(o, "refunds", rf);
	json_object_object_add(o, "idempotent_replays",
			       json_object_new_int64((int64_t)replays));
	json_object_object_add(o, "faults_fired",
			       json_object_new_int64(g_faults_fired));
	json_object_object_add(o, "webhooks", webhooks_counters_json());
	return o;
}

void counters_clear(void)
{
	smap_clear(&requests, pathc_free);
	smap_clear(&refunds, refc_free);
	__atomic_store_n(&connections, 0, __ATOMIC_RELAXED);
	replays = 0;
	g_faults_fired = 0;
}

/* ------------------------------------------------------------ rate limit */

struct window {
	int64_t *ts;
	size_t cap, head, len;
};

static struct window *windows;	/* one per --key */

bool rate_allow(int key, int64_t now)
{
	long limit = g_set.rate_limit;
	if (limit <= 0)
		return true;
	if (!windows)
		windows = xcalloc(g_cfg.nkeys, sizeof *windows);
	struct window *w = &windows[key];
	while (w->len && w->ts[w->head] <= now - 60000) {
		w->head = (w->head + 1) % w->cap;
		w->len--;
	}
	if (w->len >= (size_t)limit)
		return false;
	if (w->len == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		int64_t *ts = xmalloc(cap * sizeof *ts);
		for (size_t i = 0; i < w->len; i++)
			ts[i] = w->ts[(w->head + i) % w->cap];
		free(w->ts);
		w->ts = ts;
		w->cap = cap;
		w->head = 0;
	}
	w->ts[(w->head + w->len) % w->cap] = now;
	w->len++;
	return true;
}

void rate_clear(void)
{
	if (!windows)
		return;
	for (size_t k = 0; k < g_cfg.nkeys; k++)
		free(windows[k].ts);
	free(windows);
	windows = NULL;
}

/* ----------------------------------------------------------- idempotency */

struct idem {
	bool done;
	uint64_t seq;
	char *path;
	char *body;
	size_t blen;
	struct resp r;
};

static struct smap idem;
static uint64_t idem_seq;

static void idem_free(void *v)
{
	struct idem *e = v;
	free(e->path);
	free(e->body);
	free(e->r.body);
	free(e);
}

static char *idem_key(const char *owner, const char *ikey)
{
	size_t n = strlen(owner) + strlen(ikey) + 2;
	char *k = xmalloc(n);
	snprintf(k, n, "%s:%s", owner, ikey);
	return k;
}

enum idem_result idem_claim(const char *owner, const char *ikey,
			    const char *path, const char *body, size_t blen,
			    uint64_t *seq, struct resp *out)
{
	char *k = idem_key(owner, ikey);
	struct idem *e = smap_get(&idem, k);
	enum idem_result res;
	if (!e) {
		e = xcalloc(1, sizeof *e);
		e->seq = *seq = ++idem_seq;
		e->path = xstrdup(path);
		e->body = xmalloc(blen + 1);
		memcpy(e->body, body ? body : "", blen);
		e->body[blen] = '\0';
		e->blen = blen;
		smap_put(&idem, k, e);
		res = IDEM_NEW;
	} else if (strcmp(e->path, path) != 0 || e->blen != blen ||
		   (blen && memcmp(e->body, body, blen) != 0)) {
		res = IDEM_MISMATCH;
	} else if (!e->done) {
		res = IDEM_IN_FLIGHT;
	} else {
		out->status = e->r.status;
		out->body = xmalloc(e->r.len + 1);
		memcpy(out->body, e->r.body, e->r.len + 1);
		out->len = e->r.len;
		out->ctype = e->r.ctype;
		res = IDEM_REPLAY;
	}
	free(k);
	return res;
}

void idem_store(const char *owner, const char *ikey, uint64_t seq,
		const struct resp *r)
{
	char *k = idem_key(owner, ikey);
	struct idem *e = smap_get(&idem, k);
	if (e && e->seq == seq && !e->done) {
		e->r.status = r->status;
		e->r.body = xmalloc(r->len + 1);
		memcpy(e->r.body, r->body, r->len);
		e->r.body[r->len] = '\0';
		e->r.len = r->len;
		e->r.ctype = r->ctype;
		e->done = true;
	}
	free(k);
}

void idem_release(const char *owner, const char *ikey, uint64_t seq)
{
	char *k = idem_key(owner, ikey);
	struct idem *e = smap_get(&idem, k);
	if (e && e->seq == seq && !e->done)
		idem_free(smap_del(&idem, k));
	free(k);
}

void idem_clear(void)
{
	smap_clear(&idem, idem_free);
}
