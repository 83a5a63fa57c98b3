/*
 * okra-sandbox: a local emulator of Okra's payments API v2.
 * Shared declarations. The behavioural contract is README.md.
 *
 * Locking: one global mutex (g_lock) guards the model, the counters, the
 * faults, the idempotency store, the rate windows and the run-time
 * settings. No pointer into any of those is kept across an unlock.
 */
#ifndef OKRA_SANDBOX_H
#define OKRA_SANDBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define OID_LEN 24
#define MAX_STATUS 40
#define MAX_KOBO 1000000000000000LL	/* 10^15: sums never overflow */

/* ------------------------------------------------------------ messages */

enum msg_id {
	MSG_VERIFY_OK,
	MSG_INITIATE_OK,
	MSG_REFUND_OK,
	MSG_REFUND_INNER_OK,
	MSG_PAYOUT_OK,
	MSG_PAYOUT_GET_OK,
	MSG_LINK_OK,
	MSG_AUTH_INITIATE_OK,	/* printf format: %s %lld %lld */
	MSG_AUTH_CANCEL_OK,
	MSG_AUTH_REAUTH_OK,
	MSG_AUTH_LIST_OK,
	MSG_BULK_OK,
	MSG_CANCEL_OK,
	MSG_GET_OK,
	MSG_LIST_OK,
	MSG_REFUND_DUPLICATE,
	MSG_REFUND_TOO_MUCH,
	MSG_REFUND_NOT_SUCCESS,
	MSG_REFUND_WALLET_SHORT,
	MSG_PAYOUT_WALLET_SHORT,
	MSG_NOT_CANCELLABLE,
	MSG_NOT_FOUND,
	MSG_PAYOUT_NOT_FOUND,
	MSG_AUTH_NOT_FOUND,
	MSG_AUTH_CANCELLED,
	MSG_AUTH_NOT_CANCELLED,
	MSG_AUTH_BY_CUSTOMER,
	MSG_DATE_ORDER,		/* printf format: %s %s, the two fields */
	MSG_BULK_HEADER,
	MSG_BULK_EMPTY,
	MSG_BULK_ROW,		/* printf format: %s %zu, the field and row */
	MSG_BULK_COLUMNS,	/* printf format: %zu %zu, the row and count */
	MSG_INVALID_FIELD,	/* printf format, one %s: the field */
	MSG_BAD_PAYLOAD,
	MSG_TOO_LARGE,
	MSG_BAD_KEY,
	MSG_NO_ROUTE,
	MSG_RATE_LIMIT,
	MSG_IDEM_MISMATCH,
	MSG_IDEM_IN_FLIGHT,
	MSG_TIMEOUT,
	MSG_SERVER_ERROR,
	MSG_HTML_PAGE,		/* printf format: %d %s %d %s */
	MSG_CTL_FORBIDDEN,
	MSG_CTL_NOT_FOUND,
	MSG_CTL_BAD_JSON,
	MSG_CTL_BAD_FIELD,	/* printf format, one %s: the field */
	MSG_CTL_NO_PAYMENT,
	MSG_CTL_NO_REFUND,
	MSG_CTL_NO_KEY,
	MSG_CTL_DUP_ID,
	MSG_CTL_REFUND_FINAL,
	MSG_CTL_DUP_OBJECT,
	MSG_CTL_NO_LINK,
	MSG_CTL_LINK_AMOUNT,
	MSG_CTL_NO_AUTH,
	MSG_CTL_AUTH_CUSTOMER,
	MSG_CTL_NO_PAYOUT,
	MSG_CTL_PAYOUT_FINAL,
	MSG_CTL_WH_OFF,
	MSG_CTL_WH_NOT_A_LIE,
	MSG_COUNT
};

const char *msg(enum msg_id id);
const char *http_reason(int status);

/* -------------------------------------------------------------- config */

struct settings {
	long rate_limit;
	long latency_ms;
	long jitter_ms;
	long refund_settle_ms;
};

struct config {
	const char *host;
	unsigned port;
	const char **keys;
	size_t nkeys;
	const char *tls_cert;
	const char *tls_key;
	struct settings initial;
	int64_t wallet;
	const char *seed_path;
	size_t max_body;
	int verbose;
	bool quiet;
	const char *webhook_url;	/* NULL: no webhooks */
	const char *webhook_token;	/* NULL: no Authorization header */
	long webhook_tries;
	long webhook_backoff_ms;
	long webhook_timeout_ms;
};

extern struct config g_cfg;
extern struct settings g_set;	/* current settings, under g_lock */
extern pthread_mutex_t g_lock;

