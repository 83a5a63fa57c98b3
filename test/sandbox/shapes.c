/*
 * JSON bodies with Okra's field names and key order (okra-api.md section 3),
 * filled from the model. Expects g_lock to be held.
 */
#include "sandbox.h"

#include <stdio.h>
#include <string.h>

#define ADD(o, k, v) json_object_object_add((o), (k), (v))

static const char *const BANK_ID = "5d6fe57a4099cc4b210bbeb3";

json_object *jstr_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

json_object *jtime(int64_t ms)
{
	if (ms <= 0)
		return NULL;
	char buf[32];
	iso_time(ms, buf);
	return json_object_new_string(buf);
}

static const char *owner_id(int owner)
{
	return g_model.owners[owner].id;
}

char *callback_url(const char *record)
{
	char buf[160];
	snprintf(buf, sizeof buf,
		 "https://api.okra.ng/v2/callback?record=%s&method=PAYMENT",
		 record);
	return xstrdup(buf);
}

/* pay/verify: data.payment_status */
json_object *shape_verify(const struct payment *p)
{
	json_object *o = json_object_new_object();
	ADD(o, "_id", json_object_new_string(p->id));
	ADD(o, "amount", json_object_new_int64(p->amount));
	ADD(o, "currency", json_object_new_string(p->currency));
	ADD(o, "customer", jstr_or_null(p->customer));
	ADD(o, "link", p->link ? shape_link_ref(p->link) : NULL);
	ADD(o, "status", json_object_new_string(p->status));
	ADD(o, "response_status", json_object_new_string(p->response_status));
	return o;
}

static json_object *credit_account(const struct payment *p)
{
	return json_object_new_string(*p->credit_account ? p->credit_account :
				      "Okra Wallet");
}

/* a payment's link, as the payment object shows it: the link's id */
static json_object *link_id(const struct payment *p)
{
	return p->link ? json_object_new_string(p->link->id) : NULL;
}

/* The pay/initiate payment shape; refund payments carry bank, fee and
 * meta_responses as in P1's refund_payment. */
json_object *shape_payment(const struct payment *p, bool with_rs)
{
	bool rp = p->refund_of != NULL;
	json_object *o = json_object_new_object();
	ADD(o, "record", json_object_new_string(p->record));
	ADD(o, "amount", json_object_new_int64(p->amount));
	if (rp)
		ADD(o, "bank", json_object_new_string(p->bank));
	ADD(o, "bank_response", NULL);
	ADD(o, "created_at", jtime(p->created_at));
	ADD(o, "credit_account", credit_account(p));
	ADD(o, "currency", json_object_new_string(p->currency));
	ADD(o, "customer", jstr_or_null(p->customer));
	ADD(o, "debit_account", json_object_new_string(p->debit_account));
	ADD(o, "email", NULL);
	ADD(o, "env", json_object_new_string(env_name(p->env)));
	ADD(o, "error", NULL);
	if (rp)
		ADD(o, "fee", NULL);
	ADD(o, "last_updated", jtime(p->last_updated));
	ADD(o, "link", link_id(p));
	ADD(o, "meta", NULL);
	if (rp)
		ADD(o, "meta_responses", NULL);
	ADD(o, "owner", json_object_new_string(owner_id(p->owner)));
	ADD(o, "ref", json_object_new_string(p->ref));
	ADD(o, "schedule", schedule_json(&p->sched));
	ADD(o, "source", json_object_new_string(p->source));
	ADD(o, "status", json_object_new_string(p->status));
	if (with_rs)
		ADD(o, "response_status",
		    json_object_new_string(p->response_status));
	ADD(o, "id", json_object_new_string(p->id));
	return o;
}

json_object *shape_okra_wallet(const struct owner *o)
{
	json_object *w = json_object_new_object();
	ADD(w, "amount", json_object_new_int64(o->wallet));
	ADD(w, "currency", json_object_new_string("NGN"));
	ADD(w, "last_updated", jtime(o->wallet_updated));
	ADD(w, "id", json_object_new_string(o->wallet_id));
	return w;
}

/* error (d)'s data.wallet */
json_object *shape_wallet(const struct owner *o, int env)
{
	json_object *w = json_object_new_object();
	ADD(w, "_id", json_object_new_string(o->wallet_id));
	ADD(w, "amount", json_object_new_int64(o->wallet));
	ADD(w, "currency", json_object_new_string("NGN"));
	ADD(w, "env", json_object_new_string(env_name(env)));
	ADD(w, "last_updated", jtime(o->wallet_updated));
	return w;
}

