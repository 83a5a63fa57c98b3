/*
 * Calendar dates and the schedule object of recurring payments and links,
 * {interval, startDate, endDate} (API.md 5.4, 5.9 and 8.11).
 */
#include "sandbox.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int two(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* YYYY-MM-DD (or YYYY/MM/DD when slashes_too), a real calendar day from
 * 1900 on; out gets the YYYY-MM-DD form */
bool date_parse(const char *s, bool slashes_too, char out[11])
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
				     30, 31 };
	if (!s || strlen(s) != 10)
		return false;
	char sep = s[4];
	if (!(sep == '-' || (slashes_too && sep == '/')) || s[7] != sep)
		return false;
	int hi = two(s), lo = two(s + 2), m = two(s + 5), d = two(s + 8);
	if (hi < 0 || lo < 0 || m < 0 || d < 0)
		return false;
	int y = hi * 100 + lo;
	if (y < 1900 || m < 1 || m > 12 || d < 1)
		return false;
	if (d > mdays[m - 1] + (m == 2 && leap(y)))
		return false;
	snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
	return true;
}

void date_today(char out[11])
{
	time_t t = (time_t)(now_ms() / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char buf[32];
	snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday);
	snprintf(out, 11, "%.10s", buf);
}

/* Recurring payments and links: daily ... yearly; future payments (the
 * authorization docs): monthly, weekly, yearly */
bool interval_ok(const char *s, bool future_payments)
{
	static const char *const all[] = { "daily", "weekly", "monthly",
					   "quarterly", "yearly" };
	if (!s)
		return false;
	for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
		if (strcmp(s, all[i]) != 0)
			continue;
		return !future_payments ||
		       !(strcmp(s, "daily") == 0 || strcmp(s, "quarterly") == 0);
	}
	return false;
}

void date_order_error(const char *first, const char *second, char *err,
		      size_t errlen)
{
	snprintf(err, errlen, msg(MSG_DATE_ORDER), first, second);
}

static void bad(const char *prefix, const char *sub, char *err, size_t errlen)
{
	char name[64];
	if (sub)
		snprintf(name, sizeof name, "%s.%s", prefix, sub);
	else
		snprintf(name, sizeof name, "%s", prefix);
	snprintf(err, errlen, msg(MSG_INVALID_FIELD), name);
}

/* "" and null count as blank, like an absent key */
static int date_member(json_object *o, const char *k, char out[11])
{
	json_object *v;
	out[0] = '\0';
	if (!json_object_object_get_ex(o, k, &v) ||
	    json_object_is_type(v, json_type_null))
		return FA_ABSENT;
	if (!json_object_is_type(v, json_type_string))
		return FA_BAD;
	const char *s = json_object_get_string(v);
	if (!*s)
		return FA_ABSENT;
	return date_parse(s, false, out) ? FA_OK : FA_BAD;
}

/*
 * Reads o as {interval, startDate, endDate}. A blank startDate is today, a
 * blank endDate never stops (the docs: "If blank will default to today",
 * "If blank will not stop"); interval falls back to dflt_interval (NULL:
 * required). prefix names the object in messages ("schedule").
 */
int schedule_parse(json_object *o, const char *prefix,
		   const char *dflt_interval, struct schedule *s, char *err,
		   size_t errlen)
{
	json_object *v;
	memset(s, 0, sizeof *s);
	if (!o || !json_object_is_type(o, json_type_object)) {
		bad(prefix, NULL, err, errlen);
		return -1;
	}
	const char *iv = dflt_interval;
	if (json_object_object_get_ex(o, "interval", &v) &&
	    !json_object_is_type(v, json_type_null))
		iv = json_object_is_type(v, json_type_string) ?
			json_object_get_string(v) : NULL;
	if (!interval_ok(iv, false)) {
		bad(prefix, "interval", err, errlen);
		return -1;
	}
	snprintf(s->interval, sizeof s->interval, "%s", iv);
	int r = date_member(o, "startDate", s->start);
	if (r == FA_BAD) {
		bad(prefix, "startDate", err, errlen);
		return -1;
	}
	if (r == FA_ABSENT)
		date_today(s->start);
	if (date_member(o, "endDate", s->end) == FA_BAD) {
		bad(prefix, "endDate", err, errlen);
		return -1;
	}
	if (*s->end && strcmp(s->start, s->end) > 0) {
		char a[64], b[64];
		snprintf(a, sizeof a, "%s.startDate", prefix);
		snprintf(b, sizeof b, "%s.endDate", prefix);
		date_order_error(a, b, err, errlen);
		return -1;
	}
	s->set = true;
	return 0;
}

json_object *schedule_json(const struct schedule *s)
{
	if (!s->set)
		return NULL;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "interval", json_object_new_string(s->interval));
	json_object_object_add(o, "startDate", json_object_new_string(s->start));
	json_object_object_add(o, "endDate", jstr_or_null(s->end));
	return o;
}
