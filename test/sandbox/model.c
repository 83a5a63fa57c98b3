/*
 * The in-memory model: owners and their wallets, payments (indexed by id),
 * refunds; status transitions, the seed file, and freeing everything
 * (payouts, links, authorizations and bulk files are made in their own
 * files). Every function here expects g_lock to be held.
 */
#include "sandbox.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct model g_model;
static json_object *g_seed;	/* parsed seed file, kept for reset */

const char *env_name(int env)
{
	return env == ENV_SANDBOX ? "production-sandbox" : "production";
}

/* ---------------------------------------------------------------- owners */

void owner_id_for_key(const char *key, char out[OID_LEN + 1])
{
	const char *d1 = strchr(key, '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (d1 && d2 && !strchr(d2 + 1, '.')) {
		size_t n;
		char *payload = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &n);
		if (payload) {
			json_object *o = json_tokener_parse(payload);
			json_object *id;
			if (o && json_object_object_get_ex(o, "_id", &id) &&
			    json_object_is_type(id, json_type_string) &&
			    json_object_get_string_len(id) == OID_LEN) {
				char buf[OID_LEN + 1];
				const char *s = json_object_get_string(id);
				for (int i = 0; i < OID_LEN; i++)
					buf[i] = (char)tolower((unsigned char)s[i]);
				buf[OID_LEN] = '\0';
				if (is_oid(buf)) {
					memcpy(out, buf, OID_LEN + 1);
					json_object_put(o);
					free(payload);
					return;
				}
			}
			json_object_put(o);
			free(payload);
		}
	}
	derived_oid(key, out);
}

int key_index(const char *key)
{
	for (size_t i = 0; i < g_cfg.nkeys; i++)
		if (strcmp(g_cfg.keys[i], key) == 0)
			return (int)i;
	return -1;
}

struct owner *owner_of_key(int key)
{
	return &g_model.owners[g_model.key_owner[key]];
}

/* the account a link credits when none is named: the business account */
void owner_business_account(int owner, char out[OID_LEN + 1])
{
	char seed[64];
	snprintf(seed, sizeof seed, "account:%s", g_model.owners[owner].id);
	derived_oid(seed, out);
}

/* -------------------------------------------------------------- payments */

static size_t bucket_of(const char *id, size_t nb)
{
	return hash64(id, OID_LEN) & (nb - 1);
}

struct payment *payment_find(const char *id)
{
	if (!g_model.nbuckets || !is_oid(id))
		return NULL;
	struct payment *p = g_model.buckets[bucket_of(id, g_model.nbuckets)];
	for (; p; p = p->hnext)
		if (memcmp(p->id, id, OID_LEN) == 0)
			return p;
	return NULL;
}

static void rehash(void)
{
	size_t nb = g_model.nbuckets ? g_model.nbuckets * 2 : 1024;
	struct payment **b = xcalloc(nb, sizeof *b);
	for (size_t i = 0; i < g_model.npays; i++) {
		struct payment *p = g_model.pays[i];
		size_t s = bucket_of(p->id, nb);
		p->hnext = b[s];
		b[s] = p;
	}
	free(g_model.buckets);
	g_model.buckets = b;
	g_model.nbuckets = nb;
}

struct payment *payment_new(int owner, int env, const char *id)
{
	int64_t now = now_ms();
	struct payment *p = xcalloc(1, sizeof *p);
	if (id)
		memcpy(p->id, id, OID_LEN + 1);
	else
		new_oid(now, p->id);
	p->owner = owner;
	p->env = env;
	p->amount = 0;
	strcpy(p->currency, "NGN");
	strcpy(p->status, "initialize");
	strcpy(p->response_status, "pending");
	new_oid(now, p->record);
	new_ref(p->ref);
	new_oid(now, p->debit_account);
	new_oid(now, p->credit_account);
	strcpy(p->bank, "5d6fe57a4099cc4b210bbeb3");
	strcpy(p->type, "one-time");
	p->source = "api";
	p->created_at = p->last_updated = now;

