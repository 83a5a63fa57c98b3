/*
 * Payment links: pay/link/create (Okra docs, "Payment links" and the API
 * reference), payments made through a link (the control API), and seeded
 * links (API.md 5.9 and 8.11). Every function here expects g_lock held.
 */
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct link *link_find(const char *id)
{
	for (struct link *l = g_model.links; l; l = l->next)
		if (strcmp(l->id, id) == 0)
			return l;
	return NULL;
}

static bool short_taken(const char *code)
{
	for (struct link *l = g_model.links; l; l = l->next)
		if (strcmp(l->short_code, code) == 0)
			return true;
	return false;
}

/* six characters of [a-z0-9], unused so far (the docs' example: "wyred") */
static void new_short_code(char out[16])
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	do {
		uint64_t r = rnd64();
		for (int i = 0; i < 6; i++) {
			out[i] = alpha[r % 36];
			r /= 36;
		}
		out[6] = '\0';
	} while (short_taken(out));
}

static bool short_code_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 15)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int fail_field(char *err, size_t errlen, const char *field)
{
	snprintf(err, errlen, msg(MSG_INVALID_FIELD), field);
	return -1;
}

/* countries: "NG" or a non-empty array of "NG" (the only one listed) */
static bool countries_ok(json_object *v)
{
	if (json_object_is_type(v, json_type_string))
		return strcmp(json_object_get_string(v), "NG") == 0;
	if (!json_object_is_type(v, json_type_array) ||
	    json_object_array_length(v) == 0)
		return false;
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		json_object *c = json_object_array_get_idx(v, i);
		if (!json_object_is_type(c, json_type_string) ||
		    strcmp(json_object_get_string(c), "NG") != 0)
			return false;
	}
	return true;
}

/*
 * The request fields of pay/link/create into *l (name and note point into
 * the body). -1 with an Okra-style message in err.
 */
