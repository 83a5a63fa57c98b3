/*-------------------------------------------------------------------------
 *
 * outbox.c
 *	  Sending what okra_refund_after_commit and okra_cancel_after_commit
 *	  queued: one step claims a few due requests and commits, sends them
 *	  (holding no snapshot, lock or transaction ID), then records each
 *	  outcome in a new transaction.  The background worker (worker.c) and
 *	  CALL okra_outbox_run() both run these steps.
 *
 * The state machine lives in sql/okra.sql (okra_outbox_claim and
 * okra_outbox_finish, each transition a compare-and-set on the request's
 * state and attempt number); this file only moves bytes and reads
 * answers.  A claimed request is either sent ("send": pay/refund or
 * pay/cancel, always with an Idempotency-Key derived from the request) or,
 * when its earlier outcome is unknown, its payment is verified ("check")
 * so that okra_outbox_finish can tell whether sending again is safe.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "answer.h"
#include "api.h"
#include "compat.h"
#include "contract.h"
#include "http.h"
#include "ledger.h"
#include "okra.h"
#include "outbox.h"
#include "txn.h"

/* Requests claimed, and sent at once, per step */
#define OKRA_OUTBOX_BATCH		8

/*
 * How long recording an outcome waits for a lock before it lets the
 * journal run and tries again (the answer is kept meanwhile)
 */
#define OKRA_FINISH_LOCK_MS_TEXT	"200"
#define OKRA_FINISH_RETRY_MS		100

/* One claimed request */
typedef struct OutboxItem
{
	int64		request_id;
	bool		check;			/* verify its payment instead of sending */
	bool		resend;
	int32		attempt;
	char	   *payment_id;
	const char *endpoint;
	StringInfoData body;		/* in the server encoding, for the record */
	char	   *wire;			/* the body as sent: UTF-8 */
	char	   *idempotency;	/* the header line */
} OutboxItem;

int			okra_outbox_max_attempts = 10;
bool		okra_outbox_trust_idempotency = false;

PG_FUNCTION_INFO_V1(okra_outbox_run);

/*---- static prototypes ----*/
static void item_from_claim(OutboxItem *item, HeapTupleHeader row);
static void release_one(Oid nsp, OutboxItem *item);
static bool finish_in_xact(Oid nsp, TupleDesc paytd, TupleDesc reftd,
						   OkraHttpBatch *b, int i, OutboxItem *item,
						   bool in_procedure);
static void finish_one(Oid nsp, TupleDesc paytd, TupleDesc reftd,
					   OkraHttpBatch *b, int i, OutboxItem *item);

/*
 * A claimed row (okra_outbox_claimed) as the request to send.
 */