json_object *shape_customer(const struct payment *p)
{
	static const char *const names[] = {
		"Dami Banwo", "Ada Okafor", "Tunde Bakare", "Ngozi Eze",
		"Chinedu Obi", "Funke Adeyemi", "Bola Ahmed", "Kemi Alade",
	};
	const char *cid = *p->customer ? p->customer : p->debit_account;
	uint64_t h = hash64(cid, strlen(cid));
	const char *name = names[h % (sizeof names / sizeof *names)];
	char nuban[16];
	snprintf(nuban, sizeof nuban, "%010llu",
		 (unsigned long long)(hash64(p->debit_account, OID_LEN) %
				      10000000000ULL));

	json_object *bank = json_object_new_object();
	ADD(bank, "name", json_object_new_string("Guaranty Trust Bank"));
	ADD(bank, "slug", json_object_new_string("guaranty-trust-bank"));
	ADD(bank, "id", json_object_new_string(BANK_ID));
	ADD(bank, "logo", json_object_new_string(
		"https://okra-images.s3.eu-west-3.amazonaws.com/GT+Bank.svg"));
	ADD(bank, "png_logo", json_object_new_string(
		"http://d1f1tz87xvarxp.cloudfront.net/Nigerian+Banks/Guaranty+Trust+Bank+Logo.png"));
	ADD(bank, "icon", json_object_new_string(
		"https://okra-images.s3.eu-west-3.amazonaws.com/Guaranty+Trust+Bank+Logo+Color.svg"));

	json_object *acct = json_object_new_object();
	ADD(acct, "id", json_object_new_string(p->debit_account));
	ADD(acct, "name", json_object_new_string(name));
	ADD(acct, "nuban", json_object_new_string(nuban));
	ADD(acct, "bank", bank);

	json_object *c = json_object_new_object();
	ADD(c, "name", json_object_new_string(name));
	ADD(c, "id", jstr_or_null(cid));
	ADD(c, "account", acct);
	return c;
}

static json_object *history(const struct refund *r)
{
	json_object *h = json_object_new_object();
	ADD(h, "initiated_at", jtime(r->created_at));
	ADD(h, "success_at", jtime(r->success_at));
	ADD(h, "failed_at", jtime(r->failed_at));
	return h;
}

/* pay/refund success: data.refund */
json_object *shape_refund(const struct refund *r)
{
	json_object *o = json_object_new_object();
	ADD(o, "history", history(r));
	ADD(o, "_id", json_object_new_string(r->id));
	ADD(o, "env", json_object_new_string(env_name(r->env)));
	ADD(o, "owner", json_object_new_string(owner_id(r->owner)));
	ADD(o, "payment", json_object_new_string(r->payment->id));
	ADD(o, "receiever", jstr_or_null(r->payment->customer));
	ADD(o, "__v", json_object_new_int(0));
	ADD(o, "amount", json_object_new_int64(r->amount));
	ADD(o, "created_at", jtime(r->created_at));
	ADD(o, "currency", json_object_new_string(r->payment->currency));
	ADD(o, "initiator", json_object_new_string(owner_id(r->owner)));
	ADD(o, "last_updated", jtime(r->last_updated));
	ADD(o, "reason", r->reason ? json_object_new_string(r->reason) : NULL);
	ADD(o, "record", json_object_new_string(r->record));
	ADD(o, "status", json_object_new_string(r->status));
	return o;
}

/* error (a): data.refund, the latest refund */
json_object *shape_refund_dup(const struct refund *r)
{
	const struct payment *rp = r->rpay;
	json_object *o = json_object_new_object();
	ADD(o, "_id", json_object_new_string(r->id));
	ADD(o, "amount", json_object_new_int64(r->amount));
	ADD(o, "created_at", jtime(r->created_at));
	ADD(o, "currency", json_object_new_string(r->payment->currency));
	ADD(o, "history", history(r));
	ADD(o, "initiator", json_object_new_string(owner_id(r->owner)));
	ADD(o, "reason", r->reason ? json_object_new_string(r->reason) : NULL);
	ADD(o, "status", json_object_new_string(r->status));
	ADD(o, "meta", NULL);
	json_object *p = json_object_new_object();
	ADD(p, "_id", json_object_new_string(rp->id));
	ADD(p, "amount", json_object_new_int64(rp->amount));
	ADD(p, "credit_account", credit_account(rp));
	ADD(p, "currency", json_object_new_string(rp->currency));
	ADD(p, "customer", jstr_or_null(r->payment->customer));
	ADD(p, "debit_account", json_object_new_string(rp->debit_account));
	ADD(p, "env", json_object_new_string(env_name(rp->env)));
	ADD(p, "owner", json_object_new_string(owner_id(rp->owner)));
	ADD(p, "ref", json_object_new_string(rp->ref));
	ADD(p, "status", json_object_new_string(rp->status));
	ADD(o, "refund_payment", p);
	return o;
}