	if (g_model.npays == g_model.cpays) {
		g_model.cpays = g_model.cpays ? g_model.cpays * 2 : 256;
		g_model.pays = xrealloc(g_model.pays,
					g_model.cpays * sizeof *g_model.pays);
	}
	g_model.pays[g_model.npays++] = p;
	struct owner *o = &g_model.owners[owner];
	if (o->npays == o->cpays) {
		o->cpays = o->cpays ? o->cpays * 2 : 64;
		o->pays = xrealloc(o->pays, o->cpays * sizeof *o->pays);
	}
	o->pays[o->npays++] = p;
	if (g_model.npays > g_model.nbuckets) {
		rehash();
	} else {
		size_t s = bucket_of(p->id, g_model.nbuckets);
		p->hnext = g_model.buckets[s];
		g_model.buckets[s] = p;
	}
	return p;
}

const char *default_response_status(const char *status, const char *given)
{
	if (strcmp(status, "success") == 0 ||
	    strcmp(status, "success_pending_validation") == 0)
		return "success";
	if (strcmp(status, "completed") == 0)
		return given && *given ? given : "success";
	if (strcmp(status, "cancelled") == 0 || strcmp(status, "canceled") == 0)
		return "cancelled";
	if (strcmp(status, "error") == 0 || strcmp(status, "failed") == 0)
		return "failed";
	/* initialize, initialized, pending, initiated, review, and others */
	return "pending";
}

/* ---------------------------------------------------------------- refunds */

/* The settle queue holds the initiated refunds ordered by created_at, so
 * --refund-settle-ms only ever looks at its head. */
static void queue_remove(struct refund *r)
{
	if (!r->queued)
		return;
	if (r->uprev)
		r->uprev->unext = r->unext;
	else
		g_model.uhead = r->unext;
	if (r->unext)
		r->unext->uprev = r->uprev;
	else
		g_model.utail = r->uprev;
	r->uprev = r->unext = NULL;
	r->queued = false;
}

static void queue_insert(struct refund *r)
{
	if (r->queued)
		return;
	struct refund *after = g_model.utail;
	while (after && after->created_at > r->created_at)
		after = after->uprev;
	r->uprev = after;
	r->unext = after ? after->unext : g_model.uhead;
	if (r->unext)
		r->unext->uprev = r;
	else
		g_model.utail = r;
	if (after)
		after->unext = r;
	else
		g_model.uhead = r;
	r->queued = true;
}

void refund_add(struct refund *r)
{
	struct payment *p = r->payment;
	if (p->refunds_tail)
		p->refunds_tail->next_of_payment = r;
	else
		p->refunds = r;
	p->refunds_tail = r;
	p->refunded += r->amount;
	if (g_model.refunds_tail)
		g_model.refunds_tail->next = r;
	else
		g_model.refunds = r;
	g_model.refunds_tail = r;
	if (strcmp(r->status, "initiated") == 0)
		queue_insert(r);
}

/* Moves a refund; the wallet and remainder follow. No effect on rpay. */
static void refund_transition(struct refund *r, const char *st, int64_t at)
{
	if (strcmp(r->status, st) == 0)
		return;
	struct owner *o = &g_model.owners[r->owner];
	if (strcmp(r->status, "failed") == 0) {
		/* leaving failed: take the wallet's part again */
		o->wallet -= r->from_wallet;
		o->wallet_updated = at;
		r->payment->refunded += r->amount;
		r->failed_at = 0;
	}
	if (strcmp(st, "completed") == 0) {
		r->success_at = at;
	} else if (strcmp(st, "failed") == 0) {
		r->failed_at = at;
		o->wallet += r->from_wallet;
		o->wallet_updated = at;
		r->payment->refunded -= r->amount;
	}
	snprintf(r->status, sizeof r->status, "%s", st);
	r->last_updated = at;
	if (strcmp(st, "initiated") == 0)
		queue_insert(r);
	else
		queue_remove(r);
}

static void set_status_fields(struct payment *p, const char *status,
			      const char *rs, int64_t at)
{
	snprintf(p->status, sizeof p->status, "%s", status);
	snprintf(p->response_status, sizeof p->response_status, "%s",
		 default_response_status(p->status, rs));
	p->last_updated = at;
}

/* true when the status or response_status differ from the saved ones */
static bool status_moved(const struct payment *p, const char *st,
			 const char *rs)
{
	return strcmp(p->status, st) != 0 || strcmp(p->response_status, rs) != 0;
}

