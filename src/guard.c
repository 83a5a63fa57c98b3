/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  The local refund guard, before a refund is sent (okra_refund) or
 *	  queued (okra_refund_after_commit): README "Nothing moves twice".
 *
 * In this order: lock the payment's ledger row until the end of the
 * transaction (concurrent refunds of one payment queue up behind it);
 * refuse it (OK012) if an earlier refund of the payment has an unknown
 * outcome in the journal; refuse what the ledger says Okra would refuse
 * (OK001, OK002, OK003).  The last two read with the latest snapshot,
 * taken once the lock is held, whatever the isolation level: under
 * REPEATABLE READ the transaction's own snapshot may predate a refund
 * made, queued or journaled by the transaction that held the lock before.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "contract.h"
#include "guard.h"
#include "journal.h"
#include "ledger.h"

PG_FUNCTION_INFO_V1(okra_refund_guard);

/*
 * The guard, for okra's schema nsp; amount NULL (has_amount false) is a
 * refund of whatever remains.  Raises if the refund may not go.
 */
void
okra_guard_refund(Oid nsp, const char *payment_id, bool has_amount,
				  int64 amount)
{
	Datum		args[2] = {CStringGetTextDatum(payment_id), Int64GetDatum(amount)};
	bool		nulls[2] = {false, !has_amount};
	bool		isnull;

	/* a refund, now or after commit, only with SQL objects of this version */
	okra_contract_check_version();
	(void) okra_ledger_call_in(nsp, "okra_ledger_lock_payment", 1, args, nulls,
							   &isnull);
	okra_journal_check_unsettled(nsp, payment_id);
	PushActiveSnapshot(GetLatestSnapshot());
	(void) okra_ledger_call_in(nsp, "okra_ledger_guard_refund", 2, args, nulls,
							   &isnull);
	PopActiveSnapshot();
}

/*
 * okra_refund_guard(payment_id text, amount bigint): the guard, for
 * okra_refund_after_commit.
 */
Datum
okra_refund_guard(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("payment_id must not be null"));
	okra_guard_refund(okra_ledger_schema(fcinfo),
					  text_to_cstring(PG_GETARG_TEXT_PP(0)),
					  !PG_ARGISNULL(1), PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1));
	PG_RETURN_VOID();
}
