/*-------------------------------------------------------------------------
 *
 * bulk.c
 *	  Bulk payments: okra_bulk_initiate (bulkfiles/initiate), many debits in
 *	  one upload, a multipart/form-data POST with product=initiate_payment
 *	  and a CSV file.
 *
 * Every row is checked before anything is sent (22023, the error naming
 * the row by its position in the array, from 1): one bad row refuses the
 * whole batch.  The CSV is written here, quoted as RFC 4180 says.  The
 * call is journaled as a money-moving one, for the batch's total
 * (okra_logged_call), and refused where the ledger cannot be written
 * (25006).  What the ledger keeps of the request (okra_api_calls.request)
 * is a JSON description of it, never the multipart bytes.  Okra's answer
 * names the bulk file and its payments in file order: the file and its
 * rows go into okra_bulk_files and okra_bulk_file_rows, and every payment
 * into okra_payments, due a check (okra_ledger_bulk_record).  An answer
 * the ledger cannot take as it is (a payment listed twice, a file or a
 * payment some bulk file already has) is OK011 before anything is
 * written, never a unique violation after Okra accepted the file: the
 * journal keeps it as unknown, with the file's id.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "answer.h"
#include "api.h"
#include "http.h"
#include "ledger.h"
#include "okra.h"

#define BULK_ENDPOINT		"bulkfiles/initiate"

/* Most rows in one batch */
#define BULK_MAX_ROWS		1000

/* Longest callback_url and file_name accepted */
#define BULK_URL_MAX		2048
#define BULK_FILE_NAME_MAX	100

/* Columns of okra_bulk_payment, read by position */
#define BULK_PAYMENT_NATTS	5

/* One checked row */
typedef struct BulkRow
{
	char	   *debit;
	char	   *credit;
	int64		amount;
	char	   *callback_url;	/* NULL: none */
} BulkRow;

/*
 * A bulk call: the OkraCall first, so that bulk_send() gets its own back
 * from the OkraCall pointer okra_logged_call() passes.
 */
typedef struct BulkCall
{
	OkraCall	call;			/* body: the JSON description */
	const char *file_name;
	int			nrows;
	BulkRow    *rows;
	char	   *boundary;
	StringInfoData upload;		/* the multipart/form-data bytes */
} BulkCall;

PG_FUNCTION_INFO_V1(okra_bulk_initiate);

/*---- static prototypes ----*/
static const char *check_file_name(text *arg);
static void check_row_type(Oid typid);
static void read_rows(ArrayType *arr, BulkCall *bc);
static void check_row(HeapTupleHeader tup, int pos, BulkRow *row);
static char *row_object_id(HeapTupleHeader tup, int attno, int pos,
						   const char *what);
static bool url_ok(const char *url);
static void csv_field(StringInfo buf, const char *s);
static void build_csv(StringInfo csv, const BulkCall *bc);
static void build_description(StringInfo body, const BulkCall *bc);
static char *make_boundary(const char *csv);
static void build_upload(BulkCall *bc);
static JsonbValue *object_key(JsonbContainer *c, const char *key);
static char **check_answer(OkraCall *call, long http_status, int nrows);
static void check_ledger(FunctionCallInfo fcinfo, OkraCall *call,
						 long http_status, char **pids, int nrows);
static Datum bulk_send(FunctionCallInfo fcinfo, OkraCall *call);


/*
 * okra_bulk_initiate(payments okra_bulk_payment[], file_name text)
 *	RETURNS okra_bulk_file
 *
 * Not strict: a NULL array or file_name is refused with a message.
 */
Datum
okra_bulk_initiate(PG_FUNCTION_ARGS)
{
	BulkCall	bc;
	int			i;

	memset(&bc, 0, sizeof(bc));
	bc.call.endpoint = BULK_ENDPOINT;

	/* every argument and every row checked before anything is sent */
	okra_check_can_record("okra_bulk_initiate");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("payments must not be null"));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("file_name must not be null"));
	bc.file_name = check_file_name(PG_GETARG_TEXT_PP(1));
	read_rows(PG_GETARG_ARRAYTYPE_P(0), &bc);

	bc.call.has_amount = true;
	for (i = 0; i < bc.nrows; i++)
	{
		if (pg_add_s64_overflow(bc.call.amount, bc.rows[i].amount,
								&bc.call.amount))
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("total amount of the payments is out of range"),
					errdetail("Adding the amount of row %d (" INT64_FORMAT ") takes the total past the largest bigint.",
							  i + 1, bc.rows[i].amount));
	}

	initStringInfo(&bc.call.body);
	build_description(&bc.call.body, &bc);
	build_upload(&bc);
	return okra_logged_call(fcinfo, &bc.call, bulk_send);
}

