--
-- surface: the SQL surface the README documents: signatures, defaults,
-- result types, composite columns, attributes, comments.
--
\! ctl POST reset >/dev/null

-- signatures (what \df shows)
\df okra_*

-- attributes: the C functions are VOLATILE, PARALLEL UNSAFE, not STRICT (a
-- NULL argument is an input error, not a NULL result), not SECURITY DEFINER,
-- in $libdir/okra; only the two internal ledger entry points are SECURITY
-- DEFINER
SELECT p.oid::regprocedure AS function,
       pg_get_function_result(p.oid) AS returns,
       p.provolatile AS volatile, p.proparallel AS parallel,
       p.proisstrict AS strict, p.prosecdef AS secdef, p.proretset AS retset,
       p.pronargdefaults AS ndefaults, l.lanname AS language,
       p.probin, CASE WHEN l.lanname = 'c' THEN p.prosrc END AS prosrc
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.proname LIKE 'okra\_%'
ORDER BY 1;

-- argument names and defaults
SELECT p.oid::regprocedure AS function, pg_get_function_arguments(p.oid) AS arguments
FROM pg_proc p WHERE p.proname LIKE 'okra\_%' ORDER BY 1;

-- the composite types, with their column comments
\d+ okra_payment
\d+ okra_refund

-- the column lists, as the README's "Types" tables give them
SELECT t.typname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type
FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid
WHERE t.typname IN ('okra_payment', 'okra_refund') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY t.typname, a.attnum;

-- comments on every function and type
SELECT p.oid::regprocedure::text AS object, obj_description(p.oid, 'pg_proc') AS comment
FROM pg_proc p WHERE p.proname LIKE 'okra\_%'
UNION ALL
SELECT t.oid::regtype::text, obj_description(t.oid, 'pg_type')
FROM pg_type t WHERE t.typname IN ('okra_payment', 'okra_refund')
ORDER BY 1;

-- no member object lacks a comment (columns included)
SELECT pg_describe_object(d.classid, d.objid, 0) AS uncommented
FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'okra')
  AND d.classid IN ('pg_proc'::regclass, 'pg_type'::regclass)
  AND obj_description(d.objid, d.classid::regclass::name) IS NULL
  AND NOT (d.classid = 'pg_type'::regclass
           AND (SELECT typtype FROM pg_type WHERE oid = d.objid) = 'b')  -- array types
UNION ALL
SELECT format('%s.%s', t.typname, a.attname)
FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid
WHERE t.typname IN ('okra_payment', 'okra_refund') AND a.attnum > 0
  AND col_description(t.typrelid, a.attnum) IS NULL;

-- the result types are the extension's own (not record)
SELECT pg_typeof(okra_verify('64a000000000000000000001')) AS verify,
       pg_typeof(okra_cancel('64a00000000000000000000c')) AS cancel,
       pg_typeof(okra_refund('64a000000000000000000002', 1)) AS refund,
       pg_typeof(okra_request('pay/list')) AS request;

-- named and positional arguments, defaults
SELECT amount, reason FROM okra_refund(payment_id => '64a000000000000000000003', amount => 5, reason => 'named');
SELECT amount, reason FROM okra_refund('64a000000000000000000003', 6);
SELECT jsonb_typeof(okra_request(endpoint => 'pay/list')) AS default_body;
