/*-------------------------------------------------------------------------
 *
 * contract.c
 *	  Finding okra's own SQL objects from C, and checking that they are the
 *	  ones this library was built for.
 *
 * The C code calls okra's internal functions (sql/okra.sql) by OID.  A
 * function is found by schema, name and number of arguments among the
 * functions that belong to the okra extension (pg_depend, deptype 'e'):
 * a function some other role created in the extension's schema is never
 * chosen, and an overload of the same name cannot make the lookup
 * ambiguous.  The OIDs are cached per backend and forgotten when one of
 * the cached functions changes (a syscache invalidation callback); only
 * the extension's owner can add a function to it.
 *
 * The C code passes arguments and reads or builds rows by position.  The
 * first lookup in a schema therefore checks the contract below once (again
 * after a listed function or row type changes): every function listed has
 * exactly these argument and result types, and every row type these
 * columns, in this order.  When they differ (a library newer or older than
 * the extension's SQL objects), every lookup fails with an internal error
 * saying so; okra_refund meets it in its guard, before anything is sent.
 *
 * And before anything is sent, okra_contract_check_version() compares the
 * version of the extension's SQL objects (pg_extension.extversion) with
 * the library's: after a package upgrade the new library serves databases
 * whose SQL objects are still the old version until ALTER EXTENSION okra
 * UPDATE, and it refuses to call Okra for them (SQLSTATE 55000) rather
 * than guess.  Recording an answer that has arrived is not refused.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "contract.h"
#include "okra.h"

/* Most arguments or columns of a contract entry */
#define CONTRACT_MAX_ITEMS	16

/* A column: its name and its type, as in ContractFunction */
typedef struct ContractColumn
{
	const char *name;
	const char *type;
} ContractColumn;

/*
 * A function the C code calls with arguments by position.  Type names:
 * okra_* in the extension's schema, anything else in pg_catalog; a
 * trailing [] is an array of it.  A result of "record" has out columns.
 */
typedef struct ContractFunction
{
	const char *name;
	int			nargs;
	const char *argtypes[CONTRACT_MAX_ITEMS];
	const char *result;
	int			nout;
	ContractColumn out[CONTRACT_MAX_ITEMS];
} ContractFunction;

/* A row type the C code reads or builds by position */
typedef struct ContractRowType
{
	const char *name;
	int			natts;
	ContractColumn atts[CONTRACT_MAX_ITEMS];
} ContractRowType;

/* Cache key: a function by schema, name and number of arguments */
typedef struct ContractKey
{
	Oid			nsp;
	int			nargs;
	char		name[NAMEDATALEN];
} ContractKey;

/* A cached lookup */
typedef struct ContractEntry
{
	ContractKey key;
	Oid			fn;
	uint32		hashvalue;		/* of fn in the pg_proc syscache */
} ContractEntry;

/*---- the contract: sql/okra.sql as this library uses it ----*/

