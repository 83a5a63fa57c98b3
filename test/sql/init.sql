--
-- init: CREATE EXTENSION okra, and what it installs.
--
\! ctl POST reset >/dev/null

CREATE EXTENSION okra;

-- the catalog entry: version from okra.control, not relocatable
SELECT extname, extversion, extnamespace::regnamespace AS schema, extrelocatable
FROM pg_extension WHERE extname = 'okra';
SELECT name, default_version, installed_version, comment
FROM pg_available_extensions WHERE name = 'okra';
SELECT name, version, installed, superuser, trusted, relocatable, schema, requires
FROM pg_available_extension_versions WHERE name = 'okra' ORDER BY version;

-- every member object (what \dx+ okra lists)
SELECT pg_describe_object(classid, objid, objsubid) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'okra')
ORDER BY 1;
\dx+ okra

-- not relocatable: SET SCHEMA is refused
ALTER EXTENSION okra SET SCHEMA pg_catalog;

-- into a schema of one's choice; functions return that schema's types and
-- work with an empty search_path (nothing is looked up through it)
DROP EXTENSION okra;
CREATE SCHEMA okra_elsewhere;
CREATE EXTENSION okra SCHEMA okra_elsewhere;
SELECT pg_describe_object(classid, objid, objsubid) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'okra')
ORDER BY 1;
SET search_path = '';
SELECT pg_catalog.pg_typeof(okra_elsewhere.okra_verify('64a000000000000000000001'));
SELECT payment_id, status, amount
FROM okra_elsewhere.okra_verify('64a000000000000000000001');
SELECT refund_id IS NOT NULL AS has_refund_id, payment_id, amount, status
FROM okra_elsewhere.okra_refund('64a000000000000000000002', 100);
SELECT okra_elsewhere.okra_request('pay/get/id', '{"payment_id": "64a000000000000000000003"}')
	OPERATOR(pg_catalog.#>>) '{data,payment,status}' AS status;
RESET search_path;
DROP EXTENSION okra;
DROP SCHEMA okra_elsewhere;

-- the rest of the suite uses the default: the first schema on search_path
CREATE EXTENSION okra;
SELECT extnamespace::regnamespace AS schema FROM pg_extension WHERE extname = 'okra';