void payment_set_status(struct payment *p, const char *status,
			const char *response_status, int64_t at)
{
	char old_st[MAX_STATUS], old_rs[MAX_STATUS];
	memcpy(old_st, p->status, sizeof old_st);
	memcpy(old_rs, p->response_status, sizeof old_rs);
	set_status_fields(p, status, response_status, at);
	if (status_moved(p, old_st, old_rs))
		webhook_status_change(p, at);
	if (p->credits_wallet && !p->credited &&
	    strcmp(p->response_status, "success") == 0) {
		struct owner *o = &g_model.owners[p->owner];
		o->wallet += p->amount;
		o->wallet_updated = at;
		p->credited = true;
	}
	if (p->refund_of) {
		const char *rs = p->response_status;
		const char *st;
		if (strcmp(rs, "success") == 0)
			st = "completed";
		else if (strcmp(rs, "failed") == 0 ||
			 strcmp(rs, "cancelled") == 0)
			st = "failed";
		else if (strcmp(p->status, "initialize") == 0)
			st = "initiated";
		else
			st = "pending";
		refund_transition(p->refund_of, st, at);
	}
}

struct refund *refund_find(const char *id)
{
	for (struct refund *r = g_model.refunds; r; r = r->next)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

void refund_set_status(struct refund *r, const char *status, int64_t at)
{
	const char *ps;
	if (strcmp(status, "completed") == 0)
		ps = "success";
	else if (strcmp(status, "failed") == 0)
		ps = "failed";
	else if (strcmp(status, "pending") == 0)
		ps = "pending";
	else
		ps = "initialize";
	char old_st[MAX_STATUS], old_rs[MAX_STATUS];
	memcpy(old_st, r->rpay->status, sizeof old_st);
	memcpy(old_rs, r->rpay->response_status, sizeof old_rs);
	refund_transition(r, status, at);
	set_status_fields(r->rpay, ps, NULL, at);
	if (status_moved(r->rpay, old_st, old_rs))
		webhook_status_change(r->rpay, at);
}

int64_t refund_remaining(const struct payment *p)
{
	return p->amount - p->refunded;
}

void settle_refunds(int64_t now)
{
	long settle = g_set.refund_settle_ms;
	if (settle <= 0)
		return;
	struct refund *r;
	while ((r = g_model.uhead) && r->created_at + settle <= now)
		refund_set_status(r, "completed", r->created_at + settle);
}

/* ------------------------------------------------- payments from fields */

int spec_bad(char *err, size_t errlen, const char *field)
{
	snprintf(err, errlen, msg(MSG_CTL_BAD_FIELD), field);
	return -1;
}

bool status_word(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n >= MAX_STATUS)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* the member k when present and not null */
static json_object *member(json_object *o, const char *k)
{
	json_object *v;
	if (!json_object_object_get_ex(o, k, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

const char *spec_str(json_object *o, const char *k, bool *present)
{
	json_object *v = member(o, k);
	*present = v != NULL;
	return v && json_object_is_type(v, json_type_string) ?
		json_object_get_string(v) : NULL;
}

int spec_key_env(json_object *o, int *key, int *env, char *err,
		 size_t errlen)
{
	json_object *v;
	*key = 0;
	*env = ENV_PRODUCTION;
	if ((v = member(o, "env"))) {
		const char *e = json_object_is_type(v, json_type_string) ?
			json_object_get_string(v) : "";
		if (strcmp(e, "production") == 0)
			*env = ENV_PRODUCTION;
		else if (strcmp(e, "production-sandbox") == 0)
			*env = ENV_SANDBOX;
		else
			return spec_bad(err, errlen, "env");
	}
	if ((v = member(o, "key"))) {
		*key = json_object_is_type(v, json_type_string) ?
			key_index(json_object_get_string(v)) : -1;
		if (*key < 0) {
			snprintf(err, errlen, "%s", msg(MSG_CTL_NO_KEY));
			return -1;
		}
	}
	return 0;
}

int spec_id(json_object *o, char out[OID_LEN + 1], bool *given, char *err,
	    size_t errlen)
{
	json_object *v = member(o, "id");
	*given = v != NULL;
	out[0] = '\0';
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string) ||
	    !is_oid(json_object_get_string(v)))
		return spec_bad(err, errlen, "id");
	memcpy(out, json_object_get_string(v), OID_LEN + 1);
	return 0;
}

/*
 * The start of every seeded or control-made object: o is an object, with
 * an optional id, key and env.
 */
int spec_head(json_object *o, char id[OID_LEN + 1], bool *has_id, int *key,
	      int *env, char *err, size_t errlen)
{
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "%s", msg(MSG_CTL_BAD_JSON));
		return -1;
	}
	if (spec_id(o, id, has_id, err, errlen) < 0 ||
	    spec_key_env(o, key, env, err, errlen) < 0)
		return -1;
	return 0;
}