static int link_parse(const struct api_req *rq, int owner, struct link *l,
		      char *err, size_t errlen)
{
	static const char *const texts[] = {
		"logo", "color", "support_email", "success_url",
		"callback_url", "continue_cta",
	};
	const char *s;
	json_object *v;
	memset(l, 0, sizeof *l);

	if (api_str(rq, "name", &s) != FA_OK || !*s)
		return fail_field(err, errlen, "name");
	l->name = (char *)s;
	/* amount is required, and null lets the payer choose */
	if (!json_object_object_get_ex(rq->body, "amount", &v))
		return fail_field(err, errlen, "amount");
	if (!json_object_is_type(v, json_type_null) &&
	    (api_pos_int(rq, "amount", &l->amount) != FA_OK ||
	     l->amount < 100))
		return fail_field(err, errlen, "amount");
	if (api_currency(rq) == FA_BAD)
		return fail_field(err, errlen, "currency");
	strcpy(l->currency, "NGN");
	int r = api_str(rq, "note", &s);
	if (r == FA_BAD)
		return fail_field(err, errlen, "note");
	l->note = r == FA_OK ? (char *)s : NULL;
	if ((v = api_field(rq, "countries")) && !countries_ok(v))
		return fail_field(err, errlen, "countries");
	r = api_oid(rq, "account", &s);
	if (r == FA_BAD)
		return fail_field(err, errlen, "account");
	if (r == FA_OK)
		memcpy(l->account, s, OID_LEN + 1);
	else
		owner_business_account(owner, l->account);
	if (!api_type(rq, l->type, err, errlen) ||
	    !api_schedule(rq, strcmp(l->type, "recurring") == 0, "monthly",
			  &l->sched, err, errlen))
		return -1;
	if (api_bool(rq, "data", &l->data) == FA_BAD)
		return fail_field(err, errlen, "data");
	if ((v = api_field(rq, "filter")) &&
	    !json_object_is_type(v, json_type_object))
		return fail_field(err, errlen, "filter");
	for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
		if (api_str(rq, texts[i], &s) == FA_BAD)
			return fail_field(err, errlen, texts[i]);
	l->owner = owner;
	l->env = rq->env;
	return 0;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* the API reference: a second request "with the same payment details"
 * returns the first link (API.md 5.9) */
static struct link *same_link(const struct link *want)
{
	for (struct link *l = g_model.links; l; l = l->next)
		if (l->owner == want->owner && l->env == want->env &&
		    strcmp(l->name, want->name) == 0 &&
		    l->amount == want->amount &&
		    same_str(l->note, want->note) &&
		    strcmp(l->account, want->account) == 0 &&
		    strcmp(l->type, want->type) == 0 &&
		    memcmp(&l->sched, &want->sched, sizeof l->sched) == 0 &&
		    l->data == want->data)
			return l;
	return NULL;
}

/* stores a copy of the parsed *tmpl under id (NULL: a new one) */
static struct link *link_store(const struct link *tmpl, const char *id,
			       const char *short_code)
{
	struct link *l = xcalloc(1, sizeof *l);
	*l = *tmpl;
	l->next = NULL;
	l->name = xstrdup(tmpl->name);
	l->note = tmpl->note ? xstrdup(tmpl->note) : NULL;
	l->created_at = l->last_updated = now_ms();
	if (id)
		memcpy(l->id, id, OID_LEN + 1);
	else
		new_oid(l->created_at, l->id);
	if (short_code)
		snprintf(l->short_code, sizeof l->short_code, "%s", short_code);
	else
		new_short_code(l->short_code);
	LIST_APPEND(g_model.links, g_model.links_tail, l);
	return l;
}

void do_link_create(const struct api_req *rq, int owner, struct resp *out)
{
	struct link want;
	char err[200];
	if (link_parse(rq, owner, &want, err, sizeof err) < 0) {
		api_fail(out, err);
		return;
	}
	struct link *l = same_link(&want);
	if (!l)
		l = link_store(&want, NULL, NULL);
	api_success(out, MSG_LINK_OK, shape_link(l));
}

/*
 * A seeded link: pay/link/create's fields, plus id?, short_url?, key? and
 * env?. Messages are the API's.
 */
int link_from_fields(json_object *o, char *err, size_t errlen)
{
	char id[OID_LEN + 1];
	bool has_id, present;
	int key, env;
	if (spec_head(o, id, &has_id, &key, &env, err, errlen) < 0)
		return -1;
	if (has_id && link_find(id)) {
		snprintf(err, errlen, "%s", msg(MSG_CTL_DUP_OBJECT));
		return -1;
	}
	const char *code = spec_str(o, "short_url", &present);
	if (present && (!code || !short_code_ok(code) || short_taken(code)))
		return fail_field(err, errlen, "short_url");
	struct api_req rq = {
		.route = R_LINK_CREATE, .env = env, .key = key, .body = o,
	};
	struct link want;
	if (link_parse(&rq, g_model.key_owner[key], &want, err, errlen) < 0)
		return -1;
	link_store(&want, has_id ? id : NULL, code);
	return 0;
}

/*
 * POST /_sandbox/links/<id>/pay: a payment made through the link, with
 * pay_spec's fields (amount required when the link leaves it open) and an
 * optional debit account.
 */
int link_pay(struct link *l, json_object *o, struct payment **out,
	     char *err, size_t errlen)
{
	struct pay_spec s;
	bool present;
	if (pay_spec_parse(o, false, &s, err, errlen) < 0)
		return -1;
	if (l->amount) {
		if (s.amount && s.amount != l->amount) {
			snprintf(err, errlen, "%s", msg(MSG_CTL_LINK_AMOUNT));
			return -1;
		}
		s.amount = l->amount;
	} else if (!s.amount) {
		return spec_bad(err, errlen, "amount");
	}
	const char *debit = spec_str(o, "account", &present);
	if (present && !is_oid(debit))
		return spec_bad(err, errlen, "account");
	s.env = l->env;
	struct payment *p = payment_from_spec(&s, l->owner);
	p->source = "link";
	p->link = l;
	memcpy(p->credit_account, l->account, OID_LEN + 1);
	if (debit)
		memcpy(p->debit_account, debit, OID_LEN + 1);
	memcpy(p->type, l->type, sizeof p->type);
	p->sched = l->sched;
	l->count++;
	l->last_updated = p->created_at;
	webhook_status_change(p, p->created_at);	/* the customer paid */
	*out = p;
	return 0;
}
