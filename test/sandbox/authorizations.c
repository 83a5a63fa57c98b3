/*
 * Authorizations for future and recurring payments: pay/authorization/
 * initiate, cancel, reauth, list and getByCustomer (Okra docs, "Future
 * payments"; SDKs), and the authorizations the control API and seeds make
 * in place of Okra's widget (API.md 5.10 and 8.13). Every function here
 * expects g_lock to be held.
 */
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ACCOUNTS 20

struct authorization *auth_find(const char *id)
{
	for (struct authorization *a = g_model.auths; a; a = a->next)
		if (strcmp(a->id, id) == 0)
			return a;
	return NULL;
}

void auth_free(struct authorization *a)
{
	free(a->accounts);
	free(a);
}

static bool has_account(const struct authorization *a, const char *acct)
{
	for (size_t i = 0; i < a->naccounts; i++)
		if (strcmp(a->accounts[i], acct) == 0)
			return true;
	return false;
}

void auth_cancel_by_customer(struct authorization *a, int64_t now)
{
	strcpy(a->status, "cancelled");
	strcpy(a->cancelled_by, "customer");
	a->disconnected_at = now;
	a->last_updated = now;
}

/* --------------------------------------------------- made by the widget */

/*
 * An authorization as the customer would give it in Okra's widget:
 * {customer, accounts: [ids], link?, id?, key?, env?, status?,
 * cancelled_by?}, from POST /_sandbox/authorizations or a seed.
 */
int auth_from_fields(json_object *o, struct authorization **out, char *err,
		     size_t errlen)
{
	char id[OID_LEN + 1];
	bool has_id, present;
	int key, env;
	json_object *v;
	if (spec_head(o, id, &has_id, &key, &env, err, errlen) < 0)
		return -1;
	if (has_id && auth_find(id)) {
		snprintf(err, errlen, "%s", msg(MSG_CTL_DUP_OBJECT));
		return -1;
	}
	const char *customer = spec_str(o, "customer", &present);
	if (!is_oid(customer))
		return spec_bad(err, errlen, "customer");
	size_t n;
	if (!json_object_object_get_ex(o, "accounts", &v) ||
	    !json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) == 0 || n > MAX_ACCOUNTS)
		return spec_bad(err, errlen, "accounts");
	for (size_t i = 0; i < n; i++) {
		json_object *x = json_object_array_get_idx(v, i);
		if (!json_object_is_type(x, json_type_string) ||
		    !is_oid(json_object_get_string(x)))
			return spec_bad(err, errlen, "accounts");
	}
	const char *link = spec_str(o, "link", &present);
	if (present && !is_oid(link))
		return spec_bad(err, errlen, "link");
	const char *status = spec_str(o, "status", &present);
	if (present && (!status || (strcmp(status, "active") != 0 &&
				    strcmp(status, "cancelled") != 0)))
		return spec_bad(err, errlen, "status");
	const char *by = spec_str(o, "cancelled_by", &present);
	if (present && (!status || strcmp(status, "cancelled") != 0 || !by ||
			(strcmp(by, "merchant") != 0 &&
			 strcmp(by, "customer") != 0)))
		return spec_bad(err, errlen, "cancelled_by");

	struct authorization *a = xcalloc(1, sizeof *a);
	a->created_at = a->last_updated = now_ms();
	if (has_id)
		memcpy(a->id, id, OID_LEN + 1);
	else
		new_oid(a->created_at, a->id);
	a->owner = g_model.key_owner[key];
	a->env = env;
	memcpy(a->customer, customer, OID_LEN + 1);
	a->accounts = xcalloc(n, sizeof *a->accounts);
	for (size_t i = 0; i < n; i++)
		memcpy(a->accounts[i],
		       json_object_get_string(json_object_array_get_idx(v, i)),
		       OID_LEN + 1);
	a->naccounts = n;
	if (link)
		memcpy(a->link, link, OID_LEN + 1);
	else
		new_oid(a->created_at, a->link);
	strcpy(a->status, "active");
	if (status && strcmp(status, "cancelled") == 0) {
		if (by && strcmp(by, "customer") == 0) {
			auth_cancel_by_customer(a, a->created_at);
		} else {
			strcpy(a->status, "cancelled");
			strcpy(a->cancelled_by, "merchant");
		}
	}
	LIST_APPEND(g_model.auths, g_model.auths_tail, a);
	if (out)
		*out = a;
	return 0;
}