/* errors (b) (v_owner: with __v and owner) and (c): data.payment */
json_object *shape_payment_err(const struct payment *p, bool v_owner,
			       int64_t refund_amount, const char *account)
{
	json_object *o = json_object_new_object();
	ADD(o, "_id", json_object_new_string(p->id));
	ADD(o, "record", json_object_new_string(p->record));
	if (v_owner)
		ADD(o, "__v", json_object_new_int(0));
	ADD(o, "amount", json_object_new_int64(p->amount));
	ADD(o, "created_at", jtime(p->created_at));
	ADD(o, "credit_account", credit_account(p));
	ADD(o, "currency", json_object_new_string(p->currency));
	ADD(o, "customer", jstr_or_null(p->customer));
	ADD(o, "debit_account", json_object_new_string(p->debit_account));
	ADD(o, "email", NULL);
	ADD(o, "env", json_object_new_string(env_name(p->env)));
	ADD(o, "error", json_object_new_object());
	ADD(o, "last_updated", jtime(p->last_updated));
	ADD(o, "link", link_id(p));
	ADD(o, "meta", NULL);
	if (v_owner)
		ADD(o, "owner", json_object_new_string(owner_id(p->owner)));
	ADD(o, "ref", json_object_new_string(p->ref));
	ADD(o, "schedule", schedule_json(&p->sched));
	ADD(o, "source", json_object_new_string(p->source));
	ADD(o, "status", json_object_new_string(p->status));
	ADD(o, "refund_amount", json_object_new_int64(refund_amount));
	ADD(o, "account_to_debit", jstr_or_null(account));
	return o;
}

/* pay/payout: data.payout */
json_object *shape_payout(const struct payout *po)
{
	json_object *o = json_object_new_object();
	ADD(o, "status", json_object_new_string(po->status));
	ADD(o, "_id", json_object_new_string(po->id));
	ADD(o, "amount", json_object_new_int64(po->amount));
	ADD(o, "ref", json_object_new_string(po->ref));
	ADD(o, "fee", payout_fee_json(po->amount));
	ADD(o, "account_to_credit", json_object_new_string(po->account_to_credit));
	json_object *n = json_object_new_object();
	ADD(n, "nuban", json_object_new_string(po->nuban));
	ADD(n, "bank", json_object_new_string(po->bank));
	ADD(o, "nuban_to_credit", n);
	ADD(o, "initiated_by", json_object_new_string(owner_id(po->owner)));
	ADD(o, "env", json_object_new_string(env_name(po->env)));
	ADD(o, "created_at", jtime(po->created_at));
	ADD(o, "last_updated", jtime(po->last_updated));
	return o;
}

static json_object *link_url(const char *base, const struct link *l)
{
	char buf[96];
	snprintf(buf, sizeof buf, "%s%s", base, l->short_code);
	return json_object_new_string(buf);
}

/* pay/verify's payment_status.link: {_id, url, short_url, surl} (P0) */
json_object *shape_link_ref(const struct link *l)
{
	json_object *o = json_object_new_object();
	ADD(o, "_id", json_object_new_string(l->id));
	ADD(o, "url", link_url("https://dev-pay.okra.ng/", l));
	ADD(o, "short_url", json_object_new_string(l->short_code));
	ADD(o, "surl", link_url("https://dev.okr.to/", l));
	return o;
}

/* pay/link/create's data: the API reference's first keys, then
 * OkraJava's PaymentCreateLinkResponseData (API.md 5.9) */