void lock(void);
void unlock(void);

/* ---------------------------------------------------------------- util */

int64_t now_ms(void);
void iso_time(int64_t ms, char out[32]);
void new_oid(int64_t ms, char out[OID_LEN + 1]);
void derived_oid(const char *seed, char out[OID_LEN + 1]);
void new_ref(char out[16]);
uint64_t rnd64(void);
bool is_oid(const char *s);
uint64_t hash64(const char *s, size_t n);
char *xstrdup(const char *s);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *b64url_decode(const char *s, size_t n, size_t *outlen);
char *json_dump(json_object *o);	/* malloc'd compact text */
json_object *json_parse_body(const char *s, size_t n);

/* Sleeps a stop may cut short (see util.c); false when cut short. */
bool sb_sleep_ms(long ms);	/* latency, delay, trickle: up to the grace */
bool sb_hang_ms(long ms);	/* hang faults: end at once on stop */
void sb_begin_stop(long grace_ms);

/* string-keyed map with insertion order */
struct smap_ent {
	char *key;
	void *val;
	struct smap_ent *next;	/* bucket chain */
	struct smap_ent *onext;	/* insertion order */
	struct smap_ent *oprev;
};
struct smap {
	struct smap_ent **b;
	size_t nb, n;
	struct smap_ent *ohead, *otail;
};
void *smap_get(const struct smap *m, const char *key);
void smap_put(struct smap *m, const char *key, void *val);	/* new key */
void *smap_del(struct smap *m, const char *key);	/* returns val */
void smap_clear(struct smap *m, void (*freeval)(void *));

/* --------------------------------------------------------------- model */

enum env { ENV_PRODUCTION = 0, ENV_SANDBOX = 1 };
const char *env_name(int env);

struct refund;
struct link;

/* schedule of a recurring payment or link: {interval, startDate, endDate} */
struct schedule {
	bool set;
	char interval[12];
	char start[11];		/* YYYY-MM-DD */
	char end[11];		/* "" = never stops */
};

struct payment {
	char id[OID_LEN + 1];
	int owner;
	int env;
	char status[MAX_STATUS];
	char response_status[MAX_STATUS];
	int64_t amount;
	char currency[8];
	char customer[OID_LEN + 1];	/* "" = null */
	char debit_account[OID_LEN + 1];
	char credit_account[OID_LEN + 1];	/* "" = "Okra Wallet" */
	char record[OID_LEN + 1];
	char ref[16];
	char bank[OID_LEN + 1];
	char type[12];		/* one-time, recurring */
	const char *source;	/* static: api, link, bulk */
	struct link *link;	/* the link paid through, or NULL */
	struct schedule sched;
	int64_t created_at, last_updated;
	bool credits_wallet, credited;
	int64_t refunded;		/* sum of refunds that have not failed */
	struct refund *refund_of;	/* set on refund payments */
	struct refund *refunds;		/* refunds against this payment */
	struct refund *refunds_tail;
	struct payment *hnext;
};

struct refund {
	char id[OID_LEN + 1];
	char record[OID_LEN + 1];
	int owner;
	int env;
	struct payment *payment;
	struct payment *rpay;
	int64_t amount;
	int64_t from_wallet;
	char account[OID_LEN + 1];	/* "" = none */
	char *reason;			/* NULL = null */
	char status[16];
	int64_t created_at, last_updated;
	int64_t success_at, failed_at;	/* 0 = null */
	struct refund *next_of_payment;
	struct refund *next;		/* all refunds */
	struct refund *uprev, *unext;	/* settle queue (initiated ones) */
	bool queued;
};

struct payout {
	char id[OID_LEN + 1];
	char ref[24];
	int owner;
	int env;
	int64_t amount;
	char status[16];	/* initiated, success, failed */
	char account_to_credit[OID_LEN + 1];
	char nuban[16];
	char bank[OID_LEN + 1];
	int64_t created_at, last_updated;
	struct payout *next;
};

struct link {
	char id[OID_LEN + 1];
	int owner;
	int env;
	char short_code[16];
	char *name;
	char *note;		/* NULL = null */
	int64_t amount;		/* 0 = null: the payer chooses */
	char currency[8];
	char account[OID_LEN + 1];
	char type[12];
	struct schedule sched;
	bool data;
	long count;		/* payments made through it */
	int64_t created_at, last_updated;
	struct link *next;
};

