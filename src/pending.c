/*-------------------------------------------------------------------------
 *
 * pending.c
 *	  CALL okra_verify_pending(max_payments, concurrency): verify every
 *	  payment and read every payout that is due, many at once, committing
 *	  chunk by chunk.
 *
 * Each chunk is claimed by okra_verify_claim (FOR UPDATE SKIP LOCKED, so
 * overlapping runs never check a payment twice), verified through one
 * http.c batch of `concurrency` parallel transfers, recorded, and
 * committed, so a run cut short keeps every chunk it finished.  A payment
 * whose check fails (Okra's error, a fault, a timeout) has its error and
 * backoff recorded; the run goes on.  A 429 stops the run (nothing more
 * is started; what runs finishes) and pauses scheduled work for Okra's
 * 60-second window.  The internal functions are found and called as
 * ledger.c calls its own.
 *
 * Payouts not yet final are claimed first (okra_verify_claim_payouts: a
 * merchant makes few), the payments fill the rest of the chunk, and both
 * count against max_payments.  A payout is read with pay/payout/get and
 * recorded by payouts.c (okra_payout_check).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "answer.h"
#include "compat.h"
#include "contract.h"
#include "http.h"
#include "ledger.h"
#include "okra.h"
#include "outbox.h"
#include "payouts.h"
#include "txn.h"

/* Most transfers in flight at once */
#define OKRA_MAX_CONCURRENCY	256

/* A chunk is this many rounds of `concurrency` payments */
#define OKRA_CHUNK_ROUNDS		2

/* Payments a webhook made due, verified at once by the worker */
#define OKRA_WEBHOOK_BATCH		8

/* The longest the worker waits for a lock on the ledger */
#define OKRA_WORKER_LOCK_MS_TEXT	"200"

/* What a chunk did */
typedef struct OkraChunkCounts
{
	int			changed;
	int			unchanged;
	int			failed;
	int			rate_limited;	/* answered 429, or never sent after one */
} OkraChunkCounts;

PG_FUNCTION_INFO_V1(okra_verify_pending);

/*---- static prototypes ----*/
static void verify_chunk(bool in_procedure, FunctionCallInfo fcinfo,
						 TupleDesc tupdesc,
						 Datum *ids, int n, int npayouts, int concurrency,
						 OkraChunkCounts *counts);
static void unclaim(FunctionCallInfo fcinfo, const char *id, bool payout);
static void count_payout(OkraCheckResult r, OkraChunkCounts *counts);
static Interval *claim_lease(int concurrency);
static void check_one(FunctionCallInfo fcinfo, TupleDesc tupdesc,
					  OkraHttpBatch *b, int i, const char *payment_id,
					  const char *body, OkraChunkCounts *counts);
static void run_progress(FunctionCallInfo fcinfo, int64 run_id,
						 const OkraChunkCounts *c, bool finished);

/*
 * Record what a chunk did in the run's row; finished ends the run.
 */
static void
run_progress(FunctionCallInfo fcinfo, int64 run_id, const OkraChunkCounts *c,
			 bool finished)
{
	Datum		args[6];
	bool		nulls[6] = {false};
	bool		isnull;

	args[0] = Int64GetDatum(run_id);
	args[1] = Int32GetDatum(c->changed);
	args[2] = Int32GetDatum(c->unchanged);
	args[3] = Int32GetDatum(c->failed);
	args[4] = Int32GetDatum(c->rate_limited);
	args[5] = BoolGetDatum(finished);
	(void) okra_ledger_call(fcinfo, "okra_verify_run_progress", 6, args, nulls,
							&isnull);
}

/*
 * Read job i's answer and record it.  Whatever goes wrong with this one
 * payment (the transfer, Okra's answer, its shape) is recorded as its
 * failed check (okra_read_job).
 */
