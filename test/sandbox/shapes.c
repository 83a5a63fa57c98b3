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
	ADD(o, "link", NULL);
	ADD(o, "status", json_object_new_string(p->status));
	ADD(o, "response_status", json_object_new_string(p->response_status));
	return o;
}

static json_object *credit_account(const struct payment *p)
{
	return json_object_new_string(*p->credit_account ? p->credit_account :
				      "Okra Wallet");
}

static json_object *schedule(const struct payment *p)
{
	return p->schedule ? json_tokener_parse(p->schedule) : NULL;
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
	ADD(o, "link", NULL);
	ADD(o, "meta", NULL);
	if (rp)
		ADD(o, "meta_responses", NULL);
	ADD(o, "owner", json_object_new_string(owner_id(p->owner)));
	ADD(o, "ref", json_object_new_string(p->ref));
	ADD(o, "schedule", schedule(p));
	ADD(o, "source", json_object_new_string("api"));
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
	ADD(o, "link", NULL);
	ADD(o, "meta", NULL);
	if (v_owner)
		ADD(o, "owner", json_object_new_string(owner_id(p->owner)));
	ADD(o, "ref", json_object_new_string(p->ref));
	ADD(o, "schedule", schedule(p));
	ADD(o, "source", json_object_new_string("api"));
	ADD(o, "status", json_object_new_string(p->status));
	ADD(o, "refund_amount", json_object_new_int64(refund_amount));
	ADD(o, "account_to_debit", jstr_or_null(account));
	return o;
}

/* pay/payout: data.payout */
json_object *shape_payout(const struct payout *po)
{
	json_object *o = json_object_new_object();
	ADD(o, "status", json_object_new_string("initiated"));
	ADD(o, "_id", json_object_new_string(po->id));
	ADD(o, "amount", json_object_new_int64(po->amount));
	ADD(o, "ref", json_object_new_string(po->ref));
	ADD(o, "fee", json_object_new_double(10.75));
	ADD(o, "account_to_credit", json_object_new_string(po->account_to_credit));
	json_object *n = json_object_new_object();
	ADD(n, "nuban", json_object_new_string(po->nuban));
	ADD(n, "bank", json_object_new_string(po->bank));
	ADD(o, "nuban_to_credit", n);
	ADD(o, "initiated_by", json_object_new_string(owner_id(po->owner)));
	ADD(o, "env", json_object_new_string(env_name(po->env)));
	ADD(o, "created_at", jtime(po->created_at));
	ADD(o, "last_updated", jtime(po->created_at));
	return o;
}
