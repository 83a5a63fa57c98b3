/*
 * The Okra endpoints on payments (verify, cancel, refund, initiate, get,
 * list, by customer), the route table, and the field and answer helpers
 * the other endpoint files share (payouts.c, links.c, authorizations.c,
 * bulk.c). See API.md sections 5 and 8.
 */
#include "sandbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CT_JSON = "application/json; charset=utf-8";

static const struct {
	const char *name;
	enum msg_id ok;
} routes[R_COUNT] = {
	[R_VERIFY] = { "pay/verify", MSG_VERIFY_OK },
	[R_CANCEL] = { "pay/cancel", MSG_CANCEL_OK },
	[R_REFUND] = { "pay/refund", MSG_REFUND_OK },
	[R_INITIATE] = { "pay/initiate", MSG_INITIATE_OK },
	[R_GET] = { "pay/get/id", MSG_GET_OK },
	[R_LIST] = { "pay/list", MSG_LIST_OK },
	[R_PAYOUT] = { "pay/payout", MSG_PAYOUT_OK },
	[R_PAYOUT_GET] = { "pay/payout/get", MSG_PAYOUT_GET_OK },
	[R_BY_CUSTOMER] = { "pay/get/", MSG_LIST_OK },
	[R_LINK_CREATE] = { "pay/link/create", MSG_LINK_OK },
	[R_AUTH_INITIATE] = { "pay/authorization/initiate",
			      MSG_AUTH_INITIATE_OK },
	[R_AUTH_CANCEL] = { "pay/authorization/cancel", MSG_AUTH_CANCEL_OK },
	[R_AUTH_REAUTH] = { "pay/authorization/reauth", MSG_AUTH_REAUTH_OK },
	[R_AUTH_LIST] = { "pay/authorization/list", MSG_AUTH_LIST_OK },
	[R_AUTH_BY_CUSTOMER] = { "pay/authorization/getByCustomer",
				 MSG_AUTH_LIST_OK },
	[R_BULK] = { "bulkfiles/initiate", MSG_BULK_OK },
};

const char *route_name(int r)
{
	return r >= 0 && r < R_COUNT ? routes[r].name : NULL;
}

enum msg_id route_ok_msg(int r)
{
	return r >= 0 && r < R_COUNT ? routes[r].ok : MSG_SERVER_ERROR;
}

int route_lookup(const char *name)
{
	for (int r = 0; r < R_COUNT; r++)
		if (strcmp(name, routes[r].name) == 0)
			return r;
	if (strcmp(name, "pay/get/Id") == 0)
		return R_GET;
	if (strcmp(name, "pay/get") == 0)
		return R_BY_CUSTOMER;
	return R_NONE;
}

/* ------------------------------------------------------------ responses */

void resp_set(struct resp *out, int status, char *body, const char *ctype)
{
	out->status = status;
	out->body = body;
	out->len = strlen(body);
	out->ctype = ctype ? ctype : CT_JSON;
}

void resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

void resp_error(struct resp *out, int status, const char *message,
		const char *data_key, json_object *data)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("error"));
	json_object_object_add(o, "message", json_object_new_string(message));
	if (data_key) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, data_key, data);
		json_object_object_add(o, "data", d);
	}
	resp_set(out, status, json_dump(o), NULL);
	json_object_put(o);
}

void api_success(struct resp *out, enum msg_id m, json_object *data)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("success"));
	json_object_object_add(o, "message", json_object_new_string(msg(m)));
	json_object_object_add(o, "data", data);
	resp_set(out, 200, json_dump(o), NULL);
	json_object_put(o);
}

void api_data1(struct resp *out, enum msg_id m, const char *k,
	       json_object *v)
{
	json_object *d = json_object_new_object();
	json_object_object_add(d, k, v);
	api_success(out, m, d);
}

void api_fail(struct resp *out, const char *message)
{
	resp_error(out, 400, message, NULL, NULL);
}

void api_bad_field(struct resp *out, const char *field)
{
	char buf[160];
	snprintf(buf, sizeof buf, msg(MSG_INVALID_FIELD), field);
	api_fail(out, buf);
}

/* ---------------------------------------------------------------- fields */