/* Reads a payment spec; the strings point into o. */
int pay_spec_parse(json_object *o, bool need_amount, struct pay_spec *s,
		   char *err, size_t errlen)
{
	json_object *v;
	memset(s, 0, sizeof *s);
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "%s", msg(MSG_CTL_BAD_JSON));
		return -1;
	}
	if (!(v = member(o, "status")) ||
	    !json_object_is_type(v, json_type_string) ||
	    !status_word(json_object_get_string(v)))
		return spec_bad(err, errlen, "status");
	s->status = json_object_get_string(v);
	if ((v = member(o, "amount"))) {
		if (!json_object_is_type(v, json_type_int) ||
		    (s->amount = json_object_get_int64(v)) <= 0 ||
		    s->amount > MAX_KOBO)
			return spec_bad(err, errlen, "amount");
	} else if (need_amount) {
		return spec_bad(err, errlen, "amount");
	}
	if ((v = member(o, "currency")) &&
	    (!json_object_is_type(v, json_type_string) ||
	     strcmp(json_object_get_string(v), "NGN") != 0))
		return spec_bad(err, errlen, "currency");
	if ((v = member(o, "customer"))) {
		if (!json_object_is_type(v, json_type_string) ||
		    !is_oid(json_object_get_string(v)))
			return spec_bad(err, errlen, "customer");
		s->customer = json_object_get_string(v);
	}
	if ((v = member(o, "response_status"))) {
		if (!json_object_is_type(v, json_type_string) ||
		    !status_word(json_object_get_string(v)))
			return spec_bad(err, errlen, "response_status");
		s->response_status = json_object_get_string(v);
	}
	bool has_id;
	if (spec_key_env(o, &s->key, &s->env, err, errlen) < 0 ||
	    spec_id(o, s->id, &has_id, err, errlen) < 0)
		return -1;
	if (has_id && payment_find(s->id)) {
		snprintf(err, errlen, "%s", msg(MSG_CTL_DUP_ID));
		return -1;
	}
	return 0;
}

struct payment *payment_from_spec(const struct pay_spec *s, int owner)
{
	struct payment *p = payment_new(owner, s->env, *s->id ? s->id : NULL);
	p->amount = s->amount;
	if (s->customer)
		memcpy(p->customer, s->customer, OID_LEN + 1);
	else
		new_oid(p->created_at, p->customer);
	set_status_fields(p, s->status, s->response_status, p->created_at);
	return p;
}

/* Creates a payment from a seed entry or a control request. */
int payment_from_fields(json_object *o, char *err, size_t errlen,
			struct payment **out)
{
	struct pay_spec s;
	if (pay_spec_parse(o, true, &s, err, errlen) < 0)
		return -1;
	struct payment *p = payment_from_spec(&s, g_model.key_owner[s.key]);
	if (out)
		*out = p;
	return 0;
}

/* ------------------------------------------------------------------ seed */

int seed_load(char *err, size_t errlen)
{
	if (!g_cfg.seed_path)
		return 0;
	g_seed = json_object_from_file(g_cfg.seed_path);
	if (!g_seed || !json_object_is_type(g_seed, json_type_object)) {
		snprintf(err, errlen, "cannot read seed file %s: %s",
			 g_cfg.seed_path,
			 g_seed ? "not a JSON object" : json_util_get_last_err());
		return -1;
	}
	return 0;
}

static int seed_wallet(int64_t *out, char *err, size_t errlen)
{
	json_object *v;
	*out = g_cfg.wallet;
	if (!g_seed || !json_object_object_get_ex(g_seed, "wallet", &v))
		return 0;
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0 || json_object_get_int64(v) > MAX_KOBO) {
		snprintf(err, errlen, "seed: invalid wallet");
		return -1;
	}
	*out = json_object_get_int64(v);
	return 0;
}

