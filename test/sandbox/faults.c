/*
 * Armed faults: POST /_sandbox/faults adds one, each matching API request
 * takes the first that matches and uses one of its count.
 */
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fault *faults, *faults_tail;
static long next_id = 1;
long g_faults_fired;

static const char *const kind_names[] = {
	[F_NONE] = "none",
	[F_DELAY] = "delay",
	[F_STATUS] = "status",
	[F_HTML] = "html",
	[F_TRUNCATE] = "truncate",
	[F_SIZE] = "size",
	[F_RESET] = "reset",
	[F_TRICKLE] = "trickle",
	[F_HANG] = "hang",
	[F_AFTER_STATUS] = "after_status",
	[F_AFTER_DROP] = "after_drop",
	[F_AFTER_HANG] = "after_hang",
	[F_TIMEOUT503] = "timeout503",
};

static enum fault_kind kind_lookup(const char *s)
{
	for (int k = F_DELAY; k <= F_TIMEOUT503; k++)
		if (strcmp(s, kind_names[k]) == 0)
			return (enum fault_kind)k;
	return F_NONE;
}

static void fault_free(struct fault *f)
{
	free(f->body);
	free(f->content_type);
	free(f);
}

void fault_copy_free(struct fault *f)
{
	free(f->body);
	free(f->content_type);
	f->body = f->content_type = NULL;
}

/* integer parameter: 0 ok (or absent: *out = dflt), -1 bad */
static int get_long(json_object *o, const char *k, long lo, long hi,
		    long dflt, long *out)
{
	json_object *v;
	*out = dflt;
	if (!json_object_object_get_ex(o, k, &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	int64_t n = json_object_get_int64(v);
	if (n < lo || n > hi)
		return -1;
	*out = (long)n;
	return 0;
}

static int get_string(json_object *o, const char *k, char **out)
{
	json_object *v;
	*out = NULL;
	if (!json_object_object_get_ex(o, k, &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*out = xstrdup(json_object_get_string(v));
	return 0;
}

static json_object *fault_json(const struct fault *f)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(f->id));
	json_object_object_add(o, "kind",
			       json_object_new_string(kind_names[f->kind]));
	json_object_object_add(o, "remaining",
			       json_object_new_int64(f->remaining));
	json_object_object_add(o, "route", f->route == R_NONE ? NULL :
			       json_object_new_string(route_name(f->route)));
	json_object_object_add(o, "payment_id", jstr_or_null(f->payment_id));
	switch (f->kind) {
	case F_DELAY:
	case F_HANG:
	case F_AFTER_HANG:
		json_object_object_add(o, "ms", json_object_new_int64(f->ms));
		break;
	case F_STATUS:
	case F_AFTER_STATUS:
		json_object_object_add(o, "status",
				       json_object_new_int(f->status));
		json_object_object_add(o, "body", jstr_or_null(f->body));
		json_object_object_add(o, "content_type",
				       jstr_or_null(f->content_type));
		break;
	case F_HTML:
		json_object_object_add(o, "status",
				       json_object_new_int(f->status));
		break;
	case F_TRUNCATE:
	case F_SIZE:
	case F_RESET:
		json_object_object_add(o, "bytes", f->bytes < 0 ? NULL :
				       json_object_new_int64(f->bytes));
		break;
	case F_TRICKLE:
		json_object_object_add(o, "ms", json_object_new_int64(f->ms));
		json_object_object_add(o, "chunk",
				       json_object_new_int64(f->chunk));
		break;
	default:
		break;
	}
	return o;
}

#define BAD(field)                                               \
	do {                                                     \
		snprintf(err, errlen, msg(MSG_CTL_BAD_FIELD), field); \
		fault_free(f);                                   \
		return -1;                                       \
	} while (0)

int fault_arm(json_object *spec, json_object **out, char *err, size_t errlen)
{
	json_object *v;
	struct fault *f = xcalloc(1, sizeof *f);
	long n;

	if (!json_object_object_get_ex(spec, "kind", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    (f->kind = kind_lookup(json_object_get_string(v))) == F_NONE)
		BAD("kind");
	if (get_long(spec, "count", 1, 1L << 40, 1, &f->remaining) < 0)
		BAD("count");
	f->route = R_NONE;
	if (json_object_object_get_ex(spec, "route", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string))
			BAD("route");
		const char *r = json_object_get_string(v);
		while (*r == '/')
			r++;
		if (strncmp(r, "v2/", 3) == 0)
			r += 3;
		if (strncmp(r, "sandbox/", 8) == 0)
			r += 8;
		if ((f->route = route_lookup(r)) == R_NONE)
			BAD("route");
	}
	if (json_object_object_get_ex(spec, "payment_id", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string) ||
		    !is_oid(json_object_get_string(v)))
			BAD("payment_id");
		memcpy(f->payment_id, json_object_get_string(v), OID_LEN + 1);
	}

	long dflt_ms = 0, dflt_status = 500;
	if (f->kind == F_HANG || f->kind == F_AFTER_HANG)
		dflt_ms = 600000;
	else if (f->kind == F_DELAY)
		dflt_ms = 1000;
	else if (f->kind == F_TRICKLE)
		dflt_ms = 100;
	if (f->kind == F_HTML)
		dflt_status = 502;
	if (get_long(spec, "ms", 0, 86400000L, dflt_ms, &f->ms) < 0)
		BAD("ms");
	if (get_long(spec, "status", 100, 599, dflt_status, &n) < 0)
		BAD("status");
	f->status = (int)n;
	if (get_string(spec, "body", &f->body) < 0)
		BAD("body");
	if (get_string(spec, "content_type", &f->content_type) < 0)
		BAD("content_type");
	if (get_long(spec, "bytes", 0, 1L << 30, -1, &f->bytes) < 0)
		BAD("bytes");
	if (f->kind == F_SIZE && f->bytes < 0)
		BAD("bytes");
	if (get_long(spec, "chunk", 1, 1L << 20, 1, &f->chunk) < 0)
		BAD("chunk");

	lock();
	f->id = next_id++;
	if (faults_tail)
		faults_tail->next = f;
	else
		faults = f;
	faults_tail = f;
	*out = fault_json(f);
	unlock();
	return 0;
}

bool fault_take(int route, const char *payment_id, struct fault *copy)
{
	bool hit = false;
	lock();
	struct fault *prev = NULL;
	for (struct fault *f = faults; f; prev = f, f = f->next) {
		if (f->route != R_NONE && f->route != route)
			continue;
		if (*f->payment_id &&
		    (!payment_id || strcmp(f->payment_id, payment_id) != 0))
			continue;
		*copy = *f;
		copy->next = NULL;
		copy->body = f->body ? xstrdup(f->body) : NULL;
		copy->content_type =
			f->content_type ? xstrdup(f->content_type) : NULL;
		g_faults_fired++;
		if (--f->remaining <= 0) {
			if (prev)
				prev->next = f->next;
			else
				faults = f->next;
			if (faults_tail == f)
				faults_tail = prev;
			fault_free(f);
		}
		hit = true;
		break;
	}
	unlock();
	return hit;
}

json_object *faults_list(void)
{
	json_object *arr = json_object_new_array();
	lock();
	for (struct fault *f = faults; f; f = f->next)
		json_object_array_add(arr, fault_json(f));
	unlock();
	json_object *o = json_object_new_object();
	json_object_object_add(o, "faults", arr);
	return o;
}

void faults_clear(void)
{
	struct fault *f = faults, *nx;
	for (; f; f = nx) {
		nx = f->next;
		fault_free(f);
	}
	faults = faults_tail = NULL;
}