struct authorization {
	char id[OID_LEN + 1];
	int owner;
	int env;
	char customer[OID_LEN + 1];
	char (*accounts)[OID_LEN + 1];
	size_t naccounts;
	char link[OID_LEN + 1];
	char status[16];	/* active, cancelled */
	char cancelled_by[16];	/* "", merchant, customer */
	int64_t disconnected_at;	/* 0 = null */
	bool initiated;		/* pay/authorization/initiate has run */
	char start[11], end[11];	/* YYYY-MM-DD; end "" = none */
	char interval[12];	/* "" = none (one-time) */
	int64_t amount, initial_amount;
	bool one_time;
	int64_t created_at, last_updated;
	struct authorization *next;
};

struct bulkfile {
	char id[OID_LEN + 1];
	int owner;
	int env;
	char user[OID_LEN + 1];
	char *file_name;
	char status[16];
	size_t npays;
	char (*pays)[OID_LEN + 1];
	int64_t created_at;
	struct bulkfile *next;
};

struct owner {
	char id[OID_LEN + 1];
	char wallet_id[OID_LEN + 1];
	int64_t wallet;
	int64_t wallet_updated;
	struct payment **pays;		/* this owner's, creation order */
	size_t npays, cpays;
};

struct model {
	struct owner *owners;
	size_t nowners;
	int *key_owner;			/* per --key */
	struct payment **pays;		/* creation order */
	size_t npays, cpays;
	struct payment **buckets;
	size_t nbuckets;
	struct refund *refunds, *refunds_tail;
	struct refund *uhead, *utail;	/* initiated refunds by created_at */
	struct payout *payouts, *payouts_tail;
	struct link *links, *links_tail;
	struct authorization *auths, *auths_tail;
	struct bulkfile *bulkfiles, *bulkfiles_tail;
};

extern struct model g_model;

/* model.c (all under g_lock) */
int model_init(char *err, size_t errlen);	/* owners + seed */
void model_free(void);
void owner_id_for_key(const char *key, char out[OID_LEN + 1]);
int key_index(const char *key);			/* -1 unknown */
struct owner *owner_of_key(int key);
struct payment *payment_find(const char *id);
struct payment *payment_new(int owner, int env, const char *id);
void payment_set_status(struct payment *p, const char *status,
			const char *response_status, int64_t at);
const char *default_response_status(const char *status, const char *given);
struct refund *refund_find(const char *id);
void refund_set_status(struct refund *r, const char *status, int64_t at);
void refund_add(struct refund *r);	/* links a new initiated refund */
int64_t refund_remaining(const struct payment *p);
void settle_refunds(int64_t now);
int seed_apply(json_object *seed, char *err, size_t errlen);
int seed_load(char *err, size_t errlen);
int payment_from_fields(json_object *o, char *err, size_t errlen,
			struct payment **out);
void seed_free(void);

/* A payment described by a control request or a seed entry. */
struct pay_spec {
	const char *status, *response_status, *customer;
	char id[OID_LEN + 1];	/* "" = a new one */
	int64_t amount;		/* 0: not given */
	int key;		/* --key index ("key"), 0 by default */
	int env;
};
int pay_spec_parse(json_object *o, bool need_amount, struct pay_spec *s,
		   char *err, size_t errlen);
struct payment *payment_from_spec(const struct pay_spec *s, int owner);
/* "key" and "env" of a control body or seed entry (defaults 0, production) */
int spec_key_env(json_object *o, int *key, int *env, char *err,
		 size_t errlen);
/* "id" of a control body or seed entry: *given false when absent */
int spec_id(json_object *o, char out[OID_LEN + 1], bool *given, char *err,
	    size_t errlen);
int spec_head(json_object *o, char id[OID_LEN + 1], bool *has_id, int *key,
	      int *env, char *err, size_t errlen);
bool status_word(const char *s);	/* [a-z_]+, shorter than MAX_STATUS */
/* "Invalid or missing <field>." into err; returns -1 */
int spec_bad(char *err, size_t errlen, const char *field);
/* member k as a string (NULL when absent, null or not a string);
 * *present: there and not null */
const char *spec_str(json_object *o, const char *k, bool *present);
void owner_business_account(int owner, char out[OID_LEN + 1]);

/* append to a singly linked list with head and tail pointers */
#define LIST_APPEND(head, tail, item)          \
	do {                                   \
		if (tail)                      \
			(tail)->next = (item); \
		else                           \
			(head) = (item);       \
		(tail) = (item);               \
	} while (0)

/* schedule.c: dates and schedules */
bool date_parse(const char *s, bool slashes_too, char out[11]);
void date_today(char out[11]);
int schedule_parse(json_object *o, const char *prefix,
		   const char *dflt_interval, struct schedule *s, char *err,
		   size_t errlen);