static const ContractFunction contract_functions[] = {
	/* ledger.c: okra_ledger_record(); OKRA_LEDGER_PAYMENT, OKRA_LEDGER_REFUND */
	{"okra_ledger_record", 10,
	 {"text", "text", "int4", "timestamptz", "timestamptz", "name",
	  "okra_payment", "okra_refund", "bool", "jsonb"}, "bool"},
	/* guard.c: okra_guard_refund() */
	{"okra_ledger_lock_payment", 1, {"text"}, "okra_payments"},
	{"okra_ledger_guard_refund", 2, {"text", "int8"}, "void"},
	/* ledger.c: okra_ledger_check_failed() */
	{"okra_ledger_check_failed", 9,
	 {"text", "text", "text", "int4", "text", "text", "timestamptz",
	  "timestamptz", "name"}, "void"},
	/* pending.c: the run's row read by column number */
	{"okra_verify_run_begin", 3, {"int4", "int4", "name"}, "record",
	 2, {{"run_id", "int8"}, {"paused_until", "timestamptz"}}},
	{"okra_verify_claim", 4, {"int8", "int4", "interval", "interval"}, "text[]"},
	{"okra_verify_unclaim", 1, {"text"}, "void"},
	{"okra_verify_run_progress", 6,
	 {"int8", "int4", "int4", "int4", "int4", "bool"}, "void"},
	/* outbox.c: item_from_claim() and finish_one() */
	{"okra_outbox_claim", 2, {"int4", "interval"}, "okra_outbox_claimed[]"},
	{"okra_outbox_finish", 14,
	 {"int8", "int4", "text", "text", "text", "int4", "timestamptz",
	  "timestamptz", "text", "okra_refund", "okra_payment", "jsonb", "int4",
	  "bool"}, "text"},
	{"okra_outbox_release", 3, {"int8", "int4", "text"}, "void"},
	/* journal.c: write_msg() and okra_journal_check_unsettled() */
	{"okra_journal_intent", 7,
	 {"text", "timestamptz", "text", "text", "int8", "name", "text"}, "void"},
	{"okra_journal_outcome", 7,
	 {"text", "timestamptz", "text", "text", "int4", "text", "text"}, "bool"},
	{"okra_journal_unsettled", 1, {"text"}, "int8"},
	/* api.c: okra_initiate_payment() */
	{"okra_ledger_lock_reference", 1, {"text"}, "void"},
	{"okra_ledger_initiation", 1, {"text"}, "okra_initiated"},
	{"okra_ledger_initiation_record", 5,
	 {"text", "jsonb", "jsonb", "name", "timestamptz"}, "okra_initiated"},
	/* links.c: okra_create_payment_link() */
	{"okra_ledger_link_record", 4,
	 {"jsonb", "jsonb", "name", "timestamptz"}, "okra_payment_link"},
	/* api.c: okra_initiate_payment_after_commit() */
	{"okra_outbox_reference_request", 2, {"text", "text"}, "int8"},
	{"okra_outbox_queue", 4, {"text", "jsonb", "int8", "text"}, "int8"},
	/* payouts.c: okra_payout(), okra_get_payout(), okra_payout_check() */
	{"okra_ledger_payout_reference", 1, {"text"}, "okra_payout"},
	{"okra_ledger_payout_record", 5,
	 {"text", "jsonb", "jsonb", "name", "timestamptz"}, "okra_payout"},
	{"okra_ledger_payout_seen", 2, {"jsonb", "timestamptz"}, "record",
	 2, {{"changed", "bool"}, {"payout", "okra_payout"}}},
	{"okra_ledger_payout_check_failed", 4,
	 {"text", "text", "text", "timestamptz"}, "void"},
	/* authorizations.c: the row it builds, recorded */
	{"okra_ledger_authorization", 1, {"okra_authorization"}, "void"},
	/* webhook.c: okra_webhook(); pending.c: okra_verify_webhooks() */
	{"okra_webhook_record", 3, {"text", "int4", "name"}, "okra_webhook_event"},
	{"okra_webhook_claim", 2, {"int4", "interval"}, "text[]"},
	/* pending.c: payouts due a check */
	{"okra_verify_claim_payouts", 2, {"int4", "interval"}, "text[]"},
	{"okra_verify_unclaim_payout", 1, {"text"}, "void"},
};