static void
item_from_claim(OutboxItem *item, HeapTupleHeader row)
{
	bool		isnull;
	char	   *kind;
	char	   *reason = NULL;
	char	   *account = NULL;
	bool		has_amount;
	int64		amount = 0;
	Datum		d;
	char	   *key;

	item->request_id = DatumGetInt64(GetAttributeByNum(row, 1, &isnull));
	item->check = strcmp(TextDatumGetCString(GetAttributeByNum(row, 2, &isnull)), "check") == 0;
	kind = TextDatumGetCString(GetAttributeByNum(row, 3, &isnull));
	d = GetAttributeByNum(row, 4, &isnull);
	item->payment_id = isnull ? NULL : TextDatumGetCString(d);
	d = GetAttributeByNum(row, 5, &isnull);
	has_amount = !isnull;
	if (has_amount)
		amount = DatumGetInt64(d);
	d = GetAttributeByNum(row, 6, &isnull);
	if (!isnull)
		reason = TextDatumGetCString(d);
	d = GetAttributeByNum(row, 7, &isnull);
	if (!isnull)
		account = TextDatumGetCString(d);
	item->attempt = DatumGetInt32(GetAttributeByNum(row, 8, &isnull));
	item->resend = DatumGetBool(GetAttributeByNum(row, 9, &isnull));
	key = TextDatumGetCString(GetAttributeByNum(row, 10, &isnull));

	initStringInfo(&item->body);
	if (strcmp(kind, "initiate") == 0 || strcmp(kind, "payout") == 0)
	{
		/* checked when it was queued; never a "check" (a person settles it) */
		if (item->check)
			elog(ERROR, "okra outbox request " INT64_FORMAT " (%s) claimed to be checked",
				 item->request_id, kind);
		item->endpoint = strcmp(kind, "initiate") == 0 ? "pay/initiate" : "pay/payout";
		appendStringInfoString(&item->body,
							   TextDatumGetCString(GetAttributeByNum(row, 11, &isnull)));
	}
	else if (item->check || strcmp(kind, "cancel") == 0)
	{
		item->endpoint = item->check ? "pay/verify" : "pay/cancel";
		appendStringInfo(&item->body, "{\"payment_id\":\"%s\"}", item->payment_id);
	}
	else
	{
		item->endpoint = "pay/refund";
		okra_refund_body(&item->body, item->payment_id, has_amount, amount,
						 reason, account);
	}
	/* Okra speaks UTF-8 (a reason may hold any character) */
	item->wire = pg_server_to_any(item->body.data, item->body.len, PG_UTF8);
	/*
	 * Stored with the request when it was queued: the same on every
	 * attempt, and after a restore, a failover or pg_upgrade
	 */
	item->idempotency = psprintf("Idempotency-Key: %s", key);
}

/*
 * Read job i's answer (okra_read_job: whatever went wrong is this
 * request's outcome) and hand it to okra_outbox_finish.
 */
static void
finish_one(Oid nsp, TupleDesc paytd, TupleDesc reftd, OkraHttpBatch *b, int i,
		   OutboxItem *item)
{
	OkraHttpResponse http;
	Datum		answer;
	Datum		response;
	ErrorData  *edata;
	bool		refund = (strcmp(item->endpoint, "pay/refund") == 0);
	Datum		args[14];
	bool		nulls[14] = {false};
	bool		isnull;

	edata = okra_read_job(b, i, refund ? reftd : paytd, item->endpoint,
						  item->payment_id, item->resend, &http, &answer,
						  &response);

	args[0] = Int64GetDatum(item->request_id);
	args[1] = Int32GetDatum(item->attempt);
	args[2] = CStringGetTextDatum(item->check ? "check" : "send");
	nulls[3] = nulls[4] = (edata == NULL);
	if (edata != NULL)
	{
		args[3] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
		args[4] = CStringGetTextDatum(edata->message ? edata->message : "");
	}
	args[5] = Int32GetDatum((int32) http.status);
	args[6] = TimestampTzGetDatum(http.started_at);
	args[7] = TimestampTzGetDatum(http.received_at);
	args[8] = CStringGetTextDatum(item->body.data);
	args[9] = answer;
	nulls[9] = !(refund && answer != (Datum) 0);
	args[10] = answer;
	nulls[10] = !(!refund && answer != (Datum) 0);
	args[11] = response;
	nulls[11] = (response == (Datum) 0);
	args[12] = Int32GetDatum(okra_outbox_max_attempts);
	args[13] = BoolGetDatum(okra_outbox_trust_idempotency);
	(void) okra_ledger_call_in(nsp, "okra_outbox_finish", 14, args, nulls,
							   &isnull);
	if (edata)
		FreeErrorData(edata);
}

/*
 * Record job i's outcome in a transaction of its own, waiting at most
 * OKRA_FINISH_LOCK_MS for any lock (a caller's transaction may hold the
 * payment's row for as long as it likes).  False if a lock was not had:
 * nothing recorded, the answer kept for another try.  Any other error
 * recording it is logged, and the batch's other outcomes are still
 * recorded: this request stays sending until its claim runs out (then
 * unknown, for a check or a person).
 */