bool interval_ok(const char *s, bool future_payments);
json_object *schedule_json(const struct schedule *s);
void date_order_error(const char *first, const char *second, char *err,
		      size_t errlen);

/* shapes.c: JSON bodies in Okra's key order */
json_object *shape_verify(const struct payment *p);
json_object *shape_payment(const struct payment *p, bool with_rs);
json_object *shape_okra_wallet(const struct owner *o);
json_object *shape_wallet(const struct owner *o, int env);
json_object *shape_customer(const struct payment *p);
json_object *shape_refund(const struct refund *r);
json_object *shape_refund_dup(const struct refund *r);
json_object *shape_payment_err(const struct payment *p, bool v_owner,
			       int64_t refund_amount, const char *account);
json_object *shape_payout(const struct payout *po);
json_object *shape_link(const struct link *l);
json_object *shape_link_ref(const struct link *l);
json_object *shape_authorization(const struct authorization *a);
json_object *shape_bulkfile(const struct bulkfile *b);
char *callback_url(const char *record);
json_object *jstr_or_null(const char *s);
json_object *jtime(int64_t ms);

/* ---------------------------------------------------------------- okra */

enum route {
	R_NONE = -1,
	R_VERIFY,
	R_CANCEL,
	R_REFUND,
	R_INITIATE,
	R_GET,
	R_LIST,
	R_PAYOUT,
	R_PAYOUT_GET,
	R_BY_CUSTOMER,
	R_LINK_CREATE,
	R_AUTH_INITIATE,
	R_AUTH_CANCEL,
	R_AUTH_REAUTH,
	R_AUTH_LIST,
	R_AUTH_BY_CUSTOMER,
	R_BULK,
	R_COUNT
};
const char *route_name(int r);
int route_lookup(const char *name);
enum msg_id route_ok_msg(int r);	/* the route's success message */

struct api_req {
	int route;
	int env;
	int key;
	json_object *body;	/* NULL: body did not parse */
	bool form;		/* values are text (form or multipart body) */
	bool multipart;		/* multipart/form-data: files are objects */
};

struct resp {
	int status;
	char *body;		/* malloc'd */
	size_t len;
	const char *ctype;	/* static */
};

void okra_execute(const struct api_req *rq, struct resp *out);
void resp_error(struct resp *out, int status, const char *message,
		const char *data_key, json_object *data);
void resp_set(struct resp *out, int status, char *body, const char *ctype);
void resp_free(struct resp *r);

/* okra.c: fields and answers for the endpoint files (all under g_lock) */
enum { FA_ABSENT, FA_OK, FA_BAD };
json_object *api_field(const struct api_req *rq, const char *k);	/* null = absent */
int api_str(const struct api_req *rq, const char *k, const char **out);
int api_oid(const struct api_req *rq, const char *k, const char **out);
int api_pos_int(const struct api_req *rq, const char *k, int64_t *out);
int api_bool(const struct api_req *rq, const char *k, bool *out);
int api_currency(const struct api_req *rq);	/* NGN or absent */
/* type and schedule; false with the message in err */
bool api_type(const struct api_req *rq, char type[12], char *err,
	      size_t errlen);
bool api_schedule(const struct api_req *rq, bool recurring,
		  const char *dflt_interval, struct schedule *sched,
		  char *err, size_t errlen);
void api_bad_field(struct resp *out, const char *field);
void api_fail(struct resp *out, const char *message);	/* 400 */
void api_success(struct resp *out, enum msg_id m, json_object *data);
void api_data1(struct resp *out, enum msg_id m, const char *k,
	       json_object *v);
bool api_paging(const struct api_req *rq, int64_t *page, int64_t *limit,
		struct resp *out);	/* false: answered */
/* data = {key: the page of items (given oldest first, listed newest
 * first), pagination} */
void api_page(struct resp *out, enum msg_id m, const char *key,
	      const void *const *items, size_t n, int64_t page, int64_t limit,
	      json_object *(*shape)(const void *item));

/* payouts.c */
void do_payout(const struct api_req *rq, int owner, struct resp *out);
void do_payout_get(const struct api_req *rq, int owner, struct resp *out);
struct payout *payout_find(const char *id);
int payout_set_status(struct payout *po, const char *status, char *err,
		      size_t errlen);
int payout_from_fields(json_object *o, char *err, size_t errlen);
json_object *payout_fee_json(int64_t amount);

/* links.c */
void do_link_create(const struct api_req *rq, int owner, struct resp *out);
struct link *link_find(const char *id);
int link_from_fields(json_object *o, char *err, size_t errlen);
int link_pay(struct link *l, json_object *o, struct payment **out,
	     char *err, size_t errlen);