static const ContractRowType contract_rowtypes[] = {
	/* api.c builds it (OKRA_PAYMENT_NATTS), json.c fills it */
	{"okra_payment", 10,
	 {{"payment_id", "text"}, {"status", "text"}, {"amount", "int8"},
	  {"currency", "text"}, {"customer_id", "text"}, {"link_url", "text"},
	  {"response_status", "text"}, {"env", "text"},
	  {"checked_at", "timestamptz"}, {"response", "jsonb"}}},
	/* api.c builds it (OKRA_REFUND_NATTS) */
	{"okra_refund", 12,
	 {{"refund_id", "text"}, {"payment_id", "text"}, {"amount", "int8"},
	  {"currency", "text"}, {"status", "text"}, {"reason", "text"},
	  {"refund_payment_id", "text"}, {"refund_payment_status", "text"},
	  {"wallet_balance", "int8"}, {"message", "text"},
	  {"created_at", "timestamptz"}, {"response", "jsonb"}}},
	/* authorizations.c builds it by position */
	{"okra_authorization", 16,
	 {{"authorization_id", "text"}, {"customer_id", "text"},
	  {"accounts", "text[]"}, {"link_id", "text"}, {"status", "text"},
	  {"cancelled_by", "text"}, {"amount", "int8"}, {"initial_amount", "int8"},
	  {"currency", "text"}, {"one_time", "bool"},
	  {"schedule_interval", "text"}, {"start_date", "date"},
	  {"end_date", "date"}, {"disconnected", "bool"},
	  {"checked_at", "timestamptz"}, {"response", "jsonb"}}},
	/* outbox.c: item_from_claim() */
	{"okra_outbox_claimed", 11,
	 {{"request_id", "int8"}, {"mode", "text"}, {"kind", "text"},
	  {"payment_id", "text"}, {"amount", "int8"}, {"reason", "text"},
	  {"account", "text"}, {"attempt", "int4"}, {"resend", "bool"},
	  {"idempotency_key", "text"}, {"body", "text"}}},
};

#define CONTRACT_NROWTYPES	lengthof(contract_rowtypes)

/*---- per-backend state ----*/

/* bumped by every invalidation that concerns what is cached or checked */
static uint64 contract_generation = 1;

/* the function cache, valid for cache_generation */
static HTAB *contract_cache = NULL;
static uint64 cache_generation = 0;

/* the schema whose contract was checked, valid for checked_generation */
static Oid	checked_nsp = InvalidOid;
static uint64 checked_generation = 0;

/* the row types checked there: their pg_type hash values and relations */
static uint32 checked_type_hashes[CONTRACT_NROWTYPES];
static Oid	checked_relids[CONTRACT_NROWTYPES];

/*---- static prototypes ----*/
static void contract_proc_changed(Datum arg, int cacheid, uint32 hashvalue);
static void contract_type_changed(Datum arg, int cacheid, uint32 hashvalue);
static void contract_relcache_changed(Datum arg, Oid relid);
static void contract_setup(void);
static pg_attribute_noreturn() void contract_error(Oid nsp, const char *detail);
static Oid	find_function(Oid nsp, const char *name, int nargs);
static Oid	lookup_function(Oid nsp, const char *name, int nargs);
static bool type_matches(Oid typid, const char *spec, Oid nsp);
static const char *type_spec_name(const char *spec);
static void check_columns(Oid nsp, const char *what, TupleDesc tupdesc,
						  int n, const ContractColumn *cols);
static void check_function(Oid nsp, const ContractFunction *f);
static Oid	check_rowtype(Oid nsp, const ContractRowType *r, uint32 *hashvalue);

/*
 * A pg_proc row changed: if it is a cached function's (or all of them),
 * forget the OIDs and the check.  A function that is not cached cannot
 * change what a lookup finds, unless it belongs to the extension, which
 * only its owner can arrange (ALTER EXTENSION UPDATE drops or changes a
 * cached function as well).
 */
static void
contract_proc_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS status;
	ContractEntry *entry;

	if (contract_cache == NULL)
		return;
	if (hashvalue == 0)
	{
		contract_generation++;
		return;
	}
	hash_seq_init(&status, contract_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->hashvalue == hashvalue)
		{
			contract_generation++;
			hash_seq_term(&status);
			return;
		}
	}
}

/*
 * A pg_type row changed: if it is a checked row type's, check again.
 */
static void
contract_type_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	int			i;

	for (i = 0; i < CONTRACT_NROWTYPES; i++)
	{
		if (hashvalue == 0 || checked_type_hashes[i] == hashvalue)
		{
			contract_generation++;
			return;
		}
	}
}