/*
 * Check the file name the upload gives the CSV (22023): 1 to
 * BULK_FILE_NAME_MAX letters, digits, spaces, ".", "_" or "-", so that it
 * goes into the part's header as it is, with nothing to escape.
 */
static const char *
check_file_name(text *arg)
{
	char	   *name = text_to_cstring(arg);
	size_t		len = strlen(name);

	if (len == 0 || len > BULK_FILE_NAME_MAX ||
		strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ._-") != len)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid file_name: \"%s\"", okra_quote_clip(name)),
				errdetail("A file name is 1 to %d letters, digits, spaces, \".\", \"_\" or \"-\".",
						  BULK_FILE_NAME_MAX));
	return name;
}

/*
 * The rows are read by position: okra_bulk_payment must have the columns
 * this file was built for, or nothing is read at all.
 */
static void
check_row_type(Oid typid)
{
	static const struct
	{
		const char *name;
		Oid			type;
	}			cols[BULK_PAYMENT_NATTS] = {
		{"account_to_debit", TEXTOID},
		{"account_to_credit", TEXTOID},
		{"amount", INT8OID},
		{"currency", TEXTOID},
		{"callback_url", TEXTOID},
	};
	TupleDesc	tupdesc = lookup_rowtype_tupdesc(typid, -1);
	bool		ok = (tupdesc->natts == BULK_PAYMENT_NATTS);
	int			i;

	for (i = 0; ok && i < BULK_PAYMENT_NATTS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		ok = (!att->attisdropped && att->atttypid == cols[i].type &&
			  strcmp(NameStr(att->attname), cols[i].name) == 0);
	}
	ReleaseTupleDesc(tupdesc);
	if (!ok)
		elog(ERROR, "type okra_bulk_payment does not have the columns this library reads");
}

/*
 * Check the array and each of its rows, in order, into bc->rows.
 */
static void
read_rows(ArrayType *arr, BulkCall *bc)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			i;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("payments must be a one-dimensional array"));
	n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	if (n == 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("payments must not be empty"));
	if (n > BULK_MAX_ROWS)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("too many rows in payments: %d", n),
				errdetail("A bulk file holds at most %d payments.", BULK_MAX_ROWS),
				errhint("Split the payments into several files."));

	check_row_type(ARR_ELEMTYPE(arr));
	get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
					  &elems, &nulls, &n);
	bc->nrows = n;
	bc->rows = palloc0(sizeof(BulkRow) * n);
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("row %d must not be null", i + 1));
		check_row(DatumGetHeapTupleHeader(elems[i]), i + 1, &bc->rows[i]);
	}
}

/*
 * Check one row (22023, naming it by pos) into *row.
 */
static void
check_row(HeapTupleHeader tup, int pos, BulkRow *row)
{
	bool		isnull;
	Datum		d;
	char	   *s;

	row->debit = row_object_id(tup, 1, pos, "account_to_debit");
	row->credit = row_object_id(tup, 2, pos, "account_to_credit");

	d = GetAttributeByNum(tup, 3, &isnull);
	if (isnull)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("amount in row %d must not be null", pos));
	row->amount = DatumGetInt64(d);
	if (row->amount <= 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid amount in row %d: " INT64_FORMAT, pos, row->amount),
				errdetail("The amount is in kobo and must be positive."));

	d = GetAttributeByNum(tup, 4, &isnull);
	if (isnull)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("currency in row %d must not be null", pos));
	s = TextDatumGetCString(d);
	if (strcmp(s, "NGN") != 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid currency in row %d: \"%s\"", pos, okra_quote_clip(s)),
				errdetail("Okra takes payments in NGN only."));

	d = GetAttributeByNum(tup, 5, &isnull);
	s = isnull ? "" : TextDatumGetCString(d);
	if (s[0] != '\0' && !url_ok(s))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid callback_url in row %d: \"%s\"", pos, okra_quote_clip(s)),
				errdetail("A callback URL is empty, or starts with https:// or http:// and is at most %d printable ASCII characters, with no spaces or double quotes.",
						  BULK_URL_MAX));
	row->callback_url = (s[0] != '\0') ? s : NULL;
}