/* authorizations.c */
void do_auth_initiate(const struct api_req *rq, int owner, struct resp *out);
void do_auth_cancel(const struct api_req *rq, int owner, struct resp *out);
void do_auth_reauth(const struct api_req *rq, int owner, struct resp *out);
void do_auth_list(const struct api_req *rq, int owner, struct resp *out);
void do_auth_by_customer(const struct api_req *rq, int owner,
			 struct resp *out);
struct authorization *auth_find(const char *id);
int auth_from_fields(json_object *o, struct authorization **out, char *err,
		     size_t errlen);
void auth_cancel_by_customer(struct authorization *a, int64_t now);
void auth_free(struct authorization *a);

/* bulk.c */
void do_bulk(const struct api_req *rq, int owner, struct resp *out);

/* -------------------------------------------------------------- faults */

enum fault_kind {
	F_NONE = 0,
	F_DELAY,
	F_STATUS,
	F_HTML,
	F_TRUNCATE,
	F_SIZE,
	F_RESET,
	F_TRICKLE,
	F_HANG,
	F_AFTER_STATUS,
	F_AFTER_DROP,
	F_AFTER_HANG,
	F_TIMEOUT503
};

struct fault {
	long id;
	enum fault_kind kind;
	long remaining;
	int route;		/* R_NONE = any */
	char payment_id[OID_LEN + 1];	/* "" = any */
	long ms;
	int status;
	char *body;
	char *content_type;
	long bytes;		/* -1 = default */
	long chunk;
	struct fault *next;
};

/* faults.c (take g_lock themselves) */
int fault_arm(json_object *spec, json_object **out, char *err, size_t errlen);
bool fault_take(int route, const char *payment_id, struct fault *copy);
void fault_copy_free(struct fault *f);
json_object *faults_list(void);
void faults_clear(void);		/* caller holds g_lock */
extern long g_faults_fired;

/* -------------------------------------------- counters, idempotency, rate */

void counters_request(const char *path, int status);	/* takes lock */
void counters_refund(const char *payment_id, int64_t amount);	/* locked */
void counters_connection(void);
void counters_replay(void);	/* locked */
json_object *counters_json(void);	/* locked */
void counters_clear(void);	/* locked */

bool rate_allow(int key, int64_t now);	/* locked */
void rate_clear(void);		/* locked */

enum idem_result { IDEM_NEW, IDEM_REPLAY, IDEM_IN_FLIGHT, IDEM_MISMATCH };
/* locked; on IDEM_NEW *seq identifies the claim, on IDEM_REPLAY out is
 * filled with a copy of the stored response */
enum idem_result idem_claim(const char *owner, const char *ikey,
			    const char *path, const char *body, size_t blen,
			    uint64_t *seq, struct resp *out);
void idem_store(const char *owner, const char *ikey, uint64_t seq,
		const struct resp *r);	/* locked */
void idem_release(const char *owner, const char *ikey, uint64_t seq);
void idem_clear(void);		/* locked */

/* ------------------------------------------------------------ webhooks */

/* webhooks.c (README.md "Webhooks", API.md 8.15); they take their own lock,
 * which may be taken under g_lock */
int webhooks_start(char *err, size_t errlen);	/* libcurl, sender thread */
void webhooks_stop(void);	/* joins the sender, frees everything */
/* an event for p's current status, changed at `at` (g_lock held) */
void webhook_status_change(const struct payment *p, int64_t at);
void webhooks_reset(void);	/* config from the flags; queue, faults and
				 * counters emptied */
json_object *webhooks_json(void);	/* GET /_sandbox/webhooks */
json_object *webhooks_counters_json(void);
int webhooks_configure(json_object *b, char *err, size_t errlen);
int webhooks_fault_arm(json_object *b, json_object **out, char *err,
		       size_t errlen);
json_object *webhooks_faults_json(void);
void webhooks_faults_clear(void);	/* held events are sent */
/* takes g_lock; 0, or the HTTP status of the error in err */
int webhooks_lie(json_object *b, json_object **out, char *err,
		 size_t errlen);

/* ------------------------------------------------------------- control */

void control_handle(const char *method, const char *path, const char *body,
		    size_t blen, bool too_large, struct resp *out);
void sandbox_reset(void);	/* locked */
void sandbox_free_all(void);	/* at exit */

/* ---------------------------------------------------------------- http */

struct MHD_Daemon *http_start(char *err, size_t errlen);
long http_in_flight(void);	/* requests begun and not yet completed */
void http_free(void);
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
