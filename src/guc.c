/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The okra.* settings and the rules for okra.base_url and okra.proxy.
 *
 * Everything that decides where a request (and the key) goes or what it
 * trusts is PGC_SUSET; only the timeouts are left to every user.  The
 * base URL check is also used by http.c to re-check the URL at request
 * time, and the loopback test by its socket callback.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "compat.h"
#include "okra.h"
#include "journal.h"
#include "outbox.h"

/*---- GUC variables ----*/
char	   *okra_api_key_file = NULL;
char	   *okra_base_url = NULL;
char	   *okra_ca_file = NULL;
int			okra_connect_timeout = 10000;
int			okra_max_response_size = 1024 * 1024;
char	   *okra_proxy = NULL;
int			okra_request_timeout = 65000;
int			okra_stale_after = 2 * 24 * 60;
int			okra_webhook_max_body = 64 * 1024;
char	   *okra_webhook_token_file = NULL;
int			okra_webhook_window = 5000;

/*---- static prototypes ----*/
static bool check_base_url(char **newval, void **extra, GucSource source);
static bool check_proxy(char **newval, void **extra, GucSource source);

/*
 * Define every okra.* setting, in alphabetical order, then reserve the
 * prefix so a misspelt okra.something is reported.
 */
void
okra_define_gucs(void)
{
	DefineCustomStringVariable("okra.api_key_file",
							   "Sets the file that holds the Okra secret key.",
							   "A relative path is relative to the data directory. "
							   "The file should be readable only by the server's "
							   "operating-system user.",
							   &okra_api_key_file,
							   "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("okra.base_url",
							   "Sets the base URL of the Okra API.",
							   "Requests and the secret key go to this URL. It must be "
							   "https, or http to a loopback host, with no user "
							   "information, query or fragment.",
							   &okra_base_url,
							   "https://api.okra.ng/v2",
							   PGC_SUSET,
							   0,
							   check_base_url, NULL, NULL);

	DefineCustomStringVariable("okra.ca_file",
							   "Sets the file of certificate authorities trusted for okra.base_url.",
							   "A PEM bundle. Empty means the system's certificate "
							   "authorities.",
							   &okra_ca_file,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("okra.connect_timeout",
							"Sets the maximum time to connect to the Okra API.",
							"Covers name resolution, the TCP connection and the TLS "
							"handshake.",
							&okra_connect_timeout,
							10000, 1, 3600 * 1000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("okra.max_response_size",
							"Sets the largest Okra API response body accepted.",
							"A larger response is discarded and reported as invalid.",
							&okra_max_response_size,
							1024 * 1024, 1, 256 * 1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("okra.allow_unjournaled",
							 "Allows money-moving calls that cannot be journaled first.",
							 "Off: a money-moving call that no okra worker can journal "
							 "first is refused, and nothing is sent.",
							 &okra_allow_unjournaled,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("okra.outbox_max_attempts",
							"Sets how many times an outbox request that surely never reached Okra is tried.",
							"Connection failures and 429 answers are retried with "
							"backoff up to this many attempts; then the request fails.",
							&okra_outbox_max_attempts,
							10, 1, 1000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("okra.outbox_poll_interval",
							"Sets how often the okra outbox worker looks for work when nothing wakes it.",
							NULL,
							&okra_outbox_poll_interval,
							10000, 100, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("okra.outbox_trust_idempotency_key",
							 "Lets the outbox send a partial refund of unknown outcome again, under the same Idempotency-Key.",
							 "Okra documents no Idempotency-Key; turn this on only "
							 "for an API that honours it, such as okra-sandbox. Off, "
							 "such a refund waits for okra_outbox_resolve().",
							 &okra_outbox_trust_idempotency,
							 false,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("okra.proxy",
							   "Sets the proxy that requests to an https okra.base_url go through.",
							   "Empty: no proxy; proxy environment variables are never "
							   "used. An http, https, socks4, socks4a, socks5 or socks5h "
							   "URL, without user information.",
							   &okra_proxy,
							   "",
							   PGC_SUSET,
							   0,
							   check_proxy, NULL, NULL);

	DefineCustomIntVariable("okra.rate_limit_per_minute",
							"Sets the most Okra API requests sent in any minute (0: no limit).",
							"Requests wait for their turn. With okra in "
							"shared_preload_libraries the limit is for the whole "
							"cluster, otherwise for each backend.",
							&okra_rate_limit_per_minute,
							0, 0, 100000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("okra.request_timeout",
							"Sets the maximum time allowed for one Okra API request.",
							"Covers connecting, sending the request and reading the "
							"whole response. Okra itself answers HTTP 503 after 60 "
							"seconds.",
							&okra_request_timeout,
							65000, 1, 3600 * 1000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("okra.stale_after",
							"Sets how long okra_verify_pending checks a payment that stays pending.",
							"A payment first seen longer ago than this, and not yet "
							"final, is marked stale and no longer checked on "
							"schedule (0: never).",
							&okra_stale_after,
							2 * 24 * 60, 0, PG_INT32_MAX / 60,
							PGC_USERSET,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomIntVariable("okra.webhook_max_body",
							"Sets the largest webhook body okra_webhook takes.",
							"A larger body is refused before it is parsed.",
							&okra_webhook_max_body,
							64 * 1024, 1024, 16 * 1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomStringVariable("okra.webhook_token_file",
							   "Sets the file that holds the bearer token Okra sends with webhooks.",
							   "A relative path is relative to the data directory. "
							   "The file should be readable only by the server's "
							   "operating-system user.",
							   &okra_webhook_token_file,
							   "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("okra.webhook_window",
							"Sets how long webhooks naming one payment collapse into one check.",
							"A payment named again within this time after a webhook "
							"made it due is not made due again; it is checked once "
							"more when the time is up, if it is not final by then.",
							&okra_webhook_window,
							5000, 0, 3600 * 1000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("okra");
}

/*
 * Is this host name or address literal a loopback host: "localhost",
 * an IPv4 address in 127.0.0.0/8, or ::1 (also as ::ffff:127.x.y.z)?
 */
bool
okra_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (pg_strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
	{
		static const unsigned char v4mapped[12] =
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return memcmp(a6.s6_addr, v4mapped, 12) == 0 && a6.s6_addr[12] == 127;
	}
	return false;
}

/*
 * Check a base URL: scheme https (or http to a loopback host), a host,
 * an optional port and path, and nothing else.  On failure *why says
 * what is wrong, as a full sentence.
 */
bool
okra_parse_base_url(const char *url, OkraUrl *out, const char **why)
{
	const char *p;
	const char *host;
	size_t		hostlen;

	memset(out, 0, sizeof(*out));

	for (p = url; *p; p++)
	{
		if ((unsigned char) *p <= ' ' || (unsigned char) *p >= 0x7f)
		{
			*why = "The URL must not contain spaces, control characters or non-ASCII characters.";
			return false;
		}
	}
	if (strpbrk(url, "?#") != NULL)
	{
		*why = "The URL must not contain a query or a fragment.";
		return false;
	}

	if (pg_strncasecmp(url, "https://", 8) == 0)
	{
		out->https = true;
		p = url + 8;
	}
	else if (pg_strncasecmp(url, "http://", 7) == 0)
	{
		out->https = false;
		p = url + 7;
	}
	else
	{
		*why = "The URL must start with \"https://\" (or \"http://\" for a loopback host).";
		return false;
	}

	/* the authority runs up to the first slash */
	hostlen = strcspn(p, "/");
	if (memchr(p, '@', hostlen) != NULL)
	{
		*why = "The URL must not contain user information.";
		return false;
	}

	if (*p == '[')
	{
		const char *close = memchr(p, ']', hostlen);

		if (close == NULL)
		{
			*why = "The URL has an unterminated IPv6 address.";
			return false;
		}
		host = p + 1;
		hostlen = close - host;
		p = close + 1;
	}
	else
	{
		host = p;
		hostlen = strcspn(p, ":/");
		p += hostlen;
	}

	if (hostlen == 0 || hostlen >= sizeof(out->host))
	{
		*why = "The URL must name a host.";
		return false;
	}
	memcpy(out->host, host, hostlen);
	out->host[hostlen] = '\0';

	/* optional port: ":" and 1 to 5 digits */
	if (*p == ':')
	{
		int			ndigits = 0;
		long		port = 0;

		for (p++; *p >= '0' && *p <= '9'; p++, ndigits++)
			port = port * 10 + (*p - '0');
		if (ndigits == 0 || ndigits > 5 || port < 1 || port > 65535)
		{
			*why = "The URL has an invalid port.";
			return false;
		}
	}
	if (*p != '\0' && *p != '/')
	{
		*why = "The URL has an invalid host.";
		return false;
	}

	out->loopback = okra_host_is_loopback(out->host);
	if (!out->https && !out->loopback)
	{
		*why = "Plain http is allowed only to a loopback host (127.0.0.0/8, ::1 or localhost).";
		return false;
	}
	return true;
}

/*
 * Check hook for okra.base_url.  Empty is accepted here and reported when
 * a request needs the URL.
 */
static bool
check_base_url(char **newval, void **extra, GucSource source)
{
	OkraUrl		url;
	const char *why;

	if (*newval == NULL || **newval == '\0')
		return true;
	if (!okra_parse_base_url(*newval, &url, &why))
	{
		GUC_check_errmsg("invalid value for parameter \"okra.base_url\": \"%s\"",
						 *newval);
		GUC_check_errdetail("%s", why);
		return false;
	}
	return true;
}

/*
 * Check hook for okra.proxy: empty, or scheme://host[:port][/] with one of
 * the schemes libcurl knows for proxies and no user information (a
 * password does not belong in a setting).
 */
static bool
check_proxy(char **newval, void **extra, GucSource source)
{
	static const char *const schemes[] = {
		"http://", "https://", "socks4://", "socks4a://", "socks5://", "socks5h://"
	};
	const char *v = *newval;
	const char *p = NULL;
	const char *why = NULL;
	const char *q;
	size_t		authlen;
	int			i;

	if (v == NULL || *v == '\0')
		return true;
	if (strchr(v, '@') != NULL)
	{
		/* it may hold a password: not repeated in the message */
		GUC_check_errmsg("invalid value for parameter \"okra.proxy\"");
		GUC_check_errdetail("The URL must not contain user information.");
		return false;
	}
	for (i = 0; i < lengthof(schemes) && p == NULL; i++)
		if (pg_strncasecmp(v, schemes[i], strlen(schemes[i])) == 0)
			p = v + strlen(schemes[i]);
	for (q = v; *q && why == NULL; q++)
		if ((unsigned char) *q <= ' ' || (unsigned char) *q >= 0x7f)
			why = "The URL must not contain spaces, control characters or non-ASCII characters.";
	if (why == NULL && p == NULL)
		why = "The URL must start with \"http://\", \"https://\", \"socks4://\", \"socks4a://\", \"socks5://\" or \"socks5h://\".";
	if (why == NULL)
	{
		authlen = strcspn(p, "/?#");
		if (authlen == 0 || *p == ':')
			why = "The URL must name a host.";
		else if (p[authlen] != '\0' && strcmp(p + authlen, "/") != 0)
			why = "The URL must not have a path, a query or a fragment.";
	}
	if (why != NULL)
	{
		GUC_check_errmsg("invalid value for parameter \"okra.proxy\": \"%s\"", v);
		GUC_check_errdetail("%s", why);
		return false;
	}
	return true;
}