/*
 * Column attno of a row, an Okra ObjectID (22023 naming the row), in lower
 * case.
 */
static char *
row_object_id(HeapTupleHeader tup, int attno, int pos, const char *what)
{
	bool		isnull;
	Datum		d = GetAttributeByNum(tup, attno, &isnull);
	char	   *s;

	if (isnull)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("%s in row %d must not be null", what, pos));
	s = TextDatumGetCString(d);
	if (!okra_object_id_lower(s))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid %s in row %d: \"%s\"", what, pos, okra_quote_clip(s)),
				errdetail("An Okra account ID is 24 hexadecimal characters."));
	return s;
}

/*
 * Is url an http or https URL Okra can call back: the scheme in lower
 * case and something after it, at most BULK_URL_MAX bytes of printable
 * ASCII (no space, no control character, so no CR or LF), and no double
 * quote.
 */
static bool
url_ok(const char *url)
{
	size_t		len = strlen(url);
	size_t		i;

	if (len > BULK_URL_MAX ||
		!((strncmp(url, "https://", 8) == 0 && len > 8) ||
		  (strncmp(url, "http://", 7) == 0 && len > 7)))
		return false;
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) url[i];

		if (c <= ' ' || c >= 0x7f || c == '"')
			return false;
	}
	return true;
}

/*
 * Append one CSV field, quoted as RFC 4180 says when it holds a comma, a
 * double quote, CR or LF (a double quote doubled).
 *
 * No field may start a spreadsheet formula (=, +, -, @; tab and CR too,
 * which some spreadsheets strip first): a CSV meant for Okra is also
 * opened by people.  The checked fields cannot (ObjectIDs, digits, NGN,
 * a URL starting with "http"), so one that does is an internal error,
 * never sent.
 */
static void
csv_field(StringInfo buf, const char *s)
{
	const char *p;

	if (s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL)
		elog(ERROR, "bulk payment CSV field starts with \"%c\"", s[0]);
	if (strpbrk(s, ",\"\r\n") == NULL)
	{
		appendStringInfoString(buf, s);
		return;
	}
	appendStringInfoChar(buf, '"');
	for (p = s; *p; p++)
	{
		if (*p == '"')
			appendStringInfoChar(buf, '"');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '"');
}

/*
 * The CSV file: the header line, then one line per row, in order, each
 * ending in CRLF.
 */
static void
build_csv(StringInfo csv, const BulkCall *bc)
{
	int			i;

	appendStringInfoString(csv, "account_to_debit,account_to_credit,amount,currency,callback_url\r\n");
	for (i = 0; i < bc->nrows; i++)
	{
		const BulkRow *r = &bc->rows[i];

		csv_field(csv, r->debit);
		appendStringInfoChar(csv, ',');
		csv_field(csv, r->credit);
		appendStringInfo(csv, "," INT64_FORMAT ",NGN,", r->amount);
		csv_field(csv, r->callback_url ? r->callback_url : "");
		appendStringInfoString(csv, "\r\n");
	}
}

/*
 * What the ledger keeps of the request (okra_api_calls.request): the
 * product, the file name and the rows, as JSON.
 */
static void
build_description(StringInfo body, const BulkCall *bc)
{
	int			i;

	appendStringInfoString(body, "{\"product\":\"initiate_payment\",\"file_name\":");
	escape_json(body, bc->file_name);
	appendStringInfoString(body, ",\"rows\":[");
	for (i = 0; i < bc->nrows; i++)
	{
		const BulkRow *r = &bc->rows[i];

		if (i > 0)
			appendStringInfoChar(body, ',');
		appendStringInfoString(body, "{\"account_to_debit\":");
		escape_json(body, r->debit);
		appendStringInfoString(body, ",\"account_to_credit\":");
		escape_json(body, r->credit);
		appendStringInfo(body, ",\"amount\":" INT64_FORMAT ",\"currency\":\"NGN\",\"callback_url\":",
						 r->amount);
		if (r->callback_url)
			escape_json(body, r->callback_url);
		else
			appendStringInfoString(body, "null");
		appendStringInfoChar(body, '}');
	}
	appendStringInfoString(body, "]}");
}

