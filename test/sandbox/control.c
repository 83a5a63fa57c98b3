/*
 * The control API under /_sandbox/ (README.md, "Control API"). The caller
 * (http.c) has already checked that the client is on loopback.
 */
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CT_JSON = "application/json; charset=utf-8";

static void ctl_json(struct resp *out, int status, json_object *o)
{
	resp_set(out, status, json_dump(o), CT_JSON);
	json_object_put(o);
}

static void ctl_err(struct resp *out, int status, const char *message)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(message));
	ctl_json(out, status, o);
}

static void ctl_bad(struct resp *out, const char *field)
{
	char buf[128];
	snprintf(buf, sizeof buf, msg(MSG_CTL_BAD_FIELD), field);
	ctl_err(out, 400, buf);
}

static json_object *ok_json(void)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

static json_object *one(const char *k, json_object *v)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, k, v);
	return o;
}

static const char *str_field(json_object *b, const char *k)
{
	json_object *v;
	if (!json_object_object_get_ex(b, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool has(json_object *b, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(b, k, &v) &&
	       !json_object_is_type(v, json_type_null);
}

static json_object *settings_json(void)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "rate_limit",
			       json_object_new_int64(g_set.rate_limit));
	json_object_object_add(o, "latency_ms",
			       json_object_new_int64(g_set.latency_ms));
	json_object_object_add(o, "jitter_ms",
			       json_object_new_int64(g_set.jitter_ms));
	json_object_object_add(o, "refund_settle_ms",
			       json_object_new_int64(g_set.refund_settle_ms));
	return o;
}

static json_object *wallet_json(const struct owner *o)
{
	json_object *w = shape_wallet(o, ENV_PRODUCTION);
	json_object_object_add(w, "owner", json_object_new_string(o->id));
	return w;
}

/* ---------------------------------------------------------------- routes */

static void create_payment(json_object *b, struct resp *out)
{
	char err[256];
	struct payment *p;
	lock();
	settle_refunds(now_ms());
	if (payment_from_fields(b, err, sizeof err, &p) < 0)
		ctl_err(out, 400, err);
	else
		ctl_json(out, 200, one("payment", shape_payment(p, true)));
	unlock();
}

static void move_payment(const char *id, json_object *b, struct resp *out)
{
	const char *st = str_field(b, "status");
	const char *rs = str_field(b, "response_status");
	if (!status_word(st)) {
		ctl_bad(out, "status");
		return;
	}
	if (has(b, "response_status") && !status_word(rs)) {
		ctl_bad(out, "response_status");
		return;
	}
	lock();
	int64_t now = now_ms();
	settle_refunds(now);
	struct payment *p = payment_find(id);
	if (!p) {
		ctl_err(out, 404, msg(MSG_CTL_NO_PAYMENT));
	} else if (p->refund_of &&
		   strcmp(p->refund_of->status, "failed") == 0 &&
		   strcmp(default_response_status(st, rs), "failed") != 0) {
		ctl_err(out, 400, msg(MSG_CTL_REFUND_FINAL));
	} else {
		payment_set_status(p, st, rs, now);
		json_object *o = one("payment", shape_payment(p, true));
		if (p->refund_of)
			json_object_object_add(o, "refund",
					       shape_refund(p->refund_of));
		ctl_json(out, 200, o);
	}
	unlock();
}

static void move_refund(const char *id, json_object *b, struct resp *out)
{
	const char *st = str_field(b, "status");
	if (!st || (strcmp(st, "completed") != 0 && strcmp(st, "failed") != 0 &&
		    strcmp(st, "pending") != 0 && strcmp(st, "initiated") != 0)) {
		ctl_bad(out, "status");
		return;
	}
	lock();
	int64_t now = now_ms();
	settle_refunds(now);
	struct refund *r = refund_find(id);
	if (!r) {
		ctl_err(out, 404, msg(MSG_CTL_NO_REFUND));
	} else if (strcmp(r->status, "failed") == 0 &&
		   strcmp(st, "failed") != 0) {
		ctl_err(out, 400, msg(MSG_CTL_REFUND_FINAL));
	} else {
		refund_set_status(r, st, now);
		json_object *o = one("refund", shape_refund(r));
		json_object_object_add(o, "refund_payment",
				       shape_payment(r->rpay, true));
		ctl_json(out, 200, o);
	}
	unlock();
}

/* "<prefix><24 hex>[/<action>]": true when path is that, id filled */
static bool id_path(const char *path, const char *prefix, const char *action,
		    char id[OID_LEN + 1])
{
	size_t n = strlen(prefix);
	if (strncmp(path, prefix, n) != 0 || strlen(path + n) < OID_LEN)
		return false;
	memcpy(id, path + n, OID_LEN);
	id[OID_LEN] = '\0';
	const char *rest = path + n + OID_LEN;
	if (!action)
		return *rest == '\0';
	return rest[0] == '/' && strcmp(rest + 1, action) == 0;
}

static void pay_link(const char *id, json_object *b, struct resp *out)
{
	char err[256];
	struct payment *p;
	lock();
	settle_refunds(now_ms());
	struct link *l = link_find(id);
	if (!l) {
		ctl_err(out, 404, msg(MSG_CTL_NO_LINK));
	} else if (link_pay(l, b, &p, err, sizeof err) < 0) {
		ctl_err(out, 400, err);
	} else {
		json_object *o = one("payment", shape_payment(p, true));
		json_object_object_add(o, "link", shape_link(l));
		ctl_json(out, 200, o);
	}
	unlock();
}

static void create_authorization(json_object *b, struct resp *out)
{
	char err[256];
	struct authorization *a;
	lock();
	if (auth_from_fields(b, &a, err, sizeof err) < 0)
		ctl_err(out, 400, err);
	else
		ctl_json(out, 200, one("authorization", shape_authorization(a)));
	unlock();
}

static void customer_cancels(const char *id, struct resp *out)
{
	lock();
	struct authorization *a = auth_find(id);
	if (!a)
		ctl_err(out, 404, msg(MSG_CTL_NO_AUTH));
	else if (strcmp(a->cancelled_by, "customer") == 0)
		ctl_err(out, 400, msg(MSG_CTL_AUTH_CUSTOMER));
	else {
		auth_cancel_by_customer(a, now_ms());
		ctl_json(out, 200, one("authorization", shape_authorization(a)));
	}
	unlock();
}

static void move_payout(const char *id, json_object *b, struct resp *out)
{
	char err[256];
	lock();
	struct payout *po = payout_find(id);
	if (!po) {
		ctl_err(out, 404, msg(MSG_CTL_NO_PAYOUT));
	} else if (payout_set_status(po, str_field(b, "status"), err,
				     sizeof err) < 0) {
		ctl_err(out, 400, err);
	} else {
		json_object *o = one("payout", shape_payout(po));
		json_object_object_add(o, "wallet",
				       wallet_json(&g_model.owners[po->owner]));
		ctl_json(out, 200, o);
	}
	unlock();
}

/* GET links, authorizations, payouts, bulkfiles: every owner's */
static json_object *all_links(int owner)
{
	json_object *a = json_object_new_array();
	for (struct link *l = g_model.links; l; l = l->next)
		if (owner < 0 || l->owner == owner)
			json_object_array_add(a, shape_link(l));
	return a;
}

static json_object *all_auths(int owner)
{
	json_object *a = json_object_new_array();
	for (struct authorization *x = g_model.auths; x; x = x->next)
		if (owner < 0 || x->owner == owner)
			json_object_array_add(a, shape_authorization(x));
	return a;
}

static json_object *all_payouts(int owner)
{
	json_object *a = json_object_new_array();
	for (struct payout *po = g_model.payouts; po; po = po->next)
		if (owner < 0 || po->owner == owner)
			json_object_array_add(a, shape_payout(po));
	return a;
}

static json_object *all_bulkfiles(int owner)
{
	json_object *a = json_object_new_array();
	for (struct bulkfile *f = g_model.bulkfiles; f; f = f->next)
		if (owner < 0 || f->owner == owner)
			json_object_array_add(a, shape_bulkfile(f));
	return a;
}

static void list_all(const char *key, json_object *(*all)(int),
		     struct resp *out)
{
	lock();
	ctl_json(out, 200, one(key, all(-1)));
	unlock();
}

static void set_wallet(json_object *b, struct resp *out)
{
	json_object *v;
	int key = 0;
	if (!json_object_object_get_ex(b, "amount", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0 || json_object_get_int64(v) > MAX_KOBO) {
		ctl_bad(out, "amount");
		return;
	}
	int64_t amount = json_object_get_int64(v);
	if (has(b, "key")) {
		const char *k = str_field(b, "key");
		if (!k || (key = key_index(k)) < 0) {
			ctl_err(out, 400, msg(MSG_CTL_NO_KEY));
			return;
		}
	}
	lock();
	struct owner *o = owner_of_key(key);
	o->wallet = amount;
	o->wallet_updated = now_ms();
	ctl_json(out, 200, one("wallet", wallet_json(o)));
	unlock();
}

static void set_config(json_object *b, struct resp *out)
{
	static const char *const names[] = {
		"rate_limit", "latency_ms", "jitter_ms", "refund_settle_ms"
	};
	long vals[4];
	bool set[4];
	for (int i = 0; i < 4; i++) {
		json_object *v;
		set[i] = has(b, names[i]);
		if (!set[i])
			continue;
		json_object_object_get_ex(b, names[i], &v);
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > 86400000L) {
			ctl_bad(out, names[i]);
			return;
		}
		vals[i] = (long)json_object_get_int64(v);
	}
	lock();
	settle_refunds(now_ms());
	if (set[0])
		g_set.rate_limit = vals[0];
	if (set[1])
		g_set.latency_ms = vals[1];
	if (set[2])
		g_set.jitter_ms = vals[2];
	if (set[3])
		g_set.refund_settle_ms = vals[3];
	ctl_json(out, 200, one("config", settings_json()));
	unlock();
}

static json_object *state_json(void)
{
	json_object *owners = json_object_new_array();
	for (size_t i = 0; i < g_model.nowners; i++) {
		struct owner *o = &g_model.owners[i];
		json_object *ow = json_object_new_object();
		json_object_object_add(ow, "owner", json_object_new_string(o->id));
		json_object *keys = json_object_new_array();
		for (size_t k = 0; k < g_cfg.nkeys; k++)
			if (g_model.key_owner[k] == (int)i)
				json_object_array_add(keys,
					json_object_new_string(g_cfg.keys[k]));
		json_object_object_add(ow, "keys", keys);
		json_object_object_add(ow, "wallet", wallet_json(o));
		json_object *pays = json_object_new_array();
		for (size_t p = 0; p < o->npays; p++) {
			json_object *x = shape_payment(o->pays[p], true);
			json_object_object_add(x, "type",
				json_object_new_string(o->pays[p]->type));
			json_object_array_add(pays, x);
		}
		json_object_object_add(ow, "payments", pays);
		json_object *refs = json_object_new_array();
		for (struct refund *r = g_model.refunds; r; r = r->next) {
			if (r->owner != (int)i)
				continue;
			json_object *x = shape_refund(r);
			json_object_object_add(x, "refund_payment",
					       json_object_new_string(r->rpay->id));
			json_object_object_add(x, "from_wallet",
					       json_object_new_int64(r->from_wallet));
			json_object_object_add(x, "account", jstr_or_null(r->account));
			json_object_array_add(refs, x);
		}
		json_object_object_add(ow, "refunds", refs);
		json_object_object_add(ow, "payouts", all_payouts((int)i));
		json_object_object_add(ow, "links", all_links((int)i));
		json_object_object_add(ow, "authorizations", all_auths((int)i));
		json_object_object_add(ow, "bulkfiles", all_bulkfiles((int)i));
		json_object_array_add(owners, ow);
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "config", settings_json());
	json_object_object_add(o, "owners", owners);
	return o;
}

void sandbox_reset(void)
{
	char err[256];
	model_free();
	if (model_init(err, sizeof err) < 0)
		log_line("okra-sandbox: reset: %s", err);
	counters_clear();
	faults_clear();
	idem_clear();
	rate_clear();
	webhooks_reset();
	g_set = g_cfg.initial;
}

void sandbox_free_all(void)
{
	lock();
	model_free();
	seed_free();
	counters_clear();
	faults_clear();
	idem_clear();
	rate_clear();
	unlock();
}

/* webhooks, webhooks/faults, webhooks/lie (README.md, "Webhooks") */
static void webhooks_route(const char *method, const char *rest,
			   json_object *b, struct resp *out)
{
	char err[256];
	json_object *o = NULL;
	bool post = strcmp(method, "POST") == 0;
	if (strcmp(rest, "") == 0 && strcmp(method, "GET") == 0) {
		ctl_json(out, 200, one("webhooks", webhooks_json()));
	} else if (strcmp(rest, "") == 0 && post) {
		if (webhooks_configure(b, err, sizeof err) < 0)
			ctl_err(out, 400, err);
		else
			ctl_json(out, 200, one("webhooks", webhooks_json()));
	} else if (strcmp(rest, "/faults") == 0 && post) {
		if (webhooks_fault_arm(b, &o, err, sizeof err) < 0)
			ctl_err(out, 400, err);
		else
			ctl_json(out, 200, one("fault", o));
	} else if (strcmp(rest, "/faults") == 0 &&
		   strcmp(method, "GET") == 0) {
		ctl_json(out, 200, webhooks_faults_json());
	} else if (strcmp(rest, "/faults") == 0 &&
		   strcmp(method, "DELETE") == 0) {
		webhooks_faults_clear();
		ctl_json(out, 200, ok_json());
	} else if (strcmp(rest, "/lie") == 0 && post) {
		int st = webhooks_lie(b, &o, err, sizeof err);
		if (st)
			ctl_err(out, st, err);
		else
			ctl_json(out, 200, o);
	} else {
		ctl_err(out, 404, msg(MSG_CTL_NOT_FOUND));
	}
}

/* path: the part after "/_sandbox/" */
void control_handle(const char *method, const char *path, const char *body,
		    size_t blen, bool too_large, struct resp *out)
{
	bool post = strcmp(method, "POST") == 0;
	bool get = strcmp(method, "GET") == 0;
	bool del = strcmp(method, "DELETE") == 0;
	json_object *b = NULL;

	if (too_large) {
		ctl_err(out, 413, msg(MSG_TOO_LARGE));
		return;
	}
	if (post) {
		if (blen == 0) {
			b = json_object_new_object();
		} else {
			b = json_parse_body(body, blen);
			if (!b || !json_object_is_type(b, json_type_object)) {
				json_object_put(b);
				ctl_err(out, 400, msg(MSG_CTL_BAD_JSON));
				return;
			}
		}
	}

	char id[OID_LEN + 1];
	if (post && strcmp(path, "payments") == 0) {
		create_payment(b, out);
	} else if (post && strncmp(path, "payments/", 9) == 0) {
		move_payment(path + 9, b, out);
	} else if (post && strncmp(path, "refunds/", 8) == 0) {
		move_refund(path + 8, b, out);
	} else if (post && id_path(path, "links/", "pay", id)) {
		pay_link(id, b, out);
	} else if (get && strcmp(path, "links") == 0) {
		list_all("links", all_links, out);
	} else if (post && strcmp(path, "authorizations") == 0) {
		create_authorization(b, out);
	} else if (post && id_path(path, "authorizations/", "cancel-by-customer",
				   id)) {
		customer_cancels(id, out);
	} else if (get && strcmp(path, "authorizations") == 0) {
		list_all("authorizations", all_auths, out);
	} else if (post && id_path(path, "payouts/", NULL, id)) {
		move_payout(id, b, out);
	} else if (get && strcmp(path, "payouts") == 0) {
		list_all("payouts", all_payouts, out);
	} else if (get && strcmp(path, "bulkfiles") == 0) {
		list_all("bulkfiles", all_bulkfiles, out);
	} else if (post && strcmp(path, "wallet") == 0) {
		set_wallet(b, out);
	} else if (post && strcmp(path, "config") == 0) {
		set_config(b, out);
	} else if (get && strcmp(path, "counters") == 0) {
		lock();
		ctl_json(out, 200, counters_json());
		unlock();
	} else if (get && strcmp(path, "state") == 0) {
		lock();
		settle_refunds(now_ms());
		ctl_json(out, 200, state_json());
		unlock();
	} else if (post && strcmp(path, "reset") == 0) {
		lock();
		sandbox_reset();
		unlock();
		ctl_json(out, 200, ok_json());
	} else if (post && strcmp(path, "faults") == 0) {
		char err[256];
		json_object *f;
		if (fault_arm(b, &f, err, sizeof err) < 0)
			ctl_err(out, 400, err);
		else
			ctl_json(out, 200, one("fault", f));
	} else if (get && strcmp(path, "faults") == 0) {
		ctl_json(out, 200, faults_list());
	} else if (del && strcmp(path, "faults") == 0) {
		lock();
		faults_clear();
		unlock();
		ctl_json(out, 200, ok_json());
	} else if (strncmp(path, "webhooks", 8) == 0 &&
		   (path[8] == '\0' || path[8] == '/')) {
		webhooks_route(method, path + 8, b, out);
	} else {
		ctl_err(out, 404, msg(MSG_CTL_NOT_FOUND));
	}
	json_object_put(b);
}
