/*
 * The Okra endpoints: field validation, the rules of each route and the
 * bodies they answer with (README.md, okra-api.md sections 3, 4 and 6).
 */
#include "sandbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CT_JSON = "application/json; charset=utf-8";

static const char *const route_names[R_COUNT] = {
	[R_VERIFY] = "pay/verify",
	[R_CANCEL] = "pay/cancel",
	[R_REFUND] = "pay/refund",
	[R_INITIATE] = "pay/initiate",
	[R_GET] = "pay/get/id",
	[R_LIST] = "pay/list",
	[R_PAYOUT] = "pay/payout",
};

const char *route_name(int r)
{
	return r >= 0 && r < R_COUNT ? route_names[r] : NULL;
}

int route_lookup(const char *name)
{
	for (int r = 0; r < R_COUNT; r++)
		if (strcmp(name, route_names[r]) == 0)
			return r;
	if (strcmp(name, "pay/get/Id") == 0)
		return R_GET;
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

static void resp_success(struct resp *out, enum msg_id m, json_object *data)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("success"));
	json_object_object_add(o, "message", json_object_new_string(msg(m)));
	json_object_object_add(o, "data", data);
	resp_set(out, 200, json_dump(o), NULL);
	json_object_put(o);
}

static void resp_data1(struct resp *out, enum msg_id m, const char *k,
		       json_object *v)
{
	json_object *d = json_object_new_object();
	json_object_object_add(d, k, v);
	resp_success(out, m, d);
}

static void bad_field(struct resp *out, const char *field)
{
	char buf[160];
	snprintf(buf, sizeof buf, msg(MSG_INVALID_FIELD), field);
	resp_error(out, 400, buf, NULL, NULL);
}

/* ---------------------------------------------------------------- fields */

enum { FA_ABSENT, FA_OK, FA_BAD };