/*
 * A random multipart boundary that the CSV does not contain.
 */
static char *
make_boundary(const char *csv)
{
	for (;;)
	{
		uint8		rnd[16];
		char	   *boundary = palloc(6 + sizeof(rnd) * 2 + 1);
		int			i;

		if (!pg_strong_random(rnd, sizeof(rnd)))
			ereport(ERROR,
					errcode(ERRCODE_INTERNAL_ERROR),
					errmsg("could not generate random multipart boundary"));
		strcpy(boundary, "okra--");
		for (i = 0; i < (int) sizeof(rnd); i++)
			sprintf(boundary + 6 + 2 * i, "%02x", rnd[i]);
		if (strstr(csv, boundary) == NULL)
			return boundary;
		pfree(boundary);
	}
}

/*
 * The multipart/form-data body (RFC 7578): the field product and the part
 * file, the CSV with its file name.  Every byte is ASCII: the checks above
 * let nothing else through.
 */
static void
build_upload(BulkCall *bc)
{
	StringInfoData csv;

	initStringInfo(&csv);
	build_csv(&csv, bc);
	bc->boundary = make_boundary(csv.data);

	initStringInfo(&bc->upload);
	appendStringInfo(&bc->upload,
					 "--%s\r\n"
					 "Content-Disposition: form-data; name=\"product\"\r\n"
					 "\r\n"
					 "initiate_payment\r\n"
					 "--%s\r\n"
					 "Content-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
					 "Content-Type: text/csv\r\n"
					 "\r\n",
					 bc->boundary, bc->boundary, bc->file_name);
	appendBinaryStringInfo(&bc->upload, csv.data, csv.len);
	appendStringInfo(&bc->upload, "\r\n--%s--\r\n", bc->boundary);
	pfree(csv.data);
}

/*
 * The value under key in a JSON object container, or NULL.
 */
static JsonbValue *
object_key(JsonbContainer *c, const char *key)
{
	if (c == NULL || !JsonContainerIsObject(c))
		return NULL;
	return getKeyJsonValueFromContainer(c, key, strlen(key), NULL);
}

/*
 * Check that Okra's answer (call->record.response) names the bulk file
 * (data.bulkfile._id, or id; a doubled data.data is tolerated) and one
 * payment per row, each an ObjectID and no two the same; the file's id
 * becomes the call's created_id as soon as it is known.  OK011 otherwise.
 * Returns the payment ids, in lower case and file order.
 */
