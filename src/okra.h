/*-------------------------------------------------------------------------
 *
 * okra.h
 *	  Declarations shared by okra's files: settings, the key file, the
 *	  SQLSTATEs and the error helpers.
 *
 * Nothing here includes json-c or libcurl: json-c stays in json.c and
 * libcurl in http.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_H
#define OKRA_H

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/elog.h"

#ifndef OKRA_VERSION
#define OKRA_VERSION "unknown"
#endif

/*---- SQLSTATEs of Okra's answers (README "Errors") ----*/
#define ERRCODE_OKRA_DUPLICATE_REFUND		MAKE_SQLSTATE('O','K','0','0','1')
#define ERRCODE_OKRA_REFUND_EXCEEDS_PAYMENT	MAKE_SQLSTATE('O','K','0','0','2')
#define ERRCODE_OKRA_NOT_REFUNDABLE			MAKE_SQLSTATE('O','K','0','0','3')
#define ERRCODE_OKRA_INSUFFICIENT_FUNDS		MAKE_SQLSTATE('O','K','0','0','4')
#define ERRCODE_OKRA_NOT_CANCELLABLE		MAKE_SQLSTATE('O','K','0','0','5')
#define ERRCODE_OKRA_PAYMENT_NOT_FOUND		MAKE_SQLSTATE('O','K','0','0','6')
#define ERRCODE_OKRA_UNAUTHORIZED			MAKE_SQLSTATE('O','K','0','0','7')
#define ERRCODE_OKRA_RATE_LIMITED			MAKE_SQLSTATE('O','K','0','0','8')
#define ERRCODE_OKRA_REJECTED				MAKE_SQLSTATE('O','K','0','0','9')
#define ERRCODE_OKRA_OUTCOME_UNKNOWN		MAKE_SQLSTATE('O','K','0','1','0')
#define ERRCODE_OKRA_INVALID_RESPONSE		MAKE_SQLSTATE('O','K','0','1','1')

/*---- settings (guc.c) ----*/
extern char *okra_base_url;
extern char *okra_api_key_file;
extern char *okra_ca_file;
extern int	okra_connect_timeout;
extern int	okra_request_timeout;
extern int	okra_max_response_size;
extern char *okra_proxy;
extern int	okra_rate_limit_per_minute;
extern int	okra_stale_after;
extern int	okra_webhook_max_body;
extern char *okra_webhook_token_file;
extern int	okra_webhook_window;

/* What okra_parse_base_url() learns about a URL */
typedef struct OkraUrl
{
	bool		https;			/* scheme is https (else http) */
	bool		loopback;		/* host is a loopback name or address */
	char		host[256];		/* host as written, without brackets */
} OkraUrl;

extern void okra_define_gucs(void);
extern bool okra_parse_base_url(const char *url, OkraUrl *out,
								const char **why);
extern bool okra_host_is_loopback(const char *host);

/*---- the key file (key.c) ----*/
extern char *okra_read_api_key(void);
extern char *okra_read_webhook_token(void);

/*---- an Okra error body, as json.c reads it ----*/
typedef struct OkraErrorBody
{
	bool		is_json;		/* the body is a JSON object */
	char	   *status;			/* top-level "status" if a string */
	char	   *message;		/* text per okra-api.md section 2, or NULL */
	bool		has_refund;		/* data.refund is present */
	bool		has_payment;	/* data.payment is present */
	bool		has_wallet;		/* data.wallet is present */
	bool		has_refund_amount;	/* data.payment.refund_amount is present */
} OkraErrorBody;

/*---- errors (errors.c) ----*/
extern void okra_error_not_sent(const char *endpoint, const char *host,
								const char *detail) pg_attribute_noreturn();
extern void okra_error_outcome_unknown(const char *endpoint,
									   const char *reason,
									   const char *detail) pg_attribute_noreturn();
extern void okra_error_invalid_response(const char *endpoint, long http_status,
										const char *reason,
										const char *detail) pg_attribute_noreturn();
extern void okra_error_rejected(const char *endpoint, long http_status,
								const OkraErrorBody *err) pg_attribute_noreturn();
extern bool okra_endpoint_is_read_only(const char *endpoint);

/* ratelimit.c */
extern void okra_rate_limit_preload(void);
extern bool okra_rate_limit_reserve(TimestampTz now, TimestampTz *slot);
extern void okra_rate_limit_taken(TimestampTz slot);
extern void okra_rate_limit_release(TimestampTz slot);

/* safe.c */
extern bool okra_safe_input(PGFunction infunc, char *str, Oid typioparam,
							Datum *result);
extern char *okra_utf8_to_server(const char *s, size_t len, bool escape);

#endif							/* OKRA_H */
