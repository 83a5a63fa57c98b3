-- The objects of extension okra, one line each, sorted: a canonical
-- description to diff between two databases (test/upgrade.sh compares a
-- database that did ALTER EXTENSION okra UPDATE with a fresh CREATE
-- EXTENSION okra).  psql -X -f test/upgrade/catalog.sql; needs no variables.
--
-- Nothing printed is an OID, an attnum or anything else that depends on
-- the order objects were created in:
--  * every object is named by pg_identify_object() (schema-qualified, with
--    argument types for routines); search_path is empty below, so every
--    name outside pg_catalog in a definition is schema-qualified too;
--  * dropped columns are ignored, and a column's position is its place
--    among the live ones.  Column order is compared for every table and
--    row type, not only those the C code reads or builds by position
--    (src/contract.c: okra_payment, okra_refund, okra_outbox_claimed):
--    SELECT * and a table's row type (plpgsql variables of type
--    okra_payments, okra_journal...) depend on it, so the upgrade script
--    produces the same order as the install script;
--  * privileges are the effective ones (a NULL ACL as its default), one
--    sorted "grantee:privilege[*]" list with role names, PUBLIC for the
--    public pseudo-role; the owner is named, so both databases must be set
--    up by the same role;
--  * pg_init_privs (the privileges the extension's scripts set, which
--    pg_dump subtracts from what it dumps) in the same form;
--  * the extension's configuration tables (pg_extension_config_dump) by
--    name with their conditions, in name order, not in extconfig order.
-- Function bodies and long definitions are printed as JSON strings, so
-- that an object stays on one line.

\set QUIET on
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
\pset pager off
SET search_path = '';

WITH
ext AS (
	SELECT e.oid, e.extname, e.extversion, e.extrelocatable, e.extconfig, e.extcondition,
		   n.nspname, r.rolname AS owner
	  FROM pg_catalog.pg_extension AS e
	  JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
	  JOIN pg_catalog.pg_roles AS r ON r.oid = e.extowner
	 WHERE e.extname = 'okra'),
-- the extension's members
member AS (
	SELECT d.classid, d.objid, d.objsubid
	  FROM pg_catalog.pg_depend AS d, ext
	 WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
	   AND d.refobjid = ext.oid AND d.deptype = 'e'),
-- relations whose columns are described: member tables, views and
-- sequences, and the relations of member composite types
rel AS (
	SELECT c.oid, c.relkind
	  FROM member AS m JOIN pg_catalog.pg_class AS c ON c.oid = m.objid
	 WHERE m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
	UNION
	SELECT c.oid, c.relkind
	  FROM member AS m
	  JOIN pg_catalog.pg_type AS t ON t.oid = m.objid
	  JOIN pg_catalog.pg_class AS c ON c.oid = t.typrelid
	 WHERE m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass),
-- every object described: members, and what belongs to them without
-- being a member itself (columns, constraints, indexes, triggers, rules,
-- policies)
obj AS (
	SELECT m.classid, m.objid, m.objsubid FROM member AS m
	UNION
	SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, rel.oid, 0 FROM rel
	UNION
	SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, a.attrelid, a.attnum
	  FROM rel JOIN pg_catalog.pg_attribute AS a ON a.attrelid = rel.oid
	 WHERE a.attnum > 0 AND NOT a.attisdropped
	UNION
	SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass, k.oid, 0
	  FROM pg_catalog.pg_constraint AS k
	 WHERE k.conrelid IN (SELECT oid FROM rel)
		OR k.contypid IN (SELECT objid FROM member
						   WHERE classid = 'pg_catalog.pg_type'::pg_catalog.regclass)
	UNION
	SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, i.indexrelid, 0
	  FROM pg_catalog.pg_index AS i WHERE i.indrelid IN (SELECT oid FROM rel)
	UNION
	SELECT 'pg_catalog.pg_trigger'::pg_catalog.regclass, g.oid, 0
	  FROM pg_catalog.pg_trigger AS g WHERE g.tgrelid IN (SELECT oid FROM rel)
	UNION
	SELECT 'pg_catalog.pg_rewrite'::pg_catalog.regclass, w.oid, 0
	  FROM pg_catalog.pg_rewrite AS w WHERE w.ev_class IN (SELECT oid FROM rel)
	UNION
	SELECT 'pg_catalog.pg_policy'::pg_catalog.regclass, p.oid, 0
	  FROM pg_catalog.pg_policy AS p WHERE p.polrelid IN (SELECT oid FROM rel)),