static char **
check_answer(OkraCall *call, long http_status, int nrows)
{
	Jsonb	   *jb = DatumGetJsonbP(call->record.response);
	JsonbValue *v;
	JsonbContainer *file = NULL;
	JsonbContainer *payments = NULL;
	char	   *id = NULL;
	char	  **pids;
	int			i;

	v = JB_ROOT_IS_OBJECT(jb) ? object_key(&jb->root, "data") : NULL;
	if (v != NULL && v->type == jbvBinary &&
		object_key(v->val.binary.data, "bulkfile") == NULL)
		v = object_key(v->val.binary.data, "data");
	if (v != NULL && v->type == jbvBinary)
		v = object_key(v->val.binary.data, "bulkfile");
	if (v != NULL && v->type == jbvBinary)
		file = v->val.binary.data;
	if ((v = object_key(file, "_id")) == NULL)
		v = object_key(file, "id");
	if (v != NULL && v->type == jbvString)
		id = pnstrdup(v->val.string.val, v->val.string.len);
	if (!okra_object_id_lower(id))
		okra_error_invalid_response(call->endpoint, http_status,
									"unexpected shape",
									"The answer has no data.bulkfile with an ObjectID _id.");
	call->created_id = id;

	v = object_key(file, "payments");
	if (v != NULL && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
		payments = v->val.binary.data;
	if (payments == NULL || JsonContainerSize(payments) != nrows)
		okra_error_invalid_response(call->endpoint, http_status,
									"unexpected shape",
									psprintf("Bulk file \"%s\" does not list %d payments, one per row.",
											 id, nrows));
	pids = palloc(sizeof(char *) * nrows);
	for (i = 0; i < nrows; i++)
	{
		char	   *pid = NULL;
		int			j;

		v = getIthJsonbValueFromContainer(payments, i);
		if (v->type == jbvString)
			pid = pnstrdup(v->val.string.val, v->val.string.len);
		if (!okra_object_id_lower(pid))
			okra_error_invalid_response(call->endpoint, http_status,
										"unexpected shape",
										psprintf("Payment %d of bulk file \"%s\" is not an ObjectID.",
												 i + 1, id));
		/* at most BULK_MAX_ROWS: comparing each with those before is enough */
		for (j = 0; j < i; j++)
			if (strcmp(pids[j], pid) == 0)
				okra_error_invalid_response(call->endpoint, http_status,
											"unexpected shape",
											psprintf("Payments %d and %d of bulk file \"%s\" are both \"%s\": each row must have its own payment.",
													 j + 1, i + 1, id, pid));
		pids[i] = pid;
	}
	return pids;
}

/*
 * Check, with the latest snapshot, that neither the bulk file nor any of
 * its payments is in a bulk file of the ledger already (OK011, which
 * journals the call as unknown: Okra may have made the payments).  A new
 * upload cannot name an old file, and a payment belongs to one file; the
 * ledger's keys would refuse either with 23505, and the record of the
 * call and of every payment would be lost.  A payment okra_payments
 * already has from elsewhere (okra_verify, okra_track) is no conflict:
 * okra_ledger_bulk_record keeps that row as it is.
 */
static void
check_ledger(FunctionCallInfo fcinfo, OkraCall *call, long http_status,
			 char **pids, int nrows)
{
	Oid			nsp = okra_ledger_schema(fcinfo);
	Datum	   *elems = palloc(sizeof(Datum) * nrows);
	Datum		args[2];
	bool		nulls[2] = {false};
	bool		isnull;
	Datum		conflict;
	int			i;

	for (i = 0; i < nrows; i++)
		elems[i] = CStringGetTextDatum(pids[i]);
	args[0] = CStringGetTextDatum(call->created_id);
	args[1] = PointerGetDatum(construct_array(elems, nrows, TEXTOID, -1,
											  false, TYPALIGN_INT));
	PushActiveSnapshot(GetLatestSnapshot());
	conflict = okra_ledger_call_in(nsp, "okra_ledger_bulk_conflict", 2, args,
								   nulls, &isnull);
	PopActiveSnapshot();
	if (!isnull)
		okra_error_invalid_response(call->endpoint, http_status,
									"unexpected shape",
									TextDatumGetCString(conflict));
}

/*
 * Send the upload, record the call, the file, its rows and its payments,
 * and return the file as okra_bulk_file.
 */
static Datum
bulk_send(FunctionCallInfo fcinfo, OkraCall *call)
{
	BulkCall   *bc = (BulkCall *) call;
	OkraAnswer	ans;
	char	  **pids;
	Datum		args[4];
	bool		nulls[4] = {false};
	bool		isnull;

	/* as okra_call_send, but a multipart upload; the ledger keeps call->body */
	call->record.endpoint = call->endpoint;
	call->record.request = call->body.data;
	okra_http_post_multipart(call->endpoint, bc->boundary, bc->upload.data,
							 bc->upload.len, &ans.http);
	call->record.started_at = ans.http.started_at;
	call->record.http_status = ans.http.status;
	call->record.finished_at = ans.http.received_at;
	okra_judge_answer(call->endpoint, &ans);
	call->answered = true;

	call->record.response = okra_response_jsonb(call->endpoint, &ans);
	okra_json_free(ans.doc);
	pids = check_answer(call, ans.http.status, bc->nrows);
	check_ledger(fcinfo, call, ans.http.status, pids, bc->nrows);
	(void) okra_ledger_record(fcinfo, &call->record);

	args[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(call->body.data));
	args[1] = call->record.response;
	args[2] = okra_ledger_role();
	args[3] = TimestampTzGetDatum(call->record.finished_at);
	return okra_ledger_call(fcinfo, "okra_ledger_bulk_record", 4, args, nulls,
							&isnull);
}