static bool
finish_in_xact(Oid nsp, TupleDesc paytd, TupleDesc reftd, OkraHttpBatch *b,
			   int i, OutboxItem *item, bool in_procedure)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner;
	volatile bool done = true;

	okra_xact_begin(in_procedure);
	MemoryContextSwitchTo(cxt);
	owner = CurrentResourceOwner;
	okra_lock_timeout_begin(OKRA_FINISH_LOCK_MS_TEXT);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		finish_one(nsp, paytd, reftd, b, i, item);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
			edata->sqlerrcode == ERRCODE_OUT_OF_MEMORY)
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
			done = false;
		else
			ereport(WARNING,
					errcode(edata->sqlerrcode),
					errmsg("could not record the outcome of okra outbox request " INT64_FORMAT ": %s",
						   item->request_id, edata->message),
					errdetail("It stays sending until its claim runs out, then its outcome is unknown."));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	okra_lock_timeout_end();
	okra_xact_commit(in_procedure);
	MemoryContextSwitchTo(cxt);
	return done;
}

/*
 * A claimed request that was never started: back to the queue, as if not
 * claimed (okra_outbox_release, a compare-and-set on its attempt).
 */
static void
release_one(Oid nsp, OutboxItem *item)
{
	Datum		args[3];
	bool		nulls[3] = {false, false, false};
	bool		isnull;

	args[0] = Int64GetDatum(item->request_id);
	args[1] = Int32GetDatum(item->attempt);
	args[2] = CStringGetTextDatum(item->check ? "check" : "send");
	(void) okra_ledger_call_in(nsp, "okra_outbox_release", 3, args, nulls,
							   &isnull);
}

/*
 * One step in schema nsp: claim up to OKRA_OUTBOX_BATCH due requests and
 * commit, send them, record their outcomes and commit.  Returns how many
 * it claimed.  in_procedure: the caller is a nonatomic procedure (commit
 * through SPI), else a background worker outside any transaction.
 */
