/*-------------------------------------------------------------------------
 *
 * json.c
 *	  Reads Okra's response bodies with json-c.
 *
 * json-c is confined to this file (its json_object type collides with
 * utils/builtins.h).  A parsed tree is owned from birth by a reset
 * callback on the memory context that was current at parse time, so an
 * ERROR anywhere later frees it; okra_json_free() frees it earlier.
 * Everything handed out is palloc'd and in the server encoding.
 *
 * Parsing follows okra-api.md section 2: ignore unknown keys, accept
 * "id" or "_id", tolerate a doubled data.data.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include <json.h>

#include "mb/pg_wchar.h"
#include "lib/stringinfo.h"
#include "utils/memutils.h"

#include "okra_json.h"

/* Deepest nesting accepted; Okra's responses are about 6 deep */
#define OKRA_JSON_MAX_DEPTH 64

struct OkraJsonDoc
{
	json_object *root;			/* owned; NULL once freed */
	MemoryContextCallback cb;	/* frees root when the context goes */
};

/*---- static prototypes ----*/
static void doc_release(void *arg);
static json_object *get_key(json_object *obj, const char *key);
static json_object *get_object(json_object *obj, const char *key);
static json_object *get_data_key(json_object *root, const char *key);
static char *to_server(const char *s, size_t len);
static char *value_string(json_object *v);
static char *get_string(json_object *obj, const char *key);
static char *get_id(json_object *obj);
static int	get_int64(json_object *obj, const char *key, int64 *out);
static char *trim_message(char *s);
static bool payment_fields(json_object *payment, OkraPaymentFields *out,
						   char **why);

/*
 * Reset callback: free the json-c tree.
 */
static void
doc_release(void *arg)
{
	OkraJsonDoc *doc = (OkraJsonDoc *) arg;

	if (doc->root != NULL)
		json_object_put(doc->root);
	doc->root = NULL;
}

/*
 * Parse a whole response body, which must be one JSON object and nothing
 * but white space after it.  Returns NULL and sets *error (a sentence)
 * when it is not.
 */
OkraJsonDoc *
okra_json_parse(const char *body, size_t len, char **error)
{
	OkraJsonDoc *doc;
	struct json_tokener *tok;
	json_object *obj;
	enum json_tokener_error jerr;
	size_t		end;

	*error = NULL;
	if (len > (size_t) PG_INT32_MAX)
	{
		*error = pstrdup("The response body is too large to parse.");
		return NULL;
	}

	/* the owner exists before anything is malloc'd */
	doc = palloc0(sizeof(OkraJsonDoc));
	doc->cb.func = doc_release;
	doc->cb.arg = doc;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &doc->cb);

	/* nothing between new and free can throw */
	tok = json_tokener_new_ex(OKRA_JSON_MAX_DEPTH);
	if (tok == NULL)
		ereport(ERROR,
				errcode(ERRCODE_OUT_OF_MEMORY),
				errmsg("out of memory"));
#ifdef JSON_TOKENER_ALLOW_TRAILING_CHARS
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
						   JSON_TOKENER_ALLOW_TRAILING_CHARS);
#else
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
#endif
	obj = json_tokener_parse_ex(tok, body, (int) len);
	jerr = json_tokener_get_error(tok);
#if JSON_C_VERSION_NUM >= ((0 << 16) | (15 << 8))
	end = json_tokener_get_parse_end(tok);
#else
	end = tok->char_offset;
#endif
	json_tokener_free(tok);
	doc->root = obj;

	if (jerr == json_tokener_continue)
		*error = pstrdup("The response body is incomplete JSON.");
	else if (jerr != json_tokener_success)
		*error = psprintf("The response body is not valid JSON (%s).",
						  json_tokener_error_desc(jerr));
	else if (obj == NULL || !json_object_is_type(obj, json_type_object))
		*error = pstrdup("The response body is not a JSON object.");
	else
	{
		for (; end < len; end++)
		{
			char		c = body[end];

			if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			{
				*error = pstrdup("The response body has data after the JSON object.");
				break;
			}
		}
	}

	if (*error != NULL)
	{
		doc_release(doc);
		return NULL;
	}
	return doc;
}