/* ------------------------------------------------------------ endpoints */

/* a date as the docs write it (2021/05/21) or as YYYY-MM-DD */
static int api_date(const struct api_req *rq, const char *k, char out[11])
{
	const char *s;
	int r = api_str(rq, k, &s);
	if (r != FA_OK)
		return r;
	return date_parse(s, true, out) ? FA_OK : FA_BAD;
}

/* the caller's authorization named by "authorization"; NULL when answered */
static struct authorization *find_auth(const struct api_req *rq, int owner,
				       struct resp *out)
{
	const char *id;
	if (api_oid(rq, "authorization", &id) != FA_OK) {
		api_bad_field(out, "authorization");
		return NULL;
	}
	struct authorization *a = auth_find(id);
	if (!a || a->owner != owner) {
		api_fail(out, msg(MSG_AUTH_NOT_FOUND));
		return NULL;
	}
	return a;
}

void do_auth_initiate(const struct api_req *rq, int owner, struct resp *out)
{
	const char *id, *interval = NULL;
	int64_t amount, initial;
	char start[11], end[11] = "";
	bool one_time = false;
	if (api_oid(rq, "authorization", &id) != FA_OK) {
		api_bad_field(out, "authorization");
		return;
	}
	if (api_pos_int(rq, "amount", &amount) != FA_OK) {
		api_bad_field(out, "amount");
		return;
	}
	if (api_pos_int(rq, "initialAmount", &initial) != FA_OK) {
		api_bad_field(out, "initialAmount");
		return;
	}
	if (api_currency(rq) == FA_BAD) {
		api_bad_field(out, "currency");
		return;
	}
	if (api_date(rq, "startDate", start) != FA_OK) {
		api_bad_field(out, "startDate");
		return;
	}
	if (api_date(rq, "endDate", end) == FA_BAD) {
		api_bad_field(out, "endDate");
		return;
	}
	if (api_bool(rq, "oneTime", &one_time) == FA_BAD) {
		api_bad_field(out, "oneTime");
		return;
	}
	int ir = api_str(rq, "interval", &interval);
	if (ir == FA_BAD || (ir == FA_OK && !interval_ok(interval, true)) ||
	    (ir == FA_ABSENT && !one_time)) {
		api_bad_field(out, "interval");
		return;
	}
	if (*end && strcmp(start, end) > 0) {
		char err[160];
		date_order_error("startDate", "endDate", err, sizeof err);
		api_fail(out, err);
		return;
	}
	struct authorization *a = find_auth(rq, owner, out);
	if (!a)
		return;
	if (strcmp(a->status, "cancelled") == 0) {
		resp_error(out, 400, msg(MSG_AUTH_CANCELLED), "authorization",
			   shape_authorization(a));
		return;
	}
	a->initiated = true;
	a->amount = amount;
	a->initial_amount = initial;
	a->one_time = one_time;
	memcpy(a->start, start, sizeof a->start);
	memcpy(a->end, end, sizeof a->end);
	snprintf(a->interval, sizeof a->interval, "%s",
		 one_time ? "" : interval);
	a->last_updated = now_ms();

	char m[400];
	snprintf(m, sizeof m, msg(MSG_AUTH_INITIATE_OK), start,
		 (long long)initial, (long long)amount);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("success"));
	json_object_object_add(o, "message", json_object_new_string(m));
	json_object *d = json_object_new_object();
	json_object_object_add(d, "authorization", shape_authorization(a));
	json_object_object_add(o, "data", d);
	resp_set(out, 200, json_dump(o), NULL);
	json_object_put(o);
}