static void
check_one(FunctionCallInfo fcinfo, TupleDesc tupdesc, OkraHttpBatch *b, int i,
		  const char *payment_id, const char *body, OkraChunkCounts *counts)
{
	OkraHttpResponse http;
	OkraLedgerCall record;
	ErrorData  *edata;

	memset(&record, 0, sizeof(record));
	record.endpoint = OKRA_VERIFY_ENDPOINT;
	record.request = body;
	edata = okra_read_job(b, i, tupdesc, OKRA_VERIFY_ENDPOINT, payment_id, false,
						  &http, &record.payment, &record.response);
	record.http_status = http.status;
	record.started_at = http.started_at;
	record.finished_at = http.received_at;
	if (edata == NULL)
	{
		if (okra_ledger_record(fcinfo, &record))
			counts->changed++;
		else
			counts->unchanged++;
		return;
	}

	okra_ledger_check_failed(fcinfo, &record, payment_id, edata->sqlerrcode,
							 edata->message);
	if (edata->sqlerrcode == ERRCODE_OKRA_RATE_LIMITED)
		counts->rate_limited++;
	else
		counts->failed++;
	FreeErrorData(edata);
}

/*
 * How long a claim keeps a payment from other runs: its chunk's transfers
 * (OKRA_CHUNK_ROUNDS rounds of at most connect + request timeout) and
 * their rate-limit turns.  A run that dies leaves its payments due again
 * after it.
 */
static Interval *
claim_lease(int concurrency)
{
	Interval   *lease = palloc0(sizeof(Interval));

	lease->time = (OKRA_CHUNK_ROUNDS + 1) *
		((int64) okra_connect_timeout + okra_request_timeout) * 1000;
	if (okra_rate_limit_per_minute > 0)
		lease->time += (int64) concurrency * OKRA_CHUNK_ROUNDS *
			(USECS_PER_MINUTE / okra_rate_limit_per_minute);
	return lease;
}

/*
 * Verify the n claimed ids, concurrency at a time: the first npayouts are
 * payouts, the others payments.
 */
static void
verify_chunk(bool in_procedure, FunctionCallInfo fcinfo, TupleDesc tupdesc,
			 Datum *ids, int n, int npayouts, int concurrency,
			 OkraChunkCounts *counts)
{
	MemoryContext cxt = CurrentMemoryContext;
	OkraHttpBatch *b = okra_http_batch_create(n, concurrency);
	char	  **pid = palloc(sizeof(char *) * n);
	char	  **body = palloc(sizeof(char *) * n);
	int		   *order = palloc(sizeof(int) * n);
	bool	   *sent = palloc0(sizeof(bool) * n);
	int			i;
	int			answered = 0;

	PG_TRY();
	{
		/* ids are 24 hex digits (the table's CHECK): plain ASCII */
		for (i = 0; i < n; i++)
		{
			pid[i] = TextDatumGetCString(ids[i]);
			body[i] = psprintf(i < npayouts ? "{\"payout_id\":\"%s\"}" :
							   "{\"payment_id\":\"%s\"}", pid[i]);
			okra_http_batch_set(b, i, i < npayouts ? OKRA_PAYOUT_GET_ENDPOINT :
								OKRA_VERIFY_ENDPOINT, body[i], strlen(body[i]));
		}
		okra_http_batch_prepare(b);
		if (!in_procedure)
			okra_lock_timeout_end();
		okra_xact_commit(in_procedure);
		MemoryContextSwitchTo(cxt);

		/* the transfers, holding no row lock: a 429 starts nothing more */
		while ((i = okra_http_batch_next(b)) >= 0)
		{
			order[answered++] = i;
			sent[i] = true;
			if (okra_http_batch_status(b, i) == 429)
				okra_http_batch_stop(b);
		}

		/* what each answer says, recorded in one transaction */
		okra_xact_begin(in_procedure);
		MemoryContextSwitchTo(cxt);
		if (!in_procedure)
			okra_lock_timeout_begin(OKRA_WORKER_LOCK_MS_TEXT);
		for (i = 0; i < answered; i++)
		{
			if (order[i] < npayouts)
				count_payout(okra_payout_check(fcinfo, b, order[i], pid[order[i]],
											   body[order[i]]), counts);
			else
				check_one(fcinfo, tupdesc, b, order[i], pid[order[i]],
						  body[order[i]], counts);
		}
		/* after a 429: the claimed ones never sent are due again */
		for (i = 0; i < n; i++)
			if (!sent[i])
				unclaim(fcinfo, pid[i], i < npayouts);
		counts->rate_limited += n - answered;
	}
	PG_FINALLY();
	{
		okra_http_batch_free(b);
	}
	PG_END_TRY();
}