/*
 * A relation changed: if it is a checked row type's (ALTER TYPE ... ADD,
 * DROP or RENAME ATTRIBUTE), or all of them, check again.
 */
static void
contract_relcache_changed(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < CONTRACT_NROWTYPES; i++)
	{
		if (!OidIsValid(relid) || checked_relids[i] == relid)
		{
			contract_generation++;
			return;
		}
	}
}

/*
 * Register the callbacks (once per backend) and start a new function
 * cache if the current one is out of date.
 */
static void
contract_setup(void)
{
	static bool registered = false;
	HASHCTL		ctl;

	if (!registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, contract_proc_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(TYPEOID, contract_type_changed, (Datum) 0);
		CacheRegisterRelcacheCallback(contract_relcache_changed, (Datum) 0);
		registered = true;
	}
	if (contract_cache != NULL && cache_generation == contract_generation)
		return;
	if (contract_cache != NULL)
		hash_destroy(contract_cache);
	contract_cache = NULL;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(ContractKey);
	ctl.entrysize = sizeof(ContractEntry);
	ctl.hcxt = TopMemoryContext;
	contract_cache = hash_create("okra SQL functions", 32, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	cache_generation = contract_generation;
}

/*
 * The SQL objects in schema nsp are not the ones this library expects;
 * detail says how.
 */
static void
contract_error(Oid nsp, const char *detail)
{
	char	   *schema = get_namespace_name(nsp);

	ereport(ERROR,
			errcode(ERRCODE_INTERNAL_ERROR),
			errmsg("the SQL objects of extension \"okra\" in schema \"%s\" do not match its library",
				   schema ? schema : "?"),
			errdetail_internal("%s", detail),
			errhint("Run ALTER EXTENSION okra UPDATE, or reinstall the extension, so that its SQL objects match the installed library."));
	pg_unreachable();
}

/*
 * The one function of extension okra in schema nsp named name with nargs
 * input arguments.  Functions that are not the extension's do not count.
 */
static Oid
find_function(Oid nsp, const char *name, int nargs)
{
	Oid			ext = get_extension_oid("okra", true);
	CatCList   *list;
	Oid			found = InvalidOid;
	int			n = 0;
	int			i;

	if (!OidIsValid(ext))
		contract_error(nsp, "Extension \"okra\" is not installed in this database.");
	list = SearchSysCacheList1(PROCNAMEARGSNSP, CStringGetDatum(name));
	for (i = 0; i < list->n_members; i++)
	{
		Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(&list->members[i]->tuple);

		if (proc->pronamespace != nsp || proc->pronargs != nargs)
			continue;
		if (getExtensionOfObject(ProcedureRelationId, proc->oid) != ext)
			continue;
		found = proc->oid;
		n++;
	}
	ReleaseSysCacheList(list);
	if (n == 0)
		contract_error(nsp, psprintf("Extension \"okra\" has no function %s with %d arguments.",
									 name, nargs));
	if (n > 1)
		contract_error(nsp, psprintf("Extension \"okra\" has %d functions %s with %d arguments.",
									 n, name, nargs));
	return found;
}

/*
 * find_function(), through the cache.
 */
static Oid
lookup_function(Oid nsp, const char *name, int nargs)
{
	ContractKey key;
	ContractEntry *entry;
	bool		found;
	Oid			fn;

	contract_setup();
	memset(&key, 0, sizeof(key));
	key.nsp = nsp;
	key.nargs = nargs;
	strlcpy(key.name, name, NAMEDATALEN);
	entry = hash_search(contract_cache, &key, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->fn;

	/*
	 * An invalidation during the lookup only bumps the generation: the
	 * table stays until the next lookup, which starts a new one.
	 */
	fn = find_function(nsp, name, nargs);
	entry = hash_search(contract_cache, &key, HASH_ENTER, &found);
	entry->fn = fn;
	entry->hashvalue = GetSysCacheHashValue1(PROCOID, ObjectIdGetDatum(fn));
	return fn;
}

/*
 * Is type typid the one spec names (see ContractFunction)?
 */
static bool
type_matches(Oid typid, const char *spec, Oid nsp)
{
	size_t		len = strlen(spec);
	HeapTuple	tup;
	Form_pg_type typ;
	bool		match;

	if (len > 2 && strcmp(spec + len - 2, "[]") == 0)
	{
		Oid			elem = get_element_type(typid);

		return OidIsValid(elem) && type_matches(elem, pnstrdup(spec, len - 2), nsp);
	}
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tup))
		return false;
	typ = (Form_pg_type) GETSTRUCT(tup);
	match = strcmp(NameStr(typ->typname), spec) == 0 &&
		typ->typnamespace == (strncmp(spec, "okra_", 5) == 0 ? nsp : PG_CATALOG_NAMESPACE);
	ReleaseSysCache(tup);
	return match;
}

