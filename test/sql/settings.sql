--
-- settings: the okra.* settings: defaults, units, who may set them, the
-- base URL rules, the reserved prefix.
--
\! ctl POST reset >/dev/null
LOAD 'okra';

-- try(sql): run sql and show the error it raises (or "no error")
CREATE FUNCTION pg_temp.try(q text, OUT state text, OUT message text,
                            OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	state := 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	detail := nullif(detail, '');
	hint := nullif(hint, '');
END $$;

-- every setting: default, unit, who may set it, bounds, descriptions
\x on
SELECT name, boot_val, unit, context, vartype, min_val, max_val, short_desc, extra_desc
FROM pg_settings WHERE name LIKE 'okra.%' ORDER BY name;
\x off

-- the defaults, as SHOW prints them (base_url and api_key_file are set by
-- the test runner with ALTER SYSTEM)
SHOW okra.ca_file;
SHOW okra.connect_timeout;
SHOW okra.max_response_size;
SHOW okra.request_timeout;
SELECT name, source FROM pg_settings
WHERE name IN ('okra.base_url', 'okra.api_key_file') ORDER BY name;

--
-- okra.base_url: https, or http to a loopback host; no user info, query or
-- fragment.  Accepted values:
--
SELECT v AS accepted, t.state, t.message
FROM (VALUES ('https://api.okra.ng/v2'), ('https://api.okra.ng/v2/sandbox'),
             ('https://api.okra.ng/v2/'), ('https://api.okra.ng'),
             ('HTTPS://API.OKRA.NG/v2'), ('https://api.okra.ng:443/v2'),
             ('https://[2001:db8::1]:8443/v2'), ('https://10.1.2.3/v2'),
             ('http://127.0.0.1:8089/v2'), ('http://127.255.255.254/v2'),
             ('http://localhost:8089/v2'), ('http://LocalHost/v2'),
             ('http://[::1]:8089/v2'), ('http://[::ffff:127.0.0.1]:8089/v2'), ('')) c(v),
     LATERAL pg_temp.try(format('SET okra.base_url = %L', v)) t;
RESET okra.base_url;
-- refused, each with its reason:
SELECT v AS refused, t.state, t.detail
FROM (VALUES ('http://api.okra.ng/v2'), ('http://10.0.0.1/v2'),
             ('http://128.0.0.1/v2'), ('http://0.0.0.0:8089/v2'),
             ('http://127.0.0.1.nip.io/v2'), ('http://localhost.example.com/v2'),
             ('http://[::2]/v2'), ('http://[::ffff:10.0.0.1]/v2'),
             ('https://user:secret@api.okra.ng/v2'), ('https://user@api.okra.ng/v2'),
             ('http://127.0.0.1:8089@evil.example/v2'), ('http://127.0.0.1\@evil.example'),
             ('https://api.okra.ng/v2?key=1'), ('https://api.okra.ng/v2?'),
             ('https://api.okra.ng/v2#top'), ('ftp://api.okra.ng/v2'),
             ('file:///etc/passwd'), ('api.okra.ng/v2'), ('//api.okra.ng/v2'),
             ('https://'), ('https:///v2'), ('https://api.okra.ng:0/v2'),
             ('https://api.okra.ng:99999/v2'), ('https://api.okra.ng:x/v2'),
             ('https://[::1/v2'), ('https://api.okra.ng/v 2'),
             (E'https://api.okra.ng/v2\r\nX: y'), ('https://ápi.okra.ng/v2')) c(v),
     LATERAL pg_temp.try(format('SET okra.base_url = %L', v)) t;
-- one refusal in full
SET okra.base_url = 'http://api.okra.ng/v2';
-- the check also guards ALTER SYSTEM, ALTER ROLE and ALTER DATABASE
ALTER SYSTEM SET okra.base_url = 'https://user:secret@api.okra.ng/v2';
ALTER ROLE CURRENT_USER SET okra.base_url = 'http://192.0.2.1/v2';
ALTER DATABASE contrib_regression SET okra.base_url = 'https://api.okra.ng/v2#x';
-- a refused value leaves the setting as it was
SELECT setting = reset_val AS unchanged FROM pg_settings WHERE name = 'okra.base_url';

-- a trailing slash on the base URL still gives one "/" before the endpoint;
-- localhost works; ".../v2/sandbox" reaches Okra's sandbox environment
\getenv port OKRA_SANDBOX_PORT
\! ctl POST reset >/dev/null
SELECT set_config('okra.base_url', 'http://127.0.0.1:' || :'port' || '/v2/', false) IS NOT NULL AS ok;
SELECT status FROM okra_verify('64a000000000000000000001');
SELECT set_config('okra.base_url', 'http://localhost:' || :'port' || '/v2', false) IS NOT NULL AS ok;
SELECT status FROM okra_verify('64a000000000000000000001');
SELECT set_config('okra.base_url', 'http://127.0.0.1:' || :'port' || '/v2/sandbox', false) IS NOT NULL AS ok;
SELECT response #>> '{data,payment,env}' AS env
  FROM okra_initiate_payment('64d000000000000000000001', 5000);
SELECT status, amount FROM okra_verify('64a000000000000000000002');
RESET okra.base_url;
\set counters `ctl GET counters`
SELECT jsonb_object_keys(:'counters'::jsonb -> 'requests') AS requested ORDER BY 1;

--
-- timeouts and the size cap take units
--
SET okra.request_timeout = '2s';
SHOW okra.request_timeout;
SET okra.request_timeout = 1500;
SHOW okra.request_timeout;
SET okra.request_timeout = '1.5s';
SHOW okra.request_timeout;
SET okra.request_timeout = '1min';
SHOW okra.request_timeout;
SET okra.request_timeout = '1h';
SHOW okra.request_timeout;
RESET okra.request_timeout;
SET okra.connect_timeout = '250ms';
SHOW okra.connect_timeout;
SET okra.connect_timeout = '30s';
SHOW okra.connect_timeout;
RESET okra.connect_timeout;
SET okra.max_response_size = '2MB';
SHOW okra.max_response_size;
SET okra.max_response_size = '512kB';
SHOW okra.max_response_size;
SET okra.max_response_size = 1024;
SHOW okra.max_response_size;
RESET okra.max_response_size;
SELECT g AS setting, v AS refused, t.state, t.message, t.hint
FROM (VALUES ('okra.request_timeout', '0'), ('okra.request_timeout', '-1'),
             ('okra.request_timeout', '2h'), ('okra.request_timeout', 'soon'),
             ('okra.request_timeout', '10 parsecs'),
             ('okra.connect_timeout', '0'), ('okra.connect_timeout', '-5s'),
             ('okra.connect_timeout', 'x'),
             ('okra.max_response_size', '0'), ('okra.max_response_size', '1GB'),
             ('okra.max_response_size', 'big'), ('okra.max_response_size', '-1kB')) c(g, v),
     LATERAL pg_temp.try(format('SET %s = %L', g, v)) t;
SHOW okra.request_timeout;
SHOW okra.connect_timeout;
SHOW okra.max_response_size;

--
-- the okra prefix is reserved: a misspelt setting is an error, not a
-- silent placeholder
--
SET okra.nonexistent = 'x';
SET okra.base_ur1 = 'http://127.0.0.1/v2';
SELECT set_config('okra.api_key', 'sk_live_x', false);
SHOW okra.nonexistent;
SELECT current_setting('okra.nonexistent', true) IS NULL AS missing;
ALTER SYSTEM SET okra.api_key = 'sk_live_x';
-- other prefixes are untouched
SET okrax.anything = 'x';
SHOW okrax.anything;
RESET okrax.anything;