/*
 * Free the tree now rather than at the context's reset.
 */
void
okra_json_free(OkraJsonDoc *doc)
{
	if (doc != NULL)
		doc_release(doc);
}

/*
 * The value under key in an object, or NULL (also for JSON null).
 */
static json_object *
get_key(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/*
 * The object under key, or NULL if absent or not an object.
 */
static json_object *
get_object(json_object *obj, const char *key)
{
	json_object *v = get_key(obj, key);

	return json_object_is_type(v, json_type_object) ? v : NULL;
}

/*
 * data.<key>, or data.data.<key> when Okra nested data twice.
 */
static json_object *
get_data_key(json_object *root, const char *key)
{
	json_object *data = get_object(root, "data");
	json_object *v = get_key(data, key);

	if (v == NULL)
		v = get_key(get_object(data, "data"), key);
	return v;
}

/*
 * Copy UTF-8 text into a palloc'd string in the server encoding (with
 * \uXXXX for what that encoding lacks); NULL if it is not valid UTF-8 (a
 * \u escape of a lone surrogate, a NUL).
 */
static char *
to_server(const char *s, size_t len)
{
	if (pg_verify_mbstr(PG_UTF8, s, (int) len, true) != true)
		return NULL;
	return okra_utf8_to_server(s, len, true);
}

/*
 * A JSON string value as a server-encoded string; NULL for anything else.
 */
static char *
value_string(json_object *v)
{
	if (!json_object_is_type(v, json_type_string))
		return NULL;
	return to_server(json_object_get_string(v),
					 (size_t) json_object_get_string_len(v));
}

/*
 * The string under key, or NULL.
 */
static char *
get_string(json_object *obj, const char *key)
{
	return value_string(get_key(obj, key));
}

/*
 * An object's id: "_id" or "id".  A bare string (an unexpanded reference)
 * is its own id.
 */
static char *
get_id(json_object *obj)
{
	char	   *id;

	if (json_object_is_type(obj, json_type_string))
		return value_string(obj);
	id = get_string(obj, "_id");
	if (id == NULL)
		id = get_string(obj, "id");
	return id;
}

/*
 * Read an integer (amounts, kobo): a JSON integer, an integral number or
 * a string of digits.  Returns 1 when found, 0 when absent or null, -1
 * when present but not an integer.
 */
static int
get_int64(json_object *obj, const char *key, int64 *out)
{
	json_object *v = get_key(obj, key);

	if (v == NULL)
		return 0;
	switch (json_object_get_type(v))
	{
		case json_type_int:

			/*
			 * json-c clamps out-of-range integers to INT64_MIN/INT64_MAX
			 * without saying so.  No amount is INT64_MIN, and a clamped
			 * maximum shows as a larger unsigned value.
			 */
			*out = json_object_get_int64(v);
			if (*out == PG_INT64_MIN)
				return -1;
			if (*out == PG_INT64_MAX &&
				json_object_get_uint64(v) != (uint64) PG_INT64_MAX)
				return -1;
			return 1;
		case json_type_double:
			{
				double		d = json_object_get_double(v);

				if (!isfinite(d) || d != floor(d) || fabs(d) > 9.0e15)
					return -1;
				*out = (int64) d;
				return 1;
			}
		case json_type_string:
			{
				const char *s = json_object_get_string(v);
				const char *p = s;
				int64		n = 0;

				if (*p == '-')
					p++;
				if (*p == '\0' || strlen(p) > 18)
					return -1;
				for (; *p; p++)
				{
					if (*p < '0' || *p > '9')
						return -1;
					n = n * 10 + (*p - '0');
				}
				*out = (*s == '-') ? -n : n;
				return 1;
			}
		default:
			return -1;
	}
}

/*
 * Drop trailing white space from a message (Okra's 503 text ends in one).
 */
static char *
trim_message(char *s)
{
	size_t		len;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
					   s[len - 1] == '\n' || s[len - 1] == '\r'))
		s[--len] = '\0';
	return s;
}