/*
 * A claimed payment or payout that was never sent: due again now.
 */
static void
unclaim(FunctionCallInfo fcinfo, const char *id, bool payout)
{
	Datum		arg = CStringGetTextDatum(id);
	bool		argnull = false;
	bool		isnull;

	(void) okra_ledger_call(fcinfo, payout ? "okra_verify_unclaim_payout" :
							"okra_verify_unclaim", 1, &arg, &argnull, &isnull);
}

/*
 * Count what a payout's check found.
 */
static void
count_payout(OkraCheckResult r, OkraChunkCounts *counts)
{
	if (r == OKRA_CHECK_CHANGED)
		counts->changed++;
	else if (r == OKRA_CHECK_UNCHANGED)
		counts->unchanged++;
	else if (r == OKRA_CHECK_RATE_LIMITED)
		counts->rate_limited++;
	else
		counts->failed++;
}

/*
 * CALL okra_verify_pending(max_payments integer, concurrency integer)
 */
Datum
okra_verify_pending(PG_FUNCTION_ARGS)
{
	int			max_payments = PG_ARGISNULL(0) ? -1 : PG_GETARG_INT32(0);
	int			concurrency = PG_ARGISNULL(1) ? -1 : PG_GETARG_INT32(1);
	Datum		args[4];
	bool		nulls[4] = {false};
	bool		isnull;
	HeapTupleHeader begun;
	int64		run_id;
	int			done = 0;
	bool		stop = false;
	OkraChunkCounts none = {0};
	Interval   *stale_after;

	if (max_payments < 1)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid max_payments: %d", max_payments),
				errdetail("max_payments must be at least 1."));
	if (concurrency < 1 || concurrency > OKRA_MAX_CONCURRENCY)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid concurrency: %d", concurrency),
				errdetail("concurrency must be between 1 and %d.",
						  OKRA_MAX_CONCURRENCY));
	okra_procedure_begin(fcinfo, "okra_verify_pending",
						 "after each chunk of payments");
	okra_contract_check_version();

	/* the run's row, committed at once so that it shows while it runs */
	args[0] = Int32GetDatum(max_payments);
	args[1] = Int32GetDatum(concurrency);
	args[2] = okra_ledger_role();
	begun = DatumGetHeapTupleHeader(okra_ledger_call(fcinfo, "okra_verify_run_begin",
													 3, args, nulls, &isnull));
	run_id = DatumGetInt64(GetAttributeByNum(begun, 1, &isnull));
	(void) GetAttributeByNum(begun, 2, &isnull);
	if (!isnull)
	{
		/* paused after a 429: the row is already finished */
		ereport(NOTICE,
				errmsg("okra_verify_pending: paused after Okra answered 429; nothing was sent"),
				errdetail("Scheduled verification resumes once Okra's 60-second window has passed."));
		SPI_finish();
		PG_RETURN_VOID();
	}
	okra_spi_commit();

	stale_after = palloc0(sizeof(Interval));
	stale_after->time = (int64) okra_stale_after * USECS_PER_MINUTE;

	while (done < max_payments && !stop)
	{
		MemoryContext chunk_cxt = AllocSetContextCreate(CurrentMemoryContext,
														"okra verify chunk",
														ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(chunk_cxt);
		OkraChunkCounts counts = {0};
		ArrayType  *claimed;
		Datum	   *payouts;
		Datum	   *payments;
		Datum	   *ids;
		int			npayouts;
		int			npayments;
		int			n;
		int			chunk = Min(max_payments - done,
								concurrency * OKRA_CHUNK_ROUNDS);

		okra_xact_begin(true);
		okra_contract_check_version();
		/* the payouts due first, then payments for the rest of the chunk */
		args[0] = Int32GetDatum(chunk);
		args[1] = IntervalPGetDatum(claim_lease(concurrency));
		claimed = DatumGetArrayTypeP(okra_ledger_call(fcinfo, "okra_verify_claim_payouts",
													  2, args, nulls, &isnull));
		deconstruct_array(claimed, TEXTOID, -1, false, TYPALIGN_INT,
						  &payouts, NULL, &npayouts);
		args[0] = Int64GetDatum(run_id);
		args[1] = Int32GetDatum(chunk - npayouts);
		args[2] = IntervalPGetDatum(stale_after);
		args[3] = IntervalPGetDatum(claim_lease(concurrency));
		claimed = DatumGetArrayTypeP(okra_ledger_call(fcinfo, "okra_verify_claim",
													  4, args, nulls, &isnull));
		deconstruct_array(claimed, TEXTOID, -1, false, TYPALIGN_INT,
						  &payments, NULL, &npayments);
		n = npayouts + npayments;
		ids = palloc(sizeof(Datum) * Max(n, 1));
		memcpy(ids, payouts, sizeof(Datum) * npayouts);
		memcpy(ids + npayouts, payments, sizeof(Datum) * npayments);
		if (n > 0)
		{
			verify_chunk(true, fcinfo,
						 okra_ledger_rowtype(okra_ledger_schema(fcinfo),
											 OKRA_LEDGER_PAYMENT),
						 ids, n, npayouts, concurrency, &counts);
			run_progress(fcinfo, run_id, &counts, false);
		}
		MemoryContextSwitchTo(old);
		MemoryContextDelete(chunk_cxt);
		okra_xact_commit(true);

		done += n;
		stop = (n == 0 || counts.rate_limited > 0);
	}

	PushActiveSnapshot(GetTransactionSnapshot());
	run_progress(fcinfo, run_id, &none, true);
	PopActiveSnapshot();
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * For the database's okra worker (worker.c), outside any transaction:
 * verify up to OKRA_WEBHOOK_BATCH payments a webhook made due
 * (okra_webhook_claim), as okra_verify_pending verifies a chunk, within
 * the shared rate limit.  Returns how many it claimed; 0 when a lock on
 * the ledger was not had in time (a caller's transaction holds it: the
 * payments claimed then are checked on schedule, after their lease).
 */
int
okra_verify_webhooks(Oid nsp)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "okra webhook checks",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	volatile int n = 0;

	PG_TRY();
	{
		FmgrInfo	flinfo;
		LOCAL_FCINFO(fcinfo, 0);
		OkraChunkCounts counts = {0};
		Datum		args[2];
		bool		nulls[2] = {false, false};
		bool		isnull;
		ArrayType  *claimed;
		Datum	   *ids;
		int			nids;

		okra_xact_begin(false);
		MemoryContextSwitchTo(cxt);
		okra_lock_timeout_begin(OKRA_WORKER_LOCK_MS_TEXT);
		okra_contract_check_version();
		/* the ledger's functions are called as from one of okra's own */
		fmgr_info(okra_contract_function(nsp, "okra_webhook_claim", 2), &flinfo);
		InitFunctionCallInfoData(*fcinfo, &flinfo, 0, InvalidOid, NULL, NULL);
		args[0] = Int32GetDatum(OKRA_WEBHOOK_BATCH);
		args[1] = IntervalPGetDatum(claim_lease(OKRA_WEBHOOK_BATCH));
		claimed = DatumGetArrayTypeP(okra_ledger_call_in(nsp, "okra_webhook_claim", 2,
														 args, nulls, &isnull));
		deconstruct_array(claimed, TEXTOID, -1, false, TYPALIGN_INT, &ids, NULL, &nids);
		n = nids;
		if (nids > 0)
		{
			okra_http_check_config();
			verify_chunk(false, fcinfo, okra_ledger_rowtype(nsp, OKRA_LEDGER_PAYMENT),
						 ids, nids, 0, nids, &counts);
		}
		okra_lock_timeout_end();
		okra_xact_commit(false);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		okra_lock_timeout_end();
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			PG_RE_THROW();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG,
				errmsg("okra worker: the checks webhooks asked for wait: %s", edata->message));
		n = 0;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return n;
}