json_object *api_field(const struct api_req *rq, const char *k)
{
	json_object *v;
	if (!json_object_object_get_ex(rq->body, k, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

int api_str(const struct api_req *rq, const char *k, const char **out)
{
	json_object *v = api_field(rq, k);
	if (!v)
		return FA_ABSENT;
	if (!json_object_is_type(v, json_type_string))
		return FA_BAD;
	*out = json_object_get_string(v);
	return FA_OK;
}

int api_oid(const struct api_req *rq, const char *k, const char **out)
{
	int r = api_str(rq, k, out);
	if (r == FA_OK && !is_oid(*out))
		return FA_BAD;
	return r;
}

/* positive integer; form bodies carry it as a decimal string */
int api_pos_int(const struct api_req *rq, const char *k, int64_t *out)
{
	json_object *v = api_field(rq, k);
	if (!v)
		return FA_ABSENT;
	if (json_object_is_type(v, json_type_int)) {
		errno = 0;
		*out = json_object_get_int64(v);
		return *out > 0 && *out <= MAX_KOBO ? FA_OK : FA_BAD;
	}
	if (rq->form && json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		char *end;
		if (*s < '0' || *s > '9')
			return FA_BAD;
		errno = 0;
		long long n = strtoll(s, &end, 10);
		if (errno || *end || n <= 0 || n > MAX_KOBO)
			return FA_BAD;
		*out = n;
		return FA_OK;
	}
	return FA_BAD;
}

/* true or false; form bodies carry it as text */
int api_bool(const struct api_req *rq, const char *k, bool *out)
{
	json_object *v = api_field(rq, k);
	if (!v)
		return FA_ABSENT;
	if (json_object_is_type(v, json_type_boolean)) {
		*out = json_object_get_boolean(v);
		return FA_OK;
	}
	if (rq->form && json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
			*out = s[0] == 't';
			return FA_OK;
		}
	}
	return FA_BAD;
}

/* currency: absent means NGN, the only one accepted */
int api_currency(const struct api_req *rq)
{
	const char *cur;
	int r = api_str(rq, "currency", &cur);
	if (r == FA_OK && strcmp(cur, "NGN") != 0)
		return FA_BAD;
	return r;
}

/* ---------------------------------------------------------------- paging */

/* page >= 1 (default 1), limit >= 1 (default 20, more than 100 is 100) */
bool api_paging(const struct api_req *rq, int64_t *page, int64_t *limit,
		struct resp *out)
{
	*page = 1;
	*limit = 20;
	if (api_pos_int(rq, "page", page) == FA_BAD) {
		api_bad_field(out, "page");
		return false;
	}
	if (api_pos_int(rq, "limit", limit) == FA_BAD) {
		api_bad_field(out, "limit");
		return false;
	}
	if (*limit > 100)
		*limit = 100;
	return true;
}

/* mongoose-paginate's pagination object (API.md 5.6) */
static json_object *pagination(int64_t total, int64_t page, int64_t limit)
{
	int64_t pages = total ? (total + limit - 1) / limit : 1;
	json_object *pg = json_object_new_object();
	json_object_object_add(pg, "totalDocs", json_object_new_int64(total));
	json_object_object_add(pg, "limit", json_object_new_int64(limit));
	json_object_object_add(pg, "hasPrevPage",
			       json_object_new_boolean(page > 1));
	json_object_object_add(pg, "hasNextPage",
			       json_object_new_boolean(page < pages));
	json_object_object_add(pg, "page", json_object_new_int64(page));
	json_object_object_add(pg, "totalPages", json_object_new_int64(pages));
	json_object_object_add(pg, "pagingCounter",
			       json_object_new_int64((page - 1) * limit + 1));
	json_object_object_add(pg, "prevPage", page > 1 ?
			       json_object_new_int64(page - 1) : NULL);
	json_object_object_add(pg, "nextPage", page < pages ?
			       json_object_new_int64(page + 1) : NULL);
	return pg;
}

void api_page(struct resp *out, enum msg_id m, const char *key,
	      const void *const *items, size_t n, int64_t page, int64_t limit,
	      json_object *(*shape)(const void *item))
{
	int64_t total = (int64_t)n;
	int64_t skip = (page - 1) * limit;	/* page, limit <= 10^15, 100 */
	json_object *arr = json_object_new_array();
	for (int64_t i = total - 1 - skip; i >= 0 && i > total - 1 - skip - limit;
	     i--)
		json_object_array_add(arr, shape(items[i]));
	json_object *d = json_object_new_object();
	json_object_object_add(d, key, arr);
	json_object_object_add(d, "pagination", pagination(total, page, limit));
	api_success(out, m, d);
}

/* payment_id, then existence and ownership; NULL when answered */
static struct payment *find_payment(const struct api_req *rq, int owner,
				    struct resp *out)
{
	const char *id;
	if (api_oid(rq, "payment_id", &id) != FA_OK) {
		api_bad_field(out, "payment_id");
		return NULL;
	}
	struct payment *p = payment_find(id);
	if (!p || p->owner != owner) {
		api_fail(out, msg(MSG_NOT_FOUND));
		return NULL;
	}
	return p;
}

/* ------------------------------------------------------------- endpoints */

static void do_verify(const struct api_req *rq, int owner, struct resp *out)
{
	struct payment *p = find_payment(rq, owner, out);
	if (p)
		api_data1(out, MSG_VERIFY_OK, "payment_status", shape_verify(p));
}

static void do_get(const struct api_req *rq, int owner, struct resp *out)
{
	struct payment *p = find_payment(rq, owner, out);
	if (p)
		api_data1(out, MSG_GET_OK, "payment", shape_payment(p, true));
}

static void do_cancel(const struct api_req *rq, int owner, struct resp *out)
{
	struct payment *p = find_payment(rq, owner, out);
	if (!p)
		return;
	if (p->refund_of || !(strcmp(p->status, "initialize") == 0 ||
			      strcmp(p->status, "initialized") == 0 ||
			      strcmp(p->status, "pending") == 0)) {
		resp_error(out, 400, msg(MSG_NOT_CANCELLABLE), "payment",
			   shape_payment(p, true));
		return;
	}
	payment_set_status(p, "cancelled", NULL, now_ms());
	api_data1(out, MSG_CANCEL_OK, "payment", shape_payment(p, true));
}

static json_object *shape_listed(const void *p)
{
	return shape_payment(p, true);
}

static void do_list(const struct api_req *rq, int owner, struct resp *out)
{
	int64_t page, limit;
	if (!api_paging(rq, &page, &limit, out))
		return;
	struct owner *o = &g_model.owners[owner];
	api_page(out, MSG_LIST_OK, "payments", (const void *const *)o->pays,
		 o->npays, page, limit, shape_listed);
}

/* pay/get/ (and pay/get): one customer's payments, paged like pay/list */
static void do_by_customer(const struct api_req *rq, int owner,
			   struct resp *out)
{
	const char *cust;
	int64_t page, limit;
	if (api_oid(rq, "customer_id", &cust) != FA_OK) {
		api_bad_field(out, "customer_id");
		return;
	}
	if (!api_paging(rq, &page, &limit, out))
		return;
	struct owner *o = &g_model.owners[owner];
	const void **mine = xcalloc(o->npays, sizeof *mine);
	size_t n = 0;
	for (size_t i = 0; i < o->npays; i++)
		if (strcmp(o->pays[i]->customer, cust) == 0)
			mine[n++] = o->pays[i];
	api_page(out, MSG_LIST_OK, "payments", mine, n, page, limit,
		 shape_listed);
	free(mine);
}

/* schedule (required when recurring); false with err filled when bad */
bool api_schedule(const struct api_req *rq, bool recurring,
		  const char *dflt_interval, struct schedule *sched,
		  char *err, size_t errlen)
{
	json_object *v = api_field(rq, "schedule");
	memset(sched, 0, sizeof *sched);
	if (!v && !recurring)
		return true;
	return schedule_parse(v, "schedule", dflt_interval, sched, err,
			      errlen) == 0;
}

/* type: one-time (default) or recurring; false with err filled when bad */
bool api_type(const struct api_req *rq, char type[12], char *err,
	      size_t errlen)
{
	const char *t = "one-time";
	int tr = api_str(rq, "type", &t);
	if (tr == FA_BAD || (tr == FA_OK && strcmp(t, "one-time") != 0 &&
			     strcmp(t, "recurring") != 0)) {
		snprintf(err, errlen, msg(MSG_INVALID_FIELD), "type");
		return false;
	}
	snprintf(type, 12, "%s", t);
	return true;
}

static void do_initiate(const struct api_req *rq, int owner, struct resp *out)
{
	const char *debit, *credit = NULL;
	char type[12], err[160];
	struct schedule sched;
	int64_t amount;
	if (api_oid(rq, "account_to_debit", &debit) != FA_OK) {
		api_bad_field(out, "account_to_debit");
		return;
	}
	if (api_pos_int(rq, "amount", &amount) != FA_OK) {
		api_bad_field(out, "amount");
		return;
	}
	if (api_currency(rq) == FA_BAD) {
		api_bad_field(out, "currency");
		return;
	}
	if (api_oid(rq, "account_to_credit", &credit) == FA_BAD) {
		api_bad_field(out, "account_to_credit");
		return;
	}
	if (!api_type(rq, type, err, sizeof err) ||
	    !api_schedule(rq, strcmp(type, "recurring") == 0, NULL, &sched,
			  err, sizeof err)) {
		api_fail(out, err);
		return;
	}

	struct payment *p = payment_new(owner, rq->env, NULL);
	p->amount = amount;
	memcpy(p->debit_account, debit, OID_LEN + 1);
	if (credit) {
		memcpy(p->credit_account, credit, OID_LEN + 1);
	} else {
		p->credit_account[0] = '\0';
		p->credits_wallet = true;
	}
	char seed[64];
	snprintf(seed, sizeof seed, "customer:%s", debit);
	derived_oid(seed, p->customer);
	memcpy(p->type, type, sizeof p->type);
	p->sched = sched;

	json_object *d = json_object_new_object();
	json_object_object_add(d, "payment", shape_payment(p, false));
	json_object_object_add(d, "okra_wallet",
			       shape_okra_wallet(&g_model.owners[owner]));
	char *cb = callback_url(p->record);
	json_object_object_add(d, "callback_url", json_object_new_string(cb));
	free(cb);
	json_object_object_add(d, "customer", shape_customer(p));
	api_success(out, MSG_INITIATE_OK, d);
}

static bool refundable(const struct payment *p)
{
	if (p->refund_of)
		return false;
	if (strcmp(p->status, "success") == 0)
		return true;
	return strcmp(p->status, "completed") == 0 &&
	       strcmp(p->response_status, "success") == 0;
}

static void do_refund(const struct api_req *rq, int owner, struct resp *out)
{
	const char *pid, *reason = NULL, *account = NULL;
	int64_t amount = 0;
	if (api_oid(rq, "payment_id", &pid) != FA_OK) {
		api_bad_field(out, "payment_id");
		return;
	}
	int ar = api_pos_int(rq, "amount", &amount);
	if (ar == FA_BAD) {
		api_bad_field(out, "amount");
		return;
	}
	if (api_str(rq, "reason", &reason) == FA_BAD) {
		api_bad_field(out, "reason");
		return;
	}
	if (api_oid(rq, "account", &account) == FA_BAD) {
		api_bad_field(out, "account");
		return;
	}
	struct payment *p = payment_find(pid);
	if (!p || p->owner != owner) {
		api_fail(out, msg(MSG_NOT_FOUND));
		return;
	}

	struct owner *o = &g_model.owners[owner];
	const char *acct = account ? account : o->wallet_id;
	int64_t left = refund_remaining(p);
	int64_t want = ar == FA_OK ? amount : left;

	if (!refundable(p)) {
		resp_error(out, 400, msg(MSG_REFUND_NOT_SUCCESS),
				  "payment",
				  shape_payment_err(p, false, want, acct));
		return;
	}
	if (left <= 0 && p->refunds_tail) {
		resp_error(out, 400, msg(MSG_REFUND_DUPLICATE), "refund",
				  shape_refund_dup(p->refunds_tail));
		return;
	}
	if (want > left || want <= 0) {
		resp_error(out, 400, msg(MSG_REFUND_TOO_MUCH), "payment",
				  shape_payment_err(p, true, want, acct));
		return;
	}
	int64_t from_wallet = want;
	if (o->wallet < want) {
		if (!account) {
			resp_error(out, 400,
						  msg(MSG_REFUND_WALLET_SHORT), "wallet",
						  shape_wallet(o, rq->env));
			return;
		}
		from_wallet = o->wallet > 0 ? o->wallet : 0;
	}

	struct payment *rp = payment_new(owner, rq->env, NULL);
	struct refund *r = xcalloc(1, sizeof *r);
	int64_t now = rp->created_at;
	rp->amount = want;
	snprintf(rp->currency, sizeof rp->currency, "%s", p->currency);
	rp->customer[0] = '\0';
	memcpy(rp->debit_account, from_wallet == want ? o->wallet_id : account,
	       OID_LEN + 1);
	memcpy(rp->credit_account, p->debit_account, OID_LEN + 1);
	rp->refund_of = r;

	new_oid(now, r->id);
	new_oid(now, r->record);
	r->owner = owner;
	r->env = rq->env;
	r->payment = p;
	r->rpay = rp;
	r->amount = want;
	r->from_wallet = from_wallet;
	if (account)
		memcpy(r->account, account, OID_LEN + 1);
	r->reason = reason ? xstrdup(reason) : NULL;
	strcpy(r->status, "initiated");
	r->created_at = r->last_updated = now;
	refund_add(r);
	o->wallet -= from_wallet;
	o->wallet_updated = now;
	counters_refund(p->id, want);

	json_object *inner = json_object_new_object();
	json_object_object_add(inner, "payment", shape_payment(rp, false));
	json_object_object_add(inner, "okra_wallet", shape_okra_wallet(o));
	char *cb = callback_url(rp->record);
	json_object_object_add(inner, "callback_url", json_object_new_string(cb));
	free(cb);
	json_object_object_add(inner, "customer", shape_customer(p));

	json_object *rpo = json_object_new_object();
	json_object_object_add(rpo, "success", json_object_new_boolean(1));
	json_object_object_add(rpo, "data", inner);
	json_object_object_add(rpo, "error", NULL);
	json_object_object_add(rpo, "msg",
			       json_object_new_string(msg(MSG_REFUND_INNER_OK)));

	json_object *d = json_object_new_object();
	json_object_object_add(d, "refund", shape_refund(r));
	json_object_object_add(d, "refund_payment", rpo);
	api_success(out, MSG_REFUND_OK, d);
}

void okra_execute(const struct api_req *rq, struct resp *out)
{
	if (!rq->body) {
		resp_error(out, 400, msg(MSG_BAD_PAYLOAD), NULL, NULL);
		return;
	}
	lock();
	settle_refunds(now_ms());
	int owner = g_model.key_owner[rq->key];
	switch (rq->route) {
	case R_VERIFY: do_verify(rq, owner, out); break;
	case R_CANCEL: do_cancel(rq, owner, out); break;
	case R_REFUND: do_refund(rq, owner, out); break;
	case R_INITIATE: do_initiate(rq, owner, out); break;
	case R_GET: do_get(rq, owner, out); break;
	case R_LIST: do_list(rq, owner, out); break;
	case R_PAYOUT: do_payout(rq, owner, out); break;
	case R_PAYOUT_GET: do_payout_get(rq, owner, out); break;
	case R_BY_CUSTOMER: do_by_customer(rq, owner, out); break;
	case R_LINK_CREATE: do_link_create(rq, owner, out); break;
	case R_AUTH_INITIATE: do_auth_initiate(rq, owner, out); break;
	case R_AUTH_CANCEL: do_auth_cancel(rq, owner, out); break;
	case R_AUTH_REAUTH: do_auth_reauth(rq, owner, out); break;
	case R_AUTH_LIST: do_auth_list(rq, owner, out); break;
	case R_AUTH_BY_CUSTOMER: do_auth_by_customer(rq, owner, out); break;
	case R_BULK: do_bulk(rq, owner, out); break;
	default:
		resp_error(out, 404, msg(MSG_NO_ROUTE), NULL, NULL);
	}
	unlock();
}