/*
 * A type of the contract as SQL spells it (int8 is bigint), for messages.
 */
static const char *
type_spec_name(const char *spec)
{
	size_t		len = strlen(spec);
	Oid			typid;

	if (len > 2 && strcmp(spec + len - 2, "[]") == 0)
		return psprintf("%s[]", type_spec_name(pnstrdup(spec, len - 2)));
	if (strncmp(spec, "okra_", 5) == 0)
		return spec;
	typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum(spec),
							ObjectIdGetDatum(PG_CATALOG_NAMESPACE));
	return OidIsValid(typid) ? format_type_be(typid) : spec;
}

/*
 * The columns of what (a row type, or a function's out columns) are
 * exactly cols, in this order.
 */
static void
check_columns(Oid nsp, const char *what, TupleDesc tupdesc, int n,
			  const ContractColumn *cols)
{
	int			i;

	if (tupdesc->natts != n)
		contract_error(nsp, psprintf("%s has %d columns, where the library expects %d.",
									 what, tupdesc->natts, n));
	for (i = 0; i < n; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped)
			contract_error(nsp, psprintf("Column %d of %s was dropped, where the library expects %s.",
										 i + 1, what, cols[i].name));
		if (strcmp(NameStr(att->attname), cols[i].name) != 0 ||
			!type_matches(att->atttypid, cols[i].type, nsp))
			contract_error(nsp, psprintf("Column %d of %s is %s %s, where the library expects %s %s.",
										 i + 1, what, NameStr(att->attname),
										 format_type_be(att->atttypid),
										 cols[i].name, type_spec_name(cols[i].type)));
	}
}

/*
 * Function f of the contract: its argument types and its result.
 */
