/*
 * Small helpers: time, ids, randomness, hashing, a string map, and a sleep
 * that shutdown can cut short.
 */
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void lock(void) { pthread_mutex_lock(&g_lock); }
void unlock(void) { pthread_mutex_unlock(&g_lock); }

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("okra-sandbox: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p) {
		fputs("okra-sandbox: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fputs("okra-sandbox: out of memory\n", stderr);
		abort();
	}
	return p;
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

char *json_dump(json_object *o)
{
	return xstrdup(json_object_to_json_string_ext(o,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* ------------------------------------------------------------------ time */

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void iso_time(int64_t ms, char out[32])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	char buf[96];
	snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	snprintf(out, 32, "%.31s", buf);
}

/* ------------------------------------------------------------ randomness */

uint64_t rnd64(void)
{
	static __thread uint64_t s;
	if (s == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^
		    (uint64_t)ts.tv_sec ^ ((uint64_t)(uintptr_t)&s << 16) ^
		    (uint64_t)getpid();
		if (s == 0)
			s = 0x2545f4914f6cdd1dULL;
	}
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return s * 0x2545f4914f6cdd1dULL;
}

uint64_t hash64(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	/* splitmix64 finaliser for better spread */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

/* ------------------------------------------------------------------- ids */

static uint64_t oid_process_rand;	/* 40 bits, fixed per process */
static uint32_t oid_counter;
static pthread_once_t oid_once = PTHREAD_ONCE_INIT;

static void oid_init(void)
{
	oid_process_rand = rnd64() & 0xffffffffffULL;
	oid_counter = (uint32_t)rnd64();
}

void new_oid(int64_t ms, char out[OID_LEN + 1])
{
	pthread_once(&oid_once, oid_init);
	uint32_t c = __atomic_add_fetch(&oid_counter, 1, __ATOMIC_RELAXED);
	snprintf(out, OID_LEN + 1, "%08x%010llx%06x",
		 (unsigned)(ms / 1000), (unsigned long long)oid_process_rand,
		 c & 0xffffffu);
}

void derived_oid(const char *seed, char out[OID_LEN + 1])
{
	size_t n = strlen(seed);
	uint64_t h1 = hash64(seed, n);
	char salted[512];
	snprintf(salted, sizeof salted, "okra-sandbox:%s", seed);
	uint64_t h2 = hash64(salted, strlen(salted));
	/* ObjectID-shaped: a plausible 2020 timestamp, then 16 hex */
	snprintf(out, OID_LEN + 1, "%08x%016llx",
		 (unsigned)(0x5f000000u + (unsigned)(h1 % 0x01000000u)),
		 (unsigned long long)(h2 ^ (h1 >> 24)));
}

void new_ref(char out[16])
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
	uint64_t r = rnd64(), r2 = rnd64();
	for (int i = 0; i < 15; i++) {
		unsigned v;
		if (i < 10) {
			v = r & 63;
			r >>= 6;
		} else {
			v = r2 & 63;
			r2 >>= 6;
		}
		out[i] = alpha[v];
	}
	out[15] = '\0';
}

bool is_oid(const char *s)
{
	if (!s)
		return false;
	size_t i;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		if (i >= OID_LEN || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return i == OID_LEN;
}

/* ------------------------------------------------------------- base64url */

char *b64url_decode(const char *s, size_t n, size_t *outlen)
{
	char *out = xmalloc(n * 3 / 4 + 4);
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int v;
		if (c >= 'A' && c <= 'Z') v = c - 'A';
		else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
		else if (c >= '0' && c <= '9') v = c - '0' + 52;
		else if (c == '-' || c == '+') v = 62;
		else if (c == '_' || c == '/') v = 63;
		else if (c == '=') break;
		else {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* ----------------------------------------------------------------- sleep */

/*
 * Sleeps that a stop can shorten. Once stopping, a hang ends at once (it
 * would end without a response anyway); any other sleep (latency, delay,
 * trickle) runs on so the in-flight response completes, but never past
 * the grace deadline.
 */
static pthread_mutex_t sleep_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cv;
static pthread_once_t sleep_once = PTHREAD_ONCE_INIT;
static bool stopping;
static struct timespec grace_end;

static void sleep_init(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&sleep_cv, &a);
	pthread_condattr_destroy(&a);
}

static void ts_add_ms(struct timespec *t, long ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static bool sleep_until(long ms, bool hang)
{
	pthread_once(&sleep_once, sleep_init);
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	ts_add_ms(&end, ms > 0 ? ms : 0);
	bool full = false;
	pthread_mutex_lock(&sleep_mu);
	for (;;) {
		struct timespec dl = end;
		if (stopping) {
			if (hang)
				break;
			if (ts_before(&grace_end, &dl))
				dl = grace_end;
		}
		if (pthread_cond_timedwait(&sleep_cv, &sleep_mu, &dl) != 0) {
			/* reached dl: the whole sleep, or the grace end */
			full = !ts_before(&dl, &end);
			break;
		}
	}
	pthread_mutex_unlock(&sleep_mu);
	return full;
}

bool sb_sleep_ms(long ms)
{
	return ms <= 0 ? true : sleep_until(ms, false);
}

bool sb_hang_ms(long ms)
{
	return ms <= 0 ? true : sleep_until(ms, true);
}

void sb_begin_stop(long grace_ms)
{
	pthread_once(&sleep_once, sleep_init);
	pthread_mutex_lock(&sleep_mu);
	clock_gettime(CLOCK_MONOTONIC, &grace_end);
	ts_add_ms(&grace_end, grace_ms);
	stopping = true;
	pthread_cond_broadcast(&sleep_cv);
	pthread_mutex_unlock(&sleep_mu);
}

/* ------------------------------------------------------------ string map */

static size_t smap_slot(const struct smap *m, const char *key)
{
	return hash64(key, strlen(key)) & (m->nb - 1);
}

void *smap_get(const struct smap *m, const char *key)
{
	if (!m->nb)
		return NULL;
	for (struct smap_ent *e = m->b[smap_slot(m, key)]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e->val;
	return NULL;
}

static void smap_grow(struct smap *m)
{
	size_t nb = m->nb ? m->nb * 2 : 64;
	struct smap_ent **b = xcalloc(nb, sizeof *b);
	for (size_t i = 0; i < m->nb; i++) {
		struct smap_ent *e = m->b[i], *nx;
		for (; e; e = nx) {
			nx = e->next;
			size_t s = hash64(e->key, strlen(e->key)) & (nb - 1);
			e->next = b[s];
			b[s] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

void smap_put(struct smap *m, const char *key, void *val)
{
	if (m->n + 1 > m->nb)
		smap_grow(m);
	struct smap_ent *e = xcalloc(1, sizeof *e);
	e->key = xstrdup(key);
	e->val = val;
	size_t s = smap_slot(m, key);
	e->next = m->b[s];
	m->b[s] = e;
	e->oprev = m->otail;
	if (m->otail)
		m->otail->onext = e;
	else
		m->ohead = e;
	m->otail = e;
	m->n++;
}

void *smap_del(struct smap *m, const char *key)
{
	if (!m->nb)
		return NULL;
	struct smap_ent **pp = &m->b[smap_slot(m, key)];
	for (; *pp; pp = &(*pp)->next) {
		struct smap_ent *e = *pp;
		if (strcmp(e->key, key) != 0)
			continue;
		*pp = e->next;
		if (e->oprev)
			e->oprev->onext = e->onext;
		else
			m->ohead = e->onext;
		if (e->onext)
			e->onext->oprev = e->oprev;
		else
			m->otail = e->oprev;
		void *v = e->val;
		free(e->key);
		free(e);
		m->n--;
		return v;
	}
	return NULL;
}

void smap_clear(struct smap *m, void (*freeval)(void *))
{
	struct smap_ent *e = m->ohead, *nx;
	for (; e; e = nx) {
		nx = e->onext;
		if (freeval)
			freeval(e->val);
		free(e->key);
		free(e);
	}
	free(m->b);
	memset(m, 0, sizeof *m);
}

/* Strict JSON; only whitespace may follow the value. NULL when invalid. */
json_object *json_parse_body(const char *s, size_t n)
{
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
				    JSON_TOKENER_ALLOW_TRAILING_CHARS);
	json_object *o = json_tokener_parse_ex(tok, s, (int)n);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	} else {
		for (size_t i = json_tokener_get_parse_end(tok); i < n; i++) {
			char c = s[i];
			if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
				json_object_put(o);
				o = NULL;
				break;
			}
		}
	}
	json_tokener_free(tok);
	return o;
}