/* authorization, customer and link (and account, when need_account or
 * given) must all name the same authorization; NULL when answered */
static struct authorization *match_auth(const struct api_req *rq, int owner,
					bool need_account, struct resp *out)
{
	const char *customer, *link, *account = NULL;
	const char *id;
	if (api_oid(rq, "authorization", &id) != FA_OK) {
		api_bad_field(out, "authorization");
		return NULL;
	}
	if (api_oid(rq, "customer", &customer) != FA_OK) {
		api_bad_field(out, "customer");
		return NULL;
	}
	if (api_oid(rq, "link", &link) != FA_OK) {
		api_bad_field(out, "link");
		return NULL;
	}
	int ar = api_oid(rq, "account", &account);
	if (ar == FA_BAD || (ar == FA_ABSENT && need_account)) {
		api_bad_field(out, "account");
		return NULL;
	}
	struct authorization *a = find_auth(rq, owner, out);
	if (!a)
		return NULL;
	if (strcmp(a->customer, customer) != 0 || strcmp(a->link, link) != 0 ||
	    (account && !has_account(a, account))) {
		api_fail(out, msg(MSG_AUTH_NOT_FOUND));
		return NULL;
	}
	return a;
}

void do_auth_cancel(const struct api_req *rq, int owner, struct resp *out)
{
	struct authorization *a = match_auth(rq, owner, false, out);
	if (!a)
		return;
	if (strcmp(a->status, "cancelled") == 0) {
		resp_error(out, 400, msg(MSG_AUTH_CANCELLED), "authorization",
			   shape_authorization(a));
		return;
	}
	strcpy(a->status, "cancelled");
	strcpy(a->cancelled_by, "merchant");
	a->last_updated = now_ms();
	api_data1(out, MSG_AUTH_CANCEL_OK, "authorization",
		  shape_authorization(a));
}

void do_auth_reauth(const struct api_req *rq, int owner, struct resp *out)
{
	struct authorization *a = match_auth(rq, owner, true, out);
	if (!a)
		return;
	if (strcmp(a->status, "cancelled") != 0) {
		resp_error(out, 400, msg(MSG_AUTH_NOT_CANCELLED),
			   "authorization", shape_authorization(a));
		return;
	}
	if (strcmp(a->cancelled_by, "customer") == 0) {
		resp_error(out, 400, msg(MSG_AUTH_BY_CUSTOMER), "authorization",
			   shape_authorization(a));
		return;
	}
	strcpy(a->status, "active");
	a->cancelled_by[0] = '\0';
	a->last_updated = now_ms();
	api_data1(out, MSG_AUTH_REAUTH_OK, "authorization",
		  shape_authorization(a));
}

static json_object *shape_listed(const void *a)
{
	return shape_authorization(a);
}

/* the owner's authorizations (of one customer, when customer is given),
 * paged like pay/list */
static void auth_page(const struct api_req *rq, int owner,
		      const char *customer, struct resp *out)
{
	int64_t page, limit;
	if (!api_paging(rq, &page, &limit, out))
		return;
	size_t n = 0, cap = 16;
	const void **mine = xcalloc(cap, sizeof *mine);
	for (struct authorization *a = g_model.auths; a; a = a->next) {
		if (a->owner != owner ||
		    (customer && strcmp(a->customer, customer) != 0))
			continue;
		if (n == cap)
			mine = xrealloc(mine, (cap *= 2) * sizeof *mine);
		mine[n++] = a;
	}
	api_page(out, MSG_AUTH_LIST_OK, "authorizations", mine, n, page, limit,
		 shape_listed);
	free(mine);
}

void do_auth_list(const struct api_req *rq, int owner, struct resp *out)
{
	auth_page(rq, owner, NULL, out);
}

void do_auth_by_customer(const struct api_req *rq, int owner,
			 struct resp *out)
{
	const char *customer;
	if (api_oid(rq, "customer", &customer) != FA_OK) {
		api_bad_field(out, "customer");
		return;
	}
	auth_page(rq, owner, customer, out);
}
