/*
 * Payouts: pay/payout (Okra docs, "Payouts"), pay/payout/get (ours), their
 * fee, their settling through the control API, and seeded payouts
 * (API.md 5.7 and 8.12). Every function here expects g_lock to be held.
 */
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const DEFAULT_BANK = "5d6fe57a4099cc4b210bbeb3";

/*
 * The fee, in naira (ours): the NIP transfer charge tiers with 7.5% VAT,
 * NGN 10, 25 or 50 for up to NGN 5,000, up to NGN 50,000, and more. The
 * docs' one example, 10.75 on 10000 kobo, is the first tier.
 */
json_object *payout_fee_json(int64_t amount)
{
	if (amount <= 500000)
		return json_object_new_double_s(10.75, "10.75");
	if (amount <= 5000000)
		return json_object_new_double_s(26.88, "26.88");
	return json_object_new_double_s(53.75, "53.75");
}

static bool is_nuban(const char *s)
{
	size_t i;
	for (i = 0; s[i]; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return i == 10;
}

struct payout *payout_find(const char *id)
{
	for (struct payout *po = g_model.payouts; po; po = po->next)
		if (strcmp(po->id, id) == 0)
			return po;
	return NULL;
}

/* A new initiated payout to an account or to nuban + bank. */
static struct payout *payout_new(int owner, int env, int64_t amount,
				 const char *credit, const char *nuban,
				 const char *bank, const char *id)
{
	struct payout *po = xcalloc(1, sizeof *po);
	int64_t now = now_ms();
	if (id)
		memcpy(po->id, id, OID_LEN + 1);
	else
		new_oid(now, po->id);
	char ref[16];
	new_ref(ref);
	snprintf(po->ref, sizeof po->ref, "%s", ref);
	po->owner = owner;
	po->env = env;
	po->amount = amount;
	strcpy(po->status, "initiated");
	po->created_at = po->last_updated = now;
	if (credit) {
		memcpy(po->account_to_credit, credit, OID_LEN + 1);
		snprintf(po->nuban, sizeof po->nuban, "%010llu",
			 (unsigned long long)(hash64(credit, OID_LEN) %
					      10000000000ULL));
		strcpy(po->bank, DEFAULT_BANK);
	} else {
		char seed[64];
		snprintf(seed, sizeof seed, "account:%s:%s", nuban, bank);
		derived_oid(seed, po->account_to_credit);
		snprintf(po->nuban, sizeof po->nuban, "%s", nuban);
		memcpy(po->bank, bank, OID_LEN + 1);
	}
	LIST_APPEND(g_model.payouts, g_model.payouts_tail, po);
	return po;
}

void do_payout(const struct api_req *rq, int owner, struct resp *out)
{
	const char *credit = NULL, *nuban = NULL, *bank = NULL;
	int64_t amount;
	if (api_pos_int(rq, "amount", &amount) != FA_OK) {
		api_bad_field(out, "amount");
		return;
	}
	int cr = api_oid(rq, "account_to_credit", &credit);
	if (cr == FA_BAD) {
		api_bad_field(out, "account_to_credit");
		return;
	}
	if (cr == FA_ABSENT) {
		if (api_str(rq, "nuban", &nuban) != FA_OK || !is_nuban(nuban)) {
			api_bad_field(out, api_field(rq, "nuban") ? "nuban" :
					   "account_to_credit");
			return;
		}
		if (api_oid(rq, "bank", &bank) != FA_OK) {
			api_bad_field(out, "bank");
			return;
		}
	}
	if (api_currency(rq) == FA_BAD) {
		api_bad_field(out, "currency");
		return;
	}

	struct owner *o = &g_model.owners[owner];
	if (o->wallet < amount) {
		resp_error(out, 400, msg(MSG_PAYOUT_WALLET_SHORT), "wallet",
			   shape_wallet(o, rq->env));
		return;
	}
	struct payout *po = payout_new(owner, rq->env, amount, credit, nuban,
				       bank, NULL);
	o->wallet -= amount;
	o->wallet_updated = po->created_at;
	api_data1(out, MSG_PAYOUT_OK, "payout", shape_payout(po));
}

/* pay/payout/get (ours): {payout_id} -> data.payout as it is now */
void do_payout_get(const struct api_req *rq, int owner, struct resp *out)
{
	const char *id;
	if (api_oid(rq, "payout_id", &id) != FA_OK) {
		api_bad_field(out, "payout_id");
		return;
	}
	struct payout *po = payout_find(id);
	if (!po || po->owner != owner) {
		api_fail(out, msg(MSG_PAYOUT_NOT_FOUND));
		return;
	}
	api_data1(out, MSG_PAYOUT_GET_OK, "payout", shape_payout(po));
}

/* initiated -> success or failed; a failed payout gives the wallet back
 * its amount */
int payout_set_status(struct payout *po, const char *status, char *err,
		      size_t errlen)
{
	if (!status || (strcmp(status, "success") != 0 &&
			strcmp(status, "failed") != 0)) {
		snprintf(err, errlen, msg(MSG_CTL_BAD_FIELD), "status");
		return -1;
	}
	if (strcmp(po->status, "initiated") != 0) {
		snprintf(err, errlen, "%s", msg(MSG_CTL_PAYOUT_FINAL));
		return -1;
	}
	int64_t now = now_ms();
	snprintf(po->status, sizeof po->status, "%s", status);
	po->last_updated = now;
	if (strcmp(status, "failed") == 0) {
		struct owner *o = &g_model.owners[po->owner];
		o->wallet += po->amount;
		o->wallet_updated = now;
	}
	return 0;
}

/*
 * A seeded payout: {id?, amount, status?, account_to_credit? or nuban and
 * bank, key?, env?}. Seeded payouts leave the wallet as the seed says.
 */
int payout_from_fields(json_object *o, char *err, size_t errlen)
{
	json_object *v;
	char id[OID_LEN + 1];
	bool has_id, present;
	int key, env;
	if (spec_head(o, id, &has_id, &key, &env, err, errlen) < 0)
		return -1;
	if (has_id && payout_find(id)) {
		snprintf(err, errlen, "%s", msg(MSG_CTL_DUP_OBJECT));
		return -1;
	}
	int64_t amount;
	if (!json_object_object_get_ex(o, "amount", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    (amount = json_object_get_int64(v)) <= 0 || amount > MAX_KOBO)
		return spec_bad(err, errlen, "amount");
	const char *status = spec_str(o, "status", &present);
	if (present && (!status || (strcmp(status, "initiated") != 0 &&
				    strcmp(status, "success") != 0 &&
				    strcmp(status, "failed") != 0)))
		return spec_bad(err, errlen, "status");
	const char *credit = spec_str(o, "account_to_credit", &present);
	const char *nuban = NULL, *bank = NULL;
	if (present && !is_oid(credit))
		return spec_bad(err, errlen, "account_to_credit");
	if (!present) {
		nuban = spec_str(o, "nuban", &present);
		if (!nuban || !is_nuban(nuban))
			return spec_bad(err, errlen, "nuban");
		bank = spec_str(o, "bank", &present);
		if (!is_oid(bank))
			return spec_bad(err, errlen, "bank");
	}
	struct payout *po = payout_new(g_model.key_owner[key], env, amount,
				       credit, nuban, bank,
				       has_id ? id : NULL);
	if (status)
		snprintf(po->status, sizeof po->status, "%s", status);
	return 0;
}