json_object *shape_link(const struct link *l)
{
	json_object *o = json_object_new_object();
	json_object *pb = json_object_new_object();
	ADD(pb, "bank", NULL);
	ADD(pb, "type", NULL);
	ADD(pb, "platform", NULL);
	ADD(pb, "login", NULL);
	ADD(o, "preselect_bank", pb);
	json_object *sc = schedule_json(&l->sched);
	if (!sc) {
		sc = json_object_new_object();
		ADD(sc, "startDate", NULL);
		ADD(sc, "endDate", NULL);
	}
	ADD(o, "schedule", sc);
	json_object *wa = json_object_new_object();
	ADD(wa, "enabled", json_object_new_boolean(0));
	ADD(wa, "users", json_object_new_array());
	ADD(wa, "message_templates", json_object_new_array());
	ADD(wa, "qr", json_object_new_array());
	ADD(o, "whatsapp", wa);
	ADD(o, "_id", json_object_new_string(l->id));
	ADD(o, "amount", l->amount ? json_object_new_int64(l->amount) : NULL);
	ADD(o, "currency", json_object_new_string(l->currency));
	ADD(o, "type", json_object_new_string(l->type));
	ADD(o, "debitLater", json_object_new_boolean(0));
	json_object *c = json_object_new_array();
	json_object_array_add(c, json_object_new_string("NG"));
	ADD(o, "countries", c);
	ADD(o, "unique_views", json_object_new_array());
	ADD(o, "billable_products", json_object_new_array());
	ADD(o, "data", json_object_new_boolean(l->data));
	ADD(o, "archive", json_object_new_boolean(0));
	ADD(o, "corporate", NULL);
	ADD(o, "projects", json_object_new_array());
	ADD(o, "note", l->note ? json_object_new_string(l->note) : NULL);
	ADD(o, "count", json_object_new_int64(l->count));
	ADD(o, "created_by", json_object_new_string(owner_id(l->owner)));
	ADD(o, "url", link_url("https://dev-pay.okra.ng/", l));
	ADD(o, "surl", link_url("https://dev.okr.to/", l));
	ADD(o, "short_url", json_object_new_string(l->short_code));
	json_object *ow = json_object_new_object();
	ADD(ow, "_id", json_object_new_string(owner_id(l->owner)));
	ADD(ow, "name", NULL);
	ADD(o, "owner", ow);
	ADD(o, "name", json_object_new_string(l->name));
	ADD(o, "env", json_object_new_string(env_name(l->env)));
	ADD(o, "account", json_object_new_string(l->account));
	ADD(o, "created_at", jtime(l->created_at));
	ADD(o, "last_updated", jtime(l->last_updated));
	ADD(o, "__v", json_object_new_int(0));
	return o;
}

/* a YYYY-MM-DD day as the docs' duration shows it: midnight UTC */
static json_object *day_time(const char *day)
{
	char buf[40];
	if (!*day)
		return NULL;
	snprintf(buf, sizeof buf, "%sT00:00:00.000Z", day);
	return json_object_new_string(buf);
}

/* data.authorization: the docs' first keys, then ours (API.md 5.10) */
json_object *shape_authorization(const struct authorization *a)
{
	json_object *o = json_object_new_object();
	ADD(o, "_id", json_object_new_string(a->id));
	ADD(o, "customer", json_object_new_string(a->customer));
	json_object *acc = json_object_new_array();
	for (size_t i = 0; i < a->naccounts; i++)
		json_object_array_add(acc, json_object_new_string(a->accounts[i]));
	ADD(o, "accounts", acc);
	ADD(o, "disconnect", json_object_new_boolean(a->disconnected_at > 0));
	ADD(o, "disconnected_at", jtime(a->disconnected_at));
	json_object *d = json_object_new_object();
	ADD(d, "startDate", day_time(a->start));
	ADD(d, "endDate", day_time(a->end));
	ADD(d, "interval", jstr_or_null(a->interval));
	ADD(o, "duration", d);
	ADD(o, "link", json_object_new_string(a->link));
	ADD(o, "amount", a->initiated ? json_object_new_int64(a->amount) : NULL);
	ADD(o, "initialAmount", a->initiated ?
	    json_object_new_int64(a->initial_amount) : NULL);
	ADD(o, "currency", json_object_new_string("NGN"));
	ADD(o, "oneTime", json_object_new_boolean(a->one_time));
	ADD(o, "status", json_object_new_string(a->status));
	ADD(o, "cancelled_by", jstr_or_null(a->cancelled_by));
	ADD(o, "owner", json_object_new_string(owner_id(a->owner)));
	ADD(o, "env", json_object_new_string(env_name(a->env)));
	ADD(o, "created_at", jtime(a->created_at));
	ADD(o, "last_updated", jtime(a->last_updated));
	return o;
}

/* bulkfiles/initiate: data.bulkfile (ours, from the docs' field list) */
json_object *shape_bulkfile(const struct bulkfile *b)
{
	json_object *o = json_object_new_object();
	ADD(o, "_id", json_object_new_string(b->id));
	ADD(o, "file_name", json_object_new_string(b->file_name));
	ADD(o, "owner", json_object_new_string(owner_id(b->owner)));
	ADD(o, "product", json_object_new_string("initiate_payment"));
	ADD(o, "status", json_object_new_string(b->status));
	ADD(o, "user", json_object_new_string(b->user));
	ADD(o, "rows", json_object_new_int64((int64_t)b->npays));
	json_object *p = json_object_new_array();
	for (size_t i = 0; i < b->npays; i++)
		json_object_array_add(p, json_object_new_string(b->pays[i]));
	ADD(o, "payments", p);
	ADD(o, "env", json_object_new_string(env_name(b->env)));
	ADD(o, "created_at", jtime(b->created_at));
	return o;
}
