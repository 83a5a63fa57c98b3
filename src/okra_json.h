/*-------------------------------------------------------------------------
 *
 * okra_json.h
 *	  What json.c reads out of Okra's responses, as palloc'd C strings.
 *
 * This header does not include json-c: json-c's json_object collides with
 * the json_object() prototype in utils/builtins.h, so only json.c sees it.
 * Every string handed out is in the server encoding.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_JSON_H
#define OKRA_JSON_H

#include "okra.h"

/* A parsed response body; owns its json-c tree until its context resets */
typedef struct OkraJsonDoc OkraJsonDoc;

/* The okra_payment columns that come from the payment object */
typedef struct OkraPaymentFields
{
	char	   *payment_id;
	char	   *status;
	bool		has_amount;
	int64		amount;
	char	   *currency;
	char	   *customer_id;
	char	   *link_url;
	char	   *response_status;
	char	   *env;
} OkraPaymentFields;

/* The okra_refund columns that come from the response */
typedef struct OkraRefundFields
{
	char	   *refund_id;
	char	   *payment_id;
	bool		has_amount;
	int64		amount;
	char	   *currency;
	char	   *status;
	char	   *reason;
	char	   *refund_payment_id;
	char	   *refund_payment_status;
	bool		has_wallet_balance;
	int64		wallet_balance;
	char	   *message;
	char	   *created_at;
} OkraRefundFields;

extern OkraJsonDoc *okra_json_parse(const char *body, size_t len,
									char **error);
extern void okra_json_free(OkraJsonDoc *doc);
extern bool okra_json_is_success(OkraJsonDoc *doc);
extern void okra_json_error_body(OkraJsonDoc *doc, OkraErrorBody *err);
extern bool okra_json_payment(OkraJsonDoc *doc, const char *const *keys,
							  OkraPaymentFields *out, char **why);
extern bool okra_json_page(OkraJsonDoc *doc, const char *key, int *nitems,
						   bool *has_next, char **why);
extern bool okra_json_page_payment(OkraJsonDoc *doc, const char *key, int i,
								   OkraPaymentFields *out, char **text,
								   char **why);
extern bool okra_json_refund(OkraJsonDoc *doc, OkraRefundFields *out,
							 char **why);

#endif							/* OKRA_JSON_H */