int
okra_outbox_step(Oid nsp, bool in_procedure)
{
	MemoryContext step_cxt = AllocSetContextCreate(CurrentMemoryContext,
												   "okra outbox step",
												   ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(step_cxt);
	Datum		args[2];
	bool		nulls[2] = {false};
	bool		isnull;
	Interval   *lease = palloc0(sizeof(Interval));
	ArrayType  *claimed;
	Datum	   *rows;
	int			n;
	int			i;
	OutboxItem *items;
	OkraHttpBatch *b;
	TupleDesc	paytd;
	TupleDesc	reftd;
	bool	   *sent;
	int		   *blocked;
	int			nblocked = 0;
	int64		transfer_max;

	/*
	 * Long enough for the whole batch, its rate-limit turns included (turns
	 * are shared with every backend, so a request may still find no time
	 * left: then it is not sent, and goes back to the queue)
	 */
	transfer_max = ((int64) okra_connect_timeout + okra_request_timeout) * 1000 +
		USECS_PER_SEC;
	lease->time = transfer_max + 4 * USECS_PER_SEC;
	if (okra_rate_limit_per_minute > 0)
		lease->time += OKRA_OUTBOX_BATCH * (USECS_PER_MINUTE / okra_rate_limit_per_minute);

	/* 1. claim, and commit the claim; nothing if nothing could be sent */
	okra_xact_begin(in_procedure);
	okra_contract_check_version();
	MemoryContextSwitchTo(step_cxt);
	args[0] = Int32GetDatum(OKRA_OUTBOX_BATCH);
	args[1] = IntervalPGetDatum(lease);
	claimed = DatumGetArrayTypeP(okra_ledger_call_in(nsp, "okra_outbox_claim", 2,
													 args, nulls, &isnull));
	deconstruct_array(claimed, ARR_ELEMTYPE(claimed), -1, false, TYPALIGN_DOUBLE,
					  &rows, NULL, &n);
	items = palloc0(sizeof(OutboxItem) * Max(n, 1));
	for (i = 0; i < n; i++)
		item_from_claim(&items[i], DatumGetHeapTupleHeader(rows[i]));
	paytd = okra_ledger_rowtype(nsp, OKRA_LEDGER_PAYMENT);
	reftd = okra_ledger_rowtype(nsp, OKRA_LEDGER_REFUND);
	if (n == 0)
	{
		okra_xact_commit(in_procedure);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(step_cxt);
		return 0;
	}
	/* not configured: raised here, and the claim goes with the rollback */
	okra_http_check_config();

	b = okra_http_batch_create(n, n);
	sent = palloc0(sizeof(bool) * n);
	blocked = palloc(sizeof(int) * n);
	PG_TRY();
	{
		for (i = 0; i < n; i++)
		{
			okra_http_batch_set(b, i, items[i].endpoint, items[i].wire,
								strlen(items[i].wire));
			if (!items[i].check)
				okra_http_batch_header(b, i, items[i].idempotency);
		}
		/* the key and settings are read while a transaction is open */
		okra_http_batch_prepare(b);

		/*
		 * The claim lasts until lease_until = now() of this transaction +
		 * lease.  A request starts only while its whole transfer surely
		 * ends before that, so nobody else can have reclaimed it meanwhile.
		 */
		okra_http_batch_start_by(b, GetCurrentTransactionStartTimestamp() +
								 lease->time - transfer_max);
		okra_xact_commit(in_procedure);
		MemoryContextSwitchTo(step_cxt);

		/*
		 * 2. send, holding nothing in the database, and record each outcome
		 * as it comes, in a transaction of its own
		 */
		while ((i = okra_http_batch_next(b)) >= 0)
		{
			sent[i] = true;
			/* a payment locked by a transaction: keep the answer for later */
			if (!finish_in_xact(nsp, paytd, reftd, b, i, &items[i], in_procedure))
				blocked[nblocked++] = i;
			MemoryContextSwitchTo(step_cxt);
		}
		/* the transfers are over: retry what waited for a lock */
		while (nblocked > 0)
		{
			int			left = 0;

			for (i = 0; i < nblocked; i++)
				if (!finish_in_xact(nsp, paytd, reftd, b, blocked[i], &items[blocked[i]],
									in_procedure))
					blocked[left++] = blocked[i];
			MemoryContextSwitchTo(step_cxt);
			nblocked = left;
			if (nblocked > 0)
				okra_http_idle(OKRA_FINISH_RETRY_MS);
		}

		/* 3. what was never started (no time left under its claim) goes back */
		okra_xact_begin(in_procedure);
		MemoryContextSwitchTo(step_cxt);
		for (i = 0; i < n; i++)
			if (!sent[i])
				release_one(nsp, &items[i]);
		okra_xact_commit(in_procedure);
		MemoryContextSwitchTo(step_cxt);
	}
	PG_FINALLY();
	{
		okra_http_batch_free(b);
	}
	PG_END_TRY();

	MemoryContextSwitchTo(old);
	MemoryContextDelete(step_cxt);
	return n;
}

/*
 * CALL okra_outbox_run(max_requests integer): the worker's job, for a
 * cluster without it (pg_cron can schedule it).  Runs steps until nothing
 * is due or max_requests were claimed.
 */
Datum
okra_outbox_run(PG_FUNCTION_ARGS)
{
	int			max_requests = PG_ARGISNULL(0) ? -1 : PG_GETARG_INT32(0);
	Oid			nsp;
	int			claimed = 0;
	int			n;

	if (max_requests < 1)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid max_requests: %d", max_requests),
				errdetail("max_requests must be at least 1."));
	nsp = okra_ledger_schema(fcinfo);
	okra_procedure_begin(fcinfo, "okra_outbox_run",
						 "before sending and after recording each outcome");
	while (claimed < max_requests &&
		   (n = okra_outbox_step(nsp, true)) > 0)
		claimed += n;
	SPI_finish();
	PG_RETURN_VOID();
}