static void
check_function(Oid nsp, const ContractFunction *f)
{
	Oid			fn = lookup_function(nsp, f->name, f->nargs);
	Oid		   *argtypes;
	int			nargs;
	Oid			rettype = get_func_signature(fn, &argtypes, &nargs);
	int			i;

	for (i = 0; i < nargs; i++)
	{
		if (!type_matches(argtypes[i], f->argtypes[i], nsp))
			contract_error(nsp, psprintf("Argument %d of %s is of type %s, where the library expects %s.",
										 i + 1, format_procedure(fn),
										 format_type_be(argtypes[i]),
										 type_spec_name(f->argtypes[i])));
	}
	if (!type_matches(rettype, f->result, nsp))
		contract_error(nsp, psprintf("%s returns %s, where the library expects %s.",
									 format_procedure(fn), format_type_be(rettype),
									 type_spec_name(f->result)));
	if (f->nout > 0)
	{
		TupleDesc	tupdesc;

		if (get_func_result_type(fn, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			contract_error(nsp, psprintf("%s has no out columns, where the library expects %d.",
										 format_procedure(fn), f->nout));
		check_columns(nsp, format_procedure(fn), tupdesc, f->nout, f->out);
	}
}

/*
 * Row type r of the contract; returns its relation, and its pg_type hash
 * value in *hashvalue.
 */
static Oid
check_rowtype(Oid nsp, const ContractRowType *r, uint32 *hashvalue)
{
	Oid			typid = okra_contract_type(nsp, r->name);

	check_columns(nsp, format_type_be(typid),
				  lookup_rowtype_tupdesc_copy(typid, -1), r->natts, r->atts);
	*hashvalue = GetSysCacheHashValue1(TYPEOID, ObjectIdGetDatum(typid));
	return get_typ_typrelid(typid);
}

/*
 * The version of extension okra's SQL objects in this database, or NULL
 * when it is not installed.  pg_extension has no syscache, and its row
 * changes without an invalidation, so it is read every time (an index
 * lookup).
 */
char *
okra_contract_sql_version(void)
{
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *version = NULL;

	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("okra"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * Does version a come before version b?  Both are "major.minor.patch".
 */
static bool
version_older(const char *a, const char *b)
{
	int			va[3] = {0};
	int			vb[3] = {0};
	int			i;

	(void) sscanf(a, "%d.%d.%d", &va[0], &va[1], &va[2]);
	(void) sscanf(b, "%d.%d.%d", &vb[0], &vb[1], &vb[2]);
	for (i = 0; i < 3; i++)
	{
		if (va[i] != vb[i])
			return va[i] < vb[i];
	}
	return false;
}

/*
 * Before anything is sent to Okra: refuse when the extension's SQL objects
 * in this database are not of this library's version.  In a transaction.
 */
void
okra_contract_check_version(void)
{
	char	   *version = okra_contract_sql_version();

	if (version != NULL && strcmp(version, OKRA_VERSION) != 0)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("extension \"okra\" is version %s in this database, but its library is version %s",
					   version, OKRA_VERSION),
				errdetail("Nothing was sent to Okra."),
				version_older(version, OKRA_VERSION) ?
				errhint("Run ALTER EXTENSION okra UPDATE in this database.") :
				errhint("Install okra %s's library and restart the server.", version));
}

/*
 * Check the whole contract in schema nsp, unless it has been checked there
 * and nothing changed since.
 */
void
okra_contract_check(Oid nsp)
{
	uint64		generation;
	uint32		hashes[CONTRACT_NROWTYPES];
	Oid			relids[CONTRACT_NROWTYPES];
	int			i;

	contract_setup();
	if (checked_nsp == nsp && checked_generation == contract_generation)
		return;
	generation = contract_generation;
	for (i = 0; i < lengthof(contract_functions); i++)
		check_function(nsp, &contract_functions[i]);
	for (i = 0; i < CONTRACT_NROWTYPES; i++)
		relids[i] = check_rowtype(nsp, &contract_rowtypes[i], &hashes[i]);

	/* valid only if nothing changed while it ran */
	memcpy(checked_type_hashes, hashes, sizeof(hashes));
	memcpy(checked_relids, relids, sizeof(relids));
	if (generation == contract_generation)
	{
		checked_nsp = nsp;
		checked_generation = generation;
	}
}

/*
 * The OID of okra's internal function name with nargs arguments in schema
 * nsp, once the contract there is checked.
 */
Oid
okra_contract_function(Oid nsp, const char *name, int nargs)
{
	okra_contract_check(nsp);
	return lookup_function(nsp, name, nargs);
}

/*
 * The OID of okra's type name in schema nsp: the extension's own (a type
 * name is unique in a schema, so no other can exist while it does).
 */
Oid
okra_contract_type(Oid nsp, const char *name)
{
	Oid			typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										CStringGetDatum(name),
										ObjectIdGetDatum(nsp));
	Oid			ext = get_extension_oid("okra", true);

	if (!OidIsValid(typid) || !OidIsValid(ext) ||
		getExtensionOfObject(TypeRelationId, typid) != ext)
		contract_error(nsp, psprintf("Extension \"okra\" has no type %s.", name));
	return typid;
}