named AS (
	SELECT o.classid, o.objid, o.objsubid, i.type, i.identity
	  FROM obj AS o,
		   LATERAL pg_catalog.pg_identify_object(o.classid, o.objid, o.objsubid) AS i),
lines AS (
	-- the extension itself
	SELECT pg_catalog.format('extension %s version=%s schema=%s relocatable=%s owner=%s',
							 extname, extversion, nspname, extrelocatable, owner)
	  FROM ext
	UNION ALL
	-- its configuration tables and sequences (pg_extension_config_dump)
	SELECT pg_catalog.format('extconfig %s condition=%s', c.relid::pg_catalog.regclass,
							 pg_catalog.to_json(c.cond))
	  FROM ext, LATERAL ROWS FROM (pg_catalog.unnest(ext.extconfig), pg_catalog.unnest(ext.extcondition)) AS c(relid, cond)
	UNION ALL
	-- membership: whatever kind of object it is
	SELECT pg_catalog.format('member %s %s', n.type, n.identity)
	  FROM named AS n JOIN member AS m USING (classid, objid, objsubid)
	UNION ALL
	-- functions and procedures
	SELECT pg_catalog.format(
		'function %s kind=%s args=%s result=%s language=%s volatility=%s strict=%s '
		'security_definer=%s parallel=%s leakproof=%s cost=%s rows=%s config=%s owner=%s '
		'acl=%s support=%s body=%s',
		n.identity, p.prokind, pg_catalog.to_json(pg_catalog.pg_get_function_arguments(p.oid)),
		pg_catalog.to_json(pg_catalog.pg_get_function_result(p.oid)), l.lanname,
		p.provolatile, p.proisstrict, p.prosecdef, p.proparallel, p.proleakproof,
		p.procost, p.prorows, pg_catalog.to_json(p.proconfig),
		pg_catalog.pg_get_userbyid(p.proowner),
		(SELECT pg_catalog.string_agg(x, ',' ORDER BY x)
		   FROM (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
						ELSE pg_catalog.pg_get_userbyid(a.grantee) END
						|| ':' || a.privilege_type
						|| CASE WHEN a.is_grantable THEN '*' ELSE '' END
						|| '/' || pg_catalog.pg_get_userbyid(a.grantor) AS x
				   FROM pg_catalog.aclexplode(coalesce(p.proacl,
						pg_catalog.acldefault('f', p.proowner))) AS a) AS e),
		p.prosupport,
		CASE WHEN l.lanname IN ('sql', 'plpgsql')
			 THEN pg_catalog.to_json(coalesce(pg_catalog.pg_get_function_sqlbody(p.oid), p.prosrc))
			 ELSE pg_catalog.to_json(coalesce(p.probin, '') || ':' || p.prosrc) END)
	  FROM named AS n
	  JOIN pg_catalog.pg_proc AS p ON p.oid = n.objid
	  JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
	 WHERE n.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
	UNION ALL
	-- types: composite types (their attributes are columns below), enums,
	-- domains, ranges, base types
	SELECT pg_catalog.format('type %s typtype=%s owner=%s acl=%s%s',
		n.identity, t.typtype, pg_catalog.pg_get_userbyid(t.typowner),
		(SELECT pg_catalog.string_agg(x, ',' ORDER BY x)
		   FROM (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
						ELSE pg_catalog.pg_get_userbyid(a.grantee) END
						|| ':' || a.privilege_type
						|| CASE WHEN a.is_grantable THEN '*' ELSE '' END
						|| '/' || pg_catalog.pg_get_userbyid(a.grantor) AS x
				   FROM pg_catalog.aclexplode(coalesce(t.typacl,
						pg_catalog.acldefault('T', t.typowner))) AS a) AS e),
		CASE t.typtype
			WHEN 'e' THEN ' labels=' || (SELECT pg_catalog.to_json(pg_catalog.array_agg(e.enumlabel ORDER BY e.enumsortorder))
										   FROM pg_catalog.pg_enum AS e WHERE e.enumtypid = t.oid)
			WHEN 'd' THEN pg_catalog.format(' base=%s notnull=%s default=%s collation=%s',
							pg_catalog.format_type(t.typbasetype, t.typtypmod), t.typnotnull,
							pg_catalog.to_json(t.typdefault),
							(SELECT co.collname FROM pg_catalog.pg_collation AS co WHERE co.oid = t.typcollation))
			WHEN 'r' THEN (SELECT pg_catalog.format(' subtype=%s', pg_catalog.format_type(r.rngsubtype, NULL))
							 FROM pg_catalog.pg_range AS r WHERE r.rngtypid = t.oid)
			WHEN 'b' THEN pg_catalog.format(' input=%s output=%s len=%s align=%s storage=%s',
							t.typinput, t.typoutput, t.typlen, t.typalign, t.typstorage)
			ELSE '' END)
	  FROM named AS n JOIN pg_catalog.pg_type AS t ON t.oid = n.objid
	 WHERE n.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
	UNION ALL
	-- relations: tables, views, sequences, indexes, composite types'
	-- relations
	SELECT pg_catalog.format('relation %s relkind=%s persistence=%s owner=%s options=%s '
							 'rowsecurity=%s/%s replident=%s acl=%s%s',
		n.identity, c.relkind, c.relpersistence, pg_catalog.pg_get_userbyid(c.relowner),
		pg_catalog.to_json(c.reloptions), c.relrowsecurity, c.relforcerowsecurity, c.relreplident,
		-- (indexes and composite types' relations have no privileges)
		(SELECT pg_catalog.string_agg(x, ',' ORDER BY x)
		   FROM (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
						ELSE pg_catalog.pg_get_userbyid(a.grantee) END
						|| ':' || a.privilege_type
						|| CASE WHEN a.is_grantable THEN '*' ELSE '' END
						|| '/' || pg_catalog.pg_get_userbyid(a.grantor) AS x
				   FROM pg_catalog.aclexplode(coalesce(c.relacl,
						pg_catalog.acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char",
											  c.relowner))) AS a
				  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')) AS e),
		CASE
			WHEN c.relkind IN ('v', 'm')
			THEN ' definition=' || pg_catalog.to_json(pg_catalog.pg_get_viewdef(c.oid))
			WHEN c.relkind = 'i'
			THEN (SELECT pg_catalog.format(' definition=%s constraint=%s clustered=%s replident=%s',
						pg_catalog.to_json(pg_catalog.pg_get_indexdef(c.oid)),
						(SELECT k.conname FROM pg_catalog.pg_constraint AS k WHERE k.conindid = c.oid
							AND k.conrelid = i.indrelid),
						i.indisclustered, i.indisreplident)
					FROM pg_catalog.pg_index AS i WHERE i.indexrelid = c.oid)
			WHEN c.relkind = 'S'
			THEN (SELECT pg_catalog.format(' type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s owned_by=%s',
						pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
						s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
						(SELECT pg_catalog.string_agg(pg_catalog.format('%s.%I(%s)',
									d.refobjid::pg_catalog.regclass, a.attname, d.deptype), ',')
						   FROM pg_catalog.pg_depend AS d
						   JOIN pg_catalog.pg_attribute AS a
							 ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
						  WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
							AND d.objid = c.oid
							AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
							AND d.deptype IN ('a', 'i')))
					FROM pg_catalog.pg_sequence AS s WHERE s.seqrelid = c.oid)
			ELSE '' END)
	  FROM named AS n JOIN pg_catalog.pg_class AS c ON c.oid = n.objid
	 WHERE n.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND n.objsubid = 0
	UNION ALL
	-- columns (and composite types' attributes), with their place among
	-- the live columns
	SELECT pg_catalog.format('column %s position=%s type=%s notnull=%s default=%s identity=%s '
							 'generated=%s collation=%s storage=%s acl=%s',
		n.identity,
		(SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute AS b
		  WHERE b.attrelid = a.attrelid AND b.attnum > 0 AND b.attnum <= a.attnum
			AND NOT b.attisdropped),
		pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
		pg_catalog.to_json((SELECT pg_catalog.pg_get_expr(ad.adbin, ad.adrelid)
							  FROM pg_catalog.pg_attrdef AS ad
							 WHERE ad.adrelid = a.attrelid AND ad.adnum = a.attnum)),
		a.attidentity, a.attgenerated,
		(SELECT co.collname FROM pg_catalog.pg_collation AS co WHERE co.oid = a.attcollation),
		a.attstorage,
		(SELECT pg_catalog.string_agg(x, ',' ORDER BY x)
		   FROM (SELECT CASE WHEN e.grantee = 0 THEN 'PUBLIC'
						ELSE pg_catalog.pg_get_userbyid(e.grantee) END
						|| ':' || e.privilege_type
						|| CASE WHEN e.is_grantable THEN '*' ELSE '' END
						|| '/' || pg_catalog.pg_get_userbyid(e.grantor) AS x
				   FROM pg_catalog.aclexplode(a.attacl) AS e) AS z))
	  FROM named AS n
	  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = n.objid AND a.attnum = n.objsubid
	 WHERE n.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND n.objsubid > 0
	UNION ALL
	-- constraints of tables and domains
	SELECT pg_catalog.format('constraint %s type=%s definition=%s validated=%s',
		n.identity, k.contype, pg_catalog.to_json(pg_catalog.pg_get_constraintdef(k.oid)),
		k.convalidated)
	  FROM named AS n JOIN pg_catalog.pg_constraint AS k ON k.oid = n.objid
	 WHERE n.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
	UNION ALL
	-- triggers (the internal ones of constraints included)
	SELECT pg_catalog.format('trigger %s enabled=%s internal=%s definition=%s',
		n.identity, g.tgenabled, g.tgisinternal,
		pg_catalog.to_json(pg_catalog.pg_get_triggerdef(g.oid)))
	  FROM named AS n JOIN pg_catalog.pg_trigger AS g ON g.oid = n.objid
	 WHERE n.classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass
	UNION ALL
	-- rules other than views' own
	SELECT pg_catalog.format('rule %s enabled=%s definition=%s', n.identity, w.ev_enabled,
		pg_catalog.to_json(pg_catalog.pg_get_ruledef(w.oid)))
	  FROM named AS n JOIN pg_catalog.pg_rewrite AS w ON w.oid = n.objid
	 WHERE n.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
	   AND w.rulename <> '_RETURN'
	UNION ALL
	-- row security policies
	SELECT pg_catalog.format('policy %s command=%s permissive=%s roles=%s using=%s check=%s',
		n.identity, p.polcmd, p.polpermissive,
		(SELECT pg_catalog.string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(r) END,
									  ',' ORDER BY r)
		   FROM pg_catalog.unnest(p.polroles) AS r),
		pg_catalog.to_json(pg_catalog.pg_get_expr(p.polqual, p.polrelid)),
		pg_catalog.to_json(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)))
	  FROM named AS n JOIN pg_catalog.pg_policy AS p ON p.oid = n.objid
	 WHERE n.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass
	UNION ALL
	-- comments on all of them (obj_description, col_description...)
	SELECT pg_catalog.format('comment %s %s: %s', n.type, n.identity,
							 pg_catalog.to_json(d.description))
	  FROM named AS n
	  JOIN pg_catalog.pg_description AS d
		ON d.classoid = n.classid AND d.objoid = n.objid AND d.objsubid = n.objsubid
	UNION ALL
	-- initial privileges (what the extension's scripts granted or
	-- revoked, which pg_dump leaves to CREATE EXTENSION)
	SELECT pg_catalog.format('init_privs %s %s type=%s acl=%s', n.type, n.identity, ip.privtype,
		(SELECT pg_catalog.string_agg(x, ',' ORDER BY x)
		   FROM (SELECT CASE WHEN e.grantee = 0 THEN 'PUBLIC'
						ELSE pg_catalog.pg_get_userbyid(e.grantee) END
						|| ':' || e.privilege_type
						|| CASE WHEN e.is_grantable THEN '*' ELSE '' END
						|| '/' || pg_catalog.pg_get_userbyid(e.grantor) AS x
				   FROM pg_catalog.aclexplode(ip.initprivs) AS e) AS z))
	  FROM named AS n
	  JOIN pg_catalog.pg_init_privs AS ip
		ON ip.classoid = n.classid AND ip.objoid = n.objid AND ip.objsubid = n.objsubid)
SELECT * FROM lines AS l(line) ORDER BY line COLLATE "C";