/*
 * Is this the success envelope: top-level "status" is "success"?
 */
bool
okra_json_is_success(OkraJsonDoc *doc)
{
	json_object *v = get_key(doc->root, "status");

	return json_object_is_type(v, json_type_string) &&
		pg_strcasecmp(json_object_get_string(v), "success") == 0;
}

/*
 * Read what an error body says, per okra-api.md section 2: the message is
 * the first of message, msg, data.message (a string, or strings joined
 * with " | "), data.method.  doc may be NULL (the body was not JSON).
 */
void
okra_json_error_body(OkraJsonDoc *doc, OkraErrorBody *err)
{
	json_object *root;
	json_object *v;
	json_object *payment;

	memset(err, 0, sizeof(*err));
	if (doc == NULL || doc->root == NULL)
		return;
	root = doc->root;
	err->is_json = true;
	err->status = get_string(root, "status");

	err->message = trim_message(get_string(root, "message"));
	if (err->message == NULL || err->message[0] == '\0')
		err->message = trim_message(get_string(root, "msg"));
	if (err->message == NULL || err->message[0] == '\0')
	{
		v = get_data_key(root, "message");
		if (json_object_is_type(v, json_type_array))
		{
			StringInfoData buf;
			size_t		n = json_object_array_length(v);
			size_t		i;

			initStringInfo(&buf);
			for (i = 0; i < n; i++)
			{
				char	   *part = value_string(json_object_array_get_idx(v, i));

				if (part == NULL)
					continue;
				if (buf.len > 0)
					appendStringInfoString(&buf, " | ");
				appendStringInfoString(&buf, part);
			}
			err->message = buf.len > 0 ? trim_message(buf.data) : NULL;
		}
		else
			err->message = trim_message(value_string(v));
	}
	if (err->message == NULL || err->message[0] == '\0')
		err->message = trim_message(value_string(get_data_key(root, "method")));
	if (err->message != NULL && err->message[0] == '\0')
		err->message = NULL;

	err->has_refund = get_data_key(root, "refund") != NULL;
	err->has_wallet = get_data_key(root, "wallet") != NULL;
	payment = get_data_key(root, "payment");
	err->has_payment = payment != NULL;
	err->has_refund_amount = get_key(payment, "refund_amount") != NULL;
}

/*
 * Fill the okra_payment columns from the first of data.<keys[i]> that is
 * an object.  Returns false with *why (a sentence) when the shape is
 * wrong.
 */
bool
okra_json_payment(OkraJsonDoc *doc, const char *const *keys,
				  OkraPaymentFields *out, char **why)
{
	json_object *payment = NULL;

	memset(out, 0, sizeof(*out));
	for (; *keys != NULL; keys++)
	{
		payment = get_data_key(doc->root, *keys);
		if (json_object_is_type(payment, json_type_object))
			break;
		payment = NULL;
	}
	if (payment == NULL)
	{
		*why = pstrdup("The response has no payment object under \"data\".");
		return false;
	}
	return payment_fields(payment, out, why);
}

/*
 * A page of a list (pay/list, payments by customer): the number of items
 * in the array data.<key>, and whether data.pagination says another page
 * follows (hasNextPage true).  False, with *why, when there is no such
 * array.
 */
bool
okra_json_page(OkraJsonDoc *doc, const char *key, int *nitems,
			   bool *has_next, char **why)
{
	json_object *items = get_data_key(doc->root, key);
	json_object *next = get_key(get_data_key(doc->root, "pagination"),
								"hasNextPage");

	if (!json_object_is_type(items, json_type_array))
	{
		*why = psprintf("The response has no array \"data.%s\".", key);
		return false;
	}
	*nitems = (int) json_object_array_length(items);
	*has_next = json_object_is_type(next, json_type_boolean) &&
		json_object_get_boolean(next);
	return true;
}