/* seed key k: an array of entries, each made by add() */
static int seed_array(json_object *seed, const char *k, const char *what,
		      int (*add)(json_object *, char *, size_t), char *err,
		      size_t errlen)
{
	json_object *list;
	if (!json_object_object_get_ex(seed, k, &list))
		return 0;
	if (!json_object_is_type(list, json_type_array)) {
		snprintf(err, errlen, "seed: %s must be an array", k);
		return -1;
	}
	size_t n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		char e[256];
		if (add(json_object_array_get_idx(list, i), e, sizeof e) < 0) {
			snprintf(err, errlen, "seed: %s %zu: %s", what, i, e);
			return -1;
		}
	}
	return 0;
}

static int seed_payment(json_object *o, char *err, size_t errlen)
{
	return payment_from_fields(o, err, errlen, NULL);
}

static int seed_auth(json_object *o, char *err, size_t errlen)
{
	return auth_from_fields(o, NULL, err, errlen);
}

int seed_apply(json_object *seed, char *err, size_t errlen)
{
	if (!seed)
		return 0;
	if (seed_array(seed, "payments", "payment", seed_payment, err,
		       errlen) < 0 ||
	    seed_array(seed, "links", "link", link_from_fields, err,
		       errlen) < 0 ||
	    seed_array(seed, "authorizations", "authorization", seed_auth,
		       err, errlen) < 0 ||
	    seed_array(seed, "payouts", "payout", payout_from_fields, err,
		       errlen) < 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------- lifecycle */

int model_init(char *err, size_t errlen)
{
	int64_t wallet, now = now_ms();
	memset(&g_model, 0, sizeof g_model);
	if (seed_wallet(&wallet, err, errlen) < 0)
		return -1;
	g_model.owners = xcalloc(g_cfg.nkeys, sizeof *g_model.owners);
	g_model.key_owner = xcalloc(g_cfg.nkeys, sizeof *g_model.key_owner);
	for (size_t k = 0; k < g_cfg.nkeys; k++) {
		char id[OID_LEN + 1];
		owner_id_for_key(g_cfg.keys[k], id);
		size_t j;
		for (j = 0; j < g_model.nowners; j++)
			if (strcmp(g_model.owners[j].id, id) == 0)
				break;
		if (j == g_model.nowners) {
			struct owner *o = &g_model.owners[g_model.nowners++];
			memcpy(o->id, id, sizeof id);
			char seed[64];
			snprintf(seed, sizeof seed, "wallet:%s", id);
			derived_oid(seed, o->wallet_id);
			o->wallet = wallet;
			o->wallet_updated = now;
		}
		g_model.key_owner[k] = (int)j;
	}
	rehash();
	return seed_apply(g_seed, err, errlen);
}

void model_free(void)
{
	for (size_t i = 0; i < g_model.npays; i++)
		free(g_model.pays[i]);
	free(g_model.pays);
	free(g_model.buckets);
	struct refund *r = g_model.refunds, *rn;
	for (; r; r = rn) {
		rn = r->next;
		free(r->reason);
		free(r);
	}
	struct payout *po = g_model.payouts, *pn;
	for (; po; po = pn) {
		pn = po->next;
		free(po);
	}
	struct link *l = g_model.links, *ln;
	for (; l; l = ln) {
		ln = l->next;
		free(l->name);
		free(l->note);
		free(l);
	}
	struct authorization *a = g_model.auths, *an;
	for (; a; a = an) {
		an = a->next;
		auth_free(a);
	}
	struct bulkfile *b = g_model.bulkfiles, *bn;
	for (; b; b = bn) {
		bn = b->next;
		free(b->file_name);
		free(b->pays);
		free(b);
	}
	for (size_t i = 0; i < g_model.nowners; i++)
		free(g_model.owners[i].pays);
	free(g_model.owners);
	free(g_model.key_owner);
	memset(&g_model, 0, sizeof g_model);
}

void seed_free(void)
{
	if (g_seed)
		json_object_put(g_seed);
	g_seed = NULL;
}