static json_object *field(const struct api_req *rq, const char *k)
{
	json_object *v;
	if (!json_object_object_get_ex(rq->body, k, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

static int get_str(const struct api_req *rq, const char *k, const char **out)
{
	json_object *v = field(rq, k);
	if (!v)
		return FA_ABSENT;
	if (!json_object_is_type(v, json_type_string))
		return FA_BAD;
	*out = json_object_get_string(v);
	return FA_OK;
}

static int get_oid(const struct api_req *rq, const char *k, const char **out)
{
	int r = get_str(rq, k, out);
	if (r == FA_OK && !is_oid(*out))
		return FA_BAD;
	return r;
}

/* positive integer; form bodies carry it as a decimal string */
static int get_pos_int(const struct api_req *rq, const char *k, int64_t *out)
{
	json_object *v = field(rq, k);
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

/* payment_id, then existence and ownership; NULL when answered */
static struct payment *find_payment(const struct api_req *rq, int owner,
				    struct resp *out)
{
	const char *id;
	if (get_oid(rq, "payment_id", &id) != FA_OK) {
		bad_field(out, "payment_id");
		return NULL;
	}
	struct payment *p = payment_find(id);
	if (!p || p->owner != owner) {
		resp_error(out, 400, msg(MSG_NOT_FOUND), NULL, NULL);
		return NULL;
	}
	return p;
}

/* ------------------------------------------------------------- endpoints */

static void do_verify(const struct api_req *rq, int owner, struct resp *out)
{
	struct payment *p = find_payment(rq, owner, out);
	if (p)
		resp_data1(out, MSG_VERIFY_OK, "payment_status", shape_verify(p));
}

static void do_get(const struct api_req *rq, int owner, struct resp *out)
{
	struct payment *p = find_payment(rq, owner, out);
	if (p)
		resp_data1(out, MSG_GET_OK, "payment", shape_payment(p, true));
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
	resp_data1(out, MSG_CANCEL_OK, "payment", shape_payment(p, true));
}

static void do_list(const struct api_req *rq, int owner, struct resp *out)
{
	int64_t page = 1, limit = 20;
	int r = get_pos_int(rq, "page", &page);
	if (r == FA_BAD) {
		bad_field(out, "page");
		return;
	}
	r = get_pos_int(rq, "limit", &limit);
	if (r == FA_BAD) {
		bad_field(out, "limit");
		return;
	}
	if (limit > 100)
		limit = 100;

	struct owner *o = &g_model.owners[owner];
	int64_t total = (int64_t)o->npays;
	int64_t pages = total ? (total + limit - 1) / limit : 1;
	int64_t skip = (page - 1) * limit;	/* page, limit <= 10^15, 100 */

	json_object *arr = json_object_new_array();
	for (int64_t i = total - 1 - skip; i >= 0 && i > total - 1 - skip - limit;
	     i--)
		json_object_array_add(arr, shape_payment(o->pays[i], true));

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
			       json_object_new_int64(skip + 1));
	json_object_object_add(pg, "prevPage", page > 1 ?
			       json_object_new_int64(page - 1) : NULL);
	json_object_object_add(pg, "nextPage", page < pages ?
			       json_object_new_int64(page + 1) : NULL);

	json_object *d = json_object_new_object();
	json_object_object_add(d, "payments", arr);
	json_object_object_add(d, "pagination", pg);
	resp_success(out, MSG_LIST_OK, d);
}

static void do_initiate(const struct api_req *rq, int owner, struct resp *out)
{
	const char *debit, *credit = NULL, *cur, *type;
	int64_t amount;
	if (get_oid(rq, "account_to_debit", &debit) != FA_OK) {
		bad_field(out, "account_to_debit");
		return;
	}
	if (get_pos_int(rq, "amount", &amount) != FA_OK) {
		bad_field(out, "amount");
		return;
	}
	if (get_str(rq, "currency", &cur) != FA_OK || strcmp(cur, "NGN") != 0) {
		bad_field(out, "currency");
		return;
	}
	if (get_oid(rq, "account_to_credit", &credit) == FA_BAD) {
		bad_field(out, "account_to_credit");
		return;
	}
	int tr = get_str(rq, "type", &type);
	if (tr == FA_BAD || (tr == FA_OK && strcmp(type, "one-time") != 0 &&
			     strcmp(type, "recurring") != 0)) {
		bad_field(out, "type");
		return;
	}
	json_object *sched = field(rq, "schedule");
	if (sched && !json_object_is_type(sched, json_type_object)) {
		bad_field(out, "schedule");
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
	if (sched)
		p->schedule = json_dump(sched);

	json_object *d = json_object_new_object();
	json_object_object_add(d, "payment", shape_payment(p, false));
	json_object_object_add(d, "okra_wallet",
			       shape_okra_wallet(&g_model.owners[owner]));
	char *cb = callback_url(p->record);
	json_object_object_add(d, "callback_url", json_object_new_string(cb));
	free(cb);
	json_object_object_add(d, "customer", shape_customer(p));
	resp_success(out, MSG_INITIATE_OK, d);
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
	if (get_oid(rq, "payment_id", &pid) != FA_OK) {
		bad_field(out, "payment_id");
		return;
	}
	int ar = get_pos_int(rq, "amount", &amount);
	if (ar == FA_BAD) {
		bad_field(out, "amount");
		return;
	}
	if (get_str(rq, "reason", &reason) == FA_BAD) {
		bad_field(out, "reason");
		return;
	}
	if (get_oid(rq, "account", &account) == FA_BAD) {
		bad_field(out, "account");
		return;
	}
	struct payment *p = payment_find(pid);
	if (!p || p->owner != owner) {
		resp_error(out, 400, msg(MSG_NOT_FOUND), NULL, NULL);
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
	resp_success(out, MSG_REFUND_OK, d);
}

static bool is_nuban(const char *s)
{
	size_t i;
	for (i = 0; s[i]; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return i == 10;
}

static void do_payout(const struct api_req *rq, int owner, struct resp *out)
{
	const char *credit = NULL, *nuban = NULL, *bank = NULL, *cur;
	int64_t amount;
	if (get_pos_int(rq, "amount", &amount) != FA_OK) {
		bad_field(out, "amount");
		return;
	}
	int cr = get_oid(rq, "account_to_credit", &credit);
	if (cr == FA_BAD) {
		bad_field(out, "account_to_credit");
		return;
	}
	if (cr == FA_ABSENT) {
		if (get_str(rq, "nuban", &nuban) != FA_OK || !is_nuban(nuban)) {
			bad_field(out, field(rq, "nuban") ? "nuban" :
						 "account_to_credit");
			return;
		}
		if (get_oid(rq, "bank", &bank) != FA_OK) {
			bad_field(out, "bank");
			return;
		}
	}
	int cu = get_str(rq, "currency", &cur);
	if (cu == FA_BAD || (cu == FA_OK && strcmp(cur, "NGN") != 0)) {
		bad_field(out, "currency");
		return;
	}

	struct owner *o = &g_model.owners[owner];
	if (o->wallet < amount) {
		resp_error(out, 400, msg(MSG_PAYOUT_WALLET_SHORT),
				  "wallet", shape_wallet(o, rq->env));
		return;
	}

	struct payout *po = xcalloc(1, sizeof *po);
	int64_t now = now_ms();
	new_oid(now, po->id);
	char ref[16];
	new_ref(ref);
	snprintf(po->ref, sizeof po->ref, "%s", ref);
	po->owner = owner;
	po->env = rq->env;
	po->amount = amount;
	po->created_at = now;
	if (credit) {
		memcpy(po->account_to_credit, credit, OID_LEN + 1);
		snprintf(po->nuban, sizeof po->nuban, "%010llu",
			 (unsigned long long)(hash64(credit, OID_LEN) %
					      10000000000ULL));
		strcpy(po->bank, "5d6fe57a4099cc4b210bbeb3");
	} else {
		char seed[64];
		snprintf(seed, sizeof seed, "account:%s:%s", nuban, bank);
		derived_oid(seed, po->account_to_credit);
		snprintf(po->nuban, sizeof po->nuban, "%s", nuban);
		memcpy(po->bank, bank, OID_LEN + 1);
	}
	if (g_model.payouts_tail)
		g_model.payouts_tail->next = po;
	else
		g_model.payouts = po;
	g_model.payouts_tail = po;
	o->wallet -= amount;
	o->wallet_updated = now;
	resp_data1(out, MSG_PAYOUT_OK, "payout", shape_payout(po));
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
	default:
		resp_error(out, 404, msg(MSG_NO_ROUTE), NULL, NULL);
	}
	unlock();
}