/*
 * Item i of the page's array data.<key> as okra_payment columns, and the
 * item itself as JSON text in the server encoding (*text).
 */
bool
okra_json_page_payment(OkraJsonDoc *doc, const char *key, int i,
					   OkraPaymentFields *out, char **text, char **why)
{
	json_object *item = json_object_array_get_idx(get_data_key(doc->root, key),
												  (size_t) i);
	const char *json;

	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(item, json_type_object))
	{
		*why = psprintf("Item %d of \"data.%s\" is not an object.", i + 1, key);
		return false;
	}
	json = json_object_to_json_string_ext(item, JSON_C_TO_STRING_PLAIN);
	*text = to_server(json, strlen(json));
	if (*text == NULL)
	{
		*why = psprintf("Item %d of \"data.%s\" is not valid UTF-8.", i + 1, key);
		return false;
	}
	return payment_fields(item, out, why);
}

/*
 * The okra_payment columns of one payment object.
 */
static bool
payment_fields(json_object *payment, OkraPaymentFields *out, char **why)
{
	json_object *v;
	int			r;

	out->payment_id = get_id(payment);
	out->status = get_string(payment, "status");
	r = get_int64(payment, "amount", &out->amount);
	if (r < 0)
	{
		*why = pstrdup("The payment's \"amount\" is not an integer.");
		return false;
	}
	out->has_amount = (r > 0);
	out->currency = get_string(payment, "currency");
	out->customer_id = get_id(get_key(payment, "customer"));
	v = get_object(payment, "link");
	out->link_url = get_string(v, "url");
	out->response_status = get_string(payment, "response_status");
	out->env = get_string(payment, "env");

	if (out->payment_id == NULL)
	{
		*why = pstrdup("The payment object has no \"_id\" or \"id\".");
		return false;
	}
	return true;
}

/*
 * Fill the okra_refund columns: data.refund, data.refund_payment.data
 * (its payment and okra_wallet), and the top-level message.
 */
bool
okra_json_refund(OkraJsonDoc *doc, OkraRefundFields *out, char **why)
{
	json_object *refund;
	json_object *rp_data;
	json_object *rp_payment;
	json_object *payment;
	int			r;

	memset(out, 0, sizeof(*out));
	refund = get_data_key(doc->root, "refund");
	if (!json_object_is_type(refund, json_type_object))
	{
		*why = pstrdup("The response has no \"data.refund\" object.");
		return false;
	}

	out->refund_id = get_id(refund);
	payment = get_key(refund, "payment");
	out->payment_id = get_id(payment);
	r = get_int64(refund, "amount", &out->amount);
	if (r < 0)
	{
		*why = pstrdup("The refund's \"amount\" is not an integer.");
		return false;
	}
	out->has_amount = (r > 0);
	out->currency = get_string(refund, "currency");
	out->status = get_string(refund, "status");
	out->reason = get_string(refund, "reason");
	out->created_at = get_string(refund, "created_at");

	rp_data = get_object(get_data_key(doc->root, "refund_payment"), "data");
	rp_payment = get_object(rp_data, "payment");
	out->refund_payment_id = get_id(rp_payment);
	out->refund_payment_status = get_string(rp_payment, "status");
	r = get_int64(get_object(rp_data, "okra_wallet"), "amount",
				  &out->wallet_balance);
	if (r < 0)
	{
		*why = pstrdup("The wallet's \"amount\" is not an integer.");
		return false;
	}
	out->has_wallet_balance = (r > 0);

	out->message = trim_message(get_string(doc->root, "message"));
	if (out->message == NULL)
		out->message = trim_message(get_string(doc->root, "msg"));

	if (out->refund_id == NULL)
	{
		*why = pstrdup("The refund object has no \"_id\" or \"id\".");
		return false;
	}
	return true;
}
